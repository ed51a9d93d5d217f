/**
 * One decision's exchange with the model: the first request, then a repair
 * round for each answer that left something invalid or undone. Every request
 * (failed ones too) becomes one `agent_call` event: the model's text, its
 * calls, what inrscape answered to each, tokens, latency and cost.
 */
import { createHash } from 'node:crypto';
import type { AgentCallEvent } from '../../journal.js';
import type { ModelReply, Provider, ToolCall, ToolResult, ToolSpec, Turn } from './provider.js';
import { withRetries, type RetryOptions } from './retry.js';

export interface CallSink {
  (event: AgentCallEvent): void;
}

export interface ConversationOptions {
  provider: Provider;
  system: string;
  tools: ToolSpec[];
  maxTokens: number;
  retry?: RetryOptions;
  record?: CallSink;
  purpose: AgentCallEvent['purpose'];
  batch?: number;
  block?: number;
}

export class Conversation {
  private readonly turns: Turn[] = [];
  private round = 0;
  /** The reply being read: recorded by `answered`, with what inrscape made of it. */
  private pending: { reply: ModelReply; base: AgentCallEvent } | undefined;

  constructor(private readonly opts: ConversationOptions, firstMessage: string) {
    this.turns.push({ role: 'user', text: firstMessage });
  }

  /**
   * Ask the model. A failed request (after its retries) is recorded and
   * thrown; the caller decides whether what it already has is enough.
   */
  async ask(): Promise<ModelReply> {
    const { provider } = this.opts;
    const request = { system: this.opts.system, turns: [...this.turns], tools: this.opts.tools, maxTokens: this.opts.maxTokens };
    const body = JSON.stringify(request);
    const retries: string[] = [];
    let latency = 0;
    let tries = 0;
    try {
      const out = await withRetries(async () => {
        tries++;
        const t0 = performance.now();
        try {
          return await provider.complete(request);
        } finally {
          latency = performance.now() - t0;
        }
      }, {
        ...this.opts.retry,
        onRetry: (err, attempt, wait) => retries.push(`try ${attempt}: ${err.message}; waited ${(wait / 1000).toFixed(1)} s`),
      });
      this.pending = { reply: out.value, base: this.event(body, out.tries, latency, retries) };
      return out.value;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.record?.({ ...this.event(body, tries, latency, retries), error: message });
      throw err;
    }
  }

  private event(body: string, tries: number, latency: number, retries: string[]): AgentCallEvent {
    return {
      type: 'agent_call', purpose: this.opts.purpose,
      ...(this.opts.batch !== undefined ? { batch: this.opts.batch } : {}),
      ...(this.opts.block !== undefined ? { block: this.opts.block } : {}),
      round: this.round, provider: this.opts.provider.name, model: this.opts.provider.model,
      prompt_chars: body.length, prompt_sha256: createHash('sha256').update(body).digest('hex'),
      tries, latency_ms: Math.round(latency), ...(retries.length ? { retries } : {}),
      text: '', calls: [], results: [],
    };
  }

  /**
   * Record the answer with what inrscape made of each call, and add it to the
   * conversation. `results` answers the calls one by one (same order);
   * `followUp` is the message for the next round, if there is one.
   */
  answered(results: ToolResult[], followUp?: string): void {
    if (!this.pending) throw new Error('Conversation.answered before ask');
    const { reply, base } = this.pending;
    this.pending = undefined;
    this.opts.record?.({
      ...base, model: reply.model || base.model, mode: this.opts.provider.mode, text: reply.text,
      calls: reply.calls.map((c) => ({ name: c.name, input: c.input ?? null, ...(c.malformed ? { malformed: c.malformed } : {}) })),
      results: [...(reply.malformed ? [`ERROR: ${reply.malformed}`] : []), ...results.map((r) => (r.is_error ? `ERROR: ${r.content}` : r.content))],
      ...(reply.usage ? { usage: reply.usage } : {}),
      ...(reply.cost_usd !== undefined ? { cost_usd: reply.cost_usd } : {}),
      ...(reply.stop_reason ? { stop_reason: reply.stop_reason } : {}),
    });
    this.turns.push({ role: 'assistant', text: reply.text, calls: reply.calls, ...(reply.raw !== undefined ? { raw: reply.raw } : {}) });
    if (followUp === undefined) return;
    this.round++;
    if (reply.calls.length > 0) this.turns.push({ role: 'tool_results', results, text: followUp });
    else this.turns.push({ role: 'user', text: followUp });
  }
}

/** A call's result: accepted (text) or the errors, one per line. */
export function result(call: ToolCall, content: string, isError = false): ToolResult {
  return { id: call.id, content, is_error: isError };
}
