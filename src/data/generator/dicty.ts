import type { ModelParams } from '../../config/dicty-model.js';
import { nativeAddon } from '../../native/addon.js';
import { DIMS, type CellSeries } from '../series.js';
import { velocityFromPositions } from '../velocity.js';

export type Progress = (framesDone: number, framesTotal: number) => void;

export interface Simulated {
  series: CellSeries;
  centres: number[];
}

/**
 * The dicty stand-in (native/dicty.cc): overdamped active cells in a periodic box,
 *   dx/dt = v0 p_i + mu sum_j F(r_ij) rhat_ij,
 * with polarity p_i turning toward outward-travelling cAMP waves from a few
 * aggregation centres, plus rotational noise. Records `frames` frames, one
 * per dt, after the warm-up; velocities follow the reference's rule.
 */
export function simulateDicty(params: ModelParams, seed: number, onProgress?: Progress): Simulated {
  const sim = new (nativeAddon().DictySim)(params, seed);
  const { cells, frames, dt } = params;
  sim.warmup(Math.round(params.warmup / dt));
  const stride = cells * DIMS;
  const pos = new Float32Array(frames * stride);
  const polarity = new Float32Array(frames * stride);
  const pairForce = new Float32Array(frames * stride);
  // Chunks keep progress visible on long runs without slowing the integrator.
  const chunk = Math.max(1, Math.ceil(frames / 50));
  for (let f = 0; f < frames; f += chunk) {
    const count = Math.min(chunk, frames - f);
    const range = (a: Float32Array): Float32Array => a.subarray(f * stride, (f + count) * stride);
    sim.record(count, range(pos), range(polarity), range(pairForce));
    onProgress?.(f + count, frames);
  }
  return {
    series: { frames, cells, pos, vel: velocityFromPositions(pos, frames, cells, dt), extras: { polarity, pair_force: pairForce } },
    centres: Array.from(sim.state().centres),
  };
}
