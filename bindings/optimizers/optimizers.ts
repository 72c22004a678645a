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
import type { Dtype } from '../core/types.js';
import { IllConditionedError, NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import type { Problem } from '../problem/types.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
import { curvatureOperator, type CurvatureKind } from '../operators/curvature.js';
import { cg } from '../solvers/cg.js';
import { ConvergenceError } from '../solvers/errors.js';
import type { VectorInput } from '../core/types.js';
import { checkScalar, firstNonFinite, toVector, widen } from '../core/validate.js';
import { checkCount, checkOptions } from '../core/options.js';
import { loadState, saveState, type SavedOptimizerState } from './state.js';

/**
 * Levenberg–Marquardt damping control.
 *
 * @category Optimizers
 */
export interface AdaptiveDamping {
  /** factor applied to λ when the quadratic model was poor (ρ < ¼); default 1.5 */
  boost?: number;
  /** factor applied to λ when it was good (ρ > ¾); default 2/3 */
  drop?: number;
  /** bounds on λ; default [1e-12, 1e12] */
  min?: number;
  max?: number;
}

/**
 * Options shared by every optimizer.
 *
 * @category Optimizers
 */
export interface OptimizerOptions {
  /** step size γ > 0 */
  lr: number;
  /** damping λ ≥ 0 (second-order and diagonal methods; default 0) */
  damping?: number;
  /** Levenberg–Marquardt control of λ (second-order methods only): `true` or its settings */
  adaptiveDamping?: boolean | AdaptiveDamping;
}

/**
 * How the damped curvature system of NGD / EFGD / Newton / NGD-MC is solved.
 *
 * @category Optimizers
 */
export interface SolverOptions {
  /**
   * `'cholesky'` (dense D × D, the default when it fits), `'cg'` (conjugate gradients on the
   * matrix-free curvature operator: memory O(N·width + D)), or `'auto'`: CG when a dense D × D
   * would exceed 256 MiB (D > 5792), Cholesky otherwise. Default `'auto'`.
   */
  solver?: 'cholesky' | 'cg' | 'auto';
  /**
   * CG settings: relative residual `tol` (default 1e-10) and `maxIterations` (default min(D, 1000));
   * a CG that does not converge fails the step (ConvergenceError). On a float32 model CG stops at
   * the residual float32 products can reach (~1e-6 relative) when `tol` is below it, and the step
   * is taken with that direction (`cg`'s `reason: 'precision'`).
   */
  cg?: { tol?: number; maxIterations?: number };
  /**
   * Cholesky only: refuse a solve whose {@link CholeskyFactor.rcond} estimate is below this, in
   * [0, 1] (IllConditionedError; `run` ends with status 'failed' and the reason). Default: no check.
   */
  minRcond?: number;
}

/**
 * Options of the dense-curvature optimizers {@link ngd}, {@link efgd}, {@link newton}, {@link ngdMC}.
 *
 * @category Optimizers
 */
export interface SecondOrderOptions extends OptimizerOptions, SolverOptions {}

/**
 * The explicit optimizer state: everything an update needs besides the problem. Plain data
 * (`Float64Array`s and numbers; optimizers with memory add their own fields — Adam's moments,
 * KFAC's running factors), so one optimizer can drive several runs at once, and a state can be
 * saved and restored ({@link Optimizer.saveState}).
 *
 * @category Optimizers
 */
export interface OptimizerState {
  /**
   * θ, in float64 for every problem type: a float32 problem rounds θ to float32 on each pass, and
   * the optimizer keeps the float64 iterate (as mixed-precision training keeps master weights), so
   * steps below float32's resolution of θ still add up. Its `gradient` is the float32 one, widened.
   */
  readonly theta: Float64Array;
  readonly iteration: number;
  /** current λ (changes only with adaptiveDamping) */
  readonly damping: number;
  /** L(θ) and ∇L(θ) at `theta` on the problem the state was computed on (reused by the next update) */
  readonly loss: number;
  readonly gradient: Float64Array;
}

/**
 * What one update returns.
 *
 * @category Optimizers
 */
export interface UpdateResult<S extends OptimizerState = OptimizerState> {
  state: S;
  /** the preconditioned direction d (θ_new = θ − γ d) */
  direction: Float64Array;
}

/**
 * The per-iteration record of {@link Optimizer.run}.
 *
 * @category Training
 */
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

/**
 * Options of {@link Optimizer.run}.
 *
 * @category Training
 */
export interface RunOptions {
  iterations: number;
  /** stop after the step whose record makes this return true */
  stop?: (loss: number, iteration: number, initialLoss: number) => boolean;
  /** shorthand for the paper's rule: stop once loss > factor × initial loss */
  divergenceFactor?: number;
  record?: { theta?: boolean; direction?: boolean };
}

/**
 * A preconditioner: the direction d for the current state (θ ← θ − γ d) on `problem`.
 *
 * @category Optimizers
 */
export type Preconditioner<S extends OptimizerState = OptimizerState> = (problem: Problem<Dtype>, state: S) => Preconditioned;

/**
 * A preconditioner's output: d, and (for damping control) (C + shift·I) d of the damped curvature.
 *
 * @category Optimizers
 */
export interface Preconditioned {
  direction: Float64Array;
  curvatureDirection?: Float64Array;
}

/**
 * How an optimizer with memory extends the common state (the 6th argument of
 * {@link makeOptimizer}): `init` adds its fields to a fresh state, `prepare` returns the state the
 * preconditioner reads at this update (moments advanced, factors refreshed), both pure.
 *
 * @category Optimizers
 */
export interface StateExtension<S extends OptimizerState> {
  init(state: OptimizerState, problem: Problem<Dtype>): S;
  prepare(problem: Problem<Dtype>, state: S): S;
}

/**
 * An optimizer: a problem, a preconditioner and a step size, as an explicit-state transform
 * (optax's `init` / `update`): the optimizer object holds only its settings, every changing
 * quantity lives in the state, so the same object can drive any number of runs, interleaved or
 * not, and give exactly what separate runs give.
 *
 * @category Optimizers
 */
export interface Optimizer<S extends OptimizerState = OptimizerState> {
  readonly name: string;
  /** The problem `init`, `update`, `step` and `run` use when none is passed. */
  readonly problem: Problem<Dtype>;
  readonly lr: number;
  /** The state at θ0: its loss and gradient on `problem` (default: the optimizer's). */
  init(theta0: VectorInput, problem?: Problem<Dtype>): S;
  /**
   * One step from `state` on `problem` (default: the optimizer's): the direction d from the
   * state's gradient and the problem's curvature at state.θ, θ' = θ − γ d, and the new state with
   * L and ∇L at θ' computed on `next` (default: `problem`). A mini-batch loop passes the next batch
   * as `next`, so each step costs one gradient pass. With adaptiveDamping the new loss is taken on
   * `problem` (ρ compares two losses of one objective) and then recomputed on `next`.
   */
  update(state: S, problem?: Problem<Dtype>, next?: Problem<Dtype>): UpdateResult<S>;
  /** The state with L and ∇L recomputed at its θ on `problem` (after a change of mini-batch). */
  refresh(state: S, problem: Problem<Dtype>): S;
  /** θ − γ d(θ) from a fresh state at θ. */
  step(theta: VectorInput): Float64Array;
  run(theta0: VectorInput, options: RunOptions): RunRecord;
  /** The state as JSON data (see {@link SavedOptimizerState}); `JSON.stringify` it to store it. */
  saveState(state: S): SavedOptimizerState;
  /** A state from {@link Optimizer.saveState}'s result (or its JSON text), checked against this optimizer and D. */
  loadState(saved: SavedOptimizerState | string): S;
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
function dampedSolve(C: SymMatrix, g: Float64Array, shift: number, wantProduct: boolean, minRcond: number | undefined, what: string): Preconditioned {
  try {
    const direction = C.solve(g, minRcond === undefined ? { damping: shift } : { damping: shift, minRcond });
    if (!wantProduct) return { direction };
    const curvatureDirection = C.matvec(direction);
    for (let i = 0; i < direction.length; i++) curvatureDirection[i]! += shift * direction[i]!;
    return { direction, curvatureDirection };
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) {
      const err = new NotPositiveDefiniteError(e.pivot, e.value, `${what} + ${shift}·I`);
      err.message += ` — pass a damping > 0 (e.g. { damping: 1e-4 }; a singular curvature needs it) or a prior`;
      throw err;
    }
    throw e;
  } finally {
    C.free();
  }
}

/** The option keys every optimizer may document, and where the mistaken ones belong. */
export const OPTIMIZER_HINTS: Readonly<Record<string, string>> = {
  batchSize: "mini-batches are the training loop's option: train(problem, optimizer, { batchSize, epochs }) or stochasticRun",
  epochs: "epochs are the training loop's option: train(problem, optimizer, { batchSize, epochs })",
  iterations: 'iterations go to run: optimizer.run(theta0, { iterations })',
  iteration: 'iterations go to run: optimizer.run(theta0, { iterations })',
  adaptiveDamping: 'adaptiveDamping applies to the second-order optimizers with a damped solve (ngd, efgd, newton, ngdMC, hessianFree)',
  damping: 'this optimizer has no curvature to damp; damping belongs to the second-order and diagonal optimizers',
  learningRate: "the step size is 'lr'",
  stepSize: "the step size is 'lr'",
};

/** The options object of an optimizer constructor: present, an object, only `allowed` keys. */
export function optimizerOptions<T extends object>(options: unknown, name: string, allowed: readonly string[], example: string): T {
  if (options === undefined || options === null) throw new TypeError(`natgrad: ${name} needs an options object with at least the step size: ${example} (options: ${allowed.join(', ')})`);
  return checkOptions<T>(options, name, allowed, OPTIMIZER_HINTS) as T;
}

/** The part of an optimizer's options that {@link makeOptimizer} takes. */
export function baseOptions(o: OptimizerOptions): OptimizerOptions {
  return { lr: o.lr, ...(o.damping !== undefined ? { damping: o.damping } : {}), ...(o.adaptiveDamping !== undefined ? { adaptiveDamping: o.adaptiveDamping } : {}) };
}

const RUN_KEYS = ['iterations', 'stop', 'divergenceFactor', 'record'] as const;

/**
 * Build an optimizer from a preconditioner (the composition point: every optimizer in this
 * package is `makeOptimizer(name, problem, options, preconditioner, secondOrder, extension?)`).
 * `options` holds `lr`, `damping` and `adaptiveDamping` (the constructors check their own keys
 * first); `secondOrder` allows adaptiveDamping; `extension` adds state (see {@link StateExtension}).
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * // NGD with the Fisher's diagonal: d_i = ∇L_i / (F_ii + s/σp² + λ)
 * const diagNgd = makeOptimizer('diagNGD', p, { lr: 0.1, damping: 1e-2 }, (problem, state) => {
 *   const F = problem.fisher(state.theta, { structure: 'diagonal' });
 *   const shift = problem.priorCurvature() + state.damping;
 *   return { direction: state.gradient.map((g, i) => g / (F[i] + shift)) };
 * }, false);
 * diagNgd.run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4); // '0.3591'
 * ```
 *
 * @category Optimizers
 */
export function makeOptimizer<S extends OptimizerState = OptimizerState>(
  name: string,
  problem: Problem<Dtype>,
  options: OptimizerOptions,
  precondition: Preconditioner<S>,
  secondOrder: boolean,
  extension?: StateExtension<S>,
): Optimizer<S> {
  if (options === undefined || options === null) throw new TypeError(`natgrad: ${name} needs an options object with at least the step size, e.g. { lr: 0.1 }`);
  checkOptions(options, `makeOptimizer (${name})`, ['lr', 'damping', 'adaptiveDamping'], OPTIMIZER_HINTS);
  const lr = checkScalar(options.lr, 'lr', 'positive');
  const damping0 = checkScalar(options.damping ?? 0, 'damping', 'nonnegative');
  if (options.adaptiveDamping !== undefined && typeof options.adaptiveDamping !== 'boolean') checkOptions(options.adaptiveDamping, `${name}: adaptiveDamping`, ['boost', 'drop', 'min', 'max']);
  const lm = options.adaptiveDamping ? { boost: 1.5, drop: 2 / 3, min: 1e-12, max: 1e12, ...(options.adaptiveDamping === true ? {} : options.adaptiveDamping) } : undefined;
  if (lm && !secondOrder) throw new RangeError(`natgrad: adaptiveDamping applies to second-order optimizers, not ${name}`);
  if (lm) {
    checkScalar(lm.boost, 'adaptiveDamping.boost', 'positive');
    checkScalar(lm.drop, 'adaptiveDamping.drop', 'positive');
    checkScalar(lm.min, 'adaptiveDamping.min', 'nonnegative');
    checkScalar(lm.max, 'adaptiveDamping.max', 'nonnegative');
    if (!(lm.min <= lm.max)) throw new RangeError(`natgrad: adaptiveDamping.min (${lm.min}) must be ≤ adaptiveDamping.max (${lm.max})`);
  }
  const checkProblem = (p: Problem<Dtype>, what: string): Problem<Dtype> => {
    if (p === problem) return p;
    if (typeof p !== 'object' || p === null || typeof p.lossAndGradient !== 'function') throw new TypeError(`natgrad: ${name}: ${what} must be a problem`);
    if (p.dim !== problem.dim) throw new RangeError(`natgrad: ${name}: ${what} has D = ${p.dim} parameters, the optimizer's problem ${problem.dim}`);
    return p;
  };

  const at = (p: Problem<Dtype>, theta: Float64Array, iteration: number, damping: number): OptimizerState => {
    const { loss, gradient } = p.lossAndGradient(theta);
    return { theta, iteration, damping, loss, gradient: widen(gradient) };
  };

  const opt: Optimizer<S> = {
    name,
    problem,
    lr,
    init(theta0, p = problem) {
      checkProblem(p, 'the problem');
      const base = at(p, toVector(theta0, problem.dim, 'theta0').slice(), 0, damping0);
      return extension ? extension.init(base, p) : (base as S);
    },
    update(state0, p = problem, next = p) {
      checkProblem(p, 'the problem');
      if (next !== p) checkProblem(next, 'next');
      const state = extension ? extension.prepare(p, state0) : state0;
      const { direction, curvatureDirection } = precondition(p, state);
      const t0 = state.theta,
        D = t0.length,
        theta = new Float64Array(D);
      for (let i = 0; i < D; i++) theta[i] = t0[i]! - lr * direction[i]!;
      const bad = firstNonFinite(theta);
      if (bad >= 0) {
        throw new NonFiniteLossError(`natgrad: ${name} step ${state.iteration + 1} overflowed (θ[${bad}] = ${theta[bad]}): the iteration diverged — reduce the step size or add damping`, Infinity);
      }
      const useLm = !!lm && !!curvatureDirection;
      const fresh = at(useLm ? p : next, theta, state.iteration + 1, state.damping);
      const out = (damping: number): UpdateResult<S> => {
        const moved = useLm && next !== p ? at(next, theta, state.iteration + 1, damping) : { ...fresh, damping };
        return { state: { ...state, ...moved } as S, direction };
      };
      if (!useLm) return out(state.damping);
      // ρ = actual / predicted reduction of the damped quadratic model q(−γd) = −γ gᵀd + ½ γ² dᵀ C d.
      const predicted = -lr * dot(state.gradient, direction) + 0.5 * lr * lr * dot(direction, curvatureDirection!);
      // At convergence both reductions are rounding noise: keep λ rather than react to it.
      if (!(Math.abs(predicted) > 1e-13 * (1 + Math.abs(state.loss)))) return out(state.damping);
      const rho = (fresh.loss - state.loss) / predicted;
      let lambda = state.damping;
      if (!(rho > 0.25)) lambda *= lm!.boost;
      else if (rho > 0.75) lambda *= lm!.drop;
      lambda = Math.min(Math.max(lambda, lm!.min), lm!.max);
      return out(lambda);
    },
    refresh(state, p) {
      checkProblem(p, 'the problem');
      const { loss, gradient } = p.lossAndGradient(state.theta);
      return { ...state, loss, gradient: widen(gradient) };
    },
    step(theta) {
      return opt.update(opt.init(theta)).state.theta;
    },
    run(theta0, runOptions) {
      checkOptions(runOptions, `${name}.run`, RUN_KEYS, { batchSize: OPTIMIZER_HINTS.batchSize!, epochs: OPTIMIZER_HINTS.epochs! });
      const iterations = checkCount(runOptions?.iterations, `${name}.run: iterations`, { min: 0 });
      const factor = runOptions.divergenceFactor;
      if (factor !== undefined) checkScalar(factor, 'divergenceFactor', 'positive');
      if (runOptions.record !== undefined) checkOptions(runOptions.record, `${name}.run: record`, ['theta', 'direction']);
      if (runOptions.stop !== undefined && typeof runOptions.stop !== 'function') throw new TypeError(`natgrad: ${name}.run: stop must be a function (loss, iteration, initialLoss) => boolean`);
      let state = opt.init(theta0);
      const rec: RunRecord = { losses: [state.loss], gradNorms: [norm(state.gradient)], dampings: [], status: 'ok', theta: state.theta };
      if (runOptions.record?.theta) rec.thetas = [state.theta];
      if (runOptions.record?.direction) rec.directions = [];
      const initial = state.loss;
      for (let k = 0; k < iterations; k++) {
        let res: UpdateResult<S>;
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
    saveState(state) {
      return saveState(name, state);
    },
    loadState(saved) {
      return loadState<S>(name, problem.dim, saved);
    },
  };
  return opt;
}

/**
 * Options of {@link gd}: the step size only.
 *
 * @category Optimizers
 */
export interface GdOptions {
  /** step size γ > 0 */
  lr: number;
}

/**
 * Gradient descent: d = ∇L(θ), θ ← θ − γ d.
 * @throws TypeError without options, for an unknown option (e.g. `batchSize`: mini-batches are
 *   {@link train}'s); RangeError for lr ≤ 0
 * @example
 * const rec = gd(p, { lr: 0.5 }).run(theta0, { iterations: 100 });
 *
 * @category Optimizers
 */
export function gd(problem: Problem<Dtype>, options: GdOptions): Optimizer {
  const o = optimizerOptions<GdOptions>(options, 'gd', ['lr'], 'gd(problem, { lr: 0.1 })');
  return makeOptimizer('GD', problem, { lr: o.lr }, (_p, s) => ({ direction: s.gradient }), false);
}

/** Bytes above which `solver: 'auto'` uses CG instead of a dense D × D (256 MiB). */
const AUTO_DENSE_BYTES = 256 * 2 ** 20;

const SECOND_ORDER_KEYS = ['lr', 'damping', 'adaptiveDamping', 'solver', 'cg', 'minRcond'] as const;

const CURVATURE_NAMES: Record<CurvatureKind, string> = { fisher: 'Fisher', ggn: 'GGN', empiricalFisher: 'empirical Fisher', hessian: 'Hessian', fisherMC: 'Monte-Carlo Fisher' };

/**
 * The damped solve (C + shift·I) d = g of a second-order optimizer: Cholesky on the dense C, or
 * CG on the curvature operator (see {@link SolverOptions}). The dense/CG choice is made once,
 * from D (the same for every mini-batch of the problem).
 */
function solveWith(
  name: string,
  problem: Problem<Dtype>,
  options: SecondOrderOptions,
  kind: CurvatureKind,
  dense: (p: Problem<Dtype>, s: OptimizerState) => SymMatrix,
  mc?: { samples: number; seed: number },
): Preconditioner {
  const solver = options.solver ?? 'auto';
  if (solver !== 'cholesky' && solver !== 'cg' && solver !== 'auto') throw new RangeError(`natgrad: ${name}: solver must be 'cholesky', 'cg' or 'auto', got ${String(solver)}`);
  const minRcond = options.minRcond;
  if (minRcond !== undefined && !(checkScalar(minRcond, 'minRcond', 'nonnegative') <= 1)) throw new RangeError(`natgrad: minRcond must be in [0, 1], got ${minRcond}`);
  const cgo = checkOptions<{ tol: number; maxIterations: number }>(options.cg, `${name}: cg`, ['tol', 'maxIterations']);
  const tol = checkScalar(cgo.tol ?? 1e-10, 'cg.tol', 'positive');
  const maxIterations = cgo.maxIterations === undefined ? undefined : checkCount(cgo.maxIterations, 'cg.maxIterations');
  const useCg = solver === 'cg' || (solver === 'auto' && 8 * problem.dim * problem.dim > AUTO_DENSE_BYTES);
  const want = !!options.adaptiveDamping;
  const prior = kind === 'hessian' ? 0 : 1;
  const what = `${name}: the ${prior ? `damped ${CURVATURE_NAMES[kind]} (with the prior's s/σp²)` : 'Hessian'}`;
  if (!useCg) return (p, s) => dampedSolve(dense(p, s), s.gradient, prior * p.priorCurvature() + s.damping, want, minRcond, what);
  return (p, s) => {
    const op = curvatureOperator(p, s.theta, mc ? { kind, samples: mc.samples, seed: mc.seed + s.iteration } : { kind });
    const r = cg(op, s.gradient, { damping: prior * p.priorCurvature() + s.damping, tol, maxIterations });
    // 'precision': a float32 model's CG reached the best residual float32 products allow, above
    // cg.tol (the default 1e-10 is below it): that direction is as accurate as the model's type
    // can give, so the step is taken.
    if (!r.converged && r.reason !== 'precision') {
      throw new ConvergenceError(
        `natgrad: ${name} step ${s.iteration + 1}: CG on the damped ${kind} did not converge (${r.reason === 'negativeCurvature' ? 'non-positive curvature: the damped matrix is not positive definite — pass a damping > 0' : `relative residual ${r.residual.toExponential(2)} > tol ${tol} after ${r.iterations} iterations`}); raise damping or cg.maxIterations`,
        r.iterations,
        r.residual,
      );
    }
    return { direction: r.x, curvatureDirection: r.product };
  };
}

function secondOrder(
  name: string,
  fn: string,
  problem: Problem<Dtype>,
  options: unknown,
  kind: CurvatureKind,
  dense: (p: Problem<Dtype>, s: OptimizerState) => SymMatrix,
  extra: readonly string[] = [],
): Optimizer {
  const o = optimizerOptions<SecondOrderOptions>(options, fn, [...SECOND_ORDER_KEYS, ...extra], `${fn}(problem, { lr: 1, damping: 1e-4 })`);
  return makeOptimizer(name, problem, baseOptions(o), solveWith(name, problem, o, kind, dense), true);
}

/**
 * Natural gradient descent with the exact Fisher: d = (F + s/σp² I + λI)⁻¹ ∇L (Cholesky, or CG:
 * see {@link SolverOptions}). F is singular whenever D > N·(outputs) — pass a damping.
 * With θ ← θ − γ d, `run` takes `iterations` such steps and records the losses; `init` / `update`
 * do the same one step at a time on an explicit state (see {@link Optimizer}).
 * @example
 * ```ts
 * await init();
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * const opt = ngd(p, { lr: 1, damping: 1e-4 });
 * const run = opt.run(new Float64Array(p.dim), { iterations: 20 });
 * run.status;                   // 'ok'
 * run.losses[0].toFixed(4);     // '0.6931' (log 2 at θ = 0)
 * run.losses[1].toFixed(4);     // '0.2496'
 * run.losses[20].toFixed(4);    // '0.0459'
 * // the same 20 steps on an explicit state:
 * let state = opt.init(new Float64Array(p.dim));
 * for (let k = 0; k < 20; k++) state = opt.update(state).state;
 * state.loss === run.losses[20]; // true
 * ```
 *
 * @category Optimizers
 */
export function ngd(problem: Problem<Dtype>, options: SecondOrderOptions): Optimizer {
  return secondOrder('NGD', 'ngd', problem, options, 'fisher', (p, s) => p.fisher(s.theta));
}

/**
 * Empirical-Fisher descent: d = (F̃ + s/σp² I + λI)⁻¹ ∇L (Cholesky, or CG: see {@link SolverOptions}).
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * efgd(p, { lr: 1, damping: 1e-4 }).run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4);
 * // '0.0490' (NGD with the same settings: '0.0459')
 * ```
 *
 * @category Optimizers
 */
export function efgd(problem: Problem<Dtype>, options: SecondOrderOptions): Optimizer {
  return secondOrder('EFGD', 'efgd', problem, options, 'empiricalFisher', (p, s) => p.empiricalFisher(s.theta));
}

/**
 * Newton's method: d = (∇²L + λI)⁻¹ ∇L (the Hessian includes the prior; Cholesky, or CG: see {@link SolverOptions}).
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * newton(p, { lr: 1, damping: 1e-4 }).run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4);
 * // '0.0459': for a linear model with a natural-parameter likelihood the Hessian is the Fisher
 * ```
 *
 * @category Optimizers
 */
export function newton(problem: Problem<Dtype>, options: SecondOrderOptions): Optimizer {
  return secondOrder('Newton', 'newton', problem, options, 'hessian', (p, s) => p.hessian(s.theta));
}

/**
 * Options of {@link ngdMC}.
 *
 * @category Optimizers
 */
export interface NgdMCOptions extends SecondOrderOptions {
  /** S ≥ 1 sampled labels per point per step (default 1). */
  samples?: number;
  /** Seed of step 0 (step k uses seed + k; default 0). */
  seed?: number;
}

/**
 * NGD with the Monte-Carlo Fisher (S samples per point, fresh every step: step k uses seed
 * `seed + k`), d = (F̂_MC + s/σp² I + λI)⁻¹ ∇L.
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * const run = ngdMC(p, { lr: 1, damping: 1e-4, samples: 10, seed: 0 }).run(new Float64Array(p.dim), { iterations: 20 });
 * run.losses[20].toFixed(4);    // '0.0459', as NGD; with samples: 1 the damping must be larger (1e-2: '0.0783')
 * ```
 *
 * @category Optimizers
 */
export function ngdMC(problem: Problem<Dtype>, options: NgdMCOptions): Optimizer {
  const o = optimizerOptions<NgdMCOptions>(options, 'ngdMC', [...SECOND_ORDER_KEYS, 'samples', 'seed'], 'ngdMC(problem, { lr: 1, damping: 1e-4, samples: 1, seed: 0 })');
  const samples = checkCount(o.samples, 'ngdMC: samples', { dflt: 1 });
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: ngdMC: seed must be a safe integer, got ${String(seed)}`);
  return makeOptimizer(
    'NGD-MC',
    problem,
    baseOptions(o),
    solveWith('NGD-MC', problem, o, 'fisherMC', (p, s) => p.fisherMC(s.theta, { samples, seed: seed + s.iteration }), { samples, seed }),
    true,
  );
}

/**
 * Options of {@link diagonalEF}.
 *
 * @category Optimizers
 */
export interface DiagonalEFOptions {
  /** step size γ > 0 */
  lr: number;
  /** λ ≥ 0 added to the diagonal (default 0) */
  damping?: number;
  /** p = 1 (default) or ½ */
  power?: 1 | 0.5;
}

/**
 * Diagonal empirical-Fisher preconditioning: d_i = ∇L_i / (F̃_ii + s/σp² + λ)^p with p = 1, or
 * p = ½ (the full-batch Adam-like preconditioner of §5; λ then plays Adam's ε²-like role).
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * diagonalEF(p, { lr: 0.1, damping: 1e-8 }).run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4);
 * // '0.6059'
 * diagonalEF(p, { lr: 0.01, damping: 1e-8, power: 0.5 }); // the full-batch Adam-like preconditioner
 * ```
 *
 * @category Optimizers
 */
export function diagonalEF(problem: Problem<Dtype>, options: DiagonalEFOptions): Optimizer {
  const o = optimizerOptions<DiagonalEFOptions>(options, 'diagonalEF', ['lr', 'damping', 'power'], 'diagonalEF(problem, { lr: 0.1, damping: 1e-8 })');
  const power = o.power ?? 1;
  if (power !== 1 && power !== 0.5) throw new RangeError(`natgrad: power must be 1 or 0.5, got ${String(power)}`);
  return makeOptimizer(
    power === 1 ? 'diagEF' : 'diagEF-sqrt',
    problem,
    { lr: o.lr, ...(o.damping !== undefined ? { damping: o.damping } : {}) },
    (p, s) => {
      const diag = p.empiricalFisher(s.theta, { structure: 'diagonal' });
      const shift = p.priorCurvature() + s.damping;
      const direction = s.gradient.map((g, i) => {
        const den = diag[i]! + shift;
        if (!(den > 0)) {
          const e = new NotPositiveDefiniteError(i + 1, den, 'diagonal empirical Fisher + damping');
          e.message += ' — pass a damping > 0 (a coordinate no sample moves has a zero diagonal)';
          throw e;
        }
        return g / (power === 1 ? den : Math.sqrt(den));
      });
      return { direction };
    },
    false,
  );
}

/**
 * Options of {@link varianceAdapted}.
 *
 * @category Optimizers
 */
export interface VarianceAdaptedOptions {
  /** step size γ > 0 */
  lr: number;
  /** λ ≥ 0 (default 0) */
  damping?: number;
}

/**
 * Variance-adapted direction (Eq. 19): d = ‖∇L‖² (F̃ + s/σp² I + λI)⁻¹ ∇L.
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');                // 569 × 30
 * const p = linearProblem({ X, y, likelihood: bernoulli(), bias: true }); // D = 31
 * varianceAdapted(p, { lr: 0.5, damping: 1e-4 }).run(new Float64Array(p.dim), { iterations: 20 }).losses[20].toFixed(4);
 * // '0.2934'
 * ```
 *
 * @category Optimizers
 */
export function varianceAdapted(problem: Problem<Dtype>, options: VarianceAdaptedOptions): Optimizer {
  const o = optimizerOptions<VarianceAdaptedOptions>(options, 'varianceAdapted', ['lr', 'damping'], 'varianceAdapted(problem, { lr: 0.1, damping: 1e-4 })');
  return makeOptimizer(
    'VA',
    problem,
    o,
    (p, s) => {
      const r = dampedSolve(p.empiricalFisher(s.theta), s.gradient, p.priorCurvature() + s.damping, false, undefined, 'VA: the damped empirical Fisher');
      const gg = dot(s.gradient, s.gradient);
      return { direction: r.direction.map((v) => v * gg) };
    },
    false,
  );
}
