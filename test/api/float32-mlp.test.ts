// mlp({ …, dtype: 'float32' }) (issue 19): the float32 network (the generic sequential trace on the
// layers' float32 kernels) against the float64 model at the same θ and X (both exactly
// representable in float32), for outputs, J v, Jᵀ R, the residual product, loss, gradient,
// GGN-vector product, Hessian-vector product and the dense GGN (from the float32 pullbacks); 1 vs 2 threads
// bitwise; GD and NGD (CG) on the digits reach the float64 run's loss; a bad dtype is refused.
//
// Tolerance (the XNNPACK rule of STYLE.md, entry by entry, first order in u = 2⁻²⁴):
//
//   |q32_i − q64_i| ≤ c · P · K · u · A_i,   c = 2, P = 4L, K = max(N, 2·w + 1),
//
// where A is the quantity recomputed in float64 with absolute values everywhere ("the sum of
// absolute values along the reduction", propagated through the chain): |W|, |b|, |X|, |v|, |R|,
// the magnitudes Ma_l of the activations and Mz_l of the pre-activations (Mz_l = |W_l| Ma_{l−1} + |b_l|,
// Ma_l = D1_l·Mz_l + |a_l|), and the derivative planes D1 = |σ'| + |σ''|·Mz, D2 = |σ''| + 2·Mz
// (tanh; relu: |σ'|, 0) — the derivatives' own first-order sensitivity to an error in z, with
// |σ'''| ≤ 2 for tanh. Why: every float32 step is an sgemm / elementwise kernel whose entry is a
// sum of at most K terms (a layer's 2·w + 1 products in the tangent pass, the N samples in a
// weight gradient), so its rounding error is ≤ γ_K·Σ|terms| ≤ 1.01·K·u·Σ|terms| (Higham, Thm 3.5,
// K·u ≤ 0.01); each of the at most P = 4L stages on a path (forward, tangent, backward,
// second-order backward, L layers each) adds such a term, and an input error propagates through
// later stages with the same absolute-value weights — which A carries. c = 2 covers γ_K's 1.01,
// the rounding of v, R and U to float32 (one u each, ≤ K·u) and the float64 reference's own
// error (≈ 2⁻²⁹ of this). Problem-level quantities take the likelihood's first-order
// sensitivity on top: r = ∂ℓ/∂f changes by ≤ κ₁·δf (categorical: the rows of Λ sum in absolute
// value to ≤ 1; gaussian: 1/σ²) and Λ by ≤ κ₂·δf (categorical 1, gaussian 0), δf ≤ cPKu·Mz_L.
// Measured here (both binaries): the largest |Δ|/bound per quantity is between 1e-7 and 6e-4 —
// γ_K is worst case (rounding errors of a K-term sum grow like √K in practice), and for the
// problem-level quantities the κ·Mf term dominates A. A missing or wrong term (an O(1) relative
// error) exceeds the bound by ~10³, a 16-bit-precision result by ~10.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { categorical, createCore, gaussian, gd, kfac, type Likelihood, loadDigits, mlp, ngd, problem, type SymMatrix } from '../../bindings/index.js';
import { core, normals, uniform, variant } from '../helpers.js';

const U32 = 2 ** -24;
const C = 2;

type Act = 'tanh' | 'relu';

/** Exact (float64) planes of the chain at θ, X, and the absolute-value magnitudes of the bound. */
interface Ref {
  sizes: number[];
  N: number;
  W: Float64Array[];
  b: Float64Array[];
  /** a[0] = X, a[l] hidden layer l's output (l = 1 … L−1); Ma the magnitudes. */
  a: Float64Array[];
  Ma: Float64Array[];
  /** Per hidden layer l (0 … L−2): D1, D2 of the bound; Mz[l] for l = 0 … L−1 (Mz[L−1] is f's). */
  D1: Float64Array[];
  D2: Float64Array[];
  Mz: Float64Array[];
  f: Float64Array;
}

function offsets(sizes: number[]): { w: number; b: number }[] {
  const out: { w: number; b: number }[] = [];
  let o = 0;
  for (let l = 1; l < sizes.length; l++) {
    out.push({ w: o, b: o + sizes[l]! * sizes[l - 1]! });
    o += sizes[l]! * (sizes[l - 1]! + 1);
  }
  return out;
}

function reference(sizes: number[], act: Act, theta: Float64Array, X: Float64Array, N: number): Ref {
  const L = sizes.length - 1;
  const off = offsets(sizes);
  const W = off.map(({ w }, l) => theta.subarray(w, w + sizes[l + 1]! * sizes[l]!));
  const b = off.map(({ b: bo }, l) => theta.subarray(bo, bo + sizes[l + 1]!));
  const a = [X],
    Ma = [X.map(Math.abs)],
    D1: Float64Array[] = [],
    D2: Float64Array[] = [],
    Mz: Float64Array[] = [];
  let f = new Float64Array(0);
  for (let l = 0; l < L; l++) {
    const nin = sizes[l]!,
      nout = sizes[l + 1]!;
    const z = new Float64Array(N * nout),
      mz = new Float64Array(N * nout);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < nout; o++) {
        let s = b[l]![o]!,
          m = Math.abs(b[l]![o]!);
        for (let i = 0; i < nin; i++) {
          s += W[l]![o * nin + i]! * a[l]![n * nin + i]!;
          m += Math.abs(W[l]![o * nin + i]!) * Ma[l]![n * nin + i]!;
        }
        z[n * nout + o] = s;
        mz[n * nout + o] = m;
      }
    }
    Mz.push(mz);
    if (l + 1 === L) {
      f = z;
      break;
    }
    const av = new Float64Array(N * nout),
      d1 = new Float64Array(N * nout),
      d2 = new Float64Array(N * nout),
      ma = new Float64Array(N * nout);
    for (let j = 0; j < z.length; j++) {
      const x = z[j]!;
      let s1: number, s2: number;
      if (act === 'tanh') {
        const t = Math.tanh(x);
        av[j] = t;
        s1 = 1 - t * t;
        s2 = -2 * t * s1;
        d1[j] = Math.abs(s1) + Math.abs(s2) * mz[j]!;
        d2[j] = Math.abs(s2) + 2 * mz[j]!;
      } else {
        av[j] = Math.max(x, 0);
        s1 = x > 0 ? 1 : 0;
        d1[j] = s1;
        d2[j] = 0;
      }
      ma[j] = d1[j]! * mz[j]! + Math.abs(av[j]!);
    }
    a.push(av);
    Ma.push(ma);
    D1.push(d1);
    D2.push(d2);
  }
  return { sizes, N, W, b, a, Ma, D1, D2, Mz, f };
}

/** C (n × p) = A (n × k) · |B| with B k × p, or Bᵀ when bt (B stored p × k); A taken as is (already ≥ 0). */
function mulAbs(A: Float64Array, n: number, k: number, B: ArrayLike<number>, p: number, bt: boolean): Float64Array {
  const out = new Float64Array(n * p);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += A[r * k + i]! * Math.abs(bt ? B[j * k + i]! : B[i * p + j]!);
      out[r * p + j] = s;
    }
  return out;
}

/** Absolute tangent pass: per layer dz (N × out) and da (hidden layers), from |v| (≥ 0, θ-shaped). */
function absTangents(ref: Ref, vbar: Float64Array): { dz: Float64Array[]; da: Float64Array[] } {
  const { sizes, N } = ref;
  const off = offsets(sizes);
  const L = sizes.length - 1;
  const dz: Float64Array[] = [],
    da: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const nin = sizes[l]!,
      nout = sizes[l + 1]!;
    const dW = vbar.subarray(off[l]!.w, off[l]!.w + nin * nout),
      db = vbar.subarray(off[l]!.b, off[l]!.b + nout);
    const t = mulAbs(ref.Ma[l]!, N, nin, dW, nout, true);
    if (l > 0) {
      const u = mulAbs(da[l - 1]!, N, nin, ref.W[l]!, nout, true);
      for (let j = 0; j < t.length; j++) t[j]! += u[j]!;
    }
    for (let n = 0; n < N; n++) for (let o = 0; o < nout; o++) t[n * nout + o]! += db[o]!;
    dz.push(t);
    if (l + 1 < L) da.push(t.map((x, j) => ref.D1[l]![j]! * x));
  }
  return { dz, da };
}

/** Absolute backward pass of R̄ (N × M, ≥ 0): θ-shaped, and the stacks g_l (N × out_l). */
function absVjp(ref: Ref, Rbar: Float64Array): { out: Float64Array; g: Float64Array[] } {
  const { sizes, N } = ref;
  const off = offsets(sizes);
  const L = sizes.length - 1;
  const out = new Float64Array(off[L - 1]!.b + sizes[L]!);
  const g: Float64Array[] = new Array(L);
  g[L - 1] = Rbar;
  for (let l = L - 1; l >= 0; l--) {
    const nin = sizes[l]!,
      nout = sizes[l + 1]!;
    const gl = g[l]!;
    for (let o = 0; o < nout; o++) {
      for (let i = 0; i < nin; i++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += gl[n * nout + o]! * ref.Ma[l]![n * nin + i]!;
        out[off[l]!.w + o * nin + i] = s;
      }
      let sb = 0;
      for (let n = 0; n < N; n++) sb += gl[n * nout + o]!;
      out[off[l]!.b + o] = sb;
    }
    if (l > 0) g[l - 1] = mulAbs(gl, N, nout, ref.W[l]!, nin, false).map((x, j) => ref.D1[l - 1]![j]! * x);
  }
  return { out, g };
}

/** Absolute R-operator pass: the residual product of R̄ along v̄ plus Jᵀ Ū (Ū may be undefined). */
function absHvp(ref: Ref, Rbar: Float64Array, vbar: Float64Array, Ubar?: Float64Array): Float64Array {
  const { sizes, N } = ref;
  const off = offsets(sizes);
  const L = sizes.length - 1;
  const { dz, da } = absTangents(ref, vbar);
  const { g } = absVjp(ref, Rbar);
  const out = new Float64Array(off[L - 1]!.b + sizes[L]!);
  let dg = Ubar;
  for (let l = L - 1; l >= 0; l--) {
    const nin = sizes[l]!,
      nout = sizes[l + 1]!;
    for (let o = 0; o < nout; o++) {
      for (let i = 0; i < nin; i++) {
        let s = 0;
        for (let n = 0; n < N; n++) {
          if (dg) s += dg[n * nout + o]! * ref.Ma[l]![n * nin + i]!;
          if (l > 0) s += g[l]![n * nout + o]! * da[l - 1]![n * nin + i]!;
        }
        out[off[l]!.w + o * nin + i] = s;
      }
      let sb = 0;
      if (dg) for (let n = 0; n < N; n++) sb += dg[n * nout + o]!;
      out[off[l]!.b + o] = sb;
    }
    if (l > 0) {
      const dW = vbar.subarray(off[l]!.w, off[l]!.w + nin * nout);
      const t = mulAbs(g[l]!, N, nout, dW, nin, false);
      if (dg) {
        const u = mulAbs(dg, N, nout, ref.W[l]!, nin, false);
        for (let j = 0; j < t.length; j++) t[j]! += u[j]!;
      }
      const q = mulAbs(g[l]!, N, nout, ref.W[l]!, nin, false);
      dg = t.map((x, j) => ref.D1[l - 1]![j]! * x + ref.D2[l - 1]![j]! * q[j]! * dz[l - 1]![j]!);
    }
  }
  return out;
}

/** |q32 − q64| ≤ tol·A entry by entry; returns the largest ratio |Δ| / (tol·A). */
function assertWithin(q32: ArrayLike<number>, q64: ArrayLike<number>, A: ArrayLike<number>, tol: number, msg: string): number {
  assert.is(q32.length, q64.length, `${msg}: length`);
  let worst = 0;
  for (let i = 0; i < q64.length; i++) {
    const d = Math.abs(q32[i]! - q64[i]!),
      t = tol * A[i]!;
    if (!(d <= t)) assert.unreachable(`${msg}: entry ${i}: ${q32[i]} vs ${q64[i]} (|Δ| = ${d} > ${t})`);
    if (t > 0) worst = Math.max(worst, d / t);
  }
  return worst;
}

/** At least one entry differs: the float32 result really was computed in float32. */
function assertNotIdentical(q32: ArrayLike<number>, q64: ArrayLike<number>, msg: string): void {
  let differs = false;
  for (let i = 0; i < q64.length && !differs; i++) differs = !Object.is(q32[i], q64[i]);
  assert.ok(differs, `${msg}: float32 result bit-identical to float64`);
}

const froundAll = (x: Float64Array) => x.map(Math.fround);

interface Case {
  sizes: number[];
  act: Act;
  lik: 'categorical' | 'gaussian';
  N: number;
}

const CASES: Case[] = [
  { sizes: [4, 8, 8, 3], act: 'tanh', lik: 'categorical', N: 64 },
  { sizes: [4, 8, 8, 3], act: 'relu', lik: 'gaussian', N: 64 },
  { sizes: [16, 64, 64, 10], act: 'tanh', lik: 'categorical', N: 128 },
  { sizes: [16, 64, 64, 10], act: 'relu', lik: 'categorical', N: 128 },
  { sizes: [16, 64, 64, 10], act: 'tanh', lik: 'gaussian', N: 128 },
];

function setup(c: Case, seed: number) {
  const { sizes, act, N } = c;
  const d = sizes[0]!,
    M = sizes.at(-1)!;
  const m64 = mlp({ sizes, activation: act, core });
  const m32 = mlp({ sizes, activation: act, core, dtype: 'float32' });
  const theta = froundAll(m64.init(seed));
  const X = froundAll(Float64Array.from({ length: N * d }, normals(seed + 1)));
  const u = uniform(seed + 2);
  const variance = 0.5;
  const lik: Likelihood = c.lik === 'categorical' ? categorical({ classes: M }) : gaussian({ variance, outputs: M });
  const y = c.lik === 'categorical' ? Float64Array.from({ length: N }, () => Math.floor(u() * M)) : Float64Array.from({ length: N * M }, normals(seed + 3));
  const data = { data: X, rows: N, cols: d };
  const p64 = problem({ model: m64, X: data, y, likelihood: lik });
  const p32 = problem({ model: m32, X: data, y, likelihood: lik });
  const v = Float64Array.from({ length: m64.dim }, normals(seed + 4));
  const R = Float64Array.from({ length: N * M }, normals(seed + 5));
  const L = sizes.length - 1;
  const K = Math.max(N, 2 * Math.max(...sizes) + 1);
  const tol = C * 4 * L * K * U32;
  return { m64, m32, theta, X, y, p64, p32, v, R, tol, variance, ref: reference(sizes, act, theta, X, N) };
}

/** Per sample: r = ∂ℓ/∂f and Λ (M × M) of the likelihood at f (float64). */
function likelihoodTerms(c: Case, f: Float64Array, y: Float64Array, variance: number): { r: Float64Array; lam: Float64Array } {
  const M = c.sizes.at(-1)!,
    N = c.N;
  const r = new Float64Array(N * M),
    lam = new Float64Array(N * M * M);
  for (let n = 0; n < N; n++) {
    if (c.lik === 'gaussian') {
      for (let m = 0; m < M; m++) {
        r[n * M + m] = (f[n * M + m]! - y[n * M + m]!) / variance;
        lam[(n * M + m) * M + m] = 1 / variance;
      }
      continue;
    }
    let mx = -Infinity;
    for (let m = 0; m < M; m++) mx = Math.max(mx, f[n * M + m]!);
    let s = 0;
    const p = new Float64Array(M);
    for (let m = 0; m < M; m++) s += p[m] = Math.exp(f[n * M + m]! - mx);
    for (let m = 0; m < M; m++) p[m]! /= s;
    for (let a = 0; a < M; a++) {
      r[n * M + a] = p[a]! - (a === y[n] ? 1 : 0);
      for (let b = 0; b < M; b++) lam[(n * M + a) * M + b] = (a === b ? p[a]! : 0) - p[a]! * p[b]!;
    }
  }
  return { r, lam };
}

for (const c of CASES) {
  const name = `${c.sizes.join('-')} ${c.act} ${c.lik} N=${c.N}`;
  test(`float32 mlp ${name}: trace products within c·4L·K·u of float64 (absolute-value bound), and not bit-identical`, () => {
    const s = setup(c, 11);
    const { ref, tol } = s;
    const t64 = s.m64.forward(s.theta, s.X, c.N),
      t32 = s.m32.forward(s.theta, s.X, c.N);
    try {
      assert.is(s.m32.dtype, 'float32');
      assert.is(s.m64.dtype, 'float64');
      const f32 = t32.outputs,
        f64 = t64.outputs;
      assert.instance(f32, Float64Array);
      assertWithin(f32, f64, ref.Mz.at(-1)!, tol, 'outputs');
      assertWithin(f64, ref.f, ref.Mz.at(-1)!, 1e-12, 'reference forward agrees with the float64 model');
      assertNotIdentical(f32, f64, 'outputs');
      const vabs = s.v.map(Math.abs),
        Rabs = s.R.map(Math.abs);
      const Jv32 = t32.jvp(s.v),
        Jv64 = t64.jvp(s.v);
      assertWithin(Jv32, Jv64, absTangents(ref, vabs).dz.at(-1)!, tol, 'jvp');
      assertNotIdentical(Jv32, Jv64, 'jvp');
      const g32 = t32.vjp(s.R),
        g64 = t64.vjp(s.R);
      assertWithin(g32, g64, absVjp(ref, Rabs).out, tol, 'vjp');
      assertNotIdentical(g32, g64, 'vjp');
      const h32 = t32.residualHvp!(s.R, s.v),
        h64 = t64.residualHvp!(s.R, s.v);
      assertWithin(h32, h64, absHvp(ref, Rabs, vabs), tol, 'residualHvp');
      if (c.act === 'tanh') assertNotIdentical(h32, h64, 'residualHvp');
      // The fused path equals the separate ones (to rounding) and is the same with cached tangents.
      const U = Float64Array.from({ length: s.R.length }, (_, i) => Math.sin(i));
      const fused = t32.residualHvpAndVjp!(s.R, s.v, U);
      assertWithin(
        fused,
        h64.map((x, i) => x + t64.vjp(U)[i]!),
        absHvp(ref, Rabs, vabs, U.map(Math.abs)),
        tol,
        'residualHvpAndVjp',
      );
      assert.equal(t32.residualHvpAndVjp!(s.R, s.v, U), fused, 'residualHvpAndVjp repeatable');
    } finally {
      t32.free();
      t64.free();
    }
  });

  test(`float32 mlp ${name}: loss, gradient, GGN- and Hessian-vector products through the problem`, () => {
    const s = setup(c, 23);
    const { ref, tol } = s;
    const N = c.N,
      M = c.sizes.at(-1)!;
    const scale = 1 / N;
    const { r, lam } = likelihoodTerms(c, ref.f, s.y, s.variance);
    const k1 = c.lik === 'gaussian' ? 1 / s.variance : 1,
      k2 = c.lik === 'gaussian' ? 0 : 1;
    const Mf = ref.Mz.at(-1)!;
    // loss: s·Σ |r|·Mf (the likelihood runs in float64 on the float32 outputs)
    let Aloss = 0;
    for (let i = 0; i < r.length; i++) Aloss += Math.abs(r[i]!) * Mf[i]!;
    const l32 = s.p32.loss(s.theta),
      l64 = s.p64.loss(s.theta);
    assertWithin([l32], [l64], [scale * Aloss], tol, 'loss');
    assert.is.not(l32, l64, 'loss: float32 differs from float64');
    // gradient: s·|J|ᵀ(|r| + κ₁·Mf)
    const Rg = r.map((x, i) => Math.abs(x) + k1 * Mf[i]!);
    const gr32 = s.p32.gradient(s.theta),
      gr64 = s.p64.gradient(s.theta);
    assertWithin(
      gr32,
      gr64,
      absVjp(ref, Rg).out.map((x) => scale * x),
      tol,
      'gradient',
    );
    assertNotIdentical(gr32, gr64, 'gradient');
    // GGN v: s·|J|ᵀ(|Λ|·|J||v| + κ₂·Mf·|J v|)
    const vabs = s.v.map(Math.abs);
    const Jvbar = absTangents(ref, vabs).dz.at(-1)!;
    const t64 = s.m64.forward(s.theta, s.X, N);
    const Jv = t64.jvp(s.v);
    t64.free();
    const Ug = new Float64Array(N * M);
    for (let n = 0; n < N; n++)
      for (let a = 0; a < M; a++) {
        let t = k2 * Mf[n * M + a]! * Math.abs(Jv[n * M + a]!);
        for (let b = 0; b < M; b++) t += Math.abs(lam[(n * M + a) * M + b]!) * Jvbar[n * M + b]!;
        Ug[n * M + a] = t;
      }
    const gg32 = s.p32.ggnVectorProduct(s.theta, s.v),
      gg64 = s.p64.ggnVectorProduct(s.theta, s.v);
    assertWithin(
      gg32,
      gg64,
      absVjp(ref, Ug).out.map((x) => scale * x),
      tol,
      'ggnVectorProduct',
    );
    assertNotIdentical(gg32, gg64, 'ggnVectorProduct');
    // H v: the R-operator seeded with U = Λ J v, residual with R = r: s·absHvp(|r| + κ₁Mf, |v|, Ug)
    const hv32 = s.p32.hessianVectorProduct(s.theta, s.v),
      hv64 = s.p64.hessianVectorProduct(s.theta, s.v);
    assertWithin(
      hv32,
      hv64,
      absHvp(ref, Rg, vabs, Ug).map((x) => scale * x),
      tol,
      'hessianVectorProduct',
    );
    assertNotIdentical(hv32, hv64, 'hessianVectorProduct');
  });
}

test('float32 mlp: the dense GGN (from float32 pullbacks and dsyrkLower32) within the absolute-value bound', () => {
  const c: Case = { sizes: [4, 8, 8, 3], act: 'tanh', lik: 'categorical', N: 64 };
  const s = setup(c, 5);
  const { ref, tol } = s;
  const N = c.N,
    M = 3,
    D = s.m64.dim;
  const G32 = s.p32.ggn(s.theta) as SymMatrix,
    G64 = s.p64.ggn(s.theta) as SymMatrix;
  const a32 = G32.toDense(),
    a64 = G64.toDense();
  G32.free();
  G64.free();
  // A_ij = s Σ_n Σ_ab |J|_n,a,i (|Λ_n|_ab + κ₂ Mf_n,a δ_ab-free) |J|_n,b,j, |J| column by column.
  const { lam } = likelihoodTerms(c, ref.f, s.y, s.variance);
  const Mf = ref.Mz.at(-1)!;
  const Jabs: Float64Array[] = [];
  for (let j = 0; j < D; j++) {
    const e = new Float64Array(D);
    e[j] = 1;
    Jabs.push(absTangents(ref, e).dz.at(-1)!);
  }
  const A = new Float64Array(D * D);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < D; i++)
      for (let j = 0; j <= i; j++) {
        let t = 0;
        for (let a = 0; a < M; a++) for (let b = 0; b < M; b++) t += Jabs[i]![n * M + a]! * (Math.abs(lam[(n * M + a) * M + b]!) + Mf[n * M + a]!) * Jabs[j]![n * M + b]!;
        A[i * D + j]! += t / N;
        if (j < i) A[j * D + i]! += t / N;
      }
  assertWithin(a32, a64, A, tol, 'dense GGN');
  assertNotIdentical(a32, a64, 'dense GGN');
});

test('float32 mlp: 1 and 2 threads give bitwise the same outputs, products and curvature-vector products', async () => {
  const sizes = [16, 64, 64, 10],
    N = 2048;
  const cores = [await createCore({ variant, threads: 1 }), await createCore({ variant, threads: 2 })];
  const X = froundAll(Float64Array.from({ length: N * 16 }, normals(3)));
  const y = Float64Array.from({ length: N }, (_, i) => i % 10);
  const results = cores.map((co) => {
    const m = mlp({ sizes, activation: 'tanh', core: co, dtype: 'float32' });
    const theta = m.init(2);
    const v = Float64Array.from({ length: m.dim }, normals(4));
    const p = problem({ model: m, X: { data: X, rows: N, cols: 16 }, y, likelihood: categorical({ classes: 10 }) });
    const t = m.forward(theta, X, N);
    const out = [t.outputs, t.jvp(v), t.vjp(Float64Array.from({ length: N * 10 }, normals(6))), p.gradient(theta), p.ggnVectorProduct(theta, v), p.hessianVectorProduct(theta, v)];
    t.free();
    return out;
  });
  assert.is(cores[1]!.threads, 2);
  for (let i = 0; i < results[0]!.length; i++) assert.equal(results[1]![i], results[0]![i], `quantity ${i}`);
});

test('float32 mlp: GD and NGD (CG) on the digits reach the float64 loss within 1e-3 (relative) after 20 iterations', async () => {
  const ROWS = 300;
  const digits = await loadDigits();
  const X = { data: froundAll(digits.X.data.slice(0, ROWS * 64)), rows: ROWS, cols: 64 };
  const y = digits.y.slice(0, ROWS);
  const losses = (['float64', 'float32'] as const).map((dtype) => {
    const m = mlp({ sizes: [64, 16, 10], activation: 'tanh', core, dtype });
    const p = problem({ model: m, X, y, likelihood: categorical({ classes: 10 }) });
    const theta0 = froundAll(m.init(0));
    const g = gd(p, { lr: 0.5 }).run(theta0, { iterations: 20 });
    // CG tolerance 1e-4: above what float32 products can resolve (their relative error is ~K·u ≈ 1e-5 here).
    const n = ngd(p, { lr: 0.5, damping: 1e-2, solver: 'cg', cg: { tol: 1e-4, maxIterations: 200 } }).run(theta0, { iterations: 20 });
    assert.is(g.status, 'ok');
    assert.is(n.status, 'ok');
    return { gd: g.losses, ngd: n.losses };
  });
  const [l64, l32] = losses;
  for (const k of ['gd', 'ngd'] as const) {
    const a = l32![k].at(-1)!,
      b = l64![k].at(-1)!;
    assert.ok(b < l64![k][0]! * 0.9, `${k}: float64 run decreases the loss (${l64![k][0]} → ${b})`);
    // Each step perturbs θ by O(K·u) relative (u = 2⁻²⁴, K ≤ 300 here); over 20 steps of a
    // contracting iteration the final loss moves by far less than 1e-3 relative.
    assert.ok(Math.abs(a - b) <= 1e-3 * b, `${k}: float32 final loss ${a} vs float64 ${b}`);
    assert.is.not(a, b, `${k}: float32 run differs from float64`);
  }
});

test('mlp: dtype other than float32 / float64 is a RangeError naming the option and the allowed values', () => {
  assert.throws(
    () => mlp({ sizes: [2, 1], dtype: 'float16' as never }),
    (e: unknown) => e instanceof RangeError && /mlp: dtype must be 'float32' or 'float64', got 'float16'/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [2, 1], dtype: 32 as never }),
    (e: unknown) => e instanceof RangeError && /dtype/.test(e.message),
  );
  assert.is(mlp({ sizes: [2, 1] }).dtype, 'float64');
});

// KFAC factors (the float32 trace's kfacFactors): A = (1/N) Σ ā āᵀ and G = s Σ δ δᵀ from float32 passes and
// float32 sums, returned as float64 SymMatrix. Bound, entry by entry, from the same rule: a_l is
// within tol·Ma_l of the float64 plane and δ_l (the backward stack of R_k) within tol·Mg_l, where
// Mg_l = absVjp(ref, |R_k|).g[l]; a product of two such entries errs by ≤ tol·(|x|My + Mx|y|)
// ≤ 2·tol·Mx·My, and the sum over its n rows (N for A, N·K for G) adds γ_n·Σ|terms| ≤
// 1.01·n·u·Σ Mx·My. So |A32 − A64| ≤ (2·tol + 2·N·u)·(1/N)Σ_n M̄a M̄aᵀ (M̄a = [Ma; 1]) and
// |G32 − G64| ≤ (2·tol + 2·N·K·u)·|s|·Σ_{n,k} Mg Mgᵀ.

/** The (1/N)·Σ_n x̄ x̄ᵀ (x̄ = [x_n; 1] when joint) of an N × n plane, n̄ × n̄. */
function gramAbs(X: Float64Array, N: number, n: number, joint: boolean, scale: number): Float64Array {
  const a = n + (joint ? 1 : 0);
  const out = new Float64Array(a * a);
  for (let r = 0; r < N; r++) {
    const row = (i: number) => (i < n ? Math.abs(X[r * n + i]!) : 1);
    for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) out[i * a + j]! += scale * row(i) * row(j);
  }
  return out;
}

/** G's magnitude Σ_{n,k} Mg Mgᵀ per layer for the (N·K) × M stack R (row n·K + k), and Σ_k of |R_k|'s stacks. */
function gAbs(ref: Ref, R: Float64Array, K: number): Float64Array[] {
  const { sizes, N } = ref;
  const M = sizes.at(-1)!,
    L = sizes.length - 1;
  const out = sizes.slice(1).map((q) => new Float64Array(q * q));
  for (let k = 0; k < K; k++) {
    const Rk = new Float64Array(N * M);
    for (let n = 0; n < N; n++) for (let j = 0; j < M; j++) Rk[n * M + j] = Math.abs(R[(n * K + k) * M + j]!);
    const { g } = absVjp(ref, Rk);
    for (let l = 0; l < L; l++) {
      const q = sizes[l + 1]!;
      const gram = gramAbs(g[l]!, N, q, false, 1);
      for (let i = 0; i < q * q; i++) out[l]![i]! += gram[i]!;
    }
  }
  return out;
}

for (const c of [CASES[0]!, CASES[3]!]) {
  test(`float32 mlp: kfacFactors (both bias modes) within the absolute-value bound of float64's (${c.sizes.join('-')} ${c.act})`, () => {
    const s = setup(c, 11);
    const { ref, tol } = s;
    const N = c.N,
      M = c.sizes.at(-1)!,
      K = 3,
      scale = 0.37;
    const R = Float64Array.from({ length: N * K * M }, normals(12));
    const t32 = s.m32.forward(s.theta, s.X, N),
      t64 = s.m64.forward(s.theta, s.X, N);
    const Gabs = gAbs(ref, R, K);
    for (const bias of ['joint', 'separate'] as const) {
      const f32 = t32.kfacFactors!(R, K, scale, { bias }),
        f64 = t64.kfacFactors!(R, K, scale, { bias });
      assert.is(f32.length, f64.length);
      f32.forEach((fa, l) => {
        const fb = f64[l]! as { A: SymMatrix; G: SymMatrix; bias: string };
        const fl = fa as { A: SymMatrix; G: SymMatrix; bias: string };
        assert.is(fl.bias, bias);
        assert.is(fl.A.size, fb.A.size, `layer ${l}: A size`);
        assert.is(fl.G.size, fb.G.size, `layer ${l}: G size`);
        const nin = c.sizes[l]!;
        const A32 = fl.A.toDense(),
          A64 = fb.A.toDense();
        assertWithin(A32, A64, gramAbs(ref.Ma[l]!, N, nin, bias === 'joint', 1 / N), 2 * tol + 2 * N * U32, `${bias} layer ${l}: A`);
        const G32 = fl.G.toDense(),
          G64 = fb.G.toDense();
        assertWithin(
          G32,
          G64,
          Gabs[l]!.map((x) => Math.abs(scale) * x),
          2 * tol + 2 * N * K * U32,
          `${bias} layer ${l}: G`,
        );
        assertNotIdentical(G32, G64, `${bias} layer ${l}: G`);
        if (l > 0) assertNotIdentical(A32, A64, `${bias} layer ${l}: A`);
        // exactly symmetric, as the float64 factors
        const n = fl.G.size;
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.is(G32[i * n + j], G32[j * n + i]);
        for (const f of [fl, fb]) {
          f.A.free();
          f.G.free();
        }
      });
    }
    t32.free();
    t64.free();
  });
}

test('float32 mlp: kfacFactors validates K, R, scale and options as the float64 trace does', () => {
  const s = setup(CASES[0]!, 13);
  const N = CASES[0]!.N;
  const t32 = s.m32.forward(s.theta, s.X, N),
    t64 = s.m64.forward(s.theta, s.X, N);
  const R = new Float64Array(N * 2 * 3);
  const bad: [string, (t: typeof t32) => unknown][] = [
    ['short R', (t) => t.kfacFactors!(R.subarray(1), 2, 1)],
    ['K = 0.5', (t) => t.kfacFactors!(R, 0.5, 1)],
    ['scale NaN', (t) => t.kfacFactors!(R, 2, Number.NaN)],
    ['bias', (t) => t.kfacFactors!(R, 2, 1, { bias: 'both' as never })],
    ['kfacApproximation', (t) => t.kfacFactors!(R, 2, 1, { kfacApproximation: 'full' as never })],
    ['unknown key', (t) => t.kfacFactors!(R, 2, 1, { damping: 1 } as never)],
  ];
  for (const [what, call] of bad) {
    let e32: unknown, e64: unknown;
    try {
      call(t32);
    } catch (e) {
      e32 = e;
    }
    try {
      call(t64);
    } catch (e) {
      e64 = e;
    }
    assert.ok(e64 instanceof Error, `${what}: float64 throws`);
    assert.ok(e32 instanceof Error, `${what}: float32 throws`);
    assert.is((e32 as Error).constructor, (e64 as Error).constructor, `${what}: same class`);
    assert.is((e32 as Error).message, (e64 as Error).message, `${what}: same message`);
  }
  t32.free();
  t64.free();
});

test("float32 mlp: the problem's 'kfac' GGN structure (gaussian: R = σ⁻¹ I, exact in both dtypes) within the bound of float64's", () => {
  const c = CASES[4]!;
  const s = setup(c, 17);
  const { ref, tol } = s;
  const N = c.N,
    M = c.sizes.at(-1)!;
  const k32 = s.p32.ggn(s.theta, { structure: 'kfac' }),
    k64 = s.p64.ggn(s.theta, { structure: 'kfac' });
  assert.is(k32.length, c.sizes.length - 1);
  assert.is(s.p32.scale, s.p64.scale);
  // The gaussian factor R_n = σ⁻¹ I (K = M) does not depend on f: the trace-level bound applies as is.
  const R = new Float64Array(N * M * M);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) R[(n * M + m) * M + m] = 1 / Math.sqrt(s.variance);
  const Gabs = gAbs(ref, R, M);
  k32.forEach((fa, l) => {
    const fb = k64[l]! as { A: SymMatrix; G: SymMatrix };
    const f = fa as { A: SymMatrix; G: SymMatrix };
    const nin = c.sizes[l]!;
    const A32 = f.A.toDense(),
      A64 = fb.A.toDense(),
      G32 = f.G.toDense(),
      G64 = fb.G.toDense();
    assertWithin(A32, A64, gramAbs(ref.Ma[l]!, N, nin, true, 1 / N), 2 * tol + 2 * N * U32, `layer ${l}: A`);
    assertWithin(
      G32,
      G64,
      Gabs[l]!.map((x) => Math.abs(s.p64.scale) * x),
      2 * tol + 2 * N * M * U32,
      `layer ${l}: G`,
    );
    assertNotIdentical(G32, G64, `layer ${l}: G`);
    for (const m of [f.A, f.G, fb.A, fb.G]) m.free();
  });
});

test('float32 mlp: the kfac optimizer on the digits reaches the float64 loss within 1e-3 (relative) after 15 iterations', async () => {
  const ROWS = 300;
  const digits = await loadDigits();
  const X = { data: froundAll(digits.X.data.slice(0, ROWS * 64)), rows: ROWS, cols: 64 };
  const y = digits.y.slice(0, ROWS);
  const [l64, l32] = (['float64', 'float32'] as const).map((dtype) => {
    const m = mlp({ sizes: [64, 16, 10], activation: 'tanh', core, dtype });
    const p = problem({ model: m, X, y, likelihood: categorical({ classes: 10 }) });
    const r = kfac(p, { lr: 0.3, damping: 1e-2 }).run(froundAll(m.init(0)), { iterations: 15 });
    assert.is(r.status, 'ok');
    return r.losses;
  });
  const a = l32!.at(-1)!,
    b = l64!.at(-1)!;
  assert.ok(b < l64![0]! * 0.7, `float64 KFAC decreases the loss (${l64![0]} → ${b})`);
  // Each step's factors and gradient are perturbed by O(K·u) relative (K ≤ 300, u = 2⁻²⁴ ≈ 6e-8);
  // the damped (λ = 1e-2) Kronecker solves amplify that by at most 1/λ-ish over 15 steps.
  assert.ok(Math.abs(a - b) <= 1e-3 * b, `float32 final loss ${a} vs float64 ${b}`);
  assert.is.not(a, b, 'float32 run differs from float64');
});

test.run();
