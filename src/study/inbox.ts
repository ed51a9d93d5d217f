/**
 * `<study>/inbox/`: configs a user enqueues while another process runs the
 * study (the journal has one writer: the running loop). `study enqueue` writes
 * one JSON file per request, atomically; the loop turns each into an
 * `enqueued` event before it proposes the next batch, then deletes the file.
 * The event carries the request's id, so a crash between the two cannot
 * enqueue a request twice.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { InrConfig } from '../config/inr.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { EnqueuedEvent, JournalEntry } from './journal.js';

export const INBOX_DIR = 'inbox';

export interface EnqueueRequest {
  request: string;
  inr: InrConfig;
  parent: number | null;
  note: string;
}

/** A request id that sorts by time: `<ISO time>-<pid>-<random>`. */
export function requestId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function writeInboxRequest(dir: string, req: EnqueueRequest): string {
  const path = join(dir, INBOX_DIR, `${req.request}.json`);
  writeFileAtomic(path, JSON.stringify(req) + '\n');
  return path;
}

/** Waiting requests, oldest first (unreadable files are skipped: a torn write never gets a final name). */
export function readInbox(dir: string): { file: string; req: EnqueueRequest }[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, INBOX_DIR));
  } catch {
    return [];
  }
  const out: { file: string; req: EnqueueRequest }[] = [];
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    const file = join(dir, INBOX_DIR, name);
    try {
      const req = JSON.parse(readFileSync(file, 'utf8')) as EnqueueRequest;
      if (typeof req.request === 'string' && req.inr && typeof req.inr === 'object') out.push({ file, req });
    } catch {
      // not ours, or damaged: leave it
    }
  }
  return out;
}

/** Request ids the journal already holds. */
export function enqueuedRequests(entries: readonly JournalEntry[]): Set<string> {
  const ids = new Set<string>();
  for (const e of entries) if (e.event.type === 'enqueued' && e.event.request !== undefined) ids.add(e.event.request);
  return ids;
}

/**
 * Move the inbox into the journal: `append` is called with each new request's
 * event (ids continue from `nextId`); files are deleted once their event is written.
 */
export function drainInbox(dir: string, seen: Set<string>, nextId: () => number, append: (e: EnqueuedEvent) => void): number {
  let n = 0;
  for (const { file, req } of readInbox(dir)) {
    if (!seen.has(req.request)) {
      append({ type: 'enqueued', id: nextId(), inr: req.inr, parent: req.parent ?? null, note: String(req.note ?? ''), request: req.request });
      seen.add(req.request);
      n++;
    }
    rmSync(file, { force: true });
  }
  return n;
}
