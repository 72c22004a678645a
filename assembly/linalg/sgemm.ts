/**
 * General matrix product in single precision (BLAS sgemm, row-major).
 *
 *   C ← alpha · op(A) · op(B) + beta · C          (op(X) = X or Xᵀ; f32 storage, f32 arithmetic)
 *
 * The float32 counterpart of `dgemm` (gemm.ts), with the same conventions, written for f32x4 lanes
 * (not float64 code on converted data): f32 storage, f32 multiply-adds, f32 accumulators.
 *
 * Conventions:
 * - Pointers are byte addresses of f32 entries; m, n, k and leading dimensions are in elements
 *   (4 bytes each). 4-byte alignment suffices (`v128.load` tolerates any address).
 * - op(A) is m × k: transA = 0 → A stored m × k (lda ≥ k); transA ≠ 0 → A stored k × m (lda ≥ m).
 * - op(B) is k × n: transB = 0 → B stored k × n (ldb ≥ n); transB ≠ 0 → B stored n × k (ldb ≥ k).
 * - C is m × n, ldc ≥ n; columns n … ldc − 1 are neither read nor written. Entries of A and B
 *   outside op(A) and op(B) (padding up to the leading dimension) are never read.
 * - alpha and beta are f32 (a JS number passed in is rounded to the nearest f32).
 * - beta = 0 overwrites C without reading it (NaN or ∞ in C do not propagate). k = 0 or alpha = 0
 *   gives C ← beta · C without reading A or B. m ≤ 0 or n ≤ 0: nothing is touched.
 * - C must not alias A or B; A, B and C must lie outside the workspace (true of `alloc` blocks).
 *
 * Accuracy and summation order: an entry's products are summed in order of k, in one f32 lane,
 * within each k-block (multiply then add, two roundings, in the baseline binary; the relaxed
 * binary's `f32x4.relaxed_madd` may fuse them, one rounding). A k-block's sum s_b is stored as
 * alpha·s_b + beta·C (first block) or added to C (later blocks). With γ_j = j·u/(1 − j·u),
 * u = 2⁻²⁴ (float32's unit roundoff), and B = ⌈k/KC⌉ k-blocks, each term passes through at most
 * k + B + 1 roundings (kb in its block's sum, alpha, the beta·C add, B − 1 later block adds; the
 * small path's k + 2 at most), so
 *   |Ĉ_ij − C_ij| ≤ γ_{k+B+1} · (|alpha| Σ_l |op(A)_il| |op(B)_lj| + |beta| |C_ij|)
 * (Higham, Accuracy and Stability of Numerical Algorithms, §3.1): float32's k·eps bound, about
 * 1e-7·k relative to the sum of |terms|, not float64's. The small path sums in another order
 * (4-lane partial sums for transB ≠ 0); results of the two paths agree to that bound only.
 *
 * Packed path (GotoBLAS-style, as dgemm):
 * - Loops: column blocks of C of ≤ NC = 256 columns; k-blocks of ≤ KC = 256 (equal sizes:
 *   k = 600 → 200 + 200 + 200); row blocks of ≤ MC = 64 rows. Per (column block, k-block) the
 *   kc × nc slice of op(B) is packed into panels of 8 columns (kc × 8 contiguous), per row block
 *   the mc × kc slice of op(A) into panels of 4 rows (kc × 4 contiguous). Packing absorbs the
 *   transposes: contiguous rows (Aᵀ, B) are copied one source row at a time into all panels (so a
 *   row's cache lines are read once even when lda is a large power of 2: measured +3 % on
 *   2048 × 256 × 256 with transA ≠ 0 in the relaxed binary, even elsewhere),
 *   4 or 8 strided rows (A, Bᵀ) are gathered 4 k at a time by 4 × 4 lane-shuffle transposes.
 *   Panels past row m / column n are zero-filled, so the micro-kernel has no tails.
 * - Workspace: dgemm's (`gemmWorkspace()`: the static `GEMM_PACK` block, or the per-instance block
 *   `gemmSetWorkspace` set on a worker), which sgemm fills exactly: MC·KC + KC·NC floats =
 *   64 KiB for op(A) + 256 KiB for op(B) = 320 KiB = `gemmWorkspaceBytes()`. No static data of
 *   its own (the module's static data has to fit its initial pages). The two kernels never run at
 *   once on one instance, so the block is shared. An op(A) panel (4 KiB) and an op(B) panel
 *   (8 KiB) stay in L1 during one micro-kernel, the packed blocks in L2; KC = 256 keeps the MLP
 *   widths (k ≤ 256) in one k-block, and op(A) is packed once per column block.
 * - Measured (scratch builds of this file, one thread, relaxed and baseline binary, round-robin
 *   medians on the eight cases 2048 × 256 × 256 with all four transposes and 1024³ with all
 *   four; the sums of the eight medians in ms, lower is better, relaxed / baseline):
 *   - tile (MR × NR): 4 × 8: 206–227 / 336; 2 × 16: 224 / 369 (up to 10 % faster than 4 × 8 on
 *     the baseline binary's 2048 × 256 × 256 cases, 10–25 % slower on 1024³); 3 × 12: 227–246 /
 *     537; 3 × 8: 258 / 370; 4 × 12 (12 accumulators + 3 loads + a splat: spills): 415 / 450;
 *     4 × 8 with k unrolled by 2 (spills): 415 / 445; 6 × 8: 451 / 520; 5 × 8: 490 / 491;
 *     8 × 4 (8 splats per 8 multiply-adds): 573 / 614. 4 × 8 is fastest in both binaries.
 *   - blocking (MC, KC, NC) for the 4 × 8 tile within the 320 KiB: (64, 256, 256), (128, 128,
 *     512), (64, 192, 360), (32, 256, 288): 204.6, 205.5, 205.1, 205.5 / 248.2, 250.4, 249.2,
 *     245.7 — a tie; (64, 128, 576), (128, 256, 192), (64, 320, 192), (128, 128, 256) were within
 *     5 % too. (64, 256, 256) is kept: it fills the workspace and keeps k ≤ 256 in one k-block.
 *   - At ~48 GF/s (relaxed) the 4 × 8 kernel runs two 128-bit FMAs per cycle at ~3 GHz, the
 *     machine's peak for 128-bit lanes; dgemm's 4 × 4 f64x2 tile gets ~24 GF/s, so sgemm takes
 *     about half of dgemm's time (bench/kernels.bench.ts prints the ratio).
 * - alpha and beta are applied once per tile and k-block when storing: the first k-block writes
 *   alpha·acc + beta·C (alpha·acc when beta = 0), later ones add alpha·acc. Partial tiles (rows
 *   ≥ m or columns ≥ n) gather the existing entries into vectors and run the same lane operations
 *   as full ones, then store only the valid lanes.
 * - Tiny products (m·n·k < SMALL_FLOPS = 64) take an unpacked loop instead: row axpys of op(B)
 *   rows for transB = 0, 4-lane dot products for transB ≠ 0 (scalar tails). Measured (relaxed): the
 *   unpacked loop is faster only up to about 4 × 4 × 4 (2³: 0.4 vs 0.3 GF/s, 4³: 1.9 vs 1.6, 5³ even,
 *   8³: 4.9 vs 13), as for dgemm.
 * - The workspace makes the packed path non-reentrant within one instance: calls must not overlap
 *   (with each other or with dgemm).
 * - Threads split C into row ranges (multiples of the 4-row tile) or column ranges (multiples of
 *   the 8-column tile): an entry's value depends only on its row of op(A), its column of op(B) and
 *   the k-blocking (set by k alone), not on which rows or columns share its call or where its tile
 *   starts, so a split product is bitwise identical to the whole one as long as every part stays
 *   on the packed path (parts of ≥ 2¹⁷ multiply-adds do).
 */
import { fmadd4 } from '../util/simd';
import { gemmWorkspace } from './gemm';

/** Rows of C per micro-tile (rows of an op(A) panel). */
// @ts-ignore: decorator
@inline const MR: i32 = 4;
/** Columns of C per micro-tile (columns of an op(B) panel). */
// @ts-ignore: decorator
@inline const NR: i32 = 8;
/** Rows of op(A) per packed block (a multiple of MR). */
// @ts-ignore: decorator
@inline const MC: i32 = 64;
/** Largest k-block. */
// @ts-ignore: decorator
@inline const KC: i32 = 256;
/** Columns of op(B) per packed block (a multiple of NR). */
// @ts-ignore: decorator
@inline const NC: i32 = 256;
/** Below this m·n·k the unpacked loop is used. */
// @ts-ignore: decorator
@inline const SMALL_FLOPS: i64 = 64;

/**
 * C ← alpha · op(A) · op(B) + beta · C in float32 (see the module header for units, edge cases,
 * accuracy and the blocking). Non-reentrant (dgemm's workspace).
 * @param transA 0: A is m × k (lda ≥ k); otherwise A is k × m (lda ≥ m) and op(A) = Aᵀ
 * @param transB 0: B is k × n (ldb ≥ n); otherwise B is n × k (ldb ≥ k) and op(B) = Bᵀ
 * @param m      rows of C
 * @param n      columns of C
 * @param k      inner dimension
 * @param alpha  scale of the product
 * @param a      byte address of A (f32 entries)
 * @param lda    leading dimension of A in elements
 * @param b      byte address of B (f32 entries)
 * @param ldb    leading dimension of B in elements
 * @param beta   scale of the old C (0: C is overwritten, not read)
 * @param c      byte address of C (m × n f32, output)
 * @param ldc    leading dimension of C in elements (≥ n)
 */
export function sgemm(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32,
                      a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    scaleC(m, n, beta, c, ldc);
    return;
  }
  if (<i64>m * <i64>n * <i64>k < SMALL_FLOPS) {
    sgemmSmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const ldaBytes = <usize>lda << 2, ldbBytes = <usize>ldb << 2;
  const apack = gemmWorkspace();
  const bpack = apack + (<usize>(MC * KC) << 2);
  // Equal k-blocks.
  const kblocks = (k + KC - 1) / KC;
  const kc = (k + kblocks - 1) / kblocks;
  for (let jc = 0; jc < n; jc += NC) {
    const nb = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kc) {
      const kb = min(kc, k - pc);
      const aPanelBytes = <usize>kb << 4; // kb × 4 floats
      const bPanelBytes = <usize>kb << 5; // kb × 8 floats
      const betaBlk: f32 = pc == 0 ? beta : 1;
      // Pack op(B)[pc … pc+kb)[jc … jc+nb) into panels of NR columns.
      if (transB == 0) {
        packRows8(kb, nb, b + ((<usize>pc * <usize>ldb + <usize>jc) << 2), ldbBytes, bpack, bPanelBytes);
      } else {
        let dst = bpack;
        for (let j0 = jc; j0 < jc + nb; j0 += NR, dst += bPanelBytes) {
          packCols8(kb, min(NR, n - j0), b + ((<usize>j0 * <usize>ldb + <usize>pc) << 2), ldbBytes, dst);
        }
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mb = min(MC, m - ic);
        // Pack op(A)[ic … ic+mb)[pc … pc+kb) into panels of MR rows.
        if (transA == 0) {
          let dst = apack;
          for (let i0 = ic; i0 < ic + mb; i0 += MR, dst += aPanelBytes) {
            packCols4(kb, min(MR, m - i0), a + ((<usize>i0 * <usize>lda + <usize>pc) << 2), ldaBytes, dst);
          }
        } else {
          packRows4(kb, mb, a + ((<usize>pc * <usize>lda + <usize>ic) << 2), ldaBytes, apack, aPanelBytes);
        }
        let bp = bpack;
        for (let j0 = jc; j0 < jc + nb; j0 += NR, bp += bPanelBytes) {
          const nr = min(NR, n - j0);
          let ap = apack;
          for (let i0 = ic; i0 < ic + mb; i0 += MR, ap += aPanelBytes) {
            microKernel(kb, ap, bp, c + ((<usize>i0 * <usize>ldc + <usize>j0) << 2), ldc, min(MR, m - i0), nr, alpha, betaBlk);
          }
        }
      }
    }
  }
}

/**
 * The 4 × 8 tile at c (rows of ldc elements): tile ← alpha · Σ_k ap[k][r] bp[k][t] + beta · tile
 * for r < mr, t < nr (beta = 0: the tile is not read). ap: kb × 4 packed panel, bp: kb × 8.
 */
// @ts-ignore: decorator
@inline function microKernel(kb: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32, alpha: f32, beta: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kb; p++, ap += 16, bp += 32) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = fmadd4(x, b0, c00); c01 = fmadd4(x, b1, c01);
    x = v128.load32_splat(ap, 4);
    c10 = fmadd4(x, b0, c10); c11 = fmadd4(x, b1, c11);
    x = v128.load32_splat(ap, 8);
    c20 = fmadd4(x, b0, c20); c21 = fmadd4(x, b1, c21);
    x = v128.load32_splat(ap, 12);
    c30 = fmadd4(x, b0, c30); c31 = fmadd4(x, b1, c31);
  }
  const rowBytes = <usize>ldc << 2;
  storeRow(c, nr, alpha, beta, c00, c01);
  if (mr > 1) storeRow(c + rowBytes, nr, alpha, beta, c10, c11);
  if (mr > 2) storeRow(c + 2 * rowBytes, nr, alpha, beta, c20, c21);
  if (mr > 3) storeRow(c + 3 * rowBytes, nr, alpha, beta, c30, c31);
}

/**
 * p[t] ← alpha · lane t of (v0, v1) + beta · p[t] for t < count (≤ 8); p is not read when
 * beta = 0. A partial row (count < 8) gathers its entries into vectors and runs the same
 * vector operations as a full one, so an entry's value does not depend on its tile position.
 */
// @ts-ignore: decorator
@inline function storeRow(p: usize, count: i32, alpha: f32, beta: f32, v0: v128, v1: v128): void {
  const va = f32x4.splat(alpha);
  let r0 = f32x4.mul(va, v0), r1 = f32x4.mul(va, v1);
  if (count >= 8) {
    if (beta == 1) {
      r0 = f32x4.add(r0, v128.load(p)); r1 = f32x4.add(r1, v128.load(p, 16));
    } else if (beta != 0) {
      const vb = f32x4.splat(beta);
      r0 = fmadd4(vb, v128.load(p), r0); r1 = fmadd4(vb, v128.load(p, 16), r1);
    }
    v128.store(p, r0);
    v128.store(p, r1, 16);
  } else {
    storeTail(p, count, beta, r0, r1);
  }
}

/** The partial-row case of `storeRow` (count < 8 entries), r0 and r1 already scaled by alpha. */
function storeTail(p: usize, count: i32, beta: f32, r0: v128, r1: v128): void {
  if (beta == 1) {
    r0 = f32x4.add(r0, loadLanes(p, count)); r1 = f32x4.add(r1, loadLanes(p + 16, count - 4));
  } else if (beta != 0) {
    const vb = f32x4.splat(beta);
    r0 = fmadd4(vb, loadLanes(p, count), r0); r1 = fmadd4(vb, loadLanes(p + 16, count - 4), r1);
  }
  storeLanes(p, count, r0);
  storeLanes(p + 16, count - 4, r1);
}

/** Lanes 0 … count − 1 from p (f32), zeros above (count ≤ 0: all zeros); nothing past them is read. */
// @ts-ignore: decorator
@inline function loadLanes(p: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (count > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}

/** Lanes 0 … count − 1 of v to p (f32); nothing past them is written. */
// @ts-ignore: decorator
@inline function storeLanes(p: usize, count: i32, v: v128): void {
  if (count >= 4) {
    v128.store(p, v);
  } else {
    if (count > 0) store<f32>(p, f32x4.extract_lane(v, 0));
    if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
    if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
  }
}

/**
 * Panels of 4 from contiguous rows: entry t of row p (rows of srcRowBytes), t < width, goes to
 * panel ⌊t/4⌋ (panelBytes apart) at [p][t mod 4]; the last panel is zero-filled past width.
 * Packs op(A) = Aᵀ. Sweeps each row once (all panels per k), so every cache line of the source
 * is read once, not once per panel (rows lda apart alias in L1 when lda is a large power of 2).
 */
// @ts-ignore: decorator
@inline function packRows4(kb: i32, width: i32, src: usize, srcRowBytes: usize, dst: usize, panelBytes: usize): void {
  for (let p = 0; p < kb; p++, src += srcRowBytes, dst += 16) {
    let d = dst;
    let t = 0;
    for (; t + 4 <= width; t += 4, d += panelBytes) v128.store(d, v128.load(src + (<usize>t << 2)));
    if (t < width) v128.store(d, loadLanes(src + (<usize>t << 2), width - t));
  }
}

/**
 * Panels of 8 from contiguous rows: entry t of row p (rows of srcRowBytes), t < width, goes to
 * panel ⌊t/8⌋ (panelBytes apart) at [p][t mod 8]; the last panel is zero-filled past width.
 * Packs op(B) = B, one sweep per row as `packRows4`.
 */
// @ts-ignore: decorator
@inline function packRows8(kb: i32, width: i32, src: usize, srcRowBytes: usize, dst: usize, panelBytes: usize): void {
  for (let p = 0; p < kb; p++, src += srcRowBytes, dst += 32) {
    let d = dst;
    let t = 0;
    for (; t + 8 <= width; t += 8, d += panelBytes) {
      const s = src + (<usize>t << 2);
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
    }
    if (t < width) {
      const s = src + (<usize>t << 2);
      v128.store(d, loadLanes(s, width - t));
      v128.store(d, loadLanes(s + 16, width - t - 4), 16);
    }
  }
}

/**
 * The 4 × 4 block of rows r0 … r3 (entries off … off + 3 of each) transposed: dst + q·stride ←
 * (r0[q], r1[q], r2[q], r3[q]) for q < 4.
 */
// @ts-ignore: decorator
@inline function transpose4(r0: usize, r1: usize, r2: usize, r3: usize, off: usize, dst: usize, stride: usize): void {
  const x0 = v128.load(r0 + off), x1 = v128.load(r1 + off);
  const x2 = v128.load(r2 + off), x3 = v128.load(r3 + off);
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * dst[p][t] ← src[t][p] (rows of srcRowBytes) for p < kb, t < valid; zeros for valid ≤ t < 4.
 * Gathers one entry from each of 4 rows per k: op(A) = A. Four k at a time (a 4 × 4
 * transpose by lane shuffles), scalar tail.
 */
// @ts-ignore: decorator
@inline function packCols4(kb: i32, valid: i32, src: usize, srcRowBytes: usize, dst: usize): void {
  let p = 0;
  if (valid == 4) {
    const r1 = src + srcRowBytes, r2 = src + 2 * srcRowBytes, r3 = src + 3 * srcRowBytes;
    for (; p + 4 <= kb; p += 4, dst += 64) transpose4(src, r1, r2, r3, <usize>p << 2, dst, 16);
  }
  for (; p < kb; p++, dst += 16) {
    const off = <usize>p << 2;
    for (let t = 0; t < 4; t++) store<f32>(dst + (<usize>t << 2), t < valid ? load<f32>(src + <usize>t * srcRowBytes + off) : 0);
  }
}

/**
 * dst[p][t] ← src[t][p] (rows of srcRowBytes) for p < kb, t < valid; zeros for valid ≤ t < 8.
 * Gathers one entry from each of 8 rows per k: op(B) = Bᵀ. Four k at a time (two 4 × 4
 * transposes), scalar tail.
 */
// @ts-ignore: decorator
@inline function packCols8(kb: i32, valid: i32, src: usize, srcRowBytes: usize, dst: usize): void {
  let p = 0;
  if (valid == 8) {
    const r1 = src + srcRowBytes, r2 = src + 2 * srcRowBytes, r3 = src + 3 * srcRowBytes;
    const r4 = src + 4 * srcRowBytes, r5 = src + 5 * srcRowBytes, r6 = src + 6 * srcRowBytes, r7 = src + 7 * srcRowBytes;
    for (; p + 4 <= kb; p += 4, dst += 128) {
      const off = <usize>p << 2;
      transpose4(src, r1, r2, r3, off, dst, 32);
      transpose4(r4, r5, r6, r7, off, dst + 16, 32);
    }
  }
  for (; p < kb; p++, dst += 32) {
    const off = <usize>p << 2;
    for (let t = 0; t < 8; t++) store<f32>(dst + (<usize>t << 2), t < valid ? load<f32>(src + <usize>t * srcRowBytes + off) : 0);
  }
}

/** C ← beta · C on the m × n block (C ← 0 without reading it when beta = 0). */
function scaleC(m: i32, n: i32, beta: f32, c: usize, ldc: i32): void {
  if (beta == 1) return;
  const vb = f32x4.splat(beta);
  for (let i = 0; i < m; i++) {
    const crow = c + (<usize>i * <usize>ldc << 2);
    let j = 0;
    if (beta == 0) {
      for (; j + 4 <= n; j += 4) v128.store(crow + (<usize>j << 2), f32x4.splat(0));
      for (; j < n; j++) store<f32>(crow + (<usize>j << 2), 0);
    } else {
      for (; j + 4 <= n; j += 4) v128.store(crow + (<usize>j << 2), f32x4.mul(vb, v128.load(crow + (<usize>j << 2))));
      for (; j < n; j++) store<f32>(crow + (<usize>j << 2), beta * load<f32>(crow + (<usize>j << 2)));
    }
  }
}

/**
 * Unpacked product for small shapes (k ≥ 1, alpha ≠ 0): C ← beta · C, then for transB = 0 row
 * axpys C[i] += (alpha · op(A)[i][p]) · B[p], otherwise C[i][j] += alpha · (op(A)[i] · B[j]).
 * Four SIMD lanes with scalar tails; needs no workspace.
 */
function sgemmSmall(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32,
                    a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): void {
  scaleC(m, n, beta, c, ldc);
  for (let i = 0; i < m; i++) {
    const crow = c + (<usize>i * <usize>ldc << 2);
    if (transB == 0) {
      for (let p = 0; p < k; p++) {
        const aip: f32 = alpha * load<f32>(a + ((transA == 0 ? <usize>i * <usize>lda + <usize>p : <usize>p * <usize>lda + <usize>i) << 2));
        const brow = b + (<usize>p * <usize>ldb << 2);
        const va = f32x4.splat(aip);
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          const off = <usize>j << 2;
          v128.store(crow + off, fmadd4(va, v128.load(brow + off), v128.load(crow + off)));
        }
        for (; j < n; j++) {
          const off = <usize>j << 2;
          store<f32>(crow + off, aip * load<f32>(brow + off) + load<f32>(crow + off));
        }
      }
    } else {
      for (let j = 0; j < n; j++) {
        const brow = b + (<usize>j * <usize>ldb << 2);
        let s: f32 = 0;
        if (transA == 0) {
          const arow = a + (<usize>i * <usize>lda << 2);
          let acc = f32x4.splat(0);
          let p = 0;
          for (; p + 4 <= k; p += 4) acc = fmadd4(v128.load(arow + (<usize>p << 2)), v128.load(brow + (<usize>p << 2)), acc);
          s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
          for (; p < k; p++) s += load<f32>(arow + (<usize>p << 2)) * load<f32>(brow + (<usize>p << 2));
        } else {
          for (let p = 0; p < k; p++) s += load<f32>(a + ((<usize>p * <usize>lda + <usize>i) << 2)) * load<f32>(brow + (<usize>p << 2));
        }
        const off = <usize>j << 2;
        store<f32>(crow + off, load<f32>(crow + off) + alpha * s);
      }
    }
  }
}
