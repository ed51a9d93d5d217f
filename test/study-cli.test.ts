import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../src/config/schema.js';
import { DEFAULT_STUDY_YAML } from '../src/cli/study.js';
import { journalPath, readJournal } from '../src/study/journal.js';
import { studyCreatedEvent } from '../src/study/create.js';
import { loadStudy } from '../src/study/loop.js';
import { bestNode } from '../src/study/tree.js';
import { runCli } from './helpers/cli.js';
import { checkStudyFolder, journalEvents, startCli, waitFor, writeTinyStudyConfig } from './helpers/study.js';

// `inrscape study ...` as a user runs it: real `inrscape train` children on the
// native engine (one thread each, two at a time), dicty-tiny from a private cache.
const root = mkdtempSync(join(tmpdir(), 'inrscape-study-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { INRSCAPE_CACHE: join(root, 'cache') };
const config = writeTinyStudyConfig(join(root, 'tiny.yaml'));
const dir = join(root, 'study');

function writeInr(name: string, inr: Record<string, unknown>): string {
  const path = join(root, `${name}.yaml`);
  writeFileSync(path, YAML.stringify({ inr }));
  return path;
}

test('a short study on dicty-tiny, start to end, through the CLI; a second runner is refused; enqueue reaches a running study', async () => {
  // Pauses between events leave time to poke at the study while it runs.
  const run = startCli(['study', 'run', config, '--dir', dir, '--threads', '1'], { env: { ...env, INRSCAPE_STUDY_EVENT_PAUSE_MS: '100' } });
  await waitFor('the first trial to start', () => journalEvents(dir).some((e) => e.type === 'trial_started'));

  const queued = runCli(['study', 'enqueue', dir, writeInr('mine', { inr_learning_rate: 8e-4, hidden_dim_inr: 48, inr_total_steps: 1200, inr_batch_size: 2 }), '--note', 'my hunch'], { env });
  assert.equal(queued.status, 0, queued.stderr);
  assert.match(queued.stdout, new RegExp(`^queued: the running study \\(pid ${run.child.pid}\\) trains it in its next batch`));

  const second = runCli(['study', 'resume', dir], { env });
  assert.equal(second.status, 2);
  assert.match(second.stderr, new RegExp(`^inrscape: study ${dir} is being run by pid ${run.child.pid} \\(since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\n$`));
  const again = runCli(['study', 'run', config, '--dir', dir], { env });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /a study already lives in .*: continue it with 'inrscape study resume/);
  const status = runCli(['study', 'status', dir], { env });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^study dicty-tiny: agent rules, seed 3, \d\/6 trials done, budget 1 min per trial\n\nid\s+parent\s+block\s+class\s+R2\s+MSE\s+slope\s+time\s+mutation\n1\s+root\s+0\s+/);
  assert.match(status.stdout, new RegExp(`running: pid ${run.child.pid} since `));

  const end = await run.done;
  assert.equal(end.code, 0, run.stderr());
  const out = run.stdout();
  assert.match(out, /^generating the data set into .*cache\/dicty-tiny-seed0-\w+ \(once\)\nstudy .*study: dicty-tiny, agent rules, 6 trials in batches of 2, budget 1 min per trial; 2 trials at a time, 1 thread each\n/);
  assert.match(out, /^batch 0 \(block 0, rules\): training nodes 1, 2$/m);
  for (let i = 1; i <= 6; i++) assert.match(out, new RegExp(`^iter +${i}  (excellent|good|moderate|poor) +R2=\\d\\.\\d{6}  MSE=\\S+  slope=\\S+  \\d+\\.\\d min  .+$`, 'm'), `a progress line for iter ${i}`);
  assert.match(out, /^block 0 closed: best node \d, R2=/m);
  assert.match(out, /\nbest configuration \(node \d, config\/iter_00\d_slot_0\d\.yaml\):\n\ndataset:\n/);
  assert.match(out, /\nfiles \(.*study\):\n.*journal\.jsonl .*\n.*analysis\.md/);

  const state = checkStudyFolder(dir);
  assert.equal(state.nodes.length, 6);
  assert.deepEqual(state.blocks.map((b) => [b.nodes.length, b.closed !== undefined]), [[4, true], [2, true]]);
  assert.ok(state.nodes.every((n) => n.status === 'finished' && n.attempts === 1));
  const mine = state.nodes.find((n) => n.strategy === 'user');
  assert.ok(mine, 'the enqueued config ran');
  assert.equal(mine.source, 'user');
  assert.deepEqual([mine.inr.inr_learning_rate, mine.inr.hidden_dim_inr, mine.inr.inr_total_steps, mine.inr.inr_batch_size], [8e-4, 48, 1200, 2]);
  assert.match(mine.mutation, /^user config \(enqueued\): my hunch/);
  const created = readJournal(journalPath(dir)).entries[0].event;
  assert.ok(created.type === 'study_created' && created.dataset_dir?.startsWith(join(root, 'cache')), 'the data set folder is recorded');
  const started = journalEvents(dir).filter((e) => e.type === 'trial_started');
  assert.ok(started.every((e) => e.type === 'trial_started' && e.threads === 1 && e.max_minutes === 1));
});

test('study status, best, export and enqueue on the finished study; resume --iterations runs the enqueued config', () => {
  const state = loadStudy(dir);
  const best = bestNode(state)!;

  const b = runCli(['study', 'best', dir], { env });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`^best: node ${best.id} \\(${best.klass}\\), R2=${best.metrics!.final_r2.toFixed(6)}, MSE=`));
  assert.match(b.stdout, new RegExp(`run folder: .*runs/iter_00${best.id}_slot_0${best.slot}\\n`));
  const y = runCli(['study', 'best', dir, '--yaml'], { env });
  assert.equal(y.status, 0, y.stderr);
  const bestConfig = parseConfig(y.stdout).config;
  assert.deepEqual(bestConfig.inr, best.inr);
  assert.equal(bestConfig.dataset.kind, 'preset', 'the config as a user can train it again');

  const csv = runCli(['study', 'export', dir, '--csv'], { env });
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trimEnd().split('\n');
  const header = rows[0].split(',');
  assert.deepEqual(header.slice(0, 3), ['number', 'state', 'value']);
  assert.ok(header.includes('params_inr_learning_rate') && header.includes('user_attrs_class') && header.includes('user_attrs_seed'));
  assert.equal(rows.length, 7);
  rows.slice(1).forEach((r, i) => assert.match(r, new RegExp(`^${i},COMPLETE,0\\.\\d+,`)));
  assert.equal(runCli(['study', 'export', dir], { env }).status, 2, 'export names its format');
  const file = join(root, 'trials.csv');
  assert.equal(runCli(['study', 'export', dir, '--csv', '--out', file], { env }).status, 0);
  assert.equal(readFileSync(file, 'utf8'), csv.stdout);

  // Refused: a config the study already has, a value outside the space, a parent that does not exist.
  const dup = runCli(['study', 'enqueue', dir, writeInr('dup', { ...state.nodes[0].inr })], { env });
  assert.equal(dup.status, 2);
  assert.match(dup.stderr, /this config is exactly node 1's: change at least one explorable value \[duplicate\]/);
  const wide = runCli(['study', 'enqueue', dir, writeInr('wide', { hidden_dim_inr: 512 })], { env });
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /inr\.hidden_dim_inr = 512: outside the study's search range \[16, 64\] \[out_of_range\]/);
  const orphan = runCli(['study', 'enqueue', dir, writeInr('orphan', { omega_inr: 12 }), '--parent', '99'], { env });
  assert.equal(orphan.status, 2);
  assert.match(orphan.stderr, /parent = 99: no such node/);

  const ok = runCli(['study', 'enqueue', dir, writeInr('next', { omega_inr: 12, inr_total_steps: 1100 }), '--parent', String(best.id)], { env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^enqueued as #2: the next batch trains it; the study is complete: 'inrscape study resume .* --iterations N' runs more trials/);
  const more = runCli(['study', 'resume', dir, '--iterations', '7', '--threads', '1'], { env });
  assert.equal(more.status, 0, more.stderr);
  const after7 = checkStudyFolder(dir);
  assert.equal(after7.nodes.length, 7);
  const seventh = after7.nodes[6];
  assert.deepEqual([seventh.strategy, seventh.parent, seventh.inr.omega_inr, seventh.inr.inr_total_steps], ['user', best.id, 12, 1100]);
  assert.equal(seventh.block, 2, 'a closed block is never reopened');

  const done = runCli(['study', 'resume', dir], { env });
  assert.equal(done.status, 0);
  assert.match(done.stdout, /is complete \(give --iterations N to extend it\)/);
  assert.equal(runCli(['study', 'resume', dir, '--iterations', '3'], { env }).status, 2, 'cannot shrink below the trials run');
});

test('study commands on a folder that is not a study, and bad flags, exit 2 with one line', () => {
  const r = runCli(['study', 'status', join(root, 'nothing')], { env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^inrscape: .*nothing is not a study folder \(no .*journal\.jsonl\)\n$/);
  const a = runCli(['study', 'run', config, '--agent', 'oracle', '--dir', join(root, 'x')], { env });
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--agent = "oracle": must be one of rules, tpe, random/);
  assert.equal(existsSync(join(root, 'x')), false, 'nothing is created for a bad flag');
  const s = runCli(['study', 'run', config, '--slots', '0', '--dir', join(root, 'x')], { env });
  assert.equal(s.status, 2);
  assert.match(s.stderr, /--slots = "0": must be an integer in \[1, inf\]/);
});

test('the built-in default study: dicty-small, the rules agent, a short budget', () => {
  const { config: c, warnings } = parseConfig(DEFAULT_STUDY_YAML);
  assert.ok(warnings.every((w) => /inr_total_steps.*typical range \[50000, 2000000\]/.test(w)), 'only the GPU-sized typical step range is left behind');
  assert.equal(c.dataset.kind === 'preset' && c.dataset.preset, 'dicty-small');
  assert.equal(c.study.agent, 'rules');
  const ev = studyCreatedEvent(c, { cpuPresetSpace: true });
  // iterations x budget / trials at a time bounds the training time (docs/performance.md measures the real figure).
  assert.ok((ev.settings.iterations * ev.settings.max_trial_minutes) / 2 <= 12);
  assert.equal(ev.space.inr_total_steps.max, c.study.search_space.inr_total_steps!.max, "the study's own step range is kept");
});
