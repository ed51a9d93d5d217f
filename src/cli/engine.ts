import type { Engine } from '../inr/engine.js';
import { createEngine } from '../inr/engines/index.js';
import { CommandExit } from './exit.js';

/** The engine `inrscape train` computes with: the native CPU engine. A failure to start it is exit 1. */
export function loadEngine(threads: number | undefined): Engine {
  try {
    return createEngine('cpu', threads === undefined ? {} : { threads });
  } catch (err) {
    throw new CommandExit(1, `cannot start the cpu engine: ${(err as Error).message}`);
  }
}
