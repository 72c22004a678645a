// Float32 general matrix product (assembly/linalg/sgemm.ts, `sgemm`) against the float64 reference
// on float32 data (test/reference/sgemm.ts), entry by entry within float32's error bound
// γ_{k+B+1} · (|alpha| Σ_l |a_il||b_lj| + |beta c_ij|) (the kernel header's bound: at most
// k + B + 1 roundings per term, B = ⌈k/256⌉ k-blocks; the final rounding to float32 included): all four transpose cases, odd sizes (SIMD and 4 × 8 micro-tile tails), sizes crossing
// the packing blocks, leading dimensions larger than the width (padding of A and B filled with NaN
// must never be read, padding of C must never be written), guard words before and after C,
// alpha/beta combinations, beta = 0 over NaN, k = 0, m or n = 0, 4-byte alignment, the
// accumulation really in float32, the shared workspace's bounds, and 1, 2 and 3 threads bitwise
// identical.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, type Core } from '../../bindings/index.js';
import { core, randomMatrix, variant } from '../helpers.js';
import { sgemmAbsRef, sgemmRef } from '../reference/sgemm.js';

const kx = core.exports;
/** float32's unit roundoff u = 2⁻²⁴. */
const U32 = 2 ** -24;
/** The kernel's largest k-block (sgemm.ts KC): the bound counts one rounding per k-block. */
const KC = 256;
const C_PAD = 12345.5; // sentinel in C's padding columns: must survive every call
const GUARD = -777.25; // sentinel in the words just before and after C
const GUARD_WORDS = 8;

/** γ_j = j·u / (1 − j·u) for float32 (Higham's constant for j roundings). */
function gamma32(j: number): number {
  return (j * U32) / (1 - j * U32);
}

/** A fresh float32 view of `length` entries at byte address `ptr` of core c. */
function f32(c: Core, ptr: number, length: number): Float32Array {
  return new Float32Array(c.exports.memory.buffer, ptr, length);
}

/** Allocate and fill with a copy of `data` as float32; returns the byte address. */
function allocF32(c: Core, data: ArrayLike<number>): number {
  const ptr = c.alloc(Math.max(4 * data.length, 4));
  f32(c, ptr, data.length).set(data);
  return ptr;
}

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
  /** Shift A, B and C by this many floats from the 16-byte-aligned block (4-byte alignment must suffice). */
  shift?: number;
}

/**
 * Run sgemm on random float32 data for one case and compare with the reference (entries within
 * the bound, padding and guard words untouched). Returns the computed m × n block and the
 * exact (float64) values, for further checks.
 */
function check(cs: Case): { got: Float32Array; exact: Float64Array } {
  const { tA, tB, m, n, k, alpha, beta } = cs;
  const seed = cs.seed ?? m * 7919 + n * 104729 + k * 31 + tA * 2 + tB;
  const [ra, ca] = tA ? [k, m] : [m, k]; // stored shape of A
  const [rb, cb] = tB ? [n, k] : [k, n]; // stored shape of B
  const lda = ca + (cs.padA ?? 0),
    ldb = cb + (cs.padB ?? 0),
    ldc = n + (cs.padC ?? 0);
  const A = new Float32Array(Math.max(ra * lda, 1)).fill(NaN);
  const B = new Float32Array(Math.max(rb * ldb, 1)).fill(NaN);
  const C = new Float32Array(Math.max(m * ldc, 1)).fill(C_PAD);
  const va = randomMatrix(ra, ca, seed),
    vb = randomMatrix(rb, cb, seed + 1),
    vc = randomMatrix(m, n, seed + 2);
  for (let r = 0; r < ra; r++) for (let c = 0; c < ca; c++) A[r * lda + c] = va[r * ca + c]!;
  for (let r = 0; r < rb; r++) for (let c = 0; c < cb; c++) B[r * ldb + c] = vb[r * cb + c]!;
  for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) C[r * ldc + c] = cs.nanC ? NaN : vc[r * n + c]!;

  const sh = cs.shift ?? 0;
  const place = (X: Float32Array, guard: number) => {
    const Y = new Float32Array(sh + guard + X.length + guard).fill(GUARD);
    Y.set(X, sh + guard);
    return allocF32(core, Y);
  };
  const pa = place(A, 0),
    pb = place(B, 0),
    pc = place(C, GUARD_WORDS);
  const cAddr = pc + 4 * (sh + GUARD_WORDS);
  kx.sgemm(tA, tB, m, n, k, alpha, pa + 4 * sh, lda, pb + 4 * sh, ldb, beta, cAddr, ldc);
  const all = f32(core, pc + 4 * sh, C.length + 2 * GUARD_WORDS).slice();
  for (const p of [pa, pb, pc]) core.free(p);
  const got = all.subarray(GUARD_WORDS, GUARD_WORDS + C.length);

  const name = `tA=${tA} tB=${tB} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} ld=${lda},${ldb},${ldc} shift=${sh}`;
  for (let g = 0; g < GUARD_WORDS; g++) {
    assert.is(all[g], GUARD, `${name}: guard word ${g - GUARD_WORDS} before C written`);
    assert.is(all[GUARD_WORDS + C.length + g], GUARD, `${name}: guard word ${g} after C written`);
  }
  const want = sgemmRef(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  const mag = sgemmAbsRef(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  const g = gamma32(k + Math.ceil(k / KC) + 1);
  const block = new Float32Array(m * n),
    exact = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      const x = got[r * ldc + c]!,
        w = want[r * ldc + c]!;
      // float32's bound, plus the float64 reference's own error (k·2⁻⁵³ of the same magnitudes).
      const tol = g * mag[r * n + c]! + (k + 2) * 2 ** -53 * mag[r * n + c]!;
      if (!(Math.abs(x - w) <= tol)) assert.unreachable(`${name}: C[${r}][${c}] = ${x}, reference ${w} (|Δ| = ${Math.abs(x - w)} > ${tol})`);
      block[r * n + c] = x;
      exact[r * n + c] = w;
    }
    for (let c = n; c < ldc; c++) assert.is(got[r * ldc + c], C_PAD, `${name}: padding of C written at (${r}, ${c})`);
  }
  return { got: block, exact };
}

const TRANS: [number, number][] = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];

test('sgemm: all transposes, odd and tiny sizes (1, 2, 3, 5, 7, 8, 9 in every m/n/k mix)', () => {
  const dims = [1, 2, 3, 5, 7, 8, 9];
  for (const [tA, tB] of TRANS) {
    for (const m of dims) for (const n of dims) for (const k of dims) check({ tA, tB, m, n, k, alpha: 1, beta: 0 });
  }
});

test('sgemm: sizes 17, 63, 65, 129, 257 in m/n/k mixes (tiles, SIMD tails, the small-size fallback)', () => {
  const shapes: [number, number, number][] = [
    [17, 63, 65],
    [65, 17, 63],
    [63, 65, 17],
    [129, 17, 5],
    [5, 129, 17],
    [17, 5, 129],
    [257, 7, 65],
    [7, 257, 63],
    [63, 65, 257],
    [1, 257, 129],
    [257, 1, 129],
    [129, 257, 1],
    [4, 4, 4],
    [4, 8, 4],
    [3, 3, 7],
    [31, 33, 32],
    [100, 3, 100],
    [3, 100, 100],
  ];
  for (const [tA, tB] of TRANS) for (const [m, n, k] of shapes) check({ tA, tB, m, n, k, alpha: 1, beta: 0 });
});

test('sgemm: sizes crossing the packing blocks (MC = 64 rows, NC = 256 columns, KC = 256), several blocks each', () => {
  const shapes: [number, number, number][] = [
    [513, 9, 7],
    [5, 521, 7],
    [7, 9, 1025],
    [130, 261, 600],
    [261, 130, 513],
  ];
  for (const [tA, tB] of TRANS) for (const [m, n, k] of shapes) check({ tA, tB, m, n, k, alpha: 0.75, beta: -0.5, padA: 1, padB: 2, padC: 3 });
});

test('sgemm: leading dimensions larger than the width', () => {
  for (const [tA, tB] of TRANS) {
    for (const [m, n, k] of [
      [5, 7, 3],
      [17, 9, 33],
      [40, 37, 70],
      [65, 63, 129],
    ] as [number, number, number][]) {
      check({ tA, tB, m, n, k, alpha: 1, beta: 1, padA: 3, padB: 5, padC: 2 });
      check({ tA, tB, m, n, k, alpha: -2, beta: 0.5, padA: 1, padB: 0, padC: 7 });
    }
  }
});

test('sgemm: 4-byte (not 16-byte) aligned A, B and C', () => {
  for (const [tA, tB] of TRANS) {
    for (const shift of [1, 2, 3]) {
      check({ tA, tB, m: 37, n: 29, k: 41, alpha: 1, beta: 0.5, shift, padC: 1 });
      check({ tA, tB, m: 6, n: 5, k: 3, alpha: -1, beta: 0, shift });
    }
  }
});

test('sgemm: alpha/beta combinations (alpha and beta not representable in float32 included); beta = 0 overwrites NaN in C', () => {
  const ab: [number, number][] = [
    [1, 0],
    [1, 1],
    [-1, 1],
    [2.5, -0.5],
    [0, 3],
    [0, 0],
    [1e-3, 1e3],
    [0.1, -0.3],
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
      [70, 64, 80],
      [300, 21, 40],
    ] as [number, number, number][]) {
      const { got } = check({ tA, tB, m, n, k, alpha: 1.5, beta: 0, nanC: true, padC: 2 });
      for (const v of got) assert.ok(Number.isFinite(v), `NaN in C propagated (tA=${tA} tB=${tB} ${m}×${n}×${k})`);
    }
  }
});

test('sgemm: beta = 0 gives exactly alpha·op(A)·op(B) even where C held NaN or Infinity', () => {
  const m = 9,
    n = 10,
    k = 6;
  const pa = allocF32(core, randomMatrix(m, k, 1)),
    pb = allocF32(core, randomMatrix(k, n, 2)),
    pc = core.alloc(4 * m * n);
  f32(core, pc, m * n).fill(Infinity);
  f32(core, pc, m * n)[3] = NaN;
  kx.sgemm(0, 0, m, n, k, 1, pa, k, pb, n, 0, pc, n);
  const got = f32(core, pc, m * n).slice();
  for (const p of [pa, pb, pc]) core.free(p);
  for (const v of got) assert.ok(Number.isFinite(v), 'every entry finite');
});

test('sgemm: k = 0 or alpha = 0 gives C ← beta·C without reading A or B (C ← 0 for beta = 0, over NaN)', () => {
  for (const [tA, tB] of TRANS) {
    for (const beta of [0, 1, -2]) {
      check({ tA, tB, m: 6, n: 5, k: 0, alpha: 1, beta, padC: 2 });
      check({ tA, tB, m: 300, n: 70, k: 0, alpha: 2, beta, padC: 1 });
    }
    check({ tA, tB, m: 4, n: 3, k: 0, alpha: 1, beta: 0, nanC: true });
  }
  // Exact values: beta·C, with nothing else mixed in; A and B are null pointers (never read).
  const m = 3,
    n = 5;
  const C = Float32Array.from({ length: m * n }, (_, i) => i - 5.5);
  for (const [k, alpha] of [
    [0, 1],
    [4, 0],
  ]) {
    const pc = allocF32(core, C);
    kx.sgemm(0, 0, m, n, k!, alpha!, 0, 4, 0, n, -2, pc, n);
    assert.equal(
      Array.from(f32(core, pc, m * n)),
      Array.from(C, (v) => -2 * v),
    );
    core.free(pc);
  }
});

test('sgemm: m = 0 or n = 0 touches nothing (C and its guard words unchanged)', () => {
  const words = 16;
  const C = Float32Array.from({ length: words }, (_, i) => i + 0.25);
  const pc = allocF32(core, C);
  const pa = allocF32(core, randomMatrix(4, 4, 3));
  for (const [tA, tB] of TRANS) {
    kx.sgemm(tA, tB, 0, 4, 4, 1, pa, 4, pa, 4, 0, pc + 16, 4);
    kx.sgemm(tA, tB, 2, 0, 4, 1, pa, 4, pa, 4, 0, pc + 16, 4);
    kx.sgemm(tA, tB, 0, 0, 0, 1, pa, 4, pa, 4, 2, pc + 16, 4);
    kx.sgemm(tA, tB, -1, 3, 2, 1, pa, 4, pa, 4, 0, pc + 16, 4);
  }
  assert.equal(Array.from(f32(core, pc, words)), Array.from(C));
  core.free(pc);
  core.free(pa);
});

test('sgemm: the MLP shapes (Z = A Wᵀ, grad W = Δᵀ A, backprop Δ W) at N = 520', () => {
  check({ tA: 0, tB: 1, m: 520, n: 256, k: 64, alpha: 1, beta: 0 });
  check({ tA: 1, tB: 0, m: 256, n: 64, k: 520, alpha: 1 / 520, beta: 1 });
  check({ tA: 0, tB: 0, m: 520, n: 64, k: 256, alpha: 1, beta: 0 });
});

test('sgemm accumulates in float32: in order of k, each partial sum rounded to float32 (not float64 rounded once)', () => {
  // Row [1, u, u] of op(A) times a column of ones: in float32, 1 + u rounds (ties to even) to 1,
  // twice, so C = 1 exactly — fused or not, on the small and the packed path. Summed in float64
  // and rounded once, it would be fround(1 + 2u) = 1 + 2u ≠ 1.
  const u = 2 ** -24;
  const fromF64 = Math.fround(1 + 2 * u);
  assert.ok(fromF64 !== 1, 'the float64 sum rounds to a different float32');
  for (const [tA, tB] of TRANS) {
    for (const [m, n] of [
      [1, 1], // small path
      [9, 11], // packed path, with tile tails
    ]) {
      const k = 3;
      const A = new Float32Array(m * k),
        B = new Float32Array(k * n).fill(1);
      for (let i = 0; i < m; i++) {
        const row = [1, u, u];
        for (let l = 0; l < k; l++) A[tA ? l * m + i : i * k + l] = row[l]!;
      }
      const pa = allocF32(core, A),
        pb = allocF32(core, B),
        pc = core.alloc(4 * m * n);
      kx.sgemm(tA, tB, m, n, k, 1, pa, tA ? m : k, pb, tB ? k : n, 0, pc, n);
      const got = f32(core, pc, m * n).slice();
      for (const p of [pa, pb, pc]) core.free(p);
      for (let i = 0; i < m * n; i++) assert.is(got[i], 1, `tA=${tA} tB=${tB} ${m}×${n}: entry ${i} is ${got[i]} (float64 accumulation gives ${fromF64})`);
    }
  }
  // Random data, k = 257: float32 accumulation is off fround(exact) by several ulps in most
  // entries (a float64 accumulation rounded once would match it in all but ~1e-8 of them), and
  // still within the bound (check asserts it).
  for (const [tA, tB] of TRANS) {
    const { got, exact } = check({ tA, tB, m: 33, n: 35, k: 257, alpha: 1, beta: 0 });
    let differ = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== Math.fround(exact[i]!)) differ++;
    assert.ok(differ > 0.5 * got.length, `tA=${tA} tB=${tB}: only ${differ} of ${got.length} entries differ from the float64 result rounded to float32`);
  }
});

test("sgemm: uses dgemm's workspace and stays inside its gemmWorkspaceBytes(); dgemm is unaffected by sgemm calls in between", () => {
  const bytes = kx.gemmWorkspaceBytes();
  const sentinel = 0x5a5a5a5a;
  const block = core.alloc(bytes + 256);
  const ws = (block + 64 + 63) & ~63; // 64 guard bytes (at least) before, 128 after
  const i32 = () => new Int32Array(core.exports.memory.buffer, block, (bytes + 256) >> 2);
  i32().fill(sentinel);
  const before = (ws - block) >> 2,
    after = (ws + bytes - block) >> 2;
  kx.gemmSetWorkspace(ws);
  try {
    assert.is(kx.gemmWorkspace(), ws, 'gemmWorkspace reports the block set');
    // k = 512: two full k-blocks of 256; n = 600: full 256-column blocks; m = 200: 64-row blocks.
    for (const [tA, tB] of TRANS) check({ tA, tB, m: 200, n: 600, k: 512, alpha: 1, beta: 0.5, padC: 1 });
    const w = i32();
    for (let i = 0; i < before; i++) assert.is(w[i], sentinel, `word ${i - before} before the workspace written`);
    for (let i = after; i < w.length; i++) assert.is(w[i], sentinel, `word ${i - after} after the workspace written`);
    let used = 0;
    for (let i = before; i < after; i++) if (w[i] !== sentinel) used++;
    assert.ok(used > 0.9 * (after - before), `sgemm used ${used} of ${after - before} workspace words`);
  } finally {
    kx.gemmSetWorkspace(0);
  }
  // dgemm, sgemm, dgemm: the second dgemm equals the first bit for bit.
  const m = 70,
    n = 300,
    k = 260;
  const pa = core.allocCopy(randomMatrix(m, k, 5)),
    pb = core.allocCopy(randomMatrix(k, n, 6)),
    pc = core.alloc(8 * m * n);
  const sa = allocF32(core, randomMatrix(k, m, 7)),
    sb = allocF32(core, randomMatrix(n, k, 8)),
    sc = core.alloc(4 * m * n);
  kx.dgemm(0, 0, m, n, k, 1, pa, k, pb, n, 0, pc, n);
  const first = core.f64(pc, m * n).slice();
  kx.sgemm(1, 1, m, n, k, 1, sa, m, sb, k, 0, sc, n);
  kx.dgemm(0, 0, m, n, k, 1, pa, k, pb, n, 0, pc, n);
  const second = core.f64(pc, m * n).slice();
  for (const p of [pa, pb, pc, sa, sb, sc]) core.free(p);
  for (let i = 0; i < first.length; i++) if (!Object.is(first[i], second[i])) assert.unreachable(`dgemm entry ${i} changed after sgemm`);
});

test('sgemm property: random shapes, transposes, paddings, alignments, alpha and beta (fast-check)', () => {
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
        alpha: fc.constantFrom(1, -1, 0.5, 3, 0, 0.1),
        beta: fc.constantFrom(0, 1, -0.25, 2, 0.3),
        padA: fc.integer({ min: 0, max: 3 }),
        padB: fc.integer({ min: 0, max: 3 }),
        padC: fc.integer({ min: 0, max: 3 }),
        nanC: fc.boolean(),
        shift: fc.integer({ min: 0, max: 3 }),
        seed: fc.integer({ min: 1, max: 1 << 20 }),
      }),
      (cs) => {
        check({ ...cs, nanC: cs.nanC && cs.beta === 0 });
      },
    ),
    { numRuns: RUNS, ...(seedEnv === undefined ? {} : { seed: Number(seedEnv) }) },
  );
});

// Threads: the threaded core splits sgemm by rows (multiples of 4) or columns (multiples of 8);
// the results must be bitwise identical to one thread's for every transpose and beta.
const cores: Record<number, Core> = {
  1: await createCore({ variant, threads: 1 }),
  2: await createCore({ variant, threads: 2 }),
  3: await createCore({ variant, threads: 3 }),
};

test('sgemm: every transpose, row and column splits, odd shapes, several k-blocks, beta ≠ 0 — identical for 1, 2, 3 threads', () => {
  const shapes: [number, number, number][] = [
    [1037, 129, 75], // tall: rows split
    [67, 901, 83], // wide: columns split (multiples of 8)
    [35, 1001, 600], // wide, three k-blocks
    [513, 257, 2], // short k
    [6, 5000, 40], // few rows, wide
    [20000, 3, 9], // many rows, thin
  ];
  for (const [m, n, k] of shapes) {
    const A = randomMatrix(m, k, m + n),
      B = randomMatrix(k, n, k + 1),
      C0 = randomMatrix(m, n, 3);
    for (const [tA, tB] of TRANS) {
      const beta = tA + tB === 1 ? -0.5 : 0;
      const run = (c: Core) => {
        const a = allocF32(c, A),
          b = allocF32(c, B),
          cc = allocF32(c, C0);
        c.exports.sgemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, beta, cc, n);
        const out = f32(c, cc, m * n).slice();
        for (const p of [a, b, cc]) c.free(p);
        return out;
      };
      const one = run(cores[1]!);
      for (const t of [2, 3]) {
        const other = run(cores[t]!);
        for (let i = 0; i < one.length; i++) {
          if (!Object.is(one[i], other[i])) assert.unreachable(`sgemm ${m}×${n}×${k} tA=${tA} tB=${tB}: ${t} threads differ at entry ${i} (${other[i]} vs ${one[i]})`);
        }
      }
    }
  }
});

test.run();
