/**
 * A stand-in for the `claude` command line in non-interactive (print) mode,
 * installed on PATH by installFakeClaude (claude.ts). It parses options the
 * way the real CLI does (unknown ones are an error, no -p means interactive
 * mode, which needs a terminal), reads the prompt from its argument or stdin,
 * and answers the next step of the script FAKE_CLAUDE_SCRIPT names; a counter
 * in FAKE_CLAUDE_STATE (default: the script's path + `.state`) carries the
 * position from one run to the next. Each run appends {argv, prompt, cwd, pid}
 * to FAKE_CLAUDE_LOG when set.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { FAKE_CLAUDE_MARK, type FakeClaudeCall, type FakeClaudeStep, type FakeClaudeUsage } from './claude.js';

const BOOLEAN_OPTIONS = new Set(['-p', '--print', '--verbose', '--strict-mcp-config']);
/** Options with one value, and the value's name in commander's messages. */
const VALUE_OPTIONS = new Map([
  ['--output-format', 'format'],
  ['--model', 'model'],
  ['--tools', 'tools...'],
  ['--allowedTools', 'tools...'],
  ['--allowed-tools', 'tools...'],
  ['--disallowedTools', 'tools...'],
  ['--disallowed-tools', 'tools...'],
  ['--append-system-prompt', 'prompt'],
  ['--system-prompt', 'prompt'],
  ['--max-turns', 'turns'],
]);
const FORMATS = ['text', 'json', 'stream-json'];
const DEFAULT_MODEL = 'claude-sonnet-4-5-20250929';

interface Options {
  print: boolean;
  verbose: boolean;
  values: Map<string, string>;
  positional: string[];
}

/** The options, or commander's error message. */
function parseArgs(argv: string[]): Options | string {
  const o: Options = { print: false, verbose: false, values: new Map(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      o.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      o.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_OPTIONS.has(name)) {
      if (name === '--verbose') o.verbose = true;
      else o.print = true;
    } else if (VALUE_OPTIONS.has(name)) {
      const value = name !== arg ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) return `error: option '${name} <${VALUE_OPTIONS.get(name)}>' argument missing`;
      if (name === '--output-format' && !FORMATS.includes(value)) {
        return `error: option '--output-format <format>' argument '${value}' is invalid. Allowed choices are ${FORMATS.join(', ')}.`;
      }
      o.values.set(name, value);
    } else {
      return `error: unknown option '${name}'`;
    }
  }
  return o;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function logCall(prompt: string | null): void {
  const path = process.env.FAKE_CLAUDE_LOG;
  if (!path) return;
  const call: FakeClaudeCall = { argv: process.argv.slice(2), prompt, cwd: process.cwd(), pid: process.pid };
  appendFileSync(path, JSON.stringify(call) + '\n');
}

function fail(message: string): void {
  process.stderr.write(message + '\n');
  process.exitCode = 1;
}

/** The next step of the script, or why there is none (answered as an error, like the real CLI's failures). */
function nextStep(): FakeClaudeStep | string {
  const script = process.env.FAKE_CLAUDE_SCRIPT;
  if (!script) return 'fake claude: FAKE_CLAUDE_SCRIPT is not set';
  const steps = JSON.parse(readFileSync(script, 'utf8')) as FakeClaudeStep[];
  const state = process.env.FAKE_CLAUDE_STATE ?? `${script}.state`;
  const n = existsSync(state) ? Number(readFileSync(state, 'utf8').trim() || 0) : 0;
  writeFileSync(state, String(n + 1));
  if (n >= steps.length) return `fake claude: the script ${script} is exhausted (run ${n + 1}, ${steps.length} steps)`;
  return steps[n];
}

interface Answer {
  text: string;
  isError: boolean;
  cost?: number;
  usage?: FakeClaudeUsage;
  model?: string;
}

function resultObject(a: Answer, model: string, started: number): Record<string, unknown> {
  const usage = {
    input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0,
    ...(a.isError ? {} : { input_tokens: 120, output_tokens: 40 }),
    ...a.usage,
  };
  const cost = a.cost ?? (a.isError ? 0 : 0.001);
  return {
    type: 'result',
    subtype: 'success',
    is_error: a.isError,
    duration_ms: Date.now() - started,
    duration_api_ms: Date.now() - started,
    num_turns: 1,
    result: a.text,
    session_id: randomUUID(),
    total_cost_usd: cost,
    usage,
    ...(a.isError ? {} : { modelUsage: { [model]: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, costUSD: cost } } }),
  };
}

function printAnswer(a: Answer, o: Options, started: number): void {
  const format = o.values.get('--output-format') ?? 'text';
  const model = a.model ?? o.values.get('--model') ?? DEFAULT_MODEL;
  const result = resultObject(a, model, started);
  if (format === 'json') process.stdout.write(JSON.stringify(result) + '\n');
  else if (format === 'stream-json') {
    const session_id = result.session_id;
    const lines = [
      { type: 'system', subtype: 'init', session_id, model, tools: [] },
      { type: 'assistant', session_id, message: { role: 'assistant', model, content: [{ type: 'text', text: a.text }] } },
      result,
    ];
    process.stdout.write(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  } else process.stdout.write(a.text + '\n');
}

async function moduleAnswer(path: string, prompt: string, argv: string[]): Promise<string> {
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error(`fake claude: ${path} has no default export function`);
  const answer: unknown = await (mod.default as (p: string, a: string[]) => unknown)(prompt, argv);
  if (typeof answer !== 'string') throw new Error(`fake claude: ${path} answered ${typeof answer}, not a string`);
  return answer;
}

async function main(): Promise<void> {
  const started = Date.now();
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    logCall(null);
    return fail(o);
  }
  if (!o.print) {
    logCall(null);
    return fail('Error: interactive mode needs a terminal (stdin is not a TTY); use -p/--print to answer one prompt non-interactively');
  }
  if (o.values.get('--output-format') === 'stream-json' && !o.verbose) {
    logCall(null);
    return fail('Error: When using --print, --output-format=stream-json requires --verbose');
  }
  const prompt = o.positional.length > 0 ? o.positional.join(' ') : await readStdin();
  logCall(prompt);
  if (prompt.trim() === '') return fail('Error: Input must be provided either through stdin or as a prompt argument when using --print');

  const step = nextStep();
  if (typeof step === 'string') {
    printAnswer({ text: step, isError: true }, o, started);
    process.exitCode = 1;
    return;
  }
  if (step.ignore_sigterm) process.on('SIGTERM', () => undefined);
  if (step.delay_ms) await new Promise((r) => setTimeout(r, step.delay_ms));
  if (step.stderr) process.stderr.write(step.stderr);
  if ('raw_stdout' in step) {
    process.stdout.write(step.raw_stdout);
    process.exitCode = step.exit ?? 0;
  } else if ('error' in step) {
    printAnswer({ text: step.error, isError: true }, o, started);
    process.exitCode = step.exit ?? 1;
  } else {
    let text: string;
    try {
      text = 'module' in step ? await moduleAnswer(step.module, prompt, argv) : step.result;
    } catch (err) {
      printAnswer({ text: (err as Error).message, isError: true }, o, started);
      process.exitCode = 1;
      return;
    }
    printAnswer({ text, isError: false, cost: step.cost_usd, usage: step.usage, model: step.model }, o, started);
  }
}

// `node --test dist/test/` loads helpers too: act only when run through the `claude` script.
if (process.env[FAKE_CLAUDE_MARK] === '1') await main();
