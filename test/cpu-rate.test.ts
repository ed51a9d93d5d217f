import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_RATE_FILE, cpuEngineRate, cpuRateFile, cpuRateKey, readCpuRates, type CpuRateEntry } from '../src/cli/cpu-rate.js';
import { studyPrior } from '../src/cli/study-prior.js';
import { CpuEngine } from '../src/inr/engines/cpu.js';
import { measureCpuEngineRate } from '../src/inr/engines/cpu-rate.js';
import { CPU_ENGINE_FLOPS_PER_THREAD, MEASURED_CPU_PRIOR_SHARE, TORCH_CPU_FLOPS_PER_THREAD, enginePriorFlopsPerSecond } from '../src/study/budget.js';
import { fitCostModel } from '../src/study/cost-model.js';
import { journalPath, readJournal } from '../src/study/journal.js';
import { loadStudy } from '../src/study/loop.js';
import { runCli } from './helpers/cli.js';
import { writeTinyStudyConfig } from './helpers/study.js';

// The cost model's prior for the native CPU engine: a short measurement on
// this machine through the real engine, kept in <cache>/cpu-rate.json per
// CPU, ISA path, thread count and inrscape version.
const root = mkdtempSync(join(tmpdir(), 'inrscape-cpu-rate-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(root, `cache-${++files}`, CPU_RATE_FILE);

/** A file holding `entries`, as the cache writes it. */
function writeRates(file: string, entries: CpuRateEntry[]): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify({ rates: entries }, null, 2) + '\n');
}

function entry(threads: number, flops: number, changes: Partial<CpuRateEntry> = {}): CpuRateEntry {
  return {
    ...cpuRateKey(new CpuEngine({ threads })), flops_per_second: flops,
    shape: 'written by the test', steps: 1, seconds: 1, measured_at: '2026-01-01T00:00:00.000Z', ...changes,
  };
}

test('the measurement trains the real engine at the thread count asked and gives a positive, finite training rate', async () => {
  const engine = new CpuEngine({ threads: 1 });
  const m = await measureCpuEngineRate(engine);
  assert.ok(Number.isFinite(m.flopsPerSecond) && m.flopsPerSecond > 0, `rate ${m.flopsPerSecond}`);
  assert.equal(m.threads, 1);
  assert.equal(m.isa, engine.isa);
  assert.ok(m.steps >= 1 && m.seconds > 0);
});

test('the cache lives in the data set cache folder', () => {
  assert.equal(cpuRateFile(join(root, 'datasets')), join(root, 'datasets', 'cpu-rate.json'));
});

test('the first call measures and keeps the rate; the second reads it from the file and measures nothing', async () => {
  const file = freshFile();
  const first = await cpuEngineRate(1, file);
  assert.equal(first.source, 'measured');
  assert.ok(Number.isFinite(first.flopsPerSecond) && first.flopsPerSecond > 0);
  const bytes = readFileSync(file, 'utf8');
  const mtime = statSync(file).mtimeMs;
  const [kept] = readCpuRates(file);
  const { cpu, isa, threads, inrscape } = kept;
  assert.deepEqual({ cpu, isa, threads, inrscape }, cpuRateKey(new CpuEngine({ threads: 1 })), 'keyed by CPU, ISA path, threads and version');
  assert.equal(kept.flops_per_second, first.flopsPerSecond);

  const second = await cpuEngineRate(1, file);
  assert.deepEqual(second, { ...first, source: 'cache' });
  assert.equal(readFileSync(file, 'utf8'), bytes, 'the file is not rewritten');
  assert.equal(statSync(file).mtimeMs, mtime);
});

test('a rate in the file for this key is the rate used, whatever it is', async () => {
  const file = freshFile();
  writeRates(file, [entry(1, 1.234e12)]);
  assert.deepEqual(await cpuEngineRate(1, file), { flopsPerSecond: 1.234e12, source: 'cache', file });
});

test('another thread count is another key: it is measured and added, the first entry kept', async () => {
  const file = freshFile();
  writeRates(file, [entry(1, 1.234e12)]);
  const two = await cpuEngineRate(2, file);
  assert.equal(two.source, 'measured');
  const rates = readCpuRates(file);
  assert.deepEqual(rates.map((e) => [e.threads, e.flops_per_second]), [[1, 1.234e12], [2, two.flopsPerSecond]]);
  assert.equal((await cpuEngineRate(1, file)).flopsPerSecond, 1.234e12);
});

test("another CPU's entry does not count here but stays; another inrscape version's is measured again and dropped", async () => {
  const file = freshFile();
  const elsewhere = entry(1, 5e11, { cpu: 'a CPU this machine does not have' });
  writeRates(file, [elsewhere, entry(1, 7e11, { inrscape: '0.0.0-old' })]);
  const here = await cpuEngineRate(1, file);
  assert.equal(here.source, 'measured');
  assert.deepEqual(readCpuRates(file).map((e) => [e.cpu, e.inrscape, e.flops_per_second]), [
    [elsewhere.cpu, elsewhere.inrscape, 5e11],
    [cpuRateKey(new CpuEngine({ threads: 1 })).cpu, elsewhere.inrscape, here.flopsPerSecond],
  ]);
});

test('a torn or corrupt file, or an entry that does not hold up, is measured over and replaced, not an error', async () => {
  for (const [what, text] of [
    ['a torn file', '{"rates": [{"cpu": "AMD'],
    ['not JSON at all', '\u0000\u0001 binary'],
    ['rates of the wrong type', '{"rates": "fast"}'],
    ['a negative rate for this key', JSON.stringify({ rates: [entry(1, -3)] })],
    ['a rate that is not a number', JSON.stringify({ rates: [{ ...entry(1, 1), flops_per_second: 'fast' }] })],
  ]) {
    const file = freshFile();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    const r = await cpuEngineRate(1, file);
    assert.equal(r.source, 'measured', what);
    assert.deepEqual(readCpuRates(file).map((e) => e.flops_per_second), [r.flopsPerSecond], `${what}: replaced by a whole file`);
  }
});

test("the study's prior is the measured rate at a quarter; the constants stand in where nothing is measured", async () => {
  assert.equal(enginePriorFlopsPerSecond(2, 'cpu', 1, 2e11), MEASURED_CPU_PRIOR_SHARE * 2e11);
  assert.equal(enginePriorFlopsPerSecond(2, 'cpu'), 2 * CPU_ENGINE_FLOPS_PER_THREAD);
  assert.equal(enginePriorFlopsPerSecond(2, 'torch-cpu', 1, 2e11), 2 * TORCH_CPU_FLOPS_PER_THREAD, 'torch on the CPU keeps its constant');

  const file = freshFile();
  writeRates(file, [entry(1, 1.6e11)]);
  assert.equal(await studyPrior({ kind: 'cpu', threads: 1, trialsPerDevice: 1, here: true }, undefined, file), 4e10);
  const cluster = freshFile();
  assert.equal(await studyPrior({ kind: 'cpu', threads: 4, trialsPerDevice: 1, here: false }, undefined, cluster), 4 * CPU_ENGINE_FLOPS_PER_THREAD);
  assert.ok(!existsSync(cluster), "a cluster's trials are not measured here");
});

test("a study's dry run and its first batch are priced at the cached rate", () => {
  const cache = join(root, 'study-cache');
  const file = cpuRateFile(cache);
  const config = writeTinyStudyConfig(join(root, 'tiny.yaml'), { iterations: 2, slots: 2, block: 2, figures: false });
  const env = { INRSCAPE_CACHE: cache, ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' };

  for (const rate of [2e11, 4e11]) {
    writeRates(file, [entry(1, rate)]);
    const dry = runCli(['study', 'run', config, '--agent', 'llm', '--dry-run', '--threads', '1'], { env });
    assert.equal(dry.status, 0, dry.stderr);
    assert.ok(dry.stdout.includes(`/ ${((MEASURED_CPU_PRIOR_SHARE * rate) / 1e9).toFixed(1)} GFLOP/s`), `priced at a quarter of ${rate}:\n${dry.stdout}`);
    assert.ok(!dry.stderr.includes('cost prior'), 'nothing measured');
  }

  const rate = 1e9;
  writeRates(file, [entry(1, rate)]);
  const bytes = readFileSync(file, 'utf8');
  const dir = join(root, 'study');
  const run = runCli(['study', 'run', config, '--dir', dir, '--threads', '1'], { env });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(!run.stdout.includes('cost prior'), 'read from the cache, not measured');
  assert.equal(readFileSync(file, 'utf8'), bytes);
  const state = loadStudy(dir);
  const prior = fitCostModel([], state.workload!, { priorFlopsPerSecond: MEASURED_CPU_PRIOR_SHARE * rate });
  const first = readJournal(journalPath(dir)).entries.map((e) => e.event).find((e) => e.type === 'batch_proposed');
  assert.ok(first?.type === 'batch_proposed');
  for (const t of first.trials) {
    assert.ok(t.predicted_minutes !== null);
    const want = prior.predictMinutes(t.inr);
    assert.ok(Math.abs(t.predicted_minutes - want) <= 1e-9 * want, `node ${t.node}: predicted ${t.predicted_minutes}, the cached rate gives ${want}`);
  }
});

test("a dry run measures at the thread count a trial gets: --threads after the subcommand counts", () => {
  const cache = join(root, 'threads-cache');
  const config = writeTinyStudyConfig(join(root, 'threads.yaml'), { iterations: 2, slots: 2, block: 2, figures: false });
  const dry = runCli(['study', 'run', config, '--agent', 'llm', '--dry-run', '--threads', '2'], { env: { INRSCAPE_CACHE: cache, ANTHROPIC_API_KEY: '' } });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stderr, /cost prior: the cpu engine trains at [\d.]+ GFLOP\/s with 2 threads here \(measured once, kept in .*cpu-rate\.json; delete it to measure again\)/);
  assert.deepEqual(readCpuRates(cpuRateFile(cache)).map((e) => e.threads), [2]);
});
