/**
 * `stochastic`: §5's "interesting avenue" measured — mini-batch optimization with batch sizes
 * {8, 32, 128, N} (sampling without replacement per epoch, seeded; `stochasticRun`), on
 * BreastCancer (standardized, logistic regression), a1a (logistic regression) and the digits
 * (MLP [64, 8, 10], tanh, categorical); mean reduction, prior variance 100 (scaled by N/B on each
 * batch so the batch loss is unbiased). Methods, each with its best step size from a small grid
 * (lowest final full-data loss; λ fixed):
 *
 *     SGD       θ ← θ − γ g_B
 *     EF        θ ← θ − γ (F̃_B + s/σp² I + λI)⁻¹ g_B            (the damped mini-batch EF)
 *     VA-diag   θ ← θ − γ D g_B, D_ii = g_i² / (g_i² + Σ̂_ii/B)   (Schaul et al.; Balles & Hennig)
 *     VA-full   θ ← θ − γ ‖g_B‖² (F̃_B + s/σp² I + λI)⁻¹ g_B      (M of Eq. 19 from the batch)
 *     Adam      square-root EF diagonal with momentum, bias-corrected (β = 0.9, 0.999, ε = 1e-8)
 *     NGD-MC    θ ← θ − γ (F̂_MC,B + s/σp² I + λI)⁻¹ g_B          (one sampled label per point)
 *
 * The x axis is gradient evaluations (samples processed); the full-data loss is evaluated four
 * times per epoch. For B = N the record also states whether the run equals the optimizer's own
 * full-batch `run`, bit for bit.
 *
 * @module
 */
import { bernoulli, categorical, efgd, gd, linear, mlp, ngdMC, problem, type CsrMatrix, type DenseMatrix, type Optimizer, type Problem, type ProblemOptions } from 'natgrad';
import { adam, diagonalVarianceAdapted, fullVarianceAdapted, stochasticRun } from './lib.js';

export const STOCHASTIC_METHODS = ['SGD', 'EF', 'VA-diag', 'VA-full', 'Adam', 'NGD-MC'] as const;
export type StochasticMethod = (typeof STOCHASTIC_METHODS)[number];

export const DAMPING = 1e-2;
export const PRIOR_VARIANCE = 100;

export interface StochasticDataset {
  name: string;
  X: DenseMatrix | CsrMatrix;
  y: Float64Array;
  kind: 'logistic' | 'mlp';
}

export interface StochasticRunResult {
  method: StochasticMethod;
  batchSize: number;
  lr: number;
  status: string;
  losses: number[];
  evaluations: number[];
  grid: { lr: number; finalLoss: number; status: string }[];
  /** B = N only: whether the iterates equal the full-batch `run`'s, bit for bit */
  fullBatchIdentical?: boolean;
}

export interface StochasticPanel {
  name: string;
  N: number;
  D: number;
  epochs: number;
  batchSizes: number[];
  runs: StochasticRunResult[];
}

export function stochasticSettings(quick: boolean) {
  return {
    epochs: { BreastCancer: quick ? 2 : 10, a1a: quick ? 1 : 5, Digits: quick ? 1 : 3 } as Record<string, number>,
    batchSizes: [8, 32, 128, Infinity],
    lrs: {
      SGD: quick ? [0.1, 1] : [0.01, 0.1, 1],
      EF: quick ? [0.1, 1] : [0.01, 0.1, 1],
      'VA-diag': quick ? [0.1, 1] : [0.01, 0.1, 1],
      'VA-full': quick ? [1, 10] : [0.1, 1, 10],
      Adam: quick ? [1e-2, 1e-1] : [1e-3, 1e-2, 1e-1],
      'NGD-MC': quick ? [0.1, 1] : [0.01, 0.1, 1],
    } as Record<StochasticMethod, number[]>,
  };
}

function spec(d: StochasticDataset): ProblemOptions {
  const cols = d.X.cols;
  if (d.kind === 'logistic') return { model: linear({ inputs: cols, bias: true }), X: d.X, y: d.y, likelihood: bernoulli(), priorVariance: PRIOR_VARIANCE };
  return { model: mlp({ sizes: [cols, 8, 10], activation: 'tanh' }), X: d.X, y: d.y, likelihood: categorical({ classes: 10 }), priorVariance: PRIOR_VARIANCE };
}

function maker(method: StochasticMethod, lr: number, B: number, seed: number): (p: Problem) => Optimizer {
  return (p) => {
    const solver = B < 64 && p.dim > 200 ? ('cg' as const) : ('cholesky' as const);
    switch (method) {
      case 'SGD':
        return gd(p, { lr });
      case 'EF':
        return efgd(p, { lr, damping: DAMPING, solver });
      case 'VA-diag':
        return diagonalVarianceAdapted(p, { lr });
      case 'VA-full':
        return fullVarianceAdapted(p, { lr, damping: DAMPING, solver });
      case 'Adam':
        return adam(p, { lr });
      case 'NGD-MC':
        return ngdMC(p, { lr, damping: DAMPING, seed, solver });
    }
  };
}

export function stochasticRunCount(quick: boolean, datasets: number): number {
  const s = stochasticSettings(quick);
  return datasets * s.batchSizes.length * STOCHASTIC_METHODS.reduce((n, m) => n + s.lrs[m].length, 0);
}

/** One data set: every method × batch size × step size. */
export function stochasticPanel(d: StochasticDataset, quick: boolean, seed = 0, signal?: AbortSignal, onRun?: () => void): StochasticPanel {
  const s = stochasticSettings(quick);
  const epochs = s.epochs[d.name] ?? 1;
  const sp = spec(d);
  const N = d.X.rows;
  const theta0 = d.kind === 'mlp' ? (sp.model as ReturnType<typeof mlp>).init(seed) : new Float64Array(sp.model.dim);
  const panel: StochasticPanel = { name: d.name, N, D: sp.model.dim, epochs, batchSizes: s.batchSizes.map((b) => Math.min(b, N)), runs: [] };
  for (const B0 of s.batchSizes) {
    const B = Math.min(B0, N);
    for (const method of STOCHASTIC_METHODS) {
      let best: { rec: ReturnType<typeof stochasticRun>; lr: number; final: number } | undefined;
      const grid: StochasticRunResult['grid'] = [];
      for (const lr of s.lrs[method]) {
        if (signal?.aborted) throw signal.reason;
        const rec = stochasticRun(sp, maker(method, lr, B, seed), theta0, {
          batchSize: B,
          epochs,
          seed,
          evaluationsPerEpoch: 4,
          divergenceFactor: 10,
          ...(signal ? { signal } : {}),
          recordTheta: B === N,
        });
        const final = rec.status === 'ok' ? rec.losses.at(-1)! : Infinity;
        grid.push({ lr, finalLoss: rec.losses.at(-1)!, status: rec.status });
        if (!best || final < best.final) best = { rec, lr, final };
        onRun?.();
      }
      const b = best!;
      const out: StochasticRunResult = { method, batchSize: B, lr: b.lr, status: b.rec.status, losses: b.rec.losses, evaluations: b.rec.evaluations, grid };
      if (B === N) {
        const p = problem(sp);
        try {
          const ref = maker(method, b.lr, B, seed)(p).run(theta0, { iterations: epochs, divergenceFactor: 10, record: { theta: true } });
          const th = b.rec.thetas ?? [];
          out.fullBatchIdentical = th.length === ref.thetas!.length - 1 && th.every((t, k) => t.every((v, i) => Object.is(v, ref.thetas![k + 1]![i])));
        } finally {
          p.free();
        }
      }
      panel.runs.push(out);
    }
  }
  return panel;
}
