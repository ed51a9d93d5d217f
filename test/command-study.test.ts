import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/schema.js';
import { configFile, runDir } from '../src/study/files.js';
import { runCli } from './helpers/cli.js';
import { lsfJob, startLsf } from './helpers/lsf.js';
import { checkStudyFolder, journalEvents, writeTinyStudyConfig } from './helpers/study.js';
import { TEST_PYTHON, noTorch } from './helpers/torch.js';

// The user's own trainer under inrscape's study loop: `study.command`, its
// placeholders substituted as separate arguments, its results.log read back.
const TOY = fileURLToPath(new URL('../../test/fixtures/toy_trainer.py', import.meta.url));
const BENCH_TRAINER = fileURLToPath(new URL('../../bench/torch_siren_ref.py', import.meta.url));
const noPython = existsSync(TEST_PYTHON) ? false : `${TEST_PYTHON} is not there`;
const root = mkdtempSync(join(tmpdir(), 'inrscape-command-study-'));
const env = { INRSCAPE_CACHE: join(root, 'cache') };
after(() => rmSync(root, { recursive: true, force: true }));

const toy = (...extra: string[]): string[] => [TEST_PYTHON, TOY, '--config', '{config}', '--out', '{run_dir}', '--seed', '{seed}', '--minutes', '{max_minutes}', '--device', '{gpu}', ...extra];

function commandConfig(name: string, command: string[], study: Record<string, unknown> = {}): string {
  return writeTinyStudyConfig(join(root, `${name}.yaml`), { iterations: 4, slots: 2, block: 4, seed: 5, executor: 'command', command: JSON.stringify(command), ...study });
}

test('a study with executor command runs the user\'s trainer for every trial and scores it by the results.log it writes', { skip: noPython }, () => {
  const dir = join(root, 'toy');
  const r = runCli(['study', 'run', commandConfig('toy', toy()), '--dir', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /each running python3/);
  const state = checkStudyFolder(dir, { userTrainer: true });
  assert.equal(state.nodes.length, 4);
  for (const n of state.nodes) {
    assert.equal(n.status, 'finished');
    const out = join(dir, runDir(n.id, n.slot));
    const argv = JSON.parse(readFileSync(join(out, 'argv.json'), 'utf8')) as string[];
    assert.deepEqual(argv, ['--config', join(dir, configFile(n.id, n.slot)), '--out', out, '--seed', String(n.seed), '--minutes', '1', '--device', 'cpu']);
    // What the trainer got is the whole config in the reference's layout: it loads, and its inr: is the node's.
    const config = parseConfig(readFileSync(argv[1], 'utf8')).config;
    assert.deepEqual(config.inr, n.inr);
    const log = readFileSync(join(out, 'results.log'), 'utf8');
    assert.equal(n.metrics?.final_r2, Number(/^final_r2: (.*)$/m.exec(log)![1]));
    assert.equal(n.metrics?.final_mse, Number(/^final_mse: (.*)$/m.exec(log)![1]));
  }
  // The progress file it chose to write brought its evaluations into the journal.
  const evaluations = journalEvents(dir).filter((e) => e.type === 'trial_evaluation');
  assert.equal(evaluations.length, 8);
});

test('a placeholder whose value holds "; rm -rf ~" reaches the trainer as those characters, in one argument', { skip: noPython }, () => {
  const home = join(root, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'canary'), 'still here');
  const dir = join(root, 'study; rm -rf ~');
  const r = runCli(['study', 'run', commandConfig('evil', toy(), { iterations: 2 }), '--dir', dir], { env: { ...env, HOME: home } });
  assert.equal(r.status, 0, r.stderr);
  const state = checkStudyFolder(dir, { userTrainer: true });
  const n = state.nodes[0];
  const argv = JSON.parse(readFileSync(join(dir, runDir(n.id, n.slot), 'argv.json'), 'utf8')) as string[];
  assert.equal(argv[1], join(root, 'study; rm -rf ~', configFile(n.id, n.slot)));
  assert.equal(argv.length, 10);
  assert.equal(readFileSync(join(home, 'canary'), 'utf8'), 'still here');
});

test('a trainer that exits 1 fails its trial with the exit code and its last line; the study goes on', { skip: noPython }, () => {
  const dir = join(root, 'failing');
  const r = runCli(['study', 'run', commandConfig('failing', toy('--fail'), { iterations: 2 }), '--dir', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  const state = checkStudyFolder(dir, { userTrainer: true });
  for (const n of state.nodes) {
    assert.equal(n.status, 'failed');
    assert.equal(n.failure, 'python3 exited with code 1: toy trainer: asked to fail');
  }
});

test('the user\'s trainer runs as LSF jobs too: executor lsf with study.command', { skip: noPython }, () => {
  const lsf = startLsf(['normal']);
  try {
    const dir = join(root, 'on-lsf');
    const config = writeTinyStudyConfig(join(root, 'on-lsf.yaml'), { iterations: 2, slots: 2, block: 4, seed: 5, executor: 'lsf', lsf: '{gpu: "num=1"}', command: JSON.stringify(toy()) });
    const r = runCli(['study', 'run', config, '--dir', dir], { env: { ...env, ...lsf.env } });
    assert.equal(r.status, 0, r.stderr);
    const state = checkStudyFolder(dir, { userTrainer: true });
    const submitted = journalEvents(dir).filter((e) => e.type === 'trial_submitted') as unknown as { job_id: string }[];
    assert.equal(submitted.length, 2);
    for (const s of submitted) assert.equal(lsfJob(lsf, s.job_id), 'DONE|-|-');
    for (const n of state.nodes) {
      assert.equal(n.status, 'finished');
      const argv = JSON.parse(readFileSync(join(dir, runDir(n.id, n.slot), 'argv.json'), 'utf8')) as string[];
      assert.equal(argv.at(-1), 'cuda', 'a job that asks LSF for a GPU gets {gpu} = cuda');
    }
  } finally {
    lsf.stop();
  }
});

test('the project\'s eager PyTorch trainer (bench/torch_siren_ref.py) as the user\'s trainer: a study over real SIREN fits', { skip: noTorch }, () => {
  const dir = join(root, 'torch');
  const command = [TEST_PYTHON, BENCH_TRAINER, '--config', '{config}', '--dataset', '{dataset}', '--run-dir', '{run_dir}', '--seed', '{seed}', '--max-minutes', '{max_minutes}', '--device', '{gpu}', '--threads', '{threads}'];
  const config = writeTinyStudyConfig(join(root, 'torch.yaml'), { iterations: 2, slots: 1, block: 4, seed: 5, executor: 'command', command: JSON.stringify(command) }, [300, 400]);
  const r = runCli(['study', 'run', config, '--dir', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  const state = checkStudyFolder(dir, { userTrainer: true });
  for (const n of state.nodes) {
    assert.equal(n.status, 'finished', n.failure);
    assert.ok(n.metrics !== undefined && n.metrics.final_r2 > 0.2 && n.metrics.final_r2 <= 1, `R2 ${n.metrics?.final_r2}: a real fit of dicty-tiny`);
  }
});

test('bad command settings are refused in one line that names the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ command: JSON.stringify(['python3', 'train.py', '--config', '{cfg}']) },
      'inrscape: study.command[3] = "{cfg}": has {cfg}, which is not a placeholder: use one of {config}, {run_dir}, {seed}, {max_minutes}, {gpu}, {dataset}, {threads}, or {{ and }} for literal braces'],
    [{ command: undefined }, 'inrscape: study.executor = "command": runs the user\'s trainer: set study.command to its command line, e.g. [python3, train.py, --config, "{config}", --out, "{run_dir}"]'],
  ];
  for (const [study, want] of cases) {
    const dir = join(root, 'bad');
    const path = writeTinyStudyConfig(join(root, 'bad.yaml'), { iterations: 2, executor: 'command', ...Object.fromEntries(Object.entries(study).filter(([, v]) => v !== undefined)) });
    const r = runCli(['study', 'run', path, '--dir', dir], { env });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('inrscape: warning'))[0], want);
    assert.equal(existsSync(dir), false);
  }
});
