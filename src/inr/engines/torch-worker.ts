import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The pipe to the torch engine's Python worker (python/inrscape_torch/).
 *
 * Protocol version 1. A message is a little-endian u32 byte length, a UTF-8
 * JSON header of that length, then the raw little-endian buffers the header
 * lists as `buffers: [[dtype, count], ...]` (f32, f64 or i32). The worker
 * speaks first: a `hello` with its protocol version, torch version and pid
 * (or, with `ok: false`, why it cannot run). Then requests and replies
 * alternate; a reply has `ok`, and on failure `kind` (`user`, `oom`,
 * `no-cuda`, `no-mps`, `internal`) and a one-line `message`.
 */

export const PROTOCOL_VERSION = 1;

export type Dtype = 'f32' | 'f64' | 'i32';
export type WireArray = Float32Array | Float64Array | Int32Array;
export type Header = Record<string, unknown>;

export interface Message {
  header: Header;
  arrays: WireArray[];
}

const ELEMENT: Record<Dtype, { bytes: number; make: (b: ArrayBuffer, n: number) => WireArray }> = {
  f32: { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  f64: { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  i32: { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
};

function dtypeOf(a: WireArray): Dtype {
  return a instanceof Float32Array ? 'f32' : a instanceof Float64Array ? 'f64' : 'i32';
}

export function workerScript(): string {
  return fileURLToPath(new URL('../../../../python/inrscape_torch/worker.py', import.meta.url));
}

/** The worker's process ended (or never started). */
export class WorkerExit extends Error {
  constructor(message: string, readonly code: number | null, readonly signal: NodeJS.Signals | null, readonly spawnError?: NodeJS.ErrnoException) {
    super(message);
  }
}

/** A failure the worker reported in a reply. */
export class WorkerFailure extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
  }
}

/** Reads framed messages from a byte stream. */
class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private header: Header | undefined;
  private pending: [Dtype, number][] = [];

  constructor(private readonly onMessage: (m: Message) => void) {}

  push(data: Buffer): void {
    this.chunks.push(data);
    this.have += data.length;
    for (;;) {
      if (this.header === undefined) {
        if (this.have < 4) return;
        const len = this.peek(4).readUInt32LE(0);
        if (this.have < 4 + len) return;
        this.take(4);
        this.header = JSON.parse(this.take(len).toString('utf8')) as Header;
        this.pending = Array.isArray(this.header.buffers) ? (this.header.buffers as [Dtype, number][]) : [];
      }
      const need = this.pending.reduce((s, [d, n]) => s + ELEMENT[d].bytes * n, 0);
      if (this.have < need) return;
      const arrays = this.pending.map(([d, n]) => {
        const bytes = this.take(ELEMENT[d].bytes * n);
        const ab = new ArrayBuffer(bytes.length);
        new Uint8Array(ab).set(bytes);
        return ELEMENT[d].make(ab, n);
      });
      const header = this.header;
      this.header = undefined;
      this.onMessage({ header, arrays });
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    const head = this.chunks[0];
    const out = head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.have -= n;
    return out;
  }
}

/** Keeps the last lines a process wrote to stderr, for error messages. */
class StderrTail {
  private text = '';
  add(s: string): void {
    this.text = (this.text + s).slice(-8192);
  }
  lines(n = 5): string {
    return this.text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n).join(' | ');
  }
}

export interface WorkerOptions {
  python: string;
  env?: NodeJS.ProcessEnv;
  /** Copy the worker's stderr lines here (people's text: progress of compiles, warnings). */
  onStderr?: (line: string) => void;
}

export class TorchWorker {
  readonly hello: Header;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: ((m: Message) => void) | undefined;
  private exited: WorkerExit | undefined;
  private onExit: ((e: WorkerExit) => void) | undefined;

  private constructor(private readonly child: ChildProcess, private readonly tail: StderrTail, hello: Header) {
    this.hello = hello;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Start the worker and read its hello (any `ok` value: the caller decides). */
  static start(opts: WorkerOptions): Promise<TorchWorker> {
    return new Promise((resolve, reject) => {
      const tail = new StderrTail();
      let child: ChildProcess;
      try {
        child = spawn(opts.python, ['-u', workerScript()], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
      } catch (err) {
        reject(new WorkerExit(`cannot start ${opts.python}: ${(err as Error).message}`, null, null, err as NodeJS.ErrnoException));
        return;
      }
      let worker: TorchWorker | undefined;
      const reader = new FrameReader((m) => {
        if (worker === undefined) {
          worker = new TorchWorker(child, tail, m.header);
          resolve(worker);
        } else worker.deliver(m);
      });
      child.stdout!.on('data', (d: Buffer) => reader.push(d));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (s: string) => {
        tail.add(s);
        if (opts.onStderr) for (const line of s.split(/\r?\n/)) if (line.trim() !== '') opts.onStderr(line);
      });
      child.stdin!.on('error', () => undefined); // a dead worker is reported through its exit
      child.once('error', (err: NodeJS.ErrnoException) => {
        const e = new WorkerExit(`cannot start ${opts.python}: ${err.message}`, null, null, err);
        if (worker === undefined) reject(e);
        else worker.died(e);
      });
      child.once('exit', (code, signal) => {
        const how = signal ? `killed by ${signal}` : `exit status ${code}`;
        const last = tail.lines();
        const e = new WorkerExit(`the torch worker (pid ${child.pid}) ended (${how})${last ? `; its last stderr: ${last}` : ''}`, code, signal);
        if (worker === undefined) reject(e);
        else worker.died(e);
      });
    });
  }

  /** One request and its reply; requests are sent one at a time. */
  request(header: Header, arrays: WireArray[] = []): Promise<Message> {
    const run = this.queue.then(() => this.send(header, arrays));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private send(header: Header, arrays: WireArray[]): Promise<Message> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise<Message>((resolve, reject) => {
      this.waiting = (m) => {
        this.onExit = undefined;
        if (m.header.ok === true) resolve(m);
        else reject(new WorkerFailure(String(m.header.kind ?? 'internal'), String(m.header.message ?? 'the torch worker failed')));
      };
      this.onExit = reject;
      const head = Buffer.from(JSON.stringify({ ...header, buffers: arrays.map((a) => [dtypeOf(a), a.length]) }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(head.length, 0);
      const stdin = this.child.stdin!;
      stdin.write(len);
      stdin.write(head);
      for (const a of arrays) stdin.write(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    });
  }

  private deliver(m: Message): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(m);
  }

  private died(e: WorkerExit): void {
    this.exited = e;
    const reject = this.onExit;
    this.onExit = undefined;
    this.waiting = undefined;
    reject?.(e);
  }

  /** Ask the worker to exit; kill it if it does not within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      await Promise.race([this.request({ op: 'shutdown' }), gone]);
    } catch {
      // already dying
    }
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
