/**
 * Study benchmarks on dicty-small (docs/performance.md, "Study agents" and
 * "Study concurrency"). Runs one thing at a time: never start it beside
 * another benchmark.
 *
 *   npm run bench:study [-- --trials 12] [-- --slots 2] [-- --seeds 0,1,2] [-- --agents rules,tpe,random] [-- --budget 0.15]
 *     every agent, every seed: a study of --trials trials in batches of --slots,
 *     the same base config, search space, budget per trial and seeds; prints the
 *     best R2 after every batch per agent and seed, and the median over seeds.
 *
 *   npm run bench:study -- --concurrency [--trials 4]
 *     the same trials run one at a time with 2 threads, then two at a time with
 *     1 thread each (on a 2-core machine); prints the wall time of each.
 *
 * Trials are real `inrscape train` children (the local runner), in a temp
 * folder removed at the end (--keep keeps it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../src/config/schema.js';
import { planConcurrency } from '../src/exec/concurrency.js';
import { LocalRunner } from '../src/exec/local.js';
import { runPool, type TrialRequest } from '../src/exec/runner.js';
import { studyPrior } from '../src/cli/study-prior.js';
import { configFile, runDir } from '../src/study/files.js';
import { createStudy, runLoop } from '../src/study/loop.js';
import { renderTrialConfig } from '../src/study/render/configs.js';
import { bestNode } from '../src/study/tree.js';
import type { StudyState } from '../src/study/state.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { flag, option } from './args.js';
import { median } from '../src/util/stats.js';


function machine(): string {
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  const model = /Model name:\s*(.+)/.exec(lscpu)?.[1].trim() ?? cpus()[0]?.model ?? 'unknown';
  return `${model}, ${cpus().length} cores, node ${process.version}`;
}

/** The benchmark's base config: dicty-small, the protocol's defaults, the CPU preset's step range; budget per trial from --budget. */
function benchConfig(budget: number, slots: number, trials: number): string {
  return `dataset: {preset: dicty-small}
study:
  iterations: ${trials}
  slots: ${slots}
  block: ${trials}
  max_trial_minutes: ${budget}
`;
}

const root = mkdtempSync(join(tmpdir(), 'inrscape-bench-study-'));
const keep = flag('--keep');
process.env.INRSCAPE_CACHE ??= join(process.cwd(), '.inrscape', 'datasets');

async function agentsBench(): Promise<void> {
  const trials = Number(option('--trials', '12'));
  const slots = Number(option('--slots', '2'));
  const budget = Number(option('--budget', '0.15'));
  const seeds = option('--seeds', '0,1,2').split(',').map(Number);
  const agents = option('--agents', 'rules,tpe,random').split(',') as ('rules' | 'tpe' | 'random')[];
  const plan = planConcurrency(slots, flag('--threads') ? { threads: Number(option('--threads', '1')) } : {});
  const { capacity, threads } = plan;
  console.log(`machine: ${machine()}; load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`dicty-small, ${trials} trials per study in batches of ${slots}, budget ${budget} min per trial, seeds ${seeds.join(', ')}; ${capacity} trials at a time, ${threads} thread(s) each`);
  const { config } = parseConfig(benchConfig(budget, slots, trials), 'bench');
  // The CLI's prior: this machine's measured rate (cached next to the data sets).
  const prior = await studyPrior({ kind: 'cpu', threads, trialsPerDevice: 1, here: true }, (msg) => console.log(msg));
  console.log(`cost prior: ${(prior / 1e9).toFixed(1)} GFLOP/s per trial`);
  const curves = new Map<string, number[][]>();
  const t0 = performance.now();
  for (const seed of seeds) {
    for (const agent of agents) {
      const dir = join(root, `${agent}-seed${seed}`);
      const study = await createStudy(dir, config, { agent, seed, command: 'bench:study' });
      const curve: number[] = [];
      const started = performance.now();
      try {
        await runLoop(study, {
          runner: new LocalRunner({ capacity, threads }),
          priorFlopsPerSecond: prior,
          onEvent: (entry, state) => {
            if (entry.event.type === 'agent_notes') curve.push(bestR2(state));
          },
        });
      } finally {
        study.close();
      }
      const secs = (performance.now() - started) / 1000;
      const failed = study.state.nodes.filter((n) => n.status === 'failed').length;
      const limited = study.state.nodes.filter((n) => n.metrics?.time_limited).length;
      console.log(`${agent.padEnd(6)} seed ${seed}: ${curve.map(f4).join('  ')}   (${secs.toFixed(0)} s; ${failed} failed, ${limited} stopped by the budget)`);
      const list = curves.get(agent) ?? [];
      list.push(curve);
      curves.set(agent, list);
    }
  }
  const batches = Math.max(...[...curves.values()].flat().map((c) => c.length));
  console.log(`\nbest R2 after each batch, median over ${seeds.length} seed(s) (total ${((performance.now() - t0) / 60000).toFixed(1)} min):\n`);
  console.log(`| agent | ${Array.from({ length: batches }, (_, i) => `after batch ${i + 1} (${Math.min(trials, (i + 1) * slots)} trials)`).join(' | ')} |`);
  console.log(`|---|${'---|'.repeat(batches)}`);
  for (const [agent, list] of curves) {
    const med = Array.from({ length: batches }, (_, i) => median(list.map((c) => c[i] ?? c[c.length - 1])));
    console.log(`| ${agent} | ${med.map(f4).join(' | ')} |`);
  }
}

/** Best R2 among finished trials within budget (0 when none). */
function bestR2(state: StudyState): number {
  return bestNode(state)?.metrics?.final_r2 ?? 0;
}

const f4 = (x: number): string => x.toFixed(4);

/** The same trials, 1 x 2 threads and then 2 x 1 thread: wall time of each. */
async function concurrencyBench(): Promise<void> {
  const trials = Number(option('--trials', '4'));
  console.log(`machine: ${machine()}; load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const { config } = parseConfig(`dataset: {preset: dicty-small}
inr: {omega_inr: 10, inr_learning_rate: 1.0e-3, hidden_dim_inr: 256, n_layers_inr: 3, inr_total_steps: 800, inr_batch_size: 8}
study: {iterations: ${trials}, slots: ${trials}, block: ${trials}}
`, 'bench');
  // One study folder only for its data set and config snapshots; the trials run straight through the runner.
  const study = await createStudy(join(root, 'concurrency'), config, { command: 'bench:study --concurrency' });
  const dataset = study.state.created.dataset_dir!;
  study.close();
  const cfg = join(root, 'concurrency', configFile(1, 0));
  writeFileAtomic(cfg, renderTrialConfig(study.state, { inr: config.inr } as never));
  const rows: string[] = [];
  for (const [capacity, threads] of [[1, 2], [2, 1], [1, 1]] as const) {
    const runner = new LocalRunner({ capacity, threads });
    const reqs: TrialRequest[] = Array.from({ length: trials }, (_, i) => ({
      node: i + 1, attempt: 1, config: cfg, dataset, out: join(root, `c${capacity}x${threads}`, runDir(i + 1, 0)),
      log: join(root, `c${capacity}x${threads}`, `${runDir(i + 1, 0)}.log`), maxMinutes: 60, seed: i + 1, threads, inr: config.inr,
    }));
    const t0 = performance.now();
    const minutes: number[] = [];
    await runPool(reqs, capacity, async (r) => {
      const o = await runner.run(r);
      if (o.status !== 'finished') throw new Error(`trial failed: ${o.reason}`);
      minutes.push(o.metrics.training_time_min);
    });
    const wall = (performance.now() - t0) / 1000;
    const mean = (minutes.reduce((a, b) => a + b, 0) / minutes.length) * 60;
    rows.push(`| ${capacity} x ${threads} | ${trials} | ${wall.toFixed(1)} | ${(wall / trials).toFixed(1)} | ${mean.toFixed(1)} |`);
    console.log(rows[rows.length - 1]);
  }
  console.log(`\nhidden 256, 3 layers, 800 steps of 8 frames on dicty-small (250 cells x 200 frames)\n`);
  console.log('| trials at once x threads | trials | wall s | wall s per trial | training s per trial (mean) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

try {
  if (flag('--concurrency')) await concurrencyBench();
  else await agentsBench();
} finally {
  if (keep) console.log(`kept: ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
