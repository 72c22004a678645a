/**
 * The surface every problem has — {@link LinearProblem} and the model problems of {@link problem}
 * alike — and the types of its curvature results. The optimizers, the grid search and the
 * curvature-vector products take any {@link Problem}.
 *
 * Every curvature is s · Σ_n J_nᵀ B_n J_n (+ the residual term and the prior for the Hessian),
 * symmetric, D × D, with s = 1/N (`'mean'`) or 1 (`'sum'`):
 *
 * | method              | B_n                                          | + s Σ r_nm ∇²f_nm | + s/σp² I |
 * |---------------------|----------------------------------------------|-------------------|-----------|
 * | `fisher`, `ggn`     | Λ_n = ∂²ℓ_n/∂f_n²                            | no                | no        |
 * | `hessian`           | Λ_n                                          | yes               | yes       |
 * | `fisherMC`          | (1/S) Σ_s r(ỹ_ns) r(ỹ_ns)ᵀ, ỹ_ns ~ p(y|f_n)  | no                | no        |
 * | `empiricalFisher`   | r_n r_nᵀ                                     | no                | no        |
 *
 * @module
 */
import type { DenseMatrixOf, Dtype, FloatArray, VectorInput } from '../core/types.js';
import type { Likelihood } from '../likelihoods/likelihood.js';
import type { Matrix } from '../linalg/matrix.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
import type { KfacFactorOptions, LayerExactBlock, LayerKfac, Model } from '../models/model.js';

/**
 * How a curvature matrix is returned: `'dense'` (SymMatrix D × D), `'diagonal'` (the exact
 * diagonal, length D — a Float64Array, or a Float32Array for a float32 problem — never forming D × D), `'block'` (one SymMatrix per parameter group — the
 * layers — its exact diagonal block, in θ order; the linear model of {@link linearProblem} has one
 * block per output class instead, as before), `'kfac'` (Kronecker factors, see {@link KfacFactors}).
 *
 * @category Curvature
 */
export type Structure = 'dense' | 'diagonal' | 'block' | 'kfac';

/**
 * Kronecker factors of one layer: C_l ≈ G ⊗ A in the layer's own order [W | b] row-major
 * (θ index offset + o·(in+1) + i ↔ (o, i), the bias as the last input coordinate i = in), i.e.
 * C[(o,i),(o',i')] ≈ G[o][o']·A[i][i']. A = (1/N) Σ_n ā_n ā_nᵀ with ā_n = [a_n; 1] (no 1 when
 * the layer has no bias), G = s · Σ_n (∂f_n/∂z)ᵀ B_n (∂f_n/∂z). Note: θ stores W (out × in) then b
 * (PyTorch's order), so θ's layer slice is a permutation of [W | b]: W[o][i] at offset + o·in + i,
 * b[o] at offset + out·in + o. Exact for a one-layer model whose B_n does not vary with n.
 *
 * @category Curvature
 */
export interface KfacFactors extends LayerKfac {
  /** Input factor (1/N) Σ_n ā_n ā_nᵀ. */
  readonly A: SymMatrix;
  /** Output factor s · Σ_n (∂f_n/∂z)ᵀ B_n (∂f_n/∂z). */
  readonly G: SymMatrix;
}

/**
 * One parameter group's entry of a `'kfac'` result: Kronecker factors ({@link KfacFactors}:
 * dense layers, and for {@link sequential} networks also convolutions, with
 * `kfacApproximation` and `bias` as asked) or, for a layer without a Kronecker form (batch and
 * layer norm), its exact block `{ exact }` of the same curvature.
 *
 * @category Curvature
 */
export type KfacLayer = KfacFactors | LayerExactBlock;

/**
 * The result type for a given structure; `'kfac'` gives one {@link KfacFactors} per layer (`Kf`
 * narrows it: {@link LinearProblem}'s one-layer array also carries that layer's `A` and `G`). `T`
 * is the problem's element type: the diagonal of a float32 problem is a `Float32Array`, and its
 * matrices say `dtype: 'float32'` ({@link SymMatrix.dtype}).
 *
 * @category Curvature
 */
export type CurvatureResult<S extends Structure, Kf extends KfacLayer[] = KfacLayer[], T extends Dtype = 'float64'> = S extends 'diagonal'
  ? FloatArray<T>
  : S extends 'block'
    ? SymMatrix[]
    : S extends 'kfac'
      ? Kf
      : SymMatrix;

/**
 * {@link LinearProblem}'s `'kfac'` result: its one layer's factors, as an array of one that is also `{ A, G }`.
 *
 * @category Curvature
 */
export type LinearKfac = KfacFactors[] & KfacFactors;

/**
 * Options of the curvature builders.
 *
 * @category Curvature
 */
export interface CurvatureOptions<S extends Structure = 'dense'> extends KfacFactorOptions {
  structure?: S;
}

/**
 * Options of `fisherMC`.
 *
 * @category Curvature
 */
export interface MonteCarloOptions<S extends Structure = 'dense'> extends CurvatureOptions<S> {
  /** S ≥ 1 sampled labels per data point (default 1). */
  samples?: number;
  /** Seed of the xoshiro256** generator (default 0). */
  seed?: number;
}

/**
 * Every problem's surface — {@link LinearProblem} and the model problems of {@link problem} alike.
 * The optimizers, the grid search and the curvature-vector products take any Problem.
 *
 * With the reduction factor s = 1/N (`'mean'`) or 1 (`'sum'`), σp² the prior variance,
 * ℓ_n = −log p(y_n | f_n), r_n = ∂ℓ_n/∂f_n, Λ_n = ∂²ℓ_n/∂f_n² and J_n = ∂f_n/∂θ,
 * L(θ) = s · (Σ_n ℓ_n + ‖θ‖²/(2σp²)) and every curvature is s · Σ_n J_nᵀ B_n J_n (+ the residual
 * term and the prior for the Hessian), symmetric, D × D:
 *
 * | method              | B_n                                          | + s Σ r_nm ∇²f_nm | + s/σp² I |
 * |---------------------|----------------------------------------------|-------------------|-----------|
 * | `fisher`, `ggn`     | Λ_n = ∂²ℓ_n/∂f_n²                            | no                | no        |
 * | `hessian`           | Λ_n                                          | yes               | yes       |
 * | `fisherMC`          | (1/S) Σ_s r(ỹ_ns) r(ỹ_ns)ᵀ, ỹ_ns ~ p(y \| f_n) | no               | no        |
 * | `empiricalFisher`   | r_n r_nᵀ                                     | no                | no        |
 *
 * Each returns the structure asked for ({@link Structure}): dense, diagonal, per-group blocks or
 * Kronecker factors.
 *
 * `T` is the element type the model computes in ({@link Problem.dtype}). A float32 problem returns
 * its D- and N-sized results as float32 arrays — gradients, products, diagonals (`Float32Array`),
 * per-sample gradient rows ({@link DenseMatrix32}) — and its matrices ({@link SymMatrix}, the
 * blocks and Kronecker factors) hold float32 values and say `dtype: 'float32'`; every result is
 * rounded to float32 once, at the end. {@link problem} infers `T` from the model; `Problem` alone
 * is a float64 problem, and `Problem<Dtype>` one of either type (results typed as the union) —
 * what the optimizers, operators and Laplace take.
 *
 * @category Problems
 */
export interface Problem<T extends Dtype = 'float64'> {
  /** The model (the linear model for {@link linearProblem}). */
  readonly model: Model<T>;
  /**
   * The element type of the model's passes and of the results (`model.dtype`; `'float64'` for the
   * linear model and for a model without one). Optional for user-written problems (absent: float64).
   */
  readonly dtype?: T;
  readonly likelihood: Likelihood;
  readonly priorVariance: number;
  readonly reduction: 'mean' | 'sum';
  /** N, the number of samples. */
  readonly N: number;
  /** M, the dimension of f_n. */
  readonly outputs: number;
  /** D, the number of parameters. */
  readonly dim: number;
  /** The reduction factor s: 1/N for 'mean', 1 for 'sum'. */
  readonly scale: number;
  /** s/σp², the prior's curvature (0 without a prior). */
  priorCurvature(): number;
  /** L(θ) = s·(Σ_n ℓ_n + ‖θ‖²/(2σp²)). */
  loss(theta: VectorInput): number;
  /** ∇L(θ) = s·(Σ_n J_nᵀ r_n + θ/σp²). */
  gradient(theta: VectorInput): FloatArray<T>;
  /** L and ∇L from one forward pass. */
  lossAndGradient(theta: VectorInput): { loss: number; gradient: FloatArray<T> };
  /**
   * g_n = J_nᵀ r_n as the rows of an N × D matrix (no s, no prior); with `{ resident: true }` a
   * {@link Matrix} that stays in WebAssembly memory (no copy out; `free()` it).
   */
  perSampleGradients(theta: VectorInput, options?: { resident?: false }): DenseMatrixOf<T>;
  perSampleGradients(theta: VectorInput, options: { resident: true }): Matrix;
  fisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T>;
  ggn<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T>;
  hessian<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T>;
  fisherMC<S extends Structure = 'dense'>(theta: VectorInput, options?: MonteCarloOptions<S>): CurvatureResult<S, KfacLayer[], T>;
  empiricalFisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T>;
  /** s·Σ_n (g_n − ḡ)(g_n − ḡ)ᵀ, ḡ = (1/N) Σ g_n (Eq. 18). */
  gradientCovariance(theta: VectorInput): SymMatrix;
  /** M = F̄⁻¹ ḡḡᵀ with the mean-reduction EF (Eq. 19) and its direction M ḡ. */
  varianceAdaptation(theta: VectorInput, options?: { damping?: number }): { matrix: DenseMatrixOf<T>; direction: FloatArray<T> };
  /** F(θ) v = s·Σ_n J_nᵀ Λ_n J_n v, matrix-free. */
  fisherVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T>;
  /** Alias of {@link Problem.fisherVectorProduct}. */
  ggnVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T>;
  /** ∇²L(θ) v = GGN v + s·Σ_n Σ_m r_nm ∇²f_nm v + (s/σp²) v, matrix-free (R-operator). */
  hessianVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T>;
  /**
   * A mini-batch view on the rows `indices` (repeats allowed): the same model and likelihood on
   * those rows, prior variance σp²·N/B, so its loss estimates L(θ) without bias. The rows
   * 0..N−1 in order give the problem itself. The view is owned by the problem and reused — two
   * views per size in turn, each overwritten two `batch` calls later — so a training loop
   * allocates nothing per step after the first batches of each size. `'mean'` reduction only (a batch sum does not estimate
   * the full sum). Optional for user-written problems; {@link train} needs it for B < N.
   */
  batch?(indices: ArrayLike<number>): Problem<T>;
  /**
   * The same problem (model, likelihood, data, reduction) with prior variance v > 0 (Infinity: no
   * prior): a new problem whose loss is L(θ) = s · (Σ_n ℓ_n + ‖θ‖²/(2v)), bit for bit the problem
   * rebuilt from the same options with `priorVariance: v`, made without re-validating or copying
   * the inputs (it may read this problem's inputs: free it before this one). The caller frees it.
   * Optional for user-written problems; {@link train}'s `marglik` option needs it.
   */
  withPriorVariance?(variance: number): Problem<T>;
  /** Release WebAssembly memory held by the problem. */
  free(): void;
}
