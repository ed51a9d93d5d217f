import { UserError } from '../util/errors.js';
import { fmt, invalid } from './messages.js';

/** Plain YAML data: what a section we do not own may hold, kept as written. */
export type YamlValue = null | boolean | number | string | YamlValue[] | YamlMapping;
export interface YamlMapping {
  [key: string]: YamlValue;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A section that may be left empty (`inr:` with nothing under it) reads as `{}`. */
export function readSection(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) throw invalid(path, value, 'must be a mapping');
  return value;
}

/** Own-property assignment that a `__proto__` key from a file cannot turn into a prototype change. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Deep copy of data that will be written back as YAML, so the loaded config
 * shares nothing with the caller's object and holds nothing YAML cannot write.
 */
export function copyYamlValue(value: unknown, path: string): YamlValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => copyYamlValue(v === undefined ? null : v, `${path}[${i}]`));
  if (isMapping(value)) {
    const out: YamlMapping = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) setOwn(out, k, copyYamlValue(v, `${path}.${k}`));
    }
    return out;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new UserError(`${path}: a ${kind} is not YAML data`);
}

export interface NumberRule {
  integer: boolean;
  min: number;
  /** The minimum itself is not allowed. */
  exclusive: boolean;
  /** An upper bound (inclusive), when there is one. */
  max?: number;
}

export function numberRuleText(rule: NumberRule): string {
  const noun = rule.integer ? 'an integer' : 'a number';
  return `must be ${noun} ${rule.exclusive ? '>' : '>='} ${fmt(rule.min)}${rule.max !== undefined ? ` and <= ${fmt(rule.max)}` : ''}`;
}

/** A finite number obeying `rule`; strings, NaN and infinities break every rule. */
export function readNumber(value: unknown, path: string, rule: NumberRule): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.exclusive ? value > rule.min : value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) throw invalid(path, value, numberRuleText(rule));
  return value;
}

export const POSITIVE: NumberRule = { integer: false, min: 0, exclusive: true };
export const NON_NEGATIVE: NumberRule = { integer: false, min: 0, exclusive: false };
export const COUNT: NumberRule = { integer: true, min: 1, exclusive: false };
export const SEED: NumberRule = { integer: true, min: 0, exclusive: false };
