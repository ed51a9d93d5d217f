/**
 * The study journal: one append-only file of JSON lines, the single truth of a
 * study. Every event the loop, the agents and the user cause is one line;
 * `analysis.md`, `memory.md`, `ucb_scores.txt` and the config snapshots are
 * rendered from it and never read back.
 *
 * Crash safety: a line is appended with one write and fsync'd, so a crash
 * leaves at most a torn last line (bytes after the final newline). Readers
 * ignore it; `Journal.open` cuts it off before appending. A malformed line
 * anywhere else is corruption and an error naming its line number.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgentName } from '../config/study.js';
import type { ExplorableKey } from '../config/search-space.js';
import type { InrConfig } from '../config/inr.js';
import type { LlmSettings } from '../config/llm.js';
import type { SearchSpace } from '../config/search-range.js';
import type { YamlMapping } from '../config/values.js';
import { UserError } from '../util/errors.js';
import { jsonNumber, toJson } from '../util/json.js';
import type { Workload } from './cost-model.js';

/** The schema version every event carries as `v`. A reader refuses versions it does not know. */
export const JOURNAL_VERSION = 1;
export const JOURNAL_FILE = 'journal.jsonl';

/** What a study runs with: the config's `study:` section after command-line flags and the budget rule. */
export interface StudySettings {
  iterations: number;
  slots: number;
  block: number;
  ucb_c: number;
  /** The effective per-trial budget (after the CPU-preset rule, see budget.ts). */
  max_trial_minutes: number;
  agent: AgentName;
  seed: number;
  /** The LLM agent's settings (agent llm only); never a key. */
  llm?: StudyLlmSettings;
}

export interface StudyLlmSettings extends LlmSettings {
  /** The text of `instructions` as read when the study was created, so a resume is shown the same. */
  instructions_text?: string;
}

export interface Versions {
  inrscape: string;
  node: string;
  journal: number;
}

/** How a slot's proposal came about. */
export type Strategy = 'start' | 'exploit' | 'failure-probe' | 'switch-param' | 'tpe' | 'random' | 'user';

/**
 * Where the proposal came from: the agent as proposed; `repaired` after the
 * safety repair; `fallback` from the rules agent after the study's agent
 * failed; `user` from `study enqueue`.
 */
export type ProposalSource = 'agent' | 'repaired' | 'fallback' | 'user';

export interface StudyCreatedEvent {
  type: 'study_created';
  /** A short name for titles (the data set's name). */
  name: string;
  /** The base config, as YAML data (`YAML.parse(configToYaml(config))`): `parseConfig(config)` rebuilds it. */
  config: YamlMapping;
  settings: StudySettings;
  /** The resolved search space, recorded so a later change of defaults cannot change a running study. */
  space: SearchSpace;
  versions: Versions;
  /** Cells and frames of the data set, for the cost model; null when unknown. */
  workload: Workload | null;
  /** Why the budget is what it is (e.g. the CPU-preset rule). */
  budget_note?: string;
  /** The data set folder the trials train on, resolved once when the study was created (absolute). */
  dataset_dir?: string;
  /** Changes the loop made to the config's search space (e.g. the CPU presets' step range), in words. */
  space_note?: string;
}

/** One slot of a batch: everything a trial needs, fixed before it runs. */
export interface ProposedTrial {
  /** Node id = iteration number, 1-based, contiguous over the study. */
  node: number;
  /** Slot index in the batch, 0-based. */
  slot: number;
  parent: number | null;
  mutation: string;
  strategy: Strategy;
  /** Explorable keys that differ from the parent's (or, for root nodes, the base config's) inr. */
  changed: ExplorableKey[];
  /** The full `inr:` section the trial trains with. */
  inr: InrConfig;
  predicted_minutes: number | null;
  /** The trial's training seed: the same on every attempt. */
  seed: number;
  source: ProposalSource;
  /** What the safety repair or the budget changed, in words. */
  repairs?: string[];
  /** The `enqueued` event id this slot took, for user configs. */
  enqueued?: number;
}

export interface BatchProposedEvent {
  type: 'batch_proposed';
  batch: number;
  block: number;
  agent: string;
  trials: ProposedTrial[];
  /** Enqueued configs that were taken out of the queue without running (e.g. now duplicates). */
  dropped_enqueued?: { id: number; reason: string }[];
  /** Opaque state an agent wants back on resume (the built-in agents need none). */
  agent_state?: unknown;
}

export interface TrialStartedEvent {
  type: 'trial_started';
  node: number;
  /** 1 for the first start; a resume that re-runs the trial appends attempt 2, ... */
  attempt: number;
  /** The trial's run folder, relative to the study folder. */
  run_dir: string;
  max_minutes: number;
  /** Engine threads the trial trains with (results are bit for bit per thread count). */
  threads?: number;
}

export type { TrialMetrics } from '../exec/trial-files.js';
import type { EvaluationRecord, TrialMetrics } from '../exec/trial-files.js';

export interface TrialFinishedEvent {
  type: 'trial_finished';
  node: number;
  attempt: number;
  metrics: TrialMetrics;
  run_dir: string;
}

/**
 * A trial its study's pruner stopped at an intermediate evaluation (its
 * checkpoint kept in the staging folder). `metrics` are that evaluation's,
 * with `time_limited` set and `steps_done` the step, so the trial scores,
 * classifies and costs as a trial stopped early.
 */
export interface TrialPrunedEvent {
  type: 'trial_pruned';
  node: number;
  attempt: number;
  /** The pruner: median or asha. */
  by: string;
  reason: string;
  metrics: TrialMetrics;
  /** ASHA paused it at a rung: its checkpoint stays, and a trial_promoted event resumes it. */
  paused?: true;
}

/**
 * ASHA promotes a paused trial: more trials of its block reached its rung and
 * it now ranks within the rung's line. It runs again as its next attempt,
 * resuming the checkpoint it was paused at; until then it counts as pruned.
 */
export interface TrialPromotedEvent {
  type: 'trial_promoted';
  node: number;
  /** The step it was paused at. */
  step: number;
  reason: string;
}

export interface TrialFailedEvent {
  type: 'trial_failed';
  node: number;
  attempt: number;
  reason: string;
  run_dir?: string;
  /** Minutes it ran before failing, when known. */
  training_time_min?: number;
}

/** A scheduler took an attempt as a job: a resumed study follows that job instead of submitting again. */
export interface TrialSubmittedEvent {
  type: 'trial_submitted';
  node: number;
  attempt: number;
  executor: string;
  job_id: string;
}

/** An evaluation on all frames during a trial, copied from its progress file as it arrives. */
export interface TrialEvaluationEvent extends EvaluationRecord {
  type: 'trial_evaluation';
  node: number;
  attempt: number;
}

/**
 * An attempt that ended without a result: its child was killed, its engine
 * lost, its heartbeat stopped. The trial runs again as the next attempt with
 * the same config and seed (resuming its checkpoint), up to MAX_ATTEMPTS lost attempts.
 */
export interface TrialLostEvent {
  type: 'trial_lost';
  node: number;
  attempt: number;
  reason: string;
}

export interface NodeNote {
  node: number;
  observation: string;
  /** The parent the agent means to build on next (the entry's `Next: parent=`). */
  next_parent: number | null;
}

/** The agent's working-memory text for the current block (rendered into memory.md verbatim, escaped). */
export interface MemoryUpdate {
  hypothesis?: string;
  observations?: string;
}

export interface AgentNotesEvent {
  type: 'agent_notes';
  batch: number;
  agent: string;
  notes: NodeNote[];
  memory: MemoryUpdate;
  agent_state?: unknown;
  /** What the agent did not give and the rules agent wrote instead (`note of node 7`, `memory hypothesis`). */
  filled_by_rules?: string[];
}

export interface BlockClosedEvent {
  type: 'block_closed';
  block: number;
  agent: string;
  summary: string;
  /** The regime table's "Key finding" cell; the row's numbers come from `best_node`. */
  key_finding: string;
  best_node: number | null;
  /** The full, current lists (they replace the previous block's). */
  principles: string[];
  open_questions: string[];
  /** The next block's opening hypothesis. */
  hypothesis_next: string;
  /** Sections the agent did not give and the rules agent wrote instead. */
  filled_by_rules?: string[];
}

export interface EnqueuedEvent {
  type: 'enqueued';
  /** 1-based, in order of enqueueing. */
  id: number;
  inr: InrConfig;
  parent: number | null;
  note: string;
  /** The request's id when it came through the inbox of a running study (so a crash cannot enqueue it twice). */
  request?: string;
}

export interface CallUsage {
  input_tokens: number;
  output_tokens: number;
  /** Tokens read from or written to the provider's prompt cache, when reported. */
  cache_read_tokens?: number;
  cache_write_tokens?: number;
}

/** One call to the LLM agent's model: what it was asked (in short) and everything it said. */
export interface AgentCallEvent {
  type: 'agent_call';
  /** The decision the call was for. */
  purpose: 'propose' | 'analyse' | 'close_block';
  batch?: number;
  block?: number;
  /** 0 for the first request of a decision, 1.. for the repair rounds after invalid actions. */
  round: number;
  provider: string;
  model: string;
  /** How the tools went to the model: native tool calls, or the JSON contract in the prompt. */
  mode?: 'tools' | 'json';
  /** Size and digest of the prompt (its text is not kept: `study run --dry-run` shows it). */
  prompt_chars: number;
  prompt_sha256: string;
  /** Tries the request took (more than 1 after rate limits or server errors). */
  tries: number;
  /** Why each failed try was retried, and the wait. */
  retries?: string[];
  latency_ms: number;
  /** The model's free text, verbatim (data: rendered, never executed). */
  text: string;
  /** The tool calls, as the model gave them. */
  calls: { name: string; input: unknown; malformed?: string }[];
  /** What inrscape answered to each call (accepted, or the exact validation errors). */
  results: string[];
  usage?: CallUsage;
  cost_usd?: number;
  stop_reason?: string;
  /** Set when the call failed (after its retries): the decision fell back to the rules agent. */
  error?: string;
}

/** `study resume` may extend a finished study. */
export interface SettingsChangedEvent {
  type: 'settings_changed';
  iterations?: number;
  /** The LLM agent's new settings (`study resume --model ...`), whole. */
  llm?: StudyLlmSettings;
}

export type StudyEventBody =
  | StudyCreatedEvent
  | BatchProposedEvent
  | TrialStartedEvent
  | TrialFinishedEvent
  | TrialPrunedEvent
  | TrialPromotedEvent
  | TrialFailedEvent
  | TrialEvaluationEvent
  | TrialSubmittedEvent
  | TrialLostEvent
  | AgentNotesEvent
  | BlockClosedEvent
  | EnqueuedEvent
  | SettingsChangedEvent
  | AgentCallEvent;

export type StudyEventType = StudyEventBody['type'];

/** An event as stored: the body plus the schema version and the time it was written. */
export type StudyEvent = StudyEventBody & { v: number; at: string };

export interface JournalEntry {
  /** 1-based line number in the file. */
  line: number;
  event: StudyEvent;
}

export interface TornTail {
  line: number;
  bytes: number;
}

export interface JournalRead {
  entries: JournalEntry[];
  /** An incomplete last line (no newline), ignored. */
  torn: TornTail | null;
}

/** A journal that cannot be read: a user error (the CLI prints the message, naming the line, and exits 2). */
export class JournalError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'JournalError';
  }
}

export const EVENT_TYPES: readonly StudyEventType[] = [
  'study_created', 'batch_proposed', 'trial_started', 'trial_finished', 'trial_failed', 'trial_evaluation', 'trial_lost', 'trial_submitted', 'trial_pruned',
  'trial_promoted',   'agent_notes', 'block_closed', 'enqueued', 'settings_changed', 'agent_call',
];

/** Fields each event type must have (a cheap check that catches hand edits and truncations). */
const REQUIRED: Record<StudyEventType, readonly string[]> = {
  study_created: ['name', 'config', 'settings', 'space', 'versions'],
  batch_proposed: ['batch', 'block', 'agent', 'trials'],
  trial_started: ['node', 'attempt', 'run_dir'],
  trial_finished: ['node', 'attempt', 'metrics', 'run_dir'],
  trial_failed: ['node', 'attempt', 'reason'],
  trial_evaluation: ['node', 'attempt', 'step', 'r2'],
  trial_lost: ['node', 'attempt', 'reason'],
  trial_submitted: ['node', 'attempt', 'executor', 'job_id'],
  trial_pruned: ['node', 'attempt', 'by', 'reason', 'metrics'],
  trial_promoted: ['node', 'step', 'reason'],
  agent_notes: ['batch', 'notes', 'memory'],
  block_closed: ['block', 'summary', 'principles', 'open_questions'],
  enqueued: ['id', 'inr'],
  settings_changed: [],
  agent_call: ['purpose', 'round', 'provider', 'model', 'calls', 'results'],
};

export function journalPath(studyDir: string): string {
  return join(studyDir, JOURNAL_FILE);
}

/** One line of the file: the event as JSON (non-finite numbers as "NaN"/"Infinity" strings) and a newline. */
export function encodeEvent(body: StudyEventBody, at: string): string {
  const line = toJson({ v: JOURNAL_VERSION, at, ...body });
  // JSON.stringify escapes every newline inside strings, so one event is one line.
  return line + '\n';
}

function decodeLine(text: string, line: number, where: string): StudyEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new JournalError(`${where}:${line}: malformed journal line (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new JournalError(`${where}:${line}: a journal line must be a JSON object`);
  }
  const obj = raw as Record<string, unknown>;
  if (obj.v !== JOURNAL_VERSION) {
    throw new JournalError(`${where}:${line}: journal schema version ${JSON.stringify(obj.v)} is not supported (this inrscape reads version ${JOURNAL_VERSION})`);
  }
  const type = obj.type;
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    throw new JournalError(`${where}:${line}: unknown journal event type ${JSON.stringify(type)}`);
  }
  for (const key of REQUIRED[type as StudyEventType]) {
    if (!Object.hasOwn(obj, key)) throw new JournalError(`${where}:${line}: ${type} event lacks "${key}"`);
  }
  return reviveNumbers(obj as unknown as StudyEvent, line, where);
}

/** Numbers that may be non-finite were written as strings by toJson: restore them (only where numbers belong). */
function reviveNumbers(e: StudyEvent, line: number, where: string): StudyEvent {
  const num = (v: unknown, what: string): number => {
    try {
      return jsonNumber(v, what);
    } catch (err) {
      throw new JournalError(`${where}:${line}: ${(err as Error).message}`);
    }
  };
  if (e.type === 'trial_finished' || e.type === 'trial_pruned') {
    const m = e.metrics as unknown as Record<string, unknown>;
    for (const k of ['final_r2', 'final_mse', 'slope', 'training_time_min', 'final_r2_cod'] as const) {
      if (m[k] !== undefined) m[k] = num(m[k], `metrics.${k}`);
    }
  } else if (e.type === 'batch_proposed') {
    for (const t of e.trials) {
      if (t.predicted_minutes !== null && t.predicted_minutes !== undefined) t.predicted_minutes = num(t.predicted_minutes, 'predicted_minutes');
    }
  } else if (e.type === 'trial_failed' && e.training_time_min !== undefined) {
    e.training_time_min = num(e.training_time_min, 'training_time_min');
  }
  return e;
}

/**
 * Parse a journal's bytes. Lines are split on the newline byte before decoding,
 * so a torn multi-byte character can only be in the ignored tail.
 */
export function parseJournal(bytes: Uint8Array, where = JOURNAL_FILE): JournalRead {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: JournalEntry[] = [];
  let start = 0;
  let line = 1;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const text = buf.subarray(start, nl).toString('utf8');
    if (text.trim() === '') throw new JournalError(`${where}:${line}: empty journal line`);
    entries.push({ line, event: decodeLine(text, line, where) });
    start = nl + 1;
    line++;
  }
  const torn = start < buf.length ? { line, bytes: buf.length - start } : null;
  return { entries, torn };
}

export function readJournal(path: string): JournalRead {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new JournalError(`${path} not found: not a study folder`);
    throw err;
  }
  return parseJournal(bytes, path);
}

function writeAll(fd: number, bytes: Buffer): void {
  // One write for the whole line; the loop only continues after a short write.
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some file systems refuse fsync on a directory.
  }
}

export interface AppendOptions {
  /** The time stamp to record (tests pass a fixed one). */
  now?: () => Date;
}

/**
 * An open journal for appending. One process at a time: the loop (stage 2)
 * should hold a lock on the study folder while it appends.
 */
export class Journal {
  private fd: number;
  private nextLine: number;
  private readonly now: () => Date;

  private constructor(readonly path: string, fd: number, nextLine: number, opts: AppendOptions) {
    this.fd = fd;
    this.nextLine = nextLine;
    this.now = opts.now ?? (() => new Date());
  }

  /** A new journal whose first line is `study_created`; refuses when the file exists. */
  static create(studyDir: string, created: StudyCreatedEvent, opts: AppendOptions = {}): { journal: Journal; entry: JournalEntry } {
    const path = journalPath(studyDir);
    mkdirSync(dirname(path), { recursive: true });
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new JournalError(`${path} already exists: a study lives there (use study resume)`);
      throw err;
    }
    fsyncDir(dirname(path));
    const journal = new Journal(path, fd, 1, opts);
    const entry = journal.append(created);
    return { journal, entry };
  }

  /** Open an existing journal: read it, cut off a torn last line, and append after the last whole line. */
  static open(studyDir: string, opts: AppendOptions = {}): { journal: Journal; read: JournalRead } {
    const path = journalPath(studyDir);
    const read = readJournal(path);
    const fd = openSync(path, 'r+');
    try {
      if (read.torn) {
        const size = fstatSync(fd).size;
        ftruncateSync(fd, size - read.torn.bytes);
        fsyncSync(fd);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    closeSync(fd);
    const afd = openSync(path, 'a');
    return { journal: new Journal(path, afd, read.entries.length + 1, opts), read };
  }

  /** Append one event (whole line, fsync'd) and return it as stored. */
  append(body: StudyEventBody): JournalEntry {
    if (this.fd < 0) throw new Error('journal is closed');
    const at = this.now().toISOString();
    const text = encodeEvent(body, at);
    writeAll(this.fd, Buffer.from(text, 'utf8'));
    fsyncSync(this.fd);
    const entry = { line: this.nextLine++, event: decodeLine(text.slice(0, -1), this.nextLine - 1, this.path) };
    return entry;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
