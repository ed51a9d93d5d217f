/**
 * A real single-node Slurm cluster for tests: munged, slurmctld and slurmd
 * run as root in the foreground, spawned from here, with a configuration, a
 * munge key, state, spool, logs and pid files written into a private temp
 * dir at test time. Nothing outside that dir is read or changed: the client
 * commands find the cluster through SLURM_CONF (in `cluster.env`), and Slurm
 * finds our munged through `AuthInfo=socket=...` in that slurm.conf.
 *
 * Without slurmdbd there is no `sacct`: jobs are followed with `squeue -t all`
 * and `scontrol show job`, which keep a finished job for MinJobAge (300 s).
 *
 * Debian 12: `apt-get install slurmctld slurmd slurm-client munge` (22.05).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface SlurmCluster {
  /** What a child process needs to reach this cluster (SLURM_CONF); merge into process.env. */
  env: Record<string, string>;
  /** The one partition (Default=YES). */
  partition: string;
  /** The node's name (the short hostname). */
  nodeName: string;
  /** CPUs the node offers. */
  cpus: number;
  /** The private temp dir holding slurm.conf, the munge key, state, spool and logs. */
  dir: string;
  /** The daemons' log files, by name, for error messages. */
  logs: Record<string, string>;
  /** Kills the daemons and whatever jobs are left, and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface SlurmOptions {
  /** CPUs of the node (default: this machine's). More than the machine has is fine (config_overrides). */
  cpus?: number;
  /** Partition name (default `debug`). */
  partition?: string;
  /** The node's name (default: the short hostname; it need not resolve: the node's address is 127.0.0.1). */
  nodeName?: string;
  /** How long to wait for the node to be idle (default 60 s). */
  startTimeoutMs?: number;
}

const BINARIES = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo'];

/** Terminal job states: a job in one of these never changes state again. */
export const TERMINAL_STATES = new Set([
  'COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE',
]);

/** The daemons' environment marks them (and their slurmstepds) with the cluster's dir and owner. */
const MARK_DIR = 'INRSCAPE_SLURM_DIR';
const MARK_OWNER = 'INRSCAPE_SLURM_OWNER';

function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** The directories added to PATH so that /usr/sbin daemons are found for non-login shells too. */
function pathWithSbin(): string {
  const p = process.env.PATH ?? '/usr/bin:/bin';
  const parts = p.split(delimiter);
  for (const d of ['/usr/sbin', '/sbin']) if (!parts.includes(d)) parts.push(d);
  return parts.join(delimiter);
}

/** false when a cluster can be started here; else why not (for node:test's `skip`). */
export function slurmAvailable(): string | false {
  if (process.platform !== 'linux') return 'Slurm test cluster needs Linux';
  const missing = BINARIES.filter((b) => !onPath(b));
  if (missing.length > 0) return `Slurm not installed (missing ${missing.join(', ')}; apt-get install slurmctld slurmd slurm-client munge)`;
  if (process.getuid?.() !== 0) return 'the Slurm test cluster runs slurmd as root; not root here';
  return false;
}

// ---------------------------------------------------------------------------
// Processes: every cluster is tracked so that no daemon outlives this process.

interface Live {
  dir: string;
  conf: string;
  children: ChildProcess[];
}
const live = new Set<Live>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const c of live) killClusterSync(c);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const c of live) killClusterSync(c);
      // Only re-raise where nobody else handles the signal: then it ends us as it would have.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

interface ProcInfo { pid: number; sid: number; env: string }

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  let names: string[];
  try { names = readdirSync('/proc'); } catch { return out; }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      out.push({ pid, sid: Number(fields[3]), env: '\0' + env });
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

function ownSessions(): Set<number> {
  const s = new Set<number>([0, 1]);
  for (const pid of [process.pid, process.ppid]) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      s.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]));
    } catch { /* ignore */ }
  }
  return s;
}

/**
 * SIGKILLs every process of a cluster: those whose environment names its
 * slurm.conf or dir (daemons, slurmstepds, job scripts), and everything in the
 * sessions of those (slurmstepd makes one session per job; tasks that cleared
 * their environment are still in it). Never this process or its session.
 */
function sweep(match: (env: string) => boolean): number {
  const mine = ownSessions();
  let killed = 0;
  for (let round = 0; round < 5; round++) {
    const procs = readProcs();
    const hit = procs.filter((p) => p.pid !== process.pid && p.pid !== process.ppid && match(p.env));
    const sessions = new Set(hit.map((p) => p.sid).filter((s) => !mine.has(s)));
    const victims = new Set(hit.map((p) => p.pid));
    for (const p of procs) if (sessions.has(p.sid) && p.pid !== process.pid) victims.add(p.pid);
    if (victims.size === 0) break;
    for (const pid of victims) {
      try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ }
    }
  }
  return killed;
}

function matcherFor(dir: string, conf: string): (env: string) => boolean {
  return (env) => env.includes(`\0SLURM_CONF=${conf}\0`) || env.includes(`\0${MARK_DIR}=${dir}\0`);
}

function killClusterSync(c: Live): void {
  for (const ch of c.children) {
    if (ch.exitCode === null && ch.signalCode === null && ch.pid !== undefined) {
      try { process.kill(ch.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  sweep(matcherFor(c.dir, c.conf));
  try { rmSync(c.dir, { recursive: true, force: true }); } catch { /* ignore */ }
  live.delete(c);
}

/** Kills the daemons of clusters whose owning test process died without cleaning up (SIGKILL). */
function reapOrphans(): void {
  const owners = new Map<number, Set<string>>();
  for (const p of readProcs()) {
    const dir = /\0INRSCAPE_SLURM_DIR=([^\0]*)/.exec(p.env)?.[1];
    const owner = Number(/\0INRSCAPE_SLURM_OWNER=(\d+)/.exec(p.env)?.[1]);
    if (dir === undefined || !Number.isFinite(owner)) continue;
    let alive = true;
    try { process.kill(owner, 0); } catch { alive = false; }
    if (alive) continue;
    if (!owners.has(owner)) owners.set(owner, new Set());
    owners.get(owner)!.add(dir);
  }
  for (const dirs of owners.values()) {
    for (const dir of dirs) {
      sweep(matcherFor(dir, join(dir, 'slurm.conf')));
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------------------
// Commands.

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs a Slurm client command against the cluster; never throws for a non-zero exit. */
export function slurmCommand(cluster: Pick<SlurmCluster, 'env'>, cmd: string, args: string[], timeoutMs = 20_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, PATH: pathWithSbin(), ...cluster.env }, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr: stderr + (err !== null && code === -1 ? String(err.message) : '') });
    });
  });
}

async function slurmOk(cluster: Pick<SlurmCluster, 'env'>, cmd: string, args: string[]): Promise<string> {
  const r = await slurmCommand(cluster, cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `sbatch --parsable ARGS...`: the job id. */
export async function sbatch(cluster: Pick<SlurmCluster, 'env'>, args: string[]): Promise<string> {
  const out = await slurmOk(cluster, 'sbatch', ['--parsable', ...args]);
  const id = out.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch --parsable printed ${JSON.stringify(out)}`);
  return id;
}

/**
 * `scontrol show job -o ID` as key=value pairs (JobState, Reason, ExitCode,
 * RunTime, TimeLimit, StartTime, EndTime, NodeList, NumCPUs, StdOut, ...);
 * undefined when Slurm no longer knows the job (purged after MinJobAge, or
 * never existed: "Invalid job id specified").
 */
export async function jobInfo(cluster: Pick<SlurmCluster, 'env'>, jobId: string): Promise<Record<string, string> | undefined> {
  const r = await slurmCommand(cluster, 'scontrol', ['show', 'job', '-o', jobId]);
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return undefined;
    throw new Error(`scontrol show job ${jobId} exited ${r.code}: ${r.stderr.trim()}`);
  }
  const line = r.stdout.trim().split('\n')[0] ?? '';
  const info: Record<string, string> = {};
  // Pairs are space separated; a value runs to the next " Key=".
  for (const part of line.split(/ (?=[A-Za-z][A-Za-z0-9_:/.]*=)/)) {
    const eq = part.indexOf('=');
    if (eq > 0) info[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return info;
}

/**
 * The job's state as squeue names it (PENDING, RUNNING, COMPLETING,
 * COMPLETED, CANCELLED, FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...), by
 * `squeue -h -t all -j ID -o %T` (plain `squeue` hides finished jobs), then
 * `scontrol show job`; undefined when Slurm no longer knows the job.
 */
export async function squeueState(cluster: Pick<SlurmCluster, 'env'>, jobId: string): Promise<string | undefined> {
  const r = await slurmCommand(cluster, 'squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T']);
  const s = r.code === 0 ? r.stdout.trim().split('\n')[0]?.trim() : '';
  if (s) return s;
  return (await jobInfo(cluster, jobId))?.JobState;
}

/**
 * Polls until the job is in one of `states`; returns that state. Throws on
 * timeout, or at once when the job reached a terminal state not asked for,
 * with what `scontrol show job` says.
 */
export async function waitForJobState(cluster: Pick<SlurmCluster, 'env'>, jobId: string, states: string | readonly string[], timeoutMs = 30_000, pollMs = 200): Promise<string> {
  const want = new Set(typeof states === 'string' ? [states] : states);
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = await squeueState(cluster, jobId);
    if (last !== undefined && want.has(last)) return last;
    const terminal = last !== undefined && TERMINAL_STATES.has(last);
    if (terminal || Date.now() > deadline) {
      const info = await jobInfo(cluster, jobId).catch(() => undefined);
      const why = terminal ? `ended ${last}` : `still ${last ?? 'unknown to Slurm'} after ${timeoutMs} ms`;
      throw new Error(`job ${jobId} ${why}, waiting for ${[...want].join('|')}` +
        (info ? ` (JobState=${info.JobState} Reason=${info.Reason} ExitCode=${info.ExitCode} RunTime=${info.RunTime})` : ''));
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Makes a running job's time limit run out now: `scontrol update JobId=ID
 * EndTime=now+1` (`EndTime=now` is refused with "Invalid time specified" when
 * the job started this very second). slurmctld enforces time limits in a
 * periodic check every 30 s (counted from its start), so the job ends TIMEOUT
 * (Reason=TimeLimit) within ~31 s, instead of 60-90 s after it started with
 * `--time=1` (Slurm's limits are whole minutes).
 */
export async function expireTimeLimit(cluster: Pick<SlurmCluster, 'env'>, jobId: string): Promise<void> {
  await slurmOk(cluster, 'scontrol', ['update', `JobId=${jobId}`, 'EndTime=now+1']);
}

/**
 * Cancels every job of the cluster and waits until none is left running or
 * completing, so that the next test finds all CPUs free.
 */
export async function cancelAllJobs(cluster: Pick<SlurmCluster, 'env'>, timeoutMs = 30_000): Promise<void> {
  const active = async (): Promise<string[]> => {
    // Plain squeue lists just the jobs not finished yet (pending, running, completing, ...).
    const r = await slurmCommand(cluster, 'squeue', ['-h', '-o', '%i']);
    return r.code === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '') : [];
  };
  const deadline = Date.now() + timeoutMs;
  for (let ids = await active(); ids.length > 0; ids = await active()) {
    await slurmCommand(cluster, 'scancel', ids);
    if (Date.now() > deadline) throw new Error(`jobs ${ids.join(', ')} still there after scancel`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------------------
// Starting and stopping.

/** n distinct free TCP ports (all held open at once, so none repeats), released for the daemons to bind. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  })));
  const ports = servers.map((srv) => {
    const addr = srv.address();
    if (addr === null || typeof addr !== 'object') throw new Error('no free port');
    return addr.port;
  });
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

function memTotalMB(): number {
  try {
    const kb = Number(/^MemTotal:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    if (Number.isFinite(kb) && kb > 0) return Math.floor(kb / 1024);
  } catch { /* ignore */ }
  return 2048;
}

function tail(path: string, lines = 25): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

function logTails(logs: Record<string, string>): string {
  return Object.entries(logs).map(([name, p]) => `--- ${name} (${p}):\n${tail(p)}`).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(ch: ChildProcess): boolean {
  return ch.exitCode === null && ch.signalCode === null;
}

function waitExit(ch: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(ch)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    ch.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

export function slurmConf(o: {
  dir: string; nodeName: string; cpus: number; memoryMB: number; partition: string; ctldPort: number; slurmdPort: number; mungeSocket: string;
}): string {
  const d = o.dir;
  return `# Written by test/helpers/slurm.ts for one test process; removed when it stops.
ClusterName=inrscape-test
SlurmctldHost=localhost
SlurmctldPort=${o.ctldPort}
SlurmdPort=${o.slurmdPort}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${o.mungeSocket}
StateSaveLocation=${d}/state
SlurmdSpoolDir=${d}/spool
SlurmctldPidFile=${d}/slurmctld.pid
SlurmdPidFile=${d}/slurmd.pid
SlurmctldLogFile=${d}/slurmctld.log
SlurmdLogFile=${d}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=${d}/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=2
MinJobAge=300
OverTimeLimit=0
NodeName=${o.nodeName} NodeAddr=127.0.0.1 CPUs=${o.cpus} RealMemory=${o.memoryMB} State=UNKNOWN
PartitionName=${o.partition} Nodes=${o.nodeName} Default=YES MaxTime=INFINITE State=UP
`;
}

/**
 * Starts munged, slurmctld and slurmd on a fresh configuration and waits until
 * the node is idle. Call `stop()` when done (an 'exit' handler kills the
 * daemons too, should a test process end without it).
 */
export async function startSlurm(opts: SlurmOptions = {}): Promise<SlurmCluster> {
  const why = slurmAvailable();
  if (why !== false) throw new Error(why);
  installExitHooks();
  reapOrphans();

  const partition = opts.partition ?? 'debug';
  if (!/^[A-Za-z0-9_-]+$/.test(partition)) throw new Error(`partition name ${JSON.stringify(partition)}: letters, digits, _ and - only`);
  const cpus = opts.cpus ?? availableParallelism();
  const nodeName = opts.nodeName ?? (hostname().split('.')[0] || 'localhost');
  const memTotal = memTotalMB();
  const memoryMB = Math.max(256, memTotal - Math.max(512, Math.floor(memTotal / 20)));

  const dir = mkdtempSync(join(tmpdir(), 'inrscape-slurm-'));
  chmodSync(dir, 0o755); // munged wants its socket's directories searchable by all
  const conf = join(dir, 'slurm.conf');
  const record: Live = { dir, conf, children: [] };
  live.add(record);

  const mungeSocket = join(dir, 'munge.socket');
  if (Buffer.byteLength(mungeSocket) > 100) throw new Error(`munge socket path too long for a unix socket: ${mungeSocket} (set TMPDIR shorter)`);
  const logs: Record<string, string> = {
    munged: join(dir, 'munged.log'),
    'slurmctld.log': join(dir, 'slurmctld.log'),
    'slurmctld stderr': join(dir, 'slurmctld.stderr'),
    'slurmd.log': join(dir, 'slurmd.log'),
    'slurmd stderr': join(dir, 'slurmd.stderr'),
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // slurmd and slurmctld first (slurmstepds of running jobs outlive slurmd by design: the sweep gets them), munged last.
    const [munged, ...slurm] = record.children;
    for (const ch of slurm) if (alive(ch)) ch.kill('SIGTERM');
    for (const ch of slurm) if (!(await waitExit(ch, 5000))) ch.kill('SIGKILL');
    sweep(matcherFor(dir, conf));
    if (munged !== undefined && alive(munged)) {
      munged.kill('SIGTERM');
      if (!(await waitExit(munged, 3000))) munged.kill('SIGKILL');
    }
    killClusterSync(record);
  };

  try {
    mkdirSync(join(dir, 'state'));
    mkdirSync(join(dir, 'spool'));
    writeFileSync(join(dir, 'munge.key'), randomBytes(1024), { mode: 0o600 });
    writeFileSync(join(dir, 'plugstack.conf'), '');
    const [ctldPort, slurmdPort] = await freePorts(2);
    writeFileSync(conf, slurmConf({ dir, nodeName, cpus, memoryMB, partition, ctldPort, slurmdPort, mungeSocket }));

    const env: Record<string, string> = { SLURM_CONF: conf };
    const daemonEnv: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithSbin(), ...env, [MARK_DIR]: dir, [MARK_OWNER]: String(process.pid) };
    for (const k of Object.keys(daemonEnv)) if (k.startsWith('SLURM_') && k !== 'SLURM_CONF') delete daemonEnv[k];

    const launch = (name: string, cmd: string, args: string[], log: string): ChildProcess => {
      const fd = openSync(log, 'a');
      try {
        const ch = spawn(cmd, args, { cwd: dir, env: daemonEnv, stdio: ['ignore', fd, fd], detached: true });
        ch.on('error', (e) => writeFileSync(log, `spawn ${name}: ${e.message}\n`, { flag: 'a' }));
        ch.unref();
        record.children.push(ch);
        return ch;
      } finally {
        closeSync(fd);
      }
    };
    const failIfDead = (): void => {
      for (const ch of record.children) {
        if (!alive(ch)) throw new Error(`${ch.spawnargs[0]} exited (${ch.exitCode ?? ch.signalCode}) while the Slurm test cluster started`);
      }
    };

    const munged = launch('munged', 'munged', [
      '--foreground', '--force', `--socket=${mungeSocket}`, `--key-file=${join(dir, 'munge.key')}`,
      `--pid-file=${join(dir, 'munged.pid')}`, `--log-file=${logs.munged}`, `--seed-file=${join(dir, 'munged.seed')}`,
    ], logs.munged);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    while (!existsSync(mungeSocket)) {
      if (!alive(munged)) failIfDead();
      if (Date.now() > deadline) throw new Error('munged did not create its socket');
      await sleep(50);
    }
    launch('slurmctld', 'slurmctld', ['-D', '-f', conf], logs['slurmctld stderr']);
    launch('slurmd', 'slurmd', ['-D', '-f', conf, '-N', nodeName], logs['slurmd stderr']);

    const cluster: SlurmCluster = { env, partition, nodeName, cpus, dir, logs, stop };
    let state = '';
    for (;;) {
      failIfDead();
      const r = await slurmCommand(cluster, 'sinfo', ['-h', '-N', '-n', nodeName, '-o', '%T'], 5000);
      state = r.code === 0 ? r.stdout.trim() : r.stderr.trim();
      if (r.code === 0 && state === 'idle') return cluster;
      if (Date.now() > deadline) throw new Error(`node ${nodeName} not idle after ${opts.startTimeoutMs ?? 60_000} ms (sinfo: ${state || 'nothing'})`);
      await sleep(200);
    }
  } catch (e) {
    const msg = `Slurm test cluster did not start: ${(e as Error).message}\n${logTails(logs)}`;
    await stop();
    throw new Error(msg);
  }
}
