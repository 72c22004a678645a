/**
 * `parallelGram`: one large Gram matrix Xᵀ diag(w) X on every thread of the default core.
 *
 * Since the threaded core (`init({ threads })`), {@link gram} itself runs on all of the core's
 * threads, with results bitwise identical to one thread; `parallelGram` is kept for the code that
 * calls it and for what `gram` cannot do: X larger than one WebAssembly block (1 GiB) or than the
 * 4 GiB address space. Such an X is streamed through WebAssembly memory in chunks of
 * `chunkBytes` (each chunk accumulated into the result by the threaded Gram kernel), so only the
 * d × d result and one chunk must fit. When X fits in one block the call is `gram(X, w)`.
 *
 * Before the threaded core, `parallelGram` started its own shared-nothing workers and copied the
 * rows into each worker's memory (216 ms vs 237 ms for one thread at 200000 × 128 on 2 cores);
 * the `workers` and `variant` options of that design are still validated but no longer choose
 * anything: the default core's threads and variant do the work.
 *
 * @module
 */
import { MAX_ALLOCATION, checkSquare } from '../core/limits.js';
import { Matrix } from './matrix.js';
import { checkOptions } from '../core/options.js';
import { gram } from './gram.js';
import { SymMatrix } from './symmatrix.js';
import { isCsr, type CsrMatrix, type DenseMatrix, type MatrixInput, type VectorInput } from '../core/types.js';
import { checkSize, firstNonFinite, toCsr, toDense, toVector, type CheckedCsr } from '../core/validate.js';
import { core as defaultCore } from '../core/wasm.js';

/**
 * Options of {@link parallelGram}.
 *
 * @category Linear algebra
 */
export interface ParallelOptions {
  /**
   * Validated (an integer in [1, 64]) for compatibility; the threads are the default core's
   * (`init({ threads })`).
   * @deprecated set the thread count with `init({ threads })`.
   */
  workers?: number;
  /**
   * Validated for compatibility; the variant is the default core's.
   * @deprecated choose the variant with `init({ variant })`.
   */
  variant?: 'simd' | 'relaxed-simd';
  /** Bytes of rows per chunk when X is streamed (larger than one WebAssembly block; default 4 MiB). */
  chunkBytes?: number;
  /** @internal Stream X in chunks even when it fits in one block (tests). */
  stream?: boolean;
}

/**
 * Gram matrix `C = Xᵀ diag(w) X = Σ_n w_n x_n x_nᵀ` (no 1/N) on all threads of the default core.
 * Symmetric, d × d. Equal to {@link gram} bit for bit when X fits in one WebAssembly block;
 * streamed X (larger) sums its chunks in row order (same value up to rounding).
 *
 * @param X N × d: `{ data, rows, cols }` (any size that JavaScript holds), `number[][]`, CSR, or a
 *   resident {@link Matrix}.
 * @param w optional weights, length N, finite.
 * @returns a promise of a new {@link SymMatrix} (free it when done).
 * @throws TypeError / RangeError (rejections) for bad shapes, non-finite entries, bad options, a
 *   d × d result larger than one WebAssembly block.
 * @example
 * await init({ threads: 2 });
 * const C = await parallelGram({ data, rows: 200000, cols: 128 });
 *
 * @category Linear algebra
 */
export async function parallelGram(X: MatrixInput | Matrix, w?: VectorInput, options: ParallelOptions = {}): Promise<SymMatrix> {
  checkOptions(options, 'parallelGram', ['workers', 'variant', 'chunkBytes', 'stream'], { threads: "the threads are the default core's: init({ threads })" });
  const workers = options.workers ?? 2;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new RangeError(`natgrad: workers must be an integer in [1, 64], got ${String(workers)}`);
  }
  const chunkBytes = options.chunkBytes ?? 4 * 2 ** 20;
  if (typeof chunkBytes !== 'number' || !(chunkBytes >= 8) || !Number.isFinite(chunkBytes)) {
    throw new RangeError(`natgrad: chunkBytes must be a finite number ≥ 8, got ${String(chunkBytes)}`);
  }
  const variant = options.variant;
  if (variant !== undefined && variant !== 'simd' && variant !== 'relaxed-simd') throw new TypeError(`natgrad: variant must be 'simd' or 'relaxed-simd', got ${String(variant)}`);
  if (X instanceof Matrix) return gram(X, w);

  let dense: DenseMatrix | undefined, csr: CheckedCsr | undefined;
  if (isCsr(X)) csr = toCsr(X as CsrMatrix, 'X');
  else if (Array.isArray(X)) dense = toDense(X, 'X');
  else dense = checkLargeDense(X);
  const rows = dense ? dense.rows : csr!.rows,
    d = dense ? dense.cols : csr!.cols;
  checkSquare(d, 'the Gram matrix of d columns');
  const weights = w === undefined ? undefined : toVector(w, rows, 'w');
  const bytes = dense ? 8 * rows * d : 12 * csr!.values.length + 4 * (rows + 1);
  if (bytes <= MAX_ALLOCATION && !options.stream) return gram(dense ?? csr!, weights);

  // Streamed: one chunk at a time through WebAssembly memory, accumulated into C.
  const core = defaultCore();
  const chunkRows = Math.max(1, Math.floor(chunkBytes / (8 * Math.max(d, 1))));
  const C = core.alloc(8 * d * d);
  // One weight block for every chunk (the chunk's rows change, its size does not).
  const pw = weights ? core.alloc(8 * Math.min(chunkRows, rows)) : 0;
  try {
    core.f64(C, d * d).fill(0);
    for (let a = 0; a < rows; a += chunkRows) {
      const b = Math.min(rows, a + chunkRows);
      let chunk: Matrix;
      if (dense) chunk = Matrix.from({ data: dense.data.subarray(a * d, b * d), rows: b - a, cols: d }, 'X', core);
      else {
        const p0 = csr!.indptr[a]!,
          p1 = csr!.indptr[b]!;
        const indptr = Int32Array.from(csr!.indptr.subarray(a, b + 1), (p) => p - p0);
        chunk = Matrix.from({ rows: b - a, cols: d, indptr, indices: csr!.indices.subarray(p0, p1), values: csr!.values.subarray(p0, p1) }, 'X', core);
      }
      try {
        if (weights) core.f64(pw, b - a).set(weights.subarray(a, b));
        chunk.syrkLower(pw, 1, C, d);
      } finally {
        chunk.free();
      }
    }
    core.exports.dsymMirrorLower(d, C, d);
  } catch (e) {
    core.free(C);
    throw e;
  } finally {
    if (pw) core.free(pw);
  }
  return new SymMatrix(core, d, C);
}

/** Dense `{ data, rows, cols }` checked like `toDense` but without the one-block size limit. */
function checkLargeDense(m: unknown): DenseMatrix {
  if (typeof m !== 'object' || m === null || !('data' in m)) {
    throw new TypeError('natgrad: X must be { data: Float64Array, rows, cols }, number[][] or CSR { rows, cols, indptr, indices, values }');
  }
  const { rows, cols } = m as DenseMatrix;
  checkSize(rows, 'X.rows');
  checkSize(cols, 'X.cols');
  const { data } = m as DenseMatrix;
  if (!(data instanceof Float64Array)) throw new TypeError('natgrad: X.data must be a Float64Array');
  if (data.length !== rows * cols) {
    throw new RangeError(`natgrad: X.data has length ${data.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new RangeError(`natgrad: X[${Math.floor(bad / cols)}][${bad % cols}] is not finite (${data[bad]})`);
  return { data, rows, cols };
}
