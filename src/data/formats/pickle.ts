/**
 * A minimal, inert pickle reader: enough of the pickle VM (protocols 2 to 5)
 * to read the plain Python values (dict, list, tuple, str, bytes, int, float,
 * bool, None) that numpy stores in an object array, e.g. the `params` dict of
 * an `np.savez` file. Nothing is ever imported or executed: every GLOBAL is an
 * opaque {@link PyGlobal}, every call of one an opaque {@link PyObject}, with a
 * few well-known exceptions decoded by value (numpy scalars, `_codecs.encode`,
 * `collections.OrderedDict`, `builtins.set`/`frozenset`).
 */

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | Map<PyValue, PyValue>
  | PyGlobal
  | PyObject;

/** A tuple: a frozen array, told apart from a list. */
export class PyTuple extends Array<PyValue> {}

/** A reference to a Python global (`module.name`), never resolved. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/** The result of calling a global we do not interpret; `state` is what BUILD gave it. */
export class PyObject {
  state: PyValue | undefined;
  constructor(readonly callee: PyGlobal, readonly args: PyValue[]) {}
}

export class PickleError extends Error {}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

function tuple(items: PyValue[]): PyTuple {
  const t = new PyTuple();
  for (const x of items) t.push(x);
  return t;
}

/** Run the pickle in `buf` and return the object it builds. */
export function unpickle(buf: Uint8Array): PyValue {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;
  const need = (n: number): void => {
    if (p + n > buf.length) throw new PickleError(`truncated at byte ${p}`);
  };
  const u8 = (): number => { need(1); return buf[p++]; };
  const u16 = (): number => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError('length too large');
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => { need(n); const b = buf.subarray(p, p + n); p += n; return b; };
  const utf8 = (n: number): string => new TextDecoder('utf-8').decode(bytes(n));
  const line = (): string => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) throw new PickleError(`unterminated line at byte ${p}`);
    const s = new TextDecoder('utf-8').decode(buf.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) throw new PickleError(`stack underflow at byte ${p}`);
    if (v === MARK) throw new PickleError(`unexpected mark at byte ${p}`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new PickleError(`stack underflow at byte ${p}`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const k = stack.lastIndexOf(MARK);
    if (k < 0) throw new PickleError(`no mark at byte ${p}`);
    const items = stack.splice(k) as PyValue[];
    items.shift();
    return items;
  };
  const memoPut = (i: number): void => { memo.set(i, top()); };
  const memoGet = (i: number): void => {
    if (!memo.has(i)) throw new PickleError(`memo key ${i} missing`);
    stack.push(memo.get(i)!);
  };
  const asDict = (v: PyValue): Map<PyValue, PyValue> => {
    if (!(v instanceof Map)) throw new PickleError(`SETITEM on a non-dict at byte ${p}`);
    return v;
  };
  const asList = (v: PyValue): PyValue[] => {
    if (!Array.isArray(v) || v instanceof PyTuple) throw new PickleError(`APPEND on a non-list at byte ${p}`);
    return v;
  };
  const signedLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: framing is transparent here
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: { need(4); stack.push(dv.getInt32(p, true)); p += 4; break; } // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(signedLong(bytes(u8()))); break; // LONG1
      case 0x8b: { need(4); const n = dv.getInt32(p, true); p += 4; if (n < 0) throw new PickleError('negative LONG4 length'); stack.push(signedLong(bytes(n))); break; }
      case 0x49: { // INT (text): also encodes True/False as 01/00
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      }
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break; // LONG (text)
      case 0x46: stack.push(Number(line())); break; // FLOAT (text)
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE
      case 0x8d: stack.push(utf8(u64())); break; // BINUNICODE8
      case 0x55: stack.push(latin1(bytes(u8()))); break; // SHORT_BINSTRING (py2 str)
      case 0x54: stack.push(latin1(bytes(u32()))); break; // BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x96: stack.push(bytes(u64()).slice()); break; // BYTEARRAY8
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x8f: stack.push([]); break; // EMPTY_SET: a list of its items
      case 0x90: { const items = popMark(); asList(top()).push(...items); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: { const a = pop(); stack.push(tuple([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { // DICT
        const items = popMark();
        const m = new Map<PyValue, PyValue>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(dictKey(items[i]), items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); asDict(top()).set(dictKey(k), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = asDict(top());
        for (let i = 0; i + 1 < items.length; i += 2) d.set(dictKey(items[i]), items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); asList(top()).push(...items); break; } // APPENDS
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x70: memoPut(Number(line())); break; // PUT (text)
      case 0x68: memoGet(u8()); break; // BINGET
      case 0x6a: memoGet(u32()); break; // LONG_BINGET
      case 0x67: memoGet(Number(line())); break; // GET (text)
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL needs two strings');
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callee = pop();
        if (!(callee instanceof PyGlobal)) throw new PickleError(`REDUCE on a non-global at byte ${p}`);
        if (!(args instanceof PyTuple)) throw new PickleError(`REDUCE without an argument tuple at byte ${p}`);
        stack.push(call(callee, [...args]));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal)) throw new PickleError(`NEWOBJ on a non-global at byte ${p}`);
        stack.push(call(cls, args instanceof PyTuple ? [...args] : []));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal)) throw new PickleError(`NEWOBJ_EX on a non-global at byte ${p}`);
        stack.push(call(cls, args instanceof PyTuple ? [...args] : []));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        else if (obj instanceof Map && state instanceof Map) for (const [k, v] of state) obj.set(k, v);
        // BUILD on anything else (e.g. a decoded numpy scalar's dtype) carries nothing we need.
        break;
      }
      default:
        throw new PickleError(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1}`);
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Dict keys compare by value for strings and numbers; other keys keep their identity. */
function dictKey(k: PyValue): PyValue {
  return typeof k === 'bigint' && k >= BigInt(Number.MIN_SAFE_INTEGER) && k <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k) : k;
}

/** The few callables decoded by value; everything else stays an opaque PyObject. */
function call(callee: PyGlobal, args: PyValue[]): PyValue {
  const q = callee.qualified;
  if (q === 'collections.OrderedDict' || q === 'builtins.dict' || q === '__builtin__.dict') {
    return new Map();
  }
  if ((q === 'builtins.set' || q === 'builtins.frozenset' || q === '__builtin__.set') && Array.isArray(args[0])) {
    return [...(args[0] as PyValue[])];
  }
  if (q === '_codecs.encode' && typeof args[0] === 'string') {
    // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1').
    const s = args[0];
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
    return out;
  }
  if (/^numpy(\._core|\.core)?\.multiarray\.scalar$/.test(q)) {
    const v = numpyScalar(args[0], args[1]);
    if (v !== undefined) return v;
  }
  return new PyObject(callee, args);
}

/** `numpy.core.multiarray.scalar(dtype('f8'), b'...')` -> the number it holds. */
function numpyScalar(dtype: PyValue | undefined, data: PyValue | undefined): PyValue | undefined {
  if (!(dtype instanceof PyObject) || !(data instanceof Uint8Array)) return undefined;
  const code = dtype.args[0];
  if (typeof code !== 'string') return undefined;
  // The byte order lives in the dtype's BUILD state (3, '<', ...); '|' for one-byte types.
  const st = dtype.state;
  const order = st instanceof PyTuple && typeof st[1] === 'string' ? st[1] : '<';
  const little = order !== '>';
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.byteLength;
  switch (code) {
    case 'f8': return n === 8 ? dv.getFloat64(0, little) : undefined;
    case 'f4': return n === 4 ? dv.getFloat32(0, little) : undefined;
    case 'i8': { if (n !== 8) return undefined; const v = dv.getBigInt64(0, little); return Number.isSafeInteger(Number(v)) ? Number(v) : v; }
    case 'u8': { if (n !== 8) return undefined; const v = dv.getBigUint64(0, little); return Number.isSafeInteger(Number(v)) ? Number(v) : v; }
    case 'i4': return n === 4 ? dv.getInt32(0, little) : undefined;
    case 'u4': return n === 4 ? dv.getUint32(0, little) : undefined;
    case 'i2': return n === 2 ? dv.getInt16(0, little) : undefined;
    case 'u2': return n === 2 ? dv.getUint16(0, little) : undefined;
    case 'i1': return n === 1 ? dv.getInt8(0) : undefined;
    case 'u1': return n === 1 ? dv.getUint8(0) : undefined;
    case 'b1': return n === 1 ? data[0] !== 0 : undefined;
    default: return undefined;
  }
}

/**
 * Turn an unpickled value into plain JSON-like data: Maps become objects with
 * string keys, tuples arrays, opaque objects a `{ $global: 'module.name' }` marker.
 */
export function toPlain(v: PyValue | undefined): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toPlain(x);
    return o;
  }
  if (Array.isArray(v)) return Array.from(v, (x) => toPlain(x));
  if (v instanceof PyGlobal) return { $global: v.qualified };
  if (v instanceof PyObject) return { $global: v.callee.qualified };
  return v;
}
