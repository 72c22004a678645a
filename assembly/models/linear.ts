/**
 * The linear model f_n = W x_n (W is M × d, θ = vec(W) class-major: θ[m·d + j] = W[m][j])
 * and its adjoint, for dense and CSR inputs.
 *
 * Conventions:
 * - Pointers are byte addresses; n, m, d and leading dimensions are in elements.
 * - X is row-major n × d (ldx ≥ d), or CSR (indptr: n + 1 i32, indices: i32 < d, values: f64).
 * - F and R are row-major n × m (contiguous, leading dimension m).
 * - 8-byte alignment suffices; SIMD dot products/axpys with scalar tails for odd d.
 * - Outputs must not alias inputs.
 */
import { fmadd, ld, st, ld2, st2 } from '../util/simd';
import { axpy, dot } from '../util/vec';

/** F[i][k] = Σ_j X[i][j] θ[k·d + j] for i < n, k < m (overwrites F). */
export function linearForward(n: i32, m: i32, d: i32, x: usize, ldx: i32, theta: usize, f: usize): void {
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>i * <usize>ldx << 3);
    for (let k = 0; k < m; k++) st(f, <isize>i * m + k, dot(d, xi, theta + (<usize>k * <usize>d << 3)));
  }
}

/** CSR version of {@link linearForward}: F[i][k] = Σ_p values[p] θ[k·d + indices[p]] over row i's non-zeros. */
export function linearForwardCsr(n: i32, m: i32, d: i32, indptr: usize, indices: usize, values: usize, theta: usize, f: usize): void {
  for (let i = 0; i < n; i++) {
    const p0 = load<i32>(indptr + (<usize>i << 2)), p1 = load<i32>(indptr + (<usize>(i + 1) << 2));
    for (let k = 0; k < m; k++) {
      const tk = theta + (<usize>k * <usize>d << 3);
      let s = 0.0;
      for (let p = p0; p < p1; p++) s += ld(values, p) * ld(tk, load<i32>(indices + (<usize>p << 2)));
      st(f, <isize>i * m + k, s);
    }
  }
}

/** G[k·d + j] += alpha · Σ_i R[i][k] X[i][j] (G = alpha·RᵀX added, class-major), as row axpys. */
export function linearBackward(n: i32, m: i32, d: i32, x: usize, ldx: i32, r: usize, alpha: f64, g: usize): void {
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>i * <usize>ldx << 3);
    for (let k = 0; k < m; k++) {
      const rik = ld(r, <isize>i * m + k);
      if (rik != 0) axpy(d, alpha * rik, xi, g + (<usize>k * <usize>d << 3));
    }
  }
}

/** CSR version of {@link linearBackward}. */
export function linearBackwardCsr(n: i32, m: i32, d: i32, indptr: usize, indices: usize, values: usize, r: usize, alpha: f64, g: usize): void {
  for (let i = 0; i < n; i++) {
    const p0 = load<i32>(indptr + (<usize>i << 2)), p1 = load<i32>(indptr + (<usize>(i + 1) << 2));
    for (let k = 0; k < m; k++) {
      const a = alpha * ld(r, <isize>i * m + k);
      const gk = g + (<usize>k * <usize>d << 3);
      for (let p = p0; p < p1; p++) {
        const j = load<i32>(indices + (<usize>p << 2));
        st(gk, j, ld(gk, j) + a * ld(values, p));
      }
    }
  }
}

/**
 * Per-sample gradients of the linear model: row i of Out (n × m·d, leading dimension m·d)
 * is J_iᵀ r_i = r_i ⊗ x_i, i.e. Out[i][k·d + j] = R[i][k] · X[i][j] (dense X).
 */
export function linearPerSample(n: i32, m: i32, d: i32, x: usize, ldx: i32, r: usize, out: usize): void {
  const D = <usize>m * <usize>d;
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>i * <usize>ldx << 3);
    const oi = out + (<usize>i * D << 3);
    for (let k = 0; k < m; k++) {
      const rik = f64x2.splat(ld(r, <isize>i * m + k));
      const ok = oi + (<usize>k * <usize>d << 3);
      let j = 0;
      for (; j + 2 <= d; j += 2) st2(ok, j, f64x2.mul(rik, ld2(xi, j)));
      if (j < d) st(ok, j, f64x2.extract_lane(rik, 0) * ld(xi, j));
    }
  }
}

/**
 * Diagonal of a weighted Gram: out[j] += Σ_i w_i X[i][j]² (w = 0: unit weights; weight i at
 * w[i·incw]). Dense X, SIMD over j.
 */
export function dsyrkDiag(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>i * <usize>ldx << 3);
    const wi = w == 0 ? 1.0 : ld(w, <isize>i * incw);
    const vw = f64x2.splat(wi);
    let j = 0;
    for (; j + 2 <= d; j += 2) {
      const v = ld2(xi, j);
      st2(out, j, fmadd(f64x2.mul(vw, v), v, ld2(out, j)));
    }
    if (j < d) { const v = ld(xi, j); st(out, j, wi * v * v + ld(out, j)); }
  }
}

/**
 * `dsyrkDiag` on float32 (the twin for float32 networks' exact diagonals): x (n rows of d, row
 * stride ldx) and out are float32, 4 bytes per element, 4-byte alignment suffices; out[j] +=
 * Σ_i x_ij² accumulated in float32, rows in order, four columns per f32x4 (multiply, then add:
 * no fused multiply-add, so both binaries give the same bits), scalar tail. Unweighted only: the
 * float32 callers pass w = 0 (w and incw are not read).
 */
export function dsyrkDiag32(n: i32, d: i32, x: usize, ldx: i32, w: usize, incw: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>i * <usize>ldx << 2);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const v = v128.load(xi + (<usize>j << 2));
      const o = out + (<usize>j << 2);
      v128.store(o, f32x4.add(f32x4.mul(v, v), v128.load(o)));
    }
    for (; j < d; j++) {
      const v = load<f32>(xi + (<usize>j << 2));
      const o = out + (<usize>j << 2);
      store<f32>(o, v * v + load<f32>(o));
    }
  }
}

/** CSR version of {@link dsyrkDiag}. */
export function dsyrkDiagCsr(n: i32, indptr: usize, indices: usize, values: usize, w: usize, incw: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const p0 = load<i32>(indptr + (<usize>i << 2)), p1 = load<i32>(indptr + (<usize>(i + 1) << 2));
    const wi = w == 0 ? 1.0 : ld(w, <isize>i * incw);
    for (let p = p0; p < p1; p++) {
      const j = load<i32>(indices + (<usize>p << 2));
      const v = ld(values, p);
      st(out, j, wi * v * v + ld(out, j));
    }
  }
}
