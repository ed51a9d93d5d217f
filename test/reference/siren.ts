import type { AdamSettings, OptimizerState } from '../../src/inr/engine.js';
import { parameterTensors, tensorSize, type SirenSpec } from '../../src/inr/spec.js';
import { StepwiseEngine, type StepModel, type StepResult } from '../helpers/stepwise.js';

/**
 * A plain float64 SIREN written for tests: one point at a time, every formula
 * spelled out, no blocking, no threads. The native engine must agree with it
 * to float32 rounding; the trainer's own tests may run on it directly.
 * Parameters and Adam moments are float64 inside and float32 at the interface.
 */
export class ReferenceEngine extends StepwiseEngine {
  constructor() {
    super('reference-f64', (spec, params) => new ReferenceModel(spec, params));
  }
}

export class ReferenceModel implements StepModel {
  params: Float64Array[];
  m: Float64Array[];
  v: Float64Array[];
  step = 0;

  constructor(readonly spec: SirenSpec, params: Float32Array[]) {
    const shapes = parameterTensors(spec);
    if (params.length !== shapes.length) throw new Error('wrong number of parameter tensors');
    this.params = params.map((p, k) => {
      if (p.length !== tensorSize(shapes[k])) throw new Error(`${shapes[k].name}: wrong size`);
      return Float64Array.from(p);
    });
    this.m = this.params.map((p) => new Float64Array(p.length));
    this.v = this.params.map((p) => new Float64Array(p.length));
  }

  /** Forward one point, keeping every pre-activation z (for backward). */
  private forward(x: ArrayLike<number>): { acts: Float64Array[]; zs: Float64Array[]; y: Float64Array } {
    const { hidden: h, layers, outputs, omega } = this.spec;
    const acts: Float64Array[] = [Float64Array.from(x)];
    const zs: Float64Array[] = [];
    for (let l = 0; l <= layers; l++) {
      const W = this.params[2 * l], b = this.params[2 * l + 1], a = acts[l];
      const z = new Float64Array(h), next = new Float64Array(h);
      for (let o = 0; o < h; o++) {
        let s = b[o];
        for (let i = 0; i < a.length; i++) s += W[o * a.length + i] * a[i];
        z[o] = s;
        next[o] = Math.sin(omega * s);
      }
      zs.push(z);
      acts.push(next);
    }
    const W = this.params[2 * layers + 2], b = this.params[2 * layers + 3], a = acts[layers + 1];
    const y = new Float64Array(outputs);
    for (let o = 0; o < outputs; o++) {
      let s = b[o];
      for (let i = 0; i < h; i++) s += W[o * h + i] * a[i];
      y[o] = s;
    }
    return { acts, zs, y };
  }

  /** Loss and float64 gradients of the mean squared error over all points and components. */
  lossAndGrads(inputs: Float32Array, targets: Float32Array, points: number): { loss: number; grads: Float64Array[] } {
    const { hidden: h, layers, outputs, omega, inputs: nin } = this.spec;
    const grads = this.params.map((p) => new Float64Array(p.length));
    let sse = 0;
    const scale = 2 / (points * outputs);
    for (let n = 0; n < points; n++) {
      const { acts, zs, y } = this.forward(inputs.subarray(n * nin, (n + 1) * nin));
      const dy = new Float64Array(outputs);
      for (let o = 0; o < outputs; o++) {
        const e = y[o] - targets[n * outputs + o];
        sse += e * e;
        dy[o] = scale * e;
      }
      // Output layer.
      let Wl = this.params[2 * layers + 2];
      const gW = grads[2 * layers + 2], gb = grads[2 * layers + 3];
      let da = new Float64Array(h);
      for (let o = 0; o < outputs; o++) {
        gb[o] += dy[o];
        for (let i = 0; i < h; i++) {
          gW[o * h + i] += dy[o] * acts[layers + 1][i];
          da[i] += Wl[o * h + i] * dy[o];
        }
      }
      // Sine layers, last to first: d/dz sin(omega z) = omega cos(omega z).
      for (let l = layers; l >= 0; l--) {
        Wl = this.params[2 * l];
        const a = acts[l], fan = a.length;
        const dz = new Float64Array(h);
        for (let o = 0; o < h; o++) dz[o] = da[o] * omega * Math.cos(omega * zs[l][o]);
        const prev = new Float64Array(fan);
        for (let o = 0; o < h; o++) {
          grads[2 * l + 1][o] += dz[o];
          for (let i = 0; i < fan; i++) {
            grads[2 * l][o * fan + i] += dz[o] * a[i];
            prev[i] += Wl[o * fan + i] * dz[o];
          }
        }
        da = prev;
      }
    }
    return { loss: sse / (points * outputs), grads };
  }

  gradients(inputs: Float32Array, targets: Float32Array, points: number): { loss: number; grads: Float32Array[] } {
    const { loss, grads } = this.lossAndGrads(inputs, targets, points);
    return { loss, grads: grads.map((g) => Float32Array.from(g)) };
  }

  trainStep(inputs: Float32Array, targets: Float32Array, points: number, lr: number, adam: AdamSettings): StepResult {
    const { loss, grads } = this.lossAndGrads(inputs, targets, points);
    let sq = 0;
    for (const g of grads) for (const x of g) sq += x * x;
    const gradNorm = Math.sqrt(sq);
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6), never above 1.
    const clip = Math.min(1, adam.clipNorm / (gradNorm + 1e-6));
    this.step++;
    const c1 = 1 - adam.beta1 ** this.step, c2 = 1 - adam.beta2 ** this.step;
    grads.forEach((g, k) => {
      const p = this.params[k], m = this.m[k], v = this.v[k];
      for (let i = 0; i < g.length; i++) {
        const gi = g[i] * clip;
        m[i] = adam.beta1 * m[i] + (1 - adam.beta1) * gi;
        v[i] = adam.beta2 * v[i] + (1 - adam.beta2) * gi * gi;
        // torch.optim.Adam: p -= (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps)
        p[i] -= (lr / c1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(c2) + adam.eps));
      }
    });
    return { loss, gradNorm };
  }

  predict(inputs: Float32Array, points: number, out: Float32Array): void {
    const { inputs: nin, outputs } = this.spec;
    for (let n = 0; n < points; n++) {
      const { y } = this.forward(inputs.subarray(n * nin, (n + 1) * nin));
      for (let o = 0; o < outputs; o++) out[n * outputs + o] = y[o];
    }
  }

  getParameters(): Float32Array[] {
    return this.params.map((p) => Float32Array.from(p));
  }
  setParameters(params: Float32Array[]): void {
    this.params = params.map((p) => Float64Array.from(p));
  }
  getOptimizerState(): OptimizerState {
    return { step: this.step, m: this.m.map((a) => Float32Array.from(a)), v: this.v.map((a) => Float32Array.from(a)) };
  }
  setOptimizerState(s: OptimizerState): void {
    this.step = s.step;
    this.m = s.m.map((a) => Float64Array.from(a));
    this.v = s.v.map((a) => Float64Array.from(a));
  }
}

/** d loss / d parameter by float64 central differences on the reference model: the yardstick of every engine's gradients. */
export function finiteDifferences(spec: SirenSpec, params: Float32Array[], batch: { inputs: Float32Array; targets: Float32Array; points: number }): Float64Array[] {
  const ref = new ReferenceModel(spec, params);
  const h = 1e-6;
  const loss = (): number => ref.lossAndGrads(batch.inputs, batch.targets, batch.points).loss;
  return ref.params.map((p) => {
    const g = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const keep = p[i];
      p[i] = keep + h;
      const up = loss();
      p[i] = keep - h;
      const down = loss();
      p[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  });
}
