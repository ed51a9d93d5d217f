import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { DEFAULT_PRUNING } from '../src/config/study.js';
import type { EvaluationRecord } from '../src/exec/trial-files.js';
import { createAgent } from '../src/study/agents/index.js';
import { StudyBuilder } from '../src/study/builder.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { exportCsv } from '../src/study/export.js';
import type { StudyEvent, StudyEventBody } from '../src/study/journal.js';
import { appendEvent, createStudy } from '../src/study/loop.js';
import { AshaPruner } from '../src/study/pruners.js';
import { renderFiles } from '../src/study/render/index.js';
import { promotable, rungTenths } from '../src/study/rungs.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { nextAction } from '../src/study/state.js';
import { runCli } from './helpers/cli.js';
import { journalEvents, sleep, startCli, writeTinyStudyConfig } from './helpers/study.js';
import { tempDir } from './helpers/tmp.js';

const evaluation = (step: number, r2: number): EvaluationRecord => ({ step, r2, mse: 1 - r2, slope: 1, time_s: step / 100 });
const asha = (reduction_factor: number, min_rung = 0.1): AshaPruner => new AshaPruner({ ...DEFAULT_PRUNING, reduction_factor, min_rung });
const ashaConfig = (reduction_factor: number) => parseConfig(`study: {pruner: asha, pruning: {reduction_factor: ${reduction_factor}}}`).config;

test("asha's rungs are at min_rung * reduction_factor^k of the steps, below the end", () => {
  assert.deepEqual(rungTenths(DEFAULT_PRUNING), [1, 3, 9], '10%, 30%, 90% by default');
  assert.deepEqual(rungTenths({ min_rung: 0.1, reduction_factor: 2 }), [1, 2, 4, 8]);
  assert.deepEqual(rungTenths({ min_rung: 0.5, reduction_factor: 2 }), [5]);
});

test('asha: at a rung a trial goes on within the top max(1, floor(n / reduction_factor)) of its block there, is paused below that line, and a NaN is pruned for good', () => {
  const b = new StudyBuilder({ config: ashaConfig(2), slots: 5, block: 12, iterations: 24 });
  const ids = b.batch([0, 1, 2, 3, 4].map(() => ({ inr: { inr_total_steps: 1000 } })));
  const pruner = asha(2);
  const verdicts: (string | undefined)[] = [];
  [0.5, 0.4, 0.6, 0.3, Number.NaN].forEach((r2, i) => {
    b.start(ids[i]).push({ type: 'trial_evaluation', node: ids[i], attempt: 1, ...evaluation(100, r2) });
    const v = pruner.verdict(b.state, b.state.nodes[i], evaluation(100, r2));
    verdicts.push(v === undefined ? undefined : `${v.pause ? 'pause' : 'prune'}: ${v.reason}`);
  });
  assert.deepEqual(verdicts, [
    undefined, // alone at 10%: the best so far goes on
    'pause: R2 0.400000 at step 100 (10% of its steps) ranks 2 of 2 trials of block 0 there; the top 1 go on',
    undefined, // the new best of 3
    'pause: R2 0.300000 at step 100 (10% of its steps) ranks 4 of 4 trials of block 0 there; the top 2 go on',
    'prune: R2 nan at step 100 (10% of its steps): diverged',
  ]);
  assert.equal(pruner.verdict(b.state, b.state.nodes[3], evaluation(300, 0.1)), undefined, '30% is no rung at reduction factor 2');
});

test('asha: a paused trial is promoted once later trials lift it into its rung line, before its batch is analysed', () => {
  const b = new StudyBuilder({ config: ashaConfig(2), slots: 4, block: 4, iterations: 8 });
  const ids = b.batch([0, 1, 2, 3].map(() => ({ inr: { inr_total_steps: 1000 } })));
  const reach = (i: number, r2: number): void => void b.start(ids[i]).push({ type: 'trial_evaluation', node: ids[i], attempt: 1, ...evaluation(100, r2) });
  const pause = (i: number, r2: number): void => void b.push({
    type: 'trial_pruned', node: ids[i], attempt: 1, by: 'asha', reason: 'below the line', paused: true,
    metrics: { final_r2: r2, final_mse: 1 - r2, slope: 1, training_time_min: 0.01, time_limited: true, steps_done: 100 },
  });
  reach(0, 0.9);
  reach(1, 0.5);
  pause(1, 0.5);
  assert.deepEqual(promotable(b.state), [], '2nd of 2: the line is 1');
  reach(2, 0.7);
  pause(2, 0.7);
  assert.deepEqual(promotable(b.state), [], '3 there, line 1');
  reach(3, 0.2);
  assert.deepEqual(promotable(b.state).map((p) => [p.node, p.standing.rank, p.standing.line]), [[ids[2], 2, 2]], '4 there: the line is 2, and node 3 ranks 2nd');
  pause(3, 0.2);
  b.finish(ids[0], 0.95);
  assert.deepEqual(nextAction(b.state), { kind: 'run', batch: 0, nodes: [], promote: [ids[2]] }, 'a promotion comes before the batch is analysed');

  b.push({ type: 'trial_promoted', node: ids[2], step: 100, reason: 'ranks 2 of 4' });
  assert.equal(b.state.nodes[2].status, 'pending');
  assert.equal(b.state.nodes[2].metrics, undefined, 'its paused R2 no longer stands for it');
  assert.deepEqual(nextAction(b.state), { kind: 'run', batch: 0, nodes: [ids[2]], promote: [] });
  assert.throws(() => b.push({ type: 'trial_promoted', node: ids[1], step: 100, reason: 'x' }).push({ type: 'trial_promoted', node: ids[1], step: 100, reason: 'x' }), /trial 2 promoted, but it is not paused/);
});

/**
 * Trials whose R² ceiling is set by omega and whose speed by the learning
 * rate: curves cross (a slow trial can end best), which is when a promotion matters.
 */
const curves: Objective = (inr) => {
  const ceiling = Math.exp(-((Math.log(inr.omega_inr / 10)) ** 2));
  const speed = 1 + 5 * Math.max(0, Math.log10(inr.inr_learning_rate) + 6);
  const at = (f: number): number => 0.999 * ceiling * (1 - Math.exp(-speed * f));
  const every = Math.floor(inr.inr_total_steps / 10);
  const evaluations = Array.from({ length: 10 }, (_, k) => ({ ...evaluation((k + 1) * every, at((k + 1) / 10)), time_s: (k + 1) * 6 }));
  return { metrics: { final_r2: at(1), final_mse: 1 - at(1), slope: 1, training_time_min: 1 }, evaluations };
};

const simulated = () => studyCreatedEvent(ashaConfig(2), { agent: 'random', iterations: 24, slots: 4, block: 12, seed: 1, maxTrialMinutes: 60 });

const ashaEvents = (events: readonly StudyEvent[]): string[] => events.flatMap((e) => {
  if (e.type === 'trial_pruned') return [`${e.paused ? 'paused' : 'pruned'} ${e.node} at ${e.metrics.steps_done}`];
  if (e.type === 'trial_promoted') return [`promoted ${e.node} from ${e.step}`];
  return [];
});

test('a simulated study with asha: paused trials either stay pruned or are promoted and end as if never paused; every file says which', async () => {
  const { state, entries } = await simulateStudy(simulated(), { agent: createAgent('random') }, curves);
  const promoted = state.nodes.filter((n) => n.promotions.length > 0 && n.pruned === undefined);
  const paused = state.nodes.filter((n) => n.pruned?.paused);
  assert.ok(promoted.length >= 1 && paused.length >= 1, ashaEvents(entries.map((e) => e.event)).join('\n'));
  for (const n of promoted) {
    assert.equal(n.status, 'finished');
    assert.deepEqual(n.metrics, curves(n.inr, n.id, n.seed).metrics, `node ${n.id}: the result of an unpaused run`);
    assert.deepEqual(n.evaluations.map((e) => e.step), curves(n.inr, n.id, n.seed).evaluations!.map((e) => e.step), 'each evaluation once, none skipped');
  }
  const analysis = renderFiles(state).get('analysis.md')!;
  const entry = (id: number): string => analysis.split('\n## ').find((e) => e.startsWith(`Iter ${id}: `))!;
  assert.match(entry(promoted[0].id), /\nMutation: .*\(paused at step \d+, promoted: ranks \d+ of \d+ trials at \d+% of their steps; the top \d+ go on\)/);
  assert.match(entry(paused[0].id), /\nMutation: .*\(paused by asha at step \d+: R2 [\d.]+ at step \d+ \(\d+% of its steps\) ranks \d+ of \d+/);
  const csv = exportCsv(state).trim().split('\n');
  const col = csv[0].split(',').indexOf('user_attrs_pruned_by');
  assert.deepEqual([csv[paused[0].id].split(',')[1], csv[paused[0].id].split(',')[col]], ['PRUNED', 'asha']);
  assert.equal(csv[promoted[0].id].split(',')[1], 'COMPLETE');
});

test('a simulated asha study stopped before any pause, promotion or resumed start picks up where it stopped: the same pauses, promotions and files', async () => {
  const straight = await simulateStudy(simulated(), { agent: createAgent('random') }, curves);
  const expected = ashaEvents(straight.entries.map((e) => e.event));
  const moments = (body: StudyEventBody): boolean => body.type === 'trial_promoted' || (body.type === 'trial_pruned' && body.paused === true) || (body.type === 'trial_started' && body.attempt > 1);
  const total = straight.entries.filter((e) => moments(e.event)).length;
  assert.ok(total >= 3);
  for (let k = 0; k < total; k++) {
    let seen = 0;
    const first = await simulateStudy(simulated(), { agent: createAgent('random') }, curves, { stopBefore: (body) => moments(body) && seen++ === k });
    assert.equal(first.stopped, true);
    const resumed = await simulateStudy(simulated(), { agent: createAgent('random') }, curves, { state: first.state });
    assert.deepEqual(ashaEvents([...first.entries, ...resumed.entries].map((e) => e.event)), expected, `stopped at moment ${k}`);
    assert.deepEqual(renderFiles(resumed.state), renderFiles(straight.state), `stopped at moment ${k}: the same files`);
  }
});

// Real trials: four enqueued configs, one at a time, whose R2 at half their
// steps ranks by learning rate (measured on dicty-tiny: 1e-3 > 1e-4 > 3e-5 > 1e-5).
// With one rung at 50% and reduction factor 2: node 1 goes on (alone), nodes
// 2 and 3 are paused (line 1), node 4 is paused (4 there, line 2) and lifts
// node 3 (2nd) into the line: node 3 is promoted and resumes its checkpoint.
const RATES = [1.0e-3, 3.0e-5, 1.0e-4, 1.0e-5];

async function pausingStudy(root: string): Promise<string> {
  const dir = join(root, 'study');
  const path = writeTinyStudyConfig(join(root, 'asha.yaml'), {
    iterations: 4, slots: 1, block: 4, seed: 5, max_trial_minutes: 5, pruner: 'asha', pruning: '{reduction_factor: 2, min_rung: 0.5}',
  }, [80000, 90000]);
  process.env.INRSCAPE_CACHE = join(root, 'cache');
  const config = parseConfig(readFileSync(path, 'utf8')).config;
  const study = await createStudy(dir, config, { configPath: path, agent: 'rules' });
  RATES.forEach((lr, i) => appendEvent(study, { type: 'enqueued', id: i + 1, inr: { ...config.inr, inr_learning_rate: lr }, parent: null, note: `lr ${lr}` }));
  study.close();
  return dir;
}

const RUN3 = join('runs', 'iter_003_slot_00');
const env = (root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ INRSCAPE_CACHE: join(root, 'cache'), ...extra });

/** Trains node 3 of the study straight through (no pause): what its promoted run must equal. */
function unpausedNode3(root: string, dir: string): { results: string; pred: Buffer } {
  const events = journalEvents(dir);
  const seed = events.flatMap((e) => (e.type === 'batch_proposed' ? e.trials : [])).find((x) => x.node === 3)!.seed;
  const threads = events.flatMap((e) => (e.type === 'trial_started' && e.node === 3 ? [e.threads] : []))[0];
  const created = events[0];
  assert.equal(created.type, 'study_created');
  const out = join(root, 'unpaused');
  const r = runCli(['train', join(dir, 'config', 'iter_003_slot_00.yaml'), '--dataset', created.dataset_dir!, '--out', out, '--max-minutes', '5', '--seed', String(seed), '--threads', String(threads)], { env: env(root) });
  assert.equal(r.status, 0, r.stderr);
  return { results: readFileSync(join(out, 'results.log'), 'utf8'), pred: readFileSync(join(out, 'pred_velocity.npy')) };
}

/** results.log without the training time (a paused run also spent time stopping and starting). */
const withoutTime = (log: string): string => log.split('\n').filter((l) => !l.startsWith('training_time_min')).join('\n');

test('asha with real trials: a paused trial keeps its checkpoint, and once promoted it resumes it and ends bit for bit as an unpaused run of its seed', async (t) => {
  const root = tempDir(t);
  const dir = await pausingStudy(root);
  const r = runCli(['study', 'resume', dir], { env: env(root) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(ashaEvents(journalEvents(dir)).map((s) => s.replace(/ at \d+| from \d+/, '')), [
    'paused 2', 'paused 3', 'paused 4', 'promoted 3',
  ]);
  const starts = journalEvents(dir).filter((e) => e.type === 'trial_started' && e.node === 3);
  assert.equal(starts.length, 2, 'node 3: its first attempt, then the promoted one');
  assert.match(readFileSync(join(dir, 'runs', 'iter_003_slot_00.log'), 'utf8'), /--- node 3, attempt 2 \(resume\).*train --resume /);
  const straight = unpausedNode3(root, dir);
  assert.equal(withoutTime(readFileSync(join(dir, RUN3, 'results.log'), 'utf8')), withoutTime(straight.results));
  assert.ok(readFileSync(join(dir, RUN3, 'pred_velocity.npy')).equals(straight.pred), 'the same predictions, bit for bit');
});

test('asha with real trials: a study killed while trials are paused resumes them correctly', async (t) => {
  const root = tempDir(t);
  const dir = await pausingStudy(root);
  // Widen the moments between events, and kill the study right after node 4 is paused, before node 3's promotion.
  const first = startCli(['study', 'resume', dir], { env: env(root, { INRSCAPE_STUDY_EVENT_PAUSE_MS: '800' }) });
  const isPause4 = (e: StudyEvent): boolean => e.type === 'trial_pruned' && e.node === 4;
  for (let i = 0; i < 1200 && !journalEvents(dir).some(isPause4); i++) await sleep(50);
  first.child.kill('SIGKILL');
  await first.done;
  const events = journalEvents(dir);
  assert.ok(isPause4(events[events.length - 1]), `killed right after node 4 was paused: ${String(events[events.length - 1].type)}`);
  assert.equal(events.some((e) => e.type === 'trial_promoted'), false);

  const r = runCli(['study', 'resume', dir], { env: env(root) });
  assert.equal(r.status, 0, r.stderr);
  const promoted = journalEvents(dir).filter((e) => e.type === 'trial_promoted');
  assert.deepEqual(promoted.map((e) => (e.type === 'trial_promoted' ? e.node : 0)), [3]);
  const straight = unpausedNode3(root, dir);
  assert.equal(withoutTime(readFileSync(join(dir, RUN3, 'results.log'), 'utf8')), withoutTime(straight.results));
  assert.ok(readFileSync(join(dir, RUN3, 'pred_velocity.npy')).equals(straight.pred), 'the same predictions, bit for bit');
});
