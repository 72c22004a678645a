/**
 * Plain-TypeScript references for the grid-search kernels (assembly/grid/grid.ts) and for the
 * grid-search protocol itself (textbook loops, one run at a time, LU solves like numpy).
 */
import { solveRef } from './linalg.js';

/** C[e][l] = Σ_n A[n][e] B[n][l] (A m × ne with lda, B m × k with ldb); C as ne × k. */
export function gemmTnRef(m: number, ne: number, k: number, A: ArrayLike<number>, lda: number, B: ArrayLike<number>, ldb: number): Float64Array {
  const C = new Float64Array(ne * k);
  for (let n = 0; n < m; n++) for (let e = 0; e < ne; e++) for (let l = 0; l < k; l++) C[e * k + l]! += A[n * lda + e]! * B[n * ldb + l]!;
  return C;
}

/** C[i][l] = Σ_p values[p] B[indices[p]][l] (CSR rows × ·, B lane-major with ldb); C as rows × k. */
export function spmmRef(rows: number, k: number, indptr: ArrayLike<number>, indices: ArrayLike<number>, values: ArrayLike<number>, B: ArrayLike<number>, ldb: number): Float64Array {
  const C = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) for (let p = indptr[i]!; p < indptr[i + 1]!; p++) for (let l = 0; l < k; l++) C[i * k + l]! += values[p]! * B[indices[p]! * ldb + l]!;
  return C;
}

/** Packed lower triangles of x_n x_nᵀ: Z[n][i(i+1)/2 + j] = x_ni x_nj. */
export function zRowsRef(X: ArrayLike<number>, n: number, d: number): Float64Array {
  const P = (d * (d + 1)) / 2;
  const Z = new Float64Array(n * P);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) Z[r * P + (i * (i + 1)) / 2 + j] = X[r * d + i]! * X[r * d + j]!;
  return Z;
}

/** Full symmetric d × d from a packed lower triangle. */
export function unpackRef(d: number, packed: ArrayLike<number>): Float64Array {
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      const v = packed[(i * (i + 1)) / 2 + j]!;
      A[i * d + j] = v;
      A[j * d + i] = v;
    }
  return A;
}

/** Cholesky of A/div + λI (packed lower in, packed lower out), or the 1-based failing pivot. */
export function potrfPackedRef(d: number, A: ArrayLike<number>, div: number, lambda: number): { L: Float64Array; info: number } {
  const L = new Float64Array((d * (d + 1)) / 2);
  const at = (i: number, j: number) => (i * (i + 1)) / 2 + j;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[at(i, j)]! / div + (i === j ? lambda : 0);
      for (let k = 0; k < j; k++) s -= L[at(i, k)]! * L[at(j, k)]!;
      if (i === j) {
        if (!(s > 0) || s === Infinity) return { L, info: i + 1 };
        L[at(i, i)] = Math.sqrt(s);
      } else {
        L[at(i, j)] = s / L[at(j, j)]!;
      }
    }
  }
  return { L, info: 0 };
}

/** Problem of the protocol reference (dense X, bias included). */
export interface RefProblem {
  X: Float64Array;
  N: number;
  D: number;
  y: Float64Array;
  likelihood: 'gaussian' | 'bernoulli';
  variance?: number;
  clip?: number;
  priorVariance?: number;
  reduction?: 'mean' | 'sum';
}

/**
 * One run of the grid-search protocol, as ref_numpy_grid.py computes it (generalized to a
 * prior, the sum reduction, σ² ≠ 1 and θ0): mean/sum loss, gradient as the sum of per-sample
 * gradients, Fisher / empirical Fisher + prior + λ, LU solve, stop once loss > factor × loss0.
 * Returns the losses and whether the solve met a zero pivot.
 */
export function gridRunRef(p: RefProblem, opt: 'GD' | 'NGD' | 'EFGD', lr: number, damping: number, iterations = 100, factor = 100, theta0?: ArrayLike<number>): number[] {
  const { X, N, D, y } = p;
  const s = (p.reduction ?? 'mean') === 'mean' ? 1 / N : 1;
  const div = (p.reduction ?? 'mean') === 'mean' ? N : 1;
  const prior = p.priorVariance === undefined || p.priorVariance === Infinity ? 0 : 1 / p.priorVariance;
  const v = p.variance ?? 1,
    c = p.clip ?? 1e-8;
  const theta = Float64Array.from(theta0 ?? new Float64Array(D));
  const f = new Float64Array(N);
  const sig = (z: number) => Math.min(Math.max(1 / (1 + Math.exp(-z)), c), 1 - c);
  const forward = () => {
    for (let n = 0; n < N; n++) {
      let a = 0;
      for (let j = 0; j < D; j++) a += X[n * D + j]! * theta[j]!;
      f[n] = a;
    }
  };
  const loss = () => {
    forward();
    let a = 0;
    for (let n = 0; n < N; n++) {
      if (p.likelihood === 'gaussian') a += (f[n]! - y[n]!) ** 2 / 2 / v;
      else if (c > 0) a += -Math.log(sig(f[n]!)) * y[n]! - Math.log(sig(-f[n]!)) * (1 - y[n]!);
      else {
        const z = f[n]!;
        a += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[n]! * z;
      }
    }
    let t2 = 0;
    for (const t of theta) t2 += t * t;
    return (a + 0.5 * prior * t2) / div;
  };
  const out = [loss()];
  for (let it = 0; it < iterations; it++) {
    forward();
    const r = new Float64Array(N),
      lam = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      if (p.likelihood === 'gaussian') {
        r[n] = (f[n]! - y[n]!) / v;
        lam[n] = 1 / v;
      } else if (c > 0) {
        const q = sig(f[n]!);
        r[n] = q - y[n]!;
        lam[n] = q * (1 - q);
      } else {
        const q = 1 / (1 + Math.exp(-f[n]!));
        r[n] = q - y[n]!;
        lam[n] = q * (1 - q);
      }
    }
    const g = new Float64Array(D);
    for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) g[j]! += X[n * D + j]! * r[n]!;
    for (let j = 0; j < D; j++) g[j] = (g[j]! + prior * theta[j]!) * s;
    let step: ArrayLike<number> = g;
    if (opt !== 'GD') {
      const A = new Float64Array(D * D);
      for (let n = 0; n < N; n++) {
        const w = opt === 'NGD' ? lam[n]! : r[n]! * r[n]!;
        for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) A[i * D + j]! += w * X[n * D + i]! * X[n * D + j]!;
      }
      for (let i = 0; i < D * D; i++) A[i] = A[i]! * s;
      for (let i = 0; i < D; i++) A[i * D + i]! += prior * s + damping;
      step = solveRef(A, D, g);
    }
    for (let j = 0; j < D; j++) theta[j] = theta[j]! - lr * step[j]!;
    out.push(loss());
    if (out[out.length - 1]! > out[0]! * factor) break;
  }
  return out;
}
