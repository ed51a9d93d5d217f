import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import omggif from 'omggif';
import { PNG } from 'pngjs';
import { EXPLORABLE_KEYS } from '../src/config/search-space.js';
import { resolveSearchSpace } from '../src/config/schema.js';
import { journalPath, readJournal } from '../src/study/journal.js';
import { loadStudy } from '../src/study/loop.js';
import { animationFrames, hasFfmpeg, writeAnimation } from '../src/view/animation.js';
import { density } from '../src/view/bins.js';
import { pedAnova } from '../src/view/importance.js';
import { svgToPng, toSvg } from '../src/view/render.js';
import { loadRunData } from '../src/view/run-data.js';
import { runFigures } from '../src/view/run-figures.js';
import { importanceFigure, paretoFront, slicesFigure, treeFigure } from '../src/view/study-figures.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { makeTinyDataset } from './helpers/train.js';
import { waitFor, writeTinyStudyConfig } from './helpers/study.js';
import { simulatedStudyFolder } from './helpers/view.js';

/** A short real training run on dicty-tiny: its run folder. */
function trainTiny(root: string, steps: number): string {
  const ds = makeTinyDataset(join(root, 'tiny'));
  const config = join(root, 'train.yaml');
  writeFileSync(config, `dataset: {path: ${JSON.stringify(ds.dir)}}\ninr: {hidden_dim_inr: 16, n_layers_inr: 2, inr_total_steps: ${steps}, inr_batch_size: 2, inr_learning_rate: 1.0e-3}\n`);
  const run = join(root, 'run');
  const r = runCli(['train', config, '--out', run]);
  assert.equal(r.status, 0, r.stderr);
  return run;
}

type Layer = { data: { name?: string; values: Record<string, unknown>[] }; mark: { type: string } };

test('the tree figure has one mark per node, and its edges are exactly the journal\'s parents', async (t) => {
  const dir = join(tempDir(t), 'study');
  await simulatedStudyFolder(dir, { iterations: 24 });
  const state = loadStudy(dir);
  const layers = (treeFigure(state).spec as { layer: Layer[] }).layer;
  const nodes = layers.find((l) => l.data.name === 'nodes' && l.mark.type === 'circle')!.data.values;
  assert.deepEqual(nodes.map((n) => n.node), state.nodes.map((n) => n.id));
  const proposed = readJournal(journalPath(dir)).entries.flatMap((e) => (e.event.type === 'batch_proposed' ? e.event.trials : []));
  const parents = proposed.filter((p) => p.parent !== null).map((p) => `${p.parent}->${p.node}`).sort();
  const edges = layers.find((l) => l.data.name === 'edges' && l.mark.type === 'rule')!.data.values.map((e) => `${e.parent}->${e.child}`).sort();
  assert.ok(parents.length > 10);
  assert.deepEqual(edges, parents);
  // The best path runs from a root to the best node.
  const path = nodes.filter((n) => n.best_path).map((n) => n.node as number);
  assert.ok(path.length >= 2 && state.nodes[path[0] - 1].parent === null);
});

test('slices use a log axis exactly for the parameters whose search space is log', async (t) => {
  const dir = join(tempDir(t), 'study');
  await simulatedStudyFolder(dir, { agent: 'random', iterations: 16 });
  const state = loadStudy(dir);
  const charts = (slicesFigure(state).spec as { concat: { encoding: { x: { title: string; scale: { type?: string } } } }[] }).concat;
  assert.ok(charts.length >= 5);
  for (const c of charts) {
    const key = c.encoding.x.title as (typeof EXPLORABLE_KEYS)[number];
    assert.equal(c.encoding.x.scale.type === 'log', state.space[key].scale === 'log', key);
  }
  assert.ok(charts.some((c) => c.encoding.x.scale.type === 'log') && charts.some((c) => c.encoding.x.scale.type !== 'log'));
});

test('PED-ANOVA ranks first the parameter a synthetic study makes decisive', async (t) => {
  // R2 depends on the learning rate alone; the random agent spreads every parameter.
  const decisive = (inr: { inr_learning_rate: number; inr_total_steps: number }) => {
    const r2 = 0.999 - 0.2 * Math.log10(inr.inr_learning_rate / 3e-5) ** 2;
    return { metrics: { final_r2: r2, final_mse: 1 - r2, slope: 1, training_time_min: 1 } };
  };
  const dir = join(tempDir(t), 'study');
  await simulatedStudyFolder(dir, { agent: 'random', iterations: 60, objective: decisive });
  const ranked = (importanceFigure(loadStudy(dir)).spec as { data: { values: { key: string; importance: number }[] } }).data.values;
  assert.equal(ranked[0].key, 'inr_learning_rate');
  assert.ok(ranked[0].importance > 2 * ranked[1].importance, JSON.stringify(ranked));
  assert.ok(Math.abs(ranked.reduce((s, r) => s + r.importance, 0) - 1) < 1e-9);
  // A parameter that never varies has nothing to say.
  const space = resolveSearchSpace({ study: { search_space: {} } });
  const flat = pedAnova(Array.from({ length: 20 }, (_, i) => ({ values: { omega_inr: 10, inr_learning_rate: 1e-5 * (i + 1) }, score: i })), [space.omega_inr, space.inr_learning_rate]);
  assert.deepEqual(flat.map((f) => f.key), ['inr_learning_rate', 'omega_inr']);
  assert.ok(flat[1].importance < 1e-12);
});

test('the density scatter\'s counts sum to the number of finite points, on one range for both axes', () => {
  const n = 50_000;
  const truth = new Float32Array(n).map((_, i) => Math.sin(i));
  const pred = truth.map((v, i) => v + 0.01 * Math.cos(3 * i));
  pred[7] = Number.NaN;
  const d = density(truth, pred, 40);
  assert.equal(d.points, n - 1);
  assert.equal(d.nonFinite, 1);
  assert.equal(d.bins.reduce((s, b) => s + b.count, 0), n - 1);
  assert.ok(d.bins.every((b) => b.x0 >= d.lo && b.y1 <= d.hi + 1e-9 && b.count > 0));
});

test('the Pareto front keeps each trial that no faster trial beats', () => {
  const front = paretoFront([{ node: 1, minutes: 5, r2: 0.9 }, { node: 2, minutes: 2, r2: 0.95 }, { node: 3, minutes: 1, r2: 0.5 }, { node: 4, minutes: 8, r2: 0.99 }, { node: 5, minutes: 3, r2: 0.94 }]);
  assert.deepEqual(front, [3, 2, 4]);
});

test('a figure renders to SVG and to a PNG that decodes at twice its size and is not blank', async () => {
  const svg = await toSvg({ width: 200, height: 100, data: { values: [{ x: 1, y: 1 }, { x: 2, y: 3 }] }, mark: 'line', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } });
  const [w, h] = [Number(/width="(\d+)"/.exec(svg)![1]), Number(/height="(\d+)"/.exec(svg)![1])];
  const png = PNG.sync.read(svgToPng(svg));
  assert.deepEqual([png.width, png.height], [2 * w, 2 * h]);
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) colours.add(png.data.readUInt32BE(i));
  assert.ok(colours.size > 10, `${colours.size} colours`);
});

test('a real run\'s figures: every one renders, the density holds every value, and the animation has a frame for every 10th', async (t) => {
  const root = tempDir(t);
  const run = trainTiny(root, 60);
  const data = loadRunData(run);
  const figures = runFigures(data);
  assert.deepEqual(figures.map((f) => f.name), ['loss', 'r2', 'frame_mse', 'frames', 'density', 'kinograph']);
  const dens = figures.find((f) => f.name === 'density') as unknown as { points: number };
  assert.equal(dens.points, data.frames * data.cells * 3);
  for (const f of figures) assert.match(await toSvg(f.spec), /^<svg/);
  const gif = await writeAnimation(data, join(root, 'anim'), { ffmpeg: false });
  const reader = new omggif.GifReader(readFileSync(gif!));
  assert.equal(reader.numFrames(), animationFrames(data.frames).length);
  assert.equal(animationFrames(data.frames).length, Math.ceil(data.frames / 10));
  // The CLI writes the whole figures folder, and clears what a killed one left half-written.
  mkdirSync(join(run, '.figures.tmp-999999999'));
  writeFileSync(join(run, '.figures.tmp-999999999', 'loss.svg'), '<svg');
  const cli = runCli(['plot', 'run', run, '--video', 'gif']);
  assert.equal(existsSync(join(run, '.figures.tmp-999999999')), false);
  assert.equal(cli.status, 0, cli.stderr);
  assert.deepEqual(readdirSync(join(run, 'figures')).sort(), ['animation.gif', ...figures.flatMap((f) => [`${f.name}.png`, `${f.name}.svg`])].sort());
});

test('with ffmpeg installed the animation is an MP4 with a frame for every 10th', { skip: hasFfmpeg() ? false : 'ffmpeg is not installed' }, async (t) => {
  const root = tempDir(t);
  const run = trainTiny(root, 40);
  const data = loadRunData(run);
  const mp4 = await writeAnimation(data, join(root, 'anim'));
  assert.ok(mp4?.endsWith('.mp4') && existsSync(mp4));
  const { spawnSync } = await import('node:child_process');
  const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', mp4!], { encoding: 'utf8' });
  assert.equal(Number(probe.stdout.trim()), Math.ceil(data.frames / 10));
});

test('plot run on a folder that is not a run says so, and writes nothing', (t) => {
  const dir = tempDir(t);
  const r = runCli(['plot', 'run', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is not a run folder: it has no run\.json/);
  assert.deepEqual(readdirSync(dir), []);
  assert.match(runCli(['plot', 'run', dir, '--video', 'webm']).stderr, /--video must be one of auto, mp4, gif, got "webm"/);
});

test('a study draws each finished trial\'s figures into its run folder and ends by printing where its report is', async (t) => {
  const root = tempDir(t);
  const config = writeTinyStudyConfig(join(root, 'tiny.yaml'), { iterations: 2, slots: 2 });
  const dir = join(root, 'study');
  const r = runCli(['study', 'run', config, '--dir', dir], { env: { INRSCAPE_CACHE: join(root, 'cache') } });
  assert.equal(r.status, 0, r.stderr);
  const printed = /^report: (.+\.html) \(figures in (.+)\/, summary (.+\.md)\)$/m.exec(r.stdout);
  assert.ok(printed, r.stdout);
  const html = readFileSync(resolve(printed[1]), 'utf8');
  assert.match(html, /<h2>Study<\/h2>/);
  for (const n of loadStudy(dir).nodes) {
    await waitFor(`figures of node ${n.id}`, () => existsSync(join(dir, n.run_dir!, 'figures', 'density.png')), 60000);
  }
});
