// Float32 twins of the convolution kernels (assembly/nn/conv.ts, `conv…32`) against their float64
// kernels run on the same float32-representable values:
// - copies (convIm2col32, convTranspose32, convGather32, convBiasBroadcast32) match exactly;
// - col2im and the position sums match a plain-TS float32 emulation in the kernel's order (every
//   add rounded with Math.fround) bit for bit, and the float64 results within
//   γ_j·(Σ|terms|), γ_j = j·u/(1 − j·u), u = 2⁻²⁴, j = the reduction length plus the final roundings;
// - the batch products (sgemm inside) within γ_j·(Σ|terms|) with j from the product's length
//   (P = c·kh·kw, o or S), its k-blocks and the adds that follow (bias, second product, col2im);
// - float32 rounding is really there (results ≠ the float64 ones rounded once, somewhere);
// - odd geometry (stride 2, padding, dilation, odd channels and widths: lane tails), planes
//   shifted to 4-byte (not 16-byte) alignment, sentinels in padding and after the outputs;
// - the threaded core splits the twins by their table rules: 1 and 2 threads bitwise identical.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, type Core } from '../../bindings/index.js';
import { core, randomMatrix, variant } from '../helpers.js';

const k = core.exports;
/** float32's unit roundoff u = 2⁻²⁴; float64's 2⁻⁵³ (the float64 kernel's own error). */
const U32 = 2 ** -24;
const U64 = 2 ** -53;
/** sgemm's k-block (sgemm.ts KC): one extra rounding per block. */
const KC = 256;
const SENTINEL = -12345.5;

/** γ_j = j·u / (1 − j·u) for float32. */
function gamma32(j: number): number {
  return (j * U32) / (1 - j * U32);
}

/** c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow (the kernels' `geo` order). */
type Geo = [number, number, number, number, number, number, number, number, number, number, number, number, number];

function geometry(c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number): Geo {
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  return [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow];
}

const GEOS: Geo[] = [
  geometry(3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1), // stride 1, padding: the SIMD spans with zeros either side, odd width
  geometry(5, 11, 10, 3, 2, 2, 2, 1, 0, 2, 1), // stride 2, dilation 2 in rows, odd channels
  geometry(1, 6, 13, 2, 5, 1, 1, 0, 2, 1, 2), // one channel, stride 1 with column dilation
  geometry(3, 9, 9, 3, 3, 2, 1, 2, 2, 1, 1), // row stride 2, column stride 1, wide padding
  geometry(2, 5, 6, 5, 6, 1, 1, 0, 0, 1, 1), // kernel = input: one position
  geometry(7, 12, 14, 1, 1, 1, 1, 0, 0, 1, 1), // 1 × 1 kernel, 7 channels (long SIMD spans)
];

const name = (g: Geo) => `geo [${g.join(',')}]`;
const P_ = (g: Geo) => g[0] * g[3] * g[4];
const S_ = (g: Geo) => g[11] * g[12];
const IN = (g: Geo) => g[0] * g[1] * g[2];

/** len standard normals rounded to float32 (float32-representable), scaled by a power of 2. */
function data(len: number, seed: number, scale = 1): Float64Array {
  return Float64Array.from(Float32Array.from(randomMatrix(1, Math.max(len, 0), seed)), (v) => v * scale);
}

const abs = (a: Float64Array) => a.map(Math.abs);

/**
 * Allocations of one check on core `c`: float64 planes, float32 planes shifted by `shift` floats
 * from the 16-byte-aligned block (4-byte alignment must suffice), i32 planes; `free()` returns all.
 */
class Mem {
  readonly #blocks: number[] = [];
  constructor(readonly c: Core) {}
  #alloc(bytes: number): number {
    const p = this.c.alloc(Math.max(bytes, 16));
    this.#blocks.push(p);
    return p;
  }
  f64(v: ArrayLike<number>): number {
    const p = this.#alloc(8 * v.length);
    this.c.f64(p, v.length).set(v);
    return p;
  }
  f32(v: ArrayLike<number>, shift = 0): number {
    const p = this.#alloc(4 * (v.length + shift)) + 4 * shift;
    this.c.f32(p, v.length).set(v);
    return p;
  }
  i32(v: ArrayLike<number>): number {
    const p = this.#alloc(4 * v.length);
    this.c.i32(p, v.length).set(v);
    return p;
  }
  read64(p: number, n: number): Float64Array {
    return this.c.f64(p, n).slice();
  }
  read32(p: number, n: number): Float32Array {
    return this.c.f32(p, n).slice();
  }
  free(): void {
    for (const p of this.#blocks) this.c.free(p);
    this.#blocks.length = 0;
  }
}

/** Every entry of the float32 result is the float64 kernel's (float32-representable) value. */
function exact(got: Float32Array, want: Float64Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: entry ${i} = ${got[i]}, float64 kernel ${want[i]}`);
}

/** Bit for bit (as Object.is) against a float32 emulation. */
function bitwise(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: entry ${i} = ${got[i]}, expected ${want[i]}`);
}

/**
 * |got − want| ≤ (γ_j + j·2⁻⁵³)·mag per entry (mag = Σ|terms|; the second part covers the float64
 * kernel's own error). Returns how many entries differ from the float64 value rounded once to
 * float32 (arithmetic in float32 leaves such entries; one final rounding would leave none).
 */
function within(got: Float32Array, want: Float64Array, mag: Float64Array, j: number, what: string): number {
  assert.is(got.length, want.length, `${what}: length`);
  const g = gamma32(j) + (j + 2) * U64;
  let rounded = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!),
      tol = g * mag[i]!;
    if (!(d <= tol)) assert.unreachable(`${what}: entry ${i} = ${got[i]}, float64 kernel ${want[i]} (|Δ| = ${d} > ${tol}, j = ${j})`);
    if (got[i] !== Math.fround(want[i]!)) rounded++;
  }
  return rounded;
}

function sentinels(n: number): Float64Array {
  return new Float64Array(n).fill(SENTINEL);
}

// ---- copies: im2col, gather, transpose, bias broadcast ----

test('convIm2col32 = convIm2col exactly (odd geometry, 4-byte alignment, nothing written past the patch matrix)', () => {
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      x = data(IN(g), 11 + g[0] * g[1]);
    for (const shift of [0, 1, 3]) {
      const m = new Mem(core);
      const x64 = m.f64(x),
        c64 = m.f64(sentinels(P * S + 4)),
        x32 = m.f32(x, shift),
        c32 = m.f32(sentinels(P * S + 4), (shift + 2) % 4);
      k.convIm2col(...g, x64, c64);
      k.convIm2col32(...g, x32, c32);
      const want = m.read64(c64, P * S + 4),
        got = m.read32(c32, P * S + 4);
      exact(got, want, `convIm2col32 ${name(g)} shift ${shift}`);
      for (let i = P * S; i < P * S + 4; i++) assert.is(got[i], SENTINEL, `convIm2col32 ${name(g)}: wrote past the end`);
      // Not a trivial copy: padding positions read as 0 where the geometry has any.
      if (g[7] + g[8] > 0) assert.ok(got.subarray(0, P * S).includes(0), `${name(g)}: padding zeros present`);
      m.free();
    }
  }
});

test('convGather32 = convGather exactly (with and without the cotangent blocks; row padding untouched)', () => {
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      I = IN(g),
      n = 3,
      o = 5;
    const ldx = I + 3,
      ldy = o * S + 2,
      ld = n * S + 3;
    const x = data(n * ldx, 21 + S),
      gy = data(n * ldy, 22 + S);
    for (const withGy of [true, false]) {
      const m = new Mem(core);
      const geo64 = m.i32(g),
        x64 = m.f64(x),
        gy64 = m.f64(gy),
        px64 = m.f64(sentinels(P * ld)),
        gyc64 = m.f64(sentinels(o * ld));
      const x32 = m.f32(x, 1),
        gy32 = m.f32(gy, 2),
        px32 = m.f32(sentinels(P * ld), 3),
        gyc32 = m.f32(sentinels(o * ld), 1);
      k.convGather(n, geo64, S, x64, ldx, withGy ? gy64 : 0, ldy, o, px64, withGy ? gyc64 : 0, ld);
      k.convGather32(n, geo64, S, x32, ldx, withGy ? gy32 : 0, ldy, o, px32, withGy ? gyc32 : 0, ld);
      const px = m.read32(px32, P * ld),
        gyc = m.read32(gyc32, o * ld);
      exact(px, m.read64(px64, P * ld), `convGather32 px ${name(g)}`);
      exact(gyc, m.read64(gyc64, o * ld), `convGather32 gyc ${name(g)}`);
      for (let r = 0; r < P; r++) for (let j = n * S; j < ld; j++) assert.is(px[r * ld + j], SENTINEL, `${name(g)}: px padding written`);
      // gyc holds the cotangents (or stays untouched without them).
      for (let ch = 0; ch < o; ch++) {
        for (let b = 0; b < n; b++) {
          for (let s = 0; s < S; s++) assert.is(gyc[ch * ld + b * S + s], withGy ? Math.fround(gy[b * ldy + ch * S + s]!) : SENTINEL, `${name(g)}: gyc (${ch}, ${b}, ${s})`);
        }
      }
      m.free();
    }
  }
});

test('convTranspose32 = convTranspose exactly (4 × 4 blocks, odd edges, single rows and columns)', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [1, 9],
    [9, 1],
    [4, 4],
    [5, 7],
    [8, 9],
    [13, 6],
    [3, 17],
    [16, 12],
  ];
  for (const [mm, nn] of shapes) {
    const rows = 3,
      a = data(rows * mm * nn, mm * 31 + nn);
    const m = new Mem(core);
    const a64 = m.f64(a),
      b64 = m.f64(sentinels(rows * mm * nn + 4)),
      a32 = m.f32(a, 1),
      b32 = m.f32(sentinels(rows * mm * nn + 4), 3);
    k.convTranspose(rows, mm, nn, a64, b64);
    k.convTranspose32(rows, mm, nn, a32, b32);
    const got = m.read32(b32, rows * mm * nn + 4);
    exact(got, m.read64(b64, rows * mm * nn + 4), `convTranspose32 ${rows}×${mm}×${nn}`);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < mm; i++) for (let j = 0; j < nn; j++) assert.is(got[r * mm * nn + j * mm + i], Math.fround(a[r * mm * nn + i * nn + j]!), `transpose (${r}, ${i}, ${j})`);
    }
    for (let i = rows * mm * nn; i < got.length; i++) assert.is(got[i], SENTINEL, 'convTranspose32 wrote past the end');
    m.free();
  }
});

test('convBiasBroadcast32 = convBiasBroadcast exactly (odd sizes)', () => {
  for (const [rows, co, S] of [
    [1, 1, 1],
    [3, 5, 7],
    [2, 4, 16],
    [4, 3, 33],
  ] as const) {
    const b = data(co, 7 * co + S);
    const m = new Mem(core);
    const b64 = m.f64(b),
      y64 = m.f64(sentinels(rows * co * S + 2)),
      b32 = m.f32(b, 1),
      y32 = m.f32(sentinels(rows * co * S + 2), 2);
    k.convBiasBroadcast(rows, co, S, b64, y64);
    k.convBiasBroadcast32(rows, co, S, b32, y32);
    const got = m.read32(y32, rows * co * S + 2);
    exact(got, m.read64(y64, rows * co * S + 2), `convBiasBroadcast32 ${rows}×${co}×${S}`);
    assert.is(got[rows * co * S], SENTINEL, 'wrote past the end');
    m.free();
  }
});

// ---- adds: col2im and the position sums (float32 emulations in the kernel's order) ----

/** col2im in float32, the kernel's order (rows of cols, then oy, then ox), every add rounded. */
function col2imRef32(g: Geo, cols: ArrayLike<number>, x0: ArrayLike<number>): Float32Array {
  const [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow] = g;
  const x = Float32Array.from(x0),
    S = oh * ow;
  let row = 0;
  for (let ci = 0; ci < c; ci++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw - pw + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const p = (ci * h + iy) * w + ix;
            x[p] = Math.fround(x[p]! + cols[row * S + oy * ow + ox]!);
          }
        }
      }
    }
  }
  return x;
}

test('convCol2im32: the float32 adds in the float64 twin order (bit for bit), within γ_{kh·kw+1} of convCol2im', () => {
  let rounded = 0;
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      I = IN(g);
    const cols = data(P * S, 41 + P),
      x0 = data(I, 42 + S);
    const m = new Mem(core);
    const cols64 = m.f64(cols),
      x64 = m.f64(x0),
      mag64 = m.f64(abs(x0)),
      cols32 = m.f32(cols, 1),
      x32 = m.f32([...x0, SENTINEL], 3);
    k.convCol2im(...g, cols64, x64);
    k.convCol2im(...g, m.f64(abs(cols)), mag64);
    k.convCol2im32(...g, cols32, x32);
    const got = m.read32(x32, I + 1);
    assert.is(got[I], SENTINEL, `${name(g)}: wrote past the end`);
    bitwise(got.subarray(0, I), col2imRef32(g, Float32Array.from(cols), x0), `convCol2im32 ${name(g)} vs float32 emulation`);
    // Each input entry gets at most kh·kw adds.
    rounded += within(got.subarray(0, I), m.read64(x64, I), m.read64(mag64, I), g[3] * g[4] + 1, `convCol2im32 ${name(g)}`);
    m.free();
  }
  assert.ok(rounded > 0, 'col2im: the float32 sums differ from the float64 ones somewhere');
});

/** The kernel's row sum in float32: two lane accumulators (even, odd entries), their sum, the odd tail. */
function sumRow32(g: ArrayLike<number>, off: number, n: number): number {
  let a0 = 0,
    a1 = 0,
    s = 0;
  for (; s + 2 <= n; s += 2) {
    a0 = Math.fround(a0 + g[off + s]!);
    a1 = Math.fround(a1 + g[off + s + 1]!);
  }
  let t = Math.fround(a0 + a1);
  if (s < n) t = Math.fround(t + g[off + s]!);
  return t;
}

test('convPositionSums32: float32 sums in the float64 twin order (bit for bit; alpha, beta rounded to float32), within γ of convPositionSums', () => {
  let rounded = 0;
  for (const [rows, co, S] of [
    [1, 1, 1],
    [4, 3, 2],
    [3, 5, 7],
    [5, 2, 33],
    [2, 7, 260],
  ] as const) {
    const gv = data(rows * co * S, rows * 100 + co * 10 + S);
    const g32 = Float32Array.from(gv);
    for (const [alpha, beta, ldout] of [
      [1, 0, co],
      [0.3, 0, co + 2],
      [1, 1, 0],
      [0.3, 0.7, 0],
      [-1.5, 0, 0],
    ] as const) {
      const outLen = ldout === 0 ? co + 1 : rows * ldout;
      const out0 = data(outLen, 5 + S);
      if (ldout === 0) out0[co] = SENTINEL;
      else for (let r = 0; r < rows; r++) for (let j = co; j < ldout; j++) out0[r * ldout + j] = SENTINEL;
      const m = new Mem(core);
      const gp64 = m.f64(gv),
        o64 = m.f64(out0),
        gp32 = m.f32(gv, 1),
        o32 = m.f32(out0, 2);
      k.convPositionSums(rows, co, S, gp64, alpha, beta, o64, ldout);
      k.convPositionSums32(rows, co, S, gp32, alpha, beta, o32, ldout);
      const got = m.read32(o32, outLen),
        want = m.read64(o64, outLen);
      const what = `convPositionSums32 rows ${rows} co ${co} S ${S} alpha ${alpha} beta ${beta} ldout ${ldout}`;
      // The float32 emulation and the magnitudes Σ|terms|.
      const ref = Float32Array.from(out0),
        mag = new Float64Array(outLen),
        a = Math.fround(alpha),
        bt = Math.fround(beta);
      let j: number;
      if (ldout === 0) {
        j = S + rows + 3;
        for (let o = 0; o < co; o++) {
          let t = 0,
            s = 0;
          for (let r = 0; r < rows; r++) {
            t = Math.fround(t + sumRow32(g32, (r * co + o) * S, S));
            for (let q = 0; q < S; q++) s += Math.abs(g32[(r * co + o) * S + q]!);
          }
          ref[o] = Math.fround((bt === 0 ? 0 : Math.fround(bt * ref[o]!)) + Math.fround(a * t));
          mag[o] = Math.abs(a) * s + Math.abs(bt * out0[o]!);
        }
        mag[co] = 0;
      } else {
        j = S + 2;
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < co; o++) {
            ref[r * ldout + o] = Math.fround(a * sumRow32(g32, (r * co + o) * S, S));
            let s = 0;
            for (let q = 0; q < S; q++) s += Math.abs(g32[(r * co + o) * S + q]!);
            mag[r * ldout + o] = Math.abs(a) * s;
          }
        }
      }
      bitwise(got, ref, `${what} vs float32 emulation`);
      // The float64 twin used alpha and beta unrounded: compare with alpha, beta as float32 would
      // see them only through the bound (|alpha − fl(alpha)| ≤ u|alpha| adds one rounding).
      rounded += within(got, want, mag, j + 2, what);
      m.free();
    }
  }
  assert.ok(rounded > 0, 'position sums: the float32 sums differ from the float64 ones somewhere');
});

// ---- the whole-batch products (sgemm inside) ----

/** Bounds: B(k) = k + ⌈k/KC⌉ + 2 roundings for one sgemm of length k with beta = 1 (sgemm.ts header). */
const prod = (len: number) => len + Math.ceil(len / KC) + 2;

test('convForwardBatch32 within γ of convForwardBatch: bias, tangent term and input term in every combination (4-byte alignment, row padding untouched)', () => {
  let rounded = 0;
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      I = IN(g),
      n = 3,
      o = 5;
    const ldx = I + 3,
      ldy = o * S + 2;
    const W = data(o * P, 51 + P),
      V = data(o * P, 52 + P),
      b = data(o, 53),
      x = data(n * ldx, 54 + S),
      t = data(n * ldx, 55 + S);
    for (const [hasB, hasT, hasX] of [
      [true, false, true],
      [true, true, true],
      [false, false, true],
      [false, true, false],
      [true, false, false],
      [false, false, false],
    ] as const) {
      const m = new Mem(core);
      const geo = m.i32(g),
        y0 = sentinels(n * ldy);
      // float64 kernel on the values and on their magnitudes; float32 twin (planes shifted by one float).
      const run64 = (wv: Float64Array, vv: Float64Array, bv: Float64Array, xv: Float64Array, tv: Float64Array) => {
        const y = m.f64(y0);
        k.convForwardBatch(n, geo, o, m.f64(wv), hasB ? m.f64(bv) : 0, hasX ? m.f64(xv) : 0, m.f64(vv), hasT ? m.f64(tv) : 0, ldx, y, ldy, m.f64(new Float64Array(P * S)), P * S, 1);
        return m.read64(y, n * ldy);
      };
      const want = run64(W, V, b, x, t),
        mag = run64(abs(W), abs(V), abs(b), abs(x), abs(t));
      const y32 = m.f32(y0, 1);
      k.convForwardBatch32(n, geo, o, m.f32(W, 1), hasB ? m.f32(b, 3) : 0, hasX ? m.f32(x, 1) : 0, m.f32(V, 2), hasT ? m.f32(t, 3) : 0, ldx, y32, ldy, m.f32(new Float64Array(P * S), 1), P * S, 1);
      const got = m.read32(y32, n * ldy);
      const what = `convForwardBatch32 ${name(g)} b ${hasB} t ${hasT} x ${hasX}`;
      const terms = (hasT ? 1 : 0) + (hasX ? 1 : 0);
      for (let i = 0; i < n; i++) {
        const row = (a: ArrayLike<number>) => Float64Array.from({ length: o * S }, (_, j) => a[i * ldy + j]!);
        rounded += within(got.subarray(i * ldy, i * ldy + o * S), row(want), row(mag), terms * prod(P) + 1, `${what} sample ${i}`);
        for (let j = o * S; j < ldy; j++) assert.is(got[i * ldy + j], SENTINEL, `${what}: row padding written`);
      }
      if (!hasB && !hasT && !hasX) for (let i = 0; i < n; i++) for (let j = 0; j < o * S; j++) assert.is(got[i * ldy + j], 0, `${what}: zeros`);
      m.free();
    }
  }
  assert.ok(rounded > 0, 'forward: float32 products differ from the float64 ones rounded once, somewhere');
});

test('convBackInputBatch32 within γ of convBackInputBatch: with and without the second row set (the R-operator)', () => {
  let rounded = 0;
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      I = IN(g),
      rows = 4,
      o = 5;
    const ldy = o * S + 1,
      ldx = I + 2;
    const W = data(o * P, 61 + P),
      V = data(o * P, 62 + P),
      gy = data(rows * ldy, 63 + S),
      u = data(rows * ldy, 64 + S);
    for (const hasV of [false, true]) {
      const m = new Mem(core);
      const geo = m.i32(g),
        gx0 = sentinels(rows * ldx);
      const run64 = (wv: Float64Array, vv: Float64Array, gv: Float64Array, uv: Float64Array) => {
        const gx = m.f64(gx0);
        k.convBackInputBatch(rows, geo, o, m.f64(wv), m.f64(gv), hasV ? m.f64(vv) : 0, hasV ? m.f64(uv) : 0, ldy, gx, ldx, m.f64(new Float64Array(P * S)), P * S, 1);
        return m.read64(gx, rows * ldx);
      };
      const want = run64(W, V, gy, u),
        mag = run64(abs(W), abs(V), abs(gy), abs(u));
      const gx32 = m.f32(gx0, 3);
      k.convBackInputBatch32(rows, geo, o, m.f32(W, 1), m.f32(gy, 2), hasV ? m.f32(V, 3) : 0, hasV ? m.f32(u, 1) : 0, ldy, gx32, ldx, m.f32(new Float64Array(P * S), 2), P * S, 1);
      const got = m.read32(gx32, rows * ldx);
      const what = `convBackInputBatch32 ${name(g)} v ${hasV}`;
      // The products (length o, one or two) then at most kh·kw col2im adds per input entry.
      const j = (hasV ? 2 : 1) * prod(o) + g[3] * g[4] + 1;
      for (let r = 0; r < rows; r++) {
        const row = (a: ArrayLike<number>) => Float64Array.from({ length: I }, (_, q) => a[r * ldx + q]!);
        rounded += within(got.subarray(r * ldx, r * ldx + I), row(want), row(mag), j, `${what} row ${r}`);
        for (let q = I; q < ldx; q++) assert.is(got[r * ldx + q], SENTINEL, `${what}: row padding written`);
      }
      m.free();
    }
  }
  assert.ok(rounded > 0, 'back input: float32 products differ from the float64 ones rounded once, somewhere');
});

test('convPullbacksBatch32 within γ_S of convPullbacksBatch (k = 1, 2, 3; bias sums bit for bit those of convPositionSums32)', () => {
  let rounded = 0;
  for (const g of GEOS) {
    const P = P_(g),
      S = S_(g),
      I = IN(g),
      n = 3,
      o = 5;
    const ldx = I + 1,
      ldy = o * S;
    for (const kk of [1, 2, 3]) {
      for (const bias of [0, 1]) {
        const width = o * P + (bias ? o : 0),
          ldout = width + 2;
        const x = data(n * ldx, 71 + S + kk),
          gy = data(n * kk * ldy, 72 + P + kk);
        const m = new Mem(core);
        const geo = m.i32(g),
          out0 = sentinels(n * kk * ldout),
          cs = P * S + kk * o * P;
        const run64 = (xv: Float64Array, gv: Float64Array) => {
          const out = m.f64(out0);
          k.convPullbacksBatch(n, kk, geo, o, bias, m.f64(xv), ldx, m.f64(gv), ldy, out, ldout, m.f64(new Float64Array(cs)), cs, 1);
          return m.read64(out, n * kk * ldout);
        };
        const want = run64(x, gy),
          mag = run64(abs(x), abs(gy));
        const out32 = m.f32(out0, 1),
          gy32 = m.f32(gy, 2);
        k.convPullbacksBatch32(n, kk, geo, o, bias, m.f32(x, 3), ldx, gy32, ldy, out32, ldout, m.f32(new Float64Array(cs), 1), cs, 1);
        const got = m.read32(out32, n * kk * ldout);
        const what = `convPullbacksBatch32 ${name(g)} k ${kk} bias ${bias}`;
        for (let r = 0; r < n * kk; r++) {
          const row = (a: ArrayLike<number>) => Float64Array.from({ length: width }, (_, q) => a[r * ldout + q]!);
          rounded += within(got.subarray(r * ldout, r * ldout + width), row(want), row(mag), prod(S), `${what} row ${r}`);
          for (let q = width; q < ldout; q++) assert.is(got[r * ldout + q], SENTINEL, `${what}: row padding written`);
        }
        if (bias) {
          // The bias part: convPositionSums32's sums of the same rows, bit for bit.
          const sums = m.f32(new Float64Array(n * kk * o));
          k.convPositionSums32(n * kk, o, S, gy32, 1, 0, sums, o);
          const ps = m.read32(sums, n * kk * o);
          for (let r = 0; r < n * kk; r++) bitwise(got.subarray(r * ldout + o * P, r * ldout + o * P + o), ps.subarray(r * o, r * o + o), `${what}: bias sums row ${r}`);
        }
        m.free();
      }
    }
  }
  assert.ok(rounded > 0, 'pullbacks: float32 products differ from the float64 ones rounded once, somewhere');
});

// ---- threads: the table's split rules for the twins ----

test('conv twins: 1 and 2 threads bitwise identical (forward, back input, pullbacks, position sums, transpose, gather, bias broadcast)', async () => {
  const cores = [await createCore({ variant, threads: 1 }), await createCore({ variant, threads: 2 })];
  const g = geometry(3, 16, 17, 3, 3, 1, 1, 1, 1, 1, 1);
  const P = P_(g),
    S = S_(g),
    I = IN(g),
    o = 8,
    n = 16,
    nws = 2;
  const W = data(o * P, 81),
    V = data(o * P, 82),
    b = data(o, 83),
    x = data(n * I, 84),
    t = data(n * I, 85),
    gy = data(n * 2 * o * S, 86);
  // Count the twin shares the 2-thread pool runs (each kernel must really be split).
  const split = new Map<string, number>();
  const pool = cores[1]!.pool!;
  const run = pool.run.bind(pool);
  pool.run = (shares) => {
    for (const [kernel] of shares) split.set(kernel, (split.get(kernel) ?? 0) + 1);
    run(shares);
  };
  const runs = cores.map((c) => {
    const ex = c.exports,
      m = new Mem(c),
      res: Record<string, Float32Array> = {};
    const geo = m.i32(g),
      w32 = m.f32(W, 1),
      v32 = m.f32(V),
      x32 = m.f32(x, 1),
      t32 = m.f32(t, 2),
      gy32 = m.f32(gy, 3);
    const ws = () => m.f32(new Float64Array(nws * (P * S + 2 * o * P)), 1);
    let y = m.f32(new Float64Array(n * o * S));
    ex.convForwardBatch32(n, geo, o, w32, m.f32(b), x32, v32, t32, I, y, o * S, ws(), P * S, nws);
    res.forward = m.read32(y, n * o * S);
    y = m.f32(new Float64Array(n * I));
    ex.convBackInputBatch32(n, geo, o, w32, gy32, v32, gy32 + 4 * n * o * S, o * S, y, I, ws(), P * S, nws);
    res.backInput = m.read32(y, n * I);
    const ld = P * o + o;
    y = m.f32(new Float64Array(n * 2 * ld));
    ex.convPullbacksBatch32(n, 2, geo, o, 1, x32, I, gy32, o * S, y, ld, ws(), P * S + 2 * o * P, nws);
    res.pullbacks = m.read32(y, n * 2 * ld);
    y = m.f32(new Float64Array(n * 2 * o));
    ex.convPositionSums32(n * 2, o, S, gy32, 0.3, 0, y, o);
    res.positionSums = m.read32(y, n * 2 * o);
    y = m.f32(new Float64Array(n * 2 * o * S));
    ex.convTranspose32(n * 2, o, S, gy32, y);
    res.transpose = m.read32(y, n * 2 * o * S);
    const px = m.f32(new Float64Array(P * n * S)),
      gyc = m.f32(new Float64Array(o * n * S));
    ex.convGather32(n, geo, S, x32, I, gy32, o * S, o, px, gyc, n * S);
    res.gatherPx = m.read32(px, P * n * S);
    res.gatherGy = m.read32(gyc, o * n * S);
    y = m.f32(new Float64Array(n * 2 * o * S));
    ex.convBiasBroadcast32(n * 2, o, S, m.f32(b), y);
    res.biasBroadcast = m.read32(y, n * 2 * o * S);
    m.free();
    return res;
  });
  for (const key of Object.keys(runs[0]!)) bitwise(runs[1]![key]!, runs[0]![key]!, `${key}: 2 threads vs 1`);
  for (const kernel of ['convForwardBatch32', 'convBackInputBatch32', 'convPullbacksBatch32', 'convPositionSums32', 'convTranspose32', 'convGather32', 'convBiasBroadcast32']) {
    assert.is(split.get(kernel), 2, `${kernel}: split into 2 shares on the 2-thread core`);
  }
  // Not vacuous: the outputs carry data.
  assert.ok(runs[0]!.forward!.some((v) => v !== 0) && runs[0]!.pullbacks!.some((v) => v !== 0));
  for (const c of cores) c.pool?.close();
});

test.run();
