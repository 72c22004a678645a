/**
 * Symmetric eigen-decomposition (LAPACK dsyev with uplo = 'L'): Householder reduction of
 * the lower triangle to tridiagonal form (dsytd2), backward accumulation of the reflectors
 * (dorg2l), and the implicit QL iteration with Wilkinson-type shifts of EISPACK tql2
 * (as in JAMA). Eigenvalues are sorted ascending with their eigenvectors.
 *
 * Layout for speed: while the QL iteration runs, eigenvector k is row k of V (so each plane
 * rotation combines two contiguous rows, in SIMD), and V is transposed once at the end. Each
 * rotation is applied one step after the scalar recurrence produced it, so the latency-bound
 * recurrence (a square root and divisions per step) overlaps the throughput-bound row updates.
 *
 * Conventions:
 * - Pointers are byte addresses; n, leading dimensions and work lengths are in elements.
 * - Matrices are row-major; A is n × n with lda ≥ n; only its lower triangle is read
 *   (the strict upper triangle may hold anything, NaN included).
 * - 8-byte alignment suffices (16 from `alloc` is better); `v128.load` tolerates the rest.
 * - SIMD (two lanes, scalar tails for odd lengths) in the symmetric matrix-vector product and
 *   rank-2 update of the reduction, in the accumulation of the reflectors and in the plane
 *   rotations of the eigenvectors; the QL recurrence on the tridiagonal itself is scalar.
 *   In the relaxed binary the vector multiply-adds may fuse, so the two binaries may differ
 *   in the last bits of eigenvalues and eigenvectors (both within the bounds below). Within
 *   one binary, the eigenvalues do not depend on wantV, lda/ldv or in-place use (bit for bit).
 * - A is scaled by a power of two (exact) when max|A_ij| lies outside [2^-256, 2^256], and
 *   the eigenvalues are scaled back: matrices of magnitude 1e-300 or 1e300 are handled.
 *   Each Householder vector is likewise rescaled by a power of two before its norm is
 *   formed, so no square under- or overflows.
 *
 * Accuracy: backward stable. The computed eigenvalues λ̂ and vectors V̂ are exact for some
 * A + E with ‖E‖₂ = O(n·eps·‖A‖₂), so |λ̂_k − λ_k| ≤ c·n·eps·‖A‖₂ for every k (Weyl),
 * ‖A V̂ − V̂ diag(λ̂)‖ = O(n·eps·‖A‖) and ‖V̂ᵀV̂ − I‖ = O(n·eps). Eigenvectors of close
 * eigenvalues are individually ill-conditioned (only the invariant subspace is accurate).
 * Deflation uses EISPACK's absolute test |e_m| ≤ eps·max_{j≤l}(|d_j| + |e_j|), so eigenvalues
 * much smaller than ‖A‖ carry absolute, not relative, error.
 *
 * Status (LAPACK INFO): 0 on success; k ≥ 1 when the QL iteration ran out of its budget of
 * sweeps (30·n by default, for all eigenvalues together, as in LAPACK dsteqr) while working on
 * the k-th diagonal entry of the tridiagonal matrix: entries 1..k−1 had converged (unsorted),
 * and the outputs are otherwise unspecified; −4 (argument 4, `a`, as LAPACK dgesdd reports a
 * NaN) when the lower triangle of A holds a NaN or ±Inf: A has been read only, nothing written.
 * With finite input the exact-scaling above keeps every intermediate finite, and the loop tests
 * are written so that a NaN could never count as converged, so the kernel always terminates.
 */
import { fmadd, hsum, ld, st, ld2, st2 } from '../util/simd';
import { axpy, dot, scal } from '../util/vec';

/** 2^-52: the spacing of doubles at 1 (EISPACK's and JAMA's deflation tolerance). */
const EPS: f64 = 2.220446049250313e-16;
/** The whole matrix is rescaled when max|A_ij| is outside [RMIN, RMAX] (steps of 2^±256). */
const RMIN: f64 = 8.636168555094445e-78; // 2^-256
const RMAX: f64 = 1.157920892373162e77; // 2^256
/** A Householder vector is rescaled when its largest entry is outside [VMIN, VMAX]. */
const VMIN: f64 = 3.8725919148493183e-121; // 2^-400
const VMAX: f64 = 2.5822498780869086e120; // 2^400

/**
 * Eigenvalues, and optionally eigenvectors, of the symmetric matrix A:
 * A = V · diag(w) · Vᵀ with w ascending and V orthogonal.
 *
 * @param n         order of A (n ≥ 0; n = 0 returns 0 and touches nothing).
 * @param wantV     0: eigenvalues only (v and ldv are not referenced); otherwise also eigenvectors.
 * @param maxSweeps budget of implicit QL sweeps for all eigenvalues together; ≤ 0 means 30·n.
 * @param a         A, n × n row-major at byte address `a`, leading dimension lda ≥ n. Only the
 *                  lower triangle (j ≤ i) is read. A is destroyed: on return both triangles hold
 *                  intermediate results (the Householder vectors, in the strict upper triangle).
 * @param work      scratch of 3·n f64 (byte address); must not overlap A, w or V.
 * @param w         output: the n eigenvalues, ascending (byte address of n f64).
 * @param v         output when wantV ≠ 0: V, n × n row-major, leading dimension ldv ≥ n; column k
 *                  (V[i][k], i < n) is the unit eigenvector of w[k]. `v` may be the same address
 *                  as `a` when ldv = lda (in place: copy A into V's storage and pass it twice);
 *                  otherwise it must not overlap A.
 * @returns 0; k ≥ 1 if the QL iteration did not converge; −4 if A has a non-finite entry
 *          (see the module documentation).
 */
export function dsyevLower(n: i32, wantV: i32, maxSweeps: i32, a: usize, lda: i32, work: usize, w: usize, v: usize, ldv: i32): i32 {
  if (n <= 0) return 0;
  const e = work;
  const tau = work + (<usize>n << 3);
  const p = tau + (<usize>n << 3);

  // Bring max|A_ij| into [RMIN, RMAX] by exact powers of two.
  let anrm = maxAbsLower(n, a, lda);
  if (!(anrm < Infinity)) return -4; // NaN or ±Inf somewhere in the lower triangle
  let up = 0, down = 0;
  while (anrm > 0 && anrm < RMIN) {
    scaleLower(n, RMAX, a, lda);
    anrm *= RMAX;
    up++;
  }
  while (anrm > RMAX) {
    scaleLower(n, RMIN, a, lda);
    anrm *= RMIN;
    down++;
  }

  tridiagonalizeLower(n, a, lda, w, e, tau, p);
  if (wantV != 0) accumulateReflectors(n, a, lda, tau, v, ldv);
  const budget = maxSweeps > 0 ? maxSweeps : 30 * n;
  const info = implicitQl(n, budget, w, e, wantV != 0, v, ldv);
  if (info != 0) return info;

  sortAscending(n, w, wantV != 0, v, ldv);
  // Rows of V hold the eigenvectors so far (the rotations then run over contiguous rows):
  // transpose so that the columns do.
  if (wantV != 0) transposeInPlace(n, v, ldv);
  for (let i = 0; i < up; i++) scal(n, RMIN, w);
  for (let i = 0; i < down; i++) scal(n, RMAX, w);
  return 0;
}

/**
 * Householder tridiagonalization of the lower triangle (LAPACK dsytd2, uplo = 'L'):
 * Qᵀ A Q = T with Q = H_0 H_1 ⋯ H_{n−3}, H_k = I − τ_k v_k v_kᵀ, v_k[k+1] = 1, v_k[i] = 0 for i ≤ k.
 * On return d[0..n) is T's diagonal, e[0..n−1) its subdiagonal (e[k] = T[k+1][k]), tau[k] = τ_k,
 * and row k of A holds v_k in its columns k+1..n−1. p is scratch of n.
 */
function tridiagonalizeLower(n: i32, a: usize, lda: i32, d: usize, e: usize, tau: usize, p: usize): void {
  const rowBytes = <usize>lda << 3;
  for (let k = 0; k < n - 2; k++) {
    const rk = a + <usize>k * rowBytes;
    const u = rk + (<usize>(k + 1) << 3); // v_k lives in A[k][k+1..n−1] (contiguous)
    const m = n - k - 1;
    st(d, k, ld(rk, k));

    // x = A[k+1..n−1][k] (a column: strided) → u; its largest magnitude decides a rescaling.
    let smax = 0.0;
    let row = rk + rowBytes;
    for (let i = 0; i < m; i++) {
      const x = ld(row, k);
      st(u, i, x);
      smax = Math.max(smax, Math.abs(x));
      row += rowBytes;
    }
    let f = 1.0;
    if ((smax < VMIN || smax > VMAX) && smax > 0 && smax < Infinity) {
      f = pow2Normalizer(smax);
      scal(m, f, u);
    }

    // Householder reflector (LAPACK dlarfg) on the rescaled x: H x = β e_1.
    const alpha = ld(u, 0);
    const xn2 = sumSquares(m - 1, u + 8);
    if (xn2 == 0) {
      // x is already a multiple of e_1: H = I.
      st(e, k, alpha / f);
      st(tau, k, 0);
      continue;
    }
    let beta = Math.sqrt(alpha * alpha + xn2);
    if (alpha >= 0) beta = -beta;
    const t = (beta - alpha) / beta;
    scal(m - 1, 1.0 / (alpha - beta), u + 8);
    st(u, 0, 1.0);
    st(e, k, beta / f);
    st(tau, k, t);

    // A22 ← H A22 H on the trailing m × m lower triangle (rows/columns k+1..n−1):
    // p = τ A22 v; w = p − (τ/2)(pᵀv) v; A22 ← A22 − v wᵀ − w vᵀ.
    const a22 = rk + rowBytes + (<usize>(k + 1) << 3);
    symvLowerUnit(m, a22, rowBytes, u, p);
    scal(m, t, p);
    const c = -0.5 * t * dot(m, p, u);
    axpy(m, c, u, p);
    rank2UpdateLower(m, a22, rowBytes, u, p);
  }
  // The last 2 × 2 (or 1 × 1) block is already tridiagonal.
  if (n >= 2) {
    const r = a + <usize>(n - 2) * rowBytes;
    st(d, n - 2, ld(r, n - 2));
    st(e, n - 2, ld(r + rowBytes, n - 2));
  }
  st(d, n - 1, ld(a + <usize>(n - 1) * rowBytes, n - 1));
  st(e, n - 1, 0);
}

/**
 * y = A x for the symmetric m × m matrix whose lower triangle starts at byte address `a`
 * with row stride `rowBytes` (bytes). Row i adds dot(A[i][0..i], x[0..i]) + A[i][i]·x_i to
 * y_i and x_i·A[i][0..i) to y[0..i) (the mirrored upper part), in one fused SIMD pass.
 */
function symvLowerUnit(m: i32, a: usize, rowBytes: usize, x: usize, y: usize): void {
  for (let i = 0; i < m; i++) {
    const row = a + <usize>i * rowBytes;
    const xi = ld(x, i);
    const vxi = f64x2.splat(xi);
    let acc = f64x2.splat(0);
    let j = 0;
    for (; j + 2 <= i; j += 2) {
      const r = ld2(row, j);
      acc = fmadd(r, ld2(x, j), acc);
      st2(y, j, fmadd(vxi, r, ld2(y, j)));
    }
    let s = hsum(acc);
    if (j < i) {
      const r = ld(row, j);
      s += r * ld(x, j);
      st(y, j, xi * r + ld(y, j));
    }
    // Rows before i never touch y[i]; rows after i add to it.
    st(y, i, s + ld(row, i) * xi);
  }
}

/** A ← A − v wᵀ − w vᵀ on the lower triangle (j ≤ i) of the m × m block at `a` (row stride in bytes). */
function rank2UpdateLower(m: i32, a: usize, rowBytes: usize, v: usize, w: usize): void {
  for (let i = 0; i < m; i++) {
    const row = a + <usize>i * rowBytes;
    const vi = ld(v, i), wi = ld(w, i);
    const nvi = f64x2.splat(-vi), nwi = f64x2.splat(-wi);
    const len = i + 1;
    let j = 0;
    for (; j + 2 <= len; j += 2) {
      let r = ld2(row, j);
      r = fmadd(nvi, ld2(w, j), r);
      r = fmadd(nwi, ld2(v, j), r);
      st2(row, j, r);
    }
    if (j < len) st(row, j, ld(row, j) - vi * ld(w, j) - wi * ld(v, j));
  }
}

/**
 * Z = Qᵀ = H_{n−3} ⋯ H_1 H_0 (rows of Z are the columns of Q), formed backwards as in LAPACK
 * dorg2l: Z_k = Z_{k+1} H_k, where Z_{k+1} differs from I only in rows/columns ≥ k+2. Each
 * step first sets row and column k+1 of Z to those of I, then applies H_k from the right to
 * rows k+1..n−1 (a dot and an axpy per contiguous row). The reflector v_k is read from row k
 * of A, which Z overwrites only one step later, so Z may share A's storage (z = a, ldz = lda).
 */
function accumulateReflectors(n: i32, a: usize, lda: i32, tau: usize, z: usize, ldz: i32): void {
  const aRow = <usize>lda << 3;
  const zRow = <usize>ldz << 3;
  st(z + <usize>(n - 1) * zRow, n - 1, 1.0);
  for (let k = n - 2; k >= 0; k--) {
    const j = k + 1;
    const zj = z + <usize>j * zRow;
    st(zj, j, 1.0);
    for (let c = j + 1; c < n; c++) st(zj, c, 0);
    for (let r = j + 1; r < n; r++) st(z + <usize>r * zRow, j, 0);
    if (k > n - 3) continue;
    const t = ld(tau, k);
    if (t == 0) continue;
    const m = n - k - 1;
    const vk = a + <usize>k * aRow + (<usize>j << 3);
    let r = j;
    // Two rows at a time share the loads of v.
    for (; r + 2 <= n; r += 2) {
      const z0 = z + <usize>r * zRow + (<usize>j << 3);
      const z1 = z0 + zRow;
      const s0 = -t * dot(m, z0, vk);
      const s1 = -t * dot(m, z1, vk);
      axpy2(m, s0, s1, vk, z0, z1);
    }
    if (r < n) {
      const z0 = z + <usize>r * zRow + (<usize>j << 3);
      axpy(m, -t * dot(m, z0, vk), vk, z0);
    }
  }
  // Row and column 0 of Q are e_0.
  st(z, 0, 1.0);
  for (let c = 1; c < n; c++) st(z, c, 0);
  for (let r = 1; r < n; r++) st(z + <usize>r * zRow, 0, 0);
}

/**
 * EISPACK tql2 (JAMA's version): implicit QL with the shift of the leading 2 × 2 eigenvalue
 * closer to d[l], deflating when |e[m]| ≤ eps·max_{j≤l}(|d[j]| + |e[j]|). d (n) becomes the
 * eigenvalues (unsorted), e (n, e[k] = T[k+1][k]) is destroyed. When wantV, each rotation
 * G_i acting on (i, i+1) is applied to rows i and i+1 of Z, one step late (see the header).
 * @returns 0, or l + 1 when the sweep budget ran out while d[l] had not converged.
 */
function implicitQl(n: i32, budget: i32, d: usize, e: usize, wantV: bool, z: usize, ldz: i32): i32 {
  const zRow = <usize>ldz << 3;
  st(e, n - 1, 0);
  let f = 0.0, tst1 = 0.0;
  let sweeps = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(ld(d, l)) + Math.abs(ld(e, l)));
    // Negated tests so that NaN never counts as converged.
    let m = l;
    while (m < n - 1 && !(Math.abs(ld(e, m)) <= EPS * tst1)) m++;
    if (m > l) {
      do {
        if (sweeps >= budget) return l + 1;
        sweeps++;
        // Shift: eigenvalue of [[d_l, e_l], [e_l, d_{l+1}]] closer to d_l.
        let g = ld(d, l);
        let p = (ld(d, l + 1) - g) / (2.0 * ld(e, l));
        let r = pythag(p, 1.0);
        if (p < 0) r = -r;
        const el = ld(e, l);
        st(d, l, el / (p + r));
        st(d, l + 1, el * (p + r));
        const dl1 = ld(d, l + 1);
        let h = g - ld(d, l);
        for (let i = l + 2; i < n; i++) st(d, i, ld(d, i) - h);
        f += h;
        // Implicit QL sweep from the bottom (m) up to l.
        p = ld(d, m);
        let c = 1.0, c2 = 1.0, c3 = 1.0;
        const el1 = ld(e, l + 1);
        let s = 0.0, s2 = 0.0;
        let cPrev = 1.0, sPrev = 0.0; // the rotation of the previous step, not yet applied
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = ld(e, i);
          const di = ld(d, i);
          g = c * ei;
          h = c * p;
          r = pythag(p, ei);
          st(e, i + 1, s * r);
          s = ei / r;
          c = p / r;
          p = c * di - s * g;
          st(d, i + 1, h + s * (c * g + s * di));
          if (wantV) {
            // Rotation i+1 goes now, after rotation i's scalars were issued, and before i's rows.
            if (i < m - 1) rotateRows(n, cPrev, sPrev, z + <usize>(i + 1) * zRow, z + <usize>(i + 2) * zRow);
            cPrev = c;
            sPrev = s;
          }
        }
        if (wantV) rotateRows(n, cPrev, sPrev, z + <usize>l * zRow, z + <usize>(l + 1) * zRow);
        p = -s * s2 * c3 * el1 * ld(e, l) / dl1;
        st(e, l, s * p);
        st(d, l, c * p);
      } while (!(Math.abs(ld(e, l)) <= EPS * tst1));
    }
    st(d, l, ld(d, l) + f);
    st(e, l, 0);
  }
  return 0;
}

/**
 * (x, y) ← (c·x − s·y, s·x + c·y) for the rows x (at byte address zi) and y (zi1) of n
 * elements: the plane rotation of the QL step acting on (i, i+1), applied to eigenvector rows.
 */
// @ts-ignore: decorator
@inline function rotateRows(n: i32, c: f64, s: f64, zi: usize, zi1: usize): void {
  const vc = f64x2.splat(c), vs = f64x2.splat(s), vns = f64x2.splat(-s);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const x0 = ld2(zi, j), y0 = ld2(zi1, j), x1 = ld2(zi, j + 2), y1 = ld2(zi1, j + 2);
    st2(zi1, j, fmadd(vs, x0, f64x2.mul(vc, y0)));
    st2(zi, j, fmadd(vc, x0, f64x2.mul(vns, y0)));
    st2(zi1, j + 2, fmadd(vs, x1, f64x2.mul(vc, y1)));
    st2(zi, j + 2, fmadd(vc, x1, f64x2.mul(vns, y1)));
  }
  if (j + 2 <= n) {
    const x0 = ld2(zi, j), y0 = ld2(zi1, j);
    st2(zi1, j, fmadd(vs, x0, f64x2.mul(vc, y0)));
    st2(zi, j, fmadd(vc, x0, f64x2.mul(vns, y0)));
    j += 2;
  }
  if (j < n) {
    const x = ld(zi, j), y = ld(zi1, j);
    st(zi1, j, s * x + c * y);
    st(zi, j, c * x - s * y);
  }
}

/** Selection sort of d ascending (stable in the sense of fewest swaps), swapping rows of Z along. */
function sortAscending(n: i32, d: usize, wantV: bool, z: usize, ldz: i32): void {
  const zRow = <usize>ldz << 3;
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let best = ld(d, i);
    for (let j = i + 1; j < n; j++) {
      const x = ld(d, j);
      if (x < best) {
        k = j;
        best = x;
      }
    }
    if (k == i) continue;
    st(d, k, ld(d, i));
    st(d, i, best);
    if (wantV) {
      const zi = z + <usize>i * zRow, zk = z + <usize>k * zRow;
      let c = 0;
      for (; c + 2 <= n; c += 2) {
        const t = ld2(zi, c);
        st2(zi, c, ld2(zk, c));
        st2(zk, c, t);
      }
      if (c < n) {
        const t = ld(zi, c);
        st(zi, c, ld(zk, c));
        st(zk, c, t);
      }
    }
  }
}

/** Z ← Zᵀ for the n × n block at z (leading dimension ldz). */
function transposeInPlace(n: i32, z: usize, ldz: i32): void {
  const zRow = <usize>ldz << 3;
  for (let i = 1; i < n; i++) {
    const zi = z + <usize>i * zRow;
    for (let j = 0; j < i; j++) {
      const zj = z + <usize>j * zRow;
      const t = ld(zi, j);
      st(zi, j, ld(zj, i));
      st(zj, i, t);
    }
  }
}

/** max |A[i][j]| over the lower triangle (NaN if any entry is NaN). */
function maxAbsLower(n: i32, a: usize, lda: i32): f64 {
  let mx = f64x2.splat(0);
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const row = a + (<usize>i * <usize>lda << 3);
    const len = i + 1;
    let j = 0;
    for (; j + 2 <= len; j += 2) mx = f64x2.max(mx, f64x2.abs(ld2(row, j)));
    if (j < len) s = Math.max(s, Math.abs(ld(row, j)));
  }
  return Math.max(s, Math.max(f64x2.extract_lane(mx, 0), f64x2.extract_lane(mx, 1)));
}

/** A[i][j] *= alpha on the lower triangle. */
function scaleLower(n: i32, alpha: f64, a: usize, lda: i32): void {
  for (let i = 0; i < n; i++) scal(i + 1, alpha, a + (<usize>i * <usize>lda << 3));
}

/**
 * A power of two f with x·f in [1, 4) for finite x > 0 (in [2^-51, 2) for subnormal x), so that
 * multiplying by f is exact and squares of the rescaled entries neither over- nor underflow.
 */
// @ts-ignore: decorator
@inline function pow2Normalizer(x: f64): f64 {
  const ex = <i32>((reinterpret<u64>(x) >> 52) & 0x7ff);
  const fe = min(2046, max(1, 2046 - ex));
  return reinterpret<f64>(<u64>fe << 52);
}

/** sqrt(x² + y²) without overflow or harmful underflow. */
// @ts-ignore: decorator
@inline function pythag(x: f64, y: f64): f64 {
  const ax = Math.abs(x), ay = Math.abs(y);
  const big = Math.max(ax, ay), small = Math.min(ax, ay);
  if (big < 6.703903964971299e153 && small > 1.4916681462400413e-154) {
    return Math.sqrt(ax * ax + ay * ay); // big < 2^511, small > 2^-511: no over- or underflow
  }
  if (big == 0 || big == Infinity) return big;
  const q = small / big;
  return big * Math.sqrt(1.0 + q * q);
}

// @ts-ignore: decorator
@inline function sumSquares(n: i32, x: usize): f64 {
  return dot(n, x, x);
}

/** y0 += a0·x and y1 += a1·x in one pass over x. */
// @ts-ignore: decorator
@inline function axpy2(n: i32, a0: f64, a1: f64, x: usize, y0: usize, y1: usize): void {
  const v0 = f64x2.splat(a0), v1 = f64x2.splat(a1);
  let k = 0;
  for (; k + 2 <= n; k += 2) {
    const xv = ld2(x, k);
    st2(y0, k, fmadd(v0, xv, ld2(y0, k)));
    st2(y1, k, fmadd(v1, xv, ld2(y1, k)));
  }
  if (k < n) {
    const xk = ld(x, k);
    st(y0, k, a0 * xk + ld(y0, k));
    st(y1, k, a1 * xk + ld(y1, k));
  }
}

