/**
 * Where trials of a block stand at the same fraction of their steps, for the
 * pruners. The trainer evaluates at k * floor(total_steps / 10); trials are
 * compared at the same tenth of their steps rather than the same step,
 * because a study's trials train for different numbers of steps.
 *
 * ASHA (asynchronous successive halving, Li et al., "A System for Massively
 * Parallel Hyperparameter Tuning", MLSys 2020) puts rungs at
 * min_rung * reduction_factor^k of the steps. A trial at a rung goes on when
 * its R² ranks among the top floor(n / reduction_factor) of the n trials of its
 * block that reached the rung, and at least the top one: with fewer than
 * reduction_factor trials there the best so far goes on, as Optuna's
 * SuccessiveHalvingPruner does, so that every block trains at least one trial
 * to its end. A trial below that line is paused at a checkpoint; a paused
 * trial that more arrivals lift into the line is promoted, as long as its
 * block is open. A NaN R² ranks below every other and is never promoted.
 */
import type { PruningSettings, StudyConfig } from '../config/study.js';
import type { TrialPromotedEvent } from './journal.js';
import type { StudyNode, StudyState } from './state.js';

/** Which tenth of its steps an evaluation is at: 1 for the first, 10 for the end. */
export function tenth(step: number, total: number): number {
  return Math.round((10 * step) / total);
}

/** ASHA's rungs, in tenths of the steps (below the end): 1, 3, 9 for the defaults. */
export function rungTenths(p: Pick<PruningSettings, 'min_rung' | 'reduction_factor'>): number[] {
  const out: number[] = [];
  for (let f = p.min_rung; Math.round(10 * f) < 10; f *= p.reduction_factor) {
    const t = Math.round(10 * f);
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

/** The R² of `node`'s latest evaluation at tenth `k` of its steps, if it was evaluated there. */
export function r2AtTenth(node: StudyNode, k: number): number | undefined {
  const at = node.evaluations.filter((x) => tenth(x.step, node.inr.inr_total_steps) === k);
  return at[at.length - 1]?.r2;
}

/** Each node of `block` with an evaluation at tenth `k` (its latest there), and the R² it had. */
export function valuesAt(state: StudyState, block: number, k: number): { node: number; r2: number }[] {
  const out: { node: number; r2: number }[] = [];
  for (const n of state.nodes) {
    if (n.block !== block) continue;
    const r2 = r2AtTenth(n, k);
    if (r2 !== undefined) out.push({ node: n.id, r2 });
  }
  return out;
}

export interface RungStanding {
  /** 1-based, best first; ties go to the earlier node. */
  rank: number;
  /** Trials of the block at this rung. */
  of: number;
  /** How many of them go on: max(1, floor(of / reduction_factor)). */
  line: number;
  goesOn: boolean;
}

/** Where `node` stands among the block's trials at tenth `k`. */
export function standing(state: StudyState, node: StudyNode, k: number, reduction: number): RungStanding {
  const values = valuesAt(state, node.block, k);
  const key = (r2: number): number => (Number.isNaN(r2) ? -Infinity : r2);
  const own = values.find((v) => v.node === node.id);
  const mine = key(own?.r2 ?? Number.NaN);
  const rank = 1 + values.filter((v) => v.node !== node.id && (key(v.r2) > mine || (key(v.r2) === mine && v.node < node.id))).length;
  const line = Math.max(1, Math.floor(values.length / reduction));
  return { rank, of: values.length, line, goesOn: !Number.isNaN(own?.r2 ?? Number.NaN) && rank <= line };
}

/**
 * Paused trials that ASHA promotes now, earliest first: those of the latest
 * batch's block, while it is open, that rank within their rung's line.
 */
export function promotable(state: StudyState, study: Pick<StudyConfig, 'pruner' | 'pruning'> = state.config.study): { node: number; standing: RungStanding; tenth: number }[] {
  if (study.pruner !== 'asha') return [];
  const last = state.batches[state.batches.length - 1];
  if (last === undefined || state.blocks[last.block]?.closed) return [];
  const out: { node: number; standing: RungStanding; tenth: number }[] = [];
  for (const id of state.blocks[last.block].nodes) {
    const n = state.nodes[id - 1];
    if (n.pruned?.paused !== true) continue;
    const k = tenth(n.pruned.step, n.inr.inr_total_steps);
    const s = standing(state, n, k, study.pruning.reduction_factor);
    if (s.goesOn) out.push({ node: id, standing: s, tenth: k });
  }
  return out;
}

/** The promotion ASHA makes first now (the earliest promotable trial), as its journal event. */
export function nextPromotion(state: StudyState): TrialPromotedEvent | undefined {
  const p = promotable(state)[0];
  if (p === undefined) return undefined;
  const s = p.standing;
  return {
    type: 'trial_promoted', node: p.node, step: state.nodes[p.node - 1].pruned?.step ?? 0,
    reason: `ranks ${s.rank} of ${s.of} trials at ${p.tenth * 10}% of their steps; the top ${s.line} go on`,
  };
}
