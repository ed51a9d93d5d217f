/**
 * The protocol's mutation moves (lr x2 or /2, width +-128, steps x1.5 or x2,
 * omega +-5, batch x2 or /2, and the table's moves for depth and periods), as
 * data the agents apply and the notes describe.
 */
import { fmt } from '../../config/messages.js';
import { EXPLORABLE_KEYS, searchParam, type ExplorableKey } from '../../config/search-space.js';
import type { SearchRange } from '../../config/search-range.js';
import { snapToRange } from '../safety.js';

export type Direction = 'up' | 'down';

export interface Move {
  key: ExplorableKey;
  op: 'multiply' | 'add';
  by: number;
  dir: Direction;
  /** `x2`, `/2`, `+128`, `-5`, `x1.5`, `/1.5`. */
  label: string;
}

export function moveLabel(op: 'multiply' | 'add', by: number): string {
  if (op === 'add') return by >= 0 ? `+${fmt(by)}` : `-${fmt(-by)}`;
  if (by >= 1) return `x${fmt(by)}`;
  return `/${fmt(Number((1 / by).toPrecision(6)))}`;
}

export function protocolMoves(key: ExplorableKey): Move[] {
  const m = searchParam(key).mutation;
  return m.by.map((by) => ({
    key, op: m.op, by, dir: (m.op === 'add' ? by > 0 : by > 1) ? 'up' : 'down', label: moveLabel(m.op, by),
  }));
}

export const ALL_MOVES: readonly Move[] = EXPLORABLE_KEYS.flatMap(protocolMoves);

/** The value after the move, snapped into the range; undefined when the move changes nothing (at a bound). */
export function applyMove(value: number, move: Move, range: SearchRange): number | undefined {
  const raw = move.op === 'add' ? value + move.by : value * move.by;
  const to = snapToRange(range.integer ? Math.round(raw) : Number(raw.toPrecision(12)), range);
  return to === value ? undefined : to;
}

/** `inr_learning_rate 1e-4 -> 2e-4 (x2)`; the label is inferred when not given. */
export function describeChange(key: ExplorableKey, from: number, to: number, label?: string): string {
  return `${key} ${fmt(from)} -> ${fmt(to)} (${label ?? inferLabel(key, from, to)})`;
}

/** The move label that best describes an arbitrary change (a clamped move, a user's edit). */
export function inferLabel(key: ExplorableKey, from: number, to: number): string {
  const op = searchParam(key).mutation.op;
  if (op === 'add') return moveLabel('add', Number((to - from).toPrecision(6)));
  if (from === 0) return 'set';
  return moveLabel('multiply', Number((to / from).toPrecision(3)));
}

export function direction(from: number, to: number): Direction {
  return to > from ? 'up' : 'down';
}
