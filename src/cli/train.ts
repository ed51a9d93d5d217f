import { basename, dirname, extname, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/schema.js';
import { checkBatchAgainstFrames } from '../config/inr.js';
import { loadDataset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { readRunSpec, resumeRun, startRun, type RunOutcome } from '../inr/run.js';
import type { TrainProgress } from '../inr/train.js';
import { PARENT_PID_ENV, parentGone } from '../exec/process.js';
import { UserError } from '../util/errors.js';
import { pyExp, pyFixed } from '../util/pyformat.js';
import { loadEngine } from './engine.js';
import { optionalInt, optionalPositive } from './flags.js';
import { CommandExit } from './exit.js';
import { progressLine } from './progress.js';
import { trainProgressBar } from './train-progress.js';

interface TrainFlags {
  dataset?: string;
  out?: string;
  threads?: string;
  maxMinutes?: string;
  seed?: string;
  resume?: string;
  force?: boolean;
  checkpointMinutes?: string;
  checkpointSteps?: string;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train one SIREN on one dataset with the reference semantics; writes a run folder (results.log, model.safetensors, predictions, run.json)')
    .argument('[config]', 'config YAML (its inr: and dataset: sections)')
    .option('--dataset <dir>', "dataset folder to train on instead of the config's dataset:")
    .option('--out <dir>', 'run folder to create (default runs/<config name>-seed<S>-<UTC date-time>)')
    .option('--threads <n>', 'engine threads (default: the engine decides; on --resume: the recorded count)')
    .option('--max-minutes <m>', 'stop training at this much training time, then evaluate (results say time_limited)')
    .option('--seed <s>', 'seed of the initial weights and the batch order, integer in [0, 2^32)', '0')
    .option('--resume <run-dir>', 'continue an interrupted run of <run-dir> from its last checkpoint')
    .option('--force', 'replace an existing run folder, or discard an interrupted run there')
    .option('--checkpoint-minutes <m>', 'minutes between checkpoints', '5')
    .addOption(new Option('--checkpoint-steps <n>', 'also checkpoint every n steps (tests)').hideHelp())
    .action(async (configPath: string | undefined, flags: TrainFlags) => {
      const threads = optionalInt('--threads', flags.threads, 1);
      const maxMinutes = optionalPositive('--max-minutes', flags.maxMinutes);
      const tty = process.stderr.isTTY === true;
      const bar = withParentWatch(trainProgressBar(process.stderr));
      let outcome: RunOutcome;
      if (flags.resume !== undefined) {
        for (const [given, what] of [[configPath, 'a config'], [flags.dataset, '--dataset'], [flags.out, '--out']] as const) {
          if (given !== undefined) throw new UserError(`--resume continues a run as it was started: do not give ${what}`);
        }
        const spec = readRunSpec(flags.resume);
        if (threads !== undefined && threads !== spec.threads) {
          process.stderr.write(`inrscape: warning: the run trained with ${spec.threads} threads; with ${threads} it will not continue bit for bit\n`);
        }
        const engine = loadEngine(threads ?? spec.threads);
        process.stderr.write(`resuming ${flags.resume} (${engine.name}, ${engine.threads} threads)\n`);
        try {
          outcome = resumeRun({ out: flags.resume, engine, maxMinutes, onProgress: bar.onProgress });
        } finally {
          bar.finish();
        }
      } else {
        if (configPath === undefined) throw new UserError('give a config file, or --resume <run-dir>');
        const seed = optionalInt('--seed', flags.seed, 0, 2 ** 32 - 1) ?? 0;
        const checkpointMinutes = optionalPositive('--checkpoint-minutes', flags.checkpointMinutes);
        const checkpointSteps = optionalInt('--checkpoint-steps', flags.checkpointSteps, 1);
        const { config, warnings } = loadConfig(configPath);
        for (const w of warnings) process.stderr.write(`inrscape: warning: ${w}\n`);
        if (flags.dataset !== undefined) config.dataset = { kind: 'path', path: resolve(flags.dataset) };
        const datasetDir = await resolveDataset(config.dataset, {
          baseDir: dirname(resolve(configPath)),
          onGenerate: (dir) => process.stderr.write(`generating the dataset into ${dir}\n`),
          onProgress: tty ? progressLine('generating') : undefined,
        });
        const dataset = loadDataset(datasetDir);
        checkBatchAgainstFrames(config.inr, dataset.meta.frames);
        const out = resolve(flags.out ?? defaultOut(configPath, seed));
        const engine = loadEngine(threads);
        const inr = config.inr;
        process.stderr.write(
          `training SIREN ${inr.hidden_dim_inr}x${inr.n_layers_inr} (omega ${inr.omega_inr}, lr ${inr.inr_learning_rate}) on ${dataset.meta.name} ` +
            `(${dataset.meta.frames} frames x ${dataset.meta.cells} cells), ${inr.inr_total_steps} steps of ${inr.inr_batch_size} frames, ` +
            `seed ${seed}, ${engine.name} x${engine.threads}\n`,
        );
        try {
          outcome = startRun({
            config, configPath, dataset, out, seed, engine, maxMinutes, force: flags.force === true,
            checkpointMinutes, checkpointEverySteps: checkpointSteps, onProgress: bar.onProgress,
          });
        } finally {
          bar.finish();
        }
      }
      report(outcome);
      if (outcome.exitCode !== 0) throw new CommandExit(outcome.exitCode);
    });
}

/**
 * A trial of a study (`inrscape study`) runs as a child with INRSCAPE_PARENT_PID
 * set: once that study is gone (killed, even with -9) the child stops at its
 * next step instead of training on unseen, leaving its staging folder for the
 * resumed study to continue. Checked at most four times a second.
 */
function withParentWatch<T extends { onProgress: (p: TrainProgress) => void }>(bar: T): T {
  const parent = Number(process.env[PARENT_PID_ENV]);
  if (!Number.isSafeInteger(parent) || parent <= 0) return bar;
  let next = 0;
  const onProgress = (p: TrainProgress): void => {
    const now = performance.now();
    if (now >= next) {
      next = now + 250;
      if (parentGone(parent)) {
        process.stderr.write(`inrscape: the study that started this trial (pid ${parent}) is gone: stopping; the resumed study continues this run\n`);
        process.exit(1);
      }
    }
    bar.onProgress(p);
  };
  return { ...bar, onProgress };
}

/** runs/<config name>-seed<S>-<YYYYMMDD-HHMMSS UTC>, under the working folder. */
export function defaultOut(configPath: string, seed: number, now = new Date()): string {
  const stem = basename(configPath, extname(configPath)).replace(/[^A-Za-z0-9._-]+/g, '_') || 'run';
  const iso = now.toISOString(); // 2025-01-31T12:34:56.789Z
  const stamp = `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
  return `runs/${stem}-seed${seed}-${stamp}`;
}

function report(o: RunOutcome): void {
  const where = relative(process.cwd(), o.out) || '.';
  if (o.status === 'interrupted') {
    process.stderr.write(`inrscape: stopped early; continue with 'inrscape train --resume ${where}'\n`);
    return;
  }
  if (o.status === 'failed') {
    process.stderr.write(`inrscape: training failed: ${o.reason}\n  run folder (status failed): ${where}\n`);
    return;
  }
  const r = o.results!;
  const t = o.train!;
  const steps = t.timeLimited ? `${t.stepsDone}/${t.totalSteps} steps, stopped by --max-minutes (time_limited)` : `${t.stepsDone} steps`;
  process.stdout.write(
    `final_r2 ${pyFixed(r.final_r2, 6)} (r2_cod ${pyFixed(r.final_r2_cod, 6)})  final_mse ${pyExp(r.final_mse, 6)}  slope ${pyFixed(r.slope, 4)}\n` +
      `training_time_min ${pyFixed(r.training_time_min, 1)}, ${steps}\n` +
      `run folder: ${where}\n`,
  );
}
