/**
 * Python's float formatting, digit for digit: `format(x, '.6f')` and
 * `format(x, '.6e')`. The reference writes results.log (and its UCB file) with
 * f-strings, so a file we write must carry the same digits. JavaScript's
 * toFixed/toExponential differ in three places: exact ties (Python rounds half
 * to even on the exact binary value, JavaScript rounds half away from zero),
 * the exponent (`e-03`, not `e-3`) and non-finite values (`nan`, `inf`).
 * Both functions work on the exact decimal expansion of the double, so no
 * intermediate rounding can creep in.
 */

/** `format(x, f'.{digits}f')` in Python. */
export function pyFixed(x: number, digits: number): string {
  checkDigits(digits);
  const sp = special(x);
  if (sp !== undefined) return sp;
  const { n, scale } = exactDecimal(x);
  const q = scale > digits ? roundHalfEven(n, scale - digits) : n * 10n ** BigInt(digits - scale);
  const s = q.toString().padStart(digits + 1, '0');
  const int = s.slice(0, s.length - digits);
  const frac = s.slice(s.length - digits);
  return sign(x) + int + (digits > 0 ? `.${frac}` : '');
}

/** `format(x, f'.{digits}e')` in Python: at least two exponent digits, always signed. */
export function pyExp(x: number, digits: number): string {
  checkDigits(digits);
  const sp = special(x);
  if (sp !== undefined) return sp;
  const { n, scale } = exactDecimal(x);
  if (n === 0n) return `${sign(x)}0${digits > 0 ? '.' + '0'.repeat(digits) : ''}e+00`;
  const len = n.toString().length;
  let exp = len - 1 - scale;
  const shift = len - (digits + 1);
  let q = shift > 0 ? roundHalfEven(n, shift) : n * 10n ** BigInt(-shift);
  if (q.toString().length > digits + 1) {
    // 9.9999995 -> 10.000000: the carry is a power of ten, so this division is exact.
    q /= 10n;
    exp += 1;
  }
  const s = q.toString();
  const mant = s[0] + (digits > 0 ? `.${s.slice(1)}` : '');
  return `${sign(x)}${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Python's `str(True)` / `str(False)`. */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False';
}

function checkDigits(digits: number): void {
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) throw new RangeError(`digits must be an integer in [0, 100], got ${digits}`);
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return undefined;
}

function sign(x: number): string {
  return x < 0 || Object.is(x, -0) ? '-' : '';
}

/** |x| = n / 10^scale exactly (a double is m * 2^e, and 2^-k = 5^k / 10^k). */
function exactDecimal(x: number): { n: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (biased === 0) {
    e = -1074; // subnormal
  } else {
    mant |= 1n << 52n;
    e = biased - 1075;
  }
  if (e >= 0) return { n: mant << BigInt(e), scale: 0 };
  return { n: mant * 5n ** BigInt(-e), scale: -e };
}

/** n / 10^pow rounded half to even. */
function roundHalfEven(n: bigint, pow: number): bigint {
  const d = 10n ** BigInt(pow);
  const q = n / d;
  const twice = 2n * (n % d);
  if (twice > d || (twice === d && (q & 1n) === 1n)) return q + 1n;
  return q;
}
