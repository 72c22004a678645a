/**
 * Conjugate gradients for (A + λI) x = b on a symmetric operator A, preconditioned or not.
 *
 * @module
 */
import { checkScalar } from '../core/validate.js';
import type { ParameterGroup } from '../models/model.js';
import { apply, checkAbort, checkCount, checkOperator, checkVector, dot, type IterativeOptions, type LinearOperator } from '../operators/operator.js';
import { kfacInverse, type DenseKfacFactors, type PreconditionerOperator } from './kfac.js';
import type { SymMatrix } from '../linalg/symmatrix.js';

/** What {@link cg} reports after each iteration. */
export interface CgProgress {
  iteration: number;
  /** ‖r_k‖ / ‖b‖. */
  residual: number;
}

/** KFAC factors as a CG preconditioner: (G + γ_G I)⁻¹ ⊗ (A + γ_A I)⁻¹ per layer (see {@link kfacInverse}). */
export interface KfacPreconditionerSpec {
  factors: readonly (DenseKfacFactors | { A: SymMatrix; G: SymMatrix })[];
  groups: readonly ParameterGroup[];
  /** λ of the factored damping (γ_A = π√λ, γ_G = √λ/π). */
  damping: number;
}

/** Options of {@link cg}. */
export interface CgOptions extends IterativeOptions<CgProgress> {
  /** λ ≥ 0: solve (A + λI) x = b (default 0). */
  damping?: number;
  /** Stop when ‖b − (A + λI) x‖ ≤ tol · ‖b‖ (recurrence residual; default 1e-10). */
  tol?: number;
  /** At most this many iterations = products (default min(D, 1000)). */
  maxIterations?: number;
  /**
   * P ≈ A + λI, symmetric positive definite: a `Float64Array` of its diagonal (all > 0; P⁻¹ r = r / p),
   * an operator `{ dim, apply(r) }` giving P⁻¹ r, or KFAC factors `{ factors, groups, damping }`.
   */
  preconditioner?: Float64Array | PreconditionerOperator | KfacPreconditionerSpec;
  /** Starting point (default 0). */
  x0?: Float64Array;
}

/** The result of {@link cg}. */
export interface CgResult {
  x: Float64Array;
  /** Iterations done (each one product with A). */
  iterations: number;
  /** Final ‖r‖ / ‖b‖ from the recurrence (0 when b = 0). */
  residual: number;
  /** Whether residual ≤ tol. Never silent: false when maxIterations ran out or curvature was non-positive. */
  converged: boolean;
  /** Why it stopped without converging: `'maxIterations'`, `'negativeCurvature'` (pᵀ(A + λI)p ≤ 0: A + λI is not PD). */
  reason?: 'maxIterations' | 'negativeCurvature';
  /** (A + λI) x = b − r (from the recurrence, no extra product). */
  product: Float64Array;
}

/**
 * Conjugate gradients (Hestenes–Stiefel, preconditioned) for (A + λI) x = b.
 *
 * Cost: one product with A and one application of P⁻¹ per iteration, plus O(D) work; memory five
 * D-vectors. Accuracy: in exact arithmetic the error in the (A + λI)-norm falls at least as
 * 2((√κ − 1)/(√κ + 1))^k (κ the condition number of P⁻¹(A + λI)) and the solve is exact after D
 * iterations; in floating point the recurrence residual can drift below the true one by about
 * eps·κ·‖b‖. The stopping rule is ‖r_k‖ ≤ tol·‖b‖. A must be symmetric; A + λI must be positive
 * definite on the Krylov space (a direction with pᵀ(A + λI)p ≤ 0 ends the solve with
 * `reason: 'negativeCurvature'` and the iterate so far — Steihaug's rule).
 * @param op A, any `{ dim, matvec }`.
 * @param b right-hand side, length D, finite.
 * @returns `{ x, iterations, residual, converged, reason?, product }`.
 * @throws RangeError for a dim mismatch, non-finite input, negative damping, tol ≤ 0, a preconditioner
 *   diagonal that is not positive; the signal's reason when aborted.
 * @example
 * const { x, converged } = cg({ dim: 2, matvec: (v) => Float64Array.of(2 * v[0], 3 * v[1]) }, Float64Array.of(2, 3));
 * // x = [1, 1], converged = true after 2 iterations
 */
export function cg(op: LinearOperator, b: Float64Array, options: CgOptions = {}): CgResult {
  checkOperator(op);
  const D = op.dim;
  const rhs = checkVector(b, D, 'b');
  const lambda = checkScalar(options.damping ?? 0, 'damping', 'nonnegative');
  const tol = checkScalar(options.tol ?? 1e-10, 'tol', 'positive');
  const maxIt = checkCount(options.maxIterations, 'maxIterations', Math.min(D, 1000), 0);
  let precond: ((r: Float64Array) => Float64Array) | undefined;
  let owned: PreconditionerOperator | undefined;
  const P = options.preconditioner;
  if (P instanceof Float64Array) {
    if (P.length !== D) throw new RangeError(`natgrad: cg: the diagonal preconditioner has length ${P.length}, the operator's dim is ${D}`);
    for (let i = 0; i < D; i++) if (!(P[i]! > 0) || !Number.isFinite(P[i]!)) throw new RangeError(`natgrad: cg: the diagonal preconditioner must be positive and finite, entry ${i} is ${P[i]}`);
    precond = (r) => r.map((x, i) => x / P[i]!);
  } else if (P !== undefined) {
    let po: PreconditionerOperator;
    if (typeof (P as PreconditionerOperator).apply === 'function') po = P as PreconditionerOperator;
    else if (Array.isArray((P as KfacPreconditionerSpec).factors)) {
      const k = P as KfacPreconditionerSpec;
      po = owned = kfacInverse(k.factors, k.groups, { damping: k.damping });
    } else throw new TypeError('natgrad: cg: preconditioner must be a Float64Array diagonal, { dim, apply(r) } or { factors, groups, damping }');
    if (po.dim !== D) {
      owned?.free?.();
      throw new RangeError(`natgrad: cg: the preconditioner's dim ${po.dim} does not match the operator's dim ${D}`);
    }
    precond = (r) => {
      const z = po.apply(r);
      if (z.length !== D) throw new RangeError(`natgrad: cg: the preconditioner returned ${z.length} entries, expected ${D}`);
      return z;
    };
  }
  try {
    const x = options.x0 === undefined ? new Float64Array(D) : checkVector(options.x0, D, 'x0').slice();
    const bnorm = Math.sqrt(dot(rhs, rhs));
    if (bnorm === 0 && options.x0 === undefined) return { x, iterations: 0, residual: 0, converged: true, product: new Float64Array(D) };
    const Ax = (v: Float64Array): Float64Array => {
      const y = apply(op, v);
      if (lambda) for (let i = 0; i < D; i++) y[i]! += lambda * v[i]!;
      return y;
    };
    const scaleB = bnorm > 0 ? bnorm : 1;
    const r =
      options.x0 === undefined
        ? rhs.slice()
        : (() => {
            const ax = Ax(x);
            return rhs.map((v, i) => v - ax[i]!);
          })();
    let z = precond ? precond(r) : r;
    const p = z.slice();
    let rz = dot(r, z);
    let res = Math.sqrt(dot(r, r)) / scaleB;
    let k = 0;
    let reason: CgResult['reason'];
    while (res > tol) {
      if (k >= maxIt) {
        reason = 'maxIterations';
        break;
      }
      checkAbort(options.signal);
      const Ap = Ax(p);
      const pAp = dot(p, Ap);
      if (!(pAp > 0)) {
        reason = 'negativeCurvature';
        break;
      }
      const alpha = rz / pAp;
      for (let i = 0; i < D; i++) {
        x[i]! += alpha * p[i]!;
        r[i]! -= alpha * Ap[i]!;
      }
      k++;
      res = Math.sqrt(dot(r, r)) / scaleB;
      options.onProgress?.({ iteration: k, residual: res });
      if (res <= tol) break;
      z = precond ? precond(r) : r;
      const rzNew = dot(r, z);
      const beta = rzNew / rz;
      rz = rzNew;
      for (let i = 0; i < D; i++) p[i] = z[i]! + beta * p[i]!;
    }
    const product = rhs.map((v, i) => v - r[i]!);
    return reason ? { x, iterations: k, residual: res, converged: false, reason, product } : { x, iterations: k, residual: res, converged: true, product };
  } finally {
    owned?.free?.();
  }
}
