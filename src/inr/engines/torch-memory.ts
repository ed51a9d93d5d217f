import type { Precision } from '../../config/engine.js';
import { EVAL_CHUNK_POINTS } from '../engine.js';
import { parameterCount, type SirenSpec } from '../spec.js';

/**
 * Device memory a torch-engine run needs, in bytes, estimated before it
 * starts: the data set (scaled positions, velocities), parameters, gradients
 * and both Adam moments, one step's activations (each sine layer keeps its
 * output and its omega cos for backward, plus a few temporaries of the same
 * size, twice over when a CUDA graph holds its own pool next to the warm-up's),
 * and an evaluation chunk. A quarter on top for the allocator's rounding and
 * the framework's own workspace.
 */
export function estimateMemory(spec: SirenSpec, frames: number, cells: number, batch: number, precision: Precision): number {
  const f32 = 4;
  const data = frames * cells * 6 * f32 + frames * f32;
  const state = parameterCount(spec) * 4 * f32;
  const points = batch * cells;
  const perLayer = points * spec.hidden * f32 * (precision === 'bf16' ? 2.5 : 2);
  const step = (spec.layers + 1) * perLayer + 4 * points * spec.hidden * f32;
  const evaluation = 3 * Math.min(EVAL_CHUNK_POINTS, frames * cells) * spec.hidden * f32;
  return Math.ceil(1.25 * (data + state + 2 * step + evaluation));
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `${Math.ceil(n / 1024)} KiB`;
}
