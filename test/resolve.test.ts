import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/schema.js';
import { loadDataset } from '../src/data/dataset.js';
import { resolveDataset } from '../src/data/resolve.js';
import { tempDir } from './helpers/tmp.js';

const dataset = (yaml: string) => parseConfig(yaml).config.dataset;

test('a preset is generated once into the cache and reused on later runs', async (t) => {
  const cache = tempDir(t);
  const ds = dataset('dataset: {preset: dicty-tiny, seed: 2, frames: 15}');
  const generated: string[] = [];
  const dir = await resolveDataset(ds, { cache, onGenerate: (d) => generated.push(d) });
  assert.deepEqual(generated, [dir]);
  const made = statSync(join(dir, 'pos.npy')).mtimeMs;
  const again = await resolveDataset(ds, { cache, onGenerate: (d) => generated.push(d) });
  assert.equal(again, dir);
  assert.equal(generated.length, 1, 'generated twice');
  assert.equal(statSync(join(dir, 'pos.npy')).mtimeMs, made);
  assert.equal(loadDataset(dir).meta.frames, 15);
});

test('another seed or another parameter is another cache entry', async (t) => {
  const cache = tempDir(t);
  const a = await resolveDataset(dataset('dataset: {preset: dicty-tiny, frames: 10}'), { cache });
  const b = await resolveDataset(dataset('dataset: {preset: dicty-tiny, frames: 10, seed: 1}'), { cache });
  const c = await resolveDataset(dataset('dataset: {preset: dicty-tiny, frames: 10, v0: 0.4}'), { cache });
  assert.equal(new Set([a, b, c]).size, 3);
});

test('dataset.path is read relative to the config file and must be a dataset folder', async (t) => {
  const root = tempDir(t);
  const cache = tempDir(t);
  const made = await resolveDataset(dataset('dataset: {preset: dicty-tiny, frames: 10}'), { cache });
  mkdirSync(join(root, 'data'));
  cpSync(made, join(root, 'data', 'mine'), { recursive: true });
  assert.equal(await resolveDataset(dataset('dataset: {path: data/mine}'), { baseDir: root }), join(root, 'data', 'mine'));
  await assert.rejects(resolveDataset(dataset('dataset: {path: data/none}'), { baseDir: root }), {
    name: 'UserError',
    message: `dataset folder ${join(root, 'data', 'none')} not found`,
  });
});

test("a reference YAML's dataset name finds its zarr run under graphs_data/, or says what to do", async (t) => {
  const root = tempDir(t);
  const cache = tempDir(t);
  const zarrRun = fileURLToPath(new URL('../../test/fixtures/data/zarr/x_list_0', import.meta.url));
  mkdirSync(join(root, 'graphs_data', 'dicty_ref'), { recursive: true });
  cpSync(zarrRun, join(root, 'graphs_data', 'dicty_ref', 'x_list_0'), { recursive: true });
  const dir = await resolveDataset(dataset('dataset: dicty_ref'), { baseDir: root, cache });
  assert.equal(loadDataset(dir).meta.source?.kind, 'zarr');
  await assert.rejects(resolveDataset(dataset('dataset: dicty_other'), { baseDir: root, cache }), (err: Error) => {
    assert.equal(err.name, 'UserError');
    assert.match(err.message, /^dataset = "dicty_other": no preset of that name and no reference run at .*graphs_data\/dicty_other; set dataset.path/);
    return true;
  });
});
