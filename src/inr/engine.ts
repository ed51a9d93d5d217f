import type { SirenSpec } from './spec.js';

/**
 * The one interface between the trainer and a numeric engine (the native CPU
 * engine today, a GPU engine later). The trainer never names an engine's
 * internals; an engine knows nothing of studies, data sets or files.
 *
 * Layouts: points are rows. `inputs` is (points, 4) float32 row-major
 * (t, x, y, z); `targets` and predictions are (points, 3). Parameters are the
 * reference's tensors in `parameterTensors(spec)` order, weights [out, in].
 */
export interface Engine {
  readonly name: string;
  /** Worker threads this engine computes with. */
  readonly threads: number;
  /** A model with the given parameters; `maxPoints` bounds the points of any one call. */
  createModel(spec: SirenSpec, params: Float32Array[], maxPoints: number): EngineModel;
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

export interface StepResult {
  /** Mean squared error over all points and components, before the update. */
  loss: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
}

export interface OptimizerState {
  /** Adam steps taken so far (the bias corrections use it). */
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export interface EngineModel {
  readonly spec: SirenSpec;
  /**
   * One step: forward, MSE, backward, global-norm clipping, then Adam at
   * learning rate `lr` (the caller owns the schedule).
   */
  trainStep(inputs: Float32Array, targets: Float32Array, points: number, lr: number, adam: AdamSettings): StepResult;
  /** Predictions for `points` inputs into `out` (points, 3). */
  predict(inputs: Float32Array, points: number, out: Float32Array): void;
  /** Loss and gradients without any update (for checks and finite differences). */
  gradients(inputs: Float32Array, targets: Float32Array, points: number): { loss: number; grads: Float32Array[] };
  getParameters(): Float32Array[];
  setParameters(params: Float32Array[]): void;
  getOptimizerState(): OptimizerState;
  setOptimizerState(state: OptimizerState): void;
  /** Release native memory now rather than at garbage collection. */
  dispose(): void;
}
