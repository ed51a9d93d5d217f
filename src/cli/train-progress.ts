import type { TrainProgress } from '../inr/train.js';
import { pyExp } from '../util/pyformat.js';

/**
 * The training progress bar on stderr. On a terminal: one line redrawn at
 * most ten times a second with steps/s, ETA, loss and the latest R², the R²
 * coloured as the reference does (green > 0.9, yellow > 0.7, orange > 0.3,
 * red below). Elsewhere (a pipe, a log file): a plain line at each evaluation,
 * that is every tenth of the run, and nothing else.
 */

export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface ProgressOptions {
  /** Defaults to the sink being a terminal with NO_COLOR unset. */
  color?: boolean;
  /** Milliseconds; default performance.now. */
  clock?: () => number;
}

const GREEN = '\x1b[32m', YELLOW = '\x1b[33m', ORANGE = '\x1b[38;5;208m', RED = '\x1b[31m', RESET = '\x1b[0m';

/** The reference's R² colour bands. */
export function r2Colour(r2: number): 'green' | 'yellow' | 'orange' | 'red' {
  if (r2 > 0.9) return 'green';
  if (r2 > 0.7) return 'yellow';
  if (r2 > 0.3) return 'orange';
  return 'red';
}

const ANSI = { green: GREEN, yellow: YELLOW, orange: ORANGE, red: RED };

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export function trainProgressBar(sink: ProgressSink = process.stderr, opts: ProgressOptions = {}): {
  onProgress: (p: TrainProgress) => void;
  finish: () => void;
} {
  const tty = sink.isTTY === true;
  const color = opts.color ?? (tty && process.env.NO_COLOR === undefined);
  const clock = opts.clock ?? (() => performance.now());
  let startMs: number | undefined;
  let startStep = 0;
  let lastDraw = -Infinity;
  let r2: number | undefined;
  let drawn = false;

  const r2Text = (v: number): string => {
    const text = Number.isNaN(v) ? 'nan' : v.toFixed(4);
    return color ? `${ANSI[r2Colour(v)]}${text}${RESET}` : text;
  };

  const line = (p: TrainProgress): string => {
    const now = clock();
    const secs = startMs === undefined ? 0 : (now - startMs) / 1000;
    const rate = secs > 0 ? (p.step - startStep) / secs : NaN;
    const eta = rate > 0 ? (p.totalSteps - p.step) / rate : NaN;
    const pct = Math.floor((100 * p.step) / p.totalSteps);
    const parts = [`step ${p.step}/${p.totalSteps} (${pct}%)`];
    if (p.phase === 'final-evaluation') parts.push('final evaluation');
    if (Number.isFinite(rate)) parts.push(`${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} steps/s`);
    if (p.phase === 'step' && Number.isFinite(eta)) parts.push(`ETA ${formatDuration(eta)}`);
    if (!Number.isNaN(p.loss)) parts.push(`loss ${pyExp(p.loss, 3)}`);
    if (r2 !== undefined) parts.push(`R² ${r2Text(r2)}`);
    return parts.join('  ');
  };

  return {
    onProgress(p) {
      if (startMs === undefined) {
        startMs = clock();
        startStep = p.step;
      }
      if (p.evaluation) r2 = p.evaluation.r2;
      if (tty) {
        const now = clock();
        if (p.evaluation || p.phase !== 'step' || now - lastDraw >= 100) {
          lastDraw = now;
          sink.write(`\r${line(p)}\x1b[K`);
          drawn = true;
        }
      } else if (p.evaluation && p.phase === 'step') {
        sink.write(`${line(p)}\n`);
      }
    },
    finish() {
      if (tty && drawn) sink.write('\n');
      drawn = false;
    },
  };
}
