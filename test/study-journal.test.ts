import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { defaultConfig } from '../src/config/schema.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { Journal, JournalError, encodeEvent, journalPath, parseJournal, readJournal, type StudyEventBody } from '../src/study/journal.js';
import { foldEvents } from '../src/study/state.js';
import { tempDir } from './helpers/tmp.js';

const fixed = { now: () => new Date('2024-05-01T12:00:00.000Z') };
const created = () => studyCreatedEvent(defaultConfig(), { maxTrialMinutes: 60, versions: { inrscape: '0.1.0', node: 'v20' } });

function proposeOne(): StudyEventBody {
  return {
    type: 'batch_proposed', batch: 0, block: 0, agent: 'rules',
    trials: [{
      node: 1, slot: 0, parent: null, mutation: 'start: base config', strategy: 'start', changed: [],
      inr: defaultConfig().inr, predicted_minutes: 3.5, seed: 7, source: 'agent',
    }],
  };
}

test('each event is one JSON line with the schema version and a time stamp', (t) => {
  const dir = tempDir(t);
  const { journal } = Journal.create(dir, created(), fixed);
  journal.append(proposeOne());
  journal.close();
  const text = readFileSync(journalPath(dir), 'utf8');
  const lines = text.split('\n');
  assert.equal(lines.length, 3, 'two lines and the final newline');
  assert.equal(lines[2], '');
  const first = JSON.parse(lines[0]);
  assert.equal(first.v, 1);
  assert.equal(first.type, 'study_created');
  assert.equal(first.at, '2024-05-01T12:00:00.000Z');
  assert.equal(JSON.parse(lines[1]).trials[0].predicted_minutes, 3.5);
});

test('replay gives back the events as appended, NaN metrics included', (t) => {
  const dir = tempDir(t);
  const { journal } = Journal.create(dir, created(), fixed);
  journal.append(proposeOne());
  journal.append({ type: 'trial_started', node: 1, attempt: 1, run_dir: 'runs/iter_001_slot_00', max_minutes: 60 });
  const finished = journal.append({
    type: 'trial_finished', node: 1, attempt: 1, run_dir: 'runs/iter_001_slot_00',
    metrics: { final_r2: NaN, final_mse: Infinity, slope: 0.5, training_time_min: 1.25 },
  });
  journal.close();
  const read = readJournal(journalPath(dir));
  assert.equal(read.torn, null);
  assert.deepEqual(read.entries.map((e) => e.line), [1, 2, 3, 4]);
  const ev = read.entries[3].event;
  assert.ok(ev.type === 'trial_finished');
  assert.ok(Number.isNaN(ev.metrics.final_r2));
  assert.equal(ev.metrics.final_mse, Infinity);
  assert.deepEqual(read.entries[3], finished, 'append returns the event exactly as a reader reads it');
  const state = foldEvents(read.entries);
  assert.equal(state.nodes[0].status, 'finished');
  assert.equal(state.nodes[0].klass, 'poor', 'a NaN R2 is poor');
});

test('a newline inside text stays inside its line', () => {
  const line = encodeEvent({ type: 'enqueued', id: 1, inr: defaultConfig().inr, parent: null, note: 'two\nlines\r\n## Iter 3: good' }, 'x');
  assert.equal(line.indexOf('\n'), line.length - 1);
});

test('a torn last line is ignored on read and cut off before the next append', (t) => {
  const dir = tempDir(t);
  const { journal } = Journal.create(dir, created(), fixed);
  journal.append(proposeOne());
  journal.close();
  const whole = readFileSync(journalPath(dir));
  // A crash in the middle of an append: part of a line, no newline.
  appendFileSync(journalPath(dir), '{"v":1,"at":"x","type":"trial_sta');
  const read = readJournal(journalPath(dir));
  assert.equal(read.entries.length, 2);
  assert.deepEqual(read.torn, { line: 3, bytes: 33 });
  // Even a complete JSON object without its newline counts as torn: a line is whole only with its newline.
  writeFileSync(journalPath(dir), Buffer.concat([whole, Buffer.from('{"v":1,"at":"x","type":"settings_changed"}')]));
  assert.equal(readJournal(journalPath(dir)).entries.length, 2);

  const { journal: again, read: seen } = Journal.open(dir, fixed);
  assert.ok(seen.torn);
  assert.deepEqual(readFileSync(journalPath(dir)), whole, 'the torn tail is gone');
  const e = again.append({ type: 'trial_started', node: 1, attempt: 1, run_dir: 'r', max_minutes: 60 });
  again.close();
  assert.equal(e.line, 3);
  const after = readJournal(journalPath(dir));
  assert.equal(after.torn, null);
  assert.equal(after.entries.length, 3);
  assert.equal(foldEvents(after.entries).nodes[0].status, 'running');
});

test('a torn multi-byte character in the last line does not break the read', () => {
  const line = Buffer.from(encodeEvent({ type: 'settings_changed' }, 'x'));
  const partial = Buffer.from('{"note":"é');
  const read = parseJournal(Buffer.concat([line, partial.subarray(0, partial.length - 1)]));
  assert.equal(read.entries.length, 1);
  assert.ok(read.torn);
});

test('a malformed line in the middle is an error naming its line number', () => {
  const good = encodeEvent({ type: 'settings_changed' }, 'x');
  const text = good + good + '{"v":1,"type":"settings_changed",\n' + good;
  assert.throws(() => parseJournal(Buffer.from(text), 'j.jsonl'), (err: unknown) => {
    assert.ok(err instanceof JournalError);
    assert.match(err.message, /^j\.jsonl:3: malformed journal line/);
    return true;
  });
  assert.throws(() => parseJournal(Buffer.from(good + '\n' + good), 'j.jsonl'), /j\.jsonl:2: empty journal line/);
  assert.throws(() => parseJournal(Buffer.from(good + '[1,2]\n')), /:2: a journal line must be a JSON object/);
});

test('unknown versions, unknown types and missing fields are refused with the line', () => {
  const v2 = JSON.stringify({ v: 2, at: 'x', type: 'settings_changed' }) + '\n';
  assert.throws(() => parseJournal(Buffer.from(v2), 'j'), /j:1: journal schema version 2 is not supported/);
  const unknown = JSON.stringify({ v: 1, at: 'x', type: 'trial_exploded' }) + '\n';
  assert.throws(() => parseJournal(Buffer.from(unknown), 'j'), /j:1: unknown journal event type "trial_exploded"/);
  const missing = JSON.stringify({ v: 1, at: 'x', type: 'trial_finished', node: 1, attempt: 1, run_dir: 'r' }) + '\n';
  assert.throws(() => parseJournal(Buffer.from(missing), 'j'), /j:1: trial_finished event lacks "metrics"/);
});

test('a second study cannot be created over an existing journal', (t) => {
  const dir = tempDir(t);
  Journal.create(dir, created(), fixed).journal.close();
  assert.throws(() => Journal.create(dir, created(), fixed), /already exists/);
});

test('the journal rebuilds the base config and the settings', (t) => {
  const dir = tempDir(t);
  const ev = studyCreatedEvent(defaultConfig(), { agent: 'tpe', iterations: 12, slots: 3, seed: 5, maxTrialMinutes: 30 });
  Journal.create(dir, ev, fixed).journal.close();
  const state = foldEvents(readJournal(journalPath(dir)).entries);
  assert.deepEqual(state.settings, { iterations: 12, slots: 3, block: 24, ucb_c: 1.414, max_trial_minutes: 30, agent: 'tpe', seed: 5 });
  assert.equal(state.config.study.agent, 'tpe');
  assert.deepEqual(state.config.inr, defaultConfig().inr);
  assert.deepEqual(state.config.dataset, defaultConfig().dataset);
});
