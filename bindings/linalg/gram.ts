/**
 * Weighted Gram matrices and per-sample outer-product sums.
 *
 * @module
 */
import { withScratch } from '../core/handle.js';
import { checkSquare } from '../core/limits.js';
import { Matrix } from './matrix.js';
import { SymMatrix } from './symmatrix.js';
import type { MatrixInput, VectorInput } from '../core/types.js';
import { toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';

/**
 * Gram matrix `C = Xᵀ diag(w) X = Σ_n w_n x_n x_nᵀ` (sum over the rows x_n of X; no 1/N).
 *
 * Symmetric (d × d); positive semi-definite when all w_n ≥ 0. Dense X runs the
 * register-blocked SIMD kernel over the lower triangle (N·d·(d+1) useful flops);
 * CSR X touches only the non-zeros (Σ_n nnz_n(nnz_n+1) multiply-adds), never densifying.
 *
 * @param X N × d: `{ data, rows, cols }`, `number[][]`, CSR, or a resident {@link Matrix}.
 * @param w optional weights, length N, finite (default: all ones).
 * @returns a new {@link SymMatrix} (free it when done).
 * @throws TypeError / RangeError for bad shapes, non-finite entries, bad CSR indices or a wrong-length w.
 * @example
 * const C = gram([[1, 2], [3, 4]]);   // [[10, 14], [14, 20]]
 *
 * @category Linear algebra
 */
export function gram(X: MatrixInput | Matrix, w?: VectorInput): SymMatrix {
  const core = X instanceof Matrix ? X.core : defaultCore();
  const owned = !(X instanceof Matrix);
  const m = Matrix.from(X, 'X', core);
  try {
    const weights = w === undefined ? undefined : toVector(w, m.rows, 'w');
    return gramOf(core, m, weights);
  } finally {
    if (owned) m.free();
  }
}

/**
 * `Σ_n w_n g_n g_nᵀ` for the rows g_n of G (N × D): the same accumulation as {@link gram},
 * named for its use with per-sample gradients (empirical Fisher = outerProducts(G)/N).
 * @example
 * ```ts
 * outerProducts([[1, 0], [1, 2]]).toDense();   // [2, 2, 2, 4]: g₁g₁ᵀ + g₂g₂ᵀ
 * // the empirical Fisher of a mean-reduction problem without prior, up to rounding:
 * const N = p.N, G = p.perSampleGradients(theta); // N × D
 * const E = outerProducts(G, new Float64Array(N).fill(1 / N)); // ≈ p.empiricalFisher(theta)
 * ```
 *
 * @category Linear algebra
 */
export function outerProducts(G: MatrixInput | Matrix, w?: VectorInput): SymMatrix {
  return gram(G, w);
}

/** @internal Gram of a resident matrix with optional validated weights. */
export function gramOf(core: Core, m: Matrix, w: Float64Array | undefined): SymMatrix {
  const d = m.cols;
  checkSquare(d, 'the Gram matrix of d columns');
  const c = core.alloc(8 * d * d);
  try {
    core.f64(c, d * d).fill(0);
    const run = (pw: number) => m.syrkLower(pw, 1, c, d);
    if (w === undefined) run(0);
    else
      withScratch(core, [8 * m.rows], (pw) => {
        core.f64(pw, m.rows).set(w);
        run(pw);
      });
    core.exports.dsymMirrorLower(d, c, d);
  } catch (e) {
    core.free(c);
    throw e;
  }
  return new SymMatrix(core, d, c);
}
