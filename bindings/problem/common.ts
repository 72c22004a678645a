/**
 * Pieces every problem shares: the prior's term of the objective and the error for a loss that
 * is not finite.
 *
 * @module
 */
import { NonFiniteLossError } from '../core/errors.js';
import { firstNonFinite } from '../core/validate.js';
import type { Likelihood } from '../likelihoods/likelihood.js';

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
