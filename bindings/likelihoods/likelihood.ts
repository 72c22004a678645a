/**
 * Likelihoods: exponential families p(y | f) with natural parameter f.
 *
 * | family      | y            | ℓ(f, y) (constants dropped)  | r = ∂ℓ/∂f          | Λ = ∂²ℓ/∂f²      |
 * |-------------|--------------|------------------------------|--------------------|------------------|
 * | gaussian    | real         | (f − y)² / (2σ²)             | (f − y)/σ²         | 1/σ²             |
 * | bernoulli   | {0, 1}       | −y log s − (1 − y) log(1 − s)| s − y              | s(1 − s)         |
 * | categorical | {0..C−1}     | logsumexp(f) − f_y           | softmax(f) − e_y   | diag(p) − p pᵀ   |
 * | poisson     | {0, 1, 2, …} | exp(f) − y f                 | exp(f) − y         | exp(f)           |
 *
 * Bernoulli: s = clip(sigmoid(f), c, 1 − c) with c = `clip` (default 1e-8, as the paper's code,
 * whose saturated Fig. 3 runs depend on it); `clip: 0` gives the exact likelihood, computed
 * without overflow. The per-sample work runs in WASM (assembly/likelihoods/likelihood.ts).
 *
 * @module
 */
import type { RandomSource } from '../data/random.js';
import { checkOptions } from '../core/options.js';
import { checkScalar } from '../core/validate.js';
import type { Core } from '../core/wasm.js';

/**
 * Gaussian likelihood with fixed variance σ² on M ≥ 1 independent outputs (targets N × M).
 *
 * @category Likelihoods
 */
export interface GaussianLikelihood {
  readonly name: 'gaussian';
  readonly variance: number;
  readonly outputs: number;
}
/**
 * Bernoulli likelihood on a logit, probabilities clipped to [clip, 1 − clip].
 *
 * @category Likelihoods
 */
export interface BernoulliLikelihood {
  readonly name: 'bernoulli';
  readonly clip: number;
  readonly outputs: 1;
}
/**
 * Categorical likelihood on C logits.
 *
 * @category Likelihoods
 */
export interface CategoricalLikelihood {
  readonly name: 'categorical';
  readonly classes: number;
  readonly outputs: number;
}
/**
 * Poisson likelihood on a log-rate.
 *
 * @category Likelihoods
 */
export interface PoissonLikelihood {
  readonly name: 'poisson';
  readonly outputs: 1;
}

/**
 * Any supported likelihood. `outputs` is M, the dimension of f.
 *
 * @category Likelihoods
 */
export type Likelihood = GaussianLikelihood | BernoulliLikelihood | CategoricalLikelihood | PoissonLikelihood;

/** Misplaced keys of {@link gaussian}: σ is given as its square. */
const GAUSSIAN_HINTS: Readonly<Record<string, string>> = {
  sigma: 'gaussian takes the variance σ², not σ: gaussian({ variance: sigma ** 2 })',
  std: 'gaussian takes the variance σ², not the standard deviation: gaussian({ variance: std ** 2 })',
  noise: 'gaussian takes the noise variance σ² as variance',
  classes: 'classes belongs to categorical({ classes })',
};

/**
 * Gaussian likelihood, ℓ = Σ_m (f_m − y_m)²/(2σ²) over M outputs (r = (f − y)/σ², Λ = I/σ²).
 * With `outputs` M > 1 the targets are N × M (row-major, or an array of rows); such a likelihood
 * goes with {@link problem} (any model), not with the linear fast paths ({@link linearProblem},
 * the accumulators, the grid engine), which take one output.
 * @param options.variance σ² > 0 (default 1)
 * @param options.outputs M ≥ 1 (default 1)
 * @throws RangeError for variance ≤ 0 or non-finite, or outputs not a positive integer
 * @example
 * ```ts
 * const lik = gaussian({ variance: 0.25 });   // { name: 'gaussian', variance: 0.25, outputs: 1 }
 * const p = linearProblem({ X: [[1, 2], [3, 4]], y: [1, -1], likelihood: lik });
 * p.loss(new Float64Array(p.dim));            // 2 = mean of y²/(2σ²) at θ = 0
 * gaussian({ outputs: 2 });                   // two outputs: targets N × 2, for problem({ model, … })
 * ```
 *
 * @category Likelihoods
 */
export function gaussian(options: { variance?: number; outputs?: number } = {}): GaussianLikelihood {
  checkOptions(options, 'gaussian', ['variance', 'outputs'], GAUSSIAN_HINTS);
  const variance = checkScalar(options.variance ?? 1, 'variance', 'positive');
  const outputs = options.outputs ?? 1;
  if (typeof outputs !== 'number' || !Number.isSafeInteger(outputs) || outputs < 1) {
    throw new RangeError(`natgrad: outputs must be a positive integer, got ${String(outputs)}`);
  }
  return Object.freeze({ name: 'gaussian', variance, outputs });
}

/**
 * Bernoulli likelihood on a logit.
 * @param options.clip c ∈ [0, 0.5): probabilities are clipped to [c, 1 − c] (default 1e-8, the paper's code); 0 = exact
 * @example
 * ```ts
 * const lik = bernoulli();                    // { name: 'bernoulli', clip: 1e-8, outputs: 1 }
 * const p = linearProblem({ X: [[1, 2], [3, 4]], y: [1, 0], likelihood: lik });
 * p.loss(new Float64Array(p.dim));            // 0.6931… = log 2: p = 1/2 at θ = 0
 * ```
 *
 * @category Likelihoods
 */
export function bernoulli(options: { clip?: number } = {}): BernoulliLikelihood {
  checkOptions(options, 'bernoulli', ['clip']);
  const clip = checkScalar(options.clip ?? 1e-8, 'clip', 'nonnegative');
  if (!(clip < 0.5)) throw new RangeError(`natgrad: clip must be < 0.5, got ${clip}`);
  return Object.freeze({ name: 'bernoulli', clip, outputs: 1 });
}

/**
 * Categorical likelihood on C logits (softmax), computed with log-sum-exp.
 * @param options.classes C ≥ 2
 * @example
 * ```ts
 * const lik = categorical({ classes: 3 });    // { name: 'categorical', classes: 3, outputs: 3 }
 * const p = linearProblem({ X: [[1, 2], [3, 4]], y: [0, 2], likelihood: lik });
 * p.dim;                                      // 6: one weight row per class
 * p.loss(new Float64Array(p.dim));            // 1.0986… = log 3: uniform softmax at θ = 0
 * ```
 *
 * @category Likelihoods
 */
export function categorical(options: { classes: number }): CategoricalLikelihood {
  if (options === undefined) throw new TypeError('natgrad: categorical: options { classes } are required (classes C ≥ 2)');
  const classes = checkOptions<{ classes: number }>(options, 'categorical', ['classes'], { outputs: 'categorical takes the number of classes C as classes' }).classes;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`natgrad: classes must be an integer ≥ 2, got ${String(classes)}`);
  }
  return Object.freeze({ name: 'categorical', classes, outputs: classes });
}

/**
 * Poisson likelihood on a log-rate, ℓ = exp(f) − y f (no log y!, as the paper's code). It takes no options (an options object must be empty).
 * @example
 * ```ts
 * const p = linearProblem({ X: [[1, 2], [3, 4]], y: [0, 3], likelihood: poisson() });
 * p.loss(new Float64Array(p.dim));            // 1 = mean of exp(0) − y·0
 * ```
 *
 * @category Likelihoods
 */
export function poisson(options?: Record<string, never>): PoissonLikelihood {
  checkOptions(options, 'poisson', [], { rate: 'the rate exp(f) is the model output; poisson() has no parameter' });
  return Object.freeze({ name: 'poisson', outputs: 1 });
}

/** Throws TypeError unless `lik` is one of the likelihood objects above. */
export function checkLikelihood(lik: unknown): Likelihood {
  const l = lik as Likelihood | undefined;
  switch (l?.name) {
    case 'gaussian':
      return gaussian({ variance: l.variance, outputs: l.outputs });
    case 'bernoulli':
      return bernoulli({ clip: l.clip });
    case 'categorical':
      return categorical({ classes: l.classes });
    case 'poisson':
      return poisson();
    default:
      throw new TypeError('natgrad: likelihood must be gaussian(), bernoulli(), categorical({ classes }) or poisson()');
  }
}

/**
 * Check that every label is in the likelihood's support: finite (gaussian), 0 or 1
 * (bernoulli), an integer in [0, C) (categorical), a non-negative integer (poisson).
 * @throws RangeError naming the first bad entry.
 */
export function checkLabels(lik: Likelihood, y: Float64Array, name = 'y'): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    let ok: boolean;
    let support: string;
    switch (lik.name) {
      case 'gaussian':
        ok = Number.isFinite(v);
        support = 'finite';
        break;
      case 'bernoulli':
        ok = v === 0 || v === 1;
        support = '0 or 1 (Bernoulli)';
        break;
      case 'categorical':
        ok = Number.isInteger(v) && v >= 0 && v < lik.classes;
        support = `an integer class index in [0, ${lik.classes}) (Categorical)`;
        break;
      case 'poisson':
        ok = Number.isInteger(v) && v >= 0;
        support = 'a non-negative integer count (Poisson)';
        break;
    }
    if (!ok) throw new RangeError(`natgrad: ${name}[${i}] = ${v} is not in the likelihood's support: must be ${support}`);
  }
}

/** What the labels of a likelihood are, for messages. */
function labelSupport(lik: Likelihood): string {
  switch (lik.name) {
    case 'gaussian':
      return 'real-valued targets for gaussian';
    case 'bernoulli':
      return '0/1 for bernoulli';
    case 'categorical':
      return `class indices 0..${lik.classes - 1} for categorical`;
    case 'poisson':
      return 'non-negative integer counts for poisson';
  }
}

function describeLabel(v: unknown): string {
  if (typeof v === 'string') return `the string '${v.length <= 40 ? v : `${v.slice(0, 32)}…`}'`;
  if (typeof v === 'boolean' || typeof v === 'bigint') return `the ${typeof v} ${String(v)}${typeof v === 'bigint' ? 'n' : ''}`;
  if (v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Refuse labels that are not numbers before they are converted (`Float64Array.from` would turn
 * `'1'` into 1, `true` into 1 and `'yes'` into NaN): every entry of a plain array `y` (and of its
 * rows, for N × M Gaussian targets) must be a number. Typed arrays hold numbers by construction
 * and pass; anything else is left to the shape checks.
 * @param where the function, e.g. `'problem'`; `name` the argument, e.g. `'y'`.
 * @throws TypeError naming the first bad entry, its value and what labels are for `lik`.
 */
export function checkLabelTypes(lik: Likelihood, y: unknown, where: string, name = 'y'): void {
  const bad = (path: string, v: unknown): TypeError => {
    const hint =
      typeof v === 'string'
        ? v.trim() !== '' && Number.isFinite(Number(v))
          ? ' — convert them first, e.g. y.map(Number)'
          : lik.name === 'categorical' || lik.name === 'bernoulli'
            ? ' — map the class names to indices first, e.g. y.map((c) => names.indexOf(c))'
            : ''
        : typeof v === 'boolean'
          ? ' — convert them first, e.g. y.map(Number)'
          : '';
    return new TypeError(`natgrad: ${where}: ${path} is ${describeLabel(v)} — labels are numbers (${labelSupport(lik)})${hint}`);
  };
  const scan = (a: readonly unknown[], path: string, nested: boolean): void => {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (typeof v === 'number') continue;
      if (nested && Array.isArray(v)) scan(v, `${path}[${i}]`, false);
      else throw bad(`${path}[${i}]`, v);
    }
  };
  if (Array.isArray(y)) scan(y, name, true);
}

/**
 * @internal Run the likelihood kernel on n samples: writes r (n·M) and, if lam ≠ 0, Λ
 * (n·M·M for categorical; n·M diagonal entries otherwise: Gaussian Λ = I/σ² is diagonal)
 * at the given byte addresses; returns Σ_n ℓ_n.
 */
export function evaluate(core: Core, lik: Likelihood, n: number, f: number, y: number, r: number, lam: number): number {
  const k = core.exports;
  switch (lik.name) {
    case 'gaussian':
      return k.likGaussian(n * lik.outputs, f, y, 1 / lik.variance, r, lam);
    case 'bernoulli':
      return k.likBernoulli(n, f, y, lik.clip, r, lam);
    case 'categorical':
      return k.likCategorical(n, lik.classes, f, y, r, lam);
    case 'poisson':
      return k.likPoisson(n, f, y, r, lam);
  }
}

/**
 * Draw ỹ ~ p(y | f) for one sample and write r(ỹ) = ∂ℓ(f, ỹ)/∂f into `out` at `offset`
 * (M entries). `f` holds the M natural parameters at `fOffset`; for categorical `p` must
 * hold softmax(f) (scratch is reused by the caller).
 */
export function sampleResidual(lik: Likelihood, f: Float64Array, fOffset: number, rng: RandomSource & { poisson?(lambda: number): number }, out: Float64Array, offset: number, p?: Float64Array): void {
  switch (lik.name) {
    case 'gaussian': {
      for (let m = 0; m < lik.outputs; m++) {
        const fi = f[fOffset + m]!;
        const yt = fi + Math.sqrt(lik.variance) * rng.normal();
        out[offset + m] = (fi - yt) / lik.variance;
      }
      return;
    }
    case 'bernoulli': {
      const fi = f[fOffset]!;
      let s = 1 / (1 + Math.exp(-fi));
      if (lik.clip > 0) s = Math.min(Math.max(s, lik.clip), 1 - lik.clip);
      const yt = rng.uniform() < s ? 1 : 0;
      out[offset] = s - yt;
      return;
    }
    case 'poisson': {
      const rate = Math.exp(f[fOffset]!);
      if (!rng.poisson) throw new TypeError('natgrad: the random source has no poisson() sampler; use rng(seed)');
      out[offset] = rate - rng.poisson(rate);
      return;
    }
    case 'categorical': {
      const C = lik.classes;
      const probs = p!;
      let m = -Infinity;
      for (let k = 0; k < C; k++) m = Math.max(m, f[fOffset + k]!);
      let z = 0;
      for (let k = 0; k < C; k++) {
        probs[k] = Math.exp(f[fOffset + k]! - m);
        z += probs[k]!;
      }
      for (let k = 0; k < C; k++) probs[k]! /= z;
      let u = rng.uniform(),
        yt = C - 1;
      for (let k = 0; k < C; k++) {
        u -= probs[k]!;
        if (u < 0) {
          yt = k;
          break;
        }
      }
      for (let k = 0; k < C; k++) out[offset + k] = probs[k]! - (k === yt ? 1 : 0);
      return;
    }
  }
}
