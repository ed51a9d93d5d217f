/**
 * The exploration tree and its PUCT score (docs/reference.md, Exploration loop):
 *
 *   UCB(u) = R2(u) + c * sqrt(N) / (1 + V(u)),   V(u) = 1 + descendants of u
 *
 * - Scoring restarts each block, as in the reference: only nodes of the scored
 *   block are candidates, N counts the nodes of that block, and V counts the
 *   descendants of u that lie in that block. (u is itself in the block and
 *   blocks only grow forward, so these are all of u's descendants while the
 *   block is current; for an earlier block, later blocks' descendants are not
 *   counted.) Nodes of earlier blocks stay in the tree (parents, the figure).
 * - R2 of a failed trial, or a NaN R², scores 0 (the Optuna baseline scores a
 *   failed trial 0). An over-budget trial keeps its R² here; its class is poor.
 * - Pending nodes count in N and in their ancestors' V but are not
 *   candidates. `virtualParents` adds planned children the same way (the
 *   virtual loss of parallel tree search), for an agent that wants to spread
 *   a batch over several parents; the rules agent does not: all slots of a
 *   batch take the highest-UCB node, with different mutations.
 */
import { overBudget } from './classify.js';
import { isDone, type StudyNode, type StudyState } from './state.js';

export interface ScoredNode {
  id: number;
  parent: number | null;
  /** The R² used for scoring (0 for failed or NaN). */
  r2: number;
  /** V = 1 + descendants within the block. */
  visits: number;
  bonus: number;
  ucb: number;
  node: StudyNode;
}

export interface PuctOptions {
  block: number;
  c: number;
  /** Parents of children planned but not yet in the state (one entry per child). */
  virtualParents?: readonly (number | null)[];
}

/** The value a node scores with: its R², or 0 when it failed or has no finite R². Undefined while pending. */
export function scoreValue(node: StudyNode): number | undefined {
  if (node.status === 'failed') return 0;
  if (node.status !== 'finished' || node.metrics === undefined) return undefined;
  const r2 = node.metrics.final_r2;
  return Number.isFinite(r2) ? r2 : 0;
}

export function puctScore(r2: number, c: number, n: number, visits: number): number {
  return r2 + (c * Math.sqrt(n)) / (1 + visits);
}

/**
 * PUCT scores of the block's done nodes, highest first (ties: lower id first).
 */
export function puctScores(state: StudyState, opts: PuctOptions): ScoredNode[] {
  const inBlock = state.nodes.filter((n) => n.block === opts.block);
  const virtual = opts.virtualParents ?? [];
  const n = inBlock.length + virtual.length;
  const desc = new Map<number, number>();
  const bump = (parent: number | null): void => {
    // Walk up from the parent: every ancestor inside the block gains one descendant.
    let p = parent;
    while (p !== null) {
      const anc = state.nodes[p - 1];
      if (anc === undefined) break;
      if (anc.block === opts.block) desc.set(p, (desc.get(p) ?? 0) + 1);
      p = anc.parent;
    }
  };
  for (const node of inBlock) bump(node.parent);
  for (const parent of virtual) bump(parent);
  const out: ScoredNode[] = [];
  for (const node of inBlock) {
    const r2 = scoreValue(node);
    if (r2 === undefined) continue;
    const visits = 1 + (desc.get(node.id) ?? 0);
    const bonus = (opts.c * Math.sqrt(n)) / (1 + visits);
    out.push({ id: node.id, parent: node.parent, r2, visits, bonus, ucb: r2 + bonus, node });
  }
  return out.sort((a, b) => b.ucb - a.ucb || a.id - b.id);
}

/**
 * The block whose scores choose parents now: the block the next batch goes
 * into when it already has done nodes, else the latest block that has any
 * (the first batch of a new block builds on where the last block ended).
 * Undefined when no node is done yet.
 */
export function scoringBlock(state: StudyState, nextBlock?: number): number | undefined {
  const hasDone = (b: number): boolean => state.nodes.some((n) => n.block === b && isDone(n));
  if (nextBlock !== undefined && hasDone(nextBlock)) return nextBlock;
  for (let b = state.blocks.length - 1; b >= 0; b--) if (hasDone(b)) return b;
  return undefined;
}

/**
 * Parents for `k` slots: the highest-PUCT node of the scoring block for every
 * slot (the protocol's Step 4; the slots differ in their mutations). With no
 * done node yet, all null (root).
 */
export function planParents(state: StudyState, k: number, nextBlock?: number, c = state.settings.ucb_c): (number | null)[] {
  const block = scoringBlock(state, nextBlock);
  const top = block === undefined ? undefined : puctScores(state, { block, c })[0];
  return new Array<number | null>(k).fill(top === undefined ? null : top.id);
}

/** A finished trial that counts for "best": finite R² and within the budget. */
export function eligible(node: StudyNode, budgetMinutes: number): boolean {
  return node.status === 'finished' && node.metrics !== undefined && Number.isFinite(node.metrics.final_r2) && !overBudget(node.metrics, budgetMinutes);
}

/** The best node: highest R² among eligible nodes (ties: lower id), optionally within one block. */
export function bestNode(state: StudyState, block?: number): StudyNode | undefined {
  let best: StudyNode | undefined;
  for (const n of state.nodes) {
    if (block !== undefined && n.block !== block) continue;
    if (!eligible(n, state.settings.max_trial_minutes)) continue;
    if (best === undefined || (n.metrics as { final_r2: number }).final_r2 > (best.metrics as { final_r2: number }).final_r2) best = n;
  }
  return best;
}

/** Children of each node (all blocks), for tree figures and lineage walks. */
export function childrenOf(state: StudyState): Map<number | null, number[]> {
  const out = new Map<number | null, number[]>();
  for (const n of state.nodes) {
    const list = out.get(n.parent) ?? [];
    list.push(n.id);
    out.set(n.parent, list);
  }
  return out;
}

/** The node and its ancestors, nearest first. */
export function lineage(state: StudyState, id: number | null): StudyNode[] {
  const out: StudyNode[] = [];
  let p = id;
  while (p !== null) {
    const n = state.nodes[p - 1];
    if (n === undefined) break;
    out.push(n);
    p = n.parent;
  }
  return out;
}
