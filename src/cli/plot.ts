import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError, show } from '../util/errors.js';
import { rel } from './paths.js';
import { loadStudies, writeReport } from '../view/report.js';
import { studiesFigures } from '../view/study-figures.js';
import { render, writeFigureFolder, writeRunFigures, type VideoFormat } from '../view/write.js';

const VIDEO: readonly VideoFormat[] = ['auto', 'mp4', 'gif'];

function videoFlag(v: string | undefined): VideoFormat {
  if (v === undefined) return 'auto';
  if (!(VIDEO as readonly string[]).includes(v)) throw new UserError(`--video must be one of ${VIDEO.join(', ')}, got ${show(v)}`);
  return v as VideoFormat;
}

export function registerPlot(program: Command): void {
  const plot = program.command('plot').description('draw figures (SVG and PNG) of runs and studies (docs/figures.md)');
  plot
    .command('run')
    .description("a run's figures and its animation, into <run>/figures/")
    .argument('<run...>', 'run folders')
    .option('--video <format>', 'the animation: auto (MP4 when ffmpeg is installed, else GIF) | mp4 | gif')
    .option('--quiet', 'print nothing')
    .action(async (runs: string[], flags: { video?: string; quiet?: boolean }) => {
      const video = videoFlag(flags.video);
      for (const run of runs) {
        const files = await writeRunFigures(resolve(run), { video });
        if (!flags.quiet) process.stdout.write(`${rel(join(resolve(run), 'figures'))}: ${files.join(', ')}\n`);
      }
    });
  plot
    .command('study')
    .description("a study's figures (tree, history, slices, parallel coordinates, importance, time against R2); several studies: also their best-so-far curves side by side")
    .argument('<dir...>', 'study folders')
    .option('--out <dir>', 'where the figures go (default: <first study>/figures)')
    .action(async (dirs: string[], flags: { out?: string }) => {
      const studies = loadStudies(dirs);
      const { compare, each } = studiesFigures(studies);
      const figures = [...(compare ? [compare] : []), ...each.flat()];
      const out = resolve(flags.out ?? join(studies[0].dir, 'figures'));
      const files = await writeFigureFolder(out, await render(figures));
      process.stdout.write(`${rel(out)}: ${files.length / 2} figures (${figures.map((f) => f.name).join(', ')})\n`);
    });
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('one self-contained HTML report of one or more studies (figures inline, opens offline), a folder of PNGs and a markdown summary')
    .argument('<dir...>', 'study folders')
    .option('--out <file>', 'the HTML file (default: <first study>/report.html); FILE_figures/ and FILE.md go beside it')
    .action(async (dirs: string[], flags: { out?: string }) => {
      const out = flags.out ?? join(resolve(dirs[0]), 'report.html');
      const files = await writeReport(dirs, out);
      process.stdout.write(`report: ${rel(files.html)}\n  ${rel(files.pngDir)}/  its figures as PNG\n  ${rel(files.markdown)}  a markdown summary linking them\n`);
    });
}
