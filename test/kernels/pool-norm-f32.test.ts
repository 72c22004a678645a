// The float32 twins of assembly/nn/pool.ts and assembly/nn/norm.ts (`…32`) against their float64
// kernels run on the same float32-representable values. Max pooling, the gathers and the 2 × 2
// scatter only compare, copy and add to +0: their results must equal the float64 kernel's rounded
// to float32 exactly (the first-maximum and NaN rules included, the indices identical). The
// general scatter and average pooling add in float32 in the float64 kernel's order: within
// γ_j · Σ|terms| with j the number of terms per entry (+ the final roundings). The norm twins
// accumulate their reductions in f64 and round once: the channel sums and layer norm's rstd equal
// the float64 kernel's rounded to float32 exactly (an f32 accumulation could not, see the
// "accumulates in f64" case); the elementwise maps run in float32 with the rounded statistics,
// within a few roundings of the magnitudes of their terms, plus the f64 kernel's own error, which
// grows with the feature count. Odd sizes (lane tails), padding and strides, planes 4-byte (not
// 16-byte) aligned, in-place calls, and 1 vs 2 threads bitwise for the split twins.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, type Core } from '../../bindings/index.js';
import { core, normals, variant } from '../helpers.js';

/** float32's unit roundoff u = 2⁻²⁴. */
const U32 = 2 ** -24;
/** float64's unit roundoff. */
const U64 = 2 ** -53;

/** γ_j = j·u / (1 − j·u) for float32 (Higham's constant for j roundings). */
function gamma32(j: number): number {
  return (j * U32) / (1 - j * U32);
}
/** The same constant for float64 (the reference kernel's own error). */
function gamma64(j: number): number {
  return (j * U64) / (1 - j * U64);
}

type Plane = Float64Array | Float32Array | Int32Array;

/**
 * Copy the planes into core c (float32 planes 4 bytes past a 16-byte boundary, so that 4-byte
 * alignment is what the kernels get), run fn on their addresses, and return copies of all planes
 * afterwards (inputs and outputs).
 */
function call<P extends Plane[]>(c: Core, planes: [...P], fn: (...p: number[]) => void): P {
  const buf = () => c.exports.memory.buffer;
  const view = (a: Plane, p: number): Plane => new (a.constructor as new (b: ArrayBufferLike, o: number, l: number) => Plane)(buf(), p, a.length);
  const blocks = planes.map((a) => c.alloc(a.byteLength + 32));
  const ptrs = planes.map((a, i) => blocks[i]! + (a instanceof Float32Array ? 4 : 0));
  planes.forEach((a, i) => view(a, ptrs[i]!).set(a as never));
  fn(...ptrs);
  const out = planes.map((a, i) => view(a, ptrs[i]!).slice());
  for (const b of blocks) c.free(b);
  return out as P;
}

/** n float32-representable standard normals (as float64), times `scale`. */
function data(n: number, seed: number, scale = 1): Float64Array {
  const g = normals(seed);
  return Float64Array.from({ length: n }, () => Math.fround(scale * g()));
}

/** Values with ties (multiples of 1/2), signed zeros and, at rate `nan`, NaNs. */
function tied(n: number, seed: number, nan: number): Float64Array {
  const g = normals(seed);
  return Float64Array.from({ length: n }, (_, i) => {
    const v = g();
    if (nan > 0 && Math.abs(v) > 3 - nan * 20) return NaN;
    const r = Math.round(v * 2) / 2;
    return r === 0 && i % 2 ? -0 : r;
  });
}

/** got[i] is ref[i] rounded to float32, bit for bit (NaN for NaN, −0 for −0). */
function assertExact32(got: ArrayLike<number>, ref: ArrayLike<number>, msg: string): void {
  assert.is(got.length, ref.length, `${msg}: length`);
  for (let i = 0; i < ref.length; i++) {
    if (!Object.is(got[i], Math.fround(ref[i]!))) assert.unreachable(`${msg}: entry ${i}: ${got[i]} vs ${ref[i]} (rounded ${Math.fround(ref[i]!)})`);
  }
}

/** |got[i] − ref[i]| ≤ tol[i] for every i. */
function assertWithin(got: ArrayLike<number>, ref: ArrayLike<number>, tol: ArrayLike<number>, msg: string): void {
  assert.is(got.length, ref.length, `${msg}: length`);
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!(d <= tol[i]!)) assert.unreachable(`${msg}: entry ${i}: ${got[i]} vs ${ref[i]} (|Δ| = ${d} > ${tol[i]})`);
  }
}

/** At least one entry of got differs from ref rounded to float32: the twin really computes in float32. */
function assertRoundedSomewhere(got: ArrayLike<number>, ref: ArrayLike<number>, msg: string): void {
  for (let i = 0; i < ref.length; i++) if (!Object.is(got[i], Math.fround(ref[i]!))) return;
  assert.unreachable(`${msg}: every entry equals the float64 result rounded once — no float32 arithmetic seen`);
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

// ---- pooling ----

/** [c, h, w, kh, kw, sh, sw, ph, pw]: padded and unpadded, overlapping, strided, the 2 × 2 fast path (ow mod 4 = 0 … 3, odd h and w). */
const GEOMS: number[][] = [
  [3, 7, 9, 3, 3, 2, 2, 1, 1],
  [2, 8, 12, 2, 2, 2, 2, 0, 0],
  [1, 9, 19, 2, 2, 2, 2, 0, 0],
  [2, 6, 16, 2, 2, 2, 2, 0, 0],
  [1, 5, 14, 2, 2, 2, 2, 0, 0],
  [2, 4, 30, 2, 2, 2, 2, 0, 0],
  [2, 5, 6, 3, 2, 1, 2, 1, 0],
  [1, 4, 4, 4, 4, 1, 1, 2, 2],
  [3, 10, 11, 2, 3, 3, 2, 1, 1],
  [2, 7, 8, 2, 2, 1, 1, 0, 0],
  [1, 1, 1, 1, 1, 1, 1, 0, 0],
];

function geom(g: number[]) {
  const [c, h, w, kh, kw, sh, sw, ph, pw] = g as [number, number, number, number, number, number, number, number, number];
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1,
    ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  return { c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, inS: c * h * w, outS: c * oh * ow, is22: kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0 };
}

const kx = core.exports;

function maxPool(c: Core, dt: 32 | 64, n: number, G: ReturnType<typeof geom>, x: Float64Array): [Plane, Int32Array] {
  const { c: ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, outS } = G;
  const xs = dt === 32 ? f32(x) : x;
  const ys = dt === 32 ? new Float32Array(n * outS).fill(7) : new Float64Array(n * outS).fill(7);
  const [, y, idx] = call(c, [xs, ys, new Int32Array(n * outS).fill(-1)], (px, py, pi) =>
    (dt === 32 ? c.exports.maxPoolForward32 : c.exports.maxPoolForward)(n, ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, px!, py!, pi!),
  );
  return [y, idx];
}

test('maxPoolForward32 selects exactly what maxPoolForward selects (first maximum, NaN, ±0, padding, strides, 2 × 2 lanes and tails)', () => {
  let seed = 1;
  for (const g of GEOMS) {
    const G = geom(g);
    for (const n of [1, 3]) {
      for (const nan of [0, 0.05]) {
        const x = nan === 0 ? (seed % 2 ? data(n * G.inS, seed) : tied(n * G.inS, seed, 0)) : tied(n * G.inS, seed, nan);
        seed++;
        const [y64, i64] = maxPool(core, 64, n, G, x);
        const [y32, i32] = maxPool(core, 32, n, G, x);
        assertExact32(y32, y64, `maxPool ${g} n=${n}`);
        assert.equal(Array.from(i32), Array.from(i64), `maxPool ${g} n=${n}: indices`);
      }
    }
  }
  // A NaN after the maximum and one before it, in every lane position of the 2 × 2 path.
  const G = geom([1, 2, 16, 2, 2, 2, 2, 0, 0]);
  for (let pos = 0; pos < 32; pos++) {
    const x = Float64Array.from({ length: 32 }, (_, i) => (i === pos ? NaN : (i * 7) % 5));
    const [y64, i64] = maxPool(core, 64, 1, G, x);
    const [y32, i32] = maxPool(core, 32, 1, G, x);
    assertExact32(y32, y64, `NaN at ${pos}`);
    assert.equal(Array.from(i32), Array.from(i64), `NaN at ${pos}: indices`);
  }
});

test('poolGather32, poolScatter32 and maxPoolScatter2232 against the float64 kernels through the same record', () => {
  let seed = 100;
  for (const g of GEOMS) {
    const G = geom(g);
    const { inS, outS } = G;
    for (const [n, k] of [
      [1, 1],
      [3, 2],
      [2, 3],
    ] as const) {
      const [, idx] = maxPool(core, 64, n, G, data(n * G.inS, seed++));
      const xs = data(n * k * inS, seed++);
      const ys = tied(n * k * outS, seed++, 0).map((v, i) => (i % 5 === 0 ? v : Math.fround(v + 0.1 * Math.sin(i))));
      const [, , g64] = call(core, [idx, xs, new Float64Array(n * k * outS)], (pi, px, py) => kx.poolGather(n, k, inS, outS, pi!, px!, py!));
      const [, , g32] = call(core, [idx, f32(xs), new Float32Array(n * k * outS).fill(NaN)], (pi, px, py) => kx.poolGather32(n, k, inS, outS, pi!, px!, py!));
      assertExact32(g32, g64, `gather ${g}`);

      const [, , s64] = call(core, [idx, ys, new Float64Array(n * k * inS)], (pi, py, px) => kx.poolScatter(n, k, inS, outS, pi!, py!, px!));
      const [, , s32] = call(core, [idx, f32(ys), new Float32Array(n * k * inS).fill(NaN)], (pi, py, px) => kx.poolScatter32(n, k, inS, outS, pi!, py!, px!));
      // Each input entry receives at most ⌈kh/sh⌉·⌈kw/sw⌉ outputs; f32 adds in order: γ_j · Σ|y|.
      const [, , sAbs] = call(core, [idx, abs(ys), new Float64Array(n * k * inS)], (pi, py, px) => kx.poolScatter(n, k, inS, outS, pi!, py!, px!));
      const j = Math.ceil(G.kh / G.sh) * Math.ceil(G.kw / G.sw);
      assertWithin(
        s32,
        s64,
        f64(sAbs).map((v) => gamma32(j) * v),
        `scatter ${g}`,
      );
      if (j === 1) assertExact32(s32, s64, `scatter ${g} (no overlap: exact)`);

      if (G.is22) {
        const [, , t64] = call(core, [idx, ys, new Float64Array(n * k * inS).fill(NaN)], (pi, py, px) => kx.maxPoolScatter22(n, k, G.c, G.h, G.w, G.oh, G.ow, pi!, py!, px!));
        const [, , t32] = call(core, [idx, f32(ys), new Float32Array(n * k * inS).fill(NaN)], (pi, py, px) => kx.maxPoolScatter2232(n, k, G.c, G.h, G.w, G.oh, G.ow, pi!, py!, px!));
        assertExact32(t32, t64, `scatter22 ${g}`);
        assertExact32(t32, s32, `scatter22 ${g} = poolScatter32`);
      }
    }
  }
});

function avgPool(c: Core, dt: 32 | 64, rows: number, G: ReturnType<typeof geom>, x: Float64Array): Plane {
  const { c: ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, outS } = G;
  const [, y] = call(c, [dt === 32 ? f32(x) : x, dt === 32 ? new Float32Array(rows * outS).fill(NaN) : new Float64Array(rows * outS)], (px, py) =>
    (dt === 32 ? c.exports.avgPoolForward32 : c.exports.avgPoolForward)(rows, ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, px!, py!),
  );
  return y;
}

function avgPoolBack(c: Core, dt: 32 | 64, rows: number, G: ReturnType<typeof geom>, y: Float64Array): Plane {
  const { c: ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, inS } = G;
  const [, x] = call(c, [dt === 32 ? f32(y) : y, dt === 32 ? new Float32Array(rows * inS).fill(NaN) : new Float64Array(rows * inS).fill(NaN)], (py, px) =>
    (dt === 32 ? c.exports.avgPoolBackward32 : c.exports.avgPoolBackward)(rows, ch, h, w, kh, kw, sh, sw, ph, pw, oh, ow, py!, px!),
  );
  return x;
}

test('avgPoolForward32 / avgPoolBackward32 within γ of the window size, float32 rounding present', () => {
  let seed = 300;
  const fwd32: number[] = [],
    fwd64: number[] = [],
    bwd32: number[] = [],
    bwd64: number[] = [];
  for (const g of GEOMS) {
    const G = geom(g);
    const win = G.kh * G.kw;
    for (const rows of [1, 4]) {
      const x = data(rows * G.inS, seed++, 3);
      const y64 = avgPool(core, 64, rows, G, x),
        y32 = avgPool(core, 32, rows, G, x),
        yAbs = avgPool(core, 64, rows, G, abs(x));
      // A window sum of ≤ kh·kw terms in f32, then × fl(1/(kh·kw)): j = kh·kw − 1 + 2 roundings.
      assertWithin(
        y32,
        y64,
        f64(yAbs).map((v) => gamma32(win + 2) * v),
        `avgPool ${g}`,
      );
      const gy = data(rows * G.outS, seed++);
      const x64 = avgPoolBack(core, 64, rows, G, gy),
        x32 = avgPoolBack(core, 32, rows, G, gy),
        xAbs = avgPoolBack(core, 64, rows, G, abs(gy));
      const j = Math.ceil(G.kh / G.sh) * Math.ceil(G.kw / G.sw);
      assertWithin(
        x32,
        x64,
        f64(xAbs).map((v) => gamma32(j + 3) * v),
        `avgPoolBackward ${g}`,
      );
      if (win > 1) {
        fwd32.push(...y32);
        fwd64.push(...y64);
        bwd32.push(...x32);
        bwd64.push(...x64);
      }
    }
  }
  assertRoundedSomewhere(fwd32, fwd64, 'avgPool');
  assertRoundedSomewhere(bwd32, bwd64, 'avgPoolBackward');
});

// ---- normalization ----

test('chanAffine32: f32 lanes within γ₄ of the f64 map (beta rounded to f32, shift or none, in place, odd S)', () => {
  let seed = 500;
  const all32: number[] = [],
    all64: number[] = [];
  for (const [rows, c, S] of [
    [1, 1, 1],
    [2, 3, 5],
    [3, 2, 7],
    [1, 4, 16],
    [5, 3, 1],
    [2, 1, 33],
  ] as const) {
    const len = rows * c * S;
    const scale = data(c, seed++),
      shift = data(c, seed++),
      x = data(len, seed++),
      y0 = data(len, seed++);
    for (const beta of [0, 1, -0.75, 0.1]) {
      const b32 = Math.fround(beta);
      for (const withShift of [true, false]) {
        const sh = withShift ? shift : new Float64Array(c);
        const [, , , y64] = call(core, [scale, sh, x, y0], (pa, pb, px, py) => kx.chanAffine(rows, c, S, pa!, withShift ? pb! : 0, px!, b32, py!));
        const y032 = beta === 0 ? new Float32Array(len).fill(NaN) : f32(y0);
        const [, , , y32] = call(core, [f32(scale), f32(sh), f32(x), y032], (pa, pb, px, py) => kx.chanAffine32(rows, c, S, pa!, withShift ? pb! : 0, px!, beta, py!));
        const tol = y64.map((_, i) => {
          const ch = Math.floor(i / S) % c;
          return gamma32(4) * ((beta === 0 ? 0 : Math.abs(b32 * y0[i]!)) + Math.abs(scale[ch]! * x[i]!) + Math.abs(sh[ch]!));
        });
        assertWithin(y32, y64, tol, `chanAffine ${rows}×${c}×${S} beta=${beta} shift=${withShift}`);
        all32.push(...y32);
        all64.push(...y64);
        // In place (y = x) equals the separate call.
        const [, , y32in] = call(core, [f32(scale), f32(sh), f32(beta === 0 ? x : y0)], (pa, pb, px) => kx.chanAffine32(rows, c, S, pa!, withShift ? pb! : 0, px!, beta, px!));
        if (beta === 0) assertExact32(y32in, y32, 'chanAffine32 in place');
      }
    }
  }
  assertRoundedSomewhere(all32, all64, 'chanAffine32');
});

/** [n, k, c, S] shapes for the channel sums. */
const CHAN: number[][] = [
  [1, 1, 1, 1],
  [2, 1, 3, 5],
  [3, 2, 2, 7],
  [2, 3, 4, 16],
  [1, 2, 1, 1001],
  [4, 1, 3, 3],
];

test('chanPullbacks32 / chanGrad32: sums accumulated in f64, equal to the f64 kernel rounded once', () => {
  let seed = 700;
  for (const [n, k, c, S] of CHAN as [number, number, number, number][]) {
    const g = data(n * k * c * S, seed++),
      xh = data(n * c * S, seed++);
    for (const pad of [0, 3]) {
      const ld = 2 * c + pad;
      const [, , p64] = call(core, [g, xh, new Float64Array(n * k * ld).fill(-5)], (pg, px, po) => kx.chanPullbacks(n, k, c, S, pg!, px!, po!, ld));
      const [, , p32] = call(core, [f32(g), f32(xh), new Float32Array(n * k * ld).fill(-5)], (pg, px, po) => kx.chanPullbacks32(n, k, c, S, pg!, px!, po!, ld));
      assertExact32(p32, p64, `chanPullbacks ${n},${k},${c},${S} ld=${ld} (padding kept at −5)`);
    }
    const o0 = data(c, seed++),
      b0 = data(c, seed++);
    for (const beta of [0, 1, 0.5, 0.3]) {
      const b32 = Math.fround(beta);
      const init = (v: Float64Array) => (beta === 0 ? new Float64Array(c).fill(NaN) : v);
      const [, , oG64, oB64] = call(core, [g, xh, init(o0), init(b0)], (pg, px, pa, pb) => kx.chanGrad(n, k, c, S, pg!, px!, b32, pa!, pb!));
      const [, , oG32, oB32] = call(core, [f32(g), f32(xh), f32(init(o0)), f32(init(b0))], (pg, px, pa, pb) => kx.chanGrad32(n, k, c, S, pg!, px!, beta, pa!, pb!));
      assertExact32(oG32, oG64, `chanGrad γ part ${n},${k},${c},${S} beta=${beta}`);
      assertExact32(oB32, oB64, `chanGrad β part ${n},${k},${c},${S} beta=${beta}`);
      // Each half alone (the other pointer 0 leaves its plane untouched).
      const [, , g1, b1] = call(core, [f32(g), f32(xh), f32(init(o0)), new Float32Array(c).fill(9)], (pg, px, pa) => kx.chanGrad32(n, k, c, S, pg!, px!, beta, pa!, 0));
      assertExact32(g1, oG32, 'chanGrad γ part alone');
      assert.ok(
        b1.every((v) => v === 9),
        'chanGrad: outB = 0 writes nothing',
      );
    }
  }
  // 1 + 32 · 2⁻²⁴: float32 accumulation would stop at 1 (each add a tie to even); f64 gives 1 + 2⁻¹⁹.
  const S = 33;
  const g = Float64Array.from({ length: S }, (_, i) => (i === 0 ? 1 : 2 ** -24));
  const [, , p] = call(core, [f32(g), new Float32Array(S).fill(1), new Float32Array(2)], (pg, px, po) => kx.chanPullbacks32(1, 1, 1, S, pg!, px!, po!, 2));
  assert.is(p[0], 1 + 2 ** -19, 'chanPullbacks32 γ part accumulates in f64');
  assert.is(p[1], 1 + 2 ** -19, 'chanPullbacks32 β part accumulates in f64');
  const [, , oG, oB] = call(core, [f32(g), new Float32Array(S).fill(1), new Float32Array(1), new Float32Array(1)], (pg, px, pa, pb) => kx.chanGrad32(1, 1, 1, S, pg!, px!, 0, pa!, pb!));
  assert.is(oG[0], 1 + 2 ** -19, 'chanGrad32 γ part accumulates in f64');
  assert.is(oB[0], 1 + 2 ** -19, 'chanGrad32 β part accumulates in f64');
});

/** [n, f] shapes for layer norm: lane tails f mod 4 = 0 … 3, long rows. */
const LN: number[][] = [
  [1, 1],
  [2, 3],
  [3, 4],
  [2, 5],
  [4, 7],
  [1, 8],
  [3, 13],
  [2, 301],
  [1, 2000],
];

/** Per-sample mean of a row of f values (JS, float64). */
const mean = (a: ArrayLike<number>, i: number, f: number) => {
  let s = 0;
  for (let j = 0; j < f; j++) s += a[i * f + j]!;
  return s / f;
};

test('lnForward32: rstd = the f64 kernel rounded once (eps rounded to f32), x̂ within γ₄ r (|x − μ| + |μ|), an offset mean', () => {
  let seed = 900;
  const all32: number[] = [],
    all64: number[] = [];
  for (const [n, f] of LN as [number, number][]) {
    for (const offset of [0, 40]) {
      const x = data(n * f, seed++).map((v) => Math.fround(v + offset));
      const xA = abs(x);
      for (const eps of [1e-5, 0]) {
        const e32 = Math.fround(eps);
        const [, h64, r64] = call(core, [x, new Float64Array(n * f), new Float64Array(n)], (px, ph, pr) => kx.lnForward(n, f, e32, px!, ph!, pr!));
        const [, h32, r32] = call(core, [f32(x), new Float32Array(n * f).fill(NaN), new Float32Array(n).fill(NaN)], (px, ph, pr) => kx.lnForward32(n, f, eps, px!, ph!, pr!));
        if (f === 1 && eps === 0) continue; // 1/√0: both ∞, x̂ NaN
        assertExact32(r32, r64, `lnForward rstd ${n}×${f} offset ${offset} eps ${eps}`);
        const tol = h64.map((v, idx) => {
          const i = Math.floor(idx / f),
            mu = mean(x, i, f),
            r = r64[i]!;
          // f32: μ and r rounded, a subtraction and a product; f64 kernel: its μ within γ_f mean|x|, two roundings.
          return gamma32(4) * r * (Math.abs(x[idx]! - mu) + Math.abs(mu)) + gamma64(f + 2) * r * (mean(xA, i, f) + Math.abs(v / r));
        });
        assertWithin(h32, h64, tol, `lnForward x̂ ${n}×${f} offset ${offset} eps ${eps}`);
        all32.push(...h32);
        all64.push(...h64);
      }
    }
  }
  assertRoundedSomewhere(all32, all64, 'lnForward32 x̂');
  // Large mean, tiny spread: an f32 variance accumulation would lose it; f64 keeps rstd exact-rounded.
  const f = 1001;
  const x = Float64Array.from({ length: f }, (_, j) => Math.fround(1000 + (j % 3) * 2 ** -10));
  const [, , r64] = call(core, [x, new Float64Array(f), new Float64Array(1)], (px, ph, pr) => kx.lnForward(1, f, 0, px!, ph!, pr!));
  const [, , r32] = call(core, [f32(x), new Float32Array(f), new Float32Array(1)], (px, ph, pr) => kx.lnForward32(1, f, 0, px!, ph!, pr!));
  assertExact32(r32, r64, 'lnForward32 rstd, mean 1000, spread 2⁻¹⁰');
});

/** A float32 layer-norm record (x̂, rstd) from lnForward32 on random rows, as float64 values. */
function lnRecord(n: number, f: number, seed: number): { h: Float64Array; r: Float64Array } {
  const [, h, r] = call(core, [f32(data(n * f, seed, 2)), new Float32Array(n * f), new Float32Array(n)], (px, ph, pr) => kx.lnForward32(n, f, 1e-5, px!, ph!, pr!));
  return { h: f64(h), r: f64(r) };
}

/** Per-sample mean of a ⊙ b over f features (row ra of a, row rb of b). */
const dotMean = (a: ArrayLike<number>, ra: number, b: ArrayLike<number>, rb: number, f: number) => {
  let s = 0;
  for (let j = 0; j < f; j++) s += a[ra * f + j]! * b[rb * f + j]!;
  return s / f;
};

test('lnTangent32 / lnBackward32: within γ₆ r (|t| + |mean t| + |x̂||mean x̂t|) + the f64 kernel’s γ_f, in place identical', () => {
  let seed = 1100;
  const all32: number[] = [],
    all64: number[] = [];
  for (const [n, f] of LN as [number, number][]) {
    const { h, r } = lnRecord(n, f, seed++);
    const t = data(n * f, seed++);
    const hA = abs(h),
      tA = abs(t);
    const [, , , o64] = call(core, [h, r, t, new Float64Array(n * f)], (ph, pr, pt, po) => kx.lnTangent(n, f, ph!, pr!, pt!, po!));
    const [, , , o32] = call(core, [f32(h), f32(r), f32(t), new Float32Array(n * f).fill(NaN)], (ph, pr, pt, po) => kx.lnTangent32(n, f, ph!, pr!, pt!, po!));
    const tolT = o64.map((_, idx) => {
      const i = Math.floor(idx / f),
        mt = mean(t, i, f),
        q = dotMean(h, i, t, i, f);
      const mag = r[i]! * (Math.abs(t[idx]!) + Math.abs(mt) + Math.abs(h[idx]! * q));
      const magF = r[i]! * (mean(tA, i, f) + Math.abs(h[idx]!) * dotMean(hA, i, tA, i, f));
      return gamma32(6) * mag + gamma64(f + 4) * (mag + magF);
    });
    assertWithin(o32, o64, tolT, `lnTangent ${n}×${f}`);
    all32.push(...o32);
    all64.push(...o64);
    const [, , tIn] = call(core, [f32(h), f32(r), f32(t)], (ph, pr, pt) => kx.lnTangent32(n, f, ph!, pr!, pt!, pt!));
    assertExact32(tIn, o32, `lnTangent32 in place ${n}×${f}`);

    for (const k of [1, 3]) {
      const u = data(n * k * f, seed++);
      const uA = abs(u);
      const [, , , b64] = call(core, [h, r, u, new Float64Array(n * k * f)], (ph, pr, pu, po) => kx.lnBackward(n, k, f, ph!, pr!, pu!, po!));
      const [, , , b32] = call(core, [f32(h), f32(r), f32(u), new Float32Array(n * k * f).fill(NaN)], (ph, pr, pu, po) => kx.lnBackward32(n, k, f, ph!, pr!, pu!, po!));
      const tolB = b64.map((_, idx) => {
        const row = Math.floor(idx / f),
          i = Math.floor(row / k),
          j = idx % f;
        const mu = mean(u, row, f),
          m = dotMean(h, i, u, row, f);
        const mag = r[i]! * (Math.abs(u[idx]!) + Math.abs(mu) + Math.abs(h[i * f + j]! * m));
        const magF = r[i]! * (mean(uA, row, f) + Math.abs(h[i * f + j]!) * dotMean(hA, i, uA, row, f));
        return gamma32(6) * mag + gamma64(f + 4) * (mag + magF);
      });
      assertWithin(b32, b64, tolB, `lnBackward ${n}×${k}×${f}`);
      const [, , uIn] = call(core, [f32(h), f32(r), f32(u)], (ph, pr, pu) => kx.lnBackward32(n, k, f, ph!, pr!, pu!, pu!));
      assertExact32(uIn, b32, `lnBackward32 in place ${n}×${k}×${f}`);
    }
  }
  assertRoundedSomewhere(all32, all64, 'lnTangent32');
});

test('lnBackward232: within γ₁₂ of the magnitudes of its terms + the f64 kernel’s γ_f', () => {
  let seed = 1300;
  const all32: number[] = [],
    all64: number[] = [];
  for (const [n, f] of LN as [number, number][]) {
    const { h, r } = lnRecord(n, f, seed++);
    const t = data(n * f, seed++),
      u = data(n * f, seed++),
      du = data(n * f, seed++);
    const [hA, tA, uA, duA] = [abs(h), abs(t), abs(u), abs(du)];
    const [, , , , , o64] = call(core, [h, r, t, u, du, new Float64Array(n * f)], (ph, pr, pt, pu, pd, po) => kx.lnBackward2(n, f, ph!, pr!, pt!, pu!, pd!, po!));
    const [, , , , , o32] = call(core, [f32(h), f32(r), f32(t), f32(u), f32(du), new Float32Array(n * f).fill(NaN)], (ph, pr, pt, pu, pd, po) => kx.lnBackward232(n, f, ph!, pr!, pt!, pu!, pd!, po!));
    const tol = o64.map((_, idx) => {
      const i = Math.floor(idx / f),
        ri = r[i]!,
        hj = h[idx]!;
      const mt = mean(t, i, f),
        q = dotMean(h, i, t, i, f),
        mu = mean(u, i, f),
        m = dotMean(h, i, u, i, f),
        mdu = mean(du, i, f);
      // |dx̂_l|, |gx| magnitudes and dm's terms, all in float64.
      let dmAbs = 0;
      for (let l = 0; l < f; l++) {
        const dh = ri * (Math.abs(t[i * f + l]!) + Math.abs(mt) + Math.abs(h[i * f + l]! * q));
        dmAbs += Math.abs(h[i * f + l]! * du[i * f + l]!) + dh * Math.abs(u[i * f + l]!);
      }
      dmAbs /= f;
      const G = ri * (Math.abs(u[idx]!) + Math.abs(mu) + Math.abs(hj * m)),
        D = ri * (Math.abs(t[idx]!) + Math.abs(mt) + Math.abs(hj * q));
      const mag = Math.abs(q) * ri * G + ri * (Math.abs(du[idx]!) + Math.abs(mdu) + D * Math.abs(m) + Math.abs(hj) * dmAbs);
      // The f64 kernel's means carry up to γ_f relative to their absolute sums.
      const magF = ri * (dotMean(hA, i, tA, i, f) * G + mean(duA, i, f) + D * dotMean(hA, i, uA, i, f) + Math.abs(hj) * dmAbs) + mag;
      return gamma32(12) * mag + gamma64(f + 8) * magF;
    });
    assertWithin(o32, o64, tol, `lnBackward2 ${n}×${f}`);
    all32.push(...o32);
    all64.push(...o64);
  }
  assertRoundedSomewhere(all32, all64, 'lnBackward232');
});

// ---- threads: the split twins give bitwise the same result on 1 and 2 threads ----

const cores: Record<number, Core> = {
  1: await createCore({ variant, threads: 1 }),
  2: await createCore({ variant, threads: 2 }),
};

test('1 and 2 threads: the split float32 twins are bitwise identical (pooling and norm, above the split threshold)', () => {
  const same = (a: Plane[], b: Plane[], msg: string) => {
    for (let p = 0; p < a.length; p++) {
      const x = a[p]!,
        y = b[p]!;
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) assert.unreachable(`${msg}: plane ${p} entry ${i}: ${y[i]} (2 threads) vs ${x[i]}`);
    }
  };
  const both = (msg: string, planes: Plane[], fn: (c: Core, ...p: number[]) => void) => {
    const one = call(cores[1]!, planes, (...p) => fn(cores[1]!, ...p));
    const two = call(cores[2]!, planes, (...p) => fn(cores[2]!, ...p));
    same(one, two, msg);
  };
  // Pooling: 61 samples of 4 × 22 × 26 (139 568 input elements), two geometries.
  const n = 61;
  for (const g of [
    [4, 22, 26, 2, 2, 2, 2, 0, 0],
    [4, 22, 26, 3, 3, 2, 2, 1, 1],
  ]) {
    const G = geom(g);
    const { c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, inS, outS } = G;
    const x = f32(tied(n * inS, 7, 0.01));
    both(`maxPoolForward32 ${g}`, [x, new Float32Array(n * outS), new Int32Array(n * outS)], (cc, px, py, pi) =>
      cc.exports.maxPoolForward32(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, px!, py!, pi!),
    );
    const [, idx] = maxPool(cores[1]!, 32, n, G, f64(x));
    const k = 2;
    const y = f32(data(n * k * outS, 8)),
      xk = f32(data(n * k * inS, 9));
    both(`poolGather32 ${g}`, [idx, xk, new Float32Array(n * k * outS)], (cc, pi, px, py) => cc.exports.poolGather32(n, k, inS, outS, pi!, px!, py!));
    both(`poolScatter32 ${g}`, [idx, y, new Float32Array(n * k * inS)], (cc, pi, py, px) => cc.exports.poolScatter32(n, k, inS, outS, pi!, py!, px!));
    if (G.is22) both('maxPoolScatter2232', [idx, y, new Float32Array(n * k * inS)], (cc, pi, py, px) => cc.exports.maxPoolScatter2232(n, k, c, h, w, oh, ow, pi!, py!, px!));
    both(`avgPoolForward32 ${g}`, [x, new Float32Array(n * outS)], (cc, px, py) => cc.exports.avgPoolForward32(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, px!, py!));
    both(`avgPoolBackward32 ${g}`, [f32(data(n * outS, 10)), new Float32Array(n * inS)], (cc, py, px) => cc.exports.avgPoolBackward32(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, py!, px!));
  }
  // Norm: 97 samples × 3 channels × 301 positions (87 591 elements), layer norm 241 × 333.
  const [N, C, S, K] = [97, 3, 301, 2];
  const scale = f32(data(C, 11)),
    shift = f32(data(C, 12)),
    xs = f32(data(N * C * S, 13)),
    gs = f32(data(N * K * C * S, 14));
  both('chanAffine32', [scale, shift, xs, f32(data(N * C * S, 15))], (cc, pa, pb, px, py) => cc.exports.chanAffine32(N, C, S, pa!, pb!, px!, 0.5, py!));
  both('chanPullbacks32', [gs, xs, new Float32Array(N * K * 2 * C)], (cc, pg, px, po) => cc.exports.chanPullbacks32(N, K, C, S, pg!, px!, po!, 2 * C));
  both('chanGrad32', [gs, xs, f32(data(C, 16)), f32(data(C, 17))], (cc, pg, px, pa, pb) => cc.exports.chanGrad32(N, K, C, S, pg!, px!, 1, pa!, pb!));
  const [n2, f] = [241, 333];
  const xl = f32(data(n2 * f, 18, 3));
  both('lnForward32', [xl, new Float32Array(n2 * f), new Float32Array(n2)], (cc, px, ph, pr) => cc.exports.lnForward32(n2, f, 1e-5, px!, ph!, pr!));
  const [, hl, rl] = call(cores[1]!, [xl, new Float32Array(n2 * f), new Float32Array(n2)], (px, ph, pr) => cores[1]!.exports.lnForward32(n2, f, 1e-5, px!, ph!, pr!));
  const t = f32(data(n2 * f, 19)),
    u = f32(data(n2 * K * f, 20)),
    du = f32(data(n2 * f, 21));
  both('lnTangent32', [hl, rl, t, new Float32Array(n2 * f)], (cc, ph, pr, pt, po) => cc.exports.lnTangent32(n2, f, ph!, pr!, pt!, po!));
  both('lnBackward32', [hl, rl, u, new Float32Array(n2 * K * f)], (cc, ph, pr, pu, po) => cc.exports.lnBackward32(n2, K, f, ph!, pr!, pu!, po!));
  both('lnBackward232', [hl, rl, t, u.subarray(0, n2 * f), du, new Float32Array(n2 * f)], (cc, ph, pr, pt, pu, pd, po) => cc.exports.lnBackward232(n2, f, ph!, pr!, pt!, pu!, pd!, po!));
});

test.run();
