/**
 * Elementwise activations of the MLP model: value σ(z), first derivative σ'(z) and second
 * derivative σ''(z) over n contiguous f64 values, in PyTorch float64's conventions.
 *
 * Kinds (the `kind` argument; bindings/models/activations.ts maps names to them):
 *   0 identity   σ = z, σ' = 1, σ'' = 0
 *   1 tanh       σ = tanh z, σ' = 1 − σ², σ'' = −2σ(1 − σ²)
 *   2 sigmoid    σ = 1/(1 + e^{−z}) evaluated on e^{−|z|} (no overflow), 1 − σ evaluated as
 *                e^{−|z|}/(1 + e^{−|z|}) for z ≥ 0 (no cancellation), σ' = σ(1 − σ), σ'' = σ'(1 − 2σ)
 *   3 relu       σ = max(z, 0), σ' = [z > 0] (so relu'(0) = 0, as PyTorch), σ'' = 0
 *   4 softplus   PyTorch's defaults (beta 1, threshold 20): z > 20 → σ = z, σ' = 1, σ'' = 0;
 *                else σ = log1p(e^z), σ' = sigmoid(z), σ'' = sigmoid'(z)
 *   5 gelu       tanh form σ = ½z(1 + tanh u), u = √(2/π)(z + 0.044715 z³),
 *                σ' = ½(1 + t) + ½ z s u', σ'' = s u' + ½ z s (u'' − 2 t u'²), t = tanh u, s = 1 − t²
 *
 * Conventions:
 * - Pointers are byte addresses, n is in elements; 8-byte alignment suffices (`actForward32`:
 *   float32 planes, 4 bytes per element, 4-byte alignment).
 * - `a` may equal `z` (in place: each value is read before it is written); `d1`, `d2` must not
 *   alias `z`. `d1 = 0` / `d2 = 0` (null) skips that output.
 * - tanh, sigmoid and gelu run two lanes at a time on a SIMD exp (below); the scalar tail (odd n)
 *   runs the same lane code on a splatted value, so every element gets the same numerics.
 *   relu and identity are exact; relu runs two lanes at a time (compare masks) and fills a
 *   requested σ″ with zeros in one bulk fill. softplus is a scalar loop on AssemblyScript's `Math.exp` and
 *   `Math.log1p` (musl ports, < 1 ulp).
 *
 * SIMD exp (`expParts`): e^y for y ≤ 0 as 2^k·(1 + p), k = round(y/ln 2), r = y − k·ln 2
 * (Cody–Waite, ln 2 split in a 32-bit head — k·head is exact — and a tail), p = expm1(r) by its
 * Taylor series to degree 13 (Estrin's scheme) (|r| ≤ ln2/2: the first omitted term is < 2⁻⁵⁶·|r|),
 * 2^k assembled in the exponent bits. Both e^y − 1 = 2^k·p + (2^k − 1) (no cancellation near
 * y = 0) and e^y are formed. Error: ≤ 2 ulp for e^y, ≤ 2 ulp for e^y − 1 (both binaries; the
 * relaxed one may fuse the Horner steps).
 * - tanh: t = −em/(2 + em), em = e^{−2|x|} − 1, sign restored; σ' = 4e/(1 + e)², e = e^{−2|x|}
 *   (= 1 − t² without its cancellation, so σ' keeps full relative accuracy where PyTorch's
 *   1 − t² rounds to 0; |x| is clamped at 354 so that 2^k stays normal, σ' = 0 beyond). ≤ 4 ulp, σ'' ≤ 6 ulp.
 * - sigmoid: e = e^{−|x|} (|x| clamped at 746, where e underflows to 0; 2^k formed with a 2⁶⁴
 *   offset so that subnormal results round once), s and 1 − s as in the scalar formula. ≤ 4 ulp.
 * - gelu: the vector tanh of u with s = 1 − t² as PyTorch computes it.
 */
import { ld, st, ld2, st2, fmadd, ld2AsF64, ldAsF64, st2FromF64, stFromF64 } from '../util/simd';

/** √(2/π), the gelu tanh-form scale (PyTorch's kBeta = √2 · (2/√π) · ½). */
const GELU_C: f64 = 0.7978845608028654;
/** The gelu tanh-form cubic coefficient (PyTorch's kKappa). */
const GELU_K: f64 = 0.044715;

/** 1/ln 2 and ln 2 = LN2_HI + LN2_LO (LN2_HI has 32 significant bits, fdlibm's split). */
const INV_LN2: f64 = 1.4426950408889634;
const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;
/** 2⁵² + 1023: adding an integer-valued k leaves k + 1023 in the low mantissa bits. */
const POW2_MAGIC: f64 = 4503599627371519.0;

/** k = round(y / ln 2), lane-wise. */
// @ts-ignore: decorator
@inline function expK(y: v128): v128 {
  return f64x2.nearest(f64x2.mul(y, f64x2.splat(INV_LN2)));
}

/** p = e^r − 1 for r = y − k·ln 2 (|r| ≤ ln2/2), Taylor to degree 13. */
// @ts-ignore: decorator
@inline function expm1Reduced(y: v128, k: v128): v128 {
  const r = f64x2.sub(f64x2.sub(y, f64x2.mul(k, f64x2.splat(LN2_HI))), f64x2.mul(k, f64x2.splat(LN2_LO)));
  // q(r) = Σ_{j=0}^{11} r^j/(j+2)! by Estrin's scheme (depth 4 instead of Horner's 12).
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  const p01 = fmadd(f64x2.splat(1.6666666666666666e-1), r, f64x2.splat(0.5)); // 1/3!, 1/2!
  const p23 = fmadd(f64x2.splat(8.333333333333333e-3), r, f64x2.splat(4.1666666666666664e-2)); // 1/5!, 1/4!
  const p45 = fmadd(f64x2.splat(1.984126984126984e-4), r, f64x2.splat(1.388888888888889e-3)); // 1/7!, 1/6!
  const p67 = fmadd(f64x2.splat(2.7557319223985893e-6), r, f64x2.splat(2.48015873015873e-5)); // 1/9!, 1/8!
  const p89 = fmadd(f64x2.splat(2.505210838544172e-8), r, f64x2.splat(2.755731922398589e-7)); // 1/11!, 1/10!
  const pab = fmadd(f64x2.splat(1.6059043836821613e-10), r, f64x2.splat(2.08767569878681e-9)); // 1/13!, 1/12!
  const q0 = fmadd(p23, r2, p01);
  const q1 = fmadd(p67, r2, p45);
  const q2 = fmadd(pab, r2, p89);
  const q = fmadd(q2, r8, fmadd(q1, r4, q0));
  return fmadd(f64x2.mul(r, r), q, r);
}

/** 2^k for integer-valued lanes k with −1022 ≤ k ≤ 1023. */
// @ts-ignore: decorator
@inline function pow2(k: v128): v128 {
  return i64x2.shl(f64x2.add(k, f64x2.splat(POW2_MAGIC)), 52);
}

/** The sign bit of each f64 lane. */
// @ts-ignore: decorator
@inline function signBits(x: v128): v128 {
  return v128.and(x, f64x2.splat(-0.0));
}

/** tanh lanes: writes t, and σ' = 4e/(1 + e)², σ'' = −2tσ' where requested (lane 0 only when `one`). */
// @ts-ignore: decorator
@inline function tanhLanes<T>(x: v128, a: usize, d1: usize, d2: usize, i: i32, one: bool): void {
  const u = f64x2.min(f64x2.abs(x), f64x2.splat(354.0));
  const y = f64x2.mul(u, f64x2.splat(-2.0));
  const k = expK(y);
  const p = expm1Reduced(y, k);
  const two = pow2(k);
  const em = fmadd(two, p, f64x2.sub(two, f64x2.splat(1.0)));
  const e = fmadd(two, p, two);
  // 1 + e = 2 + em: one division serves t and σ'.
  const w = f64x2.div(f64x2.splat(1.0), f64x2.add(f64x2.splat(2.0), em));
  const t = v128.or(f64x2.mul(f64x2.neg(em), w), signBits(x));
  // Beyond |x| = 354 the true σ' < 1.4e−307: flush to 0 (the clamp would leave 4e^{−708}).
  const g = v128.andnot(f64x2.mul(f64x2.mul(f64x2.splat(4.0), e), f64x2.mul(w, w)), f64x2.gt(f64x2.abs(x), f64x2.splat(354.0)));
  const h = f64x2.mul(f64x2.mul(f64x2.splat(-2.0), t), g);
  if (one) {
    stFromF64<T>(a, i, f64x2.extract_lane(t, 0));
    if (d1 != 0) stFromF64<T>(d1, i, f64x2.extract_lane(g, 0));
    if (d2 != 0) stFromF64<T>(d2, i, f64x2.extract_lane(h, 0));
  } else {
    st2FromF64<T>(a, i, t);
    if (d1 != 0) st2FromF64<T>(d1, i, g);
    if (d2 != 0) st2FromF64<T>(d2, i, h);
  }
}

/** sigmoid lanes: s, σ' = s(1 − s), σ'' = σ'(1 − 2s). */
// @ts-ignore: decorator
@inline function sigmoidLanes<T>(x: v128, a: usize, d1: usize, d2: usize, i: i32, one: bool): void {
  const y = f64x2.max(f64x2.neg(f64x2.abs(x)), f64x2.splat(-746.0));
  const k = expK(y);
  const p = expm1Reduced(y, k);
  const two = pow2(f64x2.add(k, f64x2.splat(64.0)));
  const e = f64x2.mul(fmadd(two, p, two), f64x2.splat(5.421010862427522e-20)); // · 2⁻⁶⁴
  const inv = f64x2.div(f64x2.splat(1.0), f64x2.add(f64x2.splat(1.0), e));
  const ei = f64x2.mul(e, inv);
  const pos = f64x2.ge(x, f64x2.splat(0.0));
  const s = v128.bitselect(inv, ei, pos);
  const c = v128.bitselect(ei, inv, pos);
  // NaN lanes: ge is false, so s = e·inv = NaN, as wanted.
  const g = f64x2.mul(s, c);
  const h = f64x2.mul(g, f64x2.sub(c, s));
  if (one) {
    stFromF64<T>(a, i, f64x2.extract_lane(s, 0));
    if (d1 != 0) stFromF64<T>(d1, i, f64x2.extract_lane(g, 0));
    if (d2 != 0) stFromF64<T>(d2, i, f64x2.extract_lane(h, 0));
  } else {
    st2FromF64<T>(a, i, s);
    if (d1 != 0) st2FromF64<T>(d1, i, g);
    if (d2 != 0) st2FromF64<T>(d2, i, h);
  }
}

/** gelu (tanh form) lanes. */
// @ts-ignore: decorator
@inline function geluLanes<T>(x: v128, a: usize, d1: usize, d2: usize, i: i32, one: bool): void {
  const x2 = f64x2.mul(x, x);
  const uu = f64x2.mul(f64x2.splat(GELU_C), fmadd(f64x2.mul(f64x2.splat(GELU_K), x2), x, x));
  const u = f64x2.min(f64x2.abs(uu), f64x2.splat(354.0));
  const y = f64x2.mul(u, f64x2.splat(-2.0));
  const k = expK(y);
  const p = expm1Reduced(y, k);
  const two = pow2(k);
  const em = fmadd(two, p, f64x2.sub(two, f64x2.splat(1.0)));
  const t = v128.or(f64x2.div(f64x2.neg(em), f64x2.add(f64x2.splat(2.0), em)), signBits(uu));
  const half = f64x2.splat(0.5);
  const opt = f64x2.add(f64x2.splat(1.0), t);
  const s = f64x2.sub(f64x2.splat(1.0), f64x2.mul(t, t));
  const du = f64x2.mul(f64x2.splat(GELU_C), fmadd(f64x2.splat(3.0 * GELU_K), x2, f64x2.splat(1.0)));
  const ddu = f64x2.mul(f64x2.splat(GELU_C * 6.0 * GELU_K), x);
  const v = f64x2.mul(f64x2.mul(half, x), opt);
  const hxs = f64x2.mul(f64x2.mul(half, x), s);
  const g = fmadd(hxs, du, f64x2.mul(half, opt));
  // s u' + ½ x s (u'' − 2 t u'²)
  const h = fmadd(hxs, f64x2.sub(ddu, f64x2.mul(f64x2.mul(f64x2.splat(2.0), t), f64x2.mul(du, du))), f64x2.mul(s, du));
  if (one) {
    stFromF64<T>(a, i, f64x2.extract_lane(v, 0));
    if (d1 != 0) stFromF64<T>(d1, i, f64x2.extract_lane(g, 0));
    if (d2 != 0) stFromF64<T>(d2, i, f64x2.extract_lane(h, 0));
  } else {
    st2FromF64<T>(a, i, v);
    if (d1 != 0) st2FromF64<T>(d1, i, g);
    if (d2 != 0) st2FromF64<T>(d2, i, h);
  }
}

/**
 * a[i] = σ(z[i]); d1[i] = σ'(z[i]) and d2[i] = σ''(z[i]) where those pointers are non-zero.
 * @param kind activation id (see the module header); unknown ids act as identity
 * @param n    number of values
 * @param z    byte address of the inputs
 * @param a    byte address of the values (may equal z)
 * @param d1   byte address of σ', or 0
 * @param d2   byte address of σ'', or 0
 */
export function actForward(kind: i32, n: i32, z: usize, a: usize, d1: usize, d2: usize): void {
  actForwardT<f64>(kind, n, z, a, d1, d2);
}

/**
 * `actForward` on float32 planes (z, a, d1, d2 hold f32; 4-byte alignment suffices): each value
 * is widened exactly to f64, evaluated by the same f64 lane code as `actForward`, and rounded to
 * f32 once — so σ, σ', σ'' are within 0.5 ulp(f32) + the f64 code's few ulp(f64) of the exact
 * values (correctly rounded but for ties at that level). The transcendental kinds thus run two
 * lanes at a time (an f32x4 polynomial would halve their cost; they are O(N·width) against the
 * GEMMs' O(N·width²)); relu runs four f32 lanes at a time.
 */
export function actForward32(kind: i32, n: i32, z: usize, a: usize, d1: usize, d2: usize): void {
  actForwardT<f32>(kind, n, z, a, d1, d2);
}

/**
 * d2[i] = σ''(z[i]) of tanh from what `actForward` kept: the value a[i] = tanh z[i] and
 * d1[i] = σ'(z[i]), as d2 = (−2·a)·d1 — the product `actForward` itself forms, so in float64 the
 * same bits as its σ'' (a and d1 are its t and g exactly). The second-order pass uses it instead
 * of a σ'' plane kept from the forward pass.
 * - n in elements; a, d1, d2 byte addresses, 8-byte alignment (`tanhSecond32`: float32 planes,
 *   4-byte alignment); d2 may equal a or d1 (each value is read before it is written).
 * - Two f64 lanes at a time, the odd tail on one lane with the same operations.
 * - `tanhSecond32` forms the product in f64 from the float32 a and d1 and rounds once: within
 *   about 1.5 ulp(f32) of `actForward32`'s σ'' (which rounds the product of unrounded t and g).
 */
export function tanhSecond(n: i32, a: usize, d1: usize, d2: usize): void {
  tanhSecondT<f64>(n, a, d1, d2);
}

/** `tanhSecond` on float32 planes (see there). */
export function tanhSecond32(n: i32, a: usize, d1: usize, d2: usize): void {
  tanhSecondT<f32>(n, a, d1, d2);
}

// @ts-ignore: decorator
@inline function tanhSecondT<T>(n: i32, a: usize, d1: usize, d2: usize): void {
  const m2 = f64x2.splat(-2.0);
  let i = 0;
  for (; i + 2 <= n; i += 2) st2FromF64<T>(d2, i, f64x2.mul(f64x2.mul(m2, ld2AsF64<T>(a, i)), ld2AsF64<T>(d1, i)));
  if (i < n) stFromF64<T>(d2, i, -2.0 * ldAsF64<T>(a, i) * ldAsF64<T>(d1, i));
}

/** The body of `actForward` (T = f64) and `actForward32` (T = f32). */
// @ts-ignore: decorator
@inline function actForwardT<T>(kind: i32, n: i32, z: usize, a: usize, d1: usize, d2: usize): void {
  if (kind == 1 || kind == 2 || kind == 5) {
    let i = 0;
    if (kind == 1) {
      for (; i + 2 <= n; i += 2) tanhLanes<T>(ld2AsF64<T>(z, i), a, d1, d2, i, false);
      if (i < n) tanhLanes<T>(f64x2.splat(ldAsF64<T>(z, i)), a, d1, d2, i, true);
    } else if (kind == 2) {
      for (; i + 2 <= n; i += 2) sigmoidLanes<T>(ld2AsF64<T>(z, i), a, d1, d2, i, false);
      if (i < n) sigmoidLanes<T>(f64x2.splat(ldAsF64<T>(z, i)), a, d1, d2, i, true);
    } else {
      for (; i + 2 <= n; i += 2) geluLanes<T>(ld2AsF64<T>(z, i), a, d1, d2, i, false);
      if (i < n) geluLanes<T>(f64x2.splat(ldAsF64<T>(z, i)), a, d1, d2, i, true);
    }
    return;
  }
  if (kind == 3) {
    if (sizeof<T>() == 8) reluForward(n, z, a, d1);
    else reluForward32(n, z, a, d1);
    if (d2 != 0) memory.fill(d2, 0, <usize>n << alignof<T>());
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = ldAsF64<T>(z, i);
    let v: f64, g: f64, h: f64;
    if (kind == 1) {
      v = Math.tanh(x);
      g = 1.0 - v * v;
      h = -2.0 * v * g;
    } else if (kind == 2 || kind == 4) {
      // s = sigmoid(x), c = 1 − s, both without cancellation or overflow.
      const e = Math.exp(-Math.abs(x));
      const inv = 1.0 / (1.0 + e);
      let s: f64, c: f64;
      if (x >= 0) { s = inv; c = e * inv; } else { s = e * inv; c = inv; }
      g = s * c;
      h = g * (c - s);
      if (kind == 2) {
        v = s;
      } else if (x > 20.0) {
        v = x; g = 1.0; h = 0.0;
      } else {
        v = Math.log1p(Math.exp(x));
        // the value is log1p(e^x); σ' = sigmoid(x) = s, σ'' = s(1 − s)
        h = g;
        g = s;
      }
    } else if (kind == 3) {
      const p = x > 0;
      v = p ? x : (x != x ? x : 0.0); // NaN propagates, as torch.relu
      g = p ? 1.0 : 0.0;
      h = 0.0;
    } else if (kind == 5) {
      const x2 = x * x;
      const u = GELU_C * (x + GELU_K * x2 * x);
      const t = Math.tanh(u);
      const s = 1.0 - t * t;
      const du = GELU_C * (1.0 + 3.0 * GELU_K * x2);
      const ddu = GELU_C * 6.0 * GELU_K * x;
      v = 0.5 * x * (1.0 + t);
      g = 0.5 * (1.0 + t) + 0.5 * x * s * du;
      h = s * du + 0.5 * x * s * (ddu - 2.0 * t * du * du);
    } else {
      v = x; g = 1.0; h = 0.0;
    }
    stFromF64<T>(a, i, v);
    if (d1 != 0) stFromF64<T>(d1, i, g);
    if (d2 != 0) stFromF64<T>(d2, i, h);
  }
}

/**
 * relu on two lanes at a time: a[i] = z[i] if z[i] > 0 (a NaN propagates), else +0, and
 * d1[i] = [z[i] > 0] as 1.0 / 0.0 when d1 ≠ 0. Bitwise the values of `actForward`'s kind 3
 * (which calls it), without a σ″ store: σ″ = 0.
 */
// @ts-ignore: decorator
@inline function reluForward(n: i32, z: usize, a: usize, d1: usize): void {
  const zero = f64x2.splat(0.0), one = f64x2.splat(1.0);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const x = ld2(z, i);
    const pos = f64x2.gt(x, zero);
    st2(a, i, v128.and(x, v128.or(pos, f64x2.ne(x, x))));
    if (d1 != 0) st2(d1, i, v128.and(pos, one));
  }
  if (i < n) {
    const x = ld(z, i);
    const p = x > 0;
    st(a, i, p ? x : (x != x ? x : 0.0));
    if (d1 != 0) st(d1, i, p ? 1.0 : 0.0);
  }
}

/**
 * relu on four f32 lanes at a time: `reluForward`'s values on f32 planes (a NaN propagates,
 * z ≤ 0 gives +0, d1 = [z > 0] as 1 / 0 when d1 ≠ 0); exact.
 */
// @ts-ignore: decorator
@inline function reluForward32(n: i32, z: usize, a: usize, d1: usize): void {
  const zero = f32x4.splat(0.0), one = f32x4.splat(1.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = v128.load(z + (<usize>i << 2));
    const pos = f32x4.gt(x, zero);
    v128.store(a + (<usize>i << 2), v128.and(x, v128.or(pos, f32x4.ne(x, x))));
    if (d1 != 0) v128.store(d1 + (<usize>i << 2), v128.and(pos, one));
  }
  for (; i < n; i++) {
    const x = load<f32>(z + (<usize>i << 2));
    const p = x > 0;
    store<f32>(a + (<usize>i << 2), p ? x : (x != x ? x : <f32>0.0));
    if (d1 != 0) store<f32>(d1 + (<usize>i << 2), p ? <f32>1.0 : <f32>0.0);
  }
}
