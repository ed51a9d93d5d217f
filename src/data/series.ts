/**
 * A cell time series: positions and velocities of `cells` cells over `frames`
 * frames, row-major (frame, cell, component), float32. Positions live in the
 * unit box [0, 1)^3; velocities are unit-box units per time unit.
 */
export interface CellSeries {
  frames: number;
  cells: number;
  pos: Float32Array;
  vel: Float32Array;
  /** Optional extra (frames, cells, 3) arrays, e.g. `polarity`, `pair_force`. */
  extras: Record<string, Float32Array>;
}

export const DIMS = 3;
