// Public linear-algebra API: gram, outerProducts, Matrix, SymMatrix, CholeskyFactor, errors, memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gram, outerProducts, Matrix, SymMatrix, NotPositiveDefiniteError, DisposedError, core as defaultCore } from '../../bindings/index.js';
import { randomMatrix, reductionTol, assertClose, relErr } from '../helpers.js';
import { gramRef, gramAbsRef, solveRef, matvecRef } from '../reference/linalg.js';

test('gram accepts number[][], {data, rows, cols}, CSR and a resident Matrix, with the same result', () => {
  const n = 37,
    d = 11;
  const X = randomMatrix(n, d, 1);
  for (let i = 0; i < X.length; i++) if (i % 3) X[i] = 0; // sparse-ish
  const rows = Array.from({ length: n }, (_, i) => Array.from(X.subarray(i * d, (i + 1) * d)));
  const indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++)
      if (X[i * d + j] !== 0) {
        indices.push(j);
        values.push(X[i * d + j]!);
      }
    indptr.push(indices.length);
  }
  const ref = gramRef(X, n, d);
  const tol = Array.from(gramAbsRef(X, n, d), (m) => reductionTol(n, m));
  const resident = Matrix.from({ data: X, rows: n, cols: d });
  for (const input of [rows, { data: X, rows: n, cols: d }, { rows: n, cols: d, indptr, indices, values }, resident]) {
    const C = gram(input);
    assert.is(C.size, d);
    assertClose(C.toDense(), ref, tol);
    C.free();
  }
  resident.free();
});

test('gram with weights; outerProducts is Σ w_n g_n g_nᵀ; SymMatrix accessors', () => {
  const n = 50,
    d = 6;
  const G = randomMatrix(n, d, 2);
  const w = Float64Array.from({ length: n }, (_, i) => 0.1 + i / n);
  const C = outerProducts({ data: G, rows: n, cols: d }, w);
  const ref = gramRef(G, n, d, w);
  assert.ok(relErr(C.toDense(), ref) < 1e-14);
  assert.is(C.get(2, 4), C.get(4, 2));
  assertClose(
    C.diagonal(),
    Array.from({ length: d }, (_, i) => ref[i * d + i]!),
    1e-12,
  );
  let tr = 0;
  for (let i = 0; i < d; i++) tr += ref[i * d + i]!;
  assert.ok(Math.abs(C.trace() - tr) < 1e-12 * tr);
  assert.ok(Math.abs(C.frobenius() - Math.hypot(...ref)) < 1e-12 * C.frobenius());
  const v = randomMatrix(1, d, 3);
  assertClose(C.matvec(v), matvecRef(ref, d, d, v), 1e-12);
  C.free();
});

test('Gram is symmetric PSD: vᵀ C v ≥ 0 and its Cholesky with a tiny damping succeeds', () => {
  const n = 200,
    d = 40;
  const C = gram({ data: randomMatrix(n, d, 4), rows: n, cols: d });
  const a = C.toDense();
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.is(a[i * d + j], a[j * d + i]);
  for (let s = 0; s < 5; s++) {
    const v = randomMatrix(1, d, 10 + s);
    const Cv = C.matvec(v);
    let q = 0;
    for (let i = 0; i < d; i++) q += v[i]! * Cv[i]!;
    assert.ok(q >= 0);
  }
  C.cholesky({ damping: 1e-12 }).free();
  C.free();
});

test('SymMatrix.solve and cholesky().solve/solveMany/logDet agree with an independent LU solve', () => {
  const d = 31;
  const X = randomMatrix(60, d, 5);
  const A = gramRef(X, 60, d);
  const S = SymMatrix.from({ data: A, rows: d, cols: d });
  const b = randomMatrix(1, d, 6);
  for (const lambda of [0, 1e-3, 10]) {
    const x = S.solve(b, { damping: lambda });
    const ref = solveRef(A, d, b, lambda);
    assert.ok(relErr(x, ref) < 1e-10, `λ=${lambda}`);
  }
  const F = S.cholesky({ damping: 0.5 });
  assert.is(F.damping, 0.5);
  const B = randomMatrix(d, 3, 7);
  const Xs = F.solveMany({ data: B, rows: d, cols: 3 });
  for (let c = 0; c < 3; c++) {
    const bc = Float64Array.from({ length: d }, (_, i) => B[i * 3 + c]!);
    const xc = Float64Array.from({ length: d }, (_, i) => Xs.data[i * 3 + c]!);
    assert.ok(relErr(xc, solveRef(A, d, bc, 0.5)) < 1e-10);
  }
  const L = F.toDense();
  let ld = 0;
  for (let i = 0; i < d; i++) ld += 2 * Math.log(L[i * d + i]!);
  assert.ok(Math.abs(F.logDet() - ld) < 1e-12 * Math.abs(ld));
  assert.ok(Math.abs(S.logDet({ damping: 0.5 }) - ld) < 1e-12 * Math.abs(ld));
  F.free();
  S.free();
});

test('a non-positive-definite matrix raises NotPositiveDefiniteError with pivot index and value', () => {
  const S = SymMatrix.from([
    [1, 2],
    [2, 1],
  ]); // eigenvalues 3, −1: pivot 2 = 1 − 4 = −3
  try {
    S.solve([1, 1]);
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, NotPositiveDefiniteError);
    assert.is((e as NotPositiveDefiniteError).pivot, 2);
    assert.is((e as NotPositiveDefiniteError).value, -3);
  }
  // Damping fixes it, and the failed attempt left S usable.
  const x = S.solve([1, 1], { damping: 2 });
  assert.ok(Math.abs(3 * x[0]! + 2 * x[1]! - 1) < 1e-14);
  S.free();
});

test('bad inputs are rejected before reaching WASM, naming the argument', () => {
  const cases: [() => unknown, abstract new (...args: never[]) => Error, RegExp][] = [
    [() => gram({ data: new Float64Array(5), rows: 2, cols: 3 }), RangeError, /X\.data has length 5/],
    [() => gram({ data: new Float64Array([1, NaN]), rows: 1, cols: 2 }), RangeError, /X\[0\]\[1\] is not finite/],
    [() => gram([[1, 2], [3]]), RangeError, /X\[1\] has 1 entries/],
    [() => gram([[1, Infinity]]), RangeError, /X\[0\]\[1\]/],
    [() => gram({ data: [1, 2] as unknown as Float64Array, rows: 1, cols: 2 }), TypeError, /X\.data must be a Float64Array/],
    [() => gram('nope' as never), TypeError, /X must be/],
    [() => gram([[1, 2]], [1, 2]), RangeError, /w must have length 1/],
    [() => gram([[1, 2]], [NaN]), RangeError, /w\[0\] is not finite/],
    [() => gram({ rows: 2, cols: 2, indptr: [0, 2, 1], indices: [0, 1], values: [1, 1] }), RangeError, /indptr is not non-decreasing/],
    [() => gram({ rows: 1, cols: 2, indptr: [0, 1], indices: [2], values: [1] }), RangeError, /out of range/],
    [() => gram({ rows: 1, cols: 3, indptr: [0, 2], indices: [1, 1], values: [1, 1] }), RangeError, /strictly increasing/],
    [() => gram({ rows: 1, cols: 3, indptr: [1, 2], indices: [1], values: [1] }), RangeError, /indptr\[0\] must be 0/],
    [() => gram({ rows: -1, cols: 3, indptr: [0], indices: [], values: [] }), TypeError, /X\.rows must be a non-negative integer/],
    [
      () =>
        SymMatrix.from([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      RangeError,
      /square/,
    ],
    [() => SymMatrix.from([[1]]).solve([1], { damping: -1 }), RangeError, /damping must be ≥ 0/],
    [() => SymMatrix.from([[1]]).solve([1], { damping: NaN }), RangeError, /damping must be finite/],
    [() => SymMatrix.from([[1]]).solve([1, 2]), RangeError, /b must have length 1/],
    [() => SymMatrix.from([[1]]).get(1, 0), RangeError, /out of range/],
  ];
  for (const [fn, type, re] of cases) {
    try {
      fn();
      assert.unreachable(`no error for ${re}`);
    } catch (e) {
      assert.instance(e, type, `${re}: ${(e as Error).message}`);
      assert.match((e as Error).message, re);
    }
  }
});

test('use after free and a second free() throw DisposedError', () => {
  const C = gram([[1, 2]]);
  C.free();
  assert.throws(
    () => C.free(),
    (e: unknown) => e instanceof DisposedError,
  );
  assert.throws(
    () => C.toDense(),
    (e: unknown) => e instanceof DisposedError,
  );
  const M = Matrix.from([[1]]);
  M.free();
  assert.throws(
    () => gram(M),
    (e: unknown) => e instanceof DisposedError,
  );
});

test('10⁵ alloc/compute/free cycles keep WASM memory bounded', () => {
  const core = defaultCore();
  const X = { data: randomMatrix(20, 8, 1), rows: 20, cols: 8 };
  const run = (k: number) => {
    for (let i = 0; i < k; i++) {
      const C = gram(X);
      const x = C.solve(new Float64Array(8).fill(1), { damping: 1 });
      C.free();
      if (!Number.isFinite(x[0]!)) throw new Error('nan');
    }
  };
  run(1000);
  const before = core.memoryBytes;
  run(100_000);
  assert.is(core.memoryBytes, before, 'memory grew');
});

test.run();
