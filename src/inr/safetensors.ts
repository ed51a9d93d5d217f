import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { parameterTensors, sirenSpec, tensorSize, type SirenSpec } from './spec.js';

/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *     u64 little-endian N | N bytes of UTF-8 JSON header | byte buffer
 *
 * The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
 * (offsets into the byte buffer), plus an optional `"__metadata__"` map of
 * strings to strings. Tensors are little-endian, C order, packed without holes.
 * We pad the header with spaces to a multiple of 8 bytes, as the reference
 * implementation does, so the buffer starts aligned.
 *
 * A SIREN is stored under the reference state-dict names, weights [out, in]
 * (spec.ts), so `Siren.load_state_dict(safetensors.torch.load_file(path))` of
 * the reference model accepts our file.
 */

export type SafeDType = 'F32' | 'F64';

export interface SafeTensor {
  name: string;
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface SafetensorsFile {
  /** In file order. */
  tensors: SafeTensor[];
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F64: 8 };
const MAX_HEADER = 100_000_000;
const LE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export function encodeSafetensors(tensors: readonly SafeTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw new Error(`safetensors: bad or duplicate tensor name ${t.name}`);
    seen.add(t.name);
    const want = t.shape.reduce((a, b) => a * b, 1);
    if (want !== t.data.length) throw new Error(`safetensors: ${t.name} has ${t.data.length} values, shape [${t.shape}] needs ${want}`);
    if ((t.dtype === 'F32') !== t.data instanceof Float32Array) throw new Error(`safetensors: ${t.name} data does not match dtype ${t.dtype}`);
    const size = want * BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    const n = BYTES[t.dtype];
    if (LE) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (n === 4) view.setFloat32(pos + 4 * i, t.data[i], true);
        else view.setFloat64(pos + 8 * i, t.data[i], true);
      }
    }
    pos += t.data.length * n;
  }
  return out;
}

/** Parse and check a safetensors buffer; `name` is used in error messages. Tensors are copied out. */
export function decodeSafetensors(buf: Uint8Array, name = 'safetensors file'): SafetensorsFile {
  const bad = (what: string): never => {
    throw new UserError(`${name} is not a valid safetensors file: ${what}`);
  };
  if (buf.length < 8) bad('shorter than its 8-byte header length');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER) || Number(n) > buf.length - 8) bad(`header length ${n} does not fit the file (${buf.length} bytes)`);
  const headerLen = Number(n);
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8');
  if (!text.startsWith('{')) bad('the header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    bad(`the header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('__metadata__ must be an object');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) if (typeof mv !== 'string') bad(`__metadata__.${mk} must be a string`);
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof e !== 'object' || e === null) return bad(`${key} is not a tensor entry`);
    if (e.dtype !== 'F32' && e.dtype !== 'F64') bad(`${key} has dtype ${JSON.stringify(e.dtype)}: only F32 and F64 are read`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${key} has a bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) bad(`${key} has bad data_offsets`);
    const [begin, end] = off as [number, number];
    const shape = e.shape as number[];
    const dtype = e.dtype as SafeDType;
    if (end - begin !== shape.reduce((a, b) => a * b, 1) * BYTES[dtype]) bad(`${key}: data_offsets do not match shape [${shape}] of ${dtype}`);
    if (end > dataLen) bad(`${key} ends past the end of the file`);
    entries.push({ name: key, dtype, shape, begin, end });
  }
  // The buffer must be covered exactly, without holes or overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) bad(`the byte buffer has a hole or an overlap at ${at} (${e.name})`);
    at = e.end;
  }
  if (at !== dataLen) bad(`the byte buffer has ${dataLen - at} bytes that no tensor uses`);
  const tensors = entries.map((e): SafeTensor => {
    const count = (e.end - e.begin) / BYTES[e.dtype];
    const dv = new DataView(buf.buffer, buf.byteOffset + dataStart + e.begin, e.end - e.begin);
    if (e.dtype === 'F32') {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = dv.getFloat32(4 * i, true);
      return { name: e.name, dtype: e.dtype, shape: e.shape, data };
    }
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = dv.getFloat64(8 * i, true);
    return { name: e.name, dtype: e.dtype, shape: e.shape, data };
  });
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${path} not found`);
    throw err;
  }
  return decodeSafetensors(buf, path);
}

/** Metadata keys of a model file. */
export const MODEL_FORMAT = 'inrscape-siren';

/** The SIREN's tensors under the reference names, plus its spec in `__metadata__`. */
export function encodeModel(spec: SirenSpec, params: readonly Float32Array[], extra: Record<string, string> = {}): Uint8Array {
  const shapes = parameterTensors(spec);
  if (params.length !== shapes.length) throw new Error(`encodeModel: ${params.length} tensors, the spec has ${shapes.length}`);
  const tensors = shapes.map((t, k): SafeTensor => ({ name: t.name, dtype: 'F32', shape: t.shape, data: params[k] }));
  return encodeSafetensors(tensors, {
    ...extra,
    format: MODEL_FORMAT,
    omega: String(spec.omega),
    hidden: String(spec.hidden),
    layers: String(spec.layers),
  });
}

export function saveModel(path: string, spec: SirenSpec, params: readonly Float32Array[], extra: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeModel(spec, params, extra));
}

/**
 * A SIREN from a safetensors file: ours, or a reference state dict saved with
 * safetensors (then give `omega`, which a state dict does not hold). Width and
 * depth come from the tensor shapes; every tensor of the spec must be there
 * with its shape, and nothing else.
 */
export function modelFromSafetensors(file: SafetensorsFile, name: string, omega?: number): { spec: SirenSpec; params: Float32Array[] } {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const w0 = byName.get('net.0.linear.weight');
  if (!w0 || w0.shape.length !== 2) throw new UserError(`${name}: no net.0.linear.weight [hidden, 4] tensor: not a SIREN state dict`);
  let layers = 0;
  while (byName.has(`net.${layers + 1}.linear.weight`)) layers++;
  const om = omega ?? Number(file.metadata.omega);
  if (!(om > 0) || !Number.isFinite(om)) throw new UserError(`${name}: omega is not recorded in the file; give it`);
  const spec = sirenSpec(w0.shape[0], layers, om);
  const want = parameterTensors(spec);
  const params = want.map((t) => {
    const have = byName.get(t.name);
    if (!have) throw new UserError(`${name}: tensor ${t.name} is missing`);
    if (have.shape.length !== t.shape.length || have.shape.some((d, i) => d !== t.shape[i])) {
      throw new UserError(`${name}: ${t.name} has shape [${have.shape}], expected [${t.shape}]`);
    }
    if (have.dtype !== 'F32') throw new UserError(`${name}: ${t.name} is ${have.dtype}, expected F32`);
    if (have.data.length !== tensorSize(t)) throw new Error('unreachable');
    return have.data as Float32Array;
  });
  const extra = file.tensors.find((t) => !want.some((w) => w.name === t.name));
  if (extra) throw new UserError(`${name}: unexpected tensor ${extra.name} for a SIREN of ${layers} hidden layers`);
  return { spec, params };
}

export function loadModel(path: string, omega?: number): { spec: SirenSpec; params: Float32Array[] } {
  return modelFromSafetensors(readSafetensors(path), path, omega);
}
