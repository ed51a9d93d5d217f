import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MODEL_PARAMS, PRESET_NAMES, type ModelParams } from '../config/dicty-model.js';
import { presetDataset, type DatasetConfig } from '../config/dataset.js';
import { UserError, show } from '../util/errors.js';
import { DATASET_JSON, readDatasetMeta } from './dataset.js';
import { generateDataset } from './generator/generate.js';
import type { Progress } from './generator/dicty.js';
import { importData } from './import.js';

/** Where generated presets and imported reference runs are kept between runs. */
export function cacheRoot(): string {
  return resolve(process.env.INRSCAPE_CACHE ?? join('.inrscape', 'datasets'));
}

/**
 * The cache folder of a preset: named by preset and seed for people, and by a
 * hash of every model parameter so that an override never reuses stale data.
 */
export function presetCacheDir(preset: string, seed: number, params: ModelParams, root = cacheRoot()): string {
  const canonical = JSON.stringify(MODEL_PARAMS.map((p) => [p.key, params[p.key]]));
  const hash = createHash('sha256').update(canonical).digest('hex').slice(0, 12);
  return join(root, `${preset}-seed${seed}-${hash}`);
}

export interface ResolveOptions {
  /** Folder that relative `dataset.path` values are read from (the config file's). */
  baseDir?: string;
  cache?: string;
  onProgress?: Progress;
  /** Told once when a preset is generated rather than found in the cache. */
  onGenerate?: (dir: string) => void;
}

/** Turn a config's `dataset:` into a dataset folder, generating or importing it once. */
export async function resolveDataset(ds: DatasetConfig, opts: ResolveOptions = {}): Promise<string> {
  const base = opts.baseDir ?? process.cwd();
  const cache = opts.cache ?? cacheRoot();
  if (ds.kind === 'path') {
    const dir = resolve(base, ds.path);
    readDatasetMeta(dir); // a clear error now beats one deep inside training
    return dir;
  }
  if (ds.kind === 'name') {
    if (PRESET_NAMES.includes(ds.name)) return resolveDataset(presetDataset(ds.name, 0, {}), opts);
    // A reference YAML names its run folder graphs_data/<name>/x_list_0 (zarr).
    const run = join(base, 'graphs_data', ds.name);
    if (existsSync(run)) {
      const dir = join(cache, `imported-${ds.name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
      if (!existsSync(join(dir, DATASET_JSON))) await importData(run, dir, { name: ds.name });
      return dir;
    }
    throw new UserError(
      `dataset = ${show(ds.name)}: no preset of that name and no reference run at ${run}; ` +
        `set dataset.path to a folder made by 'inrscape data import', or dataset.preset to one of ${PRESET_NAMES.join(', ')}`,
    );
  }
  const dir = presetCacheDir(ds.preset, ds.seed, ds.params, cache);
  if (existsSync(join(dir, DATASET_JSON))) return dir;
  opts.onGenerate?.(dir);
  try {
    generateDataset({ preset: ds.preset, seed: ds.seed, params: ds.params, outDir: dir, onProgress: opts.onProgress });
  } catch (err) {
    // Another process may have generated the same preset meanwhile: same bytes, use theirs.
    if (!existsSync(join(dir, DATASET_JSON))) throw err;
  }
  return dir;
}
