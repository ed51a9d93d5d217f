/**
 * Every random choice of a study derives from the study's seed and where it is
 * made, never from a stream carried across events. So agents keep no state:
 * re-created on resume from the journal alone, they draw exactly the same
 * numbers (the batch index, the purpose and, for repairs, the slot say where).
 */
import { Rng } from '../util/rng.js';

/** What a stream is for; distinct purposes give unrelated streams. */
export const PURPOSE = { propose: 1, analyse: 2, closeBlock: 3, trial: 4, fallback: 5 } as const;
export type Purpose = keyof typeof PURPOSE;

/** A 32-bit mix of the parts (murmur3's finaliser over a running hash). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul((p >>> 0) ^ Math.floor(p / 4294967296), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The stream an agent gets for one call (e.g. proposing batch 3). */
export function studyRng(seed: number, purpose: Purpose, index: number, sub = 0): Rng {
  return new Rng(mixSeed(seed, PURPOSE[purpose], index, sub));
}

/** A trial's training seed: fixed at proposal, the same on every attempt. */
export function trialSeed(studySeed: number, node: number): number {
  return mixSeed(studySeed, PURPOSE.trial, node) & 0x7fffffff;
}
