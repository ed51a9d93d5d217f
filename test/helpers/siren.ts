import { nativeAddon, type IsaName } from '../../src/native/addon.js';
import { CpuEngine } from '../../src/inr/engines/cpu.js';
import type { SirenSpec } from '../../src/inr/spec.js';
import { Rng } from '../../src/util/rng.js';

/** Every kernel path this CPU can run, best first (AVX-512 machines test all three). */
export function availableIsas(): IsaName[] {
  const order: IsaName[] = ['avx512', 'avx2', 'scalar'];
  return order.slice(order.indexOf(nativeAddon().bestIsa));
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
