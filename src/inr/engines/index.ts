import { CpuEngine, type CpuEngineOptions } from './cpu.js';

export { CpuEngine, type CpuEngineOptions, type IsaName } from './cpu.js';

/** Every engine by name, with its options and its class; later engines add a line. */
export interface EngineRegistry {
  cpu: { options: CpuEngineOptions; engine: CpuEngine };
}

export type EngineName = keyof EngineRegistry;

export const ENGINE_NAMES: readonly EngineName[] = ['cpu'];

/** An engine by name. The trainer sees it only as an `Engine`. */
export function createEngine<N extends EngineName>(name: N, opts: EngineRegistry[N]['options'] = {}): EngineRegistry[N]['engine'] {
  switch (name) {
    case 'cpu':
      return new CpuEngine(opts);
    default:
      throw new RangeError(`unknown engine '${String(name)}' (known: ${ENGINE_NAMES.join(', ')})`);
  }
}
