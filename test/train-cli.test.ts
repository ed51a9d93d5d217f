import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../src/data/formats/npy.js';
import { CpuEngine } from '../src/inr/engines/index.js';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { parseResultsLog } from '../src/inr/results-log.js';
import { loadModel } from '../src/inr/safetensors.js';
import { partialDir } from '../src/inr/run-folder.js';
import { readRunRecord } from '../src/inr/run.js';
import { BIN, runCli } from './helpers/cli.js';
import { readTrialStatus } from '../src/exec/trial-files.js';
import { hostname } from 'node:os';
import { editedDataset, makeTinyDataset } from './helpers/train.js';

// `inrscape train` as a user runs it: a child process on the native cpu engine.
const env = {};

const root = mkdtempSync(join(tmpdir(), 'inrscape-train-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ds = makeTinyDataset(join(root, 'tiny'), 3);

function writeConfig(name: string, inr: Record<string, unknown>, dataset: unknown = { path: ds.dir }): string {
  const path = join(root, `${name}.yaml`);
  const lines = ['dataset:', ...Object.entries(dataset as object).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`), 'inr:'];
  for (const [k, v] of Object.entries({ hidden_dim_inr: 16, n_layers_inr: 2, omega_inr: 10, inr_learning_rate: 1e-2, inr_batch_size: 2, ...inr })) {
    lines.push(`  ${k}: ${v}`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

test('inrscape train writes a run folder and prints a summary', () => {
  const cfg = writeConfig('ok', { inr_total_steps: 30 });
  const out = join(root, 'run-ok');
  const r = runCli(['train', cfg, '--out', out, '--seed', '2'], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^final_r2 \d\.\d{6} \(r2_cod -?\d\.\d{6}\)  final_mse \d\.\d{6}e-\d\d  slope -?\d\.\d{4}\n/);
  assert.match(r.stdout, /run folder: .*run-ok\n$/);
  assert.equal(r.stderr.includes('\r'), false, 'no progress redraws when stderr is not a terminal');
  assert.deepEqual(readdirSync(out).sort(), ['config.yaml', 'frame_mse.npy', 'model.safetensors', 'pred_velocity.npy', 'progress.jsonl', 'results.log', 'run.json', 'trial-status.json']);
  const log = parseResultsLog(readFileSync(join(out, 'results.log'), 'utf8'));
  assert.equal(log.status, 'ok');
  assert.equal(log.total_steps, 30);
  assert.equal(readRunRecord(out).seed, 2);
  // The trial protocol: the status file says how it ended, the progress file has a heartbeat and every evaluation.
  const status = readTrialStatus(out)!;
  assert.deepEqual([status.state, status.exit_code, status.steps_done, status.total_steps, status.host], ['done', 0, 30, 30, hostname()]);
  assert.match(status.proc_start ?? '', /^[\w-]+:\d+$/);
  const progress = readFileSync(join(out, 'progress.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number });
  assert.deepEqual(progress.filter((p) => p.kind === 'evaluation').map((p) => p.step), [3, 6, 9, 12, 15, 18, 21, 24, 27]);
  assert.ok(progress.filter((p) => p.kind === 'heartbeat').length >= 2, 'a heartbeat at the start and at the end');
  // Not on a terminal, progress is one line per evaluation (every tenth of the run).
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('step ')).length, 9);
});

test('a bad config exits 2 with the field named, and writes no run folder', () => {
  const cfg = writeConfig('bad', { omega_inr: -1 });
  const out = join(root, 'run-bad');
  const r = runCli(['train', cfg, '--out', out], { env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /inr\.omega_inr = -1: must be a number > 0/);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(partialDir(out)), false);
});

test('a missing dataset exits 2 and writes no run folder', () => {
  const out = join(root, 'run-missing');
  const cfg = writeConfig('missing', { inr_total_steps: 10 }, { path: join(root, 'no-such-dataset') });
  const r = runCli(['train', cfg, '--out', out], { env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dataset folder .*no-such-dataset not found/);
  const r2 = runCli(['train', writeConfig('ok2', { inr_total_steps: 10 }), '--dataset', join(root, 'nope'), '--out', out], { env });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /nope not found/);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(partialDir(out)), false);
});

test('bad flags exit 2', () => {
  const cfg = writeConfig('flags', { inr_total_steps: 10 });
  for (const args of [['--threads', '0'], ['--max-minutes', 'soon']]) {
    const r = runCli(['train', cfg, ...args], { env });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, new RegExp(args[0]));
  }
  assert.equal(runCli(['train'], { env }).status, 2);
});

test('a diverging run exits 1 and leaves a failed run folder', () => {
  const bad = editedDataset(ds, join(root, 'nan-ds'), (vel) => vel.fill(NaN));
  const cfg = writeConfig('nan', { inr_total_steps: 10 }, { path: bad.dir });
  const out = join(root, 'run-nan');
  const r = runCli(['train', cfg, '--out', out], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /training failed: loss is NaN at step 1/);
  const log = parseResultsLog(readFileSync(join(out, 'results.log'), 'utf8'));
  assert.equal(log.status, 'failed');
  assert.equal(log.reason, 'loss is NaN at step 1');
  assert.equal(existsSync(partialDir(out)), false);
});

test('--max-minutes stops training, evaluates, and results say time_limited', () => {
  const cfg = writeConfig('limited', { inr_total_steps: 1000000 });
  const out = join(root, 'run-limited');
  const r = runCli(['train', cfg, '--out', out, '--max-minutes', '0.002'], { env });
  assert.equal(r.status, 3, `exit 3: done early, the budget reached. ${r.stderr}`);
  assert.equal(readTrialStatus(out)?.state, 'budget');
  assert.match(r.stdout, /stopped by --max-minutes \(time_limited\)/);
  assert.match(readFileSync(join(out, 'results.log'), 'utf8'), /\ntime_limited: True\n$/);
});

/** Start `inrscape train` and SIGKILL it once its first checkpoint exists. */
async function killAfterCheckpoint(args: string[], staging: string, childEnv: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...childEnv }, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(staging, 'checkpoint.safetensors'))) {
    if (child.exitCode !== null) throw new Error(`the run ended (exit ${child.exitCode}) before its first checkpoint`);
    if (Date.now() > deadline) throw new Error('no checkpoint after 30 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the run was killed mid-way, not finished');
}

test('a run killed with SIGKILL resumes with --resume and ends bit for bit as an uninterrupted one (same thread count)', async () => {
  // Thousands of steps/s on 2 cores: the run takes a few seconds, the first checkpoint comes after a few ms.
  const cfg = writeConfig('cpu', { inr_total_steps: 20000, hidden_dim_inr: 32, inr_batch_size: 4, inr_learning_rate: 1e-3 });
  const whole = join(root, 'cpu-whole');
  const r0 = runCli(['train', cfg, '--out', whole, '--threads', '2'], {});
  assert.equal(r0.status, 0, r0.stderr);
  const out = join(root, 'cpu-killed');
  await killAfterCheckpoint(['train', cfg, '--out', out, '--threads', '2', '--checkpoint-steps', '50'], partialDir(out), {});
  assert.equal(existsSync(out), false, 'a killed run left a run folder');
  const again = runCli(['train', cfg, '--out', out, '--threads', '2'], {});
  assert.equal(again.status, 2);
  assert.match(again.stderr, /--resume/);
  const r = runCli(['train', '--resume', out], {});
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming/);
  for (const f of ['model.safetensors', 'pred_velocity.npy', 'frame_mse.npy']) {
    assert.ok(readFileSync(join(whole, f)).equals(readFileSync(join(out, f))), `${f} differs`);
  }
  assert.deepEqual(readRunRecord(out).loss_history, readRunRecord(whole).loss_history);

  // The saved model, loaded back into the cpu engine, reproduces the saved predictions exactly.
  const { spec, params } = loadModel(join(out, 'model.safetensors'));
  const { frames, cells } = ds.series;
  const model = await new CpuEngine({ threads: 2 }).open(spec, params, { series: ds.series, scaling: { frames, tPeriod: 1, xyPeriod: 1 }, batch: 4, adam: REFERENCE_ADAM });
  const ev = await model.evaluate(true);
  await model.dispose();
  assert.deepEqual(ev.pred, readNpy(readFileSync(join(out, 'pred_velocity.npy')), 'pred').data);
});
