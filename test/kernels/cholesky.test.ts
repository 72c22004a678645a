// Cholesky and triangular-solve kernels (assembly/linalg/cholesky.ts) against references and residual bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, reductionTol, EPS } from '../helpers.js';
import { choleskyRef, gramRef, matmulRef, solveRef } from '../reference/linalg.js';

const k = core.exports;

/** A well-conditioned SPD test matrix: XᵀX/n + I. */
function spd(n: number, seed: number): Float64Array {
  const m = n + 5;
  const X = randomMatrix(m, n, seed);
  const A = gramRef(X, m, n);
  for (let i = 0; i < n * n; i++) A[i]! /= m;
  for (let i = 0; i < n; i++) A[i * n + i]! += 1;
  return A;
}

function factor(A: Float64Array, n: number, lambda: number, lda = n): { info: number; L: Float64Array; pivot: number } {
  const pa = core.alloc(8 * n * lda);
  const a = core.f64(pa, n * lda);
  a.fill(NaN);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * lda + j] = A[i * n + j]!;
  const info = k.dpotrfLower(n, lambda, pa, lda);
  const raw = core.f64(pa, n * lda);
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L[i * n + j] = raw[i * lda + j]!;
  const pivot = info > 0 ? raw[(info - 1) * lda + info - 1]! : 0;
  core.free(pa);
  return { info, L, pivot };
}

const sizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 33, 64, 124];

test('dpotrfLower matches the reference and ‖L Lᵀ − (A + λI)‖ is small', () => {
  for (const n of sizes)
    for (const lambda of [0, 0.5]) {
      const A = spd(n, n + 1);
      const { info, L } = factor(A, n, lambda, n + (n % 3));
      assert.is(info, 0, `n=${n}`);
      const ref = choleskyRef(A, n, lambda);
      for (let i = 0; i < n * n; i++) assert.ok(Math.abs(L[i]! - ref[i]!) <= reductionTol(n, 10) * 10, `L n=${n} entry ${i}`);
      const LT = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) LT[i * n + j] = L[j * n + i]!;
      const R = matmulRef(L, LT, n, n, n);
      let maxA = 0;
      for (const v of A) maxA = Math.max(maxA, Math.abs(v));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const e = A[i * n + j]! + (i === j ? lambda : 0);
          assert.ok(Math.abs(R[i * n + j]! - e) <= 8 * n * EPS * (maxA + lambda) + 1e-300, `LLᵀ n=${n} (${i},${j})`);
        }
    }
});

test('dpotrfLower reports the 1-based index and value of the first non-positive pivot', () => {
  // diag(1, 2, −3, 4): pivot 3 fails with value −3 (+ λ).
  const A = new Float64Array(16);
  A[0] = 1;
  A[5] = 2;
  A[10] = -3;
  A[15] = 4;
  let r = factor(A, 4, 0);
  assert.is(r.info, 3);
  assert.is(r.pivot, -3);
  r = factor(A, 4, 1);
  assert.is(r.info, 3);
  assert.is(r.pivot, -2);
  r = factor(A, 4, 3.5);
  assert.is(r.info, 0);
  // Singular PSD matrix: rank one [[1,1],[1,1]] fails at pivot 2 with value 0.
  r = factor(new Float64Array([1, 1, 1, 1]), 2, 0);
  assert.is(r.info, 2);
  assert.is(r.pivot, 0);
  // Zero matrix, λ = 0: pivot 1.
  assert.is(factor(new Float64Array(9), 3, 0).info, 1);
  // NaN on the diagonal is a failed pivot, never a success.
  assert.is(factor(new Float64Array([NaN]), 1, 0).info, 1);
});

test('dpotrfLower: index and value of the failing pivot, wherever it falls in a column pair', () => {
  // A = L Lᵀ − λI with a known L, then A[p][p] −= L[p][p]² + δ: pivot p + 1 (1-based) fails with value −δ.
  // p = 4 and 8 are the first column of a pair (8 = the last, single column of n = 9), p = 5 the second.
  const n = 9;
  const L = randomMatrix(n, n, 77);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) L[i * n + j] = 0;
    L[i * n + i] = 1 + Math.abs(L[i * n + i]!);
  }
  const base = matmulRef(
    L,
    Float64Array.from({ length: n * n }, (_, t) => L[(t % n) * n + Math.floor(t / n)]!),
    n,
    n,
    n,
  );
  for (const p of [0, 1, 4, 5, 7, 8])
    for (const lambda of [0, 0.125]) {
      const A = base.slice(); // A + λI = L Lᵀ except at (p, p)
      for (let i = 0; i < n; i++) A[i * n + i]! -= lambda;
      A[p * n + p]! -= L[p * n + p]! ** 2 + 0.25;
      const r = factor(A, n, lambda);
      assert.is(r.info, p + 1, `p=${p} λ=${lambda}`);
      assert.ok(Math.abs(r.pivot + 0.25) < 1e-12, `p=${p} λ=${lambda} pivot ${r.pivot}`);
      // Columns before the failing one are final in the rows above it.
      for (let i = 0; i < p; i++)
        for (let j = 0; j <= i; j++) {
          assert.ok(Math.abs(r.L[i * n + j]! - L[i * n + j]!) < 1e-12, `p=${p} L(${i},${j})`);
        }
    }
});

test('dpotrsLower1 and dpotrsLower solve (A + λI) X = B with small residuals', () => {
  for (const n of sizes)
    for (const nrhs of [1, 2, 3, 5]) {
      const A = spd(n, 2 * n + nrhs);
      const lambda = 1e-3;
      const pa = core.allocCopy(A);
      assert.is(k.dpotrfLower(n, lambda, pa, n), 0);
      const B = randomMatrix(n, nrhs, n * 7 + nrhs);
      const pb = core.allocCopy(B);
      if (nrhs === 1) k.dpotrsLower1(n, pa, n, pb);
      else k.dpotrsLower(n, nrhs, pa, n, pb, nrhs);
      const X = core.f64(pb, n * nrhs).slice();
      core.free(pa);
      core.free(pb);
      for (let c = 0; c < nrhs; c++) {
        const b = Float64Array.from({ length: n }, (_, i) => B[i * nrhs + c]!);
        const x = Float64Array.from({ length: n }, (_, i) => X[i * nrhs + c]!);
        const ref = solveRef(A, n, b, lambda);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i]! - ref[i]!) <= 1e3 * n * EPS * (1 + Math.abs(ref[i]!)), `n=${n} rhs=${c} i=${i}`);
      }
    }
});

test('dpotrfLogDet = log det(A + λI)', () => {
  const A = new Float64Array([4, 2, 2, 3]); // det = 8
  const pa = core.allocCopy(A);
  assert.is(k.dpotrfLower(2, 0, pa, 2), 0);
  assert.ok(Math.abs(k.dpotrfLogDet(2, pa, 2) - Math.log(8)) < 1e-14);
  core.free(pa);
});

test.run();
