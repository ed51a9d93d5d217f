import type { EngineModel } from './engine.js';
import { INPUT_DIMS, assembleFrameRange, type InputScaling } from './batches.js';
import { MetricsAccumulator, type Metrics } from './metrics.js';
import { DIMS, type CellSeries } from '../data/series.js';

/**
 * The reference's evaluation: predict every frame, then the metrics of the
 * flattened ground truth and prediction (reference-facts §3). Frames go through
 * the engine `chunkFrames` at a time; the metrics and the per-frame MSE are
 * accumulated chunk by chunk in float64.
 */
export interface Evaluation {
  metrics: Metrics;
  /** Mean squared error of each frame over its cells and components. */
  frameMse: Float64Array;
  /** (frames, cells, 3), the same layout as the series' velocity. */
  pred: Float32Array;
}

export interface EvalBuffers {
  /** At least chunkFrames * cells * 4 floats. */
  inputs: Float32Array;
  /** frames * cells * 3 floats; overwritten and returned as `pred`. */
  pred: Float32Array;
}

/** Frames per engine call: enough points to keep an engine busy, at least one frame. */
export function evalChunkFrames(cells: number, frames: number, minPoints = 32768): number {
  return Math.max(1, Math.min(frames, Math.ceil(minPoints / cells)));
}

export function allocEvalBuffers(series: CellSeries, chunkFrames: number): EvalBuffers {
  return {
    inputs: new Float32Array(chunkFrames * series.cells * INPUT_DIMS),
    pred: new Float32Array(series.frames * series.cells * DIMS),
  };
}

export function evaluate(
  model: EngineModel,
  series: CellSeries,
  scaling: InputScaling,
  chunkFrames: number,
  buffers: EvalBuffers = allocEvalBuffers(series, chunkFrames),
): Evaluation {
  const { frames, cells, vel } = series;
  const { inputs, pred } = buffers;
  const frameMse = new Float64Array(frames);
  const acc = new MetricsAccumulator();
  const perFrame = cells * DIMS;
  for (let first = 0; first < frames; first += chunkFrames) {
    const count = Math.min(chunkFrames, frames - first);
    const points = assembleFrameRange(series, first, count, scaling, inputs);
    const start = first * perFrame, end = start + points * DIMS;
    model.predict(inputs, points, pred.subarray(start, end));
    acc.add(vel, pred, start, end);
    for (let f = first; f < first + count; f++) {
      let s = 0;
      for (let i = f * perFrame; i < (f + 1) * perFrame; i++) {
        const e = pred[i] - vel[i];
        s += e * e;
      }
      frameMse[f] = s / perFrame;
    }
  }
  return { metrics: acc.result(), frameMse, pred };
}
