import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkModelParams } from '../src/config/dicty-model.js';
import {
  checkBatchAgainstFrames, checkProposal, defaultConfig, defaultInr, loadConfig, parseConfig, resolveSearchSpace,
  type InrConfig,
} from '../src/config/schema.js';

/** Every config error is a UserError (exit 2) whose message is exactly `message`. */
function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, { name: 'UserError', exitCode: 2, message });
}

const rejectsYaml = (yaml: string, message: string): void => rejects(() => parseConfig(yaml, 'test.yaml'), message);

test('unknown inr keys are rejected with a suggestion, or the list of keys', () => {
  rejectsYaml('inr:\n  omega: 5\n', 'inr.omega = 5: unknown key in inr; did you mean omega_inr?');
  rejectsYaml('inr:\n  batch_size: 4\n', 'inr.batch_size = 4: unknown key in inr; did you mean inr_batch_size?');
  rejectsYaml(
    'inr:\n  dropout: 0.1\n',
    'inr.dropout = 0.1: unknown key in inr; allowed keys: omega_inr, inr_learning_rate, hidden_dim_inr, n_layers_inr, inr_total_steps, inr_batch_size, inr_xy_period, inr_t_period, inr_field_name, inr_type, inr_gradient_mode',
  );
});

test('impossible INR values are errors naming key, value and rule', () => {
  rejectsYaml('inr: {n_layers_inr: 0}', 'inr.n_layers_inr = 0: must be an integer >= 1');
  rejectsYaml('inr: {n_layers_inr: 2.5}', 'inr.n_layers_inr = 2.5: must be an integer >= 1');
  rejectsYaml('inr: {hidden_dim_inr: -64}', 'inr.hidden_dim_inr = -64: must be an integer >= 1');
  rejectsYaml('inr: {inr_total_steps: 0}', 'inr.inr_total_steps = 0: must be an integer >= 1');
  rejectsYaml('inr: {inr_batch_size: 0.5}', 'inr.inr_batch_size = 0.5: must be an integer >= 1');
  rejectsYaml('inr: {inr_learning_rate: -1}', 'inr.inr_learning_rate = -1: must be a number > 0');
  rejectsYaml('inr: {omega_inr: 0}', 'inr.omega_inr = 0: must be a number > 0');
  rejectsYaml('inr: {inr_xy_period: 0}', 'inr.inr_xy_period = 0: must be a number > 0');
  rejectsYaml('inr: {inr_t_period: -2}', 'inr.inr_t_period = -2: must be a number > 0');
});

test('wrong types, NaN and infinity are errors', () => {
  rejectsYaml('inr: {omega_inr: ten}', 'inr.omega_inr = "ten": must be a number > 0');
  rejectsYaml('inr: {inr_learning_rate: "1e-4"}', 'inr.inr_learning_rate = "1e-4": must be a number > 0');
  rejectsYaml('inr: {omega_inr: .nan}', 'inr.omega_inr = NaN: must be a number > 0');
  rejectsYaml('inr: {inr_total_steps: .inf}', 'inr.inr_total_steps = Infinity: must be an integer >= 1');
  rejectsYaml('inr: {hidden_dim_inr: [384]}', 'inr.hidden_dim_inr = [384]: must be an integer >= 1');
  rejectsYaml('inr: {n_layers_inr: true}', 'inr.n_layers_inr = true: must be an integer >= 1');
  rejectsYaml('inr: 5', 'inr = 5: must be a mapping');
  rejectsYaml('- inr', 'test.yaml: a config must be a mapping of sections (dataset, inr, study, ...)');
});

test('the fixed INR keys cannot change', () => {
  rejectsYaml('inr: {inr_type: mlp}', 'inr.inr_type = "mlp": fixed at "siren_txyz"');
  rejectsYaml('inr: {inr_field_name: position}', 'inr.inr_field_name = "position": fixed at "velocity"');
  rejectsYaml('inr: {inr_gradient_mode: true}', 'inr.inr_gradient_mode = true: fixed at false');
});

test('the first problem is reported: data set, then inr, then study, each in file order', () => {
  rejectsYaml('study: {slots: 0}\ninr: {omega_inr: 0, n_layers_inr: 0}\n', 'inr.omega_inr = 0: must be a number > 0');
  rejectsYaml('inr: {omega_inr: 0}\ndataset: {seed: -1}\n', 'dataset.seed = -1: must be an integer >= 0');
});

test('the dataset section: presets, folders, names and their errors', () => {
  rejectsYaml('dataset: {preset: huge}', 'dataset.preset = "huge": must be one of dicty, dicty-small, dicty-tiny');
  rejectsYaml(
    'dataset: {preset: dicty-smal}',
    'dataset.preset = "dicty-smal": must be one of dicty, dicty-small, dicty-tiny; did you mean dicty-small?',
  );
  rejectsYaml('dataset: {sells: 10}', 'dataset.sells = 10: unknown key in dataset; did you mean cells?');
  rejectsYaml('dataset: {seed: 1.5}', 'dataset.seed = 1.5: must be an integer >= 0');
  rejectsYaml('dataset: {cells: 0}', 'dataset.cells = 0: must be an integer >= 1');
  rejectsYaml('dataset: {frames: 1}', 'dataset.frames = 1: must be an integer >= 2');
  rejectsYaml('dataset: {dt: 0}', 'dataset.dt = 0: must be a number > 0');
  rejectsYaml('dataset: {v0: -1}', 'dataset.v0 = -1: must be a number >= 0');
  rejectsYaml('dataset: 42', 'dataset = 42: must be a data set name, or a mapping with path or preset');
  rejectsYaml('dataset: {path: ""}', 'dataset.path = "": must be a folder path');
  rejectsYaml(
    'dataset: {path: data/x, preset: dicty}',
    'dataset.preset = "dicty": not with dataset.path (a data set folder is already made); give either path or preset',
  );
  rejectsYaml('dataset: {path: data/x, seed: 3}', 'dataset.seed = 3: not with dataset.path (a data set folder is already made)');
  rejectsYaml('dataset: {path: data/x, cells: 3}', 'dataset.cells = 3: not with dataset.path (a data set folder is already made)');
  assert.deepEqual(parseConfig('dataset: {path: data/x}').config.dataset, { kind: 'path', path: 'data/x' });
});

test('model parameter relations blame the value that was set', () => {
  rejectsYaml('dataset: {r_on: 0.1}', 'dataset.r_on = 0.1: must be > r0 (0.12)');
  rejectsYaml('dataset: {r0: 0.3}', 'dataset.r0 = 0.3: must be < r_on (0.2)');
  rejectsYaml('dataset: {max_radius: 0.15}', 'dataset.max_radius = 0.15: must be >= r_on (0.2)');
  rejectsYaml('dataset: {r_on: 0.3}', 'dataset.r_on = 0.3: must be <= max_radius (0.25)');
  rejectsYaml(
    'dataset: {preset: dicty, max_radius: 1}',
    'dataset.max_radius = 1: must be <= box/3 (0.666667) so the cell list has 3 cells per side',
  );
  rejectsYaml('dataset: {box: 0.5}', 'dataset.box = 0.5: must be >= 3 * max_radius (0.75) so the cell list has 3 cells per side');
});

test('checkModelParams serves the generator and CLI flags too', () => {
  assert.equal(checkModelParams({}, '').cells, 1000);
  rejects(() => checkModelParams({ cells: 0 }, ''), 'cells = 0: must be an integer >= 1');
  rejects(() => checkModelParams({ cells: Number('abc') }, '--'), '--cells = NaN: must be an integer >= 1');
  rejects(() => checkModelParams({ frames: 1 }, 'dataset'), 'dataset.frames = 1: must be an integer >= 2');
});

test('the study section: unknown keys, bad values, the n_iter_block alias', () => {
  rejectsYaml('study: {n_iter: 3}', 'study.n_iter = 3: unknown key in study; did you mean n_iter_block?');
  rejectsYaml('study: {slots: 0}', 'study.slots = 0: must be an integer >= 1');
  rejectsYaml('study: {ucb_c: -1}', 'study.ucb_c = -1: must be a number >= 0');
  rejectsYaml('study: {max_trial_minutes: 0}', 'study.max_trial_minutes = 0: must be a number > 0, or auto');
  rejectsYaml('study: {agent: bayes}', 'study.agent = "bayes": must be one of rules, tpe, random, llm, hybrid');
  rejectsYaml('study: {agent: random_search}', 'study.agent = "random_search": must be one of rules, tpe, random, llm, hybrid; did you mean random?');
  rejectsYaml('study: {llm: gpt}', 'study.llm = "gpt": must be a mapping');
  rejectsYaml(
    'study: {block: 24, n_iter_block: 12}',
    'study.n_iter_block = 12: conflicts with study.block = 24 (the same setting under another name)',
  );
  assert.equal(parseConfig('study: {n_iter_block: 12}').config.study.block, 12);
});

test('study.search_space errors', () => {
  const ss = (body: string): string => `study:\n  search_space:\n    ${body}\n`;
  rejectsYaml(ss('inr_total_steps: {min: 20000, max: 500}'), 'study.search_space.inr_total_steps.max = 500: must be > min (20000)');
  rejectsYaml(ss('omega_inr: {min: 5, max: 5}'), 'study.search_space.omega_inr.max = 5: must be > min (5)');
  rejectsYaml(ss('omega_inr: {min: 200}'), 'study.search_space.omega_inr.min = 200: must be < max (100)');
  rejectsYaml(ss('inr_learning_rate: {min: 0, max: 1e-3}'), 'study.search_space.inr_learning_rate.min = 0: must be a number > 0');
  rejectsYaml(ss('hidden_dim_inr: {min: 100.5, max: 512}'), 'study.search_space.hidden_dim_inr.min = 100.5: must be an integer >= 1');
  rejectsYaml(ss('omega: {min: 1, max: 5}'), 'study.search_space.omega = {"min":1,"max":5}: unknown key in study.search_space; did you mean omega_inr?');
  rejectsYaml(ss('inr_type: {min: 1, max: 5}'), 'study.search_space.inr_type = {"min":1,"max":5}: not explorable (inr.inr_type is fixed at "siren_txyz")');
  rejectsYaml(ss('omega_inr: {mn: 1}'), 'study.search_space.omega_inr.mn = 1: unknown key in study.search_space.omega_inr; did you mean min?');
  rejectsYaml(ss('omega_inr: {scale: integer}'), 'study.search_space.omega_inr.scale = "integer": must be one of log, linear');
  rejectsYaml(ss('inr_batch_size: {scale: log}'), 'study.search_space.inr_batch_size.scale = "log": must be one of categorical');
  rejectsYaml(ss('omega_inr: {step: 1}'), 'study.search_space.omega_inr.step = 1: only for the integer scale');
  rejectsYaml(
    ss('inr_batch_size: {min: 5, max: 7}'),
    'study.search_space.inr_batch_size = {"min":5,"max":7}: no choice of 1, 2, 4, 8, 16 lies in [5, 7]',
  );
});

test("a proposal outside the study's search range is an error", () => {
  const space = resolveSearchSpace(defaultConfig());
  const propose = (change: Partial<InrConfig>): InrConfig => ({ ...defaultInr(), ...change });
  checkProposal(defaultInr(), space);
  rejects(() => checkProposal(propose({ hidden_dim_inr: 4096 }), space), 'inr.hidden_dim_inr = 4096 is outside the search range [128, 1024]');
  rejects(() => checkProposal(propose({ inr_learning_rate: 2e-3 }), space), 'inr.inr_learning_rate = 0.002 is outside the search range [1e-6, 0.001]');
  rejects(() => checkProposal(propose({ inr_batch_size: 3 }), space), 'inr.inr_batch_size = 3 is not one of the search choices {1, 2, 4, 8, 16}');
  rejects(() => checkProposal(propose({ n_layers_inr: 3.5 }), space), 'inr.n_layers_inr = 3.5: must be an integer >= 1');
  const cpu = resolveSearchSpace(parseConfig('study: {search_space: {inr_total_steps: {min: 500, max: 20000}}}').config);
  rejects(() => checkProposal(defaultInr(), cpu), 'inr.inr_total_steps = 500000 is outside the search range [500, 20000]');
});

test('a batch cannot hold more frames than the data set has', () => {
  checkBatchAgainstFrames({ inr_batch_size: 40 }, 40);
  rejects(
    () => checkBatchAgainstFrames({ inr_batch_size: 64 }, 40),
    "inr.inr_batch_size = 64: must be <= the data set's number of frames (40)",
  );
});

test('file errors: missing file, YAML syntax with line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-config-'));
  try {
    const missing = join(dir, 'nope.yaml');
    rejects(() => loadConfig(missing), `config file ${missing} not found`);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'inr:\n  omega_inr: 5\n  omega_inr: 6\n');
    rejects(() => loadConfig(bad), `${bad}:3:3: YAML syntax error: Map keys must be unique`);
    writeFileSync(bad, 'inr: {omega_inr: 5\nstudy: {}\n');
    rejects(
      () => loadConfig(bad),
      `${bad}:2:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
