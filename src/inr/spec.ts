import { Rng } from '../util/rng.js';

/**
 * The reference SIREN: a first sine layer 4 -> hidden, `layers` hidden sine
 * layers hidden -> hidden, and a linear output layer hidden -> 3. A sine
 * layer is sin(omega * (W x + b)); one omega for all sine layers.
 */
export interface SirenSpec {
  inputs: number;
  hidden: number;
  /** n_layers_inr: hidden sine layers after the first (so layers + 1 sine layers in all). */
  layers: number;
  outputs: number;
  omega: number;
}

export function sirenSpec(hidden: number, layers: number, omega: number): SirenSpec {
  return { inputs: 4, hidden, layers, outputs: 3, omega };
}

export interface ParamTensor {
  /** The reference state-dict name, e.g. `net.0.linear.weight`. */
  name: string;
  /** [out, in] for weights, [out] for biases. */
  shape: number[];
}

/** Parameters in the reference's order and layout: weight then bias of each layer, input to output. */
export function parameterTensors(spec: SirenSpec): ParamTensor[] {
  const out: ParamTensor[] = [];
  for (let l = 0; l <= spec.layers; l++) {
    const fanIn = l === 0 ? spec.inputs : spec.hidden;
    out.push({ name: `net.${l}.linear.weight`, shape: [spec.hidden, fanIn] });
    out.push({ name: `net.${l}.linear.bias`, shape: [spec.hidden] });
  }
  out.push({ name: `net.${spec.layers + 1}.weight`, shape: [spec.outputs, spec.hidden] });
  out.push({ name: `net.${spec.layers + 1}.bias`, shape: [spec.outputs] });
  return out;
}

export function tensorSize(t: ParamTensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** One flat array of `arrays` in `tensors` order, each checked for its size; `what` names them in errors. */
export function joinTensors(tensors: ParamTensor[], arrays: Float32Array[], what: string): Float32Array {
  if (arrays.length !== tensors.length) throw new RangeError(`${what}: expected ${tensors.length} tensors, got ${arrays.length}`);
  const flat = new Float32Array(tensors.reduce((n, t) => n + tensorSize(t), 0));
  let off = 0;
  tensors.forEach((t, k) => {
    const n = tensorSize(t);
    if (arrays[k].length !== n) throw new RangeError(`${what}: ${t.name} needs ${n} values, got ${arrays[k].length}`);
    flat.set(arrays[k], off);
    off += n;
  });
  return flat;
}

/** Copies of each tensor of a flat array, in `tensors` order. */
export function splitTensors(tensors: ParamTensor[], flat: Float32Array): Float32Array[] {
  let off = 0;
  return tensors.map((t) => {
    const n = tensorSize(t);
    const a = flat.slice(off, off + n);
    off += n;
    return a;
  });
}

export function parameterCount(spec: SirenSpec): number {
  return parameterTensors(spec).reduce((n, t) => n + tensorSize(t), 0);
}

/** FLOPs of one training step per point, forward plus backward (docs/reference.md, Cost of the default workload). */
export function flopsPerPoint(spec: SirenSpec): number {
  const h = spec.hidden;
  return 6 * (spec.inputs * h + spec.layers * h * h + spec.outputs * h);
}

/**
 * The reference's initialisation: first layer weights U(-1/in, 1/in); hidden
 * and output weights U(-sqrt(6/in)/omega, +sqrt(6/in)/omega); every bias the
 * framework default for a linear layer, U(-1/sqrt(in), 1/sqrt(in)).
 * Drawn from our own stream, so a seed means the same network everywhere.
 */
export function initParameters(spec: SirenSpec, seed: number): Float32Array[] {
  const rng = new Rng(seed ^ 0x5eed1e55);
  const tensors = parameterTensors(spec);
  return tensors.map((t, k) => {
    // Tensors come as (weight [out, in], bias [out]) pairs: a bias takes its weight's fan-in.
    const fanIn = (t.shape.length === 2 ? t : tensors[k - 1]).shape[1];
    const bound = t.shape.length === 1 ? 1 / Math.sqrt(fanIn) : k === 0 ? 1 / fanIn : Math.sqrt(6 / fanIn) / spec.omega;
    const a = new Float32Array(tensorSize(t));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    return a;
  });
}
