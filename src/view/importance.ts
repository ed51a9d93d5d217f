/**
 * Parameter importance by PED-ANOVA (Watanabe, Bansal and Hutter, "PED-ANOVA:
 * Efficiently Quantifying Hyperparameter Importance in Arbitrary Subspaces",
 * IJCAI 2023), the method of Optuna's PedAnovaImportanceEvaluator.
 *
 * A parameter matters where the trials of the top quantile (here the best
 * 10%, at least 2) sit in a different part of its range than all trials do.
 * For each parameter, the importance is the Pearson divergence between the
 * two densities, integral of (p_top(x) / p_all(x) - 1)^2 p_all(x) dx, with
 * each density a Parzen estimate on the range mapped to [0, 1] (log for a
 * log-scaled parameter, choice index for a categorical one): a Gaussian per
 * trial with Scott's bandwidth, mixed with a uniform prior at a fixed 10%
 * (a fixed share, unlike Optuna's one prior component per set, so that a
 * parameter both sets hold at one value scores 0), on a grid of 50 points. Importances are normalised to sum to 1. It needs no model
 * fit, unlike fANOVA's random forest, so it is exact and fast for the
 * hundreds of trials a study has.
 */
import type { SearchRange } from '../config/search-range.js';

export interface Trial {
  values: Record<string, number>;
  /** Higher is better (R2). */
  score: number;
}

export interface Importance {
  key: string;
  importance: number;
}

const GRID = 50;
export const TOP_QUANTILE = 0.1;
const PRIOR = 0.1;

/** A value mapped onto [0, 1] of its range. */
export function unit(range: SearchRange, v: number): number {
  if (range.scale === 'categorical' && range.choices !== undefined && range.choices.length > 1) {
    const i = range.choices.indexOf(v);
    return i < 0 ? 0.5 : i / (range.choices.length - 1);
  }
  if (range.max <= range.min) return 0.5;
  const u = range.scale === 'log' ? Math.log(v / range.min) / Math.log(range.max / range.min) : (v - range.min) / (range.max - range.min);
  return Math.min(1, Math.max(0, u));
}

function parzen(xs: readonly number[]): Float64Array {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const h = Math.max(1.059 * sd * n ** -0.2, 0.5 / GRID);
  const p = new Float64Array(GRID);
  for (let g = 0; g < GRID; g++) {
    const x = (g + 0.5) / GRID;
    let s = 0;
    for (const xi of xs) s += Math.exp(-0.5 * ((x - xi) / h) ** 2);
    p[g] = s;
  }
  const total = p.reduce((a, b) => a + b, 0);
  for (let g = 0; g < GRID; g++) p[g] = (1 - PRIOR) * (p[g] / total) + PRIOR / GRID;
  return p;
}

/** Importance of each parameter, highest first; empty with fewer than 4 scored trials. */
export function pedAnova(trials: readonly Trial[], ranges: readonly SearchRange[]): Importance[] {
  const scored = trials.filter((t) => Number.isFinite(t.score));
  if (scored.length < 4) return [];
  const sorted = [...scored].sort((a, b) => b.score - a.score);
  const top = sorted.slice(0, Math.max(2, Math.ceil(TOP_QUANTILE * sorted.length)));
  const raw = ranges.map((r) => {
    const all = parzen(scored.map((t) => unit(r, t.values[r.key])));
    const best = parzen(top.map((t) => unit(r, t.values[r.key])));
    let d = 0;
    for (let g = 0; g < GRID; g++) d += all[g] * (best[g] / all[g] - 1) ** 2;
    return { key: r.key, importance: d };
  });
  const total = raw.reduce((a, b) => a + b.importance, 0);
  return raw.map((r) => ({ key: r.key, importance: total > 0 ? r.importance / total : 0 })).sort((a, b) => b.importance - a.importance);
}
