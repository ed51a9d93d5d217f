/**
 * Generation time of each dicty preset, written to a temp folder and removed.
 * Usage: npm run bench:generate [-- preset ...]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS, PRESET_NAMES, checkModelParams } from '../src/config/dicty-model.js';
import { generateDataset } from '../src/data/generator/generate.js';
import { seriesStats } from '../src/data/stats.js';

const presets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [...PRESET_NAMES].reverse();
const root = mkdtempSync(join(tmpdir(), 'inrscape-bench-'));
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, node ${process.version}`);
console.log('| preset | cells | frames | seconds | vel mean (x, y, z) | vel std (x, y, z) | speed p5 / p50 / p95 | neighbours within max_radius | contacts within r0 |');
console.log('|---|---|---|---|---|---|---|---|---|');
try {
  for (const preset of presets) {
    const params = checkModelParams(PRESETS[preset].params, 'dataset');
    const t0 = performance.now();
    const { series } = generateDataset({ preset, seed: 0, params, outDir: join(root, preset) });
    const secs = (performance.now() - t0) / 1000;
    // Radii in unit-box units: the interaction cut-off and the rest distance.
    const near = seriesStats(series, { radius: params.max_radius / params.box });
    const touching = seriesStats(series, { radius: params.r0 / params.box });
    const pct = (p: number): string => (near.speed.percentiles.find((q) => q.p === p)?.value ?? NaN).toFixed(3);
    const vec = (v: readonly number[]): string => v.map((x) => x.toFixed(4)).join(', ');
    console.log(
      `| ${preset} | ${params.cells} | ${params.frames} | ${secs.toFixed(2)} | ${vec(near.velocity.mean)} | ${vec(near.velocity.std)} | ` +
        `${pct(5)} / ${pct(50)} / ${pct(95)} | ${near.neighbours?.mean.toFixed(1)} | ${touching.neighbours?.mean.toFixed(1)} |`,
    );
    rmSync(join(root, preset), { recursive: true, force: true });
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
