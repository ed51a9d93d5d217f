import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeMetrics, emptySums, mergeSums, metricsOf, sumsOf } from '../src/inr/metrics.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('a perfect prediction: r2 1, slope 1, mse 0, r2_cod 1', () => {
  const gt = [1, 2, 3, 4, 5];
  const m = computeMetrics(gt, gt);
  assert.deepEqual(m, { n: 5, mse: 0, r2: 1, slope: 1, r2_cod: 1 });
});

test('final_r2 is the squared Pearson correlation, not 1 - SSE/SST', () => {
  const gt = [1, 2, 3, 4];
  // pred = 2 gt + 1: perfectly correlated, but far from gt.
  const pred = gt.map((x) => 2 * x + 1);
  const m = computeMetrics(gt, pred);
  close(m.r2, 1);
  close(m.slope, 2);
  // SSE = sum((x + 1)^2) = 4 + 9 + 16 + 25 = 54; SST = 5; mse = 54 / 4.
  close(m.mse, 13.5);
  close(m.r2_cod, 1 - 54 / 5);
  // An anticorrelated prediction still has r^2 = 1, with slope -1.
  const anti = computeMetrics(gt, gt.map((x) => -x));
  close(anti.r2, 1);
  close(anti.slope, -1);
});

test('hand-computed values on a small noisy vector', () => {
  const gt = [0, 1, 2, 3];
  const pred = [0, 1, 1, 4];
  // means 1.5, 1.5; centred gt -1.5 -0.5 0.5 1.5, centred pred -1.5 -0.5 -0.5 2.5
  // Sxx = 5, Syy = 9, Sxy = 2.25 + 0.25 - 0.25 + 3.75 = 6
  const m = computeMetrics(gt, pred);
  close(m.r2, (6 * 6) / (5 * 9));
  close(m.slope, 6 / 5);
  close(m.mse, (0 + 0 + 1 + 1) / 4);
  close(m.r2_cod, 1 - 2 / 5);
});

test('a constant prediction: r2 is NaN (0/0, as np.corrcoef), slope 0 (as np.polyfit), mse and r2_cod as usual', () => {
  const gt = [1, 2, 3];
  const m = computeMetrics(gt, [2, 2, 2]);
  assert.ok(Number.isNaN(m.r2));
  assert.equal(m.slope, 0);
  close(m.mse, 2 / 3);
  close(m.r2_cod, 1 - 2 / 2);
  // Not a rounding-noise correlation either, for a value whose float64 mean is inexact.
  const noisy = computeMetrics([0.3, 0.7, 0.1, 0.9], [0.1, 0.1, 0.1, 0.1]);
  assert.ok(Number.isNaN(noisy.r2));
  assert.equal(noisy.slope, 0);
});

test('a constant ground truth: r2, slope and r2_cod are NaN', () => {
  const m = computeMetrics([5, 5, 5], [1, 2, 3]);
  assert.ok(Number.isNaN(m.r2));
  assert.ok(Number.isNaN(m.slope));
  assert.ok(Number.isNaN(m.r2_cod));
  close(m.mse, (16 + 9 + 4) / 3);
  // Even a perfect fit of a constant: r2_cod is 0/0.
  assert.ok(Number.isNaN(computeMetrics([5, 5], [5, 5]).r2_cod));
});

test('a NaN anywhere makes every metric NaN; an infinity gives mse inf and NaN for the rest', () => {
  for (const [gt, pred] of [[[1, 2, NaN], [1, 2, 3]], [[1, 2, 3], [NaN, 2, 3]]]) {
    const m = computeMetrics(gt, pred);
    for (const k of ['mse', 'r2', 'slope', 'r2_cod'] as const) assert.ok(Number.isNaN(m[k]), `${k} = ${m[k]}`);
  }
  const inf = computeMetrics([1, 2, 3], [1, 2, Infinity]);
  assert.equal(inf.mse, Infinity);
  assert.ok(Number.isNaN(inf.r2));
  assert.ok(Number.isNaN(inf.slope));
});

test('no values: every metric NaN', () => {
  const m = computeMetrics([], []);
  assert.equal(m.n, 0);
  for (const k of ['mse', 'r2', 'slope', 'r2_cod'] as const) assert.ok(Number.isNaN(m[k]));
});

test('chunked accumulation gives the metrics of the whole vectors', () => {
  const n = 1000;
  const gt = new Float32Array(n), pred = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    gt[i] = Math.sin(i * 0.37) + 100; // a large mean: cancellation would show
    pred[i] = 0.9 * gt[i] + 0.05 * Math.cos(i * 1.3);
  }
  const whole = computeMetrics(gt, pred);
  let sums = emptySums();
  for (const [a, b] of [[0, 1], [1, 300], [300, 301], [301, 1000]]) sums = mergeSums(sums, sumsOf(gt, pred, a, b));
  const parts = metricsOf(sums);
  for (const k of ['mse', 'r2', 'slope', 'r2_cod'] as const) close(parts[k], whole[k], 1e-10);
  // and both agree with a direct float64 two-pass computation
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += gt[i]; my += pred[i]; }
  mx /= n; my /= n;
  let sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) { sxx += (gt[i] - mx) ** 2; syy += (pred[i] - my) ** 2; sxy += (gt[i] - mx) * (pred[i] - my); }
  close(whole.r2, (sxy * sxy) / (sxx * syy), 1e-10);
  close(whole.slope, sxy / sxx, 1e-10);
});
