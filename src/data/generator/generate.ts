import type { ModelParams } from '../../config/dicty-model.js';
import { writeDataset, type DatasetMeta } from '../dataset.js';
import type { CellSeries } from '../series.js';
import { simulateDicty, type Progress } from './dicty.js';

export interface GenerateRequest {
  preset: string;
  seed: number;
  params: ModelParams;
  outDir: string;
  replace?: boolean;
  onProgress?: Progress;
}

/** Simulate a preset (with overrides) and write it as a dataset folder, atomically. */
export function generateDataset(req: GenerateRequest): { meta: DatasetMeta; series: CellSeries } {
  const { series, centres } = simulateDicty(req.params, req.seed, req.onProgress);
  const meta = writeDataset(
    req.outDir,
    series,
    {
      name: req.preset,
      dt: req.params.dt,
      box: req.params.box,
      seed: req.seed,
      generator: { name: 'dicty', params: { preset: req.preset, ...req.params, centre_positions: centres } },
    },
    { replace: req.replace },
  );
  return { meta, series };
}
