/**
 * The agent interface: an agent proposes the next batch, writes notes after a
 * batch, and summarises a block. Everything is async and structured so an LLM
 * agent (a later issue: tools record_iteration, update_memory, propose_config)
 * fits without changes: proposals are data validated by safety.ts, and the
 * validation errors go back to the agent (`revise`) as data.
 *
 * Agents keep no state between calls: everything they know comes from the
 * context (the state folded from the journal, and a random stream derived from
 * the seed and the batch), so a resumed study re-creates them exactly.
 */
import type { Config } from '../../config/schema.js';
import type { InrConfig } from '../../config/inr.js';
import type { SearchSpace } from '../../config/search-range.js';
import type { Rng } from '../../util/rng.js';
import type { CostModel } from '../cost-model.js';
import type { MemoryUpdate, NodeNote, Strategy } from '../journal.js';
import type { ProposalError, ProposalInput } from '../safety.js';
import type { StudyState } from '../state.js';

/** One proposed trial: parent, the `inr:` keys to set, and what was done, in words. */
export interface Proposal extends ProposalInput {
  /** The protocol's Mutation line: what changed (e.g. `inr_learning_rate 1e-4 -> 2e-4 (x2)`). */
  mutation: string;
  strategy: Strategy;
}

export interface AgentContext {
  state: StudyState;
  /** The base config (immutable sections, defaults for root nodes). */
  base: Config;
  space: SearchSpace;
  /** The effective per-trial budget in minutes. */
  budgetMinutes: number;
  cost: CostModel;
  rng: Rng;
}

export interface ProposeContext extends AgentContext {
  batch: number;
  block: number;
  /** How many proposals are wanted. */
  slots: number;
  /** Configs already taken in this batch (enqueued user configs, or earlier slots on a retry): do not duplicate them. */
  pending: InrConfig[];
  /** Parents of the pending configs (for the PUCT's virtual visits). */
  pendingParents: (number | null)[];
}

export interface AnalyseContext extends AgentContext {
  batch: number;
}

export interface CloseBlockContext extends AgentContext {
  block: number;
}

export interface AgentNotes {
  /** One note per node of the batch (missing ones are filled in by the rules agent). */
  notes: NodeNote[];
  memory: MemoryUpdate;
}

export interface BlockSummary {
  summary: string;
  key_finding: string;
  principles: string[];
  open_questions: string[];
  hypothesis_next: string;
}

export interface Agent {
  readonly name: string;
  propose(ctx: ProposeContext): Promise<Proposal[]>;
  /**
   * Optional: try again after a rejected proposal, shown the errors. Without
   * it (or after its attempts run out) the safety repair, then the rules agent, take over.
   */
  revise?(ctx: ProposeContext, rejected: Proposal, errors: ProposalError[]): Promise<Proposal>;
  analyse(ctx: AnalyseContext): Promise<AgentNotes>;
  closeBlock(ctx: CloseBlockContext): Promise<BlockSummary>;
}
