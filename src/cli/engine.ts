import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Engine } from '../inr/engine.js';
import { CommandExit } from './exit.js';

/** What an engine module exports (src/inr/engines/index.ts, or a module named by INRSCAPE_ENGINE_MODULE). */
export interface EngineModule {
  createEngine(name: 'cpu', opts: { threads?: number }): Engine;
}

/**
 * The engine `inrscape train` computes with: the native CPU engine from
 * src/inr/engines/index.js. INRSCAPE_ENGINE_MODULE may name another module
 * (a file path) exporting the same `createEngine`: tests use it to run the
 * CLI on the float64 reference engine, and it is the plug for an engine kept
 * outside this package.
 *
 * The module is imported by a computed specifier, so this file builds before
 * the engines folder exists; a missing engine is an exit 1 with a clear message.
 */
export async function loadEngine(threads: number | undefined): Promise<Engine> {
  const override = process.env.INRSCAPE_ENGINE_MODULE;
  const specifier = override ? pathToFileURL(resolve(override)).href : new URL('../inr/engines/index.js', import.meta.url).href;
  let mod: Partial<EngineModule>;
  try {
    mod = (await import(specifier)) as Partial<EngineModule>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && !override) {
      throw new CommandExit(1, 'the cpu engine is not part of this build (src/inr/engines/index.js is missing): rebuild inrscape');
    }
    throw new CommandExit(1, `cannot load the engine module ${override ?? specifier}: ${(err as Error).message}`);
  }
  if (typeof mod.createEngine !== 'function') throw new CommandExit(1, `${override ?? specifier} does not export createEngine`);
  try {
    return mod.createEngine('cpu', threads === undefined ? {} : { threads });
  } catch (err) {
    throw new CommandExit(1, `cannot start the cpu engine: ${(err as Error).message}`);
  }
}
