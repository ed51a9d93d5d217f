/**
 * memory.md: the protocol's working-memory structure (study-protocol.md,
 * "Memory File Structure"), rendered from the journal:
 *
 * - Regime Comparison Table: one row per closed block, the numbers from the
 *   block's best node (highest R² within budget), the key finding from the
 *   agent's block summary;
 * - Established Principles, Open Questions: the latest closed block's lists;
 * - Previous Block Summary: the latest closed block's summary;
 * - Current Block: info, hypothesis (the latest notes in the block, else the
 *   previous block's closing hypothesis), the block's iterations, and the
 *   emerging observations (the latest notes in the block).
 *
 * Agent text is kept verbatim, except that a line cannot open a heading (see text.ts).
 * A snapshot `memory/block_NNN_memory.md` is the same view as of block NNN's close.
 */
import { fmt } from '../../config/messages.js';
import type { BlockClosedEvent } from '../journal.js';
import { blockNodes, currentBlock, planNextBatch, type StudyState } from '../state.js';
import { block as escapeBlock, cell, f1, f4, f6, oneLine } from './text.js';

const TABLE_HEAD = [
  '| Block | omega_inr | lr | hidden_dim | n_layers | steps | batch | Best R2 | slope | time_min | Key finding |',
  '|-------|-----------|-----|------------|----------|-------|-------|---------|-------|----------|-------------|',
];

export function regimeRow(state: StudyState, closed: BlockClosedEvent): string {
  const best = closed.best_node === null ? undefined : state.nodes[closed.best_node - 1];
  const m = best?.metrics;
  if (!best || !m) return `| ${closed.block} | - | - | - | - | - | - | - | - | - | ${cell(closed.key_finding)} |`;
  const i = best.inr;
  return `| ${closed.block} | ${fmt(i.omega_inr)} | ${fmt(i.inr_learning_rate)} | ${i.hidden_dim_inr} | ${i.n_layers_inr} | ${i.inr_total_steps} | ${i.inr_batch_size} | ${f6(m.final_r2)} | ${f4(m.slope)} | ${f1(m.training_time_min)} | ${cell(closed.key_finding)} |`;
}

function list(items: readonly string[], empty: string): string {
  return items.length === 0 ? empty : items.map((s) => `- ${oneLine(s)}`).join('\n');
}

/** The block memory.md shows as current: the next batch's block once the last one closed. */
export function memoryBlock(state: StudyState): number {
  const last = state.blocks[state.blocks.length - 1];
  if (last?.closed) {
    const plan = planNextBatch(state);
    if (plan !== null) return plan.block;
  }
  return currentBlock(state);
}

export function renderMemory(state: StudyState, view: { block?: number } = {}): string {
  const b = view.block ?? memoryBlock(state);
  const closed = state.blocks.filter((x) => x.closed && x.index <= b).map((x) => x.closed as BlockClosedEvent);
  const latest = closed[closed.length - 1];
  const s = state.settings;

  const nodes = blockNodes(state, b);
  const batches = state.batches.filter((x) => x.block === b && x.notes);
  const lastNotes = batches[batches.length - 1]?.notes;
  const prevClose = state.blocks[b - 1]?.closed;
  const hypothesis = lastNotes?.memory.hypothesis ?? prevClose?.hypothesis_next ?? '';
  const observations = lastNotes?.memory.observations ?? '';
  const thisClosed = state.blocks[b]?.closed !== undefined;
  const first = nodes[0]?.id ?? state.nodes.length + 1;
  // A closed block has what it has; an open one is planned to `block` iterations (fewer at the study's end).
  const size = thisClosed ? nodes.length : Math.max(nodes.length, Math.min(s.block, s.iterations - first + 1));
  const done = nodes.filter((n) => n.klass !== undefined).length;
  const range = size > 0 ? `iterations ${first}-${first + size - 1}` : 'no iterations';

  const iterations = nodes.length === 0
    ? '(none yet)'
    : nodes.map((n) => {
      const r2 = n.metrics ? f6(n.metrics.final_r2) : n.status === 'failed' ? 'failed' : n.status;
      return `- Iter ${n.id} (${n.klass ?? n.status}): R2=${r2}, parent=${n.parent ?? 'root'}, ${oneLine(n.mutation)}`;
    }).join('\n');

  return [
    `# Working Memory: ${oneLine(state.name)} INR (velocity field)`,
    '',
    '## Knowledge Base (accumulated across all blocks)',
    '',
    '### Regime Comparison Table',
    ...TABLE_HEAD,
    ...closed.map((c) => regimeRow(state, c)),
    '',
    '### Established Principles',
    list(latest?.principles ?? [], '(none yet)'),
    '',
    '### Open Questions',
    list(latest?.open_questions ?? [], '(none yet)'),
    '',
    '---',
    '',
    '## Previous Block Summary',
    latest ? `Block ${latest.block}: ${escapeBlock(latest.summary)}` : '(none yet: this is the first block)',
    '',
    '---',
    '',
    '## Current Block',
    '### Block Info',
    `Block ${b}${thisClosed ? ' (closed)' : ''}: ${range} (${done} of ${size} done); agent ${s.agent}; budget ${s.max_trial_minutes} min per trial; ${s.slots} slots; UCB c = ${s.ucb_c}`,
    '### Hypothesis',
    hypothesis === '' ? '(none yet)' : escapeBlock(hypothesis),
    '### Iterations This Block',
    iterations,
    '### Emerging Observations',
    observations === '' ? '(none yet)' : escapeBlock(observations),
    '',
  ].join('\n');
}
