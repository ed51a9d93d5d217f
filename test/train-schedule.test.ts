import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineLr } from '../src/inr/schedule.js';

test('the schedule is torch CosineAnnealingLR(T_max = total, eta_min = 0.01 lr) in closed form', () => {
  const lr = 1e-4, T = 10, etaMin = lr * 0.01; // the reference: eta_min = lr * 0.01
  for (let k = 0; k < T; k++) {
    assert.equal(cosineLr(lr, T, k), etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * k) / T))) / 2);
  }
  assert.equal(cosineLr(lr, T, 0), lr); // the first step trains at the full rate
  assert.ok(Math.abs(cosineLr(lr, T, T / 2) - (lr + etaMin) / 2) < 1e-20); // halfway: the mean
  assert.ok(cosineLr(lr, T, T - 1) > etaMin); // the last step is still a little above eta_min
  assert.ok(Math.abs(cosineLr(lr, T, T) - etaMin) < 1e-20); // where the schedule would end
});

test("the closed form agrees with torch's chained update (CosineAnnealingLR.get_lr) to rounding", () => {
  // torch >= 1.x: lr_k = eta + (1 + cos(pi k/T)) / (1 + cos(pi (k-1)/T)) * (lr_{k-1} - eta), for k < T.
  const base = 3e-4, T = 1000, eta = 0.01 * base;
  let chained = base;
  for (let k = 1; k < T; k++) {
    chained = eta + ((1 + Math.cos((Math.PI * k) / T)) / (1 + Math.cos((Math.PI * (k - 1)) / T))) * (chained - eta);
    const closed = cosineLr(base, T, k);
    assert.ok(Math.abs(chained - closed) <= 1e-12 * base, `step ${k}: ${chained} vs ${closed}`);
  }
});

test('the rate falls monotonically from lr toward 0.01 lr', () => {
  let prev = Infinity;
  for (let k = 0; k < 100; k++) {
    const v = cosineLr(1, 100, k);
    assert.ok(v < prev && v > 0.01);
    prev = v;
  }
});
