import type { InrConfig } from './inr.js';
import { readInrValue } from './inr.js';
import { fmt, fmtRange, invalid } from './messages.js';
import { FIXED_INR, FIXED_INR_KEYS, SEARCH_PARAMS, isExplorable, isFixedInrKey, type ExplorableKey, type Scale, type SearchParam } from './search-space.js';
import { readChoice, unknownKeyRule } from './suggest.js';
import { COUNT, readNumber, readSection, setOwn } from './values.js';
import { UserError, show } from '../util/errors.js';

/** A study's change to one parameter's search range, as written under `study.search_space`. */
export interface RangeOverride {
  min?: number;
  max?: number;
  scale?: Scale;
  step?: number;
}

export type SearchSpaceOverrides = Partial<Record<ExplorableKey, RangeOverride>>;

/** The range a study's agents draw one parameter from. */
export interface SearchRange {
  key: ExplorableKey;
  scale: Scale;
  min: number;
  max: number;
  /** Whether values must be whole numbers (true for a log-scaled step count too). */
  integer: boolean;
  /** Grid step; only for the `integer` scale. */
  step?: number;
  /** Allowed values; only for the `categorical` scale, already narrowed to [min, max]. */
  choices?: readonly number[];
}

export type SearchSpace = Record<ExplorableKey, SearchRange>;

const OVERRIDE_KEYS = ['min', 'max', 'scale', 'step'] as const;

/** Rescaling may change how values are drawn, never what kind of value a run gets. */
function allowedScales(param: SearchParam): readonly Scale[] {
  if (param.scale === 'categorical') return ['categorical'];
  return param.integer ? ['integer', 'log'] : ['log', 'linear'];
}

/** Parse `study.search_space` (file order for key errors). Ranges are checked here, once. */
export function parseSearchSpace(value: unknown, warnings: string[], path = 'study.search_space'): SearchSpaceOverrides {
  const section = readSection(value, path);
  const out: SearchSpaceOverrides = {};
  for (const [key, v] of Object.entries(section)) {
    const keyPath = `${path}.${key}`;
    if (isFixedInrKey(key)) throw invalid(keyPath, v, `not explorable (inr.${key} is fixed at ${show(FIXED_INR[key])})`);
    if (!isExplorable(key)) throw invalid(keyPath, v, unknownKeyRule(path, key, SEARCH_PARAMS.map((p) => p.key)));
    const param = SEARCH_PARAMS.find((p) => p.key === key) as SearchParam;
    const ov = parseOverride(param, v, keyPath);
    const range = resolveRange(param, ov, keyPath);
    const [lo, hi] = param.typical;
    if (range.min < lo || range.max > hi) {
      warnings.push(`${keyPath} = [${fmt(range.min)}, ${fmt(range.max)}] goes outside the typical range ${fmtRange(param.typical)}`);
    }
    setOwn(out, key, ov);
  }
  return out;
}

function parseOverride(param: SearchParam, value: unknown, path: string): RangeOverride {
  const section = readSection(value, path);
  const ov: RangeOverride = {};
  for (const [key, v] of Object.entries(section)) {
    const keyPath = `${path}.${key}`;
    if (key === 'min' || key === 'max') {
      ov[key] = readInrValue(param, v, keyPath);
    } else if (key === 'scale') {
      ov.scale = readChoice(v, keyPath, allowedScales(param));
    } else if (key === 'step') {
      ov.step = readNumber(v, keyPath, COUNT);
    } else {
      throw invalid(keyPath, v, unknownKeyRule(path, key, OVERRIDE_KEYS));
    }
  }
  // Written back in one order so a round trip compares equal whatever order the file used.
  const ordered: RangeOverride = {};
  for (const k of OVERRIDE_KEYS) if (ov[k] !== undefined) Object.assign(ordered, { [k]: ov[k] });
  return ordered;
}

/** Every explorable value is > 0 (see readInrValue), so a log scale is always defined. */
function resolveRange(param: SearchParam, ov: RangeOverride, path: string): SearchRange {
  const key = param.key as ExplorableKey;
  const scale = ov.scale ?? param.scale;
  const min = ov.min ?? param.typical[0];
  const max = ov.max ?? param.typical[1];
  if (!(min < max)) {
    if (ov.max !== undefined || ov.min === undefined) throw invalid(`${path}.max`, max, `must be > min (${fmt(min)})`);
    throw invalid(`${path}.min`, min, `must be < max (${fmt(max)})`);
  }
  const range: SearchRange = { key, scale, min, max, integer: param.integer };
  if (ov.step !== undefined && scale !== 'integer') {
    throw invalid(`${path}.step`, ov.step, 'only for the integer scale');
  }
  if (scale === 'integer') range.step = ov.step ?? param.step ?? 1;
  if (param.choices) {
    const choices = param.choices.filter((c) => c >= min && c <= max);
    if (choices.length === 0) {
      throw invalid(path, { min, max }, `no choice of ${param.choices.join(', ')} lies in [${fmt(min)}, ${fmt(max)}]`);
    }
    range.choices = choices;
  }
  return range;
}

/** The effective search space of a study: the protocol's ranges with the study's overrides applied. */
export function resolveSearchSpace(config: { study: { search_space: SearchSpaceOverrides } }): SearchSpace {
  const space = {} as SearchSpace;
  for (const p of SEARCH_PARAMS) {
    space[p.key] = resolveRange(p, config.study.search_space[p.key] ?? {}, `study.search_space.${p.key}`);
  }
  return space;
}

/**
 * A proposal outside the study's space is an agent's error, not advice: a
 * study's results only mean something inside the space it declared.
 */
export function checkProposal(inr: InrConfig, space: SearchSpace): void {
  for (const p of SEARCH_PARAMS) {
    const value = readInrValue(p, inr[p.key]);
    const range = space[p.key];
    if (range.choices) {
      if (!range.choices.includes(value)) {
        throw new UserError(`${p.yamlPath} = ${fmt(value)} is not one of the search choices {${range.choices.join(', ')}}`);
      }
    } else if (value < range.min || value > range.max) {
      throw new UserError(`${p.yamlPath} = ${fmt(value)} is outside the search range [${fmt(range.min)}, ${fmt(range.max)}]`);
    }
  }
  for (const k of FIXED_INR_KEYS) {
    if (inr[k] !== FIXED_INR[k]) throw invalid(`inr.${k}`, inr[k], `fixed at ${show(FIXED_INR[k])}`);
  }
}

/** True when `value` lies in the range (and on its choices); for warnings about a study's starting config. */
export function inSearchRange(range: SearchRange, value: number): boolean {
  if (range.choices) return range.choices.includes(value);
  return value >= range.min && value <= range.max;
}
