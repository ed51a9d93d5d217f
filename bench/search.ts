/**
 * The search benchmark on a simulated objective (docs/performance.md, "The
 * search benchmark"): every agent, with no pruner, the median pruner and ASHA, on
 * three problems, many seeds, through the one study loop with a runner that
 * scores trials by a model of the protocol's workload instead of training.
 * Hundreds of studies in about a minute. One thing at a time: never beside
 * another benchmark.
 *
 *   npm run bench:search [-- --seeds 20] [-- --iterations 48] [-- --agents rules,tpe,random,hybrid] [-- --figure FILE.svg]
 *   npm run bench:search -- --real [--seeds 0,1,2] [--agents rules,rules+asha,tpe,hybrid] [--problems default,tight,poor-base] [--keep DIR] [--tight-minutes M]
 *     the Quick start's problem (dicty-small, 8 trials in batches of 2, 2-min
 *     budget; tight: half the minutes the base config trains here; poor-base: base omega 1) as real
 *     studies (`inrscape study run`), each agent with the pruner after its +, beside the anchor:
 *     Optuna's TPESampler (bench/optuna_anchor.py, Debian's python3-optuna)
 *     running the same `inrscape train` trials with the same space, budget,
 *     parallelism and trial seeds, the base config enqueued as its first trial.
 *
 * The landscape (a model, not a measurement): a trial of h hidden units, L
 * layers, b frames per step and S steps costs 6 (4h + L h^2 + 3h) b 1000 S
 * FLOP at 5e12 FLOP/s (the cost model's prior for one GPU), so the protocol's
 * default trial takes 36 minutes. Its R2 approaches a ceiling set by omega
 * and the learning rate (a log-normal bowl around omega 25, lr 3e-4, less a
 * capacity term in h) as 1 - exp(-S b lr / 200); a budget stops it where its
 * time runs out (time-limited, R2 of the steps it did); omega lr above 0.05
 * diverges (a NaN loss, failed). Each seed adds its own small noise.
 *
 * Problems: `default` (the protocol's base config, 60-minute budget);
 * `tight` (a 15-minute budget: the base config does not fit); `poor-base`
 * (the base config's omega is 1, far too low).
 *
 * Printed: per problem, agent and pruner, the median (and range over seeds)
 * of the best R2 after each quarter of the trials; the median trials and
 * trial-minutes to reach R2 0.99 and 0.995 (with how many seeds reach them);
 * the trial-minutes the pruner used against none at the best R2 reached;
 * and the floor for any pruner (pruningFloor) from the studies without one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_STUDY_YAML } from '../src/cli/study.js';
import { defaultConfig, parseConfig } from '../src/config/schema.js';
import { EXPLORABLE_KEYS } from '../src/config/search-space.js';
import { resolveDataset } from '../src/data/resolve.js';
import { loadStudy } from '../src/study/loop.js';
import { trialSeed } from '../src/study/seeds.js';
import type { InrConfig } from '../src/config/inr.js';
import { evaluationEvery } from '../src/inr/schedule.js';
import { PRUNERS, type AgentName, type PrunerName } from '../src/config/study.js';
import { createAgent } from '../src/study/agents/index.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { simulateStudy, type Objective } from '../src/study/simulate.js';
import type { StudyState } from '../src/study/state.js';
import { bestNode, eligible, lineage } from '../src/study/tree.js';
import { flag, option } from './args.js';
import { lineChart, type Panel, type Series } from './svg-chart.js';
import { median } from '../src/util/stats.js';

const seeds = Number(option('--seeds', '20'));
const iterations = Number(option('--iterations', '48'));
const agents = option('--agents', 'rules,tpe,random,hybrid').split(',') as AgentName[];
const RATE = 5e12;
const CELLS = 1000;

function flops(inr: InrConfig): number {
  const h = inr.hidden_dim_inr;
  return 6 * (4 * h + inr.n_layers_inr * h * h + 3 * h) * inr.inr_batch_size * CELLS * inr.inr_total_steps;
}

/** A deterministic small number per (seed, node) in [-1, 1]. */
function noise(seed: number, node: number): number {
  const x = Math.sin(seed * 12.9898 + node * 78.233) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

function landscape(budget: number): Objective {
  return (inr, node, seed) => {
    const minutes = flops(inr) / RATE / 60;
    if (inr.omega_inr * inr.inr_learning_rate > 0.05) return { failure: 'loss is NaN (diverged)' };
    const u = Math.log(inr.omega_inr / 25) / 1.0;
    const v = Math.log10(inr.inr_learning_rate / 3e-4) / 0.8;
    const ceiling = Math.max(0, 1 - 0.25 * (u * u + v * v) - 0.002 * (256 / inr.hidden_dim_inr) ** 2 - 0.001 * Math.abs(inr.n_layers_inr - 3));
    const r2At = (steps: number): number => Math.min(0.9999, Math.max(0, ceiling * (1 - Math.exp(-(steps * inr.inr_batch_size * inr.inr_learning_rate) / 200)) + 0.0005 * noise(seed, node)));
    const doneSteps = minutes > budget ? Math.floor((inr.inr_total_steps * budget) / minutes) : inr.inr_total_steps;
    const every = evaluationEvery(inr.inr_total_steps);
    const evaluations = [];
    for (let k = 1; k <= 10 && k * every <= doneSteps; k++) {
      const r2 = r2At(k * every);
      evaluations.push({ step: k * every, r2, mse: 1 - r2, slope: 1, time_s: (minutes * 60 * k * every) / inr.inr_total_steps });
    }
    const r2 = r2At(doneSteps);
    return {
      evaluations,
      metrics: { final_r2: r2, final_mse: 1 - r2, slope: 1, training_time_min: Math.min(minutes, budget), time_limited: doneSteps < inr.inr_total_steps, steps_done: doneSteps },
    };
  };
}

interface Problem { name: string; budget: number; base: Partial<InrConfig> }
const PROBLEMS: Problem[] = [
  { name: 'default', budget: 60, base: {} },
  { name: 'tight', budget: 15, base: {} },
  { name: 'poor-base', budget: 60, base: { omega_inr: 1 } },
];

interface Run {
  best: number[];
  minutes: number[];
  /** pruningFloor's trial-minutes, for a study without a pruner. */
  floor?: number;
}

/**
 * The fewest trial-minutes with which a pruner keeps a study's best R2 without
 * changing its course: the best trial and its ancestors train to their end,
 * and every other trial stops at its first evaluation. Read from a study
 * without a pruner, it says how much any pruner could have saved there.
 */
function pruningFloor(state: StudyState): number {
  const kept = new Set(lineage(state, bestNode(state)?.id ?? null).map((n) => n.id));
  let minutes = 0;
  for (const n of state.nodes) {
    const all = n.metrics?.training_time_min ?? 0;
    const first = n.evaluations[0]?.time_s;
    minutes += kept.has(n.id) || first === undefined ? all : Math.min(all, first / 60);
  }
  return minutes;
}

/** Best eligible R2 and trial-minutes so far after every trial, in node order. */
function curve(state: StudyState): Run {
  const best: number[] = [];
  const minutes: number[] = [];
  let b = 0;
  let m = 0;
  for (const n of state.nodes) {
    if (eligible(n, state.settings.max_trial_minutes)) b = Math.max(b, n.metrics!.final_r2);
    m += n.metrics?.training_time_min ?? 0;
    best.push(b);
    minutes.push(m);
  }
  return { best, minutes, ...(state.config.study.pruner === 'none' ? { floor: pruningFloor(state) } : {}) };
}

async function study(problem: Problem, agent: AgentName, pruner: PrunerName, seed: number): Promise<Run> {
  const config = defaultConfig();
  config.inr = { ...config.inr, ...problem.base };
  config.study.pruner = pruner;
  const created = studyCreatedEvent(config, { agent, iterations, slots: 4, block: 24, seed, maxTrialMinutes: problem.budget, workload: { cells: CELLS, frames: 9997 } });
  const { state } = await simulateStudy(created, { agent: createAgent(agent), cost: { priorFlopsPerSecond: RATE } }, landscape(problem.budget));
  return curve(state);
}

const f4 = (x: number): string => x.toFixed(4);

function toReach(runs: Run[], target: number): string {
  const hits = runs.map((r) => r.best.findIndex((b) => b >= target)).filter((i) => i >= 0);
  if (hits.length === 0) return `never (0/${runs.length})`.padEnd(22);
  const minutes = runs.map((r) => { const i = r.best.findIndex((b) => b >= target); return i >= 0 ? r.minutes[i] : undefined; }).filter((m): m is number => m !== undefined);
  return `${median(hits.map((i) => i + 1))} trials ${Math.round(median(minutes))} min (${hits.length}/${runs.length})`.padEnd(22);
}

// --- real studies beside Optuna ----------------------------------------------------------

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const PYTHON = process.env.INRSCAPE_TEST_PYTHON ?? '/usr/bin/python3';

/** A real study's best R2 after every batch, its trial-minutes, and when it first reached R2 0.99 and 0.995. */
function realRow(spec: string, seed: number, run: Run, slots: number, t0: number): string {
  const batches = run.best.filter((_, i) => (i + 1) % slots === 0);
  const reach = (target: number): string => {
    const i = run.best.findIndex((b) => b >= target);
    return (i < 0 ? 'never' : `${i + 1} (${run.minutes[i].toFixed(1)} min)`).padEnd(14);
  };
  const total = run.minutes[run.minutes.length - 1] ?? 0;
  const floor = run.floor !== undefined ? `  floor ${((100 * run.floor) / total).toFixed(0)}%` : '';
  return `${spec.padEnd(14)} ${String(seed).padEnd(5)} ${batches.map(f4).join('  ').padEnd(34)} ${total.toFixed(1).padStart(9)}  ${reach(0.99)} ${reach(0.995)} ${((Date.now() - t0) / 1000).toFixed(0)} s${floor}`;
}

/**
 * Minutes the base config trains on this machine, alone with one thread.
 * `tight` gets half of them: a fixed budget (0.1 min) was cut on one machine
 * and fitted on a faster one, where the problem was then not tight at all.
 */
function baseTrainMinutes(yaml: string, dataset: string, root: string, env: NodeJS.ProcessEnv): number {
  const configPath = join(root, 'base-timing.yaml');
  const out = join(root, 'base-timing');
  writeFileSync(configPath, yaml);
  const r = spawnSync(process.execPath, [BIN, 'train', configPath, '--dataset', dataset, '--out', out, '--threads', '1'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`timing the base config: exit ${r.status}\n${r.stderr}`);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { timings: { training_time_s: number } };
  return run.timings.training_time_s / 60;
}

/** The real problems: the Quick start's study, with a budget its base config does not fit, or with a poor base omega. */
const REAL_PROBLEMS: Record<string, (yaml: string, tightMinutes: () => number) => string> = {
  default: (y) => y,
  tight: (y, tightMinutes) => y.replace('max_trial_minutes: 2', `max_trial_minutes: ${tightMinutes().toPrecision(2)}`),
  'poor-base': (y) => y.replace('omega_inr: 10.0', 'omega_inr: 1.0'),
};

async function real(): Promise<void> {
  // --keep DIR keeps every study folder and Optuna's trials there, so a result can be traced to its journal.
  const keep = option('--keep', '');
  if (keep !== '') mkdirSync(keep, { recursive: true });
  const root = keep !== '' ? mkdtempSync(join(keep, 'bench-search-')) : mkdtempSync(join(tmpdir(), 'inrscape-bench-search-'));
  const realSeeds = option('--seeds', '0').split(',').map(Number);
  // An agent, agent+pruner (rules+asha), or optuna (the anchor).
  const realAgents = option('--agents', 'rules,tpe,hybrid,optuna').split(',');
  const problems = option('--problems', 'default').split(',');
  // --tight-minutes M pins tight's budget, so that two checkouts compare on the same one.
  const pinned = option('--tight-minutes', '');
  if (pinned !== '' && !(Number(pinned) > 0)) throw new Error(`--tight-minutes: ${pinned} is not a number of minutes > 0`);
  const cache = process.env.INRSCAPE_CACHE ?? join(process.cwd(), '.inrscape', 'datasets');
  const env = { ...process.env, INRSCAPE_CACHE: cache };
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  console.log(`bench:search --real: problems ${problems.join(', ')}, seeds ${realSeeds.join(', ')}; ${/Model name:\s*(.+)/.exec(lscpu)?.[1].trim() ?? 'unknown CPU'}, ${cpus().length} cores`);
  try {
    // Every problem is the default study's, on its data set.
    const dataset = await resolveDataset(parseConfig(DEFAULT_STUDY_YAML, 'the default study').config.dataset, { cache });
    for (const problem of problems) {
      const change = REAL_PROBLEMS[problem];
      if (change === undefined) throw new Error(`--problems: ${problem} is none of ${Object.keys(REAL_PROBLEMS).join(', ')}`);
      const yaml = change(DEFAULT_STUDY_YAML, () => (pinned !== '' ? Number(pinned) : baseTrainMinutes(DEFAULT_STUDY_YAML, dataset, root, env) / 2));
      const { config } = parseConfig(yaml, `the ${problem} study`);
      console.log(`\n${problem} (budget ${config.study.max_trial_minutes} min, base omega ${config.inr.omega_inr})`);
      // "to 0.99": the trial whose result first brought the best R2 there, and the trial-minutes spent until then.
      console.log('agent          seed  best R2 after each batch            trial-min  to 0.99        to 0.995       wall');
      for (const seed of realSeeds) {
        for (const spec of realAgents.filter((a) => a !== 'optuna')) {
          const [agent, pruner = 'none'] = spec.split('+');
          const dir = join(root, `${problem}-${agent}-${pruner}-${seed}`);
          const configPath = join(root, `${problem}-${pruner}.yaml`);
          writeFileSync(configPath, pruner === 'none' ? yaml : `${yaml}  pruner: ${pruner}\n`);
          const t0 = Date.now();
          const r = spawnSync(process.execPath, [BIN, 'study', 'run', configPath, '--agent', agent, '--seed', String(seed), '--dir', dir], { env, encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`${spec} seed ${seed}: exit ${r.status}\n${r.stderr}`);
          console.log(realRow(spec, seed, curve(loadStudy(dir)), config.study.slots, t0));
        }
        if (!realAgents.includes('optuna')) continue;
        const out = join(root, `${problem}-optuna-${seed}`);
        mkdirSync(out);
        const created = studyCreatedEvent(config, { seed, cpuPresetSpace: true });
        const base = Object.fromEntries(EXPLORABLE_KEYS.map((k) => [k, config.inr[k]]));
        const job = {
          space: created.space, base, config: yaml, trials: config.study.iterations, slots: config.study.slots, seed,
          trial_seeds: Array.from({ length: config.study.iterations }, (_, i) => trialSeed(seed, i + 1)),
          train: [process.execPath, BIN], dataset, max_minutes: config.study.max_trial_minutes, out,
        };
        writeFileSync(join(out, 'job.json'), JSON.stringify(job));
        const t0 = Date.now();
        const r = spawnSync(PYTHON, [fileURLToPath(new URL('../../bench/optuna_anchor.py', import.meta.url)), join(out, 'job.json')], { env, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`optuna seed ${seed}: exit ${r.status}\n${r.stderr}`);
        const trials = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { number: number; value: number; state: string; minutes: number });
        trials.sort((a, b) => a.number - b.number);
        const run: Run = { best: [], minutes: [] };
        let b = 0;
        let m = 0;
        for (const t of trials) {
          if (t.state === 'COMPLETE' && Number.isFinite(t.value)) b = Math.max(b, t.value);
          m += t.minutes;
          run.best.push(b);
          run.minutes.push(m);
        }
        console.log(realRow('optuna', seed, run, config.study.slots, t0));
      }
    }
  } finally {
    if (keep === '') rmSync(root, { recursive: true, force: true });
    else console.log(`\nstudy folders kept in ${root}`);
  }
}

const COLOURS: Record<string, string> = { rules: '#1f77b4', tpe: '#d62728', random: '#7f7f7f', hybrid: '#2ca02c', llm: '#9467bd' };
const DASHES: Record<PrunerName, string | undefined> = { none: undefined, median: '2 3', asha: '6 3' };

async function main(): Promise<void> {
  const t0 = Date.now();
  const figure = option('--figure', '');
  const panels: Panel[] = [];
  const marks = [0.25, 0.5, 0.75, 1].map((q) => Math.round(q * iterations));
  console.log(`bench:search (simulated objective): ${seeds} seeds, ${iterations} trials in batches of 4 per study`);
  for (const problem of PROBLEMS) {
    console.log(`\n${problem.name} (budget ${problem.budget} min${Object.keys(problem.base).length ? `, base ${JSON.stringify(problem.base)}` : ''})`);
    console.log(`agent    pruner  ${marks.map((m) => `best@${m} median [min, max]`.padEnd(30)).join('')}to 0.99                to 0.995                trial-min`);
    const series: Series[] = [];
    panels.push({ title: `${problem.name}: median best R2`, series });
    for (const agent of agents) {
      const byPruner: Record<string, Run[]> = {};
      for (const pruner of PRUNERS) {
        const runs: Run[] = [];
        for (let s = 0; s < seeds; s++) runs.push(await study(problem, agent, pruner, s));
        byPruner[pruner] = runs;
        series.push({
          name: `${agent}, ${pruner === 'none' ? 'no pruner' : pruner}`, colour: COLOURS[agent] ?? '#000', ...(DASHES[pruner] ? { dash: DASHES[pruner] } : {}),
          points: runs[0].best.map((_, i) => [i + 1, median(runs.map((r) => r.best[i]))]),
        });
        const cells = marks.map((m) => {
          const at = runs.map((r) => r.best[m - 1]);
          return `${f4(median(at))} [${f4(Math.min(...at))}, ${f4(Math.max(...at))}]`.padEnd(30);
        });
        console.log(`${agent.padEnd(8)} ${pruner.padEnd(7)} ${cells.join('')}${toReach(runs, 0.99)}  ${toReach(runs, 0.995)}  ${Math.round(median(runs.map((r) => r.minutes[r.minutes.length - 1])))}`);
      }
      const last = (runs: Run[], k: 'best' | 'minutes'): number => median(runs.map((r) => r[k][r[k].length - 1]));
      for (const pruner of PRUNERS.filter((p) => p !== 'none')) {
        const ratio = last(byPruner[pruner], 'minutes') / last(byPruner.none, 'minutes');
        const dBest = last(byPruner[pruner], 'best') - last(byPruner.none, 'best');
        console.log(`${agent.padEnd(8)} ${pruner} pruner: ${(100 * ratio).toFixed(0)}% of the trial-minutes, best R2 ${dBest >= 0 ? '+' : ''}${dBest.toFixed(4)} against none`);
      }
      const floor = median(byPruner.none.map((r) => r.floor!)) / last(byPruner.none, 'minutes');
      console.log(`${agent.padEnd(8)} floor: ${(100 * floor).toFixed(0)}% of the trial-minutes keep the best R2 (its lineage to the end, every other trial to its first evaluation)`);
    }
  }
  if (figure !== '') {
    writeFileSync(figure, lineChart(panels, { xLabel: 'trials', yLabel: 'best R2 within budget (median of seeds)', yRange: [0.6, 1] }));
    console.log(`\nfigure: ${figure}`);
  }
  console.log(`\n${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

await (flag('--real') ? real() : main());
