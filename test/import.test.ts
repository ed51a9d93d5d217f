import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, verifyDataset } from '../src/data/dataset.js';
import { readNpy } from '../src/data/formats/npy.js';
import { importData, type ImportOptions } from '../src/data/import.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/data/${name}`, import.meta.url));
const npy = (name: string): Float32Array => readNpy(readFileSync(fixture(name)), name).data;
const npzArray = async (file: string, name: string): Promise<Float32Array> =>
  (await import('../src/data/formats/npz.js')).readNpzFile(fixture(file)).float32(name).data;

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The import fails with exactly `message`, and leaves nothing in the output's parent folder. */
async function importFails(t: { after: (fn: () => void) => void }, input: string, message: string, opts: ImportOptions = {}): Promise<void> {
  const root = tmp(t);
  const out = join(root, 'out');
  await assert.rejects(importData(input, out, opts), { name: 'UserError', exitCode: 2, message });
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root), []);
}

test("the reference .npz imports: positions / L, numpy's velocity, extras, dt and box from params", async (t) => {
  const out = join(tmp(t), 'dicty-ref');
  const res = await importData(fixture('ref.npz'), out);
  assert.deepEqual(res.warnings, []);
  const ds = loadDataset(out);
  assert.equal(ds.meta.name, 'dicty-ref');
  assert.deepEqual(ds.meta.source, { kind: 'npz', path: fixture('ref.npz') });
  assert.equal(ds.meta.seed, null);
  assert.equal(ds.meta.generator, undefined);
  assert.deepEqual([ds.meta.frames, ds.meta.cells, ds.meta.dt, ds.meta.box], [6, 5, 0.002, 2]);
  // Bit for bit what numpy computes for the reference's loading rule.
  assert.deepEqual(ds.series.pos, npy('ref_expected_pos.npy'));
  assert.deepEqual(ds.series.vel, npy('ref_expected_vel.npy'));
  assert.deepEqual(Object.keys(ds.series.extras), ['polarity', 'pair_force']);
  assert.deepEqual(ds.series.extras.polarity, await npzArray('ref.npz', 'PDIR'));
  assert.deepEqual(ds.series.extras.pair_force, await npzArray('ref.npz', 'FPAIR'));
  assert.equal(verifyDataset(out).ok, true);
});

test('np.savez_compressed and pickle protocols 2 and 5 import the same', async (t) => {
  const root = tmp(t);
  for (const f of ['ref_compressed.npz', 'ref_pickle5.npz', 'ref_pickle2.npz']) {
    const ds = loadDataset((await importData(fixture(f), join(root, f))).dir);
    assert.deepEqual(ds.series.pos, npy('ref_expected_pos.npy'), f);
    assert.deepEqual(ds.series.vel, npy('ref_expected_vel.npy'), f);
  }
});

test('--box and --dt supply or override params; a missing time step defaults to 0.002 with a warning', async (t) => {
  const root = tmp(t);
  let res = await importData(fixture('ref_noparams.npz'), join(root, 'a'), { box: 2 });
  assert.deepEqual(res.warnings, ['ref_noparams.npz: no time step in params: using dt = 0.002 (give --dt to change it)']);
  assert.deepEqual(loadDataset(res.dir).series.vel, npy('ref_expected_vel.npy'));
  res = await importData(fixture('ref_nodt.npz'), join(root, 'a2'));
  assert.deepEqual(res.warnings, ['ref_nodt.npz: no time step in params: using dt = 0.002 (give --dt to change it)']);
  assert.deepEqual([res.meta.box, res.meta.dt], [2, 0.002]);
  res = await importData(fixture('ref_badparams.npz'), join(root, 'b'), { box: 2, dt: 0.002, name: 'named' });
  assert.deepEqual(res.warnings, []);
  assert.equal(res.meta.name, 'named');
  assert.deepEqual(loadDataset(res.dir).series.pos, npy('ref_expected_pos.npy'));
  res = await importData(fixture('ref_numpy_scalars.npz'), join(root, 'c'));
  assert.deepEqual([res.meta.box, res.meta.dt], [2, Math.fround(0.004)]);
  res = await importData(fixture('ref.npz'), join(root, 'd'), { box: 4, dt: 0.01 });
  assert.deepEqual(res.warnings, ['ref.npz: params L = 2 overridden by --box 4']);
  assert.deepEqual([res.meta.box, res.meta.dt], [4, 0.01]);
  assert.deepEqual(loadDataset(res.dir).series.pos, npy('ref_expected_pos.npy').map((v) => v / 2));
});

test("the reference's zarr run folder imports as stored, given either x_list_0/ or its parent", async (t) => {
  const root = tmp(t);
  for (const [input, out] of [[fixture('zarr/x_list_0'), 'run'], [fixture('zarr'), 'parent']]) {
    const res = await importData(input, join(root, out), { box: 2 });
    assert.deepEqual(res.warnings, ['no time step given: recording dt = 0.002 (give --dt to change it)']);
    assert.deepEqual(res.meta.source, { kind: 'zarr', path: fixture('zarr/x_list_0') });
    assert.deepEqual([res.meta.frames, res.meta.cells, res.meta.box], [8, 16, 2]);
    const ds = loadDataset(res.dir);
    assert.deepEqual(ds.series.pos, npy('zarr_expected_pos.npy'));
    assert.deepEqual(ds.series.vel, npy('zarr_expected_vel.npy'));
    assert.deepEqual(ds.series.extras, {});
  }
});

test('a pos.npy/vel.npy pair imports as stored, as a folder or as a file with --vel', async (t) => {
  const root = tmp(t);
  const a = await importData(fixture('pair'), join(root, 'a'), { dt: 0.01 });
  assert.deepEqual(a.meta.source, { kind: 'npy', path: fixture('pair') });
  const b = await importData(fixture('pos_f64.npy'), join(root, 'b'), { vel: fixture('pair/vel.npy'), dt: 0.01 });
  assert.deepEqual(b.meta.source, { kind: 'npy', path: fixture('pos_f64.npy') });
  for (const r of [a, b]) {
    assert.deepEqual([r.meta.frames, r.meta.cells, r.meta.dt, r.meta.box], [4, 3, 0.01, 1]);
    const ds = loadDataset(r.dir);
    assert.deepEqual(ds.series.pos, npy('pair/pos.npy'));
    assert.deepEqual(ds.series.vel, npy('pair/vel.npy'));
  }
});

test('bad .npz inputs are refused with a precise message and no output folder', async (t) => {
  await importFails(t, fixture('ref_nox.npz'), 'ref_nox.npz has no array X (found: pos, vel)');
  await importFails(t, fixture('empty.npz'), 'empty.npz is empty');
  await importFails(t, fixture('ref_x2d.npz'), 'ref_x2d.npz:X has shape (6, 5, 2): expected (frames, cells, 3)');
  await importFails(t, fixture('ref_oneframe.npz'), 'ref_oneframe.npz:X has 1 frame: need at least 2');
  await importFails(t, fixture('ref_int.npz'), 'ref_int.npz:X has dtype <i4: must be float32 or float64');
  await importFails(t, fixture('ref_pdir_mismatch.npz'), 'ref_pdir_mismatch.npz:PDIR has shape (6, 4, 3) but ref_pdir_mismatch.npz:X has (6, 5, 3): they must match');
  await importFails(t, fixture('ref_noparams.npz'), 'ref_noparams.npz: it has no params, so the box side is unknown: give it with --box L');
  await importFails(
    t,
    fixture('ref_badparams.npz'),
    'ref_badparams.npz: its params are unreadable (ref_badparams.npz:params holds an unreadable pickle: unsupported opcode 0xff at byte 2), so the box side is unknown: give it with --box L',
  );
  await importFails(t, fixture('pair/pos.npy').replace('pos.npy', 'nope.npz'), `${fixture('pair/nope.npz')} not found`);
});

test('bad .npy inputs are refused with a precise message and no output folder', async (t) => {
  const vel = fixture('pair/vel.npy');
  await importFails(t, fixture('mismatch'), 'vel.npy has shape (4, 2, 3) but pos.npy has (4, 3, 3): they must match');
  await importFails(t, fixture('nan'), 'pos.npy has 1 NaN and 1 infinite values (first at frame 2, cell 1, component 0)');
  await importFails(t, fixture('truncated.npy'), 'truncated.npy is truncated: expected 144 bytes of data for shape (4, 3, 3), found 134', { vel });
  await importFails(t, fixture('pos_i4.npy'), 'pos_i4.npy has dtype <i4: must be float32 or float64', { vel });
  await importFails(t, fixture('empty.npy'), 'empty.npy is empty', { vel });
  await importFails(t, fixture('not_npy.npy'), 'not_npy.npy is not a .npy file (it does not start with the \\x93NUMPY magic)', { vel });
  await importFails(t, fixture('pair/pos.npy'), `${fixture('pair/pos.npy')} is a single .npy: name the velocity file with --vel, or give a folder holding pos.npy and vel.npy`);
  await importFails(t, fixture('pair/pos.npy'), `${fixture('pair/missing.npy')} not found`, { vel: fixture('pair/missing.npy') });
  await importFails(t, fixture('pair/pos.npy'), '--dt must be a positive number, got 0', { vel, dt: 0 });
});

test('bad folders are refused with a precise message and no output folder', async (t) => {
  const root = tmp(t);
  cpSync(fixture('zarr/x_list_0'), join(root, 'run'), { recursive: true });
  rmSync(join(root, 'run/pos.zarr/2.0.0'));
  await importFails(t, join(root, 'run'), 'pos.zarr is missing chunk 2.0.0 (of 3): the store is incomplete');
  mkdirSync(join(root, 'nothing'));
  await importFails(t, join(root, 'nothing'), `${join(root, 'nothing')} holds no data to import: expected pos.zarr and vel.zarr, x_list_0/, or pos.npy and vel.npy`);
  await importFails(t, fixture('zarr/x_list_0/pos.zarr'), `${fixture('zarr/x_list_0/pos.zarr')} is a single zarr array: give the run folder that holds pos.zarr and vel.zarr`);
});

test('an existing output folder is refused before anything is read, and replaced whole on request', async (t) => {
  const out = join(tmp(t), 'ds');
  await importData(fixture('pair'), out);
  await assert.rejects(importData(fixture('ref_nox.npz'), out), { name: 'UserError', message: `${out} already exists: choose another output folder or replace it` });
  const res = await importData(fixture('ref.npz'), out, { replace: true });
  assert.equal(res.meta.source?.kind, 'npz');
  assert.equal(loadDataset(out).meta.frames, 6);
});
