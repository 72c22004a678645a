/**
 * Figure 3 (or its appendix version) as SVG: per data set, the losses of the best GD, NGD and
 * EFGD runs (log scale) on top and the NGD/EF cosine along the best EFGD path below.
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import type { Fig3DatasetResult, Fig3Variant } from '../compute/fig3.js';
import { GRID_OPTIMIZERS } from '../compute/grid.js';
import { compose, createDocument, figureTitle, legend, panelDefaults, positiveExtent, titleMark } from './render.js';
import { LINE_WIDTH, METHOD } from './style.js';

const W = 290,
  TOP_H = 220,
  BOTTOM_H = 150;
const MARGIN = { top: 26, right: 14, bottom: 34, left: 58 };

function lossPanel(doc: Document, r: Fig3DatasetResult, iterations: number, first: boolean): Element {
  const rows = GRID_OPTIMIZERS.flatMap((name) => r.best[name].losses.map((loss, k) => ({ name, k, loss }))).filter((d) => Number.isFinite(d.loss) && d.loss > 0);
  const extent = positiveExtent(rows.map((d) => d.loss)) ?? [1e-3, 1];
  return Plot.plot({
    ...panelDefaults(doc, W, TOP_H, `panel ${r.name} loss`),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: 18,
    marginLeft: MARGIN.left,
    x: { domain: [0, iterations], axis: null },
    y: {
      type: 'log',
      domain: extent[0] === extent[1] ? [extent[0] / 2, extent[1] * 2] : extent,
      nice: true,
      label: first ? 'Loss' : null,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: 4,
      tickFormat: '~g',
    },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      ...GRID_OPTIMIZERS.map((name) => {
        const s = METHOD[name];
        return Plot.line(
          rows.filter((d) => d.name === name),
          { x: 'k', y: 'loss', stroke: s.color, strokeWidth: LINE_WIDTH, strokeDasharray: s.dash || undefined },
        );
      }),
      titleMark(`${r.name} (N = ${r.N}, D = ${r.D})`, MARGIN.top),
    ],
  }) as unknown as Element;
}

function cosinePanel(doc: Document, r: Fig3DatasetResult, iterations: number, first: boolean): Element {
  const pts = r.cosines.map((c, k) => ({ k, c })).filter((d) => Number.isFinite(d.c));
  return Plot.plot({
    ...panelDefaults(doc, W, BOTTOM_H, `panel ${r.name} cosine`),
    marginTop: 8,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    x: { domain: [0, iterations], label: 'Iteration', labelAnchor: 'center', labelArrow: 'none', ticks: [0, 25, 50, 75, 100].filter((t) => t <= iterations) },
    y: { domain: [-1, 1], label: first ? 'Cosine (NGD, EF)' : null, labelAnchor: 'center', labelArrow: 'none', ticks: [-1, 0, 1], grid: true },
    marks: [Plot.frame({ stroke: '#ccc' }), Plot.dot(pts, { x: 'k', y: 'c', r: 2, fill: METHOD.EFGD.color })],
  }) as unknown as Element;
}

/** The Fig. 3 (or appendix) SVG document; `datasets` in panel order (skipped ones absent). */
export function fig3Svg(variant: Fig3Variant, datasets: readonly Fig3DatasetResult[], iterations: number, note = ''): string {
  const doc = createDocument();
  const cols = Math.max(datasets.length, 1);
  const width = Math.max(cols * W + (cols - 1) * 8, 600);
  const title = (variant === 'main' ? 'Fig. 3 — best GD, NGD and EFGD runs and the NGD/EF cosine' : 'Fig. 3 (appendix) — linear regression on UCI data') + note;
  const parts = [
    { svg: figureTitle(doc, title, width), x: 0, y: 0 },
    ...datasets.flatMap((r, i) => [
      { svg: lossPanel(doc, r, iterations, i === 0), x: i * (W + 8), y: 30 },
      { svg: cosinePanel(doc, r, iterations, i === 0), x: i * (W + 8), y: 30 + TOP_H },
    ]),
    {
      svg: legend(doc, [...GRID_OPTIMIZERS.map((name) => ({ label: name, style: METHOD[name] })), { label: 'cosine along the best EFGD run', symbol: 'circle', color: METHOD.EFGD.color }], width),
      x: 0,
      y: 30 + TOP_H + BOTTOM_H + 4,
    },
  ];
  return compose(doc, width, 30 + TOP_H + BOTTOM_H + 34, variant === 'main' ? 'Figure 3: optimization' : 'Figure 3 appendix: optimization', parts);
}
