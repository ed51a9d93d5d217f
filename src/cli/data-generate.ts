import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MODEL_PARAMS, PRESETS, PRESET_NAMES, type ModelParamKey } from '../config/dicty-model.js';
import { presetDataset } from '../config/dataset.js';
import { invalid } from '../config/messages.js';
import { oneOfRule } from '../config/suggest.js';
import { readNumber, SEED } from '../config/values.js';
import { generateDataset } from '../data/generator/generate.js';
import { presetCacheDir } from '../data/resolve.js';
import { seriesStats } from '../data/stats.js';
import { progressLine } from './progress.js';

type GenerateFlags = { preset: string; seed: string; out?: string; force?: boolean } & Partial<Record<ModelParamKey, string>>;

export function registerGenerate(data: Command): void {
  const cmd = data
    .command('generate')
    .description('simulate the dicty stand-in and write a dataset folder')
    .option('--preset <name>', `one of ${PRESET_NAMES.map((p) => `${p} (${PRESETS[p].about})`).join('; ')}`, 'dicty-small')
    .option('--seed <s>', 'random seed (integer >= 0)', '0')
    .option('--out <dir>', 'dataset folder to write (default: the dataset cache, where studies look for this preset)')
    .option('--force', 'replace an existing dataset folder at --out');
  // Every model parameter is a flag, named exactly as in the config's dataset: section.
  for (const p of MODEL_PARAMS) cmd.option(`--${p.key} <v>`, `${p.help} (default ${p.default})`);
  cmd.action((flags: GenerateFlags) => {
    if (!PRESET_NAMES.includes(flags.preset)) throw invalid('--preset', flags.preset, oneOfRule(flags.preset, PRESET_NAMES));
    const seed = readNumber(flags.seed === undefined ? 0 : Number(flags.seed), '--seed', SEED);
    const overrides: Partial<Record<ModelParamKey, unknown>> = {};
    for (const p of MODEL_PARAMS) if (flags[p.key] !== undefined) overrides[p.key] = numberOrText(flags[p.key]);
    const ds = presetDataset(flags.preset, seed, overrides, '--');
    if (ds.kind !== 'preset') throw new Error('unreachable');
    const outDir = resolve(flags.out ?? presetCacheDir(ds.preset, ds.seed, ds.params));
    const started = performance.now();
    const { series } = generateDataset({
      preset: ds.preset,
      seed: ds.seed,
      params: ds.params,
      outDir,
      replace: flags.force === true,
      onProgress: ds.params.frames >= 500 ? progressLine(`generating ${ds.preset}`) : undefined,
    });
    const secs = (performance.now() - started) / 1000;
    const stats = seriesStats(series);
    const fmt = (v: readonly number[]): string => v.map((x) => x.toFixed(4)).join(', ');
    const median = stats.speed.percentiles.find((q) => q.p === 50)?.value ?? NaN;
    process.stdout.write(
      `generated ${ds.preset} (seed ${ds.seed}): ${ds.params.frames} frames x ${ds.params.cells} cells in ${secs.toFixed(1)} s\n` +
        `  velocity mean [${fmt(stats.velocity.mean)}], std [${fmt(stats.velocity.std)}], median speed ${median.toFixed(4)}\n` +
        `  ${outDir}\n`,
    );
  });
}

function numberOrText(text: string | undefined): unknown {
  const v = Number(text);
  return text !== undefined && text.trim() !== '' && !Number.isNaN(v) ? v : text;
}
