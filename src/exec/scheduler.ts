/**
 * A cluster's batch scheduler, as the batch runner (batch.ts) uses it: how a
 * job script asks for resources, and how to submit, ask about and cancel a
 * job. Slurm (slurm.ts) and LSF (lsf.ts) are the two; another is an
 * afternoon's work.
 */
import { execFile, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { TrialRequest } from './runner.js';

/** What the scheduler says of a job. */
export interface JobState {
  ended: boolean;
  /** The job's exit code, when it ended and the scheduler tells. */
  exitCode?: number;
  /** Set when the scheduler ended the job rather than its own exit: its words (e.g. `TIMEOUT (TimeLimit)`). */
  killed?: string;
}

export interface Scheduler {
  /** `slurm`, `lsf`: in notes and reasons ("slurm job 12 ended ..."). */
  readonly name: string;
  /** The job script's file extension, next to the run folder (`sbatch`, `bsub`). */
  readonly scriptExtension: string;
  /** The variable that holds the job's id inside the job. */
  readonly jobIdVariable: string;
  /** Whether its jobs ask for a GPU (then a user's trainer gets `{gpu}` = cuda). */
  readonly asksForGpu: boolean;
  /** A shell line the job runs first (`module load ...`), from the settings. */
  readonly setup?: string;
  /** The script's directive lines (`#SBATCH ...`, `#BSUB ...`) for this trial. */
  directives(req: TrialRequest): string[];
  /** Throws a UserError when the scheduler does not answer or the settings name what it lacks. */
  check(): Promise<void>;
  submit(script: string): Promise<{ jobId: string } | { error: string }>;
  /** Undefined when the scheduler does not know the job (any more). */
  state(jobId: string): Promise<JobState | undefined>;
  cancel(jobIds: string[]): Promise<void>;
}

/** Exit code of a job that does not see the study folder. */
export const NO_SHARED_FOLDER_EXIT = 6;
/** Minutes a job gets beyond the trial budget (start-up, the final evaluation, writing). */
export const TIME_MARGIN_MINUTES = 10;

/** A scheduler's time limit for a budget with the margin, in whole minutes. */
export function jobMinutes(budgetMinutes: number): number {
  return Math.ceil(budgetMinutes + TIME_MARGIN_MINUTES);
}

/** A word for a bash script: single-quoted, nothing in it is expanded. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function jobScript(s: Scheduler, req: TrialRequest, argv: readonly string[]): string {
  const studyDir = dirname(dirname(req.out));
  return [
    '#!/bin/bash',
    ...s.directives(req),
    '',
    ...(s.setup ? [s.setup] : []),
    `if [ ! -d ${shellQuote(studyDir)} ]; then`,
    `  echo "inrscape: job $${s.jobIdVariable} on $(hostname) does not see the study folder "${shellQuote(studyDir)}": it must be on a filesystem shared with the host that runs the study" >&2`,
    `  exit ${NO_SHARED_FOLDER_EXIT}`,
    'fi',
    `exec ${argv.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Run a scheduler command (`input` on its stdin); never throws. */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CommandResult> {
  if (input === undefined) {
    return new Promise((resolve) => {
      execFile(cmd, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127;
        resolve({ code, stdout, stderr });
      });
    });
  }
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('error', (err) => resolve({ code: 127, stdout, stderr: stderr || err.message }));
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a command that exits without reading
    child.stdin.end(input);
  });
}

/** The first line a scheduler command said, for an error message. */
export function said(r: CommandResult): string {
  return (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.code}`;
}
