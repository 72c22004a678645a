// Grid-search kernels (assembly/grid/grid.ts) against test/reference/grid.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, reductionTol, uniform, assertClose, EPS } from '../helpers.js';
import { gemmTnRef, potrfPackedRef, spmmRef, unpackRef, zRowsRef } from '../reference/grid.js';
import { matvecRef } from '../reference/linalg.js';

const k = core.exports;

function put(data: ArrayLike<number>): number {
  const p = core.alloc(8 * Math.max(data.length, 1));
  core.f64(p, data.length).set(data);
  return p;
}
function putI32(data: ArrayLike<number>): number {
  const p = core.alloc(4 * Math.max(data.length, 1));
  core.i32(p, data.length).set(data);
  return p;
}

/** Distance in units in the last place (0 when both are equal, including ±Inf and NaN). */
function ulps(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const m = Math.max(Math.abs(b), 2 ** -1074);
  return Math.abs(a - b) / 2 ** (Math.floor(Math.log2(m)) - 52);
}

function vec(fn: (n: number, x: number, o: number) => void, xs: number[]): Float64Array {
  const n = xs.length + (xs.length % 2);
  const px = put([...xs, ...(xs.length % 2 ? [1] : [])]),
    po = core.alloc(8 * n);
  fn(n, px, po);
  const out = core.f64(po, xs.length).slice();
  core.free(px);
  core.free(po);
  return out;
}

test('lane-wise exp: ≤ 1 ulp from Math.exp over the whole range, overflow, underflow, specials', () => {
  const u = uniform(1);
  const xs: number[] = [0, -0, 1, -1, 0.5, 1e-300, -1e-300, 709.78, 709.79, 710, 1000, -708.39, -708.4, -720, -745.1, -745.2, -746, -1e5, Infinity, -Infinity, NaN];
  for (let i = 0; i < 4000; i++) xs.push((u() - 0.5) * 1500, (u() - 0.5) * 2, (u() - 0.5) * 60);
  const out = vec((n, x, o) => k.gridExpVec(n, x, o), xs);
  for (let i = 0; i < xs.length; i++) {
    const e = Math.exp(xs[i]!);
    // Subnormal results: absolute error within one subnormal step (double rounding of 2^k).
    const d = e < 2.2250738585072014e-308 ? Math.abs(out[i]! - e) / 2 ** -1074 : ulps(out[i]!, e);
    assert.ok(d <= 1, `exp(${xs[i]}) = ${out[i]} vs ${e} (${d} ulp)`);
  }
});

test('lane-wise log: ≤ 1 ulp from Math.log, subnormals and specials; the fast path on positive normals', () => {
  const u = uniform(2);
  const xs: number[] = [1, 2, 0.5, Math.SQRT2, Math.SQRT1_2, 1e-8, 1 - 1e-8, 1e300, 2.2250738585072014e-308, 5e-324, 1e-310, 0, -0, -1, Infinity, -Infinity, NaN, Number.MAX_VALUE];
  for (let i = 0; i < 4000; i++) xs.push(Math.exp((u() - 0.5) * 1400), u(), 1 + (u() - 0.5) * 1e-3);
  const out = vec((n, x, o) => k.gridLogVec(n, x, o), xs);
  for (let i = 0; i < xs.length; i++) {
    const e = Math.log(xs[i]!);
    assert.ok(ulps(out[i]!, e) <= 1, `log(${xs[i]}) = ${out[i]} vs ${e}`);
  }
  const pos = xs.filter((x) => (x >= 2.2250738585072014e-308 && x < Infinity) || Number.isNaN(x));
  const fast = vec((n, x, o) => k.gridLogPosVec(n, x, o), pos);
  for (let i = 0; i < pos.length; i++) assert.ok(ulps(fast[i]!, Math.log(pos[i]!)) <= 1, `logPos(${pos[i]})`);
});

test('gridGemmTn: Aᵀ B for output counts not multiple of 4, lanes 4/8/12, both layouts, accumulate, lda > ne', () => {
  for (const [m, ne, kk] of [
    [0, 5, 4],
    [1, 1, 4],
    [7, 3, 8],
    [13, 9, 12],
    [50, 17, 4],
    [33, 64, 8],
  ] as const) {
    const lda = ne + 3,
      ldb = kk + 4;
    const A = randomMatrix(m, lda, m + ne),
      B = randomMatrix(m, ldb, 7 * m + kk);
    const ref = gemmTnRef(m, ne, kk, A, lda, B, ldb);
    const absRef = gemmTnRef(m, ne, kk, A.map(Math.abs), lda, B.map(Math.abs), ldb);
    const tol = Array.from(absRef, (v) => reductionTol(m, v));
    const pa = put(A),
      pb = put(B);
    // Lane-major output with ldc = kk + 2.
    const ldc = kk + 2;
    const pc = put(new Float64Array(ne * ldc).fill(NaN));
    k.gridGemmTn(m, ne, kk, pa, lda, pb, ldb, pc, ldc, 2, 0);
    const C = core.f64(pc, ne * ldc);
    const got = new Float64Array(ne * kk);
    for (let e = 0; e < ne; e++) for (let l = 0; l < kk; l++) got[e * kk + l] = C[e * ldc + l]!;
    assertClose(got, ref, tol, `lane-major m=${m} ne=${ne} k=${kk}`);
    // Pair-blocked output (pair stride ps), accumulated twice = 2·AᵀB.
    const ps = 2 * ne + 6;
    const pp = put(new Float64Array((kk / 2) * ps).fill(0));
    k.gridGemmTn(m, ne, kk, pa, lda, pb, ldb, pp, 2, ps, 0);
    k.gridGemmTn(m, ne, kk, pa, lda, pb, ldb, pp, 2, ps, 1);
    const Pc = core.f64(pp, (kk / 2) * ps);
    for (let e = 0; e < ne; e++) for (let l = 0; l < kk; l++) got[e * kk + l] = Pc[(l >> 1) * ps + 2 * e + (l & 1)]! / 2;
    assertClose(got, ref, tol, `pair-blocked m=${m} ne=${ne} k=${kk}`);
    for (const p of [pa, pb, pc, pp]) core.free(p);
  }
});

test('gridSpmm: CSR × lane-major for lane counts 4 (tail), 8 and 12 (tile + tail), empty rows', () => {
  const u = uniform(3);
  const rows = 23,
    cols = 11;
  const indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  for (let i = 0; i < rows; i++) {
    if (i % 5 !== 3)
      for (let j = 0; j < cols; j++)
        if (u() < 0.3) {
          indices.push(j);
          values.push(u() * 2 - 1);
        }
    indptr.push(indices.length);
  }
  for (const kk of [4, 8, 12]) {
    const ldb = kk + 2;
    const B = randomMatrix(cols, ldb, kk);
    const ref = spmmRef(rows, kk, indptr, indices, values, B, ldb);
    const pi = putI32(indptr),
      px = putI32(indices),
      pv = put(values),
      pb = put(B),
      pc = put(new Float64Array(rows * kk).fill(NaN));
    k.gridSpmm(rows, kk, pi, px, pv, pb, ldb, pc, kk, 2);
    assertClose(core.f64(pc, rows * kk), ref, reductionTol(cols, 10), `k=${kk}`);
    for (const p of [pi, px, pv, pb, pc]) core.free(p);
  }
});

test('gridZRows: packed lower triangles of x xᵀ, from a row offset', () => {
  const n = 9,
    d = 6,
    P = 21;
  const X = randomMatrix(n, d, 5);
  const px = put(X),
    pz = put(new Float64Array(4 * (P + 1)).fill(NaN));
  k.gridZRows(3, 4, d, px, d, pz, P + 1);
  const Z = core.f64(pz, 4 * (P + 1)),
    ref = zRowsRef(X, n, d);
  for (let r = 0; r < 4; r++) for (let e = 0; e < P; e++) assert.is(Z[r * (P + 1) + e], ref[(r + 3) * P + e]);
  core.free(px);
  core.free(pz);
});

/** Random SPD packed matrix (XᵀX + I scaled by div). */
function spdPacked(d: number, seed: number, div = 1): Float64Array {
  const m = d + 4,
    X = randomMatrix(m, d, seed);
  const A = new Float64Array((d * (d + 1)) / 2);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 1 : 0;
      for (let r = 0; r < m; r++) s += (X[r * d + i]! * X[r * d + j]!) / m;
      A[(i * (i + 1)) / 2 + j] = s * div;
    }
  return A;
}

test('gridPotrf/gridPotrs: per-lane damping, divisor, odd and even sizes; residual of the solves', () => {
  for (const d of [1, 2, 3, 4, 5, 6, 7, 9, 14, 31, 33]) {
    const P = (d * (d + 1)) / 2,
      ps = 2 * P + 2,
      npairs = 3,
      div = 7;
    const mats = [0, 1, 2, 3, 4, 5].map((l) => spdPacked(d, 10 * d + l, div));
    const lams = [0, 0.5, 1e-3, 2, 0, 10];
    const buf = new Float64Array(npairs * ps).fill(NaN);
    mats.forEach((A, l) => {
      for (let e = 0; e < P; e++) buf[(l >> 1) * ps + 2 * e + (l & 1)] = A[e]!;
    });
    const pa = put(buf),
      pl = put(lams),
      pi = core.alloc(8 * npairs),
      pinv = core.alloc(16 * d);
    k.gridPotrf(d, npairs, pa, ps, div, pl, pi, pinv, 0);
    const info = core.i32(pi, 2 * npairs).slice();
    const L = core.f64(pa, npairs * ps).slice();
    const bs = mats.map((_, l) => randomMatrix(d, 1, 99 + l));
    const xb = new Float64Array(npairs * (2 * d + 2));
    bs.forEach((b, l) => {
      for (let j = 0; j < d; j++) xb[(l >> 1) * (2 * d + 2) + 2 * j + (l & 1)] = b[j]!;
    });
    const px = put(xb);
    k.gridPotrs(d, npairs, pa, ps, px, 2 * d + 2, 0);
    const X = core.f64(px, npairs * (2 * d + 2)).slice();
    mats.forEach((A, l) => {
      assert.is(info[l], 0, `d=${d} lane ${l}`);
      const ref = potrfPackedRef(d, A, div, lams[l]!);
      const got = Float64Array.from({ length: P }, (_, e) => L[(l >> 1) * ps + 2 * e + (l & 1)]!);
      assertClose(got, ref.L, reductionTol(d, 10) * 10, `L d=${d} lane ${l}`);
      // (A/div + λI) x = b.
      const full = unpackRef(d, A).map((v) => v / div);
      for (let i = 0; i < d; i++) full[i * d + i]! += lams[l]!;
      const x = Float64Array.from({ length: d }, (_, j) => X[(l >> 1) * (2 * d + 2) + 2 * j + (l & 1)]!);
      const Ax = matvecRef(full, d, d, x);
      let scale = 0;
      for (const v of full) scale = Math.max(scale, Math.abs(v));
      let xn = 0;
      for (const v of x) xn = Math.max(xn, Math.abs(v));
      for (let i = 0; i < d; i++) assert.ok(Math.abs(Ax[i]! - bs[l]![i]!) <= 64 * d * EPS * scale * xn + 1e-300, `residual d=${d} lane ${l} row ${i}`);
    });
    for (const p of [pa, pl, pi, pinv, px]) core.free(p);
  }
});

test('gridPotrf: a failing lane reports its 1-based pivot without disturbing its partner', () => {
  const d = 5,
    P = 15,
    ps = 2 * P;
  // Lane 0: diag(1, 2, −3, 4, 5) fails at pivot 3; lane 1: SPD.
  const bad = new Float64Array(P);
  [1, 2, -3, 4, 5].forEach((v, i) => {
    bad[(i * (i + 1)) / 2 + i] = v;
  });
  const good = spdPacked(d, 42);
  const buf = new Float64Array(ps);
  for (let e = 0; e < P; e++) {
    buf[2 * e] = bad[e]!;
    buf[2 * e + 1] = good[e]!;
  }
  const pa = put(buf),
    pl = put([0, 0]),
    pi = core.alloc(8),
    pinv = core.alloc(16 * d);
  k.gridPotrf(d, 1, pa, ps, 1, pl, pi, pinv, 0);
  const info = core.i32(pi, 2);
  assert.is(info[0], 3);
  assert.is(info[1], 0);
  const L = core.f64(pa, ps);
  const ref = potrfPackedRef(d, good, 1, 0);
  for (let e = 0; e < P; e++) assert.ok(Math.abs(L[2 * e + 1]! - ref.L[e]!) <= 1e-14 * 10, `partner entry ${e}`);
  // With damping 3.5 lane 0 succeeds (pivot −3 + 3.5 > 0); λ = 3 gives a zero pivot: failure.
  for (const [lam, want] of [
    [3.5, 0],
    [3, 3],
  ] as const) {
    core.f64(pa, ps).set(buf);
    core.f64(pl, 2).set([lam, 0]);
    k.gridPotrf(d, 1, pa, ps, 1, pl, pi, pinv, 0);
    assert.is(core.i32(pi, 2)[0], want, `λ = ${lam}`);
  }
  // Non-finite input: NaN pivot is a failure too.
  buf[0] = NaN;
  core.f64(pa, ps).set(buf);
  k.gridPotrf(d, 1, pa, ps, 1, pl, pi, pinv, 0);
  assert.is(core.i32(pi, 2)[0], 1);
  for (const p of [pa, pl, pi, pinv]) core.free(p);
});
test('gridPotrf/gridPotrs with an envelope (A[i][j] = 0 for j < first[i]) = the dense factorization', () => {
  const u = uniform(9);
  for (const d of [1, 2, 5, 8, 13, 30]) {
    const P = (d * (d + 1)) / 2,
      ps = 2 * P;
    const first = Int32Array.from({ length: d }, (_, i) => (u() < 0.3 ? 0 : Math.max(0, i - Math.floor(u() * 6))));
    // A = L0 L0ᵀ with L0 inside the envelope has the same envelope.
    const L0 = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = first[i]!; j <= i; j++) L0[i * d + j] = i === j ? 1 + u() : u() - 0.5;
    const A = new Float64Array(P);
    for (let i = 0; i < d; i++)
      for (let j = 0; j <= i; j++) {
        let v = 0;
        for (let t = 0; t < d; t++) v += L0[i * d + t]! * L0[j * d + t]!;
        A[(i * (i + 1)) / 2 + j] = v;
      }
    for (let i = 0; i < d; i++) for (let j = 0; j < first[i]!; j++) assert.is(A[(i * (i + 1)) / 2 + j], 0);
    const buf = new Float64Array(ps);
    for (let e = 0; e < P; e++) {
      buf[2 * e] = A[e]!;
      buf[2 * e + 1] = A[e]! * 3;
    }
    const pa = put(buf),
      pl = put([0.01, 0.5]),
      pi = core.alloc(8),
      pinv = core.alloc(16 * d),
      pf = putI32(first);
    k.gridPotrf(d, 1, pa, ps, 1, pl, pi, pinv, pf);
    assert.equal(Array.from(core.i32(pi, 2)), [0, 0]);
    const L = core.f64(pa, ps).slice();
    for (const [h, scale, lam] of [
      [0, 1, 0.01],
      [1, 3, 0.5],
    ] as const) {
      const ref = potrfPackedRef(
        d,
        A.map((v) => v * scale),
        1,
        lam,
      );
      const got = Float64Array.from({ length: P }, (_, e) => L[2 * e + h]!);
      assertClose(got, ref.L, 1e-12 * scale * d, `envelope d=${d} lane ${h}`);
    }
    const b = randomMatrix(d, 2, d);
    const pb = put(b);
    k.gridPotrs(d, 1, pa, ps, pb, 2 * d, pf);
    const x = core.f64(pb, 2 * d).slice();
    for (const [h, scale, lam] of [
      [0, 1, 0.01],
      [1, 3, 0.5],
    ] as const) {
      const full = unpackRef(d, A).map((v) => v * scale);
      for (let i = 0; i < d; i++) full[i * d + i]! += lam;
      const xs = Float64Array.from({ length: d }, (_, j) => x[2 * j + h]!);
      const Ax = matvecRef(full, d, d, xs);
      for (let i = 0; i < d; i++) assert.ok(Math.abs(Ax[i]! - b[2 * i + h]!) <= 1e-9 * (1 + Math.abs(b[2 * i + h]!)), `solve d=${d} lane ${h}`);
    }
    for (const p of [pa, pl, pi, pinv, pf, pb]) core.free(p);
  }
});

test('gridSpmm with unit values (values pointer 0) = multiplying by ones', () => {
  const rows = 9,
    cols = 7,
    kk = 12;
  const u = uniform(4);
  const indptr = [0],
    indices: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) if (u() < 0.4) indices.push(j);
    indptr.push(indices.length);
  }
  const ones = indices.map(() => 1);
  const B = randomMatrix(cols, kk, 8);
  const pi = putI32(indptr),
    px = putI32(indices),
    pv = put(ones),
    pb = put(B),
    pc = core.alloc(8 * rows * kk),
    pd = core.alloc(8 * rows * kk);
  k.gridSpmm(rows, kk, pi, px, pv, pb, kk, pc, kk, 2);
  k.gridSpmm(rows, kk, pi, px, 0, pb, kk, pd, kk, 2);
  assert.equal(Array.from(core.f64(pd, rows * kk)), Array.from(core.f64(pc, rows * kk)));
  for (const p of [pi, px, pv, pb, pc, pd]) core.free(p);
});

test.run();
