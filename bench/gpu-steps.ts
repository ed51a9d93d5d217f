/**
 * Training steps/s of the torch engine on a GPU (or, for a smoke run, the
 * CPU), the way the trainer drives it: frames drawn by the trainer's sampler,
 * the cosine schedule, chunks of steps handed to the worker and awaited.
 *
 *   node dist/bench/gpu-steps.js --device cuda --python python3 \
 *     --hidden 128,384,1024 --precision fp32,tf32,bf16 --steps 20000 [--seconds 3] --json OUT.json
 *
 * Synthetic series of --frames 200 x --cells 1000, --batch 8 frames per step,
 * --layers 3 hidden sine layers, omega 10. One engine (one worker process)
 * per precision; per hidden size one model: opened (on CUDA the worker
 * compiles the sine layer and captures the step as a CUDA graph; `open_s`),
 * then a warm-up chunk, then --steps steps timed in chunks of at most
 * --chunk (2000). With --seconds S the timed steps are cut to about S
 * seconds at the warm-up chunk's rate (at least --min-steps). A case that
 * fails is recorded with its error and the rest still run; the JSON file is
 * rewritten after every case, so a run cut short keeps what it measured.
 * FLOP/s count 6 (4h + L h^2 + 3h) per point per step (flopsPerPoint).
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { PRECISIONS, type Precision } from '../src/config/engine.js';
import type { CellSeries } from '../src/data/series.js';
import { FrameSampler } from '../src/inr/batches.js';
import { REFERENCE_ADAM, type EngineModel, type EngineRecord } from '../src/inr/engine.js';
import { TorchEngine } from '../src/inr/engines/index.js';
import { cosineLr } from '../src/inr/schedule.js';
import { flopsPerPoint, initParameters, sirenSpec } from '../src/inr/spec.js';
import { Rng } from '../src/util/rng.js';

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}
function num(name: string, fallback: number, min = 1): number {
  const raw = option(name);
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name} = ${raw}: a number >= ${min} expected`);
  return v;
}
function list(name: string, fallback: string): string[] {
  return (option(name) ?? fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const device = option('--device') ?? 'cuda';
const python = option('--python') ?? process.env.INRSCAPE_PYTHON ?? 'python3';
const hiddens = list('--hidden', '128,384,1024').map((s) => {
  const h = Number(s);
  if (!Number.isInteger(h) || h < 1) throw new Error(`--hidden: ${s} is not a positive integer`);
  return h;
});
const precisions = list('--precision', 'fp32').map((p) => {
  if (!(PRECISIONS as readonly string[]).includes(p)) throw new Error(`--precision: ${p} is not one of ${PRECISIONS.join(', ')}`);
  return p as Precision;
});
const steps = Math.floor(num('--steps', 2000));
const seconds = option('--seconds') === undefined ? undefined : num('--seconds', 1, 0.01);
const minSteps = Math.floor(num('--min-steps', Math.min(steps, 100)));
const warmSteps = Math.floor(num('--warmup', Math.min(steps, 200)));
const chunkMax = Math.floor(num('--chunk', 2000));
const threadsRaw = option('--threads');
const threads = threadsRaw === undefined ? undefined : Math.floor(num('--threads', 1));
const FRAMES = Math.floor(num('--frames', 200)), CELLS = Math.floor(num('--cells', 1000));
const BATCH = Math.floor(num('--batch', 8)), LAYERS = Math.floor(num('--layers', 3));
const OMEGA = num('--omega', 10, 0);
const jsonOut = option('--json');
const POINTS = BATCH * CELLS;
const TOTAL_FOR_LR = 500_000; // the protocol's schedule length: the learning rate barely moves over a benchmark

/** A random walk in the unit box, velocities by forward differences (as bench/train.ts). */
function syntheticSeries(frames: number, cells: number): CellSeries {
  const rng = new Rng(0);
  const n = cells * 3;
  const pos = new Float32Array(frames * n), vel = new Float32Array(frames * n);
  for (let c = 0; c < n; c++) pos[c] = rng.uniform();
  for (let f = 1; f < frames; f++) for (let c = 0; c < n; c++) pos[f * n + c] = pos[(f - 1) * n + c] + 0.002 * (2 * rng.uniform() - 1);
  for (let f = 0; f < frames; f++) {
    const a = Math.min(f, frames - 2);
    for (let c = 0; c < n; c++) vel[f * n + c] = (pos[(a + 1) * n + c] - pos[a * n + c]) / 0.002;
  }
  return { frames, cells, pos, vel, extras: {} };
}

interface Case {
  hidden: number;
  layers: number;
  precision: Precision;
  ok: boolean;
  error?: string;
  open_s?: number;
  warmup_steps?: number;
  warmup_steps_per_s?: number;
  steps?: number;
  seconds?: number;
  steps_per_s?: number;
  points_per_s?: number;
  tflops?: number;
  graphs?: boolean;
  compiled?: boolean;
  last_loss?: number;
}

const series = syntheticSeries(FRAMES, CELLS);
const scaling = { frames: FRAMES, tPeriod: 1, xyPeriod: 1 };
const cases: Case[] = [];
let record: EngineRecord | undefined;
const started = new Date().toISOString();

function save(): void {
  if (!jsonOut) return;
  const out = {
    bench: 'gpu-steps',
    started_at: started,
    host: hostname(),
    node: process.version,
    device,
    python,
    engine: record ?? null,
    shape: { frames: FRAMES, cells: CELLS, batch: BATCH, layers: LAYERS, omega: OMEGA, points_per_step: POINTS },
    steps,
    seconds: seconds ?? null,
    chunk: chunkMax,
    cases,
  };
  writeFileSync(jsonOut, `${JSON.stringify(out, null, 2)}\n`);
}

/** Run `n` steps from `from` in chunks of at most chunkMax, each awaited; returns the last loss. */
async function run(model: EngineModel, rng: Rng, sampler: FrameSampler, from: number, n: number): Promise<number> {
  const ids = new Int32Array(chunkMax * BATCH), lrs = new Float64Array(chunkMax);
  let last = NaN;
  for (let s = from; s < from + n; s += chunkMax) {
    const k = Math.min(chunkMax, from + n - s);
    for (let j = 0; j < k; j++) {
      sampler.sample(rng, ids.subarray(j * BATCH, (j + 1) * BATCH));
      lrs[j] = cosineLr(1e-4, TOTAL_FOR_LR, s + j);
    }
    const r = await model.trainChunk(ids.subarray(0, k * BATCH), lrs.subarray(0, k));
    last = r.losses[k - 1];
  }
  return last;
}

const f2 = (x: number): string => x.toFixed(2);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);

function line(c: Case): string {
  const head = `${String(c.hidden).padStart(6)}  ${c.precision.padEnd(4)}`;
  if (!c.ok) return `${head}  FAILED: ${c.error}`;
  return `${head}  ${f2(c.steps_per_s!).padStart(10)}  ${c.points_per_s!.toExponential(2).padStart(9)}  ${c.tflops!.toPrecision(3).padStart(7)}` +
    `  ${String(c.graphs).padEnd(6)}  ${String(c.compiled).padEnd(8)}  ${f2(c.open_s!).padStart(6)}  ${String(c.steps).padStart(7)}`;
}

console.log(`gpu-steps: device ${device}, python ${python}, ${FRAMES} frames x ${CELLS} cells, batch ${BATCH} (${POINTS} points/step), ${LAYERS} hidden layers, omega ${OMEGA}`);
console.log(`steps ${steps}${seconds !== undefined ? ` (cut to ~${seconds} s per case)` : ''}, chunks of <= ${chunkMax}, warm-up ${warmSteps}`);
let printedHeader = false;
for (const precision of precisions) {
  let engine: TorchEngine;
  try {
    engine = await TorchEngine.start({ python, device, precision, threads, onStderr: (l) => process.stderr.write(`[worker] ${l}\n`) });
  } catch (err) {
    for (const hidden of hiddens) {
      const c: Case = { hidden, layers: LAYERS, precision, ok: false, error: `engine start: ${message(err)}` };
      cases.push(c);
      console.log(line(c));
    }
    save();
    continue;
  }
  if (!record) {
    record = engine.record;
    console.log(`engine: torch ${record.torch} on ${record.device} (${record.device_name}), python ${record.python_version}`);
  }
  if (!printedHeader) {
    console.log('hidden  prec     steps/s   points/s  TFLOP/s  graphs  compiled  open_s    steps');
    printedHeader = true;
  }
  for (const hidden of hiddens) {
    const c: Case = { hidden, layers: LAYERS, precision, ok: false };
    let model: EngineModel | undefined;
    try {
      const spec = sirenSpec(hidden, LAYERS, OMEGA);
      const t0 = performance.now();
      model = await engine.open(spec, initParameters(spec, 0), { series, scaling, batch: BATCH, adam: REFERENCE_ADAM });
      c.open_s = (performance.now() - t0) / 1000;
      const mode = (model as unknown as { mode?: { graphs: boolean; compiled: boolean } }).mode;
      c.graphs = mode?.graphs ?? false;
      c.compiled = mode?.compiled ?? false;
      const rng = new Rng(1);
      const sampler = new FrameSampler(FRAMES, BATCH);
      // The first chunk: on CUDA the first replays, the allocator, the pinned buffers.
      const w0 = performance.now();
      await run(model, rng, sampler, 0, warmSteps);
      const warmRate = warmSteps / ((performance.now() - w0) / 1000);
      c.warmup_steps = warmSteps;
      c.warmup_steps_per_s = warmRate;
      const n = seconds === undefined ? steps : Math.max(Math.min(minSteps, steps), Math.min(steps, Math.round(warmRate * seconds)));
      const t1 = performance.now();
      c.last_loss = await run(model, rng, sampler, warmSteps, n);
      const secs = (performance.now() - t1) / 1000;
      c.steps = n;
      c.seconds = secs;
      c.steps_per_s = n / secs;
      c.points_per_s = c.steps_per_s * POINTS;
      c.tflops = (c.points_per_s * flopsPerPoint(spec)) / 1e12;
      c.ok = Number.isFinite(c.last_loss);
      if (!c.ok) c.error = `loss is ${c.last_loss} after ${warmSteps + n} steps`;
    } catch (err) {
      c.error = message(err);
    }
    try {
      await model?.dispose();
    } catch (err) {
      c.error ??= `dispose: ${message(err)}`;
    }
    cases.push(c);
    console.log(line(c));
    save();
  }
  await engine.close().catch(() => undefined);
}
save();
if (jsonOut) console.log(`wrote ${jsonOut}`);
process.exitCode = cases.every((c) => c.ok) ? 0 : 1;
