/**
 * `Matrix`: a dense or CSR matrix resident in WebAssembly memory, so that repeated
 * calls (curvature builds, optimizer steps) copy nothing.
 *
 * @module
 */
import { Handle } from './handle.js';
import type { CsrMatrix, DenseMatrix, MatrixInput } from './types.js';
import { toMatrix, type CheckedCsr } from './validate.js';
import { core as defaultCore, type Core } from './wasm.js';

/** A validated matrix copied into WebAssembly memory (dense row-major, or CSR). */
export class Matrix extends Handle {
  readonly rows: number;
  readonly cols: number;
  /** `'dense'` (row-major, leading dimension = cols) or `'csr'`. */
  readonly format: 'dense' | 'csr';
  /** Stored entries: rows·cols when dense, the non-zeros when CSR. */
  readonly nnz: number;

  private constructor(core: Core, format: 'dense' | 'csr', rows: number, cols: number, nnz: number, ptrs: number[]) {
    super(core, ptrs);
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.nnz = nnz;
  }

  /**
   * Validate `input` and copy it into WebAssembly memory. A `Matrix` is returned as is.
   * @throws TypeError / RangeError naming `name` for bad shapes, non-finite values or bad CSR indices.
   */
  static from(input: MatrixInput | Matrix, name = 'X', core: Core = defaultCore()): Matrix {
    if (input instanceof Matrix) return input;
    const m = toMatrix(input, name);
    return m.csr ? Matrix.#fromCsr(core, m.csr) : Matrix.#fromDense(core, m.dense);
  }

  static #fromDense(core: Core, d: DenseMatrix): Matrix {
    const ptr = core.allocCopy(d.data);
    return new Matrix(core, 'dense', d.rows, d.cols, d.rows * d.cols, [ptr]);
  }

  static #fromCsr(core: Core, c: CheckedCsr): Matrix {
    const nnz = c.values.length;
    const ptrs: number[] = [];
    try {
      ptrs.push(core.alloc(4 * (c.rows + 1)));
      ptrs.push(core.alloc(4 * nnz));
      ptrs.push(core.alloc(8 * nnz));
    } catch (e) {
      for (const p of ptrs) core.free(p);
      throw e;
    }
    core.i32(ptrs[0]!, c.rows + 1).set(c.indptr);
    core.i32(ptrs[1]!, nnz).set(c.indices);
    core.f64(ptrs[2]!, nnz).set(c.values);
    return new Matrix(core, 'csr', c.rows, c.cols, nnz, ptrs);
  }

  /** @internal Byte address of the dense data (dense format only). */
  dataPtr(): number {
    return this.ptr(0);
  }

  /** @internal Byte addresses `[indptr, indices, values]` (CSR format only). */
  csrPtrs(): [number, number, number] {
    return [this.ptr(0), this.ptr(1), this.ptr(2)];
  }

  /** A dense row-major copy (`{ data, rows, cols }`), whatever the storage format. */
  toDense(): DenseMatrix {
    this.alive();
    const data = new Float64Array(this.rows * this.cols);
    if (this.format === 'dense') {
      data.set(this.core.f64(this.ptr(0), this.nnz));
    } else {
      const indptr = this.core.i32(this.ptr(0), this.rows + 1);
      const indices = this.core.i32(this.ptr(1), this.nnz);
      const values = this.core.f64(this.ptr(2), this.nnz);
      for (let i = 0; i < this.rows; i++) {
        for (let p = indptr[i]!; p < indptr[i + 1]!; p++) data[i * this.cols + indices[p]!] = values[p]!;
      }
    }
    return { data, rows: this.rows, cols: this.cols };
  }

  /** A CSR copy (for CSR storage), or undefined for dense storage. */
  toCsr(): CsrMatrix | undefined {
    this.alive();
    if (this.format !== 'csr') return undefined;
    return {
      rows: this.rows,
      cols: this.cols,
      indptr: this.core.i32(this.ptr(0), this.rows + 1).slice(),
      indices: this.core.i32(this.ptr(1), this.nnz).slice(),
      values: this.core.f64(this.ptr(2), this.nnz).slice(),
    };
  }
}
