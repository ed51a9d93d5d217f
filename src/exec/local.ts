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
import type { TrialOutcome, TrialRequest, TrialRunner } from './runner.js';

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
   * GPUs to spread trials over, one entry per trial that may run at once (a
   * GPU listed twice takes two trials). A trial's child sees only its GPU
   * (CUDA_VISIBLE_DEVICES) and trains with `--device cuda`.
   */
  gpuSlots?: number[];
}

type Mode = 'fresh' | 'resume' | 'force';

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
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

/** The last `max` bytes of `path` from byte `from`. */
function readTail(path: string, from: number, max = 4096): string {
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

/** The line of a child's output that says most about its end: the last `inrscape:` line, else the last line. */
export function lastMessage(tail: string): string | undefined {
  const lines = tail.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l !== '');
  const msg = [...lines].reverse().find((l) => l.startsWith('inrscape:'));
  const line = msg ?? lines[lines.length - 1];
  if (line === undefined) return undefined;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export class LocalRunner implements TrialRunner {
  readonly name = 'local';
  readonly capacity: number;
  readonly threads: number;
  private readonly bin: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly extraArgs: string[];
  private readonly onNote?: (req: TrialRequest, message: string) => void;
  private readonly children = new Set<ChildProcess>();
  private readonly freeGpus: number[];

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
    if (opts.gpuSlots !== undefined && opts.gpuSlots.length < this.capacity) {
      throw new RangeError(`${opts.gpuSlots.length} GPU slots for ${this.capacity} trials at once`);
    }
  }

  async run(req: TrialRequest): Promise<TrialOutcome> {
    const gpu = this.freeGpus.shift();
    try {
      return await this.runOn(req, gpu);
    } finally {
      if (gpu !== undefined) this.freeGpus.push(gpu);
    }
  }

  private async runOn(req: TrialRequest, gpu: number | undefined): Promise<TrialOutcome> {
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
        const holder = readLockPid(staging);
        if (holder !== undefined && holder !== process.pid && pidAlive(holder)) {
          this.onNote?.(req, `waiting for pid ${holder} (an earlier attempt of this trial) to stop`);
          await waitForExit(holder);
          continue;
        }
        mode = !forceRestart && existsSync(join(staging, RUN_SPEC_FILE)) && stagingMatches(staging, req) ? 'resume' : 'force';
      } else {
        mode = existsSync(req.out) ? 'force' : 'fresh';
      }
      if (mode === 'resume') this.onNote?.(req, `resuming the interrupted run in ${staging}`);
      const exit = await this.spawnTrain(req, mode, gpu);
      last = { mode, exit };
      if (exit.code === 2) {
        // Someone else holds the folder (an orphan that got there first, or one not yet reaped): wait and look again.
        if (/is being trained by process|is in use by process/.test(exit.tail)) {
          await sleep(250);
          continue;
        }
        // The interrupted run cannot continue (e.g. a damaged checkpoint): start it over, same seed.
        if (mode === 'resume') {
          forceRestart = true;
          continue;
        }
      }
      return this.outcome(req, exit);
    }
    return this.outcome(req, last?.exit ?? { code: null, signal: null, tail: '', error: new Error('gave up after repeated attempts') });
  }

  private outcome(req: TrialRequest, exit: ChildExit): TrialOutcome {
    const folder = folderOutcome(req.out);
    if (exit.code === 0 && folder) return folder;
    if (exit.code === 1 && folder?.status === 'failed') return folder;
    const msg = lastMessage(exit.tail);
    let reason: string;
    if (exit.error) reason = `could not run inrscape train: ${exit.error.message}`;
    else if (exit.signal) reason = `inrscape train was killed by ${exit.signal}`;
    else if (exit.code === 0) reason = 'inrscape train exited 0 but wrote no results.log';
    else reason = `inrscape train exited with code ${exit.code}`;
    if (msg !== undefined && !exit.error) reason += `: ${msg.replace(/^inrscape:\s*/, '')}`;
    return { status: 'failed', reason, runFolder: folder !== undefined };
  }

  private logLine(req: TrialRequest, line: string): void {
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

  private spawnTrain(req: TrialRequest, mode: Mode, gpu: number | undefined): Promise<ChildExit> {
    const args = this.trainArgs(req, mode, gpu);
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
      let settled = false;
      const done = (e: Omit<ChildExit, 'tail'>): void => {
        if (settled) return;
        settled = true;
        this.children.delete(child);
        resolvePromise({ ...e, tail: readTail(req.log, start) });
      };
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    });
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
