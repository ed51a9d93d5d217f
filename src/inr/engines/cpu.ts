import type { AdamSettings, Engine, EngineModel, OptimizerState, StepResult } from '../engine.js';
import { parameterCount, parameterTensors, tensorSize, type ParamTensor, type SirenSpec } from '../spec.js';
import { nativeAddon, type CpuEngineNative, type IsaName, type SirenCpuModelNative } from '../../native/addon.js';

export type { IsaName } from '../../native/addon.js';

export interface CpuEngineOptions {
  /** Worker threads (default: all cores). Results are bit-identical for a given thread count. */
  threads?: number;
  /** Force a kernel path (default: INRSCAPE_ISA, else the best this CPU runs). */
  isa?: IsaName;
}

/**
 * The native CPU engine (native/engine): fp32 SIREN training with fused
 * sine-layer GEMMs, a fused Adam update and a persistent thread pool.
 */
export class CpuEngine implements Engine {
  readonly name = 'cpu';
  readonly threads: number;
  /** The ISA path the kernels take, for run records. */
  readonly isa: IsaName;
  private readonly native: CpuEngineNative;

  constructor(opts: CpuEngineOptions = {}) {
    const { threads, isa } = opts;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
      throw new RangeError(`threads must be a positive integer (got ${threads})`);
    }
    const addon = nativeAddon();
    this.native = new addon.CpuEngine(threads, isa);
    this.threads = this.native.threads;
    this.isa = this.native.isa;
  }

  createModel(spec: SirenSpec, params: Float32Array[], maxPoints: number): CpuModel {
    if (!(Number.isInteger(maxPoints) && maxPoints >= 1)) throw new RangeError(`maxPoints must be a positive integer (got ${maxPoints})`);
    return new CpuModel(spec, new (nativeAddon().SirenCpuModel)(this.native, { ...spec }, maxPoints), params);
  }
}

export class CpuModel implements EngineModel {
  private readonly tensors: ParamTensor[];
  private readonly count: number;
  private readonly stats = new Float64Array(2);
  private native: SirenCpuModelNative | undefined;

  constructor(readonly spec: SirenSpec, native: SirenCpuModelNative, params: Float32Array[]) {
    this.tensors = parameterTensors(spec);
    this.count = parameterCount(spec);
    if (native.parameterCount !== this.count) throw new Error('native model and spec disagree on the parameter count');
    this.native = native;
    this.setParameters(params);
  }

  private get model(): SirenCpuModelNative {
    if (!this.native) throw new Error('the model was disposed');
    return this.native;
  }

  private checkPoints(inputs: Float32Array, targets: Float32Array | null, points: number): void {
    if (inputs.length < points * this.spec.inputs) throw new RangeError(`inputs hold fewer than ${points} points`);
    if (targets && targets.length < points * this.spec.outputs) throw new RangeError(`targets hold fewer than ${points} points`);
  }

  trainStep(inputs: Float32Array, targets: Float32Array, points: number, lr: number, adam: AdamSettings): StepResult {
    this.checkPoints(inputs, targets, points);
    this.model.trainStep(inputs, targets, points, lr, adam.beta1, adam.beta2, adam.eps, adam.clipNorm, this.stats);
    return { loss: this.stats[0], gradNorm: this.stats[1] };
  }

  predict(inputs: Float32Array, points: number, out: Float32Array): void {
    this.checkPoints(inputs, null, points);
    if (out.length < points * this.spec.outputs) throw new RangeError(`out holds fewer than ${points} points`);
    this.model.predict(inputs, points, out);
  }

  gradients(inputs: Float32Array, targets: Float32Array, points: number): { loss: number; grads: Float32Array[] } {
    this.checkPoints(inputs, targets, points);
    const flat = new Float32Array(this.count);
    const loss = this.model.gradients(inputs, targets, points, flat);
    return { loss, grads: this.split(flat) };
  }

  getParameters(): Float32Array[] {
    const flat = new Float32Array(this.count);
    this.model.getParameters(flat);
    return this.split(flat);
  }

  setParameters(params: Float32Array[]): void {
    this.model.setParameters(this.join(params, 'parameters'));
  }

  getOptimizerState(): OptimizerState {
    const m = new Float32Array(this.count), v = new Float32Array(this.count);
    const step = this.model.getOptimizerState(m, v);
    return { step, m: this.split(m), v: this.split(v) };
  }

  setOptimizerState(state: OptimizerState): void {
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`optimizer step must be a non-negative integer (got ${state.step})`);
    this.model.setOptimizerState(state.step, this.join(state.m, 'm'), this.join(state.v, 'v'));
  }

  dispose(): void {
    this.native?.dispose();
    this.native = undefined;
  }

  /** Copies of each tensor of a flat array, in parameterTensors order. */
  private split(flat: Float32Array): Float32Array[] {
    let off = 0;
    return this.tensors.map((t) => {
      const n = tensorSize(t);
      const a = flat.slice(off, off + n);
      off += n;
      return a;
    });
  }

  private join(arrays: Float32Array[], what: string): Float32Array {
    if (arrays.length !== this.tensors.length) {
      throw new RangeError(`${what}: expected ${this.tensors.length} tensors, got ${arrays.length}`);
    }
    const flat = new Float32Array(this.count);
    let off = 0;
    this.tensors.forEach((t, k) => {
      const n = tensorSize(t);
      if (arrays[k].length !== n) throw new RangeError(`${what}: ${t.name} needs ${n} values, got ${arrays[k].length}`);
      flat.set(arrays[k], off);
      off += n;
    });
    return flat;
  }
}
