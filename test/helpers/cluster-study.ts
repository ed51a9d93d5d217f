/**
 * What the Slurm and LSF study tests both check, whatever the scheduler:
 * the journal's job events, and a study killed while its jobs run.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StudyState } from '../../src/study/state.js';
import { runCli } from './cli.js';
import { checkStudyFolder, journalEvents, processesMentioning, startCli, waitFor } from './study.js';

export type JobEvent = { type: string; node: number; attempt: number; job_id: string; reason?: string };

export const jobEvents = (dir: string, type: string): JobEvent[] => journalEvents(dir).filter((e) => e.type === type) as unknown as JobEvent[];

/** The journal facts two runs of the same study seed must share. */
export function results(state: StudyState): unknown[] {
  return state.nodes.map((n) => ({ id: n.id, inr: n.inr, seed: n.seed, status: n.status, r2: n.metrics?.final_r2, mse: n.metrics?.final_mse }));
}

/** Run the study of `config` in `dir` to its end: its banner says `banner`, every trial finished as one job of its own. */
export function studyToEnd(dir: string, config: string, env: NodeJS.ProcessEnv, banner: RegExp): StudyState {
  const r = runCli(['study', 'run', config, '--dir', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, banner);
  const state = checkStudyFolder(dir);
  const submitted = jobEvents(dir, 'trial_submitted');
  assert.deepEqual(submitted.map((e) => e.node).sort(), state.nodes.map((n) => n.id));
  assert.equal(new Set(submitted.map((e) => e.job_id)).size, state.nodes.length);
  for (const n of state.nodes) assert.equal(n.status, 'finished');
  return state;
}

/**
 * Start the study of `config` in `dir`, SIGKILL it once its first two jobs
 * train, resume it, and check that the resumed study followed those jobs
 * (`scheduler` job N, which an earlier run submitted), submitted none of them
 * again, and ended with the results of `straight`. A dicty-tiny trial takes
 * seconds, less than a loaded machine may need to start the resume, so each
 * job's processes are stopped (SIGSTOP, as LSF's bstop does) from its first
 * checkpoint until the resume follows both: the jobs stay running for the
 * scheduler, and no result depends on when they are frozen.
 */
export async function killWhileJobsRun(dir: string, config: string, env: NodeJS.ProcessEnv, scheduler: string, straight: StudyState): Promise<void> {
  const runs = ['iter_001_slot_00', 'iter_002_slot_01'];
  const frozen = new Set<number>();
  const freeze = (run: string): boolean => {
    if (!existsSync(join(dir, 'runs', `.${run}.partial`, 'checkpoint.safetensors'))) return false;
    const pids = processesMentioning(join(dir, 'runs', run));
    for (const pid of pids) if (!frozen.has(pid)) (process.kill(pid, 'SIGSTOP'), frozen.add(pid));
    return pids.length > 0;
  };
  const thaw = (): void => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    frozen.clear();
  };
  const cli = startCli(['study', 'run', config, '--dir', dir], { env });
  try {
    await waitFor('two jobs to train', () => jobEvents(dir, 'trial_submitted').length >= 2 && runs.map(freeze).every(Boolean), 60_000);
    cli.child.kill('SIGKILL');
    await cli.done;
    const before = jobEvents(dir, 'trial_submitted');
    const resumed = startCli(['study', 'resume', dir], { env });
    const following = new RegExp(`following ${scheduler} job \\d+, which an earlier run of the study submitted`, 'g');
    await waitFor(() => `the resume to follow both jobs (it printed: ${resumed.stdout()})`, () => (resumed.stdout().match(following) ?? []).length === 2, 60_000);
    thaw();
    const end = await resumed.done;
    assert.equal(end.code, 0, resumed.stderr());
    const after = jobEvents(dir, 'trial_submitted');
    for (const node of [1, 2]) {
      assert.equal(after.filter((e) => e.node === node).length, before.filter((e) => e.node === node).length, `node ${node}: no second job`);
    }
    assert.deepEqual(results(checkStudyFolder(dir)), results(straight));
  } finally {
    thaw();
  }
}

/** `study run` of each config is refused with exit 2 and the one line `want` (warnings aside), and makes no study folder at `dir`. */
export function refusedInOneLine(dir: string, cases: [config: string, want: RegExp][], env: NodeJS.ProcessEnv): void {
  for (const [config, want] of cases) {
    const r = runCli(['study', 'run', config, '--dir', dir], { env });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('inrscape: warning')).join('\n') + '\n', want);
    assert.equal(existsSync(dir), false);
  }
}
