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
 *   the same bodies with f32). Plain scalar loops: these are memory-bound copies next to the GEMM.
 * - No allocation, no validation, no status: the TypeScript layer checks the geometry.
 */

// @ts-ignore: decorator
@inline function im2colT<T>(c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, oh: i32, ow: i32, x: usize, cols: usize): void {
  const S = oh * ow;
  const sz = <usize>sizeof<T>();
  let row = 0;
  for (let ci = 0; ci < c; ci++) {
    const xc = x + <usize>(ci * h * w) * sz;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const out = cols + <usize>row * <usize>S * sz;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - ph + ky * dh;
          const orow = out + <usize>(oy * ow) * sz;
          if (iy < 0 || iy >= h) {
            memory.fill(orow, 0, <usize>ow * sz);
            continue;
          }
          const xr = xc + <usize>(iy * w) * sz;
          const x0 = kx * dw - pw;
          if (sw == 1 && x0 >= 0 && x0 + ow <= w) {
            memory.copy(orow, xr + <usize>x0 * sz, <usize>ow * sz);
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
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= h) continue;
          const xr = xc + <usize>(iy * w) * sz;
          const srow = src + <usize>(oy * ow) * sz;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw + x0;
            if (ix >= 0 && ix < w) {
              const p = xr + <usize>ix * sz;
              store<T>(p, load<T>(p) + load<T>(srow + <usize>ox * sz));
            }
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
  im2colT<f64>(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, cols);
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
