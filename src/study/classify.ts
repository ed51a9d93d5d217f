/**
 * The protocol's classes (instructions/study-protocol.md, "Classification"):
 *
 *   excellent  final_r2 > 0.995
 *   good       0.990 <= final_r2 <= 0.995
 *   moderate   0.90 <= final_r2 < 0.990
 *   poor       final_r2 < 0.90, OR training_time_min > the budget
 *   failed     the trial produced no result (our addition: its own class)
 *
 * Decisions where the protocol is silent:
 * - The raw final_r2 is compared, not its 6-decimal rendering.
 * - A NaN final_r2 (a run that finished with diverged predictions) is poor: it
 *   produced a result, and the result is useless.
 * - A run the budget stopped early (`time_limited`) is poor even when its time
 *   is not above the budget: it did not finish within the budget.
 */
import type { TrialMetrics } from './journal.js';

export type TrialClass = 'excellent' | 'good' | 'moderate' | 'poor' | 'failed';

export const CLASSES: readonly TrialClass[] = ['excellent', 'good', 'moderate', 'poor', 'failed'];

export const EXCELLENT_ABOVE = 0.995;
export const GOOD_FROM = 0.99;
export const MODERATE_FROM = 0.9;

/** The class of an R² alone (no time limit). */
export function classifyR2(r2: number): Exclude<TrialClass, 'failed'> {
  if (Number.isNaN(r2)) return 'poor';
  if (r2 > EXCELLENT_ABOVE) return 'excellent';
  if (r2 >= GOOD_FROM) return 'good';
  if (r2 >= MODERATE_FROM) return 'moderate';
  return 'poor';
}

/** Whether the trial broke the time budget (ran over it, or was stopped by it). */
export function overBudget(metrics: Pick<TrialMetrics, 'training_time_min' | 'time_limited'>, budgetMinutes: number): boolean {
  return metrics.time_limited === true || metrics.training_time_min > budgetMinutes;
}

/** The class of a finished trial; `undefined` metrics mean the trial failed. */
export function classify(metrics: TrialMetrics | undefined, budgetMinutes: number): TrialClass {
  if (metrics === undefined) return 'failed';
  if (overBudget(metrics, budgetMinutes)) return 'poor';
  return classifyR2(metrics.final_r2);
}
