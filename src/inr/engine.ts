import type { CellSeries } from '../data/series.js';
import type { InputScaling } from './batches.js';
import type { MetricSums } from './metrics.js';
import type { SirenSpec } from './spec.js';

/**
 * The one interface between the trainer and a numeric engine: the native CPU
 * engine (src/inr/engines/cpu.ts) or the PyTorch worker (torch.ts). The
 * trainer never names an engine's internals; an engine knows nothing of
 * studies or files.
 *
 * The engine owns the data of a run: the series is handed over once, when the
 * model is opened, and stays where the engine computes (host memory, a GPU).
 * The trainer decides everything random or scheduled (which frames each step
 * draws, each step's learning rate) and hands the engine a chunk of steps at
 * a time, so every engine trains on exactly the same batches and a device
 * never waits on the host inside a chunk. Every call is asynchronous and the
 * calls on one model are made one at a time.
 *
 * Parameters are the reference's tensors in `parameterTensors(spec)` order,
 * weights [out, in], float32.
 */
export interface Engine {
  readonly name: string;
  /** What run.json records about the engine (threads, kernel path, device, precision, versions). */
  readonly record: EngineRecord;
  open(spec: SirenSpec, params: Float32Array[], data: TrainingData): Promise<EngineModel>;
  /** Release what the engine holds (a worker process, a thread pool). Idempotent. */
  close(): Promise<void>;
}

export type EngineRecord = { name: string; threads?: number } & Record<string, string | number | boolean | null | undefined>;

export interface TrainingData {
  series: CellSeries;
  scaling: InputScaling;
  /** Frames per training step. */
  batch: number;
  adam: AdamSettings;
}

export interface AdamSettings {
  beta1: number;
  beta2: number;
  eps: number;
  /** Global L2 norm that the gradients are clipped to before the update. */
  clipNorm: number;
}

/** The reference's Adam (PyTorch defaults) with clipping at 1.0. */
export const REFERENCE_ADAM: AdamSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 1.0 };

/** The most steps in one `trainChunk` call (engines size their buffers by it). */
export const MAX_CHUNK_STEPS = 8192;

/** Points of one evaluation chunk an engine predicts at a time, at most (a device keeps these activations). */
export const EVAL_CHUNK_POINTS = 65536;

export interface ChunkResult {
  /** Each step's mean squared error over all points and components, before its update. */
  losses: Float64Array;
  /** Each step's global L2 gradient norm before clipping. */
  gradNorms: Float64Array;
}

export interface OptimizerState {
  /** Adam steps taken so far (the bias corrections use it). */
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** An evaluation on every frame of the series, computed where the data lives. */
export interface EngineEvaluation {
  /** The float64 sums behind R², slope and MSE (see metrics.ts). */
  sums: MetricSums;
  /** Mean squared error of each frame over its cells and components. */
  frameMse: Float64Array;
  /** (frames, cells, 3) predictions, only when asked for. */
  pred?: Float32Array;
}

export interface EngineModel {
  readonly spec: SirenSpec;
  /**
   * `lrs.length` (at most MAX_CHUNK_STEPS) steps in a row. Step k trains on every cell of the frames
   * `frames[k * batch .. (k + 1) * batch)`: forward, MSE, backward, global-norm
   * clipping, then Adam at learning rate `lrs[k]`.
   */
  trainChunk(frames: Int32Array, lrs: Float64Array): Promise<ChunkResult>;
  /** Predict every frame; the predictions come back only with `withPred`. */
  evaluate(withPred: boolean): Promise<EngineEvaluation>;
  getParameters(): Promise<Float32Array[]>;
  setParameters(params: Float32Array[]): Promise<void>;
  getOptimizerState(): Promise<OptimizerState>;
  setOptimizerState(state: OptimizerState): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * An engine failed in a way the run can recover from by resuming (its worker
 * process died): the trainer keeps the last checkpoint instead of committing a
 * failed run.
 */
export class EngineLost extends Error {
  override name = 'EngineLost';
}
