// Gram / outer-product kernels (assembly/linalg/gram.ts) against test/reference/linalg.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, reductionTol, uniform, assertClose } from '../helpers.js';
import { gramRef, gramAbsRef } from '../reference/linalg.js';

const k = core.exports;

/** Run dsyrkLower on X (n × d, copied with leading dimension ldx) and weights; returns the full lower-filled C. */
function runDense(X: Float64Array, n: number, d: number, w: Float64Array | undefined, ldx = d, incw = 1): Float64Array {
  const px = core.alloc(8 * n * ldx),
    pc = core.alloc(8 * d * d);
  const pw = w ? core.alloc(8 * w.length) : 0;
  const xs = core.f64(px, n * ldx);
  xs.fill(NaN); // padding columns must never be read
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) xs[r * ldx + c] = X[r * d + c]!;
  if (w) core.f64(pw, w.length).set(w);
  core.f64(pc, d * d).fill(0);
  k.dsyrkLower(n, d, px, ldx, pw, incw, pc, d);
  k.dsymMirrorLower(d, pc, d);
  const C = core.f64(pc, d * d).slice();
  core.free(px);
  core.free(pc);
  if (pw) core.free(pw);
  return C;
}

const sizes: [number, number][] = [
  [0, 3],
  [1, 1],
  [1, 5],
  [3, 1],
  [7, 2],
  [5, 3],
  [9, 4],
  [13, 5],
  [6, 7],
  [31, 8],
  [17, 9],
  [40, 13],
  [64, 31],
  [100, 33],
  [57, 64],
];

test('dsyrkLower matches the reference for edge and odd sizes, unit weights', () => {
  for (const [n, d] of sizes) {
    const X = randomMatrix(n, d, n * 100 + d);
    const C = runDense(X, n, d, undefined);
    const tol = Array.from(gramAbsRef(X, n, d), (m) => reductionTol(n, m));
    assertClose(C, gramRef(X, n, d), tol, `n=${n} d=${d}`);
  }
});

test('dsyrkLower with weights (including negative) and leading dimension > d', () => {
  const u = uniform(7);
  for (const [n, d] of sizes) {
    const X = randomMatrix(n, d, 3 * n + d);
    const w = Float64Array.from({ length: n }, () => u() * 4 - 1);
    const C = runDense(X, n, d, w, d + 3);
    const tol = Array.from(gramAbsRef(X, n, d, w), (m) => reductionTol(n, m));
    assertClose(C, gramRef(X, n, d, w), tol, `n=${n} d=${d}`);
  }
});

test('dsyrkLower reads weights with an increment', () => {
  const n = 11,
    d = 6;
  const X = randomMatrix(n, d, 5);
  const wide = Float64Array.from({ length: 3 * n }, (_, i) => (i % 3 === 1 ? 0.5 + i : NaN));
  const w = Float64Array.from({ length: n }, (_, i) => wide[3 * i + 1]!);
  const px = core.allocCopy(X),
    pw = core.allocCopy(wide),
    pc = core.alloc(8 * d * d);
  core.f64(pc, d * d).fill(0);
  k.dsyrkLower(n, d, px, d, pw + 8, 3, pc, d);
  k.dsymMirrorLower(d, pc, d);
  const C = core.f64(pc, d * d).slice();
  core.free(px);
  core.free(pw);
  core.free(pc);
  const tol = Array.from(gramAbsRef(X, n, d, w), (m) => reductionTol(n, m));
  assertClose(C, gramRef(X, n, d, w), tol);
});

test('dsyrkLower accumulates into C and leaves the strict upper triangle alone', () => {
  const n = 9,
    d = 7;
  const X = randomMatrix(n, d, 11);
  const px = core.allocCopy(X),
    pc = core.alloc(8 * d * d);
  const c = core.f64(pc, d * d);
  for (let i = 0; i < d * d; i++) c[i] = 1000 + i;
  k.dsyrkLower(n, d, px, d, 0, 1, pc, d);
  const out = core.f64(pc, d * d).slice();
  const ref = gramRef(X, n, d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      const e = j <= i ? 1000 + i * d + j + ref[i * d + j]! : 1000 + i * d + j;
      assert.ok(Math.abs(out[i * d + j]! - e) < 1e-9, `(${i},${j})`);
    }
  core.free(px);
  core.free(pc);
});

// The dense kernel packs k-blocks of ≤ 512 samples (fewer when d is large: kc = 65536/(d4 + 4))
// and splits the rows of C into blocks of 1020 when d > 1020 (kc = 64 then). These sizes cross
// every block boundary with each d mod 4, with weights read through an increment (the weight
// offset must follow the k-block) and ldx > d.
test('dsyrkLower across k-blocks and row blocks of its packed kernel', () => {
  const u = uniform(17);
  const cases: [number, number, number, number][] = [
    // n, d, ldx, incw, ldc
    [513, 1, 1, 1, 1],
    [1030, 2, 3, 2, 3],
    [1025, 7, 7, 1, 7],
    [600, 127, 129, 3, 130],
    [1300, 124, 124, 1, 124],
    [300, 253, 256, 1, 253],
    [66, 1021, 1021, 2, 1022],
    [70, 1030, 1031, 1, 1030],
  ];
  for (const [n, d, ldx, incw, ldc] of cases) {
    const X = randomMatrix(n, d, n + 7 * d);
    const wide = Float64Array.from({ length: n * incw }, (_, i) => (i % incw === 0 ? u() * 3 - 1 : NaN));
    const w = Float64Array.from({ length: n }, (_, i) => wide[i * incw]!);
    const px = core.alloc(8 * n * ldx),
      pw = core.allocCopy(wide),
      pc = core.alloc(8 * d * ldc);
    const xs = core.f64(px, n * ldx);
    xs.fill(NaN);
    for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) xs[r * ldx + c] = X[r * d + c]!;
    core.f64(pc, d * ldc).fill(7); // the strict upper triangle and the padding must stay 7
    k.dsyrkLower(n, d, px, ldx, pw, incw, pc, ldc);
    const out = core.f64(pc, d * ldc).slice();
    [px, pw, pc].forEach((p) => core.free(p));
    const ref = gramRef(X, n, d, w),
      abs = gramAbsRef(X, n, d, w);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < ldc; j++) {
        const e = j <= i ? 7 + ref[i * d + j]! : 7;
        const t = j <= i ? reductionTol(n, abs[i * d + j]! + 7) : 0;
        if (!(Math.abs(out[i * ldc + j]! - e) <= t)) assert.unreachable(`n=${n} d=${d} (${i},${j}): ${out[i * ldc + j]} vs ${e}`);
      }
  }
});

test('dsyrkLowerCsr equals the dense kernel on the densified matrix', () => {
  const u = uniform(3);
  for (const [n, d] of [
    [0, 4],
    [1, 1],
    [20, 7],
    [50, 33],
    [200, 124],
  ] as [number, number][]) {
    const dense = new Float64Array(n * d);
    const indptr = [0],
      indices: number[] = [],
      values: number[] = [];
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < d; c++)
        if (u() < 0.15) {
          const v = u() * 2 - 1;
          dense[r * d + c] = v;
          indices.push(c);
          values.push(v);
        }
      indptr.push(indices.length);
    }
    const w = Float64Array.from({ length: n }, () => u() + 0.1);
    const pi = core.alloc(4 * indptr.length),
      px = core.alloc(4 * Math.max(indices.length, 1)),
      pv = core.allocCopy(values);
    core.i32(pi, indptr.length).set(indptr);
    core.i32(px, indices.length).set(indices);
    const pw = core.allocCopy(w),
      pc = core.alloc(8 * d * d);
    core.f64(pc, d * d).fill(0);
    k.dsyrkLowerCsr(n, pi, px, pv, pw, 1, pc, d);
    k.dsymMirrorLower(d, pc, d);
    const C = core.f64(pc, d * d).slice();
    [pi, px, pv, pw, pc].forEach((p) => core.free(p));
    const tol = Array.from(gramAbsRef(dense, n, d, w), (m) => reductionTol(n, m));
    assertClose(C, gramRef(dense, n, d, w), tol, `csr n=${n} d=${d}`);
  }
});

test('dsyrkBlocksLower equals Σ_n J_nᵀ Λ_n J_n with J_n = I_M ⊗ x_nᵀ', () => {
  for (const [n, d, m] of [
    [1, 1, 2],
    [10, 3, 3],
    [25, 5, 4],
    [40, 8, 1],
  ] as [number, number, number][]) {
    const X = randomMatrix(n, d, n + d + m);
    // Λ_n = A_n A_nᵀ (symmetric PSD) per sample.
    const A = randomMatrix(n * m, m, 99);
    const lam = new Float64Array(n * m * m);
    for (let s = 0; s < n; s++)
      for (let a = 0; a < m; a++)
        for (let b = 0; b < m; b++) {
          let t = 0;
          for (let c = 0; c < m; c++) t += A[(s * m + a) * m + c]! * A[(s * m + b) * m + c]!;
          lam[s * m * m + a * m + b] = t;
        }
    const D = m * d;
    const ref = new Float64Array(D * D);
    for (let s = 0; s < n; s++)
      for (let a = 0; a < m; a++)
        for (let b = 0; b < m; b++)
          for (let i = 0; i < d; i++)
            for (let j = 0; j < d; j++) {
              ref[(a * d + i) * D + b * d + j]! += lam[s * m * m + a * m + b]! * X[s * d + i]! * X[s * d + j]!;
            }
    const px = core.allocCopy(X),
      pl = core.allocCopy(lam),
      pc = core.alloc(8 * D * D);
    core.f64(pc, D * D).fill(0);
    k.dsyrkBlocksLower(n, d, m, px, d, pl, pc, D);
    k.dsymMirrorLower(D, pc, D);
    const C = core.f64(pc, D * D).slice();
    [px, pl, pc].forEach((p) => core.free(p));
    let scale = 0;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    assertClose(C, ref, reductionTol(n, 10 * scale + 1), `n=${n} d=${d} m=${m}`);
  }
});

test('dgerLower adds alpha·u vᵀ to the lower triangle', () => {
  const d = 9;
  const u = randomMatrix(1, d, 1),
    v = randomMatrix(1, d, 2);
  const pu = core.allocCopy(u),
    pv = core.allocCopy(v),
    pc = core.alloc(8 * d * d);
  core.f64(pc, d * d).fill(0);
  k.dgerLower(d, -2, pu, pv, pc, d);
  const C = core.f64(pc, d * d).slice();
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      const e = j <= i ? -2 * u[i]! * v[j]! : 0;
      assert.ok(Math.abs(C[i * d + j]! - e) <= 1e-15 * (1 + Math.abs(e)), `(${i},${j})`);
    }
  [pu, pv, pc].forEach((p) => core.free(p));
});

test.run();
