/**
 * The study's decisions between trials, as pure async functions of the state:
 * each returns the journal event to append (the loop appends it, folds it into
 * the state, renders the files). The loop itself (stage 2) only adds running
 * trials:
 *
 *   for (;;) {
 *     const next = nextAction(state);
 *     if (next.kind === 'done') break;
 *     if (next.kind === 'run') { ...train next.nodes, append trial_started / trial_finished | trial_failed...; continue; }
 *     const body = await decide(state, agents);   // batch_proposed | agent_notes | block_closed
 *     applyEvent(state, journal.append(body));
 *     renderAll(dir, state);
 *   }
 *
 * Everything here is deterministic given the journal (agents draw from
 * streams derived from the seed and the batch index), so a crash between
 * deciding and appending loses nothing: the resumed loop decides the same
 * again. The LLM agent is the exception: its model is asked again and may
 * answer otherwise; what was appended stays.
 */
import type { InrConfig } from '../config/inr.js';
import { fitCostModel, fitToBudget, type CostModel, type CostModelOptions, type CostSample, type Workload } from './cost-model.js';
import type { AgentNotesEvent, BatchProposedEvent, BlockClosedEvent, NodeNote, ProposedTrial } from './journal.js';
import { changedKeys, findDuplicate, formatErrors, repairProposal, safetyContext, validateProposal, type ProposalError } from './safety.js';
import { nextAction, type StudyState } from './state.js';
import { studyRng, trialSeed } from './seeds.js';
import { bestNode } from './tree.js';
import { AgentCallFailed, type Agent, type AgentContext, type AgentNotes, type BlockSummary, type Proposal, type ProposeContext } from './agents/agent.js';
import { RulesAgent, analyseRules, closeBlockRules } from './agents/rules.js';
import { oneLine } from './render/text.js';

export interface Agents {
  /** The study's agent. */
  agent: Agent;
  /** Takes over a slot, a note or a summary the agent could not give (default: the rules agent). */
  fallback?: Agent;
  cost?: CostModelOptions;
}

/** Cost samples from the study's finished trials. */
export function costSamples(state: StudyState): CostSample[] {
  return state.nodes
    .filter((n) => n.status === 'finished' && n.metrics !== undefined)
    .map((n) => ({
      inr: n.inr, minutes: n.metrics!.training_time_min,
      ...(n.metrics!.time_limited !== undefined ? { time_limited: n.metrics!.time_limited } : {}),
      ...(n.metrics!.steps_done !== undefined ? { steps_done: n.metrics!.steps_done } : {}),
      ...(n.pruned !== undefined ? { pruned: true } : {}),
    }));
}

/** The study's cost model now. Without a known workload, the protocol's full data set is assumed. */
export function studyCostModel(state: StudyState, opts: CostModelOptions = {}): CostModel {
  const workload: Workload = state.workload ?? { cells: 1000, frames: 9997 };
  return fitCostModel(costSamples(state), workload, opts);
}

/** What every agent decision is given: the state, the budget, the cost model now, and the decision's own random stream. */
export function agentContext(state: StudyState, cost: CostModelOptions | undefined, purpose: 'propose' | 'analyse' | 'closeBlock', index: number): AgentContext {
  return {
    state, base: state.config, space: state.space, budgetMinutes: state.settings.max_trial_minutes,
    cost: studyCostModel(state, cost), rng: studyRng(state.settings.seed, purpose, index),
  };
}

/** Text of the errors, for the journal's repair notes. */
function errorsNote(errors: readonly ProposalError[]): string {
  return oneLine(formatErrors(errors));
}

/**
 * The next batch: enqueued user configs first, then the agent's proposals,
 * each validated (an invalid one is repaired by the safety rules, unless the
 * agent marked it final after its own repairs), then the fallback agent for
 * the slots left, then each fitted to the budget.
 */
export async function proposeBatch(state: StudyState, agents: Agents): Promise<BatchProposedEvent> {
  const next = nextAction(state);
  if (next.kind !== 'propose') throw new Error(`proposeBatch: the study should ${next.kind} now`);
  const ctxBase = agentContext(state, agents.cost, 'propose', next.batch);
  const trials: ProposedTrial[] = [];
  const pending: InrConfig[] = [];
  const pendingParents: (number | null)[] = [];
  const dropped: { id: number; reason: string }[] = [];
  const budget = state.settings.max_trial_minutes;

  const add = (t: Omit<ProposedTrial, 'node' | 'slot' | 'predicted_minutes' | 'seed'>): void => {
    const node = next.firstNode + trials.length;
    const fit = fitToBudget(t.inr, t.mutation, ctxBase.cost, budget, state.space);
    const repairs = [...(t.repairs ?? [])];
    if (fit.note) repairs.push(fit.note);
    const from = t.parent === null ? state.config.inr : state.nodes[t.parent - 1].inr;
    trials.push({
      ...t, node, slot: trials.length, inr: fit.inr, mutation: oneLine(fit.mutation), changed: changedKeys(from, fit.inr),
      predicted_minutes: fit.predictedMinutes, seed: trialSeed(state.settings.seed, node),
      ...(repairs.length ? { repairs } : {}),
    });
    pending.push(fit.inr);
    pendingParents.push(t.parent);
  };

  for (const q of state.queue) {
    if (trials.length >= next.size) break;
    const v = validateProposal({ parent: q.parent, inr: { ...q.inr } }, safetyContext(state, pending));
    if (!v.ok) {
      dropped.push({ id: q.id, reason: errorsNote(v.errors) });
      continue;
    }
    add({
      parent: v.parent, mutation: q.note === '' ? 'user config (enqueued)' : `user config (enqueued): ${q.note}`, strategy: 'user',
      changed: v.changed, inr: v.inr, source: 'user', enqueued: q.id,
    });
  }

  const fallback = agents.fallback ?? new RulesAgent();
  const want = next.size - trials.length;
  // Why slots went to the fallback agent, in words, for the trials that take them.
  const handedOver: string[] = [];
  if (want > 0) {
    const pctx: ProposeContext = {
      ...ctxBase, batch: next.batch, block: next.block, slots: want, pending: [...pending], pendingParents: [...pendingParents],
    };
    let proposals: Proposal[] = [];
    try {
      proposals = (await agents.agent.propose({ ...pctx, explain: (why) => handedOver.push(oneLine(why)) })).slice(0, want);
    } catch (err) {
      if (!(err instanceof AgentCallFailed)) throw err;
      handedOver.push(`${agents.agent.name} agent failed (${oneLine(err.message)})`);
    }
    for (const p of proposals) {
      if (trials.length >= next.size) break;
      const v = validateProposal(p, safetyContext(state, pending));
      const earlier = p.rejected ?? [];
      if (v.ok) {
        add({ parent: v.parent, mutation: p.mutation, strategy: p.strategy, changed: v.changed, inr: v.inr, source: earlier.length ? 'repaired' : 'agent', ...(earlier.length ? { repairs: earlier } : {}) });
        continue;
      }
      if (p.final) {
        handedOver.push(`${agents.agent.name} proposal still invalid after its repairs (${errorsNote(v.errors)})`);
        continue;
      }
      const r = repairProposal(p, safetyContext(state, pending));
      if (r.ok) {
        add({ parent: r.parent, mutation: `${p.mutation} [repaired: ${r.repairs.join('; ')}]`, strategy: p.strategy, changed: r.changed, inr: r.inr, source: 'repaired', repairs: r.repairs });
      } else {
        handedOver.push(`${agents.agent.name} proposal could not be repaired: ${errorsNote(r.errors)}`);
      }
    }
    const short = want - proposals.length;
    if (short > 0 && handedOver.length === 0) handedOver.push(`${agents.agent.name} agent gave ${proposals.length} of ${want} proposals`);
  }
  // Slots the agent left empty: the fallback agent, with its own stream; each trial says why it took the slot.
  let why: string | undefined;
  const reason = (): string[] => {
    why = handedOver.shift() ?? why;
    return why === undefined ? [] : [`${why}; the ${fallback.name} agent took the slot`];
  };
  for (let round = 0; trials.length < next.size && round < 3; round++) {
    const ctx: ProposeContext = {
      ...ctxBase, rng: studyRng(state.settings.seed, 'fallback', next.batch, round), batch: next.batch, block: next.block,
      slots: next.size - trials.length, pending: [...pending], pendingParents: [...pendingParents],
    };
    const more = await fallback.propose(ctx);
    for (const p of more) {
      if (trials.length >= next.size) break;
      const v = validateProposal(p, safetyContext(state, pending));
      const r = v.ok ? undefined : repairProposal(p, safetyContext(state, pending));
      if (v.ok) add({ parent: v.parent, mutation: p.mutation, strategy: p.strategy, changed: v.changed, inr: v.inr, source: 'fallback', repairs: reason() });
      else if (r?.ok) add({ parent: r.parent, mutation: p.mutation, strategy: p.strategy, changed: r.changed, inr: r.inr, source: 'fallback', repairs: [...reason(), ...r.repairs] });
    }
    if (more.length === 0) break;
  }
  if (trials.length === 0) throw new Error(`batch ${next.batch}: no agent could propose a config that is not already in the study`);
  return {
    type: 'batch_proposed', batch: next.batch, block: next.block, agent: agents.agent.name, trials,
    ...(dropped.length ? { dropped_enqueued: dropped } : {}),
  };
}

/**
 * Keep the agent's notes that are about the batch's nodes and fill in the rest
 * with the rules agent's; `filled` says what was filled (for the journal).
 */
function completeNotes(state: StudyState, batch: number, given: AgentNotes | undefined, rules: AgentNotes): AgentNotes & { filled: string[] } {
  const ids = state.batches[batch].nodes;
  const byNode = new Map<number, NodeNote>();
  for (const n of given?.notes ?? []) {
    if (!ids.includes(n.node) || byNode.has(n.node)) continue;
    const nextOk = n.next_parent === null || (Number.isInteger(n.next_parent) && n.next_parent >= 1 && n.next_parent <= state.nodes.length);
    byNode.set(n.node, { node: n.node, observation: String(n.observation ?? ''), next_parent: nextOk ? n.next_parent : null });
  }
  const filled = [
    ...ids.filter((id) => !byNode.has(id)).map((id) => `note of node ${id}`),
    ...(['hypothesis', 'observations'] as const).filter((k) => given?.memory[k] === undefined && rules.memory[k] !== undefined).map((k) => `memory ${k}`),
  ];
  const notes = ids.map((id) => byNode.get(id) ?? rules.notes.find((n) => n.node === id) ?? { node: id, observation: '-', next_parent: null });
  const memory = { ...rules.memory, ...(given?.memory ?? {}) };
  return { notes, memory, filled };
}

/** The agent's notes on the batch whose trials are all done. */
export async function analyseBatch(state: StudyState, agents: Agents): Promise<AgentNotesEvent> {
  const next = nextAction(state);
  if (next.kind !== 'analyse') throw new Error(`analyseBatch: the study should ${next.kind} now`);
  const ctx = { ...agentContext(state, agents.cost, 'analyse', next.batch), batch: next.batch };
  const rules = analyseRules({ ...ctx, rng: studyRng(state.settings.seed, 'analyse', next.batch, 1) }, { rootProposals: agents.agent.name === 'tpe' || agents.agent.name === 'random' });
  let given: AgentNotes | undefined;
  try {
    given = await agents.agent.analyse(ctx);
  } catch (err) {
    if (!(err instanceof AgentCallFailed)) throw err;
  }
  const done = completeNotes(state, next.batch, given, rules);
  return {
    type: 'agent_notes', batch: next.batch, agent: agents.agent.name, notes: done.notes, memory: done.memory,
    ...(done.filled.length ? { filled_by_rules: done.filled } : {}),
  };
}

/** The agent's block summary for a full (or final) block. */
export async function closeBlock(state: StudyState, agents: Agents): Promise<BlockClosedEvent> {
  const next = nextAction(state);
  if (next.kind !== 'close_block') throw new Error(`closeBlock: the study should ${next.kind} now`);
  const ctx = { ...agentContext(state, agents.cost, 'closeBlock', next.block), block: next.block };
  let s: BlockSummary;
  try {
    s = await agents.agent.closeBlock(ctx);
  } catch (err) {
    if (!(err instanceof AgentCallFailed)) throw err;
    s = { ...closeBlockRules(ctx), filled_by_rules: ['the whole summary'] };
  }
  const best = bestNode(state, next.block);
  return {
    type: 'block_closed', block: next.block, agent: agents.agent.name, summary: s.summary, key_finding: s.key_finding,
    best_node: best?.id ?? null, principles: s.principles, open_questions: s.open_questions, hypothesis_next: s.hypothesis_next,
    ...(s.filled_by_rules?.length ? { filled_by_rules: s.filled_by_rules } : {}),
  };
}

/** The decision the state asks for now (propose, analyse or close a block); null when trials must run or the study is done. */
export async function decide(state: StudyState, agents: Agents): Promise<BatchProposedEvent | AgentNotesEvent | BlockClosedEvent | null> {
  const next = nextAction(state);
  switch (next.kind) {
    case 'propose':
      return proposeBatch(state, agents);
    case 'analyse':
      return analyseBatch(state, agents);
    case 'close_block':
      return closeBlock(state, agents);
    default:
      return null;
  }
}

/** Trials of the latest batch still to run, with what each needs (re-runs keep their config and seed). */
export interface TrialToRun { node: number; slot: number; inr: InrConfig; seed: number; attempt: number }

export function trialsToRun(state: StudyState): TrialToRun[] {
  const next = nextAction(state);
  if (next.kind !== 'run') return [];
  return next.nodes.map((id) => {
    const n = state.nodes[id - 1];
    return { node: id, slot: n.slot, inr: n.inr, seed: n.seed, attempt: n.attempts + 1 };
  });
}

/** Whether `inr` is already in the study (for `study enqueue` to refuse early). */
export function alreadyInStudy(state: StudyState, inr: InrConfig): number | undefined {
  const d = findDuplicate(inr, safetyContext(state));
  return typeof d === 'number' ? d : undefined;
}

