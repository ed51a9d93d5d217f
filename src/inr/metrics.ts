/**
 * The reference's metrics over the flattened ground truth `gt` and prediction
 * `pred` (docs/reference.md, Metrics), every sum in float64:
 *
 * - `r2`: the squared Pearson correlation of gt and pred, as
 *   `np.corrcoef(gt, pred)[0, 1] ** 2` (r clipped to [-1, 1] as numpy does).
 *   It is NOT the coefficient of determination.
 * - `slope`: the slope of the least-squares line of pred on gt, as
 *   `np.polyfit(gt, pred, 1)[0]`: cov(gt, pred) / var(gt).
 * - `mse`: mean((pred - gt)^2).
 * - `r2_cod`: the coefficient of determination, 1 - SSE / SST with
 *   SST = sum((gt - mean(gt))^2).
 *
 * Degenerate inputs, decided here once:
 * - A NaN in either vector makes every metric NaN: a broken prediction is
 *   never hidden behind a number. An infinity gives mse = inf and NaN for the rest.
 * - A constant prediction (every value equal, gt varying): r2 = NaN (the
 *   correlation is 0/0, as np.corrcoef gives), slope = 0 (np.polyfit's answer),
 *   mse and r2_cod as usual.
 * - A constant ground truth: r2, slope and r2_cod are NaN (0/0: no line and no
 *   fraction of variance is defined; np.polyfit would give a rank-deficient
 *   least-squares answer with a warning, we give NaN).
 * - No values at all: every metric NaN.
 *
 * "Constant" is decided exactly (minimum equals maximum), so a constant vector
 * never shows a rounding-noise correlation.
 *
 * Values come in chunks (an evaluation predicts a few frames at a time): each
 * chunk is reduced in two passes (means, then centred sums) and merged with
 * Chan et al.'s pairwise update, so 30 million values lose no digits to
 * cancellation.
 */

export interface Metrics {
  /** Number of values (frames x cells x components). */
  n: number;
  mse: number;
  r2: number;
  slope: number;
  r2_cod: number;
}

/**
 * The float64 sums of a run of values, from which every metric follows: an
 * engine computes them where the data lives and hands over only these.
 * `cxx`, `cyy`, `cxy` are centred sums of products (about `meanX`, `meanY`);
 * `sse` is the sum of (pred - gt)^2; `nan` says whether any value was NaN.
 */
export interface MetricSums {
  n: number;
  meanX: number;
  meanY: number;
  cxx: number;
  cyy: number;
  cxy: number;
  sse: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  nan: boolean;
}

export function emptySums(): MetricSums {
  return { n: 0, meanX: 0, meanY: 0, cxx: 0, cyy: 0, cxy: 0, sse: 0, minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity, nan: false };
}

/** The sums of gt[start..end) and pred[start..end), in two passes (means, then centred sums). */
export function sumsOf(gt: ArrayLike<number>, pred: ArrayLike<number>, start = 0, end = gt.length): MetricSums {
  if (pred.length < end || gt.length < end) throw new RangeError('metrics: gt and pred must cover [start, end)');
  const s = emptySums();
  const nb = end - start;
  if (nb <= 0) return s;
  let sx = 0, sy = 0;
  for (let i = start; i < end; i++) {
    const x = gt[i], y = pred[i];
    sx += x;
    sy += y;
    if (x < s.minX) s.minX = x;
    if (x > s.maxX) s.maxX = x;
    if (y < s.minY) s.minY = y;
    if (y > s.maxY) s.maxY = y;
    if (x !== x || y !== y) s.nan = true;
  }
  const mx = sx / nb, my = sy / nb;
  for (let i = start; i < end; i++) {
    const dx = gt[i] - mx, dy = pred[i] - my, e = pred[i] - gt[i];
    s.cxx += dx * dx;
    s.cyy += dy * dy;
    s.cxy += dx * dy;
    s.sse += e * e;
  }
  return { ...s, n: nb, meanX: mx, meanY: my };
}

/** `a` and `b` together (Chan et al.'s pairwise update). */
export function mergeSums(a: MetricSums, b: MetricSums): MetricSums {
  if (b.n === 0) return { ...a, nan: a.nan || b.nan };
  if (a.n === 0) return { ...b, nan: a.nan || b.nan };
  const n = a.n + b.n;
  const ddx = b.meanX - a.meanX, ddy = b.meanY - a.meanY, w = (a.n * b.n) / n;
  return {
    n,
    meanX: a.meanX + (ddx * b.n) / n,
    meanY: a.meanY + (ddy * b.n) / n,
    cxx: a.cxx + b.cxx + ddx * ddx * w,
    cyy: a.cyy + b.cyy + ddy * ddy * w,
    cxy: a.cxy + b.cxy + ddx * ddy * w,
    sse: a.sse + b.sse,
    minX: Math.min(a.minX, b.minX),
    maxX: Math.max(a.maxX, b.maxX),
    minY: Math.min(a.minY, b.minY),
    maxY: Math.max(a.maxY, b.maxY),
    nan: a.nan || b.nan,
  };
}

export function metricsOf(s: MetricSums): Metrics {
  const n = s.n;
  if (n === 0 || s.nan) return { n, mse: NaN, r2: NaN, slope: NaN, r2_cod: NaN };
  const constX = s.minX === s.maxX, constY = s.minY === s.maxY;
  const cxx = constX ? 0 : s.cxx;
  const cyy = constY ? 0 : s.cyy;
  const cxy = constX || constY ? 0 : s.cxy;
  // r^2 = (Sxy / Sxx) (Sxy / Syy): exactly 1 for identical vectors, no overflow; clipped as np.corrcoef clips r.
  const r2 = Math.min(1, (cxy / cxx) * (cxy / cyy));
  return {
    n,
    mse: s.sse / n,
    r2,
    slope: cxy / cxx,
    r2_cod: cxx === 0 ? NaN : 1 - s.sse / cxx,
  };
}

/** The metrics of two whole vectors. */
export function computeMetrics(gt: ArrayLike<number>, pred: ArrayLike<number>): Metrics {
  if (gt.length !== pred.length) throw new RangeError(`metrics: gt has ${gt.length} values, pred ${pred.length}`);
  return metricsOf(sumsOf(gt, pred));
}
