/**
 * Conjugate gradients for (A + λI) x = b on a symmetric operator A, preconditioned or not.
 *
 * Scaling rule: the solve is invariant to the scale of A, b and the preconditioner. CG runs on
 * Â ŷ = b̂ with b̂ = b / β and Â = (A + λI) / α, where β ≈ ‖b‖ (from a `dnrm2`-style norm that
 * neither overflows nor underflows) and α ≈ ‖(A + λI) u‖ for the unit-scale vector u of the first
 * product, then returns x = x0 + (β/α)·ŷ. The operator and the preconditioner only ever see
 * vectors of norm in [1, 2) (a direction divided by a power of two near its norm, the factor put
 * back afterwards), so a product overflows only if the operator itself does on a unit vector.
 * α, β and these factors are powers of two, so dividing by them is exact: inside the float64
 * range the iterates are those of unscaled CG (bit for bit for an operator made of floating-point
 * sums and products, which commute with powers of two), and `cg(2ᵏA, 2ʲb)` (damping 2ᵏλ) returns
 * exactly 2^{j−k} times `cg(A, b)` (damping λ).
 *
 * Float32 operators (`op.dtype === 'float32'`, e.g. the curvature of a float32 model): the
 * long-lived vectors r̂, p and ŷ − ŷ0 are Float32Array (half the memory); every update is float64
 * arithmetic rounded once into the entry, and the scalars (α_k, β_k, rᵀz, pᵀÂp, norms) are
 * float64, accumulated in float64 over the float32 entries. The operator gets a widening copy
 * (Float64Array) of p; a preconditioner's output z is used as it comes (a float64 transient, not
 * kept across iterations), and x is returned as a Float64Array (x0 + (β/α)·ŷ: with x0 absent, a
 * float32 value times a power of two). Accuracy: the recurrence residual keeps falling, but the true
 * residual b − (A + λI) x stalls near ρ₃₂ = u·‖A + λI‖·‖x‖/‖b‖ (u = 2⁻²⁴; Greenbaum 1997's
 * attainable accuracy, with ‖A + λI‖ estimated from below by max ‖Âp‖/‖p‖) — relative residuals
 * down to ~1e-6 for a moderately conditioned damped curvature. CG therefore stops once the
 * recurrence residual is at or below ρ₃₂ and reports `converged: true` only when tol ≥ ρ₃₂: a tol
 * below it (typically below ~1e-6) gives `converged: false, reason: 'precision'` with the best x
 * float32 allows. Float64 operators are unchanged (no ρ₃₂ test, bit for bit as before).
 *
 * @module
 */
import { checkCount, checkOptions } from '../core/options.js';
import { checkScalar, firstNonFinite } from '../core/validate.js';
import type { ParameterGroup } from '../models/model.js';
import {
  apply,
  checkAbort,
  checkOperator,
  checkVector,
  dot,
  iterativeOptionKeys,
  nrm2,
  pow2Scale,
  storedVector,
  toStored,
  widen,
  type IterativeOptions,
  type LinearOperator,
  type StoredVector,
} from '../operators/operator.js';
import { kfacInverse, type DenseKfacFactors, type PreconditionerOperator } from './kfac.js';
import type { SymMatrix } from '../linalg/symmatrix.js';

/**
 * What {@link cg} reports after each iteration.
 *
 * @category Solvers
 */
export interface CgProgress {
  iteration: number;
  /** ‖r_k‖ / ‖b‖. */
  residual: number;
}

/**
 * KFAC factors as a CG preconditioner: (G + γ_G I)⁻¹ ⊗ (A + γ_A I)⁻¹ per layer (see {@link kfacInverse}).
 *
 * @category Solvers
 */
export interface KfacPreconditionerSpec {
  factors: readonly (DenseKfacFactors | { A: SymMatrix; G: SymMatrix })[];
  groups: readonly ParameterGroup[];
  /** λ of the factored damping (γ_A = π√λ, γ_G = √λ/π). */
  damping: number;
}

/**
 * Options of {@link cg}.
 *
 * @category Solvers
 */
export interface CgOptions extends IterativeOptions<CgProgress> {
  /** λ ≥ 0: solve (A + λI) x = b (default 0). */
  damping?: number;
  /** Stop when ‖b − (A + λI) x‖ ≤ tol · ‖b‖ (recurrence residual, relative: scale-free; default 1e-10). */
  tol?: number;
  /** At most this many iterations = products (default min(D, 1000)). */
  maxIterations?: number;
  /**
   * P ≈ A + λI, symmetric positive definite: a `Float64Array` of its diagonal (all > 0; P⁻¹ r = r / p;
   * a curvature diagonal needs the damping added: {@link dampedDiagonal}),
   * an operator `{ dim, apply(r) }` giving P⁻¹ r, or KFAC factors `{ factors, groups, damping }`.
   */
  preconditioner?: Float64Array | PreconditionerOperator | KfacPreconditionerSpec;
  /** Starting point (default 0; ignored when b = 0, whose solution is x = 0). */
  x0?: Float64Array;
}

const CG_KEYS: readonly string[] = ['damping', 'tol', 'maxIterations', 'preconditioner', 'x0', ...iterativeOptionKeys];
const CG_HINTS: Readonly<Record<string, string>> = {
  tolerance: "did you mean 'tol'? (relative to ‖b‖)",
  rtol: "did you mean 'tol'? (relative to ‖b‖)",
  atol: "cg has no absolute tolerance: 'tol' is relative to ‖b‖",
  maxiter: "did you mean 'maxIterations'?",
  maxIter: "did you mean 'maxIterations'?",
  M: "the preconditioner goes in 'preconditioner'",
  lambda: "did you mean 'damping'? (solves (A + λI) x = b)",
};
const KFAC_SPEC_KEYS: readonly string[] = ['factors', 'groups', 'damping'];

/** Why entry `i` of a diagonal preconditioner is refused, and what to do about it. */
function diagonalPreconditionerMessage(P: Float64Array, i: number): string {
  const v = P[i]!;
  if (!Number.isFinite(v)) return `natgrad: cg: preconditioner[${i}] is ${v}: a diagonal preconditioner must be finite and positive`;
  return (
    `natgrad: cg: preconditioner[${i}] is ${Object.is(v, -0) ? '-0' : v}: a diagonal preconditioner must be positive. A curvature diagonal ` +
    "(p.fisher(θ, { structure: 'diagonal' }), ggn, empiricalFisher) needs the damping and the prior's curvature added (diag + λ + s/σp²: " +
    'dampedDiagonal(diag, λ + p.priorCurvature())): it is 0 where a parameter has no curvature, e.g. the weights of an input that is always 0'
  );
}

/**
 * A curvature diagonal made a valid {@link cg} preconditioner: `diag[i] + damping` for every i,
 * in a new array. Curvature diagonals (`p.fisher(θ, { structure: 'diagonal' })`, `p.ggn`,
 * `p.empiricalFisher`) are only positive semi-definite — a parameter the data never move, such as
 * the weight of an input pixel that is always 0, has a 0 entry — and hold neither the damping λ
 * nor the prior's curvature s/σp²: pass `damping = λ + p.priorCurvature()` to precondition
 * (F + (λ + s/σp²) I).
 *
 * @param diag - the diagonal, length D, finite.
 * @param damping - added to every entry, finite and ≥ 0.
 * @returns a new `Float64Array` of length D, every entry > 0.
 * @throws TypeError when `diag` is not an array of numbers or `damping` is not a number;
 *   RangeError for a non-finite entry, a negative or non-finite damping, or an entry of
 *   diag + damping that is not positive (with its index: a negative entry needs a larger damping).
 * @example
 * ```ts
 * dampedDiagonal(Float64Array.of(0, 2, 0.5), 1e-3); // Float64Array [0.001, 2.001, 0.501]
 * const P = dampedDiagonal(p.fisher(theta, { structure: 'diagonal' }), 1e-3 + p.priorCurvature());
 * cg(fisherOperator, g, { damping: 1e-3 + p.priorCurvature(), preconditioner: P });
 * ```
 *
 * @category Solvers
 */
export function dampedDiagonal(diag: Float64Array | readonly number[], damping: number): Float64Array {
  if (!(diag instanceof Float64Array) && !Array.isArray(diag) && !ArrayBuffer.isView(diag)) {
    throw new TypeError('natgrad: dampedDiagonal: diag must be a Float64Array or an array of numbers');
  }
  const lambda = checkScalar(damping, 'dampedDiagonal: damping', 'nonnegative');
  const d = diag as ArrayLike<number>;
  const bad = firstNonFinite(d);
  if (bad >= 0) throw new RangeError(`natgrad: dampedDiagonal: diag[${bad}] is not finite (${d[bad]})`);
  const out = new Float64Array(d.length);
  for (let i = 0; i < out.length; i++) {
    const v = d[i]! + lambda;
    if (!(v > 0)) {
      throw new RangeError(
        `natgrad: dampedDiagonal: diag[${i}] + damping = ${d[i]} + ${lambda} = ${v} is not positive: ` +
          (d[i]! < 0 ? `the entry is negative, the damping must exceed ${-d[i]!}` : 'pass a damping > 0 (λ, plus p.priorCurvature() with a prior)'),
      );
    }
    out[i] = v;
  }
  return out;
}

/**
 * The result of {@link cg}.
 *
 * @category Solvers
 */
export interface CgResult {
  x: Float64Array;
  /** Iterations done (each one product with A). */
  iterations: number;
  /** Final ‖r‖ / ‖b‖ from the recurrence, computed without overflow or underflow (0 when b = 0). */
  residual: number;
  /**
   * Whether residual ≤ tol. Never silent: false when maxIterations ran out, curvature was
   * non-positive, or (float32 operator) tol is below what float32 products can certify.
   */
  converged: boolean;
  /**
   * Why it stopped without converging: `'maxIterations'`, `'negativeCurvature'` (pᵀ(A + λI)p ≤ 0:
   * A + λI is not PD), `'precision'` (a float32 operator, `op.dtype === 'float32'`: the residual
   * reached the float32 attainable accuracy ρ₃₂ = u·‖A + λI‖·‖x‖/‖b‖, u = 2⁻²⁴, while tol is
   * below it — typically a tol under ~1e-6; the x returned is as accurate as float32 allows).
   */
  reason?: 'maxIterations' | 'negativeCurvature' | 'precision';
  /** (A + λI) x = b − r (from the recurrence, no extra product). */
  product: Float64Array;
}

/**
 * Conjugate gradients (Hestenes–Stiefel, preconditioned) for (A + λI) x = b.
 *
 * Cost: one product with A and one application of P⁻¹ per iteration, plus O(D) work; memory six
 * D-vectors. Accuracy: in exact arithmetic the error in the (A + λI)-norm falls at least as
 * 2((√κ − 1)/(√κ + 1))^k (κ the condition number of P⁻¹(A + λI)) and the solve is exact after D
 * iterations; in floating point the recurrence residual can drift below the true one by about
 * eps·κ·‖b‖. The stopping rule is ‖r_k‖ ≤ tol·‖b‖. A float32 operator (`op.dtype === 'float32'`)
 * keeps r, p and x in float32 and cannot certify a tol below ρ₃₂ = u·‖A + λI‖·‖x‖/‖b‖ (u = 2⁻²⁴,
 * ~1e-6 typically): it stops there with `converged: false, reason: 'precision'` (see the module
 * documentation). A must be symmetric; A + λI must be positive
 * definite on the Krylov space (a direction with pᵀ(A + λI)p ≤ 0 ends the solve with
 * `reason: 'negativeCurvature'` and the iterate so far — Steihaug's rule).
 *
 * Scaling: A, b, λ and P may be anywhere in the float64 range (A ~ 1e±200, b ~ 1e±170): the
 * recurrence runs on Â ŷ = b̂ with b̂ = b / β and Â = (A + λI) / α, where β ≈ ‖b‖ and
 * α ≈ ‖(A + λI) u‖ (u the unit-scale vector of the first product) are powers of two, and returns
 * x = x0 + (β/α)·ŷ. Dividing by powers of two is exact, so inside the float64 range the iterates
 * are those of unscaled CG, and `cg(2ᵏA, 2ʲb)` (damping 2ᵏλ) returns exactly 2^{j−k} times
 * `cg(A, b)` (damping λ). The operator and P⁻¹ are only applied to vectors of norm in [1, 2).
 * The one limit is the answer: an x above the float64 range is an error, not ±Infinity (one
 * below it rounds to subnormals or 0, as any float64 product does).
 * @param op A, any `{ dim, matvec }`.
 * @param b right-hand side, length D, finite.
 * @returns `{ x, iterations, residual, converged, reason?, product }`; b = 0 gives x = 0 at once.
 * @throws UnknownOptionError for an option (or a key of a KFAC preconditioner spec) it does not
 *   know; RangeError for a dim mismatch, non-finite input, negative damping, tol ≤ 0, a count that
 *   is not an integer ≥ 0, a preconditioner diagonal that is not positive, an operator or
 *   preconditioner that returns non-finite entries (named as such), a solution x that overflows;
 *   the signal's reason when aborted.
 * @example
 * ```ts
 * const A = { dim: 2, matvec: (v) => Float64Array.of(2 * v[0], 3 * v[1]) };   // A = diag(2, 3)
 * const r = cg(A, Float64Array.of(2, 3));
 * // r.x = [1, 1], r.converged = true, r.iterations = 2, r.residual = 0, r.product = [2, 3]
 * cg(A, Float64Array.of(2, 3), { damping: 1 }).x;                             // [0.6667, 0.75] = b / (diag + λ)
 * // the NGD direction of a network, matrix-free: (F + λI)⁻¹ ∇L
 * const { x, iterations } = cg(curvatureOperator(p, theta, { kind: 'fisher' }), p.gradient(theta), { damping: 1e-2 });
 * // the 500-digit MLP of `problem`'s example (D = 1210): converged in 44–45 iterations (by binary), x = F.solve(g, { damping: 1e-2 }) to 1e-10
 * ```
 *
 * @category Solvers
 */
export function cg(op: LinearOperator, b: Float64Array, options: CgOptions = {}): CgResult {
  const o = checkOptions<CgOptions>(options, 'cg', CG_KEYS, CG_HINTS);
  checkOperator(op);
  const D = op.dim;
  const rhs = checkVector(b, D, 'b');
  const lambda = checkScalar(o.damping ?? 0, 'damping', 'nonnegative');
  const tol = checkScalar(o.tol ?? 1e-10, 'tol', 'positive');
  const maxIt = checkCount(o.maxIterations, 'cg: maxIterations', { min: 0, dflt: Math.min(D, 1000) });
  const x0 = o.x0 === undefined ? undefined : checkVector(o.x0, D, 'x0');
  // P⁻¹ u for a vector u of norm in [1, 2), checked.
  let pinv: ((u: Float64Array) => Float64Array) | undefined;
  let owned: PreconditionerOperator | undefined;
  const P = o.preconditioner;
  if (P instanceof Float64Array) {
    if (P.length !== D) throw new RangeError(`natgrad: cg: the diagonal preconditioner has length ${P.length}, the operator's dim is ${D}`);
    for (let i = 0; i < D; i++) if (!(P[i]! > 0) || !Number.isFinite(P[i]!)) throw new RangeError(diagonalPreconditionerMessage(P, i));
    pinv = (u) => u.map((x, i) => x / P[i]!);
  } else if (P !== undefined) {
    let po: PreconditionerOperator;
    if (typeof (P as PreconditionerOperator).apply === 'function') po = P as PreconditionerOperator;
    else if (typeof P === 'object' && P !== null && Array.isArray((P as KfacPreconditionerSpec).factors)) {
      const k = checkOptions<KfacPreconditionerSpec>(P, 'cg: preconditioner', KFAC_SPEC_KEYS) as KfacPreconditionerSpec;
      po = owned = kfacInverse(k.factors, k.groups, { damping: k.damping });
    } else throw new TypeError('natgrad: cg: preconditioner must be a Float64Array diagonal, { dim, apply(r) } or { factors, groups, damping }');
    if (po.dim !== D) {
      owned?.free?.();
      throw new RangeError(`natgrad: cg: the preconditioner's dim ${po.dim} does not match the operator's dim ${D}`);
    }
    pinv = (u) => {
      const z = po.apply(u);
      if (z.length !== D) throw new RangeError(`natgrad: cg: the preconditioner returned ${z.length} entries, expected ${D}`);
      return z instanceof Float64Array ? z : new Float64Array(z);
    };
  }
  try {
    if (nrm2(rhs) === 0) return { x: new Float64Array(D), iterations: 0, residual: 0, converged: true, product: new Float64Array(D) };
    // β: b = β b̂ with ‖b̂‖ in [1, 2).
    const beta = pow2Scale(nrm2(rhs));
    // (A + λI) u for u of norm in [1, 2); finite, or an error naming what is not.
    const Au = (u: Float64Array): Float64Array => {
      const y = apply(op, u, 'cg: operator');
      if (lambda)
        for (let i = 0; i < D; i++) {
          const ai = y[i]!;
          y[i] = ai + lambda * u[i]!;
          if (!Number.isFinite(y[i]!)) throw new RangeError(`natgrad: cg: (A + λI) v overflows at entry ${i} for v of norm in [1, 2) (operator output ${ai}, damping ${lambda})`);
        }
      return y;
    };
    // α: Â = (A + λI)/α, fixed by the first nonzero product.
    let alphaScale = 0;
    const fixScale = (y: Float64Array): void => {
      if (alphaScale === 0) {
        const n = nrm2(y);
        if (n > 0) alphaScale = pow2Scale(n);
      }
    };
    /** Â p, applying the operator to p divided by a power of two near ‖p‖. */
    const Ahat = (ps32: StoredVector): Float64Array => {
      const p = widen(ps32);
      const ps = pow2Scale(nrm2(p));
      const y = Au(ps === 1 ? p : p.map((v) => v / ps));
      fixScale(y);
      if (alphaScale === 0) return y; // y = 0
      for (let i = 0; i < D; i++) y[i] = (y[i]! / alphaScale) * ps;
      return y;
    };
    // r̂ = (b − (A + λI) x0) / β.
    const r64 = rhs.map((v) => v / beta);
    const bref = nrm2(r64);
    if (x0 !== undefined) {
      const xs = pow2Scale(nrm2(x0));
      const ax = Au(xs === 1 ? x0 : x0.map((v) => v / xs));
      fixScale(ax);
      for (let i = 0; i < D; i++) {
        r64[i]! -= (ax[i]! * xs) / beta;
        if (!Number.isFinite(r64[i]!))
          throw new RangeError(`natgrad: cg: the initial residual b − (A + λI)·x0 overflows relative to ‖b‖ = ${nrm2(rhs)} at entry ${i}: x0 is far out of scale for this system`);
      }
    }
    // P̂⁻¹ r: P⁻¹ applied to r divided by a power of two near ‖r‖, and divided by γ, a power of two
    // near ‖P⁻¹ u‖ of the first application (CG does not depend on a constant factor of P).
    let gamma = 0;
    const precond = (v: Float64Array): Float64Array => {
      const vs = pow2Scale(nrm2(v));
      const z = pinv!(vs === 1 ? v : v.map((t) => t / vs));
      const bad = firstNonFinite(z);
      if (bad >= 0) throw new RangeError(`natgrad: cg: the preconditioner returned a non-finite entry at ${bad} (${z[bad]}) for a residual of norm in [1, 2)`);
      if (gamma === 0) {
        const zn = nrm2(z);
        if (!(zn > 0)) throw new RangeError('natgrad: cg: the preconditioner returned 0 for a nonzero residual (P must be positive definite)');
        gamma = pow2Scale(zn);
      }
      for (let i = 0; i < D; i++) z[i] = (z[i]! / gamma) * vs;
      return z;
    };
    // The long-lived vectors r̂, p and ŷ − ŷ0 in the operator's storage type (float32 for a float32
    // operator: every update is float64 arithmetic rounded once into the entry); z = P̂⁻¹ r̂ is the
    // preconditioner's float64 output, or r̂ itself.
    const r = toStored(op, r64);
    const dy = storedVector(op, D); // ŷ − ŷ0
    let z: StoredVector = pinv ? precond(widen(r)) : r;
    const p: StoredVector = op.dtype === 'float32' ? new Float32Array(z) : z.slice();
    let rz = dot(r, z);
    let res = nrm2(r) / bref;
    let k = 0;
    let reason: CgResult['reason'];
    // Float32 operator: ρ₃₂ = u·‖Â‖·‖ŷ‖/‖b̂‖, the attainable accuracy of the true residual (the
    // Greenbaum 1997 bound u·(‖b‖ + ‖A‖·max‖x_j‖) up to a small factor, with u the float32 unit
    // roundoff, ‖Â‖ estimated from below by max ‖Âp‖/‖p‖ over the iterations): the recurrence
    // residual keeps falling below it, the true one does not, so a tol below it is not certifiable.
    const f32 = op.dtype === 'float32';
    let anorm = 0;
    const y0n = f32 && x0 !== undefined ? (nrm2(x0) / beta) * alphaScale : 0;
    while (!(res <= tol)) {
      if (k >= maxIt) {
        reason = 'maxIterations';
        break;
      }
      checkAbort(o.signal);
      const Ap = Ahat(p);
      if (f32) anorm = Math.max(anorm, nrm2(Ap) / nrm2(p));
      const pAp = dot(p, Ap);
      if (!Number.isFinite(pAp) || !Number.isFinite(rz))
        throw new RangeError(
          `natgrad: cg: the scaled recurrence overflowed at iteration ${k + 1} (pᵀÂp = ${pAp}, rᵀz = ${rz}) although every operator output was finite: A + λI is too ill-conditioned for float64`,
        );
      if (!(pAp > 0)) {
        reason = 'negativeCurvature';
        break;
      }
      const a = rz / pAp;
      for (let i = 0; i < D; i++) {
        dy[i]! += a * p[i]!;
        r[i]! -= a * Ap[i]!;
      }
      k++;
      res = nrm2(r) / bref;
      o.onProgress?.({ iteration: k, residual: res });
      if (f32) {
        // Below ρ₃₂ the float32 residual is not certifiable: stop there, converged only if tol ≥ ρ₃₂.
        const floor = (2 ** -24 * anorm * (nrm2(dy) + y0n)) / bref;
        if (res <= tol || res <= floor) {
          if (floor > tol) reason = 'precision';
          break;
        }
      } else if (res <= tol) break;
      z = pinv ? precond(widen(r)) : r;
      const rzNew = dot(r, z);
      const bk = rzNew / rz;
      rz = rzNew;
      for (let i = 0; i < D; i++) p[i] = z[i]! + bk * p[i]!;
    }
    // x = x0 + (β/α)·(ŷ − ŷ0); β/α is a power of two, applied in steps that cannot over- or
    // underflow before the result does.
    const x = x0 === undefined ? new Float64Array(D) : x0.slice();
    if (alphaScale > 0) {
      const e = Math.log2(beta) - Math.log2(alphaScale);
      for (let i = 0; i < D; i++) {
        let t = dy[i]!;
        for (let f = e; f !== 0; ) {
          const step = Math.max(-1000, Math.min(1000, f));
          t *= 2 ** step;
          f -= step;
        }
        x[i]! += t;
        if (!Number.isFinite(x[i]!))
          throw new RangeError(`natgrad: cg: the solution overflows float64 at entry ${i} (‖b‖ ≈ ${nrm2(rhs)}, ‖(A + λI) u‖ ≈ ${alphaScale} for unit-scale u): x = (A + λI)⁻¹ b is not representable`);
      }
    }
    const product = rhs.map((v, i) => v - r[i]! * beta);
    return reason ? { x, iterations: k, residual: res, converged: false, reason, product } : { x, iterations: k, residual: res, converged: true, product };
  } finally {
    owned?.free?.();
  }
}
