/** `study status`: a table of nodes and the best so far, as plain text. */
import { fmt } from '../../config/messages.js';
import type { StudyState } from '../state.js';
import { nextAction } from '../state.js';
import { bestNode } from '../tree.js';
import { configBrief, e3, f1, f4, f6, oneLine } from './text.js';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => (j === r.length - 1 ? 0 : r[j].length))));
  return rows.map((r) => r.map((c, j) => (j === r.length - 1 ? c : c.padEnd(widths[j]))).join('  ').trimEnd()).join('\n');
}

/** The LLM agent's spending so far (fallbacks are in the trials' sources). */
function llmLine(state: StudyState): string {
  const l = state.llm;
  const llm = state.settings.llm;
  const sources = state.nodes.filter((n) => n.source === 'fallback').length;
  const model = state.calls[state.calls.length - 1]?.model ?? llm?.model ?? '(default model)';
  return `llm: ${llm?.provider ?? '?'} ${model}, ${l.calls} calls (${l.failed} failed), ${l.input_tokens} tokens in / ${l.output_tokens} out${l.cost_usd > 0 ? `, $${l.cost_usd.toFixed(4)}` : ''}; ${sources} slot${sources === 1 ? '' : 's'} filled by the rules agent`;
}

export function renderStatus(state: StudyState, opts: { mutationWidth?: number } = {}): string {
  const width = opts.mutationWidth ?? 60;
  const rows: string[][] = [['id', 'parent', 'block', 'class', 'R2', 'MSE', 'slope', 'time', 'mutation']];
  for (const n of state.nodes) {
    const m = n.metrics;
    let mutation = oneLine(n.mutation);
    if (mutation.length > width) mutation = mutation.slice(0, width - 3) + '...';
    rows.push([
      String(n.id), n.parent === null ? 'root' : String(n.parent), String(n.block), n.klass ?? n.status,
      m ? f6(m.final_r2) : '-', m ? e3(m.final_mse) : '-', m ? f4(m.slope) : '-',
      m ? `${f1(m.training_time_min)}m` : n.failed_minutes !== undefined ? `${f1(n.failed_minutes)}m` : '-', mutation,
    ]);
  }
  const s = state.settings;
  const best = bestNode(state);
  const next = nextAction(state);
  const lines = [
    `study ${oneLine(state.name)}: agent ${s.agent}, seed ${s.seed}, ${state.nodes.filter((n) => n.klass).length}/${s.iterations} trials done, budget ${fmt(s.max_trial_minutes)} min per trial`,
    '',
    table(rows),
    '',
    best
      ? `best: node ${best.id} R2=${f6(best.metrics!.final_r2)} (${best.klass}) ${configBrief(best.inr)}`
      : 'best: none yet (no trial finished within the budget)',
    ...(state.llm.calls > 0 ? [llmLine(state)] : []),
    `next: ${next.kind === 'run' ? `run nodes ${next.nodes.join(', ')}` : next.kind === 'propose' ? `propose batch ${next.batch}` : next.kind === 'analyse' ? `analyse batch ${next.batch}` : next.kind === 'close_block' ? `close block ${next.block}` : 'done'}`,
  ];
  return lines.join('\n') + '\n';
}
