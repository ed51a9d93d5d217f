import { invalid } from './messages.js';
import { readChoice, unknownKeyRule } from './suggest.js';
import { COUNT, readNumber, readSection, type YamlMapping } from './values.js';

/**
 * Where a study's trials run: `study.executor` (flag `--executor`), the job
 * settings of a Slurm cluster (`study.slurm`) or an LSF one (`study.lsf`),
 * and what they run: `inrscape train`, or the user's own trainer
 * (`study.command`, command.ts).
 *
 *   study:
 *     executor: slurm            # local (default) | slurm | lsf | command (local, running study.command)
 *     slurm:
 *       partition: gpu
 *       account: my-lab
 *       gres: "gpu:1"
 *       cpus: 4                  # --cpus-per-task
 *       mem: 16G
 *       time: "1:10:00"          # default: the trial budget plus 10 minutes
 *       extra: ["--qos=normal"]  # more #SBATCH lines
 *       setup: "module load cuda/12.4"   # run before the trial, in the job
 *     lsf:
 *       queue: gpu
 *       project: my-lab          # -P
 *       gpu: "num=1"             # -gpu
 *       cpus: 4                  # -n
 *       resource: "rusage[mem=16000] span[hosts=1]"   # -R
 *       mem: 16000               # -M
 *       time: "1:10"             # -W; default: the trial budget plus 10 minutes
 *       extra: ["-app gpu_app"]  # more #BSUB lines
 *       setup: "module load cuda/12.4"
 */

export const EXECUTORS = ['local', 'slurm', 'lsf', 'command'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export interface SlurmSettings {
  partition?: string;
  account?: string;
  gres?: string;
  cpus?: number;
  mem?: string;
  /** Slurm's time format; absent: the trial budget plus a margin. */
  time?: string;
  extra: string[];
  setup?: string;
}

/** Slurm's --time: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED. */
const SLURM_TIME = /^(UNLIMITED|INFINITE|\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/;
const SLURM_TIME_RULE = 'must be a Slurm time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes or days-hours:minutes:seconds';

const SLURM_KEYS = ['partition', 'account', 'gres', 'cpus', 'mem', 'time', 'extra', 'setup'] as const;

export interface LsfSettings {
  queue?: string;
  project?: string;
  /** bsub -gpu's value, e.g. num=1:mode=exclusive_process. */
  gpu?: string;
  cpus?: number;
  /** bsub -R's value. */
  resource?: string;
  /** bsub -M, in the cluster's LSF_UNIT_FOR_LIMITS (KB unless set), or with a unit (16GB). */
  mem?: string;
  /** bsub -W: [hours:]minutes; absent: the trial budget plus a margin. */
  time?: string;
  extra: string[];
  setup?: string;
}

const LSF_KEYS = ['queue', 'project', 'gpu', 'cpus', 'resource', 'mem', 'time', 'extra', 'setup'] as const;

function text(path: string, v: unknown, rule: string, pattern: RegExp): string {
  if (typeof v !== 'string' || !pattern.test(v)) throw invalid(path, v, rule);
  return v;
}

export function parseExecutor(v: unknown, path: string): ExecutorName {
  return readChoice(v, path, EXECUTORS);
}

export function parseSlurm(value: unknown, path: string): SlurmSettings {
  const section = readSection(value, path);
  const out: SlurmSettings = { extra: [] };
  // One line each in the job script: no newlines, nothing a shell would read twice.
  const word = /^[A-Za-z0-9_.:,=+@%/-]+$/;
  for (const [key, v] of Object.entries(section)) {
    const p = `${path}.${key}`;
    if (v === null || v === undefined) continue;
    if (key === 'partition' || key === 'account') out[key] = text(p, v, 'must be a Slurm name (letters, digits, _ . - and ,)', /^[A-Za-z0-9_.,-]+$/);
    else if (key === 'gres') out.gres = text(p, v, 'must be a Slurm gres list, e.g. gpu:1 or gpu:a100:2', word);
    else if (key === 'mem') out.mem = text(p, v, 'must be a Slurm memory size, e.g. 16G or 16000M', /^\d+[KMGT]?$/);
    else if (key === 'cpus') out.cpus = readNumber(v, p, { ...COUNT, max: 1024 });
    else if (key === 'time') out.time = text(p, String(v), SLURM_TIME_RULE, SLURM_TIME);
    else if (key === 'extra') {
      if (!Array.isArray(v)) throw invalid(p, v, 'must be a list of sbatch options, e.g. ["--qos=normal"]');
      out.extra = v.map((x, i) => text(`${p}[${i}]`, x, 'must be one sbatch option starting with --, e.g. --qos=normal', /^--[A-Za-z][A-Za-z0-9-]*(=[A-Za-z0-9_.:,=+@%/-]+)?$/));
    } else if (key === 'setup') out.setup = setupLine(p, v);
    else throw invalid(p, v, unknownKeyRule(path, key, SLURM_KEYS));
  }
  return out;
}

function setupLine(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.includes('\n') || v.trim() === '') throw invalid(path, v, 'must be one shell line (e.g. module load cuda/12.4, or conda activate torch)');
  return v;
}

export function parseLsf(value: unknown, path: string): LsfSettings {
  const section = readSection(value, path);
  const out: LsfSettings = { extra: [] };
  // A bsub value inside double quotes on a #BSUB line: no quotes, no newline.
  const quoted = /^[^"\n\\$`]+$/;
  for (const [key, v] of Object.entries(section)) {
    const p = `${path}.${key}`;
    if (v === null || v === undefined) continue;
    if (key === 'queue' || key === 'project') out[key] = text(p, v, 'must be an LSF name (letters, digits, _ . -)', /^[A-Za-z0-9_.-]+$/);
    else if (key === 'gpu') out.gpu = text(p, v, 'must be a bsub -gpu value, e.g. num=1 or num=1:mode=exclusive_process', /^[A-Za-z0-9_.:=,-]+$/);
    else if (key === 'resource') out.resource = text(p, v, 'must be a bsub -R value without double quotes, e.g. rusage[mem=16000] span[hosts=1]', quoted);
    else if (key === 'mem') out.mem = text(p, String(v), 'must be an LSF memory limit, e.g. 16000 or 16GB', /^\d+([KMGT]B?)?$/);
    else if (key === 'cpus') out.cpus = readNumber(v, p, { ...COUNT, max: 1024 });
    else if (key === 'time') out.time = text(p, String(v), 'must be an LSF run limit: minutes or hours:minutes, e.g. 70 or 1:10', /^(\d+:)?\d+$/);
    else if (key === 'extra') {
      if (!Array.isArray(v)) throw invalid(p, v, 'must be a list of bsub options, e.g. ["-app gpu_app"]');
      out.extra = v.map((x, i) => text(`${p}[${i}]`, x, 'must be one bsub option starting with -, e.g. -app gpu_app', /^-[A-Za-z][A-Za-z0-9_]*( [^"\n\\$`]+)?$/));
    } else if (key === 'setup') out.setup = setupLine(p, v);
    else throw invalid(p, v, unknownKeyRule(path, key, LSF_KEYS));
  }
  return out;
}

function settingsToYaml<K extends string>(s: Partial<Record<K, string | number | string[]>>, keys: readonly K[]): YamlMapping {
  const out: YamlMapping = {};
  for (const k of keys) {
    const v = s[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

export const slurmToYaml = (s: SlurmSettings): YamlMapping => settingsToYaml(s, SLURM_KEYS);
export const lsfToYaml = (s: LsfSettings): YamlMapping => settingsToYaml(s, LSF_KEYS);
