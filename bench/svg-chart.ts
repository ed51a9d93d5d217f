/**
 * A small SVG line chart for benchmark figures in docs (panels side by side,
 * one colour per series group, dashes per variant). No dependency: the
 * figures are plain lines on linear axes.
 */
export interface Series {
  name: string;
  colour: string;
  dash?: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
}

export interface ChartOptions {
  xLabel: string;
  yLabel: string;
  yRange: [number, number];
}

const W = 360;
const H = 260;
const M = { left: 52, right: 12, top: 28, bottom: 40 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, n: number): number[] {
  const step = (hi - lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

function panel(p: Panel, o: ChartOptions, dx: number): string {
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = o.yRange;
  const round = (v: number): number => Math.round(v * 10) / 10;
  const px = (x: number): number => round(dx + M.left + ((x - x0) / (x1 - x0 || 1)) * (W - M.left - M.right));
  const py = (y: number): number => round(M.top + (1 - (Math.min(y1, Math.max(y0, y)) - y0) / (y1 - y0)) * (H - M.top - M.bottom));
  const out: string[] = [`<text x="${dx + W / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  for (const y of ticks(y0, y1, 4)) {
    out.push(`<line x1="${px(x0)}" x2="${px(x1)}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${px(x0) - 4}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(2)}</text>`);
  }
  for (const x of ticks(x0, x1, 4)) out.push(`<text x="${px(x)}" y="${H - M.bottom + 14}" text-anchor="middle">${Math.round(x)}</text>`);
  out.push(`<text x="${dx + W / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(${dx + 12} ${H / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const s of p.series) {
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x)},${py(y)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.6"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(s.name)}</title></path>`);
  }
  return out.join('\n');
}

/** Panels side by side, with one legend of the first panel's series below them. */
export function lineChart(panels: Panel[], o: ChartOptions): string {
  const legend = panels[0]?.series ?? [];
  const rows = Math.ceil(legend.length / 4);
  const width = W * panels.length;
  const height = H + 8 + rows * 18;
  const items = legend.map((s, i) => {
    const x = 20 + (i % 4) * 200;
    const y = H + 14 + Math.floor(i / 4) * 18;
    return `<line x1="${x}" x2="${x + 28}" y1="${y - 4}" y2="${y - 4}" stroke="${s.colour}" stroke-width="1.6"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/><text x="${x + 34}" y="${y}">${esc(s.name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${panels.map((p, i) => panel(p, o, i * W)).join('\n')}
${items.join('\n')}
</svg>
`;
}
