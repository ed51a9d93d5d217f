/**
 * Per-trial overhead of the executors (docs/cluster.md, "Overhead"): the
 * same short dicty-tiny study run with `executor: local` and then with
 * `executor: slurm` on a one-node Slurm cluster started for the bench (the
 * test suite's, test/helpers/slurm.ts; skipped with the reason where it
 * cannot start). Runs one thing at a time: never start it beside another
 * benchmark.
 *
 *   npm run bench:exec [-- --trials 6] [-- --steps 2000]
 *
 * For every trial, from the journal and the trial's progress file:
 *   start: from the study starting the trial (trial_started) to its first
 *     training step (the first heartbeat's time less its training time);
 *   end: from the trial's last heartbeat (after the final evaluation) to its
 *     result in the journal.
 * Prints the median and the maximum of each, per executor, and the ratio.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRIAL_PROGRESS_FILE, type ProgressRecord } from '../src/exec/trial-files.js';
import { journalPath, readJournal } from '../src/study/journal.js';
import { slurmAvailable, startSlurm } from '../test/helpers/slurm.js';
import { option } from './args.js';

const trials = Number(option('--trials', '6'));
const steps = Number(option('--steps', '2000'));
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'inrscape-bench-exec-'));

function config(executor: string): string {
  const path = join(root, `${executor}.yaml`);
  writeFileSync(path, `dataset: {preset: dicty-tiny}
inr: {omega_inr: 10, inr_learning_rate: 1.0e-3, hidden_dim_inr: 32, n_layers_inr: 2, inr_total_steps: ${steps}, inr_batch_size: 4}
study:
  iterations: ${trials}
  slots: 2
  block: ${trials}
  seed: 1
  executor: ${executor}
  search_space: {inr_total_steps: {min: ${steps}, max: ${steps * 2}}, hidden_dim_inr: {min: 16, max: 48}}
`);
  return path;
}

interface Overhead { start: number[]; end: number[]; wall: number }

function overheads(dir: string, wall: number): Overhead {
  const entries = readJournal(journalPath(dir)).entries.map((e) => e.event);
  const started = new Map<number, number>();
  const out: Overhead = { start: [], end: [], wall };
  for (const e of entries) {
    if (e.type === 'trial_started') started.set(e.node, Date.parse(e.at));
    if (e.type !== 'trial_finished') continue;
    const records = readFileSync(join(dir, e.run_dir, TRIAL_PROGRESS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ProgressRecord);
    const beats = records.filter((r): r is Extract<ProgressRecord, { kind: 'heartbeat' }> => r.kind === 'heartbeat');
    const first = beats[0], last = beats[beats.length - 1];
    out.start.push(Date.parse(first.at) - first.elapsed_s * 1000 - started.get(e.node)!);
    out.end.push(Date.parse(e.at) - Date.parse(last.at));
  }
  return out;
}

function study(executor: string, env: NodeJS.ProcessEnv): Overhead {
  const dir = join(root, executor);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'study', 'run', config(executor), '--dir', dir], { env: { ...process.env, INRSCAPE_CACHE: join(root, 'cache'), ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${executor} study failed (exit ${r.status}):\n${r.stderr}`);
  return overheads(dir, (Date.now() - t0) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number): string => `${Math.round(x)} ms`.padStart(8);

async function main(): Promise<void> {
  console.log(`bench:exec: ${trials} dicty-tiny trials of ${steps} steps, 2 at a time; ${cpus()[0]?.model ?? 'unknown CPU'} x ${cpus().length}`);
  // The data set is generated once, outside the timed studies.
  spawnSync(process.execPath, [BIN, 'data', 'generate', '--preset', 'dicty-tiny'], { env: { ...process.env, INRSCAPE_CACHE: join(root, 'cache') }, stdio: 'ignore' });
  const rows: [string, Overhead][] = [['local', study('local', {})]];
  const why = slurmAvailable();
  if (why === false) {
    const cluster = await startSlurm({ cpus: 2 });
    try {
      rows.push(['slurm', study('slurm', cluster.env)]);
    } finally {
      await cluster.stop();
    }
  } else console.log(`slurm: skipped (${why})`);
  console.log('executor  start median     max   end median     max   study wall');
  for (const [name, o] of rows) {
    console.log(`${name.padEnd(8)}  ${ms(median(o.start))}  ${ms(Math.max(...o.start))}  ${ms(median(o.end))}  ${ms(Math.max(...o.end))}  ${o.wall.toFixed(1).padStart(9)} s`);
  }
  if (rows.length === 2) {
    const [l, s] = [rows[0][1], rows[1][1]];
    console.log(`slurm / local: start x${(median(s.start) / median(l.start)).toFixed(2)}, end x${(median(s.end) / median(l.end)).toFixed(2)}, study wall x${(s.wall / l.wall).toFixed(2)}`);
  }
}

main().finally(() => rmSync(root, { recursive: true, force: true }));
