import { UserError, show } from '../util/errors.js';

/**
 * Every config error has one shape, `<path> = <value>: <rule>`, so a user sees
 * the key, what they wrote and what is allowed in one line.
 */

/**
 * Join a prefix and a key: `dataset` + `cells` is `dataset.cells`; an empty
 * prefix gives the bare key; a prefix ending in `-` (a CLI flag, `--`) is glued on.
 */
export function joinPath(where: string, key: string): string {
  if (where === '') return key;
  if (where.endsWith('-')) return where + key;
  return `${where}.${key}`;
}

export function invalid(path: string, value: unknown, rule: string): UserError {
  return new UserError(`${path} = ${show(value)}: ${rule}`);
}

/** Numbers in rules and ranges: tiny ones in exponent form, as the protocol writes `1E-4`. */
export function fmt(n: number): string {
  if (n !== 0 && Number.isFinite(n) && Math.abs(n) < 1e-3) {
    return Number(n.toPrecision(6)).toExponential();
  }
  if (Number.isFinite(n) && !Number.isInteger(n)) return String(Number(n.toPrecision(6)));
  return String(n);
}

export function fmtRange(range: readonly [number, number]): string {
  return `[${fmt(range[0])}, ${fmt(range[1])}]`;
}
