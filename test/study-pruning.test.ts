import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import type { EvaluationRecord } from '../src/exec/trial-files.js';
import { createAgent } from '../src/study/agents/index.js';
import { costSamples } from '../src/study/advance.js';
import { StudyBuilder } from '../src/study/builder.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { exportCsv } from '../src/study/export.js';
import { DEFAULT_PRUNING, type PruningSettings } from '../src/config/study.js';
import { AshaPruner, MedianPruner } from '../src/study/pruners.js';
import { renderFiles } from '../src/study/render/index.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { bestNode, scoreValue } from '../src/study/tree.js';
import { runCli } from './helpers/cli.js';
import { journalEvents, writeTinyStudyConfig } from './helpers/study.js';
import { tempDir } from './helpers/tmp.js';

const evaluation = (step: number, r2: number): EvaluationRecord => ({ step, r2, mse: 1 - r2, slope: 1, time_s: step / 100 });

/** A block of trials of 1000 steps (one batch per trial), each with the R² curve given, evaluated every 100 steps. */
function blockWith(curves: number[][]): StudyBuilder {
  const b = new StudyBuilder({ slots: curves.length, block: 24, iterations: 48 });
  const ids = b.batch(curves.map(() => ({ inr: { inr_total_steps: 1000 } })));
  curves.forEach((curve, i) => {
    b.start(ids[i]);
    curve.forEach((r2, k) => b.push({ type: 'trial_evaluation', node: ids[i], attempt: 1, ...evaluation((k + 1) * 100, r2) }));
  });
  return b;
}

const medianPruner = (s: Partial<PruningSettings>): MedianPruner => new MedianPruner({ ...DEFAULT_PRUNING, ...s });

test('median: a trial below the median of the others at the same fraction of its steps is pruned, with the numbers in the reason', () => {
  const b = blockWith([[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8], [0.3, 0.4, 0.5], [0.1, 0.2, 0.3]]);
  const pruner = medianPruner({ startup_trials: 4, warmup_fraction: 0.2 });
  const last = b.state.nodes[4];
  // At 30%: the others are 0.7, 0.6, 0.8, 0.5: median 0.65.
  assert.equal(pruner.verdict(b.state, last, evaluation(300, 0.3))?.reason, 'R2 0.300000 at step 300 (30% of its steps) is below the median 0.650000 of 4 other trials of block 0 there');
  assert.equal(pruner.verdict(b.state, b.state.nodes[2], evaluation(300, 0.8))?.reason, undefined, 'above the median of its others goes on');
  assert.equal(pruner.verdict(b.state, last, evaluation(300, 0.65))?.reason, undefined, 'at the median goes on (Optuna prunes only below it)');
  assert.match(pruner.verdict(b.state, last, evaluation(300, Number.NaN))?.reason ?? '', /^R2 nan at step 300/, 'a diverged fit is below any median');
});

test('median: nothing is pruned in the warm-up, with too few others at that fraction, or at the last evaluation', () => {
  const b = blockWith([[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8], [0.3, 0.4, 0.5], [0.1, 0.2, 0.3]]);
  const last = b.state.nodes[4];
  assert.equal(medianPruner({ startup_trials: 4, warmup_fraction: 0.35 }).verdict(b.state, last, evaluation(300, 0.1))?.reason, undefined, 'warm-up');
  assert.equal(medianPruner({ startup_trials: 5, warmup_fraction: 0 }).verdict(b.state, last, evaluation(300, 0.1))?.reason, undefined, 'four others, five wanted');
  assert.equal(medianPruner({ startup_trials: 4, warmup_fraction: 0 }).verdict(b.state, last, evaluation(400, 0.1))?.reason, undefined, 'no other reached 40%');
  assert.equal(medianPruner({ startup_trials: 1, warmup_fraction: 0 }).verdict(b.state, last, evaluation(1000, 0.1))?.reason, undefined, 'the final evaluation');
  // A trial of 2005 steps is compared at its own 30% (step 3 x 200) with the others' 30%.
  const long = { ...last, inr: { ...last.inr, inr_total_steps: 2005 } };
  assert.match(medianPruner({ startup_trials: 4, warmup_fraction: 0 }).verdict(b.state, long, evaluation(600, 0.3))?.reason ?? '', /at step 600 \(30% of its steps\) is below the median 0\.650000 of 4/);
});

/** An objective whose trials learn at a rate set by omega: the far-off omegas are hopeless early. */
const curves: Objective = (inr) => {
  const rate = Math.exp(-((Math.log(inr.omega_inr / 10)) ** 2));
  const at = (f: number): number => 0.999 * rate * (1 - Math.exp(-5 * f));
  const evaluations = Array.from({ length: 10 }, (_, k) => evaluation((k + 1) * Math.floor(inr.inr_total_steps / 10), at((k + 1) / 10)));
  return { metrics: { final_r2: at(1), final_mse: 1 - at(1), slope: 1, training_time_min: 1 }, evaluations };
};

test('a simulated study with the median pruner: pruned trials are finished with the R2 they had, marked in every file, and never the best', async () => {
  const config = parseConfig('study: {pruner: median, pruning: {startup_trials: 2, warmup_fraction: 0.2}}').config;
  const created = studyCreatedEvent(config, { agent: 'random', iterations: 16, slots: 4, block: 16, seed: 3, maxTrialMinutes: 60 });
  const { state, entries } = await simulateStudy(created, { agent: createAgent('random') }, curves);
  const pruned = state.nodes.filter((n) => n.pruned !== undefined);
  assert.ok(pruned.length >= 3, `${pruned.length} pruned`);
  for (const n of pruned) {
    const event = entries.find((e) => e.event.type === 'trial_pruned' && e.event.node === n.id)!.event as { by: string; metrics: { final_r2: number; steps_done: number } };
    assert.equal(event.by, 'median');
    const at = n.evaluations.find((e) => e.step === event.metrics.steps_done)!;
    assert.equal(n.metrics?.final_r2, at.r2, 'its R2 is that of the evaluation it was stopped at');
    assert.equal(scoreValue(n), at.r2, 'and it scores with it in the tree');
    assert.ok(n.evaluations.every((e) => e.step <= event.metrics.steps_done), 'no evaluation after the stop');
  }
  assert.equal(bestNode(state)?.pruned, undefined);
  assert.equal(costSamples(state).filter((s) => s.pruned === true).length, pruned.length, 'the cost model counts no final evaluation for them');
  const files = renderFiles(state);
  const analysis = files.get('analysis.md')!;
  for (const n of pruned) {
    const entry = analysis.split('\n## ').find((e) => e.startsWith(`Iter ${n.id}: `))!;
    assert.match(entry, /^Iter \d+: poor\n/, 'stopped early, so poor');
    assert.match(entry, /\nMutation: .*\(pruned by median at step \d+: R2 [\d.]+ at step \d+ \(\d+% of its steps\) is below the median/);
  }
  const csv = exportCsv(state).trim().split('\n');
  const col = csv[0].split(',').indexOf('user_attrs_pruned_by');
  for (const n of pruned) {
    const row = csv[n.id].split(',');
    assert.deepEqual([row[1], row[col]], ['PRUNED', 'median'], `node ${n.id} in the CSV`);
  }
});

test('a real study with pruner median: a pruned trial is stopped through its stop hook and keeps its checkpoint', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'study');
  const path = writeTinyStudyConfig(join(root, 'p.yaml'), { iterations: 4, slots: 2, block: 4, seed: 2, pruner: 'median', pruning: '{startup_trials: 1, warmup_fraction: 0.1}' }, [60000, 90000]);
  const r = runCli(['study', 'run', path, '--dir', dir], { env: { INRSCAPE_CACHE: join(root, 'cache'), INRSCAPE_STUDY_TRAIN_ARGS: '--checkpoint-steps 3000' } });
  assert.equal(r.status, 0, r.stderr);
  const pruned = journalEvents(dir).filter((e) => e.type === 'trial_pruned') as unknown as { node: number; reason: string; metrics: { steps_done: number } }[];
  assert.ok(pruned.length >= 1, r.stdout);
  for (const p of pruned) {
    const name = `iter_${String(p.node).padStart(3, '0')}_slot_${String((p.node - 1) % 2).padStart(2, '0')}`;
    const status = JSON.parse(readFileSync(join(dir, 'runs', `.${name}.partial`, 'trial-status.json'), 'utf8')) as { exit_code: number; state: string };
    assert.deepEqual([status.state, status.exit_code], ['stopped', 4], 'it stopped on SIGTERM and checkpointed, resumable');
    assert.match(readFileSync(join(dir, 'analysis.md'), 'utf8'), new RegExp(`## Iter ${p.node}: poor[\\s\\S]*?pruned by median at step ${p.metrics.steps_done}`));
  }
});
