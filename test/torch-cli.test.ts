import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partialDir } from '../src/inr/run-folder.js';
import { readRunRecord } from '../src/inr/run.js';
import { readTrialStatus } from '../src/exec/trial-files.js';
import { workerScript } from '../src/inr/engines/torch-worker.js';
import { BIN, runCli } from './helpers/cli.js';
import { TEST_PYTHON, hasCuda, noTorch } from './helpers/torch.js';
import { makeTinyDataset } from './helpers/train.js';

// `inrscape train --engine torch` as a user runs it, and every way starting
// or keeping the worker can go wrong, each caused for real.
const root = mkdtempSync(join(tmpdir(), 'inrscape-torch-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ds = makeTinyDataset(join(root, 'tiny'), 5);

function writeConfig(name: string, inr: Record<string, unknown>, extra = ''): string {
  const path = join(root, `${name}.yaml`);
  const body = Object.entries({ hidden_dim_inr: 32, n_layers_inr: 2, omega_inr: 10, inr_learning_rate: 1e-3, inr_batch_size: 2, ...inr })
    .map(([k, v]) => `  ${k}: ${v}`).join('\n');
  writeFileSync(path, `dataset:\n  path: ${ds.dir}\ninr:\n${body}\n${extra}`);
  return path;
}

const torchArgs = ['--engine', 'torch', '--python', TEST_PYTHON];

/** What a command said besides the warnings about the tiny test network's typical ranges. */
function said(stderr: string): string {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('inrscape: warning:')).join('\n');
}
const noPython = { env: { PATH: join(root, 'empty-bin'), INRSCAPE_PYTHON: '' } };

test('train --engine torch writes the same run folder as the cpu engine, with the engine recorded', { skip: noTorch }, () => {
  const cfg = writeConfig('ok', { inr_total_steps: 60 });
  const out = join(root, 'run-ok');
  const r = runCli(['train', cfg, '--out', out, ...torchArgs]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /torch \(.*, fp32/);
  assert.deepEqual(readdirSync(out).sort(), ['config.yaml', 'frame_mse.npy', 'model.safetensors', 'pred_velocity.npy', 'progress.jsonl', 'results.log', 'run.json', 'trial-status.json']);
  const run = readRunRecord(out);
  const engine = run.engine as Record<string, unknown>;
  assert.equal(engine.name, 'torch');
  assert.equal(engine.device, 'cpu');
  assert.equal(engine.python, TEST_PYTHON);
  const cpu = join(root, 'run-ok-cpu');
  assert.equal(runCli(['train', cfg, '--out', cpu]).status, 0);
  assert.ok(Math.abs(run.metrics!.final_r2 - readRunRecord(cpu).metrics!.final_r2) < 1e-5);
  // The engine section of the config works as the flags do.
  const viaConfig = writeConfig('via-config', { inr_total_steps: 20 }, `engine:\n  name: torch\n  python: ${TEST_PYTHON}\n`);
  const r2 = runCli(['train', viaConfig, '--out', join(root, 'run-via-config')]);
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal((readRunRecord(join(root, 'run-via-config')).engine as Record<string, unknown>).name, 'torch');
});

test('no python on PATH: one line naming the setting, exit 2, nothing written', () => {
  const cfg = writeConfig('no-python', { inr_total_steps: 20 });
  const out = join(root, 'run-no-python');
  const r = runCli(['train', cfg, '--out', out, '--engine', 'torch'], noPython);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(said(r.stderr), 'inrscape: engine.python = python3: not found; name a Python 3 with torch by --python, INRSCAPE_PYTHON or engine.python');
  assert.equal(existsSync(out) || existsSync(partialDir(out)), false);
  // engine auto falls back to the cpu engine and says why.
  const auto = runCli(['train', cfg, '--out', join(root, 'run-auto'), '--engine', 'auto'], noPython);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stderr, /engine auto: cpu \(.*not found/);
});

test('a python without torch: exit 2 with the import error', () => {
  const venv = join(root, 'venv');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const cfg = writeConfig('no-torch', { inr_total_steps: 20 });
  const r = runCli(['train', cfg, '--out', join(root, 'run-no-torch'), '--engine', 'torch', '--python', join(venv, 'bin', 'python')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(said(r.stderr), /^inrscape: --python = .*venv\/bin\/python: cannot import torch \((ModuleNotFoundError|ImportError): No module named '(torch|numpy)'\); install PyTorch for it, or name another Python$/);
});

test('a worker that speaks another protocol version is refused before anything is sent', () => {
  const copy = join(root, 'worker-v99');
  cpSync(join(workerScript(), '..'), copy, { recursive: true });
  const proto = join(copy, 'protocol.py');
  writeFileSync(proto, readFileSync(proto, 'utf8').replace(/^PROTOCOL_VERSION = 1$/m, 'PROTOCOL_VERSION = 99'));
  const python = join(root, 'python-v99');
  writeFileSync(python, `#!/bin/sh\nexec /usr/bin/python3 -u ${join(copy, 'worker.py')}\n`);
  chmodSync(python, 0o755);
  const cfg = writeConfig('v99', { inr_total_steps: 20 });
  const r = runCli(['train', cfg, '--out', join(root, 'run-v99'), '--engine', 'torch', '--python', python]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(said(r.stderr), /^inrscape: the torch worker run by .*python-v99 speaks engine protocol 99, this inrscape speaks 1: install matching versions$/);
});

test('CUDA asked for where torch sees none: exit 2 naming --device', { skip: noTorch || (hasCuda ? 'this machine has CUDA' : false) }, () => {
  const cfg = writeConfig('no-cuda', { inr_total_steps: 20 });
  const r = runCli(['train', cfg, '--out', join(root, 'run-no-cuda'), ...torchArgs, '--device', 'cuda']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(said(r.stderr), /^inrscape: --device = cuda: torch \S+ sees no CUDA device/);
});

test('bad engine settings are one line each, exit 2', () => {
  const cfg = writeConfig('bad', { inr_total_steps: 20 });
  const cases: Array<[string[], RegExp]> = [
    [['--precision', 'fp16'], /^inrscape: --precision = "fp16": must be one of fp32, tf32, bf16; did you mean fp32\?$/],
    [['--engine', 'gpu'], /^inrscape: --engine = "gpu": must be one of cpu, torch, auto/],
    [['--device', 'cuda:x', '--engine', 'torch'], /^inrscape: --device = "cuda:x": must be auto, cpu, cuda, cuda:N or mps$/],
    [['--precision', 'bf16'], /^inrscape: --precision = "bf16": the cpu engine computes in fp32 only; the torch engine has tf32 and bf16$/],
  ];
  for (const [flags, want] of cases) {
    const r = runCli(['train', cfg, '--out', join(root, 'run-bad'), ...flags]);
    assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(said(r.stderr), want);
  }
  const inFile = writeConfig('bad-file', { inr_total_steps: 20 }, 'engine:\n  name: torch\n  precison: bf16\n');
  const r = runCli(['config', 'check', inFile]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /engine\.precison = "bf16": unknown key in engine; did you mean precision\?/);
  assert.equal(existsSync(join(root, 'run-bad')), false);
});

/** The pids of `pid`'s children. */
function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

test('a worker killed with SIGKILL mid-run: exit 4 (resumable) with its status and stderr; --resume continues from the last checkpoint', { skip: noTorch }, async () => {
  const cfg = writeConfig('killed', { inr_total_steps: 4000, inr_learning_rate: 1e-4 });
  const out = join(root, 'run-killed');
  const child = spawn(process.execPath, [BIN, 'train', cfg, '--out', out, ...torchArgs, '--checkpoint-steps', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(partialDir(out), 'checkpoint.safetensors'))) {
    assert.equal(child.exitCode, null, `the run ended before its first checkpoint: ${stderr}`);
    assert.ok(Date.now() < deadline, 'no checkpoint after 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const workers = children(child.pid!);
  assert.equal(workers.length, 1, `one worker process under inrscape train (${workers.join(', ')})`);
  process.kill(workers[0], 'SIGKILL');
  assert.equal(await exited, 4, stderr);
  assert.deepEqual([readTrialStatus(partialDir(out))?.state, readTrialStatus(partialDir(out))?.exit_code], ['stopped', 4]);
  assert.match(stderr, new RegExp(`inrscape: the torch worker \\(pid ${workers[0]}\\) ended \\(killed by SIGKILL\\)`));
  assert.match(stderr, /continue with 'inrscape train --resume .*run-killed'/);
  assert.equal(existsSync(out), false, 'no half-written run folder');
  assert.ok(existsSync(join(partialDir(out), 'checkpoint.safetensors')));
  const r = runCli(['train', '--resume', out]);
  assert.equal(r.status, 0, r.stderr);
  const run = readRunRecord(out);
  assert.equal(run.steps_done, 4000);
  assert.equal(run.resumed_at.length, 1);
  assert.equal((run.engine as Record<string, unknown>).name, 'torch', 'the resume used the recorded engine');
});
