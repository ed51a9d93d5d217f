/**
 * The trial protocol: how a trial (`inrscape train`, or a user's trainer
 * under inrscape) tells whoever started it how it goes, through files in its
 * run folder and its exit code, never through its stderr (which is for people).
 *
 * While the trial runs its run folder is the staging folder
 * (`.<name>.partial/`, docs/training.md); both files move with it when it
 * commits.
 *
 * - `trial-status.json`, written atomically: state, pid, host, the process's
 *   start time, steps done, and at the end the exit code and reason.
 * - `progress.jsonl`, appended whole lines: a heartbeat at start, every
 *   HEARTBEAT_SECONDS and at the end (step, loss, training time), and every
 *   intermediate evaluation (step, R², MSE, slope, time).
 *
 * Exit codes (`TRIAL_EXIT`): 0 done; 1 failed (a run folder with status
 * failed says why); 2 a user error (nothing written); 3 done early, the
 * budget (`--max-minutes`) reached (results written, time_limited); 4 stopped
 * from outside or its engine lost, resumable from the checkpoint in the
 * staging folder; 5 the run folder is in use by another live process.
 */
import { appendFileSync, existsSync, openSync, readSync, closeSync, fstatSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { partialDir } from '../inr/run-folder.js';
import { writeFileAtomic } from '../util/atomic.js';
import { processStartTime } from '../util/pid.js';

export const TRIAL_STATUS_FILE = 'trial-status.json';
export const TRIAL_PROGRESS_FILE = 'progress.jsonl';
export const HEARTBEAT_SECONDS = 10;

export const TRIAL_EXIT = { done: 0, failed: 1, userError: 2, budget: 3, stopped: 4, busy: 5 } as const;

/** What a finished trial reports (its results.log and run.json, read back). */
export interface TrialMetrics {
  final_r2: number;
  final_mse: number;
  slope: number;
  training_time_min: number;
  final_r2_cod?: number;
  /** The budget stopped training early. */
  time_limited?: boolean;
  /** Steps actually trained (for the cost model when time-limited). */
  steps_done?: number;
}

export type TrialState = 'training' | 'evaluating' | 'done' | 'budget' | 'failed' | 'stopped';

export interface TrialStatus {
  format: 'inrscape-trial-status';
  version: 1;
  state: TrialState;
  pid: number;
  host: string;
  /** The process's start time (a reused pid has another). */
  proc_start: string | null;
  started_at: string;
  updated_at: string;
  steps_done: number;
  total_steps: number;
  exit_code?: number;
  exit_reason?: string;
}

/** An evaluation on all frames during training. */
export interface EvaluationRecord {
  step: number;
  r2: number;
  mse: number;
  slope: number;
  time_s: number;
}

export type ProgressRecord =
  | { kind: 'heartbeat'; at: string; step: number; loss: number | null; elapsed_s: number }
  | ({ kind: 'evaluation'; at: string } & EvaluationRecord);

/** Non-finite numbers as null: JSON has none, and a NaN R² must not break a line. */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The writing side, used by the trial process. Writes go to `dir()`, which may not exist yet (then they wait). */
export class TrialReporter {
  private status: TrialStatus;

  constructor(private readonly dir: () => string, totalSteps: number) {
    const now = new Date().toISOString();
    this.status = {
      format: 'inrscape-trial-status', version: 1, state: 'training', pid: process.pid, host: hostname(),
      proc_start: processStartTime(process.pid) ?? null, started_at: now, updated_at: now, steps_done: 0, total_steps: totalSteps,
    };
  }

  update(patch: Partial<Pick<TrialStatus, 'state' | 'steps_done' | 'total_steps' | 'exit_code' | 'exit_reason'>>): void {
    this.status = { ...this.status, ...patch, updated_at: new Date().toISOString() };
    const dir = this.dir();
    if (existsSync(dir)) writeFileAtomic(join(dir, TRIAL_STATUS_FILE), JSON.stringify(this.status, null, 2) + '\n');
  }

  heartbeat(step: number, loss: number, elapsedS: number): void {
    this.append({ kind: 'heartbeat', at: new Date().toISOString(), step, loss: finite(loss), elapsed_s: elapsedS });
  }

  evaluation(e: EvaluationRecord): void {
    this.append({ kind: 'evaluation', at: new Date().toISOString(), step: e.step, r2: e.r2, mse: e.mse, slope: e.slope, time_s: e.time_s });
  }

  private append(r: ProgressRecord): void {
    const dir = this.dir();
    if (!existsSync(dir)) return;
    const line = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
    appendFileSync(join(dir, TRIAL_PROGRESS_FILE), line + '\n');
  }
}

/** Where the trial that writes run folder `out` keeps its files now: its staging folder while it runs, then `out`. */
export function trialDir(out: string): string {
  const staging = partialDir(out);
  return existsSync(staging) ? staging : out;
}

export function readTrialStatus(dir: string): TrialStatus | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, TRIAL_STATUS_FILE), 'utf8')) as TrialStatus;
    return v.format === 'inrscape-trial-status' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The reading side: new whole lines of a progress file since the last poll.
 * A torn last line (the writer mid-append) waits for the next poll.
 */
export class ProgressTail {
  private offset = 0;
  private partial = '';

  constructor(private readonly file: () => string) {}

  /** New records, and whether the file grew at all since the last poll (a heartbeat's sign of life). */
  poll(): { records: ProgressRecord[]; grew: boolean } {
    let fd: number;
    try {
      fd = openSync(this.file(), 'r');
    } catch {
      return { records: [], grew: false };
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0; // a fresh attempt started the file again
        this.partial = '';
      }
      if (size === this.offset) return { records: [], grew: false };
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const text = this.partial + buf.toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      const records: ProgressRecord[] = [];
      for (const l of lines) {
        if (l.trim() === '') continue;
        try {
          records.push(JSON.parse(l) as ProgressRecord);
        } catch {
          // a line that is not ours: skip it, the file stays readable
        }
      }
      return { records, grew: true };
    } finally {
      closeSync(fd);
    }
  }
}
