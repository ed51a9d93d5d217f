import type { EngineEvaluation } from './engine.js';
import { INPUT_DIMS, assembleFrameRange, type InputScaling } from './batches.js';
import { metricsOf, mergeSums, emptySums, sumsOf, type Metrics } from './metrics.js';
import { DIMS, type CellSeries } from '../data/series.js';

/**
 * The reference's evaluation: predict every frame, then the metrics of the
 * flattened ground truth and prediction (docs/reference.md, Metrics). An
 * engine predicts `chunkFrames` frames at a time and reduces each chunk to
 * float64 sums where its data lives; the trainer turns the sums into metrics.
 */
export interface Evaluation {
  metrics: Metrics;
  /** Mean squared error of each frame over its cells and components. */
  frameMse: Float64Array;
  /** (frames, cells, 3), the same layout as the series' velocity, when asked for. */
  pred?: Float32Array;
}

export function evaluationOf(e: EngineEvaluation): Evaluation {
  return { metrics: metricsOf(e.sums), frameMse: e.frameMse, pred: e.pred };
}

/** Frames per engine call: enough points to keep an engine busy, at least one frame. */
export function evalChunkFrames(cells: number, frames: number, minPoints = 32768): number {
  return Math.max(1, Math.min(frames, Math.ceil(minPoints / cells)));
}

export type PredictFn = (inputs: Float32Array, points: number, out: Float32Array) => void | Promise<void>;

/**
 * An evaluation for engines that predict host arrays (the cpu engine, the
 * test engines): inputs are assembled here, chunk by chunk, and reduced in
 * float64. `pred` receives the predictions, or only the current chunk's
 * when the caller does not want them kept.
 */
export async function evaluateOnHost(
  predict: PredictFn,
  series: CellSeries,
  scaling: InputScaling,
  chunkFrames: number,
  withPred: boolean,
): Promise<EngineEvaluation> {
  const { frames, cells, vel } = series;
  const perFrame = cells * DIMS;
  const inputs = new Float32Array(chunkFrames * cells * INPUT_DIMS);
  const pred = new Float32Array(withPred ? frames * perFrame : chunkFrames * perFrame);
  const frameMse = new Float64Array(frames);
  let sums = emptySums();
  for (let first = 0; first < frames; first += chunkFrames) {
    const count = Math.min(chunkFrames, frames - first);
    const points = assembleFrameRange(series, first, count, scaling, inputs);
    const start = first * perFrame;
    const base = withPred ? start : 0;
    const out = pred.subarray(base, base + points * DIMS);
    await predict(inputs, points, out);
    const truth = vel.subarray(start, start + points * DIMS);
    sums = mergeSums(sums, sumsOf(truth, out));
    for (let f = 0; f < count; f++) {
      let s = 0;
      for (let i = f * perFrame; i < (f + 1) * perFrame; i++) {
        const e = out[i] - truth[i];
        s += e * e;
      }
      frameMse[first + f] = s / perFrame;
    }
  }
  return { sums, frameMse, ...(withPred ? { pred } : {}) };
}
