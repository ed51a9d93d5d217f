/**
 * The Slurm executor: every attempt of a trial is one `sbatch` job running
 * `inrscape train` with the same arguments the local runner gives its
 * children. The study and its jobs meet in the study folder, which must be on
 * a filesystem that the submitting host and the compute nodes share: the job
 * script, the trial's run folder (its trial-status.json and progress.jsonl)
 * and its log all live there. The job's first action checks that it sees the
 * folder, and fails with exit code 6 and a clear line in the log otherwise.
 *
 * The job is followed with `squeue` while it is queued or runs, then with
 * `scontrol show job` (kept by slurmctld for MinJobAge after the end; `sacct`
 * needs slurmdbd, which a site may not run) and, above all, the trial's own
 * status file and exit code. A job the scheduler ends (a time limit,
 * `scancel`, a preemption, a node failure) is a lost attempt with the
 * scheduler's reason, re-run like a stale trial.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SlurmSettings } from '../config/executor.js';
import { UserError } from '../util/errors.js';
import { LocalRunner, readTail, type ChildExit, type LocalRunnerOptions, type Mode } from './local.js';
import { sleep } from './process.js';
import type { TrialHooks, TrialRequest } from './runner.js';
import { readTrialStatus, trialDir } from './trial-files.js';

/** Exit code of a job that does not see the study folder. */
export const NO_SHARED_FOLDER_EXIT = 6;
/** Minutes a job gets beyond the trial budget (start-up, the final evaluation, writing). */
export const TIME_MARGIN_MINUTES = 10;
const POLL_MS = 1000;
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

export interface SlurmRunnerOptions extends LocalRunnerOptions {
  slurm: SlurmSettings;
  /** Environment of the Slurm commands (default: this process's). */
  slurmEnv?: NodeJS.ProcessEnv;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first line a Slurm command said, for an error message. */
function said(r: { code: number; stdout: string; stderr: string }): string {
  return (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.code}`;
}

/** A word for a bash script: single-quoted, nothing in it is expanded. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Slurm minutes for a budget with the margin: `--time` takes whole minutes. */
export function jobMinutes(budgetMinutes: number): number {
  return Math.ceil(budgetMinutes + TIME_MARGIN_MINUTES);
}

export function jobScript(req: TrialRequest, argv: string[], s: SlurmSettings): string {
  const studyDir = dirname(dirname(req.out));
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=inrscape-node${req.node}-attempt${req.attempt}`,
    `#SBATCH --output=${req.log}`,
    '#SBATCH --open-mode=append',
    `#SBATCH --time=${s.time ?? jobMinutes(req.maxMinutes)}`,
    ...(s.partition ? [`#SBATCH --partition=${s.partition}`] : []),
    ...(s.account ? [`#SBATCH --account=${s.account}`] : []),
    ...(s.gres ? [`#SBATCH --gres=${s.gres}`] : []),
    `#SBATCH --cpus-per-task=${s.cpus ?? req.threads}`,
    ...(s.mem ? [`#SBATCH --mem=${s.mem}`] : []),
    ...s.extra.map((x) => `#SBATCH ${x}`),
    '',
    ...(s.setup ? [s.setup] : []),
    `if [ ! -d ${shellQuote(studyDir)} ]; then`,
    `  echo "inrscape: job $SLURM_JOB_ID on $(hostname) does not see the study folder "${shellQuote(studyDir)}": it must be on a filesystem shared with the host that runs the study" >&2`,
    `  exit ${NO_SHARED_FOLDER_EXIT}`,
    'fi',
    `exec ${argv.map(shellQuote).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}

interface JobInfo {
  state: string;
  reason?: string;
  exitCode?: number;
}

/** `scontrol show job -o ID`: one line of Key=Value pairs. */
function parseScontrol(text: string): JobInfo | undefined {
  const field = (k: string): string | undefined => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(text)?.[1];
  const state = field('JobState');
  if (state === undefined) return undefined;
  const code = Number((field('ExitCode') ?? '').split(':')[0]);
  return { state, reason: field('Reason'), exitCode: Number.isInteger(code) ? code : undefined };
}

export class SlurmRunner extends LocalRunner {
  override readonly name = 'slurm';
  private readonly slurm: SlurmSettings;
  private readonly slurmEnv: NodeJS.ProcessEnv;
  private readonly jobs = new Set<string>();

  constructor(opts: SlurmRunnerOptions) {
    super(opts);
    this.slurm = opts.slurm;
    this.slurmEnv = opts.slurmEnv ?? process.env;
  }

  /** What the cluster can check before a study starts: Slurm answers here, and the partition exists. */
  async check(): Promise<void> {
    const r = await run('sinfo', ['-h', '-o', '%P'], this.slurmEnv);
    if (r.code !== 0) throw new UserError(`study.executor = slurm: sinfo failed (${said(r)}): is this a Slurm login node?`);
    const known = r.stdout.split('\n').map((p) => p.trim().replace(/\*$/, '')).filter((p) => p !== '');
    const want = this.slurm.partition;
    if (want !== undefined && !want.split(',').every((p) => known.includes(p))) {
      throw new UserError(`study.slurm.partition = ${want}: no such partition on this cluster (it has ${known.join(', ')})`);
    }
  }

  /** The job an earlier run of the study submitted, while it is queued or runs: followed, not submitted again. */
  protected override async adopt(req: TrialRequest, hooks: TrialHooks | undefined): Promise<ChildExit | undefined> {
    const id = req.previousJob;
    if (id === undefined || !(await this.stillQueued(id))) return undefined;
    this.onNote?.(req, `following slurm job ${id}, which an earlier run of the study submitted`);
    return this.followJob(req, id, hooks);
  }

  protected override async launch(req: TrialRequest, args: string[], mode: Mode, _gpu: number | undefined, hooks: TrialHooks | undefined): Promise<ChildExit> {
    const submitted = await this.submit(req, args, mode);
    if ('error' in submitted) return { code: null, signal: null, error: submitted.error, tail: '' };
    hooks?.onSubmitted?.(submitted.jobId);
    return this.followJob(req, submitted.jobId, hooks);
  }

  private async followJob(req: TrialRequest, id: string, hooks: TrialHooks | undefined): Promise<ChildExit> {
    this.jobs.add(id);
    const from = existsSync(req.log) ? statSync(req.log).size : 0;
    const watch = this.watchProgress(req, hooks, () => void run('scancel', [id], this.slurmEnv));
    try {
      const info = await this.follow(id);
      const stale = watch.stop();
      const status = readTrialStatus(trialDir(req.out));
      const own = status?.exit_code;
      const code = own ?? info?.exitCode ?? null;
      const scheduler = info !== undefined && info.state !== 'COMPLETED' && info.state !== 'FAILED'
        ? `slurm job ${id} ended ${info.state}${info.reason && info.reason !== 'None' ? ` (${info.reason})` : ''}` : undefined;
      return { code, signal: null, tail: readTail(req.log, from), ...(stale !== undefined ? { stale } : {}), ...(scheduler !== undefined ? { scheduler } : {}) };
    } finally {
      this.jobs.delete(id);
    }
  }

  private async submit(req: TrialRequest, args: string[], mode: Mode): Promise<{ jobId: string } | { error: Error }> {
    const script = `${req.out}.sbatch`;
    mkdirSync(dirname(script), { recursive: true });
    writeFileSync(script, jobScript(req, [process.execPath, this.bin, ...args], this.slurm), { mode: 0o755 });
    this.logLine(req, `--- node ${req.node}, attempt ${req.attempt} (${mode}), ${new Date().toISOString()}: sbatch ${script}: inrscape ${args.join(' ')}`);
    const r = await run('sbatch', ['--parsable', script], this.slurmEnv);
    const jobId = r.stdout.trim().split(';')[0];
    if (r.code !== 0 || !/^\d+$/.test(jobId)) return { error: new Error(`sbatch failed: ${said(r)}`) };
    return { jobId };
  }

  private async stillQueued(id: string): Promise<boolean> {
    const r = await run('squeue', ['-h', '-j', id, '-o', '%T'], this.slurmEnv);
    const state = r.stdout.trim();
    return r.code === 0 && state !== '' && !ENDED.has(state);
  }

  /** Wait for the job to leave the queue; its final state from scontrol, when slurmctld still has it. */
  private async follow(id: string): Promise<JobInfo | undefined> {
    for (;;) {
      if (!(await this.stillQueued(id))) break;
      await sleep(POLL_MS);
    }
    for (let i = 0; i < 5; i++) {
      const r = await run('scontrol', ['show', 'job', '-o', id], this.slurmEnv);
      const info = r.code === 0 ? parseScontrol(r.stdout) : undefined;
      if (info === undefined) return undefined;
      if (ENDED.has(info.state)) return info;
      await sleep(POLL_MS); // COMPLETING: the epilog still runs
    }
    return undefined;
  }

  override killAll(): void {
    if (this.jobs.size > 0) void run('scancel', [...this.jobs], this.slurmEnv);
  }
}
