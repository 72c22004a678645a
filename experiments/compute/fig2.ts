/**
 * Figure 2 of the paper (and its appendix version): under model misspecification the empirical
 * Fisher is not the Hessian at the optimum, so its quadratic model has the wrong shape.
 *
 * As the paper's code (`experiments/misspec/`) runs it, for each data set (numpy's
 * `RandomState(0)` reseeded before each, N = 1000):
 * - main figure: logistic regression (Bernoulli, probabilities clipped to [1e-8, 1 − 1e-8]), no
 *   bias, priorVariance ∞, mean reduction, on `wellSpecified`, `misspecifiedA`, `misspecifiedB`;
 * - appendix: linear regression (Gaussian σ² = 1), priorVariance 0.1, inputs [x, 1], on
 *   `linregCorrect`, `linregMissNoise`, `linregMissModel`;
 * - θ* = argmin L by Newton's method with the exact Hessian from θ = 0, iterated until ‖∇L‖
 *   stops decreasing (the paper uses L-BFGS / CG; Newton reaches the same point to rounding);
 * - the quadratic models' ellipses {θ : (θ − θ*)ᵀ M (θ − θ*) = 3²} for M = N·H(θ*) (= N·F(θ*))
 *   and M = N·F̃(θ*), drawn as θ* + 3 V Λ^(−1/2) [sin t, cos t] from the eigen-decomposition
 *   M = V Λ Vᵀ (the paper's `efplt.ellipsis` uses 3·M^(−1/2), the same curve);
 * - loss contours on a 50 × 50 grid (the paper's GRID_DENS) over a square window around both
 *   ellipses.
 *
 * Pure: no Node API; runs in a browser (after `await init()`).
 *
 * @module
 */
import { bernoulli, gaussian, linearProblem, newton, numpyRandomState, SymMatrix, toyData, type LinearProblem, type ToyDataName } from 'natgrad';
import type { Vec2 } from './fig1.js';

/** Which version of the figure. */
export type Fig2Variant = 'main' | 'appendix';

/** The data sets of each version, in panel order, with the paper's panel titles. */
export const FIG2_SETS: Readonly<Record<Fig2Variant, readonly { name: ToyDataName; title: string }[]>> = {
  main: [
    { name: 'wellSpecified', title: 'Correct' },
    { name: 'misspecifiedA', title: 'Misspecified (A)' },
    { name: 'misspecifiedB', title: 'Misspecified (B)' },
  ],
  appendix: [
    { name: 'linregCorrect', title: 'Correct' },
    { name: 'linregMissNoise', title: 'Misspecified (A): noise' },
    { name: 'linregMissModel', title: 'Misspecified (B): model' },
  ],
};

/** The ellipse radius (in standard deviations of the quadratic model). */
export const FIG2_RADIUS = 3;
/** Points per ellipse (the paper's CIRCLEGRID). */
export const FIG2_ELLIPSE_POINTS = 100;
/** Loss grid per side for the contours (the paper's GRID_DENS). */
export const FIG2_CONTOUR_SIZE = 50;

/** One panel pair (data set on top, quadratic models below). */
export interface Fig2Panel {
  name: ToyDataName;
  title: string;
  likelihood: 'bernoulli' | 'gaussian';
  N: number;
  /** inputs (first two columns) and targets */
  data: { x0: number[]; x1: number[]; y: number[] };
  thetaStar: Vec2;
  /** N·∇²L(θ*) and N·F̃(θ*), 2 × 2 */
  hessianTimesN: number[][];
  empiricalFisherTimesN: number[][];
  lossAtOptimum: number;
  /** ‖∇L(θ*)‖ (rounding level) */
  gradientNorm: number;
  /** Newton iterations taken */
  newtonIterations: number;
  ellipses: { fisher: Vec2[]; empiricalFisher: Vec2[] };
  /** least-squares line y = a·x + c of the linear sets (no prior, as the paper draws it) */
  fitLine?: { slope: number; intercept: number };
  /** window of the bottom panel and the loss on its grid (row-major, x fastest) */
  view: { x: Vec2; y: Vec2 };
  contours: { x: number[]; y: number[]; values: number[] };
}

export interface Fig2Result {
  variant: Fig2Variant;
  panels: Fig2Panel[];
}

function problemFor(variant: Fig2Variant, X: { data: Float64Array; rows: number; cols: number }, y: Float64Array): LinearProblem {
  return variant === 'main' ? linearProblem({ X, y, likelihood: bernoulli(), priorVariance: Infinity }) : linearProblem({ X, y, likelihood: gaussian({ variance: 1 }), priorVariance: 0.1 });
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * θ* by Newton's method with the exact Hessian (the library's `newton`, γ = 1, λ = 0) from
 * θ = 0, until ‖∇L‖ stops decreasing (at most 100 steps).
 */
export function newtonOptimum(problem: LinearProblem): { theta: Float64Array; iterations: number; gradientNorm: number } {
  const opt = newton(problem, { lr: 1 });
  let state = opt.init(new Float64Array(problem.dim));
  let best = norm(state.gradient),
    k = 0;
  for (; k < 100 && best > 0; k++) {
    const next = opt.update(state).state;
    const n = norm(next.gradient);
    if (!(n < best)) break;
    state = next;
    best = n;
  }
  return { theta: state.theta, iterations: k, gradientNorm: best };
}

function toRows(M: Float64Array, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(M.subarray(i * n, (i + 1) * n)));
}

/**
 * Points of the ellipse {θ : (θ − c)ᵀ M (θ − c) = r²} for a symmetric positive-definite 2 × 2 M
 * (row-major), from the library's eigen-decomposition: θ = c + r Σ_k v_k u_k / √λ_k with
 * (u_0, u_1) = (sin t, cos t), t ∈ linspace(0, 2π, points).
 */
export function ellipse(M: ArrayLike<number>, center: Vec2, radius = FIG2_RADIUS, points = FIG2_ELLIPSE_POINTS): Vec2[] {
  const S = SymMatrix.from({ data: Float64Array.from(M), rows: 2, cols: 2 });
  let values: Float64Array, V: Float64Array;
  try {
    const e = S.eigen();
    values = e.values;
    V = e.vectors.data;
  } finally {
    S.free();
  }
  if (!(values[0]! > 0)) throw new RangeError(`ellipse: M is not positive definite (eigenvalues ${values[0]}, ${values[1]})`);
  const a0 = radius / Math.sqrt(values[0]!),
    a1 = radius / Math.sqrt(values[1]!);
  const out: Vec2[] = [];
  for (let i = 0; i < points; i++) {
    const t = (i === points - 1 ? 1 : i / (points - 1)) * 2 * Math.PI;
    const u0 = a0 * Math.sin(t),
      u1 = a1 * Math.cos(t);
    // column k of V (row-major) is the eigenvector of values[k]
    out.push([center[0] + V[0]! * u0 + V[1]! * u1, center[1] + V[2]! * u0 + V[3]! * u1]);
  }
  return out;
}

/** A square window around the given points, padded by `pad` of its span. */
function squareWindow(points: readonly Vec2[], pad = 0.15): { x: Vec2; y: Vec2 } {
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const half = (Math.max(x1 - x0, y1 - y0) * (1 + 2 * pad)) / 2;
  const cx = (x0 + x1) / 2,
    cy = (y0 + y1) / 2;
  return { x: [cx - half, cx + half], y: [cy - half, cy + half] };
}

function linspace(a: number, b: number, n: number): number[] {
  const step = (b - a) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + i * step));
}

/** Compute one panel of Fig. 2 for a toy data set (needs `await init()`). */
export function fig2Panel(variant: Fig2Variant, name: ToyDataName, title: string = name, N = 1000): Fig2Panel {
  const d = toyData[name](numpyRandomState(0), N);
  const problem = problemFor(variant, d.X, d.y);
  try {
    const opt = newtonOptimum(problem);
    const theta = opt.theta;
    const thetaStar: Vec2 = [theta[0]!, theta[1]!];
    const H = problem.hessian(theta),
      F = problem.empiricalFisher(theta);
    let Hn: Float64Array, Fn: Float64Array;
    try {
      Hn = H.toDense().map((v) => v * problem.N);
      Fn = F.toDense().map((v) => v * problem.N);
    } finally {
      H.free();
      F.free();
    }
    const ellipses = { fisher: ellipse(Hn, thetaStar), empiricalFisher: ellipse(Fn, thetaStar) };
    const view = squareWindow([...ellipses.fisher, ...ellipses.empiricalFisher, thetaStar]);
    const cx = linspace(view.x[0], view.x[1], FIG2_CONTOUR_SIZE),
      cy = linspace(view.y[0], view.y[1], FIG2_CONTOUR_SIZE);
    const values: number[] = [];
    for (const t1 of cy) for (const t0 of cx) values.push(problem.loss([t0, t1]));
    let fitLine: Fig2Panel['fitLine'];
    if (variant === 'appendix') {
      // The paper draws np.linalg.lstsq(X, y): (XᵀX)⁻¹ Xᵀy = F(0)⁻¹ (−∇L_data(0)); the prior's gradient is 0 at 0.
      const F0 = problem.fisher(new Float64Array(2));
      try {
        const ls = F0.solve(problem.gradient(new Float64Array(2)).map((v) => -v));
        fitLine = { slope: ls[0]!, intercept: ls[1]! };
      } finally {
        F0.free();
      }
    }
    const x0: number[] = [],
      x1: number[] = [];
    for (let n = 0; n < d.X.rows; n++) {
      x0.push(d.X.data[2 * n]!);
      x1.push(d.X.data[2 * n + 1]!);
    }
    return {
      name,
      title,
      likelihood: variant === 'main' ? 'bernoulli' : 'gaussian',
      N: problem.N,
      data: { x0, x1, y: Array.from(d.y) },
      thetaStar,
      hessianTimesN: toRows(Hn, 2),
      empiricalFisherTimesN: toRows(Fn, 2),
      lossAtOptimum: problem.loss(theta),
      gradientNorm: opt.gradientNorm,
      newtonIterations: opt.iterations,
      ellipses,
      ...(fitLine ? { fitLine } : {}),
      view,
      contours: { x: cx, y: cy, values },
    };
  } finally {
    problem.free();
  }
}

/** Compute Figure 2 (`'main'`) or its appendix version (`'appendix'`). */
export function fig2(variant: Fig2Variant = 'main', N = 1000): Fig2Result {
  return { variant, panels: FIG2_SETS[variant].map(({ name, title }) => fig2Panel(variant, name, title, N)) };
}

/** The fig2.json / fig2-appendix.json document. */
export function fig2Json(r: Fig2Result): Record<string, unknown> {
  const datasets: Record<string, unknown> = {};
  for (const p of r.panels) {
    datasets[p.name] = {
      thetaStar: p.thetaStar,
      hessianTimesN: p.hessianTimesN,
      empiricalFisherTimesN: p.empiricalFisherTimesN,
      lossAtOptimum: p.lossAtOptimum,
    };
  }
  return { datasets };
}
