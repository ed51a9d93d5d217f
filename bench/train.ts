/**
 * Training and evaluation speed of the CPU engine against PyTorch on the same
 * shapes, in one run (see docs/performance.md for the figures and the rules).
 *
 *   npm run bench:train [-- --quick] [-- --eval-frames N] [-- --no-torch] [-- --threads T]
 *
 * Training: hidden 128, 384 and 1024, 3 hidden layers, 8 frames x 1000 cells
 * = 8000 points per step, synthetic data; steps/s, points/s and effective
 * GFLOP/s (6 (4h + L h^2 + 3h) FLOPs per point per step). If /usr/bin/python3
 * imports torch, ../shared/bench/torch_siren_ref.py runs the same shapes and
 * the ratio is printed; numpy's SGEMM rate is printed as the ceiling.
 * Evaluation: forward passes over 9997 frames x 1000 cells at hidden 384
 * (the `dicty` preset's full data), against bench/torch_eval.py.
 * Runs one thing at a time: never start it beside another benchmark.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { createEngine } from '../src/inr/engines/index.js';
import { flopsPerPoint, initParameters, sirenSpec } from '../src/inr/spec.js';
import { Rng } from '../src/util/rng.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('--quick');
const threads = option('--threads', cpus().length);
const evalFrames = option('--eval-frames', quick ? 500 : 9997);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const torchScript = join(root, '..', 'shared', 'bench', 'torch_siren_ref.py');
const torchEval = join(root, 'bench', 'torch_eval.py');

const CELLS = 1000, BATCH = 8, LAYERS = 3, OMEGA = 10, FRAMES = 200;
const POINTS = CELLS * BATCH;
const shapes = [
  { hidden: 128, steps: quick ? 20 : 100, torchSteps: quick ? 20 : 100 },
  { hidden: 384, steps: quick ? 6 : 30, torchSteps: quick ? 6 : 30 },
  { hidden: 1024, steps: quick ? 2 : 8, torchSteps: quick ? 2 : 6 },
];

function sh(cmd: string, argv: string[], env?: NodeJS.ProcessEnv): string | null {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 1 << 24 });
  return r.status === 0 ? r.stdout : null;
}

function machine(): string {
  const lscpu = sh('lscpu', []) ?? '';
  const model = /Model name:\s*(.+)/.exec(lscpu)?.[1].trim() ?? cpus()[0]?.model ?? 'unknown';
  return `${model}, ${cpus().length} cores, node ${process.version}`;
}

/** Synthetic cell tracks like the torch reference's: a random walk in the unit box. */
function syntheticSeries(frames: number, cells: number): { pos: Float32Array; vel: Float32Array } {
  const rng = new Rng(0);
  const pos = new Float32Array(frames * cells * 3), vel = new Float32Array(frames * cells * 3);
  for (let c = 0; c < cells * 3; c++) pos[c] = rng.uniform();
  for (let f = 1; f < frames; f++) {
    for (let c = 0; c < cells * 3; c++) pos[f * cells * 3 + c] = pos[(f - 1) * cells * 3 + c] + 0.002 * (2 * rng.uniform() - 1);
  }
  for (let f = 0; f < frames; f++) {
    const a = Math.min(f, frames - 2);
    for (let c = 0; c < cells * 3; c++) vel[f * cells * 3 + c] = (pos[(a + 1) * cells * 3 + c] - pos[a * cells * 3 + c]) / 0.002;
  }
  return { pos, vel };
}

/** (t, x, y, z) rows and velocity targets of the given frames, as the trainer builds them. */
function fillBatch(series: { pos: Float32Array; vel: Float32Array }, frames: number, ids: number[], x: Float32Array, y: Float32Array): void {
  let n = 0;
  for (const f of ids) {
    for (let c = 0; c < CELLS; c++, n++) {
      const src = (f * CELLS + c) * 3;
      x[n * 4] = f / frames;
      x[n * 4 + 1] = series.pos[src];
      x[n * 4 + 2] = series.pos[src + 1];
      x[n * 4 + 3] = series.pos[src + 2];
      y[n * 3] = series.vel[src];
      y[n * 3 + 1] = series.vel[src + 1];
      y[n * 3 + 2] = series.vel[src + 2];
    }
  }
}

function trainSpeed(hidden: number, steps: number): number {
  const spec = sirenSpec(hidden, LAYERS, OMEGA);
  const engine = createEngine('cpu', { threads });
  const model = engine.createModel(spec, initParameters(spec, 0), POINTS);
  const series = syntheticSeries(FRAMES, CELLS);
  const rng = new Rng(1);
  const x = new Float32Array(POINTS * 4), y = new Float32Array(POINTS * 3);
  const step = (s: number, total: number): void => {
    const ids = new Set<number>();
    while (ids.size < BATCH) ids.add(Math.floor(rng.uniform() * FRAMES));
    fillBatch(series, FRAMES, [...ids], x, y);
    const lr = 1e-6 + 0.5 * (1e-4 - 1e-6) * (1 + Math.cos((Math.PI * s) / total));
    model.trainStep(x, y, POINTS, lr, REFERENCE_ADAM);
  };
  for (let s = 0; s < 3; s++) step(s, steps);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) step(s, steps);
  const secs = (performance.now() - t0) / 1000;
  model.dispose();
  return steps / secs;
}

function evalSpeed(frames: number): number {
  const spec = sirenSpec(384, LAYERS, OMEGA);
  const model = createEngine('cpu', { threads }).createModel(spec, initParameters(spec, 0), POINTS);
  const rng = new Rng(2);
  const pos = new Float32Array(CELLS * 3).map(() => rng.uniform());
  const x = new Float32Array(POINTS * 4), out = new Float32Array(POINTS * 3);
  const t0 = performance.now();
  for (let f0 = 0; f0 < frames; f0 += BATCH) {
    const nf = Math.min(BATCH, frames - f0);
    for (let k = 0; k < nf * CELLS; k++) {
      x[k * 4] = (f0 + Math.floor(k / CELLS)) / frames;
      const c = (k % CELLS) * 3;
      x[k * 4 + 1] = pos[c];
      x[k * 4 + 2] = pos[c + 1];
      x[k * 4 + 3] = pos[c + 2];
    }
    model.predict(x, nf * CELLS, out);
  }
  const secs = (performance.now() - t0) / 1000;
  model.dispose();
  return secs;
}

function torchAvailable(): boolean {
  return !flag('--no-torch') && existsSync('/usr/bin/python3') && sh('/usr/bin/python3', ['-c', 'import torch']) !== null;
}

function torchTrain(hidden: number, steps: number): number | null {
  if (!existsSync(torchScript)) return null;
  const out = sh('/usr/bin/python3', [torchScript, '--hidden', String(hidden), '--layers', String(LAYERS), '--batch', String(BATCH),
    '--cells', String(CELLS), '--frames', String(FRAMES), '--steps', String(steps), '--threads', String(threads)]);
  const m = out ? /steps\/s\s+([\d.]+)/.exec(out) : null;
  return m ? Number(m[1]) : null;
}

function torchEvalSeconds(frames: number): number | null {
  const out = sh('/usr/bin/python3', [torchEval, '--frames', String(frames), '--cells', String(CELLS), '--hidden', '384',
    '--layers', String(LAYERS), '--batch-frames', String(BATCH), '--threads', String(threads)]);
  const m = out ? /eval_s\s+([\d.]+)/.exec(out) : null;
  return m ? Number(m[1]) : null;
}

/** numpy's float32 matmul rate with OpenBLAS free to pick its best kernels (this command only). */
function sgemmRate(): number | null {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const code = [
    'import numpy as np, time',
    'n = 4096',
    'a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)',
    'a @ b',
    'best = 0.0',
    'for _ in range(5):',
    '    t = time.perf_counter(); a @ b; best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)',
    'print(best)',
  ].join('\n');
  const out = sh('python3', ['-c', code], env);
  return out ? Number(out.trim()) : null;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

const engine = createEngine('cpu', { threads });
console.log(`machine: ${machine()}`);
console.log(`engine: cpu, isa ${engine.isa}, ${engine.threads} threads; load average before: ${loadavg().map(f2).join(' ')}`);
if (loadavg()[0] > 0.5) console.log('warning: the machine is not idle; figures will be low');
const sgemm = sgemmRate();
console.log(`numpy SGEMM (4096^3, ${threads} threads, OpenBLAS own kernels): ${sgemm ? f1(sgemm) + ' GFLOP/s' : 'unavailable'}`);
const torch = torchAvailable();
if (!torch) console.log('PyTorch: not available (/usr/bin/python3 cannot import torch); ratios skipped');

console.log('\nhidden  layers  points/step   steps/s    points/s   GFLOP/s  torch steps/s  vs torch  vs SGEMM');
for (const { hidden, steps, torchSteps } of shapes) {
  const rate = trainSpeed(hidden, steps);
  const gflops = (rate * POINTS * flopsPerPoint(sirenSpec(hidden, LAYERS, OMEGA))) / 1e9;
  const t = torch ? torchTrain(hidden, torchSteps) : null;
  console.log(
    `${String(hidden).padStart(6)}  ${String(LAYERS).padStart(6)}  ${String(POINTS).padStart(11)}  ${f2(rate).padStart(8)}  ${(rate * POINTS).toExponential(2).padStart(10)}  ${f1(gflops).padStart(8)}` +
      `  ${(t ? f2(t) : '-').padStart(13)}  ${(t ? f2(rate / t) + 'x' : '-').padStart(8)}  ${(sgemm ? ((100 * gflops) / sgemm).toFixed(0) + '%' : '-').padStart(8)}`,
  );
}

const points = evalFrames * CELLS;
const ours = evalSpeed(evalFrames);
const fwdFlops = (points * flopsPerPoint(sirenSpec(384, LAYERS, OMEGA))) / 3;
console.log(`\nfull-data evaluation: ${evalFrames} frames x ${CELLS} cells = ${points} points, hidden 384, ${LAYERS} layers, ${BATCH} frames per forward`);
console.log(`  cpu engine: ${f2(ours)} s  (${(points / ours).toExponential(2)} points/s, ${f1(fwdFlops / ours / 1e9)} GFLOP/s)`);
if (torch) {
  const t = torchEvalSeconds(evalFrames);
  if (t) console.log(`  PyTorch:    ${f2(t)} s  (${(points / t).toExponential(2)} points/s)  -> cpu engine ${f2(t / ours)}x faster`);
}
console.log(`\nload average after: ${loadavg().map(f2).join(' ')}`);
