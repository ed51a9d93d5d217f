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

export interface NativeAddon {
  /** `threads` changes only the speed, never the result (default: all cores). */
  DictySim: new (params: DictyNativeParams, seed: number, threads?: number) => DictySimNative;
  /** Pairs (i, j) closer than `cutoff` under periodic minimum image, flat [i0, j0, i1, j1, ...]. */
  pairsWithin(x: Float64Array, cells: number, box: number, cutoff: number): Int32Array;
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
