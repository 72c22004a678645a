/**
 * Pieces every problem shares: the prior's term of the objective, the error for a loss that
 * is not finite, the variance-adaptation matrix of Eq. 19, and the checks of the options every
 * problem method takes (the curvature builders', `perSampleGradients`', `varianceAdaptation`'s).
 *
 * @module
 */
import { NonFiniteLossError } from '../core/errors.js';
import { checkOptions, nearestKey } from '../core/options.js';
import { firstNonFinite } from '../core/validate.js';
import type { DenseMatrix } from '../core/types.js';
import type { Likelihood } from '../likelihoods/likelihood.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
import type { MonteCarloOptions, Structure } from './types.js';

/** The structures of the curvature builders. */
export const STRUCTURES: readonly Structure[] = ['dense', 'diagonal', 'block', 'kfac'];

const CURVATURE_KEYS = ['structure', 'kfacApproximation', 'bias'] as const;
const MC_KEYS = [...CURVATURE_KEYS, 'samples', 'seed'] as const;
const MC_ONLY = 'is an option of fisherMC, the Monte-Carlo Fisher: p.fisherMC(θ, { samples, seed })';
/** Keys that belong elsewhere, and where they go. */
const CURVATURE_HINTS: Readonly<Record<string, string>> = {
  samples: `samples ${MC_ONLY}`,
  seed: `seed ${MC_ONLY}`,
  damping: "the curvature builders return the undamped matrix; damp the solve instead: C.solve(g, { damping }), or the optimizer's damping",
  kind: 'kind is an option of curvatureOperator(p, θ, { kind }); here the method names the curvature',
  resident: 'resident is an option of perSampleGradients',
};

/**
 * The options of a curvature builder, checked: only its keys (`structure`, `kfacApproximation`,
 * `bias`; with `mc` — `fisherMC` — also `samples` and `seed`), `structure` one of
 * {@link STRUCTURES}, `kfacApproximation` `'expand'` or `'reduce'` and `bias` `'joint'` or
 * `'separate'`, the last two with the `'kfac'` structure only. Returns the options object itself
 * (`{}` for undefined); the counts are checked by the builder.
 * @param where the method, for messages (e.g. `'fisher'`).
 * @throws UnknownOptionError (a TypeError) for an unknown key; RangeError for a bad value.
 */
export function curvatureOptions<O extends object>(options: O | undefined, where: string, mc = false): O {
  const o = checkOptions<MonteCarloOptions<Structure>>(options, where, mc ? MC_KEYS : CURVATURE_KEYS, CURVATURE_HINTS);
  const structure = o.structure ?? 'dense';
  if (!STRUCTURES.includes(structure)) {
    // The nearest by edit distance, else the one it abbreviates ('diag' → 'diagonal').
    const near = typeof structure === 'string' ? (nearestKey(structure, STRUCTURES) ?? (structure.length >= 3 ? STRUCTURES.find((v) => v.startsWith(structure.toLowerCase())) : undefined)) : undefined;
    throw new RangeError(
      `natgrad: ${where}: structure must be 'dense', 'diagonal', 'block' or 'kfac', got ${typeof structure === 'string' ? `'${structure}'` : String(structure)}${near ? ` — did you mean '${near}'?` : ''}`,
    );
  }
  if (structure !== 'kfac' && (o.kfacApproximation !== undefined || o.bias !== undefined)) {
    throw new RangeError(`natgrad: ${where}: kfacApproximation and bias are options of the 'kfac' structure, not of '${structure}'`);
  }
  if (o.kfacApproximation !== undefined && o.kfacApproximation !== 'expand' && o.kfacApproximation !== 'reduce')
    throw new RangeError(`natgrad: ${where}: kfacApproximation must be 'expand' or 'reduce', got ${String(o.kfacApproximation)}`);
  if (o.bias !== undefined && o.bias !== 'joint' && o.bias !== 'separate') throw new RangeError(`natgrad: ${where}: bias must be 'joint' or 'separate', got ${String(o.bias)}`);
  return o as O;
}

/** The options of `perSampleGradients`: only `resident`, a boolean. */
export function perSampleOptions(options: unknown): { resident?: boolean } {
  const o = checkOptions<{ resident: boolean }>(options, 'perSampleGradients', ['resident'], {
    structure: 'perSampleGradients returns the N × D rows; for a structured curvature use p.empiricalFisher(θ, { structure })',
  });
  if (o.resident !== undefined && typeof o.resident !== 'boolean') throw new TypeError(`natgrad: perSampleGradients: resident must be a boolean, got ${typeof o.resident}`);
  return o;
}

/** The options of `varianceAdaptation`: only `damping`. */
export function varianceAdaptationOptions(options: unknown): { damping?: number } {
  return checkOptions<{ damping: number }>(options, 'varianceAdaptation', ['damping']);
}

/** ‖θ‖² / (2σp²), or 0 without a prior (σp² = ∞). */
export function priorTerm(theta: ArrayLike<number>, priorVariance: number): number {
  if (priorVariance === Infinity) return 0;
  let s = 0;
  for (let i = 0; i < theta.length; i++) s += theta[i]! * theta[i]!;
  return s / (2 * priorVariance);
}

/**
 * The error for a non-finite Σ_n ℓ_n at θ, naming the first sample whose output f (N × M) or
 * residual r is not finite; `output` names f in the message (e.g. `f = Xθ`, `the model's output`).
 */
export function nonFiniteLoss(sumLoss: number, f: ArrayLike<number>, r: ArrayLike<number>, M: number, likelihood: Likelihood, output: string): NonFiniteLossError {
  let i = firstNonFinite(f);
  if (i < 0) i = firstNonFinite(r);
  const n = i < 0 ? -1 : Math.floor(i / M),
    fn = i < 0 ? NaN : f[i]!;
  let why: string;
  if (i < 0) why = 'the sum over the samples overflows';
  else if (!Number.isFinite(fn)) why = `${output} overflows at sample ${n} (f = ${fn})`;
  else if (likelihood.name === 'poisson') why = `the Poisson rate exp(f) overflows at sample ${n} (f = ${fn} > 709.78)`;
  else why = `the likelihood overflows at sample ${n} (f = ${fn})`;
  return new NonFiniteLossError(
    `natgrad: the loss is ${sumLoss === Infinity ? '+Infinity' : sumLoss} at this θ: ${why}; its gradient and curvature are ` +
      'not finite (for an optimizer: the iteration diverged — reduce the step size or add damping)',
    sumLoss,
    n,
    fn,
  );
}

/**
 * Eq. 19 from the mean-reduction EF F̄ (D × D) and the mean gradient ḡ: u = (F̄ + λI)⁻¹ ḡ,
 * M = u ḡᵀ (not symmetric) and the direction M ḡ = ‖ḡ‖² u. F̄ is not freed here.
 * @throws NotPositiveDefiniteError when F̄ + λI is singular
 */
export function varianceAdaptationFrom(F: SymMatrix, g: Float64Array, damping: number): { matrix: DenseMatrix; direction: Float64Array } {
  const u = F.solve(g, { damping });
  const D = g.length;
  let gg = 0;
  for (const v of g) gg += v * v;
  const matrix = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) matrix[i * D + j] = u[i]! * g[j]!;
  return { matrix: { data: matrix, rows: D, cols: D }, direction: u.map((v) => v * gg) };
}

/**
 * The rows of a mini-batch view: integers in [0, N), at least one, repeats allowed. `null` when
 * they are exactly 0, 1, …, N−1 in order (the view is then the problem itself, bit for bit).
 * A `'sum'` problem has no mini-batch view of fewer rows: a batch sum does not estimate the
 * full sum without a factor N/B the reduction cannot express.
 */
export function batchRows(indices: unknown, N: number, reduction: 'mean' | 'sum'): Int32Array | null {
  if (!Array.isArray(indices) && !ArrayBuffer.isView(indices)) throw new TypeError('natgrad: batch: indices must be an array or typed array of row numbers');
  const src = indices as ArrayLike<unknown>;
  const B = src.length;
  if (B === 0) throw new RangeError('natgrad: batch: indices is empty (a batch needs at least one row)');
  const idx = new Int32Array(B);
  let identity = B === N;
  for (let i = 0; i < B; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= N) throw new RangeError(`natgrad: batch: indices[${i}] is ${String(v)}, not a row number in [0, ${N})`);
    idx[i] = v;
    if (v !== i) identity = false;
  }
  if (identity) return null;
  if (reduction === 'sum') throw new RangeError("natgrad: batch: a 'sum' problem has no mini-batch view (a batch sum does not estimate the full sum); build the problem with reduction 'mean'");
  return idx;
}
