/**
 * The rules agent: the protocol's strategy in code, deterministic given the seed.
 *
 * Proposing (per slot, in order):
 * - parent: the highest-PUCT node of the scoring block, the same for every
 *   slot of the batch (the next-ranked node only when the top one has no free
 *   move left);
 * - failure-probe: when the latest 3+ done trials all have R² >= 0.95, one
 *   slot of the batch pushes one parameter to an end of its range (the end the
 *   data favours; parameters taken in turn) to find where R² breaks;
 * - exploit (default): the protocol move with the best expected gain
 *   (`expectedGain`: the move's mean R² change alone, its latest loss, a
 *   small prior, or half its opposite's latest loss); moves that would break
 *   the budget are skipped; the first slot combines the two best moves that
 *   each expect a gain (a 2-parameter mutation), unless that pair's mean or
 *   latest trial lost;
 * - stride: a move that gained R² >= STRIDE_GAIN on the step into the parent
 *   is taken at twice that step (up to MAX_STRIDE times the protocol's);
 * - switch-param: a parameter already changed 4+ times along the parent's
 *   lineage is not mutated again; when that excludes the move exploit would
 *   have made, the slot is labelled switch-param;
 * - the slots of a batch change different parameters (relaxed only when the
 *   batch has more slots than there are moves).
 * Batch 0 (nothing done yet): the base config and diverse two-parameter
 * starts around it.
 *
 * Notes, memory and block summaries are computed from the results: which move
 * changed R² and by how much, ranks, the best regime, per-move statistics.
 */
import { fmt } from '../../config/messages.js';
import { EXPLORABLE_KEYS, searchParam, type ExplorableKey } from '../../config/search-space.js';
import type { InrConfig } from '../../config/inr.js';
import { BUDGET_MARGIN, fitToBudget } from '../cost-model.js';
import { overBudget } from '../classify.js';
import type { NodeNote, Strategy } from '../journal.js';
import { findDuplicate, snapToRange, safetyContext } from '../safety.js';
import { blockNodes, isDone, planNextBatch, type StudyNode, type StudyState } from '../state.js';
import { bestNode, planParents, puctScores, scoreValue, scoringBlock } from '../tree.js';
import { configBrief, e3, f1, f4, f6, signed } from '../render/text.js';
import type { Agent, AgentNotes, AnalyseContext, BlockSummary, CloseBlockContext, Proposal, ProposeContext } from './agent.js';
import { NO_EFFECT, changesBetween, edgesOf, expectedFrom, highStreak, isLatest, lineageCounts, moveStats, statId, type Change, type Edge, type MoveStat } from './effects.js';
import { ALL_MOVES, applyMove, describeChange, inferLabel, moveLabel, type Direction, type Move } from './moves.js';

export const FAILURE_PROBE_STREAK = 3;
export const FAILURE_PROBE_R2 = 0.95;
export const SWITCH_PARAM_COUNT = 4;

/** Expected gain of a move nobody has tried yet: a tie-breaking preference, small against any measured effect. */
const UNTRIED_PRIOR: Record<string, number> = {
  'inr_learning_rate:up': 0.002, 'inr_learning_rate:down': 0.001,
  'omega_inr:down': 0.002, 'omega_inr:up': 0.001,
  'hidden_dim_inr:up': 0.0015, 'hidden_dim_inr:down': 0.0005,
  'inr_total_steps:up': 0.0015, 'inr_total_steps:down': -0.002,
  'inr_batch_size:up': 0.0005, 'inr_batch_size:down': 0.0005,
  'n_layers_inr:up': 0, 'n_layers_inr:down': 0,
  'inr_xy_period:up': -0.002, 'inr_xy_period:down': -0.002,
  'inr_t_period:up': -0.002, 'inr_t_period:down': -0.002,
};

/** Parameters a failure-probe pushes, in turn. Steps are left out: the budget bounds them anyway. */
const PROBE_KEYS: readonly ExplorableKey[] = ['inr_learning_rate', 'omega_inr', 'hidden_dim_inr', 'inr_batch_size', 'n_layers_inr', 'inr_xy_period', 'inr_t_period'];
/** The end of the range probed first when the data favour neither. */
const PROBE_DEFAULT_END: Record<ExplorableKey, 'max' | 'min'> = {
  inr_learning_rate: 'max', omega_inr: 'max', hidden_dim_inr: 'max', inr_batch_size: 'min', n_layers_inr: 'max',
  inr_xy_period: 'max', inr_t_period: 'max', inr_total_steps: 'max',
};

/** Moves that make a trial cost more time. */
const COSTLY = new Set(['hidden_dim_inr:up', 'n_layers_inr:up', 'inr_total_steps:up', 'inr_batch_size:up']);
/** Moves that make each step cheaper, so that the budget buys more steps. */
const CHEAPER = new Set(['hidden_dim_inr:down', 'n_layers_inr:down', 'inr_batch_size:down']);
/** A bonus of this size (a clear R² gain) goes to the moves a budget-bound parent needs. */
const BUDGET_BONUS = 0.01;
/** A trial that ran this share of its budget or more was bounded by it (its steps were fitted to it, or it was stopped). */
const BUDGET_BOUND_SHARE = 0.8;

/**
 * A move that gained at least this much R² on the step into the parent is
 * taken at twice that step's size (omega +10, lr x4), as a pattern search
 * grows a winning step. Gains this large come far from the good region (a
 * base omega of 1); near it the protocol's step sizes stand.
 */
const STRIDE_GAIN = 0.02;
/** The largest multiple of the protocol's step a stride reaches. */
const MAX_STRIDE = 4;

/** Diverse starts for batch 0: two protocol moves each, around the base. */
const STARTS: readonly [ExplorableKey, string][][] = [
  [['omega_inr', '-5'], ['inr_learning_rate', 'x2']],
  [['omega_inr', '+5'], ['inr_learning_rate', '/2']],
  [['hidden_dim_inr', '+128'], ['inr_total_steps', 'x1.5']],
  [['hidden_dim_inr', '-128'], ['inr_batch_size', '/2']],
  [['n_layers_inr', '-1'], ['omega_inr', '-5']],
  [['inr_batch_size', 'x2'], ['inr_learning_rate', 'x2']],
  [['n_layers_inr', '+1'], ['inr_learning_rate', '/2']],
];

function findMove(key: ExplorableKey, label: string): Move {
  const m = ALL_MOVES.find((x) => x.key === key && x.label === label);
  if (!m) throw new Error(`no move ${key} ${label}`); // unreachable: the table above uses the protocol's labels
  return m;
}

interface Candidate {
  move: Move;
  to: number;
  /** The ranking: the expected gain, budget bonuses and a tie-breaking jitter. */
  score: number;
  /** The expected R² gain (`expectedGain`) and what it rests on. */
  gain: number;
  why: string;
  stat?: MoveStat;
  /** The multiple of the protocol's step (1, 2 or 4). */
  stride: number;
}

function statText(s: MoveStat | undefined): string {
  if (s === undefined) return 'untried move';
  return `mean dR2 ${signed(s.mean)} over ${s.n} earlier trial${s.n === 1 ? '' : 's'}`;
}

/**
 * The single move that made `parent`, when it gained at least STRIDE_GAIN,
 * and the stride the same move takes next: twice that step's multiple of the
 * protocol's, up to MAX_STRIDE.
 */
function winningStep(state: StudyState, parent: StudyNode): { key: ExplorableKey; dir: Direction; stride: number } | undefined {
  if (parent.parent === null) return undefined;
  const up = state.nodes[parent.parent - 1];
  const before = scoreValue(up);
  const after = scoreValue(parent);
  if (before === undefined || after === undefined || after - before < STRIDE_GAIN) return undefined;
  const [change, ...more] = chosenChanges(up, parent, state.settings.max_trial_minutes);
  if (change === undefined || more.length > 0) return undefined;
  const move = ALL_MOVES.find((m) => m.key === change.key && m.dir === change.dir);
  if (move === undefined) return undefined;
  const steps = move.op === 'add' ? (change.to - change.from) / move.by : Math.log(change.to / change.from) / Math.log(move.by);
  return { key: change.key, dir: change.dir, stride: Math.min(MAX_STRIDE, 2 * 2 ** Math.round(Math.log2(Math.max(1, steps)))) };
}

/** The stride of `move` after `won` (the parent's `winningStep`): 1 unless it is the same move. */
function stride(won: ReturnType<typeof winningStep>, move: Move): number {
  if (won === undefined || won.key !== move.key || won.dir !== move.dir) return 1;
  // Steps have two sizes each way (x1.5, x2): which one a stride doubles would be a guess.
  if (ALL_MOVES.filter((m) => m.key === move.key && m.dir === move.dir).length > 1) return 1;
  // Nor do cheaper steps: under a budget they gain by the steps the freed time buys, which stop at
  // the base config's, so twice the cut (batch /4) would train as many steps on less.
  if (CHEAPER.has(statId(move.key, move.dir))) return 1;
  return won.stride;
}

function strided(move: Move, times: number): Move {
  if (times === 1) return move;
  const by = move.op === 'add' ? move.by * times : move.by ** times;
  return { ...move, by, label: moveLabel(move.op, by) };
}

export class RulesAgent implements Agent {
  readonly name = 'rules';

  async propose(ctx: ProposeContext): Promise<Proposal[]> {
    return proposeRules(ctx);
  }

  async analyse(ctx: AnalyseContext): Promise<AgentNotes> {
    return analyseRules(ctx);
  }

  async closeBlock(ctx: CloseBlockContext): Promise<BlockSummary> {
    return closeBlockRules(ctx);
  }
}

/** The rules agent's proposals for `ctx.slots` slots. */
export function proposeRules(ctx: ProposeContext): Proposal[] {
  const { state } = ctx;
  const pending: InrConfig[] = [...ctx.pending];
  const free = (inr: InrConfig): boolean => findDuplicate(inr, safetyContext(state, pending)) === undefined;
  if (!state.nodes.some(isDone)) return startConfigs(ctx, pending, free);

  const edges = measuredEdges(state);
  const stats = moveStats(edges);
  const pairs = pairGains(edges);
  const usedKeys = new Set<ExplorableKey>();
  const usedMoves = new Set<string>();
  const streak = highStreak(state, FAILURE_PROBE_R2);
  const probesBefore = state.nodes.filter((n) => n.strategy === 'failure-probe').length;
  let probed = false;
  const out: Proposal[] = [];
  const sb = scoringBlock(state, ctx.block);
  const ranked = sb === undefined ? [] : puctScores(state, { block: sb, c: state.settings.ucb_c });
  for (let slot = 0; slot < ctx.slots; slot++) {
    let proposal: (Proposal & { full: InrConfig; keys: ExplorableKey[]; moveIds: string[] }) | undefined;
    // The top-PUCT parent first; if nothing fits there (every move a duplicate), the next ones.
    for (const top of ranked) {
      const parent = top.node;
      if (streak >= FAILURE_PROBE_STREAK && !probed) {
        proposal = failureProbe(ctx, parent, stats, usedKeys, probesBefore, streak, free);
        if (proposal) probed = true;
      }
      proposal ??= exploit(ctx, parent, stats, pairs, usedKeys, usedMoves, slot === 0 && out.length === 0, free);
      if (proposal) break;
    }
    proposal ??= randomRoot(ctx, free);
    if (proposal === undefined) break;
    out.push({ parent: proposal.parent, inr: proposal.inr, mutation: proposal.mutation, strategy: proposal.strategy });
    pending.push(proposal.full);
    for (const k of proposal.keys) usedKeys.add(k);
    for (const m of proposal.moveIds) usedMoves.add(m);
  }
  return out;
}

type Built = Proposal & { full: InrConfig; keys: ExplorableKey[]; moveIds: string[] };

/** One parameter's new value, by a move (the protocol's or a stride), or set for the reason `label` gives. */
type ChangeSpec = { key: ExplorableKey; to: number } & ({ move: Move } | { label: string });

function build(parent: StudyNode | null, base: InrConfig, changes: ChangeSpec[], strategy: Strategy, prefix: string, suffix: string): Built {
  const full = { ...base };
  const inr: Record<string, number> = {};
  const texts: string[] = [];
  for (const c of changes) {
    texts.push(describeChange(c.key, full[c.key], c.to, labelFor(c, full[c.key])));
    full[c.key] = c.to;
    inr[c.key] = c.to;
  }
  const mutation = `${prefix}${texts.join('; ')}${suffix}`;
  return {
    parent: parent?.id ?? null, inr, mutation, strategy, full, keys: changes.map((c) => c.key),
    moveIds: changes.map((c) => statId(c.key, c.to > base[c.key] ? 'up' : 'down')),
  };
}

/** The move's label, or what the change really was when the range clamped the move. */
function labelFor(c: ChangeSpec, from: number): string {
  if (!('move' in c)) return c.label;
  const { key, to, move } = c;
  const raw = move.op === 'add' ? from + move.by : from * move.by;
  if (Math.abs(raw - to) <= 1e-9 * Math.max(1, Math.abs(raw)) || (searchParam(key).integer && Math.round(raw) === to)) return move.label;
  return `${inferLabel(key, from, to)}: ${move.label} clamped to the search range`;
}

/** Whether the budget bounded the node: stopped by it, over it, or it ran most of it. */
function budgetBound(node: StudyNode, budgetMinutes: number): boolean {
  const m = node.metrics;
  return m !== undefined && (overBudget(m, budgetMinutes) || m.training_time_min >= BUDGET_BOUND_SHARE * budgetMinutes);
}

/** The protocol's factors for steps (x1.5, x2, /1.5, /2). */
const STEPS_FACTORS = ALL_MOVES.filter((m) => m.key === 'inr_total_steps').map((m) => m.by);

/**
 * The changes from `up` to `node` that the agent chose. When the budget bounds
 * either trial, a change of steps beside another change by no protocol factor
 * is the budget's: fitted to it, or the steps a cheaper move's freed budget
 * buys (the refill `withRefill` adds). Counted as a second parameter, it would
 * keep every move under a tight budget from ever being measured alone: the
 * move would stay "untried" and keep its prior, and no stride could follow a
 * gain.
 */
function chosenChanges(up: StudyNode, node: StudyNode, budgetMinutes: number): Change[] {
  const changes = changesBetween(up, node);
  if (changes.length < 2 || !(budgetBound(up, budgetMinutes) || budgetBound(node, budgetMinutes))) return changes;
  const budgets = (c: Change): boolean => c.key === 'inr_total_steps' && !STEPS_FACTORS.some((f) => Math.abs(c.to / c.from / f - 1) < 0.01);
  return changes.filter((c) => !budgets(c));
}

/** The study's edges, each with the changes the agent chose (`chosenChanges`). */
function measuredEdges(state: StudyState): Edge[] {
  const budget = state.settings.max_trial_minutes;
  return edgesOf(state).map((e) => ({ ...e, changes: chosenChanges(e.parent, e.child, budget) }));
}

/**
 * The expected gain of a move and why: from its earlier single-parameter
 * edges, their mean R² change or its latest loss (`expectedFrom`). A move
 * not yet made alone gets its prior, or, when the opposite
 * move's latest trial lost R², half that loss, as a compass search turns
 * round after a failed step; its own result replaces the estimate after one
 * trial.
 */
function expectedGain(id: string, stat: MoveStat | undefined, opposite: MoveStat | undefined): { gain: number; why: string } {
  if (stat !== undefined) {
    const gain = expectedFrom(stat);
    if (gain === stat.mean) return { gain, why: statText(stat) };
    return { gain, why: stat.n === 1 ? statText(stat) : `${statText(stat)}, the latest ${signed(stat.last)}` };
  }
  const prior = UNTRIED_PRIOR[id] ?? 0;
  if (opposite !== undefined && opposite.last < -NO_EFFECT && -opposite.last / 2 > prior) {
    return { gain: -opposite.last / 2, why: `untried move; the opposite move's latest trial lost ${signed(opposite.last)}` };
  }
  return { gain: prior, why: statText(undefined) };
}

/**
 * Moves scored from the parent by their expected gain. Costly moves
 * predicted over budget are left out. When the budget bounds the parent
 * (stopped by it, or it ran most of it), cheaper moves
 * gain: a move that costs nothing more gets the bonus once its parent is
 * over, and a move that makes each step cheaper gets it whenever the parent
 * is bound, since the fitted steps then grow.
 */
function candidates(ctx: ProposeContext, parent: StudyNode, stats: Map<string, MoveStat>): Candidate[] {
  const parentOver = parent.metrics !== undefined && overBudget(parent.metrics, ctx.budgetMinutes);
  const bound = budgetBound(parent, ctx.budgetMinutes);
  const won = winningStep(ctx.state, parent);
  const out: Candidate[] = [];
  for (const protocolMove of ALL_MOVES) {
    const id = statId(protocolMove.key, protocolMove.dir);
    const affordable = (to: number): boolean => !COSTLY.has(id) || ctx.cost.predictMinutes({ ...parent.inr, [protocolMove.key]: to }) <= ctx.budgetMinutes * BUDGET_MARGIN;
    // A stride the budget cannot pay for falls back to smaller ones, down to the protocol's step.
    let found: { move: Move; to: number; times: number } | undefined;
    for (let times = stride(won, protocolMove); times >= 1 && found === undefined; times /= 2) {
      const move = strided(protocolMove, times);
      const to = applyMove(parent.inr[move.key], move, ctx.space[move.key]);
      if (to !== undefined && affordable(to)) found = { move, to, times };
    }
    if (found === undefined) continue;
    const { move, to, times } = found;
    const stat = stats.get(id);
    const { gain, why } = expectedGain(id, stat, stats.get(statId(protocolMove.key, protocolMove.dir === 'up' ? 'down' : 'up')));
    let score = gain;
    if (!COSTLY.has(id) && parentOver) score += BUDGET_BONUS;
    if (bound && CHEAPER.has(id)) score += BUDGET_BONUS;
    // A tiny seeded jitter breaks ties, so the seed matters and the order is still reproducible.
    score += 1e-9 * ctx.rng.uniform();
    out.push({ move, to, score, gain, why, stat, stride: times });
  }
  // Equal scores keep the protocol's move order (the table's order), jitter aside.
  return out.sort((a, b) => b.score - a.score);
}

/**
 * The changes for `picks` from `parent`, plus the steps the budget then buys
 * when one of them makes each step cheaper and the budget bounds the parent
 * (up to the base config's steps, within the search range, and only when
 * clearly more than the parent's). Without them the cheaper trial would train
 * the parent's fitted steps and only finish sooner.
 */
function withRefill(ctx: ProposeContext, parent: StudyNode, picks: Candidate[], free: (inr: InrConfig) => boolean): { changes: ChangeSpec[]; refilled: boolean } {
  const changes: ChangeSpec[] = picks.map((c) => ({ key: c.move.key, to: c.to, move: c.move }));
  const child = { ...parent.inr };
  for (const c of picks) child[c.move.key] = c.to;
  const cheaper = picks.some((c) => CHEAPER.has(statId(c.move.key, c.move.dir)));
  if (!cheaper || picks.some((c) => c.move.key === 'inr_total_steps') || !budgetBound(parent, ctx.budgetMinutes)) return { changes, refilled: false };
  const range = ctx.space.inr_total_steps;
  const want = Math.min(range.max, Math.max(ctx.base.inr.inr_total_steps, parent.inr.inr_total_steps));
  const steps = fitToBudget({ ...child, inr_total_steps: want }, '', ctx.cost, ctx.budgetMinutes, ctx.space).inr.inr_total_steps;
  if (steps < 1.1 * parent.inr.inr_total_steps || !free({ ...child, inr_total_steps: steps })) return { changes, refilled: false };
  return { changes: [...changes, { key: 'inr_total_steps', to: steps, label: 'to the budget' }], refilled: true };
}

const REFILL_TEXT = '; the budget bounds the parent, so the cheaper steps buy more of them';

/** The two moves of a two-parameter mutation, in either order. */
function pairId(moves: readonly { key: ExplorableKey; dir: Direction }[]): string {
  return moves.map((m) => statId(m.key, m.dir)).sort().join(' + ');
}

/** What every pair of moves made together (two-parameter edges) is expected to gain, by the single moves' rule (`expectedFrom`). */
function pairGains(edges: readonly Edge[]): Map<string, number> {
  const sums = new Map<string, { n: number; sum: number; last: number }>();
  for (const e of edges) {
    if (e.changes.length !== 2) continue;
    const id = pairId(e.changes);
    const s = sums.get(id) ?? { n: 0, sum: 0, last: 0 };
    sums.set(id, { n: s.n + 1, sum: s.sum + e.delta, last: isLatest(e) ? e.delta : s.last });
  }
  return new Map([...sums].map(([id, s]) => [id, expectedFrom({ mean: s.sum / s.n, last: s.last })]));
}

function exploit(
  ctx: ProposeContext, parent: StudyNode, stats: Map<string, MoveStat>, pairs: Map<string, number>, usedKeys: Set<ExplorableKey>,
  usedMoves: Set<string>, first: boolean, free: (inr: InrConfig) => boolean,
): Built | undefined {
  const counts = lineageCounts(ctx.state, parent.id);
  const exhausted = (k: ExplorableKey): boolean => (counts.get(k) ?? 0) >= SWITCH_PARAM_COUNT;
  const ranked = candidates(ctx, parent, stats);
  const fits = (c: Candidate): boolean => free({ ...parent.inr, [c.move.key]: c.to });
  const r2 = scoreValue(parent) ?? 0;
  const prefix = '';

  // Two moves that each improved R² before, combined (the protocol allows 1-2 parameters).
  if (first) {
    const good = ranked.filter((c) => c.stat !== undefined && c.gain > 0 && !exhausted(c.move.key) && !usedKeys.has(c.move.key));
    const a = good[0];
    // A pair made together before and no better for it is not made again; each move alone still can be.
    const b = a && good.find((c) => c.move.key !== a.move.key && (pairs.get(pairId([a.move, c.move])) ?? Infinity) > NO_EFFECT);
    if (a && b && free({ ...parent.inr, [a.move.key]: a.to, [b.move.key]: b.to })) {
      const { changes, refilled } = withRefill(ctx, parent, [a, b], free);
      return build(parent, parent.inr, changes, 'exploit', prefix,
        ` (both improved R2 before: ${signed(a.gain)} and ${signed(b.gain)}; parent R2=${f6(r2)}${refilled ? REFILL_TEXT : ''})`);
    }
  }

  const passes: ((c: Candidate) => boolean)[] = [
    (c) => !usedKeys.has(c.move.key) && !exhausted(c.move.key),
    (c) => !usedMoves.has(statId(c.move.key, c.move.dir)) && !exhausted(c.move.key),
    (c) => !usedMoves.has(statId(c.move.key, c.move.dir)),
    () => true,
  ];
  const wouldPick = ranked.find((c) => !usedKeys.has(c.move.key) && fits(c)) ?? ranked.find(fits);
  for (const pass of passes) {
    const pick = ranked.find((c) => pass(c) && fits(c));
    if (!pick) continue;
    const switched = wouldPick !== undefined && exhausted(wouldPick.move.key) && !exhausted(pick.move.key);
    const strategy: Strategy = switched ? 'switch-param' : 'exploit';
    const { changes, refilled } = withRefill(ctx, parent, [pick], free);
    const because = switched
      ? `switch-param: ${wouldPick.move.key} already changed ${counts.get(wouldPick.move.key)} times on this lineage; ${pick.why}`
      : `${pick.why}; parent R2=${f6(r2)}`;
    const grown = pick.stride > 1 ? `; ${pick.stride}x the protocol's step: the same move gained ${signed(STRIDE_GAIN)} or more into the parent` : '';
    return build(parent, parent.inr, changes, strategy, prefix, ` (${because}${grown}${refilled ? REFILL_TEXT : ''})`);
  }
  return undefined;
}

function failureProbe(
  ctx: ProposeContext, parent: StudyNode, stats: Map<string, MoveStat>, usedKeys: Set<ExplorableKey>, probesBefore: number,
  streak: number, free: (inr: InrConfig) => boolean,
): Built | undefined {
  // First pass: only boundaries not probed before; second: any.
  for (let pass = 0; pass < 2; pass++) for (let j = 0; j < PROBE_KEYS.length; j++) {
    const key = PROBE_KEYS[(probesBefore + j) % PROBE_KEYS.length];
    if (usedKeys.has(key)) continue;
    const r = ctx.space[key];
    const up = stats.get(statId(key, 'up'));
    const down = stats.get(statId(key, 'down'));
    let first: 'max' | 'min' = PROBE_DEFAULT_END[key];
    if (up && up.mean > 0 && !(down && down.mean > up.mean)) first = 'max';
    else if (down && down.mean > 0) first = 'min';
    for (const end of [first, first === 'max' ? 'min' : 'max'] as const) {
      const raw = r.choices ? (end === 'max' ? r.choices[r.choices.length - 1] : r.choices[0]) : end === 'max' ? r.max : r.min;
      const to = snapToRange(raw, r);
      if (to === parent.inr[key]) continue;
      const full = { ...parent.inr, [key]: to };
      const seen = ctx.state.nodes.some((n) => n.strategy === 'failure-probe' && n.changed.includes(key) && n.inr[key] === to);
      if (free(full) && (!seen || pass === 1)) {
        return build(parent, parent.inr, [{ key, to, label: `range ${end}` }], 'failure-probe', 'failure-probe: ',
          ` after ${streak} consecutive R2 >= ${FAILURE_PROBE_R2}, to find where R2 breaks`);
      }
    }
  }
  return undefined;
}

function startConfigs(ctx: ProposeContext, pending: InrConfig[], free: (inr: InrConfig) => boolean): Proposal[] {
  const out: Proposal[] = [];
  // The base config, snapped into the study's space (a narrowed space may exclude the defaults).
  const base = { ...ctx.base.inr };
  const snapped: string[] = [];
  for (const k of EXPLORABLE_KEYS) {
    const v = snapToRange(base[k], ctx.space[k]);
    if (v !== base[k]) snapped.push(`${k} ${fmt(base[k])} -> ${fmt(v)}`);
    base[k] = v;
  }
  const note = snapped.length ? ` (snapped into the search space: ${snapped.join(', ')})` : '';
  const push = (p: Built): void => {
    out.push({ parent: null, inr: p.inr, mutation: p.mutation, strategy: 'start' });
    pending.push(p.full);
  };
  if (out.length < ctx.slots && free(base)) {
    const full = { ...base };
    push({ parent: null, inr: { ...pick(full) }, mutation: `start: base config${note}`, strategy: 'start', full, keys: [], moveIds: [] });
  }
  for (const start of STARTS) {
    if (out.length >= ctx.slots) break;
    const changes: ChangeSpec[] = [];
    const full = { ...base };
    for (const [key, label] of start) {
      const move = findMove(key, label);
      const to = applyMove(full[key], move, ctx.space[key]);
      if (to === undefined) continue;
      changes.push({ key, to, move });
      full[key] = to;
    }
    if (changes.length === 0 || !free(full)) continue;
    const b = build(null, base, changes, 'start', 'start: ', note);
    b.inr = pick(full);
    push(b);
  }
  while (out.length < ctx.slots) {
    const r = randomRoot(ctx, free);
    if (!r) break;
    out.push({ parent: null, inr: r.inr, mutation: r.mutation, strategy: 'start' });
    pending.push(r.full);
  }
  return out;
}

/** Every explorable value, for root proposals (which read against the base config). */
function pick(inr: InrConfig): Record<string, number> {
  return Object.fromEntries(EXPLORABLE_KEYS.map((k) => [k, inr[k]]));
}

/** A random root config (log-uniform where the scale is log), when nothing else is free. */
function randomRoot(ctx: ProposeContext, free: (inr: InrConfig) => boolean): Built | undefined {
  for (let tries = 0; tries < 100; tries++) {
    const full = { ...ctx.base.inr };
    for (const k of EXPLORABLE_KEYS) {
      const r = ctx.space[k];
      let v: number;
      if (r.choices) v = r.choices[ctx.rng.below(r.choices.length)];
      else if (r.scale === 'log') v = Math.exp(Math.log(r.min) + ctx.rng.uniform() * (Math.log(r.max) - Math.log(r.min)));
      else v = r.min + ctx.rng.uniform() * (r.max - r.min);
      full[k] = snapToRange(r.integer ? v : Number(v.toPrecision(4)), r);
    }
    if (free(full)) {
      return { parent: null, inr: pick(full), mutation: `start: random config (${configBrief(full)})`, strategy: 'start', full, keys: [], moveIds: [] };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- notes

/** One node's observation, from its metrics and its parent's. */
export function observe(state: StudyState, node: StudyNode): string {
  const parent = node.parent === null ? undefined : state.nodes[node.parent - 1];
  const parts: string[] = [];
  if (node.status === 'failed') {
    parts.push(`failed: ${node.failure ?? 'unknown reason'}; scores R2=0 in UCB`);
    if (parent) parts.push(`parent ${parent.id} had ${parent.status === 'failed' ? 'failed too' : `R2=${f6(scoreValue(parent) ?? 0)}`}, so the change (${node.changed.join(', ') || 'none'}) is the suspect`);
    return parts.join('; ');
  }
  const m = node.metrics;
  if (m === undefined) return 'no result yet';
  const budget = state.settings.max_trial_minutes;
  const r2 = m.final_r2;
  if (!Number.isFinite(r2)) parts.push('R2 is nan: predictions diverged');
  if (parent && scoreValue(parent) !== undefined) {
    const p = scoreValue(parent) as number;
    const d = (Number.isFinite(r2) ? r2 : 0) - p;
    const effect = Math.abs(d) <= NO_EFFECT ? 'no clear effect' : d > 0 ? 'better' : 'worse';
    parts.push(`R2 ${f6(r2)} vs parent ${parent.id} ${f6(p)} (${signed(d)}, ${effect}) after changing ${node.changed.join(' and ') || 'nothing'}`);
  } else {
    parts.push(`fresh start: R2 ${f6(r2)}`);
  }
  const slopeOff = Math.abs(m.slope - 1);
  parts.push(`MSE ${e3(m.final_mse)}, slope ${f4(m.slope)}${Number.isFinite(slopeOff) && slopeOff > 0.05 ? ' (biased: slope off 1)' : ''}`);
  let time = `${f1(m.training_time_min)} min`;
  if (node.predicted_minutes !== null) time += ` (predicted ${f1(node.predicted_minutes)})`;
  if (overBudget(m, budget)) time += m.time_limited ? `, stopped by the ${fmt(budget)}-min budget: poor` : `, over the ${fmt(budget)}-min budget: poor`;
  parts.push(time);
  const inBlock = blockNodes(state, node.block).filter((n) => scoreValue(n) !== undefined);
  const rank = 1 + inBlock.filter((n) => (scoreValue(n) as number) > (scoreValue(node) as number)).length;
  parts.push(`rank ${rank}/${inBlock.length} in block ${node.block}`);
  const best = bestNode(state);
  if (best?.id === node.id) parts.push('best of the study so far');
  return parts.join('; ');
}

function moveLine(s: MoveStat): string {
  return `${s.key} ${s.dir}: mean dR2 ${signed(s.mean)} over ${s.n} trial${s.n === 1 ? '' : 's'} (${s.better} better, ${s.worse} worse; nodes ${s.nodes.join(', ')})`;
}

/**
 * The rules agent's notes. `rootProposals`: the study's agent proposes fresh
 * samples (TPE, random), so the next parent is root.
 */
export function analyseRules(ctx: AnalyseContext, opts: { rootProposals?: boolean } = {}): AgentNotes {
  const { state } = ctx;
  const batch = state.batches[ctx.batch];
  const plan = planNextBatch(state);
  const nextParents = plan === null ? [] : opts.rootProposals ? new Array<null>(plan.size).fill(null) : planParents(state, plan.size, plan.block);
  const best = bestNode(state);
  const notes: NodeNote[] = batch.nodes.map((id, i) => {
    const node = state.nodes[id - 1];
    const next = nextParents.length > 0 ? nextParents[i % nextParents.length] : (best?.id ?? null);
    return { node: id, observation: observe(state, node), next_parent: next };
  });
  const blockEdges = edgesOf(state, (c) => c.block === batch.block);
  const blockStats = [...moveStats(blockEdges, false).values()].sort((a, b) => Math.abs(b.mean) - Math.abs(a.mean));
  const allStats = [...moveStats(measuredEdges(state)).values()];
  const topMove = allStats.filter((s) => s.mean > 0).sort((a, b) => b.mean - a.mean)[0];
  const hyp: string[] = [];
  if (best) hyp.push(`Best so far: node ${best.id} (R2=${f6(best.metrics!.final_r2)}; ${configBrief(best.inr)}).`);
  else hyp.push('No trial has finished within the budget yet.');
  hyp.push(topMove ? `Most promising move: ${topMove.key} ${topMove.dir} (${statText(topMove)}).` : 'No single-parameter move has improved R2 yet.');
  const uniq = [...new Set(nextParents.map((p) => (p === null ? 'root' : String(p))))];
  if (uniq.length) hyp.push(`Next batch builds on ${uniq.map((p) => (p === 'root' ? 'fresh starts' : `node ${p}`)).join(', ')}.`);
  const obs: string[] = blockStats.slice(0, 8).map((s) => `- ${moveLine(s)}`);
  const failures = blockNodes(state, batch.block).filter((n) => n.status === 'failed');
  if (failures.length) obs.push(`- failures this block: ${failures.map((n) => `node ${n.id} (${n.failure ?? '?'})`).join(', ')}`);
  const streak = highStreak(state, FAILURE_PROBE_R2);
  if (streak >= FAILURE_PROBE_STREAK) obs.push(`- ${streak} consecutive trials with R2 >= ${FAILURE_PROBE_R2}: a failure-probe is due`);
  if (obs.length === 0) obs.push('- no parent/child pairs in this block yet');
  return { notes, memory: { hypothesis: hyp.join(' '), observations: obs.join('\n') } };
}

export function closeBlockRules(ctx: CloseBlockContext): BlockSummary {
  const { state } = ctx;
  const nodes = blockNodes(state, ctx.block);
  const counts = new Map<string, number>();
  for (const n of nodes) if (n.klass) counts.set(n.klass, (counts.get(n.klass) ?? 0) + 1);
  const classText = ['excellent', 'good', 'moderate', 'poor', 'failed'].filter((c) => counts.has(c)).map((c) => `${counts.get(c)} ${c}`).join(', ');
  const best = bestNode(state, ctx.block);
  const edges = edgesOf(state, (c) => c.block === ctx.block);
  const gain = [...edges].sort((a, b) => b.delta - a.delta)[0];
  const loss = [...edges].sort((a, b) => a.delta - b.delta)[0];
  const first = nodes[0]?.id ?? 0;
  const last = nodes[nodes.length - 1]?.id ?? 0;
  const parts = [`Iterations ${first}-${last}: ${nodes.length} trials (${classText || 'none done'}).`];
  if (best) parts.push(`Best: node ${best.id}, R2=${f6(best.metrics!.final_r2)}, slope ${f4(best.metrics!.slope)}, ${f1(best.metrics!.training_time_min)} min (${configBrief(best.inr)}).`);
  if (gain && gain.delta > NO_EFFECT) parts.push(`Largest gain: node ${gain.child.id} from node ${gain.parent.id} (${gain.changes.map((c) => c.key).join(' and ')}, ${signed(gain.delta)}).`);
  if (loss && loss.delta < -NO_EFFECT) parts.push(`Largest loss: node ${loss.child.id} from node ${loss.parent.id} (${loss.changes.map((c) => c.key).join(' and ')}, ${signed(loss.delta)}).`);
  const blockStats = [...moveStats(edges, false).values()];
  const gains = blockStats.filter((s) => s.mean > NO_EFFECT).sort((a, b) => b.mean - a.mean);
  const losses = blockStats.filter((s) => s.mean < -NO_EFFECT).sort((a, b) => a.mean - b.mean);
  const plural = (n: number): string => `${n} trial${n === 1 ? '' : 's'}`;
  const keyFinding = gains[0]
    ? `${gains[0].key} ${gains[0].dir} improved R2 (${signed(gains[0].mean)} mean, ${plural(gains[0].n)})`
    : losses[0]
      ? `no move improved R2; ${losses[0].key} ${losses[0].dir} hurt most (${signed(losses[0].mean)} mean, ${plural(losses[0].n)})`
      : best ? `no clear effect of any move; best regime ${configBrief(best.inr)}` : 'no result';

  // Principles and open questions from every single-parameter edge of the study so far.
  const all = [...moveStats(measuredEdges(state)).values()].sort((a, b) => b.n - a.n || Math.abs(b.mean) - Math.abs(a.mean));
  const principles: string[] = [];
  const open: string[] = [];
  for (const s of all) {
    const neutral = s.n - s.better - s.worse;
    const where = `mean ${signed(s.mean)}; nodes ${s.nodes.join(', ')}`;
    if (s.n >= 2 && s.better === s.n) principles.push(`Moving ${s.key} ${s.dir} improved R2 in ${s.n}/${s.n} trials (${where}).`);
    else if (s.n >= 2 && s.worse === s.n) principles.push(`Moving ${s.key} ${s.dir} worsened R2 in ${s.n}/${s.n} trials (${where}).`);
    else if (s.n >= 2 && neutral === s.n) principles.push(`Moving ${s.key} ${s.dir} made no clear difference in ${s.n}/${s.n} trials (${where}).`);
    else if (s.n >= 2) open.push(`${s.key} ${s.dir}: mixed (${s.better} better, ${s.worse} worse, ${neutral} unchanged; ${where}): depends on the regime?`);
    else open.push(`${s.key} ${s.dir}: one trial only (${signed(s.mean)} at node ${s.nodes[0]}): confirm.`);
  }
  // Failure-probe results, the latest per parameter and value.
  const probes = new Map<string, StudyNode>();
  for (const p of state.nodes.filter((n) => n.strategy === 'failure-probe' && isDone(n))) {
    probes.set(p.changed.map((k) => `${k}=${fmt(p.inr[k])}`).join(', '), p);
  }
  for (const [what, p] of probes) {
    const r2 = scoreValue(p) as number;
    if (r2 < FAILURE_PROBE_R2) principles.push(`Boundary: ${what} broke R2 (node ${p.id}: ${p.klass}, R2=${f6(r2)}).`);
    else open.push(`No boundary at ${what} (node ${p.id}: R2=${f6(r2)}): push further or probe another parameter.`);
  }
  const tried = new Set(all.map((s) => s.key));
  const untried = EXPLORABLE_KEYS.filter((k) => !tried.has(k));
  if (untried.length) open.push(`Untested parameters: ${untried.join(', ')}.`);
  const overall = bestNode(state);
  const hyp = overall
    ? `Start block ${ctx.block + 1} from node ${overall.id} (R2=${f6(overall.metrics!.final_r2)}); ${all.find((s) => s.mean > 0) ? `exploit ${all.filter((s) => s.mean > 0).sort((a, b) => b.mean - a.mean)[0].key} moves first` : 'try the untested parameters'}.`
    : `Start block ${ctx.block + 1} with fresh configs: nothing has finished within the budget.`;
  return { summary: parts.join(' '), key_finding: keyFinding, principles, open_questions: open, hypothesis_next: hyp };
}

