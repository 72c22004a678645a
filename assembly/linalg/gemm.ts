/**
 * General matrix product (BLAS dgemm, row-major).
 *
 *   C ← alpha · op(A) · op(B) + beta · C          (op(X) = X or Xᵀ)
 *
 * Conventions:
 * - Pointers are byte addresses; m, n, k and leading dimensions are in elements. 8-byte alignment
 *   suffices (`v128.load` tolerates any address).
 * - op(A) is m × k: transA = 0 → A stored m × k (lda ≥ k); transA ≠ 0 → A stored k × m (lda ≥ m).
 * - op(B) is k × n: transB = 0 → B stored k × n (ldb ≥ n); transB ≠ 0 → B stored n × k (ldb ≥ k).
 * - C is m × n, ldc ≥ n; columns n … ldc − 1 are neither read nor written.
 * - beta = 0 overwrites C without reading it (NaN or ∞ in C do not propagate). k = 0 or alpha = 0
 *   gives C ← beta · C without reading A or B. m ≤ 0 or n ≤ 0: nothing is touched.
 * - C must not alias A or B; A, B and C must lie outside the workspace (true of `alloc` blocks).
 * - The relaxed binary may fuse the multiply-adds (see util/simd.ts); summation order over k
 *   differs between the small and the packed path, so results agree to rounding only.
 *
 * Packed path (GotoBLAS-style, as `dsyrkLower` in gram.ts):
 * - Loops: column blocks of C of ≤ NC = 256 columns; k-blocks of ≤ KC = 128 (equal sizes:
 *   k = 300 → 100 + 100 + 100); row blocks of ≤ MC = 64 rows. Per (column block, k-block) the
 *   kc × nc slice of op(B) is packed into panels of 4 columns (kc × 4 contiguous), per row block
 *   the mc × kc slice of op(A) into panels of 4 rows (kc × 4 contiguous, 4 row values per k).
 *   Packing absorbs the transposes: one copy routine for contiguous rows (Aᵀ, B) and one
 *   4-row gather (A, Bᵀ, 2 × 2 lane shuffles), so all four cases share one micro-kernel.
 *   Panels past row m / column n are zero-filled, so the micro-kernel has no tails.
 * - Workspace: static inside the module (`GEMM_PACK`, 64-byte aligned, 320 KiB): MC × KC
 *   doubles (64 KiB) for op(A) plus KC × NC (256 KiB) for op(B). An op(A) panel and an op(B)
 *   panel (4 KiB each) stay in L1 during one micro-kernel, both packed blocks in L2. op(A) is
 *   packed once per column block (once in all for n ≤ 256, the MLP widths). Measured on the
 *   MLP shapes (2048 × 256 × 256, all transposes): (MC, KC, NC) = (64, 128, 256) ≥ (32, 128, 256)
 *   ≥ (64, 256, 128) ≥ (64, 256, 64), by 1–8 %, the gap largest for transA ≠ 0. Blocks are kept
 *   small because the module's static data has to fit its 16 initial pages (asconfig.json) next
 *   to gram.ts's 512 KiB.
 * - Tile shape: 4 × 4 measured best. A 5 × 4 tile (10 accumulators) ran at less than half the
 *   speed (spills, as gram.ts predicts); 3 × 6 (9 accumulators, 6 loads per 9 multiply-adds) fits
 *   the 15 registers in the relaxed binary but was no faster there, and spills in the baseline
 *   binary (its separate multiply and add need a temporary); unrolling k by 2 spills too.
 * - Micro-kernel: a 4 × 4 tile of C in 8 f64x2 accumulators; per k 2 vector loads (op(B) panel),
 *   4 load-and-splats (op(A) panel), 8 multiply-adds. V8 keeps 15 xmm registers for values, so
 *   larger tiles spill (see gram.ts). alpha and beta are applied once per tile and k-block when
 *   storing: the first k-block writes alpha·acc + beta·C (alpha·acc when beta = 0), later ones add
 *   alpha·acc. Stores are masked at the bottom and right edges (rows ≥ m, columns ≥ n).
 * - Tiny products (m·n·k < SMALL_FLOPS = 64) take an unpacked loop instead: row axpys of op(B)
 *   rows for transB = 0, dot products for transB ≠ 0 (two SIMD lanes, scalar tails). Above that the
 *   packed path measured faster even at 4 × 4 × 4 and 8 × 8 × 8 (call overhead dominates there).
 * - The workspace makes the packed path non-reentrant within one instance: calls must not overlap.
 *   Instances sharing one memory across threads (the threaded core) each get their own workspace
 *   with `gemmSetWorkspace` (a per-instance global; the static block stays the main thread's).
 * - Threads split C into row or column ranges: an entry's value depends only on the k-blocking
 *   (set by k alone) and not on which rows or columns share its call, so a split product is
 *   bitwise identical to the whole one as long as every part stays on the packed path.
 */
import { fmadd, ld, st, ld2, st2 } from '../util/simd';

/** Rows of op(A) per packed block. */
// @ts-ignore: decorator
@inline const MC: i32 = 64;
/** Largest k-block. */
// @ts-ignore: decorator
@inline const KC: i32 = 128;
/** Columns of op(B) per packed block. */
// @ts-ignore: decorator
@inline const NC: i32 = 256;
/** Below this m·n·k the unpacked loop is used. */
// @ts-ignore: decorator
@inline const SMALL_FLOPS: i64 = 64;
/** Byte address of the packing workspace: MC·KC doubles for op(A), then KC·NC for op(B). */
const GEMM_PACK: usize = memory.data((MC * KC + KC * NC) << 3, 64);
/** This instance's workspace (the static block unless `gemmSetWorkspace` moved it). */
let GEMM_WS: usize = GEMM_PACK;

/** Bytes of the packed path's workspace (what `gemmSetWorkspace` expects). */
export function gemmWorkspaceBytes(): i32 {
  return (MC * KC + KC * NC) << 3;
}

/**
 * Point this instance's `dgemm` at its own workspace of `gemmWorkspaceBytes()` bytes (byte
 * address, 16-byte aligned suffices), or back at the static block with 0. For the worker
 * instances of the threaded core.
 */
export function gemmSetWorkspace(ptr: usize): void {
  GEMM_WS = ptr == 0 ? GEMM_PACK : ptr;
}

/**
 * Byte address of this instance's workspace (the static block, or what `gemmSetWorkspace` set).
 * `sgemm` (sgemm.ts) packs into the same bytes: the two never run at once on one instance.
 */
export function gemmWorkspace(): usize {
  return GEMM_WS;
}

/** Products with m·n·k below this take the unpacked loop (a split must keep every part above it). */
export function gemmSmallFlops(): i32 {
  return <i32>SMALL_FLOPS;
}

/**
 * C ← alpha · op(A) · op(B) + beta · C (see the module header for units, edge cases and the
 * blocking). Non-reentrant (static workspace).
 * @param transA 0: A is m × k (lda ≥ k); otherwise A is k × m (lda ≥ m) and op(A) = Aᵀ
 * @param transB 0: B is k × n (ldb ≥ n); otherwise B is n × k (ldb ≥ k) and op(B) = Bᵀ
 * @param m      rows of C
 * @param n      columns of C
 * @param k      inner dimension
 * @param alpha  scale of the product
 * @param a      byte address of A
 * @param lda    leading dimension of A in elements
 * @param b      byte address of B
 * @param ldb    leading dimension of B in elements
 * @param beta   scale of the old C (0: C is overwritten, not read)
 * @param c      byte address of C (m × n, output)
 * @param ldc    leading dimension of C in elements (≥ n)
 */
export function dgemm(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f64,
                      a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    scaleC(m, n, beta, c, ldc);
    return;
  }
  if (<i64>m * <i64>n * <i64>k < SMALL_FLOPS) {
    gemmSmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const ldaBytes = <usize>lda << 3, ldbBytes = <usize>ldb << 3;
  const apack = GEMM_WS;
  const bpack = GEMM_WS + (<usize>(MC * KC) << 3);
  // Equal k-blocks.
  const kblocks = (k + KC - 1) / KC;
  const kc = (k + kblocks - 1) / kblocks;
  for (let jc = 0; jc < n; jc += NC) {
    const nb = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kc) {
      const kb = min(kc, k - pc);
      const panelBytes = <usize>kb << 5; // kb × 4 doubles
      const betaBlk = pc == 0 ? beta : 1.0;
      // Pack op(B)[pc … pc+kb)[jc … jc+nb) into panels of 4 columns.
      let dst = bpack;
      for (let j0 = jc; j0 < jc + nb; j0 += 4, dst += panelBytes) {
        const valid = min(4, n - j0);
        if (transB == 0) packCopy(kb, valid, b + ((<usize>pc * <usize>ldb + <usize>j0) << 3), ldbBytes, dst);
        else packGather(kb, valid, b + ((<usize>j0 * <usize>ldb + <usize>pc) << 3), ldbBytes, dst);
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mb = min(MC, m - ic);
        // Pack op(A)[ic … ic+mb)[pc … pc+kb) into panels of 4 rows.
        dst = apack;
        for (let i0 = ic; i0 < ic + mb; i0 += 4, dst += panelBytes) {
          const valid = min(4, m - i0);
          if (transA == 0) packGather(kb, valid, a + ((<usize>i0 * <usize>lda + <usize>pc) << 3), ldaBytes, dst);
          else packCopy(kb, valid, a + ((<usize>pc * <usize>lda + <usize>i0) << 3), ldaBytes, dst);
        }
        let bp = bpack;
        for (let j0 = jc; j0 < jc + nb; j0 += 4, bp += panelBytes) {
          const nr = min(4, n - j0);
          let ap = apack;
          for (let i0 = ic; i0 < ic + mb; i0 += 4, ap += panelBytes) {
            microKernel(kb, ap, bp, c + ((<usize>i0 * <usize>ldc + <usize>j0) << 3), ldc, min(4, m - i0), nr, alpha, betaBlk);
          }
        }
      }
    }
  }
}

/**
 * The 4 × 4 tile at c (rows of ldc elements): tile ← alpha · Σ_k ap[k][r] bp[k][t] + beta · tile
 * for r < mr, t < nr (beta = 0: the tile is not read). ap, bp: kb × 4 packed panels.
 */
// @ts-ignore: decorator
@inline function microKernel(kb: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32, alpha: f64, beta: f64): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  for (let p = 0; p < kb; p++, ap += 32, bp += 32) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let x = v128.load64_splat(ap);
    c00 = fmadd(x, b0, c00); c01 = fmadd(x, b1, c01);
    x = v128.load64_splat(ap, 8);
    c10 = fmadd(x, b0, c10); c11 = fmadd(x, b1, c11);
    x = v128.load64_splat(ap, 16);
    c20 = fmadd(x, b0, c20); c21 = fmadd(x, b1, c21);
    x = v128.load64_splat(ap, 24);
    c30 = fmadd(x, b0, c30); c31 = fmadd(x, b1, c31);
  }
  const rowBytes = <usize>ldc << 3;
  storeRow(c, nr, alpha, beta, c00, c01);
  if (mr > 1) storeRow(c + rowBytes, nr, alpha, beta, c10, c11);
  if (mr > 2) storeRow(c + 2 * rowBytes, nr, alpha, beta, c20, c21);
  if (mr > 3) storeRow(c + 3 * rowBytes, nr, alpha, beta, c30, c31);
}

/** p[t] ← alpha · lane t of (v0, v1) + beta · p[t] for t < count (≤ 4); p is not read when beta = 0. */
// @ts-ignore: decorator
@inline function storeRow(p: usize, count: i32, alpha: f64, beta: f64, v0: v128, v1: v128): void {
  const va = f64x2.splat(alpha);
  let r0 = f64x2.mul(va, v0), r1 = f64x2.mul(va, v1);
  if (count >= 4) {
    if (beta == 1) {
      r0 = f64x2.add(r0, v128.load(p)); r1 = f64x2.add(r1, v128.load(p, 16));
    } else if (beta != 0) {
      const vb = f64x2.splat(beta);
      r0 = fmadd(vb, v128.load(p), r0); r1 = fmadd(vb, v128.load(p, 16), r1);
    }
    v128.store(p, r0);
    v128.store(p, r1, 16);
  } else {
    const s0 = f64x2.extract_lane(r0, 0), s1 = f64x2.extract_lane(r0, 1), s2 = f64x2.extract_lane(r1, 0);
    if (beta == 0) {
      store<f64>(p, s0);
      if (count > 1) store<f64>(p, s1, 8);
      if (count > 2) store<f64>(p, s2, 16);
    } else {
      store<f64>(p, s0 + beta * load<f64>(p));
      if (count > 1) store<f64>(p, s1 + beta * load<f64>(p, 8), 8);
      if (count > 2) store<f64>(p, s2 + beta * load<f64>(p, 16), 16);
    }
  }
}

/**
 * dst[p][t] ← src[p][t] (rows of srcRowBytes) for p < kb, t < valid; zeros for valid ≤ t < 4.
 * Packs 4 contiguous entries per k: op(A) = Aᵀ, or op(B) = B.
 */
// @ts-ignore: decorator
@inline function packCopy(kb: i32, valid: i32, src: usize, srcRowBytes: usize, dst: usize): void {
  if (valid == 4) {
    for (let p = 0; p < kb; p++, src += srcRowBytes, dst += 32) {
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
    }
  } else {
    for (let p = 0; p < kb; p++, src += srcRowBytes, dst += 32) {
      for (let t = 0; t < 4; t++) st(dst, t, t < valid ? ld(src, t) : 0.0);
    }
  }
}

/**
 * dst[p][t] ← src[t][p] (rows of srcRowBytes) for p < kb, t < valid; zeros for valid ≤ t < 4.
 * Gathers one entry from each of 4 rows per k: op(A) = A, or op(B) = Bᵀ. Two k at a time via
 * 2 × 2 lane shuffles, scalar tail for odd kb.
 */
// @ts-ignore: decorator
@inline function packGather(kb: i32, valid: i32, src: usize, srcRowBytes: usize, dst: usize): void {
  if (valid == 4) {
    const r1 = src + srcRowBytes, r2 = src + 2 * srcRowBytes, r3 = src + 3 * srcRowBytes;
    let p = 0;
    for (; p + 2 <= kb; p += 2, dst += 64) {
      const off = <usize>p << 3;
      const x0 = v128.load(src + off), x1 = v128.load(r1 + off);
      const x2 = v128.load(r2 + off), x3 = v128.load(r3 + off);
      v128.store(dst, v128.shuffle<f64>(x0, x1, 0, 2));
      v128.store(dst, v128.shuffle<f64>(x2, x3, 0, 2), 16);
      v128.store(dst, v128.shuffle<f64>(x0, x1, 1, 3), 32);
      v128.store(dst, v128.shuffle<f64>(x2, x3, 1, 3), 48);
    }
    if (p < kb) {
      const off = <usize>p << 3;
      store<f64>(dst, load<f64>(src + off));
      store<f64>(dst, load<f64>(r1 + off), 8);
      store<f64>(dst, load<f64>(r2 + off), 16);
      store<f64>(dst, load<f64>(r3 + off), 24);
    }
  } else {
    for (let p = 0; p < kb; p++, dst += 32) {
      const off = <usize>p << 3;
      for (let t = 0; t < 4; t++) st(dst, t, t < valid ? load<f64>(src + <usize>t * srcRowBytes + off) : 0.0);
    }
  }
}

/** C ← beta · C on the m × n block (C ← 0 without reading it when beta = 0). */
function scaleC(m: i32, n: i32, beta: f64, c: usize, ldc: i32): void {
  if (beta == 1) return;
  const vb = f64x2.splat(beta);
  for (let i = 0; i < m; i++) {
    const crow = c + (<usize>i * <usize>ldc << 3);
    let j = 0;
    if (beta == 0) {
      for (; j + 2 <= n; j += 2) st2(crow, j, f64x2.splat(0));
      if (j < n) st(crow, j, 0.0);
    } else {
      for (; j + 2 <= n; j += 2) st2(crow, j, f64x2.mul(vb, ld2(crow, j)));
      if (j < n) st(crow, j, beta * ld(crow, j));
    }
  }
}

/**
 * Unpacked product for small shapes (k ≥ 1, alpha ≠ 0): C ← beta · C, then for transB = 0 row
 * axpys C[i] += (alpha · op(A)[i][p]) · B[p], otherwise C[i][j] += alpha · (op(A)[i] · B[j]).
 * Two SIMD lanes with scalar tails; needs no workspace.
 */
function gemmSmall(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f64,
                   a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32): void {
  scaleC(m, n, beta, c, ldc);
  for (let i = 0; i < m; i++) {
    const crow = c + (<usize>i * <usize>ldc << 3);
    if (transB == 0) {
      for (let p = 0; p < k; p++) {
        const aip = alpha * (transA == 0 ? ld(a, <isize>i * lda + p) : ld(a, <isize>p * lda + i));
        const brow = b + (<usize>p * <usize>ldb << 3);
        const va = f64x2.splat(aip);
        let j = 0;
        for (; j + 2 <= n; j += 2) st2(crow, j, fmadd(va, ld2(brow, j), ld2(crow, j)));
        if (j < n) st(crow, j, aip * ld(brow, j) + ld(crow, j));
      }
    } else {
      for (let j = 0; j < n; j++) {
        const brow = b + (<usize>j * <usize>ldb << 3);
        let s = 0.0;
        if (transA == 0) {
          const arow = a + (<usize>i * <usize>lda << 3);
          let acc = f64x2.splat(0);
          let p = 0;
          for (; p + 2 <= k; p += 2) acc = fmadd(ld2(arow, p), ld2(brow, p), acc);
          s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
          if (p < k) s += ld(arow, p) * ld(brow, p);
        } else {
          for (let p = 0; p < k; p++) s += ld(a, <isize>p * lda + i) * ld(brow, p);
        }
        st(crow, j, ld(crow, j) + alpha * s);
      }
    }
  }
}
