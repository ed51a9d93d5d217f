import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultInr } from '../src/config/inr.js';
import { InrscapeProgram } from '../src/exec/inrscape-program.js';
import { LocalRunner } from '../src/exec/local.js';
import { placeTrials } from '../src/exec/placement.js';
import { runPool, type TrialRequest } from '../src/exec/runner.js';
import { enginePriorFlopsPerSecond } from '../src/study/budget.js';
import { TEST_PYTHON, hasCuda, noTorch } from './helpers/torch.js';

const FAKE_TRAIN = fileURLToPath(new URL('./helpers/fake-train.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'inrscape-placement-'));
after(() => rmSync(root, { recursive: true, force: true }));

function request(node: number): TrialRequest {
  return {
    node, attempt: 1, config: join(root, 'cfg.yaml'), dataset: root, out: join(root, 'runs', `t${node}`), log: join(root, 'logs', `t${node}.log`),
    maxMinutes: 1, seed: node, threads: 1, inr: defaultInr(),
  };
}

test('trials given GPU slots each see only their GPU, train with --device cuda, and never share a slot', async () => {
  const gpuFile = join(root, 'gpus.jsonl'), argsFile = join(root, 'args.jsonl');
  const runner = new LocalRunner({
    capacity: 3, threads: 1, program: new InrscapeProgram({ bin: FAKE_TRAIN, extraArgs: [] }), gpuSlots: [3, 3, 5],
    env: { ...process.env, FAKE_TRAIN: 'args', FAKE_TRAIN_ARGS_FILE: argsFile, FAKE_TRAIN_GPU_FILE: gpuFile, FAKE_TRAIN_MS: '150' },
  });
  await runPool([1, 2, 3, 4, 5, 6].map(request), runner.capacity, async (r) => void (await runner.run(r)));
  const runs = readFileSync(gpuFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { gpu: string; start: number; end: number });
  assert.equal(runs.length, 6);
  for (const r of runs) assert.ok(r.gpu === '3' || r.gpu === '5', `CUDA_VISIBLE_DEVICES=${r.gpu}`);
  // At every trial's start, the trials then running hold at most two slots of GPU 3 and one of GPU 5.
  for (const r of runs) {
    const overlapping = runs.filter((o) => o.start <= r.start && o.end > r.start);
    assert.ok(overlapping.filter((o) => o.gpu === '3').length <= 2 && overlapping.filter((o) => o.gpu === '5').length <= 1, JSON.stringify(overlapping));
  }
  assert.ok(runs.some((r) => r.gpu === '5') && runs.some((r) => r.gpu === '3'));
  const argv = readFileSync(argsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  for (const a of argv) assert.equal(a[a.indexOf('--device') + 1], 'cuda');
  assert.throws(() => new LocalRunner({ capacity: 3, threads: 1, gpuSlots: [0] }), /1 GPU slots for 3 trials at once/);
});

test('placement: the cpu engine shares the cores; torch off CUDA too, and auto falls back to cpu without CUDA', { skip: noTorch || (hasCuda ? 'this machine has CUDA' : false) }, async () => {
  const base = { slots: 4, threads: 1, gpus: 'auto' as const, trialsPerGpu: 2 };
  const cpu = await placeTrials({ ...base, engine: { name: 'cpu', device: 'auto', precision: 'fp32' } });
  assert.equal(cpu.kind, 'cpu');
  assert.equal(cpu.gpuSlots, undefined);
  const torch = await placeTrials({ ...base, engine: { name: 'torch', device: 'auto', precision: 'fp32', python: TEST_PYTHON } });
  assert.equal(torch.kind, 'torch-cpu');
  assert.equal(torch.capacity, cpu.capacity);
  const auto = await placeTrials({ ...base, engine: { name: 'auto', device: 'auto', precision: 'fp32', python: TEST_PYTHON } });
  assert.equal(auto.kind, 'cpu');
  await assert.rejects(
    placeTrials({ ...base, engine: { name: 'torch', device: 'auto', precision: 'fp32', python: join(root, 'no-such-python') } }),
    /engine\.python = .*no-such-python: not found/,
  );
});

test('the cost prior follows the engine: a GPU trial is never priced at the CPU rate', () => {
  assert.equal(enginePriorFlopsPerSecond(2, 'cpu'), 8e10);
  assert.equal(enginePriorFlopsPerSecond(2, 'torch-cpu'), 2e10);
  assert.ok(enginePriorFlopsPerSecond(1, 'torch-cuda', 1) >= 50 * enginePriorFlopsPerSecond(2, 'cpu'));
  assert.equal(enginePriorFlopsPerSecond(1, 'torch-cuda', 4), enginePriorFlopsPerSecond(1, 'torch-cuda', 1) / 4);
});
