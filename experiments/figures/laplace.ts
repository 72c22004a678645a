/**
 * The `laplace` figure: per setting (a row) the test NLL, the ECE and the OOD AUROC of the
 * maximum probability of each Laplace posterior — bars grouped by structure, coloured by
 * curvature (GGN, MC Fisher, EF) — with the MAP network as a dashed line.
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import { CURVATURE_LABEL, LAPLACE_CURVATURES, LAPLACE_STRUCTURES, type LaplaceMetrics, type LaplacePanel, type LaplaceResult } from '../compute/laplace.js';
import { compose, createDocument, figureTitle, legend, legendLayout, panelDefaults, type LegendEntry, type Placed } from './render.js';
import { PALETTE } from './prop2.js';

const COLORS = [PALETTE[0], PALETTE[5], PALETTE[2]] as const;
const METRICS: { key: keyof LaplaceMetrics; title: string; label: string }[] = [
  { key: 'nll', title: 'test NLL', label: 'NLL (nats)' },
  { key: 'ece', title: 'test ECE (15 bins)', label: 'ECE' },
  { key: 'aurocMaxProb', title: 'OOD AUROC (max. probability)', label: 'AUROC' },
];
const W = 300,
  H = 210,
  MARGIN = { top: 26, right: 10, bottom: 30, left: 52 };

function barPanel(doc: Document, p: LaplacePanel, metric: (typeof METRICS)[number], title: string): Element {
  const map = p.rows.find((r) => r.method === 'MAP')!;
  const structures = LAPLACE_STRUCTURES.filter((s) => p.rows.some((r) => r.structure === s));
  const bars = p.rows
    .filter((r) => r.method === 'Laplace' && Number.isFinite(r.metrics[metric.key]))
    .map((r) => ({ structure: r.structure!, curvature: CURVATURE_LABEL[r.curvature!], value: r.metrics[metric.key], color: COLORS[LAPLACE_CURVATURES.indexOf(r.curvature!)]! }));
  const mapValue = map.metrics[metric.key];
  const top = Math.max(...bars.map((b) => b.value), Number.isFinite(mapValue) ? mapValue : 0, metric.key === 'aurocMaxProb' ? 1 : 0);
  return Plot.plot({
    ...panelDefaults(doc, W, H, title),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    fx: { domain: structures, label: null, padding: 0.12, axis: 'bottom' },
    x: { domain: LAPLACE_CURVATURES.map((c) => CURVATURE_LABEL[c]), axis: null, paddingInner: 0.08 },
    y: { domain: [0, top * 1.05], label: metric.label, labelAnchor: 'center', labelArrow: 'none', ticks: 4, tickFormat: '~g', grid: true },
    marks: [
      Plot.barY(bars, { fx: 'structure', x: 'curvature', y: 'value', fill: 'color' }),
      ...(Number.isFinite(mapValue) ? [Plot.ruleY([mapValue], { stroke: '#000', strokeWidth: 1.5, strokeDasharray: '5,3' })] : []),
      ...(metric.key === 'aurocMaxProb' ? [Plot.ruleY([0.5], { stroke: '#999', strokeWidth: 1 })] : []),
      Plot.ruleY([0]),
      // one title over the facets (titleMark would repeat in each)
      Plot.text([title], { frameAnchor: 'top', dy: -MARGIN.top + 4, lineAnchor: 'top', fontSize: 13, fontWeight: 'bold', facet: 'super' }),
    ],
  }) as unknown as Element;
}

export function laplaceSvg(r: Pick<LaplaceResult, 'panels'>): string {
  const doc = createDocument();
  const cols = METRICS.length;
  const total = cols * W + (cols - 1) * 10;
  const parts: Placed[] = [{ svg: figureTitle(doc, 'Laplace posteriors from the GGN, MC Fisher and EF (marglik-optimal scalar prior)', total), x: 0, y: 0 }];
  let y = 30;
  for (const p of r.panels) {
    parts.push({ svg: figureTitle(doc, `${p.title}, D = ${p.D}; OOD: ${p.ood}`, total, 22), x: 0, y });
    y += 24;
    METRICS.forEach((m, i) => parts.push({ svg: barPanel(doc, p, m, m.title), x: i * (W + 10), y }));
    y += H + 8;
  }
  const entries: LegendEntry[] = [
    ...LAPLACE_CURVATURES.map((c, i) => ({ label: `Laplace, ${CURVATURE_LABEL[c]}`, symbol: 'square', color: COLORS[i]! })),
    { label: 'MAP network', style: { label: 'MAP network', color: '#000', dash: '5,3' } },
  ];
  const { height: lh } = legendLayout(entries, total);
  parts.push({ svg: legend(doc, entries, total), x: 0, y });
  return compose(doc, total, y + lh + 4, 'laplace figure', parts);
}
