/**
 * Small helpers shared by the beyond-the-paper experiments, and the parts of natgrad they use
 * (re-exported from `'natgrad'`, the built package, so that they share its WebAssembly core).
 *
 * @module
 */
import type { DenseMatrix, Problem } from 'natgrad';

export {
  cg,
  topEigenvalues,
  spectralDensity,
  traceEstimate,
  curvatureOperator,
  kfac,
  hessianFree,
  stochasticRun,
  batchSchedule,
  adam,
  diagonalVarianceAdapted,
  fullVarianceAdapted,
  sineData,
} from 'natgrad';
export type { LinearOperator, StochasticRecord } from 'natgrad';

/** Columns of X standardized to mean 0, variance 1 (constant columns left at 0). */
export function standardizeColumns(X: DenseMatrix): DenseMatrix {
  const { rows: N, cols: d } = X;
  const out = X.data.slice();
  for (let j = 0; j < d; j++) {
    let m = 0,
      v = 0;
    for (let i = 0; i < N; i++) m += out[i * d + j]! / N;
    for (let i = 0; i < N; i++) v += (out[i * d + j]! - m) ** 2 / N;
    const s = v > 0 ? Math.sqrt(v) : 1;
    for (let i = 0; i < N; i++) out[i * d + j] = (out[i * d + j]! - m) / s;
  }
  return { data: out, rows: N, cols: d };
}

/** y standardized to mean 0, variance 1. */
export function standardizeVector(y: Float64Array): Float64Array {
  const N = y.length;
  let m = 0,
    v = 0;
  for (const t of y) m += t / N;
  for (const t of y) v += (t - m) ** 2 / N;
  const s = v > 0 ? Math.sqrt(v) : 1;
  return y.map((t) => (t - m) / s);
}

/** The first n rows of X and y. */
export function head(X: DenseMatrix, y: Float64Array, n: number): { X: DenseMatrix; y: Float64Array } {
  const m = Math.min(n, X.rows);
  return { X: { data: X.data.slice(0, m * X.cols), rows: m, cols: X.cols }, y: y.slice(0, m) };
}

/** The model's outputs f(θ, X) (N × M row-major). */
export function outputs(p: Problem, X: DenseMatrix, theta: Float64Array): Float64Array {
  const trace = p.model.forward(theta, X.data, X.rows);
  try {
    return trace.outputs.slice();
  } finally {
    trace.free?.();
  }
}

/** Classification accuracy of argmax f (categorical) or f > 0 (one output). */
export function accuracy(p: Problem, X: DenseMatrix, y: Float64Array, theta: Float64Array): number {
  const f = outputs(p, X, theta);
  const M = f.length / X.rows;
  let ok = 0;
  for (let n = 0; n < X.rows; n++) {
    let arg = 0;
    if (M === 1) arg = f[n]! > 0 ? 1 : 0;
    else for (let c = 1; c < M; c++) if (f[n * M + c]! > f[n * M + arg]!) arg = c;
    if (arg === y[n]) ok++;
  }
  return ok / X.rows;
}

/** The difference of two operators' products, A v − B v (e.g. ∇²L − G: the residual term). */
export function difference(dim: number, a: (v: Float64Array) => Float64Array, b: (v: Float64Array) => Float64Array) {
  return {
    dim,
    matvec: (v: Float64Array) => {
      const x = a(v),
        y = b(v);
      for (let i = 0; i < dim; i++) x[i]! -= y[i]!;
      return x;
    },
  };
}

/** Evenly spaced integers from 0 to n (count points, deduplicated). */
export function checkpoints(n: number, count: number): number[] {
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * n) / Math.max(1, count - 1))))];
}

/** Cosine of two vectors (NaN when one is 0). */
export function cos(a: Float64Array, b: Float64Array): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Progress callback shape of the experiments: done of total units. */
export type Progress = (p: { done: number; total: number }) => void;
