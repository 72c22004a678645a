// Float32 twins of the dense-layer helpers (assembly/nn/dense.ts: denseAugment32, denseMulRep32,
// denseOuterRows32, denseSquare32), of dzero (assembly/linalg/blas.ts: dzero32) and of the dense
// Gram kernel (assembly/linalg/gram.ts: dsyrkLower32, dsyrkLowerRange32), each run on
// float32-representable data against its float64 kernel on the same values:
// - copies and single products must match exactly: a product of two floats is exact in float64,
//   so the float32 result is the float64 one rounded once (Math.fround);
// - Gram entries within γ_j · (Σ_k |x_ki x_kj| + |C0_ij|), j = n + B + 2 roundings (n products
//   and sums, B k-block additions into C, B ≤ ⌈n/64⌉), plus the float64 kernel's own error;
// - the upper triangle of C, C's padding columns and X's padding columns are sentinels (NaN in X:
//   a read would poison the sums), C is accumulated into (non-zero start), odd n and d, d not a
//   multiple of 4, several k-blocks and the row-blocked path (d > 2040);
// - any split into column ranges [jb, je) (multiples of 4) is bitwise the whole call, and the
//   threaded core (1, 2 and 3 threads) gives bitwise the one-thread result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, type Core } from '../../bindings/index.js';
import { core, randomMatrix, variant } from '../helpers.js';

const kx = core.exports;
/** float32's unit roundoff u = 2⁻²⁴. */
const U32 = 2 ** -24;
const U64 = 2 ** -53;
const SENT = 12345.5; // sentinel (exact in float32) for entries a kernel must not write

/** γ_j = j·u / (1 − j·u) for unit roundoff u. */
function gamma(j: number, u = U32): number {
  return (j * u) / (1 - j * u);
}

/** Random normals rounded to float32, so float32 and float64 kernels see the same values. */
function f32Values(rows: number, cols: number, seed: number, scale = 1): Float64Array {
  return randomMatrix(rows, cols, seed).map((v) => Math.fround(scale * v));
}

function allocF32(c: Core, data: ArrayLike<number>): number {
  const p = c.alloc(Math.max(4 * data.length, 4));
  c.f32(p, data.length).set(data);
  return p;
}
function allocF64(c: Core, data: ArrayLike<number>): number {
  const p = c.alloc(Math.max(8 * data.length, 8));
  c.f64(p, data.length).set(data);
  return p;
}

/** Every entry of the float32 result equals the float64 result rounded to float32; returns how many needed rounding. */
function assertRoundedEqual(got: Float32Array, want: Float64Array, what: string): number {
  assert.is(got.length, want.length, `${what} length`);
  let rounded = 0;
  for (let i = 0; i < want.length; i++) {
    const w = Math.fround(want[i]!);
    if (w !== want[i]) rounded++;
    if (!Object.is(got[i], w)) assert.unreachable(`${what} entry ${i}: ${got[i]} vs ${w} (float64 ${want[i]})`);
  }
  return rounded;
}

/**
 * Run the float64 kernel and its float32 twin on the same buffers' values. `setup` lists the
 * planes (initial contents); `call` gets their addresses. Returns the planes after the calls.
 */
function runBoth(planes: Float64Array[], call: (k: typeof kx, ptrs: number[], bits: 32 | 64) => void): { p64: Float64Array[]; p32: Float32Array[] } {
  const q64 = planes.map((p) => allocF64(core, p));
  call(kx, q64, 64);
  const p64 = planes.map((p, i) => core.f64(q64[i]!, p.length).slice());
  const q32 = planes.map((p) => allocF32(core, p));
  call(kx, q32, 32);
  const p32 = planes.map((p, i) => core.f32(q32[i]!, p.length).slice());
  for (const q of [...q64, ...q32]) core.free(q);
  return { p64, p32 };
}

test('denseSquare32: out = x² rounded once, odd lengths (lane tails), in place', () => {
  let rounded = 0;
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 13, 33]) {
    const x = f32Values(1, n, 11 + n, 3);
    const out = new Float64Array(n + 3).fill(SENT); // 3 guard entries past n
    const { p64, p32 } = runBoth([x, out], (k, [px, po], b) => (b === 64 ? k.denseSquare(n, px!, po!) : k.denseSquare32(n, px!, po!)));
    rounded += assertRoundedEqual(p32[1]!, p64[1]!, `denseSquare32 n=${n}`);
    for (let t = n; t < n + 3; t++) assert.is(p32[1]![t], SENT, 'guard past n untouched');
    // In place (out = x).
    const { p64: i64, p32: i32 } = runBoth([x], (k, [px], b) => (b === 64 ? k.denseSquare(n, px!, px!) : k.denseSquare32(n, px!, px!)));
    assertRoundedEqual(i32[0]!, i64[0]!, `denseSquare32 in place n=${n}`);
  }
  assert.ok(rounded > 0, 'some squares need rounding to float32 (the twin computes in float32)');
});

test('denseMulRep32: out = d_i ⊙ x rows of a sample-major stack, rounded once, odd widths, in place', () => {
  let rounded = 0;
  for (const [n, k, c] of [
    [1, 1, 1],
    [3, 2, 5],
    [4, 3, 8],
    [2, 5, 11],
    [7, 1, 3],
  ] as const) {
    const d = f32Values(n, c, n * 31 + c, 2);
    const x = f32Values(n * k, c, n * 7 + k * 3 + c);
    const out = new Float64Array(n * k * c + 2).fill(SENT);
    const { p64, p32 } = runBoth([d, x, out], (kk, [pd, px, po], b) => (b === 64 ? kk.denseMulRep(n, k, c, pd!, px!, po!) : kk.denseMulRep32(n, k, c, pd!, px!, po!)));
    rounded += assertRoundedEqual(p32[2]!, p64[2]!, `denseMulRep32 ${n}×${k}×${c}`);
    assert.is(p32[2]![n * k * c], SENT, 'guard past the stack untouched');
    assert.is(p32[2]![n * k * c + 1], SENT, 'guard past the stack untouched');
    const { p64: q64, p32: q32 } = runBoth([d, x], (kk, [pd, px], b) => (b === 64 ? kk.denseMulRep(n, k, c, pd!, px!, px!) : kk.denseMulRep32(n, k, c, pd!, px!, px!)));
    assertRoundedEqual(q32[1]!, q64[1]!, `denseMulRep32 in place ${n}×${k}×${c}`);
  }
  assert.ok(rounded > 0, 'some products need rounding to float32');
});

test('denseAugment32: rows copied exactly with a trailing 1, lda padding never read', () => {
  for (const [n, m, pad] of [
    [1, 1, 0],
    [3, 5, 2],
    [6, 4, 0],
    [5, 7, 3],
    [2, 0, 1],
  ] as const) {
    const lda = m + pad;
    const a = new Float64Array(n * lda).fill(NaN);
    const v = f32Values(n, m, n + 13 * m);
    for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) a[r * lda + j] = v[r * m + j]!;
    const out = new Float64Array(n * (m + 1) + 1).fill(SENT);
    const { p64, p32 } = runBoth([a, out], (k, [pa, po], b) => (b === 64 ? k.denseAugment(n, m, pa!, lda, po!) : k.denseAugment32(n, m, pa!, lda, po!)));
    assertRoundedEqual(p32[1]!, p64[1]!, `denseAugment32 ${n}×${m}`);
    for (let r = 0; r < n; r++) {
      assert.is(p32[1]![r * (m + 1) + m], 1, 'augmented 1');
      for (let j = 0; j < m; j++) assert.is(p32[1]![r * (m + 1) + j], v[r * m + j], 'copied entry');
    }
    assert.is(p32[1]![n * (m + 1)], SENT, 'guard past out untouched');
  }
});

test('denseOuterRows32: W part δ_p·a_j rounded once, bias part copied, ldout padding and lda padding respected', () => {
  let rounded = 0;
  for (const [n, k, o, m, padA, padOut] of [
    [1, 1, 1, 1, 0, 0],
    [2, 3, 3, 5, 1, 2],
    [3, 1, 4, 8, 0, 3],
    [2, 2, 5, 7, 2, 0],
    [4, 2, 2, 13, 3, 1],
  ] as const) {
    const lda = m + padA;
    const width = o * m + o;
    const ldout = width + padOut + 1; // `out` starts one column in: column 0 must stay untouched
    const a = new Float64Array(n * lda).fill(NaN);
    const av = f32Values(n, m, n * 5 + m, 2);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) a[i * lda + j] = av[i * m + j]!;
    const delta = f32Values(n * k, o, 3 * n + o);
    const out = new Float64Array(n * k * ldout).fill(SENT);
    const { p64, p32 } = runBoth([delta, a, out], (kk, [pd, pa, po], b) => {
      const first = po! + (b === 64 ? 8 : 4); // the layer's first column
      if (b === 64) kk.denseOuterRows(n, k, o, m, pd!, pa!, lda, first, ldout);
      else kk.denseOuterRows32(n, k, o, m, pd!, pa!, lda, first, ldout);
    });
    rounded += assertRoundedEqual(p32[2]!, p64[2]!, `denseOuterRows32 n=${n} k=${k} o=${o} m=${m}`);
    for (let r = 0; r < n * k; r++) {
      assert.is(p32[2]![r * ldout], SENT, 'column before the layer untouched');
      for (let t = 1 + width; t < ldout; t++) assert.is(p32[2]![r * ldout + t], SENT, 'ldout padding untouched');
      for (let p = 0; p < o; p++) assert.is(p32[2]![r * ldout + 1 + o * m + p], delta[r * o + p], 'bias part is δ');
    }
  }
  assert.ok(rounded > 0, 'some products need rounding to float32');
});

test('dzero32: zeros the m × n block, leaves lda padding and guards alone', () => {
  for (const [m, n, lda] of [
    [1, 1, 1],
    [3, 5, 7],
    [4, 4, 4],
    [2, 0, 3],
    [0, 3, 3],
  ] as const) {
    const total = Math.max(m, 1) * lda + 2;
    const p = allocF32(core, new Float64Array(total).fill(SENT));
    kx.dzero32(m, n, p, lda);
    const got = core.f32(p, total).slice();
    core.free(p);
    for (let i = 0; i < total; i++) {
      const r = Math.floor(i / lda),
        j = i % lda;
      const inside = r < m && j < n;
      assert.ok(Object.is(got[i], inside ? 0 : SENT), `dzero32 ${m}×${n} (lda ${lda}) entry ${i}: ${got[i]}`);
    }
  }
});

// ---- Gram kernel ----

interface GramCase {
  n: number;
  d: number;
  padX?: number;
  padC?: number;
  seed?: number;
}

/** X (n × d values, f32-representable) laid out with leading dimension ldx, padding NaN. */
function gramInputs(cs: GramCase) {
  const { n, d } = cs;
  const ldx = d + (cs.padX ?? 0),
    ldc = d + (cs.padC ?? 0);
  const seed = cs.seed ?? n * 131 + d;
  const v = f32Values(n, d, seed);
  const X = new Float64Array(Math.max(n * ldx, 1)).fill(NaN);
  const absX = new Float64Array(Math.max(n * ldx, 1)).fill(NaN);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < d; j++) {
      X[k * ldx + j] = v[k * d + j]!;
      absX[k * ldx + j] = Math.abs(v[k * d + j]!);
    }
  }
  // C0: random lower triangle (accumulated into), sentinels above the diagonal and in the padding.
  const c0v = f32Values(d, d, seed + 1, 4);
  const C0 = new Float64Array(Math.max(d * ldc, 1)).fill(SENT);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) C0[i * ldc + j] = c0v[i * d + j]!;
  return { ldx, ldc, X, absX, C0 };
}

/** dsyrkLower32 (or a sequence of dsyrkLowerRange32 calls over `ranges`) on core c; returns C. */
function gram32(c: Core, cs: GramCase, ranges?: [number, number][]): Float32Array {
  const { n, d } = cs;
  const { ldx, ldc, X, C0 } = gramInputs(cs);
  const px = allocF32(c, X),
    pc = allocF32(c, C0);
  if (ranges) for (const [jb, je] of ranges) c.exports.dsyrkLowerRange32(n, d, px, ldx, 0, 0, pc, ldc, jb, je);
  else c.exports.dsyrkLower32(n, d, px, ldx, 0, 0, pc, ldc);
  const out = c.f32(pc, C0.length).slice();
  c.free(px);
  c.free(pc);
  return out;
}

/** The float64 kernel on the same values: C0 + XᵀX, and Σ|x_ki x_kj| (on |X|, from zero). */
function gram64(cs: GramCase): { want: Float64Array; absSum: Float64Array } {
  const { n, d } = cs;
  const { ldx, ldc, X, absX, C0 } = gramInputs(cs);
  const px = allocF64(core, X),
    pa = allocF64(core, absX),
    pc = allocF64(core, C0),
    ps = allocF64(core, new Float64Array(C0.length));
  kx.dsyrkLower(n, d, px, ldx, 0, 0, pc, ldc);
  kx.dsyrkLower(n, d, pa, ldx, 0, 0, ps, ldc);
  const want = core.f64(pc, C0.length).slice(),
    absSum = core.f64(ps, C0.length).slice();
  for (const p of [px, pa, pc, ps]) core.free(p);
  return { want, absSum };
}

/** Check dsyrkLower32 against the bound; returns whether some entry is not the float64 value rounded once. */
function checkGram(cs: GramCase): boolean {
  const { n, d } = cs;
  const { ldc, C0 } = gramInputs(cs);
  const got = gram32(core, cs);
  const { want, absSum } = gram64(cs);
  const blocks = Math.ceil(n / 64); // k-blocks hold ≥ 64 samples (or all n)
  const g32 = gamma(n + blocks + 2),
    g64 = gamma(n + blocks + 2, U64);
  let beyondOneRounding = false;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < ldc; j++) {
      const at = i * ldc + j;
      if (j > i || j >= d) {
        if (!Object.is(got[at], SENT)) assert.unreachable(`dsyrkLower32 n=${n} d=${d}: wrote C[${i}][${j}] = ${got[at]} outside the lower triangle`);
        continue;
      }
      const mag = absSum[at]! + Math.abs(C0[at]!);
      const tol = g32 * mag + g64 * mag;
      const err = Math.abs(got[at]! - want[at]!);
      if (!(err <= tol)) assert.unreachable(`dsyrkLower32 n=${n} d=${d} C[${i}][${j}] = ${got[at]} vs ${want[at]} (|Δ| = ${err} > ${tol})`);
      if (got[at] !== Math.fround(want[at]!)) beyondOneRounding = true;
    }
  }
  return beyondOneRounding;
}

test('dsyrkLower32: lower triangle of C0 + XᵀX within γ_{n+B+2}·(Σ|x x| + |C0|); upper triangle, padding never touched', () => {
  const cases: GramCase[] = [
    { n: 1, d: 1 },
    { n: 3, d: 5, padX: 3, padC: 2 },
    { n: 17, d: 7, padX: 1, padC: 1 },
    { n: 8, d: 8 },
    { n: 31, d: 12, padC: 5 },
    { n: 300, d: 13, padX: 2 },
    { n: 129, d: 33, padX: 1, padC: 3 },
    { n: 1000, d: 130, padX: 3, padC: 1 }, // two k-blocks (kc = 500)
    { n: 2000, d: 9 }, // four k-blocks
    { n: 5, d: 0 },
    { n: 0, d: 6 },
  ];
  let rounding = false;
  for (const cs of cases) rounding = checkGram(cs) || rounding;
  assert.ok(rounding, 'accumulation in float32: some entries differ from the float64 sum rounded once');
});

test('dsyrkLower32: row-blocked path (d > 2040: row blocks of 2040, k-blocks of ≥ 64)', () => {
  assert.ok(checkGram({ n: 70, d: 2049, padX: 1, padC: 3 }), 'accumulation in float32: some entries differ from the float64 sum rounded once');
});

test('dsyrkLowerRange32: every split into column ranges is bitwise the whole call and touches only its columns', () => {
  const cases: [GramCase, [number, number][][]][] = [
    [
      { n: 50, d: 13, padC: 1 },
      [
        [
          [0, 4],
          [4, 8],
          [8, 13],
        ],
        [
          [0, 12],
          [12, 13],
        ],
        [
          [4, 13],
          [0, 4],
        ],
        [
          [0, 8],
          [8, 12],
          [12, 13],
        ],
      ],
    ],
    [
      { n: 1000, d: 130, padX: 2 },
      [
        [
          [0, 4],
          [4, 68],
          [68, 100],
          [100, 130],
        ],
        [
          [0, 60],
          [60, 124],
          [124, 128],
          [128, 130],
        ],
        [
          [0, 20],
          [20, 36],
          [36, 52],
          [52, 84],
          [84, 130],
        ],
      ],
    ],
    [
      { n: 70, d: 2049 },
      [
        [
          [0, 1004],
          [1004, 2044],
          [2044, 2049],
        ],
        [
          [0, 2040],
          [2040, 2049],
        ],
      ],
    ],
  ];
  for (const [cs, splits] of cases) {
    const whole = gram32(core, cs);
    for (const ranges of splits) {
      const split = gram32(core, cs, ranges);
      for (let i = 0; i < whole.length; i++) {
        if (!Object.is(split[i], whole[i])) assert.unreachable(`n=${cs.n} d=${cs.d} split ${JSON.stringify(ranges)}: entry ${i} ${split[i]} vs ${whole[i]}`);
      }
    }
    // A single range writes its columns only (the rest keeps C0).
    const { C0, ldc } = gramInputs(cs);
    const [jb, je] = splits[0]![1]!;
    const part = gram32(core, cs, [[jb, je]]);
    for (let i = 0; i < cs.d; i++) {
      for (let j = 0; j < ldc; j++) {
        const at = i * ldc + j;
        const inRange = j <= i && j < cs.d && j >= jb && j < je;
        const want = inRange ? whole[at] : Math.fround(C0[at]!);
        if (!Object.is(part[at], want)) assert.unreachable(`n=${cs.n} d=${cs.d} range [${jb}, ${je}): entry (${i}, ${j}) = ${part[at]}, expected ${want}`);
      }
    }
  }
});

const cores: Record<number, Core> = {
  1: await createCore({ variant, threads: 1 }),
  2: await createCore({ variant, threads: 2 }),
  3: await createCore({ variant, threads: 3 }),
};

test('dsyrkLower32: 1, 2 and 3 threads bitwise identical (column-panel split)', () => {
  const cases: GramCase[] = [
    { n: 2000, d: 64, padX: 1 },
    { n: 600, d: 150, padC: 2 },
    { n: 4096, d: 37 },
    { n: 300, d: 257, padX: 3, padC: 1 },
  ];
  for (const cs of cases) {
    const one = gram32(cores[1]!, cs);
    for (const t of [2, 3]) {
      const other = gram32(cores[t]!, cs);
      for (let i = 0; i < one.length; i++) {
        if (!Object.is(one[i], other[i])) assert.unreachable(`dsyrkLower32 n=${cs.n} d=${cs.d}: ${t} threads differ at entry ${i} (${other[i]} vs ${one[i]})`);
      }
    }
  }
});

test('denseMulRep32, denseOuterRows32: 1, 2 and 3 threads bitwise identical (sample split)', () => {
  const [n, k, c] = [2000, 3, 37];
  const d = f32Values(n, c, 5),
    x = f32Values(n * k, c, 6);
  const [no, ko, o, m, pad] = [400, 2, 9, 21, 3];
  const lda = m + pad,
    ldout = o * m + o + 2;
  const a = f32Values(no, lda, 7),
    delta = f32Values(no * ko, o, 8);
  const run = (cc: Core): Float32Array[] => {
    const pd = allocF32(cc, d),
      px = allocF32(cc, x),
      po = allocF32(cc, new Float64Array(n * k * c));
    cc.exports.denseMulRep32(n, k, c, pd, px, po);
    const pa = allocF32(cc, a),
      pdl = allocF32(cc, delta),
      pw = allocF32(cc, new Float64Array(no * ko * ldout).fill(SENT));
    cc.exports.denseOuterRows32(no, ko, o, m, pdl, pa, lda, pw, ldout);
    const out = [cc.f32(po, n * k * c).slice(), cc.f32(pw, no * ko * ldout).slice()];
    for (const p of [pd, px, po, pa, pdl, pw]) cc.free(p);
    return out;
  };
  const one = run(cores[1]!);
  for (const t of [2, 3]) {
    const other = run(cores[t]!);
    one.forEach((plane, q) => {
      for (let i = 0; i < plane.length; i++) {
        if (!Object.is(plane[i], other[q]![i])) assert.unreachable(`${q === 0 ? 'denseMulRep32' : 'denseOuterRows32'}: ${t} threads differ at entry ${i}`);
      }
    });
  }
});

test.run();
