/**
 * Small vector helpers on plain `Float64Array`s / arrays (no WebAssembly memory involved):
 * sizes in the experiments (directions of d ≤ a few hundred parameters) are too small for a
 * boundary crossing to pay.
 *
 * @module
 */
import type { VectorInput } from '../core/types.js';
import { toVector } from '../core/validate.js';

/**
 * Cosine of the angle between u and v: uᵀv / (‖u‖₂ ‖v‖₂) — e.g. between the NGD and EF
 * update directions (Fig. 3 of Kunstner et al., 2019).
 *
 * Each vector is first divided by its largest magnitude, so entries of order 1e±200 neither
 * overflow nor underflow. The result is within a few ulps of the exact cosine and is clamped
 * to [−1, 1] (Cauchy–Schwarz; rounding could otherwise give 1 + 2⁻⁵², and `Math.acos` NaN).
 *
 * @param u vector of length d (`Float64Array` or array of numbers).
 * @param v vector of the same length d.
 * @returns the cosine in [−1, 1], or NaN when u or v is zero (including d = 0): the angle is
 *          undefined there, and NaN says so rather than a misleading 0.
 * @throws TypeError if u or v is not an array-like of numbers.
 * @throws RangeError if the lengths differ or an entry is not finite (NaN, ±Infinity).
 * @example
 * cosine([1, 0], [1, 1]);   // 0.7071067811865475
 * cosine([1, 2], [-2, -4]); // -1
 * cosine([0, 0], [1, 2]);   // NaN
 *
 * @category Linear algebra
 */
export function cosine(u: VectorInput, v: VectorInput): number {
  const a = toVector(u, undefined, 'u');
  const b = toVector(v, undefined, 'v');
  if (a.length !== b.length) {
    throw new RangeError(`natgrad: cosine: u and v must have the same length, got ${a.length} and ${b.length}`);
  }
  let ma = 0,
    mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma = Math.max(ma, Math.abs(a[i]!));
    mb = Math.max(mb, Math.abs(b[i]!));
  }
  if (ma === 0 || mb === 0) return NaN;
  let uv = 0,
    uu = 0,
    vv = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! / ma,
      y = b[i]! / mb;
    uv += x * y;
    uu += x * x;
    vv += y * y;
  }
  const c = uv / Math.sqrt(uu * vv); // uu, vv ∈ [1, d]: no overflow
  return Math.min(Math.max(c, -1), 1);
}
