import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../src/data/formats/npy.js';
import { readZarrFloat32, readZarrRun } from '../src/data/formats/zarr.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/data/${name}`, import.meta.url));
const npy = (name: string) => readNpy(readFileSync(fixture(name)), name);

test("the reference's zarr v2 run (blosc zstd + bit-shuffle, chunked along T) reads as numpy wrote it", async () => {
  const meta = JSON.parse(readFileSync(fixture('zarr/x_list_0/pos.zarr/.zarray'), 'utf8'));
  assert.deepEqual(meta.compressor, { blocksize: 0, clevel: 5, cname: 'zstd', id: 'blosc', shuffle: 2 });
  assert.deepEqual(meta.chunks, [3, 16, 3]); // 8 frames: chunks of 3, 3 and a partial 2
  const run = await readZarrRun(fixture('zarr/x_list_0'));
  assert.deepEqual(run.pos.shape, [8, 16, 3]);
  assert.deepEqual(run.pos.data, npy('zarr_expected_pos.npy').data);
  assert.deepEqual(run.vel.data, npy('zarr_expected_vel.npy').data);
});

test('a zarr array that is not float, a missing chunk, a damaged chunk, and a missing array are clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-zarr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(readZarrFloat32(fixture('zarr/x_list_0/cell_type.zarr')), {
    name: 'UserError',
    message: 'cell_type.zarr has dtype <i4: must be float32 or float64',
  });
  cpSync(fixture('zarr/x_list_0'), join(dir, 'run'), { recursive: true });
  rmSync(join(dir, 'run/vel.zarr/1.0.0'));
  await assert.rejects(readZarrRun(join(dir, 'run')), {
    name: 'UserError',
    message: 'vel.zarr is missing chunk 1.0.0 (of 3): the store is incomplete',
  });
  // numcodecs' WASM blosc decodes these without an error; the chunk headers catch them.
  writeFileSync(join(dir, 'run/pos.zarr/2.0.0'), Buffer.from('not blosc at all'));
  await assert.rejects(readZarrFloat32(join(dir, 'run/pos.zarr')), {
    name: 'UserError',
    message: 'pos.zarr chunk 2.0.0 is not a blosc chunk: the store is damaged',
  });
  const chunk = readFileSync(fixture('zarr/x_list_0/pos.zarr/2.0.0'));
  writeFileSync(join(dir, 'run/pos.zarr/2.0.0'), chunk.subarray(0, chunk.length - 7));
  await assert.rejects(readZarrFloat32(join(dir, 'run/pos.zarr')), {
    name: 'UserError',
    message: `pos.zarr chunk 2.0.0 is truncated or damaged: its blosc header says ${chunk.length} bytes, the file has ${chunk.length - 7}`,
  });
  rmSync(join(dir, 'run/pos.zarr'), { recursive: true });
  await assert.rejects(readZarrRun(join(dir, 'run')), {
    name: 'UserError',
    message: `${join(dir, 'run')} is not a zarr run folder: pos.zarr is missing`,
  });
});
