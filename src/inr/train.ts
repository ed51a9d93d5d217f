import { checkBatchAgainstFrames, type InrConfig } from '../config/inr.js';
import { DIMS, type CellSeries } from '../data/series.js';
import { Rng, type RngState } from '../util/rng.js';
import { REFERENCE_ADAM, type Engine, type OptimizerState } from './engine.js';
import { FrameSampler, INPUT_DIMS, assembleInputs, type InputScaling } from './batches.js';
import { allocEvalBuffers, evalChunkFrames, evaluate, type Evaluation } from './evaluate.js';
import { cosineLr } from './schedule.js';
import { initParameters, sirenSpec, type SirenSpec } from './spec.js';

/**
 * The training loop with the reference's semantics (reference-facts §1-3):
 * the reference SIREN and init, batches of `inr_batch_size` distinct whole
 * frames, MSE, Adam with global-norm clipping at 1.0 (inside the engine), the
 * cosine schedule to 0.01 lr, an R² evaluation on all frames every
 * total_steps/10 steps, and the final evaluation on all frames.
 *
 * A pure function of (inr config, series, engine, seed, options): no files, no
 * console. Progress and checkpoints leave through callbacks; a run resumed from
 * a checkpoint state continues exactly where the original would have been
 * (same engine, same thread count): the batch Rng, the Adam moments and step,
 * the loss history and the evaluations all travel in the state.
 *
 * Training time is wall time from the start of the loop to the end of the
 * final evaluation, summed over resumed sessions.
 */

export interface TrainOptions {
  /** Stop between steps once the training time reaches this many minutes, then evaluate (time_limited). */
  maxMinutes?: number;
  /** Take a checkpoint this often (wall minutes of this session). Default 5; Infinity: never by time. */
  checkpointMinutes?: number;
  /** Also take a checkpoint every this many steps (tests; studies that want step-aligned checkpoints). */
  checkpointEverySteps?: number;
  onCheckpoint?: (state: TrainState) => void;
  /** Continue from a checkpoint state instead of a fresh network. */
  resume?: TrainState;
  /** Return `interrupted` after this many steps in all (tests: stands for a kill). */
  stopAfterSteps?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Steps between evaluations during training. Default max(1, floor(total_steps / 10)). */
  evalEvery?: number;
  /** Milliseconds; a monotonic clock (default performance.now). */
  clock?: () => number;
}

/** An evaluation on all frames, at `step` steps done. */
export interface EvalRecord {
  step: number;
  r2: number;
  mse: number;
  slope: number;
  r2_cod: number;
  /** Training time when it finished. */
  time_s: number;
}

/** Everything a run needs to continue: what a checkpoint holds. */
export interface TrainState {
  /** Steps done. */
  step: number;
  params: Float32Array[];
  optimizer: OptimizerState;
  /** The batch sampler's Rng, after `step` steps. */
  rng: RngState;
  /** The loss of every step done, length `step`. */
  losses: Float64Array;
  evaluations: EvalRecord[];
  /** Training time so far, seconds. */
  elapsedS: number;
  /** Of which spent in evaluations. */
  evalS: number;
  /** Steps at which earlier sessions resumed. */
  resumedAt: number[];
}

export type TrainPhase = 'step' | 'final-evaluation' | 'done';

export interface TrainProgress {
  phase: TrainPhase;
  step: number;
  totalSteps: number;
  /** Loss of the last step (NaN before the first). */
  loss: number;
  lr: number;
  elapsedS: number;
  /** Set when an evaluation finished with this call. */
  evaluation?: EvalRecord;
}

export type TrainStatus = 'ok' | 'failed' | 'interrupted';

export interface TrainResult {
  status: TrainStatus;
  /** Why a failed run failed, one line (e.g. `loss is NaN at step 17`). */
  reason?: string;
  spec: SirenSpec;
  totalSteps: number;
  stepsDone: number;
  timeLimited: boolean;
  losses: Float64Array;
  evaluations: EvalRecord[];
  /** The final evaluation (status ok only). */
  final?: Evaluation;
  /** Parameters at the end; with status ok, exactly those the final evaluation used. */
  params: Float32Array[];
  trainingTimeS: number;
  evalTimeS: number;
  resumedAt: number[];
}

function nonFinite(x: number): string {
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'inf' : '-inf';
}

/** The batch sampler's Rng stream; initParameters draws from another. */
export function batchRng(seed: number): Rng {
  return new Rng((seed ^ 0x62a7c4e5) >>> 0);
}

export function specOf(inr: InrConfig): SirenSpec {
  return sirenSpec(inr.hidden_dim_inr, inr.n_layers_inr, inr.omega_inr);
}

export function inputScaling(inr: InrConfig, frames: number): InputScaling {
  return { frames, tPeriod: inr.inr_t_period, xyPeriod: inr.inr_xy_period };
}

export function train(inr: InrConfig, series: CellSeries, engine: Engine, seed: number, options: TrainOptions = {}): TrainResult {
  checkBatchAgainstFrames(inr, series.frames);
  const clock = options.clock ?? (() => performance.now());
  const spec = specOf(inr);
  const total = inr.inr_total_steps;
  const batch = inr.inr_batch_size;
  const { frames, cells } = series;
  const scaling = inputScaling(inr, frames);
  const batchPoints = batch * cells;
  const chunkFrames = evalChunkFrames(cells, frames);
  const resume = options.resume;

  const params = resume ? resume.params : initParameters(spec, seed);
  const model = engine.createModel(spec, params, Math.max(batchPoints, chunkFrames * cells));
  try {
    if (resume) model.setOptimizerState(resume.optimizer);
    const rng = resume ? Rng.restore(resume.rng) : batchRng(seed);
    const sampler = new FrameSampler(frames, batch);
    const frameIds = new Int32Array(batch);
    const inputs = new Float32Array(batchPoints * INPUT_DIMS);
    const targets = new Float32Array(batchPoints * DIMS);
    const evalBuffers = allocEvalBuffers(series, chunkFrames);
    const losses = new Float64Array(total);
    const evaluations: EvalRecord[] = resume ? resume.evaluations.map((e) => ({ ...e })) : [];
    const resumedAt = resume ? [...resume.resumedAt, resume.step] : [];
    let step = resume ? resume.step : 0;
    if (resume) {
      if (resume.losses.length !== step) throw new Error(`resume state: ${resume.losses.length} losses for ${step} steps`);
      if (step > total) throw new Error(`resume state: ${step} steps done, but the run has ${total}`);
      losses.set(resume.losses);
    }
    const evalEvery = options.evalEvery ?? Math.max(1, Math.floor(total / 10));
    const budgetS = options.maxMinutes === undefined ? Infinity : options.maxMinutes * 60;
    const ckptMs = (options.checkpointMinutes ?? 5) * 60_000;
    const ckptSteps = options.checkpointEverySteps;

    const baseS = resume ? resume.elapsedS : 0;
    let evalS = resume ? resume.evalS : 0;
    const t0 = clock();
    const elapsed = (): number => baseS + (clock() - t0) / 1000;
    let lastCkpt = t0;
    let lr = cosineLr(inr.inr_learning_rate, total, step);
    let loss = step > 0 ? losses[step - 1] : NaN;

    const runEval = (): { ev: Evaluation; rec: EvalRecord } => {
      const start = clock();
      const ev = evaluate(model, series, scaling, chunkFrames, evalBuffers);
      evalS += (clock() - start) / 1000;
      const m = ev.metrics;
      return { ev, rec: { step, r2: m.r2, mse: m.mse, slope: m.slope, r2_cod: m.r2_cod, time_s: elapsed() } };
    };
    const state = (): TrainState => ({
      step,
      params: model.getParameters(),
      optimizer: model.getOptimizerState(),
      rng: rng.save(),
      losses: losses.slice(0, step),
      evaluations: evaluations.map((e) => ({ ...e })),
      elapsedS: elapsed(),
      evalS,
      resumedAt,
    });
    const result = (status: TrainStatus, extra: Partial<TrainResult> = {}): TrainResult => ({
      status,
      spec,
      totalSteps: total,
      stepsDone: step,
      timeLimited: false,
      losses: losses.slice(0, step),
      evaluations,
      params: model.getParameters(),
      trainingTimeS: elapsed(),
      evalTimeS: evalS,
      resumedAt,
      ...extra,
    });

    let timeLimited = false;
    while (step < total) {
      if (elapsed() >= budgetS) {
        timeLimited = true;
        break;
      }
      sampler.sample(rng, frameIds);
      assembleInputs(series, frameIds, batch, scaling, inputs, targets);
      lr = cosineLr(inr.inr_learning_rate, total, step);
      const r = model.trainStep(inputs, targets, batchPoints, lr, REFERENCE_ADAM);
      loss = r.loss;
      losses[step] = loss;
      step++;
      if (!Number.isFinite(loss)) return result('failed', { reason: `loss is ${nonFinite(loss)} at step ${step}` });
      if (!Number.isFinite(r.gradNorm)) return result('failed', { reason: `gradient norm is ${nonFinite(r.gradNorm)} at step ${step}` });

      let evaluation: EvalRecord | undefined;
      if (step % evalEvery === 0 && step < total) {
        evaluation = runEval().rec;
        evaluations.push(evaluation);
      }
      options.onProgress?.({ phase: 'step', step, totalSteps: total, loss, lr, elapsedS: elapsed(), evaluation });
      if (step < total && options.onCheckpoint) {
        const now = clock();
        if ((ckptSteps !== undefined && step % ckptSteps === 0) || now - lastCkpt >= ckptMs) {
          options.onCheckpoint(state());
          lastCkpt = clock();
        }
      }
      if (options.stopAfterSteps !== undefined && step >= options.stopAfterSteps && step < total) return result('interrupted');
    }

    options.onProgress?.({ phase: 'final-evaluation', step, totalSteps: total, loss, lr, elapsedS: elapsed() });
    // Evaluate on exactly the parameters that will be saved: an engine that keeps
    // more precision inside than it hands out (the float64 test engine) rounds here,
    // so a saved model always reproduces the saved predictions.
    model.setParameters(model.getParameters());
    const { ev, rec } = runEval();
    evaluations.push(rec);
    const out = result('ok', { final: ev, timeLimited });
    options.onProgress?.({ phase: 'done', step, totalSteps: total, loss, lr, elapsedS: out.trainingTimeS, evaluation: rec });
    return out;
  } finally {
    model.dispose();
  }
}
