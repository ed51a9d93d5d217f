import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { UserError, show } from '../util/errors.js';
import { writeDataset, type DatasetMeta, type SourceKind } from './dataset.js';
import { readNpy, showShape, type NpyArray } from './formats/npy.js';
import { openNpz } from './formats/npz.js';
import { readZarrRun } from './formats/zarr.js';
import { DIMS, type CellSeries } from './series.js';
import { countNonFinite } from './stats.js';
import { velocityFromPositions } from './velocity.js';

/** The reference's time step, used when neither the data nor --dt give one. */
export const DEFAULT_DT = 0.002;

export interface ImportOptions {
  /** Velocity .npy, when `input` is a positions .npy. */
  vel?: string;
  /**
   * Box side L. For an .npz it is the unit X is measured in (X is divided by
   * it), and overrides params['L']. For zarr and .npy inputs, which are taken
   * as unit-box already, it is only recorded (default 1).
   */
  box?: number;
  /** Time between frames; overrides params['delta_t'] / params['dt']. */
  dt?: number;
  /** Dataset name; default: the output folder's name. */
  name?: string;
  /** Replace an existing dataset folder at the output. */
  replace?: boolean;
}

/** A validated input, read into memory, nothing written yet. */
export interface ImportSource {
  kind: SourceKind;
  /** Absolute path of the input file or folder that was read. */
  path: string;
  series: CellSeries;
  dt: number;
  box: number;
  /** Things the user should know (defaults taken, values ignored), one line each. */
  warnings: string[];
}

export interface ImportResult {
  dir: string;
  meta: DatasetMeta;
  warnings: string[];
}

/**
 * Import cell data into a dataset folder at `outDir`. The kind is detected:
 * - an `.npz` in the reference's layout: `X` (T, N, 3) positions in box
 *   units, optional `PDIR` (-> extras.polarity) and `FPAIR`
 *   (-> extras.pair_force), `params` a pickled dict with `L` and maybe
 *   `delta_t`/`dt`. Positions are divided by L; velocity is the reference's
 *   finite difference (velocityFromPositions).
 * - a zarr run folder (`x_list_<run>/` with `pos.zarr` and `vel.zarr`), or a
 *   folder holding `x_list_0/`: positions taken as unit box, velocity as stored.
 * - a folder holding `pos.npy` and `vel.npy`, or a positions `.npy` with
 *   `opts.vel` naming the velocity `.npy`: taken as stored.
 * Everything is read and validated before anything is written; on any error
 * the output folder does not appear.
 */
export async function importData(input: string, outDir: string, opts: ImportOptions = {}): Promise<ImportResult> {
  if (existsSync(outDir) && !opts.replace) {
    throw new UserError(`${outDir} already exists: choose another output folder or replace it`);
  }
  const src = await readImportSource(input, opts);
  const meta = writeDataset(
    outDir,
    src.series,
    {
      name: opts.name ?? basename(resolve(outDir)),
      dt: src.dt,
      box: src.box,
      source: { kind: src.kind, path: src.path },
      seed: null,
    },
    { replace: opts.replace },
  );
  return { dir: outDir, meta, warnings: src.warnings };
}

/** Detect, read and validate an input (see importData); writes nothing. */
export async function readImportSource(input: string, opts: ImportOptions = {}): Promise<ImportSource> {
  if (opts.box !== undefined && !(opts.box > 0 && Number.isFinite(opts.box))) throw new UserError(`--box must be a positive number, got ${show(opts.box)}`);
  if (opts.dt !== undefined && !(opts.dt > 0 && Number.isFinite(opts.dt))) throw new UserError(`--dt must be a positive number, got ${show(opts.dt)}`);
  if (!existsSync(input)) throw new UserError(`${input} not found`);
  const st = statSync(input);
  if (st.isDirectory()) {
    if (opts.vel !== undefined) throw new UserError(`--vel goes with a positions .npy file, but ${input} is a folder`);
    if (existsSync(join(input, 'pos.zarr')) || existsSync(join(input, 'vel.zarr'))) return readZarrSource(input, opts, []);
    if (existsSync(join(input, 'x_list_0'))) {
      const runs = readdirSync(input).filter((f) => /^x_list_\d+$/.test(f)).sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
      const warnings = runs.length > 1 ? [`${input} holds ${runs.length} runs (${runs.join(', ')}): importing x_list_0`] : [];
      return readZarrSource(join(input, 'x_list_0'), opts, warnings);
    }
    if (existsSync(join(input, 'pos.npy')) || existsSync(join(input, 'vel.npy'))) {
      for (const f of ['pos.npy', 'vel.npy']) {
        if (!existsSync(join(input, f))) throw new UserError(`${input} has no ${f}: a .npy folder needs both pos.npy and vel.npy`);
      }
      return readNpySource(join(input, 'pos.npy'), join(input, 'vel.npy'), input, opts);
    }
    if (basename(input).endsWith('.zarr')) {
      throw new UserError(`${input} is a single zarr array: give the run folder that holds pos.zarr and vel.zarr`);
    }
    throw new UserError(`${input} holds no data to import: expected pos.zarr and vel.zarr, x_list_0/, or pos.npy and vel.npy`);
  }
  const ext = extname(input).toLowerCase();
  if (ext === '.npz') {
    if (opts.vel !== undefined) throw new UserError('--vel goes with a positions .npy file, not an .npz');
    return readNpzSource(input, opts);
  }
  if (ext === '.npy') {
    if (opts.vel === undefined) {
      throw new UserError(`${input} is a single .npy: name the velocity file with --vel, or give a folder holding pos.npy and vel.npy`);
    }
    if (!existsSync(opts.vel)) throw new UserError(`${opts.vel} not found`);
    return readNpySource(input, opts.vel, input, opts);
  }
  throw new UserError(`${input}: unknown input kind (expected an .npz, a .npy with --vel, or a folder of zarr or .npy arrays)`);
}

async function readNpzSource(path: string, opts: ImportOptions): Promise<ImportSource> {
  const file = basename(path);
  const warnings: string[] = [];
  const npz = openNpz(readFileSync(path), file);
  if (!npz.names.includes('X')) throw new UserError(`${file} has no array X (found: ${npz.names.join(', ') || 'none'})`);
  const X = npz.float32('X');
  const label = `${file}:X`;
  const [frames, cells] = checkTriple(label, X);

  const extras: Record<string, Float32Array> = {};
  for (const [member, extra] of [['PDIR', 'polarity'], ['FPAIR', 'pair_force']] as const) {
    if (!npz.names.includes(member)) continue;
    const a = npz.float32(member);
    checkSameShape(`${file}:${member}`, a, label, X);
    checkFinite(`${file}:${member}`, a.data, cells);
    extras[extra] = a.data;
  }
  const ignored = npz.names.filter((n) => !['X', 'PDIR', 'FPAIR', 'params'].includes(n));
  if (ignored.length > 0) warnings.push(`${file}: ignored arrays ${ignored.join(', ')}`);

  let params: Record<string, unknown> | undefined;
  let paramsProblem: string;
  if (npz.names.includes('params')) {
    try {
      params = npz.dict('params');
      paramsProblem = '';
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      paramsProblem = `its params are unreadable (${err.message})`;
    }
  } else {
    paramsProblem = 'it has no params';
  }

  let box: number;
  if (opts.box !== undefined) {
    box = opts.box;
    const L = params?.L;
    if (typeof L === 'number' && L !== box) warnings.push(`${file}: params L = ${L} overridden by --box ${box}`);
  } else {
    if (!params) throw new UserError(`${file}: ${paramsProblem}, so the box side is unknown: give it with --box L`);
    const L = params.L;
    if (L === undefined) throw new UserError(`${file}: params has no L (keys: ${Object.keys(params).join(', ')}): give the box side with --box L`);
    if (typeof L !== 'number' || !(L > 0) || !Number.isFinite(L)) throw new UserError(`${file}: params L is ${show(L)}: expected a positive number (or give --box L)`);
    box = L;
  }

  let dt: number;
  if (opts.dt !== undefined) dt = opts.dt;
  else {
    const key = params && 'delta_t' in params ? 'delta_t' : params && 'dt' in params ? 'dt' : undefined;
    if (key) {
      const v = params![key];
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new UserError(`${file}: params ${key} is ${show(v)}: expected a positive number (or give --dt)`);
      dt = v;
    } else {
      dt = DEFAULT_DT;
      warnings.push(`${file}: no time step in params: using dt = ${DEFAULT_DT} (give --dt to change it)`);
    }
  }

  checkFinite(label, X.data, cells);
  // numpy's X / L on float32 X: float32 division by float32(L); the double
  // quotient rounded once to float32 is the same value.
  const Lf = Math.fround(box);
  const pos = X.data;
  for (let i = 0; i < pos.length; i++) pos[i] = pos[i] / Lf;
  const vel = velocityFromPositions(pos, frames, cells, dt);
  outsideWarning(warnings, label, pos, `after dividing by L = ${box}`);
  return { kind: 'npz', path: resolve(path), series: { frames, cells, pos, vel, extras }, dt, box, warnings };
}

async function readZarrSource(runDir: string, opts: ImportOptions, warnings: string[]): Promise<ImportSource> {
  const { pos, vel } = await readZarrRun(runDir);
  const [frames, cells] = checkTriple('pos.zarr', pos);
  checkSameShape('vel.zarr', vel, 'pos.zarr', pos);
  checkFinite('pos.zarr', pos.data, cells);
  checkFinite('vel.zarr', vel.data, cells);
  outsideWarning(warnings, 'pos.zarr', pos.data, 'taken as unit-box positions');
  const { dt, box } = unitBoxMeta(opts, warnings);
  return { kind: 'zarr', path: resolve(runDir), series: { frames, cells, pos: pos.data, vel: vel.data, extras: {} }, dt, box, warnings };
}

async function readNpySource(posPath: string, velPath: string, shown: string, opts: ImportOptions): Promise<ImportSource> {
  const warnings: string[] = [];
  const pn = basename(posPath);
  let vn = basename(velPath);
  if (vn === pn) vn = velPath;
  const pos = readNpy(readFileSync(posPath), pn);
  const vel = readNpy(readFileSync(velPath), vn);
  const [frames, cells] = checkTriple(pn, pos);
  checkSameShape(vn, vel, pn, pos);
  checkFinite(pn, pos.data, cells);
  checkFinite(vn, vel.data, cells);
  outsideWarning(warnings, pn, pos.data, 'taken as unit-box positions');
  const { dt, box } = unitBoxMeta(opts, warnings);
  return { kind: 'npy', path: resolve(shown), series: { frames, cells, pos: pos.data, vel: vel.data, extras: {} }, dt, box, warnings };
}

function unitBoxMeta(opts: ImportOptions, warnings: string[]): { dt: number; box: number } {
  if (opts.dt === undefined) warnings.push(`no time step given: recording dt = ${DEFAULT_DT} (give --dt to change it)`);
  return { dt: opts.dt ?? DEFAULT_DT, box: opts.box ?? 1 };
}

/** (frames, cells, 3) with at least 2 frames and 1 cell; returns [frames, cells]. */
function checkTriple(name: string, a: NpyArray): [number, number] {
  const s = a.shape;
  if (s.length !== 3 || s[2] !== DIMS) throw new UserError(`${name} has shape ${showShape(s)}: expected (frames, cells, 3)`);
  if (s[0] < 2) throw new UserError(`${name} has ${s[0]} frame${s[0] === 1 ? '' : 's'}: need at least 2`);
  if (s[1] < 1) throw new UserError(`${name} has no cells: shape ${showShape(s)}`);
  return [s[0], s[1]];
}

function checkSameShape(name: string, a: NpyArray, refName: string, ref: NpyArray): void {
  if (a.shape.length !== ref.shape.length || a.shape.some((d, i) => d !== ref.shape[i])) {
    throw new UserError(`${name} has shape ${showShape(a.shape)} but ${refName} has ${showShape(ref.shape)}: they must match`);
  }
}

function checkFinite(name: string, data: Float32Array, cells: number): void {
  const c = countNonFinite(data, cells);
  if (c.first === null) return;
  const parts = [c.nan > 0 ? `${c.nan} NaN` : '', c.inf > 0 ? `${c.inf} infinite` : ''].filter((s) => s).join(' and ');
  const f = c.first;
  throw new UserError(`${name} has ${parts} value${c.nan + c.inf > 1 ? 's' : ''} (first at frame ${f.frame}, cell ${f.cell}, component ${f.component})`);
}

function outsideWarning(warnings: string[], name: string, pos: Float32Array, how: string): void {
  let outside = 0;
  for (let i = 0; i < pos.length; i++) if (pos[i] < 0 || pos[i] >= 1) outside++;
  if (outside > 0) warnings.push(`${name}: ${outside} position value${outside > 1 ? 's' : ''} outside [0, 1) ${how}`);
}
