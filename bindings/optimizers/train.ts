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
 * @module
 */
import { IllConditionedError, NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import { checkCount, checkOptions } from '../core/options.js';
import type { VectorInput } from '../core/types.js';
import { checkScalar, toVector } from '../core/validate.js';
import { rng } from '../data/random.js';
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

const KEYS = ['theta0', 'state', 'epochs', 'batchSize', 'seed', 'evaluateEvery', 'evaluationsPerEpoch', 'divergenceFactor', 'recordTheta', 'signal', 'onProgress'] as const;

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
 * @param problem the full problem; B < N needs its `batch` views (every built-in problem has them) and the `'mean'` reduction
 * @param optimizer any optimizer (built on `problem` or on a problem of the same D)
 * @returns full-data losses at the evaluation points, batch losses, the final θ and state, the status
 * @throws UnknownOptionError for an unknown option; TypeError / RangeError for bad counts, neither or both of theta0 / state
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
export function train<S extends OptimizerState>(problem: Problem, optimizer: Optimizer<S>, options: TrainOptions<S>): TrainRecord<S> {
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
  const schedule = batchSchedule(N, batchSize, epochs, seed);
  const flat: { idx: Int32Array; epoch: number; mark: boolean }[] = [];
  schedule.forEach((batches, e) => {
    const marks = new Set(Array.from({ length: per }, (_, j) => Math.round(((j + 1) * batches.length) / per)));
    batches.forEach((idx, b) => flat.push({ idx, epoch: e, mark: every === undefined && marks.has(b + 1) }));
  });
  const steps = flat.length;
  const start = o.state ? o.state.iteration : 0;
  if (o.state && !(start <= steps)) throw new RangeError(`natgrad: train: the state is at step ${start}, past the schedule's ${steps} steps`);
  const view = (k: number): Problem => (B < N ? problem.batch!(flat[k]!.idx) : problem);

  const theta = o.state ? toVector(o.state.theta, problem.dim, 'state.theta') : toVector(o.theta0, problem.dim, 'theta0').slice();
  let evals = flat.slice(0, start).reduce((n, s) => n + s.idx.length, 0);
  const initial = problem.loss(theta);
  const rec: TrainRecord<S> = { losses: [initial], evaluations: [evals], steps: [start], batchLosses: [], status: 'ok', theta, state: undefined as unknown as S };
  if (o.recordTheta) rec.thetas = [];
  const diverged = (e: Error): void => {
    rec.status = factor !== undefined ? 'stopped' : 'failed';
    rec.reason = e.message;
  };
  let state: S;
  let current = start < steps ? view(start) : problem;
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
    try {
      const next = k + 1 < steps ? view(k + 1) : current;
      state = optimizer.update(state, current, next).state;
      current = next;
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError || e instanceof IllConditionedError || e instanceof ConvergenceError) {
        rec.status = 'failed';
        rec.reason = e.message;
        break;
      }
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
        loss = problem.loss(state.theta);
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
  }
  return rec;
}
