/**
 * Plain-TypeScript dense references for the Laplace tests: Cholesky, log det, inverse, the
 * Jacobian by D Jacobian-vector products, and a Kronecker block G ⊗ A laid out in θ order.
 */
import type { Model } from '../../bindings/index.js';

/** Lower Cholesky factor of a dense SPD n × n array (throws when not positive definite). */
export function cholesky(A: ArrayLike<number>, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! ** 2;
    if (!(d > 0)) throw new Error(`reference cholesky: pivot ${j} is ${d}`);
    L[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = s / L[j * n + j]!;
    }
  }
  return L;
}

export function logDet(A: ArrayLike<number>, n: number): number {
  const L = cholesky(A, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += 2 * Math.log(L[i * n + i]!);
  return s;
}

/** A⁻¹ for SPD A, column by column from the Cholesky factor. */
export function inverse(A: ArrayLike<number>, n: number): Float64Array {
  const L = cholesky(A, n);
  const X = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const x = new Float64Array(n);
    x[c] = 1;
    for (let i = 0; i < n; i++) {
      let s = x[i]!;
      for (let k = 0; k < i; k++) s -= L[i * n + k]! * x[k]!;
      x[i] = s / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i]!;
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
      x[i] = s / L[i * n + i]!;
    }
    for (let i = 0; i < n; i++) X[i * n + c] = x[i]!;
  }
  return X;
}

/** J (n × M × D) by D Jacobian-vector products with unit vectors. */
export function jacobianByJvp(model: Model, theta: Float64Array, X: Float64Array, rows: number): { J: Float64Array; f: Float64Array } {
  const D = model.dim,
    M = model.outputs;
  const tr = model.forward(theta, X, rows);
  const f = tr.outputs.slice();
  const J = new Float64Array(rows * M * D);
  const e = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    e[d] = 1;
    const col = tr.jvp(e);
    for (let r = 0; r < rows * M; r++) J[r * D + d] = col[r]!;
    e[d] = 0;
  }
  tr.free?.();
  return { J, f };
}

/**
 * G ⊗ A as the dense size × size block of one layer in θ-local order (W row-major, then b):
 * joint: C[(o,i),(o',i')] = G_oo' A_ii' with the bias as input coordinate nin; separate: the weight
 * block with A (nin × nin) and the bias block G; none: no bias.
 */
export function kronBlock(A: ArrayLike<number>, G: ArrayLike<number>, p: number, q: number, mode: 'joint' | 'separate' | 'none'): Float64Array {
  const nin = mode === 'joint' ? p - 1 : p;
  const size = q * nin + (mode === 'none' ? 0 : q);
  const pos = (o: number, i: number): number => (i < nin ? o * nin + i : q * nin + o);
  const C = new Float64Array(size * size);
  const pw = mode === 'joint' ? p : nin;
  for (let o = 0; o < q; o++) for (let i = 0; i < pw; i++) for (let o2 = 0; o2 < q; o2++) for (let i2 = 0; i2 < pw; i2++) C[pos(o, i) * size + pos(o2, i2)] = G[o * q + o2]! * A[i * p + i2]!;
  if (mode === 'separate') for (let o = 0; o < q; o++) for (let o2 = 0; o2 < q; o2++) C[(q * nin + o) * size + q * nin + o2] = G[o * q + o2]!;
  return C;
}
