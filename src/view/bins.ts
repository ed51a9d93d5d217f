/**
 * Binning for figures of full-scale runs: 10,000 frames x 1,000 cells x 3
 * components is 30 M values, far too many marks for a figure, so figures draw
 * bins. Every function here is a pure pass over the arrays.
 */

export interface DensityBin {
  /** Truth range [x0, x1), prediction range [y0, y1). */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  count: number;
}

export interface Density {
  bins: DensityBin[];
  /** Points binned: every pair with both values finite. */
  points: number;
  /** Pairs left out because one value is NaN or infinite. */
  nonFinite: number;
  lo: number;
  hi: number;
}

/**
 * Prediction against truth as a 2D histogram, `n` x `n` bins over one range
 * shared by both axes (so the diagonal is y = x); only non-empty bins are listed.
 */
export function density(truth: Float32Array, pred: Float32Array, n = 60): Density {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = pred[i];
    if (!Number.isFinite(t) || !Number.isFinite(p)) continue;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  if (lo > hi) return { bins: [], points: 0, nonFinite: truth.length, lo: 0, hi: 0 };
  if (lo === hi) hi = lo + 1;
  const width = (hi - lo) / n;
  const counts = new Float64Array(n * n);
  let points = 0;
  const at = (v: number): number => Math.min(n - 1, Math.floor((v - lo) / width));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = pred[i];
    if (!Number.isFinite(t) || !Number.isFinite(p)) continue;
    counts[at(t) * n + at(p)]++;
    points++;
  }
  const bins: DensityBin[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      const count = counts[a * n + b];
      if (count > 0) bins.push({ x0: lo + a * width, x1: lo + (a + 1) * width, y0: lo + b * width, y1: lo + (b + 1) * width, count });
    }
  }
  return { bins, points, nonFinite: truth.length - points, lo, hi };
}

/** |v| of each (frame, cell) of a (frames, cells, 3) array; with `minus`, |v - minus|. */
export function speeds(v: Float32Array, minus?: Float32Array): Float32Array {
  const out = new Float32Array(v.length / 3);
  for (let i = 0, j = 0; j < out.length; i += 3, j++) {
    const a = v[i] - (minus?.[i] ?? 0);
    const b = v[i + 1] - (minus?.[i + 1] ?? 0);
    const c = v[i + 2] - (minus?.[i + 2] ?? 0);
    out[j] = Math.sqrt(a * a + b * b + c * c);
  }
  return out;
}

export interface GridCell {
  /** Frames [f0, f1) and cells [c0, c1). */
  f0: number;
  f1: number;
  c0: number;
  c1: number;
  value: number;
}

/** Means of a (frames, cells) array over blocks of frames and cells, at most `maxFrames` x `maxCells` blocks. */
export function blockMeans(values: Float32Array, frames: number, cells: number, maxFrames = 80, maxCells = 60): GridCell[] {
  const fb = Math.ceil(frames / Math.min(frames, maxFrames));
  const cb = Math.ceil(cells / Math.min(cells, maxCells));
  const out: GridCell[] = [];
  for (let f0 = 0; f0 < frames; f0 += fb) {
    const f1 = Math.min(frames, f0 + fb);
    for (let c0 = 0; c0 < cells; c0 += cb) {
      const c1 = Math.min(cells, c0 + cb);
      let s = 0;
      for (let f = f0; f < f1; f++) for (let c = c0; c < c1; c++) s += values[f * cells + c];
      out.push({ f0, f1, c0, c1, value: s / ((f1 - f0) * (c1 - c0)) });
    }
  }
  return out;
}

/** A series thinned to at most `max` points by means over equal runs (x: the index at the run's middle). */
export function thin(values: ArrayLike<number>, max = 2000): { x: number; y: number }[] {
  const every = Math.max(1, Math.ceil(values.length / max));
  const out: { x: number; y: number }[] = [];
  for (let start = 0; start < values.length; start += every) {
    const end = Math.min(values.length, start + every);
    let s = 0;
    for (let i = start; i < end; i++) s += values[i];
    out.push({ x: (start + end - 1) / 2, y: s / (end - start) });
  }
  return out;
}
