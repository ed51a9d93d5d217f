/**
 * `<study>/lock`: one process at a time runs a study (the journal has one
 * writer). The file holds JSON: pid, host, the process's start time (as the
 * kernel counts it), when it took the lock and the command. The holder touches
 * the file every LOCK_TOUCH_S seconds.
 *
 * A lock is stale, and taken over, when on this host its pid is dead or now
 * belongs to another process (another start time: the pid was reused), or,
 * from another host sharing the folder, when it has not been touched for
 * LOCK_STALE_S seconds (that host or its process is gone). That is how
 * `study resume` continues after a kill -9 or a lost node, without hanging.
 * A live holder is a UserError naming it.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../exec/process.js';
import { processStartTime } from '../util/pid.js';
import { UserError } from '../util/errors.js';

export const STUDY_LOCK_FILE = 'lock';

export interface StudyLockInfo {
  pid: number;
  host: string;
  /** The holder's start time (processStartTime), when known. */
  proc_start?: string;
  started_at: string;
  command: string;
}

/** How often the holder touches its lock. */
export const LOCK_TOUCH_S = 20;
/** A lock from another host untouched this long is stale: several missed touches, far beyond a shared filesystem's lag. */
export const LOCK_STALE_S = 120;

export interface StudyLock {
  readonly path: string;
  readonly info: StudyLockInfo;
  release(): void;
}

export function lockPath(dir: string): string {
  return join(dir, STUDY_LOCK_FILE);
}

/** The lock's content, or undefined when there is none (or it cannot be read: a lock torn by a crash is stale). */
export function readStudyLock(dir: string): StudyLockInfo | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath(dir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<StudyLockInfo>;
    if (typeof v.pid !== 'number') return { pid: 0, host: '', started_at: '', command: '' };
    return {
      pid: v.pid, host: String(v.host ?? ''), started_at: String(v.started_at ?? ''), command: String(v.command ?? ''),
      ...(typeof v.proc_start === 'string' ? { proc_start: v.proc_start } : {}),
    };
  } catch {
    return { pid: 0, host: '', started_at: '', command: '' };
  }
}

/** Seconds since the lock file was last touched (Infinity when it is gone). */
function lockAgeS(dir: string): number {
  try {
    return (Date.now() - statSync(lockPath(dir)).mtimeMs) / 1000;
  } catch {
    return Infinity;
  }
}

/** The live process holding the study, if any. */
export function lockHolder(dir: string): StudyLockInfo | undefined {
  const info = readStudyLock(dir);
  if (info === undefined) return undefined;
  if (info.host !== '' && info.host !== hostname()) return lockAgeS(dir) < LOCK_STALE_S ? info : undefined;
  if (info.pid === process.pid) return info;
  if (!pidAlive(info.pid)) return undefined;
  const now = processStartTime(info.pid);
  return info.proc_start === undefined || now === undefined || now === info.proc_start ? info : undefined;
}

function busy(dir: string, info: StudyLockInfo): UserError {
  const other = info.host !== hostname();
  const where = other ? ` on host ${info.host}` : '';
  const hint = other ? `; its lock was touched ${Math.round(lockAgeS(dir))} s ago and is taken over once untouched for ${LOCK_STALE_S} s` : '';
  return new UserError(`study ${dir} is being run by pid ${info.pid}${where} (since ${info.started_at})${hint}`);
}

function writeNew(path: string, info: StudyLockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Take the study's lock, or throw a UserError naming the process that holds it.
 * A stale lock is first moved aside under a name only this process uses, so two
 * processes taking over the same stale lock cannot both win.
 */
export function acquireStudyLock(dir: string, command: string): StudyLock {
  const path = lockPath(dir);
  const start = processStartTime(process.pid);
  const info: StudyLockInfo = { pid: process.pid, host: hostname(), ...(start ? { proc_start: start } : {}), started_at: new Date().toISOString(), command };
  for (let round = 0; round < 3; round++) {
    if (writeNew(path, info)) {
      const timer = setInterval(() => {
        try {
          const t = new Date();
          utimesSync(path, t, t);
        } catch {
          // released or removed meanwhile
        }
      }, LOCK_TOUCH_S * 1000);
      timer.unref();
      return {
        path, info, release: () => {
          clearInterval(timer);
          releaseIfOurs(path, info);
        },
      };
    }
    const holder = readStudyLock(dir);
    if (holder === undefined) continue; // removed meanwhile: try again
    if (lockHolder(dir) !== undefined) throw busy(dir, holder);
    // Stale: move it aside (atomic), check it was the stale one, and drop it.
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    let moved: StudyLockInfo | undefined;
    try {
      const v = JSON.parse(readFileSync(aside, 'utf8')) as StudyLockInfo;
      moved = v;
    } catch {
      moved = undefined;
    }
    if (moved && (moved.pid !== holder.pid || moved.started_at !== holder.started_at) && pidAlive(moved.pid)) {
      // Another process took the lock between our read and our rename: give it back.
      try {
        renameSync(aside, path);
      } catch {
        // it will be seen as stale next time
      }
      throw busy(dir, moved);
    }
    rmSync(aside, { force: true });
  }
  const holder = readStudyLock(dir);
  throw holder ? busy(dir, holder) : new UserError(`cannot take the lock of study ${dir}`);
}

function releaseIfOurs(path: string, info: StudyLockInfo): void {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as StudyLockInfo;
    if (v.pid === info.pid && v.started_at === info.started_at) rmSync(path, { force: true });
  } catch {
    // gone already
  }
}
