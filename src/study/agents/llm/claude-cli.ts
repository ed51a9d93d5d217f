/**
 * The `claude` command line (Claude Code) as a provider: one non-interactive
 * run per request (`claude -p --output-format json --tools ""`), so a user
 * logged in to Claude Code can steer a study without an API key of their own.
 *
 * The CLI has no tool-call interface for us and takes one prompt per run, so
 * the request goes in as JSON mode (json-mode.ts): the tool contract, then the
 * whole conversation as a transcript, on stdin (never argv: it would show in
 * `ps` and hit argument-length limits). `--tools ""` takes away the CLI's own
 * tools, so the model cannot edit files or run commands; it only answers.
 *
 * The run happens in the temp dir, not in the user's project: Claude Code
 * loads CLAUDE.md and project settings from its working directory, and a
 * study's decisions must come from the prompt alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { LlmSettings } from '../../../config/llm.js';
import { UserError } from '../../../util/errors.js';
import { jsonModeMessages, jsonModeSystem, jsonReply } from './json-mode.js';
import { LlmAuthError, LlmCallError, clip, type ModelReply, type ModelRequest, type Provider, type Usage } from './provider.js';

/** How long the CLI gets to exit after SIGTERM before it is killed outright. */
const KILL_GRACE_MS = 2000;
/** More output than any answer needs: a runaway command, not a model. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Whether `command` names an executable file, directly or on the PATH of `env`. */
function findExecutable(command: string, env: NodeJS.ProcessEnv): boolean {
  const executable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return executable(command);
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, command)));
}

export function claudeCliProvider(s: LlmSettings, env: NodeJS.ProcessEnv = process.env): Provider {
  // A path is made absolute here: the command runs in a folder of its own.
  const command = s.command === undefined ? 'claude' : s.command.includes('/') ? resolve(s.command) : s.command;
  // Found now, so a study is refused before its folder is made (spawnFailure still covers a command removed later).
  if (!findExecutable(command, env)) throw spawnFailure(command, Object.assign(new Error('not found'), { code: 'ENOENT' }));
  // No built-in tools and no MCP servers from the user's settings: the model can only answer in text.
  const args = ['-p', '--output-format', 'json', '--tools', '', '--strict-mcp-config', ...(s.model ? ['--model', s.model] : [])];
  const timeoutMs = Number.isFinite(s.timeout_s) && s.timeout_s > 0 ? s.timeout_s * 1000 : undefined;
  const fallbackModel = s.model ?? 'default';
  return {
    name: 'claude-cli',
    model: fallbackModel,
    mode: 'json',
    async complete(req: ModelRequest, signal?: AbortSignal): Promise<ModelReply> {
      // A private, empty folder per run: neither the project's CLAUDE.md and settings nor anything another
      // user left in the shared temp folder (settings with hooks run commands) reaches the model.
      const cwd = mkdtempSync(join(tmpdir(), 'inrscape-claude-'));
      try {
        const run = await runCli({ command, args, input: claudeCliPrompt(req), env, timeoutMs, signal, cwd });
        return readReply(run, fallbackModel);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  };
}

/** The one prompt of a run: the contract, the conversation so far, and what to answer. */
export function claudeCliPrompt(req: Pick<ModelRequest, 'system' | 'tools' | 'turns'>): string {
  const transcript = jsonModeMessages(req.turns)
    .map((m) => `<${m.role}>\n${m.content}\n</${m.role}>`)
    .join('\n\n');
  return [
    jsonModeSystem(req.system, req.tools),
    '',
    '# The conversation so far',
    'Oldest first. <assistant> turns are your own earlier answers; <user> turns come from the study (its state, the results of your actions).',
    '',
    '<conversation>',
    transcript,
    '</conversation>',
    '',
    '# Your answer now',
    'Answer the last <user> turn above. Reply with exactly one JSON object of the form',
    '{"reasoning": "...", "actions": [{"tool": "...", "input": {...}}, ...]}',
    'as described under "How to answer": no other text, no markdown fence.',
  ].join('\n');
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  command: string;
  args: string[];
  input: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  cwd: string;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

function spawnFailure(command: string, err: NodeJS.ErrnoException): Error {
  const where = command.includes('/') ? '' : ' on PATH';
  if (err.code === 'ENOENT') {
    return new UserError(`claude-cli: the command '${command}' was not found${where}; install Claude Code or set study.llm.command`);
  }
  if (err.code === 'EACCES') {
    return new UserError(`claude-cli: the command '${command}' is not executable; install Claude Code or set study.llm.command`);
  }
  return new LlmCallError(`claude-cli: could not start '${command}': ${err.message}`, false);
}

/**
 * Runs the CLI to completion. A timeout or an abort stops it (SIGTERM, then
 * SIGKILL) and settles only once it has exited, so no run outlives its call.
 */
function runCli(o: RunOptions): Promise<CliRun> {
  if (o.signal?.aborted) return Promise.reject(abortReason(o.signal));
  return new Promise<CliRun>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(o.command, o.args, { env: o.env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(spawnFailure(o.command, err as NodeJS.ErrnoException));
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    let exited = false;
    let stopReason: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const stop = (why: Error): void => {
      if (stopReason || settled) return;
      stopReason = why;
      if (exited) {
        // It exited but something it started still holds its output open: nothing left to wait for.
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(() => reject(why));
        return;
      }
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const onAbort = (): void => stop(abortReason(o.signal!));
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => stop(new LlmCallError(`claude-cli: the claude command line gave no answer within ${o.timeoutMs! / 1000} s (study.llm.timeout_s)`, true)),
            o.timeoutMs,
          );
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) {
        stop(new LlmCallError(`claude-cli: the claude command line wrote more than ${MAX_OUTPUT_BYTES} bytes; stopped it`, false));
        return;
      }
      into.push(chunk);
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(errOut));
    // A CLI that exits before reading (a bad option) breaks the pipe; its exit says why, not the EPIPE.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(o.input);

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish(() => reject(spawnFailure(o.command, err)));
      else stop(new LlmCallError(`claude-cli: ${err.message}`, false));
    });
    child.on('exit', () => {
      exited = true;
      if (stopReason) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        const why = stopReason;
        finish(() => reject(why));
      }
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      const why = stopReason;
      if (why) finish(() => reject(why));
      else finish(() => resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') }));
    });
  });
}

/** The fields of the CLI's result object this provider reads. */
interface CliResult {
  is_error: boolean;
  subtype?: string;
  result?: string;
  stop_reason?: string;
  total_cost_usd?: number;
  usage?: Record<string, unknown>;
  modelUsage?: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The result object from stdout: the object itself, or (with --verbose) the last `result` of a list. */
function readResult(stdout: string): CliResult | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim());
  } catch {
    return undefined;
  }
  const obj = Array.isArray(parsed) ? [...parsed].reverse().find((m) => isRecord(m) && m.type === 'result') : parsed;
  if (!isRecord(obj) || obj.type !== 'result') return undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    is_error: obj.is_error === true,
    subtype: str(obj.subtype),
    result: str(obj.result),
    stop_reason: str(obj.stop_reason),
    total_cost_usd: typeof obj.total_cost_usd === 'number' ? obj.total_cost_usd : undefined,
    usage: isRecord(obj.usage) ? obj.usage : undefined,
    modelUsage: isRecord(obj.modelUsage) ? obj.modelUsage : undefined,
  };
}

function readUsage(u: Record<string, unknown>): Usage {
  const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const usage: Usage = { input_tokens: n(u.input_tokens) ?? 0, output_tokens: n(u.output_tokens) ?? 0 };
  const read = n(u.cache_read_input_tokens);
  const write = n(u.cache_creation_input_tokens);
  if (read !== undefined) usage.cache_read_tokens = read;
  if (write !== undefined) usage.cache_write_tokens = write;
  return usage;
}

/** The model that wrote most of the answer (the CLI names the full model, where --model may be an alias). */
function answeringModel(modelUsage: Record<string, unknown> | undefined): string | undefined {
  let best: { name: string; out: number } | undefined;
  for (const [name, u] of Object.entries(modelUsage ?? {})) {
    const out = isRecord(u) && typeof u.outputTokens === 'number' ? u.outputTokens : 0;
    if (!best || out > best.out) best = { name, out };
  }
  return best?.name;
}

function readReply(run: CliRun, fallbackModel: string): ModelReply {
  const res = readResult(run.stdout);
  if (!res || res.is_error || run.code !== 0 || res.result === undefined) throw cliFailure(run, res);
  const reply: ModelReply = { ...jsonReply(res.result), model: answeringModel(res.modelUsage) ?? fallbackModel };
  if (res.usage) reply.usage = readUsage(res.usage);
  if (res.total_cost_usd !== undefined) reply.cost_usd = res.total_cost_usd;
  const stop = res.stop_reason ?? (res.subtype === 'success' ? 'end_turn' : res.subtype);
  if (stop !== undefined) reply.stop_reason = stop;
  return reply;
}

const AUTH = /invalid api key|\/login|oauth token (?:has )?expired|not logged in|authentication_error|permission_error|unauthori[sz]ed|API Error: 40[13]\b|\b40[13] (?:unauthori[sz]ed|forbidden)\b/i;
const TRANSIENT = /\b429\b|rate.?limit|overloaded|API Error: 5\d\d\b|\b5\d\d (?:internal server error|bad gateway|service unavailable|gateway timeout)|internal server error|service unavailable|timed? ?out|timeout|connection error|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up/i;


function failureKind(run: CliRun, res: CliResult | undefined): string {
  if (run.signal) return `was killed by ${run.signal}`;
  if (run.code !== 0) return `failed (exit ${run.code})`;
  if (!res) return 'did not print its JSON result';
  if (res.is_error) return 'reported an error';
  return `ended without an answer (${res.subtype ?? 'no result text'})`;
}

/** The error for a run that gave no answer, classified by what the CLI said. */
function cliFailure(run: CliRun, res: CliResult | undefined): Error {
  const said = [res?.result ?? (res ? '' : run.stdout), run.stderr].map((t) => t.trim()).filter((t) => t !== '');
  const message = clip(said.join('\n').trim().replace(/\s+\n/g, '\n')) || '(no message)';
  const how = failureKind(run, res);
  if (AUTH.test(message)) {
    return new LlmAuthError(
      `claude-cli: the claude command line was refused: ${message}\n` +
        'Log in again with `claude /login` (or set ANTHROPIC_API_KEY to a valid key).',
    );
  }
  const status = /API Error: (\d{3})\b/.exec(message);
  // `--tools` is recent: an older Claude Code rejects it.
  const hint = /unknown option/i.test(message) ? '\n(An older Claude Code? Update it with `claude update`, or point study.llm.command at the right executable.)' : '';
  return new LlmCallError(`claude-cli: the claude command line ${how}: ${message}${hint}`, TRANSIENT.test(message), status ? Number(status[1]) : undefined);
}
