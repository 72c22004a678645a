/**
 * Marginal-likelihood training of the prior precision during optimization (Immer et al. 2021,
 * "Scalable marginal likelihood estimation for model selection in deep learning", Algorithm 1):
 * train θ on the MAP objective with prior N(0, δ⁻¹ I), and every `hyperEvery` epochs fit a Laplace
 * approximation at the current θ and take `hyperSteps` Adam steps (lr 0.1, β = (0.9, 0.999), the
 * paper's and laplace-torch's `marglik_training` defaults) on t = log δ ascending
 * log Z(δ) = log p(D | θ) − ½ [log det P − log det P0 + δ‖θ‖²], with the Laplace's curvature held
 * fixed during those steps and the exact gradient of {@link Laplace.logMarginalLikelihoodGradient}.
 *
 * It is {@link train} with its `marglik` option, on a problem built from `spec`: the training
 * problem is `problem.withPriorVariance(1/δ)` ({@link ModelProblem.withPriorVariance}, no data
 * copied), replaced after each hyperparameter update; its loss is s · (Σ_n ℓ_n + δ‖θ‖²/2) with
 * s = 1/N (`'mean'`, so the prior is scaled by 1/N as the data term is — the MAP is the same) or 1
 * (`'sum'`). The optimizer's state (Adam moments, iteration count, the batch schedule) carries over
 * the updates. Scalar prior only. Prefer `train(problem, optimizer, { …, marglik })`, which takes a
 * problem you already have and gives the whole training record.
 *
 * @module
 */
import { checkCount, checkOptions } from '../core/options.js';
import type { Dtype, VectorInput } from '../core/types.js';
import { toVector } from '../core/validate.js';
import type { Optimizer, OptimizerState } from '../optimizers/optimizers.js';
import { train } from '../optimizers/train.js';
import { type ProblemOptions, problem as makeProblem } from '../problem/problem.js';

/**
 * Options of {@link marglikTraining}.
 *
 * @category Laplace
 */
export interface MarglikTrainingOptions {
  /** θ0, length D (required). */
  theta0: VectorInput;
  /** Passes over the data (integer ≥ 1). */
  epochs: number;
  /** B ≥ 1 samples per step (default N: full batch). */
  batchSize?: number;
  /** Seed of the batch schedule (default 0). */
  seed?: number;
  /** The Laplace's structure at each update (default `'diagonal'`). */
  structure?: 'full' | 'diagonal' | 'kfac' | 'lowRank';
  /** `'lowRank'`: the rank. */
  rank?: number;
  /** Update δ after every this many epochs (default 1). */
  hyperEvery?: number;
  /** Adam steps on log δ per update (default 50). */
  hyperSteps?: number;
  /** Adam's learning rate on log δ (default 0.1). */
  hyperLr?: number;
  /** The prior's structure: `'scalar'` (the only one: natgrad's problems have a scalar prior variance). */
  priorStructure?: 'scalar';
  /** δ at the start (default 1). */
  priorPrecision?: number;
}

/**
 * What {@link marglikTraining} returns.
 *
 * @category Laplace
 */
export interface MarglikTrainingResult {
  /** θ after the last epoch. */
  theta: Float64Array;
  /** δ: the initial value, then after each hyperparameter update. */
  priorPrecision: number[];
  /** log Z after each hyperparameter update (at that θ, with the new δ). */
  marglik: number[];
  /** The training loss L(θ) (with the prior of the time) at the start and after every epoch. */
  losses: number[];
  /** The optimizer's final state. */
  state: OptimizerState;
}

const KEYS = ['theta0', 'epochs', 'batchSize', 'seed', 'structure', 'rank', 'hyperEvery', 'hyperSteps', 'hyperLr', 'priorStructure', 'priorPrecision'];

/**
 * Marginal-likelihood training (Immer et al. 2021, Algorithm 1): θ by `optimizer` on the MAP
 * objective with prior variance 1/δ; every `hyperEvery` epochs a Laplace approximation at θ and
 * `hyperSteps` Adam steps on log δ along ∂ log Z/∂log δ = −½ [Σ_j δ (P⁻¹)_jj − D + δ‖θ‖²]; the
 * training then continues with priorVariance = 1/δ (see the module page). A thin wrapper: the
 * same run as `train(problem(spec), optimizer, { theta0, epochs, batchSize, seed, marglik: { every:
 * hyperEvery, steps: hyperSteps, lr: hyperLr, structure, rank, priorPrecision } })`, bit for bit
 * ({@link train}'s `marglik` option, which also works on a problem you already have).
 * @param spec the problem's options ({@link problem}) without `priorVariance` (it is 1/δ).
 * @param optimizer any optimizer (its state is carried across the hyperparameter updates).
 * @throws RangeError for a non-scalar priorStructure, a spec with priorVariance, bad counts, a run
 *   that does not end with status 'ok' (its status and reason in the message).
 * @example
 * ```ts
 * const spec = { model, X, y, likelihood: categorical({ classes: 3 }) };
 * const r = marglikTraining(spec, adam(problem(spec), { lr: 0.01 }), { theta0: model.init(0), epochs: 20, hyperEvery: 5 });
 * r.priorPrecision; // [1, δ₁, δ₂, δ₃, δ₄]
 * ```
 *
 * @category Laplace
 */
export function marglikTraining<S extends OptimizerState>(spec: ProblemOptions<Dtype>, optimizer: Optimizer<S>, options: MarglikTrainingOptions): MarglikTrainingResult {
  const o = checkOptions<MarglikTrainingOptions>(options, 'marglikTraining', KEYS);
  if (typeof spec !== 'object' || spec === null || spec.model === undefined)
    throw new TypeError('natgrad: marglikTraining: the first argument must be problem options { model, X, y, likelihood, reduction? }');
  if (spec.priorVariance !== undefined) throw new RangeError('natgrad: marglikTraining: the spec must not set priorVariance (it is 1/δ, trained); set the initial δ with priorPrecision');
  if ((o.priorStructure ?? 'scalar') !== 'scalar')
    throw new RangeError(`natgrad: marglikTraining: priorStructure must be 'scalar' (natgrad's problems have one prior variance), got ${String(o.priorStructure)}`);
  const epochs = checkCount(o.epochs, 'marglikTraining: epochs');
  const every = checkCount(o.hyperEvery, 'marglikTraining: hyperEvery', { dflt: 1 });
  const steps = checkCount(o.hyperSteps, 'marglikTraining: hyperSteps', { dflt: 50 });
  const lr = o.hyperLr ?? 0.1;
  if (typeof lr !== 'number' || !(lr > 0 && Number.isFinite(lr))) throw new RangeError(`natgrad: marglikTraining: hyperLr must be a finite number > 0, got ${String(lr)}`);
  const delta = o.priorPrecision ?? 1;
  if (typeof delta !== 'number' || !(delta > 0 && Number.isFinite(delta))) throw new RangeError(`natgrad: marglikTraining: priorPrecision must be a finite number > 0, got ${String(delta)}`);
  const theta0 = toVector(o.theta0, spec.model.dim, 'theta0').slice();
  const p = makeProblem(spec);
  try {
    const rec = train(p, optimizer, {
      theta0,
      epochs,
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      marglik: { every, steps, lr, priorPrecision: delta, ...(o.structure !== undefined ? { structure: o.structure } : {}), ...(o.rank !== undefined ? { rank: o.rank } : {}) },
    });
    if (rec.status !== 'ok') throw new RangeError(`natgrad: marglikTraining: training stopped at step ${rec.steps.at(-1)} (${rec.status}: ${rec.reason ?? ''})`);
    return { theta: rec.theta.slice(), priorPrecision: rec.priorPrecision!, marglik: rec.marglik!, losses: rec.losses, state: rec.state };
  } finally {
    p.free();
  }
}
