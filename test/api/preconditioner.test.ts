// Diagonal preconditioners for cg: a curvature diagonal with a zero entry (the Fisher diagonal of
// an MLP on the digits, whose pixel 0 is always 0) is refused with a message that says to add the
// damping and the prior's curvature; dampedDiagonal(diag, λ) makes it valid, and cg preconditioned
// with it solves the damped system (checked with a true product, not the recurrence residual).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core } from '../helpers.js';
import { categorical, cg, curvatureOperator, dampedDiagonal, loadDigits, mlp, problem, topEigenvalues } from '../../bindings/index.js';

const ROWS = 300;
const digits = await loadDigits();
const X = { data: digits.X.data.slice(0, ROWS * 64), rows: ROWS, cols: 64 };
const y = digits.y.slice(0, ROWS);

function setup(priorVariance?: number) {
  const model = mlp({ sizes: [64, 6, 10], activation: 'tanh', core });
  const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }), ...(priorVariance === undefined ? {} : { priorVariance }) });
  return { p, theta: model.init(3) };
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    assert.instance(e, Error);
    return e as Error;
  }
  assert.unreachable('expected an error');
  throw new Error('unreachable');
}

test('digits: pixel 0 is always 0, so the Fisher diagonal has zeros; cg refuses it and says to add the damping', () => {
  const { p, theta } = setup();
  try {
    for (let n = 0; n < ROWS; n++) assert.is(X.data[n * 64], 0, `pixel 0 of row ${n}`);
    const diag = p.fisher(theta, { structure: 'diagonal' });
    const zero = diag.indexOf(0);
    assert.is(zero, 0, 'entry 0 (a weight of pixel 0) is the first zero of the Fisher diagonal');
    assert.ok(diag.every((v) => v >= 0));
    const F = curvatureOperator(p, theta, { kind: 'fisher' });
    const g = p.gradient(theta);
    const e = errorOf(() => cg(F, g, { damping: 1e-3, preconditioner: diag }));
    assert.instance(e, RangeError);
    assert.ok(e.message.startsWith(`natgrad: cg: preconditioner[${zero}] is 0:`), e.message);
    assert.match(e.message, /damping and the prior's curvature added \(diag \+ λ \+ s\/σp²/);
    assert.match(e.message, /dampedDiagonal\(diag, λ \+ p\.priorCurvature\(\)\)/);
    // a negative entry and a non-finite one are named as such
    const neg = Float64Array.from(diag, (v) => v + 1);
    neg[5] = -0.25;
    assert.ok(errorOf(() => cg(F, g, { preconditioner: neg })).message.startsWith('natgrad: cg: preconditioner[5] is -0.25: a diagonal preconditioner must be positive'));
    neg[5] = Number.NaN;
    assert.match(errorOf(() => cg(F, g, { preconditioner: neg })).message, /^natgrad: cg: preconditioner\[5\] is NaN: a diagonal preconditioner must be finite and positive$/);
  } finally {
    p.free();
  }
});

test('dampedDiagonal(diag, λ + s/σp²) preconditions cg on (F + (λ + s/σp²) I): the true residual meets tol', () => {
  const { p, theta } = setup(10);
  try {
    const diag = p.fisher(theta, { structure: 'diagonal' });
    const shift = 1e-3 + p.priorCurvature();
    assert.is(p.priorCurvature(), 1 / ROWS / 10); // s/σp², s = 1/N
    const P = dampedDiagonal(diag, shift);
    assert.is(P.length, diag.length);
    assert.not.ok(P === diag, 'a new array');
    for (let i = 0; i < P.length; i++) assert.is(P[i], diag[i]! + shift);
    const F = curvatureOperator(p, theta, { kind: 'fisher' });
    const g = p.gradient(theta);
    const tol = 1e-8;
    const pre = cg(F, g, { damping: shift, preconditioner: P, tol });
    assert.ok(pre.converged, `converged (${pre.iterations} iterations, residual ${pre.residual})`);
    // ‖(F + shift·I) x − g‖ / ‖g‖ with a fresh product: the recurrence residual may drift below the
    // true one by about eps·κ (κ ≤ max(P)/shift here), far below tol.
    const Fx = F.matvec(pre.x);
    let r2 = 0,
      g2 = 0;
    for (let i = 0; i < g.length; i++) {
      r2 += (Fx[i]! + shift * pre.x[i]! - g[i]!) ** 2;
      g2 += g[i]! ** 2;
    }
    assert.ok(Math.sqrt(r2 / g2) <= 10 * tol, `true relative residual ${Math.sqrt(r2 / g2)}`);
    // the same solution as the unpreconditioned solve
    const plain = cg(F, g, { damping: shift, tol, maxIterations: 2000 });
    assert.ok(plain.converged);
    let dx = 0,
      xn = 0;
    for (let i = 0; i < g.length; i++) {
      dx += (pre.x[i]! - plain.x[i]!) ** 2;
      xn += plain.x[i]! ** 2;
    }
    // Each solve's error is ≤ κ·(relative residual) with κ = (λmax + shift)/shift, and each true
    // residual is ≤ 10·tol (checked above for the preconditioned one).
    const kappa = (topEigenvalues(F, { k: 1 }).values[0]! + shift) / shift;
    assert.ok(Math.sqrt(dx / xn) <= kappa * 20 * tol, `‖Δx‖/‖x‖ = ${Math.sqrt(dx / xn)}, κ = ${kappa}`);
  } finally {
    p.free();
  }
});

test('dampedDiagonal: checks its input, names the entry that stays non-positive', () => {
  assert.equal(Array.from(dampedDiagonal([0, 2, 0.5], 0.25)), [0.25, 2.25, 0.75]);
  assert.equal(Array.from(dampedDiagonal(Float64Array.of(-0.5, 1), 1)), [0.5, 2]);
  const zero = errorOf(() => dampedDiagonal(Float64Array.of(1, 0, 2), 0));
  assert.instance(zero, RangeError);
  assert.match(zero.message, /^natgrad: dampedDiagonal: diag\[1\] \+ damping = 0 \+ 0 = 0 is not positive: pass a damping > 0/);
  const neg = errorOf(() => dampedDiagonal(Float64Array.of(1, -2), 1));
  assert.match(neg.message, /diag\[1\] \+ damping = -2 \+ 1 = -1 is not positive: the entry is negative, the damping must exceed 2/);
  assert.match(errorOf(() => dampedDiagonal(Float64Array.of(1, Number.POSITIVE_INFINITY), 1)).message, /diag\[1\] is not finite \(Infinity\)/);
  const badDamping = errorOf(() => dampedDiagonal([1], -1));
  assert.instance(badDamping, RangeError);
  assert.match(badDamping.message, /dampedDiagonal: damping must be ≥ 0, got -1/);
  assert.instance(
    errorOf(() => dampedDiagonal([1], Number.NaN)),
    RangeError,
  );
  assert.instance(
    errorOf(() => dampedDiagonal('1, 2' as unknown as number[], 1)),
    TypeError,
  );
  assert.instance(
    errorOf(() => dampedDiagonal([1], '1' as unknown as number)),
    TypeError,
  );
  assert.is(dampedDiagonal(new Float64Array(0), 1).length, 0);
});

test.run();
