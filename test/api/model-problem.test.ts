// problem({ model }): the generic path (a model reached only through its Model interface) against
// linearProblem's numbers, the linear model's dispatch, the multi-output Gaussian, and bad input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  problem,
  linear,
  linearProblem,
  mlp,
  Matrix,
  gaussian,
  bernoulli,
  categorical,
  poisson,
  ModelProblem,
  LinearProblem,
  type Likelihood,
  type Model,
  type ModelTrace,
  type SymMatrix,
} from '../../bindings/index.js';
import { categoricalFactor } from '../../bindings/internals.js';
import { normals, uniform, relErr } from '../helpers.js';

/**
 * A user-written linear model in plain TypeScript, f_n = W x_n with θ class-major (linearProblem's
 * layout), one parameter group per output class: forward, jvp and vjp only — no fast paths.
 */
function plainLinear(d: number, M: number): Model {
  const forwardWith = (v: Float64Array, X: Float64Array, N: number) => {
    const f = new Float64Array(N * M);
    for (let n = 0; n < N; n++)
      for (let m = 0; m < M; m++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += v[m * d + j]! * X[n * d + j]!;
        f[n * M + m] = s;
      }
    return f;
  };
  return {
    name: 'plain-linear',
    inputs: d,
    outputs: M,
    dim: M * d,
    groups: Array.from({ length: M }, (_, m) => ({ name: `class${m}`, offset: m * d, size: d })),
    forward(theta, X, N): ModelTrace {
      return {
        rows: N,
        outputs: forwardWith(theta, X, N),
        jvp: (v) => forwardWith(v, X, N),
        vjp: (R) => {
          const g = new Float64Array(M * d);
          for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let j = 0; j < d; j++) g[m * d + j]! += R[n * M + m]! * X[n * d + j]!;
          return g;
        },
      };
    },
  };
}

interface Case {
  name: string;
  lik: Likelihood;
  y: (u: () => number) => number;
}
const cases: Case[] = [
  { name: 'gaussian', lik: gaussian({ variance: 0.7 }), y: (u) => u() - 0.5 },
  { name: 'bernoulli', lik: bernoulli(), y: (u) => (u() < 0.4 ? 1 : 0) },
  { name: 'categorical', lik: categorical({ classes: 4 }), y: (u) => Math.floor(4 * u()) },
  { name: 'poisson', lik: poisson(), y: (u) => Math.floor(4 * u()) },
];

function data(N: number, d: number, seed: number, c: Case) {
  const g = normals(seed),
    u = uniform(seed + 1);
  const X = Float64Array.from({ length: N * d }, () => 0.6 * g());
  const y = Float64Array.from({ length: N }, () => c.y(u));
  return { X, y, g };
}

const dense = (m: SymMatrix) => {
  const v = m.toDense();
  m.free();
  return v;
};

test("a plain-TypeScript model through problem() gives linearProblem's numbers (every likelihood and curvature, mean/sum, prior)", () => {
  for (const c of cases)
    for (const opt of [
      { reduction: 'mean' as const, priorVariance: Infinity },
      { reduction: 'sum' as const, priorVariance: 0.8 },
    ]) {
      const N = 19,
        d = 4,
        M = c.lik.outputs;
      const { X, y, g } = data(N, d, 3, c);
      const ref = linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: c.lik, ...opt });
      const p = problem({ model: plainLinear(d, M), X: { data: X, rows: N, cols: d }, y, likelihood: c.lik, ...opt });
      assert.ok(p instanceof ModelProblem, 'generic path');
      const theta = Float64Array.from({ length: M * d }, () => 0.4 * g());
      const v = Float64Array.from({ length: M * d }, () => g());
      const tag = `${c.name} ${opt.reduction}`;
      assert.ok(Math.abs(p.loss(theta) - ref.loss(theta)) <= 1e-13 * Math.abs(ref.loss(theta)), `${tag} loss`);
      assert.ok(relErr(p.gradient(theta), ref.gradient(theta)) < 1e-13, `${tag} gradient`);
      assert.ok(relErr(p.perSampleGradients(theta).data, ref.perSampleGradients(theta).data) < 1e-13, `${tag} per-sample`);
      for (const kind of ['fisher', 'ggn', 'hessian', 'empiricalFisher'] as const) {
        assert.ok(relErr(dense(p[kind](theta)), dense(ref[kind](theta))) < 1e-12, `${tag} ${kind} dense`);
        assert.ok(relErr(p[kind](theta, { structure: 'diagonal' }), ref[kind](theta, { structure: 'diagonal' })) < 1e-12, `${tag} ${kind} diagonal`);
        const a = p[kind](theta, { structure: 'block' }),
          b = ref[kind](theta, { structure: 'block' });
        assert.is(a.length, M, `${tag} ${kind} one block per group`);
        a.forEach((blk, i) => assert.ok(relErr(dense(blk), dense(b[i]!)) < 1e-12, `${tag} ${kind} block ${i}`));
      }
      const mc = p.fisherMC(theta, { samples: 3, seed: 7 }),
        mcRef = ref.fisherMC(theta, { samples: 3, seed: 7 });
      assert.ok(relErr(dense(mc), dense(mcRef)) < 1e-12, `${tag} MC Fisher, same seed same samples`);
      assert.ok(relErr(dense(p.gradientCovariance(theta)), dense(ref.gradientCovariance(theta))) < 1e-12, `${tag} gradient covariance`);
      assert.ok(relErr(p.fisherVectorProduct(theta, v), ref.fisherVectorProduct(theta, v)) < 1e-13, `${tag} FVP`);
      assert.ok(relErr(p.ggnVectorProduct(theta, v), ref.ggnVectorProduct(theta, v)) < 1e-13, `${tag} GGN-vp`);
      assert.ok(relErr(p.hessianVectorProduct(theta, v), ref.hessianVectorProduct(theta, v)) < 1e-13, `${tag} HVP`);
      const va = p.varianceAdaptation(theta, { damping: 1e-3 }),
        vaRef = ref.varianceAdaptation(theta, { damping: 1e-3 });
      assert.ok(relErr(va.direction, vaRef.direction) < 1e-10, `${tag} variance adaptation`);
      assert.throws(() => p.fisher(theta, { structure: 'kfac' }), /kfac/, 'no dense groups: kfac refused');
      p.free();
      ref.free();
    }
});

test('problem({ model: linear(...) }) is linearProblem (its fast paths, identical numbers)', () => {
  const c = cases[2]!,
    N = 30,
    d = 5;
  const { X, y, g } = data(N, d, 11, c);
  const p = problem({ model: linear({ inputs: d, outputs: 4, bias: true }), X: { data: X, rows: N, cols: d }, y, likelihood: c.lik });
  const ref = linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: c.lik, bias: true });
  assert.ok(p instanceof LinearProblem);
  const theta = Float64Array.from({ length: p.dim }, () => g());
  assert.is(p.loss(theta), ref.loss(theta));
  assert.equal(dense(p.fisher(theta)), dense(ref.fisher(theta)));
  assert.throws(() => problem({ model: linear({ inputs: 3 }), X: { data: X, rows: N, cols: d }, y: y.map(() => 0), likelihood: gaussian() }), /columns/);
  p.free();
  ref.free();
});

test('multi-output Gaussian on the linear model: F = s/σ² (I_M ⊗ XᵀX), H adds the prior, loss and gradient by formula', () => {
  const N = 25,
    d = 3,
    M = 3,
    variance = 0.5;
  const g = normals(21);
  const X = Float64Array.from({ length: N * d }, () => g());
  const Y = Float64Array.from({ length: N * M }, () => g());
  const p = problem({ model: linear({ inputs: d, outputs: M }), X: { data: X, rows: N, cols: d }, y: { data: Y, rows: N, cols: M }, likelihood: gaussian({ variance, outputs: M }), priorVariance: 2 });
  assert.ok(p instanceof ModelProblem);
  const theta = Float64Array.from({ length: M * d }, () => g());
  let loss = 0;
  const grad = new Float64Array(M * d);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      let f = 0;
      for (let j = 0; j < d; j++) f += theta[m * d + j]! * X[n * d + j]!;
      const e = f - Y[n * M + m]!;
      loss += (e * e) / (2 * variance);
      for (let j = 0; j < d; j++) grad[m * d + j]! += ((e / variance) * X[n * d + j]!) / N;
    }
  let sq = 0;
  for (const t of theta) sq += t * t;
  loss = loss / N + sq / (2 * 2 * N);
  for (let i = 0; i < M * d; i++) grad[i]! += theta[i]! / (2 * N);
  assert.ok(Math.abs(p.loss(theta) - loss) < 1e-14 * loss, 'loss');
  assert.ok(relErr(p.gradient(theta), grad) < 1e-13, 'gradient');
  const F = dense(p.fisher(theta)),
    H = dense(p.hessian(theta)),
    D = M * d;
  for (let a = 0; a < M; a++)
    for (let b = 0; b < M; b++)
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) {
          let xx = 0;
          for (let n = 0; n < N; n++) xx += X[n * d + i]! * X[n * d + j]!;
          const want = a === b ? xx / (N * variance) : 0;
          const r = a * d + i,
            c = b * d + j;
          assert.ok(Math.abs(F[r * D + c]! - want) < 1e-13 * (1 + Math.abs(want)), `F[${r}][${c}]`);
          assert.ok(Math.abs(H[r * D + c]! - want - (r === c ? 1 / (2 * N) : 0)) < 1e-13 * (1 + Math.abs(want)), `H[${r}][${c}]`);
        }
  assert.throws(() => problem({ model: linear({ inputs: d, outputs: M }), X: { data: X, rows: N, cols: d }, y: Y.subarray(0, N), likelihood: gaussian({ outputs: M }) }), /y/);
  assert.throws(() => linearProblem({ X: { data: X, rows: N, cols: d }, y: Y, likelihood: gaussian({ outputs: M }) }), /one-output/);
  p.free();
});

test('the categorical factor: L Lᵀ = diag(p) − ppᵀ with C − 1 columns, also when one class dominates', () => {
  const C = 5;
  for (const f of [
    [0.3, -1, 2, 0.1, 0.5],
    [40, 0, -3, 1, 2],
    [0, 0, 0, 0, 0],
    [2500, -1200, 0, 1740, 2500 - 745],
  ]) {
    const R = categoricalFactor(Float64Array.from(f), 1, C);
    assert.ok(R.every(Number.isFinite), `f = ${f}: finite factor`);
    const mx = Math.max(...f),
      e = f.map((v) => Math.exp(v - mx)),
      z = e.reduce((a, b) => a + b, 0),
      p = e.map((v) => v / z);
    for (let i = 0; i < C; i++)
      for (let j = 0; j < C; j++) {
        let s = 0;
        for (let k = 0; k < C - 1; k++) s += R[k * C + i]! * R[k * C + j]!;
        const want = (i === j ? p[i]! : 0) - p[i]! * p[j]!;
        assert.ok(Math.abs(s - want) < 4e-16 * 8, `f = ${f}: (LLᵀ)[${i}][${j}] = ${s} vs ${want}`);
      }
  }
});

test('per-sample gradients { resident: true } stay in WebAssembly memory and equal the copied ones', () => {
  const c = cases[2]!,
    N = 17,
    d = 4;
  const { X, y, g } = data(N, d, 5, c);
  const Xm = { data: X, rows: N, cols: d };
  const sparse = { rows: N, cols: d, indptr: [0], indices: [] as number[], values: [] as number[] };
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < d; j++)
      if (j !== n % d) {
        sparse.indices.push(j);
        sparse.values.push(X[n * d + j]!);
      }
    sparse.indptr.push(sparse.indices.length);
  }
  const problems = [
    problem({ model: mlp({ sizes: [d, 6, 4] }), X: Xm, y, likelihood: c.lik }),
    problem({ model: plainLinear(d, 4), X: Xm, y, likelihood: c.lik }),
    linearProblem({ X: Xm, y, likelihood: c.lik, bias: true }),
    linearProblem({ X: sparse, y, likelihood: c.lik }),
  ];
  for (const p of problems) {
    const theta = Float64Array.from({ length: p.dim }, () => 0.3 * g());
    const copied = p.perSampleGradients(theta);
    const resident = p.perSampleGradients(theta, { resident: true });
    assert.ok(resident instanceof Matrix, 'a resident Matrix');
    assert.is(resident.rows, N);
    assert.is(resident.cols, p.dim);
    assert.equal(resident.toDense().data, copied.data, `${p.model.name}: same numbers`);
    resident.free();
    p.free();
  }
});

test('bad input: typed errors naming the argument, nothing left allocated', () => {
  const X = { data: new Float64Array(12), rows: 4, cols: 3 };
  const model = plainLinear(3, 1);
  assert.throws(() => problem({ model: {} as Model, X, y: [0, 0, 0, 0], likelihood: gaussian() }), /model\.inputs/);
  assert.throws(() => problem({ model: { ...model, groups: [{ name: 'g', offset: 0, size: 2 }] }, X, y: [0, 0, 0, 0], likelihood: gaussian() }), /groups/);
  assert.throws(() => problem({ model, X, y: [0, 0, 0, 0], likelihood: categorical({ classes: 3 }) }), /outputs/);
  assert.throws(() => problem({ model, X: { data: new Float64Array(8), rows: 4, cols: 2 }, y: [0, 0, 0, 0], likelihood: gaussian() }), /columns/);
  assert.throws(() => problem({ model, X, y: [0, 2, 0, 0], likelihood: bernoulli() }), /support/);
  assert.throws(() => problem({ model, X, y: [0, 0, 0, 0], likelihood: gaussian(), reduction: 'avg' as 'mean' }), /reduction/);
  const p = problem({ model, X, y: [0, 1, 0, 1], likelihood: bernoulli() });
  assert.throws(() => p.loss([1, 2]), /length/);
  assert.throws(() => p.gradient([1, NaN, 0]), /finite/);
  p.free();
  assert.throws(() => p.loss([0, 0, 0]), /freed|disposed/i);
});

test.run();
