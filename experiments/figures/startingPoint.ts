/**
 * The starting-point figure (Appendix E) as SVG: NGD and EFGD from c·θ* on a real data set, and
 * from θ0 ∈ {0.5, 1, 2, 4} on the 1-D problem (θ − 0.5)² + (θ + 0.5)².
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import { START_OPTIMIZERS, type StartingPointResult } from '../compute/startingPoint.js';
import { compose, createDocument, figureTitle, legend, panelDefaults, positiveExtent, titleMark } from './render.js';
import { LINE_WIDTH, METHOD } from './style.js';

const W = 380,
  H = 250;
const MARGIN = { top: 26, right: 14, bottom: 36, left: 60 };

function lossesPanel(doc: Document, label: string, title: string, runs: Record<'NGD' | 'EFGD', number[][]>, iterations: number, first: boolean): Element {
  const rows = START_OPTIMIZERS.flatMap((name) => runs[name].flatMap((losses, i) => losses.map((loss, k) => ({ name, i, k, loss })))).filter((d) => Number.isFinite(d.loss) && d.loss > 0);
  const extent = positiveExtent(rows.map((d) => d.loss)) ?? [1e-3, 1];
  return Plot.plot({
    ...panelDefaults(doc, W, H, label),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    x: { domain: [0, iterations], label: 'Iteration', labelAnchor: 'center', labelArrow: 'none', ticks: 5 },
    y: { type: 'log', domain: extent, nice: true, label: first ? 'Loss' : null, labelAnchor: 'center', labelArrow: 'none', ticks: 4, tickFormat: '~g' },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      ...START_OPTIMIZERS.map((name) => {
        const s = METHOD[name];
        return Plot.line(
          rows.filter((d) => d.name === name),
          { x: 'k', y: 'loss', z: 'i', stroke: s.color, strokeWidth: LINE_WIDTH, strokeDasharray: s.dash || undefined },
        );
      }),
      titleMark(title, MARGIN.top),
    ],
  }) as unknown as Element;
}

/** The starting-point SVG document. */
export function startingPointSvg(r: StartingPointResult): string {
  const doc = createDocument();
  const width = 2 * W + 12;
  const iterations = Math.max(0, ...r.losses.NGD.map((l) => l.length - 1));
  const parts = [
    { svg: figureTitle(doc, 'Starting point: NGD is insensitive to it, EFGD is not', width), x: 0, y: 0 },
    { svg: lossesPanel(doc, `panel ${r.dataset}`, `${r.dataset}: from c·θ*, c ∈ {${r.factors.join(', ')}}`, r.losses, iterations, true), x: 0, y: 30 },
    { svg: lossesPanel(doc, 'panel 1-D', `(θ − 0.5)² + (θ + 0.5)²: θ0 ∈ {${r.oneD.starts.join(', ')}}`, r.oneD.losses, r.oneD.losses.NGD[0]!.length - 1, false), x: W + 12, y: 30 },
    {
      svg: legend(
        doc,
        START_OPTIMIZERS.map((name) => ({ label: name, style: METHOD[name] })),
        width,
      ),
      x: 0,
      y: 30 + H + 4,
    },
  ];
  return compose(doc, width, 30 + H + 34, 'Starting point experiment', parts);
}
