/**
 * Damped Cholesky factorization and triangular solves (LAPACK dpotrf/dpotrs, lower).
 *
 * Conventions:
 * - Pointers are byte addresses; n, nrhs and leading dimensions are in elements.
 * - Matrices are row-major; A is n × n with lda ≥ n; only its lower triangle is read.
 * - 8-byte alignment suffices. SIMD over the inner products (two lanes along a row; the
 *   blocked loops of `dpotrfLower` and `dpotrsLower1` run over even lengths only, the
 *   others have a scalar tail for odd lengths); in the relaxed binary the multiply-adds
 *   may fuse.
 * - Status codes follow LAPACK INFO: 0 on success, or k ≥ 1, the 1-based index of the
 *   first pivot that is not positive (or is NaN or +Inf); that pivot's value is left at
 *   A[k-1][k-1].
 */
import { fmadd, hsum, ld, st, ld2, st2 } from '../util/simd';
import { axpy, dot, scal } from '../util/vec';

/**
 * In place: lower triangle of A ← L with L Lᵀ = A + λI. The strict upper triangle is not touched.
 *
 * Left-looking (Crout) by pairs of columns, with dot products along the rows (contiguous
 * in row-major storage): for columns (j, j+1) every row i ≥ j needs
 * s_i0 = Σ_{k<j} L[i][k]·L[j][k] and s_i1 = Σ_{k<j} L[i][k]·L[j+1][k]. Rows below the 2 × 2
 * diagonal block go four at a time through 4 × 2 tiles (8 f64x2 accumulators, 6 loads per
 * 8 multiply-adds); j is even, so the k loops have no tail. Remaining rows go one at a time;
 * an odd n ends with a single column. Divisions by the pivots are multiplications by their
 * reciprocals. About n³/3 flops; ≈ 26 GF/s at n = 512 on the project's Zen machines.
 *
 * @returns 0, or the 1-based index k of the first pivot that is not positive (or is NaN or
 *          +Inf); A[k-1][k-1] then holds the failing value (A[k-1][k-1] + λ minus the squares
 *          of row k−1 of L) and the factorization is incomplete: rows < k of the columns
 *          < k−1 hold L, other entries below the diagonal may still hold A.
 */
export function dpotrfLower(n: i32, lambda: f64, a: usize, lda: i32): i32 {
  const rb = <usize>lda << 3;
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const rj = a + <usize>j * rb, rj1 = rj + rb;
    // The 2 × 2 diagonal block.
    let s00 = f64x2.splat(0), s10 = f64x2.splat(0), s11 = f64x2.splat(0);
    for (let k = 0; k < j; k += 2) {
      const u = ld2(rj, k), v = ld2(rj1, k);
      s00 = fmadd(u, u, s00); s10 = fmadd(v, u, s10); s11 = fmadd(v, v, s11);
    }
    const p0 = ld(rj, j) + lambda - hsum(s00);
    if (!(p0 > 0) || p0 == Infinity) {
      st(rj, j, p0);
      return j + 1;
    }
    const l00 = Math.sqrt(p0);
    const inv0 = 1.0 / l00;
    st(rj, j, l00);
    const l10 = (ld(rj1, j) - hsum(s10)) * inv0;
    st(rj1, j, l10);
    const p1 = ld(rj1, j + 1) + lambda - hsum(s11) - l10 * l10;
    if (!(p1 > 0) || p1 == Infinity) {
      st(rj1, j + 1, p1);
      return j + 2;
    }
    const l11 = Math.sqrt(p1);
    const inv1 = 1.0 / l11;
    st(rj1, j + 1, l11);
    // Rows below, four at a time.
    let i = j + 2;
    for (; i + 4 <= n; i += 4) {
      const r0 = a + <usize>i * rb;
      const r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
      let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
      let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
      for (let k = 0; k < j; k += 2) {
        const u = ld2(rj, k), v = ld2(rj1, k);
        let x = ld2(r0, k);
        c00 = fmadd(x, u, c00); c01 = fmadd(x, v, c01);
        x = ld2(r1, k);
        c10 = fmadd(x, u, c10); c11 = fmadd(x, v, c11);
        x = ld2(r2, k);
        c20 = fmadd(x, u, c20); c21 = fmadd(x, v, c21);
        x = ld2(r3, k);
        c30 = fmadd(x, u, c30); c31 = fmadd(x, v, c31);
      }
      finishRow(r0, j, pairSum(c00, c01), inv0, inv1, l10);
      finishRow(r1, j, pairSum(c10, c11), inv0, inv1, l10);
      finishRow(r2, j, pairSum(c20, c21), inv0, inv1, l10);
      finishRow(r3, j, pairSum(c30, c31), inv0, inv1, l10);
    }
    for (; i < n; i++) {
      const r0 = a + <usize>i * rb;
      let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
      for (let k = 0; k < j; k += 2) {
        const x = ld2(r0, k);
        c00 = fmadd(x, ld2(rj, k), c00);
        c01 = fmadd(x, ld2(rj1, k), c01);
      }
      finishRow(r0, j, pairSum(c00, c01), inv0, inv1, l10);
    }
  }
  if (j < n) {
    // Odd n: the last column has only its diagonal entry.
    const rj = a + <usize>j * rb;
    let s0 = f64x2.splat(0);
    for (let k = 0; k < j; k += 2) {
      const u = ld2(rj, k);
      s0 = fmadd(u, u, s0);
    }
    const p = ld(rj, j) + lambda - hsum(s0);
    if (!(p > 0) || p == Infinity) {
      st(rj, j, p);
      return j + 1;
    }
    st(rj, j, Math.sqrt(p));
  }
  return 0;
}

/** [x0 + x1, y0 + y1]: the horizontal sums of two accumulators in one vector. */
// @ts-ignore: decorator
@inline function pairSum(x: v128, y: v128): v128 {
  return f64x2.add(v128.shuffle<f64>(x, y, 0, 2), v128.shuffle<f64>(x, y, 1, 3));
}

/**
 * Row r below the diagonal block at (j, j): from t = [s_r0, s_r1],
 * L[r][j] = (A[r][j] − s_r0)/L[j][j], L[r][j+1] = (A[r][j+1] − s_r1 − L[r][j]·L[j+1][j])/L[j+1][j+1].
 */
// @ts-ignore: decorator
@inline function finishRow(r: usize, j: i32, t: v128, inv0: f64, inv1: f64, l10: f64): void {
  const u = f64x2.sub(ld2(r, j), t);
  const x0 = f64x2.extract_lane(u, 0) * inv0;
  st(r, j, x0);
  st(r, j + 1, (f64x2.extract_lane(u, 1) - x0 * l10) * inv1);
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
    scal(nrhs, 1.0 / ld(li, i), bi);
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
    scal(nrhs, 1.0 / ld(li, i), bi);
    for (let k = 0; k < i; k++) axpy(nrhs, -ld(li, k), bi, b + <usize>k * bBytes);
  }
}

/**
 * Solve (L Lᵀ) x = b in place for one right-hand side (contiguous b of n elements).
 * Forward substitution four rows at a time: the dot products of rows i … i+3 of L with
 * y[0 … i) (4 accumulators, i a multiple of 4 so no tail), then the 4 × 4 triangle; the
 * last n mod 4 rows one at a time. Back substitution: the last n mod 4 rows as row axpys,
 * then four rows at a time from the bottom — solve the 4 × 4 triangle, then subtract the
 * four rows' contributions from x[0 … i) in one pass. Divides by the diagonal.
 */
export function dpotrsLower1(n: i32, a: usize, lda: i32, b: usize): void {
  const rb = <usize>lda << 3;
  const n4 = n & ~3;
  // L y = b.
  for (let i = 0; i < n4; i += 4) {
    const r0 = a + <usize>i * rb;
    const r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
    for (let k = 0; k < i; k += 2) {
      const y = ld2(b, k);
      s0 = fmadd(ld2(r0, k), y, s0);
      s1 = fmadd(ld2(r1, k), y, s1);
      s2 = fmadd(ld2(r2, k), y, s2);
      s3 = fmadd(ld2(r3, k), y, s3);
    }
    const y0 = (ld(b, i) - hsum(s0)) / ld(r0, i);
    const y1 = (ld(b, i + 1) - hsum(s1) - ld(r1, i) * y0) / ld(r1, i + 1);
    const y2 = (ld(b, i + 2) - hsum(s2) - ld(r2, i) * y0 - ld(r2, i + 1) * y1) / ld(r2, i + 2);
    const y3 = (ld(b, i + 3) - hsum(s3) - ld(r3, i) * y0 - ld(r3, i + 1) * y1 - ld(r3, i + 2) * y2) / ld(r3, i + 3);
    st(b, i, y0); st(b, i + 1, y1); st(b, i + 2, y2); st(b, i + 3, y3);
  }
  for (let i = n4; i < n; i++) {
    const li = a + <usize>i * rb;
    st(b, i, (ld(b, i) - dot(i, li, b)) / ld(li, i));
  }
  // Lᵀ x = y.
  for (let i = n - 1; i >= n4; i--) {
    const li = a + <usize>i * rb;
    const xi = ld(b, i) / ld(li, i);
    st(b, i, xi);
    axpy(i, -xi, li, b);
  }
  for (let i = n4 - 4; i >= 0; i -= 4) {
    const r0 = a + <usize>i * rb;
    const r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
    const x3 = ld(b, i + 3) / ld(r3, i + 3);
    const x2 = (ld(b, i + 2) - ld(r3, i + 2) * x3) / ld(r2, i + 2);
    const x1 = (ld(b, i + 1) - ld(r2, i + 1) * x2 - ld(r3, i + 1) * x3) / ld(r1, i + 1);
    const x0 = (ld(b, i) - ld(r1, i) * x1 - ld(r2, i) * x2 - ld(r3, i) * x3) / ld(r0, i);
    st(b, i, x0); st(b, i + 1, x1); st(b, i + 2, x2); st(b, i + 3, x3);
    const v0 = f64x2.splat(-x0), v1 = f64x2.splat(-x1), v2 = f64x2.splat(-x2), v3 = f64x2.splat(-x3);
    for (let k = 0; k < i; k += 2) {
      let y = ld2(b, k);
      y = fmadd(v0, ld2(r0, k), y);
      y = fmadd(v1, ld2(r1, k), y);
      y = fmadd(v2, ld2(r2, k), y);
      y = fmadd(v3, ld2(r3, k), y);
      st2(b, k, y);
    }
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

