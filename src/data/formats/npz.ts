import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { inflateSync } from 'fflate';
import { UserError } from '../../util/errors.js';
import { parseNpyHeader, readNpy, type NpyArray } from './npy.js';
import { PickleError, PyObject, PyTuple, toPlain, unpickle, type PyValue } from './pickle.js';

/**
 * A NumPy .npz file: a zip archive of .npy members (`np.savez` stores them,
 * `np.savez_compressed` deflates them). Only the central directory is read up
 * front; a member's bytes are found (stored: a view, no copy) or inflated when
 * asked for.
 */
export interface NpzFile {
  /** The file name, for messages. */
  file: string;
  /** Array names, without the `.npy` suffix, in archive order. */
  names: string[];
  /** The raw .npy bytes of a member. */
  member(name: string): Uint8Array;
  /** A float32/float64 member as float32 (see readNpy). */
  float32(name: string): NpyArray;
  /** An object member holding a pickled dict (np.savez of a Python dict), as plain data. */
  dict(name: string): Record<string, unknown>;
}

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const ZIP_LOCAL = 0x04034b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;

export function readNpzFile(path: string): NpzFile {
  return openNpz(readFileSync(path), basename(path));
}

export function openNpz(buf: Uint8Array, file: string): NpzFile {
  if (buf.length === 0) throw new UserError(`${file} is empty`);
  const entries = readCentralDirectory(buf, file);
  const byName = new Map<string, Entry>();
  for (const e of entries) byName.set(e.name.endsWith('.npy') ? e.name.slice(0, -4) : e.name, e);
  const names = [...byName.keys()];
  const member = (name: string): Uint8Array => {
    const e = byName.get(name);
    if (!e) throw new UserError(`${file} has no array ${name} (found: ${names.join(', ') || 'none'})`);
    return memberBytes(buf, e, file);
  };
  return {
    file,
    names,
    member,
    float32: (name) => readNpy(member(name), `${file}:${name}`),
    dict: (name) => readPickledDict(member(name), `${file}:${name}`),
  };
}

function readCentralDirectory(buf: Uint8Array, file: string): Entry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const notZip = (): never => {
    throw new UserError(`${file} is not an .npz file (not a zip archive)`);
  };
  if (buf.length < 22 || dv.getUint32(0, true) !== ZIP_LOCAL) {
    if (buf.length >= 4 && dv.getUint32(0, true) === ZIP_EOCD) return []; // an empty archive
    notZip();
  }
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === ZIP_EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new UserError(`${file} is truncated: its zip directory is missing`);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if ((count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) && eocd >= 20 && dv.getUint32(eocd - 20, true) === ZIP64_LOCATOR) {
    const z64 = Number(dv.getBigUint64(eocd - 20 + 8, true));
    if (z64 + 56 > buf.length || dv.getUint32(z64, true) !== ZIP64_EOCD) throw new UserError(`${file} has a damaged zip64 directory`);
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdSize = Number(dv.getBigUint64(z64 + 40, true));
    cdOffset = Number(dv.getBigUint64(z64 + 48, true));
  }
  if (cdOffset + cdSize > buf.length) throw new UserError(`${file} is truncated: its zip directory points past the end of the file`);
  const entries: Entry[] = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== ZIP_CENTRAL) throw new UserError(`${file} has a damaged zip directory`);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    const name = new TextDecoder('utf-8').decode(buf.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values of whichever fields read 0xffffffff, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (size === 0xffffffff) { size = Number(dv.getBigUint64(q, true)); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = Number(dv.getBigUint64(q, true)); q += 8; }
      }
      x += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, localOffset });
    p = xEnd + commentLen;
  }
  return entries;
}

function memberBytes(buf: Uint8Array, e: Entry, file: string): Uint8Array {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const p = e.localOffset;
  if (p + 30 > buf.length || dv.getUint32(p, true) !== ZIP_LOCAL) throw new UserError(`${file} has a damaged zip entry for ${e.name}`);
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  const end = start + e.compressedSize;
  if (end > buf.length) throw new UserError(`${file} is truncated: member ${e.name} runs past the end of the file`);
  const raw = buf.subarray(start, end);
  if (e.method === 0) return raw;
  if (e.method === 8) {
    try {
      return inflateSync(raw, { out: new Uint8Array(e.size) });
    } catch (err) {
      throw new UserError(`${file} has a damaged compressed member ${e.name} (${(err as Error).message})`);
    }
  }
  throw new UserError(`${file} member ${e.name} uses zip compression method ${e.method}: only stored and deflate are supported`);
}

/**
 * The dict inside a 0-d object array (`np.savez(..., params=dict)`): the
 * member's data is a pickle of numpy's array reconstruction whose state holds
 * the dict. Returns the dict as plain data; errors name the member.
 */
export function readPickledDict(npy: Uint8Array, name: string): Record<string, unknown> {
  const h = parseNpyHeader(npy, name);
  if (h.descr !== '|O') throw new UserError(`${name} has dtype ${h.descr}: expected a pickled dict (dtype object)`);
  let root: PyValue;
  try {
    root = unpickle(npy.subarray(h.dataOffset));
  } catch (err) {
    if (err instanceof PickleError) throw new UserError(`${name} holds an unreadable pickle: ${err.message}`);
    throw err;
  }
  const dict = findDict(root, 0);
  if (!dict) throw new UserError(`${name} holds no dict`);
  return toPlain(dict) as Record<string, unknown>;
}

/** The first dict in the object: for a numpy object array, state[4] is the list of its elements. */
function findDict(v: PyValue | undefined, depth: number): Map<PyValue, PyValue> | undefined {
  if (depth > 8 || v === undefined) return undefined;
  if (v instanceof Map) return v;
  if (v instanceof PyObject) {
    const st = v.state;
    if (st instanceof PyTuple && Array.isArray(st[4])) {
      for (const x of st[4] as PyValue[]) {
        const d = findDict(x, depth + 1);
        if (d) return d;
      }
    }
    return undefined;
  }
  if (Array.isArray(v)) {
    for (const x of v) {
      const d = findDict(x, depth + 1);
      if (d) return d;
    }
  }
  return undefined;
}
