/**
 * Hand-built studies: events appended straight into a state, no agent, no
 * training. For tests (trees with known scores, crash points) and for tools
 * that import results from elsewhere.
 */
import { defaultConfig, type Config } from '../config/schema.js';
import type { InrConfig } from '../config/inr.js';
import { EXPLORABLE_KEYS } from '../config/search-space.js';
import { studyCreatedEvent, type CreateOptions } from './create.js';
import { runDir } from './files.js';
import type { JournalEntry, Strategy, StudyEventBody, TrialMetrics } from './journal.js';
import { applyEvent, initialState, nextAction, type StudyState } from './state.js';
import { trialSeed } from './seeds.js';

export interface BuilderTrial {
  parent?: number | null;
  /** Values that differ from the parent's (or the base config's) inr. */
  inr?: Partial<InrConfig>;
  mutation?: string;
  strategy?: Strategy;
}

export class StudyBuilder {
  readonly entries: JournalEntry[] = [];
  readonly state: StudyState;
  private at: string;

  constructor(opts: CreateOptions & { config?: Config; at?: string } = {}) {
    this.at = opts.at ?? '2000-01-01T00:00:00.000Z';
    const created = studyCreatedEvent(opts.config ?? defaultConfig(), { maxTrialMinutes: 60, ...opts });
    this.state = initialState(this.record(created));
  }

  private record(body: StudyEventBody): JournalEntry {
    const entry = { line: this.entries.length + 1, event: { v: 1, at: this.at, ...body } as JournalEntry['event'] };
    this.entries.push(entry);
    return entry;
  }

  /** Append any event. */
  push(body: StudyEventBody): this {
    applyEvent(this.state, this.record(body));
    return this;
  }

  /** Bring the study to where it proposes: minimal notes and block summaries for what is due. */
  settle(): this {
    for (;;) {
      const next = nextAction(this.state);
      if (next.kind === 'analyse') {
        const nodes = this.state.batches[next.batch].nodes;
        this.push({ type: 'agent_notes', batch: next.batch, agent: 'test', notes: nodes.map((n) => ({ node: n, observation: `note ${n}`, next_parent: null })), memory: {} });
      } else if (next.kind === 'close_block') {
        this.push({ type: 'block_closed', block: next.block, agent: 'test', summary: `block ${next.block}`, key_finding: '-', best_node: null, principles: [], open_questions: [], hypothesis_next: '' });
      } else {
        return this;
      }
    }
  }

  /** Propose a batch of the given trials (after settling); returns their node ids. */
  batch(trials: BuilderTrial[]): number[] {
    this.settle();
    const next = nextAction(this.state);
    if (next.kind !== 'propose') throw new Error(`StudyBuilder.batch: the study should ${next.kind}`);
    if (trials.length > next.size) throw new Error(`StudyBuilder.batch: at most ${next.size} trials fit`);
    const body: StudyEventBody = {
      type: 'batch_proposed', batch: next.batch, block: next.block, agent: 'test',
      trials: trials.map((t, slot) => {
        const node = next.firstNode + slot;
        const parent = t.parent ?? null;
        const from = parent === null ? this.state.config.inr : this.state.nodes[parent - 1].inr;
        const inr: InrConfig = { ...from, ...(t.inr ?? {}) };
        return {
          node, slot, parent, mutation: t.mutation ?? `trial ${node}`, strategy: t.strategy ?? (parent === null ? 'start' : 'exploit'),
          changed: EXPLORABLE_KEYS.filter((k) => inr[k] !== from[k]), inr, predicted_minutes: null,
          seed: trialSeed(this.state.settings.seed, node), source: 'agent',
        };
      }),
    };
    this.push(body);
    return body.trials.map((t) => t.node);
  }

  start(node: number): this {
    const n = this.state.nodes[node - 1];
    return this.push({ type: 'trial_started', node, attempt: n.attempts + 1, run_dir: runDir(node, n.slot), max_minutes: this.state.settings.max_trial_minutes });
  }

  /** Finish a trial with R² `r2` (and default metrics), or with the given metrics. */
  finish(node: number, result: number | Partial<TrialMetrics>): this {
    const n = this.state.nodes[node - 1];
    if (n.status === 'pending') this.start(node);
    const m = typeof result === 'number' ? { final_r2: result } : result;
    const metrics: TrialMetrics = { final_r2: 0.9, final_mse: 1e-3, slope: 1, training_time_min: 1, ...m };
    return this.push({ type: 'trial_finished', node, attempt: n.attempts, metrics, run_dir: runDir(node, n.slot) });
  }

  fail(node: number, reason = 'failed'): this {
    const n = this.state.nodes[node - 1];
    if (n.status === 'pending') this.start(node);
    return this.push({ type: 'trial_failed', node, attempt: n.attempts, reason, run_dir: runDir(node, n.slot) });
  }
}
