import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Precision } from '../src/config/engine.js';
import { defaultInr, type InrConfig } from '../src/config/inr.js';
import { REFERENCE_ADAM, type Engine } from '../src/inr/engine.js';
import { CpuEngine, TorchEngine } from '../src/inr/engines/index.js';
import { initParameters, parameterTensors, sirenSpec } from '../src/inr/spec.js';
import { train, type TrainState } from '../src/inr/train.js';
import { UserError } from '../src/util/errors.js';
import { ReferenceModel, finiteDifferences } from './reference/siren.js';
import { UNIT_SCALING, frameBatch, gradientsByAdam, maxDiff } from './helpers/siren.js';
import { TEST_PYTHON, noCuda, noTorch } from './helpers/torch.js';
import { makeTinyDataset } from './helpers/train.js';

// The torch engine against the cpu engine on dicty-tiny, both float32: the
// same initial parameters (drawn by the trainer) and the same batches (drawn
// by the trainer, handed to both), so the runs differ only by the order of
// float32 sums inside the matrix products and reductions. Such differences
// start at a float32 ulp (6e-8) of each step's loss and grow slowly through
// Adam; measured over 150 steps they stay near 2e-7. The bound of 1e-5 is
// fifty times that: loose enough for another BLAS, tight enough that any
// difference of semantics (a batch, a learning rate, a clip, an Adam
// coefficient, an input scaling) shows at once, since those change the loss
// by 1e-3 or more within a few steps.
const LOSS_REL = 1e-5;

const root = mkdtempSync(join(tmpdir(), 'inrscape-torch-engine-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ds = makeTinyDataset(join(root, 'tiny'), 4);
const series = ds.series;

const shapes: Array<{ label: string; inr: InrConfig }> = [
  { label: 'hidden 32 x 2, batch 4', inr: { ...defaultInr(), hidden_dim_inr: 32, n_layers_inr: 2, inr_total_steps: 150, inr_batch_size: 4, omega_inr: 10, inr_learning_rate: 1e-3 } },
  { label: 'hidden 128 x 3, batch 2, periods 2 and 0.5', inr: { ...defaultInr(), hidden_dim_inr: 128, n_layers_inr: 3, inr_total_steps: 120, inr_batch_size: 2, omega_inr: 20, inr_learning_rate: 2e-4, inr_xy_period: 2, inr_t_period: 0.5 } },
];

function torchOn(device: string, precision: Precision = 'fp32'): Promise<TorchEngine> {
  return TorchEngine.start({ python: TEST_PYTHON, device, precision, threads: 2, onStderr: () => undefined });
}

async function using<T>(engine: Engine, fn: (e: Engine) => Promise<T>): Promise<T> {
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

function assertLossesAgree(label: string, a: Float64Array, b: Float64Array, rel: number): number {
  assert.equal(a.length, b.length, `${label}: steps`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.abs(a[i]);
    worst = Math.max(worst, d);
    assert.ok(d <= rel, `${label}: loss at step ${i + 1}: cpu ${a[i]}, torch ${b[i]} (relative ${d.toExponential(2)})`);
  }
  return worst;
}

for (const device of ['cpu', 'cuda']) {
  for (const { label, inr } of shapes) {
    test(`torch on ${device} trains like the cpu engine: ${label}, every step's loss and the final R², slope and MSE`, { skip: device === 'cuda' ? noCuda : noTorch }, async (t) => {
      const a = await train(inr, series, new CpuEngine({ threads: 2 }), 3);
      const b = await using(await torchOn(device), (e) => train(inr, series, e, 3));
      assert.equal(a.status, 'ok');
      assert.equal(b.status, 'ok');
      const worst = assertLossesAgree(label, a.losses, b.losses, LOSS_REL);
      const ma = a.final!.metrics, mb = b.final!.metrics;
      assert.ok(Math.abs(ma.r2 - mb.r2) <= 1e-5, `R² ${ma.r2} vs ${mb.r2}`);
      assert.ok(Math.abs(ma.slope - mb.slope) <= 1e-5, `slope ${ma.slope} vs ${mb.slope}`);
      assert.ok(Math.abs(ma.mse - mb.mse) <= 1e-4 * ma.mse, `MSE ${ma.mse} vs ${mb.mse}`);
      assert.deepEqual(b.evaluations.map((e) => e.step), a.evaluations.map((e) => e.step));
      const p = maxDiff([b.final!.pred!], [a.final!.pred!]);
      assert.ok(p.diff <= 1e-4 * p.scale, `predictions differ by ${p.diff} (scale ${p.scale})`);
      t.diagnostic(`largest relative loss difference ${worst.toExponential(2)}; R² ${ma.r2.toFixed(6)} / ${mb.r2.toFixed(6)}`);
    });
  }
}

for (const precision of ['tf32', 'bf16'] as const) {
  test(`torch on cuda in ${precision} follows fp32 loosely and ends at a nearby R²`, { skip: noCuda }, async () => {
    const inr = shapes[1].inr;
    const fp32 = await using(await torchOn('cuda'), (e) => train(inr, series, e, 3));
    const low = await using(await torchOn('cuda', precision), (e) => train(inr, series, e, 3));
    assert.equal(low.status, 'ok');
    assertLossesAgree(`${precision} vs fp32`, fp32.losses.subarray(0, 10), low.losses.subarray(0, 10), precision === 'tf32' ? 1e-2 : 5e-2);
    assert.ok(Math.abs(fp32.final!.metrics.r2 - low.final!.metrics.r2) <= 0.02, `R² ${fp32.final!.metrics.r2} vs ${low.final!.metrics.r2}`);
  });
}

test('torch gradients match float64 finite differences, read back through Adam', { skip: noTorch }, async () => {
  const spec = sirenSpec(8, 2, 10);
  const points = 16;
  const params = initParameters(spec, 11);
  const { series: s, ids, inputs, targets } = frameBatch(points, 12);
  const ref = new ReferenceModel(spec, params);
  const fd = finiteDifferences(spec, params, { inputs, targets, points });
  await using(await torchOn('cpu'), async (engine) => {
    const model = await engine.open(spec, params, { series: s, scaling: UNIT_SCALING(s.frames), batch: 1, adam: REFERENCE_ADAM });
    const { loss, grads } = await gradientsByAdam(model, ids);
    await model.dispose();
    let scale = 0;
    for (const g of fd) for (const x of g) scale = Math.max(scale, Math.abs(x));
    parameterTensors(spec).forEach((t, k) => {
      for (let i = 0; i < grads[k].length; i++) {
        const err = Math.abs(grads[k][i] - fd[k][i]);
        assert.ok(err <= 2e-6 * scale + 1e-5 * Math.abs(fd[k][i]), `${t.name}[${i}]: torch ${grads[k][i]}, finite differences ${fd[k][i]}`);
      }
    });
    const refLoss = ref.lossAndGrads(inputs, targets, points).loss;
    assert.ok(Math.abs(loss - refLoss) <= 1e-6 * refLoss, `loss ${loss} vs ${refLoss}`);
  });
});

test('a run checkpointed on one engine resumes on the other and ends where an uninterrupted run ends', { skip: noTorch }, async () => {
  const inr = shapes[0].inr;
  const whole = await train(inr, series, new CpuEngine({ threads: 2 }), 5);
  const states: TrainState[] = [];
  const firstHalf = async (engine: Engine): Promise<TrainState> => {
    states.length = 0;
    await train(inr, series, engine, 5, { checkpointEverySteps: 60, onCheckpoint: (s) => void states.push(s) });
    return states[0];
  };
  const fromCpu = await firstHalf(new CpuEngine({ threads: 2 }));
  const fromTorch = await using(await torchOn('cpu'), firstHalf);
  assert.equal(fromCpu.step, 60);
  assert.equal(fromTorch.step, 60);
  const onTorch = await using(await torchOn('cpu'), (e) => train(inr, series, e, 5, { resume: fromCpu }));
  const onCpu = await train(inr, series, new CpuEngine({ threads: 2 }), 5, { resume: fromTorch });
  for (const [label, r] of [['cpu -> torch', onTorch], ['torch -> cpu', onCpu]] as const) {
    assert.equal(r.status, 'ok', label);
    assert.deepEqual(r.resumedAt, [60], label);
    assertLossesAgree(label, whole.losses, r.losses, LOSS_REL);
    assert.ok(Math.abs(whole.final!.metrics.r2 - r.final!.metrics.r2) <= 1e-5, `${label}: R² ${r.final!.metrics.r2} vs ${whole.final!.metrics.r2}`);
  }
  // The first 60 steps are the cpu engine's own on the cpu -> torch path: bit for bit.
  assert.deepEqual(onTorch.losses.subarray(0, 60), whole.losses.subarray(0, 60));
});

test('the worker reports its versions and device; a model that cannot fit is refused before anything is allocated', { skip: noTorch }, async () => {
  await using(await torchOn('cpu'), async (engine) => {
    const rec = (engine as TorchEngine).record;
    assert.equal(rec.name, 'torch');
    assert.equal(rec.device, 'cpu');
    assert.equal(rec.precision, 'fp32');
    assert.match(String(rec.torch), /^\d+\.\d+/);
    assert.equal(rec.protocol, 1);
    const free = (engine as TorchEngine).memoryFree!;
    assert.ok(free > 0);
    // hidden 100,000 x 2: 2e10 parameters, with gradients and Adam moments 320 GB.
    const huge = sirenSpec(100_000, 2, 10);
    await assert.rejects(
      engine.open(huge, [], { series, scaling: UNIT_SCALING(series.frames), batch: 2, adam: REFERENCE_ADAM }),
      (e: unknown) => e instanceof UserError && /SIREN 100000x2 with 2 frames of \d+ cells on cpu needs about [\d.]+ GiB .* but [\d.]+ GiB is free/.test(e.message),
    );
  });
});

test("an OpenBLAS that torch reaches through libblas.so.3 runs on the engine's threads, not on one per core", { skip: noTorch }, async (t) => {
  const engine = await TorchEngine.start({ python: TEST_PYTHON, device: 'cpu', precision: 'fp32', threads: 1, onStderr: () => undefined });
  await using(engine, async () => {
    const rec = engine.record;
    if (rec.openblas === null) return t.skip('this torch loaded no OpenBLAS (Debian: libopenblas0-pthread)');
    assert.equal(rec.threads, 1);
    assert.equal(rec.openblas_threads, 1, `${String(rec.openblas)}: its threads`);
  });
});
