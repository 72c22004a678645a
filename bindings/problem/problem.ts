/**
 * `problem({ model, X, y, likelihood, priorVariance, reduction })`: a model × a likelihood × data,
 * with every curvature of the objective (the surface of {@link Problem}).
 *
 * Notation: data (x_n, y_n), n = 1..N; f_n = f(θ, x_n) ∈ R^M from the {@link Model}; J_n = ∂f_n/∂θ
 * (M × D); ℓ_n = −log p(y_n | f_n), r_n = ∂ℓ_n/∂f_n, Λ_n = ∂²ℓ_n/∂f_n²; s = 1/N (`'mean'`) or 1
 * (`'sum'`); σp² the prior variance (∞: none).
 *
 *     L(θ)     = s · ( Σ_n ℓ_n + ‖θ‖²/(2σp²) )
 *     ∇L       = s · ( Σ_n J_nᵀ r_n + θ/σp² )
 *     GGN = F  = s · Σ_n J_nᵀ Λ_n J_n                                   (Prop. 1)
 *     ∇²L      = GGN + s · Σ_n Σ_m r_nm ∇²_θ f_nm + (s/σp²) I             (Eq. 8–9)
 *     F_MC     = s · Σ_n (1/S) Σ_s ĝ_ns ĝ_nsᵀ,  ĝ_ns = J_nᵀ r(ỹ_ns),  ỹ_ns ~ p(y | f_n)
 *     F̃        = s · Σ_n g_n g_nᵀ,  g_n = J_nᵀ r_n                      (Eq. 3)
 *
 * How it is computed. One forward pass per θ: the problem keeps the model's trace, f, r and Λ of
 * the last θ it saw, so `lossAndGradient(θ)` followed by `fisher(θ)` (an optimizer step) runs the
 * model once. Each curvature writes B_n = L_n L_nᵀ as K factor vectors per sample — the Fisher of
 * a categorical with C classes needs K = C − 1 (diag(p) − ppᵀ has rank C − 1; its Cholesky
 * factor has a closed form), one-output families K = 1 (√Λ_n), the multi-output Gaussian K = M
 * (I/σ), the EF K = 1 (r_n), the MC Fisher K = S (r(ỹ_ns)/√S) — and asks the model's trace
 * for the Gram of the pullbacks J_nᵀ L_n: s · Σ_{n,k} c_nk c_nkᵀ in the requested structure.
 * Products never form D × D: `ggnVectorProduct` is s · Jᵀ(Λ (J v)), `hessianVectorProduct` adds
 * the residual product s · Σ r_nm ∇²f_nm v (Pearlmutter's R-operator) and the prior.
 * A model without the trace's fast paths (a plain-TypeScript model) gets the same results
 * through its `jvp` (D of them for the Jacobians) and `residualHvp` (D of them for a dense
 * residual term): slower, same numbers up to rounding.
 *
 * @module
 */
import { DtypeMismatchError, NonFiniteLossError } from '../core/errors.js';
import { allocBlocks, Handle } from '../core/handle.js';
import { checkBytes, checkSquare, DENSE_HINT } from '../core/limits.js';
import type { DenseMatrixOf, Dtype, FloatArray, MatrixInput, VectorInput } from '../core/types.js';
import { checkScalar, firstNonFinite, toMatrix, toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { rng as xoshiro } from '../data/random.js';
import { checkLabels, checkLabelTypes, checkLikelihood, evaluate, sampleResidual, type Likelihood } from '../likelihoods/likelihood.js';
import { checkOptions } from '../core/options.js';
import { Matrix } from '../linalg/matrix.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import { isLinearModel } from '../models/linear.js';
import { checkModel, type KfacFactorOptions, type Model, type ModelTrace } from '../models/model.js';
import { linearProblem, type LinearProblem } from './linear-problem.js';
import { curvatureOperator, type CurvatureOperator, type CurvatureOperatorOptions, type OutputSpaceMap } from '../operators/curvature.js';
import { batchRows, curvatureOptions, nonFiniteLoss, perSampleOptions, priorTerm, varianceAdaptationFrom, varianceAdaptationOptions } from './common.js';
import type { CurvatureOptions, CurvatureResult, KfacLayer, MonteCarloOptions, Problem, Structure } from './types.js';

/**
 * Options of {@link problem}.
 *
 * @category Problems
 */
export interface ProblemOptions<T extends Dtype = 'float64'> {
  /** The model: {@link linear}, {@link mlp}, or any object implementing {@link Model}. */
  model: Model<T>;
  /** N × d inputs (d = model.inputs): dense `{ data, rows, cols }` or `number[][]` (CSR or a resident Matrix for the linear model only). */
  X: MatrixInput | Matrix;
  /** N targets, or N × M for a multi-output Gaussian (row-major `{ data, rows, cols }`, rows, or a flat N·M vector). */
  y: VectorInput | MatrixInput;
  likelihood: Likelihood;
  /** σp² > 0 of the Gaussian prior N(0, σp² I); Infinity (default) = no prior. */
  priorVariance?: number;
  /** `'mean'` (s = 1/N, default, the paper's code) or `'sum'` (s = 1, the paper's Eq. 1). */
  reduction?: 'mean' | 'sum';
  /**
   * The element type the model's passes run in — a check, not a conversion: it must be the
   * model's own (`model.dtype`, float64 when absent); make a float32 model with
   * `sequential({ …, dtype: 'float32' })`, `mlp({ …, dtype })` or `loadOnnx(bytes, { dtype })`.
   * @throws DtypeMismatchError when it differs from the model's.
   */
  dtype?: T;
}

type BKind = 'fisher' | 'ef' | 'mc';

/** The linearization at one θ: the trace and the likelihood's r, Λ there. */
interface Linearization {
  theta: Float64Array;
  trace: ModelTrace;
  sumLoss: number;
  f: Float64Array;
  r: Float64Array;
  /** Λ: N·M·M (categorical) or N·M diagonal entries (the other families); computed on first use. */
  lam?: Float64Array;
}

/**
 * A model × likelihood × data problem: L(θ) = s · (Σ_n ℓ_n + ‖θ‖²/(2σp²)) and its curvatures
 * s · Σ_n J_nᵀ B_n J_n, every formula on the page of {@link problem}. Each curvature writes B_n as
 * K factor vectors per sample — the categorical Fisher K = C − 1 (closed-form Cholesky factor of
 * diag(p) − ppᵀ), one-output families K = 1 (√Λ_n), the multi-output Gaussian K = M, the EF K = 1
 * (r_n), the MC Fisher K = S — and asks the model's trace for the Gram of the pullbacks J_nᵀ L_n
 * in the requested structure. A model without the trace's fast paths (a plain-TypeScript model)
 * gets the same results through its `jvp` and `residualHvp`. Create with {@link problem};
 * `free()` when done (it frees the kept trace and the WebAssembly workspaces).
 *
 * @category Problems
 */
export class ModelProblem<T extends Dtype = 'float64'> extends Handle implements Problem<T> {
  readonly model: Model<T>;
  /**
   * The model's element type (`model.dtype`, float64 when absent). A float32 problem returns
   * `Float32Array` gradients, products and diagonals, {@link DenseMatrix32} per-sample gradients,
   * and matrices marked `dtype: 'float32'`: each result is computed as the float32 passes give it
   * (sums over samples of the loss and gradient in float64) and rounded to float32 once, at the end.
   */
  readonly dtype: T;
  readonly likelihood: Likelihood;
  readonly priorVariance: number;
  readonly reduction: 'mean' | 'sum';
  readonly N: number;
  /** d, the number of input columns. */
  readonly inputs: number;
  readonly outputs: number;
  readonly dim: number;
  readonly scale: number;
  /** The inputs, N × d row-major (a copy). */
  readonly X: Float64Array;
  /** The targets, N or N × M (a copy). */
  readonly y: Float64Array;
  #lin: Linearization | undefined;
  /** The mini-batch views, one per batch size (see {@link ModelProblem.batch}). */
  readonly #batches = new Map<string, ModelProblem<T>>();
  #batchCalls = 0;

  /** @internal use {@link problem}. */
  constructor(core: Core, model: Model<T>, X: Float64Array, N: number, y: Float64Array, lik: Likelihood, priorVariance: number, reduction: 'mean' | 'sum') {
    const M = lik.outputs;
    // Workspace for the likelihood kernels: 0 y (N·M) · 1 f (N·M) · 2 r (N·M) · 3 Λ (N·M·M)
    super(core, allocBlocks(core, [8 * y.length, 8 * N * M, 8 * N * M, 8 * N * M * M]));
    core.f64(this.ptr(0), y.length).set(y);
    this.model = model;
    this.dtype = (model.dtype ?? 'float64') as T;
    this.likelihood = lik;
    this.priorVariance = priorVariance;
    this.reduction = reduction;
    this.N = N;
    this.inputs = model.inputs;
    this.outputs = M;
    this.dim = model.dim;
    this.scale = reduction === 'mean' ? 1 / N : 1;
    this.X = X;
    this.y = y;
  }

  priorCurvature(): number {
    return this.priorVariance === Infinity ? 0 : this.scale / this.priorVariance;
  }

  /**
   * The linearization at θ: reused when θ equals the last one (entry for entry), else one
   * forward pass of the model and the likelihood. Non-finite losses throw unless `allowInfinite`.
   */
  #at(theta: VectorInput, allowInfinite = false): Linearization {
    this.alive();
    const th = toVector(theta, this.dim, 'theta');
    const last = this.#lin;
    if (last && sameVector(last.theta, th)) {
      if (!Number.isFinite(last.sumLoss) && !(allowInfinite && last.sumLoss === Infinity)) throw this.#nonFinite(last);
      return last;
    }
    this.#release();
    const copy = th === theta ? th.slice() : th;
    const trace = this.model.forward(copy, this.X, this.N);
    try {
      const { N, outputs: M, core } = this;
      const f = trace.outputs;
      if (f.length !== N * M) throw new RangeError(`natgrad: model.forward returned ${f.length} outputs, expected N·M = ${N * M}`);
      const [py, pf, pr] = [this.ptr(0), this.ptr(1), this.ptr(2)];
      core.f64(pf, N * M).set(f);
      const sumLoss = evaluate(core, this.likelihood, N, pf, py, pr, 0);
      const lin: Linearization = { theta: copy, trace, sumLoss, f: f.slice(), r: core.f64(pr, N * M).slice() };
      this.#lin = lin;
      if (!Number.isFinite(sumLoss) && !(allowInfinite && sumLoss === Infinity)) throw this.#nonFinite(lin);
      return lin;
    } catch (e) {
      if (this.#lin?.trace !== trace) trace.free?.();
      throw e;
    }
  }

  /** Λ at the linearization's f (the likelihood kernel again, now writing Λ; r is rewritten unchanged). */
  #lambda(lin: Linearization): Float64Array {
    if (lin.lam) return lin.lam;
    const { N, outputs: M, core } = this;
    const [py, pf, pr, pl] = [this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3)];
    core.f64(pf, N * M).set(lin.f);
    evaluate(core, this.likelihood, N, pf, py, pr, pl);
    lin.lam = core.f64(pl, this.likelihood.name === 'categorical' ? N * M * M : N * M).slice();
    return lin.lam;
  }

  #release(): void {
    const lin = this.#lin;
    this.#lin = undefined;
    lin?.trace.free?.();
  }

  #nonFinite(lin: Linearization): NonFiniteLossError {
    return nonFiniteLoss(lin.sumLoss, lin.f, lin.r, this.outputs, this.likelihood, "the model's output");
  }

  /**
   * L(θ) = s · (Σ_n ℓ_n(θ) + ‖θ‖²/(2σp²)); +Infinity where the likelihood overflows.
   * @throws RangeError for a wrong length or non-finite θ; NonFiniteLossError for a NaN loss
   */
  loss(theta: VectorInput): number {
    const lin = this.#at(theta, true);
    return this.scale * (lin.sumLoss + priorTerm(lin.theta, this.priorVariance));
  }

  /** ∇L(θ) = s · (Σ_n J_nᵀ r_n + θ/σp²), length D. */
  gradient(theta: VectorInput): FloatArray<T> {
    return this.#out(this.#lossAndGradient(theta).gradient);
  }

  /** L(θ) and ∇L(θ) from one forward pass (kept for the curvatures at the same θ). */
  lossAndGradient(theta: VectorInput): { loss: number; gradient: FloatArray<T> } {
    const { loss, gradient } = this.#lossAndGradient(theta);
    return { loss, gradient: this.#out(gradient) };
  }

  /** A D- or N-sized result in the problem's type: a float32 problem's is rounded once, here. */
  #out(v: Float64Array): FloatArray<T> {
    return (this.dtype === 'float32' ? new Float32Array(v) : v) as FloatArray<T>;
  }

  #lossAndGradient(theta: VectorInput): { loss: number; gradient: Float64Array } {
    const lin = this.#at(theta);
    const g = lin.trace.vjp(lin.r);
    const s = this.scale,
      pc = this.priorCurvature(),
      th = lin.theta;
    for (let i = 0; i < g.length; i++) g[i] = s * g[i]! + pc * th[i]!;
    const loss = s * (lin.sumLoss + priorTerm(lin.theta, this.priorVariance));
    const bad = firstNonFinite(g);
    if (bad >= 0)
      throw new NonFiniteLossError(`natgrad: the gradient overflows at this θ (entry ${bad} is ${g[bad]}, the loss is ${loss}); the iteration diverged — reduce the step size or add damping`, loss);
    return { loss, gradient: g };
  }

  /**
   * Per-sample gradients g_n = ∇_θ ℓ_n = J_nᵀ r_n as the rows of an N × D matrix (no
   * reduction factor, no prior). Costs N·D·8 bytes (checked before allocating). With
   * `{ resident: true }` the rows stay in WebAssembly memory as a {@link Matrix} (for a model
   * whose trace writes them there, nothing is copied: copying 10⁷ doubles out into a fresh
   * JavaScript array costs several times computing them).
   */
  perSampleGradients(theta: VectorInput, options?: { resident?: false }): DenseMatrixOf<T>;
  perSampleGradients(theta: VectorInput, options: { resident: true }): Matrix;
  perSampleGradients(theta: VectorInput, options: { resident?: boolean } = {}): DenseMatrixOf<T> | Matrix {
    const { resident } = perSampleOptions(options);
    const lin = this.#at(theta);
    const { N, dim: D, core } = this;
    checkBytes(8 * N * D, `per-sample gradients (${N} × ${D} doubles)`, 'compute them for mini-batches of the data (a problem per batch)');
    if (!resident) return { data: this.#out(this.#pullbacks(lin.trace, lin.r, 1)), rows: N, cols: D } as DenseMatrixOf<T>;
    const into = lin.trace.pullbacksInto && this.model.core === core ? lin.trace.pullbacksInto.bind(lin.trace) : undefined;
    if (!into) {
      const data = this.#pullbacks(lin.trace, lin.r, 1);
      if (this.dtype === 'float64') return Matrix.from({ data, rows: N, cols: D }, 'per-sample gradients', core);
      const p = core.allocCopy(new Float64Array(new Float32Array(data)));
      return Matrix.adopt(core, N, D, p, 'float32');
    }
    const p = core.alloc(8 * N * D);
    try {
      into(lin.r, 1, p);
    } catch (e) {
      core.free(p);
      throw e;
    }
    // A float32 trace writes float32 values (widened), so the rows are float32 values already.
    return Matrix.adopt(core, N, D, p, this.dtype);
  }

  /** The pullbacks c_nk = J_nᵀ R_nk of an (N·K) × M stack, as (N·K) × D rows. */
  #pullbacks(trace: ModelTrace, R: Float64Array, K: number): Float64Array {
    const { N, outputs: M, dim: D } = this;
    checkBytes(8 * N * K * D, `the pullbacks J_nᵀ B_n^{1/2} (${N * K} × ${D} doubles)`, DENSE_HINT);
    if (trace.pullbacks) return trace.pullbacks(R, K);
    const J = this.#jacobians(trace);
    const out = new Float64Array(N * K * D);
    for (let n = 0; n < N; n++) {
      for (let q = 0; q < K; q++) {
        const row = (n * K + q) * D;
        for (let m = 0; m < M; m++) {
          const a = R[(n * K + q) * M + m]!;
          if (a === 0) continue;
          const jr = (n * M + m) * D;
          for (let j = 0; j < D; j++) out[row + j]! += a * J[jr + j]!;
        }
      }
    }
    return out;
  }

  /** J (N × M × D) from the trace, or column by column from D Jacobian-vector products. */
  #jacobians(trace: ModelTrace): Float64Array {
    const { N, outputs: M, dim: D } = this;
    checkBytes(8 * N * M * D, `the per-sample Jacobians (${N} × ${M} × ${D} doubles)`, DENSE_HINT);
    if (trace.jacobians) return trace.jacobians();
    const J = new Float64Array(N * M * D),
      e = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      e[j] = 1;
      const col = trace.jvp(e);
      e[j] = 0;
      for (let i = 0; i < N * M; i++) J[i * D + j] = col[i]!;
    }
    return J;
  }

  /**
   * B_n = L_n L_nᵀ as K factor vectors per sample, an (N·K) × M stack (row n·K + k = L_n[:, k]).
   * Fisher: categorical K = C − 1 (closed-form Cholesky of diag(p) − ppᵀ), Gaussian K = M (I/σ),
   * Bernoulli/Poisson K = 1 (√Λ_n); EF K = 1 (r_n); MC K = S (r(ỹ_ns)/√S).
   */
  #factor(lin: Linearization, kind: BKind, mc?: { samples: number; seed: number }): { R: Float64Array; K: number } {
    const { N, outputs: M, likelihood: lik } = this;
    if (kind === 'ef') return { R: lin.r, K: 1 };
    if (kind === 'mc') {
      const S = mc!.samples,
        g = xoshiro(mc!.seed),
        w = 1 / Math.sqrt(S);
      const R = new Float64Array(N * S * M),
        p = new Float64Array(M),
        rt = new Float64Array(M);
      for (let n = 0; n < N; n++) {
        for (let q = 0; q < S; q++) {
          sampleResidual(lik, lin.f, n * M, g, rt, 0, p);
          for (let m = 0; m < M; m++) R[(n * S + q) * M + m] = w * rt[m]!;
        }
      }
      return { R, K: S };
    }
    switch (lik.name) {
      case 'gaussian': {
        const R = new Float64Array(N * M * M),
          sd = 1 / Math.sqrt(lik.variance);
        for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) R[(n * M + m) * M + m] = sd;
        return { R, K: M };
      }
      case 'categorical':
        return { R: categoricalFactor(lin.f, N, M), K: M - 1 };
      default:
        return { R: this.#lambda(lin).map(Math.sqrt), K: 1 };
    }
  }

  /** A curvature in the structure asked for, in the problem's type (see {@link ModelProblem.dtype}). */
  #build<S extends Structure>(kind: BKind, theta: VectorInput, options: CurvatureOptions<S> | undefined, hessian: boolean, mc?: { samples: number; seed: number }): CurvatureResult<S, KfacLayer[], T> {
    const r = this.#compute(kind, theta, options, hessian, mc) as SymMatrix | Float64Array | SymMatrix[] | KfacLayer[];
    if (this.dtype === 'float64') return r as CurvatureResult<S, KfacLayer[], T>;
    if (r instanceof Float64Array) return this.#out(r) as CurvatureResult<S, KfacLayer[], T>;
    for (const m of r instanceof SymMatrix ? [r] : r) {
      if (m instanceof SymMatrix) this.#outMatrix(m);
      else for (const f of m.exact ? [m.exact] : [m.A, m.G]) this.#outMatrix(f);
    }
    return r as CurvatureResult<S, KfacLayer[], T>;
  }

  /** A matrix result in the problem's type: a float32 problem's is rounded to float32 values, once, here. */
  #outMatrix(m: SymMatrix): SymMatrix {
    return this.dtype === 'float32' ? m.roundToFloat32() : m;
  }

  /** The curvature in float64 arrays (float32 values widened for a float32 model, before the final rounding). */
  #compute<S extends Structure>(kind: BKind, theta: VectorInput, options: CurvatureOptions<S> | undefined, hessian: boolean, mc?: { samples: number; seed: number }): CurvatureResult<S> {
    const structure = (options?.structure ?? 'dense') as Structure;
    if (!['dense', 'diagonal', 'block', 'kfac'].includes(structure)) {
      throw new RangeError(`natgrad: structure must be 'dense', 'diagonal', 'block' or 'kfac', got ${String(structure)}`);
    }
    if (structure === 'kfac') {
      if (hessian) throw new RangeError("natgrad: the 'kfac' structure has no place for the Hessian's residual term and prior; use ggn()/fisher() (or another structure)");
    } else if (options?.kfacApproximation !== undefined || options?.bias !== undefined) {
      throw new RangeError(`natgrad: kfacApproximation and bias are options of the 'kfac' structure, not of '${structure}'`);
    }
    if (structure === 'dense') checkSquare(this.dim, 'a dense curvature of D parameters');
    const lin = this.#at(theta);
    const { R, K } = this.#factor(lin, kind, mc);
    const trace = lin.trace;
    if (structure === 'kfac') return this.#kfac(trace, R, K, options ?? {}) as CurvatureResult<S>;
    const ggn = this.#gram(trace, R, K, structure);
    if (!hessian) return ggn as CurvatureResult<S>;
    try {
      this.#addResidual(lin, structure, ggn);
    } catch (e) {
      freeResult(ggn);
      throw e;
    }
    return ggn as CurvatureResult<S>;
  }

  /** s · Σ_{n,k} c_nk c_nkᵀ in the given structure (trace fast path, else from the pullbacks). */
  #gram(trace: ModelTrace, R: Float64Array, K: number, structure: 'dense' | 'diagonal' | 'block'): SymMatrix | Float64Array | SymMatrix[] {
    const s = this.scale,
      { core, dim: D } = this;
    if (trace.pullbackGram) return trace.pullbackGram(R, K, structure, s);
    const rows = this.N * K;
    const C = this.#pullbacks(trace, R, K);
    if (structure === 'diagonal') {
      const out = new Float64Array(D);
      for (let i = 0; i < rows; i++) for (let j = 0; j < D; j++) out[j]! += C[i * D + j]! ** 2;
      for (let j = 0; j < D; j++) out[j]! *= s;
      return out;
    }
    const k = core.exports;
    const pc = core.allocCopy(C);
    try {
      const syrk = (offset: number, size: number): SymMatrix => {
        const p = core.alloc(8 * size * size);
        core.f64(p, size * size).fill(0);
        k.dsyrkLower(rows, size, pc + 8 * offset, D, 0, 1, p, size);
        k.dsymMirrorLower(size, p, size);
        k.dscal(size * size, s, p);
        return new SymMatrix(core, size, p);
      };
      if (structure === 'dense') return syrk(0, D);
      const blocks: SymMatrix[] = [];
      try {
        for (const g of this.model.groups) blocks.push(syrk(g.offset, g.size));
      } catch (e) {
        for (const b of blocks) b.free();
        throw e;
      }
      return blocks;
    } finally {
      core.free(pc);
    }
  }

  /**
   * Per parameter group: A = (1/N) Σ ā āᵀ, G = s Σ δ δᵀ (dense layers; convolutions per
   * `kfacApproximation`), or the exact block of a group without a Kronecker form — from the trace's
   * fast path; a model without one (a plain-TypeScript model) has no layer inputs to factor.
   */
  #kfac(trace: ModelTrace, R: Float64Array, K: number, options: KfacFactorOptions): KfacLayer[] {
    const opts: KfacFactorOptions = {
      ...(options.kfacApproximation !== undefined ? { kfacApproximation: options.kfacApproximation } : {}),
      ...(options.bias !== undefined ? { bias: options.bias } : {}),
    };
    if (!trace.kfacFactors) {
      throw new RangeError(
        `natgrad: the 'kfac' structure needs a model whose trace provides kfacFactors (the layer inputs and output gradients: mlp, sequential networks); ${this.model.name}'s does not`,
      );
    }
    return trace.kfacFactors(R, K, this.scale, opts) as KfacLayer[];
  }

  /** Add s · Σ_n Σ_m r_nm ∇²f_nm and the prior s/σp² to a GGN result, in place. */
  #addResidual(lin: Linearization, structure: 'dense' | 'diagonal' | 'block', ggn: SymMatrix | Float64Array | SymMatrix[]): void {
    const { core, dim: D, scale: s } = this;
    const pc = this.priorCurvature();
    const trace = lin.trace;
    const hasResidual = typeof trace.residualHvp === 'function' || typeof trace.residualHmm === 'function';
    // Columns j0 … j0+k−1 of the residual term (D × k, row-major).
    const columns = (j0: number, k: number): Float64Array => {
      if (trace.residualHmm) {
        const V = new Float64Array(D * k);
        for (let c = 0; c < k; c++) V[(j0 + c) * k + c] = 1;
        return trace.residualHmm(lin.r, V, k);
      }
      const out = new Float64Array(D * k),
        e = new Float64Array(D);
      for (let c = 0; c < k; c++) {
        e[j0 + c] = 1;
        const col = trace.residualHvp!(lin.r, e);
        e[j0 + c] = 0;
        for (let i = 0; i < D; i++) out[i * k + c] = col[i]!;
      }
      return out;
    };
    const chunk = Math.max(1, Math.min(D, Math.floor(2 ** 22 / D))); // ≤ 32 MiB of columns at a time
    if (trace.residualColumns) {
      this.#addResidualColumns(trace, lin.r, structure, ggn, chunk);
      return;
    }
    if (structure === 'diagonal') {
      const diag = ggn as Float64Array;
      if (hasResidual) {
        for (let j0 = 0; j0 < D; j0 += chunk) {
          const k = Math.min(chunk, D - j0),
            cols = columns(j0, k);
          for (let c = 0; c < k; c++) diag[j0 + c]! += s * cols[(j0 + c) * k + c]!;
        }
      }
      for (let i = 0; i < D; i++) diag[i]! += pc;
      return;
    }
    if (structure === 'dense') {
      const H = ggn as SymMatrix,
        p = H.dataPtr();
      for (let j0 = 0; hasResidual && j0 < D; j0 += chunk) {
        const k = Math.min(chunk, D - j0),
          cols = columns(j0, k);
        const v = core.f64(p, D * D);
        for (let i = 0; i < D; i++) for (let c = 0; c < k; c++) v[i * D + j0 + c]! += s * cols[i * k + c]!;
      }
      symmetrize(core.f64(p, D * D), D);
      if (pc) {
        const v = core.f64(p, D * D);
        for (let i = 0; i < D; i++) v[i * D + i]! += pc;
      }
      return;
    }
    const blocks = ggn as SymMatrix[];
    this.model.groups.forEach((g, b) => {
      const H = blocks[b]!,
        n = g.size,
        p = H.dataPtr();
      for (let j0 = 0; hasResidual && j0 < n; j0 += chunk) {
        const k = Math.min(chunk, n - j0),
          cols = columns(g.offset + j0, k);
        const v = core.f64(p, n * n);
        for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) v[i * n + j0 + c]! += s * cols[(g.offset + i) * k + c]!;
      }
      symmetrize(core.f64(p, n * n), n);
      if (pc) {
        const v = core.f64(p, n * n);
        for (let i = 0; i < n; i++) v[i * n + i]! += pc;
      }
    });
  }

  /**
   * {@link ModelProblem.#addResidual} through `trace.residualColumns`, group by group: the
   * columns of group g are asked only for rows ≥ g's first index (diagonal: only their own
   * rows; block: only g's rows). Column j's values go into row j (the term is symmetric, and
   * the final symmetrization averages (i, j) with (j, i) either way); rows of later groups are
   * mirrored into column j, so the result is exactly symmetric. Then the prior, as there.
   */
  #addResidualColumns(trace: ModelTrace, r: Float64Array, structure: 'dense' | 'diagonal' | 'block', ggn: SymMatrix | Float64Array | SymMatrix[], chunk: number): void {
    const { core, dim: D, scale: s } = this;
    const pc = this.priorCurvature();
    const cols = trace.residualColumns!.bind(trace);
    if (structure === 'diagonal') {
      const diag = ggn as Float64Array;
      for (const g of this.model.groups) {
        const end = g.offset + g.size;
        for (let j0 = g.offset; j0 < end; j0 += chunk) {
          const k = Math.min(chunk, end - j0),
            c = cols(r, j0, k, j0, j0 + k);
          for (let i = 0; i < k; i++) diag[j0 + i]! += s * c[i * D + j0 + i]!;
        }
      }
      for (let i = 0; i < D; i++) diag[i]! += pc;
      return;
    }
    if (structure === 'dense') {
      const p = (ggn as SymMatrix).dataPtr();
      for (const g of this.model.groups) {
        const end = g.offset + g.size;
        for (let j0 = g.offset; j0 < end; j0 += chunk) {
          const k = Math.min(chunk, end - j0),
            c = cols(r, j0, k, g.offset, D);
          const v = core.f64(p, D * D);
          for (let t = 0; t < k; t++) {
            const j = j0 + t,
              row = t * D,
              hj = j * D;
            for (let i = g.offset; i < end; i++) v[hj + i]! += s * c[row + i]!;
            for (let i = end; i < D; i++) {
              const x = s * c[row + i]!;
              v[hj + i]! += x;
              v[i * D + j]! += x;
            }
          }
        }
      }
      const v = core.f64(p, D * D);
      symmetrize(v, D);
      if (pc) for (let i = 0; i < D; i++) v[i * D + i]! += pc;
      return;
    }
    const blocks = ggn as SymMatrix[];
    this.model.groups.forEach((g, b) => {
      const n = g.size,
        p = blocks[b]!.dataPtr();
      for (let j0 = 0; j0 < n; j0 += chunk) {
        const k = Math.min(chunk, n - j0),
          c = cols(r, g.offset + j0, k, g.offset, g.offset + n);
        const v = core.f64(p, n * n);
        for (let t = 0; t < k; t++) for (let i = 0; i < n; i++) v[(j0 + t) * n + i]! += s * c[t * D + g.offset + i]!;
      }
      const v = core.f64(p, n * n);
      symmetrize(v, n);
      if (pc) for (let i = 0; i < n; i++) v[i * n + i]! += pc;
    });
  }

  /**
   * Fisher information F(θ) = s · Σ_n J_nᵀ Λ_n J_n (data term only). Symmetric PSD, D × D;
   * `'diagonal'`, `'block'` (per layer) and `'kfac'` (per dense layer) are exact / factored as
   * documented in {@link Structure} and {@link KfacFactors}.
   */
  fisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T> {
    return this.#build('fisher', theta, curvatureOptions(options, 'fisher'), false);
  }

  /** GGN s · Σ_n J_nᵀ Λ_n J_n; equals {@link ModelProblem.fisher} for exponential families with natural parameter f (Prop. 1). */
  ggn<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T> {
    return this.#build('fisher', theta, curvatureOptions(options, 'ggn'), false);
  }

  /**
   * Exact Hessian ∇²L = GGN + s · Σ_n Σ_m r_nm ∇²_θ f_nm + (s/σp²) I. Symmetric, indefinite in
   * general. `'diagonal'` and `'block'` are exact without forming D × D (D residual products for
   * the diagonal); `'kfac'` is refused (the residual term has no Kronecker structure).
   */
  hessian<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T> {
    return this.#build('fisher', theta, curvatureOptions(options, 'hessian'), true);
  }

  /**
   * Monte-Carlo Fisher s · Σ_n (1/S) Σ_s ĝ_ns ĝ_nsᵀ, ĝ_ns = J_nᵀ r(ỹ_ns), ỹ_ns ~ p(y | f_n)
   * (xoshiro256**, seeded: same seed, same matrix). Unbiased for the Fisher; PSD, rank ≤ N·S.
   */
  fisherMC<S extends Structure = 'dense'>(theta: VectorInput, options: MonteCarloOptions<S> = {}): CurvatureResult<S, KfacLayer[], T> {
    curvatureOptions(options, 'fisherMC', true);
    const samples = options.samples ?? 1;
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`natgrad: samples must be an integer ≥ 1, got ${samples}`);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: seed must be a safe integer, got ${seed}`);
    return this.#build('mc', theta, options, false, { samples, seed });
  }

  /** Empirical Fisher F̃ = s · Σ_n g_n g_nᵀ, g_n = J_nᵀ r_n (data term only). PSD, rank ≤ N. */
  empiricalFisher<S extends Structure = 'dense'>(theta: VectorInput, options?: CurvatureOptions<S>): CurvatureResult<S, KfacLayer[], T> {
    return this.#build('ef', theta, curvatureOptions(options, 'empiricalFisher'), false);
  }

  /**
   * Gradient covariance Σ̂ = s · Σ_n (g_n − ḡ)(g_n − ḡ)ᵀ, ḡ = (1/N) Σ_n g_n, so F̃ = Σ̂ + s·N·ḡḡᵀ
   * (Eq. 18), from the centred per-sample gradients. Symmetric PSD, dense D × D.
   */
  gradientCovariance(theta: VectorInput): SymMatrix {
    checkSquare(this.dim, 'the gradient covariance');
    // The rows stay in WebAssembly memory (no copy out and back in); centred in place.
    const Gm = this.perSampleGradients(theta, { resident: true });
    const { N, dim: D, core } = this;
    try {
      const pg = Gm.dataPtr();
      const G = core.f64(pg, N * D);
      const mean = new Float64Array(D);
      for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) mean[j]! += G[n * D + j]! / N;
      for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) G[n * D + j]! -= mean[j]!;
      const c = core.alloc(8 * D * D);
      core.f64(c, D * D).fill(0);
      core.exports.dsyrkLower(N, D, pg, D, 0, 1, c, D);
      core.exports.dsymMirrorLower(D, c, D);
      core.exports.dscal(D * D, this.scale, c);
      return this.#outMatrix(new SymMatrix(core, D, c));
    } finally {
      Gm.free();
    }
  }

  /**
   * Variance adaptation (Eq. 19): M = F̄⁻¹ ḡḡᵀ with the mean-reduction EF F̄ = (1/N) Σ g_n g_nᵀ
   * (+ λI) and ḡ = (1/N) Σ g_n, whatever the reduction; returns M and M ḡ = ‖ḡ‖² F̄⁻¹ ḡ.
   * @throws NotPositiveDefiniteError when F̄ + λI is singular (use `damping`)
   */
  varianceAdaptation(theta: VectorInput, options: { damping?: number } = {}): { matrix: DenseMatrixOf<T>; direction: FloatArray<T> } {
    const damping = checkScalar(varianceAdaptationOptions(options).damping ?? 0, 'damping', 'nonnegative');
    const F = this.#compute('ef', theta, curvatureOptions(undefined, 'empiricalFisher'), false) as SymMatrix;
    try {
      if (this.reduction === 'sum') this.core.exports.dscal(this.dim * this.dim, 1 / this.N, F.dataPtr());
      const lin = this.#at(theta);
      const { matrix, direction } = varianceAdaptationFrom(
        F,
        lin.trace.vjp(lin.r).map((v) => v / this.N),
        damping,
      );
      return { matrix: { data: this.#out(matrix.data), rows: matrix.rows, cols: matrix.cols } as DenseMatrixOf<T>, direction: this.#out(direction) };
    } finally {
      F.free();
    }
  }

  /** F(θ) v = s · Jᵀ (Λ (J v)) without forming F (one JVP, one VJP on the kept trace). Length D. */
  fisherVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T> {
    const vec = toVector(v, this.dim, 'v');
    const lin = this.#at(theta);
    const out = lin.trace.vjp(this.#lambdaTimes(lin, lin.trace.jvp(vec)));
    for (let i = 0; i < out.length; i++) out[i]! *= this.scale;
    return this.#out(out);
  }

  /** Alias of {@link ModelProblem.fisherVectorProduct} (GGN = Fisher, Prop. 1). */
  ggnVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T> {
    return this.fisherVectorProduct(theta, v);
  }

  /**
   * ∇²L(θ) v = s · (Jᵀ Λ J v + Σ_n Σ_m r_nm ∇²f_nm v) + (s/σp²) v, exact and matrix-free (the
   * residual product by the R-operator). Length D.
   */
  hessianVectorProduct(theta: VectorInput, v: VectorInput): FloatArray<T> {
    const vec = toVector(v, this.dim, 'v');
    const lin = this.#at(theta);
    const trace = lin.trace;
    const U = this.#lambdaTimes(lin, trace.jvp(vec));
    const s = this.scale,
      pc = this.priorCurvature();
    // Fused when the trace can: the R-operator seeded with U gives Jᵀ U + residual in one pass.
    const out = trace.residualHvpAndVjp ? trace.residualHvpAndVjp(lin.r, vec, U) : trace.vjp(U);
    const res = trace.residualHvpAndVjp ? undefined : trace.residualHvp?.(lin.r, vec);
    for (let i = 0; i < out.length; i++) out[i] = s * (out[i]! + (res ? res[i]! : 0)) + pc * vec[i]!;
    return this.#out(out);
  }

  /** Λ_n u_n for every sample (u is N × M). */
  #lambdaTimes(lin: Linearization, u: Float64Array): Float64Array {
    const { N, outputs: M } = this;
    const w = new Float64Array(N * M),
      L = this.#lambda(lin);
    if (this.likelihood.name !== 'categorical') {
      for (let i = 0; i < N * M; i++) w[i] = L[i]! * u[i]!;
      return w;
    }
    for (let n = 0; n < N; n++) {
      for (let a = 0; a < M; a++) {
        let t = 0;
        for (let b = 0; b < M; b++) t += L[(n * M + a) * M + b]! * u[n * M + b]!;
        w[n * M + a] = t;
      }
    }
    return w;
  }

  /**
   * @internal s · Jᵀ B(J v) at θ for an output-space map B (the operators' EF and MC products):
   * u = J v (N × M, row n = J_n v), w = B(u, f, r) (N × M), returns s · Σ_n J_nᵀ w_n (length D).
   * One JVP and one VJP on the kept forward pass; memory O(N·M + D).
   */
  outputSpaceProduct(theta: VectorInput, v: Float64Array, B: OutputSpaceMap): Float64Array {
    const vec = toVector(v, this.dim, 'v');
    const lin = this.#at(theta);
    const w = B(lin.trace.jvp(vec), lin.f, lin.r);
    if (w.length !== this.N * this.outputs) throw new RangeError(`natgrad: outputSpaceProduct: B returned ${w.length} entries, expected N·M = ${this.N * this.outputs}`);
    const out = lin.trace.vjp(w);
    for (let i = 0; i < out.length; i++) out[i]! *= this.scale;
    return out;
  }

  /** The curvature at θ as a matrix-free operator: see {@link curvatureOperator}. */
  curvatureOperator(theta: VectorInput, options?: CurvatureOperatorOptions): CurvatureOperator {
    return curvatureOperator(this, theta, options);
  }

  /**
   * The same problem with another prior: a new ModelProblem on this one's model, likelihood,
   * data and reduction, with prior variance `variance`, so that its loss is
   * L(θ) = s · (Σ_n ℓ_n + ‖θ‖²/(2v)) with s = 1/N (`'mean'`) or 1 (`'sum'`) — bit for bit the
   * problem {@link problem} builds from the same options with `priorVariance: v`. Nothing is
   * re-validated and X is not copied (the new problem reads this one's inputs, which are never
   * written; its targets go into its own WebAssembly workspace, as the constructor does). On a
   * batch view ({@link ModelProblem.batch}) it shares the view's rows, which the view's reuse
   * overwrites. The caller frees the new problem; it stays valid after this one is freed.
   * @param variance v > 0, or Infinity for no prior
   * @throws TypeError for a non-number; RangeError for v ≤ 0 or NaN
   * @example
   * const q = p.withPriorVariance(0.1); // δ = 1/v = 10: q.loss(θ) = p.loss(θ) + s·(10 − 1/σp²)·‖θ‖²/2
   * q.free();
   */
  withPriorVariance(variance: number): ModelProblem<T> {
    this.alive();
    if (typeof variance !== 'number') throw new TypeError(`natgrad: withPriorVariance: the prior variance must be a number, got ${typeof variance}`);
    if (!(variance > 0)) throw new RangeError(`natgrad: withPriorVariance: the prior variance must be > 0 (Infinity for no prior), got ${variance}`);
    return new ModelProblem(this.core, this.model, this.X, this.N, this.y, this.likelihood, variance, this.reduction);
  }

  /** Free the kept trace and the workspaces. */
  /**
   * A mini-batch view: the problem on the rows `indices` of this one (repeats allowed), with the
   * prior variance σp²·N/B, so that its loss (1/B) Σ_batch ℓ_n + ‖θ‖²/(2Nσp²) is an unbiased
   * estimate of L(θ) under uniform sampling. Exactly the rows 0..N−1 in order give this problem
   * itself. The view is owned by this problem and reused: two views per batch size, used in turn,
   * whose inputs, targets and WebAssembly workspaces are overwritten two `batch` calls later (the
   * previous view stays valid while the next batch is loaded; no allocation after the first two
   * batches of each size); freeing this problem frees its views.
   * @throws TypeError / RangeError for indices that are not row numbers in [0, N), an empty batch,
   *   or a `'sum'` problem with a batch of other rows
   * @example
   * const b = p.batch([0, 5, 7]); // 3 rows; b.loss(θ) estimates p.loss(θ)
   */
  batch(indices: ArrayLike<number>): Problem<T> {
    this.alive();
    const idx = batchRows(indices, this.N, this.reduction);
    if (idx === null) return this;
    const B = idx.length,
      d = this.inputs,
      w = this.y.length / this.N;
    // Two views per size, alternating: the previous view stays valid while the next is loaded.
    const slot = `${B}:${this.#batchCalls++ & 1}`;
    let view = this.#batches.get(slot) as ModelProblem<T> | undefined;
    if (!view || view.freed) {
      const pv = this.priorVariance === Infinity ? Infinity : this.priorVariance * (this.N / B);
      view = new ModelProblem(this.core, this.model, new Float64Array(B * d), B, new Float64Array(B * w), this.likelihood, pv, this.reduction);
      this.#batches.set(slot, view);
    }
    view.#release();
    const X = this.X,
      y = this.y,
      vX = view.X,
      vy = view.y;
    for (let r = 0; r < B; r++) {
      const i = idx[r]!;
      for (let j = 0; j < d; j++) vX[r * d + j] = X[i * d + j]!;
      for (let j = 0; j < w; j++) vy[r * w + j] = y[i * w + j]!;
    }
    this.core.f64(view.ptr(0), B * w).set(vy);
    return view;
  }

  override free(): void {
    this.#release();
    for (const v of this.#batches.values()) if (!v.freed) v.free();
    this.#batches.clear();
    super.free();
  }
}

/** Exact equality, entry for entry (the linearization cache key). */
function sameVector(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** (A + Aᵀ)/2 in place: the residual term built column by column is symmetric only up to rounding. */
function symmetrize(v: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const m = 0.5 * (v[i * n + j]! + v[j * n + i]!);
      v[i * n + j] = m;
      v[j * n + i] = m;
    }
  }
}

function freeResult(r: SymMatrix | Float64Array | SymMatrix[]): void {
  if (r instanceof SymMatrix) r.free();
  else if (Array.isArray(r)) for (const b of r) b.free();
}

/**
 * The closed-form Cholesky factor of Λ = diag(p) − ppᵀ (p = softmax(f_n)) with C − 1 columns:
 * with tail sums q_k = Σ_{j ≥ k} p_j, column k < C − 1 has L_kk = √(p_k q_{k+1}/q_k) and
 * L_ik = −p_i √(p_k/(q_k q_{k+1})) for i > k (zero when q_{k+1} = 0). Tail sums, not 1 − Σ_{j<k},
 * keep it accurate when one class dominates; the products are ordered so that saturated
 * softmaxes (p_i = 0, q_{k+1} subnormal) give no overflow and no 0·∞. Returns the (N·(C−1)) × C stack of the columns.
 *
 * @category Likelihoods
 */
export function categoricalFactor(f: Float64Array, N: number, C: number): Float64Array {
  const K = C - 1,
    R = new Float64Array(N * K * C),
    p = new Float64Array(C),
    q = new Float64Array(C + 1);
  for (let n = 0; n < N; n++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, f[n * C + c]!);
    let z = 0;
    for (let c = 0; c < C; c++) {
      p[c] = Math.exp(f[n * C + c]! - mx);
      z += p[c]!;
    }
    for (let c = 0; c < C; c++) p[c]! /= z;
    q[C] = 0;
    for (let c = C - 1; c >= 0; c--) q[c] = q[c + 1]! + p[c]!;
    for (let k = 0; k < K; k++) {
      const row = (n * K + k) * C,
        qk = q[k]!,
        qk1 = q[k + 1]!;
      if (!(qk1 > 0) || !(qk > 0)) continue;
      // Written so that nothing overflows or underflows to 0·∞ when classes saturate: p_i ≤ q_{k+1}.
      const a = Math.sqrt(p[k]! / qk),
        sq = Math.sqrt(qk1);
      R[row + k] = a * sq;
      for (let i = k + 1; i < C; i++) R[row + i] = -(p[i]! / sq) * a;
    }
  }
  return R;
}

/** y as a flat Float64Array of N·M entries (N for one output). */
function targets(y: VectorInput | MatrixInput, N: number, M: number): Float64Array {
  if (M > 1 && typeof y === 'object' && y !== null && !ArrayBuffer.isView(y) && (Array.isArray(y) ? Array.isArray(y[0]) : 'data' in y)) {
    const m = toMatrix(y as MatrixInput, 'y');
    if (!m.dense) throw new TypeError('natgrad: y must be dense');
    if (m.dense.rows !== N || m.dense.cols !== M) throw new RangeError(`natgrad: y must be ${N} × ${M} (N × outputs), got ${m.dense.rows} × ${m.dense.cols}`);
    return m.dense.data.slice();
  }
  const v = toVector(y, N * M, M > 1 ? `y (N·outputs = ${N}·${M} entries)` : 'y');
  return v === y ? v.slice() : v;
}

/** Keys of other functions often passed to {@link problem}, and where they go. */
const PROBLEM_HINTS: Readonly<Record<string, string>> = {
  bias: 'bias belongs to the model: linear({ inputs, bias: true }) (mlp layers always have biases)',
  lr: 'lr is an optimizer option: gd(p, { lr }), ngd(p, { lr, damping })',
  damping: 'damping is an optimizer option (ngd(p, { lr, damping })) or a solve option (F.solve(g, { damping }))',
  structure: "structure is an option of the curvature builders: p.fisher(θ, { structure: 'diagonal' })",
  batchSize: 'batchSize is an option of stochasticRun(spec, make, θ0, { batchSize, epochs })',
  prior: 'the prior is given by its variance σp²: priorVariance',
  classes: 'classes belongs to the likelihood: categorical({ classes })',
};

/**
 * A problem: a model × a likelihood × data × a prior × a reduction, with every curvature of its
 * objective (the surface of {@link Problem}).
 *
 * With data (x_n, y_n), n = 1..N, f_n = f(θ, x_n) ∈ R^M from the model, J_n = ∂f_n/∂θ (M × D),
 * ℓ_n = −log p(y_n | f_n), r_n = ∂ℓ_n/∂f_n, Λ_n = ∂²ℓ_n/∂f_n², s = 1/N (`'mean'`) or 1 (`'sum'`) and
 * σp² the prior variance (∞: none):
 *
 *     L(θ)     = s · ( Σ_n ℓ_n + ‖θ‖²/(2σp²) )
 *     ∇L       = s · ( Σ_n J_nᵀ r_n + θ/σp² )
 *     GGN = F  = s · Σ_n J_nᵀ Λ_n J_n                                   (Prop. 1)
 *     ∇²L      = GGN + s · Σ_n Σ_m r_nm ∇²_θ f_nm + (s/σp²) I             (Eq. 8–9)
 *     F_MC     = s · Σ_n (1/S) Σ_s ĝ_ns ĝ_nsᵀ,  ĝ_ns = J_nᵀ r(ỹ_ns),  ỹ_ns ~ p(y | f_n)
 *     F̃        = s · Σ_n g_n g_nᵀ,  g_n = J_nᵀ r_n                      (Eq. 3)
 *
 * `fisher`, `ggn`, `fisherMC` and `empiricalFisher` return the data term only (no prior); the
 * optimizers add the prior's curvature s/σp² and the damping. One forward pass per θ: the problem
 * keeps the model's trace and f, r, Λ of the last θ it saw, so `lossAndGradient(θ)` followed by
 * `fisher(θ)` runs the model once; products (`fisherVectorProduct`, `hessianVectorProduct`) never
 * form D × D. The linear model (`linear(...)`) with a one-output likelihood or the categorical
 * runs on {@link LinearProblem}'s fast paths (same numbers as {@link linearProblem}); every other
 * model goes through its {@link Model} interface.
 *
 * @throws TypeError / RangeError naming the argument: a model without the Model shape, X not
 *   N × model.inputs, y not in the likelihood's support or of the wrong shape, model.outputs ≠
 *   likelihood.outputs, priorVariance ≤ 0, an unknown reduction, non-finite values.
 * @example
 * ```ts
 * await init();
 * const digits = await loadDigits();                                  // 1797 × 64
 * const N = 500, X = { data: digits.X.data.subarray(0, N * 64), rows: N, cols: 64 }, y = digits.y.subarray(0, N);
 * const model = mlp({ sizes: [64, 16, 10], activation: 'tanh' });
 * const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }) });
 * const theta = model.init(0);
 * const { loss, gradient } = p.lossAndGradient(theta);
 * p.dim;                                          // 1210
 * loss.toFixed(4);                                // '2.3244'
 * p.fisher(theta).trace().toFixed(4);             // '6.0805'
 * p.empiricalFisher(theta).trace().toFixed(4);    // '6.2246'
 * p.hessian(theta).trace().toFixed(4);            // '5.4651'
 * p.fisher(theta, { structure: 'kfac' });         // one { A, G } per layer: A 65 × 65, G 16 × 16; A 17 × 17, G 10 × 10
 * ```
 *
 * @category Problems
 */
export function problem<T extends Dtype = 'float64'>(options: ProblemOptions<T>): Problem<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: problem expects an options object { model, X, y, likelihood, priorVariance?, reduction? }');
  checkOptions(options, 'problem', ['model', 'X', 'y', 'likelihood', 'priorVariance', 'reduction', 'dtype'], PROBLEM_HINTS);
  const model = checkModel(options.model) as Model<T>;
  if (options.dtype !== undefined) {
    if (options.dtype !== 'float32' && options.dtype !== 'float64')
      throw new RangeError(`natgrad: problem: dtype must be 'float32' or 'float64', got ${typeof options.dtype === 'string' ? `'${options.dtype}'` : String(options.dtype)}`);
    const own = model.dtype ?? 'float64';
    if (options.dtype !== own) {
      throw new DtypeMismatchError(
        'problem',
        options.dtype,
        own,
        `the ${model.name} model runs in ${own}${model.name === 'linear' ? ' only' : `; make it with dtype: '${options.dtype}' (sequential, mlp, loadOnnx)`}`,
      );
    }
  }
  const lik = checkLikelihood(options.likelihood);
  checkLabelTypes(lik, options.y, 'problem');
  if (model.outputs !== lik.outputs) throw new RangeError(`natgrad: the model has ${model.outputs} outputs (sizes.at(-1)) but the likelihood takes ${lik.outputs}`);
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') throw new RangeError(`natgrad: reduction must be 'mean' or 'sum', got ${String(reduction)}`);
  const priorVariance = options.priorVariance ?? Infinity;
  if (typeof priorVariance !== 'number' || !(priorVariance > 0)) throw new RangeError(`natgrad: priorVariance must be > 0 (Infinity for no prior), got ${String(priorVariance)}`);
  if (isLinearModel(model) && !(lik.name === 'gaussian' && lik.outputs > 1)) {
    const lm = model;
    const p: LinearProblem = linearProblem({ X: options.X, y: options.y as VectorInput, likelihood: lik, priorVariance, reduction, bias: lm.bias });
    if (p.inputs !== lm.dim / lm.outputs) {
      p.free();
      throw new RangeError(`natgrad: X has ${p.inputs - (lm.bias ? 1 : 0)} columns, the model takes ${lm.inputs}`);
    }
    return p as Problem<'float64'> as Problem<T>;
  }
  if (options.X instanceof Matrix) throw new TypeError('natgrad: a resident Matrix goes with the linear model; pass X as { data, rows, cols } or number[][]');
  const m = toMatrix(options.X, 'X');
  if (!m.dense) throw new TypeError(`natgrad: X must be dense for the ${model.name} model (CSR inputs go with the linear model)`);
  const { data, rows: N, cols } = m.dense;
  if (N === 0) throw new RangeError('natgrad: X has no rows (empty data)');
  if (cols !== model.inputs) throw new RangeError(`natgrad: X has ${cols} columns but the model takes ${model.inputs} inputs (sizes[0])`);
  const y = targets(options.y, N, lik.name === 'gaussian' ? lik.outputs : 1);
  checkLabels(lik, y);
  const core = model.core ?? defaultCore();
  checkBytes(8 * N * lik.outputs * lik.outputs, `the likelihood's per-sample Λ (${N} × ${lik.outputs}² doubles)`);
  return new ModelProblem(core, model, data === (options.X as { data?: unknown }).data ? data.slice() : data, N, y, lik, priorVariance, reduction);
}
