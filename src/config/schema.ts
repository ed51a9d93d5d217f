/**
 * The YAML config: the one place that knows its sections and fields. A
 * reference cell-gnn file loads unchanged: we own `dataset`, `inr` and `study`,
 * keep `simulation` and every other section verbatim so a written-back file
 * still works with the reference, and never reject what we do not own.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { UserError } from '../util/errors.js';
import { datasetToYaml, defaultDataset, parseDataset, type DatasetConfig } from './dataset.js';
import { defaultEngine, engineToYaml, parseEngine, type EngineSettings } from './engine.js';
import { lsfToYaml, slurmToYaml } from './executor.js';
import { defaultInr, parseInr, typicalRangeWarning, type InrConfig } from './inr.js';
import { fmt } from './messages.js';
import { inSearchRange, resolveSearchSpace } from './search-range.js';
import { SEARCH_PARAMS } from './search-space.js';
import { defaultStudy, parseStudy, type StudyConfig } from './study.js';
import { copyYamlValue, isMapping, setOwn, type YamlMapping, type YamlValue } from './values.js';

export interface Config {
  dataset: DatasetConfig;
  /** The reference's simulation settings: unused here, kept for the write-back. Absent when the file has none. */
  simulation?: YamlValue;
  inr: InrConfig;
  study: StudyConfig;
  /** Which engine trains and where: not part of the reference's file, which therefore always trains on the default (cpu). */
  engine: EngineSettings;
  /** Every other top-level section (description, graph_model, training, plotting, claude, ...), in file order. */
  other: YamlMapping;
}

export interface LoadedConfig {
  config: Config;
  /** Advice, not errors: values outside the protocol's typical ranges, and the like. */
  warnings: string[];
}

const OWN_SECTIONS = ['dataset', 'simulation', 'inr', 'study', 'engine'];

export function defaultConfig(): Config {
  return { dataset: defaultDataset(), inr: defaultInr(), study: defaultStudy(), engine: defaultEngine(), other: {} };
}

/** Read and check a config file. */
export function loadConfig(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`config file ${path} not found`);
    if (code === 'EISDIR') throw new UserError(`config file ${path} is a directory`);
    throw new UserError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

/**
 * Check a config given as YAML text (a string) or as already-parsed data. The
 * first problem throws a UserError; sections are checked in a fixed order
 * (dataset, inr, study, engine) whatever order the file uses.
 */
export function parseConfig(input: unknown, sourceName = 'config'): LoadedConfig {
  const warnings: string[] = [];
  const data = typeof input === 'string' ? parseYaml(input, sourceName, warnings) : input;
  const top = data === null || data === undefined ? {} : data;
  if (!isMapping(top)) throw new UserError(`${sourceName}: a config must be a mapping of sections (dataset, inr, study, ...)`);

  const dataset = parseDataset(top.dataset);
  const parsedInr = parseInr(top.inr);
  const studyWarnings: string[] = [];
  const study = parseStudy(top.study, studyWarnings);
  const engine = parseEngine(top.engine);
  const config: Config = { dataset, inr: parsedInr.inr, study, engine, other: {} };
  if (Object.hasOwn(top, 'simulation') && top.simulation !== undefined) {
    config.simulation = copyYamlValue(top.simulation, 'simulation');
  }
  for (const [key, v] of Object.entries(top)) {
    if (!OWN_SECTIONS.includes(key) && v !== undefined) setOwn(config.other, key, copyYamlValue(v, key));
  }
  warnings.push(...parsedInr.warnings, ...studyWarnings, ...searchRangeWarnings(config));
  return { config, warnings };
}

/** A starting `inr:` outside the study's own space still trains; the agents will not go back there. */
function searchRangeWarnings(config: Config): string[] {
  const space = resolveSearchSpace(config);
  const out: string[] = [];
  for (const p of SEARCH_PARAMS) {
    const value = config.inr[p.key];
    const range = space[p.key];
    if (typicalRangeWarning(p, value) !== undefined || inSearchRange(range, value)) continue;
    out.push(
      range.choices
        ? `${p.yamlPath} = ${fmt(value)} is not one of the study's search choices {${range.choices.join(', ')}}`
        : `${p.yamlPath} = ${fmt(value)} is outside the study's search range [${fmt(range.min)}, ${fmt(range.max)}]`,
    );
  }
  return out;
}

function parseYaml(text: string, sourceName: string, warnings: string[]): unknown {
  const doc = YAML.parseDocument(text);
  const where = (e: YAML.YAMLError): string => {
    const pos = e.linePos?.[0];
    return pos ? `${sourceName}:${pos.line}:${pos.col}` : sourceName;
  };
  // yaml appends " at line L, column C:" and a code frame; we give the position our way.
  const reason = (e: YAML.YAMLError): string => e.message.split(/ at line \d+, column \d+/)[0];
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new UserError(`${where(e)}: YAML syntax error: ${reason(e)}`);
  }
  for (const w of doc.warnings) warnings.push(`${where(w)}: ${reason(w)}`);
  try {
    return doc.toJS();
  } catch (err) {
    throw new UserError(`${sourceName}: YAML error: ${(err as Error).message}`);
  }
}

/**
 * The whole config as YAML, every default written out, foreign sections
 * included, so `parseConfig(configToYaml(c)).config` deep-equals `c`.
 */
export function configToYaml(config: Config): string {
  const doc: YamlMapping = {};
  // A reference file opens with what it is about; keep that first.
  if (Object.hasOwn(config.other, 'description')) setOwn(doc, 'description', config.other.description);
  doc.dataset = datasetToYaml(config.dataset);
  if (config.simulation !== undefined) doc.simulation = config.simulation;
  doc.inr = { ...config.inr };
  doc.study = studyToYaml(config.study);
  doc.engine = engineToYaml(config.engine);
  for (const [key, v] of Object.entries(config.other)) if (key !== 'description') setOwn(doc, key, v);
  return YAML.stringify(doc, { lineWidth: 0 });
}

function studyToYaml(study: StudyConfig): YamlMapping {
  const space: YamlMapping = {};
  for (const [key, ov] of Object.entries(study.search_space)) {
    const entry: YamlMapping = {};
    for (const [k, v] of Object.entries(ov ?? {})) if (v !== undefined) setOwn(entry, k, v);
    setOwn(space, key, entry);
  }
  const out: YamlMapping = {
    iterations: study.iterations, slots: study.slots, block: study.block, ucb_c: study.ucb_c,
    max_trial_minutes: study.max_trial_minutes, agent: study.agent, seed: study.seed, search_space: space,
    gpus: study.gpus === 'auto' ? 'auto' : [...study.gpus], trials_per_gpu: study.trials_per_gpu, executor: study.executor,
    pruner: study.pruner, pruning: { ...study.pruning }, tpe: { ...study.tpe }, figures: study.figures,
  };
  if (study.slurm !== undefined) out.slurm = slurmToYaml(study.slurm);
  if (study.lsf !== undefined) out.lsf = lsfToYaml(study.lsf);
  if (study.command !== undefined) out.command = [...study.command];
  if (study.llm !== undefined) {
    const llm: YamlMapping = {};
    for (const [k, v] of Object.entries(study.llm)) if (v !== undefined) setOwn(llm, k, v);
    out.llm = llm;
  }
  return out;
}

export type { DatasetConfig } from './dataset.js';
export type { EngineSettings, Precision } from './engine.js';
export { DEFAULT_PRESET, parseDataset } from './dataset.js';
export type { InrConfig } from './inr.js';
export { INR_KEYS, checkBatchAgainstFrames, defaultInr, parseInr } from './inr.js';
export type { RangeOverride, SearchRange, SearchSpace, SearchSpaceOverrides } from './search-range.js';
export { checkProposal, inSearchRange, resolveSearchSpace } from './search-range.js';
export type { AgentName, StudyConfig } from './study.js';
export { AGENTS, defaultStudy } from './study.js';
export type { YamlMapping, YamlValue } from './values.js';
