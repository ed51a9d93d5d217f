/**
 * A stand-in for `inrscape` in the local runner's tests: `node fake-train.js train <config> --out DIR ...`
 * behaves as FAKE_TRAIN says, so every exit the runner must map can be produced
 * without an engine:
 *
 *   ok       writes a run folder (results.log, run.json) and exits 0
 *   limited  the same, time-limited
 *   failed   writes a failed run folder (status failed, reason) and exits 1
 *   crash    prints a message and kills itself with SIGKILL
 *   hang     writes nothing more and never ends (until killed)
 *   exit7    prints a message and exits 7 (no code of the trial protocol)
 *   noresult exits 0 without a folder
 *   args     writes its argv into FAKE_TRAIN_ARGS_FILE, then behaves as ok
 *
 * With FAKE_TRAIN_ONCE set to a file path, the mode applies to the first run
 * only (the file marks it done); later runs behave as ok.
 *
 * With FAKE_TRAIN_GPU_FILE set it also appends {out, gpu, start, end}: the
 * CUDA_VISIBLE_DEVICES it was given and when it ran (it takes FAKE_TRAIN_MS).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
// `node --test dist/test/` loads every file, helpers included: do nothing unless run as a trainer.
if (argv[0] !== 'train') process.exit(0);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const once = process.env.FAKE_TRAIN_ONCE;
const mode = once !== undefined && existsSync(once) ? 'ok' : (process.env.FAKE_TRAIN ?? 'ok');
if (once !== undefined) writeFileSync(once, 'ran\n');
if (process.env.FAKE_TRAIN_ARGS_FILE) appendFileSync(process.env.FAKE_TRAIN_ARGS_FILE, JSON.stringify(argv) + '\n');
const out = opt('--out') ?? opt('--resume')!;
const seed = Number(opt('--seed') ?? 0);
const inr = JSON.parse(process.env.FAKE_TRAIN_INR ?? '{}') as Record<string, unknown>;
const maxMinutes = Number(opt('--max-minutes') ?? 60);

function folder(status: 'ok' | 'failed', timeLimited = false): void {
  mkdirSync(out, { recursive: true });
  const failed = status === 'failed';
  const log = [
    'field_name: velocity', 'inr_type: siren_txyz', 'gradient_mode: False',
    `final_mse: ${failed ? 'nan' : '1.000000e-03'}`, `final_r2: ${failed ? 'nan' : '0.987654'}`, `slope: ${failed ? 'nan' : '0.9900'}`,
    'n_cells: 64', 'n_frames: 40', 'n_components: 3', 'total_steps: 100', 'training_time_min: 0.1', `final_r2_cod: ${failed ? 'nan' : '0.987000'}`,
    ...(timeLimited ? ['time_limited: True'] : []),
    ...(failed ? ['status: failed', 'reason: loss is NaN at step 17'] : []),
  ];
  writeFileSync(join(out, 'results.log'), log.join('\n') + '\n');
  const run = {
    format: 'inrscape-run', version: 1, status, seed, config: { inr }, max_minutes: maxMinutes,
    total_steps: 100, steps_done: timeLimited ? 60 : failed ? 17 : 100, time_limited: timeLimited, resumed_at: [],
    timings: { training_time_s: 4.5 },
    metrics: failed ? null : { final_mse: 0.001, final_r2: 0.98765432, slope: 0.99, final_r2_cod: 0.987 },
    loss_history: { every: 1, step: [], loss: [] }, evaluations: [],
  };
  writeFileSync(join(out, 'run.json'), JSON.stringify(run));
}

process.stderr.write(`fake train ${mode}\n`);
if (process.env.FAKE_TRAIN_GPU_FILE) {
  const start = Date.now();
  const ms = Number(process.env.FAKE_TRAIN_MS ?? 0);
  while (Date.now() - start < ms) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  appendFileSync(process.env.FAKE_TRAIN_GPU_FILE, JSON.stringify({ out, gpu: process.env.CUDA_VISIBLE_DEVICES ?? null, start, end: Date.now() }) + '\n');
}
switch (mode) {
  case 'ok':
  case 'args':
    folder('ok');
    break;
  case 'limited':
    folder('ok', true);
    process.exitCode = 3;
    break;
  case 'failed':
    folder('failed');
    process.stderr.write('inrscape: training failed: loss is NaN at step 17\n');
    process.exitCode = 1;
    break;
  case 'crash':
    process.stderr.write('about to crash\n');
    process.kill(process.pid, 'SIGKILL');
    break;
  case 'exit7':
    process.stderr.write('inrscape: something odd happened\n');
    process.exitCode = 7;
    break;
  case 'hang':
    setInterval(() => undefined, 1000);
    break;
  case 'noresult':
    break;
  default:
    process.exitCode = 9;
}
