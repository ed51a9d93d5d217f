import { checkBatchAgainstFrames, type InrConfig } from '../config/inr.js';
import type { CellSeries } from '../data/series.js';
import { Rng, type RngState } from '../util/rng.js';
import { MAX_CHUNK_STEPS, REFERENCE_ADAM, type Engine, type OptimizerState, type TrainingData } from './engine.js';
import { FrameSampler, type InputScaling } from './batches.js';
import { evaluationOf, type Evaluation } from './evaluate.js';
import { cosineLr, evaluationEvery } from './schedule.js';
import { initParameters, sirenSpec, type SirenSpec } from './spec.js';

/**
 * The training loop with the reference's semantics (docs/reference.md, Model,
 * Training loop, Metrics):
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
  /** Stop between chunks once the training time reaches this many minutes, then evaluate (time_limited). */
  maxMinutes?: number;
  /** Take a checkpoint this often (wall minutes of this session). Default 5; Infinity: never by time. */
  checkpointMinutes?: number;
  /** Also take a checkpoint every this many steps (studies that want step-aligned checkpoints). */
  checkpointEverySteps?: number;
  onCheckpoint?: (state: TrainState) => void | Promise<void>;
  /** Continue from a checkpoint state instead of a fresh network. */
  resume?: TrainState;
  /**
   * Stop from outside (Ctrl-C, a gone parent, a pruner): checked between
   * chunks; the run then takes a checkpoint (when onCheckpoint is given) and
   * returns `interrupted`, resumable from exactly that step.
   */
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  /** Steps between evaluations during training. Default `evaluationEvery(total_steps)`. */
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

/** A chunk of steps takes about this long, so that budgets, signals and watchdogs act within it. */
export const CHUNK_SECONDS = 0.5;


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
  /** The final evaluation, with the predictions (status ok only). */
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

export async function train(inr: InrConfig, series: CellSeries, engine: Engine, seed: number, options: TrainOptions = {}): Promise<TrainResult> {
  checkBatchAgainstFrames(inr, series.frames);
  const clock = options.clock ?? (() => performance.now());
  const spec = specOf(inr);
  const total = inr.inr_total_steps;
  const batch = inr.inr_batch_size;
  const resume = options.resume;
  if (resume) {
    if (resume.losses.length !== resume.step) throw new Error(`resume state: ${resume.losses.length} losses for ${resume.step} steps`);
    if (resume.step > total) throw new Error(`resume state: ${resume.step} steps done, but the run has ${total}`);
  }

  const data: TrainingData = { series, scaling: inputScaling(inr, series.frames), batch, adam: REFERENCE_ADAM };
  const model = await engine.open(spec, resume ? resume.params : initParameters(spec, seed), data);
  try {
    if (resume) await model.setOptimizerState(resume.optimizer);
    const rng = resume ? Rng.restore(resume.rng) : batchRng(seed);
    const sampler = new FrameSampler(series.frames, batch);
    const losses = new Float64Array(total);
    const evaluations: EvalRecord[] = resume ? resume.evaluations.map((e) => ({ ...e })) : [];
    const resumedAt = resume ? [...resume.resumedAt, resume.step] : [];
    let step = resume ? resume.step : 0;
    if (resume) losses.set(resume.losses);
    const evalEvery = options.evalEvery ?? evaluationEvery(total);
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

    const runEval = async (withPred: boolean): Promise<{ ev: Evaluation; rec: EvalRecord }> => {
      const start = clock();
      const ev = evaluationOf(await model.evaluate(withPred));
      evalS += (clock() - start) / 1000;
      const m = ev.metrics;
      return { ev, rec: { step, r2: m.r2, mse: m.mse, slope: m.slope, r2_cod: m.r2_cod, time_s: elapsed() } };
    };
    const state = async (): Promise<TrainState> => ({
      step,
      params: await model.getParameters(),
      optimizer: await model.getOptimizerState(),
      rng: rng.save(),
      losses: losses.slice(0, step),
      evaluations: evaluations.map((e) => ({ ...e })),
      elapsedS: elapsed(),
      evalS,
      resumedAt,
    });
    const result = async (status: TrainStatus, extra: Partial<TrainResult> = {}): Promise<TrainResult> => ({
      status,
      spec,
      totalSteps: total,
      stepsDone: step,
      timeLimited: false,
      losses: losses.slice(0, step),
      evaluations,
      params: await model.getParameters(),
      trainingTimeS: elapsed(),
      evalTimeS: evalS,
      resumedAt,
      ...extra,
    });

    // Chunks end at the next evaluation and step checkpoint, so those happen
    // exactly where a step-by-step loop would have them; their length adapts
    // to the measured step time.
    const frameIds = new Int32Array(MAX_CHUNK_STEPS * batch);
    const lrs = new Float64Array(MAX_CHUNK_STEPS);
    let chunk = 1;
    let timeLimited = false;
    while (step < total) {
      if (options.signal?.aborted) {
        if (options.onCheckpoint) await options.onCheckpoint(await state());
        return await result('interrupted');
      }
      const left = budgetS - elapsed();
      if (left <= 0) {
        timeLimited = true;
        break;
      }
      const boundary = Math.min(total, (Math.floor(step / evalEvery) + 1) * evalEvery, ckptSteps ? (Math.floor(step / ckptSteps) + 1) * ckptSteps : total);
      const n = Math.min(chunk, boundary - step);
      for (let k = 0; k < n; k++) {
        sampler.sample(rng, frameIds.subarray(k * batch, (k + 1) * batch));
        lrs[k] = cosineLr(inr.inr_learning_rate, total, step + k);
      }
      const started = clock();
      const r = await model.trainChunk(frameIds.subarray(0, n * batch), lrs.subarray(0, n));
      const perStepS = Math.max(1e-6, (clock() - started) / 1000 / n);
      // Grow at most 4x a chunk (the first one may include a warm-up); stop at the budget's edge.
      chunk = Math.max(1, Math.min(MAX_CHUNK_STEPS, 4 * n, Math.floor(CHUNK_SECONDS / perStepS), Math.ceil((left - perStepS * n) / perStepS)));
      for (let k = 0; k < n; k++) {
        lr = lrs[k];
        loss = r.losses[k];
        losses[step] = loss;
        step++;
        if (!Number.isFinite(loss)) return await result('failed', { reason: `loss is ${nonFinite(loss)} at step ${step}` });
        if (!Number.isFinite(r.gradNorms[k])) return await result('failed', { reason: `gradient norm is ${nonFinite(r.gradNorms[k])} at step ${step}` });
      }

      let evaluation: EvalRecord | undefined;
      if (step % evalEvery === 0 && step < total) {
        evaluation = (await runEval(false)).rec;
        evaluations.push(evaluation);
      }
      options.onProgress?.({ phase: 'step', step, totalSteps: total, loss, lr, elapsedS: elapsed(), evaluation });
      if (step < total && options.onCheckpoint) {
        const now = clock();
        if ((ckptSteps !== undefined && step % ckptSteps === 0) || now - lastCkpt >= ckptMs) {
          await options.onCheckpoint(await state());
          lastCkpt = clock();
        }
      }
    }

    options.onProgress?.({ phase: 'final-evaluation', step, totalSteps: total, loss, lr, elapsedS: elapsed() });
    // Evaluate on exactly the parameters that will be saved: an engine that keeps
    // more precision inside than it hands out (the float64 test engine) rounds here,
    // so a saved model always reproduces the saved predictions.
    await model.setParameters(await model.getParameters());
    const { ev, rec } = await runEval(true);
    evaluations.push(rec);
    const out = await result('ok', { final: ev, timeLimited });
    options.onProgress?.({ phase: 'done', step, totalSteps: total, loss, lr, elapsedS: out.trainingTimeS, evaluation: rec });
    return out;
  } finally {
    await model.dispose();
  }
}
