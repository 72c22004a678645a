// The matrix-free solvers on float32 operators (issue 19, item 2): curvatureOperator says the
// model's dtype, and for `op.dtype === 'float32'` CG, Lanczos (topEigenvalues, SLQ) and Hutch++
// keep their long-lived D-vectors in Float32Array, scalars in float64 — checked against the same
// routines on the float64 model at the same θ and X (both float32-representable, so the two
// operators are the same matrix up to float32 rounding in the products).
//
// Tolerances. u = 2⁻²⁴. The float32 operator is A₃₂ = A + E. Its products are sums of at most
// K = max(N, 2·w + 1) terms at each of P = 4L stages (forward, tangent, backward, second-order
// backward; see float32-mlp.test.ts for the entrywise bound c·P·K·u·(absolute-value magnitudes)),
// so here we take ‖E‖₂ ≤ τ·‖A‖₂ with τ = c·P·K·u, c = 2 (P = 8, K = 40: τ ≈ 3.8e-5). Then:
// - eigenvalues (Weyl): |λᵢ(A₃₂) − λᵢ(A)| ≤ ‖E‖ ≤ τ·λ_max, and the float32 basis adds a rounding of
//   each Lanczos vector (relative u per vector, orthogonality ~u instead of ~1e-16): ≤ 4u·λ_max
//   more. The Ritz values of converged ends obey the same bound.
// - CG: ‖x₃₂ − x‖ ≤ ‖b − (A + λI) x₃₂‖ / λ (A is PSD, so λ_min(A + λI) ≥ λ), with the residual
//   measured on the float64 operator — a rigorous bound whatever float32 did; and that residual is
//   ≤ tol + the float32 attainable accuracy (≤ 2·tol when CG reports convergence).
// - Hutchinson / SLQ traces with the same seed use the same probes, so the stochastic error cancels
//   and |Δ| ≤ max_z |zᵀ E z| ≤ ‖E‖·‖z‖² = τ·λ_max·D (+ 4u·λ_max·D for SLQ's rounded q₀); the
//   estimates themselves are within 4 standard errors of tr A (dense, float64).
// - diagonal estimate, same probes: |Δⱼ| ≤ max_z |zⱼ (E z)ⱼ| ≤ ‖E z‖ ≤ τ·λ_max·√D.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix } from '../helpers.js';
import { categorical, linearProblem, mlp, ngd, problem, type Problem } from '../../bindings/index.js';
import { curvatureOperator } from '../../bindings/operators/curvature.js';
import type { LinearOperator } from '../../bindings/operators/operator.js';
import { cg, diagonalEstimate, lanczos, spectralDensity, topEigenvalues, traceEstimate } from '../../bindings/solvers/index.js';

const U = 2 ** -24;
const N = 40,
  SIZES = [6, 8, 3];
const L = SIZES.length - 1,
  K = Math.max(N, 2 * Math.max(...SIZES) + 1);
const TAU = 2 * 4 * L * K * U;

const fr = (a: Float64Array): Float64Array => a.map((x) => Math.fround(x));
const X = fr(randomMatrix(N, SIZES[0]!, 3).map((x) => 2 * x));
const y = Float64Array.from({ length: N }, (_, n) => (n * 7) % 3);
const lik = categorical({ classes: 3 });
const m64 = mlp({ sizes: SIZES, activation: 'tanh', core });
const m32 = mlp({ sizes: SIZES, activation: 'tanh', core, dtype: 'float32' });
const theta = fr(m64.init(1).map((t, i) => 2 * t + 0.1 * Math.cos(i)));
const make = (model: typeof m64): Problem => problem({ model, X: { data: X, rows: N, cols: SIZES[0]! }, y, likelihood: lik });
const p64 = make(m64),
  p32 = make(m32);
const o64 = curvatureOperator(p64, theta),
  o32 = curvatureOperator(p32, theta);
const D = o64.dim;

/** The dense float64 GGN's eigenvalues (ascending) and trace. */
const dense = ((): { eig: Float64Array; trace: number; diag: Float64Array } => {
  const G = o64.toDense();
  try {
    return { eig: G.eigen().values, trace: G.trace(), diag: G.diagonal() };
  } finally {
    G.free();
  }
})();
const LMAX = dense.eig[D - 1]!;

const fround = (v: ArrayLike<number>): boolean => Array.prototype.every.call(v, (x: number) => Math.fround(x) === x) as boolean;
const nrm = (v: ArrayLike<number>): number => Math.sqrt(Array.prototype.reduce.call(v, (a: number, x: number) => a + x * x, 0) as number);

/** b − (A + λI) x on the float64 operator. */
function trueResidual(x: Float64Array, b: Float64Array, damping: number): Float64Array {
  const Ax = o64.matvec(x);
  return b.map((bi, i) => bi - Ax[i]! - damping * x[i]!);
}

test('a float32 model gives a float32 operator; float64 and linear problems float64', () => {
  assert.is(o32.dtype, 'float32');
  assert.is(o64.dtype, 'float64');
  assert.is(curvatureOperator(p32, theta, { kind: 'hessian' }).dtype, 'float32');
  assert.is(curvatureOperator(p32, theta, { kind: 'empiricalFisher' }).dtype, 'float32');
  const lp = linearProblem({ X: { data: X, rows: N, cols: SIZES[0]! }, y, likelihood: lik });
  assert.is(curvatureOperator(lp, new Float64Array(lp.dim)).dtype, 'float64');
  // the products are computed in float32 (returned as Float64Array): within τ·‖A‖·‖v‖ of float64, not equal
  const v = Float64Array.from({ length: D }, (_, i) => Math.sin(i + 1));
  const w32 = o32.matvec(v),
    w64 = o64.matvec(v);
  assert.ok(w32 instanceof Float64Array);
  const diff = nrm(w32.map((x, i) => x - w64[i]!));
  assert.ok(diff > 0 && diff <= TAU * LMAX * nrm(v), `‖A₃₂v − Av‖ = ${diff}`);
});

test('lanczos on a float32 operator: basis stored in float32, orthogonal to ~u', () => {
  const r32 = lanczos(o32, { steps: 30, seed: 2, keepBasis: true });
  const r64 = lanczos(o64, { steps: 30, seed: 2, keepBasis: true });
  const Q32 = r32.basis!,
    Q64 = r64.basis!;
  assert.is(Q32.length, 30);
  for (const q of Q32) assert.ok(q instanceof Float64Array && q.length === D && fround(q), 'the float32 basis is returned widened');
  assert.not.ok(Q64.every(fround), 'a float64 operator keeps a float64 basis');
  // |q_iᵀ q_j − δ_ij| ≤ 4u for the rounded basis (each q rounded once, relative u), ~1e-16 for float64
  let off32 = 0,
    off64 = 0;
  for (let i = 0; i < 30; i++)
    for (let j = 0; j <= i; j++) {
      let s32 = 0,
        s64 = 0;
      for (let t = 0; t < D; t++) {
        s32 += Q32[i]![t]! * Q32[j]![t]!;
        s64 += Q64[i]![t]! * Q64[j]![t]!;
      }
      off32 = Math.max(off32, Math.abs(s32 - (i === j ? 1 : 0)));
      off64 = Math.max(off64, Math.abs(s64 - (i === j ? 1 : 0)));
    }
  assert.ok(off32 <= 4 * U, `float32 basis orthogonality ${off32} > 4u`);
  assert.ok(off32 > 1e-11, `float32 basis orthogonality ${off32}: no float32 rounding seen`);
  assert.ok(off64 < 1e-13, `float64 basis orthogonality ${off64}`);
  // α₀ = q₀ᵀ A q₀: same probe, so within ‖E‖ + the rounding of q₀
  assert.ok(Math.abs(r32.alpha[0]! - r64.alpha[0]!) <= (TAU + 4 * U) * LMAX);
});

test('topEigenvalues on the float32 operator agree with float64 within (τ + 4u)·λ_max', () => {
  const bound = (TAU + 4 * U) * LMAX;
  for (const which of ['largest', 'smallest'] as const) {
    const t32 = topEigenvalues(o32, { k: 3, which, tol: 1e-6, maxIterations: D, vectors: true });
    const t64 = topEigenvalues(o64, { k: 3, which, tol: 1e-6, maxIterations: D });
    assert.ok(t32.converged && t64.converged, which);
    const ref = which === 'largest' ? [dense.eig[D - 1]!, dense.eig[D - 2]!, dense.eig[D - 3]!] : [dense.eig[0]!, dense.eig[1]!, dense.eig[2]!];
    for (let i = 0; i < 3; i++) {
      // a converged Ritz value is within its residual of an eigenvalue of A₃₂, itself within ‖E‖ of A's
      assert.ok(Math.abs(t32.values[i]! - ref[i]!) <= bound + t32.residuals[i]!, `${which}[${i}]: ${t32.values[i]} vs ${ref[i]} (bound ${bound})`);
      assert.ok(Math.abs(t32.values[i]! - t64.values[i]!) <= bound + t32.residuals[i]! + t64.residuals[i]!, `${which}[${i}] vs float64 Lanczos`);
    }
    for (const v of t32.vectors!) assert.ok(Math.abs(nrm(v) - 1) <= 8 * U, 'unit Ritz vectors from the float32 basis');
  }
  // the largest values differ from the float64 ones somewhere: the float32 rounding is there
  const a = topEigenvalues(o32, { k: 3, tol: 1e-6 }).values,
    b = topEigenvalues(o64, { k: 3, tol: 1e-6 }).values;
  assert.ok(a.some((x, i) => x !== b[i]));
});

test('a float32 diagonal operator: exact spectrum within 4u·λ_max', () => {
  // A = diag(1 … 50), a float32 operator given directly (dtype without a model)
  const n = 50;
  const op: LinearOperator = { dim: n, dtype: 'float32', matvec: (v) => v.map((x, i) => Math.fround(Math.fround(x) * (i + 1))) };
  const r = topEigenvalues(op, { k: 2, which: 'both', tol: 1e-6, maxIterations: n, seed: 3 });
  assert.ok(r.converged);
  const want = [1, 2, n - 1, n];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(r.values[i]! - want[i]!) <= 4 * U * n + r.residuals[i]!, `${r.values[i]} vs ${want[i]}`);
  const l = lanczos(op, { steps: 10, keepBasis: true, seed: 3 });
  assert.ok(l.basis!.every(fround));
});

test('cg on the damped float32 GGN reaches tol 1e-5; x within ‖b − (A + λI)x₃₂‖/λ of the float64 solve', () => {
  const b = p64.gradient(theta);
  for (const damping of [1e-2, 1e-3]) {
    const r32 = cg(o32, b, { damping, tol: 1e-5, maxIterations: 500 });
    const r64 = cg(o64, b, { damping, tol: 1e-12, maxIterations: 500 });
    assert.ok(r32.converged, `float32 CG, damping ${damping}: ${r32.reason} at ${r32.residual}`);
    assert.is(r32.reason, undefined);
    assert.ok(r32.residual <= 1e-5);
    assert.ok(r64.converged);
    assert.ok(fround(r32.x), "x is the float32 ŷ times a power of two: CG's iterate is stored in float32");
    assert.not.ok(fround(r64.x));
    const res = nrm(trueResidual(r32.x, b, damping)) / nrm(b);
    assert.ok(res <= 2e-5, `true residual ${res} > 2·tol`);
    const err = nrm(r32.x.map((x, i) => x - r64.x[i]!));
    const bound = (res * nrm(b)) / damping + (2e-12 * nrm(b)) / damping;
    assert.ok(err <= bound, `‖x32 − x64‖ = ${err} > ${bound}`);
    assert.ok(err / nrm(r64.x) < 1e-3, 'the float32 solve is a solve');
  }
});

test('cg on a float32 operator with a tol below its attainable accuracy: converged false, reason precision', () => {
  const b = p64.gradient(theta);
  for (const tol of [1e-8, 1e-10]) {
    const r = cg(o32, b, { damping: 1e-3, tol, maxIterations: 1000 });
    assert.is(r.converged, false);
    assert.is(r.reason, 'precision');
    assert.ok(r.iterations < 1000, 'stopped at the float32 floor, not by maxIterations');
    // what it returns is still as good as float32 allows: true residual ~1e-6
    const res = nrm(trueResidual(r.x, b, 1e-3)) / nrm(b);
    assert.ok(res < 1e-5, `true residual ${res}`);
  }
  // the same tol on the float64 operator converges as before
  const r64 = cg(o64, b, { damping: 1e-3, tol: 1e-10, maxIterations: 1000 });
  assert.ok(r64.converged && r64.reason === undefined);
});

test('Hutchinson, Hutch++, SLQ and the diagonal estimate on the float32 operator', () => {
  const bound = TAU * LMAX * D;
  for (const method of ['hutchinson', 'hutch++'] as const) {
    const t32 = traceEstimate(o32, { probes: 60, seed: 5, method });
    const t64 = traceEstimate(o64, { probes: 60, seed: 5, method });
    assert.ok(Math.abs(t32.estimate - t64.estimate) <= (method === 'hutch++' ? 2 * bound : bound), `${method}: ${t32.estimate} vs ${t64.estimate}`);
    assert.ok(t32.estimate !== t64.estimate, `${method}: float32 rounding seen`);
    assert.ok(Math.abs(t32.estimate - dense.trace) <= 4 * t32.standardError + bound, `${method}: ${t32.estimate} vs tr ${dense.trace} ± ${t32.standardError}`);
  }
  const s32 = spectralDensity(o32, { probes: 6, steps: 30, seed: 7 });
  const s64 = spectralDensity(o64, { probes: 6, steps: 30, seed: 7 });
  assert.ok(Math.abs(s32.trace - s64.trace) <= (TAU + 4 * U) * LMAX * D, `SLQ trace ${s32.trace} vs ${s64.trace}`);
  for (let p = 0; p < 6; p++) {
    const n32 = s32.nodes[p]!,
      n64 = s64.nodes[p]!;
    // the top node has converged to λ_max in both
    assert.ok(Math.abs(n32.at(-1)! - n64.at(-1)!) <= 2 * (TAU + 4 * U) * LMAX + 1e-6 * LMAX, `probe ${p}: top node ${n32.at(-1)} vs ${n64.at(-1)}`);
    const wsum = s32.weights[p]!.reduce((a, w) => a + w, 0);
    assert.ok(Math.abs(wsum - 1) <= 1e-6, 'weights sum to 1');
  }
  let integral = 0;
  for (let i = 1; i < s32.grid.length; i++) integral += ((s32.density[i]! + s32.density[i - 1]!) / 2) * (s32.grid[i]! - s32.grid[i - 1]!);
  assert.ok(Math.abs(integral - 1) < 1e-3, `∫ density = ${integral}`);
  const d32 = diagonalEstimate(o32, { probes: 40, seed: 9 }),
    d64 = diagonalEstimate(o64, { probes: 40, seed: 9 });
  const dbound = TAU * LMAX * Math.sqrt(D);
  for (let j = 0; j < D; j++) {
    assert.ok(Math.abs(d32.estimate[j]! - d64.estimate[j]!) <= dbound, `diag[${j}]`);
    assert.ok(Math.abs(d32.estimate[j]! - dense.diag[j]!) <= 5 * d32.standardError[j]! + dbound + 1e-12, `diag[${j}] vs exact`);
  }
});

test("ngd with solver 'cg' on a float32 model: the default cg.tol (1e-10, below float32's reach) takes CG's best direction ('precision') and trains", () => {
  const p = make(m32);
  const r = ngd(p, { lr: 0.5, damping: 1e-2, solver: 'cg' }).run(theta, { iterations: 5 });
  assert.is(r.status, 'ok', r.reason);
  assert.ok(r.losses.at(-1)! < r.losses[0]!, `loss ${r.losses[0]} → ${r.losses.at(-1)}`);
  // A float64 model with the same settings converges to 1e-10 and takes nearly the same steps.
  const r64 = ngd(make(m64), { lr: 0.5, damping: 1e-2, solver: 'cg' }).run(theta, { iterations: 5 });
  assert.is(r64.status, 'ok');
  assert.ok(Math.abs(r.losses.at(-1)! - r64.losses.at(-1)!) <= 1e-4 * Math.abs(r64.losses.at(-1)!), `float32 ${r.losses.at(-1)} vs float64 ${r64.losses.at(-1)}`);
});

test.run();
