import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeNpy, npyHeader, parseNpyHeader, readNpy } from '../src/data/formats/npy.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/data/${name}`, import.meta.url));
const read = (name: string): Buffer => readFileSync(fixture(name));

/** Every bad-input error is a UserError (exit 2) with exactly this message. */
function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, { name: 'UserError', exitCode: 2, message });
}

test('a float32 .npy written by numpy.save reads with its shape and values', () => {
  const a = readNpy(read('pair/pos.npy'), 'pos.npy');
  assert.deepEqual(a.shape, [4, 3, 3]);
  assert.equal(a.data.length, 36);
  assert.ok(a.data.every((v) => v >= 0 && v < 1));
});

test('an aligned little-endian float32 .npy is read without a copy (a view on the file buffer)', () => {
  const buf = read('pair/pos.npy');
  const a = readNpy(buf, 'pos.npy');
  assert.equal(a.data.buffer, buf.buffer);
  assert.equal(a.data.byteOffset, buf.byteOffset + 128);
});

test('a misaligned float32 .npy is read with one copy', () => {
  const src = read('pair/pos.npy');
  const shifted = new Uint8Array(src.length + 1).subarray(1);
  shifted.set(src);
  const a = readNpy(shifted, 'pos.npy');
  assert.notEqual(a.data.buffer, shifted.buffer);
  assert.deepEqual(a.data, readNpy(src, 'pos.npy').data);
});

test('float64, big-endian float32, and format versions 2.0 and 3.0 read as the same float32 values', () => {
  const want = readNpy(read('pair/pos.npy'), 'pos.npy');
  for (const name of ['pos_f64.npy', 'pos_be.npy', 'pos_v2.npy', 'pos_v3.npy']) {
    const a = readNpy(read(name), name);
    assert.deepEqual(a.shape, want.shape, name);
    assert.deepEqual(a.data, want.data, name);
  }
  assert.deepEqual(parseNpyHeader(read('pos_v2.npy'), 'x').version, [2, 0]);
  assert.deepEqual(parseNpyHeader(read('pos_v3.npy'), 'x').version, [3, 0]);
});

test('a .npy we write is byte-identical to the one numpy.save wrote for the same data', () => {
  const numpyFile = read('pair/pos.npy');
  const a = readNpy(numpyFile, 'pos.npy');
  assert.deepEqual(Buffer.from(encodeNpy(a.data, [4, 3, 3])), numpyFile);
  const ref = read('ref_expected_vel.npy');
  const v = readNpy(ref, 'vel.npy');
  assert.deepEqual(Buffer.from(encodeNpy(v.data, v.shape)), ref);
});

test('the header puts the data at a multiple of 64, as numpy does, for any shape', () => {
  for (const shape of [[1], [9997, 1000, 3], [123456789, 1, 3], [2, 3, 4, 5, 6, 7, 8]]) {
    const h = npyHeader(shape);
    assert.equal(h.length % 64, 0, String(shape));
    assert.equal(h[h.length - 1], 0x0a);
    assert.deepEqual(parseNpyHeader(h, 'x').shape, shape);
  }
  assert.match(Buffer.from(npyHeader([6, 5, 3])).toString('latin1'), /^\x93NUMPY\x01\x00v\x00\{'descr': '<f4', 'fortran_order': False, 'shape': \(6, 5, 3\), \} +\n$/);
  assert.match(Buffer.from(npyHeader([7])).toString('latin1'), /'shape': \(7,\), \}/);
});

test('bad .npy files are errors naming the file and the problem', () => {
  rejects(() => readNpy(read('empty.npy'), 'empty.npy'), 'empty.npy is empty');
  rejects(() => readNpy(read('not_npy.npy'), 'pos.npy'), 'pos.npy is not a .npy file (it does not start with the \\x93NUMPY magic)');
  rejects(() => readNpy(read('truncated.npy'), 'pos.npy'), 'pos.npy is truncated: expected 144 bytes of data for shape (4, 3, 3), found 134');
  rejects(() => readNpy(read('pos_i4.npy'), 'pos.npy'), 'pos.npy has dtype <i4: must be float32 or float64');
  rejects(() => readNpy(read('mask_b1.npy'), 'mask.npy'), 'mask.npy has dtype |b1: must be float32 or float64');
  rejects(() => readNpy(read('obj.npy'), 'obj.npy'), 'obj.npy has dtype |O: must be float32 or float64');
  rejects(() => readNpy(read('fortran.npy'), 'pos.npy'), 'pos.npy is stored in Fortran order: save it in C order (numpy.ascontiguousarray)');
  assert.throws(() => readNpy(read('bad_header.npy'), 'pos.npy'), {
    name: 'UserError',
    message: /^pos\.npy has an unreadable \.npy header \(expected ',' or '\)' at character \d+\): \{'descr': '<f4', 'fortran_order': False, 'shape': \(4, 3, 3 \}$/,
  });
  rejects(() => readNpy(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0, 0, 0), 'x.npy'), 'x.npy has .npy format version 9.0: only 1.0, 2.0 and 3.0 are supported');
});
