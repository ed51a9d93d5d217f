/**
 * `<study>/lock`: one process at a time runs a study (the journal has one
 * writer). The file holds JSON: pid, host, start time and the command. A lock
 * whose process is gone (same host, pid dead) is stale and taken over: that is
 * how `study resume` continues after a kill -9. A live holder is a UserError
 * naming it.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../exec/process.js';
import { UserError } from '../util/errors.js';

export const STUDY_LOCK_FILE = 'lock';

export interface StudyLockInfo {
  pid: number;
  host: string;
  started_at: string;
  command: string;
}

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
    return { pid: v.pid, host: String(v.host ?? ''), started_at: String(v.started_at ?? ''), command: String(v.command ?? '') };
  } catch {
    return { pid: 0, host: '', started_at: '', command: '' };
  }
}

/** The live process holding the study, if any (a lock from another host counts as live: we cannot tell). */
export function lockHolder(dir: string): StudyLockInfo | undefined {
  const info = readStudyLock(dir);
  if (info === undefined) return undefined;
  if (info.host !== '' && info.host !== hostname()) return info;
  if (info.pid === process.pid) return info;
  return pidAlive(info.pid) ? info : undefined;
}

function busy(dir: string, info: StudyLockInfo): UserError {
  const where = info.host !== hostname() ? ` on host ${info.host}` : '';
  const hint = info.host !== hostname() ? `; if that process is gone, remove ${lockPath(dir)}` : '';
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
  const info: StudyLockInfo = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  for (let round = 0; round < 3; round++) {
    if (writeNew(path, info)) {
      return { path, info, release: () => releaseIfOurs(path, info) };
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
    if (moved && moved.pid !== holder.pid && pidAlive(moved.pid)) {
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
