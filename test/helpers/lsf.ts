/**
 * An LSF "cluster" for tests: the stand-in commands (lsf-standin.ts) on a
 * PATH of their own, with their state in a temp folder. `stop` kills what is
 * still running.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LsfCluster {
  dir: string;
  env: Record<string, string>;
  stop(): void;
}

const STANDIN = fileURLToPath(new URL('./lsf-standin.js', import.meta.url));

export function startLsf(queues: string[] = ['normal']): LsfCluster {
  const dir = mkdtempSync(join(tmpdir(), 'inrscape-lsf-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  mkdirSync(join(dir, 'jobs'));
  for (const cmd of ['bsub', 'bjobs', 'bkill', 'bmod', 'bqueues']) {
    const path = join(bin, cmd);
    writeFileSync(path, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(STANDIN)} ${cmd} "$@"\n`);
    chmodSync(path, 0o755);
  }
  const env = { PATH: `${bin}:${process.env.PATH ?? ''}`, LSF_STANDIN_DIR: dir, LSF_STANDIN_QUEUES: queues.join(',') };
  return {
    dir, env,
    stop: () => {
      for (const f of readdirSync(join(dir, 'jobs')).filter((n) => n.endsWith('.json'))) {
        const job = JSON.parse(readFileSync(join(dir, 'jobs', f), 'utf8')) as { stat: string; pid?: number };
        if (job.stat === 'RUN' && job.pid !== undefined) {
          try {
            process.kill(-job.pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run a stand-in command as a test would type it. */
export function lsfCommand(cluster: LsfCluster, cmd: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, { env: { ...process.env, ...cluster.env }, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `stat|exit_code|exit_reason` of a job, as the LSF scheduler asks. */
export function lsfJob(cluster: LsfCluster, id: string): string {
  return lsfCommand(cluster, 'bjobs', ['-noheader', '-o', "stat exit_code exit_reason delimiter='|'", id]).stdout.trim();
}
