import { invalid } from './messages.js';
import { readChoice, unknownKeyRule } from './suggest.js';
import { readSection, type YamlMapping } from './values.js';

/**
 * The `engine:` section: which engine trains, on what device, in what
 * precision, with which Python for the torch engine. Flags of the same names
 * (`--engine`, `--device`, `--precision`, `--python`) override it.
 *
 *   engine:
 *     name: cpu          # cpu | torch | auto (torch on CUDA when the python has it, else cpu)
 *     device: auto       # auto | cpu | cuda | cuda:N | mps (torch only)
 *     precision: fp32    # fp32 | tf32 | bf16 (torch only; fp32 is the reference's numerics)
 *     python: python3    # the interpreter of the torch worker (else INRSCAPE_PYTHON, else python3)
 */

export const ENGINE_NAMES = ['cpu', 'torch', 'auto'] as const;
export type EngineChoice = (typeof ENGINE_NAMES)[number];
export const PRECISIONS = ['fp32', 'tf32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const DEVICE_RULE = 'must be auto, cpu, cuda, cuda:N or mps';

export interface EngineSettings {
  name: EngineChoice;
  device: string;
  precision: Precision;
  /** Absent: INRSCAPE_PYTHON, else python3 from PATH. */
  python?: string;
}

const KEYS = ['name', 'device', 'precision', 'python'] as const;

export function defaultEngine(): EngineSettings {
  return { name: 'cpu', device: 'auto', precision: 'fp32' };
}

export function checkDevice(path: string, v: unknown): string {
  if (typeof v !== 'string' || !/^(auto|cpu|cuda|cuda:\d+|mps)$/.test(v)) throw invalid(path, v, DEVICE_RULE);
  return v;
}

export function checkEngineName(path: string, v: unknown): EngineChoice {
  return readChoice(v, path, ENGINE_NAMES);
}

export function checkPrecision(path: string, v: unknown): Precision {
  return readChoice(v, path, PRECISIONS);
}

export function checkPython(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalid(path, v, 'must be a path to a Python 3 interpreter, or a command on PATH');
  return v;
}

export function parseEngine(value: unknown): EngineSettings {
  const section = readSection(value, 'engine');
  const out = defaultEngine();
  for (const [key, v] of Object.entries(section)) {
    const path = `engine.${key}`;
    if (v === null || v === undefined) continue;
    if (key === 'name') out.name = checkEngineName(path, v);
    else if (key === 'device') out.device = checkDevice(path, v);
    else if (key === 'precision') out.precision = checkPrecision(path, v);
    else if (key === 'python') out.python = checkPython(path, v);
    else throw invalid(path, v, unknownKeyRule('engine', key, KEYS));
  }
  return checkEngineSettings(out, 'engine.');
}

/** What one setting allows depends on another: checked after the file and again after the flags (`prefix` `--`). */
export function checkEngineSettings(e: EngineSettings, prefix: string): EngineSettings {
  if (e.name === 'cpu' && e.device !== 'auto' && e.device !== 'cpu') {
    throw invalid(`${prefix}device`, e.device, 'the cpu engine runs on the CPU only; the torch engine runs on cuda and mps');
  }
  if (e.name === 'cpu' && e.precision !== 'fp32') {
    throw invalid(`${prefix}precision`, e.precision, 'the cpu engine computes in fp32 only; the torch engine has tf32 and bf16');
  }
  return e;
}

export function engineToYaml(e: EngineSettings): YamlMapping {
  const out: YamlMapping = { name: e.name, device: e.device, precision: e.precision };
  if (e.python !== undefined) out.python = e.python;
  return out;
}
