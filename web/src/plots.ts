/**
 * Shared plotting helpers: colours, loss-contour grids (every value from natgrad's
 * `LinearProblem.loss`), SVG overlays drawn in a Plot's own coordinates, and pointer → data
 * coordinates for the interactive panels.
 */
import * as Plot from '@observablehq/plot';

export const colors = { gd: '#4e79a7', ngd: '#2a9d4b', ef: '#d1495b', GD: '#4e79a7', NGD: '#2a9d4b', EF: '#d1495b', EFGD: '#d1495b', data0: '#4e79a7', data1: '#f28e2b', contour: '#9aa5b1' } as const;

// No max-width here: style.css sets it (none on a wide screen, where figures are min-content wide;
// 100 % on a narrow one, where they scale down).
export const plotStyle = { fontSize: '11px', fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', overflow: 'visible' };

/** A loss surface sampled at the cell centres of an nx × ny grid (Plot's raster convention). */
export interface LossGrid {
  x1: number;
  x2: number;
  y1: number;
  y2: number;
  nx: number;
  ny: number;
  /** log10(L(θ) − L(θ*) + tiny), row-major, row 0 at y1 */
  values: Float64Array;
}

/**
 * Sample `loss` at the cell centres of the grid and return log10 of the gap to `minLoss`, so
 * that evenly spaced thresholds give contours evenly spaced on a log scale.
 */
export function lossGrid(loss: (theta: Float64Array) => number, minLoss: number, x1: number, x2: number, y1: number, y2: number, nx = 64, ny = 64): LossGrid {
  const values = new Float64Array(nx * ny);
  const theta = new Float64Array(2);
  for (let j = 0; j < ny; j++) {
    theta[1] = y1 + ((j + 0.5) * (y2 - y1)) / ny;
    for (let i = 0; i < nx; i++) {
      theta[0] = x1 + ((i + 0.5) * (x2 - x1)) / nx;
      values[j * nx + i] = logGap(loss(theta), minLoss);
    }
  }
  return { x1, x2, y1, y2, nx, ny, values };
}

/** log10(L − L* + tiny): the contour variable. */
export function logGap(loss: number, minLoss: number): number {
  return Math.log10(Math.max(loss - minLoss, 0) + 1e-12 * (1 + Math.abs(minLoss)));
}

/**
 * A {@link LossGrid} from losses sampled at the nodes of linspace grids (row-major, x fastest),
 * as experiments/compute returns them: the cell-centre grid is widened by half a step.
 */
export function nodeGrid(xs: readonly number[], ys: readonly number[], losses: readonly number[], minLoss: number): LossGrid {
  const dx = (xs[xs.length - 1]! - xs[0]!) / (xs.length - 1),
    dy = (ys[ys.length - 1]! - ys[0]!) / (ys.length - 1);
  return {
    x1: xs[0]! - dx / 2,
    x2: xs[xs.length - 1]! + dx / 2,
    y1: ys[0]! - dy / 2,
    y2: ys[ys.length - 1]! + dy / 2,
    nx: xs.length,
    ny: ys.length,
    values: Float64Array.from(losses, (l) => logGap(l, minLoss)),
  };
}

/** The contour mark for a {@link LossGrid}: thin grey lines, `levels` levels. */
export function contourMark(g: LossGrid, levels = 14): Plot.Markish {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of g.values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  lo = Math.max(lo, hi - 8); // at most 8 decades below the largest gap on the view
  const thresholds = Array.from({ length: levels }, (_, k) => lo + ((k + 0.5) * (hi - lo)) / levels);
  return Plot.contour(g.values, {
    x1: g.x1,
    x2: g.x2,
    y1: g.y1,
    y2: g.y2,
    width: g.nx,
    height: g.ny,
    thresholds,
    stroke: colors.contour,
    strokeWidth: 0.8,
    strokeOpacity: 0.9,
    fill: 'none',
  });
}

/** Plot's scales of a rendered plot (for overlays and pointer mapping). */
export interface Scales {
  x: (v: number) => number;
  y: (v: number) => number;
  invertX: (px: number) => number;
  invertY: (px: number) => number;
}

export function scalesOf(svg: SVGSVGElement & { scale?: (name: string) => { apply: (v: number) => number; invert?: (v: number) => number } }): Scales {
  const sx = svg.scale!('x'),
    sy = svg.scale!('y');
  return { x: sx.apply, y: sy.apply, invertX: sx.invert!, invertY: sy.invert! };
}

const SVGNS = 'http://www.w3.org/2000/svg';

/** A `<g>` appended to a Plot SVG for marks drawn by hand (cheap to redraw while dragging). */
export function overlay(svg: SVGSVGElement): SVGGElement {
  const g = document.createElementNS(SVGNS, 'g');
  g.setAttribute('class', 'overlay');
  svg.append(g);
  return g;
}

export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** SVG path data through the points (x, y data coordinates, flat [x0, y0, x1, y1, …]). */
export function pathData(points: ArrayLike<number>, s: Scales): string {
  let d = '';
  for (let i = 0; i + 1 < points.length; i += 2) {
    const px = s.x(points[i]!),
      py = s.y(points[i + 1]!);
    if (!Number.isFinite(px) || !Number.isFinite(py)) break;
    d += `${i ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`;
  }
  return d;
}

/** Data coordinates of a pointer event over a Plot SVG. */
export function pointerToData(svg: SVGSVGElement, s: Scales, ev: PointerEvent | MouseEvent): [number, number] {
  const m = svg.getScreenCTM();
  if (!m) return [NaN, NaN];
  const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
  return [s.invertX(p.x), s.invertY(p.y)];
}
