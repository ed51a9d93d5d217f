import { join } from 'node:path';
import { PRESETS, checkModelParams } from '../../src/config/dicty-model.js';
import { defaultInr, type InrConfig } from '../../src/config/inr.js';
import { loadDataset, writeDataset, type Dataset } from '../../src/data/dataset.js';
import { generateDataset } from '../../src/data/generator/generate.js';
import type { AdamSettings } from '../../src/inr/engine.js';
import { ReferenceModel } from '../reference/siren.js';
import { StepwiseEngine, type StepResult } from './stepwise.js';

/**
 * The float64 reference engine with its state rounded to float32 after every
 * step, as a float32 engine keeps it. Its parameters and Adam moments then
 * survive the float32 interface (getParameters, checkpoints) exactly, so a
 * resumed run can continue bit for bit, as it must with the native engine.
 */
export class F32ReferenceModel extends ReferenceModel {
  override trainStep(inputs: Float32Array, targets: Float32Array, points: number, lr: number, adam: AdamSettings): StepResult {
    const r = super.trainStep(inputs, targets, points, lr, adam);
    for (const group of [this.params, this.m, this.v]) {
      for (const a of group) for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]);
    }
    return r;
  }
}

export class F32ReferenceEngine extends StepwiseEngine {
  constructor() {
    super('reference-f32', (spec, params) => new F32ReferenceModel(spec, params));
  }
}

/** Generate dicty-tiny into `dir`. */
export function makeTinyDataset(dir: string, seed = 1): Dataset {
  const params = checkModelParams(PRESETS['dicty-tiny'].params, 'dataset');
  generateDataset({ preset: 'dicty-tiny', seed, params, outDir: dir });
  return loadDataset(dir);
}

/** A copy of `ds` at `dir` with its velocities changed by `edit`. */
export function editedDataset(ds: Dataset, dir: string, edit: (vel: Float32Array) => void): Dataset {
  const vel = ds.series.vel.slice();
  edit(vel);
  writeDataset(join(dir), { ...ds.series, vel, extras: {} }, { name: `${ds.meta.name}-edited`, dt: ds.meta.dt, box: ds.meta.box });
  return loadDataset(dir);
}

/** A small network that the reference engine trains in well under a second. */
export function tinyInr(overrides: Partial<InrConfig> = {}): InrConfig {
  return {
    ...defaultInr(),
    omega_inr: 10,
    inr_learning_rate: 1e-2,
    hidden_dim_inr: 16,
    n_layers_inr: 2,
    inr_total_steps: 100,
    inr_batch_size: 2,
    ...overrides,
  };
}
