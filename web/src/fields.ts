/**
 * Fig. 1 — vector fields of GD, NGD and the empirical Fisher on the paper's linear-regression
 * problem, computed with the experiments' closed form (experiments/compute/fig1.ts): the
 * sufficient statistics of the data are built once by natgrad's `gram` kernel (WASM), after
 * which ∇L, H and F̃ at any θ are a few flops and each Euler step a 2 × 2 solve — so the
 * paper's trajectories (50,000 steps of 0.001) are recomputed on every pointer move.
 *
 * The paper's fields (DESIGN.md §1): GD −(1/3)∇L, NGD −(H + λI)⁻¹∇L, EF −3 (F̃ + λI)⁻¹∇L with
 * λ = 1e-8; here the three step scales and λ are sliders.
 */
import * as Plot from '@observablehq/plot';
import { gaussian, linearProblem, newton, numpyRandomState, toyData } from 'natgrad';
import {
  FIG1_DAMPING,
  FIG1_FIELDS,
  FIG1_POINTS,
  FIG1_SCALES,
  FIG1_STARTS,
  FIG1_STEP,
  fig1Field,
  fig1Hessian,
  fig1Loss,
  fig1Model,
  linspace,
  type Fig1Field,
  type Fig1Model,
  type Vec2,
} from '../../experiments/compute/fig1.js';
import { colors, contourMark, lossGrid, overlay, pathData, plotStyle, pointerToData, scalesOf, svgEl, type LossGrid, type Scales } from './plots.js';
import { fmt, formatMs, h, recordTiming, select, slider, timed } from './ui.js';

type Sym2 = ReturnType<typeof fig1Hessian>;

/** The paper's view: the 15 × 15 grid over [−1, 5]². */
const DOMAIN: Vec2 = [-1, 5];
const GRID = linspace(DOMAIN[0], DOMAIN[1], 15);
const SIZE = 292;

/** A path: the paper's Euler integration (as `fig1Trajectory`), points kept where they moved ≥ `tol`. */
interface Path {
  points: number[];
  end: Vec2;
  steps: number;
  status: 'done' | 'diverged';
}

function integrate(m: Fig1Model, name: Fig1Field, start: Vec2, H: Sym2, scale: number, damping: number, tol: number): Path {
  let t: Vec2 = [start[0], start[1]];
  const points = [t[0], t[1]];
  let steps = 0;
  let status: Path['status'] = 'done';
  for (let k = 1; k < FIG1_POINTS; k++) {
    const v = fig1Field(m, name, t, H, scale, damping);
    const next: Vec2 = [t[0] + FIG1_STEP * v[0], t[1] + FIG1_STEP * v[1]];
    if (!(Math.abs(next[0]) < 1e6 && Math.abs(next[1]) < 1e6)) {
      status = 'diverged';
      break;
    }
    t = next;
    steps = k;
    const n = points.length;
    if (Math.abs(t[0] - points[n - 2]!) + Math.abs(t[1] - points[n - 1]!) > tol) points.push(t[0], t[1]);
  }
  points.push(t[0], t[1]);
  return { points, end: t, steps, status };
}

export function mountFields(root: HTMLElement): { show(): void } {
  let model: Fig1Model | undefined;
  let H: Sym2 = [1, 0, 1];
  let thetaStar: Vec2 = [0, 0];
  let grid: LossGrid | undefined;
  let data: { u: Float64Array; y: Float64Array } | undefined;
  let start: Vec2 = [FIG1_STARTS[0]![0], FIG1_STARTS[0]![1]];
  let user: Record<Fig1Field, Path> | undefined;
  let paper: Record<Fig1Field, Path[]> | undefined;
  let mounted = false;

  // ---------------------------------------------------------------- controls
  const seed = slider({ label: 'data seed (numpy RandomState)', min: 0, max: 50, step: 1, value: 0, format: (v) => String(v), onChange: () => build(), id: 'f1-seed' });
  const nSel = select({
    label: 'N',
    options: [
      ['100', '100'],
      ['300', '300'],
      ['1000', '1000 (paper)'],
      ['3000', '3000'],
      ['10000', '10000'],
    ],
    value: '1000',
    onChange: () => build(),
    id: 'f1-n',
  });
  const noise = slider({ label: 'noise σε (paper 1; the model assumes 1)', min: 0.1, max: 3, step: 0.05, value: 1, onChange: () => build(), id: 'f1-noise' });
  let scheduled = false;
  const retraceAll = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      drawArrows();
      tracePaper();
      traceUser();
    });
  };
  const scale: Record<Fig1Field, ReturnType<typeof slider>> = {
    GD: slider({ label: 'GD step scale (paper 1/3)', min: -2, max: 1, step: 0.01, value: FIG1_SCALES.GD, log: true, onInput: retraceAll, id: 'f1-scale-gd' }),
    NGD: slider({ label: 'NGD step scale (paper 1)', min: -2, max: 1, step: 0.01, value: FIG1_SCALES.NGD, log: true, onInput: retraceAll, id: 'f1-scale-ngd' }),
    EF: slider({ label: 'EF step scale (paper 3)', min: -2, max: 1.5, step: 0.01, value: FIG1_SCALES.EF, log: true, onInput: retraceAll, id: 'f1-scale-ef' }),
  };
  const damping = slider({ label: 'damping λ (paper 1e-8)', min: -8, max: 2, step: 0.1, value: FIG1_DAMPING, log: true, onInput: retraceAll, id: 'f1-damping' });
  const showPaper = h('input', { type: 'checkbox', id: 'f1-paper', checked: true });
  showPaper.addEventListener('change', () => {
    drawPaths();
  });
  const reset = h('button', { type: 'button', id: 'f1-reset' }, 'paper\u2019s settings');
  reset.addEventListener('click', () => {
    for (const f of FIG1_FIELDS) scale[f].set(FIG1_SCALES[f]);
    damping.set(FIG1_DAMPING);
    retraceAll();
  });
  const startOut = h('output', { id: 'f1-start' });

  const panels = h('div', { class: 'panels' });
  const timing = h('div', { class: 'timing' });
  root.append(
    h('h2', {}, 'Fig. 1 — the empirical Fisher does not follow the curvature'),
    h(
      'p',
      { class: 'lead' },
      'Linear regression y = θ₀ + θ₁u + ε on N lognormal inputs (Gaussian likelihood, prior variance 0.1). ',
      'Arrows: the direction of each method on a 15 × 15 grid, scaled per panel; grey: loss contours (log-spaced); lines: ',
      `${FIG1_POINTS.toLocaleString('en')} Euler steps of ${FIG1_STEP} along each field, as in the paper. `,
      h('b', {}, 'Click or drag in any panel'),
      ' to move the start point: GD crawls along the valley, NGD heads straight for the minimum, ',
      'and the EF direction — the gradient rescaled by squared residuals — bends away wherever the residuals are large.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Data'), seed.el, nSel.el, noise.el),
      h('div', { class: 'group gd' }, h('span', { class: 'name' }, 'GD'), scale.GD.el),
      h('div', { class: 'group ngd' }, h('span', { class: 'name' }, 'NGD'), scale.NGD.el),
      h('div', { class: 'group ef' }, h('span', { class: 'name' }, 'EF'), scale.EF.el),
      h(
        'div',
        { class: 'group' },
        h('span', { class: 'name' }, 'All'),
        damping.el,
        h('div', { class: 'control' }, h('label', { for: 'f1-paper' }, 'paper\u2019s four starts'), h('div', { class: 'row' }, showPaper)),
        h('div', { class: 'control' }, h('label', { for: 'f1-start' }, 'start θ (click a panel)'), startOut),
        reset,
      ),
    ),
    panels,
    timing,
  );

  const dataFig = h('figure', { class: 'panel-data' });
  const fieldFigs = Object.fromEntries(FIG1_FIELDS.map((f) => [f, h('figure', { class: 'interactive', 'data-field': f })])) as Record<Fig1Field, HTMLElement>;
  panels.append(dataFig, ...FIG1_FIELDS.map((f) => fieldFigs[f]));
  const fieldSvgs = {} as Record<Fig1Field, { svg: SVGSVGElement; s: Scales; arrows: SVGGElement; layer: SVGGElement }>;

  // ---------------------------------------------------------------- data and fields
  function build(): void {
    const t0 = performance.now();
    const N = Number(nSel.value);
    const d = toyData.fig1(numpyRandomState(seed.value), N);
    // Rescale the noise draws of the same data set: y = Xθ_T + σε·ε (σε = 1 is the paper's data).
    const tT = d.thetaTrue!;
    const X = d.X.data,
      y = d.y.slice(),
      u = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      u[n] = X[2 * n + 1]!;
      const mean = tT[0]! * X[2 * n]! + tT[1]! * u[n]!;
      y[n] = mean + noise.value * (d.y[n]! - mean);
    }
    model = fig1Model(d.X, y, 1, 0.1); // Σxxᵀ, Σ y x xᵀ, … by natgrad's gram kernel
    H = fig1Hessian(model);
    const p = linearProblem({ X: d.X, y, likelihood: gaussian(), priorVariance: 0.1 });
    try {
      const th = newton(p, { lr: 1 }).run([0, 0], { iterations: 2 }).theta; // L is quadratic: one step is exact
      thetaStar = [th[0]!, th[1]!];
    } finally {
      p.free();
    }
    data = { u, y };
    const m = model,
      Ls = fig1Loss(m, thetaStar);
    grid = timed('Fig. 1 loss contours (60 × 60)', () => lossGrid((t) => fig1Loss(m, [t[0]!, t[1]!]), Ls, DOMAIN[0], DOMAIN[1], DOMAIN[0], DOMAIN[1], 60, 60)).value;
    recordTiming('Fig. 1 data + statistics + θ*', performance.now() - t0);
    drawData();
    drawFields();
    drawArrows();
    tracePaper();
    traceUser();
  }

  function drawData(): void {
    const { u, y } = data!;
    const N = u.length;
    const step = Math.max(1, Math.floor(N / 1500));
    const pts: { u: number; y: number }[] = [];
    for (let n = 0; n < N; n += step) pts.push({ u: u[n]!, y: y[n]! });
    let umax = 0;
    for (const v of u) umax = Math.max(umax, v);
    const line = (t: ArrayLike<number>) => [
      { u: 0, y: t[0]! },
      { u: umax, y: t[0]! + t[1]! * umax },
    ];
    const svg = Plot.plot({
      width: SIZE,
      height: SIZE,
      style: plotStyle,
      marginLeft: 40,
      x: { label: 'input u', nice: true },
      y: { label: 'target y', nice: true },
      marks: [
        Plot.dot(pts, { x: 'u', y: 'y', r: 1.4, fill: '#6b7785', fillOpacity: 0.35 }),
        Plot.line(line([2, 2]), { x: 'u', y: 'y', stroke: '#111', strokeDasharray: '4 3', strokeWidth: 1.2 }),
        Plot.line(line(thetaStar), { x: 'u', y: 'y', stroke: colors.ngd, strokeWidth: 2 }),
      ],
    });
    dataFig.replaceChildren(h('div', { class: 'head' }, 'Data'), svg, h('figcaption', {}, `N = ${N}; green: the fit θ* = (${fmt(thetaStar[0])}, ${fmt(thetaStar[1])}); dashed: θ_T = (2, 2).`));
  }

  function caption(f: Fig1Field): string {
    return f === 'GD'
      ? `−γ ∇L, γ = ${fmt(scale.GD.value)}`
      : f === 'NGD'
        ? `−γ (H + λI)⁻¹∇L, γ = ${fmt(scale.NGD.value)}, λ = ${fmt(damping.value)}`
        : `−γ (F̃ + λI)⁻¹∇L, γ = ${fmt(scale.EF.value)}, λ = ${fmt(damping.value)}`;
  }

  /** The three panels' Plot backgrounds (contours, θ*, frame) and their overlay layers. */
  function drawFields(): void {
    for (const f of FIG1_FIELDS) {
      const svg = Plot.plot({
        width: SIZE,
        height: SIZE,
        style: plotStyle,
        marginLeft: 36,
        x: { domain: DOMAIN, label: 'θ₀ (intercept)' },
        y: { domain: DOMAIN, label: 'θ₁ (slope)' },
        marks: [contourMark(grid!), Plot.dot([thetaStar], { x: (t) => t[0], y: (t) => t[1], symbol: 'star', r: 5, fill: '#111' }), Plot.frame({ stroke: '#c8ced4' })],
      }) as SVGSVGElement;
      const s = scalesOf(svg);
      fieldSvgs[f] = { svg, s, arrows: overlay(svg), layer: overlay(svg) };
      attachPointer(svg, s);
      fieldFigs[f].replaceChildren(h('div', { class: 'head', style: `color:${colors[f]}` }, `${f} field`), svg, h('figcaption', {}, caption(f)));
    }
  }

  /** The arrows: each field on the 15 × 15 grid, scaled so the longest is 0.85 of a cell. */
  function drawArrows(): void {
    const m = model!;
    const t0 = performance.now();
    const cell = GRID[1]! - GRID[0]!;
    for (const f of FIG1_FIELDS) {
      const vs: [number, number, number, number][] = [];
      let max = 0;
      for (const b of GRID)
        for (const t of GRID) {
          const v = fig1Field(m, f, [b, t], H, 1, damping.value);
          if (!Number.isFinite(v[0]) || !Number.isFinite(v[1])) continue;
          vs.push([b, t, v[0], v[1]]);
          max = Math.max(max, Math.hypot(v[0], v[1]));
        }
      const k = max > 0 ? (0.85 * cell) / max : 0;
      const { s, arrows } = fieldSvgs[f];
      let d = '';
      for (const [b, t, vx, vy] of vs) {
        const x1 = s.x(b),
          y1 = s.y(t),
          x2 = s.x(b + k * vx),
          y2 = s.y(t + k * vy);
        const len = Math.hypot(x2 - x1, y2 - y1);
        if (!(len > 0.3)) continue;
        const ux = (x2 - x1) / len,
          uy = (y2 - y1) / len,
          head = Math.min(5, 0.45 * len);
        const hx = x2 - head * ux,
          hy = y2 - head * uy,
          px = -uy * head * 0.5,
          py = ux * head * 0.5;
        d += `M${x1.toFixed(1)},${y1.toFixed(1)}L${x2.toFixed(1)},${y2.toFixed(1)}M${(hx + px).toFixed(1)},${(hy + py).toFixed(1)}L${x2.toFixed(1)},${y2.toFixed(1)}L${(hx - px).toFixed(1)},${(hy - py).toFixed(1)}`;
      }
      arrows.replaceChildren(svgEl('path', { d, fill: 'none', stroke: colors[f], 'stroke-width': 1.1, 'stroke-opacity': 0.85, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }));
    }
    recordTiming('Fig. 1 arrows (3 × 225 vectors)', performance.now() - t0);
  }

  // ---------------------------------------------------------------- trajectories
  const tol = (DOMAIN[1] - DOMAIN[0]) / 1500;

  function tracePaper(): void {
    const t0 = performance.now();
    paper = {} as Record<Fig1Field, Path[]>;
    for (const f of FIG1_FIELDS) paper[f] = FIG1_STARTS.map((s) => integrate(model!, f, [s[0], s[1]], H, scale[f].value, damping.value, tol));
    recordTiming(`Fig. 1 paper starts (12 × ${FIG1_POINTS.toLocaleString('en')} steps)`, performance.now() - t0);
  }

  function traceUser(): void {
    if (!model) return;
    const t0 = performance.now();
    user = {} as Record<Fig1Field, Path>;
    for (const f of FIG1_FIELDS) user[f] = integrate(model, f, start, H, scale[f].value, damping.value, tol);
    const ms = performance.now() - t0;
    recordTiming('Fig. 1 your start (3 trajectories)', ms);
    timing.textContent =
      `Your three trajectories: 3 × ${(FIG1_POINTS - 1).toLocaleString('en')} Euler steps in ${formatMs(ms)} ` +
      `(${FIG1_FIELDS.map((f) => `${f} ends at (${fmt(user![f].end[0])}, ${fmt(user![f].end[1])})${user![f].status === 'diverged' ? ' — diverged' : ''}`).join('; ')}).`;
    startOut.textContent = `(${start[0].toFixed(2)}, ${start[1].toFixed(2)})`;
    drawPaths();
  }

  function drawPaths(): void {
    if (!user || !paper) return;
    const summary: Record<string, unknown> = {};
    const withPaper = (showPaper as HTMLInputElement).checked;
    for (const f of FIG1_FIELDS) {
      const panel = fieldSvgs[f];
      if (!panel) continue;
      const { s, layer } = panel;
      layer.replaceChildren();
      if (withPaper) {
        for (const t of paper[f]) {
          layer.append(svgEl('path', { d: pathData(t.points, s), fill: 'none', stroke: '#333', 'stroke-width': 1.2, 'stroke-opacity': 0.55 }));
          layer.append(svgEl('circle', { cx: s.x(t.points[0]!), cy: s.y(t.points[1]!), r: 2.5, fill: '#333', 'fill-opacity': 0.6 }));
        }
      }
      const t = user[f];
      const d = pathData(t.points, s);
      layer.append(svgEl('path', { d, fill: 'none', stroke: '#fff', 'stroke-width': 5, 'stroke-opacity': 0.8, 'stroke-linejoin': 'round' }));
      layer.append(svgEl('path', { class: `trajectory trajectory-${f}`, d, fill: 'none', stroke: colors[f], 'stroke-width': 2.6, 'stroke-linejoin': 'round' }));
      layer.append(svgEl('circle', { cx: s.x(start[0]), cy: s.y(start[1]), r: 5, fill: '#fff', stroke: '#111', 'stroke-width': 2 }));
      const [ex, ey] = t.end;
      if (Number.isFinite(s.x(ex)) && Number.isFinite(s.y(ey))) layer.append(svgEl('circle', { cx: s.x(ex), cy: s.y(ey), r: 3.5, fill: colors[f], stroke: '#fff' }));
      const n = t.points.length / 2,
        mid = Math.floor(n / 2);
      summary[f] = { start: [t.points[0], t.points[1]], mid: [t.points[2 * mid], t.points[2 * mid + 1]], end: t.end, points: n, steps: t.steps, status: t.status };
    }
    for (const f of FIG1_FIELDS) {
      const cap = fieldFigs[f].querySelector('figcaption');
      if (cap) cap.textContent = caption(f);
    }
    root.dataset.start = `${start[0]},${start[1]}`;
    root.dataset.trajectories = JSON.stringify(summary);
    root.dataset.ready = 'true';
  }

  // ---------------------------------------------------------------- pointer
  let pending: Vec2 | undefined;
  let dragging = false;
  function attachPointer(svg: SVGSVGElement, s: Scales): void {
    const move = (ev: PointerEvent) => {
      const [x, y] = pointerToData(svg, s, ev);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return;
      const clamp = (v: number) => Math.min(Math.max(v, DOMAIN[0] - 1), DOMAIN[1] + 1);
      if (!pending) {
        requestAnimationFrame(() => {
          if (!pending) return;
          start = pending;
          pending = undefined;
          traceUser();
        });
      }
      pending = [clamp(x), clamp(y)];
    };
    svg.addEventListener('pointerdown', (ev) => {
      dragging = true;
      svg.setPointerCapture(ev.pointerId);
      move(ev);
      ev.preventDefault();
    });
    svg.addEventListener('pointermove', (ev) => {
      if (dragging) move(ev);
    });
    const end = (ev: PointerEvent) => {
      dragging = false;
      if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
  }

  return {
    show() {
      if (mounted) return;
      mounted = true;
      build();
    },
  };
}
