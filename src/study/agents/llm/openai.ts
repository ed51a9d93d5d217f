/**
 * OpenAI chat completions through the official SDK, for OpenAI itself and
 * for compatible servers (Ollama, vLLM, llama.cpp, LM Studio) at a base URL.
 * Many local models take no tools, so mode `auto` starts with native tool
 * calls and, the first time the server says it cannot take them, switches
 * this provider to JSON mode for good and asks again at once.
 */
import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { LlmSettings } from '../../../config/llm.js';
import { UserError } from '../../../util/errors.js';
import { jsonModeMessages, jsonModeSystem, jsonReply } from './json-mode.js';
import { LlmCallError, type ModelReply, type ModelRequest, type Provider, type ToolCall, type Turn, type Usage } from './provider.js';
import { timeoutMs, toLlmError, type SdkErrorClasses } from './sdk-errors.js';

export const OPENAI_DEFAULT_MODEL = 'gpt-4.1-mini';
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** Sent to servers at a base URL when OPENAI_API_KEY is unset: the SDK insists on a key, local servers ignore it. */
export const PLACEHOLDER_KEY = 'no-key';

const ERRORS: SdkErrorClasses = {
  base: OpenAI.OpenAIError,
  api: OpenAI.APIError,
  userAbort: OpenAI.APIUserAbortError,
  timeout: OpenAI.APIConnectionTimeoutError,
  connection: OpenAI.APIConnectionError,
};

/**
 * The server cannot take the `tools` field (model or server): Ollama "... does
 * not support tools" (400), llama.cpp without --jinja "tools param requires
 * --jinja flag" (a 500), vLLM without a tool parser "... tool choice requires
 * --enable-auto-tool-choice ..." (400). Only explicit words count: a bare 400
 * (or OpenAI's "Unknown parameter: 'tools[0]...'") is a bad request that JSON
 * mode would hide.
 */
export function refusesTools(err: unknown): boolean {
  if (!(err instanceof OpenAI.APIError) || ![400, 404, 422, 500, 501].includes(err.status ?? 0)) return false;
  return /\btools?\b/i.test(err.message) && /support|require|jinja|not allowed|no endpoints/i.test(err.message);
}

function toMessages(system: string, turns: readonly Turn[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
  for (const t of turns) {
    if (t.role === 'user') out.push({ role: 'user', content: t.text });
    else if (t.role === 'assistant') {
      // An empty tool_calls list is refused, and so is a null content without calls.
      if (t.calls.length === 0) out.push({ role: 'assistant', content: t.text });
      else {
        out.push({
          role: 'assistant',
          content: t.text || null,
          tool_calls: t.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.raw ?? JSON.stringify(c.input ?? {}) } })),
        });
      }
    } else {
      for (const r of t.results) out.push({ role: 'tool', tool_call_id: r.id, content: r.is_error ? `ERROR: ${r.content}` : r.content });
      if (t.text) out.push({ role: 'user', content: t.text });
    }
  }
  return out;
}

function readArguments(raw: unknown): { input: unknown; malformed?: string; raw?: string } {
  // Some compatible servers send the arguments as an object, or nothing for a call without any.
  if (typeof raw !== 'string') return { input: raw ?? {} };
  if (raw.trim() === '') return { input: {} };
  try {
    return { input: JSON.parse(raw) };
  } catch (err) {
    const shown = raw.length > 300 ? `${raw.slice(0, 300)}...` : raw;
    return { input: undefined, raw, malformed: `the arguments are not valid JSON (${(err as Error).message}): ${shown}` };
  }
}

function toCall(tc: ChatCompletionMessageToolCall, i: number): ToolCall {
  const id = tc.id || `call_${i + 1}`;
  if (tc.type !== 'function') {
    return { id, name: tc.custom.name, input: undefined, malformed: `a ${tc.type} tool call, not a function call` };
  }
  return { id, name: tc.function.name, ...readArguments(tc.function.arguments as unknown) };
}

function toUsage(u: ChatCompletion['usage']): Usage | undefined {
  if (!u) return undefined;
  const usage: Usage = { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens };
  const cached = u.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') usage.cache_read_tokens = cached;
  return usage;
}

function toReply(completion: ChatCompletion, json: boolean, asked: string): ModelReply {
  const choice = completion.choices?.[0];
  if (!choice?.message) throw new LlmCallError('openai: the server answered with no choice or no message', false);
  const message = choice.message;
  const base = { model: completion.model || asked, usage: toUsage(completion.usage), stop_reason: choice.finish_reason ?? undefined };
  const text = message.content ?? message.refusal ?? '';
  if (!json) return { ...base, text, calls: (message.tool_calls ?? []).map(toCall) };
  return { ...base, ...jsonReply(text) };
}

/** Settings that cannot work fail here, before a study starts. */
function resolve(s: LlmSettings, env: NodeJS.ProcessEnv): { key: string | undefined; model: string } {
  const key = env.OPENAI_API_KEY?.trim() || undefined;
  if (!key && s.base_url === undefined) {
    throw new UserError(
      'provider openai needs an API key: set OPENAI_API_KEY (keys are read from the environment only), ' +
        'or give study.llm.base_url (--base-url) for a local OpenAI-compatible server, which needs none',
    );
  }
  if (s.model) return { key, model: s.model };
  if (s.base_url === undefined) return { key, model: OPENAI_DEFAULT_MODEL };
  throw new UserError(
    `study.llm.model (--model) is required with a base URL (${s.base_url}): the name the server knows the model by, e.g. llama3.1:8b for Ollama`,
  );
}

export function openaiProvider(s: LlmSettings, env: NodeJS.ProcessEnv = process.env): Provider {
  const { key, model } = resolve(s, env);
  const official = s.base_url === undefined || new URL(s.base_url).hostname === new URL(OPENAI_BASE_URL).hostname;
  // Pinned rather than left to the SDK, which would read OPENAI_BASE_URL: the endpoint is the config's to say.
  const baseURL = s.base_url ?? OPENAI_BASE_URL;
  const client = new OpenAI({
    apiKey: key ?? PLACEHOLDER_KEY,
    baseURL,
    timeout: timeoutMs(s.timeout_s),
    maxRetries: 0,
    // The SDK reads these from process.env; a server at a base URL gets none of them.
    organization: official ? (env.OPENAI_ORG_ID ?? null) : null,
    project: official ? (env.OPENAI_PROJECT_ID ?? null) : null,
  });
  const ctx = { provider: 'openai' as const, keyVar: 'OPENAI_API_KEY', key, baseURL, timeout_s: s.timeout_s };
  let mode: 'tools' | 'json' = s.mode === 'json' ? 'json' : 'tools';

  const send = (req: ModelRequest, json: boolean, signal?: AbortSignal): Promise<ChatCompletion> => {
    const tools: ChatCompletionTool[] = req.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.input_schema as Record<string, unknown> },
    }));
    const params: ChatCompletionCreateParamsNonStreaming = {
      model,
      messages: json
        ? [{ role: 'system', content: jsonModeSystem(req.system, req.tools) }, ...jsonModeMessages(req.turns)]
        : toMessages(req.system, req.turns),
      // OpenAI's newer models refuse max_tokens; compatible servers mostly know only max_tokens.
      ...(official ? { max_completion_tokens: req.maxTokens } : { max_tokens: req.maxTokens }),
      ...(json ? { response_format: { type: 'json_object' as const } } : tools.length > 0 ? { tools } : {}),
    };
    return client.chat.completions.create(params, { signal });
  };

  return {
    name: 'openai',
    model,
    get mode() {
      return mode;
    },
    async complete(req: ModelRequest, signal?: AbortSignal): Promise<ModelReply> {
      if (mode === 'tools') {
        try {
          return toReply(await send(req, false, signal), false, model);
        } catch (err) {
          if (!(s.mode === 'auto' && refusesTools(err))) throw toLlmError(err, ERRORS, ctx);
          mode = 'json';
        }
      }
      try {
        return toReply(await send(req, true, signal), true, model);
      } catch (err) {
        throw toLlmError(err, ERRORS, ctx);
      }
    },
  };
}
