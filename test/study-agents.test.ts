import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../src/config/schema.js';
import type { InrConfig } from '../src/config/inr.js';
import { SEARCH_PARAMS, type ExplorableKey } from '../src/config/search-space.js';
import { analyseBatch, closeBlock, proposeBatch, studyCostModel } from '../src/study/advance.js';
import type { ProposeContext } from '../src/study/agents/agent.js';
import { createAgent } from '../src/study/agents/index.js';
import { RandomAgent } from '../src/study/agents/random.js';
import { RulesAgent } from '../src/study/agents/rules.js';
import { defaultGamma, defaultWeights, normalMass } from '../src/study/agents/tpe.js';
import { StudyBuilder } from '../src/study/builder.js';
import { studyCreatedEvent } from '../src/study/create.js';
import type { BatchProposedEvent } from '../src/study/journal.js';
import { validateProposal, safetyContext } from '../src/study/safety.js';
import { studyRng } from '../src/study/seeds.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { nextAction, type StudyState } from '../src/study/state.js';

function proposeCtx(state: StudyState, slots = state.settings.slots): ProposeContext {
  const next = nextAction(state);
  assert.equal(next.kind, 'propose');
  return {
    state, base: state.config, space: state.space, budgetMinutes: state.settings.max_trial_minutes, cost: studyCostModel(state),
    rng: studyRng(state.settings.seed, 'propose', state.batches.length), batch: state.batches.length,
    block: (next as { block: number }).block, slots, pending: [], pendingParents: [],
  };
}

/** Whether `from -> to` is one of the protocol's moves for `key` (multiply by, or add, one of its `by`). */
function protocolMove(key: ExplorableKey, from: number, to: number): boolean {
  const m = SEARCH_PARAMS.find((p) => p.key === key)!.mutation;
  return m.by.some((by) => {
    const want = m.op === 'add' ? from + by : from * by;
    return Math.abs(want - to) <= 1e-9 * Math.abs(want) || Math.round(want) === to;
  });
}

function changed(a: InrConfig, b: InrConfig): ExplorableKey[] {
  return SEARCH_PARAMS.map((p) => p.key as ExplorableKey).filter((k) => a[k] !== b[k]);
}

test('rules, batch 0: the base config and diverse starts, all roots', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 4, maxTrialMinutes: 1e9 });
  const proposals = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(proposals.length, 4);
  assert.ok(proposals.every((p) => p.parent === null && p.strategy === 'start'));
  assert.equal(proposals[0].mutation, 'start: base config');
  const ev = await proposeBatch(b.state, { agent: new RulesAgent() });
  assert.equal(new Set(ev.trials.map((t) => JSON.stringify(t.inr))).size, 4);
  assert.ok(ev.trials.slice(1).every((t) => t.changed.length === 2), 'two-parameter starts');
  assert.equal(ev.trials[1].mutation.startsWith('start: omega_inr 10 -> 5 (-5); inr_learning_rate 1e-4 -> 2e-4 (x2)'), true);
});

test('rules: exploit by default, from the highest-UCB node, with the protocol magnitudes and a different parameter per slot', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 4 });
  b.batch([{}, { inr: { omega_inr: 15 } }, { inr: { hidden_dim_inr: 512 } }, { inr: { inr_batch_size: 4 } }]);
  b.finish(1, 0.93).finish(2, 0.94).finish(3, 0.9).finish(4, 0.97).settle();
  const proposals = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(proposals.length, 4);
  const parent = b.state.nodes[3];
  const keys: ExplorableKey[] = [];
  for (const p of proposals) {
    assert.equal(p.strategy, 'exploit');
    assert.equal(p.parent, 4, 'node 4 has the highest R2 and so the highest UCB');
    const inr = { ...parent.inr, ...(p.inr as Partial<InrConfig>) };
    const ks = changed(parent.inr, inr);
    assert.ok(ks.length >= 1 && ks.length <= 2);
    for (const k of ks) assert.ok(protocolMove(k, parent.inr[k], inr[k]), `${k}: ${parent.inr[k]} -> ${inr[k]} is a protocol move`);
    keys.push(...ks);
  }
  assert.equal(new Set(keys).size, keys.length, 'each slot changes a different parameter');
  assert.match(proposals[0].mutation, /^inr_learning_rate 1e-4 -> 2e-4 \(x2\) \(untried move; parent R2=0\.970000\)$/);
});

test('rules: a move that improved R2 before is repeated; two such moves are combined in the first slot', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 2 });
  b.batch([{}]);
  b.finish(1, 0.9);
  b.batch([{ parent: 1, inr: { inr_learning_rate: 2e-4 } }, { parent: 1, inr: { omega_inr: 15 } }]);
  b.finish(2, 0.915).finish(3, 0.91).settle();
  const [first, second] = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(first.parent, 2);
  assert.deepEqual(first.inr, { inr_learning_rate: 4e-4, omega_inr: 15 });
  assert.match(first.mutation, /both improved R2 before: \+0\.0150 and \+0\.0100/);
  assert.equal(second.strategy, 'exploit');
});

test("rules: a move that gained 0.02 or more into the parent is taken at twice that step, up to 4x the protocol's; a smaller gain returns to the protocol's step", async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 1 });
  b.batch([{}]);
  b.finish(1, 0.3);
  const next = async (parent: number, r2: number): Promise<{ omega: number | undefined; mutation: string }> => {
    const [p] = await new RulesAgent().propose(proposeCtx(b.state));
    assert.equal(p.parent, parent);
    const [id] = b.batch([{ parent, inr: p.inr as Partial<InrConfig> }]);
    b.finish(id, r2).settle();
    return { omega: (p.inr as Partial<InrConfig>).omega_inr, mutation: p.mutation };
  };
  const [id] = b.batch([{ parent: 1, inr: { omega_inr: 15 } }]);
  b.finish(id, 0.5).settle();
  const double = await next(2, 0.8);
  assert.equal(double.omega, 25);
  assert.match(double.mutation, /^omega_inr 15 -> 25 \(\+10\) \(mean dR2 \+0\.2000 over 1 earlier trial; parent R2=0\.500000; 2x the protocol's step: the same move gained \+0\.0200 or more into the parent\)$/);
  const quadruple = await next(3, 0.81);
  assert.equal(quadruple.omega, 45, '4x: +20');
  const back = await next(4, 0.82);
  assert.equal(back.omega, 50, 'the gain into node 4 was 0.01: the protocol step again');
});

/**
 * Node 3 (omega 15) is best; lr x2 gained 0.3 from node 1 and then, from node
 * 3, lost 0.01, or was pruned at R2 0.6 at a fifth of its steps (node 3 had R2
 * `parentAtStop` there, if given).
 */
function lrLostLatest(latest: 'finished' | 'pruned', parentAtStop?: number): StudyBuilder {
  const b = new StudyBuilder({ iterations: 24, slots: 2, ucbC: 0 });
  const fifth = b.state.config.inr.inr_total_steps / 5;
  b.batch([{}]);
  b.finish(1, 0.5);
  b.batch([{ parent: 1, inr: { inr_learning_rate: 2e-4 } }, { parent: 1, inr: { omega_inr: 15 } }]);
  b.start(3);
  if (parentAtStop !== undefined) b.push({ type: 'trial_evaluation', node: 3, attempt: 1, step: fifth, r2: parentAtStop, mse: 0.1, slope: 1, time_s: 1 });
  b.finish(2, 0.8).finish(3, 0.85).settle();
  b.batch([{ parent: 3, inr: { inr_learning_rate: 2e-4 } }]);
  if (latest === 'finished') return b.finish(4, 0.84).settle();
  const metrics = { final_r2: 0.6, final_mse: 0.4, slope: 1, training_time_min: 0.2, steps_done: fifth };
  return b.start(4).push({ type: 'trial_pruned', node: 4, attempt: 1, by: 'median', reason: 'below the median', metrics }).settle();
}

test("rules: a move whose latest trial lost R2 is not made again on its earlier mean gain, and the opposite move is tried instead", async () => {
  const b = lrLostLatest('finished');
  const [first, second] = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(first.parent, 3);
  assert.deepEqual(first.inr, { omega_inr: 25 }, 'omega +5 stretched to +10, alone: lr x2 is no longer a gain to combine it with');
  assert.deepEqual(second.inr, { inr_learning_rate: 5e-5 }, "lr /2: half the opposite move's latest loss (0.005) beats the untried moves' priors");
  assert.match(second.mutation, /^inr_learning_rate 1e-4 -> 5e-5 \(\/2\) \(untried move; the opposite move's latest trial lost -0\.0100; parent R2=0\.850000\)$/);
});

test("rules: a pruned trial is set against its parent at the same tenth of the steps, or, where the parent has no evaluation there, is no latest loss", async () => {
  const combined = async (b: StudyBuilder): Promise<boolean> => /both improved R2 before/.test((await new RulesAgent().propose(proposeCtx(b.state)))[0].mutation);
  assert.equal(await combined(lrLostLatest('pruned')), true, 'no evaluation of node 3 at the stop: lr x2 keeps its mean gain');
  assert.equal(await combined(lrLostLatest('pruned', 0.5)), true, 'R2 0.6 against the parent\'s 0.5 at the same tenth: a gain');
  assert.equal(await combined(lrLostLatest('pruned', 0.7)), false, 'R2 0.6 against the parent\'s 0.7 at the same tenth: a latest loss');
});

test('rules: a pair of moves made together before and no better for it is not combined again; each move alone still is made', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 2, ucbC: 0 });
  b.batch([{}]);
  b.finish(1, 0.9);
  b.batch([{ parent: 1, inr: { inr_learning_rate: 2e-4 } }, { parent: 1, inr: { omega_inr: 15 } }]);
  b.finish(2, 0.91).finish(3, 0.915).settle();
  b.batch([{ parent: 2, inr: { inr_learning_rate: 4e-4, omega_inr: 15 } }]);
  b.finish(4, 0.9).settle();
  const proposals = await new RulesAgent().propose(proposeCtx(b.state));
  assert.ok(proposals.every((p) => p.parent === 3));
  assert.deepEqual(proposals.map((p) => p.inr), [{ omega_inr: 20 }, { inr_learning_rate: 2e-4 }], 'lr x2 with omega +5 lost 0.01 at node 4');
});

test("rules: a pair whose latest trial lost is not combined again on its earlier mean gain", async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 2, ucbC: 0 });
  b.batch([{}]);
  b.finish(1, 0.5);
  b.batch([{ parent: 1, inr: { inr_learning_rate: 2e-4 } }, { parent: 1, inr: { omega_inr: 15 } }]);
  b.finish(2, 0.6).finish(3, 0.7).settle();
  b.batch([{ parent: 1, inr: { inr_learning_rate: 2e-4, omega_inr: 15 } }, { parent: 2, inr: { inr_learning_rate: 4e-4, omega_inr: 15 } }]);
  b.finish(4, 0.9).finish(5, 0.55).settle();
  const [first] = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(first.parent, 4);
  assert.deepEqual(first.inr, { omega_inr: 20 }, 'lr x2 with omega +5 gained 0.4 at node 4, then lost 0.05 at node 5: omega +5 alone');
});

test('rules: a cheaper move refilled with the steps the budget buys is measured as that move', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 4, maxTrialMinutes: 60, ucbC: 0 });
  b.batch([{ inr: { inr_total_steps: 185000 } }]);
  b.finish(1, { final_r2: 0.9, training_time_min: 59 });
  b.batch([{ parent: 1, inr: { hidden_dim_inr: 256, inr_total_steps: 433000 } }]);
  b.finish(2, { final_r2: 0.8, training_time_min: 59 }).settle();
  const proposals = await new RulesAgent().propose(proposeCtx(b.state));
  assert.ok(proposals.length > 0);
  for (const p of proposals) {
    assert.equal(p.parent, 1);
    const width = (p.inr as Partial<InrConfig>).hidden_dim_inr;
    assert.ok(width === undefined || width > 384, `${p.mutation}: width -128 lost 0.1 with its refill, so it is not "untried"`);
  }
  const summary = await new RulesAgent().closeBlock({ ...proposeCtx(b.state), block: 0 });
  assert.ok(summary.open_questions.includes('hidden_dim_inr down: one trial only (-0.1000 at node 2): confirm.'), summary.open_questions.join('\n'));
});

test('rules: a move that makes each step cheaper takes no stride, since the steps its freed budget buys stop at the base config\'s', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 1, maxTrialMinutes: 60, ucbC: 0 });
  b.batch([{ inr: { inr_total_steps: 185000 } }]);
  b.finish(1, { final_r2: 0.8, training_time_min: 59 });
  b.batch([{ parent: 1, inr: { inr_batch_size: 4, inr_total_steps: 379000 } }]);
  b.finish(2, { final_r2: 0.85, training_time_min: 59 }).settle();
  const [p] = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(p.parent, 2);
  assert.equal((p.inr as Partial<InrConfig>).inr_batch_size, 2, 'batch /2 gained 0.05 with its refill: /2 again, not /4');
  assert.match(p.mutation, /^inr_batch_size 4 -> 2 \(\/2\); inr_total_steps 379000 -> 500000 \(to the budget\) \(mean dR2 \+0\.0500 over 1 earlier trial;/);
});

test('rules: a stride the budget cannot pay for falls back to the protocol step', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 1, maxTrialMinutes: 10 });
  b.batch([{}]);
  b.finish(1, { final_r2: 0.5, training_time_min: 1 });
  const [id] = b.batch([{ parent: 1, inr: { hidden_dim_inr: 512 } }]);
  b.finish(id, { final_r2: 0.6, training_time_min: 1 }).settle();
  const ctx = proposeCtx(b.state);
  // Width 640 fits the 10-min budget, 768 (twice the winning +128) does not.
  const propose = async (limit: number) => {
    const [p] = await new RulesAgent().propose({ ...ctx, cost: { ...ctx.cost, predictMinutes: (inr) => (inr.hidden_dim_inr > limit ? 60 : 1) } });
    return p.inr as Partial<InrConfig>;
  };
  assert.deepEqual(await propose(1024), { hidden_dim_inr: 768 });
  assert.deepEqual(await propose(640), { hidden_dim_inr: 640 });
});

test('rules: a failure-probe after 3 consecutive R2 >= 0.95, in one slot only', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 4 });
  b.batch([{}, { inr: { omega_inr: 15 } }, { inr: { hidden_dim_inr: 512 } }]);
  b.finish(1, 0.95).finish(2, 0.96).finish(3, 0.99).settle();
  const proposals = await new RulesAgent().propose(proposeCtx(b.state));
  const probes = proposals.filter((p) => p.strategy === 'failure-probe');
  assert.equal(probes.length, 1);
  assert.equal(probes[0].parent, 3);
  assert.deepEqual(probes[0].inr, { inr_learning_rate: 1e-3 }, 'pushed to the end of its range');
  assert.match(probes[0].mutation, /^failure-probe: inr_learning_rate 1e-4 -> 0\.001 \(range max\) after 3 consecutive R2 >= 0\.95, to find where R2 breaks$/);
  assert.ok(proposals.filter((p) => p.strategy !== 'failure-probe').every((p) => p.strategy === 'exploit'));

  const c = new StudyBuilder({ iterations: 24, slots: 4 });
  c.batch([{}, { inr: { omega_inr: 15 } }, { inr: { hidden_dim_inr: 512 } }]);
  c.finish(1, 0.95).finish(2, 0.94).finish(3, 0.99).settle();
  const none = await new RulesAgent().propose(proposeCtx(c.state));
  assert.ok(none.every((p) => p.strategy !== 'failure-probe'), 'only 1 consecutive (node 2 broke the streak)');
});

test('rules: switch-param once a parameter was mutated 4 times along the lineage', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 1 });
  b.batch([{}]);
  b.finish(1, 0.9);
  let lr = 1e-4;
  for (let i = 0; i < 4; i++) {
    lr /= 2;
    const [id] = b.batch([{ parent: i + 1, inr: { inr_learning_rate: lr } }]);
    b.finish(id, 0.91 + i * 0.01);
  }
  b.settle();
  // lr /2 improved R2 four times out of four: exploit would pick it again.
  const [p] = await new RulesAgent().propose(proposeCtx(b.state));
  assert.equal(p.parent, 5);
  assert.equal(p.strategy, 'switch-param');
  assert.ok(!('inr_learning_rate' in (p.inr as object)));
  assert.match(p.mutation, /switch-param: inr_learning_rate already changed 4 times on this lineage/);

  const c = new StudyBuilder({ iterations: 24, slots: 1 });
  c.batch([{}]);
  c.finish(1, 0.9);
  lr = 1e-4;
  for (let i = 0; i < 3; i++) {
    lr /= 2;
    const [id] = c.batch([{ parent: i + 1, inr: { inr_learning_rate: lr } }]);
    c.finish(id, 0.91 + i * 0.01);
  }
  c.settle();
  const [q] = await new RulesAgent().propose(proposeCtx(c.state));
  assert.equal(q.strategy, 'exploit');
  assert.deepEqual(q.inr, { inr_learning_rate: lr / 2 }, 'three times: keep going');
});

test('rules: from a parent the budget bounds, a move that makes steps cheaper takes the steps the freed budget buys; from an unbounded one it does not', async () => {
  const bound = async (minutes: number, time_limited: boolean) => {
    const b = new StudyBuilder({ iterations: 24, slots: 4, maxTrialMinutes: 60 });
    b.batch([{ inr: { inr_total_steps: 185000 } }]);
    b.finish(1, { final_r2: 0.9, training_time_min: minutes, time_limited, ...(time_limited ? { steps_done: 150000 } : {}) }).settle();
    const ctx = proposeCtx(b.state);
    const parent = b.state.nodes[0].inr;
    return { parent, ctx, proposals: (await new RulesAgent().propose(ctx)).map((p) => ({ ...p, full: { ...parent, ...(p.inr as Partial<InrConfig>) } })) };
  };
  for (const [minutes, limited] of [[60, true], [55, false]] as const) {
    const { parent, ctx, proposals } = await bound(minutes, limited);
    const cheaper = proposals.filter((p) => p.full.hidden_dim_inr < parent.hidden_dim_inr || p.full.n_layers_inr < parent.n_layers_inr || p.full.inr_batch_size < parent.inr_batch_size);
    // A move whose freed budget buys under 10% more steps keeps the parent's (layers -1 at width 384 here).
    const refilled = cheaper.filter((p) => p.full.inr_total_steps !== parent.inr_total_steps);
    assert.ok(refilled.length >= 1, `${minutes} min: a cheaper move takes more steps`);
    for (const p of refilled) {
      assert.ok(p.full.inr_total_steps >= 1.1 * parent.inr_total_steps, `${p.mutation}: more steps`);
      assert.ok(p.full.inr_total_steps <= ctx.base.inr.inr_total_steps, 'never past the base config\'s steps');
      assert.ok(ctx.cost.predictMinutes(p.full) <= 60, `${p.mutation}: predicted within the budget`);
      assert.match(p.mutation, /; inr_total_steps 185000 -> \d+ \(to the budget\) .*the budget bounds the parent/);
    }
  }
  const free = await bound(10, false);
  assert.ok(free.proposals.every((p) => p.full.inr_total_steps === free.parent.inr_total_steps || !/to the budget/.test(p.mutation)), 'a parent far inside its budget keeps its steps');
});

test('rules: proposals are deterministic given the journal and the seed', async () => {
  const b = new StudyBuilder({ iterations: 24, slots: 4, seed: 11 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.93).finish(2, 0.93).settle();
  const one = await proposeBatch(b.state, { agent: new RulesAgent() });
  const two = await proposeBatch(b.state, { agent: new RulesAgent() });
  assert.deepEqual(one, two);
});

test('rules: notes, memory and block summaries are computed from the results', async () => {
  const b = new StudyBuilder({ iterations: 8, slots: 2, block: 4 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.9).finish(2, 0.95);
  const notes0 = await analyseBatch(b.state, { agent: new RulesAgent() });
  b.push(notes0);
  assert.match(notes0.notes[0].observation, /^fresh start: R2 0\.900000; MSE 1\.000e-03, slope 1\.0000; 1\.0 min; rank 2\/2 in block 0$/);
  assert.deepEqual(notes0.notes.map((n) => n.next_parent), [2, 2]);
  b.batch([{ parent: 2, inr: { inr_learning_rate: 2e-4 } }, { parent: 2, inr: { inr_learning_rate: 5e-5 } }]);
  b.finish(3, 0.97).fail(4, 'loss became NaN');
  const notes1 = await analyseBatch(b.state, { agent: new RulesAgent() });
  b.push(notes1);
  assert.match(notes1.notes[0].observation, /^R2 0\.970000 vs parent 2 0\.950000 \(\+0\.0200, better\) after changing inr_learning_rate;/);
  assert.match(notes1.notes[0].observation, /best of the study so far$/);
  assert.match(notes1.notes[1].observation, /^failed: loss became NaN; scores R2=0 in UCB; parent 2 had R2=0\.950000/);
  assert.match(notes1.memory.hypothesis!, /^Best so far: node 3 \(R2=0\.970000; omega=15, lr=2e-4/);
  assert.match(notes1.memory.observations!, /inr_learning_rate up: mean dR2 \+0\.0200 over 1 trial/);
  assert.match(notes1.memory.observations!, /failures this block: node 4 \(loss became NaN\)/);
  const closed = await closeBlock(b.state, { agent: new RulesAgent() });
  assert.equal(closed.best_node, 3);
  assert.match(closed.summary, /^Iterations 1-4: 4 trials \(3 moderate, 1 failed\)\. Best: node 3, R2=0\.970000/);
  assert.equal(closed.key_finding, 'inr_learning_rate up improved R2 (+0.0200 mean, 1 trial)');
  assert.ok(closed.open_questions.some((q) => q.startsWith('inr_learning_rate up: one trial only')));
});

const synthetic: Objective = (inr) => {
  // A smooth bowl in log lr and log omega; the other parameters do not matter.
  const u = Math.log(inr.inr_learning_rate / 3e-4);
  const v = Math.log(inr.omega_inr / 15) / 0.7;
  const r2 = 1 - 0.2 * (u * u + v * v);
  return { metrics: { final_r2: r2, final_mse: 1e-3, slope: 1, training_time_min: 1 } };
};

async function bestOf(agent: string, seed: number, iterations: number): Promise<{ best: number; state: StudyState; batches: BatchProposedEvent[] }> {
  const created = studyCreatedEvent(defaultConfig(), { agent: agent as 'tpe', iterations, slots: 4, seed, maxTrialMinutes: 1e6 });
  const { state, entries } = await simulateStudy(created, { agent: createAgent(agent as 'tpe') }, synthetic);
  const batches = entries.map((e) => e.event).filter((e): e is BatchProposedEvent & { v: number; at: string } => e.type === 'batch_proposed');
  return { best: Math.max(...state.nodes.map((n) => n.metrics!.final_r2)), state, batches };
}

test('tpe and random propose inside the search space, deterministically per seed', async () => {
  for (const agent of ['tpe', 'random']) {
    const a = await bestOf(agent, 4, 24);
    for (const n of a.state.nodes) {
      const v = validateProposal({ parent: null, inr: { ...n.inr } }, { ...safetyContext(a.state), nodes: [] });
      assert.ok(v.ok, `${agent} node ${n.id} in range`);
      assert.equal(n.parent, null);
      assert.equal(n.strategy, agent === 'tpe' && n.id === 1 ? 'start' : agent, 'tpe starts from the base config');
    }
    assert.equal(new Set(a.state.nodes.map((n) => JSON.stringify(n.inr))).size, 24, 'no duplicates');
    const b = await bestOf(agent, 4, 24);
    assert.deepEqual(b.batches, a.batches, `${agent}: same seed, same proposals`);
    const c = await bestOf(agent, 5, 24);
    assert.notDeepEqual(c.batches.map((x) => x.trials), a.batches.map((x) => x.trials), `${agent}: another seed, other proposals`);
  }
});

test('tpe: the first proposals are uniform startup samples, then TPE samples saying so', async () => {
  const { state } = await bestOf('tpe', 1, 16);
  assert.match(state.nodes[1].mutation, /^startup uniform sample \(0\/10 trials before TPE\): omega_inr=/);
  assert.match(state.nodes[12].mutation, /^tpe sample \(log l\/g = -?\d+\.\d\d, 12 trials, 2 good\): omega_inr=.*inr_t_period=/);
});

test('tpe finds better configs than random on a smooth objective with the same budget', async () => {
  const seeds = [0, 1, 2, 3, 4, 5];
  let tpe = 0;
  let random = 0;
  for (const seed of seeds) {
    tpe += (await bestOf('tpe', seed, 40)).best / seeds.length;
    random += (await bestOf('random', seed, 40)).best / seeds.length;
  }
  assert.ok(tpe > random + 0.02, `mean best R2: tpe ${tpe.toFixed(4)}, random ${random.toFixed(4)}`);
});

test("tpe's building blocks are Optuna's", () => {
  assert.deepEqual([1, 10, 11, 100, 300].map(defaultGamma), [1, 1, 2, 10, 25]);
  assert.deepEqual(defaultWeights(3), [1, 1, 1]);
  const w = defaultWeights(27);
  assert.equal(w.length, 27);
  assert.equal(w[0], 1 / 27);
  assert.deepEqual(w.slice(2), new Array(25).fill(1));
  assert.ok(Math.abs(normalMass(-40, 40) - 1) < 1e-7);
  assert.ok(Math.abs(normalMass(-1, 1) - 0.6826894921) < 2e-7);
  assert.ok(Math.abs(normalMass(8, 9) / 6.2209e-16 - 1) < 1e-3, 'accurate far in the tail');
});

test('random samples log scales log-uniformly', async () => {
  const b = new StudyBuilder({ iterations: 400, slots: 400, block: 400 });
  const ctx = proposeCtx(b.state, 400);
  const proposals = await new RandomAgent().propose(ctx);
  const lrs = proposals.map((p) => (p.inr as { inr_learning_rate: number }).inr_learning_rate).sort((x, y) => x - y);
  const median = lrs[200];
  assert.ok(median > 1.5e-5 && median < 6e-5, `median ${median} near the geometric middle 3.2e-5 of [1e-6, 1e-3]`);
});

test('tpe: the base config is trial 1, then uniform samples until study.tpe.startup trials are done, then TPE', async () => {
  const config = defaultConfig();
  config.study.tpe = { startup: 3 };
  const created = studyCreatedEvent(config, { agent: 'tpe', iterations: 8, slots: 2, seed: 1, maxTrialMinutes: 1e6 });
  const { state } = await simulateStudy(created, { agent: createAgent('tpe') }, synthetic);
  const explorable = (inr: InrConfig): Record<string, number> => Object.fromEntries(SEARCH_PARAMS.map((p) => [p.key, inr[p.key]]));
  assert.deepEqual(explorable(state.nodes[0].inr), explorable(config.inr));
  assert.equal(state.nodes[0].strategy, 'start');
  assert.match(state.nodes[1].mutation, /^startup uniform sample \(0\/3 trials before TPE\)/);
  assert.match(state.nodes[2].mutation, /^startup uniform sample \(2\/3 trials before TPE\)/);
  assert.match(state.nodes[4].mutation, /^tpe sample \(log l\/g = -?[\d.]+, 4 trials/);
});
