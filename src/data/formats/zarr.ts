import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as zarr from 'zarrita';
import { UserError } from '../../util/errors.js';
import { showShape, type NpyArray } from './npy.js';

/**
 * The reference's zarr v2 stores: `x_list_<run>/` holding one array per field
 * (`pos.zarr`, `vel.zarr`: (T, N, dim) float32, blosc with zstd and
 * bit-shuffle, chunked along T; `cell_type.zarr`: (N,) int32). Read with
 * zarrita over the file system; numcodecs' blosc is WASM and runs in Node.
 */

/**
 * A read-only folder store for zarrita (the same as @zarrita/storage's
 * FileSystemStore, which is not one of our direct dependencies).
 */
class FolderStore implements zarr.AsyncReadable {
  constructor(readonly root: string) {}
  async get(key: zarr.AbsolutePath): Promise<Uint8Array | undefined> {
    const parts = key.split('/').filter((s) => s.length > 0);
    if (parts.some((s) => s === '..')) return undefined;
    try {
      return await readFile(join(this.root, ...parts));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

interface ZarrayV2 {
  zarr_format: number;
  shape: number[];
  chunks: number[];
  dtype: string;
  order?: string;
  dimension_separator?: string;
  compressor?: { id: string } | null;
  filters?: unknown[] | null;
}

/**
 * Read a zarr v2 float array (`<f4`, `<f8`, `>f4`, ...) at `path` as float32.
 * Every chunk must be present: a missing chunk would silently read as the
 * fill value, which in a simulation means an interrupted write.
 */
export async function readZarrFloat32(path: string): Promise<NpyArray> {
  const label = basename(path);
  if (!existsSync(path)) throw new UserError(`${path} not found`);
  const metaPath = join(path, '.zarray');
  if (!existsSync(metaPath)) {
    if (existsSync(join(path, 'zarr.json'))) throw new UserError(`${label} is a zarr v3 array: only zarr v2 stores (the reference's format) are supported`);
    throw new UserError(`${label} is not a zarr v2 array: ${metaPath} is missing`);
  }
  let meta: ZarrayV2;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as ZarrayV2;
  } catch (err) {
    throw new UserError(`${label}/.zarray is not valid JSON (${(err as Error).message})`);
  }
  if (meta.zarr_format !== 2) throw new UserError(`${label}/.zarray has zarr_format ${String(meta.zarr_format)}: expected 2`);
  if (!/^[<>|]f[48]$/.test(meta.dtype)) throw new UserError(`${label} has dtype ${meta.dtype}: must be float32 or float64`);
  if (meta.order && meta.order !== 'C') throw new UserError(`${label} is stored in Fortran order: only C order is supported`);
  checkChunks(path, label, meta);

  const store = new FolderStore(dirname(path));
  let data: ArrayLike<number>;
  let shape: number[];
  try {
    const arr = await zarr.open.v2(zarr.root(store).resolve(basename(path)), { kind: 'array', attrs: false });
    const chunk = await zarr.get(arr);
    data = chunk.data as unknown as ArrayLike<number>;
    shape = chunk.shape;
  } catch (err) {
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    throw new UserError(`${label} could not be decoded (${e.message}${cause})`);
  }
  const out = data instanceof Float32Array ? data : Float32Array.from(data);
  if (out.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new UserError(`${label} decoded to ${out.length} values for shape ${showShape(shape)}`);
  }
  return { shape, data: out };
}

/**
 * Every chunk must exist, and a blosc chunk's own header must agree with its
 * file and with the array: numcodecs' WASM blosc does not report decoding
 * errors (a truncated or foreign chunk decodes to garbage or to nothing), so
 * this is where a damaged store is caught.
 */
function checkChunks(path: string, label: string, meta: ZarrayV2): void {
  if (meta.shape.length === 0) return;
  const sep = meta.dimension_separator ?? '.';
  const grid = meta.shape.map((s, i) => Math.ceil(s / meta.chunks[i]));
  const total = grid.reduce((a, b) => a * b, 1);
  const itemSize = Number(meta.dtype.slice(2));
  const chunkBytes = meta.chunks.reduce((a, b) => a * b, 1) * itemSize;
  const plainFilters = meta.filters === null || meta.filters === undefined || meta.filters.length === 0;
  const compressor = meta.compressor?.id ?? null;
  const idx = grid.map(() => 0);
  const header = Buffer.alloc(16);
  for (let n = 0; n < total; n++) {
    const key = idx.join(sep);
    const file = join(path, key);
    let size = -1;
    try { const st = statSync(file); if (st.isFile()) size = st.size; } catch { size = -1; }
    if (size < 0) throw new UserError(`${label} is missing chunk ${key} (of ${total}): the store is incomplete`);
    if (plainFilters && compressor === null && size !== chunkBytes) {
      throw new UserError(`${label} chunk ${key} has ${size} bytes, expected ${chunkBytes}: the store is damaged`);
    }
    if (plainFilters && compressor === 'blosc') {
      const fd = openSync(file, 'r');
      let got: number;
      try { got = readSync(fd, header, 0, 16, 0); } finally { closeSync(fd); }
      const nbytes = header.readUInt32LE(4);
      const cbytes = header.readUInt32LE(12);
      const where = `${label} chunk ${key}`;
      if (got < 16 || header[0] < 1 || header[0] > 4) throw new UserError(`${where} is not a blosc chunk: the store is damaged`);
      if (cbytes !== size) throw new UserError(`${where} is truncated or damaged: its blosc header says ${cbytes} bytes, the file has ${size}`);
      if (nbytes !== chunkBytes) throw new UserError(`${where} holds ${nbytes} bytes, expected ${chunkBytes} for chunk shape ${showShape(meta.chunks)}`);
    }
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < grid[d]) break;
      idx[d] = 0;
    }
  }
}

/** The folder of one reference run: `pos.zarr` and `vel.zarr`. */
export interface ZarrRun {
  pos: NpyArray;
  vel: NpyArray;
}

/** Read `pos.zarr` and `vel.zarr` of a run folder (`x_list_<run>/`). */
export async function readZarrRun(runDir: string): Promise<ZarrRun> {
  for (const f of ['pos.zarr', 'vel.zarr']) {
    if (!existsSync(join(runDir, f))) throw new UserError(`${runDir} is not a zarr run folder: ${f} is missing`);
  }
  const pos = await readZarrFloat32(join(runDir, 'pos.zarr'));
  const vel = await readZarrFloat32(join(runDir, 'vel.zarr'));
  return { pos, vel };
}
