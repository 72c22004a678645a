/**
 * 2-d max and average pooling over a batch (PyTorch's MaxPool2d / AvgPool2d: dilation 1, floor
 * mode; average pooling divides by kh·kw, counting padding zeros — `count_include_pad=True`).
 *
 * Geometry: each of the n samples is c × h × w (NCHW rows of c·h·w values), output c × oh × ow
 * (oh, ow computed by the caller), window kh × kw, stride (sh, sw), padding ph (top) / pw (left).
 * Max pooling records, per output entry, the index (within the sample, 0 … c·h·w − 1) of the
 * input it selected — the first maximum in the window's row-major order, padding never selected
 * (PyTorch's rule) — as an i32 array `idx` (n × c·oh·ow). A window lying wholly in the padding
 * cannot occur: the TypeScript layer requires padding ≤ kernel / 2, as PyTorch does.
 *
 * "Stacks": backward kernels take rows = n·k cotangent rows, k consecutive rows per sample, so that
 * the pullback of k output vectors per sample shares the sample's forward record.
 *
 * Pointers are byte addresses, sizes are elements, 8-byte alignment suffices (4 for idx);
 * outputs never alias inputs; no allocation, validation or status. Generic bodies over the
 * element type T, exported for f64 and, as the `…32` twins (maxPoolForward32, poolGather32,
 * poolScatter32, maxPoolScatter2232, avgPoolForward32, avgPoolBackward32, same arguments), for
 * float32 planes (4 bytes per element, 4-byte alignment suffices; idx stays i32). The f64
 * instances are the f64 code op for op. Max pooling, gathers and scatters only compare, copy and
 * add one value to +0, so a twin's output is the f64 kernel's on the same (float32) values
 * exactly (the same first-maximum and NaN rules; the 2 × 2 pool runs four windows per f32x4,
 * with the scalar loop's comparisons). Average pooling sums each window in f32, in the f64
 * kernel's order, and multiplies by 1/(kh·kw) rounded to f32: within γ_{kh·kw+2} · Σ|window| /
 * (kh·kw) of the exact value (backward: each input entry's sum of at most ⌈kh/sh⌉·⌈kw/sw⌉ terms).
 */

/** One candidate of a max-pool window: taken when larger than the best so far, or NaN. */
// @ts-ignore: decorator
@inline function better<T>(v: T, bv: T): bool {
  return v > bv || v != v;
}

/**
 * The 2 × 2, stride-2, unpadded max pool (every window inside the input: 2·oh ≤ h, 2·ow ≤ w):
 * the generic loop's comparisons in its order (top-left, top-right, bottom-left, bottom-right)
 * without its bounds arithmetic; for f64 two neighbouring windows at a time, one per lane
 * (compare masks and bitselects, the indices in i64 lanes), for f32 four (indices in i32 lanes).
 */
// @ts-ignore: decorator
@inline function maxPool22T<T>(n: i32, c: i32, h: i32, w: i32, oh: i32, ow: i32, x: usize, y: usize, idx: usize): void {
  const sz = <usize>sizeof<T>();
  const inS = c * h * w, outS = c * oh * ow;
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>inS * sz;
    const yi = y + <usize>i * <usize>outS * sz;
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    let q = 0;
    for (let ci = 0; ci < c; ci++) {
      for (let oy = 0; oy < oh; oy++) {
        let j = ci * h * w + 2 * oy * w;
        let ox = 0;
        if (sizeof<T>() == 8) {
          // Two windows (ox, ox + 1) per step, one per lane: the same comparisons, branch-free.
          const wsz = <usize>w * sz;
          for (; ox + 2 <= ow; ox += 2) {
            const p = xi + <usize>j * sz;
            const u0 = v128.load(p), u1 = v128.load(p + 16);
            const l0 = v128.load(p + wsz), l1 = v128.load(p + wsz + 16);
            let bv = v128.shuffle<f64>(u0, u1, 0, 2);
            const b0 = i64x2.add(i64x2.splat(<i64>j), i64x2(0, 2));
            let bi = b0;
            const v1 = v128.shuffle<f64>(u0, u1, 1, 3);
            let m = v128.or(f64x2.gt(v1, bv), f64x2.ne(v1, v1));
            bv = v128.bitselect(v1, bv, m);
            bi = v128.bitselect(i64x2.add(b0, i64x2.splat(1)), bi, m);
            const v2 = v128.shuffle<f64>(l0, l1, 0, 2);
            m = v128.or(f64x2.gt(v2, bv), f64x2.ne(v2, v2));
            bv = v128.bitselect(v2, bv, m);
            bi = v128.bitselect(i64x2.add(b0, i64x2.splat(<i64>w)), bi, m);
            const v3 = v128.shuffle<f64>(l0, l1, 1, 3);
            m = v128.or(f64x2.gt(v3, bv), f64x2.ne(v3, v3));
            bv = v128.bitselect(v3, bv, m);
            bi = v128.bitselect(i64x2.add(b0, i64x2.splat(<i64>(w + 1))), bi, m);
            v128.store(yi + <usize>q * sz, bv);
            store<i32>(ii + (<usize>q << 2), <i32>i64x2.extract_lane(bi, 0));
            store<i32>(ii + (<usize>(q + 1) << 2), <i32>i64x2.extract_lane(bi, 1));
            q += 2;
            j += 4;
          }
        } else {
          // Four windows (ox … ox + 3) per step, one per f32 lane, the indices in i32 lanes.
          const wsz = <usize>w << 2;
          for (; ox + 4 <= ow; ox += 4) {
            const p = xi + (<usize>j << 2);
            const u0 = v128.load(p), u1 = v128.load(p + 16);
            const l0 = v128.load(p + wsz), l1 = v128.load(p + wsz + 16);
            let bv = v128.shuffle<f32>(u0, u1, 0, 2, 4, 6);
            const b0 = i32x4.add(i32x4.splat(j), i32x4(0, 2, 4, 6));
            let bi = b0;
            const v1 = v128.shuffle<f32>(u0, u1, 1, 3, 5, 7);
            let m = v128.or(f32x4.gt(v1, bv), f32x4.ne(v1, v1));
            bv = v128.bitselect(v1, bv, m);
            bi = v128.bitselect(i32x4.add(b0, i32x4.splat(1)), bi, m);
            const v2 = v128.shuffle<f32>(l0, l1, 0, 2, 4, 6);
            m = v128.or(f32x4.gt(v2, bv), f32x4.ne(v2, v2));
            bv = v128.bitselect(v2, bv, m);
            bi = v128.bitselect(i32x4.add(b0, i32x4.splat(w)), bi, m);
            const v3 = v128.shuffle<f32>(l0, l1, 1, 3, 5, 7);
            m = v128.or(f32x4.gt(v3, bv), f32x4.ne(v3, v3));
            bv = v128.bitselect(v3, bv, m);
            bi = v128.bitselect(i32x4.add(b0, i32x4.splat(w + 1)), bi, m);
            v128.store(yi + (<usize>q << 2), bv);
            v128.store(ii + (<usize>q << 2), bi);
            q += 4;
            j += 8;
          }
        }
        for (; ox < ow; ox++) {
          const p = xi + <usize>j * sz;
          let bv = load<T>(p);
          let best = j;
          const v1 = load<T>(p + sz);
          if (better<T>(v1, bv)) { bv = v1; best = j + 1; }
          const v2 = load<T>(p + <usize>w * sz);
          if (better<T>(v2, bv)) { bv = v2; best = j + w; }
          const v3 = load<T>(p + <usize>(w + 1) * sz);
          if (better<T>(v3, bv)) { bv = v3; best = j + w + 1; }
          store<T>(yi + <usize>q * sz, bv);
          store<i32>(ii + (<usize>q << 2), best);
          q++;
          j += 2;
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function maxPoolT<T>(n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize, idx: usize): void {
  const sz = <usize>sizeof<T>();
  const inS = c * h * w, outS = c * oh * ow;
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0) {
    maxPool22T<T>(n, c, h, w, oh, ow, x, y, idx);
    return;
  }
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>inS * sz;
    const yi = y + <usize>i * <usize>outS * sz;
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    let q = 0;
    for (let ci = 0; ci < c; ci++) {
      const base = ci * h * w;
      for (let oy = 0; oy < oh; oy++) {
        const y0 = oy * sh - ph;
        const ya = max(y0, 0), yb = min(y0 + kh, h);
        for (let ox = 0; ox < ow; ox++) {
          const x0 = ox * sw - pw;
          const xa = max(x0, 0), xb = min(x0 + kw, w);
          let best = base + ya * w + xa;
          let bv = load<T>(xi + <usize>best * sz);
          for (let iy = ya; iy < yb; iy++) {
            for (let ix = xa; ix < xb; ix++) {
              const j = base + iy * w + ix;
              const v = load<T>(xi + <usize>j * sz);
              // `v > bv` keeps the first maximum; a NaN is always taken (PyTorch's rule: NaN propagates).
              if (v > bv || v != v) {
                bv = v;
                best = j;
              }
            }
          }
          store<T>(yi + <usize>q * sz, bv);
          store<i32>(ii + (<usize>q << 2), best);
          q++;
        }
      }
    }
  }
}

/**
 * Max pooling: y (n × c·oh·ow) and the selected input indices idx (i32, n × c·oh·ow; see the
 * module header). Overwrites y and idx.
 */
export function maxPoolForward(n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize, idx: usize): void {
  maxPoolT<f64>(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, x, y, idx);
}

/** {@link maxPoolForward} on float32 x and y (idx i32): the same selections and values. */
export function maxPoolForward32(n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize, idx: usize): void {
  maxPoolT<f32>(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, x, y, idx);
}

/**
 * The gather of a recorded selection: y[r][q] = x[r][idx[r/k][q]] for r < n·k rows (x: rows of
 * inS values, y: rows of outS values; k rows per sample share its idx row). Overwrites y. Max
 * pooling's Jacobian-vector product (k = 1).
 */
export function poolGather(n: i32, k: i32, inS: i32, outS: i32, idx: usize, x: usize, y: usize): void {
  poolGatherT<f64>(n, k, inS, outS, idx, x, y);
}

/** {@link poolGather} on float32 x and y (idx i32). */
export function poolGather32(n: i32, k: i32, inS: i32, outS: i32, idx: usize, x: usize, y: usize): void {
  poolGatherT<f32>(n, k, inS, outS, idx, x, y);
}

// @ts-ignore: decorator
@inline function poolGatherT<T>(n: i32, k: i32, inS: i32, outS: i32, idx: usize, x: usize, y: usize): void {
  const sh = alignof<T>();
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << sh), yr = y + ((<usize>r * <usize>outS) << sh);
      for (let q = 0; q < outS; q++) store<T>(yr + (<usize>q << sh), load<T>(xr + (<usize>load<i32>(ii + (<usize>q << 2)) << sh)));
    }
  }
}

/**
 * The adjoint of {@link poolGather}: x[r] = 0, then x[r][idx[r/k][q]] += y[r][q] for every q
 * (rows r < n·k; overwrites x). Max pooling's vector-Jacobian product.
 */
export function poolScatter(n: i32, k: i32, inS: i32, outS: i32, idx: usize, y: usize, x: usize): void {
  poolScatterT<f64>(n, k, inS, outS, idx, y, x);
}

/**
 * {@link poolScatter} on float32 y and x (idx i32): each entry's adds in f32, in the same order
 * (exactly the f64 kernel's values where windows do not overlap).
 */
export function poolScatter32(n: i32, k: i32, inS: i32, outS: i32, idx: usize, y: usize, x: usize): void {
  poolScatterT<f32>(n, k, inS, outS, idx, y, x);
}

// @ts-ignore: decorator
@inline function poolScatterT<T>(n: i32, k: i32, inS: i32, outS: i32, idx: usize, y: usize, x: usize): void {
  const sh = alignof<T>();
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << sh), yr = y + ((<usize>r * <usize>outS) << sh);
      memory.fill(xr, 0, <usize>inS << sh);
      for (let q = 0; q < outS; q++) {
        const p = xr + (<usize>load<i32>(ii + (<usize>q << 2)) << sh);
        store<T>(p, load<T>(p) + load<T>(yr + (<usize>q << sh)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline function avgPoolT<T>(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize): void {
  const sz = <usize>sizeof<T>();
  const inS = c * h * w, outS = c * oh * ow;
  const inv = <T>1 / <T>(kh * kw);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * <usize>inS * sz;
    const yr = y + <usize>r * <usize>outS * sz;
    let q = 0;
    for (let ci = 0; ci < c; ci++) {
      const xc = xr + <usize>(ci * h * w) * sz;
      for (let oy = 0; oy < oh; oy++) {
        const y0 = oy * sh - ph;
        const ya = max(y0, 0), yb = min(y0 + kh, h);
        for (let ox = 0; ox < ow; ox++) {
          const x0 = ox * sw - pw;
          const xa = max(x0, 0), xb = min(x0 + kw, w);
          let s = <T>0;
          for (let iy = ya; iy < yb; iy++) {
            const p = xc + <usize>(iy * w) * sz;
            for (let ix = xa; ix < xb; ix++) s += load<T>(p + <usize>ix * sz);
          }
          store<T>(yr + <usize>q * sz, s * inv);
          q++;
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function avgPoolBackT<T>(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, y: usize, x: usize): void {
  const sz = <usize>sizeof<T>();
  const inS = c * h * w, outS = c * oh * ow;
  const inv = <T>1 / <T>(kh * kw);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * <usize>inS * sz;
    const yr = y + <usize>r * <usize>outS * sz;
    memory.fill(xr, 0, <usize>inS * sz);
    let q = 0;
    for (let ci = 0; ci < c; ci++) {
      const xc = xr + <usize>(ci * h * w) * sz;
      for (let oy = 0; oy < oh; oy++) {
        const y0 = oy * sh - ph;
        const ya = max(y0, 0), yb = min(y0 + kh, h);
        for (let ox = 0; ox < ow; ox++) {
          const x0 = ox * sw - pw;
          const xa = max(x0, 0), xb = min(x0 + kw, w);
          const g = load<T>(yr + <usize>q * sz) * inv;
          for (let iy = ya; iy < yb; iy++) {
            const p = xc + <usize>(iy * w) * sz;
            for (let ix = xa; ix < xb; ix++) store<T>(p + <usize>ix * sz, load<T>(p + <usize>ix * sz) + g);
          }
          q++;
        }
      }
    }
  }
}

/**
 * Average pooling of `rows` samples (or tangent / cotangent rows): y (rows × c·oh·ow) =
 * window sums / (kh·kw). Overwrites y. Linear, so it is also its own Jacobian-vector product.
 */
export function avgPoolForward(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize): void {
  avgPoolT<f64>(rows, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, x, y);
}

/** {@link avgPoolForward} on float32: window sums in f32, times 1/(kh·kw) rounded to f32. */
export function avgPoolForward32(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, x: usize, y: usize): void {
  avgPoolT<f32>(rows, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, x, y);
}

/** The adjoint of {@link avgPoolForward}: x (rows × c·h·w, overwritten) from y (rows × c·oh·ow). */
export function avgPoolBackward(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, y: usize, x: usize): void {
  avgPoolBackT<f64>(rows, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, y, x);
}

/** {@link avgPoolBackward} on float32 (f32 products and adds, in the f64 kernel's order). */
export function avgPoolBackward32(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, y: usize, x: usize): void {
  avgPoolBackT<f32>(rows, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, y, x);
}

/**
 * {@link poolScatter} for a 2 × 2, stride-2, unpadded max pool (geometry c × h × w → c × oh × ow,
 * oh = ⌊h/2⌋, ow = ⌊w/2⌋; `idx` from {@link maxPoolForward} on that geometry): the windows do not
 * overlap, so every input entry receives at most one output and is written once — 0 + y where
 * selected (the generic scatter's value, bit for bit), 0 elsewhere — instead of a fill and a
 * read-modify-write scatter. Rows r < n·k, k per sample; overwrites x.
 */
export function maxPoolScatter22(n: i32, k: i32, c: i32, h: i32, w: i32, oh: i32, ow: i32, idx: usize, y: usize, x: usize): void {
  maxPoolScatter22T<f64>(n, k, c, h, w, oh, ow, idx, y, x);
}

/**
 * {@link maxPoolScatter22} on float32 y and x (idx i32): each window row as one 8-byte store of
 * two f32 lanes (0 + y in the selected lane, +0 elsewhere).
 */
export function maxPoolScatter2232(n: i32, k: i32, c: i32, h: i32, w: i32, oh: i32, ow: i32, idx: usize, y: usize, x: usize): void {
  maxPoolScatter22T<f32>(n, k, c, h, w, oh, ow, idx, y, x);
}

// @ts-ignore: decorator
@inline function maxPoolScatter22T<T>(n: i32, k: i32, c: i32, h: i32, w: i32, oh: i32, ow: i32, idx: usize, y: usize, x: usize): void {
  const sh = alignof<T>();
  const inS = c * h * w, outS = c * oh * ow;
  const edges = h != 2 * oh || w != 2 * ow;
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << sh), yr = y + ((<usize>r * <usize>outS) << sh);
      if (edges) memory.fill(xr, 0, <usize>inS << sh);
      let q = 0;
      if (sizeof<T>() == 8) {
        const top = i64x2(0, 1), bottom = i64x2(<i64>w, <i64>(w + 1));
        for (let ci = 0; ci < c; ci++) {
          for (let oy = 0; oy < oh; oy++) {
            let j = ci * h * w + 2 * oy * w;
            for (let ox = 0; ox < ow; ox++) {
              // Each window row as one two-lane store: 0 + y in the selected lane, +0 elsewhere.
              const sel = i64x2.splat(<i64>(load<i32>(ii + (<usize>q << 2)) - j));
              const g = f64x2.splat(0.0 + load<f64>(yr + (<usize>q << 3)));
              const p = xr + (<usize>j << 3);
              v128.store(p, v128.and(g, i64x2.eq(sel, top)));
              v128.store(p + (<usize>w << 3), v128.and(g, i64x2.eq(sel, bottom)));
              q++;
              j += 2;
            }
          }
        }
      } else {
        // Lanes 0, 1: the window's top row; lanes 2, 3: its bottom row.
        const offs = i32x4(0, 1, w, w + 1);
        for (let ci = 0; ci < c; ci++) {
          for (let oy = 0; oy < oh; oy++) {
            let j = ci * h * w + 2 * oy * w;
            for (let ox = 0; ox < ow; ox++) {
              const sel = i32x4.splat(load<i32>(ii + (<usize>q << 2)) - j);
              const g = f32x4.splat(<f32>0 + load<f32>(yr + (<usize>q << 2)));
              const v = v128.and(g, i32x4.eq(sel, offs));
              const p = xr + (<usize>j << 2);
              v128.store64_lane(p, v, 0);
              v128.store64_lane(p + (<usize>w << 2), v, 1);
              q++;
              j += 2;
            }
          }
        }
      }
    }
  }
}
