import { defaultLlm } from '../src/config/llm.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  configToYaml, defaultConfig, defaultInr, loadConfig, parseConfig, resolveSearchSpace, type Config,
} from '../src/config/schema.js';
import { PRESETS, checkModelParams } from '../src/config/dicty-model.js';
import { EXPLORABLE_KEYS, FIXED_INR, SEARCH_PARAMS, isExplorable, searchParam } from '../src/config/search-space.js';
import { closest } from '../src/config/suggest.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../test/fixtures/config/${name}`, import.meta.url));

test('the INR defaults are the protocol defaults', () => {
  assert.deepEqual(defaultInr(), {
    omega_inr: 10.0,
    inr_learning_rate: 1e-4,
    hidden_dim_inr: 384,
    n_layers_inr: 3,
    inr_total_steps: 500000,
    inr_batch_size: 8,
    inr_xy_period: 1.0,
    inr_t_period: 1.0,
    inr_field_name: 'velocity',
    inr_type: 'siren_txyz',
    inr_gradient_mode: false,
  });
});

test("the search-space table is the protocol's table, in its order", () => {
  const rows = SEARCH_PARAMS.map((p) => [p.key, p.yamlPath, p.default, p.typical]);
  assert.deepEqual(rows, [
    ['omega_inr', 'inr.omega_inr', 10.0, [1.0, 100.0]],
    ['inr_learning_rate', 'inr.inr_learning_rate', 1e-4, [1e-6, 1e-3]],
    ['hidden_dim_inr', 'inr.hidden_dim_inr', 384, [128, 1024]],
    ['n_layers_inr', 'inr.n_layers_inr', 3, [2, 5]],
    ['inr_total_steps', 'inr.inr_total_steps', 500000, [50000, 2000000]],
    ['inr_batch_size', 'inr.inr_batch_size', 8, [1, 16]],
    ['inr_xy_period', 'inr.inr_xy_period', 1.0, [0.5, 10.0]],
    ['inr_t_period', 'inr.inr_t_period', 1.0, [0.5, 10.0]],
  ]);
});

test("the default search space is the reference's Optuna space", () => {
  const space = resolveSearchSpace(defaultConfig());
  assert.deepEqual(Object.values(space).map((r) => ({ ...r })), [
    { key: 'omega_inr', scale: 'log', min: 1, max: 100, integer: false },
    { key: 'inr_learning_rate', scale: 'log', min: 1e-6, max: 1e-3, integer: false },
    { key: 'hidden_dim_inr', scale: 'integer', min: 128, max: 1024, integer: true, step: 64 },
    { key: 'n_layers_inr', scale: 'integer', min: 2, max: 5, integer: true, step: 1 },
    { key: 'inr_total_steps', scale: 'log', min: 50000, max: 2000000, integer: true },
    { key: 'inr_batch_size', scale: 'categorical', min: 1, max: 16, integer: true, choices: [1, 2, 4, 8, 16] },
    { key: 'inr_xy_period', scale: 'linear', min: 0.5, max: 10, integer: false },
    { key: 'inr_t_period', scale: 'linear', min: 0.5, max: 10, integer: false },
  ]);
});

test("mutation moves are the protocol's, with layers +-1 and periods x2 or /2 our choice", () => {
  const moves = Object.fromEntries(SEARCH_PARAMS.map((p) => [p.key, [p.mutation.op, [...p.mutation.by]]]));
  assert.deepEqual(moves, {
    omega_inr: ['add', [5, -5]],
    inr_learning_rate: ['multiply', [2, 0.5]],
    hidden_dim_inr: ['add', [128, -128]],
    n_layers_inr: ['add', [1, -1]],
    inr_total_steps: ['multiply', [1.5, 2, 1 / 1.5, 0.5]],
    inr_batch_size: ['multiply', [2, 0.5]],
    inr_xy_period: ['multiply', [2, 0.5]],
    inr_t_period: ['multiply', [2, 0.5]],
  });
});

test('only the eight table keys are explorable; the fixed keys are not', () => {
  assert.equal(EXPLORABLE_KEYS.length, 8);
  assert.ok(EXPLORABLE_KEYS.every(isExplorable));
  for (const k of Object.keys(FIXED_INR)) assert.equal(isExplorable(k), false);
  assert.equal(isExplorable('omega'), false);
  assert.equal(searchParam('hidden_dim_inr').step, 64);
});

test('the study defaults are the reference loop: 4 slots, blocks of 24, rules agent; every GPU, two trials to one; no pruner; 10 TPE startup trials; figures drawn', () => {
  const c = defaultConfig();
  assert.deepEqual(c.study, {
    iterations: 48, slots: 4, block: 24, ucb_c: 1.414, max_trial_minutes: 'auto',
    agent: 'rules', seed: 0, search_space: {}, gpus: 'auto', trials_per_gpu: 2, executor: 'local',
    pruner: 'none', pruning: { startup_trials: 4, warmup_fraction: 0.2, reduction_factor: 3, min_rung: 0.1 }, tpe: { startup: 10 }, figures: true,
  });
  assert.throws(() => parseConfig('study: {pruner: hyperband}'), /^UserError: study\.pruner = "hyperband": must be one of none, median, asha/);
  assert.throws(() => parseConfig('study: {pruning: {reduction_factor: 1}}'), /^UserError: study\.pruning\.reduction_factor = 1: /);
  assert.throws(() => parseConfig('study: {pruning: {min_rung: 0.05}}'), /^UserError: study\.pruning\.min_rung = 0\.05: must be a number >= 0\.1 and < 1/);
  assert.throws(() => parseConfig('study: {pruning: {warmup_fraction: 1}}'), /^UserError: study\.pruning\.warmup_fraction = 1: must be a number >= 0 and < 1/);
  assert.equal(parseConfig('study: {tpe: {startup: 3}}').config.study.tpe.startup, 3);
  assert.deepEqual(c.engine, { name: 'cpu', device: 'auto', precision: 'fp32' });
});

test('study.gpus and study.trials_per_gpu: a list of distinct indices or auto, a count; the engine section checked as a whole', () => {
  const study = (s: string): unknown => parseConfig(`study:\n  ${s}\n`).config.study;
  assert.deepEqual((study('gpus: [0, 2]') as { gpus: unknown }).gpus, [0, 2]);
  assert.throws(() => study('gpus: [0, 0]'), /^UserError: study\.gpus = \[0,0\]: must be auto or a list of distinct CUDA device indices/);
  assert.throws(() => study('gpus: [-1]'), /study\.gpus\[0\] = -1: must be an integer >= 0/);
  assert.throws(() => study('trials_per_gpu: 0'), /study\.trials_per_gpu = 0: must be an integer >= 1 and <= 64/);
  assert.throws(() => parseConfig('engine:\n  device: cuda\n'), /engine\.device = "cuda": the cpu engine runs on the CPU only/);
  assert.throws(() => parseConfig('engine:\n  name: gpu\n'), /engine\.name = "gpu": must be one of cpu, torch, auto/);
  const back = parseConfig(configToYaml(parseConfig('engine: {name: torch, device: "cuda:1", precision: bf16, python: /opt/py}\nstudy: {gpus: [1], trials_per_gpu: 4}\n').config)).config;
  assert.deepEqual(back.engine, { name: 'torch', device: 'cuda:1', precision: 'bf16', python: '/opt/py' });
  assert.deepEqual([back.study.gpus, back.study.trials_per_gpu], [[1], 4]);
});

test('study.lsf and study.command: each setting checked where it is written, and written back unchanged', () => {
  const study = (s: string): Config['study'] => parseConfig(`study:\n  ${s}\n`).config.study;
  const lsf = 'lsf: {queue: gpu, project: lab, gpu: "num=1", cpus: 4, resource: "rusage[mem=16000] span[hosts=1]", mem: 16GB, time: "1:10", extra: ["-app gpu_app"], setup: module load cuda}';
  const command = 'command: [python3, train.py, --config, "{config}", "--out={run_dir}", "{{literal}}"]';
  const parsed = study(`executor: lsf\n  ${lsf}\n  ${command}`);
  assert.deepEqual(parsed.lsf, { queue: 'gpu', project: 'lab', gpu: 'num=1', cpus: 4, resource: 'rusage[mem=16000] span[hosts=1]', mem: '16GB', time: '1:10', extra: ['-app gpu_app'], setup: 'module load cuda' });
  assert.deepEqual(parsed.command, ['python3', 'train.py', '--config', '{config}', '--out={run_dir}', '{{literal}}']);
  const back = parseConfig(configToYaml(parseConfig(`study:\n  executor: lsf\n  ${lsf}\n  ${command}\n`).config)).config.study;
  assert.deepEqual([back.executor, back.lsf, back.command], ['lsf', parsed.lsf, parsed.command]);
  assert.deepEqual(study('command: python3 train.py {config}').command, ['python3', 'train.py', '{config}'], 'a string splits at spaces');
  assert.throws(() => study(`lsf: {resource: 'a"b'}`), /^UserError: study\.lsf\.resource = "a\\"b": must be a bsub -R value without double quotes/);
  assert.throws(() => study('lsf: {queue: gpu, color: red}'), /^UserError: study\.lsf\.color = "red": /);
  assert.throws(() => study('command: ["{config}", x]'), /^UserError: study\.command\[0\] = "\{config\}": is the program to run and cannot be a placeholder/);
  assert.throws(() => study('command: [python3, "a{b"]'), /^UserError: study\.command\[1\] = "a\{b": has \{, which is not a placeholder/);
  assert.throws(() => study('command: []'), /^UserError: study\.command = \[\]: must be the trainer's command line/);
});

test("study.max_trial_minutes takes a number or auto (the data set's default budget)", () => {
  assert.equal(parseConfig('study: {max_trial_minutes: auto}').config.study.max_trial_minutes, 'auto');
  assert.equal(parseConfig('study: {max_trial_minutes: 2.5}').config.study.max_trial_minutes, 2.5);
  assert.equal(parseConfig('').config.study.max_trial_minutes, 'auto', 'auto is the default');
  assert.match(configToYaml(parseConfig('').config), /max_trial_minutes: auto/);
  assert.equal(parseConfig(configToYaml(parseConfig('study: {max_trial_minutes: 7}').config)).config.study.max_trial_minutes, 7);
});

test('an empty file is the default config: dicty-small, seed 0', () => {
  const { config, warnings } = parseConfig('', 'empty.yaml');
  assert.deepEqual(config, defaultConfig());
  assert.deepEqual(warnings, []);
  assert.equal(config.dataset.kind, 'preset');
  if (config.dataset.kind === 'preset') {
    assert.equal(config.dataset.preset, 'dicty-small');
    assert.equal(config.dataset.seed, 0);
    assert.deepEqual(config.dataset.params, checkModelParams(PRESETS['dicty-small'].params, 'dataset'));
  }
});

test('a reference cell-gnn file loads, keeps its other sections, and takes nothing from them', () => {
  const { config, warnings } = loadConfig(fixture('reference-cellgnn.yaml'));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.dataset, { kind: 'name', name: 'dicty_3D_1000_cells_10000_frames' });
  assert.deepEqual(config.inr, defaultInr()); // 1E-4 and 5e5 read as numbers
  assert.deepEqual(Object.keys(config.other), ['description', 'graph_model', 'training', 'plotting', 'claude']);
  assert.deepEqual(config.other.claude, { n_epochs: 1, data_augmentation_loop: 1, n_iter_block: 24, ucb_c: 1.414, node_name: 'a100' });
  assert.equal((config.other.training as { learning_rate_start: number }).learning_rate_start, 1e-4);
  assert.deepEqual(config.simulation, {
    params: [[1.0, 0.12, 250.0]], n_particles: 1000, n_particle_types: 1, n_frames: 10000, delta_t: 0.002,
    dimension: 3, boundary: 'periodic', max_radius: 0.2, min_radius: 0.0, state_type: 'discrete',
    connectivity_type: 'distance',
  });
  assert.deepEqual(config.study, defaultConfig().study); // claude: is the reference's, not our study
});

test('configToYaml writes everything back: parse(write(c)) equals c', () => {
  const { config } = loadConfig(fixture('reference-cellgnn.yaml'));
  const text = configToYaml(config);
  assert.deepEqual(parseConfig(text, 'written.yaml'), { config, warnings: [] });
  assert.match(text, /^description: /); // still opens with what the file is about
  assert.match(text, /\ngraph_model:\n {2}particle_model_name: PDE_dicty\n/);
  assert.match(text, /\n {2}inr_type: siren_txyz\n/);
});

test('study.llm: the schema knows its keys; a wrong one is named with what is allowed', () => {
  const bad = (llm: string): string => {
    try {
      parseConfig(`study:\n  agent: llm\n  llm: ${llm}\n`, 'study.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };
  assert.match(bad('{provider: gemini}'), /^study\.llm\.provider = "gemini": must be one of anthropic, openai, claude-cli/);
  assert.match(bad('{provider: openai, modell: x}'), /^study\.llm\.modell = "x": .*did you mean model\?/);
  assert.match(bad('{mode: xml}'), /^study\.llm\.mode = "xml": must be one of auto, tools, json/);
  assert.match(bad('{timeout_s: 0}'), /^study\.llm\.timeout_s = 0: /);
  assert.match(bad('{base_url: "ftp://x"}'), /^study\.llm\.base_url = "ftp:\/\/x": must be an http:\/\/ or https:\/\/ URL/);
  assert.match(bad('{api_key: sk-123}'), /^study\.llm\.api_key = "sk-123": /, 'keys are not config: only the environment has them');
});

test('a study config with overrides round-trips too', () => {
  const text = [
    'dataset: {preset: dicty-tiny, seed: 7, cells: 16, r0: 0.1}',
    'inr: {inr_total_steps: 2000, hidden_dim_inr: 64, inr_batch_size: 4}',
    'study:',
    '  agent: tpe',
    '  n_iter_block: 12',
    '  search_space:',
    '    inr_total_steps: {max: 20000, min: 500}',
    '    hidden_dim_inr: {min: 32, max: 256, step: 32}',
    '    omega_inr: {scale: linear}',
    '  llm: {provider: openai, model: some-model, instructions: be brief}',
  ].join('\n');
  const first = parseConfig(text, 'study.yaml');
  assert.equal(first.config.study.block, 12);
  assert.deepEqual(first.config.study.llm, { ...defaultLlm('openai'), model: 'some-model', instructions: 'be brief' });
  assert.deepEqual(first.config.study.search_space.inr_total_steps, { min: 500, max: 20000 });
  if (first.config.dataset.kind !== 'preset') assert.fail('expected a preset data set');
  assert.deepEqual(first.config.dataset.overrides, { cells: 16, r0: 0.1 });
  assert.equal(first.config.dataset.params.frames, 40);
  const again = parseConfig(configToYaml(first.config), 'again.yaml');
  assert.deepEqual(again, first);
});

test('a study narrows or rescales the search space', () => {
  const { config } = parseConfig(
    'study:\n  search_space:\n    inr_total_steps: {min: 500, max: 20000}\n    inr_batch_size: {min: 1, max: 4}\n    hidden_dim_inr: {min: 32, max: 256, step: 32}\n    omega_inr: {scale: linear}\n',
  );
  const space = resolveSearchSpace(config);
  assert.deepEqual({ ...space.inr_total_steps }, { key: 'inr_total_steps', scale: 'log', min: 500, max: 20000, integer: true });
  assert.deepEqual(space.inr_batch_size.choices, [1, 2, 4]);
  assert.deepEqual([space.hidden_dim_inr.min, space.hidden_dim_inr.max, space.hidden_dim_inr.step], [32, 256, 32]);
  assert.equal(space.omega_inr.scale, 'linear');
  assert.deepEqual([space.omega_inr.min, space.omega_inr.max], [1, 100]);
});

test('values outside the typical range are warnings, not errors', () => {
  const { config, warnings } = parseConfig(
    'inr: {omega_inr: 200, inr_learning_rate: 1e-7, hidden_dim_inr: 64, n_layers_inr: 1, inr_total_steps: 3000, inr_batch_size: 32, inr_xy_period: 0.25, inr_t_period: 20}',
  );
  assert.equal(config.inr.omega_inr, 200);
  assert.deepEqual(warnings, [
    'inr.omega_inr = 200 is outside the typical range [1, 100]',
    'inr.inr_learning_rate = 1e-7 is outside the typical range [1e-6, 0.001]',
    'inr.hidden_dim_inr = 64 is outside the typical range [128, 1024]',
    'inr.n_layers_inr = 1 is outside the typical range [2, 5]',
    'inr.inr_total_steps = 3000 is outside the typical range [50000, 2000000]',
    'inr.inr_batch_size = 32 is outside the typical range [1, 16]',
    'inr.inr_xy_period = 0.25 is outside the typical range [0.5, 10]',
    'inr.inr_t_period = 20 is outside the typical range [0.5, 10]',
  ]);
});

test("a search range beyond the typical range, or a start outside the study's range, warns", () => {
  const { warnings } = parseConfig(
    'inr: {inr_batch_size: 3}\nstudy:\n  search_space:\n    inr_total_steps: {min: 500, max: 20000}\n',
  );
  assert.deepEqual(warnings, [
    'study.search_space.inr_total_steps = [500, 20000] goes outside the typical range [50000, 2000000]',
    'inr.inr_total_steps = 500000 is outside the study\'s search range [500, 20000]',
    "inr.inr_batch_size = 3 is not one of the study's search choices {1, 2, 4, 8, 16}",
  ]);
});

test('a parsed object is accepted as well as YAML text, and copied', () => {
  const input = { inr: { omega_inr: 5 }, extra: { list: [1, 2] } };
  const { config } = parseConfig(input, 'object');
  assert.equal(config.inr.omega_inr, 5);
  input.extra.list.push(3);
  assert.deepEqual(config.other.extra, { list: [1, 2] });
});

test('did-you-mean finds dropped affixes and typos, and stays quiet for unrelated words', () => {
  const keys = SEARCH_PARAMS.map((p) => p.key);
  assert.equal(closest('omega', keys), 'omega_inr');
  assert.equal(closest('learning_rate', keys), 'inr_learning_rate');
  assert.equal(closest('hiden_dim_inr', keys), 'hidden_dim_inr');
  assert.equal(closest('foo', keys), undefined);
});
