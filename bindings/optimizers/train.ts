/**
 * The training loop: any optimizer on mini-batches of one problem, through the problem's
 * mini-batch views ({@link Problem.batch}) — no problem is rebuilt and nothing is allocated per
 * step after the first batches of each size.
 *
 * Sampling: each epoch draws a permutation of 0..N−1 from `rng(seed)` (xoshiro256**, Fisher–Yates,
 * one generator for the whole run, so a seed fixes every epoch), cuts it into ⌈N/B⌉ consecutive
 * batches (the last one smaller when B ∤ N) and sorts each batch's indices ({@link batchSchedule}).
 * Step k takes the gradient AND the curvature of batch k; the optimizer's state carries over
 * (iteration count, KFAC factors, Adam moments, adaptive λ). A batch view has the prior variance
 * σp²·N/B, so its loss (1/B)(Σ_batch ℓ_n) + ‖θ‖²/(2Nσp²) estimates L(θ) without bias.
 *
 * Cost per step: the optimizer's curvature work on batch k and ONE gradient pass — at the new θ
 * on batch k+1 (`optimizer.update(state, batch_k, batch_k+1)`), which the next step uses; plus a
 * full-data loss at each evaluation point. With B ≥ N every batch is the problem itself and the
 * iterates are exactly — bit for bit — those of `optimizer.run`.
 *
 * Marginal-likelihood training of the prior (the `marglik` option; Immer et al. 2021, "Scalable
 * marginal likelihood estimation for model selection in deep learning", Algorithm 1): the loop
 * runs on `problem.withPriorVariance(1/δ)`, and after every `every` epochs it fits a Laplace
 * approximation ({@link laplace}) at the current θ on the current full problem and takes `steps`
 * Adam steps on t = log δ ascending log Z(δ) = log p(D | θ) − ½ [log det P − log det P0 + δ‖θ‖²]
 * (the Laplace's curvature held fixed, the exact gradient of
 * {@link Laplace.logMarginalLikelihoodGradient}), then continues on
 * `problem.withPriorVariance(1/δ)`: its loss is s · (Σ_n ℓ_n + δ‖θ‖²/2), so with the `'mean'`
 * reduction the prior is scaled by 1/N as the data term is (the MAP is the same). The optimizer's
 * state carries over, refreshed on the new problem. Scalar prior only.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { IllConditionedError, NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import { checkCount, checkOptions } from '../core/options.js';
import type { VectorInput } from '../core/types.js';
import { checkScalar, toVector } from '../core/validate.js';
import { rng } from '../data/random.js';
import { laplace } from '../laplace/laplace.js';
import type { Problem } from '../problem/types.js';
import { ConvergenceError } from '../solvers/errors.js';
import type { Optimizer, OptimizerState } from './optimizers.js';

/**
 * Options of {@link train}.
 *
 * @category Training
 */
export interface TrainOptions<S extends OptimizerState = OptimizerState> {
  /** Where to start (one of `theta0` and `state`). */
  theta0?: VectorInput;
  /**
   * Resume from a state (e.g. `optimizer.loadState(saved)`): the run continues the same schedule
   * at step `state.iteration`, so a run split in two gives exactly the uninterrupted one.
   */
  state?: S;
  /** Passes over the data (integer ≥ 0). */
  epochs: number;
  /** B ≥ 1 samples per step (default N: full batch; B ≥ N is full batch). */
  batchSize?: number;
  /** Seed of the sampling (default 0). */
  seed?: number;
  /** Evaluate the full-data loss every this many steps (and after the last). Default: at each epoch's end. */
  evaluateEvery?: number;
  /** Or: this many evaluations per epoch, evenly spaced in steps. */
  evaluationsPerEpoch?: number;
  /** Stop once the full-data loss exceeds factor × its initial value (the paper's rule). */
  divergenceFactor?: number;
  /** Keep θ after every step (`thetas`). */
  recordTheta?: boolean;
  /** Stop (status 'aborted') at the next step once aborted. */
  signal?: AbortSignal;
  /** Called after every step. */
  onProgress?: (p: { step: number; steps: number; epoch: number }) => void;
  /**
   * Train the prior precision δ by the marginal likelihood as well (Immer et al. 2021,
   * Algorithm 1; a scalar δ; the defaults are the paper's and laplace-torch's
   * `marglik_training`'s). The run starts on `problem.withPriorVariance(1/δ0)` — the passed
   * problem's own prior is ignored — and after every `every` epochs (and after the last) moves δ
   * by `steps` Adam steps on log δ along the gradient of the Laplace approximation's log Z at the
   * current θ, then continues on `problem.withPriorVariance(1/δ)`. The record gets
   * `priorPrecision` and `marglik`. Resuming from `state` needs `priorPrecision` (the δ reached:
   * the earlier record's `priorPrecision.at(-1)`); the Adam moments on log δ restart, so a split
   * run is not bit for bit the uninterrupted one. Needs `problem.withPriorVariance` (every
   * built-in problem has it).
   * @example
   * ```ts
   * const digits = await loadDigits();                          // 1797 × 64
   * const model = mlp({ sizes: [64, 16, 10], activation: 'tanh' });
   * const p = problem({ model, X: digits.X, y: digits.y, likelihood: categorical({ classes: 10 }) });
   * const rec = train(p, adam(p, { lr: 1e-2 }), { theta0: model.init(0), batchSize: 32, epochs: 6, seed: 1, marglik: { every: 2 } });
   * rec.priorPrecision.map((d) => d.toFixed(3)); // ['1.000', '5.012', '5.301', '5.103']: δ0, then after epochs 2, 4 and 6
   * rec.marglik.map((z) => z.toFixed(1));        // ['-1391.8', '-1316.5', '-1258.7']: log Z at each update's θ and new δ
   * ```
   */
  marglik?: {
    /** Update δ after every this many epochs (and after the last one); integer ≥ 1, default 1. */
    every?: number;
    /** Adam steps on log δ per update (integer ≥ 1, default 50). */
    steps?: number;
    /** Adam's learning rate on log δ (> 0, default 0.1; β = (0.9, 0.999), ε = 1e-8, moments carried across updates). */
    lr?: number;
    /** The Laplace approximation's structure at each update (default `'diagonal'`). */
    structure?: 'full' | 'diagonal' | 'kfac' | 'lowRank';
    /** `'lowRank'` only (and required there): the number of eigenpairs kept, 1 ≤ rank ≤ D. */
    rank?: number;
    /** δ0 > 0, the prior precision at the start (default 1; required when resuming from `state`). */
    priorPrecision?: number;
  };
}

/**
 * What {@link train} returns.
 *
 * @category Training
 */
export interface TrainRecord<S extends OptimizerState = OptimizerState> {
  /** Full-data L(θ) at the evaluation points, the first at the start. */
  losses: number[];
  /** Per-sample gradient evaluations (Σ of the batch sizes) before each entry of `losses`. */
  evaluations: number[];
  /** Steps done (counted from the start of the schedule) at each entry of `losses`. */
  steps: number[];
  /** The batch loss of every step (at the θ the step starts from, on its batch). */
  batchLosses: number[];
  /** θ after every step, with `recordTheta`. */
  thetas?: Float64Array[];
  /**
   * 'ok'; 'stopped' (the divergence rule fired, or a step diverged under it); 'failed' (a step
   * failed — a system not positive definite, a CG that did not converge, a loss or gradient that
   * overflowed without a divergence rule: see `reason`); 'aborted' (the signal).
   */
  status: 'ok' | 'stopped' | 'failed' | 'aborted';
  reason?: string;
  /** The last iterate. */
  theta: Float64Array;
  /** The optimizer state after the last completed step (save it to resume). */
  state: S;
  /** With `marglik`: δ at the start, then after each update. */
  priorPrecision?: number[];
  /** With `marglik`: log Z after each update (at that θ, with the new δ). */
  marglik?: number[];
}

/**
 * The batches of a run: `epochs` lists of ⌈N/B⌉ sorted index arrays. Each epoch draws a
 * permutation of 0..N−1 from `rng(seed)` (xoshiro256**, Fisher–Yates, one generator for the whole
 * run, so a seed fixes every epoch), cuts it into ⌈N/B⌉ consecutive batches (the last one smaller
 * when B ∤ N) and sorts each batch's indices; with B ≥ N every batch is 0..N−1 in order. Exposed
 * so that tests and figures can see exactly what {@link train} samples.
 * @example
 * ```ts
 * batchSchedule(10, 4, 2, 0);
 * // [ [[1, 3, 7, 8], [0, 2, 4, 5], [6, 9]],     epoch 1: ⌈10/4⌉ = 3 batches
 * //   [[4, 5, 6, 8], [0, 2, 3, 7], [1, 9]] ]    epoch 2 (Int32Arrays)
 * ```
 *
 * @category Training
 */
export function batchSchedule(N: number, batchSize: number, epochs: number, seed = 0): Int32Array[][] {
  checkCount(N, 'batchSchedule: N');
  checkCount(batchSize, 'batchSize');
  checkCount(epochs, 'epochs', { min: 0 });
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

const KEYS = ['theta0', 'state', 'epochs', 'batchSize', 'seed', 'evaluateEvery', 'evaluationsPerEpoch', 'divergenceFactor', 'recordTheta', 'signal', 'onProgress', 'marglik'] as const;
const MARGLIK_KEYS = ['every', 'steps', 'lr', 'structure', 'rank', 'priorPrecision'] as const;
const MARGLIK_STRUCTURES = ['full', 'diagonal', 'kfac', 'lowRank'] as const;

type TrainMarglikOptions = NonNullable<TrainOptions['marglik']>;

/** The `marglik` option, checked, with its defaults. */
interface Marglik {
  every: number;
  steps: number;
  lr: number;
  structure: (typeof MARGLIK_STRUCTURES)[number];
  rank: number | undefined;
  priorPrecision: number;
}

function marglikOptions(v: unknown, problem: Problem<Dtype>, resuming: boolean): Marglik {
  const o = checkOptions<TrainMarglikOptions>(v, 'train: marglik', MARGLIK_KEYS);
  if (typeof problem.withPriorVariance !== 'function')
    throw new TypeError("natgrad: train: marglik needs the problem's withPriorVariance (every built-in problem has it), which this problem does not have");
  const every = checkCount(o.every, 'train: marglik.every', { dflt: 1 });
  const steps = checkCount(o.steps, 'train: marglik.steps', { dflt: 50 });
  const lr = checkScalar(o.lr ?? 0.1, 'train: marglik.lr', 'positive');
  if (resuming && o.priorPrecision === undefined)
    throw new TypeError('natgrad: train: resuming from a state with marglik needs marglik.priorPrecision (the δ the run had reached: its record.priorPrecision.at(-1))');
  const priorPrecision = checkScalar(o.priorPrecision ?? 1, 'train: marglik.priorPrecision', 'positive');
  const structure = o.structure ?? 'diagonal';
  if (!MARGLIK_STRUCTURES.includes(structure)) throw new RangeError(`natgrad: train: marglik.structure must be 'full', 'diagonal', 'kfac' or 'lowRank', got ${String(structure)}`);
  if (structure !== 'lowRank' && o.rank !== undefined) throw new RangeError("natgrad: train: marglik.rank goes with structure: 'lowRank' only");
  const rank = structure === 'lowRank' ? checkCount(o.rank, 'train: marglik.rank', { max: problem.dim }) : undefined;
  return { every, steps, lr, structure, rank, priorPrecision };
}

/** Adam on t = log δ, minimizing −log Z (β = (0.9, 0.999), ε = 1e-8): the moments carry over. */
interface HyperAdam {
  t: number;
  m: number;
  v: number;
  k: number;
}

/**
 * One hyperparameter update: a Laplace approximation of `problem` at θ with the current prior
 * precision δ, `ml.steps` Adam steps on t = log δ along −∂ log Z/∂t, then the new δ = e^t and
 * log Z there.
 */
function marglikUpdate(problem: Problem<Dtype>, theta: Float64Array, delta: number, adam: HyperAdam, ml: Marglik): { delta: number; logZ: number } {
  const la = laplace(problem, theta, { structure: ml.structure, priorPrecision: delta, ...(ml.rank !== undefined ? { rank: ml.rank } : {}) });
  const b1 = 0.9,
    b2 = 0.999;
  try {
    for (let s = 0; s < ml.steps; s++) {
      const g = -(la.logMarginalLikelihoodGradient({ priorPrecision: Math.exp(adam.t) }).priorPrecision as number);
      adam.k++;
      adam.m = b1 * adam.m + (1 - b1) * g;
      adam.v = b2 * adam.v + (1 - b2) * g * g;
      adam.t -= (ml.lr * (adam.m / (1 - b1 ** adam.k))) / (Math.sqrt(adam.v / (1 - b2 ** adam.k)) + 1e-8);
    }
    const next = Math.exp(adam.t);
    return { delta: next, logZ: la.logMarginalLikelihood({ priorPrecision: next }) };
  } finally {
    la.free();
  }
}

/**
 * Train: `optimizer` on mini-batches of `problem` for `epochs` passes. A step that fails or
 * diverges ends the run with a status, never an exception; bad options throw before any work.
 *
 * Sampling: each epoch draws a permutation of 0..N−1 from `rng(seed)`, cuts it into ⌈N/B⌉
 * batches and sorts each ({@link batchSchedule}). Step k takes the gradient and the curvature of
 * batch k through the problem's mini-batch view ({@link Problem.batch}); the optimizer's state
 * carries over (iteration count, KFAC factors, Adam moments, adaptive λ). A batch view has the
 * prior variance σp²·N/B, so its loss (1/B) Σ_batch ℓ_n + ‖θ‖²/(2Nσp²) estimates L(θ) without bias.
 *
 * Cost per step: the optimizer's curvature work on batch k and one gradient pass — at the new θ
 * on batch k+1 (`optimizer.update(state, batch_k, batch_k+1)`), which the next step uses; plus a
 * full-data loss at each evaluation point. With B ≥ N every batch is the problem itself and the
 * iterates are exactly — bit for bit — those of `optimizer.run`.
 *
 * With `marglik` ({@link TrainOptions.marglik}) the loop runs on `problem.withPriorVariance(1/δ)`
 * (the problem's own prior is ignored) and moves δ by the marginal likelihood after every
 * `marglik.every` epochs: a Laplace approximation at θ on the current full problem, `marglik.steps`
 * Adam steps on log δ, then the problem with the new δ, on which the optimizer's state is refreshed
 * (the module page gives the formulas). A Laplace that fails (a posterior precision not positive
 * definite) ends the run with status 'failed', like a failing step.
 * @param problem the full problem; B < N needs its `batch` views (every built-in problem has them) and the `'mean'` reduction; `marglik` needs its `withPriorVariance`
 * @param optimizer any optimizer (built on `problem` or on a problem of the same D)
 * @returns full-data losses at the evaluation points, batch losses, the final θ and state, the status; with `marglik` also `priorPrecision` and `marglik`
 * @throws UnknownOptionError for an unknown option (of `marglik` too); TypeError / RangeError for bad counts, neither or both of theta0 / state, a bad `marglik` setting, `marglik` with `state` but without `marglik.priorPrecision`
 * @example
 * const digits = await loadDigits();                          // 1797 × 64
 * const model = mlp({ sizes: [64, 16, 10], activation: 'tanh' });
 * const p = problem({ model, X: digits.X, y: digits.y, likelihood: categorical({ classes: 10 }) });
 * const rec = train(p, adam(p, { lr: 1e-2 }), { theta0: model.init(0), batchSize: 32, epochs: 5, seed: 1 });
 * rec.status;                                      // 'ok'
 * rec.losses.map((l) => l.toFixed(4));             // ['2.3295', '0.5424', '0.2400', '0.1600', '0.1424', '0.0982']: after 0, 1, …, 5 epochs
 * rec.steps;                                       // [0, 57, 114, 171, 228, 285]: ⌈1797/32⌉ = 57 steps per epoch
 *
 * @category Training
 */
export function train<S extends OptimizerState>(problem: Problem<Dtype>, optimizer: Optimizer<S>, options: TrainOptions<S>): TrainRecord<S> {
  const o = checkOptions<TrainOptions<S>>(options, 'train', KEYS, { iterations: 'train counts epochs (passes over the data); for full-batch iterations use optimizer.run(theta0, { iterations })' });
  if (typeof problem !== 'object' || problem === null || typeof problem.lossAndGradient !== 'function') throw new TypeError('natgrad: train: the first argument must be a problem');
  if (typeof optimizer !== 'object' || optimizer === null || typeof optimizer.update !== 'function')
    throw new TypeError('natgrad: train: the second argument must be an optimizer (gd, ngd, adam, kfac, …)');
  const N = problem.N;
  const epochs = checkCount(o.epochs, 'train: epochs', { min: 0 });
  const batchSize = checkCount(o.batchSize, 'train: batchSize', { dflt: N });
  const seed = o.seed ?? 0;
  const B = Math.min(batchSize, N);
  if (B < N) {
    if (typeof problem.batch !== 'function') throw new TypeError(`natgrad: train: batchSize ${B} < N = ${N} needs the problem's mini-batch views (problem.batch), which this problem does not have`);
    if (problem.reduction === 'sum') throw new RangeError("natgrad: train: the 'sum' reduction needs batchSize ≥ N (a batch sum does not estimate the full sum); use 'mean'");
  }
  if (o.evaluateEvery !== undefined && o.evaluationsPerEpoch !== undefined) throw new TypeError('natgrad: train: pass evaluateEvery or evaluationsPerEpoch, not both');
  const every = o.evaluateEvery === undefined ? undefined : checkCount(o.evaluateEvery, 'train: evaluateEvery');
  const per = checkCount(o.evaluationsPerEpoch, 'train: evaluationsPerEpoch', { dflt: 1 });
  const factor = o.divergenceFactor === undefined ? undefined : checkScalar(o.divergenceFactor, 'divergenceFactor', 'positive');
  if ((o.theta0 === undefined) === (o.state === undefined)) throw new TypeError('natgrad: train: pass exactly one of theta0 (a fresh start) and state (resume)');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('natgrad: train: onProgress must be a function');
  const ml = o.marglik === undefined ? undefined : marglikOptions(o.marglik, problem, o.state !== undefined);
  const schedule = batchSchedule(N, batchSize, epochs, seed);
  const flat: { idx: Int32Array; epoch: number; mark: boolean }[] = [];
  schedule.forEach((batches, e) => {
    const marks = new Set(Array.from({ length: per }, (_, j) => Math.round(((j + 1) * batches.length) / per)));
    batches.forEach((idx, b) => flat.push({ idx, epoch: e, mark: every === undefined && marks.has(b + 1) }));
  });
  const steps = flat.length;
  const start = o.state ? o.state.iteration : 0;
  if (o.state && !(start <= steps)) throw new RangeError(`natgrad: train: the state is at step ${start}, past the schedule's ${steps} steps`);
  // With marglik: the hyperparameter update follows the last step of every `ml.every`-th epoch and of the last one.
  const hyperAfter = (k: number): boolean => {
    if (!ml || (k + 1 < steps && flat[k + 1]!.epoch === flat[k]!.epoch)) return false;
    const e = flat[k]!.epoch + 1;
    return e % ml.every === 0 || e === epochs;
  };

  const theta = o.state ? toVector(o.state.theta, problem.dim, 'state.theta') : toVector(o.theta0, problem.dim, 'theta0').slice();
  let evals = flat.slice(0, start).reduce((n, s) => n + s.idx.length, 0);
  // The full problem the loop runs on: with marglik, the problem with prior variance 1/δ (rebuilt at each update).
  let delta = ml?.priorPrecision ?? 0;
  let full: Problem<Dtype> = ml ? problem.withPriorVariance!(1 / delta) : problem;
  const hyper: HyperAdam = { t: Math.log(delta), m: 0, v: 0, k: 0 };
  const view = (k: number): Problem<Dtype> => (B < N ? full.batch!(flat[k]!.idx) : full);
  try {
    const initial = full.loss(theta);
    const rec: TrainRecord<S> = { losses: [initial], evaluations: [evals], steps: [start], batchLosses: [], status: 'ok', theta, state: undefined as unknown as S };
    if (o.recordTheta) rec.thetas = [];
    if (ml) {
      rec.priorPrecision = [delta];
      rec.marglik = [];
    }
    const diverged = (e: Error): void => {
      rec.status = factor !== undefined ? 'stopped' : 'failed';
      rec.reason = e.message;
    };
    const failed = (e: unknown): boolean => {
      if (!(e instanceof NotPositiveDefiniteError || e instanceof IllConditionedError || e instanceof ConvergenceError)) return false;
      rec.status = 'failed';
      rec.reason = e.message;
      return true;
    };
    let state: S;
    let current = start < steps ? view(start) : full;
    try {
      state = o.state ? optimizer.refresh(o.state, current) : optimizer.init(theta, current);
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      rec.state = o.state as S;
      diverged(e);
      return rec;
    }
    rec.state = state;
    for (let k = start; k < steps; k++) {
      if (o.signal?.aborted) {
        rec.status = 'aborted';
        rec.reason = 'aborted';
        break;
      }
      rec.batchLosses.push(state.loss);
      const update = hyperAfter(k);
      try {
        // Before a hyperparameter update the next batch is taken from the rebuilt problem (a refresh below).
        const next = k + 1 < steps && !update ? view(k + 1) : current;
        state = optimizer.update(state, current, next).state;
        current = next;
      } catch (e) {
        if (failed(e)) break;
        if (e instanceof NonFiniteLossError) {
          rec.losses.push(Infinity);
          rec.evaluations.push(evals + flat[k]!.idx.length);
          rec.steps.push(k + 1);
          diverged(e);
          break;
        }
        throw e;
      }
      evals += flat[k]!.idx.length;
      rec.state = state;
      rec.theta = state.theta;
      rec.thetas?.push(state.theta);
      o.onProgress?.({ step: k + 1, steps, epoch: flat[k]!.epoch });
      if (flat[k]!.mark || (every !== undefined && ((k + 1) % every === 0 || k + 1 === steps))) {
        let loss: number;
        try {
          loss = full.loss(state.theta);
        } catch (e) {
          if (e instanceof NonFiniteLossError) loss = Infinity;
          else throw e;
        }
        rec.losses.push(loss);
        rec.evaluations.push(evals);
        rec.steps.push(k + 1);
        if (!Number.isFinite(loss)) {
          rec.status = factor !== undefined ? 'stopped' : 'failed';
          rec.reason = 'the full-data loss is not finite';
          break;
        }
        if (factor !== undefined && loss > factor * initial) {
          rec.status = 'stopped';
          break;
        }
      }
      if (update) {
        try {
          const u = marglikUpdate(full, state.theta, delta, hyper, ml!);
          delta = u.delta;
          rec.priorPrecision!.push(delta);
          rec.marglik!.push(u.logZ);
          if (k + 1 < steps) {
            const old = full;
            full = problem.withPriorVariance!(1 / delta);
            old.free();
            current = view(k + 1);
            state = optimizer.refresh(state, current);
            rec.state = state;
          }
        } catch (e) {
          if (failed(e)) break;
          if (e instanceof NonFiniteLossError) {
            diverged(e);
            break;
          }
          throw e;
        }
      }
    }
    return rec;
  } finally {
    if (full !== problem) full.free();
  }
}
