import { DIMS } from './series.js';

/**
 * Mean number of neighbours per cell within `radius` in one frame, in the
 * periodic unit box with the minimum-image convention: for each cell, the
 * number of other cells at distance < radius, averaged over cells. Cells
 * with a non-finite coordinate take no part (neither counted nor counting).
 *
 * `pos` is (frames, cells, 3) row-major; `frameOffset` is the index in `pos`
 * of the frame's first value (frame * cells * 3). Positions outside [0, 1)
 * are wrapped. `radius` must be in (0, 0.5]: beyond that the minimum image
 * no longer covers the sphere. A cell list (bins of side >= radius) makes it
 * O(cells) per frame; with fewer than 3 bins per side it counts all pairs.
 */
export function meanNeighbourCount(pos: Float32Array, cells: number, frameOffset: number, radius: number): number {
  if (!(radius > 0 && radius <= 0.5)) throw new RangeError(`neighbour radius must be in (0, 0.5], got ${radius}`);
  const xs = new Float64Array(cells * DIMS);
  let m = 0;
  for (let c = 0; c < cells; c++) {
    const o = frameOffset + c * DIMS;
    const x = pos[o], y = pos[o + 1], z = pos[o + 2];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    xs[m * 3] = x - Math.floor(x);
    xs[m * 3 + 1] = y - Math.floor(y);
    xs[m * 3 + 2] = z - Math.floor(z);
    m++;
  }
  if (m === 0) return 0;
  const r2 = radius * radius;
  const nb = Math.floor(1 / radius);
  let pairs = 0; // ordered pairs (i, j), i != j

  if (nb < 3) {
    for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++) if (dist2(xs, i, j) < r2) pairs += 2;
    }
    return pairs / m;
  }

  // Cell list: head[bin] -> first cell, next[cell] -> following cell in the same bin.
  const nbins = nb * nb * nb;
  const head = new Int32Array(nbins).fill(-1);
  const next = new Int32Array(m);
  const bx = (v: number): number => Math.min(nb - 1, Math.floor(v * nb));
  for (let i = 0; i < m; i++) {
    const b = (bx(xs[i * 3]) * nb + bx(xs[i * 3 + 1])) * nb + bx(xs[i * 3 + 2]);
    next[i] = head[b];
    head[b] = i;
  }
  for (let b = 0; b < nbins; b++) {
    if (head[b] < 0) continue;
    const ix = Math.floor(b / (nb * nb)), iy = Math.floor(b / nb) % nb, iz = b % nb;
    for (let dx = -1; dx <= 1; dx++) {
      const jx = (ix + dx + nb) % nb;
      for (let dy = -1; dy <= 1; dy++) {
        const jy = (iy + dy + nb) % nb;
        for (let dz = -1; dz <= 1; dz++) {
          const jz = (iz + dz + nb) % nb;
          const nbBin = (jx * nb + jy) * nb + jz;
          for (let i = head[b]; i >= 0; i = next[i]) {
            for (let j = head[nbBin]; j >= 0; j = next[j]) {
              if (j !== i && dist2(xs, i, j) < r2) pairs++;
            }
          }
        }
      }
    }
  }
  return pairs / m;
}

function dist2(xs: Float64Array, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < 3; k++) {
    let d = xs[i * 3 + k] - xs[j * 3 + k];
    d -= Math.round(d);
    s += d * d;
  }
  return s;
}
