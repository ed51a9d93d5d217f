import { nativeAddon, type IsaName } from '../../src/native/addon.js';
import { CpuEngine } from '../../src/inr/engines/cpu.js';
import type { SirenSpec } from '../../src/inr/spec.js';
import { REFERENCE_ADAM, type EngineModel } from '../../src/inr/engine.js';
import { assembleInputs, type InputScaling } from '../../src/inr/batches.js';
import type { CellSeries } from '../../src/data/series.js';
import { Rng } from '../../src/util/rng.js';

/** Every kernel path this CPU can run, best first (an AVX-512 machine tests three, an arm64 one two). */
export function availableIsas(): IsaName[] {
  return [...nativeAddon().isas];
}

export function cpuEngine(isa: IsaName, threads = 2): CpuEngine {
  return new CpuEngine({ isa, threads });
}

/** Points like the trainer's: (t, x, y, z) in [0, 1), targets of the given amplitude. */
export function randomBatch(spec: SirenSpec, points: number, seed: number, amplitude = 0.5): { inputs: Float32Array; targets: Float32Array } {
  const rng = new Rng(seed);
  const inputs = new Float32Array(points * spec.inputs);
  for (let i = 0; i < inputs.length; i++) inputs[i] = rng.uniform();
  const targets = new Float32Array(points * spec.outputs);
  for (let i = 0; i < targets.length; i++) targets[i] = (2 * rng.uniform() - 1) * amplitude;
  return { inputs, targets };
}

/** Largest |a - b| over all tensors, and the largest |b| (the scale it is judged against). */
export function maxDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): { diff: number; scale: number } {
  let diff = 0, scale = 0;
  a.forEach((t, k) => {
    for (let i = 0; i < t.length; i++) {
      diff = Math.max(diff, Math.abs(t[i] - b[k][i]));
      scale = Math.max(scale, Math.abs(b[k][i]));
    }
  });
  return { diff, scale };
}

/** Cosine annealing from lr to 0.01 lr over `total` steps (the reference's schedule). */
export function cosineLr(lr: number, step: number, total: number): number {
  const min = 0.01 * lr;
  return min + 0.5 * (lr - min) * (1 + Math.cos((Math.PI * step) / total));
}

export function sameBits(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * One step's batch as the engines see it: a series of `frames` frames with
 * `points` cells each (positions in [0, 1), velocities of the given
 * amplitude), the step drawing frame 1, and the inputs and targets the
 * trainer assembles for it (t = 1 / frames, xyz = pos), for the float64 reference.
 */
export interface FrameBatch {
  series: CellSeries;
  ids: Int32Array;
  inputs: Float32Array;
  targets: Float32Array;
  points: number;
}

export const UNIT_SCALING = (frames: number): InputScaling => ({ frames, tPeriod: 1, xyPeriod: 1 });

export function frameBatch(points: number, seed: number, amplitude = 0.5, frames = 3): FrameBatch {
  const rng = new Rng(seed);
  const pos = new Float32Array(frames * points * 3);
  const vel = new Float32Array(frames * points * 3);
  for (let i = 0; i < pos.length; i++) pos[i] = rng.uniform();
  for (let i = 0; i < vel.length; i++) vel[i] = (2 * rng.uniform() - 1) * amplitude;
  const series: CellSeries = { frames, cells: points, pos, vel, extras: {} };
  return withInputs(series, Int32Array.of(1));
}

/** The inputs and targets of `ids` (after an edit of the series' velocities, say). */
export function withInputs(series: CellSeries, ids: Int32Array): FrameBatch {
  const points = ids.length * series.cells;
  const inputs = new Float32Array(points * 4), targets = new Float32Array(points * 3);
  assembleInputs(series, ids, ids.length, UNIT_SCALING(series.frames), inputs, targets);
  return { series, ids, inputs, targets, points };
}

export function openCpu(isa: IsaName, spec: SirenSpec, params: Float32Array[], series: CellSeries, batch = 1, threads = 2): Promise<EngineModel> {
  return cpuEngine(isa, threads).open(spec, params, { series, scaling: UNIT_SCALING(series.frames), batch, adam: REFERENCE_ADAM });
}

/**
 * An engine's loss and gradients for the frames `ids`, read through the
 * public interface: one Adam step at learning rate 0 from zero moments leaves
 * the parameters as they are and m = (1 - beta1) clip g, with
 * clip = min(1, clipNorm / (norm + 1e-6)) from the returned norm.
 */
export async function gradientsByAdam(model: EngineModel, ids: Int32Array): Promise<{ loss: number; gradNorm: number; grads: Float32Array[] }> {
  const zero = (await model.getParameters()).map((p) => new Float32Array(p.length));
  await model.setOptimizerState({ step: 0, m: zero, v: zero.map((z) => z.slice()) });
  const r = await model.trainChunk(ids, Float64Array.of(0));
  const gradNorm = r.gradNorms[0];
  const clip = Math.min(1, REFERENCE_ADAM.clipNorm / (gradNorm + 1e-6));
  const { m } = await model.getOptimizerState();
  const grads = m.map((t) => Float32Array.from(t, (x) => x / ((1 - REFERENCE_ADAM.beta1) * clip)));
  return { loss: r.losses[0], gradNorm, grads };
}
