/**
 * Figure, report and dashboard speed (docs/figures.md, "Speed"). Run it alone:
 * never beside another benchmark.
 *
 *   npm run bench:figures [-- --trials 500] [-- --frames 10000 --cells 1000]
 *
 * 1. A study of --trials simulated trials (the one study loop over a model
 *    objective, a real journal): the time `inrscape report` takes on it.
 * 2. A run folder of full scale (--frames x --cells x 3 values, truth and a
 *    noisy prediction): the time its six figures take (load, bin, SVG, PNG),
 *    and its animation apart.
 * 3. A dashboard over the study: from a line appended to the journal to the
 *    event reaching a client and the state fetched again, 20 times.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../src/config/schema.js';
import { encodeNpy } from '../src/data/formats/npy.js';
import { FRAME_MSE_FILE, GT_FILE, PRED_FILE, RUN_JSON } from '../src/inr/run-folder.js';
import { evaluationEvery } from '../src/inr/schedule.js';
import { createAgent } from '../src/study/agents/index.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { Journal } from '../src/study/journal.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import { initialState } from '../src/study/state.js';
import { hasFfmpeg, writeAnimation } from '../src/view/animation.js';
import { startDashboard } from '../src/view/dashboard/server.js';
import { writeReport } from '../src/view/report.js';
import { loadRunData } from '../src/view/run-data.js';
import { runFigures } from '../src/view/run-figures.js';
import { render } from '../src/view/write.js';
import { option } from './args.js';

const trials = Number(option('--trials', '500'));
const frames = Number(option('--frames', '10000'));
const cells = Number(option('--cells', '1000'));

const objective: Objective = (inr) => {
  const r2 = 0.999 * Math.exp(-((Math.log(inr.omega_inr / 25)) ** 2) / 4 - ((Math.log10(inr.inr_learning_rate / 3e-4)) ** 2) / 8);
  const every = evaluationEvery(inr.inr_total_steps);
  const evaluations = Array.from({ length: 10 }, (_, k) => ({ step: (k + 1) * every, r2: r2 * (1 - Math.exp(-3 * (k + 1) / 10)), mse: 1 - r2, slope: 1, time_s: k + 1 }));
  return { metrics: { final_r2: r2, final_mse: 1 - r2, slope: 1, training_time_min: inr.inr_total_steps / 1e5 }, evaluations };
};

/** A run folder of the given scale; its truth is a smooth field, its prediction that plus noise. */
function fullScaleRun(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const n = frames * cells * 3;
  const truth = new Float32Array(n);
  const pred = new Float32Array(n);
  const pos = new Float32Array(n);
  let seed = 1;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let c = 0; c < cells; c++) {
    const x0 = rand(), y0 = rand(), z0 = rand(), phase = 6.28 * rand();
    for (let f = 0; f < frames; f++) {
      const i = (f * cells + c) * 3;
      const a = phase + f * 0.01;
      truth[i] = 0.3 * Math.cos(a); truth[i + 1] = 0.3 * Math.sin(a); truth[i + 2] = 0.05 * Math.sin(2 * a);
      for (let k = 0; k < 3; k++) pred[i + k] = truth[i + k] + 0.02 * (rand() - 0.5);
      pos[i] = (x0 + 0.1 * Math.sin(a)) % 1; pos[i + 1] = (y0 + 0.1 * Math.cos(a)) % 1; pos[i + 2] = z0;
    }
  }
  const shape = [frames, cells, 3];
  writeFileSync(join(dir, PRED_FILE), encodeNpy(pred, shape));
  writeFileSync(join(dir, GT_FILE), encodeNpy(truth, shape));
  writeFileSync(join(dir, 'pos.npy'), encodeNpy(pos, shape));
  writeFileSync(join(dir, FRAME_MSE_FILE), encodeNpy(new Float32Array(frames).map((_, f) => 1e-4 * (1 + 0.5 * Math.sin(f / 100))), [frames]));
  const steps = Array.from({ length: 2000 }, (_, i) => (i + 1) * 250);
  writeFileSync(join(dir, RUN_JSON), JSON.stringify({
    format: 'inrscape-run', version: 1, status: 'ok', seed: 1, steps_done: 500000, total_steps: 500000, time_limited: false, resumed_at: [],
    dataset: { dir }, ground_truth: GT_FILE, metrics: { final_mse: 1.3e-4, final_r2: 0.9985, slope: 0.999, final_r2_cod: 0.9985 },
    evaluations: Array.from({ length: 10 }, (_, k) => ({ step: (k + 1) * 50000, r2: 0.9985 * (1 - Math.exp(-(k + 1))), mse: 1e-3, slope: 1, r2_cod: 0.99, time_s: k })),
    loss_history: { every: 250, step: steps, loss: steps.map((s) => 1e-2 * Math.exp(-s / 1e5) + 1e-4) },
  }));
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function main(): Promise<void> {
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  console.log(`bench:figures: ${/Model name:\s*(.+)/.exec(lscpu)?.[1].trim() ?? 'unknown CPU'}, ${cpus().length} cores`);
  const root = mkdtempSync(join(tmpdir(), 'inrscape-bench-figures-'));
  try {
    const dir = join(root, 'study');
    const created = studyCreatedEvent(parseConfig('{}').config, { agent: 'tpe', iterations: trials, slots: 4, block: 24, seed: 1, maxTrialMinutes: 60 });
    const { journal, entry } = Journal.create(dir, created);
    let t0 = process.hrtime.bigint();
    await simulateStudy(created, { agent: createAgent('tpe') }, objective, { journal, state: initialState(entry) });
    console.log(`a simulated study of ${trials} trials: ${seconds(t0).toFixed(1)} s to run (not counted)`);
    t0 = process.hrtime.bigint();
    await writeReport([dir], join(root, 'report.html'));
    console.log(`report of ${trials} trials (7 figures, SVG inline, PNG folder, markdown): ${seconds(t0).toFixed(2)} s (target <= 10 s)`);

    const run = join(root, 'run');
    t0 = process.hrtime.bigint();
    fullScaleRun(run);
    console.log(`\na run folder of ${frames} frames x ${cells} cells (${(frames * cells).toLocaleString('en')} points): ${seconds(t0).toFixed(1)} s to write (not counted)`);
    t0 = process.hrtime.bigint();
    const data = loadRunData(run);
    const figures = runFigures(data);
    const drawn = await render(figures);
    console.log(`its ${drawn.length} figures (load, bin, SVG, PNG): ${seconds(t0).toFixed(2)} s (target <= 5 s)`);
    t0 = process.hrtime.bigint();
    const video = await writeAnimation(data, join(root, 'animation'));
    console.log(`its animation (${Math.ceil(frames / 10)} frames, ${hasFfmpeg() ? 'MP4 through ffmpeg' : 'GIF'}): ${seconds(t0).toFixed(2)} s -> ${video?.split('.').pop()}`);

    const d = await startDashboard([dir], { port: 0, host: '127.0.0.1' });
    const res = await fetch(`${d.url}api/events`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const nextJournalEvent = async (): Promise<void> => {
      for (;;) {
        if (/event: journal\n/.test(buffered)) {
          buffered = buffered.slice(buffered.indexOf('event: journal\n') + 15);
          return;
        }
        const { value } = await reader.read();
        buffered += decoder.decode(value);
      }
    };
    const { journal: writer } = Journal.open(dir);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = process.hrtime.bigint();
      writer.append({ type: 'settings_changed', iterations: trials + i + 1 });
      await nextJournalEvent();
      await (await fetch(`${d.url}api/studies/0`)).json();
      latencies.push(seconds(t) * 1000);
      await new Promise((r) => setTimeout(r, 50 + 17 * (i % 7)));
    }
    writer.close();
    await reader.cancel();
    await d.close();
    latencies.sort((a, b) => a - b);
    console.log(`\ndashboard update (journal line -> event at a client -> state fetched), ${trials}-trial study, 20 times: median ${latencies[10].toFixed(0)} ms, max ${latencies[19].toFixed(0)} ms (target < 1000 ms)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
