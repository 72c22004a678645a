// General matrix product (assembly/linalg/gemm.ts, `dgemm`) against test/reference/gemm.ts:
// all four transpose cases, odd sizes (SIMD and micro-tile tails), sizes crossing the packing
// blocks, leading dimensions larger than the width (padding filled with NaN must never be read,
// padding of C must never be written), alpha/beta combinations, beta = 0 over NaN, k = 0.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, reductionTol, assertClose } from '../helpers.js';
import { gemmRef, gemmMaxTermRef } from '../reference/gemm.js';

const kx = core.exports;
const C_PAD = 12345.5; // sentinel in C's padding columns: must survive every call

interface Case {
  tA: number;
  tB: number;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  padA?: number;
  padB?: number;
  padC?: number;
  nanC?: boolean;
  seed?: number;
  /** Place A, B and C at addresses ≡ 8 (mod 16): 8-byte alignment must suffice. */
  odd8?: boolean;
}

/** Run dgemm on random data for one case and compare with the reference (entries and padding). */
function check(cs: Case): void {
  const { tA, tB, m, n, k, alpha, beta } = cs;
  const seed = cs.seed ?? m * 7919 + n * 104729 + k * 31 + tA * 2 + tB;
  const [ra, ca] = tA ? [k, m] : [m, k]; // stored shape of A
  const [rb, cb] = tB ? [n, k] : [k, n]; // stored shape of B
  const lda = ca + (cs.padA ?? 0),
    ldb = cb + (cs.padB ?? 0),
    ldc = n + (cs.padC ?? 0);
  const A = new Float64Array(Math.max(ra * lda, 1)).fill(NaN);
  const B = new Float64Array(Math.max(rb * ldb, 1)).fill(NaN);
  const C = new Float64Array(Math.max(m * ldc, 1)).fill(C_PAD);
  const va = randomMatrix(ra, ca, seed),
    vb = randomMatrix(rb, cb, seed + 1),
    vc = randomMatrix(m, n, seed + 2);
  for (let r = 0; r < ra; r++) for (let c = 0; c < ca; c++) A[r * lda + c] = va[r * ca + c]!;
  for (let r = 0; r < rb; r++) for (let c = 0; c < cb; c++) B[r * ldb + c] = vb[r * cb + c]!;
  for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) C[r * ldc + c] = cs.nanC ? NaN : vc[r * n + c]!;

  const sh = cs.odd8 ? 1 : 0; // leading elements skipped
  const copy = (X: Float64Array) => {
    const Y = new Float64Array(X.length + sh);
    Y.set(X, sh);
    return core.allocCopy(Y);
  };
  const pa = copy(A),
    pb = copy(B),
    pc = copy(C);
  kx.dgemm(tA, tB, m, n, k, alpha, pa + 8 * sh, lda, pb + 8 * sh, ldb, beta, pc + 8 * sh, ldc);
  const got = core.f64(pc + 8 * sh, C.length).slice();
  core.free(pa);
  core.free(pb);
  core.free(pc);

  const maxTerm = gemmMaxTermRef(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  const want = C.slice();
  gemmRef(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, want, ldc);
  const name = `tA=${tA} tB=${tB} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} ld=${lda},${ldb},${ldc}`;
  const gotBlock = new Float64Array(m * n),
    wantBlock = new Float64Array(m * n),
    tol = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      gotBlock[r * n + c] = got[r * ldc + c]!;
      wantBlock[r * n + c] = want[r * ldc + c]!;
      // k products summed, plus the alpha scaling and the beta term: k + 2 roundings at most.
      tol[r * n + c] = reductionTol(k + 2, maxTerm[r * n + c]!);
    }
    for (let c = n; c < ldc; c++) assert.is(got[r * ldc + c], C_PAD, `${name}: padding of C written at (${r}, ${c})`);
  }
  assertClose(gotBlock, wantBlock, tol, name);
}

const TRANS: [number, number][] = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];

test('dgemm: all transposes, odd and tiny sizes', () => {
  const dims = [1, 2, 3, 5, 7];
  for (const [tA, tB] of TRANS) {
    for (const m of dims) for (const n of dims) for (const k of dims) check({ tA, tB, m, n, k, alpha: 1, beta: 0 });
  }
});

test('dgemm: sizes around SIMD widths, micro-tiles and the small-size fallback', () => {
  const shapes: [number, number, number][] = [
    [17, 63, 65],
    [65, 17, 63],
    [63, 65, 17],
    [4, 4, 4],
    [8, 8, 8],
    [9, 9, 9],
    [16, 32, 16],
    [31, 33, 32],
    [32, 32, 32],
    [33, 31, 34],
    [48, 48, 48],
    [64, 64, 64],
    [65, 65, 65],
    [100, 3, 100],
    [3, 100, 100],
    [100, 100, 3],
  ];
  for (const [tA, tB] of TRANS) for (const [m, n, k] of shapes) check({ tA, tB, m, n, k, alpha: 1, beta: 0 });
});

test('dgemm: sizes crossing the packing blocks (MC = 64 rows, NC = 256 columns, KC = 128), several blocks each', () => {
  const shapes: [number, number, number][] = [
    [513, 5, 7],
    [5, 513, 7],
    [7, 5, 1025],
    [130, 261, 600],
    [261, 130, 257],
  ];
  for (const [tA, tB] of TRANS) for (const [m, n, k] of shapes) check({ tA, tB, m, n, k, alpha: 0.75, beta: -0.5, padA: 1, padB: 2, padC: 3 });
});

test('dgemm: leading dimensions larger than the width', () => {
  for (const [tA, tB] of TRANS) {
    for (const [m, n, k] of [
      [5, 7, 3],
      [17, 9, 33],
      [40, 37, 70],
    ] as [number, number, number][]) {
      check({ tA, tB, m, n, k, alpha: 1, beta: 1, padA: 3, padB: 5, padC: 2 });
      check({ tA, tB, m, n, k, alpha: -2, beta: 0.5, padA: 1, padB: 0, padC: 7 });
    }
  }
});

test('dgemm: 8-byte (not 16-byte) aligned A, B and C', () => {
  for (const [tA, tB] of TRANS) {
    check({ tA, tB, m: 37, n: 29, k: 41, alpha: 1, beta: 0.5, odd8: true, padC: 1 });
    check({ tA, tB, m: 6, n: 5, k: 3, alpha: -1, beta: 0, odd8: true });
  }
});

test('dgemm: alpha/beta combinations; beta = 0 overwrites NaN in C', () => {
  const ab: [number, number][] = [
    [1, 0],
    [1, 1],
    [-1, 1],
    [2.5, -0.5],
    [0, 3],
    [0, 0],
    [1e-3, 1e3],
  ];
  for (const [tA, tB] of TRANS) {
    for (const [alpha, beta] of ab) {
      check({ tA, tB, m: 13, n: 11, k: 9, alpha, beta, padC: 1 });
      check({ tA, tB, m: 70, n: 67, k: 80, alpha, beta, padC: 1 });
    }
    for (const [m, n, k] of [
      [1, 1, 1],
      [5, 3, 7],
      [6, 6, 6],
      [70, 67, 80],
      [70, 66, 80],
      [300, 21, 40],
    ] as [number, number, number][]) {
      check({ tA, tB, m, n, k, alpha: 1.5, beta: 0, nanC: true, padC: 2 });
    }
  }
});

test('dgemm: beta = 0 gives exactly alpha·op(A)·op(B) even where C held NaN or Infinity', () => {
  const m = 9,
    n = 10,
    k = 6;
  const A = randomMatrix(m, k, 1),
    B = randomMatrix(k, n, 2);
  const pa = core.allocCopy(A),
    pb = core.allocCopy(B),
    pc = core.alloc(8 * m * n);
  core.f64(pc, m * n).fill(Infinity);
  core.f64(pc, m * n)[3] = NaN;
  kx.dgemm(0, 0, m, n, k, 1, pa, k, pb, n, 0, pc, n);
  const got = core.f64(pc, m * n).slice();
  core.free(pa);
  core.free(pb);
  core.free(pc);
  for (const v of got) assert.ok(Number.isFinite(v), 'every entry finite');
});

test('dgemm: k = 0 gives C ← beta·C (and C ← 0 for beta = 0, over NaN)', () => {
  for (const [tA, tB] of TRANS) {
    for (const beta of [0, 1, -2]) {
      check({ tA, tB, m: 6, n: 5, k: 0, alpha: 1, beta, padC: 2 });
      check({ tA, tB, m: 300, n: 70, k: 0, alpha: 2, beta, padC: 1 });
    }
    check({ tA, tB, m: 4, n: 3, k: 0, alpha: 1, beta: 0, nanC: true });
  }
  // Exact values: beta·C, with nothing else mixed in.
  const m = 3,
    n = 4;
  const C = Float64Array.from({ length: m * n }, (_, i) => i - 5.5);
  const pc = core.allocCopy(C);
  kx.dgemm(0, 0, m, n, 0, 1, 0, 1, 0, n, -2, pc, n);
  assert.equal(
    Array.from(core.f64(pc, m * n)),
    Array.from(C, (v) => -2 * v),
  );
  core.free(pc);
});

test('dgemm: m = 0 or n = 0 touches nothing', () => {
  const C = Float64Array.from({ length: 8 }, (_, i) => i + 0.25);
  const pc = core.allocCopy(C);
  const A = randomMatrix(4, 4, 3),
    pa = core.allocCopy(A);
  kx.dgemm(0, 0, 0, 4, 4, 1, pa, 4, pa, 4, 0, pc, 4);
  kx.dgemm(1, 1, 2, 0, 4, 1, pa, 4, pa, 4, 0, pc, 4);
  assert.equal(Array.from(core.f64(pc, 8)), Array.from(C));
  core.free(pc);
  core.free(pa);
});

test('dgemm: the MLP shapes (Z = A Wᵀ, grad W = Δᵀ A, backprop Δ W) at N = 520', () => {
  check({ tA: 0, tB: 1, m: 520, n: 256, k: 64, alpha: 1, beta: 0 });
  check({ tA: 1, tB: 0, m: 256, n: 64, k: 520, alpha: 1 / 520, beta: 1 });
  check({ tA: 0, tB: 0, m: 520, n: 64, k: 256, alpha: 1, beta: 0 });
});

test('dgemm property: random shapes, transposes, paddings, alpha and beta (fast-check)', () => {
  const RUNS = Math.max(20, Math.floor(Number(process.env.NATGRAD_FC_RUNS ?? 5000) / 25));
  const seedEnv = process.env.NATGRAD_FC_SEED;
  fc.assert(
    fc.property(
      fc.record({
        tA: fc.integer({ min: 0, max: 1 }),
        tB: fc.integer({ min: 0, max: 1 }),
        m: fc.integer({ min: 0, max: 40 }),
        n: fc.integer({ min: 0, max: 40 }),
        k: fc.integer({ min: 0, max: 70 }),
        alpha: fc.constantFrom(1, -1, 0.5, 3, 0),
        beta: fc.constantFrom(0, 1, -0.25, 2),
        padA: fc.integer({ min: 0, max: 3 }),
        padB: fc.integer({ min: 0, max: 3 }),
        padC: fc.integer({ min: 0, max: 3 }),
        nanC: fc.boolean(),
        odd8: fc.boolean(),
        seed: fc.integer({ min: 1, max: 1 << 20 }),
      }),
      (cs) => {
        check({ ...cs, nanC: cs.nanC && cs.beta === 0 });
      },
    ),
    { numRuns: RUNS, ...(seedEnv === undefined ? {} : { seed: Number(seedEnv) }) },
  );
});

test.run();
