/**
 * The native CPU engine's measured training rate, kept between runs in one
 * small JSON file in the data set cache (`<cache>/cpu-rate.json`, the cache
 * being INRSCAPE_CACHE or .inrscape/datasets): measured once per machine and
 * thread count (about a second, src/inr/engines/cpu-rate.ts), read from the
 * file ever after. Deleting the file measures again.
 *
 * An entry holds for what makes the number true: the CPU model, the kernels'
 * ISA path, the thread count and the inrscape version (a new build may have
 * new kernels). Another key measures and adds its entry; entries of other
 * CPUs stay (a cache on a shared file system serves several machines), those
 * of other inrscape versions go. The file is written whole or not at all
 * (temporary file and rename); one that cannot be read or parsed counts as
 * empty and is replaced, and an entry that does not hold up is ignored.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { packageVersion } from '../data/dataset.js';
import { cacheRoot } from '../data/resolve.js';
import { CpuEngine, type IsaName } from '../inr/engines/cpu.js';
import { RATE_SHAPE, measureCpuEngineRate } from '../inr/engines/cpu-rate.js';
import { writeFileAtomic } from '../util/atomic.js';

export const CPU_RATE_FILE = 'cpu-rate.json';

export function cpuRateFile(cache = cacheRoot()): string {
  return join(cache, CPU_RATE_FILE);
}

/** What a measured rate holds for. */
export interface CpuRateKey {
  cpu: string;
  isa: IsaName;
  threads: number;
  inrscape: string;
}

/** One entry of the file: the key, the rate and how it was measured (for people). */
export interface CpuRateEntry extends CpuRateKey {
  /** Training FLOP/s of one model at `threads` threads (the cost model's FLOP count). */
  flops_per_second: number;
  shape: string;
  steps: number;
  seconds: number;
  measured_at: string;
}

export interface CpuRate {
  flopsPerSecond: number;
  /** Whether it was measured just now or read from the file. */
  source: 'measured' | 'cache';
  file: string;
}

export function cpuRateKey(engine: Pick<CpuEngine, 'threads' | 'isa'>): CpuRateKey {
  return { cpu: cpus()[0]?.model.trim() || 'unknown', isa: engine.isa, threads: engine.threads, inrscape: packageVersion() };
}

function sameKey(a: CpuRateKey, b: CpuRateKey): boolean {
  return a.cpu === b.cpu && a.isa === b.isa && a.threads === b.threads && a.inrscape === b.inrscape;
}

function isEntry(v: unknown): v is CpuRateEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.cpu === 'string' && typeof e.isa === 'string' && typeof e.inrscape === 'string' &&
    Number.isInteger(e.threads) && typeof e.flops_per_second === 'number' && Number.isFinite(e.flops_per_second) && e.flops_per_second > 0;
}

/** The file's entries that hold up; none for a missing, unreadable or torn file. */
export function readCpuRates(file: string): CpuRateEntry[] {
  try {
    const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const rates = typeof doc === 'object' && doc !== null ? (doc as { rates?: unknown }).rates : undefined;
    return Array.isArray(rates) ? rates.filter(isEntry) : [];
  } catch {
    return [];
  }
}

function writeCpuRates(file: string, rates: CpuRateEntry[]): void {
  const doc = { about: 'the native CPU engine\'s training rate on this machine, measured once per key by inrscape; delete this file to measure again', rates };
  writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n');
}

/**
 * The native engine's training FLOP/s at `threads` threads on this machine:
 * from `file` when it has this key, else measured now and added to it. A file
 * that cannot be written costs only the caching: the rate measured is returned.
 */
export async function cpuEngineRate(threads: number, file = cpuRateFile()): Promise<CpuRate> {
  const engine = new CpuEngine({ threads });
  try {
    const key = cpuRateKey(engine);
    const rates = readCpuRates(file);
    const cached = rates.find((e) => sameKey(e, key));
    if (cached !== undefined) return { flopsPerSecond: cached.flops_per_second, source: 'cache', file };
    const m = await measureCpuEngineRate(engine);
    const entry: CpuRateEntry = {
      ...key, flops_per_second: m.flopsPerSecond,
      shape: `hidden ${RATE_SHAPE.hidden}, ${RATE_SHAPE.layers} hidden layers, ${RATE_SHAPE.batch} frames x ${RATE_SHAPE.cells} cells a step`,
      steps: m.steps, seconds: m.seconds, measured_at: new Date().toISOString(),
    };
    try {
      writeCpuRates(file, [...rates.filter((e) => e.inrscape === key.inrscape && !sameKey(e, key)), entry]);
    } catch {
      // A read-only cache: the next run measures again.
    }
    return { flopsPerSecond: m.flopsPerSecond, source: 'measured', file };
  } finally {
    await engine.close();
  }
}
