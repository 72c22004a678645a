/**
 * One look for every figure: the paper's colours (Paul Tol's high-contrast scheme, as its
 * `efplt` sets them) and line styles — NGD solid, EF dash-dot, GD dashed.
 *
 * Pure data: usable by the web page as well.
 *
 * @module
 */

/** How one method is drawn. `dash` is an SVG stroke-dasharray ('' = solid). */
export interface MethodStyle {
  label: string;
  color: string;
  dash: string;
}

/** GD, NGD and EF(GD); the Fisher / empirical-Fisher ellipses of Fig. 2 reuse NGD / EF. */
export const METHOD: Readonly<Record<'GD' | 'NGD' | 'EF' | 'EFGD', MethodStyle>> = {
  GD: { label: 'GD', color: '#004488', dash: '7,4' },
  NGD: { label: 'NGD', color: '#DDAA33', dash: '' },
  EF: { label: 'EF', color: '#BB5566', dash: '9,3,2,3' },
  EFGD: { label: 'EFGD', color: '#BB5566', dash: '9,3,2,3' },
};

/** Colours of the two classes of Fig. 2's data (the paper's `colors_classes`). */
export const CLASS_COLORS: readonly [string, string] = ['#004488', '#DDAA33'];

/** Loss contours and the vector fields' arrows. */
export const GRAY = { contour: '#999999', arrow: '#8a8a8a', text: '#222222' } as const;

export const LINE_WIDTH = 2.5;
export const FONT = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';
