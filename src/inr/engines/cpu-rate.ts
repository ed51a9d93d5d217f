/**
 * How fast the native CPU engine trains on this machine: a short run of real
 * training steps (well under a second of timed work) at a study's shapes,
 * through the engine's public interface, as FLOP/s counted the way the
 * study's cost model counts them (`flopsPerPoint`: forward plus backward per
 * point and step). Nothing here is cached or written; src/cli/cpu-rate.ts
 * keeps the result.
 *
 * It is measured at the thread count a trial gets, not at one thread and
 * scaled: the engine's thread scaling depends on the machine and the shape
 * (1.8x for 2 threads on the 2-core development machine, docs/performance.md,
 * "Study concurrency"; far below linear on many cores at a study's small
 * batches, where each thread gets a few hundred points), so one thread times
 * T would over-promise on exactly the machines with many cores. A run per
 * thread count is cheap and happens once.
 */
import type { CellSeries } from '../../data/series.js';
import { Rng } from '../../util/rng.js';
import { FrameSampler } from '../batches.js';
import { REFERENCE_ADAM, type EngineModel } from '../engine.js';
import { flopsPerPoint, initParameters, sirenSpec } from '../spec.js';
import { CpuEngine } from './cpu.js';

/**
 * The measured shape: dicty-small's 250 cells, 8 frames a step, hidden 256
 * with 3 hidden layers, the middle of a CPU study's widths (128 to 512) and
 * the shape of the figures in docs/performance.md.
 */
export const RATE_SHAPE = { cells: 250, batch: 8, hidden: 256, layers: 3 } as const;
/** Timed training, in seconds: long enough to average over many steps, short enough to go unnoticed. */
export const RATE_TARGET_SECONDS = 0.5;
/** Untimed steps first: the first steps fault in the engine's buffers and wake its pool. */
const WARMUP_STEPS = 2;
/** Chunks of about this many seconds: the per-call cost stays negligible and the run overshoots the target little. */
const CHUNK_SECONDS = 0.1;
const FRAMES = 16;

export interface CpuRateMeasurement {
  /** Training FLOP/s of one model at `threads` threads. */
  flopsPerSecond: number;
  threads: number;
  isa: CpuEngine['isa'];
  steps: number;
  seconds: number;
}

/** Random positions and velocities: the kernels' speed does not depend on the values. */
function syntheticSeries(frames: number, cells: number): CellSeries {
  const rng = new Rng(1);
  const pos = new Float32Array(frames * cells * 3), vel = new Float32Array(frames * cells * 3);
  for (let i = 0; i < pos.length; i++) pos[i] = rng.uniform();
  for (let i = 0; i < vel.length; i++) vel[i] = 2 * rng.uniform() - 1;
  return { frames, cells, pos, vel, extras: {} };
}

/** `steps` training steps in one engine call, frames drawn as the trainer draws them; seconds taken. */
async function timedChunk(model: EngineModel, sampler: FrameSampler, rng: Rng, steps: number): Promise<number> {
  const ids = new Int32Array(steps * RATE_SHAPE.batch);
  for (let s = 0; s < steps; s++) sampler.sample(rng, ids.subarray(s * RATE_SHAPE.batch, (s + 1) * RATE_SHAPE.batch));
  const lrs = new Float64Array(steps).fill(1e-4);
  const t0 = performance.now();
  await model.trainChunk(ids, lrs);
  return (performance.now() - t0) / 1000;
}

/** Train the measured shape on `engine` for about RATE_TARGET_SECONDS and return its rate. */
export async function measureCpuEngineRate(engine: CpuEngine): Promise<CpuRateMeasurement> {
  const { cells, batch, hidden, layers } = RATE_SHAPE;
  const spec = sirenSpec(hidden, layers, 10);
  const model = await engine.open(spec, initParameters(spec, 0), {
    series: syntheticSeries(FRAMES, cells), scaling: { frames: FRAMES, tPeriod: 1, xyPeriod: 1 }, batch, adam: REFERENCE_ADAM,
  });
  try {
    const sampler = new FrameSampler(FRAMES, batch);
    const rng = new Rng(2);
    const perStep = (await timedChunk(model, sampler, rng, WARMUP_STEPS)) / WARMUP_STEPS;
    const chunk = Math.max(1, Math.min(64, Math.round(CHUNK_SECONDS / Math.max(perStep, 1e-6))));
    let steps = 0, seconds = 0;
    while (seconds < RATE_TARGET_SECONDS) {
      seconds += await timedChunk(model, sampler, rng, chunk);
      steps += chunk;
    }
    const flopsPerSecond = (steps * batch * cells * flopsPerPoint(spec)) / seconds;
    return { flopsPerSecond, threads: engine.threads, isa: engine.isa, steps, seconds };
  } finally {
    await model.dispose();
  }
}
