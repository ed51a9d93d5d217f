/**
 * Predicting a trial's training time, and fitting proposals into the budget.
 *
 * Work of a trial, in FLOPs (docs/reference.md, Cost of the default workload):
 *
 *   work = fpp(hidden, layers) * (steps * batch * cells + evaluations * frames * cells / 3)
 *
 * where fpp = 6 * (4h + layers*h^2 + 3h) is forward plus backward per point and
 * step, and the second term is the evaluations over all frames (forward only,
 * a third of fpp): one every floor(total_steps/10) steps below the end, and
 * the final one. A trial the pruner stopped ran only the evaluations up to its
 * stop and no final one; counting all of them would make the short, stopped
 * trials look fast and pull the fitted rate up (on a budget of seconds, where
 * the evaluations are most of a short trial's work, by 3x). The model is
 *
 *   minutes = overhead + work / flopsPerMinute
 *
 * fitted on finished trials: with fewer than 4 usable trials (or an OLS fit
 * that makes no physical sense) the rate is the geometric mean of the trials'
 * work/minutes ratios with no overhead (least squares in log space with slope
 * 1); with 4 or more, ordinary least squares of minutes on work. With no
 * finished trial the rate is a prior: `priorFlopsPerSecond` (default 1e10, a
 * guess for the native CPU engine on a few cores; the loop should pass a rate
 * that suits its engine). Trials stopped by the budget count with the steps they
 * actually trained (`steps_done`), or not at all when that is unknown.
 */
import { evaluationEvery } from '../inr/schedule.js';
import { flopsPerPoint, sirenSpec } from '../inr/spec.js';
import type { InrConfig } from '../config/inr.js';
import type { SearchSpace } from '../config/search-range.js';
import { fmt } from '../config/messages.js';

export interface Workload {
  cells: number;
  frames: number;
}

/**
 * The evaluations a trial of `total` steps has run after `steps` of them: one
 * every `evaluationEvery(total)` steps before the end (the trainer's schedule),
 * and the final one when `final` (a trial that ran to its end or to the budget
 * evaluates once more; one the pruner stopped does not).
 */
export function evaluationsRun(total: number, steps: number, final: boolean): number {
  return Math.floor(Math.max(0, Math.min(steps, total - 1)) / evaluationEvery(total)) + (final ? 1 : 0);
}
export const DEFAULT_PRIOR_FLOPS_PER_SECOND = 1e10;
/** Proposals are scaled to this share of the budget, to leave room for the model's error. */
export const BUDGET_MARGIN = 0.9;

/**
 * A trial's work: `steps` training steps (default all) and `evaluations`
 * (default those of the whole trial, so that the fixed part does not move when
 * the budget scales the steps).
 */
export function trialFlops(
  inr: Pick<InrConfig, 'hidden_dim_inr' | 'n_layers_inr' | 'inr_batch_size' | 'inr_total_steps'>, workload: Workload,
  steps = inr.inr_total_steps, evaluations = evaluationsRun(inr.inr_total_steps, inr.inr_total_steps, true),
): number {
  const fpp = flopsPerPoint(sirenSpec(inr.hidden_dim_inr, inr.n_layers_inr, 1));
  return fpp * (steps * inr.inr_batch_size * workload.cells + (evaluations * workload.frames * workload.cells) / 3);
}

export interface CostSample {
  inr: InrConfig;
  minutes: number;
  time_limited?: boolean;
  steps_done?: number;
  /** Stopped by the study's pruner at an evaluation: no final evaluation ran. */
  pruned?: boolean;
}

export interface CostModel {
  source: 'prior' | 'fit';
  /** Trials the fit used. */
  samples: number;
  flopsPerMinute: number;
  overheadMinutes: number;
  workload: Workload;
  predictMinutes(inr: InrConfig, steps?: number): number;
}

export interface CostModelOptions {
  priorFlopsPerSecond?: number;
}

function model(source: CostModel['source'], samples: number, flopsPerMinute: number, overheadMinutes: number, workload: Workload): CostModel {
  return {
    source, samples, flopsPerMinute, overheadMinutes, workload,
    predictMinutes: (inr, steps) => overheadMinutes + trialFlops(inr, workload, steps) / flopsPerMinute,
  };
}

export function fitCostModel(samples: readonly CostSample[], workload: Workload, opts: CostModelOptions = {}): CostModel {
  const prior = (opts.priorFlopsPerSecond ?? DEFAULT_PRIOR_FLOPS_PER_SECOND) * 60;
  const usable: { work: number; minutes: number }[] = [];
  for (const s of samples) {
    if (!(Number.isFinite(s.minutes) && s.minutes > 0)) continue;
    let steps = s.inr.inr_total_steps;
    if (s.time_limited) {
      if (s.steps_done === undefined || s.steps_done <= 0) continue;
      steps = s.steps_done;
    } else if (s.steps_done !== undefined && s.steps_done > 0) {
      steps = s.steps_done;
    }
    const evaluations = evaluationsRun(s.inr.inr_total_steps, steps, s.pruned !== true);
    usable.push({ work: trialFlops(s.inr, workload, steps, evaluations), minutes: s.minutes });
  }
  if (usable.length === 0) return model('prior', 0, prior, 0, workload);
  if (usable.length >= 4) {
    const n = usable.length;
    const mw = usable.reduce((a, u) => a + u.work, 0) / n;
    const mt = usable.reduce((a, u) => a + u.minutes, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const u of usable) {
      sxy += (u.work - mw) * (u.minutes - mt);
      sxx += (u.work - mw) ** 2;
    }
    if (sxx > 0) {
      const a = sxy / sxx;
      const b = mt - a * mw;
      const sorted = usable.map((u) => u.minutes).sort((x, y) => x - y);
      const median = sorted[Math.floor(n / 2)];
      if (a > 0 && b >= 0 && b < median) return model('fit', n, 1 / a, b, workload);
    }
  }
  const meanLog = usable.reduce((acc, u) => acc + Math.log(u.work / u.minutes), 0) / usable.length;
  return model('fit', usable.length, Math.exp(meanLog), 0, workload);
}

/** Floor to 3 significant digits, so scaled step counts read well (243817 -> 243000). */
function niceFloor(n: number): number {
  if (n < 1000) return Math.max(1, Math.floor(n));
  const mag = 10 ** (Math.floor(Math.log10(n)) - 2);
  return Math.floor(n / mag) * mag;
}

export interface BudgetFit {
  inr: InrConfig;
  mutation: string;
  predictedMinutes: number;
  scaled: boolean;
  /** What changed, in words (also appended to the mutation). */
  note?: string;
}

/**
 * Scale `inr_total_steps` down when the predicted time exceeds the budget's
 * margin, never below the search space's minimum; the mutation text says so.
 */
export function fitToBudget(inr: InrConfig, mutation: string, cost: CostModel, budgetMinutes: number, space: SearchSpace, margin = BUDGET_MARGIN): BudgetFit {
  const predicted = cost.predictMinutes(inr);
  const target = budgetMinutes * margin;
  if (!(predicted > target)) return { inr, mutation, predictedMinutes: predicted, scaled: false };
  const range = space.inr_total_steps;
  const fixed = cost.predictMinutes(inr, 0);
  const perStep = (predicted - fixed) / inr.inr_total_steps;
  let steps = perStep > 0 ? niceFloor((target - fixed) / perStep) : range.min;
  steps = Math.min(inr.inr_total_steps, Math.max(Math.ceil(range.min), steps));
  if (steps >= inr.inr_total_steps) return { inr, mutation, predictedMinutes: predicted, scaled: false };
  const out = { ...inr, inr_total_steps: steps };
  const after = cost.predictMinutes(out);
  let note = `steps scaled ${inr.inr_total_steps} -> ${steps} to fit the ${fmt(budgetMinutes)}-min budget (predicted ${predicted.toFixed(1)} -> ${after.toFixed(1)} min)`;
  if (after > budgetMinutes) note += `; still predicted over budget at the search space's minimum steps`;
  return { inr: out, mutation: mutation === '' ? note : `${mutation}; ${note}`, predictedMinutes: after, scaled: true, note };
}
