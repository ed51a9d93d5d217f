/**
 * `inrscape report`: one HTML file that opens offline and can be mailed (the
 * figures inline as SVG images, no script, nothing fetched), a folder of
 * PNGs beside it, and a markdown summary that links them. Every text from a
 * study (mutations, observations, configs) is escaped.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { EXPLORABLE_KEYS } from '../config/search-space.js';
import { loadStudy } from '../study/loop.js';
import type { StudyState } from '../study/state.js';
import { bestNode } from '../study/tree.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { outcome } from './outcome.js';
import type { Figure } from './render.js';
import { loadRunData } from './run-data.js';
import { runFigures } from './run-figures.js';
import { studiesFigures } from './study-figures.js';
import { render, writeFigureFolder } from './write.js';

/** The report a study writes into its folder when it ends. */
export const REPORT_FILE = 'report.html';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const f4 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));

export interface StudyInReport {
  dir: string;
  label: string;
  state: StudyState;
}

/** Labels that tell studies apart: the folder name, and the agent. */
export function loadStudies(dirs: readonly string[]): StudyInReport[] {
  return dirs.map((d) => {
    const state = loadStudy(resolve(d));
    return { dir: resolve(d), label: `${basename(resolve(d))} (${state.settings.agent}${state.config.study.pruner !== 'none' ? `+${state.config.study.pruner}` : ''})`, state };
  });
}

/** The figures of a report: per study (prefixed when there are several), the best run's, and the comparison. */
export function reportFigures(studies: readonly StudyInReport[]): { section: string; figures: Figure[] }[] {
  const many = studies.length > 1;
  const { compare, each } = studiesFigures(studies);
  const out: { section: string; figures: Figure[] }[] = compare ? [{ section: 'Studies compared', figures: [compare] }] : [];
  studies.forEach((s, i) => {
    const prefix = many ? `s${i + 1}-` : '';
    out.push({ section: many ? `Study ${s.label}` : 'Study', figures: each[i] });
    const best = bestNode(s.state);
    const run = best?.run_dir === undefined ? undefined : join(s.dir, best.run_dir);
    if (best !== undefined && run !== undefined && existsSync(join(run, 'run.json'))) {
      try {
        out.push({ section: `Best trial of ${many ? s.label : 'the study'}: node ${best.id}`, figures: runFigures(loadRunData(run)).map((f) => ({ ...f, name: `${prefix}best-${f.name}` })) });
      } catch (err) {
        // its predictions are gone (a cleaned run folder): the study's figures still stand
        if (!(err instanceof UserError)) throw err;
      }
    }
  });
  return out;
}

function trialsTable(s: StudyInReport): string {
  const keys = EXPLORABLE_KEYS;
  const head = ['node', 'parent', 'block', 'status', 'R2', 'min', ...keys, 'mutation'].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = s.state.nodes.map((n) => {
    const cells = [String(n.id), n.parent === null ? '-' : String(n.parent), String(n.block), outcome(n), f4(n.metrics?.final_r2), n.metrics ? n.metrics.training_time_min.toFixed(2) : '-',
      ...keys.map((k) => String(n.inr[k])), n.mutation];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function summaryOf(s: StudyInReport): { best?: string; line: string } {
  const best = bestNode(s.state);
  const done = s.state.nodes.filter((n) => n.status === 'finished' || n.status === 'failed').length;
  return {
    ...(best ? { best: EXPLORABLE_KEYS.map((k) => `${k}: ${best.inr[k]}`).join('\n') } : {}),
    line: `${s.state.nodes.length} trials (${done} done) of ${s.state.settings.iterations}; best R2 ${best ? `${f4(best.metrics?.final_r2)} (node ${best.id})` : 'none yet'}`,
  };
}

export interface ReportFiles {
  html: string;
  pngDir: string;
  markdown: string;
}

/** Where a report's files go: FILE.html, FILE_figures/, FILE.md. */
export function reportFiles(out: string): ReportFiles {
  const html = resolve(out.endsWith('.html') ? out : `${out}.html`);
  const base = html.slice(0, -'.html'.length);
  return { html, pngDir: `${base}_figures`, markdown: `${base}.md` };
}

export async function writeReport(dirs: readonly string[], out: string): Promise<ReportFiles> {
  const studies = loadStudies(dirs);
  const files = reportFiles(out);
  const sections = reportFigures(studies);
  const all = sections.flatMap((s) => s.figures);
  const drawn = await render(all);
  const rendered = new Map(drawn.map((r) => [r.figure.name, r]));
  await writeFigureFolder(files.pngDir, drawn);
  const img = (f: Figure): string => `<figure><img alt="${escapeHtml(f.title)}" src="data:image/svg+xml;base64,${Buffer.from(rendered.get(f.name)!.svg).toString('base64')}"><figcaption>${escapeHtml(f.title)}</figcaption></figure>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>inrscape report: ${escapeHtml(studies.map((s) => s.label).join(', '))}</title>
<style>body{font-family:'DejaVu Sans',sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:last-child{text-align:left}figure{margin:1em 0}img{max-width:100%}pre{background:#f6f6f6;padding:.5em}</style>
</head><body>
<h1>inrscape report</h1>
<p>Written ${escapeHtml(new Date().toISOString())} from ${studies.length === 1 ? 'the study' : `${studies.length} studies`}' journals and run folders.</p>
${studies.map((s) => {
    const sum = summaryOf(s);
    return `<h2>${escapeHtml(s.label)}</h2><p>${escapeHtml(s.dir)}: ${escapeHtml(sum.line)}</p>${sum.best ? `<pre>${escapeHtml(sum.best)}</pre>` : ''}<details><summary>All trials</summary>${trialsTable(s)}</details>`;
  }).join('\n')}
${sections.map((sec) => `<h2>${escapeHtml(sec.section)}</h2>\n${sec.figures.map(img).join('\n')}`).join('\n')}
</body></html>
`;
  const link = (f: Figure): string => `![${f.title}](${relative(dirname(files.markdown), join(files.pngDir, `${f.name}.png`))})`;
  const md = [`# inrscape report`, '', ...studies.flatMap((s) => {
    const sum = summaryOf(s);
    return [`## ${s.label}`, '', `${s.dir}: ${sum.line}`, '', ...(sum.best ? ['```', sum.best, '```', ''] : [])];
  }), ...sections.flatMap((sec) => [`## ${sec.section}`, '', ...sec.figures.flatMap((f) => [link(f), ''])])].join('\n');
  writeFileAtomic(files.markdown, md);
  writeFileAtomic(files.html, html);
  return files;
}
