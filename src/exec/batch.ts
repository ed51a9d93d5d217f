/**
 * Trials as jobs of a cluster's batch scheduler (Slurm, LSF). Every attempt
 * of a trial is one job that runs the attempt's command; the study and its
 * jobs meet in the study folder, which must be on a filesystem that the
 * submitting host and the compute nodes share: the job script, the trial's
 * run folder (its trial-status.json and progress.jsonl) and its log all live
 * there. A job's first action checks that it sees the folder, and fails with
 * exit code 6 and a clear line in the log otherwise.
 *
 * A job is followed with the scheduler's own commands while it is queued or
 * runs, then by its final state and, above all, the trial's own status file
 * and exit code. A job the scheduler ends (a time limit, a cancel from
 * outside, a preemption, a node failure) is a lost attempt with the
 * scheduler's reason, re-run like a stale trial. On a study's resume, a job
 * an earlier run of it submitted that is still queued or running is followed,
 * not submitted again.
 *
 * A scheduler is the small part that differs (scheduler.ts): how a job
 * script says its resources, how to submit, ask and cancel.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LocalRunner, readTail, showArgv, type LocalRunnerOptions } from './local.js';
import { sleep } from './process.js';
import type { Attempt, ChildExit } from './program.js';
import type { TrialHooks, TrialRequest } from './runner.js';
import { jobScript, type JobState, type Scheduler } from './scheduler.js';
import { readTrialStatus, trialDir, type ProgressTail } from './trial-files.js';

const POLL_MS = 1000;

export interface BatchRunnerOptions extends LocalRunnerOptions {
  scheduler: Scheduler;
}

export class BatchRunner extends LocalRunner {
  override readonly name: string;
  override readonly jobsHaveGpu: boolean;
  readonly scheduler: Scheduler;
  private readonly jobs = new Set<string>();

  constructor(opts: BatchRunnerOptions) {
    super(opts);
    this.scheduler = opts.scheduler;
    this.name = opts.scheduler.name;
    this.jobsHaveGpu = opts.scheduler.asksForGpu;
  }

  /** What the cluster can check before a study starts (it answers here; the queue or partition exists). */
  check(): Promise<void> {
    return this.scheduler.check();
  }

  protected override async adopt(req: TrialRequest, hooks: TrialHooks | undefined): Promise<ChildExit | undefined> {
    const id = req.previousJob;
    if (id === undefined) return undefined;
    const state = await this.scheduler.state(id);
    if (state === undefined || state.ended) return undefined;
    this.note(req, `following ${this.name} job ${id}, which an earlier run of the study submitted`);
    return this.followJob(req, id, hooks, this.progressSince(req));
  }

  protected override async launchOn(req: TrialRequest, attempt: Attempt, hooks: TrialHooks | undefined): Promise<ChildExit> {
    const script = `${req.out}.${this.scheduler.scriptExtension}`;
    mkdirSync(dirname(script), { recursive: true });
    writeFileSync(script, jobScript(this.scheduler, req, attempt.argv), { mode: 0o755 });
    this.logLine(req, `--- node ${req.node}, attempt ${req.attempt} (${attempt.mode}), ${new Date().toISOString()}: ${this.name} job ${script}: ${showArgv(attempt.argv)}`);
    const progress = this.progressSince(req);
    const submitted = await this.scheduler.submit(script);
    if ('error' in submitted) return { code: null, signal: null, error: new Error(submitted.error), tail: '' };
    hooks?.onSubmitted?.(submitted.jobId);
    return this.followJob(req, submitted.jobId, hooks, progress);
  }

  private async followJob(req: TrialRequest, id: string, hooks: TrialHooks | undefined, progress: ProgressTail): Promise<ChildExit> {
    this.jobs.add(id);
    const from = existsSync(req.log) ? statSync(req.log).size : 0;
    const cancel = (): void => void this.scheduler.cancel([id]);
    const watch = this.watchProgress(progress, hooks, cancel, cancel); // a scheduler's cancel signals the job first (SIGTERM): it checkpoints
    try {
      const end = await this.waitForEnd(id);
      const watched = watch.stop();
      const own = readTrialStatus(trialDir(req.out))?.exit_code;
      const scheduler = end?.killed !== undefined ? `${this.name} job ${id} ended ${end.killed}` : undefined;
      return { code: own ?? end?.exitCode ?? null, signal: null, tail: readTail(req.log, from), ...watched, ...(scheduler !== undefined ? { scheduler } : {}) };
    } finally {
      this.jobs.delete(id);
    }
  }

  /** The job's final state, once it has one; undefined when the scheduler has forgotten it. */
  private async waitForEnd(id: string): Promise<JobState | undefined> {
    for (let missing = 0; ; ) {
      const state = await this.scheduler.state(id);
      if (state?.ended) return state;
      // A job the scheduler no longer knows has ended; its end may take a poll or two to show (COMPLETING).
      if (state === undefined && ++missing >= 5) return undefined;
      await sleep(POLL_MS);
    }
  }

  override killAll(): void {
    if (this.jobs.size > 0) void this.scheduler.cancel([...this.jobs]);
  }
}
