import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { commitDir } from '../util/atomic.js';
import { pidAlive } from '../util/pid.js';
import { UserError } from '../util/errors.js';
import { npyHeader, float32Bytes, LITTLE_ENDIAN } from '../data/formats/npy.js';

/**
 * A run folder appears whole or not at all. While a run trains, everything
 * lives in a hidden staging folder beside it, `<parent>/.<name>.partial/`:
 *
 *     lock                     pid of the process training it
 *     run-spec.json            what to train (config, seed, dataset, engine, threads): read by --resume
 *     config.yaml              the config snapshot
 *     checkpoint.safetensors   the latest checkpoint (once the first is due)
 *
 * At the end the results are written into it, the lock, spec and checkpoint
 * removed, and the folder renamed to `<out>` in one step. A killed run leaves
 * only the staging folder, which `inrscape train --resume <out>` continues.
 */

export const LOCK_FILE = 'lock';
export const RUN_SPEC_FILE = 'run-spec.json';
export const CONFIG_FILE = 'config.yaml';
export const RESULTS_LOG = 'results.log';
export const RUN_JSON = 'run.json';
export const MODEL_FILE = 'model.safetensors';
export const PRED_FILE = 'pred_velocity.npy';
export const GT_FILE = 'gt_velocity.npy';
export const FRAME_MSE_FILE = 'frame_mse.npy';

/** The run folder is being trained by another live process (a caller may wait for it and look again). */
export class RunFolderBusy extends UserError {
  constructor(message: string, readonly pid: number) {
    super(message);
  }
}

export function partialDir(out: string): string {
  const abs = resolve(out);
  return join(dirname(abs), `.${basename(abs)}.partial`);
}

/** The pid holding the staging folder's lock, when that process still runs. */
export function lockHolder(staging: string): number | undefined {
  const path = join(staging, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return pidAlive(pid) ? pid : undefined;
}

function takeLock(staging: string): void {
  const holder = lockHolder(staging);
  if (holder !== undefined && holder !== process.pid) {
    throw new RunFolderBusy(`${staging} is in use by process ${holder} (a run is training there)`, holder);
  }
  rmSync(join(staging, LOCK_FILE), { force: true });
  const fd = openSync(join(staging, LOCK_FILE), 'wx');
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
}

export function releaseLock(staging: string): void {
  rmSync(join(staging, LOCK_FILE), { force: true });
}

/**
 * A fresh staging folder for a new run at `out`. Refuses when `out` exists or
 * an interrupted run waits in the staging folder, unless `force` (which
 * replaces both: the old folder only when the new run commits).
 */
export function beginRunFolder(out: string, opts: { force?: boolean } = {}): string {
  const abs = resolve(out);
  if (existsSync(abs) && !opts.force) {
    throw new UserError(`run folder ${out} already exists: choose another --out, or pass --force to replace it`);
  }
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UserError(`${out} exists and is not a folder`);
  const staging = partialDir(abs);
  if (existsSync(staging)) {
    const holder = lockHolder(staging);
    if (holder !== undefined) throw new RunFolderBusy(`${out} is being trained by process ${holder}`, holder);
    if (!opts.force) {
      throw new UserError(
        `an interrupted run of ${out} is waiting in ${staging}: continue it with 'inrscape train --resume ${out}', or pass --force to start over`,
      );
    }
    rmSync(staging, { recursive: true, force: true });
  }
  mkdirSync(staging, { recursive: true });
  takeLock(staging);
  return staging;
}

/** The staging folder of an interrupted run at `out`, locked for this process. */
export function reopenRunFolder(out: string): string {
  const abs = resolve(out);
  const staging = partialDir(abs);
  if (!existsSync(join(staging, RUN_SPEC_FILE))) {
    if (existsSync(join(abs, RESULTS_LOG))) throw new UserError(`${out} is a finished run: there is nothing to resume`);
    throw new UserError(`no interrupted run of ${out} (expected ${staging}/${RUN_SPEC_FILE})`);
  }
  takeLock(staging);
  return staging;
}

/** Rename the finished staging folder to `out`, dropping the files only a running run needs. */
export function commitRunFolder(staging: string, out: string, opts: { replace?: boolean } = {}): void {
  for (const f of [RUN_SPEC_FILE, 'checkpoint.safetensors']) rmSync(join(staging, f), { force: true });
  for (const f of readdirSync(staging)) if (f.includes('.tmp-')) rmSync(join(staging, f), { force: true });
  releaseLock(staging);
  try {
    commitDir(staging, resolve(out), { replace: opts.replace });
  } catch (err) {
    if (existsSync(resolve(out)) && !opts.replace) {
      throw new UserError(`run folder ${out} appeared while training; the results stay in ${staging}`);
    }
    throw err;
  }
}

/** Write a (shape) float32 .npy, fsync'd; the folder rename makes it visible. */
export function writeNpyF32(path: string, data: Float32Array, shape: readonly number[]): void {
  writeParts(path, [npyHeader(shape), float32Bytes(data)]);
}

export function writeNpyF64(path: string, data: Float64Array, shape: readonly number[]): void {
  let bytes: Uint8Array;
  if (LITTLE_ENDIAN) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    bytes = new Uint8Array(data.byteLength);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) dv.setFloat64(8 * i, data[i], true);
  }
  writeParts(path, [npyHeader(shape, '<f8'), bytes]);
}

function writeParts(path: string, parts: Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const bytes of parts) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
