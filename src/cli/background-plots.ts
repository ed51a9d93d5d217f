/**
 * Each finished trial's figures, drawn off the study's critical path: one
 * `inrscape plot run` child at a time, at low priority, its errors appended
 * to <study>/figures.log. What is still queued when the study ends goes to
 * one last child that outlives it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('./bin.js', import.meta.url));
export const FIGURES_LOG = 'figures.log';

export class BackgroundPlots {
  private queue: string[] = [];
  private busy = false;

  constructor(private readonly studyDir: string) {}

  add(runDir: string): void {
    this.queue.push(runDir);
    if (!this.busy) this.next(false);
  }

  /** Hand what is queued to a child that outlives this process. */
  detach(): void {
    if (this.queue.length > 0) this.next(true);
  }

  private next(detached: boolean): void {
    const runs = detached ? this.queue.splice(0) : this.queue.splice(0, 1);
    if (runs.length === 0) return;
    const log = openSync(join(this.studyDir, FIGURES_LOG), 'a');
    const child = spawn(process.execPath, [BIN, 'plot', 'run', '--quiet', ...runs], { stdio: ['ignore', log, log], detached });
    closeSync(log);
    try {
      if (child.pid !== undefined) setPriority(child.pid, 10);
    } catch {
      // not allowed here: it runs at normal priority
    }
    if (detached) {
      child.unref();
      return;
    }
    this.busy = true;
    child.once('exit', () => {
      this.busy = false;
      this.next(false);
    });
    child.once('error', () => {
      this.busy = false;
    });
  }
}
