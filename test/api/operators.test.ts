// Curvature operators (bindings/operators/curvature.ts) against the problems' dense builders,
// for an MLP (ModelProblem) and the linear model (LinearProblem).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, relErr } from '../helpers.js';
import { mlp, problem, linearProblem, categorical, bernoulli, gaussian, type Problem } from '../../bindings/index.js';
import { curvatureOperator, type CurvatureKind } from '../../bindings/operators/curvature.js';

const N = 13;
function mlpProblem(prior = Infinity): { p: Problem; theta: Float64Array } {
  const model = mlp({ sizes: [4, 6, 3], activation: 'tanh', core });
  const X = randomMatrix(N, 4, 5);
  const y = Float64Array.from({ length: N }, (_, n) => n % 3);
  const p = problem({ model, X: { data: X, rows: N, cols: 4 }, y, likelihood: categorical({ classes: 3 }), priorVariance: prior });
  return { p, theta: model.init(2).map((t) => 2 * t) };
}

function denseOf(p: Problem, theta: Float64Array, kind: CurvatureKind): Float64Array {
  const M = kind === 'hessian' ? p.hessian(theta) : kind === 'empiricalFisher' ? p.empiricalFisher(theta) : kind === 'fisherMC' ? p.fisherMC(theta, { samples: 3, seed: 7 }) : p.fisher(theta);
  const d = M.toDense();
  M.free();
  return d;
}

function matvecDense(A: Float64Array, v: Float64Array): Float64Array {
  const D = v.length,
    out = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += A[i * D + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

const KINDS: CurvatureKind[] = ['ggn', 'fisher', 'hessian', 'empiricalFisher', 'fisherMC'];

for (const kind of KINDS) {
  test(`MLP ${kind} operator: matvec and matmat equal the dense matrix, diagonal and toDense agree`, () => {
    const { p, theta } = mlpProblem(4);
    const op = curvatureOperator(p, theta, { kind, samples: 3, seed: 7 });
    const D = p.dim;
    assert.is(op.dim, D);
    const A = denseOf(p, theta, kind);
    const v = randomMatrix(D, 1, 9);
    const y = op.matvec(v);
    assert.ok(relErr(y, matvecDense(A, v)) < 1e-12, `${kind} matvec ${relErr(y, matvecDense(A, v))}`);
    const V = randomMatrix(D, 3, 10);
    const Y = op.matmat(V, 3);
    for (let c = 0; c < 3; c++) {
      const col = Float64Array.from({ length: D }, (_, i) => V[i * 3 + c]!);
      const ref = matvecDense(A, col);
      assert.ok(
        relErr(
          Float64Array.from({ length: D }, (_, i) => Y[i * 3 + c]!),
          ref,
        ) < 1e-12,
      );
    }
    const diag = op.diagonal();
    assert.ok(
      relErr(
        diag,
        Float64Array.from({ length: D }, (_, i) => A[i * D + i]!),
      ) < 1e-12,
    );
    const S = op.toDense();
    assert.ok(relErr(S.toDense(), A) < 1e-14);
    S.free();
    p.free();
  });
}

test('EF operator: the matrix-free path (one jvp + one vjp) equals the per-sample-rows path', () => {
  const { p, theta } = mlpProblem();
  const rows = curvatureOperator(p, theta, { kind: 'empiricalFisher' });
  const free = curvatureOperator(p, theta, { kind: 'empiricalFisher', perSampleBytes: 0 });
  const v = randomMatrix(p.dim, 1, 3);
  assert.ok(relErr(free.matvec(v), rows.matvec(v)) < 1e-12);
  p.free();
});

test('operator products interleave with other θ (the problem re-linearizes as needed)', () => {
  const { p, theta } = mlpProblem();
  const op = curvatureOperator(p, theta, { kind: 'hessian' });
  const v = randomMatrix(p.dim, 1, 4);
  const a = op.matvec(v);
  p.loss(theta.map((t) => t + 0.5));
  const b = op.matvec(v);
  assert.equal(Array.from(a), Array.from(b));
  p.free();
});

test('problem.curvatureOperator delegates (ModelProblem and LinearProblem)', () => {
  const { p, theta } = mlpProblem();
  const op = (p as unknown as { curvatureOperator: typeof curvatureOperator extends (a: Problem, ...r: infer R) => infer O ? (...r: R) => O : never }).curvatureOperator(theta, { kind: 'ggn' });
  const v = randomMatrix(p.dim, 1, 8);
  assert.ok(relErr(op.matvec(v), p.ggnVectorProduct(theta, v)) === 0);
  p.free();
});

for (const [name, lik, y] of [
  ['bernoulli', bernoulli(), (n: number) => n % 2],
  ['gaussian', gaussian(), (n: number) => Math.sin(n)],
  ['categorical', categorical({ classes: 3 }), (n: number) => n % 3],
] as const) {
  test(`linear ${name}: every kind's operator equals the dense matrix`, () => {
    const X = randomMatrix(N, 5, 21);
    const lp = linearProblem({ X: { data: X, rows: N, cols: 5 }, y: Float64Array.from({ length: N }, (_, n) => y(n)), likelihood: lik, priorVariance: 3, bias: true });
    const theta = randomMatrix(lp.dim, 1, 22).map((t) => 0.3 * t);
    for (const kind of KINDS) {
      const op = lp.curvatureOperator(theta, { kind, samples: 3, seed: 7 });
      const A = denseOf(lp, theta, kind);
      const v = randomMatrix(lp.dim, 1, 23);
      assert.ok(relErr(op.matvec(v), matvecDense(A, v)) < 1e-12, `${name} ${kind}: ${relErr(op.matvec(v), matvecDense(A, v))}`);
      if (kind === 'empiricalFisher') {
        const f = lp.curvatureOperator(theta, { kind, perSampleBytes: 0 });
        assert.ok(relErr(f.matvec(v), matvecDense(A, v)) < 1e-12);
      }
    }
    lp.free();
  });
}

test('bad input: unknown kind, wrong θ or v length, non-finite v, bad samples', () => {
  const { p, theta } = mlpProblem();
  assert.throws(() => curvatureOperator(p, theta, { kind: 'nope' as CurvatureKind }), RangeError);
  assert.throws(() => curvatureOperator(p, theta.slice(1)), RangeError);
  assert.throws(() => curvatureOperator(p, theta, { kind: 'fisherMC', samples: 0 }), RangeError);
  const op = curvatureOperator(p, theta);
  assert.throws(() => op.matvec(new Float64Array(p.dim + 1)), RangeError);
  const bad = new Float64Array(p.dim);
  bad[2] = NaN;
  assert.throws(() => op.matvec(bad), RangeError);
  p.free();
});

test.run();
