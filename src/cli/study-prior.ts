/**
 * The cost model's rate before a study's first trial has finished, for where
 * its trials run (src/study/budget.ts, `enginePriorFlopsPerSecond`). Trials of
 * the native CPU engine on this machine get this machine's measured rate
 * (measured once, cached: cpu-rate.ts); trials on a cluster's nodes, which
 * this machine cannot measure, and the torch engines keep the constants.
 */
import type { EngineKind } from '../exec/placement.js';
import { enginePriorFlopsPerSecond } from '../study/budget.js';
import { cpuEngineRate, cpuRateFile } from './cpu-rate.js';
import { rel } from './paths.js';

export interface PriorPlacement {
  kind: EngineKind;
  /** Engine threads per trial. */
  threads: number;
  trialsPerDevice: number;
  /** Whether the trials run on this machine (not a cluster's nodes). */
  here: boolean;
}

/** The prior, and `onNote` told (in words) when it was measured now or could not be. */
export async function studyPrior(p: PriorPlacement, onNote: (message: string) => void = () => undefined, file = cpuRateFile()): Promise<number> {
  if (p.kind !== 'cpu' || !p.here) return enginePriorFlopsPerSecond(p.threads, p.kind, p.trialsPerDevice);
  try {
    const rate = await cpuEngineRate(p.threads, file);
    const prior = enginePriorFlopsPerSecond(p.threads, 'cpu', p.trialsPerDevice, rate.flopsPerSecond);
    if (rate.source === 'measured') {
      onNote(
        `cost prior: the cpu engine trains at ${(rate.flopsPerSecond / 1e9).toFixed(1)} GFLOP/s with ${p.threads} thread${p.threads === 1 ? '' : 's'} here ` +
          `(measured once, kept in ${rel(file)}; delete it to measure again); the first batch is priced at ${(prior / 1e9).toFixed(1)} GFLOP/s`,
      );
    }
    return prior;
  } catch (err) {
    const prior = enginePriorFlopsPerSecond(p.threads, 'cpu', p.trialsPerDevice);
    onNote(`cost prior: measuring the cpu engine failed (${(err as Error).message}); the first batch is priced at ${(prior / 1e9).toFixed(1)} GFLOP/s`);
    return prior;
  }
}
