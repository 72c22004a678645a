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
 *
 * Float32 twins (`dsyrkLower32`, `dsyrkLowerRange32`): the same arguments on float32 X and C (4
 * bytes per element, 4-byte alignment; sizes, ldx, ldc, jb, je in elements), C accumulated into
 * (lower triangle only, as the f64 kernel). Unit weights only: w and incw are ignored (w ≠ 0 is
 * not supported; callers pass 0). One generic body with the f64 kernel (whose instance is the
 * f64 code op for op), same workspace (`PACK`, 131072 floats) and blocking rules:
 * - Micro-kernel: a 4 × 8 block of C in 8 f32x4 accumulators (per sample 2 vector loads of the
 *   column panel, 4 load-and-splats of the row panel, 8 `fmadd4`), as sgemm's 4 × 8 tile;
 *   column panels are 8 wide from jb on (32 bytes per sample, as the f64 4-wide panel), row
 *   panels 4 wide; a panel may reach past je (je a multiple of 4 only), so stores are masked at
 *   je as well as at the diagonal and d.
 * - k-blocks of ≤ 512 samples, equal sizes, kc = min(512, 131072 / (d4 + 8)) (row blocks of
 *   2040 rows of C with kc = 64 when that falls below 64): an entry's value is C0 plus, per
 *   k-block in order, the f32 sum of its products in sample order (one lane; two roundings per
 *   term, or one where the relaxed binary fuses), so |Ĉ − C| ≤ γ_{n+B+1} (Σ_k |x_ki x_kj| + |C0|)
 *   with B the number of k-blocks and u = 2⁻²⁴; the same for any split into column ranges.
 * - Does not call sgemm (a syrk through sgemm per panel would compute the diagonal blocks whole
 *   and needs staging for them; it also takes about twice as long: the full sgemm XᵀX on
 *   4096 × 256 is ~14 ms against ~7 ms here). Measured, one thread, n = 4096, d = 256:
 *   dsyrkLower32 / dsyrkLower ≈ 0.45–0.50 (simd), 0.45–0.55 (relaxed; ~7 ms against ~13 ms).
 */
import { fmadd, fmadd4, ld, st, ld2, lanes, ldT, stT, vsplatT } from '../util/simd';

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
  dsyrkLowerRangeT<f64>(n, d, x, ldx, w, incw, c, ldc, jb, je);
}

/**
 * `dsyrkLower` on float32: C[i][j] += Σ_{k<n} X[k][i] X[k][j] for 0 ≤ j ≤ i < d, X and C float32
 * (4 bytes per element, 4-byte alignment), f32 products and sums (see the module header).
 * Unit weights only: w and incw are ignored (w ≠ 0 is not supported; callers pass 0).
 */
export function dsyrkLower32(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, c: usize, ldc: i32): void {
  dsyrkLowerRange32(n, d, x, ldx, w, incw, c, ldc, 0, d);
}

/**
 * `dsyrkLowerRange` on float32 (`dsyrkLower32` restricted to the column range [jb, je); jb a
 * multiple of 4, je a multiple of 4 or d): entries computed exactly as by the full call, so any
 * split into ranges is bitwise identical to it. Unit weights only (w, incw ignored; pass 0).
 */
export function dsyrkLowerRange32(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, c: usize, ldc: i32, jb: i32, je: i32): void {
  dsyrkLowerRangeT<f32>(n, d, x, ldx, w, incw, c, ldc, jb, je);
}

/**
 * The dense kernel on T = f64 (4 × 4 tile of f64x2 pairs, weights honoured) or T = f32 (4 × 8
 * tile of f32x4 pairs, unit weights): column panels of NR = 2·lanes<T>() columns (4 or 8) from
 * jb on, row panels of 4. An f32 panel may reach past je (je a multiple of 4 only): its stores
 * are masked at je as well.
 */
// @ts-ignore: decorator
@inline function dsyrkLowerRangeT<T>(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, c: usize, ldc: i32, jb: i32, je: i32): void {
  if (n <= 0 || d <= 0 || jb >= je) return;
  const sh = alignof<T>();
  const nr = 2 * lanes<T>();
  const elems = sizeof<T>() == 8 ? PACK_DOUBLES : PACK_DOUBLES << 1; // workspace size in T elements
  const rowBytes = <usize>ldx << sh;
  const d4 = (d + 3) & ~3;
  // k-block: the packed row side (mc × kc) and one column panel (nr × kc) fill the workspace.
  let kc = min(KC_MAX, elems / (d4 + nr));
  let mc = d4;
  if (kc < KC_MIN) {
    kc = KC_MIN;
    mc = (elems / KC_MIN - nr) & ~3;
  }
  // Equal k-blocks (569 samples: 285 + 284, not 512 + 57).
  const blocks = (n + kc - 1) / kc;
  kc = (n + blocks - 1) / blocks;
  const bpack = PACK + (<usize>mc * <usize>kc << sh);
  for (let k0 = 0; k0 < n; k0 += kc) {
    const kb = min(kc, n - k0);
    const xk = x + <usize>k0 * rowBytes;
    for (let ib0 = 0; ib0 < d; ib0 += mc) {
      const ib1 = min(ib0 + mc, d);
      if (ib1 <= jb) continue; // rows above the range's first column
      for (let i0 = max(ib0, jb); i0 < ib1; i0 += 4) {
        packRowsT<T>(kb, d, i0, xk, rowBytes, PACK + (<usize>(i0 - ib0) * <usize>kb << sh));
      }
      const jend = min(ib1, je);
      for (let j0 = jb; j0 < jend; j0 += nr) {
        packWeightedT<T>(kb, k0, d, j0, xk, rowBytes, w, incw, bpack);
        // Row panels of this block that reach column j0 (the first one holds row j0 when j0 ≥ ib0).
        for (let i0 = max(ib0, j0); i0 < ib1; i0 += 4) {
          let ap = PACK + (<usize>(i0 - ib0) * <usize>kb << sh);
          let bp = bpack;
          let c00 = vsplatT<T>(0), c01 = vsplatT<T>(0), c10 = vsplatT<T>(0), c11 = vsplatT<T>(0);
          let c20 = vsplatT<T>(0), c21 = vsplatT<T>(0), c30 = vsplatT<T>(0), c31 = vsplatT<T>(0);
          if (sizeof<T>() == 8) {
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
          } else {
            for (let k = 0; k < kb; k++, ap += 16, bp += 32) {
              const b0 = v128.load(bp), b1 = v128.load(bp, 16);
              let a = v128.load32_splat(ap);
              c00 = fmadd4(a, b0, c00); c01 = fmadd4(a, b1, c01);
              a = v128.load32_splat(ap, 4);
              c10 = fmadd4(a, b0, c10); c11 = fmadd4(a, b1, c11);
              a = v128.load32_splat(ap, 8);
              c20 = fmadd4(a, b0, c20); c21 = fmadd4(a, b1, c21);
              a = v128.load32_splat(ap, 12);
              c30 = fmadd4(a, b0, c30); c31 = fmadd4(a, b1, c31);
            }
          }
          addTileRowT<T>(c, ldc, d, je, i0, j0, c00, c01);
          if (i0 + 1 < d) addTileRowT<T>(c, ldc, d, je, i0 + 1, j0, c10, c11);
          if (i0 + 2 < d) addTileRowT<T>(c, ldc, d, je, i0 + 2, j0, c20, c21);
          if (i0 + 3 < d) addTileRowT<T>(c, ldc, d, je, i0 + 3, j0, c30, c31);
        }
      }
    }
  }
}

/**
 * Pack X[k][i0 … i0+3] for k < kc (x = first row of the block) into a kc × 4 panel of T at dst;
 * columns ≥ d are written as zeros and never read.
 */
// @ts-ignore: decorator
@inline function packRowsT<T>(kc: i32, d: i32, i0: i32, x: usize, rowBytes: usize, dst: usize): void {
  let row = x + (<usize>i0 << alignof<T>());
  const valid = d - i0;
  if (valid >= 4) {
    if (sizeof<T>() == 8) {
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
        v128.store(dst, v128.load(row));
        v128.store(dst, v128.load(row, 16), 16);
      }
    } else {
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 16) v128.store(dst, v128.load(row));
    }
  } else {
    for (let k = 0; k < kc; k++, row += rowBytes, dst += sizeof<T>() * 4) {
      for (let t = 0; t < 4; t++) stT<T>(dst, t, t < valid ? ldT<T>(row, t) : <T>0);
    }
  }
}

/**
 * Pack w_{k0+k}·X[k][j0 … j0+NR−1] for k < kc into a kc × NR panel at dst (NR = 4 for f64, 8 for
 * f32; 32 bytes per k either way; zeros for columns ≥ d). f64: unit weights when w = 0; f32:
 * always unit weights (w, incw ignored).
 */
// @ts-ignore: decorator
@inline function packWeightedT<T>(kc: i32, k0: i32, d: i32, j0: i32, x: usize, rowBytes: usize, w: usize, incw: i32, dst: usize): void {
  let row = x + (<usize>j0 << alignof<T>());
  const valid = d - j0;
  if (sizeof<T>() == 8) {
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
  } else {
    if (valid >= 8) {
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
        v128.store(dst, v128.load(row));
        v128.store(dst, v128.load(row, 16), 16);
      }
    } else {
      for (let k = 0; k < kc; k++, row += rowBytes, dst += 32) {
        for (let t = 0; t < 8; t++) store<f32>(dst + (<usize>t << 2), t < valid ? load<f32>(row + (<usize>t << 2)) : 0);
      }
    }
  }
}

/**
 * C[i][j0 + t] += lane t of (v0, v1) for the t < NR (4 for f64, 8 for f32) with j0 + t ≤ i and
 * j0 + t < d (i < d); for f32 also j0 + t < je (an f64 panel never crosses je).
 */
// @ts-ignore: decorator
@inline function addTileRowT<T>(c: usize, ldc: i32, d: i32, je: i32, i: i32, j0: i32, v0: v128, v1: v128): void {
  if (sizeof<T>() == 8) {
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
  } else {
    let p = c + ((<usize>i * <usize>ldc + <usize>j0) << 2);
    let count = min(min(i + 1, d), je) - j0;
    if (count >= 8) {
      v128.store(p, f32x4.add(v128.load(p), v0));
      v128.store(p, f32x4.add(v128.load(p, 16), v1), 16);
    } else {
      let v = v0;
      if (count >= 4) {
        v128.store(p, f32x4.add(v128.load(p), v0));
        v = v1;
        p += 16;
        count -= 4;
      }
      if (count > 0) store<f32>(p, load<f32>(p) + f32x4.extract_lane(v, 0));
      if (count > 1) store<f32>(p, load<f32>(p, 4) + f32x4.extract_lane(v, 1), 4);
      if (count > 2) store<f32>(p, load<f32>(p, 8) + f32x4.extract_lane(v, 2), 8);
      if (count > 3) store<f32>(p, load<f32>(p, 12) + f32x4.extract_lane(v, 3), 12);
    }
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
