import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRunRecord } from '../src/inr/run.js';
import { runDir } from '../src/study/files.js';
import { readJournal, journalPath } from '../src/study/journal.js';
import { runCli } from './helpers/cli.js';
import { checkStudyFolder, writeTinyStudyConfig } from './helpers/study.js';
import { TEST_PYTHON, noTorch } from './helpers/torch.js';

// A study whose trials train on the torch engine: the engine is part of the
// base config in the journal, so every trial child and every resume uses it.
const root = mkdtempSync(join(tmpdir(), 'inrscape-torch-study-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { INRSCAPE_CACHE: join(root, 'cache') };

test('inrscape study run --engine torch runs a short dicty-tiny study end to end', { skip: noTorch }, () => {
  const config = writeTinyStudyConfig(join(root, 'tiny.yaml'), { iterations: 4 }, [300, 600]);
  const dir = join(root, 'study');
  const r = runCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--engine', 'torch', '--python', TEST_PYTHON], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 trials at a time, 1 thread each/);
  const state = checkStudyFolder(dir);
  assert.equal(state.nodes.length, 4);
  const created = readJournal(journalPath(dir)).entries[0].event as unknown as { config: { engine: Record<string, unknown> } };
  assert.deepEqual(created.config.engine, { name: 'torch', device: 'auto', precision: 'fp32', python: TEST_PYTHON });
  for (const node of state.nodes) {
    const run = readRunRecord(join(dir, runDir(node.id, node.slot)));
    const engine = run.engine as Record<string, unknown>;
    assert.equal(engine.name, 'torch', `node ${node.id}`);
    assert.equal(engine.device, 'cpu');
    assert.ok(run.metrics !== null && run.metrics.final_r2 > 0.3, `node ${node.id}: R² ${run.metrics?.final_r2}`);
  }
});
