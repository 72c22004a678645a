/**
 * Server-side rendering of Observable Plot figures with linkedom's DOM, and the composition of
 * several Plot panels (each its own `<svg>`) into one standalone SVG file: a title, a legend and
 * a grid of panels.
 *
 * Every panel, the legend and the title are Plot charts; this module only places them (nested
 * `<svg x y>` elements) and serializes the result.
 *
 * @module
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { FONT, GRAY, LINE_WIDTH, type MethodStyle } from './style.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A fresh linkedom document for Plot's `document` option. */
export function createDocument(): Document {
  return parseHTML('<!DOCTYPE html><html><head></head><body></body></html>').document as unknown as Document;
}

/** A Plot chart placed at (x, y) of the composed figure. */
export interface Placed {
  svg: Element;
  x: number;
  y: number;
}

/** Plot options common to every panel. */
export function panelDefaults(doc: Document, width: number, height: number, ariaLabel: string): Plot.PlotOptions {
  return {
    document: doc,
    width,
    height,
    ariaLabel,
    style: { fontFamily: FONT, fontSize: '11px', color: GRAY.text, background: 'transparent' },
  } as Plot.PlotOptions;
}

/** The panel title as a Plot text mark at the top of the frame. */
export function titleMark(title: string, marginTop: number): Plot.Markish {
  return Plot.text([title], { frameAnchor: 'top', dy: -marginTop + 4, lineAnchor: 'top', fontSize: 13, fontWeight: 'bold' });
}

/** A one-line legend: a short line sample (or symbol) and a label per entry, drawn by Plot. */
export interface LegendEntry {
  label: string;
  style?: MethodStyle;
  /** a symbol instead of a line */
  symbol?: string;
  /** colour for symbols / plain lines */
  color?: string;
  opacity?: number;
}

export function legend(doc: Document, entries: readonly LegendEntry[], width: number, height = 26): Element {
  const item = Math.min(170, width / Math.max(entries.length, 1));
  const start = (width - item * entries.length) / 2;
  const marks: Plot.Markish[] = [];
  entries.forEach((e, i) => {
    const x0 = start + i * item + 6;
    if (e.symbol) {
      marks.push(Plot.dot([[x0 + 16, height / 2]], { symbol: e.symbol, r: 5, fill: e.color ?? 'black', stroke: e.symbol === 'times' ? (e.color ?? 'black') : 'none' }));
    } else {
      const color = e.style?.color ?? e.color ?? 'black';
      marks.push(
        Plot.line(
          [
            [x0, height / 2],
            [x0 + 34, height / 2],
          ],
          {
            stroke: color,
            strokeWidth: LINE_WIDTH,
            strokeDasharray: e.style?.dash || undefined,
            strokeOpacity: e.opacity ?? 1,
          },
        ),
      );
    }
    marks.push(Plot.text([[x0 + 40, height / 2]], { text: () => e.label, textAnchor: 'start', fontSize: 12, fontWeight: 'bold' }));
  });
  return Plot.plot({
    ...panelDefaults(doc, width, height, 'legend'),
    margin: 0,
    x: { type: 'identity', axis: null },
    y: { type: 'identity', axis: null },
    marks,
  }) as unknown as Element;
}

/** A centred figure title, drawn by Plot. */
export function figureTitle(doc: Document, text: string, width: number, height = 28): Element {
  return Plot.plot({
    ...panelDefaults(doc, width, height, 'figure title'),
    margin: 0,
    x: { type: 'identity', axis: null },
    y: { type: 'identity', axis: null },
    marks: [Plot.text([[width / 2, height / 2]], { text: () => text, fontSize: 15, fontWeight: 'bold' })],
  }) as unknown as Element;
}

/** Round the long coordinates Plot writes (attribute values only) to `digits` decimals. */
function roundAttributes(svg: string, digits = 1): string {
  return svg.replace(/\s(d|transform|x|y|x1|x2|y1|y2|cx|cy|r|points)="([^"]*)"/g, (_m, name: string, value: string) => {
    const v = value.replace(/-?\d+\.\d+(?:e-?\d+)?/g, (num) => {
      const n = Number(num);
      const s = Number(n.toFixed(digits)).toString();
      return s === '-0' ? '0' : s;
    });
    return ` ${name}="${v}"`;
  });
}

/**
 * Compose placed Plot charts into one standalone SVG document (string) of the given size, on a
 * white background, with `ariaLabel` naming the figure.
 */
export function compose(doc: Document, width: number, height: number, ariaLabel: string, parts: readonly Placed[]): string {
  const root = doc.createElementNS(SVG_NS, 'svg');
  root.setAttribute('xmlns', SVG_NS);
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(height));
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  root.setAttribute('aria-label', ariaLabel);
  root.setAttribute('role', 'img');
  const bg = doc.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', 'white');
  root.appendChild(bg);
  for (const p of parts) {
    p.svg.setAttribute('x', String(p.x));
    p.svg.setAttribute('y', String(p.y));
    root.appendChild(p.svg);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${roundAttributes(root.outerHTML)}\n`;
}

/** Largest finite positive value (for log-scale domains). */
export function positiveExtent(values: Iterable<number>): [number, number] | undefined {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}
