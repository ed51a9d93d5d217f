/**
 * The study's state: a fold of the journal's events. Nothing else is read to
 * know where a study stands, so a resumed study continues exactly where the
 * journal says it stopped (`nextAction`).
 *
 * Numbering: node id = iteration number, 1-based and contiguous. Batches and
 * blocks are 0-based. A block holds `settings.block` iterations; a batch never
 * spans two blocks (the last batch of a block is shortened when `block` is not
 * a multiple of `slots`), and the study's last block may be short.
 */
import { parseConfig, resolveSearchSpace, type Config } from '../config/schema.js';
import type { InrConfig } from '../config/inr.js';
import type { ExplorableKey } from '../config/search-space.js';
import type { SearchSpace } from '../config/search-range.js';
import { classify, type TrialClass } from './classify.js';
import { promotable } from './rungs.js';
import type {
  AgentCallEvent, AgentNotesEvent, BlockClosedEvent, EnqueuedEvent, JournalEntry, NodeNote, ProposalSource, StudyCreatedEvent,
  StudyEvent, StudySettings, Strategy, TrialMetrics, Versions,
} from './journal.js';
import { JournalError } from './journal.js';
import type { EvaluationRecord } from '../exec/trial-files.js';
import type { Workload } from './cost-model.js';

export type NodeStatus = 'pending' | 'running' | 'finished' | 'failed';

export interface StudyNode {
  id: number;
  parent: number | null;
  batch: number;
  block: number;
  slot: number;
  inr: InrConfig;
  mutation: string;
  strategy: Strategy;
  changed: ExplorableKey[];
  predicted_minutes: number | null;
  seed: number;
  source: ProposalSource;
  repairs: string[];
  enqueued?: number;
  status: NodeStatus;
  /** Starts so far (a resumed trial has attempts > 1). */
  attempts: number;
  run_dir?: string;
  metrics?: TrialMetrics;
  failure?: string;
  /**
   * Set when the study's pruner stopped the trial (status finished, metrics
   * those of the evaluation it was stopped at, time-limited). `paused`: ASHA
   * may promote it yet; until then it counts as pruned everywhere.
   */
  pruned?: { by: string; reason: string; step: number; paused?: true };
  /** ASHA's promotions of the trial so far: the step it was paused at, and why it went on. */
  promotions: { step: number; reason: string }[];
  /** Evaluations during training, in the order they came (all attempts). */
  evaluations: (EvaluationRecord & { attempt: number })[];
  /** Why earlier attempts ended without a result. */
  lost: string[];
  /** The cluster job of the latest submitted attempt. */
  job?: { attempt: number; executor: string; job_id: string };
  /** Minutes a failed trial ran, when known. */
  failed_minutes?: number;
  /** Set once the trial is done (finished or failed). */
  klass?: TrialClass;
  note?: NodeNote;
  proposed_at: string;
  started_at?: string;
  done_at?: string;
}

export interface BatchRecord {
  index: number;
  block: number;
  agent: string;
  nodes: number[];
  proposed_at: string;
  notes?: AgentNotesEvent;
  dropped_enqueued: { id: number; reason: string }[];
  agent_state?: unknown;
}

export interface BlockRecord {
  index: number;
  nodes: number[];
  closed?: BlockClosedEvent;
}

export interface StudyState {
  name: string;
  created: StudyCreatedEvent;
  created_at: string;
  config: Config;
  settings: StudySettings;
  space: SearchSpace;
  versions: Versions;
  workload: Workload | null;
  nodes: StudyNode[];
  batches: BatchRecord[];
  blocks: BlockRecord[];
  /** Enqueued configs not yet taken into a batch, oldest first. */
  queue: EnqueuedEvent[];
  /** Enqueued events so far (the next id is this + 1). */
  enqueued: number;
  /** Journal lines folded. */
  lines: number;
  /** Totals of the LLM agent's model calls (agent_call events). */
  llm: LlmTotals;
  /** The model calls themselves, for reasoning.log. */
  calls: (AgentCallEvent & { at: string })[];
}

export interface LlmTotals {
  calls: number;
  failed: number;
  input_tokens: number;
  output_tokens: number;
  /** Summed where the provider reports a cost. */
  cost_usd: number;
}

export type NextAction =
  /**
   * Train these nodes: pending ones, running ones a crash interrupted (re-run
   * with the same config and seed), and promoted ones (resumed); `promote`:
   * paused trials ASHA promotes first (rungs.ts).
   */
  | { kind: 'run'; batch: number; nodes: number[]; promote: number[] }
  /** Every trial of the batch is done: the agent writes its notes. */
  | { kind: 'analyse'; batch: number }
  /** The block is full (or the study is complete): the agent summarises it. */
  | { kind: 'close_block'; block: number }
  /** Propose the next batch. */
  | { kind: 'propose'; batch: number; block: number; size: number; firstNode: number }
  | { kind: 'done' };

function fail(entry: JournalEntry, msg: string): never {
  throw new JournalError(`journal line ${entry.line}: ${msg}`);
}

/** A fresh state from the study_created event. */
export function initialState(entry: JournalEntry): StudyState {
  const e = entry.event;
  if (e.type !== 'study_created') fail(entry, `the first event must be study_created, not ${e.type}`);
  let config: Config;
  try {
    config = parseConfig(e.config, 'journal study_created.config').config;
  } catch (err) {
    fail(entry, (err as Error).message);
  }
  return {
    name: e.name, created: e, created_at: e.at, config, settings: { ...e.settings },
    space: e.space ?? resolveSearchSpace(config), versions: e.versions, workload: e.workload ?? null,
    nodes: [], batches: [], blocks: [], queue: [], enqueued: 0, lines: 1,
    llm: { calls: 0, failed: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 }, calls: [],
  };
}

export function getNode(state: StudyState, id: number): StudyNode | undefined {
  return Number.isInteger(id) && id >= 1 ? state.nodes[id - 1] : undefined;
}

export function isDone(node: StudyNode): boolean {
  return node.status === 'finished' || node.status === 'failed';
}

/** Apply one event (mutates `state`). Events that contradict the state are errors naming the line. */
export function applyEvent(state: StudyState, entry: JournalEntry): StudyState {
  const e: StudyEvent = entry.event;
  const node = (id: number): StudyNode => getNode(state, id) ?? fail(entry, `${e.type} for unknown node ${id}`);
  switch (e.type) {
    case 'study_created':
      fail(entry, 'a second study_created event');
    case 'batch_proposed': {
      if (e.batch !== state.batches.length) fail(entry, `batch ${e.batch} proposed, expected batch ${state.batches.length}`);
      const next = nextAction(state);
      if (next.kind !== 'propose') fail(entry, `batch ${e.batch} proposed while the study should ${next.kind}`);
      if (e.block !== next.block) fail(entry, `batch ${e.batch} is in block ${e.block}, expected block ${next.block}`);
      if (e.trials.length === 0 || e.trials.length > next.size) fail(entry, `batch ${e.batch} has ${e.trials.length} trials, expected 1..${next.size}`);
      const ids: number[] = [];
      e.trials.forEach((t, i) => {
        const expected = state.nodes.length + 1;
        if (t.node !== expected) fail(entry, `batch ${e.batch} slot ${i} is node ${t.node}, expected node ${expected}`);
        if (t.parent !== null && (getNode(state, t.parent) === undefined || t.parent >= t.node)) fail(entry, `node ${t.node} has unknown parent ${t.parent}`);
        state.nodes.push({
          id: t.node, parent: t.parent, batch: e.batch, block: e.block, slot: t.slot, inr: t.inr, mutation: t.mutation,
          strategy: t.strategy, changed: t.changed, predicted_minutes: t.predicted_minutes ?? null, seed: t.seed,
          source: t.source, repairs: t.repairs ?? [], ...(t.enqueued !== undefined ? { enqueued: t.enqueued } : {}),
          status: 'pending', attempts: 0, proposed_at: e.at, evaluations: [], lost: [], promotions: [],
        });
        ids.push(t.node);
      });
      const taken = new Set<number>([...e.trials.flatMap((t) => (t.enqueued !== undefined ? [t.enqueued] : [])), ...(e.dropped_enqueued ?? []).map((d) => d.id)]);
      state.queue = state.queue.filter((q) => !taken.has(q.id));
      state.batches.push({
        index: e.batch, block: e.block, agent: e.agent, nodes: ids, proposed_at: e.at, dropped_enqueued: e.dropped_enqueued ?? [],
        ...(e.agent_state !== undefined ? { agent_state: e.agent_state } : {}),
      });
      if (state.blocks.length === e.block) state.blocks.push({ index: e.block, nodes: [] });
      state.blocks[e.block].nodes.push(...ids);
      break;
    }
    case 'trial_started': {
      const n = node(e.node);
      if (isDone(n)) fail(entry, `trial ${e.node} started after it was ${n.status}`);
      n.status = 'running';
      n.attempts = Math.max(n.attempts, e.attempt);
      n.run_dir = e.run_dir;
      n.started_at = e.at;
      break;
    }
    case 'trial_finished': {
      const n = node(e.node);
      if (isDone(n)) fail(entry, `trial ${e.node} finished twice`);
      n.status = 'finished';
      n.metrics = e.metrics;
      n.run_dir = e.run_dir;
      n.done_at = e.at;
      n.klass = classify(e.metrics, state.settings.max_trial_minutes);
      break;
    }
    case 'trial_pruned': {
      const n = node(e.node);
      if (isDone(n)) fail(entry, `trial ${e.node} pruned after it was ${n.status}`);
      n.status = 'finished';
      n.metrics = e.metrics;
      n.pruned = { by: e.by, reason: e.reason, step: e.metrics.steps_done ?? 0, ...(e.paused ? { paused: true as const } : {}) };
      n.done_at = e.at;
      n.klass = classify(e.metrics, state.settings.max_trial_minutes);
      break;
    }
    case 'trial_promoted': {
      const n = node(e.node);
      if (n.pruned?.paused !== true) fail(entry, `trial ${e.node} promoted, but it is not paused`);
      n.status = 'pending';
      n.promotions.push({ step: e.step, reason: e.reason });
      delete n.pruned;
      delete n.metrics;
      delete n.klass;
      delete n.done_at;
      break;
    }
    case 'trial_failed': {
      const n = node(e.node);
      if (isDone(n)) fail(entry, `trial ${e.node} failed after it was ${n.status}`);
      n.status = 'failed';
      n.failure = e.reason;
      if (e.training_time_min !== undefined) n.failed_minutes = e.training_time_min;
      if (e.run_dir !== undefined) n.run_dir = e.run_dir;
      n.done_at = e.at;
      n.klass = 'failed';
      break;
    }
    case 'trial_evaluation': {
      const n = node(e.node);
      n.evaluations.push({ attempt: e.attempt, step: e.step, r2: e.r2, mse: e.mse, slope: e.slope, time_s: e.time_s });
      break;
    }
    case 'trial_submitted': {
      node(e.node).job = { attempt: e.attempt, executor: e.executor, job_id: e.job_id };
      break;
    }
    case 'trial_lost': {
      const n = node(e.node);
      if (isDone(n)) fail(entry, `trial ${e.node} lost after it was ${n.status}`);
      n.status = 'pending';
      n.lost.push(e.reason);
      break;
    }
    case 'agent_notes': {
      const batch = state.batches[e.batch];
      if (batch === undefined) fail(entry, `notes for unknown batch ${e.batch}`);
      for (const note of e.notes) {
        const n = node(note.node);
        if (n.batch !== e.batch) fail(entry, `note for node ${note.node}, which is not in batch ${e.batch}`);
        n.note = note;
      }
      batch.notes = e;
      break;
    }
    case 'block_closed': {
      const block = state.blocks[e.block];
      if (block === undefined) fail(entry, `block ${e.block} closed before it had a batch`);
      if (block.closed) fail(entry, `block ${e.block} closed twice`);
      block.closed = e;
      break;
    }
    case 'enqueued':
      if (e.id !== state.enqueued + 1) fail(entry, `enqueued id ${e.id}, expected ${state.enqueued + 1}`);
      state.enqueued = e.id;
      state.queue.push(e);
      break;
    case 'settings_changed':
      if (e.iterations !== undefined) {
        if (e.iterations < state.nodes.length) fail(entry, `iterations ${e.iterations} is below the ${state.nodes.length} trials proposed`);
        state.settings.iterations = e.iterations;
      }
      if (e.llm !== undefined) {
        if (state.settings.agent !== 'llm' && state.settings.agent !== 'hybrid') fail(entry, `LLM settings for a study whose agent is ${state.settings.agent}`);
        state.settings.llm = e.llm;
      }
      break;
    case 'agent_call':
      state.llm.calls++;
      if (e.error !== undefined) state.llm.failed++;
      state.llm.input_tokens += e.usage?.input_tokens ?? 0;
      state.llm.output_tokens += e.usage?.output_tokens ?? 0;
      state.llm.cost_usd += e.cost_usd ?? 0;
      state.calls.push(e);
      break;
    default: {
      const never: never = e;
      fail(entry, `unknown event ${(never as { type: string }).type}`);
    }
  }
  state.lines = Math.max(state.lines, entry.line);
  return state;
}

/** Fold a whole journal. */
export function foldEvents(entries: readonly JournalEntry[]): StudyState {
  if (entries.length === 0) throw new JournalError('the journal is empty: no study_created event');
  const state = initialState(entries[0]);
  for (let i = 1; i < entries.length; i++) applyEvent(state, entries[i]);
  return state;
}

/** The block the next batch belongs to, and how many trials it may have. */
export function planNextBatch(state: StudyState): { batch: number; block: number; size: number; firstNode: number } | null {
  const done = state.nodes.length;
  const left = state.settings.iterations - done;
  if (left <= 0) return null;
  const last = state.blocks[state.blocks.length - 1];
  let block: number;
  let room: number;
  if (last === undefined) {
    block = 0;
    room = state.settings.block;
  } else if (last.closed || last.nodes.length >= state.settings.block) {
    block = last.index + 1;
    room = state.settings.block;
  } else {
    block = last.index;
    room = state.settings.block - last.nodes.length;
  }
  return { batch: state.batches.length, block, size: Math.min(state.settings.slots, left, room), firstNode: done + 1 };
}

/** What the loop does next; on resume this is where it picks up. */
export function nextAction(state: StudyState): NextAction {
  const last = state.batches[state.batches.length - 1];
  if (last !== undefined) {
    // Earlier batches' trials are done, but for a promoted one.
    const unfinished = state.nodes.filter((n) => !isDone(n)).map((n) => n.id);
    const promote = promotable(state).map((p) => p.node);
    if (unfinished.length + promote.length > 0) return { kind: 'run', batch: last.index, nodes: unfinished, promote };
    if (last.notes === undefined) return { kind: 'analyse', batch: last.index };
    const block = state.blocks[last.block];
    const full = block.nodes.length >= state.settings.block;
    const complete = state.nodes.length >= state.settings.iterations;
    if ((full || complete) && !block.closed) return { kind: 'close_block', block: block.index };
  }
  const plan = planNextBatch(state);
  if (plan === null) return { kind: 'done' };
  return { kind: 'propose', ...plan };
}

/** Nodes with a result. */
export function doneNodes(state: StudyState): StudyNode[] {
  return state.nodes.filter(isDone);
}

/** The enqueued configs waiting, and the ids of the nodes per block, for renders and agents. */
export function blockNodes(state: StudyState, block: number): StudyNode[] {
  return (state.blocks[block]?.nodes ?? []).map((id) => state.nodes[id - 1]);
}

/** The block of the latest batch (the block a render shows as current), or 0 before any batch. */
export function currentBlock(state: StudyState): number {
  const last = state.batches[state.batches.length - 1];
  return last === undefined ? 0 : last.block;
}
