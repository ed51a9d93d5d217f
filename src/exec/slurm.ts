/**
 * Slurm: one `sbatch` job per attempt (batch.ts says what the runner does
 * with it). Jobs are followed with `squeue` while they are queued or run,
 * then with `scontrol show job`, which slurmctld keeps for MinJobAge after
 * the end, and after that with `sacct` where the site runs slurmdbd (without
 * it sacct is disabled and says so; then the trial's own status file decides).
 */
import type { SlurmSettings } from '../config/executor.js';
import { UserError } from '../util/errors.js';
import type { TrialRequest } from './runner.js';
import { jobMinutes, runCommand, said, type JobState, type Scheduler } from './scheduler.js';

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);
/** Ends that are the job's own doing; any other is the scheduler's. */
const OWN_END = new Set(['COMPLETED', 'FAILED']);

/** `scontrol show job -o ID`: one line of Key=Value pairs. */
function parseScontrol(text: string): { state: string; reason?: string; exitCode?: number } | undefined {
  const field = (k: string): string | undefined => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(text)?.[1];
  const state = field('JobState');
  if (state === undefined) return undefined;
  const code = Number((field('ExitCode') ?? '').split(':')[0]);
  return { state, reason: field('Reason'), exitCode: Number.isInteger(code) ? code : undefined };
}

export class SlurmScheduler implements Scheduler {
  readonly name = 'slurm';
  readonly scriptExtension = 'sbatch';
  readonly jobIdVariable = 'SLURM_JOB_ID';
  readonly asksForGpu: boolean;
  readonly setup?: string;

  constructor(private readonly s: SlurmSettings, private readonly threads: number, private readonly env: NodeJS.ProcessEnv = process.env) {
    this.asksForGpu = s.gres !== undefined && /(^|,)gpu(:|,|$)/.test(s.gres);
    this.setup = s.setup;
  }

  directives(req: TrialRequest): string[] {
    const s = this.s;
    return [
      `--job-name=inrscape-node${req.node}-attempt${req.attempt}`,
      `--output=${req.log}`,
      '--open-mode=append',
      `--time=${s.time ?? jobMinutes(req.maxMinutes)}`,
      ...(s.partition ? [`--partition=${s.partition}`] : []),
      ...(s.account ? [`--account=${s.account}`] : []),
      ...(s.gres ? [`--gres=${s.gres}`] : []),
      `--cpus-per-task=${s.cpus ?? this.threads}`,
      ...(s.mem ? [`--mem=${s.mem}`] : []),
      ...s.extra,
    ].map((d) => `#SBATCH ${d}`);
  }

  async check(): Promise<void> {
    const r = await runCommand('sinfo', ['-h', '-o', '%P'], this.env);
    if (r.code !== 0) throw new UserError(`study.executor = slurm: sinfo failed (${said(r)}): is this a Slurm login node?`);
    const known = r.stdout.split('\n').map((p) => p.trim().replace(/\*$/, '')).filter((p) => p !== '');
    const want = this.s.partition;
    if (want !== undefined && !want.split(',').every((p) => known.includes(p))) {
      throw new UserError(`study.slurm.partition = ${want}: no such partition on this cluster (it has ${known.join(', ')})`);
    }
  }

  async submit(script: string): Promise<{ jobId: string } | { error: string }> {
    const r = await runCommand('sbatch', ['--parsable', script], this.env);
    const jobId = r.stdout.trim().split(';')[0];
    if (r.code !== 0 || !/^\d+$/.test(jobId)) return { error: `sbatch failed: ${said(r)}` };
    return { jobId };
  }

  async state(id: string): Promise<JobState | undefined> {
    const q = await runCommand('squeue', ['-h', '-j', id, '-o', '%T'], this.env);
    const queued = q.stdout.trim();
    if (q.code === 0 && queued !== '' && !ENDED.has(queued)) return { ended: false };
    const r = await runCommand('scontrol', ['show', 'job', '-o', id], this.env);
    const info = (r.code === 0 ? parseScontrol(r.stdout) : undefined) ?? (await this.accounting(id));
    if (info === undefined) return undefined;
    if (!ENDED.has(info.state)) return { ended: false }; // COMPLETING: the epilog still runs
    const reason = info.reason && info.reason !== 'None' ? ` (${info.reason})` : '';
    return { ended: true, exitCode: info.exitCode, ...(OWN_END.has(info.state) ? {} : { killed: `${info.state}${reason}` }) };
  }

  /** A job slurmctld has forgotten, from the accounting database: `sacct -j ID -X -n -P -o State,ExitCode,Reason`. */
  private async accounting(id: string): Promise<{ state: string; reason?: string; exitCode?: number } | undefined> {
    const r = await runCommand('sacct', ['-j', id, '-X', '-n', '-P', '-o', 'State,ExitCode,Reason'], this.env);
    const [state, exit, reason] = (r.code === 0 ? r.stdout.trim().split('\n')[0] ?? '' : '').split('|');
    if (!state) return undefined;
    const code = Number((exit ?? '').split(':')[0]);
    // sacct writes "CANCELLED by 0": the state is the first word.
    return { state: state.split(' ')[0], reason, exitCode: Number.isInteger(code) ? code : undefined };
  }

  async cancel(ids: string[]): Promise<void> {
    await runCommand('scancel', ids, this.env);
  }
}
