/**
 * Normalization layers: per-channel affine maps (batch norm in evaluation mode, and the affine
 * part of layer norm with one "channel" per feature) and layer norm's per-sample standardization
 * with its first and second derivatives.
 *
 * Layouts: rows of c × S values (c channels of S positions each, NCHW; S = 1 for per-feature
 * maps). "Stacks": n samples with k consecutive cotangent rows each (row r belongs to sample
 * r / k), so that k output vectors per sample pull back against the sample's forward record.
 *
 * Layer norm, per sample x of f values (biased variance, as PyTorch):
 *   μ = mean(x), r = 1/√(mean((x − μ)²) + eps), x̂ = r (x − μ)
 *   tangent        dx̂ = r (t − mean(t) − x̂ · mean(x̂ ⊙ t))
 *   cotangent      gx = r (u − mean(u) − x̂ · mean(x̂ ⊙ u))             (u = γ ⊙ gy)
 *   second order   d(gx) = −q r · gx + r (du − mean(du) − dx̂ · m − x̂ · dm)
 *                  with q = mean(x̂ ⊙ t), m = mean(x̂ ⊙ u), dm = mean(x̂ ⊙ du + dx̂ ⊙ u)
 * (the derivative of gx along the input tangent t and the cotangent's own tangent du).
 * Means are two-pass sums in sample order.
 *
 * Pointers are byte addresses, sizes elements, 8-byte alignment suffices; outputs may alias only
 * where a function says so; no allocation, validation or status.
 */

/**
 * y[r][ch][s] = beta · y[r][ch][s] + scale[ch] · x[r][ch][s] + shift[ch] for r < rows, ch < c,
 * s < S; `shift` = 0 means no shift, beta = 0 overwrites y without reading it. y may equal x.
 */
export function chanAffine(rows: i32, c: i32, S: i32, scale: usize, shift: usize, x: usize, beta: f64, y: usize): void {
  const vb = f64x2.splat(beta);
  for (let r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++) {
      const a = load<f64>(scale + (<usize>ch << 3));
      const b = shift == 0 ? 0.0 : load<f64>(shift + (<usize>ch << 3));
      const off = (<usize>(r * c + ch) * <usize>S) << 3;
      const xp = x + off, yp = y + off;
      const va = f64x2.splat(a), vc = f64x2.splat(b);
      let s = 0;
      if (beta == 0) {
        for (; s + 2 <= S; s += 2) v128.store(yp + (<usize>s << 3), f64x2.add(f64x2.mul(va, v128.load(xp + (<usize>s << 3))), vc));
        if (s < S) store<f64>(yp + (<usize>s << 3), a * load<f64>(xp + (<usize>s << 3)) + b);
      } else {
        for (; s + 2 <= S; s += 2) {
          const p = yp + (<usize>s << 3);
          v128.store(p, f64x2.add(f64x2.mul(vb, v128.load(p)), f64x2.add(f64x2.mul(va, v128.load(xp + (<usize>s << 3))), vc)));
        }
        if (s < S) {
          const p = yp + (<usize>s << 3);
          store<f64>(p, beta * load<f64>(p) + (a * load<f64>(xp + (<usize>s << 3)) + b));
        }
      }
    }
  }
}

/** Σ_s a[s]·b[s] over S contiguous doubles (two lanes, then the tail). */
// @ts-ignore: decorator
@inline function dotS(a: usize, b: usize, S: i32): f64 {
  let acc = f64x2.splat(0);
  let s = 0;
  for (; s + 2 <= S; s += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(a + (<usize>s << 3)), v128.load(b + (<usize>s << 3))));
  let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (s < S) t += load<f64>(a + (<usize>s << 3)) * load<f64>(b + (<usize>s << 3));
  return t;
}

/** Σ_s a[s] over S contiguous doubles. */
// @ts-ignore: decorator
@inline function sumS(a: usize, S: i32): f64 {
  let acc = f64x2.splat(0);
  let s = 0;
  for (; s + 2 <= S; s += 2) acc = f64x2.add(acc, v128.load(a + (<usize>s << 3)));
  let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (s < S) t += load<f64>(a + (<usize>s << 3));
  return t;
}

/**
 * Per-row pullbacks of y = γ_ch · x̂ + β_ch (per channel) for a stack g ((n·k) rows of c × S):
 *   out[r·ldout + ch]     = Σ_s g[r][ch][s] · xhat[r/k][ch][s]      (γ part)
 *   out[r·ldout + c + ch] = Σ_s g[r][ch][s]                          (β part)
 * Overwrites those 2c entries of each row.
 */
export function chanPullbacks(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, out: usize, ldout: i32): void {
  for (let i = 0; i < n; i++) {
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const orow = out + ((<usize>r * <usize>ldout) << 3);
      for (let ch = 0; ch < c; ch++) {
        const gp = g + ((<usize>(r * c + ch) * <usize>S) << 3);
        const xp = xhat + ((<usize>(i * c + ch) * <usize>S) << 3);
        store<f64>(orow + (<usize>ch << 3), dotS(gp, xp, S));
        store<f64>(orow + (<usize>(c + ch) << 3), sumS(gp, S));
      }
    }
  }
}

/**
 * The sums of {@link chanPullbacks} over all n·k rows (rows in order), each half where its
 * pointer is non-zero:
 *   outG[ch] = beta·outG[ch] + Σ_r Σ_s g·xhat,   outB[ch] = beta·outB[ch] + Σ_r Σ_s g
 */
export function chanGrad(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, beta: f64, outG: usize, outB: usize): void {
  for (let ch = 0; ch < c; ch++) {
    let tg = 0.0, tb = 0.0;
    for (let i = 0; i < n; i++) {
      const xp = xhat + ((<usize>(i * c + ch) * <usize>S) << 3);
      for (let kk = 0; kk < k; kk++) {
        const gp = g + ((<usize>((i * k + kk) * c + ch) * <usize>S) << 3);
        if (outG != 0) tg += dotS(gp, xp, S);
        if (outB != 0) tb += sumS(gp, S);
      }
    }
    if (outG != 0) {
      const pg = outG + (<usize>ch << 3);
      store<f64>(pg, (beta == 0 ? 0 : beta * load<f64>(pg)) + tg);
    }
    if (outB != 0) {
      const pb = outB + (<usize>ch << 3);
      store<f64>(pb, (beta == 0 ? 0 : beta * load<f64>(pb)) + tb);
    }
  }
}

/** Layer norm forward, per sample of f values: xhat (n × f) and rstd (n) = 1/√(var + eps). */
export function lnForward(n: i32, f: i32, eps: f64, x: usize, xhat: usize, rstd: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const xp = x + ((<usize>i * <usize>f) << 3), hp = xhat + ((<usize>i * <usize>f) << 3);
    const mu = sumS(xp, f) * inv;
    let v = 0.0;
    for (let j = 0; j < f; j++) {
      const d = load<f64>(xp + (<usize>j << 3)) - mu;
      v += d * d;
    }
    const r = 1.0 / Math.sqrt(v * inv + eps);
    store<f64>(rstd + (<usize>i << 3), r);
    for (let j = 0; j < f; j++) store<f64>(hp + (<usize>j << 3), (load<f64>(xp + (<usize>j << 3)) - mu) * r);
  }
}

/** Layer norm's tangent of x̂: out = r (t − mean(t) − x̂ · mean(x̂ ⊙ t)) per sample (n × f; out may equal t). */
export function lnTangent(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const off = (<usize>i * <usize>f) << 3;
    const hp = xhat + off, tp = t + off, op = out + off;
    const r = load<f64>(rstd + (<usize>i << 3));
    const mt = sumS(tp, f) * inv, q = dotS(hp, tp, f) * inv;
    for (let j = 0; j < f; j++) {
      const o = <usize>j << 3;
      store<f64>(op + o, r * (load<f64>(tp + o) - mt - load<f64>(hp + o) * q));
    }
  }
}

/**
 * Layer norm's cotangent for a stack u = γ ⊙ gy ((n·k) rows of f): out = r (u − mean(u) −
 * x̂ · mean(x̂ ⊙ u)) with the row's sample's x̂ and r (out may equal u).
 */
export function lnBackward(n: i32, k: i32, f: i32, xhat: usize, rstd: usize, u: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const hp = xhat + ((<usize>i * <usize>f) << 3);
    const r = load<f64>(rstd + (<usize>i << 3));
    for (let kk = 0; kk < k; kk++) {
      const off = (<usize>(i * k + kk) * <usize>f) << 3;
      const up = u + off, op = out + off;
      const mu = sumS(up, f) * inv, m = dotS(hp, up, f) * inv;
      for (let j = 0; j < f; j++) {
        const o = <usize>j << 3;
        store<f64>(op + o, r * (load<f64>(up + o) - mu - load<f64>(hp + o) * m));
      }
    }
  }
}

/**
 * Layer norm's second-order cotangent (see the module header): out = d(gx) per sample (n × f)
 * from the input tangent t, u = γ ⊙ gy and its tangent du. out must not alias the inputs.
 */
export function lnBackward2(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, u: usize, du: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const off = (<usize>i * <usize>f) << 3;
    const hp = xhat + off, tp = t + off, up = u + off, dp = du + off, op = out + off;
    const r = load<f64>(rstd + (<usize>i << 3));
    const mt = sumS(tp, f) * inv, q = dotS(hp, tp, f) * inv;
    const mu = sumS(up, f) * inv, m = dotS(hp, up, f) * inv;
    const mdu = sumS(dp, f) * inv;
    // dm = mean(x̂ ⊙ du + dx̂ ⊙ u), dx̂ = r (t − mt − x̂ q)
    let dm = 0.0;
    for (let j = 0; j < f; j++) {
      const o = <usize>j << 3;
      const h = load<f64>(hp + o);
      dm += h * load<f64>(dp + o) + r * (load<f64>(tp + o) - mt - h * q) * load<f64>(up + o);
    }
    dm *= inv;
    for (let j = 0; j < f; j++) {
      const o = <usize>j << 3;
      const h = load<f64>(hp + o);
      const gx = r * (load<f64>(up + o) - mu - h * m);
      const dh = r * (load<f64>(tp + o) - mt - h * q);
      store<f64>(op + o, -q * r * gx + r * (load<f64>(dp + o) - mdu - dh * m - h * dm));
    }
  }
}
