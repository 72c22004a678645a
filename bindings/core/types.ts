/**
 * Input conventions shared by the whole API.
 *
 * - A dense matrix is `{ data: Float64Array, rows, cols }`, row-major
 *   (`data[i * cols + j]` is row i, column j), or a `number[][]` (array of rows); `data` may be
 *   a `Float32Array` (widened exactly to float64).
 * - A vector is a `Float64Array`, any typed array of numbers (a `Float32Array` is widened
 *   exactly) or a plain array.
 * - A sparse matrix is CSR: `{ rows, cols, indptr, indices, values }` with
 *   `indptr.length === rows + 1`, `indptr[0] === 0`, non-decreasing `indptr`,
 *   0-based `indices` strictly increasing within each row.
 *
 * @module
 */

/**
 * Row-major dense matrix: `data[i * cols + j]`.
 *
 * @category Linear algebra
 */
export interface DenseMatrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Compressed sparse rows. Column indices are 0-based and strictly increasing per row.
 *
 * @category Linear algebra
 */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array | number[];
  readonly indices: Int32Array | number[];
  readonly values: Float64Array | number[];
}

/**
 * A row-major dense matrix of float32 values (a float32 network's data, as PyTorch hands it
 * over): accepted wherever a dense input is, and widened exactly to float64 on the way in.
 *
 * @category Linear algebra
 */
export interface DenseMatrix32 {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Any matrix input accepted by the API (a resident `Matrix` handle is accepted too where documented).
 *
 * @category Linear algebra
 */
export type MatrixInput = DenseMatrix | DenseMatrix32 | CsrMatrix | number[][];

/**
 * A vector input: a `Float64Array`, a `Float32Array` (widened exactly) or a plain array of numbers.
 *
 * @category Linear algebra
 */
export type VectorInput = Float64Array | ArrayLike<number>;

/**
 * The floating-point type a model computes in: `'float64'` (default) or `'float32'` (θ, X and
 * every layer plane in float32, and a problem's results in float32; see `sequential({ dtype })`
 * and {@link Problem}).
 *
 * @category Models
 */
export type Dtype = 'float32' | 'float64';

/**
 * The array a result of dtype `T` comes back in: `Float32Array` for `'float32'`, `Float64Array`
 * for `'float64'` (and their union for `Dtype`, a problem whose type is not known statically).
 *
 * @category Models
 */
export type FloatArray<T extends Dtype = Dtype> = T extends 'float32' ? Float32Array : Float64Array;

/**
 * The dense matrix a result of dtype `T` comes back as: {@link DenseMatrix32} for `'float32'`,
 * {@link DenseMatrix} for `'float64'`.
 *
 * @category Models
 */
export type DenseMatrixOf<T extends Dtype = Dtype> = T extends 'float32' ? DenseMatrix32 : DenseMatrix;

/**
 * A data set as returned by the loaders: inputs, targets and column names.
 *
 * @category Data
 */
export interface Dataset<X extends DenseMatrix | CsrMatrix = DenseMatrix | CsrMatrix> {
  readonly X: X;
  readonly y: Float64Array;
  readonly names: string[];
}

/** True when `m` looks like a CSR matrix (has `indptr`). */
export function isCsr(m: unknown): m is CsrMatrix {
  return typeof m === 'object' && m !== null && 'indptr' in m;
}
