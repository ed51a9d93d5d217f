import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultLlm, type LlmSettings } from '../src/config/llm.js';
import { claudeCliProvider } from '../src/study/agents/llm/claude-cli.js';
import { LlmAuthError, LlmCallError, type ModelRequest, type ToolSpec } from '../src/study/agents/llm/provider.js';
import { UserError } from '../src/util/errors.js';
import { pidAlive } from '../src/util/pid.js';
import { installFakeClaude, readFakeClaudeLog, type FakeClaudeStep } from './helpers/claude.js';
import { tempDir } from './helpers/tmp.js';

type T = Parameters<typeof tempDir>[0];

const TOOLS: ToolSpec[] = [
  {
    name: 'propose_config',
    description: 'Queue a trial with this configuration.',
    input_schema: { type: 'object', properties: { width: { type: 'integer', minimum: 8 } }, required: ['width'] },
  },
  { name: 'finish', description: 'End the study.', input_schema: { type: 'object', properties: {} } },
];

/** A conversation one round in: the model proposed a trial, and its result came back. */
const REQUEST: ModelRequest = {
  system: 'You steer an INR study.',
  tools: TOOLS,
  maxTokens: 4096,
  turns: [
    { role: 'user', text: 'The study begins: no trials yet.' },
    { role: 'assistant', text: 'start narrow', calls: [{ id: 'call_1', name: 'propose_config', input: { width: 64 } }] },
    { role: 'tool_results', results: [{ id: 'call_1', content: 'trial t1 done: r2 0.91', is_error: false }] },
  ],
};

const answer = (reasoning: string, actions: unknown[]): string => JSON.stringify({ reasoning, actions });
const GOOD = answer('r2 rises with width', [{ tool: 'propose_config', input: { width: 128 } }]);

function settings(over: Partial<LlmSettings> = {}): LlmSettings {
  return { ...defaultLlm('claude-cli'), timeout_s: 30, ...over };
}

/** The stand-in on PATH with these steps, and a provider that runs it. */
function setup(t: T, steps: FakeClaudeStep[], over: Partial<LlmSettings> = {}) {
  const dir = tempDir(t, 'inrscape-claude-');
  const fake = installFakeClaude(dir, steps);
  const env = { ...process.env, ...fake.env };
  return { dir, fake, env, provider: claudeCliProvider(settings(over), env), calls: () => readFakeClaudeLog(fake.log) };
}

describe('claude-cli provider: a good answer', () => {
  test('becomes tool calls, with the cost and the token counts the CLI reports', async (t) => {
    const usage = { input_tokens: 1500, output_tokens: 210, cache_read_input_tokens: 9000, cache_creation_input_tokens: 300 };
    const { provider } = setup(t, [{ result: GOOD, cost_usd: 0.0123, usage, model: 'claude-opus-4-1-20250805' }], { model: 'opus' });
    assert.equal(provider.name, 'claude-cli');
    assert.equal(provider.mode, 'json');
    assert.equal(provider.model, 'opus');
    const reply = await provider.complete(REQUEST);
    assert.equal(reply.text, 'r2 rises with width');
    assert.deepEqual(reply.calls, [{ id: 'call_1', name: 'propose_config', input: { width: 128 } }]);
    assert.equal(reply.cost_usd, 0.0123);
    assert.deepEqual(reply.usage, { input_tokens: 1500, output_tokens: 210, cache_read_tokens: 9000, cache_write_tokens: 300 });
    assert.equal(reply.stop_reason, 'end_turn');
    assert.equal(reply.model, 'claude-opus-4-1-20250805', 'the full name of the model that answered, not the alias');
    assert.equal(reply.malformed, undefined);
  });

  test('runs `claude -p --output-format json --tools "" --strict-mcp-config` (no file, shell or MCP tools) with --model when one is set', async (t) => {
    const withModel = setup(t, [{ result: GOOD }], { model: 'sonnet' });
    await withModel.provider.complete(REQUEST);
    assert.deepEqual(withModel.calls()[0].argv, ['-p', '--output-format', 'json', '--tools', '', '--strict-mcp-config', '--model', 'sonnet']);

    const without = setup(t, [{ result: GOOD }]);
    assert.equal(without.provider.model, 'default');
    await without.provider.complete(REQUEST);
    assert.deepEqual(without.calls()[0].argv, ['-p', '--output-format', 'json', '--tools', '', '--strict-mcp-config']);
  });

  test('sends the tool contract and the whole conversation on stdin, never in argv', async (t) => {
    const { provider, calls } = setup(t, [{ result: GOOD }]);
    await provider.complete(REQUEST);
    const [call] = calls();
    const prompt = call.prompt ?? '';
    assert.match(prompt, /^You steer an INR study\./);
    assert.match(prompt, /- propose_config: Queue a trial with this configuration\./);
    assert.ok(prompt.includes(JSON.stringify(TOOLS[0].input_schema)), 'the input schema');
    assert.match(prompt, /The study begins: no trials yet\./);
    assert.ok(prompt.includes('{"reasoning":"start narrow","actions":[{"tool":"propose_config","input":{"width":64}}]}'), 'its own earlier answer');
    assert.match(prompt, /1\. propose_config: trial t1 done: r2 0\.91/, 'the result of the earlier action');
    assert.match(prompt, /exactly one JSON object[^]*\n[^\n]*no markdown fence\.$/, 'ends asking for the JSON object');
    assert.ok(call.argv.every((a) => !a.includes('INR study')));
  });

  test('runs in a private empty folder, so no CLAUDE.md or settings (the project\'s, or planted in /tmp) reach the model', async (t) => {
    const { provider, calls } = setup(t, [{ result: GOOD }, { result: GOOD }]);
    await provider.complete(REQUEST);
    await provider.complete(REQUEST);
    const [first, second] = calls().map((c) => c.cwd);
    assert.notEqual(first, second, 'a fresh folder per run');
    assert.equal(realpathSync(dirname(first)), realpathSync(tmpdir()));
    assert.match(basename(first), /^inrscape-claude-/);
    assert.ok(!existsSync(first), 'removed after the run');
  });

  test('an answer wrapped in prose or a ```json fence still parses', async (t) => {
    const { provider } = setup(t, [
      { result: `Here is my decision:\n${GOOD}\nGood luck.` },
      { result: '```json\n' + GOOD + '\n```' },
    ]);
    for (let i = 0; i < 2; i++) {
      const reply = await provider.complete(REQUEST);
      assert.equal(reply.malformed, undefined);
      assert.deepEqual(reply.calls.map((c) => c.name), ['propose_config']);
    }
  });

  test('an answer that is not the JSON object is returned with `malformed` set (the agent asks for a repair)', async (t) => {
    const { provider } = setup(t, [{ result: '{"reasoning": "cut off', cost_usd: 0.002 }, { result: 'I would widen the network.' }]);
    const broken = await provider.complete(REQUEST);
    assert.match(broken.malformed ?? '', /not valid JSON/);
    assert.deepEqual(broken.calls, []);
    assert.equal(broken.cost_usd, 0.002, 'a malformed answer still cost money');
    const prose = await provider.complete(REQUEST);
    assert.match(prose.malformed ?? '', /no JSON object/);
  });
});

describe('claude-cli provider: failures', () => {
  test('`Invalid API key · Please run /login` stops the study with how to fix it', async (t) => {
    const { provider } = setup(t, [{ error: 'Invalid API key · Please run /login' }]);
    const err = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(err instanceof LlmAuthError);
    assert.ok(err instanceof UserError, 'printed as a user error, without a stack');
    assert.match(err.message, /Invalid API key/);
    assert.match(err.message, /claude \/login/);
    assert.match(err.message, /ANTHROPIC_API_KEY/);
  });

  test('an expired login is an auth error too', async (t) => {
    const { provider } = setup(t, [
      { error: 'OAuth token has expired. Please obtain a new token or refresh your existing token.' },
      { error: 'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}' },
    ]);
    await assert.rejects(provider.complete(REQUEST), LlmAuthError);
    await assert.rejects(provider.complete(REQUEST), LlmAuthError);
  });

  test('overload, rate limits and server errors are transient (retried), with the HTTP status', async (t) => {
    const cases: [string, number | undefined][] = [
      ['API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 529],
      ['API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}', 429],
      ['API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}', 500],
      ['API Error: Request timed out.', undefined],
    ];
    const { provider } = setup(t, cases.map(([error]) => ({ error })));
    for (const [message, status] of cases) {
      const err = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
      assert.ok(err instanceof LlmCallError && !(err instanceof LlmAuthError), message);
      assert.equal(err.transient, true, message);
      assert.equal(err.status, status, message);
      assert.ok(err.message.includes(message.slice(0, 40)), 'the CLI message is kept');
    }
  });

  test('a run slower than timeout_s is stopped: a transient error, and the child is gone', async (t) => {
    const { provider, calls } = setup(t, [{ result: GOOD, delay_ms: 30_000 }], { timeout_s: 0.5 });
    const started = Date.now();
    const err = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(err instanceof LlmCallError);
    assert.equal(err.transient, true);
    assert.match(err.message, /timeout_s/);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(pidAlive(calls()[0].pid), false);
  });

  test('a CLI that ignores SIGTERM is killed after a grace period', async (t) => {
    const { provider, calls } = setup(t, [{ result: GOOD, delay_ms: 30_000, ignore_sigterm: true }], { timeout_s: 0.3 });
    const err = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(err instanceof LlmCallError && err.transient);
    assert.equal(pidAlive(calls()[0].pid), false);
  });

  test('aborting the call kills the child', async (t) => {
    const { provider, calls } = setup(t, [{ result: GOOD, delay_ms: 30_000 }]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(provider.complete(REQUEST, ac.signal), { name: 'AbortError' });
    assert.equal(pidAlive(calls()[0].pid), false);
    await assert.rejects(provider.complete(REQUEST, ac.signal), { name: 'AbortError' }, 'an aborted signal starts nothing');
    assert.equal(calls().length, 1);
  });

  test('a missing command is a user error naming the fix, found before any request', (t) => {
    const dir = tempDir(t, 'inrscape-claude-');
    mkdirSync(join(dir, 'empty'));
    assert.throws(() => claudeCliProvider(settings(), { ...process.env, PATH: join(dir, 'empty') }), (e: unknown) => {
      assert.ok(e instanceof UserError && !(e instanceof LlmAuthError));
      assert.equal(e.message, "claude-cli: the command 'claude' was not found on PATH; install Claude Code or set study.llm.command");
      return true;
    });
    assert.throws(() => claudeCliProvider(settings({ command: join(dir, 'nowhere', 'claude') })), (e: unknown) => e instanceof UserError && /was not found; install Claude Code/.test(e.message));
  });


  test('a command that rejects an option fails for good, with the CLI message', async (t) => {
    const { dir, fake, env } = setup(t, [{ result: GOOD }]);
    // An older `claude` behind a wrapper: it adds an option this CLI does not know.
    const wrapper = join(dir, 'old-claude');
    writeFileSync(wrapper, `#!/bin/sh\nexec "${join(fake.binDir, 'claude')}" --legacy-mode "$@"\n`);
    chmodSync(wrapper, 0o755);
    const provider = claudeCliProvider(settings({ command: wrapper }), env);
    const err = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(err instanceof LlmCallError && !(err instanceof LlmAuthError));
    assert.equal(err.transient, false);
    assert.match(err.message, /error: unknown option '--legacy-mode'/);
    assert.match(err.message, /exit 1/);
  });

  test('output that is not the JSON result fails for good, quoting it', async (t) => {
    const { provider } = setup(t, [{ raw_stdout: 'Welcome to Claude Code v9!\n', exit: 0 }, { raw_stdout: 'x'.repeat(2000), exit: 3 }]);
    const welcome = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(welcome instanceof LlmCallError && !welcome.transient);
    assert.match(welcome.message, /did not print its JSON result: Welcome to Claude Code v9!/);
    const long = await provider.complete(REQUEST).then(() => assert.fail('no error'), (e: unknown) => e);
    assert.ok(long instanceof LlmCallError && !long.transient);
    assert.ok(long.message.length < 700, 'the message is cut to its first 500 characters');
  });
});

describe('the stand-in claude', () => {
  function run(t: T, steps: FakeClaudeStep[], args: string[], input?: string) {
    const dir = tempDir(t, 'inrscape-claude-');
    const fake = installFakeClaude(dir, steps);
    const res = spawnSync('claude', args, { env: { ...process.env, ...fake.env }, input, encoding: 'utf8' });
    return { ...res, calls: readFakeClaudeLog(fake.log), dir };
  }

  test('needs -p: interactive mode needs a terminal', (t) => {
    const res = run(t, [{ result: 'hi' }], [], 'hello');
    assert.equal(res.status, 1);
    assert.match(res.stderr, /TTY/);
  });

  test('rejects unknown options the way the real CLI does', (t) => {
    const res = run(t, [{ result: 'hi' }], ['-p', '--frobnicate'], 'hello');
    assert.equal(res.status, 1);
    assert.equal(res.stderr, "error: unknown option '--frobnicate'\n");
  });

  test('prints the answer as text by default, the prompt from an argument', (t) => {
    const res = run(t, [{ result: 'hi there' }], ['-p', '--model', 'haiku', '--max-turns', '1', 'say hi']);
    assert.equal(res.status, 0);
    assert.equal(res.stdout, 'hi there\n');
    assert.equal(res.calls[0].prompt, 'say hi');
  });

  test('answers from a module that reads the prompt; an exhausted script is an error', (t) => {
    const dir = tempDir(t, 'inrscape-claude-');
    const module = join(dir, 'answer.mjs');
    writeFileSync(module, 'export default (prompt, argv) => JSON.stringify({ reasoning: prompt.toUpperCase(), actions: [], argv });\n');
    const res = run(t, [{ module }], ['-p', '--output-format', 'json'], 'widen it');
    const result = JSON.parse(res.stdout) as { is_error: boolean; result: string };
    assert.equal(result.is_error, false);
    assert.deepEqual(JSON.parse(result.result), { reasoning: 'WIDEN IT', actions: [], argv: ['-p', '--output-format', 'json'] });

    const empty = run(t, [], ['-p', '--output-format', 'json'], 'anything');
    assert.equal(empty.status, 1);
    assert.match((JSON.parse(empty.stdout) as { result: string }).result, /exhausted/);
  });
});
