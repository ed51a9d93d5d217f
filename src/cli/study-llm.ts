/**
 * The LLM agent's command-line side: `--provider`, `--model`, `--base-url`,
 * `--instructions` over the config's `study.llm:` (and the same changes on
 * resume), and `--dry-run`, which prints the next request and sends nothing.
 * The provider is checked (key, command, model) before a study folder is made.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkLlm, defaultLlm, parseLlm } from '../config/llm.js';
import type { Config } from '../config/schema.js';
import type { AgentName } from '../config/study.js';
import { nextPrompt, resolveLlmSettings } from '../study/agents/llm/index.js';
import type { StudyLlmSettings } from '../study/journal.js';
import type { StudyState } from '../study/state.js';
import { UserError, show } from '../util/errors.js';

export interface LlmFlags {
  provider?: string;
  model?: string;
  baseUrl?: string;
  instructions?: string;
}

function readInstructions(path: string, what: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.trim() === '') throw new UserError(`${what} = ${show(path)}: the file is empty`);
    return text;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${what} = ${show(path)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A path in the config: relative to the config file's folder. */
function fromConfig(path: string, configPath: string | undefined): string {
  return configPath !== undefined ? resolve(dirname(configPath), path) : resolve(path);
}

/** The LLM flags that were given, as `[flag, value]`, for messages that name the first. */
function givenFlags(flags: LlmFlags): [string, string][] {
  return Object.entries({ '--provider': flags.provider, '--model': flags.model, '--base-url': flags.baseUrl, '--instructions': flags.instructions })
    .filter((e): e is [string, string] => e[1] !== undefined);
}

/**
 * `base` with `--provider`, `--model`, `--base-url` applied (checked as flags).
 * `switchResets`: a provider switch drops the old model and endpoint, which
 * belong to the old provider.
 */
function withFlags(base: StudyLlmSettings, flags: LlmFlags, switchResets: boolean): StudyLlmSettings {
  const fromFlags = parseLlm({ provider: flags.provider, model: flags.model, base_url: flags.baseUrl, instructions: flags.instructions }, '--');
  const s: StudyLlmSettings = { ...base };
  if (flags.provider !== undefined && fromFlags.provider !== base.provider) {
    s.provider = fromFlags.provider;
    if (switchResets) {
      delete s.model;
      delete s.base_url;
    }
  }
  if (flags.model !== undefined) s.model = fromFlags.model;
  if (flags.baseUrl !== undefined) s.base_url = fromFlags.base_url;
  return s;
}

/**
 * The LLM settings a new study records: flags over `study.llm:` over the
 * defaults, the instructions file read now (a relative path in the config is
 * read from the config's folder). Undefined when the agent is not `llm`; LLM
 * flags with another agent are an error, not silently ignored.
 */
export function llmSettings(agent: AgentName, config: Config, flags: LlmFlags, configPath?: string): StudyLlmSettings | undefined {
  const [first] = givenFlags(flags);
  // The hybrid agent asks an LLM when the config or the flags name one, and the rules agent otherwise.
  if (agent === 'hybrid' && config.study.llm === undefined && first === undefined) return undefined;
  if (agent !== 'llm' && agent !== 'hybrid') {
    if (first) throw new UserError(`${first[0]} = ${show(first[1])}: only for the LLM and hybrid agents; add --agent llm (the study's agent is ${agent})`);
    return undefined;
  }
  const s = withFlags(config.study.llm ?? defaultLlm(), flags, false);
  if (flags.instructions !== undefined) {
    s.instructions = resolve(flags.instructions);
    s.instructions_text = readInstructions(s.instructions, '--instructions');
  } else if (s.instructions !== undefined) {
    s.instructions_text = readInstructions(fromConfig(s.instructions, configPath), 'study.llm.instructions');
  }
  // A command path is read from the config's folder too, and recorded absolute (the command runs in a folder of its own).
  if (s.command !== undefined && s.command.includes('/')) s.command = fromConfig(s.command, configPath);
  checkLlm(s, (key) => (key === 'base_url' && flags.baseUrl !== undefined ? '--base-url' : `study.llm.${key}`));
  return s;
}

/**
 * `study resume --provider/--model/--base-url`: the study's LLM settings with
 * these changed (a new provider starts from its own default model), checked
 * as at creation. Undefined when no such flag is given.
 */
export function changedLlm(current: StudyLlmSettings | undefined, flags: Omit<LlmFlags, 'instructions'>): StudyLlmSettings | undefined {
  const [first] = givenFlags(flags);
  if (first === undefined) return undefined;
  if (current === undefined) throw new UserError(`${first[0]} = ${show(first[1])}: only for a study steered by the LLM agent`);
  const s = withFlags(current, flags, true);
  checkLlm(s, (key) => `--${key.replace(/_/g, '-')}`);
  return resolveLlmSettings(s);
}

/** The next request as text: what `--dry-run` prints. */
export function dryRunText(state: StudyState, s: StudyLlmSettings, priorFlopsPerSecond?: number): string {
  const p = nextPrompt(state, s, priorFlopsPerSecond !== undefined ? { priorFlopsPerSecond } : {});
  const head = `# dry run: nothing is sent. provider ${s.provider}, model ${s.model ?? '(the provider default)'}, mode ${s.provider === 'claude-cli' ? 'json' : s.mode}`;
  if (typeof p === 'string') return `${head}\n${p}\n`;
  const tools = p.tools.map((t) => `- ${t.name}: ${t.description}\n  ${JSON.stringify(t.input_schema)}`).join('\n');
  const chars = p.system.length + p.message.length;
  return [
    head,
    `# decision: ${p.purpose}; ${chars} characters (about ${Math.round(chars / 4)} tokens)`,
    '',
    '## system', p.system.trim(), '',
    '## tools', tools, '',
    '## message', p.message, '',
  ].join('\n');
}
