/**
 * Hessian-free optimization (Martens 2010): at each iterate, truncated conjugate gradients on the
 * damped curvature (C + s/σp² I + λI) d = ∇L with matrix-free products, then θ ← θ − γ d, with
 * Levenberg–Marquardt control of λ (`adaptiveDamping`: ρ < ¼ → λ·boost, ρ > ¾ → λ·drop, where ρ is
 * the actual over the predicted reduction of the damped quadratic model).
 *
 * The curvature is the GGN by default (PSD, Martens' choice); `'fisher'`, `'empiricalFisher'` or
 * the Hessian (indefinite: CG stops at the first direction of non-positive curvature and keeps the
 * iterate so far, Steihaug's rule; a first direction of non-positive curvature fails the run) can be
 * asked for. Cost per step: one forward pass for L and ∇L, then at most `cg.maxIterations`
 * curvature-vector products on that pass (one JVP + one VJP each); memory O(N·width + D).
 * Differences from the paper: no CG warm start from the previous direction, no CG backtracking,
 * no mini-batches (the problem's full data set serves both gradient and curvature).
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { NotPositiveDefiniteError } from '../core/errors.js';
import { checkCount, checkOptions } from '../core/options.js';
import { checkScalar } from '../core/validate.js';
import { curvatureOperator } from '../operators/curvature.js';
import type { Problem } from '../problem/types.js';
import { cg } from '../solvers/cg.js';
import { baseOptions, makeOptimizer, OPTIMIZER_HINTS, type OptimizerOptions, type Optimizer } from './optimizers.js';

/**
 * Options of {@link hessianFree}.
 *
 * @category Optimizers
 */
export interface HessianFreeOptions extends Omit<OptimizerOptions, 'lr'> {
  /** Step size γ > 0 (default 1: the full CG step, as in Martens 2010). */
  lr?: number;
  /** CG per step: `maxIterations` (default 50; reaching it truncates, as in the paper) and relative residual `tol` (default 1e-6). */
  cg?: { maxIterations?: number; tol?: number };
  /** The curvature: `'ggn'` (default), `'fisher'`, `'empiricalFisher'` or `'hessian'`. */
  curvature?: 'ggn' | 'fisher' | 'empiricalFisher' | 'hessian';
}

/**
 * Hessian-free / truncated-Newton optimizer: d ≈ (C(θ) + s/σp² I + λ I)⁻¹ ∇L(θ) by at most
 * `cg.maxIterations` CG iterations (C the chosen curvature; the Hessian carries its own prior),
 * θ ← θ − γ d. Same `init / update / step / run` surface and run records as the other optimizers.
 * @throws RangeError for lr ≤ 0, damping < 0, an unknown curvature, bad CG settings.
 * @example
 * const hf = hessianFree(p, { damping: 1, adaptiveDamping: true, cg: { maxIterations: 20 } });
 * const rec = hf.run(theta0, { iterations: 10 }); // rec.losses decreasing, rec.dampings adapting
 *
 * @category Optimizers
 */
export function hessianFree(problem: Problem<Dtype>, options: HessianFreeOptions = {}): Optimizer {
  options = checkOptions<HessianFreeOptions>(options, 'hessianFree', ['lr', 'damping', 'adaptiveDamping', 'cg', 'curvature'], OPTIMIZER_HINTS);
  const cgo = checkOptions<NonNullable<HessianFreeOptions['cg']>>(options.cg, 'hessianFree: cg', ['maxIterations', 'tol']);
  const curvature = options.curvature ?? 'ggn';
  if (!['ggn', 'fisher', 'empiricalFisher', 'hessian'].includes(curvature))
    throw new RangeError(`natgrad: hessianFree: curvature must be 'ggn', 'fisher', 'empiricalFisher' or 'hessian', got ${String(curvature)}`);
  const maxIterations = checkCount(cgo.maxIterations, 'hessianFree: cg.maxIterations', { dflt: 50 });
  const tol = checkScalar(cgo.tol ?? 1e-6, 'cg.tol', 'positive');
  const withPrior = curvature === 'hessian' ? 0 : 1;
  return makeOptimizer(
    'HF',
    problem,
    baseOptions({ ...options, lr: options.lr ?? 1 }),
    (p, s) => {
      const op = curvatureOperator(p, s.theta, { kind: curvature });
      const r = cg(op, s.gradient, { damping: withPrior * p.priorCurvature() + s.damping, tol, maxIterations });
      if (r.reason === 'negativeCurvature' && r.iterations === 0) {
        throw new NotPositiveDefiniteError(1, NaN, `hessianFree step ${s.iteration + 1}: the damped ${curvature} along ∇L (CG's first direction has non-positive curvature; raise damping)`);
      }
      return { direction: r.x, curvatureDirection: r.product };
    },
    true,
  );
}
