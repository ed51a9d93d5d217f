import type { Command } from 'commander';
import { UserError, show } from '../util/errors.js';
import { startDashboard } from '../view/dashboard/server.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('a read-only web page that shows studies live (figures, trials, running trials, each node); binds to 127.0.0.1 unless --host says otherwise')
    .argument('<dir...>', 'study folders')
    .option('--port <p>', 'the port (default 8050; 0: any free one)', '8050')
    .option('--host <h>', 'the interface to listen on (default 127.0.0.1: this machine only)', '127.0.0.1')
    .action(async (dirs: string[], flags: { port: string; host: string }) => {
      const port = Number(flags.port);
      if (!/^\d+$/.test(flags.port) || port > 65535) throw new UserError(`--port must be a whole number from 0 to 65535, got ${show(flags.port)}`);
      if (!LOOPBACK.has(flags.host)) {
        process.stderr.write(`inrscape: warning: --host ${flags.host}: the dashboard (read-only, no login) is reachable from other machines on that interface\n`);
      }
      const d = await startDashboard(dirs, { port, host: flags.host }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') throw new UserError(`--port ${port}: another program listens there on ${flags.host}; choose another port (0: any free one)`);
        if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UserError(`--host ${flags.host}: this machine has no such interface`);
        throw err;
      });
      process.stdout.write(`dashboard: ${d.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void d.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
