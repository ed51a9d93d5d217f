import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cancelAllJobs, expireTimeLimit, jobInfo, sbatch, slurmAvailable, slurmCommand, squeueState, startSlurm, waitForJobState, type SlurmCluster } from './helpers/slurm.js';
import { tempDir } from './helpers/tmp.js';

// The test cluster itself: a real slurmctld and slurmd (and munged), one node
// of 2 CPUs, that the Slurm executor's tests build on.

const skip = slurmAvailable();
let cluster: SlurmCluster;

before(async () => {
  if (skip === false) cluster = await startSlurm({ cpus: 2 });
});
afterEach(async () => {
  if (cluster !== undefined) await cancelAllJobs(cluster); // what a failed test left running must not hold the CPUs
});
after(async () => {
  await cluster?.stop();
});

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the cluster is one idle node in the default partition, reached through SLURM_CONF alone', { skip }, async () => {
  assert.match(cluster.env.SLURM_CONF, /slurm\.conf$/);
  assert.ok(cluster.env.SLURM_CONF.startsWith(cluster.dir));
  const r = await slurmCommand(cluster, 'sinfo', ['-h', '-o', '%P %a %T %c %D']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${cluster.partition}* up idle 2 1`);
});

test('an sbatch --parsable job runs its shell script to COMPLETED, writing its file, with exit code 0:0', { skip }, async (t) => {
  const work = tempDir(t);
  const script = join(work, 'job.sh');
  writeFileSync(script, '#!/bin/sh\necho "job $SLURM_JOB_ID in $(pwd)" > "$1"\necho done\n', { mode: 0o755 });
  const id = await sbatch(cluster, [`--chdir=${work}`, `--output=${join(work, '%j.out')}`, '--job-name=complete', script, join(work, 'result.txt')]);
  assert.match(id, /^\d+$/);
  assert.equal(await waitForJobState(cluster, id, 'COMPLETED', 30_000), 'COMPLETED');
  assert.equal(readFileSync(join(work, 'result.txt'), 'utf8'), `job ${id} in ${work}\n`);
  assert.equal(readFileSync(join(work, `${id}.out`), 'utf8'), 'done\n');
  const info = await jobInfo(cluster, id);
  assert.equal(info?.JobState, 'COMPLETED');
  assert.equal(info?.ExitCode, '0:0');
  assert.equal(info?.Reason, 'None');
  assert.equal(info?.Partition, cluster.partition);
  assert.equal(info?.JobName, 'complete');
  assert.equal(await squeueState(cluster, id), 'COMPLETED', 'finished jobs stay visible to squeue -t all (MinJobAge)');
  assert.equal((await slurmCommand(cluster, 'squeue', ['-h', '-j', id, '-o', '%T'])).stdout.trim(), '', 'plain squeue hides finished jobs');
});

test('a failing script ends FAILED with its exit code in ExitCode', { skip }, async (t) => {
  const work = tempDir(t);
  const id = await sbatch(cluster, [`--chdir=${work}`, `--output=${join(work, '%j.out')}`, '--wrap', 'echo oops >&2; exit 3']);
  assert.equal(await waitForJobState(cluster, id, 'FAILED', 30_000), 'FAILED');
  const info = await jobInfo(cluster, id);
  assert.equal(info?.ExitCode, '3:0');
  assert.equal(info?.Reason, 'NonZeroExitCode');
  assert.equal(readFileSync(join(work, `${id}.out`), 'utf8'), 'oops\n', 'stderr goes to --output unless --error is given');
});

test('a job scancel-ed from outside ends CANCELLED, scontrol show job says so, and its processes are gone', { skip }, async (t) => {
  const work = tempDir(t);
  const pidFile = join(work, 'pid');
  const id = await sbatch(cluster, [`--chdir=${work}`, '--output=/dev/null', '--wrap', `echo $$ > ${pidFile}; exec sleep 300`]);
  assert.equal(await waitForJobState(cluster, id, 'RUNNING'), 'RUNNING');
  await waitFor('the job to write its pid', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pidAlive(pid));
  const r = await slurmCommand(cluster, 'scancel', [id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await waitForJobState(cluster, id, 'CANCELLED'), 'CANCELLED');
  const info = await jobInfo(cluster, id);
  assert.equal(info?.JobState, 'CANCELLED');
  assert.equal(info?.ExitCode, '0:15', 'killed by SIGTERM');
  await waitFor('the job process to die', () => !pidAlive(pid));
});

test('a running job whose time limit runs out ends TIMEOUT with Reason=TimeLimit', { skip }, async (t) => {
  // Slurm counts limits in whole minutes and checks them every 30 s: --time=1
  // would take 60-90 s. Bringing the job's EndTime forward hits the same path
  // in at most ~30 s.
  const work = tempDir(t);
  const id = await sbatch(cluster, [`--chdir=${work}`, '--output=/dev/null', '--time=1', '--wrap', 'exec sleep 300']);
  assert.equal(await waitForJobState(cluster, id, 'RUNNING'), 'RUNNING');
  assert.equal((await jobInfo(cluster, id))?.TimeLimit, '00:01:00');
  await expireTimeLimit(cluster, id);
  assert.equal(await waitForJobState(cluster, id, 'TIMEOUT', 45_000), 'TIMEOUT');
  const info = await jobInfo(cluster, id);
  assert.equal(info?.JobState, 'TIMEOUT');
  assert.equal(info?.Reason, 'TimeLimit');
});

test('two 1-CPU jobs run at once on the 2 CPUs; a third waits PENDING for resources until one ends', { skip }, async (t) => {
  const work = tempDir(t);
  // Each of a and b starts, then waits for the other to have started and for the test's go.
  const script = join(work, 'pair.sh');
  writeFileSync(script, `#!/bin/sh
touch "started-$1"
i=0
while [ ! -e started-a ] || [ ! -e started-b ] || [ ! -e go ]; do
  i=$((i + 1)); [ $i -gt 600 ] && exit 1
  sleep 0.1
done
`, { mode: 0o755 });
  const common = [`--chdir=${work}`, `--output=${join(work, '%j.out')}`, '--ntasks=1', '--cpus-per-task=1'];
  const a = await sbatch(cluster, [...common, script, 'a']);
  const b = await sbatch(cluster, [...common, script, 'b']);
  const c = await sbatch(cluster, [...common, '--wrap', 'true']);
  await waitForJobState(cluster, a, 'RUNNING');
  await waitForJobState(cluster, b, 'RUNNING');
  await waitFor('both jobs to start', () => existsSync(join(work, 'started-a')) && existsSync(join(work, 'started-b')));
  const running = await slurmCommand(cluster, 'squeue', ['-h', '-t', 'running', '-o', '%i %C']);
  assert.deepEqual(running.stdout.trim().split('\n').sort(), [`${a} 1`, `${b} 1`].sort());
  const pending = await jobInfo(cluster, c);
  assert.equal(pending?.JobState, 'PENDING');
  // Slurm names this wait Resources or, depending on which scheduling pass saw
  // c last, Priority: both mean waiting its turn for CPUs, unlike a reason that
  // says it can never run here (PartitionConfig, ReqNodeNotAvail).
  assert.ok(['Resources', 'Priority'].includes(pending?.Reason ?? ''), `pending for ${pending?.Reason}`);
  writeFileSync(join(work, 'go'), '');
  for (const id of [a, b, c]) assert.equal(await waitForJobState(cluster, id, 'COMPLETED', 30_000), 'COMPLETED');
});
