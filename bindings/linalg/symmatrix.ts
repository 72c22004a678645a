/**
 * `SymMatrix` (a symmetric matrix resident in WebAssembly memory) and its
 * `CholeskyFactor`.
 *
 * Storage: a full n × n row-major block kept symmetric (kernels accumulate the
 * lower triangle, one mirror pass completes it), so `get(i, j)` and `toDense()`
 * read it directly and solves pass it to the kernels without a copy.
 *
 * @module
 */
import { IllConditionedError, NotPositiveDefiniteError } from '../core/errors.js';
import { Handle, withScratch } from '../core/handle.js';
import { DENSE_HINT } from '../core/limits.js';
import { checkOptions } from '../core/options.js';
import type { DenseMatrix, Dtype, VectorInput } from '../core/types.js';
import { checkScalar, firstNonFinite, toDense, toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';

/**
 * Options of damped solves and factorizations.
 *
 * @category Linear algebra
 */
export interface DampingOptions {
  /** λ ≥ 0 added to the diagonal: the factorized matrix is A + λI. Default 0. */
  damping?: number;
}

/**
 * Options of solves that check the conditioning first.
 *
 * @category Linear algebra
 */
export interface ConditionOptions {
  /**
   * Refuse to solve when the estimated reciprocal condition number
   * {@link CholeskyFactor.rcond} of the (damped) matrix is below this threshold, in [0, 1]:
   * the solve then throws {@link IllConditionedError} instead of returning a solution whose
   * relative error may be as large as eps/rcond. Default: no check, and no extra cost.
   */
  minRcond?: number;
}

/**
 * Options of {@link SymMatrix.solve}: damping and the optional conditioning check.
 *
 * @category Linear algebra
 */
export interface SolveOptions extends DampingOptions, ConditionOptions {}

const DAMPING_HINTS: Readonly<Record<string, string>> = {
  lambda: 'the λ added to the diagonal is damping',
  rcond: 'the conditioning threshold is minRcond',
};
const FACTOR_HINTS: Readonly<Record<string, string>> = {
  damping: 'the damping of a factor is fixed when it is made: A.cholesky({ damping })',
  lambda: 'the damping of a factor is fixed when it is made: A.cholesky({ damping })',
  rcond: 'the conditioning threshold is minRcond',
};

/**
 * Symmetric eigen-decomposition: `A = V diag(values) Vᵀ`, values ascending, eigenvectors in the columns of V.
 *
 * @category Linear algebra
 */
export interface Eigen {
  values: Float64Array;
  /** Row-major n × n; column k is the unit eigenvector of `values[k]`. */
  vectors: DenseMatrix;
}

/**
 * A symmetric n × n matrix in WebAssembly memory.
 *
 * @category Linear algebra
 */
export class SymMatrix extends Handle {
  /** n: the number of rows (= columns). */
  readonly size: number;

  #dtype: Dtype = 'float64';

  /** @internal Take ownership of a full, symmetric n × n block at `ptr`. */
  constructor(core: Core, size: number, ptr: number) {
    super(core, [ptr]);
    this.size = size;
  }

  /**
   * The element type of the entries: `'float32'` for the curvatures of a float32 problem (its
   * dense matrices, blocks and Kronecker factors, and the gradient covariance), whose every entry
   * is a float32 value; `'float64'` otherwise, including every matrix made by float64 arithmetic
   * on a float32 one. The storage is float64 in both cases: the factorizations and solves
   * ({@link SymMatrix.cholesky}, {@link SymMatrix.solve}, {@link SymMatrix.eigen}) run in float64
   * on the float32 values, as curvlinops retries its Kronecker inverses in double, and read the
   * storage in place — a float32 block would need a float64 copy of it for each factorization.
   * `get`, `toDense` and `diagonal` return those values exactly.
   */
  get dtype(): Dtype {
    return this.#dtype;
  }

  /**
   * @internal Round every entry to float32 in place and mark the matrix `'float32'`: the last step
   * of a float32 problem's curvature (its sums and scaling run in float32 and float64; the result
   * is rounded once). Chunked, so the temporary is at most 2²⁰ floats.
   */
  roundToFloat32(): this {
    const n2 = this.size * this.size,
      chunk = 1 << 20,
      tmp = new Float32Array(Math.min(chunk, n2));
    for (let i = 0; i < n2; i += chunk) {
      const m = Math.min(chunk, n2 - i),
        t = m === tmp.length ? tmp : tmp.subarray(0, m);
      // A fresh view per chunk: nothing here grows memory, but the view is never cached across calls.
      const a = this.core.f64(this.ptr() + 8 * i, m);
      t.set(a);
      a.set(t);
    }
    this.#dtype = 'float32';
    return this;
  }

  /**
   * Copy a symmetric matrix in. Only the lower triangle is read (as LAPACK does); the upper
   * one is rebuilt from it.
   * @throws RangeError if it is not square or has non-finite entries.
   */
  static from(input: DenseMatrix | number[][], core: Core = defaultCore()): SymMatrix {
    const d = toDense(input, 'A', DENSE_HINT);
    if (d.rows !== d.cols) throw new RangeError(`natgrad: A must be square, got ${d.rows} × ${d.cols}`);
    const n = d.rows;
    const ptr = core.allocCopy(d.data);
    core.exports.dsymMirrorLower(n, ptr, n);
    return new SymMatrix(core, n, ptr);
  }

  /** @internal Byte address of the n × n storage (leading dimension n). */
  dataPtr(): number {
    return this.ptr(0);
  }

  /** A[i][j]. */
  get(i: number, j: number): number {
    const n = this.size;
    if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= n || j >= n) {
      throw new RangeError(`natgrad: index (${i}, ${j}) out of range for a ${n} × ${n} matrix`);
    }
    return this.core.f64(this.ptr(), n * n)[i * n + j]!;
  }

  /** Full row-major copy (length n²). */
  toDense(): Float64Array {
    return this.core.f64(this.ptr(), this.size * this.size).slice();
  }

  /** `{ data, rows, cols }` copy, for functions that take matrix inputs. */
  toMatrix(): DenseMatrix {
    return { data: this.toDense(), rows: this.size, cols: this.size };
  }

  /** The diagonal (length n). */
  diagonal(): Float64Array {
    const n = this.size;
    const a = this.core.f64(this.ptr(), n * n);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = a[i * n + i]!;
    return out;
  }

  /** tr(A) = Σ_i A[i][i]. */
  trace(): number {
    let s = 0;
    for (const x of this.diagonal()) s += x;
    return s;
  }

  /** ‖A‖_F = sqrt(Σ_ij A[i][j]²). */
  frobenius(): number {
    const n = this.size;
    const p = this.ptr();
    return Math.sqrt(this.core.exports.ddot(n * n, p, p));
  }

  /** y = A v. */
  matvec(v: VectorInput): Float64Array {
    const n = this.size;
    const x = toVector(v, n, 'v');
    return withScratch(this.core, [8 * n, 8 * n], (px, py) => {
      this.core.f64(px, n).set(x);
      this.core.exports.dsymvLower(n, 1, this.ptr(), n, px, 0, py);
      return this.core.f64(py, n).slice();
    });
  }

  /**
   * Cholesky factor of A + λI (lower, L Lᵀ = A + λI).
   * @throws NotPositiveDefiniteError with the 1-based pivot index and its value.
   * @throws RangeError for a negative or non-finite damping.
   */
  cholesky(options: DampingOptions = {}): CholeskyFactor {
    return this.#cholesky(checkOptions<DampingOptions>(options, 'SymMatrix.cholesky', ['damping'], DAMPING_HINTS).damping);
  }

  #cholesky(damping: number | undefined): CholeskyFactor {
    const lambda = checkScalar(damping ?? 0, 'damping', 'nonnegative');
    const n = this.size;
    const core = this.core;
    const src = this.ptr();
    const ptr = core.alloc(8 * n * n);
    core.f64(ptr, n * n).set(core.f64(src, n * n));
    const info = core.exports.dpotrfLower(n, lambda, ptr, n);
    if (info !== 0) {
      const value = core.f64(ptr, n * n)[(info - 1) * (n + 1)]!;
      core.free(ptr);
      throw new NotPositiveDefiniteError(info, value, lambda > 0 ? `A + ${lambda}·I` : 'A');
    }
    return new CholeskyFactor(core, n, lambda, ptr);
  }

  /**
   * x with (A + λI) x = b, by Cholesky. Factor once with {@link SymMatrix.cholesky} to
   * solve many times.
   *
   * With `minRcond`, the conditioning of A + λI is estimated first ({@link CholeskyFactor.rcond},
   * O(n²) after the factorization) and a system whose estimate is below the threshold is
   * refused. Without it, no estimate is made: a numerically singular system is solved as
   * LAPACK would, e.g. [[2, 2], [2, 2]] factors with a pivot of 4e-16 and `solve([1, 2])`
   * returns entries of size 2e15.
   * @param b the right-hand side, length n.
   * @param options `damping` λ ≥ 0 (default 0) and `minRcond` in [0, 1] (default: no check).
   * @returns x, a new `Float64Array` of length n.
   * @throws NotPositiveDefiniteError if A + λI is not positive definite.
   * @throws IllConditionedError if `minRcond` is given and the estimated rcond is below it.
   * @throws RangeError for a negative or non-finite damping, or a `minRcond` outside [0, 1].
   * @example
   * SymMatrix.from([[2, 2], [2, 2]]).solve([1, 2], { minRcond: 1e-12 });
   * // throws IllConditionedError (rcond ≈ 1e-16)
   */
  solve(b: VectorInput, options: SolveOptions = {}): Float64Array {
    const o = checkOptions<SolveOptions>(options, 'SymMatrix.solve', ['damping', 'minRcond'], DAMPING_HINTS);
    const x = toVector(b, this.size, 'b');
    const minRcond = checkMinRcond(o.minRcond);
    const f = this.#cholesky(o.damping);
    try {
      return f.solve(x, { minRcond });
    } finally {
      f.free();
    }
  }

  /** log det(A + λI), by Cholesky. @throws NotPositiveDefiniteError */
  logDet(options: DampingOptions = {}): number {
    const f = this.#cholesky(checkOptions<DampingOptions>(options, 'SymMatrix.logDet', ['damping'], DAMPING_HINTS).damping);
    try {
      return f.logDet();
    } finally {
      f.free();
    }
  }

  /**
   * Eigenvalues of A, ascending: λ_0 ≤ λ_1 ≤ … ≤ λ_{n−1}.
   *
   * Householder tridiagonalization and implicit QL (kernel `dsyevLower`, LAPACK dsyev's
   * method) on a copy of A; A is not modified. Backward stable: each λ_k is within
   * O(n·eps·‖A‖₂) of the exact eigenvalue, so eigenvalues much smaller than ‖A‖ (e.g. the
   * null space of a rank-deficient Fisher) come out as O(n·eps·‖A‖)-sized numbers of either
   * sign, not as exact zeros. Costs ≈ (4/3)·n³ flops; same values, bit for bit, as
   * {@link SymMatrix.eigen}.
   * @returns the n eigenvalues in a new `Float64Array`.
   * @throws RangeError if A has a non-finite entry.
   * @throws Error if the QL iteration does not converge within 30·n sweeps (not observed for
   *         finite input; LAPACK has the same limit).
   * @example
   * SymMatrix.from([[2, 1], [1, 2]]).eigenvalues(); // Float64Array [1, 3]
   */
  eigenvalues(): Float64Array {
    return this.decompose(false).values;
  }

  /**
   * Symmetric eigen-decomposition A = V · diag(values) · Vᵀ, values ascending, V orthogonal.
   *
   * Column k of `vectors` (row-major n × n: `vectors.data[i * n + k]`) is the unit eigenvector
   * of `values[k]`; its sign is arbitrary, and for repeated eigenvalues only the spanned
   * subspace is determined. Backward stable: ‖A V − V diag(values)‖ = O(n·eps·‖A‖) and
   * ‖VᵀV − I‖ = O(n·eps). Costs ≈ 9·n³ flops (tridiagonalization, accumulation, QL rotations).
   * @returns `{ values, vectors }`, both new arrays (nothing stays in WebAssembly memory).
   * @throws RangeError if A has a non-finite entry.
   * @throws Error if the QL iteration does not converge within 30·n sweeps.
   * @example
   * const { values, vectors } = SymMatrix.from([[2, 1], [1, 2]]).eigen();
   * // values = [1, 3]; vectors.data ≈ [0.7071, 0.7071, -0.7071, 0.7071] (column signs arbitrary)
   */
  eigen(): Eigen {
    const { values, vectors } = this.decompose(true);
    return { values, vectors: { data: vectors!, rows: this.size, cols: this.size } };
  }

  /** Eigenvalues (and vectors, in the columns of a row-major n × n array) via `dsyevLower`. */
  private decompose(wantVectors: boolean): { values: Float64Array; vectors?: Float64Array } {
    const n = this.size;
    const core = this.core;
    const src = this.ptr();
    const a = core.f64(src, n * n);
    const bad = firstNonFinite(a);
    if (bad >= 0) {
      throw new RangeError(`natgrad: eigen: A[${Math.floor(bad / n)}][${bad % n}] is not finite (${a[bad]})`);
    }
    // Scratch: a copy of A that the kernel destroys and, with vectors, overwrites with V
    // (in place, ldv = lda = n); 3n of work; the n eigenvalues.
    return withScratch(core, [8 * n * n, 8 * 3 * n, 8 * n], (pa, pwork, pw) => {
      core.f64(pa, n * n).set(core.f64(src, n * n));
      const info = core.exports.dsyevLower(n, wantVectors ? 1 : 0, 0, pa, n, pwork, pw, wantVectors ? pa : 0, n);
      if (info < 0) throw new RangeError('natgrad: eigen: A has a non-finite entry'); // checked above; defensive
      if (info !== 0) {
        throw new Error(
          `natgrad: the symmetric eigen-decomposition of a ${n} × ${n} matrix did not converge: ` + `the QL iteration exceeded 30·n = ${30 * n} sweeps at eigenvalue ${info} (1-based, unsorted)`,
        );
      }
      return {
        values: core.f64(pw, n).slice(),
        vectors: wantVectors ? core.f64(pa, n * n).slice() : undefined,
      };
    });
  }
}

/** `minRcond` validated: undefined (no check) or a number in [0, 1]. */
function checkMinRcond(minRcond: unknown): number | undefined {
  if (minRcond === undefined) return undefined;
  const t = checkScalar(minRcond, 'minRcond', 'nonnegative');
  if (t > 1) throw new RangeError(`natgrad: minRcond must be in [0, 1] (rcond is), got ${t}`);
  return t;
}

/** Σ|y_i|, or +Infinity if some entry is not finite. */
function asum(y: Float64Array): number {
  let s = 0;
  for (const v of y) s += Math.abs(v);
  return Number.isFinite(s) ? s : Infinity;
}

/** argmax_i |z_i| (the first one). */
function argmaxAbs(z: Float64Array): number {
  let j = 0;
  for (let i = 1; i < z.length; i++) if (Math.abs(z[i]!) > Math.abs(z[j]!)) j = i;
  return j;
}

/**
 * L with L Lᵀ = A + λI, resident in WebAssembly memory.
 *
 * Storage: the full n × n block that {@link SymMatrix.cholesky} copied from A; the lower
 * triangle (with the diagonal) holds L, the strict upper triangle still holds A's (the kernel
 * does not touch it), which is what {@link CholeskyFactor.rcond} reads ‖A + λI‖₁ from.
 *
 * @category Linear algebra
 */
export class CholeskyFactor extends Handle {
  readonly size: number;
  /** The λ that was added to the diagonal. */
  readonly damping: number;
  /** ‖A + λI‖₁, computed by the first {@link CholeskyFactor.rcond} call. */
  #norm1: number | undefined;

  /** @internal Takes ownership of the n × n block at `ptr` (lower triangle = L). */
  constructor(core: Core, size: number, damping: number, ptr: number) {
    super(core, [ptr]);
    this.size = size;
    this.damping = damping;
  }

  /** @internal Byte address of L (the lower triangle of n × n storage, leading dimension n). */
  factorPtr(): number {
    return this.ptr(0);
  }

  /**
   * x with (A + λI) x = b: forward then back substitution.
   * @param options `minRcond` in [0, 1]: refuse the solve when {@link CholeskyFactor.rcond}
   *        is below it (default: no check, no extra cost).
   * @throws IllConditionedError if `minRcond` is given and the estimated rcond is below it.
   */
  solve(b: VectorInput, options: ConditionOptions = {}): Float64Array {
    const o = checkOptions<ConditionOptions>(options, 'CholeskyFactor.solve', ['minRcond'], FACTOR_HINTS);
    const n = this.size;
    const x = toVector(b, n, 'b');
    this.checkCondition(o.minRcond);
    return withScratch(this.core, [8 * n], (px) => {
      this.core.f64(px, n).set(x);
      this.core.exports.dpotrsLower1(n, this.ptr(), n, px);
      return this.core.f64(px, n).slice();
    });
  }

  /**
   * X with (A + λI) X = B for the columns of B (n × k).
   * @param options `minRcond` as in {@link CholeskyFactor.solve}.
   * @throws IllConditionedError if `minRcond` is given and the estimated rcond is below it.
   */
  solveMany(B: DenseMatrix | number[][], options: ConditionOptions = {}): DenseMatrix {
    const o = checkOptions<ConditionOptions>(options, 'CholeskyFactor.solveMany', ['minRcond'], FACTOR_HINTS);
    const n = this.size;
    const b = toDense(B, 'B');
    if (b.rows !== n) throw new RangeError(`natgrad: B must have ${n} rows, got ${b.rows}`);
    this.checkCondition(o.minRcond);
    const k = b.cols;
    return withScratch(this.core, [8 * n * k], (pb) => {
      this.core.f64(pb, n * k).set(b.data);
      this.core.exports.dpotrsLower(n, k, this.ptr(), n, pb, k);
      return { data: this.core.f64(pb, n * k).slice(), rows: n, cols: k };
    });
  }

  /**
   * Estimate of the reciprocal condition number of A + λI in the 1-norm,
   * rcond ≈ 1 / (‖A + λI‖₁ · ‖(A + λI)⁻¹‖₁), as LAPACK's dpocon computes it.
   *
   * ‖A + λI‖₁ (the largest absolute column sum) is read once from the stored matrix and kept;
   * ‖(A + λI)⁻¹‖₁ is estimated by Hager's method as refined by Higham (LAPACK dlacn2): at most
   * five steps of a power-like iteration on the sign vectors, each one solve with L Lᵀ, plus
   * one solve with an alternating test vector; every step's value ‖(A + λI)⁻¹x‖₁/‖x‖₁ is a lower
   * bound, so the estimate never exceeds the true ‖(A + λI)⁻¹‖₁ (up to rounding) and rcond never
   * falls below the true value. In practice it is within a factor 3 of the true rcond, and often
   * exact. O(n²): at most 11 triangular solve pairs, about 22·n² flops, no allocation in
   * WebAssembly memory beyond one n-vector.
   *
   * A solution of (A + λI) x = b has a relative error (1-norm) of up to about eps/rcond, with
   * eps = 2⁻⁵² ≈ 2.2e-16: rcond near eps means that the system is numerically singular.
   * @returns rcond in [0, 1]: 1 for n = 0, 0 when ‖A + λI‖₁ = 0 or the solves overflow.
   * @example
   * SymMatrix.from([[2, 2], [2, 2]]).cholesky().rcond(); // ≈ 1e-16 (rank 1)
   * SymMatrix.from([[2, 1], [1, 2]]).cholesky().rcond(); // 1/3 (exact: ‖A‖₁ = 3, ‖A⁻¹‖₁ = 1)
   */
  rcond(): number {
    const n = this.size;
    if (n === 0) return 1;
    if (this.#norm1 === undefined) this.#norm1 = this.norm1();
    const anorm = this.#norm1;
    if (!(anorm > 0)) return 0;
    const ainv = this.inverseNorm1();
    if (!Number.isFinite(ainv) || !(ainv > 0)) return 0;
    return Math.min(1, 1 / ainv / anorm);
  }

  /** Throw IllConditionedError when minRcond is set and rcond() < minRcond. */
  private checkCondition(minRcond: number | undefined): void {
    const t = checkMinRcond(minRcond);
    if (t === undefined) return;
    const r = this.rcond();
    if (!(r >= t)) {
      throw new IllConditionedError(r, t, this.damping > 0 ? `A + ${this.damping}·I` : 'A');
    }
  }

  /**
   * ‖A + λI‖₁ = max_j Σ_i |(A + λI)[i][j]| (= the largest row sum: symmetric), from the
   * strict upper triangle (A's off-diagonal) and the diagonal of L Lᵀ, Σ_{k≤j} L[j][k]².
   */
  private norm1(): number {
    const n = this.size;
    const a = this.core.f64(this.ptr(), n * n);
    const col = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = i * n;
      let d = 0;
      for (let k = 0; k <= i; k++) d += a[r + k]! * a[r + k]!;
      col[i]! += d;
      for (let k = i + 1; k < n; k++) {
        const v = Math.abs(a[r + k]!);
        col[i]! += v;
        col[k]! += v;
      }
    }
    let m = 0;
    for (const c of col) m = Math.max(m, c);
    return m;
  }

  /**
   * Hager–Higham estimate of ‖B‖₁ for B = (L Lᵀ)⁻¹ (symmetric, so Bᵀ ξ = B ξ); +Infinity when
   * a solve overflows.
   */
  private inverseNorm1(): number {
    const n = this.size;
    const core = this.core;
    const L = this.ptr();
    return withScratch(core, [8 * n], (px) => {
      // y = B x; the view is re-derived on every call.
      const apply = (x: Float64Array): Float64Array => {
        core.f64(px, n).set(x);
        core.exports.dpotrsLower1(n, L, n, px);
        return core.f64(px, n).slice();
      };
      let y = apply(new Float64Array(n).fill(1 / n));
      let est = asum(y);
      if (n === 1 || est === Infinity) return est;
      let xi = y.map((v) => (v >= 0 ? 1 : -1));
      let z = apply(xi);
      let j = argmaxAbs(z);
      for (let iter = 2; ; iter++) {
        const e = new Float64Array(n);
        e[j] = 1;
        y = apply(e); // column j of B
        const old = est;
        est = Math.max(old, asum(y));
        if (est === Infinity) return est;
        const s = y.map((v) => (v >= 0 ? 1 : -1));
        if (est <= old || s.every((v, i) => v === xi[i])) break;
        xi = s;
        z = apply(xi);
        const last = j;
        j = argmaxAbs(z);
        if (Math.abs(z[last]!) === Math.abs(z[j]!) || iter >= 5) break;
      }
      // Higham's safeguard: x_i = (−1)^i (1 + i/(n−1)), ‖x‖₁ = 3n/2.
      const x = Float64Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (1 + i / (n - 1)));
      const alt = (2 * asum(apply(x))) / (3 * n);
      return Math.max(est, alt);
    });
  }

  /** log det(A + λI) = 2 Σ log L[i][i]. */
  logDet(): number {
    return this.core.exports.dpotrfLogDet(this.size, this.ptr(), this.size);
  }

  /** L as a full row-major n × n array (zeros above the diagonal). */
  toDense(): Float64Array {
    const n = this.size;
    const a = this.core.f64(this.ptr(), n * n).slice();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = 0;
    return a;
  }
}
