/**
 * Each finished trial's figures, drawn off the study's critical path: one
 * `inrscape plot run` child at a time, at low priority, its errors appended
 * to <study>/figures.log. When the study ends it waits for what is left, so
 * the folder is complete when the command returns.
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
  private idle: (() => void)[] = [];

  constructor(private readonly studyDir: string) {}

  add(runDir: string): void {
    this.queue.push(runDir);
    if (!this.busy) this.next();
  }

  /** Resolves once every queued run is drawn. */
  drain(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private next(): void {
    const run = this.queue.shift();
    if (run === undefined) {
      this.busy = false;
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.busy = true;
    const log = openSync(join(this.studyDir, FIGURES_LOG), 'a');
    const child = spawn(process.execPath, [BIN, 'plot', 'run', '--quiet', run], { stdio: ['ignore', log, log] });
    closeSync(log);
    try {
      if (child.pid !== undefined) setPriority(child.pid, 10);
    } catch {
      // not allowed here: it runs at normal priority
    }
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      this.next();
    };
    child.once('exit', end);
    child.once('error', end);
  }
}
