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
 * - Pointers are byte addresses; sizes are elements; 8-byte alignment suffices; outputs never
 *   alias inputs.
 * - The generic bodies take the element type T (f64 exported here; a float32 build instantiates
 *   the same bodies with f32). Memory-bound copies next to the GEMM: the in-bounds span of output
 *   columns [oxa, oxb) of a kernel column is computed once (no bounds test per element); with
 *   stride 1 im2col copies the span two lanes at a time (zeros around it), and col2im adds it two lanes
 *   at a time (every input entry still gets its adds one at a time, in the scalar loop's order,
 *   so results do not depend on the path).
 * - No allocation, no validation, no status: the TypeScript layer checks the geometry.
 */
import { dgemm } from '../linalg/gemm';

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

/**
 * The adjoint of {@link convIm2col}: x (c × h × w) += the patch entries of cols scattered back to
 * the input positions they were read from (padding entries are dropped). Accumulates: the caller
 * zeroes x first when it wants the plain adjoint.
 */
export function convCol2im(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, cols: usize, x: usize): void {
  col2imT<f64>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, x);
}

/** y[r][o][s] = b[o] for r < rows, o < co, s < S (y is rows × co × S, contiguous; overwrites). */
export function convBiasBroadcast(rows: i32, co: i32, S: i32, b: usize, y: usize): void {
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < co; o++) {
      const v = load<f64>(b + (<usize>o << 3));
      const p = y + ((<usize>(r * co + o) * <usize>S) << 3);
      for (let s = 0; s < S; s++) store<f64>(p + (<usize>s << 3), v);
    }
  }
}

/**
 * Sums over the S positions, per row and channel: out[r·ldout + o] = alpha · Σ_s g[r][o][s]
 * (g is rows × co × S; overwrites those entries). With ldout = 0 every row adds into the same
 * co entries instead: out[o] = beta·out[o] + alpha · Σ_r Σ_s g[r][o][s] (rows in order).
 */
export function convPositionSums(rows: i32, co: i32, S: i32, g: usize, alpha: f64, beta: f64, out: usize, ldout: i32): void {
  if (ldout == 0) {
    for (let o = 0; o < co; o++) {
      let t = 0.0;
      for (let r = 0; r < rows; r++) t += sumRow(g + ((<usize>(r * co + o) * <usize>S) << 3), S);
      const p = out + (<usize>o << 3);
      store<f64>(p, (beta == 0 ? 0 : beta * load<f64>(p)) + alpha * t);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < co; o++) {
      store<f64>(out + ((<usize>r * <usize>ldout + <usize>o) << 3), alpha * sumRow(g + ((<usize>(r * co + o) * <usize>S) << 3), S));
    }
  }
}

/** Σ of n contiguous doubles in two lanes (pairs in order), then the tail. */
// @ts-ignore: decorator
@inline function sumRow(p: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let s = 0;
  for (; s + 2 <= n; s += 2) acc = f64x2.add(acc, v128.load(p + (<usize>s << 3)));
  let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (s < n) t += load<f64>(p + (<usize>s << 3));
  return t;
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
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function geoAt(geo: usize, i: i32): i32 {
  return load<i32>(geo + (<usize>i << 2));
}

/** im2col of sample row x into cols with the geometry at geo. */
// @ts-ignore: decorator
@inline function im2colGeo(geo: usize, x: usize, cols: usize): void {
  im2colT<f64>(geoAt(geo, 0), geoAt(geo, 1), geoAt(geo, 2), geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), x, cols, geoAt(geo, 11) * geoAt(geo, 12));
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
  const P = geoAt(geo, 0) * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  for (let i = 0; i < n; i++) {
    const yi = y + ((<usize>i * <usize>ldy) << 3);
    let beta = 0.0;
    if (b != 0) {
      convBiasBroadcast(1, o, S, b, yi);
      beta = 1.0;
    }
    if (t != 0) {
      im2colGeo(geo, t + ((<usize>i * <usize>ldx) << 3), ws);
      dgemm(0, 0, o, S, P, 1.0, v, P, ws, S, beta, yi, S);
      beta = 1.0;
    }
    if (x != 0) {
      im2colGeo(geo, x + ((<usize>i * <usize>ldx) << 3), ws);
      dgemm(0, 0, o, S, P, 1.0, w, P, ws, S, beta, yi, S);
      beta = 1.0;
    }
    if (beta == 0) memory.fill(yi, 0, (<usize>o * <usize>S) << 3);
  }
}

/**
 * Input cotangents of `rows` cotangent rows: gx_r = col2im(Wᵀ gy_r) (gy_r = gy + r·ldy, o × S;
 * gx_r = gx + r·ldx, c·h·w, overwritten). With v ≠ 0 and a second row set u (u_r = u + r·ldy):
 * gx_r = col2im(Wᵀ gy_r + Vᵀ u_r) (the R-operator's dgx). ws: P·S doubles (nws, cs: as above).
 */
export function convBackInputBatch(rows: i32, geo: usize, o: i32, w: usize, gy: usize, v: usize, u: usize, ldy: i32, gx: usize, ldx: i32, ws: usize, cs: i32, nws: i32): void {
  const c = geoAt(geo, 0), h = geoAt(geo, 1), wd = geoAt(geo, 2);
  const P = c * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  for (let r = 0; r < rows; r++) {
    const off = (<usize>r * <usize>ldy) << 3;
    dgemm(1, 0, P, S, o, 1.0, w, P, gy + off, S, 0.0, ws, S);
    if (v != 0) dgemm(1, 0, P, S, o, 1.0, v, P, u + off, S, 1.0, ws, S);
    const gr = gx + ((<usize>r * <usize>ldx) << 3);
    memory.fill(gr, 0, (<usize>(c * h * wd)) << 3);
    col2imT<f64>(c, h, wd, geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), ws, gr);
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
  const P = geoAt(geo, 0) * geoAt(geo, 3) * geoAt(geo, 4);
  const S = geoAt(geo, 11) * geoAt(geo, 12);
  const stack = ws + ((<usize>P * <usize>S) << 3);
  const blk = (<usize>o * <usize>P) << 3;
  for (let i = 0; i < n; i++) {
    im2colGeo(geo, x + ((<usize>i * <usize>ldx) << 3), ws);
    const g = gy + ((<usize>i * <usize>k * <usize>ldy) << 3);
    if (k == 1) dgemm(0, 1, o, P, S, 1.0, g, S, ws, S, 0.0, out + ((<usize>i * <usize>ldout) << 3), P);
    else {
      dgemm(0, 1, k * o, P, S, 1.0, g, S, ws, S, 0.0, stack, P);
      for (let j = 0; j < k; j++) memory.copy(out + ((<usize>(i * k + j) * <usize>ldout) << 3), stack + <usize>j * blk, blk);
    }
    if (bias == 0) continue;
    // The bias pullbacks (convPositionSums' sums, while the rows are in cache).
    for (let j = 0; j < k; j++) {
      const ob = out + ((<usize>(i * k + j) * <usize>ldout + <usize>o * <usize>P) << 3);
      const gr = g + ((<usize>j * <usize>ldy) << 3);
      for (let ch = 0; ch < o; ch++) store<f64>(ob + (<usize>ch << 3), sumRow(gr + ((<usize>ch * <usize>S) << 3), S));
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
  for (let b = 0; b < n; b++) {
    im2colT<f64>(geoAt(geo, 0), geoAt(geo, 1), geoAt(geo, 2), geoAt(geo, 3), geoAt(geo, 4), geoAt(geo, 5), geoAt(geo, 6), geoAt(geo, 7), geoAt(geo, 8), geoAt(geo, 9), geoAt(geo, 10), geoAt(geo, 11), geoAt(geo, 12), x + ((<usize>b * <usize>ldx) << 3), px + ((<usize>b * <usize>s) << 3), ld);
    if (gy == 0) continue;
    const g = gy + ((<usize>b * <usize>ldy) << 3);
    for (let ch = 0; ch < o; ch++) {
      const src = g + ((<usize>ch * <usize>s) << 3), dst = gyc + ((<usize>ch * <usize>ld + <usize>b * <usize>s) << 3);
      let j = 0;
      for (; j + 2 <= s; j += 2) v128.store(dst + (<usize>j << 3), v128.load(src + (<usize>j << 3)));
      if (j < s) store<f64>(dst + (<usize>j << 3), load<f64>(src + (<usize>j << 3)));
    }
  }
}
