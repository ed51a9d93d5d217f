import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/schema.js';
import type { InrConfig } from '../src/config/inr.js';
import type { AgentName } from '../src/config/study.js';
import { createAgent } from '../src/study/agents/index.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { Journal, journalPath, readJournal, type JournalEntry, type StudyEventBody } from '../src/study/journal.js';
import { renderFiles } from '../src/study/render/index.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { foldEvents, nextAction } from '../src/study/state.js';
import { tempDir } from './helpers/tmp.js';

const objective: Objective = (inr: InrConfig) => {
  if (inr.inr_learning_rate >= 8e-4) return { failure: 'loss became NaN' };
  const u = Math.log(inr.inr_learning_rate / 3e-4);
  const v = Math.log(inr.omega_inr / 15) / 0.7;
  const r2 = 1 - 0.05 * (u * u + v * v);
  return { metrics: { final_r2: r2, final_mse: (1 - r2) / 50, slope: 0.99, training_time_min: 1e-5 * inr.inr_total_steps * inr.inr_batch_size } };
};

const created = (agent: AgentName) => studyCreatedEvent(defaultConfig(), { agent, iterations: 14, slots: 4, block: 6, seed: 9, maxTrialMinutes: 60 });

/** The decisions and results of a journal: what must not change when a study is interrupted and resumed. */
function decisions(entries: readonly JournalEntry[]): unknown[] {
  return entries
    .map((e) => e.event)
    .filter((e) => e.type !== 'trial_started')
    .map((e) => {
      const { at: _at, ...rest } = e as typeof e & { attempt?: number };
      if ('attempt' in rest) delete (rest as { attempt?: number }).attempt;
      return rest;
    });
}

type Stop = { name: string; when: (body: StudyEventBody, count: Map<string, number>) => boolean };

const stops: Stop[] = [
  { name: 'before the third batch is proposed', when: (b, n) => b.type === 'batch_proposed' && (n.get('batch_proposed') ?? 0) === 2 },
  { name: 'in the middle of a batch (a trial started, not finished)', when: (b, n) => (b.type === 'trial_finished' || b.type === 'trial_failed') && (n.get('done') ?? 0) === 6 },
  { name: 'before the notes on a batch', when: (b, n) => b.type === 'agent_notes' && (n.get('agent_notes') ?? 0) === 1 },
  { name: 'before a block closes', when: (b) => b.type === 'block_closed' },
];

for (const agent of ['rules', 'tpe'] as const) {
  test(`${agent}: a study interrupted at any point and resumed from its journal makes the same decisions`, async (t) => {
    const straight = tempDir(t);
    const made = Journal.create(straight, created(agent));
    const j0 = made.journal;
    const full = await simulateStudy(created(agent), { agent: createAgent(agent) }, objective, { journal: j0, state: foldEvents([made.entry]) });
    j0.close();
    assert.equal(nextAction(full.state).kind, 'done');
    const fullEntries = readJournal(journalPath(straight)).entries;
    assert.ok(fullEntries.some((e) => e.event.type === 'trial_failed'));

    for (const stop of stops) {
      const dir = join(tempDir(t), 'study');
      const first = Journal.create(dir, created(agent));
      const counts = new Map<string, number>();
      const run = await simulateStudy(created(agent), { agent: createAgent(agent) }, objective, {
        journal: first.journal,
        state: foldEvents([first.entry]),
        stopBefore: (body) => {
          if (stop.when(body, counts)) return true;
          const key = body.type === 'trial_finished' || body.type === 'trial_failed' ? 'done' : body.type;
          counts.set(key, (counts.get(key) ?? 0) + 1);
          return false;
        },
      });
      first.journal.close();
      assert.equal(run.stopped, true, stop.name);
      // The crash also tore the line being written.
      appendFileSync(journalPath(dir), '{"v":1,"at":"2024","type":"trial_fin');

      const { journal, read } = Journal.open(dir);
      assert.ok(read.torn, 'the torn line was seen');
      const state = foldEvents(read.entries);
      const resumed = await simulateStudy(created(agent), { agent: createAgent(agent) }, objective, { journal, state });
      journal.close();
      assert.equal(resumed.stopped, false);
      const entries = readJournal(journalPath(dir)).entries;
      assert.deepEqual(decisions(entries), decisions(fullEntries), `${stop.name}: same decisions`);
      assert.deepEqual(renderFiles(foldEvents(entries)), renderFiles(foldEvents(fullEntries)), `${stop.name}: same files`);
    }
  });
}

test('an interrupted trial is re-run as attempt 2 with its config and seed', async (t) => {
  const dir = tempDir(t);
  const first = Journal.create(dir, created('rules'));
  await simulateStudy(created('rules'), { agent: createAgent('rules') }, objective, {
    journal: first.journal, state: foldEvents([first.entry]),
    stopBefore: (body) => body.type === 'trial_finished' && body.node === 2,
  });
  first.journal.close();
  const { journal, read } = Journal.open(dir);
  const state = foldEvents(read.entries);
  assert.deepEqual(nextAction(state), { kind: 'run', batch: 0, nodes: [2, 3, 4], promote: [] });
  const seed = state.nodes[1].seed;
  const seen: [number, number][] = [];
  await simulateStudy(created('rules'), { agent: createAgent('rules') }, (inr, node, s) => {
    seen.push([node, s]);
    return objective(inr, node, s);
  }, { journal, state, stopBefore: (body) => body.type === 'agent_notes' });
  journal.close();
  assert.deepEqual(seen[0], [2, seed]);
  const starts = readJournal(journalPath(dir)).entries.map((e) => e.event).filter((e) => e.type === 'trial_started' && e.node === 2);
  assert.deepEqual(starts.map((e) => (e as { attempt: number }).attempt), [1, 2]);
});
