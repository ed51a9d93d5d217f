/**
 * A real HTTP server that speaks the Anthropic Messages and OpenAI chat
 * completions wire formats, so the providers are tested through the real
 * SDKs (headers, retries, timeouts, error parsing included). It replays a
 * script: each request to `/v1/messages` or `/v1/chat/completions` takes the
 * next entry, a fixed response or a function of the request; every request
 * is recorded for assertions.
 *
 *   const server = await startLlmServer([
 *     { ...anthropicError(429, 'rate_limit_error', 'slow down'), headers: { 'retry-after-ms': '20' } },
 *     (req) => anthropicReply({ tools: [{ name: 'propose_config', input: { lr: 1e-3 } }] }),
 *   ]);
 *   anthropicProvider({ ...settings, base_url: server.baseUrl.anthropic }, env);
 *   ...
 *   await server.close();
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The path with its query, e.g. `/v1/messages`. */
  path: string;
  /** Lower-cased names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON. A 200 body without `model` gets the model the request asked for, as real servers echo it. */
  body: unknown;
  /** Wait this long before answering (to test timeouts). */
  delayMs?: number;
}

export type ScriptEntry = ScriptedResponse | ((req: RecordedRequest) => ScriptedResponse | Promise<ScriptedResponse>);

export interface LlmServer {
  url: string;
  /** What each SDK takes as its base URL: the Anthropic SDK appends `/v1/messages`, the OpenAI SDK `/chat/completions`. */
  baseUrl: { anthropic: string; openai: string };
  requests: RecordedRequest[];
  push(...entries: ScriptEntry[]): void;
  close(): Promise<void>;
}

const ANTHROPIC_PATH = '/v1/messages';
const OPENAI_PATH = '/v1/chat/completions';

let serial = 0;
const nextId = (prefix: string): string => `${prefix}${(++serial).toString(36).padStart(8, '0')}`;

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A Messages API answer: an optional text block, then one tool_use block per tool. */
export function anthropicReply(opts: {
  text?: string;
  tools?: { name: string; input: unknown; id?: string }[];
  stop_reason?: string;
  usage?: AnthropicUsage;
  model?: string;
}): ScriptedResponse {
  const tools = opts.tools ?? [];
  const content: unknown[] = [];
  if (opts.text !== undefined) content.push({ type: 'text', text: opts.text });
  for (const t of tools) content.push({ type: 'tool_use', id: t.id ?? nextId('toolu_'), name: t.name, input: t.input });
  return {
    status: 200,
    body: {
      id: nextId('msg_'),
      type: 'message',
      role: 'assistant',
      ...(opts.model ? { model: opts.model } : {}),
      content,
      stop_reason: opts.stop_reason ?? (tools.length > 0 ? 'tool_use' : 'end_turn'),
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...opts.usage },
    },
  };
}

export interface OpenaiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  /** Reported as `prompt_tokens_details.cached_tokens`. */
  cached_tokens?: number;
}

/** A chat completion: `arguments` given as an object are serialized, a string is sent as it is (malformed JSON included). */
export function openaiReply(opts: {
  content?: string | null;
  toolCalls?: { name: string; arguments: string | object; id?: string }[];
  finish_reason?: string;
  usage?: OpenaiUsage;
  model?: string;
}): ScriptedResponse {
  const calls = opts.toolCalls ?? [];
  const { cached_tokens, ...counts } = opts.usage ?? {};
  const prompt = counts.prompt_tokens ?? 100;
  const completion = counts.completion_tokens ?? 20;
  return {
    status: 200,
    body: {
      id: nextId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      ...(opts.model ? { model: opts.model } : {}),
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: opts.content ?? null,
            ...(calls.length > 0
              ? {
                  tool_calls: calls.map((c) => ({
                    id: c.id ?? nextId('call_'),
                    type: 'function',
                    function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
                  })),
                }
              : {}),
            refusal: null,
          },
          finish_reason: opts.finish_reason ?? (calls.length > 0 ? 'tool_calls' : 'stop'),
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ...(cached_tokens !== undefined ? { prompt_tokens_details: { cached_tokens } } : {}),
      },
    },
  };
}

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

export function anthropicError(status: number, type: AnthropicErrorType, message: string): ScriptedResponse {
  return { status, body: { type: 'error', error: { type, message } } };
}

export function openaiError(status: number, message: string, type = 'invalid_request_error', code: string | null = null): ScriptedResponse {
  return { status, body: { error: { message, type, param: null, code } } };
}

/**
 * The same answer in whichever format the request was made in, so one script
 * serves both providers: free text plus tool calls.
 */
export function modelReply(opts: { text?: string; calls?: { name: string; input: unknown }[] }): (req: RecordedRequest) => ScriptedResponse {
  return (req) =>
    req.path.startsWith(OPENAI_PATH)
      ? openaiReply({ content: opts.text ?? null, toolCalls: (opts.calls ?? []).map((c) => ({ name: c.name, arguments: c.input ?? {} })) })
      : anthropicReply({ text: opts.text, tools: opts.calls });
}

/** An error in the format of the endpoint that was asked. */
function wireError(path: string, status: number, message: string): ScriptedResponse {
  return path.startsWith(OPENAI_PATH)
    ? openaiError(status, message, status >= 500 ? 'server_error' : 'invalid_request_error')
    : anthropicError(status, status >= 500 ? 'api_error' : 'invalid_request_error', message);
}

async function readBody(req: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

type Message = { role?: unknown; content?: unknown; tool_calls?: { id?: unknown }[]; tool_call_id?: unknown };

/**
 * The conversation rules the real APIs enforce with a 400, so a client that
 * breaks them fails here too: Anthropic alternates user and assistant turns
 * and answers every tool_use of an assistant turn with a tool_result (first)
 * in the next user turn; OpenAI follows an assistant message's tool_calls with
 * one `tool` message per call id.
 */
function conversationError(path: string, body: Record<string, unknown>): string | undefined {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as Message[];
  const blocks = (m: Message | undefined): { type?: unknown; id?: unknown; tool_use_id?: unknown }[] => (Array.isArray(m?.content) ? m.content : []);
  if (path.startsWith(ANTHROPIC_PATH)) {
    for (let i = 0; i < messages.length; i++) {
      if (messages[i].role === messages[i - 1]?.role) return `messages: roles must alternate between "user" and "assistant" (message ${i})`;
      const uses = blocks(messages[i]).filter((b) => b.type === 'tool_use').map((b) => b.id);
      if (uses.length === 0) continue;
      const next = blocks(messages[i + 1]);
      const results = next.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id);
      const missing = uses.filter((id) => !results.includes(id));
      if (i + 1 < messages.length && missing.length) return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(', ')}`;
      if (next.findIndex((b) => b.type !== 'tool_result') >= 0 && next.findIndex((b) => b.type !== 'tool_result') < results.length) return `messages.${i + 1}: tool_result blocks must come first`;
    }
    return undefined;
  }
  for (let i = 0; i < messages.length; i++) {
    const ids = (messages[i].tool_calls ?? []).map((c) => c.id);
    if (messages[i].role !== 'assistant' || ids.length === 0) continue;
    const answered = messages.slice(i + 1, i + 1 + ids.length).filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
    const missing = ids.filter((id) => !answered.includes(id));
    if (missing.length) return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${missing.join(', ')}`;
  }
  return undefined;
}

export async function startLlmServer(script: ScriptEntry[] = []): Promise<LlmServer> {
  const queue = [...script];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const send = (res: ServerResponse, r: ScriptedResponse): void => {
    // The client may have given up (a timeout test): nothing left to answer.
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(JSON.stringify(r.body));
  };

  const answer = async (path: string, recorded: RecordedRequest): Promise<ScriptedResponse> => {
    const entry = queue.shift();
    if (entry === undefined) {
      // Not worth retrying: a test that runs out of script should fail at once, not after backoffs.
      const r = wireError(path, 500, `llm test server: the script is exhausted (request ${requests.length} to ${path})`);
      return { ...r, headers: { 'x-should-retry': 'false' } };
    }
    const r = typeof entry === 'function' ? await entry(recorded) : entry;
    const body = r.body;
    if (r.status === 200 && body !== null && typeof body === 'object' && !('model' in body) && typeof recorded.body.model === 'string') {
      return { ...r, body: { ...body, model: recorded.body.model } };
    }
    return r;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const text = await readBody(req);
      const body = parseObject(text);
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body: body ?? {} };
      requests.push(recorded);
      const known = path.startsWith(ANTHROPIC_PATH) || path.startsWith(OPENAI_PATH);
      let r: ScriptedResponse;
      if (req.method !== 'POST' || !known) r = wireError(path, 404, `llm test server: no route ${req.method} ${path}`);
      else if (body === undefined) r = wireError(path, 400, 'llm test server: the body is not a JSON object');
      else if (body.stream === true) r = wireError(path, 400, 'llm test server: streaming is not supported, send stream: false');
      else {
        const wrong = conversationError(path, body);
        r = wrong !== undefined ? wireError(path, 400, wrong) : await answer(path, recorded);
      }
      if (r.delayMs) await wait(r.delayMs);
      send(res, r);
    })().catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json', 'x-should-retry': 'false' });
        res.end(JSON.stringify({ error: { message: `llm test server: ${(err as Error).message}`, type: 'server_error', param: null, code: null } }));
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: { anthropic: url, openai: `${url}/v1` },
    requests,
    push: (...entries) => void queue.push(...entries),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
