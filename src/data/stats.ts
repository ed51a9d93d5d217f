import { meanNeighbourCount } from './neighbours.js';
import { DIMS, type CellSeries } from './series.js';

export const SPEED_PERCENTILES = [5, 25, 50, 75, 95, 99] as const;

export type Vec3 = [number, number, number];

export interface NonFiniteCount {
  nan: number;
  inf: number;
  /** The first non-finite value, or null when there is none. */
  first: { frame: number; cell: number; component: number } | null;
}

export interface SeriesStats {
  frames: number;
  cells: number;
  /** Mean and (population) standard deviation of each velocity component over finite values. */
  velocity: { mean: Vec3; std: Vec3 };
  /** Speed |v| over all (frame, cell) with a finite velocity. */
  speed: { mean: number; max: number; percentiles: { p: number; value: number }[] };
  nonFinite: { pos: NonFiniteCount; vel: NonFiniteCount };
  /** Number of (frame, cell) positions with a component outside [0, 1) (non-finite ones excluded). */
  outsideUnitBox: number;
  /** Mean neighbour count within `radius` over evenly spaced sample frames; null when no radius was asked for. */
  neighbours: { radius: number; frames: number[]; mean: number; perFrame: number[] } | null;
}

export interface StatsOptions {
  /** Neighbour radius in unit-box units, (0, 0.5]; leave out to skip neighbour counts. */
  radius?: number;
  /** How many frames to sample for neighbour counts (default 20). */
  sampleFrames?: number;
}

/** Statistics of a series; sums are accumulated in float64. */
export function seriesStats(series: CellSeries, opts: StatsOptions = {}): SeriesStats {
  const { frames, cells, pos, vel } = series;
  const n = frames * cells;

  // Velocity components: two passes (mean, then squared deviations) over finite values.
  const sum = [0, 0, 0];
  const cnt = [0, 0, 0];
  for (let i = 0; i < n * DIMS; i++) {
    const v = vel[i];
    if (Number.isFinite(v)) { sum[i % 3] += v; cnt[i % 3]++; }
  }
  const mean = sum.map((s, k) => (cnt[k] > 0 ? s / cnt[k] : NaN)) as Vec3;
  const sq = [0, 0, 0];
  for (let i = 0; i < n * DIMS; i++) {
    const v = vel[i];
    if (Number.isFinite(v)) { const d = v - mean[i % 3]; sq[i % 3] += d * d; }
  }
  const std = sq.map((s, k) => (cnt[k] > 0 ? Math.sqrt(s / cnt[k]) : NaN)) as Vec3;

  // Speeds of the finite velocity triples.
  const speeds = new Float64Array(n);
  let m = 0;
  let speedSum = 0;
  for (let i = 0; i < n; i++) {
    const x = vel[i * 3], y = vel[i * 3 + 1], z = vel[i * 3 + 2];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    const s = Math.sqrt(x * x + y * y + z * z);
    speeds[m++] = s;
    speedSum += s;
  }
  const sorted = speeds.subarray(0, m).sort();
  const percentiles = SPEED_PERCENTILES.map((p) => ({ p, value: percentile(sorted, p) }));

  let outside = 0;
  for (let i = 0; i < n; i++) {
    let out = false;
    let finite = true;
    for (let k = 0; k < 3; k++) {
      const v = pos[i * 3 + k];
      if (!Number.isFinite(v)) finite = false;
      else if (v < 0 || v >= 1) out = true;
    }
    if (finite && out) outside++;
  }

  let neighbours: SeriesStats['neighbours'] = null;
  if (opts.radius !== undefined) {
    const sample = sampleFrames(frames, opts.sampleFrames ?? 20);
    const perFrame = sample.map((f) => meanNeighbourCount(pos, cells, f * cells * DIMS, opts.radius!));
    neighbours = {
      radius: opts.radius,
      frames: sample,
      perFrame,
      mean: perFrame.length > 0 ? perFrame.reduce((a, b) => a + b, 0) / perFrame.length : NaN,
    };
  }

  return {
    frames,
    cells,
    velocity: { mean, std },
    speed: { mean: m > 0 ? speedSum / m : NaN, max: m > 0 ? sorted[m - 1] : NaN, percentiles },
    nonFinite: { pos: countNonFinite(pos, cells), vel: countNonFinite(vel, cells) },
    outsideUnitBox: outside,
    neighbours,
  };
}

/** numpy.percentile's default ('linear') on sorted data; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Up to `k` frame indices evenly spaced over [0, frames - 1], first and last included. */
export function sampleFrames(frames: number, k: number): number[] {
  if (frames <= 0 || k <= 0) return [];
  if (frames <= k) return Array.from({ length: frames }, (_, i) => i);
  if (k === 1) return [0];
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const f = Math.round((i * (frames - 1)) / (k - 1));
    if (out[out.length - 1] !== f) out.push(f);
  }
  return out;
}

/** NaN and infinity counts of a (frames, cells, 3) array, with the first bad index. */
export function countNonFinite(a: Float32Array, cells: number): NonFiniteCount {
  let nan = 0;
  let inf = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v - v !== 0) { // NaN or +-Infinity
      if (Number.isNaN(v)) nan++;
      else inf++;
      if (first < 0) first = i;
    }
  }
  const stride = cells * DIMS;
  return {
    nan,
    inf,
    first: first < 0 ? null : { frame: Math.floor(first / stride), cell: Math.floor((first % stride) / DIMS), component: first % DIMS },
  };
}
