// Issue 19, item 4: the types at a float32 problem's boundary. A float32 problem (a float32
// sequential network, a float32 mlp) returns its D- and N-sized results as float32 arrays —
// gradients, curvature-vector products, diagonals (Float32Array), per-sample gradient rows
// (DenseMatrix32, or a resident Matrix saying dtype 'float32') — and its matrices (dense, blocks,
// Kronecker factors, exact norm blocks, the gradient covariance) say dtype 'float32' and hold
// float32 values; a float64 problem's say 'float64'. What computes in float64 on top of a float32
// problem keeps float64: the optimizers' state, the operators' products (float32 values widened),
// the factorizations (bitwise those of a float64 matrix with the same float32 entries), Laplace.
//
// Values: each float32 result against the float64 problem at the same θ and X (both float32
// numbers), within the bound of test/nn/sequential-f32.test.ts,
//
//   ‖r32 − r64‖∞ ≤ c · P · K · u · ‖r64‖∞,   c = 4, u = 2⁻²⁴,
//
// with K the longest reduction (a conv patch, a dense layer's inputs, a sum over the N·S positions
// of a weight gradient) and P the float32 stages on the path (the ops times the passes: forward,
// tangent, backward, second-order backward) plus one for the final rounding. The variance-adapted
// direction solves with F̄ + λI, so its bound carries that matrix's condition number, at most
// (tr F̄ + λ)/λ.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  batchNorm,
  categorical,
  conv2d,
  curvatureOperator,
  dense,
  type Dtype,
  flatten,
  gd,
  laplace,
  linear,
  type Matrix,
  mlp,
  problem,
  type Problem,
  relu,
  sequential,
  SymMatrix,
} from '../../bindings/index.js';
import { checkFloat32Bound, core, vec32 } from '../helpers.js';

/** Asserts a float32 result: a Float32Array of the float64 one's length, within c·P·K·u·‖r64‖∞. */
function close32(a: unknown, b: ArrayLike<number>, P: number, K: number, what: string): void {
  assert.ok(a instanceof Float32Array, `${what}: a Float32Array, got ${(a as object)?.constructor?.name}`);
  assert.ok(!(b instanceof Float32Array), `${what}: the float64 problem's result is not a Float32Array`);
  checkFloat32Bound(a, b, P, K, what);
}

/** Every entry of the matrix is a float32 number (and the matrix says so). */
function float32Entries(m: SymMatrix | Matrix, what: string): void {
  assert.is(m.dtype, 'float32', `${what}: dtype`);
  const a = m.toDense();
  const data = a instanceof Float64Array ? a : a.data;
  for (let i = 0; i < data.length; i++) if (Math.fround(data[i]!) !== data[i]) assert.unreachable(`${what}: entry ${i} = ${data[i]} is not a float32 value`);
}

const N = 6;
/** conv → batch norm (an exact block in 'kfac') → relu → dense: L = 5 ops. */
const SPEC = {
  input: [2, 5, 5] as [number, number, number],
  layers: [conv2d({ out: 3, kernel: 3, padding: 1 }), batchNorm(), relu(), flatten(), dense({ out: 3 })],
};
const L = 5;
const K = Math.max(3 * 25, N * 25);

function pair() {
  const X = vec32(N * 50, 1);
  const y = Float64Array.from({ length: N }, (_, i) => i % 3);
  const make = <T extends Dtype>(dtype: T) => {
    const net = sequential({ ...SPEC, dtype, core });
    return { net, p: problem({ model: net, X: { data: X, rows: N, cols: 50 }, y, likelihood: categorical({ classes: 3 }) }) };
  };
  return { f32: make('float32'), f64: make('float64') };
}

test('float32 problem: every D- and N-sized result is a Float32Array within the float32 bound of float64', () => {
  const { f32, f64 } = pair();
  const theta = f32.net.init(4);
  assert.ok(theta instanceof Float32Array, 'init: a float32 network draws θ as a Float32Array');
  assert.equal(Array.from(theta), Array.from(f64.net.init(4), Math.fround), 'init: the float64 draws, rounded');
  const th = Float64Array.from(theta);
  const v = vec32(f32.net.dim, 5);
  const [a, b] = [f32.p, f64.p];
  assert.is(a.dtype, 'float32');
  assert.is(b.dtype, 'float64');
  const g = a.gradient(theta);
  close32(g, b.gradient(th), 2 * L + 1, K, 'gradient');
  assert.equal(a.lossAndGradient(theta).gradient, g, 'lossAndGradient: the same gradient');
  close32(a.fisherVectorProduct(theta, v), b.fisherVectorProduct(th, v), 4 * L + 1, K, 'Fisher-vector product');
  close32(a.ggnVectorProduct(theta, v), b.ggnVectorProduct(th, v), 4 * L + 1, K, 'GGN-vector product');
  close32(a.hessianVectorProduct(theta, v), b.hessianVectorProduct(th, v), 4 * L + 1, K, 'Hessian-vector product');
  close32(a.ggn(theta, { structure: 'diagonal' }), b.ggn(th, { structure: 'diagonal' }), 2 * L + 2, K, 'GGN diagonal');
  close32(a.fisher(theta, { structure: 'diagonal' }), b.fisher(th, { structure: 'diagonal' }), 2 * L + 2, K, 'Fisher diagonal');
  close32(a.hessian(theta, { structure: 'diagonal' }), b.hessian(th, { structure: 'diagonal' }), 4 * L + 2, K, 'Hessian diagonal');
  close32(a.empiricalFisher(theta, { structure: 'diagonal' }), b.empiricalFisher(th, { structure: 'diagonal' }), 2 * L + 2, K, 'EF diagonal');
  close32(a.fisherMC(theta, { structure: 'diagonal', samples: 2, seed: 3 }), b.fisherMC(th, { structure: 'diagonal', samples: 2, seed: 3 }), 2 * L + 2, K, 'MC Fisher diagonal');
  const G = a.perSampleGradients(theta);
  assert.is(G.rows, N);
  assert.is(G.cols, a.dim);
  close32(G.data, b.perSampleGradients(th).data, 2 * L + 1, K, 'per-sample gradients');
  // Variance adaptation solves with F̄ + λI: its condition number, at most (tr F̄ + λ)/λ, multiplies the bound.
  const lambda = 0.1;
  const va32 = a.varianceAdaptation(theta, { damping: lambda }),
    va64 = b.varianceAdaptation(th, { damping: lambda });
  const F = b.empiricalFisher(th);
  const kappa = (F.trace() / (b.reduction === 'mean' ? 1 : N) + lambda) / lambda;
  F.free();
  close32(va32.direction, va64.direction, (2 * L + 4) * kappa, K, 'variance-adapted direction');
  close32(va32.matrix.data, va64.matrix.data, (2 * L + 4) * kappa, K, 'variance-adaptation matrix');
  a.free();
  b.free();
});

test('float32 problem: its matrices say dtype float32 and hold float32 values; a float64 problem’s say float64', () => {
  const { f32, f64 } = pair();
  const theta = f32.net.init(6),
    th = Float64Array.from(theta);
  const [a, b] = [f32.p, f64.p];
  for (const [name, m32, m64] of [
    ['fisher', a.fisher(theta), b.fisher(th)],
    ['ggn', a.ggn(theta), b.ggn(th)],
    ['hessian', a.hessian(theta), b.hessian(th)],
    ['empiricalFisher', a.empiricalFisher(theta), b.empiricalFisher(th)],
    ['fisherMC', a.fisherMC(theta, { seed: 1 }), b.fisherMC(th, { seed: 1 })],
    ['gradientCovariance', a.gradientCovariance(theta), b.gradientCovariance(th)],
  ] as const) {
    float32Entries(m32, name);
    assert.is(m64.dtype, 'float64', `${name} (float64 problem)`);
    const P = name === 'hessian' ? 4 * L + 2 : 2 * L + 2;
    const d32 = new Float32Array(m32.toDense());
    close32(d32, m64.toDense(), P, K, `${name} (dense)`);
    m32.free();
    m64.free();
  }
  const blocks32 = a.ggn(theta, { structure: 'block' }),
    blocks64 = b.ggn(th, { structure: 'block' });
  assert.is(blocks32.length, 3, 'one block per parameter group: conv, batch norm, dense');
  blocks32.forEach((m, i) => {
    float32Entries(m, `block ${i}`);
    assert.is(blocks64[i]!.dtype, 'float64');
  });
  for (const m of [...blocks32, ...blocks64]) m.free();
  const kf32 = a.ggn(theta, { structure: 'kfac' }),
    kf64 = b.ggn(th, { structure: 'kfac' });
  let exact = 0;
  kf32.forEach((f, i) => {
    if (f.exact) {
      exact++;
      float32Entries(f.exact, `kfac[${i}].exact`);
      assert.is(kf64[i]!.exact!.dtype, 'float64');
    } else {
      float32Entries(f.A, `kfac[${i}].A`);
      float32Entries(f.G, `kfac[${i}].G`);
      assert.is(kf64[i]!.A!.dtype, 'float64');
      assert.is(kf64[i]!.G!.dtype, 'float64');
    }
  });
  assert.is(exact, 1, "batch norm's exact block");
  const R = a.perSampleGradients(theta, { resident: true });
  float32Entries(R, 'resident per-sample gradients');
  assert.equal(R.toDense().data, Float64Array.from(a.perSampleGradients(theta).data), 'resident rows = the DenseMatrix32 rows, widened');
  R.free();
  assert.is(b.perSampleGradients(th, { resident: true }).dtype, 'float64');
  a.free();
  b.free();
});

test('float32 matrices factorize in float64: solve and eigen equal those of a float64 matrix with the same entries', () => {
  const { f32 } = pair();
  const theta = f32.net.init(7);
  const F = f32.p.ggn(theta);
  const copy = SymMatrix.from({ data: F.toDense(), rows: F.size, cols: F.size }, core);
  assert.is(copy.dtype, 'float64', 'SymMatrix.from is float64');
  const rhs = vec32(F.size, 8);
  const x = F.solve(rhs, { damping: 0.5 });
  assert.ok(x instanceof Float64Array, 'a solve runs and returns in float64');
  assert.equal(x, copy.solve(rhs, { damping: 0.5 }));
  assert.equal(F.eigen().values, copy.eigen().values);
  F.free();
  copy.free();
  f32.p.free();
});

test('float32 problem: optimizers, operators and Laplace compute in float64 on its float32 results', () => {
  const X = vec32(40 * 4, 9);
  const y = Float64Array.from({ length: 40 }, (_, i) => i % 3);
  const make = <T extends Dtype>(dtype: T) => {
    const model = mlp({ sizes: [4, 8, 3], activation: 'tanh', dtype, core });
    return { model, p: problem({ model, X: { data: X, rows: 40, cols: 4 }, y, likelihood: categorical({ classes: 3 }), priorVariance: 10 }) };
  };
  const a = make('float32'),
    b = make('float64');
  const theta = a.model.init(1);
  assert.ok(theta instanceof Float32Array);
  const th = Float64Array.from(theta);
  // The optimizer keeps θ and the gradient in float64 (θ rounded by the model on each pass).
  const opt = gd(a.p, { lr: 0.1 });
  const s0 = opt.init(theta);
  assert.ok(s0.theta instanceof Float64Array && s0.gradient instanceof Float64Array);
  assert.equal(s0.gradient, Float64Array.from(a.p.gradient(theta)));
  const s1 = opt.update(s0).state;
  assert.ok(s1.theta instanceof Float64Array);
  for (let i = 0; i < th.length; i++) assert.is(s1.theta[i], th[i]! - 0.1 * s0.gradient[i]!);
  // Operators: the LinearOperator protocol is float64; a float32 operator's products are the problem's float32 ones, widened.
  const op = curvatureOperator(a.p, theta, { kind: 'ggn' });
  assert.is(op.dtype, 'float32');
  const v = vec32(a.p.dim, 10);
  const w = op.matvec(v);
  assert.ok(w instanceof Float64Array);
  assert.equal(w, Float64Array.from(a.p.ggnVectorProduct(theta, v)));
  assert.equal(op.diagonal(), Float64Array.from(a.p.ggn(theta, { structure: 'diagonal' })));
  // Laplace: its factorizations are float64 on the float32 curvature; the evidence agrees with
  // float64's to the curvature's float32 accuracy (log-determinants of D = 75 eigenvalues ≥ the prior precision).
  for (const structure of ['full', 'kfac', 'diagonal'] as const) {
    const la = laplace(a.p as Problem<Dtype>, theta, { structure }),
      lb = laplace(b.p, th, { structure });
    const ma = la.logMarginalLikelihood(),
      mb = lb.logMarginalLikelihood();
    assert.ok(Math.abs(ma - mb) <= 1e-4 * Math.abs(mb), `${structure}: log marginal likelihood ${ma} vs float64 ${mb}`);
    assert.ok(la.posteriorPrecisionDiagonal() instanceof Float64Array);
    la.free();
    lb.free();
  }
  a.p.free();
  b.p.free();
});

test('float64 problems: the linear model and models without a dtype say float64, with Float64Array results', () => {
  const X = { data: vec32(10 * 3, 11), rows: 10, cols: 3 };
  const y = Float64Array.from({ length: 10 }, (_, i) => i % 2);
  const lp = problem({ model: linear({ inputs: 3, outputs: 2, core }), X, y, likelihood: categorical({ classes: 2 }) });
  assert.is(lp.dtype, 'float64');
  assert.ok(lp.gradient(new Float64Array(lp.dim)) instanceof Float64Array);
  lp.free();
  const net = sequential({ input: 3, layers: [dense({ out: 2 })], core });
  assert.is(net.dtype, 'float64');
  assert.ok(net.init(0) instanceof Float64Array);
  const p = problem({ model: net, X, y, likelihood: categorical({ classes: 2 }) });
  const th = net.init(0);
  assert.ok(p.gradient(th) instanceof Float64Array);
  assert.ok(p.ggn(th, { structure: 'diagonal' }) instanceof Float64Array);
  assert.ok(p.perSampleGradients(th).data instanceof Float64Array);
  p.free();
});

test.run();
