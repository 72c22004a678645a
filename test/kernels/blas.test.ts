// Level-1/2 BLAS kernels (assembly/linalg/blas.ts) against plain loops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, reductionTol, assertClose } from '../helpers.js';
import { matvecRef, matvecTRef } from '../reference/linalg.js';

const k = core.exports;
const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 127];

test('ddot, daxpy, dscal over odd lengths', () => {
  for (const n of lengths) {
    const x = randomMatrix(1, n, n),
      y = randomMatrix(1, n, n + 50);
    const px = core.allocCopy(x),
      py = core.allocCopy(y);
    let ref = 0,
      mag = 0;
    for (let i = 0; i < n; i++) {
      ref += x[i]! * y[i]!;
      mag = Math.max(mag, Math.abs(x[i]! * y[i]!));
    }
    assert.ok(Math.abs(k.ddot(n, px, py) - ref) <= reductionTol(n, mag), `ddot n=${n}`);
    k.daxpy(n, 0.5, px, py);
    assertClose(
      core.f64(py, n),
      y.map((v, i) => v + 0.5 * x[i]!),
      1e-15 * 4,
      `daxpy n=${n}`,
    );
    k.dscal(n, -3, px);
    assertClose(
      core.f64(px, n),
      x.map((v) => -3 * v),
      0,
      `dscal n=${n}`,
    );
    core.free(px);
    core.free(py);
  }
});

test('dgemv, dgemvT, dsymvLower', () => {
  for (const [m, n] of [
    [0, 0],
    [1, 1],
    [3, 5],
    [7, 4],
    [33, 17],
  ] as [number, number][]) {
    const A = randomMatrix(m, n, m * n + 1);
    const x = randomMatrix(1, n, 2),
      xm = randomMatrix(1, m, 3),
      y0 = randomMatrix(1, Math.max(m, n), 4);
    const pa = core.allocCopy(A),
      px = core.allocCopy(x),
      pxm = core.allocCopy(xm);
    const py = core.allocCopy(y0.subarray(0, m));
    k.dgemv(m, n, 2, pa, n, px, 0.5, py);
    const ref = matvecRef(A, m, n, x).map((v, i) => 2 * v + 0.5 * y0[i]!);
    assertClose(core.f64(py, m), ref, reductionTol(n, 100), `dgemv ${m}x${n}`);
    const pyt = core.allocCopy(y0.subarray(0, n));
    k.dgemvT(m, n, 1, pa, n, pxm, 0, pyt);
    assertClose(core.f64(pyt, n), matvecTRef(A, m, n, xm), reductionTol(m, 100), `dgemvT ${m}x${n}`);
    [pa, px, pxm, py, pyt].forEach((p) => core.free(p));
  }
  for (const n of [0, 1, 2, 5, 16, 23]) {
    const B = randomMatrix(n, n, n);
    const S = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = B[Math.max(i, j) * n + Math.min(i, j)]!;
    const junk = Float64Array.from(S);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junk[i * n + j] = NaN; // upper triangle must not be read
    const x = randomMatrix(1, n, 9);
    const pa = core.allocCopy(junk),
      px = core.allocCopy(x),
      py = core.alloc(8 * Math.max(n, 1));
    k.dsymvLower(n, 1, pa, n, px, 0, py);
    assertClose(core.f64(py, n), matvecRef(S, n, n, x), reductionTol(n, 100), `dsymv n=${n}`);
    k.dsymMirrorLower(n, pa, n);
    assertClose(core.f64(pa, n * n), S, 0, `mirror n=${n}`);
    [pa, px, py].forEach((p) => core.free(p));
  }
});

test.run();
