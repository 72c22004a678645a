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

/** A legend entry: a short line sample (or symbol) and a label, drawn by Plot. */
export interface LegendEntry {
  label: string;
  style?: MethodStyle;
  /** a symbol instead of a line */
  symbol?: string;
  /** colour for symbols / plain lines */
  color?: string;
  opacity?: number;
}

/** Characters narrower than the average of a bold 12-px sans-serif label. */
const NARROW = new Set([..." iljIft.,:;|'!()[]/‖₁₂²ᵀ·"]);
/** Wider ones. */
const WIDE = new Set([...'mwMWGOQDHNU∇θλγ−=+×≤≥']);

/**
 * An upper estimate of a label's rendered width in pixels (no text measurement without a
 * browser): per character ≈ 0.36 em (narrow), 0.82 em (wide), 0.72 em (capitals, digits) or 0.6 em.
 */
export function labelWidth(label: string, fontSize = 12): number {
  let em = 0;
  for (const ch of label) em += NARROW.has(ch) ? 0.36 : WIDE.has(ch) ? 0.82 : /[A-Z0-9]/.test(ch) ? 0.72 : 0.6;
  return em * fontSize;
}

/** The sample (line or symbol) before a legend label, and the gap between entries. */
const SAMPLE = 40,
  GAP = 22,
  ROW = 22;

/**
 * Where each legend entry goes: equal slots of ≤ 170 px centred when every label fits its slot
 * (the figures' original layout), else entries as wide as their labels, packed left to right
 * into centred rows that wrap at `width`.
 */
export function legendLayout(entries: readonly LegendEntry[], width: number, height = 26): { x: number[]; y: number[]; height: number } {
  const n = Math.max(entries.length, 1);
  const item = Math.min(170, width / n);
  const widths = entries.map((e) => SAMPLE + labelWidth(e.label));
  if (widths.every((w) => w + 8 <= item)) {
    const start = (width - item * entries.length) / 2;
    return { x: entries.map((_, i) => start + i * item + 6), y: entries.map(() => height / 2), height };
  }
  const rows: number[][] = [[]];
  let used = 0;
  widths.forEach((w, i) => {
    const row = rows[rows.length - 1]!;
    if (row.length > 0 && used + GAP + w > width - 12) {
      rows.push([i]);
      used = w;
    } else {
      used += (row.length > 0 ? GAP : 0) + w;
      row.push(i);
    }
  });
  const h = Math.max(height, rows.length * ROW + 4);
  const x: number[] = new Array(entries.length),
    y: number[] = new Array(entries.length);
  rows.forEach((row, r) => {
    const rowWidth = row.reduce((t, i, k) => t + widths[i]! + (k > 0 ? GAP : 0), 0);
    let cx = (width - rowWidth) / 2;
    for (const i of row) {
      x[i] = cx;
      y[i] = (h - rows.length * ROW) / 2 + r * ROW + ROW / 2;
      cx += widths[i]! + GAP;
    }
  });
  return { x, y, height: h };
}

/**
 * The legend, drawn by Plot: laid out by {@link legendLayout} — one row when the labels fit,
 * else wrapped into rows (the chart is then taller than `height`: read its `height` attribute).
 */
export function legend(doc: Document, entries: readonly LegendEntry[], width: number, height = 26): Element {
  const layout = legendLayout(entries, width, height);
  const marks: Plot.Markish[] = [];
  entries.forEach((e, i) => {
    const x0 = layout.x[i]!,
      y0 = layout.y[i]!;
    if (e.symbol) {
      marks.push(Plot.dot([[x0 + 16, y0]], { symbol: e.symbol, r: 5, fill: e.color ?? 'black', stroke: e.symbol === 'times' ? (e.color ?? 'black') : 'none' }));
    } else {
      const color = e.style?.color ?? e.color ?? 'black';
      marks.push(
        Plot.line(
          [
            [x0, y0],
            [x0 + 34, y0],
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
    marks.push(Plot.text([[x0 + 40, y0]], { text: () => e.label, textAnchor: 'start', fontSize: 12, fontWeight: 'bold' }));
  });
  return Plot.plot({
    ...panelDefaults(doc, width, layout.height, 'legend'),
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
