import { UserError } from '../../util/errors.js';

/**
 * NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * the magic `\x93NUMPY`, a major/minor version byte pair, a little-endian header
 * length (2 bytes in 1.0, 4 bytes in 2.0 and 3.0), a Python dict literal
 * `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` (latin-1 in 1.0/2.0,
 * utf-8 in 3.0), then the raw array data.
 */

export const NPY_MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59); // \x93NUMPY
const ARRAY_ALIGN = 64;
/** numpy >= 1.23 leaves room in the header for the first axis to grow to this many digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;

export interface NpyHeader {
  /** numpy's dtype string, e.g. `<f4`, `<f8`, `>f4`, `|O`. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the array data from the start of the buffer. */
  dataOffset: number;
  version: [number, number];
}

/** A float32 array read from a .npy file, C order. */
export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** `(6, 5, 3)` the way numpy prints a shape. */
export function showShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Parse only the header of a .npy buffer; `name` is used in error messages. */
export function parseNpyHeader(buf: Uint8Array, name: string): NpyHeader {
  if (buf.length === 0) throw new UserError(`${name} is empty`);
  if (buf.length < 10 || !NPY_MAGIC.every((b, i) => buf[i] === b)) {
    throw new UserError(`${name} is not a .npy file (it does not start with the \\x93NUMPY magic)`);
  }
  const major = buf[6];
  const minor = buf[7];
  let headerLen: number;
  let headerStart: number;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new UserError(`${name} is truncated inside its .npy header`);
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new UserError(`${name} has .npy format version ${major}.${minor}: only 1.0, 2.0 and 3.0 are supported`);
  }
  const dataOffset = headerStart + headerLen;
  if (dataOffset > buf.length) throw new UserError(`${name} is truncated inside its .npy header`);
  const bytes = buf.subarray(headerStart, dataOffset);
  const text = major === 3 ? new TextDecoder('utf-8').decode(bytes) : latin1(bytes);
  let dict: unknown;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new UserError(`${name} has an unreadable .npy header (${(err as Error).message}): ${text.trim()}`);
  }
  if (!(dict instanceof Map)) throw new UserError(`${name} has an unreadable .npy header (not a dict): ${text.trim()}`);
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string') {
    throw new UserError(`${name} has an unsupported dtype ${typeof descr === 'undefined' ? '(missing)' : 'description'} in its .npy header: ${text.trim()}`);
  }
  if (typeof fortran !== 'boolean') throw new UserError(`${name} has an unreadable .npy header (fortran_order missing): ${text.trim()}`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(`${name} has an unreadable .npy header (shape is not a tuple of sizes): ${text.trim()}`);
  }
  return { descr, fortranOrder: fortran, shape: shape as number[], dataOffset, version: [major, minor] };
}

const FLOAT_DESCRS = new Set(['<f4', '>f4', '<f8', '>f8']);

/**
 * Read a float32 or float64 .npy buffer as float32, C order. A little-endian
 * float32 file becomes a view on `buf` when its data is 4-byte aligned (no
 * copy); otherwise, and for float64 or big-endian data, one converted copy.
 */
export function readNpy(buf: Uint8Array, name: string): NpyArray {
  const h = parseNpyHeader(buf, name);
  if (!FLOAT_DESCRS.has(h.descr)) {
    const f2 = h.descr === '=f4' || h.descr === '=f8' ? ' (native byte order is not portable)' : '';
    throw new UserError(`${name} has dtype ${h.descr}: must be float32 or float64${f2}`);
  }
  if (h.fortranOrder) throw new UserError(`${name} is stored in Fortran order: save it in C order (numpy.ascontiguousarray)`);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const itemSize = h.descr.endsWith('8') ? 8 : 4;
  const expected = count * itemSize;
  const found = buf.length - h.dataOffset;
  if (found < expected) {
    throw new UserError(`${name} is truncated: expected ${expected} bytes of data for shape ${showShape(h.shape)}, found ${found}`);
  }
  const start = buf.byteOffset + h.dataOffset;
  let data: Float32Array;
  if (h.descr === '<f4' && LITTLE_ENDIAN) {
    data = start % 4 === 0
      ? new Float32Array(buf.buffer, start, count)
      : new Float32Array(buf.buffer.slice(start, start + expected));
  } else {
    const dv = new DataView(buf.buffer, start, expected);
    const little = h.descr[0] === '<';
    data = new Float32Array(count);
    if (itemSize === 8) for (let i = 0; i < count; i++) data[i] = dv.getFloat64(i * 8, little);
    else for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, little);
  }
  return { shape: h.shape, data };
}

export const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * The header numpy.save writes (format 1.0) for a C-order little-endian
 * float32 array of `shape`: byte for byte what numpy 1.23+ writes, so the data
 * starts at a multiple of 64.
 */
export function npyHeader(shape: readonly number[], descr = '<f4'): Uint8Array {
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const hlen = dict.length + 1; // + newline
  const padlen = ARRAY_ALIGN - ((NPY_MAGIC.length + 2 + 2 + hlen) % ARRAY_ALIGN);
  const total = NPY_MAGIC.length + 2 + 2 + hlen + padlen;
  if (total - 10 > 0xffff) throw new Error(`shape ${shapeRepr} is too long for a version 1.0 .npy header`);
  const out = new Uint8Array(total);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, hlen + padlen, true);
  const header = dict + ' '.repeat(padlen) + '\n';
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

/** The little-endian bytes of a float32 array, without a copy on a little-endian machine. */
export function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/** A whole .npy file (format 1.0, `<f4`, C order) in one new buffer. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape ${showShape(shape)} holds ${count} values, data has ${data.length}`);
  const header = npyHeader(shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(float32Bytes(data), header.length);
  return out;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * A parser for the Python literals a .npy header holds: dicts, tuples, lists,
 * strings, integers, True/False/None. Dicts become Maps, tuples and lists arrays.
 */
export function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<unknown, unknown>();
      for (;;) {
        ws();
        if (text[i] === '}') { i++; return m; }
        const k = value();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        m.set(k, value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return m; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; return items; }
        items.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === close) { i++; return items; }
        fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') { i++; }
        s += text[i++];
      }
      if (i >= text.length) fail('unterminated string');
      i++;
      return s;
    }
    const m = /^(-?\d+)L?|^(True|False|None)/.exec(text.slice(i));
    if (!m) return fail('unexpected input');
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing input');
  return v;
}
