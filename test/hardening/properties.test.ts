// Hardening: property and fuzz tests (fast-check) of the kernels against the plain-TS references
// on random shapes and values (magnitudes 1e-150 … 1e150, subnormals, zeros, SIMD tails), the
// Cholesky residual bound, finiteness of the likelihoods for |f| ≤ 1e4, the Poisson overflow
// behaviour, and the parsers on randomly corrupted files.
//
// Runs: NATGRAD_FC_RUNS (default 5000) cases per kernel property and variant, so one CI run (both
// variants) checks ≥ 10⁴ cases per kernel; fast-check draws a new seed every run and prints it
// with any counterexample (replay with NATGRAD_FC_SEED=<seed>).
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearProblem, poisson, gd, ngd, parseSklearnCsv, parseLibsvm, parseUci, DataFormatError, NonFiniteLossError } from '../../bindings/index.js';
import { core, EPS } from '../helpers.js';
import { sampleRef, type RefProblem } from '../reference/glm.js';
import { choleskyRef, gramRef, csrToDenseRef } from '../reference/linalg.js';
import { norm2 } from '../reference/eig.js';

const RUNS = Number(process.env.NATGRAD_FC_RUNS ?? 5000);
const SEED = process.env.NATGRAD_FC_SEED === undefined ? undefined : Number(process.env.NATGRAD_FC_SEED);
const params = (numRuns = RUNS) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });
const k = core.exports;
const ETA = Number.MIN_VALUE; // 2⁻¹⁰⁷⁴: the absolute error of one rounding in the subnormal range

// ---- value generators ----------------------------------------------------------------------------
/** An entry at scale 10^e: mostly a grid mantissa in [-2, 2] times 10^e, sometimes any double in
 *  [-2, 2] (log-spread magnitudes down to subnormals), zero, or a subnormal. */
const entry = (e: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((m) => (m / 2 ** 19) * 10 ** e) },
    { weight: 2, arbitrary: fc.double({ min: -2, max: 2, noNaN: true }) },
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((m) => m * ETA) },
  );
const scale = fc.integer({ min: -150, max: 150 });
const vec = (n: number, e: number) => fc.array(entry(e), { minLength: n, maxLength: n }).map((a) => Float64Array.from(a));

/** Run `fn` with copies of `arrays` in WASM memory (byte addresses), freeing them afterwards. */
function withMem<T>(arrays: (Float64Array | Int32Array | number)[], fn: (...p: number[]) => T): T {
  const ptrs: number[] = [];
  try {
    for (const a of arrays) {
      if (typeof a === 'number') {
        ptrs.push(core.alloc(8 * Math.max(a, 1)));
        continue;
      }
      const p = core.alloc(Math.max(a.byteLength, 8));
      if (a instanceof Int32Array) core.i32(p, a.length).set(a);
      else core.f64(p, a.length).set(a);
      ptrs.push(p);
    }
    return fn(...ptrs);
  } finally {
    for (const p of ptrs) core.free(p);
  }
}

/** |a − b| ≤ 8·(k + 2)·(eps·absSum + η·(1 + opSum)) — the scale-aware bound of a length-k reduction
 *  whose terms have Σ|term| = absSum and whose operands sum to opSum in magnitude (underflow). */
function close(a: number, b: number, kLen: number, absSum: number, opSum: number): boolean {
  if (Object.is(a, b)) return true;
  const tol = 8 * (kLen + 2) * (EPS * absSum + ETA * (1 + opSum));
  return Math.abs(a - b) <= tol;
}

// ---- BLAS level 1/2 --------------------------------------------------------------------------------
const vecPair = fc
  .record({ n: fc.integer({ min: 0, max: 37 }), ex: scale, ey: scale })
  .filter((c) => Math.abs(c.ex + c.ey) <= 290) // keep x·y inside the double range
  .chain((c) => fc.record({ n: fc.constant(c.n), x: vec(c.n, c.ex), y: vec(c.n, c.ey), alpha: fc.double({ min: -4, max: 4, noNaN: true }) }));

test('ddot, daxpy, dscal match the reference for any length and magnitude', () => {
  fc.assert(
    fc.property(vecPair, ({ n, x, y, alpha }) => {
      let ref = 0,
        abs = 0,
        ops = 0;
      for (let i = 0; i < n; i++) {
        ref += x[i]! * y[i]!;
        abs += Math.abs(x[i]! * y[i]!);
        ops += Math.abs(x[i]!) + Math.abs(y[i]!);
      }
      const dot = withMem([x, y], (px, py) => k.ddot(n, px, py));
      assert.ok(close(dot, ref, n, abs, ops), `ddot n=${n}: ${dot} vs ${ref}`);
      const ax = withMem([x, y], (px, py) => {
        k.daxpy(n, alpha, px, py);
        return core.f64(py, n).slice();
      });
      const sx = withMem([x], (px) => {
        k.dscal(n, alpha, px);
        return core.f64(px, n).slice();
      });
      for (let i = 0; i < n; i++) {
        const r = alpha * x[i]! + y[i]!;
        assert.ok(close(ax[i]!, r, 1, Math.abs(alpha * x[i]!) + Math.abs(y[i]!), Math.abs(x[i]!) + 1), `daxpy[${i}]`);
        assert.ok(close(sx[i]!, alpha * x[i]!, 0, Math.abs(alpha * x[i]!), 0), `dscal[${i}]`);
      }
    }),
    params(),
  );
});

const matrixCase = fc
  .record({ m: fc.integer({ min: 0, max: 17 }), n: fc.integer({ min: 0, max: 17 }), pad: fc.integer({ min: 0, max: 3 }), ea: scale, ex: scale })
  .filter((c) => Math.abs(c.ea + c.ex) <= 290)
  .chain((c) => fc.record({ c: fc.constant(c), A: vec(c.m * c.n, c.ea), x: vec(Math.max(c.m, c.n), c.ex), alpha: fc.double({ min: -3, max: 3, noNaN: true }), beta: fc.constantFrom(0, 1, -0.5) }));

test('dgemv and dgemvT (leading dimension > n, beta ∈ {0, 1, −½}) match the reference', () => {
  fc.assert(
    fc.property(matrixCase, ({ c, A, x, alpha, beta }) => {
      const { m, n, pad } = c,
        lda = n + pad;
      const Ap = new Float64Array(m * lda).fill(NaN); // padding must never be read
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) Ap[i * lda + j] = A[i * n + j]!;
      const y0 = Float64Array.from({ length: Math.max(m, n) }, (_, i) => (beta === 0 ? NaN : i - 1)); // beta = 0 overwrites NaN
      const y = withMem([Ap, x, y0], (pa, px, py) => {
        k.dgemv(m, n, alpha, pa, lda, px, beta, py);
        return core.f64(py, m).slice();
      });
      for (let i = 0; i < m; i++) {
        let s = 0,
          abs = 0,
          ops = 0;
        for (let j = 0; j < n; j++) {
          s += A[i * n + j]! * x[j]!;
          abs += Math.abs(A[i * n + j]! * x[j]!);
          ops += Math.abs(A[i * n + j]!) + Math.abs(x[j]!);
        }
        const ref = alpha * s + (beta === 0 ? 0 : beta * y0[i]!);
        assert.ok(close(y[i]!, ref, n + 2, Math.abs(alpha) * abs + Math.abs(beta * (beta === 0 ? 0 : y0[i]!)), ops * (1 + Math.abs(alpha))), `dgemv y[${i}] = ${y[i]} vs ${ref}`);
      }
      const yt = withMem([Ap, x, y0], (pa, px, py) => {
        k.dgemvT(m, n, alpha, pa, lda, px, beta, py);
        return core.f64(py, n).slice();
      });
      for (let j = 0; j < n; j++) {
        let s = 0,
          abs = 0,
          ops = 0;
        for (let i = 0; i < m; i++) {
          s += A[i * n + j]! * x[i]!;
          abs += Math.abs(A[i * n + j]! * x[i]!);
          ops += Math.abs(A[i * n + j]!) + Math.abs(x[i]!);
        }
        const ref = alpha * s + (beta === 0 ? 0 : beta * y0[j]!);
        assert.ok(close(yt[j]!, ref, m + 2, Math.abs(alpha) * abs + Math.abs(beta === 0 ? 0 : beta * y0[j]!), ops * (1 + Math.abs(alpha))), `dgemvT y[${j}] = ${yt[j]} vs ${ref}`);
      }
    }),
    params(),
  );
});

// ---- Gram / outer products --------------------------------------------------------------------------
const gramCase = fc
  .record({
    n: fc.integer({ min: 0, max: 24 }),
    d: fc.integer({ min: 0, max: 13 }),
    pad: fc.integer({ min: 0, max: 3 }),
    e: fc.integer({ min: -150, max: 150 }),
    weighted: fc.boolean(),
    incw: fc.integer({ min: 1, max: 3 }),
    density: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      X: vec(c.n * c.d, c.e),
      keep: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: c.n * c.d, maxLength: c.n * c.d }),
      w: fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: c.n, maxLength: c.n }).map((a) => Float64Array.from(a)),
    }),
  );

/** Tolerances of C = Σ w x xᵀ entry by entry. */
function gramTols(X: Float64Array, n: number, d: number, w: Float64Array | undefined): { abs: Float64Array; ops: Float64Array } {
  const abs = new Float64Array(d * d),
    ops = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const wr = w ? Math.abs(w[r]!) : 1;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        const a = Math.abs(X[r * d + i]!),
          b = Math.abs(X[r * d + j]!);
        abs[i * d + j]! += wr * a * b;
        ops[i * d + j]! += (a + b) * (1 + wr) + wr;
      }
  }
  return { abs, ops };
}

test('dsyrkLower (dense, weighted, strided weights, ldx > d) and dsyrkLowerCsr match the reference Gram', () => {
  fc.assert(
    fc.property(gramCase, ({ c, X, keep, w }) => {
      const { n, d, pad, weighted, incw, density } = c;
      for (let i = 0; i < X.length; i++) if (keep[i]! > density) X[i] = 0; // sparsity pattern for the CSR run
      const ws = weighted ? w : undefined;
      const wide = new Float64Array(Math.max(n * incw, 1)).fill(NaN);
      for (let r = 0; r < n; r++) wide[r * incw] = w[r]!;
      const ref = gramRef(X, n, d, ws);
      const { abs, ops } = gramTols(X, n, d, ws);
      const check = (C: Float64Array, tag: string) => {
        for (let i = 0; i < d; i++)
          for (let j = 0; j <= i; j++) {
            const q = i * d + j;
            assert.ok(close(C[q]!, ref[q]!, n + 2, abs[q]!, ops[q]!), `${tag} n=${n} d=${d} C[${i}][${j}] = ${C[q]} vs ${ref[q]}`);
          }
      };
      // dense, leading dimension d + pad with NaN padding
      const ldx = d + pad;
      const Xp = new Float64Array(n * ldx).fill(NaN);
      for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) Xp[r * ldx + j] = X[r * d + j]!;
      const C = withMem([Xp, wide, new Float64Array(d * d)], (px, pw, pc) => {
        k.dsyrkLower(n, d, px, ldx, weighted ? pw : 0, incw, pc, d);
        return core.f64(pc, d * d).slice();
      });
      check(C, 'dense');
      // CSR of the same matrix
      const indptr = [0],
        indices: number[] = [],
        values: number[] = [];
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < d; j++)
          if (X[r * d + j] !== 0) {
            indices.push(j);
            values.push(X[r * d + j]!);
          }
        indptr.push(indices.length);
      }
      const Cs = withMem([Int32Array.from(indptr), Int32Array.from(indices), Float64Array.from(values), wide, new Float64Array(d * d)], (pi, px, pv, pw, pc) => {
        k.dsyrkLowerCsr(n, pi, px, pv, weighted ? pw : 0, incw, pc, d);
        return core.f64(pc, d * d).slice();
      });
      check(Cs, 'csr');
      assert.equal(
        csrToDenseRef(n, d, indptr, indices, values),
        X.map((v) => (v === 0 ? 0 : v)),
      );
    }),
    params(),
  );
});

// ---- Cholesky and solves -------------------------------------------------------------------------------
const spdCase = fc
  .record({
    n: fc.integer({ min: 1, max: 20 }),
    m: fc.integer({ min: 0, max: 24 }),
    e: fc.integer({ min: -75, max: 75 }),
    eb: fc.integer({ min: -100, max: 100 }),
    lambdaRel: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 10, noNaN: true })),
    nrhs: fc.integer({ min: 1, max: 4 }),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      B: fc.array(
        fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((v) => (v / 2 ** 19) * 10 ** c.e),
        { minLength: c.n * c.m, maxLength: c.n * c.m },
      ),
      rhs: fc.array(
        fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((v) => (v / 2 ** 19) * 10 ** c.eb),
        { minLength: c.n * c.nrhs, maxLength: c.n * c.nrhs },
      ),
    }),
  );

test('dpotrfLower + dpotrsLower1/dpotrsLower: ‖LLᵀ − (A+λI)‖ and ‖(A+λI)x − b‖ ≤ c·n·eps·‖A+λI‖·‖x‖ at every scale', () => {
  fc.assert(
    fc.property(spdCase, ({ c, B, rhs }) => {
      const { n, m, nrhs } = c;
      // A = B Bᵀ + δ I (δ keeps cond(A) ≤ ~1e9 so the factorization exists), then λ = lambdaRel·mean diag.
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let t = 0; t < m; t++) s += B[i * m + t]! * B[j * m + t]!;
          A[i * n + j] = s;
          A[j * n + i] = s;
        }
      let tr = 0;
      for (let i = 0; i < n; i++) tr += A[i * n + i]!;
      const unit = tr > 0 ? tr / n : 10 ** (2 * c.e);
      for (let i = 0; i < n; i++) A[i * n + i]! += 1e-9 * unit;
      const lambda = c.lambdaRel * unit;
      const Al = A.slice();
      for (let i = 0; i < n; i++) Al[i * n + i]! += lambda;
      const normA = norm2(Al);
      const { info, L, x, X } = withMem([A, Float64Array.from(rhs.slice(0, n)), Float64Array.from(rhs)], (pa, pb, pB) => {
        const info = k.dpotrfLower(n, lambda, pa, n);
        if (info !== 0) return { info, L: new Float64Array(0), x: new Float64Array(0), X: new Float64Array(0) };
        k.dpotrsLower1(n, pa, n, pb);
        k.dpotrsLower(n, nrhs, pa, n, pB, nrhs);
        return { info, L: core.f64(pa, n * n).slice(), x: core.f64(pb, n).slice(), X: core.f64(pB, n * nrhs).slice() };
      });
      assert.is(info, 0, `n=${n} m=${m} e=${c.e}: factorization failed at pivot ${info}`);
      const bound = 16 * n * EPS;
      // ‖L Lᵀ − (A + λI)‖ on the lower triangle (the kernel leaves the strict upper triangle alone)
      const diff = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let t = 0; t <= j; t++) s += L[i * n + t]! * L[j * n + t]!;
          diff[i * n + j] = s - Al[i * n + j]!;
        }
      assert.ok(norm2(diff) <= bound * normA, `n=${n}: ‖LLᵀ − A‖ = ${norm2(diff)} > ${bound * normA}`);
      // reference factor agrees in the relative sense
      const Lr = choleskyRef(A, n, lambda);
      const dL = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) dL[i * n + j] = L[i * n + j]! - Lr[i * n + j]!;
      assert.ok(norm2(dL) <= 1e-6 * norm2(Lr), `n=${n}: L differs from the reference by ${norm2(dL) / norm2(Lr)}`);
      const residual = (sol: ArrayLike<number>, col: number, stride: number) => {
        const r = new Float64Array(n),
          xs = new Float64Array(n);
        for (let i = 0; i < n; i++) xs[i] = sol[i * stride + col]!;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += Al[i * n + j]! * xs[j]!;
          r[i] = s - rhs[i * stride + col]!;
        }
        return { r: norm2(r), x: norm2(xs) };
      };
      const r1 = residual(x, 0, 1);
      // dpotrsLower1 reads rhs[0..n) as a contiguous vector; rebuild that case for the residual
      const b1 = rhs.slice(0, n);
      const rr = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += Al[i * n + j]! * x[j]!;
        rr[i] = s - b1[i]!;
      }
      assert.ok(norm2(rr) <= bound * normA * r1.x, `n=${n}: ‖(A+λI)x − b‖ = ${norm2(rr)} > ${bound * normA * r1.x}`);
      for (let col = 0; col < nrhs; col++) {
        const { r, x: nx } = residual(X, col, nrhs);
        assert.ok(r <= bound * normA * nx, `n=${n} rhs ${col}: residual ${r} > ${bound * normA * nx}`);
      }
    }),
    params(),
  );
});

test('dpotrfLower reports the 1-based index of the first non-positive pivot (LAPACK INFO), never 0 for a failure', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 11 }), fc.double({ min: -10, max: 0, noNaN: true }), (n, at, v) => {
      const k0 = at % n;
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) A[i * n + i] = i === k0 ? v : 1 + i;
      const info = withMem([A], (pa) => k.dpotrfLower(n, 0, pa, n));
      assert.is(info, k0 + 1);
    }),
    params(Math.ceil(RUNS / 5)),
  );
});

// ---- linear model forward / backward ----------------------------------------------------------------
const linCase = fc
  .record({ n: fc.integer({ min: 0, max: 16 }), m: fc.integer({ min: 1, max: 4 }), d: fc.integer({ min: 1, max: 11 }), ex: scale, et: scale, density: fc.double({ min: 0, max: 1, noNaN: true }) })
  .filter((c) => Math.abs(c.ex + c.et) <= 290)
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      X: vec(c.n * c.d, c.ex),
      th: vec(c.m * c.d, c.et),
      R: vec(c.n * c.m, c.et),
      keep: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: c.n * c.d, maxLength: c.n * c.d }),
      alpha: fc.double({ min: -2, max: 2, noNaN: true }),
    }),
  );

test('linearForward/Backward (dense and CSR) match f = Xθ and g = α Rᵀ X class-major', () => {
  fc.assert(
    fc.property(linCase, ({ c, X, th, R, keep, alpha }) => {
      const { n, m, d, density } = c;
      for (let i = 0; i < X.length; i++) if (keep[i]! > density) X[i] = 0;
      const indptr = [0],
        indices: number[] = [],
        values: number[] = [];
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < d; j++)
          if (X[r * d + j] !== 0) {
            indices.push(j);
            values.push(X[r * d + j]!);
          }
        indptr.push(indices.length);
      }
      const csrArgs = [Int32Array.from(indptr), Int32Array.from(indices), Float64Array.from(values)];
      const f = withMem([X, th, n * m], (px, pt, pf) => {
        k.linearForward(n, m, d, px, d, pt, pf);
        return core.f64(pf, n * m).slice();
      });
      const fs = withMem([...csrArgs, th, n * m], (pi, pj, pv, pt, pf) => {
        k.linearForwardCsr(n, m, d, pi, pj, pv, pt, pf);
        return core.f64(pf, n * m).slice();
      });
      for (let i = 0; i < n; i++)
        for (let q = 0; q < m; q++) {
          let s = 0,
            abs = 0,
            ops = 0;
          for (let j = 0; j < d; j++) {
            s += X[i * d + j]! * th[q * d + j]!;
            abs += Math.abs(X[i * d + j]! * th[q * d + j]!);
            ops += Math.abs(X[i * d + j]!) + Math.abs(th[q * d + j]!);
          }
          assert.ok(close(f[i * m + q]!, s, d, abs, ops), `forward f[${i}][${q}] = ${f[i * m + q]} vs ${s}`);
          assert.ok(close(fs[i * m + q]!, s, d, abs, ops), `forwardCsr f[${i}][${q}] = ${fs[i * m + q]} vs ${s}`);
        }
      const g0 = Float64Array.from({ length: m * d }, (_, i) => (i % 3) - 1);
      const g = withMem([X, R, g0], (px, pr, pg) => {
        k.linearBackward(n, m, d, px, d, pr, alpha, pg);
        return core.f64(pg, m * d).slice();
      });
      const gs = withMem([...csrArgs, R, g0], (pi, pj, pv, pr, pg) => {
        k.linearBackwardCsr(n, m, d, pi, pj, pv, pr, alpha, pg);
        return core.f64(pg, m * d).slice();
      });
      for (let q = 0; q < m; q++)
        for (let j = 0; j < d; j++) {
          let s = g0[q * d + j]!,
            abs = Math.abs(s),
            ops = 0;
          for (let i = 0; i < n; i++) {
            const t = alpha * R[i * m + q]! * X[i * d + j]!;
            s += t;
            abs += Math.abs(t);
            ops += (Math.abs(R[i * m + q]!) + Math.abs(X[i * d + j]!)) * (1 + Math.abs(alpha));
          }
          assert.ok(close(g[q * d + j]!, s, n + 2, abs, ops), `backward g[${q * d + j}] = ${g[q * d + j]} vs ${s}`);
          assert.ok(close(gs[q * d + j]!, s, n + 2, abs, ops), `backwardCsr g[${q * d + j}] = ${gs[q * d + j]} vs ${s}`);
        }
    }),
    params(),
  );
});

// ---- likelihood kernels ---------------------------------------------------------------------------------
type LikCase = { lik: RefProblem['lik']; n: number; c: number; f: number[]; y: number[] };
const likCase: fc.Arbitrary<LikCase> = fc.oneof(
  fc.record({ variance: fc.double({ min: 1e-3, max: 1e3, noNaN: true }), n: fc.integer({ min: 0, max: 9 }) }).chain(({ variance, n }) =>
    fc.record({
      lik: fc.constant({ name: 'gaussian' as const, variance }),
      n: fc.constant(n),
      c: fc.constant(1),
      f: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: n, maxLength: n }),
      y: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: n, maxLength: n }),
    }),
  ),
  fc.record({ clip: fc.constantFrom(0, 1e-8, 1e-3), n: fc.integer({ min: 0, max: 9 }) }).chain(({ clip, n }) =>
    fc.record({
      lik: fc.constant({ name: 'bernoulli' as const, clip }),
      n: fc.constant(n),
      c: fc.constant(1),
      f: fc.array(fc.oneof(fc.double({ min: -30, max: 30, noNaN: true }), fc.double({ min: -1e4, max: 1e4, noNaN: true })), { minLength: n, maxLength: n }),
      y: fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }),
    }),
  ),
  fc.record({ n: fc.integer({ min: 0, max: 9 }) }).chain(({ n }) =>
    fc.record({
      lik: fc.constant({ name: 'poisson' as const }),
      n: fc.constant(n),
      c: fc.constant(1),
      f: fc.array(fc.double({ min: -700, max: 700, noNaN: true }), { minLength: n, maxLength: n }),
      y: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: n, maxLength: n }),
    }),
  ),
  fc.record({ classes: fc.integer({ min: 2, max: 6 }), n: fc.integer({ min: 0, max: 7 }) }).chain(({ classes, n }) =>
    fc.record({
      lik: fc.constant({ name: 'categorical' as const, classes }),
      n: fc.constant(n),
      c: fc.constant(classes),
      f: fc.array(fc.oneof(fc.double({ min: -30, max: 30, noNaN: true }), fc.double({ min: -1e4, max: 1e4, noNaN: true })), { minLength: n * classes, maxLength: n * classes }),
      y: fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: n, maxLength: n }),
    }),
  ),
);

/** Numerically stable per-sample references (the glm.ts reference overflows for the exact Bernoulli at |f| ≫ 30). */
function stableSample(lik: RefProblem['lik'], f: number[], y: number): { loss: number; r: number[]; lam: number[][] } {
  if (lik.name === 'bernoulli' && lik.clip === 0) {
    const z = f[0]!,
      e = Math.exp(-Math.abs(z));
    const s = z >= 0 ? 1 / (1 + e) : e / (1 + e),
      sb = z >= 0 ? e / (1 + e) : 1 / (1 + e);
    return { loss: Math.max(z, 0) + Math.log1p(e) - y * z, r: [s - y], lam: [[s * sb]] };
  }
  return sampleRef({ lik } as RefProblem, f, y);
}

test('likelihood kernels match the reference; logistic and softmax stay finite for |f| ≤ 1e4 (loss, r, Λ)', () => {
  fc.assert(
    fc.property(likCase, ({ lik, n, c, f, y }) => {
      const F = Float64Array.from(f),
        Y = Float64Array.from(y);
      const { total, r, lam } = withMem([F, Y, n * c, n * c * c], (pf, py, pr, pl) => {
        let total: number;
        switch (lik.name) {
          case 'gaussian':
            total = k.likGaussian(n, pf, py, 1 / lik.variance, pr, pl);
            break;
          case 'bernoulli':
            total = k.likBernoulli(n, pf, py, lik.clip, pr, pl);
            break;
          case 'poisson':
            total = k.likPoisson(n, pf, py, pr, pl);
            break;
          case 'categorical':
            total = k.likCategorical(n, lik.classes, pf, py, pr, pl);
            break;
        }
        return { total, r: core.f64(pr, n * c).slice(), lam: core.f64(pl, n * c * (lik.name === 'categorical' ? c : 1)).slice() };
      });
      assert.ok(Number.isFinite(total), `${lik.name}: total loss ${total}`);
      let sum = 0,
        abs = 0;
      for (let i = 0; i < n; i++) {
        const ref = stableSample(lik, f.slice(i * c, (i + 1) * c), y[i]!);
        sum += ref.loss;
        abs += Math.abs(ref.loss);
        const tag = `${lik.name} f=${f.slice(i * c, (i + 1) * c)} y=${y[i]}`;
        for (let a = 0; a < c; a++) {
          assert.ok(Number.isFinite(r[i * c + a]!), `${tag}: r not finite`);
          const scaleR = lik.name === 'poisson' ? Math.abs(ref.r[a]!) + y[i]! : Math.abs(ref.r[a]!) + 1;
          assert.ok(Math.abs(r[i * c + a]! - ref.r[a]!) <= 64 * EPS * scaleR, `${tag}: r ${r[i * c + a]} vs ${ref.r[a]}`);
          if (lik.name === 'bernoulli' || lik.name === 'categorical') assert.ok(Math.abs(r[i * c + a]!) <= 1, `${tag}: |r| > 1`);
        }
        const L = lik.name === 'categorical' ? ref.lam.flat() : [ref.lam[0]![0]!];
        for (let q = 0; q < L.length; q++) {
          const v = lam[i * L.length + q]!;
          assert.ok(Number.isFinite(v), `${tag}: Λ not finite`);
          assert.ok(Math.abs(v - L[q]!) <= 64 * EPS * (Math.abs(L[q]!) + (lik.name === 'poisson' || lik.name === 'gaussian' ? 0 : 1)), `${tag}: Λ ${v} vs ${L[q]}`);
        }
        if (lik.name === 'bernoulli') assert.ok(lam[i]! >= 0 && lam[i]! <= 0.25, `${tag}: Λ = ${lam[i]} outside [0, 1/4]`);
      }
      // Σ ℓ: the per-sample losses are computed as differences of large terms for Poisson/categorical.
      const tol = 64 * (n + 2) * EPS * (abs + f.reduce((s, v, i) => s + Math.abs(v) * (lik.name === 'poisson' ? y[i]! : 1) + (lik.name === 'poisson' ? Math.exp(v) : 0), 0)) + 1e-300;
      assert.ok(Math.abs(total - sum) <= tol, `${lik.name}: Σℓ = ${total} vs ${sum} (tol ${tol})`);
    }),
    params(),
  );
});

// ---- Poisson overflow: an infinite loss, reported, never NaN -----------------------------------------------
test('Poisson: exp(f) overflow gives loss = +Infinity and a NonFiniteLossError from the gradient/curvature, never NaN', () => {
  const poissonCase = fc.record({ N: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 4 }), t0: fc.double({ min: -800, max: 800, noNaN: true }) }).chain((c) =>
    fc.record({
      c: fc.constant(c),
      u: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: c.N * c.d, maxLength: c.N * c.d }),
      yy: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: c.N, maxLength: c.N }),
    }),
  );
  fc.assert(
    fc.property(poissonCase, ({ c: { N, d, t0 }, u, yy }) => {
      const X = { data: Float64Array.from(u), rows: N, cols: d };
      const y = Float64Array.from(yy);
      const p = linearProblem({ X, y, likelihood: poisson() });
      try {
        const theta = Float64Array.from({ length: d }, (_, j) => t0 * (j === 0 ? 1 : 0.5));
        let maxF = -Infinity;
        for (let i = 0; i < N; i++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += X.data[i * d + j]! * theta[j]!;
          maxF = Math.max(maxF, s);
        }
        const loss = p.loss(theta);
        assert.not.ok(Number.isNaN(loss), 'loss is NaN');
        if (maxF > 709.8) {
          assert.is(loss, Infinity);
          for (const call of [() => p.gradient(theta), () => p.fisher(theta), () => p.empiricalFisher(theta, { structure: 'diagonal' }), () => p.hessianVectorProduct(theta, theta)]) {
            try {
              call();
              assert.unreachable('no error');
            } catch (e) {
              assert.instance(e, NonFiniteLossError);
              assert.instance(e, RangeError);
              assert.match((e as Error).message, /exp\(f\) overflows/);
            }
          }
        } else if (Number.isFinite(loss)) {
          let g: Float64Array | undefined;
          try {
            g = p.gradient(theta);
          } catch (e) {
            assert.instance(e, NonFiniteLossError);
          } // a sum may still overflow
          if (g) assert.ok(g.every(Number.isFinite), 'a gradient with a finite loss is finite');
        }
      } finally {
        p.free();
      }
    }),
    params(Math.ceil(RUNS / 5)),
  );
});

test('Poisson: optimizers treat an overflowing step as divergence (status and +Infinity loss recorded, no NaN)', () => {
  fc.assert(
    fc.property(fc.double({ min: 10, max: 1e6, noNaN: true }), fc.boolean(), fc.boolean(), (lr, useNgd, withFactor) => {
      const p = linearProblem({
        X: [
          [1, 2],
          [1, 0.5],
          [1, -1],
          [1, 3],
        ],
        y: [5, 2, 0, 9],
        likelihood: poisson(),
      });
      try {
        const opt = useNgd ? ngd(p, { lr, damping: 1e-3 }) : gd(p, { lr });
        const rec = opt.run([0, 0], { iterations: 50, ...(withFactor ? { divergenceFactor: 100 } : {}) });
        assert.not.ok(rec.losses.some(Number.isNaN), `NaN loss in ${rec.losses}`);
        assert.not.ok(rec.gradNorms.some(Number.isNaN), 'NaN gradient norm');
        assert.ok(rec.theta.every(Number.isFinite), 'θ stays finite');
        const last = rec.losses[rec.losses.length - 1]!;
        if (last === Infinity) {
          assert.ok(rec.status === (withFactor ? 'stopped' : 'failed'), `status ${rec.status}`);
          assert.match(rec.reason ?? '', /diverged|overflow/);
        }
      } finally {
        p.free();
      }
    }),
    params(Math.ceil(RUNS / 10)),
  );
  // and one deterministic divergence
  const p = linearProblem({
    X: [
      [1, 2],
      [1, 0.5],
    ],
    y: [5, 2],
    likelihood: poisson(),
  });
  const rec = gd(p, { lr: 1e4 }).run([0, 0], { iterations: 10, divergenceFactor: 100 });
  assert.is(rec.status, 'stopped');
  assert.is(rec.losses[rec.losses.length - 1], Infinity);
  p.free();
});

// ---- parsers on randomly corrupted files ------------------------------------------------------------------
const TOKENS = [
  ',',
  ':',
  '\n',
  '\r\n',
  '\r',
  ' ',
  '\t',
  '#',
  '-',
  '+',
  '.',
  'e',
  'E',
  '0',
  '9',
  '1',
  'x',
  'NaN',
  'Infinity',
  '1e999',
  '1e-999',
  '\u00a0',
  '\ufeff',
  '\0',
  '99999999999',
  '2147483648',
  '\u2028',
  '""',
  '0x1f',
  '1_0',
];
const mutation = fc.record({
  op: fc.constantFrom('insert', 'delete', 'replace', 'dupline', 'truncate', 'blankline'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  len: fc.integer({ min: 1, max: 8 }),
  tok: fc.constantFrom(...TOKENS),
});
type Mutation = { op: string; at: number; len: number; tok: string };

function mutate(text: string, muts: Mutation[]): string {
  let t = text;
  for (const m of muts) {
    const i = Math.floor(m.at * t.length);
    switch (m.op) {
      case 'insert':
        t = t.slice(0, i) + m.tok + t.slice(i);
        break;
      case 'delete':
        t = t.slice(0, i) + t.slice(i + m.len);
        break;
      case 'replace':
        t = t.slice(0, i) + m.tok + t.slice(i + m.len);
        break;
      case 'truncate':
        t = t.slice(0, i);
        break;
      case 'blankline':
        t = t.slice(0, i) + '\n  \n' + t.slice(i);
        break;
      case 'dupline': {
        const a = t.lastIndexOf('\n', i) + 1,
          b = t.indexOf('\n', i);
        const line = t.slice(a, b < 0 ? t.length : b);
        t = t.slice(0, a) + line + '\n' + t.slice(a);
        break;
      }
    }
  }
  return t;
}

const num = fc.oneof(
  fc.integer({ min: -999, max: 999 }).map(String),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => String(v)),
  fc.constantFrom('.5', '-0.25', '1e-3', '+2', '3.'),
);
const DEC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/; // the oracle's own number rule (inputs are small here)
const oracleNumber = (s: string): number | undefined => {
  const t = s.trim();
  if (!DEC.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
};
const oracleLines = (text: string) =>
  (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
    .split('\n')
    .map((s) => (s.endsWith('\r') ? s.slice(0, -1) : s))
    .filter((s) => s.trim() !== '');

/** The oracle for headerless CSV: the table, or undefined when the file is invalid. */
function oracleCsv(text: string): { X: number[]; y: number[]; d: number } | undefined {
  const lines = oracleLines(text);
  if (lines.length === 0) return undefined;
  const d = lines[0]!.split(',').length - 1;
  if (d < 1) return undefined;
  const X: number[] = [],
    y: number[] = [];
  for (const l of lines) {
    const f = l.split(',');
    if (f.length !== d + 1) return undefined;
    const v = f.map(oracleNumber);
    if (v.some((x) => x === undefined)) return undefined;
    X.push(...(v.slice(0, d) as number[]));
    y.push(v[d]!);
  }
  return { X, y, d };
}

/** The oracle for LIBSVM: CSR arrays, or undefined when the file is invalid. */
function oracleLibsvm(text: string): { y: number[]; indptr: number[]; indices: number[]; values: number[]; cols: number } | undefined {
  const y: number[] = [],
    indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  let cols = 0;
  for (const raw of oracleLines(text)) {
    const body = raw.includes('#') ? raw.slice(0, raw.indexOf('#')) : raw;
    const toks = body.trim().split(/\s+/);
    if (toks[0] === '') continue;
    const label = oracleNumber(toks[0]!);
    if (label === undefined) return undefined;
    y.push(label);
    let prev = 0;
    for (const tok of toks.slice(1)) {
      const m = /^([+-]?\d+):(.*)$/s.exec(tok);
      if (!m) return undefined;
      const idx = Number(m[1]),
        v = oracleNumber(m[2]!);
      if (!(idx >= 1 && idx <= 2 ** 31 - 1 && idx > prev) || v === undefined) return undefined;
      indices.push(idx - 1);
      values.push(v);
      prev = idx;
    }
    cols = Math.max(cols, prev);
    indptr.push(indices.length);
  }
  if (y.length === 0) return undefined;
  return { y, indptr, indices, values, cols };
}

const csvFile = fc
  .record({ n: fc.integer({ min: 1, max: 8 }), d: fc.integer({ min: 1, max: 5 }) })
  .chain(({ n, d }) => fc.array(fc.array(num, { minLength: d + 1, maxLength: d + 1 }), { minLength: n, maxLength: n }))
  .map((rows) => rows.map((r) => r.join(',')).join('\n') + '\n');
const svmFile = fc
  .array(fc.tuple(fc.constantFrom('+1', '-1', '0', '2.5'), fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }), fc.array(num, { minLength: 6, maxLength: 6 })), {
    minLength: 1,
    maxLength: 8,
  })
  .map((rows) => rows.map(([l, idx, v]) => [l, ...idx.sort((a, b) => a - b).map((i, j) => `${i}:${v[j]}`)].join(' ')).join('\n') + '\n');
const corrupted = (file: fc.Arbitrary<string>) => fc.tuple(file, fc.array(mutation, { minLength: 0, maxLength: 4 })).map(([t, m]) => mutate(t, m));

/** A parse either throws a DataFormatError naming the file and a line in range, or agrees with the oracle. */
function expectTyped(e: unknown, file: string, text: string): void {
  assert.not.ok(e instanceof WebAssembly.RuntimeError);
  assert.instance(e, DataFormatError, `not a DataFormatError: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  const f = e as DataFormatError;
  assert.ok(f.file.startsWith(file), `file ${f.file}`);
  assert.ok(f.line >= 1 && f.line <= text.split('\n').length + 1, `line ${f.line} out of range`);
  assert.ok(f.message.length < 400, 'message too long');
}

test('parsers: corrupted CSV files never hang, never throw untyped errors, never return partial data', () => {
  fc.assert(
    fc.property(corrupted(csvFile), (text) => {
      const t0 = performance.now();
      const want = oracleCsv(text);
      let got: ReturnType<typeof parseSklearnCsv> | undefined;
      try {
        got = parseSklearnCsv(text, 'fuzz.csv', { headerLines: 0 });
      } catch (e) {
        expectTyped(e, 'fuzz.csv', text);
      }
      assert.ok(performance.now() - t0 < 500, 'parse took too long');
      if (!got) {
        assert.is(want, undefined, `rejected a valid file: ${JSON.stringify(text)}`);
        return;
      }
      assert.ok(want, `accepted an invalid file: ${JSON.stringify(text)}`);
      assert.is(got.X.cols, want!.d);
      assert.equal(Array.from(got.X.data), want!.X);
      assert.equal(Array.from(got.y), want!.y);
      assert.is(got.names.length, want!.d);
    }),
    params(Math.ceil(RUNS / 2)),
  );
});

test('parsers: corrupted LIBSVM files never hang, never throw untyped errors, never return partial data', () => {
  fc.assert(
    fc.property(corrupted(svmFile), (text) => {
      const t0 = performance.now();
      const want = oracleLibsvm(text);
      let got: ReturnType<typeof parseLibsvm> | undefined;
      try {
        got = parseLibsvm(text, 'fuzz.svm');
      } catch (e) {
        expectTyped(e, 'fuzz.svm', text);
      }
      assert.ok(performance.now() - t0 < 500, 'parse took too long');
      if (!got) {
        assert.is(want, undefined, `rejected a valid file: ${JSON.stringify(text)}`);
        return;
      }
      assert.ok(want, `accepted an invalid file: ${JSON.stringify(text)}`);
      assert.equal(Array.from(got.y), want!.y);
      assert.equal(Array.from(got.X.indptr), want!.indptr);
      assert.equal(Array.from(got.X.indices), want!.indices);
      assert.equal(Array.from(got.X.values), want!.values);
      assert.is(got.X.cols, want!.cols);
      if (got.X.cols <= 2 ** 16) assert.is(got.names.length, got.X.cols);
    }),
    params(Math.ceil(RUNS / 2)),
  );
});

test('parsers: corrupted UCI triplets never hang and give consistent data or a DataFormatError', () => {
  const uci = fc.record({
    data: corrupted(csvFile.map((t) => t.replaceAll(',', ' '))),
    feats: corrupted(fc.constantFrom('0\n1\n', '0 1\n', '1\n')),
    target: corrupted(fc.constantFrom('2\n', '1\n', '0\n')),
  });
  fc.assert(
    fc.property(uci, ({ data, feats, target }) => {
      const t0 = performance.now();
      try {
        const ds = parseUci(data, feats, target, 'fz');
        assert.is(ds.y.length, ds.X.rows);
        assert.is(ds.X.data.length, ds.X.rows * ds.X.cols);
        assert.ok(ds.X.data.every(Number.isFinite) && ds.y.every(Number.isFinite));
        assert.is(ds.names.length, ds.X.cols);
      } catch (e) {
        assert.instance(e, DataFormatError, `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
        assert.ok((e as DataFormatError).file.startsWith('fz/'));
      }
      assert.ok(performance.now() - t0 < 500, 'parse took too long');
    }),
    params(Math.ceil(RUNS / 5)),
  );
});

test('parsers: long lines are linear-time (a 10 MB line of digits and garbage parses or fails within a second)', () => {
  for (const body of ['1'.repeat(10 * 2 ** 20) + 'x', '1.' + '2'.repeat(10 * 2 ** 20) + 'e', '-' + '9'.repeat(10 * 2 ** 20) + '.5.5']) {
    const t0 = performance.now();
    try {
      parseSklearnCsv(`1,0\n${body},1\n`, 'long.csv', { headerLines: 0 });
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, DataFormatError);
    }
    try {
      parseLibsvm(`1 1:${body}\n`, 'long.svm');
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, DataFormatError);
    }
    assert.ok(performance.now() - t0 < 1000, `10 MB line took ${performance.now() - t0} ms`);
  }
});

test.run();
