/**
 * The explorable INR parameters: one row per parameter of the protocol's table
 * (instructions/study-protocol.md, "Explorable INR Parameters"). Defaults, typical
 * ranges and mutation moves come from the protocol; sampling scales and the
 * hidden-width step come from the reference's Optuna baseline, so a TPE or
 * random study searches the same space the reference did.
 */

/**
 * How a value is drawn: `log` and `linear` are continuous distributions,
 * `integer` is uniform over a grid of `step`, `categorical` picks one of `choices`.
 * A `log` parameter may still be integer-valued (`inr_total_steps`): see `integer`.
 */
export type Scale = 'log' | 'linear' | 'integer' | 'categorical';

/** A move a mutation may make: multiply by, or add, one of `by`. */
export interface Mutation {
  op: 'multiply' | 'add';
  by: readonly number[];
  /** The move in the protocol's words, for prompts and logs. */
  text: string;
}

export interface SearchParam {
  key: string;
  yamlPath: string;
  default: number;
  /** The protocol's "Typical range": outside it a single run only warns. */
  typical: readonly [number, number];
  scale: Scale;
  /** Whether a run needs a whole number (then it must be >= 1); otherwise any number > 0. */
  integer: boolean;
  /** Grid step of an `integer` scale. */
  step?: number;
  /** The values of a `categorical` scale. */
  choices?: readonly number[];
  mutation: Mutation;
  description: string;
}

export const SEARCH_PARAMS = [
  {
    key: 'omega_inr', yamlPath: 'inr.omega_inr', default: 10.0, typical: [1, 100],
    scale: 'log', integer: false,
    mutation: { op: 'add', by: [5, -5], text: '+5 or -5' },
    description: 'SIREN frequency parameter',
  },
  {
    key: 'inr_learning_rate', yamlPath: 'inr.inr_learning_rate', default: 1e-4, typical: [1e-6, 1e-3],
    scale: 'log', integer: false,
    mutation: { op: 'multiply', by: [2, 0.5], text: 'x2 or /2' },
    description: 'Learning rate',
  },
  {
    key: 'hidden_dim_inr', yamlPath: 'inr.hidden_dim_inr', default: 384, typical: [128, 1024],
    scale: 'integer', integer: true, step: 64,
    mutation: { op: 'add', by: [128, -128], text: '+128 or -128' },
    description: 'Hidden layer width',
  },
  {
    // The protocol gives no move for depth; one layer is the smallest change there is.
    key: 'n_layers_inr', yamlPath: 'inr.n_layers_inr', default: 3, typical: [2, 5],
    scale: 'integer', integer: true, step: 1,
    mutation: { op: 'add', by: [1, -1], text: '+1 or -1' },
    description: 'Number of hidden layers',
  },
  {
    // The protocol lists only the growing moves; the shrinking ones let an agent
    // back off a run that went over the time budget.
    key: 'inr_total_steps', yamlPath: 'inr.inr_total_steps', default: 500000, typical: [50000, 2000000],
    scale: 'log', integer: true,
    mutation: { op: 'multiply', by: [1.5, 2, 1 / 1.5, 0.5], text: 'x1.5 or x2 (or /1.5, /2 to save time)' },
    description: 'Total training steps',
  },
  {
    key: 'inr_batch_size', yamlPath: 'inr.inr_batch_size', default: 8, typical: [1, 16],
    scale: 'categorical', integer: true, choices: [1, 2, 4, 8, 16],
    mutation: { op: 'multiply', by: [2, 0.5], text: 'x2 or /2' },
    description: 'Frames per batch',
  },
  {
    // Periods rescale coordinates, so a factor is the natural move, as for the learning rate.
    key: 'inr_xy_period', yamlPath: 'inr.inr_xy_period', default: 1.0, typical: [0.5, 10],
    scale: 'linear', integer: false,
    mutation: { op: 'multiply', by: [2, 0.5], text: 'x2 or /2' },
    description: 'Spatial coordinate scaling',
  },
  {
    key: 'inr_t_period', yamlPath: 'inr.inr_t_period', default: 1.0, typical: [0.5, 10],
    scale: 'linear', integer: false,
    mutation: { op: 'multiply', by: [2, 0.5], text: 'x2 or /2' },
    description: 'Time coordinate scaling',
  },
] as const satisfies readonly SearchParam[];

export type ExplorableKey = (typeof SEARCH_PARAMS)[number]['key'];

export const EXPLORABLE_KEYS: readonly ExplorableKey[] = SEARCH_PARAMS.map((p) => p.key);

/** Keys of `inr:` that a study may never change: the reference's protocol says so. */
export const FIXED_INR = {
  inr_field_name: 'velocity',
  inr_type: 'siren_txyz',
  inr_gradient_mode: false,
} as const;

export type FixedInrKey = keyof typeof FIXED_INR;

export const FIXED_INR_KEYS = Object.keys(FIXED_INR) as FixedInrKey[];

export function isExplorable(key: string): key is ExplorableKey {
  return (EXPLORABLE_KEYS as readonly string[]).includes(key);
}

export function isFixedInrKey(key: string): key is FixedInrKey {
  return Object.hasOwn(FIXED_INR, key);
}

export function searchParam(key: ExplorableKey): SearchParam {
  const row = SEARCH_PARAMS.find((p) => p.key === key);
  if (!row) throw new Error(`no search parameter ${key}`); // unreachable: the key type is the table's
  return row;
}
