/**
 * Mini-batch runs from a problem's options ({@link stochasticRun}, a thin wrapper of
 * {@link train}), and the stochastic preconditioners of the paper's §5 (Eq. 18–19) and of Adam.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { checkCount, checkOptions } from '../core/options.js';
import type { VectorInput } from '../core/types.js';
import { checkScalar } from '../core/validate.js';
import { curvatureOperator } from '../operators/curvature.js';
import { problem as makeProblem, type ProblemOptions } from '../problem/problem.js';
import type { Problem } from '../problem/types.js';
import { cg } from '../solvers/cg.js';
import { ConvergenceError } from '../solvers/errors.js';
import { makeOptimizer, optimizerOptions, type Optimizer, type OptimizerOptions, type OptimizerState } from './optimizers.js';
import { train } from './train.js';

export { batchSchedule } from './train.js';

/**
 * Options of {@link stochasticRun}: {@link train}'s, without the start (θ0 is an argument).
 *
 * @category Training
 */
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

/**
 * What {@link stochasticRun} returns.
 *
 * @category Training
 */
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
  /** 'ok', 'stopped' (the divergence rule fired), 'failed' (a step failed or diverged: see `reason`), 'aborted' (the signal). */
  status: 'ok' | 'stopped' | 'failed' | 'aborted';
  reason?: string;
  /** The last iterate. */
  theta: Float64Array;
}

const STOCHASTIC_KEYS = ['batchSize', 'epochs', 'seed', 'evaluationsPerEpoch', 'divergenceFactor', 'recordTheta', 'signal', 'onProgress'] as const;

/**
 * Run `make(problem)`'s optimizer on mini-batches of `spec`'s data from θ0: builds the problem,
 * runs {@link train} on it (see there for the sampling, the batch objective and the B ≥ N
 * guarantee) and frees it. With a problem already built, call {@link train} directly.
 * @param spec the full problem's options, as for {@link problem}
 * @param make builds the optimizer on the problem (called once)
 * @returns the full-data losses at the evaluation points against gradient evaluations, the batch losses, the status
 * @throws UnknownOptionError for an unknown option; RangeError for bad counts, `'sum'` reduction with B < N
 * @example
 * const rec = stochasticRun({ model, X, y, likelihood: bernoulli() }, (p) => gd(p, { lr: 0.1 }), model.init(0), { batchSize: 32, epochs: 5, seed: 1 });
 * rec.losses; // L(θ) after 0, 1, …, 5 epochs; rec.evaluations = [0, N, 2N, …]
 *
 * @category Training
 */
export function stochasticRun<T extends Dtype = 'float64'>(spec: ProblemOptions<T>, make: (p: Problem<T>) => Optimizer, theta0: VectorInput, options: StochasticOptions): StochasticRecord {
  const o = checkOptions<StochasticOptions>(options, 'stochasticRun', STOCHASTIC_KEYS);
  checkCount(o.batchSize, 'stochasticRun: batchSize');
  checkCount(o.epochs, 'stochasticRun: epochs', { min: 0 });
  if (typeof make !== 'function') throw new TypeError('natgrad: stochasticRun: make must be a function (problem) => optimizer');
  const full = makeProblem(spec);
  try {
    const { onProgress, ...rest } = o;
    const rec = train(full, make(full), {
      ...rest,
      theta0,
      epochs: o.epochs!,
      ...(onProgress ? { onProgress: (p: { step: number; steps: number }) => onProgress({ step: p.step, steps: p.steps }) } : {}),
    });
    const { state: _state, ...out } = rec;
    return out;
  } finally {
    full.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Stochastic preconditioners
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link adam}.
 *
 * @category Optimizers
 */
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

/**
 * The state of {@link adam}: the common state plus the moments.
 *
 * @category Optimizers
 */
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
 *
 * @category Optimizers
 */
export function adam(problem: Problem<Dtype>, options: AdamOptions): Optimizer<AdamState> {
  const o = optimizerOptions<AdamOptions>(options, 'adam', ['lr', 'beta1', 'beta2', 'eps'], 'adam(problem, { lr: 1e-3 })');
  const beta1 = checkScalar(o.beta1 ?? 0.9, 'beta1', 'nonnegative');
  const beta2 = checkScalar(o.beta2 ?? 0.999, 'beta2', 'nonnegative');
  const eps = checkScalar(o.eps ?? 1e-8, 'eps', 'positive');
  if (!(beta1 < 1) || !(beta2 < 1)) throw new RangeError(`natgrad: adam: beta1 and beta2 must be in [0, 1), got ${beta1}, ${beta2}`);
  return makeOptimizer<AdamState>(
    'Adam',
    problem,
    { lr: o.lr },
    (_p, s) => {
      const t = s.iteration + 1;
      const c1 = 1 - beta1 ** t,
        c2 = 1 - beta2 ** t;
      const { m, v } = s,
        direction = new Float64Array(m.length);
      for (let i = 0; i < m.length; i++) direction[i] = m[i]! / c1 / (Math.sqrt(v[i]! / c2) + eps);
      return { direction };
    },
    false,
    {
      init: (s) => ({ ...s, m: new Float64Array(s.theta.length), v: new Float64Array(s.theta.length) }),
      // The moments this update uses: m_t, v_t from the state's m_{t−1}, v_{t−1} and gradient g_t.
      prepare: (_p, s) => {
        const { gradient: g, m: m0, v: v0 } = s,
          D = g.length;
        const m = new Float64Array(D),
          v = new Float64Array(D);
        for (let i = 0; i < D; i++) {
          m[i] = beta1 * m0[i]! + (1 - beta1) * g[i]!;
          v[i] = beta2 * v0[i]! + (1 - beta2) * g[i]! * g[i]!;
        }
        return { ...s, m, v };
      },
    },
  );
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
 *
 * @category Optimizers
 */
export function diagonalVarianceAdapted(problem: Problem<Dtype>, options: Pick<OptimizerOptions, 'lr'>): Optimizer {
  const o = optimizerOptions<Pick<OptimizerOptions, 'lr'>>(options, 'diagonalVarianceAdapted', ['lr'], 'diagonalVarianceAdapted(problem, { lr: 0.5 })');
  return makeOptimizer(
    'VA-diag',
    problem,
    { lr: o.lr },
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

/**
 * Options of {@link fullVarianceAdapted}.
 *
 * @category Optimizers
 */
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
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * const opt = fullVarianceAdapted(p, { lr: 0.5, damping: 1e-4 });     // Cholesky: the iterates of varianceAdapted
 * opt.run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4); // '0.2934'
 * // on mini-batches, CG on the matrix-free empirical Fisher (rank ≤ B):
 * const q = problem({ model, X: digits.X, y: digits.y, likelihood: categorical({ classes: 10 }) });
 * train(q, fullVarianceAdapted(q, { lr: 0.1, damping: 1e-2, solver: 'cg' }), { theta0: model.init(0), batchSize: 32, epochs: 1 });
 * ```
 *
 * @category Optimizers
 */
export function fullVarianceAdapted(problem: Problem<Dtype>, options: FullVarianceAdaptedOptions): Optimizer {
  const o = optimizerOptions<FullVarianceAdaptedOptions>(options, 'fullVarianceAdapted', ['lr', 'damping', 'solver', 'cg'], "fullVarianceAdapted(problem, { lr: 0.1, damping: 1e-4, solver: 'cg' })");
  const solver = o.solver ?? 'cholesky';
  if (solver !== 'cholesky' && solver !== 'cg') throw new RangeError(`natgrad: fullVarianceAdapted: solver must be 'cholesky' or 'cg', got ${String(solver)}`);
  const cgo = checkOptions<{ tol: number; maxIterations: number }>(o.cg, 'fullVarianceAdapted: cg', ['tol', 'maxIterations']);
  const tol = checkScalar(cgo.tol ?? 1e-10, 'cg.tol', 'positive');
  const maxIterations = cgo.maxIterations === undefined ? undefined : checkCount(cgo.maxIterations, 'cg.maxIterations');
  return makeOptimizer(
    'VA-full',
    problem,
    { lr: o.lr, damping: o.damping ?? 0 },
    (p, s) => {
      const shift = p.priorCurvature() + s.damping;
      let u: Float64Array;
      if (solver === 'cg') {
        const r = cg(curvatureOperator(p, s.theta, { kind: 'empiricalFisher' }), s.gradient, { damping: shift, tol, maxIterations: maxIterations ?? Math.min(p.dim, 1000) });
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
