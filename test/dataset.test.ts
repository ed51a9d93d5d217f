import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATASET_FORMAT, loadDataset, packageVersion, verifyDataset, writeDataset } from '../src/data/dataset.js';
import type { CellSeries } from '../src/data/series.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-dataset-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, { name: 'UserError', exitCode: 2, message });
}

/** A small deterministic series with both extras. */
function series(frames = 4, cells = 3): CellSeries {
  const n = frames * cells * 3;
  const f = (k: number) => Float32Array.from({ length: n }, (_, i) => ((i * 37 + k * 11) % 101) / 101);
  return { frames, cells, pos: f(1), vel: f(2).map((v) => v - 0.5), extras: { polarity: f(3), pair_force: f(4) } };
}

const INPUT = { name: 'tiny', dt: 0.002, box: 2, generator: { name: 'dicty', params: { cells: 3, frames: 4 } }, seed: 7 };

test('a written dataset folder holds dataset.json and one .npy per array, and loads back the same values', (t) => {
  const dir = join(tmp(t), 'ds');
  const s = series();
  const meta = writeDataset(dir, s, INPUT);
  assert.deepEqual(readdirSync(dir).sort(), ['dataset.json', 'pair_force.npy', 'polarity.npy', 'pos.npy', 'vel.npy']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')), meta);
  assert.equal(meta.format, DATASET_FORMAT);
  assert.equal(meta.version, 1);
  assert.equal(meta.created_by, `inrscape ${packageVersion()}`);
  assert.equal(packageVersion(), '0.1.0');
  assert.deepEqual(
    { name: meta.name, frames: meta.frames, cells: meta.cells, dims: meta.dims, dt: meta.dt, box: meta.box, seed: meta.seed, generator: meta.generator },
    { name: 'tiny', frames: 4, cells: 3, dims: 3, dt: 0.002, box: 2, seed: 7, generator: INPUT.generator },
  );
  assert.deepEqual(Object.keys(meta.arrays), ['pos', 'vel', 'polarity', 'pair_force']);
  assert.deepEqual(meta.arrays.pos, { file: 'pos.npy', dtype: '<f4', shape: [4, 3, 3], sha256: meta.arrays.pos.sha256 });
  assert.match(meta.arrays.pos.sha256, /^[0-9a-f]{64}$/);

  const ds = loadDataset(dir);
  assert.deepEqual(ds.meta, meta);
  assert.deepEqual(ds.series.pos, s.pos);
  assert.deepEqual(ds.series.vel, s.vel);
  assert.deepEqual(ds.series.extras, s.extras);
  assert.deepEqual(verifyDataset(dir), {
    ok: true,
    arrays: Object.entries(meta.arrays).map(([name, e]) => ({ name, file: e.file, ok: true, expected: e.sha256, actual: e.sha256 })),
  });
});

test('numpy.load reads the arrays we write', { skip: !existsSync('/usr/bin/python3') }, (t) => {
  const dir = join(tmp(t), 'ds');
  const s = series();
  writeDataset(dir, s, INPUT);
  let out: string;
  try {
    out = execFileSync('/usr/bin/python3', ['-c', `import numpy as np, json, sys
a = np.load(sys.argv[1]); print(json.dumps([a.dtype.str, list(a.shape), a.ravel().tolist()]))`, join(dir, 'vel.npy')], { encoding: 'utf8' });
  } catch {
    t.skip('numpy is not importable here');
    return;
  }
  const [dtype, shape, values] = JSON.parse(out) as [string, number[], number[]];
  assert.equal(dtype, '<f4');
  assert.deepEqual(shape, [4, 3, 3]);
  assert.deepEqual(Float32Array.from(values), s.vel);
});

test('load reads each array with no copy beyond the file read', (t) => {
  const dir = join(tmp(t), 'ds');
  writeDataset(dir, series(), INPUT);
  const ds = loadDataset(dir);
  // A view into the buffer the file was read into, after the 128-byte header.
  for (const a of [ds.series.pos, ds.series.vel, ...Object.values(ds.series.extras)]) {
    assert.ok(a.byteOffset >= 128);
    assert.ok(a.buffer.byteLength >= 128 + a.byteLength);
  }
});

test('an existing folder is refused, or replaced whole; a foreign folder is never replaced', (t) => {
  const root = tmp(t);
  const dir = join(root, 'ds');
  writeDataset(dir, series(), INPUT);
  rejects(() => writeDataset(dir, series(), INPUT), `${dir} already exists: choose another output folder or replace it`);
  const meta = writeDataset(dir, series(5, 2), { ...INPUT, name: 'again' }, { replace: true });
  assert.equal(loadDataset(dir).meta.name, 'again');
  assert.equal(meta.frames, 5);
  assert.deepEqual(readdirSync(root), ['ds']); // no staging folders left behind
  const foreign = join(root, 'home');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  rejects(() => writeDataset(foreign, series(), INPUT, { replace: true }), `${foreign} exists and is not a dataset folder (no dataset.json): refusing to replace it`);
  assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'mine');
});

test('a failed write leaves no folder behind', (t) => {
  const root = tmp(t);
  const dir = join(root, 'ds');
  const bad = { ...series(), extras: { polarity: new Float32Array(5) } };
  assert.throws(() => writeDataset(dir, bad, INPUT), /polarity has 5 values, expected 4 x 3 x 3 = 36/);
  assert.deepEqual(readdirSync(root), []);
});

test('missing or damaged dataset folders are clear errors', (t) => {
  const root = tmp(t);
  rejects(() => loadDataset(join(root, 'nope')), `dataset folder ${join(root, 'nope')} not found`);
  mkdirSync(join(root, 'empty'));
  rejects(() => loadDataset(join(root, 'empty')), `${join(root, 'empty')} is not a dataset folder: dataset.json is missing`);
  const dir = join(root, 'ds');
  writeDataset(dir, series(), INPUT);
  rmSync(join(dir, 'vel.npy'));
  rejects(() => loadDataset(dir), `${dir} is incomplete: vel.npy is missing`);
  writeDataset(dir, series(), INPUT, { replace: true });
  const pos = readFileSync(join(dir, 'pos.npy'));
  writeFileSync(join(dir, 'pos.npy'), pos.subarray(0, pos.length - 8));
  rejects(() => loadDataset(dir), 'pos.npy is truncated: expected 144 bytes of data for shape (4, 3, 3), found 136');
  const v = verifyDataset(dir);
  assert.equal(v.ok, false);
  assert.deepEqual(v.arrays.filter((a) => !a.ok).map((a) => a.file), ['pos.npy']);
  writeDataset(dir, series(), INPUT, { replace: true });
  const meta = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'));
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...meta, frames: 5 }));
  rejects(() => loadDataset(dir), 'dataset.json gives pos shape (4, 3, 3) but frames x cells x 3 is (5, 3, 3)');
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...meta, dt: -1 }));
  rejects(() => loadDataset(dir), `${join(dir, 'dataset.json')}: dt must be a positive number, got -1`);
  writeFileSync(join(dir, 'dataset.json'), '{"format": ');
  assert.throws(() => loadDataset(dir), { name: 'UserError', message: new RegExp(`^${join(dir, 'dataset.json').replace(/[.]/g, '\\.')} is not valid JSON`) });
});
