/**
 * The figures of one run, as Vega-Lite specs: what the reference draws for
 * every run (loss curve, per-frame MSE, truth beside prediction, prediction
 * against truth) and a kinograph. Large arrays arrive binned (bins.ts), so a
 * full-scale run (10 M cell-frames) gives figures of a few thousand marks.
 */
import { blockMeans, density, speeds, thin } from './bins.js';
import type { Figure, Spec } from './render.js';
import type { RunData } from './run-data.js';

const W = 520;
const H = 260;
const SPEED = 'viridis';

function lossFigure(d: RunData): Figure {
  const h = d.record.loss_history;
  const values = h.step.map((step, i) => ({ step, loss: h.loss[i] })).filter((v) => Number.isFinite(v.loss) && v.loss > 0);
  return {
    name: 'loss', title: 'Training loss',
    spec: {
      title: `Loss per step (mean over ${h.every} steps)`, width: W, height: H, data: { values }, mark: { type: 'line', color: '#1f77b4' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'loss', type: 'quantitative', title: 'loss (MSE)', scale: { type: 'log' } },
      },
    },
  };
}

function r2Figure(d: RunData): Figure {
  const values = d.record.evaluations.map((e) => ({ step: e.step, r2: e.r2 })).filter((v) => Number.isFinite(v.r2));
  return {
    name: 'r2', title: 'R2 at each evaluation',
    spec: {
      title: 'R2 at each evaluation', width: W, height: H, data: { values }, mark: { type: 'line', point: true, color: '#2ca02c' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'r2', type: 'quantitative', title: 'R2', scale: { zero: false } },
      },
    },
  };
}

function frameMseFigure(d: RunData): Figure {
  const values = thin(d.frameMse).map((p) => ({ frame: p.x, mse: p.y })).filter((v) => Number.isFinite(v.mse) && v.mse > 0);
  return {
    name: 'frame_mse', title: 'MSE per frame',
    spec: {
      title: 'MSE per frame', width: W, height: H, data: { values }, mark: { type: 'line', color: '#d62728' },
      encoding: {
        x: { field: 'frame', type: 'quantitative', title: 'frame' },
        y: { field: 'mse', type: 'quantitative', title: 'MSE', scale: { type: 'log' } },
      },
    },
  };
}

/** The frame the still figures show: the middle one. */
export function middleFrame(frames: number): number {
  return Math.floor(frames / 2);
}

function framesFigure(d: RunData): Figure | undefined {
  if (d.pos === undefined) return undefined;
  const f = middleFrame(d.frames);
  const truth = speeds(d.truth.subarray(f * d.cells * 3, (f + 1) * d.cells * 3));
  const pred = speeds(d.pred.subarray(f * d.cells * 3, (f + 1) * d.cells * 3));
  const values: { panel: string; x: number; y: number; speed: number }[] = [];
  for (let c = 0; c < d.cells; c++) {
    const x = d.pos[(f * d.cells + c) * 3];
    const y = d.pos[(f * d.cells + c) * 3 + 1];
    values.push({ panel: 'truth', x, y, speed: truth[c] }, { panel: 'prediction', x, y, speed: pred[c] });
  }
  return {
    name: 'frames', title: `Truth beside prediction, frame ${f}`,
    spec: {
      title: `Speed of each cell at frame ${f} (x-y projection), one colour scale`,
      data: { values },
      facet: { column: { field: 'panel', type: 'nominal', sort: ['truth', 'prediction'], title: null } },
      spec: {
        width: 300, height: 300, mark: { type: 'circle', size: 18, opacity: 0.9 },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: { domain: [0, 1] }, title: 'x (unit box)' },
          y: { field: 'y', type: 'quantitative', scale: { domain: [0, 1] }, title: 'y (unit box)' },
          color: { field: 'speed', type: 'quantitative', scale: { scheme: SPEED }, title: 'speed' },
        },
      },
    } as Spec,
  };
}

function densityFigure(d: RunData): Figure & { points: number } {
  const dens = density(d.truth, d.pred);
  const m = d.record.metrics;
  const stat = m === null ? '' : `: R2 ${m.final_r2.toFixed(4)}, slope ${m.slope.toFixed(3)}`;
  return {
    name: 'density', title: 'Prediction against truth', points: dens.points,
    spec: {
      title: `Prediction against truth, all components (${dens.points.toLocaleString('en')} values)${stat}`,
      width: 360, height: 360,
      layer: [
        {
          data: { values: dens.bins }, mark: { type: 'rect' },
          encoding: {
            x: { field: 'x0', type: 'quantitative', title: 'truth', scale: { domain: [dens.lo, dens.hi] } },
            x2: { field: 'x1' },
            y: { field: 'y0', type: 'quantitative', title: 'prediction', scale: { domain: [dens.lo, dens.hi] } },
            y2: { field: 'y1' },
            color: { field: 'count', type: 'quantitative', scale: { type: 'log', scheme: 'blues' }, title: 'values' },
          },
        },
        {
          data: { values: [{ a: dens.lo, b: dens.lo }, { a: dens.hi, b: dens.hi }] }, mark: { type: 'line', color: '#d62728', strokeDash: [4, 3] },
          encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
        },
      ],
    } as Spec,
  };
}

function kinographFigure(d: RunData): Figure {
  const truth = speeds(d.truth);
  const pred = speeds(d.pred);
  const error = speeds(d.pred, d.truth);
  let top = 0;
  const panels = [['truth', truth], ['prediction', pred], ['error', error]] as const;
  const grids = panels.map(([panel, v]) => ({ panel, cells: blockMeans(v, d.frames, d.cells) }));
  for (const g of grids.slice(0, 2)) for (const c of g.cells) if (Number.isFinite(c.value)) top = Math.max(top, c.value);
  const panel = (name: string, values: object[], domain: [number, number] | undefined, scheme: string, legend: string): object => ({
    title: name, width: 220, height: 260, data: { values }, mark: { type: 'rect' },
    encoding: {
      x: { field: 'c0', type: 'quantitative', title: 'cell', scale: { domain: [0, d.cells], nice: false } },
      x2: { field: 'c1' },
      y: { field: 'f0', type: 'quantitative', title: 'frame', scale: { domain: [0, d.frames], nice: false, reverse: true } },
      y2: { field: 'f1' },
      color: { field: 'value', type: 'quantitative', scale: { scheme, ...(domain ? { domain } : {}) }, title: legend },
    },
  });
  return {
    name: 'kinograph', title: 'Kinograph',
    spec: {
      title: 'Kinograph: speed of each cell over time (block means)',
      hconcat: [
        panel('truth', grids[0].cells, [0, top], SPEED, 'speed'),
        panel('prediction', grids[1].cells, [0, top], SPEED, 'speed'),
        panel('error |prediction - truth|', grids[2].cells, undefined, 'reds', 'error'),
      ],
      resolve: { scale: { color: 'independent' } },
    } as Spec,
  };
}

/** The names of a run's figures, in order (`frames` needs the data set's positions). */
export const RUN_FIGURE_NAMES = ['loss', 'r2', 'frame_mse', 'frames', 'density', 'kinograph'];

/** Every figure of a run, in the order a reader wants them. */
export function runFigures(d: RunData): Figure[] {
  return [lossFigure(d), r2Figure(d), frameMseFigure(d), framesFigure(d), densityFigure(d), kinographFigure(d)].filter((f): f is Figure => f !== undefined);
}
