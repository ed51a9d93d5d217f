/**
 * The LLM agent: the protocol's steps by a model that acts only through
 * validated tool calls. Per decision one conversation (conversation.ts):
 * the prompt (prompt.ts), then up to `maxRepairs` rounds in which the model
 * is shown the exact errors of its invalid actions and what is still undone.
 * After that, what is missing goes to the rules agent (advance.ts), and the
 * journal says so.
 *
 * A failed first request (after retries) fails the decision, which falls back
 * to the rules agent; an auth error stops the study (resumable). Nothing the
 * model writes is executed or used as a path: it becomes text in the journal.
 */
import { fmt } from '../../../config/messages.js';
import { fitToBudget } from '../../cost-model.js';
import type { MemoryUpdate, NodeNote } from '../../journal.js';
import { formatErrors, safetyContext, validateProposal } from '../../safety.js';
import { closeBlockRules } from '../rules.js';
import { AgentCallFailed, firstSlotNode, type Agent, type AgentNotes, type AnalyseContext, type BlockSummary, type CloseBlockContext, type Proposal, type ProposeContext } from '../agent.js';
import { Conversation, result, type CallSink } from './conversation.js';
import { analysePrompt, closeBlockPrompt, proposePrompt, systemText, type PromptLimits } from './prompt.js';
import { LlmStopError, type ModelReply, type Provider, type ToolCall, type ToolResult, type ToolSpec } from './provider.js';
import type { RetryOptions } from './retry.js';
import {
  BLOCK_FIELDS, PROPOSE_CONFIG, RECORD_ITERATION, UPDATE_MEMORY, readIteration, readMemory, readProposal, type MemoryAction,
} from './tools.js';

export interface LlmAgentOptions {
  provider: Provider;
  /** The instructions text (the study protocol by default). */
  instructions: string;
  maxTokens: number;
  /** Told of every model call (the loop appends it to the journal). */
  record?: CallSink;
  /** Repair rounds after the first answer (default 3). */
  maxRepairs?: number;
  /** Decisions in a row whose model call failed before the study stops (default 3). */
  maxFailedDecisions?: number;
  retry?: RetryOptions;
  limits?: PromptLimits;
}

/** Errors of a call that cannot be read at all, or is not the tool this decision takes. */
function unreadable(call: ToolCall, tools: readonly string[]): string | undefined {
  if (call.malformed) return call.malformed;
  if (!tools.includes(call.name)) return `unknown tool "${call.name}"; this step takes ${tools.join(', ')}`;
  return undefined;
}

/** Why a round produced nothing: shown to the model as the next message. */
function nothingReadable(reply: ModelReply, want: string): string {
  return reply.malformed ? `Your answer could not be read: ${reply.malformed}. ${want}` : `You did not call any tool. ${want}`;
}

/** `inr.omega_inr` and `omega_inr` both name the inr: key (models often write the YAML path). */
function stripInrPrefix(changes: Record<string, unknown>): Record<string, unknown> {
  // fromEntries defines own properties, so a `__proto__` key is just an unknown key, not a prototype.
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k.startsWith('inr.') ? k.slice(4) : k, v]));
}

export class LlmAgent implements Agent {
  readonly name = 'llm';
  private readonly maxRepairs: number;
  private readonly system: string;
  /** Decisions in a row whose first request failed: a provider that stays down stops the study rather than quietly leaving it to the rules agent. */
  private failedDecisions = 0;

  constructor(private readonly opts: LlmAgentOptions) {
    this.maxRepairs = opts.maxRepairs ?? 3;
    this.system = systemText(opts.instructions, this.maxRepairs);
  }

  private conversation(purpose: 'propose' | 'analyse' | 'close_block', tools: ToolSpec[], prompt: string, where: { batch?: number; block?: number }): Conversation {
    return new Conversation({
      provider: this.opts.provider, system: this.system, tools, maxTokens: this.opts.maxTokens, retry: this.opts.retry,
      record: this.opts.record, purpose, ...where,
    }, prompt);
  }

  /**
   * Run the rounds: `handle` reads one answer into results and says what is
   * still wanted (undefined when done). A failed first request fails the
   * decision (the rules agent takes it); one in a repair round ends the rounds
   * with what was gathered. Stops and bugs are thrown as they are.
   */
  private async rounds(conv: Conversation, handle: (reply: ModelReply) => { results: ToolResult[]; wanted?: string }): Promise<void> {
    for (let round = 0; round <= this.maxRepairs; round++) {
      let reply: ModelReply;
      try {
        reply = await conv.ask();
      } catch (err) {
        if (!(err instanceof AgentCallFailed)) throw err;
        if (round > 0) return;
        const limit = this.opts.maxFailedDecisions ?? 3;
        if (++this.failedDecisions >= limit) {
          throw new LlmStopError(`the model failed ${limit} decisions in a row (the last: ${err.message}); the study stops rather than go on without it`);
        }
        throw err;
      }
      this.failedDecisions = 0;
      const { results, wanted } = handle(reply);
      const last = wanted === undefined || round === this.maxRepairs;
      conv.answered(results, last ? undefined : wanted);
      if (last) return;
    }
  }

  async propose(ctx: ProposeContext): Promise<Proposal[]> {
    const conv = this.conversation('propose', [PROPOSE_CONFIG], proposePrompt(ctx, this.opts.limits), { batch: ctx.batch, block: ctx.block });
    const accepted: Proposal[] = [];
    const pending = [...ctx.pending];
    // A proposal accepted in a repair round carries the previous round's rejections (what it repaired).
    let previous: string[] = [];
    let rejected: string[] = [];
    let lastInvalid: Proposal[] = [];
    const firstNode = firstSlotNode(ctx);
    let answeredAny = false;

    await this.rounds(conv, (reply) => {
      answeredAny ||= reply.calls.length > 0;
      previous = rejected;
      rejected = [];
      lastInvalid = [];
      const results = reply.calls.map((call): ToolResult => {
        const bad = unreadable(call, [PROPOSE_CONFIG.name]);
        if (bad) {
          rejected.push(bad);
          return result(call, bad, true);
        }
        const read = readProposal(call.input);
        if (!read.ok) {
          rejected.push(read.errors.join('; '));
          return result(call, read.errors.join('\n'), true);
        }
        if (accepted.length >= ctx.slots) return result(call, `all ${ctx.slots} slots are already filled; this proposal was not used`, true);
        const p = read.value;
        const proposal: Proposal = { parent: p.parent, inr: stripInrPrefix(p.changes), mutation: p.mutation, strategy: p.strategy };
        const v = validateProposal(proposal, safetyContext(ctx.state, pending));
        if (!v.ok) {
          const text = formatErrors(v.errors);
          rejected.push(v.errors.map((e) => e.message).join('; '));
          lastInvalid.push(proposal);
          return result(call, `rejected:\n${text}`, true);
        }
        const fit = fitToBudget(v.inr, '', ctx.cost, ctx.budgetMinutes, ctx.space);
        accepted.push({ ...proposal, ...(previous.length ? { rejected: [...previous] } : {}) });
        pending.push(fit.inr);
        const node = firstNode + accepted.length - 1;
        return result(call, `accepted as slot ${accepted.length - 1} (node ${node}); predicted ${fit.predictedMinutes.toFixed(2)} min of the ${fmt(ctx.budgetMinutes)}-min budget${fit.note ? `; ${fit.note}` : ''}`);
      });
      const open = ctx.slots - accepted.length;
      if (open === 0) return { results };
      const want = `${open} slot${open === 1 ? ' is' : 's are'} still open: call propose_config ${open === 1 ? 'once more' : `${open} more times`}${results.some((r) => r.is_error) ? ', fixing the errors above' : ''}.`;
      return { results, wanted: results.length ? want : nothingReadable(reply, want) };
    });

    // Slots still open: the last invalid attempts go back marked final, and the rest are explained (the fallback takes them).
    const open = ctx.slots - accepted.length;
    const finals = lastInvalid.slice(0, open).map((p) => ({ ...p, final: true, rejected: [...previous, ...rejected] }));
    const unexplained = open - finals.length;
    const errors = [...previous, ...rejected];
    const why = !answeredAny ? 'llm gave no proposal (it called no tool)'
      : errors.length ? `llm gave no valid proposal (${errors.join('; ')})`
        : `llm proposed ${accepted.length} of ${ctx.slots} slots`;
    // One reason per slot it did not fill, so each trial the fallback makes says why.
    for (let i = 0; i < unexplained; i++) ctx.explain?.(why);
    return [...accepted, ...finals];
  }

  async analyse(ctx: AnalyseContext): Promise<AgentNotes> {
    const { state } = ctx;
    const ids = state.batches[ctx.batch].nodes;
    const conv = this.conversation('analyse', [RECORD_ITERATION, UPDATE_MEMORY], analysePrompt(ctx, this.opts.limits), { batch: ctx.batch });
    const notes = new Map<number, NodeNote>();
    let memory: MemoryUpdate | undefined;

    await this.rounds(conv, (reply) => {
      const results = reply.calls.map((call): ToolResult => {
        const bad = unreadable(call, [RECORD_ITERATION.name, UPDATE_MEMORY.name]);
        if (bad) return result(call, bad, true);
        if (call.name === UPDATE_MEMORY.name) {
          const read = readMemory(call.input);
          if (!read.ok) return result(call, read.errors.join('\n'), true);
          const blockOnly = BLOCK_FIELDS.filter((k) => read.value[k] !== undefined);
          if (blockOnly.length) return result(call, `${blockOnly.join(', ')}: only at BLOCK END; now give hypothesis and observations`, true);
          memory = { ...memory, ...read.value };
          return result(call, 'memory updated');
        }
        const read = readIteration(call.input);
        if (!read.ok) return result(call, read.errors.join('\n'), true);
        const r = read.value;
        if (!ids.includes(r.node)) return result(call, `node ${r.node} is not in batch ${ctx.batch} (its nodes: ${ids.join(', ')})`, true);
        const node = state.nodes[r.node - 1];
        if (r.classification !== node.klass) {
          const m = node.metrics;
          const facts = m ? `final_r2=${m.final_r2.toFixed(6)}, training_time_min=${m.training_time_min.toFixed(1)}${node.pruned ? `, ${node.pruned.paused ? 'paused' : 'pruned'} by ${node.pruned.by} at step ${node.pruned.step} (its R2 then)` : m.time_limited ? ', stopped by the budget' : ''}` : `failed: ${node.failure ?? 'no result'}`;
          return result(call, `node ${r.node} is ${node.klass} (${facts}), not ${r.classification}: check the thresholds`, true);
        }
        if (r.next_parent !== null && (r.next_parent < 1 || r.next_parent > state.nodes.length)) {
          return result(call, `next_parent = ${r.next_parent}: no such node (nodes 1-${state.nodes.length}; null for root)`, true);
        }
        const again = notes.has(r.node);
        notes.set(r.node, { node: r.node, observation: r.observation, next_parent: r.next_parent });
        return result(call, again ? `recorded node ${r.node} (replacing your earlier entry for it)` : `recorded node ${r.node}`);
      });
      const missing = ids.filter((id) => !notes.has(id));
      const todo = [
        ...(missing.length ? [`call record_iteration for node${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`] : []),
        ...(memory === undefined ? ['call update_memory with hypothesis and observations'] : []),
      ];
      if (todo.length === 0) return { results };
      const want = `Still to do: ${todo.join('; ')}.`;
      return { results, wanted: results.length ? want : nothingReadable(reply, want) };
    });
    return { notes: [...notes.values()], memory: memory ?? {} };
  }

  async closeBlock(ctx: CloseBlockContext): Promise<BlockSummary> {
    const conv = this.conversation('close_block', [UPDATE_MEMORY], closeBlockPrompt(ctx, this.opts.limits), { block: ctx.block });
    const got: MemoryAction = {};

    await this.rounds(conv, (reply) => {
      const results = reply.calls.map((call): ToolResult => {
        const bad = unreadable(call, [UPDATE_MEMORY.name]);
        if (bad) return result(call, bad, true);
        const read = readMemory(call.input);
        if (!read.ok) return result(call, read.errors.join('\n'), true);
        Object.assign(got, read.value);
        const ignored = (['hypothesis', 'observations'] as const).filter((k) => read.value[k] !== undefined);
        return result(call, `memory updated${ignored.length ? ` (${ignored.join(', ')} belong to a running block and were not used; give next_hypothesis)` : ''}`);
      });
      const missing = BLOCK_FIELDS.filter((k) => got[k] === undefined);
      if (missing.length === 0) return { results };
      const want = `BLOCK END needs update_memory with ${missing.join(', ')}.`;
      return { results, wanted: results.length ? want : nothingReadable(reply, want) };
    });
    // Sections the model never gave come from the rules agent's summary, and the event says which.
    const missing = BLOCK_FIELDS.filter((k) => got[k] === undefined);
    const rules = missing.length ? closeBlockRules(ctx) : undefined;
    return {
      summary: got.block_summary ?? rules?.summary ?? '',
      key_finding: got.key_finding ?? rules?.key_finding ?? '',
      principles: got.principles ?? rules?.principles ?? [],
      open_questions: got.open_questions ?? rules?.open_questions ?? [],
      hypothesis_next: got.next_hypothesis ?? rules?.hypothesis_next ?? '',
      ...(missing.length ? { filled_by_rules: [...missing] } : {}),
    };
  }
}
