/**
 * The per-trial time budget. The protocol's 60 minutes is a GPU budget for the
 * full data set (1000 cells x 9997 frames). A CPU study on a small preset
 * would take days at that budget, so the default budget depends on the data set:
 *
 *   dataset                     default max_trial_minutes
 *   preset dicty (full size)    60 (the protocol's)
 *   preset dicty-small          5
 *   preset dicty-tiny           1
 *   path / name (unknown size)  60
 *
 * Rule: an explicit `study.max_trial_minutes` (a number in the file) always
 * wins. `study.max_trial_minutes: auto` (the default when the file does not
 * set it) resolves with the table above when the study is created. The
 * resolved value is recorded in the journal (study_created.settings.max_trial_minutes
 * and budget_note) and in the base config, so the classification ("poor:
 * training_time_min > budget"), the cost model and the config snapshots use
 * the same number for the whole study.
 *
 * The same presets also get a CPU-sized step range (`cpuPresetSpace`) and the
 * cost model a prior for the engine the trials run on (`enginePriorFlopsPerSecond`).
 */
import type { DatasetConfig } from '../config/dataset.js';
import type { SearchSpaceOverrides } from '../config/search-range.js';
import type { Workload } from './cost-model.js';

export const PROTOCOL_TRIAL_MINUTES = 60;

/** Default budgets of the CPU presets: short enough that a 48-trial study on a laptop ends within hours. */
export const CPU_PRESET_TRIAL_MINUTES: Readonly<Record<string, number>> = {
  'dicty-small': 5,
  'dicty-tiny': 1,
};

export interface ResolvedBudget {
  minutes: number;
  /** One line for the journal and `study status`. */
  note: string;
}

/**
 * The effective budget. `configured` is the file's value: a number (explicit),
 * or `'auto'`/`undefined` (use the data set's default).
 */
export function resolveTrialMinutes(configured: number | 'auto' | undefined, dataset: DatasetConfig): ResolvedBudget {
  if (typeof configured === 'number') return { minutes: configured, note: `max_trial_minutes = ${configured} (set in the config)` };
  if (dataset.kind === 'preset' && Object.hasOwn(CPU_PRESET_TRIAL_MINUTES, dataset.preset)) {
    const minutes = CPU_PRESET_TRIAL_MINUTES[dataset.preset];
    return {
      minutes,
      note: `max_trial_minutes = ${minutes}: the CPU preset ${dataset.preset}'s default (the protocol's ${PROTOCOL_TRIAL_MINUTES} min is for the full data set on a GPU)`,
    };
  }
  return { minutes: PROTOCOL_TRIAL_MINUTES, note: `max_trial_minutes = ${PROTOCOL_TRIAL_MINUTES} (the protocol's budget)` };
}

/** Cells and frames of a preset data set; null for a folder or a name (the loop reads those from the data set). */
export function presetWorkload(dataset: DatasetConfig): Workload | null {
  if (dataset.kind !== 'preset') return null;
  return { cells: dataset.params.cells, frames: dataset.params.frames };
}

/**
 * The protocol's step range (50 000 .. 2 000 000) is for 1000 cells x 9997
 * frames on a GPU; on a CPU preset most of it is far over the budget and the
 * budget would scale nearly every proposal down to the minimum. So a study
 * created by the loop on a CPU preset whose config does not set
 * `study.search_space.inr_total_steps` searches this range instead (recorded
 * in the journal and the config snapshots). The ranges bracket what a good fit
 * needs there (docs/study.md, "Budget scaling"): on dicty-small an R2 of 0.98
 * takes 1000 to 2000 steps at hidden 128 to 256, on dicty-tiny a few hundred.
 */
export const CPU_PRESET_STEP_RANGE: Readonly<Record<string, { min: number; max: number }>> = {
  'dicty-small': { min: 200, max: 20000 },
  'dicty-tiny': { min: 20, max: 2000 },
};

/** The search space overrides a CPU preset adds (none when the config sets the step range, or for other data sets). */
export function cpuPresetSpace(dataset: DatasetConfig, space: SearchSpaceOverrides): { overrides: SearchSpaceOverrides; note?: string } {
  if (dataset.kind !== 'preset' || !Object.hasOwn(CPU_PRESET_STEP_RANGE, dataset.preset)) return { overrides: space };
  if (space.inr_total_steps?.min !== undefined || space.inr_total_steps?.max !== undefined) return { overrides: space };
  const range = CPU_PRESET_STEP_RANGE[dataset.preset];
  return {
    overrides: { ...space, inr_total_steps: { ...(space.inr_total_steps ?? {}), min: range.min, max: range.max } },
    note: `study.search_space.inr_total_steps = [${range.min}, ${range.max}]: the CPU preset ${dataset.preset}'s range (the protocol's [50000, 2000000] is for the full data set on a GPU)`,
  };
}

/**
 * The cost model's rate before a study has a finished trial, for the native
 * CPU engine, is measured on the machine (once, then cached: the CLI passes
 * it in, src/cli/cpu-rate.ts) and taken at this share. A measured rate is
 * the engine's training alone; a trial also starts node, loads its data set,
 * evaluates and writes its run folder, and shares the cores with the batch's
 * other trials. A quarter keeps the margin the old constant had (a quarter of
 * the effective 155 GFLOP/s per thread measured on dicty-small shapes,
 * docs/performance.md, "Study concurrency"), so a first batch errs on the
 * short side. Once a trial has finished, the fit on the study's own trials
 * replaces the prior.
 */
export const MEASURED_CPU_PRIOR_SHARE = 0.25;

/**
 * The native CPU engine's prior per engine thread when no measurement is to
 * hand (trials on a cluster's nodes, which this machine cannot measure; a
 * measurement that failed): the figure above on the development machine.
 */
export const CPU_ENGINE_FLOPS_PER_THREAD = 4e10;

/**
 * Torch on the CPU (eager PyTorch kernels): about a quarter of the native
 * engine's rate on the same cores (docs/performance.md, training table).
 * A constant, not a share of the measured native rate: PyTorch's kernels
 * (its BLAS, its threading) are not the native engine's, so the native
 * engine's speed on a machine says little about PyTorch's there.
 */
export const TORCH_CPU_FLOPS_PER_THREAD = 1e10;

/**
 * Torch on one CUDA GPU, per GPU: a guess of a quarter of an A100's fp32
 * peak (19.5 TFLOP/s), shared by the trials on it. Taken low on purpose, like
 * the CPU prior: a first batch that ends early costs less than one stopped by
 * the budget; the fit on the study's own trials replaces it at once.
 */
export const CUDA_FLOPS_PER_GPU = 5e12;

/**
 * The prior rate of one trial for the engine it runs on: the CPU figure never
 * stands for a GPU. `measuredCpu` is the native engine's measured training
 * FLOP/s at `threads` threads on the machine the trials run on; without it
 * (or for another engine) the constants above stand in.
 */
export function enginePriorFlopsPerSecond(
  threads: number, kind: 'cpu' | 'torch-cpu' | 'torch-mps' | 'torch-cuda' = 'cpu', trialsPerDevice = 1, measuredCpu?: number,
): number {
  if (kind === 'torch-cuda') return CUDA_FLOPS_PER_GPU / Math.max(1, trialsPerDevice);
  if (kind === 'torch-mps') return CUDA_FLOPS_PER_GPU / 5;
  if (kind === 'torch-cpu') return TORCH_CPU_FLOPS_PER_THREAD * Math.max(1, threads);
  if (measuredCpu !== undefined && Number.isFinite(measuredCpu) && measuredCpu > 0) return MEASURED_CPU_PRIOR_SHARE * measuredCpu;
  return CPU_ENGINE_FLOPS_PER_THREAD * Math.max(1, threads);
}
