import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfig, resolveSearchSpace } from '../src/config/schema.js';
import type { InrConfig } from '../src/config/inr.js';
import { presetWorkload, resolveTrialMinutes } from '../src/study/budget.js';
import { DEFAULT_PRIOR_FLOPS_PER_SECOND, fitCostModel, fitToBudget, trialFlops } from '../src/study/cost-model.js';
import { studyCreatedEvent } from '../src/study/create.js';

const full = { cells: 1000, frames: 9997 };
const inr = (over: Partial<InrConfig> = {}): InrConfig => ({ ...defaultConfig().inr, ...over });

test("a trial's work is the reference's FLOPs per point times its points, plus the evaluations", () => {
  // 6 * (4h + n h^2 + 3h) at h = 384, n = 3: 2,670,336 FLOPs per point and step (docs/reference.md, Cost of the default workload).
  const fpp = 6 * (4 * 384 + 3 * 384 * 384 + 3 * 384);
  assert.equal(fpp, 2670336);
  assert.equal(trialFlops(inr(), full), fpp * (500000 * 8 * 1000 + (11 * 9997 * 1000) / 3));
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
  const done = inr();
  const limited = inr({ inr_total_steps: 2000000 });
  const minutes = trialFlops(done, full, 400000) / rate;
  const withSteps = fitCostModel([{ inr: limited, minutes, time_limited: true, steps_done: 400000 }], full);
  assert.ok(Math.abs(withSteps.flopsPerMinute / rate - 1) < 1e-9);
  const without = fitCostModel([{ inr: limited, minutes, time_limited: true }], full);
  assert.equal(without.source, 'prior');
});

test('fitToBudget scales steps down to fit the budget and says so in the mutation', () => {
  const space = resolveSearchSpace(defaultConfig());
  const m = fitCostModel([{ inr: inr(), minutes: 120 }], full); // the default config takes 120 min here
  const fit = fitToBudget(inr(), 'omega_inr 10 -> 15 (+5)', m, 60, space);
  assert.equal(fit.scaled, true);
  // 0.9 * 60 = 54 min. The evaluations' fixed share is 1.1 of the 120 min (36.7M of 4.04G points), so
  // steps = 500000 * (54 - 1.1) / (120 - 1.1) = 222,4xx, floored to 3 significant digits.
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
