/**
 * Synthetic data sets that ship with the package (generated, never downloaded).
 *
 * @module
 */
import { checkOptions } from '../core/options.js';
import type { Dataset, DenseMatrix } from '../core/types.js';
import { rng } from './random.js';

/**
 * Options of {@link sineData}.
 *
 * @category Data
 */
export interface SineDataOptions {
  /** N ≥ 1 points (default 200). */
  n?: number;
  /** Seed of the xoshiro256** generator (default 0). */
  seed?: number;
  /** Standard deviation of the additive Gaussian noise (default 0.1). */
  noise?: number;
  /** Inputs are uniform on [−range, range] (default 3). */
  range?: number;
}

/**
 * A 1-D regression set: x_n ~ U[−range, range], y_n = sin(x_n) + noise · ε_n, ε_n ~ N(0, 1),
 * drawn in the order x_1, ε_1, x_2, ε_2, … from `rng(seed)` (same seed, same data, bit for bit).
 * X is N × 1 (no bias column: add one, or use a model with biases).
 * @throws RangeError for n < 1, noise < 0, range ≤ 0 or a non-integer seed.
 * @example
 * const { X, y } = sineData({ n: 3, seed: 1 }); // X.rows = 3, X.cols = 1, y.length = 3
 *
 * @category Data
 */
export function sineData(options: SineDataOptions = {}): Dataset<DenseMatrix> {
  checkOptions(options, 'sineData', ['n', 'seed', 'noise', 'range'], { sigma: 'the noise standard deviation is noise' });
  const n = options.n ?? 200,
    seed = options.seed ?? 0,
    noise = options.noise ?? 0.1,
    range = options.range ?? 3;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`natgrad: sineData: n must be an integer ≥ 1, got ${String(n)}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: sineData: seed must be a safe integer, got ${String(seed)}`);
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new RangeError(`natgrad: sineData: noise must be ≥ 0, got ${String(noise)}`);
  if (!(range > 0) || !Number.isFinite(range)) throw new RangeError(`natgrad: sineData: range must be > 0, got ${String(range)}`);
  const g = rng(seed);
  const x = new Float64Array(n),
    y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = -range + 2 * range * g.uniform();
    y[i] = Math.sin(x[i]!) + noise * g.normal();
  }
  return { X: { data: x, rows: n, cols: 1 }, y, names: ['x'] };
}
