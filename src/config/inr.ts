import { fmt, fmtRange, invalid } from './messages.js';
import {
  EXPLORABLE_KEYS, FIXED_INR, FIXED_INR_KEYS, SEARCH_PARAMS, isExplorable, isFixedInrKey, searchParam,
  type ExplorableKey, type SearchParam,
} from './search-space.js';
import { unknownKeyRule } from './suggest.js';
import { COUNT, POSITIVE, readNumber, readSection } from './values.js';
import { show } from '../util/errors.js';

/** The `inr:` section: the protocol's keys, nothing else. */
export type InrConfig = Record<ExplorableKey, number> & {
  inr_field_name: typeof FIXED_INR.inr_field_name;
  inr_type: typeof FIXED_INR.inr_type;
  inr_gradient_mode: typeof FIXED_INR.inr_gradient_mode;
};

export const INR_KEYS: readonly string[] = [...EXPLORABLE_KEYS, ...FIXED_INR_KEYS];

export function defaultInr(): InrConfig {
  const explorable = Object.fromEntries(SEARCH_PARAMS.map((p) => [p.key, p.default])) as Record<ExplorableKey, number>;
  return { ...explorable, ...FIXED_INR };
}

/**
 * What a single run can train with at all. The typical range is advice, so a
 * run outside it is allowed and only warned about.
 */
export function readInrValue(param: SearchParam, value: unknown, path = param.yamlPath): number {
  return readNumber(value, path, param.integer ? COUNT : POSITIVE);
}

export function typicalRangeWarning(param: SearchParam, value: number): string | undefined {
  const [lo, hi] = param.typical;
  if (value >= lo && value <= hi) return undefined;
  return `${param.yamlPath} = ${fmt(value)} is outside the typical range ${fmtRange(param.typical)}`;
}

/**
 * Parse an `inr:` section (absent keys take the protocol defaults). Agents that
 * read a proposed `inr:` mapping use this too, so a proposal gets the same checks.
 */
export function parseInr(value: unknown, path = 'inr'): { inr: InrConfig; warnings: string[] } {
  const section = readSection(value, path);
  const inr = defaultInr();
  for (const [key, v] of Object.entries(section)) {
    const keyPath = `${path}.${key}`;
    if (isExplorable(key)) {
      inr[key] = readInrValue(searchParam(key), v, keyPath);
    } else if (isFixedInrKey(key)) {
      if (v !== FIXED_INR[key]) throw invalid(keyPath, v, `fixed at ${show(FIXED_INR[key])}`);
    } else {
      throw invalid(keyPath, v, unknownKeyRule(path, key, INR_KEYS));
    }
  }
  const warnings: string[] = [];
  for (const p of SEARCH_PARAMS) {
    const w = typicalRangeWarning(p, inr[p.key]);
    if (w !== undefined) warnings.push(w);
  }
  return { inr, warnings };
}

/** Each step samples distinct frames, so a batch cannot be larger than the data set. */
export function checkBatchAgainstFrames(inr: Pick<InrConfig, 'inr_batch_size'>, frames: number): void {
  if (inr.inr_batch_size > frames) {
    throw invalid('inr.inr_batch_size', inr.inr_batch_size, `must be <= the data set's number of frames (${frames})`);
  }
}
