import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameSampler, assembleInputs } from '../src/inr/batches.js';
import type { CellSeries } from '../src/data/series.js';
import { Rng } from '../src/util/rng.js';

test('a step draws distinct frames', () => {
  const sampler = new FrameSampler(20, 8);
  const rng = new Rng(1);
  const out = new Int32Array(8);
  for (let s = 0; s < 500; s++) {
    sampler.sample(rng, out);
    assert.equal(new Set(out).size, 8);
    for (const f of out) assert.ok(f >= 0 && f < 20);
  }
});

test('a batch of all frames is a permutation; every frame is reachable and drawn about equally often', () => {
  const all = new FrameSampler(5, 5);
  const out5 = new Int32Array(5);
  all.sample(new Rng(3), out5);
  assert.deepEqual([...out5].sort(), [0, 1, 2, 3, 4]);

  const T = 10, k = 3, steps = 6000;
  const sampler = new FrameSampler(T, k);
  const rng = new Rng(7);
  const out = new Int32Array(k);
  const counts = new Array<number>(T).fill(0);
  const firstSlot = new Array<number>(T).fill(0);
  for (let s = 0; s < steps; s++) {
    sampler.sample(rng, out);
    for (const f of out) counts[f]++;
    firstSlot[out[0]]++;
  }
  const expected = (steps * k) / T; // 1800, sd ~ 35
  for (const c of counts) assert.ok(Math.abs(c - expected) < 200, `count ${c} vs ${expected}`);
  for (const c of firstSlot) assert.ok(Math.abs(c - steps / T) < 120, `first-slot count ${c}`);
});

test('the draw is a function of the seed: same seed same frames, Rng state saved and restored continues the sequence', () => {
  const draw = (rng: Rng, n: number): number[] => {
    const s = new FrameSampler(40, 4);
    const out = new Int32Array(4);
    const all: number[] = [];
    for (let i = 0; i < n; i++) {
      s.sample(rng, out);
      all.push(...out);
    }
    return all;
  };
  assert.deepEqual(draw(new Rng(5), 50), draw(new Rng(5), 50));
  assert.notDeepEqual(draw(new Rng(5), 50), draw(new Rng(6), 50));
  // A fresh sampler (a resumed process) with the restored Rng continues exactly.
  const rng = new Rng(9);
  const first = draw(rng, 20);
  const saved = rng.save();
  const rest = draw(rng, 20);
  assert.deepEqual([...first, ...draw(Rng.restore(saved), 20)], [...first, ...rest]);
});

test('the sampler refuses a batch larger than the data set', () => {
  assert.throws(() => new FrameSampler(3, 4), /4 distinct frames out of 3/);
});

test('inputs are (t = frame / n_frames / t_period, xyz / xy_period) and targets the velocities, frame by frame in draw order', () => {
  // 3 frames x 2 cells: pos = frame*10 + cell + component/10 (divided by 100), vel = -pos
  const frames = 3, cells = 2;
  const pos = new Float32Array(frames * cells * 3);
  for (let f = 0; f < frames; f++) for (let c = 0; c < cells; c++) for (let d = 0; d < 3; d++) {
    pos[(f * cells + c) * 3 + d] = (f * 10 + c + d / 10) / 100;
  }
  const vel = pos.map((x) => -x);
  const series: CellSeries = { frames, cells, pos, vel, extras: {} };
  const inputs = new Float32Array(2 * cells * 4).fill(-1);
  const targets = new Float32Array(2 * cells * 3).fill(-1);
  const scaling = { frames, tPeriod: 2, xyPeriod: 0.5 };
  const points = assembleInputs(series, [2, 0], 2, scaling, inputs, targets);
  assert.equal(points, 4);
  const f32 = Math.fround;
  const want: number[] = [];
  const wantT: number[] = [];
  for (const f of [2, 0]) for (let c = 0; c < cells; c++) {
    want.push(f32(f32(f / frames) / f32(2)));
    for (let d = 0; d < 3; d++) want.push(f32(pos[(f * cells + c) * 3 + d] / f32(0.5)));
    for (let d = 0; d < 3; d++) wantT.push(vel[(f * cells + c) * 3 + d]);
  }
  assert.deepEqual([...inputs], want);
  assert.deepEqual([...targets], wantT);
  // With periods 1 the inputs are t = frame / n_frames and the positions themselves.
  assembleInputs(series, [1], 1, { frames, tPeriod: 1, xyPeriod: 1 }, inputs);
  assert.deepEqual([...inputs.subarray(0, 8)], [f32(1 / 3), pos[6], pos[7], pos[8], f32(1 / 3), pos[9], pos[10], pos[11]]);
});
