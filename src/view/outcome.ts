import type { StudyNode } from '../study/state.js';

/** How a trial came out, in one word for tables and legends: its status, or for a finished one pruned, paused or over budget. */
export function outcome(n: StudyNode): string {
  if (n.status !== 'finished') return n.status;
  if (n.pruned !== undefined) return n.pruned.paused ? 'paused' : 'pruned';
  return n.metrics?.time_limited ? 'over budget' : 'finished';
}
