/**
 * The first event of a study, from a checked config and the command line's
 * overrides. The base config recorded in the journal has the overrides (and
 * the resolved budget) written into its `study:` section, so the config
 * snapshots say what actually ran.
 */
import { basename } from 'node:path';
import YAML from 'yaml';
import { configToYaml, resolveSearchSpace, type Config } from '../config/schema.js';
import { defaultLlm, type LlmSettings } from '../config/llm.js';
import type { AgentName } from '../config/study.js';
import type { YamlMapping } from '../config/values.js';
import { cpuPresetSpace, presetWorkload, resolveTrialMinutes } from './budget.js';
import type { Workload } from './cost-model.js';
import { JOURNAL_VERSION, type StudyCreatedEvent, type StudyLlmSettings, type Versions } from './journal.js';

export interface CreateOptions {
  agent?: AgentName;
  iterations?: number;
  slots?: number;
  block?: number;
  seed?: number;
  ucbC?: number;
  /**
   * The budget as the config file gave it: a number, or `'auto'` when the file
   * did not set `study.max_trial_minutes` (then the CPU-preset rule applies,
   * see budget.ts). Left out: the config's value counts as set.
   */
  maxTrialMinutes?: number | 'auto';
  /** Cells and frames of the data set (the loop knows them once it has loaded it); presets are known here. */
  workload?: Workload | null;
  versions?: Partial<Versions>;
  name?: string;
  /**
   * On a CPU preset, search the preset's step range when the config does not
   * set one (`cpuPresetSpace`, budget.ts). The loop sets it; left out, the
   * config's space is used as it is.
   */
  cpuPresetSpace?: boolean;
  /** The LLM agent's settings (command-line flags over the config's `study.llm:`), with the instructions' text. */
  llm?: StudyLlmSettings;
}

export function datasetName(config: Config): string {
  const ds = config.dataset;
  if (ds.kind === 'preset') return ds.preset;
  if (ds.kind === 'name') return ds.name;
  return basename(ds.path.replace(/[\\/]+$/, '')) || ds.path;
}

/** The settings without the instructions' text (which the journal keeps in `settings.llm` only). */
function settingsOnly(llm: StudyLlmSettings): LlmSettings {
  const { instructions_text: _text, ...rest } = llm;
  return rest;
}

export function studyCreatedEvent(config: Config, opts: CreateOptions = {}): StudyCreatedEvent {
  const budget = resolveTrialMinutes(opts.maxTrialMinutes ?? config.study.max_trial_minutes, config.dataset);
  const space = opts.cpuPresetSpace ? cpuPresetSpace(config.dataset, config.study.search_space) : { overrides: config.study.search_space };
  const study = {
    ...config.study,
    search_space: space.overrides,
    agent: opts.agent ?? config.study.agent,
    iterations: opts.iterations ?? config.study.iterations,
    slots: opts.slots ?? config.study.slots,
    block: opts.block ?? config.study.block,
    seed: opts.seed ?? config.study.seed,
    ucb_c: opts.ucbC ?? config.study.ucb_c,
    max_trial_minutes: budget.minutes,
    ...(opts.llm ? { llm: settingsOnly(opts.llm) } : {}),
  };
  const base: Config = { ...config, study };
  return {
    type: 'study_created',
    name: opts.name ?? datasetName(config),
    config: YAML.parse(configToYaml(base)) as YamlMapping,
    settings: {
      iterations: study.iterations, slots: study.slots, block: study.block, ucb_c: study.ucb_c,
      max_trial_minutes: study.max_trial_minutes, agent: study.agent, seed: study.seed,
      ...(study.agent === 'llm' ? { llm: opts.llm ?? config.study.llm ?? defaultLlm() } : {}),
      // The hybrid agent's chooser is an LLM only when the study names one.
      ...(study.agent === 'hybrid' && (opts.llm ?? config.study.llm) !== undefined ? { llm: opts.llm ?? config.study.llm! } : {}),
    },
    space: resolveSearchSpace(base),
    versions: { inrscape: opts.versions?.inrscape ?? 'unknown', node: opts.versions?.node ?? process.version, journal: JOURNAL_VERSION },
    workload: opts.workload !== undefined ? opts.workload : presetWorkload(config.dataset),
    budget_note: budget.note,
    ...(space.note !== undefined ? { space_note: space.note } : {}),
  };
}
