/**
 * `Matrix`: a dense or CSR matrix resident in WebAssembly memory, so that repeated
 * calls (curvature builds, optimizer steps) copy nothing.
 *
 * @module
 */
import { allocBlocks, Handle } from '../core/handle.js';
import type { CsrMatrix, DenseMatrix, Dtype, MatrixInput } from '../core/types.js';
import { toMatrix, type CheckedCsr } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';

/**
 * A validated matrix copied into WebAssembly memory (dense row-major, or CSR).
 *
 * @category Linear algebra
 */
export class Matrix extends Handle {
  readonly rows: number;
  readonly cols: number;
  /** `'dense'` (row-major, leading dimension = cols) or `'csr'`. */
  readonly format: 'dense' | 'csr';
  /** Stored entries: rows·cols when dense, the non-zeros when CSR. */
  readonly nnz: number;
  /**
   * The element type of the entries: `'float32'` for a float32 problem's resident per-sample
   * gradients (float32 values, stored in float64 like every resident matrix), else `'float64'`.
   */
  readonly dtype: Dtype;

  private constructor(core: Core, format: 'dense' | 'csr', rows: number, cols: number, nnz: number, ptrs: number[], dtype: Dtype = 'float64') {
    super(core, ptrs);
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.nnz = nnz;
    this.dtype = dtype;
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

  /**
   * @internal Take ownership of a dense row-major rows × cols block already in `core`'s memory
   * (filled by a kernel): no copy. The block must have been allocated with `core.alloc`; `dtype`
   * is the type of the values written there (default float64).
   */
  static adopt(core: Core, rows: number, cols: number, ptr: number, dtype: Dtype = 'float64'): Matrix {
    return new Matrix(core, 'dense', rows, cols, rows * cols, [ptr], dtype);
  }

  static #fromDense(core: Core, d: DenseMatrix): Matrix {
    const ptr = core.allocCopy(d.data);
    return new Matrix(core, 'dense', d.rows, d.cols, d.rows * d.cols, [ptr]);
  }

  static #fromCsr(core: Core, c: CheckedCsr): Matrix {
    const nnz = c.values.length;
    const ptrs = allocBlocks(core, [4 * (c.rows + 1), 4 * nnz, 8 * nnz]);
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

  // Kernel dispatch on the storage format (internal; pointers are byte addresses in this
  // matrix's core, sizes in elements; see assembly/linalg/gram.ts and assembly/models/linear.ts).

  /** @internal C += Xᵀ diag(w) X, lower triangle (w = 0: unit weights; weight n at w[n·incw]). */
  syrkLower(w: number, incw: number, c: number, ldc: number): void {
    const k = this.core.exports;
    if (this.format === 'dense') k.dsyrkLower(this.rows, this.cols, this.dataPtr(), this.cols, w, incw, c, ldc);
    else {
      const [ip, ix, iv] = this.csrPtrs();
      k.dsyrkLowerCsr(this.rows, ip, ix, iv, w, incw, c, ldc);
    }
  }

  /**
   * @internal Σ_n J_nᵀ B_n J_n for J_n = I_M ⊗ x_nᵀ into the D × D matrix at c (D = M·cols,
   * leading dimension ldc), B at b as rows × M × M: block (a, b ≤ a) gets only its lower part
   * (`dsymMirrorLower` per off-diagonal block, then on the whole, completes it).
   */
  blockSyrkLower(M: number, b: number, c: number, ldc: number): void {
    const d = this.cols;
    for (let a = 0; a < M; a++) {
      for (let j = 0; j <= a; j++) this.syrkLower(b + 8 * (a * M + j), M * M, c + 8 * (a * d * ldc + j * d), ldc);
    }
  }

  /** @internal out[j] += Σ_n w_n X[n][j]² (w = 0: unit weights; weight n at w[n·incw]). */
  syrkDiag(w: number, incw: number, out: number): void {
    const k = this.core.exports;
    if (this.format === 'dense') k.dsyrkDiag(this.rows, this.cols, this.dataPtr(), this.cols, w, incw, out);
    else {
      const [ip, ix, iv] = this.csrPtrs();
      k.dsyrkDiagCsr(this.rows, ip, ix, iv, w, incw, out);
    }
  }

  /** @internal F (rows × M) = X Θᵀ for θ (M·cols, class-major) at theta. */
  linearForward(M: number, theta: number, f: number): void {
    const k = this.core.exports;
    if (this.format === 'dense') k.linearForward(this.rows, M, this.cols, this.dataPtr(), this.cols, theta, f);
    else {
      const [ip, ix, iv] = this.csrPtrs();
      k.linearForwardCsr(this.rows, M, this.cols, ip, ix, iv, theta, f);
    }
  }

  /** @internal g (M·cols, class-major) += alpha · Rᵀ X for R (rows × M) at r. */
  linearBackward(M: number, r: number, alpha: number, g: number): void {
    const k = this.core.exports;
    if (this.format === 'dense') k.linearBackward(this.rows, M, this.cols, this.dataPtr(), this.cols, r, alpha, g);
    else {
      const [ip, ix, iv] = this.csrPtrs();
      k.linearBackwardCsr(this.rows, M, this.cols, ip, ix, iv, r, alpha, g);
    }
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
