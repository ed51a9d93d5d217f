/**
 * An error the user can cause and fix: bad YAML, a value out of range, a missing
 * or malformed file. The CLI prints its message alone (no stack) and exits 2.
 */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Render a value for an error message the way the user wrote it. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return '(missing)';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}
