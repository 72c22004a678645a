/**
 * Saving and restoring optimizer states. A state is plain data — numbers, strings, booleans,
 * `Float64Array`s, and arrays and objects of those — so it encodes to JSON losslessly: every
 * `Float64Array` becomes `{ "f64": [...] }` and every non-finite number the string `"Infinity"`,
 * `"-Infinity"` or `"NaN"` (JSON has no such numbers). JavaScript prints a double with the
 * shortest digits that read back to the same double, so `JSON.parse(JSON.stringify(saved))`
 * restores the state bit for bit, and a run continued from it gives exactly the iterates the
 * uninterrupted run gives.
 *
 * @module
 */
import type { OptimizerState } from './optimizers.js';

/**
 * A JSON value.
 *
 * @category Optimizers
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What {@link Optimizer.saveState} returns: plain JSON, tagged with the optimizer and D.
 *
 * @category Optimizers
 */
export interface SavedOptimizerState {
  /** The optimizer's name (`'Adam'`, `'KFAC'`, …); {@link Optimizer.loadState} refuses another's. */
  readonly optimizer: string;
  /** D, the number of parameters. */
  readonly dim: number;
  /**
   * The encoded state: its fields as JSON, every `Float64Array` as `{ "f64": [...] }` and every
   * non-finite number as the string `"Infinity"`, `"-Infinity"` or `"NaN"`. Doubles print with the
   * shortest digits that read back to the same double, so `JSON.parse(JSON.stringify(saved))`
   * restores the state bit for bit.
   */
  readonly state: { [key: string]: Json };
}

function encode(v: unknown, path: string): Json {
  if (v instanceof Float64Array) return { f64: Array.from(v, num) };
  if (typeof v === 'number') return num(v);
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (Array.isArray(v)) return v.map((x, i) => encode(x, `${path}[${i}]`));
  if (typeof v === 'object' && v !== undefined && Object.getPrototypeOf(v) === Object.prototype) {
    const out: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = encode(x, `${path}.${k}`);
    return out;
  }
  throw new TypeError(`natgrad: saveState: ${path} is ${v === undefined ? 'undefined' : (Object.getPrototypeOf(v)?.constructor?.name ?? typeof v)}, which a state cannot hold (plain data only)`);
}

function num(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

function decode(v: unknown, path: string): unknown {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'string') return v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : v;
  if (Array.isArray(v)) return v.map((x, i) => decode(x, `${path}[${i}]`));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'f64') {
      if (!Array.isArray(o.f64)) throw new TypeError(`natgrad: loadState: ${path}.f64 must be an array of numbers`);
      return Float64Array.from(o.f64 as unknown[], (x, i) => {
        const d = decode(x, `${path}.f64[${i}]`);
        if (typeof d !== 'number') throw new TypeError(`natgrad: loadState: ${path}.f64[${i}] is not a number`);
        return d;
      });
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = decode(o[k], `${path}.${k}`);
    return out;
  }
  throw new TypeError(`natgrad: loadState: ${path} is not JSON data`);
}

/** Encode a state as {@link SavedOptimizerState} (Float64Arrays as `{ f64: [...] }`, non-finite numbers as strings). */
export function saveState(name: string, state: OptimizerState): SavedOptimizerState {
  return { optimizer: name, dim: state.theta.length, state: encode(state, 'state') as { [key: string]: Json } };
}

/** Decode and check a saved state: the optimizer's name, D, and the common fields. */
export function loadState<S extends OptimizerState>(name: string, dim: number, saved: unknown): S {
  if (typeof saved === 'string') saved = JSON.parse(saved);
  if (typeof saved !== 'object' || saved === null) throw new TypeError('natgrad: loadState: expected the object saveState returned (or its JSON text)');
  const s = saved as Partial<SavedOptimizerState>;
  if (s.optimizer !== name) throw new TypeError(`natgrad: loadState: this state was saved by ${String(s.optimizer)}, not ${name}`);
  if (s.dim !== dim) throw new RangeError(`natgrad: loadState: the state has D = ${String(s.dim)} parameters, the problem ${dim}`);
  const state = decode(s.state, 'state') as Record<string, unknown>;
  for (const key of ['theta', 'gradient'] as const) {
    const v = state[key];
    if (!(v instanceof Float64Array) || v.length !== dim) throw new TypeError(`natgrad: loadState: state.${key} must be ${dim} numbers`);
  }
  for (const key of ['iteration', 'damping', 'loss'] as const) if (typeof state[key] !== 'number') throw new TypeError(`natgrad: loadState: state.${key} must be a number`);
  if (!(Number.isSafeInteger(state.iteration) && (state.iteration as number) >= 0)) throw new RangeError('natgrad: loadState: state.iteration must be an integer ≥ 0');
  return state as unknown as S;
}
