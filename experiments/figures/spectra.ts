/**
 * The `spectra` figure: SLQ eigenvalue densities of ∇²L, GGN and EF at initialization and after
 * training (symmetric-log eigenvalue axis: the Hessian has negative eigenvalues; log density).
 *
 * @module
 */
import type { SpectraResult } from '../compute/spectra.js';
import { gridFigure, linePanel, styleOf } from './prop2.js';

export function spectraSvg(r: SpectraResult): string {
  const styles = [styleOf(0, 'Hessian ∇²L'), styleOf(1, 'GGN'), styleOf(2, 'empirical Fisher')];
  const kinds = ['hessian', 'ggn', 'empiricalFisher'] as const;
  const panels = r.points.map((pt) => (doc: Document) => {
    const max = Math.max(...kinds.flatMap((k) => pt.densities[k].density));
    return linePanel(doc, {
      title: `${pt.label} (loss ${pt.loss.toFixed(3)})`,
      xLabel: 'eigenvalue (symlog)',
      yLabel: 'density (log)',
      x: 'symlog',
      y: 'log',
      width: 440,
      height: 280,
      yDomain: [max * 1e-6, max * 2],
      series: kinds.map((k, i) => ({ style: styles[i]!, points: pt.densities[k].grid.map((t, j) => [t, Math.max(pt.densities[k].density[j]!, max * 1e-6)] as const) })),
    });
  });
  return gridFigure(`Spectra of the digits MLP ${JSON.stringify(r.settings.sizes)} (SLQ, ${r.settings.probes} probes × ${r.settings.steps} steps)`, panels, 2, 440, 280, styles, 'spectra figure');
}
