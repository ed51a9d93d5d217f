/**
 * Whole studies steered by an LLM, as a user runs them: `inrscape study run
 * --agent llm` on dicty-tiny, the real trainer, and the model behind each
 * provider's wire format (a local Anthropic / OpenAI server, the stand-in
 * `claude` on PATH) answering from the prompt it is sent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { journalPath, readJournal, type AgentCallEvent } from '../src/study/journal.js';
import { runCli } from './helpers/cli.js';
import { installFakeClaude, readFakeClaudeLog } from './helpers/claude.js';
import { modelReply, startLlmServer, anthropicError, type LlmServer, type ScriptEntry } from './helpers/llm-server.js';
import { competentAnswer, taskOf } from './helpers/model.js';
import { checkStudyFolder, startCli, walk, writeTinyStudyConfig } from './helpers/study.js';

const root = mkdtempSync(join(tmpdir(), 'inrscape-llm-study-'));
after(() => rmSync(root, { recursive: true, force: true }));
const KEY = 'sk-test-never-in-a-file-7731';
// No key of the machine running the tests may reach a child: only the ones a test gives.
const base = { INRSCAPE_CACHE: join(root, 'cache'), ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' };
const config = writeTinyStudyConfig(join(root, 'tiny.yaml'), { iterations: 4, slots: 2, block: 2 });
const COMPETENT_MODULE = fileURLToPath(new URL('./helpers/competent-claude.js', import.meta.url));

const competent: ScriptEntry = (req) => modelReply(competentAnswer(taskOf(req)))(req);

function calls(dir: string): AgentCallEvent[] {
  return readJournal(journalPath(dir)).entries.map((e) => e.event).filter((e): e is AgentCallEvent & { v: number; at: string } => e.type === 'agent_call');
}

/** What a study steered by a working model leaves: every slot, note and summary is the model's, and no key anywhere. */
function checkLlmStudy(dir: string, provider: string, failedCalls = 0): void {
  const state = checkStudyFolder(dir);
  assert.equal(state.nodes.length, 4);
  assert.deepEqual(state.nodes.map((n) => n.source), ['agent', 'agent', 'agent', 'agent']);
  assert.ok(state.nodes.every((n) => n.note?.observation === `model note on node ${n.id}`));
  assert.equal(state.blocks[1].closed?.key_finding, 'model finding 1');
  const memory = readFileSync(join(dir, 'memory.md'), 'utf8');
  assert.match(memory, /- model principle 1/);
  const log = calls(dir);
  assert.ok(log.length >= 6, 'propose, analyse, close for each of 2 blocks');
  assert.ok(log.every((c) => c.provider === provider && c.results.every((r) => !r.startsWith('ERROR'))));
  assert.equal(log.filter((c) => c.error !== undefined).length, failedCalls);
  const reasoning = readFileSync(join(dir, 'reasoning.log'), 'utf8');
  assert.match(reasoning, /=== call 1: batch 0 propose, round 0/);
  assert.match(reasoning, /1\. propose_config \{"parent":null,/);
  for (const rel of walk(dir)) {
    const path = join(dir, rel);
    if (existsSync(path) && !rel.includes('runs/') && !rel.endsWith('/')) {
      try {
        assert.ok(!readFileSync(path, 'utf8').includes(KEY), `${rel} holds no key`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
      }
    }
  }
}

async function withServer(fn: (server: LlmServer) => Promise<void>): Promise<void> {
  const server = await startLlmServer();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

describe('a short study on dicty-tiny steered through each provider', () => {
  test('anthropic (Messages API with tool_use blocks)', async () => {
    await withServer(async (server) => {
      server.push(...Array<ScriptEntry>(40).fill(competent));
      const dir = join(root, 'anthropic');
      const run = startCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--agent', 'llm', '--provider', 'anthropic', '--base-url', server.baseUrl.anthropic], { env: { ...base, ANTHROPIC_API_KEY: KEY } });
      const { code } = await run.done;
      assert.equal(code, 0, run.stderr());
      assert.match(run.stdout(), /llm {4}batch 0 propose: 2 tool calls, [\d.]+ s, \d+\/\d+ tokens/);
      checkLlmStudy(dir, 'anthropic');
      assert.equal(server.requests.length, calls(dir).length, 'one journal event per request');
      assert.ok(server.requests.every((r) => r.path === '/v1/messages' && r.headers.authorization === `Bearer ${KEY}`));
      const status = runCli(['study', 'status', dir], { env: base });
      assert.match(status.stdout, /llm: anthropic claude-sonnet-4-6, \d+ calls \(0 failed\), \d+ tokens in \/ \d+ out; 0 slots filled by the rules agent/);
    });
  });

  test('openai-compatible server (chat.completions with tool_calls)', async () => {
    await withServer(async (server) => {
      server.push(...Array<ScriptEntry>(40).fill(competent));
      const dir = join(root, 'openai');
      const run = startCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--agent', 'llm', '--provider', 'openai', '--model', 'qwen2.5:14b', '--base-url', server.baseUrl.openai], { env: { ...base, OPENAI_API_KEY: KEY } });
      const { code } = await run.done;
      assert.equal(code, 0, run.stderr());
      checkLlmStudy(dir, 'openai');
      assert.ok(server.requests.every((r) => r.path === '/v1/chat/completions' && r.body.model === 'qwen2.5:14b' && Array.isArray(r.body.tools)));
    });
  });

  test('claude-cli (the stand-in claude on PATH, JSON mode)', async (t) => {
    const fake = installFakeClaude(join(root, 'claude'), Array(40).fill({ module: COMPETENT_MODULE, cost_usd: 0.002 }));
    const dir = join(root, 'claude-cli');
    const run = startCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--agent', 'llm', '--provider', 'claude-cli'], { env: { ...base, ...fake.env } });
    const { code } = await run.done;
    assert.equal(code, 0, run.stderr());
    checkLlmStudy(dir, 'claude-cli');
    const runs = readFakeClaudeLog(fake.log);
    assert.equal(runs.length, calls(dir).length);
    assert.ok(runs.every((r) => r.argv.slice(0, 3).join(' ') === '-p --output-format json' && r.argv.includes('--tools')));
    const cost = calls(dir).reduce((a, c) => a + (c.cost_usd ?? 0), 0);
    assert.ok(Math.abs(cost - 0.002 * runs.length) < 1e-9, 'the CLI\'s cost is recorded per call');
    t.diagnostic(`${runs.length} claude runs`);
  });
});

describe('llm studies: stopping, resuming, dry runs, bad settings', () => {
  test('an auth error stops the study cleanly (no partial batch); resume with a good key finishes it', async () => {
    await withServer(async (server) => {
      server.push(anthropicError(401, 'authentication_error', 'invalid x-api-key'));
      const dir = join(root, 'auth');
      const args = ['--threads', '1'];
      const first = startCli(['study', 'run', config, '--dir', dir, ...args, '--agent', 'llm', '--base-url', server.baseUrl.anthropic], { env: { ...base, ANTHROPIC_API_KEY: 'sk-expired' } });
      const r1 = await first.done;
      assert.equal(r1.code, 2, first.stderr());
      assert.match(first.stderr(), /anthropic: authentication failed \(401: invalid x-api-key\): set ANTHROPIC_API_KEY to a valid key\nthe study stopped cleanly; once fixed, continue with 'inrscape study resume .*auth'/);
      const events = readJournal(journalPath(dir)).entries.map((e) => e.event.type);
      assert.deepEqual(events, ['study_created', 'agent_call']);
      assert.ok(!existsSync(join(dir, 'lock')), 'the lock is released');

      server.push(...Array<ScriptEntry>(40).fill(competent));
      const second = startCli(['study', 'resume', dir, ...args], { env: { ...base, ANTHROPIC_API_KEY: KEY } });
      const r2 = await second.done;
      assert.equal(r2.code, 0, second.stderr());
      checkLlmStudy(dir, 'anthropic', 1);
      assert.match(readFileSync(join(dir, 'reasoning.log'), 'utf8'), /FAILED: anthropic: authentication failed \(401: invalid x-api-key\)/);
    });
  });

  test('a model that does not exist stops the study; resume --model switches to another and finishes it', async () => {
    await withServer(async (server) => {
      server.push(anthropicError(404, 'not_found_error', 'model: claude-nope'));
      const dir = join(root, 'model');
      const env = { ...base, ANTHROPIC_API_KEY: KEY };
      const first = startCli(['study', 'run', config, '--dir', dir, '--threads', '1', '--agent', 'llm', '--model', 'claude-nope', '--base-url', server.baseUrl.anthropic], { env });
      assert.equal((await first.done).code, 2, first.stderr());
      assert.match(first.stderr(), /not found \(404: model: claude-nope\)[\s\S]*continue with 'inrscape study resume /);

      server.push(...Array<ScriptEntry>(40).fill(competent));
      const second = startCli(['study', 'resume', dir, '--threads', '1', '--model', 'claude-good'], { env });
      assert.equal((await second.done).code, 0, second.stderr());
      checkLlmStudy(dir, 'anthropic', 1);
      const changed = readJournal(journalPath(dir)).entries.map((e) => e.event).find((e) => e.type === 'settings_changed');
      assert.equal(changed?.type === 'settings_changed' ? changed.llm?.model : undefined, 'claude-good');
      assert.deepEqual([...new Set(server.requests.map((r) => r.body.model))], ['claude-nope', 'claude-good']);
    });
  });

  test('--dry-run prints the first request (protocol, tools, task) and sends and writes nothing', () => {
    const dir = join(root, 'dry');
    const r = runCli(['study', 'run', config, '--dir', dir, '--agent', 'llm', '--dry-run'], { env: base });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# dry run: nothing is sent\. provider anthropic, model \(the provider default\), mode auto\n# decision: propose; \d+ characters/);
    assert.match(r.stdout, /## system\n# Cell-GNN INR Training Landscape Study/);
    assert.match(r.stdout, /# Your role in this inrscape study/);
    assert.match(r.stdout, /## tools\n- propose_config: /);
    assert.match(r.stdout, /## Search space \(the only keys you may change\)\n/);
    assert.match(r.stdout, /\| hidden_dim_inr \| \[16, 64\] integer \| 32 \|/);
    assert.match(r.stdout, /Each trial must finish within 1 min/);
    assert.match(r.stdout, /## Your task: propose batch 0\nCall propose_config exactly 2 times, one per slot \(they become nodes 1, 2\)/);
    assert.ok(!existsSync(dir), 'no study folder');

    const mine = join(root, 'mine.md');
    writeFileSync(mine, 'Find the best SIREN for the velocity field. Be brief.\n');
    const custom = runCli(['study', 'run', config, '--agent', 'llm', '--provider', 'openai', '--base-url', 'http://127.0.0.1:9/v1', '--model', 'm', '--instructions', mine, '--dry-run'], { env: base });
    assert.equal(custom.status, 0, custom.stderr);
    assert.match(custom.stdout, /## system\nFind the best SIREN for the velocity field\. Be brief\.\n\n# Your role/);
    assert.ok(!custom.stdout.includes('Cell-GNN INR Training Landscape Study'));

    const done = runCli(['study', 'resume', join(root, 'anthropic'), '--dry-run'], { env: base });
    assert.equal(done.status, 0, done.stderr);
    assert.match(done.stdout, /the study is complete: no prompt to send/);
  });

  test('a missing key, a bad provider or LLM flags without the LLM agent stop before a folder is made', () => {
    const dir = join(root, 'refused');
    const cases: [string[], RegExp][] = [
      [['--agent', 'llm'], /ANTHROPIC_API_KEY/],
      [['--agent', 'llm', '--provider', 'openai'], /OPENAI_API_KEY/],
      [['--agent', 'llm', '--provider', 'gemini'], /^inrscape: --provider = "gemini": must be one of anthropic, openai, claude-cli/m],
      [['--agent', 'llm', '--provider', 'openai', '--base-url', 'localhost:11434'], /--base-url = "localhost:11434": must be an http:\/\/ or https:\/\/ URL/],
      [['--agent', 'llm', '--instructions', join(root, 'nope.md')], /--instructions = ".*nope\.md": cannot read it \(ENOENT\)/],
      [['--provider', 'openai'], /--provider = "openai": only for the LLM and hybrid agents; add --agent llm/],
      [['--agent', 'llm', '--provider', 'claude-cli'], /the command 'claude' was not found on PATH/],
      [['--agent', 'llm', '--provider', 'claude-cli', '--base-url', 'http://127.0.0.1:9'], /--base-url = "http:\/\/127\.0\.0\.1:9": not used by provider claude-cli/],
    ];
    for (const [flags, message] of cases) {
      const r = runCli(['study', 'run', config, '--dir', dir, ...flags], { env: { ...base, PATH: '/usr/bin:/bin' } });
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, flags.join(' '));
      assert.ok(!existsSync(dir), `${flags.join(' ')}: no folder`);
    }
  });
});
