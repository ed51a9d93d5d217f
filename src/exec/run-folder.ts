/**
 * What a trial's run folder (from `inrscape train`, docs/training.md) says
 * about it: its metrics, or why it failed; and whether a folder left by an
 * interrupted study belongs to the trial that is about to run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPLORABLE_KEYS } from '../config/search-space.js';
import type { InrConfig } from '../config/inr.js';
import { parseResultsLog } from '../inr/results-log.js';
import { CONFIG_FILE, RESULTS_LOG, RUN_SPEC_FILE } from '../inr/run-folder.js';
import { readRunRecord, type RunRecord } from '../inr/run.js';
import { parseConfig } from '../config/schema.js';
import type { TrialMetrics } from './trial-files.js';
import type { RunFolderOutcome } from './runner.js';

function readRecord(dir: string): RunRecord | undefined {
  try {
    return readRunRecord(dir);
  } catch {
    return undefined;
  }
}

function trainingSeconds(rec: RunRecord | undefined): number | undefined {
  const t = (rec?.timings as { training_time_s?: unknown } | undefined)?.training_time_s;
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
}

/**
 * The outcome a committed run folder records, or undefined when there is no
 * readable results.log. Metrics come from run.json at full precision (results.log
 * rounds them), with results.log as the fallback.
 */
export function folderOutcome(dir: string): RunFolderOutcome | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, RESULTS_LOG), 'utf8');
  } catch {
    return undefined;
  }
  let log;
  try {
    log = parseResultsLog(text);
  } catch (err) {
    return { status: 'failed', reason: `unreadable results.log: ${(err as Error).message}`, runFolder: true };
  }
  const rec = readRecord(dir);
  const seconds = trainingSeconds(rec);
  const minutes = seconds !== undefined ? seconds / 60 : log.training_time_min;
  if (log.status === 'failed') {
    return { status: 'failed', reason: log.reason ?? 'training failed', training_time_min: minutes, runFolder: true };
  }
  const m = rec?.metrics;
  const metrics: TrialMetrics = {
    final_r2: m?.final_r2 ?? log.final_r2,
    final_mse: m?.final_mse ?? log.final_mse,
    slope: m?.slope ?? log.slope,
    training_time_min: minutes,
    final_r2_cod: m?.final_r2_cod ?? log.final_r2_cod,
    time_limited: rec?.time_limited ?? log.time_limited,
    ...(rec !== undefined ? { steps_done: rec.steps_done } : {}),
  };
  return { status: 'finished', metrics };
}

function sameInr(a: Record<string, unknown> | undefined, b: InrConfig): boolean {
  return a !== undefined && EXPLORABLE_KEYS.every((k) => a[k] === b[k]);
}

/** Whether the finished (or failed) run folder `dir` trained exactly this config, seed and budget. */
export function folderMatches(dir: string, want: { inr: InrConfig; seed: number; maxMinutes: number }): boolean {
  const rec = readRecord(dir);
  if (!rec) return false;
  const config = rec.config as { inr?: Record<string, unknown> } | undefined;
  return rec.seed === want.seed && sameInr(config?.inr, want.inr) && rec.max_minutes === want.maxMinutes;
}

/** Whether the interrupted run waiting in `staging` is this trial's (same config, seed and budget), so `--resume` continues it. */
export function stagingMatches(staging: string, want: { inr: InrConfig; seed: number; maxMinutes: number }): boolean {
  try {
    const spec = JSON.parse(readFileSync(join(staging, RUN_SPEC_FILE), 'utf8')) as { seed?: unknown; max_minutes?: unknown };
    if (spec.seed !== want.seed || spec.max_minutes !== want.maxMinutes) return false;
    if (!existsSync(join(staging, CONFIG_FILE))) return false;
    const config = parseConfig(readFileSync(join(staging, CONFIG_FILE), 'utf8'), CONFIG_FILE).config;
    return sameInr(config.inr as unknown as Record<string, unknown>, want.inr);
  } catch {
    return false;
  }
}
