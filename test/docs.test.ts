import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MODEL_PARAMS } from '../src/config/dicty-model.js';
import { SEARCH_PARAMS } from '../src/config/search-space.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Rows of markdown tables whose first cell is `key`, as trimmed cells. */
function row(text: string, key: string): string[] | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  return line?.split('|').slice(1, -1).map((c) => c.trim());
}

test("the README's parameter table says what the schema says", () => {
  const readme = read('README.md');
  for (const p of SEARCH_PARAMS) {
    const cells = row(readme, p.key);
    assert.ok(cells, `README has no row for ${p.key}`);
    assert.equal(Number(cells[1]), p.default, `${p.key} default`);
    assert.deepEqual(JSON.parse(cells[2]), [...p.typical], `${p.key} typical range`);
    assert.ok(cells[3].startsWith(p.scale), `${p.key} scale`);
    assert.equal(cells[4], p.mutation.text, `${p.key} mutation`);
  }
});

test("docs/data.md's parameter table says what the generator's table says", () => {
  const doc = read('docs/data.md');
  for (const p of MODEL_PARAMS) {
    const cells = row(doc, p.key);
    assert.ok(cells, `docs/data.md has no row for ${p.key}`);
    assert.equal(Number(cells[1]), p.default, `${p.key} default`);
  }
});
