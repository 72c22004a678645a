/**
 * The `prop2` figure, and the line-panel helper the beyond-the-paper figures share: one Plot
 * panel of several labelled series, with optional log axes.
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import type { Prop2Result } from '../compute/prop2.js';
import { compose, createDocument, figureTitle, legend, legendLayout, panelDefaults, positiveExtent, titleMark, type Placed } from './render.js';
import { LINE_WIDTH, type MethodStyle } from './style.js';

/** Paul Tol's bright / high-contrast colours, for the new figures' many series. */
export const PALETTE = ['#004488', '#DDAA33', '#BB5566', '#000000', '#66CCEE', '#228833', '#AA3377'] as const;
export const DASHES = ['', '7,4', '9,3,2,3', '2,3', '12,4', '4,2,1,2', ''] as const;

export function styleOf(i: number, label: string): MethodStyle {
  return { label, color: PALETTE[i % PALETTE.length]!, dash: DASHES[i % DASHES.length]! };
}

export interface Series {
  style: MethodStyle;
  points: readonly (readonly [number, number])[];
}

export interface PanelSpec {
  title: string;
  xLabel: string;
  yLabel: string | null;
  x?: 'linear' | 'log' | 'symlog';
  y?: 'linear' | 'log' | 'symlog';
  yDomain?: [number, number];
  series: readonly Series[];
  width: number;
  height: number;
}

const MARGIN = { top: 26, right: 14, bottom: 38, left: 62 };

/** One panel of lines (non-finite points and, on log axes, non-positive ones are dropped). */
export function linePanel(doc: Document, spec: PanelSpec): Element {
  const ok = (v: number, t: string | undefined) => Number.isFinite(v) && (t !== 'log' || v > 0);
  const rows = spec.series.flatMap((s, i) => s.points.filter(([x, y]) => ok(x, spec.x) && ok(y, spec.y)).map(([x, y]) => ({ i, x, y })));
  const yExtent = spec.y === 'log' ? (positiveExtent(rows.map((r) => r.y)) ?? [1e-3, 1]) : undefined;
  return Plot.plot({
    ...panelDefaults(doc, spec.width, spec.height, spec.title),
    marginTop: MARGIN.top,
    marginRight: MARGIN.right,
    marginBottom: MARGIN.bottom,
    marginLeft: MARGIN.left,
    x: { type: spec.x ?? 'linear', label: spec.xLabel, labelAnchor: 'center', labelArrow: 'none', ticks: 5, tickFormat: spec.x === 'log' ? '~g' : undefined },
    y: {
      type: spec.y ?? 'linear',
      label: spec.yLabel,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: 5,
      tickFormat: '~g',
      ...(spec.yDomain ? { domain: spec.yDomain } : yExtent ? { domain: yExtent, nice: true } : {}),
    },
    marks: [
      Plot.frame({ stroke: '#ccc' }),
      ...spec.series.map((s, i) =>
        Plot.line(
          rows.filter((r) => r.i === i),
          { x: 'x', y: 'y', stroke: s.style.color, strokeWidth: LINE_WIDTH, strokeDasharray: s.style.dash || undefined },
        ),
      ),
      titleMark(spec.title, MARGIN.top),
    ],
  }) as unknown as Element;
}

/** Lay panels out in a grid under a title, with one legend at the bottom (spaced by label length, in rows when needed). */
export function gridFigure(title: string, panels: readonly ((doc: Document) => Element)[], columns: number, width: number, height: number, legendStyles: readonly MethodStyle[], aria: string): string {
  const doc = createDocument();
  const total = columns * width + (columns - 1) * 10;
  const rowsN = Math.ceil(panels.length / columns);
  const parts: Placed[] = [{ svg: figureTitle(doc, title, total), x: 0, y: 0 }];
  panels.forEach((mk, i) => parts.push({ svg: mk(doc), x: (i % columns) * (width + 10), y: 30 + Math.floor(i / columns) * (height + 6) }));
  const ly = 30 + rowsN * (height + 6);
  const entries = legendStyles.map((s) => ({ label: s.label, style: s }));
  // Spaced by label length, wrapped into rows when one is not enough.
  const { height: lh } = legendLayout(entries, total);
  parts.push({ svg: legend(doc, entries, total), x: 0, y: ly });
  return compose(doc, total, ly + lh + 4, aria, parts);
}

/** Prop. 2 on networks: ‖∇²L − G‖₂, the mean residual r(θ)/N and the loss along NGD, one panel per data set. */
export function prop2Svg(r: Prop2Result): string {
  const styles = [styleOf(2, '‖∇²L − G‖₂ (Lanczos)'), styleOf(0, 'r(θ)/N = mean |f − y|'), styleOf(1, 'loss L(θ)')];
  const panels = r.panels.map(
    (p) => (doc: Document) =>
      linePanel(doc, {
        title: `${p.name} (N = ${p.N}, D = ${p.D})`,
        xLabel: 'NGD iteration',
        yLabel: 'value (log)',
        y: 'log',
        width: 360,
        height: 260,
        series: [
          { style: styles[0]!, points: p.iterations.map((k, i) => [k, p.gap[i]!] as const) },
          { style: styles[1]!, points: p.iterations.map((k, i) => [k, p.meanResidual[i]!] as const) },
          { style: styles[2]!, points: p.iterations.map((k, i) => [k, p.loss[i]!] as const) },
        ],
      }),
  );
  return gridFigure('Prop. 2 on an MLP: the Hessian–GGN gap follows the residuals', panels, Math.min(3, panels.length), 360, 260, styles, 'prop2 figure');
}
