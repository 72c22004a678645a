/**
 * Pieces every problem shares: the prior's term of the objective, the error for a loss that
 * is not finite, and the variance-adaptation matrix of Eq. 19.
 *
 * @module
 */
import { NonFiniteLossError } from '../core/errors.js';
import { firstNonFinite } from '../core/validate.js';
import type { DenseMatrix } from '../core/types.js';
import type { Likelihood } from '../likelihoods/likelihood.js';
import type { SymMatrix } from '../linalg/symmatrix.js';

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
