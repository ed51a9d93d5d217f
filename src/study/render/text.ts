/**
 * Text that agents (LLMs included) write is data: rendered verbatim, but never
 * able to break a file's format. And numbers in the reference's formats.
 */
import { fmt } from '../../config/messages.js';
import type { InrConfig } from '../../config/inr.js';
import { pyExp, pyFixed } from '../../util/pyformat.js';
import type { StudyNode } from '../state.js';

/** Line breaks of every kind (and other control characters) become spaces. */
const BREAKS = /[\r\n\v\f\u0085\u2028\u2029]+/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f]/g;

/**
 * One line of free text for an analysis entry or the UCB file: line breaks
 * collapsed; `##` runs reduced to `#` (so no `## Iter N:` header can be
 * forged, even mid-line); `Label:` forms of the entry's own line labels
 * defused (`Next: parent=3` in an observation would otherwise be what a
 * regex finds first).
 */
export function oneLine(text: string): string {
  let s = String(text).replace(BREAKS, ' ').replace(CONTROL, ' ').replace(/\t/g, ' ');
  s = s.replace(/#{2,}/g, '#');
  s = s.replace(/\b(Iter|Node|Metrics|Config|Mutation|Observation|Next)(\s*):/g, '$1$2 -');
  s = s.replace(/ {2,}/g, ' ').trim();
  return s === '' ? '-' : s;
}

/**
 * Multi-line text for memory.md: lines kept, but a line that would open a
 * heading or a rule is escaped (`\#`, `\---`), so an agent cannot add sections.
 */
export function block(text: string): string {
  const lines = String(text).replace(/\r\n?/g, '\n').replace(/[\v\f\u0085\u2028\u2029]/g, '\n').replace(CONTROL, ' ').split('\n');
  return lines
    .map((l) => (/^\s*(#|---|===|```|~~~)/.test(l) ? l.replace(/^(\s*)/, '$1\\') : l))
    .join('\n')
    .trim();
}

/** A markdown table cell. */
export function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

export const f6 = (x: number): string => pyFixed(x, 6);
export const f4 = (x: number): string => pyFixed(x, 4);
export const f3 = (x: number): string => pyFixed(x, 3);
export const f1 = (x: number): string => pyFixed(x, 1);
export const e6 = (x: number): string => pyExp(x, 6);
export const e3 = (x: number): string => pyExp(x, 3);

/** A signed difference: `+0.0042`, `-0.0100`. */
export function signed(x: number, digits = 4): string {
  return (x >= 0 ? '+' : '') + pyFixed(x, digits);
}

/** The protocol's Config line values. */
export function configLine(inr: InrConfig): string {
  return [
    `omega_inr=${fmt(inr.omega_inr)}`,
    `inr_learning_rate=${fmt(inr.inr_learning_rate)}`,
    `hidden_dim_inr=${fmt(inr.hidden_dim_inr)}`,
    `n_layers_inr=${fmt(inr.n_layers_inr)}`,
    `inr_total_steps=${fmt(inr.inr_total_steps)}`,
    `inr_batch_size=${fmt(inr.inr_batch_size)}`,
  ].join(', ');
}

/** A short config for notes: the protocol's six parameters, and the periods when they are not 1. */
export function configBrief(inr: InrConfig): string {
  const parts = [
    `omega=${fmt(inr.omega_inr)}`, `lr=${fmt(inr.inr_learning_rate)}`, `hidden=${inr.hidden_dim_inr}`,
    `layers=${inr.n_layers_inr}`, `steps=${inr.inr_total_steps}`, `batch=${inr.inr_batch_size}`,
  ];
  if (inr.inr_xy_period !== 1) parts.push(`xy_period=${fmt(inr.inr_xy_period)}`);
  if (inr.inr_t_period !== 1) parts.push(`t_period=${fmt(inr.inr_t_period)}`);
  return parts.join(', ');
}

/**
 * A node's mutation with how it ended when that was not a plain finish: why
 * it failed, that the pruner stopped or paused it (its R² is then that of the
 * evaluation it was stopped at), and ASHA's promotions on the way.
 */
export function mutationWithOutcome(node: Pick<StudyNode, 'mutation' | 'status' | 'failure' | 'pruned' | 'promotions'>): string {
  const promoted = node.promotions.map((p) => ` (paused at step ${p.step}, promoted: ${p.reason})`).join('');
  if (node.status === 'failed') return `${node.mutation}${promoted} (failed: ${node.failure ?? 'unknown reason'})`;
  if (node.pruned) return `${node.mutation}${promoted} (${node.pruned.paused ? 'paused' : 'pruned'} by ${node.pruned.by} at step ${node.pruned.step}: ${node.pruned.reason})`;
  return node.mutation + promoted;
}
