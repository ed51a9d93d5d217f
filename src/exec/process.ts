/** Processes by pid: whether one still runs, waiting for one we did not start. */
import { readFileSync } from 'node:fs';
import { pidAlive } from '../util/pid.js';

/** A study's trial children get the study's pid in this variable, and stop once it is gone. */
export const PARENT_PID_ENV = 'INRSCAPE_PARENT_PID';

export { pidAlive } from '../util/pid.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `pid` has exited (polling); `timeoutMs` bounds the wait (then false). */
export async function waitForExit(pid: number, timeoutMs = Infinity, pollMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() >= end) return false;
    await sleep(pollMs);
  }
  return true;
}

/** The parent pid as the kernel sees it now (process.ppid is fixed at start-up); undefined off Linux. */
export function currentPpid(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that started us (pid `parent`) is gone: we were
 * re-parented (Linux), or it no longer answers signal 0.
 */
export function parentGone(parent: number): boolean {
  const ppid = currentPpid();
  if (ppid !== undefined) return ppid !== parent;
  return !pidAlive(parent);
}

/** SIGKILL to `pid`, if it still runs. */
export function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
