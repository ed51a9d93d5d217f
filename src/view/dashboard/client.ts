/**
 * The dashboard page's script, served as /page.js. Every text from a study
 * (mutations, observations, configs) goes in through textContent, never as
 * markup; figures are <img> elements, in which an SVG cannot run a script.
 */
export const CLIENT = String.raw`
'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const f4 = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
let current = 0, data = null, sortKey = 'id', sortDir = 1, openNode = null;
const columns = [
  ['id', 'node'], ['parent', 'parent'], ['block', 'block'], ['outcome', 'status'], ['r2', 'R2'], ['minutes', 'min'],
  ['omega_inr', 'omega'], ['inr_learning_rate', 'lr'], ['hidden_dim_inr', 'width'], ['n_layers_inr', 'layers'], ['inr_total_steps', 'steps'], ['inr_batch_size', 'batch'], ['mutation', 'mutation'],
];
const value = (n, k) => (k in n ? n[k] : n.params[k]);

function curve(evals, total) {
  const ns = 'http://www.w3.org/2000/svg', w = 220, h = 80;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', w); svg.setAttribute('height', h);
  const pts = evals.filter((e) => Number.isFinite(e.r2));
  const lo = Math.min(0, ...pts.map((e) => e.r2));
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts.map((e) => (e.step / total * (w - 4) + 2) + ',' + (h - 2 - (e.r2 - lo) / (1 - lo || 1) * (h - 4))).join(' '));
  line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#2ca02c'); line.setAttribute('stroke-width', '2');
  svg.appendChild(line);
  return svg;
}

function renderRunning() {
  const box = $('running'); box.replaceChildren();
  const running = data.nodes.filter((n) => n.status === 'running');
  if (running.length === 0) { box.appendChild(el('p', 'none', 'muted')); return; }
  for (const n of running) {
    const d = el('div', undefined, 'trial');
    const since = n.started_at ? Math.round((Date.now() - Date.parse(n.started_at)) / 1000) + ' s' : '';
    const last = n.evaluations[n.evaluations.length - 1];
    d.appendChild(el('div', 'node ' + n.id + ': running ' + since + (last ? ', R2 ' + f4(last.r2) + ' at step ' + last.step : '')));
    if (n.evaluations.length) d.appendChild(curve(n.evaluations, n.total_steps));
    box.appendChild(d);
  }
}

function renderTable() {
  const head = $('trials').tHead; head.replaceChildren();
  const tr = el('tr');
  for (const [k, label] of columns) {
    const th = el('th', label + (k === sortKey ? (sortDir > 0 ? ' ▲' : ' ▼') : ''));
    th.dataset.key = k;
    th.addEventListener('click', () => { sortDir = sortKey === k ? -sortDir : 1; sortKey = k; renderTable(); });
    tr.appendChild(th);
  }
  head.appendChild(tr);
  const rows = [...data.nodes].sort((a, b) => {
    const x = value(a, sortKey), y = value(b, sortKey);
    if (x === y) return a.id - b.id;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir;
  });
  const body = $('trials').tBodies[0]; body.replaceChildren();
  for (const n of rows) {
    const r = el('tr'); r.dataset.node = n.id; r.dataset.status = n.outcome;
    if (n.best) r.className = 'best';
    for (const [k] of columns) {
      const v = value(n, k);
      r.appendChild(el('td', k === 'r2' ? f4(v) : k === 'minutes' ? (v === null ? '-' : v.toFixed(2)) : v === null ? '-' : v, k === 'mutation' ? 'text' : undefined));
    }
    r.addEventListener('click', () => showNode(n.id));
    body.appendChild(r);
  }
}

function renderFigures() {
  const box = $('figures'); box.replaceChildren();
  for (const f of data.figures) {
    box.appendChild(el('h3', f.title));
    const img = el('img'); img.alt = f.title; img.dataset.figure = f.name;
    img.src = '/api/studies/' + current + '/figures/' + f.name + '?v=' + data.lines;
    box.appendChild(img);
  }
}

async function showNode(id) {
  openNode = id;
  const n = await (await fetch('/api/studies/' + current + '/nodes/' + id)).json();
  const box = $('node'); box.replaceChildren();
  box.appendChild(el('h2', 'Node ' + n.id + (n.parent !== null ? ' (child of ' + n.parent + ')' : '') + ': ' + n.outcome));
  box.appendChild(el('p', 'Mutation: ' + n.mutation));
  const obs = el('p', 'Observation: ' + (n.observation ?? '(none yet)')); obs.id = 'observation'; box.appendChild(obs);
  if (n.failure) box.appendChild(el('p', 'Failure: ' + n.failure));
  if (n.pruned) box.appendChild(el('p', 'Pruned by ' + n.pruned.by + ' at step ' + n.pruned.step + ': ' + n.pruned.reason));
  box.appendChild(el('pre', Object.entries(n.inr).map(([k, v]) => k + ': ' + v).join('\n')));
  for (const f of n.figures) {
    const img = el('img'); img.alt = f; img.src = '/api/studies/' + current + '/nodes/' + n.id + '/figures/' + f;
    box.appendChild(img);
  }
}

async function load() {
  data = await (await fetch('/api/studies/' + current)).json();
  const done = data.nodes.filter((n) => n.status === 'finished' || n.status === 'failed').length;
  const best = data.nodes.find((n) => n.best);
  $('summary').textContent = data.label + ': ' + data.nodes.length + ' trials (' + done + ' done) of ' + data.iterations + ', agent ' + data.agent + (best ? '; best R2 ' + f4(best.r2) + ' (node ' + best.id + ')' : '');
  document.body.dataset.lines = data.lines;
  renderRunning(); renderTable(); renderFigures();
}

async function start() {
  const studies = await (await fetch('/api/studies')).json();
  const nav = $('studies');
  for (const s of studies) {
    const b = el('button', s.label); b.addEventListener('click', () => { current = s.id; openNode = null; $('node').replaceChildren(); for (const x of nav.children) x.classList.remove('on'); b.classList.add('on'); load(); });
    if (s.id === current) b.classList.add('on');
    nav.appendChild(b);
  }
  await load();
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => { $('live').textContent = '(live)'; });
  events.addEventListener('error', () => { $('live').textContent = '(reconnecting)'; });
  events.addEventListener('journal', (e) => { const m = JSON.parse(e.data); if (m.study === current) { load(); if (openNode !== null) showNode(openNode); } });
  setInterval(() => { if (data && data.nodes.some((n) => n.status === 'running')) renderRunning(); }, 1000);
}
start();
`;
