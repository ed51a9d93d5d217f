import type { Rng } from '../util/rng.js';
import { DIMS, type CellSeries } from '../data/series.js';

/**
 * Batches as the reference makes them (docs/reference.md, Model and Training loop): each step draws
 * `batch` distinct frames uniformly (without replacement) and uses every cell
 * of each; the inputs of a point are
 *
 *     t = frame / n_frames / t_period,  x = pos_x / xy_period,  y = ..., z = ...
 *
 * and its target is the cell's velocity. Points are laid out frame by frame in
 * the order the frames were drawn, cells in their stored order.
 */

/** Input features per point: (t, x, y, z). */
export const INPUT_DIMS = 4;

export interface InputScaling {
  /** Frames in the whole series (the `n_frames` that t is divided by). */
  frames: number;
  tPeriod: number;
  xyPeriod: number;
}

/**
 * Draws `k` distinct frames per call with a partial Fisher-Yates shuffle on our
 * Rng: position i takes a uniform pick among the positions i..T-1. The swaps
 * are undone afterwards, so the draw depends only on the Rng state: a
 * checkpoint needs the Rng and nothing else to continue the same sequence.
 */
export class FrameSampler {
  private readonly perm: Int32Array;
  private readonly picks: Int32Array;

  constructor(readonly frames: number, readonly k: number) {
    if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`FrameSampler: frames must be a positive integer, got ${frames}`);
    if (!Number.isInteger(k) || k < 1 || k > frames) throw new RangeError(`FrameSampler: cannot draw ${k} distinct frames out of ${frames}`);
    this.perm = new Int32Array(frames);
    for (let i = 0; i < frames; i++) this.perm[i] = i;
    this.picks = new Int32Array(k);
  }

  /** Fill `out[0..k)` with k distinct frame indices. */
  sample(rng: Rng, out: Int32Array): void {
    const { perm, picks, k, frames } = this;
    for (let i = 0; i < k; i++) {
      const j = i + rng.below(frames - i);
      picks[i] = j;
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
      out[i] = perm[i];
    }
    for (let i = k - 1; i >= 0; i--) {
      const j = picks[i];
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
}

/**
 * Write the inputs (and targets, when given) of every cell of `frameIds[0..count)`
 * into the preallocated `inputs` (points x 4) and `targets` (points x 3).
 * Arithmetic is float32 as the reference's tensors do it: t = f32(f32(frame / frames) / f32(t_period)),
 * x = f32(pos_x / f32(xy_period)). Returns the number of points written.
 */
export function assembleInputs(
  series: CellSeries,
  frameIds: ArrayLike<number>,
  count: number,
  scaling: InputScaling,
  inputs: Float32Array,
  targets?: Float32Array,
): number {
  const { cells, pos, vel } = series;
  const points = count * cells;
  if (inputs.length < points * INPUT_DIMS) throw new RangeError(`assembleInputs: inputs hold ${inputs.length / INPUT_DIMS} points, need ${points}`);
  if (targets && targets.length < points * DIMS) throw new RangeError(`assembleInputs: targets hold ${targets.length / DIMS} points, need ${points}`);
  const tp = Math.fround(scaling.tPeriod);
  const xp = Math.fround(scaling.xyPeriod);
  let p = 0;
  for (let b = 0; b < count; b++) {
    const f = frameIds[b];
    const t = Math.fround(Math.fround(f / scaling.frames) / tp);
    const base = f * cells * DIMS;
    for (let c = 0; c < cells; c++, p++) {
      const src = base + c * DIMS;
      const o = p * INPUT_DIMS;
      inputs[o] = t;
      inputs[o + 1] = pos[src] / xp;
      inputs[o + 2] = pos[src + 1] / xp;
      inputs[o + 3] = pos[src + 2] / xp;
      if (targets) {
        const d = p * DIMS;
        targets[d] = vel[src];
        targets[d + 1] = vel[src + 1];
        targets[d + 2] = vel[src + 2];
      }
    }
  }
  return points;
}

/** Inputs of the consecutive frames first..first+count-1 (an evaluation chunk). */
export function assembleFrameRange(series: CellSeries, first: number, count: number, scaling: InputScaling, inputs: Float32Array): number {
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = first + i;
  return assembleInputs(series, ids, count, scaling, inputs);
}
