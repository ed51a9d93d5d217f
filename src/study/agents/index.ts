import { parseLlm } from '../../config/llm.js';
import type { AgentName } from '../../config/study.js';
import type { StudyLlmSettings } from '../journal.js';
import { UserError } from '../../util/errors.js';
import type { Agent } from './agent.js';
import { createLlmAgent, type LlmAgentSetup } from './llm/index.js';
import { HybridAgent } from './hybrid.js';
import { RandomAgent } from './random.js';
import { RulesAgent } from './rules.js';
import { TpeAgent, type TpeOptions } from './tpe.js';

export type { Agent, AgentContext, AgentNotes, AnalyseContext, BlockSummary, CloseBlockContext, Proposal, ProposeContext } from './agent.js';
export { RandomAgent } from './random.js';
export { RulesAgent } from './rules.js';
export { TpeAgent } from './tpe.js';

export interface AgentOptions {
  tpe?: TpeOptions;
  /** The LLM agent's settings (from the journal) and where its calls go. */
  llm?: { settings: StudyLlmSettings | undefined } & LlmAgentSetup;
}

/** The agents by name. */
export function createAgent(name: AgentName, opts: AgentOptions = {}): Agent {
  switch (name) {
    case 'rules':
      return new RulesAgent();
    case 'tpe':
      return new TpeAgent(opts.tpe);
    case 'random':
      return new RandomAgent();
    case 'hybrid':
      // With LLM settings the LLM chooses among TPE's candidates; without, the rules agent does (hybrid.ts).
      return new HybridAgent(opts.llm?.settings === undefined ? undefined : createAgent('llm', opts), new TpeAgent(opts.tpe));
    case 'llm': {
      if (opts.llm?.settings === undefined) throw new UserError('study.agent = "llm" needs study.llm settings (provider, model, ...): see docs/agents.md');
      const { settings, ...setup } = opts.llm;
      // The journal's settings are checked as a config's would be (a hand-edited journal fails here, clearly).
      const { instructions_text: text, ...rest } = settings;
      return createLlmAgent({ ...parseLlm(rest, 'journal settings.llm'), ...(text !== undefined ? { instructions_text: text } : {}) }, setup);
    }
    default: {
      const never: never = name;
      throw new UserError(`unknown agent ${String(never)}`);
    }
  }
}
