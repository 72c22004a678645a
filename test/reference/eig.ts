/**
 * Plain-TypeScript reference for the symmetric eigen-decomposition: the cyclic Jacobi method
 * (Rutishauser's rotation formulas, full-matrix storage, row-by-row cyclic order). It shares
 * nothing with the kernel (no Householder reduction, no QL iteration), converges
 * quadratically, and is accurate to a small multiple of eps·‖A‖ for every eigenvalue.
 */

export interface EigenRef {
  /** Eigenvalues ascending. */
  values: Float64Array;
  /** Row-major n × n; column k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
  /** Sweeps used. */
  sweeps: number;
}

/**
 * Cyclic Jacobi on the symmetric n × n row-major A (both triangles read, assumed symmetric).
 * A pair (p, q) is rotated while |a_pq| > 2^-70·max|A| (well below eps·‖A‖); stops after a
 * sweep without rotations. Throws after 100 sweeps.
 */
export function jacobiEigen(A: ArrayLike<number>, n: number): EigenRef {
  const a = Float64Array.from(A);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let amax = 0;
  for (let i = 0; i < n * n; i++) amax = Math.max(amax, Math.abs(a[i]!));
  const tiny = amax * 2 ** -70;
  let sweeps = 0;
  for (; sweeps < 100; sweeps++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (!(Math.abs(apq) > tiny)) continue;
        rotated = true;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const at = Math.abs(theta);
        const t = at > 1e150 ? 1 / (2 * theta) : (theta >= 0 ? 1 : -1) / (at + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J with J = I except J_pp = J_qq = c, J_pq = s, J_qp = −s.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!,
            akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!,
            aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!,
            vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
    if (!rotated) break;
  }
  if (sweeps >= 100) throw new Error('jacobiEigen: no convergence in 100 sweeps');
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i]! - a[j * n + j]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) vectors[i * n + k] = V[i * n + order[k]!]!;
  return { values, vectors, sweeps };
}

/** ‖x‖₂ without overflow or underflow (scaled by max|x_i|). */
export function norm2(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  if (m === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! / m) ** 2;
  return m * Math.sqrt(s);
}

/** Q, an n × n orthogonal matrix (modified Gram–Schmidt, twice, on a matrix of normals from `g`). */
export function randomOrthogonal(n: number, g: () => number): Float64Array {
  const Q = Float64Array.from({ length: n * n }, g);
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += Q[i * n + k]! * Q[i * n + j]!;
        for (let i = 0; i < n; i++) Q[i * n + j]! -= d * Q[i * n + k]!;
      }
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[i * n + j]! ** 2;
    s = Math.sqrt(s);
    for (let i = 0; i < n; i++) Q[i * n + j]! /= s;
  }
  return Q;
}

/** Q diag(lambda) Qᵀ, symmetrized exactly. */
export function withSpectrum(Q: ArrayLike<number>, lambda: ArrayLike<number>): Float64Array {
  const n = lambda.length;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += Q[i * n + k]! * lambda[k]! * Q[j * n + k]!;
      A[i * n + j] = s;
      A[j * n + i] = s;
    }
  }
  return A;
}
