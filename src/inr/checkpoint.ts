import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { jsonNumber, toJson } from '../util/json.js';
import type { RngState } from '../util/rng.js';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.js';
import { parameterTensors, tensorSize, type SirenSpec } from './spec.js';
import type { EvalRecord, TrainState } from './train.js';

/**
 * A checkpoint is one safetensors file, written atomically (so a kill at any
 * moment leaves the previous checkpoint or the new one, never a torn file):
 *
 * - the parameters under their reference names (F32, [out, in]);
 * - the Adam moments as `optimizer.exp_avg.<name>` and `optimizer.exp_avg_sq.<name>` (F32);
 * - `losses`: the loss of every step done (F64, [step]);
 * - `__metadata__.inrscape`: JSON with the step, Adam's step, the batch Rng
 *   state, the evaluations so far, the training time so far, the spec, and
 *   what the run was (seed, engine, threads, total steps).
 */

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const CHECKPOINT_FORMAT = 'inrscape-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** What run a checkpoint belongs to: checked on resume. */
export interface CheckpointIdentity {
  seed: number;
  engine: string;
  threads: number;
  totalSteps: number;
}

export interface Checkpoint {
  spec: SirenSpec;
  identity: CheckpointIdentity;
  state: TrainState;
}

interface CheckpointJson {
  format: string;
  version: number;
  spec: SirenSpec;
  seed: number;
  engine: string;
  threads: number;
  total_steps: number;
  step: number;
  adam_step: number;
  rng: RngState;
  evaluations: EvalRecord[];
  elapsed_s: number;
  eval_s: number;
  resumed_at: number[];
}

export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const { spec, state, identity } = ck;
  const shapes = parameterTensors(spec);
  const tensors: SafeTensor[] = [];
  shapes.forEach((t, k) => tensors.push({ name: t.name, dtype: 'F32', shape: t.shape, data: state.params[k] }));
  shapes.forEach((t, k) => tensors.push({ name: `optimizer.exp_avg.${t.name}`, dtype: 'F32', shape: t.shape, data: state.optimizer.m[k] }));
  shapes.forEach((t, k) => tensors.push({ name: `optimizer.exp_avg_sq.${t.name}`, dtype: 'F32', shape: t.shape, data: state.optimizer.v[k] }));
  tensors.push({ name: 'losses', dtype: 'F64', shape: [state.losses.length], data: state.losses });
  const meta: CheckpointJson = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    spec,
    seed: identity.seed,
    engine: identity.engine,
    threads: identity.threads,
    total_steps: identity.totalSteps,
    step: state.step,
    adam_step: state.optimizer.step,
    rng: state.rng,
    evaluations: state.evaluations,
    elapsed_s: state.elapsedS,
    eval_s: state.evalS,
    resumed_at: state.resumedAt,
  };
  return encodeSafetensors(tensors, { inrscape: toJson(meta) });
}

export function decodeCheckpoint(buf: Uint8Array, name = CHECKPOINT_FILE): Checkpoint {
  const file = decodeSafetensors(buf, name);
  const bad = (what: string): never => {
    throw new UserError(`${name} is not a usable checkpoint: ${what}`);
  };
  let meta: CheckpointJson;
  try {
    meta = JSON.parse(file.metadata.inrscape ?? 'null') as CheckpointJson;
  } catch {
    return bad('its metadata is not JSON');
  }
  if (meta === null || meta.format !== CHECKPOINT_FORMAT) bad('no inrscape checkpoint metadata');
  if (meta.version !== CHECKPOINT_VERSION) bad(`version ${meta.version} is not supported (this inrscape reads version ${CHECKPOINT_VERSION})`);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const shapes = parameterTensors(meta.spec);
  const f32 = (n: string, size: number): Float32Array => {
    const t = byName.get(n);
    if (!t || t.dtype !== 'F32' || t.data.length !== size) return bad(`tensor ${n} is missing or has the wrong size`);
    return t.data as Float32Array;
  };
  const params = shapes.map((t) => f32(t.name, tensorSize(t)));
  const m = shapes.map((t) => f32(`optimizer.exp_avg.${t.name}`, tensorSize(t)));
  const v = shapes.map((t) => f32(`optimizer.exp_avg_sq.${t.name}`, tensorSize(t)));
  const losses = byName.get('losses');
  if (!losses || losses.dtype !== 'F64' || losses.data.length !== meta.step) bad(`losses must hold ${meta.step} float64 values`);
  const evaluations = meta.evaluations.map((e): EvalRecord => ({
    step: e.step,
    r2: jsonNumber(e.r2),
    mse: jsonNumber(e.mse),
    slope: jsonNumber(e.slope),
    r2_cod: jsonNumber(e.r2_cod),
    time_s: jsonNumber(e.time_s),
  }));
  return {
    spec: meta.spec,
    identity: { seed: meta.seed, engine: meta.engine, threads: meta.threads, totalSteps: meta.total_steps },
    state: {
      step: meta.step,
      params,
      optimizer: { step: meta.adam_step, m, v },
      rng: meta.rng,
      losses: losses!.data as Float64Array,
      evaluations,
      elapsedS: meta.elapsed_s,
      evalS: meta.eval_s,
      resumedAt: meta.resumed_at,
    },
  };
}

/** Write `dir/checkpoint.safetensors` atomically. */
export function writeCheckpoint(dir: string, ck: Checkpoint): void {
  writeFileAtomic(join(dir, CHECKPOINT_FILE), encodeCheckpoint(ck));
}

/** The checkpoint in `dir`, or undefined when there is none yet. */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  return decodeCheckpoint(readFileSync(path), path);
}
