// Matrix-free solvers (bindings/solvers/*) across the float64 range: cg, lanczos, topEigenvalues,
// spectralDensity, traceEstimate and diagonalEstimate on operators and right-hand sides scaled by
// 1e±160 … 1e±200 agree with the unscaled runs (scaled back), and are exactly equivariant under
// powers of two; count options are required or defaulted and never let NaN through; unknown
// options are refused with the function's name and the nearest valid key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EPS, randomMatrix } from '../helpers.js';
import { UnknownOptionError } from '../../bindings/core/options.js';
import { checkCount, type LinearOperator } from '../../bindings/operators/operator.js';
import { cg, lanczos, topEigenvalues, spectralDensity, traceEstimate, diagonalEstimate, kfacInverse } from '../../bindings/solvers/index.js';

/** c·A as an operator on the dense row-major D × D matrix A (c·A formed once, so its entries really are at c's scale). */
function denseOp(A: Float64Array, D: number, c = 1): LinearOperator {
  const M = A.map((a) => a * c);
  return {
    dim: D,
    matvec: (v) => {
      const o = new Float64Array(D);
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += M[i * D + j]! * v[j]!;
        o[i] = s;
      }
      return o;
    },
  };
}

/** c·diag(1, 2, …, D). */
function diagOp(D: number, c: number): LinearOperator {
  return { dim: D, matvec: (v) => v.map((x, i) => x * ((i + 1) * c)) };
}

/** B Bᵀ / D + I/cond: symmetric positive definite, condition number ≲ cond·‖BBᵀ/D‖. */
function spd(D: number, seed: number, cond = 100): Float64Array {
  const B = randomMatrix(D, D, seed),
    A = new Float64Array(D * D);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += B[i * D + k]! * B[j * D + k]!;
      A[i * D + j] = s / D;
    }
  for (let i = 0; i < D; i++) A[i * D + i]! += 1 / cond;
  return A;
}

/** max_i |a_i − b_i| / max_i |b_i|, computed without squaring (safe at 1e±200). */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths');
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

const scaled = (v: ArrayLike<number>, c: number): Float64Array => Float64Array.from(v, (x) => x / c);

test('cg: the identity with b = [1e160, 1e160] and [1e-170, 1e-170] (‖b‖² over/underflows) gives x = b', () => {
  const I: LinearOperator = { dim: 2, matvec: (v) => v.slice() };
  for (const s of [1e160, 1e-170, 1e300, 5e-324]) {
    const b = Float64Array.of(s, s);
    const r = cg(I, b);
    assert.ok(r.converged, `converged at ${s}`);
    assert.is(r.iterations, 1, `one iteration at ${s}`);
    assert.ok(r.residual <= 1e-10, `residual ${r.residual} at ${s}`);
    // One CG step on the identity: x = (rᵀr / rᵀr)·b, exact up to the division's rounding.
    assert.ok(maxRel(r.x, b) <= 2 * EPS, `x = ${Array.from(r.x)} at ${s}`);
    assert.ok(maxRel(r.product, b) <= 2 * EPS, `product at ${s}`);
  }
});

test('cg: a 5 × 5 SPD system scaled by 1e±200 (operator) and 1e±160/170 (right-hand side) solves to the unscaled x', () => {
  const D = 5,
    A = spd(D, 21, 100),
    b = randomMatrix(D, 1, 22);
  const ref = cg(denseOp(A, D), b, { tol: 1e-13 });
  assert.ok(ref.converged);
  // The scaled systems differ from the reference by rounding of A and b (relative eps), which
  // moves x by about κ·eps (κ ≤ ~1e3 here); 1e-10 leaves a wide margin and fails at any real error.
  const cases: [number, number][] = [
    [1, 1e160],
    [1, 1e-170],
    [1e200, 1],
    [1e-200, 1],
    [1e200, 1e160],
    [1e-200, 1e-170],
    [1e-200, 1e-160],
    [1e200, 1e170],
  ];
  for (const [cA, cb] of cases) {
    const f = cb / cA; // x scales by cb / cA
    const r = cg(denseOp(A, D, cA), scaled(b, 1 / cb), { tol: 1e-13 });
    const tag = `A·${cA}, b·${cb}`;
    assert.ok(r.converged, `${tag}: converged (${r.iterations} iterations, residual ${r.residual})`);
    assert.ok(r.residual <= 1e-13, `${tag}: residual ${r.residual}`);
    assert.ok(maxRel(scaled(r.x, f), ref.x) <= 1e-10, `${tag}: x/f vs unscaled ${maxRel(scaled(r.x, f), ref.x)}`);
    assert.ok(maxRel(scaled(r.product, cb), b) <= 1e-10, `${tag}: product`);
    // Damping scales with A: (cA·A + cA·λ I) x = b.
    const refD = cg(denseOp(A, D), b, { tol: 1e-13, damping: 0.01 });
    const rd = cg(denseOp(A, D, cA), scaled(b, 1 / cb), { tol: 1e-13, damping: 0.01 * cA });
    assert.ok(rd.converged && maxRel(scaled(rd.x, f), refD.x) <= 1e-10, `${tag}: damped ${maxRel(scaled(rd.x, f), refD.x)}`);
  }
});

test('cg: preconditioners (matched and mismatched in scale) and x0 at 1e200 / 1e160', () => {
  const D = 5,
    A = spd(D, 31, 1000),
    b = randomMatrix(D, 1, 32);
  const ref = cg(denseOp(A, D), b, { tol: 1e-13 });
  const cA = 1e200,
    cb = 1e160,
    f = cb / cA;
  const op = denseOp(A, D, cA),
    bs = scaled(b, 1 / cb);
  const diag = Float64Array.from({ length: D }, (_, i) => A[i * D + i]! * cA);
  for (const [name, preconditioner] of [
    ['diagonal at the operator scale', diag],
    ['diagonal of ones (1e200 off the operator scale)', new Float64Array(D).fill(1)],
    ['diagonal at 1e-300', new Float64Array(D).fill(1e-300)],
    ['operator { dim, apply }', { dim: D, apply: (r: Float64Array) => r.map((x, i) => x / diag[i]!) }],
  ] as const) {
    const r = cg(op, bs, { tol: 1e-13, preconditioner });
    assert.ok(r.converged, `${name}: converged`);
    assert.ok(maxRel(scaled(r.x, f), ref.x) <= 1e-10, `${name}: ${maxRel(scaled(r.x, f), ref.x)}`);
  }
  // x0 = half the solution: the initial residual is b/2, and CG finishes the solve.
  const x0 = ref.x.map((x) => 0.5 * x * f);
  const r0 = cg(op, bs, { tol: 1e-13, x0 });
  assert.ok(r0.converged && maxRel(scaled(r0.x, f), ref.x) <= 1e-10, `x0: ${maxRel(scaled(r0.x, f), ref.x)}`);
  // maxIterations: 0 returns x0 and the product (A x0 = b/2).
  const z = cg(op, bs, { maxIterations: 0, x0 });
  assert.is(z.reason, 'maxIterations');
  assert.equal(Array.from(z.x), Array.from(x0));
  assert.ok(
    maxRel(
      scaled(z.product, cb),
      b.map((v) => v / 2),
    ) <= 1e-10,
  );
  assert.ok(Math.abs(z.residual - 0.5) <= 1e-10, `residual of x0 = ${z.residual}`);
});

test('cg, topEigenvalues, lanczos, traceEstimate, diagonalEstimate: scaling by 2^k is exact (bit for bit)', () => {
  const D = 8,
    A = spd(D, 41, 100),
    b = randomMatrix(D, 1, 42);
  const a = 2 ** 600,
    c = 2 ** 500;
  const r1 = cg(denseOp(A, D), b, { tol: 1e-12 });
  const r2 = cg(
    denseOp(A, D, a),
    b.map((v) => v * c),
    { tol: 1e-12 },
  );
  assert.is(r2.iterations, r1.iterations);
  assert.is(r2.residual, r1.residual);
  assert.equal(
    Array.from(r2.x),
    Array.from(r1.x, (x) => (x * c) / a),
  );
  for (const s of [2 ** -700, 2 ** 700]) {
    const e1 = topEigenvalues(denseOp(A, D), { k: 2, which: 'both', seed: 3 });
    const e2 = topEigenvalues(denseOp(A, D, s), { k: 2, which: 'both', seed: 3 });
    assert.equal(
      Array.from(e2.values),
      Array.from(e1.values, (x) => x * s),
    );
    assert.equal(
      Array.from(e2.residuals),
      Array.from(e1.residuals, (x) => x * s),
    );
    const l1 = lanczos(denseOp(A, D), { steps: 5, seed: 1 }),
      l2 = lanczos(denseOp(A, D, s), { steps: 5, seed: 1 });
    assert.equal(
      Array.from(l2.alpha),
      Array.from(l1.alpha, (x) => x * s),
    );
    assert.equal(
      Array.from(l2.beta),
      Array.from(l1.beta, (x) => x * s),
    );
    for (const method of ['hutchinson', 'hutch++'] as const) {
      const t1 = traceEstimate(denseOp(A, D), { method, seed: 5 }),
        t2 = traceEstimate(denseOp(A, D, s), { method, seed: 5 });
      assert.is(t2.estimate, t1.estimate * s, method);
      assert.is(t2.standardError, t1.standardError * s, method);
    }
    const d1 = diagonalEstimate(denseOp(A, D), { seed: 6, probes: 7 }),
      d2 = diagonalEstimate(denseOp(A, D, s), { seed: 6, probes: 7 });
    assert.equal(
      Array.from(d2.estimate),
      Array.from(d1.estimate, (x) => x * s),
    );
    assert.equal(
      Array.from(d2.standardError),
      Array.from(d1.standardError, (x) => x * s),
    );
  }
});

test('cg: a non-finite operator output and a solution out of range are named as such', () => {
  const huge: LinearOperator = { dim: 2, matvec: (v) => v.map((x) => x * 1e308 * 8) };
  assert.throws(
    () => cg(huge, Float64Array.of(1, 1)),
    (e: Error) => e instanceof RangeError && /cg: operator\.matvec returned a non-finite entry/.test(e.message),
  );
  assert.throws(
    () => topEigenvalues(huge),
    (e: Error) => e instanceof RangeError && /topEigenvalues: operator\.matvec returned a non-finite entry/.test(e.message),
  );
  assert.throws(
    () => traceEstimate(huge),
    (e: Error) => /traceEstimate: operator\.matvec returned a non-finite entry/.test(e.message),
  );
  // x = 1e160 / 1e-200 = 1e360 is not a float64: an error saying so, not ±Infinity or x = 0.
  const tiny: LinearOperator = { dim: 2, matvec: (v) => v.map((x) => x * 1e-200) };
  assert.throws(
    () => cg(tiny, Float64Array.of(1e160, 1e160)),
    (e: Error) => e instanceof RangeError && /the solution overflows float64/.test(e.message),
  );
  // A preconditioner that returns NaN is named, not reported as non-convergence.
  assert.throws(
    () => cg({ dim: 2, matvec: (v) => v.slice() }, Float64Array.of(1, 2), { preconditioner: { dim: 2, apply: (r) => r.map(() => NaN) } }),
    (e: Error) => e instanceof RangeError && /preconditioner returned a non-finite entry/.test(e.message),
  );
});

test('topEigenvalues: diag(1..10)·1e∓200 gives 1e∓200·[10, 9, 8] (converged, residuals on the same scale)', () => {
  const ref = topEigenvalues(diagOp(10, 1), { k: 3 });
  for (const c of [1e-200, 1e200, 1e-300, 1e300]) {
    const r = topEigenvalues(diagOp(10, c), { k: 3 });
    assert.ok(r.converged, `converged at ${c}`);
    assert.ok(maxRel(scaled(r.values, c), [10, 9, 8]) <= 1e-10, `${c}: ${Array.from(r.values)}`);
    assert.ok(maxRel(scaled(r.largest, c), [10, 9, 8]) <= 1e-10);
    for (const x of r.residuals) assert.ok(x / c <= 1e-10 * 10, `residual ${x} at ${c}`);
    assert.is(r.iterations, ref.iterations);
    const both = topEigenvalues(diagOp(10, c), { k: 2, which: 'both' });
    assert.ok(both.converged && maxRel(scaled(both.values, c), [1, 2, 9, 10]) <= 1e-10, `both at ${c}: ${Array.from(both.values)}`);
  }
});

test('lanczos and spectralDensity: α, β, nodes, σ, grid, density and trace scale with the operator', () => {
  const D = 12,
    A = spd(D, 51, 50);
  const l1 = lanczos(denseOp(A, D), { steps: 8, seed: 1 });
  const s1 = spectralDensity(denseOp(A, D), { probes: 3, steps: D, seed: 2, gridSize: 64 });
  for (const c of [1e-200, 1e200]) {
    const l2 = lanczos(denseOp(A, D, c), { steps: 8, seed: 1 });
    assert.is(l2.steps, 8);
    // Lanczos with full reorthogonalization is stable: rounding of c·A (relative eps) moves α, β by ~D·eps·‖A‖.
    assert.ok(maxRel(scaled(l2.alpha, c), l1.alpha) <= 1e-10, `alpha at ${c}`);
    assert.ok(maxRel(scaled(l2.beta, c), l1.beta) <= 1e-10, `beta at ${c}`);
    const s2 = spectralDensity(denseOp(A, D, c), { probes: 3, steps: D, seed: 2, gridSize: 64 });
    for (let p = 0; p < 3; p++) {
      assert.ok(maxRel(scaled(s2.nodes[p]!, c), s1.nodes[p]!) <= 1e-10, `nodes ${p} at ${c}`);
      assert.ok(maxRel(s2.weights[p]!, s1.weights[p]!) <= 1e-8, `weights ${p} at ${c}`);
    }
    assert.ok(Math.abs(s2.sigma / c - s1.sigma) <= 1e-10 * s1.sigma, `sigma at ${c}`);
    assert.ok(Math.abs(s2.trace / c - s1.trace) <= 1e-10 * Math.abs(s1.trace), `trace at ${c}`);
    assert.ok(maxRel(scaled(s2.grid, c), s1.grid) <= 1e-10, `grid at ${c}`);
    // A density in 1/eigenvalue units: φ_c(c t) = φ(t) / c. exp(−u²/2) with u up to ~100 amplifies
    // the nodes' relative error by u², hence 1e-8 of the peak.
    assert.ok(
      maxRel(
        s2.density.map((x) => x * c),
        s1.density,
      ) <= 1e-8,
      `density at ${c}: ${maxRel(
        s2.density.map((x) => x * c),
        s1.density,
      )}`,
    );
  }
});

test('traceEstimate and diagonalEstimate: at 1e∓200 they equal the unscaled estimates (same seed) scaled back', () => {
  const D = 12,
    A = spd(D, 61, 20);
  for (const c of [1e-200, 1e200]) {
    // Identity-ish diagonal: Hutchinson is exact on a diagonal, so it must return c·55.
    const h = traceEstimate(diagOp(10, c), { probes: 5, seed: 3 });
    assert.ok(Math.abs(h.estimate / c - 55) <= 1e-12 * 55, `diag trace at ${c}: ${h.estimate}`);
    for (const method of ['hutchinson', 'hutch++'] as const) {
      const t1 = traceEstimate(denseOp(A, D), { method, probes: 30, seed: 4 });
      const t2 = traceEstimate(denseOp(A, D, c), { method, probes: 30, seed: 4 });
      assert.is(t2.products, t1.products);
      // Sums of positive D²-term products: the rounding of c·A moves them by ~D·eps relative.
      assert.ok(Math.abs(t2.estimate / c - t1.estimate) <= 1e-12 * Math.abs(t1.estimate), `${method} at ${c}: ${t2.estimate / c} vs ${t1.estimate}`);
      assert.ok(t1.standardError > 0 && Math.abs(t2.standardError / c - t1.standardError) <= 1e-10 * t1.standardError, `${method} se at ${c}: ${t2.standardError / c} vs ${t1.standardError}`);
    }
    const d1 = diagonalEstimate(denseOp(A, D), { probes: 20, seed: 5 });
    const d2 = diagonalEstimate(denseOp(A, D, c), { probes: 20, seed: 5 });
    assert.ok(maxRel(scaled(d2.estimate, c), d1.estimate) <= 1e-12, `diagonal at ${c}`);
    assert.ok(maxRel(scaled(d2.standardError, c), d1.standardError) <= 1e-10, `diagonal se at ${c}`);
    const dd = diagonalEstimate(diagOp(10, c), { probes: 2, seed: 1 });
    assert.ok(maxRel(scaled(dd.estimate, c), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) <= 2 * EPS, `diag at ${c}`);
    for (const x of dd.standardError) assert.is(x, 0);
  }
});

test('counts: lanczos steps is required; NaN, ±Infinity, fractions and strings never pass; documented defaults hold', () => {
  const op = diagOp(6, 1);
  for (const bad of [{}, undefined])
    assert.throws(
      () => lanczos(op, bad as never),
      (e: Error) => e instanceof TypeError && /lanczos: steps is required/.test(e.message),
    );
  for (const steps of [NaN, Infinity, -Infinity, 2.5, 0, -1, 7])
    assert.throws(
      () => lanczos(op, { steps }),
      (e: Error) => e instanceof RangeError && /steps/.test(e.message),
      `steps = ${steps}`,
    );
  assert.throws(() => lanczos(op, { steps: '3' as never }), TypeError);
  const cases: [string, () => unknown][] = [
    ['topEigenvalues k', () => topEigenvalues(op, { k: NaN })],
    ['topEigenvalues maxIterations', () => topEigenvalues(op, { maxIterations: NaN })],
    ['spectralDensity probes', () => spectralDensity(op, { probes: NaN })],
    ['spectralDensity steps', () => spectralDensity(op, { steps: NaN })],
    ['spectralDensity gridSize', () => spectralDensity(op, { gridSize: NaN })],
    ['spectralDensity gridSize 1', () => spectralDensity(op, { gridSize: 1 })],
    ['traceEstimate probes', () => traceEstimate(op, { probes: NaN })],
    ['traceEstimate probes Infinity', () => traceEstimate(op, { probes: Infinity })],
    ['diagonalEstimate probes', () => diagonalEstimate(op, { probes: NaN })],
    ['cg maxIterations', () => cg(op, new Float64Array(6).fill(1), { maxIterations: NaN })],
    ['cg maxIterations -1', () => cg(op, new Float64Array(6).fill(1), { maxIterations: -1 })],
  ];
  for (const [name, f] of cases) {
    const word = name.split(' ')[1]!;
    assert.throws(f, (e: Error) => e instanceof RangeError && e.message.includes(word), name);
  }
  // Defaults: k = 1, probes = 30, steps = min(D, 80), maxIterations = min(D, 1000) (0 allowed).
  assert.is(topEigenvalues(op).values.length, 1);
  assert.is(traceEstimate(op).products, 30);
  assert.is(diagonalEstimate(op).products, 30);
  const sd = spectralDensity(diagOp(90, 1), { probes: 1 });
  assert.is(sd.nodes[0]!.length, 80);
  assert.is(sd.grid.length, 256);
  const stuck = cg(denseOp(spd(40, 7, 1e10), 40), randomMatrix(40, 1, 8), { tol: 1e-300 });
  assert.is(stuck.converged, false);
  assert.ok(stuck.reason === 'maxIterations' ? stuck.iterations === 40 : stuck.iterations <= 40, `${stuck.reason} after ${stuck.iterations}`);
  const none = cg(op, new Float64Array(6).fill(1), { maxIterations: 0 });
  assert.ok(none.iterations === 0 && none.reason === 'maxIterations' && none.x.every((x) => x === 0));
  // The operator.ts checkCount keeps its (value, name, default, min) signature over the shared one.
  assert.is(checkCount(undefined, 'samples', 1), 1);
  assert.is(checkCount(4, 'samples', 1), 4);
  assert.throws(() => checkCount(NaN, 'samples', 1), RangeError);
  assert.throws(() => checkCount(0, 'samples', 1), RangeError);
  assert.is(checkCount(0, 'samples', 1, 0), 0);
  assert.throws(() => checkCount(undefined, 'samples'), /samples is required/);
});

test('unknown options: every solver refuses them, naming the key, the function and the nearest valid key', () => {
  const op = diagOp(4, 1),
    b = Float64Array.of(1, 2, 3, 4);
  const refuse = (f: () => unknown, option: string, where: string, hint?: string): void => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof UnknownOptionError, `${where}: '${option}' threw ${String(err)}`);
    const u = err as UnknownOptionError;
    assert.is(u.option, option);
    assert.is(u.where, where);
    assert.ok(u.message.includes(`'${option}'`) && u.message.includes(where), u.message);
    if (hint) assert.ok(u.message.includes(`'${hint}'`), `${u.message} should suggest '${hint}'`);
  };
  refuse(() => cg(op, b, { tolerance: 1e-8 } as never), 'tolerance', 'cg', 'tol');
  refuse(() => cg(op, b, { maxIteration: 3 } as never), 'maxIteration', 'cg', 'maxIterations');
  refuse(() => cg(op, b, { dampnig: 1 } as never), 'dampnig', 'cg', 'damping');
  refuse(() => cg(op, b, { preconditioner: { factors: [], groups: [], damping: 0, dampign: 1 } as never }), 'dampign', 'cg: preconditioner', 'damping');
  refuse(() => lanczos(op, { steps: 2, maxIterations: 3 } as never), 'maxIterations', 'lanczos', 'steps');
  refuse(() => lanczos(op, { steps: 2, keepbasis: true } as never), 'keepbasis', 'lanczos', 'keepBasis');
  refuse(() => topEigenvalues(op, { tolerance: 1e-8 } as never), 'tolerance', 'topEigenvalues', 'tol');
  refuse(() => topEigenvalues(op, { steps: 3 } as never), 'steps', 'topEigenvalues', 'maxIterations');
  refuse(() => spectralDensity(op, { probe: 3 } as never), 'probe', 'spectralDensity', 'probes');
  refuse(() => spectralDensity(op, { maxIterations: 3 } as never), 'maxIterations', 'spectralDensity', 'steps');
  refuse(() => traceEstimate(op, { samples: 3 } as never), 'samples', 'traceEstimate', 'probes');
  refuse(() => traceEstimate(op, { methd: 'hutch++' } as never), 'methd', 'traceEstimate', 'method');
  refuse(() => diagonalEstimate(op, { method: 'hutch++' } as never), 'method', 'diagonalEstimate');
  refuse(() => diagonalEstimate(op, { sed: 1 } as never), 'sed', 'diagonalEstimate', 'seed');
  refuse(() => kfacInverse([], [], { damping: 0.1, lambda: 0.1 } as never), 'lambda', 'kfacInverse', 'damping');
  assert.throws(
    () => kfacInverse([], [], {} as never),
    (e: Error) => e instanceof TypeError && /kfacInverse: damping is required/.test(e.message),
  );
  assert.throws(
    () => cg(op, b, 1e-8 as never),
    (e: Error) => e instanceof TypeError && /cg: options must be an object/.test(e.message),
  );
  // The documented keys still work together.
  const ac = new AbortController();
  const seen: number[] = [];
  const r = cg(op, b, {
    damping: 0,
    tol: 1e-12,
    maxIterations: 10,
    preconditioner: Float64Array.of(1, 2, 3, 4),
    x0: new Float64Array(4),
    signal: ac.signal,
    onProgress: (p) => seen.push(p.iteration),
  });
  assert.ok(r.converged && seen.length === r.iterations && maxRel(r.x, [1, 1, 1, 1]) <= 1e-12);
});

test.run();
