/**
 * A whole study with a synthetic objective instead of training: the one
 * study loop (drive.ts) with a runner that scores each trial by a function of
 * its config, and the events kept in memory (or appended to a real journal).
 * For tests and for comparing agents: hundreds of studies in seconds.
 */
import type { InrConfig } from '../config/inr.js';
import type { EvaluationRecord } from '../exec/trial-files.js';
import type { TrialHooks, TrialOutcome, TrialRequest, TrialRunner } from '../exec/runner.js';
import type { Agents } from './advance.js';
import { drive } from './drive.js';
import { configFile } from './files.js';
import type { Journal, JournalEntry, StudyCreatedEvent, StudyEventBody, TrialMetrics } from './journal.js';
import { applyEvent, initialState, type StudyState } from './state.js';

export interface SimulatedOutcome {
  metrics?: TrialMetrics;
  /** A failure reason (then `metrics` is ignored). */
  failure?: string;
  /** Intermediate evaluations, told to the study as a real trial's would be. */
  evaluations?: EvaluationRecord[];
}

export type Objective = (inr: InrConfig, node: number, seed: number) => SimulatedOutcome;

/** Trials scored by an objective, one at a time (or `capacity` at once: the order of results is then still the order of starts). */
export class ObjectiveRunner implements TrialRunner {
  readonly name = 'simulated';
  readonly threads = 1;

  constructor(private readonly objective: Objective, readonly capacity = 1) {}

  async run(req: TrialRequest, hooks?: TrialHooks): Promise<TrialOutcome> {
    const out = this.objective(req.inr, req.node, req.seed);
    // A promoted trial goes on from where it was paused.
    for (const e of (out.evaluations ?? []).filter((x) => x.step > (req.resumeAt ?? 0))) {
      const verdict = hooks?.onEvaluation?.(e);
      if (verdict) return { status: 'pruned', reason: verdict.stop };
    }
    if (out.failure !== undefined || out.metrics === undefined) return { status: 'failed', reason: out.failure ?? 'no result', runFolder: true };
    return { status: 'finished', metrics: out.metrics };
  }

  killAll(): void {}
}

export interface SimulateOptions {
  journal?: Journal;
  /** Stop (as if killed) before appending the event for which this returns true. */
  stopBefore?: (body: StudyEventBody, state: StudyState) => boolean;
  /** Fixed time stamps for in-memory events. */
  at?: string;
  /** An existing state to continue (resume) instead of starting from `created`. */
  state?: StudyState;
}

/** Thrown by the record to stop the loop where `stopBefore` says, as a kill would. */
class Stopped extends Error {}

export async function simulateStudy(created: StudyCreatedEvent, agents: Agents, objective: Objective, opts: SimulateOptions = {}): Promise<{ state: StudyState; entries: JournalEntry[]; stopped: boolean }> {
  const entries: JournalEntry[] = [];
  const at = opts.at ?? '2000-01-01T00:00:00.000Z';
  let line = 0;
  const append = (body: StudyEventBody): JournalEntry => {
    const entry = opts.journal ? opts.journal.append(body) : { line: ++line, event: { v: 1, at, ...body } as JournalEntry['event'] };
    entries.push(entry);
    return entry;
  };
  if (opts.journal && !opts.state) throw new Error('simulateStudy: with a journal, pass the state folded from it (Journal.create already wrote study_created)');
  let state: StudyState;
  if (opts.state) {
    state = opts.state;
    line = state.lines;
  } else {
    state = initialState(append(created));
  }
  const record = (body: StudyEventBody): void => {
    if (opts.stopBefore?.(body, state)) throw new Stopped();
    applyEvent(state, append(body));
  };
  try {
    await drive({
      state, record, agents, runner: new ObjectiveRunner(objective),
      paths: (t, run_dir) => ({ config: configFile(t.node, t.slot), dataset: '', out: run_dir, log: `${run_dir}.log` }),
    });
  } catch (err) {
    if (err instanceof Stopped) return { state, entries, stopped: true };
    throw err;
  }
  return { state, entries, stopped: false };
}
