/**
 * The Anthropic Messages API through the official SDK: native tool calls
 * (tool_use / tool_result blocks), or JSON mode when the settings ask for it.
 * The SDK's own retries are off so that every try goes through retry.ts and
 * is logged there.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { LlmSettings } from '../../../config/llm.js';
import { UserError } from '../../../util/errors.js';
import { jsonModeMessages, jsonModeSystem, jsonReply } from './json-mode.js';
import type { ModelReply, ModelRequest, Provider, ToolCall, ToolSpec, Turn, Usage } from './provider.js';
import { timeoutMs, toLlmError, type SdkErrorClasses } from './sdk-errors.js';

export const ANTHROPIC_DEFAULT_MODEL = 'claude-sonnet-4-6';
export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

const ERRORS: SdkErrorClasses = {
  base: Anthropic.AnthropicError,
  api: Anthropic.APIError,
  userAbort: Anthropic.APIUserAbortError,
  timeout: Anthropic.APIConnectionTimeoutError,
  connection: Anthropic.APIConnectionError,
};

function toTool(t: ToolSpec): Anthropic.Tool {
  return { name: t.name, description: t.description, input_schema: t.input_schema as Anthropic.Tool.InputSchema };
}

function toMessages(turns: readonly Turn[]): Anthropic.MessageParam[] {
  const out: Anthropic.MessageParam[] = [];
  for (const t of turns) {
    if (t.role === 'user') out.push({ role: 'user', content: t.text });
    else if (t.role === 'assistant') {
      const blocks: Anthropic.ContentBlockParam[] = t.text ? [{ type: 'text', text: t.text }] : [];
      for (const c of t.calls) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: c.input ?? {} });
      // The API refuses an empty assistant message; without it the user turns around it merge.
      if (blocks.length > 0) out.push({ role: 'assistant', content: blocks });
    } else {
      const blocks: Anthropic.ContentBlockParam[] = t.results.map((r) => ({
        type: 'tool_result', tool_use_id: r.id, content: r.content, is_error: r.is_error,
      }));
      if (t.text) blocks.push({ type: 'text', text: t.text });
      out.push({ role: 'user', content: blocks });
    }
  }
  return out;
}

function toUsage(u: Anthropic.Usage | undefined): Usage | undefined {
  if (!u) return undefined;
  const usage: Usage = { input_tokens: u.input_tokens, output_tokens: u.output_tokens };
  if (typeof u.cache_read_input_tokens === 'number') usage.cache_read_tokens = u.cache_read_input_tokens;
  if (typeof u.cache_creation_input_tokens === 'number') usage.cache_write_tokens = u.cache_creation_input_tokens;
  return usage;
}

function toReply(msg: Anthropic.Message, json: boolean): ModelReply {
  const texts: string[] = [];
  const calls: ToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text') texts.push(block.text);
    else if (block.type === 'tool_use') calls.push({ id: block.id, name: block.name, input: block.input });
  }
  const base = { model: msg.model, usage: toUsage(msg.usage), stop_reason: msg.stop_reason ?? undefined };
  const text = texts.join('\n');
  if (!json) return { ...base, text, calls };
  return { ...base, ...jsonReply(text) };
}

/** The key only from ANTHROPIC_API_KEY, so a config or a journal never holds one. */
export function anthropicProvider(s: LlmSettings, env: NodeJS.ProcessEnv = process.env): Provider {
  const key = env.ANTHROPIC_API_KEY?.trim();
  if (!key) {
    throw new UserError('provider anthropic needs an API key: set ANTHROPIC_API_KEY (keys are read from the environment only, never from the config)');
  }
  // Pinned rather than left to the SDK, which would read ANTHROPIC_BASE_URL: the endpoint is the config's to say.
  const baseURL = s.base_url ?? ANTHROPIC_BASE_URL;
  const client = new Anthropic({ apiKey: key, baseURL, timeout: timeoutMs(s.timeout_s), maxRetries: 0 });
  const model = s.model ?? ANTHROPIC_DEFAULT_MODEL;
  const mode = s.mode === 'json' ? 'json' : 'tools';
  const ctx = { provider: 'anthropic' as const, keyVar: 'ANTHROPIC_API_KEY', key, baseURL, timeout_s: s.timeout_s };

  return {
    name: 'anthropic',
    model,
    mode,
    async complete(req: ModelRequest, signal?: AbortSignal): Promise<ModelReply> {
      const json = mode === 'json';
      const system = json ? jsonModeSystem(req.system, req.tools) : req.system;
      const params: Anthropic.MessageCreateParamsNonStreaming = {
        model,
        max_tokens: req.maxTokens,
        messages: json ? jsonModeMessages(req.turns) : toMessages(req.turns),
        // The API refuses an empty system text. The instructions and tools are the same on every call of a
        // study: marking them cacheable makes later calls read them from the prompt cache (about a tenth of the price).
        ...(system ? { system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }] } : {}),
        ...(!json && req.tools.length > 0 ? { tools: req.tools.map(toTool) } : {}),
      };
      let msg: Anthropic.Message;
      try {
        msg = await client.messages.create(params, { signal });
      } catch (err) {
        throw toLlmError(err, ERRORS, ctx);
      }
      return toReply(msg, json);
    },
  };
}
