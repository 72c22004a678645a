/**
 * Inline level-1 vector helpers shared by the kernel families (one definition, inlined at each
 * call site). Pointers are byte addresses, n is in elements, 8-byte alignment suffices; two
 * SIMD lanes per step with a scalar tail for odd n. `fmadd` may fuse in the relaxed binary.
 */
import { fmadd, hsum, ld, st, ld2, st2 } from './simd';

/** Σ_k x[k]·y[k] with two SIMD accumulators (summation order: lanes, then the pair, then the tail). */
// @ts-ignore: decorator
@inline export function dot(n: i32, x: usize, y: usize): f64 {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    a0 = fmadd(ld2(x, k), ld2(y, k), a0);
    a1 = fmadd(ld2(x, k + 2), ld2(y, k + 2), a1);
  }
  if (k + 2 <= n) {
    a0 = fmadd(ld2(x, k), ld2(y, k), a0);
    k += 2;
  }
  let s = hsum(f64x2.add(a0, a1));
  if (k < n) s += ld(x, k) * ld(y, k);
  return s;
}

/** y[k] += alpha·x[k]. x and y must not partially overlap. */
// @ts-ignore: decorator
@inline export function axpy(n: i32, alpha: f64, x: usize, y: usize): void {
  const va = f64x2.splat(alpha);
  let k = 0;
  for (; k + 2 <= n; k += 2) st2(y, k, fmadd(va, ld2(x, k), ld2(y, k)));
  if (k < n) st(y, k, alpha * ld(x, k) + ld(y, k));
}

/** x[k] *= alpha. */
// @ts-ignore: decorator
@inline export function scal(n: i32, alpha: f64, x: usize): void {
  const va = f64x2.splat(alpha);
  let k = 0;
  for (; k + 2 <= n; k += 2) st2(x, k, f64x2.mul(va, ld2(x, k)));
  if (k < n) st(x, k, alpha * ld(x, k));
}
