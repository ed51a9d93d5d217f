/**
 * The hybrid agent: TPE proposes candidates per slot, a chooser picks, edits
 * or proposes its own. With an LLM (through the local wire-format server the
 * LLM tests use) and without (the rules agent's division of labour).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../src/config/schema.js';
import { defaultLlm } from '../src/config/llm.js';
import { SEARCH_PARAMS } from '../src/config/search-space.js';
import { proposeBatch } from '../src/study/advance.js';
import { createAgent } from '../src/study/agents/index.js';
import { HybridAgent } from '../src/study/agents/hybrid.js';
import { LlmAgent } from '../src/study/agents/llm/agent.js';
import { anthropicProvider } from '../src/study/agents/llm/anthropic.js';
import { StudyBuilder } from '../src/study/builder.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { validateProposal, safetyContext } from '../src/study/safety.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { modelReply, startLlmServer, type RecordedRequest, type ScriptEntry } from './helpers/llm-server.js';

const bowl: Objective = (inr) => {
  const u = Math.log(inr.inr_learning_rate / 3e-4);
  const v = Math.log(inr.omega_inr / 15) / 0.7;
  return { metrics: { final_r2: 1 - 0.2 * (u * u + v * v), final_mse: 1e-3, slope: 1, training_time_min: 1 } };
};

test('hybrid without an LLM: rules take every slot while TPE starts up, then the first half of the slots, TPE\'s best candidate the rest', async () => {
  const config = defaultConfig();
  config.study.tpe = { startup: 4 };
  const created = studyCreatedEvent(config, { agent: 'hybrid', iterations: 12, slots: 4, block: 12, seed: 2, maxTrialMinutes: 1e6 });
  const { state } = await simulateStudy(created, { agent: createAgent('hybrid') }, bowl);
  const [first, ...later] = state.batches;
  for (const id of first.nodes) assert.match(state.nodes[id - 1].mutation, /^hybrid, rules' own move: start: /);
  for (const batch of later) {
    const m = batch.nodes.map((id) => state.nodes[id - 1].mutation);
    assert.match(m[0], /^hybrid, rules' own move: /);
    assert.match(m[1], /^hybrid, rules' own move: /);
    assert.match(m[2], /^hybrid, rules picked TPE candidate A of slot 2 \(log l\/g = -?\d+\.\d\d\): omega_inr=/);
    assert.match(m[3], /^hybrid, rules picked TPE candidate A of slot 3 /);
  }
  for (const n of state.nodes) assert.ok(validateProposal({ parent: null, inr: { ...n.inr } }, { ...safetyContext(state), nodes: [] }).ok, `node ${n.id} in the space`);
  assert.ok(Math.max(...state.nodes.map((n) => n.metrics!.final_r2)) > 0.9);
});

// --- with an LLM -------------------------------------------------------------------------

const KEY = 'sk-test-hybrid';

/** The request's first user message: the propose prompt. */
function prompt(req: RecordedRequest): string {
  const first = (req.body.messages as { content: unknown }[])[0].content;
  return typeof first === 'string' ? first : (first as { text?: string }[]).map((b) => b.text ?? '').join('\n');
}

/** Candidate `label` of `slot` as the prompt lists it: its values. */
function candidate(text: string, slot: number, label: string): Record<string, number> {
  const line = text.split('\n').find((l) => l.startsWith(`- slot ${slot} `));
  assert.ok(line, `slot ${slot} in the prompt`);
  const item = new RegExp(`${label}\\) ([^(]+) \\(`).exec(line)![1];
  return Object.fromEntries(item.split(', ').map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; }));
}

const proposeCall = (changes: Record<string, unknown>, mutation: string, parent: number | null = null): { name: string; input: unknown } => ({
  name: 'propose_config', input: { parent, changes, mutation, strategy: parent === null ? 'tpe' : 'exploit' },
});

async function hybridBatch(script: ScriptEntry[]): Promise<{ ev: Awaited<ReturnType<typeof proposeBatch>>; requests: RecordedRequest[] }> {
  const b = new StudyBuilder({ iterations: 12, slots: 2, agent: 'hybrid' });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.95).finish(2, 0.97).settle();
  const server = await startLlmServer(script);
  try {
    const llm = new LlmAgent({ provider: anthropicProvider({ ...defaultLlm('anthropic'), base_url: server.baseUrl.anthropic }, { ANTHROPIC_API_KEY: KEY }), instructions: 'Test protocol.', maxTokens: 1024, record: () => undefined, retry: { baseMs: 1 } });
    const ev = await proposeBatch(b.state, { agent: new HybridAgent(llm) });
    return { ev, requests: server.requests };
  } finally {
    await server.close();
  }
}

const explorable = (inr: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(SEARCH_PARAMS.map((p) => [p.key, inr[p.key]]));

test('hybrid with an LLM: it sees TPE\'s candidates per slot and a pick is taken as the candidate, an edit as edited', async () => {
  let picked: Record<string, number> = {};
  let edited: Record<string, number> = {};
  const { ev, requests } = await hybridBatch([(req) => {
    const text = prompt(req);
    picked = candidate(text, 0, 'A');
    edited = { ...candidate(text, 1, 'B'), omega_inr: 30 };
    return modelReply({ text: 'A looks best for slot 0; B with a higher omega for slot 1.', calls: [proposeCall(picked, 'pick A'), proposeCall(edited, 'edit of B: omega -> 30')] })(req);
  }]);
  assert.equal(requests.length, 1);
  assert.match(prompt(requests[0]), /## TPE's candidates\n[^\n]+\nFor each slot: pick one .*\n- slot 0 \(node 3\): A\) omega_inr=[^;]+ \(uniform startup sample\); B\) .*; C\) /);
  assert.equal(ev.agent, 'hybrid');
  assert.deepEqual(ev.trials.map((t) => [t.source, t.mutation]), [['agent', 'pick A'], ['agent', 'edit of B: omega -> 30']]);
  assert.deepEqual(explorable(ev.trials[0].inr), explorable({ ...ev.trials[0].inr, ...picked }));
  assert.equal(ev.trials[1].inr.omega_inr, 30);
});

test('hybrid with an LLM: an invalid pick goes back with the error and the repaired one is taken; a silent LLM leaves the slots to the rules agent', async () => {
  const { ev } = await hybridBatch([
    (req) => modelReply({ calls: [proposeCall({ ...candidate(prompt(req), 0, 'A'), omega_inr: 1000 }, 'pick A, omega up'), proposeCall({ inr_learning_rate: 2e-4 }, 'lr x2', 2)] })(req),
    modelReply({ text: 'omega is capped at 100.', calls: [proposeCall({ omega_inr: 50 }, 'omega 15 -> 50', 2)] }),
  ]);
  assert.deepEqual(ev.trials.map((t) => t.mutation), ['lr x2', 'omega 15 -> 50']);
  assert.match(ev.trials[1].repairs?.join(' ') ?? '', /omega_inr = 1000/);
  const silent = await hybridBatch(Array.from({ length: 4 }, () => modelReply({ text: 'Thinking.' })));
  assert.deepEqual(silent.ev.trials.map((t) => t.source), ['fallback', 'fallback']);
});
