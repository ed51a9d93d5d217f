import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFile, runDir } from '../src/study/files.js';
import { journalPath, readJournal, type JournalEntry } from '../src/study/journal.js';
import { renderFiles } from '../src/study/render/index.js';
import { foldEvents, type StudyState } from '../src/study/state.js';
import { checkStudyFolder, journalEvents, processesMentioning, sleep, startCli, waitFor, writeTinyStudyConfig } from './helpers/study.js';

// The crash test: `inrscape study run` (then `study resume`) is really killed
// with SIGKILL at several moments, timed by polling its journal and run
// folders; the study is resumed after each kill and must end exactly as an
// uninterrupted study with the same seed (the native engine is deterministic
// for a fixed thread count: every trial runs with one thread).
const root = mkdtempSync(join(tmpdir(), 'inrscape-study-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = {
  INRSCAPE_CACHE: join(root, 'cache'),
  // Short pauses after each event, so a kill lands right after the event the test saw.
  INRSCAPE_STUDY_EVENT_PAUSE_MS: '60',
  // Checkpoints every 200 steps, so a trial killed mid-run continues from one (--resume).
  INRSCAPE_STUDY_TRAIN_ARGS: '--checkpoint-steps 200',
};
const config = writeTinyStudyConfig(join(root, 'tiny.yaml'), { iterations: 6, slots: 2, block: 4, seed: 11 }, [4000, 9000]);

type Events = JournalEntry['event'][];
const count = (events: Events, type: string): number => events.filter((e) => e.type === type).length;

/** A trial being trained right now: a staging folder with a checkpoint in it. */
function trainingWithCheckpoint(dir: string): boolean {
  try {
    return readdirSync(join(dir, 'runs')).some((n) => n.endsWith('.partial') && existsSync(join(dir, 'runs', n, 'checkpoint.safetensors')));
  } catch {
    return false;
  }
}

interface KillPoint {
  name: string;
  /** Given the journal when the process started, whether to kill now. */
  when: (dir: string, now: Events, before: Events) => boolean;
  /** Resume at once, while its orphaned trial children may still run (they stop on their own). */
  resumeAtOnce?: boolean;
}

const killPoints: KillPoint[] = [
  { name: 'right after a trial_started line', when: (_d, now, before) => count(now, 'trial_started') > count(before, 'trial_started') },
  { name: 'while a trial trains (after a checkpoint)', when: (dir) => trainingWithCheckpoint(dir), resumeAtOnce: true },
  { name: 'right after a trial_finished line', when: (_d, now, before) => count(now, 'trial_finished') > count(before, 'trial_finished') },
  { name: 'between batches (right after agent_notes)', when: (_d, now, before) => count(now, 'agent_notes') > count(before, 'agent_notes') },
  { name: 'right after a block closed', when: (_d, now) => count(now, 'block_closed') >= 1 },
  { name: 'while a trial of the last batch trains', when: (dir, now) => count(now, 'batch_proposed') >= 3 && trainingWithCheckpoint(dir), resumeAtOnce: true },
];

/** What must not depend on interruptions: every file with the wall-clock minutes taken out. */
function timeless(text: string): string {
  return text
    .replace(/training_time_min=[\d.]+/g, 'training_time_min=T')
    .replace(/time=[\d.]+min/g, 'time=Tmin')
    .replace(/\| [\d.]+ \| ([^|]*) \|$/gm, '| T | $1 |')
    .replace(/[\d.]+ min/g, 'T min')
    .replace(/predicted [\d.]+/g, 'predicted T');
}

function trialRecord(state: StudyState): unknown[] {
  return state.nodes.map((n) => ({
    id: n.id, parent: n.parent, batch: n.batch, block: n.block, slot: n.slot, inr: n.inr, seed: n.seed, strategy: n.strategy,
    mutation: timeless(n.mutation), status: n.status,
    metrics: n.metrics && { r2: n.metrics.final_r2, mse: n.metrics.final_mse, slope: n.metrics.final_r2_cod, steps: n.metrics.steps_done, limited: n.metrics.time_limited },
  }));
}

/** The uninterrupted study of `cfg` an interrupted one must end like, in `reference`. */
async function uninterrupted(cfg: string, reference: string): Promise<StudyState> {
  const straight = startCli(['study', 'run', cfg, '--dir', reference, '--threads', '1'], { env });
  assert.equal((await straight.done).code, 0, straight.stderr());
  return checkStudyFolder(reference);
}

/** The same trials, files and predictions as the uninterrupted study in `reference`. */
function assertSameEnd(dir: string, got: StudyState, want: StudyState, reference: string): void {
  assert.deepEqual(trialRecord(got), trialRecord(want), 'the same trials with the same results');
  const wantFiles = renderFiles(want);
  const gotFiles = renderFiles(got);
  assert.deepEqual([...gotFiles.keys()].sort(), [...wantFiles.keys()].sort());
  for (const [rel, text] of gotFiles) assert.equal(timeless(text), timeless(wantFiles.get(rel)!), `${rel} matches the uninterrupted study's`);
  for (const n of got.nodes) {
    assert.equal(readFileSync(join(dir, configFile(n.id, n.slot)), 'utf8'), readFileSync(join(reference, configFile(n.id, n.slot)), 'utf8'));
    // The predictions are the uninterrupted run's, bit for bit, resumed or not.
    const pred = (d: string) => readFileSync(join(d, runDir(n.id, n.slot), 'pred_velocity.npy'));
    assert.ok(pred(dir).equals(pred(reference)), `node ${n.id}: the same predictions`);
  }
}

test('kill -9 at any moment, then study resume: no result lost or doubled, killed trials re-run with their config and seed, the same end', async () => {
  const reference = join(root, 'reference');
  const want = await uninterrupted(config, reference);

  const dir = join(root, 'killed');
  const killed: string[] = [];
  let args = ['study', 'run', config, '--dir', dir, '--threads', '1'];
  for (const point of killPoints) {
    const before = journalEvents(dir);
    const cli = startCli(args, { env });
    let exited = false;
    void cli.done.then(() => (exited = true));
    await waitFor(point.name, () => exited || point.when(dir, journalEvents(dir), before));
    assert.equal(exited, false, `the study was still running at "${point.name}":\n${cli.stdout()}${cli.stderr()}`);
    cli.child.kill('SIGKILL');
    const end = await cli.done;
    assert.equal(end.signal, 'SIGKILL');
    killed.push(point.name);
    // Whatever the moment, the journal folds: whole lines only, nothing contradictory.
    foldEvents(readJournal(journalPath(dir)).entries);
    if (!point.resumeAtOnce) {
      // The killed study's trial children notice that their study is gone and stop.
      await waitFor('orphaned trials to stop', () => processesMentioning(dir).length === 0, 5000);
    }
    args = ['study', 'resume', dir, '--threads', '1'];
  }
  assert.equal(killed.length, killPoints.length);

  const last = startCli(args, { env });
  const end = await last.done;
  assert.equal(end.code, 0, last.stderr());
  await sleep(50);
  assert.deepEqual(processesMentioning(dir), [], 'no trial process is left');

  const got = checkStudyFolder(dir);
  // Killed trials ran again as attempt 2 (or later), with the same config and seed: their run folders say so.
  const rerun = got.nodes.filter((n) => n.attempts > 1);
  assert.ok(rerun.length >= 2, `some trials were interrupted (${rerun.map((n) => n.id).join(', ')})`);
  for (const n of rerun) {
    const log = readFileSync(join(dir, `${runDir(n.id, n.slot)}.log`), 'utf8');
    assert.match(log, new RegExp(`--- node ${n.id}, attempt ${n.attempts} `), `node ${n.id}'s log has its last attempt`);
  }
  assertSameEnd(dir, got, want, reference);
});

test('a trial child killed with SIGKILL while its study runs: the attempt is lost, it re-runs from its checkpoint with the same seed, the same end', async () => {
  // Trials of a few seconds, so the kill lands mid-run.
  const longer = writeTinyStudyConfig(join(root, 'longer.yaml'), { iterations: 2, slots: 2, block: 4, seed: 12 }, [60000, 90000]);
  const reference = join(root, 'reference-longer');
  const want = await uninterrupted(longer, reference);
  const dir = join(root, 'trial-killed');
  const cli = startCli(['study', 'run', longer, '--dir', dir, '--threads', '1'], { env });
  // The child to kill: one whose staging folder has a checkpoint, found by its config file on its command line.
  let trial: number[] = [];
  await waitFor('a trial to train past a checkpoint', () => {
    const runs = existsSync(join(dir, 'runs')) ? readdirSync(join(dir, 'runs')) : [];
    const name = runs.find((n) => n.endsWith('.partial') && existsSync(join(dir, 'runs', n, 'checkpoint.safetensors')));
    trial = name === undefined ? [] : processesMentioning(join(dir, 'config', `${name.slice(1, -'.partial'.length)}.yaml`));
    return trial.length === 1;
  });
  process.kill(trial[0], 'SIGKILL');
  const end = await cli.done;
  assert.equal(end.code, 0, cli.stderr());
  const events = journalEvents(dir);
  const lost = events.filter((e) => e.type === 'trial_lost') as unknown as { node: number; attempt: number; reason: string }[];
  assert.equal(lost.length, 1);
  assert.match(lost[0].reason, /^inrscape train was killed by SIGKILL/);
  const got = checkStudyFolder(dir);
  const node = got.nodes[lost[0].node - 1];
  assert.equal(node.attempts, 2);
  assert.match(readFileSync(join(dir, `${runDir(node.id, node.slot)}.log`), 'utf8'), /attempt 2 \(resume\)/);
  assertSameEnd(dir, got, want, reference);
});

test('Ctrl-C (SIGINT): the study stops its trials, releases the lock, says how to resume, and resumes', async () => {
  const dir = join(root, 'interrupted');
  const cli = startCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--iterations', '2'], { env });
  await waitFor('a trial to train', () => trainingWithCheckpoint(dir));
  cli.child.kill('SIGINT');
  const end = await cli.done;
  assert.equal(end.code, 130);
  assert.match(cli.stderr(), new RegExp(`inrscape: interrupted \\(SIGINT\\); continue with 'inrscape study resume ${dir}'\\n$`));
  assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released');
  await waitFor('its trials to stop', () => processesMentioning(dir).length === 0, 3000);
  const resumed = startCli(['study', 'resume', dir, '--threads', '1'], { env });
  assert.equal((await resumed.done).code, 0, resumed.stderr());
  assert.equal(checkStudyFolder(dir).nodes.length, 2);
});
