import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Crash safety: every file a crash could tear is written to a temporary name,
 * fsync'd and renamed, so a reader sees either the old file or the whole new one.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  }
}

/**
 * A folder that appears whole or not at all: write into the staging folder
 * returned by `stage`, then `commit` renames it into place. A crash in between
 * leaves only a hidden staging folder, which the next `stage` clears.
 */
export function stageDir(finalDir: string): string {
  const staging = join(dirname(finalDir), `.${basename(finalDir)}.tmp-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  return staging;
}

export function commitDir(staging: string, finalDir: string, opts: { replace?: boolean } = {}): void {
  if (existsSync(finalDir)) {
    if (!opts.replace) throw new Error(`${finalDir} already exists`);
    const old = `${staging}.old`;
    renameSync(finalDir, old);
    renameSync(staging, finalDir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(staging, finalDir);
  }
  fsyncDir(dirname(finalDir));
}

export function discardDir(staging: string): void {
  rmSync(staging, { recursive: true, force: true });
}
