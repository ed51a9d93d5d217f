import type { AdamSettings, ChunkResult, Engine, EngineEvaluation, EngineModel, EngineRecord, OptimizerState, TrainingData } from '../../src/inr/engine.js';
import { INPUT_DIMS, assembleInputs } from '../../src/inr/batches.js';
import { evalChunkFrames, evaluateOnHost } from '../../src/inr/evaluate.js';
import type { SirenSpec } from '../../src/inr/spec.js';
import { DIMS } from '../../src/data/series.js';

export interface StepResult {
  loss: number;
  gradNorm: number;
}

/** A model that trains one step of host arrays at a time: the shape of the float64 reference. */
export interface StepModel {
  trainStep(inputs: Float32Array, targets: Float32Array, points: number, lr: number, adam: AdamSettings): StepResult;
  predict(inputs: Float32Array, points: number, out: Float32Array): void;
  getParameters(): Float32Array[];
  setParameters(params: Float32Array[]): void;
  getOptimizerState(): OptimizerState;
  setOptimizerState(s: OptimizerState): void;
}

/**
 * The engine interface over a step-at-a-time model: batches are assembled
 * here with the trainer's own assembleInputs, so a test engine sees exactly
 * the points the native engines assemble for themselves.
 */
export class StepwiseEngine implements Engine {
  constructor(readonly name: string, private readonly make: (spec: SirenSpec, params: Float32Array[]) => StepModel) {}
  get record(): EngineRecord {
    return { name: this.name, threads: 1 };
  }
  async open(spec: SirenSpec, params: Float32Array[], data: TrainingData): Promise<StepwiseModel> {
    return new StepwiseModel(spec, this.make(spec, params), data);
  }
  async close(): Promise<void> {}
}

export class StepwiseModel implements EngineModel {
  private readonly inputs: Float32Array;
  private readonly targets: Float32Array;

  constructor(readonly spec: SirenSpec, readonly inner: StepModel, private readonly data: TrainingData) {
    const points = data.batch * data.series.cells;
    this.inputs = new Float32Array(points * INPUT_DIMS);
    this.targets = new Float32Array(points * DIMS);
  }

  async trainChunk(frames: Int32Array, lrs: Float64Array): Promise<ChunkResult> {
    const { series, scaling, batch, adam } = this.data;
    const losses = new Float64Array(lrs.length), gradNorms = new Float64Array(lrs.length);
    for (let k = 0; k < lrs.length; k++) {
      const points = assembleInputs(series, frames.subarray(k * batch, (k + 1) * batch), batch, scaling, this.inputs, this.targets);
      const r = this.inner.trainStep(this.inputs, this.targets, points, lrs[k], adam);
      losses[k] = r.loss;
      gradNorms[k] = r.gradNorm;
    }
    return { losses, gradNorms };
  }

  evaluate(withPred: boolean): Promise<EngineEvaluation> {
    const { series, scaling } = this.data;
    return evaluateOnHost((x, n, out) => this.inner.predict(x, n, out), series, scaling, evalChunkFrames(series.cells, series.frames), withPred);
  }

  async getParameters(): Promise<Float32Array[]> {
    return this.inner.getParameters();
  }
  async setParameters(p: Float32Array[]): Promise<void> {
    this.inner.setParameters(p);
  }
  async getOptimizerState(): Promise<OptimizerState> {
    return this.inner.getOptimizerState();
  }
  async setOptimizerState(s: OptimizerState): Promise<void> {
    this.inner.setOptimizerState(s);
  }
  async dispose(): Promise<void> {}
}
