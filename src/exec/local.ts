/**
 * The local runner: every trial is an `inrscape train` child process, so a
 * trial that crashes (a native fault, out of memory, a kill) is a failed
 * trial, never a dead study.
 *
 *   node dist/src/cli/bin.js train <study>/config/iter_NNN_slot_NN.yaml --dataset <dir>
 *        --out <study>/runs/iter_NNN_slot_NN --max-minutes M --seed S --threads T
 *
 * Output (progress and errors) is appended to `<study>/runs/iter_NNN_slot_NN.log`.
 * Outcomes: exit 0 with results.log -> finished; exit 1 with a failed run
 * folder -> failed with the trainer's reason; anything else (another exit code,
 * a signal, no folder) -> failed with a reason that names it and the log's last line.
 *
 * Interrupted studies: a trial that was running when its study died is run
 * again with the same config and seed. The runner looks at what the killed
 * attempt left:
 *   - a committed run folder that trained this config, seed and budget: taken
 *     as the result (the child finished after its study died);
 *   - a staging folder (`.iter_NNN_slot_NN.partial`) whose lock holder still
 *     runs: an orphaned child; wait for it (children stop on their own once
 *     their study is gone, see `INRSCAPE_PARENT_PID`);
 *   - a staging folder of this trial: `inrscape train --resume` (bit for bit
 *     the run an uninterrupted study would have made);
 *   - anything else at that path: `--force`, a fresh start with the same seed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE, RUN_SPEC_FILE, partialDir } from '../inr/run-folder.js';
import { PARENT_PID_ENV, pidAlive, sleep, waitForExit } from './process.js';

export { PARENT_PID_ENV } from './process.js';
import { folderMatches, folderOutcome, stagingMatches } from './run-folder.js';
import type { TrialHooks, TrialOutcome, TrialRequest, TrialRunner } from './runner.js';
import { ProgressTail, TRIAL_EXIT, TRIAL_PROGRESS_FILE, readTrialStatus, trialDir } from './trial-files.js';
import { hostname } from 'node:os';
import { processStartTime } from '../util/pid.js';

/** Extra `inrscape train` flags for every fresh trial (space-separated; tests use `--checkpoint-steps N`). */
export const TRAIN_ARGS_ENV = 'INRSCAPE_STUDY_TRAIN_ARGS';

export interface LocalRunnerOptions {
  /** Trials at once. */
  capacity: number;
  /** Engine threads per trial. */
  threads: number;
  /** The inrscape entry point (default: this build's dist/src/cli/bin.js). */
  bin?: string;
  /** Environment of the children (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Extra flags for fresh starts (default: from INRSCAPE_STUDY_TRAIN_ARGS). */
  extraArgs?: string[];
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

export type Mode = 'fresh' | 'resume' | 'force';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
  /** Why the runner killed it: its heartbeat stopped. */
  stale?: string;
  /** How a scheduler ended it without the trial's own exit (e.g. `TIMEOUT`, `CANCELLED by 0`). */
  scheduler?: string;
  /** The child's output of this attempt (the end of it). */
  tail: string;
}

export function defaultBin(): string {
  return fileURLToPath(new URL('../cli/bin.js', import.meta.url));
}

function readLockPid(staging: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(staging, LOCK_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The live process on this host that trains in `staging`, if any. A trial on
 * another host (a cluster job) is its scheduler's to follow, never a local
 * pid's; a pid now used by another process (another start time) is none.
 */
function localHolder(staging: string): number | undefined {
  const status = readTrialStatus(staging);
  if (status !== undefined && status.host !== hostname()) return undefined;
  const pid = readLockPid(staging);
  if (pid === undefined || pid === process.pid || !pidAlive(pid)) return undefined;
  const started = processStartTime(pid);
  if (status?.pid === pid && status.proc_start !== null && started !== undefined && started !== status.proc_start) return undefined;
  return pid;
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

/** The last line of a child's output, for people (nothing is decided by it). */
export function lastLine(tail: string): string | undefined {
  const lines = tail.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1];
  if (line === undefined) return undefined;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
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
/** How long an earlier attempt's orphaned child may take to stop before it is killed. */
const ORPHAN_WAIT_MS = 60_000;

function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

export class LocalRunner implements TrialRunner {
  readonly name: string = 'local';
  readonly capacity: number;
  readonly threads: number;
  protected readonly bin: string;
  protected readonly env: NodeJS.ProcessEnv;
  private readonly extraArgs: string[];
  protected readonly onNote?: (req: TrialRequest, message: string) => void;
  private readonly children = new Set<ChildProcess>();
  private readonly freeGpus: number[];
  protected readonly heartbeatTimeoutS: number;

  constructor(opts: LocalRunnerOptions) {
    if (!(Number.isInteger(opts.capacity) && opts.capacity >= 1)) throw new RangeError(`capacity must be a positive integer (got ${opts.capacity})`);
    if (!(Number.isInteger(opts.threads) && opts.threads >= 1)) throw new RangeError(`threads must be a positive integer (got ${opts.threads})`);
    this.capacity = opts.capacity;
    this.threads = opts.threads;
    this.bin = opts.bin ?? defaultBin();
    this.env = opts.env ?? process.env;
    this.extraArgs = opts.extraArgs ?? (this.env[TRAIN_ARGS_ENV] ?? '').split(/\s+/).filter((a) => a !== '');
    this.onNote = opts.onNote;
    this.freeGpus = [...(opts.gpuSlots ?? [])];
    this.heartbeatTimeoutS = opts.heartbeatTimeoutS ?? HEARTBEAT_TIMEOUT_S;
    if (opts.gpuSlots !== undefined && opts.gpuSlots.length < this.capacity) {
      throw new RangeError(`${opts.gpuSlots.length} GPU slots for ${this.capacity} trials at once`);
    }
  }

  async run(req: TrialRequest, hooks?: TrialHooks): Promise<TrialOutcome> {
    const gpu = this.freeGpus.shift();
    try {
      return await this.runOn(req, gpu, hooks);
    } finally {
      if (gpu !== undefined) this.freeGpus.push(gpu);
    }
  }

  /**
   * An attempt of this trial that is still going somewhere this runner can
   * follow (a cluster job an earlier run of the study submitted): followed to
   * its end instead of starting another. The local runner has none: its
   * children die with the study, and an orphan is waited for below.
   */
  protected async adopt(_req: TrialRequest, _hooks: TrialHooks | undefined): Promise<ChildExit | undefined> {
    return undefined;
  }

  private async runOn(req: TrialRequest, gpu: number | undefined, hooks: TrialHooks | undefined): Promise<TrialOutcome> {
    const adopted = await this.adopt(req, hooks);
    if (adopted !== undefined) return this.outcome(req, adopted);
    let forceRestart = false;
    let last: { mode: Mode; exit: ChildExit } | undefined;
    for (let round = 0; round < 20; round++) {
      // A run folder already committed for this trial: the killed attempt's child finished it.
      if (existsSync(join(req.out, 'results.log')) && !forceRestart) {
        if (folderMatches(req.out, req)) {
          const o = folderOutcome(req.out);
          if (o) {
            this.logLine(req, `--- node ${req.node}, attempt ${req.attempt} (taken over), ${new Date().toISOString()}: the run folder an earlier attempt committed holds this trial's result`);
            this.onNote?.(req, `took over the result an earlier attempt committed in ${req.out}`);
            return { ...o, note: 'result of an earlier attempt' };
          }
        }
      }
      const staging = partialDir(req.out);
      let mode: Mode;
      if (existsSync(staging)) {
        const holder = localHolder(staging);
        if (holder !== undefined) {
          // An orphan stops within a chunk once it sees its study gone; one that does not is stuck.
          this.onNote?.(req, `waiting for pid ${holder} (an earlier attempt of this trial) to stop`);
          if (!(await waitForExit(holder, ORPHAN_WAIT_MS))) {
            this.onNote?.(req, `pid ${holder} did not stop within ${ORPHAN_WAIT_MS / 1000} s: killing it (its checkpoint stays)`);
            killQuietly(holder);
            await waitForExit(holder, ORPHAN_WAIT_MS);
          }
          continue;
        }
        mode = !forceRestart && existsSync(join(staging, RUN_SPEC_FILE)) && stagingMatches(staging, req) ? 'resume' : 'force';
      } else {
        mode = existsSync(req.out) ? 'force' : 'fresh';
      }
      if (mode === 'resume') this.onNote?.(req, `resuming the interrupted run in ${staging}`);
      const exit = await this.launch(req, this.trainArgs(req, mode, gpu), mode, gpu, hooks);
      last = { mode, exit };
      // Someone else holds the folder (an orphan that got there first, or one not yet reaped): wait and look again.
      if (exit.code === TRIAL_EXIT.busy) {
        await sleep(250);
        continue;
      }
      // The interrupted run cannot continue (e.g. a damaged checkpoint): start it over, same seed.
      if (exit.code === TRIAL_EXIT.userError && mode === 'resume') {
        forceRestart = true;
        continue;
      }
      return this.outcome(req, exit);
    }
    return this.outcome(req, last?.exit ?? { code: null, signal: null, tail: '', error: new Error('gave up after repeated attempts') });
  }

  /**
   * What an attempt came to, from its exit code and its run folder (the
   * trial protocol, trial-files.ts); its output's last line only goes into
   * the reason shown to people.
   */
  private outcome(req: TrialRequest, exit: ChildExit): TrialOutcome {
    const folder = folderOutcome(req.out);
    const shown = exit.error ? undefined : lastLine(exit.tail);
    const said = shown !== undefined ? `: ${shown}` : '';
    if (exit.error) return { status: 'failed', reason: `could not run inrscape train: ${exit.error.message}`, runFolder: folder !== undefined };
    if (exit.stale) return { status: 'lost', reason: exit.stale };
    if (exit.scheduler !== undefined && !(folder && (exit.code === TRIAL_EXIT.done || exit.code === TRIAL_EXIT.budget))) {
      return { status: 'lost', reason: exit.scheduler };
    }
    if ((exit.code === TRIAL_EXIT.done || exit.code === TRIAL_EXIT.budget) && folder) return folder;
    if (exit.code === TRIAL_EXIT.failed && folder?.status === 'failed') return folder;
    if (exit.signal) return { status: 'lost', reason: `inrscape train was killed by ${exit.signal}${said}` };
    if (exit.code === TRIAL_EXIT.stopped) return { status: 'lost', reason: `inrscape train stopped before its end${said}` };
    const reason = exit.code === TRIAL_EXIT.done ? 'inrscape train exited 0 but wrote no results.log' : `inrscape train exited with code ${exit.code}`;
    return { status: 'failed', reason: reason + said, runFolder: folder !== undefined };
  }

  protected logLine(req: TrialRequest, line: string): void {
    try {
      mkdirSync(dirname(req.log), { recursive: true });
      appendFileSync(req.log, line + '\n');
    } catch {
      // the log is for people; a trial does not fail over it
    }
  }

  private trainArgs(req: TrialRequest, mode: Mode, gpu: number | undefined): string[] {
    const device = gpu === undefined ? [] : ['--device', 'cuda'];
    if (mode === 'resume') return ['train', '--resume', req.out, ...device];
    return [
      'train', req.config, '--dataset', req.dataset, '--out', req.out,
      '--max-minutes', String(req.maxMinutes), '--seed', String(req.seed), '--threads', String(req.threads),
      ...device, ...(mode === 'force' ? ['--force'] : []), ...this.extraArgs,
    ];
  }

  /** One attempt: `inrscape <args>` as a child of this process; resolves when it ends. */
  protected launch(req: TrialRequest, args: string[], mode: Mode, gpu: number | undefined, hooks: TrialHooks | undefined): Promise<ChildExit> {
    mkdirSync(dirname(req.log), { recursive: true });
    const fd = openSync(req.log, 'a');
    const from = statSync(req.log).size;
    const onGpu = gpu === undefined ? '' : `CUDA_VISIBLE_DEVICES=${gpu} `;
    writeSync(fd, `--- node ${req.node}, attempt ${req.attempt} (${mode}), ${new Date().toISOString()}: ${onGpu}inrscape ${args.join(' ')}\n`);
    const start = from;
    return new Promise<ChildExit>((resolvePromise) => {
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [this.bin, ...args], {
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
      const watch = this.watchProgress(req, hooks, () => killQuietly(child.pid));
      let settled = false;
      const done = (e: Omit<ChildExit, 'tail'>): void => {
        if (settled) return;
        settled = true;
        const stale = watch.stop();
        this.children.delete(child);
        resolvePromise({ ...e, ...(stale !== undefined ? { stale } : {}), tail: readTail(req.log, start) });
      };
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    });
  }

  /**
   * Follow an attempt's progress file: evaluations go to the hooks, and its
   * growth is the heartbeat; after `heartbeatTimeoutS` of silence `kill` is
   * called once. `stop` ends the watch (reading what is left) and says why
   * the attempt was killed, if it was.
   */
  protected watchProgress(req: TrialRequest, hooks: TrialHooks | undefined, kill: () => void): { stop: () => string | undefined } {
    const tail = new ProgressTail(() => join(trialDir(req.out), TRIAL_PROGRESS_FILE));
    tail.poll(); // what an earlier attempt wrote was passed on then
    let alive = Date.now();
    let stale: string | undefined;
    const look = (): void => {
      const { records, grew } = tail.poll();
      if (grew) alive = Date.now();
      for (const r of records) if (r.kind === 'evaluation') hooks?.onEvaluation?.({ step: r.step, r2: r.r2, mse: r.mse, slope: r.slope, time_s: r.time_s });
      const quiet = (Date.now() - alive) / 1000;
      if (stale === undefined && quiet > this.heartbeatTimeoutS) {
        stale = `no heartbeat from inrscape train for ${Math.round(quiet)} s (more than ${this.heartbeatTimeoutS} s): killed it`;
        kill();
      }
    };
    const timer = setInterval(look, PROGRESS_POLL_MS);
    return {
      stop: () => {
        clearInterval(timer);
        look();
        return stale;
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
