import type { EngineSettings } from '../../config/engine.js';
import type { Engine } from '../engine.js';
import { CpuEngine } from './cpu.js';
import { TorchEngine, type TorchEngineOptions } from './torch.js';

export { CpuEngine, type CpuEngineOptions, type IsaName } from './cpu.js';
export { TorchEngine, defaultPython, type TorchEngineOptions } from './torch.js';

export interface EngineRequest {
  settings: EngineSettings;
  threads?: number;
  /** Names of the settings in messages: flags on a command line. */
  names?: TorchEngineOptions['names'];
  onStderr?: (line: string) => void;
}

export interface OpenedEngine {
  engine: Engine;
  /** Why `auto` chose what it chose (absent for a named engine). */
  note?: string;
}

/**
 * The engine a run computes with. `auto` takes torch when the named Python
 * has torch and sees a CUDA device, and the cpu engine otherwise (including
 * when that Python cannot be started at all).
 */
export async function openEngine(req: EngineRequest): Promise<OpenedEngine> {
  const { settings, threads } = req;
  const torchOptions: TorchEngineOptions = {
    python: settings.python, device: settings.device, precision: settings.precision, threads, names: req.names, onStderr: req.onStderr,
  };
  if (settings.name === 'cpu') return { engine: new CpuEngine(threads === undefined ? {} : { threads }) };
  if (settings.name === 'torch') return { engine: await TorchEngine.start(torchOptions) };
  let why: string;
  try {
    const torch = await TorchEngine.start({ ...torchOptions, device: settings.device === 'auto' ? 'cuda' : settings.device });
    if (String(torch.record.device).startsWith('cuda')) return { engine: torch, note: `engine auto: torch on ${String(torch.record.device_name)}` };
    await torch.close();
    why = 'no CUDA device';
  } catch (err) {
    why = (err as Error).message;
  }
  return { engine: new CpuEngine(threads === undefined ? {} : { threads }), note: `engine auto: cpu (${why})` };
}
