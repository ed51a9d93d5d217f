import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../src/config/schema.js';
import { StudyBuilder } from '../src/study/builder.js';
import { trialsToRun } from '../src/study/advance.js';
import { JournalError } from '../src/study/journal.js';
import { applyEvent, foldEvents, nextAction, planNextBatch } from '../src/study/state.js';

test('a new study proposes batch 0 of `slots` trials in block 0', () => {
  const b = new StudyBuilder({ iterations: 10, slots: 4, block: 6 });
  assert.deepEqual(nextAction(b.state), { kind: 'propose', batch: 0, block: 0, size: 4, firstNode: 1 });
});

test('node ids are iteration numbers; a batch never spans two blocks; the last batch is cut to the iterations', () => {
  const b = new StudyBuilder({ iterations: 10, slots: 4, block: 6 });
  const sizes: number[] = [];
  const blocks: number[] = [];
  for (;;) {
    b.settle();
    const next = nextAction(b.state);
    if (next.kind !== 'propose') break;
    sizes.push(next.size);
    blocks.push(next.block);
    const ids = b.batch(new Array(next.size).fill(0).map((_, i) => ({ inr: { omega_inr: 1 + next.firstNode + i } })));
    assert.deepEqual(ids, Array.from({ length: next.size }, (_, i) => next.firstNode + i));
    for (const id of ids) b.finish(id, 0.9);
  }
  assert.deepEqual(sizes, [4, 2, 4]);
  assert.deepEqual(blocks, [0, 0, 1]);
  assert.deepEqual(b.state.blocks.map((x) => x.nodes), [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]]);
  assert.ok(b.state.blocks.every((x) => x.closed), 'the short last block closes too');
  assert.deepEqual(nextAction(b.state), { kind: 'done' });
});

test('the next action walks run -> analyse -> close block -> propose', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2, block: 2 });
  const [n1, n2] = b.batch([{}, { inr: { omega_inr: 15 } }]);
  assert.deepEqual(nextAction(b.state), { kind: 'run', batch: 0, nodes: [1, 2], promote: [] });
  b.finish(n1, 0.95);
  assert.deepEqual(nextAction(b.state), { kind: 'run', batch: 0, nodes: [2], promote: [] });
  b.fail(n2, 'out of memory');
  assert.deepEqual(nextAction(b.state), { kind: 'analyse', batch: 0 });
  b.push({ type: 'agent_notes', batch: 0, agent: 'test', notes: [], memory: {} });
  assert.deepEqual(nextAction(b.state), { kind: 'close_block', block: 0 });
  b.push({ type: 'block_closed', block: 0, agent: 'test', summary: '', key_finding: '', best_node: 1, principles: [], open_questions: [], hypothesis_next: '' });
  assert.deepEqual(nextAction(b.state), { kind: 'propose', batch: 1, block: 1, size: 2, firstNode: 3 });
});

test('resume: a batch with finished, failed, running and pending trials re-runs only the unfinished ones, with the same config and seed', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 4 });
  b.batch([{}, { inr: { omega_inr: 5 } }, { inr: { omega_inr: 15 } }, { inr: { omega_inr: 20 } }]);
  b.finish(1, 0.99).fail(2, 'NaN loss').start(3);
  // A crash now: node 3 was running, node 4 never started.
  const state = foldEvents(b.entries);
  assert.equal(state.nodes[2].status, 'running');
  assert.deepEqual(nextAction(state), { kind: 'run', batch: 0, nodes: [3, 4], promote: [] });
  const runs = trialsToRun(state);
  assert.deepEqual(runs.map((r) => [r.node, r.attempt, r.inr.omega_inr, r.seed]), [
    [3, 2, 15, state.nodes[2].seed],
    [4, 1, 20, state.nodes[3].seed],
  ]);
  assert.notEqual(state.nodes[2].seed, state.nodes[3].seed);
});

test('folding is the same whether replayed at once or event by event', () => {
  const b = new StudyBuilder({ iterations: 4, slots: 2, block: 2 });
  b.batch([{}, { inr: { inr_learning_rate: 2e-4 } }]);
  b.finish(1, 0.991).finish(2, { final_r2: 0.999, training_time_min: 61 });
  b.settle();
  const replay = foldEvents(b.entries);
  assert.deepEqual(replay, b.state);
  assert.equal(replay.nodes[0].klass, 'good');
  assert.equal(replay.nodes[1].klass, 'poor', 'over the 60-min budget');
});

test('enqueued configs wait in the queue until a batch takes them', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2 });
  const inr = { ...defaultConfig().inr, omega_inr: 7 };
  b.push({ type: 'enqueued', id: 1, inr, parent: null, note: 'mine' });
  b.push({ type: 'enqueued', id: 2, inr: { ...inr, omega_inr: 8 }, parent: null, note: '' });
  assert.deepEqual(b.state.queue.map((q) => q.id), [1, 2]);
  b.push({
    type: 'batch_proposed', batch: 0, block: 0, agent: 'test', dropped_enqueued: [{ id: 2, reason: 'duplicate' }],
    trials: [{ node: 1, slot: 0, parent: null, mutation: 'user', strategy: 'user', changed: ['omega_inr'], inr, predicted_minutes: null, seed: 1, source: 'user', enqueued: 1 }],
  });
  assert.deepEqual(b.state.queue, []);
  assert.equal(b.state.nodes[0].enqueued, 1);
});

test('events that contradict the state are errors naming the journal line', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2 });
  b.batch([{}]);
  const bad = (body: Parameters<StudyBuilder['push']>[0]): RegExp | undefined => {
    const state = foldEvents(b.entries);
    try {
      applyEvent(state, { line: 99, event: { v: 1, at: 'x', ...body } as never });
    } catch (err) {
      assert.ok(err instanceof JournalError);
      return undefined;
    }
    assert.fail(`accepted ${body.type}`);
  };
  bad({ type: 'trial_finished', node: 7, attempt: 1, run_dir: 'r', metrics: { final_r2: 1, final_mse: 0, slope: 1, training_time_min: 1 } });
  bad({ type: 'batch_proposed', batch: 1, block: 0, agent: 'x', trials: [] });
  bad({ type: 'block_closed', block: 3, agent: 'x', summary: '', key_finding: '', best_node: null, principles: [], open_questions: [], hypothesis_next: '' });
  bad({ type: 'enqueued', id: 5, inr: defaultConfig().inr, parent: null, note: '' });
  b.finish(1, 0.9);
  bad({ type: 'trial_failed', node: 1, attempt: 1, reason: 'twice' });
  assert.throws(() => applyEvent(foldEvents(b.entries), { line: 42, event: { v: 1, at: 'x', type: 'trial_finished', node: 9, attempt: 1, run_dir: 'r', metrics: { final_r2: 1, final_mse: 0, slope: 1, training_time_min: 1 } } }), /journal line 42: trial_finished for unknown node 9/);
});

test('settings_changed extends a finished study into a new block', () => {
  const b = new StudyBuilder({ iterations: 2, slots: 2, block: 24 });
  b.batch([{}, { inr: { omega_inr: 5 } }]);
  b.finish(1, 0.9).finish(2, 0.91).settle();
  assert.deepEqual(nextAction(b.state), { kind: 'done' });
  assert.ok(b.state.blocks[0].closed, 'the study ended, so its short block closed');
  b.push({ type: 'settings_changed', iterations: 4 });
  assert.deepEqual(planNextBatch(b.state), { batch: 1, block: 1, size: 2, firstNode: 3 });
});
