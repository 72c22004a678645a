/**
 * Argument checks and the identity stack shared by the network traces (`sequential.ts`,
 * `dense-chain.ts`): the validated public face over the unchecked passes.
 *
 * @module
 */

/** An array-like of exactly `length` numbers, else a TypeError / RangeError naming `name`. */
export function checkLength(x: unknown, length: number, name: string): ArrayLike<number> {
  if (!(x instanceof Float64Array) && !Array.isArray(x) && !ArrayBuffer.isView(x)) throw new TypeError(`natgrad: ${name} must be a Float64Array`);
  const a = x as ArrayLike<number>;
  if (a.length !== length) throw new RangeError(`natgrad: ${name} must have length ${length}, got ${a.length}`);
  return a;
}

/** A positive safe integer, else a RangeError naming `name`. */
export function checkCount(k: unknown, name: string): number {
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) throw new RangeError(`natgrad: ${name} must be a positive integer, got ${String(k)}`);
  return k;
}

/** A finite number, else a RangeError naming `name`. */
export function checkFinite(x: unknown, name: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`natgrad: ${name} must be a finite number, got ${String(x)}`);
  return x;
}

/** The (N·M) × M stack whose row n·M + m is e_m: its pullbacks are the per-sample Jacobians. */
export function identityStack(N: number, M: number): Float64Array {
  const R = new Float64Array(N * M * M);
  for (let r = 0; r < N * M; r++) R[r * M + (r % M)] = 1;
  return R;
}
