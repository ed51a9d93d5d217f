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
 * median.
 *
 * `asha` pauses a trial below its rung's line instead (rungs.ts says the rule);
 * the study promotes it later, and it resumes from its checkpoint.
 */
import type { PruningSettings, StudyConfig } from '../config/study.js';
import type { EvaluationRecord } from '../exec/trial-files.js';
import { f6 } from './render/text.js';
import { rungTenths, standing, tenth, valuesAt } from './rungs.js';
import type { StudyNode, StudyState } from './state.js';
import { median } from '../util/stats.js';

export interface PruneVerdict {
  reason: string;
  /** Paused (resumable when promoted) rather than pruned for good. */
  pause: boolean;
}

export interface Pruner {
  readonly name: string;
  /** Whether and why `node` is to stop at evaluation `e` (already in the state); undefined to go on. */
  verdict(state: StudyState, node: StudyNode, e: EvaluationRecord): PruneVerdict | undefined;
}

const showR2 = (r2: number): string => (Number.isFinite(r2) ? f6(r2) : 'nan');

export class MedianPruner implements Pruner {
  readonly name = 'median';

  constructor(private readonly settings: PruningSettings) {}

  verdict(state: StudyState, node: StudyNode, e: EvaluationRecord): PruneVerdict | undefined {
    const k = tenth(e.step, node.inr.inr_total_steps);
    if (k >= 10 || e.step / node.inr.inr_total_steps < this.settings.warmup_fraction) return undefined;
    const others = valuesAt(state, node.block, k).filter((v) => v.node !== node.id && Number.isFinite(v.r2)).map((v) => v.r2);
    if (others.length < this.settings.startup_trials) return undefined;
    const line = median(others);
    if (e.r2 >= line) return undefined;
    return { pause: false, reason: `R2 ${showR2(e.r2)} at step ${e.step} (${k * 10}% of its steps) is below the median ${f6(line)} of ${others.length} other trials of block ${node.block} there` };
  }
}

export class AshaPruner implements Pruner {
  readonly name = 'asha';
  private readonly rungs: number[];

  constructor(private readonly settings: PruningSettings) {
    this.rungs = rungTenths(settings);
  }

  verdict(state: StudyState, node: StudyNode, e: EvaluationRecord): PruneVerdict | undefined {
    const k = tenth(e.step, node.inr.inr_total_steps);
    if (!this.rungs.includes(k)) return undefined;
    const at = `R2 ${showR2(e.r2)} at step ${e.step} (${k * 10}% of its steps)`;
    // A diverged fit has nothing to come back for.
    if (!Number.isFinite(e.r2)) return { pause: false, reason: `${at}: diverged` };
    const s = standing(state, node, k, this.settings.reduction_factor);
    if (s.goesOn) return undefined;
    return { pause: true, reason: `${at} ranks ${s.rank} of ${s.of} trials of block ${node.block} there; the top ${s.line} go on` };
  }
}

export function createPruner(study: Pick<StudyConfig, 'pruner' | 'pruning'>): Pruner | undefined {
  if (study.pruner === 'median') return new MedianPruner(study.pruning);
  if (study.pruner === 'asha') return new AshaPruner(study.pruning);
  return undefined;
}
