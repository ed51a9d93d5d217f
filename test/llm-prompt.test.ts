/**
 * What the LLM agent is shown: every section the protocol's steps need, and a
 * size that stays bounded as a study grows to hundreds of trials.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentContext } from '../src/study/advance.js';
import { analysePrompt, proposePrompt } from '../src/study/agents/llm/prompt.js';
import { LINE_LIMIT, LIST_LIMIT, TEXT_LIMIT } from '../src/study/agents/llm/tools.js';
import { StudyBuilder } from '../src/study/builder.js';
import { nextAction } from '../src/study/state.js';

/**
 * A study of `trials` done trials in blocks of 24, 4 slots, each a child of
 * node 1 with its own learning rate; every note, memory and block summary as
 * long as the tools allow (the worst a chatty model can do).
 */
function grown(trials: number): StudyBuilder {
  const b = new StudyBuilder({ iterations: 1000, slots: 4, block: 24 });
  const long = (n: number, c: string): string => c.repeat(n);
  const settle = (): void => {
    for (let next = nextAction(b.state); next.kind === 'analyse' || next.kind === 'close_block'; next = nextAction(b.state)) {
      if (next.kind === 'analyse') {
        const nodes = b.state.batches[next.batch].nodes;
        b.push({ type: 'agent_notes', batch: next.batch, agent: 'llm', notes: nodes.map((n) => ({ node: n, observation: long(TEXT_LIMIT, 'o'), next_parent: 1 })), memory: { hypothesis: long(TEXT_LIMIT, 'h'), observations: long(TEXT_LIMIT, 'b') } });
      } else {
        const items = Array.from({ length: LIST_LIMIT }, () => long(LINE_LIMIT, 'p'));
        b.push({ type: 'block_closed', block: next.block, agent: 'llm', summary: long(TEXT_LIMIT, 's'), key_finding: long(LINE_LIMIT, 'k'), best_node: 1, principles: items, open_questions: items, hypothesis_next: long(TEXT_LIMIT, 'n') });
      }
    }
  };
  while (b.state.nodes.length < trials) {
    settle();
    const first = b.state.nodes.length + 1;
    const ids = b.batch([0, 1, 2, 3].map((i) => ({ parent: first > 1 ? 1 : null, inr: { inr_learning_rate: 1e-5 * (1 + (first + i) / 1000) }, mutation: `lr step ${first + i}` })));
    for (const id of ids) b.finish(id, 0.9 + 0.09 * ((id * 0.618) % 1));
  }
  settle();
  return b;
}

function nextProposePrompt(b: StudyBuilder): string {
  const next = nextAction(b.state);
  if (next.kind !== 'propose') throw new Error(`expected propose, not ${next.kind}`);
  return proposePrompt({ ...agentContext(b.state, undefined, 'propose', next.batch), batch: next.batch, block: next.block, slots: next.size, pending: [], pendingParents: [] });
}

test('the propose prompt has what the protocol steps read: budget, space, memory, log, UCB, the task', () => {
  const p = nextProposePrompt(grown(8));
  assert.ok(p.includes('## Experiment log (the last 8 of 8 earlier entries)'));
  for (const section of ['# Study: ', '## Block position', '## Time budget', '## Search space (the only keys you may change)', '## Working memory (memory.md)', '## Experiment log (the last 8 of 8 earlier entries)', '## UCB scores, block 0', '## Your task: propose batch 2']) {
    assert.ok(p.includes(section), section);
  }
  assert.match(p, /Each trial must finish within 60 min/);
  assert.match(p, /- omega_inr=10, inr_learning_rate=1e-4, .*: predicted [\d.]+ min/, 'the cost model predicts the candidates');
  assert.match(p, /\| inr_batch_size \| one of \{1, 2, 4, 8, 16\} \| 8 \| x2 or \/2 \|/);
  assert.match(p, /Call propose_config exactly 4 times, one per slot \(they become nodes 9, 10, 11, 12\)/);
});

test('the prompt stays bounded, even with every text at its limit: 4x the trials add only one regime-table row per block', (t) => {
  const small = nextProposePrompt(grown(96));
  const large = nextProposePrompt(grown(384));
  assert.match(large, /## Experiment log \(the last 8 of 384 earlier entries\)/);
  assert.match(large, /## UCB scores, block 15 \(top 10 of 24;/);
  const rows = (text: string): number => text.split('\n').filter((l) => /^\| \d+ \| /.test(l)).length;
  assert.equal(rows(large) - rows(small), 12, 'twelve more closed blocks, twelve more rows');
  // One table row per closed block: its numbers and a key finding of at most LINE_LIMIT characters.
  assert.ok(large.length - small.length < 12 * (LINE_LIMIT + 150), `grew by ${large.length - small.length} characters`);
  t.diagnostic(`propose prompt after 96 trials: ${small.length} characters; after 384: ${large.length}`);
  assert.ok(large.length < 80000, `${large.length} characters (about ${Math.round(large.length / 4)} tokens)`);
});

test('the analysis prompt shows the batch just finished in full, with its classes', () => {
  const b = new StudyBuilder({ iterations: 12, slots: 2 });
  b.batch([{}, { inr: { omega_inr: 15 } }]);
  b.finish(1, 0.95).finish(2, { final_r2: 0.999, time_limited: true });
  const p = analysePrompt({ ...agentContext(b.state, undefined, 'analyse', 0), batch: 0 });
  assert.match(p, /## Results of batch 0 \(just finished\)\n## Iter 1: moderate\n/);
  assert.match(p, /## Iter 2: poor\n[\s\S]*\(stopped by the time budget\)/);
  assert.match(p, /Call record_iteration once for each of nodes 1, 2/);
});
