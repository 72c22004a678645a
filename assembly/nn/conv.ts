/**
 * The pieces of a 2-d convolution that the GEMM does not do: the patch matrix of one sample
 * (im2col) and its adjoint (col2im), and the bias broadcast / sums over output positions.
 * A convolution is then, per sample n, Y_n = W · cols(x_n) (+ b), one `dgemm`.
 *
 * Geometry (PyTorch's Conv2d, groups = 1): input c × h × w (one sample, NCHW), kernel kh × kw,
 * stride (sh, sw), zero padding ph rows on top and pw columns on the left (the bottom / right
 * padding only enters oh, ow), dilation (dh, dw), output oh × ow, S = oh·ow positions. `cols` is the (c·kh·kw) × S patch matrix, row-major:
 *
 *   cols[(ci·kh + ky)·kw + kx][oy·ow + ox] = x[ci][oy·sh − ph + ky·dh][ox·sw − pw + kx·dw]
 *
 * (0 outside the input), so its rows run in the weight's (in, kh, kw) order and its columns in
 * the output's row-major (oy, ox) order. The caller computes oh, ow.
 *
 * Conventions:
 * - Pointers are byte addresses; sizes are elements; 8-byte alignment suffices (4-byte for the
 *   f32 twins); outputs never alias inputs.
 * - Every export has a float32 twin `…32` with the same argument list (convIm2col32,
 *   convCol2im32, convBiasBroadcast32, convPositionSums32, convTranspose32, convForwardBatch32,
 *   convBackInputBatch32, convPullbacksBatch32, convGather32): its pointers address f32 planes
 *   (4 bytes per element, 4-byte alignment suffices), sizes, leading dimensions and the
 *   workspace size `cs` stay in elements (f32 entries in the twin), `geo` stays 13 i32, and the
 *   f64 scalars (alpha, beta) are rounded to f32 where used. Both twins instantiate one generic
 *   body `…T<T>`; the f64 instance is the f64 code op for op (its results are unchanged).
 * - Memory-bound copies next to the GEMM: the in-bounds span of output columns [oxa, oxb) of a
 *   kernel column is computed once (no bounds test per element); with stride 1 im2col copies the
 *   span one v128 at a time (two f64 or four f32 lanes; zeros around it), and col2im adds it one
 *   v128 at a time (every input entry still gets its adds one at a time, in the scalar loop's
 *   order, so results do not depend on the path). Odd tails are scalar.
 * - Float32 arithmetic: the f32 twins add and multiply in f32 (no f64 intermediates). The sums
 *   over positions (convPositionSums32, the bias part of convPullbacksBatch32) run in f32 in the
 *   f64 body's order (two lane accumulators over pairs, then their sum, then the odd tail, rows
 *   in order), so they differ from the f64 sums by float32 rounding only: |error| ≤ γ_{S+2}·Σ|g|
 *   per row sum (γ_j = j·u/(1 − j·u), u = 2⁻²⁴), plus the rows' adds and the alpha/beta
 *   roundings. The batch kernels' products call `sgemm` (f32) where the f64 ones call `dgemm`.
 * - No allocation, no validation, no status: the TypeScript layer checks the geometry.
 */
import { dgemm } from '../linalg/gemm';
import { sgemm } from '../linalg/sgemm';

/** C ← alpha·op(A)·op(B) + beta·C in T: `sgemm` (alpha, beta rounded to f32) for f32, `dgemm` for f64. */
// @ts-ignore: decorator
@inline function gemmT<T>(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f64, a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32): void {
  if (sizeof<T>() == 4) sgemm(transA, transB, m, n, k, <f32>alpha, a, lda, b, ldb, <f32>beta, c, ldc);
  else dgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/** The first output column ox whose input column ox·sw + x0 is ≥ 0 (capped at ow). */
// @ts-ignore: decorator
@inline function oxFirst(x0: i32, sw: i32, ow: i32): i32 {
  return x0 >= 0 ? 0 : min(ow, (sw - 1 - x0) / sw);
}

/** One past the last output column ox whose input column ox·sw + x0 is < w (capped at ow; may be ≤ oxFirst). */
// @ts-ignore: decorator
@inline function oxEnd(x0: i32, sw: i32, w: i32, ow: i32): i32 {
  return x0 >= w ? 0 : min(ow, (w - x0 + sw - 1) / sw);
}

// @ts-ignore: decorator
@inline function im2colT<T>(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, x: usize, cols: usize, ld: i32): void {
  const S = ld;
  const sz = <usize>sizeof<T>();
  let row = 0;
  for (let ci = 0; ci < c; ci++) {
    const xc = x + <usize>(ci * h * w) * sz;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const out = cols + <usize>row * <usize>S * sz;
        const x0 = kx * dw - pw;
        const oxa = oxFirst(x0, sw, ow), oxb = oxEnd(x0, sw, w, ow);
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - ph + ky * dh;
          const orow = out + <usize>(oy * ow) * sz;
          if (iy < 0 || iy >= h) {
            memory.fill(orow, 0, <usize>ow * sz);
            continue;
          }
          const xr = xc + <usize>(iy * w) * sz;
          if (sw == 1) {
            // The span [oxa, oxb) reads inside the row: a copy (two lanes at a time: rows are
            // short, a bulk memory.copy costs more to start than to run); zeros on either side.
            const mid = max(oxb, oxa);
            for (let ox = 0; ox < oxa; ox++) store<T>(orow + <usize>ox * sz, <T>0);
            let ox = oxa;
            if (sizeof<T>() == 8) {
              for (; ox + 2 <= mid; ox += 2) v128.store(orow + <usize>ox * sz, v128.load(xr + <usize>(ox + x0) * sz));
            } else {
              for (; ox + 4 <= mid; ox += 4) v128.store(orow + <usize>ox * sz, v128.load(xr + <usize>(ox + x0) * sz));
            }
            for (; ox < mid; ox++) store<T>(orow + <usize>ox * sz, load<T>(xr + <usize>(ox + x0) * sz));
            for (ox = mid; ox < ow; ox++) store<T>(orow + <usize>ox * sz, <T>0);
            continue;
          }
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw + x0;
            store<T>(orow + <usize>ox * sz, ix >= 0 && ix < w ? load<T>(xr + <usize>ix * sz) : <T>0);
          }
        }
        row++;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function col2imT<T>(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, cols: usize, x: usize): void {
  const S = oh * ow;
  const sz = <usize>sizeof<T>();
  let row = 0;
  for (let ci = 0; ci < c; ci++) {
    const xc = x + <usize>(ci * h * w) * sz;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const src = cols + <usize>row * <usize>S * sz;
        const x0 = kx * dw - pw;
        const oxa = oxFirst(x0, sw, ow), oxb = oxEnd(x0, sw, w, ow);
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= h || oxb <= oxa) continue;
          const xr = xc + <usize>(iy * w) * sz;
          const srow = src + <usize>(oy * ow) * sz;
          if (sw == 1 && sizeof<T>() == 8) {
            // x[iy][ox + x0] += cols[row][oy][ox] over the span, two lanes at a time (each input
            // entry gets the same single add as in the scalar loop, in the same order of rows).
            let ox = oxa;
            for (; ox + 2 <= oxb; ox += 2) {
              const p = xr + <usize>(ox + x0) * sz;
              v128.store(p, f64x2.add(v128.load(p), v128.load(srow + <usize>ox * sz)));
            }
            if (ox < oxb) {
              const p = xr + <usize>(ox + x0) * sz;
              store<T>(p, load<T>(p) + load<T>(srow + <usize>ox * sz));
            }
            continue;
          }
          if (sw == 1 && sizeof<T>() == 4) {
            // The same for f32, four lanes at a time (one f32 add per entry), scalar tail.
            let ox = oxa;
            for (; ox + 4 <= oxb; ox += 4) {
              const p = xr + <usize>(ox + x0) * sz;
              v128.store(p, f32x4.add(v128.load(p), v128.load(srow + <usize>ox * sz)));
            }
            for (; ox < oxb; ox++) {
              const p = xr + <usize>(ox + x0) * sz;
              store<T>(p, load<T>(p) + load<T>(srow + <usize>ox * sz));
            }
            continue;
          }
          for (let ox = oxa; ox < oxb; ox++) {
            const p = xr + <usize>(ox * sw + x0) * sz;
            store<T>(p, load<T>(p) + load<T>(srow + <usize>ox * sz));
          }
        }
        row++;
      }
    }
  }
}

/**
 * The patch matrix of one sample: cols ((c·kh·kw) × (oh·ow), row-major, overwritten) from the
 * sample x (c × h × w). See the module header for the index map; positions in the padding are 0.
 */
export function convIm2col(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, x: usize, cols: usize): void {
  im2colT<f64>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, cols, oh * ow);
}

/** {@link convIm2col} on float32 planes (4 bytes per element; copies, exact). */
export function convIm2col32(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, x: usize, cols: usize): void {
  im2colT<f32>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, cols, oh * ow);
}

/**
 * The adjoint of {@link convIm2col}: x (c × h × w) += the patch entries of cols scattered back to
 * the input positions they were read from (padding entries are dropped). Accumulates: the caller
 * zeroes x first when it wants the plain adjoint.
 */
export function convCol2im(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, cols: usize, x: usize): void {
  col2imT<f64>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, x);
}

/**
 * {@link convCol2im} on float32 planes (4 bytes per element): every input entry gets its f32
 * adds in the f64 twin's order (rows of cols in order).
 */
export function convCol2im32(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, cols: usize, x: usize): void {
  col2imT<f32>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, x);
}

/** y[r][o][s] = b[o] for r < rows, o < co, s < S (y is rows × co × S, contiguous; overwrites). */
export function convBiasBroadcast(rows: i32, co: i32, S: i32, b: usize, y: usize): void {
  biasBroadcastT<f64>(rows, co, S, b, y);
}

/** {@link convBiasBroadcast} on float32 planes (4 bytes per element; copies). */
export function convBiasBroadcast32(rows: i32, co: i32, S: i32, b: usize, y: usize): void {
  biasBroadcastT<f32>(rows, co, S, b, y);
}

// @ts-ignore: decorator
@inline function biasBroadcastT<T>(rows: i32, co: i32, S: i32, b: usize, y: usize): void {
  const sh = alignof<T>();
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < co; o++) {
      const v = load<T>(b + (<usize>o << sh));
      const p = y + ((<usize>(r * co + o) * <usize>S) << sh);
      for (let s = 0; s < S; s++) store<T>(p + (<usize>s << sh), v);
    }
  }
}

/**
 * Sums over the S positions, per row and channel: out[r·ldout + o] = alpha · Σ_s g[r][o][s]
 * (g is rows × co × S; overwrites those entries). With ldout = 0 every row adds into the same
 * co entries instead: out[o] = beta·out[o] + alpha · Σ_r Σ_s g[r][o][s] (rows in order).
 */
export function convPositionSums(rows: i32, co: i32, S: i32, g: usize, alpha: f64, beta: f64, out: usize, ldout: i32): void {
  positionSumsT<f64>(rows, co, S, g, alpha, beta, out, ldout);
}

/**
 * {@link convPositionSums} on float32 planes (4 bytes per element): the sums in f32, in the f64
 * twin's order (module header), alpha and beta rounded to f32.
 */
export function convPositionSums32(rows: i32, co: i32, S: i32, g: usize, alpha: f64, beta: f64, out: usize, ldout: i32): void {
  positionSumsT<f32>(rows, co, S, g, alpha, beta, out, ldout);
}

// @ts-ignore: decorator
@inline function positionSumsT<T>(rows: i32, co: i32, S: i32, g: usize, alpha: f64, beta: f64, out: usize, ldout: i32): void {
  const sh = alignof<T>();
  const a = <T>alpha, bt = <T>beta;
  if (ldout == 0) {
    for (let o = 0; o < co; o++) {
      let t = <T>0;
      for (let r = 0; r < rows; r++) t += sumRowT<T>(g + ((<usize>(r * co + o) * <usize>S) << sh), S);
      const p = out + (<usize>o << sh);
      store<T>(p, (bt == 0 ? <T>0 : bt * load<T>(p)) + a * t);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < co; o++) {
      store<T>(out + ((<usize>r * <usize>ldout + <usize>o) << sh), a * sumRowT<T>(g + ((<usize>(r * co + o) * <usize>S) << sh), S));
    }
  }
}

/**
 * Σ of n contiguous T values in two lane accumulators (pairs in order: even and odd entries),
 * then their sum, then the odd tail. The f32 instance keeps this order (two of the four f32
 * lanes, loaded eight bytes at a time), so its sums are the f64 ones in float32 arithmetic.
 */
// @ts-ignore: decorator
@inline function sumRowT<T>(p: usize, n: i32): T {
  if (sizeof<T>() == 8) {
    let acc = f64x2.splat(0);
    let s = 0;
    for (; s + 2 <= n; s += 2) acc = f64x2.add(acc, v128.load(p + (<usize>s << 3)));
    let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    if (s < n) t += load<f64>(p + (<usize>s << 3));
    return <T>t;
  }
  let acc = f32x4.splat(0);
  let s = 0;
  for (; s + 2 <= n; s += 2) acc = f32x4.add(acc, v128.load64_zero(p + (<usize>s << 2)));
  let t = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1);
  if (s < n) t += load<f32>(p + (<usize>s << 2));
  return <T>t;
}

/**
 * Transposes of `rows` contiguous blocks: B_r = A_rᵀ for r < rows, A_r (m × n, row-major) at
 * a + r·m·n doubles, B_r (n × m, row-major) at b + r·m·n doubles (overwritten; must not overlap
 * A). Turns channel-major conv rows (O × S, or the patch matrix P × S) into position-major ones
 * (S × O), whose Gram over the positions is one `dsyrkLower` (the 'expand' KFAC factors).
 * 8 × 2 blocks of two-lane loads and shuffles (then 4 × 2 and 2 × 2, odd edges scalar): a
 * destination row gets 64 contiguous bytes per step. Pure copies.
 */
export function convTranspose(rows: i32, m: i32, n: i32, a: usize, b: usize): void {
  transposeT<f64>(rows, m, n, a, b);
}

/**
 * {@link convTranspose} on float32 planes (4 bytes per element): 4 × 4 blocks of four-lane loads
 * and shuffles (a destination row gets 16 contiguous bytes per step), odd edges scalar. Pure copies.
 */
export function convTranspose32(rows: i32, m: i32, n: i32, a: usize, b: usize): void {
  transposeT<f32>(rows, m, n, a, b);
}

// @ts-ignore: decorator
@inline function transposeT<T>(rows: i32, m: i32, n: i32, a: usize, b: usize): void {
  if (sizeof<T>() == 8) {
    const mn = <usize>m * <usize>n;
    for (let r = 0; r < rows; r++) {
      const ar = a + ((<usize>r * mn) << 3), br = b + ((<usize>r * mn) << 3);
      let i = 0;
      // 8 source rows × 2 columns per step: each destination row gets 8 contiguous values.
      for (; i + 8 <= m; i += 8) {
        const a0 = ar + ((<usize>i * <usize>n) << 3), nb = <usize>n << 3;
        let j = 0;
        for (; j + 2 <= n; j += 2) {
          const jo = a0 + (<usize>j << 3);
          const r0 = v128.load(jo), r1 = v128.load(jo + nb), r2 = v128.load(jo + 2 * nb), r3 = v128.load(jo + 3 * nb);
          const r4 = v128.load(jo + 4 * nb), r5 = v128.load(jo + 5 * nb), r6 = v128.load(jo + 6 * nb), r7 = v128.load(jo + 7 * nb);
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3), b1 = b0 + (<usize>m << 3);
          v128.store(b0, v128.shuffle<f64>(r0, r1, 0, 2));
          v128.store(b0 + 16, v128.shuffle<f64>(r2, r3, 0, 2));
          v128.store(b0 + 32, v128.shuffle<f64>(r4, r5, 0, 2));
          v128.store(b0 + 48, v128.shuffle<f64>(r6, r7, 0, 2));
          v128.store(b1, v128.shuffle<f64>(r0, r1, 1, 3));
          v128.store(b1 + 16, v128.shuffle<f64>(r2, r3, 1, 3));
          v128.store(b1 + 32, v128.shuffle<f64>(r4, r5, 1, 3));
          v128.store(b1 + 48, v128.shuffle<f64>(r6, r7, 1, 3));
        }
        if (j < n) {
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3);
          for (let t = 0; t < 8; t++) store<f64>(b0 + (<usize>t << 3), load<f64>(a0 + <usize>t * nb + (<usize>j << 3)));
        }
      }
      for (; i + 4 <= m; i += 4) {
        const a0 = ar + ((<usize>i * <usize>n) << 3), a1 = a0 + (<usize>n << 3), a2 = a1 + (<usize>n << 3), a3 = a2 + (<usize>n << 3);
        let j = 0;
        for (; j + 2 <= n; j += 2) {
          const jo = <usize>j << 3;
          const u = v128.load(a0 + jo), v = v128.load(a1 + jo), p = v128.load(a2 + jo), q = v128.load(a3 + jo);
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3), b1 = b0 + (<usize>m << 3);
          v128.store(b0, v128.shuffle<f64>(u, v, 0, 2));
          v128.store(b0 + 16, v128.shuffle<f64>(p, q, 0, 2));
          v128.store(b1, v128.shuffle<f64>(u, v, 1, 3));
          v128.store(b1 + 16, v128.shuffle<f64>(p, q, 1, 3));
        }
        if (j < n) {
          const jo = <usize>j << 3;
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3);
          store<f64>(b0, load<f64>(a0 + jo));
          store<f64>(b0 + 8, load<f64>(a1 + jo));
          store<f64>(b0 + 16, load<f64>(a2 + jo));
          store<f64>(b0 + 24, load<f64>(a3 + jo));
        }
      }
      for (; i + 2 <= m; i += 2) {
        const a0 = ar + ((<usize>i * <usize>n) << 3), a1 = a0 + (<usize>n << 3);
        let j = 0;
        for (; j + 2 <= n; j += 2) {
          const u = v128.load(a0 + (<usize>j << 3)), v = v128.load(a1 + (<usize>j << 3));
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3);
          v128.store(b0, v128.shuffle<f64>(u, v, 0, 2));
          v128.store(b0 + (<usize>m << 3), v128.shuffle<f64>(u, v, 1, 3));
        }
        if (j < n) {
          const b0 = br + ((<usize>j * <usize>m + <usize>i) << 3);
          store<f64>(b0, load<f64>(a0 + (<usize>j << 3)));
          store<f64>(b0 + 8, load<f64>(a1 + (<usize>j << 3)));
        }
      }
      if (i < m) {
        const a0 = ar + ((<usize>i * <usize>n) << 3);
        for (let j = 0; j < n; j++) store<f64>(br + ((<usize>j * <usize>m + <usize>i) << 3), load<f64>(a0 + (<usize>j << 3)));
      }
    }
    return;
  }
  const mn = <usize>m * <usize>n;
  for (let r = 0; r < rows; r++) {
    const ar = a + ((<usize>r * mn) << 2), br = b + ((<usize>r * mn) << 2);
    const nb = <usize>n << 2, mb = <usize>m << 2;
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = ar + ((<usize>i * <usize>n) << 2);
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const jo = a0 + (<usize>j << 2);
        const r0 = v128.load(jo), r1 = v128.load(jo + nb), r2 = v128.load(jo + 2 * nb), r3 = v128.load(jo + 3 * nb);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const b0 = br + ((<usize>j * <usize>m + <usize>i) << 2);
        v128.store(b0, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(b0 + mb, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
        v128.store(b0 + 2 * mb, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
        v128.store(b0 + 3 * mb, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
      }
      for (; j < n; j++) {
        const b0 = br + ((<usize>j * <usize>m + <usize>i) << 2), s = a0 + (<usize>j << 2);
        for (let t = 0; t < 4; t++) store<f32>(b0 + (<usize>t << 2), load<f32>(s + <usize>t * nb));
      }
    }
    for (; i < m; i++) {
      const a0 = ar + ((<usize>i * <usize>n) << 2);
      for (let j = 0; j < n; j++) store<f32>(br + ((<usize>j * <usize>m + <usize>i) << 2), load<f32>(a0 + (<usize>j << 2)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Whole-batch convolution loops: the per-sample products of a conv layer in one call, so that
// the threaded core can give each thread a range of samples (instead of splitting every small
// per-sample GEMM and paying a synchronisation for each). The geometry is read from memory:
// `geo` points at 13 i32 values (c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow; module header).
// With P = c·kh·kw and S = oh·ow, the weight W is o × P (row-major), a bias b has o entries.
// `ws` is this call's workspace of at least `cs` doubles (cs ≥ P·S, and more where stated);
// a split gives every share its own `ws + j·cs`. The per-sample products are the unsplit
// `dgemm`, the same in every share, so results do not depend on the thread count.
// The `…32` twins: every plane (x, t, y, w, v, b, gy, u, gx, out, px, gyc and ws) holds f32
// entries, `cs` counts f32 entries (the same element counts as the f64 twin), the products are
// the unsplit `sgemm`; same loops, same order, same thread-count independence.
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function geoAt(geo: usize, i: i32): i32 {
  return load<i32>(geo + (<usize>i << 2));
}

/** im2col of sample row x into cols with the geometry at geo. */
// @ts-ignore: decorator
@inline function im2colGeoT<T>(geo: usize, x: usize, cols: usize): void {
  im2colT<T>(geoAt(geo, 0), geoAt(geo, 1), geoAt(geo, 2), geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), x, cols, geoAt(geo, 11) * geoAt(geo, 12));
}

/**
 * Convolution products of n samples: for sample i (x_i = x + i·ldx, t_i = t + i·ldx,
 * y_i = y + i·ldy doubles),
 *   y_i = b 1ᵀ + V P(t_i) + W P(x_i)        (o × S, in this order; b, t or x = 0: term absent)
 * with V (o × P) at v and W at w: the forward pass (b the bias, t = 0) or the tangent
 * ty = vb 1ᵀ + vW P(x) + W P(tx) (b = vb, v = vW, t = x, x = tx). Overwrites y_i (zeros when
 * every term is absent). ws: P·S doubles; nws: workspaces of cs doubles at ws (the split's shares).
 */
export function convForwardBatch(n: i32, geo: usize, o: i32, w: usize, b: usize, x: usize, v: usize, t: usize, ldx: i32, y: usize, ldy: i32, ws: usize, cs: i32, nws: i32): void {
  forwardBatchT<f64>(n, geo, o, w, b, x, v, t, ldx, y, ldy, ws, cs, nws);
}

/** {@link convForwardBatch} on float32 planes (4 bytes per element; ws: P·S f32 entries; `sgemm`). */
export function convForwardBatch32(n: i32, geo: usize, o: i32, w: usize, b: usize, x: usize, v: usize, t: usize, ldx: i32, y: usize, ldy: i32, ws: usize, cs: i32, nws: i32): void {
  forwardBatchT<f32>(n, geo, o, w, b, x, v, t, ldx, y, ldy, ws, cs, nws);
}

// @ts-ignore: decorator
@inline function forwardBatchT<T>(n: i32, geo: usize, o: i32, w: usize, b: usize, x: usize, v: usize, t: usize, ldx: i32, y: usize, ldy: i32, ws: usize, cs: i32, nws: i32): void {
  const sh = alignof<T>();
  const P = geoAt(geo, 0) * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  for (let i = 0; i < n; i++) {
    const yi = y + ((<usize>i * <usize>ldy) << sh);
    let beta = 0.0;
    if (b != 0) {
      biasBroadcastT<T>(1, o, S, b, yi);
      beta = 1.0;
    }
    if (t != 0) {
      im2colGeoT<T>(geo, t + ((<usize>i * <usize>ldx) << sh), ws);
      gemmT<T>(0, 0, o, S, P, 1.0, v, P, ws, S, beta, yi, S);
      beta = 1.0;
    }
    if (x != 0) {
      im2colGeoT<T>(geo, x + ((<usize>i * <usize>ldx) << sh), ws);
      gemmT<T>(0, 0, o, S, P, 1.0, w, P, ws, S, beta, yi, S);
      beta = 1.0;
    }
    if (beta == 0) memory.fill(yi, 0, (<usize>o * <usize>S) << sh);
  }
}

/**
 * Input cotangents of `rows` cotangent rows: gx_r = col2im(Wᵀ gy_r) (gy_r = gy + r·ldy, o × S;
 * gx_r = gx + r·ldx, c·h·w, overwritten). With v ≠ 0 and a second row set u (u_r = u + r·ldy):
 * gx_r = col2im(Wᵀ gy_r + Vᵀ u_r) (the R-operator's dgx). ws: P·S doubles (nws, cs: as above).
 */
export function convBackInputBatch(rows: i32, geo: usize, o: i32, w: usize, gy: usize, v: usize, u: usize, ldy: i32, gx: usize, ldx: i32, ws: usize, cs: i32, nws: i32): void {
  backInputBatchT<f64>(rows, geo, o, w, gy, v, u, ldy, gx, ldx, ws, cs, nws);
}

/** {@link convBackInputBatch} on float32 planes (4 bytes per element; ws: P·S f32 entries; `sgemm`). */
export function convBackInputBatch32(rows: i32, geo: usize, o: i32, w: usize, gy: usize, v: usize, u: usize, ldy: i32, gx: usize, ldx: i32, ws: usize, cs: i32, nws: i32): void {
  backInputBatchT<f32>(rows, geo, o, w, gy, v, u, ldy, gx, ldx, ws, cs, nws);
}

// @ts-ignore: decorator
@inline function backInputBatchT<T>(rows: i32, geo: usize, o: i32, w: usize, gy: usize, v: usize, u: usize, ldy: i32, gx: usize, ldx: i32, ws: usize, cs: i32, nws: i32): void {
  const sh = alignof<T>();
  const c = geoAt(geo, 0), h = geoAt(geo, 1), wd = geoAt(geo, 2);
  const P = c * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  for (let r = 0; r < rows; r++) {
    const off = (<usize>r * <usize>ldy) << sh;
    gemmT<T>(1, 0, P, S, o, 1.0, w, P, gy + off, S, 0.0, ws, S);
    if (v != 0) gemmT<T>(1, 0, P, S, o, 1.0, v, P, u + off, S, 1.0, ws, S);
    const gr = gx + ((<usize>r * <usize>ldx) << sh);
    memory.fill(gr, 0, (<usize>(c * h * wd)) << sh);
    col2imT<T>(c, h, wd, geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), ws, gr);
  }
}

/**
 * Weight pullbacks of n samples with k cotangent rows each: for row r = i·k + j,
 *   out_r[0 … o·P) = gy_r P(x_i)ᵀ    (o × P, row-major; out_r = out + r·ldout, gy_r = gy + r·ldy,
 *   o × S, the k rows of a sample contiguous: ldy = o·S)
 * (x_i = x + i·ldx) and, when bias ≠ 0, the bias part out_r[o·P + ch] = Σ_s gy_r[ch][s] (the sums of
 * {@link convPositionSums}, bit for bit). The k rows of a sample are one
 * product ((k·o) × S times S × P) into ws + P·S, copied out when k > 1. ws: P·S + k·o·P doubles
 * (nws, cs: as above).
 */
export function convPullbacksBatch(n: i32, k: i32, geo: usize, o: i32, bias: i32, x: usize, ldx: i32, gy: usize, ldy: i32, out: usize, ldout: i32, ws: usize, cs: i32, nws: i32): void {
  pullbacksBatchT<f64>(n, k, geo, o, bias, x, ldx, gy, ldy, out, ldout, ws, cs, nws);
}

/**
 * {@link convPullbacksBatch} on float32 planes (4 bytes per element; ws: P·S + k·o·P f32
 * entries; `sgemm`; the bias part is {@link convPositionSums32}'s f32 sums, bit for bit).
 */
export function convPullbacksBatch32(n: i32, k: i32, geo: usize, o: i32, bias: i32, x: usize, ldx: i32, gy: usize, ldy: i32, out: usize, ldout: i32, ws: usize, cs: i32, nws: i32): void {
  pullbacksBatchT<f32>(n, k, geo, o, bias, x, ldx, gy, ldy, out, ldout, ws, cs, nws);
}

// @ts-ignore: decorator
@inline function pullbacksBatchT<T>(n: i32, k: i32, geo: usize, o: i32, bias: i32, x: usize, ldx: i32, gy: usize, ldy: i32, out: usize, ldout: i32, ws: usize, cs: i32, nws: i32): void {
  const sh = alignof<T>();
  const P = geoAt(geo, 0) * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  const stack = ws + ((<usize>P * <usize>S) << sh);
  const blk = (<usize>o * <usize>P) << sh;
  for (let i = 0; i < n; i++) {
    im2colGeoT<T>(geo, x + ((<usize>i * <usize>ldx) << sh), ws);
    const g = gy + ((<usize>i * <usize>k * <usize>ldy) << sh);
    if (k == 1) gemmT<T>(0, 1, o, P, S, 1.0, g, S, ws, S, 0.0, out + ((<usize>i * <usize>ldout) << sh), P);
    else {
      gemmT<T>(0, 1, k * o, P, S, 1.0, g, S, ws, S, 0.0, stack, P);
      for (let j = 0; j < k; j++) memory.copy(out + ((<usize>(i * k + j) * <usize>ldout) << sh), stack + <usize>j * blk, blk);
    }
    if (bias == 0) continue;
    // The bias pullbacks (convPositionSums' sums, while the rows are in cache).
    for (let j = 0; j < k; j++) {
      const ob = out + ((<usize>(i * k + j) * <usize>ldout + <usize>o * <usize>P) << sh);
      const gr = g + ((<usize>j * <usize>ldy) << sh);
      for (let ch = 0; ch < o; ch++) store<T>(ob + (<usize>ch << sh), sumRowT<T>(gr + ((<usize>ch * <usize>S) << sh), S));
    }
  }
}

/**
 * Gathers n samples' GEMM operands side by side for one product over all their positions: the
 * patch matrix of sample b (x_b = x + b·ldx) into columns [b·s, b·s + s) of px ((c·kh·kw) × ld,
 * row stride ld ≥ n·s), and, when gy ≠ 0, its o × s cotangent block (gy_b = gy + b·ldy) into
 * the same columns of gyc (o × ld). s must be oh·ow of the geometry at geo. Then
 * dgemm(0, 1, o, P, n·s, 1, gyc, ld, px, ld, 1, gW, P) is Σ_b gy_b P(x_b)ᵀ — one product whose
 * split (by rows or columns of gW) never divides a sum. Copies only.
 */
export function convGather(n: i32, geo: usize, s: i32, x: usize, ldx: i32, gy: usize, ldy: i32, o: i32, px: usize, gyc: usize, ld: i32): void {
  gatherT<f64>(n, geo, s, x, ldx, gy, ldy, o, px, gyc, ld);
}

/**
 * {@link convGather} on float32 planes (4 bytes per element; copies, four lanes at a time).
 * Then sgemm(0, 1, o, P, n·s, 1, gyc, ld, px, ld, 1, gW, P) is Σ_b gy_b P(x_b)ᵀ in float32.
 */
export function convGather32(n: i32, geo: usize, s: i32, x: usize, ldx: i32, gy: usize, ldy: i32, o: i32, px: usize, gyc: usize, ld: i32): void {
  gatherT<f32>(n, geo, s, x, ldx, gy, ldy, o, px, gyc, ld);
}

// @ts-ignore: decorator
@inline function gatherT<T>(n: i32, geo: usize, s: i32, x: usize, ldx: i32, gy: usize, ldy: i32, o: i32, px: usize, gyc: usize, ld: i32): void {
  const sh = alignof<T>();
  for (let b = 0; b < n; b++) {
    im2colT<T>(geoAt(geo, 0), geoAt(geo, 1), geoAt(geo, 2), geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), x + ((<usize>b * <usize>ldx) << sh), px + ((<usize>b * <usize>s) << sh), ld);
    if (gy == 0) continue;
    const g = gy + ((<usize>b * <usize>ldy) << sh);
    for (let ch = 0; ch < o; ch++) {
      const src = g + ((<usize>ch * <usize>s) << sh), dst = gyc + ((<usize>ch * <usize>ld + <usize>b * <usize>s) << sh);
      let j = 0;
      if (sizeof<T>() == 8) {
        for (; j + 2 <= s; j += 2) v128.store(dst + (<usize>j << 3), v128.load(src + (<usize>j << 3)));
        if (j < s) store<f64>(dst + (<usize>j << 3), load<f64>(src + (<usize>j << 3)));
      } else {
        for (; j + 4 <= s; j += 4) v128.store(dst + (<usize>j << 2), v128.load(src + (<usize>j << 2)));
        for (; j < s; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
      }
    }
  }
}
