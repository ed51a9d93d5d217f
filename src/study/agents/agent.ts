/**
 * The agent interface: an agent proposes the next batch, writes notes after a
 * batch, and summarises a block. Everything is async and structured: proposals
 * are data, validated by safety.ts whatever the agent. An agent that repairs
 * its own proposals (the LLM agent, shown the validation errors) marks what it
 * gives `final`; a final proposal that is still invalid is not repaired but
 * its slot goes to the fallback agent, and the trial records why.
 *
 * Agents keep no state between calls: everything they know comes from the
 * context (the state folded from the journal, and a random stream derived from
 * the seed and the batch), so a resumed study re-creates them exactly.
 */
import type { Config } from '../../config/schema.js';
import type { InrConfig } from '../../config/inr.js';
import type { ExplorableKey } from '../../config/search-space.js';
import type { SearchSpace } from '../../config/search-range.js';
import type { Rng } from '../../util/rng.js';
import type { CostModel } from '../cost-model.js';
import type { MemoryUpdate, NodeNote, Strategy } from '../journal.js';
import type { ProposalInput } from '../safety.js';
import type { StudyState } from '../state.js';

/** One proposed trial: parent, the `inr:` keys to set, and what was done, in words. */
export interface Proposal extends ProposalInput {
  /** The protocol's Mutation line: what changed (e.g. `inr_learning_rate 1e-4 -> 2e-4 (x2)`). */
  mutation: string;
  strategy: Strategy;
  /** Earlier attempts for this slot that failed validation, in words (recorded with the trial). */
  rejected?: string[];
  /** The agent had its repairs: if still invalid, the fallback agent takes the slot (no safety repair). */
  final?: boolean;
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
  /** Tell why slots are left to the fallback agent (recorded with the trials that take them). */
  explain?: (why: string) => void;
  /**
   * Candidates another agent computed for each slot (the hybrid agent's TPE
   * candidates, best first, labelled A, B, ... in the prompt): the agent may
   * pick one, edit one or propose its own.
   */
  suggestions?: Suggestion[][];
}

/** A candidate's label in a slot's list: A, B, C, ... */
export const candidateLabel = (i: number): string => String.fromCharCode(65 + i);

/** A candidate config for a slot: explorable values and, when a model scored it, its score (TPE's log l/g). */
export interface Suggestion {
  values: Record<ExplorableKey, number>;
  score?: number;
}

/** The node id the first slot an agent fills becomes. */
export function firstSlotNode(ctx: Pick<ProposeContext, 'state' | 'pending'>): number {
  return ctx.state.nodes.length + 1 + ctx.pending.length;
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
  /** Sections taken from the rules agent's summary because the agent did not give them. */
  filled_by_rules?: string[];
}

export interface Agent {
  readonly name: string;
  /** Up to `ctx.slots` proposals; fewer leaves the rest to the fallback agent. */
  propose(ctx: ProposeContext): Promise<Proposal[]>;
  analyse(ctx: AnalyseContext): Promise<AgentNotes>;
  closeBlock(ctx: CloseBlockContext): Promise<BlockSummary>;
}

/**
 * The agent could not decide (its model did not answer, or not usably): the
 * decision falls back to the rules agent. Anything else an agent throws is a
 * bug or a stop, and ends the study loop.
 */
export class AgentCallFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentCallFailed';
  }
}
