/**
 * A stand-in for IBM Spectrum LSF's bsub, bjobs, bkill, bmod and bqueues,
 * for tests on a machine without LSF (it cannot be installed here). It
 * speaks the commands' documented output formats and really runs each job:
 * a detached runner process per job starts the script with bash, appends its
 * output to the -o file, and enforces the run limit and kills.
 *
 *   bsub < script        Job <ID> is submitted to queue <Q>.   (#BSUB lines: -J -o -W -q -n -R -gpu -M -P; -W is [hours:]minutes)
 *   bjobs -noheader -o "stat exit_code exit_reason delimiter='|'" ID
 *                        RUN|-|-   DONE|-|-   EXIT|3|-   EXIT|140|TERM_RUNLIMIT: job killed after reaching LSF run time limit
 *                        (stderr "Job <ID> is not found", exit 255, for an unknown job)
 *   bkill ID...          Job <ID> is being terminated   (then EXIT, TERM_OWNER: job killed by owner)
 *   bmod -W LIMIT ID     Parameters of job <ID> are being changed
 *   bqueues -o queue_name -noheader    one queue per line
 *
 * State lives in $LSF_STANDIN_DIR: jobs/<ID>.json, written atomically by bsub
 * and then only by the job's runner, so that no update is lost between
 * processes; bkill and bmod leave requests beside it (<ID>.kill, <ID>.limit)
 * that the runner reads. $LSF_STANDIN_QUEUES lists the queues (the first is
 * the default).
 * Usage: node lsf-standin.js <command> [args...]
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface Job {
  id: number;
  name: string;
  queue: string;
  stat: 'PEND' | 'RUN' | 'DONE' | 'EXIT';
  output?: string;
  /** Run limit in minutes. */
  limit?: number;
  cwd: string;
  pid?: number;
  started?: number;
  exit_code?: number;
  exit_reason?: string;
  options: Record<string, string>;
}

const root = process.env.LSF_STANDIN_DIR ?? '';
const queues = (process.env.LSF_STANDIN_QUEUES ?? 'normal').split(',');
const jobsDir = join(root, 'jobs');
const RUNLIMIT = 'TERM_RUNLIMIT: job killed after reaching LSF run time limit';
const OWNER = 'TERM_OWNER: job killed by owner';

function fail(message: string, code = 255): never {
  process.stderr.write(message + '\n');
  process.exit(code);
}

function readJob(id: string): Job | undefined {
  try {
    return JSON.parse(readFileSync(join(jobsDir, `${id}.json`), 'utf8')) as Job;
  } catch {
    return undefined;
  }
}

const killFile = (id: string | number): string => join(jobsDir, `${id}.kill`);
const limitFile = (id: string | number): string => join(jobsDir, `${id}.limit`);

/** The run limit in minutes: bmod's, else bsub's -W. */
function limitOf(job: Job): number | undefined {
  try {
    return Number(readFileSync(limitFile(job.id), 'utf8'));
  } catch {
    return job.limit;
  }
}

/** Write `file` whole or not at all: a reader in another process never sees half of it. */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function writeJob(job: Job): void {
  writeAtomically(join(jobsDir, `${job.id}.json`), JSON.stringify(job));
}

/** The next job id, taken under a lock directory (bsubs may race). */
function nextId(): number {
  const lock = join(root, 'id.lock');
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (i > 500) fail('bsub: cannot lock the job counter');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    const file = join(root, 'last-id');
    const id = (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 100) + 1;
    writeFileSync(file, String(id));
    return id;
  } finally {
    renameSync(lock, join(root, `.gone-${process.pid}-${Date.now()}`));
  }
}

/** Shell-like words of a #BSUB line: double or single quotes group, nothing is expanded. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** LSF run limit: [hours:]minutes. */
function minutes(limit: string): number {
  const m = /^(?:(\d+):)?(\d+)$/.exec(limit);
  if (m === null) fail(`${limit}: Bad RUNLIMIT specification. Job not submitted.`);
  return Number(m[1] ?? 0) * 60 + Number(m[2]);
}

function bsub(): void {
  const script = readFileSync(0, 'utf8');
  const options: Record<string, string> = {};
  for (const line of script.split('\n').slice(1)) {
    if (!line.startsWith('#')) {
      if (line.trim() === '') continue;
      break; // #BSUB lines end at the first command
    }
    if (!line.startsWith('#BSUB')) continue;
    const [flag, ...rest] = words(line.slice(5));
    if (!/^-[A-Za-z]+$/.test(flag ?? '')) fail(`${flag}: Illegal option. Job not submitted.`);
    options[flag] = rest.join(' ');
  }
  const queue = options['-q'] ?? queues[0];
  if (!queues.includes(queue)) fail(`${queue}: No such queue. Job not submitted.`);
  const id = nextId();
  const job: Job = {
    id, name: options['-J'] ?? 'script', queue, stat: 'PEND', output: options['-o'] ?? options['-oo'], cwd: process.cwd(), options,
    ...(options['-W'] !== undefined ? { limit: minutes(options['-W']) } : {}),
  };
  writeFileSync(join(jobsDir, `${id}.sh`), script, { mode: 0o755 });
  writeJob(job);
  const runner = spawn(process.execPath, [process.argv[1], '_run', String(id)], { detached: true, stdio: 'ignore', env: process.env });
  runner.unref();
  process.stdout.write(options['-q'] === undefined ? `Job <${id}> is submitted to default queue <${queue}>.\n` : `Job <${id}> is submitted to queue <${queue}>.\n`);
}

/** The job's runner: starts the script, then watches for kills and the run limit until it ends. */
async function runJob(id: string): Promise<void> {
  const job = readJob(id);
  if (job === undefined || job.stat !== 'PEND') return;
  const out = job.output !== undefined ? openSync(job.output, 'a') : 'ignore';
  const child = spawn('/bin/bash', [join(jobsDir, `${id}.sh`)], {
    cwd: job.cwd, detached: true, stdio: ['ignore', out, out],
    env: { ...process.env, LSB_JOBID: id, LSB_QUEUE: job.queue, LSB_JOBNAME: job.name },
  });
  if (typeof out === 'number') closeSync(out);
  const started = Date.now();
  const running: Job = { ...job, stat: 'RUN', pid: child.pid, started };
  writeJob(running);
  const group = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid ?? 0), sig);
    } catch {
      // the job's processes are gone
    }
  };
  let killing: string | undefined;
  const timer = setInterval(() => {
    if (killing !== undefined) return;
    const limit = limitOf(running);
    const over = limit !== undefined && Date.now() - started > limit * 60_000;
    const bkilled = existsSync(killFile(id));
    if (bkilled || over) {
      // bkill: SIGINT, SIGTERM, then SIGKILL; the run limit: SIGUSR2, then SIGKILL (JOB_TERMINATE_INTERVAL shortened to 1 s).
      killing = bkilled ? OWNER : RUNLIMIT;
      if (killing === OWNER) {
        group('SIGINT');
        setTimeout(() => group('SIGTERM'), 1000);
      } else group('SIGUSR2');
      setTimeout(() => group('SIGKILL'), 2000);
    }
  }, 200);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (c, s) => r([c, s])));
  clearInterval(timer);
  const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGUSR2: 12, SIGTERM: 15 };
  const exit = code ?? 128 + (signals[signal ?? ''] ?? 1);
  writeJob({ ...running, stat: exit === 0 && killing === undefined ? 'DONE' : 'EXIT', exit_code: exit, ...(killing !== undefined ? { exit_reason: killing } : {}) });
}

function bjobs(args: string[]): void {
  let format: string | undefined;
  let header = true;
  const ids: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-noheader') header = false;
    else if (args[i] === '-o') format = args[++i];
    else if (/^\d+$/.test(args[i])) ids.push(args[i]);
    else fail(`bjobs: illegal option -- ${args[i]}`);
  }
  const all = ids.length > 0 ? ids : readdirSync(jobsDir).filter((f) => /^\d+\.json$/.test(f)).map((f) => f.slice(0, -5));
  const spec = format ?? 'jobid stat queue job_name';
  const delim = /delimiter='(.)'/.exec(spec)?.[1] ?? ' ';
  const fields = spec.replace(/delimiter='.'/, '').trim().split(/\s+/);
  const value = (job: Job, f: string): string => {
    const v = { jobid: job.id, stat: job.stat, queue: job.queue, job_name: job.name, exit_code: job.stat === 'EXIT' ? job.exit_code : undefined, exit_reason: job.exit_reason }[f];
    if (!Object.hasOwn({ jobid: 0, stat: 0, queue: 0, job_name: 0, exit_code: 0, exit_reason: 0 }, f)) fail(`${f}: Illegal field.`);
    return v === undefined ? '-' : String(v);
  };
  let missing = false;
  if (header) process.stdout.write(fields.map((f) => f.toUpperCase()).join(delim) + '\n');
  for (const id of all) {
    const job = readJob(id);
    if (job === undefined) {
      process.stderr.write(`Job <${id}> is not found\n`);
      missing = true;
      continue;
    }
    process.stdout.write(fields.map((f) => value(job, f)).join(delim) + '\n');
  }
  process.exit(missing ? 255 : 0);
}

function bkill(ids: string[]): void {
  let bad = false;
  for (const id of ids) {
    const job = readJob(id);
    if (job === undefined) {
      process.stderr.write(`Job <${id}>: No matching job found\n`);
      bad = true;
    } else if (job.stat === 'DONE' || job.stat === 'EXIT') {
      process.stderr.write(`Job <${id}>: Job has already finished\n`);
      bad = true;
    } else {
      writeFileSync(killFile(id), '');
      process.stdout.write(`Job <${id}> is being terminated\n`);
    }
  }
  process.exit(bad ? 255 : 0);
}

function bmod(args: string[]): void {
  if (args[0] !== '-W' || args.length !== 3) fail('Usage: bmod -W [hour:]minute job_ID (this stand-in knows only -W)');
  const job = readJob(args[2]);
  if (job === undefined) fail(`${args[2]}: No matching job found`);
  writeAtomically(limitFile(job.id), String(minutes(args[1])));
  process.stdout.write(`Parameters of job <${job.id}> are being changed\n`);
}

function bqueues(args: string[]): void {
  if (args.join(' ') !== '-o queue_name -noheader') fail('Usage: bqueues -o queue_name -noheader (this stand-in knows only that)');
  process.stdout.write(queues.map((q) => q + '\n').join(''));
}

if (root === '' || !existsSync(jobsDir)) fail('lsf stand-in: LSF_STANDIN_DIR is not set up (no jobs/ folder)');
const [command, ...args] = process.argv.slice(2);
appendFileSync(join(root, 'calls.log'), JSON.stringify([command, ...args]) + '\n');
if (command === 'bsub') bsub();
else if (command === 'bjobs') bjobs(args);
else if (command === 'bkill') bkill(args);
else if (command === 'bmod') bmod(args);
else if (command === 'bqueues') bqueues(args);
else if (command === '_run') await runJob(args[0]);
else fail(`lsf stand-in: unknown command ${command}`);
