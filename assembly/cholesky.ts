/**
 * Damped Cholesky factorization and triangular solves (LAPACK dpotrf/dpotrs, lower).
 *
 * Conventions:
 * - Pointers are byte addresses; n, nrhs and leading dimensions are in elements.
 * - Matrices are row-major; A is n × n with lda ≥ n; only its lower triangle is read.
 * - 8-byte alignment suffices. SIMD over the inner products (two lanes, scalar tail
 *   for odd lengths); in the relaxed binary the multiply-adds may fuse.
 * - Status codes follow LAPACK INFO: 0 on success, or k ≥ 1, the 1-based index of the
 *   first pivot that is not positive (or is NaN); that pivot's value is left at A[k-1][k-1].
 */
import { fmadd, hsum, ld, st, ld2, st2 } from './util/simd';

/**
 * In place: lower triangle of A ← L with L Lᵀ = A + λI (Crout order, column by column;
 * the four rows below the diagonal that share column j are updated together so that
 * row j of L is loaded once per four rows). The strict upper triangle is not touched.
 * @returns 0, or the 1-based index of the first non-positive pivot (A's diagonal then
 *          holds the failing value at that index; the factorization is incomplete).
 */
export function dpotrfLower(n: i32, lambda: f64, a: usize, lda: i32): i32 {
  const rowBytes = <usize>lda << 3;
  for (let j = 0; j < n; j++) {
    const rj = a + <usize>j * rowBytes;
    const s = ld(rj, j) + lambda - dot(j, rj, rj);
    if (!(s > 0) || s == Infinity) {
      st(rj, j, s);
      return j + 1;
    }
    const ljj = Math.sqrt(s);
    st(rj, j, ljj);
    const inv = 1.0 / ljj;
    let i = j + 1;
    for (; i + 4 <= n; i += 4) {
      const r0 = a + <usize>i * rowBytes;
      const r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
      let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
      let k = 0;
      for (; k + 2 <= j; k += 2) {
        const v = ld2(rj, k);
        s0 = fmadd(ld2(r0, k), v, s0);
        s1 = fmadd(ld2(r1, k), v, s1);
        s2 = fmadd(ld2(r2, k), v, s2);
        s3 = fmadd(ld2(r3, k), v, s3);
      }
      let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
      if (k < j) {
        const v = ld(rj, k);
        t0 += ld(r0, k) * v; t1 += ld(r1, k) * v; t2 += ld(r2, k) * v; t3 += ld(r3, k) * v;
      }
      st(r0, j, (ld(r0, j) - t0) * inv);
      st(r1, j, (ld(r1, j) - t1) * inv);
      st(r2, j, (ld(r2, j) - t2) * inv);
      st(r3, j, (ld(r3, j) - t3) * inv);
    }
    for (; i < n; i++) {
      const ri = a + <usize>i * rowBytes;
      st(ri, j, (ld(ri, j) - dot(j, ri, rj)) * inv);
    }
  }
  return 0;
}

// @ts-ignore: decorator
@inline function dot(n: i32, x: usize, y: usize): f64 {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    a0 = fmadd(ld2(x, k), ld2(y, k), a0);
    a1 = fmadd(ld2(x, k + 2), ld2(y, k + 2), a1);
  }
  if (k + 2 <= n) { a0 = fmadd(ld2(x, k), ld2(y, k), a0); k += 2; }
  let s = hsum(f64x2.add(a0, a1));
  if (k < n) s += ld(x, k) * ld(y, k);
  return s;
}

/**
 * Solve L Y = B in place (forward substitution), B n × nrhs row-major (ldb ≥ nrhs),
 * L the lower triangle of a (lda ≥ n) with a non-zero diagonal. Row i of Y is
 * (B[i] − Σ_{k<i} L[i][k]·Y[k]) / L[i][i], as SIMD axpys over the nrhs columns.
 */
export function dtrsmLowerLeft(n: i32, nrhs: i32, a: usize, lda: i32, b: usize, ldb: i32): void {
  const bBytes = <usize>ldb << 3;
  for (let i = 0; i < n; i++) {
    const li = a + (<usize>i * <usize>lda << 3);
    const bi = b + <usize>i * bBytes;
    for (let k = 0; k < i; k++) axpy(nrhs, -ld(li, k), b + <usize>k * bBytes, bi);
    scale(nrhs, 1.0 / ld(li, i), bi);
  }
}

/**
 * Solve Lᵀ X = B in place (back substitution), B n × nrhs row-major (ldb ≥ nrhs).
 * Column-oriented: once row i of X is final, row i of L (contiguous) updates the rows above.
 */
export function dtrsmLowerTransLeft(n: i32, nrhs: i32, a: usize, lda: i32, b: usize, ldb: i32): void {
  const bBytes = <usize>ldb << 3;
  for (let i = n - 1; i >= 0; i--) {
    const li = a + (<usize>i * <usize>lda << 3);
    const bi = b + <usize>i * bBytes;
    scale(nrhs, 1.0 / ld(li, i), bi);
    for (let k = 0; k < i; k++) axpy(nrhs, -ld(li, k), bi, b + <usize>k * bBytes);
  }
}

/**
 * Solve (L Lᵀ) x = b in place for one right-hand side (contiguous b of n elements):
 * forward substitution with row dot products, back substitution with row axpys.
 */
export function dpotrsLower1(n: i32, a: usize, lda: i32, b: usize): void {
  const rowBytes = <usize>lda << 3;
  for (let i = 0; i < n; i++) {
    const li = a + <usize>i * rowBytes;
    st(b, i, (ld(b, i) - dot(i, li, b)) / ld(li, i));
  }
  for (let i = n - 1; i >= 0; i--) {
    const li = a + <usize>i * rowBytes;
    const xi = ld(b, i) / ld(li, i);
    st(b, i, xi);
    axpy(i, -xi, li, b);
  }
}

/** Solve (L Lᵀ) X = B in place for nrhs right-hand sides stored as the columns of B (n × nrhs, ldb ≥ nrhs). */
export function dpotrsLower(n: i32, nrhs: i32, a: usize, lda: i32, b: usize, ldb: i32): void {
  if (nrhs == 1 && ldb == 1) {
    dpotrsLower1(n, a, lda, b);
    return;
  }
  dtrsmLowerLeft(n, nrhs, a, lda, b, ldb);
  dtrsmLowerTransLeft(n, nrhs, a, lda, b, ldb);
}

/** Σ_i log L[i][i] · 2 = log det(L Lᵀ) for a successful factor. */
export function dpotrfLogDet(n: i32, a: usize, lda: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) s += Math.log(ld(a, <isize>i * lda + i));
  return 2 * s;
}

// @ts-ignore: decorator
@inline function axpy(n: i32, alpha: f64, x: usize, y: usize): void {
  const va = f64x2.splat(alpha);
  let k = 0;
  for (; k + 2 <= n; k += 2) st2(y, k, fmadd(va, ld2(x, k), ld2(y, k)));
  if (k < n) st(y, k, alpha * ld(x, k) + ld(y, k));
}

// @ts-ignore: decorator
@inline function scale(n: i32, alpha: f64, x: usize): void {
  const va = f64x2.splat(alpha);
  let k = 0;
  for (; k + 2 <= n; k += 2) st2(x, k, f64x2.mul(va, ld2(x, k)));
  if (k < n) st(x, k, alpha * ld(x, k));
}
