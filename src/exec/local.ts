/**
 * The local runner: every attempt of a trial is a child process of the study,
 * so a trial that crashes (a native fault, out of memory, a kill) is a failed
 * or lost trial, never a dead study. What the child runs is the trial's
 * program (program.ts): `inrscape train` by default, or the user's trainer.
 *
 * Output (progress and errors) is appended to `<study>/runs/iter_NNN_slot_NN.log`.
 * While a child runs, its progress file (trial-files.ts) is followed: its
 * evaluations go to the study as they come, and a silence longer than the
 * heartbeat timeout is a hang (the child is killed, the attempt lost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InrscapeProgram } from './inrscape-program.js';
import { PARENT_PID_ENV, killQuietly } from './process.js';
import type { Attempt, ChildExit, Launcher, TrialProgram } from './program.js';
import type { TrialHooks, TrialOutcome, TrialRequest, TrialRunner } from './runner.js';
import { ProgressTail, TRIAL_PROGRESS_FILE, trialDir } from './trial-files.js';

export { PARENT_PID_ENV } from './process.js';

export interface LocalRunnerOptions {
  /** Trials at once. */
  capacity: number;
  /** Engine threads per trial. */
  threads: number;
  /** What a trial runs (default: `inrscape train` of this build). */
  program?: TrialProgram;
  /** Environment of the children (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** What the runner does besides a plain run, in words (waiting for an orphan, resuming). */
  onNote?: (req: TrialRequest, message: string) => void;
  /**
   * Seconds without a line in a trial's progress file (it writes a heartbeat
   * every HEARTBEAT_SECONDS) after which the trial counts as hung: its child is
   * killed and the attempt is lost (re-run from its checkpoint, same seed).
   */
  heartbeatTimeoutS?: number;
  /**
   * GPUs to spread trials over, one entry per trial that may run at once (a
   * GPU listed twice takes two trials). A trial's child sees only its GPU
   * (CUDA_VISIBLE_DEVICES) and trains with `--device cuda`.
   */
  gpuSlots?: number[];
}

/** The last `max` bytes of `path` from byte `from`. */
export function readTail(path: string, from: number, max = 4096): string {
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - max);
    if (size <= start) return '';
    const buf = Buffer.alloc(size - start);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8');
  } catch {
    return '';
  }
}

/** A command line for the log, each word readable as one. */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=,+@%-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * A trial writes a heartbeat every 10 s (and a line at every evaluation), even
 * through a long evaluation, since its engine calls leave its event loop free.
 * Two minutes of silence, twelve missed beats, is a hang, not a slow step, a
 * busy disk or a long evaluation, yet costs little against trials of up to an
 * hour. Optuna's stale-trial check works the same way (its grace period is a
 * few heartbeat intervals).
 */
export const HEARTBEAT_TIMEOUT_S = 120;
const PROGRESS_POLL_MS = 500;

export class LocalRunner implements TrialRunner, Launcher {
  readonly name: string = 'local';
  readonly capacity: number;
  readonly threads: number;
  readonly program: TrialProgram;
  readonly jobsHaveGpu: boolean = false;
  protected readonly env: NodeJS.ProcessEnv;
  private readonly onNote?: (req: TrialRequest, message: string) => void;
  private readonly children = new Set<ChildProcess>();
  private readonly freeGpus: number[];
  protected readonly heartbeatTimeoutS: number;

  constructor(opts: LocalRunnerOptions) {
    if (!(Number.isInteger(opts.capacity) && opts.capacity >= 1)) throw new RangeError(`capacity must be a positive integer (got ${opts.capacity})`);
    if (!(Number.isInteger(opts.threads) && opts.threads >= 1)) throw new RangeError(`threads must be a positive integer (got ${opts.threads})`);
    this.capacity = opts.capacity;
    this.threads = opts.threads;
    this.env = opts.env ?? process.env;
    this.program = opts.program ?? new InrscapeProgram({}, this.env);
    this.onNote = opts.onNote;
    this.freeGpus = [...(opts.gpuSlots ?? [])];
    this.heartbeatTimeoutS = opts.heartbeatTimeoutS ?? HEARTBEAT_TIMEOUT_S;
    if (opts.gpuSlots !== undefined && opts.gpuSlots.length < this.capacity) {
      throw new RangeError(`${opts.gpuSlots.length} GPU slots for ${this.capacity} trials at once`);
    }
  }

  async run(req: TrialRequest, hooks?: TrialHooks): Promise<TrialOutcome> {
    const adopted = await this.adopt(req, hooks);
    if (adopted !== undefined) return this.program.outcome(req, adopted);
    const gpu = this.freeGpus.shift();
    try {
      return await this.program.run(req, gpu, this.onGpu(gpu), hooks);
    } finally {
      if (gpu !== undefined) this.freeGpus.push(gpu);
    }
  }

  /**
   * An attempt of this trial that is still going somewhere this runner can
   * follow (a cluster job an earlier run of the study submitted): followed to
   * its end instead of starting another. The local runner has none: its
   * children die with the study, and the program waits for an orphan.
   */
  protected async adopt(_req: TrialRequest, _hooks: TrialHooks | undefined): Promise<ChildExit | undefined> {
    return undefined;
  }

  note(req: TrialRequest, message: string): void {
    this.onNote?.(req, message);
  }

  logLine(req: TrialRequest, line: string): void {
    try {
      mkdirSync(dirname(req.log), { recursive: true });
      appendFileSync(req.log, line + '\n');
    } catch {
      // the log is for people; a trial does not fail over it
    }
  }

  /** This runner as the launcher of a trial that holds `gpu`. */
  private onGpu(gpu: number | undefined): Launcher {
    if (gpu === undefined) return this;
    return { jobsHaveGpu: this.jobsHaveGpu, note: (r, m) => this.note(r, m), logLine: (r, l) => this.logLine(r, l), launch: (r, a, h) => this.launchOn(r, a, h, gpu) };
  }

  launch(req: TrialRequest, attempt: Attempt, hooks: TrialHooks | undefined): Promise<ChildExit> {
    return this.launchOn(req, attempt, hooks, undefined);
  }

  /** One attempt as a child of this process; resolves when it ends. */
  protected launchOn(req: TrialRequest, attempt: Attempt, hooks: TrialHooks | undefined, gpu: number | undefined): Promise<ChildExit> {
    mkdirSync(dirname(req.log), { recursive: true });
    const fd = openSync(req.log, 'a');
    const start = statSync(req.log).size;
    const onGpu = gpu === undefined ? '' : `CUDA_VISIBLE_DEVICES=${gpu} `;
    writeSync(fd, `--- node ${req.node}, attempt ${req.attempt} (${attempt.mode}), ${new Date().toISOString()}: ${onGpu}${showArgv(attempt.argv)}\n`);
    const progress = this.progressSince(req);
    return new Promise<ChildExit>((resolvePromise) => {
      let child: ChildProcess;
      try {
        child = spawn(attempt.argv[0], attempt.argv.slice(1), {
          stdio: ['ignore', fd, fd],
          env: { ...this.env, [PARENT_PID_ENV]: String(process.pid), ...(gpu === undefined ? {} : { CUDA_VISIBLE_DEVICES: String(gpu) }) },
        });
      } catch (err) {
        closeSync(fd);
        resolvePromise({ code: null, signal: null, error: err as Error, tail: '' });
        return;
      }
      closeSync(fd);
      this.children.add(child);
      if (child.pid !== undefined) attempt.onSpawn?.(child.pid);
      const watch = this.watchProgress(progress, hooks, () => killQuietly(child.pid), () => child.kill('SIGTERM'));
      let overtime: string | undefined;
      const limit = attempt.timeLimitS === undefined ? undefined : setTimeout(() => {
        overtime = `${attempt.argv[0]} ran past its time limit of ${attempt.timeLimitS} s: killed it`;
        killQuietly(child.pid);
      }, attempt.timeLimitS * 1000);
      let settled = false;
      const done = (e: Omit<ChildExit, 'tail'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(limit);
        const { stale, pruned } = watch.stop();
        this.children.delete(child);
        resolvePromise({ ...e, ...(stale !== undefined ? { stale } : {}), ...(pruned !== undefined ? { pruned } : {}), ...(overtime !== undefined ? { overtime } : {}), tail: readTail(req.log, start) });
      };
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    });
  }

  /**
   * The attempt's progress file from here on: what an earlier attempt wrote
   * was passed on then. Taken before the attempt starts, or a fast trainer's
   * first lines would count as old.
   */
  protected progressSince(req: TrialRequest): ProgressTail {
    const tail = new ProgressTail(() => join(trialDir(req.out), TRIAL_PROGRESS_FILE));
    tail.poll();
    return tail;
  }

  /**
   * Follow an attempt's progress file: evaluations go to the hooks, and its
   * growth is the heartbeat; after `heartbeatTimeoutS` of silence `kill` is
   * called once (for an `if-present` heartbeat, only once the file has
   * grown). A hook's stop verdict calls `terminate` once (the trial's stop
   * hook). `stop` ends the watch (reading what is left) and says why the
   * attempt was killed or stopped, if it was.
   */
  protected watchProgress(tail: ProgressTail, hooks: TrialHooks | undefined, kill: () => void, terminate: () => void): { stop: () => { stale?: string; pruned?: string } } {
    let alive = Date.now();
    let beating = this.program.heartbeat === 'required';
    let stale: string | undefined;
    let pruned: string | undefined;
    const look = (): void => {
      const { records, grew } = tail.poll();
      if (grew) {
        alive = Date.now();
        beating = true;
      }
      for (const r of records) {
        if (r.kind !== 'evaluation') continue;
        const verdict = hooks?.onEvaluation?.({ step: r.step, r2: r.r2, mse: r.mse, slope: r.slope, time_s: r.time_s });
        if (verdict && pruned === undefined) {
          pruned = verdict.stop;
          terminate();
        }
      }
      const quiet = (Date.now() - alive) / 1000;
      if (beating && stale === undefined && quiet > this.heartbeatTimeoutS) {
        stale = `no heartbeat from ${this.program.name} for ${Math.round(quiet)} s (more than ${this.heartbeatTimeoutS} s): killed it`;
        kill();
      }
    };
    const timer = setInterval(look, PROGRESS_POLL_MS);
    return {
      stop: () => {
        clearInterval(timer);
        look();
        return { ...(stale !== undefined ? { stale } : {}), ...(pruned !== undefined ? { pruned } : {}) };
      },
    };
  }

  killAll(): void {
    for (const child of this.children) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
