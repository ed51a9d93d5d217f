import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../src/data/dataset.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

test('inrscape data generate writes a preset with overrides and says where', (t) => {
  const out = join(tempDir(t), 'tiny');
  const res = runCli(['data', 'generate', '--preset', 'dicty-tiny', '--seed', '4', '--cells', '20', '--frames', '12', '--out', out]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /generated dicty-tiny \(seed 4\): 12 frames x 20 cells/);
  assert.ok(res.stdout.includes(out));
  const { meta } = loadDataset(out);
  assert.deepEqual([meta.frames, meta.cells, meta.seed], [12, 20, 4]);
});

test('without --out the preset goes to the dataset cache, named by preset, seed and a parameter hash', (t) => {
  const cache = tempDir(t);
  const res = runCli(['data', 'generate', '--preset', 'dicty-tiny', '--frames', '10'], { env: { INRSCAPE_CACHE: cache } });
  assert.equal(res.status, 0, res.stderr);
  const [dir] = readdirSync(cache);
  assert.match(dir, /^dicty-tiny-seed0-[0-9a-f]{12}$/);
});

for (const [args, message] of [
  [['--cells', '0'], '--cells = 0: must be an integer >= 1'],
  [['--dt', '-1'], '--dt = -1: must be a number > 0'],
  [['--k_rep', 'stiff'], '--k_rep = "stiff": must be a number >= 0'],
  [['--seed', '1.5'], '--seed = 1.5: must be an integer >= 0'],
  [['--preset', 'dicty-big'], '--preset = "dicty-big": must be one of dicty, dicty-small, dicty-tiny'],
  [['--r0', '0.3'], '--r0 = 0.3: must be < r_on (0.2)'],
] as const) {
  test(`a bad flag (${args.join(' ')}) is one clear error, exit 2, and nothing written`, (t) => {
    const root = tempDir(t);
    const res = runCli(['data', 'generate', '--preset', 'dicty-tiny', ...args, '--out', join(root, 'out')]);
    assert.equal(res.status, 2);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.ok(res.stderr.includes(message), `stderr: ${res.stderr}`);
    assert.deepEqual(readdirSync(root), []);
  });
}

test('an existing output folder is kept unless --force replaces it whole', (t) => {
  const out = join(tempDir(t), 'ds');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  const refused = runCli(['data', 'generate', '--preset', 'dicty-tiny', '--out', out]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /already exists/);
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  // --force replaces only dataset folders: a folder of other files is never deleted.
  const forced = runCli(['data', 'generate', '--preset', 'dicty-tiny', '--out', out, '--force']);
  assert.equal(forced.status, 2);
  assert.ok(existsSync(join(out, 'notes.txt')));
});
