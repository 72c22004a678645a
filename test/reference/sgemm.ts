/**
 * Plain-TypeScript reference of the float32 general matrix product `sgemm`
 * (assembly/linalg/sgemm.ts): the same formula as `gemmRef` (test/reference/gemm.ts),
 *
 *   C ← alpha · op(A) · op(B) + beta · C        (row-major; op(X) = X or Xᵀ)
 *
 * evaluated in float64 on the float32 inputs (A, B, C as `Float32Array`; alpha and beta rounded to
 * float32 as the kernel receives them), so its own rounding error (≈ k · 2⁻⁵³ relative to the sum
 * of |terms|) is ~10⁹ times below the kernel's float32 bound. Plus the sum of the terms'
 * magnitudes, which float32's error bound is proportional to. Units and layout as `gemmRef`.
 */
import { gemmRef } from './gemm.js';

/** C ← alpha · op(A) · op(B) + beta · C in float64 on float32 data; returns the m × ldc result (C is not changed). */
export function sgemmRef(
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
): Float64Array {
  const out = Float64Array.from(C);
  gemmRef(transA, transB, m, n, k, Math.fround(alpha), A, lda, B, ldb, Math.fround(beta), out, ldc);
  return out;
}

/**
 * |alpha| · Σ_l |op(A)[i][l]| · |op(B)[l][j]| + |beta · C[i][j]| (the beta term 0 when beta = 0),
 * with alpha and beta rounded to float32, as an m × n row-major array: what float32's error bound
 * γ · (Σ |terms|) of each entry of `sgemm` is proportional to.
 */
export function sgemmAbsRef(
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
): Float64Array {
  const fa = Math.abs(Math.fround(alpha)),
    fb = Math.fround(beta);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) {
        const a = transA ? A[l * lda + i]! : A[i * lda + l]!;
        const b = transB ? B[j * ldb + l]! : B[l * ldb + j]!;
        s += Math.abs(a * b);
      }
      out[i * n + j] = fa * s + (fb === 0 ? 0 : Math.abs(fb * C[i * ldc + j]!));
    }
  }
  return out;
}
