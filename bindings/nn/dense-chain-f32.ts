/**
 * The float32 dense-chain trace of `mlp({ …, dtype: 'float32' })` (issue 19, first slice): the
 * same multilayer perceptron as {@link MlpTrace} — f(θ, x) = z_L, z_l = W_l a_{l−1} + b_l,
 * a_l = σ(z_l), a_0 = x — with every plane in float32 in WebAssembly memory and every pass on
 * float32 kernels, float64 only at the {@link ModelTrace} boundary.
 *
 * What is float32. θ, X, the layer planes a_l, σ'(z_l), σ''(z_l) and f; the tangents dZ_l,
 * σ'_l ⊙ dZ_l and J v of `jvp`; the backward stacks g_l = ∂(Σ R f)/∂z_l and
 * q_l = (g_{l+1} W_{l+1}) ⊙ σ''_l of the residual product; the second-order backward stack and
 * every result vector before it is returned. Every product is an `sgemm` (4 × 8 f32x4
 * micro-kernel), the elementwise steps are the `…32` kernels of `assembly/nn/dense.ts`
 * (`denseBroadcastRows32`, `denseColSums32`, `denseMul32`, `denseFmaPeriodic32`) and
 * `actForward32` (σ, σ', σ'' evaluated in f64 lanes and rounded to f32 once). Reductions over
 * the N samples (the weight and bias gradients: sgemm with k = N, `denseColSums32`) accumulate
 * in float32 like every other reduction here.
 *
 * What stays float64. The boundary: θ, X, v, R and U arrive as float64 and are rounded to
 * float32 once when written into WebAssembly memory; f (N × M), J v (N × M) and the D-vectors
 * come back as `Float64Array`s (exact widenings of the float32 results). Everything the problem
 * layer does with them — the likelihood's residuals and Λ, the loss sum over the N samples, the
 * products Λ (J v), scaling by 1/N and the prior — runs in float64 in TypeScript / the float64
 * likelihood kernels (issue 19, item 2: the loss sum is an O(N·M) reduction whose float32 error
 * would grow with N; it costs nothing next to the passes).
 *
 * Fast paths. Only `kfacFactors` (float32 passes and sums, float64 factors): otherwise the trace
 * implements `rows`, `outputs`, `jvp`, `vjp`, `residualHvp`, `residualHvpAndVjp` and `free` (no
 * `pullbacks`, `pullbackGram`, `jacobians`, `residualHmm`, `residualColumns`, `sampleGram`), so the problem layer takes its
 * generic routes (a dense GGN from D Jacobian-vector products, a dense Hessian from D residual
 * products). The residual product is one direction at a time (the float64 trace batches kc).
 *
 * Accuracy (what the tests assert). Every float32 quantity carries the rounding of its inputs
 * (u = 2⁻²⁴ each) and of its reductions: an entry of a product of length k is within
 * γ_k·Σ|terms| ≈ k·u·Σ|terms| of the exact product of its float32 inputs, and the errors of the
 * layers below propagate through the chain (test/api/float32-mlp.test.ts derives the bound it
 * uses).
 *
 * Threads: every kernel here splits without dividing a reduction (kernels.ts), so a result is
 * bitwise the same for any thread count.
 *
 * @module
 */
import { allocBlocks, Handle, withScratch } from '../core/handle.js';
import { checkBytes } from '../core/limits.js';
import { checkOptions } from '../core/options.js';
import type { Core } from '../core/wasm.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { KfacFactorOptions, LayerKfac, ModelTrace } from '../models/model.js';
import type { DenseChain } from './dense-chain.js';
import { checkCount, checkFinite, checkLength } from './trace-args.js';

const F32 = 4,
  F64 = 8;

/** A fresh float32 view (never kept across an allocation). */
function f32(core: Core, ptr: number, length: number): Float32Array {
  return new Float32Array(core.exports.memory.buffer, ptr, length);
}

/** A float64 copy of `length` float32 values at `ptr` (exact widening). */
function widen(core: Core, ptr: number, length: number): Float64Array {
  return Float64Array.from(f32(core, ptr, length));
}

/** Whether the float64 key k equals x entry for entry (Object.is). */
function sameKey(k: Float64Array | undefined, x: ArrayLike<number>): boolean {
  if (!k || k.length !== x.length) return false;
  for (let i = 0; i < k.length; i++) if (!Object.is(k[i], x[i])) return false;
  return true;
}

/**
 * One float32 forward pass of an {@link MlpModel} made with `dtype: 'float32'`: owns θ, X and
 * every layer's a_l, σ'(z_l), σ''(z_l) and f in float32 in one WebAssembly block. Inputs and
 * results are float64 (see the module documentation). Valid until `free()`.
 *
 * @category Models
 */
export class MlpTrace32 extends Handle implements ModelTrace {
  readonly rows: number;
  readonly model: DenseChain;
  /** Always `'float32'`. */
  readonly dtype = 'float32' as const;
  /** Byte offsets inside the block (θ at 0): X, layer inputs a_l (a_0 = X), σ'_l, σ''_l, f. */
  readonly #act: number[];
  readonly #d1: number[];
  readonly #d2: number[];
  readonly #f: number;
  /** Tangent block: v (D), then dZ_l, σ'_l ⊙ dZ_l per hidden layer, then J v (N × M); `#tanKey` the v it holds. */
  #tan: Block | undefined;
  #tanKey: Float64Array | undefined;
  /** Residual block: g_l (layers 0 … L−1), then q_l (hidden layers); `#resKey` the R it holds. */
  #res: Block | undefined;
  #resKey: Float64Array | undefined;

  /** @internal Use `mlp({ …, dtype: 'float32' }).forward`. */
  constructor(model: DenseChain, theta: ArrayLike<number>, X: ArrayLike<number>, rows: number) {
    const N = rows,
      L = model.layers.length,
      D = model.dim;
    let n = D;
    const x = n;
    n += N * model.inputs;
    const act: number[] = [x],
      d1: number[] = [],
      d2: number[] = [];
    for (let l = 0; l + 1 < L; l++) {
      const o = model.layers[l]!.nout;
      act.push(n);
      n += N * o;
      d1.push(n);
      n += N * o;
      d2.push(n);
      n += N * o;
    }
    const f = n;
    n += N * model.outputs;
    checkBytes(F32 * n, `mlp.forward (float32): trace (${N} rows, ${n} floats)`);
    const [ptr] = allocBlocks(model.core, [F32 * Math.max(n, 1)]);
    super(model.core, [ptr!]);
    this.rows = N;
    this.model = model;
    this.#act = act.map((a) => F32 * a);
    this.#d1 = d1.map((a) => F32 * a);
    this.#d2 = d2.map((a) => F32 * a);
    this.#f = F32 * f;
    const c = this.core;
    f32(c, ptr!, D).set(theta);
    f32(c, ptr! + F32 * x, N * model.inputs).set(X);
    const k = c.exports;
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = model.layers[l]!;
      const z = l + 1 < L ? ptr! + this.#act[l + 1]! : ptr! + this.#f;
      k.denseBroadcastRows32(N, nout, ptr! + F32 * b, z);
      k.sgemm(0, 1, N, nout, nin, 1, ptr! + this.#act[l]!, nin, ptr! + F32 * w, nin, 1, z, nout);
      if (l + 1 < L) k.actForward32(model.kind, N * nout, z, z, ptr! + this.#d1[l]!, ptr! + this.#d2[l]!);
    }
  }

  /** f (N × M) as float64 (a copy). */
  get outputs(): Float64Array {
    return widen(this.core, this.ptr() + this.#f, this.rows * this.model.outputs);
  }

  /** Byte addresses of W_l, layer input a_l (a_0 = X), σ'_l, σ''_l (recomputed per call). */
  #addr(): { W: (l: number) => number; act: (l: number) => number; d1: (l: number) => number; d2: (l: number) => number } {
    const base = this.ptr();
    return {
      W: (l) => base + F32 * this.model.layers[l]!.w,
      act: (l) => base + this.#act[l]!,
      d1: (l) => base + this.#d1[l]!,
      d2: (l) => base + this.#d2[l]!,
    };
  }

  /**
   * J v: row n is J_n v (N × M), one float32 tangent forward pass. The tangents of the last v are
   * kept (freed with the trace), so a `residualHvpAndVjp` with the same v skips its tangent pass.
   */
  jvp(v: Float64Array): Float64Array {
    const vv = checkLength(v, this.model.dim, 'jvp: v');
    const t = this.#tangents(vv);
    return widen(this.core, t.at(t.size - 1), this.rows * this.model.outputs);
  }

  /** The tangent block holding v's tangents (computed unless it already holds them). */
  #tangents(v: ArrayLike<number>): Block {
    this.alive();
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim;
    if (!this.#tan) {
      const sizes = [D];
      for (let l = 0; l + 1 < L; l++) sizes.push(N * m.layers[l]!.nout, N * m.layers[l]!.nout);
      sizes.push(N * m.outputs);
      this.#tan = new Block(this.core, sizes, 'mlp jvp (float32): tangents');
    }
    const t = this.#tan;
    if (sameKey(this.#tanKey, v)) return t;
    this.#tanKey = undefined; // invalid until complete
    const k = this.core.exports;
    const a = this.#addr();
    const pv = t.at(0);
    f32(this.core, pv, D).set(v);
    const tz = (l: number) => t.at(1 + 2 * l),
      ta = (l: number) => t.at(2 + 2 * l);
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = m.layers[l]!;
      const z = l + 1 < L ? tz(l) : t.at(t.size - 1);
      k.denseBroadcastRows32(N, nout, pv + F32 * b, z);
      k.sgemm(0, 1, N, nout, nin, 1, a.act(l), nin, pv + F32 * w, nin, 1, z, nout);
      if (l > 0) k.sgemm(0, 1, N, nout, nin, 1, ta(l - 1), nin, a.W(l), nin, 1, z, nout);
      if (l + 1 < L) k.denseMul32(1, N * nout, a.d1(l), z, ta(l));
    }
    this.#tanKey = Float64Array.from(v);
    return t;
  }

  /**
   * The backward factors of the residual product for R, kept across calls with the same R:
   * g_l = ∂(Σ R f)/∂z_l (blocks 0 … L−1, g_{L−1} = R) and q_l = (g_{l+1} W_{l+1}) ⊙ σ''_l
   * (blocks L … 2L−2).
   */
  #residual(R: ArrayLike<number>): Block {
    this.alive();
    const m = this.model,
      N = this.rows,
      L = m.layers.length;
    if (!this.#res) {
      const sizes = m.layers.map((g) => N * g.nout);
      for (let l = 0; l + 1 < L; l++) sizes.push(N * m.layers[l]!.nout);
      this.#res = new Block(this.core, sizes, 'residual product factors (float32)');
    }
    const rc = this.#res;
    if (sameKey(this.#resKey, R)) return rc;
    this.#resKey = undefined;
    const e = this.core.exports;
    const a = this.#addr();
    f32(this.core, rc.at(L - 1), N * m.outputs).set(R);
    for (let l = L - 1; l > 0; l--) {
      const { nin, nout } = m.layers[l]!;
      const q = rc.at(L + l - 1),
        g = rc.at(l - 1);
      e.sgemm(0, 0, N, nin, nout, 1, rc.at(l), nout, a.W(l), nin, 0, q, nin);
      e.denseMul32(1, N * nin, a.d1(l - 1), q, g);
      e.denseMul32(1, N * nin, a.d2(l - 1), q, q);
    }
    this.#resKey = Float64Array.from(R);
    return rc;
  }

  /** Jᵀ R = Σ_n J_nᵀ R_n (length D), one float32 backward pass. */
  vjp(R: Float64Array): Float64Array {
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim;
    const rr = checkLength(R, N * m.outputs, `vjp: R (${N} × ${m.outputs})`);
    this.alive();
    const maxW = Math.max(...m.sizes.slice(1));
    return withScratch(this.core, [F32 * D, F32 * Math.max(N * maxW, 1), F32 * Math.max(N * maxW, 1)], (out, g0, g1) => {
      const k = this.core.exports;
      const a = this.#addr();
      let g = g0!,
        ga = g1!;
      f32(this.core, g, rr.length).set(rr);
      for (let l = L - 1; l >= 0; l--) {
        const { nin, nout, w, b } = m.layers[l]!;
        k.sgemm(1, 0, nout, nin, N, 1, g, nout, a.act(l), nin, 0, out! + F32 * w, nin);
        k.denseColSums32(N, nout, g, nout, 1, out! + F32 * b);
        if (l > 0) {
          k.sgemm(0, 0, N, nin, nout, 1, g, nout, a.W(l), nin, 0, ga, nin);
          k.denseMul32(1, N * nin, a.d1(l - 1), ga, ga);
          [g, ga] = [ga, g];
        }
      }
      return widen(this.core, out!, D);
    });
  }

  /** Σ_n Σ_m R_nm ∇²_θ f_nm v (length D): Pearlmutter's R-operator on the float32 backward pass. */
  residualHvp(R: Float64Array, v: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvp: v');
    return this.#hvp(rr, vv, undefined);
  }

  /**
   * Σ_n Σ_m R_nm ∇²_θ f_nm v + Jᵀ U in one float32 second-order backward pass (length D): the
   * R-operator seeded with U (see {@link ModelTrace.residualHvpAndVjp}).
   */
  residualHvpAndVjp(R: Float64Array, v: Float64Array, U: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvpAndVjp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvpAndVjp: v');
    const uu = checkLength(U, this.rows * m.outputs, `residualHvpAndVjp: U (${this.rows} × ${m.outputs})`);
    return this.#hvp(rr, vv, uu);
  }

  /**
   * The second-order backward pass for one direction v (tangents from {@link #tangents}, factors
   * from {@link #residual}): dg_{L−1} = U (or 0); per layer l, from the top,
   *   H[W_l] = dg_lᵀ A_l + g_lᵀ dA_l,  H[b_l] = Σ_rows dg_l   (dA_l = σ'_{l−1} ⊙ dZ_{l−1}, 0 for l = 0),
   *   dg_{l−1} = σ'_{l−1} ⊙ (dg_l W_l + g_l dW_l) + q_{l−1} ⊙ dZ_{l−1}.
   */
  #hvp(R: ArrayLike<number>, v: ArrayLike<number>, U: ArrayLike<number> | undefined): Float64Array {
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim,
      M = m.outputs;
    const t = this.#tangents(v);
    const rc = this.#residual(R);
    const maxH = Math.max(1, ...m.layers.slice(0, L - 1).map((g) => g.nout));
    return withScratch(this.core, [F32 * Math.max(D, 1), F32 * N * maxH || F32, F32 * N * maxH || F32, F32 * Math.max(N * M, 1)], (out, b0, b1, seed) => {
      const e = this.core.exports;
      const a = this.#addr();
      const pv = t.at(0);
      const tz = (l: number) => t.at(1 + 2 * l),
        ta = (l: number) => t.at(2 + 2 * l);
      const g = (l: number) => rc.at(l),
        q = (l: number) => rc.at(L + l);
      let dg = 0;
      if (U) {
        f32(this.core, seed!, N * M).set(U);
        dg = seed!;
      }
      let bufs = [b0!, b1!];
      for (let l = L - 1; l >= 0; l--) {
        const { nin, nout, w, b } = m.layers[l]!;
        const hw = out! + F32 * w,
          hb = out! + F32 * b;
        let beta = 0;
        if (dg !== 0) {
          e.sgemm(1, 0, nout, nin, N, 1, dg, nout, a.act(l), nin, 0, hw, nin);
          e.denseColSums32(N, nout, dg, nout, 1, hb);
          beta = 1;
        } else f32(this.core, hb, nout).fill(0);
        if (l > 0) e.sgemm(1, 0, nout, nin, N, 1, g(l), nout, ta(l - 1), nin, beta, hw, nin);
        else if (dg === 0) f32(this.core, hw, nout * nin).fill(0);
        if (l > 0) {
          const dga = bufs[0]!;
          if (dg !== 0) e.sgemm(0, 0, N, nin, nout, 1, dg, nout, a.W(l), nin, 0, dga, nin);
          e.sgemm(0, 0, N, nin, nout, 1, g(l), nout, pv + F32 * w, nin, dg !== 0 ? 1 : 0, dga, nin);
          e.denseFmaPeriodic32(1, N * nin, a.d1(l - 1), dga, q(l - 1), tz(l - 1), dga);
          dg = dga;
          bufs = [bufs[1]!, bufs[0]!];
        }
      }
      return widen(this.core, out!, D);
    });
  }

  /**
   * The KFAC factors, as {@link MlpTrace.kfacFactors} defines them: per layer
   * A = (1/N) Σ_n ā ā ᵀ (ā = [a_{l−1,n}; 1], bias last; with `bias: 'separate'` ā = a_{l−1,n})
   * and G = scale · Σ_{n,k} δ δᵀ with δ_{l,nk} = (∂f_n/∂z_l)ᵀ R_nk; `kfacApproximation` 'expand'
   * and 'reduce' give the same factors (one position per layer). R is the (N·K) × M stack
   * (row n·K + k is R_nk), float64, rounded to float32 once.
   *
   * What is float32: the backward pass of the N·K rows (δ_{l−1} = (δ_l W_l) ⊙ σ'_{l−1}, one
   * sgemm for all rows and `denseMul32` repeating σ' over the K directions, rows held k-major) and
   * the two reductions over the rows, Σ ā āᵀ and Σ δ δᵀ, each one sgemm with transA into float32
   * scratch (the bias row of A from `denseColSums32`, its corner N exactly). What is float64:
   * the factors returned — the float32 sums are widened exactly, scaled by 1/N and `scale` in
   * float64 and mirrored from their lower triangles into {@link SymMatrix}es, so the small dense
   * factorizations done on them (damped inverses, eigendecompositions) run in float64 on
   * float32 inputs (issue 19, item 2). An entry of A or G is within about
   * (rows · u)·Σ|terms| of the exact sums of the float32 inputs (u = 2⁻²⁴), plus the propagated
   * rounding of a_l and δ_l.
   */
  kfacFactors(R: Float64Array, K: number, scale: number, options: KfacFactorOptions = {}): LayerKfac[] {
    checkCount(K, 'kfacFactors: K');
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      M = m.outputs;
    const rr = checkLength(R, N * K * M, `kfacFactors: R ((${N}·${K}) × ${M})`);
    checkFinite(scale, 'kfacFactors: scale');
    checkOptions(options, 'kfacFactors', ['kfacApproximation', 'bias']);
    const bias = options.bias ?? 'joint';
    if (bias !== 'joint' && bias !== 'separate') throw new RangeError(`natgrad: kfacFactors: bias must be 'joint' or 'separate', got ${String(bias)}`);
    const ap = options.kfacApproximation ?? 'expand';
    if (ap !== 'expand' && ap !== 'reduce') throw new RangeError(`natgrad: kfacFactors: kfacApproximation must be 'expand' or 'reduce', got ${String(ap)}`);
    this.alive();
    const extra = bias === 'joint' ? 1 : 0;
    const maxI = Math.max(...m.sizes.slice(0, -1)),
      maxO = Math.max(...m.sizes.slice(1));
    const rowsK = N * K;
    checkBytes(F32 * 2 * rowsK * maxO, `kfacFactors (float32): the output gradients (${rowsK} × ${maxO} floats, twice)`);
    const c = this.core;
    const owned: number[] = [];
    try {
      return withScratch(c, [F32 * Math.max(maxI * maxI, maxO * maxO, 1), F32 * Math.max(maxI, 1), F32 * Math.max(rowsK * maxO, 1), F32 * Math.max(rowsK * maxO, 1)], (S, cs, d0, d1) => {
        const e = c.exports;
        const a = this.#addr();
        // δ_{L−1} = R, k-major: row k·N + n is R_nk.
        const top = f32(c, d0!, rowsK * M);
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let j = 0; j < M; j++) top[(k * N + n) * M + j] = rr[(n * K + k) * M + j]!;
        let dl = d0!,
          dn = d1!;
        const ptrs: [number, number][] = new Array(L);
        for (let l = L - 1; l >= 0; l--) {
          const { nin, nout } = m.layers[l]!;
          const a1 = nin + extra;
          // G = scale · Σ δ δᵀ
          const pg = c.alloc(F64 * nout * nout);
          owned.push(pg);
          if (rowsK > 0) e.sgemm(1, 0, nout, nout, rowsK, 1, dl, nout, dl, nout, 0, S!, nout);
          else f32(c, S!, nout * nout).fill(0);
          lowerToSym(c, S!, nout, nout, scale, pg, nout);
          // A = (1/N) Σ ā āᵀ
          const pa = c.alloc(F64 * a1 * a1);
          owned.push(pa);
          const inv = N > 0 ? 1 / N : 0;
          if (N > 0) e.sgemm(1, 0, nin, nin, N, 1, a.act(l), nin, a.act(l), nin, 0, S!, nin);
          else f32(c, S!, nin * nin).fill(0);
          lowerToSym(c, S!, nin, nin, inv, pa, a1);
          if (extra) {
            const A = c.f64(pa, a1 * a1);
            e.denseColSums32(N, nin, a.act(l), nin, 1, cs!);
            const sums = f32(c, cs!, nin);
            for (let i = 0; i < nin; i++) A[nin * a1 + i] = A[i * a1 + nin] = sums[i]! * inv;
            A[nin * a1 + nin] = N > 0 ? 1 : 0;
          }
          ptrs[l] = [pa, pg];
          if (l > 0) {
            // δ_{l−1} = (δ_l W_l) ⊙ σ'_{l−1}, σ' repeated over the K blocks of N rows
            e.sgemm(0, 0, rowsK, nin, nout, 1, dl, nout, a.W(l), nin, 0, dn, nin);
            e.denseMul32(K, N * nin, a.d1(l - 1), dn, dn);
            [dl, dn] = [dn, dl];
          }
        }
        return ptrs.map(([pa, pg], l) => ({ A: new SymMatrix(c, m.layers[l]!.nin + extra, pa), G: new SymMatrix(c, m.layers[l]!.nout, pg), bias }));
      });
    } catch (err) {
      for (const p of owned) c.free(p);
      throw err;
    }
  }

  /** Release the trace's memory (and the tangents / backward factors it keeps). @throws DisposedError when already freed. */
  override free(): void {
    this.alive();
    this.#tan?.free();
    this.#tan = undefined;
    this.#tanKey = undefined;
    this.#res?.free();
    this.#res = undefined;
    this.#resKey = undefined;
    super.free();
  }
}

/**
 * Writes the n × n float64 symmetric matrix alpha · S (S float32, leading dimension lds, lower
 * triangle read and mirrored) into the top-left n × n of the float64 block at `dst` (leading
 * dimension ldd): exact widening, then one float64 multiplication per entry.
 */
function lowerToSym(core: Core, S: number, n: number, lds: number, alpha: number, dst: number, ldd: number): void {
  const s = f32(core, S, n * lds);
  const d = core.f64(dst, ldd * ldd);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const x = alpha * s[i * lds + j]!;
      d[i * ldd + j] = x;
      d[j * ldd + i] = x;
    }
}

/** @internal A float32 block owned by a trace: consecutive sub-blocks of the given sizes (floats). */
class Block extends Handle {
  readonly size: number;
  readonly #offs: number[];
  constructor(core: Core, sizes: number[], what: string) {
    const offs: number[] = [];
    let n = 0;
    for (const s of sizes) {
      offs.push(n);
      n += s;
    }
    checkBytes(F32 * n, `${what} (${n} floats)`);
    super(core, [core.alloc(F32 * Math.max(n, 1))]);
    this.size = sizes.length;
    this.#offs = offs;
  }
  at(i: number): number {
    return this.ptr(0) + F32 * this.#offs[i]!;
  }
}
