/**
 * The linear-operator surface every matrix-free solver takes: a symmetric D × D matrix known only
 * through its products. A plain object `{ dim, matvec }` is an operator; {@link curvatureOperator}
 * returns one with the optional members too. Nothing here forms D × D.
 *
 * @module
 */
import type { SymMatrix } from '../linalg/symmatrix.js';
import { firstNonFinite } from '../core/validate.js';
import { checkCount as checkCountOption } from '../core/options.js';

/**
 * A symmetric linear operator A ∈ R^{D×D} given by its products.
 *
 * @category Matrix-free
 */
export interface LinearOperator {
  /** D, the dimension. */
  readonly dim: number;
  /** A v for v of length D (a new array of length D; v is not modified). */
  matvec(v: Float64Array): Float64Array;
  /**
   * A V for the k columns of V (D × k, row-major) → D × k row-major. Optional: the solvers fall back
   * on k `matvec` calls.
   */
  matmat?(V: Float64Array, k: number): Float64Array;
  /** The exact diagonal (length D), where it is cheap. Optional. */
  diagonal?(): Float64Array;
  /** The dense D × D matrix (small D only; the caller frees it). Optional. */
  toDense?(): SymMatrix;
  /**
   * The element type its products are computed in; absent = `'float64'`. A `'float32'` operator
   * (the curvature of a float32 model) still takes and returns Float64Array, holding float32
   * values; the solvers then store their long-lived D-vectors (CG's iterates, the Lanczos basis,
   * the Hutch++ sketch) in Float32Array — half the memory, at the accuracy the products have anyway.
   */
  readonly dtype?: 'float32' | 'float64';
}

/**
 * Options every iterative routine takes.
 *
 * @category Matrix-free
 */
export interface IterativeOptions<P> {
  /** Abort between products: the routine throws the signal's reason (an `AbortError` by default). */
  signal?: AbortSignal;
  /** Called after every product (or iteration) with what the routine has so far. */
  onProgress?: (progress: P) => void;
}

/** The keys of {@link IterativeOptions}, for the `checkOptions` lists of the routines that extend it. */
export const iterativeOptionKeys: readonly string[] = ['signal', 'onProgress'];

/**
 * Check that `op` has the operator shape and return it.
 * @throws TypeError without a `matvec` function; RangeError for a `dim` that is not a positive integer.
 *
 * @category Matrix-free
 */
export function checkOperator(op: unknown, what = 'operator'): LinearOperator {
  const o = op as Partial<LinearOperator> | null | undefined;
  if (typeof o !== 'object' || o === null) throw new TypeError(`natgrad: ${what} must be an object { dim, matvec(v) }`);
  if (typeof o.dim !== 'number' || !Number.isSafeInteger(o.dim) || o.dim < 1) throw new RangeError(`natgrad: ${what}.dim must be a positive integer, got ${String(o.dim)}`);
  if (typeof o.matvec !== 'function') throw new TypeError(`natgrad: ${what}.matvec must be a function (v: Float64Array) => Float64Array`);
  return o as LinearOperator;
}

/**
 * A v, checked: the result must have length D and finite entries (an operator that returns the
 * wrong length — a `dim` that does not match its products — or NaN is refused, naming which).
 * @throws RangeError
 */
export function apply(op: LinearOperator, v: Float64Array, what = 'operator'): Float64Array {
  const y = op.matvec(v);
  if (!(y instanceof Float64Array) && !Array.isArray(y)) throw new TypeError(`natgrad: ${what}.matvec must return a Float64Array`);
  if (y.length !== op.dim) throw new RangeError(`natgrad: ${what}.matvec returned ${y.length} entries but ${what}.dim is ${op.dim} (the operator's dim does not match its products)`);
  const bad = firstNonFinite(y);
  if (bad >= 0) throw new RangeError(`natgrad: ${what}.matvec returned a non-finite entry at ${bad} (${y[bad]})`);
  return y instanceof Float64Array ? y : Float64Array.from(y);
}

/** A vector argument of length D with finite entries (a copy when it is not a Float64Array). */
export function checkVector(v: unknown, dim: number, name: string): Float64Array {
  if (!(v instanceof Float64Array) && !Array.isArray(v) && !ArrayBuffer.isView(v)) throw new TypeError(`natgrad: ${name} must be a Float64Array or an array of numbers`);
  const a = v instanceof Float64Array ? v : Float64Array.from(v as ArrayLike<number>);
  if (a.length !== dim) throw new RangeError(`natgrad: ${name} must have length ${dim} (the operator's dim), got ${a.length}`);
  const bad = firstNonFinite(a);
  if (bad >= 0) throw new RangeError(`natgrad: ${name}[${bad}] is not finite (${a[bad]})`);
  return a;
}

/** Throw the signal's reason when it is aborted. */
export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('natgrad: aborted', 'AbortError');
}

/**
 * An integer option ≥ `min`, or `fallback` when it is undefined; a thin wrapper over the shared
 * `checkCount` of `core/options.ts` (NaN, ±Infinity, fractions fail with a RangeError, a
 * non-number with a TypeError). Without a `fallback` the option is required.
 */
export function checkCount(x: unknown, name: string, fallback?: number, min = 1): number {
  return checkCountOption(x, name, fallback === undefined ? { min } : { min, dflt: fallback });
}

/** A seed option (a safe integer, default 0). */
export function checkSeed(x: unknown): number {
  if (x === undefined) return 0;
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw new RangeError(`natgrad: seed must be a safe integer, got ${String(x)}`);
  return x;
}

/** A D-vector as the solvers store it: Float64Array, or Float32Array for a float32 operator. @internal */
export type StoredVector = Float64Array | Float32Array;

/** Whether `op` computes in float32 (`op.dtype === 'float32'`): the solvers then store D-vectors in float32. @internal */
export function isFloat32(op: LinearOperator): boolean {
  return op.dtype === 'float32';
}

/** A zero D-vector in the storage type of `op` (Float32Array for a float32 operator). @internal */
export function storedVector(op: LinearOperator, n: number): StoredVector {
  return isFloat32(op) ? new Float32Array(n) : new Float64Array(n);
}

/** `v` in the storage type of `op` (Float32Array for a float32 operator: rounded; else `v` itself). @internal */
export function toStored(op: LinearOperator, v: Float64Array): StoredVector {
  return isFloat32(op) ? new Float32Array(v) : v;
}

/** v / d as a new vector in the storage type of `op` (for a float32 operator each quotient is rounded once). @internal */
export function storedQuotient(op: LinearOperator, v: Float64Array, d: number): StoredVector {
  // Plain loops: `TypedArray.from(v, f)` goes through the generic iterator path (a call and
  // garbage per element — most of a float32 Lanczos step's time at D ~ 10⁶).
  if (!isFloat32(op)) return v.map((x) => x / d);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / d;
  return out;
}

/** A stored vector as a Float64Array: `v` itself, or a widening (exact) copy of a Float32Array. @internal */
export function widen(v: StoredVector): Float64Array {
  return v instanceof Float64Array ? v : new Float64Array(v);
}

/**
 * x·y, accumulated in float64 (over float32 entries too). Each pair of element types has its own
 * loop, so that every loop sees one typed-array kind (a loop that met both kinds would run
 * polymorphic element loads, slower for float64 callers too).
 */
export function dot(a: StoredVector, b: StoredVector): number {
  if (a instanceof Float64Array) return b instanceof Float64Array ? dot64(a, b) : dot32x64(b, a);
  return b instanceof Float64Array ? dot32x64(a, b) : dot32(a, b);
}

function dot64(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function dot32x64(a: Float32Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function dot32(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** w ← w − c·q for a float64 w and a stored q (one loop per type of q, as {@link dot}). @internal */
export function subtractScaled(w: Float64Array, c: number, q: StoredVector): void {
  if (q instanceof Float64Array) subtract64(w, c, q);
  else subtract32(w, c, q);
}

function subtract64(w: Float64Array, c: number, q: Float64Array): void {
  for (let i = 0; i < w.length; i++) w[i]! -= c * q[i]!;
}

function subtract32(w: Float64Array, c: number, q: Float32Array): void {
  for (let i = 0; i < w.length; i++) w[i]! -= c * q[i]!;
}

/**
 * ‖v‖₂ without overflow or underflow, as LAPACK's `dnrm2`: √(v·v) when that sum is safely inside
 * the normal range (1e-290 … 1e300: every lost square is below 2⁻¹⁰²² and the relative error stays
 * at rounding), else max|vᵢ| · √Σ (vᵢ / max|vᵢ|)². Non-finite entries give a non-finite norm.
 */
export function nrm2(v: StoredVector): number {
  const s = dot(v, v);
  if (s > 1e-290 && s < 1e300) return Math.sqrt(s);
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (Number.isNaN(a)) return NaN;
    if (a > m) m = a;
  }
  if (m === 0 || !Number.isFinite(m)) return m;
  let t = 0;
  for (let i = 0; i < v.length; i++) t += (v[i]! / m) ** 2;
  return m * Math.sqrt(t);
}

/**
 * A power of two near `x` > 0 (2^⌊log₂ x⌋, within a factor 2), or 1 for 0 and non-finite `x`:
 * dividing by it is exact, so a problem rescaled by it gives the unscaled results bit for bit
 * whenever nothing over- or underflows.
 */
export function pow2Scale(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  return 2 ** Math.max(-1074, Math.min(1023, Math.floor(Math.log2(x))));
}

/** A V by columns: `matmat` when the operator has one, else k checked `matvec` calls. */
export function applyMany(op: LinearOperator, V: Float64Array, k: number, what = 'operator'): Float64Array {
  const D = op.dim;
  if (op.matmat) {
    const out = op.matmat(V, k);
    if (out.length !== D * k) throw new RangeError(`natgrad: ${what}.matmat returned ${out.length} entries, expected D·k = ${D * k}`);
    const bad = firstNonFinite(out);
    if (bad >= 0) throw new RangeError(`natgrad: ${what}.matmat returned a non-finite entry at ${bad}`);
    return out;
  }
  const out = new Float64Array(D * k),
    col = new Float64Array(D);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < D; i++) col[i] = V[i * k + c]!;
    const y = apply(op, col, what);
    for (let i = 0; i < D; i++) out[i * k + c] = y[i]!;
  }
  return out;
}
