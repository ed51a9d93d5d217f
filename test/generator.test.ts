import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS, checkModelParams, modelDefaults, type ModelParams } from '../src/config/dicty-model.js';
import { loadDataset } from '../src/data/dataset.js';
import { simulateDicty } from '../src/data/generator/dicty.js';
import { generateDataset } from '../src/data/generator/generate.js';
import { nativeAddon } from '../src/native/addon.js';
import { DictyReference } from './reference/dicty.js';
import { Rng } from '../src/util/rng.js';
import { tempDir } from './helpers/tmp.js';

const tiny = (): ModelParams => checkModelParams(PRESETS['dicty-tiny'].params, 'dataset');

test('the same preset and seed give byte-identical dataset folders', (t) => {
  const root = tempDir(t);
  const params = tiny();
  for (const name of ['a', 'b']) generateDataset({ preset: 'dicty-tiny', seed: 7, params, outDir: join(root, name) });
  const files = readdirSync(join(root, 'a')).sort();
  assert.deepEqual(files, ['dataset.json', 'pair_force.npy', 'polarity.npy', 'pos.npy', 'vel.npy']);
  assert.deepEqual(readdirSync(join(root, 'b')).sort(), files);
  for (const f of files) assert.ok(readFileSync(join(root, 'a', f)).equals(readFileSync(join(root, 'b', f))), `${f} differs`);
});

test('another seed gives another data set', () => {
  const params = tiny();
  const a = simulateDicty(params, 1).series.pos;
  const b = simulateDicty(params, 2).series.pos;
  assert.notDeepEqual(a, b);
});

test('the thread count changes nothing in the trajectory', () => {
  const params = { ...modelDefaults(), cells: 300, box: 1.3 };
  const { DictySim } = nativeAddon();
  const states = [1, 2, 3].map((threads) => {
    const sim = new DictySim(params, 5, threads);
    sim.frames(40);
    return sim.state();
  });
  assert.deepEqual(states[1].x, states[0].x);
  assert.deepEqual(states[2].x, states[0].x);
  assert.deepEqual(states[1].p, states[0].p);
});

test('a generated folder has (frames, cells, 3) arrays and says how it was made', (t) => {
  const dir = join(tempDir(t), 'ds');
  const params = tiny();
  generateDataset({ preset: 'dicty-tiny', seed: 3, params, outDir: dir });
  const { meta, series } = loadDataset(dir);
  const n = params.frames * params.cells * 3;
  assert.equal(series.frames, params.frames);
  assert.equal(series.cells, params.cells);
  for (const a of [series.pos, series.vel, series.extras.polarity, series.extras.pair_force]) assert.equal(a.length, n);
  assert.equal(meta.dt, params.dt);
  assert.equal(meta.box, params.box);
  assert.equal(meta.seed, 3);
  assert.equal(meta.generator?.name, 'dicty');
  assert.equal(meta.generator?.params.cells, params.cells);
  assert.equal(meta.generator?.params.preset, 'dicty-tiny');
});

test("velocities follow the reference's rule: wrapped finite differences of unit-box positions over dt", () => {
  const params = tiny();
  const { pos, vel } = simulateDicty(params, 11).series;
  const stride = params.cells * 3;
  for (let f = 0; f < params.frames; f++) {
    const a = Math.min(f, params.frames - 2); // the last frame repeats the one before
    for (let k = 0; k < stride; k++) {
      let d = pos[(a + 1) * stride + k] - pos[a * stride + k];
      d -= Math.round(d);
      assert.equal(vel[f * stride + k], Math.fround(d / params.dt));
    }
  }
});

test('positions stay in the unit box and cells cross its faces', () => {
  const params = { ...tiny(), frames: 400 };
  const { pos } = simulateDicty(params, 4).series;
  assert.ok(pos.every((v) => v >= 0 && v < 1), 'a position left [0, 1)');
  const stride = params.cells * 3;
  let crossings = 0;
  for (let f = 1; f < params.frames; f++)
    for (let k = 0; k < stride; k++) if (Math.abs(pos[f * stride + k] - pos[(f - 1) * stride + k]) > 0.5) crossings++;
  assert.ok(crossings > 0, 'no cell crossed the periodic boundary: the wrap is untested');
});

test('contacts stay soft: no two cells collapse onto each other and no speed blows up', () => {
  const params = { ...modelDefaults(), cells: 400, box: 1.47, frames: 1500 };
  const { pos, vel } = simulateDicty(params, 2).series;
  const { pairsWithin } = nativeAddon();
  const stride = params.cells * 3;
  for (let f = 0; f < params.frames; f += 100) {
    const x = Float64Array.from(pos.subarray(f * stride, (f + 1) * stride), (v) => v * params.box);
    const close = pairsWithin(x, params.cells, params.box, 0.4 * params.r0);
    assert.equal(close.length, 0, `frame ${f}: cells closer than 0.4 r0`);
  }
  let maxSpeed = 0;
  for (let k = 0; k < vel.length; k += 3) maxSpeed = Math.max(maxSpeed, Math.hypot(vel[k], vel[k + 1], vel[k + 2]));
  // Unit-box units: the self-propulsion alone is v0 / box; contacts may add a few times that.
  assert.ok(maxSpeed < (10 * params.v0) / params.box, `max speed ${maxSpeed}`);
});

test('the cell list finds exactly the pairs that brute force finds, across the periodic faces', () => {
  const { pairsWithin } = nativeAddon();
  const rng = new Rng(9);
  for (const [cells, box, cutoff] of [[300, 2, 0.25], [200, 1, 1 / 3], [50, 1.5, 0.3], [500, 2, 0.5]] as const) {
    const x = new Float64Array(cells * 3).map(() => rng.uniform() * box);
    const found = pairsWithin(x, cells, box, cutoff);
    const got = new Set<string>();
    for (let q = 0; q < found.length; q += 2) {
      const key = `${Math.min(found[q], found[q + 1])}-${Math.max(found[q], found[q + 1])}`;
      assert.ok(!got.has(key), `pair ${key} reported twice`);
      got.add(key);
    }
    const want = new Set<string>();
    for (let i = 0; i < cells; i++)
      for (let j = i + 1; j < cells; j++) {
        let r2 = 0;
        for (let k = 0; k < 3; k++) {
          let d = x[3 * j + k] - x[3 * i + k];
          d -= box * Math.round(d / box);
          r2 += d * d;
        }
        if (r2 < cutoff * cutoff) want.add(`${i}-${j}`);
      }
    assert.ok(want.size > 0);
    assert.deepEqual([...got].sort(), [...want].sort(), `cells=${cells} box=${box} cutoff=${cutoff}`);
  }
});

test('the native integrator agrees with a brute-force float64 oracle of the model', () => {
  // Dense enough for contacts, adhesion and the mound swirl all to act.
  const params = { ...modelDefaults(), cells: 120, box: 1.0, mound_radius: 0.4, centres: 2 };
  const sim = new (nativeAddon().DictySim)(params, 21, 1);
  const ref = new DictyReference(params, 21);
  assert.deepEqual(sim.state().x, ref.x, 'initial positions differ: the random streams disagree');
  for (let f = 0; f < 5; f++) {
    sim.frames(1);
    ref.frame();
  }
  const s = sim.state();
  let maxDx = 0;
  for (let k = 0; k < ref.x.length; k++) {
    let d = s.x[k] - ref.x[k];
    d -= params.box * Math.round(d / params.box);
    maxDx = Math.max(maxDx, Math.abs(d));
  }
  // The force law runs in float32 natively: differences of float rounding only.
  assert.ok(maxDx < 1e-7, `positions differ by ${maxDx}`);
  let maxDp = 0;
  for (let k = 0; k < ref.p.length; k++) maxDp = Math.max(maxDp, Math.abs(s.p[k] - ref.p[k]));
  assert.ok(maxDp < 1e-7, `polarities differ by ${maxDp}`);
  // Both hold the force of their last sub-step, taken at (nearly) equal positions.
  let forceScale = 0, maxDf = 0;
  for (let k = 0; k < ref.force.length; k++) {
    forceScale = Math.max(forceScale, Math.abs(ref.force[k]));
    maxDf = Math.max(maxDf, Math.abs(s.force[k] - ref.force[k]));
  }
  assert.ok(forceScale > 1, 'no contact force acted: the comparison would be too weak');
  assert.ok(maxDf < 1e-5 * forceScale, `forces differ by ${maxDf} (scale ${forceScale})`);
});

test('a generation that fails part way leaves no folder behind', (t) => {
  const root = tempDir(t);
  const out = join(root, 'ds');
  const params = tiny();
  assert.throws(() =>
    generateDataset({ preset: 'dicty-tiny', seed: 1, params, outDir: out, onProgress: () => { throw new Error('killed'); } }),
  );
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root), []);
  generateDataset({ preset: 'dicty-tiny', seed: 1, params, outDir: out });
  assert.ok(statSync(join(out, 'dataset.json')).isFile());
});
