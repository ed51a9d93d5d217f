import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerImport } from '../src/cli/data-import.js';
import { registerInspect } from '../src/cli/data-inspect.js';
import { loadDataset, writeDataset } from '../src/data/dataset.js';
import { seriesStats } from '../src/data/stats.js';
import { UserError } from '../src/util/errors.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/data/${name}`, import.meta.url));

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run `inrscape data ...` the way main.ts does (UserError -> message on stderr, exit 2), capturing output. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command('inrscape').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  const data = program.command('data');
  registerImport(data);
  registerInspect(data);
  let out = '';
  let err = '';
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  let code = 0;
  try {
    await program.parseAsync(['data', ...args], { from: 'user' });
  } catch (e) {
    if (e instanceof UserError) { err += `inrscape: ${e.message}\n`; code = 2; }
    else if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else throw e;
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
  return { code, out, err };
}

test('data import then data inspect: shape, dt, box, checksums, statistics and a clean bill', async (t) => {
  const dir = join(tmp(t), 'ref');
  const imp = await run('import', fixture('ref.npz'), '--out', dir);
  assert.deepEqual(imp, {
    code: 0,
    out: `imported npz ${fixture('ref.npz')} -> ${dir}\n  6 frames x 5 cells x 3, dt 0.002, box 2, extras: polarity, pair_force\n`,
    err: '',
  });
  const r = await run('inspect', dir);
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
  const lines = r.out.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 7), [
    `dataset     ref  (${dir})`,
    `source      npz ${fixture('ref.npz')}`,
    'created by  inrscape 0.1.0',
    'shape       6 frames x 5 cells x 3',
    'time        dt 0.002, span 0.0100',
    'box         L = 2 (positions stored in the unit box)',
    'arrays      pos.npy ok, vel.npy ok, polarity.npy ok, pair_force.npy ok',
  ]);
  assert.match(lines[7], /^velocity {4}mean {2}\S+ {2}\S+ {2}\S+$/);
  assert.match(lines[9], /^speed {7}mean \S+, max \S+$/);
  assert.match(lines[10], /^ {12}p5 \S+, p25 \S+, p50 \S+, p75 \S+, p95 \S+, p99 \S+$/);
  assert.match(lines[11], /^neighbours {2}\S+ per cell within r = 0\.2 \(mean over 6 frames\)$/);
  assert.equal(lines[12], 'checks      checksums ok, no NaN/inf values, all positions inside [0, 1)');
});

test('--json prints the meta, checksums and the statistics of seriesStats', async (t) => {
  const dir = join(tmp(t), 'ref');
  await run('import', fixture('ref.npz'), '--out', dir);
  const r = await run('inspect', dir, '--json', '--radius', '0.3');
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  const ds = loadDataset(dir);
  assert.deepEqual(j.meta, ds.meta);
  assert.equal(j.checksums.ok, true);
  assert.deepEqual(j.stats, JSON.parse(JSON.stringify(seriesStats(ds.series, { radius: 0.3 }))));
});

test('NaN/inf values and positions outside the unit box are flagged', async (t) => {
  const dir = join(tmp(t), 'bad');
  const pos = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i / 12);
  const vel = new Float32Array(12);
  pos[4] = 1.25;
  vel[7] = NaN;
  writeDataset(dir, { frames: 2, cells: 2, pos, vel, extras: {} }, { name: 'bad', dt: 0.1, box: 1 });
  const r = await run('inspect', dir);
  assert.equal(r.code, 0);
  const warnings = r.out.split('\n').filter((l) => l.startsWith('WARNING'));
  assert.deepEqual(warnings, [
    'WARNING     vel has 1 NaN and 0 infinite values (first at frame 1, cell 0, component 1)',
    'WARNING     1 of 4 positions lie outside the unit box [0, 1)',
  ]);
});

test('a damaged array fails the checksum check: reported, and exit 2', async (t) => {
  const dir = join(tmp(t), 'ref');
  await run('import', fixture('pair'), '--out', dir);
  const file = join(dir, 'vel.npy');
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(file, bytes);
  const r = await run('inspect', dir);
  assert.equal(r.code, 2);
  assert.match(r.out, /^arrays {6}pos\.npy ok, vel\.npy CHECKSUM MISMATCH$/m);
  assert.match(r.out, /^WARNING {5}checksum check failed: vel\.npy does not match its sha256 in dataset\.json$/m);
  assert.equal(r.err, 'inrscape: checksum check failed: vel.npy does not match its sha256 in dataset.json\n');
});

test('user mistakes exit 2 with one clear line', async (t) => {
  const root = tmp(t);
  assert.deepEqual(await run('inspect', join(root, 'none')), { code: 2, out: '', err: `inrscape: dataset folder ${join(root, 'none')} not found\n` });
  assert.deepEqual(await run('inspect', root), { code: 2, out: '', err: `inrscape: ${root} is not a dataset folder: dataset.json is missing\n` });
  await run('import', fixture('pair'), '--out', join(root, 'ds'));
  assert.deepEqual(await run('inspect', join(root, 'ds'), '--radius', '0.7'), { code: 2, out: '', err: 'inrscape: --radius must be a number in (0, 0.5], got "0.7"\n' });
  assert.deepEqual(await run('import', fixture('ref.npz'), '--out', join(root, 'x'), '--box', 'two'), { code: 2, out: '', err: 'inrscape: --box must be a positive number, got "two"\n' });
  assert.deepEqual(await run('import', fixture('ref_nox.npz'), '--out', join(root, 'x')), { code: 2, out: '', err: 'inrscape: ref_nox.npz has no array X (found: pos, vel)\n' });
  assert.equal((await run('import', fixture('ref.npz'))).code, 2); // --out is required
  assert.deepEqual(await run('import', fixture('pair'), '--out', join(root, 'ds')), { code: 2, out: '', err: `inrscape: ${join(root, 'ds')} already exists: choose another output folder or replace it\n` });
  assert.equal((await run('import', fixture('pair'), '--out', join(root, 'ds'), '--force', '--dt', '0.5')).code, 0);
  assert.equal(loadDataset(join(root, 'ds')).meta.dt, 0.5);
});
