/**
 * The `kfac` figure: training loss and accuracy per iteration of each method's best run, and the
 * cosine between each KFAC direction and the exact damped natural gradient.
 *
 * @module
 */
import { KFAC_METHODS, type KfacResult } from '../compute/kfac.js';
import { gridFigure, linePanel, styleOf } from './prop2.js';

export function kfacSvg(r: KfacResult): string {
  const styles = KFAC_METHODS.map((m, i) => styleOf(i, m));
  const st = (name: string) => styles[KFAC_METHODS.indexOf(name as (typeof KFAC_METHODS)[number])]!;
  const panels = [
    (doc: Document) =>
      linePanel(doc, {
        title: 'training loss (best γ, λ of each)',
        xLabel: 'iteration',
        yLabel: 'loss',
        y: 'log',
        width: 340,
        height: 260,
        series: r.methods.map((m) => ({ style: st(m.name), points: m.loss.map((l, k) => [k, l] as const) })),
      }),
    (doc: Document) =>
      linePanel(doc, {
        title: 'training accuracy',
        xLabel: 'iteration',
        yLabel: 'accuracy',
        width: 340,
        height: 260,
        yDomain: [0, 1],
        series: r.methods.map((m) => ({ style: st(m.name), points: m.accuracy.map((a, k) => [k, a] as const) })),
      }),
    (doc: Document) =>
      linePanel(doc, {
        title: 'cos(KFAC direction, (F + λI)⁻¹∇L)',
        xLabel: 'iteration',
        yLabel: 'cosine',
        width: 340,
        height: 260,
        yDomain: [0, 1],
        series: r.methods.filter((m) => m.cosine).map((m) => ({ style: st(m.name), points: m.cosine!.iterations.map((k, i) => [k, m.cosine!.cosine[i]!] as const) })),
      }),
  ];
  return gridFigure(`KFAC with the Fisher, MC Fisher and EF on the digits MLP ${JSON.stringify(r.settings.sizes)}`, panels, 3, 340, 260, styles, 'kfac figure');
}
