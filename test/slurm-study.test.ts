import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDir } from '../src/study/files.js';
import type { StudyState } from '../src/study/state.js';
import { expireTimeLimit, slurmAvailable, slurmCommand, startSlurm, waitForJobState, type SlurmCluster } from './helpers/slurm.js';
import { jobEvents, killWhileJobsRun, refusedInOneLine, studyToEnd } from './helpers/cluster-study.js';
import { journalEvents, startCli, waitFor, writeTinyStudyConfig } from './helpers/study.js';

// Studies whose trials are jobs of a real single-node Slurm cluster
// (slurmctld, slurmd and munged started for these tests, test/helpers/slurm.ts).
const skip = slurmAvailable();
const root = mkdtempSync(join(tmpdir(), 'inrscape-slurm-study-'));
let cluster: SlurmCluster;
let env: Record<string, string>;
before(async () => {
  if (skip) return;
  cluster = await startSlurm({ cpus: 2 });
  env = { ...cluster.env, INRSCAPE_CACHE: join(root, 'cache'), INRSCAPE_STUDY_TRAIN_ARGS: '--checkpoint-steps 200' };
});
after(async () => {
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
});

function slurmConfig(name: string, study: Record<string, unknown>, steps: [number, number] = [20000, 30000], slurm = `{partition: ${'debug'}}`): string {
  return writeTinyStudyConfig(join(root, `${name}.yaml`), { iterations: 4, slots: 2, block: 4, seed: 5, executor: 'slurm', slurm, ...study }, steps);
}

const events = jobEvents;

let straight: StudyState | undefined;

test('a dicty-tiny study with executor slurm runs to the end, one job per trial, job ids in the journal', { skip }, async () => {
  const dir = join(root, 'straight');
  straight = studyToEnd(dir, slurmConfig('s', {}), env, /2 Slurm jobs at a time on partition debug, 1 CPU each/);
  for (const n of straight.nodes) {
    assert.match(readFileSync(join(dir, `${runDir(n.id, n.slot)}.sbatch`), 'utf8'), /^#SBATCH --time=11$/m, 'the budget (1 min) plus 10 minutes');
  }
});

test('the study killed while its jobs run: resume follows the running jobs, runs none twice, loses none, same results', { skip }, async () => {
  assert.ok(straight, 'runs after the uninterrupted study');
  const dir = join(root, 'killed');
  await killWhileJobsRun(dir, slurmConfig('s', {}), env, 'slurm', straight!);
});

test('a job scancelled from outside and a job past its time limit: recorded with the scheduler\'s reason, then re-run', { skip }, async () => {
  const dir = join(root, 'ended');
  const cli = startCli(['study', 'run', slurmConfig('e', { iterations: 2 }, [2000000, 3000000]), '--dir', dir], { env });
  await waitFor(`two jobs (${dir})`, () => events(dir, 'trial_submitted').length >= 2, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${cli.stdout()}\n${cli.stderr()}`);
  });
  const [a, b] = events(dir, 'trial_submitted');
  await waitForJobState(cluster, a.job_id, 'RUNNING', 60_000);
  await waitForJobState(cluster, b.job_id, 'RUNNING', 60_000);
  assert.equal((await slurmCommand(cluster, 'scancel', [a.job_id])).code, 0);
  await expireTimeLimit(cluster, b.job_id);
  await waitFor('both attempts lost', () => events(dir, 'trial_lost').length >= 2, 90_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${JSON.stringify(journalEvents(dir).filter((e) => e.type.startsWith('trial_') && e.type !== 'trial_evaluation'))}\n${cli.stdout()}`);
  });
  const lost = events(dir, 'trial_lost');
  assert.match(lost.find((e) => e.node === a.node)!.reason!, new RegExp(`^slurm job ${a.job_id} ended CANCELLED`));
  assert.match(lost.find((e) => e.node === b.node)!.reason!, new RegExp(`^slurm job ${b.job_id} ended TIMEOUT \\(TimeLimit\\)`));
  // Both run again as attempt 2, each as a new job; stop the study there.
  await waitFor('the re-runs', () => events(dir, 'trial_submitted').filter((e) => e.attempt === 2).length === 2, 60_000);
  cli.child.kill('SIGINT');
  await cli.done;
  // Ctrl-C cancels the study's jobs.
  for (let i = 0; i < 100 && (await slurmCommand(cluster, 'squeue', ['-h'])).stdout.trim() !== ''; i++) await new Promise((r) => setTimeout(r, 300));
  assert.equal((await slurmCommand(cluster, 'squeue', ['-h'])).stdout.trim(), '', 'no job left');
});

test('bad Slurm settings are refused in one line, before a study folder exists', { skip }, () => {
  const cases: [string, RegExp][] = [
    ['{partition: nope}', /^inrscape: study\.slurm\.partition = nope: no such partition on this cluster \(it has debug\)\n$/],
    ['{time: "1h"}', /^inrscape: study\.slurm\.time = "1h": must be a Slurm time: minutes, minutes:seconds/],
  ];
  refusedInOneLine(join(root, 'bad'), cases.map(([slurm, want], i) => [slurmConfig(`bad${i}`, {}, [20000, 30000], slurm), want]), env);
});
