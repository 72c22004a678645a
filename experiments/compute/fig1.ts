/**
 * Figure 1 of the paper: vector fields of GD, NGD and EF-preconditioned descent on a 2-D
 * linear regression, and the paths of their continuous-time flows.
 *
 * As the paper's code (`experiments/vecfield/`) runs it:
 * - data: `toyData.fig1(numpyRandomState(0), 1000)`, x_n = [1, u_n] (bias FIRST: θ = [b, θ]),
 *   u_n ~ lognormal(0, 0.75), y = 2 + 2u + ε;
 * - model: Gaussian likelihood σ² = 1, priorVariance σp² = 0.1, mean reduction:
 *   L(θ) = (1/2Nσ²) Σ (x_nᵀθ − y_n)² + ‖θ‖²/(2σp² N);
 * - fields on the 15 × 15 grid linspace(−1, 5, 15)² (b first, θ second):
 *   GD  −(1/3) ∇L,   NGD −(H + 1e-8 I)⁻¹ ∇L,   EF  −3 (F̃ + 1e-8 I)⁻¹ ∇L
 *   with H = ∇²L (includes the prior 1/(σp² N)) and F̃ = (1/N) Σ g_n g_nᵀ (no prior);
 * - paths: Euler steps of size 0.001 along each field from (2, 4.5), (1, 0), (4.5, 3), (−0.5, 3).
 *   The paper's runner stores 50,000 iterates, the start and 49,999 steps
 *   (`xs = zeros((50000, 2)); xs[t] = xs[t−1] + 0.001·v(xs[t−1])`): so do we.
 *
 * Efficiency: H is constant, ∇L is affine in θ, and F̃ is a quadratic polynomial in θ whose
 * coefficients are weighted Gram matrices of the data, built once with the library's `gram`:
 *
 *     N σ⁴ F̃(θ) = Σ_ab θ_a θ_b S_ab − 2 Σ_a θ_a T_a + U,
 *     S_ab = Σ_n x_na x_nb x_n x_nᵀ,  T_a = Σ_n y_n x_na x_n x_nᵀ,  U = Σ_n y_n² x_n x_nᵀ
 *
 * (from r_n = (x_nᵀθ − y_n)/σ² and g_n = r_n x_n). Each Euler step is then a 2 × 2 solve in
 * plain TypeScript (600,000 of them take milliseconds). The tests check these closed forms
 * against `problem.gradient`, `problem.hessian` and `problem.empiricalFisher`.
 *
 * Pure: no Node API; runs in a browser (after `await init()`).
 *
 * @module
 */
import { gram, numpyRandomState, toyData, type DenseMatrix } from 'natgrad';

/** The three flows of Fig. 1. */
export type Fig1Field = 'GD' | 'NGD' | 'EF';
export const FIG1_FIELDS: readonly Fig1Field[] = ['GD', 'NGD', 'EF'];

/** Step-size multipliers of the paper's code (`gammas = [1/3, 1, 3]`). */
export const FIG1_SCALES: Readonly<Record<Fig1Field, number>> = { GD: 1 / 3, NGD: 1, EF: 3 };
/** Damping added to H and F̃ in the NGD and EF fields. */
export const FIG1_DAMPING = 1e-8;
export const FIG1_STARTS: readonly (readonly [number, number])[] = [
  [2, 4.5],
  [1, 0],
  [4.5, 3],
  [-0.5, 3],
];
export const FIG1_STEP = 0.001;
/** Iterates per path, start included (the paper's N_ITER). */
export const FIG1_POINTS = 50_000;
/** Keep every 100th iterate of a path (and the last) in the output. */
export const FIG1_SUBSAMPLE = 100;

/** A 2-vector. */
export type Vec2 = [number, number];
/** A symmetric 2 × 2 matrix [a00, a01, a11]. */
type Sym2 = [number, number, number];

/** A path of one flow. */
export interface Fig1Trajectory {
  start: Vec2;
  end: Vec2;
  /** every FIG1_SUBSAMPLE-th iterate, start and end included */
  points: Vec2[];
}

/**
 * The closed-form 2-D linear-regression problem of Fig. 1 (sufficient statistics + formulas).
 * Everything in it is plain numbers: usable without the library once built.
 */
export interface Fig1Model {
  N: number;
  /** σ² of the likelihood and σp² of the prior */
  variance: number;
  priorVariance: number;
  /** Σ x xᵀ, Σ y x, Σ y² */
  xx: Sym2;
  xy: Vec2;
  yy: number;
  /** S_00, S_01, S_11 (each Sym2), T_0, T_1, U: see the module documentation */
  S: [Sym2, Sym2, Sym2];
  T: [Sym2, Sym2];
  U: Sym2;
}

/** Everything Fig. 1 shows. */
export interface Fig1Result {
  /** the data: x = u_n (second input column) and y */
  data: { x: number[]; y: number[] };
  model: Fig1Model;
  thetaStar: Vec2;
  grid: { b: number[]; theta: number[] };
  /** fields[name][i][j] = the vector at (b[i], theta[j]) */
  fields: Record<Fig1Field, Vec2[][]>;
  trajectories: Record<Fig1Field, Fig1Trajectory[]>;
  /** loss on a contourGrid.size² grid over the same square, row-major with b varying fastest */
  contours: { b: number[]; theta: number[]; values: number[] };
}

/** linspace(a, b, n) as numpy computes it. */
export function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + i * step));
}

function sym(m: DenseMatrix | Float64Array): Sym2 {
  const d = m instanceof Float64Array ? m : m.data;
  return [d[0]!, d[1]!, d[3]!];
}

/**
 * Build the sufficient statistics of Fig. 1's problem from its data with the library
 * (`gram(X, w)` = Σ_n w_n x_n x_nᵀ).
 */
export function fig1Model(X: DenseMatrix, y: ArrayLike<number>, variance = 1, priorVariance = 0.1): Fig1Model {
  if (X.cols !== 2) throw new RangeError(`fig1Model: X must have 2 columns, got ${X.cols}`);
  const N = X.rows;
  const col = (j: number) => Float64Array.from({ length: N }, (_, n) => X.data[2 * n + j]!);
  const x0 = col(0),
    x1 = col(1),
    yv = Float64Array.from(y);
  const G = (w?: Float64Array): Sym2 => {
    const C = gram(X, w);
    try {
      return sym(C.toDense());
    } finally {
      C.free();
    }
  };
  const mul = (a: Float64Array, b: Float64Array) => a.map((v, i) => v * b[i]!);
  let xy0 = 0,
    xy1 = 0,
    yy = 0;
  for (let n = 0; n < N; n++) {
    xy0 += yv[n]! * x0[n]!;
    xy1 += yv[n]! * x1[n]!;
    yy += yv[n]! * yv[n]!;
  }
  return {
    N,
    variance,
    priorVariance,
    xx: G(),
    xy: [xy0, xy1],
    yy,
    S: [G(mul(x0, x0)), G(mul(x0, x1)), G(mul(x1, x1))],
    T: [G(mul(yv, x0)), G(mul(yv, x1))],
    U: G(mul(yv, yv)),
  };
}

/** L(θ) = (θᵀΣxxᵀθ − 2θᵀΣyx + Σy²)/(2Nσ²) + ‖θ‖²/(2σp² N). */
export function fig1Loss(m: Fig1Model, t: Vec2): number {
  const [a, b, c] = m.xx;
  const quad = a * t[0] * t[0] + 2 * b * t[0] * t[1] + c * t[1] * t[1];
  const data = (quad - 2 * (t[0] * m.xy[0] + t[1] * m.xy[1]) + m.yy) / (2 * m.N * m.variance);
  return data + (t[0] * t[0] + t[1] * t[1]) / (2 * m.priorVariance * m.N);
}

/** ∇L(θ) = (Σxxᵀθ − Σyx)/(Nσ²) + θ/(σp² N). */
export function fig1Gradient(m: Fig1Model, t: Vec2): Vec2 {
  const [a, b, c] = m.xx,
    s = 1 / (m.N * m.variance),
    p = 1 / (m.priorVariance * m.N);
  return [s * (a * t[0] + b * t[1] - m.xy[0]) + p * t[0], s * (b * t[0] + c * t[1] - m.xy[1]) + p * t[1]];
}

/** H = Σxxᵀ/(Nσ²) + I/(σp² N) (constant). */
export function fig1Hessian(m: Fig1Model): Sym2 {
  const s = 1 / (m.N * m.variance),
    p = 1 / (m.priorVariance * m.N);
  return [s * m.xx[0] + p, s * m.xx[1], s * m.xx[2] + p];
}

/** F̃(θ) = (1/N) Σ r_n² x_n x_nᵀ, r_n = (x_nᵀθ − y_n)/σ² (no prior). */
export function fig1EmpiricalFisher(m: Fig1Model, t: Vec2): Sym2 {
  const [S00, S01, S11] = m.S,
    [T0, T1] = m.T,
    U = m.U;
  const w00 = t[0] * t[0],
    w01 = 2 * t[0] * t[1],
    w11 = t[1] * t[1];
  const k = 1 / (m.N * m.variance * m.variance);
  const out: Sym2 = [0, 0, 0];
  for (let e = 0; e < 3; e++) {
    out[e] = k * (w00 * S00[e]! + w01 * S01[e]! + w11 * S11[e]! - 2 * (t[0] * T0[e]! + t[1] * T1[e]!) + U[e]!);
  }
  return out;
}

/** x with (A + λI) x = v for a symmetric 2 × 2 A (Cramer's rule). */
export function solve2(A: Sym2, lambda: number, v: Vec2): Vec2 {
  const a = A[0] + lambda,
    b = A[1],
    c = A[2] + lambda;
  const det = a * c - b * b;
  return [(c * v[0] - b * v[1]) / det, (a * v[1] - b * v[0]) / det];
}

/**
 * The vector of a flow at θ: −scale·d with d = ∇L (GD), (H + λI)⁻¹∇L (NGD) or (F̃ + λI)⁻¹∇L (EF);
 * scale and λ default to the paper's constants {@link FIG1_SCALES} and {@link FIG1_DAMPING}.
 */
export function fig1Field(m: Fig1Model, name: Fig1Field, t: Vec2, H: Sym2 = fig1Hessian(m), scale = FIG1_SCALES[name], damping = FIG1_DAMPING): Vec2 {
  const g = fig1Gradient(m, t);
  let d: Vec2;
  switch (name) {
    case 'GD':
      d = g;
      break;
    case 'NGD':
      d = solve2(H, damping, g);
      break;
    case 'EF':
      d = solve2(fig1EmpiricalFisher(m, t), damping, g);
      break;
  }
  return [-scale * d[0], -scale * d[1]];
}

/** The paper's Euler integration: `points` iterates (start included) of θ ← θ + step·v(θ). */
export function fig1Trajectory(m: Fig1Model, name: Fig1Field, start: readonly [number, number], points = FIG1_POINTS, step = FIG1_STEP, every = FIG1_SUBSAMPLE): Fig1Trajectory {
  const H = fig1Hessian(m);
  let t: Vec2 = [start[0], start[1]];
  const kept: Vec2[] = [[t[0], t[1]]];
  for (let k = 1; k < points; k++) {
    const v = fig1Field(m, name, t, H);
    t = [t[0] + step * v[0], t[1] + step * v[1]];
    if (k % every === 0 || k === points - 1) kept.push([t[0], t[1]]);
  }
  return { start: [start[0], start[1]], end: [t[0], t[1]], points: kept };
}

/** Options of {@link fig1}: smaller settings for previews and tests. */
export interface Fig1Options {
  N?: number;
  points?: number;
  /** contour grid size (default 60) */
  contourSize?: number;
}

/** Compute Figure 1 (see the module documentation). Needs `await init()` first. */
export function fig1(options: Fig1Options = {}): Fig1Result {
  const N = options.N ?? 1000;
  const d = toyData.fig1(numpyRandomState(0), N);
  const m = fig1Model(d.X, d.y, 1, 0.1);
  // θ* solves H θ = Σyx/(Nσ²) exactly (L is quadratic); cross-checked against the library in the tests.
  const H = fig1Hessian(m);
  const thetaStar = solve2(H, 0, [m.xy[0] / (m.N * m.variance), m.xy[1] / (m.N * m.variance)]);
  const b = linspace(-1, 5, 15),
    theta = linspace(-1, 5, 15);
  const fields = {} as Record<Fig1Field, Vec2[][]>;
  const trajectories = {} as Record<Fig1Field, Fig1Trajectory[]>;
  for (const name of FIG1_FIELDS) {
    fields[name] = b.map((bi) => theta.map((tj) => fig1Field(m, name, [bi, tj], H)));
    trajectories[name] = FIG1_STARTS.map((s) => fig1Trajectory(m, name, s, options.points ?? FIG1_POINTS));
  }
  const n = options.contourSize ?? 60;
  const cb = linspace(-1, 5, n),
    ct = linspace(-1, 5, n);
  const values: number[] = [];
  for (const tj of ct) for (const bi of cb) values.push(fig1Loss(m, [bi, tj]));
  const x: number[] = [],
    y: number[] = [];
  for (let i = 0; i < N; i++) {
    x.push(d.X.data[2 * i + 1]!);
    y.push(d.y[i]!);
  }
  return { data: { x, y }, model: m, thetaStar, grid: { b, theta }, fields, trajectories, contours: { b: cb, theta: ct, values } };
}

/** The fig1.json document (the keys of the reproduction's JSON schema). */
export function fig1Json(r: Fig1Result): Record<string, unknown> {
  return { thetaStar: r.thetaStar, grid: r.grid, fields: r.fields, trajectories: r.trajectories };
}
