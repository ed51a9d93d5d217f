/**
 * `inrscape dashboard`: a read-only web view of studies while they run.
 * Hono on Node. Nothing here writes to a study: the state is folded from the
 * journal on each change, figures are the same Vega-Lite specs as the
 * report's, rendered to SVG in memory (a run's own figures/ folder is used
 * when its trial drew one). Requests name studies, nodes and figures by
 * number and by a name from a fixed list, never by path, so no request can
 * reach a file outside the study folders (anything else is a 404).
 * Server-sent events tell the page when a journal grew.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { EXPLORABLE_KEYS } from '../../config/search-space.js';
import { journalPath } from '../../study/journal.js';
import type { StudyNode } from '../../study/state.js';
import { bestNode } from '../../study/tree.js';
import { outcome } from '../outcome.js';
import { toSvg, type Figure } from '../render.js';
import { loadStudies, type StudyInReport } from '../report.js';
import { loadRunData } from '../run-data.js';
import { RUN_FIGURE_NAMES, runFigures } from '../run-figures.js';
import { compareFigure, studyFigures } from '../study-figures.js';
import { RUN_FIGURES_DIR } from '../write.js';
import { CLIENT } from './client.js';
import { PAGE } from './page.js';

export const JOURNAL_POLL_MS = 200;

interface Watched extends StudyInReport {
  size: number;
  /** Its figures' specs, built once per journal change for the state and every figure request. */
  figures?: Figure[];
}

const figuresOf = (s: Watched): Figure[] => (s.figures ??= studyFigures(s.state));

function nodeJson(n: StudyNode, best: number | undefined): Record<string, unknown> {
  return {
    id: n.id, parent: n.parent, block: n.block, batch: n.batch, status: n.status, outcome: outcome(n),
    r2: n.metrics?.final_r2 ?? null, minutes: n.metrics?.training_time_min ?? null, mutation: n.mutation,
    params: Object.fromEntries(EXPLORABLE_KEYS.map((k) => [k, n.inr[k]])),
    evaluations: n.evaluations.map((e) => ({ step: e.step, r2: e.r2 })), total_steps: n.inr.inr_total_steps,
    started_at: n.started_at ?? null, done_at: n.done_at ?? null, best: best === n.id,
  };
}

export interface Dashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The Hono app over these studies (the server's whole behaviour; `startDashboard` only listens). */
export function dashboardApp(dirs: readonly string[]): { app: Hono; stop: () => void } {
  const studies: Watched[] = loadStudies(dirs).map((s) => ({ ...s, size: statSync(journalPath(s.dir)).size }));
  const svgCache = new Map<string, string>();
  const listeners = new Set<(study: number, lines: number) => void>();

  /** Fold again the journals that grew; tell the listeners. */
  const refresh = (): void => {
    studies.forEach((s, i) => {
      const size = statSync(journalPath(s.dir)).size;
      if (size === s.size) return;
      const [again] = loadStudies([s.dir]);
      studies[i] = { ...again, size };
      for (const l of listeners) l(i, again.state.lines);
    });
  };
  const timer = setInterval(refresh, JOURNAL_POLL_MS);

  const study = (c: Context): Watched | undefined => studies[Number(c.req.param('s'))];
  const cachedSvg = async (key: string, figure: () => Figure | undefined): Promise<string | undefined> => {
    const hit = svgCache.get(key);
    if (hit !== undefined) return hit;
    const f = figure();
    if (f === undefined) return undefined;
    const svg = await toSvg(f.spec);
    if (svgCache.size > 500) svgCache.clear();
    svgCache.set(key, svg);
    return svg;
  };
  const svg = (c: Context, body: string): Response => c.body(body, 200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });

  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('x-content-type-options', 'nosniff');
  });
  app.get('/', (c) => c.html(PAGE, 200, { 'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'" }));
  app.get('/page.js', (c) => c.body(CLIENT, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/api/studies', (c) => c.json(studies.map((s, i) => ({ id: i, label: s.label, lines: s.state.lines }))));
  app.get('/api/studies/:s{[0-9]+}', (c) => {
    const s = study(c);
    if (s === undefined) return c.notFound();
    const figures = figuresOf(s).map((f) => ({ name: f.name, title: f.title }));
    const best = bestNode(s.state)?.id;
    return c.json({
      label: s.label, lines: s.state.lines, iterations: s.state.settings.iterations, agent: s.state.settings.agent,
      nodes: s.state.nodes.map((n) => nodeJson(n, best)), figures: studies.length > 1 ? [{ name: 'compare', title: 'Studies compared' }, ...figures] : figures,
    });
  });
  app.get('/api/studies/:s{[0-9]+}/figures/:name{[a-z0-9-]+}', async (c) => {
    const s = study(c);
    const name = c.req.param('name');
    if (s === undefined) return c.notFound();
    const body = await cachedSvg(`${c.req.param('s')}/${s.state.lines}/${name}/${studies.map((x) => x.state.lines).join(',')}`, () =>
      name === 'compare' ? compareFigure(studies) : figuresOf(s).find((f) => f.name === name));
    return body === undefined ? c.notFound() : svg(c, body);
  });
  app.get('/api/studies/:s{[0-9]+}/nodes/:n{[0-9]+}', (c) => {
    const s = study(c);
    const n = s?.state.nodes[Number(c.req.param('n')) - 1];
    if (s === undefined || n === undefined) return c.notFound();
    const run = n.run_dir === undefined ? undefined : join(s.dir, n.run_dir);
    const drawable = run !== undefined && n.status === 'finished' && existsSync(join(run, 'run.json'));
    return c.json({
      ...nodeJson(n, bestNode(s.state)?.id), inr: n.inr, observation: n.note?.observation ?? null, failure: n.failure ?? null, repairs: n.repairs,
      pruned: n.pruned ?? null, figures: drawable ? RUN_FIGURE_NAMES : [],
    });
  });
  app.get('/api/studies/:s{[0-9]+}/nodes/:n{[0-9]+}/figures/:name{[a-z0-9_]+}', async (c) => {
    const s = study(c);
    const n = s?.state.nodes[Number(c.req.param('n')) - 1];
    const name = c.req.param('name');
    if (s === undefined || n === undefined || n.run_dir === undefined || n.status !== 'finished') return c.notFound();
    const run = join(s.dir, n.run_dir);
    const drawn = join(run, RUN_FIGURES_DIR, `${name}.svg`);
    if (/^[a-z_]+$/.test(name) && existsSync(drawn)) return svg(c, readFileSync(drawn, 'utf8'));
    try {
      const body = await cachedSvg(`${c.req.param('s')}/node${n.id}/${n.attempts}/${name}`, () => runFigures(loadRunData(run)).find((f) => f.name === name));
      return body === undefined ? c.notFound() : svg(c, body);
    } catch {
      return c.notFound();
    }
  });
  app.get('/api/events', (c) => streamSSE(c, async (stream) => {
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    const listener = (study: number, lines: number): void => {
      queue.push(JSON.stringify({ study, lines }));
      wake?.();
    };
    listeners.add(listener);
    stream.onAbort(() => {
      listeners.delete(listener);
      wake?.();
    });
    await stream.writeSSE({ event: 'hello', data: JSON.stringify(studies.map((s) => s.state.lines)) });
    while (!stream.aborted) {
      const next = queue.shift();
      if (next !== undefined) {
        await stream.writeSSE({ event: 'journal', data: next });
        continue;
      }
      // A comment now and then keeps proxies from closing an idle stream.
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 15000);
      });
      wake = undefined;
      if (queue.length === 0 && !stream.aborted) await stream.write(': idle\n\n');
    }
    listeners.delete(listener);
  }));
  app.notFound((c) => c.text('not found', 404));
  return { app, stop: () => clearInterval(timer) };
}

/** Listen on host:port (port 0: any free one). */
export async function startDashboard(dirs: readonly string[], opts: { port: number; host: string }): Promise<Dashboard> {
  const { app, stop } = dashboardApp(dirs);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}/`, port: info.port,
        close: () => new Promise<void>((r) => {
          stop();
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
    server.once('error', reject);
  });
}
