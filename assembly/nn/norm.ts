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
 *
 * Float32 twins (chanAffine32, chanPullbacks32, chanGrad32, lnForward32, lnTangent32,
 * lnBackward32, lnBackward232; the same arguments) take float32 planes (4 bytes per element,
 * 4-byte alignment suffices; xhat and rstd are float32 too); f64 scalars (beta, eps) are rounded
 * to f32 where used. Each pair instantiates one generic body (`…T<T>`) whose f64 instance is the
 * f64 code op for op. The reductions — layer norm's per-sample mean and variance over the f
 * features, the means of lnTangent / lnBackward / lnBackward2, chanPullbacks' sums over S
 * positions and chanGrad's over n·k·S — grow with the feature count / N·S, so the twins
 * ACCUMULATE THEM IN f64 from the widened f32 values (products of two f32 are exact in f64), in
 * the f64 kernel's order and lanes, and round each result to f32 once (as PyTorch's CPU kernels
 * accumulate float in double): a twin's statistic is the f64 kernel's on the same values,
 * rounded once. Layer norm's rstd = 1/√(var + eps) is formed in f64 and rounded once. The
 * elementwise maps (the affine map, x̂, the tangent and cotangent formulas) run in f32, four lanes
 * at a time (scalar tails of up to 3), with the rounded statistics: each output within a few
 * roundings of the f64 kernel's relative to the magnitudes of its terms, independent of f.
 */

import { ld2AsF64, ldAsF64, stFromF64, ldT, stT, vsplatT, vmulT, vaddT } from '../util/simd';

/**
 * y[r][ch][s] = beta · y[r][ch][s] + scale[ch] · x[r][ch][s] + shift[ch] for r < rows, ch < c,
 * s < S; `shift` = 0 means no shift, beta = 0 overwrites y without reading it. y may equal x.
 */
export function chanAffine(rows: i32, c: i32, S: i32, scale: usize, shift: usize, x: usize, beta: f64, y: usize): void {
  chanAffineT<f64>(rows, c, S, scale, shift, x, beta, y);
}

/** {@link chanAffine} on float32 (f32 lanes, four at a time; beta rounded to f32). */
export function chanAffine32(rows: i32, c: i32, S: i32, scale: usize, shift: usize, x: usize, beta: f64, y: usize): void {
  chanAffineT<f32>(rows, c, S, scale, shift, x, beta, y);
}

// @ts-ignore: decorator
@inline function chanAffineT<T>(rows: i32, c: i32, S: i32, scale: usize, shift: usize, x: usize, beta: f64, y: usize): void {
  const w = sizeof<T>() == 8 ? 2 : 4;
  const bt = <T>beta;
  const vb = vsplatT<T>(beta);
  for (let r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++) {
      const a = ldT<T>(scale, ch);
      const b = shift == 0 ? <T>0 : ldT<T>(shift, ch);
      const off = <usize>(r * c + ch) * <usize>S;
      const xp = x + (off << alignof<T>()), yp = y + (off << alignof<T>());
      const va = vsplatT<T>(<f64>a), vc = vsplatT<T>(<f64>b);
      let s = 0;
      if (beta == 0) {
        for (; s + w <= S; s += w) v128.store(yp + (<usize>s << alignof<T>()), vaddT<T>(vmulT<T>(va, v128.load(xp + (<usize>s << alignof<T>()))), vc));
        for (; s < S; s++) stT<T>(yp, s, a * ldT<T>(xp, s) + b);
      } else {
        for (; s + w <= S; s += w) {
          const p = yp + (<usize>s << alignof<T>());
          v128.store(p, vaddT<T>(vmulT<T>(vb, v128.load(p)), vaddT<T>(vmulT<T>(va, v128.load(xp + (<usize>s << alignof<T>()))), vc)));
        }
        for (; s < S; s++) stT<T>(yp, s, bt * ldT<T>(yp, s) + (a * ldT<T>(xp, s) + b));
      }
    }
  }
}

/**
 * Σ_s a[s]·b[s] over S contiguous T values, in f64 (two f64 lanes over consecutive pairs, then
 * the tail; f32 values widened exactly, so their products are exact).
 */
// @ts-ignore: decorator
@inline function dotS<T>(a: usize, b: usize, S: i32): f64 {
  let acc = f64x2.splat(0);
  let s = 0;
  for (; s + 2 <= S; s += 2) acc = f64x2.add(acc, f64x2.mul(ld2AsF64<T>(a, s), ld2AsF64<T>(b, s)));
  let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (s < S) t += ldAsF64<T>(a, s) * ldAsF64<T>(b, s);
  return t;
}

/** Σ_s a[s] over S contiguous T values, in f64 (as {@link dotS}). */
// @ts-ignore: decorator
@inline function sumS<T>(a: usize, S: i32): f64 {
  let acc = f64x2.splat(0);
  let s = 0;
  for (; s + 2 <= S; s += 2) acc = f64x2.add(acc, ld2AsF64<T>(a, s));
  let t = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (s < S) t += ldAsF64<T>(a, s);
  return t;
}

/**
 * Per-row pullbacks of y = γ_ch · x̂ + β_ch (per channel) for a stack g ((n·k) rows of c × S):
 *   out[r·ldout + ch]     = Σ_s g[r][ch][s] · xhat[r/k][ch][s]      (γ part)
 *   out[r·ldout + c + ch] = Σ_s g[r][ch][s]                          (β part)
 * Overwrites those 2c entries of each row.
 */
export function chanPullbacks(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, out: usize, ldout: i32): void {
  chanPullbacksT<f64>(n, k, c, S, g, xhat, out, ldout);
}

/** {@link chanPullbacks} on float32: each sum in f64, rounded to f32 once. */
export function chanPullbacks32(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, out: usize, ldout: i32): void {
  chanPullbacksT<f32>(n, k, c, S, g, xhat, out, ldout);
}

// @ts-ignore: decorator
@inline function chanPullbacksT<T>(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, out: usize, ldout: i32): void {
  const sh = alignof<T>();
  for (let i = 0; i < n; i++) {
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const orow = out + ((<usize>r * <usize>ldout) << sh);
      for (let ch = 0; ch < c; ch++) {
        const gp = g + ((<usize>(r * c + ch) * <usize>S) << sh);
        const xp = xhat + ((<usize>(i * c + ch) * <usize>S) << sh);
        stFromF64<T>(orow, ch, dotS<T>(gp, xp, S));
        stFromF64<T>(orow, c + ch, sumS<T>(gp, S));
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
  chanGradT<f64>(n, k, c, S, g, xhat, beta, outG, outB);
}

/**
 * {@link chanGrad} on float32: the sums in f64; beta (rounded to f32) · out + sum formed in f64
 * and rounded to f32 once.
 */
export function chanGrad32(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, beta: f64, outG: usize, outB: usize): void {
  chanGradT<f32>(n, k, c, S, g, xhat, beta, outG, outB);
}

// @ts-ignore: decorator
@inline function chanGradT<T>(n: i32, k: i32, c: i32, S: i32, g: usize, xhat: usize, beta: f64, outG: usize, outB: usize): void {
  const sh = alignof<T>();
  const bt = <f64><T>beta;
  for (let ch = 0; ch < c; ch++) {
    let tg = 0.0, tb = 0.0;
    for (let i = 0; i < n; i++) {
      const xp = xhat + ((<usize>(i * c + ch) * <usize>S) << sh);
      for (let kk = 0; kk < k; kk++) {
        const gp = g + ((<usize>((i * k + kk) * c + ch) * <usize>S) << sh);
        if (outG != 0) tg += dotS<T>(gp, xp, S);
        if (outB != 0) tb += sumS<T>(gp, S);
      }
    }
    if (outG != 0) stFromF64<T>(outG, ch, (beta == 0 ? 0 : bt * ldAsF64<T>(outG, ch)) + tg);
    if (outB != 0) stFromF64<T>(outB, ch, (beta == 0 ? 0 : bt * ldAsF64<T>(outB, ch)) + tb);
  }
}

/** Layer norm forward, per sample of f values: xhat (n × f) and rstd (n) = 1/√(var + eps). */
export function lnForward(n: i32, f: i32, eps: f64, x: usize, xhat: usize, rstd: usize): void {
  lnForwardT<f64>(n, f, eps, x, xhat, rstd);
}

/**
 * {@link lnForward} on float32: mean, variance and rstd in f64 (eps rounded to f32), rstd stored
 * rounded; xhat = (x − μ) · r in f32 with μ and r rounded to f32.
 */
export function lnForward32(n: i32, f: i32, eps: f64, x: usize, xhat: usize, rstd: usize): void {
  lnForwardT<f32>(n, f, eps, x, xhat, rstd);
}

// @ts-ignore: decorator
@inline function lnForwardT<T>(n: i32, f: i32, eps: f64, x: usize, xhat: usize, rstd: usize): void {
  const inv = 1.0 / <f64>f;
  const e = <f64><T>eps;
  for (let i = 0; i < n; i++) {
    const xp = x + ((<usize>i * <usize>f) << alignof<T>()), hp = xhat + ((<usize>i * <usize>f) << alignof<T>());
    const mu = sumS<T>(xp, f) * inv;
    let v = 0.0;
    for (let j = 0; j < f; j++) {
      const d = ldAsF64<T>(xp, j) - mu;
      v += d * d;
    }
    const r = 1.0 / Math.sqrt(v * inv + e);
    stFromF64<T>(rstd, i, r);
    const muT = <T>mu, rT = <T>r;
    let j = 0;
    if (sizeof<T>() == 4) {
      const vm = f32x4.splat(<f32>muT), vr = f32x4.splat(<f32>rT);
      for (; j + 4 <= f; j += 4) v128.store(hp + (<usize>j << 2), f32x4.mul(f32x4.sub(v128.load(xp + (<usize>j << 2)), vm), vr));
    }
    for (; j < f; j++) stT<T>(hp, j, (ldT<T>(xp, j) - muT) * rT);
  }
}

/** Layer norm's tangent of x̂: out = r (t − mean(t) − x̂ · mean(x̂ ⊙ t)) per sample (n × f; out may equal t). */
export function lnTangent(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, out: usize): void {
  lnTangentT<f64>(n, f, xhat, rstd, t, out);
}

/** {@link lnTangent} on float32: the means in f64, rounded to f32 once; the map in f32 lanes. */
export function lnTangent32(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, out: usize): void {
  lnTangentT<f32>(n, f, xhat, rstd, t, out);
}

/** out[j] = r (a[j] − ma − h[j] · q) for j < f: T lanes (f32: four at a time), then the tail. */
// @ts-ignore: decorator
@inline function lnMapT<T>(f: i32, r: T, ma: T, q: T, hp: usize, ap: usize, op: usize): void {
  let j = 0;
  if (sizeof<T>() == 4) {
    const vr = f32x4.splat(<f32>r), vm = f32x4.splat(<f32>ma), vq = f32x4.splat(<f32>q);
    for (; j + 4 <= f; j += 4) {
      const o = <usize>j << 2;
      v128.store(op + o, f32x4.mul(vr, f32x4.sub(f32x4.sub(v128.load(ap + o), vm), f32x4.mul(v128.load(hp + o), vq))));
    }
  }
  for (; j < f; j++) stT<T>(op, j, r * (ldT<T>(ap, j) - ma - ldT<T>(hp, j) * q));
}

// @ts-ignore: decorator
@inline function lnTangentT<T>(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const off = (<usize>i * <usize>f) << alignof<T>();
    const hp = xhat + off, tp = t + off, op = out + off;
    const r = ldT<T>(rstd, i);
    const mt = sumS<T>(tp, f) * inv, q = dotS<T>(hp, tp, f) * inv;
    lnMapT<T>(f, r, <T>mt, <T>q, hp, tp, op);
  }
}

/**
 * Layer norm's cotangent for a stack u = γ ⊙ gy ((n·k) rows of f): out = r (u − mean(u) −
 * x̂ · mean(x̂ ⊙ u)) with the row's sample's x̂ and r (out may equal u).
 */
export function lnBackward(n: i32, k: i32, f: i32, xhat: usize, rstd: usize, u: usize, out: usize): void {
  lnBackwardT<f64>(n, k, f, xhat, rstd, u, out);
}

/** {@link lnBackward} on float32: the means in f64, rounded to f32 once; the map in f32 lanes. */
export function lnBackward32(n: i32, k: i32, f: i32, xhat: usize, rstd: usize, u: usize, out: usize): void {
  lnBackwardT<f32>(n, k, f, xhat, rstd, u, out);
}

// @ts-ignore: decorator
@inline function lnBackwardT<T>(n: i32, k: i32, f: i32, xhat: usize, rstd: usize, u: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const hp = xhat + ((<usize>i * <usize>f) << alignof<T>());
    const r = ldT<T>(rstd, i);
    for (let kk = 0; kk < k; kk++) {
      const off = (<usize>(i * k + kk) * <usize>f) << alignof<T>();
      const up = u + off, op = out + off;
      const mu = sumS<T>(up, f) * inv, m = dotS<T>(hp, up, f) * inv;
      lnMapT<T>(f, r, <T>mu, <T>m, hp, up, op);
    }
  }
}

/**
 * Layer norm's second-order cotangent (see the module header): out = d(gx) per sample (n × f)
 * from the input tangent t, u = γ ⊙ gy and its tangent du. out must not alias the inputs.
 */
export function lnBackward2(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, u: usize, du: usize, out: usize): void {
  lnBackward2T<f64>(n, f, xhat, rstd, t, u, du, out);
}

/**
 * {@link lnBackward2} on float32: the means (dm included, its terms formed in f64 from the
 * unrounded means) in f64, rounded to f32 once; the final map in f32 lanes.
 */
export function lnBackward232(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, u: usize, du: usize, out: usize): void {
  lnBackward2T<f32>(n, f, xhat, rstd, t, u, du, out);
}

// @ts-ignore: decorator
@inline function lnBackward2T<T>(n: i32, f: i32, xhat: usize, rstd: usize, t: usize, u: usize, du: usize, out: usize): void {
  const inv = 1.0 / <f64>f;
  for (let i = 0; i < n; i++) {
    const off = (<usize>i * <usize>f) << alignof<T>();
    const hp = xhat + off, tp = t + off, up = u + off, dp = du + off, op = out + off;
    const r = ldAsF64<T>(rstd, i);
    const mt = sumS<T>(tp, f) * inv, q = dotS<T>(hp, tp, f) * inv;
    const mu = sumS<T>(up, f) * inv, m = dotS<T>(hp, up, f) * inv;
    const mdu = sumS<T>(dp, f) * inv;
    // dm = mean(x̂ ⊙ du + dx̂ ⊙ u), dx̂ = r (t − mt − x̂ q)
    let dm = 0.0;
    for (let j = 0; j < f; j++) {
      const h = ldAsF64<T>(hp, j);
      dm += h * ldAsF64<T>(dp, j) + r * (ldAsF64<T>(tp, j) - mt - h * q) * ldAsF64<T>(up, j);
    }
    dm *= inv;
    const rT = <T>r, mtT = <T>mt, qT = <T>q, muT = <T>mu, mT = <T>m, mduT = <T>mdu, dmT = <T>dm;
    let j = 0;
    if (sizeof<T>() == 4) {
      const vr = f32x4.splat(<f32>rT), vmt = f32x4.splat(<f32>mtT), vq = f32x4.splat(<f32>qT);
      const vmu = f32x4.splat(<f32>muT), vm = f32x4.splat(<f32>mT), vmdu = f32x4.splat(<f32>mduT), vdm = f32x4.splat(<f32>dmT);
      const vqr = f32x4.mul(f32x4.neg(vq), vr);
      for (; j + 4 <= f; j += 4) {
        const o = <usize>j << 2;
        const h = v128.load(hp + o);
        const gx = f32x4.mul(vr, f32x4.sub(f32x4.sub(v128.load(up + o), vmu), f32x4.mul(h, vm)));
        const dh = f32x4.mul(vr, f32x4.sub(f32x4.sub(v128.load(tp + o), vmt), f32x4.mul(h, vq)));
        const inner = f32x4.sub(f32x4.sub(f32x4.sub(v128.load(dp + o), vmdu), f32x4.mul(dh, vm)), f32x4.mul(h, vdm));
        v128.store(op + o, f32x4.add(f32x4.mul(vqr, gx), f32x4.mul(vr, inner)));
      }
    }
    for (; j < f; j++) {
      const h = ldT<T>(hp, j);
      const gx = rT * (ldT<T>(up, j) - muT - h * mT);
      const dh = rT * (ldT<T>(tp, j) - mtT - h * qT);
      stT<T>(op, j, -qT * rT * gx + rT * (ldT<T>(dp, j) - mduT - dh * mT - h * dmT));
    }
  }
}
