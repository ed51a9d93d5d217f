/**
 * Truth beside prediction, every 10th frame, as a video: MP4 through ffmpeg
 * when it is installed, else an animated GIF (gifenc). Frames are drawn
 * straight into pixels, not through Vega: a full-scale run has 1,000 of them.
 * Each cell is a small square at its x-y position, coloured by its speed on
 * one scale for both panels (viridis up to the truth's 99th percentile
 * speed, so a few fast cells do not wash the rest out).
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import gifenc from 'gifenc';
import * as vega from 'vega';
import { speeds } from './bins.js';
import type { RunData } from './run-data.js';

export const FRAME_STRIDE = 10;
const SIDE = 240;
const GAP = 8;
const DOT = 3;
const BACKGROUND = 0;
const DIVIDER = 255;
const FPS = 10;

/** Palette: index 0 white, 1..254 viridis, 255 grey. */
function palette(): number[][] {
  const ramp = vega.scheme('viridis') as (t: number) => string;
  const out: number[][] = [[255, 255, 255]];
  for (let i = 1; i <= 254; i++) {
    const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(ramp((i - 1) / 253));
    out.push(m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0]);
  }
  out.push([200, 200, 200]);
  return out;
}

export function animationFrames(frames: number): number[] {
  const out: number[] = [];
  for (let f = 0; f < frames; f += FRAME_STRIDE) out.push(f);
  return out;
}

function percentile99(v: Float32Array): number {
  const finite = Array.from(v).filter(Number.isFinite).sort((a, b) => a - b);
  return finite.length === 0 ? 1 : finite[Math.min(finite.length - 1, Math.floor(0.99 * finite.length))] || 1;
}

/** Palette indices of each shown frame, truth on the left, prediction on the right. */
export function drawFrames(d: RunData & { pos: Float32Array }): { width: number; height: number; frames: Uint8Array[] } {
  const width = 2 * SIDE + GAP;
  const height = SIDE;
  const shown = animationFrames(d.frames);
  const truth = speeds(d.truth);
  const pred = speeds(d.pred);
  const top = percentile99(truth);
  const out: Uint8Array[] = [];
  for (const f of shown) {
    const px = new Uint8Array(width * height).fill(BACKGROUND);
    for (let y = 0; y < height; y++) for (let x = SIDE; x < SIDE + GAP; x++) px[y * width + x] = DIVIDER;
    for (let c = 0; c < d.cells; c++) {
      const i = f * d.cells + c;
      const cx = Math.floor(d.pos[i * 3] * (SIDE - DOT));
      const cy = Math.floor((1 - d.pos[i * 3 + 1]) * (SIDE - DOT));
      if (!(cx >= 0 && cy >= 0 && cx <= SIDE - DOT && cy <= SIDE - DOT)) continue;
      for (const [offset, s] of [[0, truth[i]], [SIDE + GAP, pred[i]]] as const) {
        const colour = Number.isFinite(s) ? 1 + Math.round(Math.min(1, Math.max(0, s / top)) * 253) : DIVIDER;
        for (let dy = 0; dy < DOT; dy++) for (let dx = 0; dx < DOT; dx++) px[(cy + dy) * width + offset + cx + dx] = colour;
      }
    }
    out.push(px);
  }
  return { width, height, frames: out };
}

export function hasFfmpeg(): boolean {
  return spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
}

function writeGif(path: string, width: number, height: number, frames: Uint8Array[]): void {
  const gif = gifenc.GIFEncoder();
  const colours = palette();
  frames.forEach((f, i) => gif.writeFrame(f, width, height, i === 0 ? { palette: colours, delay: 1000 / FPS } : { delay: 1000 / FPS }));
  gif.finish();
  writeFileSync(path, gif.bytes());
}

async function writeMp4(path: string, width: number, height: number, frames: Uint8Array[]): Promise<void> {
  const colours = palette();
  const ff = spawn('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(FPS), '-i', '-',
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', path], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  ff.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<void>((resolve, reject) => {
    ff.once('error', reject);
    ff.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with code ${code}: ${err.trim().split('\n').pop() ?? ''}`))));
  });
  for (const f of frames) {
    const rgb = Buffer.alloc(width * height * 3);
    for (let i = 0; i < f.length; i++) {
      const c = colours[f[i]];
      rgb[i * 3] = c[0];
      rgb[i * 3 + 1] = c[1];
      rgb[i * 3 + 2] = c[2];
    }
    if (!ff.stdin.write(rgb)) await new Promise((r) => ff.stdin.once('drain', r));
  }
  ff.stdin.end();
  await done;
}

/** Write the animation as `<base>.mp4` (ffmpeg) or `<base>.gif`; returns the file written, undefined without positions. */
export async function writeAnimation(d: RunData, base: string, opts: { ffmpeg?: boolean } = {}): Promise<string | undefined> {
  if (d.pos === undefined) return undefined;
  const { width, height, frames } = drawFrames({ ...d, pos: d.pos });
  if (opts.ffmpeg ?? hasFfmpeg()) {
    await writeMp4(`${base}.mp4`, width, height, frames);
    return `${base}.mp4`;
  }
  writeGif(`${base}.gif`, width, height, frames);
  return `${base}.gif`;
}
