/**
 * The reference's metrics over the flattened ground truth `gt` and prediction
 * `pred` (reference-facts §3), every sum in float64:
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

export class MetricsAccumulator {
  private n = 0;
  private meanX = 0; // gt
  private meanY = 0; // pred
  private cxx = 0;
  private cyy = 0;
  private cxy = 0;
  private sse = 0;
  private minX = Infinity;
  private maxX = -Infinity;
  private minY = Infinity;
  private maxY = -Infinity;
  private sawNaN = false;

  /** Add gt[start..end) and pred[start..end). */
  add(gt: ArrayLike<number>, pred: ArrayLike<number>, start = 0, end = gt.length): void {
    if (pred.length < end || gt.length < end) throw new RangeError('metrics: gt and pred must cover [start, end)');
    const nb = end - start;
    if (nb <= 0) return;
    let sx = 0, sy = 0;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = start; i < end; i++) {
      const x = gt[i], y = pred[i];
      sx += x;
      sy += y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      if (x !== x || y !== y) this.sawNaN = true;
    }
    const mx = sx / nb, my = sy / nb;
    let cxx = 0, cyy = 0, cxy = 0, sse = 0;
    for (let i = start; i < end; i++) {
      const dx = gt[i] - mx, dy = pred[i] - my, e = pred[i] - gt[i];
      cxx += dx * dx;
      cyy += dy * dy;
      cxy += dx * dy;
      sse += e * e;
    }
    const na = this.n, n = na + nb;
    if (na === 0) {
      this.meanX = mx;
      this.meanY = my;
      this.cxx = cxx;
      this.cyy = cyy;
      this.cxy = cxy;
    } else {
      const ddx = mx - this.meanX, ddy = my - this.meanY, w = (na * nb) / n;
      this.meanX += (ddx * nb) / n;
      this.meanY += (ddy * nb) / n;
      this.cxx += cxx + ddx * ddx * w;
      this.cyy += cyy + ddy * ddy * w;
      this.cxy += cxy + ddx * ddy * w;
    }
    this.n = n;
    this.sse += sse;
    this.minX = Math.min(this.minX, minX);
    this.maxX = Math.max(this.maxX, maxX);
    this.minY = Math.min(this.minY, minY);
    this.maxY = Math.max(this.maxY, maxY);
  }

  result(): Metrics {
    const n = this.n;
    if (n === 0 || this.sawNaN) return { n, mse: NaN, r2: NaN, slope: NaN, r2_cod: NaN };
    const constX = this.minX === this.maxX, constY = this.minY === this.maxY;
    const cxx = constX ? 0 : this.cxx;
    const cyy = constY ? 0 : this.cyy;
    const cxy = constX || constY ? 0 : this.cxy;
    // r^2 = (Sxy / Sxx) (Sxy / Syy): exactly 1 for identical vectors, no overflow; clipped as np.corrcoef clips r.
    const r2 = Math.min(1, (cxy / cxx) * (cxy / cyy));
    return {
      n,
      mse: this.sse / n,
      r2,
      slope: cxy / cxx,
      r2_cod: cxx === 0 ? NaN : 1 - this.sse / cxx,
    };
  }
}

/** The metrics of two whole vectors. */
export function computeMetrics(gt: ArrayLike<number>, pred: ArrayLike<number>): Metrics {
  if (gt.length !== pred.length) throw new RangeError(`metrics: gt has ${gt.length} values, pred ${pred.length}`);
  const acc = new MetricsAccumulator();
  acc.add(gt, pred);
  return acc.result();
}
