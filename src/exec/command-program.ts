/**
 * The user's own trainer as a trial's program (`study.command`). Each
 * attempt runs the command line with its placeholders replaced, every
 * argument one word (nothing goes through a shell), and reads back the
 * `results.log` the trainer writes into `{run_dir}` in the reference's
 * `key: value` format (`final_r2`, `final_mse`, `slope`,
 * `training_time_min`, ...).
 *
 * - exit 0 with a readable results.log: finished; exit 0 without one, or
 *   another exit code: failed, with the code and the output's last line;
 *   killed by a signal: lost (run again, same seed).
 * - The trainer has no checkpoint protocol: every attempt starts afresh in
 *   an emptied run folder. An attempt left from a study that died (its
 *   process still running here) is killed first.
 * - A local attempt running past the budget plus 10 minutes is killed and
 *   failed (a scheduler job has that time limit of its own).
 * - A trainer may write the trial protocol's progress.jsonl into `{run_dir}`;
 *   then its evaluations reach the journal, and its heartbeat is watched once
 *   it has begun.
 *
 * `inrscape-trial.json` in the run folder says which trial the folder holds
 * (config checksum, seed, budget) and which process runs it, so that a study
 * resumed after its trainer finished takes the result instead of running it again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { substitute, type Placeholder } from '../config/command.js';
import { RESULTS_LOG } from '../inr/run-folder.js';
import { writeFileAtomic } from '../util/atomic.js';
import { processStartTime } from '../util/pid.js';
import { killQuietly, pidAlive, waitForExit } from './process.js';
import { lastLine, runnerVerdict, type ChildExit, type Launcher, type TrialProgram } from './program.js';
import { folderOutcome } from './run-folder.js';
import type { TrialHooks, TrialOutcome, TrialRequest } from './runner.js';
import { TIME_MARGIN_MINUTES } from './scheduler.js';

export const TRIAL_MARKER_FILE = 'inrscape-trial.json';

interface Marker {
  node: number;
  attempt: number;
  seed: number;
  max_minutes: number;
  config_sha256: string;
  host?: string;
  pid?: number;
  proc_start?: string | null;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function writeMarker(dir: string, m: Marker): void {
  writeFileAtomic(join(dir, TRIAL_MARKER_FILE), JSON.stringify(m, null, 2) + '\n');
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, TRIAL_MARKER_FILE), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

export class CommandProgram implements TrialProgram {
  readonly name: string;
  readonly heartbeat = 'if-present';

  constructor(private readonly template: readonly string[]) {
    this.name = basename(template[0]);
  }

  async run(req: TrialRequest, gpu: number | undefined, launcher: Launcher, hooks: TrialHooks | undefined): Promise<TrialOutcome> {
    const sum = sha256(req.config);
    const marker = readMarker(req.out);
    const same = marker !== undefined && marker.config_sha256 === sum && marker.seed === req.seed && marker.max_minutes === req.maxMinutes;
    if (same && existsSync(join(req.out, RESULTS_LOG))) {
      const o = folderOutcome(req.out);
      if (o !== undefined) {
        launcher.note(req, `took over the result an earlier attempt wrote in ${req.out}`);
        return { ...o, note: 'result of an earlier attempt' };
      }
    }
    await this.stopOrphan(req, marker);
    rmSync(req.out, { recursive: true, force: true });
    mkdirSync(req.out, { recursive: true });
    const mine: Marker = { node: req.node, attempt: req.attempt, seed: req.seed, max_minutes: req.maxMinutes, config_sha256: sum };
    writeMarker(req.out, mine);
    const values: Record<Placeholder, string> = {
      config: req.config, run_dir: req.out, seed: String(req.seed), max_minutes: String(req.maxMinutes),
      gpu: gpu !== undefined || launcher.jobsHaveGpu ? 'cuda' : 'cpu', dataset: req.dataset, threads: String(req.threads),
    };
    const argv = this.template.map((w) => substitute(w, values));
    const exit = await launcher.launch(req, {
      argv, mode: 'fresh', timeLimitS: (req.maxMinutes + TIME_MARGIN_MINUTES) * 60,
      onSpawn: (pid) => writeMarker(req.out, { ...mine, host: hostname(), pid, proc_start: processStartTime(pid) ?? null }),
    }, hooks);
    return this.outcome(req, exit);
  }

  /** The process of an earlier attempt that still runs on this host (its study died): killed, since its run starts over. */
  private async stopOrphan(req: TrialRequest, marker: Marker | undefined): Promise<void> {
    const pid = marker?.pid;
    if (pid === undefined || marker?.host !== hostname() || pid === process.pid || !pidAlive(pid)) return;
    if (marker.proc_start != null && processStartTime(pid) !== marker.proc_start) return; // the pid is another process's now
    killQuietly(pid);
    await waitForExit(pid, 10_000);
  }

  outcome(req: TrialRequest, exit: ChildExit): TrialOutcome {
    const folder = folderOutcome(req.out);
    const verdict = runnerVerdict(exit, this.name, { keep: exit.code === 0 && folder !== undefined, runFolder: folder !== undefined });
    if (verdict !== undefined) return verdict;
    const shown = lastLine(exit.tail);
    const said = shown !== undefined ? `: ${shown}` : '';
    if (exit.code === 0 && folder !== undefined) return folder;
    if (exit.signal) return { status: 'lost', reason: `${this.name} was killed by ${exit.signal}${said}` };
    if (folder?.status === 'failed') return folder;
    const reason = exit.code === 0 ? `${this.name} exited 0 but wrote no ${RESULTS_LOG} in ${req.out}` : `${this.name} exited with code ${exit.code}`;
    return { status: 'failed', reason: reason + said, runFolder: folder !== undefined };
  }
}
