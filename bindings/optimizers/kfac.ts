/**
 * KFAC (Martens & Grosse 2015): natural-gradient steps with the Kronecker-factored curvature of each
 * dense layer,
 *
 *     d_l = (G_l + γ_G I)⁻¹ ⊗ (A_l + γ_A I)⁻¹ ∇_l L,      θ ← θ − γ d
 *     γ_A = π_l √λ,  γ_G = √λ / π_l,  π_l² = (tr A_l / dim A_l) / (tr G_l / dim G_l)   (§6.3)
 *
 * with λ = damping + s/σp² (the prior's curvature joins the damping, as in NGD). The factors are
 * `problem.fisher(θ, { structure: 'kfac' })` (or `fisherMC`, `empiricalFisher` — the paper's EF
 * question asked of KFAC): A_l = (1/N) Σ ā ā ᵀ (bias coordinate last), G_l = s Σ δ B δᵀ, in the
 * layer's [W | b] order, mapped to θ's W-then-b order by {@link kfacInverse}. `init(θ₀)` computes
 * the factors at θ₀ and the first `update` uses them; every `updateEvery` iterations after that the
 * factors become the running average ema·old + (1 − ema)·new. Cost per step: one forward pass (L, ∇L),
 * plus at refresh steps one factor pass (N·Σ_l (in_l² + K·out_l²) flops), then per layer two Cholesky
 * factorizations ((in+1)³ + out³)/3 and two triangular solves with the gradient matrix.
 *
 * @module
 */
import type { Dtype } from '../core/types.js';
import { checkCount } from '../core/options.js';
import { checkScalar } from '../core/validate.js';
import { isLayered, type KfacFactorOptions } from '../models/model.js';
import type { KfacLayer, Problem } from '../problem/types.js';
import { kfacInverse, type DenseExactBlock, type DenseKfacFactors } from '../solvers/kfac.js';
import { makeOptimizer, optimizerOptions, type OptimizerOptions, type OptimizerState, type Optimizer } from './optimizers.js';

/**
 * Options of {@link kfac}.
 *
 * @category Optimizers
 */
export interface KfacOptions extends Omit<OptimizerOptions, 'adaptiveDamping'> {
  /** Which curvature's Kronecker factors: `'fisher'` (default, exact Λ factor), `'fisherMC'` (sampled labels) or `'empiricalFisher'`. */
  curvature?: 'fisher' | 'fisherMC' | 'empiricalFisher';
  /** Running-average weight of the old factors, in [0, 1) (default 0.95; 0 = use the newest factors only). */
  ema?: number;
  /** Refresh the factors every this many iterations (default 1). */
  updateEvery?: number;
  /** Convolutions' factors (`'expand'` default, or `'reduce'`) and the bias' place (`'joint'` default, or `'separate'`); see {@link KfacFactorOptions}. */
  kfacApproximation?: 'expand' | 'reduce';
  bias?: 'joint' | 'separate';
  /** `'fisherMC'`: samples per point (default 1) and seed (step k uses seed + k; default 0). */
  samples?: number;
  seed?: number;
}

/**
 * The state of {@link kfac}: the common state plus the running factors (dense, per layer).
 *
 * @category Optimizers
 */
export interface KfacState extends OptimizerState {
  readonly factors: readonly (DenseKfacFactors | DenseExactBlock)[];
}

/**
 * KFAC (Martens & Grosse 2015): natural-gradient steps with the Kronecker-factored curvature of
 * each layer,
 *
 *     d_l = (G_l + γ_G I)⁻¹ ⊗ (A_l + γ_A I)⁻¹ ∇_l L,      θ ← θ − γ d
 *     γ_A = π_l √λ,  γ_G = √λ / π_l,  π_l² = (tr A_l / dim A_l) / (tr G_l / dim G_l)   (§6.3)
 *
 * with λ = damping + s/σp² (the prior's curvature joins the damping, as in NGD). The factors are
 * those of `problem.fisher(θ, { structure: 'kfac' })` (or of `fisherMC` / `empiricalFisher` with
 * `curvature`): A_l = (1/N) Σ ā ā ᵀ (bias coordinate last), G_l = s Σ δ B δᵀ, inverted by
 * {@link kfacInverse}. `init(θ₀)` computes the factors at θ₀ and the first `update` uses them;
 * every `updateEvery` iterations after that they become the running average
 * ema·old + (1 − ema)·new, kept in the state ({@link KfacState}). Cost per step: one forward pass
 * (L, ∇L), plus at refresh steps one factor pass (N·Σ_l (in_l² + K·out_l²) flops), then per layer
 * two Cholesky factorizations ((in+1)³ + out³)/3 and two triangular solves with the gradient
 * matrix. The same `init / update / step / run` surface and run records as the other optimizers;
 * `adaptiveDamping` is not supported.
 * @throws RangeError for a model that is not all dense layers, lr ≤ 0, damping < 0, ema ∉ [0, 1),
 *   updateEvery < 1, an unknown curvature.
 * @example
 * const opt = kfac(p, { lr: 0.5, damping: 1e-3, ema: 0.9 });
 * const rec = opt.run(model.init(0), { iterations: 20 });
 *
 * @category Optimizers
 */
export function kfac(problem: Problem<Dtype>, options: KfacOptions): Optimizer<KfacState> {
  const o = optimizerOptions<KfacOptions>(
    options,
    'kfac',
    ['lr', 'damping', 'curvature', 'ema', 'updateEvery', 'kfacApproximation', 'bias', 'samples', 'seed'],
    'kfac(problem, { lr: 0.5, damping: 1e-3 })',
  );
  const curvature = o.curvature ?? 'fisher';
  if (curvature !== 'fisher' && curvature !== 'fisherMC' && curvature !== 'empiricalFisher')
    throw new RangeError(`natgrad: kfac: curvature must be 'fisher', 'fisherMC' or 'empiricalFisher', got ${String(curvature)}`);
  const ema = checkScalar(o.ema ?? 0.95, 'ema', 'nonnegative');
  if (!(ema < 1)) throw new RangeError(`natgrad: kfac: ema must be in [0, 1), got ${ema}`);
  const updateEvery = checkCount(o.updateEvery, 'kfac: updateEvery', { dflt: 1 });
  if (!isLayered(problem.model) && !problem.model.groups.some((g) => g.kronecker))
    throw new RangeError(`natgrad: kfac needs a layered model (mlp, or a sequential network with dense or conv2d layers); ${problem.model.name} is not`);
  const kf: KfacFactorOptions = {
    ...(o.kfacApproximation !== undefined ? { kfacApproximation: o.kfacApproximation } : {}),
    ...(o.bias !== undefined ? { bias: o.bias } : {}),
  };
  const samples = checkCount(o.samples, 'kfac: samples', { dflt: 1 });
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`natgrad: kfac: seed must be a safe integer, got ${String(seed)}`);
  const groups = problem.model.groups;

  const factorsAt = (p: Problem<Dtype>, theta: Float64Array, iteration: number): (DenseKfacFactors | DenseExactBlock)[] => {
    const raw: KfacLayer[] =
      curvature === 'fisher'
        ? p.fisher(theta, { structure: 'kfac', ...kf })
        : curvature === 'empiricalFisher'
          ? p.empiricalFisher(theta, { structure: 'kfac', ...kf })
          : p.fisherMC(theta, { structure: 'kfac', samples, seed: seed + iteration, ...kf });
    try {
      return raw.map((f) => (f.exact ? { exact: f.exact.toDense() } : { A: f.A.toDense(), G: f.G.toDense(), ...(f.bias ? { bias: f.bias } : {}) }));
    } finally {
      for (const f of raw) {
        if (f.exact) f.exact.free();
        else {
          f.A.free();
          f.G.free();
        }
      }
    }
  };

  return makeOptimizer<KfacState>(
    'KFAC',
    problem,
    { lr: o.lr!, ...(o.damping !== undefined ? { damping: o.damping } : {}) },
    (p, s) => {
      const inv = kfacInverse(s.factors, groups, { damping: s.damping + p.priorCurvature() });
      try {
        return { direction: inv.apply(s.gradient) };
      } finally {
        inv.free();
      }
    },
    false,
    {
      init: (s, p) => ({ ...s, factors: factorsAt(p, s.theta, 0) }),
      // The factors this update uses: refreshed every `updateEvery` iterations as the running average.
      prepare: (p, s) => {
        const old = s.factors;
        if (!Array.isArray(old)) return { ...s, factors: factorsAt(p, s.theta, s.iteration) };
        if (!(s.iteration > 0 && s.iteration % updateEvery === 0)) return s;
        const fresh = factorsAt(p, s.theta, s.iteration);
        const avg = (a: Float64Array, b: Float64Array): Float64Array => {
          const out = new Float64Array(a.length);
          for (let i = 0; i < a.length; i++) out[i] = ema * b[i]! + (1 - ema) * a[i]!;
          return out;
        };
        const factors = fresh.map((f, l) => {
          const prev = old[l]!;
          if (f.exact) return { exact: avg(f.exact, prev.exact!) };
          return { A: avg(f.A, prev.A!), G: avg(f.G, prev.G!), ...(f.bias ? { bias: f.bias } : {}) };
        });
        return { ...s, factors };
      },
    },
  );
}
