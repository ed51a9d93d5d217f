import { invalid } from './messages.js';

/**
 * `study.command`: the user's own trainer, one command line per trial, each
 * list item one argument. Placeholders in braces are replaced by the
 * trial's values, inside their own argument and never read by a shell, so a
 * value holding `; rm -rf ~` arrives as those characters:
 *
 *   study:
 *     command: [python3, /home/me/train_inr.py, --config, "{config}", --out, "{run_dir}",
 *               --seed, "{seed}", --minutes, "{max_minutes}", --device, "{gpu}"]
 *
 * A single string is split at spaces (no quoting: use the list for an
 * argument with spaces). `{{` and `}}` stand for literal braces.
 */
export const PLACEHOLDERS = {
  config: 'the trial\'s whole config file (YAML, the reference\'s layout)',
  run_dir: 'the folder the trainer writes its results.log into (it exists, empty)',
  seed: 'the trial\'s seed',
  max_minutes: 'the trial\'s time budget in minutes',
  gpu: 'cuda when the trial has a GPU (locally: CUDA_VISIBLE_DEVICES names it), else cpu',
  dataset: 'the data set folder (pos.npy, vel.npy, dataset.json)',
  threads: 'the CPU threads the trial may use',
} as const;

export type Placeholder = keyof typeof PLACEHOLDERS;

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

/** `word` with each placeholder replaced; throws naming the first unknown one. */
export function substitute(word: string, values: Record<Placeholder, string>): string {
  return word.replace(TOKEN, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (name !== undefined && Object.hasOwn(PLACEHOLDERS, name)) return values[name as Placeholder];
    throw new Error(m);
  });
}

export function parseCommand(v: unknown, path: string): string[] {
  const rule = `must be the trainer's command line: a list of arguments (or one string split at spaces) with placeholders among ${Object.keys(PLACEHOLDERS).map((p) => `{${p}}`).join(', ')}`;
  const words = typeof v === 'string' ? v.split(' ').filter((w) => w !== '') : v;
  if (!Array.isArray(words) || words.length === 0) throw invalid(path, v, rule);
  const probe = Object.fromEntries(Object.keys(PLACEHOLDERS).map((k) => [k, ''])) as Record<Placeholder, string>;
  return words.map((w, i) => {
    const at = `${path}[${i}]`;
    if (typeof w !== 'string' && typeof w !== 'number') throw invalid(at, w, rule);
    const word = String(w);
    if (/[\0\n\r]/.test(word)) throw invalid(at, word, 'must be one argument: no newline or NUL');
    try {
      substitute(word, probe);
    } catch (err) {
      const bad = (err as Error).message;
      throw invalid(at, word, `has ${bad}, which is not a placeholder: use one of ${Object.keys(PLACEHOLDERS).map((p) => `{${p}}`).join(', ')}, or {{ and }} for literal braces`);
    }
    if (i === 0 && word.includes('{')) throw invalid(at, word, 'is the program to run and cannot be a placeholder');
    return word;
  });
}
