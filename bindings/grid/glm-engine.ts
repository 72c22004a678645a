/**
 * The grid-search engine: one WebAssembly core advancing many optimizer runs ("lanes") in
 * lock step, SIMD across lanes (assembly/grid/grid.ts). Used in-thread by {@link gridSearch} and by
 * each of its workers (bindings/grid/grid-worker.ts); it works on plain, already validated data.
 *
 * Protocol. Each lane holds one run: θ (a column of the lane-major Θ), its step size γ, its
 * damping λ, its kind (GD; constant curvature = Gaussian NGD, whose factor of
 * XᵀX/(σ²·div) + (λ + prior/div)I is computed once per λ and copied into the lane; Bernoulli
 * NGD; EFGD) and its loss history. `gridSteps` runs steps until some lane ends; the engine
 * then reads the ended lanes' histories and refills them with the next configurations.
 *
 * Exactness. A lane's numbers depend only on its own configuration: all kernels apply the
 * same lane-wise instruction sequence to every lane, summation orders are fixed by the
 * problem (never by the number of lanes or by which lanes run together), and a factor is
 * reused only when the weights that define it are bitwise identical. So results do not depend
 * on the lane count, the order of the work or the number of workers.
 *
 * Structure used: empty input columns are dropped (their θ entries stay at 0 and their
 * factor rows are exactly √λ·e_j) when θ0 is 0 there and every λ + prior > 0; sparse inputs
 * (≤ 25 % non-zero) use CSR products and a CSR Zᵀ with Z[n][(i,j)] = x_ni x_nj, dense inputs
 * a dense Z (or, when Z would exceed 64 MiB, blocks of Z recomputed each step).
 *
 * @module
 */
import type { Core } from '../core/wasm.js';

/**
 * Optimizer names of the batched GLM engine (the general path has more: `GridMethod`, problem-grid.ts).
 *
 * @category Grid search
 */
export type GlmOptimizer = 'GD' | 'NGD' | 'EFGD';
/**
 * The GLM engine's optimizer names (the name the public API has always had for them).
 *
 * @category Grid search
 */
export type GridOptimizer = GlmOptimizer;

/** Validated problem data, plain arrays (structured-cloneable, for workers). */
export interface EngineProblem {
  N: number;
  /** Columns of X (bias included). */
  D: number;
  /** Row-major N × D, when dense. */
  dense?: Float64Array;
  /** CSR, when sparse. */
  csr?: { indptr: Int32Array; indices: Int32Array; values: Float64Array };
  y: Float64Array;
  likelihood: 'gaussian' | 'bernoulli';
  variance: number;
  clip: number;
  priorVariance: number;
  reduction: 'mean' | 'sum';
}

/** Validated run settings (structured-cloneable). */
export interface EngineRuns {
  optimizers: GlmOptimizer[];
  lrs: number[];
  dampings: number[];
  iterations: number;
  divergenceFactor: number;
  theta0?: Float64Array;
}

/** One finished run as the engine reports it. */
export interface RawRun {
  index: number;
  losses: Float64Array;
  status: 'ok' | 'diverged' | 'failed';
  reason?: string;
}

/** Counters (lane-iterations etc.) for benchmarks. */
export interface EngineStats {
  /** Loss evaluations (= recorded losses). */
  evals: number;
  /** Lanes whose curvature was rebuilt and factorized. */
  factorizations: number;
  /** Curvature reuses (weights bitwise unchanged). */
  reuses: number;
  /** Calls of the step kernel. */
  steps: number;
}

/** Where configuration `index` (grid order) lives. */
export interface GridConfig {
  optimizer: GlmOptimizer;
  lrIndex: number;
  /** −1 for GD. */
  dampingIndex: number;
}

/** Number of runs of each optimizer and their offsets, in grid order. */
export function gridLayout(runs: Pick<EngineRuns, 'optimizers' | 'lrs' | 'dampings'>): { total: number; offsets: number[]; counts: number[] } {
  const offsets: number[] = [],
    counts: number[] = [];
  let total = 0;
  for (const o of runs.optimizers) {
    const c = o === 'GD' ? runs.lrs.length : runs.lrs.length * runs.dampings.length;
    offsets.push(total);
    counts.push(c);
    total += c;
  }
  return { total, offsets, counts };
}

/** The configuration at grid index `index` (optimizer, then lr, then damping). */
export function gridConfig(runs: Pick<EngineRuns, 'optimizers' | 'lrs' | 'dampings'>, index: number): GridConfig {
  const nd = runs.dampings.length;
  let off = 0;
  for (const o of runs.optimizers) {
    const c = o === 'GD' ? runs.lrs.length : runs.lrs.length * nd;
    if (index < off + c) {
      const i = index - off;
      return o === 'GD' ? { optimizer: o, lrIndex: i, dampingIndex: -1 } : { optimizer: o, lrIndex: Math.floor(i / nd), dampingIndex: i % nd };
    }
    off += c;
  }
  throw new RangeError(`natgrad: grid index ${index} out of range`);
}

// Descriptor fields: keep in sync with assembly/grid/grid.ts.
const F = {
  N: 0,
  D: 1,
  K: 2,
  P: 3,
  SPARSE: 4,
  LIK: 5,
  INVVAR: 6,
  HALFINVVAR: 7,
  CLIP: 8,
  DIV: 9,
  PRIOR: 10,
  ITERS: 11,
  FACTOR: 12,
  YBIN: 13,
  Y: 14,
  XT: 15,
  X: 16,
  Z: 17,
  ZNB: 18,
  ZFULL: 19,
  XIP: 20,
  XIX: 21,
  XV: 22,
  TIP: 23,
  TIX: 24,
  TV: 25,
  ZIP: 26,
  ZIX: 27,
  ZV: 28,
  THETA: 29,
  G: 30,
  R: 31,
  W: 32,
  WPREV: 33,
  WC: 34,
  CC: 35,
  PS: 36,
  LSLOT: 37,
  DELTA: 38,
  INV: 39,
  STATE: 40,
  KIND: 41,
  T: 42,
  GAMMA: 43,
  LAM: 44,
  LOSS0: 45,
  THRESH: 46,
  MEMO: 47,
  INFO: 48,
  PIVOT: 49,
  HIST: 50,
  LOSSACC: 51,
  CMAP: 52,
  CINFO: 53,
  CLAM: 54,
  STAT_EVALS: 55,
  STAT_CURV: 56,
  STAT_HITS: 57,
  STAT_STEPS: 58,
  EFMASK: 59,
  FIRST: 60,
  COUNT: 61,
} as const;

const S_IDLE = 0,
  S_FRESH = 1,
  S_DONE = 3;
const K_GD = 0,
  K_CONST = 1,
  K_FISHER = 2,
  K_EF = 3;
const R_OK = 1,
  R_DIVERGED = 2,
  R_NOTPD = 3,
  R_NAN = 4;

/** Largest dense Z kept whole (bytes); beyond, blocks are recomputed each step. */
const Z_FULL_LIMIT = 64 * 2 ** 20;
/**
 * Rows of Z per block of the curvature product: one block's column strip and weights stay in
 * L1 while the lanes sweep over it. Fixed (never tied to the lane count): it sets the
 * summation order.
 */
const Z_BLOCK_ROWS = 64;

/** CSR transpose: rows × cols → cols × rows. */
function transposeCsr(rows: number, cols: number, indptr: Int32Array, indices: Int32Array, values: Float64Array): { indptr: Int32Array; indices: Int32Array; values: Float64Array } {
  const nnz = indptr[rows]!;
  const tp = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) tp[indices[p]! + 1]!++;
  for (let j = 0; j < cols; j++) tp[j + 1]! += tp[j]!;
  const next = tp.slice(0, cols);
  const ti = new Int32Array(nnz),
    tv = new Float64Array(nnz);
  for (let i = 0; i < rows; i++) {
    for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
      const q = next[indices[p]!]!++;
      ti[q] = i;
      tv[q] = values[p]!;
    }
  }
  return { indptr: tp, indices: ti, values: tv };
}

/** A grid-search engine bound to one core. Allocates everything up front; `free()` when done. */
export class GridEngine {
  readonly core: Core;
  readonly lanes: number;
  readonly runs: EngineRuns;
  /** Columns kept (original indices), after dropping empty ones. */
  readonly columns: Int32Array;
  readonly sparse: boolean;
  readonly #ptrs: number[] = [];
  readonly #ws: number;
  /** @internal descriptor address (benchmarks). */
  get wsPtr(): number {
    return this.#ws;
  }
  readonly #d: number;
  readonly #n: number;
  readonly #ps: number;
  readonly #tp: number;
  readonly #div: number;
  readonly #priorPrec: number;
  readonly #lik: 'gaussian' | 'bernoulli';
  /** Per-lane grid index, −1 when idle. */
  readonly #laneRun: Int32Array;
  /** Constant factors (Gaussian NGD): pair-blocked table per damping, and their statuses. */
  #tab = 0;
  #tabInfo: Int32Array = new Int32Array(0);
  #theta0: Float64Array;
  #freed = false;

  /**
   * @param lanes runs advanced together (a multiple of 4); results do not depend on it.
   * @param options.zFullBytes largest dense Z kept whole (default 64 MiB); beyond, blocks of
   *   Z are recomputed every step (the same numbers, less memory).
   */
  constructor(core: Core, problem: EngineProblem, runs: EngineRuns, lanes = 16, options: { zFullBytes?: number } = {}) {
    if (!Number.isInteger(lanes) || lanes % 4 !== 0 || lanes < 4 || lanes > 128) throw new RangeError('natgrad: lanes must be a multiple of 4 in [4, 128]');
    this.core = core;
    this.lanes = lanes;
    this.runs = runs;
    this.#lik = problem.likelihood;
    const N = problem.N,
      D0 = problem.D,
      K = lanes;
    this.#n = N;
    this.#div = problem.reduction === 'mean' ? N : 1;
    this.#priorPrec = problem.priorVariance === Infinity ? 0 : 1 / problem.priorVariance;

    // Empty columns.
    const used = new Uint8Array(D0);
    if (problem.csr) {
      const { indptr, indices, values } = problem.csr;
      for (let p = 0; p < indptr[N]!; p++) if (values[p] !== 0) used[indices[p]!] = 1;
    } else {
      const X = problem.dense!;
      for (let i = 0; i < N; i++) for (let j = 0; j < D0; j++) if (X[i * D0 + j] !== 0) used[j] = 1;
    }
    const curv = runs.optimizers.some((o) => o !== 'GD');
    const minLam = curv && runs.dampings.length ? Math.min(...runs.dampings) + this.#priorPrec / this.#div : 1;
    let drop = minLam > 0;
    if (runs.theta0) for (let j = 0; j < D0; j++) if (!used[j] && runs.theta0[j] !== 0) drop = false;
    let cols: number[] = [];
    for (let j = 0; j < D0; j++) if (used[j] || !drop) cols.push(j);
    const sparseInput = problem.csr !== undefined && problem.csr.indptr[N]! <= 0.25 * N * cols.length;
    // Sparse inputs: order the parameters by ascending degree in the pattern of the curvature
    // (∪_n nz(x_n) × nz(x_n)), which keeps the Cholesky factor inside a narrow envelope
    // (a1a: 145k instead of 247k multiply-adds per factorization).
    let first: Int32Array | undefined;
    if (sparseInput && cols.length <= 2048) {
      const { indptr, indices, values } = problem.csr!;
      const d = cols.length;
      const pos = new Int32Array(D0).fill(-1);
      cols.forEach((j, k) => {
        pos[j] = k;
      });
      const adj = new Uint8Array(d * d);
      const row: number[] = [];
      for (let i = 0; i < N; i++) {
        row.length = 0;
        for (let p = indptr[i]!; p < indptr[i + 1]!; p++) if (values[p] !== 0 && pos[indices[p]!]! >= 0) row.push(pos[indices[p]!]!);
        for (const a of row) for (const b of row) adj[a * d + b] = 1;
      }
      const deg = new Int32Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) deg[a]! += adj[a * d + b]!;
      const order = Array.from({ length: d }, (_, k) => k).sort((a, b) => deg[a]! - deg[b]! || a - b);
      cols = order.map((k) => cols[k]!);
      first = new Int32Array(d);
      for (let a = 0; a < d; a++) {
        let f = a;
        for (let b = 0; b < a; b++)
          if (adj[order[a]! * d + order[b]!]) {
            f = b;
            break;
          }
        first[a] = f;
      }
    }
    this.columns = Int32Array.from(cols);
    const d = cols.length;
    this.#d = d;
    const map = new Int32Array(D0).fill(-1);
    cols.forEach((j, k) => {
      map[j] = k;
    });
    this.#theta0 = new Float64Array(d);
    if (runs.theta0)
      cols.forEach((j, k) => {
        this.#theta0[k] = runs.theta0![j]!;
      });

    // Compressed inputs: CSR (sparse path, column indices sorted in the new order) or dense.
    let csr: { indptr: Int32Array; indices: Int32Array; values: Float64Array } | undefined;
    let dense: Float64Array | undefined;
    if (problem.csr) {
      const { indptr, indices, values } = problem.csr;
      if (sparseInput) {
        const ip = new Int32Array(N + 1),
          ix: number[] = [],
          iv: number[] = [];
        const entries: [number, number][] = [];
        for (let i = 0; i < N; i++) {
          entries.length = 0;
          for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
            if (values[p] === 0 || map[indices[p]!]! < 0) continue;
            entries.push([map[indices[p]!]!, values[p]!]);
          }
          entries.sort((a, b) => a[0] - b[0]);
          for (const [j, v] of entries) {
            ix.push(j);
            iv.push(v);
          }
          ip[i + 1] = ix.length;
        }
        csr = { indptr: ip, indices: Int32Array.from(ix), values: Float64Array.from(iv) };
      } else {
        dense = new Float64Array(N * d);
        for (let i = 0; i < N; i++)
          for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
            const k = map[indices[p]!]!;
            if (k >= 0) dense[i * d + k]! += values[p]!;
          }
      }
    } else {
      const X = problem.dense!;
      dense = new Float64Array(N * d);
      for (let i = 0; i < N; i++) for (let k = 0; k < d; k++) dense[i * d + k] = X[i * D0 + cols[k]!]!;
    }
    this.sparse = csr !== undefined;
    const P = (d * (d + 1)) / 2;
    this.#tp = P;
    const ps = 2 * P;
    this.#ps = ps;

    const alloc = (bytes: number): number => {
      const p = core.alloc(Math.max(bytes, 16));
      this.#ptrs.push(p);
      return p;
    };
    const f64 = (data: ArrayLike<number>): number => {
      const p = alloc(8 * data.length);
      core.f64(p, data.length).set(data);
      return p;
    };
    const i32 = (data: ArrayLike<number>): number => {
      const p = alloc(4 * data.length);
      core.i32(p, data.length).set(data);
      return p;
    };

    try {
      const iters = runs.iterations;
      const desc = new Float64Array(F.COUNT);
      desc[F.N] = N;
      desc[F.D] = d;
      desc[F.K] = K;
      desc[F.P] = P;
      desc[F.SPARSE] = this.sparse ? 1 : 0;
      desc[F.LIK] = problem.likelihood === 'gaussian' ? 0 : 1;
      desc[F.INVVAR] = 1 / problem.variance;
      desc[F.HALFINVVAR] = 0.5 / problem.variance;
      desc[F.CLIP] = problem.clip;
      desc[F.DIV] = this.#div;
      desc[F.PRIOR] = this.#priorPrec;
      desc[F.ITERS] = iters;
      desc[F.FACTOR] = runs.divergenceFactor;
      desc[F.YBIN] = problem.y.every((v) => v === 0 || v === 1) ? 1 : 0;
      desc[F.Y] = f64(problem.y);
      const needCurv = runs.optimizers.includes('EFGD') || runs.optimizers.includes('NGD');
      if (csr) {
        // Binary data (every value 1): value pointers 0, the kernels add instead of multiplying.
        const unit = csr.values.every((v) => v === 1);
        desc[F.XIP] = i32(csr.indptr);
        desc[F.XIX] = i32(csr.indices);
        desc[F.XV] = unit ? 0 : f64(csr.values);
        const t = transposeCsr(N, d, csr.indptr, csr.indices, csr.values);
        desc[F.TIP] = i32(t.indptr);
        desc[F.TIX] = i32(t.indices);
        desc[F.TV] = unit ? 0 : f64(t.values);
        if (needCurv) {
          // Zᵀ in CSR: row e = (i, j) lists the samples with x_ni x_nj ≠ 0, in increasing n.
          const cnt = new Int32Array(P + 1);
          for (let n = 0; n < N; n++) {
            for (let p = csr.indptr[n]!; p < csr.indptr[n + 1]!; p++) {
              const i = csr.indices[p]!,
                base = (i * (i + 1)) / 2;
              for (let q = csr.indptr[n]!; q <= p; q++) cnt[base + csr.indices[q]! + 1]!++;
            }
          }
          for (let e = 0; e < P; e++) cnt[e + 1]! += cnt[e]!;
          const next = cnt.slice(0, P);
          const zi = new Int32Array(cnt[P]!),
            zv = new Float64Array(cnt[P]!);
          for (let n = 0; n < N; n++) {
            for (let p = csr.indptr[n]!; p < csr.indptr[n + 1]!; p++) {
              const i = csr.indices[p]!,
                base = (i * (i + 1)) / 2,
                vi = csr.values[p]!;
              for (let q = csr.indptr[n]!; q <= p; q++) {
                const s = next[base + csr.indices[q]!]!++;
                zi[s] = n;
                zv[s] = vi * csr.values[q]!;
              }
            }
          }
          desc[F.ZIP] = i32(cnt);
          desc[F.ZIX] = i32(zi);
          desc[F.ZV] = unit ? 0 : f64(zv);
        }
      } else {
        const X = dense!;
        desc[F.X] = f64(X);
        const Xt = new Float64Array(N * d);
        for (let i = 0; i < N; i++) for (let j = 0; j < d; j++) Xt[j * N + i] = X[i * d + j]!;
        desc[F.XT] = f64(Xt);
        if (needCurv) {
          const full = N * P * 8 <= (options.zFullBytes ?? Z_FULL_LIMIT);
          const nb = Math.min(N, Z_BLOCK_ROWS);
          desc[F.ZNB] = nb;
          desc[F.ZFULL] = full ? 1 : 0;
          if (full) {
            const zp = alloc(8 * N * P);
            core.exports.gridZRows(0, N, d, desc[F.X]!, d, zp, P);
            desc[F.Z] = zp;
          } else {
            desc[F.Z] = alloc(8 * nb * P);
          }
        }
      }
      desc[F.THETA] = alloc(8 * d * K);
      desc[F.G] = alloc(8 * d * K);
      desc[F.R] = alloc(8 * N * K);
      desc[F.W] = alloc(8 * N * K);
      desc[F.WPREV] = alloc(8 * N * K);
      desc[F.WC] = alloc(8 * N * K);
      desc[F.CC] = needCurv ? alloc(8 * (K / 2) * ps) : 0;
      desc[F.PS] = ps;
      desc[F.LSLOT] = needCurv ? alloc(8 * (K / 2) * ps) : 0;
      desc[F.DELTA] = alloc(16 * (K / 2) * d);
      desc[F.INV] = alloc(16 * d);
      desc[F.STATE] = alloc(4 * K);
      desc[F.KIND] = alloc(4 * K);
      desc[F.T] = alloc(4 * K);
      desc[F.GAMMA] = alloc(8 * K);
      desc[F.LAM] = alloc(8 * K);
      desc[F.LOSS0] = alloc(8 * K);
      desc[F.THRESH] = alloc(8 * K);
      desc[F.MEMO] = alloc(4 * K);
      desc[F.INFO] = alloc(4 * K);
      desc[F.PIVOT] = alloc(4 * K);
      desc[F.HIST] = alloc(8 * K * (iters + 1));
      desc[F.LOSSACC] = alloc(8 * K);
      desc[F.CMAP] = alloc(4 * K);
      desc[F.CINFO] = alloc(4 * K);
      desc[F.CLAM] = alloc(8 * K);
      desc[F.EFMASK] = alloc(8 * K);
      desc[F.FIRST] = first ? i32(first) : 0;
      this.#ws = f64(desc);
      // Zero all lane state (memory from the allocator is not cleared).
      const zero = (f: number, bytes: number) => new Uint8Array(core.exports.memory.buffer, desc[f]!, bytes).fill(0);
      zero(F.THETA, 8 * d * K);
      zero(F.G, 8 * d * K);
      zero(F.R, 8 * N * K);
      zero(F.W, 8 * N * K);
      zero(F.WPREV, 8 * N * K);
      zero(F.WC, 8 * N * K);
      zero(F.DELTA, 16 * (K / 2) * d);
      if (needCurv) {
        zero(F.CC, 8 * (K / 2) * ps);
        zero(F.LSLOT, 8 * (K / 2) * ps);
      }
      for (const f of [F.STATE, F.KIND, F.T, F.MEMO, F.INFO, F.PIVOT, F.CMAP, F.CINFO]) zero(f, 4 * K);
      for (const f of [F.GAMMA, F.LAM, F.LOSS0, F.THRESH, F.LOSSACC, F.CLAM]) zero(f, 8 * K);

      if (problem.likelihood === 'gaussian' && runs.optimizers.includes('NGD')) this.#constantFactors(desc, problem.variance);
    } catch (e) {
      for (const p of this.#ptrs) core.free(p);
      this.#ptrs.length = 0;
      throw e;
    }
    this.#laneRun = new Int32Array(K).fill(-1);
  }

  /** Gaussian NGD: factor XᵀX/(σ²·div) + (λ + prior/div)I once per damping (pair-blocked table). */
  #constantFactors(desc: Float64Array, variance: number): void {
    const core = this.core,
      k = core.exports;
    const nd = this.runs.dampings.length;
    const npairs = Math.ceil(nd / 2);
    const d = this.#d,
      N = this.#n,
      P = this.#tp,
      ps = this.#ps;
    const tab = core.alloc(8 * Math.max(npairs, 1) * ps);
    this.#ptrs.push(tab);
    this.#tab = tab;
    // C = Σ_n (1/σ²) z_n on 4 lanes (weights in the compact buffer), then copied to every lane.
    const wc = desc[F.WC]!,
      cc = desc[F.CC]!,
      K = this.lanes;
    const W = core.f64(wc, N * K);
    W.fill(0);
    for (let i = 0; i < N; i++) for (let l = 0; l < 4; l++) W[i * K + l] = 1 / variance;
    if (this.sparse) {
      k.gridSpmm(P, 4, desc[F.ZIP]!, desc[F.ZIX]!, desc[F.ZV]!, wc, K, cc, 2, ps);
    } else {
      const nb = desc[F.ZNB]!,
        full = desc[F.ZFULL] === 1;
      for (let n0 = 0; n0 < N; n0 += nb) {
        const m = Math.min(nb, N - n0);
        let zb = desc[F.Z]!;
        if (full) zb += 8 * n0 * P;
        else k.gridZRows(n0, m, d, desc[F.X]!, d, zb, P);
        k.gridGemmTn(m, P, 4, zb, P, wc + 8 * n0 * K, K, cc, 2, ps, n0 > 0 ? 1 : 0);
      }
    }
    const C = core.f64(cc, ps).slice();
    const T = core.f64(tab, npairs * ps);
    for (let di = 0; di < 2 * npairs; di++) {
      const base = (di >> 1) * ps + (di & 1);
      for (let e = 0; e < P; e++) T[base + 2 * e] = C[2 * e]!;
    }
    const lam = core.alloc(16 * npairs),
      info = core.alloc(8 * npairs);
    try {
      const L = core.f64(lam, 2 * npairs);
      for (let di = 0; di < 2 * npairs; di++) L[di] = (di < nd ? this.runs.dampings[di]! : 1) + this.#priorPrec / this.#div;
      k.gridPotrf(d, npairs, tab, ps, this.#div, lam, info, desc[F.INV]!, desc[F.FIRST]!);
      this.#tabInfo = core.i32(info, 2 * npairs).slice();
    } finally {
      core.free(lam);
      core.free(info);
    }
  }

  /** Put configuration `index` into lane `l`. */
  #assign(l: number, index: number): void {
    const core = this.core,
      K = this.lanes,
      d = this.#d;
    const desc = core.f64(this.#ws, F.COUNT);
    const cfg = gridConfig(this.runs, index);
    const kind = cfg.optimizer === 'GD' ? K_GD : cfg.optimizer === 'EFGD' ? K_EF : this.#lik === 'gaussian' ? K_CONST : K_FISHER;
    const lam = cfg.dampingIndex >= 0 ? this.runs.dampings[cfg.dampingIndex]! + this.#priorPrec / this.#div : 0;
    const theta = core.f64(desc[F.THETA]!, d * K);
    for (let j = 0; j < d; j++) theta[j * K + l] = this.#theta0[j]!;
    core.i32(desc[F.STATE]!, K)[l] = S_FRESH;
    core.i32(desc[F.KIND]!, K)[l] = kind;
    core.i32(desc[F.T]!, K)[l] = 0;
    core.i32(desc[F.MEMO]!, K)[l] = 0;
    core.i32(desc[F.INFO]!, K)[l] = 0;
    core.i32(desc[F.PIVOT]!, K)[l] = kind === K_CONST ? this.#tabInfo[cfg.dampingIndex]! : 0;
    core.f64(desc[F.GAMMA]!, K)[l] = this.runs.lrs[cfg.lrIndex]!;
    core.f64(desc[F.LAM]!, K)[l] = lam;
    if (kind === K_CONST && this.#tabInfo[cfg.dampingIndex] === 0) {
      const ps = this.#ps,
        P = this.#tp;
      const src = core.f64(this.#tab + 8 * ((cfg.dampingIndex >> 1) * ps + (cfg.dampingIndex & 1)), 2 * P);
      const dst = core.f64(desc[F.LSLOT]! + 8 * ((l >> 1) * ps + (l & 1)), 2 * P);
      for (let e = 0; e < P; e++) dst[2 * e] = src[2 * e]!;
    }
    this.#laneRun[l] = index;
  }

  /** Read lane `l`'s finished run. */
  #harvest(l: number): RawRun {
    const core = this.core,
      K = this.lanes,
      iters = this.runs.iterations;
    const desc = core.f64(this.#ws, F.COUNT);
    const t = core.i32(desc[F.T]!, K)[l]!;
    const info = core.i32(desc[F.INFO]!, K)[l]!;
    const losses = core.f64(desc[F.HIST]! + 8 * l * (iters + 1), t + 1).slice();
    const index = this.#laneRun[l]!;
    this.#laneRun[l] = -1;
    core.i32(desc[F.STATE]!, K)[l] = S_IDLE;
    if (info === R_OK) return { index, losses, status: 'ok' };
    if (info === R_DIVERGED) return { index, losses, status: 'diverged' };
    if (info === R_NAN) return { index, losses, status: 'failed', reason: `loss is NaN at iteration ${t}` };
    if (info === R_NOTPD) {
      const pivot = core.i32(desc[F.PIVOT]!, K)[l]!;
      const col = this.columns[pivot - 1] ?? pivot - 1;
      return {
        index,
        losses,
        status: 'failed',
        reason: `curvature + damping is not positive definite at iteration ${t + 1} (Cholesky pivot ${pivot} of ${this.#d}, parameter ${col})`,
      };
    }
    throw new Error(`natgrad: internal error: lane ${l} ended with reason ${info}`);
  }

  /**
   * Fill idle lanes from `next()` (a grid index, or −1 when there is no more work), run steps
   * for about `budgetMs` milliseconds, report finished runs through `emit`.
   * @returns true when `next()` is exhausted and every lane is idle.
   */
  pump(next: () => number, emit: (run: RawRun) => void, budgetMs: number): boolean {
    if (this.#freed) throw new Error('natgrad: GridEngine was freed');
    const K = this.lanes,
      k = this.core.exports;
    let exhausted = false;
    const fill = (): number => {
      let live = 0;
      for (let l = 0; l < K; l++) {
        if (this.#laneRun[l]! < 0 && !exhausted) {
          const idx = next();
          if (idx < 0) exhausted = true;
          else this.#assign(l, idx);
        }
        if (this.#laneRun[l]! >= 0) live++;
      }
      return live;
    };
    const t0 = performance.now();
    let live = fill();
    while (live > 0) {
      const ret = k.gridSteps(this.#ws, 64);
      if ((ret & 0xffff) > 0) {
        const state = this.core.i32(this.core.f64(this.#ws, F.COUNT)[F.STATE]!, K);
        const ended: number[] = [];
        for (let l = 0; l < K; l++) if (state[l] === S_DONE) ended.push(l);
        for (const l of ended) emit(this.#harvest(l));
        live = fill();
      }
      if (performance.now() - t0 >= budgetMs) break;
    }
    return live === 0 && exhausted;
  }

  /** Counters since construction. */
  stats(): EngineStats {
    const desc = this.core.f64(this.#ws, F.COUNT);
    return { evals: desc[F.STAT_EVALS]!, factorizations: desc[F.STAT_CURV]!, reuses: desc[F.STAT_HITS]!, steps: desc[F.STAT_STEPS]! };
  }

  /** Release the WebAssembly memory. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    for (const p of this.#ptrs) this.core.free(p);
    this.#ptrs.length = 0;
  }
}
