import type { Command } from 'commander';
import { importData } from '../data/import.js';
import { UserError, show } from '../util/errors.js';

interface ImportFlags {
  out: string;
  vel?: string;
  box?: string;
  dt?: string;
  name?: string;
  force?: boolean;
}

export function registerImport(data: Command): void {
  data
    .command('import')
    .description('import cell data (reference .npz, zarr run folder, or pos/vel .npy) into a dataset folder')
    .argument('<path>', 'an .npz; a zarr run folder (x_list_N/ with pos.zarr, vel.zarr) or its parent; a folder with pos.npy and vel.npy; or a positions .npy with --vel')
    .requiredOption('--out <dir>', 'dataset folder to create')
    .option('--vel <file>', 'velocity .npy, when <path> is a positions .npy')
    .option('--box <L>', "box side L: for an .npz, the unit X is divided by (default: params['L']); otherwise only recorded (default 1)")
    .option('--dt <dt>', "time between frames (default: params['delta_t'] or params['dt'], else 0.002)")
    .option('--name <name>', 'dataset name (default: the output folder name)')
    .option('--force', 'replace an existing dataset folder at --out')
    .action(async (path: string, flags: ImportFlags) => {
      const res = await importData(path, flags.out, {
        vel: flags.vel,
        box: positive('--box', flags.box),
        dt: positive('--dt', flags.dt),
        name: flags.name,
        replace: flags.force === true,
      });
      for (const w of res.warnings) process.stderr.write(`inrscape: warning: ${w}\n`);
      const m = res.meta;
      const extras = Object.keys(m.arrays).filter((n) => n !== 'pos' && n !== 'vel');
      process.stdout.write(
        `imported ${m.source?.kind ?? ''} ${m.source?.path ?? path} -> ${res.dir}\n` +
          `  ${m.frames} frames x ${m.cells} cells x 3, dt ${m.dt}, box ${m.box}` +
          (extras.length > 0 ? `, extras: ${extras.join(', ')}` : '') +
          '\n',
      );
    });
}

/** A positive finite number from a flag, or undefined when the flag is absent. */
export function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UserError(`${flag} must be a positive number, got ${show(value)}`);
  return v;
}
