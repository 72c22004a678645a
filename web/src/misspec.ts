/**
 * Fig. 2 — under misspecification the empirical Fisher is not the Fisher, even at the optimum.
 * Logistic regression on the paper's three two-class data sets (and the appendix's three linear
 * regressions): loss contours and the quadratic models of the loss built from the Fisher
 * (= Hessian here) and from the empirical Fisher, drawn as the ellipses
 * {θ : (θ − c)ᵀ N·M (θ − c) = 3²} with M = H(θ) or F̃(θ) and c = θ − M⁻¹∇L(θ) the model's
 * minimizer. At θ = θ* (∇L = 0) these are the paper's ellipses. θ* and the ellipses come from
 * experiments/compute/fig2.ts (`newtonOptimum`, `ellipse`); H, F̃, ∇L and the solves from natgrad.
 */
import * as Plot from '@observablehq/plot';
import { bernoulli, cosine, gaussian, linearProblem, numpyRandomState, toyData, type LinearProblem, type SymMatrix, type ToyData, type ToyDataName } from 'natgrad';
import { ellipse, FIG2_RADIUS, FIG2_SETS, newtonOptimum } from '../../experiments/compute/fig2.js';
import type { Vec2 } from '../../experiments/compute/fig1.js';
import { colors, contourMark, lossGrid, overlay, pathData, plotStyle, pointerToData, scalesOf, svgEl, type LossGrid, type Scales } from './plots.js';
import { fmt, formatMs, h, recordTiming, select, slider } from './ui.js';

type SetName = Exclude<ToyDataName, 'fig1'>;
/** The paper's panels (FIG2_SETS: main = logistic, appendix = linear regression). */
const SETS: readonly (readonly [SetName, string])[] = [
  ...FIG2_SETS.main.map((s) => [s.name as SetName, `${s.title} — logistic regression`] as const),
  ...FIG2_SETS.appendix.map((s) => [s.name as SetName, `${s.title} — linear regression`] as const),
];
const SIZE = 430;

interface Model {
  centre: Vec2;
  values: Float64Array;
  ellipse: Vec2[];
  ok: boolean;
  error?: string;
}

/**
 * The quadratic model of L at θ built from the curvature C (a SymMatrix, freed here): its
 * minimizer c = θ − C⁻¹∇L, C's eigenvalues, and the ellipse (θ′ − c)ᵀ N·C (θ′ − c) = 3².
 */
function quadraticModel(C: SymMatrix, theta: Float64Array, gradient: Float64Array, N: number): Model {
  let centre: Vec2 = [theta[0]!, theta[1]!];
  try {
    const step = C.solve(gradient);
    centre = [theta[0]! - step[0]!, theta[1]! - step[1]!];
    return {
      centre,
      values: C.eigenvalues(),
      ellipse: ellipse(
        C.toDense().map((v) => v * N),
        centre,
        FIG2_RADIUS,
        121,
      ),
      ok: true,
    };
  } catch (e) {
    return { centre, values: new Float64Array(2), ellipse: [], ok: false, error: (e as Error).message };
  } finally {
    C.free();
  }
}

export function mountMisspecification(root: HTMLElement): { show(): void } {
  let problem: LinearProblem | undefined;
  let data: ToyData | undefined;
  let logistic = true;
  let thetaStar: Float64Array = new Float64Array(2);
  let view = { cx: 0, cy: 0, half: 1 };
  let grid: LossGrid | undefined;
  let panel: { svg: SVGSVGElement; s: Scales; layer: SVGGElement } | undefined;
  let mounted = false;

  const setSel = select({ label: 'data set', options: SETS, value: 'misspecifiedA', onChange: () => build(), id: 'f2-set' });
  const nSel = select({
    label: 'N',
    id: 'f2-n',
    value: '1000',
    onChange: () => build(),
    options: [
      ['100', '100'],
      ['200', '200'],
      ['500', '500'],
      ['1000', '1000 (paper)'],
      ['3000', '3000'],
      ['10000', '10000'],
    ],
  });
  const seed = slider({ label: 'data seed', min: 0, max: 50, step: 1, value: 0, format: (v) => String(v), onChange: () => build(), id: 'f2-seed' });
  const dist = slider({ label: 'move θ away from θ*', min: 0, max: 1, step: 0.005, value: 0, format: (v) => `${Math.round(v * 100)} %`, onInput: () => update(), id: 'f2-distance' });
  const angle = slider({ label: 'direction', min: -180, max: 180, step: 1, value: 45, format: (v) => `${Math.round(v)}°`, onInput: () => update(), id: 'f2-angle' });

  const dataFig = h('figure', {});
  const mainFig = h('figure', { class: 'interactive' });
  const stats = h('div', { class: 'stats-box' });
  const timing = h('div', { class: 'timing' });
  root.append(
    h('h2', {}, 'Fig. 2 — the empirical Fisher is not the Fisher, even at the minimum'),
    h(
      'p',
      { class: 'lead' },
      'The Fisher F (= the Hessian H for these models) and the empirical Fisher F̃ agree at the minimum θ* only when the model is well specified and N is large. ',
      'Each ellipse is the quadratic model of the loss built from one matrix, {θ : (θ − c)ᵀ N·M (θ − c) = 3²}, centred at that model\u2019s minimizer c = θ − M⁻¹∇L. ',
      h('b', {}, 'Move θ'),
      ' with the slider or by dragging in the contour plot: the Fisher model keeps matching the loss contours (for linear regression it does not move at all), ',
      'while the EF ellipse follows θ around.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Data'), setSel.el, nSel.el, seed.el),
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'θ'), dist.el, angle.el, h('button', { type: 'button', id: 'f2-reset' }, 'back to θ*')),
    ),
    h(
      'div',
      { class: 'legend' },
      h('span', {}, h('span', { class: 'sw', style: `background:${colors.ngd}` }), 'Fisher = Hessian (NGD\u2019s model)'),
      h('span', {}, h('span', { class: 'sw', style: `background:${colors.ef}` }), 'empirical Fisher (EF\u2019s model)'),
      h('span', {}, h('span', { class: 'sw', style: `background:${colors.contour}` }), 'loss contours'),
      h('span', {}, '★ θ*   ● θ'),
    ),
    h('div', { class: 'panels' }, dataFig, mainFig, stats),
    timing,
  );
  root.querySelector('#f2-reset')!.addEventListener('click', () => {
    dist.set(0);
    update();
  });

  function build(): void {
    const t0 = performance.now();
    const name = setSel.value as SetName;
    logistic = !name.startsWith('linreg');
    data = toyData[name](numpyRandomState(seed.value), Number(nSel.value));
    problem?.free();
    problem = linearProblem({ X: data.X, y: data.y, likelihood: logistic ? bernoulli() : gaussian(), priorVariance: logistic ? Infinity : 0.1 });
    thetaStar = newtonOptimum(problem).theta;
    // The view: both ellipses at θ*, with room around them.
    const g0 = problem.gradient(thetaStar);
    const models = [quadraticModel(problem.hessian(thetaStar), thetaStar, g0, problem.N), quadraticModel(problem.empiricalFisher(thetaStar), thetaStar, g0, problem.N)];
    let half = 0;
    for (const m of models) for (const [a, b] of m.ellipse) half = Math.max(half, Math.abs(a - thetaStar[0]!), Math.abs(b - thetaStar[1]!));
    half = 1.6 * (half || 1);
    view = { cx: thetaStar[0]!, cy: thetaStar[1]!, half };
    const p = problem;
    grid = lossGrid((t) => p.loss(t), p.loss(thetaStar), view.cx - half, view.cx + half, view.cy - half, view.cy + half, 60, 60);
    drawData();
    drawMain();
    recordTiming('Fig. 2 data, θ*, contours', performance.now() - t0);
    update();
  }

  function drawData(): void {
    const d = data!;
    const N = d.y.length,
      X = d.X.data;
    const stride = Math.max(1, Math.floor(N / 1500));
    const pts: { a: number; b: number; c: number }[] = [];
    for (let n = 0; n < N; n += stride) pts.push({ a: X[2 * n]!, b: logistic ? X[2 * n + 1]! : d.y[n]!, c: d.y[n]! });
    let svg: Element;
    if (logistic) {
      // Decision boundary θ*ᵀx = 0 (no bias: a line through the origin, perpendicular to θ*).
      const t = thetaStar,
        L = 50;
      const boundary = [
        { a: -L * t[1]!, b: L * t[0]! },
        { a: L * t[1]!, b: -L * t[0]! },
      ];
      svg = Plot.plot({
        width: 300,
        height: 300,
        style: plotStyle,
        marginLeft: 36,
        x: { label: 'x₀', domain: [-7, 7] },
        y: { label: 'x₁', domain: [-7, 7] },
        color: { domain: [0, 1], range: [colors.data0, colors.data1] },
        marks: [
          Plot.dot(pts, { x: 'a', y: 'b', fill: 'c', r: 1.5, fillOpacity: 0.45, clip: true }),
          Plot.line(boundary, { x: 'a', y: 'b', stroke: '#111', strokeWidth: 1.5, clip: true }),
          Plot.frame({ stroke: '#c8ced4' }),
        ],
      });
    } else {
      const xs = pts.map((q) => q.a);
      const lo = Math.min(...xs),
        hi = Math.max(...xs);
      const t = thetaStar;
      svg = Plot.plot({
        width: 300,
        height: 300,
        style: plotStyle,
        marginLeft: 36,
        x: { label: 'x', nice: true },
        y: { label: 'y', nice: true },
        marks: [
          Plot.dot(pts, { x: 'a', y: 'b', fill: '#6b7785', r: 1.4, fillOpacity: 0.4 }),
          Plot.line(
            [
              { a: lo, b: t[0]! * lo + t[1]! },
              { a: hi, b: t[0]! * hi + t[1]! },
            ],
            { x: 'a', y: 'b', stroke: colors.ngd, strokeWidth: 2 },
          ),
        ],
      });
    }
    dataFig.replaceChildren(
      h('div', { class: 'head' }, 'Data'),
      svg,
      h(
        'figcaption',
        {},
        logistic ? `N = ${N}, two classes, logistic model without bias; line: θ*ᵀx = 0.` : `N = ${N}, y ≈ θ₀x + θ₁, Gaussian likelihood σ = 1, prior variance 0.1; green: fit at θ*.`,
      ),
    );
  }

  function drawMain(): void {
    const { cx, cy, half } = view;
    const svg = Plot.plot({
      width: SIZE,
      height: SIZE,
      style: plotStyle,
      marginLeft: 44,
      x: { domain: [cx - half, cx + half], label: logistic ? 'θ₀ (weight of x₀)' : 'θ₀ (slope)' },
      y: { domain: [cy - half, cy + half], label: logistic ? 'θ₁ (weight of x₁)' : 'θ₁ (intercept)' },
      marks: [contourMark(grid!, 16), Plot.frame({ stroke: '#c8ced4' })],
    }) as SVGSVGElement;
    const s = scalesOf(svg);
    panel = { svg, s, layer: overlay(svg) };
    mainFig.replaceChildren(
      h('div', { class: 'head' }, 'Loss contours and quadratic models at θ'),
      svg,
      h('figcaption', {}, 'Ellipses: {θ′ : (θ′ − c)ᵀ N·M (θ′ − c) = 9}; arrows: the full NGD step −H⁻¹∇L and EF step −F̃⁻¹∇L from θ.'),
    );
    let dragging = false;
    const move = (ev: PointerEvent) => {
      const [x, y] = pointerToData(svg, s, ev);
      const dx = x - cx,
        dy = y - cy;
      dist.set(Math.min(1, Math.hypot(dx, dy) / (0.95 * half)));
      angle.set((Math.atan2(dy, dx) * 180) / Math.PI);
      update();
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
    svg.addEventListener('pointerup', () => {
      dragging = false;
    });
    svg.addEventListener('pointercancel', () => {
      dragging = false;
    });
  }

  function update(): void {
    if (!problem || !panel) return;
    const t0 = performance.now();
    const p = problem,
      N = p.N;
    const a = (angle.value * Math.PI) / 180,
      r = dist.value * 0.95 * view.half;
    const theta = Float64Array.of(thetaStar[0]! + r * Math.cos(a), thetaStar[1]! + r * Math.sin(a));
    const { loss, gradient } = p.lossAndGradient(theta);
    const fisher = quadraticModel(p.hessian(theta), theta, gradient, N);
    const ef = quadraticModel(p.empiricalFisher(theta), theta, gradient, N);
    const ms = performance.now() - t0;
    recordTiming('Fig. 2 update (H, F̃, eigen, solves)', ms);

    const { s, layer } = panel;
    layer.replaceChildren();
    const arrow = (from: ArrayLike<number>, to: ArrayLike<number>, color: string) => {
      layer.append(svgEl('line', { x1: s.x(from[0]!), y1: s.y(from[1]!), x2: s.x(to[0]!), y2: s.y(to[1]!), stroke: color, 'stroke-width': 1.6, 'stroke-dasharray': '5 3' }));
    };
    for (const [m, color] of [
      [fisher, colors.ngd],
      [ef, colors.ef],
    ] as const) {
      if (!m.ok) continue;
      layer.append(svgEl('path', { class: color === colors.ngd ? 'ellipse-fisher' : 'ellipse-ef', d: pathData(m.ellipse.flat(), s), fill: 'none', stroke: color, 'stroke-width': 2.4 }));
      if (dist.value > 0) arrow(theta, m.centre, color);
      layer.append(svgEl('circle', { cx: s.x(m.centre[0]!), cy: s.y(m.centre[1]!), r: 3, fill: color }));
    }
    const star = svgEl('text', { x: s.x(thetaStar[0]!), y: s.y(thetaStar[1]!), 'text-anchor': 'middle', 'dominant-baseline': 'central', 'font-size': 16, fill: '#111' });
    star.textContent = '★';
    layer.append(star);
    layer.append(svgEl('circle', { cx: s.x(theta[0]!), cy: s.y(theta[1]!), r: 5, fill: '#111', stroke: '#fff', 'stroke-width': 1.5 }));

    let cos = NaN;
    try {
      cos = cosine(
        theta.map((t, i) => t - fisher.centre[i]!),
        theta.map((t, i) => t - ef.centre[i]!),
      );
    } catch {
      /* zero step */
    }
    const row = (k: string, v: string) => h('tr', {}, h('th', {}, k), h('td', {}, v));
    const eig = (m: Model) => (m.ok ? `${fmt(m.values[0]!)}, ${fmt(m.values[1]!)}` : (m.error ?? 'singular'));
    stats.replaceChildren(
      h('div', { class: 'head' }, 'At the current θ'),
      h(
        'table',
        { class: 'stats' },
        row('θ*', `(${fmt(thetaStar[0]!)}, ${fmt(thetaStar[1]!)})`),
        row('θ', `(${fmt(theta[0]!)}, ${fmt(theta[1]!)})`),
        row('L(θ) − L(θ*)', fmt(loss - p.loss(thetaStar))),
        row('‖∇L(θ)‖', fmt(Math.hypot(gradient[0]!, gradient[1]!))),
        row('eig H(θ)', eig(fisher)),
        row('eig F̃(θ)', eig(ef)),
        row('cos(NGD step, EF step)', dist.value > 0 ? fmt(cos, 4) : '— (∇L = 0)'),
      ),
      h(
        'p',
        { class: 'note', style: 'max-width:300px;margin-top:10px' },
        logistic
          ? 'Well-specified: F̃(θ*) ≈ F(θ*), the two ellipses nearly coincide. Misspecified A and B: they differ at θ* already, in size and orientation. Increase N: the well-specified pair converges, the misspecified ones do not.'
          : 'Correct model: the ellipses agree at θ*. σ = 2 noise: F̃ ≈ 4·F, the EF ellipse shrinks by 2. Quadratic term: F̃ is distorted in shape. Away from θ*, H is constant while F̃ grows with the squared residuals.',
      ),
    );
    timing.textContent = `H(θ), F̃(θ), two eigen-decompositions and two solves: ${formatMs(ms)}.`;
    root.dataset.theta = `${theta[0]},${theta[1]}`;
    root.dataset.fisherCentre = `${fisher.centre[0]},${fisher.centre[1]}`;
    root.dataset.efCentre = `${ef.centre[0]},${ef.centre[1]}`;
    root.dataset.thetaStar = `${thetaStar[0]},${thetaStar[1]}`;
    root.dataset.ready = 'true';
  }

  return {
    show() {
      if (mounted) return;
      mounted = true;
      build();
    },
  };
}
