import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../src/data/formats/npy.js';
import { openNpz, readNpzFile } from '../src/data/formats/npz.js';
import { PickleError, PyGlobal, PyObject, PyTuple, unpickle } from '../src/data/formats/pickle.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/data/${name}`, import.meta.url));

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, { name: 'UserError', exitCode: 2, message });
}

const REF_PARAMS = {
  L: 2,
  delta_t: 0.002,
  k: 250,
  max_radius: 0.2,
  n_cells: 5,
  name: 'dicty-fixture',
  periodic: true,
  noise: null,
  shape: [6, 5, 3],
};

test("np.savez's reference file: member names, float arrays and the pickled params dict", () => {
  const npz = readNpzFile(fixture('ref.npz'));
  assert.deepEqual(npz.names, ['X', 'PDIR', 'FPAIR', 'params']);
  const X = npz.float32('X');
  assert.deepEqual(X.shape, [6, 5, 3]);
  // X / 2 is exact in float32, so it must equal numpy's normalised positions.
  const expected = readNpy(readFileSync(fixture('ref_expected_pos.npy')), 'ref_expected_pos.npy');
  assert.deepEqual(X.data.map((v) => v / 2), expected.data);
  assert.deepEqual(npz.dict('params'), REF_PARAMS);
});

test('np.savez_compressed (deflate) reads the same as np.savez (stored)', () => {
  const a = readNpzFile(fixture('ref.npz'));
  const b = readNpzFile(fixture('ref_compressed.npz'));
  for (const name of ['X', 'PDIR', 'FPAIR']) assert.deepEqual(b.float32(name), a.float32(name), name);
  assert.deepEqual(b.dict('params'), REF_PARAMS);
});

test('params pickled with protocols 2 and 5 and numpy scalars read as plain values', () => {
  const p5 = { L: 2, delta_t: 0.002, label: 'protocol five', ks: [1, 2, 3], big: 2n ** 70n, neg: -70000 };
  assert.deepEqual(readNpzFile(fixture('ref_pickle5.npz')).dict('params'), p5);
  assert.deepEqual(readNpzFile(fixture('ref_pickle2.npz')).dict('params'), p5);
  const scalars = readNpzFile(fixture('ref_numpy_scalars.npz')).dict('params');
  assert.equal(scalars.L, 2);
  assert.equal(scalars.dt, Math.fround(0.004));
});

test('bad .npz files are errors naming the file and the problem', () => {
  rejects(() => readNpzFile(fixture('empty.npz')), 'empty.npz is empty');
  rejects(() => openNpz(readFileSync(fixture('pair/pos.npy')), 'data.npz'), 'data.npz is not an .npz file (not a zip archive)');
  rejects(() => readNpzFile(fixture('ref_nox.npz')).float32('X'), 'ref_nox.npz has no array X (found: pos, vel)');
  rejects(() => readNpzFile(fixture('ref_int.npz')).float32('X'), 'ref_int.npz:X has dtype <i4: must be float32 or float64');
  rejects(() => readNpzFile(fixture('ref_badparams.npz')).dict('params'), 'ref_badparams.npz:params holds an unreadable pickle: unsupported opcode 0xff at byte 2');
  rejects(() => readNpzFile(fixture('ref.npz')).dict('X'), 'ref.npz:X has dtype <f4: expected a pickled dict (dtype object)');
  const whole = readFileSync(fixture('ref.npz'));
  rejects(() => openNpz(whole.subarray(0, 1000), 'cut.npz'), 'cut.npz is truncated: its zip directory is missing');
});

test('the pickle reader never runs anything: globals stay opaque names', () => {
  // pickle.dumps of an object whose __reduce__ is (os.system, ('echo hi',)), protocol 2.
  const evil = Buffer.from('\x80\x02cposix\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.', 'latin1');
  const v = unpickle(evil);
  assert.ok(v instanceof PyObject);
  assert.ok(v.callee instanceof PyGlobal);
  assert.equal(v.callee.qualified, 'posix.system');
  assert.deepEqual(v.args, ['echo hi']);
  assert.ok(new PyTuple() instanceof Array);
  assert.throws(() => unpickle(Buffer.from('\x80\x02}q\x00(X', 'latin1')), PickleError);
});
