/**
 * Helpers of the dense (fully connected) layers that GEMM does not do: bias broadcasts and
 * column sums, elementwise products with per-sample broadcasting, per-sample outer products,
 * the Kronecker scatter of a layer-pair Gram block, and the column loops of the batched
 * residual Hessian product (which call `dgemm`).
 *
 * Conventions:
 * - Pointers are byte addresses; sizes, leading dimensions and strides are in elements.
 *   Every matrix is row-major; 8-byte alignment suffices.
 * - Loops are two SIMD lanes wide with a scalar tail for odd lengths; `fmadd` may fuse in the
 *   relaxed binary (see util/simd.ts).
 * - "Sample-major stacks": an (n·k) × c matrix whose row i·k + kk belongs to sample i.
 *   "Column blocks": kc blocks of n rows each (block j = column j of a batch of directions).
 * - The `…32` twins (denseBroadcastRows32, denseMul32, denseFmaPeriodic32,
 *   denseMulRep32, denseSquare32, denseAugment32, denseOuterRows32) take float32 planes (4 bytes
 *   per element, 4-byte alignment) and run four f32 lanes at a time (scalar tails for lengths not
 *   a multiple of 4); both twins instantiate one generic body (`…T<T>`), whose f64 instance is
 *   the f64 code op for op.
 * - Outputs may alias an input only where a function says so.
 * - The column-loop functions (`mlpTangent*`) call `dgemm` (linalg/gemm.ts) once or twice per
 *   column: no allocation, no validation.
 */
import { fmadd, ld, st, ld2, st2, lanes, ldT, stT, vldT, vstT, vmulT, vaddT, vfmaT, vsplatT } from '../util/simd';
import { dgemm } from '../linalg/gemm';

/** c[r][j] = b[j] for r < n, j < o (C is n × o, contiguous). */
export function denseBroadcastRows(n: i32, o: i32, b: usize, c: usize): void {
  denseBroadcastRowsT<f64>(n, o, b, c);
}

/** `denseBroadcastRows` on float32 (4 bytes per element). */
export function denseBroadcastRows32(n: i32, o: i32, b: usize, c: usize): void {
  denseBroadcastRowsT<f32>(n, o, b, c);
}

// @ts-ignore: decorator
@inline function denseBroadcastRowsT<T>(n: i32, o: i32, b: usize, c: usize): void {
  const sh = alignof<T>();
  for (let r = 0; r < n; r++) memory.copy(c + (<usize>r * <usize>o << sh), b, <usize>o << sh);
}

/** out[j] = alpha · Σ_{r<n} x[r·ldx + j] for j < o (overwrites out). */
export function denseColSums(n: i32, o: i32, x: usize, ldx: i32, alpha: f64, out: usize): void {
  denseColSumsT<f64>(n, o, x, ldx, alpha, out);
}

// @ts-ignore: decorator
@inline function denseColSumsT<T>(n: i32, o: i32, x: usize, ldx: i32, alpha: f64, out: usize): void {
  const w = lanes<T>();
  let j = 0;
  for (; j + w <= o; j += w) {
    let s = vsplatT<T>(0);
    for (let r = 0; r < n; r++) s = vaddT<T>(s, vldT<T>(x, <isize>r * ldx + j));
    vstT<T>(out, j, vmulT<T>(s, vsplatT<T>(alpha)));
  }
  for (; j < o; j++) {
    let s = <T>0;
    for (let r = 0; r < n; r++) s += ldT<T>(x, <isize>r * ldx + j);
    stT<T>(out, j, <T>alpha * s);
  }
}

/** out[b·len + t] = d[t] · x[b·len + t] for b < blocks, t < len (d repeats per block; out may equal x). */
export function denseMul(blocks: i32, len: i32, d: usize, x: usize, out: usize): void {
  denseMulT<f64>(blocks, len, d, x, out);
}

/** `denseMul` on float32 (4 bytes per element; four lanes at a time, scalar tail). */
export function denseMul32(blocks: i32, len: i32, d: usize, x: usize, out: usize): void {
  denseMulT<f32>(blocks, len, d, x, out);
}

// @ts-ignore: decorator
@inline function denseMulT<T>(blocks: i32, len: i32, d: usize, x: usize, out: usize): void {
  const w = lanes<T>(), sh = alignof<T>();
  for (let b = 0; b < blocks; b++) {
    const xb = x + (<usize>b * <usize>len << sh), ob = out + (<usize>b * <usize>len << sh);
    let t = 0;
    for (; t + w <= len; t += w) vstT<T>(ob, t, vmulT<T>(vldT<T>(d, t), vldT<T>(xb, t)));
    for (; t < len; t++) stT<T>(ob, t, ldT<T>(d, t) * ldT<T>(xb, t));
  }
}

/**
 * out[(i·k + kk)·c + t] = d[i·c + t] · x[(i·k + kk)·c + t] for a sample-major stack
 * (n samples, k rows each, c columns; d is n × c). out may equal x.
 */
export function denseMulRep(n: i32, k: i32, c: i32, d: usize, x: usize, out: usize): void {
  denseMulRepT<f64>(n, k, c, d, x, out);
}

/** `denseMulRep` on float32 (4 bytes per element; four lanes at a time, scalar tail). */
export function denseMulRep32(n: i32, k: i32, c: i32, d: usize, x: usize, out: usize): void {
  denseMulRepT<f32>(n, k, c, d, x, out);
}

// @ts-ignore: decorator
@inline function denseMulRepT<T>(n: i32, k: i32, c: i32, d: usize, x: usize, out: usize): void {
  const w = lanes<T>(), sh = alignof<T>();
  for (let i = 0; i < n; i++) {
    const di = d + (<usize>i * <usize>c << sh);
    for (let kk = 0; kk < k; kk++) {
      const off = (<usize>(i * k + kk) * <usize>c) << sh;
      const xr = x + off, orow = out + off;
      let t = 0;
      for (; t + w <= c; t += w) vstT<T>(orow, t, vmulT<T>(vldT<T>(di, t), vldT<T>(xr, t)));
      for (; t < c; t++) stT<T>(orow, t, ldT<T>(di, t) * ldT<T>(xr, t));
    }
  }
}

/**
 * out[b·len + t] = d[t]·x[b·len + t] + q[t]·y[b·len + t] (d, q repeat per block; out may equal x or y).
 */
export function denseFmaPeriodic(blocks: i32, len: i32, d: usize, x: usize, q: usize, y: usize, out: usize): void {
  denseFmaPeriodicT<f64>(blocks, len, d, x, q, y, out);
}

/** `denseFmaPeriodic` on float32 (4 bytes per element; `fmadd4` may fuse in the relaxed binary). */
export function denseFmaPeriodic32(blocks: i32, len: i32, d: usize, x: usize, q: usize, y: usize, out: usize): void {
  denseFmaPeriodicT<f32>(blocks, len, d, x, q, y, out);
}

// @ts-ignore: decorator
@inline function denseFmaPeriodicT<T>(blocks: i32, len: i32, d: usize, x: usize, q: usize, y: usize, out: usize): void {
  const w = lanes<T>();
  for (let b = 0; b < blocks; b++) {
    const off = (<usize>b * <usize>len) << alignof<T>();
    const xb = x + off, yb = y + off, ob = out + off;
    let t = 0;
    for (; t + w <= len; t += w) vstT<T>(ob, t, vfmaT<T>(vldT<T>(q, t), vldT<T>(yb, t), vmulT<T>(vldT<T>(d, t), vldT<T>(xb, t))));
    for (; t < len; t++) stT<T>(ob, t, ldT<T>(d, t) * ldT<T>(xb, t) + ldT<T>(q, t) * ldT<T>(yb, t));
  }
}

/** out[t] = x[t]² for t < n (out may equal x). */
export function denseSquare(n: i32, x: usize, out: usize): void {
  denseSquareT<f64>(n, x, out);
}

/** `denseSquare` on float32 (4 bytes per element; four lanes at a time, scalar tail). */
export function denseSquare32(n: i32, x: usize, out: usize): void {
  denseSquareT<f32>(n, x, out);
}

// @ts-ignore: decorator
@inline function denseSquareT<T>(n: i32, x: usize, out: usize): void {
  const w = lanes<T>();
  let t = 0;
  for (; t + w <= n; t += w) {
    const v = vldT<T>(x, t);
    vstT<T>(out, t, vmulT<T>(v, v));
  }
  for (; t < n; t++) {
    const v = ldT<T>(x, t);
    stT<T>(out, t, v * v);
  }
}

/** out[r] = [a[r·lda … r·lda + m − 1], 1] for r < n (out is n × (m + 1), contiguous). */
export function denseAugment(n: i32, m: i32, a: usize, lda: i32, out: usize): void {
  denseAugmentT<f64>(n, m, a, lda, out);
}

/** `denseAugment` on float32 (4 bytes per element). */
export function denseAugment32(n: i32, m: i32, a: usize, lda: i32, out: usize): void {
  denseAugmentT<f32>(n, m, a, lda, out);
}

// @ts-ignore: decorator
@inline function denseAugmentT<T>(n: i32, m: i32, a: usize, lda: i32, out: usize): void {
  const sh = alignof<T>();
  const m1 = m + 1;
  for (let r = 0; r < n; r++) {
    const orow = out + (<usize>r * <usize>m1 << sh);
    memory.copy(orow, a + (<usize>r * <usize>lda << sh), <usize>m << sh);
    stT<T>(orow, m, <T>1);
  }
}

/**
 * Per-row outer products of a sample-major stack of layer deltas δ ((n·k) × o) with the
 * sample's layer input a (n × m, leading dimension lda), written as rows of a pullback matrix:
 *   out[r·ldout + p·m + j] = δ[r·o + p] · a[i·lda + j]   (r = i·k + kk; W part, out × in row-major)
 *   out[r·ldout + o·m + p] = δ[r·o + p]                   (bias part)
 * `out` points at the layer's first column in row 0. Overwrites those entries.
 */
export function denseOuterRows(n: i32, k: i32, o: i32, m: i32, delta: usize, a: usize, lda: i32, out: usize, ldout: i32): void {
  denseOuterRowsT<f64>(n, k, o, m, delta, a, lda, out, ldout);
}

/** `denseOuterRows` on float32 (4 bytes per element; one f32 product per entry, four lanes at a time). */
export function denseOuterRows32(n: i32, k: i32, o: i32, m: i32, delta: usize, a: usize, lda: i32, out: usize, ldout: i32): void {
  denseOuterRowsT<f32>(n, k, o, m, delta, a, lda, out, ldout);
}

// @ts-ignore: decorator
@inline function denseOuterRowsT<T>(n: i32, k: i32, o: i32, m: i32, delta: usize, a: usize, lda: i32, out: usize, ldout: i32): void {
  const w = lanes<T>(), sh = alignof<T>();
  for (let i = 0; i < n; i++) {
    const ai = a + (<usize>i * <usize>lda << sh);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const dr = delta + (<usize>r * <usize>o << sh);
      const orow = out + (<usize>r * <usize>ldout << sh);
      for (let p = 0; p < o; p++) {
        const dp = ldT<T>(dr, p);
        const vp = vsplatT<T>(dp);
        const op = orow + (<usize>p * <usize>m << sh);
        let j = 0;
        for (; j + w <= m; j += w) vstT<T>(op, j, vmulT<T>(vp, vldT<T>(ai, j)));
        for (; j < m; j++) stT<T>(op, j, dp * ldT<T>(ai, j));
      }
      memory.copy(orow + (<usize>o * <usize>m << sh), dr, <usize>o << sh);
    }
  }
}

/**
 * out[i·p·q + s·q + t] = Σ_{kk<k} x[(i·k + kk)·p + s] · y[(i·k + kk)·q + t]: per sample i < n,
 * the sum over its k stack rows of the outer products (out is n × (p·q)). Overwrites out.
 */
export function densePairOuter(n: i32, k: i32, p: i32, q: i32, x: usize, y: usize, out: usize): void {
  const pq = p * q;
  for (let i = 0; i < n; i++) {
    const oi = out + (<usize>i * <usize>pq << 3);
    for (let kk = 0; kk < k; kk++) {
      const r = i * k + kk;
      const xr = x + (<usize>r * <usize>p << 3), yr = y + (<usize>r * <usize>q << 3);
      for (let s = 0; s < p; s++) {
        const xs = ld(xr, s);
        const vx = f64x2.splat(xs);
        const os = oi + (<usize>s * <usize>q << 3);
        let t = 0;
        if (kk == 0) {
          for (; t + 2 <= q; t += 2) st2(os, t, f64x2.mul(vx, ld2(yr, t)));
          if (t < q) st(os, t, xs * ld(yr, t));
        } else {
          for (; t + 2 <= q; t += 2) st2(os, t, fmadd(vx, ld2(yr, t), ld2(os, t)));
          if (t < q) st(os, t, xs * ld(yr, t) + ld(os, t));
        }
      }
    }
  }
}

/**
 * The packed lower triangle of the per-sample sums of outer products of a stack with itself:
 *   out[i·P + s(s+1)/2 + t] = Σ_{kk<k} x[(i·k + kk)·p + s] · x[(i·k + kk)·p + t],  t ≤ s < p,
 * P = p(p+1)/2 (out is n × P). Overwrites out.
 */
export function densePairOuterLower(n: i32, k: i32, p: i32, x: usize, out: usize): void {
  const pp = (p * (p + 1)) >> 1;
  for (let i = 0; i < n; i++) {
    const oi = out + (<usize>i * <usize>pp << 3);
    for (let kk = 0; kk < k; kk++) {
      const xr = x + (<usize>(i * k + kk) * <usize>p << 3);
      for (let s = 0; s < p; s++) {
        const xs = ld(xr, s);
        const vx = f64x2.splat(xs);
        const os = oi + (<usize>((s * (s + 1)) >> 1) << 3);
        const q = s + 1;
        let t = 0;
        if (kk == 0) {
          for (; t + 2 <= q; t += 2) st2(os, t, f64x2.mul(vx, ld2(xr, t)));
          if (t < q) st(os, t, xs * ld(xr, t));
        } else {
          for (; t + 2 <= q; t += 2) st2(os, t, fmadd(vx, ld2(xr, t), ld2(os, t)));
          if (t < q) st(os, t, xs * ld(xr, t) + ld(os, t));
        }
      }
    }
  }
}

/** out[i·o + t] = Σ_{kk<k} x[(i·k + kk)·o + t]² (per-sample sums of squares of a stack; n × o). */
export function denseRowSqSums(n: i32, k: i32, o: i32, x: usize, out: usize): void {
  for (let i = 0; i < n; i++) {
    const oi = out + (<usize>i * <usize>o << 3);
    for (let kk = 0; kk < k; kk++) {
      const xr = x + (<usize>(i * k + kk) * <usize>o << 3);
      let t = 0;
      if (kk == 0) {
        for (; t + 2 <= o; t += 2) { const v = ld2(xr, t); st2(oi, t, f64x2.mul(v, v)); }
        if (t < o) { const v = ld(xr, t); st(oi, t, v * v); }
      } else {
        for (; t + 2 <= o; t += 2) { const v = ld2(xr, t); st2(oi, t, fmadd(v, v, ld2(oi, t))); }
        if (t < o) { const v = ld(xr, t); st(oi, t, v * v + ld(oi, t)); }
      }
    }
  }
}

/**
 * Scatter a Kronecker-ordered layer-pair block into θ order. T is (o1·o2) × (m1'·m2') with
 * m1' = m1 + 1, m2' = m2 + 1 (augmented inputs, bias coordinate last):
 *   T[(p·o2 + q)·(m1'·m2') + i·m2' + j] → C[row(p, i)·ldc + col(q, j)],
 *   row(p, i) = i < m1 ? p·m1 + i : o1·m1 + p,  col(q, j) likewise with (o2, m2).
 * `c` points at the block's first entry. Overwrites the block.
 */
export function denseScatterKron(o1: i32, m1: i32, o2: i32, m2: i32, t: usize, c: usize, ldc: i32): void {
  const a1 = m1 + 1, a2 = m2 + 1;
  const tcols = a1 * a2;
  for (let p = 0; p < o1; p++) {
    for (let q = 0; q < o2; q++) {
      const trow = t + (<usize>(p * o2 + q) * <usize>tcols << 3);
      for (let i = 0; i < a1; i++) {
        const row = i < m1 ? p * m1 + i : o1 * m1 + p;
        const crow = c + (<usize>row * <usize>ldc << 3);
        const src = trow + (<usize>i * <usize>a2 << 3);
        memory.copy(crow + (<usize>q * <usize>m2 << 3), src, <usize>m2 << 3);
        st(crow, o2 * m2 + q, ld(src, m2));
      }
    }
  }
}

/**
 * The lower triangle (θ order) of a layer's diagonal Gram block from its packed Kronecker form:
 * T has o(o+1)/2 rows (p, q), q ≤ p, at p(p+1)/2 + q, and (m+1)² columns (i, j) at i·(m+1) + j,
 * augmented inputs with the bias coordinate last. Entry (p, i; q, j) goes to C at (row, col) =
 * (idx(p, i), idx(q, j)) when that is on or below the diagonal, else transposed
 * (idx(p, i) = i < m ? p·m + i : o·m + p); entries with p = q above the diagonal are skipped
 * (their transposes are in T too). Only the lower triangle of the block is written.
 */
export function denseScatterKronSym(o: i32, m: i32, t: usize, c: usize, ldc: i32): void {
  const a1 = m + 1;
  const tcols = a1 * a1;
  const bias = o * m;
  for (let p = 0; p < o; p++) {
    for (let q = 0; q <= p; q++) {
      const trow = t + (<usize>(((p * (p + 1)) >> 1) + q) * <usize>tcols << 3);
      for (let i = 0; i < m; i++) {
        const src = trow + (<usize>i * <usize>a1 << 3);
        const crow = c + (<usize>(p * m + i) * <usize>ldc << 3);
        // W × W: below the diagonal for p > q; for p = q only j ≤ i.
        memory.copy(crow + (<usize>q * <usize>m << 3), src, <usize>(p > q ? m : i + 1) << 3);
        // W(p, i) × b(q): above the diagonal, so its transpose (b(q), W(p, i)).
        st(c, <isize>(bias + q) * ldc + p * m + i, ld(src, m));
      }
      const src = trow + (<usize>m * <usize>a1 << 3);
      const crow = c + (<usize>(bias + p) * <usize>ldc << 3);
      memory.copy(crow + (<usize>q * <usize>m << 3), src, <usize>m << 3); // b(p) × W(q, ·)
      st(crow, bias + q, ld(src, m)); // b(p) × b(q), q ≤ p
    }
  }
}

/** b[j·ldb + i] = a[i·lda + j] for i < m, j < n (B = Aᵀ; must not alias). */
export function denseTranspose(m: i32, n: i32, a: usize, lda: i32, b: usize, ldb: i32): void {
  for (let i = 0; i < m; i++) {
    const ar = a + (<usize>i * <usize>lda << 3);
    for (let j = 0; j < n; j++) st(b, <isize>j * ldb + i, ld(ar, j));
  }
}

/**
 * Tangent input of a dense layer for kc directions (column blocks of n rows):
 *   Z_j ← beta·Z_j + A dW_jᵀ + 1 db_jᵀ,  j < kc,
 * A the layer input (n × nin, leading dimension lda), dW_j (nout × nin) then db_j (nout) at
 * vt + j·ldv (the layer's slice of direction j), Z_j = z + j·n·nout (n × nout, contiguous).
 */
export function mlpTangentIn(kc: i32, n: i32, nin: i32, nout: i32, a: usize, lda: i32, vt: usize, ldv: i32, z: usize, beta: f64): void {
  for (let j = 0; j < kc; j++) {
    const w = vt + (<usize>j * <usize>ldv << 3);
    const b = w + (<usize>nout * <usize>nin << 3);
    const zj = z + (<usize>j * <usize>n * <usize>nout << 3);
    dgemm(0, 1, n, nout, nin, 1.0, a, lda, w, nin, beta, zj, nout);
    for (let r = 0; r < n; r++) {
      const zr = zj + (<usize>r * <usize>nout << 3);
      let t = 0;
      for (; t + 2 <= nout; t += 2) st2(zr, t, f64x2.add(ld2(zr, t), ld2(b, t)));
      if (t < nout) st(zr, t, ld(zr, t) + ld(b, t));
    }
  }
}

/**
 * Tangent of the backpropagated input gradient for kc directions:
 *   G_j ← beta·G_j + g dW_j,  j < kc,
 * g (n × nout, shared), dW_j (nout × nin) at vt + j·ldv, G_j = ga + j·n·nin (n × nin).
 */
export function mlpTangentBack(kc: i32, n: i32, nin: i32, nout: i32, g: usize, vt: usize, ldv: i32, ga: usize, beta: f64): void {
  for (let j = 0; j < kc; j++) {
    const w = vt + (<usize>j * <usize>ldv << 3);
    dgemm(0, 0, n, nin, nout, 1.0, g, nout, w, nin, beta, ga + (<usize>j * <usize>n * <usize>nin << 3), nin);
  }
}

/**
 * Second-order parameter gradients of a dense layer for kc directions:
 *   H_j[W] = dG_jᵀ A + gᵀ dA_j  (nout × nin),  H_j[b] = Σ_rows dG_j  (nout),
 * with dG_j = dg + j·n·nout (n × nout; dg = 0: zero), A (n × nin, leading dimension lda),
 * g (n × nout), dA_j = da + j·n·nin (n × nin; da = 0: zero). H_j at hv + j·ldh. Overwrites.
 */
export function mlpTangentGrad(kc: i32, n: i32, nin: i32, nout: i32, dg: usize, a: usize, lda: i32, g: usize, da: usize, hv: usize, ldh: i32): void {
  for (let j = 0; j < kc; j++) {
    const hw = hv + (<usize>j * <usize>ldh << 3);
    const hb = hw + (<usize>nout * <usize>nin << 3);
    let beta = 0.0;
    if (dg != 0) {
      const dgj = dg + (<usize>j * <usize>n * <usize>nout << 3);
      dgemm(1, 0, nout, nin, n, 1.0, dgj, nout, a, lda, 0.0, hw, nin);
      denseColSums(n, nout, dgj, nout, 1.0, hb);
      beta = 1.0;
    } else {
      memory.fill(hb, 0, <usize>nout << 3);
    }
    if (da != 0) {
      dgemm(1, 0, nout, nin, n, 1.0, g, nout, da + (<usize>j * <usize>n * <usize>nin << 3), nin, beta, hw, nin);
    } else if (dg == 0) {
      memory.fill(hw, 0, <usize>nout * <usize>nin << 3);
    }
  }
}

/**
 * Tangent forward of kc consecutive unit directions of one dense layer (the residual Hessian's
 * columns): direction j is e_p, p = p0 + j, in the layer's slice (W row-major, then b), so
 * dW = e_o e_iᵀ (p = o·nin + i) or db = e_o (p = nout·nin + o). Writes, for j < kc,
 *   Z_j = A dW_jᵀ + 1 db_jᵀ   (column o only: A[·][i], or 1),
 *   T_j = d ⊙ Z_j             (d the layer's σ', n × nout),
 * and when w2 ≠ 0 the next layer's tangent input Z2_j = T_j W2ᵀ = T_j[·][o] W2[·][o]ᵀ (W2 is
 * nout2 × nout): the same numbers as `mlpTangentIn`, `denseMul` and a `dgemm`, without the zeros.
 * Z_j = z + j·n·nout, T_j = t + j·n·nout, Z2_j = z2 + j·n·nout2 (contiguous).
 */
export function mlpUnitTangent(kc: i32, n: i32, nin: i32, nout: i32, a: usize, lda: i32, p0: i32, d: usize, z: usize, t: usize, w2: usize, nout2: i32, z2: usize): void {
  const wsize = nout * nin;
  for (let j = 0; j < kc; j++) {
    const p = p0 + j;
    const bias = p >= wsize;
    const o = bias ? p - wsize : p / nin;
    const i = bias ? 0 : p - o * nin;
    const blk = <usize>j * <usize>n * <usize>nout << 3;
    const zj = z + blk, tj = t + blk;
    memory.fill(zj, 0, <usize>n * <usize>nout << 3);
    memory.fill(tj, 0, <usize>n * <usize>nout << 3);
    for (let r = 0; r < n; r++) {
      const x = bias ? 1.0 : ld(a, <isize>r * lda + i);
      const at = <isize>r * nout + o;
      st(zj, at, x);
      st(tj, at, ld(d, at) * x);
    }
    if (w2 != 0) {
      const z2j = z2 + (<usize>j * <usize>n * <usize>nout2 << 3);
      for (let r = 0; r < n; r++) {
        const s = ld(tj, <isize>r * nout + o);
        const zr = z2j + (<usize>r * <usize>nout2 << 3);
        for (let q = 0; q < nout2; q++) st(zr, q, s * ld(w2, <isize>q * nout + o));
      }
    }
  }
}

/**
 * `mlpTangentGrad` for kc consecutive unit directions e_p (p = p0 + j) of a layer "lo" with
 * noutLo × ninLo weights, o_j its output unit (p = o·ninLo + i, or p = noutLo·ninLo + o for the
 * bias). Either this layer is lo + 1 (nin = noutLo), whose tangent input dA_j has column o_j only,
 * or it is lo itself (da = 0, sparse ≠ 0, dG_j = q ⊙ dZ_lo with column o_j only):
 *   H_j[W] = dG_jᵀ A + gᵀ dA_j,  H_j[b] = Σ_rows dG_j,
 * where gᵀ dA_j touches column o_j of H_j[W] alone. dg = 0: dG_j zero; sparse ≠ 0: dG_j has
 * column o_j only as well (then only row o_j of H_j is non-zero). Overwrites H_j at hv + j·ldh.
 */
export function mlpUnitGrad(kc: i32, n: i32, nin: i32, nout: i32, dg: usize, sparse: i32, a: usize, lda: i32, g: usize, da: usize, p0: i32, noutLo: i32, ninLo: i32, hv: usize, ldh: i32): void {
  const wlo = noutLo * ninLo;
  for (let j = 0; j < kc; j++) {
    const p = p0 + j;
    const o = p >= wlo ? p - wlo : p / ninLo;
    const hw = hv + (<usize>j * <usize>ldh << 3);
    const hb = hw + (<usize>nout * <usize>nin << 3);
    const dgj = dg + (<usize>j * <usize>n * <usize>nout << 3);
    if (dg != 0 && sparse == 0) {
      dgemm(1, 0, nout, nin, n, 1.0, dgj, nout, a, lda, 0.0, hw, nin);
      denseColSums(n, nout, dgj, nout, 1.0, hb);
    } else {
      memory.fill(hw, 0, <usize>nout * <usize>(nin + 1) << 3);
    }
    if (dg != 0 && sparse != 0) {
      // Row o of dG_jᵀ A and of the bias sums.
      const hr = hw + (<usize>o * <usize>nin << 3);
      let sb = 0.0;
      for (let r = 0; r < n; r++) {
        const x = ld(dgj, <isize>r * nout + o);
        sb += x;
        const ar = a + (<usize>r * <usize>lda << 3);
        for (let t = 0; t < nin; t++) st(hr, t, ld(hr, t) + x * ld(ar, t));
      }
      st(hb, o, sb);
    }
    if (da != 0) {
      const daj = da + (<usize>j * <usize>n * <usize>nin << 3);
      for (let q = 0; q < nout; q++) {
        let acc = 0.0;
        for (let r = 0; r < n; r++) acc += ld(g, <isize>r * nout + q) * ld(daj, <isize>r * nin + o);
        st(hw, <isize>q * nin + o, ld(hw, <isize>q * nin + o) + acc);
      }
    }
  }
}
