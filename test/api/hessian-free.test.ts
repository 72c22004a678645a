// Hessian-free optimization (bindings/optimizers/hessian-free.ts) and the CG solver option of ngd/efgd/newton.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, relErr } from '../helpers.js';
import { mlp, problem, categorical, ngd, efgd, newton, linearProblem, bernoulli, type Problem } from '../../bindings/index.js';
import { hessianFree } from '../../bindings/optimizers/hessian-free.js';

function classification(N = 60): { p: Problem; theta0: Float64Array } {
  const model = mlp({ sizes: [2, 6, 3], activation: 'tanh', core });
  const Z = randomMatrix(N, 2, 3);
  const y = Float64Array.from({ length: N }, (_, n) => n % 3);
  const X = Float64Array.from({ length: N * 2 }, (_, i) => Z[i]! * 0.6 + (i % 2 === 0 ? Math.cos : Math.sin)((2 * Math.PI * y[Math.floor(i / 2)]!) / 3) * 2);
  const p = problem({ model, X: { data: X, rows: N, cols: 2 }, y, likelihood: categorical({ classes: 3 }), priorVariance: 10 });
  return { p, theta0: model.init(4) };
}

for (const curvature of ['ggn', 'fisher', 'empiricalFisher', 'hessian'] as const) {
  test(`hessianFree (${curvature}, adaptive damping) decreases the loss of a small MLP classifier`, () => {
    const { p, theta0 } = classification();
    const rec = hessianFree(p, { damping: 1, adaptiveDamping: true, curvature, cg: { maxIterations: 20 } }).run(theta0, { iterations: 15 });
    assert.is(rec.status, 'ok', rec.reason);
    assert.ok(rec.losses.at(-1)! < 0.3 * rec.losses[0]!, `${curvature}: ${rec.losses[0]} → ${rec.losses.at(-1)}`);
    assert.is(rec.dampings.length, 15);
    assert.ok(new Set(rec.dampings).size > 1, 'λ adapts');
    p.free();
  });
}

test('hessianFree with a converged CG equals the damped Newton-type step (dense solve)', () => {
  const { p, theta0 } = classification(30);
  const lambda = 0.1;
  const { direction } = hessianFree(p, { damping: lambda, cg: { maxIterations: 500, tol: 1e-13 } }).update(hessianFree(p, { damping: lambda }).init(theta0));
  const F = p.ggn(theta0);
  const ref = F.solve(p.gradient(theta0), { damping: lambda + p.priorCurvature() });
  F.free();
  assert.ok(relErr(direction, ref) < 1e-8, `relErr ${relErr(direction, ref)}`);
  p.free();
});

for (const [name, make] of [
  ['ngd', ngd],
  ['efgd', efgd],
  ['newton', newton],
] as const) {
  test(`${name}: solver 'cg' gives the Cholesky iterates (1e-8 relative)`, () => {
    const { p, theta0 } = classification(30);
    const a = make(p, { lr: 0.5, damping: 1, solver: 'cholesky' }).run(theta0, { iterations: 3 });
    const b = make(p, { lr: 0.5, damping: 1, solver: 'cg', cg: { tol: 1e-13, maxIterations: 2000 } }).run(theta0, { iterations: 3 });
    assert.is(a.status, 'ok', a.reason);
    assert.is(b.status, 'ok', b.reason);
    assert.ok(relErr(b.theta, a.theta) < 1e-8, `relErr ${relErr(b.theta, a.theta)}`);
    p.free();
  });
}

test("solver 'cg' that does not converge fails the run with the reason; 'auto' picks Cholesky for small D", () => {
  const { p, theta0 } = classification(30);
  const rec = ngd(p, { lr: 0.5, damping: 1e-6, solver: 'cg', cg: { maxIterations: 2, tol: 1e-14 } }).run(theta0, { iterations: 3 });
  assert.is(rec.status, 'failed');
  assert.match(rec.reason!, /CG on the damped fisher did not converge/);
  const auto = ngd(p, { lr: 0.5, damping: 0.1 }).run(theta0, { iterations: 2 });
  const chol = ngd(p, { lr: 0.5, damping: 0.1, solver: 'cholesky' }).run(theta0, { iterations: 2 });
  assert.equal(Array.from(auto.theta), Array.from(chol.theta));
  assert.throws(() => ngd(p, { lr: 0.5, solver: 'lu' as 'cg' }), RangeError);
  p.free();
});

test('minRcond: an ill-conditioned solve ends the run with status failed and the reason', () => {
  // Duplicate columns: the Fisher of the linear model is singular; tiny damping keeps it PD but ill-conditioned.
  const N = 40,
    base = randomMatrix(N, 2, 9);
  const X = Float64Array.from({ length: N * 3 }, (_, i) => base[Math.floor(i / 3) * 2 + Math.min(i % 3, 1)]!);
  const lp = linearProblem({ X: { data: X, rows: N, cols: 3 }, y: Float64Array.from({ length: N }, (_, n) => n % 2), likelihood: bernoulli() });
  const rec = ngd(lp, { lr: 1, damping: 1e-13, minRcond: 1e-8 }).run(new Float64Array(3), { iterations: 2 });
  assert.is(rec.status, 'failed');
  assert.match(rec.reason!, /ill-conditioned/);
  const ok = ngd(lp, { lr: 1, damping: 1e-1, minRcond: 1e-8 }).run(new Float64Array(3), { iterations: 2 });
  assert.is(ok.status, 'ok');
  assert.throws(() => ngd(lp, { lr: 1, minRcond: 2 }), RangeError);
  lp.free();
});

test('hessianFree bad input', () => {
  const { p } = classification(10);
  assert.throws(() => hessianFree(p, { damping: -1 }), RangeError);
  assert.throws(() => hessianFree(p, { curvature: 'kfac' as 'ggn' }), RangeError);
  assert.throws(() => hessianFree(p, { cg: { maxIterations: 0 } }), RangeError);
  assert.throws(() => hessianFree(p, { lr: -1 }), RangeError);
  p.free();
});

test.run();
