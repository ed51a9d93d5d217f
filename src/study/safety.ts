/**
 * Config safety, in code: what an agent (or a user's enqueued config) may
 * propose. Only the explorable `inr:` keys may differ from the study's base
 * config; the fixed `inr:` keys and every other section are immutable; values
 * must lie in the study's search space (integers where the parameter needs
 * them); a config that some node already has (any status, including the
 * earlier slots of the same batch) is a duplicate; a parent must be a done node.
 *
 * Errors are data (`ProposalError`: key, value, rule, message) so an LLM agent
 * can be shown all of them at once and try again. `repairProposal` is what the
 * rules agent and the fallback path use: clamp and round into the space, reset
 * forbidden changes, and nudge duplicates to the nearest free neighbour.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import { parseConfig } from '../config/schema.js';
import type { InrConfig } from '../config/inr.js';
import { fmt } from '../config/messages.js';
import { EXPLORABLE_KEYS, FIXED_INR, SEARCH_PARAMS, isExplorable, isFixedInrKey, type ExplorableKey } from '../config/search-space.js';
import type { SearchRange, SearchSpace } from '../config/search-range.js';
import { unknownKeyRule } from '../config/suggest.js';
import { isMapping } from '../config/values.js';
import { show } from '../util/errors.js';
import { INR_KEYS } from '../config/inr.js';

export type SafetyRule =
  | 'unknown_key'
  | 'fixed_key'
  | 'immutable_section'
  | 'invalid_config'
  | 'not_a_number'
  | 'not_integer'
  | 'out_of_range'
  | 'not_a_choice'
  | 'duplicate'
  | 'unknown_parent'
  | 'parent_not_done';

export interface ProposalError {
  /** A YAML path (`inr.omega_inr`, `dataset`), or `parent`. */
  key: string;
  value: unknown;
  rule: SafetyRule;
  message: string;
}

/**
 * A proposal as an agent gives it: the parent, and either `inr` (a mapping of
 * `inr:` keys; keys left out keep the parent's values, or the base config's
 * for a root node) or `config` (a whole config mapping, as an LLM editing the
 * YAML file would give; its other sections must equal the base's).
 */
export interface ProposalInput {
  parent: number | null;
  inr?: Record<string, unknown>;
  config?: unknown;
}

/** What safety needs to know of a node. */
export interface KnownNode {
  id: number;
  inr: InrConfig;
  status: 'pending' | 'running' | 'finished' | 'failed';
}

export interface SafetyContext {
  base: Config;
  space: SearchSpace;
  nodes: readonly KnownNode[];
  /** Configs already taken by earlier slots of the batch being proposed. */
  pending?: readonly InrConfig[];
}

export type Validation =
  | { ok: true; inr: InrConfig; parent: number | null; changed: ExplorableKey[] }
  | { ok: false; errors: ProposalError[] };

function err(key: string, value: unknown, rule: SafetyRule, message: string): ProposalError {
  return { key, value, rule, message };
}

/** Whether two configs train the same thing (every explorable value equal; fixed keys are always equal). */
export function sameConfig(a: InrConfig, b: InrConfig): boolean {
  return EXPLORABLE_KEYS.every((k) => a[k] === b[k]);
}

/** The node id (or `'pending'` for an earlier slot of this batch) whose config equals `inr`. */
export function findDuplicate(inr: InrConfig, ctx: Pick<SafetyContext, 'nodes' | 'pending'>): number | 'pending' | undefined {
  for (const n of ctx.nodes) if (sameConfig(n.inr, inr)) return n.id;
  for (const p of ctx.pending ?? []) if (sameConfig(p, inr)) return 'pending';
  return undefined;
}

export function changedKeys(from: InrConfig, to: InrConfig): ExplorableKey[] {
  return EXPLORABLE_KEYS.filter((k) => from[k] !== to[k]);
}

function rangeText(r: SearchRange): string {
  if (r.choices) return `one of {${r.choices.join(', ')}}`;
  return `in [${fmt(r.min)}, ${fmt(r.max)}]${r.integer ? ', a whole number' : ''}`;
}

/** Check one explorable value against the space; undefined when fine. */
export function checkValue(key: ExplorableKey, value: unknown, space: SearchSpace): ProposalError | undefined {
  const path = `inr.${key}`;
  const r = space[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return err(path, value, 'not_a_number', `${path} = ${show(value)}: must be a number ${rangeText(r)}`);
  }
  if (r.integer && !Number.isInteger(value)) {
    return err(path, value, 'not_integer', `${path} = ${fmt(value)}: must be a whole number ${rangeText(r)}`);
  }
  if (r.choices) {
    if (!r.choices.includes(value)) return err(path, value, 'not_a_choice', `${path} = ${fmt(value)}: must be one of {${r.choices.join(', ')}}`);
  } else if (value < r.min || value > r.max) {
    return err(path, value, 'out_of_range', `${path} = ${fmt(value)}: outside the study's search range [${fmt(r.min)}, ${fmt(r.max)}]`);
  }
  return undefined;
}

/** The start a proposal's `inr` is read against: its parent's config, or the base config's. */
function startingInr(parent: number | null, ctx: SafetyContext): InrConfig {
  const node = parent === null ? undefined : ctx.nodes.find((n) => n.id === parent);
  return { ...(node?.inr ?? ctx.base.inr) };
}

function checkParent(parent: unknown, ctx: SafetyContext): ProposalError | undefined {
  if (parent === null) return undefined;
  if (typeof parent !== 'number' || !Number.isInteger(parent)) {
    return err('parent', parent, 'unknown_parent', `parent = ${show(parent)}: must be a node id or null (root)`);
  }
  const node = ctx.nodes.find((n) => n.id === parent);
  if (node === undefined) {
    const ids = ctx.nodes.filter((n) => n.status === 'finished' || n.status === 'failed').map((n) => n.id);
    return err('parent', parent, 'unknown_parent', `parent = ${parent}: no such node (done nodes: ${ids.length ? ids.join(', ') : 'none'}; null for root)`);
  }
  if (node.status !== 'finished' && node.status !== 'failed') {
    return err('parent', parent, 'parent_not_done', `parent = ${parent}: node ${parent} has no result yet (${node.status})`);
  }
  return undefined;
}

/** The inr mapping of a whole-config proposal, with errors for every other section that differs from the base. */
function readWholeConfig(config: unknown, ctx: SafetyContext, errors: ProposalError[]): Record<string, unknown> | undefined {
  if (!isMapping(config)) {
    errors.push(err('config', config, 'invalid_config', 'config must be a mapping of sections (dataset, inr, study, ...)'));
    return undefined;
  }
  const inr = config.inr;
  // Check every other section with the schema, the inr section set aside (it is checked key by key below).
  const rest: Record<string, unknown> = { ...config, inr: { ...ctx.base.inr } };
  let parsed: Config;
  try {
    parsed = parseConfig(rest, 'proposal').config;
  } catch (e) {
    errors.push(err('config', config, 'invalid_config', (e as Error).message));
    return isMapping(inr) ? inr : undefined;
  }
  const base = ctx.base;
  const sections: [string, unknown, unknown][] = [
    ['dataset', parsed.dataset, base.dataset],
    ['study', parsed.study, base.study],
  ];
  // A section the proposal leaves out keeps the base's; one it adds or changes is an error.
  if (Object.hasOwn(config, 'simulation')) sections.push(['simulation', parsed.simulation, base.simulation]);
  for (const key of new Set([...Object.keys(parsed.other)])) sections.push([key, parsed.other[key], base.other[key]]);
  for (const [key, got, want] of sections) {
    if (!Object.hasOwn(config, key)) continue;
    if (!isDeepStrictEqual(got, want)) {
      errors.push(err(key, config[key], 'immutable_section', `${key}: only the explorable inr: keys may change; the ${key} section must stay as in the study's config`));
    }
  }
  if (inr === undefined || inr === null) return {};
  if (!isMapping(inr)) {
    errors.push(err('inr', inr, 'invalid_config', 'inr must be a mapping'));
    return undefined;
  }
  return inr;
}

export function validateProposal(input: ProposalInput, ctx: SafetyContext): Validation {
  const errors: ProposalError[] = [];
  const parentErr = checkParent(input.parent, ctx);
  if (parentErr) errors.push(parentErr);
  const parent = parentErr ? null : input.parent;
  let map: Record<string, unknown> | undefined;
  if (input.config !== undefined && input.inr !== undefined) {
    errors.push(err('config', input.config, 'invalid_config', 'give either inr (the changed keys) or config (a whole config), not both'));
  } else if (input.config !== undefined) {
    map = readWholeConfig(input.config, ctx, errors);
  } else if (input.inr === undefined || input.inr === null) {
    map = {};
  } else if (!isMapping(input.inr)) {
    errors.push(err('inr', input.inr, 'invalid_config', 'inr must be a mapping of inr: keys to values'));
  } else {
    map = input.inr;
  }
  const inr = startingInr(parent, ctx);
  for (const [key, value] of Object.entries(map ?? {})) {
    const path = `inr.${key}`;
    if (isExplorable(key)) {
      const e = checkValue(key, value, ctx.space);
      if (e) errors.push(e);
      else inr[key] = value as number;
    } else if (isFixedInrKey(key)) {
      if (value !== FIXED_INR[key]) errors.push(err(path, value, 'fixed_key', `${path} = ${show(value)}: fixed at ${show(FIXED_INR[key])}; a study may not change it`));
    } else {
      errors.push(err(path, value, 'unknown_key', `${path} = ${show(value)}: ${unknownKeyRule('inr', key, INR_KEYS)}`));
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  // The starting config itself may lie outside a narrowed space (a base config, a user's config): check all of it.
  for (const key of EXPLORABLE_KEYS) {
    const e = checkValue(key, inr[key], ctx.space);
    if (e) errors.push({ ...e, message: `${e.message} (inherited from ${parent === null ? 'the base config' : `node ${parent}`}; set it explicitly)` });
  }
  const dup = findDuplicate(inr, ctx);
  if (dup !== undefined) {
    const where = dup === 'pending' ? 'an earlier slot of this batch' : `node ${dup}`;
    errors.push(err('inr', dup, 'duplicate', `this config is exactly ${where}'s: change at least one explorable value`));
  }
  if (errors.length > 0) return { ok: false, errors };
  const from = parent === null ? ctx.base.inr : startingInr(parent, ctx);
  return { ok: true, inr, parent, changed: changedKeys(from, inr) };
}

/** All errors as lines, for a prompt or a log. */
export function formatErrors(errors: readonly ProposalError[]): string {
  return errors.map((e) => `- ${e.message} [${e.rule}]`).join('\n');
}

/** The nearest value of the range to `value` (clamped, on the integer grid, or the nearest choice in log distance). */
export function snapToRange(value: number, r: SearchRange): number {
  if (!Number.isFinite(value)) return r.choices ? r.choices[0] : r.min;
  if (r.choices) {
    let best = r.choices[0];
    for (const c of r.choices) {
      const d = Math.abs(Math.log(c) - Math.log(Math.max(value, 1e-300)));
      if (d < Math.abs(Math.log(best) - Math.log(Math.max(value, 1e-300)))) best = c;
    }
    return best;
  }
  let v = Math.min(r.max, Math.max(r.min, value));
  if (r.integer) {
    if (r.scale === 'integer' && r.step !== undefined) {
      v = r.min + Math.round((v - r.min) / r.step) * r.step;
      while (v > r.max) v -= r.step;
    } else {
      v = Math.round(v);
    }
    if (v < r.min) v = Math.ceil(r.min);
    if (v > r.max) v = Math.floor(r.max);
  }
  return v;
}

/** Neighbours of a value for nudging a duplicate: one grid step, the next choice, or about 5% either way. */
function neighbours(value: number, r: SearchRange): number[] {
  let cands: number[];
  if (r.choices) {
    const i = r.choices.indexOf(value);
    cands = [r.choices[i + 1], r.choices[i - 1]].filter((c): c is number => c !== undefined);
  } else if (r.scale === 'integer') {
    const step = r.step ?? 1;
    cands = [value + step, value - step];
  } else {
    const up = value * 1.05;
    const down = value / 1.05;
    cands = [up, down].map((c) => (r.integer ? Math.round(c) : Number(c.toPrecision(4))));
  }
  return cands.map((c) => snapToRange(c, r)).filter((c) => c !== value);
}

/** Order in which duplicates are nudged: the parameters least likely to change the result's meaning first. */
const NUDGE_ORDER: readonly ExplorableKey[] = [
  'inr_total_steps', 'omega_inr', 'inr_learning_rate', 'hidden_dim_inr', 'inr_batch_size', 'inr_xy_period', 'inr_t_period', 'n_layers_inr',
];

export type Repair =
  | { ok: true; inr: InrConfig; parent: number | null; changed: ExplorableKey[]; repairs: string[] }
  | { ok: false; errors: ProposalError[] };

/**
 * Make a proposal valid with the smallest changes: an unknown or unfinished
 * parent becomes root, unknown and fixed keys are dropped, values are snapped
 * into the space, other sections are ignored (the base's are used), and a
 * duplicate is nudged one step on the first parameter that frees it.
 */
export function repairProposal(input: ProposalInput, ctx: SafetyContext): Repair {
  const repairs: string[] = [];
  let parent: number | null = input.parent;
  const parentErr = checkParent(parent, ctx);
  if (parentErr) {
    repairs.push(`${parentErr.message}; used root`);
    parent = null;
  }
  let map: Record<string, unknown> = {};
  if (input.inr !== undefined && isMapping(input.inr)) map = input.inr;
  else if (input.config !== undefined && isMapping(input.config) && isMapping(input.config.inr)) map = input.config.inr;
  if (input.config !== undefined) {
    const errs: ProposalError[] = [];
    readWholeConfig(input.config, ctx, errs);
    for (const e of errs) if (e.rule !== 'invalid_config' || e.key !== 'inr') repairs.push(`${e.message}; kept the study's`);
  }
  const inr = startingInr(parent, ctx);
  for (const [key, value] of Object.entries(map)) {
    if (isExplorable(key)) {
      const r = ctx.space[key];
      const v = typeof value === 'number' ? snapToRange(value, r) : inr[key];
      if (v !== value) repairs.push(`inr.${key} = ${show(value)} -> ${fmt(v)} (${rangeText(r)})`);
      inr[key] = v;
    } else {
      repairs.push(`dropped inr.${key} = ${show(value)} (${isFixedInrKey(key) ? 'fixed' : 'not an inr key'})`);
    }
  }
  for (const p of SEARCH_PARAMS) {
    const key = p.key as ExplorableKey;
    const r = ctx.space[key];
    const v = snapToRange(inr[key], r);
    if (v !== inr[key]) {
      repairs.push(`inr.${key} = ${fmt(inr[key])} -> ${fmt(v)} (${rangeText(r)})`);
      inr[key] = v;
    }
  }
  const dup = findDuplicate(inr, ctx);
  if (dup !== undefined) {
    let fixed = false;
    for (const key of NUDGE_ORDER) {
      for (const c of neighbours(inr[key], ctx.space[key])) {
        const trial = { ...inr, [key]: c };
        if (findDuplicate(trial, ctx) === undefined) {
          repairs.push(`nudged inr.${key} ${fmt(inr[key])} -> ${fmt(c)} to avoid duplicating ${dup === 'pending' ? 'an earlier slot' : `node ${dup}`}`);
          inr[key] = c;
          fixed = true;
          break;
        }
      }
      if (fixed) break;
    }
    if (!fixed) return { ok: false, errors: [err('inr', dup, 'duplicate', 'no free neighbour of this config to nudge to')] };
  }
  const from = parent === null ? ctx.base.inr : startingInr(parent, ctx);
  return { ok: true, inr, parent, changed: changedKeys(from, inr), repairs };
}

/** The safety context of a study state for the batch being proposed. */
export function safetyContext(state: { config: Config; space: SearchSpace; nodes: readonly KnownNode[] }, pending: readonly InrConfig[] = []): SafetyContext {
  return { base: state.config, space: state.space, nodes: state.nodes, pending };
}
