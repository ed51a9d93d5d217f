/**
 * A progress line on stderr: redrawn in place on a terminal, and on a pipe
 * or a log file printed only every tenth of the way, so logs stay short.
 */
export function progressLine(label: string): (done: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  const start = Date.now();
  let lastTenth = -1;
  return (done, total) => {
    const secs = (Date.now() - start) / 1000;
    const pct = Math.floor((100 * done) / total);
    const eta = done > 0 ? (secs * (total - done)) / done : 0;
    const text = `${label} ${done}/${total} (${pct}%) ${secs.toFixed(1)} s, eta ${eta.toFixed(1)} s`;
    if (tty) {
      process.stderr.write(`\r${text}\x1b[K${done === total ? '\n' : ''}`);
    } else if (Math.floor(pct / 10) > lastTenth) {
      lastTenth = Math.floor(pct / 10);
      process.stderr.write(`${text}\n`);
    }
  };
}
