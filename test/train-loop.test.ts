import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint } from '../src/inr/checkpoint.js';
import { initParameters } from '../src/inr/spec.js';
import { specOf, train, type TrainState } from '../src/inr/train.js';
import { ReferenceEngine, ReferenceModel } from './reference/siren.js';
import { F32ReferenceEngine, editedDataset, makeTinyDataset, tinyInr } from './helpers/train.js';

// dicty-tiny (40 frames of a few dozen cells) and networks of width 16: each run takes about a second at most.
const root = mkdtempSync(join(tmpdir(), 'inrscape-train-loop-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ds = makeTinyDataset(join(root, 'tiny'), 1);
const series = ds.series;

test('training on dicty-tiny lowers the loss and raises R² well above 0', async () => {
  const inr = tinyInr();
  const seen: number[] = [];
  const res = await train(inr, series, new ReferenceEngine(), 0, { onProgress: (p) => p.evaluation && seen.push(p.evaluation.step) });
  assert.equal(res.status, 'ok');
  assert.equal(res.stepsDone, 100);
  assert.equal(res.losses.length, 100);
  const mean = (a: Float64Array): number => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(res.losses.subarray(0, 10)), last = mean(res.losses.subarray(90));
  assert.ok(last < first / 3, `loss ${first} -> ${last}`);
  const m = res.final!.metrics;
  assert.ok(m.r2 > 0.6, `final R² ${m.r2}`);
  assert.ok(m.r2_cod > 0.5 && m.slope > 0.5 && m.mse < first);
  assert.equal(m.n, series.frames * series.cells * 3);
  // An evaluation on all frames every total_steps/10 steps, then the final one.
  const every10 = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  assert.deepEqual(res.evaluations.map((e) => e.step), every10);
  assert.deepEqual(seen, every10);
  assert.ok(res.evaluations[9].r2 > res.evaluations[0].r2);
  assert.equal(res.evaluations[9].r2, m.r2);
  // Per-frame MSE averages to the MSE.
  assert.ok(Math.abs(res.final!.frameMse.reduce((s, x) => s + x, 0) / series.frames - m.mse) < 1e-12);
  assert.ok(res.trainingTimeS > 0 && res.evalTimeS > 0 && res.evalTimeS < res.trainingTimeS);
});

test('the same seed gives the same loss curve and weights bit for bit; another seed does not', async () => {
  const inr = tinyInr({ inr_total_steps: 40 });
  const opts = { evalEvery: Infinity }; // evaluations only read the model; skipping them keeps this test quick
  const a = await train(inr, series, new ReferenceEngine(), 7, opts);
  const b = await train(inr, series, new ReferenceEngine(), 7, opts);
  const c = await train(inr, series, new ReferenceEngine(), 8, opts);
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(a.params, b.params);
  assert.deepEqual(a.final!.pred, b.final!.pred);
  assert.notDeepEqual(a.losses, c.losses);
});

test('a run stopped from outside checkpoints where it stopped; resumed from that or an earlier checkpoint, it continues bit for bit', async (t) => {
  const inr = tinyInr({ inr_total_steps: 70 });
  const engine = new F32ReferenceEngine();
  const whole = await train(inr, series, engine, 3);

  // Checkpoints every 20 steps, evaluations every 7; the stop comes at the first report after step 60 (63).
  const dir = join(root, 'ckpt-resume');
  const spec = specOf(inr);
  const identity = { seed: 3, engine: engine.name, threads: 1, totalSteps: 70 };
  const states: TrainState[] = [];
  const stop = new AbortController();
  const cut = await train(inr, series, engine, 3, {
    checkpointEverySteps: 20,
    onCheckpoint: (state) => {
      states.push(state);
      writeCheckpoint(dir, { spec, identity, state });
    },
    onProgress: (p) => p.step > 60 && stop.abort(),
    signal: stop.signal,
  });
  assert.equal(cut.status, 'interrupted');
  assert.equal(cut.stepsDone, 63, 'chunks end at evaluations and checkpoints, so the stop comes at the next of those');
  assert.deepEqual(states.map((s) => s.step), [20, 40, 60, cut.stepsDone]);
  const ck = readCheckpoint(dir)!;
  assert.equal(ck.state.step, cut.stepsDone);
  assert.deepEqual(ck.identity, identity);

  for (const from of [ck.state, states[2]]) {
    const resumed = await train(inr, series, engine, 3, { resume: from });
    assert.equal(resumed.status, 'ok');
    assert.deepEqual(resumed.losses, whole.losses);
    assert.deepEqual(resumed.params, whole.params);
    assert.deepEqual(resumed.final!.pred, whole.final!.pred);
    assert.deepEqual(resumed.evaluations.map((e) => [e.step, e.r2, e.mse]), whole.evaluations.map((e) => [e.step, e.r2, e.mse]));
    assert.deepEqual(resumed.resumedAt, [from.step]);
  }
  t.diagnostic(`stopped at ${cut.stepsDone} of 70, resumed from there and from 60`);
});

test('a checkpoint written and read back holds the same state and gives the same predictions', async () => {
  const inr = tinyInr({ inr_total_steps: 30 });
  let state: TrainState | undefined;
  await train(inr, series, new F32ReferenceEngine(), 1, { checkpointEverySteps: 20, onCheckpoint: (s) => void (state = s) });
  assert.ok(state);
  const dir = join(root, 'ckpt-roundtrip');
  const spec = specOf(inr);
  writeCheckpoint(dir, { spec, identity: { seed: 1, engine: 'x', threads: 1, totalSteps: 30 }, state });
  const back = readCheckpoint(dir)!;
  assert.deepEqual(back.spec, spec);
  assert.deepEqual(back.state.params, state.params);
  assert.deepEqual(back.state.optimizer, state.optimizer);
  assert.deepEqual(back.state.rng, state.rng);
  assert.deepEqual(back.state.losses, state.losses);
  assert.deepEqual(back.state.evaluations, state.evaluations);
  assert.equal(back.state.elapsedS, state.elapsedS);
  const points = 64;
  const inputs = new Float32Array(points * 4).map((_, i) => (i % 17) / 17);
  const predict = (params: Float32Array[]): Float32Array => {
    const out = new Float32Array(points * 3);
    new ReferenceModel(spec, params).predict(inputs, points, out);
    return out;
  };
  assert.deepEqual(predict(back.state.params), predict(state.params));
  assert.notDeepEqual(predict(back.state.params), predict(initParameters(spec, 1)));
});

test('--max-minutes: training stops at the budget, then evaluates, and says time_limited', async () => {
  const inr = tinyInr({ inr_total_steps: 1_000_000 });
  const res = await train(inr, series, new ReferenceEngine(), 0, { maxMinutes: 0.001 });
  assert.equal(res.status, 'ok');
  assert.equal(res.timeLimited, true);
  assert.ok(res.stepsDone > 0 && res.stepsDone < 1_000_000, `${res.stepsDone} steps`);
  assert.equal(res.losses.length, res.stepsDone);
  assert.ok(Number.isFinite(res.final!.metrics.mse));
  assert.ok(res.trainingTimeS >= 0.06);
});

test('a NaN in the data stops the run at once: failed, "loss is NaN at step 1"', async () => {
  // One NaN velocity in every frame, so the first batch already meets one.
  const bad = editedDataset(ds, join(root, 'nan'), (vel) => {
    for (let f = 0; f < series.frames; f++) vel[f * series.cells * 3 + 4] = NaN;
  });
  const res = await train(tinyInr(), bad.series, new ReferenceEngine(), 0);
  assert.equal(res.status, 'failed');
  assert.equal(res.reason, 'loss is NaN at step 1');
  assert.equal(res.stepsDone, 1);
  assert.equal(res.final, undefined);
});

test('a huge learning rate diverges to a non-finite loss and fails', async () => {
  const res = await train(tinyInr({ inr_learning_rate: 1e38 }), series, new F32ReferenceEngine(), 0);
  assert.equal(res.status, 'failed');
  assert.match(res.reason!, /^(loss|gradient norm) is (NaN|inf) at step \d+$/);
  assert.ok(res.stepsDone < 100);
});

test('a batch larger than the data set is a user error', async () => {
  const b = series.frames + 1;
  await assert.rejects(train(tinyInr({ inr_batch_size: b }), series, new ReferenceEngine(), 0), new RegExp(`inr_batch_size = ${b}: must be <= the data set's number of frames \\(${series.frames}\\)`));
});
