/**
 * Lanczos with full reorthogonalization on a symmetric operator: extreme eigenvalues
 * ({@link topEigenvalues}) and stochastic Lanczos quadrature of the spectral density
 * ({@link spectralDensity}).
 *
 * Scaling rule: every routine here is scale-invariant. Lanczos runs on Â = A / s, where s is a
 * power of two near ‖A q₀‖ for the first (unit) Lanczos vector q₀ with a nonzero product, so the
 * recurrence, its norms and its breakdown and convergence tests stay near 1 whether the spectrum
 * sits at 1e-200 or at 1e200; α, β, Ritz values, residual bounds, quadrature nodes and traces are
 * multiplied back by s (exactly: s is a power of two), so `f(2ᵏA)` gives 2ᵏ times `f(A)` to the
 * bit. Every tolerance is relative to that scale. The operator only sees unit vectors, so a
 * non-finite product means the operator itself returned one (the error says so).
 *
 * Float32 operators (`op.dtype === 'float32'`, e.g. the curvature of a float32 model): the basis
 * Q — the memory that matters, m vectors of length D — is stored in Float32Array, half the bytes.
 * Each q_{j+1} is formed in float64 (A q_j, the three-term recurrence and the full
 * reorthogonalization, all float64 arithmetic against the float32-stored q's) and rounded once
 * when stored; α, β, T, Ritz values and residual bounds are float64, dot products accumulated in
 * float64. The operator gets a widening (exact) copy of q. Accuracy: the stored basis is
 * orthonormal to ~u = 2⁻²⁴ (|q_iᵀq_j − δ_ij| ≤ ~2u, instead of ~1e-16), so the Lanczos relation
 * holds to ~u·‖A‖ — the float32 operator's own accuracy (its products err by ~K·u·‖A‖ anyway):
 * Ritz values of a float32 operator are accurate to ~1e-7·‖A‖, not to float64 rounding, whatever
 * `tol` says: the residual bounds |β_m s_{m,i}| of {@link topEigenvalues} are those of the computed
 * recurrence and can fall below 1e-7 (`converged: true`) while ‖A y − θ y‖ stays at ~1e-7·‖A‖. The
 * breakdown test stays β_j ≤ 1e-12·‖T‖: with a float32 operator an invariant subspace shows as β_j
 * ~ 1e-7·‖T‖ rather than 0, and the recurrence continues into (operator-noise) directions
 * orthogonal to the basis, which moves no Ritz value by more than that β. `keepBasis` and the Ritz
 * vectors are returned as Float64Array (the basis widened exactly: its entries are float32 values).
 *
 * @module
 */
import { checkCount, checkOptions } from '../core/options.js';
import { checkScalar } from '../core/validate.js';
import { rng } from '../data/random.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import {
  apply,
  checkAbort,
  checkOperator,
  checkSeed,
  checkVector,
  dot,
  iterativeOptionKeys,
  nrm2,
  pow2Scale,
  storedQuotient,
  subtractScaled,
  widen,
  type IterativeOptions,
  type LinearOperator,
  type StoredVector,
} from '../operators/operator.js';

/** A Rademacher vector (±1 entries) of length D from `g`. */
export function rademacher(g: { uniform(): number }, D: number): Float64Array {
  const z = new Float64Array(D);
  for (let i = 0; i < D; i++) z[i] = g.uniform() < 0.5 ? -1 : 1;
  return z;
}

/**
 * What {@link lanczos} reports after each step.
 *
 * @category Matrix-free
 */
export interface LanczosProgress {
  step: number;
  alpha: number;
  beta: number;
}

/**
 * Options of {@link lanczos}.
 *
 * @category Matrix-free
 */
export interface LanczosOptions extends IterativeOptions<LanczosProgress> {
  /** m ≤ D Lanczos steps (= products). Required: there is no default. */
  steps: number;
  /** Starting vector (default: Rademacher from `rng(seed)`), normalized inside. */
  v0?: Float64Array;
  /** Seed of the default starting vector and of restarts (default 0). */
  seed?: number;
  /**
   * On breakdown (β_j ≈ 0: an invariant subspace was found) continue with a random vector
   * orthogonal to the basis, β_j = 0 (default true); false stops there (what SLQ wants).
   */
  restart?: boolean;
  /** Keep the Lanczos basis q_0 … q_{m−1} in the result (m·D doubles; default false). */
  keepBasis?: boolean;
}

/**
 * The Lanczos tridiagonal T_m = Qᵀ A Q (and Q when kept).
 *
 * @category Matrix-free
 */
export interface LanczosResult {
  /** Diagonal α_0 … α_{m−1}. */
  alpha: Float64Array;
  /** Off-diagonal β_0 … β_{m−1}; β_{m−1} is the residual norm after the last step (A Q = Q T + β_{m−1} q_m e_mᵀ). */
  beta: Float64Array;
  /** m, the steps done (≤ requested: fewer at an invariant subspace without restart, or when m reached D). */
  steps: number;
  /** q_0 … q_{m−1} (orthonormal to rounding), with `keepBasis`. */
  basis?: Float64Array[];
}

/**
 * Orthogonalize w against every q in Q by classical Gram–Schmidt, repeated once when the pass
 * removed much of w (‖w‖ fell below ‖w₀‖/√2: the Daniel–Gragg–Kaufman–Stewart criterion; "twice is
 * enough", Giraud et al. 2005). Lanczos vectors are nearly orthogonal already, so one pass of
 * 4·|Q|·D flops is the usual cost. w is float64; the q may be float32 (a float32 operator's
 * basis): the coefficients and updates are float64 arithmetic either way.
 */
function reorthogonalize(w: Float64Array, Q: readonly StoredVector[]): void {
  for (let pass = 0; pass < 2; pass++) {
    const before = dot(w, w);
    for (const q of Q) {
      const c = dot(q, w);
      if (c !== 0) subtractScaled(w, c, q);
    }
    if (dot(w, w) > 0.5 * before) return;
  }
}

const LANCZOS_KEYS: readonly string[] = ['steps', 'v0', 'seed', 'restart', 'keepBasis', ...iterativeOptionKeys];
const TOP_KEYS: readonly string[] = ['k', 'which', 'tol', 'maxIterations', 'seed', 'v0', 'vectors', ...iterativeOptionKeys];
const DENSITY_KEYS: readonly string[] = ['probes', 'steps', 'seed', 'gridSize', 'sigma', ...iterativeOptionKeys];
const LANCZOS_HINTS: Readonly<Record<string, string>> = {
  maxIterations: "lanczos does exactly 'steps' steps",
  iterations: "did you mean 'steps'?",
  k: 'lanczos returns the tridiagonal T; for eigenvalues use topEigenvalues({ k })',
};
const TOP_HINTS: Readonly<Record<string, string>> = {
  tolerance: "did you mean 'tol'?",
  steps: "topEigenvalues takes 'maxIterations' (the most Lanczos steps)",
  maxIter: "did you mean 'maxIterations'?",
  maxiter: "did you mean 'maxIterations'?",
  returnVectors: "did you mean 'vectors'?",
};
const DENSITY_HINTS: Readonly<Record<string, string>> = {
  maxIterations: "spectralDensity takes 'steps' (Lanczos steps per probe)",
  iterations: "did you mean 'steps'? (Lanczos steps per probe)",
  samples: "did you mean 'probes'?",
  bins: "did you mean 'gridSize'?",
  width: "did you mean 'sigma'? (the Gaussian kernel width)",
};

/**
 * The Lanczos process with full reorthogonalization (`LanczosIterator`-like, step by step) on
 * Â = A / `scale` (see the module documentation): `alpha`, `beta` and the Ritz values of `ritz()`
 * are those of Â; multiply by `scale` for A's. `step()` does one product. @internal
 */
class LanczosProcess {
  /** The basis q_0 … q_{j}: Float32Array for a float32 operator (each q rounded once from the float64 w / β). */
  readonly Q: StoredVector[] = [];
  readonly alpha: number[] = [];
  readonly beta: number[] = [];
  /** The next q, already in storage type. */
  #w: StoredVector | undefined;
  /** max(|α|, β) so far (of Â). */
  #tnorm = 0;
  /** s: a power of two near ‖A q‖ of the first nonzero product; 0 until then. */
  #s = 0;
  done = false;
  constructor(
    readonly op: LinearOperator,
    v0: Float64Array,
    readonly g: { uniform(): number },
    readonly restart: boolean,
    readonly where = 'lanczos',
  ) {
    const n = nrm2(v0);
    if (!(n > 0)) throw new RangeError(`natgrad: ${where}: the starting vector v0 is zero`);
    this.#w = storedQuotient(op, v0, n);
  }

  /** s with Â = A / s (1 before the first nonzero product). */
  get scale(): number {
    return this.#s || 1;
  }

  /** One step: q_j from the last residual, α_j, β_j. Returns false when no step could be made. */
  step(signal?: AbortSignal): boolean {
    if (this.done) return false;
    checkAbort(signal);
    const D = this.op.dim,
      j = this.Q.length;
    const q = this.#w!;
    this.Q.push(q);
    // A float32 q is widened (exactly) for the product; α, β and w are float64.
    const w = apply(this.op, widen(q), `${this.where}: operator`);
    if (this.#s === 0) {
      const n = nrm2(w);
      if (n > 0) this.#s = pow2Scale(n);
    }
    if (this.#s !== 0) for (let i = 0; i < D; i++) w[i]! /= this.#s;
    const a = dot(q, w);
    subtractScaled(w, a, q);
    if (j > 0) subtractScaled(w, this.beta[j - 1]!, this.Q[j - 1]!);
    reorthogonalize(w, this.Q);
    this.alpha.push(a);
    this.#tnorm = Math.max(this.#tnorm, Math.abs(a), j > 0 ? this.beta[j - 1]! : 0);
    let b = nrm2(w);
    if (this.Q.length >= D) {
      this.done = true;
      this.beta.push(b);
      this.#w = undefined;
      return true;
    }
    if (b <= 1e-12 * Math.max(this.#tnorm, Number.MIN_VALUE)) {
      if (!this.restart) {
        this.done = true;
        this.beta.push(0);
        this.#w = undefined;
        return true;
      }
      // Invariant subspace: continue in its orthogonal complement, with a zero coupling.
      let fresh: Float64Array,
        n = 0;
      for (let tries = 0; tries < 5 && !(n > 1e-8); tries++) {
        fresh = rademacher(this.g, D);
        const n0 = Math.sqrt(dot(fresh, fresh));
        reorthogonalize(fresh, this.Q);
        n = Math.sqrt(dot(fresh, fresh)) / n0;
      }
      if (!(n > 1e-8)) {
        this.done = true;
        this.beta.push(0);
        this.#w = undefined;
        return true;
      }
      const nn = Math.sqrt(dot(fresh!, fresh!));
      this.#w = storedQuotient(this.op, fresh!, nn);
      b = 0;
    } else {
      this.#w = storedQuotient(this.op, w, b);
    }
    this.beta.push(b);
    return true;
  }

  /** Eigen-decomposition of T̂_m (of Â): Ritz values ascending, and the matrix S (m × m row-major, columns = eigenvectors). */
  ritz(): { values: Float64Array; S: Float64Array; m: number } {
    const m = this.alpha.length;
    const T = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      T[i * m + i] = this.alpha[i]!;
      if (i + 1 < m) {
        T[i * m + i + 1] = this.beta[i]!;
        T[(i + 1) * m + i] = this.beta[i]!;
      }
    }
    const sm = SymMatrix.from({ data: T, rows: m, cols: m });
    try {
      const { values, vectors } = sm.eigen();
      return { values, S: vectors.data, m };
    } finally {
      sm.free();
    }
  }
}

/**
 * m steps of Lanczos with full reorthogonalization: A Q_m = Q_m T_m + β_{m−1} q_m e_mᵀ with
 * T_m tridiagonal (α on the diagonal, β beside it) and Q_m orthonormal to rounding.
 *
 * Cost: m products with A plus 4·m²·D flops for the reorthogonalization (two Gram–Schmidt passes
 * against every previous vector); memory m·D doubles for the basis (kept internally even without
 * `keepBasis`, which only returns it; m·D floats for a float32 operator). Full reorthogonalization keeps the Ritz values free of
 * the spurious copies that plain Lanczos produces in floating point. Scale-invariant: the
 * recurrence runs on Â = A / s, with s a power of two near ‖A q₀‖ for the first unit vector q₀
 * with a nonzero product, and α and β are multiplied back by s (exactly), so `lanczos(2ᵏA)` gives
 * 2ᵏ times the α and β of `lanczos(A)` to the bit and a spectrum anywhere from 1e-200 to 1e200
 * works; the breakdown test β_j ≤ 1e-12·max(|α|, β) is relative.
 * @throws TypeError when `steps` is missing (it is required) or not a number; UnknownOptionError
 *   for an option it does not know; RangeError for a dim mismatch, a non-finite or zero v0, steps
 *   that is not an integer in [1, D], an operator that returns non-finite entries.
 * @example
 * ```ts
 * const A = { dim: 4, matvec: (v) => Float64Array.of(v[0], 2 * v[1], 3 * v[2], 4 * v[3]) }; // diag(1, 2, 3, 4)
 * const { alpha, beta, steps } = lanczos(A, { steps: 2, seed: 0 });
 * // alpha = [2.5, 2.5], beta = [1.1180…, 0.8944…], steps = 2: T₂ = [[2.5, 1.118], [1.118, 2.5]]
 * ```
 *
 * @category Matrix-free
 */
export function lanczos(op: LinearOperator, options: LanczosOptions): LanczosResult {
  const o = checkOptions<LanczosOptions>(options, 'lanczos', LANCZOS_KEYS, LANCZOS_HINTS);
  checkOperator(op);
  const D = op.dim;
  const steps = checkCount(o.steps, 'lanczos: steps');
  if (steps > D) throw new RangeError(`natgrad: lanczos: steps (${steps}) must be ≤ the operator's dim (${D})`);
  const g = rng(checkSeed(o.seed));
  const v0 = o.v0 === undefined ? rademacher(g, D) : checkVector(o.v0, D, 'v0');
  const L = new LanczosProcess(op, v0, g, o.restart ?? true, 'lanczos');
  while (L.alpha.length < steps && L.step(o.signal)) {
    const j = L.alpha.length;
    o.onProgress?.({ step: j, alpha: L.alpha[j - 1]! * L.scale, beta: L.beta[j - 1]! * L.scale });
  }
  const s = L.scale;
  const out: LanczosResult = { alpha: Float64Array.from(L.alpha, (a) => a * s), beta: Float64Array.from(L.beta, (b) => b * s), steps: L.alpha.length };
  if (o.keepBasis) out.basis = L.Q.slice(0, L.alpha.length).map(widen);
  return out;
}

/**
 * What {@link topEigenvalues} reports after each Lanczos step.
 *
 * @category Matrix-free
 */
export interface EigenProgress {
  iterations: number;
  /** The current estimates of the wanted eigenvalues (as in the result's `values`). */
  values: Float64Array;
  /** Their residual bounds |β_m s_{m,i}|. */
  residuals: Float64Array;
}

/**
 * Options of {@link topEigenvalues}.
 *
 * @category Matrix-free
 */
export interface TopEigenvaluesOptions extends IterativeOptions<EigenProgress> {
  /** How many eigenvalues (from each end for `'both'`), 1 ≤ k ≤ D (default 1). */
  k?: number;
  /** `'largest'` (algebraically, default), `'smallest'`, or `'both'` ends. */
  which?: 'largest' | 'smallest' | 'both';
  /** Converged when every wanted Ritz pair has ‖A y − θ y‖ ≤ tol·max(|θ|, ‖T‖·eps) (relative, so scale-free; default 1e-10). */
  tol?: number;
  /** At most this many Lanczos steps = products (default min(D, max(30, 4k + 20))). */
  maxIterations?: number;
  seed?: number;
  /** Starting vector (default Rademacher from `rng(seed)`). */
  v0?: Float64Array;
  /** Return the Ritz vectors too (D doubles each). */
  vectors?: boolean;
}

/**
 * The result of {@link topEigenvalues}.
 *
 * @category Matrix-free
 */
export interface TopEigenvaluesResult {
  /** 'largest': descending; 'smallest': ascending; 'both': the k smallest ascending then the k largest ascending (all ascending). */
  values: Float64Array;
  /** The k largest, descending (empty for 'smallest'). */
  largest: Float64Array;
  /** The k smallest, ascending (empty for 'largest'). */
  smallest: Float64Array;
  /** ‖A y_i − θ_i y_i‖ for each entry of `values` (exact for the Lanczos Ritz pairs: |β_m s_{m,i}|). */
  residuals: Float64Array;
  /** Unit Ritz vectors, one per entry of `values`, with `vectors: true`. */
  vectors?: Float64Array[];
  /** Lanczos steps = products with A. */
  iterations: number;
  /** Whether every residual met the tolerance (or the Krylov space became invariant: exact). */
  converged: boolean;
}

/**
 * The k algebraically largest and/or smallest eigenvalues of a symmetric operator (indefinite ones
 * too — the ends of the spectrum, not the largest in magnitude), by Lanczos with full
 * reorthogonalization, checking convergence after every step.
 *
 * Accuracy: a Ritz value θ with residual ρ = ‖A y − θ y‖ is within ρ of an eigenvalue, and
 * within ρ²/gap when it is separated by `gap` from the rest of the spectrum — so `tol` = 1e-10
 * gives eigenvalues to ~1e-10 relative at worst and usually to rounding (for a float32 operator,
 * `op.dtype === 'float32'`, the basis is float32 and the values are good to ~1e-7·‖A‖ only: see the
 * module documentation). Convergence is fast at
 * well-separated ends (after m steps the error decays like a Chebyshev polynomial of degree m in
 * the gap ratio), slow in clusters. Not converged within maxIterations → `converged: false`,
 * with the residual bounds. Cost: m products with A, 4·m²·D flops of reorthogonalization, an
 * m × m eigenproblem per step (negligible for m ≪ D); memory m·D doubles. Scale-invariant: the
 * spectrum may sit anywhere in the float64 range (1e-200 … 1e200): Lanczos runs on Â = A / s
 * (s a power of two near ‖A q₀‖), the Ritz values and residual bounds are multiplied back by s, and
 * `tol` is relative to that scale.
 * @throws UnknownOptionError for an option it does not know; RangeError for k or maxIterations
 *   that is not an integer in range (k ≤ D), a bad `which`, non-positive tol, a dim mismatch, an
 *   operator that returns non-finite entries.
 * @example
 * topEigenvalues(H, { k: 1, which: 'both' }); // { smallest: [λ_min], largest: [λ_max], … }
 *
 * @category Matrix-free
 */
export function topEigenvalues(op: LinearOperator, options: TopEigenvaluesOptions = {}): TopEigenvaluesResult {
  const o = checkOptions<TopEigenvaluesOptions>(options, 'topEigenvalues', TOP_KEYS, TOP_HINTS);
  checkOperator(op);
  const D = op.dim;
  const k = checkCount(o.k, 'topEigenvalues: k', { dflt: 1 });
  if (k > D) throw new RangeError(`natgrad: topEigenvalues: k (${k}) must be ≤ the operator's dim (${D})`);
  const which = o.which ?? 'largest';
  if (which !== 'largest' && which !== 'smallest' && which !== 'both') throw new RangeError(`natgrad: topEigenvalues: which must be 'largest', 'smallest' or 'both', got ${String(which)}`);
  const tol = checkScalar(o.tol ?? 1e-10, 'tol', 'positive');
  const maxIt = Math.min(D, checkCount(o.maxIterations, 'topEigenvalues: maxIterations', { dflt: Math.min(D, Math.max(30, 4 * k + 20)) }));
  if (maxIt < k) throw new RangeError(`natgrad: topEigenvalues: maxIterations (${maxIt}) must be ≥ k (${k})`);
  const g = rng(checkSeed(o.seed));
  const v0 = o.v0 === undefined ? rademacher(g, D) : checkVector(o.v0, D, 'v0');
  const L = new LanczosProcess(op, v0, g, true, 'topEigenvalues');

  const pick = (m: number): number[] => {
    const idx: number[] = [];
    const kk = Math.min(k, m);
    if (which !== 'largest') for (let i = 0; i < kk; i++) idx.push(i);
    if (which !== 'smallest') for (let i = m - kk; i < m; i++) if (!idx.includes(i)) idx.push(i);
    return idx;
  };
  let last: { values: Float64Array; S: Float64Array; m: number } | undefined;
  let idx: number[] = [];
  let res = new Float64Array(0);
  let converged = false;
  while (L.alpha.length < maxIt && L.step(o.signal)) {
    const m = L.alpha.length;
    last = L.ritz();
    idx = pick(m);
    const bm = L.beta[m - 1]!;
    const tnorm = Math.max(...last.values.map(Math.abs));
    res = Float64Array.from(idx, (i) => Math.abs(bm * last!.S[(m - 1) * m + i]!));
    const exact = L.done && (bm === 0 || m >= D);
    converged = exact || (m >= Math.min(D, which === 'both' ? Math.min(2 * k, D) : k) && idx.every((i, t) => res[t]! <= tol * Math.max(Math.abs(last!.values[i]!), tnorm * 2.2e-16)));
    const s = L.scale;
    o.onProgress?.({ iterations: m, values: Float64Array.from(idx, (i) => last!.values[i]! * s), residuals: res.map((x) => x * s) });
    if (converged || L.done) break;
  }
  // Back to A's scale (exact: s is a power of two).
  const s = L.scale;
  const { S, m } = last!;
  const rv = last!.values.map((x) => x * s);
  res = res.map((x) => x * s);
  const order = which === 'largest' ? [...idx].reverse() : idx;
  const resOf = new Map(idx.map((i, t) => [i, res[t]!]));
  const out: TopEigenvaluesResult = {
    values: Float64Array.from(order, (i) => rv[i]!),
    largest: which === 'smallest' ? new Float64Array(0) : Float64Array.from(idx.filter((i) => i >= m - Math.min(k, m)).reverse(), (i) => rv[i]!),
    smallest:
      which === 'largest'
        ? new Float64Array(0)
        : Float64Array.from(
            idx.filter((i) => i < Math.min(k, m)),
            (i) => rv[i]!,
          ),
    residuals: Float64Array.from(order, (i) => resOf.get(i)!),
    iterations: m,
    converged,
  };
  if (o.vectors) {
    out.vectors = order.map((i) => {
      const y = new Float64Array(D);
      for (let j = 0; j < m; j++) {
        const c = S[j * m + i]!,
          q = L.Q[j]!;
        for (let t = 0; t < D; t++) y[t]! += c * q[t]!;
      }
      return y;
    });
  }
  return out;
}

/**
 * What {@link spectralDensity} reports after each probe.
 *
 * @category Matrix-free
 */
export interface DensityProgress {
  probe: number;
  probes: number;
}

/**
 * Options of {@link spectralDensity}.
 *
 * @category Matrix-free
 */
export interface SpectralDensityOptions extends IterativeOptions<DensityProgress> {
  /** Number of Rademacher probes (default 10). */
  probes?: number;
  /** Lanczos steps per probe, ≤ D (default min(D, 80)). */
  steps?: number;
  seed?: number;
  /** Points of the density grid (default 256). */
  gridSize?: number;
  /** Gaussian kernel width σ (default (λ_max − λ_min)/100 over the nodes; 1e-3·|node| when all nodes coincide, 1e-3 × the operator's scale ‖A q‖ when they are all 0). */
  sigma?: number;
}

/**
 * The result of {@link spectralDensity}.
 *
 * @category Matrix-free
 */
export interface SpectralDensityResult {
  /** Per probe: the Ritz values θ_j (ascending) — the quadrature nodes. */
  nodes: Float64Array[];
  /** Per probe: the weights τ_j = (e_1ᵀ s_j)² (sum to 1). */
  weights: Float64Array[];
  /** Grid t_0 … t_{G−1} over [min node − 3σ, max node + 3σ]. */
  grid: Float64Array;
  /** φ(t) = (1/P) Σ_p Σ_j τ_pj N(t; θ_pj, σ²): a density (∫ φ = 1) of the eigenvalue distribution (1/D) Σ_i δ(t − λ_i). */
  density: Float64Array;
  /** σ used. */
  sigma: number;
  /** tr(A) ≈ D · (1/P) Σ_p Σ_j τ_pj θ_pj (Hutchinson with the same probes). */
  trace: number;
}

/**
 * Stochastic Lanczos quadrature (Golub–Meurant; Ubaru, Chen & Saad 2017; PyHessian): for each
 * Rademacher probe z (normalized), m Lanczos steps from z give nodes θ_j and weights τ_j with
 * Σ_j τ_j f(θ_j) ≈ zᵀ f(A) z / ‖z‖² — exact for polynomials of degree ≤ 2m − 1 — and the average
 * over probes estimates (1/D) tr f(A) = ∫ f dμ for the spectral measure μ = (1/D) Σ δ_{λ_i}.
 * The density is that measure smoothed by a Gaussian of width σ.
 *
 * Accuracy: for f = the Gaussian kernel, the quadrature error decays exponentially in m (at a rate
 * set by σ relative to the spectrum's width); the probe average has standard deviation
 * O(‖f(A)‖_F /(D·√P)). Cost: P·m products, P·4m²·D flops of reorthogonalization; memory m·D doubles
 * (one probe at a time). Scale-invariant: each probe's Lanczos runs on A / s and its nodes are
 * multiplied back by s (a power of two near ‖A q₀‖, so `spectralDensity(2ᵏA)` has 2ᵏ times the
 * nodes to the bit); σ defaults to (λ_max − λ_min)/100 over the nodes (see
 * {@link SpectralDensityOptions.sigma}).
 * @throws UnknownOptionError for an option it does not know; RangeError for steps > D, probes,
 *   steps or gridSize that is not an integer in range, a dim mismatch, an operator that returns
 *   non-finite entries.
 * @example
 * ```ts
 * const A = { dim: 4, matvec: (v) => Float64Array.of(v[0], 2 * v[1], 3 * v[2], 4 * v[3]) }; // diag(1, 2, 3, 4)
 * const { nodes, weights, grid, density, trace } = spectralDensity(A, { probes: 10, steps: 4, seed: 0 });
 * // nodes[0] ≈ [1, 2, 3, 4], weights[0] ≈ [0.25, 0.25, 0.25, 0.25], trace ≈ 10;
 * // density: four Gaussian bumps of width σ = 0.03 on a 256-point grid, ∫ density ≈ 1
 * const H = spectralDensity(curvatureOperator(p, theta, { kind: 'hessian' }), { probes: 5, steps: 60 }); // a network's Hessian
 * ```
 *
 * @category Matrix-free
 */
export function spectralDensity(op: LinearOperator, options: SpectralDensityOptions = {}): SpectralDensityResult {
  const o = checkOptions<SpectralDensityOptions>(options, 'spectralDensity', DENSITY_KEYS, DENSITY_HINTS);
  checkOperator(op);
  const D = op.dim;
  const probes = checkCount(o.probes, 'spectralDensity: probes', { dflt: 10 });
  const steps = checkCount(o.steps, 'spectralDensity: steps', { dflt: Math.min(D, 80) });
  if (steps > D) throw new RangeError(`natgrad: spectralDensity: steps (${steps}) must be ≤ the operator's dim (${D})`);
  const gridSize = checkCount(o.gridSize, 'spectralDensity: gridSize', { min: 2, dflt: 256 });
  const g = rng(checkSeed(o.seed));
  const nodes: Float64Array[] = [],
    weights: Float64Array[] = [];
  let trace = 0,
    scale = 0;
  for (let p = 0; p < probes; p++) {
    const L = new LanczosProcess(op, rademacher(g, D), g, false, 'spectralDensity');
    while (L.alpha.length < steps && L.step(o.signal)) {
      /* steps */
    }
    const { values: scaled, S, m } = L.ritz();
    const s = L.scale;
    scale = Math.max(scale, s);
    const values = scaled.map((x) => x * s);
    const w = Float64Array.from({ length: m }, (_, j) => S[j]! ** 2);
    nodes.push(values);
    weights.push(w);
    for (let j = 0; j < m; j++) trace += (D * w[j]! * values[j]!) / probes;
    o.onProgress?.({ probe: p + 1, probes });
  }
  let lo = Infinity,
    hi = -Infinity;
  for (const v of nodes)
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
  const sigma = o.sigma === undefined ? (hi > lo ? (hi - lo) / 100 : 1e-3 * (Math.abs(hi) || scale)) : checkScalar(o.sigma, 'sigma', 'positive');
  const a = lo - 3 * sigma,
    b = hi + 3 * sigma;
  const grid = Float64Array.from({ length: gridSize }, (_, i) => a + ((b - a) * i) / (gridSize - 1));
  const density = new Float64Array(gridSize);
  const c = 1 / (probes * sigma * Math.sqrt(2 * Math.PI));
  for (let p = 0; p < probes; p++) {
    const v = nodes[p]!,
      w = weights[p]!;
    for (let j = 0; j < v.length; j++) for (let i = 0; i < gridSize; i++) density[i]! += c * w[j]! * Math.exp(-0.5 * ((grid[i]! - v[j]!) / sigma) ** 2);
  }
  return { nodes, weights, grid, density, sigma, trace };
}
