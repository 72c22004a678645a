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
 *   Columns d … ldx − 1 of X are never read.
 * - `w = 0` (null) means all weights are 1; otherwise weight n is `w[n · incw]`
 *   (incw lets the caller pick one entry per sample out of a per-sample M × M block).
 * - C must not alias X or w. Alignment: 8 bytes suffices.
 * - The relaxed binary may fuse the multiply-adds (see util/simd.ts).
 *
 * Dense kernel (`dsyrkLower`), GotoBLAS-style:
 * - X is processed in k-blocks of ≤ 512 rows (samples), of equal sizes. Each is packed into a
 *   static workspace inside the module (`PACK`, 512 KiB, 64-byte aligned): panels of
 *   4 columns of X, kc × 4 contiguous, for the row side of C, and for each column panel
 *   of C a kc × 4 panel of w_k·X[k][j0 … j0+3]. Panels past column d are zero-filled, so
 *   the inner loop has no tails; only the stores into C are masked (j ≤ i, j < d).
 * - Micro-kernel: a 4 × 4 block of C in 8 f64x2 accumulators; per sample 2 vector loads
 *   (weighted panel), 4 load-and-splats (row panel), 8 multiply-adds. V8 keeps 15 xmm
 *   registers for values and hoists all loads of an iteration ahead of the arithmetic, so
 *   larger blocks (6 × 4, or unrolling over samples) spill accumulators and run slower.
 * - Only blocks touching the lower triangle are computed; a diagonal block computes 16
 *   products and keeps 10, so the kernel executes N·d4·(d4+4) flops for N·d·(d+1) useful
 *   ones (d4 = d rounded up to a multiple of 4; +2.4 % at d = 124).
 * - Packing costs about 2·N·d loads and stores (the weighted panels are packed once per
 *   k-block and row block), small next to the N·d²/2 multiply-adds once d ≳ 16.
 * - For d > 1020 the row side is split into blocks of 1020 rows of C (kc ≤ 64) so the
 *   packed panels still fit the workspace.
 * - X, w and C must lie outside the workspace (true of every block from `alloc`).
 * - The workspace makes the kernel non-reentrant within one instance: calls must not
 *   overlap. Instances that share one memory across threads (the threaded core) each get
 *   their own workspace with `gramSetWorkspace` (a per-instance global; the static block is
 *   the default and stays the main thread's).
 * - Threads split the work by output column panels (`dsyrkLowerRange`): every entry of C is
 *   computed by exactly the same sequence of operations whatever the split, so results are
 *   bitwise identical for any thread count.
 */
import { fmadd, ld, st, ld2 } from '../util/simd';

// @ts-ignore: decorator
@inline function weight(w: usize, incw: i32, k: i32): f64 {
  return w == 0 ? 1.0 : ld(w, <isize>k * incw);
}

/** Packing workspace of the dense kernel, in f64 elements (512 KiB). */
// @ts-ignore: decorator
@inline const PACK_DOUBLES: i32 = 65536;
/** Byte address of the packing workspace (static, 64-byte aligned, not part of the heap). */
const PACK_STATIC: usize = memory.data(PACK_DOUBLES << 3, 64);
/** This instance's packing workspace (the static block unless `gramSetWorkspace` moved it). */
let PACK: usize = PACK_STATIC;

/** Bytes of the dense kernel's packing workspace (what `gramSetWorkspace` expects). */
export function gramWorkspaceBytes(): i32 {
  return PACK_DOUBLES << 3;
}

/**
 * Point this instance's dense Gram kernel at its own workspace: `ptr` is the byte address of
 * `gramWorkspaceBytes()` bytes (16-byte aligned suffices, 64 is best) that no other instance
 * uses, or 0 for the static block. For the worker instances of the threaded core.
 */
export function gramSetWorkspace(ptr: usize): void {
  PACK = ptr == 0 ? PACK_STATIC : ptr;
}
/** Largest k-block (samples per packed block). */
// @ts-ignore: decorator
@inline const KC_MAX: i32 = 512;
/** Smallest k-block; below it the row side of C is blocked instead. */
// @ts-ignore: decorator
@inline const KC_MIN: i32 = 64;

/**
 * C[i][j] += Σ_{k<n} w_k X[k][i] X[k][j] for 0 ≤ j ≤ i < d (dense X), with the packed
 * 4 × 4 register-blocked kernel described in the module header.
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
  dsyrkLowerRange(n, d, x, ldx, w, incw, c, ldc, 0, d);
}

/**
 * `dsyrkLower` restricted to the column panels j0 ∈ [jb, je) of C (every C[i][j], j ≤ i, with
 * jb ≤ j < je): the threads' share of one Gram matrix. jb must be a multiple of 4 and je a
 * multiple of 4 or d (0 ≤ jb ≤ je ≤ d); entries are computed exactly as by the full call.
 * Packs only the row panels i0 ≥ jb that the range reaches.
 */
export function dsyrkLowerRange(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, c: usize, ldc: i32, jb: i32, je: i32): void {
  if (n <= 0 || d <= 0 || jb >= je) return;
  const rowBytes = <usize>ldx << 3;
  const d4 = (d + 3) & ~3;
  // k-block: the packed row side (mc × kc) and one weighted panel (4 × kc) fill the workspace.
  let kc = min(KC_MAX, PACK_DOUBLES / (d4 + 4));
  let mc = d4;
  if (kc < KC_MIN) {
    kc = KC_MIN;
    mc = (PACK_DOUBLES / KC_MIN - 4) & ~3;
  }
  // Equal k-blocks (569 samples: 285 + 284, not 512 + 57).
  const blocks = (n + kc - 1) / kc;
  kc = (n + blocks - 1) / blocks;
  const bpack = PACK + (<usize>mc * <usize>kc << 3);
  for (let k0 = 0; k0 < n; k0 += kc) {
    const kb = min(kc, n - k0);
    const xk = x + <usize>k0 * rowBytes;
    for (let ib0 = 0; ib0 < d; ib0 += mc) {
      const ib1 = min(ib0 + mc, d);
      if (ib1 <= jb) continue; // rows above the range's first column
      for (let i0 = max(ib0, jb); i0 < ib1; i0 += 4) {
        packRows(kb, d, i0, xk, rowBytes, PACK + (<usize>(i0 - ib0) * <usize>kb << 3));
      }
      const jend = min(ib1, je);
      for (let j0 = jb; j0 < jend; j0 += 4) {
        packWeighted(kb, k0, d, j0, xk, rowBytes, w, incw, bpack);
        // Row panels of this block that reach column j0 (the first one holds row j0 when j0 ≥ ib0).
        for (let i0 = max(ib0, j0); i0 < ib1; i0 += 4) {
          let ap = PACK + (<usize>(i0 - ib0) * <usize>kb << 3);
          let bp = bpack;
          let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
          let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
          for (let k = 0; k < kb; k++, ap += 32, bp += 32) {
            const b0 = v128.load(bp), b1 = v128.load(bp, 16);
            let a = v128.load64_splat(ap);
            c00 = fmadd(a, b0, c00); c01 = fmadd(a, b1, c01);
            a = v128.load64_splat(ap, 8);
            c10 = fmadd(a, b0, c10); c11 = fmadd(a, b1, c11);
            a = v128.load64_splat(ap, 16);
            c20 = fmadd(a, b0, c20); c21 = fmadd(a, b1, c21);
            a = v128.load64_splat(ap, 24);
            c30 = fmadd(a, b0, c30); c31 = fmadd(a, b1, c31);
          }
          addTileRow(c, ldc, d, i0, j0, c00, c01);
          if (i0 + 1 < d) addTileRow(c, ldc, d, i0 + 1, j0, c10, c11);
          if (i0 + 2 < d) addTileRow(c, ldc, d, i0 + 2, j0, c20, c21);
          if (i0 + 3 < d) addTileRow(c, ldc, d, i0 + 3, j0, c30, c31);
        }
      }
    }
  }
}

/**
 * Pack X[k][i0 … i0+3] for k < kc (x = first row of the block) into a kc × 4 panel at dst;
 * columns ≥ d are written as zeros and never read.
 */
// @ts-ignore: decorator
@inline function packRows(kc: i32, d: i32, i0: i32, x: usize, rowBytes: usize, dst: usize): void {
  let row = x + (<usize>i0 << 3);
  const valid = d - i0;
  if (valid >= 4) {
    for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
      v128.store(dst, v128.load(row));
      v128.store(dst, v128.load(row, 16), 16);
    }
  } else {
    for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
      for (let t = 0; t < 4; t++) st(dst, t, t < valid ? ld(row, t) : 0.0);
    }
  }
}

/**
 * Pack w_{k0+k}·X[k][j0 … j0+3] for k < kc into a kc × 4 panel at dst (zeros for columns ≥ d;
 * unit weights when w = 0).
 */
// @ts-ignore: decorator
@inline function packWeighted(kc: i32, k0: i32, d: i32, j0: i32, x: usize, rowBytes: usize, w: usize, incw: i32, dst: usize): void {
  let row = x + (<usize>j0 << 3);
  const valid = d - j0;
  if (valid >= 4) {
    if (w == 0) {
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
        v128.store(dst, v128.load(row));
        v128.store(dst, v128.load(row, 16), 16);
      }
    } else {
      let wp = w + (<usize>k0 * <usize>incw << 3);
      const wstep = <usize>incw << 3;
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 32, wp += wstep) {
        const wk = v128.load64_splat(wp);
        v128.store(dst, f64x2.mul(v128.load(row), wk));
        v128.store(dst, f64x2.mul(v128.load(row, 16), wk), 16);
      }
    }
  } else {
    for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
      const wk = weight(w, incw, k0 + k);
      for (let t = 0; t < 4; t++) st(dst, t, t < valid ? ld(row, t) * wk : 0.0);
    }
  }
}

/** C[i][j0 + t] += lane t of (v0, v1) for the t < 4 with j0 + t ≤ i and j0 + t < d (i < d). */
// @ts-ignore: decorator
@inline function addTileRow(c: usize, ldc: i32, d: i32, i: i32, j0: i32, v0: v128, v1: v128): void {
  const p = c + ((<usize>i * <usize>ldc + <usize>j0) << 3);
  const count = min(i + 1, d) - j0;
  if (count >= 4) {
    v128.store(p, f64x2.add(v128.load(p), v0));
    v128.store(p, f64x2.add(v128.load(p, 16), v1), 16);
  } else {
    if (count > 0) store<f64>(p, load<f64>(p) + f64x2.extract_lane(v0, 0));
    if (count > 1) store<f64>(p, load<f64>(p, 8) + f64x2.extract_lane(v0, 1), 8);
    if (count > 2) store<f64>(p, load<f64>(p, 16) + f64x2.extract_lane(v1, 0), 16);
  }
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
