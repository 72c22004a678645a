/**
 * Shared inline helpers for the SIMD kernels.
 *
 * One source builds two binaries: the baseline SIMD128 binary, where
 * `fmadd(a, b, c)` is a separate `f64x2.mul` and `f64x2.add` (two roundings),
 * and the relaxed-SIMD binary, where it is `f64x2.relaxed_madd`, which the
 * engine may fuse (one rounding, on x86-64 with FMA3 and on arm64) or not.
 * Tests therefore compare both binaries with tolerances, never bit for bit.
 */

/** `a * b + c` lane-wise on two f64 lanes; fused where the relaxed binary runs on FMA hardware. */
// @ts-ignore: decorator
@inline export function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f64x2.relaxed_madd(a, b, c);
  } else {
    return f64x2.add(f64x2.mul(a, b), c);
  }
}

/** `a * b + c` lane-wise on four f32 lanes; fused where the relaxed binary runs on FMA hardware (as `fmadd`). */
// @ts-ignore: decorator
@inline export function fmadd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** Sum of the two f64 lanes. */
// @ts-ignore: decorator
@inline export function hsum(a: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

/** Load the f64 at byte address `base + 8 * index`. */
// @ts-ignore: decorator
@inline export function ld(base: usize, index: isize): f64 {
  return load<f64>(base + (<usize>index << 3));
}

/** Store `value` at byte address `base + 8 * index`. */
// @ts-ignore: decorator
@inline export function st(base: usize, index: isize, value: f64): void {
  store<f64>(base + (<usize>index << 3), value);
}

/** Load two f64 lanes from byte address `base + 8 * index` (8-byte alignment suffices). */
// @ts-ignore: decorator
@inline export function ld2(base: usize, index: isize): v128 {
  return v128.load(base + (<usize>index << 3));
}

/** Store two f64 lanes at byte address `base + 8 * index`. */
// @ts-ignore: decorator
@inline export function st2(base: usize, index: isize, value: v128): void {
  v128.store(base + (<usize>index << 3), value);
}
