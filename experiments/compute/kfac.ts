/**
 * `kfac`: KFAC with the Fisher's, the one-sample MC Fisher's and the EF's Kronecker factors,
 * beside Adam, GD and NGD by truncated CG on the Fisher (Hessian-free), on the digits MLP
 * ([64, 32, 10], tanh, categorical, all 1797 digits, mean reduction, no prior), full batch. Each
 * method gets its best (γ, λ) from a small grid run by natgrad's `gridSearch` on the worker pool
 * (`workers` threads; the same results for any number): the lowest final loss, a run that fails or
 * whose loss exceeds 10× the initial one loses (`gridSearch`'s status `'diverged'`). The best
 * configuration is then run once more in this thread with its iterates and directions recorded
 * (the same arithmetic: its losses are the grid run's, checked). Along each best run: training loss and accuracy per
 * iteration; for the KFAC runs, at checkpoints, the cosine between the KFAC direction and the
 * exact damped natural gradient (F + λI)⁻¹∇L (CG on the matrix-free Fisher, same λ) — Fig. 3's
 * question asked of KFAC.
 *
 * @module
 */
import { categorical, gd, gridSearch, mlp, problem, type DenseMatrix, type GridMethod, type GridRun, type Optimizer, type Problem } from 'natgrad';
import { accuracy, adam, cg, checkpoints, cos, curvatureOperator, hessianFree, kfac, type Progress } from './lib.js';

export const KFAC_METHODS = ['KFAC (Fisher)', 'KFAC (MC Fisher)', 'KFAC (EF)', 'Adam', 'GD', 'NGD-CG (HF)'] as const;
export type KfacMethod = (typeof KFAC_METHODS)[number];

/** Each method's name in `gridSearch` (HF there runs CG on the Fisher, `optimizerSettings.hf.curvature`). */
const GRID_NAME: Record<KfacMethod, GridMethod> = {
  'KFAC (Fisher)': 'KFAC',
  'KFAC (MC Fisher)': 'KFAC-MC',
  'KFAC (EF)': 'KFAC-EF',
  Adam: 'Adam',
  GD: 'GD',
  'NGD-CG (HF)': 'HF',
};

export interface KfacMethodResult {
  name: KfacMethod;
  lr: number;
  damping: number | null;
  status: string;
  loss: number[];
  accuracy: number[];
  /** KFAC only: checkpoint iterations, cos(d_KFAC, (F + λI)⁻¹∇L), and CG's final relative residual */
  cosine?: { iterations: number[]; cosine: number[]; cgResidual: number[] };
  grid: { lr: number; damping: number | null; finalLoss: number; status: string }[];
}

export interface KfacResult {
  settings: { sizes: number[]; N: number; D: number; iterations: number; ema: number; cgIterations: number };
  methods: KfacMethodResult[];
}

export function kfacSettings(quick: boolean) {
  return {
    sizes: [64, 32, 10],
    iterations: quick ? 15 : 60,
    ema: 0.95,
    hfCg: quick ? 10 : 20,
    cosinePoints: quick ? 3 : 6,
    exactCg: quick ? 80 : 300,
    grid: {
      kfac: { lrs: quick ? [0.1, 0.3] : [0.03, 0.1, 0.3, 1], dampings: quick ? [1e-2, 1e-1] : [1e-3, 1e-2, 1e-1] },
      adam: { lrs: quick ? [3e-3, 1e-2] : [1e-3, 3e-3, 1e-2, 3e-2] },
      gd: { lrs: quick ? [1, 3] : [0.3, 1, 3] },
      hf: { lrs: quick ? [1] : [0.3, 1], dampings: quick ? [1e-1, 1] : [1e-2, 1e-1, 1] },
    },
  };
}

function make(name: KfacMethod, p: Problem, lr: number, damping: number | null, s: ReturnType<typeof kfacSettings>, seed: number): Optimizer {
  switch (name) {
    case 'KFAC (Fisher)':
      return kfac(p, { lr, damping: damping!, curvature: 'fisher', ema: s.ema });
    case 'KFAC (MC Fisher)':
      return kfac(p, { lr, damping: damping!, curvature: 'fisherMC', ema: s.ema, seed });
    case 'KFAC (EF)':
      return kfac(p, { lr, damping: damping!, curvature: 'empiricalFisher', ema: s.ema });
    case 'Adam':
      return adam(p, { lr });
    case 'GD':
      return gd(p, { lr });
    case 'NGD-CG (HF)':
      return hessianFree(p, { lr, damping: damping!, curvature: 'fisher', cg: { maxIterations: s.hfCg, tol: 1e-6 } });
  }
}

function configs(name: KfacMethod, s: ReturnType<typeof kfacSettings>): { lr: number; damping: number | null }[] {
  const g = s.grid;
  if (name.startsWith('KFAC')) return g.kfac.lrs.flatMap((lr) => g.kfac.dampings.map((damping) => ({ lr, damping })));
  if (name === 'Adam') return g.adam.lrs.map((lr) => ({ lr, damping: null }));
  if (name === 'GD') return g.gd.lrs.map((lr) => ({ lr, damping: null }));
  return g.hf.lrs.flatMap((lr) => g.hf.dampings.map((damping) => ({ lr, damping })));
}

/** Number of optimizer runs the grid does (for progress bars). */
export function kfacRunCount(quick: boolean): number {
  const s = kfacSettings(quick);
  return KFAC_METHODS.reduce((n, m) => n + configs(m, s).length, 0);
}

/** The grids, as `gridSearch` calls: the methods that share a grid run in one search. */
function searches(s: ReturnType<typeof kfacSettings>): { methods: KfacMethod[]; lrs: number[]; dampings?: number[] }[] {
  const g = s.grid;
  return [
    { methods: ['KFAC (Fisher)', 'KFAC (MC Fisher)', 'KFAC (EF)'], lrs: g.kfac.lrs, dampings: g.kfac.dampings },
    { methods: ['Adam'], lrs: g.adam.lrs },
    { methods: ['GD'], lrs: g.gd.lrs },
    { methods: ['NGD-CG (HF)'], lrs: g.hf.lrs, dampings: g.hf.dampings },
  ];
}

/**
 * The experiment. `workers`: threads of the grid searches (default 1; `natgrad reproduce` passes
 * its `--workers`); the results do not depend on it.
 */
export async function kfacExperiment(digits: { X: DenseMatrix; y: Float64Array }, quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: Progress, workers = 1): Promise<KfacResult> {
  const s = kfacSettings(quick);
  const model = mlp({ sizes: s.sizes, activation: 'tanh' });
  const p = problem({ model, X: digits.X, y: digits.y, likelihood: categorical({ classes: 10 }) });
  const theta0 = model.init(seed);
  const total = kfacRunCount(quick);
  const methods: KfacMethodResult[] = [];
  try {
    // The grids: every (γ, λ) of every method, by gridSearch (on `workers` threads).
    const gridRuns = new Map<KfacMethod, GridRun[]>();
    let done = 0;
    for (const g of searches(s)) {
      if (signal?.aborted) throw signal.reason;
      const before = done;
      const res = await gridSearch({
        problem: p,
        optimizers: g.methods.map((m) => GRID_NAME[m]),
        lrs: g.lrs,
        ...(g.dampings ? { dampings: g.dampings } : {}),
        iterations: s.iterations,
        divergenceFactor: 10,
        theta0,
        workers,
        optimizerSettings: { kfac: { ema: s.ema, seed }, hf: { curvature: 'fisher', cg: { maxIterations: s.hfCg, tol: 1e-6 } } },
        ...(signal ? { signal } : {}),
        onProgress: (q) => {
          done = before + q.done;
          onProgress?.({ done, total });
        },
      }).catch((e: unknown) => {
        // Cancelled: the signal's own reason, as the in-process loop threw (reproduce keeps the partial JSON).
        throw signal?.aborted ? signal.reason : e;
      });
      for (const m of g.methods)
        gridRuns.set(
          m,
          res.runs.filter((r) => r.optimizer === GRID_NAME[m]),
        );
    }
    for (const name of KFAC_METHODS) {
      const runs = gridRuns.get(name)!;
      // Statuses in the optimizers' words, as `status` of the best run ('stopped' = gridSearch's 'diverged').
      const grid: KfacMethodResult['grid'] = runs.map((r) => ({ lr: r.lr, damping: r.damping, finalLoss: r.losses.at(-1)!, status: r.status === 'diverged' ? 'stopped' : r.status }));
      // Lowest final loss among the runs that end 'ok' (the first configuration when none does).
      let pick = runs[0]!;
      let final = Infinity;
      for (const r of runs)
        if (r.status === 'ok' && r.losses.at(-1)! < final) {
          final = r.losses.at(-1)!;
          pick = r;
        }
      if (signal?.aborted) throw signal.reason;
      const rec = make(name, p, pick.lr, pick.damping, s, seed).run(theta0, { iterations: s.iterations, divergenceFactor: 10, record: { theta: true, direction: true } });
      if (rec.losses.length !== pick.losses.length || rec.losses.some((l, k) => !Object.is(l, pick.losses[k])))
        throw new Error(`kfac: ${name} γ = ${pick.lr}, λ = ${pick.damping}: the recorded run differs from gridSearch's`);
      const b = { rec, lr: pick.lr, damping: pick.damping };
      const r: KfacMethodResult = {
        name,
        lr: b.lr,
        damping: b.damping,
        status: b.rec.status,
        loss: b.rec.losses,
        accuracy: (b.rec.thetas ?? []).map((t) => accuracy(p, digits.X, digits.y, t)),
        grid,
      };
      if (name.startsWith('KFAC') && b.rec.directions && b.rec.directions.length > 0) {
        const K = b.rec.directions.length;
        const its = checkpoints(K - 1, s.cosinePoints);
        const cosine = { iterations: [] as number[], cosine: [] as number[], cgResidual: [] as number[] };
        for (const k of its) {
          if (signal?.aborted) throw signal.reason;
          const theta = b.rec.thetas![k]!;
          const g = p.gradient(theta);
          const F = curvatureOperator(p, theta, { kind: 'fisher' });
          const x = cg(F, g, { damping: b.damping! + p.priorCurvature(), tol: 1e-8, maxIterations: s.exactCg, ...(signal ? { signal } : {}) });
          cosine.iterations.push(k);
          cosine.cosine.push(cos(b.rec.directions[k]!, x.x));
          cosine.cgResidual.push(x.residual);
        }
        r.cosine = cosine;
      }
      methods.push(r);
    }
    return { settings: { sizes: s.sizes, N: digits.X.rows, D: p.dim, iterations: s.iterations, ema: s.ema, cgIterations: s.hfCg }, methods };
  } finally {
    p.free();
  }
}
