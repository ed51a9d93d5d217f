/**
 * The config's `study.llm:` section: which model steers a study with
 * `agent: llm`, and how it is called. API keys are never read from here
 * (only from ANTHROPIC_API_KEY / OPENAI_API_KEY in the environment), so a
 * config file or a journal can be shared without leaking one.
 */
import { invalid } from './messages.js';
import { readChoice, unknownKeyRule } from './suggest.js';
import { COUNT, SEED, readNumber, readSection, type NumberRule } from './values.js';

export const PROVIDERS = ['anthropic', 'openai', 'claude-cli'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const LLM_MODES = ['auto', 'tools', 'json'] as const;
export type LlmMode = (typeof LLM_MODES)[number];

export interface LlmSettings {
  provider: ProviderName;
  /** The model name; left out, the provider's default (docs/agents.md). */
  model?: string;
  /** An OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio), or another Anthropic endpoint. */
  base_url?: string;
  /** A file whose text replaces the built-in instructions (the study protocol). */
  instructions?: string;
  /**
   * `tools`: native tool calls; `json`: one JSON object per answer, the tools
   * described in the prompt (for servers without tool support); `auto`: tools,
   * switching to JSON when the server refuses tools. claude-cli is always JSON.
   */
  mode: LlmMode;
  /** Seconds one request may take. */
  timeout_s: number;
  /** Retries of a request after a rate limit, server or network error. */
  max_retries: number;
  /** The longest answer asked for, in tokens. */
  max_tokens: number;
  /** The `claude` executable for provider claude-cli. */
  command?: string;
}

export function defaultLlm(provider: ProviderName = 'anthropic'): LlmSettings {
  return { provider, mode: 'auto', timeout_s: 300, max_retries: 4, max_tokens: 8192 };
}

const NUMBERS: Record<'timeout_s' | 'max_retries' | 'max_tokens', NumberRule> = {
  // At most a day: longer does not fit a timer (and no model call should take that long).
  timeout_s: { integer: false, min: 0, exclusive: true, max: 86400 }, max_retries: SEED, max_tokens: COUNT,
};
const STRINGS = ['model', 'base_url', 'instructions', 'command'] as const;
const LLM_KEYS: readonly string[] = ['provider', 'mode', ...STRINGS, ...Object.keys(NUMBERS)];

function isNumberKey(key: string): key is keyof typeof NUMBERS {
  return Object.hasOwn(NUMBERS, key);
}

/** Settings that contradict each other (checked again after command-line flags are merged in). */
export function checkLlm(llm: LlmSettings, path: (key: string) => string): void {
  if (llm.provider === 'claude-cli' && llm.base_url !== undefined) {
    throw invalid(path('base_url'), llm.base_url, 'not used by provider claude-cli (the claude command line has its own endpoint); leave it out');
  }
  if (llm.provider !== 'claude-cli' && llm.command !== undefined) {
    throw invalid(path('command'), llm.command, `only for provider claude-cli, not ${llm.provider}`);
  }
}

/** Parse `study.llm:` (or the same fields from command-line flags, `where` = `--`). */
export function parseLlm(value: unknown, where = 'study.llm'): LlmSettings {
  const section = readSection(value, where);
  const llm = defaultLlm();
  const path = (k: string): string => (where.endsWith('-') ? `${where}${k.replace(/_/g, '-')}` : `${where}.${k}`);
  for (const [key, v] of Object.entries(section)) {
    if (v === undefined || v === null) continue;
    if (key === 'provider') {
      llm.provider = readChoice(v, path(key), PROVIDERS);
    } else if (key === 'mode') {
      llm.mode = readChoice(v, path(key), LLM_MODES);
    } else if ((STRINGS as readonly string[]).includes(key)) {
      if (typeof v !== 'string' || v.trim() === '') throw invalid(path(key), v, 'must be a non-empty string');
      llm[key as (typeof STRINGS)[number]] = v;
    } else if (isNumberKey(key)) {
      llm[key] = readNumber(v, path(key), NUMBERS[key]);
    } else {
      throw invalid(path(key), v, unknownKeyRule(where, key, LLM_KEYS));
    }
  }
  checkLlm(llm, path);
  if (llm.base_url !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(llm.base_url);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw invalid(path('base_url'), llm.base_url, 'must be an http:// or https:// URL');
    // The URL is recorded in the journal: credentials belong in the environment.
    if (url.username !== '' || url.password !== '') throw invalid(path('base_url'), url.host, 'must not hold credentials (user:password@); put the key in the environment (ANTHROPIC_API_KEY / OPENAI_API_KEY)');
  }
  return llm;
}
