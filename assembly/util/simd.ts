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

// ---- element-type generic helpers (T = f64: two lanes per v128; T = f32: four) ----
// `sizeof<T>()` is a compile-time constant, so each instantiation keeps one branch: the f64
// instantiations are the f64 operations above, unchanged.

/** Lanes of T per v128: 2 for f64, 4 for f32. */
// @ts-ignore: decorator
@inline export function lanes<T>(): i32 {
  return sizeof<T>() == 8 ? 2 : 4;
}

/** Load the T at byte address `base + sizeof<T> * index`. */
// @ts-ignore: decorator
@inline export function ldT<T>(base: usize, index: isize): T {
  return load<T>(base + (<usize>index << alignof<T>()));
}

/** Store a T at byte address `base + sizeof<T> * index`. */
// @ts-ignore: decorator
@inline export function stT<T>(base: usize, index: isize, value: T): void {
  store<T>(base + (<usize>index << alignof<T>()), value);
}

/** Load one v128 of T lanes from byte address `base + sizeof<T> * index`. */
// @ts-ignore: decorator
@inline export function vldT<T>(base: usize, index: isize): v128 {
  return v128.load(base + (<usize>index << alignof<T>()));
}

/** Store one v128 of T lanes at byte address `base + sizeof<T> * index`. */
// @ts-ignore: decorator
@inline export function vstT<T>(base: usize, index: isize, value: v128): void {
  v128.store(base + (<usize>index << alignof<T>()), value);
}

/** Lane-wise a · b in T. */
// @ts-ignore: decorator
@inline export function vmulT<T>(a: v128, b: v128): v128 {
  return sizeof<T>() == 8 ? f64x2.mul(a, b) : f32x4.mul(a, b);
}

/** Lane-wise a + b in T. */
// @ts-ignore: decorator
@inline export function vaddT<T>(a: v128, b: v128): v128 {
  return sizeof<T>() == 8 ? f64x2.add(a, b) : f32x4.add(a, b);
}

/** `a * b + c` in T lanes (`fmadd` / `fmadd4`: fused where the relaxed binary runs on FMA hardware). */
// @ts-ignore: decorator
@inline export function vfmaT<T>(a: v128, b: v128, c: v128): v128 {
  return sizeof<T>() == 8 ? fmadd(a, b, c) : fmadd4(a, b, c);
}

/** Every lane x (rounded to T). */
// @ts-ignore: decorator
@inline export function vsplatT<T>(x: f64): v128 {
  return sizeof<T>() == 8 ? f64x2.splat(x) : f32x4.splat(<f32>x);
}

/** Two consecutive T values from `base + sizeof<T> * index` as f64x2 lanes (f32: widened exactly). */
// @ts-ignore: decorator
@inline export function ld2AsF64<T>(base: usize, index: isize): v128 {
  if (sizeof<T>() == 8) return v128.load(base + (<usize>index << 3));
  return f64x2.promote_low_f32x4(v128.load64_zero(base + (<usize>index << 2)));
}

/** Store two f64 lanes as two consecutive T values (f32: each rounded to nearest once). */
// @ts-ignore: decorator
@inline export function st2FromF64<T>(base: usize, index: isize, value: v128): void {
  if (sizeof<T>() == 8) v128.store(base + (<usize>index << 3), value);
  else v128.store64_lane(base + (<usize>index << 2), f32x4.demote_f64x2_zero(value), 0);
}

/** Load one T as f64 (f32: widened exactly). */
// @ts-ignore: decorator
@inline export function ldAsF64<T>(base: usize, index: isize): f64 {
  return <f64>load<T>(base + (<usize>index << alignof<T>()));
}

/** Store an f64 as a T (f32: rounded to nearest). */
// @ts-ignore: decorator
@inline export function stFromF64<T>(base: usize, index: isize, value: f64): void {
  store<T>(base + (<usize>index << alignof<T>()), <T>value);
}
