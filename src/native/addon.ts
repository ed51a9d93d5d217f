import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * The typed face of the native addon (native/, built by `npm install`).
 * Nothing else in inrscape loads the .node file or names its exports untyped.
 */
export interface DictySimNative {
  /** Advance `frames` frames unrecorded, then restart the clock at t = 0. */
  warmup(frames: number): void;
  /** Advance `count` frames unrecorded (the clock runs on). */
  frames(count: number): void;
  /** Record `count` frames into (count, cells, 3) arrays; polarity and force may be null. */
  record(count: number, pos: Float32Array, polarity: Float32Array | null, pairForce: Float32Array | null): void;
  state(): { x: Float64Array; p: Float64Array; force: Float64Array; centres: Float64Array; t: number };
}

export interface DictyNativeParams {
  cells: number; box: number; dt: number; substeps: number; v0: number; mu: number;
  k_rep: number; r0: number; k_adh: number; r_on: number; adh_width: number; max_radius: number;
  centres: number; wave_period: number; wavelength: number; turn_rate: number; rot_diffusion: number;
  mound_radius: number; swirl: number;
}

/** The instruction-set path of the CPU engine's kernels. */
export type IsaName = 'avx512' | 'avx2' | 'neon' | 'scalar';

/** A thread pool and the kernels' ISA path, shared by the models made with it. */
export interface CpuEngineNative {
  readonly threads: number;
  readonly isa: IsaName;
}

export interface SirenShapeNative {
  inputs: number;
  hidden: number;
  layers: number;
  outputs: number;
  omega: number;
}

/**
 * One SIREN model of the CPU engine. Parameter and moment arrays are flat,
 * `parameterCount` floats in `parameterTensors` order (weights [out, in]).
 */
export interface SirenCpuModelNative {
  readonly parameterCount: number;
  /** The run's series, referenced (not copied) until the next call; inputs are assembled from it. */
  setSeries(pos: Float32Array, vel: Float32Array, frames: number, cells: number, tPeriod: number, xyPeriod: number): void;
  /**
   * `lrs.length` steps off the JavaScript thread, step k on the frames
   * frameIds[k * batch, (k + 1) * batch); each step's loss and gradient norm
   * (before clipping) go into `losses` and `gradNorms`.
   */
  trainChunk(
    frameIds: Int32Array, batch: number, lrs: Float64Array,
    beta1: number, beta2: number, eps: number, clipNorm: number, losses: Float64Array, gradNorms: Float64Array,
  ): Promise<void>;
  /** Any number of points (taken maxPoints at a time). */
  predict(inputs: Float32Array, points: number, out: Float32Array): Promise<void>;
  getParameters(out: Float32Array): void;
  setParameters(params: Float32Array): void;
  /** Fills the Adam moments and returns the step count. */
  getOptimizerState(m: Float32Array, v: Float32Array): number;
  setOptimizerState(step: number, m: Float32Array, v: Float32Array): void;
  dispose(): void;
}

export interface NativeAddon {
  /** `threads` changes only the speed, never the result (default: all cores). */
  DictySim: new (params: DictyNativeParams, seed: number, threads?: number) => DictySimNative;
  /** Pairs (i, j) closer than `cutoff` under periodic minimum image, flat [i0, j0, i1, j1, ...]. */
  pairsWithin(x: Float64Array, cells: number, box: number, cutoff: number): Int32Array;
  /**
   * `threads` defaults to all cores; `isa` defaults to INRSCAPE_ISA or else the
   * best path this CPU runs (asking for one it cannot run throws).
   */
  CpuEngine: new (threads?: number, isa?: IsaName | 'auto') => CpuEngineNative;
  SirenCpuModel: new (engine: CpuEngineNative, shape: SirenShapeNative, maxPoints: number) => SirenCpuModelNative;
  /** s = sin(omega x), c = omega cos(omega x) with the kernels of `isa` (for tests). */
  sincos(isa: IsaName, x: Float32Array, omega: number, s: Float32Array, c: Float32Array): void;
  /** Every ISA path this CPU runs, best first (the last is always scalar). */
  readonly isas: readonly IsaName[];
  /** Data-cache sizes in bytes as the engine read them (its GEMM blocking follows them); per core for L1d and L2. */
  readonly caches: { readonly l1d: number; readonly l2: number; readonly l3: number };
}

let cached: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const file = join(root, 'build', 'Release', 'inrscape_native.node');
  if (!existsSync(file)) {
    throw new Error(`the native addon is not built (${file} is missing): run npm install (it builds native/ with node-gyp)`);
  }
  cached = createRequire(import.meta.url)(file) as NativeAddon;
  return cached;
}
