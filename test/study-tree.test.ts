import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StudyBuilder } from '../src/study/builder.js';
import { classify, classifyR2 } from '../src/study/classify.js';
import { bestNode, lineage, planParents, puctScores, scoringBlock } from '../src/study/tree.js';

/**
 * The hand-built tree (one block, c = 1.414, N = 6 nodes):
 *
 *   1 (R2 0.90) ── 3 (0.80)
 *   2 (0.95) ──┬── 4 (0.97) ── 6 (0.99)
 *              └── 5 (failed: scores 0)
 *
 * V = 1 + descendants: V1 = 2, V2 = 4, V3 = 1, V4 = 2, V5 = 1, V6 = 1.
 * Bonus c*sqrt(6)/(1+V): V=1 -> 1.731789248, V=2 -> 1.154526165, V=4 -> 0.692715699.
 */
function handBuilt(): StudyBuilder {
  const b = new StudyBuilder({ iterations: 24, slots: 4, block: 24, ucbC: 1.414 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.9).finish(2, 0.95);
  b.batch([{ parent: 1, inr: { omega_inr: 5 } }, { parent: 2, inr: { inr_learning_rate: 2e-4 } }, { parent: 2, inr: { inr_learning_rate: 5e-5 } }]);
  b.finish(3, 0.8).finish(4, 0.97).fail(5, 'NaN loss');
  b.batch([{ parent: 4, inr: { hidden_dim_inr: 512 } }]);
  b.finish(6, 0.99);
  return b;
}

test('PUCT: R2 + c*sqrt(N)/(1+V) with V = 1 + descendants, on a hand-built tree', () => {
  const scores = puctScores(handBuilt().state, { block: 0, c: 1.414 });
  const got = Object.fromEntries(scores.map((s) => [s.id, { ucb: Number(s.ucb.toFixed(9)), visits: s.visits, r2: s.r2 }]));
  assert.deepEqual(got, {
    1: { ucb: 2.054526165, visits: 2, r2: 0.9 },
    2: { ucb: 1.642715699, visits: 4, r2: 0.95 },
    3: { ucb: 2.531789248, visits: 1, r2: 0.8 },
    4: { ucb: 2.124526165, visits: 2, r2: 0.97 },
    5: { ucb: 1.731789248, visits: 1, r2: 0 },
    6: { ucb: 2.721789248, visits: 1, r2: 0.99 },
  });
  assert.deepEqual(scores.map((s) => s.id), [6, 3, 4, 1, 5, 2], 'highest first');
  assert.equal(Number(scores[0].bonus.toFixed(9)), 1.731789248);
});

test('c = 0 ranks by R2 alone; a failed trial scores R2 = 0', () => {
  const scores = puctScores(handBuilt().state, { block: 0, c: 0 });
  assert.deepEqual(scores.map((s) => [s.id, s.ucb]), [[6, 0.99], [4, 0.97], [2, 0.95], [1, 0.9], [3, 0.8], [5, 0]]);
});

test('scoring restarts each block: N and descendants count only the scored block', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2, block: 2, ucbC: 1 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.9).finish(2, 0.8);
  b.batch([{ parent: 1, inr: { omega_inr: 5 } }]);
  b.finish(3, 0.95);
  b.batch([{ parent: 3, inr: { inr_learning_rate: 2e-4 } }]);
  b.finish(4, 0.96);
  const block1 = puctScores(b.state, { block: 1, c: 1 });
  // N = 2 (nodes 3, 4); node 1 (block 0) is not a candidate; V3 = 2, V4 = 1.
  assert.deepEqual(block1.map((s) => [s.id, s.visits, Number(s.ucb.toFixed(9))]), [
    [4, 1, Number((0.96 + Math.SQRT2 / 2).toFixed(9))],
    [3, 2, Number((0.95 + Math.SQRT2 / 3).toFixed(9))],
  ]);
  // Block 0 scored on its own: node 1's descendants in block 1 do not count.
  const block0 = puctScores(b.state, { block: 0, c: 1 });
  assert.deepEqual(block0.map((s) => [s.id, s.visits]), [[1, 1], [2, 1]]);
});

test('virtual parents count as pending children', () => {
  const s = handBuilt().state;
  const withVirtual = puctScores(s, { block: 0, c: 1.414, virtualParents: [6, 6] });
  const six = withVirtual.find((x) => x.id === 6)!;
  // N = 8, V6 = 3: 0.99 + 1.414*sqrt(8)/4.
  assert.equal(six.visits, 3);
  assert.equal(Number(six.ucb.toFixed(9)), Number((0.99 + (1.414 * Math.sqrt(8)) / 4).toFixed(9)));
});

test('every slot of a batch takes the highest-UCB node; before any result, root', () => {
  const b = handBuilt();
  assert.deepEqual(planParents(b.state, 3), [6, 6, 6]);
  const fresh = new StudyBuilder();
  assert.deepEqual(planParents(fresh.state, 2), [null, null]);
  assert.equal(scoringBlock(fresh.state), undefined);
});

test('the first batch of a new block scores with the last block that has results', () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2, block: 2 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.9).finish(2, 0.95).settle();
  assert.equal(scoringBlock(b.state, 1), 0);
  assert.deepEqual(planParents(b.state, 2, 1), [2, 2]);
});

test('the best node has the highest R2 within the budget', () => {
  const b = handBuilt();
  assert.equal(bestNode(b.state)?.id, 6);
  b.batch([{ parent: 6, inr: { inr_total_steps: 1000000 } }]);
  b.finish(7, { final_r2: 0.999, training_time_min: 75 });
  assert.equal(bestNode(b.state)?.id, 6, 'node 7 ran over the 60-min budget');
  assert.deepEqual(lineage(b.state, 7).map((n) => n.id), [7, 6, 4, 2]);
});

test("classification follows the protocol's boundaries exactly", () => {
  const cases: [number, string][] = [
    [0.999, 'excellent'], [0.9950001, 'excellent'], [0.995, 'good'], [0.9925, 'good'], [0.99, 'good'],
    [0.98999, 'moderate'], [0.95, 'moderate'], [0.9, 'moderate'], [0.89999, 'poor'], [0.2, 'poor'], [-1, 'poor'], [NaN, 'poor'],
  ];
  for (const [r2, cls] of cases) assert.equal(classifyR2(r2), cls, `R2 = ${r2}`);
});

test('over the time budget is poor whatever the R2; failed is its own class', () => {
  const m = { final_r2: 0.999, final_mse: 1e-5, slope: 1, training_time_min: 60 };
  assert.equal(classify(m, 60), 'excellent', 'exactly at the budget is within it');
  assert.equal(classify({ ...m, training_time_min: 60.01 }, 60), 'poor');
  assert.equal(classify({ ...m, training_time_min: 3 }, 2), 'poor', 'the study budget, not a fixed 60');
  assert.equal(classify({ ...m, training_time_min: 30, time_limited: true }, 60), 'poor', 'stopped by the budget');
  assert.equal(classify(undefined, 60), 'failed');
});
