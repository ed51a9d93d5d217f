import type { ChunkResult, Engine, EngineEvaluation, EngineModel, EngineRecord, OptimizerState, TrainingData } from '../engine.js';
import { evalChunkFrames, evaluateOnHost } from '../evaluate.js';
import { joinTensors, parameterCount, parameterTensors, splitTensors, type ParamTensor, type SirenSpec } from '../spec.js';
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
 * sine-layer GEMMs, a fused Adam update and a persistent thread pool. A chunk
 * of steps runs in C++ off the JavaScript thread, inputs assembled there from
 * the series it keeps a reference to (no copy).
 */
export class CpuEngine implements Engine {
  readonly name = 'cpu';
  readonly threads: number;
  /** The ISA path the kernels take, for run records. */
  readonly isa: IsaName;
  private readonly native: CpuEngineNative;
  /** The pool runs one call at a time: models of this engine take turns. */
  private queue: Promise<unknown> = Promise.resolve();

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

  get record(): EngineRecord {
    return { name: this.name, threads: this.threads, isa: this.isa };
  }

  async open(spec: SirenSpec, params: Float32Array[], data: TrainingData): Promise<CpuModel> {
    const { series } = data;
    const chunkFrames = evalChunkFrames(series.cells, series.frames);
    const maxPoints = Math.max(data.batch * series.cells, chunkFrames * series.cells);
    const native = new (nativeAddon().SirenCpuModel)(this.native, { ...spec }, maxPoints);
    native.setSeries(series.pos, series.vel, series.frames, series.cells, data.scaling.tPeriod, data.scaling.xyPeriod);
    return new CpuModel(spec, native, params, data, chunkFrames, (job) => this.serial(job));
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

type Serial = <T>(job: () => Promise<T>) => Promise<T>;

export class CpuModel implements EngineModel {
  private readonly tensors: ParamTensor[];
  private readonly count: number;
  private native: SirenCpuModelNative | undefined;

  constructor(
    readonly spec: SirenSpec,
    native: SirenCpuModelNative,
    params: Float32Array[],
    private readonly data: TrainingData,
    private readonly chunkFrames: number,
    private readonly serial: Serial,
  ) {
    this.tensors = parameterTensors(spec);
    this.count = parameterCount(spec);
    if (native.parameterCount !== this.count) throw new Error('native model and spec disagree on the parameter count');
    this.native = native;
    this.model.setParameters(joinTensors(this.tensors, params, 'parameters'));
  }

  private get model(): SirenCpuModelNative {
    if (!this.native) throw new Error('the model was disposed');
    return this.native;
  }

  async trainChunk(frames: Int32Array, lrs: Float64Array): Promise<ChunkResult> {
    const { batch, adam } = this.data;
    if (frames.length !== lrs.length * batch) throw new RangeError(`trainChunk: ${frames.length} frame ids for ${lrs.length} steps of ${batch}`);
    return await this.serial(async () => {
      const losses = new Float64Array(lrs.length), gradNorms = new Float64Array(lrs.length);
      await this.model.trainChunk(frames, batch, lrs, adam.beta1, adam.beta2, adam.eps, adam.clipNorm, losses, gradNorms);
      return { losses, gradNorms };
    });
  }

  evaluate(withPred: boolean): Promise<EngineEvaluation> {
    const { series, scaling } = this.data;
    return this.serial(() => evaluateOnHost((x, n, out) => this.model.predict(x, n, out), series, scaling, this.chunkFrames, withPred));
  }

  async getParameters(): Promise<Float32Array[]> {
    const flat = new Float32Array(this.count);
    this.model.getParameters(flat);
    return splitTensors(this.tensors, flat);
  }

  async setParameters(params: Float32Array[]): Promise<void> {
    this.model.setParameters(joinTensors(this.tensors, params, 'parameters'));
  }

  async getOptimizerState(): Promise<OptimizerState> {
    const m = new Float32Array(this.count), v = new Float32Array(this.count);
    const step = this.model.getOptimizerState(m, v);
    return { step, m: splitTensors(this.tensors, m), v: splitTensors(this.tensors, v) };
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`optimizer step must be a non-negative integer (got ${state.step})`);
    this.model.setOptimizerState(state.step, joinTensors(this.tensors, state.m, 'm'), joinTensors(this.tensors, state.v, 'v'));
  }

  async dispose(): Promise<void> {
    // Wait for a chunk in flight: its native work reads this model.
    await this.serial(async () => {
      this.native?.dispose();
      this.native = undefined;
    });
  }
}
