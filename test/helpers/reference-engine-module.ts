import { F32ReferenceEngine } from './train.js';

/**
 * An engine module for the CLI (INRSCAPE_ENGINE_MODULE=dist/test/helpers/reference-engine-module.js):
 * `inrscape train` then runs on the float32-state reference engine.
 * INRSCAPE_TEST_STEP_DELAY_MS slows each step down, so a test can kill a run mid-way.
 */
export function createEngine(name: 'cpu', _opts: { threads?: number }): F32ReferenceEngine {
  if (name !== 'cpu') throw new Error(`unknown engine ${name}`);
  return new F32ReferenceEngine(Number(process.env.INRSCAPE_TEST_STEP_DELAY_MS ?? 0));
}
