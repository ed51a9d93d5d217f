import { fmt, invalid, joinPath } from './messages.js';
import { readNumber } from './values.js';

/**
 * The dicty stand-in's model parameters: one table that the generator, the
 * config's `dataset:` overrides, the CLI flags and docs/data.md all read.
 * Lengths are in box units (the box has side `box`); stored positions are
 * divided by `box` so they live in the unit box like the reference's.
 */
export interface ModelParam {
  key: string;
  default: number;
  integer: boolean;
  /** Smallest allowed value; `exclusiveMin` makes it strict. */
  min: number;
  exclusiveMin?: boolean;
  help: string;
}

export const MODEL_PARAMS = [
  { key: 'cells', default: 1000, integer: true, min: 1, help: 'number of cells N' },
  { key: 'frames', default: 9997, integer: true, min: 2, help: 'number of stored frames T (one per dt)' },
  { key: 'box', default: 2.0, integer: false, min: 0, exclusiveMin: true, help: 'side L of the periodic box' },
  { key: 'dt', default: 0.002, integer: false, min: 0, exclusiveMin: true, help: 'time between stored frames' },
  { key: 'warmup', default: 0.5, integer: false, min: 0, help: 'time simulated before the first stored frame, so frames start after the initial overlaps relax' },
  { key: 'substeps', default: 4, integer: true, min: 1, help: 'integration sub-steps per frame (keeps the stiff spring stable)' },
  { key: 'v0', default: 0.5, integer: false, min: 0, help: 'self-propulsion speed along the polarity' },
  { key: 'mu', default: 1.0, integer: false, min: 0, help: 'mobility multiplying the pair forces' },
  { key: 'k_rep', default: 250, integer: false, min: 0, help: 'linear-spring repulsion stiffness below r0' },
  { key: 'r0', default: 0.12, integer: false, min: 0, exclusiveMin: true, help: 'rest distance between two cells' },
  { key: 'k_adh', default: 10, integer: false, min: 0, help: 'adhesion strength between r0 and r_on' },
  { key: 'r_on', default: 0.2, integer: false, min: 0, exclusiveMin: true, help: 'outer edge of the adhesion shell' },
  { key: 'adh_width', default: 0.01, integer: false, min: 0, exclusiveMin: true, help: 'width of the sigmoid gates of the adhesion shell' },
  { key: 'max_radius', default: 0.25, integer: false, min: 0, exclusiveMin: true, help: 'interaction cut-off (cell-list size)' },
  { key: 'centres', default: 3, integer: true, min: 0, help: 'number of cAMP aggregation centres' },
  { key: 'wave_period', default: 4.0, integer: false, min: 0, exclusiveMin: true, help: 'period of the outward cAMP waves' },
  { key: 'wavelength', default: 0.8, integer: false, min: 0, exclusiveMin: true, help: 'wavelength of the cAMP waves' },
  { key: 'mound_radius', default: 0.6, integer: false, min: 0, exclusiveMin: true, help: 'radius of a mound: inside it the pull toward the centre turns into a swirl' },
  { key: 'swirl', default: 4.0, integer: false, min: 0, help: 'strength of the swirl about each centre inside its mound' },
  { key: 'turn_rate', default: 2.0, integer: false, min: 0, help: 'rate at which polarity turns toward the signal' },
  { key: 'rot_diffusion', default: 0.3, integer: false, min: 0, help: 'rotational diffusion of the polarity' },
] as const satisfies readonly ModelParam[];

export type ModelParamKey = (typeof MODEL_PARAMS)[number]['key'];
export type ModelParams = Record<ModelParamKey, number>;

/**
 * Presets are named overrides of the defaults above. The smaller ones keep the
 * full preset's density (125 cells per unit volume) by shrinking the box, and
 * keep about one aggregation centre per 330 cells, so each shows the same kind
 * of dynamics: streams into swirling mounds.
 */
export const PRESETS: Record<string, { about: string; params: Partial<ModelParams> }> = {
  dicty: { about: "the protocol's shape: 1000 cells x 9997 frames", params: {} },
  'dicty-small': {
    about: 'a CPU-minute study preset: 250 cells x 200 frames',
    params: { cells: 250, frames: 200, box: 1.26, centres: 1, mound_radius: 0.4 },
  },
  'dicty-tiny': {
    about: 'for tests: 64 cells x 40 frames, generated in milliseconds',
    params: { cells: 64, frames: 40, box: 0.8, centres: 1, mound_radius: 0.25 },
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);

export function modelDefaults(): ModelParams {
  return Object.fromEntries(MODEL_PARAMS.map((p) => [p.key, p.default])) as ModelParams;
}

/**
 * The full, checked parameter set: defaults filled in, each value checked
 * against its row above, then the relations the simulator relies on. Errors
 * read `<where>.<key> = <value>: <rule>` (`where` empty: `<key> = ...`; a flag
 * prefix such as `--`: `--cells = ...`). Values are `unknown` so CLI input that
 * failed to parse as a number (NaN, a string) gets the same message.
 */
export function checkModelParams(params: Partial<Record<ModelParamKey, unknown>>, where: string): ModelParams {
  const full = modelDefaults();
  for (const p of MODEL_PARAMS) {
    const value = params[p.key];
    if (value === undefined) continue;
    const rule = { integer: p.integer, min: p.min, exclusive: 'exclusiveMin' in p && p.exclusiveMin === true };
    full[p.key] = readNumber(value, joinPath(where, p.key), rule);
  }
  checkRelations(full, params, where);
  return full;
}

/**
 * A relation between two values blames the one the caller set, so a user who
 * only raised r0 is told about r0, not about an r_on they never wrote.
 */
function checkRelations(full: ModelParams, given: Partial<Record<ModelParamKey, unknown>>, where: string): void {
  const set = (k: ModelParamKey): boolean => given[k] !== undefined;
  const fail = (k: ModelParamKey, rule: string): never => {
    throw invalid(joinPath(where, k), full[k], rule);
  };
  if (!(full.r_on > full.r0)) {
    if (set('r_on') || !set('r0')) fail('r_on', `must be > r0 (${fmt(full.r0)})`);
    fail('r0', `must be < r_on (${fmt(full.r_on)})`);
  }
  if (!(full.max_radius >= full.r_on)) {
    if (set('max_radius') || !set('r_on')) fail('max_radius', `must be >= r_on (${fmt(full.r_on)})`);
    fail('r_on', `must be <= max_radius (${fmt(full.max_radius)})`);
  }
  // The cell list needs at least 3 cells per side for its 27-neighbour search to be exact.
  if (!(full.max_radius <= full.box / 3)) {
    const why = 'so the cell list has 3 cells per side';
    if (set('max_radius') || !set('box')) fail('max_radius', `must be <= box/3 (${fmt(full.box / 3)}) ${why}`);
    fail('box', `must be >= 3 * max_radius (${fmt(3 * full.max_radius)}) ${why}`);
  }
}
