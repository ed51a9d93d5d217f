import { DIMS } from './series.js';

/**
 * The reference's velocity rule: finite difference of consecutive unit-box
 * positions, wrapped to the minimum image (d - round(d)), divided by dt; the
 * last frame repeats the previous velocity so both arrays have `frames` frames.
 * Differences are taken in float64 from the float32 positions, as numpy does.
 */
export function velocityFromPositions(pos: Float32Array, frames: number, cells: number, dt: number): Float32Array {
  const stride = cells * DIMS;
  const vel = new Float32Array(frames * stride);
  if (frames < 2) return vel;
  for (let f = 0; f + 1 < frames; f++) {
    const a = f * stride;
    const b = a + stride;
    for (let k = 0; k < stride; k++) {
      let d = pos[b + k] - pos[a + k];
      d -= roundHalfEven(d);
      vel[a + k] = d / dt;
    }
  }
  vel.copyWithin((frames - 1) * stride, (frames - 2) * stride, (frames - 1) * stride);
  return vel;
}

/** numpy's round (half to even), so wrapped differences match the reference bit for bit. */
function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties go up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
