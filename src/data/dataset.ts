import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { commitDir, discardDir, stageDir } from '../util/atomic.js';
import { UserError, show } from '../util/errors.js';
import { float32Bytes, npyHeader, parseNpyHeader, readNpy, showShape } from './formats/npy.js';
import { DIMS, type CellSeries } from './series.js';

/**
 * Our dataset folder: `dataset.json` describing it, and one .npy per array,
 * (frames, cells, 3) float32 little-endian, readable by numpy.load:
 * `pos.npy` (unit box), `vel.npy` (unit-box units per time unit), and any
 * extras of the series (`polarity.npy`, `pair_force.npy`, ...).
 *
 *     {
 *       "format": "inrscape-dataset", "version": 1,
 *       "name": "dicty-small", "frames": 400, "cells": 200, "dims": 3,
 *       "dt": 0.002, "box": 2,
 *       "generator": { "name": "dicty", "params": { ... } },   // or
 *       "source": { "kind": "npz", "path": "/abs/path/data.npz" },
 *       "seed": 1, "created_by": "inrscape 0.1.0",
 *       "arrays": { "pos": { "file": "pos.npy", "dtype": "<f4", "shape": [400, 200, 3], "sha256": "..." }, ... }
 *     }
 */

export const DATASET_FORMAT = 'inrscape-dataset';
export const DATASET_VERSION = 1;
export const DATASET_JSON = 'dataset.json';

export type SourceKind = 'npz' | 'zarr' | 'npy';

export interface GeneratorInfo {
  name: string;
  params: Record<string, unknown>;
}

export interface SourceInfo {
  kind: SourceKind;
  /** The imported file or folder, as an absolute path. */
  path: string;
}

export interface ArrayEntry {
  file: string;
  dtype: '<f4';
  shape: number[];
  /** sha256 of the whole .npy file, hex. */
  sha256: string;
}

/** The contents of dataset.json. */
export interface DatasetMeta {
  format: typeof DATASET_FORMAT;
  version: typeof DATASET_VERSION;
  name: string;
  frames: number;
  cells: number;
  dims: typeof DIMS;
  /** Time between frames. */
  dt: number;
  /** Side L of the periodic box; positions are stored divided by it (unit box). */
  box: number;
  generator?: GeneratorInfo;
  source?: SourceInfo;
  seed: number | null;
  /** `inrscape <version>` that wrote the folder. */
  created_by: string;
  /** `pos`, `vel`, then the extras, by name. */
  arrays: Record<string, ArrayEntry>;
}

/** What a caller says about a series when writing it; the rest is derived. */
export interface DatasetInput {
  name: string;
  dt: number;
  box: number;
  generator?: GeneratorInfo;
  source?: SourceInfo;
  seed?: number | null;
}

export interface WriteOptions {
  /** Replace an existing dataset folder (whole, never half). Default: refuse. */
  replace?: boolean;
}

export interface Dataset {
  dir: string;
  meta: DatasetMeta;
  series: CellSeries;
}

const EXTRA_NAME = /^[a-z][a-z0-9_]*$/;

let versionCache: string | undefined;
/** This package's version, from package.json. */
export function packageVersion(): string {
  if (versionCache === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
      versionCache = pkg.version ?? 'unknown';
    } catch {
      versionCache = 'unknown';
    }
  }
  return versionCache;
}

/**
 * Write `series` as a dataset folder at `dir`. Everything goes into a hidden
 * staging folder beside `dir`, fsync'd, then renamed into place: a crash never
 * leaves a folder at `dir` that loads half, and an existing dataset is only
 * replaced whole (with `replace`). Returns the dataset.json written.
 */
export function writeDataset(dir: string, series: CellSeries, input: DatasetInput, opts: WriteOptions = {}): DatasetMeta {
  const { frames, cells } = series;
  if (!Number.isSafeInteger(frames) || frames < 1 || !Number.isSafeInteger(cells) || cells < 1) {
    throw new Error(`writeDataset: bad size ${frames} frames x ${cells} cells`);
  }
  const count = frames * cells * DIMS;
  const arrays: [string, Float32Array][] = [['pos', series.pos], ['vel', series.vel]];
  for (const [name, data] of Object.entries(series.extras)) {
    if (!EXTRA_NAME.test(name) || name === 'pos' || name === 'vel') throw new Error(`writeDataset: bad extra array name ${show(name)}`);
    arrays.push([name, data]);
  }
  for (const [name, data] of arrays) {
    if (data.length !== count) throw new Error(`writeDataset: ${name} has ${data.length} values, expected ${frames} x ${cells} x ${DIMS} = ${count}`);
  }
  if (!(input.dt > 0) || !(input.box > 0)) throw new Error(`writeDataset: dt and box must be positive (dt=${input.dt}, box=${input.box})`);

  if (existsSync(dir)) {
    if (!opts.replace) throw new UserError(`${dir} already exists: choose another output folder or replace it`);
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir} exists and is not a folder`);
    if (!existsSync(join(dir, DATASET_JSON)) && readdirSync(dir).length > 0) {
      throw new UserError(`${dir} exists and is not a dataset folder (no ${DATASET_JSON}): refusing to replace it`);
    }
  }

  const shape = [frames, cells, DIMS];
  const staging = stageDir(dir);
  try {
    const entries: Record<string, ArrayEntry> = {};
    for (const [name, data] of arrays) {
      const file = `${name}.npy`;
      const sha256 = writeNpyFile(join(staging, file), data, shape);
      entries[name] = { file, dtype: '<f4', shape, sha256 };
    }
    const meta: DatasetMeta = {
      format: DATASET_FORMAT,
      version: DATASET_VERSION,
      name: input.name,
      frames,
      cells,
      dims: DIMS,
      dt: input.dt,
      box: input.box,
      ...(input.generator ? { generator: input.generator } : {}),
      ...(input.source ? { source: input.source } : {}),
      seed: input.seed ?? null,
      created_by: `inrscape ${packageVersion()}`,
      arrays: entries,
    };
    writeBytes(join(staging, DATASET_JSON), [Buffer.from(JSON.stringify(meta, null, 2) + '\n', 'utf8')]);
    commitDir(staging, dir, { replace: opts.replace });
    return meta;
  } catch (err) {
    discardDir(staging);
    throw err;
  }
}

/** Write a .npy (numpy.save's bytes) and return its sha256. */
function writeNpyFile(path: string, data: Float32Array, shape: number[]): string {
  return writeBytes(path, [npyHeader(shape), float32Bytes(data)]);
}

function writeBytes(path: string, parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'wx');
  try {
    for (const bytes of parts) {
      hash.update(bytes);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Read and check dataset.json of `dir`. */
export function readDatasetMeta(dir: string): DatasetMeta {
  if (!existsSync(dir)) throw new UserError(`dataset folder ${dir} not found`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir} is not a dataset folder: it is a file`);
  const path = join(dir, DATASET_JSON);
  if (!existsSync(path)) throw new UserError(`${dir} is not a dataset folder: ${DATASET_JSON} is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new UserError(`${path}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('expected a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== DATASET_FORMAT) bad(`format is ${show(m.format)}, expected ${show(DATASET_FORMAT)}`);
  if (m.version !== DATASET_VERSION) bad(`version ${show(m.version)} is not supported (this inrscape reads version ${DATASET_VERSION})`);
  for (const k of ['frames', 'cells'] as const) {
    if (!Number.isSafeInteger(m[k]) || (m[k] as number) < 1) bad(`${k} must be a positive integer, got ${show(m[k])}`);
  }
  if (m.dims !== DIMS) bad(`dims must be ${DIMS}, got ${show(m.dims)}`);
  for (const k of ['dt', 'box'] as const) {
    if (typeof m[k] !== 'number' || !((m[k] as number) > 0) || !Number.isFinite(m[k])) bad(`${k} must be a positive number, got ${show(m[k])}`);
  }
  if (typeof m.name !== 'string') bad(`name must be a string, got ${show(m.name)}`);
  const arrays = m.arrays;
  if (typeof arrays !== 'object' || arrays === null || Array.isArray(arrays)) return bad('arrays must be an object');
  for (const need of ['pos', 'vel']) {
    if (!(need in arrays)) bad(`arrays has no ${need}`);
  }
  for (const [name, e] of Object.entries(arrays as Record<string, unknown>)) {
    const entry = e as Partial<ArrayEntry> | null;
    if (typeof entry !== 'object' || entry === null) bad(`arrays.${name} must be an object`);
    const file = entry!.file;
    if (typeof file !== 'string' || !/^[A-Za-z0-9_.-]+\.npy$/.test(file) || file.startsWith('.')) bad(`arrays.${name}.file must be a .npy file name in the folder, got ${show(file)}`);
    if (entry!.dtype !== '<f4') bad(`arrays.${name}.dtype must be "<f4", got ${show(entry!.dtype)}`);
    if (!Array.isArray(entry!.shape)) bad(`arrays.${name}.shape must be a list`);
    if (typeof entry!.sha256 !== 'string') bad(`arrays.${name}.sha256 must be a string`);
  }
  return m as unknown as DatasetMeta;
}

/**
 * Load a dataset folder: each array is read into one buffer and viewed as a
 * Float32Array (no further copy); shapes are checked against dataset.json.
 * Checksums are not recomputed here (see verifyDataset).
 */
export function loadDataset(dir: string): Dataset {
  const meta = readDatasetMeta(dir);
  const want = [meta.frames, meta.cells, DIMS];
  const read = (name: string): Float32Array => {
    const entry = meta.arrays[name];
    const path = join(dir, entry.file);
    if (!existsSync(path)) throw new UserError(`${dir} is incomplete: ${entry.file} is missing`);
    const buf = readFileSync(path);
    const h = parseNpyHeader(buf, entry.file);
    if (h.descr !== '<f4') throw new UserError(`${entry.file} has dtype ${h.descr} but dataset.json says <f4`);
    if (!sameShape(entry.shape, want)) {
      throw new UserError(`${DATASET_JSON} gives ${name} shape ${showShape(entry.shape)} but frames x cells x 3 is ${showShape(want)}`);
    }
    if (!sameShape(h.shape, want)) {
      throw new UserError(`${entry.file} has shape ${showShape(h.shape)} but ${DATASET_JSON} says ${showShape(want)}`);
    }
    return readNpy(buf, entry.file).data;
  };
  const pos = read('pos');
  const vel = read('vel');
  const extras: Record<string, Float32Array> = {};
  for (const name of Object.keys(meta.arrays)) {
    if (name !== 'pos' && name !== 'vel') extras[name] = read(name);
  }
  const series: CellSeries = { frames: meta.frames, cells: meta.cells, pos, vel, extras };
  return { dir, meta, series };
}

export interface ChecksumResult {
  name: string;
  file: string;
  ok: boolean;
  expected: string;
  /** null when the file is missing. */
  actual: string | null;
}

export interface VerifyResult {
  ok: boolean;
  arrays: ChecksumResult[];
}

/** Recompute the sha256 of every array file and compare with dataset.json. */
export function verifyDataset(dir: string): VerifyResult {
  const meta = readDatasetMeta(dir);
  const arrays: ChecksumResult[] = [];
  for (const [name, entry] of Object.entries(meta.arrays)) {
    const path = join(dir, entry.file);
    const actual = existsSync(path) ? hashFile(path) : null;
    arrays.push({ name, file: entry.file, ok: actual === entry.sha256, expected: entry.sha256, actual });
  }
  return { ok: arrays.every((a) => a.ok), arrays };
}

function hashFile(path: string): string {
  const hash: Hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function sameShape(a: readonly unknown[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
