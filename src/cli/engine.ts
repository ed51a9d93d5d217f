import { checkDevice, checkEngineName, checkEngineSettings, checkPrecision, checkPython, type EngineSettings } from '../config/engine.js';
import type { Engine } from '../inr/engine.js';
import { openEngine } from '../inr/engines/index.js';
import { UserError } from '../util/errors.js';
import { CommandExit } from './exit.js';

/** The engine flags of `inrscape train` and `inrscape study run`. */
export interface EngineFlags {
  engine?: string;
  device?: string;
  precision?: string;
  python?: string;
}

export const ENGINE_FLAG_HELP = {
  engine: 'cpu | torch | auto (default: the config\'s engine.name, else cpu)',
  device: 'torch engine device: auto | cpu | cuda | cuda:N | mps',
  precision: 'torch engine precision: fp32 | tf32 | bf16',
  python: 'the Python with torch for the torch engine (default: INRSCAPE_PYTHON, else python3)',
} as const;

/** The config's engine section with the flags given on top, checked as a whole. */
export function withEngineFlags(settings: EngineSettings, flags: EngineFlags): EngineSettings {
  const out: EngineSettings = { ...settings };
  if (flags.engine !== undefined) out.name = checkEngineName('--engine', flags.engine);
  if (flags.device !== undefined) out.device = checkDevice('--device', flags.device);
  if (flags.precision !== undefined) out.precision = checkPrecision('--precision', flags.precision);
  if (flags.python !== undefined) out.python = checkPython('--python', flags.python);
  const fromFlags = flags.device !== undefined || flags.precision !== undefined || flags.engine !== undefined;
  return checkEngineSettings(out, fromFlags ? '--' : 'engine.');
}

const FLAG_NAMES = { python: '--python', device: '--device' };

/** Start the engine; a user's mistake is exit 2, anything else about starting it exit 1. */
export async function loadEngine(settings: EngineSettings, threads: number | undefined, flags: EngineFlags = {}): Promise<Engine> {
  try {
    const { engine, note } = await openEngine({
      settings, threads,
      names: { python: flags.python !== undefined ? FLAG_NAMES.python : undefined, device: flags.device !== undefined ? FLAG_NAMES.device : undefined },
    });
    if (note) process.stderr.write(`inrscape: ${note}\n`);
    return engine;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new CommandExit(1, `cannot start the ${settings.name} engine: ${(err as Error).message}`);
  }
}
