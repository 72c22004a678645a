/**
 * Small DOM helpers of the page: labelled sliders and selects, and the timing log.
 * No numerics here — everything numerical goes through natgrad.
 */

/** Create an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

/** A control: its element and its current value. */
export interface Control<T> {
  el: HTMLElement;
  get value(): T;
  set(value: T, notify?: boolean): void;
}

let uid = 0;

/** Compact number format for outputs (1/3 → 0.333, 1e-8 → 1e-8). */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) {
    const [m, e] = x.toExponential(digits - 1).split('e');
    return `${String(Number(m))}e${Number(e)}`;
  }
  return String(Number(x.toPrecision(digits)));
}

/**
 * A range slider. With `log: true` the slider moves the base-10 exponent and the value is
 * 10^position (`min`/`max`/`step` are exponents).
 */
export function slider(opts: {
  label: string;
  min: number;
  max: number;
  step: number;
  value: number;
  log?: boolean;
  format?: (v: number) => string;
  id?: string;
  onInput?: (v: number) => void;
  onChange?: (v: number) => void;
}): Control<number> {
  const id = opts.id ?? `ctl-${++uid}`;
  const toPos = (v: number) => (opts.log ? Math.log10(v) : v);
  const fromPos = (p: number) => (opts.log ? 10 ** p : p);
  const input = h('input', { type: 'range', id, min: opts.min, max: opts.max, step: opts.step });
  input.value = String(toPos(opts.value));
  const format = opts.format ?? ((v: number) => fmt(v));
  const out = h('output', { for: id });
  let value = opts.value;
  const show = () => {
    out.textContent = format(value);
  };
  show();
  input.addEventListener('input', () => {
    value = fromPos(Number(input.value));
    show();
    opts.onInput?.(value);
  });
  input.addEventListener('change', () => {
    opts.onChange?.(value);
  });
  const el = h('div', { class: 'control' }, h('label', { for: id }, opts.label), h('div', { class: 'row' }, input, out));
  return {
    el,
    get value() {
      return value;
    },
    set(v, notify = false) {
      value = v;
      input.value = String(toPos(v));
      show();
      if (notify) {
        opts.onInput?.(v);
        opts.onChange?.(v);
      }
    },
  };
}

/** A select box over string values. */
export function select<T extends string>(opts: { label: string; options: readonly (readonly [T, string])[]; value: T; id?: string; onChange?: (v: T) => void }): Control<T> {
  const id = opts.id ?? `ctl-${++uid}`;
  const sel = h('select', { id });
  for (const [v, text] of opts.options) sel.append(h('option', { value: v }, text));
  sel.value = opts.value;
  sel.addEventListener('change', () => opts.onChange?.(sel.value as T));
  const el = h('div', { class: 'control' }, h('label', { for: id }, opts.label), sel);
  return {
    el,
    get value() {
      return sel.value as T;
    },
    set(v, notify = false) {
      sel.value = v;
      if (notify) opts.onChange?.(v);
    },
  };
}

/** A number input showing a step size or damping as its base-10 exponent (γ = 10^value). */
export function exponent(opts: { label: string; value: number; id?: string; min?: number; max?: number; onChange?: (v: number) => void }): Control<number> {
  const id = opts.id ?? `ctl-${++uid}`;
  const input = h('input', { type: 'number', id, step: 0.125, min: opts.min ?? -20, max: opts.max ?? 10 });
  const out = h('output', { for: id });
  let value = opts.value;
  const show = () => {
    input.value = String(Number(Math.log10(value).toFixed(4)));
    out.textContent = `= ${fmt(value)}`;
  };
  show();
  input.addEventListener('change', () => {
    const e = Number(input.value);
    if (Number.isFinite(e)) value = 10 ** e;
    show();
    opts.onChange?.(value);
  });
  const el = h('div', { class: 'control' }, h('label', { for: id }, opts.label), h('div', { class: 'row' }, h('span', {}, '10^'), input, out));
  return {
    el,
    get value() {
      return value;
    },
    set(v, notify = false) {
      value = v;
      show();
      if (notify) opts.onChange?.(v);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Timings
// ---------------------------------------------------------------------------------------------

const log: { label: string; ms: number }[] = [];

/** Record a duration (shown in the footer, newest first). */
export function recordTiming(label: string, ms: number): void {
  const i = log.findIndex((t) => t.label === label);
  if (i >= 0) log.splice(i, 1);
  log.unshift({ label, ms });
  log.length = Math.min(log.length, 10);
  const el = document.getElementById('timings');
  if (el) {
    el.replaceChildren(h('b', {}, 'Last computations: '), ...log.map((t) => h('span', {}, `${t.label} ${formatMs(t.ms)}`)));
  }
}

/** Run `fn`, record how long it took, return its result and the duration. */
export function timed<T>(label: string, fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  const ms = performance.now() - t0;
  recordTiming(label, ms);
  return { value, ms };
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
