/**
 * Figure 1 as SVG: the data with the fitted line, then the GD, NGD and EF vector fields with
 * loss contours and the four paths of each flow (start ⬢, end ★).
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import { FIG1_FIELDS, type Fig1Field, type Fig1Result } from '../compute/fig1.js';
import { compose, createDocument, figureTitle, legend, panelDefaults, titleMark } from './render.js';
import { CLASS_COLORS, GRAY, LINE_WIDTH, METHOD } from './style.js';

const PANEL = 270;
const MARGIN = { top: 26, right: 12, bottom: 36, left: 42 };
const TITLES: Record<Fig1Field, string> = { GD: 'GD', NGD: 'NGD', EF: 'EF' };

function datasetPanel(doc: Document, r: Fig1Result): Element {
  const [b, t] = r.thetaStar;
  const line = [0, 9].map((x) => [x, t * x + b]);
  return Plot.plot({
    ...panelDefaults(doc, PANEL, PANEL, 'panel Dataset'),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    x: { domain: [-1, 10], label: 'x', labelAnchor: 'center', labelArrow: 'none', ticks: 5 },
    y: { domain: [-2, 22], label: 'y', labelAnchor: 'center', labelArrow: 'none', ticks: 5 },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      Plot.dot(
        r.data.x.map((x, i) => [x, r.data.y[i]!]),
        { r: 1.3, fill: CLASS_COLORS[0], fillOpacity: 0.4, clip: true },
      ),
      Plot.line(line, { stroke: 'black', strokeWidth: 2, strokeDasharray: '6,4', clip: true }),
      Plot.text(['y = θx + b (fit)'], { frameAnchor: 'top-left', dx: 8, dy: 8, textAnchor: 'start', fontSize: 11 }),
      titleMark('Dataset', MARGIN.top),
    ],
  }) as unknown as Element;
}

function fieldPanel(doc: Document, r: Fig1Result, name: Fig1Field): Element {
  const style = METHOD[name];
  const inner = PANEL - MARGIN.left - MARGIN.right;
  // Arrows as the paper's quiver (scale = 30): length = |v|/30 of the axes width.
  const arrows: { b: number; t: number; len: number; angle: number }[] = [];
  r.grid.b.forEach((b, i) =>
    r.grid.theta.forEach((t, j) => {
      const [vb, vt] = r.fields[name][i]![j]!;
      arrows.push({ b, t, len: (Math.hypot(vb, vt) / 30) * inner, angle: (Math.atan2(vb, vt) * 180) / Math.PI });
    }),
  );
  const n = r.contours.b.length;
  const paths = r.trajectories[name].flatMap((tr, k) => tr.points.map(([b, t]) => ({ k, b, t })));
  return Plot.plot({
    ...panelDefaults(doc, PANEL, PANEL, `panel ${name}`),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    x: { domain: [-1, 5], label: 'b', labelAnchor: 'center', labelArrow: 'none', ticks: [-1, 1, 3, 5], tickFormat: '~g' },
    y: { domain: [-1, 5], label: 'θ', labelAnchor: 'center', labelArrow: 'none', ticks: [-1, 1, 3, 5], tickFormat: '~g' },
    length: { type: 'identity' },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      Plot.contour(r.contours.values, {
        x1: r.contours.b[0]!,
        x2: r.contours.b[n - 1]!,
        y1: r.contours.theta[0]!,
        y2: r.contours.theta[n - 1]!,
        width: n,
        height: r.contours.theta.length,
        thresholds: 5,
        stroke: 'black',
        strokeOpacity: 0.3,
        fill: null,
      }),
      Plot.vector(arrows, { x: 'b', y: 't', length: 'len', rotate: 'angle', stroke: GRAY.arrow, strokeWidth: 1, clip: true }),
      Plot.line(paths, { x: 'b', y: 't', z: 'k', stroke: style.color, strokeWidth: LINE_WIDTH + 0.5, strokeDasharray: style.dash || undefined, clip: true }),
      Plot.dot(
        r.trajectories[name].map((tr) => tr.start),
        { symbol: 'hexagon', r: 4.5, fill: 'black' },
      ),
      Plot.dot(
        r.trajectories[name].map((tr) => tr.end),
        { symbol: 'star', r: 6, fill: 'black' },
      ),
      titleMark(TITLES[name], MARGIN.top),
    ],
  }) as unknown as Element;
}

/** The Fig. 1 SVG document. */
export function fig1Svg(r: Fig1Result): string {
  const doc = createDocument();
  const width = 4 * PANEL + 3 * 10;
  const parts = [
    { svg: figureTitle(doc, 'Fig. 1 — vector fields of GD, NGD and EF on linear regression', width), x: 0, y: 0 },
    { svg: datasetPanel(doc, r), x: 0, y: 30 },
    ...FIG1_FIELDS.map((name, i) => ({ svg: fieldPanel(doc, r, name), x: (i + 1) * (PANEL + 10), y: 30 })),
    {
      svg: legend(
        doc,
        [
          ...FIG1_FIELDS.map((name) => ({ label: `${name} path`, style: METHOD[name] })),
          { label: 'start', symbol: 'hexagon', color: 'black' },
          { label: 'end', symbol: 'star', color: 'black' },
          { label: 'loss contours', color: 'black', opacity: 0.3 },
        ],
        width,
      ),
      x: 0,
      y: 30 + PANEL + 4,
    },
  ];
  return compose(doc, width, 30 + PANEL + 34, 'Figure 1: vector fields', parts);
}
