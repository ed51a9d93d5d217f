import type { AgentName } from '../../config/study.js';
import { UserError } from '../../util/errors.js';
import type { Agent } from './agent.js';
import { RandomAgent } from './random.js';
import { RulesAgent } from './rules.js';
import { TpeAgent, type TpeOptions } from './tpe.js';

export type { Agent, AgentContext, AgentNotes, AnalyseContext, BlockSummary, CloseBlockContext, Proposal, ProposeContext } from './agent.js';
export { RandomAgent } from './random.js';
export { RulesAgent } from './rules.js';
export { TpeAgent } from './tpe.js';

/** The built-in agents by name. The LLM agent comes with a later issue. */
export function createAgent(name: AgentName, opts: { tpe?: TpeOptions } = {}): Agent {
  switch (name) {
    case 'rules':
      return new RulesAgent();
    case 'tpe':
      return new TpeAgent(opts.tpe);
    case 'random':
      return new RandomAgent();
    case 'llm':
      throw new UserError('study.agent = "llm": the LLM agent is not available yet; use rules, tpe or random');
    default: {
      const never: never = name;
      throw new UserError(`unknown agent ${String(never)}`);
    }
  }
}
