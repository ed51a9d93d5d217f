/**
 * Running trials: the interface a study's loop sees. A trial is one
 * `inrscape train` of one config file into one run folder; the runner decides
 * where it runs (a child process here; a queue or a cluster later) and reports
 * what came of it. The loop records the outcome in the journal; a runner never
 * touches the journal.
 */
import type { InrConfig } from '../config/inr.js';
import type { EvaluationRecord, TrialMetrics } from './trial-files.js';

export interface TrialRequest {
  node: number;
  /** 1 on the first start; a resumed study re-runs an interrupted trial as attempt 2, ... */
  attempt: number;
  /** The trial's whole config (absolute path). */
  config: string;
  /** The data set folder (resolved once when the study was created). */
  dataset: string;
  /** The run folder to create (absolute). */
  out: string;
  /** Where the trial's output (stdout and stderr) is appended. */
  log: string;
  maxMinutes: number;
  seed: number;
  /** Engine threads of this trial. */
  threads: number;
  /** The trial's inr section: an existing run folder is taken over only when it trained exactly this. */
  inr: InrConfig;
  /** A cluster job an earlier run of the study submitted for this trial (followed, not submitted again, while it is queued or runs). */
  previousJob?: string;
  /**
   * The step the study paused this trial at, when it now resumes it: a
   * trainer with checkpoints continues from its own; one without (a
   * synthetic objective) continues from here.
   */
  resumeAt?: number;
}

export type TrialOutcome =
  | {
      status: 'finished';
      metrics: TrialMetrics;
      /** How the result came about when it was not a plain run (e.g. "resumed from step 40", "adopted"). */
      note?: string;
    }
  | {
      status: 'failed';
      /** One line: the trainer's reason (loss is NaN at step K, ...) or the exit code / signal. */
      reason: string;
      /** Minutes it trained before failing, when known. */
      training_time_min?: number;
      /** Whether a (failed) run folder was committed. */
      runFolder: boolean;
      note?: string;
    }
  | {
      /** The study stopped it at an intermediate evaluation (TrialHooks.onEvaluation said so); its checkpoint stays. */
      status: 'pruned';
      reason: string;
    }
  | {
      /**
       * The attempt ended without a result and can be run again with the same
       * config and seed: its child was killed by a signal, stopped from
       * outside, lost its engine, or its heartbeat stopped.
       */
      status: 'lost';
      reason: string;
    };

/** What a committed run folder can say: a result or a failure. */
export type RunFolderOutcome = Extract<TrialOutcome, { status: 'finished' | 'failed' }>;

/** The study's word on an intermediate evaluation: stop the trial, and why. */
export interface StopVerdict {
  stop: string;
}

/** What a runner tells while a trial runs. */
export interface TrialHooks {
  /**
   * An intermediate evaluation from the trial's progress file, once each. A
   * verdict stops the trial through its stop hook (SIGTERM: it checkpoints and
   * exits), never a kill, and its outcome is `pruned`.
   */
  onEvaluation?: (e: EvaluationRecord) => StopVerdict | void;
  /** A scheduler took the attempt as job `jobId` (told before it runs). */
  onSubmitted?: (jobId: string) => void;
}

/** Attempts a trial gets in one study (lost ones re-run up to this many in all); then it fails. */
export const MAX_ATTEMPTS = 3;

export interface TrialRunner {
  readonly name: string;
  /** Trials it runs at once. */
  readonly capacity: number;
  /** Engine threads each trial gets. */
  readonly threads: number;
  run(req: TrialRequest, hooks?: TrialHooks): Promise<TrialOutcome>;
  /** Stop every trial it started (on the study's interruption); their run folders stay resumable. */
  killAll(): void;
}

/**
 * Run `work` over what `next` gives, at most `capacity` at a time: whenever
 * one ends, `next` is asked again for each free place (what it gives may
 * depend on what ended). Resolves when none runs and `next` has nothing; the
 * first rejection (of `work` or `next`) rejects, once the work already
 * started has ended (none starts after it).
 */
export function runQueue<T>(capacity: number, next: () => T | undefined, work: (item: T) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let running = 0;
    let failed = false;
    let failure: unknown;
    const fail = (err: unknown): void => {
      if (!failed) failure = err;
      failed = true;
    };
    const fill = (): void => {
      while (!failed && running < Math.max(1, capacity)) {
        let item: T | undefined;
        try {
          item = next();
        } catch (err) {
          fail(err);
          break;
        }
        if (item === undefined) break;
        running++;
        work(item).catch(fail).finally(() => {
          running--;
          fill();
        });
      }
      if (running === 0) {
        if (failed) reject(failure);
        else resolve();
      }
    };
    fill();
  });
}

/** `runQueue` over a fixed list, in order. */
export function runPool<T>(items: readonly T[], capacity: number, work: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  return runQueue(capacity, () => (i < items.length ? items[i++] : undefined), work);
}
