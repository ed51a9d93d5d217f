/**
 * A whole study run in memory with a synthetic objective instead of training:
 * the same events, state, agents and decisions as the real loop, in order.
 * For tests, for comparing agents, and as the reference for the loop's order
 * of events. With `journal`, the events are appended to a real journal too.
 */
import type { InrConfig } from '../config/inr.js';
import { decide, type Agents } from './advance.js';
import { runDir } from './files.js';
import type { Journal, JournalEntry, StudyCreatedEvent, StudyEventBody, TrialMetrics } from './journal.js';
import { applyEvent, initialState, nextAction, type StudyState } from './state.js';

export interface SimulatedOutcome {
  metrics?: TrialMetrics;
  /** A failure reason (then `metrics` is ignored). */
  failure?: string;
}

export type Objective = (inr: InrConfig, node: number, seed: number) => SimulatedOutcome;

export interface SimulateOptions {
  journal?: Journal;
  /** Stop (as if killed) before appending the event for which this returns true. */
  stopBefore?: (body: StudyEventBody, state: StudyState) => boolean;
  /** Fixed time stamps for in-memory events. */
  at?: string;
  /** An existing state to continue (resume) instead of starting from `created`. */
  state?: StudyState;
}

export async function simulateStudy(created: StudyCreatedEvent, agents: Agents, objective: Objective, opts: SimulateOptions = {}): Promise<{ state: StudyState; entries: JournalEntry[]; stopped: boolean }> {
  const entries: JournalEntry[] = [];
  const at = opts.at ?? '2000-01-01T00:00:00.000Z';
  let line = 0;
  const record = (body: StudyEventBody): JournalEntry => {
    const entry = opts.journal ? opts.journal.append(body) : { line: ++line, event: { v: 1, at, ...body } as JournalEntry['event'] };
    entries.push(entry);
    return entry;
  };
  let state: StudyState;
  if (opts.journal && !opts.state) throw new Error('simulateStudy: with a journal, pass the state folded from it (Journal.create already wrote study_created)');
  if (opts.state) {
    state = opts.state;
    line = state.lines;
  } else {
    state = initialState(record(created));
  }
  const emit = (body: StudyEventBody): boolean => {
    if (opts.stopBefore?.(body, state)) return false;
    applyEvent(state, record(body));
    return true;
  };
  for (;;) {
    const next = nextAction(state);
    if (next.kind === 'done') return { state, entries, stopped: false };
    if (next.kind === 'run') {
      for (const id of next.nodes) {
        const node = state.nodes[id - 1];
        const dir = runDir(id, node.slot);
        if (!emit({ type: 'trial_started', node: id, attempt: node.attempts + 1, run_dir: dir, max_minutes: state.settings.max_trial_minutes })) return { state, entries, stopped: true };
        const out = objective(node.inr, id, node.seed);
        const body: StudyEventBody = out.failure !== undefined || out.metrics === undefined
          ? { type: 'trial_failed', node: id, attempt: node.attempts, reason: out.failure ?? 'no result', run_dir: dir }
          : { type: 'trial_finished', node: id, attempt: node.attempts, metrics: out.metrics, run_dir: dir };
        if (!emit(body)) return { state, entries, stopped: true };
      }
      continue;
    }
    const body = await decide(state, agents);
    if (body === null) throw new Error(`simulateStudy: nothing to decide at ${next.kind}`);
    if (!emit(body)) return { state, entries, stopped: true };
  }
}
