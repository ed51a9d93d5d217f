/**
 * Render every file of a study folder from the state, atomically (temp file,
 * fsync, rename). Files whose content did not change are not rewritten.
 * Call after every event the loop appends (or at least after every batch).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { ANALYSIS_FILE, MEMORY_FILE, REASONING_FILE, UCB_FILE, configFile, memorySnapshotFile } from '../files.js';
import type { StudyState } from '../state.js';
import { renderAnalysis } from './analysis.js';
import { renderTrialConfig } from './configs.js';
import { renderMemory } from './memory.js';
import { renderReasoning } from './reasoning.js';
import { renderUcb } from './ucb.js';

export { analysisEntry, renderAnalysis } from './analysis.js';
export { renderTrialConfig, trialConfig } from './configs.js';
export { memoryBlock, regimeRow, renderMemory } from './memory.js';
export { renderStatus } from './status.js';
export { renderUcb, ucbLine } from './ucb.js';

/** Relative path -> content of every rendered file. */
export function renderFiles(state: StudyState): Map<string, string> {
  const out = new Map<string, string>();
  out.set(ANALYSIS_FILE, renderAnalysis(state));
  out.set(MEMORY_FILE, renderMemory(state));
  out.set(UCB_FILE, renderUcb(state));
  if (state.calls.length > 0) out.set(REASONING_FILE, renderReasoning(state));
  for (const n of state.nodes) out.set(configFile(n.id, n.slot), renderTrialConfig(state, n));
  for (const b of state.blocks) if (b.closed) out.set(memorySnapshotFile(b.index), renderMemory(state, { block: b.index }));
  return out;
}

/** Write the rendered files under `dir`; returns the paths written. */
export function renderAll(dir: string, state: StudyState): string[] {
  const written: string[] = [];
  for (const [rel, text] of renderFiles(state)) {
    const path = join(dir, rel);
    if (existsSync(path) && readFileSync(path, 'utf8') === text) continue;
    writeFileAtomic(path, text);
    written.push(rel);
  }
  return written;
}
