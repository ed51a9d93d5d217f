/** Where a study's files live, relative to the study folder. */
import { join } from 'node:path';

export const ANALYSIS_FILE = 'analysis.md';
export const MEMORY_FILE = 'memory.md';
export const UCB_FILE = 'ucb_scores.txt';
export const REASONING_FILE = 'reasoning.log';
export const CONFIG_DIR = 'config';
export const MEMORY_DIR = 'memory';
export const RUNS_DIR = 'runs';

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** `config/iter_NNN_slot_NN.yaml`: the full config a trial ran. */
export function configFile(node: number, slot: number): string {
  return join(CONFIG_DIR, `iter_${pad(node, 3)}_slot_${pad(slot, 2)}.yaml`);
}

/** `memory/block_NNN_memory.md`: working memory as it stood when block NNN closed. */
export function memorySnapshotFile(block: number): string {
  return join(MEMORY_DIR, `block_${pad(block, 3)}_memory.md`);
}

/** `runs/iter_NNN_slot_NN`: the trial's run folder (from `inrscape train --out`). */
export function runDir(node: number, slot: number): string {
  return join(RUNS_DIR, `iter_${pad(node, 3)}_slot_${pad(slot, 2)}`);
}
