/**
 * `linearProblem`: a generalized linear model f_n = W x_n with an exponential-family
 * likelihood, and every curvature matrix of its objective.
 *
 * Notation (DESIGN.md §1). Data (x_n, y_n), n = 1..N, x_n ∈ R^d (a ones column appended LAST
 * when `bias: true`); M = likelihood outputs; θ = vec(W) class-major, θ[m·d + j] = W[m][j],
 * D = M·d. Per-sample loss ℓ_n = −log p(y_n | f_n), r_n = ∂ℓ_n/∂f_n, Λ_n = ∂²ℓ_n/∂f_n²,
 * J_n = ∂f_n/∂θ = I_M ⊗ x_nᵀ, per-sample gradient g_n = J_nᵀ r_n = r_n ⊗ x_n.
 * Reduction factor s = 1/N (`reduction: 'mean'`, the paper's code, default) or 1 (`'sum'`, Eq. 1):
 *
 *     L(θ) = s · ( Σ_n ℓ_n(θ) + ‖θ‖² / (2σp²) )          σp² = priorVariance (∞: no prior)
 *
 * Every curvature is symmetric, D × D, and of the form s · Σ_n J_nᵀ B_n J_n (+ prior):
 *
 * | method                 | B_n                                         | PSD | prior s/σp² on the diagonal |
 * |------------------------|---------------------------------------------|-----|-----------------------------|
 * | `fisher`, `ggn`        | Λ_n                                         | yes | no                          |
 * | `hessian`              | Λ_n (∇²f = 0 for a linear model)            | yes | yes                         |
 * | `fisherMC`             | (1/S) Σ_s r(ỹ_ns) r(ỹ_ns)ᵀ, ỹ_ns ~ p(y|f_n)  | yes | no                          |
 * | `empiricalFisher`      | r_n r_nᵀ                                    | yes | no                          |
 *
 * As in the paper's code, `fisher()`/`empiricalFisher()` return the data term only and the
 * optimizers add the prior curvature and the damping. For exponential families with natural
 * parameter f, GGN = Fisher exactly (Prop. 1), and for the linear model Hessian = GGN + prior.
 *
 * Structures: `'dense'` (SymMatrix D × D), `'diagonal'` (Float64Array D: the exact diagonal),
 * `'block'` (M SymMatrix d × d: the exact diagonal blocks, block k = s·Σ_n B_n[k][k] x_n x_nᵀ),
 * `'kfac'` ({ A, G } with F ≈ G ⊗ A, A = (1/N) Σ_n x_n x_nᵀ (d × d), G = s·Σ_n B_n (M × M), i.e.
 * F[(a,i),(b,j)] ≈ G[a][b]·A[i][j]; exact when B_n is the same for all n, e.g. Gaussian).
 *
 * @module
 */
import { addBias } from '../data/datasets.js';
import { NonFiniteLossError } from '../core/errors.js';
import { allocBlocks, Handle } from '../core/handle.js';
import { checkSquare } from '../core/limits.js';
import { checkLabels, checkLabelTypes, checkLikelihood, evaluate, sampleResidual, type Likelihood } from '../likelihoods/likelihood.js';
import { checkOptions } from '../core/options.js';
import { Matrix } from '../linalg/matrix.js';
import { rng as xoshiro } from '../data/random.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { DenseMatrix, MatrixInput, VectorInput } from '../core/types.js';
import { checkScalar, firstNonFinite, toMatrix, toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { linear, type LinearModel } from '../models/linear.js';
import { curvatureOperator, type CurvatureOperator, type CurvatureOperatorOptions, type OutputSpaceMap } from '../operators/curvature.js';
import { batchRows, curvatureOptions, nonFiniteLoss, perSampleOptions, priorTerm, varianceAdaptationFrom, varianceAdaptationOptions } from './common.js';
import type { CurvatureOptions, CurvatureResult, LinearKfac, MonteCarloOptions, Problem, Structure } from './types.js';

/**
 * Options of {@link linearProblem}.
 *
 * @category Problems
 */
export interface LinearProblemOptions {
  /** N × d inputs: dense `{ data, rows, cols }`, `number[][]`, CSR, or a resident {@link Matrix}. */
  X: MatrixInput | Matrix;
  /** N targets (class indices for categorical, 0/1 for Bernoulli, counts for Poisson). */
  y: VectorInput;
  likelihood: Likelihood;
  /** σp² > 0 of the Gaussian prior N(0, σp² I); Infinity (default) = no prior. */
  priorVariance?: number;
  /** `'mean'` (s = 1/N, default, the paper's code) or `'sum'` (s = 1, the paper's Eq. 1). */
  reduction?: 'mean' | 'sum';
  /** Append a column of ones as the LAST input column (default false). */
  bias?: boolean;
}

export type { Structure, KfacFactors, CurvatureResult, CurvatureOptions, MonteCarloOptions, LinearKfac } from './types.js';

/**
 * The curvature results of {@link LinearProblem}: {@link CurvatureResult} with `'kfac'` an array of one that is also `{ A, G }`.
 *
 * @category Curvature
 */
export type LinearCurvatureResult<S extends Structure> = CurvatureResult<S, LinearKfac>;

type BKind = 'fisher' | 'ef' | 'mc';

/**
 * A linear model with an exponential-family likelihood, resident in WebAssembly memory
 * (inputs, targets and per-sample workspaces are allocated once; calls reuse them).
 * Create with {@link linearProblem}; `free()` when done.
 *
 * @category Problems
 */
export class LinearProblem extends Handle implements Problem<'float64'> {
  /** The linear model (θ layout, groups); `linear({ inputs, outputs, bias })`. */
  readonly model: LinearModel;
  /** Always `'float64'`: the linear model runs in float64 only. */
  readonly dtype = 'float64' as const;
  /** The inputs as a resident matrix (bias column included when `bias: true`). */
  readonly X: Matrix;
  /** The targets (a copy). */
  readonly y: Float64Array;
  readonly likelihood: Likelihood;
  readonly priorVariance: number;
  readonly reduction: 'mean' | 'sum';
  readonly bias: boolean;
  /** N, the number of samples. */
  readonly N: number;
  /** d, the number of input columns (including the bias column). */
  readonly inputs: number;
  /** M, the dimension of f_n. */
  readonly outputs: number;
  /** D = M·d, the number of parameters. */
  readonly dim: number;
  /** The reduction factor s: 1/N for 'mean', 1 for 'sum'. */
  readonly scale: number;
  readonly #ownsX: boolean;
  /** The mini-batch views, one per batch size (see {@link LinearProblem.batch}). */
  readonly #batches = new Map<string, LinearProblem>();
  #batchCalls = 0;

  /** @internal use {@link linearProblem}. */
  constructor(core: Core, X: Matrix, ownsX: boolean, y: Float64Array, lik: Likelihood, priorVariance: number, reduction: 'mean' | 'sum', bias: boolean) {
    const N = X.rows,
      d = X.cols,
      M = lik.outputs,
      D = M * d;
    const ptrs = allocBlocks(core, [8 * N, 8 * D, 8 * N * M, 8 * N * M, 8 * N * M * M, 8 * D, 8 * N * M]);
    super(core, ptrs);
    core.f64(ptrs[0]!, N).set(y);
    this.X = X;
    this.#ownsX = ownsX;
    this.y = y;
    this.likelihood = lik;
    this.priorVariance = priorVariance;
    this.reduction = reduction;
    this.bias = bias;
    this.N = N;
    this.inputs = d;
    this.outputs = M;
    this.dim = D;
    this.scale = reduction === 'mean' ? 1 / N : 1;
    this.model = linear({ inputs: bias ? d - 1 : d, outputs: M, bias, core });
  }

  // Workspace layout: 0 y (N) · 1 θ (D) · 2 f (N·M) · 3 r (N·M) · 4 B (N·M·M) · 5 vec (D) · 6 u (N·M)
  get #py() {
    return this.ptr(0);
  }
  get #ptheta() {
    return this.ptr(1);
  }
  get #pf() {
    return this.ptr(2);
  }
  get #pr() {
    return this.ptr(3);
  }
  get #pb() {
    return this.ptr(4);
  }
  get #pvec() {
    return this.ptr(5);
  }
  get #pu() {
    return this.ptr(6);
  }

  /** The prior curvature s/σp² (the Hessian adds s/σp² · I); 0 without a prior. */
  priorCurvature(): number {
    return this.priorVariance === Infinity ? 0 : this.scale / this.priorVariance;
  }

  /** f = X Wᵀ for θ written at `ptheta` into `out` (N × M). */
  #forward(ptheta: number, out: number): void {
    this.X.linearForward(this.outputs, ptheta, out);
  }

  /** g += alpha · Σ_n J_nᵀ R_n (R at `pr`, N × M) into `pg` (D). */
  #backward(pr: number, alpha: number, pg: number): void {
    this.X.linearBackward(this.outputs, pr, alpha, pg);
  }

  /**
   * Validate θ, copy it in, run the model and the likelihood; returns Σ_n ℓ_n. Λ goes to B when
   * wanted. A non-finite Σ_n ℓ_n throws {@link NonFiniteLossError} (r, Λ and everything built
   * from them would be Inf/NaN), except +Infinity when `allowInfinite` (the loss alone).
   */
  #evaluate(theta: VectorInput, wantLambda: boolean, name = 'theta', allowInfinite = false): { sumLoss: number; th: Float64Array } {
    const th = toVector(theta, this.dim, name);
    this.core.f64(this.#ptheta, this.dim).set(th);
    this.#forward(this.#ptheta, this.#pf);
    const sumLoss = evaluate(this.core, this.likelihood, this.N, this.#pf, this.#py, this.#pr, wantLambda ? this.#pb : 0);
    if (!Number.isFinite(sumLoss) && !(allowInfinite && sumLoss === Infinity)) throw this.#nonFinite(sumLoss);
    return { sumLoss, th };
  }

  /** The error for a non-finite loss at the last evaluated θ, naming the first bad sample. */
  #nonFinite(sumLoss: number): NonFiniteLossError {
    const { N, outputs: M } = this;
    return nonFiniteLoss(sumLoss, this.core.f64(this.#pf, N * M), this.core.f64(this.#pr, N * M), M, this.likelihood, 'f = Xθ');
  }

  /**
   * L(θ) = s · (Σ_n ℓ_n(θ) + ‖θ‖²/(2σp²)). +Infinity where the loss overflows (Poisson:
   * exp(f) for f > 709.78); the gradient and curvature builders throw {@link NonFiniteLossError} there.
   * @param theta length D, finite
   * @throws RangeError for a wrong length or non-finite θ; NonFiniteLossError when the loss is NaN
   */
  loss(theta: VectorInput): number {
    const { sumLoss, th } = this.#evaluate(theta, false, 'theta', true);
    return this.scale * (sumLoss + priorTerm(th, this.priorVariance));
  }

  /** ∇L(θ) = s · (Σ_n J_nᵀ r_n + θ/σp²) (length D). */
  gradient(theta: VectorInput): Float64Array {
    return this.lossAndGradient(theta).gradient;
  }

  /** L(θ) and ∇L(θ) from one pass of the model. */
  lossAndGradient(theta: VectorInput): { loss: number; gradient: Float64Array } {
    const { sumLoss, th } = this.#evaluate(theta, false);
    const pg = this.#pvec,
      D = this.dim;
    this.core.f64(pg, D).fill(0);
    this.#backward(this.#pr, this.scale, pg);
    const g = this.core.f64(pg, D).slice();
    const pc = this.priorCurvature();
    if (pc) for (let i = 0; i < D; i++) g[i]! += pc * th[i]!;
    const loss = this.scale * (sumLoss + priorTerm(th, this.priorVariance));
    const bad = firstNonFinite(g);
    if (bad >= 0) {
      throw new NonFiniteLossError(`natgrad: the gradient overflows at this θ (entry ${bad} is ${g[bad]}, the loss is ${loss}); the iteration diverged — reduce the step size or add damping`, loss);
    }
    return { loss, gradient: g };
  }

  /**
   * Per-sample gradients g_n = ∇_θ ℓ_n(θ) = J_nᵀ r_n = r_n ⊗ x_n, as the rows of an N × D
   * matrix (no reduction factor, no prior); with `{ resident: true }` a {@link Matrix} in
   * WebAssembly memory (`free()` it).
   */
  perSampleGradients(theta: VectorInput, options?: { resident?: false }): DenseMatrix;
  perSampleGradients(theta: VectorInput, options: { resident: true }): Matrix;
  perSampleGradients(theta: VectorInput, options: { resident?: boolean } = {}): DenseMatrix | Matrix {
    const { resident } = perSampleOptions(options);
    this.#evaluate(theta, false);
    if (!resident) return this.#perSample();
    if (this.X.format !== 'dense') return Matrix.from(this.#perSample(), 'per-sample gradients', this.core);
    const { N, outputs: M, inputs: d, dim: D, core } = this;
    const p = core.alloc(8 * N * D);
    core.exports.linearPerSample(N, M, d, this.X.dataPtr(), d, this.#pr, p);
    return Matrix.adopt(core, N, D, p);
  }

  #perSample(): DenseMatrix {
    const N = this.N,
      M = this.outputs,
      d = this.inputs,
      D = this.dim;
    const data = new Float64Array(N * D);
    if (this.X.format === 'dense') {
      const p = this.core.alloc(8 * N * D);
      try {
        this.core.exports.linearPerSample(N, M, d, this.X.dataPtr(), d, this.#pr, p);
        data.set(this.core.f64(p, N * D));
      } finally {
        this.core.free(p);
      }
    } else {
      const [ip, ix, iv] = this.X.csrPtrs();
      const indptr = this.core.i32(ip, N + 1),
        indices = this.core.i32(ix, this.X.nnz),
        values = this.core.f64(iv, this.X.nnz);
      const r = this.core.f64(this.#pr, N * M);
      for (let n = 0; n < N; n++)
        for (let k = 0; k < M; k++) {
          const rk = r[n * M + k]!;
          for (let p = indptr[n]!; p < indptr[n + 1]!; p++) data[n * D + k * d + indices[p]!] = rk * values[p]!;
        }
    }
    return { data, rows: N, cols: D };
  }

  /** Fill B (N × M × M, or N when M = 1) for the chosen curvature at the last evaluated θ. */
  #fillB(kind: BKind, mc?: { samples: number; seed: number }): void {
    const N = this.N,
      M = this.outputs,
      core = this.core;
    if (kind === 'fisher') return; // Λ was written by #evaluate
    const pb = this.#pb;
    core.f64(pb, N * M * M).fill(0);
    if (kind === 'ef') {
      core.exports.residualOuter(N, M, this.#pr, 1, pb);
      return;
    }
    const { samples, seed } = mc!;
    const g = xoshiro(seed);
    const f = core.f64(this.#pf, N * M).slice();
    const rt = new Float64Array(M),
      p = new Float64Array(M),
      B = new Float64Array(N * M * M);
    const w = 1 / samples;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < samples; s++) {
        sampleResidual(this.likelihood, f, n * M, g, rt, 0, p);
        for (let a = 0; a < M; a++) for (let b = 0; b < M; b++) B[(n * M + a) * M + b]! += w * rt[a]! * rt[b]!;
      }
    }
    core.f64(pb, N * M * M).set(B);
  }

  /** Σ_n J_nᵀ B_n J_n (no scale) as a SymMatrix, lower triangle accumulated then mirrored. */
  #denseFromB(): SymMatrix {
    const { core, outputs: M, inputs: d, dim: D } = this;
    const k = core.exports;
    const c = core.alloc(8 * D * D);
    try {
      core.f64(c, D * D).fill(0);
      this.X.blockSyrkLower(M, this.#pb, c, D);
      // An off-diagonal block Σ B_n[a][b] x_n x_nᵀ is itself symmetric: complete its upper part.
      for (let a = 1; a < M; a++) for (let b = 0; b < a; b++) k.dsymMirrorLower(d, c + 8 * (a * d * D + b * d), D);
      k.dsymMirrorLower(D, c, D);
    } catch (e) {
      core.free(c);
      throw e;
    }
    return new SymMatrix(core, D, c);
  }

  #build<S extends Structure>(kind: BKind, theta: VectorInput, options: CurvatureOptions<S> | undefined, prior: number, mc?: { samples: number; seed: number }): LinearCurvatureResult<S> {
    const structure = (options?.structure ?? 'dense') as Structure;
    if (!['dense', 'diagonal', 'block', 'kfac'].includes(structure)) {
      throw new RangeError(`natgrad: structure must be 'dense', 'diagonal', 'block' or 'kfac', got ${String(structure)}`);
    }
    if (structure === 'kfac' && prior !== 0) {
      throw new RangeError("natgrad: the 'kfac' structure has no exact place for the prior; use fisher() (data term) or another structure");
    }
    if (structure === 'dense') checkSquare(this.dim, 'a dense curvature of D parameters');
    this.#evaluate(theta, kind === 'fisher');
    this.#fillB(kind, mc);
    const { core, N, outputs: M, inputs: d, dim: D, scale: s } = this;
    const k = core.exports;
    switch (structure) {
      case 'dense': {
        const C = this.#denseFromB();
        const p = C.dataPtr();
        k.dscal(D * D, s, p);
        if (prior) for (let i = 0; i < D; i++) core.f64(p, D * D)[i * D + i]! += prior;
        return C as LinearCurvatureResult<S>;
      }
      case 'diagonal': {
        const p = core.alloc(8 * D);
        try {
          core.f64(p, D).fill(0);
          for (let a = 0; a < M; a++) {
            const pw = this.#pb + 8 * (a * M + a);
            this.X.syrkDiag(pw, M * M, p + 8 * a * d);
          }
          const out = core.f64(p, D).slice();
          for (let i = 0; i < D; i++) out[i] = s * out[i]! + prior;
          return out as LinearCurvatureResult<S>;
        } finally {
          core.free(p);
        }
      }
      case 'block': {
        const blocks: SymMatrix[] = [];
        try {
          for (let a = 0; a < M; a++) {
            const c = core.alloc(8 * d * d);
            const C = new SymMatrix(core, d, c);
            blocks.push(C);
            core.f64(c, d * d).fill(0);
            const pw = this.#pb + 8 * (a * M + a);
            this.X.syrkLower(pw, M * M, c, d);
            k.dsymMirrorLower(d, c, d);
            k.dscal(d * d, s, c);
            if (prior) {
              const v = core.f64(c, d * d);
              for (let i = 0; i < d; i++) v[i * d + i]! += prior;
            }
          }
        } catch (e) {
          for (const b of blocks) b.free();
          throw e;
        }
        return blocks as LinearCurvatureResult<S>;
      }
      case 'kfac': {
        const B = core.f64(this.#pb, N * M * M);
        const G = new Float64Array(M * M);
        for (let n = 0; n < N; n++) for (let i = 0; i < M * M; i++) G[i]! += B[n * M * M + i]!;
        for (let i = 0; i < M * M; i++) G[i]! *= s;
        const Gm = SymMatrix.from({ data: G, rows: M, cols: M }, core);
        const pa = core.alloc(8 * d * d);
        const A = new SymMatrix(core, d, pa);
        core.f64(pa, d * d).fill(0);
        this.X.syrkLower(0, 1, pa, d);
        k.dsymMirrorLower(d, pa, d);
        k.dscal(d * d, 1 / N, pa);
        const layer = { A, G: Gm };
        return Object.assign([layer], layer) as LinearCurvatureResult<S>;
      }
    }
    throw new RangeError('unreachable');
  }

  /**
   * Fisher information F(θ) = s · Σ_n J_nᵀ Λ_n J_n (data term only; for the paper's mean
   * reduction F = (1/N) Σ_n J_nᵀ Λ_n J_n, Eq. 2/12). Symmetric PSD, D × D.
   * @example
   * const F = problem.fisher(theta);                            // SymMatrix
   * const f = problem.fisher(theta, { structure: 'diagonal' }); // Float64Array
   */
  fisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): LinearCurvatureResult<S> {
    return this.#build('fisher', theta, curvatureOptions(options, 'fisher'), 0);
  }

  /** Generalized Gauss-Newton s · Σ_n J_nᵀ Λ_n J_n; equals {@link fisher} for these models (Prop. 1). */
  ggn<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): LinearCurvatureResult<S> {
    return this.#build('fisher', theta, curvatureOptions(options, 'ggn'), 0);
  }

  /**
   * Hessian ∇²L(θ) = s · (Σ_n J_nᵀ Λ_n J_n + I/σp²): the GGN plus the prior curvature
   * (the residual term Σ r_nm ∇²f_nm vanishes for a linear model). Symmetric PSD.
   */
  hessian<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): LinearCurvatureResult<S> {
    return this.#build('fisher', theta, curvatureOptions(options, 'hessian'), this.priorCurvature());
  }

  /**
   * Monte-Carlo Fisher s · Σ_n (1/S) Σ_s ĝ_ns ĝ_nsᵀ with ĝ_ns = J_nᵀ r(ỹ_ns), ỹ_ns ~ p(y | f_n)
   * (xoshiro256** with the given seed; same seed, same matrix). Unbiased for {@link fisher};
   * symmetric PSD, rank ≤ N·S.
   */
  fisherMC<S extends Structure = 'dense'>(theta: VectorInput, options: MonteCarloOptions<S> = {}): LinearCurvatureResult<S> {
    curvatureOptions(options, 'fisherMC', true);
    const samples = options.samples ?? 1;
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`natgrad: samples must be an integer ≥ 1, got ${samples}`);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: seed must be a safe integer, got ${seed}`);
    return this.#build('mc', theta, options, 0, { samples, seed });
  }

  /**
   * Empirical Fisher F̃(θ) = s · Σ_n g_n g_nᵀ with g_n = J_nᵀ r_n (data term only; for the mean
   * reduction F̃ = (1/N) Σ_n g_n g_nᵀ, Eq. 3/7). Symmetric PSD, rank ≤ N.
   */
  empiricalFisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): LinearCurvatureResult<S> {
    return this.#build('ef', theta, curvatureOptions(options, 'empiricalFisher'), 0);
  }

  /**
   * Gradient covariance Σ̂(θ) = s · Σ_n (g_n − ḡ)(g_n − ḡ)ᵀ with ḡ = (1/N) Σ_n g_n, so that
   * F̃ = Σ̂ + s·N·ḡḡᵀ (Eq. 18; = Σ̂ + ḡḡᵀ for the mean reduction). Computed from the centred
   * per-sample gradients (no cancellation). Symmetric PSD, dense D × D.
   */
  gradientCovariance(theta: VectorInput): SymMatrix {
    checkSquare(this.dim, 'the gradient covariance');
    this.#evaluate(theta, false);
    const G = this.#perSample();
    const { N, dim: D, core } = this;
    const mean = this.#meanGradient();
    for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) G.data[n * D + j]! -= mean[j]!;
    const pg = core.allocCopy(G.data);
    const c = core.alloc(8 * D * D);
    try {
      core.f64(c, D * D).fill(0);
      core.exports.dsyrkLower(N, D, pg, D, 0, 1, c, D);
      core.exports.dsymMirrorLower(D, c, D);
      core.exports.dscal(D * D, this.scale, c);
    } catch (e) {
      core.free(c);
      throw e;
    } finally {
      core.free(pg);
    }
    return new SymMatrix(core, D, c);
  }

  /** ḡ = (1/N) Σ_n g_n at the last evaluated θ. */
  #meanGradient(): Float64Array {
    const pg = this.#pvec;
    this.core.f64(pg, this.dim).fill(0);
    this.#backward(this.#pr, 1 / this.N, pg);
    return this.core.f64(pg, this.dim).slice();
  }

  /**
   * Variance adaptation (Eq. 19): M = F̄⁻¹ ḡ ḡᵀ with the mean-reduction empirical Fisher
   * F̄ = (1/N) Σ g_n g_nᵀ (+ λI) and ḡ = (1/N) Σ g_n, whatever the problem's reduction.
   * Returns M (D × D, not symmetric) and the direction M ḡ = ‖ḡ‖² F̄⁻¹ ḡ.
   * @throws NotPositiveDefiniteError when F̄ + λI is singular (use `damping`).
   */
  varianceAdaptation(theta: VectorInput, options: { damping?: number } = {}): { matrix: DenseMatrix; direction: Float64Array } {
    const damping = checkScalar(varianceAdaptationOptions(options).damping ?? 0, 'damping', 'nonnegative');
    const F = this.empiricalFisher(theta);
    try {
      if (this.reduction === 'sum') this.core.exports.dscal(this.dim * this.dim, 1 / this.N, F.dataPtr());
      return varianceAdaptationFrom(F, this.#meanGradient(), damping);
    } finally {
      F.free();
    }
  }

  /**
   * Fisher-vector product F(θ) v = s · Σ_n J_nᵀ Λ_n J_n v without forming F: one pass for
   * f = Xθ and u = J v, one pass for the adjoint. Length D.
   */
  fisherVectorProduct(theta: VectorInput, v: VectorInput): Float64Array {
    return this.#curvatureVector(theta, v, 0);
  }

  /** Hessian-vector product ∇²L(θ) v = F(θ) v + (s/σp²) v, matrix-free (see {@link fisherVectorProduct}). */
  hessianVectorProduct(theta: VectorInput, v: VectorInput): Float64Array {
    return this.#curvatureVector(theta, v, this.priorCurvature());
  }

  /** Alias of {@link LinearProblem.fisherVectorProduct} (GGN = Fisher, Prop. 1). */
  ggnVectorProduct(theta: VectorInput, v: VectorInput): Float64Array {
    return this.#curvatureVector(theta, v, 0);
  }

  #curvatureVector(theta: VectorInput, v: VectorInput, prior: number): Float64Array {
    const vec = toVector(v, this.dim, 'v');
    this.#evaluate(theta, true);
    const { core, N, outputs: M, dim: D } = this;
    core.f64(this.#pvec, D).set(vec);
    this.#forward(this.#pvec, this.#pu); // u_n = J_n v
    const u = core.f64(this.#pu, N * M),
      B = core.f64(this.#pb, N * M * M),
      w = core.f64(this.#pr, N * M);
    for (let n = 0; n < N; n++) {
      for (let a = 0; a < M; a++) {
        let s = 0;
        for (let b = 0; b < M; b++) s += B[(n * M + a) * M + b]! * u[n * M + b]!;
        w[n * M + a] = s;
      }
    }
    core.f64(this.#pvec, D).fill(0);
    this.#backward(this.#pr, this.scale, this.#pvec);
    const out = core.f64(this.#pvec, D).slice();
    if (prior) for (let i = 0; i < D; i++) out[i]! += prior * vec[i]!;
    return out;
  }

  /**
   * @internal s · Jᵀ B(J v) at θ for an output-space map B (the operators' EF and MC products):
   * u = J v = V x_n (N × M), w = B(u, f, r) (N × M), returns s · Σ_n w_n ⊗ x_n (length D). Two
   * passes over X; memory O(N·M + D).
   */
  outputSpaceProduct(theta: VectorInput, v: Float64Array, B: OutputSpaceMap): Float64Array {
    const vec = toVector(v, this.dim, 'v');
    this.#evaluate(theta, false);
    const { core, N, outputs: M, dim: D } = this;
    core.f64(this.#pvec, D).set(vec);
    this.#forward(this.#pvec, this.#pu);
    const w = B(core.f64(this.#pu, N * M).slice(), core.f64(this.#pf, N * M).slice(), core.f64(this.#pr, N * M).slice());
    if (w.length !== N * M) throw new RangeError(`natgrad: outputSpaceProduct: B returned ${w.length} entries, expected N·M = ${N * M}`);
    core.f64(this.#pu, N * M).set(w);
    core.f64(this.#pvec, D).fill(0);
    this.#backward(this.#pu, this.scale, this.#pvec);
    return core.f64(this.#pvec, D).slice();
  }

  /** The curvature at θ as a matrix-free operator: see {@link curvatureOperator}. */
  curvatureOperator(theta: VectorInput, options?: CurvatureOperatorOptions): CurvatureOperator {
    return curvatureOperator(this, theta, options);
  }

  /**
   * The same problem with another prior: a new LinearProblem on this one's inputs, targets,
   * likelihood, bias and reduction, with prior variance `variance`, so that its loss is
   * L(θ) = s · (Σ_n ℓ_n + ‖θ‖²/(2v)) with s = 1/N (`'mean'`) or 1 (`'sum'`) — bit for bit the
   * problem {@link linearProblem} builds from the same options with `priorVariance: v`. Nothing is
   * re-validated and X is not copied: the new problem reads this one's resident inputs (its
   * targets and per-sample workspaces are its own), so free it before this one — after that, a
   * call on it throws a DisposedError. On a batch view it shares the view's rows, which the
   * view's reuse overwrites. The caller frees the new problem.
   * @param variance v > 0, or Infinity for no prior
   * @throws TypeError for a non-number; RangeError for v ≤ 0 or NaN
   * @example
   * const q = p.withPriorVariance(0.1); // δ = 1/v = 10: q.loss(θ) = p.loss(θ) + s·(10 − 1/σp²)·‖θ‖²/2
   * q.free();                           // before p.free()
   */
  withPriorVariance(variance: number): LinearProblem {
    this.alive();
    if (typeof variance !== 'number') throw new TypeError(`natgrad: withPriorVariance: the prior variance must be a number, got ${typeof variance}`);
    if (!(variance > 0)) throw new RangeError(`natgrad: withPriorVariance: the prior variance must be > 0 (Infinity for no prior), got ${variance}`);
    return new LinearProblem(this.core, this.X, false, this.y, this.likelihood, variance, this.reduction, this.bias);
  }

  /** Free the workspaces (and the inputs, when the problem copied them). */
  /**
   * A mini-batch view: the problem on the rows `indices` of this one (repeats allowed), with the
   * prior variance σp²·N/B, so that its loss (1/B) Σ_batch ℓ_n + ‖θ‖²/(2Nσp²) is an unbiased
   * estimate of L(θ) under uniform sampling. Exactly the rows 0..N−1 in order give this problem
   * itself. The view is owned by this problem and reused: two views per batch size, used in turn,
   * each overwritten two `batch` calls later (the previous view stays valid while the next batch
   * is loaded). With dense X nothing is allocated after the first two batches of each size; with
   * CSR X the view's inputs are rebuilt per call (their nnz varies).
   * Freeing this problem frees its views.
   * @throws TypeError / RangeError for indices that are not row numbers in [0, N), an empty batch,
   *   or a `'sum'` problem with a batch of other rows
   * @example
   * const b = p.batch([0, 5, 7]); // 3 rows; b.loss(θ) estimates p.loss(θ)
   */
  batch(indices: ArrayLike<number>): Problem<'float64'> {
    this.alive();
    const idx = batchRows(indices, this.N, this.reduction);
    if (idx === null) return this;
    const B = idx.length,
      d = this.inputs,
      core = this.core;
    // Two views per size, alternating: the previous view stays valid while the next is loaded.
    const slot = `${B}:${this.#batchCalls++ & 1}`;
    let view = this.#batches.get(slot);
    if (view && !view.freed && this.X.format === 'csr') {
      view.free();
      view = undefined;
    }
    if (!view || view.freed) {
      const pv = this.priorVariance === Infinity ? Infinity : this.priorVariance * (this.N / B);
      let X: Matrix;
      if (this.X.format === 'dense') X = Matrix.from({ data: new Float64Array(B * d), rows: B, cols: d }, 'X', core);
      else {
        const [pi, px, pv2] = this.X.csrPtrs();
        const ip = core.i32(pi, this.N + 1);
        const indptr = new Int32Array(B + 1);
        for (let r = 0; r < B; r++) indptr[r + 1] = indptr[r]! + ip[idx[r]! + 1]! - ip[idx[r]!]!;
        const indices = new Int32Array(indptr[B]!),
          values = new Float64Array(indptr[B]!);
        const ix = core.i32(px, this.X.nnz),
          vv = core.f64(pv2, this.X.nnz);
        for (let r = 0; r < B; r++) {
          const a = ip[idx[r]!]!,
            b = ip[idx[r]! + 1]!;
          indices.set(ix.subarray(a, b), indptr[r]!);
          values.set(vv.subarray(a, b), indptr[r]!);
        }
        X = Matrix.from({ rows: B, cols: d, indptr, indices, values }, 'X', core);
      }
      try {
        view = new LinearProblem(core, X, true, new Float64Array(B), this.likelihood, pv, this.reduction, this.bias);
      } catch (e) {
        X.free();
        throw e;
      }
      this.#batches.set(slot, view);
    }
    if (this.X.format === 'dense') {
      const src = core.f64(this.X.dataPtr(), this.N * d),
        dst = core.f64(view.X.dataPtr(), B * d);
      for (let r = 0; r < B; r++) dst.set(src.subarray(idx[r]! * d, (idx[r]! + 1) * d), r * d);
    }
    for (let r = 0; r < B; r++) view.y[r] = this.y[idx[r]!]!;
    core.f64(view.ptr(0), B).set(view.y);
    return view;
  }

  override free(): void {
    for (const v of this.#batches.values()) if (!v.freed) v.free();
    this.#batches.clear();
    super.free();
    if (this.#ownsX) this.X.free();
  }
}

/** Validate X and append a ones column (last) — dense stays dense, CSR stays CSR. */
function appendOnes(X: MatrixInput | Matrix): MatrixInput {
  const src: MatrixInput = X instanceof Matrix ? (X.toCsr() ?? X.toDense()) : X;
  const m = toMatrix(src, 'X');
  return m.csr ? addBias(m.csr) : addBias(m.dense);
}

/**
 * A linear model f_n = W x_n with the given likelihood, and every curvature matrix of its
 * objective. With x_n ∈ R^d (a ones column appended last when `bias: true`), M the likelihood's
 * outputs, θ = vec(W) class-major (θ[m·d + j] = W[m][j], D = M·d), ℓ_n = −log p(y_n | f_n),
 * r_n = ∂ℓ_n/∂f_n, Λ_n = ∂²ℓ_n/∂f_n², J_n = I_M ⊗ x_nᵀ, g_n = J_nᵀ r_n = r_n ⊗ x_n and s = 1/N
 * (`'mean'`, the paper's code, default) or 1 (`'sum'`, Eq. 1):
 *
 *     L(θ) = s · ( Σ_n ℓ_n(θ) + ‖θ‖² / (2σp²) )          σp² = priorVariance (∞: no prior)
 *
 * Every curvature is symmetric, D × D, and of the form s · Σ_n J_nᵀ B_n J_n (+ prior):
 *
 * | method                 | B_n                                         | PSD | prior s/σp² on the diagonal |
 * |------------------------|---------------------------------------------|-----|-----------------------------|
 * | `fisher`, `ggn`        | Λ_n                                         | yes | no                          |
 * | `hessian`              | Λ_n (∇²f = 0 for a linear model)            | yes | yes                         |
 * | `fisherMC`             | (1/S) Σ_s r(ỹ_ns) r(ỹ_ns)ᵀ, ỹ_ns ~ p(y \| f_n) | yes | no                        |
 * | `empiricalFisher`      | r_n r_nᵀ                                    | yes | no                          |
 *
 * For exponential families with natural parameter f, GGN = Fisher exactly (Prop. 1), and for the
 * linear model Hessian = GGN + prior. Structures: `'dense'` (SymMatrix D × D), `'diagonal'` (the
 * exact diagonal), `'block'` (M SymMatrix d × d, block k = s·Σ_n B_n[k][k] x_n x_nᵀ), `'kfac'`
 * (F ≈ G ⊗ A with A = (1/N) Σ_n x_n x_nᵀ, G = s·Σ_n B_n; exact when B_n is the same for all n).
 *
 * X is validated and copied into WebAssembly memory once (a resident
 * {@link Matrix} is used as is unless `bias` requires a copy).
 *
 * @throws TypeError / RangeError for bad shapes, non-finite values, labels outside the
 *   likelihood's support, N = 0 or d = 0, priorVariance ≤ 0, an unknown reduction.
 * @example
 * const p = linearProblem({ X, y, likelihood: bernoulli() });
 * const theta = new Float64Array(p.dim);
 * p.loss(theta);             // log 2 ≈ 0.6931 (mean reduction)
 * const F = p.fisher(theta); // (1/N) Σ s(1−s) x xᵀ = XᵀX / (4N)
 *
 * @category Problems
 */
export function linearProblem(options: LinearProblemOptions): LinearProblem {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: linearProblem expects an options object');
  checkOptions(options, 'linearProblem', ['X', 'y', 'likelihood', 'priorVariance', 'reduction', 'bias'], {
    model: 'linearProblem is the linear model; for another model use problem({ model, X, y, likelihood })',
    lr: 'lr is an optimizer option: gd(p, { lr })',
    structure: "structure is an option of the curvature builders: p.fisher(θ, { structure: 'diagonal' })",
    classes: 'classes belongs to the likelihood: categorical({ classes })',
  });
  const lik = checkLikelihood(options.likelihood);
  checkLabelTypes(lik, options.y, 'linearProblem');
  if (lik.outputs !== 1 && lik.name === 'gaussian') {
    throw new RangeError(`natgrad: linearProblem takes a one-output Gaussian; for ${lik.outputs} outputs use problem({ model: linear({ inputs, outputs: ${lik.outputs} }), ... })`);
  }
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') throw new RangeError(`natgrad: reduction must be 'mean' or 'sum', got ${String(reduction)}`);
  const priorVariance = options.priorVariance ?? Infinity;
  if (typeof priorVariance !== 'number' || !(priorVariance > 0)) {
    throw new RangeError(`natgrad: priorVariance must be > 0 (Infinity for no prior), got ${String(priorVariance)}`);
  }
  const bias = options.bias ?? false;
  if (typeof bias !== 'boolean') throw new TypeError('natgrad: bias must be a boolean');
  const core = options.X instanceof Matrix ? options.X.core : defaultCore();
  const input = bias ? appendOnes(options.X) : options.X;
  const ownsX = !(input instanceof Matrix);
  const X = Matrix.from(input, 'X', core);
  try {
    if (X.rows === 0) throw new RangeError('natgrad: X has no rows (empty data)');
    if (X.cols === 0) throw new RangeError('natgrad: X has no columns');
    const y = toVector(options.y, X.rows, 'y');
    const yCopy = y === options.y ? y.slice() : y;
    checkLabels(lik, yCopy);
    if (lik.outputs * X.cols > 46340) throw new RangeError(`natgrad: D = ${lik.outputs * X.cols} parameters: a dense D × D curvature would not fit in WebAssembly memory`);
    return new LinearProblem(core, X, ownsX, yCopy, lik, priorVariance, reduction, bias);
  } catch (e) {
    if (ownsX) X.free();
    throw e;
  }
}
