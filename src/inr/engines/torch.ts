import type { Precision } from '../../config/engine.js';
import { UserError } from '../../util/errors.js';
import {
  EVAL_CHUNK_POINTS, EngineLost, MAX_CHUNK_STEPS, type ChunkResult, type Engine, type EngineEvaluation, type EngineModel, type EngineRecord, type OptimizerState, type TrainingData,
} from '../engine.js';
import type { MetricSums } from '../metrics.js';
import { joinTensors, parameterTensors, splitTensors, type ParamTensor, type SirenSpec } from '../spec.js';
import { PROTOCOL_VERSION, TorchWorker, WorkerExit, WorkerFailure, type Header, type Message } from './torch-worker.js';
import { estimateMemory, formatBytes } from './torch-memory.js';

export interface TorchEngineOptions {
  /** The Python with torch (default: INRSCAPE_PYTHON, else python3 from PATH). */
  python?: string;
  /** auto | cpu | cuda | cuda:N | mps (default auto: CUDA, else MPS, else CPU). */
  device?: string;
  precision?: Precision;
  /** Torch's CPU threads (intra-op), when it computes on the CPU. */
  threads?: number;
  /** Where the worker's stderr lines go (default: this process's stderr). */
  onStderr?: (line: string) => void;
  /** What to call the settings in error messages (`--python` on a command line, `engine.python` in a file). */
  names?: { python?: string; device?: string };
}

export function defaultPython(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.INRSCAPE_PYTHON;
  return p !== undefined && p.trim() !== '' ? p : 'python3';
}

/**
 * The torch engine: a PyTorch worker process (python/inrscape_torch/) that
 * holds the data set and the model on its device (CUDA with the whole step
 * captured as a CUDA graph; MPS and CPU eager) and trains the chunks of steps
 * the trainer hands it. Same init, batches, loss, clipping, Adam and metrics
 * as the cpu engine.
 */
export class TorchEngine implements Engine {
  readonly name = 'torch';
  private constructor(private readonly worker: TorchWorker, private readonly info: Header, private readonly opts: Required<Pick<TorchEngineOptions, 'python' | 'precision'>>) {}

  /** Start the worker, check its protocol and torch, and pick the device; every failure is one clear error. */
  static async start(opts: TorchEngineOptions = {}): Promise<TorchEngine> {
    const python = opts.python ?? defaultPython();
    const precision = opts.precision ?? 'fp32';
    const device = opts.device ?? 'auto';
    const pyName = opts.names?.python ?? 'engine.python';
    const devName = opts.names?.device ?? 'engine.device';
    let worker: TorchWorker;
    try {
      worker = await TorchWorker.start({ python, onStderr: opts.onStderr ?? ((l) => process.stderr.write(`${l}\n`)) });
    } catch (err) {
      if (err instanceof WorkerExit && err.spawnError?.code === 'ENOENT') {
        throw new UserError(`${pyName} = ${python}: not found; name a Python 3 with torch by --python, INRSCAPE_PYTHON or engine.python`);
      }
      if (err instanceof WorkerExit && err.spawnError?.code === 'EACCES') throw new UserError(`${pyName} = ${python}: not executable`);
      throw new UserError(`${pyName} = ${python}: could not start the torch worker (${(err as Error).message})`);
    }
    const hello = worker.hello;
    if (hello.protocol !== PROTOCOL_VERSION) {
      await worker.stop();
      throw new UserError(`the torch worker run by ${python} speaks engine protocol ${String(hello.protocol)}, this inrscape speaks ${PROTOCOL_VERSION}: install matching versions`);
    }
    if (hello.ok !== true) {
      await worker.stop();
      const why = String(hello.message ?? 'unknown');
      if (hello.kind === 'no-torch') throw new UserError(`${pyName} = ${python}: cannot import torch (${why}); install PyTorch for it, or name another Python`);
      if (hello.kind === 'old-torch') throw new UserError(`${pyName} = ${python}: ${why}; inrscape needs torch 1.13 or newer`);
      throw new UserError(`${pyName} = ${python}: the torch worker cannot run (${why})`);
    }
    let info: Header;
    try {
      info = (await worker.request({ op: 'init', device, precision, threads: opts.threads ?? null })).header;
    } catch (err) {
      await worker.stop();
      if (err instanceof WorkerFailure) throw new UserError(`${err.kind === 'no-cuda' || err.kind === 'no-mps' ? `${devName} = ${device}` : 'engine'}: ${err.message}`);
      throw err;
    }
    return new TorchEngine(worker, { ...hello, ...info }, { python, precision });
  }

  get record(): EngineRecord {
    const i = this.info;
    return {
      name: this.name,
      threads: typeof i.threads === 'number' ? i.threads : undefined,
      // The OpenBLAS that torch reached through libblas.so.3, if any, and its threads (set to torch's).
      openblas: typeof i.openblas === 'string' ? i.openblas : null,
      openblas_threads: typeof i.openblas_threads === 'number' ? i.openblas_threads : null,
      device: String(i.device),
      device_name: String(i.device_name),
      precision: this.opts.precision,
      torch: String(i.torch),
      python: this.opts.python,
      python_version: String(i.python),
      protocol: PROTOCOL_VERSION,
    };
  }

  /** The device's memory as the worker saw it at start (bytes; null when unknown). */
  get memoryFree(): number | null {
    return typeof this.info.memory_free === 'number' ? this.info.memory_free : null;
  }

  get cudaDevices(): number {
    return typeof this.info.cuda_devices === 'number' ? this.info.cuda_devices : 0;
  }

  async open(spec: SirenSpec, params: Float32Array[], data: TrainingData): Promise<EngineModel> {
    const { series, scaling } = data;
    const need = estimateMemory(spec, series.frames, series.cells, data.batch, this.opts.precision);
    const free = this.memoryFree;
    if (free !== null && need > free) {
      throw new UserError(
        `SIREN ${spec.hidden}x${spec.layers} with ${data.batch} frames of ${series.cells} cells on ${String(this.info.device)} needs about ` +
          `${formatBytes(need)} (data set ${series.frames} frames included), but ${formatBytes(free)} is free: use fewer frames per step (inr_batch_size), a smaller hidden_dim_inr, or another device`,
      );
    }
    const tensors = parameterTensors(spec);
    const flat = joinTensors(tensors, params, 'parameters');
    await this.call({ op: 'load_series', frames: series.frames, cells: series.cells, t_period: scaling.tPeriod, xy_period: scaling.xyPeriod }, [series.pos, series.vel]);
    const opened = await this.call({ op: 'open_model', spec, batch: data.batch, adam: data.adam, max_chunk: MAX_CHUNK_STEPS, eval_points: EVAL_CHUNK_POINTS }, [flat]);
    return new TorchModel(spec, tensors, data, (h, a) => this.call(h, a), { graphs: opened.header.graphs === true, compiled: opened.header.compiled === true });
  }

  /** A request whose failures become the errors the trainer and the run folder know. */
  async call(header: Header, arrays: Parameters<TorchWorker['request']>[1] = []): Promise<Message> {
    try {
      return await this.worker.request(header, arrays);
    } catch (err) {
      if (err instanceof WorkerExit) throw new EngineLost(`${err.message}, during ${String(header.op)}`);
      if (err instanceof WorkerFailure) {
        if (err.kind === 'oom') throw new Error(`out of memory on ${String(this.info.device)}: ${err.message}`);
        if (err.kind === 'user') throw new UserError(err.message);
        throw new Error(`torch worker: ${err.message}`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.worker.stop();
  }
}

type Call = (header: Header, arrays?: Parameters<TorchWorker['request']>[1]) => Promise<Message>;

class TorchModel implements EngineModel {
  private disposed = false;

  constructor(
    readonly spec: SirenSpec,
    private readonly tensors: ParamTensor[],
    private readonly data: TrainingData,
    private readonly call: Call,
    /** How the worker runs a step (recorded by benchmarks). */
    readonly mode: { graphs: boolean; compiled: boolean },
  ) {}

  async trainChunk(frames: Int32Array, lrs: Float64Array): Promise<ChunkResult> {
    if (frames.length !== lrs.length * this.data.batch) throw new RangeError(`trainChunk: ${frames.length} frame ids for ${lrs.length} steps of ${this.data.batch}`);
    const r = await this.call({ op: 'train_chunk' }, [frames, lrs]);
    return { losses: r.arrays[0] as Float64Array, gradNorms: r.arrays[1] as Float64Array };
  }

  async evaluate(withPred: boolean): Promise<EngineEvaluation> {
    const r = await this.call({ op: 'evaluate', pred: withPred });
    const s = r.arrays[0] as Float64Array;
    const sums: MetricSums = {
      n: s[0], meanX: s[1], meanY: s[2], cxx: s[3], cyy: s[4], cxy: s[5], sse: s[6], minX: s[7], maxX: s[8], minY: s[9], maxY: s[10], nan: s[11] !== 0,
    };
    return { sums, frameMse: r.arrays[1] as Float64Array, ...(withPred ? { pred: r.arrays[2] as Float32Array } : {}) };
  }

  async getParameters(): Promise<Float32Array[]> {
    const r = await this.call({ op: 'get_parameters' });
    return splitTensors(this.tensors, r.arrays[0] as Float32Array);
  }

  async setParameters(params: Float32Array[]): Promise<void> {
    await this.call({ op: 'set_parameters' }, [joinTensors(this.tensors, params, 'parameters')]);
  }

  async getOptimizerState(): Promise<OptimizerState> {
    const r = await this.call({ op: 'get_optimizer' });
    return { step: Number(r.header.step), m: splitTensors(this.tensors, r.arrays[0] as Float32Array), v: splitTensors(this.tensors, r.arrays[1] as Float32Array) };
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`optimizer step must be a non-negative integer (got ${state.step})`);
    await this.call({ op: 'set_optimizer', step: state.step }, [joinTensors(this.tensors, state.m, 'm'), joinTensors(this.tensors, state.v, 'v')]);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.call({ op: 'close_model' });
    } catch (err) {
      if (!(err instanceof EngineLost)) throw err;
    }
  }
}
