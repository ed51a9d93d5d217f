/**
 * The random agent: every proposal uniform over the study's space
 * (log-uniform where the scale is log), as the reference's Optuna
 * RandomSampler would draw. Root nodes; the mutation line lists what was sampled.
 */
import { fmt } from '../../config/messages.js';
import type { ExplorableKey } from '../../config/search-space.js';
import type { InrConfig } from '../../config/inr.js';
import { findDuplicate, safetyContext } from '../safety.js';
import type { Agent, AgentNotes, AnalyseContext, BlockSummary, CloseBlockContext, Proposal, ProposeContext } from './agent.js';
import { analyseRules, closeBlockRules } from './rules.js';
import { sampleUniform, sampledText, withValues } from './sampling.js';

export class RandomAgent implements Agent {
  readonly name = 'random';

  async propose(ctx: ProposeContext): Promise<Proposal[]> {
    const pending: InrConfig[] = [...ctx.pending];
    const out: Proposal[] = [];
    for (let slot = 0; slot < ctx.slots; slot++) {
      let values: Record<ExplorableKey, number> | undefined;
      for (let tries = 0; tries < 100 && values === undefined; tries++) {
        const v = sampleUniform(ctx.space, ctx.rng);
        if (findDuplicate(withValues(ctx.base.inr, v), safetyContext(ctx.state, pending)) === undefined) values = v;
      }
      if (values === undefined) break;
      pending.push(withValues(ctx.base.inr, values));
      out.push({ parent: null, inr: { ...values }, mutation: `random sample: ${sampledText(values, fmt)}`, strategy: 'random' });
    }
    return out;
  }

  /** Notes and summaries are the rules agent's: computed from the data, whoever proposed. */
  async analyse(ctx: AnalyseContext): Promise<AgentNotes> {
    return analyseRules(ctx, { rootProposals: true });
  }

  async closeBlock(ctx: CloseBlockContext): Promise<BlockSummary> {
    return closeBlockRules(ctx);
  }
}
