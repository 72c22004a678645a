/**
 * Batched kernels of the grid search (`gridSearch`): many independent optimizer runs
 * ("lanes", one configuration γ, λ, optimizer each) advanced together, SIMD across lanes.
 *
 * Layouts (pointers are byte addresses, sizes and strides are in elements of 8 bytes):
 * - lane-major: a per-lane vector v of length E for K lanes is an E × K row-major block,
 *   v_l[e] at index e·K + l (Θ, gradients, f/r/weights over samples);
 * - pair-blocked: per-lane packed matrices are stored two lanes at a time: pair q = lanes
 *   (2q, 2q+1) owns a contiguous block of `ps` elements; element e of lane 2q + h is at
 *   q·ps + 2e + h. Symmetric matrices are packed lower triangles, row-major:
 *   element (i, j), j ≤ i, has index e = i(i+1)/2 + j.
 * - Every lane is computed by the same lane-wise instruction sequence (f64x2 over a pair,
 *   never a scalar tail over lanes), so a lane's numbers do not depend on its position or
 *   on the other lanes: lane counts K are multiples of 4.
 *
 * The kernels neither allocate, validate nor trap on data; failures are status codes
 * (Cholesky: LAPACK INFO, the 1-based index of the first pivot that is not positive).
 * 8-byte alignment suffices everywhere (`v128.load` tolerates unaligned addresses).
 * `fmadd` may fuse in the relaxed binary (see util/simd.ts); the transcendental helpers
 * below use separate multiplies and adds in both binaries.
 */
import { fmadd, ld, st, ld2, st2 } from '../util/simd';

// ---------------------------------------------------------------------------------------------
// Lane-wise exp and log (fdlibm algorithms on f64x2)
// ---------------------------------------------------------------------------------------------

const LOG2E = 1.44269504088896338700e+00;
const LN2HI = 6.93147180369123816490e-01;
const LN2LO = 1.90821492927058770002e-10;
const EP1 = 1.66666666666666019037e-01;
const EP2 = -2.77777777770155933842e-03;
const EP3 = 6.61375632143793436117e-05;
const EP4 = -1.65339022054652515390e-06;
const EP5 = 4.13813679705723846039e-08;
const SHIFTER = 6755399441055744.0; // 1.5·2^52: adding it leaves an integral value in the low mantissa bits
const LG1 = 6.666666666666735130e-01;
const LG2 = 3.999999999940941908e-01;
const LG3 = 2.857142874366239149e-01;
const LG4 = 2.222219843214978396e-01;
const LG5 = 1.818357216161805012e-01;
const LG6 = 1.531383769920937332e-01;
const LG7 = 1.479819860511658591e-01;
const SQRT2 = 1.4142135623730951;

// @ts-ignore: decorator
@inline function sp(x: f64): v128 { return f64x2.splat(x); }

/**
 * Constants of the lane-wise exp/log, read from memory (one `load64_splat` each) rather than
 * materialized as `v128.const` at every use, which costs several instructions in V8.
 */
const VM = memory.data<f64>([
  -746.0, 710.0, LOG2E, SHIFTER, LN2HI, LN2LO, EP1, EP2, EP3, EP4, EP5, 1.0, 2.0, // 0 … 12
  2.2250738585072014e-308, 18014398509481984.0, SQRT2, 0.5, LG1, LG2, LG3, LG4, LG5, LG6, LG7, // 13 … 23
  Infinity, -Infinity, NaN, 0.0, -708.0, 700.0, 40.0, 1e300, // 24 … 31
]);
const VMI = memory.data<i64>([0x4338000000000000, 1023, 0x000fffffffffffff, 0x3ff0000000000000, 1023 + 54]);

// @ts-ignore: decorator
@inline function vc(i: i32): v128 { return v128.load64_splat(VM + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline function vi(i: i32): v128 { return v128.load64_splat(VMI + (<usize>i << 3)); }

/**
 * e^x on both lanes (fdlibm's reduction x = k·ln2 + r, |r| ≤ ln2/2, and its rational
 * approximation of e^r; < 1 ulp). Overflows to +Inf above ≈ 709.78, underflows gradually to
 * 0 below ≈ −708.4 (2^k applied as two factors); NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function gridExp2(x0: v128): v128 {
  const x = f64x2.pmin(f64x2.pmax(x0, vc(0)), vc(1)); // NaN stays in x (first operands)
  const t = f64x2.add(f64x2.mul(x, vc(2)), vc(3));
  const kf = f64x2.sub(t, vc(3));
  const k = i64x2.sub(t, vi(0));
  const hi = f64x2.sub(x, f64x2.mul(kf, vc(4)));
  const lo = f64x2.mul(kf, vc(5));
  const r = f64x2.sub(hi, lo);
  const r2 = f64x2.mul(r, r);
  const p = f64x2.mul(r2, f64x2.add(vc(6), f64x2.mul(r2, f64x2.add(vc(7), f64x2.mul(r2,
    f64x2.add(vc(8), f64x2.mul(r2, f64x2.add(vc(9), f64x2.mul(r2, vc(10))))))))));
  const c = f64x2.sub(r, p);
  const y = f64x2.sub(vc(11), f64x2.sub(f64x2.sub(lo, f64x2.div(f64x2.mul(r, c), f64x2.sub(vc(12), c))), hi));
  // 2^k as 2^k1 · 2^k2 (k1 = ⌊k/2⌋) so that both factors are normal numbers.
  const k1f = f64x2.floor(f64x2.mul(kf, vc(16)));
  const k1 = i64x2.sub(f64x2.add(k1f, vc(3)), vi(0));
  const k2 = i64x2.sub(k, k1);
  const s1 = i64x2.shl(i64x2.add(k1, vi(1)), 52);
  const s2 = i64x2.shl(i64x2.add(k2, vi(1)), 52);
  const out = f64x2.mul(f64x2.mul(y, s1), s2);
  // NaN in → NaN out (the integer path above is meaningless for NaN).
  return v128.bitselect(out, x0, f64x2.eq(x0, x0));
}

/**
 * ln(m · 2^e) on both lanes for a mantissa m ∈ [1, 2) (as f64 lanes) and an unbiased exponent e
 * (i64 lanes): the fdlibm log kernel shared by {@link gridLog2} and {@link gridLogPos2}.
 */
// @ts-ignore: decorator
@inline function logKernel2(m0: v128, e0: v128): v128 {
  let m = m0, e = e0;
  const big = f64x2.gt(m, vc(15));
  m = v128.bitselect(f64x2.mul(m, vc(16)), m, big);
  e = i64x2.sub(e, big); // big lanes are all ones (−1): e + 1
  const dk = f64x2.convert_low_i32x4_s(i32x4.shuffle(e, e, 0, 2, 0, 2));
  const f = f64x2.sub(m, vc(11));
  const s = f64x2.div(f, f64x2.add(vc(12), f));
  const z = f64x2.mul(s, s);
  const w = f64x2.mul(z, z);
  const t1 = f64x2.mul(w, f64x2.add(vc(18), f64x2.mul(w, f64x2.add(vc(20), f64x2.mul(w, vc(22))))));
  const t2 = f64x2.mul(z, f64x2.add(vc(17), f64x2.mul(w, f64x2.add(vc(19), f64x2.mul(w,
    f64x2.add(vc(21), f64x2.mul(w, vc(23))))))));
  const R = f64x2.add(t2, t1);
  const hfsq = f64x2.mul(f64x2.mul(vc(16), f), f);
  const out = f64x2.sub(f64x2.mul(dk, vc(4)),
    f64x2.sub(f64x2.sub(hfsq, f64x2.add(f64x2.mul(s, f64x2.add(hfsq, R)), f64x2.mul(dk, vc(5)))), f));
  return out;
}

/**
 * ln x on both lanes (fdlibm's log: x = 2^k·m, m ∈ [√½, √2), s = (m−1)/(m+1), minimax
 * polynomial in s²; < 1 ulp). Subnormals are rescaled; ln 0 = −Inf, ln(x < 0) = NaN,
 * ln(+Inf) = +Inf, NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function gridLog2(x0: v128): v128 {
  const sub = f64x2.lt(x0, vc(13));
  const x = v128.bitselect(f64x2.mul(x0, vc(14)), x0, sub); // × 2^54
  const ebias = v128.bitselect(vi(4), vi(1), sub);
  const m = v128.or(v128.and(x, vi(2)), vi(3));
  const e = i64x2.sub(i64x2.shr_u(x, 52), ebias);
  const out = logKernel2(m, e);
  // Special values: 0 → −Inf, negative or NaN → NaN, +Inf → +Inf.
  const ok = v128.and(f64x2.gt(x0, vc(27)), f64x2.lt(x0, vc(24)));
  let special = v128.bitselect(vc(25), vc(26), f64x2.eq(x0, vc(27)));
  special = v128.bitselect(x0, special, f64x2.eq(x0, vc(24)));
  return v128.bitselect(out, special, ok);
}

/**
 * ln x on both lanes for x positive and normal (or NaN, which stays NaN): `gridLog2` without
 * the subnormal rescaling and the 0/negative/Inf cases.
 */
// @ts-ignore: decorator
@inline function gridLogPos2(x: v128): v128 {
  const m = v128.or(v128.and(x, vi(2)), vi(3));
  const e = i64x2.sub(i64x2.shr_u(x, 52), vi(1));
  const out = logKernel2(m, e);
  return v128.bitselect(out, x, f64x2.eq(x, x));
}

/** log of n contiguous positive normal f64 (n even): test hook for the fast lane-wise log. */
export function gridLogPosVec(n: i32, x: usize, out: usize): void {
  for (let i = 0; i + 2 <= n; i += 2) st2(out, i, gridLogPos2(ld2(x, i)));
}

/** exp on n contiguous f64 (n even): test hook for the lane-wise exp. */
export function gridExpVec(n: i32, x: usize, out: usize): void {
  for (let i = 0; i + 2 <= n; i += 2) st2(out, i, gridExp2(ld2(x, i)));
}

/** log on n contiguous f64 (n even): test hook for the lane-wise log. */
export function gridLogVec(n: i32, x: usize, out: usize): void {
  for (let i = 0; i + 2 <= n; i += 2) st2(out, i, gridLog2(ld2(x, i)));
}

// ---------------------------------------------------------------------------------------------
// Products over samples, SIMD across lanes
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function splat(p: usize): v128 { return v128.load64_splat(p); }

// @ts-ignore: decorator
@inline function put2(c: usize, off: isize, v: v128, acc: bool): void {
  const p = c + (<usize>off << 3);
  v128.store(p, acc ? f64x2.add(v128.load(p), v) : v);
}

/**
 * C[e][l] (+)= Σ_{n<m} A[n][e] · B[n][l] for e < ne, l < k (a transposed-A product with the
 * lanes contiguous in B). Uses: gradients Xᵀ R, forward products X Θ (pass A = Xᵀ), curvature
 * Zᵀ W with Z[n][e] = x_ni x_nj.
 * @param m   reduction length (rows of A and B)
 * @param ne  columns of A (outputs)
 * @param k   lanes, a multiple of 4
 * @param a   A, row-major m × ne, leading dimension lda ≥ ne
 * @param b   B, row-major m × k (lanes contiguous), leading dimension ldb ≥ k
 * @param c   output; element (e, l) at index e·ce + (l >> 1)·cp + (l & 1): lane-major with
 *            ce = ldc, cp = 2, pair-blocked with ce = 2, cp = pair stride
 * @param accumulate 0: C = AᵀB, 1: C += AᵀB
 * Register tile 4 outputs × 4 lanes (8 f64x2 accumulators, 6 loads per 8 multiply-adds);
 * outputs ne mod 4 one at a time. Summation over n is sequential per (e, l) in both paths.
 */
export function gridGemmTn(m: i32, ne: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ce: i32, cp: i32, accumulate: i32): void {
  const acc = accumulate != 0;
  const aRow = <usize>lda << 3, bRow = <usize>ldb << 3;
  let e0 = 0;
  for (; e0 + 4 <= ne; e0 += 4) {
    for (let l0 = 0; l0 < k; l0 += 4) {
      let c00 = sp(0), c01 = sp(0), c10 = sp(0), c11 = sp(0);
      let c20 = sp(0), c21 = sp(0), c30 = sp(0), c31 = sp(0);
      let pa = a + (<usize>e0 << 3), pb = b + (<usize>l0 << 3);
      for (let n = 0; n < m; n++, pa += aRow, pb += bRow) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        const a0 = v128.load64_splat(pa), a1 = v128.load64_splat(pa, 8);
        const a2 = v128.load64_splat(pa, 16), a3 = v128.load64_splat(pa, 24);
        c00 = fmadd(a0, b0, c00); c01 = fmadd(a0, b1, c01);
        c10 = fmadd(a1, b0, c10); c11 = fmadd(a1, b1, c11);
        c20 = fmadd(a2, b0, c20); c21 = fmadd(a2, b1, c21);
        c30 = fmadd(a3, b0, c30); c31 = fmadd(a3, b1, c31);
      }
      const q = <isize>(l0 >> 1);
      const o0 = <isize>e0 * ce + q * cp, o1 = o0 + cp;
      put2(c, o0, c00, acc); put2(c, o1, c01, acc);
      put2(c, o0 + ce, c10, acc); put2(c, o1 + ce, c11, acc);
      put2(c, o0 + 2 * ce, c20, acc); put2(c, o1 + 2 * ce, c21, acc);
      put2(c, o0 + 3 * ce, c30, acc); put2(c, o1 + 3 * ce, c31, acc);
    }
  }
  for (; e0 < ne; e0++) {
    for (let l0 = 0; l0 < k; l0 += 4) {
      let c00 = sp(0), c01 = sp(0);
      let pa = a + (<usize>e0 << 3), pb = b + (<usize>l0 << 3);
      for (let n = 0; n < m; n++, pa += aRow, pb += bRow) {
        const a0 = v128.load64_splat(pa);
        c00 = fmadd(a0, v128.load(pb), c00);
        c01 = fmadd(a0, v128.load(pb, 16), c01);
      }
      const o0 = <isize>e0 * ce + <isize>(l0 >> 1) * cp;
      put2(c, o0, c00, acc); put2(c, o0 + cp, c01, acc);
    }
  }
}

/**
 * C[i][l] = Σ_{p ∈ row i} values[p] · B[indices[p]][l] for i < rows, l < k: a CSR matrix
 * times lane-major B. Uses: X Θ (X in CSR), Xᵀ R (Xᵀ in CSR), Zᵀ W (Zᵀ in CSR).
 * @param rows    rows of the CSR matrix
 * @param k       lanes, a multiple of 4
 * @param indptr  rows + 1 i32 row pointers; indices: i32 column indices
 * @param values  f64 values, or 0 when every value is 1 (binary data: plain sums, the same
 *                numbers as multiplying by 1)
 * @param b       B, row-major (lanes contiguous), leading dimension ldb ≥ k
 * @param c       output, element (i, l) at index i·ce + (l >> 1)·cp + (l & 1) (see gridGemmTn)
 * Lane tiles of 8 (4 accumulators), then of 4. Sequential summation over p per (i, l).
 */
export function gridSpmm(rows: i32, k: i32, indptr: usize, indices: usize, values: usize, b: usize, ldb: i32, c: usize, ce: i32, cp: i32): void {
  if (values == 0) spmmUnit(rows, k, indptr, indices, b, ldb, c, ce, cp);
  else spmmValues(rows, k, indptr, indices, values, b, ldb, c, ce, cp);
}

// @ts-ignore: decorator
@inline function spmmValues(rows: i32, k: i32, indptr: usize, indices: usize, values: usize, b: usize, ldb: i32, c: usize, ce: i32, cp: i32): void {
  const bRow = <usize>ldb << 3;
  for (let i = 0; i < rows; i++) {
    const p0 = load<i32>(indptr + (<usize>i << 2)), p1 = load<i32>(indptr + (<usize>(i + 1) << 2));
    let l0 = 0;
    for (; l0 + 8 <= k; l0 += 8) {
      let a0 = sp(0), a1 = sp(0), a2 = sp(0), a3 = sp(0);
      const bl = b + (<usize>l0 << 3);
      for (let p = p0; p < p1; p++) {
        const v = v128.load64_splat(values + (<usize>p << 3));
        const pb = bl + <usize>load<i32>(indices + (<usize>p << 2)) * bRow;
        a0 = fmadd(v, v128.load(pb), a0);
        a1 = fmadd(v, v128.load(pb, 16), a1);
        a2 = fmadd(v, v128.load(pb, 32), a2);
        a3 = fmadd(v, v128.load(pb, 48), a3);
      }
      const o = <isize>i * ce + <isize>(l0 >> 1) * cp;
      st2(c, o, a0); st2(c, o + cp, a1); st2(c, o + 2 * cp, a2); st2(c, o + 3 * cp, a3);
    }
    for (; l0 < k; l0 += 4) {
      let a0 = sp(0), a1 = sp(0);
      const bl = b + (<usize>l0 << 3);
      for (let p = p0; p < p1; p++) {
        const v = v128.load64_splat(values + (<usize>p << 3));
        const pb = bl + <usize>load<i32>(indices + (<usize>p << 2)) * bRow;
        a0 = fmadd(v, v128.load(pb), a0);
        a1 = fmadd(v, v128.load(pb, 16), a1);
      }
      const o = <isize>i * ce + <isize>(l0 >> 1) * cp;
      st2(c, o, a0); st2(c, o + cp, a1);
    }
  }
}

// @ts-ignore: decorator
@inline function spmmUnit(rows: i32, k: i32, indptr: usize, indices: usize, b: usize, ldb: i32, c: usize, ce: i32, cp: i32): void {
  const bRow = <usize>ldb << 3;
  for (let i = 0; i < rows; i++) {
    const p0 = load<i32>(indptr + (<usize>i << 2)), p1 = load<i32>(indptr + (<usize>(i + 1) << 2));
    let l0 = 0;
    for (; l0 + 16 <= k; l0 += 16) {
      let a0 = sp(0), a1 = sp(0), a2 = sp(0), a3 = sp(0), a4 = sp(0), a5 = sp(0), a6 = sp(0), a7 = sp(0);
      const bl = b + (<usize>l0 << 3);
      for (let p = p0; p < p1; p++) {
        const pb = bl + <usize>load<i32>(indices + (<usize>p << 2)) * bRow;
        a0 = f64x2.add(a0, v128.load(pb)); a1 = f64x2.add(a1, v128.load(pb, 16));
        a2 = f64x2.add(a2, v128.load(pb, 32)); a3 = f64x2.add(a3, v128.load(pb, 48));
        a4 = f64x2.add(a4, v128.load(pb, 64)); a5 = f64x2.add(a5, v128.load(pb, 80));
        a6 = f64x2.add(a6, v128.load(pb, 96)); a7 = f64x2.add(a7, v128.load(pb, 112));
      }
      const o = <isize>i * ce + <isize>(l0 >> 1) * cp;
      st2(c, o, a0); st2(c, o + cp, a1); st2(c, o + 2 * cp, a2); st2(c, o + 3 * cp, a3);
      st2(c, o + 4 * cp, a4); st2(c, o + 5 * cp, a5); st2(c, o + 6 * cp, a6); st2(c, o + 7 * cp, a7);
    }
    for (; l0 + 8 <= k; l0 += 8) {
      let a0 = sp(0), a1 = sp(0), a2 = sp(0), a3 = sp(0);
      const bl = b + (<usize>l0 << 3);
      for (let p = p0; p < p1; p++) {
        const pb = bl + <usize>load<i32>(indices + (<usize>p << 2)) * bRow;
        a0 = f64x2.add(a0, v128.load(pb));
        a1 = f64x2.add(a1, v128.load(pb, 16));
        a2 = f64x2.add(a2, v128.load(pb, 32));
        a3 = f64x2.add(a3, v128.load(pb, 48));
      }
      const o = <isize>i * ce + <isize>(l0 >> 1) * cp;
      st2(c, o, a0); st2(c, o + cp, a1); st2(c, o + 2 * cp, a2); st2(c, o + 3 * cp, a3);
    }
    for (; l0 < k; l0 += 4) {
      let a0 = sp(0), a1 = sp(0);
      const bl = b + (<usize>l0 << 3);
      for (let p = p0; p < p1; p++) {
        const pb = bl + <usize>load<i32>(indices + (<usize>p << 2)) * bRow;
        a0 = f64x2.add(a0, v128.load(pb));
        a1 = f64x2.add(a1, v128.load(pb, 16));
      }
      const o = <isize>i * ce + <isize>(l0 >> 1) * cp;
      st2(c, o, a0); st2(c, o + cp, a1);
    }
  }
}

/**
 * Z rows n0 … n0 + nb − 1: Z[n][e] = X[n][i] · X[n][j] for e = i(i+1)/2 + j, j ≤ i < d
 * (the packed lower triangle of x_n x_nᵀ). X row-major with ldx ≥ d; Z rows of ldz ≥ d(d+1)/2,
 * written from z (row n0 first).
 */
export function gridZRows(n0: i32, nb: i32, d: i32, x: usize, ldx: i32, z: usize, ldz: i32): void {
  for (let r = 0; r < nb; r++) {
    const xr = x + (<usize>(n0 + r) * <usize>ldx << 3);
    const zr = z + (<usize>r * <usize>ldz << 3);
    let e = 0;
    for (let i = 0; i < d; i++) {
      const xi = ld(xr, i);
      for (let j = 0; j <= i; j++, e++) st(zr, e, xi * ld(xr, j));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cholesky factorization and solves, two lanes at a time
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function tri(i: i32): usize { return <usize>i * <usize>(i + 1) >> 1; }

/** Σ_{k0≤k<n} x[k]·y[k] on both lanes (x, y pair-interleaved: element k at byte 16k). */
// @ts-ignore: decorator
@inline function dot2(k0: i32, n: i32, x: usize, y: usize): v128 {
  let a0 = sp(0), a1 = sp(0);
  let k = k0;
  for (; k + 2 <= n; k += 2) {
    a0 = fmadd(v128.load(x + (<usize>k << 4)), v128.load(y + (<usize>k << 4)), a0);
    a1 = fmadd(v128.load(x + (<usize>k << 4), 16), v128.load(y + (<usize>k << 4), 16), a1);
  }
  if (k < n) a0 = fmadd(v128.load(x + (<usize>k << 4)), v128.load(y + (<usize>k << 4)), a0);
  return f64x2.add(a0, a1);
}

/** first[i] (the envelope: L[i][j] = 0 for j < first[i]), or 0 without an envelope. */
// @ts-ignore: decorator
@inline function fst(first: usize, i: i32): i32 { return first == 0 ? 0 : load<i32>(first + (<usize>i << 2)); }

/**
 * In place on one lane pair: the packed lower triangle at `a` (pair-interleaved, element e at
 * byte 16e) becomes L with L Lᵀ = A / div + diag(λ) (λ = lam0 on lane 0, lam1 on lane 1).
 * Left-looking by pairs of rows with a 2-row × 4-column register block (6 loads per 8
 * multiply-adds). `inv` (d pairs) receives 1/L[j][j]. The failing pivots (1-based, 0 =
 * success) of the two lanes go to info[0], info[1] (i32). A failing lane keeps going on NaNs
 * without disturbing the other lane.
 * `first` (0 or d i32): an envelope of A — A[i][j] = 0 for j < first[i] — which Cholesky
 * preserves; products with those zeros are skipped (the zeros stay in place).
 */
// @ts-ignore: decorator
@inline function potrfPair(d: i32, a: usize, div: f64, lam0: f64, lam1: f64, inv: usize, info: usize, first: usize): void {
  const vdiv = sp(div);
  const vlam = f64x2.replace_lane(sp(lam0), 1, lam1);
  let bad0 = 0, bad1 = 0;
  for (let i0 = 0; i0 < d; i0 += 2) {
    const two = i0 + 1 < d;
    const r0 = a + (tri(i0) << 4);
    const r1 = two ? a + (tri(i0 + 1) << 4) : r0;
    const f0 = fst(first, i0), f1 = two ? fst(first, i0 + 1) : f0;
    const fr = min(f0, f1);
    let j0 = fr & ~3;
    for (; j0 + 4 <= i0; j0 += 4) {
      const q0 = a + (tri(j0) << 4), q1 = a + (tri(j0 + 1) << 4);
      const q2 = a + (tri(j0 + 2) << 4), q3 = a + (tri(j0 + 3) << 4);
      let s00 = sp(0), s01 = sp(0), s02 = sp(0), s03 = sp(0);
      let s10 = sp(0), s11 = sp(0), s12 = sp(0), s13 = sp(0);
      const k0 = max(fr, min(min(fst(first, j0), fst(first, j0 + 1)), min(fst(first, j0 + 2), fst(first, j0 + 3))));
      for (let k = k0; k < j0; k++) {
        const o = <usize>k << 4;
        const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o);
        const y0 = v128.load(q0 + o), y1 = v128.load(q1 + o), y2 = v128.load(q2 + o), y3 = v128.load(q3 + o);
        s00 = fmadd(x0, y0, s00); s01 = fmadd(x0, y1, s01); s02 = fmadd(x0, y2, s02); s03 = fmadd(x0, y3, s03);
        s10 = fmadd(x1, y0, s10); s11 = fmadd(x1, y1, s11); s12 = fmadd(x1, y2, s12); s13 = fmadd(x1, y3, s13);
      }
      // Finish the four columns in order: the block's own triangle, then scale.
      finishCol(r0, r1, q0, j0, j0, s00, s10, vdiv, inv);
      finishCol(r0, r1, q1, j0, j0 + 1, s01, s11, vdiv, inv);
      finishCol(r0, r1, q2, j0, j0 + 2, s02, s12, vdiv, inv);
      finishCol(r0, r1, q3, j0, j0 + 3, s03, s13, vdiv, inv);
    }
    for (; j0 < i0; j0++) {
      const qj = a + (tri(j0) << 4);
      finishCol(r0, r1, qj, max(fr, fst(first, j0)), j0, sp(0), sp(0), vdiv, inv);
    }
    // Diagonal block.
    {
      const o = <usize>i0 << 4;
      const p = f64x2.sub(f64x2.add(f64x2.div(v128.load(r0 + o), vdiv), vlam), dot2(f0, i0, r0, r0));
      const p0 = f64x2.extract_lane(p, 0), p1 = f64x2.extract_lane(p, 1);
      if (bad0 == 0 && (!(p0 > 0) || p0 == Infinity)) bad0 = i0 + 1;
      if (bad1 == 0 && (!(p1 > 0) || p1 == Infinity)) bad1 = i0 + 1;
      const l = f64x2.sqrt(p);
      v128.store(r0 + o, l);
      const il = f64x2.div(sp(1.0), l);
      v128.store(inv + o, il);
      if (two) {
        const v = f64x2.sub(f64x2.div(v128.load(r1 + o), vdiv), dot2(max(f0, f1), i0, r1, r0));
        v128.store(r1 + o, f64x2.mul(v, il));
        const o1 = o + 16;
        const p2 = f64x2.sub(f64x2.add(f64x2.div(v128.load(r1 + o1), vdiv), vlam), dot2(f1, i0 + 1, r1, r1));
        const pa = f64x2.extract_lane(p2, 0), pb = f64x2.extract_lane(p2, 1);
        if (bad0 == 0 && (!(pa > 0) || pa == Infinity)) bad0 = i0 + 2;
        if (bad1 == 0 && (!(pb > 0) || pb == Infinity)) bad1 = i0 + 2;
        const l2 = f64x2.sqrt(p2);
        v128.store(r1 + o1, l2);
        v128.store(inv + o1, f64x2.div(sp(1.0), l2));
      }
    }
  }
  store<i32>(info, bad0);
  store<i32>(info, bad1, 4);
}

/**
 * Column j of rows r0, r1 (both below the diagonal): L[r][j] = (A[r][j]/div − s_r −
 * Σ_{k0 ≤ k < j} L[r][k] L[j][k]) / L[j][j], s_r the partial sums over k < k0.
 */
// @ts-ignore: decorator
@inline function finishCol(r0: usize, r1: usize, qj: usize, k0: i32, j: i32, s0: v128, s1: v128, vdiv: v128, inv: usize): void {
  let t0 = s0, t1 = s1;
  for (let k = k0; k < j; k++) {
    const o = <usize>k << 4;
    const y = v128.load(qj + o);
    t0 = fmadd(v128.load(r0 + o), y, t0);
    t1 = fmadd(v128.load(r1 + o), y, t1);
  }
  const o = <usize>j << 4;
  const ij = v128.load(inv + o);
  // Load both before storing: r1 = r0 when the last row has no partner.
  const a0 = v128.load(r0 + o), a1 = v128.load(r1 + o);
  v128.store(r0 + o, f64x2.mul(f64x2.sub(f64x2.div(a0, vdiv), t0), ij));
  v128.store(r1 + o, f64x2.mul(f64x2.sub(f64x2.div(a1, vdiv), t1), ij));
}

/**
 * Batched Cholesky: for each lane pair q < npairs, the packed lower triangle at a + q·ps
 * (pair-blocked) is overwritten by L with L Lᵀ = A/div + λ_l I. Per-lane dampings
 * lam[0 … 2·npairs) (f64); per-lane statuses info[0 … 2·npairs) (i32: 0 or the 1-based
 * index of the first non-positive/non-finite pivot). `inv`: scratch of 2·d f64. `first`:
 * 0, or d i32 describing an envelope of A (A[i][j] = 0 for j < first[i]).
 */
export function gridPotrf(d: i32, npairs: i32, a: usize, ps: i32, div: f64, lam: usize, info: usize, inv: usize, first: usize): void {
  for (let q = 0; q < npairs; q++) {
    potrfPair(d, a + (<usize>q * <usize>ps << 3), div, ld(lam, 2 * q), ld(lam, 2 * q + 1), inv, info + (<usize>q << 3), first);
  }
}

/**
 * Solve (L Lᵀ) x = b in place on one lane pair: L packed lower, pair-interleaved at `l`;
 * x pair-interleaved (d pairs) at `x`. Forward substitution with row dot products, back
 * substitution with row axpys, both over each row's envelope (see potrfPair).
 */
// @ts-ignore: decorator
@inline function potrsPair(d: i32, l: usize, x: usize, first: usize): void {
  for (let i = 0; i < d; i++) {
    const li = l + (tri(i) << 4);
    const o = <usize>i << 4;
    v128.store(x + o, f64x2.div(f64x2.sub(v128.load(x + o), dot2(fst(first, i), i, li, x)), v128.load(li + o)));
  }
  for (let i = d - 1; i >= 0; i--) {
    const li = l + (tri(i) << 4);
    const o = <usize>i << 4;
    const xi = f64x2.div(v128.load(x + o), v128.load(li + o));
    v128.store(x + o, xi);
    const nx = f64x2.neg(xi);
    for (let k = fst(first, i); k < i; k++) {
      const ok = <usize>k << 4;
      v128.store(x + ok, fmadd(nx, v128.load(li + ok), v128.load(x + ok)));
    }
  }
}

/**
 * Batched solve: for q < npairs, x at x + q·xs (d pairs) ← (L_q L_qᵀ)⁻¹ x, L_q at l + q·ps;
 * `first`: 0 or the envelope (see gridPotrf).
 */
export function gridPotrs(d: i32, npairs: i32, l: usize, ps: i32, x: usize, xs: i32, first: usize): void {
  for (let q = 0; q < npairs; q++) {
    potrsPair(d, l + (<usize>q * <usize>ps << 3), x + (<usize>q * <usize>xs << 3), first);
  }
}

// ---------------------------------------------------------------------------------------------
// The step driver
// ---------------------------------------------------------------------------------------------

/**
 * Workspace descriptor: an array of f64 fields (pointers and integers stored exactly as f64).
 * The TypeScript side (bindings/grid/glm-engine.ts) writes the same indices.
 */
const F_N = 0, F_D = 1, F_K = 2, F_P = 3, F_SPARSE = 4, F_LIK = 5, F_INVVAR = 6, F_HALFINVVAR = 7,
  F_CLIP = 8, F_DIV = 9, F_PRIOR = 10, F_ITERS = 11, F_FACTOR = 12, F_YBIN = 13,
  F_Y = 14, F_XT = 15, F_X = 16, F_Z = 17, F_ZNB = 18, F_ZFULL = 19,
  F_XIP = 20, F_XIX = 21, F_XV = 22, F_TIP = 23, F_TIX = 24, F_TV = 25, F_ZIP = 26, F_ZIX = 27, F_ZV = 28,
  F_THETA = 29, F_G = 30, F_R = 31, F_W = 32, F_WPREV = 33, F_WC = 34, F_CC = 35, F_PS = 36,
  F_LSLOT = 37, F_DELTA = 38, F_INV = 39,
  F_STATE = 40, F_KIND = 41, F_T = 42, F_GAMMA = 43, F_LAM = 44, F_LOSS0 = 45, F_THRESH = 46,
  F_MEMO = 47, F_INFO = 48, F_PIVOT = 49, F_HIST = 50, F_LOSSACC = 51, F_CMAP = 52, F_CINFO = 53, F_CLAM = 54,
  F_STAT_EVALS = 55, F_STAT_CURV = 56, F_STAT_HITS = 57, F_STAT_STEPS = 58, F_EFMASK = 59, F_FIRST = 60;

/** Lane states. */
const S_IDLE = 0, S_FRESH = 1, S_PENDING = 2, S_DONE = 3;
/** Lane kinds: plain gradient, constant curvature (factor preset in the lane's slot), Fisher, empirical Fisher. */
const K_GD = 0, K_CONST = 1, K_FISHER = 2, K_EF = 3;
/** Terminal reasons written to info. */
const R_OK = 1, R_DIVERGED = 2, R_NOTPD = 3, R_NAN = 4;

// @ts-ignore: decorator
@inline function fp(ws: usize, f: i32): usize { return <usize>load<f64>(ws + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline function fi(ws: usize, f: i32): i32 { return <i32>load<f64>(ws + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline function ff(ws: usize, f: i32): f64 { return load<f64>(ws + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline function bump(ws: usize, f: i32, by: i32): void {
  const p = ws + (<usize>f << 3);
  store<f64>(p, load<f64>(p) + <f64>by);
}
// @ts-ignore: decorator
@inline function gi(p: usize, i: i32): i32 { return load<i32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function si(p: usize, i: i32, v: i32): void { store<i32>(p + (<usize>i << 2), v); }

/**
 * Per-sample pass over the lanes: R ← r(f) in place of F, W ← curvature weights (Λ on lanes
 * whose kind is K_FISHER, r² otherwise), and the per-lane sums of ℓ_n into lossAcc.
 * Gaussian: ℓ = (f−y)²·(1/(2σ²)), r = (f−y)/σ² (as multiplications by 1/σ²), Λ = 1/σ².
 * Bernoulli, clip c > 0 (the paper's code): s = clip(1/(1+e^{−f})), s̄ = clip(e^{−f}/(1+e^{−f}))
 * (= sigmoid(−f)), ℓ = −y log s − (1−y) log s̄ (for y ∈ {0, 1} the one log that counts),
 * r = s − y, Λ = s(1 − s). Clip 0: ℓ = softplus(f) − y f, Λ = σ(f)σ(−f) (scalar, per lane).
 * Only live lane pairs are touched; sums over n are sequential per lane. Called by gridStep
 * (exported for benchmarks). `ws`: the workspace descriptor; k: lanes (≤ 128, multiple of 4).
 */
export function gridLikelihoodPass(ws: usize, k: i32): void {
  const n = fi(ws, F_N), lik = fi(ws, F_LIK);
  const y = fp(ws, F_Y), r = fp(ws, F_R), w = fp(ws, F_W), kind = fp(ws, F_KIND), lossAcc = fp(ws, F_LOSSACC);
  const state = fp(ws, F_STATE), efm = fp(ws, F_EFMASK), wc = fp(ws, F_WC);
  const rowBytes = <usize>k << 3;
  // Live pairs (a bit mask; K ≤ 64) and per-pair weight selectors (all ones: r², zeros: Λ).
  let live: u64 = 0;
  for (let q = 0; q < (k >> 1); q++) {
    const s0 = gi(state, 2 * q), s1 = gi(state, 2 * q + 1);
    if (s0 == S_FRESH || s0 == S_PENDING || s1 == S_FRESH || s1 == S_PENDING) live |= (<u64>1) << q;
    store<i64>(efm + (<usize>q << 4), gi(kind, 2 * q) == K_FISHER ? 0 : -1);
    store<i64>(efm + (<usize>q << 4), gi(kind, 2 * q + 1) == K_FISHER ? 0 : -1, 8);
    v128.store(lossAcc + (<usize>q << 4), sp(0));
  }
  if (live == 0) return;
  if (lik == 0) {
    const iv = sp(ff(ws, F_INVVAR)), hv = sp(ff(ws, F_HALFINVVAR));
    for (let i = 0; i < n; i++) {
      const yi = v128.load64_splat(y + (<usize>i << 3));
      const pr = r + <usize>i * rowBytes, pw = w + <usize>i * rowBytes;
      let m = live;
      while (m != 0) {
        const o = <usize>ctz(m) << 4;
        m &= m - 1;
        const dlt = f64x2.sub(v128.load(pr + o), yi);
        v128.store(lossAcc + o, f64x2.add(v128.load(lossAcc + o), f64x2.mul(f64x2.mul(dlt, dlt), hv)));
        const ri = f64x2.mul(dlt, iv);
        v128.store(pr + o, ri);
        v128.store(pw + o, v128.bitselect(f64x2.mul(ri, ri), iv, v128.load(efm + o)));
      }
    }
    return;
  }
  const c = ff(ws, F_CLIP);
  if (c > 0) {
    const binary = fi(ws, F_YBIN) != 0;
    const normal = c >= 1e-300;
    if (binary && normal) {
      // Two passes (e^{−f} into W, then the rest) keep each loop body small enough for the
      // registers; the arithmetic is that of bernoulliPair.
      // Saturated pairs (|f| ≥ 40 on both lanes, c ≥ 1e-15) skip exp and log: there e^{−f} is
      // replaced by 0 (f ≥ 40) or 1e300 (f ≤ −40), which give the same clipped s and s̄, and
      // the log of a clip bound is the precomputed log of that bound — bitwise the same numbers.
      const lo = sp(c), hi = sp(1.0 - c);
      const shortcut = c >= 1e-15;
      const logLo = gridLogPos2(lo), logHi = gridLogPos2(hi);
      for (let i = 0; i < n; i++) {
        const pr = r + <usize>i * rowBytes, pw = w + <usize>i * rowBytes;
        let m = live;
        while (m != 0) {
          const o = <usize>ctz(m) << 4;
          m &= m - 1;
          const f = v128.load(pr + o);
          if (shortcut && i64x2.all_true(f64x2.ge(f64x2.abs(f), vc(30)))) {
            v128.store(pw + o, v128.bitselect(vc(27), vc(31), f64x2.gt(f, vc(27))));
          } else {
            v128.store(pw + o, gridExp2(f64x2.pmin(f64x2.pmax(f64x2.neg(f), vc(28)), vc(29))));
          }
        }
      }
      for (let i = 0; i < n; i++) {
        const yi = v128.load64_splat(y + (<usize>i << 3));
        const y1 = f64x2.eq(yi, vc(11));
        const pr = r + <usize>i * rowBytes, pw = w + <usize>i * rowBytes, pa = wc + <usize>i * rowBytes;
        let m = live;
        while (m != 0) {
          const o = <usize>ctz(m) << 4;
          m &= m - 1;
          const one = vc(11);
          const e = v128.load(pw + o);
          const inv = f64x2.div(one, f64x2.add(one, e));
          const s = f64x2.pmin(f64x2.pmax(inv, lo), hi);
          const sb = f64x2.pmin(f64x2.pmax(f64x2.mul(e, inv), lo), hi);
          v128.store(pa + o, v128.bitselect(s, sb, y1));
          const ri = f64x2.sub(s, yi);
          v128.store(pr + o, ri);
          v128.store(pw + o, v128.bitselect(f64x2.mul(ri, ri), f64x2.mul(s, f64x2.sub(one, s)), v128.load(efm + o)));
        }
      }
      for (let i = 0; i < n; i++) {
        const pa = wc + <usize>i * rowBytes;
        let m = live;
        while (m != 0) {
          const o = <usize>ctz(m) << 4;
          m &= m - 1;
          const a = v128.load(pa + o);
          const isLo = f64x2.eq(a, lo);
          let la: v128;
          if (shortcut && i64x2.all_true(v128.or(isLo, f64x2.eq(a, hi)))) la = v128.bitselect(logLo, logHi, isLo);
          else la = gridLogPos2(a);
          v128.store(lossAcc + o, f64x2.sub(v128.load(lossAcc + o), la));
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const yi = v128.load64_splat(y + (<usize>i << 3));
        const pr = r + <usize>i * rowBytes, pw = w + <usize>i * rowBytes;
        let m = live;
        while (m != 0) {
          const o = <usize>ctz(m) << 4;
          m &= m - 1;
          bernoulliPair(pr + o, pw + o, lossAcc + o, efm + o, yi, c, binary, normal);
        }
      }
    }
    return;
  }
  // Clip 0: the exact, overflow-free forms, scalar per lane.
  for (let i = 0; i < n; i++) {
    const yi = ld(y, i);
    const pr = r + <usize>i * rowBytes, pw = w + <usize>i * rowBytes;
    for (let l = 0; l < k; l++) {
      if ((live & ((<u64>1) << (l >> 1))) == 0) continue;
      const fl = ld(pr, l);
      const e = Math.exp(-Math.abs(fl));
      st(lossAcc, l, ld(lossAcc, l) + (max(fl, 0) + Math.log1p(e) - yi * fl));
      const s = fl >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      const sb = fl >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
      const ri = s - yi;
      st(pr, l, ri);
      st(pw, l, gi(kind, l) != K_FISHER ? ri * ri : s * sb);
    }
  }
}

/**
 * One sample, one lane pair of the clipped Bernoulli likelihood (c > 0): f at pr is replaced
 * by r = s − y, the weight (r² or Λ = s(1 − s), by the mask at pm) is stored at pw, ℓ is added
 * to the pair's sum at pa. `binary`: y ∈ {0, 1} (one log); `normal`: c ≥ 1e-300 (fast log,
 * and the argument of e^{−f} kept in [−708, 700] so that no subnormal, infinite or NaN
 * intermediate arises — those take microcode assists on x86 — while s and s̄ are unchanged
 * after clipping).
 */
// @ts-ignore: decorator
@inline function bernoulliPair(pr: usize, pw: usize, pa: usize, pm: usize, yi: v128, c: f64, binary: bool, normal: bool): void {
  const one = vc(11);
  const lo = sp(c), hi = sp(1.0 - c);
  const f = v128.load(pr);
  const e = gridExp2(normal ? f64x2.pmin(f64x2.pmax(f64x2.neg(f), vc(28)), vc(29)) : f64x2.neg(f));
  const inv = f64x2.div(one, f64x2.add(one, e));
  const s = f64x2.pmin(f64x2.pmax(inv, lo), hi); // clip; NaN stays
  // sigmoid(−f) = e/(1 + e) (as e · 1/(1+e)); 1 when e = +Inf.
  let sb = v128.bitselect(one, f64x2.mul(e, inv), f64x2.eq(e, vc(24)));
  sb = f64x2.pmin(f64x2.pmax(sb, lo), hi);
  let li: v128;
  if (binary) {
    const arg = v128.bitselect(s, sb, f64x2.eq(yi, one));
    li = f64x2.neg(normal ? gridLogPos2(arg) : gridLog2(arg));
  } else {
    li = f64x2.sub(f64x2.mul(f64x2.neg(gridLog2(s)), yi), f64x2.mul(gridLog2(sb), f64x2.sub(one, yi)));
  }
  v128.store(pa, f64x2.add(v128.load(pa), li));
  const ri = f64x2.sub(s, yi);
  v128.store(pr, ri);
  v128.store(pw, v128.bitselect(f64x2.mul(ri, ri), f64x2.mul(s, f64x2.sub(one, s)), v128.load(pm)));
}

/** Lane l needs a solve with its slot's factor. */
// @ts-ignore: decorator
@inline function usesSolve(kind: i32): bool { return kind != K_GD; }

/**
 * One step of every live lane (see bindings/grid/glm-engine.ts for the protocol):
 * 1. pending lanes: δ = g (GD) or (L Lᵀ)⁻¹ g with the lane's factor, θ ← θ − γ δ, t += 1;
 * 2. fresh and pending lanes: f = X θ, per-sample ℓ, r, weights; loss = (Σ ℓ + ‖θ‖²/(2σp²))/div
 *    recorded at hist[l][t]; a lane ends (state S_DONE, reason in info) when the loss is NaN,
 *    exceeds factor × its initial loss (t ≥ 1), or t = iterations;
 * 3. continuing lanes: g = (Xᵀ r + θ/σp²)/div; lanes with a data-dependent curvature whose
 *    weights differ bitwise from the ones of their current factor get a new factor
 *    (curvature Zᵀ w for the compacted set of such lanes, batched Cholesky, copy to the slot).
 * @returns the number of lanes that ended in this step.
 */
export function gridStep(ws: usize): i32 {
  const n = fi(ws, F_N), d = fi(ws, F_D), k = fi(ws, F_K), P = fi(ws, F_P);
  const sparse = fi(ws, F_SPARSE) != 0;
  const theta = fp(ws, F_THETA), g = fp(ws, F_G), r = fp(ws, F_R), w = fp(ws, F_W);
  const state = fp(ws, F_STATE), kind = fp(ws, F_KIND), tt = fp(ws, F_T);
  const gamma = fp(ws, F_GAMMA), hist = fp(ws, F_HIST), lossAcc = fp(ws, F_LOSSACC);
  const ps = fi(ws, F_PS), lslot = fp(ws, F_LSLOT), delta = fp(ws, F_DELTA);
  const iters = fi(ws, F_ITERS);
  const div = ff(ws, F_DIV), prior = ff(ws, F_PRIOR);
  const kRow = <usize>k << 3;

  // 1. Updates.
  for (let q = 0; q < (k >> 1); q++) {
    const l0 = 2 * q, l1 = l0 + 1;
    const pend0 = gi(state, l0) == S_PENDING, pend1 = gi(state, l1) == S_PENDING;
    if (!pend0 && !pend1) continue;
    const k0 = gi(kind, l0), k1 = gi(kind, l1);
    const dq = delta + (<usize>q * <usize>d << 4);
    const gq = g + (<usize>q << 4);
    for (let j = 0; j < d; j++) v128.store(dq + (<usize>j << 4), v128.load(gq + <usize>j * kRow));
    if ((pend0 && usesSolve(k0)) || (pend1 && usesSolve(k1))) {
      potrsPair(d, lslot + (<usize>q * <usize>ps << 3), dq, fp(ws, F_FIRST));
      // A GD lane that shares its pair with a solving lane takes its gradient back.
      if (!usesSolve(k0) || !usesSolve(k1)) {
        const keep = i64x2.replace_lane(i64x2.splat(usesSolve(k0) ? -1 : 0), 1, usesSolve(k1) ? -1 : 0);
        for (let j = 0; j < d; j++) {
          const o = <usize>j << 4;
          v128.store(dq + o, v128.bitselect(v128.load(dq + o), v128.load(gq + <usize>j * kRow), keep));
        }
      }
    }
    const ng = f64x2.replace_lane(sp(-ld(gamma, l0)), 1, -ld(gamma, l1));
    const upd = i64x2.replace_lane(i64x2.splat(pend0 ? -1 : 0), 1, pend1 ? -1 : 0);
    const tq = theta + (<usize>q << 4);
    for (let j = 0; j < d; j++) {
      const pt = tq + <usize>j * kRow;
      const old = v128.load(pt);
      v128.store(pt, v128.bitselect(fmadd(ng, v128.load(dq + (<usize>j << 4)), old), old, upd));
    }
    if (pend0) si(tt, l0, gi(tt, l0) + 1);
    if (pend1) si(tt, l1, gi(tt, l1) + 1);
  }

  // Live lanes, by tiles of 4 (tiles without a live lane are skipped).
  let live = 0;
  for (let l = 0; l < k; l++) { const s = gi(state, l); if (s == S_FRESH || s == S_PENDING) live++; }
  if (live == 0) return 0;

  // 2. Forward pass, likelihood, losses.
  if (sparse) {
    gridSpmm(n, k, fp(ws, F_XIP), fp(ws, F_XIX), fp(ws, F_XV), theta, k, r, k, 2);
  } else {
    gridGemmTn(d, n, k, fp(ws, F_XT), n, theta, k, r, k, 2, 0);
  }
  gridLikelihoodPass(ws, k);
  const loss0 = fp(ws, F_LOSS0), thresh = fp(ws, F_THRESH), info = fp(ws, F_INFO), pivot = fp(ws, F_PIVOT);
  const factor = ff(ws, F_FACTOR);
  const halfPrior = 0.5 * prior;
  let ended = 0;
  let needCurv = 0;
  for (let l = 0; l < k; l++) {
    const s = gi(state, l);
    if (s != S_FRESH && s != S_PENDING) continue;
    bump(ws, F_STAT_EVALS, 1);
    let sum = ld(lossAcc, l);
    if (prior != 0) {
      let nrm = 0.0;
      for (let j = 0; j < d; j++) { const v = ld(theta, <isize>j * k + l); nrm += v * v; }
      sum += halfPrior * nrm;
    }
    const loss = sum / div;
    const t = gi(tt, l);
    st(hist, <isize>l * (iters + 1) + t, loss);
    if (t == 0) {
      st(loss0, l, loss);
      st(thresh, l, loss * factor);
    }
    let reason = 0;
    if (loss != loss) reason = R_NAN;
    else if (t > 0 && loss > ld(thresh, l)) reason = R_DIVERGED;
    else if (t >= iters) reason = R_OK;
    else if (gi(kind, l) == K_CONST && gi(pivot, l) != 0) reason = R_NOTPD;
    if (reason != 0) {
      si(state, l, S_DONE);
      si(info, l, reason);
      ended++;
    } else {
      si(state, l, S_PENDING);
      const kd = gi(kind, l);
      if (kd == K_FISHER || kd == K_EF) needCurv++;
    }
  }

  // 3. Gradients of continuing lanes (computed for all lanes; cheap next to the curvature).
  if (ended < live) {
    if (sparse) gridSpmm(d, k, fp(ws, F_TIP), fp(ws, F_TIX), fp(ws, F_TV), r, k, g, k, 2);
    else gridGemmTn(n, d, k, fp(ws, F_X), d, r, k, g, k, 2, 0);
    for (let j = 0; j < d; j++) {
      const pg = g + <usize>j * kRow, pt = theta + <usize>j * kRow;
      for (let l = 0; l < k; l += 2) {
        const o = <usize>l << 3;
        let v = v128.load(pg + o);
        if (prior != 0) v = f64x2.add(v, f64x2.mul(v128.load(pt + o), sp(prior)));
        v128.store(pg + o, f64x2.div(v, sp(div)));
      }
    }
  }

  if (needCurv > 0) curvature(ws, n, d, k, P, sparse, div);
  // Count lanes ended by a failed factorization.
  for (let l = 0; l < k; l++) {
    if (gi(state, l) == S_PENDING && gi(fp(ws, F_INFO), l) == R_NOTPD) {
      si(state, l, S_DONE);
      ended++;
    }
  }
  bump(ws, F_STAT_STEPS, 1);
  return ended;
}

/** New factors for pending K_FISHER/K_EF lanes whose weights changed (see gridStep). */
function curvature(ws: usize, n: i32, d: i32, k: i32, P: i32, sparse: bool, div: f64): void {
  const state = fp(ws, F_STATE), kind = fp(ws, F_KIND), memo = fp(ws, F_MEMO);
  const w = fp(ws, F_W), wprev = fp(ws, F_WPREV), wc = fp(ws, F_WC), cc = fp(ws, F_CC);
  const cmap = fp(ws, F_CMAP), cinfo = fp(ws, F_CINFO), clam = fp(ws, F_CLAM), lam = fp(ws, F_LAM);
  const info = fp(ws, F_INFO), pivot = fp(ws, F_PIVOT), lslot = fp(ws, F_LSLOT);
  const ps = fi(ws, F_PS);
  const kRow = <usize>k << 3;
  let kc = 0;
  for (let l = 0; l < k; l++) {
    if (gi(state, l) != S_PENDING) continue;
    const kd = gi(kind, l);
    if (kd != K_FISHER && kd != K_EF) continue;
    const pw = w + (<usize>l << 3), pp = wprev + (<usize>l << 3);
    if (gi(memo, l) != 0) {
      let same = true;
      for (let i = 0; i < n; i++) {
        const o = <usize>i * kRow;
        if (load<u64>(pw + o) != load<u64>(pp + o)) { same = false; break; }
      }
      if (same) { bump(ws, F_STAT_HITS, 1); continue; }
    }
    const pc = wc + (<usize>kc << 3);
    for (let i = 0; i < n; i++) {
      const o = <usize>i * kRow;
      const v = load<f64>(pw + o);
      store<f64>(pp + o, v);
      store<f64>(pc + o, v);
    }
    si(cmap, kc, l);
    st(clam, kc, ld(lam, l));
    kc++;
  }
  if (kc == 0) return;
  bump(ws, F_STAT_CURV, kc);
  const kp = (kc + 3) & ~3;
  for (let j = kc; j < kp; j++) {
    const pc = wc + (<usize>j << 3);
    for (let i = 0; i < n; i++) store<f64>(pc + <usize>i * kRow, 0.0);
    st(clam, j, 1.0);
  }
  // C' = Zᵀ W' into the compact pair-blocked buffer.
  if (sparse) {
    gridSpmm(P, kp, fp(ws, F_ZIP), fp(ws, F_ZIX), fp(ws, F_ZV), wc, k, cc, 2, ps);
  } else {
    const nbMax = fi(ws, F_ZNB), full = fi(ws, F_ZFULL) != 0, z = fp(ws, F_Z);
    for (let n0 = 0; n0 < n; n0 += nbMax) {
      const nb = min(nbMax, n - n0);
      let zb = z;
      if (full) zb = z + (<usize>n0 * <usize>P << 3);
      else gridZRows(n0, nb, d, fp(ws, F_X), d, z, P);
      gridGemmTn(nb, P, kp, zb, P, wc + <usize>n0 * kRow, k, cc, 2, ps, n0 > 0 ? 1 : 0);
    }
  }
  gridPotrf(d, kp >> 1, cc, ps, div, clam, cinfo, fp(ws, F_INV), fp(ws, F_FIRST));
  const tp = <i32>tri(d);
  for (let j = 0; j < kc; j++) {
    const l = gi(cmap, j);
    const bad = gi(cinfo, j);
    if (bad != 0) {
      si(info, l, R_NOTPD);
      si(pivot, l, bad);
      si(memo, l, 0);
      continue;
    }
    si(memo, l, 1);
    const src = cc + (<usize>(j >> 1) * <usize>ps << 3) + (<usize>(j & 1) << 3);
    const dst = lslot + (<usize>(l >> 1) * <usize>ps << 3) + (<usize>(l & 1) << 3);
    for (let e = 0; e < tp; e++) store<f64>(dst + (<usize>e << 4), load<f64>(src + (<usize>e << 4)));
  }
}

/**
 * Run steps until a lane ends or `maxSteps` steps are done.
 * @returns steps done · 65536 + lanes ended (≤ 65535 lanes).
 */
export function gridSteps(ws: usize, maxSteps: i32): i32 {
  let steps = 0;
  while (steps < maxSteps) {
    const ended = gridStep(ws);
    steps++;
    if (ended > 0) return (steps << 16) | ended;
    let live = 0;
    const state = fp(ws, F_STATE), k = fi(ws, F_K);
    for (let l = 0; l < k; l++) { const s = gi(state, l); if (s == S_FRESH || s == S_PENDING) live++; }
    if (live == 0) break;
  }
  return steps << 16;
}

