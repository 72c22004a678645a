/**
 * Input validation shared by the API. Everything a kernel receives has passed through
 * here first: shapes, lengths, finiteness, index ranges. Errors name the argument.
 *
 * @module
 */
import { checkBytes } from './limits.js';
import { isCsr, type CsrMatrix, type DenseMatrix, type MatrixInput } from './types.js';

/** Throws `TypeError` unless `n` is a non-negative safe integer. */
export function checkSize(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new TypeError(`natgrad: ${name} must be a non-negative integer, got ${String(n)}`);
  }
  return n;
}

/** Throws `RangeError` unless `x` is a finite number (optionally ≥ 0 / > 0). */
export function checkScalar(x: unknown, name: string, domain: 'any' | 'nonnegative' | 'positive' = 'any'): number {
  if (typeof x !== 'number') throw new TypeError(`natgrad: ${name} must be a number, got ${typeof x}`);
  if (!Number.isFinite(x)) throw new RangeError(`natgrad: ${name} must be finite, got ${x}`);
  if (domain === 'nonnegative' && !(x >= 0)) throw new RangeError(`natgrad: ${name} must be ≥ 0, got ${x}`);
  if (domain === 'positive' && !(x > 0)) throw new RangeError(`natgrad: ${name} must be > 0, got ${x}`);
  return x;
}

/** Index of the first non-finite entry, or −1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  if (a instanceof Float64Array) return firstNonFiniteF64(a);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/** The Float64Array case, monomorphic: Σ x·0 is 0 exactly when every x is finite (±∞·0 and NaN give NaN). */
function firstNonFiniteF64(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * 0;
  if (s === 0) return -1;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/**
 * A `Float64Array` copy (or the array itself when it already is one) of a vector input of
 * the given length, all entries finite.
 */
export function toVector(v: unknown, length: number | undefined, name: string): Float64Array {
  if (!(v instanceof Float64Array) && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
    throw new TypeError(`natgrad: ${name} must be a Float64Array or an array of numbers`);
  }
  const a = v instanceof Float64Array ? v : v instanceof Float32Array ? new Float64Array(v) : Float64Array.from(v as ArrayLike<number>);
  if (length !== undefined && a.length !== length) {
    throw new RangeError(`natgrad: ${name} must have length ${length}, got ${a.length}`);
  }
  const bad = firstNonFinite(a);
  if (bad >= 0) throw new RangeError(`natgrad: ${name}[${bad}] is not finite (${a[bad]})`);
  return a;
}

/**
 * A float32 result widened (exactly) to a `Float64Array`, for code that computes in float64 on
 * either problem type (the optimizers, the operators, Laplace); a `Float64Array` is returned as is.
 */
export function widen(v: Float32Array | Float64Array): Float64Array {
  return v instanceof Float64Array ? v : new Float64Array(v);
}

/** A validated dense matrix (row-major, all finite) from `{ data, rows, cols }` or `number[][]`. */
export function toDense(m: unknown, name: string, sizeHint?: string): DenseMatrix {
  if (Array.isArray(m)) {
    const rows = m.length;
    const cols = rows === 0 ? 0 : Array.isArray(m[0]) ? (m[0] as unknown[]).length : -1;
    checkBytes(8 * rows * Math.max(cols, 0), `${name}: ${rows} × ${cols} doubles`, sizeHint);
    const data = new Float64Array(rows * Math.max(cols, 0));
    for (let i = 0; i < rows; i++) {
      const r = m[i];
      if (!Array.isArray(r)) throw new TypeError(`natgrad: ${name}[${i}] must be an array (row)`);
      if (r.length !== cols) throw new RangeError(`natgrad: ${name}[${i}] has ${r.length} entries, expected ${cols}`);
      for (let j = 0; j < cols; j++) {
        const x = r[j];
        if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`natgrad: ${name}[${i}][${j}] is not a finite number (${String(x)})`);
        data[i * cols + j] = x;
      }
    }
    return { data, rows, cols };
  }
  if (typeof m !== 'object' || m === null || !('data' in m)) {
    throw new TypeError(`natgrad: ${name} must be { data: Float64Array, rows, cols }, number[][] or CSR { rows, cols, indptr, indices, values }`);
  }
  // Shape and size first: a shape too large for WebAssembly is refused before `data` is read.
  const { rows, cols } = m as DenseMatrix;
  checkSize(rows, `${name}.rows`);
  checkSize(cols, `${name}.cols`);
  checkBytes(8 * rows * cols, `${name}: ${rows} × ${cols} doubles`, sizeHint);
  const given = (m as { data: unknown }).data;
  if (!(given instanceof Float64Array) && !(given instanceof Float32Array)) throw new TypeError(`natgrad: ${name}.data must be a Float64Array or a Float32Array`);
  // float32 data (a float32 network's inputs) is widened exactly.
  const data = given instanceof Float32Array ? Float64Array.from(given) : given;
  if (data.length !== rows * cols) {
    throw new RangeError(`natgrad: ${name}.data has length ${data.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) {
    throw new RangeError(`natgrad: ${name}[${Math.floor(bad / cols)}][${bad % cols}] is not finite (${data[bad]})`);
  }
  return { data, rows, cols };
}

/** Validated CSR with typed arrays (`Int32Array` indptr/indices, `Float64Array` values). */
export interface CheckedCsr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/**
 * Validate a CSR matrix: `indptr` of length rows + 1 starting at 0, non-decreasing, ending
 * at nnz; indices in [0, cols) strictly increasing within each row; finite values.
 */
export function toCsr(m: CsrMatrix, name: string): CheckedCsr {
  const rows = checkSize(m.rows, `${name}.rows`);
  const cols = checkSize(m.cols, `${name}.cols`);
  if (cols > 2 ** 31 - 1) throw new RangeError(`natgrad: ${name}.cols is too large for 32-bit indices`);
  checkBytes(4 * (rows + 1), `${name}.indptr: ${rows} + 1 row pointers`);
  const indptr = toInt32(m.indptr, `${name}.indptr`);
  const indices = toInt32(m.indices, `${name}.indices`);
  if (!(m.values instanceof Float64Array) && !Array.isArray(m.values) && !ArrayBuffer.isView(m.values)) {
    throw new TypeError(`natgrad: ${name}.values must be a Float64Array or an array of numbers`);
  }
  const values = m.values instanceof Float64Array ? m.values : Float64Array.from(m.values as ArrayLike<number>);
  checkBytes(8 * values.length, `${name}.values: ${values.length} non-zeros`);
  if (indptr.length !== rows + 1) throw new RangeError(`natgrad: ${name}.indptr must have length rows + 1 = ${rows + 1}, got ${indptr.length}`);
  if (indptr[0] !== 0) throw new RangeError(`natgrad: ${name}.indptr[0] must be 0, got ${indptr[0]}`);
  for (let i = 0; i < rows; i++) {
    if (indptr[i + 1]! < indptr[i]!) throw new RangeError(`natgrad: ${name}.indptr is not non-decreasing at row ${i} (${indptr[i]} > ${indptr[i + 1]})`);
  }
  const nnz = indptr[rows]!;
  if (indices.length !== nnz || values.length !== nnz) {
    throw new RangeError(`natgrad: ${name}.indices and ${name}.values must have indptr[rows] = ${nnz} entries, got ${indices.length} and ${values.length}`);
  }
  for (let i = 0; i < rows; i++) {
    for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
      const j = indices[p]!;
      if (j < 0 || j >= cols) throw new RangeError(`natgrad: ${name}.indices[${p}] = ${j} is out of range [0, ${cols}) in row ${i}`);
      if (p > indptr[i]! && j <= indices[p - 1]!) throw new RangeError(`natgrad: ${name}.indices are not strictly increasing in row ${i} (${indices[p - 1]} then ${j})`);
    }
  }
  const bad = firstNonFinite(values);
  if (bad >= 0) throw new RangeError(`natgrad: ${name}.values[${bad}] is not finite (${values[bad]})`);
  return { rows, cols, indptr, indices, values };
}

/**
 * An `Int32Array` of CSR indices: the array itself, or a checked copy of a plain array /
 * other typed array whose entries must all be integers in [−2³¹, 2³¹) — `Int32Array.from`
 * would silently truncate 1.5 to 1 and wrap 2³² to 0.
 */
function toInt32(a: unknown, name: string): Int32Array {
  if (a instanceof Int32Array) return a;
  if (!Array.isArray(a) && !(ArrayBuffer.isView(a) && !(a instanceof DataView))) {
    throw new TypeError(`natgrad: ${name} must be an Int32Array or an array of integers`);
  }
  const src = a as ArrayLike<unknown>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw new RangeError(`natgrad: ${name}[${i}] = ${String(v)} is not a 32-bit integer index`);
    }
    out[i] = v;
  }
  return out;
}

/** Validate any matrix input (dense or CSR). */
export function toMatrix(m: MatrixInput, name: string): { dense: DenseMatrix; csr?: undefined } | { csr: CheckedCsr; dense?: undefined } {
  if (isCsr(m)) return { csr: toCsr(m, name) };
  return { dense: toDense(m, name) };
}
