/**
 * What the LLM agent needs of a model provider: one request (system text, a
 * conversation, the tools) in, one reply (free text, tool calls, usage) out.
 * The three providers (Anthropic Messages, OpenAI-compatible chat completions,
 * the `claude` command line) translate this neutral form to their wire
 * formats; providers without native tool calls (JSON mode) render the tools
 * as a contract in the prompt and parse one JSON object back (json-mode.ts),
 * so the agent sees the same tool calls whatever the provider.
 *
 * Errors are classified once, here: auth, a missing model or an exhausted
 * quota stop the study (the user fixes it and resumes); transient ones (429,
 * 5xx, network, timeouts) are retried with backoff (retry.ts); anything else
 * fails the call, and the decision falls back to the rules agent.
 */
import type { ProviderName } from '../../../config/llm.js';
import { UserError } from '../../../util/errors.js';
import type { CallUsage } from '../../journal.js';
import { AgentCallFailed } from '../agent.js';

export type { ProviderName } from '../../../config/llm.js';

/** A JSON schema (the subset the tool contracts use). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: (string | number | null)[];
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** Always an object schema. */
  input_schema: JsonSchema;
}

export interface ToolCall {
  /** The provider's id for the call (JSON mode makes its own: `call_1`, ...). */
  id: string;
  name: string;
  /** The parsed arguments; undefined when they were not valid JSON (see `malformed`). */
  input: unknown;
  /** Why the arguments could not be read (e.g. the JSON parser's message), with the raw text. */
  malformed?: string;
  /** The arguments exactly as the model wrote them, when they could not be read (sent back unchanged in the history). */
  raw?: string;
}

export interface ToolResult {
  /** The id of the call this answers. */
  id: string;
  content: string;
  is_error: boolean;
}

/** One turn of the conversation, provider-neutral. */
export type Turn =
  | { role: 'user'; text: string }
  /** `raw`: a JSON-mode answer exactly as the model wrote it (the history repeats it, not a re-serialisation). */
  | { role: 'assistant'; text: string; calls: ToolCall[]; raw?: string }
  /** The answers to every call of the previous assistant turn, then (optionally) more text from us. */
  | { role: 'tool_results'; results: ToolResult[]; text?: string };

export interface ModelRequest {
  system: string;
  turns: Turn[];
  tools: ToolSpec[];
  maxTokens: number;
}

export type Usage = CallUsage;

export interface ModelReply {
  /** The model's free text (its reasoning), verbatim. */
  text: string;
  calls: ToolCall[];
  /** The model that answered (as the provider reports it). */
  model: string;
  usage?: Usage;
  /** What the provider says the call cost (the `claude` command line reports it). */
  cost_usd?: number;
  /** Why the model stopped (`end_turn`, `tool_use`, `stop`, `tool_calls`, `length`, ...). */
  stop_reason?: string;
  /**
   * Set in JSON mode when the answer was not the JSON object asked for: the
   * parser's message. The agent shows it to the model as a repair.
   */
  malformed?: string;
  /** JSON mode: the answer's text exactly as the model wrote it. */
  raw?: string;
}

export interface Provider {
  readonly name: ProviderName;
  /** The model asked for (or `default` when the provider picks). */
  readonly model: string;
  /** `tools`: native tool calls; `json`: the JSON-object contract in the prompt. */
  readonly mode: 'tools' | 'json';
  /** One request, no retries (retry.ts wraps it). Throws LlmAuthError or LlmCallError. */
  complete(req: ModelRequest, signal?: AbortSignal): Promise<ModelReply>;
}

/**
 * The provider refuses on grounds only the user can fix (credentials, a model
 * or endpoint that does not exist, an exhausted quota): the study stops, and
 * can be resumed once fixed.
 */
export class LlmStopError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'LlmStopError';
  }
}

/** Credentials refused (401/403, an expired login). */
export class LlmAuthError extends LlmStopError {
  constructor(message: string) {
    super(message);
    this.name = 'LlmAuthError';
  }
}

/** A failed call. `transient` ones (rate limits, server errors, network, timeouts) are retried. */
export class LlmCallError extends AgentCallFailed {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    /** The server's `retry-after` (or `retry-after-ms`), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmCallError';
  }
}

/** A message (the server's, the command's) cut to a length a log line can hold. */
export function clip(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
