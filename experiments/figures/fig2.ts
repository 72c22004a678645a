/**
 * Figure 2 (or its appendix version) as SVG: the three data sets on top, the loss contours and
 * the Fisher / empirical-Fisher quadratic models (ellipses at 3 standard deviations) below.
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import type { Fig2Panel, Fig2Result } from '../compute/fig2.js';
import { compose, createDocument, figureTitle, legend, panelDefaults, titleMark } from './render.js';
import { CLASS_COLORS, LINE_WIDTH, METHOD } from './style.js';

const PANEL = 280;
const MARGIN = { top: 26, right: 12, bottom: 36, left: 52 };

function margins() {
  return { marginTop: MARGIN.top, marginRight: MARGIN.right, marginBottom: MARGIN.bottom, marginLeft: MARGIN.left };
}

function dataPanel(doc: Document, p: Fig2Panel, variant: Fig2Result['variant'], first: boolean): Element {
  const label = `panel ${p.title} data`;
  if (variant === 'main') {
    const pts = p.data.x0.map((x, i) => ({ x, y: p.data.x1[i]!, c: p.data.y[i]! }));
    return Plot.plot({
      ...panelDefaults(doc, PANEL, PANEL, label),
      ...margins(),
      x: { domain: [-9, 9], label: 'x₁', labelAnchor: 'center', labelArrow: 'none' },
      y: { domain: [-9, 9], label: first ? 'Dataset: x₂' : 'x₂', labelAnchor: 'center', labelArrow: 'none' },
      marks: [
        Plot.frame({ stroke: '#ccc' }),
        Plot.dot(
          pts.filter((d) => d.c === 0),
          { x: 'x', y: 'y', symbol: 'triangle', r: 2.2, fill: CLASS_COLORS[0], fillOpacity: 0.4, clip: true },
        ),
        Plot.dot(
          pts.filter((d) => d.c === 1),
          { x: 'x', y: 'y', symbol: 'times', r: 2.4, stroke: CLASS_COLORS[1], strokeOpacity: 0.6, clip: true },
        ),
        titleMark(p.title, MARGIN.top),
      ],
    }) as unknown as Element;
  }
  const line = p.fitLine ? [-4, 4].map((x) => [x, p.fitLine!.slope * x + p.fitLine!.intercept]) : [];
  return Plot.plot({
    ...panelDefaults(doc, PANEL, PANEL, label),
    ...margins(),
    x: { domain: [-4, 4], label: 'x', labelAnchor: 'center', labelArrow: 'none' },
    y: { domain: [-6, 10], label: first ? 'Dataset: y' : 'y', labelAnchor: 'center', labelArrow: 'none' },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      Plot.dot(
        p.data.x0.map((x, i) => [x, p.data.y[i]!]),
        { symbol: 'times', r: 2.2, stroke: CLASS_COLORS[1], strokeOpacity: 0.5, clip: true },
      ),
      Plot.line(line, { stroke: CLASS_COLORS[0], strokeWidth: 2, clip: true }),
      titleMark(p.title, MARGIN.top),
    ],
  }) as unknown as Element;
}

function quadraticPanel(doc: Document, p: Fig2Panel, first: boolean): Element {
  const n = p.contours.x.length;
  return Plot.plot({
    ...panelDefaults(doc, PANEL, PANEL, `panel ${p.title} quadratic approximation`),
    ...margins(),
    x: { domain: p.view.x, label: 'θ₁', labelAnchor: 'center', labelArrow: 'none', ticks: 4 },
    y: { domain: p.view.y, label: first ? 'Quadratic approx.: θ₂' : 'θ₂', labelAnchor: 'center', labelArrow: 'none', ticks: 4 },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      Plot.contour(p.contours.values, {
        x1: p.contours.x[0]!,
        x2: p.contours.x[n - 1]!,
        y1: p.contours.y[0]!,
        y2: p.contours.y[p.contours.y.length - 1]!,
        width: n,
        height: p.contours.y.length,
        thresholds: 4,
        stroke: '#b3b3b3',
        strokeWidth: 1.5,
        fill: null,
      }),
      Plot.line(p.ellipses.fisher, { stroke: METHOD.NGD.color, strokeWidth: LINE_WIDTH + 0.5, clip: true }),
      Plot.line(p.ellipses.empiricalFisher, { stroke: METHOD.EF.color, strokeWidth: LINE_WIDTH + 0.5, strokeDasharray: METHOD.EF.dash, clip: true }),
      Plot.dot([p.thetaStar], { symbol: 'star', r: 6, fill: 'black' }),
    ],
  }) as unknown as Element;
}

/** The Fig. 2 (or appendix) SVG document. */
export function fig2Svg(r: Fig2Result): string {
  const doc = createDocument();
  const cols = r.panels.length;
  const width = cols * PANEL + (cols - 1) * 10;
  const title = r.variant === 'main' ? 'Fig. 2 — Fisher vs. empirical Fisher at the optimum, logistic regression' : 'Fig. 2 (appendix) — Fisher vs. empirical Fisher at the optimum, linear regression';
  const parts = [
    { svg: figureTitle(doc, title, width), x: 0, y: 0 },
    ...r.panels.map((p, i) => ({ svg: dataPanel(doc, p, r.variant, i === 0), x: i * (PANEL + 10), y: 30 })),
    ...r.panels.map((p, i) => ({ svg: quadraticPanel(doc, p, i === 0), x: i * (PANEL + 10), y: 30 + PANEL + 6 })),
    {
      svg: legend(
        doc,
        [
          { label: 'Loss contour', color: '#b3b3b3' },
          { label: 'Fisher', style: METHOD.NGD },
          { label: 'emp. Fisher', style: METHOD.EF },
          { label: 'Minimum', symbol: 'star', color: 'black' },
        ],
        width,
      ),
      x: 0,
      y: 30 + 2 * PANEL + 10,
    },
  ];
  return compose(doc, width, 30 + 2 * PANEL + 40, r.variant === 'main' ? 'Figure 2: misspecification' : 'Figure 2 appendix: misspecification, linear regression', parts);
}
