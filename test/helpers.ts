/**
 * Shared test set-up: the variant under test comes from NATGRAD_VARIANT
 * (`simd` or `relaxed-simd`) and the thread count from NATGRAD_THREADS (default 1;
 * `test/all.mjs` runs the suite for both variants with 1 thread and with 2), plus tolerance
 * helpers tied to the reduction length.
 */
import * as assert from 'uvu/assert';
import { bernoulli, categorical, createCore, gaussian, init, poisson, type Core, type Likelihood, type Variant } from '../bindings/index.js';

export const variant = (process.env.NATGRAD_VARIANT ?? 'simd') as Variant;
/** Threads of the default core and of {@link core} in this run. */
export const threads = Number(process.env.NATGRAD_THREADS ?? 1);
await init({ variant, threads });
/** A second, independent core of the same variant and thread count (handles carry their core). */
export const core: Core = await createCore({ variant, threads });

export const EPS = 2 ** -52;

/**
 * Tolerance for a reduction of length k whose terms are bounded by maxTerm in magnitude
 * (XNNPACK's `max|term|·(k·eps + eps)` with a safety factor 4).
 */
export function reductionTol(k: number, maxTerm: number): number {
  return 4 * Math.max(maxTerm, Number.MIN_VALUE) * (Math.max(k, 1) * EPS + EPS);
}

/** float32's unit roundoff u = 2⁻²⁴. */
export const U32 = 2 ** -24;

/**
 * Asserts the float32 bound of test/nn/sequential-f32.test.ts, ‖a − b‖∞ ≤ 4·P·K·u·‖b‖∞ (u = 2⁻²⁴,
 * K the longest reduction, P the float32 stages on the path), with a finite; returns
 * ‖a − b‖∞ / bound (≤ 1 passes).
 */
export function checkFloat32Bound(a: ArrayLike<number>, b: ArrayLike<number>, P: number, K: number, what: string): number {
  assert.is(a.length, b.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  const bound = 4 * P * K * U32 * maxAbs(b);
  for (let i = 0; i < a.length; i++) assert.ok(Number.isFinite(a[i]!), `${what}: entry ${i} is ${a[i]}`);
  assert.ok(d <= bound, `${what}: ‖Δ‖∞ = ${d.toExponential(3)} > bound ${bound.toExponential(3)} (P = ${P}, K = ${K})`);
  return d / bound;
}

/** max_i |x_i|. */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** n uniform values on (−1, 1), rounded to float32 (as Float64Array). */
export function vec32(n: number, seed: number): Float64Array {
  const u = uniform(seed);
  return Float64Array.from({ length: n }, () => Math.fround(2 * u() - 1));
}

/** Deterministic uniform [0, 1) stream (mulberry32) for test data. */
export function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals from a uniform stream (Box–Muller). */
export function normals(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Row-major N × d matrix of standard normals. */
export function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const g = normals(seed);
  return Float64Array.from({ length: rows * cols }, g);
}

/** assert |a_i − b_i| ≤ tol_i for every i (tol scalar or per entry). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number | ArrayLike<number>, msg = ''): void {
  assert.is(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    const t = typeof tol === 'number' ? tol : tol[i]!;
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= t)) assert.unreachable(`${msg} entry ${i}: ${actual[i]} vs ${expected[i]} (|Δ| = ${d} > ${t})`);
  }
}

/** Relative error ‖a − b‖_F / max(‖b‖_F, tiny). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

/** The likelihood a PyTorch fixture names (the fixture scripts' `likelihood` objects). */
export function fixtureLikelihood(l: { name: string; variance?: number; outputs?: number; classes?: number }): Likelihood {
  switch (l.name) {
    case 'gaussian':
      return gaussian({ variance: l.variance!, outputs: l.outputs ?? 1 });
    case 'bernoulli':
      return bernoulli();
    case 'categorical':
      return categorical({ classes: l.classes! });
    case 'poisson':
      return poisson();
  }
  throw new Error(`unknown likelihood ${l.name}`);
}
