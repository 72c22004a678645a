/**
 * The `overparameterized` figure: traces of ∇²L, GGN and EF along training, one panel per
 * configuration, and the EF/GGN trace ratio of all three.
 *
 * @module
 */
import type { OverparamResult } from '../compute/overparameterized.js';
import { gridFigure, linePanel, styleOf } from './prop2.js';

/** Panel width: four panels and their gaps stay within 1170 px (≤ 1200, the README's column). */
const PANEL_W = 285;

export function overparameterizedSvg(r: OverparamResult): string {
  const curv = [styleOf(0, 'tr ∇²L'), styleOf(1, 'tr GGN'), styleOf(2, 'tr EF')];
  const cfg = r.series.map((s, i) => styleOf(3 + i, `EF/GGN: ${s.name}`));
  const x = (s: OverparamResult['series'][number]) => s.iterations.map((k) => k + 1);
  const panels = [
    ...r.series.map(
      (s) => (doc: Document) =>
        linePanel(doc, {
          title: `${s.name} (D = ${s.D})`,
          xLabel: 'Adam iteration + 1',
          yLabel: 'trace',
          x: 'log',
          y: 'log',
          width: PANEL_W,
          height: 250,
          series: [
            { style: curv[0]!, points: x(s).map((k, i) => [k, s.trace.hessian[i]!] as const) },
            { style: curv[1]!, points: x(s).map((k, i) => [k, s.trace.ggn[i]!] as const) },
            { style: curv[2]!, points: x(s).map((k, i) => [k, s.trace.ef[i]!] as const) },
          ],
        }),
    ),
    (doc: Document) =>
      linePanel(doc, {
        title: 'tr EF / tr GGN',
        xLabel: 'Adam iteration + 1',
        yLabel: 'ratio',
        x: 'log',
        y: 'log',
        width: PANEL_W,
        height: 250,
        series: r.series.map((s, i) => ({ style: cfg[i]!, points: x(s).map((k, j) => [k, s.ratio[j]!] as const) })),
      }),
  ];
  return gridFigure('Over-parameterized: the EF collapses where the network interpolates', panels, 4, PANEL_W, 250, [...curv, ...cfg], 'overparameterized figure');
}
