/**
 * Figure 3 of the paper (and its appendix version): GD, NGD and EF-preconditioned descent (EFGD)
 * with their best hyper-parameters on real data, and the cosine between the NGD and EF
 * directions along the best EFGD path.
 *
 * As the paper's code (`experiments/optim/`) runs it, per data set:
 * - a bias column appended LAST, no input scaling, priorVariance ∞, mean reduction; logistic
 *   regression (Bernoulli, clipped at 1e-8) for BreastCancer and a1a, linear regression
 *   (Gaussian σ² = 1) for Boston, Wine, Energy, Powerplant, Yacht;
 * - θ0 = 0; the grid γ ∈ logspace(−20, 10, 241) × λ ∈ logspace(−10, 10, 41) (GD: γ only),
 *   100 iterations, a run stops once its loss exceeds 100 × its initial loss, best run = lowest
 *   last loss: the library's `gridSearch` (failed runs, i.e. a non-positive-definite damped
 *   curvature, never win);
 * - top panel: the losses of the best GD, NGD and EFGD runs;
 * - bottom panel: at each iterate θ_k of the best EFGD run (k = 0..K),
 *   cos∠( (F(θ_k) + λI)⁻¹ ∇L(θ_k), (F̃(θ_k) + λI)⁻¹ ∇L(θ_k) ) with λ the best EFGD run's damping
 *   (the paper's `collect_cosines`). An entry is NaN where a direction is undefined (a zero
 *   gradient, or a system that is not positive definite); JSON writes it as null.
 *
 * Pure: no Node API; runs in a browser (after `await init()`; the data come from the caller).
 *
 * @module
 */
import {
  bernoulli,
  cosine,
  efgd,
  gaussian,
  gridSearch,
  linearProblem,
  NotPositiveDefiniteError,
  type GridOptimizer,
  type GridProblem,
  type GridProgress,
  type GridRun,
  type LinearProblem,
  type MatrixInput,
  type Problem,
  type Dtype,
} from 'natgrad';
import { GRID_OPTIMIZERS } from './grid.js';

/** Which version of the figure. */
export type Fig3Variant = 'main' | 'appendix';

/** A data set of Fig. 3: its loader name (`loadPaperDataset`) and model. */
export interface Fig3DatasetSpec {
  name: 'BreastCancer' | 'Boston' | 'Wine' | 'a1a' | 'Energy' | 'Powerplant' | 'Yacht';
  likelihood: 'bernoulli' | 'gaussian';
}

/**
 * The panels of each version: the paper's Fig. 3 (BreastCancer, Boston, a1a; its code's later
 * version shows Wine instead of Boston: both are here) and its appendix figure (Wine, Energy,
 * Powerplant, Yacht).
 */
export const FIG3_DATASETS: Readonly<Record<Fig3Variant, readonly Fig3DatasetSpec[]>> = {
  main: [
    { name: 'BreastCancer', likelihood: 'bernoulli' },
    { name: 'Boston', likelihood: 'gaussian' },
    { name: 'Wine', likelihood: 'gaussian' },
    { name: 'a1a', likelihood: 'bernoulli' },
  ],
  appendix: [
    { name: 'Wine', likelihood: 'gaussian' },
    { name: 'Energy', likelihood: 'gaussian' },
    { name: 'Powerplant', likelihood: 'gaussian' },
    { name: 'Yacht', likelihood: 'gaussian' },
  ],
};

export const FIG3_ITERATIONS = 100;
export const FIG3_DIVERGENCE_FACTOR = 100;

/** The best run of one optimizer. `damping` is null for GD. */
export interface Fig3Best {
  lr: number;
  damping: number | null;
  losses: number[];
  status: GridRun['status'];
}

/** One data set's panel pair. */
export interface Fig3DatasetResult {
  name: string;
  likelihood: 'bernoulli' | 'gaussian';
  N: number;
  /** parameters, bias included */
  D: number;
  best: Record<GridOptimizer, Fig3Best>;
  /** cosine at θ_0..θ_K of the best EFGD run (NaN where undefined) */
  cosines: number[];
  /** grid-search time in seconds (the cosines are not included) */
  seconds: number;
  /** runs in the grid, and how many ended 'diverged' / 'failed' */
  runs: number;
  diverged: number;
  failed: number;
}

/** Options of {@link fig3Dataset}. */
export interface Fig3Options {
  lrs: readonly number[];
  dampings: readonly number[];
  iterations?: number;
  divergenceFactor?: number;
  workers?: number;
  onProgress?: (progress: GridProgress) => void;
  signal?: AbortSignal;
}

/** The problem of a Fig. 3 data set: bias last, no prior, mean reduction. */
export function fig3Problem(X: MatrixInput, y: ArrayLike<number>, likelihood: 'bernoulli' | 'gaussian'): LinearProblem {
  return linearProblem({
    X,
    y: Float64Array.from(y),
    likelihood: likelihood === 'bernoulli' ? bernoulli() : gaussian({ variance: 1 }),
    priorVariance: Infinity,
    bias: true,
  });
}

/** x with (C + shift·I) x = g, freeing C; NaN-filled when C + shift·I is not positive definite. */
function dampedSolve(C: { solve(b: Float64Array, o: { damping: number }): Float64Array; free(): void }, g: Float64Array, shift: number): Float64Array {
  try {
    return C.solve(g, { damping: shift });
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) return new Float64Array(g.length).fill(NaN);
    throw e;
  } finally {
    C.free();
  }
}

/**
 * cos∠(NGD direction, EF direction) at θ, both damped with λ (plus the prior curvature, 0 here):
 * (F + s/σp² I + λI)⁻¹ ∇L and (F̃ + s/σp² I + λI)⁻¹ ∇L. NaN where undefined.
 */
export function directionCosine(problem: Problem<Dtype>, theta: ArrayLike<number>, damping: number): number {
  const g0 = problem.gradient(theta),
    g = g0 instanceof Float64Array ? g0 : Float64Array.from(g0); // a float32 problem's, widened
  const shift = problem.priorCurvature() + damping;
  const ng = dampedSolve(problem.fisher(theta), g, shift);
  const ef = dampedSolve(problem.empiricalFisher(theta), g, shift);
  if (ng.some((v) => !Number.isFinite(v)) || ef.some((v) => !Number.isFinite(v))) return NaN;
  return cosine(ng, ef);
}

/** The cosines along EFGD(γ, λ) from θ0 = 0: one per iterate θ_0..θ_K. */
export function efgdPathCosines(problem: LinearProblem, lr: number, damping: number, iterations = FIG3_ITERATIONS, divergenceFactor = FIG3_DIVERGENCE_FACTOR): number[] {
  const rec = efgd(problem, { lr, damping }).run(new Float64Array(problem.dim), { iterations, divergenceFactor, record: { theta: true } });
  return (rec.thetas ?? []).map((t) => (t.every(Number.isFinite) ? directionCosine(problem, t, damping) : NaN));
}

/**
 * Run the grid on one data set, pick the best run per optimizer and compute the cosines along
 * the best EFGD run. The problem is created here and freed before returning.
 */
export async function fig3Dataset(spec: Fig3DatasetSpec, X: MatrixInput, y: ArrayLike<number>, options: Fig3Options): Promise<Fig3DatasetResult> {
  const problem = fig3Problem(X, y, spec.likelihood);
  try {
    const iterations = options.iterations ?? FIG3_ITERATIONS;
    const divergenceFactor = options.divergenceFactor ?? FIG3_DIVERGENCE_FACTOR;
    const likelihood = problem.likelihood as GridProblem['likelihood']; // gaussian or bernoulli (fig3Problem)
    const res = await gridSearch({
      problem: { X: problem.X, y: problem.y, likelihood, priorVariance: problem.priorVariance, reduction: problem.reduction },
      optimizers: GRID_OPTIMIZERS,
      lrs: options.lrs,
      dampings: options.dampings,
      iterations,
      divergenceFactor,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const best = {} as Record<GridOptimizer, Fig3Best>;
    for (const name of GRID_OPTIMIZERS) {
      const b = res.best[name];
      if (!b) throw new Error(`fig3: no run of ${name} on ${spec.name} ended with a finite loss`);
      best[name] = { lr: b.lr, damping: name === 'GD' ? null : b.damping, losses: b.losses, status: b.status };
    }
    const cosines = efgdPathCosines(problem, best.EFGD.lr, best.EFGD.damping!, iterations, divergenceFactor);
    return {
      name: spec.name,
      likelihood: spec.likelihood,
      N: problem.N,
      D: problem.dim,
      best,
      cosines,
      seconds: res.seconds,
      runs: res.runs.length,
      diverged: res.runs.filter((r) => r.status === 'diverged').length,
      failed: res.runs.filter((r) => r.status === 'failed').length,
    };
  } finally {
    problem.free();
  }
}

/** log10 of a grid value with three decimals, as the paper's code prints it ("10^-3.000"). */
export function pow10(x: number | null): string {
  return x === null ? '10^nan' : `10^${Math.log10(x).toFixed(3)}`;
}

/** The paper's summary lines for one data set ("BreastCancer --- Best hyperparameters" …). */
export function fig3Summary(r: Fig3DatasetResult): string[] {
  const lines = [`${r.name} --- Best hyperparameters (N = ${r.N}, D = ${r.D}; ${r.runs} runs, ${r.diverged} diverged, ${r.failed} failed; ${r.seconds.toFixed(2)} s)`];
  for (const name of GRID_OPTIMIZERS) {
    const b = r.best[name];
    const last = b.losses[b.losses.length - 1]!;
    lines.push(`    ${name}: gamma = ${pow10(b.lr)}, lambda = ${pow10(b.damping)}   final loss ${last.toPrecision(6)}`);
  }
  return lines;
}

/** The JSON entry of one data set (the reproduction's schema). */
export function fig3DatasetJson(r: Fig3DatasetResult): Record<string, unknown> {
  const best: Record<string, unknown> = {};
  for (const name of GRID_OPTIMIZERS) {
    const b = r.best[name];
    best[name] = { lr: b.lr, damping: b.damping, losses: b.losses };
  }
  return { N: r.N, D: r.D, best, cosines: r.cosines };
}
