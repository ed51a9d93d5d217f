/**
 * IBM Spectrum LSF: one `bsub` job per attempt (batch.ts says what the
 * runner does with it), the script given on bsub's stdin so that its `#BSUB`
 * lines are read. Jobs are followed with
 * `bjobs -noheader -o "stat exit_code exit_reason delimiter='|'" ID`, which
 * mbatchd answers for CLEAN_PERIOD (an hour by default) after the end, and
 * cancelled with `bkill`. An end by a `TERM_*` reason (TERM_RUNLIMIT,
 * TERM_OWNER, TERM_PREEMPT, ...) is the scheduler's; DONE and a plain EXIT are
 * the job's own.
 */
import { readFileSync } from 'node:fs';
import type { LsfSettings } from '../config/executor.js';
import { UserError } from '../util/errors.js';
import type { TrialRequest } from './runner.js';
import { jobMinutes, runCommand, said, type JobState, type Scheduler } from './scheduler.js';

const ENDED = new Set(['DONE', 'EXIT', 'ZOMBI']);

export class LsfScheduler implements Scheduler {
  readonly name = 'lsf';
  readonly scriptExtension = 'bsub';
  readonly jobIdVariable = 'LSB_JOBID';
  readonly asksForGpu: boolean;
  readonly setup?: string;

  constructor(private readonly s: LsfSettings, private readonly threads: number, private readonly env: NodeJS.ProcessEnv = process.env) {
    this.asksForGpu = s.gpu !== undefined;
    this.setup = s.setup;
  }

  directives(req: TrialRequest): string[] {
    const s = this.s;
    return [
      `-J inrscape-node${req.node}-attempt${req.attempt}`,
      `-o ${req.log}`, // appended to; stderr goes there too without -e
      `-W ${s.time ?? jobMinutes(req.maxMinutes)}`,
      ...(s.queue ? [`-q ${s.queue}`] : []),
      ...(s.project ? [`-P ${s.project}`] : []),
      ...(s.gpu ? [`-gpu "${s.gpu}"`] : []),
      `-n ${s.cpus ?? this.threads}`,
      ...(s.resource ? [`-R "${s.resource}"`] : []),
      ...(s.mem ? [`-M ${s.mem}`] : []),
      ...s.extra,
    ].map((d) => `#BSUB ${d}`);
  }

  async check(): Promise<void> {
    const r = await runCommand('bqueues', ['-o', 'queue_name', '-noheader'], this.env);
    if (r.code !== 0) throw new UserError(`study.executor = lsf: bqueues failed (${said(r)}): is this an LSF submission host?`);
    const known = r.stdout.split('\n').map((q) => q.trim()).filter((q) => q !== '');
    const want = this.s.queue;
    if (want !== undefined && !known.includes(want)) {
      throw new UserError(`study.lsf.queue = ${want}: no such queue on this cluster (it has ${known.join(', ')})`);
    }
  }

  async submit(script: string): Promise<{ jobId: string } | { error: string }> {
    const r = await runCommand('bsub', [], this.env, readFileSync(script, 'utf8'));
    const id = /^Job <(\d+)> is submitted/m.exec(r.stdout)?.[1];
    if (r.code !== 0 || id === undefined) return { error: `bsub failed: ${said(r)}` };
    return { jobId: id };
  }

  async state(id: string): Promise<JobState | undefined> {
    const r = await runCommand('bjobs', ['-noheader', '-o', "stat exit_code exit_reason delimiter='|'", id], this.env);
    const line = r.stdout.trim().split('\n')[0] ?? '';
    if (r.code !== 0 || line === '' || /is not found/.test(line)) return undefined;
    const [stat, code, ...why] = line.split('|');
    if (!ENDED.has(stat)) return { ended: false };
    const reason = why.join('|').trim();
    const exitCode = Number(code);
    const killed = stat === 'ZOMBI' ? 'ZOMBI' : reason.startsWith('TERM_') ? `${stat} (${reason})` : undefined;
    return { ended: true, ...(Number.isInteger(exitCode) && code !== '-' ? { exitCode } : stat === 'DONE' ? { exitCode: 0 } : {}), ...(killed ? { killed } : {}) };
  }

  async cancel(ids: string[]): Promise<void> {
    await runCommand('bkill', ids, this.env);
  }
}
