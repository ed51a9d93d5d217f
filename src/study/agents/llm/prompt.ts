/**
 * What the model is shown for each decision. Everything is rendered from the
 * study state (the journal), never read back from files.
 *
 * The prompt stays bounded as a study grows to hundreds of trials: the
 * working memory is one block's view plus one regime-table row per closed
 * block; the experiment log shows the last `logEntries` entries; the UCB
 * table its top `ucbRows` nodes (plus the best node overall); the batch just
 * finished is shown in full; free text the model writes is capped per field
 * (tools.ts). So the size grows with the number of blocks only, by one table row each.
 */
import { readFileSync } from 'node:fs';
import { fmt } from '../../../config/messages.js';
import { EXPLORABLE_KEYS, searchParam } from '../../../config/search-space.js';
import type { InrConfig } from '../../../config/inr.js';
import { EXCELLENT_ABOVE, GOOD_FROM, MODERATE_FROM } from '../../classify.js';
import { fitToBudget } from '../../cost-model.js';
import { analysisEntry } from '../../render/analysis.js';
import { renderMemory } from '../../render/memory.js';
import { ucbLine } from '../../render/ucb.js';
import { blockNodes, currentBlock, isDone, type StudyState } from '../../state.js';
import { bestNode, planParents, puctScores, scoringBlock } from '../../tree.js';
import { sampledText } from '../sampling.js';
import { candidateLabel, firstSlotNode, type Suggestion, type AgentContext, type AnalyseContext, type CloseBlockContext, type ProposeContext } from '../agent.js';

export interface PromptLimits {
  /** Experiment-log entries shown (the latest ones). */
  logEntries: number;
  /** UCB rows shown (the highest). */
  ucbRows: number;
}

export const DEFAULT_LIMITS: PromptLimits = { logEntries: 8, ucbRows: 10 };

/** The study protocol, shipped with the package as the default instructions. */
export const DEFAULT_INSTRUCTIONS_URL = new URL('../../../../../instructions/study-protocol.md', import.meta.url);

export function defaultInstructions(): string {
  return readFileSync(DEFAULT_INSTRUCTIONS_URL, 'utf8');
}

/** How the model acts here, after the protocol's text (which was written for a model that edits files). */
const ROLE = `# Your role in this inrscape study
You steer this study as the protocol above describes, with one difference: you do not edit files or run commands. inrscape trains the trials, writes the experiment log, the working memory, the UCB scores and the config files from its journal. You act only through three tools:
- record_iteration: the log entry of one finished trial (classification, observation, next parent);
- update_memory: sections of the working memory (after a batch: hypothesis, observations; at BLOCK END: block summary, key finding, principles, open questions, next hypothesis);
- propose_config: one slot of the next batch (parent node, changed inr: parameters, mutation text, strategy).
Every action is checked against the study's search space and rules (only the explorable inr: keys may change, values inside the ranges below, the parent must be a done node, no config may repeat one already in the study). An invalid action comes back with the exact errors; you get up to REPAIRS repairs, after which the rules agent takes the slot. What you write is stored verbatim and shown to people as text; it is never executed.
Where the protocol's numbers (the 60-minute limit, the GPU, the full data set, the typical ranges) differ from this study's, this study's hold: its data, time budget and search space are given with each request.`;

export function systemText(instructions: string, maxRepairs = 3): string {
  return `${instructions.trim()}\n\n${ROLE.replace('REPAIRS', String(maxRepairs))}\n`;
}

function configText(inr: InrConfig): string {
  return EXPLORABLE_KEYS.map((k) => `${k}=${fmt(inr[k])}`).join(', ');
}

function studySection(ctx: AgentContext): string {
  const { state } = ctx;
  const s = state.settings;
  const done = state.nodes.filter(isDone).length;
  const best = bestNode(state);
  const w = state.workload;
  return [
    `# Study: ${state.name}`,
    `Data: ${w ? `${w.cells} cells x ${w.frames} frames` : 'unknown size'}. ${done} of ${s.iterations} trials done, ${s.slots} slots per batch, blocks of ${s.block} iterations, UCB c = ${s.ucb_c}.`,
    `Classes: excellent R2 > ${EXCELLENT_ABOVE}; good ${GOOD_FROM}-${EXCELLENT_ABOVE}; moderate ${MODERATE_FROM}-${GOOD_FROM}; poor R2 < ${MODERATE_FROM} or over the time budget (or stopped by it); failed: no result.`,
    best?.metrics ? `Best so far: node ${best.id}, R2=${best.metrics.final_r2.toFixed(6)}, ${best.metrics.training_time_min.toFixed(1)} min: ${configText(best.inr)}` : 'Best so far: none yet.',
  ].join('\n');
}

function spaceSection(ctx: AgentContext): string {
  const rows = EXPLORABLE_KEYS.map((k) => {
    const r = ctx.space[k];
    const range = r.choices ? `one of {${r.choices.join(', ')}}` : `[${fmt(r.min)}, ${fmt(r.max)}]${r.integer ? ' integer' : ''}`;
    return `| ${k} | ${range} | ${fmt(ctx.base.inr[k])} | ${searchParam(k).mutation.text} |`;
  });
  return ['## Search space (the only keys you may change)', '| parameter | allowed | base config | protocol mutation |', '|---|---|---|---|', ...rows].join('\n');
}

/** The budget and what the cost model predicts for the candidates the model will likely build on. */
function budgetSection(ctx: AgentContext, candidates: readonly InrConfig[]): string {
  const { cost, budgetMinutes: budget } = ctx;
  const rate = cost.source === 'prior' ? 'a prior guess until a trial finishes' : `fitted on ${cost.samples} finished trial${cost.samples === 1 ? '' : 's'}`;
  const lines = [
    '## Time budget',
    `Each trial must finish within ${fmt(budget)} min; one that runs over is stopped and classed poor.`,
    `Cost model (${rate}): minutes ~ ${cost.overheadMinutes.toFixed(2)} + steps x batch x cells x 6(4h + layers h^2 + 3h) / ${(cost.flopsPerMinute / 60 / 1e9).toFixed(1)} GFLOP/s. A proposal predicted over ${Math.round(budget * 90) / 100} min has its inr_total_steps scaled down (its mutation text says so).`,
  ];
  const seen = new Set<string>();
  for (const inr of candidates) {
    const key = configText(inr);
    if (seen.has(key)) continue;
    seen.add(key);
    const fit = fitToBudget(inr, '', cost, budget, ctx.space);
    const maxSteps = fit.scaled ? fit.inr.inr_total_steps : undefined;
    lines.push(`- ${key}: predicted ${cost.predictMinutes(inr).toFixed(2)} min${maxSteps !== undefined ? `, over budget: at most ~${maxSteps} steps fit` : ''}`);
  }
  return lines.join('\n');
}

function logSection(state: StudyState, limits: PromptLimits, skip: ReadonlySet<number>): string {
  const done = state.nodes.filter((n) => isDone(n) && !skip.has(n.id));
  const shown = done.slice(-limits.logEntries);
  const head = `## Experiment log (the last ${shown.length} of ${done.length} earlier entries)`;
  return [head, ...(shown.length ? shown.map((n) => analysisEntry(n, null)) : ['(none yet)'])].join('\n\n');
}

function ucbSection(state: StudyState, block: number | undefined, limits: PromptLimits): string {
  if (block === undefined) return '## UCB scores\n(no done node yet: the first batch starts from root configs)';
  const scored = puctScores(state, { block, c: state.settings.ucb_c });
  const top = scored.slice(0, limits.ucbRows);
  const best = bestNode(state);
  const lines = [`## UCB scores, block ${block} (top ${top.length} of ${scored.length}; UCB = R2 + c*sqrt(N)/(1+V))`, ...top.map(ucbLine)];
  if (best && !top.some((s) => s.id === best.id)) lines.push(`(best node overall: ${best.id}, block ${best.block}, R2=${best.metrics?.final_r2.toFixed(6)})`);
  return lines.join('\n');
}

function memorySection(state: StudyState): string {
  return `## Working memory (memory.md)\n${renderMemory(state).trim()}`;
}

function blockPosition(state: StudyState, block: number, upcoming: number): string {
  const nodes = blockNodes(state, block);
  const s = state.settings;
  const first = nodes[0]?.id ?? state.nodes.length + 1;
  const size = Math.min(s.block, s.iterations - first + 1);
  const after = nodes.length + upcoming;
  return `## Block position\nBlock ${block}: iterations ${first}-${first + size - 1}; ${nodes.filter(isDone).length} done${upcoming ? `, this batch makes it ${after} of ${size}` : ''}.${after >= size ? ' This batch ends the block.' : ''}`;
}

/** The hybrid agent's TPE candidates, per slot, labelled A, B, ... */
function suggestionsSection(suggestions: readonly Suggestion[][], ids: readonly number[]): string {
  const lines = suggestions.map((list, slot) => {
    const items = list.map((c, i) => `${candidateLabel(i)}) ${sampledText(c.values, fmt)} (${c.score === undefined ? 'uniform startup sample' : `log l/g = ${c.score.toFixed(2)}`})`);
    return `- slot ${slot} (node ${ids[slot]}): ${items.join('; ') || 'none'}`;
  });
  return [
    "## TPE's candidates",
    "TPE (Optuna's sampler, fitted to every trial so far) proposes these for each slot, best first. log l/g > 0: TPE finds the config more likely among the good trials than among the rest.",
    'For each slot: pick one (propose its values unchanged with parent null and strategy tpe, and say "pick B" in the mutation), edit one (change one or two of its values, and say "edit of B: ..."), or propose your own move from the tree. Say why in your text.',
    ...lines,
  ].join('\n');
}

export function proposePrompt(ctx: ProposeContext, limits: PromptLimits = DEFAULT_LIMITS): string {
  const { state } = ctx;
  const block = scoringBlock(state, ctx.block);
  const parents = block === undefined ? [] : puctScores(state, { block, c: state.settings.ucb_c }).slice(0, 3).map((s) => s.node.inr);
  const top = planParents(state, 1, ctx.block)[0];
  const first = firstSlotNode(ctx);
  const ids = Array.from({ length: ctx.slots }, (_, i) => first + i);
  return [
    studySection(ctx),
    blockPosition(state, ctx.block, ctx.slots + ctx.pending.length),
    budgetSection(ctx, [ctx.base.inr, ...parents]),
    spaceSection(ctx),
    memorySection(state),
    logSection(state, limits, new Set()),
    ucbSection(state, block, limits),
    ...(ctx.pending.length ? [`## Already taken in this batch (do not repeat)\n${ctx.pending.map((p) => `- ${configText(p)}`).join('\n')}`] : []),
    ...(ctx.suggestions ? [suggestionsSection(ctx.suggestions, ids)] : []),
    [
      `## Your task: propose batch ${ctx.batch}`,
      `Call propose_config exactly ${ctx.slots} time${ctx.slots === 1 ? '' : 's'}, one per slot (they become nodes ${ids.join(', ')}).`,
      top === null || top === undefined
        ? 'No node is done yet: propose diverse starting configs (parent null, strategy start).'
        : `The highest-UCB node is ${top}. Follow the protocol's strategy rules (exploit the highest-UCB node by default; failure-probe after 3+ consecutive R2 >= 0.95; switch-param when a parameter was mutated 4+ times), change 1-2 parameters per slot, and give each slot a different change.`,
      'Explain your reasoning briefly in text, then make the calls.',
    ].join('\n'),
  ].join('\n\n');
}

export function analysePrompt(ctx: AnalyseContext, limits: PromptLimits = DEFAULT_LIMITS): string {
  const { state } = ctx;
  const ids = state.batches[ctx.batch].nodes;
  const nodes = ids.map((id) => state.nodes[id - 1]);
  const block = currentBlock(state);
  const results = nodes.map((n) => {
    const extra = [
      n.metrics?.time_limited ? 'stopped by the time budget' : undefined,
      n.repairs.length ? `changed by inrscape: ${n.repairs.join('; ')}` : undefined,
      n.source === 'fallback' ? 'proposed by the rules agent' : undefined,
    ].filter((x) => x !== undefined);
    return analysisEntry(n, null) + (extra.length ? `\n(${extra.join('; ')})` : '');
  });
  return [
    studySection(ctx),
    blockPosition(state, block, 0),
    memorySection(state),
    logSection(state, limits, new Set(ids)),
    ucbSection(state, block, limits),
    `## Results of batch ${ctx.batch} (just finished)\n${results.join('\n\n')}`,
    [
      `## Your task: analyse batch ${ctx.batch}`,
      `Call record_iteration once for each of nodes ${ids.join(', ')} (classification by the thresholds above, a brief observation, and the parent you mean to build on next).`,
      'Then call update_memory once with the current hypothesis and the emerging observations of this block.',
    ].join('\n'),
  ].join('\n\n');
}

export function closeBlockPrompt(ctx: CloseBlockContext, limits: PromptLimits = DEFAULT_LIMITS): string {
  const { state } = ctx;
  const best = bestNode(state, ctx.block);
  return [
    studySection(ctx),
    `=== BLOCK END: block ${ctx.block} is complete ===`,
    memorySection(state),
    logSection(state, limits, new Set()),
    ucbSection(state, ctx.block, limits),
    best?.metrics
      ? `## Best of block ${ctx.block}\nnode ${best.id}, R2=${best.metrics.final_r2.toFixed(6)}, slope=${best.metrics.slope.toFixed(4)}, ${best.metrics.training_time_min.toFixed(1)} min: ${configText(best.inr)}\n(the regime table row's numbers come from this node)`
      : `## Best of block ${ctx.block}\nno trial of this block finished within the budget`,
    [
      `## Your task: close block ${ctx.block}`,
      'Call update_memory once with: block_summary (what this block found), key_finding (the regime table row\'s cell, one line), principles (the full list of established principles, replacing the old one), open_questions (the full list) and next_hypothesis (what the next block should test).',
    ].join('\n'),
  ].join('\n\n');
}
