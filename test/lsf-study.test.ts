import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { defaultInr } from '../src/config/inr.js';
import { LsfScheduler } from '../src/exec/lsf.js';
import { NO_SHARED_FOLDER_EXIT, jobScript } from '../src/exec/scheduler.js';
import { partialDir } from '../src/inr/run-folder.js';
import { runDir } from '../src/study/files.js';
import type { StudyState } from '../src/study/state.js';
import { lsfCommand, lsfJob, startLsf, type LsfCluster } from './helpers/lsf.js';
import { jobEvents, killWhileJobsRun, refusedInOneLine, studyToEnd } from './helpers/cluster-study.js';
import { startCli, waitFor, writeTinyStudyConfig } from './helpers/study.js';

// Studies whose trials are LSF jobs. LSF cannot be installed here, so its
// commands are stand-ins (test/helpers/lsf-standin.ts) that speak LSF's
// documented output formats and really run each job in the background.
const root = mkdtempSync(join(tmpdir(), 'inrscape-lsf-study-'));
let lsf: LsfCluster;
let env: Record<string, string>;
before(() => {
  lsf = startLsf(['normal', 'gpu']);
  env = { ...lsf.env, INRSCAPE_CACHE: join(root, 'cache'), INRSCAPE_STUDY_TRAIN_ARGS: '--checkpoint-steps 200' };
});
after(() => {
  lsf.stop();
  rmSync(root, { recursive: true, force: true });
});

function lsfConfig(name: string, study: Record<string, unknown>, steps: [number, number] = [20000, 30000], settings = '{queue: gpu}'): string {
  return writeTinyStudyConfig(join(root, `${name}.yaml`), { iterations: 4, slots: 2, block: 4, seed: 5, executor: 'lsf', lsf: settings, ...study }, steps);
}

const events = jobEvents;

test('the stand-in speaks LSF: bsub reads #BSUB lines from stdin and runs the job, bjobs -o tells its end, bkill ends it TERM_OWNER', async () => {
  const out = join(root, 'job.out');
  const script = `#!/bin/bash\n#BSUB -J hello\n#BSUB -o ${out}\n#BSUB -q gpu\n\necho "job $LSB_JOBID in $LSB_QUEUE"\nexit 3\n`;
  const sub = lsfCommand(lsf, 'bsub', [], script);
  const id = /^Job <(\d+)> is submitted to queue <gpu>\.$/.exec(sub.stdout.trim())?.[1];
  assert.ok(id, sub.stdout + sub.stderr);
  await waitFor('the job to end', () => lsfJob(lsf, id).startsWith('EXIT'));
  assert.equal(lsfJob(lsf, id), 'EXIT|3|-');
  assert.equal(readFileSync(out, 'utf8'), `job ${id} in gpu\n`);
  const sleeper = /Job <(\d+)>/.exec(lsfCommand(lsf, 'bsub', [], '#!/bin/bash\nsleep 60\n').stdout)![1];
  await waitFor('it to run', () => lsfJob(lsf, sleeper).startsWith('RUN'));
  assert.equal(lsfCommand(lsf, 'bkill', [sleeper]).stdout, `Job <${sleeper}> is being terminated\n`);
  await waitFor('it to end', () => lsfJob(lsf, sleeper).startsWith('EXIT'));
  assert.equal(lsfJob(lsf, sleeper), 'EXIT|130|TERM_OWNER: job killed by owner');
  // A bkill right after bsub, while the job is pending or starting, is not lost.
  const starting = [1, 2, 3].map(() => /Job <(\d+)>/.exec(lsfCommand(lsf, 'bsub', [], '#!/bin/bash\nsleep 60\n').stdout)![1]);
  for (const id of starting) assert.equal(lsfCommand(lsf, 'bkill', [id]).code, 0);
  for (const id of starting) await waitFor(`job ${id} to end`, () => lsfJob(lsf, id).startsWith('EXIT'), 15_000);
  const missing = lsfCommand(lsf, 'bjobs', ['-noheader', '-o', 'stat', '99999']);
  assert.deepEqual([missing.code, missing.stderr], [255, 'Job <99999> is not found\n']);
  assert.equal(lsfCommand(lsf, 'bsub', [], '#!/bin/bash\n#BSUB -q nope\ntrue\n').stderr, 'nope: No such queue. Job not submitted.\n');
});

let straight: StudyState | undefined;

test('a dicty-tiny study with executor lsf runs to the end, one bsub job per trial, job ids in the journal', async () => {
  const dir = join(root, 'straight');
  straight = studyToEnd(dir, lsfConfig('s', {}), env, /2 LSF jobs at a time in queue gpu, 1 CPU each/);
  for (const n of straight.nodes) {
    const script = readFileSync(join(dir, `${runDir(n.id, n.slot)}.bsub`), 'utf8');
    assert.match(script, /^#BSUB -W 11$/m, 'the budget (1 min) plus 10 minutes');
    assert.match(script, /^#BSUB -q gpu$/m);
  }
});

test('the study killed while its LSF jobs run: resume follows them, runs none twice, loses none, same results', async () => {
  assert.ok(straight, 'runs after the uninterrupted study');
  const dir = join(root, 'killed');
  await killWhileJobsRun(dir, lsfConfig('s', {}), env, 'lsf', straight!);
});

test('an LSF job bkilled from outside and one past its run limit: recorded with LSF\'s reason, then re-run', async () => {
  const dir = join(root, 'ended');
  const cli = startCli(['study', 'run', lsfConfig('e', { iterations: 2 }, [2000000, 3000000]), '--dir', dir], { env });
  await waitFor('two jobs', () => events(dir, 'trial_submitted').length >= 2, 60_000);
  const [a, b] = events(dir, 'trial_submitted');
  await waitFor('both to run', () => lsfJob(lsf, a.job_id).startsWith('RUN') && lsfJob(lsf, b.job_id).startsWith('RUN'), 30_000);
  // The run-limit case resumes from a checkpoint: let the trial write its first one (a loaded machine may take seconds).
  await waitFor('a checkpoint of the second', () => existsSync(join(partialDir(join(dir, runDir(b.node, b.node - 1))), 'checkpoint.safetensors')), 60_000);
  assert.equal(lsfCommand(lsf, 'bkill', [a.job_id]).code, 0);
  assert.equal(lsfCommand(lsf, 'bmod', ['-W', '0', b.job_id]).code, 0);
  await waitFor('both attempts lost', () => events(dir, 'trial_lost').length >= 2, 60_000);
  const lost = events(dir, 'trial_lost');
  assert.equal(lost.find((e) => e.node === a.node)!.reason, `lsf job ${a.job_id} ended EXIT (TERM_OWNER: job killed by owner)`);
  assert.equal(lost.find((e) => e.node === b.node)!.reason, `lsf job ${b.job_id} ended EXIT (TERM_RUNLIMIT: job killed after reaching LSF run time limit)`);
  await waitFor('the re-runs', () => events(dir, 'trial_submitted').filter((e) => e.attempt === 2).length === 2, 60_000);
  // The run-limit warning (SIGUSR2) let the trial checkpoint: its re-run resumes.
  await waitFor('the resume', () => readFileSync(join(dir, `${runDir(b.node, b.node - 1)}.log`), 'utf8').includes('(resume)'), 30_000);
  cli.child.kill('SIGINT');
  await cli.done;
  // Ctrl-C bkills the study's jobs.
  const again = events(dir, 'trial_submitted').filter((e) => e.attempt === 2);
  for (const e of again) await waitFor(() => `job ${e.job_id} to end (bjobs: ${lsfJob(lsf, e.job_id)})`, () => /^(EXIT|DONE)/.test(lsfJob(lsf, e.job_id)), 30_000);
});

test('bad LSF settings are refused in one line, before a study folder exists', () => {
  const cases: [string, RegExp][] = [
    ['{queue: nope}', /^inrscape: study\.lsf\.queue = nope: no such queue on this cluster \(it has normal, gpu\)\n$/],
    ['{time: "1h"}', /^inrscape: study\.lsf\.time = "1h": must be an LSF run limit: minutes or hours:minutes, e\.g\. 70 or 1:10\n$/],
  ];
  refusedInOneLine(join(root, 'bad'), cases.map(([settings, want], i) => [lsfConfig(`bad${i}`, {}, [20000, 30000], settings), want]), env);
});

test('a job that does not see the study folder (no shared filesystem) exits 6 with a line that says so, and runs nothing', () => {
  const gone = join(root, 'not-shared', 'study');
  const req = {
    node: 1, attempt: 1, config: join(gone, 'config', 'c.yaml'), dataset: root, out: join(gone, 'runs', 'iter_001_slot_00'),
    log: join(root, 'not-shared.log'), maxMinutes: 1, seed: 1, threads: 1, inr: defaultInr(),
  };
  const marker = join(root, 'ran');
  const script = jobScript(new LsfScheduler({ extra: [] }, 1), req, ['touch', marker]);
  const r = spawnSync('/bin/bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, LSB_JOBID: '77' } });
  assert.equal(r.status, NO_SHARED_FOLDER_EXIT);
  assert.match(r.stderr, new RegExp(`^inrscape: job 77 on \\S+ does not see the study folder ${gone}: it must be on a filesystem shared with the host that runs the study\\n$`));
  assert.equal(existsSync(marker), false);
});
