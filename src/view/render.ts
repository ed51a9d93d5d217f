/**
 * Figures are Vega-Lite specs, rendered here without a browser: vega's
 * headless view writes SVG (no canvas: text widths are estimated), and resvg
 * draws the SVG to PNG. Text is set in DejaVu Sans, which a Debian machine
 * has (fonts-dejavu-core); elsewhere resvg falls back to the system's fonts.
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type Spec = TopLevelSpec;

/** One figure: a file name (no extension), a title for people, and its spec. */
export interface Figure {
  name: string;
  title: string;
  spec: Spec;
}

export const FONT = 'DejaVu Sans';
const FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'].filter((f) => existsSync(f));

/** The look every figure shares; a spec's own `config` wins. */
const CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

function withConfig(spec: Spec): Spec {
  return { ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as Spec;
}

export async function toSvg(spec: Spec): Promise<string> {
  const view = new vega.View(vega.parse(compile(withConfig(spec)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An SVG drawn to PNG at `scale` times its own size. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { fontFiles: FONT_FILES, loadSystemFonts: FONT_FILES.length === 0, defaultFontFamily: FONT, sansSerifFamily: FONT },
  });
  return resvg.render().asPng();
}
