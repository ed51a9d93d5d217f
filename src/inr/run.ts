import { existsSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { configToYaml, parseConfig, type Config } from '../config/schema.js';
import { checkBatchAgainstFrames } from '../config/inr.js';
import { datasetToYaml } from '../config/dataset.js';
import { loadDataset, packageVersion, type Dataset } from '../data/dataset.js';
import { DIMS } from '../data/series.js';
import { discardDir, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { jsonNumber, toJson } from '../util/json.js';
import { readCheckpoint, writeCheckpoint, type CheckpointIdentity } from './checkpoint.js';
import { EngineLost, type Engine } from './engine.js';
import { formatResultsLog, type ResultsLog } from './results-log.js';
import {
  CONFIG_FILE, FRAME_MSE_FILE, GT_FILE, MODEL_FILE, PRED_FILE, RESULTS_LOG, RUN_JSON, RUN_SPEC_FILE,
  beginRunFolder, commitRunFolder, partialDir, releaseLock, reopenRunFolder, writeNpyF32, writeNpyF64,
} from './run-folder.js';
import { saveModel } from './safetensors.js';
import { parameterCount } from './spec.js';
import { specOf, train, type TrainProgress, type TrainResult, type TrainState } from './train.js';

/**
 * One training run with its folder: stage, train (checkpointing), write the
 * results, commit. What `inrscape train` does, as a function a study can call
 * with any engine.
 *
 * Errors the user can fix (bad config, missing dataset, a batch larger than
 * the data set, an existing run folder) throw UserError before anything is
 * written. Once training has started, every failure (NaN/inf loss, an engine
 * error, out of memory) ends as a committed run folder whose results.log says
 * `status: failed` and `reason: ...`, and the outcome's exit code is 1.
 */

export interface RunRequest {
  config: Config;
  /** The config file, recorded in run.json. */
  configPath?: string;
  dataset: Dataset;
  out: string;
  seed: number;
  engine: Engine;
  maxMinutes?: number;
  checkpointMinutes?: number;
  checkpointEverySteps?: number;
  /** Replace an existing run folder, or discard an interrupted one. */
  force?: boolean;
  /** Also write gt_velocity.npy (a copy of the data set's vel.npy, as the reference does). */
  writeGt?: boolean;
  onProgress?: (p: TrainProgress) => void;
  /** Stop from outside: the run checkpoints and stays resumable (status interrupted). */
  signal?: AbortSignal;
}

export interface ResumeRequest {
  out: string;
  engine: Engine;
  /** Overrides the recorded budget (total training minutes, counted over all sessions). */
  maxMinutes?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
}

export interface RunOutcome {
  status: 'ok' | 'failed' | 'interrupted';
  /** The run folder (absolute). */
  out: string;
  reason?: string;
  /** What results.log says (status ok or failed). */
  results?: ResultsLog;
  train?: TrainResult;
  /** 0 for ok (time-limited included), 1 for failed or for a lost engine; an interrupted run's exit code is its caller's choice (0 here). */
  exitCode: number;
}

/** run-spec.json: what an interrupted run needs to continue. */
export interface RunSpec {
  format: 'inrscape-run-spec';
  version: 1;
  config_path: string | null;
  seed: number;
  dataset: DatasetRecord;
  engine: string;
  threads: number;
  /** How the run was started: what a resume uses unless told otherwise. */
  engine_settings?: Record<string, unknown>;
  write_gt?: boolean;
  max_minutes: number | null;
  checkpoint_minutes: number | null;
  checkpoint_every_steps: number | null;
  started_at: string;
}

export interface DatasetRecord {
  dir: string;
  name: string;
  frames: number;
  cells: number;
  vel_sha256: string;
}

function datasetRecord(ds: Dataset): DatasetRecord {
  return { dir: resolve(ds.dir), name: ds.meta.name, frames: ds.meta.frames, cells: ds.meta.cells, vel_sha256: ds.meta.arrays.vel.sha256 };
}

/** Read the run-spec of an interrupted run (to pick the engine and threads before resuming). */
export function readRunSpec(out: string): RunSpec {
  const staging = partialDir(out);
  const path = join(staging, RUN_SPEC_FILE);
  if (!existsSync(path)) {
    if (existsSync(join(resolve(out), RESULTS_LOG))) throw new UserError(`${out} is a finished run: there is nothing to resume`);
    throw new UserError(`no interrupted run of ${out} (expected ${path})`);
  }
  let spec: RunSpec;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8')) as RunSpec;
  } catch (err) {
    throw new UserError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (spec === null || typeof spec !== 'object' || spec.format !== 'inrscape-run-spec' || spec.version !== 1) throw new UserError(`${path} is not an inrscape run spec this version reads`);
  return spec;
}

export async function startRun(req: RunRequest): Promise<RunOutcome> {
  const { config, dataset, engine } = req;
  checkBatchAgainstFrames(config.inr, dataset.meta.frames);
  const out = resolve(req.out);
  const staging = beginRunFolder(out, { force: req.force });
  const runSpec: RunSpec = {
    format: 'inrscape-run-spec',
    version: 1,
    config_path: req.configPath === undefined ? null : resolve(req.configPath),
    seed: req.seed,
    dataset: datasetRecord(dataset),
    engine: engine.name,
    threads: engine.record.threads ?? 1,
    engine_settings: { ...engine.record },
    write_gt: req.writeGt === true,
    max_minutes: req.maxMinutes ?? null,
    checkpoint_minutes: req.checkpointMinutes ?? null,
    checkpoint_every_steps: req.checkpointEverySteps ?? null,
    started_at: new Date().toISOString(),
  };
  try {
    writeFileAtomic(join(staging, CONFIG_FILE), configToYaml(config));
    writeFileAtomic(join(staging, RUN_SPEC_FILE), JSON.stringify(runSpec, null, 2) + '\n');
  } catch (err) {
    discardDir(staging);
    throw err;
  }
  return execute(config, dataset, engine, runSpec, staging, out, {
    maxMinutes: req.maxMinutes, onProgress: req.onProgress, signal: req.signal, replace: req.force === true, fresh: true,
  });
}

export async function resumeRun(req: ResumeRequest): Promise<RunOutcome> {
  const out = resolve(req.out);
  const runSpec = readRunSpec(out);
  const staging = reopenRunFolder(out);
  let config: Config, dataset: Dataset, state: TrainState | undefined;
  try {
    config = parseConfig(readFileSync(join(staging, CONFIG_FILE), 'utf8'), join(staging, CONFIG_FILE)).config;
    dataset = loadDataset(runSpec.dataset.dir);
    if (dataset.meta.arrays.vel.sha256 !== runSpec.dataset.vel_sha256) {
      throw new UserError(`the dataset at ${runSpec.dataset.dir} changed since the run started (vel.npy checksum differs): cannot resume`);
    }
    const ck = readCheckpoint(staging);
    if (ck) {
      const spec = specOf(config.inr);
      const same = JSON.stringify(ck.spec) === JSON.stringify(spec) && ck.identity.seed === runSpec.seed && ck.identity.totalSteps === config.inr.inr_total_steps;
      if (!same) throw new UserError(`the checkpoint in ${staging} does not belong to this run's config and seed`);
      state = ck.state;
    }
  } catch (err) {
    releaseLock(staging);
    throw err;
  }
  return execute(config, dataset, req.engine, runSpec, staging, out, {
    maxMinutes: req.maxMinutes ?? runSpec.max_minutes ?? undefined, onProgress: req.onProgress, signal: req.signal,
    resume: state, replace: false, fresh: false,
  });
}

interface ExecOptions {
  maxMinutes?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  resume?: TrainState;
  replace: boolean;
  /** A new run: a user error drops its staging folder (a resumed run keeps its checkpoint). */
  fresh: boolean;
}

async function execute(
  config: Config, dataset: Dataset, engine: Engine, runSpec: RunSpec, staging: string, out: string, opts: ExecOptions,
): Promise<RunOutcome> {
  const identity: CheckpointIdentity = { seed: runSpec.seed, engine: engine.name, threads: engine.record.threads ?? 1, totalSteps: config.inr.inr_total_steps };
  const spec = specOf(config.inr);
  let result: TrainResult;
  try {
    result = await train(config.inr, dataset.series, engine, runSpec.seed, {
      maxMinutes: opts.maxMinutes,
      checkpointMinutes: runSpec.checkpoint_minutes ?? undefined,
      checkpointEverySteps: runSpec.checkpoint_every_steps ?? undefined,
      onCheckpoint: (state) => writeCheckpoint(staging, { spec, identity, state }),
      resume: opts.resume,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  } catch (err) {
    if (err instanceof EngineLost) {
      // The checkpoint in the staging folder is intact: the run continues with --resume.
      releaseLock(staging);
      return { status: 'interrupted', out, reason: err.message, exitCode: 1 };
    }
    if (err instanceof UserError) {
      if (opts.fresh) discardDir(staging);
      else releaseLock(staging);
      throw err;
    }
    const reason = failureReason(err);
    const results = resultsFor(config, dataset, undefined, reason);
    writeRunRecord(staging, config, dataset, engine, runSpec, undefined, results, reason);
    commitRunFolder(staging, out, { replace: opts.replace });
    return { status: 'failed', out, reason, results, exitCode: 1 };
  }
  if (result.status === 'interrupted') {
    releaseLock(staging);
    return { status: 'interrupted', out, train: result, exitCode: 0 };
  }
  const reason = result.status === 'failed' ? result.reason ?? 'training failed' : undefined;
  const results = resultsFor(config, dataset, result, reason);
  if (result.status === 'ok' && result.final) {
    const shape = [dataset.meta.frames, dataset.meta.cells, DIMS];
    saveModel(join(staging, MODEL_FILE), result.spec, result.params, { seed: String(runSpec.seed), engine: engine.name });
    if (!result.final.pred) throw new Error('the final evaluation returned no predictions');
    writeNpyF32(join(staging, PRED_FILE), result.final.pred, shape);
    if (runSpec.write_gt === true) writeNpyF32(join(staging, GT_FILE), dataset.series.vel, shape);
    writeNpyF64(join(staging, FRAME_MSE_FILE), result.final.frameMse, [dataset.meta.frames]);
  }
  writeRunRecord(staging, config, dataset, engine, runSpec, result, results, reason);
  commitRunFolder(staging, out, { replace: opts.replace });
  return { status: result.status, out, reason, results, train: result, exitCode: result.status === 'ok' ? 0 : 1 };
}

/** One line for results.log from whatever training threw. */
export function failureReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation/i.test(msg)) return `out of memory: ${msg}`;
  if (/out of memory|ENOMEM|bad_alloc/i.test(msg)) return `out of memory: ${msg}`;
  return `engine error: ${msg}`;
}

function resultsFor(config: Config, dataset: Dataset, result: TrainResult | undefined, reason: string | undefined): ResultsLog {
  const m = reason === undefined ? result?.final?.metrics : undefined;
  const inr = config.inr;
  return {
    field_name: inr.inr_field_name,
    inr_type: inr.inr_type,
    gradient_mode: inr.inr_gradient_mode,
    final_mse: m?.mse ?? NaN,
    final_r2: m?.r2 ?? NaN,
    slope: m?.slope ?? NaN,
    n_cells: dataset.meta.cells,
    n_frames: dataset.meta.frames,
    n_components: DIMS,
    total_steps: inr.inr_total_steps,
    training_time_min: (result?.trainingTimeS ?? 0) / 60,
    final_r2_cod: m?.r2_cod ?? NaN,
    time_limited: result?.timeLimited ?? false,
    status: reason === undefined ? 'ok' : 'failed',
    ...(reason === undefined ? {} : { reason }),
  };
}

/** At most about this many points in run.json's loss history. */
export const LOSS_HISTORY_POINTS = 1000;

/** Window means of the per-step losses: `every` steps per point, the last window possibly shorter. */
export function sampleLossHistory(losses: Float64Array, totalSteps: number, points = LOSS_HISTORY_POINTS): { every: number; step: number[]; loss: number[] } {
  const every = Math.max(1, Math.ceil(totalSteps / points));
  const step: number[] = [];
  const loss: number[] = [];
  for (let start = 0; start < losses.length; start += every) {
    const end = Math.min(losses.length, start + every);
    let s = 0;
    for (let i = start; i < end; i++) s += losses[i];
    step.push(end);
    loss.push(s / (end - start));
  }
  return { every, step, loss };
}

function writeRunRecord(
  staging: string, config: Config, dataset: Dataset, engine: Engine, runSpec: RunSpec,
  result: TrainResult | undefined, results: ResultsLog, reason: string | undefined,
): void {
  const spec = specOf(config.inr);
  const m = result?.final?.metrics;
  const run = {
    format: 'inrscape-run',
    version: 1,
    status: results.status,
    ...(reason === undefined ? {} : { reason }),
    config_file: runSpec.config_path,
    config: { dataset: datasetToYaml(config.dataset), inr: config.inr },
    seed: runSpec.seed,
    dataset: runSpec.dataset,
    engine: engine.record,
    ground_truth: runSpec.write_gt === true ? GT_FILE : { file: join(runSpec.dataset.dir, 'vel.npy'), sha256: runSpec.dataset.vel_sha256 },
    versions: { inrscape: packageVersion(), node: process.version, platform: platform(), arch: arch() },
    model: { hidden: spec.hidden, layers: spec.layers, omega: spec.omega, parameters: parameterCount(spec) },
    total_steps: config.inr.inr_total_steps,
    steps_done: result?.stepsDone ?? 0,
    time_limited: result?.timeLimited ?? false,
    max_minutes: runSpec.max_minutes,
    resumed_at: result?.resumedAt ?? [],
    timings: {
      started_at: runSpec.started_at,
      finished_at: new Date().toISOString(),
      training_time_s: result?.trainingTimeS ?? 0,
      evaluation_time_s: result?.evalTimeS ?? 0,
    },
    metrics: m ? { final_mse: m.mse, final_r2: m.r2, slope: m.slope, final_r2_cod: m.r2_cod } : null,
    evaluations: result?.evaluations ?? [],
    loss_history: sampleLossHistory(result?.losses ?? new Float64Array(0), config.inr.inr_total_steps),
  };
  writeFileAtomic(join(staging, RUN_JSON), toJson(run, 2) + '\n');
  writeFileAtomic(join(staging, RESULTS_LOG), formatResultsLog(results));
}

/** The parts of run.json that tools read back, non-finite numbers restored. */
export interface RunRecord {
  status: 'ok' | 'failed';
  reason?: string;
  seed: number;
  steps_done: number;
  total_steps: number;
  time_limited: boolean;
  /** Steps at which an interrupted run was resumed. */
  resumed_at: number[];
  metrics: { final_mse: number; final_r2: number; slope: number; final_r2_cod: number } | null;
  loss_history: { every: number; step: number[]; loss: number[] };
  evaluations: { step: number; r2: number; mse: number; slope: number; r2_cod: number; time_s: number }[];
  [key: string]: unknown;
}

export function readRunRecord(dir: string): RunRecord {
  const raw = JSON.parse(readFileSync(join(dir, RUN_JSON), 'utf8')) as RunRecord;
  const n = (v: unknown): number => jsonNumber(v);
  if (raw.metrics) {
    raw.metrics = {
      final_mse: n(raw.metrics.final_mse), final_r2: n(raw.metrics.final_r2), slope: n(raw.metrics.slope), final_r2_cod: n(raw.metrics.final_r2_cod),
    };
  }
  raw.loss_history.loss = raw.loss_history.loss.map(n);
  raw.evaluations = raw.evaluations.map((e) => ({ step: e.step, r2: n(e.r2), mse: n(e.mse), slope: n(e.slope), r2_cod: n(e.r2_cod), time_s: n(e.time_s) }));
  return raw;
}
