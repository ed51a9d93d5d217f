/**
 * The LLM agent's entry points: a provider from the study's settings, the
 * agent, and the prompt the next decision would send (`--dry-run`).
 */
import { readFileSync } from 'node:fs';
import type { LlmSettings } from '../../../config/llm.js';
import { UserError } from '../../../util/errors.js';
import { agentContext } from '../../advance.js';
import type { CostModelOptions } from '../../cost-model.js';
import type { StudyLlmSettings } from '../../journal.js';
import { nextAction, type StudyState } from '../../state.js';
import { LlmAgent } from './agent.js';
import { anthropicProvider } from './anthropic.js';
import { claudeCliProvider } from './claude-cli.js';
import type { CallSink } from './conversation.js';
import { openaiProvider } from './openai.js';
import { analysePrompt, closeBlockPrompt, defaultInstructions, proposePrompt, systemText } from './prompt.js';
import type { Provider, ToolSpec } from './provider.js';
import type { RetryOptions } from './retry.js';
import { PROPOSE_CONFIG, RECORD_ITERATION, UPDATE_MEMORY } from './tools.js';

export { LlmAgent } from './agent.js';
export type { CallSink } from './conversation.js';

/** The provider the settings name. Throws a UserError when its key (or command, or model) is missing. */
export function createProvider(s: LlmSettings, env: NodeJS.ProcessEnv = process.env): Provider {
  switch (s.provider) {
    case 'anthropic':
      return anthropicProvider(s, env);
    case 'openai':
      return openaiProvider(s, env);
    case 'claude-cli':
      return claudeCliProvider(s, env);
    default: {
      const never: never = s.provider;
      throw new Error(`unknown provider ${String(never)}`);
    }
  }
}

/** The instructions' text: as recorded, else the file the settings name, else the study protocol shipped with the package. */
export function instructionsOf(s: StudyLlmSettings): string {
  if (s.instructions_text !== undefined) return s.instructions_text;
  if (s.instructions === undefined) return defaultInstructions();
  try {
    return readFileSync(s.instructions, 'utf8');
  } catch (err) {
    throw new UserError(`study.llm.instructions = ${JSON.stringify(s.instructions)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Settings as a study records them: checked by creating the provider (a
 * missing key, command or model fails here, before anything is written), the
 * provider's default model and the instructions' text filled in, so a resume
 * asks the same model with the same words whatever version runs it.
 */
export function resolveLlmSettings(s: StudyLlmSettings, env: NodeJS.ProcessEnv = process.env): StudyLlmSettings {
  const provider = createProvider(s, env);
  return {
    ...s,
    // The claude command line picks its own default: nothing to pin.
    ...(s.model === undefined && s.provider !== 'claude-cli' ? { model: provider.model } : {}),
    instructions_text: instructionsOf(s),
  };
}

export interface LlmAgentSetup {
  record?: CallSink;
  env?: NodeJS.ProcessEnv;
  retry?: RetryOptions;
}

export function createLlmAgent(s: StudyLlmSettings, setup: LlmAgentSetup = {}): LlmAgent {
  return new LlmAgent({
    provider: createProvider(s, setup.env), instructions: instructionsOf(s), maxTokens: s.max_tokens,
    retry: { maxRetries: s.max_retries, ...setup.retry }, ...(setup.record ? { record: setup.record } : {}),
  });
}

export interface NextPrompt {
  purpose: 'propose' | 'analyse' | 'close_block';
  system: string;
  tools: ToolSpec[];
  message: string;
}

/**
 * The request the LLM agent would send next, built exactly as the loop
 * builds it; a string saying why there is none (trials must run first, or
 * the study is complete).
 */
export function nextPrompt(state: StudyState, s: StudyLlmSettings, cost: CostModelOptions = {}): NextPrompt | string {
  const next = nextAction(state);
  const system = systemText(instructionsOf(s));
  switch (next.kind) {
    case 'propose': {
      const ctx = { ...agentContext(state, cost, 'propose', next.batch), batch: next.batch, block: next.block, slots: next.size, pending: [], pendingParents: [] };
      return { purpose: 'propose', system, tools: [PROPOSE_CONFIG], message: proposePrompt(ctx) };
    }
    case 'analyse':
      return { purpose: 'analyse', system, tools: [RECORD_ITERATION, UPDATE_MEMORY], message: analysePrompt({ ...agentContext(state, cost, 'analyse', next.batch), batch: next.batch }) };
    case 'close_block':
      return { purpose: 'close_block', system, tools: [UPDATE_MEMORY], message: closeBlockPrompt({ ...agentContext(state, cost, 'closeBlock', next.block), block: next.block }) };
    case 'run':
      return `trials ${next.nodes.join(', ')} of batch ${next.batch} run first; the next prompt (the batch's analysis) is built from their results`;
    case 'done':
      return 'the study is complete: no prompt to send';
  }
}
