/**
 * Puts the stand-in `claude` (fake-claude.ts) on a PATH of its own, so tests
 * drive the claude-cli provider, and the study through it, without Claude
 * Code, a login or a network:
 *
 *   const fake = installFakeClaude(dir, [{ result: '{"reasoning": "...", "actions": []}' }]);
 *   const provider = claudeCliProvider(settings, { ...process.env, ...fake.env });
 *   ... readFakeClaudeLog(fake.log) lists each run's argv and prompt.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set by the wrapper script: fake-claude.js only acts when run as `claude`, not when a test runner loads it. */
export const FAKE_CLAUDE_MARK = 'FAKE_CLAUDE_WRAPPED';

export const FAKE_CLAUDE_JS = fileURLToPath(new URL('./fake-claude.js', import.meta.url));

/** The token counts of a result object, as the real CLI names them. */
export interface FakeClaudeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** What every kind of step may add. */
interface StepCommon {
  /** Wait this long before answering (a slow model). */
  delay_ms?: number;
  /** Keep running through SIGTERM while waiting (only SIGKILL stops it). */
  ignore_sigterm?: boolean;
  /** Written to stderr before the answer. */
  stderr?: string;
}

/**
 * One run of the stand-in, in script order:
 * - `result`: a successful answer with this text;
 * - `module`: the answer is what that .js file's default export `(prompt, argv) => string` returns;
 * - `error`: an `is_error` result object with this message, exit `exit` (1);
 * - `raw_stdout`: exactly this on stdout, exit `exit` (0).
 */
export type FakeClaudeStep = StepCommon &
  (
    | { result: string; cost_usd?: number; usage?: FakeClaudeUsage; model?: string }
    | { module: string; cost_usd?: number; usage?: FakeClaudeUsage; model?: string }
    | { error: string; exit?: number }
    | { raw_stdout: string; exit?: number }
  );

/** One line of FAKE_CLAUDE_LOG: a run as the stand-in saw it (`prompt` null when it stopped before reading one). */
export interface FakeClaudeCall {
  argv: string[];
  prompt: string | null;
  cwd: string;
  pid: number;
}

export interface FakeClaude {
  /** The folder holding the `claude` script; first on `env.PATH`. */
  binDir: string;
  /** Environment additions: PATH, and with steps FAKE_CLAUDE_SCRIPT and FAKE_CLAUDE_LOG. */
  env: NodeJS.ProcessEnv;
  /** The script file (written when steps are given). */
  script: string;
  /** Where each run logs one JSON line. */
  log: string;
}

/** Write the `claude` script into `dir/bin`, and with `steps` the script of answers and a log path next to it. */
export function installFakeClaude(dir: string, steps?: FakeClaudeStep[]): FakeClaude {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const claude = join(binDir, 'claude');
  writeFileSync(claude, `#!/bin/sh\nexport ${FAKE_CLAUDE_MARK}=1\nexec "${process.execPath}" "${FAKE_CLAUDE_JS}" "$@"\n`);
  chmodSync(claude, 0o755);
  const script = join(dir, 'claude-script.json');
  const log = join(dir, 'claude-log.jsonl');
  const env: NodeJS.ProcessEnv = { PATH: `${binDir}:${process.env.PATH ?? ''}` };
  if (steps) {
    writeFakeClaudeScript(script, steps);
    env.FAKE_CLAUDE_SCRIPT = script;
    env.FAKE_CLAUDE_LOG = log;
  }
  return { binDir, env, script, log };
}

/** (Re)write a script; the next run starts from its first step. */
export function writeFakeClaudeScript(path: string, steps: FakeClaudeStep[]): void {
  writeFileSync(path, JSON.stringify(steps, null, 2));
  writeFileSync(`${path}.state`, '0');
}

export function readFakeClaudeLog(path: string): FakeClaudeCall[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FakeClaudeCall);
}
