/**
 * The figures of a study, as Vega-Lite specs, all derived from the state the
 * journal folds to: the exploration tree, the history, one slice per
 * parameter, parallel coordinates, parameter importance, training time
 * against R2 with its Pareto front, and (for several studies) their
 * best-so-far curves side by side. "Best" is what the study calls best: a
 * finished trial within the budget, with a finite R2.
 */
import { EXPLORABLE_KEYS, type ExplorableKey } from '../config/search-space.js';
import type { StudyNode, StudyState } from '../study/state.js';
import { bestNode, childrenOf, eligible, lineage } from '../study/tree.js';
import { pedAnova, TOP_QUANTILE, unit } from './importance.js';
import { outcome } from './outcome.js';
import type { Figure, Spec } from './render.js';

const W = 560;
const R2_SCHEME = 'redyellowgreen';

/** The R2 a node is drawn with: finite, or undefined (failed, pending, NaN). */
function r2Of(n: StudyNode): number | undefined {
  const r2 = n.metrics?.final_r2;
  return r2 !== undefined && Number.isFinite(r2) ? r2 : undefined;
}

/** The best R2 within budget after each trial (from the first one that has one). */
function bestSoFar(state: StudyState): { node: number; best: number }[] {
  let best: number | undefined;
  const out: { node: number; best: number }[] = [];
  for (const n of state.nodes) {
    const r2 = r2Of(n);
    if (eligible(n, state.settings.max_trial_minutes) && r2 !== undefined && (best === undefined || r2 > best)) best = r2;
    if (best !== undefined) out.push({ node: n.id, best });
  }
  return out;
}

/** The R2 colour scale of a study: from its lowest finite R2 (at most 0.9) to 1. */
function r2Domain(state: StudyState): [number, number] {
  const lows = state.nodes.map(r2Of).filter((v): v is number => v !== undefined);
  return [Math.min(0.9, ...lows.map((v) => Math.max(0, v))), 1];
}

/** Descendants of each node plus one (the tree's visits, over all blocks). */
export function treeVisits(state: StudyState): Map<number, number> {
  const kids = childrenOf(state);
  const visits = new Map<number, number>();
  const count = (id: number): number => {
    const own = visits.get(id);
    if (own !== undefined) return own;
    const v = 1 + (kids.get(id) ?? []).reduce((s, c) => s + count(c), 0);
    visits.set(id, v);
    return v;
  };
  for (const n of [...state.nodes].reverse()) count(n.id); // children before parents: no deep recursion
  return visits;
}

export function treeFigure(state: StudyState): Figure {
  const depth = new Map<number, number>();
  for (const n of state.nodes) depth.set(n.id, n.parent === null ? 0 : (depth.get(n.parent) ?? 0) + 1);
  const visits = treeVisits(state);
  const best = bestNode(state);
  const onPath = new Set(best === undefined ? [] : lineage(state, best.id).map((n) => n.id));
  const nodes = state.nodes.map((n) => ({
    node: n.id, depth: depth.get(n.id) ?? 0, block: n.block, visits: visits.get(n.id) ?? 1, r2: r2Of(n) ?? null,
    outcome: outcome(n), best_path: onPath.has(n.id), mutation: n.mutation,
  }));
  const edges = state.nodes.filter((n) => n.parent !== null).map((n) => ({
    parent: n.parent as number, child: n.id, x: n.parent as number, y: depth.get(n.parent as number) ?? 0, x2: n.id, y2: depth.get(n.id) ?? 0,
    mutation: n.mutation.length > 40 ? `${n.mutation.slice(0, 39)}…` : n.mutation, best_path: onPath.has(n.id) && onPath.has(n.parent as number),
  }));
  const blocks = state.blocks.filter((b) => b.nodes.length > 0).map((b) => ({ block: b.index, from: Math.min(...b.nodes) - 0.5, to: Math.max(...b.nodes) + 0.5, label: `block ${b.index}`, shade: b.index % 2 === 0 ? 0.03 : 0.1 }));
  const x = { type: 'quantitative' as const, title: 'trial (in order)', scale: { domain: [0.5, state.nodes.length + 0.5], nice: false, zero: false } };
  const y = { type: 'quantitative' as const, title: 'depth in the tree', scale: { reverse: true, domainMin: -0.5 } };
  const labels = state.nodes.length <= 30;
  return {
    name: 'tree', title: 'Exploration tree',
    spec: {
      title: `Exploration tree: colour R2, size visits; the path to the best trial${best ? ` (${best.id})` : ''} in black`,
      width: Math.max(W, Math.min(2400, state.nodes.length * 24)), height: 320,
      layer: [
        { data: { name: 'blocks', values: blocks }, mark: { type: 'rect', color: '#555' }, encoding: { x: { field: 'from', ...x }, x2: { field: 'to' }, opacity: { field: 'shade', type: 'quantitative', scale: null } } },
        { data: { name: 'blocks', values: blocks }, mark: { type: 'text', baseline: 'top', align: 'left', dx: 3, dy: 3, color: '#555', fontSize: 10 }, encoding: { x: { field: 'from', ...x }, y: { datum: -0.5, ...y }, text: { field: 'label' } } },
        {
          data: { name: 'edges', values: edges }, mark: { type: 'rule' },
          encoding: {
            x: { field: 'x', ...x }, y: { field: 'y', ...y }, x2: { field: 'x2' }, y2: { field: 'y2' },
            color: { condition: { test: 'datum.best_path', value: 'black' }, value: '#aaa' },
            strokeWidth: { condition: { test: 'datum.best_path', value: 2.5 }, value: 1 },
          },
        },
        ...(labels ? [{ data: { name: 'edges', values: edges }, mark: { type: 'text' as const, fontSize: 8, color: '#555', dy: -12 }, encoding: { x: { field: 'x2', ...x }, y: { field: 'y2', ...y }, text: { field: 'mutation' } } }] : []),
        {
          data: { name: 'nodes', values: nodes }, mark: { type: 'circle', opacity: 1, stroke: 'black' },
          encoding: {
            x: { field: 'node', ...x }, y: { field: 'depth', ...y },
            size: { field: 'visits', type: 'quantitative', title: 'visits', scale: { range: [40, 400], zero: false } },
            color: { field: 'r2', type: 'quantitative', title: 'R2', scale: { scheme: R2_SCHEME, domain: r2Domain(state), clamp: true } },
            strokeWidth: { condition: { test: 'datum.best_path', value: 2 }, value: 0 },
            tooltip: [{ field: 'node' }, { field: 'r2', format: '.4f' }, { field: 'outcome' }, { field: 'visits' }, { field: 'mutation' }],
          },
        },
      ],
    } as Spec,
  };
}

/** Each trial's R2 and the best so far; with `oneMinus`, 1 - R2 on a log axis (where 0.99 and 0.999 are far apart). */
export function historyFigure(state: StudyState, oneMinus = false): Figure {
  const show = (v: number): number => (oneMinus ? Math.max(1e-6, 1 - v) : v);
  const best = new Map(bestSoFar(state).map((b) => [b.node, b.best]));
  const values = state.nodes.filter((n) => r2Of(n) !== undefined).map((n) => {
    const b = best.get(n.id);
    return { node: n.id, value: show(r2Of(n) as number), best: b === undefined ? null : show(b), outcome: outcome(n) };
  });
  const title = oneMinus ? '1 - R2 (log)' : 'R2';
  const scale = oneMinus ? { type: 'log' as const } : { zero: false };
  return {
    name: oneMinus ? 'history-1-r2' : 'history', title: oneMinus ? 'History (1 - R2)' : 'History',
    spec: {
      title: `${title} of each trial, and the best so far`, width: W, height: 280, data: { values },
      layer: [
        { mark: { type: 'point', filled: true }, encoding: { x: { field: 'node', type: 'quantitative', title: 'trial' }, y: { field: 'value', type: 'quantitative', title, scale }, color: { field: 'outcome', type: 'nominal', title: 'outcome' } } },
        { mark: { type: 'line', interpolate: 'step-after', color: 'black' }, encoding: { x: { field: 'node', type: 'quantitative' }, y: { field: 'best', type: 'quantitative', scale } } },
      ],
    } as Spec,
  };
}

/** The search space's parameters that vary in this study (a fixed one says nothing). */
function varied(state: StudyState): ExplorableKey[] {
  return EXPLORABLE_KEYS.filter((k) => new Set(state.nodes.map((n) => n.inr[k])).size > 1);
}

export function slicesFigure(state: StudyState): Figure {
  const keys = varied(state);
  const rows = state.nodes.filter((n) => r2Of(n) !== undefined);
  return {
    name: 'slices', title: 'Slices',
    spec: {
      title: 'R2 against each parameter (log axis where the search space is log)',
      columns: 4,
      concat: keys.map((k) => ({
        width: 180, height: 160,
        data: { values: rows.map((n) => ({ node: n.id, value: n.inr[k], r2: r2Of(n) })) },
        mark: { type: 'point', filled: true, opacity: 0.7 },
        encoding: {
          x: { field: 'value', type: 'quantitative', title: k, scale: state.space[k].scale === 'log' ? { type: 'log' } : { zero: false } },
          y: { field: 'r2', type: 'quantitative', title: 'R2', scale: { zero: false } },
          color: { field: 'node', type: 'quantitative', title: 'trial', scale: { scheme: 'greys' } },
        },
      })),
    } as Spec,
  };
}

export function parallelFigure(state: StudyState): Figure {
  const keys = varied(state);
  const values = state.nodes.filter((n) => r2Of(n) !== undefined).flatMap((n) => [
    ...keys.map((k) => ({ node: n.id, axis: k, position: unit(state.space[k], n.inr[k]), value: n.inr[k], r2: r2Of(n) })),
    { node: n.id, axis: 'R2', position: r2Of(n), value: r2Of(n), r2: r2Of(n) },
  ]);
  return {
    name: 'parallel', title: 'Parallel coordinates',
    spec: {
      title: 'Parallel coordinates: each line a trial, each axis its range (log where the space is log), coloured by R2',
      width: Math.max(W, 110 * (keys.length + 1)), height: 300, data: { values },
      mark: { type: 'line', opacity: 0.6 },
      encoding: {
        x: { field: 'axis', type: 'ordinal', sort: [...keys, 'R2'], title: null },
        y: { field: 'position', type: 'quantitative', title: 'position in range (R2 on the last axis)', scale: { zero: false } },
        detail: { field: 'node', type: 'nominal' },
        color: { field: 'r2', type: 'quantitative', title: 'R2', scale: { scheme: R2_SCHEME, domain: r2Domain(state), clamp: true } },
        tooltip: [{ field: 'node' }, { field: 'axis' }, { field: 'value' }],
      },
    } as Spec,
  };
}

export function importanceFigure(state: StudyState): Figure {
  const keys = varied(state);
  const trials = state.nodes.filter((n) => r2Of(n) !== undefined).map((n) => ({ values: n.inr as unknown as Record<string, number>, score: r2Of(n) as number }));
  const values = pedAnova(trials, keys.map((k) => state.space[k]));
  return {
    name: 'importance', title: 'Parameter importance',
    spec: {
      title: { text: 'Parameter importance (PED-ANOVA)', subtitle: `Watanabe, Bansal, Hutter, IJCAI 2023; top ${TOP_QUANTILE * 100}% of ${trials.length} trials against all, as Optuna's PedAnovaImportanceEvaluator` },
      width: 420, height: Math.max(60, 26 * values.length), data: { values },
      mark: { type: 'bar', color: '#1f77b4' },
      encoding: {
        y: { field: 'key', type: 'nominal', sort: '-x', title: null },
        x: { field: 'importance', type: 'quantitative', title: 'importance (sums to 1)', axis: { format: '.0%' } },
      },
    } as Spec,
  };
}

/** Trials no other trial beats on both counts (less training time and a higher R2), by time. */
export function paretoFront(points: readonly { node: number; minutes: number; r2: number }[]): number[] {
  const sorted = [...points].sort((a, b) => a.minutes - b.minutes || b.r2 - a.r2);
  const front: number[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.r2 > best) {
      front.push(p.node);
      best = p.r2;
    }
  }
  return front;
}

export function paretoFigure(state: StudyState): Figure {
  const points = state.nodes.filter((n) => r2Of(n) !== undefined && n.metrics !== undefined)
    .map((n) => ({ node: n.id, minutes: n.metrics!.training_time_min, r2: r2Of(n) as number, outcome: outcome(n) }));
  const front = new Set(paretoFront(points));
  const values = points.map((p) => ({ ...p, front: front.has(p.node) }));
  return {
    name: 'pareto', title: 'Training time against R2',
    spec: {
      title: 'Training time against R2: the Pareto front (no trial is both faster and better) joined',
      width: W, height: 300,
      layer: [
        { data: { values }, mark: { type: 'point', filled: true, opacity: 0.6 }, encoding: { x: { field: 'minutes', type: 'quantitative', title: 'training time (min)' }, y: { field: 'r2', type: 'quantitative', title: 'R2', scale: { zero: false } }, color: { field: 'outcome', type: 'nominal' }, tooltip: [{ field: 'node' }, { field: 'minutes' }, { field: 'r2' }] } },
        { data: { values: values.filter((v) => v.front) }, mark: { type: 'line', interpolate: 'step-after', color: 'black', point: true }, encoding: { x: { field: 'minutes', type: 'quantitative' }, y: { field: 'r2', type: 'quantitative' } } },
      ],
    } as Spec,
  };
}

/** Best-so-far R2 against trials, one line per study (named by its folder and agent). */
export function compareFigure(studies: readonly { label: string; state: StudyState }[]): Figure {
  const values = studies.flatMap(({ label, state }) => bestSoFar(state).map((b) => ({ study: label, trial: b.node, best: b.best })));
  return {
    name: 'compare', title: 'Studies compared',
    spec: {
      title: 'Best R2 so far, per study', width: W, height: 300, data: { values },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: { x: { field: 'trial', type: 'quantitative', title: 'trials' }, y: { field: 'best', type: 'quantitative', title: 'best R2', scale: { zero: false } }, color: { field: 'study', type: 'nominal' } },
    } as Spec,
  };
}

/** Every figure of one study, in reading order. */
export function studyFigures(state: StudyState): Figure[] {
  return [treeFigure(state), historyFigure(state), historyFigure(state, true), slicesFigure(state), parallelFigure(state), importanceFigure(state), paretoFigure(state)];
}

/** The figures of one or more studies: for several, their comparison, and each study's own named `s1-`, `s2-`, ... apart. */
export function studiesFigures(studies: readonly { label: string; state: StudyState }[]): { compare?: Figure; each: Figure[][] } {
  const many = studies.length > 1;
  return {
    ...(many ? { compare: compareFigure(studies) } : {}),
    each: studies.map((s, i) => studyFigures(s.state).map((f) => (many ? { ...f, name: `s${i + 1}-${f.name}` } : f))),
  };
}
