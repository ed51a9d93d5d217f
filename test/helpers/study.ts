/** Shared by the study CLI and crash tests: a tiny study config, the CLI as a child, and the checks of a study folder. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/schema.js';
import { parseResultsLog } from '../../src/inr/results-log.js';
import { readRunRecord } from '../../src/inr/run.js';
import { configFile, memorySnapshotFile, runDir } from '../../src/study/files.js';
import { journalPath, readJournal, type JournalEntry } from '../../src/study/journal.js';
import { renderFiles } from '../../src/study/render/index.js';
import { foldEvents, type StudyState } from '../../src/study/state.js';
import { BIN } from './cli.js';

/** The reference's patterns for analysis.md (docs/reference.md, Exploration loop). */
export const RE = {
  header: /## Iter (\d+): (\w+)/g,
  node: /Node: id=\d+, parent=(\w+)/,
  r2: /final_r2=([\d.eE+-]+|nan)/,
  mse: /final_mse=([\d.eE+-]+)/,
  slope: /slope=([\d.eE+-]+)/,
  time: /training_time_min=([\d.]+)/,
  mutation: /Mutation: (.+)/,
  next: /Next: parent=(\d+|root)/,
};

export interface ParsedEntry { iter: number; cls: string; parent?: string; r2?: string; mse?: string; slope?: string; time?: string; mutation?: string; next?: string }

/** analysis.md read the way the reference reads it: entries from each header, first match of each field within the entry. */
export function parseAnalysis(text: string): ParsedEntry[] {
  const heads = [...text.matchAll(RE.header)];
  return heads.map((h, i) => {
    const body = text.slice(h.index, heads[i + 1]?.index ?? text.length);
    return {
      iter: Number(h[1]), cls: h[2], parent: body.match(RE.node)?.[1], r2: body.match(RE.r2)?.[1], mse: body.match(RE.mse)?.[1],
      slope: body.match(RE.slope)?.[1], time: body.match(RE.time)?.[1], mutation: body.match(RE.mutation)?.[1], next: body.match(RE.next)?.[1],
    };
  });
}

/**
 * A study on dicty-tiny that the native engine runs in seconds: small SIRENs,
 * a few thousand steps (a trial takes a few tenths of a second on one thread).
 */
export function writeTinyStudyConfig(path: string, study: Record<string, unknown> = {}, steps: [number, number] = [1000, 3000]): string {
  const s = { iterations: 6, slots: 2, block: 4, seed: 3, ...study };
  writeFileSync(path, `dataset: {preset: dicty-tiny}
inr:
  omega_inr: 10
  inr_learning_rate: 1.0e-3
  hidden_dim_inr: 32
  n_layers_inr: 2
  inr_total_steps: ${steps[0]}
  inr_batch_size: 4
study:
${Object.entries(s).map(([k, v]) => `  ${k}: ${v}`).join('\n')}
  search_space:
    hidden_dim_inr: {min: 16, max: 64}
    n_layers_inr: {min: 2, max: 3}
    inr_total_steps: {min: ${steps[0]}, max: ${steps[1]}}
    inr_batch_size: {min: 1, max: 8}
`);
  return path;
}

export interface CliChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `inrscape ...` as a child process that the test can kill. */
export function startCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliChild {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, done };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whole lines of a journal being written (a torn last line is ignored), without throwing on a missing file. */
export function journalEvents(dir: string): JournalEntry['event'][] {
  try {
    return readJournal(journalPath(dir)).entries.map((e) => e.event);
  } catch {
    return [];
  }
}

/** Poll (every 5 ms) until `cond` holds; fails after `timeoutMs`, saying `what` (a function says how things stand then). */
export async function waitFor(what: string | (() => string), cond: () => boolean, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(5);
  }
}

/** Pids of live processes whose command line mentions `text` (Linux /proc). */
export function processesMentioning(text: string): number[] {
  const out: number[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (cmd.includes(text) && state !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Every file and folder under `dir`, relative. */
export function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = join(rel, name.name);
    out.push(r);
    if (name.isDirectory()) out.push(...walk(dir, r));
  }
  return out;
}

/**
 * A study folder as a finished study must leave it: a journal that folds
 * (so no trial was recorded twice), one result per node, rendered files equal
 * to a fresh render of the journal and readable (analysis.md by the
 * reference's patterns, every config by the schema), a run folder per finished
 * trial with its seed and config, and no lock, staging folder or temporary file.
 * `userTrainer`: the trials ran the user's trainer, whose run folders hold its
 * results.log but no run.json of inrscape's.
 */
export function checkStudyFolder(dir: string, opts: { userTrainer?: boolean } = {}): StudyState {
  const read = readJournal(journalPath(dir));
  assert.equal(read.torn, null, 'no torn journal line');
  const state = foldEvents(read.entries);
  const results = new Map<number, number>();
  for (const e of read.entries) {
    if (e.event.type === 'trial_finished' || e.event.type === 'trial_failed') results.set(e.event.node, (results.get(e.event.node) ?? 0) + 1);
  }
  assert.deepEqual([...results.keys()].sort((a, b) => a - b), state.nodes.map((n) => n.id), 'every node has a result');
  for (const [node, count] of results) assert.equal(count, 1, `node ${node} recorded once`);
  assert.deepEqual(state.nodes.map((n) => n.id), state.nodes.map((_, i) => i + 1), 'node ids are contiguous');

  for (const [rel, text] of renderFiles(state)) assert.equal(readFileSync(join(dir, rel), 'utf8'), text, `${rel} is the journal's render`);
  const entries = parseAnalysis(readFileSync(join(dir, 'analysis.md'), 'utf8'));
  assert.deepEqual(entries.map((e) => e.iter), state.nodes.map((n) => n.id));
  for (const [i, e] of entries.entries()) {
    const n = state.nodes[i];
    assert.equal(e.cls, n.klass);
    assert.equal(e.parent, n.parent === null ? 'root' : String(n.parent));
    if (n.metrics) {
      assert.equal(Number(e.r2), Number(n.metrics.final_r2.toFixed(6)));
      assert.ok(e.mse !== undefined && e.slope !== undefined && e.time !== undefined && e.mutation !== undefined && e.next !== undefined);
    }
  }
  const memory = readFileSync(join(dir, 'memory.md'), 'utf8');
  for (const h of ['### Regime Comparison Table', '### Established Principles', '## Previous Block Summary', '## Current Block', '### Emerging Observations']) {
    assert.ok(memory.includes(h), `memory.md has ${h}`);
  }
  const ucb = readFileSync(join(dir, 'ucb_scores.txt'), 'utf8').trimEnd().split('\n');
  assert.match(ucb[0], /^# UCB scores, block \d+/);
  for (const line of ucb.slice(2)) assert.match(line, /^Node \d+: UCB=-?\d+\.\d{3}, parent=(\d+|root), visits=\d+, R2=-?\d\.\d{6}, MSE=(\d\.\d{6}e[+-]\d\d|nan), slope=(-?\d+\.\d{4}|nan), time=\d+\.\dmin, mutation=.+$/);
  for (const b of state.blocks) if (b.closed) assert.ok(existsSync(join(dir, memorySnapshotFile(b.index))));

  for (const n of state.nodes) {
    const config = parseConfig(readFileSync(join(dir, configFile(n.id, n.slot)), 'utf8')).config;
    assert.deepEqual(config.inr, n.inr, `config of node ${n.id}`);
    if (n.status === 'finished') {
      const run = join(dir, runDir(n.id, n.slot));
      assert.equal(parseResultsLog(readFileSync(join(run, 'results.log'), 'utf8')).status, 'ok');
      if (opts.userTrainer) continue;
      const rec = readRunRecord(run);
      assert.equal(rec.seed, n.seed, `node ${n.id} trained with its seed`);
      assert.deepEqual((rec.config as { inr: unknown }).inr, n.inr, `node ${n.id} trained its config`);
      assert.equal(rec.metrics!.final_r2, n.metrics!.final_r2, 'the journal has the run\'s R2');
    }
  }
  const leftovers = walk(dir).filter((p) => /\.tmp-|\.partial|(^|\/)lock(\.|$)|\.old$/.test(p));
  assert.deepEqual(leftovers, [], 'no lock, staging folder or temporary file is left');
  if (existsSync(join(dir, 'inbox'))) assert.deepEqual(readdirSync(join(dir, 'inbox')), [], 'every enqueue request was taken');
  return state;
}
