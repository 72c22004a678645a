/**
 * Weighted outer-product (Gram / Fisher) accumulation.
 *
 *   C += Σ_n w_n · x_n x_nᵀ          (x_n = row n of X)
 *
 * Only the lower triangle of C (j ≤ i) is read and written; `dsymMirrorLower`
 * (blas.ts) fills the upper triangle when a full matrix is wanted.
 *
 * Conventions:
 * - Pointers are byte addresses; n, d, leading dimensions and increments are in elements.
 * - X is row-major N × d with leading dimension ldx ≥ d; C is d × d with ldc ≥ d.
 * - `w = 0` (null) means all weights are 1; otherwise weight n is `w[n · incw]`
 *   (incw lets the caller pick one entry per sample out of a per-sample M × M block).
 * - C must not alias X or w. Alignment: 8 bytes suffices.
 * - Dense kernel: 4 × 4 register blocks (8 f64x2 accumulators) over the lower block
 *   triangle; rows d − (d mod 4) … d − 1 are done one row at a time with 4-, 2- and
 *   1-wide column tails. Flops: N·d·(d+1) useful (the lower triangle), N·(d4²+… )
 *   executed including the masked halves of diagonal blocks.
 * - The relaxed binary may fuse the multiply-adds (see util/simd.ts).
 */
import { fmadd, ld, st, ld2 } from './util/simd';

// @ts-ignore: decorator
@inline function weight(w: usize, incw: i32, k: i32): f64 {
  return w == 0 ? 1.0 : ld(w, <isize>k * incw);
}

/**
 * C[i][j] += Σ_{k<n} w_k X[k][i] X[k][j] for 0 ≤ j ≤ i < d (dense X).
 * @param n    rows of X (samples), ≥ 0
 * @param d    columns of X, ≥ 0
 * @param x    byte address of X
 * @param ldx  leading dimension of X in elements (≥ d)
 * @param w    byte address of the weights, or 0 for unit weights
 * @param incw weight increment in elements
 * @param c    byte address of C (output, accumulated into)
 * @param ldc  leading dimension of C in elements (≥ d)
 */
export function dsyrkLower(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, c: usize, ldc: i32): void {
  const d4 = d & ~3;
  const rowBytes = <usize>ldx << 3;
  for (let i0 = 0; i0 < d4; i0 += 4) {
    for (let j0 = 0; j0 <= i0; j0 += 4) {
      let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
      let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
      let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
      let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
      let row = x;
      for (let k = 0; k < n; k++, row += rowBytes) {
        const wk = f64x2.splat(weight(w, incw, k));
        const b0 = f64x2.mul(ld2(row, j0), wk);
        const b1 = f64x2.mul(ld2(row, j0 + 2), wk);
        const a0 = f64x2.splat(ld(row, i0));
        const a1 = f64x2.splat(ld(row, i0 + 1));
        const a2 = f64x2.splat(ld(row, i0 + 2));
        const a3 = f64x2.splat(ld(row, i0 + 3));
        c00 = fmadd(a0, b0, c00); c01 = fmadd(a0, b1, c01);
        c10 = fmadd(a1, b0, c10); c11 = fmadd(a1, b1, c11);
        c20 = fmadd(a2, b0, c20); c21 = fmadd(a2, b1, c21);
        c30 = fmadd(a3, b0, c30); c31 = fmadd(a3, b1, c31);
      }
      const full = j0 < i0;
      addBlockRow(c, ldc, i0, j0, c00, c01, full ? 4 : 1);
      addBlockRow(c, ldc, i0 + 1, j0, c10, c11, full ? 4 : 2);
      addBlockRow(c, ldc, i0 + 2, j0, c20, c21, full ? 4 : 3);
      addBlockRow(c, ldc, i0 + 3, j0, c30, c31, 4);
    }
  }
  // Remaining rows, one at a time, columns 0..i.
  for (let i = d4; i < d; i++) {
    let j = 0;
    for (; j + 4 <= i + 1; j += 4) {
      let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
      let row = x;
      for (let k = 0; k < n; k++, row += rowBytes) {
        const a = f64x2.splat(ld(row, i) * weight(w, incw, k));
        s0 = fmadd(a, ld2(row, j), s0);
        s1 = fmadd(a, ld2(row, j + 2), s1);
      }
      addBlockRow(c, ldc, i, j, s0, s1, 4);
    }
    if (j + 2 <= i + 1) {
      let s0 = f64x2.splat(0);
      let row = x;
      for (let k = 0; k < n; k++, row += rowBytes) {
        s0 = fmadd(f64x2.splat(ld(row, i) * weight(w, incw, k)), ld2(row, j), s0);
      }
      addBlockRow(c, ldc, i, j, s0, f64x2.splat(0), 2);
      j += 2;
    }
    if (j <= i) {
      let s = 0.0;
      let row = x;
      for (let k = 0; k < n; k++, row += rowBytes) s += ld(row, i) * weight(w, incw, k) * ld(row, j);
      const p = <isize>i * ldc + j;
      st(c, p, ld(c, p) + s);
    }
  }
}

/** C[i][j0 + t] += lane t of (v0, v1) for t < count (count ≤ 4). */
// @ts-ignore: decorator
@inline function addBlockRow(c: usize, ldc: i32, i: i32, j0: i32, v0: v128, v1: v128, count: i32): void {
  const p = <isize>i * ldc + j0;
  st(c, p, ld(c, p) + f64x2.extract_lane(v0, 0));
  if (count > 1) st(c, p + 1, ld(c, p + 1) + f64x2.extract_lane(v0, 1));
  if (count > 2) st(c, p + 2, ld(c, p + 2) + f64x2.extract_lane(v1, 0));
  if (count > 3) st(c, p + 3, ld(c, p + 3) + f64x2.extract_lane(v1, 1));
}

/**
 * Sparse-row (CSR) version of `dsyrkLower`: C[i][j] += Σ_k w_k X[k][i] X[k][j], j ≤ i,
 * touching only the non-zeros: cost Σ_k nnz_k (nnz_k + 1) / 2 multiply-adds.
 * @param n       rows of X
 * @param indptr  byte address of n + 1 i32 row pointers (non-decreasing, indptr[0] = 0)
 * @param indices byte address of i32 column indices, strictly increasing within a row, < d
 * @param values  byte address of the f64 non-zero values
 * @param w       weights (0 = unit), increment incw (elements)
 * @param c       byte address of C (d × d, ldc ≥ d), lower triangle accumulated
 */
export function dsyrkLowerCsr(n: i32, indptr: usize, indices: usize, values: usize, w: usize, incw: i32, c: usize, ldc: i32): void {
  for (let k = 0; k < n; k++) {
    const p0 = load<i32>(indptr + (<usize>k << 2));
    const p1 = load<i32>(indptr + (<usize>(k + 1) << 2));
    const wk = weight(w, incw, k);
    for (let p = p0; p < p1; p++) {
      const i = load<i32>(indices + (<usize>p << 2));
      const vi = ld(values, p) * wk;
      const crow = c + (<usize>i * <usize>ldc << 3);
      for (let q = p0; q <= p; q++) {
        const j = load<i32>(indices + (<usize>q << 2));
        st(crow, j, ld(crow, j) + vi * ld(values, q));
      }
    }
  }
}

/**
 * Block Fisher of the linear M-output model: with J_n = I_M ⊗ x_nᵀ,
 *
 *   C += Σ_n J_nᵀ Λ_n J_n,   block (a, b) of C (d × d, at rows a·d, cols b·d) += Σ_n Λ_n[a][b] x_n x_nᵀ.
 *
 * Λ is N × M × M row-major (Λ_n at lam + 8·n·M·M), symmetric per sample; only Λ_n[a][b]
 * with b ≤ a is read. C is D × D (D = M·d, ldc ≥ D). Writes the lower triangle of C,
 * including the full off-diagonal blocks (a > b), like `dsyrkLower`.
 * Cost: M(M+1)/2 weighted Gram passes over X.
 */
export function dsyrkBlocksLower(n: i32, d: i32, m: i32, x: usize, ldx: i32, lam: usize, c: usize, ldc: i32): void {
  const mm = m * m;
  for (let a = 0; a < m; a++) {
    for (let b = 0; b <= a; b++) {
      const blk = c + ((<usize>a * <usize>d * <usize>ldc + <usize>b * <usize>d) << 3);
      dsyrkLower(n, d, x, ldx, lam + (<usize>(a * m + b) << 3), mm, blk, ldc);
      if (a != b) {
        // Off-diagonal block: Σ Λ_ab x xᵀ is symmetric, complete its upper part from its lower part.
        for (let i = 0; i < d; i++) {
          for (let j = i + 1; j < d; j++) {
            st(blk, <isize>i * ldc + j, ld(blk, <isize>j * ldc + i));
          }
        }
      }
    }
  }
}

/**
 * Rank-one update of the lower triangle: C[i][j] += alpha · u[i] · v[j] for j ≤ i < d
 * (u, v contiguous, d elements; C d × d, ldc ≥ d). With u = v = ḡ and alpha = −1 it turns
 * the empirical Fisher into the gradient covariance (Σ̂ = F̃ − ḡḡᵀ).
 */
export function dgerLower(d: i32, alpha: f64, u: usize, v: usize, c: usize, ldc: i32): void {
  for (let i = 0; i < d; i++) {
    const crow = c + (<usize>i * <usize>ldc << 3);
    const ai = alpha * ld(u, i);
    let j = 0;
    const va = f64x2.splat(ai);
    for (; j + 2 <= i + 1; j += 2) v128.store(crow + (<usize>j << 3), fmadd(va, ld2(v, j), ld2(crow, j)));
    if (j <= i) st(crow, j, ld(crow, j) + ai * ld(v, j));
  }
}
