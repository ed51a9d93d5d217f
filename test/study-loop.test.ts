import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, configToYaml, type Config } from '../src/config/schema.js';
import type { InrConfig } from '../src/config/inr.js';
import { planConcurrency } from '../src/exec/concurrency.js';
import { InrscapeProgram } from '../src/exec/inrscape-program.js';
import { LocalRunner } from '../src/exec/local.js';
import { pidAlive } from '../src/exec/process.js';
import type { TrialHooks, TrialOutcome, TrialRequest } from '../src/exec/runner.js';
import { createAgent } from '../src/study/agents/index.js';
import { CPU_PRESET_STEP_RANGE, resolveTrialMinutes } from '../src/study/budget.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { drainInbox, readInbox, writeInboxRequest } from '../src/study/inbox.js';
import { journalPath, readJournal, type EnqueuedEvent, type JournalEntry } from '../src/study/journal.js';
import { LOCK_STALE_S, acquireStudyLock, lockPath } from '../src/study/lock.js';
import { createStudy, openStudy, runLoop } from '../src/study/loop.js';
import { renderFiles } from '../src/study/render/index.js';
import { ObjectiveRunner, simulateStudy, type Objective } from '../src/study/simulate.js';
import { nextAction } from '../src/study/state.js';
import { tempDir } from './helpers/tmp.js';
import { makeTinyDataset } from './helpers/train.js';

const FAKE_TRAIN = fileURLToPath(new URL('./helpers/fake-train.js', import.meta.url));

/** A made-up landscape: R2 peaks at lr 3e-4, omega 15; lr >= 8e-4 diverges. */
const objective: Objective = (inr: InrConfig) => {
  if (inr.inr_learning_rate >= 8e-4) return { failure: 'loss is NaN at step 3' };
  const u = Math.log(inr.inr_learning_rate / 3e-4);
  const v = Math.log(inr.omega_inr / 15) / 0.7;
  const r2 = 1 - 0.05 * (u * u + v * v);
  return { metrics: { final_r2: r2, final_mse: (1 - r2) / 50, slope: 0.99, training_time_min: 1e-5 * inr.inr_total_steps * inr.inr_batch_size } };
};

/** Trials in-process, from the objective: the loop without child processes. */
/** The simulation's runner, recording what each trial was given; `crashAt` throws at that node, as a dying study would. */
class RecordingRunner extends ObjectiveRunner {
  readonly calls: TrialRequest[] = [];
  constructor(capacity = 1, private readonly crashAt?: number) {
    super(objective, capacity);
  }
  override async run(req: TrialRequest, hooks?: TrialHooks): Promise<TrialOutcome> {
    this.calls.push(req);
    await new Promise((r) => setImmediate(r));
    if (req.node === this.crashAt) throw new Error('simulated crash of the study process');
    return super.run(req, hooks);
  }
}

function studyConfig(dataset: string, extra = ''): Config {
  return parseConfig(`dataset: {path: ${JSON.stringify(dataset)}}
study:
  iterations: 10
  slots: 3
  block: 6
  seed: 4
  max_trial_minutes: 60
${extra}`).config;
}

/**
 * An event as recorded, minus what the loop adds (time stamps, the threads of
 * a trial) and the run folder of a failed trial (the loop names it only when
 * the trial left one; the simulation always does).
 */
function body(e: JournalEntry): Record<string, unknown> {
  const { at: _at, v: _v, threads: _t, ...rest } = e.event as unknown as Record<string, unknown>;
  if (rest.type === 'trial_failed') delete rest.run_dir;
  return rest;
}

test('the loop appends the events in the reference order (simulateStudy), one trial at a time', async (t) => {
  const root = tempDir(t);
  const ds = makeTinyDataset(join(root, 'tiny'));
  const study = await createStudy(join(root, 'study'), studyConfig(ds.dir));
  const created = study.state.created;
  const runner = new RecordingRunner(1);
  try {
    await runLoop(study, { runner });
  } finally {
    study.close();
  }
  const sim = await simulateStudy(created, { agent: createAgent('rules') }, objective);
  const ours = readJournal(journalPath(study.dir)).entries;
  assert.deepEqual(ours.map(body), sim.entries.map(body));
  assert.equal(nextAction(study.state).kind, 'done');
  assert.ok(ours.some((e) => e.event.type === 'trial_failed'), 'the landscape has a diverging corner');
  // What each trial was given: its config file, run folder, log, seed and budget.
  const first = runner.calls[0];
  assert.equal(first.config, join(study.dir, 'config', 'iter_001_slot_00.yaml'));
  assert.equal(first.out, join(study.dir, 'runs', 'iter_001_slot_00'));
  assert.equal(first.log, join(study.dir, 'runs', 'iter_001_slot_00.log'));
  assert.equal(first.dataset, ds.dir);
  assert.equal(first.maxMinutes, 60);
  assert.equal(first.seed, study.state.nodes[0].seed);
  assert.deepEqual(parseConfig(readFileSync(first.config, 'utf8')).config.inr, study.state.nodes[0].inr, 'the config file is the trial\'s');
  // The lock is released, the rendered files are those of the final state.
  assert.equal(existsSync(lockPath(study.dir)), false);
  for (const [rel, text] of renderFiles(study.state)) assert.equal(readFileSync(join(study.dir, rel), 'utf8'), text, rel);
});

test('trials of a batch run side by side up to the runner capacity; the decisions do not change', async (t) => {
  const root = tempDir(t);
  const ds = makeTinyDataset(join(root, 'tiny'));
  const one = await createStudy(join(root, 'one'), studyConfig(ds.dir));
  await runLoop(one, { runner: new RecordingRunner(1) }).finally(() => one.close());
  const three = await createStudy(join(root, 'three'), studyConfig(ds.dir));
  await runLoop(three, { runner: new RecordingRunner(3) }).finally(() => three.close());
  const decisions = (dir: string) => readJournal(journalPath(dir)).entries.filter((e) => e.event.type !== 'trial_started').map(body)
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  assert.deepEqual(decisions(three.dir), decisions(one.dir));
});

test('a study that died mid-batch resumes: interrupted trials re-run as attempt 2, the end is the same', async (t) => {
  const root = tempDir(t);
  const ds = makeTinyDataset(join(root, 'tiny'));
  const straight = await createStudy(join(root, 'straight'), studyConfig(ds.dir));
  await runLoop(straight, { runner: new RecordingRunner(3) }).finally(() => straight.close());

  const dir = join(root, 'crashed');
  const first = await createStudy(dir, studyConfig(ds.dir));
  await assert.rejects(runLoop(first, { runner: new RecordingRunner(3, 5) }), /simulated crash/);
  first.close();
  // What a kill leaves besides the journal: a torn line, temporary files, a missing render.
  appendFileSync(journalPath(dir), '{"v":1,"at":"2000-01-01T00:00:00.000Z","type":"trial_fin');
  writeFileSync(join(dir, '.analysis.md.tmp-12345'), 'half');
  writeFileSync(join(dir, 'config', '.iter_001_slot_00.yaml.tmp-12345'), 'half');
  rmSync(join(dir, 'memory.md'));

  const again = openStudy(dir);
  const interrupted = again.state.nodes.filter((n) => n.status === 'running').map((n) => n.id);
  assert.deepEqual(interrupted, [5], 'node 5 was running when the study died');
  assert.equal(existsSync(join(dir, '.analysis.md.tmp-12345')), false, 'temporary files are removed');
  assert.equal(existsSync(join(dir, 'config', '.iter_001_slot_00.yaml.tmp-12345')), false);
  assert.ok(existsSync(join(dir, 'memory.md')), 'files are rendered again on open');
  const runner = new RecordingRunner(3);
  await runLoop(again, { runner }).finally(() => again.close());
  const rerun = runner.calls.find((c) => c.node === 5)!;
  assert.equal(rerun.attempt, 2);
  assert.equal(rerun.seed, straight.state.nodes[4].seed, 'same seed');
  assert.deepEqual(rerun.inr, straight.state.nodes[4].inr, 'same config');
  const results = (d: string) => readJournal(journalPath(d)).entries.filter((e) => e.event.type !== 'trial_started').map(body)
    .map((b) => ({ ...b, attempt: undefined })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  assert.deepEqual(results(dir), results(straight.dir));
  assert.equal(readJournal(journalPath(dir)).torn, null);
});

test('the study lock: one process at a time, a clear message, stale locks are taken over', (t) => {
  const dir = tempDir(t);
  const lock = acquireStudyLock(dir, 'test');
  assert.throws(() => acquireStudyLock(dir, 'test'), (err: Error) => {
    assert.equal(err.name, 'UserError');
    assert.match(err.message, new RegExp(`^study ${dir} is being run by pid ${process.pid} \\(since \\d{4}-\\d\\d-\\d\\dT`));
    return true;
  });
  lock.release();
  assert.equal(existsSync(lockPath(dir)), false);

  // A lock left by a process that is gone (kill -9) is stale.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  assert.equal(pidAlive(dead), false);
  writeFileSync(lockPath(dir), JSON.stringify({ pid: dead, host: hostname(), started_at: 'then', command: 'x' }));
  const taken = acquireStudyLock(dir, 'test');
  assert.equal(JSON.parse(readFileSync(lockPath(dir), 'utf8')).pid, process.pid);
  taken.release();

  // A pid that lives but belongs to another process now (another start time: reused) is stale.
  writeFileSync(lockPath(dir), JSON.stringify({ pid: process.ppid, host: hostname(), proc_start: 'another-boot:1', started_at: 'then', command: 'x' }));
  acquireStudyLock(dir, 'test').release();

  // A torn lock file is stale too.
  writeFileSync(lockPath(dir), '{"pid": 12');
  acquireStudyLock(dir, 'test').release();
  // Another host's lock cannot be checked by pid: it counts while its holder keeps touching it, and no longer.
  writeFileSync(lockPath(dir), JSON.stringify({ pid: 1, host: 'elsewhere', started_at: 'then', command: 'x' }));
  assert.throws(() => acquireStudyLock(dir, 'test'), /being run by pid 1 on host elsewhere \(since then\); its lock was touched 0 s ago and is taken over once untouched for 120 s$/);
  assert.deepEqual(readdirSync(dir), ['lock'], 'no stale-lock leftovers');
  const old = new Date(Date.now() - (LOCK_STALE_S + 5) * 1000);
  utimesSync(lockPath(dir), old, old);
  const over = acquireStudyLock(dir, 'test');
  assert.equal(JSON.parse(readFileSync(lockPath(dir), 'utf8')).host, hostname());
  over.release();
});

test('the inbox: requests become enqueued events once, even when the study dies in between', (t) => {
  const dir = tempDir(t);
  const inr = parseConfig('').config.inr;
  writeInboxRequest(dir, { request: 'r1', inr, parent: null, note: 'first' });
  writeInboxRequest(dir, { request: 'r2', inr: { ...inr, omega_inr: 20 }, parent: 3, note: 'second' });
  const events: EnqueuedEvent[] = [];
  let id = 0;
  const seen = new Set<string>(['r1']); // r1's event was written before a crash; its file was not deleted
  assert.equal(drainInbox(dir, seen, () => ++id, (e) => events.push(e)), 1);
  assert.deepEqual(events.map((e) => [e.id, e.request, e.parent, e.note, e.inr.omega_inr]), [[1, 'r2', 3, 'second', 20]]);
  assert.deepEqual(readInbox(dir), [], 'both files are gone');
  assert.equal(drainInbox(dir, seen, () => ++id, (e) => events.push(e)), 0);
});

test('concurrency: parallel single-thread trials by default (measured), --threads decides the rest', () => {
  assert.deepEqual(planConcurrency(4, { cores: 2 }), { capacity: 2, threads: 1, text: '2 trials at a time, 1 thread each' });
  assert.deepEqual(planConcurrency(4, { cores: 2, threads: 2 }).capacity, 1);
  assert.deepEqual(planConcurrency(1, { cores: 2 }), { capacity: 1, threads: 2, text: '1 trial at a time, 2 threads each' });
  assert.deepEqual([planConcurrency(4, { cores: 16 }).capacity, planConcurrency(4, { cores: 16 }).threads], [4, 4]);
  assert.deepEqual([planConcurrency(4, { cores: 2, preferParallel: false }).capacity, planConcurrency(4, { cores: 2, preferParallel: false }).threads], [1, 2]);
  assert.equal(planConcurrency(4, { cores: 2, threads: 8 }).capacity, 1, 'at least one trial');
});

test('CPU presets: the budget and the step range shrink unless the config sets them', () => {
  const small = parseConfig('dataset: {preset: dicty-small}').config;
  const ev = studyCreatedEvent(small, { cpuPresetSpace: true });
  assert.equal(ev.settings.max_trial_minutes, 5);
  assert.deepEqual([ev.space.inr_total_steps.min, ev.space.inr_total_steps.max], [CPU_PRESET_STEP_RANGE['dicty-small'].min, CPU_PRESET_STEP_RANGE['dicty-small'].max]);
  assert.match(ev.space_note!, /CPU preset dicty-small's range/);
  assert.match(configToYaml(parseConfig(ev.config).config), /inr_total_steps:\n\s+min: 200\n\s+max: 20000/, 'the snapshot config says what was searched');
  const own = parseConfig('dataset: {preset: dicty-tiny}\nstudy: {max_trial_minutes: 3, search_space: {inr_total_steps: {min: 100, max: 500}}}').config;
  const ev2 = studyCreatedEvent(own, { cpuPresetSpace: true });
  assert.equal(ev2.settings.max_trial_minutes, 3);
  assert.deepEqual([ev2.space.inr_total_steps.min, ev2.space.inr_total_steps.max], [100, 500]);
  assert.equal(ev2.space_note, undefined);
  const folder = studyCreatedEvent(parseConfig('dataset: {path: data/x}').config, { cpuPresetSpace: true });
  assert.deepEqual([folder.space.inr_total_steps.min, folder.settings.max_trial_minutes], [50000, 60]);
  assert.equal(resolveTrialMinutes('auto', small.dataset).minutes, 5);
});

// ---- the local runner: every way a child can end ----

function request(root: string, inr: InrConfig, over: Partial<TrialRequest> = {}): TrialRequest {
  return {
    node: 1, attempt: 1, config: join(root, 'c.yaml'), dataset: join(root, 'ds'), out: join(root, 'runs', 'iter_001_slot_00'),
    log: join(root, 'runs', 'iter_001_slot_00.log'), maxMinutes: 2, seed: 77, threads: 1, inr, ...over,
  };
}

function fakeRunner(mode: string, inr: InrConfig, extra: NodeJS.ProcessEnv = {}, notes: string[] = []): LocalRunner {
  return new LocalRunner({
    capacity: 1, threads: 1, program: new InrscapeProgram({ bin: FAKE_TRAIN, extraArgs: [] }),
    env: { ...process.env, FAKE_TRAIN: mode, FAKE_TRAIN_INR: JSON.stringify(inr), ...extra },
    onNote: (_r, m) => notes.push(m),
  });
}

test('the local runner maps exit codes and run folders to outcomes: finished, failed with the reason, lost when killed, failed on an unknown code', async (t) => {
  const inr = parseConfig('').config.inr;
  const cases: [string, (o: TrialOutcome) => void][] = [
    ['ok', (o) => {
      assert.equal(o.status, 'finished');
      if (o.status !== 'finished') return;
      assert.equal(o.metrics.final_r2, 0.98765432, 'full precision, from run.json');
      assert.equal(o.metrics.training_time_min, 4.5 / 60);
      assert.deepEqual([o.metrics.time_limited, o.metrics.steps_done], [false, 100]);
    }],
    ['limited', (o) => assert.deepEqual(o.status === 'finished' && [o.metrics.time_limited, o.metrics.steps_done], [true, 60])],
    ['failed', (o) => assert.deepEqual(o, { status: 'failed', reason: 'loss is NaN at step 17', training_time_min: 4.5 / 60, runFolder: true })],
    ['crash', (o) => assert.deepEqual(o, { status: 'lost', reason: 'inrscape train was killed by SIGKILL: about to crash' })],
    ['exit7', (o) => assert.deepEqual(o, { status: 'failed', reason: 'inrscape train exited with code 7: inrscape: something odd happened', runFolder: false })],
    ['noresult', (o) => assert.match(o.status === 'failed' ? o.reason : '', /exited 0 but wrote no results\.log/)],
  ];
  for (const [mode, check] of cases) {
    const root = tempDir(t);
    const o = await fakeRunner(mode, inr).run(request(root, inr));
    check(o);
    assert.match(readFileSync(join(root, 'runs', 'iter_001_slot_00.log'), 'utf8'), new RegExp(`^--- node 1, attempt 1 \\(fresh\\).*\\nfake train ${mode}\\n`), `${mode}: the log has the command and the output`);
  }
});

test('the local runner: the command line, and what an interrupted attempt left decides fresh, --resume, --force or take-over', async (t) => {
  const inr = parseConfig('').config.inr;
  const root = tempDir(t);
  const argsFile = join(root, 'args.jsonl');
  const calls = (): string[][] => (existsSync(argsFile) ? readFileSync(argsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []);
  const req = request(root, inr);
  const runner = (notes: string[] = []) => fakeRunner('args', inr, { FAKE_TRAIN_ARGS_FILE: argsFile }, notes);

  await runner().run(req);
  assert.deepEqual(calls()[0], ['train', req.config, '--dataset', req.dataset, '--out', req.out, '--max-minutes', '2', '--seed', '77', '--threads', '1']);

  // The folder is there, trained with this config, seed and budget: taken over without training.
  const notes: string[] = [];
  const adopted = await runner(notes).run({ ...req, attempt: 2 });
  assert.equal(adopted.status, 'finished');
  assert.equal(calls().length, 1, 'nothing ran');
  assert.match(notes.join('\n'), /took over the result an earlier attempt committed/);

  // Another seed's folder at that path: trained again, replacing it.
  await runner().run({ ...req, seed: 78 });
  assert.deepEqual(calls()[1].slice(-1), ['--force']);

  // An interrupted run of this trial waits in the staging folder: --resume it.
  rmSync(req.out, { recursive: true });
  const staging = join(root, 'runs', '.iter_001_slot_00.partial');
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'run-spec.json'), JSON.stringify({ format: 'inrscape-run-spec', version: 1, seed: 77, max_minutes: 2 }));
  writeFileSync(join(staging, 'config.yaml'), configToYaml({ ...parseConfig('').config, inr }));
  // ... still held by a live process (an orphaned child of the killed study): wait for it first.
  const orphan = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)']);
  writeFileSync(join(staging, 'lock'), `${orphan.pid}\n`);
  const waited: string[] = [];
  const t0 = Date.now();
  await runner(waited).run({ ...req, attempt: 2 });
  assert.ok(Date.now() - t0 >= 300, 'it waited for the orphan');
  assert.match(waited.join('\n'), new RegExp(`waiting for pid ${orphan.pid}`));
  assert.deepEqual(calls()[2], ['train', '--resume', req.out]);

  // A staging folder of another seed: started over with --force.
  rmSync(req.out, { recursive: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'run-spec.json'), JSON.stringify({ format: 'inrscape-run-spec', version: 1, seed: 5, max_minutes: 2 }));
  await runner().run({ ...req, attempt: 3 });
  assert.deepEqual(calls()[3].slice(-1), ['--force']);
});
