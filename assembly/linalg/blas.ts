/**
 * Level-1 and level-2 BLAS on f64, row-major.
 *
 * Conventions (all kernels in this file):
 * - Pointers are byte addresses; sizes, leading dimensions and increments are in elements.
 * - Vectors are contiguous (unit stride) unless an increment is given.
 * - 8-byte alignment suffices; `v128.load` tolerates unaligned addresses.
 * - SIMD processes two lanes at a time with a scalar tail for odd lengths.
 * - No kernel allocates, validates or traps; inputs are validated by the TS layer.
 * - `dzero32` is `dzero`'s float32 twin (4-byte entries, 4-byte alignment; one generic body).
 */
import { ld, st } from '../util/simd';
import { axpy, dot, scal } from '../util/vec';

/** Σ_i x[i]·y[i] over n elements. Two SIMD accumulators, scalar tail. */
export function ddot(n: i32, x: usize, y: usize): f64 {
  return dot(n, x, y);
}

/** y[i] += alpha·x[i] for i < n. x and y may not partially overlap. */
export function daxpy(n: i32, alpha: f64, x: usize, y: usize): void {
  axpy(n, alpha, x, y);
}

/** x[i] *= alpha for i < n. */
export function dscal(n: i32, alpha: f64, x: usize): void {
  scal(n, alpha, x);
}

/**
 * y = alpha·A·x + beta·y for row-major A (m × n, leading dimension lda ≥ n).
 * y must not alias A or x. With beta = 0, y is overwritten (NaNs in y are not propagated).
 */
export function dgemv(m: i32, n: i32, alpha: f64, a: usize, lda: i32, x: usize, beta: f64, y: usize): void {
  for (let i = 0; i < m; i++) {
    const s = alpha * ddot(n, a + (<usize>i * <usize>lda << 3), x);
    st(y, i, beta == 0 ? s : s + beta * ld(y, i));
  }
}

/**
 * y = alpha·Aᵀ·x + beta·y for row-major A (m × n, lda ≥ n): y has n elements, x has m.
 * Implemented as a sum of row axpys (contiguous access). y must not alias A or x.
 */
export function dgemvT(m: i32, n: i32, alpha: f64, a: usize, lda: i32, x: usize, beta: f64, y: usize): void {
  if (beta == 0) {
    for (let j = 0; j < n; j++) st(y, j, 0);
  } else if (beta != 1) {
    dscal(n, beta, y);
  }
  for (let i = 0; i < m; i++) {
    daxpy(n, alpha * ld(x, i), a + (<usize>i * <usize>lda << 3), y);
  }
}

/**
 * y = alpha·A·x + beta·y for symmetric A (n × n, lda ≥ n) of which only the lower
 * triangle (j ≤ i) is read. y must not alias A or x.
 */
export function dsymvLower(n: i32, alpha: f64, a: usize, lda: i32, x: usize, beta: f64, y: usize): void {
  if (beta == 0) {
    for (let j = 0; j < n; j++) st(y, j, 0);
  } else if (beta != 1) {
    dscal(n, beta, y);
  }
  for (let i = 0; i < n; i++) {
    const row = a + (<usize>i * <usize>lda << 3);
    // Row i, columns 0..i-1, contributes to y[i] (dot) and to y[0..i-1] (axpy, the mirrored part).
    const xi = ld(x, i);
    const s = ddot(i, row, x);
    daxpy(i, alpha * xi, row, y);
    st(y, i, ld(y, i) + alpha * (s + ld(row, i) * xi));
  }
}

/** Copy the strictly lower triangle of A (n × n, lda ≥ n) onto its upper triangle: A[j][i] = A[i][j]. */
export function dsymMirrorLower(n: i32, a: usize, lda: i32): void {
  for (let i = 1; i < n; i++) {
    const row = a + (<usize>i * <usize>lda << 3);
    for (let j = 0; j < i; j++) {
      st(a, <isize>j * lda + i, ld(row, j));
    }
  }
}

/** A[i][j] = 0 for i < m, j < n (row-major, lda ≥ n). */
export function dzero(m: i32, n: i32, a: usize, lda: i32): void {
  dzeroT<f64>(m, n, a, lda);
}

/** `dzero` on float32 (4 bytes per element, 4-byte alignment; +0.0f bit patterns). */
export function dzero32(m: i32, n: i32, a: usize, lda: i32): void {
  dzeroT<f32>(m, n, a, lda);
}

// @ts-ignore: decorator
@inline function dzeroT<T>(m: i32, n: i32, a: usize, lda: i32): void {
  const sh = alignof<T>();
  for (let i = 0; i < m; i++) memory.fill(a + (<usize>i * <usize>lda << sh), 0, <usize>n << sh);
}
