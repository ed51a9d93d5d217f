import { UserError, show } from '../util/errors.js';

/** Number-valued command-line flags: absent stays undefined, anything else is checked once, here. */

export function optionalInt(flag: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new UserError(`${flag} = ${show(value)}: must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}]`);
  }
  return v;
}

export function optionalPositive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UserError(`${flag} = ${show(value)}: must be a number > 0`);
  return v;
}
