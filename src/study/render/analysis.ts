/**
 * analysis.md: one entry per done trial, in the protocol's format
 * (instructions/study-protocol.md, Step 3), which the reference's own regular
 * expressions read (docs/reference.md, Exploration loop):
 *
 *   ## Iter N: <excellent|good|moderate|poor|failed>
 *   Node: id=N, parent=P|root
 *   Metrics: final_r2=X, final_mse=X, slope=X, training_time_min=X
 *   Config: omega_inr=X, inr_learning_rate=X, hidden_dim_inr=X, n_layers_inr=X, inr_total_steps=X, inr_batch_size=X
 *   Mutation: ...
 *   Observation: ...
 *   Next: parent=P|root
 *
 * Numbers as results.log writes them: final_r2 6 decimals, final_mse
 * `1.234567e-03`, slope 4 decimals, minutes 1 decimal; `nan` where a failed
 * trial has no value (its time is the minutes it ran, or 0.0). Mutation and
 * observation text is the agent's, verbatim on one line (see text.ts).
 */
import type { StudyNode, StudyState } from '../state.js';
import { isDone } from '../state.js';
import { planParents } from '../tree.js';
import { configLine, e6, f1, f4, f6, mutationWithOutcome, oneLine } from './text.js';

export function analysisEntry(node: StudyNode, fallbackNext: number | null): string {
  const m = node.metrics;
  const time = m ? m.training_time_min : (node.failed_minutes ?? 0);
  const metrics = m
    ? `final_r2=${f6(m.final_r2)}, final_mse=${e6(m.final_mse)}, slope=${f4(m.slope)}, training_time_min=${f1(Number.isFinite(time) ? time : 0)}`
    : `final_r2=nan, final_mse=nan, slope=nan, training_time_min=${f1(Number.isFinite(time) ? time : 0)}`;
  const mutation = mutationWithOutcome(node);
  const next = node.note ? node.note.next_parent : fallbackNext;
  return [
    `## Iter ${node.id}: ${node.klass ?? 'failed'}`,
    `Node: id=${node.id}, parent=${node.parent ?? 'root'}`,
    `Metrics: ${metrics}`,
    `Config: ${configLine(node.inr)}`,
    `Mutation: ${oneLine(mutation)}`,
    `Observation: ${oneLine(node.note?.observation ?? 'awaiting analysis')}`,
    `Next: parent=${next ?? 'root'}`,
  ].join('\n');
}

export function renderAnalysis(state: StudyState): string {
  const s = state.settings;
  const head = [
    `# Experiment Log: ${oneLine(state.name)} INR (velocity field)`,
    '',
    `Agent ${s.agent}, seed ${s.seed}, ${s.slots} slots, blocks of ${s.block}, ${s.iterations} iterations, budget ${s.max_trial_minutes} min per trial. Rendered from journal.jsonl.`,
  ];
  const done = state.nodes.filter(isDone);
  // Entries without notes (a crash before the analysis) point at the top PUCT node, as Step 4 says.
  const fallback = done.some((n) => !n.note) ? planParents(state, 1)[0] : null;
  const entries = done.map((n) => analysisEntry(n, fallback));
  return [...head, '', ...entries.flatMap((e) => [e, ''])].join('\n');
}
