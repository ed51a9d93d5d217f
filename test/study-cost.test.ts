import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfig, resolveSearchSpace } from '../src/config/schema.js';
import type { InrConfig } from '../src/config/inr.js';
import { presetWorkload, resolveTrialMinutes } from '../src/study/budget.js';
import { DEFAULT_PRIOR_FLOPS_PER_SECOND, evaluationsRun, fitCostModel, fitToBudget, trialFlops } from '../src/study/cost-model.js';
import { studyCreatedEvent } from '../src/study/create.js';

const full = { cells: 1000, frames: 9997 };
const inr = (over: Partial<InrConfig> = {}): InrConfig => ({ ...defaultConfig().inr, ...over });

test("a trial's work is the reference's FLOPs per point times its points, plus the evaluations", () => {
  // 6 * (4h + n h^2 + 3h) at h = 384, n = 3: 2,670,336 FLOPs per point and step (docs/reference.md, Cost of the default workload).
  const fpp = 6 * (4 * 384 + 3 * 384 * 384 + 3 * 384);
  assert.equal(fpp, 2670336);
  // Nine progress evaluations (every 50,000 steps before the end) and the final one.
  assert.equal(trialFlops(inr(), full), fpp * (500000 * 8 * 1000 + (10 * 9997 * 1000) / 3));
  assert.ok(Math.abs(trialFlops(inr(), full) / 1e15 - 10.7) < 0.1, '10.7 PFLOP, as docs/reference.md says');
});

test('with no finished trial the prior rate predicts', () => {
  const m = fitCostModel([], full);
  assert.equal(m.source, 'prior');
  assert.equal(m.predictMinutes(inr()), trialFlops(inr(), full) / (DEFAULT_PRIOR_FLOPS_PER_SECOND * 60));
  const fast = fitCostModel([], full, { priorFlopsPerSecond: 6.7e13 });
  assert.ok(Math.abs(fast.predictMinutes(inr()) - 2.66) < 0.05, 'an H100 at peak: 2.7 min');
});

test('the fit recovers a constant rate from a few trials (ratio in log space)', () => {
  const rate = 3e9 * 60; // FLOPs per minute
  const configs = [inr(), inr({ hidden_dim_inr: 512 }), inr({ inr_batch_size: 2, inr_total_steps: 100000 })];
  const samples = configs.map((c) => ({ inr: c, minutes: trialFlops(c, full) / rate }));
  const m = fitCostModel(samples, full);
  assert.equal(m.source, 'fit');
  assert.equal(m.samples, 3);
  assert.ok(Math.abs(m.flopsPerMinute / rate - 1) < 1e-9);
  const next = inr({ n_layers_inr: 5, inr_total_steps: 50000 });
  assert.ok(Math.abs(m.predictMinutes(next) / (trialFlops(next, full) / rate) - 1) < 1e-9);
});

test('with four or more trials an overhead term is fitted too', () => {
  const rate = 2e11;
  const overhead = 0.75;
  const configs = [inr(), inr({ hidden_dim_inr: 256 }), inr({ inr_total_steps: 200000 }), inr({ inr_batch_size: 16 }), inr({ n_layers_inr: 2 })];
  const m = fitCostModel(configs.map((c) => ({ inr: c, minutes: overhead + trialFlops(c, full) / rate })), full);
  assert.ok(Math.abs(m.overheadMinutes - overhead) < 1e-6);
  assert.ok(Math.abs(m.flopsPerMinute / rate - 1) < 1e-6);
});

test('a time-limited trial counts with the steps it did, or not at all', () => {
  const rate = 1e12;
  const limited = inr({ inr_total_steps: 2000000 });
  // Stopped at 400,000 of 2M steps: evaluations at 200,000 and 400,000, then the final one.
  const minutes = trialFlops(limited, full, 400000, 3) / rate;
  const withSteps = fitCostModel([{ inr: limited, minutes, time_limited: true, steps_done: 400000 }], full);
  assert.ok(Math.abs(withSteps.flopsPerMinute / rate - 1) < 1e-9);
  const without = fitCostModel([{ inr: limited, minutes, time_limited: true }], full);
  assert.equal(without.source, 'prior');
});

test("the evaluations a trial ran follow the trainer's schedule: every floor(steps/10) before the end, then the final one", () => {
  assert.equal(evaluationsRun(1000, 1000, true), 10);
  assert.equal(evaluationsRun(305, 305, true), 11, '30-step spacing: 30, 60, ..., 300, then the final one');
  assert.equal(evaluationsRun(5, 5, true), 5, 'fewer than 10 steps: one after every step before the end');
  assert.equal(evaluationsRun(600, 470, true), 8, 'stopped by the budget at 470: seven, then the final one');
  assert.equal(evaluationsRun(300, 30, false), 1, 'paused by the pruner at its first evaluation');
});

test('a trial the pruner stopped counts only the evaluations it ran, so it does not look faster than it was', () => {
  // dicty-small: 250 cells x 200 frames, where an evaluation costs as much as 8 steps of batch 8.
  const small = { cells: 250, frames: 200 };
  const rate = 5e11;
  const base = inr({ hidden_dim_inr: 128, inr_total_steps: 300 });
  const finished = { inr: base, minutes: trialFlops(base, small) / rate };
  const paused = { inr: base, minutes: trialFlops(base, small, 30, 1) / rate, time_limited: true, steps_done: 30, pruned: true };
  const m = fitCostModel([finished, paused], small);
  assert.ok(Math.abs(m.flopsPerMinute / rate - 1) < 1e-9);
  const twice = inr({ hidden_dim_inr: 128, inr_total_steps: 600 });
  assert.ok(Math.abs(m.predictMinutes(twice) / (trialFlops(twice, small) / rate) - 1) < 1e-9);
});

test('fitToBudget scales steps down to fit the budget and says so in the mutation', () => {
  const space = resolveSearchSpace(defaultConfig());
  const m = fitCostModel([{ inr: inr(), minutes: 120 }], full); // the default config takes 120 min here
  const fit = fitToBudget(inr(), 'omega_inr 10 -> 15 (+5)', m, 60, space);
  assert.equal(fit.scaled, true);
  // 0.9 * 60 = 54 min. The evaluations' fixed share is 1.0 of the 120 min (33.3M of 4.03G points), so
  // steps = 500000 * (54 - 1.0) / (120 - 1.0) = 222,7xx, floored to 3 significant digits.
  assert.equal(fit.inr.inr_total_steps, 222000);
  assert.ok(fit.predictedMinutes <= 54);
  assert.match(fit.mutation, /^omega_inr 10 -> 15 \(\+5\); steps scaled 500000 -> 222000 to fit the 60-min budget \(predicted 120\.0 -> 5\d\.\d min\)$/);

  const within = fitToBudget(inr({ inr_total_steps: 200000 }), 'x', m, 60, space);
  assert.equal(within.scaled, false);
  assert.equal(within.mutation, 'x');

  const hopeless = fitToBudget(inr(), 'x', m, 1, space);
  assert.equal(hopeless.inr.inr_total_steps, 50000, 'never below the search space minimum');
  assert.match(hopeless.mutation, /still predicted over budget/);
});

test('the budget: an explicit number wins; auto gives CPU presets a short budget', () => {
  const preset = (name: string) => parseConfig({ dataset: { preset: name } }).config.dataset;
  assert.equal(resolveTrialMinutes(45, preset('dicty-small')).minutes, 45);
  assert.equal(resolveTrialMinutes('auto', preset('dicty')).minutes, 60);
  assert.equal(resolveTrialMinutes('auto', preset('dicty-small')).minutes, 5);
  assert.equal(resolveTrialMinutes(undefined, preset('dicty-tiny')).minutes, 1);
  assert.equal(resolveTrialMinutes('auto', parseConfig({ dataset: 'dicty_3d' }).config.dataset).minutes, 60);
  assert.match(resolveTrialMinutes('auto', preset('dicty-small')).note, /CPU preset dicty-small/);
  assert.deepEqual(presetWorkload(preset('dicty-small')), { cells: 250, frames: 200 });

  const ev = studyCreatedEvent(parseConfig({ dataset: { preset: 'dicty-small' } }).config, { maxTrialMinutes: 'auto' });
  assert.equal(ev.settings.max_trial_minutes, 5);
  assert.equal((ev.config.study as { max_trial_minutes: number }).max_trial_minutes, 5, 'the snapshot config says what ran');
  assert.deepEqual(ev.workload, { cells: 250, frames: 200 });
});
