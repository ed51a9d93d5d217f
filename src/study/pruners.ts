/**
 * Pruners: a study's rule for stopping a trial at an intermediate evaluation
 * (the trainer evaluates R² every total_steps/10 steps). The study decides;
 * the runner stops the trial through its stop hook, so its checkpoint stays.
 *
 * `median` is Optuna's MedianPruner for a maximised value: a trial is pruned
 * when its R² at an evaluation is below the median R² of the other trials of
 * its block at the same fraction of their steps, once at least
 * `startup_trials` of them have reached it and the trial is past
 * `warmup_fraction` of its steps. A NaN R² (a diverged fit) is below any
 * median. Trials are compared at the same tenth of their steps (the trainer
 * evaluates at k * floor(total_steps / 10)) rather than the same step, because
 * a study's trials train for different numbers of steps.
 */
import type { PruningSettings, StudyConfig } from '../config/study.js';
import type { EvaluationRecord } from '../exec/trial-files.js';
import { f6 } from './render/text.js';
import type { StudyNode, StudyState } from './state.js';

export interface Pruner {
  readonly name: string;
  /** Why `node` is to stop at evaluation `e` (already in the state), or undefined to go on. */
  verdict(state: StudyState, node: StudyNode, e: EvaluationRecord): string | undefined;
}

/** Which tenth of its steps an evaluation is at: 1 for the first, 10 for the end. */
function tenth(step: number, total: number): number {
  return Math.round((10 * step) / total);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export class MedianPruner implements Pruner {
  readonly name = 'median';

  constructor(private readonly settings: PruningSettings) {}

  verdict(state: StudyState, node: StudyNode, e: EvaluationRecord): string | undefined {
    const k = tenth(e.step, node.inr.inr_total_steps);
    if (k >= 10 || e.step / node.inr.inr_total_steps < this.settings.warmup_fraction) return undefined;
    const others: number[] = [];
    for (const n of state.nodes) {
      if (n.id === node.id || n.block !== node.block) continue;
      const at = n.evaluations.filter((x) => tenth(x.step, n.inr.inr_total_steps) === k);
      const last = at[at.length - 1];
      if (last !== undefined && Number.isFinite(last.r2)) others.push(last.r2);
    }
    if (others.length < this.settings.startup_trials) return undefined;
    const line = median(others);
    if (e.r2 >= line) return undefined;
    return `R2 ${Number.isFinite(e.r2) ? f6(e.r2) : 'nan'} at step ${e.step} (${k * 10}% of its steps) is below the median ${f6(line)} of ${others.length} other trials of block ${node.block} there`;
  }
}

export function createPruner(study: Pick<StudyConfig, 'pruner' | 'pruning'>): Pruner | undefined {
  return study.pruner === 'median' ? new MedianPruner(study.pruning) : undefined;
}
