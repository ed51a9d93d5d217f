import type { Command } from 'commander';
import { loadDataset, readDatasetMeta, verifyDataset, type Dataset, type DatasetMeta, type VerifyResult } from '../data/dataset.js';
import { seriesStats, type NonFiniteCount, type SeriesStats } from '../data/stats.js';
import { UserError, show } from '../util/errors.js';

/** The reference's interaction cut-off, in unit-box units. */
export const DEFAULT_RADIUS = 0.2;

interface InspectFlags {
  radius?: string;
  json?: boolean;
}

export function registerInspect(data: Command): void {
  data
    .command('inspect')
    .description('show the shape, velocity statistics and neighbour counts of a dataset folder, verify its checksums and flag bad values')
    .argument('<dir>', 'dataset folder')
    .option('--radius <r>', `neighbour radius in unit-box units, in (0, 0.5] (default ${DEFAULT_RADIUS})`)
    .option('--json', 'print one JSON object instead of text')
    .action((dir: string, flags: InspectFlags) => {
      const radius = flags.radius === undefined ? DEFAULT_RADIUS : Number(flags.radius);
      if (flags.radius !== undefined && (flags.radius.trim() === '' || !(radius > 0 && radius <= 0.5))) {
        throw new UserError(`--radius must be a number in (0, 0.5], got ${show(flags.radius)}`);
      }
      readDatasetMeta(dir); // a clear error for a missing or foreign folder, before hashing anything
      const checks = verifyDataset(dir);
      let ds: Dataset;
      try {
        ds = loadDataset(dir);
      } catch (err) {
        if (err instanceof UserError && !checks.ok) throw new UserError(`${checksumProblem(checks)}; loading it failed: ${err.message}`);
        throw err;
      }
      const stats = seriesStats(ds.series, { radius });
      if (flags.json) {
        process.stdout.write(JSON.stringify({ dir, meta: ds.meta, checksums: checks, stats }, null, 2) + '\n');
      } else {
        process.stdout.write(renderInspect(dir, ds.meta, checks, stats));
      }
      if (!checks.ok) throw new UserError(checksumProblem(checks));
    });
}

function checksumProblem(checks: VerifyResult): string {
  const bad = checks.arrays.filter((a) => !a.ok).map((a) => (a.actual === null ? `${a.file} is missing` : `${a.file} does not match its sha256 in dataset.json`));
  return `checksum check failed: ${bad.join(', ')}`;
}

const fmt = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4)) : String(v));

/** The text report of `inrscape data inspect`. */
export function renderInspect(dir: string, meta: DatasetMeta, checks: VerifyResult, s: SeriesStats): string {
  const lines: string[] = [];
  lines.push(`dataset     ${meta.name}  (${dir})`);
  if (meta.generator) lines.push(`generator   ${meta.generator.name}${meta.seed !== null ? `, seed ${meta.seed}` : ''}`);
  if (meta.source) lines.push(`source      ${meta.source.kind} ${meta.source.path}`);
  lines.push(`created by  ${meta.created_by}`);
  lines.push(`shape       ${meta.frames} frames x ${meta.cells} cells x 3`);
  lines.push(`time        dt ${meta.dt}, span ${fmt(meta.dt * (meta.frames - 1))}`);
  lines.push(`box         L = ${meta.box} (positions stored in the unit box)`);
  lines.push(`arrays      ${checks.arrays.map((a) => `${a.file} ${a.ok ? 'ok' : a.actual === null ? 'MISSING' : 'CHECKSUM MISMATCH'}`).join(', ')}`);
  lines.push(`velocity    mean  ${s.velocity.mean.map(fmt).join('  ')}`);
  lines.push(`            std   ${s.velocity.std.map(fmt).join('  ')}`);
  lines.push(`speed       mean ${fmt(s.speed.mean)}, max ${fmt(s.speed.max)}`);
  lines.push(`            ${s.speed.percentiles.map((p) => `p${p.p} ${fmt(p.value)}`).join(', ')}`);
  if (s.neighbours) {
    lines.push(`neighbours  ${fmt(s.neighbours.mean)} per cell within r = ${s.neighbours.radius} (mean over ${s.neighbours.frames.length} frames)`);
  }
  const flags: string[] = [];
  const nf = (name: string, c: NonFiniteCount): void => {
    if (c.first) flags.push(`${name} has ${c.nan} NaN and ${c.inf} infinite values (first at frame ${c.first.frame}, cell ${c.first.cell}, component ${c.first.component})`);
  };
  nf('pos', s.nonFinite.pos);
  nf('vel', s.nonFinite.vel);
  if (s.outsideUnitBox > 0) flags.push(`${s.outsideUnitBox} of ${s.frames * s.cells} positions lie outside the unit box [0, 1)`);
  if (!checks.ok) flags.push(checksumProblem(checks));
  if (flags.length === 0) lines.push('checks      checksums ok, no NaN/inf values, all positions inside [0, 1)');
  else for (const f of flags) lines.push(`WARNING     ${f}`);
  return lines.join('\n') + '\n';
}
