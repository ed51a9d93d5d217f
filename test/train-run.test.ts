import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type Config } from '../src/config/schema.js';
import { readNpy } from '../src/data/formats/npy.js';
import { parseResultsLog } from '../src/inr/results-log.js';
import { CHECKPOINT_FILE } from '../src/inr/checkpoint.js';
import { partialDir } from '../src/inr/run-folder.js';
import { readRunRecord, resumeRun, startRun, type RunRequest } from '../src/inr/run.js';
import { loadModel } from '../src/inr/safetensors.js';
import { UserError } from '../src/util/errors.js';
import { F32ReferenceEngine, F32ReferenceModel, editedDataset, makeTinyDataset, tinyInr } from './helpers/train.js';
import { StepwiseEngine } from './helpers/stepwise.js';

const root = mkdtempSync(join(tmpdir(), 'inrscape-train-run-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ds = makeTinyDataset(join(root, 'tiny'), 2);
const { frames, cells } = ds.series;

function config(inr = tinyInr({ inr_total_steps: 40 })): Config {
  return { ...defaultConfig(), dataset: { kind: 'path', path: ds.dir }, inr };
}

function request(out: string, over: Partial<RunRequest> = {}): RunRequest {
  return { config: config(), dataset: ds, out: join(root, out), seed: 4, engine: new F32ReferenceEngine(), ...over };
}

const FILES = ['config.yaml', 'frame_mse.npy', 'model.safetensors', 'pred_velocity.npy', 'results.log', 'run.json'];

test('a run writes its folder whole: results.log, model, predictions, run.json naming the ground truth; no staging left', async () => {
  const o = await startRun(request('ok'));
  assert.equal(o.status, 'ok');
  assert.equal(o.exitCode, 0);
  assert.deepEqual(readdirSync(o.out).sort(), FILES);
  assert.equal(existsSync(partialDir(o.out)), false);

  const log = parseResultsLog(readFileSync(join(o.out, 'results.log'), 'utf8'));
  assert.equal(log.status, 'ok');
  assert.equal(log.n_frames, frames);
  assert.equal(log.n_cells, cells);
  assert.equal(log.n_components, 3);
  assert.equal(log.total_steps, 40);
  assert.equal(log.field_name, 'velocity');
  assert.equal(log.final_r2, Number(o.train!.final!.metrics.r2.toFixed(6)));

  const pred = readNpy(readFileSync(join(o.out, 'pred_velocity.npy')), 'pred');
  assert.deepEqual(pred.shape, [frames, cells, 3]);

  // The saved model, loaded back, reproduces the saved predictions exactly.
  const { spec, params } = loadModel(join(o.out, 'model.safetensors'));
  assert.deepEqual(spec, { inputs: 4, hidden: 16, layers: 2, outputs: 3, omega: 10 });
  const model = new F32ReferenceModel(spec, params);
  const inputs = new Float32Array(frames * cells * 4);
  for (let f = 0; f < frames; f++) for (let c = 0; c < cells; c++) {
    const p = f * cells + c;
    inputs.set([Math.fround(f / frames), ...ds.series.pos.subarray(3 * p, 3 * p + 3)], 4 * p);
  }
  const again = new Float32Array(frames * cells * 3);
  model.predict(inputs, frames * cells, again);
  assert.deepEqual(again, pred.data);

  const run = readRunRecord(o.out);
  assert.equal(run.status, 'ok');
  assert.equal(run.seed, 4);
  assert.equal(run.steps_done, 40);
  assert.equal(run.time_limited, false);
  assert.equal(run.metrics!.final_r2, o.train!.final!.metrics.r2);
  assert.deepEqual(run.evaluations.map((e) => e.step), [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
  assert.equal(run.loss_history.every, 1);
  assert.deepEqual(run.loss_history.loss, [...o.train!.losses]);
  assert.deepEqual((run.engine as { name: string }).name, 'reference-f32');
  // The ground truth is the data set's own vel.npy, named with its checksum: no second copy per run.
  assert.deepEqual(run.ground_truth, { file: join(ds.dir, 'vel.npy'), sha256: ds.meta.arrays.vel.sha256 });
});

test('--write-gt writes gt_velocity.npy, a copy of the data set velocities, as the reference does', async () => {
  const o = await startRun(request('with-gt', { writeGt: true }));
  assert.deepEqual(readdirSync(o.out).sort(), [...FILES, 'gt_velocity.npy'].sort());
  const gt = readNpy(readFileSync(join(o.out, 'gt_velocity.npy')), 'gt');
  assert.deepEqual(gt.shape, [frames, cells, 3]);
  assert.deepEqual(gt.data, ds.series.vel);
  assert.equal(readRunRecord(o.out).ground_truth, 'gt_velocity.npy');
});

test('the loss history in run.json is sampled to window means', async () => {
  const { sampleLossHistory } = await import('../src/inr/run.js');
  const h = sampleLossHistory(Float64Array.of(1, 2, 3, 4, 5), 5, 2);
  assert.deepEqual(h, { every: 3, step: [3, 5], loss: [2, 4.5] });
});

test('a run that diverges writes a failed folder (status failed, reason) and exit code 1', async () => {
  const bad = editedDataset(ds, join(root, 'nan-ds'), (vel) => {
    for (let f = 0; f < frames; f++) vel[f * cells * 3] = NaN;
  });
  const o = await startRun(request('nan', { dataset: bad, config: { ...config(), dataset: { kind: 'path', path: bad.dir } } }));
  assert.equal(o.status, 'failed');
  assert.equal(o.exitCode, 1);
  assert.equal(o.reason, 'loss is NaN at step 1');
  assert.deepEqual(readdirSync(o.out).sort(), ['config.yaml', 'results.log', 'run.json']);
  assert.equal(existsSync(partialDir(o.out)), false);
  const text = readFileSync(join(o.out, 'results.log'), 'utf8');
  assert.match(text, /^final_r2: nan$/m);
  assert.match(text, /\nstatus: failed\nreason: loss is NaN at step 1\n$/);
  const run = readRunRecord(o.out);
  assert.equal(run.status, 'failed');
  assert.equal(run.reason, 'loss is NaN at step 1');
  assert.equal(run.metrics, null);
  assert.equal(run.steps_done, 1);
});

test('an engine that throws mid-run gives a failed folder too (out of memory named as such)', async () => {
  let n = 0;
  const throwing = new StepwiseEngine('reference-f32', (spec, params) => {
    const m = new F32ReferenceModel(spec, params);
    m.trainStep = () => {
      if (++n === 3) throw new RangeError('Array buffer allocation failed');
      return { loss: 1, gradNorm: 1 };
    };
    return m;
  });
  const o = await startRun(request('oom', { engine: throwing }));
  assert.equal(o.status, 'failed');
  assert.equal(o.exitCode, 1);
  assert.equal(o.reason, 'out of memory: Array buffer allocation failed');
  assert.equal(parseResultsLog(readFileSync(join(o.out, 'results.log'), 'utf8')).reason, o.reason);
});

test('a time-limited run says so in results.log and run.json', async () => {
  const o = await startRun(request('limited', { config: config(tinyInr({ inr_total_steps: 1_000_000 })), maxMinutes: 0.001 }));
  assert.equal(o.status, 'ok');
  const text = readFileSync(join(o.out, 'results.log'), 'utf8');
  assert.match(text, /^total_steps: 1000000$/m);
  assert.match(text, /\ntime_limited: True\n$/);
  const run = readRunRecord(o.out);
  assert.equal(run.time_limited, true);
  assert.ok(run.steps_done < 1_000_000);
});

test('an interrupted run resumes from its checkpoint and ends with the same files as an uninterrupted one', async () => {
  const whole = await startRun(request('whole', { config: config(tinyInr({ inr_total_steps: 60 })) }));
  const stop = new AbortController();
  const cut = await startRun(request('cut', {
    config: config(tinyInr({ inr_total_steps: 60 })), checkpointEverySteps: 25, signal: stop.signal, onProgress: (p) => p.step > 50 && stop.abort(),
  }));
  assert.equal(cut.status, 'interrupted');
  assert.equal(existsSync(cut.out), false, 'no run folder before the run ends');
  const staging = partialDir(cut.out);
  assert.ok(existsSync(join(staging, CHECKPOINT_FILE)));
  assert.ok(!existsSync(join(staging, 'lock')), 'the lock goes with the process');

  // A new start refuses to clobber the interrupted run.
  await assert.rejects(startRun(request('cut')), (e: unknown) => e instanceof UserError && /--resume/.test(e.message));

  const resumed = await resumeRun({ out: cut.out, engine: new F32ReferenceEngine() });
  assert.equal(resumed.status, 'ok');
  assert.equal(existsSync(staging), false);
  for (const f of ['model.safetensors', 'pred_velocity.npy', 'frame_mse.npy']) {
    assert.ok(readFileSync(join(whole.out, f)).equals(readFileSync(join(resumed.out, f))), `${f} differs`);
  }
  const a = readRunRecord(whole.out), b = readRunRecord(resumed.out);
  assert.deepEqual(b.loss_history, a.loss_history);
  assert.deepEqual(b.resumed_at, [cut.train!.stepsDone], 'resumed where the stop checkpointed');
  assert.deepEqual(b.evaluations.map((e) => e.r2), a.evaluations.map((e) => e.r2));
  await assert.rejects(resumeRun({ out: resumed.out, engine: new F32ReferenceEngine() }), /finished run/);
});

test('user errors come before anything is written: existing folder, batch too large', async () => {
  const o = await startRun(request('exists'));
  await assert.rejects(startRun(request('exists')), /already exists.*--force/);
  const forced = await startRun(request('exists', { force: true, seed: 5 }));
  assert.equal(readRunRecord(forced.out).seed, 5);
  assert.equal(o.out, forced.out);
  await assert.rejects(startRun(request('big', { config: config(tinyInr({ inr_batch_size: frames + 1 })) })), UserError);
  assert.equal(existsSync(join(root, 'big')), false);
  assert.equal(existsSync(partialDir(join(root, 'big'))), false);
  await assert.rejects(resumeRun({ out: join(root, 'nothing-here'), engine: new F32ReferenceEngine() }), /no interrupted run/);
});
