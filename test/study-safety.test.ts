import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { configToYaml, defaultConfig } from '../src/config/schema.js';
import { proposeBatch } from '../src/study/advance.js';
import type { Agent, Proposal } from '../src/study/agents/agent.js';
import { StudyBuilder } from '../src/study/builder.js';
import { repairProposal, safetyContext, validateProposal, type ProposalError } from '../src/study/safety.js';

function study(): StudyBuilder {
  const b = new StudyBuilder({ iterations: 12, slots: 4 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.95).finish(2, 0.97);
  b.batch([{ parent: 2, inr: { inr_learning_rate: 2e-4 } }]);
  return b; // node 3 pending
}

function rules(v: ReturnType<typeof validateProposal>): string[] {
  assert.equal(v.ok, false);
  return (v as { errors: ProposalError[] }).errors.map((e) => `${e.key}:${e.rule}`);
}

test('a valid mutation of a done parent passes, with the changed keys', () => {
  const b = study();
  const v = validateProposal({ parent: 2, inr: { inr_learning_rate: 5e-5 } }, safetyContext(b.state));
  assert.ok(v.ok);
  assert.deepEqual(v.changed, ['inr_learning_rate']);
  assert.equal(v.inr.omega_inr, 15, 'the rest comes from the parent');
  assert.equal(v.inr.inr_type, 'siren_txyz');
});

test('unknown keys in inr are refused, with a suggestion', () => {
  const v = validateProposal({ parent: 1, inr: { omega: 12, hidden_dim: 512 } }, safetyContext(study().state));
  assert.deepEqual(rules(v), ['inr.omega:unknown_key', 'inr.hidden_dim:unknown_key']);
  assert.match((v as { errors: ProposalError[] }).errors[0].message, /did you mean omega_inr\?/);
});

test('the fixed inr keys cannot change (restating them unchanged is fine)', () => {
  const ctx = safetyContext(study().state);
  assert.deepEqual(rules(validateProposal({ parent: 1, inr: { inr_type: 'relu', inr_gradient_mode: true } }, ctx)), ['inr.inr_type:fixed_key', 'inr.inr_gradient_mode:fixed_key']);
  assert.ok(validateProposal({ parent: 1, inr: { inr_type: 'siren_txyz', omega_inr: 20 } }, ctx).ok);
});

test('a whole-config proposal may change only the explorable inr keys', () => {
  const b = study();
  const ctx = safetyContext(b.state);
  const whole = YAML.parse(configToYaml(b.state.config));
  whole.inr.omega_inr = 25;
  assert.ok(validateProposal({ parent: null, config: whole }, ctx).ok, 'the rendered config with a new omega is fine');

  const otherSection = structuredClone(whole);
  otherSection.dataset.seed = 9;
  otherSection.study.iterations = 1000;
  assert.deepEqual(rules(validateProposal({ parent: null, config: otherSection }, ctx)), ['dataset:immutable_section', 'study:immutable_section']);

  const added = structuredClone(whole);
  added.training = { n_epochs: 5 };
  assert.deepEqual(rules(validateProposal({ parent: null, config: added }, ctx)), ['training:immutable_section']);

  const broken = structuredClone(whole);
  broken.study.slots = -1;
  assert.deepEqual(rules(validateProposal({ parent: null, config: broken }, ctx)), ['config:invalid_config']);
});

test("values must lie in the study's search space, as whole numbers where needed", () => {
  const ctx = safetyContext(study().state);
  const v = validateProposal({ parent: 1, inr: { inr_learning_rate: 1e-2, omega_inr: 0.5, hidden_dim_inr: 400.5, inr_batch_size: 3, n_layers_inr: '3', inr_total_steps: 10 } }, ctx);
  assert.deepEqual(rules(v), [
    'inr.inr_learning_rate:out_of_range', 'inr.omega_inr:out_of_range', 'inr.hidden_dim_inr:not_integer',
    'inr.inr_batch_size:not_a_choice', 'inr.n_layers_inr:not_a_number', 'inr.inr_total_steps:out_of_range',
  ]);
  const msg = (v as { errors: ProposalError[] }).errors[0].message;
  assert.equal(msg, "inr.inr_learning_rate = 0.01: outside the study's search range [1e-6, 0.001]");
});

test('a narrowed search space is enforced, also on values inherited from the base config', () => {
  const config = defaultConfig();
  config.study.search_space = { inr_total_steps: { min: 500, max: 20000 } };
  const b = new StudyBuilder({ config, iterations: 4 });
  const ctx = safetyContext(b.state);
  assert.deepEqual(rules(validateProposal({ parent: null, inr: { omega_inr: 12 } }, ctx)), ['inr.inr_total_steps:out_of_range']);
  assert.ok(validateProposal({ parent: null, inr: { omega_inr: 12, inr_total_steps: 5000 } }, ctx).ok);
});

test('an exact duplicate of a done, pending or same-batch config is refused', () => {
  const b = study();
  const ctx = safetyContext(b.state);
  assert.deepEqual(rules(validateProposal({ parent: 1, inr: { omega_inr: 15 } }, ctx)), ['inr:duplicate'], 'equals node 2');
  assert.deepEqual(rules(validateProposal({ parent: 2, inr: { inr_learning_rate: 2e-4 } }, ctx)), ['inr:duplicate'], 'equals pending node 3');
  assert.deepEqual(rules(validateProposal({ parent: 1, inr: {} }, ctx)), ['inr:duplicate'], 'no change at all');
  const withPending = safetyContext(b.state, [{ ...b.state.nodes[0].inr, omega_inr: 30 }]);
  const v = validateProposal({ parent: 1, inr: { omega_inr: 30 } }, withPending);
  assert.deepEqual(rules(v), ['inr:duplicate']);
  assert.match((v as { errors: ProposalError[] }).errors[0].message, /earlier slot of this batch/);
});

test('the parent must be a node with a result', () => {
  const ctx = safetyContext(study().state);
  assert.deepEqual(rules(validateProposal({ parent: 99, inr: { omega_inr: 40 } }, ctx)), ['parent:unknown_parent']);
  assert.deepEqual(rules(validateProposal({ parent: 3, inr: { omega_inr: 40 } }, ctx)), ['parent:parent_not_done']);
  assert.deepEqual(rules(validateProposal({ parent: 1.5 as never, inr: { omega_inr: 40 } }, ctx)), ['parent:unknown_parent']);
});

test('repair clamps and rounds into the space, drops forbidden keys, roots an unknown parent and nudges a duplicate', () => {
  const b = study();
  const ctx = safetyContext(b.state);
  const r = repairProposal({ parent: 99, inr: { inr_learning_rate: 1e-2, hidden_dim_inr: 400, inr_batch_size: 3, inr_type: 'relu', foo: 1 } }, ctx);
  assert.ok(r.ok);
  assert.equal(r.parent, null);
  assert.equal(r.inr.inr_learning_rate, 1e-3);
  assert.equal(r.inr.hidden_dim_inr, 384, 'onto the 64-grid from 128');
  assert.equal(r.inr.inr_batch_size, 4, "the nearest choice in log distance");
  assert.equal(r.inr.inr_type, 'siren_txyz');
  assert.equal(r.repairs.length, 6);
  assert.ok(validateProposal({ parent: r.parent, inr: r.inr }, ctx).ok);

  const dup = repairProposal({ parent: 1, inr: { omega_inr: 15 } }, ctx);
  assert.ok(dup.ok);
  assert.equal(dup.inr.inr_total_steps, 525000, 'steps nudged by 5%');
  assert.match(dup.repairs[0], /nudged inr.inr_total_steps 500000 -> 525000 to avoid duplicating node 2/);
});

class ScriptedAgent implements Agent {
  readonly name = 'scripted';
  constructor(private proposals: Proposal[]) {}
  async propose(): Promise<Proposal[]> { return this.proposals; }
  async analyse() { return { notes: [], memory: {} }; }
  async closeBlock() { return { summary: '', key_finding: '', principles: [], open_questions: [], hypothesis_next: '' }; }
}

test('proposeBatch: a final proposal is never repaired; its slot goes to the rules agent and the trial says why', async () => {
  const b = new StudyBuilder({ iterations: 12, slots: 3 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.95).finish(2, 0.97).settle();

  const selfRepairing = new ScriptedAgent([
    { parent: 2, inr: { omega_inr: 50 }, mutation: 'omega 15 -> 50', strategy: 'exploit', rejected: ['inr.omega_inr = 1000: outside [1, 100]'] },
    { parent: 2, inr: { omega_inr: 1000 }, mutation: 'omega x66', strategy: 'exploit', final: true, rejected: ['a', 'b', 'c'] },
  ]);
  const ev = await proposeBatch(b.state, { agent: selfRepairing });
  assert.equal(ev.trials[0].inr.omega_inr, 50);
  assert.equal(ev.trials[0].source, 'repaired', 'valid after a repair by the agent itself');
  assert.deepEqual(ev.trials[0].repairs, ['inr.omega_inr = 1000: outside [1, 100]']);
  assert.equal(ev.trials.length, 3, 'the empty slots are filled by the fallback');
  assert.deepEqual(ev.trials.slice(1).map((t) => t.source), ['fallback', 'fallback']);
  assert.match(ev.trials[1].repairs?.[0] ?? "", /^scripted proposal still invalid after its repairs \(.*inr\.omega_inr = 1000.*\); the rules agent took the slot$/);
  assert.match(ev.trials[2].repairs?.[0] ?? '', /the rules agent took the slot/);
  assert.ok(ev.trials.every((t) => t.inr.omega_inr !== 1000));

  const plain = new ScriptedAgent([
    { parent: 2, inr: { omega_inr: 1000, bogus: 1 }, mutation: 'omega way up', strategy: 'exploit' },
    { parent: 1, inr: { omega_inr: 15 }, mutation: 'duplicate of node 2', strategy: 'exploit' },
  ]);
  const ev2 = await proposeBatch(b.state, { agent: plain });
  assert.equal(ev2.trials[0].inr.omega_inr, 100);
  assert.equal(ev2.trials[0].source, 'repaired');
  assert.match(ev2.trials[0].mutation, /^omega way up \[repaired: inr.omega_inr = 1000 -> 100/);
  assert.equal(ev2.trials[1].source, 'repaired');
  assert.notEqual(ev2.trials[1].inr.inr_total_steps, 500000);
  const configs = ev2.trials.map((t) => JSON.stringify(t.inr));
  assert.equal(new Set(configs).size, configs.length, 'no two slots train the same config');
});

test('enqueued user configs go first; a duplicate one is dropped with the reason', async () => {
  const b = new StudyBuilder({ iterations: 12, slots: 2 });
  b.batch([{}]);
  b.finish(1, 0.95).settle();
  const base = b.state.config.inr;
  b.push({ type: 'enqueued', id: 1, inr: { ...base }, parent: null, note: 'again' });
  b.push({ type: 'enqueued', id: 2, inr: { ...base, omega_inr: 33 }, parent: null, note: 'my idea' });
  const ev = await proposeBatch(b.state, { agent: new ScriptedAgent([]) });
  assert.deepEqual(ev.dropped_enqueued?.map((d) => d.id), [1]);
  assert.match(ev.dropped_enqueued![0].reason, /duplicate/);
  assert.equal(ev.trials[0].enqueued, 2);
  assert.equal(ev.trials[0].strategy, 'user');
  assert.equal(ev.trials[0].mutation, 'user config (enqueued): my idea');
  assert.equal(ev.trials.length, 2);
  b.push(ev);
  assert.deepEqual(b.state.queue, []);
});
