/**
 * Mini-batch optimization on top of the full-batch optimizers, and the stochastic preconditioners
 * of the paper's §5 (Eq. 18–19) and of Adam.
 *
 * {@link stochasticRun} runs any optimizer — built by a factory `(problem) => Optimizer`, so one of
 * this package's or your own — on mini-batches: each epoch draws a permutation of 0..N−1 from
 * `rng(seed)` (xoshiro256**; Fisher–Yates, one generator for the whole run, so a seed fixes every
 * epoch), cuts it into ⌈N/B⌉ consecutive batches (the last one smaller when B ∤ N), sorts each
 * batch's indices, and does one optimizer step per batch on that batch's problem: the gradient
 * AND the curvature of step k come from batch k. The optimizer keeps its state across batches
 * (iteration count, KFAC factors, Adam moments, adaptive λ). With `'mean'` the batch problem's
 * prior variance is σp²·N/B, so that its loss (1/B)(Σ_batch ℓ_n + ‖θ‖²/(2σp²·N/B)) =
 * (1/B) Σ_batch ℓ_n + ‖θ‖²/(2Nσp²) is an unbiased estimate of L(θ).
 *
 * With B ≥ N every batch is 0..N−1 in order and the problem is the full one, so the iterates are
 * exactly — bit for bit — those of `optimizer.run` on the full problem.
 *
 * Cost per step: one forward/backward pass on the batch for the gradient (the optimizer's own
 * `update` computes one more at the new θ on the same batch, which the next batch replaces), the
 * optimizer's curvature work on B samples, and a full-data loss at each evaluation point.
 *
 * @module
 */
import { IllConditionedError, NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import type { DenseMatrix, CsrMatrix, VectorInput } from '../core/types.js';
import { isCsr } from '../core/types.js';
import { checkScalar, toVector } from '../core/validate.js';
import { rng } from '../data/random.js';
import { curvatureOperator } from '../operators/curvature.js';
import { problem as makeProblem, type ProblemOptions } from '../problem/problem.js';
import type { Problem } from '../problem/types.js';
import { cg } from '../solvers/cg.js';
import { ConvergenceError } from '../solvers/errors.js';
import { makeOptimizer, type Optimizer, type OptimizerOptions, type OptimizerState } from './optimizers.js';

/** Options of {@link stochasticRun}. */
export interface StochasticOptions {
  /** B ≥ 1 samples per step (B ≥ N: full batch). */
  batchSize: number;
  /** Passes over the data (integer ≥ 0). */
  epochs: number;
  /** Seed of the sampling (default 0). */
  seed?: number;
  /** Full-data loss evaluations per epoch, evenly spaced in steps (default 1: at each epoch's end). */
  evaluationsPerEpoch?: number;
  /** Stop once the full-data loss exceeds factor × its initial value (the paper's rule). */
  divergenceFactor?: number;
  /** Keep θ after every step (`thetas`). */
  recordTheta?: boolean;
  signal?: AbortSignal;
  /** Called after every step. */
  onProgress?: (p: { step: number; steps: number }) => void;
}

/** What {@link stochasticRun} returns. */
export interface StochasticRecord {
  /** Full-data L(θ) at the evaluation points, the first at θ0. */
  losses: number[];
  /** Per-sample gradient evaluations (Σ of the batch sizes) before each entry of `losses`. */
  evaluations: number[];
  /** Steps done before each entry of `losses`. */
  steps: number[];
  /** The batch loss of every step (at the θ the step starts from). */
  batchLosses: number[];
  /** θ after every step, with `recordTheta` (θ_1, θ_2, …; θ_0 is the start). */
  thetas?: Float64Array[];
  /** 'ok', 'stopped' (the divergence rule fired), 'failed' (a step failed: see `reason`), 'aborted' (the signal). */
  status: 'ok' | 'stopped' | 'failed' | 'aborted';
  reason?: string;
  /** The last iterate. */
  theta: Float64Array;
}

function rowsOf(X: ProblemOptions['X'], N: number): { take(idx: Int32Array): DenseMatrix | CsrMatrix } {
  if (Array.isArray(X)) {
    const rows = X as number[][];
    const cols = rows[0]?.length ?? 0;
    const data = new Float64Array(N * cols);
    rows.forEach((r, i) => data.set(r, i * cols));
    return rowsOf({ data, rows: N, cols }, N);
  }
  if (isCsr(X)) {
    const { indptr, indices, values, cols } = X;
    return {
      take(idx) {
        let nnz = 0;
        for (const i of idx) nnz += indptr[i + 1]! - indptr[i]!;
        const ip = new Int32Array(idx.length + 1),
          ix = new Int32Array(nnz),
          v = new Float64Array(nnz);
        let k = 0;
        idx.forEach((i, r) => {
          for (let t = indptr[i]!; t < indptr[i + 1]!; t++, k++) {
            ix[k] = indices[t]!;
            v[k] = values[t]!;
          }
          ip[r + 1] = k;
        });
        return { rows: idx.length, cols, indptr: ip, indices: ix, values: v };
      },
    };
  }
  const d = X as DenseMatrix;
  if (!(d?.data && typeof d.rows === 'number')) throw new TypeError('natgrad: stochasticRun: X must be { data, rows, cols }, number[][] or CSR');
  return {
    take(idx) {
      const out = new Float64Array(idx.length * d.cols);
      idx.forEach((i, r) => out.set(d.data.subarray(i * d.cols, (i + 1) * d.cols), r * d.cols));
      return { data: out, rows: idx.length, cols: d.cols };
    },
  };
}

function numRows(X: ProblemOptions['X']): number {
  if (Array.isArray(X)) return X.length;
  return (X as { rows: number }).rows;
}

/**
 * The batches of one run: `epochs` lists of ⌈N/B⌉ sorted index arrays (see the module
 * documentation). Exposed so that tests and figures can see exactly what was sampled.
 */
export function batchSchedule(N: number, batchSize: number, epochs: number, seed = 0): Int32Array[][] {
  if (!Number.isSafeInteger(N) || N < 1) throw new RangeError(`natgrad: N must be an integer ≥ 1, got ${String(N)}`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`natgrad: batchSize must be an integer ≥ 1, got ${String(batchSize)}`);
  if (!Number.isSafeInteger(epochs) || epochs < 0) throw new RangeError(`natgrad: epochs must be an integer ≥ 0, got ${String(epochs)}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: seed must be a safe integer, got ${String(seed)}`);
  const B = Math.min(batchSize, N);
  const g = rng(seed);
  const out: Int32Array[][] = [];
  for (let e = 0; e < epochs; e++) {
    const perm = Int32Array.from({ length: N }, (_, i) => i);
    if (B < N) {
      for (let i = N - 1; i > 0; i--) {
        const j = Math.floor(g.uniform() * (i + 1));
        const t = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = t;
      }
    }
    const batches: Int32Array[] = [];
    for (let s = 0; s < N; s += B) batches.push(perm.slice(s, Math.min(N, s + B)).sort());
    out.push(batches);
  }
  return out;
}

/**
 * Run `make(problem)`'s optimizer on mini-batches of `spec`'s data from θ0 (see the module
 * documentation for the sampling, the batch problems and the B ≥ N guarantee).
 * @param spec the full problem's options, as for {@link problem} (X dense, number[][] or CSR for the linear model)
 * @param make builds the optimizer on a problem (called once, on a view whose data change per batch)
 * @returns the full-data losses at the evaluation points against gradient evaluations, the batch losses, the status
 * @throws RangeError for bad options, `'sum'` reduction with B < N (the batch loss would not estimate L)
 * @example
 * const rec = stochasticRun({ model, X, y, likelihood: bernoulli() }, (p) => gd(p, { lr: 0.1 }), model.init(0), { batchSize: 32, epochs: 5, seed: 1 });
 * rec.losses; // L(θ) after 0, 1, …, 5 epochs; rec.evaluations = [0, N, 2N, …]
 */
export function stochasticRun(spec: ProblemOptions, make: (p: Problem) => Optimizer, theta0: VectorInput, options: StochasticOptions): StochasticRecord {
  const N = numRows(spec.X);
  const seed = options.seed ?? 0;
  const schedule = batchSchedule(N, options.batchSize, options.epochs, seed);
  const B = Math.min(options.batchSize, N);
  const per = options.evaluationsPerEpoch ?? 1;
  if (!Number.isSafeInteger(per) || per < 1) throw new RangeError(`natgrad: evaluationsPerEpoch must be an integer ≥ 1, got ${String(per)}`);
  const reduction = spec.reduction ?? 'mean';
  if (reduction === 'sum' && B < N) throw new RangeError("natgrad: stochasticRun: the 'sum' reduction needs B ≥ N (a batch sum does not estimate the full sum); use 'mean'");
  const factor = options.divergenceFactor;
  if (factor !== undefined) checkScalar(factor, 'divergenceFactor', 'positive');
  const sigma2 = spec.priorVariance ?? Infinity;
  const full = makeProblem(spec);
  const X = rowsOf(spec.X, N);
  const yAll = spec.y instanceof Float64Array || Array.isArray(spec.y) ? Float64Array.from(spec.y as ArrayLike<number>) : (spec.y as DenseMatrix).data;
  const M = yAll.length / N;
  const build = (idx: Int32Array): Problem => {
    if (idx.length === N) return full;
    const y = new Float64Array(idx.length * M);
    idx.forEach((i, r) => y.set(yAll.subarray(i * M, (i + 1) * M), r * M));
    const pv = sigma2 === Infinity ? Infinity : sigma2 * (N / idx.length);
    return makeProblem({ ...spec, X: X.take(idx), y: M > 1 ? { data: y, rows: idx.length, cols: M } : y, priorVariance: pv, reduction });
  };
  let current: Problem = full;
  const view = new Proxy({} as Problem, {
    get(_t, key) {
      const v = (current as unknown as Record<PropertyKey, unknown>)[key];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(current) : v;
    },
    has(_t, key) {
      return key in current;
    },
  });
  const steps = schedule.reduce((n, e) => n + e.length, 0);
  const rec: StochasticRecord = { losses: [], evaluations: [], steps: [], batchLosses: [], status: 'ok', theta: toVector(theta0, full.dim, 'theta0').slice() };
  if (options.recordTheta) rec.thetas = [];
  try {
    const initial = full.loss(rec.theta);
    rec.losses.push(initial);
    rec.evaluations.push(0);
    rec.steps.push(0);
    if (steps === 0) return rec;
    current = build(schedule[0]![0]!);
    const opt = make(view);
    let state: OptimizerState = opt.init(rec.theta);
    let done = 0,
      evals = 0;
    outer: for (const epoch of schedule) {
      const marks = new Set(Array.from({ length: per }, (_, j) => Math.round(((j + 1) * epoch.length) / per)));
      for (let b = 0; b < epoch.length; b++) {
        if (options.signal?.aborted) {
          rec.status = 'aborted';
          rec.reason = 'aborted';
          break outer;
        }
        const idx = epoch[b]!;
        if (done > 0) {
          if (current !== full) current.free();
          current = build(idx);
          const lg = current.lossAndGradient(state.theta);
          state = { ...state, loss: lg.loss, gradient: lg.gradient };
        }
        rec.batchLosses.push(state.loss);
        try {
          state = opt.update(state).state;
        } catch (e) {
          if (e instanceof NotPositiveDefiniteError || e instanceof IllConditionedError || e instanceof ConvergenceError) {
            rec.status = 'failed';
            rec.reason = e.message;
            break outer;
          }
          if (e instanceof NonFiniteLossError) {
            rec.losses.push(Infinity);
            rec.evaluations.push(evals + idx.length);
            rec.steps.push(done + 1);
            rec.status = factor !== undefined ? 'stopped' : 'failed';
            rec.reason = e.message;
            break outer;
          }
          throw e;
        }
        done++;
        evals += idx.length;
        rec.theta = state.theta;
        rec.thetas?.push(state.theta);
        options.onProgress?.({ step: done, steps });
        if (marks.has(b + 1)) {
          let loss: number;
          try {
            loss = full.loss(state.theta);
          } catch (e) {
            if (e instanceof NonFiniteLossError) loss = Infinity;
            else throw e;
          }
          rec.losses.push(loss);
          rec.evaluations.push(evals);
          rec.steps.push(done);
          if (!Number.isFinite(loss)) {
            rec.status = factor !== undefined ? 'stopped' : 'failed';
            rec.reason = 'the full-data loss is not finite';
            break outer;
          }
          if (factor !== undefined && loss > factor * initial) {
            rec.status = 'stopped';
            break outer;
          }
        }
      }
    }
    return rec;
  } finally {
    if (current !== full) current.free();
    full.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Stochastic preconditioners
// ---------------------------------------------------------------------------------------------

/** Options of {@link adam}. */
export interface AdamOptions {
  /** Step size γ > 0. */
  lr: number;
  /** Decay of the first moment, in [0, 1) (default 0.9). */
  beta1?: number;
  /** Decay of the second moment, in [0, 1) (default 0.999). */
  beta2?: number;
  /** ε > 0 added to √v̂ (default 1e-8). */
  eps?: number;
}

/** The state of {@link adam}: the common state plus the moments. */
export interface AdamState extends OptimizerState {
  readonly m: Float64Array;
  readonly v: Float64Array;
}

/**
 * Adam (Kingma & Ba 2015) with bias correction: with g_t the gradient of step t (on its batch),
 *
 *     m_t = β₁ m_{t−1} + (1 − β₁) g_t,   v_t = β₂ v_{t−1} + (1 − β₂) g_t²,
 *     θ ← θ − γ (m_t / (1 − β₁ᵗ)) / (√(v_t / (1 − β₂ᵗ)) + ε).
 *
 * The paper's §5 reading: v estimates E[g_B²] = ∇L² + diag Σ/B, the diagonal of the mini-batch
 * empirical Fisher (of the batch *means*, not the per-sample F̃ = Σ + ∇L∇Lᵀ), and Adam divides by
 * its square root — a square-root EF diagonal with momentum, which {@link diagonalEF} (p = ½,
 * no averaging over steps) is not. The gradient includes the prior's s·θ/σp².
 * @throws RangeError for lr ≤ 0, β ∉ [0, 1), ε ≤ 0
 * @example
 * const rec = adam(p, { lr: 1e-2 }).run(theta0, { iterations: 100 });
 */
export function adam(problem: Problem, options: AdamOptions): Optimizer {
  const beta1 = checkScalar(options?.beta1 ?? 0.9, 'beta1', 'nonnegative');
  const beta2 = checkScalar(options.beta2 ?? 0.999, 'beta2', 'nonnegative');
  const eps = checkScalar(options.eps ?? 1e-8, 'eps', 'positive');
  if (!(beta1 < 1) || !(beta2 < 1)) throw new RangeError(`natgrad: adam: beta1 and beta2 must be in [0, 1), got ${beta1}, ${beta2}`);
  let pending: { m: Float64Array; v: Float64Array; t: number } | undefined;
  const opt = makeOptimizer(
    'Adam',
    problem,
    { lr: options.lr },
    () => {
      const { m, v, t } = pending!;
      const c1 = 1 - beta1 ** t,
        c2 = 1 - beta2 ** t;
      return { direction: m.map((mi, i) => mi / c1 / (Math.sqrt(v[i]! / c2) + eps)) };
    },
    false,
  );
  const baseInit = opt.init,
    baseUpdate = opt.update;
  opt.init = (theta0) => {
    const s = baseInit(theta0);
    return { ...s, m: new Float64Array(s.theta.length), v: new Float64Array(s.theta.length) } as AdamState;
  };
  opt.update = (state) => {
    const s = state as Partial<AdamState> & OptimizerState;
    const D = state.gradient.length;
    const m0 = s.m ?? new Float64Array(D),
      v0 = s.v ?? new Float64Array(D);
    const g = state.gradient;
    const m = m0.map((x, i) => beta1 * x + (1 - beta1) * g[i]!);
    const v = v0.map((x, i) => beta2 * x + (1 - beta2) * g[i]! * g[i]!);
    pending = { m, v, t: state.iteration + 1 };
    try {
      const res = baseUpdate(state);
      return { state: { ...res.state, m, v } as AdamState, direction: res.direction };
    } finally {
      pending = undefined;
    }
  };
  return opt;
}

/**
 * The diagonal variance-adapted update of Schaul et al. (2013) and Balles & Hennig (2018):
 * d_i = D_ii ∇L_i with D_ii = ∇L_i² / (∇L_i² + Σ̂_ii / N), where N is the problem's number of
 * samples (the batch size B on a mini-batch problem) and Σ̂_ii = (1/N) Σ_n (g_ni − ḡ_i)² the
 * per-sample gradient variance (`perSampleGradients`, whatever the reduction): D shrinks the
 * coordinates whose mean gradient is small against its noise. A coordinate with ∇L_i = 0 and
 * Σ̂_ii = 0 gets D_ii = 0 (0/0 taken as no step). On a full batch it still divides by Σ̂/N, the
 * noise a batch of N would have.
 * @example
 * const opt = diagonalVarianceAdapted(p, { lr: 0.5 });
 */
export function diagonalVarianceAdapted(problem: Problem, options: Pick<OptimizerOptions, 'lr'>): Optimizer {
  return makeOptimizer(
    'VA-diag',
    problem,
    { lr: options?.lr },
    (p, s) => {
      const G = p.perSampleGradients(s.theta);
      const n = G.rows,
        D = G.cols;
      const mean = new Float64Array(D),
        vari = new Float64Array(D);
      for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j]! += G.data[r * D + j]! / n;
      for (let r = 0; r < n; r++)
        for (let j = 0; j < D; j++) {
          const e = G.data[r * D + j]! - mean[j]!;
          vari[j]! += (e * e) / n;
        }
      const direction = s.gradient.map((g, i) => {
        const den = g * g + vari[i]! / n;
        return den > 0 ? ((g * g) / den) * g : 0;
      });
      return { direction };
    },
    false,
  );
}

/** Options of {@link fullVarianceAdapted}. */
export interface FullVarianceAdaptedOptions extends Pick<OptimizerOptions, 'lr' | 'damping'> {
  /** `'cholesky'` (dense D × D, default) or `'cg'` (matrix-free; converges in ≤ rank(F̃) + 1 steps in exact arithmetic). */
  solver?: 'cholesky' | 'cg';
  /** CG settings (relative residual, default 1e-10; iterations, default min(D, 1000)). */
  cg?: { tol?: number; maxIterations?: number };
}

/**
 * The full-matrix variance-adapted direction of Eq. 19, d = ‖∇L‖² (F̃ + s/σp² I + λI)⁻¹ ∇L — the
 * formula of {@link varianceAdapted} — with the solve by Cholesky or by CG on the matrix-free
 * empirical Fisher (cheap on a mini-batch: F̃ has rank ≤ B). A CG that does not converge fails
 * the step (ConvergenceError).
 */
export function fullVarianceAdapted(problem: Problem, options: FullVarianceAdaptedOptions): Optimizer {
  const solver = options?.solver ?? 'cholesky';
  if (solver !== 'cholesky' && solver !== 'cg') throw new RangeError(`natgrad: solver must be 'cholesky' or 'cg', got ${String(solver)}`);
  const tol = checkScalar(options.cg?.tol ?? 1e-10, 'cg.tol', 'positive');
  return makeOptimizer(
    'VA-full',
    problem,
    { lr: options.lr, damping: options.damping ?? 0 },
    (p, s) => {
      const shift = p.priorCurvature() + s.damping;
      let u: Float64Array;
      if (solver === 'cg') {
        const r = cg(curvatureOperator(p, s.theta, { kind: 'empiricalFisher' }), s.gradient, { damping: shift, tol, maxIterations: options.cg?.maxIterations ?? Math.min(p.dim, 1000) });
        if (!r.converged)
          throw new ConvergenceError(
            `natgrad: VA-full step ${s.iteration + 1}: CG on the damped empirical Fisher did not converge (relative residual ${r.residual.toExponential(2)} after ${r.iterations} iterations); raise damping`,
            r.iterations,
            r.residual,
          );
        u = r.x;
      } else {
        const F = p.empiricalFisher(s.theta);
        try {
          u = F.solve(s.gradient, { damping: shift });
        } finally {
          F.free();
        }
      }
      let gg = 0;
      for (const g of s.gradient) gg += g * g;
      return { direction: u.map((x) => x * gg) };
    },
    false,
  );
}
