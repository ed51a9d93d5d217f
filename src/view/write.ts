/**
 * Figures to files: each figure as SVG and PNG into a folder that appears
 * whole (staged beside it, then renamed over the old one), so a reader (the
 * dashboard, a report) never sees half a folder.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { commitDir, discardDir, stageDir } from '../util/atomic.js';
import { pidAlive } from '../util/pid.js';
import { writeAnimation } from './animation.js';
import { svgToPng, toSvg, type Figure } from './render.js';
import { loadRunData } from './run-data.js';
import { runFigures } from './run-figures.js';

/** Where a run's figures live inside its run folder. */
export const RUN_FIGURES_DIR = 'figures';

export type VideoFormat = 'auto' | 'mp4' | 'gif';

export interface Rendered {
  figure: Figure;
  svg: string;
  png: Buffer;
}

export async function render(figures: readonly Figure[]): Promise<Rendered[]> {
  const out: Rendered[] = [];
  for (const figure of figures) {
    const svg = await toSvg(figure.spec);
    out.push({ figure, svg, png: svgToPng(svg) });
  }
  return out;
}

/** Staging folders of `dir` that a killed writer left (its pid is gone). */
function clearDeadStaging(dir: string): void {
  const mine = new RegExp(`^\\.${basename(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)(\\.old)?$`);
  let names: string[];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    return;
  }
  for (const name of names) {
    const m = mine.exec(name);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(dirname(dir), name), { recursive: true, force: true });
  }
}

/** Write rendered figures (and, given, more files) into `dir`, replacing what was there, in one step. Returns the file names. */
export async function writeFigureFolder(dir: string, rendered: readonly Rendered[], extra?: (staging: string) => Promise<string[]>): Promise<string[]> {
  clearDeadStaging(dir);
  const staging = stageDir(dir);
  try {
    const files: string[] = [];
    for (const r of rendered) {
      writeFileSync(join(staging, `${r.figure.name}.svg`), r.svg);
      writeFileSync(join(staging, `${r.figure.name}.png`), r.png);
      files.push(`${r.figure.name}.svg`, `${r.figure.name}.png`);
    }
    if (extra) files.push(...(await extra(staging)));
    commitDir(staging, dir, { replace: true });
    return files;
  } catch (err) {
    discardDir(staging);
    throw err;
  }
}

/** A run's figures and its animation, into `<run>/figures/`. */
export async function writeRunFigures(runDir: string, opts: { video?: VideoFormat } = {}): Promise<string[]> {
  const data = loadRunData(runDir);
  const video = opts.video ?? 'auto';
  return writeFigureFolder(join(runDir, RUN_FIGURES_DIR), await render(runFigures(data)), async (staging) => {
    const file = await writeAnimation(data, join(staging, 'animation'), video === 'auto' ? {} : { ffmpeg: video === 'mp4' });
    return file === undefined ? [] : [file.slice(staging.length + 1)];
  });
}
