/**
 * Set-up of the experiments' tests. The experiments import the library as `'natgrad'` (the
 * package's self-reference: dist/, built by `npm run build`), so these tests initialize THAT
 * module instance — not ../../bindings/ as the other suites do — with the variant under test.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { init, type Variant } from 'natgrad';

export const variant = (process.env.NATGRAD_VARIANT ?? 'simd') as Variant;
await init({ variant });

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The shared data sets (../shared/datasets), when present. */
export const SHARED_DATA = fileURLToPath(new URL('../../../shared/datasets/', import.meta.url));
export const HAS_SHARED_DATA = existsSync(SHARED_DATA);

/** max_i |a_i − b_i| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max_i |a_i − b_i| / max(max_i |b_i|, tiny) */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s = Math.max(s, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / Math.max(s, 1e-300);
}
