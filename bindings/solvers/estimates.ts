/**
 * Randomized trace and diagonal estimates of a symmetric operator from Rademacher probes
 * (`rng(seed)`, xoshiro256**): Hutchinson, Hutch++ and the Bekas–Kokiopoulou–Saad diagonal.
 *
 * Scaling rule: both estimators are scale-invariant. They work on Â = A / s, with s a power of
 * two near ‖A z₁‖ of the first nonzero product, so the probe terms, their variance and the
 * Hutch++ norms stay near 1 whether A's entries are 1e-200 or 1e200, and multiply the estimates
 * and standard errors back by s (exactly: s is a power of two, so `f(2ᵏA)` is 2ᵏ·`f(A)` to the
 * bit, and `f(cA)` is c·`f(A)` to rounding for any c). Every threshold is relative.
 *
 * Float32 operators (`op.dtype === 'float32'`): Hutchinson keeps no D-vector across probes (a probe,
 * its product and a float64 scalar term each time), so nothing changes there. Hutch++ stores its
 * basis Q (⌊m/3⌋ vectors of length D) in Float32Array — half the memory; each q is orthogonalized
 * in float64 and rounded once, so Q is orthonormal to ~2⁻²⁴ and the estimate moves by ~1e-7
 * relative, below the float32 operator's own product error (~K·2⁻²⁴); a sketch column in the span
 * of Q now shows ~1e-7 of its norm (operator noise) rather than ≤ 1e-12, and is kept (an extra
 * deterministic direction: the estimator stays unbiased). The diagonal estimator's running mean
 * and M2 (Welford) are D-vectors kept across probes but stay Float64Array: they are sums over the
 * probes, and rounding each update to float32 would add an error growing with the probe count
 * (up to ~m·2⁻²⁴ relative after m probes) while the stochastic error only falls as 1/√m — so the
 * accumulation is float64, and only the products are float32.
 *
 * @module
 */
import { checkCount, checkOptions } from '../core/options.js';
import {
  checkAbort,
  checkOperator,
  checkSeed,
  dot,
  apply,
  iterativeOptionKeys,
  nrm2,
  pow2Scale,
  storedQuotient,
  widen,
  type IterativeOptions,
  type LinearOperator,
  type StoredVector,
} from '../operators/operator.js';
import { rng } from '../data/random.js';
import { rademacher } from './lanczos.js';

const TRACE_KEYS: readonly string[] = ['probes', 'seed', 'method', ...iterativeOptionKeys];
const DIAGONAL_KEYS: readonly string[] = ['probes', 'seed', ...iterativeOptionKeys];
const ESTIMATE_HINTS: Readonly<Record<string, string>> = {
  samples: "did you mean 'probes'? (products with A)",
  iterations: "did you mean 'probes'? (products with A)",
  maxIterations: "did you mean 'probes'? (products with A)",
};

/**
 * A v / s for the estimators: s is fixed (a power of two near ‖A v‖) by the first nonzero
 * product, and `scale` gives it (1 before). @internal
 */
function scaledProducts(op: LinearOperator, where: string, signal: AbortSignal | undefined): { mv(v: Float64Array): Float64Array; readonly scale: number; readonly products: number } {
  let s = 0,
    products = 0;
  return {
    mv(v) {
      checkAbort(signal);
      const y = apply(op, v, `${where}: operator`);
      products++;
      if (s === 0) {
        const n = nrm2(y);
        if (n > 0) s = pow2Scale(n);
      }
      if (s !== 0) for (let i = 0; i < y.length; i++) y[i]! /= s;
      return y;
    },
    get scale() {
      return s || 1;
    },
    get products() {
      return products;
    },
  };
}

/**
 * What the estimators report after each product.
 *
 * @category Matrix-free
 */
export interface EstimateProgress {
  products: number;
  /** The running estimate (the trace; for the diagonal, its sum). */
  estimate: number;
}

/**
 * Options of {@link traceEstimate}.
 *
 * @category Matrix-free
 */
export interface TraceEstimateOptions extends IterativeOptions<EstimateProgress> {
  /** Products with A (default 30; Hutch++ uses multiples of 3: ⌊probes/3⌋ each for sketch, basis, residual). */
  probes?: number;
  seed?: number;
  /** `'hutchinson'` (default) or `'hutch++'`. */
  method?: 'hutchinson' | 'hutch++';
}

/**
 * The result of {@link traceEstimate}.
 *
 * @category Matrix-free
 */
export interface TraceEstimate {
  estimate: number;
  /**
   * Standard error of the estimate from the sample variance of the probe terms (of the residual
   * part for Hutch++; its low-rank part is deterministic given the sketch). Unbiased estimator:
   * |estimate − tr A| is within 2–3 standard errors with high probability.
   */
  standardError: number;
  /** Products with A done. */
  products: number;
}

/**
 * tr(A) by Hutchinson's estimator (1/m) Σ_i z_iᵀ A z_i with Rademacher z_i, or Hutch++ (Meyer,
 * Musco, Musco & Woodruff 2021): Q = orth(A S) from m/3 probes S, then
 * tr(A) ≈ tr(Qᵀ A Q) + (3/m) Σ_i g_iᵀ (I − QQᵀ) A (I − QQᵀ) g_i.
 *
 * Accuracy: Hutchinson is unbiased with variance 2(‖A‖_F² − Σ_i A_ii²)/m; Hutch++ is unbiased with
 * error O(‖A‖_nuclear / m) for PSD A (vs O(‖A‖_F/√m)) — much better when the spectrum decays. The returned
 * standard error is estimated from the probes. Cost: m products with A (Hutch++: m, in three
 * thirds, plus O(m²·D) for the QR); memory O(D) (Hutch++: 2m/3·D doubles). Scale-invariant: the
 * estimator runs on Â = A / s, with s a power of two near ‖A z₁‖ of the first nonzero product, and
 * multiplies the estimate and the standard error back by s, so `traceEstimate(2ᵏA)` is 2ᵏ times
 * `traceEstimate(A)` to the bit and entries anywhere from 1e-200 to 1e200 work; Hutch++ drops a sketch column whose part orthogonal to the basis
 * is ≤ 1e-12 of its norm (numerically in the span).
 * @throws UnknownOptionError for an option it does not know; RangeError for probes that is not an
 *   integer ≥ 1 (Hutch++: ≥ 3), an unknown method, a dim mismatch, an operator that returns
 *   non-finite entries.
 * @example
 * traceEstimate(F, { probes: 100, seed: 1 }); // { estimate ≈ tr F, standardError, products: 100 }
 *
 * @category Matrix-free
 */
export function traceEstimate(op: LinearOperator, options: TraceEstimateOptions = {}): TraceEstimate {
  const o = checkOptions<TraceEstimateOptions>(options, 'traceEstimate', TRACE_KEYS, ESTIMATE_HINTS);
  checkOperator(op);
  const D = op.dim;
  const method = o.method ?? 'hutchinson';
  if (method !== 'hutchinson' && method !== 'hutch++') throw new RangeError(`natgrad: traceEstimate: method must be 'hutchinson' or 'hutch++', got ${String(method)}`);
  const probes = checkCount(o.probes, 'traceEstimate: probes', { min: method === 'hutch++' ? 3 : 1, dflt: 30 });
  const g = rng(checkSeed(o.seed));
  // Everything below is in units of Â = A / s; results are multiplied back by s.
  const A = scaledProducts(op, 'traceEstimate', o.signal);
  const mv = A.mv;
  // Mean and variance of probe terms (Welford).
  const stats = (terms: number[]): { mean: number; se: number } => {
    const m = terms.length;
    const mean = terms.reduce((a, b) => a + b, 0) / m;
    if (m < 2) return { mean, se: Infinity };
    const v = terms.reduce((a, t) => a + (t - mean) ** 2, 0) / (m - 1);
    return { mean, se: Math.sqrt(v / m) };
  };
  if (method === 'hutchinson') {
    const terms: number[] = [];
    for (let i = 0; i < probes; i++) {
      const z = rademacher(g, D);
      terms.push(dot(z, mv(z)));
      o.onProgress?.({ products: A.products, estimate: (terms.reduce((a, b) => a + b, 0) / terms.length) * A.scale });
    }
    const { mean, se } = stats(terms);
    return { estimate: mean * A.scale, standardError: se * A.scale, products: A.products };
  }
  const third = Math.floor(probes / 3);
  const Q: StoredVector[] = [];
  for (let i = 0; i < third; i++) {
    const y = mv(rademacher(g, D));
    const n0 = nrm2(y);
    for (let pass = 0; pass < 2; pass++)
      for (const q of Q) {
        const c = dot(q, y);
        for (let t = 0; t < D; t++) y[t]! -= c * q[t]!;
      }
    const n = nrm2(y);
    if (n > 1e-12 * n0) Q.push(storedQuotient(op, y, n));
    o.onProgress?.({ products: A.products, estimate: NaN });
  }
  let low = 0;
  for (const q of Q) low += dot(q, mv(widen(q)));
  const rest = probes - third - Q.length;
  const project = (v: Float64Array): void => {
    for (const q of Q) {
      const c = dot(q, v);
      for (let t = 0; t < D; t++) v[t]! -= c * q[t]!;
    }
  };
  const terms: number[] = [];
  for (let i = 0; i < rest; i++) {
    const z = rademacher(g, D);
    project(z);
    const y = mv(z);
    project(y);
    terms.push(dot(z, y));
    o.onProgress?.({ products: A.products, estimate: (low + terms.reduce((a, b) => a + b, 0) / terms.length) * A.scale });
  }
  if (terms.length === 0) return { estimate: low * A.scale, standardError: Q.length === D ? 0 : Infinity, products: A.products };
  const { mean, se } = stats(terms);
  return { estimate: (low + mean) * A.scale, standardError: se * A.scale, products: A.products };
}

/**
 * Options of {@link diagonalEstimate}.
 *
 * @category Matrix-free
 */
export interface DiagonalEstimateOptions extends IterativeOptions<EstimateProgress> {
  /** Products with A (default 30). */
  probes?: number;
  seed?: number;
}

/**
 * The result of {@link diagonalEstimate}.
 *
 * @category Matrix-free
 */
export interface DiagonalEstimate {
  estimate: Float64Array;
  /** Per-entry standard error from the probes' sample variance. */
  standardError: Float64Array;
  products: number;
}

/**
 * diag(A) ≈ (1/m) Σ_i z_i ⊙ A z_i with Rademacher z_i (Bekas, Kokiopoulou & Saad 2007).
 *
 * Accuracy: unbiased; entry j has variance (Σ_{k≠j} A_jk²)/m — exact for a diagonal A, poor where
 * off-diagonal mass dominates. The standard errors are estimated from the probes. Cost: m products
 * with A, O(m·D); memory 3 D-vectors. Scale-invariant: the estimator runs on Â = A / s, with s a
 * power of two near ‖A z₁‖ of the first nonzero product, and multiplies the estimates and standard
 * errors back by s (`diagonalEstimate(2ᵏA)` is 2ᵏ times `diagonalEstimate(A)` to the bit).
 * @throws UnknownOptionError for an option it does not know; RangeError for probes that is not an
 *   integer ≥ 1, a dim mismatch, an operator that returns non-finite entries.
 * @example
 * ```ts
 * const A = { dim: 2, matvec: (v) => Float64Array.of(2 * v[0] + v[1], v[0] + 3 * v[1]) }; // [[2, 1], [1, 3]]
 * const { estimate, standardError } = diagonalEstimate(A, { probes: 30, seed: 1 });
 * // estimate ≈ [2.2, 3.2] (diag [2, 3]), standardError ≈ [0.18, 0.18]: the off-diagonal 1 is the noise
 * diagonalEstimate(F, { probes: 100 }).estimate;   // a curvature operator's diagonal, matrix-free
 * ```
 *
 * @category Matrix-free
 */
export function diagonalEstimate(op: LinearOperator, options: DiagonalEstimateOptions = {}): DiagonalEstimate {
  const o = checkOptions<DiagonalEstimateOptions>(options, 'diagonalEstimate', DIAGONAL_KEYS, ESTIMATE_HINTS);
  checkOperator(op);
  const D = op.dim;
  const probes = checkCount(o.probes, 'diagonalEstimate: probes', { dflt: 30 });
  const g = rng(checkSeed(o.seed));
  // Welford in units of Â = A / s; multiplied back by s.
  const A = scaledProducts(op, 'diagonalEstimate', o.signal);
  const mean = new Float64Array(D),
    m2 = new Float64Array(D);
  for (let i = 0; i < probes; i++) {
    const z = rademacher(g, D);
    const y = A.mv(z);
    let sum = 0;
    for (let j = 0; j < D; j++) {
      const t = z[j]! * y[j]!;
      const d = t - mean[j]!;
      mean[j]! += d / (i + 1);
      m2[j]! += d * (t - mean[j]!);
      sum += mean[j]!;
    }
    o.onProgress?.({ products: i + 1, estimate: sum * A.scale });
  }
  const s = A.scale;
  const se = m2.map((v) => (probes > 1 ? Math.sqrt(v / (probes - 1) / probes) * s : Infinity));
  return { estimate: mean.map((x) => x * s), standardError: se, products: probes };
}
