/**
 * The LLM's three actions, as tool contracts (JSON schemas the providers send)
 * and as readers that check a call's arguments. A reader gives the action as
 * data or the exact errors to show the model; the meaning (is the config in
 * the space, does the parent exist) is checked by the agent with the same
 * safety rules every agent's proposals pass (safety.ts).
 */
import { EXPLORABLE_KEYS } from '../../../config/search-space.js';
import { CLASSES, type TrialClass } from '../../classify.js';
import type { Strategy } from '../../journal.js';
import type { JsonSchema, ToolSpec } from './provider.js';

/** Longest free text per field, so a chatty model cannot grow the memory (and every later prompt) without bound. */
export const TEXT_LIMIT = 2000;
/** Regime-table cells and list items are one-liners: shorter still (the table gains a row per block). */
export const LINE_LIMIT = 300;
export const LIST_LIMIT = 12;

export const LLM_STRATEGIES = ['exploit', 'failure-probe', 'switch-param', 'start', 'tpe'] as const satisfies readonly Strategy[];

const text = (description: string, maxLength = TEXT_LIMIT): JsonSchema => ({ type: 'string', maxLength, description });
const list = (description: string): JsonSchema => ({ type: 'array', items: { type: 'string', maxLength: LINE_LIMIT }, maxItems: LIST_LIMIT, description });

export const RECORD_ITERATION: ToolSpec = {
  name: 'record_iteration',
  description: 'Write the experiment-log entry of one finished trial (one call per node of the batch just finished).',
  input_schema: {
    type: 'object',
    properties: {
      node: { type: 'integer', description: 'the node id (= iteration number) of the trial' },
      classification: { type: 'string', enum: [...CLASSES], description: "the trial's class by the protocol's thresholds (failed: the trial did not finish)" },
      observation: text('brief analysis of the result: what the change did and why'),
      next_parent: { type: ['integer', 'null'], description: 'the node you mean to build on next (Next: parent=P), or null for a new root' },
    },
    required: ['node', 'classification', 'observation', 'next_parent'],
    additionalProperties: false,
  },
};

export const UPDATE_MEMORY: ToolSpec = {
  name: 'update_memory',
  description:
    'Update the working memory. After a batch: hypothesis and observations of the current block. At BLOCK END: block_summary, key_finding (the regime table row), principles and open_questions (full lists, replacing the old ones) and next_hypothesis.',
  input_schema: {
    type: 'object',
    properties: {
      hypothesis: text('the current block hypothesis'),
      observations: text('emerging observations of the current block'),
      block_summary: text('BLOCK END only: summary of the block'),
      key_finding: text('BLOCK END only: the "Key finding" cell of the block\'s regime table row', LINE_LIMIT),
      principles: list('BLOCK END only: the established principles (the full list)'),
      open_questions: list('BLOCK END only: the open questions (the full list)'),
      next_hypothesis: text('BLOCK END only: the hypothesis the next block starts from'),
    },
    additionalProperties: false,
  },
};

export const PROPOSE_CONFIG: ToolSpec = {
  name: 'propose_config',
  description: 'Propose the config of one slot of the next batch: a parent node and the inr: parameters to change (1-2 at a time).',
  input_schema: {
    type: 'object',
    properties: {
      parent: { type: ['integer', 'null'], description: 'the node to build on (a done node), or null for a root config (from the base config)' },
      changes: {
        type: 'object',
        description: `the inr: parameters to change and their new values (numbers); allowed keys: ${EXPLORABLE_KEYS.join(', ')}`,
        additionalProperties: { type: 'number' },
      },
      mutation: text('what changed, e.g. "inr_learning_rate 1e-4 -> 2e-4 (x2)"'),
      strategy: { type: 'string', enum: [...LLM_STRATEGIES], description: 'exploit | failure-probe | switch-param | start (batch 0 only) | tpe (a TPE candidate, picked or edited: hybrid agent)' },
    },
    required: ['parent', 'changes', 'mutation', 'strategy'],
    additionalProperties: false,
  },
};

export interface IterationRecord {
  node: number;
  classification: TrialClass;
  observation: string;
  next_parent: number | null;
}

export interface MemoryAction {
  hypothesis?: string;
  observations?: string;
  block_summary?: string;
  key_finding?: string;
  principles?: string[];
  open_questions?: string[];
  next_hypothesis?: string;
}

export interface ConfigProposal {
  parent: number | null;
  changes: Record<string, unknown>;
  mutation: string;
  strategy: (typeof LLM_STRATEGIES)[number];
}

export type Read<T> = { ok: true; value: T } | { ok: false; errors: string[] };

type Fields = Record<string, unknown>;

function fields(input: unknown, errors: string[]): Fields {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    errors.push(`the arguments must be a JSON object, got ${JSON.stringify(input) ?? 'nothing'}`);
    return {};
  }
  return input as Fields;
}

function unknownFields(f: Fields, spec: ToolSpec, errors: string[]): void {
  const known = Object.keys(spec.input_schema.properties ?? {});
  for (const k of Object.keys(f)) if (!known.includes(k)) errors.push(`unknown argument "${k}" (allowed: ${known.join(', ')})`);
}

function readText(f: Fields, key: string, errors: string[], required: boolean, limit = TEXT_LIMIT): string | undefined {
  const v = f[key];
  if (v === undefined || v === null) {
    if (required) errors.push(`"${key}" is required (a string)`);
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.push(`"${key}" must be a string, got ${JSON.stringify(v)}`);
    return undefined;
  }
  if (v.length > limit) errors.push(`"${key}" is ${v.length} characters; at most ${limit}`);
  return v;
}

function readList(f: Fields, key: string, errors: string[]): string[] | undefined {
  const v = f[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    errors.push(`"${key}" must be a list of strings`);
    return undefined;
  }
  if (v.length > LIST_LIMIT) errors.push(`"${key}" has ${v.length} items; at most ${LIST_LIMIT}`);
  for (const [i, s] of (v as string[]).entries()) if (s.length > LINE_LIMIT) errors.push(`"${key}"[${i}] is ${s.length} characters; at most ${LINE_LIMIT}`);
  return v as string[];
}

/** An integer node id or null; undefined (with an error) otherwise. */
function readNodeRef(f: Fields, key: string, errors: string[]): number | null | undefined {
  const v = f[key];
  if (v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  errors.push(`"${key}" must be a node id (an integer) or null, got ${JSON.stringify(v) ?? 'nothing'}`);
  return undefined;
}

export function readIteration(input: unknown): Read<IterationRecord> {
  const errors: string[] = [];
  const f = fields(input, errors);
  unknownFields(f, RECORD_ITERATION, errors);
  const node = f.node;
  if (typeof node !== 'number' || !Number.isInteger(node)) errors.push(`"node" must be an integer node id, got ${JSON.stringify(node) ?? 'nothing'}`);
  const cls = f.classification;
  if (typeof cls !== 'string' || !(CLASSES as readonly string[]).includes(cls)) errors.push(`"classification" must be one of ${CLASSES.join(', ')}, got ${JSON.stringify(cls) ?? 'nothing'}`);
  const observation = readText(f, 'observation', errors, true);
  const next = readNodeRef(f, 'next_parent', errors);
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { node: node as number, classification: cls as TrialClass, observation: observation as string, next_parent: next as number | null } };
}

export const BLOCK_FIELDS = ['block_summary', 'key_finding', 'principles', 'open_questions', 'next_hypothesis'] as const;

export function readMemory(input: unknown): Read<MemoryAction> {
  const errors: string[] = [];
  const f = fields(input, errors);
  unknownFields(f, UPDATE_MEMORY, errors);
  const out: MemoryAction = {};
  for (const key of ['hypothesis', 'observations', 'block_summary', 'key_finding', 'next_hypothesis'] as const) {
    const v = readText(f, key, errors, false, key === 'key_finding' ? LINE_LIMIT : TEXT_LIMIT);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['principles', 'open_questions'] as const) {
    const v = readList(f, key, errors);
    if (v !== undefined) out[key] = v;
  }
  if (errors.length) return { ok: false, errors };
  if (Object.keys(out).length === 0) return { ok: false, errors: ['update_memory needs at least one section'] };
  return { ok: true, value: out };
}

export function readProposal(input: unknown): Read<ConfigProposal> {
  const errors: string[] = [];
  const f = fields(input, errors);
  unknownFields(f, PROPOSE_CONFIG, errors);
  const parent = readNodeRef(f, 'parent', errors);
  const changes = f.changes;
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) {
    errors.push(`"changes" must be an object of inr: keys and values, got ${JSON.stringify(changes) ?? 'nothing'}`);
  }
  const mutation = readText(f, 'mutation', errors, true);
  const strategy = f.strategy;
  if (typeof strategy !== 'string' || !(LLM_STRATEGIES as readonly string[]).includes(strategy)) {
    errors.push(`"strategy" must be one of ${LLM_STRATEGIES.join(', ')}, got ${JSON.stringify(strategy) ?? 'nothing'}`);
  }
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: { parent: parent as number | null, changes: changes as Record<string, unknown>, mutation: mutation as string, strategy: strategy as ConfigProposal['strategy'] },
  };
}
