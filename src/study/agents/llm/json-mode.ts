/**
 * JSON mode: for models and servers without native tool calls (a local model
 * behind an OpenAI-compatible server, the `claude` command line). The tools
 * become a contract in the system text, the model answers with one JSON
 * object, and the answer is read back into the same tool calls native tools
 * give:
 *
 *   {"reasoning": "free text", "actions": [{"tool": "propose_config", "input": {...}}, ...]}
 *
 * Tool results go back as a user message listing each action's outcome.
 */
import type { ModelReply, ToolCall, ToolSpec, Turn } from './provider.js';

export interface TextMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** The system text plus the contract: the tools' schemas and the answer's shape. */
export function jsonModeSystem(system: string, tools: readonly ToolSpec[]): string {
  const contract = tools.map((t) => `- ${t.name}: ${t.description}\n  input schema: ${JSON.stringify(t.input_schema)}`).join('\n');
  return [
    system,
    '',
    '# How to answer',
    'You act only through the actions below. Answer with exactly one JSON object and nothing else (no markdown fence):',
    '{"reasoning": "<your analysis, free text>", "actions": [{"tool": "<action name>", "input": {<arguments>}}, ...]}',
    'Actions:',
    contract,
  ].join('\n');
}

/** The answer of an assistant turn as the model would have written it. */
function envelope(text: string, calls: readonly ToolCall[]): string {
  return JSON.stringify({ reasoning: text, actions: calls.map((c) => ({ tool: c.name, input: c.input ?? null })) });
}

function resultsText(turn: Extract<Turn, { role: 'tool_results' }>, calls: readonly ToolCall[]): string {
  const lines = turn.results.map((r, i) => {
    const name = calls.find((c) => c.id === r.id)?.name ?? 'action';
    return `${i + 1}. ${name}: ${r.is_error ? 'ERROR: ' : ''}${r.content}`;
  });
  return ['Results of your actions:', ...lines, ...(turn.text ? ['', turn.text] : [])].join('\n');
}

/** The conversation as alternating text messages (consecutive user texts merged). */
export function jsonModeMessages(turns: readonly Turn[]): TextMessage[] {
  const out: TextMessage[] = [];
  let lastCalls: readonly ToolCall[] = [];
  const push = (role: TextMessage['role'], content: string): void => {
    const prev = out[out.length - 1];
    if (prev && prev.role === role) prev.content += `\n\n${content}`;
    else out.push({ role, content });
  };
  for (const t of turns) {
    if (t.role === 'user') push('user', t.text);
    else if (t.role === 'assistant') {
      push('assistant', t.raw ?? envelope(t.text, t.calls));
      lastCalls = t.calls;
    } else push('user', resultsText(t, lastCalls));
  }
  return out;
}

/** The balanced `{...}` starting at `start` (or the rest of the text when it never closes). */
function objectAt(text: string, start: number): string {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

/** How many `{` positions are tried: each costs a scan of the rest of the answer. */
const MAX_CANDIDATES = 16;

/** Fenced blocks first, then the object at each `{` in turn (computed only when reached). */
function* candidates(text: string): Generator<string> {
  for (const m of text.matchAll(/```(?:json)?\s*\n([\s\S]*?)```/g)) yield m[1];
  let tried = 0;
  for (let i = text.indexOf('{'); i >= 0 && tried < MAX_CANDIDATES; i = text.indexOf('{', i + 1), tried++) yield objectAt(text, i);
}

/**
 * The JSON object in an answer: models wrap it in prose or a fence, and the
 * prose may hold braces of its own. The first candidate with an `actions`
 * field wins; else the first that parses; else the first candidate's parse
 * error (the outermost object is the one the model meant). Undefined when
 * there is no `{` at all.
 */
function findObject(text: string): { value: unknown } | { error: string } | undefined {
  let first: { value: unknown } | { error: string } | undefined;
  let parsed: { value: unknown } | undefined;
  for (const c of candidates(text)) {
    try {
      const value: unknown = JSON.parse(c);
      if (value !== null && typeof value === 'object' && 'actions' in value) return { value };
      parsed ??= { value };
      first ??= { value };
    } catch (err) {
      first ??= { error: (err as Error).message };
    }
  }
  if (first && 'error' in first) return first;
  return parsed;
}

/** Read a JSON-mode answer into free text and tool calls; `malformed` says what was wrong with it. */
export function parseJsonReply(raw: string): { text: string; calls: ToolCall[]; malformed?: string } {
  const found = findObject(raw);
  if (found === undefined) return { text: raw, calls: [], malformed: 'the answer contains no JSON object' };
  if ('error' in found) return { text: raw, calls: [], malformed: `the answer is not valid JSON (${found.error})` };
  const parsed = found.value;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { text: raw, calls: [], malformed: 'the answer must be a JSON object with "reasoning" and "actions"' };
  }
  const obj = parsed as Record<string, unknown>;
  const text = typeof obj.reasoning === 'string' ? obj.reasoning : '';
  if (!Array.isArray(obj.actions)) {
    return { text: text || raw, calls: [], malformed: '"actions" must be a list of {"tool": name, "input": {...}}' };
  }
  const calls: ToolCall[] = obj.actions.map((a, i) => {
    const id = `call_${i + 1}`;
    if (a === null || typeof a !== 'object' || Array.isArray(a) || typeof (a as Record<string, unknown>).tool !== 'string') {
      return { id, name: 'unknown', input: undefined, malformed: `action ${i + 1} must be {"tool": name, "input": {...}}, got ${JSON.stringify(a)}` };
    }
    const act = a as Record<string, unknown>;
    return { id, name: act.tool as string, input: act.input };
  });
  return { text, calls };
}

/** A JSON-mode reply's text, calls and verdict, with the answer kept as written. */
export function jsonReply(answer: string): Pick<ModelReply, 'text' | 'calls' | 'malformed' | 'raw'> {
  const parsed = parseJsonReply(answer);
  return { text: parsed.text, calls: parsed.calls, raw: answer, ...(parsed.malformed !== undefined ? { malformed: parsed.malformed } : {}) };
}
