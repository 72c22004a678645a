/**
 * The `stochastic` figure: full-data loss against gradient evaluations for each method's best
 * step size, one panel per data set × batch size.
 *
 * @module
 */
import { STOCHASTIC_METHODS, type StochasticPanel } from '../compute/stochastic.js';
import { gridFigure, linePanel, styleOf } from './prop2.js';

export function stochasticSvg(panels: readonly StochasticPanel[]): string {
  const styles = STOCHASTIC_METHODS.map((m, i) => styleOf(i, m));
  const cols = Math.max(1, ...panels.map((p) => p.batchSizes.length));
  const mk = panels.flatMap((p) =>
    p.batchSizes.map(
      (B) => (doc: Document) =>
        linePanel(doc, {
          title: `${p.name}, B = ${B === p.N ? `N = ${B}` : B}`,
          xLabel: 'gradient evaluations (samples)',
          yLabel: 'full-data loss',
          y: 'log',
          width: 280,
          height: 220,
          series: p.runs.filter((r) => r.batchSize === B).map((r) => ({ style: styles[STOCHASTIC_METHODS.indexOf(r.method)]!, points: r.evaluations.map((e, i) => [e, r.losses[i]!] as const) })),
        }),
    ),
  );
  return gridFigure('Mini-batch optimization: loss against gradient evaluations (best γ of each)', mk, cols, 280, 220, styles, 'stochastic figure');
}
