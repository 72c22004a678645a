/**
 * The GLM (linearized) predictive of a Laplace approximation: with f(x) ~ N(μ, Σ) (μ = f(x; θ*),
 * Σ = J(x) P⁻¹ J(x)ᵀ, the functional variance), the class probabilities E[softmax(f)] by
 *
 * - `'probit'`: softmax(μ_k / √(1 + π/8 · Σ_kk)) (MacKay 1992; Bernoulli: sigmoid(μ / √(1 + π/8 · Σ))),
 * - `'mc'`: (1/S) Σ_s softmax(f_s), f_s = μ + C z_s with Σ = C Cᵀ, z_s ~ N(0, I) from xoshiro256**,
 * - `'bridge'`: the Laplace bridge (Hobbhahn, Kristiadi & Hennig 2022): a Dirichlet with
 *   α_k = (1 − 2/K + e^{μ_k} Σ_j e^{−μ_j} / K²) / Σ_kk, predictive α / Σ_j α_j (laplace-torch
 *   0.1a2's form); with `correction: true` first μ and Σ are conditioned on Σ_k f_k = 0
 *   (μ ← μ − Σ1 (1ᵀμ)/(1ᵀΣ1), Σ ← Σ − Σ11ᵀΣ/(1ᵀΣ1)) and rescaled by c = mean_k(Σ_kk)/√(K/2)
 *   (μ ← μ/√c, Σ_kk ← Σ_kk/c), the corrections of Hobbhahn et al. (2022, §3) — natgrad's own
 *   reading, not compared against another implementation.
 *
 * A Gaussian likelihood's predictive is N(μ, Σ + σ² I): `{ mean, variance }`.
 *
 * @module
 */
import { checkCount, checkOptions } from '../core/options.js';
import type { DenseMatrix } from '../core/types.js';
import { rng } from '../data/random.js';
import type { Likelihood } from '../likelihoods/likelihood.js';

/**
 * Options of {@link Laplace.predict}.
 *
 * @category Laplace
 */
export interface PredictOptions {
  /**
   * `'glm'` (default): the linearized predictive; `'nn'`: the network's own predictive averaged over
   * posterior samples θ_s ~ N(θ*, P⁻¹) ({@link Laplace.predict} only).
   */
  method?: 'glm' | 'nn';
  /** `'glm'`: `'probit'` (default), `'mc'` or `'bridge'` (categorical only). */
  link?: 'probit' | 'mc' | 'bridge';
  /** `'mc'` link or `'nn'`: S samples (per point for `'mc'`; default 100). */
  samples?: number;
  /** `'mc'` link or `'nn'`: seed of xoshiro256** (default 0). */
  seed?: number;
  /** `'bridge'`: condition on Σ_k f_k = 0, then rescale the variance (Hobbhahn et al. 2022, §3; natgrad's own reading, not compared against another implementation). Default false: laplace-torch 0.1a2's form, compared against it in the tests. */
  correction?: boolean;
}

/**
 * The predictive: class probabilities (n × C; Bernoulli n × 1, P(y = 1)), or for a Gaussian
 * likelihood the mean (n·M) and the predictive covariance (n·M·M, functional variance + σ² I).
 *
 * @category Laplace
 */
export type Prediction = DenseMatrix | { mean: Float64Array; variance: Float64Array };

function softmaxInto(z: Float64Array, out: Float64Array, o: number, scale = 1): void {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let s = 0;
  for (let k = 0; k < z.length; k++) s += Math.exp(z[k]! - m);
  for (let k = 0; k < z.length; k++) out[o + k]! += (scale * Math.exp(z[k]! - m)) / s;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * A factor C with C Cᵀ = Σ for a positive semidefinite M × M Σ (Cholesky; a pivot within
 * M·eps·max Σ_kk of 0 is a direction of zero variance, column 0). A clearly negative pivot is a
 * RangeError: Σ is not a covariance.
 */
function psdFactor(S: Float64Array, o: number, M: number): Float64Array {
  const L = new Float64Array(M * M);
  let mx = 0;
  for (let k = 0; k < M; k++) mx = Math.max(mx, S[o + k * M + k]!);
  const tiny = 16 * M * 2 ** -52 * mx;
  for (let j = 0; j < M; j++) {
    let d = S[o + j * M + j]!;
    for (let k = 0; k < j; k++) d -= L[j * M + k]! ** 2;
    if (d < -tiny || Number.isNaN(d)) throw new RangeError(`natgrad: laplace: predict: the functional variance is not positive semidefinite (pivot ${j + 1} is ${d})`);
    if (d <= tiny) continue;
    const l = Math.sqrt(d);
    L[j * M + j] = l;
    for (let i = j + 1; i < M; i++) {
      let s = S[o + i * M + j]!;
      for (let k = 0; k < j; k++) s -= L[i * M + k]! * L[j * M + k]!;
      L[i * M + j] = s / l;
    }
  }
  return L;
}

/**
 * The GLM predictive from the means f (n × M) and functional variances fvar (n·M·M); see the
 * module page for the formulas.
 * @param likelihood the problem's likelihood (categorical, Bernoulli or Gaussian).
 * @param sigma σ of a Gaussian likelihood (added as σ² I to the variance).
 * @throws RangeError for a link the likelihood does not have (bridge: categorical only; Poisson:
 *   none), a zero variance with the bridge, a functional variance that is not a covariance.
 * @example
 * ```ts
 * glmPredictive(categorical({ classes: 2 }), Float64Array.of(1, -1), Float64Array.of(1, 0, 0, 1), 1, 1);
 * // probit: softmax([1, −1] / √(1 + π/8)) = { data: [0.8448…, 0.1551…], rows: 1, cols: 2 }
 * ```
 *
 * @category Laplace
 */
export function glmPredictive(likelihood: Likelihood, f: Float64Array, fvar: Float64Array, rows: number, sigma: number, options?: PredictOptions): Prediction {
  const o = checkOptions<PredictOptions>(options, 'Laplace.predict', ['method', 'link', 'samples', 'seed', 'correction'], {
    linkApprox: "the link approximation is 'link'",
    link_approx: "the link approximation is 'link'",
    nSamples: "the Monte Carlo sample count is 'samples'",
  });
  if ((o.method ?? 'glm') !== 'glm')
    throw new RangeError(`natgrad: laplace: predict: glmPredictive computes method 'glm' only, got ${String(o.method)} (method 'nn' needs the Laplace object: la.predict(X, { method: 'nn' }))`);
  const link = o.link ?? 'probit';
  if (!['probit', 'mc', 'bridge'].includes(link)) throw new RangeError(`natgrad: laplace: predict: link must be 'probit', 'mc' or 'bridge', got ${String(link)}`);
  if (link !== 'mc' && (o.samples !== undefined || o.seed !== undefined)) throw new RangeError("natgrad: laplace: predict: samples and seed go with link: 'mc' only");
  if (link !== 'bridge' && o.correction !== undefined) throw new RangeError("natgrad: laplace: predict: correction goes with link: 'bridge' only");
  const M = likelihood.outputs;
  if (likelihood.name === 'gaussian') {
    const variance = fvar.slice();
    for (let i = 0; i < rows; i++) for (let k = 0; k < M; k++) variance[(i * M + k) * M + k]! += sigma * sigma;
    return { mean: f.slice(), variance };
  }
  if (likelihood.name === 'poisson') throw new RangeError('natgrad: laplace: predict: no GLM predictive for a Poisson likelihood in this version');
  const out = new Float64Array(rows * M);
  if (link === 'mc') {
    const S = checkCount(o.samples, 'laplace: predict: samples', { dflt: 100 });
    const g = rng(o.seed ?? 0);
    const z = new Float64Array(M),
      fs = new Float64Array(M);
    for (let i = 0; i < rows; i++) {
      const C = psdFactor(fvar, i * M * M, M);
      for (let s = 0; s < S; s++) {
        for (let k = 0; k < M; k++) z[k] = g.normal();
        for (let k = 0; k < M; k++) {
          let v = f[i * M + k]!;
          for (let j = 0; j <= k; j++) v += C[k * M + j]! * z[j]!;
          fs[k] = v;
        }
        if (likelihood.name === 'bernoulli') out[i]! += sigmoid(fs[0]!) / S;
        else softmaxInto(fs, out, i * M, 1 / S);
      }
    }
    return { data: out, rows, cols: M };
  }
  if (link === 'probit') {
    const z = new Float64Array(M);
    for (let i = 0; i < rows; i++) {
      for (let k = 0; k < M; k++) z[k] = f[i * M + k]! / Math.sqrt(1 + (Math.PI / 8) * fvar[(i * M + k) * M + k]!);
      if (likelihood.name === 'bernoulli') out[i] = sigmoid(z[0]!);
      else softmaxInto(z, out, i * M);
    }
    return { data: out, rows, cols: M };
  }
  // bridge
  if (likelihood.name !== 'categorical') throw new RangeError("natgrad: laplace: predict: link 'bridge' needs a categorical likelihood (K ≥ 2 classes)");
  const K = M;
  for (let i = 0; i < rows; i++) {
    const mu = f.slice(i * K, i * K + K);
    const S = fvar.slice(i * K * K, (i + 1) * K * K);
    if (o.correction === true) {
      // zero-sum projection, then the variance rescaling
      const r = new Float64Array(K);
      let tot = 0,
        msum = 0;
      for (let a = 0; a < K; a++) {
        for (let b = 0; b < K; b++) r[a]! += S[a * K + b]!;
        tot += r[a]!;
        msum += mu[a]!;
      }
      if (!(tot > 0)) throw new RangeError(`natgrad: laplace: predict: the bridge's correction needs 1ᵀΣ1 > 0 at point ${i}, got ${tot}`);
      for (let a = 0; a < K; a++) mu[a]! -= (r[a]! * msum) / tot;
      for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) S[a * K + b]! -= (r[a]! * r[b]!) / tot;
      let dm = 0;
      for (let a = 0; a < K; a++) dm += S[a * K + a]!;
      const c = dm / K / Math.sqrt(K / 2);
      for (let a = 0; a < K; a++) {
        mu[a]! /= Math.sqrt(c);
        S[a * K + a]! /= c;
      }
    }
    let se = 0;
    for (let k = 0; k < K; k++) se += Math.exp(-mu[k]!);
    let asum = 0;
    for (let k = 0; k < K; k++) {
      const v = S[k * K + k]!;
      if (!(v > 0)) throw new RangeError(`natgrad: laplace: predict: the bridge needs every Σ_kk > 0, got Σ_${k}${k} = ${v} at point ${i}`);
      const a = (1 - 2 / K + (Math.exp(mu[k]!) * se) / (K * K)) / v;
      out[i * K + k] = a;
      asum += a;
    }
    if (!Number.isFinite(asum)) throw new RangeError(`natgrad: laplace: predict: the bridge's α overflows at point ${i} (|f| too large for exp)`);
    for (let k = 0; k < K; k++) out[i * K + k]! /= asum;
  }
  return { data: out, rows, cols: K };
}
