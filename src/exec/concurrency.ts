/**
 * How many trials run at once, and with how many engine threads each.
 *
 * Measured on the 2-core development machine (docs/performance.md, "Study
 * concurrency"): see `PREFER_PARALLEL_TRIALS`. With `--threads T` given, as
 * many trials run at once as the cores allow (floor(cores / T), at most the
 * batch's slots). Without it, the measured preference decides:
 *   parallel trials: min(slots, cores) trials at once, floor(cores / that) threads each;
 *   threaded trials: one trial at a time with every core.
 */
import { availableParallelism } from 'node:os';

/**
 * Whether several single-threaded trials at once beat one trial with all
 * threads. Measured on dicty-small on 2 cores (docs/performance.md, "Study
 * concurrency"): two 1-thread trials at once finished 4 trials in 31.7 s,
 * one 2-thread trial at a time in 36.5 s.
 */
export const PREFER_PARALLEL_TRIALS = true;

export interface ConcurrencyPlan {
  /** Trials at once. */
  capacity: number;
  /** Engine threads per trial. */
  threads: number;
  /** In words, for the progress output. */
  text: string;
}

export function cores(): number {
  return Math.max(1, availableParallelism());
}

export function planConcurrency(slots: number, opts: { threads?: number; cores?: number; preferParallel?: boolean } = {}): ConcurrencyPlan {
  const n = opts.cores ?? cores();
  let capacity: number;
  let threads: number;
  if (opts.threads !== undefined) {
    threads = opts.threads;
    capacity = Math.max(1, Math.min(slots, Math.floor(n / threads)));
  } else if (opts.preferParallel ?? PREFER_PARALLEL_TRIALS) {
    capacity = Math.max(1, Math.min(slots, n));
    threads = Math.max(1, Math.floor(n / capacity));
  } else {
    capacity = 1;
    threads = n;
  }
  return { capacity, threads, text: `${capacity} trial${capacity === 1 ? '' : 's'} at a time, ${threads} thread${threads === 1 ? '' : 's'} each` };
}
