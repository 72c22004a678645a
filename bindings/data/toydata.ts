/**
 * The synthetic data sets of the paper's Fig. 1 and Fig. 2 (and the Fig. 2 appendix), drawn
 * exactly as the paper's code (`eftk/toydata.py`) draws them.
 *
 * Each generator takes a {@link RandomSource} and N. Given `numpyRandomState(0)` and N = 1000 it
 * reproduces the paper's arrays (`../shared/fixtures/paper-toydata/`) bit for bit, except for
 * at most 3 of the 3000 numbers of a set, 1 ulp off, where glibc's `log` (behind numpy's
 * Gaussian) misrounds. Any other source (for example natgrad's `rng(seed)`) gives a data set
 * of the same distribution.
 *
 * @example
 * ```ts
 * import { numpyRandomState } from './random.js';
 * const { X, y } = toyData.fig1(numpyRandomState(0));
 * X.data[1]; // 3.7548159128575267 — the paper's first lognormal input
 * y[0];      // 10.065594505424853
 * ```
 *
 * @module
 */

import type { DenseMatrix, Dataset } from '../core/types.js';
import { expCorrectlyRounded, fma, type RandomSource } from './random.js';

/**
 * A synthetic data set: N × 2 inputs, targets, column names, and the true parameter if any.
 *
 * @category Data
 */
export interface ToyData extends Dataset<DenseMatrix> {
  /**
   * The parameter the data were generated with, where the model family contains it:
   * regression coefficients for the linear sets, the Bayes-optimal logistic weights for the
   * well-specified logistic set. Absent for the misspecified logistic sets.
   */
  readonly thetaTrue?: Float64Array;
}

/**
 * Names of the seven generators of {@link toyData}.
 *
 * @category Data
 */
export type ToyDataName = 'fig1' | 'wellSpecified' | 'misspecifiedA' | 'misspecifiedB' | 'linregCorrect' | 'linregMissNoise' | 'linregMissModel';

/**
 * A generator: `(rng, N = 1000) → ToyData`.
 *
 * @category Data
 */
export type ToyDataGenerator = (rng: RandomSource, N?: number) => ToyData;

/** Column names of every toy set (those of the fixture files). */
const NAMES = ['x0', 'x1'];

function checkN(N: number, even: boolean): void {
  if (!Number.isSafeInteger(N) || N < 1 || (even && N % 2 !== 0)) {
    throw new RangeError(`N must be a positive${even ? ' even' : ''} integer, got ${N}`);
  }
}

/**
 * Two Gaussian classes of N/2 points each, stacked class 0 first: for class c, N/2 rows
 * `x = μ_c + z C_c` with `z = [normal(), normal()]` (a row of standard normals, drawn row by
 * row) times the 2×2 matrix `C_c` itself (so the covariance is `C_cᵀ C_c`, not `C_c`), all of
 * class 0 before any of class 1; labels 0 then 1.
 * The product is rounded as numpy's (OpenBLAS, on a CPU with FMA) rounds it:
 * `x_j = μ_j + fma(z₁, C[1][j], z₀·C[0][j])` (for a diagonal C that is just `μ_j + z_j C[j][j]`).
 */
function twoClasses(rng: RandomSource, N: number, mean0: readonly number[], cov0: readonly number[], mean1: readonly number[], cov1: readonly number[]): ToyData {
  checkN(N, true);
  const half = N / 2;
  const X = new Float64Array(2 * N);
  const y = new Float64Array(N);
  const classes = [
    [mean0, cov0],
    [mean1, cov1],
  ] as const;
  classes.forEach(([mu, C], c) => {
    for (let i = c * half; i < (c + 1) * half; i++) {
      const z0 = rng.normal();
      const z1 = rng.normal();
      X[2 * i] = mu[0]! + fma(z1, C[2]!, z0 * C[0]!);
      X[2 * i + 1] = mu[1]! + fma(z1, C[3]!, z0 * C[1]!);
      y[i] = c;
    }
  });
  return { X: { data: X, rows: N, cols: 2 }, y, names: NAMES.slice() };
}

/**
 * The Fig. 2 appendix regression sets: first N draws `x_n = normal()`, inputs `[x_n, 1]`
 * (bias last), then N noise draws `ε_n = normal()`;
 * `y_n = (x_n + 1) + quad·x_n² + noise·ε_n` (θT = [1, 1]), evaluated in that order.
 */
function linreg(rng: RandomSource, N: number, noise: number, quad: number): ToyData {
  checkN(N, false);
  const X = new Float64Array(2 * N);
  for (let n = 0; n < N; n++) {
    X[2 * n] = rng.normal();
    X[2 * n + 1] = 1;
  }
  const y = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const x = X[2 * n]!;
    const mean = quad === 0 ? x + 1 : x + 1 + quad * (x * x);
    y[n] = mean + noise * rng.normal();
  }
  return { X: { data: X, rows: N, cols: 2 }, y, names: NAMES.slice(), thetaTrue: Float64Array.of(1, 1) };
}

/**
 * Fig. 1 (vector fields): N draws `u_n = exp(0.75·normal())` (lognormal(0, 0.75)), inputs
 * `x_n = [1, u_n]` (bias FIRST here, as in the paper's code), then N noise draws;
 * `y_n = (2 + 2u_n) + normal()`, i.e. θT = [2, 2], σ = 1. Gaussian likelihood, priorVariance 0.1.
 */
function fig1(rng: RandomSource, N = 1000): ToyData {
  checkN(N, false);
  const X = new Float64Array(2 * N);
  for (let n = 0; n < N; n++) {
    X[2 * n] = 1;
    X[2 * n + 1] = expCorrectlyRounded(0.75 * rng.normal());
  }
  const y = new Float64Array(N);
  for (let n = 0; n < N; n++) y[n] = 2 + 2 * X[2 * n + 1]! + rng.normal();
  return { X: { data: X, rows: N, cols: 2 }, y, names: NAMES.slice(), thetaTrue: Float64Array.of(2, 2) };
}

/**
 * The generators, each `(rng, N = 1000) → { X (N × 2), y, names, thetaTrue? }`; with
 * `numpyRandomState(0)` and N = 1000 each returns the paper's array bit for bit, except for at
 * most 3 of the 3000 numbers of a set, 1 ulp off, where glibc's `log` (behind numpy's Gaussian)
 * misrounds. Any other source (for example `rng(seed)`) gives a data set of the same distribution.
 *
 * Fig. 2 (logistic regression, labels 0/1, no bias, priorVariance ∞), two classes of N/2 points
 * (N must be even), class 0 (label 0) drawn and stacked first, each point `μ + [z₀, z₁]·C` with
 * `z` two consecutive `normal()` draws and `C` the matrix the paper calls the covariance (the
 * actual covariance is `CᵀC`):
 * - `wellSpecified`: μ₀ = [1, 1], μ₁ = [−1, −1], C₀ = C₁ = 2I (covariance 4I). Equal
 *   covariances make the logistic model exact: `thetaTrue = Σ⁻¹(μ₁ − μ₀) = [−½, −½]`.
 * - `misspecifiedA` (the code's `missnoise_logreg`): μ = ±[1.5, 1.5], C₀ = 3I, C₁ = I.
 * - `misspecifiedB` (the code's `misspecified_logreg`): μ = ±[1, 1],
 *   C₀ = 1.5·[[1, −0.6], [−0.6, 1]], C₁ = 1.5·[[1, 0.6], [0.6, 1]].
 *
 * Fig. 2 appendix (linear regression, inputs `[x, 1]` with x ~ N(0, 1), θT = [1, 1],
 * priorVariance 0.1): N input draws, then N noise draws,
 * - `linregCorrect`: `y = x + 1 + ε`;
 * - `linregMissNoise`: `y = x + 1 + 2ε` (the model assumes σ = 1);
 * - `linregMissModel`: `y = x + 1 + 0.5x² + ε`.
 *
 * Fig. 1, `fig1` (Gaussian likelihood σ = 1, priorVariance 0.1): N draws
 * `u_n = exp(0.75·normal())` (lognormal(0, 0.75)), inputs `[1, u_n]` (bias FIRST here), then N
 * noise draws; `y = (2 + 2u) + ε`, θT = [2, 2].
 *
 * See {@link toyDataFixtures} for the file each set reproduces.
 * @example
 * ```ts
 * const { X, y } = toyData.fig1(numpyRandomState(0));
 * X.data[1]; // 3.7548159128575267 — the paper's first lognormal input
 * y[0];      // 10.065594505424853
 * const blobs = toyData.wellSpecified(rng(1), 200); // 200 points of the same distribution, natgrad's generator
 * ```
 *
 * @category Data
 */
export const toyData: Readonly<Record<ToyDataName, ToyDataGenerator>> = {
  fig1,
  wellSpecified: (rng, N = 1000) => {
    const data = twoClasses(rng, N, [1, 1], [2, 0, 0, 2], [-1, -1], [2, 0, 0, 2]);
    return { ...data, thetaTrue: Float64Array.of(-0.5, -0.5) };
  },
  misspecifiedA: (rng, N = 1000) => twoClasses(rng, N, [1.5, 1.5], [3, 0, 0, 3], [-1.5, -1.5], [1, 0, 0, 1]),
  misspecifiedB: (rng, N = 1000) => twoClasses(rng, N, [1, 1], [1.5, 1.5 * -0.6, 1.5 * -0.6, 1.5], [-1, -1], [1.5, 1.5 * 0.6, 1.5 * 0.6, 1.5]),
  linregCorrect: (rng, N = 1000) => linreg(rng, N, 1, 0),
  linregMissNoise: (rng, N = 1000) => linreg(rng, N, 2, 0),
  linregMissModel: (rng, N = 1000) => linreg(rng, N, 1, 0.5),
};

/**
 * The seven generator names, in the paper's order (Fig. 1, Fig. 2, Fig. 2 appendix).
 *
 * @category Data
 */
export const toyDataNames: readonly ToyDataName[] = ['fig1', 'wellSpecified', 'misspecifiedA', 'misspecifiedB', 'linregCorrect', 'linregMissNoise', 'linregMissModel'];

/**
 * The CSV file, as written by the paper's code (`eftk/toydata.py`), that each generator reproduces
 * with `numpyRandomState(0)` and N = 1000 (natgrad's tests compare against these files). The file names follow the paper's code: misspecified A
 * is its `missnoise_logreg`, misspecified B its `misspecified_logreg`.
 *
 * @category Data
 */
export const toyDataFixtures: Readonly<Record<ToyDataName, string>> = {
  fig1: 'fig1_gradient_field.csv',
  wellSpecified: 'fig2_wellspecified_logreg.csv',
  misspecifiedA: 'fig2_missnoise_logreg.csv',
  misspecifiedB: 'fig2_misspecified_logreg.csv',
  linregCorrect: 'fig2apx_correct_linreg.csv',
  linregMissNoise: 'fig2apx_missnoise_linreg.csv',
  linregMissModel: 'fig2apx_missmodel_linreg.csv',
};
