import { basename, dirname, extname, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/schema.js';
import { checkBatchAgainstFrames } from '../config/inr.js';
import { loadDataset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { readRunSpec, resumeRun, startRun, type RunOutcome } from '../inr/run.js';
import { RunFolderBusy } from '../inr/run-folder.js';
import type { TrainProgress } from '../inr/train.js';
import { HEARTBEAT_SECONDS, TRIAL_EXIT, TrialReporter, trialDir } from '../exec/trial-files.js';
import { PARENT_PID_ENV, parentGone } from '../exec/process.js';
import { UserError } from '../util/errors.js';
import { pyExp, pyFixed } from '../util/pyformat.js';
import { ENGINE_FLAG_HELP, loadEngine, withEngineFlags, type EngineFlags } from './engine.js';
import { defaultEngine, type EngineSettings } from '../config/engine.js';
import type { Engine } from '../inr/engine.js';
import { optionalInt, optionalPositive } from './flags.js';
import { CommandExit } from './exit.js';
import { progressLine } from './progress.js';
import { trainProgressBar } from './train-progress.js';

interface TrainFlags extends EngineFlags {
  dataset?: string;
  out?: string;
  threads?: string;
  maxMinutes?: string;
  seed?: string;
  resume?: string;
  force?: boolean;
  checkpointMinutes?: string;
  checkpointSteps?: string;
  writeGt?: boolean;
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
    .option('--engine <name>', ENGINE_FLAG_HELP.engine)
    .option('--device <device>', ENGINE_FLAG_HELP.device)
    .option('--precision <p>', ENGINE_FLAG_HELP.precision)
    .option('--python <path>', ENGINE_FLAG_HELP.python)
    .option('--write-gt', "also write gt_velocity.npy (by default run.json names the data set's vel.npy and its checksum)")
    .addOption(new Option('--checkpoint-steps <n>', 'also checkpoint every n steps (tests)').hideHelp())
    .action(async (configPath: string | undefined, flags: TrainFlags) => {
      const threads = optionalInt('--threads', flags.threads, 1);
      const maxMinutes = optionalPositive('--max-minutes', flags.maxMinutes);
      const tty = process.stderr.isTTY === true;
      let outcome: RunOutcome;
      if (flags.resume !== undefined) {
        for (const [given, what] of [[configPath, 'a config'], [flags.dataset, '--dataset'], [flags.out, '--out']] as const) {
          if (given !== undefined) throw new UserError(`--resume continues a run as it was started: do not give ${what}`);
        }
        const spec = readRunSpec(flags.resume);
        if (threads !== undefined && threads !== spec.threads) {
          process.stderr.write(`inrscape: warning: the run trained with ${spec.threads} threads; with ${threads} it will not continue bit for bit\n`);
        }
        const recorded = recordedEngine(spec.engine_settings, spec.engine);
        const settings = withEngineFlags(recorded, flags);
        if (settings.name !== recorded.name) {
          process.stderr.write(`inrscape: warning: the run trained on the ${recorded.name} engine; on ${settings.name} it continues to float32 rounding, not bit for bit\n`);
        }
        const engine = await loadEngine(settings, threads ?? spec.threads, flags);
        process.stderr.write(`resuming ${flags.resume} (${describe(engine)})\n`);
        const out = resolve(flags.resume);
        outcome = await reported(out, engine, (onProgress, signal) => resumeRun({ out, engine, maxMinutes, onProgress, signal }));
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
        const engine = await loadEngine(withEngineFlags(config.engine, flags), threads, flags);
        const inr = config.inr;
        process.stderr.write(
          `training SIREN ${inr.hidden_dim_inr}x${inr.n_layers_inr} (omega ${inr.omega_inr}, lr ${inr.inr_learning_rate}) on ${dataset.meta.name} ` +
            `(${dataset.meta.frames} frames x ${dataset.meta.cells} cells), ${inr.inr_total_steps} steps of ${inr.inr_batch_size} frames, ` +
            `seed ${seed}, ${describe(engine)}\n`,
        );
        outcome = await reported(out, engine, (onProgress, signal) => startRun({
          config, configPath, dataset, out, seed, engine, maxMinutes, force: flags.force === true, writeGt: flags.writeGt === true,
          checkpointMinutes, checkpointEverySteps: checkpointSteps, onProgress, signal,
        }));
      }
      if (outcome.exitCode !== TRIAL_EXIT.done) throw new CommandExit(outcome.exitCode);
    });
}

/**
 * A run with everything around it that a person or a study watches: the
 * progress bar, the stop signals, the trial protocol's status and progress
 * files (heartbeats every HEARTBEAT_SECONDS, each evaluation), the summary,
 * and the trial exit code (src/exec/trial-files.ts) in `exitCode`.
 */
async function reported(
  out: string, engine: Engine, run: (onProgress: (p: TrainProgress) => void, signal: AbortSignal) => Promise<RunOutcome>,
): Promise<RunOutcome> {
  const bar = trainProgressBar(process.stderr);
  const stop = stopSignals();
  const reporter = new TrialReporter(() => trialDir(out), 0);
  let last: TrainProgress | undefined;
  const beat = (): void => {
    if (last) reporter.heartbeat(last.step, last.loss, last.elapsedS);
  };
  const timer = setInterval(beat, HEARTBEAT_SECONDS * 1000);
  timer.unref();
  const onProgress = (p: TrainProgress): void => {
    const first = last === undefined;
    last = p;
    if (first) {
      reporter.update({ state: 'training', steps_done: p.step, total_steps: p.totalSteps });
      beat();
    }
    if (p.phase === 'final-evaluation') reporter.update({ state: 'evaluating', steps_done: p.step });
    else if (p.evaluation && p.phase === 'step') {
      reporter.update({ steps_done: p.step });
      reporter.evaluation(p.evaluation);
    }
    bar.onProgress(p);
  };
  let outcome: RunOutcome;
  try {
    outcome = await run(onProgress, stop.signal);
  } catch (err) {
    if (err instanceof RunFolderBusy) throw new CommandExit(TRIAL_EXIT.busy, err.message);
    throw err;
  } finally {
    clearInterval(timer);
    bar.finish();
    stop.dispose();
    await engine.close();
  }
  beat();
  const code = outcome.status === 'ok' ? (outcome.train?.timeLimited ? TRIAL_EXIT.budget : TRIAL_EXIT.done)
    : outcome.status === 'failed' ? TRIAL_EXIT.failed : TRIAL_EXIT.stopped;
  const state = code === TRIAL_EXIT.done ? 'done' : code === TRIAL_EXIT.budget ? 'budget' : code === TRIAL_EXIT.failed ? 'failed' : 'stopped';
  const reason = outcome.reason ?? stop.reason();
  reporter.update({ state, steps_done: outcome.train?.stepsDone ?? last?.step ?? 0, exit_code: code, ...(reason !== undefined ? { exit_reason: reason } : {}) });
  report(outcome, reason);
  return { ...outcome, exitCode: code };
}

/**
 * Stopping from outside: Ctrl-C, SIGTERM (also Slurm's at a job's time
 * limit), SIGUSR2 (LSF's warning at a job's run limit), or (for a trial of a
 * study, which runs with INRSCAPE_PARENT_PID set) its study being gone, even
 * killed with -9.
 * Each aborts the run, which checkpoints at the end of its current chunk
 * (within about a second) and leaves its staging folder for --resume.
 * The parent is looked at four times a second.
 */
function stopSignals(): { signal: AbortSignal; reason: () => string | undefined; dispose: () => void } {
  const ctl = new AbortController();
  let reason: string | undefined;
  const abort = (why: string): void => {
    if (ctl.signal.aborted) return;
    reason = why;
    ctl.abort();
  };
  const onInt = (): void => abort('interrupted (SIGINT)');
  const onTerm = (): void => abort('terminated (SIGTERM)');
  const onUsr2 = (): void => abort('warned of its run limit (SIGUSR2)');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGUSR2', onUsr2);
  const parent = Number(process.env[PARENT_PID_ENV]);
  const timer = Number.isSafeInteger(parent) && parent > 0
    ? setInterval(() => {
      if (parentGone(parent)) abort(`the study that started this trial (pid ${parent}) is gone; the resumed study continues this run`);
    }, 250)
    : undefined;
  timer?.unref();
  return {
    signal: ctl.signal,
    reason: () => reason,
    dispose: () => {
      if (timer) clearInterval(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGUSR2', onUsr2);
    },
  };
}

function describe(engine: Engine): string {
  const r = engine.record;
  const where = r.device !== undefined ? `${String(r.device_name ?? r.device)}, ${String(r.precision)}` : `${String(r.isa)}`;
  return `${engine.name} (${where}${r.threads !== undefined ? `, ${r.threads} threads` : ''})`;
}

/** The engine settings a run was started with (runs older than the engine section: the cpu engine). */
function recordedEngine(rec: Record<string, unknown> | undefined, name: string): EngineSettings {
  const out = defaultEngine();
  if (name === 'torch') out.name = 'torch';
  if (rec) {
    if (typeof rec.device === 'string' && name === 'torch') out.device = rec.device;
    if (rec.precision === 'tf32' || rec.precision === 'bf16') out.precision = rec.precision;
    if (typeof rec.python === 'string') out.python = rec.python;
  }
  return out;
}

/** runs/<config name>-seed<S>-<YYYYMMDD-HHMMSS UTC>, under the working folder. */
export function defaultOut(configPath: string, seed: number, now = new Date()): string {
  const stem = basename(configPath, extname(configPath)).replace(/[^A-Za-z0-9._-]+/g, '_') || 'run';
  const iso = now.toISOString(); // 2025-01-31T12:34:56.789Z
  const stamp = `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
  return `runs/${stem}-seed${seed}-${stamp}`;
}

function report(o: RunOutcome, stopReason: string | undefined): void {
  const where = relative(process.cwd(), o.out) || '.';
  if (o.status === 'interrupted') {
    process.stderr.write(`inrscape: ${o.reason ?? stopReason ?? 'stopped early'}; continue with 'inrscape train --resume ${where}'\n`);
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
