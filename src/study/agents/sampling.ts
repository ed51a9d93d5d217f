/**
 * The search space as the samplers see it: each parameter a dimension in a
 * transformed space (the log of the value for log scales, as the reference's
 * Optuna space; the index for categorical ones), with the conversions both ways.
 */
import { EXPLORABLE_KEYS, type ExplorableKey } from '../../config/search-space.js';
import type { SearchSpace } from '../../config/search-range.js';
import type { InrConfig } from '../../config/inr.js';
import type { Rng } from '../../util/rng.js';
import { snapToRange } from '../safety.js';

export interface Dim {
  key: ExplorableKey;
  kind: 'float' | 'int' | 'categorical';
  log: boolean;
  /** Bounds in the transformed space (int dims widened by half a step, as Optuna does). */
  low: number;
  high: number;
  /** Grid step in the transformed space (int on a linear grid only). */
  step?: number;
  choices?: readonly number[];
}

export function dimensions(space: SearchSpace): Dim[] {
  return EXPLORABLE_KEYS.map((key) => {
    const r = space[key];
    if (r.choices) return { key, kind: 'categorical', log: false, low: 0, high: r.choices.length - 1, choices: r.choices };
    const log = r.scale === 'log';
    if (r.integer) {
      if (log) return { key, kind: 'int', log, low: Math.log(r.min - 0.5), high: Math.log(r.max + 0.5) };
      const step = r.step ?? 1;
      return { key, kind: 'int', log, low: r.min - step / 2, high: r.max + step / 2, step };
    }
    return { key, kind: 'float', log, low: log ? Math.log(r.min) : r.min, high: log ? Math.log(r.max) : r.max };
  });
}

/** The transformed coordinate of a value (categorical: its index; a value off the choices: the nearest). */
export function toInternal(dim: Dim, value: number): number {
  if (dim.kind === 'categorical') {
    const choices = dim.choices as readonly number[];
    const i = choices.indexOf(value);
    if (i >= 0) return i;
    let best = 0;
    for (let j = 1; j < choices.length; j++) if (Math.abs(Math.log(choices[j] / value)) < Math.abs(Math.log(choices[best] / value))) best = j;
    return best;
  }
  return dim.log ? Math.log(value) : value;
}

/** A value of the space from a transformed coordinate: rounded to the grid, 4 significant digits for floats. */
export function fromInternal(dim: Dim, x: number, space: SearchSpace): number {
  const r = space[dim.key];
  if (dim.kind === 'categorical') {
    const choices = dim.choices as readonly number[];
    return choices[Math.min(choices.length - 1, Math.max(0, Math.round(x)))];
  }
  const v = dim.log ? Math.exp(x) : x;
  return snapToRange(r.integer ? Math.round(v) : Number(v.toPrecision(4)), r);
}

/** Uniform over the space (log-uniform on log scales, uniform over the grid and the choices). */
export function sampleUniform(space: SearchSpace, rng: Rng): Record<ExplorableKey, number> {
  const out = {} as Record<ExplorableKey, number>;
  for (const dim of dimensions(space)) {
    if (dim.kind === 'categorical') {
      out[dim.key] = (dim.choices as readonly number[])[rng.below((dim.choices as readonly number[]).length)];
    } else {
      out[dim.key] = fromInternal(dim, dim.low + rng.uniform() * (dim.high - dim.low), space);
    }
  }
  return out;
}

/** `omega_inr=12.34, inr_learning_rate=2.1e-4, ...` for a mutation line. */
export function sampledText(values: Record<ExplorableKey, number>, fmtValue: (n: number) => string): string {
  return EXPLORABLE_KEYS.map((k) => `${k}=${fmtValue(values[k])}`).join(', ');
}

export function withValues(base: InrConfig, values: Record<ExplorableKey, number>): InrConfig {
  return { ...base, ...values };
}
