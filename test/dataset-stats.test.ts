import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanNeighbourCount } from '../src/data/neighbours.js';
import type { CellSeries } from '../src/data/series.js';
import { percentile, sampleFrames, seriesStats } from '../src/data/stats.js';

/** A small deterministic generator (mulberry32) for test positions. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The definition: for each cell, the other cells at minimum-image distance < r, averaged. */
function bruteForce(pos: Float32Array, cells: number, offset: number, r: number): number {
  let total = 0;
  for (let i = 0; i < cells; i++) {
    for (let j = 0; j < cells; j++) {
      if (i === j) continue;
      let s = 0;
      for (let k = 0; k < 3; k++) {
        let d = pos[offset + i * 3 + k] - pos[offset + j * 3 + k];
        d -= Math.round(d);
        s += d * d;
      }
      if (s < r * r) total++;
    }
  }
  return total / cells;
}

test('two cells across the periodic boundary are neighbours', () => {
  const pos = Float32Array.of(0.02, 0.5, 0.5, 0.98, 0.5, 0.5, 0.5, 0.1, 0.9);
  assert.equal(meanNeighbourCount(pos, 3, 0, 0.05), 2 / 3);
  assert.equal(meanNeighbourCount(pos, 3, 0, 0.03), 0);
});

test('the cell-list neighbour count equals brute force, for every radius and in every frame', () => {
  const next = rng(42);
  const frames = 3;
  const cells = 300;
  const pos = Float32Array.from({ length: frames * cells * 3 }, () => next());
  // Cells on bin edges, at 0 and just below 1, and outside [0, 1) (wrapped).
  pos.set([0, 0, 0, 0.999999, 0.5, 0.25, 0.2, 0.4, 0.6, 1.2, -0.3, 0.5, -1e-9, 0.5, 0.5], 0);
  for (const r of [0.03, 0.05, 0.1, 0.2, 0.25, 0.34, 0.45, 0.5]) {
    for (let f = 0; f < frames; f++) {
      const off = f * cells * 3;
      const want = bruteForce(pos, cells, off, r);
      assert.ok(Math.abs(meanNeighbourCount(pos, cells, off, r) - want) < 1e-12, `r=${r} frame ${f}`);
    }
  }
  assert.throws(() => meanNeighbourCount(pos, cells, 0, 0.6), RangeError);
  assert.throws(() => meanNeighbourCount(pos, cells, 0, 0), RangeError);
});

test('cells with a non-finite coordinate neither count nor are counted', () => {
  const pos = Float32Array.of(0.5, 0.5, 0.5, 0.51, 0.5, 0.5, NaN, 0.5, 0.5);
  assert.equal(meanNeighbourCount(pos, 3, 0, 0.1), 1);
});

/** 2 frames x 2 cells with hand-checked statistics. */
function handMade(): CellSeries {
  return {
    frames: 2,
    cells: 2,
    pos: Float32Array.of(0.1, 0.1, 0.1, 0.15, 0.1, 0.1, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9),
    vel: Float32Array.of(1, 0, 0, 0, 2, 0, 0, 0, 3, -1, 0, 0),
    extras: {},
  };
}

test('velocity mean and std per component, speed percentiles as numpy.percentile computes them', () => {
  const s = seriesStats(handMade());
  assert.deepEqual(s.velocity.mean, [0, 0.5, 0.75]);
  assert.deepEqual(s.velocity.std, [Math.sqrt(0.5), Math.sqrt(0.75), Math.sqrt(1.6875)]);
  // speeds 1, 2, 3, 1 -> sorted 1, 1, 2, 3; linear interpolation at (n - 1) p / 100
  assert.deepEqual(s.speed.percentiles.map((x) => x.p), [5, 25, 50, 75, 95, 99]);
  const want = [1, 1, 1.5, 2.25, 2.85, 2.97];
  s.speed.percentiles.forEach((x, i) => assert.ok(Math.abs(x.value - want[i]) < 1e-12, `p${x.p}: ${x.value} != ${want[i]}`));
  assert.equal(s.speed.mean, 7 / 4);
  assert.equal(s.speed.max, 3);
  assert.deepEqual(s.nonFinite, { pos: { nan: 0, inf: 0, first: null }, vel: { nan: 0, inf: 0, first: null } });
  assert.equal(s.outsideUnitBox, 0);
  assert.equal(s.neighbours, null);
});

test('neighbour counts over sample frames: cells 0.05 apart in frame 0, far apart in frame 1', () => {
  const s = seriesStats(handMade(), { radius: 0.1 });
  assert.deepEqual(s.neighbours, { radius: 0.1, frames: [0, 1], perFrame: [1, 0], mean: 0.5 });
});

test('NaN and infinite values are counted with the first index; positions outside [0, 1) are counted', () => {
  const h = handMade();
  h.vel[7] = NaN; // frame 1, cell 0, component 1
  h.vel[11] = -Infinity;
  h.pos[3] = 1.0; // frame 0, cell 1, x: outside [0, 1)
  h.pos[10] = -0.01;
  h.pos[11] = 1.5; // the same position: counted once
  h.pos[8] = Infinity; // frame 1, cell 0: non-finite, not counted as outside
  const s = seriesStats(h);
  assert.deepEqual(s.nonFinite.vel, { nan: 1, inf: 1, first: { frame: 1, cell: 0, component: 1 } });
  assert.deepEqual(s.nonFinite.pos, { nan: 0, inf: 1, first: { frame: 1, cell: 0, component: 2 } });
  assert.equal(s.outsideUnitBox, 2);
  // Statistics skip non-finite values: component means over the finite values of each
  // component, speeds over the finite triples only (1 and 2).
  assert.deepEqual(s.velocity.mean, [0, 2 / 3, 1]);
  assert.equal(s.speed.mean, 1.5);
});

test('percentile and frame sampling helpers', () => {
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 50)));
  assert.equal(percentile(Float64Array.of(4), 99), 4);
  assert.deepEqual(sampleFrames(5, 20), [0, 1, 2, 3, 4]);
  assert.deepEqual(sampleFrames(9997, 5), [0, 2499, 4998, 7497, 9996]);
  assert.equal(sampleFrames(9997, 20).length, 20);
  assert.deepEqual(sampleFrames(100, 1), [0]);
});
