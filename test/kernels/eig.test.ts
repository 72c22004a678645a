// Symmetric eigen-decomposition kernel (assembly/linalg/eig.ts, dsyevLower) against cyclic Jacobi and
// the residual identities A V = V Λ, VᵀV = I, Σλ = tr A. Tolerances are c·n·eps·‖A‖.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, EPS, normals, randomMatrix } from '../helpers.js';
import { jacobiEigen, norm2, randomOrthogonal, withSpectrum } from '../reference/eig.js';

const k = core.exports;
const sizes = [0, 1, 2, 3, 5, 8, 17, 31, 64, 124];

interface Run {
  info: number;
  w: Float64Array;
  V: Float64Array;
}

/**
 * Run the kernel on a copy of A (n × n) placed with leading dimension lda; the strict upper
 * triangle of the copy is filled with `upper` (it must be ignored). Modes: 'separate' (V in its
 * own block, ldv = lda + 1), 'inplace' (V shares A's storage), 'values' (no vectors).
 */
function run(A: Float64Array, n: number, opts: { lda?: number; mode?: 'separate' | 'inplace' | 'values'; maxSweeps?: number; upper?: number } = {}): Run {
  const lda = opts.lda ?? n;
  const mode = opts.mode ?? 'separate';
  const ldv = mode === 'separate' ? lda + 1 : lda;
  const pa = core.alloc(8 * Math.max(n * lda, 1));
  const pwork = core.alloc(8 * 3 * Math.max(n, 1));
  const pw = core.alloc(8 * Math.max(n, 1));
  const pv = mode === 'separate' ? core.alloc(8 * Math.max(n * ldv, 1)) : mode === 'inplace' ? pa : 0;
  const a = core.f64(pa, n * lda);
  a.fill(NaN); // padding beyond column n must never be read
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * lda + j] = j <= i ? A[i * n + j]! : (opts.upper ?? A[i * n + j]!);
  if (mode === 'separate') core.f64(pv, n * ldv).fill(NaN);
  const info = k.dsyevLower(n, mode === 'values' ? 0 : 1, opts.maxSweeps ?? 0, pa, lda, pwork, pw, pv, ldv);
  const w = core.f64(pw, n).slice();
  const V = new Float64Array(n * n);
  if (mode !== 'values') {
    const raw = core.f64(pv, n * ldv);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) V[i * n + j] = raw[i * ldv + j]!;
  }
  core.free(pa);
  core.free(pwork);
  core.free(pw);
  if (mode === 'separate') core.free(pv);
  return { info, w, V };
}

function randomSymmetric(n: number, seed: number, scale = 1): Float64Array {
  const G = randomMatrix(n, n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = scale * 0.5 * (G[i * n + j]! + G[j * n + i]!);
  return A;
}

/** The test matrices: name → A (n × n, symmetric). */
function cases(n: number): Array<[string, Float64Array]> {
  const out: Array<[string, Float64Array]> = [];
  out.push(['random', randomSymmetric(n, 100 + n)]);
  const D = new Float64Array(n * n);
  const g = normals(200 + n);
  for (let i = 0; i < n; i++) D[i * n + i] = Math.round(10 * g()) / 4; // unsorted, some repeats
  out.push(['diagonal', D]);
  // Repeated eigenvalues: 1 (multiplicity ~n/3), −2 (~n/3), and a few distinct ones.
  const lam = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? -2 : 0.5 + i));
  out.push(['repeated', withSpectrum(randomOrthogonal(n, normals(300 + n)), lam)]);
  // Rank-deficient PSD: X Xᵀ with X n × r, r = ⌈n/4⌉.
  const r = Math.max(1, Math.ceil(n / 4));
  const X = randomMatrix(n, r, 400 + n);
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < r; c++) s += X[i * r + c]! * X[j * r + c]!;
      P[i * n + j] = s;
    }
  out.push(['low-rank PSD', P]);
  out.push(['tiny (1e-150)', randomSymmetric(n, 500 + n, 1e-150)]);
  out.push(['huge (1e150)', randomSymmetric(n, 600 + n, 1e150)]);
  // Graded: entries spanning 1e-8..1e8 along the diagonal.
  const Gr = randomSymmetric(n, 700 + n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Gr[i * n + j]! *= 10 ** (8 * ((i + j) / Math.max(2 * n - 2, 1)) - 4);
  out.push(['graded', Gr]);
  return out;
}

/** ‖A‖_F without overflow. */
const normF = (A: ArrayLike<number>) => norm2(A);

/** max over k of ‖A v_k − λ_k v_k‖₂ and max |(VᵀV − I)_ij|. */
function residuals(A: Float64Array, n: number, w: Float64Array, V: Float64Array): { res: number; orth: number } {
  let res = 0,
    orth = 0;
  const r = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += A[i * n + j]! * V[j * n + c]!;
      r[i] = s - w[c]! * V[i * n + c]!;
    }
    res = Math.max(res, norm2(r));
    for (let d = 0; d <= c; d++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += V[i * n + c]! * V[i * n + d]!;
      orth = Math.max(orth, Math.abs(s - (c === d ? 1 : 0)));
    }
  }
  return { res, orth };
}

// Observed worst ratios error / (n·eps·‖A‖) are ≤ 1.7 (n = 2..200, both binaries, at n = 3); c = 4 leaves margin
// without hiding an O(n²·eps) or O(√eps) defect.
const C = 4;

test('dsyevLower: eigenvalues match cyclic Jacobi within c·n·eps·‖A‖_F, ascending', () => {
  for (const n of sizes)
    for (const [name, A] of cases(n)) {
      const { info, w } = run(A, n);
      assert.is(info, 0, `${name} n=${n}`);
      const ref = jacobiEigen(A, n);
      const tol = C * Math.max(n, 1) * EPS * normF(A);
      for (let i = 0; i < n; i++) {
        if (i > 0) assert.ok(w[i - 1]! <= w[i]!, `${name} n=${n}: not ascending at ${i}`);
        const d = Math.abs(w[i]! - ref.values[i]!);
        if (!(d <= tol)) assert.unreachable(`${name} n=${n} λ_${i}: ${w[i]} vs ${ref.values[i]} (|Δ| = ${d} > ${tol})`);
      }
    }
});

test('dsyevLower: ‖A V − V Λ‖ and ‖VᵀV − I‖ are O(n·eps), Σλ = tr A', () => {
  for (const n of sizes)
    for (const [name, A] of cases(n)) {
      const { info, w, V } = run(A, n);
      assert.is(info, 0, `${name} n=${n}`);
      const nA = normF(A);
      const { res, orth } = residuals(A, n, w, V);
      const m = Math.max(n, 1);
      assert.ok(res <= C * m * EPS * nA, `${name} n=${n}: residual ${res} > ${C * m * EPS * nA}`);
      assert.ok(orth <= C * m * EPS, `${name} n=${n}: ‖VᵀV − I‖ = ${orth} > ${C * m * EPS}`);
      let tr = 0,
        sum = 0,
        abs = 0;
      for (let i = 0; i < n; i++) {
        tr += A[i * n + i]!;
        sum += w[i]!;
        abs += Math.abs(w[i]!);
      }
      assert.ok(Math.abs(sum - tr) <= C * m * EPS * (nA + abs), `${name} n=${n}: Σλ = ${sum} vs tr A = ${tr}`);
    }
});

test('dsyevLower: eigenvectors of well-separated eigenvalues agree with Jacobi (up to sign)', () => {
  for (const n of sizes) {
    const A = randomSymmetric(n, 100 + n);
    const { V, w } = run(A, n);
    const ref = jacobiEigen(A, n);
    const nA = normF(A);
    for (let c = 0; c < n; c++) {
      let gap = Infinity;
      for (let d = 0; d < n; d++) if (d !== c) gap = Math.min(gap, Math.abs(w[c]! - w[d]!));
      // ‖v − ±u‖ = 2 sin(∠/2): resolves angles down to eps (unlike sqrt(1 − (vᵀu)²)).
      let plus = 0,
        minus = 0;
      for (let i = 0; i < n; i++) {
        plus += (V[i * n + c]! + ref.vectors[i * n + c]!) ** 2;
        minus += (V[i * n + c]! - ref.vectors[i * n + c]!) ** 2;
      }
      const sin = Math.sqrt(Math.min(plus, minus));
      // Davis–Kahan: sin∠ ≤ ‖residual‖ / gap for each of the two vectors.
      const tol = 2 * C * Math.max(n, 1) * EPS * (nA / gap + 1);
      assert.ok(sin <= tol, `n=${n} vector ${c}: sin∠ = ${sin} > ${tol} (gap ${gap})`);
    }
  }
});

test('dsyevLower: known spectra (2 × 2, 3 × 3, zero, identity, negative definite)', () => {
  let r = run(new Float64Array([2, 1, 1, 2]), 2);
  assert.is(r.info, 0);
  assert.ok(Math.abs(r.w[0]! - 1) < 4 * EPS && Math.abs(r.w[1]! - 3) < 8 * EPS);
  // Column 0 ∝ [1, −1], column 1 ∝ [1, 1].
  assert.ok(Math.abs(Math.abs(r.V[0]!) - Math.SQRT1_2) < 4 * EPS && Math.abs(r.V[0]! + r.V[2]!) < 4 * EPS);
  assert.ok(Math.abs(r.V[1]! - r.V[3]!) < 4 * EPS);
  // Tridiagonal 2, −1 (n = 3): λ = 2 − √2, 2, 2 + √2.
  r = run(new Float64Array([2, -1, 0, -1, 2, -1, 0, -1, 2]), 3);
  const exact = [2 - Math.SQRT2, 2, 2 + Math.SQRT2];
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(r.w[i]! - exact[i]!) < 16 * EPS, `λ_${i} = ${r.w[i]}`);
  // Zero matrix: λ = 0, V = I.
  r = run(new Float64Array(25), 5);
  assert.is(r.info, 0);
  assert.equal(Array.from(r.w), [0, 0, 0, 0, 0]);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assert.is(Math.abs(r.V[i * 5 + j]!), i === j ? 1 : 0);
  // n = 1: λ = a, V = [1].
  r = run(new Float64Array([-7.5]), 1);
  assert.equal(Array.from(r.w), [-7.5]);
  assert.equal(Array.from(r.V), [1]);
  // −(identity) of size 17: every λ = −1 exactly.
  const I = new Float64Array(17 * 17);
  for (let i = 0; i < 17; i++) I[i * 17 + i] = -1;
  r = run(I, 17);
  for (const x of r.w) assert.is(x, -1);
});

test('dsyevLower: n = 0 touches nothing and returns 0', () => {
  assert.is(k.dsyevLower(0, 1, 0, 0, 0, 0, 0, 0, 0), 0);
  assert.is(k.dsyevLower(0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
});

test('dsyevLower: lda > n, in-place V, values-only and the ignored upper triangle give the same eigenvalues', () => {
  for (const n of [1, 2, 5, 17, 31, 64]) {
    const A = randomSymmetric(n, 900 + n);
    const base = run(A, n);
    const values = run(A, n, { mode: 'values' });
    const inplace = run(A, n, { mode: 'inplace', lda: n + 3 });
    const padded = run(A, n, { lda: n + 1, upper: NaN });
    // The QL recurrence is scalar and sees the same tridiagonal: eigenvalues are bitwise equal.
    assert.equal(Array.from(values.w), Array.from(base.w), `values-only n=${n}`);
    assert.equal(Array.from(inplace.w), Array.from(base.w), `in-place n=${n}`);
    assert.equal(Array.from(padded.w), Array.from(base.w), `lda=n+1, NaN upper n=${n}`);
    assert.equal(Array.from(inplace.V), Array.from(base.V), `in-place vectors n=${n}`);
    assert.equal(Array.from(padded.V), Array.from(base.V), `lda=n+1 vectors n=${n}`);
  }
});

test('dsyevLower: scaling by 2^k is exact (1e-300 and 1e300 give the scaled spectrum)', () => {
  for (const n of [3, 17, 64]) {
    const A = randomSymmetric(n, 1000 + n);
    const base = run(A, n);
    for (const e of [-1000, -300, 300, 1000]) {
      const s = 2 ** e;
      const scaled = run(
        A.map((x) => x * s),
        n,
      );
      assert.is(scaled.info, 0);
      assert.equal(
        Array.from(scaled.w),
        Array.from(base.w, (x) => x * s),
        `2^${e} n=${n}`,
      );
    }
  }
  // A subnormal-only matrix: λ = ±5e-324·…, exact.
  const t = run(new Float64Array([5e-324, 0, 0, -1e-320]), 2);
  assert.equal(Array.from(t.w), [-1e-320, 5e-324]);
});

test('dsyevLower: non-convergence within the sweep budget returns a 1-based index', () => {
  const n = 31;
  const A = randomSymmetric(n, 1234);
  for (const budget of [1, 3, 20]) {
    const r = run(A, n, { maxSweeps: budget });
    assert.ok(r.info >= 1 && r.info <= n, `budget ${budget}: info = ${r.info}`);
  }
  // The default budget (30·n) succeeds on the same matrix, and so does a budget of 3·n.
  assert.is(run(A, n).info, 0);
  assert.is(run(A, n, { maxSweeps: 3 * n }).info, 0);
  assert.is(run(A, n, { maxSweeps: 3 * n, mode: 'values' }).info, 0);
});

test('dsyevLower: NaN or ±Inf in the lower triangle returns −4 and writes nothing', () => {
  const n = 5;
  for (const bad of [NaN, Infinity, -Infinity])
    for (const [i, j] of [
      [0, 0],
      [3, 1],
      [4, 4],
    ] as const) {
      for (const mode of ['separate', 'values'] as const) {
        const A = randomSymmetric(n, 77);
        A[i * n + j] = bad;
        A[j * n + i] = bad;
        const r = run(A, n, { mode });
        assert.is(r.info, -4, `${bad} at (${i}, ${j}), ${mode}`);
        if (mode === 'separate') assert.ok(r.V.every(Number.isNaN), 'V written'); // still the NaN fill
      }
    }
  // The same entries in the (ignored) strict upper triangle are harmless.
  const A = randomSymmetric(n, 77);
  assert.is(run(A, n, { upper: Infinity }).info, 0);
});

test.run();
