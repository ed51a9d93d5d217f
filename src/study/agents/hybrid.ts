/**
 * The hybrid agent (`--agent hybrid`): TPE and a chooser work together, in
 * the spirit of LLAMBO and Centaur. Each batch:
 *
 * 1. TPE proposes CANDIDATES_PER_SLOT candidates for every slot from the
 *    whole history (best log l/g first; uniform samples while TPE is in its
 *    startup, `study.tpe.startup`), the slots' lists pushed apart by the
 *    constant liar as TPE's own batch would be;
 * 2. the chooser sees them beside the protocol's memory, log and UCB file and,
 *    for each slot, picks one, edits one or proposes its own, with its
 *    reasoning:
 *    - an LLM (the study has `study.llm` settings) gets them as a section of
 *      its propose prompt and answers with propose_config as always;
 *    - otherwise the rules agent plays that part, by a fixed division of
 *      labour: while TPE is in its startup every slot is the rules agent's
 *      (the base config and the protocol's moves beat uniform samples), and
 *      afterwards the first half of the slots (rounded up) are the rules
 *      agent's own moves from the highest-UCB node and every other slot
 *      takes TPE's best candidate for it, unedited;
 * 3. every proposal goes through the same validation, repair, fallback and
 *    budget fit as any agent's (advance.ts).
 *
 * Notes and block summaries are the chooser's.
 */
import { fmt } from '../../config/messages.js';
import { candidateLabel, type Agent, type AgentNotes, type AnalyseContext, type BlockSummary, type CloseBlockContext, type Proposal, type ProposeContext } from './agent.js';
import { RulesAgent } from './rules.js';
import { sampledText } from './sampling.js';
import { TpeAgent } from './tpe.js';

export const CANDIDATES_PER_SLOT = 3;

export class HybridAgent implements Agent {
  readonly name = 'hybrid';

  /** `chooser`: an LLM agent, or undefined for the rules agent's division of labour. */
  constructor(private readonly chooser: Agent | undefined, private readonly tpe = new TpeAgent(), private readonly rules = new RulesAgent()) {}

  async propose(ctx: ProposeContext): Promise<Proposal[]> {
    const suggestions = this.tpe.candidates(ctx, CANDIDATES_PER_SLOT);
    if (this.chooser !== undefined) return this.chooser.propose({ ...ctx, suggestions });
    const modelled = suggestions.some((list) => list.some((c) => c.score !== undefined));
    const own = modelled ? Math.ceil(ctx.slots / 2) : ctx.slots;
    const out: Proposal[] = (await this.rules.propose({ ...ctx, slots: own })).map((p) => ({ ...p, mutation: `hybrid, rules' own move: ${p.mutation}` }));
    for (let slot = own; slot < ctx.slots; slot++) {
      const best = suggestions[slot]?.[0];
      if (best === undefined) continue;
      out.push({
        parent: null, inr: { ...best.values }, strategy: 'tpe',
        mutation: `hybrid, rules picked TPE candidate ${candidateLabel(0)} of slot ${slot} (log l/g = ${best.score?.toFixed(2) ?? 'none'}): ${sampledText(best.values, fmt)}`,
      });
    }
    return out;
  }

  analyse(ctx: AnalyseContext): Promise<AgentNotes> {
    return (this.chooser ?? this.rules).analyse(ctx);
  }

  closeBlock(ctx: CloseBlockContext): Promise<BlockSummary> {
    return (this.chooser ?? this.rules).closeBlock(ctx);
  }
}
