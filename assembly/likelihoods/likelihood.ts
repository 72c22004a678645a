/**
 * Per-sample negative log-likelihoods of exponential families with natural parameter f,
 * their derivatives r = ∂ℓ/∂f and curvatures Λ = ∂²ℓ/∂f², vectorized over n samples.
 *
 * Each kernel returns Σ_i ℓ_i and writes r (n, or n × c for Categorical) and, when the
 * pointer `lam` is not 0, Λ (n, or n × c × c). Constants are dropped as in the paper's code:
 * Gaussian ℓ = (f − y)²/(2σ²), Poisson ℓ = exp(f) − y·f.
 *
 * Conventions: pointers are byte addresses, counts in elements, 8-byte alignment; labels y
 * are f64 (0/1 for Bernoulli, class indices for Categorical, counts for Poisson) and have
 * been validated by the caller. Scalar code (exp/log dominate; no SIMD transcendental).
 * Accuracy: AssemblyScript's exp/log (musl-derived, < 1 ulp).
 */
import { ld, st } from '../util/simd';

/** Gaussian with variance σ² (pass invVar = 1/σ²): r = (f − y)/σ², Λ = 1/σ². */
export function likGaussian(n: i32, f: usize, y: usize, invVar: f64, r: usize, lam: usize): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const e = ld(f, i) - ld(y, i);
    s += e * e;
    st(r, i, e * invVar);
    if (lam != 0) st(lam, i, invVar);
  }
  return 0.5 * invVar * s;
}

/**
 * Bernoulli with logit f. With clip c > 0 (the paper's code: c = 1e-8):
 * s = clip(1/(1 + exp(−f)), c, 1 − c), s̄ = clip(1/(1 + exp(f)), c, 1 − c),
 * ℓ = −y log s − (1 − y) log s̄, r = s − y, Λ = s(1 − s).
 * With c = 0 the exact, overflow-free forms: ℓ = softplus(f) − y f, r = σ(f) − y, Λ = σ(f)σ(−f).
 */
export function likBernoulli(n: i32, f: usize, y: usize, clip: f64, r: usize, lam: usize): f64 {
  let total = 0.0;
  if (clip > 0) {
    const hi = 1.0 - clip;
    for (let i = 0; i < n; i++) {
      const fi = ld(f, i), yi = ld(y, i);
      const s = min(max(1.0 / (1.0 + Math.exp(-fi)), clip), hi);
      const sb = min(max(1.0 / (1.0 + Math.exp(fi)), clip), hi);
      total += -Math.log(s) * yi - Math.log(sb) * (1.0 - yi);
      st(r, i, s - yi);
      if (lam != 0) st(lam, i, s * (1.0 - s));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const fi = ld(f, i), yi = ld(y, i);
      // softplus(f) = max(f, 0) + log1p(exp(−|f|)); σ(f) computed from exp(−|f|) ≤ 1.
      const e = Math.exp(-Math.abs(fi));
      total += max(fi, 0) + Math.log1p(e) - yi * fi;
      const s = fi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      const sb = fi >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
      st(r, i, s - yi);
      if (lam != 0) st(lam, i, s * sb);
    }
  }
  return total;
}

/** Poisson with log-rate f: ℓ = exp(f) − y f, r = exp(f) − y, Λ = exp(f). */
export function likPoisson(n: i32, f: usize, y: usize, r: usize, lam: usize): f64 {
  let total = 0.0;
  for (let i = 0; i < n; i++) {
    const fi = ld(f, i), yi = ld(y, i);
    const rate = Math.exp(fi);
    total += rate - yi * fi;
    st(r, i, rate - yi);
    if (lam != 0) st(lam, i, rate);
  }
  return total;
}

/**
 * Categorical with logits f (n × c, row-major), labels y in {0, …, c − 1}:
 * ℓ = logsumexp(f) − f_y (max-shifted), p = softmax(f), r = p − e_y, Λ = diag(p) − p pᵀ
 * (written as n blocks of c × c when lam ≠ 0).
 */
export function likCategorical(n: i32, c: i32, f: usize, y: usize, r: usize, lam: usize): f64 {
  let total = 0.0;
  for (let i = 0; i < n; i++) {
    const fi = f + (<usize>i * <usize>c << 3);
    const ri = r + (<usize>i * <usize>c << 3);
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = max(m, ld(fi, k));
    let z = 0.0;
    for (let k = 0; k < c; k++) {
      const e = Math.exp(ld(fi, k) - m);
      st(ri, k, e);
      z += e;
    }
    const label = <i32>ld(y, i);
    total += m + Math.log(z) - ld(fi, label);
    const inv = 1.0 / z;
    for (let k = 0; k < c; k++) st(ri, k, ld(ri, k) * inv);
    if (lam != 0) {
      const li = lam + (<usize>i * <usize>c * <usize>c << 3);
      for (let a = 0; a < c; a++) {
        const pa = ld(ri, a);
        for (let b = 0; b < c; b++) st(li, <isize>a * c + b, (a == b ? pa : 0.0) - pa * ld(ri, b));
      }
    }
    st(ri, label, ld(ri, label) - 1.0);
  }
  return total;
}

/**
 * Per-sample outer products of residuals: B_i = r_i r_iᵀ (n blocks of c × c) — the
 * "curvature" whose J-sandwich is the empirical Fisher. Scaled by alpha and added to B.
 */
export function residualOuter(n: i32, c: i32, r: usize, alpha: f64, b: usize): void {
  for (let i = 0; i < n; i++) {
    const ri = r + (<usize>i * <usize>c << 3);
    const bi = b + (<usize>i * <usize>c * <usize>c << 3);
    for (let a = 0; a < c; a++) {
      const ra = alpha * ld(ri, a);
      for (let k = 0; k < c; k++) st(bi, <isize>a * c + k, ld(bi, <isize>a * c + k) + ra * ld(ri, k));
    }
  }
}
