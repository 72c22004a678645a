// Public API: SymMatrix.eigenvalues / SymMatrix.eigen (kernel dsyevLower) and cosine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SymMatrix, Core, DisposedError, cosine, gram, core as defaultCore } from '../../bindings/index.js';
import { EPS, randomMatrix } from '../helpers.js';
import { jacobiEigen, norm2 } from '../reference/eig.js';

function randomSymmetric(n: number, seed: number): Float64Array {
  const G = randomMatrix(n, n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = 0.5 * (G[i * n + j]! + G[j * n + i]!);
  return A;
}

test('eigen() of [[2, 1], [1, 2]]: values [1, 3], unit eigenvectors in the columns', () => {
  const S = SymMatrix.from([
    [2, 1],
    [1, 2],
  ]);
  const { values, vectors } = S.eigen();
  assert.ok(values instanceof Float64Array);
  assert.ok(Math.abs(values[0]! - 1) < 4 * EPS && Math.abs(values[1]! - 3) < 8 * EPS);
  assert.is(vectors.rows, 2);
  assert.is(vectors.cols, 2);
  const V = vectors.data;
  // column 0 ∝ [1, −1], column 1 ∝ [1, 1]
  assert.ok(Math.abs(Math.abs(V[0]!) - Math.SQRT1_2) < 4 * EPS && Math.abs(V[0]! + V[2]!) < 4 * EPS);
  assert.ok(Math.abs(Math.abs(V[1]!) - Math.SQRT1_2) < 4 * EPS && Math.abs(V[1]! - V[3]!) < 4 * EPS);
  assert.equal(Array.from(S.eigenvalues()), Array.from(values));
  S.free();
});

test('eigen() and eigenvalues() on random matrices: Jacobi agreement, A V = V Λ, VᵀV = I; A unchanged', () => {
  for (const n of [0, 1, 3, 8, 31, 64]) {
    const A = randomSymmetric(n, 40 + n);
    const S = SymMatrix.from({ data: A, rows: n, cols: n });
    const before = S.toDense();
    const values = S.eigenvalues();
    const eig = S.eigen();
    assert.equal(Array.from(S.toDense()), Array.from(before), `A modified, n=${n}`);
    assert.equal(Array.from(eig.values), Array.from(values), `eigenvalues() ≠ eigen().values, n=${n}`);
    assert.is(values.length, n);
    assert.is(eig.vectors.data.length, n * n);
    const ref = jacobiEigen(A, n);
    const nA = norm2(A);
    const tol = 4 * Math.max(n, 1) * EPS * nA;
    for (let k = 0; k < n; k++) {
      assert.ok(Math.abs(values[k]! - ref.values[k]!) <= tol, `n=${n} λ_${k}`);
      // ‖A v_k − λ_k v_k‖ and ‖v_k‖ = 1, via matvec on the resident matrix
      const v = Float64Array.from({ length: n }, (_, i) => eig.vectors.data[i * n + k]!);
      const Av = S.matvec(v);
      const r = Av.map((x, i) => x - values[k]! * v[i]!);
      assert.ok(norm2(r) <= tol, `n=${n} residual ${k}: ${norm2(r)}`);
      assert.ok(Math.abs(norm2(v) - 1) <= 4 * Math.max(n, 1) * EPS, `n=${n} ‖v_${k}‖`);
    }
    S.free();
  }
});

test('eigenvalues() of a rank-deficient Gram (PSD) matrix: n − r eigenvalues at O(n·eps·‖A‖), r positive', () => {
  const N = 7,
    d = 20; // gram of N × d data: d × d, rank 7
  const C = gram({ data: randomMatrix(N, d, 5), rows: N, cols: d });
  const w = C.eigenvalues();
  const tol = 4 * d * EPS * C.frobenius();
  for (let k = 0; k < d - N; k++) assert.ok(Math.abs(w[k]!) <= tol, `λ_${k} = ${w[k]}`);
  for (let k = d - N; k < d; k++) assert.ok(w[k]! > 1e-3, `λ_${k} = ${w[k]}`);
  let tr = 0;
  for (const x of w) tr += x;
  assert.ok(Math.abs(tr - C.trace()) <= tol);
  C.free();
});

test('eigen() throws RangeError on non-finite entries, DisposedError after free()', () => {
  const core = defaultCore();
  const n = 3;
  const ptr = core.allocCopy([1, 2, 3, 2, Infinity, 4, 3, 4, 5]);
  const S = new SymMatrix(core, n, ptr);
  assert.throws(
    () => S.eigenvalues(),
    (e: unknown) => e instanceof RangeError && /A\[1\]\[1\] is not finite/.test((e as Error).message),
  );
  assert.throws(
    () => S.eigen(),
    (e: unknown) => e instanceof RangeError,
  );
  S.free();
  const T = SymMatrix.from([[1]]);
  T.free();
  assert.throws(
    () => T.eigen(),
    (e: unknown) => e instanceof DisposedError,
  );
  assert.throws(
    () => T.eigenvalues(),
    (e: unknown) => e instanceof DisposedError,
  );
});

test('eigen() turns a non-convergence status into an Error naming the eigenvalue', () => {
  const real = defaultCore();
  // A core whose kernel reports that eigenvalue 2 did not converge (LAPACK INFO = 2).
  const fake = new Core(real.variant, { ...real.exports, dsyevLower: () => 2 });
  const ptr = real.allocCopy([1, 2, 2, 1]);
  const S = new SymMatrix(fake, 2, ptr);
  const before = real.memoryBytes;
  for (const f of [() => S.eigen(), () => S.eigenvalues()]) {
    assert.throws(f, (e: unknown) => e instanceof Error && /did not converge/.test((e as Error).message) && /eigenvalue 2/.test((e as Error).message));
  }
  assert.is(real.memoryBytes, before);
  S.free();
});

test('repeated eigen() does not grow WebAssembly memory', () => {
  const n = 64;
  const S = SymMatrix.from({ data: randomSymmetric(n, 9), rows: n, cols: n });
  const core = S.core;
  S.eigen();
  S.eigenvalues();
  const bytes = core.memoryBytes;
  for (let i = 0; i < 50; i++) {
    S.eigen();
    S.eigenvalues();
  }
  assert.is(core.memoryBytes, bytes);
  S.free();
});

test('cosine: known values, scale invariance, extreme magnitudes, clamping', () => {
  assert.ok(Math.abs(cosine([1, 0], [1, 1]) - Math.SQRT1_2) <= EPS);
  assert.is(cosine([1, 2], [-2, -4]), -1);
  assert.is(cosine([1, 0, 0], [0, 5, 0]), 0);
  assert.is(cosine(new Float64Array([3, 4]), [3, 4]), 1);
  const u = randomMatrix(1, 101, 1),
    v = randomMatrix(1, 101, 2);
  let uv = 0,
    uu = 0,
    vv = 0;
  for (let i = 0; i < 101; i++) {
    uv += u[i]! * v[i]!;
    uu += u[i]! ** 2;
    vv += v[i]! ** 2;
  }
  const c = cosine(u, v);
  assert.ok(Math.abs(c - uv / Math.sqrt(uu * vv)) <= 8 * 101 * EPS);
  // 1e±200: squares would over/underflow without the rescaling.
  for (const s of [1e-300, 1e-200, 1e200, 1e300]) {
    assert.ok(
      Math.abs(
        cosine(
          u.map((x) => x * s),
          v,
        ) - c,
      ) <=
        8 * 101 * EPS,
      `scale ${s}`,
    );
  }
  assert.ok(
    Math.abs(
      cosine(
        u.map((x) => x * 1e200),
        v.map((x) => x * 1e-200),
      ) - c,
    ) <=
      8 * 101 * EPS,
  );
  // Never outside [−1, 1], so Math.acos is always defined.
  for (let s = 0; s < 200; s++) {
    const x = randomMatrix(1, 7, 1000 + s);
    const y = x.map((t) => t * (1 + s));
    const cp = cosine(x, y),
      cm = cosine(
        x,
        y.map((t) => -t),
      );
    assert.ok(cp <= 1 && cp > 1 - 4 * EPS && !Number.isNaN(Math.acos(cp)));
    assert.ok(cm >= -1 && cm < -1 + 4 * EPS && !Number.isNaN(Math.acos(cm)));
  }
});

test('cosine: NaN for a zero vector, RangeError on length mismatch or non-finite input, TypeError on non-arrays', () => {
  assert.ok(Number.isNaN(cosine([0, 0], [1, 2])));
  assert.ok(Number.isNaN(cosine([1, 2], new Float64Array(2))));
  assert.ok(Number.isNaN(cosine([], [])));
  assert.throws(
    () => cosine([1, 2], [1, 2, 3]),
    (e: unknown) => e instanceof RangeError && /same length/.test((e as Error).message),
  );
  assert.throws(
    () => cosine([1, NaN], [1, 2]),
    (e: unknown) => e instanceof RangeError && /u\[1\]/.test((e as Error).message),
  );
  assert.throws(
    () => cosine([1, 2], [Infinity, 2]),
    (e: unknown) => e instanceof RangeError && /v\[0\]/.test((e as Error).message),
  );
  assert.throws(
    () => cosine([1, 2], [1, -Infinity]),
    (e: unknown) => e instanceof RangeError,
  );
  assert.throws(
    () => cosine('12' as unknown as number[], [1, 2]),
    (e: unknown) => e instanceof TypeError,
  );
  assert.throws(
    () => cosine(null as unknown as number[], [1, 2]),
    (e: unknown) => e instanceof TypeError,
  );
});

test.run();
