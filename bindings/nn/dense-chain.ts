/**
 * The dense-chain fast path of {@link sequential}: a network that is exactly dense layers (with
 * biases) with one activation between them and a linear last layer — the multilayer perceptron
 * f(θ, x) = z_L, z_l = W_l a_{l−1} + b_l, a_l = σ(z_l), a_0 = x — gets this trace instead of the
 * generic op-by-op one. Same quantities, exploiting the chain: every pass is a GEMM over all N
 * rows; the residual Hessian product batches kc directions (tangent forward passes and
 * Pearlmutter's R-operator on the backward pass) and skips the zero slices of unit directions;
 * the curvature fast paths use the Kronecker structure of dense layers — the pullback of an
 * output vector to W_l is δ_l ⊗ a_{l−1}, so Σ_{nk} c_nk c_nkᵀ restricted to layers (l, l') is
 * Σ_n (Σ_k δ_l δ_l'ᵀ) ⊗ (ā_{l−1} ā_{l'−1}ᵀ) — one GEMM of length N per layer pair instead of a
 * rank-N·K update of length D. {@link mlp} is the preset that builds such a network.
 *
 * @module
 */
import { allocBlocks, Handle, withScratch } from '../core/handle.js';
import { checkOptions } from '../core/options.js';
import { checkBytes, checkSquare } from '../core/limits.js';
import type { Core } from '../core/wasm.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { KfacFactorOptions, LayerKfac, ModelTrace, ParameterGroup, SampleGramGroup } from '../models/model.js';
import { checkCount, checkFinite, checkLength, identityStack } from './trace-args.js';

/** @internal One dense layer: widths and θ indices. */
export interface ChainLayer {
  readonly nin: number;
  readonly nout: number;
  /** θ index of W (out × in). */
  readonly w: number;
  /** θ index of b. */
  readonly b: number;
}

/**
 * What the dense-chain trace needs of its network.
 *
 * @category Models
 */
export interface DenseChain {
  readonly inputs: number;
  readonly outputs: number;
  readonly dim: number;
  readonly groups: readonly ParameterGroup[];
  readonly core: Core;
  /** The layer widths [d, h_1, …, M]. */
  readonly sizes: readonly number[];
  /** @internal */
  readonly layers: readonly ChainLayer[];
  /** @internal The activation's kernel id. */
  readonly kind: number;
}

const F64 = 8;

/**
 * One forward pass of an {@link MlpModel}: owns θ, X and every layer's a_l, σ'(z_l), σ''(z_l)
 * and f in one WebAssembly block. Valid until `free()`; several traces may be alive at once.
 *
 * @category Models
 */
export class MlpTrace extends Handle implements ModelTrace {
  readonly rows: number;
  readonly model: DenseChain;
  /** Byte offsets inside the block (θ at 0): X, layer inputs a_l (a_0 = X), σ'_l, σ''_l, f. */
  readonly #x: number;
  readonly #act: number[];
  readonly #d1: number[];
  readonly #d2: number[];
  readonly #f: number;

  /** @internal Use {@link MlpModel.forward}. */
  constructor(model: DenseChain, theta: ArrayLike<number>, X: ArrayLike<number>, rows: number) {
    const N = rows,
      L = model.layers.length,
      D = model.dim;
    let doubles = D;
    const x = doubles;
    doubles += N * model.inputs;
    const act: number[] = [],
      d1: number[] = [],
      d2: number[] = [];
    for (let l = 0; l + 1 < L; l++) {
      const o = model.layers[l]!.nout;
      act.push(doubles);
      doubles += N * o;
      d1.push(doubles);
      doubles += N * o;
      d2.push(doubles);
      doubles += N * o;
    }
    const f = doubles;
    doubles += N * model.outputs;
    checkBytes(F64 * doubles, `mlp.forward: trace (${N} rows, ${doubles} doubles)`);
    const [ptr] = allocBlocks(model.core, [F64 * doubles]);
    super(model.core, [ptr!]);
    this.rows = N;
    this.model = model;
    this.#x = F64 * x;
    this.#act = [this.#x, ...act.map((a) => F64 * a)];
    this.#d1 = d1.map((a) => F64 * a);
    this.#d2 = d2.map((a) => F64 * a);
    this.#f = F64 * f;
    const c = this.core;
    c.f64(ptr!, D).set(theta);
    c.f64(ptr! + this.#x, N * model.inputs).set(X);
    const k = c.exports;
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = model.layers[l]!;
      const z = l + 1 < L ? ptr! + this.#act[l + 1]! : ptr! + this.#f;
      k.denseBroadcastRows(N, nout, ptr! + F64 * b, z);
      k.dgemm(0, 1, N, nout, nin, 1, ptr! + this.#act[l]!, nin, ptr! + F64 * w, nin, 1, z, nout);
      if (l + 1 < L) k.actForward(model.kind, N * nout, z, z, ptr! + this.#d1[l]!, ptr! + this.#d2[l]!);
    }
  }

  /** f (N × M), a copy. */
  get outputs(): Float64Array {
    return this.core.f64(this.ptr() + this.#f, this.rows * this.model.outputs).slice();
  }

  /** Byte addresses of θ, W_l, layer input a_l (a_0 = X), σ'_l, σ''_l; recomputed (never cached across allocations: the block itself does not move). */
  #addr(): { base: number; W: (l: number) => number; act: (l: number) => number; d1: (l: number) => number; d2: (l: number) => number } {
    const base = this.ptr();
    return {
      base,
      W: (l) => base + F64 * this.model.layers[l]!.w,
      act: (l) => base + this.#act[l]!,
      d1: (l) => base + this.#d1[l]!,
      d2: (l) => base + this.#d2[l]!,
    };
  }

  /**
   * J v: row n is J_n v (N × M), one tangent forward pass. The trace keeps the layer tangents of
   * the last v (one block, freed with the trace), so that `residualHvp` / `residualHvpAndVjp`
   * with the same v skip their own tangent pass.
   */
  jvp(v: Float64Array): Float64Array {
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim;
    const vv = checkLength(v, D, 'jvp: v');
    const c = this.#tangents();
    const k = this.core.exports;
    const a = this.#addr();
    const pv = c.base();
    c.v = undefined; // invalid until complete
    this.core.f64(pv, D).set(vv);
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = m.layers[l]!;
      const t = l + 1 < L ? c.tz(l) : c.out();
      k.denseBroadcastRows(N, nout, pv + F64 * b, t);
      k.dgemm(0, 1, N, nout, nin, 1, a.act(l), nin, pv + F64 * w, nin, 1, t, nout);
      if (l > 0) k.dgemm(0, 1, N, nout, nin, 1, c.ta(l - 1), nin, a.W(l), nin, 1, t, nout);
      if (l + 1 < L) k.denseMul(1, N * nout, a.d1(l), t, c.ta(l));
    }
    c.v = Float64Array.from(vv);
    return this.core.f64(c.out(), N * m.outputs).slice();
  }

  #cache: TangentCache | undefined;

  /** The tangent block (allocated on first use). */
  #tangents(): TangentCache {
    this.alive();
    if (!this.#cache) {
      const m = this.model,
        N = this.rows;
      const hidden = m.layers.slice(0, -1).map((g) => N * g.nout);
      const offs: number[] = [];
      let n = m.dim;
      for (const h of hidden) {
        offs.push(n);
        n += h;
        offs.push(n);
        n += h;
      }
      const out = n;
      n += N * m.outputs;
      checkBytes(F64 * n, `mlp jvp: tangents (${n} doubles)`);
      this.#cache = new TangentCache(this.core, this.core.alloc(F64 * n), offs, out);
    }
    return this.#cache;
  }

  /** The cached tangents when they belong to exactly this v. */
  #cachedFor(v: ArrayLike<number>): TangentCache | undefined {
    const c = this.#cache,
      cv = c?.v;
    if (!cv || cv.length !== v.length) return undefined;
    for (let i = 0; i < cv.length; i++) if (!Object.is(cv[i], v[i])) return undefined;
    return c;
  }

  /** Release the trace's memory (and the tangents / backward factors it keeps). @throws DisposedError when already freed. */
  override free(): void {
    this.alive();
    this.#cache?.free();
    this.#cache = undefined;
    this.#residual?.free();
    this.#residual = undefined;
    super.free();
  }

  #residual: OwnedBlock | undefined;

  /**
   * The backward factors of the residual product for R, kept across calls with the same R (a
   * CG loop of Hessian products at one θ): g_l = ∂(Σ R f)/∂z_l (N × out_l, blocks 0 … L−1) and
   * q_l = (g_{l+1} W_{l+1}) ⊙ σ''_l (hidden layers, blocks L … 2L−2).
   */
  #residualFor(R: ArrayLike<number>): OwnedBlock {
    this.alive();
    const m = this.model,
      N = this.rows,
      L = m.layers.length;
    let rc = this.#residual;
    if (rc?.key && rc.key.length === R.length) {
      let same = true;
      for (let i = 0; i < R.length && same; i++) same = Object.is(rc.key[i], R[i]);
      if (same) return rc;
    }
    if (!rc) {
      const offs: number[] = [];
      let n = 0;
      for (let l = 0; l < L; l++) {
        offs.push(n);
        n += N * m.layers[l]!.nout;
      }
      for (let l = 0; l + 1 < L; l++) {
        offs.push(n);
        n += N * m.layers[l]!.nout;
      }
      checkBytes(F64 * n, `residual product factors (${n} doubles)`);
      rc = this.#residual = new OwnedBlock(this.core, this.core.alloc(F64 * Math.max(n, 1)), offs);
    }
    rc.key = undefined;
    const e = this.core.exports;
    const a = this.#addr();
    this.core.f64(rc.at(L - 1), N * m.outputs).set(R);
    for (let l = L - 1; l > 0; l--) {
      const { nin, nout } = m.layers[l]!;
      const q = rc.at(L + l - 1),
        g = rc.at(l - 1);
      e.dgemm(0, 0, N, nin, nout, 1, rc.at(l), nout, a.W(l), nin, 0, q, nin);
      e.denseMul(1, N * nin, a.d1(l - 1), q, g);
      e.denseMul(1, N * nin, a.d2(l - 1), q, q);
    }
    rc.key = Float64Array.from(R);
    return rc;
  }

  /** Jᵀ R = Σ_n J_nᵀ R_n (length D), one backward pass. */
  vjp(R: Float64Array): Float64Array {
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim;
    const rr = checkLength(R, N * m.outputs, `vjp: R (${N} × ${m.outputs})`);
    const maxW = Math.max(...m.sizes.slice(1));
    return withScratch(this.core, [F64 * D, F64 * N * maxW, F64 * N * maxW], (out, g0, g1) => {
      const k = this.core.exports;
      const a = this.#addr();
      let g = g0!,
        ga = g1!;
      this.core.f64(g, rr.length).set(rr);
      for (let l = L - 1; l >= 0; l--) {
        const { nin, nout, w, b } = m.layers[l]!;
        k.dgemm(1, 0, nout, nin, N, 1, g, nout, a.act(l), nin, 0, out! + F64 * w, nin);
        k.denseColSums(N, nout, g, nout, 1, out! + F64 * b);
        if (l > 0) {
          k.dgemm(0, 0, N, nin, nout, 1, g, nout, a.W(l), nin, 0, ga, nin);
          k.denseMul(1, N * nin, a.d1(l - 1), ga, ga);
          [g, ga] = [ga, g];
        }
      }
      return this.core.f64(out!, D).slice();
    });
  }

  /** Σ_n Σ_m R_nm ∇²_θ f_nm v (length D): Pearlmutter's R-operator on the backward pass. */
  residualHvp(R: Float64Array, v: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvp: v');
    return this.#hvp(rr, vv, undefined);
  }

  /**
   * Σ_n Σ_m R_nm ∇²_θ f_nm v + Jᵀ U in one backward pass (length D): the Hessian-vector product
   * of a loss whose output gradient is R and whose output Hessian times J v is U — the R-operator
   * seeded with U — so `jvp(v)`, then this with U = B·(J v), costs one tangent pass and one
   * second-order backward pass instead of a separate `vjp` and `residualHvp` (the optional
   * {@link ModelTrace} fast path that `hessianVectorProduct` uses).
   */
  residualHvpAndVjp(R: Float64Array, v: Float64Array, U: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvpAndVjp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvpAndVjp: v');
    const uu = checkLength(U, this.rows * m.outputs, `residualHvpAndVjp: U (${this.rows} × ${m.outputs})`);
    return this.#hvp(rr, vv, uu);
  }

  #hvp(R: ArrayLike<number>, v: ArrayLike<number>, U: ArrayLike<number> | undefined): Float64Array {
    const D = this.model.dim;
    const cached = this.#cachedFor(v);
    return withScratch(this.core, [F64 * D, F64 * D], (pv, out) => {
      this.core.f64(pv!, D).set(v);
      this.#hmm(R, pv!, 1, out!, U, cached);
      return this.core.f64(out!, D).slice();
    });
  }

  /** Σ_n Σ_m R_nm ∇²_θ f_nm V for V of D × k (row-major) → D × k, in column chunks of batched GEMMs. */
  residualHmm(R: Float64Array, V: Float64Array, k: number): Float64Array {
    const m = this.model,
      D = m.dim;
    checkCount(k, 'residualHmm: k');
    const rr = checkLength(R, this.rows * m.outputs, `residualHmm: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(V, D * k, `residualHmm: V (${D} × ${k})`);
    checkBytes(F64 * D * k, `residualHmm: V (${D} × ${k} doubles)`);
    return withScratch(this.core, [F64 * D * k, F64 * D * k], (pv, pt) => {
      const e = this.core.exports;
      this.core.f64(pv!, D * k).set(vv);
      e.denseTranspose(D, k, pv!, k, pt!, D); // Vᵀ: k × D, one direction per row
      this.#hmm(rr, pt!, k, pv!); // result rows (k × D) into pv
      e.denseTranspose(k, D, pv!, D, pt!, k);
      return this.core.f64(pt!, D * k).slice();
    });
  }

  /**
   * Columns j0 … j0+k−1 of Σ_n Σ_m R_nm ∇²_θ f_nm — the residual product with the unit directions
   * e_{j0}, …, e_{j0+k−1} — returned transposed, k × D (row c is column j0 + c), with only the rows
   * in [from, to) computed: every other entry is 0. Equals (to rounding) the corresponding rows of
   * `residualHmm(R, I[:, j0 : j0+k], k)`, but a unit direction in layer l has no tangent below
   * layer l (the tangent pass starts there) and, with `from` at the start of layer l, the backward
   * pass stops at layer l: for the lower triangle of a dense Hessian (the problem mirrors the
   * rest) that is about a third of the work of the general product.
   * @param j0 first column (0 ≤ j0, j0 + k ≤ D)
   * @param from first row computed (default 0)
   * @param to one past the last row computed (default D)
   */
  residualColumns(R: Float64Array, j0: number, k: number, from = 0, to = this.model.dim): Float64Array {
    const m = this.model,
      D = m.dim;
    checkCount(k, 'residualColumns: k');
    const rr = checkLength(R, this.rows * m.outputs, `residualColumns: R (${this.rows} × ${m.outputs})`);
    if (!Number.isSafeInteger(j0) || j0 < 0 || j0 + k > D) throw new RangeError(`natgrad: residualColumns: columns ${String(j0)} … ${String(j0)}+${k} must lie in 0 … ${D}`);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > D || from > to) {
      throw new RangeError(`natgrad: residualColumns: rows [${String(from)}, ${String(to)}) must satisfy 0 ≤ from ≤ to ≤ ${D}`);
    }
    checkBytes(F64 * D * k, `residualColumns: ${k} columns of ${D} doubles`);
    return withScratch(this.core, [F64 * D * k, F64 * D * k], (pv, out) => {
      const V = this.core.f64(pv!, D * k);
      V.fill(0);
      for (let c = 0; c < k; c++) V[c * D + j0 + c] = 1;
      // One #hmm per layer the columns touch: each chunk's directions live in one layer.
      const L = m.layers.length;
      for (let l = 0; l < L; l++) {
        const g = m.groups[l]!;
        const a = Math.max(j0, g.offset),
          b = Math.min(j0 + k, g.offset + g.size);
        if (a >= b) continue;
        const nz = m.layers.map((_, i) => i === l);
        this.#hmm(rr, pv! + F64 * (a - j0) * D, b - a, out! + F64 * (a - j0) * D, undefined, undefined, { nz, from, to, unit: a - g.offset });
      }
      return this.core.f64(out!, D * k).slice();
    });
  }

  /**
   * The residual product for k directions given as the rows of Vt (k × D, byte address) into
   * out (k × D). The backward factors g_l, q_l come from {@link MlpTrace.#residualFor} (kept for
   * the last R); the tangent passes run in chunks of kc directions (column blocks of N rows).
   * Per chunk, layers whose slice of V is zero (`opts.nz`, else detected) are skipped: the
   * tangent pass starts at the first non-zero layer and zero terms are never formed (the same
   * numbers as the full pass). With `opts.from` / `opts.to`, only output rows in [from, to) are
   * computed (the backward pass stops at the layer holding `from`); the rest are set to 0.
   */
  #hmm(R: ArrayLike<number>, vt: number, k: number, out: number, seed?: ArrayLike<number>, cached?: TangentCache, opts?: HmmOptions): void {
    const m = this.model,
      N = this.rows,
      L = m.layers.length,
      D = m.dim;
    const e = this.core.exports;
    const ue = e; // the unit-direction kernels (assembly/nn/dense.ts)
    const hidden = m.layers.slice(0, L - 1).map((g) => g.nout);
    const maxH = Math.max(1, ...hidden);
    const sumH = hidden.reduce((s, h) => s + h, 0);
    // Per chunk column: tz, ta per hidden layer and two ping-pong backward buffers.
    const perCol = N * (2 * sumH + 2 * maxH);
    const kc = Math.max(1, Math.min(k, Math.floor((1 << 21) / Math.max(perCol, 1))));
    checkBytes(F64 * kc * perCol, `residual Hessian product (${kc} directions × ${perCol} doubles)`);
    const rc = this.#residualFor(R);
    const from = opts?.from ?? 0,
      to = opts?.to ?? D;
    const groups = m.groups;
    // The backward pass stops at the first layer with a row ≥ from; layers entirely outside [from, to) get no gradient.
    let stop = 0;
    while (stop + 1 < L && groups[stop]!.offset + groups[stop]!.size <= from) stop++;
    const rowsIn = (l: number) => groups[l]!.offset < to && groups[l]!.offset + groups[l]!.size > from && from < to;
    let n = 0;
    const tzOff: number[] = [],
      taOff: number[] = [];
    if (!cached) {
      for (let l = 0; l + 1 < L; l++) {
        tzOff.push(n);
        n += kc * N * m.layers[l]!.nout;
        taOff.push(n);
        n += kc * N * m.layers[l]!.nout;
      }
    }
    const p0Off = n;
    n += kc * N * maxH;
    const p1Off = n;
    n += kc * N * maxH;
    const seedOff = n;
    if (seed) n += N * m.outputs;
    withScratch(this.core, [F64 * Math.max(n, 1)], (s) => {
      const a = this.#addr();
      const g = (l: number) => rc.at(l);
      const q = (l: number) => rc.at(L + l);
      const tz = cached ? (l: number) => cached.tz(l) : (l: number) => s! + F64 * tzOff[l]!;
      const ta = cached ? (l: number) => cached.ta(l) : (l: number) => s! + F64 * taOff[l]!; // tangent of the input of layer l + 1
      if (seed) this.core.f64(s! + F64 * seedOff, N * m.outputs).set(seed);
      for (let j0 = 0; j0 < k; j0 += kc) {
        const c = Math.min(kc, k - j0);
        const vj = vt + F64 * j0 * D,
          oj = out + F64 * j0 * D;
        // Which layers' slices of this chunk's directions are non-zero (jvp's cached tangents: all).
        const nz = cached ? m.layers.map(() => true) : (opts?.nz ?? this.#nonzeroLayers(vj, c));
        let lo = nz.indexOf(true);
        if (lo < 0) lo = L; // V = 0: no tangents at all
        // Tangent forward from layer lo: tz_l = dZ_l, ta_l = σ'_l ⊙ dZ_l (hidden layers only), unless jvp kept them.
        const unit = opts?.unit !== undefined && !cached,
          p0 = (opts?.unit ?? 0) + j0; // index in layer lo's slice of the chunk's first unit direction
        let dgSparse = false; // dg has the unit directions' column of layer lo only
        let l0 = lo;
        if (unit && lo + 1 < L) {
          // Consecutive unit directions of layer lo: one column of dZ_lo, a rank-one dZ_{lo+1}.
          const { nin, nout } = m.layers[lo]!;
          const fuse = lo + 2 < L && !nz[lo + 1];
          const n2 = m.layers[lo + 1]!.nout;
          ue.mlpUnitTangent(c, N, nin, nout, a.act(lo), nin, p0, a.d1(lo), tz(lo), ta(lo), fuse ? a.W(lo + 1) : 0, n2, fuse ? tz(lo + 1) : 0);
          l0 = lo + 1;
          if (fuse) {
            e.denseMul(c, N * n2, a.d1(lo + 1), tz(lo + 1), ta(lo + 1));
            l0 = lo + 2;
          }
        }
        for (let l = l0; !cached && l + 1 < L; l++) {
          const { nin, nout, w } = m.layers[l]!;
          if (nz[l]) e.mlpTangentIn(c, N, nin, nout, a.act(l), nin, vj + F64 * w, D, tz(l), 0);
          if (l > lo) e.dgemm(0, 1, c * N, nout, nin, 1, ta(l - 1), nin, a.W(l), nin, nz[l] ? 1 : 0, tz(l), nout);
          e.denseMul(c, N * nout, a.d1(l), tz(l), ta(l));
        }
        // Tangent backward: dg_L = 0 (or the seed U); dg_{l−1} = σ'⊙(dg_l W_l + g_l dW_l) + q_{l−1} ⊙ dZ_{l−1}, zero terms skipped.
        let dg = seed ? s! + F64 * seedOff : 0;
        let bufs = [s! + F64 * p0Off, s! + F64 * p1Off];
        for (let l = L - 1; l >= stop; l--) {
          const { nin, nout, w } = m.layers[l]!;
          const da = l > 0 && l - 1 >= lo; // dZ_{l−1} ≠ 0
          if (!rowsIn(l)) e.dzero(c, groups[l]!.size, oj + F64 * w, D);
          else if (unit && (l === lo + 1 || (l === lo && dgSparse))) {
            // dZ_lo has one column per direction: so has dA of layer lo + 1, and dg_lo when nothing came from above.
            const low = m.layers[lo]!;
            ue.mlpUnitGrad(c, N, nin, nout, dg, dgSparse ? 1 : 0, a.act(l), nin, g(l), da ? ta(l - 1) : 0, p0, low.nout, low.nin, oj + F64 * w, D);
          } else e.mlpTangentGrad(c, N, nin, nout, dg, a.act(l), nin, g(l), da ? ta(l - 1) : 0, oj + F64 * w, D);
          dgSparse = false;
          if (l > stop) {
            const dga = bufs[0]!;
            if (dg !== 0 || nz[l]) {
              if (dg !== 0) e.dgemm(0, 0, c * N, nin, nout, 1, dg, nout, a.W(l), nin, 0, dga, nin);
              if (nz[l]) e.mlpTangentBack(c, N, nin, nout, g(l), vj + F64 * w, D, dga, dg !== 0 ? 1 : 0);
              if (da) e.denseFmaPeriodic(c, N * nin, a.d1(l - 1), dga, q(l - 1), tz(l - 1), dga);
              else e.denseMul(c, N * nin, a.d1(l - 1), dga, dga);
            } else if (da) {
              e.denseMul(c, N * nin, q(l - 1), tz(l - 1), dga);
              dgSparse = unit && l - 1 === lo;
            } else {
              continue; // dg_{l−1} = 0 too
            }
            dg = dga;
            bufs = [bufs[1]!, bufs[0]!];
          }
        }
        if (stop > 0) e.dzero(c, groups[stop]!.offset, oj, D);
        if (from > groups[stop]!.offset) e.dzero(c, from - groups[stop]!.offset, oj + F64 * groups[stop]!.offset, D);
        if (to < D) e.dzero(c, D - to, oj + F64 * to, D);
      }
    });
  }

  /** Per layer: whether any of the c directions at byte address vj (rows of D) has a non-zero entry in the layer's slice. */
  #nonzeroLayers(vj: number, c: number): boolean[] {
    const m = this.model,
      D = m.dim;
    const V = this.core.f64(vj, c * D);
    return m.groups.map((g) => {
      for (let r = 0; r < c; r++) {
        const row = r * D + g.offset;
        for (let i = 0; i < g.size; i++) if (V[row + i] !== 0) return true;
      }
      return false;
    });
  }

  /**
   * Backpropagate a sample-major (N·K) × M stack to every layer: δ_l ((N·K) × out_l) at byte
   * offsets of one block, then run fn. δ_{L} = R.
   */
  #deltas<T>(R: ArrayLike<number>, K: number, extra: number[], fn: (delta: (l: number) => number, ...ptrs: number[]) => T): T {
    const m = this.model,
      N = this.rows,
      L = m.layers.length;
    const off: number[] = [];
    let n = 0;
    for (let l = 0; l < L; l++) {
      off.push(n);
      n += N * K * m.layers[l]!.nout;
    }
    checkBytes(F64 * n, `backpropagated stack (${N * K} rows × ${n / Math.max(N * K, 1)} doubles)`);
    return withScratch(this.core, [F64 * Math.max(n, 1), ...extra], (s, ...ptrs) => {
      const e = this.core.exports;
      const a = this.#addr();
      const delta = (l: number) => s! + F64 * off[l]!;
      this.core.f64(delta(L - 1), N * K * m.outputs).set(R);
      for (let l = L - 1; l > 0; l--) {
        const { nin, nout } = m.layers[l]!;
        e.dgemm(0, 0, N * K, nin, nout, 1, delta(l), nout, a.W(l), nin, 0, delta(l - 1), nin);
        e.denseMulRep(N, K, nin, a.d1(l - 1), delta(l - 1), delta(l - 1));
      }
      return fn(delta, ...ptrs);
    });
  }

  #checkStack(R: unknown, K: unknown, what: string): ArrayLike<number> {
    checkCount(K, `${what}: K`);
    return checkLength(R, this.rows * (K as number) * this.model.outputs, `${what}: R ((${this.rows}·${K as number}) × ${this.model.outputs})`);
  }

  /** Per-sample Jacobians, N × M × D (entry [n][m][j] = ∂f_nm/∂θ_j). */
  jacobians(): Float64Array {
    return this.pullbacks(identityStack(this.rows, this.model.outputs), this.model.outputs);
  }

  /** The pullbacks c_nk = J_nᵀ R_nk of an (N·K) × M stack, as (N·K) × D rows. */
  pullbacks(R: Float64Array, K: number): Float64Array {
    const rr = this.#checkStack(R, K, 'pullbacks');
    const n = this.rows * K * this.model.dim;
    checkBytes(F64 * n, `pullbacks (${this.rows * K} × ${this.model.dim} doubles)`);
    return withScratch(this.core, [F64 * Math.max(n, 1)], (out) => {
      this.#pullbacksTo(rr, K, out!);
      return this.core.f64(out!, n).slice();
    });
  }

  /**
   * @internal The pullback rows written into a caller-owned block of (N·K) × D doubles at byte
   * address `ptr` (no copy out of WebAssembly memory: for results kept in a Matrix handle).
   * R is validated here; `ptr` is trusted.
   */
  pullbacksInto(R: Float64Array, K: number, ptr: number): void {
    this.#pullbacksTo(this.#checkStack(R, K, 'pullbacks'), K, ptr);
  }

  #pullbacksTo(R: ArrayLike<number>, K: number, out: number): void {
    const m = this.model,
      N = this.rows,
      D = m.dim;
    this.#deltas(R, K, [], (delta) => {
      const e = this.core.exports;
      const a = this.#addr();
      for (let l = 0; l < m.layers.length; l++) {
        const { nin, nout, w } = m.layers[l]!;
        e.denseOuterRows(N, K, nout, nin, delta(l), a.act(l), nin, out + F64 * w, D);
      }
    });
  }

  /**
   * scale · Σ_{n,k} c_nk c_nkᵀ in the requested structure: `'dense'` a D × D SymMatrix,
   * `'diagonal'` its diagonal (length D, Σ δ² ⊗ a² per layer), `'block'` one SymMatrix per layer.
   * Dense and block use the Kronecker form Σ_n (Σ_k δ_l δ_l'ᵀ) ⊗ (ā ā'ᵀ) per layer pair.
   */
  pullbackGram(R: Float64Array, K: number, structure: 'dense' | 'diagonal' | 'block', scale: number): SymMatrix | Float64Array | SymMatrix[] {
    const rr = this.#checkStack(R, K, 'pullbackGram');
    if (structure !== 'dense' && structure !== 'diagonal' && structure !== 'block') {
      throw new TypeError(`natgrad: pullbackGram: structure must be 'dense', 'diagonal' or 'block', got ${String(structure)}`);
    }
    checkFinite(scale, 'pullbackGram: scale');
    if (structure === 'diagonal') return this.#gramDiagonal(rr, K, scale);
    const m = this.model,
      D = m.dim,
      L = m.layers.length;
    if (structure === 'dense') checkSquare(D, 'pullbackGram: dense Gram');
    else for (const g of m.groups) checkSquare(g.size, `pullbackGram: block of ${g.name}`);
    const results: number[] = [];
    try {
      if (structure === 'dense') {
        results.push(this.core.alloc(F64 * D * D));
      } else {
        for (const g of m.groups) results.push(this.core.alloc(F64 * g.size * g.size));
      }
      this.#gramKron(rr, K, scale, structure === 'dense' ? results[0]! : results, structure === 'dense');
    } catch (err) {
      for (const p of results) this.core.free(p);
      throw err;
    }
    if (structure === 'dense') return new SymMatrix(this.core, D, results[0]!);
    return m.groups.map((g, l) => new SymMatrix(this.core, g.size, results[l]!)).slice(0, L);
  }

  #gramDiagonal(R: ArrayLike<number>, K: number, scale: number): Float64Array {
    const m = this.model,
      N = this.rows,
      D = m.dim;
    const maxO = Math.max(...m.sizes.slice(1)),
      maxI = Math.max(...m.sizes.slice(0, -1));
    return this.#deltas(R, K, [F64 * D, F64 * N * maxO, F64 * N * maxI], (delta, out, sd, sq) => {
      const e = this.core.exports;
      const a = this.#addr();
      for (let l = 0; l < m.layers.length; l++) {
        const { nin, nout, w, b } = m.layers[l]!;
        e.denseRowSqSums(N, K, nout, delta(l), sd!);
        e.denseSquare(N * nin, a.act(l), sq!);
        e.dgemm(1, 0, nout, nin, N, scale, sd!, nout, sq!, nin, 0, out! + F64 * w, nin);
        e.denseColSums(N, nout, sd!, nout, scale, out! + F64 * b);
      }
      return this.core.f64(out!, D).slice();
    });
  }

  /** Kronecker-form Gram into one D × D block (dense: every pair l' ≤ l, then mirror) or per-layer blocks. */
  #gramKron(R: ArrayLike<number>, K: number, scale: number, dest: number | number[], dense: boolean): void {
    const m = this.model,
      N = this.rows,
      D = m.dim,
      L = m.layers.length;
    const lay = m.layers;
    let maxT = 1,
      maxPair = 1;
    const pairs: [number, number][] = [];
    // Rows of the Kronecker form: o·o' output pairs, only q ≤ p (packed) on a diagonal pair.
    const rowsOf = (l: number, l2: number) => (l === l2 ? (lay[l]!.nout * (lay[l]!.nout + 1)) / 2 : lay[l]!.nout * lay[l2]!.nout);
    for (let l = 0; l < L; l++) {
      for (let l2 = dense ? 0 : l; l2 <= l; l2++) {
        pairs.push([l, l2]);
        const oo = rowsOf(l, l2),
          aa = (lay[l]!.nin + 1) * (lay[l2]!.nin + 1);
        maxT = Math.max(maxT, oo * aa);
        maxPair = Math.max(maxPair, oo, aa);
      }
    }
    // Sample chunk for the per-sample outer products (S: nb × oo', W: nb × āā').
    const nb = Math.max(1, Math.min(N, Math.floor((1 << 19) / maxPair)));
    const augOff: number[] = [];
    let augN = 0;
    for (let l = 0; l < L; l++) {
      augOff.push(augN);
      augN += N * (lay[l]!.nin + 1);
    }
    checkBytes(F64 * maxT, 'pullbackGram: layer-pair block');
    this.#deltas(R, K, [F64 * maxT, F64 * nb * maxPair, F64 * nb * maxPair, F64 * Math.max(augN, 1)], (delta, t, sb, wb, aug) => {
      const e = this.core.exports;
      const a = this.#addr();
      for (let l = 0; l < L; l++) e.denseAugment(N, lay[l]!.nin, a.act(l), lay[l]!.nin, aug! + F64 * augOff[l]!);
      for (const [l, l2] of pairs) {
        const A = lay[l]!,
          B = lay[l2]!;
        const oo = rowsOf(l, l2),
          a1 = A.nin + 1,
          a2 = B.nin + 1,
          aa = a1 * a2;
        if (N === 0) e.dzero(oo, aa, t!, aa);
        for (let n0 = 0; n0 < N; n0 += nb) {
          const c = Math.min(nb, N - n0);
          if (l === l2) e.densePairOuterLower(c, K, A.nout, delta(l) + F64 * n0 * K * A.nout, sb!);
          else e.densePairOuter(c, K, A.nout, B.nout, delta(l) + F64 * n0 * K * A.nout, delta(l2) + F64 * n0 * K * B.nout, sb!);
          e.densePairOuter(c, 1, a1, a2, aug! + F64 * (augOff[l]! + n0 * a1), aug! + F64 * (augOff[l2]! + n0 * a2), wb!);
          e.dgemm(1, 0, oo, aa, c, scale, sb!, oo, wb!, aa, n0 === 0 ? 0 : 1, t!, aa);
        }
        if (dense) {
          const at = (dest as number) + F64 * (m.groups[l]!.offset * D + m.groups[l2]!.offset);
          if (l === l2) e.denseScatterKronSym(A.nout, A.nin, t!, at, D);
          else e.denseScatterKron(A.nout, A.nin, B.nout, B.nin, t!, at, D);
        } else {
          const size = m.groups[l]!.size;
          e.denseScatterKronSym(A.nout, A.nin, t!, (dest as number[])[l]!, size);
          e.dsymMirrorLower(size, (dest as number[])[l]!, size);
        }
      }
      if (dense) e.dsymMirrorLower(D, dest as number, D);
    });
  }

  /**
   * Per sample n, C_n = Σ_groups Δ̂_n diag(t_n) Δ̂_nᵀ (K × K): a layer's pullback rows are
   * δ_nk āᵀ, rank one, so in the rotated basis Σ_{o,i} S_oi (δ̂_nk,o â_i)(δ̂_nk',o â_i) =
   * Σ_o δ̂_nk,o δ̂_nk',o t_n,o with t_n = S (â_n ⊙ â_n) (+ the separate bias weights), â = U_Aᵀ ā,
   * δ̂ = U_Gᵀ δ. Cost per layer: the rotations (N p² + N K q² multiply-adds), N q p for t and
   * N K² q for the Grams — against N K D for Jacobian rows. Every product a `dgemm` in WebAssembly.
   */
  sampleGram(R: Float64Array, K: number, groups: readonly SampleGramGroup[]): Float64Array {
    const rr = this.#checkStack(R, K, 'sampleGram');
    const m = this.model,
      N = this.rows,
      L = m.layers.length;
    if (!Array.isArray(groups)) throw new TypeError('natgrad: sampleGram: groups must be an array of { group, S, biasWeights?, UG?, UA? }');
    const specs = groups.map((g, gi) => {
      checkOptions(g, `sampleGram: groups[${gi}]`, ['group', 'S', 'biasWeights', 'UG', 'UA']);
      const l = g.group;
      if (!Number.isInteger(l) || l < 0 || l >= L) throw new RangeError(`natgrad: sampleGram: groups[${gi}].group must be a layer index in 0…${L - 1}, got ${String(l)}`);
      const { nin, nout } = m.layers[l]!;
      const joint = g.S instanceof Float64Array && g.S.length === nout * (nin + 1);
      const p = joint ? nin + 1 : nin;
      checkLength(g.S, nout * p, `sampleGram: groups[${gi}].S (${nout} × ${nin + 1}, or ${nout} × ${nin} with biasWeights)`);
      if (!joint) checkLength(g.biasWeights, nout, `sampleGram: groups[${gi}].biasWeights (the bias is a separate block when S is ${nout} × ${nin})`);
      else if (g.biasWeights !== undefined) throw new RangeError(`natgrad: sampleGram: groups[${gi}]: biasWeights with a joint S (${nout} × ${nin + 1})`);
      if (g.UG !== undefined) checkLength(g.UG, nout * nout, `sampleGram: groups[${gi}].UG`);
      if (g.UA !== undefined) checkLength(g.UA, p * p, `sampleGram: groups[${gi}].UA`);
      return { l, nin, q: nout, p, g };
    });
    const maxP = Math.max(1, ...specs.map((s) => s.p)),
      maxQ = Math.max(1, ...specs.map((s) => s.q));
    checkBytes(F64 * N * K * maxQ, `sampleGram: rotated stack (${N * K} × ${maxQ} doubles)`);
    const bytes = [N * maxP, N * maxP, N * maxQ, N * K * maxQ, N * K * maxQ, maxP * maxP, maxQ * maxQ, maxQ * maxP, maxQ, N * K * K].map((n) => F64 * Math.max(n, 1));
    return this.#deltas(rr, K, bytes, (delta, aug, ah, T, Dh, Y, ua, ug, sw, sb, C) => {
      const e = this.core.exports,
        c = this.core;
      e.dzero(N * K, K, C!, K);
      for (const { l, nin, q, p, g } of specs) {
        const a = this.#addr();
        let src = a.act(l);
        if (p === nin + 1) {
          e.denseAugment(N, nin, a.act(l), nin, aug!);
          src = aug!;
        }
        if (g.UA !== undefined) {
          c.f64(ua!, p * p).set(g.UA);
          e.dgemm(0, 0, N, p, p, 1, src, p, ua!, p, 0, ah!, p);
          src = ah!;
        }
        e.denseSquare(N * p, src, ah!);
        c.f64(sw!, q * p).set(g.S);
        if (g.biasWeights !== undefined) {
          c.f64(sb!, q).set(g.biasWeights);
          e.denseBroadcastRows(N, q, sb!, T!);
        }
        e.dgemm(0, 1, N, q, p, 1, ah!, p, sw!, p, g.biasWeights !== undefined ? 1 : 0, T!, q);
        let dl = delta(l);
        if (g.UG !== undefined) {
          c.f64(ug!, q * q).set(g.UG);
          e.dgemm(0, 0, N * K, q, q, 1, dl, q, ug!, q, 0, Dh!, q);
          dl = Dh!;
        }
        e.denseMulRep(N, K, q, T!, dl, Y!);
        for (let n = 0; n < N; n++) e.dgemm(0, 1, K, K, q, 1, Y! + F64 * n * K * q, q, dl + F64 * n * K * q, q, 1, C! + F64 * n * K * K, K);
      }
      return c.f64(C!, N * K * K).slice();
    });
  }

  /**
   * Per layer: A = (1/N) Σ_n ā ā ᵀ (ā = [a_{l−1,n}; 1], bias last; with `bias: 'separate'`
   * ā = a_{l−1,n} and the bias block is G) and G = scale · Σ_{n,k} δ δᵀ with
   * δ_{l,nk} = (∂f_n/∂z_l)ᵀ R_nk. Dense layers have one position: `kfacApproximation` 'expand'
   * and 'reduce' give the same factors.
   */
  kfacFactors(R: Float64Array, K: number, scale: number, options: KfacFactorOptions = {}): LayerKfac[] {
    const rr = this.#checkStack(R, K, 'kfacFactors');
    checkFinite(scale, 'kfacFactors: scale');
    checkOptions(options, 'kfacFactors', ['kfacApproximation', 'bias']);
    const bias = options.bias ?? 'joint';
    if (bias !== 'joint' && bias !== 'separate') throw new RangeError(`natgrad: kfacFactors: bias must be 'joint' or 'separate', got ${String(bias)}`);
    const ap = options.kfacApproximation ?? 'expand';
    if (ap !== 'expand' && ap !== 'reduce') throw new RangeError(`natgrad: kfacFactors: kfacApproximation must be 'expand' or 'reduce', got ${String(ap)}`);
    const extra = bias === 'joint' ? 1 : 0;
    const m = this.model,
      N = this.rows,
      L = m.layers.length;
    const maxI = Math.max(...m.sizes.slice(0, -1));
    const owned: number[] = [];
    try {
      return this.#deltas(rr, K, [F64 * N * (maxI + 1)], (delta, aug) => {
        const e = this.core.exports;
        const ptrs: [number, number][] = [];
        for (let l = 0; l < L; l++) {
          const { nin, nout } = m.layers[l]!;
          const a1 = nin + extra;
          const pa = this.core.alloc(F64 * a1 * a1);
          owned.push(pa);
          const pg = this.core.alloc(F64 * nout * nout);
          owned.push(pg);
          const a = this.#addr();
          e.dzero(a1, a1, pa, a1);
          if (extra) {
            e.denseAugment(N, nin, a.act(l), nin, aug!);
            e.dsyrkLower(N, a1, aug!, a1, 0, 0, pa, a1);
          } else e.dsyrkLower(N, a1, a.act(l), nin, 0, 0, pa, a1);
          if (N > 0) e.dscal(a1 * a1, 1 / N, pa);
          e.dsymMirrorLower(a1, pa, a1);
          e.dzero(nout, nout, pg, nout);
          e.dsyrkLower(N * K, nout, delta(l), nout, 0, 0, pg, nout);
          e.dscal(nout * nout, scale, pg);
          e.dsymMirrorLower(nout, pg, nout);
          ptrs.push([pa, pg]);
        }
        return ptrs.map(([pa, pg], l) => ({
          A: new SymMatrix(this.core, m.layers[l]!.nin + extra, pa),
          G: new SymMatrix(this.core, m.layers[l]!.nout, pg),
          bias,
        }));
      });
    } catch (err) {
      for (const p of owned) this.core.free(p);
      throw err;
    }
  }
}

/**
 * @internal Options of the residual product: `nz[l]` whether the directions' slice of layer l
 * can be non-zero (else detected per chunk); output rows in [from, to) only; `unit` set when the
 * directions are the consecutive unit vectors e_p, p = unit, unit + 1, … of the first non-zero
 * layer's slice (the tangent pass and the layers next to it then skip the zeros of V; V's rows
 * must still hold the unit vectors, for a backward pass that goes below that layer).
 */
interface HmmOptions {
  nz?: boolean[];
  from?: number;
  to?: number;
  unit?: number;
}

/** @internal The layer tangents of the last `jvp` of a trace: v, then dZ_l and σ'_l ⊙ dZ_l per hidden layer, then J v. */
class TangentCache extends Handle {
  /** The v these tangents belong to (undefined while being computed). */
  v: Float64Array | undefined;
  readonly #offs: number[];
  readonly #out: number;
  constructor(core: Core, ptr: number, offs: number[], out: number) {
    super(core, [ptr]);
    this.#offs = offs;
    this.#out = out;
  }
  base(): number {
    return this.ptr(0);
  }
  tz(l: number): number {
    return this.ptr(0) + F64 * this.#offs[2 * l]!;
  }
  ta(l: number): number {
    return this.ptr(0) + F64 * this.#offs[2 * l + 1]!;
  }
  out(): number {
    return this.ptr(0) + F64 * this.#out;
  }
}

/** @internal A block of WebAssembly memory owned by a trace, with sub-block offsets (doubles) and the input it was computed for. */
class OwnedBlock extends Handle {
  key: Float64Array | undefined;
  readonly #offs: number[];
  constructor(core: Core, ptr: number, offs: number[]) {
    super(core, [ptr]);
    this.#offs = offs;
  }
  at(i: number): number {
    return this.ptr(0) + F64 * this.#offs[i]!;
  }
}
