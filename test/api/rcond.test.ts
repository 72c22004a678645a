// CholeskyFactor.rcond() (LAPACK dpocon-style 1-norm estimate) and the minRcond option of the
// solves, against explicit inverses of random SPD matrices of known conditioning.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SymMatrix } from '../../bindings/linalg/symmatrix.js';
import { IllConditionedError, NotPositiveDefiniteError } from '../../bindings/core/errors.js';
import { normals } from '../helpers.js';

/** Row-major n × n orthogonal Q: modified Gram–Schmidt, twice, on the columns of a normal matrix. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = normals(seed);
  const q = Float64Array.from({ length: n * n }, g);
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += q[i * n + j]! * q[i * n + k]!;
        for (let i = 0; i < n; i++) q[i * n + j]! -= d * q[i * n + k]!;
      }
      let s = 0;
      for (let i = 0; i < n; i++) s += q[i * n + j]! ** 2;
      s = Math.sqrt(s);
      for (let i = 0; i < n; i++) q[i * n + j]! /= s;
    }
  }
  return q;
}

/** Q diag(d) Qᵀ, exactly symmetric (lower triangle computed, then mirrored). */
function qdq(q: Float64Array, d: ArrayLike<number>, n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k]! * d[k]! * q[j * n + k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

/** max_j Σ_i |a[i][j]|. */
function norm1(a: Float64Array, n: number): number {
  let m = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(a[i * n + j]!);
    m = Math.max(m, s);
  }
  return m;
}

/** A = Q diag(d) Qᵀ with eigenvalues from 1 down to 1/κ (log-spaced), and its explicit inverse Q diag(1/d) Qᵀ. */
function spd(n: number, kappa: number, seed: number): { a: Float64Array; inv: Float64Array } {
  const q = randomOrthogonal(n, seed);
  const d = Array.from({ length: n }, (_, i) => (n === 1 ? 1 : kappa ** (-i / (n - 1))));
  return {
    a: qdq(q, d, n),
    inv: qdq(
      q,
      d.map((v) => 1 / v),
      n,
    ),
  };
}

test('[[2, 2], [2, 2]]: rcond ≈ 1e-16; minRcond 1e-12 throws IllConditionedError; no minRcond solves as before', () => {
  const A = SymMatrix.from([
    [2, 2],
    [2, 2],
  ]);
  const f = A.cholesky();
  const r = f.rcond();
  assert.ok(r > 0 && r < 1e-14, `rcond ${r}`);
  // Default behaviour unchanged: the huge solution LAPACK would return.
  const x = A.solve([1, 2]);
  assert.ok(Math.abs(x[0]!) > 1e14 && Math.abs(x[1]!) > 1e14, `x = ${x}`);
  for (const solve of [() => A.solve([1, 2], { minRcond: 1e-12 }), () => f.solve([1, 2], { minRcond: 1e-12 }), () => f.solveMany([[1], [2]], { minRcond: 1e-12 })]) {
    try {
      solve();
      assert.unreachable('no IllConditionedError');
    } catch (e) {
      assert.instance(e, IllConditionedError);
      const err = e as IllConditionedError;
      assert.is(err.name, 'IllConditionedError');
      assert.is(err.minRcond, 1e-12);
      assert.ok(Math.abs(err.rcond - r) <= 1e-3 * r, `${err.rcond} vs ${r}`);
      assert.match(err.message, /ill-conditioned/);
    }
  }
  // minRcond 0 never refuses.
  assert.is(A.solve([1, 2], { minRcond: 0 }).length, 2);
  // Damped: A + I = [[3, 2], [2, 3]], ‖·‖₁ = 5, inverse [[3, −2], [−2, 3]]/5 with ‖·‖₁ = 1.
  const g = A.cholesky({ damping: 1 });
  assert.ok(Math.abs(g.rcond() - 0.2) < 1e-14, `${g.rcond()}`);
  const y = A.solve([1, 2], { damping: 1, minRcond: 0.1 });
  assert.ok(Math.abs(3 * y[0]! + 2 * y[1]! - 1) < 1e-14 && Math.abs(2 * y[0]! + 3 * y[1]! - 2) < 1e-14);
  try {
    A.solve([1, 2], { damping: 1, minRcond: 0.3 });
    assert.unreachable('no IllConditionedError');
  } catch (e) {
    assert.instance(e, IllConditionedError);
    assert.match((e as Error).message, /A \+ 1·I/);
  }
  f.free();
  g.free();
  A.free();
});

test('rcond is exact on small cases: 1 × 1, diagonal, [[2, 1], [1, 2]]', () => {
  const one = SymMatrix.from([[5]]).cholesky();
  assert.ok(Math.abs(one.rcond() - 1) < 1e-15, `${one.rcond()}`);
  const diag = SymMatrix.from([
    [4, 0, 0],
    [0, 1e-6, 0],
    [0, 0, 2],
  ]).cholesky();
  assert.ok(Math.abs(diag.rcond() - 0.25e-6) < 1e-12 * 0.25e-6, `${diag.rcond()}`);
  const t = SymMatrix.from([
    [2, 1],
    [1, 2],
  ]).cholesky();
  assert.ok(Math.abs(t.rcond() - 1 / 3) < 1e-15, `${t.rcond()}`);
  // Repeated calls give the same value (‖A‖₁ is kept, the estimate is deterministic).
  assert.is(t.rcond(), t.rcond());
  one.free();
  diag.free();
  t.free();
});

test('rcond within a factor 3 of 1/(‖A‖₁‖A⁻¹‖₁) on random SPD matrices of condition 1e2 … 1e14', () => {
  let worst = 1,
    worstCase = '';
  let count = 0;
  for (const n of [2, 3, 5, 8, 17, 33, 64]) {
    for (let e = 2; e <= 14; e += 2) {
      for (let seed = 1; seed <= 3; seed++) {
        const kappa = 10 ** e;
        const { a, inv } = spd(n, kappa, 1000 * n + 10 * e + seed);
        const truth = 1 / (norm1(a, n) * norm1(inv, n));
        const A = SymMatrix.from({ data: a, rows: n, cols: n });
        const f = A.cholesky();
        const r = f.rcond();
        const ratio = r / truth;
        // The estimate of ‖A⁻¹‖₁ is a lower bound, so r ≥ truth up to rounding (κ·eps of A's entries).
        assert.ok(ratio >= 1 / 3 && ratio <= 3, `n = ${n}, κ = 1e${e}, seed ${seed}: rcond ${r} vs ${truth} (ratio ${ratio})`);
        const dev = Math.max(ratio, 1 / ratio);
        if (dev > worst) {
          worst = dev;
          worstCase = `n = ${n}, κ = 1e${e}`;
        }
        count++;
        f.free();
        A.free();
      }
    }
  }
  assert.ok(count === 7 * 7 * 3);
  if (process.env.NATGRAD_VERBOSE) console.log(`rcond: worst factor ${worst.toFixed(3)} (${worstCase}) over ${count} matrices`);
});

test('minRcond throws exactly when the estimate is below it; the thrown rcond is rcond()', () => {
  const n = 12;
  for (const e of [4, 8, 12]) {
    const { a } = spd(n, 10 ** e, 7 + e);
    const A = SymMatrix.from({ data: a, rows: n, cols: n });
    const f = A.cholesky();
    const r = f.rcond();
    const b = Array.from({ length: n }, (_, i) => i + 1);
    assert.is(A.solve(b, { minRcond: r * 0.5 }).length, n);
    assert.throws(
      () => A.solve(b, { minRcond: r * 2 }),
      (err: unknown) => err instanceof IllConditionedError && err.rcond === r && err.minRcond === r * 2,
    );
    // The damped matrix is better conditioned: a damping that lifts λ_min to 1e-2 passes 1e-3.
    assert.is(A.solve(b, { damping: 1e-2, minRcond: 1e-3 }).length, n);
    f.free();
    A.free();
  }
});

test('minRcond is validated; a non-PD matrix still throws NotPositiveDefiniteError first', () => {
  const A = SymMatrix.from([
    [2, 1],
    [1, 2],
  ]);
  const isRange = (err: unknown) => err instanceof RangeError;
  for (const bad of [-1, 2, NaN, Infinity]) assert.throws(() => A.solve([1, 1], { minRcond: bad }), isRange, `${bad}`);
  assert.throws(
    () => A.solve([1, 1], { minRcond: '1e-8' as unknown as number }),
    (err: unknown) => err instanceof TypeError,
  );
  const f = A.cholesky();
  assert.throws(() => f.solve([1, 1], { minRcond: -1 }), isRange);
  f.free();
  const B = SymMatrix.from([
    [1, 2],
    [2, 1],
  ]);
  assert.throws(
    () => B.solve([1, 1], { minRcond: 1e-12 }),
    (err: unknown) => err instanceof NotPositiveDefiniteError && err.pivot === 2,
  );
  A.free();
  B.free();
});

test('rcond is 0 when ‖A⁻¹‖₁ overflows the product, never NaN', () => {
  const f = SymMatrix.from([
    [1e300, 0],
    [0, 1e-300],
  ]).cholesky();
  const r = f.rcond();
  assert.ok(r >= 0 && r < 1e-300, `${r}`);
  assert.throws(
    () => f.solve([1, 1], { minRcond: 1e-300 }),
    (err: unknown) => err instanceof IllConditionedError,
  );
  f.free();
});

test.run();
