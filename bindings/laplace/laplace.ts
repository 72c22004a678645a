/**
 * The Laplace approximation of a problem's posterior around a mode θ* (MacKay 1992; Daxberger et
 * al. 2021, laplace-torch): p(θ | D) ≈ N(θ*, P⁻¹) with the posterior precision
 *
 *     P = κ · H + P0,   κ = 1/(σ² T) (Gaussian likelihood),  κ = 1/T (the others),
 *
 * H the SUM curvature (GGN, MC Fisher or empirical Fisher) of the unit-noise likelihood over the
 * N data, P0 = diag(δ) the prior precision (scalar, one per parameter group, or diagonal), σ the
 * observation noise and T the temperature. natgrad's problems give s · Σ_n J_nᵀ B_n J_n with
 * s = 1/N (`'mean'`) or 1 (`'sum'`) and a Gaussian likelihood of variance v has Λ = I/v, so
 *
 *     H = (1/s) · c · C_natgrad,   c = v (GGN, MC Fisher), v² (empirical Fisher: r = (f − y)/v), 1 otherwise.
 *
 * The log marginal likelihood (evidence) of the Laplace approximation is
 *
 *     log Z = log p(D | θ*) − ½ [log det P − log det P0 + (θ* − θ0)ᵀ P0 (θ* − θ0)],
 *
 * with log p(D | θ*) = −Σ_n ℓ_n / T (classification: cross-entropy; Bernoulli and Poisson as their
 * ℓ, Poisson without log y!) or −SSE/(2σ²T) − N·M·log(σ√(2π)) (Gaussian), laplace-torch 0.1a2's
 * conventions. Its gradient in t_h = log δ_h and in log σ (Gaussian) is exact (below, with
 * E_h the coordinates of hyperparameter h, n_h their count and s_j = (θ*_j − θ0_j)²):
 *
 *     ∂ log Z/∂t_h   = −½ [Σ_{j∈E_h} δ_j (P⁻¹)_jj − n_h + Σ_{j∈E_h} δ_j s_j]
 *     ∂ log Z/∂log σ = SSE/(σ² T) − N·M + D_sub − Σ_j δ_j (P⁻¹)_jj        (from ∂P/∂log σ = −2κH = −2(P − P0))
 *
 * Structures: `'full'` (dense P: Cholesky, or with a scalar prior H's eigendecomposition once a
 * prior optimization has made it, below), `'diagonal'` (the exact diagonal of H), `'kfac'` (per
 * layer H ≈ G ⊗ A — natgrad's factors with A = (1/N) Σ ā āᵀ and G = Σ — eigendecomposed once,
 * G = U_G diag(g) U_Gᵀ, A = U_A diag(a) U_Aᵀ, so P's block has eigenvalues κ g_o a_i + δ_l in the
 * basis u_G,o ⊗ u_A,i; a separate bias block is G alone; an exact block { exact } is
 * eigendecomposed as a small dense matrix). Prior and noise changes never refactorize `'kfac'` and
 * `'diagonal'`. `'full'` factorizes P by Cholesky (cached per hyperparameter value) — the
 * constructor, and every single-δ use (log Z, log det P, the gradient, Σ_f = Y_iᵀ Y_i with
 * Y = L⁻¹ Jᵀ by one forward substitution, predict, sample). With a scalar prior, the evidence's
 * optimization ({@link Laplace.optimizePriorPrecision} `'marglik'`, with or without
 * `optimizeSigma`) computes H's eigenvalues λ once — without the vectors, about a sixth of a full
 * eigendecomposition's time — and from then on log det P = Σ log(κλ + δ) and the evidence's
 * derivatives cost O(D) per δ and σ, while Σ_f, predict and sample keep the Cholesky factor at
 * the chosen δ. `'gridsearch'`, which needs Σ_f at every δ of its grid, eigendecomposes H fully,
 * once: from then on every scalar-prior use of that object takes P = U diag(κλ + δ) Uᵀ, Σ_f a
 * WebAssembly `dgemm` with U. The paths agree to about 1e-12 relative (rounding); a layerwise or
 * diagonal prior always takes the Cholesky path.
 * `'lowRank'` keeps the top-k eigenpairs (U, λ) of H from Lanczos ({@link topEigenvalues}) on the
 * matrix-free curvature ({@link curvatureOperator}), P = κ U diag(λ) Uᵀ + δ I (scalar δ only):
 * log det P = Σ_i log(κλ_i + δ) + (D_sub − k) log δ, P⁻¹ = δ⁻¹ [I − U diag(κλ/(κλ + δ)) Uᵀ]
 * (Woodbury), samples U diag((κλ + δ)^−½) z₁ + (I − U Uᵀ) z/√δ. An index `subset` (a subnetwork)
 * restricts H to those coordinates: `'full'` from D_sub curvature-vector products (never D × D),
 * `'diagonal'` from the exact diagonal.
 *
 * Differences from laplace-torch: a layerwise prior has one δ per natgrad parameter group (a
 * layer's W and b share it; laplace-torch counts W and b as two "layers"); `predict` on a Gaussian
 * likelihood returns the predictive variance f_var + σ² I (laplace-torch returns f_var alone).
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { NotPositiveDefiniteError } from '../core/errors.js';
import { withScratch } from '../core/handle.js';
import { checkCount, checkOptions } from '../core/options.js';
import type { DenseMatrix, MatrixInput, VectorInput } from '../core/types.js';
import { toDense, toVector } from '../core/validate.js';
import { type Core, core as defaultCore } from '../core/wasm.js';
import { rng } from '../data/random.js';
import type { CholeskyFactor } from '../linalg/symmatrix.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { ParameterGroup, SampleGramGroup } from '../models/model.js';
import { identityStack } from '../nn/trace-args.js';
import { curvatureOperator } from '../operators/curvature.js';
import { priorTerm } from '../problem/common.js';
import { topEigenvalues } from '../solvers/lanczos.js';
import type { KfacLayer, Problem } from '../problem/types.js';
import { glmPredictive, type PredictOptions, type Prediction } from './predictive.js';

/**
 * Options of {@link laplace}.
 *
 * @category Laplace
 */
export interface LaplaceOptions {
  /**
   * `'full'` (default), `'diagonal'`, `'kfac'` or `'lowRank'` (the top-`rank` eigenpairs of H by
   * Lanczos on the matrix-free curvature, P = κ U diag(λ) Uᵀ + δ I; scalar prior only).
   */
  structure?: 'full' | 'diagonal' | 'kfac' | 'lowRank';
  /** `'lowRank'` only: k, 1 ≤ k ≤ D_sub, the number of eigenpairs kept (required). */
  rank?: number;
  /**
   * `'all'` (default), `'lastLayer'` (the last parameter group only), or an array of distinct
   * parameter indices (a subnetwork, in the order given; `'full'` and `'diagonal'` only, scalar or
   * diagonal prior).
   */
  subset?: 'all' | 'lastLayer' | readonly number[];
  /** `'ggn'` (default), `'fisherMC'` or `'empiricalFisher'`. */
  curvature?: 'ggn' | 'fisherMC' | 'empiricalFisher';
  /**
   * δ > 0 (default 1): a number (scalar prior), an array with one per parameter group of the
   * subset (layerwise; W and b of a layer share it), or a `Float64Array` of the subset's length
   * (diagonal; not with `'kfac'`).
   */
  priorPrecision?: number | readonly number[] | Float64Array;
  /** θ0, the prior mean: a number (default 0) or a vector of the subset's length. */
  priorMean?: number | VectorInput;
  /** σ > 0, Gaussian likelihoods only (default √variance of the problem's likelihood). */
  sigmaNoise?: number;
  /** T > 0 (default 1). */
  temperature?: number;
  /** `fisherMC` only: samples per data point (default 1). */
  samples?: number;
  /** `fisherMC` only: seed (default 0). */
  seed?: number;
  /** `'kfac'` only: passed to the curvature (convolutions). */
  kfacApproximation?: 'expand' | 'reduce';
  /** `'kfac'` only: `'joint'` (default) or `'separate'` (laplace-torch's bias block). */
  bias?: 'joint' | 'separate';
  /**
   * B ≥ 1 (default N: the whole data at once): build H and Σ_n ℓ_n over the consecutive row chunks
   * [0, B), [B, 2B), … through the problem's mini-batch views `problem.batch(rows)` (laplace-torch's
   * accumulation over a data loader), so a network whose forward pass on all N rows does not fit
   * in memory still gets its posterior. Each chunk's curvature (mean over its B_c rows) enters
   * with the weight B_c (its sum); the `'kfac'` factors combine as G = Σ_c G_c (sums) and
   * A = Σ_c (B_c/N) A_c; `'lowRank'` runs Lanczos on the sum of the chunks' curvature products
   * (one forward pass per chunk per product). The same posterior as B = N up to rounding, except
   * `'fisherMC'`, whose chunk c draws from the seed `seed + c` (deterministic, but not the draws
   * of B = N). B ≥ N is the whole problem at once. B < N needs a `'mean'` problem with `batch`
   * (a `'sum'` problem has no views of fewer rows).
   */
  batchSize?: number;
}

/**
 * Hyperparameters at which to evaluate the evidence (defaults: the object's current ones).
 *
 * @category Laplace
 */
export interface Hyperparameters {
  priorPrecision?: number | readonly number[] | Float64Array;
  sigmaNoise?: number;
}

/**
 * Options of {@link Laplace.optimizePriorPrecision}.
 *
 * @category Laplace
 */
export interface OptimizePriorOptions {
  /**
   * `'marglik'` (default): Newton on log δ (and log σ with `optimizeSigma`) to a zero gradient of the
   * evidence; `'gridsearch'`: the δ of `grid` with the largest validation log-likelihood.
   */
  method?: 'marglik' | 'gridsearch';
  /** `'scalar'` (default), `'layerwise'` (one δ per group) or `'diagonal'` (not with `'kfac'`); `'gridsearch'`: scalar only. */
  structure?: 'scalar' | 'layerwise' | 'diagonal';
  /** `'marglik'`, Gaussian likelihood: optimize log σ jointly with log δ (default false). */
  optimizeSigma?: boolean;
  /** `'gridsearch'`: the candidate δ > 0 (default logspace(−4, 4, 21): 10^(−4 + 0.4 i), i = 0…20). */
  grid?: readonly number[];
  /**
   * `'gridsearch'` (required): validation inputs X (n × d) and targets y (class indices, 0/1, or
   * n × M / a flat n·M vector for a Gaussian likelihood).
   */
  validation?: { X: MatrixInput; y: VectorInput | MatrixInput };
  /** Relative gradient tolerance (default 1e-8), see {@link Laplace.optimizePriorPrecision}. */
  tol?: number;
  /** Newton iterations at most (default 100). */
  maxIterations?: number;
}

/**
 * What {@link Laplace.optimizePriorPrecision} returns.
 *
 * @category Laplace
 */
export interface OptimizePriorResult {
  /** The chosen δ (as {@link Laplace.priorPrecision}). */
  priorPrecision: number | number[] | Float64Array;
  /** `optimizeSigma`: the chosen σ. */
  sigmaNoise?: number;
  /** log Z at the result. */
  logMarginalLikelihood: number;
  /** Newton iterations (`'gridsearch'`: the grid's length). */
  iterations: number;
  /** Whether the gradient tolerance was met (`'gridsearch'`: true). */
  converged: boolean;
  /** `'gridsearch'`: the grid searched. */
  grid?: Float64Array;
  /** `'gridsearch'`: Σ_i log p(y_i | x_i, D) over the validation set at each δ of the grid. */
  validationLogLikelihood?: Float64Array;
}

/** Validation targets as a flat vector of rows·M values. */
function targets(y: VectorInput | MatrixInput, rows: number, M: number): Float64Array {
  if (typeof y === 'object' && y !== null && !ArrayBuffer.isView(y) && (('rows' in y && 'cols' in y) || (Array.isArray(y) && Array.isArray(y[0])))) {
    const Y = toDense(y as MatrixInput, 'validation.y');
    if (Y.rows !== rows || Y.cols !== M) throw new RangeError(where(`validation.y must be ${rows} × ${M}, got ${Y.rows} × ${Y.cols}`));
    return Y.data.slice();
  }
  return toVector(y as VectorInput, rows * M, 'validation.y').slice();
}

/**
 * Σ_i log p(y_i | x_i) under the GLM predictive: the probit probabilities of the classes
 * (Bernoulli: p or 1 − p), or the Gaussian N(y; f, Σ_f + σ² I).
 */
function validationLogLikelihood(name: string, M: number, f: Float64Array, fvar: Float64Array, rows: number, y: Float64Array, sigma: number, lik: Problem['likelihood']): number {
  let ll = 0;
  if (name === 'gaussian') {
    const S = new Float64Array(M * M);
    for (let i = 0; i < rows; i++) {
      S.set(fvar.subarray(i * M * M, (i + 1) * M * M));
      for (let k = 0; k < M; k++) S[k * M + k]! += sigma * sigma;
      if (!smallCholesky(S, M)) throw new RangeError(where(`the predictive covariance at validation point ${i} is not positive definite`));
      const r = Float64Array.from({ length: M }, (_, k) => y[i * M + k]! - f[i * M + k]!);
      // ‖L⁻¹ r‖² and log det = 2 Σ log L_kk
      let q = 0,
        ld = 0;
      for (let k = 0; k < M; k++) {
        let s = r[k]!;
        for (let j = 0; j < k; j++) s -= S[k * M + j]! * r[j]!;
        r[k] = s / S[k * M + k]!;
        q += r[k]! ** 2;
        ld += 2 * Math.log(S[k * M + k]!);
      }
      ll += -0.5 * (M * Math.log(2 * Math.PI) + ld + q);
    }
    return ll;
  }
  const P = glmPredictive(lik, f, fvar, rows, sigma, { link: 'probit' }) as DenseMatrix;
  for (let i = 0; i < rows; i++) {
    const p = name === 'bernoulli' ? (y[i] === 1 ? P.data[i]! : 1 - P.data[i]!) : P.data[i * M + y[i]!]!;
    ll += Math.log(p);
  }
  return ll;
}

type Hyper = { kind: 'scalar' | 'layerwise' | 'diagonal'; value: number | number[] | Float64Array; delta: Float64Array };

/** A dense row-major n × n eigendecomposition (columns = eigenvectors). */
type Eig = { values: Float64Array; vectors: Float64Array; n: number };

/** One group of a `'kfac'` posterior, in eigen coordinates. */
type Block =
  | { kind: 'kron'; group: number; offset: number; size: number; q: number; p: number; nin: number; mode: 'joint' | 'separate' | 'none'; G: Eig; A: Eig; lambda: Float64Array }
  | { kind: 'exact'; group: number; offset: number; size: number; E: Eig; lambda: Float64Array };

/** The `'full'` posterior's Cholesky factor at one hyperparameter value. */
type FullCache = { key: string; F: CholeskyFactor; logDet: number; Pinv?: Float64Array; L?: Float64Array };

/** The quantities of the evidence and its derivatives at one hyperparameter value. */
interface Stats {
  logDet: number;
  /** Σ_{j∈E_h} δ_j (P⁻¹)_jj per hyperparameter h. */
  t1: Float64Array;
  /** ∂² log det P / ∂t_h ∂t_h' (H × H), when asked. */
  hess?: Float64Array;
}

const STRUCTURES = ['full', 'diagonal', 'kfac', 'lowRank'] as const;
const KEYS = ['structure', 'rank', 'subset', 'curvature', 'priorPrecision', 'priorMean', 'sigmaNoise', 'temperature', 'samples', 'seed', 'kfacApproximation', 'bias', 'batchSize'];
const HINTS: Readonly<Record<string, string>> = {
  prior_precision: "natgrad uses camelCase: 'priorPrecision'",
  sigma_noise: "natgrad uses camelCase: 'sigmaNoise'",
  hessianStructure: "the posterior's structure is 'structure' ('full' | 'diagonal' | 'kfac')",
  subsetOfWeights: "the subset is 'subset' ('all' | 'lastLayer')",
  damping: 'the prior precision δ plays the role of the damping: priorPrecision',
};

function where(m: string): string {
  return `natgrad: laplace: ${m}`;
}

function positive(x: unknown, name: string): number {
  if (typeof x !== 'number') throw new TypeError(where(`${name} must be a number > 0, got ${typeof x}`));
  if (!(Number.isFinite(x) && x > 0)) throw new RangeError(where(`${name} must be a finite number > 0, got ${x}`));
  return x;
}

/** Symmetric eigendecomposition of a dense row-major n × n array through {@link SymMatrix.eigen}. */
function eig(data: Float64Array, n: number, core: Core | undefined): Eig {
  const S = SymMatrix.from({ data, rows: n, cols: n }, core);
  try {
    const e = S.eigen();
    return { values: e.values, vectors: e.vectors.data, n };
  } finally {
    S.free();
  }
}

/** Uᵀ V W for V q × p (row-major), U q × q, W p × p: the rotation into the Kronecker eigenbasis. */
function rotate(V: Float64Array, q: number, p: number, U: Float64Array, W: Float64Array, transpose: boolean): Float64Array {
  // forward (transpose = true): Uᵀ V W; backward (false): U V Wᵀ
  const T = new Float64Array(q * p);
  for (let k = 0; k < q; k++)
    for (let o = 0; o < q; o++) {
      const u = transpose ? U[o * q + k]! : U[k * q + o]!;
      if (u === 0) continue;
      for (let i = 0; i < p; i++) T[k * p + i]! += u * V[o * p + i]!;
    }
  const R = new Float64Array(q * p);
  for (let k = 0; k < q; k++)
    for (let i = 0; i < p; i++) {
      const t = T[k * p + i]!;
      if (t === 0) continue;
      for (let j = 0; j < p; j++) R[k * p + j]! += t * (transpose ? W[i * p + j]! : W[j * p + i]!);
    }
  return R;
}

/** A block's group slice (θ-local order) → eigen coordinates (forward) or back. */
function blockRotate(b: Block, v: Float64Array, forward: boolean): Float64Array {
  if (b.kind === 'exact') {
    const n = b.size,
      V = b.E.vectors,
      out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let s = 0;
      if (forward) for (let i = 0; i < n; i++) s += V[i * n + k]! * v[i]!;
      else for (let i = 0; i < n; i++) s += V[k * n + i]! * v[i]!;
      out[k] = s;
    }
    return out;
  }
  const { q, p, nin, mode } = b;
  const out = new Float64Array(b.size);
  if (forward) {
    // θ-local (W row-major, then b) → [W | b] (q × p), rotate, eigen order: joint/none o·p + i; separate: weights o·nin + i, then bias q.
    const V = new Float64Array(q * p);
    for (let o = 0; o < q; o++) {
      for (let i = 0; i < nin; i++) V[o * p + i] = v[o * nin + i]!;
      if (mode === 'joint') V[o * p + nin] = v[q * nin + o]!;
    }
    out.set(rotate(V, q, p, b.G.vectors, b.A.vectors, true));
    if (mode === 'separate') {
      for (let k = 0; k < q; k++) {
        let s = 0;
        for (let o = 0; o < q; o++) s += b.G.vectors[o * q + k]! * v[q * nin + o]!;
        out[q * p + k] = s;
      }
    }
    return out;
  }
  const Y = rotate(v.subarray(0, q * p), q, p, b.G.vectors, b.A.vectors, false);
  for (let o = 0; o < q; o++) {
    for (let i = 0; i < nin; i++) out[o * nin + i] = Y[o * p + i]!;
    if (mode === 'joint') out[q * nin + o] = Y[o * p + nin]!;
  }
  if (mode === 'separate') {
    for (let o = 0; o < q; o++) {
      let s = 0;
      for (let k = 0; k < q; k++) s += b.G.vectors[o * q + k]! * v[q * p + k]!;
      out[q * nin + o] = s;
    }
  }
  return out;
}

/** Bytes of Jacobian (or of whitened Jacobian rows) the predictive handles at once. */
const CHUNK_BYTES = 64 * 2 ** 20;

/** Test points per chunk: M rows of `width` doubles each, at most {@link CHUNK_BYTES}, 1 … 256 points. */
function chunkPoints(M: number, width: number): number {
  return Math.max(1, Math.min(256, Math.floor(CHUNK_BYTES / (8 * Math.max(M, 1) * Math.max(width, 1)))));
}

/** Lower Cholesky in place of a small dense SPD matrix (TS); false when not positive definite. */
function smallCholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= a[j * n + k]! ** 2;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = s / l;
    }
  }
  return true;
}

function smallSolve(L: Float64Array, n: number, b: Float64Array): Float64Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

/**
 * @internal Eigendecompose a `'full'` posterior's H now, as the first
 * {@link Laplace.optimizePriorPrecision} with a scalar prior does (a no-op for other structures or
 * when made): tests compare the eigen path with the Cholesky path through it. Not exported by the index.
 */
export let eigendecomposeFull: (la: Laplace) => void;

/**
 * A Laplace approximation N(θ*, P⁻¹) of a problem's posterior; create with {@link laplace}.
 * Holds WebAssembly memory for `'full'` (the Cholesky factor): `free()` it.
 *
 * @category Laplace
 */
export class Laplace {
  /** The posterior's structure. */
  readonly structure: 'full' | 'diagonal' | 'kfac' | 'lowRank';
  /** The subset of θ the posterior covers (`'indices'`: a subnetwork, see {@link Laplace.indices}). */
  readonly subset: 'all' | 'lastLayer' | 'indices';
  /** D_sub, the number of parameters in the subset. */
  readonly dim: number;
  /** θ* (all D parameters; a copy). */
  readonly mean: Float64Array;
  /** The subset's first index in θ (`'all'`, `'lastLayer'`: the subset is θ[offset, offset + dim)). */
  readonly offset: number;
  /** The θ index of each subset coordinate (length dim; `θ_sub[j] = θ[indices[j]]`). */
  readonly indices: Int32Array;
  /** `'lowRank'`: k, the eigenpairs kept (0 for the other structures). */
  readonly rank: number;
  readonly #problem: Problem<Dtype>;
  readonly #core: Core | undefined;
  readonly #groups: readonly ParameterGroup[];
  readonly #gaussian: boolean;
  /** Σ_n ℓ_n at θ* (natgrad's ℓ; Gaussian: SSE/(2v)). */
  readonly #sumLoss: number;
  readonly #variance: number;
  /** (θ*_j − θ0_j)² over the subset. */
  readonly #sq: Float64Array;
  readonly #theta0: Float64Array;
  #hyper: Hyper;
  #sigma: number;
  readonly #T: number;
  // structure data: full H (dim²), diagonal H (dim), or the kfac blocks
  readonly #H?: Float64Array;
  readonly #Hdiag?: Float64Array;
  readonly #blocks?: Block[];
  /** `'lowRank'`: the eigenvectors U (dim × k, row-major, orthonormal columns) and eigenvalues λ of H. */
  readonly #U?: Float64Array;
  readonly #lam?: Float64Array;
  #cache: FullCache | undefined;
  /** `'full'`: H = U diag(λ) Uᵀ (an `'exact'` block over the subset), made by the first prior optimization with a scalar prior (lazily, see the module page). */
  #eigH: Extract<Block, { kind: 'exact' }> | undefined;
  /** `'full'`: H's eigenvalues without the vectors (see #eigenvaluesFull). */
  #eigVals: Float64Array | undefined;
  #freed = false;

  static {
    eigendecomposeFull = (la) => la.#eigenFull();
  }

  /** @internal use {@link laplace}. */
  constructor(problem: Problem<Dtype>, theta: Float64Array, options: LaplaceOptions | undefined) {
    const o = checkOptions<LaplaceOptions>(options, 'laplace', KEYS, HINTS);
    const structure = o.structure ?? 'full';
    if (!STRUCTURES.includes(structure)) throw new RangeError(where(`structure must be 'full', 'diagonal', 'kfac' or 'lowRank', got ${String(structure)}`));
    const subsetOpt = o.subset ?? 'all';
    const byIndex = Array.isArray(subsetOpt);
    if (!byIndex && subsetOpt !== 'all' && subsetOpt !== 'lastLayer') throw new RangeError(where(`subset must be 'all', 'lastLayer' or an array of parameter indices, got ${String(subsetOpt)}`));
    if (byIndex && (structure === 'kfac' || structure === 'lowRank'))
      throw new RangeError(where(`an index subset (subnetwork) goes with structure 'full' or 'diagonal' only, not '${structure}' (use subset 'all' or 'lastLayer')`));
    if (structure !== 'lowRank' && o.rank !== undefined) throw new RangeError(where("rank goes with structure: 'lowRank' only"));
    const subset = byIndex ? ('indices' as const) : (subsetOpt as 'all' | 'lastLayer');
    const curvature = o.curvature ?? 'ggn';
    if (!['ggn', 'fisherMC', 'empiricalFisher'].includes(curvature)) throw new RangeError(where(`curvature must be 'ggn', 'fisherMC' or 'empiricalFisher', got ${String(curvature)}`));
    if (curvature !== 'fisherMC' && (o.samples !== undefined || o.seed !== undefined)) throw new RangeError(where("samples and seed go with curvature: 'fisherMC' only"));
    if (structure !== 'kfac' && (o.kfacApproximation !== undefined || o.bias !== undefined)) throw new RangeError(where("kfacApproximation and bias go with structure: 'kfac' only"));
    this.structure = structure;
    this.subset = subset;
    this.#problem = problem;
    this.#core = problem.model.core;
    const lik = problem.likelihood;
    this.#gaussian = lik.name === 'gaussian';
    this.#variance = lik.name === 'gaussian' ? lik.variance : 1;
    const allGroups = problem.model.groups;
    if (byIndex) {
      const D = problem.dim,
        list = subsetOpt as readonly number[],
        seen = new Set<number>();
      if (list.length === 0) throw new RangeError(where('an index subset must not be empty'));
      for (const i of list) {
        if (!Number.isSafeInteger(i) || i < 0 || i >= D) throw new RangeError(where(`subset indices must be integers in [0, ${D}), got ${String(i)}`));
        if (seen.has(i)) throw new RangeError(where(`subset indices must be distinct, ${i} appears twice`));
        seen.add(i);
      }
      this.#groups = [];
      this.indices = Int32Array.from(list);
      this.offset = this.indices[0]!;
      this.dim = list.length;
    } else {
      this.#groups = subset === 'all' ? allGroups : allGroups.slice(-1);
      this.offset = this.#groups[0]!.offset;
      this.dim = this.#groups.reduce((s, g) => s + g.size, 0);
      this.indices = Int32Array.from({ length: this.dim }, (_, j) => this.offset + j);
    }
    this.mean = Float64Array.from(theta);
    this.rank = 0;
    if (structure === 'lowRank') {
      if (o.rank === undefined) throw new RangeError(where("structure 'lowRank' needs rank: k (the eigenpairs kept)"));
      const k = checkCount(o.rank, 'laplace: rank');
      if (k > this.dim) throw new RangeError(where(`rank (${k}) must be ≤ the subset's dimension D_sub = ${this.dim}`));
      this.rank = k;
    }

    // hyperparameters
    this.#T = o.temperature === undefined ? 1 : positive(o.temperature, 'temperature');
    if (o.sigmaNoise !== undefined) {
      this.#sigma = positive(o.sigmaNoise, 'sigmaNoise');
      if (!this.#gaussian && this.#sigma !== 1) throw new RangeError(where(`sigmaNoise applies to a Gaussian likelihood only (must be 1 for ${lik.name}), got ${this.#sigma}`));
    } else this.#sigma = Math.sqrt(this.#variance);
    this.#hyper = this.#parseHyper(o.priorPrecision ?? 1, 'priorPrecision');
    const pm = o.priorMean ?? 0;
    if (typeof pm === 'number') {
      if (!Number.isFinite(pm)) throw new RangeError(where(`priorMean must be finite, got ${pm}`));
      this.#theta0 = new Float64Array(this.dim).fill(pm);
    } else this.#theta0 = toVector(pm, this.dim, 'priorMean');
    this.#sq = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) this.#sq[j] = (theta[this.indices[j]!]! - this.#theta0[j]!) ** 2;

    // batchSize: the row chunks [a, b) of a batched build (none: the whole problem at once)
    const N = problem.N;
    const batchSize = o.batchSize === undefined ? N : checkCount(o.batchSize, 'laplace: batchSize');
    const chunks: [number, number][] = [];
    if (batchSize < N) {
      if (problem.reduction === 'sum') throw new RangeError(where(`batchSize ${batchSize} < N = ${N}: a 'sum' problem has no mini-batch views (build it with reduction 'mean': same posterior)`));
      if (typeof problem.batch !== 'function') throw new RangeError(where(`batchSize ${batchSize} < N = ${N} needs a problem with mini-batch views (problem.batch); this one has none`));
      if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new RangeError(where(`seed must be a safe integer, got ${String(o.seed)}`));
      for (let a = 0; a < N; a += batchSize) chunks.push([a, Math.min(N, a + batchSize)]);
    }
    /**
     * fn on each part of the data with its weight w: the problem itself (w = 1), or each chunk's
     * view (mean over its B_c rows) with w = s/s_view = B_c/N, so Σ_parts w · C_part = C. A view
     * is overwritten two `batch` calls later: fn must be done with it when it returns.
     */
    const parts = (fn: (p: Problem<Dtype>, w: number, c: number) => void): void => {
      if (chunks.length === 0) {
        fn(problem, 1, 0);
        return;
      }
      chunks.forEach(([a, b], c) => {
        const v = problem.batch!(Int32Array.from({ length: b - a }, (_, i) => a + i));
        fn(v, problem.scale / v.scale, c);
      });
    };

    // Σ ℓ_n at θ*: loss/s minus the problem's own prior term (batched: the sum over the chunks'
    // views, each without its prior σp²·N/B_c)
    if (chunks.length === 0) {
      const loss = problem.loss(theta);
      this.#sumLoss = loss / problem.scale - priorTerm(theta, problem.priorVariance);
    } else {
      let sum = 0;
      parts((v) => {
        sum += v.loss(theta) / v.scale - priorTerm(theta, v.priorVariance);
      });
      this.#sumLoss = sum;
    }
    if (!Number.isFinite(this.#sumLoss)) throw new RangeError(where(`the loss at thetaMap is not finite (${this.#sumLoss})`));

    // curvature → sum, unit noise
    const conv = (1 / problem.scale) * (this.#gaussian ? (curvature === 'empiricalFisher' ? this.#variance ** 2 : this.#variance) : 1);
    const mc = curvature === 'fisherMC' ? { ...(o.samples !== undefined ? { samples: checkCount(o.samples, 'laplace: samples') } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) } : {};
    /** The fisherMC options of part c: the seed as given, or seed + c for chunk c of a batched build. */
    const mcAt = (c: number) => (chunks.length === 0 || curvature !== 'fisherMC' ? mc : { ...mc, seed: ((o.seed as number | undefined) ?? 0) + c });
    // biome-ignore lint/suspicious/noExplicitAny: the three builders share one signature
    const build = (p: Problem<Dtype>, opts: Record<string, unknown>, c: number): any =>
      curvature === 'ggn' ? p.ggn(theta, opts as never) : curvature === 'fisherMC' ? p.fisherMC(theta, { ...opts, ...mcAt(c) } as never) : p.empiricalFisher(theta, opts as never);
    // biome-ignore lint/suspicious/noExplicitAny: as build
    const call = (opts: Record<string, unknown>): any => (chunks.length === 0 ? build(problem, opts, 0) : this.#accumulate(parts, build, opts));
    const n = this.dim;
    const opKind = { ...mc, kind: curvature } as const;
    if (structure === 'full' && byIndex) {
      // H restricted to the subnetwork: dim products with the matrix-free curvature (never D × D)
      const H = new Float64Array(n * n),
        e = new Float64Array(problem.dim);
      parts((p, w, c) => {
        const op = curvatureOperator(p, theta, { ...opKind, ...mcAt(c) });
        const cw = conv * w;
        for (let j = 0; j < n; j++) {
          e[this.indices[j]!] = 1;
          const y = op.matvec(e);
          e[this.indices[j]!] = 0;
          for (let i = 0; i < n; i++) H[i * n + j]! += cw * y[this.indices[i]!]!;
        }
      });
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) {
          const m = 0.5 * (H[i * n + j]! + H[j * n + i]!);
          H[i * n + j] = m;
          H[j * n + i] = m;
        }
      this.#H = H;
    } else if (structure === 'lowRank') {
      // batched: each product sums the chunks' products (one operator, so one forward pass, per chunk per product)
      const op =
        chunks.length === 0
          ? curvatureOperator(problem, theta, opKind)
          : {
              matvec: (e: Float64Array): Float64Array => {
                const out = new Float64Array(problem.dim);
                parts((p, w, c) => {
                  const y = curvatureOperator(p, theta, { ...opKind, ...mcAt(c) }).matvec(e);
                  for (let j = 0; j < y.length; j++) out[j]! += w * y[j]!;
                });
                return out;
              },
            };
      const D = problem.dim,
        o0 = this.offset,
        k = this.rank;
      const sub = {
        dim: n,
        matvec: (v: Float64Array): Float64Array => {
          const e = new Float64Array(D);
          e.set(v, o0);
          return op
            .matvec(e)
            .slice(o0, o0 + n)
            .map((x) => conv * x);
        },
      };
      const maxIterations = Math.min(n, Math.max(60, 4 * k + 40));
      const r = topEigenvalues(sub, { k, which: 'largest', vectors: true, tol: 1e-10, maxIterations, seed: 0 });
      if (!r.converged)
        throw new RangeError(where(`'lowRank': Lanczos did not converge to the top ${k} eigenpairs in ${r.iterations} steps (largest residual ${Math.max(...r.residuals)}); try a smaller rank`));
      const U = new Float64Array(n * k);
      r.vectors!.forEach((v, i) => {
        for (let j = 0; j < n; j++) U[j * k + i] = v[j]!;
      });
      this.#U = U;
      this.#lam = r.values.slice();
    } else if (structure === 'full') {
      let H: Float64Array;
      if (subset === 'all' || allGroups.length === 1) {
        const S = call({ structure: 'dense' }) as SymMatrix;
        H = S.toDense();
        S.free();
      } else {
        const blocks = call({ structure: 'block' }) as SymMatrix[];
        if (blocks.length === allGroups.length && blocks.at(-1)!.size === n) H = blocks.at(-1)!.toDense();
        else {
          const S = call({ structure: 'dense' }) as SymMatrix;
          const D = problem.dim,
            full = S.toDense();
          S.free();
          H = new Float64Array(n * n);
          for (let i = 0; i < n; i++) H.set(full.subarray((this.offset + i) * D + this.offset, (this.offset + i) * D + this.offset + n), i * n);
        }
        for (const b of blocks) b.free();
      }
      for (let i = 0; i < H.length; i++) H[i]! *= conv;
      this.#H = H;
    } else if (structure === 'diagonal') {
      const d = call({ structure: 'diagonal' }) as Float64Array;
      this.#Hdiag = Float64Array.from(this.indices, (i) => d[i]! * conv);
    } else {
      if (this.#hyper.kind === 'diagonal') throw new RangeError(where("a diagonal priorPrecision (Float64Array) does not go with structure: 'kfac' (use a number or one per group)"));
      let factors: KfacLayer[];
      try {
        factors = call({
          structure: 'kfac',
          ...(o.kfacApproximation !== undefined ? { kfacApproximation: o.kfacApproximation } : {}),
          ...(o.bias !== undefined ? { bias: o.bias } : {}),
        }) as KfacLayer[];
      } catch (e) {
        if (e instanceof RangeError || e instanceof TypeError) throw new RangeError(where(`structure 'kfac' is not available for this model: ${(e as Error).message}`));
        throw e;
      }
      try {
        if (factors.length !== allGroups.length) throw new RangeError(where(`structure 'kfac' needs one factor entry per parameter group: ${factors.length} entries for ${allGroups.length} groups`));
        const first = allGroups.length - this.#groups.length;
        this.#blocks = this.#groups.map((g, l) => this.#block(factors[first + l]!, g, l, conv));
      } finally {
        for (const f of factors) {
          if (f.exact !== undefined) f.exact.free();
          else {
            f.A.free();
            f.G.free();
          }
        }
      }
    }
    // fail early: the posterior must be positive definite
    this.#logDet(this.#hyper.delta, this.#kappa(this.#sigma), this.#hyper.kind);
  }

  /**
   * A curvature builder's result summed over the chunk views, in the whole problem's form
   * (s · Σ_n …): Σ_c w_c · C_c with w_c = B_c/N for dense, diagonal, block results, G and exact
   * blocks; A = Σ_c (B_c/N) A_c (each A_c a mean over its rows). Chunk results are freed as added.
   */
  #accumulate(
    parts: (fn: (p: Problem<Dtype>, w: number, c: number) => void) => void,
    // biome-ignore lint/suspicious/noExplicitAny: the three builders share one signature
    build: (p: Problem<Dtype>, opts: Record<string, unknown>, c: number) => any,
    opts: Record<string, unknown>,
  ): Float64Array | SymMatrix | SymMatrix[] | KfacLayer[] {
    // acc += w · x (acc = w · x the first time; x freed)
    const add = (acc: SymMatrix | undefined, x: SymMatrix, w: number): SymMatrix => {
      const m = x.size * x.size,
        k = x.core.exports;
      if (acc === undefined) {
        k.dscal(m, w, x.dataPtr());
        return x;
      }
      if (acc.size !== x.size) throw new RangeError(where(`a chunk's curvature is ${x.size} × ${x.size}, another's ${acc.size} × ${acc.size}`));
      k.daxpy(m, w, x.dataPtr(), acc.dataPtr());
      x.free();
      return acc;
    };
    // biome-ignore lint/suspicious/noExplicitAny: the result's type follows opts.structure
    let acc: any;
    const N = this.#problem.N;
    try {
      parts((p, w, c) => {
        const r = build(p, opts, c);
        const a = p.N / N;
        if (r instanceof Float64Array) {
          if (acc === undefined) acc = new Float64Array(r.length);
          for (let j = 0; j < r.length; j++) acc[j] += w * r[j]!;
        } else if (r instanceof SymMatrix) acc = add(acc, r, w);
        else if (opts.structure === 'block') acc = (r as SymMatrix[]).map((b, i) => add(acc?.[i], b, w));
        else {
          const f = r as KfacLayer[];
          if (acc === undefined) acc = f.map(() => undefined);
          if (f.length !== acc.length) throw new RangeError(where(`a chunk's 'kfac' curvature has ${f.length} entries, another's ${acc.length}`));
          acc = f.map((x, i) => {
            const s = acc[i] as KfacLayer | undefined;
            if (x.exact !== undefined) return { exact: add(s?.exact, x.exact, w) };
            if (s !== undefined && s.exact !== undefined) throw new RangeError(where("the chunks' 'kfac' curvatures disagree on a layer's form"));
            return { ...x, A: add(s?.A, x.A, a), G: add(s?.G, x.G, w) };
          });
        }
      });
    } catch (e) {
      const free = (x: unknown): void => {
        if (x instanceof SymMatrix) x.free();
        else if (Array.isArray(x)) for (const y of x) free(y);
        else if (x && typeof x === 'object') for (const y of Object.values(x)) free(y);
      };
      if (!(acc instanceof Float64Array)) free(acc);
      throw e;
    }
    return acc;
  }

  #block(f: KfacLayer, g: ParameterGroup, l: number, conv: number): Block {
    const offset = g.offset - this.offset;
    if (f.exact !== undefined) {
      const B = f.exact.toDense();
      if (B.length !== g.size * g.size) throw new RangeError(where(`group ${g.name}: exact block of ${Math.sqrt(B.length)}² for ${g.size} parameters`));
      for (let i = 0; i < B.length; i++) B[i]! *= conv;
      const E = eig(B, g.size, this.#core);
      return { kind: 'exact', group: l, offset, size: g.size, E, lambda: E.values };
    }
    const A = f.A.toDense(),
      G = f.G.toDense();
    const p = f.A.size,
      q = f.G.size;
    const info = g.kronecker ?? g.dense;
    const mode = f.bias ?? (info ? (info.bias ? 'joint' : 'none') : 'none');
    const nin = mode === 'joint' ? p - 1 : p;
    if (g.size !== q * nin + (mode === 'none' ? 0 : q)) throw new RangeError(where(`group ${g.name} (${g.size} parameters) does not match A ${p} × ${p} and G ${q} × ${q} with a ${mode} bias`));
    for (let i = 0; i < G.length; i++) G[i]! *= conv;
    const EA = eig(A, p, this.#core),
      EG = eig(G, q, this.#core);
    const lambda = new Float64Array(g.size);
    for (let o = 0; o < q; o++) for (let i = 0; i < p; i++) lambda[o * p + i] = EG.values[o]! * EA.values[i]!;
    if (mode === 'separate') for (let o = 0; o < q; o++) lambda[q * p + o] = EG.values[o]!;
    return { kind: 'kron', group: l, offset, size: g.size, q, p, nin, mode, G: EG, A: EA, lambda };
  }

  #parseHyper(v: unknown, name: string): Hyper {
    const n = this.dim,
      L = this.#groups.length;
    if (typeof v === 'number') {
      positive(v, name);
      return { kind: 'scalar', value: v, delta: new Float64Array(n).fill(v) };
    }
    if (this.structure === 'lowRank') throw new RangeError(where(`structure 'lowRank' takes a scalar ${name} (a number) only: P = κ U diag(λ) Uᵀ + δ I`));
    if (v instanceof Float64Array) {
      if (v.length !== n) throw new RangeError(where(`a diagonal ${name} (Float64Array) must have the subset's length ${n}, got ${v.length} (one per group: pass a plain array)`));
      v.forEach((x, j) => positive(x, `${name}[${j}]`));
      if (this.structure === 'kfac') throw new RangeError(where(`a diagonal ${name} (Float64Array) does not go with structure: 'kfac' (use a number or one per group)`));
      return { kind: 'diagonal', value: v.slice(), delta: v.slice() };
    }
    if (Array.isArray(v)) {
      if (this.subset === 'indices') throw new RangeError(where(`a layerwise ${name} does not go with an index subset (use a number or a Float64Array of the subset's length)`));
      if (v.length !== L) throw new RangeError(where(`a layerwise ${name} must have one entry per parameter group of the subset (${L}), got ${v.length}`));
      const delta = new Float64Array(n);
      this.#groups.forEach((g, l) => delta.fill(positive(v[l], `${name}[${l}]`), g.offset - this.offset, g.offset - this.offset + g.size));
      return { kind: 'layerwise', value: v.slice() as number[], delta };
    }
    throw new TypeError(where(`${name} must be a number, an array (one per group) or a Float64Array (diagonal), got ${v === null ? 'null' : typeof v}`));
  }

  /** Hyperparameter index of each subset coordinate. */
  #hypIndex(kind: Hyper['kind']): { idx: Int32Array; count: number } {
    const idx = new Int32Array(this.dim);
    if (kind === 'scalar') return { idx, count: 1 };
    if (kind === 'diagonal') return { idx: idx.map((_, j) => j), count: this.dim };
    this.#groups.forEach((g, l) => idx.fill(l, g.offset - this.offset, g.offset - this.offset + g.size));
    return { idx, count: this.#groups.length };
  }

  #kappa(sigma: number): number {
    return this.#gaussian ? 1 / (sigma * sigma * this.#T) : 1 / this.#T;
  }

  #check(): void {
    if (this.#freed) throw new RangeError(where('the Laplace object was used after free()'));
  }

  /** The Cholesky factor of P at (δ, κ) (full), cached. */
  #factor(delta: Float64Array, kappa: number): FullCache {
    const key = `${kappa}|${delta.join(',')}`;
    if (this.#cache?.key === key) return this.#cache;
    const n = this.dim,
      H = this.#H!;
    const P = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) P[i] = kappa * H[i]!;
    for (let i = 0; i < n; i++) P[i * n + i]! += delta[i]!;
    const S = SymMatrix.from({ data: P, rows: n, cols: n }, this.#core);
    let F: CholeskyFactor;
    try {
      F = S.cholesky();
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) throw new NotPositiveDefiniteError(e.pivot, e.value, where('the posterior precision P = κ·H + P0'));
      throw e;
    } finally {
      S.free();
    }
    this.#cache?.F.free();
    this.#cache = { key, F, logDet: F.logDet() };
    return this.#cache;
  }

  /**
   * `'full'` with a scalar prior δ, once H is eigendecomposed ({@link Laplace.optimizePriorPrecision}
   * makes it): P = U diag(κλ + δ) Uᵀ, every δ and σ O(D). Undefined — the Cholesky path — before
   * that, for other priors and for other structures.
   */
  #scalarEig(kind: Hyper['kind']): Extract<Block, { kind: 'exact' }> | undefined {
    return this.structure === 'full' && kind === 'scalar' ? this.#eigH : undefined;
  }

  /**
   * `'full'` with a scalar prior: the eigenvalues λ of H, once {@link Laplace.optimizePriorPrecision}
   * has computed them (alone, or with the vectors) — log det P = Σ log(κλ + δ) and the evidence's
   * derivatives in O(D) per δ and σ. Undefined otherwise (the Cholesky path).
   */
  #scalarLambda(kind: Hyper['kind']): Float64Array | undefined {
    if (this.structure !== 'full' || kind !== 'scalar') return undefined;
    return this.#eigH?.lambda ?? this.#eigVals;
  }

  /**
   * `'full'`: the eigenvalues of H alone (Householder tridiagonalization and QL without the
   * vectors: about a sixth of the full decomposition's time), for the many δ of the evidence's
   * optimization; the Cholesky factor is kept for the predictive.
   */
  #eigenvaluesFull(): void {
    if (this.structure !== 'full' || this.#eigH || this.#eigVals) return;
    const S = SymMatrix.from({ data: this.#H!, rows: this.dim, cols: this.dim }, this.#core);
    try {
      this.#eigVals = S.eigenvalues();
    } finally {
      S.free();
    }
  }

  /**
   * `'full'`: eigendecompose H now (once; a no-op for the other structures or when made). Called by
   * the methods that evaluate many δ or σ with a scalar prior; frees the Cholesky cache, which the
   * scalar prior no longer uses (a layerwise or diagonal one refactorizes on demand).
   */
  #eigenFull(): void {
    if (this.structure !== 'full' || this.#eigH) return;
    const E = eig(this.#H!, this.dim, this.#core);
    this.#eigH = { kind: 'exact', group: 0, offset: 0, size: this.dim, E, lambda: E.values };
    this.#cache?.F.free();
    this.#cache = undefined;
  }

  /** κλ_i + δ, the eigenvalues of P (rounding can make λ_i slightly negative: P must stay > 0). */
  #eigP(e: Extract<Block, { kind: 'exact' }> | Float64Array, d: number, kappa: number): Float64Array {
    const p = (e instanceof Float64Array ? e : e.lambda).map((l) => kappa * l + d);
    p.forEach((x, i) => {
      if (!(x > 0)) throw new NotPositiveDefiniteError(i + 1, x, where('the posterior precision P = κ·H + P0'));
    });
    return p;
  }

  #pinv(c: FullCache): Float64Array {
    if (!c.Pinv) {
      const n = this.dim,
        I = new Float64Array(n * n);
      for (let i = 0; i < n; i++) I[i * n + i] = 1;
      c.Pinv = c.F.solveMany({ data: I, rows: n, cols: n }).data;
    }
    return c.Pinv;
  }

  #logDet(delta: Float64Array, kappa: number, kind: Hyper['kind']): number {
    return this.structure === 'full' && !this.#scalarLambda(kind) ? this.#factor(delta, kappa).logDet : this.#stats(delta, kappa, false, kind).logDet;
  }

  #stats(delta: Float64Array, kappa: number, hessian: boolean, kind: Hyper['kind'] = 'diagonal'): Stats {
    const n = this.dim;
    const { idx, count } = this.#hypIndex(kind);
    const t1 = new Float64Array(count);
    const hess = hessian ? new Float64Array(count * count) : undefined;
    let logDet = 0;
    const bad = (j: number, value: number): never => {
      throw new NotPositiveDefiniteError(j + 1, value, where('the posterior precision P = κ·H + P0'));
    };
    const lam = this.#scalarLambda(kind);
    if (lam) {
      // P⁻¹ = U diag(1/p) Uᵀ: Σ_j δ (P⁻¹)_jj = Σ_i δ/p_i, Σ_jj' δ² (P⁻¹)_jj'² = Σ_i (δ/p_i)²
      const d = delta[0]!;
      for (const p of this.#eigP(lam, d, kappa)) {
        logDet += Math.log(p);
        const w = d / p;
        t1[0]! += w;
        if (hess) hess[0]! += w - w * w;
      }
    } else if (this.structure === 'full') {
      const c = this.#factor(delta, kappa);
      logDet = c.logDet;
      const Pi = this.#pinv(c);
      for (let j = 0; j < n; j++) t1[idx[j]!]! += delta[j]! * Pi[j * n + j]!;
      if (hess) {
        for (let h = 0; h < count; h++) hess[h * count + h]! += t1[h]!;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            const v = Pi[i * n + j]!;
            hess[idx[i]! * count + idx[j]!]! -= delta[i]! * delta[j]! * v * v;
          }
      }
    } else if (this.structure === 'diagonal') {
      const Hd = this.#Hdiag!;
      for (let j = 0; j < n; j++) {
        const pj = kappa * Hd[j]! + delta[j]!;
        if (!(pj > 0)) bad(j, pj);
        logDet += Math.log(pj);
        const w = delta[j]! / pj;
        t1[idx[j]!]! += w;
        if (hess) hess[idx[j]! * count + idx[j]!]! += w - w * w;
      }
    } else if (this.structure === 'lowRank') {
      // eigenvalues of P: κλ_i + δ (i < k) and δ (n − k times, w = 1: no Hessian term)
      const d = delta[0]!,
        k = this.rank;
      for (let i = 0; i < k; i++) {
        const pk = kappa * this.#lam![i]! + d;
        if (!(pk > 0)) bad(i, pk);
        logDet += Math.log(pk);
        const w = d / pk;
        t1[0]! += w;
        if (hess) hess[0]! += w - w * w;
      }
      logDet += (n - k) * Math.log(d);
      t1[0]! += n - k;
    } else {
      for (const b of this.#blocks!) {
        const d = delta[b.offset]!,
          h = idx[b.offset]!;
        for (let k = 0; k < b.size; k++) {
          const pk = kappa * b.lambda[k]! + d;
          if (!(pk > 0)) bad(b.offset + k, pk);
          logDet += Math.log(pk);
          const w = d / pk;
          t1[h]! += w;
          if (hess) hess[h * count + h]! += w - w * w;
        }
      }
    }
    return { logDet, t1, ...(hess ? { hess } : {}) };
  }

  #resolve(h: Hyperparameters | undefined, where_: string): { hyper: Hyper; sigma: number } {
    const o = checkOptions<Hyperparameters>(h, where_, ['priorPrecision', 'sigmaNoise']);
    const hyper = o.priorPrecision === undefined ? this.#hyper : this.#parseHyper(o.priorPrecision, 'priorPrecision');
    let sigma = this.#sigma;
    if (o.sigmaNoise !== undefined) {
      sigma = positive(o.sigmaNoise, 'sigmaNoise');
      if (!this.#gaussian && sigma !== 1) throw new RangeError(where(`sigmaNoise applies to a Gaussian likelihood only (must be 1 for ${this.#problem.likelihood.name}), got ${sigma}`));
    }
    return { hyper, sigma };
  }

  #logLik(sigma: number): number {
    if (!this.#gaussian) return -this.#sumLoss / this.#T;
    const sse = 2 * this.#variance * this.#sumLoss;
    const p = this.#problem;
    return -sse / (2 * sigma * sigma * this.#T) - p.N * p.outputs * Math.log(sigma * Math.sqrt(2 * Math.PI));
  }

  #scatter(delta: Float64Array): number {
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += delta[j]! * this.#sq[j]!;
    return s;
  }

  /** The current prior precision: a number, one per group (array) or a Float64Array (diagonal). */
  get priorPrecision(): number | number[] | Float64Array {
    const v = this.#hyper.value;
    return typeof v === 'number' ? v : v.slice();
  }

  /** σ, the observation noise (1 for the likelihoods other than Gaussian). */
  get sigmaNoise(): number {
    return this.#sigma;
  }

  /** T, the temperature. */
  get temperature(): number {
    return this.#T;
  }

  /**
   * log p(D | θ*) at the current σ: −Σ_n ℓ_n / T, or −SSE/(2σ²T) − N·M·log(σ√(2π)) (Gaussian).
   */
  get logLikelihood(): number {
    return this.#logLik(this.#sigma);
  }

  /** The posterior precision's diagonal P_jj over the subset (all structures). */
  posteriorPrecisionDiagonal(): Float64Array {
    this.#check();
    const n = this.dim,
      kappa = this.#kappa(this.#sigma),
      d = this.#hyper.delta;
    if (this.structure === 'full') return Float64Array.from({ length: n }, (_, j) => kappa * this.#H![j * n + j]! + d[j]!);
    if (this.structure === 'diagonal') return Float64Array.from({ length: n }, (_, j) => kappa * this.#Hdiag![j]! + d[j]!);
    if (this.structure === 'lowRank') {
      const U = this.#U!,
        k = this.rank;
      return Float64Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let i = 0; i < k; i++) s += this.#lam![i]! * U[j * k + i]! ** 2;
        return kappa * s + d[j]!;
      });
    }
    const out = new Float64Array(n);
    for (const b of this.#blocks!) {
      // diag(P_b) = Σ_k (κλ_k + δ) (v_k)_j² with v_k the eigenvectors in θ-local order
      for (let k = 0; k < b.size; k++) {
        const e = new Float64Array(b.size);
        e[k] = 1;
        const v = blockRotate(b, e, false);
        const pk = kappa * b.lambda[k]! + d[b.offset]!;
        for (let j = 0; j < b.size; j++) out[b.offset + j]! += pk * v[j]! * v[j]!;
      }
    }
    return out;
  }

  /**
   * log det P over the subset: by Cholesky (`'full'`; with a scalar prior once H is eigendecomposed
   * by {@link Laplace.optimizePriorPrecision}, Σ log(κλ_i + δ) from its eigenvalues — the same to
   * about 1e-12 relative), Σ_j log P_jj (`'diagonal'`), or
   * Σ_l Σ_{o,i} log(κ g_o a_i + δ_l) (+ Σ_o log(κ g_o + δ_l) for a separate bias) (`'kfac'`).
   * @throws NotPositiveDefiniteError when P is not positive definite.
   */
  logDetPosteriorPrecision(h?: Hyperparameters): number {
    this.#check();
    const { hyper, sigma } = this.#resolve(h, 'Laplace.logDetPosteriorPrecision');
    return this.#logDet(hyper.delta, this.#kappa(sigma), hyper.kind);
  }

  /** log det P0 = Σ_j log δ_j over the subset. */
  logDetPriorPrecision(h?: Hyperparameters): number {
    this.#check();
    const { hyper } = this.#resolve(h, 'Laplace.logDetPriorPrecision');
    let s = 0;
    for (const d of hyper.delta) s += Math.log(d);
    return s;
  }

  /** (θ* − θ0)ᵀ P0 (θ* − θ0) over the subset. */
  scatter(h?: Hyperparameters): number {
    this.#check();
    return this.#scatter(this.#resolve(h, 'Laplace.scatter').hyper.delta);
  }

  /**
   * log Z = log p(D | θ*) − ½ [log det P − log det P0 + (θ* − θ0)ᵀ P0 (θ* − θ0)], at the
   * current hyperparameters or those given (the object is not changed).
   * @throws NotPositiveDefiniteError when P is not positive definite; RangeError / TypeError for bad hyperparameters.
   * @example
   * ```ts
   * // la = laplace(p, theta, { structure: 'kfac', priorPrecision: 1 }) of the example of laplace()
   * la.logMarginalLikelihood();                        // -10.2936…
   * la.logMarginalLikelihood({ priorPrecision: 10 });  // -23.1178… (δ = 10, no refactorization)
   * ```
   * `'full'`: log det P by a Cholesky factorization of P per hyperparameter value, or, with a
   * scalar prior once {@link Laplace.optimizePriorPrecision} has eigendecomposed H, in O(D) from
   * its eigenvalues (the two agree to about 1e-12 relative; see the module page).
   */
  logMarginalLikelihood(h?: Hyperparameters): number {
    this.#check();
    const { hyper, sigma } = this.#resolve(h, 'Laplace.logMarginalLikelihood');
    const logDet = this.#logDet(hyper.delta, this.#kappa(sigma), hyper.kind);
    let ld0 = 0;
    for (const d of hyper.delta) ld0 += Math.log(d);
    return this.#logLik(sigma) - 0.5 * (logDet - ld0 + this.#scatter(hyper.delta));
  }

  /**
   * The gradient of {@link Laplace.logMarginalLikelihood} in log δ (one entry per hyperparameter:
   * a number for a scalar prior, a Float64Array per group or per coordinate) and, for a Gaussian
   * likelihood, in log σ:
   *
   *     ∂/∂log δ_h = −½ [Σ_{j∈E_h} δ_j (P⁻¹)_jj − n_h + Σ_{j∈E_h} δ_j (θ*_j − θ0_j)²]
   *     ∂/∂log σ   = SSE/(σ²T) − N·M + D_sub − Σ_j δ_j (P⁻¹)_jj
   *
   * (P⁻¹'s diagonal: the Cholesky inverse for `'full'` — with a scalar prior once H is
   * eigendecomposed, Σ_j δ (P⁻¹)_jj = Σ_i δ/(κλ_i + δ), the same to about 1e-12 relative — 1/P_jj
   * for `'diagonal'`, the eigenvalues for `'kfac'`: Σ_{j∈l} (P⁻¹)_jj = Σ_k 1/(κλ_k + δ_l)).
   * @example
   * ```ts
   * // la of the example of laplace() (categorical: no σ)
   * la.logMarginalLikelihoodGradient(); // { priorPrecision: -0.03778… }
   * // a Gaussian problem also gives ∂/∂log σ:
   * const mr = mlp({ sizes: [1, 4, 1], activation: 'tanh' });
   * const pr = problem({ model: mr, X: [[0], [0.5], [1], [1.5]], y: [0, 0.4, 0.8, 1.1], likelihood: gaussian({ variance: 0.01 }) });
   * laplace(pr, mr.init(0)).logMarginalLikelihoodGradient(); // { priorPrecision: -0.2222…, sigmaNoise: 28.708… }
   * ```
   */
  logMarginalLikelihoodGradient(h?: Hyperparameters): { priorPrecision: number | Float64Array; sigmaNoise?: number } {
    this.#check();
    const { hyper, sigma } = this.#resolve(h, 'Laplace.logMarginalLikelihoodGradient');
    const g = this.#gradient(hyper.delta, hyper.kind, sigma, false);
    const out: { priorPrecision: number | Float64Array; sigmaNoise?: number } = { priorPrecision: hyper.kind === 'scalar' ? g.g[0]! : g.g };
    if (this.#gaussian) {
      const sse = 2 * this.#variance * this.#sumLoss,
        p = this.#problem;
      let tAll = 0;
      for (const t of g.stats.t1) tAll += t;
      out.sigmaNoise = sse / (sigma * sigma * this.#T) - p.N * p.outputs + this.dim - tAll;
    }
    return out;
  }

  #gradient(delta: Float64Array, kind: Hyper['kind'], sigma: number, hessian: boolean): { g: Float64Array; hess?: Float64Array; scale: Float64Array; stats: Stats } {
    const stats = this.#stats(delta, this.#kappa(sigma), hessian, kind);
    const { idx, count } = this.#hypIndex(kind);
    const ds = new Float64Array(count),
      nh = new Float64Array(count);
    for (let j = 0; j < this.dim; j++) {
      ds[idx[j]!]! += delta[j]! * this.#sq[j]!;
      nh[idx[j]!]! += 1;
    }
    const g = new Float64Array(count),
      scale = new Float64Array(count);
    for (let h = 0; h < count; h++) {
      g[h] = -0.5 * (stats.t1[h]! - nh[h]! + ds[h]!);
      scale[h] = 0.5 * (stats.t1[h]! + nh[h]! + ds[h]!);
    }
    let hess: Float64Array | undefined;
    if (hessian) {
      hess = stats.hess!.map((v) => -0.5 * v);
      for (let h = 0; h < count; h++) hess[h * count + h]! -= 0.5 * ds[h]!;
    }
    return { g, scale, stats, ...(hess ? { hess } : {}) };
  }

  /**
   * Maximize the evidence over the prior precision (`method: 'marglik'`) by Newton's method on
   * t = log δ with the exact Hessian (∂²log det P/∂t_h∂t_h' = [h = h'] Σ_{j∈E_h} δ_j(P⁻¹)_jj −
   * Σ_{j∈E_h, j'∈E_h'} δ_j δ_j' (P⁻¹)_jj'², exact and diagonal for `'diagonal'` and `'kfac'`) and
   * an Armijo backtracking line search; a gradient step when the Hessian is not negative definite.
   * Stops when every |∂ log Z/∂t_h| ≤ tol · ½ [Σ δ_j(P⁻¹)_jj + n_h + Σ δ_j s_j] (the size of the
   * terms it cancels), and sets the optimum on the object.
   *
   * `'full'` with a scalar prior (`structure: 'scalar'`, either method, with or without
   * `optimizeSigma`): the first call eigendecomposes H, H = U diag(λ) Uᵀ (once per object; at
   * D = 2410 about 33 s, against about 1.7 s for the whole constructor), so that every δ and σ it tries costs O(D)
   * (the grid search's Σ_f one GEMM with U). From then on every method of the object takes that
   * path with a scalar prior (log Z, log det P, the gradient, Σ_f, predict, sample); before it, and
   * for layerwise and diagonal priors, `'full'` factorizes P by Cholesky. The two paths agree to
   * about 1e-12 relative.
   * @returns the optimum δ, log Z there, the Newton iterations and whether the tolerance was met.
   * @example
   * ```ts
   * // la of the example of laplace()
   * la.optimizePriorPrecision({ structure: 'layerwise' });
   * // { priorPrecision: [0.5448…, 1.9432…], logMarginalLikelihood: -9.8035…, iterations: 4, converged: true }
   * ```
   */
  optimizePriorPrecision(options?: OptimizePriorOptions): OptimizePriorResult {
    this.#check();
    const o = checkOptions<OptimizePriorOptions>(options, 'Laplace.optimizePriorPrecision', ['method', 'structure', 'tol', 'maxIterations', 'optimizeSigma', 'grid', 'validation']);
    const method = o.method ?? 'marglik';
    if (method !== 'marglik' && method !== 'gridsearch') throw new RangeError(where(`optimizePriorPrecision: method must be 'marglik' or 'gridsearch', got ${String(o.method)}`));
    const kind = o.structure ?? 'scalar';
    if (!['scalar', 'layerwise', 'diagonal'].includes(kind)) throw new RangeError(where(`optimizePriorPrecision: structure must be 'scalar', 'layerwise' or 'diagonal', got ${String(kind)}`));
    if (kind === 'diagonal' && this.structure === 'kfac') throw new RangeError(where("optimizePriorPrecision: structure 'diagonal' does not go with a 'kfac' posterior"));
    if (kind !== 'scalar' && this.structure === 'lowRank') throw new RangeError(where("optimizePriorPrecision: a 'lowRank' posterior takes a scalar prior only (structure 'scalar')"));
    if (kind === 'layerwise' && this.subset === 'indices') throw new RangeError(where("optimizePriorPrecision: structure 'layerwise' does not go with an index subset"));
    if (method === 'gridsearch') {
      if (o.tol !== undefined || o.maxIterations !== undefined || o.optimizeSigma !== undefined)
        throw new RangeError(where("optimizePriorPrecision: tol, maxIterations and optimizeSigma go with method 'marglik' only"));
      if (kind !== 'scalar') throw new RangeError(where("optimizePriorPrecision: method 'gridsearch' searches a scalar prior only (structure 'scalar')"));
      return this.#gridsearch(o);
    }
    if (o.grid !== undefined || o.validation !== undefined) throw new RangeError(where("optimizePriorPrecision: grid and validation go with method 'gridsearch' only"));
    const withSigma = o.optimizeSigma ?? false;
    if (typeof withSigma !== 'boolean') throw new TypeError(where(`optimizePriorPrecision: optimizeSigma must be a boolean, got ${typeof withSigma}`));
    if (withSigma && !this.#gaussian) throw new RangeError(where(`optimizePriorPrecision: optimizeSigma needs a Gaussian likelihood (σ is fixed at 1 for ${this.#problem.likelihood.name})`));
    const tol = o.tol === undefined ? 1e-8 : positive(o.tol, 'tol');
    const maxIt = checkCount(o.maxIterations, 'laplace: maxIterations', { dflt: 100 });
    if (kind === 'scalar') this.#eigenvaluesFull(); // 'full': many δ (and σ) ahead, each O(D) from here on
    const { idx, count } = this.#hypIndex(kind);
    const nv = count + (withSigma ? 1 : 0);
    // start: the current δ averaged (geometric mean) onto the new structure; then log σ
    const t = new Float64Array(nv),
      nh = new Float64Array(count);
    for (let j = 0; j < this.dim; j++) {
      t[idx[j]!]! += Math.log(this.#hyper.delta[j]!);
      nh[idx[j]!]! += 1;
    }
    for (let h = 0; h < count; h++) t[h]! /= nh[h]!;
    if (withSigma) t[count] = Math.log(this.#sigma);
    const deltaOf = (tt: Float64Array): Float64Array => Float64Array.from(idx, (h) => Math.exp(tt[h]!));
    const sigmaOf = (tt: Float64Array): number => (withSigma ? Math.exp(tt[count]!) : this.#sigma);
    const f = (tt: Float64Array): number => {
      const d = deltaOf(tt),
        sg = sigmaOf(tt);
      let ld0 = 0;
      for (const x of d) ld0 += Math.log(x);
      return this.#logLik(sg) - 0.5 * (this.#logDet(d, this.#kappa(sg), kind) - ld0 + this.#scatter(d));
    };
    // gradient, Hessian and the size of the cancelling terms in (log δ, [log σ]); with
    // A = SSE/(σ²T) and r_h = Σ_h' ∂²log det P/∂t_h∂t_h' (∂P/∂log σ = −2(P − P0)):
    //   ∂/∂u = A − NM + D_sub − Σ_h t1_h,  ∂²/∂u² = −2A − 2 Σ_h r_h,  ∂²/∂u∂t_h = −r_h
    const derivatives = (tt: Float64Array): { g: Float64Array; hess: Float64Array; scale: Float64Array } => {
      const sg = sigmaOf(tt);
      const r = this.#gradient(deltaOf(tt), kind, sg, true);
      if (!withSigma) return { g: r.g, hess: r.hess!, scale: r.scale };
      const g = new Float64Array(nv),
        hess = new Float64Array(nv * nv),
        scale = new Float64Array(nv);
      g.set(r.g);
      scale.set(r.scale);
      for (let h = 0; h < count; h++) for (let h2 = 0; h2 < count; h2++) hess[h * nv + h2] = r.hess![h * count + h2]!;
      const ldh = r.stats.hess!,
        p = this.#problem;
      const A = (2 * this.#variance * this.#sumLoss) / (sg * sg * this.#T);
      let tAll = 0,
        rAll = 0;
      for (let h = 0; h < count; h++) {
        tAll += r.stats.t1[h]!;
        let rh = 0;
        for (let h2 = 0; h2 < count; h2++) rh += ldh[h * count + h2]!;
        rAll += rh;
        hess[h * nv + count] = -rh;
        hess[count * nv + h] = -rh;
      }
      g[count] = A - p.N * p.outputs + this.dim - tAll;
      hess[count * nv + count] = -2 * A - 2 * rAll;
      scale[count] = A + p.N * p.outputs + this.dim + tAll;
      return { g, hess, scale };
    };
    let value = f(t),
      it = 0,
      converged = false;
    for (; ; it++) {
      const { g, hess, scale } = derivatives(t);
      converged = g.every((x, h) => Math.abs(x) <= tol * scale[h]!);
      if (converged || it >= maxIt) break;
      // Newton direction on −log Z: (−hess) d = g
      const A = hess.map((v) => -v);
      let d: Float64Array;
      const newton = smallCholesky(A, nv);
      if (newton) d = smallSolve(A, nv, g);
      else d = g.map((x, h) => x / Math.max(Math.abs(hess[h * nv + h]!), 1));
      let mx = 0;
      for (const x of d) mx = Math.max(mx, Math.abs(x));
      if (mx > 5) d = d.map((x) => (x * 5) / mx);
      let slope = 0;
      for (let h = 0; h < nv; h++) slope += g[h]! * d[h]!;
      // Near the maximum the predicted gain ½ gᵀd is below the rounding of log Z itself, so a
      // line search on log Z cannot see it: take the full Newton step (the Hessian is negative
      // definite there) and let the gradient, which is computed to full accuracy, decide.
      if (newton && mx <= 5 && 0.5 * slope <= 64 * 2 ** -52 * (Math.abs(value) + 1)) {
        for (let h = 0; h < nv; h++) t[h]! += d[h]!;
        value = f(t);
        continue;
      }
      let step = 1,
        accepted = false;
      for (let k = 0; k < 60; k++, step /= 2) {
        const tn = t.map((x, h) => x + step * d[h]!);
        let vn: number;
        try {
          vn = f(tn);
        } catch (e) {
          if (e instanceof NotPositiveDefiniteError) continue;
          throw e;
        }
        if (vn >= value + 1e-4 * step * slope) {
          t.set(tn);
          value = vn;
          accepted = true;
          break;
        }
      }
      if (!accepted) break; // no ascent possible in floating point: stationary to rounding
    }
    const delta = deltaOf(t);
    this.#hyper =
      kind === 'scalar' ? { kind, value: delta[0]!, delta } : kind === 'layerwise' ? { kind, value: Array.from(t.subarray(0, count), Math.exp), delta } : { kind, value: delta.slice(), delta };
    if (withSigma) this.#sigma = sigmaOf(t);
    return { priorPrecision: this.priorPrecision, ...(withSigma ? { sigmaNoise: this.#sigma } : {}), logMarginalLikelihood: this.logMarginalLikelihood(), iterations: it, converged };
  }

  /** `method: 'gridsearch'`: the δ of the grid with the largest validation log-likelihood (first on ties). */
  #gridsearch(o: OptimizePriorOptions): OptimizePriorResult {
    const grid = o.grid === undefined ? Array.from({ length: 21 }, (_, i) => 10 ** (-4 + 0.4 * i)) : o.grid;
    if (!Array.isArray(grid) || grid.length === 0) throw new TypeError(where('optimizePriorPrecision: grid must be a non-empty array of numbers > 0'));
    grid.forEach((x, i) => positive(x, `grid[${i}]`));
    const v = o.validation;
    if (typeof v !== 'object' || v === null || v.X === undefined || v.y === undefined)
      throw new RangeError(where("optimizePriorPrecision: method 'gridsearch' needs validation: { X, y } (method 'marglik', the default, needs none)"));
    checkOptions(v, 'Laplace.optimizePriorPrecision: validation', ['X', 'y']);
    const lik = this.#problem.likelihood;
    if (lik.name === 'poisson') throw new RangeError(where("optimizePriorPrecision: 'gridsearch' has no GLM predictive for a Poisson likelihood"));
    const jac = this.#jacobians(v.X);
    this.#eigenFull(); // 'full': one GEMM with U per δ of the grid from here on
    const rows = jac.rows,
      M = lik.outputs;
    const y = targets(v.y, rows, lik.name === 'gaussian' ? M : 1);
    if (lik.name !== 'gaussian')
      y.forEach((c, i) => {
        const C = lik.name === 'bernoulli' ? 2 : M;
        if (!Number.isInteger(c) || c < 0 || c >= C) throw new RangeError(where(`optimizePriorPrecision: validation y[${i}] must be a class in 0…${C - 1}, got ${c}`));
      });
    const curve = Float64Array.from(grid, (d) => validationLogLikelihood(lik.name, M, jac.f, this.#fvar(jac, new Float64Array(this.dim).fill(d), this.#sigma, 'scalar'), rows, y, this.#sigma, lik));
    let best = 0;
    for (let i = 1; i < curve.length; i++) if (curve[i]! > curve[best]!) best = i;
    const d = grid[best]!;
    this.#hyper = { kind: 'scalar', value: d, delta: new Float64Array(this.dim).fill(d) };
    return { priorPrecision: d, logMarginalLikelihood: this.logMarginalLikelihood(), iterations: grid.length, converged: true, grid: Float64Array.from(grid), validationLogLikelihood: curve };
  }

  /**
   * The Jacobians of f at the rows of Xtest (n × M × D, row-major) and f itself (n × M).
   */
  #jacobians(Xtest: MatrixInput): { J: Float64Array; f: Float64Array; rows: number } {
    const X = toDense(Xtest, 'Xtest');
    const model = this.#problem.model,
      M = model.outputs,
      D = model.dim;
    if (X.cols !== model.inputs) throw new RangeError(where(`Xtest must have ${model.inputs} columns (the model's inputs), got ${X.cols}`));
    const n = X.rows;
    const tr = model.forward(this.mean, X.data, n);
    try {
      const f = tr.outputs.slice();
      let J: Float64Array;
      if (tr.jacobians) J = tr.jacobians().slice();
      else if (tr.pullbacks) {
        const R = new Float64Array(n * M * M);
        for (let i = 0; i < n; i++) for (let k = 0; k < M; k++) R[(i * M + k) * M + k] = 1;
        J = tr.pullbacks(R, M).slice();
      } else {
        J = new Float64Array(n * M * D);
        const R = new Float64Array(n * M);
        for (let i = 0; i < n; i++)
          for (let k = 0; k < M; k++) {
            R[i * M + k] = 1;
            J.set(tr.vjp(R), (i * M + k) * D);
            R[i * M + k] = 0;
          }
      }
      return { J, f, rows: n };
    } finally {
      tr.free?.();
    }
  }

  /**
   * The functional variance Σ_f(x) = J(x) P⁻¹ J(x)ᵀ (M × M) per test point, J(x) = ∂f(x)/∂θ
   * restricted to the subset: `'full'` by Cholesky solves P⁻¹ J(x)ᵀ, or with a scalar prior once
   * {@link Laplace.optimizePriorPrecision} has eigendecomposed H = U diag(λ) Uᵀ as
   * (J U) diag(1/(κλ + δ)) (J U)ᵀ (the same to about 1e-12 relative), `'diagonal'` as
   * Σ_d J_md J_m'd / P_dd, `'kfac'` in each layer's eigenbasis (J's slice rotated by U_Gᵀ · U_A,
   * divided by κ g_o a_i + δ_l) — never forming D × D for the last two.
   * @param Xtest n × d inputs.
   * @returns n·M·M values, row-major per point.
   * @example
   * ```ts
   * // la of the example of laplace(), δ = 1
   * la.functionalVariance([[0.5, -1]]);
   * // Float64Array(9) [1.2838…, 0.0422…, 0.4179…, 0.0422…, 1.2898…, 0.0338…, 0.4179…, 0.0338…, 0.8620…]
   * ```
   */
  functionalVariance(Xtest: MatrixInput): Float64Array {
    this.#check();
    return this.#chunked(Xtest).fvar;
  }

  /**
   * f and Σ_f at the rows of Xtest, the Jacobians made and consumed a chunk of points at a time
   * (≤ {@link CHUNK_BYTES} of Jacobian each), never n·M × D at once.
   */
  #chunked(Xtest: MatrixInput): { f: Float64Array; fvar: Float64Array; rows: number } {
    const X = toDense(Xtest, 'Xtest');
    const fast = this.#sampleGramGroups();
    if (fast) return this.#chunkedSampleGram(X, fast);
    return this.#chunkedJacobians(X);
  }

  /** {@link Laplace.#chunked} through Jacobian rows: a chunk of ≤ {@link CHUNK_BYTES} of Jacobian at a time. */
  #chunkedJacobians(X: { data: Float64Array; rows: number; cols: number }): { f: Float64Array; fvar: Float64Array; rows: number } {
    const M = this.#problem.model.outputs,
      step = chunkPoints(M, this.#problem.model.dim);
    if (X.rows <= step) {
      const jac = this.#jacobians(X);
      return { f: jac.f, fvar: this.#fvar(jac), rows: jac.rows };
    }
    const n = X.rows,
      d = X.cols,
      f = new Float64Array(n * M),
      fvar = new Float64Array(n * M * M);
    for (let i0 = 0; i0 < n; i0 += step) {
      const i1 = Math.min(n, i0 + step);
      const jac = this.#jacobians({ data: X.data.subarray(i0 * d, i1 * d), rows: i1 - i0, cols: d });
      f.set(jac.f, i0 * M);
      fvar.set(this.#fvar(jac), i0 * M * M);
    }
    return { f, fvar, rows: n };
  }

  /**
   * The layer-wise form of Σ_f for `'diagonal'` and `'kfac'` posteriors on dense groups (subset
   * `'all'` or `'lastLayer'`): per group the weights S = 1/(posterior eigenvalue) in the group's
   * (rotated) q × p layout, for {@link ModelTrace.sampleGram}. Undefined when it does not apply
   * (another structure, an index subset, a group that is not dense, an exact block).
   */
  #sampleGramGroups(delta: Float64Array = this.#hyper.delta, sigma: number = this.#sigma): SampleGramGroup[] | undefined {
    if ((this.structure !== 'diagonal' && this.structure !== 'kfac') || this.subset === 'indices') return undefined;
    const model = this.#problem.model;
    if (this.#groups.some((g) => g.dense === undefined || !g.dense.bias)) return undefined;
    const first = model.groups.length - this.#groups.length;
    const kappa = this.#kappa(sigma);
    if (this.structure === 'diagonal') {
      const Hd = this.#Hdiag!;
      return this.#groups.map((g, l) => {
        const { inputs: nin, outputs: q } = g.dense!;
        const o0 = g.offset - this.offset,
          p = nin + 1;
        const S = new Float64Array(q * p);
        for (let o = 0; o < q; o++) {
          for (let i = 0; i < nin; i++) {
            const j = o0 + o * nin + i;
            S[o * p + i] = 1 / (kappa * Hd[j]! + delta[j]!);
          }
          const j = o0 + q * nin + o;
          S[o * p + nin] = 1 / (kappa * Hd[j]! + delta[j]!);
        }
        return { group: first + l, S };
      });
    }
    const blocks = this.#blocks!;
    if (blocks.some((b) => b.kind !== 'kron' || b.mode === 'none')) return undefined;
    return blocks.map((b) => {
      const { q, p, G, A, lambda, mode } = b as Extract<Block, { kind: 'kron' }>;
      const d = delta[b.offset]!;
      const S = new Float64Array(q * p);
      for (let j = 0; j < q * p; j++) S[j] = 1 / (kappa * lambda[j]! + d);
      const spec: SampleGramGroup = { group: first + b.group, S, UG: G.vectors, UA: A.vectors };
      if (mode === 'separate') return { ...spec, biasWeights: Float64Array.from({ length: q }, (_, o) => 1 / (kappa * lambda[q * p + o]! + d)) };
      return spec;
    });
  }

  /**
   * f and Σ_f by {@link ModelTrace.sampleGram}, a chunk of test points per forward pass (the
   * backpropagated identity stack, N·M × Σ widths doubles, ≤ {@link CHUNK_BYTES}); the generic
   * Jacobian path when the model's trace has no `sampleGram`.
   */
  #chunkedSampleGram(X: { data: Float64Array; rows: number; cols: number }, groups: SampleGramGroup[]): { f: Float64Array; fvar: Float64Array; rows: number } {
    const model = this.#problem.model,
      M = model.outputs,
      n = X.rows,
      d = X.cols;
    if (d !== model.inputs) throw new RangeError(where(`Xtest must have ${model.inputs} columns (the model's inputs), got ${d}`));
    const width = model.groups.reduce((s, g) => s + (g.dense ? g.dense.outputs : 0), 0) + 3 * Math.max(...model.groups.map((g) => (g.dense ? g.dense.outputs : 0)));
    const step = Math.max(1, Math.min(4096, Math.floor(CHUNK_BYTES / (8 * Math.max(M, 1) * Math.max(width, 1)))));
    const f = new Float64Array(n * M),
      fvar = new Float64Array(n * M * M);
    for (let i0 = 0; i0 < n; i0 += step) {
      const i1 = Math.min(n, i0 + step),
        c = i1 - i0;
      const tr = model.forward(this.mean, X.data.subarray(i0 * d, i1 * d), c);
      try {
        if (!tr.sampleGram) return this.#chunkedJacobians(X);
        f.set(tr.outputs, i0 * M);
        const C = tr.sampleGram(identityStack(c, M), M, groups);
        // symmetric by definition: the upper triangle, mirrored
        for (let i = 0; i < c; i++) {
          const o = (i0 + i) * M * M,
            r = i * M * M;
          for (let a = 0; a < M; a++)
            for (let b = a; b < M; b++) {
              const v = C[r + a * M + b]!;
              fvar[o + a * M + b] = v;
              fvar[o + b * M + a] = v;
            }
        }
      } finally {
        tr.free?.();
      }
    }
    return { f, fvar, rows: n };
  }

  #fvar(jac: { J: Float64Array; rows: number }, delta: Float64Array = this.#hyper.delta, sigma: number = this.#sigma, kind: Hyper['kind'] = this.#hyper.kind): Float64Array {
    const { J, rows } = jac;
    const M = this.#problem.model.outputs,
      D = this.#problem.model.dim,
      n = this.dim,
      o0 = this.offset,
      ix = this.indices;
    const R = rows * M;
    const out = new Float64Array(rows * M * M);
    const kappa = this.#kappa(sigma);
    if (this.structure === 'lowRank') {
      // Woodbury: P⁻¹ = (1/δ) [I − U diag(κλ/(κλ + δ)) Uᵀ], so Σ_f = (1/δ) J Jᵀ − (J U) diag(c) (J U)ᵀ, c = κλ/(δ(κλ + δ))
      const U = this.#U!,
        k = this.rank,
        d = delta[0]!;
      const c = Float64Array.from(this.#lam!, (l) => (kappa * l) / (d * (kappa * l + d)));
      const JU = new Float64Array(R * k);
      for (let r = 0; r < R; r++)
        for (let j = 0; j < n; j++) {
          const v = J[r * D + o0 + j]!;
          if (v !== 0) for (let i = 0; i < k; i++) JU[r * k + i]! += v * U[j * k + i]!;
        }
      for (let pnt = 0; pnt < rows; pnt++)
        for (let a = 0; a < M; a++)
          for (let b = a; b < M; b++) {
            const ra = pnt * M + a,
              rb = pnt * M + b;
            let s = 0;
            for (let j = 0; j < n; j++) s += J[ra * D + o0 + j]! * J[rb * D + o0 + j]!;
            s /= d;
            for (let i = 0; i < k; i++) s -= c[i]! * JU[ra * k + i]! * JU[rb * k + i]!;
            out[ra * M + b] = s;
            out[rb * M + a] = s;
          }
      return out;
    }
    // full, scalar prior: Σ_f = (J U) diag(1/(κλ + δ)) (J U)ᵀ, as a kfac 'exact' block
    const e = this.#scalarEig(kind);
    if (e) {
      this.#eigP(e, delta[0]!, kappa);
      this.#whitenedGram(J, rows, delta, kappa, out, e);
      return out;
    }
    // Z: per Jacobian row r, the row transformed so that Σ_f = Σ_k Z_rk Y_r'k
    if (this.structure === 'full') {
      // P = L Lᵀ: Σ_f(x_i) = Y_iᵀ Y_i with Y = L⁻¹ Jᵀ (n × R), one forward substitution
      const c = this.#factor(delta, kappa);
      const core = this.#core ?? defaultCore(),
        k = core.exports;
      withScratch(core, [8 * Math.max(1, n * R), 8 * M * M], (b, cm) => {
        const B = core.f64(b!, n * R);
        for (let r = 0; r < R; r++) for (let j = 0; j < n; j++) B[j * R + r] = J[r * D + ix[j]!]!;
        k.dtrsmLowerLeft(n, R, c.F.factorPtr(), n, b!, R);
        for (let i = 0; i < rows; i++) {
          k.dgemm(1, 0, M, M, n, 1, b! + 8 * i * M, R, b! + 8 * i * M, R, 0, cm!, M);
          const C = core.f64(cm!, M * M);
          for (let a = 0; a < M; a++)
            for (let bb = a; bb < M; bb++) {
              const v = C[a * M + bb]!;
              out[(i * M + a) * M + bb] = v;
              out[(i * M + bb) * M + a] = v;
            }
        }
      });
      return out;
    }
    // diagonal and kfac: rotated rows divided by the square root of the eigenvalues (in WASM)
    this.#whitenedGram(J, rows, delta, kappa, out);
    return out;
  }

  /**
   * `'diagonal'` / `'kfac'`: W = J's subset rows in the posterior's eigenbasis (`'kfac'`: per
   * layer U_Gᵀ V U_A and the bias Bᵀ U_G, `'exact'` blocks Eᵀ v) divided by the square root of
   * the eigenvalues, then Σ_f(x_i) = W_i W_iᵀ (M × M) per point — a chunk of points at a time
   * (≤ {@link CHUNK_BYTES} of W), every product a `dgemm` in WASM; written into `out`.
   */
  #whitenedGram(J: Float64Array, rows: number, delta: Float64Array, kappa: number, out: Float64Array, eigH?: Extract<Block, { kind: 'exact' }>): void {
    const M = this.#problem.model.outputs,
      D = this.#problem.model.dim,
      n = this.dim,
      o0 = this.offset,
      ix = this.indices;
    if (rows === 0 || M === 0) return;
    const core = this.#core ?? defaultCore(),
      k = core.exports,
      F64 = 8;
    const sc = new Float64Array(n);
    const blocks = this.structure === 'kfac' ? this.#blocks! : eigH ? [eigH] : [];
    if (this.structure === 'diagonal') {
      const Hd = this.#Hdiag!;
      for (let j = 0; j < n; j++) sc[j] = 1 / Math.sqrt(kappa * Hd[j]! + delta[j]!);
    } else for (const b of blocks) for (let j = 0; j < b.size; j++) sc[b.offset + j] = 1 / Math.sqrt(kappa * b.lambda[j]! + delta[b.offset]!);
    // Dense groups (z = W a + b, the bias a coordinate of A or its own block): every Jacobian row
    // of the group is δ āᵀ, so its rotation U_Gᵀ δ āᵀ U_A is the outer product of U_Gᵀ δ (δ: the
    // bias entries of the row) and U_Aᵀ ā (ā: the point's layer input, any row's W entries over
    // its largest δ) — q² + p² per row and point instead of q·p·(q + p) per row.
    const groups = this.#problem.model.groups,
      first = groups.length - this.#groups.length;
    const rankOne = blocks.map((b) => b.kind === 'kron' && this.subset !== 'indices' && b.mode !== 'none' && groups[first + b.group]?.dense !== undefined);
    const P = Math.min(rows, chunkPoints(M, n)),
      Rc = P * M;
    // W's rows are padded by the largest q: the outer products of a dense block write its bias
    // part after the block, onto the next block (written later) or into the padding.
    const pad = Math.max(0, ...blocks.map((b) => (b.kind === 'kron' ? b.q : 0))),
      ldw = n + pad;
    // eigenvector storage (U_G then U_A, or E, per block) and the largest gather / product buffers
    const eOff: number[] = [];
    let eLen = 0,
      vLen = 1,
      tLen = 1;
    blocks.forEach((b, bi) => {
      eOff.push(eLen);
      if (b.kind === 'exact') {
        eLen += b.size * b.size;
        vLen = Math.max(vLen, Rc * b.size);
      } else if (rankOne[bi]) {
        eLen += b.q * b.q + b.p * b.p;
        vLen = Math.max(vLen, Rc * b.q, P * b.p);
        tLen = Math.max(tLen, Rc * b.q, P * b.p);
      } else {
        eLen += b.q * b.q + b.p * b.p;
        vLen = Math.max(vLen, Rc * b.q * b.p);
        tLen = Math.max(tLen, Rc * b.q * b.p);
      }
    });
    const uLen = Math.max(1, ...blocks.map((b, bi) => (rankOne[bi] && b.kind === 'kron' ? P * b.p : 0)));
    withScratch(core, [F64 * Rc * ldw, F64 * vLen, F64 * tLen, F64 * Math.max(eLen, 1), F64 * M * M, F64 * uLen], (w, v, t, e, c, u) => {
      blocks.forEach((b, bi) => {
        const E = core.f64(e! + F64 * eOff[bi]!, b.kind === 'exact' ? b.size * b.size : b.q * b.q + b.p * b.p);
        if (b.kind === 'exact') E.set(b.E.vectors);
        else {
          E.set(b.G.vectors);
          E.set(b.A.vectors, b.q * b.q);
        }
      });
      for (let i0 = 0; i0 < rows; i0 += P) {
        const np = Math.min(P, rows - i0),
          R = np * M,
          r0 = i0 * M;
        if (this.structure === 'diagonal') {
          const W = core.f64(w!, R * ldw);
          for (let r = 0; r < R; r++) {
            const src = (r0 + r) * D,
              dst = r * ldw;
            for (let j = 0; j < n; j++) W[dst + j] = J[src + ix[j]!]! * sc[j]!;
          }
        } else {
          blocks.forEach((b, bi) => {
            const eb = e! + F64 * eOff[bi]!,
              base = o0 + b.offset;
            if (b.kind === 'exact') {
              const V = core.f64(v!, R * b.size);
              if (this.subset === 'indices') for (let r = 0; r < R; r++) for (let j = 0, src = (r0 + r) * D; j < b.size; j++) V[r * b.size + j] = J[src + ix[b.offset + j]!]!;
              else for (let r = 0; r < R; r++) V.set(J.subarray((r0 + r) * D + base, (r0 + r) * D + base + b.size), r * b.size);
              k.dgemm(0, 0, R, b.size, b.size, 1, v!, b.size, eb, b.size, 0, w! + F64 * b.offset, ldw);
              return;
            }
            const { q, p, nin, mode } = b;
            if (rankOne[bi]) {
              // δ (R × q) from the bias entries; ā (np × p) from the row and output of the largest |δ|
              const Dl = core.f64(v!, R * q);
              for (let r = 0; r < R; r++) Dl.set(J.subarray((r0 + r) * D + base + q * nin, (r0 + r) * D + base + q * nin + q), r * q);
              k.dgemm(0, 0, R, q, q, 1, v!, q, eb, q, 0, t!, q); // δ̂ = U_Gᵀ δ, as rows
              const A = core.f64(v!, np * p);
              for (let i = 0; i < np; i++) {
                let best = 0,
                  br = 0,
                  bo = 0;
                for (let kk = 0; kk < M; kk++) {
                  const src = (r0 + i * M + kk) * D + base + q * nin;
                  for (let o = 0; o < q; o++) {
                    const x = Math.abs(J[src + o]!);
                    if (x > best) {
                      best = x;
                      br = kk;
                      bo = o;
                    }
                  }
                }
                const row = (r0 + i * M + br) * D + base,
                  dd = best === 0 ? 0 : 1 / J[row + q * nin + bo]!;
                for (let j = 0; j < nin; j++) A[i * p + j] = J[row + bo * nin + j]! * dd;
                if (mode === 'joint') A[i * p + nin] = 1;
              }
              // â = U_Aᵀ ā (rows), into u; then W's block rows = δ̂ âᵀ (+ the separate bias δ̂)
              k.dgemm(0, 0, np, p, p, 1, v!, p, eb + F64 * q * q, p, 0, u!, p);
              k.denseOuterRows(np, M, q, p, t!, u!, p, w! + F64 * b.offset, ldw);
              return;
            }
            const V = core.f64(v!, R * q * p);
            for (let r = 0; r < R; r++) {
              const src = (r0 + r) * D + base;
              for (let o = 0; o < q; o++) {
                V.set(J.subarray(src + o * nin, src + o * nin + nin), (r * q + o) * p);
                if (mode === 'joint') V[(r * q + o) * p + nin] = J[src + q * nin + o]!;
              }
            }
            // T = V U_A for all rows at once ((R·q) × p), then U_Gᵀ T_r into W's row r
            k.dgemm(0, 0, R * q, p, p, 1, v!, p, eb + F64 * q * q, p, 0, t!, p);
            for (let r = 0; r < R; r++) k.dgemm(1, 0, q, p, q, 1, eb, q, t! + F64 * r * q * p, p, 0, w! + F64 * (r * ldw + b.offset), p);
            if (mode === 'separate') {
              const Bv = core.f64(v!, R * q);
              for (let r = 0; r < R; r++) {
                const src = (r0 + r) * D + base + q * nin;
                Bv.set(J.subarray(src, src + q), r * q);
              }
              k.dgemm(0, 0, R, q, q, 1, v!, q, eb, q, 0, w! + F64 * (b.offset + q * p), ldw);
            }
          });
          const W = core.f64(w!, R * ldw);
          for (let r = 0; r < R; r++) for (let j = 0, o = r * ldw; j < n; j++) W[o + j]! *= sc[j]!;
        }
        for (let i = 0; i < np; i++) {
          const wi = w! + F64 * i * M * ldw;
          k.dgemm(0, 1, M, M, n, 1, wi, ldw, wi, ldw, 0, c!, M);
          const C = core.f64(c!, M * M),
            o = (i0 + i) * M * M;
          for (let a = 0; a < M; a++)
            for (let b = a; b < M; b++) {
              const s = C[a * M + b]!;
              out[o + a * M + b] = s;
              out[o + b * M + a] = s;
            }
        }
      }
    });
  }

  /**
   * The GLM (linearized) predictive at the rows of Xtest: f(x) ~ N(f(x; θ*), J P⁻¹ Jᵀ) pushed
   * through the likelihood — link `'probit'`: softmax(f / √(1 + π/8 · diag Σ_f)); `'mc'`: the mean
   * softmax of seeded samples f ~ N(f(x; θ*), Σ_f); `'bridge'`: the Laplace bridge's Dirichlet mean.
   * Categorical: n × C probabilities;
   * Bernoulli: n × 1 probabilities of y = 1; Gaussian: `{ mean (n·M), variance (n·M·M) }` with the
   * predictive variance J P⁻¹ Jᵀ + σ² I (laplace-torch returns J P⁻¹ Jᵀ alone). Σ_f as in
   * {@link Laplace.functionalVariance} (`'full'`: Cholesky, or H's eigendecomposition once made).
   * @example
   * ```ts
   * // la of the example of laplace(), δ = 1
   * la.predict([[0.5, -1]], { link: 'probit' }); // { data: Float64Array(3) [0.4335…, 0.2578…, 0.3086…], rows: 1, cols: 3 }
   * ```
   */
  predict(Xtest: MatrixInput, options?: PredictOptions): Prediction {
    this.#check();
    if (options?.method === 'nn') return this.#nnPredict(Xtest, options);
    const { f, fvar, rows } = this.#chunked(Xtest);
    return glmPredictive(this.#problem.likelihood, f, fvar, rows, this.#sigma, options);
  }

  /**
   * `method: 'nn'`: S samples θ_s from {@link Laplace.sample}(S, seed) pushed through the network:
   * classification (1/S) Σ_s softmax(f(x; θ_s)) (Bernoulli: sigmoid); Gaussian: mean
   * f̄ = (1/S) Σ_s f(x; θ_s) and variance (1/(S − 1)) Σ_s (f_s − f̄)(f_s − f̄)ᵀ + σ² I.
   */
  #nnPredict(Xtest: MatrixInput, options: PredictOptions): Prediction {
    const o = checkOptions<PredictOptions>(options, 'Laplace.predict', ['method', 'link', 'samples', 'seed', 'correction']);
    if (o.link !== undefined || o.correction !== undefined)
      throw new RangeError(where("predict: link and correction go with method 'glm' only (method 'nn' averages the network over posterior samples)"));
    const S = checkCount(o.samples, 'laplace: predict: samples', { dflt: 100 });
    const lik = this.#problem.likelihood,
      model = this.#problem.model,
      M = model.outputs;
    if (lik.name === 'poisson') throw new RangeError(where('predict: no predictive for a Poisson likelihood in this version'));
    if (lik.name === 'gaussian' && S < 2) throw new RangeError(where(`predict: method 'nn' needs samples ≥ 2 for a Gaussian likelihood's variance, got ${S}`));
    const X = toDense(Xtest, 'Xtest');
    if (X.cols !== model.inputs) throw new RangeError(where(`Xtest must have ${model.inputs} columns (the model's inputs), got ${X.cols}`));
    const n = X.rows,
      D = this.mean.length;
    const thetas = this.sample(S, o.seed ?? 0).data;
    const fs = new Float64Array(S * n * M);
    for (let s = 0; s < S; s++) {
      const tr = model.forward(thetas.subarray(s * D, (s + 1) * D), X.data, n);
      try {
        fs.set(tr.outputs.subarray(0, n * M), s * n * M);
      } finally {
        tr.free?.();
      }
    }
    if (lik.name === 'gaussian') {
      const mean = new Float64Array(n * M),
        variance = new Float64Array(n * M * M);
      for (let s = 0; s < S; s++) for (let i = 0; i < n * M; i++) mean[i]! += fs[s * n * M + i]! / S;
      for (let s = 0; s < S; s++)
        for (let i = 0; i < n; i++)
          for (let a = 0; a < M; a++) {
            const da = fs[(s * n + i) * M + a]! - mean[i * M + a]!;
            for (let b = 0; b < M; b++) variance[(i * M + a) * M + b]! += (da * (fs[(s * n + i) * M + b]! - mean[i * M + b]!)) / (S - 1);
          }
      for (let i = 0; i < n; i++) for (let a = 0; a < M; a++) variance[(i * M + a) * M + a]! += this.#sigma ** 2;
      return { mean, variance };
    }
    const out = new Float64Array(n * M);
    for (let s = 0; s < S; s++)
      for (let i = 0; i < n; i++) {
        const o0 = (s * n + i) * M;
        if (lik.name === 'bernoulli') {
          const x = fs[o0]!;
          out[i]! += (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))) / S;
        } else {
          let m = -Infinity;
          for (let k = 0; k < M; k++) m = Math.max(m, fs[o0 + k]!);
          let z = 0;
          for (let k = 0; k < M; k++) z += Math.exp(fs[o0 + k]! - m);
          for (let k = 0; k < M; k++) out[i * M + k]! += Math.exp(fs[o0 + k]! - m) / z / S;
        }
      }
    return { data: out, rows: n, cols: M };
  }

  /**
   * n samples θ ~ N(θ*, P⁻¹) (subset coordinates; the others equal θ*): θ = θ* + L⁻ᵀ z for
   * P = L Lᵀ (`'full'`; with a scalar prior once {@link Laplace.optimizePriorPrecision} has
   * eigendecomposed H, U diag((κλ + δ)^−½) z instead: the same distribution, but another square
   * root of P⁻¹, so a seed's draws differ between the two), z_j/√P_jj (`'diagonal'`),
   * z_k/√(κλ_k + δ_l) rotated back from each layer's eigenbasis (`'kfac'`), z ~ N(0, I) from
   * natgrad's xoshiro256** {@link rng}(seed).
   * @returns an n × D matrix (rows are samples).
   * @example
   * ```ts
   * const s = la.sample(100, 0); // la of the example of laplace()
   * [s.rows, s.cols];            // [100, 27]: one θ per row
   * ```
   */
  sample(count: number, seed = 0): DenseMatrix {
    this.#check();
    const S = checkCount(count, 'laplace: sample count', { min: 1 });
    const g = rng(seed);
    const D = this.mean.length,
      n = this.dim,
      ix = this.indices;
    const out = new Float64Array(S * D);
    const kappa = this.#kappa(this.#sigma),
      delta = this.#hyper.delta;
    let L: Float64Array | undefined;
    const e = this.#scalarEig(this.#hyper.kind);
    const sp = e ? this.#eigP(e, delta[0]!, kappa).map((p) => 1 / Math.sqrt(p)) : undefined;
    if (this.structure === 'full' && !e) {
      const c = this.#factor(delta, kappa);
      c.L ??= c.F.toDense();
      L = c.L;
    }
    for (let s = 0; s < S; s++) {
      const z = Float64Array.from({ length: n }, () => g.normal());
      let x: Float64Array;
      if (e) {
        // x = U diag((κλ + δ)^−½) z
        const U = e.E.vectors;
        x = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let v = 0;
          for (let i = 0, o = j * n; i < n; i++) v += U[o + i]! * sp![i]! * z[i]!;
          x[j] = v;
        }
      } else if (L) {
        x = z; // back substitution Lᵀ x = z
        for (let i = n - 1; i >= 0; i--) {
          let v = x[i]!;
          for (let k = i + 1; k < n; k++) v -= L[k * n + i]! * x[k]!;
          x[i] = v / L[i * n + i]!;
        }
      } else if (this.structure === 'diagonal') {
        x = z.map((v, j) => v / Math.sqrt(kappa * this.#Hdiag![j]! + delta[j]!));
      } else if (this.structure === 'lowRank') {
        // x = U diag(1/√(κλ + δ)) z₁ + (I − U Uᵀ) z / √δ, z₁ ~ N(0, I_k) drawn after z
        const U = this.#U!,
          k = this.rank,
          d = delta[0]!;
        const z1 = Float64Array.from({ length: k }, () => g.normal());
        const a = new Float64Array(k);
        for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) a[i]! += U[j * k + i]! * z[j]!;
        const cf = Float64Array.from(this.#lam!, (l, i) => z1[i]! / Math.sqrt(kappa * l + d) - a[i]! / Math.sqrt(d));
        x = z.map((v) => v / Math.sqrt(d));
        for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) x[j]! += U[j * k + i]! * cf[i]!;
      } else {
        x = new Float64Array(n);
        for (const b of this.#blocks!) {
          const w = Float64Array.from(b.lambda, (l, k) => z[b.offset + k]! / Math.sqrt(kappa * l + delta[b.offset]!));
          x.set(blockRotate(b, w, false), b.offset);
        }
      }
      out.set(this.mean, s * D);
      for (let j = 0; j < n; j++) out[s * D + ix[j]!]! += x[j]!;
    }
    return { data: out, rows: S, cols: D };
  }

  /** Release the WebAssembly memory held (the `'full'` Cholesky factor). */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#cache?.F.free();
    this.#cache = undefined;
  }
}

/**
 * The Laplace approximation of `problem`'s posterior at a mode `thetaMap`:
 * N(θ*, P⁻¹), P = κ·H + P0 (κ = 1/(σ²T) for a Gaussian likelihood, 1/T otherwise; H the SUM
 * curvature of the unit-noise likelihood — a `'mean'` problem's curvature is multiplied by N, a
 * Gaussian likelihood's by its variance v (v² for the empirical Fisher); P0 = diag(δ)). See the
 * module page for the evidence, its gradient and the structures.
 * @param problem any {@link Problem} (its `reduction` and likelihood are taken into account).
 * @param thetaMap θ*, length D (finite).
 * @param options {@link LaplaceOptions}.
 * @throws RangeError for θ* of the wrong length or not finite, a non-positive priorPrecision,
 *   sigmaNoise or temperature, a structure the model cannot give (`'kfac'` without factors);
 *   NotPositiveDefiniteError when P is not positive definite; UnknownOptionError for an unknown option.
 * @example
 * ```ts
 * const model = mlp({ sizes: [2, 4, 3], activation: 'tanh' });
 * const X = [[0, 0], [1, 0], [0, 1], [1, 1], [-1, 0], [0, -1]];
 * const p = problem({ model, X, y: [0, 1, 2, 1, 0, 2], likelihood: categorical({ classes: 3 }) });
 * const theta = model.init(0);                          // stands for a trained θ* here
 * const la = laplace(p, theta, { structure: 'kfac', priorPrecision: 1 });
 * la.dim;                                               // 27
 * la.logMarginalLikelihood();                           // -10.2936…
 * la.predict([[0.5, -1]]);                              // probit: { data: [0.4335…, 0.2578…, 0.3086…], rows: 1, cols: 3 }
 * laplace(p, theta).optimizePriorPrecision();           // full: { priorPrecision: 0.8653…, logMarginalLikelihood: -10.0525…, iterations: 3, converged: true }
 * la.free();
 * ```
 *
 * @category Laplace
 */
export function laplace(problem: Problem<Dtype>, thetaMap: VectorInput, options?: LaplaceOptions): Laplace {
  if (typeof problem !== 'object' || problem === null || typeof problem.ggn !== 'function') throw new TypeError(where('problem must be a Problem (problem(...) or linearProblem(...))'));
  let theta: Float64Array;
  try {
    theta = toVector(thetaMap, problem.dim, 'thetaMap');
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new RangeError(where(`thetaMap: ${e.message.replace(/^natgrad: /, '')} (the problem has D = ${problem.dim})`));
    throw e;
  }
  return new Laplace(problem, theta, options);
}
