/**
 * Plain-TypeScript reference of the general matrix product (textbook triple loop, no blocking,
 * no SIMD), with the same semantics as the `dgemm` kernel (assembly/linalg/gemm.ts):
 *
 *   C ← alpha · op(A) · op(B) + beta · C        (row-major; op(X) = X or Xᵀ)
 *
 * Sizes and leading dimensions are in elements; op(A) is m × k (A stored m × k, lda ≥ k, when
 * transA = 0; stored k × m, lda ≥ m, otherwise), op(B) is k × n (B stored k × n, ldb ≥ n, when
 * transB = 0; stored n × k, ldb ≥ k, otherwise); C is m × n with ldc ≥ n. beta = 0 overwrites C
 * without reading it; entries of C outside the m × n block are left alone.
 */

/** op(A)[i][p] of a row-major A with leading dimension lda. */
function opAt(X: ArrayLike<number>, trans: number, ld: number, i: number, p: number): number {
  return trans ? X[p * ld + i]! : X[i * ld + p]!;
}

/** C ← alpha · op(A) · op(B) + beta · C, in place on C. */
export function gemmRef(
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  A: ArrayLike<number>,
  lda: number,
  B: ArrayLike<number>,
  ldb: number,
  beta: number,
  C: Float64Array,
  ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += opAt(A, transA, lda, i, p) * opAt(B, transB ? 0 : 1, ldb, j, p);
      C[i * ldc + j] = beta === 0 ? alpha * s : alpha * s + beta * C[i * ldc + j]!;
    }
  }
}

/**
 * The magnitude bound of each term of C's entries, max(max_p |alpha · op(A)[i][p] · op(B)[p][j]|,
 * |beta · C[i][j]|) (0 for the beta term when beta = 0), as an m × n row-major array: the
 * `maxTerm` argument of `reductionTol` for tolerances.
 */
export function gemmMaxTermRef(
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  A: ArrayLike<number>,
  lda: number,
  B: ArrayLike<number>,
  ldb: number,
  beta: number,
  C: ArrayLike<number>,
  ldc: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let t = beta === 0 ? 0 : Math.abs(beta * C[i * ldc + j]!);
      for (let p = 0; p < k; p++) {
        t = Math.max(t, Math.abs(alpha * opAt(A, transA, lda, i, p) * opAt(B, transB ? 0 : 1, ldb, j, p)));
      }
      out[i * n + j] = t;
    }
  }
  return out;
}
