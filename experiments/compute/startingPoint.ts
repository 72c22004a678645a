/**
 * Appendix E of the paper: NGD is insensitive to the starting point, EF-preconditioned descent
 * (EFGD) is not.
 *
 * Real data (the paper's `make_starting_point_plot`, on Boston): with each optimizer's best
 * (γ, λ) from the Fig. 3 grid search, start from c·θ* for c ∈ {0.875, 0.75, 0.5, 0}
 * (`1 − [0.125, 0.25, 0.5, 1]`) and run 20 iterations without a stopping rule. θ* minimizes
 * the Fig. 3 objective (linear regression, bias last, no prior); for a quadratic one Newton step
 * from 0 reaches it, and we iterate Newton until ‖∇L‖ stops decreasing.
 *
 * The 1-D problem `(θ − 0.5)² + (θ + 0.5)²`, as the paper's code sets it up: linear regression
 * on two samples x = (1, 1), y = (0.5, −0.5), Gaussian σ² = 1, no prior, mean reduction, so
 *
 *     L(θ)  = ¼[(θ − ½)² + (θ + ½)²] = ½θ² + ⅛        (the title's function divided by 4)
 *     ∇L(θ) = θ,   F = H = (1/N) Σ x_n² = 1
 *     g_n   = θ − y_n,   F̃(θ) = ½[(θ − ½)² + (θ + ½)²] = θ² + ¼  (= Σ̂ + ḡ², Σ̂ = ¼, ḡ = θ)
 *
 * NGD:  θ ← θ − γ θ / (1 + λ)            — with γ = ½: θ_k = θ0 (1 − ½/(1 + λ))^k ≈ θ0 / 2^k,
 *                                          the same linear rate from every start;
 * EFGD: θ ← θ − γ θ / (θ² + ¼ + λ)       — from θ0 = ½ one step lands on 0 (up to λ), but far
 *                                          from the optimum the ḡ² = θ² term inflates F̃ and the
 *                                          step is ≈ γ/θ: from θ0 = 4 the first step is only 0.12.
 *
 * γ = 0.5, λ = 1e-6 (the damping the paper's code passes), θ0 ∈ {0.5, 1, 2, 4}, 10 iterations;
 * the losses reported are L(θ_k) (minimum ⅛).
 *
 * Pure: no Node API; runs in a browser (after `await init()`).
 *
 * @module
 */
import { efgd, gaussian, linearProblem, ngd, type LinearProblem, type Optimizer, type OptimizerOptions } from 'natgrad';
import { newtonOptimum } from './fig2.js';

/** c in c·θ*, the paper's `1 − [0.125, 0.25, 0.5, 1]`. */
export const START_FACTORS: readonly number[] = [0.875, 0.75, 0.5, 0];
export const START_ITERATIONS = 20;
/** The 1-D problem's settings. */
export const ONE_D = { starts: [0.5, 1, 2, 4], lr: 0.5, damping: 1e-6, iterations: 10 } as const;

export type StartOptimizer = 'NGD' | 'EFGD';
export const START_OPTIMIZERS: readonly StartOptimizer[] = ['NGD', 'EFGD'];
const MAKERS: Record<StartOptimizer, (p: LinearProblem, o: OptimizerOptions) => Optimizer> = { NGD: ngd, EFGD: efgd };

export interface StartingPointResult {
  dataset: string;
  factors: number[];
  thetaStar: number[];
  lossAtOptimum: number;
  hyperparameters: Record<StartOptimizer, { lr: number; damping: number }>;
  /** losses[opt][i] = L(θ_0..θ_20) from factors[i]·θ* */
  losses: Record<StartOptimizer, number[][]>;
  oneD: { starts: number[]; lr: number; damping: number; losses: Record<StartOptimizer, number[][]> };
}

/** Runs from c·θ* on a real problem with the given best hyper-parameters. */
export function startingPointRuns(
  problem: LinearProblem,
  hyperparameters: Record<StartOptimizer, { lr: number; damping: number }>,
  factors: readonly number[] = START_FACTORS,
  iterations = START_ITERATIONS,
): { thetaStar: Float64Array; lossAtOptimum: number; losses: Record<StartOptimizer, number[][]> } {
  const thetaStar = newtonOptimum(problem).theta;
  const losses = {} as Record<StartOptimizer, number[][]>;
  for (const name of START_OPTIMIZERS) {
    const { lr, damping } = hyperparameters[name];
    losses[name] = factors.map(
      (c) =>
        MAKERS[name](problem, { lr, damping }).run(
          thetaStar.map((t) => c * t),
          { iterations },
        ).losses,
    );
  }
  return { thetaStar, lossAtOptimum: problem.loss(thetaStar), losses };
}

/** The 1-D problem ¼[(θ − ½)² + (θ + ½)²] as a library problem (see the module documentation). */
export function oneDProblem(): LinearProblem {
  return linearProblem({ X: [[1], [1]], y: [0.5, -0.5], likelihood: gaussian({ variance: 1 }), priorVariance: Infinity });
}

/** NGD and EFGD on the 1-D problem from each start. */
export function oneDRuns(): StartingPointResult['oneD'] {
  const p = oneDProblem();
  try {
    const losses = {} as Record<StartOptimizer, number[][]>;
    for (const name of START_OPTIMIZERS) {
      losses[name] = ONE_D.starts.map((t0) => MAKERS[name](p, { lr: ONE_D.lr, damping: ONE_D.damping }).run([t0], { iterations: ONE_D.iterations }).losses);
    }
    return { starts: [...ONE_D.starts], lr: ONE_D.lr, damping: ONE_D.damping, losses };
  } finally {
    p.free();
  }
}

/** The whole experiment on a real problem (freed by the caller). */
export function startingPoint(dataset: string, problem: LinearProblem, hyperparameters: Record<StartOptimizer, { lr: number; damping: number }>): StartingPointResult {
  const real = startingPointRuns(problem, hyperparameters);
  return {
    dataset,
    factors: [...START_FACTORS],
    thetaStar: Array.from(real.thetaStar),
    lossAtOptimum: real.lossAtOptimum,
    hyperparameters,
    losses: real.losses,
    oneD: oneDRuns(),
  };
}

/** The starting-point.json document. */
export function startingPointJson(r: StartingPointResult): Record<string, unknown> {
  return {
    dataset: r.dataset,
    factors: r.factors,
    losses: r.losses,
    oneD: { starts: r.oneD.starts, losses: r.oneD.losses },
  };
}
