/**
 * The program of a trial that inrscape trains itself:
 *
 *   inrscape train <study>/config/iter_NNN_slot_NN.yaml --dataset <dir>
 *        --out <study>/runs/iter_NNN_slot_NN --max-minutes M --seed S --threads T
 *
 * It speaks the trial protocol (trial-files.ts), so how an attempt went is
 * read from its exit code and run folder: exit 0 or 3 with results.log ->
 * finished; exit 1 with a failed run folder -> failed with the trainer's
 * reason; killed by a signal, stopped from outside (exit 4) -> lost, run
 * again; anything else -> failed with a reason that names it and the log's
 * last line.
 *
 * Interrupted studies: a trial that was running when its study died is run
 * again with the same config and seed. The program looks at what the killed
 * attempt left:
 *   - a committed run folder that trained this config, seed and budget: taken
 *     as the result (the child finished after its study died);
 *   - a staging folder (`.iter_NNN_slot_NN.partial`) whose lock holder still
 *     runs on this host: an orphaned child; wait for it (children stop on
 *     their own once their study is gone, see `INRSCAPE_PARENT_PID`);
 *   - a staging folder of this trial: `inrscape train --resume` (bit for bit
 *     the run an uninterrupted study would have made);
 *   - anything else at that path: `--force`, a fresh start with the same seed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE, RESULTS_LOG, RUN_SPEC_FILE, partialDir } from '../inr/run-folder.js';
import { processStartTime } from '../util/pid.js';
import { killQuietly, pidAlive, sleep, waitForExit } from './process.js';
import { lastLine, runnerVerdict, type Attempt, type ChildExit, type Launcher, type TrialProgram } from './program.js';
import { folderMatches, folderOutcome, stagingMatches } from './run-folder.js';
import type { TrialHooks, TrialOutcome, TrialRequest } from './runner.js';
import { TRIAL_EXIT, readTrialStatus } from './trial-files.js';

/** Extra `inrscape train` flags for every fresh trial (space-separated; tests use `--checkpoint-steps N`). */
export const TRAIN_ARGS_ENV = 'INRSCAPE_STUDY_TRAIN_ARGS';

/** How long an earlier attempt's orphaned child may take to stop before it is killed. */
const ORPHAN_WAIT_MS = 60_000;

export function defaultBin(): string {
  return fileURLToPath(new URL('../cli/bin.js', import.meta.url));
}

export interface InrscapeProgramOptions {
  /** The inrscape entry point (default: this build's dist/src/cli/bin.js). */
  bin?: string;
  /** Extra flags for fresh starts (default: from INRSCAPE_STUDY_TRAIN_ARGS). */
  extraArgs?: string[];
}

type Mode = 'fresh' | 'resume' | 'force';

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

export class InrscapeProgram implements TrialProgram {
  readonly name = 'inrscape train';
  readonly heartbeat = 'required';
  private readonly bin: string;
  private readonly extraArgs: string[];

  constructor(opts: InrscapeProgramOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.bin = opts.bin ?? defaultBin();
    this.extraArgs = opts.extraArgs ?? (env[TRAIN_ARGS_ENV] ?? '').split(/\s+/).filter((a) => a !== '');
  }

  async run(req: TrialRequest, gpu: number | undefined, launcher: Launcher, hooks: TrialHooks | undefined): Promise<TrialOutcome> {
    let forceRestart = false;
    let last: ChildExit | undefined;
    for (let round = 0; round < 20; round++) {
      // A run folder already committed for this trial: the killed attempt's child finished it.
      if (existsSync(join(req.out, RESULTS_LOG)) && !forceRestart && folderMatches(req.out, req)) {
        const o = folderOutcome(req.out);
        if (o) {
          launcher.logLine(req, `--- node ${req.node}, attempt ${req.attempt} (taken over), ${new Date().toISOString()}: the run folder an earlier attempt committed holds this trial's result`);
          launcher.note(req, `took over the result an earlier attempt committed in ${req.out}`);
          return { ...o, note: 'result of an earlier attempt' };
        }
      }
      const staging = partialDir(req.out);
      let mode: Mode;
      if (existsSync(staging)) {
        const holder = localHolder(staging);
        if (holder !== undefined) {
          // An orphan stops within a chunk once it sees its study gone; one that does not is stuck.
          launcher.note(req, `waiting for pid ${holder} (an earlier attempt of this trial) to stop`);
          if (!(await waitForExit(holder, ORPHAN_WAIT_MS))) {
            launcher.note(req, `pid ${holder} did not stop within ${ORPHAN_WAIT_MS / 1000} s: killing it (its checkpoint stays)`);
            killQuietly(holder);
            await waitForExit(holder, ORPHAN_WAIT_MS);
          }
          continue;
        }
        mode = !forceRestart && existsSync(join(staging, RUN_SPEC_FILE)) && stagingMatches(staging, req) ? 'resume' : 'force';
      } else {
        mode = existsSync(req.out) ? 'force' : 'fresh';
      }
      if (mode === 'resume') launcher.note(req, `resuming the interrupted run in ${staging}`);
      const exit = await launcher.launch(req, this.attempt(req, mode, gpu), hooks);
      last = exit;
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
    return this.outcome(req, last ?? { code: null, signal: null, tail: '', error: new Error('gave up after repeated attempts') });
  }

  /**
   * What an attempt came to, from its exit code and its run folder (the
   * trial protocol, trial-files.ts); its output's last line only goes into
   * the reason shown to people.
   */
  outcome(req: TrialRequest, exit: ChildExit): TrialOutcome {
    const folder = folderOutcome(req.out);
    const wrote = folder !== undefined && (exit.code === TRIAL_EXIT.done || exit.code === TRIAL_EXIT.budget);
    const verdict = runnerVerdict(exit, this.name, { keep: wrote, runFolder: folder !== undefined });
    if (verdict !== undefined) return verdict;
    const shown = lastLine(exit.tail);
    const said = shown !== undefined ? `: ${shown}` : '';
    if (wrote && folder) return folder;
    if (exit.code === TRIAL_EXIT.failed && folder?.status === 'failed') return folder;
    if (exit.signal) return { status: 'lost', reason: `inrscape train was killed by ${exit.signal}${said}` };
    if (exit.code === TRIAL_EXIT.stopped) return { status: 'lost', reason: `inrscape train stopped before its end${said}` };
    const reason = exit.code === TRIAL_EXIT.done ? 'inrscape train exited 0 but wrote no results.log' : `inrscape train exited with code ${exit.code}`;
    return { status: 'failed', reason: reason + said, runFolder: folder !== undefined };
  }

  private attempt(req: TrialRequest, mode: Mode, gpu: number | undefined): Attempt {
    const device = gpu === undefined ? [] : ['--device', 'cuda'];
    const args = mode === 'resume'
      ? ['train', '--resume', req.out, ...device]
      : [
          'train', req.config, '--dataset', req.dataset, '--out', req.out,
          '--max-minutes', String(req.maxMinutes), '--seed', String(req.seed), '--threads', String(req.threads),
          ...device, ...(mode === 'force' ? ['--force'] : []), ...this.extraArgs,
        ];
    return { argv: [process.execPath, this.bin, ...args], mode };
  }
}
