/**
 * `curvatureOperator(problem, θ, { kind })`: a curvature matrix at θ as a matrix-free
 * {@link LinearOperator} — the input of CG, Lanczos, SLQ and the Hutchinson estimators.
 *
 * Every kind is s · Σ_n J_nᵀ B_n J_n (s = 1/N `'mean'`, 1 `'sum'`), applied as "Jacobian product →
 * B → transposed product", one JVP and one VJP per product on the problem's kept forward pass:
 *
 * | kind              | C v                                                   | symmetric | definite |
 * |-------------------|-------------------------------------------------------|-----------|----------|
 * | `'ggn'`, `'fisher'` | s · Jᵀ (Λ (J v))                                    | yes | PSD |
 * | `'hessian'`       | s · Jᵀ Λ J v + s · Σ_n Σ_m r_nm ∇²f_nm v + (s/σp²) v  | yes | indefinite in general |
 * | `'empiricalFisher'` | s · Σ_n g_n (g_nᵀ v) = s · Jᵀ (r ⊙ (r · (J v)))      | yes | PSD, rank ≤ N |
 * | `'fisherMC'`      | s · Σ_n (1/S) Σ_s ĝ_ns (ĝ_nsᵀ v), ĝ_ns = J_nᵀ r(ỹ_ns)  | yes | PSD, rank ≤ N·S |
 *
 * The data-term kinds (all but `'hessian'`) carry no prior, as `fisher()` and `empiricalFisher()`;
 * the Hessian carries it. Memory per product: O(N·M + D) beyond the problem's forward pass (for an
 * MLP, the trace's O(N·width)) — never D × D. The MC samples ỹ_ns are drawn once, at the first
 * product, from `rng(seed)` in the order of `problem.fisherMC(θ, { samples, seed })`, so the
 * operator is that matrix, product for product.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { checkBytes } from '../core/limits.js';
import { checkOptions, nearestKey } from '../core/options.js';
import type { VectorInput } from '../core/types.js';
import { toVector, widen } from '../core/validate.js';
import { rng } from '../data/random.js';
import { sampleResidual } from '../likelihoods/likelihood.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
import type { Problem } from '../problem/types.js';
import { checkCount, checkSeed, type LinearOperator } from './operator.js';

/**
 * The curvature kinds of {@link curvatureOperator}.
 *
 * @category Matrix-free
 */
export type CurvatureKind = 'ggn' | 'fisher' | 'hessian' | 'empiricalFisher' | 'fisherMC';

/**
 * Options of {@link curvatureOperator}.
 *
 * @category Matrix-free
 */
export interface CurvatureOperatorOptions {
  /** Which curvature (default `'ggn'`). */
  kind?: CurvatureKind;
  /** `'fisherMC'`: S ≥ 1 sampled labels per data point (default 1). */
  samples?: number;
  /** `'fisherMC'`: seed of the xoshiro256** generator (default 0). */
  seed?: number;
  /**
   * `'empiricalFisher'`: use the per-sample gradient rows G (N × D, one pass: C v = s·Gᵀ(G v)) when
   * N·D·8 bytes is at most this (default 64 MiB); above it, one JVP + one VJP per product.
   */
  perSampleBytes?: number;
}

const KINDS: readonly CurvatureKind[] = ['ggn', 'fisher', 'hessian', 'empiricalFisher', 'fisherMC'];

/** Keys of other functions often passed to {@link curvatureOperator}, and where they go. */
const OPERATOR_HINTS: Readonly<Record<string, string>> = {
  structure: "an operator is matrix-free; for a structured matrix use the builders, e.g. p.fisher(θ, { structure: 'diagonal' }), or op.diagonal()",
  damping: 'an operator has no damping; damp the solve: cg(op, b, { damping })',
  curvature: "the curvature is chosen by kind: curvatureOperator(p, θ, { kind: 'fisher' })",
};

/** The output-space product a problem exposes to the operators (internal). */
export type OutputSpaceMap = (u: Float64Array, f: Float64Array, r: Float64Array) => Float64Array;

interface OutputSpaceProblem {
  outputSpaceProduct(theta: VectorInput, v: Float64Array, B: OutputSpaceMap): Float64Array;
}

/**
 * A curvature C = s · Σ_n J_nᵀ B_n J_n at a fixed θ as an operator (s = 1/N `'mean'`, 1 `'sum'`);
 * made by {@link curvatureOperator}, whose page gives each kind's product C v.
 *
 * @category Matrix-free
 */
export interface CurvatureOperator extends LinearOperator {
  readonly kind: CurvatureKind;
  /** The θ the operator is linearized at (a copy). */
  readonly theta: Float64Array;
  /** C v (length D): one JVP + one VJP (`'hessian'`: + one residual R-operator product). */
  matvec(v: Float64Array): Float64Array;
  /** C V for the k columns of V (D × k row-major) → D × k: k products on the same forward pass. */
  matmat(V: Float64Array, k: number): Float64Array;
  /**
   * The exact diagonal, from the problem's `{ structure: 'diagonal' }` builders (never D × D): for
   * the data-term kinds one Gram pass over the pullbacks; for `'hessian'` of a network D residual
   * products (expensive: prefer {@link diagonalEstimate} at scale).
   */
  diagonal(): Float64Array;
  /** The dense D × D matrix from the problem's builders (checked against the memory limit; the caller frees it). */
  toDense(): SymMatrix;
  /**
   * The model's element type (`problem.model.dtype`, float64 when absent; a linear problem is
   * float64): a `'float32'` operator's products are computed in float32 (returned widened, as
   * Float64Array), and the solvers store their D-vectors in float32 for it.
   */
  readonly dtype: 'float32' | 'float64';
}

/**
 * The curvature of `problem` at θ as a matrix-free operator: every kind is s · Σ_n J_nᵀ B_n J_n
 * (s = 1/N `'mean'`, 1 `'sum'`), applied as "Jacobian product → B → transposed product", one JVP
 * and one VJP per product on the problem's kept forward pass:
 *
 * | kind              | C v                                                   | symmetric | definite |
 * |-------------------|-------------------------------------------------------|-----------|----------|
 * | `'ggn'`, `'fisher'` | s · Jᵀ (Λ (J v))                                    | yes | PSD |
 * | `'hessian'`       | s · Jᵀ Λ J v + s · Σ_n Σ_m r_nm ∇²f_nm v + (s/σp²) v  | yes | indefinite in general |
 * | `'empiricalFisher'` | s · Σ_n g_n (g_nᵀ v) = s · Jᵀ (r ⊙ (r · (J v)))      | yes | PSD, rank ≤ N |
 * | `'fisherMC'`      | s · Σ_n (1/S) Σ_s ĝ_ns (ĝ_nsᵀ v), ĝ_ns = J_nᵀ r(ỹ_ns)  | yes | PSD, rank ≤ N·S |
 *
 * The data-term kinds (all but `'hessian'`) carry no prior, as `fisher()` and `empiricalFisher()`;
 * the Hessian carries it. Memory per product: O(N·M + D) beyond the forward pass — never D × D.
 * Products are exact (no sampling, except the MC labels of `'fisherMC'`, drawn once at the first
 * product from `rng(seed)` in the order of `problem.fisherMC(θ, { samples, seed })`, so the
 * operator is that matrix), symmetric up to rounding. `dtype` is the model's: the products of a
 * float32 model (`mlp({ …, dtype: 'float32' })`, `sequential`, `loadOnnx`) are float32 values
 * (relative error ~1e-7·K for reductions of length K), and CG, Lanczos, SLQ and Hutch++ store
 * their D-vectors in float32 for such an operator.
 * @param problem any {@link Problem}; the EF and MC kinds need `problem.outputSpaceProduct` (natgrad's
 *   problems have it) or, for the EF, the per-sample gradient rows.
 * @param theta θ, length D, finite (copied).
 * @throws RangeError / TypeError for a wrong θ, an unknown kind, bad samples/seed.
 * @example
 * const H = curvatureOperator(p, theta, { kind: 'hessian' });
 * topEigenvalues(H, { k: 1, which: 'both' }); // λ_min and λ_max of ∇²L(θ)
 *
 * @category Matrix-free
 */
export function curvatureOperator(problem: Problem<Dtype>, theta: VectorInput, options: CurvatureOperatorOptions = {}): CurvatureOperator {
  if (typeof problem !== 'object' || problem === null || typeof problem.ggnVectorProduct !== 'function')
    throw new TypeError('natgrad: curvatureOperator needs a Problem (problem(...) or linearProblem(...))');
  checkOptions(options, 'curvatureOperator', ['kind', 'samples', 'seed', 'perSampleBytes'], OPERATOR_HINTS);
  const kind = options.kind ?? 'ggn';
  if (!KINDS.includes(kind)) {
    const near = typeof kind === 'string' ? nearestKey(kind, KINDS) : undefined;
    throw new RangeError(
      `natgrad: curvatureOperator: kind must be 'ggn', 'fisher', 'hessian', 'empiricalFisher' or 'fisherMC', got ${typeof kind === 'string' ? `'${kind}'` : String(kind)}${near ? ` — did you mean '${near}'?` : ''}`,
    );
  }
  const samples = checkCount(options.samples, 'samples', 1);
  const seed = checkSeed(options.seed);
  const perSampleBytes = options.perSampleBytes ?? 64 * 2 ** 20;
  if (typeof perSampleBytes !== 'number') throw new TypeError(`natgrad: curvatureOperator: perSampleBytes must be a number, got ${typeof perSampleBytes}`);
  if (!(perSampleBytes >= 0)) throw new RangeError(`natgrad: curvatureOperator: perSampleBytes must be ≥ 0, got ${perSampleBytes}`);
  const D = problem.dim,
    N = problem.N,
    M = problem.outputs,
    s = problem.scale;
  const th = toVector(theta, D, 'theta').slice();
  const osp = (problem as unknown as Partial<OutputSpaceProblem>).outputSpaceProduct?.bind(problem);

  let product: (v: Float64Array) => Float64Array;
  switch (kind) {
    case 'ggn':
    case 'fisher':
      product = (v) => widen(problem.ggnVectorProduct(th, v));
      break;
    case 'hessian':
      product = (v) => widen(problem.hessianVectorProduct(th, v));
      break;
    case 'empiricalFisher': {
      let G: Float64Array | undefined;
      const rows = 8 * N * D <= perSampleBytes || !osp;
      if (rows) checkBytes(8 * N * D, `the per-sample gradients (${N} × ${D} doubles) of the empirical-Fisher operator`);
      const efB: OutputSpaceMap = (u, _f, r) => {
        const w = new Float64Array(N * M);
        for (let n = 0; n < N; n++) {
          let a = 0;
          for (let m = 0; m < M; m++) a += r[n * M + m]! * u[n * M + m]!;
          for (let m = 0; m < M; m++) w[n * M + m] = a * r[n * M + m]!;
        }
        return w;
      };
      product = (v) => {
        if (!rows) return osp!(th, v, efB);
        G ??= widen(problem.perSampleGradients(th).data);
        const a = new Float64Array(N),
          out = new Float64Array(D);
        for (let n = 0; n < N; n++) {
          let t = 0;
          const o = n * D;
          for (let j = 0; j < D; j++) t += G[o + j]! * v[j]!;
          a[n] = s * t;
        }
        for (let n = 0; n < N; n++) {
          const t = a[n]!,
            o = n * D;
          if (t !== 0) for (let j = 0; j < D; j++) out[j]! += t * G[o + j]!;
        }
        return out;
      };
      break;
    }
    case 'fisherMC': {
      if (!osp) throw new TypeError("natgrad: the 'fisherMC' operator needs problem.outputSpaceProduct (natgrad's problems have it)");
      const lik = problem.likelihood;
      let Rt: Float64Array | undefined;
      const mcB: OutputSpaceMap = (u, f) => {
        if (!Rt) {
          const g = rng(seed),
            w = 1 / Math.sqrt(samples),
            rt = new Float64Array(M),
            p = new Float64Array(M);
          Rt = new Float64Array(N * samples * M);
          for (let n = 0; n < N; n++) {
            for (let q = 0; q < samples; q++) {
              sampleResidual(lik, f, n * M, g, rt, 0, p);
              for (let m = 0; m < M; m++) Rt[(n * samples + q) * M + m] = w * rt[m]!;
            }
          }
        }
        const out = new Float64Array(N * M);
        for (let n = 0; n < N; n++) {
          for (let q = 0; q < samples; q++) {
            const o = (n * samples + q) * M;
            let a = 0;
            for (let m = 0; m < M; m++) a += Rt[o + m]! * u[n * M + m]!;
            for (let m = 0; m < M; m++) out[n * M + m]! += a * Rt[o + m]!;
          }
        }
        return out;
      };
      product = (v) => osp(th, v, mcB);
      break;
    }
    default:
      throw new RangeError(`natgrad: unknown kind ${String(kind)}`);
  }

  const matvec = (v: Float64Array): Float64Array => product(toVector(v, D, 'v'));
  const op: CurvatureOperator = {
    kind,
    dim: D,
    dtype: problem.model?.dtype === 'float32' ? 'float32' : 'float64',
    theta: th,
    matvec,
    matmat(V, k) {
      if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`natgrad: matmat: k must be a positive integer, got ${String(k)}`);
      const X = toVector(V, D * k, `V (D × k = ${D} × ${k})`);
      const out = new Float64Array(D * k),
        col = new Float64Array(D);
      for (let c = 0; c < k; c++) {
        for (let i = 0; i < D; i++) col[i] = X[i * k + c]!;
        const y = product(col);
        for (let i = 0; i < D; i++) out[i * k + c] = y[i]!;
      }
      return out;
    },
    diagonal() {
      switch (kind) {
        case 'hessian':
          return widen(problem.hessian(th, { structure: 'diagonal' }));
        case 'empiricalFisher':
          return widen(problem.empiricalFisher(th, { structure: 'diagonal' }));
        case 'fisherMC':
          return widen(problem.fisherMC(th, { structure: 'diagonal', samples, seed }));
        default:
          return widen(problem.ggn(th, { structure: 'diagonal' }));
      }
    },
    toDense() {
      switch (kind) {
        case 'hessian':
          return problem.hessian(th);
        case 'empiricalFisher':
          return problem.empiricalFisher(th);
        case 'fisherMC':
          return problem.fisherMC(th, { samples, seed });
        default:
          return problem.ggn(th);
      }
    },
  };
  return op;
}
