import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLlm, type LlmSettings } from '../src/config/llm.js';
import { anthropicProvider, ANTHROPIC_DEFAULT_MODEL } from '../src/study/agents/llm/anthropic.js';
import { openaiProvider, OPENAI_DEFAULT_MODEL, PLACEHOLDER_KEY } from '../src/study/agents/llm/openai.js';
import { LlmAuthError, LlmCallError, LlmStopError, type ModelRequest, type Provider, type ToolSpec } from '../src/study/agents/llm/provider.js';
import { withRetries } from '../src/study/agents/llm/retry.js';
import { retryAfterMs } from '../src/study/agents/llm/sdk-errors.js';
import { UserError } from '../src/util/errors.js';
import {
  anthropicError, anthropicReply, modelReply, openaiError, openaiReply, startLlmServer, type LlmServer, type ScriptEntry, type ScriptedResponse,
} from './helpers/llm-server.js';

const KEY = 'sk-test-123';
const TOOLS: ToolSpec[] = [
  {
    name: 'propose_config',
    description: 'Propose one trial.',
    input_schema: { type: 'object', properties: { lr: { type: 'number' } }, required: ['lr'] },
  },
  { name: 'finish', description: 'End the study.', input_schema: { type: 'object', properties: {} } },
];

/** One of each turn kind: a user text, an assistant with text and two calls (one without input), their results and more text. */
const REQUEST: ModelRequest = {
  system: 'You steer a study.',
  tools: TOOLS,
  maxTokens: 1024,
  turns: [
    { role: 'user', text: 'Batch 0 is done.' },
    {
      role: 'assistant',
      text: 'Two moves.',
      calls: [
        { id: 'call_a', name: 'propose_config', input: { lr: 0.001 } },
        { id: 'call_b', name: 'finish', input: undefined },
      ],
    },
    {
      role: 'tool_results',
      results: [
        { id: 'call_a', content: 'trial 5 queued', is_error: false },
        { id: 'call_b', content: 'budget left', is_error: true },
      ],
      text: 'Batch 1 is done.',
    },
  ],
};

const SHORT: ModelRequest = { system: 'sys', tools: TOOLS, maxTokens: 64, turns: [{ role: 'user', text: 'go' }] };

type ProviderKind = 'anthropic' | 'openai';

function settings(server: LlmServer, kind: ProviderKind, over: Partial<LlmSettings> = {}): LlmSettings {
  return { ...defaultLlm(kind), model: `${kind}-test-model`, base_url: server.baseUrl[kind], timeout_s: 5, ...over };
}

function provider(server: LlmServer, kind: ProviderKind, over: Partial<LlmSettings> = {}, env: NodeJS.ProcessEnv = {}): Provider {
  const s = settings(server, kind, over);
  return kind === 'anthropic'
    ? anthropicProvider(s, { ANTHROPIC_API_KEY: KEY, ...env })
    : openaiProvider(s, { OPENAI_API_KEY: KEY, ...env });
}

async function withServer(script: ScriptEntry[], body: (server: LlmServer) => Promise<void>): Promise<void> {
  const server = await startLlmServer(script);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

const JSON_ANSWER = JSON.stringify({ reasoning: 'lower the rate', actions: [{ tool: 'propose_config', input: { lr: 0.0005 } }] });

// ---------------------------------------------------------------- Anthropic

test('anthropic: the request carries system, tools and turns in the Messages wire format', async () => {
  await withServer([anthropicReply({ text: 'ok' })], async (server) => {
    await provider(server, 'anthropic').complete(REQUEST);
    assert.equal(server.requests.length, 1);
    const req = server.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/messages');
    assert.deepEqual(req.body, {
      model: 'anthropic-test-model',
      max_tokens: 1024,
      system: [{ type: 'text', text: 'You steer a study.', cache_control: { type: 'ephemeral' } }],
      tools: [
        { name: 'propose_config', description: 'Propose one trial.', input_schema: TOOLS[0].input_schema },
        { name: 'finish', description: 'End the study.', input_schema: TOOLS[1].input_schema },
      ],
      messages: [
        { role: 'user', content: 'Batch 0 is done.' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Two moves.' },
            { type: 'tool_use', id: 'call_a', name: 'propose_config', input: { lr: 0.001 } },
            { type: 'tool_use', id: 'call_b', name: 'finish', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_a', content: 'trial 5 queued', is_error: false },
            { type: 'tool_result', tool_use_id: 'call_b', content: 'budget left', is_error: true },
            { type: 'text', text: 'Batch 1 is done.' },
          ],
        },
      ],
    });
  });
});

test('anthropic: the key goes in the Authorization header as a bearer token (what SDK 1.x sends), with the API version', async () => {
  await withServer([anthropicReply({ text: 'ok' })], async (server) => {
    await provider(server, 'anthropic').complete(SHORT);
    const headers = server.requests[0].headers;
    assert.equal(headers.authorization, `Bearer ${KEY}`);
    assert.equal(headers['x-api-key'], undefined);
    assert.ok(headers['anthropic-version'], 'anthropic-version is sent');
  });
});

test('anthropic: text blocks joined, tool_use blocks become calls, usage and stop reason come back', async () => {
  const reply = anthropicReply({
    text: 'First thought.',
    tools: [{ id: 'toolu_1', name: 'propose_config', input: { lr: 0.002 } }],
    usage: { input_tokens: 1200, output_tokens: 80, cache_read_input_tokens: 1000, cache_creation_input_tokens: 150 },
  });
  (reply.body as { content: unknown[] }).content.splice(1, 0, { type: 'text', text: 'Second thought.' });
  await withServer([reply], async (server) => {
    const r = await provider(server, 'anthropic').complete(SHORT);
    assert.equal(r.text, 'First thought.\nSecond thought.');
    assert.deepEqual(r.calls, [{ id: 'toolu_1', name: 'propose_config', input: { lr: 0.002 } }]);
    assert.deepEqual(r.usage, { input_tokens: 1200, output_tokens: 80, cache_read_tokens: 1000, cache_write_tokens: 150 });
    assert.equal(r.stop_reason, 'tool_use');
    assert.equal(r.model, 'anthropic-test-model');
    assert.equal(r.malformed, undefined);
  });
});

test('anthropic: the default model, and the key only from ANTHROPIC_API_KEY', () => {
  const s = { ...defaultLlm('anthropic'), base_url: 'http://127.0.0.1:9' };
  assert.equal(anthropicProvider(s, { ANTHROPIC_API_KEY: KEY }).model, ANTHROPIC_DEFAULT_MODEL);
  assert.equal(anthropicProvider(s, { ANTHROPIC_API_KEY: KEY }).mode, 'tools', 'auto means native tools');
  assert.throws(() => anthropicProvider(s, {}), (err: unknown) => err instanceof UserError && /ANTHROPIC_API_KEY/.test(err.message));
  assert.throws(() => anthropicProvider(s, { ANTHROPIC_API_KEY: '  ' }), UserError);
});

test('anthropic: JSON mode sends no tools, puts the contract in the system text and reads the answer into calls', async () => {
  await withServer([anthropicReply({ text: JSON_ANSWER })], async (server) => {
    const p = provider(server, 'anthropic', { mode: 'json' });
    assert.equal(p.mode, 'json');
    const r = await p.complete(REQUEST);
    const body = server.requests[0].body;
    assert.equal(body.tools, undefined);
    const system = body.system as { type: string; text: string; cache_control?: unknown }[];
    assert.match(system[0].text, /^You steer a study\.[\s\S]*propose_config/);
    assert.deepEqual(system[0].cache_control, { type: 'ephemeral' }, 'instructions and tools are read from the prompt cache after the first call');
    const messages = body.messages as { role: string; content: unknown }[];
    assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.ok(messages.every((m) => typeof m.content === 'string'), 'plain text messages');
    assert.equal(r.text, 'lower the rate');
    assert.deepEqual(r.calls, [{ id: 'call_1', name: 'propose_config', input: { lr: 0.0005 } }]);
  });
});

test('anthropic: JSON mode reports an answer that is not the JSON object as malformed', async () => {
  await withServer([anthropicReply({ text: 'I think we should lower the rate.' })], async (server) => {
    const r = await provider(server, 'anthropic', { mode: 'json' }).complete(SHORT);
    assert.deepEqual(r.calls, []);
    assert.match(r.malformed ?? '', /no JSON object/);
  });
});

// ---------------------------------------------------------------- OpenAI

test('openai: the request carries the system message, function tools, turns and max_tokens (a compatible server) in the chat completions wire format', async () => {
  await withServer([openaiReply({ content: 'ok' })], async (server) => {
    await provider(server, 'openai').complete(REQUEST);
    const req = server.requests[0];
    assert.equal(req.path, '/v1/chat/completions');
    assert.deepEqual(req.body, {
      model: 'openai-test-model',
      max_tokens: 1024,
      tools: [
        { type: 'function', function: { name: 'propose_config', description: 'Propose one trial.', parameters: TOOLS[0].input_schema } },
        { type: 'function', function: { name: 'finish', description: 'End the study.', parameters: TOOLS[1].input_schema } },
      ],
      messages: [
        { role: 'system', content: 'You steer a study.' },
        { role: 'user', content: 'Batch 0 is done.' },
        {
          role: 'assistant',
          content: 'Two moves.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'propose_config', arguments: '{"lr":0.001}' } },
            { id: 'call_b', type: 'function', function: { name: 'finish', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'trial 5 queued' },
        { role: 'tool', tool_call_id: 'call_b', content: 'ERROR: budget left' },
        { role: 'user', content: 'Batch 1 is done.' },
      ],
    });
  });
});

test('openai: the key goes in the Authorization header as a bearer token', async () => {
  await withServer([openaiReply({ content: 'ok' })], async (server) => {
    await provider(server, 'openai').complete(SHORT);
    assert.equal(server.requests[0].headers.authorization, `Bearer ${KEY}`);
  });
});

test('openai: tool calls, text, usage (with cached tokens) and finish reason come back', async () => {
  const reply = openaiReply({
    content: 'Lowering the rate.',
    toolCalls: [{ id: 'call_x', name: 'propose_config', arguments: { lr: 0.002 } }],
    usage: { prompt_tokens: 900, completion_tokens: 40, cached_tokens: 512 },
  });
  await withServer([reply], async (server) => {
    const r = await provider(server, 'openai').complete(SHORT);
    assert.equal(r.text, 'Lowering the rate.');
    assert.deepEqual(r.calls, [{ id: 'call_x', name: 'propose_config', input: { lr: 0.002 } }]);
    assert.deepEqual(r.usage, { input_tokens: 900, output_tokens: 40, cache_read_tokens: 512 });
    assert.equal(r.stop_reason, 'tool_calls');
    assert.equal(r.model, 'openai-test-model');
  });
});

test('openai: tool call arguments that are not JSON give a call marked malformed, with the parser error and the raw text', async () => {
  const reply = openaiReply({
    toolCalls: [
      { id: 'call_bad', name: 'propose_config', arguments: '{"lr": 0.001,' },
      { id: 'call_ok', name: 'finish', arguments: '{}' },
    ],
  });
  await withServer([reply], async (server) => {
    const r = await provider(server, 'openai').complete(SHORT);
    const [bad, ok] = r.calls;
    assert.equal(bad.name, 'propose_config');
    assert.equal(bad.input, undefined);
    assert.match(bad.malformed ?? '', /not valid JSON \(.+\): \{"lr": 0\.001,$/);
    assert.deepEqual(ok, { id: 'call_ok', name: 'finish', input: {} });
  });
});

test('openai: without a base URL the key is required, the default model is used; with one the model is required and the key is not', async () => {
  const official = { ...defaultLlm('openai') };
  assert.throws(() => openaiProvider(official, {}), (err: unknown) => err instanceof UserError && /OPENAI_API_KEY/.test(err.message));
  assert.equal(openaiProvider(official, { OPENAI_API_KEY: KEY }).model, OPENAI_DEFAULT_MODEL);
  assert.equal(OPENAI_DEFAULT_MODEL, 'gpt-4.1-mini');
  const local = { ...defaultLlm('openai'), base_url: 'http://127.0.0.1:11434/v1' };
  assert.throws(
    () => openaiProvider(local, {}),
    (err: unknown) => err instanceof UserError && err.message.includes('study.llm.model (--model)') && /llama3\.1:8b/.test(err.message),
  );
  await withServer([openaiReply({ content: 'ok' })], async (server) => {
    await openaiProvider(settings(server, 'openai'), {}).complete(SHORT);
    assert.equal(server.requests[0].headers.authorization, `Bearer ${PLACEHOLDER_KEY}`, 'a local server gets a placeholder key');
  });
});

test('openai: JSON mode sends response_format json_object and no tools, and reads the answer into calls', async () => {
  await withServer([openaiReply({ content: JSON_ANSWER })], async (server) => {
    const r = await provider(server, 'openai', { mode: 'json' }).complete(REQUEST);
    const body = server.requests[0].body;
    assert.equal(body.tools, undefined);
    assert.deepEqual(body.response_format, { type: 'json_object' });
    const messages = body.messages as { role: string; content: string }[];
    assert.deepEqual(messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.match(messages[0].content, /propose_config/);
    assert.match(messages[3].content, /ERROR: budget left/);
    assert.equal(r.text, 'lower the rate');
    assert.deepEqual(r.calls, [{ id: 'call_1', name: 'propose_config', input: { lr: 0.0005 } }]);
  });
});

for (const [server_, refusal] of [
  ['Ollama', openaiError(400, 'registry.ollama.ai/library/gemma:2b does not support tools', 'api_error')],
  ['llama.cpp without --jinja', openaiError(500, 'tools param requires --jinja flag', 'server_error')],
] as const) {
  test(`openai auto mode: when the server refuses tools (${server_}), JSON mode at once and for every later request`, async () => {
    await withServer([refusal, openaiReply({ content: JSON_ANSWER }), openaiReply({ content: JSON_ANSWER })], async (server) => {
      const p = provider(server, 'openai', { mode: 'auto' });
      assert.equal(p.mode, 'tools');
      const first = await p.complete(SHORT);
      assert.equal(p.mode, 'json');
      assert.deepEqual(first.calls, [{ id: 'call_1', name: 'propose_config', input: { lr: 0.0005 } }]);
      await p.complete(SHORT);
      assert.equal(server.requests.length, 3);
      assert.ok(Array.isArray(server.requests[0].body.tools), 'the first try offers tools');
      for (const later of server.requests.slice(1)) {
        assert.equal(later.body.tools, undefined);
        assert.deepEqual(later.body.response_format, { type: 'json_object' });
      }
    });
  });
}

test('openai: tools mode does not switch when tools are refused, and auto mode does not switch on other 400s', async () => {
  const refusal = openaiError(400, 'registry.ollama.ai/library/gemma:2b does not support tools', 'api_error');
  await withServer([refusal, openaiError(400, 'the request exceeds the available context size')], async (server) => {
    const tools = provider(server, 'openai', { mode: 'tools' });
    const err = await rejection(tools.complete(SHORT));
    assert.ok(err instanceof LlmCallError && !err.transient && err.status === 400);
    assert.equal(tools.mode, 'tools');
    const auto = provider(server, 'openai', { mode: 'auto' });
    const err2 = await rejection(auto.complete(SHORT));
    assert.ok(err2 instanceof LlmCallError && /context size/.test(err2.message));
    assert.equal(auto.mode, 'tools');
    assert.equal(server.requests.length, 2);
  });
});

// ---------------------------------------------------------------- errors, both providers

const ERRORS: Record<ProviderKind, {
  auth: ScriptedResponse; rateLimit: ScriptedResponse; server: ScriptedResponse; overloaded: ScriptedResponse; invalid: ScriptedResponse; ok: ScriptedResponse;
}> = {
  anthropic: {
    auth: anthropicError(401, 'authentication_error', `invalid x-api-key ${KEY}`),
    rateLimit: { ...anthropicError(429, 'rate_limit_error', 'rate limited'), headers: { 'retry-after-ms': '20' } },
    server: anthropicError(500, 'api_error', 'internal error'),
    overloaded: anthropicError(529, 'overloaded_error', 'Overloaded'),
    invalid: anthropicError(400, 'invalid_request_error', 'max_tokens: must be at most 64000'),
    ok: anthropicReply({ text: 'ok' }),
  },
  openai: {
    auth: openaiError(401, `Incorrect API key provided: ${KEY}.`, 'invalid_request_error', 'invalid_api_key'),
    rateLimit: { ...openaiError(429, 'Rate limit reached', 'requests', 'rate_limit_exceeded'), headers: { 'retry-after-ms': '20' } },
    server: openaiError(500, 'The server had an error', 'server_error'),
    overloaded: openaiError(529, 'overloaded', 'server_error'),
    invalid: openaiError(400, "Invalid value for 'max_tokens'", 'invalid_request_error'),
    ok: openaiReply({ content: 'ok' }),
  },
};

for (const kind of ['anthropic', 'openai'] as const) {
  const e = ERRORS[kind];
  const keyVar = kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';

  test(`${kind}: a 429 with retry-after-ms is retried by withRetries after the server's wait`, async () => {
    await withServer([e.rateLimit, e.ok], async (server) => {
      const p = provider(server, kind);
      const waits: number[] = [];
      const { value, tries } = await withRetries(() => p.complete(SHORT), { onRetry: (_err, _attempt, ms) => waits.push(ms) });
      assert.equal(value.text, 'ok');
      assert.equal(tries, 2);
      assert.equal(server.requests.length, 2, 'the SDK does not retry on its own');
      assert.deepEqual(waits, [20]);
    });
  });

  test(`${kind}: a 401 is an auth error naming ${keyVar}, never the key`, async () => {
    await withServer([e.auth], async (server) => {
      const err = await rejection(provider(server, kind).complete(SHORT));
      assert.ok(err instanceof LlmAuthError, String(err));
      assert.ok(err instanceof UserError, 'the study stops with a message for the user');
      assert.match(err.message, new RegExp(`^${kind}: authentication failed \\(401: `));
      assert.ok(err.message.includes(keyVar));
      assert.ok(!err.message.includes(KEY), err.message);
      assert.equal(server.requests.length, 1);
    });
  });

  test(`${kind}: 500 and 529 are transient errors`, async () => {
    await withServer([e.server, e.overloaded], async (server) => {
      const p = provider(server, kind);
      for (const status of [500, 529]) {
        const err = await rejection(p.complete(SHORT));
        assert.ok(err instanceof LlmCallError && err.transient, String(err));
        assert.equal(err.status, status);
        assert.match(err.message, new RegExp(`^${kind}: request failed \\(${status}: `));
      }
      assert.equal(server.requests.length, 2);
    });
  });

  test(`${kind}: a 400 invalid request is not transient and carries the server's message`, async () => {
    await withServer([e.invalid], async (server) => {
      const err = await rejection(provider(server, kind).complete(SHORT));
      assert.ok(err instanceof LlmCallError && !err.transient, String(err));
      assert.equal(err.status, 400);
      assert.match(err.message, /400: .*max_tokens/);
    });
  });

  test(`${kind}: a server slower than timeout_s is a transient error, without waiting for it`, async () => {
    await withServer([{ ...e.ok, delayMs: 1000 }], async (server) => {
      const start = Date.now();
      const err = await rejection(provider(server, kind, { timeout_s: 0.2 }).complete(SHORT));
      assert.ok(err instanceof LlmCallError && err.transient, String(err));
      assert.match(err.message, /no answer within 0\.2 s/);
      assert.ok(Date.now() - start < 900, `gave up after ${Date.now() - start} ms`);
    });
  });

  test(`${kind}: a request cancelled through its signal fails at once and is not retried`, async () => {
    await withServer([{ ...e.ok, delayMs: 1000 }], async (server) => {
      const start = Date.now();
      const err = await rejection(provider(server, kind).complete(SHORT, AbortSignal.timeout(50)));
      assert.ok(err instanceof LlmCallError && !err.transient, String(err));
      assert.match(err.message, /cancelled/);
      assert.ok(Date.now() - start < 900, `gave up after ${Date.now() - start} ms`);
    });
  });

  test(`${kind}: a server that cannot be reached is a transient error`, async () => {
    const server = await startLlmServer();
    await server.close();
    const err = await rejection(provider(server, kind).complete(SHORT));
    assert.ok(err instanceof LlmCallError && err.transient, String(err));
    assert.match(err.message, /cannot reach/);
  });

  test(`${kind}: a scripted function answers from what was asked, in the provider's format`, async () => {
    const asked: unknown[] = [];
    const script: ScriptEntry[] = [
      modelReply({ text: 'reading', calls: [{ name: 'finish', input: {} }] }),
      (req) => {
        asked.push(req.body.messages);
        return modelReply({ calls: [{ name: 'propose_config', input: { lr: 0.01 } }] })(req);
      },
    ];
    await withServer(script, async (server) => {
      const p = provider(server, kind);
      const first = await p.complete(SHORT);
      assert.equal(first.text, 'reading');
      assert.deepEqual(first.calls.map((c) => [c.name, c.input]), [['finish', {}]]);
      const second = await p.complete(SHORT);
      assert.deepEqual(second.calls.map((c) => [c.name, c.input]), [['propose_config', { lr: 0.01 }]]);
      assert.match(JSON.stringify(asked[0]), /"go"/);
    });
  });
}

// ---------------------------------------------------------------- the test server and the shared pieces

test('the test server refuses streaming and fails fast once its script is exhausted', async () => {
  await withServer([], async (server) => {
    const stream = await fetch(`${server.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', stream: true }) });
    assert.equal(stream.status, 400);
    const err = await rejection(provider(server, 'anthropic').complete(SHORT));
    assert.ok(err instanceof LlmCallError && !err.transient && err.status === 500, String(err));
    assert.match(err.message, /script is exhausted/);
    assert.equal(server.requests.length, 2);
  });
});

test('retry-after: milliseconds first, then seconds or an HTTP date', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '2' }), now), 2000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:03 GMT' }), now), 3000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(retryAfterMs(new Headers(), now), undefined);
});

for (const kind of ['anthropic', 'openai'] as const) {
  test(`${kind}: the test server refuses a history with an unanswered tool call, as the real API does`, async () => {
    const unanswered: ModelRequest = {
      ...SHORT,
      turns: [
        { role: 'user', text: 'go' },
        { role: 'assistant', text: '', calls: [{ id: 'call_x', name: 'propose_config', input: { lr: 1 } }] },
        { role: 'user', text: 'and?' },
      ],
    };
    await withServer([], async (server) => {
      const err = await rejection(provider(server, kind).complete(unanswered));
      assert.ok(err instanceof LlmCallError && !err.transient && err.status === 400, String(err));
      assert.match(err.message, /call_x/);
    });
  });

  test(`${kind}: a 404 (no such model) and an exhausted quota stop the study instead of falling back on every decision`, async () => {
    const notFound = kind === 'anthropic' ? anthropicError(404, 'not_found_error', 'model: claude-nope') : openaiError(404, 'The model `gpt-nope` does not exist', 'invalid_request_error', 'model_not_found');
    const quota = kind === 'anthropic'
      ? anthropicError(400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API.')
      : { ...openaiError(429, 'You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'), headers: { 'x-should-retry': 'false' } };
    await withServer([notFound, quota], async (server) => {
      const a = await rejection(provider(server, kind).complete(SHORT));
      assert.ok(a instanceof LlmStopError && a instanceof UserError, String(a));
      assert.match(a.message, /not found \(404: .*\): check the model name and the base URL \('study resume <dir> --model NAME --base-url URL' changes them\)/);
      const b = await rejection(provider(server, kind).complete(SHORT));
      assert.ok(b instanceof LlmStopError, String(b));
      assert.match(b.message, /the account cannot pay for requests/);
    });
  });
}
