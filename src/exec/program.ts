/**
 * What a trial runs, apart from where it runs. A runner (local.ts, batch.ts)
 * knows where: a child of this process, or a job of a cluster's scheduler. A
 * program knows what: `inrscape train` (inrscape-program.ts) or the user's
 * own trainer (command-program.ts). It builds each attempt's command line,
 * hands it to the runner's `Launcher`, and reads what came of it from the
 * exit and the run folder.
 */
import type { TrialHooks, TrialOutcome, TrialRequest } from './runner.js';

/** One attempt's command, as the runner is to start it. */
export interface Attempt {
  /** The program and its arguments, each one word: nothing is read by a shell. */
  argv: string[];
  /** How it starts, for the log: fresh, resume, force. */
  mode: string;
  /** Wall seconds after which a local runner kills the attempt (a scheduler job has its own time limit). */
  timeLimitS?: number;
  /** Told the pid of a local attempt once it runs. */
  onSpawn?: (pid: number) => void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
  /** Why the runner killed it: its heartbeat stopped. */
  stale?: string;
  /** Why the runner killed it: it ran past its time limit. */
  overtime?: string;
  /** Why the runner stopped it (gracefully): the study pruned it. */
  pruned?: string;
  /** How a scheduler ended it without the trial's own exit (e.g. `TIMEOUT`, `CANCELLED by 0`). */
  scheduler?: string;
  /** The attempt's output (the end of it). */
  tail: string;
}

/** What a runner offers the program of a trial. */
export interface Launcher {
  /** Run one attempt to its end. */
  launch(req: TrialRequest, attempt: Attempt, hooks: TrialHooks | undefined): Promise<ChildExit>;
  /** Whether a trial gets a GPU of the scheduler's choosing (a cluster job that asks for one). */
  readonly jobsHaveGpu: boolean;
  /** What happens besides a plain run, in words, for the study's output. */
  note(req: TrialRequest, message: string): void;
  /** A line in the trial's log. */
  logLine(req: TrialRequest, line: string): void;
}

export interface TrialProgram {
  readonly name: string;
  /**
   * The trial protocol's heartbeat (trial-files.ts): `required`, a silent
   * progress file is a hang from the start; `if-present`, only once the
   * program has written one (a user's trainer need not).
   */
  readonly heartbeat: 'required' | 'if-present';
  /**
   * Run the trial: take over what an earlier attempt left, launch attempts
   * (more than one when the first finds the run folder busy, say), and say
   * what came of it. `gpu`: the GPU of this machine the runner gave it, if any.
   */
  run(req: TrialRequest, gpu: number | undefined, launcher: Launcher, hooks: TrialHooks | undefined): Promise<TrialOutcome>;
  /** What an attempt came to that ran without `run` (a cluster job an earlier run of the study submitted, followed to its end). */
  outcome(req: TrialRequest, exit: ChildExit): TrialOutcome;
}

/** The last line of an attempt's output, for people (nothing is decided by it). */
export function lastLine(tail: string): string | undefined {
  const lines = tail.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1];
  if (line === undefined) return undefined;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * What a runner itself knows of an attempt that ended without the program's
 * word (it could not start, its heartbeat stopped, its scheduler ended it):
 * undefined when the program is to judge by the exit code and run folder.
 * `keep` says whether the program's own result stands anyway (a job that
 * wrote its results before the scheduler's end).
 */
export function runnerVerdict(exit: ChildExit, what: string, o: { keep: boolean; runFolder: boolean }): TrialOutcome | undefined {
  if (exit.error) return { status: 'failed', reason: `could not run ${what}: ${exit.error.message}`, runFolder: o.runFolder };
  if (exit.pruned !== undefined && !o.keep) return { status: 'pruned', reason: exit.pruned };
  if (exit.stale) return { status: 'lost', reason: exit.stale };
  if (exit.overtime) return { status: 'failed', reason: exit.overtime, runFolder: o.runFolder };
  if (exit.scheduler !== undefined && !o.keep) return { status: 'lost', reason: exit.scheduler };
  return undefined;
}
