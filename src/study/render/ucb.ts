/**
 * ucb_scores.txt: the PUCT scores of the current block, highest first, one
 * line per done node in the reference's format (docs/reference.md, Exploration loop):
 *
 *   Node N: UCB=x.xxx, parent=P|root, visits=V, R2=x.xxxxxx, MSE=x.xxxxxxe-xx, slope=x.xxxx, time=x.xmin, mutation=...
 *
 * R2 is the scored value (0 for a failed trial, whose MSE and slope are nan).
 * Two header lines starting with `#` give the block, c, N and the formula, so
 * the bonus c*sqrt(N)/(1+V) of every line can be read off.
 */
import type { StudyState } from '../state.js';
import { currentBlock } from '../state.js';
import { puctScores, type ScoredNode } from '../tree.js';
import { e6, f1, f3, f4, f6, mutationWithOutcome, oneLine } from './text.js';

export function ucbLine(s: ScoredNode): string {
  const m = s.node.metrics;
  const time = m ? m.training_time_min : (s.node.failed_minutes ?? 0);
  const mutation = mutationWithOutcome(s.node);
  return `Node ${s.id}: UCB=${f3(s.ucb)}, parent=${s.parent ?? 'root'}, visits=${s.visits}, R2=${f6(s.r2)}, MSE=${m ? e6(m.final_mse) : 'nan'}, slope=${m ? f4(m.slope) : 'nan'}, time=${f1(Number.isFinite(time) ? time : 0)}min, mutation=${oneLine(mutation)}`;
}

export function renderUcb(state: StudyState, block = currentBlock(state)): string {
  const c = state.settings.ucb_c;
  const n = state.nodes.filter((x) => x.block === block).length;
  const scored = puctScores(state, { block, c });
  return [
    `# UCB scores, block ${block}: UCB = R2 + c*sqrt(N)/(1+V), c=${c}, N=${n} (nodes in this block), visits V = 1 + descendants in this block`,
    `# scoring restarts each block; a failed trial scores R2=0; bonus per visits: ${[...new Set(scored.map((s) => s.visits))].sort((a, b) => a - b).map((v) => `V=${v}: ${f3((c * Math.sqrt(n)) / (1 + v))}`).join(', ') || 'none'}`,
    ...scored.map(ucbLine),
    '',
  ].join('\n');
}
