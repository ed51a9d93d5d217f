import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../src/config/schema.js';
import { InrscapeProgram } from '../src/exec/inrscape-program.js';
import { LocalRunner } from '../src/exec/local.js';
import type { TrialProgram } from '../src/exec/program.js';
import { TRIAL_PROGRESS_FILE } from '../src/exec/trial-files.js';
import { MAX_ATTEMPTS, type TrialOutcome, type TrialRequest, type TrialRunner } from '../src/exec/runner.js';
import { journalPath, readJournal } from '../src/study/journal.js';
import { createStudy, runLoop } from '../src/study/loop.js';
import { tempDir } from './helpers/tmp.js';
import { makeTinyDataset } from './helpers/train.js';

const FAKE_TRAIN = fileURLToPath(new URL('./helpers/fake-train.js', import.meta.url));

function studyConfig(dataset: string, iterations = 2): Config {
  return parseConfig(`dataset: {path: ${JSON.stringify(dataset)}}
study: {iterations: ${iterations}, slots: 1, block: 4, seed: 1, max_trial_minutes: 60}
`).config;
}

/** The journal's trial events, as (type, node, attempt) with the reason of a lost or failed attempt. */
function trialEvents(dir: string): string[] {
  return readJournal(journalPath(dir)).entries
    .map((e) => e.event as unknown as { type: string; node?: number; attempt?: number; reason?: string; step?: number })
    .filter((e) => e.type.startsWith('trial_'))
    .map((e) => `${e.type} ${e.node} ${e.attempt}${e.step !== undefined ? ` step ${e.step}` : ''}${e.reason !== undefined ? `: ${e.reason}` : ''}`);
}

/** Outcomes in order, then finished: a runner that loses attempts as told. */
class ScriptedRunner implements TrialRunner {
  readonly name = 'scripted';
  readonly capacity = 1;
  readonly threads = 1;
  constructor(private readonly lose: (req: TrialRequest) => string | undefined) {}
  async run(req: TrialRequest): Promise<TrialOutcome> {
    const lost = this.lose(req);
    if (lost !== undefined) return { status: 'lost', reason: lost };
    return { status: 'finished', metrics: { final_r2: 0.9, final_mse: 1e-3, slope: 1, training_time_min: 0.1 } };
  }
  killAll(): void {}
}

test('a lost attempt is journalled with its reason and re-run as the next attempt; after MAX_ATTEMPTS it fails', async (t) => {
  const root = tempDir(t);
  const ds = makeTinyDataset(join(root, 'tiny'));
  const study = await createStudy(join(root, 'study'), studyConfig(ds.dir));
  await runLoop(study, {
    runner: new ScriptedRunner((r) => (r.node === 1 && r.attempt === 1 ? 'inrscape train was killed by SIGKILL' : r.node === 2 ? 'no heartbeat' : undefined)),
  }).finally(() => study.close());
  assert.deepEqual(trialEvents(study.dir), [
    'trial_started 1 1', 'trial_lost 1 1: inrscape train was killed by SIGKILL', 'trial_started 1 2', 'trial_finished 1 2',
    'trial_started 2 1', 'trial_lost 2 1: no heartbeat', 'trial_started 2 2', 'trial_lost 2 2: no heartbeat', 'trial_started 2 3',
    `trial_failed 2 3: no heartbeat (lost ${MAX_ATTEMPTS} times)`,
  ]);
});

test('a trial whose heartbeat stops is killed and lost; the next attempt runs with the same config and seed', async (t) => {
  const root = tempDir(t);
  const once = join(root, 'hung-once');
  const runner = new LocalRunner({
    capacity: 1, threads: 1, program: new InrscapeProgram({ bin: FAKE_TRAIN, extraArgs: [] }), heartbeatTimeoutS: 1,
    env: { ...process.env, FAKE_TRAIN: 'hang', FAKE_TRAIN_ONCE: once, FAKE_TRAIN_INR: '{}' },
  });
  const req: TrialRequest = {
    node: 1, attempt: 1, config: join(root, 'c.yaml'), dataset: root, out: join(root, 'runs', 't1'), log: join(root, 'runs', 't1.log'),
    maxMinutes: 1, seed: 9, threads: 1, inr: parseConfig('').config.inr,
  };
  const started = Date.now();
  const first = await runner.run(req);
  assert.equal(first.status, 'lost');
  assert.match(first.status === 'lost' ? first.reason : '', /^no heartbeat from inrscape train for \d+ s \(more than 1 s\): killed it$/);
  assert.ok(Date.now() - started < 10_000, 'the hang was noticed within seconds');
  const second = await runner.run({ ...req, attempt: 2 });
  assert.equal(second.status, 'finished');
});

test('a study copies each trial\'s intermediate evaluations into the journal as they arrive', async (t) => {
  const root = tempDir(t);
  const ds = makeTinyDataset(join(root, 'tiny'));
  const config = parseConfig(`dataset: {path: ${JSON.stringify(ds.dir)}}
inr: {hidden_dim_inr: 32, n_layers_inr: 2, inr_total_steps: 200, inr_batch_size: 2, inr_learning_rate: 1.0e-3}
study: {iterations: 1, slots: 1, block: 4, seed: 1, max_trial_minutes: 5, search_space: {inr_total_steps: {min: 100, max: 400}, hidden_dim_inr: {min: 16, max: 64}}}
`).config;
  const study = await createStudy(join(root, 'study'), config);
  await runLoop(study, { runner: new LocalRunner({ capacity: 1, threads: 1 }) }).finally(() => study.close());
  const events = trialEvents(study.dir);
  assert.deepEqual(events.filter((e) => e.startsWith('trial_evaluation')), [20, 40, 60, 80, 100, 120, 140, 160, 180].map((s) => `trial_evaluation 1 1 step ${s}`));
  assert.equal(events.at(-1), 'trial_finished 1 1');
  assert.equal(study.state.nodes[0].evaluations.length, 9);
  const run = join(study.dir, 'runs', 'iter_001_slot_00');
  assert.ok(readdirSync(run).includes('trial-status.json') && existsSync(join(run, 'progress.jsonl')));
});

test('a trainer that writes its evaluations before its runner looks is followed from its first line', async (t) => {
  const root = tempDir(t);
  const out = join(root, 'runs', 'iter_001_slot_00');
  mkdirSync(out, { recursive: true });
  const lines = [50, 100].map((step) => JSON.stringify({ kind: 'evaluation', at: '2026-01-01T00:00:00Z', step, r2: step / 200, mse: 0.1, slope: 1, time_s: 0.1 })).join('\n');
  // The runner is kept busy right after the child starts (a slow disk under
  // its pid marker, say) while the child writes both lines and exits.
  const held = new Int32Array(new SharedArrayBuffer(4));
  const program: TrialProgram = {
    name: 'sh',
    heartbeat: 'if-present',
    async run(req, _gpu, launcher, hooks) {
      const exit = await launcher.launch(req, {
        argv: ['/bin/sh', '-c', `printf '%s\\n' '${lines}' >> ${join(req.out, TRIAL_PROGRESS_FILE)}`],
        mode: 'fresh',
        onSpawn: () => void Atomics.wait(held, 0, 0, 500),
      }, hooks);
      return this.outcome(req, exit);
    },
    outcome: (_req, exit) => (exit.code === 0 ? { status: 'finished', metrics: { final_r2: 0.5, final_mse: 0.1, slope: 1, training_time_min: 0 } } : { status: 'failed', reason: exit.tail, runFolder: false }),
  };
  const seen: number[] = [];
  const runner = new LocalRunner({ capacity: 1, threads: 1, program });
  const req: TrialRequest = { node: 1, attempt: 1, config: join(root, 'c.yaml'), dataset: root, out, log: join(root, 'runs', 'iter_001_slot_00.log'), maxMinutes: 1, seed: 1, threads: 1, inr: parseConfig('{}').config.inr };
  const outcome = await runner.run(req, { onEvaluation: (e) => void seen.push(e.step) });
  assert.equal(outcome.status, 'finished');
  assert.deepEqual(seen, [50, 100]);
});
