import { parseCommand } from './command.js';
import { parseExecutor, parseLsf, parseSlurm, type ExecutorName, type LsfSettings, type SlurmSettings } from './executor.js';
import { parseLlm, type LlmSettings } from './llm.js';
import { invalid } from './messages.js';
import { parseSearchSpace, type SearchSpaceOverrides } from './search-range.js';
import { readChoice, unknownKeyRule } from './suggest.js';
import { COUNT, NON_NEGATIVE, POSITIVE, SEED, readNumber, readSection, type NumberRule } from './values.js';

export const AGENTS = ['rules', 'tpe', 'random', 'llm', 'hybrid'] as const;
export type AgentName = (typeof AGENTS)[number];

export interface StudyConfig {
  /** Trials in the whole study. */
  iterations: number;
  /** Trials trained side by side in one batch. */
  slots: number;
  /** Iterations per block (the reference's `n_iter_block`). */
  block: number;
  /** Exploration constant of the PUCT score. */
  ucb_c: number;
  /**
   * A trial running longer is stopped and classed poor, as the protocol's time
   * limit says. `auto` (the default): the protocol's 60 minutes, or a shorter
   * budget for the CPU presets (src/study/budget.ts, resolved when a study is created).
   */
  max_trial_minutes: number | 'auto';
  agent: AgentName;
  seed: number;
  search_space: SearchSpaceOverrides;
  /** Settings of the LLM agent (provider, model, base_url, instructions, ...): see llm.ts. */
  llm?: LlmSettings;
  /** GPUs the trials of a torch-on-CUDA study spread over (CUDA indices), or `auto`: every GPU torch sees. */
  gpus: 'auto' | number[];
  /** Trials that share one GPU at a time. */
  trials_per_gpu: number;
  /** Where trials run: child processes here (`local`, `command`) or jobs of a Slurm or LSF cluster. */
  executor: ExecutorName;
  /** The Slurm job settings (executor slurm). */
  slurm?: SlurmSettings;
  /** The LSF job settings (executor lsf). */
  lsf?: LsfSettings;
  /** The user's trainer, a command-line template (command.ts); absent: trials run `inrscape train`. */
  command?: string[];
  /** What stops a hopeless trial at an intermediate evaluation: none, or Optuna's median rule. */
  pruner: PrunerName;
  /** The median pruner's settings. */
  pruning: PruningSettings;
  /** The TPE agent's settings: its uniform startup trials before TPE models the history. */
  tpe: { startup: number };
  /** Draw each finished trial's figures into its run folder (in the background), and write the report when the study ends. */
  figures: boolean;
}

/** Optuna's TPESampler default: 10 startup trials. */
export const DEFAULT_TPE_STARTUP = 10;

export const PRUNERS = ['none', 'median', 'asha'] as const;
export type PrunerName = (typeof PRUNERS)[number];

export interface PruningSettings {
  /** Trials of the block with an evaluation at the same fraction of their steps before any is pruned (Optuna's n_startup_trials). */
  startup_trials: number;
  /** Fraction of its steps a trial trains before it can be pruned (Optuna's n_warmup_steps, as a fraction). */
  warmup_fraction: number;
  /** asha: the share 1/reduction_factor of a rung's trials that go on to the next rung (Optuna's reduction_factor). */
  reduction_factor: number;
  /** asha: the fraction of its steps at the first rung; the others are at min_rung * reduction_factor^k (Optuna's min_resource, as a fraction). */
  min_rung: number;
}

/**
 * Defaults: one batch of the reference loop (4 trials) must have reached an
 * evaluation before a trial is compared at it, and no trial is pruned before
 * a fifth of its steps, when SIREN fits still jump. ASHA's rungs at 10%, 30%
 * and 90% of the steps (Optuna's reduction factor 3 from the first evaluation).
 */
export const DEFAULT_PRUNING: PruningSettings = { startup_trials: 4, warmup_fraction: 0.2, reduction_factor: 3, min_rung: 0.1 };

/**
 * Small SIREN trials leave most of an H100/H200 idle; a few side by side fill
 * it. Two is a cautious default until bench/gpu's concurrency figures (1, 2
 * and 4 trials on one GPU) are in docs/gpu.md.
 */
export const DEFAULT_TRIALS_PER_GPU = 2;

/** The reference's loop: 4 slots, blocks of 24; 48 iterations is two blocks. */
export function defaultStudy(): StudyConfig {
  return {
    iterations: 48, slots: 4, block: 24, ucb_c: 1.414, max_trial_minutes: 'auto',
    agent: 'rules', seed: 0, search_space: {}, gpus: 'auto', trials_per_gpu: DEFAULT_TRIALS_PER_GPU, executor: 'local',
    pruner: 'none', pruning: { ...DEFAULT_PRUNING }, tpe: { startup: DEFAULT_TPE_STARTUP }, figures: true,
  };
}

type NumericStudyKey = 'iterations' | 'slots' | 'block' | 'ucb_c' | 'max_trial_minutes' | 'seed';

const NUMBER_RULES: Record<NumericStudyKey, NumberRule> = {
  iterations: COUNT, slots: COUNT, block: COUNT, ucb_c: NON_NEGATIVE, max_trial_minutes: POSITIVE, seed: SEED,
};

/** `n_iter_block` is the reference's name for `block`: accepted on input, written back as `block`. */
const ALIASES: Record<string, NumericStudyKey> = { n_iter_block: 'block' };

const STUDY_KEYS: readonly string[] = [...Object.keys(NUMBER_RULES), 'agent', 'search_space', 'llm', 'gpus', 'trials_per_gpu', 'executor', 'slurm', 'lsf', 'command', 'pruner', 'pruning', 'tpe', 'figures', ...Object.keys(ALIASES)];

function isNumericKey(key: string): key is NumericStudyKey {
  return Object.hasOwn(NUMBER_RULES, key);
}

export function parseStudy(value: unknown, warnings: string[]): StudyConfig {
  const section = readSection(value, 'study');
  const study = defaultStudy();
  const seen = new Map<NumericStudyKey, string>();
  for (const [key, v] of Object.entries(section)) {
    const path = `study.${key}`;
    const target = isNumericKey(key) ? key : Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined;
    if (key === 'max_trial_minutes') {
      if (v === 'auto') study.max_trial_minutes = 'auto';
      else if (typeof v === 'number' && Number.isFinite(v) && v > 0) study.max_trial_minutes = v;
      else throw invalid(path, v, 'must be a number > 0, or auto');
    } else if (target !== undefined) {
      const n = readNumber(v, path, NUMBER_RULES[target]);
      const other = seen.get(target);
      if (other !== undefined && study[target] !== n) {
        throw invalid(path, n, `conflicts with study.${other} = ${study[target]} (the same setting under another name)`);
      }
      seen.set(target, key);
      study[target] = n;
    } else if (key === 'agent') {
      study.agent = readChoice(v, path, AGENTS);
    } else if (key === 'search_space') {
      study.search_space = parseSearchSpace(v, warnings);
    } else if (key === 'llm') {
      if (v === null || v === undefined) continue;
      study.llm = parseLlm(v, path);
    } else if (key === 'gpus') {
      study.gpus = parseGpus(v, path);
    } else if (key === 'executor') {
      study.executor = parseExecutor(v, path);
    } else if (key === 'slurm') {
      if (v !== null && v !== undefined) study.slurm = parseSlurm(v, path);
    } else if (key === 'lsf') {
      if (v !== null && v !== undefined) study.lsf = parseLsf(v, path);
    } else if (key === 'pruner') {
      study.pruner = readChoice(v, path, PRUNERS);
    } else if (key === 'pruning') {
      study.pruning = parsePruning(v, path);
    } else if (key === 'tpe') {
      for (const [k, x] of Object.entries(readSection(v, path))) {
        if (k !== 'startup') throw invalid(`${path}.${k}`, x, unknownKeyRule(path, k, ['startup']));
        study.tpe = { startup: readNumber(x, `${path}.startup`, { ...COUNT, min: 0, max: 100000 }) };
      }
    } else if (key === 'figures') {
      if (typeof v !== 'boolean') throw invalid(path, v, 'must be true or false');
      study.figures = v;
    } else if (key === 'command') {
      if (v !== null && v !== undefined) study.command = parseCommand(v, path);
    } else if (key === 'trials_per_gpu') {
      study.trials_per_gpu = readNumber(v, path, { ...COUNT, max: 64 });
    } else {
      throw invalid(path, v, unknownKeyRule('study', key, STUDY_KEYS));
    }
  }
  checkExecutor(study, 'study.executor');
  return study;
}

/** A number in [min, 1). */
function readFraction(x: unknown, path: string, min: number, what: string): number {
  if (typeof x !== 'number' || !(x >= min && x < 1)) throw invalid(path, x, `must be a number >= ${min} and < 1 (${what})`);
  return x;
}

function parsePruning(v: unknown, path: string): PruningSettings {
  const section = readSection(v, path);
  const out = { ...DEFAULT_PRUNING };
  for (const [key, x] of Object.entries(section)) {
    if (key === 'startup_trials') out.startup_trials = readNumber(x, `${path}.${key}`, { ...COUNT, max: 1000 });
    else if (key === 'warmup_fraction') out.warmup_fraction = readFraction(x, `${path}.${key}`, 0, 'the fraction of its steps a trial trains before it can be pruned');
    else if (key === 'reduction_factor') out.reduction_factor = readNumber(x, `${path}.${key}`, { ...COUNT, min: 2, max: 10 });
    else if (key === 'min_rung') out.min_rung = readFraction(x, `${path}.${key}`, 0.1, "the fraction of its steps at ASHA's first rung; the trainer evaluates every tenth");
    else throw invalid(`${path}.${key}`, x, unknownKeyRule(path, key, Object.keys(DEFAULT_PRUNING)));
  }
  return out;
}

/** An executor that the rest of the study's settings can serve (`path`: where the executor was named). */
export function checkExecutor(study: StudyConfig, path: string): void {
  if (study.executor === 'command' && study.command === undefined) {
    throw invalid(path, 'command', "runs the user's trainer: set study.command to its command line, e.g. [python3, train.py, --config, \"{config}\", --out, \"{run_dir}\"]");
  }
}

function parseGpus(v: unknown, path: string): 'auto' | number[] {
  const rule = 'must be auto or a list of distinct CUDA device indices, e.g. [0, 1]';
  if (v === 'auto') return 'auto';
  if (!Array.isArray(v) || v.length === 0) throw invalid(path, v, rule);
  const out = v.map((g, i) => readNumber(g, `${path}[${i}]`, SEED));
  if (new Set(out).size !== out.length) throw invalid(path, v, rule);
  return out;
}
