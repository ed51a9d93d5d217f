/** JSON mode's reading of an answer: the object the model meant, or the error it should be shown. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonModeMessages, parseJsonReply } from '../src/study/agents/llm/json-mode.js';

const ENVELOPE = '{"reasoning":"r","actions":[{"tool":"propose_config","input":{"parent":3}}]}';

test('the object is found after prose with braces of its own, and in a fence', () => {
  assert.deepEqual(parseJsonReply(`Set {omega} higher, then {lr}. ${ENVELOPE}`).calls, [{ id: 'call_1', name: 'propose_config', input: { parent: 3 } }]);
  assert.equal(parseJsonReply('Here:\n```json\n' + ENVELOPE + '\n```\nDone.').text, 'r');
});

test('a broken outer object is reported as broken, not read as the inner object that parses', () => {
  const r = parseJsonReply('{"reasoning":"line one\nline two","actions":[{"tool":"propose_config","input":{"parent":3}}]}');
  assert.deepEqual(r.calls, []);
  assert.match(r.malformed ?? '', /^the answer is not valid JSON \(Bad control character in string literal/);
  assert.equal(parseJsonReply('no object here').malformed, 'the answer contains no JSON object');
  assert.equal(parseJsonReply('{"reasoning":"r"}').malformed, '"actions" must be a list of {"tool": name, "input": {...}}');
});

test('the history repeats an answer exactly as the model wrote it', () => {
  const raw = 'Thinking... {"reasoning": "x", "actions": [';
  const messages = jsonModeMessages([
    { role: 'user', text: 'go' },
    { role: 'assistant', text: raw, calls: [], raw },
    { role: 'user', text: 'Your answer could not be read.' },
  ]);
  assert.deepEqual(messages.map((m) => m.content), ['go', raw, 'Your answer could not be read.']);
});
