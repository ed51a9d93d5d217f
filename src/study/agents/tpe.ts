/**
 * The TPE agent: a Tree-structured Parzen Estimator over the study's space,
 * after Optuna's TPESampler as the reference's baseline ran it
 * (multivariate, constant liar; docs/reference.md, Optuna baseline):
 *
 * - trial 1 is the base config (as the reference's Optuna baseline enqueues
 *   it), so TPE and the other agents start from the same point;
 * - until `study.tpe.startup` trials are done (default 10, Optuna's), proposals
 *   are uniform samples;
 * - a pruned trial counts as done with the R² it was stopped at (scoreValue),
 *   as Optuna's TPE uses a pruned trial's last intermediate value;
 * - done trials are split by scored R² (failed = 0): the best
 *   gamma(n) = min(ceil(0.1 n), 25) are "below" (good), the rest "above";
 *   constant liar: trials not done yet (running ones and the earlier slots of
 *   this batch) join "above" as if they had the worst value, so parallel slots
 *   are pushed apart;
 * - each group is a Parzen mixture: one component per trial (product of a
 *   truncated normal per numeric dimension in the transformed space, log for
 *   log scales; a categorical kernel with prior weight for categorical ones),
 *   plus a prior component (centre of the range, sigma = range); the
 *   multivariate bandwidth is 0.2 n^(-1/(d+4)) of the range, clipped to
 *   [range / min(100, 1 + n_kernels), range]; weights are Optuna's (flat up to
 *   25 trials, older ones ramped down beyond);
 * - `nEiCandidates` samples are drawn from l(x); the one maximising
 *   log l(x) - log g(x) is proposed (the next best when it would duplicate a config).
 *
 * Proposals are root nodes; their mutation line lists the sampled values.
 */
import { fmt } from '../../config/messages.js';
import type { ExplorableKey } from '../../config/search-space.js';
import type { InrConfig } from '../../config/inr.js';
import type { SearchSpace } from '../../config/search-range.js';
import type { Rng } from '../../util/rng.js';
import { findDuplicate, safetyContext } from '../safety.js';
import { isDone } from '../state.js';
import { scoreValue } from '../tree.js';
import type { Agent, AgentNotes, AnalyseContext, BlockSummary, CloseBlockContext, Proposal, ProposeContext, Suggestion } from './agent.js';
import { analyseRules, closeBlockRules } from './rules.js';
import { dimensions, fromInternal, sampleUniform, sampledText, toInternal, withValues, type Dim } from './sampling.js';

export interface TpeOptions {
  /** Done trials before TPE takes over from uniform sampling (Optuna's default: 10). */
  nStartup?: number;
  /** Candidates drawn from l(x) per proposal (Optuna's default: 24). */
  nEiCandidates?: number;
  priorWeight?: number;
  /** Pending trials count as the worst value (on by default, as in the reference). */
  constantLiar?: boolean;
}

export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's default_weights: flat for the newest 25, a linear ramp for older ones. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

// ------------------------------------------------------------ normal helpers

/** erfc with fractional error < 1.2e-7 everywhere (Numerical Recipes' erfcc). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** P(a < Z < b) for a standard normal Z, accurate in the tails. */
export function normalMass(a: number, b: number): number {
  if (!(b > a)) return 0;
  const s = Math.SQRT1_2;
  if (a >= 0) return 0.5 * (erfc(a * s) - erfc(b * s));
  if (b <= 0) return 0.5 * (erfc(-b * s) - erfc(-a * s));
  return 1 - 0.5 * erfc(b * s) - 0.5 * erfc(-a * s);
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const TINY = 1e-300;

// ------------------------------------------------------------ Parzen estimator

interface Mixture {
  logWeights: number[];
  /** Per component, per dim: mu and sigma (numeric), or category log-probabilities. */
  mus: number[][];
  sigmas: number[][];
  catLogP: (number[] | undefined)[][];
}

function buildMixture(dims: readonly Dim[], obs: readonly number[][], priorWeight: number): Mixture {
  const n = obs.length;
  const weights = [...defaultWeights(n), priorWeight];
  const total = weights.reduce((a, b) => a + b, 0);
  const logWeights = weights.map((w) => Math.log(w / total));
  const mus: number[][] = [];
  const sigmas: number[][] = [];
  const catLogP: (number[] | undefined)[][] = [];
  const nKernels = n + 1;
  const d = dims.length;
  for (let k = 0; k <= n; k++) {
    const prior = k === n;
    const mu: number[] = [];
    const sg: number[] = [];
    const cat: (number[] | undefined)[] = [];
    for (let j = 0; j < d; j++) {
      const dim = dims[j];
      const range = dim.high - dim.low;
      if (dim.kind === 'categorical') {
        const m = (dim.choices as readonly number[]).length;
        const row = new Array<number>(m).fill(priorWeight / nKernels);
        if (!prior) row[obs[k][j]] += 1;
        const s = row.reduce((a, b) => a + b, 0);
        cat.push(row.map((p) => Math.log(p / s)));
        mu.push(0);
        sg.push(1);
        continue;
      }
      cat.push(undefined);
      if (prior) {
        mu.push(0.5 * (dim.low + dim.high));
        sg.push(range);
      } else {
        const sigma = 0.2 * Math.max(n, 1) ** (-1 / (d + 4)) * range;
        const minSigma = range / Math.min(100, 1 + nKernels);
        mu.push(obs[k][j]);
        sg.push(Math.min(range, Math.max(minSigma, sigma)));
      }
    }
    mus.push(mu);
    sigmas.push(sg);
    catLogP.push(cat);
  }
  return { logWeights, mus, sigmas, catLogP };
}

function logDensity(dims: readonly Dim[], mix: Mixture, x: readonly number[]): number {
  const terms: number[] = [];
  for (let k = 0; k < mix.logWeights.length; k++) {
    let lp = mix.logWeights[k];
    for (let j = 0; j < dims.length; j++) {
      const dim = dims[j];
      const cat = mix.catLogP[k][j];
      if (cat) {
        lp += cat[x[j]];
        continue;
      }
      const mu = mix.mus[k][j];
      const sigma = mix.sigmas[k][j];
      const z = Math.log(Math.max(normalMass((dim.low - mu) / sigma, (dim.high - mu) / sigma), TINY));
      if (dim.kind === 'int' && dim.step !== undefined) {
        const a = Math.max(dim.low, x[j] - dim.step / 2);
        const b = Math.min(dim.high, x[j] + dim.step / 2);
        lp += Math.log(Math.max(normalMass((a - mu) / sigma, (b - mu) / sigma), TINY)) - z;
      } else {
        const u = (x[j] - mu) / sigma;
        lp += -0.5 * u * u - LOG_SQRT_2PI - Math.log(sigma) - z;
      }
    }
    terms.push(lp);
  }
  const max = Math.max(...terms);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(terms.reduce((a, t) => a + Math.exp(t - max), 0));
}

function sampleMixture(dims: readonly Dim[], mix: Mixture, rng: Rng): number[] {
  // Component by weight.
  let u = rng.uniform();
  let k = 0;
  for (; k < mix.logWeights.length - 1; k++) {
    u -= Math.exp(mix.logWeights[k]);
    if (u < 0) break;
  }
  return dims.map((dim, j) => {
    const cat = mix.catLogP[k][j];
    if (cat) {
      let v = rng.uniform();
      for (let c = 0; c < cat.length; c++) {
        v -= Math.exp(cat[c]);
        if (v < 0) return c;
      }
      return cat.length - 1;
    }
    const mu = mix.mus[k][j];
    const sigma = mix.sigmas[k][j];
    for (let tries = 0; tries < 100; tries++) {
      const x = mu + sigma * rng.normal();
      if (x >= dim.low && x <= dim.high) return x;
    }
    return Math.min(dim.high, Math.max(dim.low, mu));
  });
}

/** The internal vector of a config (values rounded back onto the space's grid first). */
function vectorOf(dims: readonly Dim[], inr: InrConfig): number[] {
  return dims.map((d) => toInternal(d, inr[d.key]));
}

function valuesOf(dims: readonly Dim[], x: readonly number[], space: SearchSpace): Record<ExplorableKey, number> {
  const out = {} as Record<ExplorableKey, number>;
  dims.forEach((d, j) => (out[d.key] = fromInternal(d, x[j], space)));
  return out;
}

export interface TpeObservation {
  id: number;
  inr: InrConfig;
  value: number;
}

/**
 * TPE's candidates, best first: those of the `nEiCandidates` draws from l(x)
 * that `accept` takes, each with its log l(x) - log g(x) (duplicate draws once).
 */
export function tpeCandidates(
  space: SearchSpace, observed: readonly TpeObservation[], pending: readonly InrConfig[], rng: Rng,
  opts: { nEiCandidates: number; priorWeight: number; constantLiar: boolean; accept: (values: Record<ExplorableKey, number>) => boolean },
): { values: Record<ExplorableKey, number>; score: number }[] {
  const dims = dimensions(space);
  const sorted = [...observed].sort((a, b) => b.value - a.value || a.id - b.id);
  const nBelow = defaultGamma(sorted.length);
  const below = sorted.slice(0, nBelow).sort((a, b) => a.id - b.id);
  const above = sorted.slice(nBelow).sort((a, b) => a.id - b.id);
  const belowX = below.map((o) => vectorOf(dims, o.inr));
  const aboveX = above.map((o) => vectorOf(dims, o.inr));
  if (opts.constantLiar) for (const p of pending) aboveX.push(vectorOf(dims, p));
  const l = buildMixture(dims, belowX, opts.priorWeight);
  const g = buildMixture(dims, aboveX, opts.priorWeight);
  const cands: { values: Record<ExplorableKey, number>; score: number }[] = [];
  for (let i = 0; i < opts.nEiCandidates; i++) {
    const values = valuesOf(dims, sampleMixture(dims, l, rng), space);
    // Score the value that would run (after rounding onto the grid).
    const x = dims.map((d) => toInternal(d, values[d.key]));
    cands.push({ values, score: logDensity(dims, l, x) - logDensity(dims, g, x) });
  }
  cands.sort((a, b) => b.score - a.score);
  const seen = new Set<string>();
  return cands.filter((c) => {
    const key = JSON.stringify(c.values);
    if (seen.has(key) || !opts.accept(c.values)) return false;
    seen.add(key);
    return true;
  });
}

export class TpeAgent implements Agent {
  readonly name = 'tpe';
  /** Set: overrides the study's `study.tpe.startup`. */
  readonly nStartup?: number;
  readonly nEiCandidates: number;
  readonly priorWeight: number;
  readonly constantLiar: boolean;

  constructor(opts: TpeOptions = {}) {
    this.nStartup = opts.nStartup;
    this.nEiCandidates = opts.nEiCandidates ?? 24;
    this.priorWeight = opts.priorWeight ?? 1;
    this.constantLiar = opts.constantLiar ?? true;
  }

  /**
   * Up to `k` candidates for each of the batch's slots, best first, for
   * another agent to choose from (the hybrid agent). The slots' first
   * candidates are taken as pending in turn (constant liar), so the slots'
   * lists differ as TPE's own proposals would (its own are the first
   * candidates). Fewer lists than slots when no new config is left.
   */
  candidates(ctx: ProposeContext, k: number): Suggestion[][] {
    const { state } = ctx;
    const observed: TpeObservation[] = state.nodes.filter(isDone).map((n) => ({ id: n.id, inr: n.inr, value: scoreValue(n) as number }));
    const pending: InrConfig[] = [...state.nodes.filter((n) => !isDone(n)).map((n) => n.inr), ...ctx.pending];
    const modelled = observed.length >= (this.nStartup ?? state.config.study.tpe.startup);
    const out: Suggestion[][] = [];
    for (let slot = 0; slot < ctx.slots; slot++) {
      const accept = (v: Record<ExplorableKey, number>): boolean => findDuplicate(withValues(ctx.base.inr, v), safetyContext(state, pending)) === undefined;
      const list: Suggestion[] = modelled
        ? tpeCandidates(ctx.space, observed, pending, ctx.rng, { nEiCandidates: this.nEiCandidates, priorWeight: this.priorWeight, constantLiar: this.constantLiar, accept })
          .slice(0, k).map((c) => ({ values: c.values, score: c.score }))
        : [];
      for (let tries = 0; tries < 100 * k && list.length < k; tries++) {
        const v = sampleUniform(ctx.space, ctx.rng);
        if (accept(v) && !list.some((c) => JSON.stringify(c.values) === JSON.stringify(v))) list.push({ values: v });
      }
      if (list[0] === undefined) break; // the space is full: later slots would find nothing either
      pending.push(withValues(ctx.base.inr, list[0].values));
      out.push(list);
    }
    return out;
  }

  async propose(ctx: ProposeContext): Promise<Proposal[]> {
    const { state } = ctx;
    const out: Proposal[] = [];
    const taken = [...ctx.pending];
    // The base config is always trial 1, as the reference's Optuna baseline enqueues it: both start from the same point.
    if (state.nodes.length === 0 && ctx.slots > 0 && findDuplicate(ctx.base.inr, safetyContext(state, taken)) === undefined) {
      taken.push(ctx.base.inr);
      out.push({ parent: null, inr: { ...ctx.base.inr }, mutation: 'start: base config (trial 1, as an enqueued first trial in Optuna)', strategy: 'start' });
    }
    const observed = state.nodes.filter(isDone).length;
    const nStartup = this.nStartup ?? state.config.study.tpe.startup;
    for (const [c] of this.candidates({ ...ctx, slots: ctx.slots - out.length, pending: taken }, 1)) {
      const how = observed < nStartup ? `startup uniform sample (${observed}/${nStartup} trials before TPE)`
        : c.score !== undefined ? `tpe sample (log l/g = ${c.score.toFixed(2)}, ${observed} trials, ${defaultGamma(observed)} good)`
          : 'tpe: every candidate was a duplicate; uniform sample';
      out.push({ parent: null, inr: { ...c.values }, mutation: `${how}: ${sampledText(c.values, fmt)}`, strategy: 'tpe' });
    }
    return out;
  }

  async analyse(ctx: AnalyseContext): Promise<AgentNotes> {
    return analyseRules(ctx, { rootProposals: true });
  }

  async closeBlock(ctx: CloseBlockContext): Promise<BlockSummary> {
    return closeBlockRules(ctx);
  }
}
