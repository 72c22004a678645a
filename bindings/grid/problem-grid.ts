/**
 * The grid search on any {@link Problem}: every (optimizer, γ, λ) run by the optimizers'
 * own `run` — GD, NGD, EFGD (bindings/optimizers/optimizers.ts), KFAC with the Fisher's, the
 * one-sample MC Fisher's or the EF's factors (`'KFAC'`, `'KFAC-MC'`, `'KFAC-EF'`,
 * bindings/optimizers/kfac.ts), Hessian-free (`'HF'`, truncated CG on the GGN by default,
 * bindings/optimizers/hessian-free.ts) and full-batch Adam (`'Adam'`, bindings/optimizers/
 * stochastic.ts) — with the protocol of {@link gridSearch} —
 * losses at θ0 and after each step, a run stops once its loss exceeds `divergenceFactor` × its
 * initial loss (`'diverged'`), a non-positive-definite system or a non-finite loss ends it
 * (`'failed'`, with the reason). This is the path for networks and for the likelihoods the
 * batched GLM engine does not take; the linear Gaussian/Bernoulli case keeps the engine.
 *
 * Workers (Node): a problem whose model natgrad can rebuild from a description (its
 * {@link linear} and {@link mlp} models) runs on worker threads, each with its own core and its
 * own copy of the problem, runs pulled from a shared counter; results are identical for any
 * number of workers (each run is computed the same way in any thread). A plain-TypeScript model
 * runs in this thread.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { NonFiniteLossError, NotPositiveDefiniteError } from '../core/errors.js';
import { runWorkerJob, startModuleWorker, workerThreadsAvailable, type NodeWorker } from '../core/workers.js';
import type { Likelihood } from '../likelihoods/likelihood.js';
import { modelSpec, type ModelSpec } from '../models/spec.js';
import { hessianFree } from '../optimizers/hessian-free.js';
import { kfac } from '../optimizers/kfac.js';
import { efgd, gd, ngd, type Optimizer } from '../optimizers/optimizers.js';
import { adam } from '../optimizers/stochastic.js';
import { LinearProblem } from '../problem/linear-problem.js';
import { ModelProblem } from '../problem/problem.js';
import type { Problem } from '../problem/types.js';
import type { GlmOptimizer } from './glm-engine.js';

/**
 * The optimizers of a grid search: the GLM engine's GD, NGD and EFGD, and — on the general path
 * only (networks, other likelihoods) — KFAC (Fisher / MC Fisher / EF factors), Hessian-free and Adam.
 *
 * @category Grid search
 */
export type GridMethod = GlmOptimizer | 'KFAC' | 'KFAC-MC' | 'KFAC-EF' | 'HF' | 'Adam';

/** Every optimizer name {@link gridSearch} knows, in this order. */
export const GRID_METHODS: readonly GridMethod[] = ['GD', 'NGD', 'EFGD', 'KFAC', 'KFAC-MC', 'KFAC-EF', 'HF', 'Adam'];

/** True for the optimizers without a damping axis (GD, Adam: one run per γ). */
export function undamped(o: GridMethod): boolean {
  return o === 'GD' || o === 'Adam';
}

/**
 * Fixed settings of the optimizers with more knobs than (γ, λ), the same for every run of the
 * grid (plain data, so that workers get a copy). Defaults are the optimizers' own.
 *
 * @category Grid search
 */
export interface GridOptimizerSettings {
  /** KFAC, KFAC-MC, KFAC-EF: factor running average `ema` (default 0.95) and `updateEvery` (default 1); KFAC-MC also `samples` (1) and `seed` (0; step k uses seed + k). */
  kfac?: { ema?: number; updateEvery?: number; samples?: number; seed?: number };
  /** HF: the curvature CG runs on (default `'ggn'`) and CG's `maxIterations` (50) and relative `tol` (1e-6) per step. */
  hf?: { curvature?: 'ggn' | 'fisher' | 'empiricalFisher' | 'hessian'; cg?: { maxIterations?: number; tol?: number } };
  /** Adam: `beta1` (0.9), `beta2` (0.999) and `eps` (1e-8, added to √v̂; not a grid axis). */
  adam?: { beta1?: number; beta2?: number; eps?: number };
}

/** One run's raw result. */
export interface ProblemRunResult {
  index: number;
  losses: number[];
  status: 'ok' | 'diverged' | 'failed';
  reason?: string;
}

/** The configurations of a grid, in grid order (optimizer, then γ, then λ; GD and Adam have no λ). */
export interface ProblemGridRuns {
  optimizers: GridMethod[];
  lrs: number[];
  dampings: number[];
  iterations: number;
  divergenceFactor: number;
  theta0: Float64Array;
  /** The optimizers' fixed settings (plain data). */
  settings: GridOptimizerSettings;
}

/** What a worker needs to rebuild the problem. */
export interface ProblemSpec {
  model: ModelSpec;
  X: Float64Array;
  y: Float64Array;
  likelihood: Likelihood;
  priorVariance: number;
  reduction: 'mean' | 'sum';
}

/** Configuration i of the grid. */
export function problemGridConfig(runs: ProblemGridRuns, i: number): { optimizer: GridMethod; lr: number; damping: number | null } {
  let k = i;
  for (const o of runs.optimizers) {
    const n = undamped(o) ? runs.lrs.length : runs.lrs.length * runs.dampings.length;
    if (k < n) {
      if (undamped(o)) return { optimizer: o, lr: runs.lrs[k]!, damping: null };
      return { optimizer: o, lr: runs.lrs[Math.floor(k / runs.dampings.length)]!, damping: runs.dampings[k % runs.dampings.length]! };
    }
    k -= n;
  }
  throw new RangeError(`natgrad: run ${i} is outside the grid`);
}

/** The number of runs of a grid. */
export function problemGridTotal(runs: ProblemGridRuns): number {
  return runs.optimizers.reduce((t, o) => t + (undamped(o) ? runs.lrs.length : runs.lrs.length * runs.dampings.length), 0);
}

/**
 * The optimizer of one configuration (throws the optimizer's own RangeError for settings it
 * refuses, e.g. KFAC on a model that is not all dense layers).
 */
export function gridOptimizerFor(problem: Problem<Dtype>, optimizer: GridMethod, lr: number, damping: number | null, settings: GridOptimizerSettings): Optimizer {
  const k = settings.kfac ?? {};
  switch (optimizer) {
    case 'GD':
      return gd(problem, { lr });
    case 'NGD':
      return ngd(problem, { lr, damping: damping! });
    case 'EFGD':
      return efgd(problem, { lr, damping: damping! });
    case 'KFAC':
    case 'KFAC-MC':
    case 'KFAC-EF':
      return kfac(problem, { ...k, lr, damping: damping!, curvature: optimizer === 'KFAC' ? 'fisher' : optimizer === 'KFAC-MC' ? 'fisherMC' : 'empiricalFisher' });
    case 'HF':
      return hessianFree(problem, { ...(settings.hf ?? {}), lr, damping: damping! });
    case 'Adam':
      return adam(problem, { ...(settings.adam ?? {}), lr });
  }
}

/** Run configuration i on `problem` (the same arithmetic in any thread). */
export function runProblemConfig(problem: Problem<Dtype>, runs: ProblemGridRuns, i: number): ProblemRunResult {
  const { optimizer, lr, damping } = problemGridConfig(runs, i);
  const opt = gridOptimizerFor(problem, optimizer, lr, damping, runs.settings);
  try {
    const rec = opt.run(runs.theta0, { iterations: runs.iterations, divergenceFactor: runs.divergenceFactor });
    const out: ProblemRunResult = { index: i, losses: rec.losses, status: rec.status === 'stopped' ? 'diverged' : rec.status };
    if (rec.reason !== undefined && rec.status === 'failed') out.reason = rec.reason;
    return out;
  } catch (e) {
    // The initial point itself has no finite loss or gradient, or a solve failed outside run().
    if (e instanceof NonFiniteLossError || e instanceof NotPositiveDefiniteError) return { index: i, losses: [], status: 'failed', reason: e.message };
    throw e;
  }
}

/** A description a worker can rebuild the problem from, or undefined (plain-TypeScript models). */
export function problemSpec(problem: Problem<Dtype>): ProblemSpec | undefined {
  const model = modelSpec(problem.model);
  if (!model) return undefined;
  let X: Float64Array, y: Float64Array;
  if (problem instanceof ModelProblem) {
    X = problem.X;
    y = problem.y;
  } else if (problem instanceof LinearProblem) {
    if (problem.X.format !== 'dense') return undefined;
    const dense = problem.X.toDense();
    // The linear model's spec has the bias flag: hand the worker the columns without the ones.
    if (problem.bias) {
      const d = dense.cols - 1;
      X = new Float64Array(dense.rows * d);
      for (let n = 0; n < dense.rows; n++) X.set(dense.data.subarray(n * dense.cols, n * dense.cols + d), n * d);
    } else X = dense.data;
    y = problem.y;
  } else return undefined;
  return { model, X, y, likelihood: problem.likelihood, priorVariance: problem.priorVariance, reduction: problem.reduction };
}

let jobIds = 0;

/**
 * Run the grid on `count` workers (Node). Resolves with the indices of the runs that no worker
 * finished (a worker died): the caller runs those in its own thread.
 */
export async function runProblemGridInWorkers(
  count: number,
  variant: string,
  spec: ProblemSpec,
  runs: ProblemGridRuns,
  total: number,
  emit: (r: ProblemRunResult) => void,
  progress: () => void,
  signal: AbortSignal | undefined,
  abortError: (s: AbortSignal) => Error,
): Promise<void> {
  if (!(await workerThreadsAvailable())) throw new Error('natgrad: worker threads are not available');
  const id = ++jobIds;
  const counter = new SharedArrayBuffer(4);
  const job = { type: 'job', id, spec, runs, variant, counter, total };
  const workers: NodeWorker[] = [];
  try {
    while (workers.length < count) workers.push(await startModuleWorker(import.meta.url, 'problem-worker'));
    // A worker that dies loses only the runs it had not posted; gridSearch runs those in-thread.
    await runWorkerJob<ProblemRunResult>(workers, job, {
      onItems: (items) => {
        for (const r of items) emit(r);
        progress();
      },
      signal,
      abortError,
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
