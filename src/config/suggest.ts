import { invalid } from './messages.js';

/** Levenshtein distance: the typo measure behind "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The closest candidate, if it is close enough to be what the user meant. A
 * word inside a key counts as close (`omega` for `omega_inr`): reference users
 * often drop the `_inr` affixes. Ties go to the earlier candidate.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = editDistance(w, lc);
    const contains = w.length >= 3 && (lc.includes(w) || w.includes(lc));
    const close = d <= 2 || contains || d <= Math.floor(Math.max(w.length, lc.length) / 3);
    if (close && d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best;
}

/** The rule text for a key that is not in `section`. */
export function unknownKeyRule(section: string, key: string, allowed: readonly string[]): string {
  const guess = closest(key, allowed);
  if (guess !== undefined) return `unknown key in ${section}; did you mean ${guess}?`;
  return `unknown key in ${section}; allowed keys: ${allowed.join(', ')}`;
}

/** The rule text for a value that must be one of a few names. */
export function oneOfRule(value: unknown, allowed: readonly string[]): string {
  const guess = typeof value === 'string' ? closest(value, allowed) : undefined;
  const hint = guess !== undefined ? `; did you mean ${guess}?` : '';
  return `must be one of ${allowed.join(', ')}${hint}`;
}

/** `v` when it is one of `allowed`; else the config error naming `path`, the value and the allowed names. */
export function readChoice<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(path, v, oneOfRule(v, allowed));
  return v as T;
}
