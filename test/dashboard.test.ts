import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { Journal, type StudyEventBody } from '../src/study/journal.js';
import { createAgent } from '../src/study/agents/index.js';
import { parseConfig } from '../src/config/schema.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { simulateStudy } from '../src/study/simulate.js';
import { initialState } from '../src/study/state.js';
import { startDashboard, type Dashboard } from '../src/view/dashboard/server.js';
import { writeReport } from '../src/view/report.js';
import { tempDir } from './helpers/tmp.js';
import { landscape, simulatedStudyFolder } from './helpers/view.js';

// Debian's chromium, driven by playwright-core (.ci/run installs it).
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
const PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> omega looks high';

let browser: Browser;
before(async () => {
  if (!noBrowser) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => browser?.close());

/** A finished study whose agent wrote markup into every observation. */
async function hostileStudy(dir: string): Promise<void> {
  await simulatedStudyFolder(dir, {
    iterations: 12,
    wrap: (a) => ({
      name: a.name, propose: (c) => a.propose(c), closeBlock: (c) => a.closeBlock(c),
      analyse: async (c) => {
        const notes = await a.analyse(c);
        return { ...notes, notes: notes.notes.map((n) => ({ ...n, observation: PAYLOAD })) };
      },
    }),
  });
}

function rawGet(d: Dashboard, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

test('the page shows every trial of a finished study; markup in an observation is shown as text and runs nothing', { skip: noBrowser }, async (t) => {
  const dir = join(tempDir(t), 'study');
  await hostileStudy(dir);
  const d = await startDashboard([dir], { port: 0, host: '127.0.0.1' });
  t.after(() => d.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(d.url);
  await page.waitForSelector('#trials tbody tr');
  assert.equal(await page.locator('#trials tbody tr').count(), 12);
  assert.deepEqual((await page.locator('#trials tbody tr').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.node)))).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
  // Every figure image loads.
  await page.waitForFunction(() => [...document.querySelectorAll('#figures img')].every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
  assert.ok(await page.locator('#figures img').count() >= 7);
  await page.locator('#trials tbody tr[data-node="3"]').click();
  await page.waitForSelector('#observation');
  assert.equal(await page.locator('#observation').textContent(), `Observation: ${PAYLOAD}`);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.locator('#node img[src="x"], #node script').count(), 0);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  // Sorting by R2 puts the best trial first on the second click (descending).
  await page.locator('th[data-key="r2"]').click();
  await page.locator('th[data-key="r2"]').click();
  assert.equal(await page.locator('#trials tbody tr').first().getAttribute('class'), 'best');
});

test('a trial that finishes in a running study appears within 2 s, without a reload', { skip: noBrowser }, async (t) => {
  const dir = join(tempDir(t), 'study');
  const created = studyCreatedEvent(parseConfig('{}').config, { agent: 'rules', iterations: 8, slots: 4, block: 8, seed: 2, maxTrialMinutes: 60 });
  const { journal, entry } = Journal.create(dir, created);
  // The study stops (as if it were still training) just before trial 6 finishes.
  let held: StudyEventBody | undefined;
  const run = await simulateStudy(created, { agent: createAgent('rules') }, landscape, {
    journal, state: initialState(entry), stopBefore: (body) => body.type === 'trial_finished' && body.node === 6 && (held = body) !== undefined,
  });
  assert.ok(run.stopped && held !== undefined);
  const d = await startDashboard([dir], { port: 0, host: '127.0.0.1' });
  t.after(() => d.close());
  const page = await browser.newPage();
  await page.goto(d.url);
  await page.waitForSelector('#trials tbody tr[data-node="6"][data-status="running"]');
  assert.match((await page.locator('#running').textContent()) ?? '', /node 6: running/);
  let reloaded = false;
  page.on('load', () => (reloaded = true));
  const t0 = Date.now();
  journal.append(held);
  journal.close();
  await page.waitForSelector('#trials tbody tr[data-node="6"][data-status="finished"]', { timeout: 2000 });
  const ms = Date.now() - t0;
  assert.ok(ms <= 2000, `${ms} ms`);
  assert.equal(reloaded, false);
  t.diagnostic(`trial 6 appeared finished ${ms} ms after its journal line`);
});

test('no request reaches a file outside the study folders: ../ and its encodings get 404', async (t) => {
  const dir = join(tempDir(t), 'study');
  await simulatedStudyFolder(dir, { iterations: 4 });
  const d = await startDashboard([dir], { port: 0, host: '127.0.0.1' });
  t.after(() => d.close());
  assert.equal(await rawGet(d, '/api/studies/0'), 200);
  for (const path of ['/../../../../etc/passwd', '/api/studies/0/../../journal.jsonl', '/api/studies/0/figures/..%2f..%2fjournal', '/api/studies/0/nodes/1/figures/..%2F..%2Frun.json', '/%2e%2e/%2e%2e/etc/passwd', '/api/studies/1', '/journal.jsonl']) {
    assert.equal(await rawGet(d, path), 404, path);
  }
});

test('by default the server listens on 127.0.0.1 only: another interface of this machine is refused', async (t) => {
  const other = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && !i.internal && i.family === 'IPv4');
  if (other === undefined) return t.skip('this machine has no other IPv4 interface');
  const dir = join(tempDir(t), 'study');
  await simulatedStudyFolder(dir, { iterations: 4 });
  const d = await startDashboard([dir], { port: 0, host: '127.0.0.1' });
  t.after(() => d.close());
  const outcome = await new Promise<string>((resolve) => {
    const s = connect({ host: other.address, port: d.port });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.equal(outcome, 'ECONNREFUSED', `${other.address}:${d.port}`);
});

test('the report opens offline: no request leaves the file, and its text is escaped', { skip: noBrowser }, async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'study');
  await hostileStudy(dir);
  const files = await writeReport([dir], join(root, 'report.html'));
  const html = readFileSync(files.html, 'utf8');
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /onerror=/);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`file://${files.html}`);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  assert.ok(await page.locator('img').count() >= 7);
  assert.deepEqual(requests.filter((u) => !u.startsWith('data:') && !u.startsWith('file:')), []);
  await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
});
