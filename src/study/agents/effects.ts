/**
 * What the data says about each move: for every parent -> child edge with
 * both trials done, the change in scored R² (failed = 0) and which parameters
 * moved which way. The rules agent ranks moves by it and writes its notes,
 * principles and open questions from it.
 */
import type { ExplorableKey } from '../../config/search-space.js';
import { EXPLORABLE_KEYS } from '../../config/search-space.js';
import type { StudyNode, StudyState } from '../state.js';
import { r2AtTenth, tenth } from '../rungs.js';
import { scoreValue } from '../tree.js';
import { direction, type Direction } from './moves.js';

export interface Change {
  key: ExplorableKey;
  from: number;
  to: number;
  dir: Direction;
}

export interface Edge {
  parent: StudyNode;
  child: StudyNode;
  /**
   * Child's scored R² minus the parent's. A pruned child's R² is that of part
   * of its steps, so it is set against the parent's at the same tenth of its
   * steps where the parent was evaluated there (`atStop`).
   */
  delta: number;
  /** For a pruned child: whether the delta compares the two at the same tenth of their steps. */
  atStop?: boolean;
  changes: Change[];
}

/** The parent's R² at the tenth of its steps the pruned `child` stopped at, if it was evaluated there. */
function parentAtStop(parent: StudyNode, child: StudyNode): number | undefined {
  if (child.pruned === undefined) return undefined;
  const r2 = r2AtTenth(parent, tenth(child.pruned.step, child.inr.inr_total_steps));
  return r2 !== undefined && Number.isFinite(r2) ? r2 : undefined;
}

export function changesBetween(parent: StudyNode, child: StudyNode): Change[] {
  return EXPLORABLE_KEYS.filter((k) => parent.inr[k] !== child.inr[k]).map((k) => ({
    key: k, from: parent.inr[k], to: child.inr[k], dir: direction(parent.inr[k], child.inr[k]),
  }));
}

export function edgesOf(state: StudyState, include: (child: StudyNode) => boolean = () => true): Edge[] {
  const out: Edge[] = [];
  for (const child of state.nodes) {
    if (child.parent === null || !include(child)) continue;
    const parent = state.nodes[child.parent - 1];
    const c = scoreValue(child);
    const p = scoreValue(parent);
    if (c === undefined || p === undefined) continue;
    const changes = changesBetween(parent, child);
    if (changes.length === 0) continue;
    const before = parentAtStop(parent, child);
    out.push(before === undefined ? { parent, child, delta: c - p, changes } : { parent, child, delta: c - before, atStop: true, changes });
  }
  return out;
}

/** An R² change smaller than this is no clear effect. */
export const NO_EFFECT = 5e-4;

export interface MoveStat {
  key: ExplorableKey;
  dir: Direction;
  n: number;
  mean: number;
  /** Trials whose R² rose (fell) by more than NO_EFFECT. */
  better: number;
  worse: number;
  /** Child node ids. */
  nodes: number[];
  /** The R² change of the latest edge whose child trained to its end or was compared at its stop (`Edge.atStop`); 0 if none. */
  last: number;
}

/**
 * Whether an edge's delta can be a move's latest result: a child that trained
 * to its end, or a pruned one compared with its parent at the same tenth.
 */
export function isLatest(e: Edge): boolean {
  return e.child.pruned === undefined || e.atStop === true;
}

/**
 * What a move (or pair of moves) is expected to gain from its record: its
 * mean, unless its latest result lost, which then stands (gains far from a
 * good region are large, and a study-wide mean would keep proposing what the
 * region the walk has reached no longer rewards).
 */
export function expectedFrom(s: { mean: number; last: number }): number {
  return s.last < -NO_EFFECT ? s.last : s.mean;
}

export function statId(key: ExplorableKey, dir: Direction): string {
  return `${key}:${dir}`;
}

/** Deltas of single-parameter edges (or of every edge a parameter moved in, when `singleOnly` is false). */
export function moveStats(edges: readonly Edge[], singleOnly = true): Map<string, MoveStat> {
  const out = new Map<string, MoveStat>();
  for (const e of edges) {
    if (singleOnly && e.changes.length !== 1) continue;
    for (const ch of e.changes) {
      const id = statId(ch.key, ch.dir);
      const s = out.get(id) ?? { key: ch.key, dir: ch.dir, n: 0, mean: 0, better: 0, worse: 0, nodes: [], last: 0 };
      s.mean = (s.mean * s.n + e.delta) / (s.n + 1);
      if (isLatest(e)) s.last = e.delta;
      s.n += 1;
      if (e.delta > NO_EFFECT) s.better += 1;
      if (e.delta < -NO_EFFECT) s.worse += 1;
      s.nodes.push(e.child.id);
      out.set(id, s);
    }
  }
  return out;
}

/** Consecutive done trials (latest first) with R² >= threshold. */
export function highStreak(state: StudyState, threshold = 0.95): number {
  let n = 0;
  for (let i = state.nodes.length - 1; i >= 0; i--) {
    const s = scoreValue(state.nodes[i]);
    if (s === undefined) continue;
    if (s >= threshold) n++;
    else break;
  }
  return n;
}

/** How often each parameter changed along a node's lineage (the node and its ancestors). */
export function lineageCounts(state: StudyState, id: number | null): Map<ExplorableKey, number> {
  const counts = new Map<ExplorableKey, number>();
  let p = id;
  while (p !== null) {
    const n = state.nodes[p - 1];
    if (n === undefined) break;
    for (const k of n.changed) counts.set(k, (counts.get(k) ?? 0) + 1);
    p = n.parent;
  }
  return counts;
}
