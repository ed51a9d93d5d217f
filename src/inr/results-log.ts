import { pyBool, pyExp, pyFixed } from '../util/pyformat.js';

/**
 * results.log: the reference's `key: value` lines, in its order and with its
 * number formats (docs/reference.md, Metrics), written with Python's formatting rules
 * (`1.234567e-03`, `nan`, `False`):
 *
 *     field_name: velocity
 *     inr_type: siren_txyz
 *     gradient_mode: False
 *     final_mse: 1.234567e-03
 *     final_r2: 0.987654
 *     slope: 0.9912
 *     n_cells: 1000
 *     n_frames: 9997
 *     n_components: 3
 *     total_steps: 500000
 *     training_time_min: 12.3
 *
 * then our additions, after every reference key so a reference reader never
 * sees a difference: `final_r2_cod` (1 - SSE/SST) always; `time_limited: True`
 * when the time budget stopped training early; `status: failed` and
 * `reason: ...` when the run failed (its metrics are then `nan`).
 */
export interface ResultsLog {
  field_name: string;
  inr_type: string;
  gradient_mode: boolean;
  final_mse: number;
  final_r2: number;
  slope: number;
  n_cells: number;
  n_frames: number;
  n_components: number;
  /** The configured inr_total_steps (run.json has the steps actually done). */
  total_steps: number;
  training_time_min: number;
  final_r2_cod: number;
  time_limited: boolean;
  status: 'ok' | 'failed';
  /** One line; set when status is failed. */
  reason?: string;
}

export const REFERENCE_KEYS = [
  'field_name', 'inr_type', 'gradient_mode', 'final_mse', 'final_r2', 'slope',
  'n_cells', 'n_frames', 'n_components', 'total_steps', 'training_time_min',
] as const;

export function formatResultsLog(r: ResultsLog): string {
  const lines = [
    `field_name: ${r.field_name}`,
    `inr_type: ${r.inr_type}`,
    `gradient_mode: ${pyBool(r.gradient_mode)}`,
    `final_mse: ${pyExp(r.final_mse, 6)}`,
    `final_r2: ${pyFixed(r.final_r2, 6)}`,
    `slope: ${pyFixed(r.slope, 4)}`,
    `n_cells: ${r.n_cells}`,
    `n_frames: ${r.n_frames}`,
    `n_components: ${r.n_components}`,
    `total_steps: ${r.total_steps}`,
    `training_time_min: ${pyFixed(r.training_time_min, 1)}`,
    `final_r2_cod: ${pyFixed(r.final_r2_cod, 6)}`,
  ];
  if (r.time_limited) lines.push(`time_limited: ${pyBool(true)}`);
  if (r.status === 'failed') {
    lines.push('status: failed');
    lines.push(`reason: ${oneLine(r.reason ?? 'unknown')}`);
  }
  return lines.join('\n') + '\n';
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Read a results.log (ours, or the reference's: the keys we add are optional).
 * Throws an Error naming the first problem.
 */
export function parseResultsLog(text: string): ResultsLog {
  const kv = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    const i = raw.indexOf(':');
    if (i < 0) throw new Error(`results.log: line without "key: value": ${JSON.stringify(raw)}`);
    kv.set(raw.slice(0, i).trim(), raw.slice(i + 1).trim());
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`results.log: ${k} is missing`);
    return v;
  };
  const num = (k: string, optional = false): number => {
    if (optional && !kv.has(k)) return NaN;
    const v = get(k);
    if (v === 'nan') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    const n = Number(v);
    if (v === '' || Number.isNaN(n)) throw new Error(`results.log: ${k} is not a number: ${JSON.stringify(v)}`);
    return n;
  };
  const bool = (k: string, fallback: boolean): boolean => {
    const v = kv.get(k);
    if (v === undefined) return fallback;
    if (v === 'True' || v === 'true') return true;
    if (v === 'False' || v === 'false') return false;
    throw new Error(`results.log: ${k} is not True or False: ${JSON.stringify(v)}`);
  };
  const status = kv.get('status') ?? 'ok';
  if (status !== 'ok' && status !== 'failed') throw new Error(`results.log: status is ${JSON.stringify(status)}, expected ok or failed`);
  const out: ResultsLog = {
    field_name: get('field_name'),
    inr_type: get('inr_type'),
    gradient_mode: bool('gradient_mode', false),
    final_mse: num('final_mse'),
    final_r2: num('final_r2'),
    slope: num('slope'),
    n_cells: num('n_cells'),
    n_frames: num('n_frames'),
    n_components: num('n_components'),
    total_steps: num('total_steps'),
    training_time_min: num('training_time_min'),
    final_r2_cod: num('final_r2_cod', true),
    time_limited: bool('time_limited', false),
    status,
  };
  if (kv.has('reason')) out.reason = kv.get('reason');
  return out;
}
