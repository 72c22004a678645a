/**
 * `gridSearch`: the paper's Figure-3 protocol — every (γ, λ) of a grid, for GD, NGD and EFGD,
 * from θ0 for a fixed number of iterations — exact and fast. On networks (and likelihoods the GLM
 * engine does not take) the same protocol runs the optimizers' own `run`, and then also KFAC
 * (`'KFAC'`, `'KFAC-MC'`, `'KFAC-EF'`), Hessian-free (`'HF'`) and full-batch `'Adam'`
 * (bindings/grid/problem-grid.ts).
 *
 * Protocol (the paper's code, = ../shared/tools/ref_numpy_grid.py). With s = 1/N (`'mean'`)
 * or 1 (`'sum'`) and σp² = priorVariance (∞: no prior):
 *
 *     L(θ)  = s · ( Σ_n ℓ_n(θ) + ‖θ‖²/(2σp²) )        ℓ_n: Gaussian (f−y)²/(2σ²) or clipped Bernoulli
 *     GD    θ ← θ − γ ∇L(θ)
 *     NGD   θ ← θ − γ (F(θ) + s/σp² I + λI)⁻¹ ∇L(θ),   F = s Σ_n Λ_n x_n x_nᵀ
 *     EFGD  θ ← θ − γ (F̃(θ) + s/σp² I + λI)⁻¹ ∇L(θ),  F̃ = s Σ_n r_n² x_n x_nᵀ
 *
 * The loss is recorded at θ0 and after each of `iterations` steps; a run stops once its loss
 * exceeds `divergenceFactor` × its initial loss (status `'diverged'`). A damped curvature that
 * is not positive definite (Cholesky pivot ≤ 0, e.g. at tiny λ) or a NaN loss ends the run with
 * status `'failed'` and a `reason`; its losses so far are kept. The best run of an optimizer has
 * the lowest last loss (ties: the first in grid order — optimizer, then γ, then λ); failed and
 * NaN runs are never best.
 *
 * Speed: runs are advanced 16 at a time, SIMD across runs, by one WebAssembly call per batch of
 * steps (assembly/grid/grid.ts, bindings/grid/glm-engine.ts), optionally in several worker threads
 * (Node). Results are identical for any number of workers.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { GridEngine, gridConfig, gridLayout, type EngineProblem, type EngineRuns, type EngineStats, type GlmOptimizer, type RawRun } from './glm-engine.js';
import { checkLabels, checkLabelTypes, checkLikelihood } from '../likelihoods/likelihood.js';
import { Matrix } from '../linalg/matrix.js';
import { runWorkerJob, startModuleWorker, workerThreadsAvailable, type NodeWorker } from '../core/workers.js';
import type { MatrixInput, VectorInput } from '../core/types.js';
import { checkKeys, checkOptions } from '../core/options.js';
import { checkScalar, toMatrix, toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { LinearProblem } from '../problem/linear-problem.js';
import { ModelProblem } from '../problem/problem.js';
import type { Problem } from '../problem/types.js';
import {
  GRID_METHODS,
  gridOptimizerFor,
  problemGridConfig,
  problemGridTotal,
  problemSpec,
  runProblemConfig,
  runProblemGridInWorkers,
  undamped,
  type GridMethod,
  type GridOptimizerSettings,
  type ProblemGridRuns,
  type ProblemRunResult,
} from './problem-grid.js';

export type { GridOptimizer } from './glm-engine.js';
export type { GridMethod, GridOptimizerSettings } from './problem-grid.js';

/**
 * The likelihoods of a grid search: Gaussian (fixed σ²) or Bernoulli (clipped probabilities).
 *
 * @category Grid search
 */
export type GridLikelihood = { readonly name: 'gaussian'; readonly variance: number } | { readonly name: 'bernoulli'; readonly clip: number } | { readonly name: string };

/**
 * What a grid search needs to know about the model: any object with these fields
 * (`linearProblem(...)` objects qualify).
 *
 * @category Grid search
 */
export interface GridProblem {
  /** N × D inputs, bias column already included: dense, CSR, `number[][]` or a resident {@link Matrix}. */
  readonly X: Matrix | MatrixInput;
  /** N targets (0/1 for Bernoulli). */
  readonly y: Float64Array | VectorInput;
  /**
   * `gaussian({ variance })` or `bernoulli({ clip })` (any likelihood object is accepted by
   * the type, so that `linearProblem(...)` objects qualify; others throw a TypeError).
   */
  readonly likelihood: GridLikelihood;
  /** σp² > 0, Infinity for no prior (the paper's Fig. 3). */
  readonly priorVariance: number;
  /** `'mean'` (the paper's code) or `'sum'`. */
  readonly reduction: 'mean' | 'sum';
}

/**
 * Progress report: `done` of `total` runs finished.
 *
 * @category Grid search
 */
export interface GridProgress {
  done: number;
  total: number;
}

/**
 * Options of {@link gridSearch}.
 *
 * @category Grid search
 */
export interface GridSearchOptions {
  /**
   * The problem: `{ X, y, likelihood, priorVariance, reduction }` (or a {@link LinearProblem}) with
   * a Gaussian or Bernoulli likelihood runs on the batched GLM engine; any other {@link Problem}
   * (a network from {@link problem}, a linear model with another likelihood) runs each
   * configuration through the optimizers' `run` (bindings/grid/problem-grid.ts), on workers when
   * its model is one of natgrad's own. `stats` counts only the GLM engine's work.
   */
  problem: GridProblem | Problem<Dtype>;
  /**
   * Default `['GD', 'NGD', 'EFGD']`; runs are listed in this order. The general path (a
   * {@link Problem} that is not linear Gaussian/Bernoulli) also takes `'KFAC'`, `'KFAC-MC'`,
   * `'KFAC-EF'` (KFAC with the Fisher's, the one-sample MC Fisher's, the EF's factors; needs a
   * model of dense layers), `'HF'` (Hessian-free: truncated CG on the GGN) and `'Adam'` (full
   * batch); the GLM engine refuses them with a RangeError naming the entry.
   * Damping axis: NGD, EFGD, the KFACs and HF take each λ of `dampings` (KFAC: λ split between
   * its Kronecker factors, §6.3 of Martens & Grosse; HF: added to the GGN); GD and Adam have none
   * (`damping: null`; Adam's ε is a numerical guard, set by `optimizerSettings.adam.eps`).
   */
  optimizers?: readonly GridMethod[];
  /** Fixed settings of KFAC, HF and Adam for every run (general path only; defaults the optimizers'). */
  optimizerSettings?: GridOptimizerSettings;
  /** Step sizes γ, finite and > 0. */
  lrs: ArrayLike<number>;
  /** Dampings λ, finite and ≥ 0 (required when an optimizer with a damping axis runs; GD and Adam have none). */
  dampings?: ArrayLike<number>;
  /** Steps per run, an integer ≥ 0 (default 100). */
  iterations?: number;
  /** A run stops once its loss exceeds this × its initial loss (> 0, may be Infinity; default 100). */
  divergenceFactor?: number;
  /** Starting point, length D (default zeros). */
  theta0?: VectorInput;
  /** Worker threads (Node; default 1 = in this thread). Results do not depend on it. */
  workers?: number;
  /** Called as runs finish (at most every few tens of milliseconds) and once at the end. */
  onProgress?: (progress: GridProgress) => void;
  /** Aborting rejects the promise with an `AbortError` within one batch of steps. */
  signal?: AbortSignal;
}

/**
 * One run of the grid.
 *
 * @category Grid search
 */
export interface GridRun {
  optimizer: GridMethod;
  lr: number;
  /** λ; null for GD and Adam. */
  damping: number | null;
  /** Loss at θ0, then after each step (length ≤ iterations + 1). */
  losses: number[];
  status: 'ok' | 'diverged' | 'failed';
  /** Why a run failed. */
  reason?: string;
}

/**
 * Result of {@link gridSearch}.
 *
 * @category Grid search
 */
export interface GridSearchResult {
  /** Every run, in grid order: optimizer, then lr, then damping. */
  runs: GridRun[];
  /** The run with the lowest last loss per optimizer, keyed by its name (absent when every run failed). */
  best: Partial<Record<GridMethod, GridRun>>;
  /** Wall-clock seconds. */
  seconds: number;
  /** Work counters: loss evaluations, curvature factorizations, reused factors. */
  stats: { evaluations: number; factorizations: number; reuses: number };
  /**
   * Runs that a worker thread had taken when it died (killed, crashed, out of memory) and that
   * were therefore run again in the main thread — same arithmetic, same results. Grid indices.
   */
  rerun: number[];
}

const OPTIMIZERS: readonly GlmOptimizer[] = ['GD', 'NGD', 'EFGD'];
/** The keys of {@link GridSearchOptions}. */
const GRID_KEYS = ['problem', 'optimizers', 'optimizerSettings', 'lrs', 'dampings', 'iterations', 'divergenceFactor', 'theta0', 'workers', 'onProgress', 'signal'] as const;
const GRID_HINTS: Readonly<Record<string, string>> = {
  settings: 'the settings of KFAC, HF and Adam go in optimizerSettings: { kfac, hf, adam }',
  kfac: 'the settings of KFAC go in optimizerSettings: { kfac: { ema, updateEvery, samples, seed } }',
  hf: 'the settings of HF go in optimizerSettings: { hf: { curvature, cg } }',
  adam: 'the settings of Adam go in optimizerSettings: { adam: { beta1, beta2, eps } }',
  threads: "worker threads are workers (the core's own threads are init({ threads }))",
  X: 'the data go in problem: { X, y, likelihood, priorVariance, reduction }',
  y: 'the data go in problem: { X, y, likelihood, priorVariance, reduction }',
  likelihood: 'the likelihood goes in problem: { X, y, likelihood, priorVariance, reduction }',
};
/** The keys of a plain {@link GridProblem}. */
const GRID_PROBLEM_KEYS = ['X', 'y', 'likelihood', 'priorVariance', 'reduction'] as const;
const GRID_PROBLEM_HINTS: Readonly<Record<string, string>> = {
  bias: 'the grid takes X with its bias column: X: addBias(X)',
  model: 'a model goes through problem({ model, X, y, likelihood }), whose result gridSearch takes as problem',
};
/** Runs advanced together per engine (a multiple of 4). */
const LANES = 16;
/** Milliseconds of work between yields to the event loop (in-thread) or result messages (workers). */
const BATCH_MS = 25;

function abortError(signal: AbortSignal): Error {
  const r = signal.reason as unknown;
  if (r instanceof Error && r.name === 'AbortError') return r;
  const e = new DOMException('natgrad: gridSearch was aborted', 'AbortError');
  if (r !== undefined) Object.defineProperty(e, 'cause', { value: r, configurable: true, writable: true });
  return e;
}

function checkNumbers(a: unknown, name: string, domain: 'positive' | 'nonnegative'): number[] {
  if (a === null || typeof a !== 'object' || typeof (a as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`natgrad: ${name} must be an array of numbers`);
  }
  const arr = Array.from(a as ArrayLike<unknown>);
  arr.forEach((v, i) => checkScalar(v, `${name}[${i}]`, domain));
  return arr as number[];
}

/**
 * A dense X whose share of non-zeros is below this runs on the sparse (CSR) path of the GLM
 * engine: its per-iteration cost grows with the non-zeros (and the banded Cholesky), the dense
 * path's with N·D. Measured on a1a (11 % non-zeros), the dense path costs ≈ 15× the sparse one per
 * grid iteration; at 30 % the two are within a small factor, and dense inputs of real data
 * (BreastCancer, Wine, Boston: ≥ 80 % non-zeros) stay dense.
 *
 * @category Grid search
 */
export const SPARSE_DENSITY_THRESHOLD = 0.3;

/** CSR arrays of a row-major N × D matrix when its non-zeros are below the threshold, else undefined. */
function denseToCsrIfSparse(data: Float64Array, N: number, D: number): EngineProblem['csr'] {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  if (!(nnz < SPARSE_DENSITY_THRESHOLD * N * D)) return undefined;
  const indptr = new Int32Array(N + 1),
    indices = new Int32Array(nnz),
    values = new Float64Array(nnz);
  let k = 0;
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < D; j++) {
      const v = data[n * D + j]!;
      if (v !== 0) {
        indices[k] = j;
        values[k] = v;
        k++;
      }
    }
    indptr[n + 1] = k;
  }
  return { indptr, indices, values };
}

/** @internal Validate everything; returns plain data for the engines. */
export function prepareGrid(options: GridSearchOptions): { problem: EngineProblem; runs: EngineRuns; core: () => Core; workers: number } {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: gridSearch expects an options object');
  const p = options.problem as GridProblem | undefined;
  if (typeof p !== 'object' || p === null) throw new TypeError('natgrad: problem must be an object { X, y, likelihood, priorVariance, reduction }');
  if (Object.getPrototypeOf(p) === Object.prototype || Object.getPrototypeOf(p) === null) checkKeys(p, GRID_PROBLEM_KEYS, 'gridSearch: problem', GRID_PROBLEM_HINTS);
  const lik = checkLikelihood(p.likelihood);
  if (lik.name !== 'gaussian' && lik.name !== 'bernoulli') {
    throw new TypeError(`natgrad: problem.likelihood must be gaussian or bernoulli for gridSearch, got ${lik.name}`);
  }
  if (p.reduction !== 'mean' && p.reduction !== 'sum') {
    throw new RangeError(`natgrad: problem.reduction must be 'mean' or 'sum', got ${String(p.reduction)}`);
  }
  if (typeof p.priorVariance !== 'number' || !(p.priorVariance > 0)) {
    throw new RangeError(`natgrad: problem.priorVariance must be > 0 (Infinity for no prior), got ${String(p.priorVariance)}`);
  }
  let N: number, D: number, dense: Float64Array | undefined, csr: EngineProblem['csr'];
  if (p.X instanceof Matrix) {
    N = p.X.rows;
    D = p.X.cols;
    const c = p.X.toCsr();
    if (c) csr = { indptr: c.indptr as Int32Array, indices: c.indices as Int32Array, values: c.values as Float64Array };
    else dense = p.X.toDense().data;
  } else {
    const m = toMatrix(p.X as MatrixInput, 'problem.X');
    if (m.csr) {
      N = m.csr.rows;
      D = m.csr.cols;
      csr = { indptr: m.csr.indptr, indices: m.csr.indices, values: m.csr.values };
    } else {
      N = m.dense.rows;
      D = m.dense.cols;
      dense = m.dense.data;
    }
  }
  // Sparse input recognised: a dense X with few non-zeros runs on the CSR path (same arithmetic
  // as passing it as CSR, so the same results bit for bit).
  if (dense && N * D > 0) {
    const sparse = denseToCsrIfSparse(dense, N, D);
    if (sparse) {
      csr = sparse;
      dense = undefined;
    }
  }
  if (N === 0 || D === 0) throw new RangeError(`natgrad: problem.X must have at least one row and one column, got ${N} × ${D}`);
  checkLabelTypes(lik, p.y, 'gridSearch', 'problem.y');
  const y = Float64Array.from(toVector(p.y, N, 'problem.y'));
  checkLabels(lik, y, 'problem.y');

  const { optimizers, lrs, dampings, iterations, divergenceFactor, theta0, workers } = checkRunOptions(options, D, false);
  const X = p.X;
  return {
    problem: {
      N,
      D,
      dense,
      csr,
      y,
      likelihood: lik.name,
      variance: lik.name === 'gaussian' ? lik.variance : 1,
      clip: lik.name === 'bernoulli' ? lik.clip : 0,
      priorVariance: p.priorVariance,
      reduction: p.reduction,
    },
    runs: { optimizers: optimizers as GlmOptimizer[], lrs, dampings, iterations, divergenceFactor, theta0 },
    core: () => (X instanceof Matrix ? X.core : defaultCore()),
    workers,
  };
}

/**
 * Validate the grid's run options (everything but the problem) for D parameters; `general`:
 * the general path (every {@link GridMethod}), else the GLM engine (GD, NGD, EFGD).
 */
function checkRunOptions(options: GridSearchOptions, D: number, general: boolean) {
  const optimizers: readonly GridMethod[] = options.optimizers ?? OPTIMIZERS;
  const known = general ? GRID_METHODS : OPTIMIZERS;
  if (!Array.isArray(optimizers) || optimizers.length === 0) throw new TypeError(`natgrad: optimizers must be a non-empty array of ${known.map((o) => `'${o}'`).join(', ')}`);
  optimizers.forEach((o, i) => {
    if (!general && GRID_METHODS.includes(o) && !OPTIMIZERS.includes(o as GlmOptimizer)) {
      throw new RangeError(
        `natgrad: optimizers[${i}] is ${o}, which the batched GLM engine (a linear Gaussian or Bernoulli problem) does not have — it runs 'GD', 'NGD' and 'EFGD'; ` +
          `for ${o} pass a problem built by problem({ model: linear(...), ... }) (the general path)`,
      );
    }
    if (!known.includes(o)) throw new RangeError(`natgrad: optimizers[${i}] must be one of ${known.map((k) => `'${k}'`).join(', ')}, got ${String(o)}`);
    if (optimizers.indexOf(o) !== i) throw new RangeError(`natgrad: optimizers lists ${o} twice`);
  });
  if (!general && options.optimizerSettings !== undefined) throw new TypeError('natgrad: optimizerSettings (KFAC, HF, Adam) applies to the general path only, not to the GLM engine');
  const lrs = checkNumbers(options.lrs, 'lrs', 'positive');
  if (lrs.length === 0) throw new RangeError('natgrad: lrs must not be empty');
  const needsDamping = optimizers.some((o) => !undamped(o));
  const dampings = options.dampings === undefined && !needsDamping ? [] : checkNumbers(options.dampings, 'dampings', 'nonnegative');
  if (needsDamping && dampings.length === 0) throw new RangeError(`natgrad: dampings must not be empty when ${optimizers.filter((o) => !undamped(o)).join(', ')} runs`);
  const iterations = options.iterations ?? 100;
  if (typeof iterations !== 'number') throw new TypeError(`natgrad: iterations must be a number, got ${typeof iterations}`);
  if (!Number.isSafeInteger(iterations) || iterations < 0 || iterations > 1e7) throw new RangeError(`natgrad: iterations must be an integer in [0, 1e7], got ${iterations}`);
  const divergenceFactor = options.divergenceFactor ?? 100;
  if (typeof divergenceFactor !== 'number') throw new TypeError(`natgrad: divergenceFactor must be a number, got ${typeof divergenceFactor}`);
  if (!(divergenceFactor > 0)) throw new RangeError(`natgrad: divergenceFactor must be > 0 (Infinity: never stop), got ${divergenceFactor}`);
  const theta0 = options.theta0 === undefined ? undefined : Float64Array.from(toVector(options.theta0, D, 'theta0'));
  const workers = options.workers ?? 1;
  if (typeof workers !== 'number') throw new TypeError(`natgrad: workers must be a number, got ${typeof workers}`);
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`natgrad: workers must be an integer ≥ 1, got ${workers}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('natgrad: onProgress must be a function');
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new TypeError('natgrad: signal must be an AbortSignal');
  }
  return { optimizers: [...optimizers], lrs, dampings, iterations, divergenceFactor, theta0, workers, settings: general ? checkSettings(options.optimizerSettings) : {} };
}

/** A plain copy of `optimizerSettings` (known fields only, so that workers can be sent it); the optimizers validate the values. */
function checkSettings(s: unknown): GridOptimizerSettings {
  if (s === undefined) return {};
  const obj = (v: unknown, name: string): Record<string, unknown> | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null) throw new TypeError(`natgrad: ${name} must be an object`);
    return v as Record<string, unknown>;
  };
  const pick = (o: Record<string, unknown> | undefined, keys: readonly string[], name: string): Record<string, unknown> | undefined => {
    if (!o) return undefined;
    const out: Record<string, unknown> = {};
    checkKeys(o, keys, `gridSearch: ${name}`);
    for (const k of keys)
      if (o[k] !== undefined) {
        if (k === 'cg') out[k] = pick(obj(o[k], `${name}.cg`), ['maxIterations', 'tol'], `${name}.cg`);
        else if (k === 'curvature') {
          if (typeof o[k] !== 'string') throw new TypeError(`natgrad: ${name}.curvature must be a string`);
          out[k] = o[k];
        } else out[k] = checkScalar(o[k], `${name}.${k}`, 'any');
      }
    return out;
  };
  const root = obj(s, 'optimizerSettings')!;
  checkKeys(root, ['kfac', 'hf', 'adam'], 'gridSearch: optimizerSettings', {
    ngd: "NGD's settings are the grid axes lrs and dampings",
    gd: "GD's setting is the grid axis lrs",
  });
  const out: GridOptimizerSettings = {};
  const kfac = pick(obj(root.kfac, 'optimizerSettings.kfac'), ['ema', 'updateEvery', 'samples', 'seed'], 'optimizerSettings.kfac');
  const hf = pick(obj(root.hf, 'optimizerSettings.hf'), ['curvature', 'cg'], 'optimizerSettings.hf');
  const adam = pick(obj(root.adam, 'optimizerSettings.adam'), ['beta1', 'beta2', 'eps'], 'optimizerSettings.adam');
  if (kfac) out.kfac = kfac;
  if (hf) out.hf = hf;
  if (adam) out.adam = adam;
  return out;
}

/** True for a problem the batched GLM engine does not take: a model problem, or a linear one with another likelihood. */
function needsGeneralPath(p: unknown): p is Problem<Dtype> {
  if (p instanceof ModelProblem) return true;
  return p instanceof LinearProblem && p.likelihood.name !== 'gaussian' && p.likelihood.name !== 'bernoulli';
}

/** gridSearch on any problem: the optimizers' own runs, in this thread or on workers (problem-grid.ts). */
async function gridSearchProblem(options: GridSearchOptions, problem: Problem<Dtype>, t0: number): Promise<GridSearchResult> {
  const { optimizers, lrs, dampings, iterations, divergenceFactor, theta0, workers, settings } = checkRunOptions(options, problem.dim, true);
  // Each optimizer once, here: its own checks (KFAC on a model of dense layers, ema, CG and Adam
  // settings) throw their RangeError before any run starts (construction does no work).
  for (const o of optimizers) gridOptimizerFor(problem, o, lrs[0]!, undamped(o) ? null : dampings[0]!, settings);
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal);
  const runs: ProblemGridRuns = { optimizers, lrs, dampings, iterations, divergenceFactor, theta0: theta0 ?? new Float64Array(problem.dim), settings };
  const total = problemGridTotal(runs);
  const out: (ProblemRunResult | undefined)[] = new Array(total);
  let done = 0;
  const progress = options.onProgress;
  const emit = (r: ProblemRunResult): void => {
    if (!out[r.index]) {
      out[r.index] = r;
      done++;
    }
  };
  const spec = workers > 1 ? problemSpec(problem) : undefined;
  const coreOf = (problem as { core?: Core }).core;
  if (spec && total > 1 && (await workerThreadsAvailable())) {
    await runProblemGridInWorkers(Math.min(workers, total), coreOf?.variant ?? defaultCore().variant, spec, runs, total, emit, () => progress?.({ done, total }), signal, abortError);
  }
  const rerun: number[] = [];
  const threaded = done > 0;
  let last = performance.now();
  for (let i = 0; i < total; i++) {
    if (out[i]) continue;
    if (threaded) rerun.push(i);
    emit(runProblemConfig(problem, runs, i));
    if (performance.now() - last > BATCH_MS) {
      progress?.({ done, total });
      await yieldToEventLoop();
      if (signal?.aborted) throw abortError(signal);
      last = performance.now();
    }
  }
  progress?.({ done, total });
  const result: GridRun[] = [];
  const best: GridSearchResult['best'] = {};
  const bestLoss: Partial<Record<GridMethod, number>> = {};
  out.forEach((r, i) => {
    const cfg = problemGridConfig(runs, i);
    const run: GridRun = { optimizer: cfg.optimizer, lr: cfg.lr, damping: cfg.damping, losses: r!.losses, status: r!.status };
    if (r!.reason !== undefined) run.reason = r!.reason;
    result.push(run);
    const lastLoss = run.losses[run.losses.length - 1];
    if (run.status !== 'failed' && lastLoss !== undefined && !Number.isNaN(lastLoss) && !(lastLoss >= (bestLoss[cfg.optimizer] ?? Infinity))) {
      bestLoss[cfg.optimizer] = lastLoss;
      best[cfg.optimizer] = run;
    }
  });
  return { runs: result, best, seconds: (performance.now() - t0) / 1000, stats: { evaluations: 0, factorizations: 0, reuses: 0 }, rerun };
}

/**
 * Run every configuration of a grid — the paper's Fig. 3 protocol: every (γ, λ), for GD, NGD and
 * EFGD, from θ0 for a fixed number of iterations — and pick the best run per optimizer. With
 * s = 1/N (`'mean'`) or 1 (`'sum'`) and σp² = priorVariance (∞: no prior):
 *
 *     L(θ)  = s · ( Σ_n ℓ_n(θ) + ‖θ‖²/(2σp²) )        ℓ_n: Gaussian (f−y)²/(2σ²) or clipped Bernoulli
 *     GD    θ ← θ − γ ∇L(θ)
 *     NGD   θ ← θ − γ (F(θ) + s/σp² I + λI)⁻¹ ∇L(θ),   F = s Σ_n Λ_n x_n x_nᵀ
 *     EFGD  θ ← θ − γ (F̃(θ) + s/σp² I + λI)⁻¹ ∇L(θ),  F̃ = s Σ_n r_n² x_n x_nᵀ
 *
 * The loss is recorded at θ0 and after each of `iterations` steps; a run stops once its loss
 * exceeds `divergenceFactor` × its initial loss (status `'diverged'`). A damped curvature that is
 * not positive definite (e.g. at tiny λ) or a NaN loss ends the run with status `'failed'` and a
 * `reason`, keeping its losses so far. The best run of an optimizer has the lowest last loss
 * (ties: the first in grid order — optimizer, then γ, then λ); failed and NaN runs are never
 * best. The linear model's runs advance 16 at a time, SIMD across runs, optionally in several
 * worker threads, with results identical for any number of workers. On a network (a
 * {@link Problem} from {@link problem}) the same protocol runs the optimizers' own `run`, and
 * also KFAC (`'KFAC'`, `'KFAC-MC'`, `'KFAC-EF'`), Hessian-free (`'HF'`) and full-batch `'Adam'`.
 *
 * @param options.problem  `{ X, y, likelihood, priorVariance, reduction }`, bias column included in X.
 * @param options.lrs      step sizes γ (> 0); `paperGrid().lrs` for the paper's 241.
 * @param options.dampings dampings λ (≥ 0); `paperGrid().dampings` for the paper's 41.
 * @returns every run in grid order (optimizer, γ, λ), the best run per optimizer and the seconds taken.
 * @throws TypeError / RangeError naming the argument for bad inputs; rejects with an
 *   `AbortError` when `signal` aborts.
 * @example
 * const { X, y } = await loadPaperDataset('Wine');
 * const { lrs, dampings } = paperGrid();
 * const r = await gridSearch({
 *   problem: { X: addBias(X), y, likelihood: gaussian(), priorVariance: Infinity, reduction: 'mean' },
 *   lrs, dampings, workers: 2,
 * });
 * r.runs.length;                        // 241 + 2 · 241 · 41 = 20003
 * r.best.NGD!.losses.at(-1);            // the best NGD run's last loss
 *
 * @category Grid search
 */
export async function gridSearch(options: GridSearchOptions): Promise<GridSearchResult> {
  const t0 = performance.now();
  checkOptions(options, 'gridSearch', GRID_KEYS, GRID_HINTS);
  if (typeof options === 'object' && options !== null && needsGeneralPath(options.problem)) return gridSearchProblem(options, options.problem, t0);
  const prep = prepareGrid(options);
  const { problem, runs } = prep;
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal);
  const core = prep.core();
  const { total } = gridLayout(runs);
  const out: (RawRun | undefined)[] = new Array(total);
  let done = 0;
  const progress = options.onProgress;
  const emit = (r: RawRun): void => {
    out[r.index] = r;
    done++;
  };

  let stats: EngineStats = { evals: 0, factorizations: 0, reuses: 0, steps: 0 };
  const workerCount = Math.min(prep.workers, total);
  let threaded = false;
  if (workerCount > 1) {
    if (await workerThreadsAvailable()) {
      threaded = true;
      stats = await runInWorkers(workerCount, core.variant, problem, runs, total, emit, () => progress?.({ done, total }), signal);
    }
  }
  // In-thread: everything, or after a worker died, the runs it had taken (never lost, never hung).
  const rerun: number[] = [];
  if (threaded) for (let i = 0; i < total; i++) if (!out[i]) rerun.push(i);
  if (!threaded || rerun.length > 0) {
    const todo = threaded ? rerun : undefined;
    const engine = new GridEngine(core, problem, runs, LANES);
    try {
      let k = 0;
      const next = (): number => (todo ? (k < todo.length ? todo[k++]! : -1) : k < total ? k++ : -1);
      for (;;) {
        const finished = engine.pump(next, emit, BATCH_MS);
        if (finished) break;
        progress?.({ done, total });
        await yieldToEventLoop();
        if (signal?.aborted) throw abortError(signal);
      }
      const s2 = engine.stats();
      stats = { evals: stats.evals + s2.evals, factorizations: stats.factorizations + s2.factorizations, reuses: stats.reuses + s2.reuses, steps: stats.steps + s2.steps };
    } finally {
      engine.free();
    }
  }
  progress?.({ done, total });

  const result: GridRun[] = new Array(total);
  const best: GridSearchResult['best'] = {};
  const bestLoss: Partial<Record<GlmOptimizer, number>> = {};
  for (let i = 0; i < total; i++) {
    const r = out[i];
    if (!r) throw new Error(`natgrad: internal error: run ${i} has no result`);
    const cfg = gridConfig(runs, i);
    const run: GridRun = {
      optimizer: cfg.optimizer,
      lr: runs.lrs[cfg.lrIndex]!,
      damping: cfg.dampingIndex < 0 ? null : runs.dampings[cfg.dampingIndex]!,
      losses: Array.from(r.losses),
      status: r.status,
    };
    if (r.reason !== undefined) run.reason = r.reason;
    result[i] = run;
    const last = run.losses[run.losses.length - 1]!;
    if (run.status !== 'failed' && !Number.isNaN(last)) {
      const b = bestLoss[cfg.optimizer];
      if (b === undefined || last < b) {
        bestLoss[cfg.optimizer] = last;
        best[cfg.optimizer] = run;
      }
    }
  }
  return {
    runs: result,
    best,
    seconds: (performance.now() - t0) / 1000,
    stats: { evaluations: stats.evals, factorizations: stats.factorizations, reuses: stats.reuses },
    rerun,
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Idle workers kept between searches (unreferenced, so they never keep the process alive):
 * starting a worker (loading and compiling the module) costs tens to hundreds of milliseconds.
 */
const idleWorkers: NodeWorker[] = [];
/** Workers running a search right now. */
const busyWorkers = new Set<NodeWorker>();
let jobIds = 0;

/** @internal The worker threads running a search right now (fault-injection tests). */
export function activeGridWorkers(): NodeWorker[] {
  return [...busyWorkers];
}

async function runInWorkers(
  count: number,
  variant: Core['variant'],
  problem: EngineProblem,
  runs: EngineRuns,
  total: number,
  emit: (r: RawRun) => void,
  progress: () => void,
  signal: AbortSignal | undefined,
): Promise<EngineStats> {
  const id = ++jobIds;
  const counter = new SharedArrayBuffer(4);
  const job = { type: 'job', id, problem, runs, variant, counter, total, lanes: LANES, batchMs: BATCH_MS };
  const workers: NodeWorker[] = idleWorkers.splice(0, count);
  const stats: EngineStats = { evals: 0, factorizations: 0, reuses: 0, steps: 0 };
  let lost = new Set<NodeWorker>();
  let ok = false;
  try {
    while (workers.length < count) workers.push(await startModuleWorker(import.meta.url, 'grid-worker'));
    for (const w of workers) {
      busyWorkers.add(w);
      w.ref();
    }
    // A worker that dies loses only the runs it had taken; gridSearch reruns those in-thread.
    ({ lost } = await runWorkerJob<RawRun, EngineStats>(workers, job, {
      onItems: (items) => {
        for (const r of items) emit(r);
        progress();
      },
      onDone: (s) => {
        if (!s) return;
        stats.evals += s.evals;
        stats.factorizations += s.factorizations;
        stats.reuses += s.reuses;
        stats.steps += s.steps;
      },
      signal,
      abortError,
    }));
    ok = true;
  } finally {
    for (const w of workers) busyWorkers.delete(w);
    if (ok) {
      for (const w of workers)
        if (!lost.has(w)) {
          w.unref();
          idleWorkers.push(w);
        }
    } else {
      // Aborted or failed: stop the workers now (they may be mid-search).
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return stats;
}
