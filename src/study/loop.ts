/**
 * A study in its folder: create or open it, hold its lock, and run the one
 * study loop (drive.ts; docs/study.md, "For the loop") with its journal and
 * files as the record and the inbox drained before each proposal.
 *
 * Every event is appended (one fsync'd line) only once what it records is
 * true, folded into the state, and the files are rendered (atomically) after
 * each one. A kill at any moment therefore leaves a journal that `openStudy`
 * folds back to where the study stood: decisions are re-made identically
 * (they depend on the journal alone), trials without a result re-run with the
 * same config and seed as the next attempt.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { packageVersion, readDatasetMeta } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { sleep } from '../exec/process.js';
import type { TrialRunner } from '../exec/runner.js';
import { UserError } from '../util/errors.js';
import type { Agents } from './advance.js';
import { drive } from './drive.js';
import { createAgent } from './agents/index.js';
import type { LlmAgentSetup } from './agents/llm/index.js';
import { studyCreatedEvent, type CreateOptions } from './create.js';
import { CONFIG_DIR, MEMORY_DIR, configFile } from './files.js';
import { INBOX_DIR, drainInbox, enqueuedRequests } from './inbox.js';
import { Journal, journalPath, readJournal, type JournalEntry, type StudyEventBody } from './journal.js';
import { acquireStudyLock, type StudyLock } from './lock.js';
import { renderAll } from './render/index.js';
import { applyEvent, foldEvents, type StudyState } from './state.js';

export interface OpenStudy {
  dir: string;
  journal: Journal;
  state: StudyState;
  lock: StudyLock;
  /** Inbox request ids already in the journal. */
  requests: Set<string>;
  /** Close the journal and release the lock. */
  close(): void;
}

export interface NewStudyOptions extends Pick<CreateOptions, 'agent' | 'iterations' | 'slots' | 'block' | 'seed' | 'ucbC' | 'llm'> {
  /** The config file: relative dataset paths are read from its folder. */
  configPath?: string;
  /** Told when a preset data set is generated into the cache (it takes a while the first time). */
  onGenerate?: (dir: string) => void;
  /** Recorded in the lock file. */
  command?: string;
}

function isStudy(dir: string): boolean {
  return existsSync(journalPath(dir));
}

function handle(dir: string, journal: Journal, state: StudyState, lock: StudyLock, requests: Set<string>): OpenStudy {
  let closed = false;
  return {
    dir, journal, state, lock, requests,
    close: () => {
      if (closed) return;
      closed = true;
      journal.close();
      lock.release();
    },
  };
}

/**
 * A new study in `dir` (created when missing; refused when a study is there).
 * The data set is resolved (a preset generated into the cache) once, here, and
 * its folder recorded in the journal, so a resumed study trains on the same data.
 */
export async function createStudy(dir: string, config: Config, opts: NewStudyOptions = {}): Promise<OpenStudy> {
  const abs = resolve(dir);
  if (isStudy(abs)) throw new UserError(`a study already lives in ${dir}: continue it with 'inrscape study resume ${dir}'`);
  mkdirSync(abs, { recursive: true });
  const lock = acquireStudyLock(abs, opts.command ?? 'inrscape study run');
  try {
    if (isStudy(abs)) throw new UserError(`a study already lives in ${dir}: continue it with 'inrscape study resume ${dir}'`);
    const datasetDir = await resolveDataset(config.dataset, {
      baseDir: opts.configPath !== undefined ? dirname(resolve(opts.configPath)) : process.cwd(),
      onGenerate: opts.onGenerate,
    });
    const meta = readDatasetMeta(datasetDir);
    const created = studyCreatedEvent(config, {
      agent: opts.agent, iterations: opts.iterations, slots: opts.slots, block: opts.block, seed: opts.seed, ucbC: opts.ucbC, llm: opts.llm,
      workload: { cells: meta.cells, frames: meta.frames }, versions: { inrscape: packageVersion() }, cpuPresetSpace: true,
    });
    created.dataset_dir = resolve(datasetDir);
    const { journal, entry } = Journal.create(abs, created);
    const state = foldEvents([entry]);
    renderAll(abs, state);
    return handle(abs, journal, state, lock, new Set());
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Temporary files a killed writer left (`.<name>.tmp-<pid>`): rendered files are rewritten from the journal anyway. */
export function removeTempFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const sub of ['', CONFIG_DIR, MEMORY_DIR, INBOX_DIR]) {
    let names: string[];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      if (/^\..+\.tmp-\d+$/.test(name) || /^lock\.stale-\d+$/.test(name)) {
        rmSync(join(dir, sub, name), { recursive: true, force: true });
        removed.push(join(sub, name));
      }
    }
  }
  return removed;
}

/**
 * Open an existing study for running: take its lock (a stale one from a
 * killed process is taken over), cut a torn last journal line, fold the
 * journal, remove temporary files a kill left, and render the files again.
 */
export function openStudy(dir: string, command = 'inrscape study resume'): OpenStudy {
  const abs = resolve(dir);
  if (!isStudy(abs)) throw new UserError(`${dir} is not a study folder (no ${journalPath(dir)})`);
  const lock = acquireStudyLock(abs, command);
  try {
    const { journal, read } = Journal.open(abs);
    try {
      const state = foldEvents(read.entries);
      removeTempFiles(abs);
      renderAll(abs, state);
      return handle(abs, journal, state, lock, enqueuedRequests(read.entries));
    } catch (err) {
      journal.close();
      throw err;
    }
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** The study's state from its journal, read-only (no lock): for status, best, export. */
export function loadStudy(dir: string): StudyState {
  if (!isStudy(dir)) throw new UserError(`${dir} is not a study folder (no ${journalPath(dir)})`);
  return foldEvents(readJournal(journalPath(dir)).entries);
}

export interface LoopOptions {
  runner: TrialRunner;
  /**
   * Milliseconds to wait after every event (default: INRSCAPE_STUDY_EVENT_PAUSE_MS, else 0).
   * A test hook: the crash tests widen the moments between events to kill the study there.
   */
  eventPauseMs?: number;
  /** The cost model's rate before any trial finished (see budget.ts, `enginePriorFlopsPerSecond`). */
  priorFlopsPerSecond?: number;
  /** Called after each event is appended, folded and rendered. */
  onEvent?: (entry: JournalEntry, state: StudyState) => void;
  /** What the loop does besides appending events, in words. */
  onNote?: (message: string) => void;
  /** For the LLM agent: the environment its provider reads (keys), retry timing. */
  llm?: Omit<LlmAgentSetup, 'record'>;
}

/** Append, fold, render, tell. */
function recorder(study: OpenStudy, onEvent?: LoopOptions['onEvent']): (body: StudyEventBody) => JournalEntry {
  return (body) => {
    const entry = study.journal.append(body);
    applyEvent(study.state, entry);
    renderAll(study.dir, study.state);
    onEvent?.(entry, study.state);
    return entry;
  };
}

/** The data set folder the trials train on: the recorded one, or (when it is gone, e.g. a cleared cache) resolved again. */
async function datasetFolder(study: OpenStudy, opts: LoopOptions): Promise<string> {
  const recorded = study.state.created.dataset_dir;
  if (recorded !== undefined && existsSync(recorded)) return recorded;
  const dir = await resolveDataset(study.state.config.dataset, { onGenerate: (d) => opts.onNote?.(`generating the data set into ${d}`) });
  if (recorded !== undefined) opts.onNote?.(`the data set folder ${recorded} is gone; using ${dir}`);
  return resolve(dir);
}

/** Append one event to an open study (fold, render, tell): for commands other than the loop (`study enqueue`). */
export function appendEvent(study: OpenStudy, body: StudyEventBody, onEvent?: LoopOptions['onEvent']): JournalEntry {
  return recorder(study, onEvent)(body);
}

/** Extend a study's iterations (`study resume --iterations N`). */
export function changeIterations(study: OpenStudy, iterations: number, opts: Pick<LoopOptions, 'onEvent'> = {}): void {
  if (iterations === study.state.settings.iterations) return;
  if (iterations < study.state.nodes.length) {
    throw new UserError(`--iterations ${iterations}: the study already has ${study.state.nodes.length} trials`);
  }
  recorder(study, opts.onEvent)({ type: 'settings_changed', iterations });
}

/**
 * Run the study until it is done. Trials of a batch run up to
 * `runner.capacity` at a time. Returns the final state; the caller closes the study.
 */
export async function runLoop(study: OpenStudy, opts: LoopOptions): Promise<StudyState> {
  const { state, dir } = study;
  const record = recorder(study, opts.onEvent);
  const agents: Agents = {
    agent: createAgent(state.settings.agent, { llm: { settings: state.settings.llm, record: (e) => record(e), ...opts.llm } }),
    ...(opts.priorFlopsPerSecond !== undefined ? { cost: { priorFlopsPerSecond: opts.priorFlopsPerSecond } } : {}),
  };
  const dataset = await datasetFolder(study, opts);
  const pauseMs = opts.eventPauseMs ?? Number(process.env.INRSCAPE_STUDY_EVENT_PAUSE_MS ?? 0);
  await drive({
    state, record, runner: opts.runner, agents,
    paths: (t, run_dir) => ({ config: join(dir, configFile(t.node, t.slot)), dataset, out: join(dir, run_dir), log: join(dir, `${run_dir}.log`) }),
    beforePropose: () => drainInbox(dir, study.requests, () => state.enqueued + 1, (e) => record(e)),
    ...(pauseMs > 0 ? { settle: () => sleep(pauseMs) } : {}),
  });
  return state;
}

