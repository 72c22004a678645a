/**
 * Plain-TypeScript reference implementations of the linear-algebra kernels
 * (textbook loops, no blocking, no SIMD). Tests compare the WASM kernels against these.
 */

/** Σ_n w_n x_n x_nᵀ, full d × d, for row-major X (n × d, leading dimension ldx). */
export function gramRef(X: ArrayLike<number>, n: number, d: number, w?: ArrayLike<number>, ldx = d): Float64Array {
  const C = new Float64Array(d * d);
  for (let k = 0; k < n; k++) {
    const wk = w ? w[k]! : 1;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) C[i * d + j]! += wk * X[k * ldx + i]! * X[k * ldx + j]!;
  }
  return C;
}

/** Σ_n |w_n| |x_ni| |x_nj| — the magnitude bound of each Gram entry, for tolerances. */
export function gramAbsRef(X: ArrayLike<number>, n: number, d: number, w?: ArrayLike<number>): Float64Array {
  const C = new Float64Array(d * d);
  for (let k = 0; k < n; k++) {
    const wk = Math.abs(w ? w[k]! : 1);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) C[i * d + j]! += wk * Math.abs(X[k * d + i]! * X[k * d + j]!);
  }
  return C;
}

/** Cholesky–Banachiewicz: L (full n × n, zeros above) with L Lᵀ = A + λI; throws on a non-positive pivot. */
export function choleskyRef(A: ArrayLike<number>, n: number, lambda = 0): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]! + (i === j ? lambda : 0);
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`pivot ${i + 1}`);
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j]!;
      }
    }
  }
  return L;
}

/** Solve (A + λI) x = b by Gaussian elimination with partial pivoting (independent of Cholesky). */
export function solveRef(A: ArrayLike<number>, n: number, b: ArrayLike<number>, lambda = 0): Float64Array {
  const M = Float64Array.from(A);
  for (let i = 0; i < n; i++) M[i * n + i]! += lambda;
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]!) > Math.abs(M[p * n + c]!)) p = r;
    if (p !== c) {
      for (let j = 0; j < n; j++) {
        const t = M[c * n + j]!;
        M[c * n + j] = M[p * n + j]!;
        M[p * n + j] = t;
      }
      const t = x[c]!;
      x[c] = x[p]!;
      x[p] = t;
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c]! / M[c * n + c]!;
      for (let j = c; j < n; j++) M[r * n + j]! -= f * M[c * n + j]!;
      x[r]! -= f * x[c]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let j = i + 1; j < n; j++) s -= M[i * n + j]! * x[j]!;
    x[i] = s / M[i * n + i]!;
  }
  return x;
}

/** y = A x for row-major A (m × n). */
export function matvecRef(A: ArrayLike<number>, m: number, n: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += A[i * n + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** y = Aᵀ x for row-major A (m × n). */
export function matvecTRef(A: ArrayLike<number>, m: number, n: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[j]! += A[i * n + j]! * x[i]!;
  return y;
}

/** C = A B for row-major A (m × k), B (k × n). */
export function matmulRef(A: ArrayLike<number>, B: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p]!;
      for (let j = 0; j < n; j++) C[i * n + j]! += a * B[p * n + j]!;
    }
  return C;
}

/** Dense row-major copy of a CSR matrix. */
export function csrToDenseRef(rows: number, cols: number, indptr: ArrayLike<number>, indices: ArrayLike<number>, values: ArrayLike<number>): Float64Array {
  const D = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let p = indptr[i]!; p < indptr[i + 1]!; p++) D[i * cols + indices[p]!] = values[p]!;
  return D;
}
