/**
 * JSON with every number kept: NaN and the infinities (which JSON.stringify
 * would turn into null) are written as the strings "NaN", "Infinity" and
 * "-Infinity", which `Number()` reads back. Finite numbers round-trip exactly.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), indent);
}

/** A number written by toJson (a number, or "NaN" / "Infinity" / "-Infinity"). */
export function jsonNumber(v: unknown, what = 'value'): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new Error(`${what} is not a number: ${JSON.stringify(v)}`);
}
