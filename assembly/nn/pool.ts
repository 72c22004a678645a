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
 * element type T, exported for f64.
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
 * (compare masks and bitselects, the indices in i64 lanes).
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

/**
 * The gather of a recorded selection: y[r][q] = x[r][idx[r/k][q]] for r < n·k rows (x: rows of
 * inS values, y: rows of outS values; k rows per sample share its idx row). Overwrites y. Max
 * pooling's Jacobian-vector product (k = 1).
 */
export function poolGather(n: i32, k: i32, inS: i32, outS: i32, idx: usize, x: usize, y: usize): void {
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << 3), yr = y + ((<usize>r * <usize>outS) << 3);
      for (let q = 0; q < outS; q++) store<f64>(yr + (<usize>q << 3), load<f64>(xr + (<usize>load<i32>(ii + (<usize>q << 2)) << 3)));
    }
  }
}

/**
 * The adjoint of {@link poolGather}: x[r] = 0, then x[r][idx[r/k][q]] += y[r][q] for every q
 * (rows r < n·k; overwrites x). Max pooling's vector-Jacobian product.
 */
export function poolScatter(n: i32, k: i32, inS: i32, outS: i32, idx: usize, y: usize, x: usize): void {
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << 3), yr = y + ((<usize>r * <usize>outS) << 3);
      memory.fill(xr, 0, <usize>inS << 3);
      for (let q = 0; q < outS; q++) {
        const p = xr + (<usize>load<i32>(ii + (<usize>q << 2)) << 3);
        store<f64>(p, load<f64>(p) + load<f64>(yr + (<usize>q << 3)));
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

/** The adjoint of {@link avgPoolForward}: x (rows × c·h·w, overwritten) from y (rows × c·oh·ow). */
export function avgPoolBackward(rows: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32, y: usize, x: usize): void {
  avgPoolBackT<f64>(rows, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, y, x);
}

/**
 * {@link poolScatter} for a 2 × 2, stride-2, unpadded max pool (geometry c × h × w → c × oh × ow,
 * oh = ⌊h/2⌋, ow = ⌊w/2⌋; `idx` from {@link maxPoolForward} on that geometry): the windows do not
 * overlap, so every input entry receives at most one output and is written once — 0 + y where
 * selected (the generic scatter's value, bit for bit), 0 elsewhere — instead of a fill and a
 * read-modify-write scatter. Rows r < n·k, k per sample; overwrites x.
 */
export function maxPoolScatter22(n: i32, k: i32, c: i32, h: i32, w: i32, oh: i32, ow: i32, idx: usize, y: usize, x: usize): void {
  const inS = c * h * w, outS = c * oh * ow;
  const edges = h != 2 * oh || w != 2 * ow;
  for (let i = 0; i < n; i++) {
    const ii = idx + ((<usize>i * <usize>outS) << 2);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + ((<usize>r * <usize>inS) << 3), yr = y + ((<usize>r * <usize>outS) << 3);
      if (edges) memory.fill(xr, 0, <usize>inS << 3);
      let q = 0;
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
    }
  }
}
