/**
 * Optimizers as small explicit-state transforms (optax's `GradientTransformation`):
 * an optimizer is a preconditioner — how to turn ∇L(θ) into a direction — plus a step
 * size. Every optimizer has `init(θ0) → state`, `update(state) → { state, … }` (pure in the
 * sense that it returns a new state object), and the conveniences `step(θ)` and
 * `run(θ0, { iterations, stop })`.
 *
 * The second-order updates follow the paper's code exactly (DESIGN.md §1):
 *
 *     GD      θ ← θ − γ ∇L(θ)
 *     NGD     θ ← θ − γ (F(θ)  + s/σp² I + λ I)⁻¹ ∇L(θ)        F = s Σ J_nᵀ Λ_n J_n
 *     EFGD    θ ← θ − γ (F̃(θ) + s/σp² I + λ I)⁻¹ ∇L(θ)        F̃ = s Σ g_n g_nᵀ
 *     Newton  θ ← θ − γ (∇²L(θ) + λ I)⁻¹ ∇L(θ)                 (∇²L includes the prior)
 *     NGD-MC  the Monte-Carlo Fisher in place of F (fresh samples every step, seeded)
 *     diagEF  θ ← θ − γ ∇L / (diag F̃ + s/σp² + λ)^p            p = 1 or ½ (Adam-like, §5)
 *     VA      θ ← θ − γ ‖∇L‖² (F̃ + s/σp² I + λ I)⁻¹ ∇L        (Eq. 19 direction)
 *
 * Damped systems are solved by Cholesky (the prior and λ enter as one diagonal shift), or —
 * with `solver: 'cg'`, or `'auto'` when a dense D × D would exceed 256 MiB — by conjugate gradients
 * on the matrix-free curvature operator (one JVP + one VJP per CG iteration, never D × D).
 * A system that is not positive definite, one whose Cholesky rcond is below `minRcond`, or a CG
 * solve that does not converge does not throw from `run`: the run ends with `status: 'failed'`
 * and the reason. `adaptiveDamping` turns on Levenberg–Marquardt control
 * of λ for the second-order methods (Martens 2010: ρ < ¼ → λ·boost, ρ > ¾ → λ·drop).
 *
 * @module
 */
import { IllConditionedError, NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import type { Problem } from '../problem/types.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
import { curvatureOperator, type CurvatureKind } from '../operators/curvature.js';
import { cg } from '../solvers/cg.js';
import { ConvergenceError } from '../solvers/errors.js';
import type { VectorInput } from '../core/types.js';
import { checkScalar, firstNonFinite, toVector } from '../core/validate.js';

/** Levenberg–Marquardt damping control. */
export interface AdaptiveDamping {
  /** factor applied to λ when the quadratic model was poor (ρ < ¼); default 1.5 */
  boost?: number;
  /** factor applied to λ when it was good (ρ > ¾); default 2/3 */
  drop?: number;
  /** bounds on λ; default [1e-12, 1e12] */
  min?: number;
  max?: number;
}

/** Options shared by every optimizer. */
export interface OptimizerOptions {
  /** step size γ > 0 */
  lr: number;
  /** damping λ ≥ 0 (second-order and diagonal methods; default 0) */
  damping?: number;
  /** Levenberg–Marquardt control of λ (second-order methods only): `true` or its settings */
  adaptiveDamping?: boolean | AdaptiveDamping;
}

/** How the damped curvature system of NGD / EFGD / Newton / NGD-MC is solved. */
export interface SolverOptions {
  /**
   * `'cholesky'` (dense D × D, the default when it fits), `'cg'` (conjugate gradients on the
   * matrix-free curvature operator: memory O(N·width + D)), or `'auto'`: CG when a dense D × D
   * would exceed 256 MiB (D > 5792), Cholesky otherwise. Default `'auto'`.
   */
  solver?: 'cholesky' | 'cg' | 'auto';
  /** CG settings: relative residual `tol` (default 1e-10) and `maxIterations` (default min(D, 1000)); a CG that does not converge fails the step (ConvergenceError). */
  cg?: { tol?: number; maxIterations?: number };
  /**
   * Cholesky only: refuse a solve whose {@link CholeskyFactor.rcond} estimate is below this, in
   * [0, 1] (IllConditionedError; `run` ends with status 'failed' and the reason). Default: no check.
   */
  minRcond?: number;
}

/** Options of the dense-curvature optimizers {@link ngd}, {@link efgd}, {@link newton}, {@link ngdMC}. */
export interface SecondOrderOptions extends OptimizerOptions, SolverOptions {}

/** The explicit optimizer state. */
export interface OptimizerState {
  readonly theta: Float64Array;
  readonly iteration: number;
  /** current λ (changes only with adaptiveDamping) */
  readonly damping: number;
  /** L(θ) and ∇L(θ) at `theta` (computed once, reused by the next update) */
  readonly loss: number;
  readonly gradient: Float64Array;
}

/** What one update returns. */
export interface UpdateResult {
  state: OptimizerState;
  /** the preconditioned direction d (θ_new = θ − γ d) */
  direction: Float64Array;
}

/** The per-iteration record of {@link Optimizer.run}. */
export interface RunRecord {
  /** L(θ_k) for k = 0..K (K = iterations completed) */
  losses: number[];
  /** ‖∇L(θ_k)‖₂ for the same iterates */
  gradNorms: number[];
  /** the iterates θ_0..θ_K, when `record.theta` */
  thetas?: Float64Array[];
  /** the directions d_0..d_{K−1}, when `record.direction` */
  directions?: Float64Array[];
  /** λ used at each step (differs from the option only with adaptiveDamping) */
  dampings: number[];
  /**
   * 'ok', 'stopped' (the stop rule fired) or 'failed' (a non-PD system, or a divergence whose
   * infinite loss no stop rule caught; see `reason`). A diverged step (loss +Infinity at the
   * next iterate, e.g. Poisson's exp(f) overflowing, or a gradient that overflows) ends the run
   * with `losses` closing on that loss and `gradNorms` on +Infinity; `theta` stays the last iterate
   * whose gradient exists.
   */
  status: 'ok' | 'stopped' | 'failed';
  reason?: string;
  theta: Float64Array;
}

/** Options of {@link Optimizer.run}. */
export interface RunOptions {
  iterations: number;
  /** stop after the step whose record makes this return true */
  stop?: (loss: number, iteration: number, initialLoss: number) => boolean;
  /** shorthand for the paper's rule: stop once loss > factor × initial loss */
  divergenceFactor?: number;
  record?: { theta?: boolean; direction?: boolean };
}

/** A preconditioner: the direction d for the current state (θ ← θ − γ d). */
export type Preconditioner = (problem: Problem, state: OptimizerState) => Preconditioned;

/** A preconditioner's output: d, and (for damping control) (C + shift·I) d of the damped curvature. */
export interface Preconditioned {
  direction: Float64Array;
  curvatureDirection?: Float64Array;
}

/** An optimizer: a problem, a preconditioner and a step size. */
export interface Optimizer {
  readonly name: string;
  readonly problem: Problem;
  readonly lr: number;
  init(theta0: VectorInput): OptimizerState;
  update(state: OptimizerState): UpdateResult;
  /** θ − γ d(θ) from a fresh state at θ. */
  step(theta: VectorInput): Float64Array;
  run(theta0: VectorInput, options: RunOptions): RunRecord;
}

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Solve (C + shift·I) d = g, freeing C afterwards; with `wantProduct` also (C + shift·I) d. */
function dampedSolve(C: SymMatrix, g: Float64Array, shift: number, wantProduct: boolean, minRcond?: number): Preconditioned {
  try {
    const direction = C.solve(g, minRcond === undefined ? { damping: shift } : { damping: shift, minRcond });
    if (!wantProduct) return { direction };
    const curvatureDirection = C.matvec(direction);
    for (let i = 0; i < direction.length; i++) curvatureDirection[i]! += shift * direction[i]!;
    return { direction, curvatureDirection };
  } finally {
    C.free();
  }
}

/**
 * Build an optimizer from a preconditioner (the composition point: every optimizer in this
 * module is `makeOptimizer(name, problem, options, preconditioner)`).
 */
export function makeOptimizer(name: string, problem: Problem, options: OptimizerOptions, precondition: Preconditioner, secondOrder: boolean): Optimizer {
  const lr = checkScalar(options?.lr, 'lr', 'positive');
  const damping0 = checkScalar(options.damping ?? 0, 'damping', 'nonnegative');
  const lm = options.adaptiveDamping ? { boost: 1.5, drop: 2 / 3, min: 1e-12, max: 1e12, ...(options.adaptiveDamping === true ? {} : options.adaptiveDamping) } : undefined;
  if (lm && !secondOrder) throw new RangeError(`natgrad: adaptiveDamping applies to second-order optimizers, not ${name}`);
  if (lm) {
    checkScalar(lm.boost, 'adaptiveDamping.boost', 'positive');
    checkScalar(lm.drop, 'adaptiveDamping.drop', 'positive');
    checkScalar(lm.min, 'adaptiveDamping.min', 'nonnegative');
    checkScalar(lm.max, 'adaptiveDamping.max', 'nonnegative');
    if (!(lm.min <= lm.max)) throw new RangeError(`natgrad: adaptiveDamping.min (${lm.min}) must be ≤ adaptiveDamping.max (${lm.max})`);
  }

  const at = (theta: Float64Array, iteration: number, damping: number): OptimizerState => {
    const { loss, gradient } = problem.lossAndGradient(theta);
    return { theta, iteration, damping, loss, gradient };
  };

  const opt: Optimizer = {
    name,
    problem,
    lr,
    init(theta0) {
      return at(toVector(theta0, problem.dim, 'theta0').slice(), 0, damping0);
    },
    update(state) {
      const { direction, curvatureDirection } = precondition(problem, state);
      const theta = state.theta.map((t, i) => t - lr * direction[i]!);
      const bad = firstNonFinite(theta);
      if (bad >= 0) {
        throw new NonFiniteLossError(`natgrad: ${name} step ${state.iteration + 1} overflowed (θ[${bad}] = ${theta[bad]}): the iteration diverged — reduce the step size or add damping`, Infinity);
      }
      const next = at(theta, state.iteration + 1, state.damping);
      if (!lm || !curvatureDirection) return { state: next, direction };
      // ρ = actual / predicted reduction of the damped quadratic model q(−γd) = −γ gᵀd + ½ γ² dᵀ C d.
      const predicted = -lr * dot(state.gradient, direction) + 0.5 * lr * lr * dot(direction, curvatureDirection);
      // At convergence both reductions are rounding noise: keep λ rather than react to it.
      if (!(Math.abs(predicted) > 1e-13 * (1 + Math.abs(state.loss)))) return { state: next, direction };
      const rho = (next.loss - state.loss) / predicted;
      let lambda = state.damping;
      if (!(rho > 0.25)) lambda *= lm.boost;
      else if (rho > 0.75) lambda *= lm.drop;
      lambda = Math.min(Math.max(lambda, lm.min), lm.max);
      return { state: { ...next, damping: lambda }, direction };
    },
    step(theta) {
      return opt.update(opt.init(theta)).state.theta;
    },
    run(theta0, runOptions) {
      const iterations = runOptions?.iterations;
      if (typeof iterations !== 'number' || !Number.isInteger(iterations) || iterations < 0) {
        throw new RangeError(`natgrad: iterations must be an integer ≥ 0, got ${String(iterations)}`);
      }
      const factor = runOptions.divergenceFactor;
      if (factor !== undefined) checkScalar(factor, 'divergenceFactor', 'positive');
      let state = opt.init(theta0);
      const rec: RunRecord = { losses: [state.loss], gradNorms: [norm(state.gradient)], dampings: [], status: 'ok', theta: state.theta };
      if (runOptions.record?.theta) rec.thetas = [state.theta];
      if (runOptions.record?.direction) rec.directions = [];
      const initial = state.loss;
      for (let k = 0; k < iterations; k++) {
        let res: UpdateResult;
        try {
          res = opt.update(state);
        } catch (e) {
          if (e instanceof NotPositiveDefiniteError || e instanceof IllConditionedError || e instanceof ConvergenceError) {
            rec.status = 'failed';
            rec.reason = e.message;
            break;
          }
          if (e instanceof NonFiniteLossError) {
            // Divergence: the next iterate's loss is +Infinity (or undefined, recorded as +Infinity;
            // or finite with an overflowing gradient). Record it, and let the stop rule decide
            // between 'stopped' (it fires) and 'failed'.
            const loss = Number.isNaN(e.loss) ? Infinity : e.loss;
            rec.dampings.push(state.damping);
            rec.losses.push(loss);
            rec.gradNorms.push(Infinity);
            const fires = (factor !== undefined && loss > factor * initial) || !!runOptions.stop?.(loss, k + 1, initial);
            rec.status = fires ? 'stopped' : 'failed';
            rec.reason = e.message;
            break;
          }
          throw e;
        }
        rec.dampings.push(state.damping);
        state = res.state;
        rec.losses.push(state.loss);
        rec.gradNorms.push(norm(state.gradient));
        rec.thetas?.push(state.theta);
        rec.directions?.push(res.direction);
        rec.theta = state.theta;
        if ((factor !== undefined && state.loss > factor * initial) || runOptions.stop?.(state.loss, k + 1, initial)) {
          rec.status = 'stopped';
          break;
        }
      }
      return rec;
    },
  };
  return opt;
}

/** Gradient descent: d = ∇L(θ). */
export function gd(problem: Problem, options: OptimizerOptions): Optimizer {
  return makeOptimizer('GD', problem, options, (_p, s) => ({ direction: s.gradient }), false);
}

/** Bytes above which `solver: 'auto'` uses CG instead of a dense D × D (256 MiB). */
const AUTO_DENSE_BYTES = 256 * 2 ** 20;

/**
 * The damped solve (C + shift·I) d = g of a second-order optimizer: Cholesky on the dense C, or
 * CG on the curvature operator (see {@link SolverOptions}).
 */
function solveWith(
  name: string,
  problem: Problem,
  options: SecondOrderOptions,
  kind: CurvatureKind,
  dense: (p: Problem, s: OptimizerState) => SymMatrix,
  mc?: { samples: number; seed: number },
): Preconditioner {
  const solver = options.solver ?? 'auto';
  if (solver !== 'cholesky' && solver !== 'cg' && solver !== 'auto') throw new RangeError(`natgrad: solver must be 'cholesky', 'cg' or 'auto', got ${String(solver)}`);
  const minRcond = options.minRcond;
  if (minRcond !== undefined && !(checkScalar(minRcond, 'minRcond', 'nonnegative') <= 1)) throw new RangeError(`natgrad: minRcond must be in [0, 1], got ${minRcond}`);
  const tol = options.cg?.tol ?? 1e-10,
    maxIterations = options.cg?.maxIterations;
  checkScalar(tol, 'cg.tol', 'positive');
  if (maxIterations !== undefined && !(Number.isSafeInteger(maxIterations) && maxIterations >= 1))
    throw new RangeError(`natgrad: cg.maxIterations must be a positive integer, got ${String(maxIterations)}`);
  const useCg = solver === 'cg' || (solver === 'auto' && 8 * problem.dim * problem.dim > AUTO_DENSE_BYTES);
  const want = !!options.adaptiveDamping;
  const prior = kind === 'hessian' ? 0 : 1;
  if (!useCg) return (p, s) => dampedSolve(dense(p, s), s.gradient, prior * p.priorCurvature() + s.damping, want, minRcond);
  return (p, s) => {
    const op = curvatureOperator(p, s.theta, mc ? { kind, samples: mc.samples, seed: mc.seed + s.iteration } : { kind });
    const r = cg(op, s.gradient, { damping: prior * p.priorCurvature() + s.damping, tol, maxIterations });
    if (!r.converged) {
      throw new ConvergenceError(
        `natgrad: ${name} step ${s.iteration + 1}: CG on the damped ${kind} did not converge (${r.reason === 'negativeCurvature' ? 'non-positive curvature: the damped matrix is not positive definite' : `relative residual ${r.residual.toExponential(2)} > tol ${tol} after ${r.iterations} iterations`}); raise damping or cg.maxIterations`,
        r.iterations,
        r.residual,
      );
    }
    return { direction: r.x, curvatureDirection: r.product };
  };
}

/** Natural gradient descent with the exact Fisher: d = (F + s/σp² I + λI)⁻¹ ∇L (Cholesky, or CG: see {@link SolverOptions}). */
export function ngd(problem: Problem, options: SecondOrderOptions): Optimizer {
  return makeOptimizer(
    'NGD',
    problem,
    options,
    solveWith('NGD', problem, options, 'fisher', (p, s) => p.fisher(s.theta)),
    true,
  );
}

/** Empirical-Fisher descent: d = (F̃ + s/σp² I + λI)⁻¹ ∇L (Cholesky, or CG: see {@link SolverOptions}). */
export function efgd(problem: Problem, options: SecondOrderOptions): Optimizer {
  return makeOptimizer(
    'EFGD',
    problem,
    options,
    solveWith('EFGD', problem, options, 'empiricalFisher', (p, s) => p.empiricalFisher(s.theta)),
    true,
  );
}

/** Newton's method: d = (∇²L + λI)⁻¹ ∇L (the Hessian includes the prior; Cholesky, or CG: see {@link SolverOptions}). */
export function newton(problem: Problem, options: SecondOrderOptions): Optimizer {
  return makeOptimizer(
    'Newton',
    problem,
    options,
    solveWith('Newton', problem, options, 'hessian', (p, s) => p.hessian(s.theta)),
    true,
  );
}

/**
 * NGD with the Monte-Carlo Fisher (S samples per point, fresh every step: step k uses seed
 * `seed + k`), d = (F̂_MC + s/σp² I + λI)⁻¹ ∇L.
 */
export function ngdMC(problem: Problem, options: SecondOrderOptions & { samples?: number; seed?: number }): Optimizer {
  const samples = options.samples ?? 1,
    seed = options.seed ?? 0;
  return makeOptimizer(
    'NGD-MC',
    problem,
    options,
    solveWith('NGD-MC', problem, options, 'fisherMC', (p, s) => p.fisherMC(s.theta, { samples, seed: seed + s.iteration }), { samples, seed }),
    true,
  );
}

/**
 * Diagonal empirical-Fisher preconditioning: d_i = ∇L_i / (F̃_ii + s/σp² + λ)^p with p = 1, or
 * p = ½ (the full-batch Adam-like preconditioner of §5; λ then plays Adam's ε²-like role).
 */
export function diagonalEF(problem: Problem, options: OptimizerOptions & { power?: 1 | 0.5 }): Optimizer {
  const power = options.power ?? 1;
  if (power !== 1 && power !== 0.5) throw new RangeError(`natgrad: power must be 1 or 0.5, got ${String(power)}`);
  return makeOptimizer(
    power === 1 ? 'diagEF' : 'diagEF-sqrt',
    problem,
    options,
    (p, s) => {
      const diag = p.empiricalFisher(s.theta, { structure: 'diagonal' });
      const shift = p.priorCurvature() + s.damping;
      const direction = s.gradient.map((g, i) => {
        const den = diag[i]! + shift;
        if (!(den > 0)) throw new NotPositiveDefiniteError(i + 1, den, 'diagonal empirical Fisher');
        return g / (power === 1 ? den : Math.sqrt(den));
      });
      return { direction };
    },
    false,
  );
}

/** Variance-adapted direction (Eq. 19): d = ‖∇L‖² (F̃ + s/σp² I + λI)⁻¹ ∇L. */
export function varianceAdapted(problem: Problem, options: OptimizerOptions): Optimizer {
  return makeOptimizer(
    'VA',
    problem,
    options,
    (p, s) => {
      const r = dampedSolve(p.empiricalFisher(s.theta), s.gradient, p.priorCurvature() + s.damping, false);
      const gg = dot(s.gradient, s.gradient);
      return { direction: r.direction.map((v) => v * gg) };
    },
    false,
  );
}
