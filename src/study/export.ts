/**
 * `study export --csv` and `study best`: the trials as Optuna's
 * `study.trials_dataframe()` would write them (number, state, value,
 * datetime_start, datetime_complete, duration, params_*, user_attrs_*), and
 * the best trial's config.
 *
 * States: COMPLETE (finished within budget; value = final_r2, empty when nan),
 * PRUNED (stopped or paused by the study's pruner, `user_attrs_pruned_by` = median or asha; or
 * over budget or stopped by it, as the reference's Optuna study pruned trials
 * over 60 minutes, `pruned_by` = budget), FAIL (failed), RUNNING (started, no result),
 * WAITING (proposed, not started). `number` is 0-based (node id - 1).
 */
import { configToYaml } from '../config/schema.js';
import { EXPLORABLE_KEYS } from '../config/search-space.js';
import { overBudget } from './classify.js';
import type { StudyNode, StudyState } from './state.js';
import { trialConfig } from './render/configs.js';
import { bestNode } from './tree.js';

const ATTRS = ['node', 'parent', 'block', 'batch', 'slot', 'class', 'final_mse', 'slope', 'training_time_min', 'final_r2_cod', 'time_limited', 'pruned_by', 'strategy', 'mutation', 'failure', 'seed'] as const;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'number' ? (Number.isNaN(v) ? '' : String(v)) : String(v);
  // Text (an agent's mutation, a failure) that a spreadsheet would run as a formula is kept as text.
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function optunaState(n: StudyNode, budget: number): string {
  if (n.status === 'failed') return 'FAIL';
  if (n.status === 'running') return 'RUNNING';
  if (n.status === 'pending') return 'WAITING';
  if (n.pruned || (n.metrics && overBudget(n.metrics, budget))) return 'PRUNED';
  return 'COMPLETE';
}

function duration(start?: string, end?: string): string {
  if (!start || !end) return '';
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms)) return '';
  const s = ms / 1000;
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = (s % 60).toFixed(6).padStart(9, '0');
  return `${d} days ${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${ss}`;
}

export function exportCsv(state: StudyState): string {
  const header = ['number', 'state', 'value', 'datetime_start', 'datetime_complete', 'duration', ...EXPLORABLE_KEYS.map((k) => `params_${k}`), ...ATTRS.map((a) => `user_attrs_${a}`)];
  const budget = state.settings.max_trial_minutes;
  const rows = state.nodes.map((n) => {
    const st = optunaState(n, budget);
    const m = n.metrics;
    const attrs: Record<(typeof ATTRS)[number], unknown> = {
      node: n.id, parent: n.parent ?? 'root', block: n.block, batch: n.batch, slot: n.slot, class: n.klass ?? n.status,
      final_mse: m?.final_mse, slope: m?.slope, training_time_min: m?.training_time_min ?? n.failed_minutes,
      final_r2_cod: m?.final_r2_cod, time_limited: m?.time_limited,
      pruned_by: n.pruned?.by ?? (st === 'PRUNED' ? 'budget' : undefined), strategy: n.strategy, mutation: n.mutation, failure: n.failure, seed: n.seed,
    };
    return [
      n.id - 1, st, st === 'COMPLETE' ? m?.final_r2 : '', n.started_at ?? '', n.done_at ?? '', duration(n.started_at, n.done_at),
      ...EXPLORABLE_KEYS.map((k) => n.inr[k]), ...ATTRS.map((a) => attrs[a]),
    ].map(csvCell).join(',');
  });
  return [header.join(','), ...rows].join('\n') + '\n';
}

/** The best node's whole config as YAML (`study best --yaml`), or undefined when none is done within budget. */
export function bestConfigYaml(state: StudyState): string | undefined {
  const best = bestNode(state);
  return best ? configToYaml(trialConfig(state.config, best)) : undefined;
}
