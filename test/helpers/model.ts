/**
 * A stand-in for a model that does its job: it reads the task from inrscape's
 * prompt (the text a real model would read) and answers with valid tool calls.
 * The end-to-end study tests put it behind the local wire-protocol server and
 * the stand-in `claude`; the scenario tests script the bad answers by hand.
 */
import type { RecordedRequest } from './llm-server.js';

export interface ModelAction {
  name: string;
  input: unknown;
}

export interface ModelAnswer {
  text: string;
  calls: ModelAction[];
}

/** The first user message of an Anthropic or OpenAI request: where inrscape puts the task. */
export function taskOf(req: RecordedRequest): string {
  const messages = (req.body.messages ?? []) as { role: string; content: unknown }[];
  const first = messages.find((m) => m.role === 'user');
  if (first === undefined) return '';
  if (typeof first.content === 'string') return first.content;
  return (first.content as { type: string; text?: string }[]).map((b) => b.text ?? '').join('\n');
}

function range(prompt: string, key: string): [number, number] {
  const m = new RegExp(`\\| ${key} \\| \\[([^,]+), ([^\\]]+)\\]`).exec(prompt);
  if (!m) throw new Error(`the prompt has no search-space row for ${key}`);
  return [Number(m[1]), Number(m[2])];
}

function ids(text: string): number[] {
  return text.split(',').map((s) => Number(s.trim()));
}

export function competentAnswer(prompt: string): ModelAnswer {
  const propose = /## Your task: propose batch (\d+)\nCall propose_config exactly \d+ times?, one per slot \(they become nodes ([\d, ]+)\)/.exec(prompt);
  if (propose) {
    const top = /The highest-UCB node is (\d+)/.exec(prompt);
    const parent = top ? Number(top[1]) : null;
    const [lo, hi] = range(prompt, 'inr_learning_rate');
    // A different learning rate per node (golden-ratio steps through the log range): never a duplicate.
    const calls = ids(propose[2]).map((node) => {
      const lr = Number((lo * (hi / lo) ** ((node * 0.6180339887) % 1)).toPrecision(4));
      return {
        name: 'propose_config',
        input: { parent, changes: { inr_learning_rate: lr }, mutation: `inr_learning_rate -> ${lr}`, strategy: parent === null ? 'start' : 'exploit' },
      };
    });
    return { text: `Batch ${propose[1]}: varying the learning rate around node ${parent ?? 'root'}.`, calls };
  }
  const analyse = /## Your task: analyse batch (\d+)\nCall record_iteration once for each of nodes ([\d, ]+)/.exec(prompt);
  if (analyse) {
    const classes = new Map<number, string>();
    for (const m of prompt.matchAll(/## Iter (\d+): (\w+)/g)) classes.set(Number(m[1]), m[2]);
    const nodes = ids(analyse[2]);
    return {
      text: `Batch ${analyse[1]} analysed.`,
      calls: [
        ...nodes.map((node) => ({ name: 'record_iteration', input: { node, classification: classes.get(node), observation: `model note on node ${node}`, next_parent: node } })),
        { name: 'update_memory', input: { hypothesis: 'the learning rate decides the fit', observations: `model observations after batch ${analyse[1]}` } },
      ],
    };
  }
  const close = /## Your task: close block (\d+)/.exec(prompt);
  if (close) {
    return {
      text: `Closing block ${close[1]}.`,
      calls: [{
        name: 'update_memory',
        input: {
          block_summary: `model summary of block ${close[1]}`, key_finding: `model finding ${close[1]}`,
          principles: [`model principle ${close[1]}`], open_questions: ['does omega matter?'], next_hypothesis: 'try omega next',
        },
      }],
    };
  }
  return { text: 'I do not know what to do.', calls: [] };
}

/** The answer as JSON mode wants it (the `claude` command line). */
export function competentJson(prompt: string): string {
  const a = competentAnswer(prompt);
  return JSON.stringify({ reasoning: a.text, actions: a.calls.map((c) => ({ tool: c.name, input: c.input })) });
}
