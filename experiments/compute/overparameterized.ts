/**
 * `overparameterized`: §4.2's claim measured. At a minimum where the model interpolates, every
 * per-sample gradient g_n vanishes, so the empirical Fisher F̃ = (1/N) Σ g_n g_nᵀ goes to zero,
 * while the GGN (1/N) Σ J_nᵀ Λ_n J_n need not (Λ_n → 0 only as the predictions saturate).
 *
 * Three configurations on the digits (categorical likelihood, mean reduction, no prior), all
 * trained by full-batch Adam from the same seed: an MLP that can interpolate (200 digits), a
 * linear model on the same 200, and the MLP on all 1797. At checkpoints along training:
 * tr GGN and tr F̃ exactly (the sum of the exact diagonals), tr ∇²L = tr GGN + tr(∇²L − GGN) with
 * the residual part by Hutchinson (its standard error reported), the top eigenvalue of each by
 * Lanczos, the EF/GGN trace ratio, the loss and the training accuracy.
 *
 * @module
 */
import { categorical, linear, mlp, problem, type DenseMatrix, type Problem } from 'natgrad';
import { accuracy, adam, checkpoints, curvatureOperator, difference, head, topEigenvalues, traceEstimate, type Progress } from './lib.js';

export interface OverparamConfig {
  name: string;
  model: 'mlp' | 'linear';
  N: number;
  interpolating: boolean;
}

export interface OverparamSeries {
  name: string;
  model: string;
  N: number;
  D: number;
  sizes: number[];
  iterations: number[];
  loss: number[];
  accuracy: number[];
  trace: { hessian: number[]; hessianStandardError: number[]; ggn: number[]; ef: number[] };
  top: { hessian: number[]; ggn: number[]; ef: number[] };
  /** tr F̃ / tr GGN at each checkpoint. */
  ratio: number[];
  finalRatio: number;
}

export interface OverparamResult {
  settings: { width: number; iterations: number; lr: number; probes: number; lanczosSteps: number };
  series: OverparamSeries[];
}

export function overparamSettings(quick: boolean) {
  return { width: quick ? 64 : 256, iterations: quick ? 40 : 300, lr: 3e-3, probes: quick ? 3 : 10, lanczosSteps: quick ? 8 : 20, checkpoints: quick ? 4 : 7 };
}

export const OVERPARAM_CONFIGS: readonly OverparamConfig[] = [
  { name: 'MLP, 200 digits', model: 'mlp', N: 200, interpolating: true },
  { name: 'linear, 200 digits', model: 'linear', N: 200, interpolating: false },
  { name: 'MLP, 1797 digits', model: 'mlp', N: 1797, interpolating: false },
];

/** Log-spaced checkpoints 0, …, iterations. */
function logCheckpoints(n: number, count: number): number[] {
  const pts = new Set<number>([0, n]);
  for (let i = 1; i < count - 1; i++) pts.add(Math.round(Math.exp((Math.log(n + 1) * i) / (count - 1)) - 1));
  return [...pts].sort((a, b) => a - b);
}

function measure(p: Problem, theta: Float64Array, probes: number, steps: number, seed: number, signal?: AbortSignal) {
  const sig = signal ? { signal } : {};
  const ggn = curvatureOperator(p, theta, { kind: 'ggn' });
  const ef = curvatureOperator(p, theta, { kind: 'empiricalFisher', perSampleBytes: 0 });
  const H = curvatureOperator(p, theta, { kind: 'hessian' });
  const sum = (d: Float64Array) => d.reduce((a, b) => a + b, 0);
  const trG = sum(ggn.diagonal()),
    trF = sum(ef.diagonal());
  const R = difference(
    p.dim,
    (v) => H.matvec(v),
    (v) => ggn.matvec(v),
  );
  const tR = traceEstimate(R, { probes, seed, ...sig });
  const top = (op: { dim: number; matvec(v: Float64Array): Float64Array }) => topEigenvalues(op, { k: 1, maxIterations: Math.min(steps, p.dim), tol: 1e-4, seed, ...sig }).largest[0]!;
  return { trH: trG + tR.estimate, trHse: tR.standardError, trG, trF, topH: top(H), topG: top(ggn), topF: top(ef) };
}

/** Train one configuration and measure it at the checkpoints. */
export function overparamSeries(cfg: OverparamConfig, digits: { X: DenseMatrix; y: Float64Array }, quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: Progress): OverparamSeries {
  const s = overparamSettings(quick);
  const { X, y } = head(digits.X, digits.y, cfg.N);
  const sizes = cfg.model === 'mlp' ? [64, s.width, 10] : [64, 10];
  const model = cfg.model === 'mlp' ? mlp({ sizes, activation: 'tanh' }) : linear({ inputs: 64, outputs: 10, bias: true });
  const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }) });
  try {
    const theta0 = cfg.model === 'mlp' ? (model as ReturnType<typeof mlp>).init(seed) : new Float64Array(p.dim);
    const checks = logCheckpoints(s.iterations, s.checkpoints);
    const out: OverparamSeries = {
      name: cfg.name,
      model: cfg.model,
      N: cfg.N,
      D: p.dim,
      sizes,
      iterations: [],
      loss: [],
      accuracy: [],
      trace: { hessian: [], hessianStandardError: [], ggn: [], ef: [] },
      top: { hessian: [], ggn: [], ef: [] },
      ratio: [],
      finalRatio: NaN,
    };
    const opt = adam(p, { lr: s.lr });
    let state = opt.init(theta0);
    for (let k = 0; k <= s.iterations; k++) {
      if (signal?.aborted) throw signal.reason;
      if (checks.includes(k)) {
        const m = measure(p, state.theta, s.probes, s.lanczosSteps, seed + k, signal);
        out.iterations.push(k);
        out.loss.push(state.loss);
        out.accuracy.push(accuracy(p, X, y, state.theta));
        out.trace.hessian.push(m.trH);
        out.trace.hessianStandardError.push(m.trHse);
        out.trace.ggn.push(m.trG);
        out.trace.ef.push(m.trF);
        out.top.hessian.push(m.topH);
        out.top.ggn.push(m.topG);
        out.top.ef.push(m.topF);
        out.ratio.push(m.trF / m.trG);
      }
      onProgress?.({ done: k + 1, total: s.iterations + 1 });
      if (k < s.iterations) state = opt.update(state).state;
    }
    out.finalRatio = out.ratio.at(-1)!;
    return out;
  } finally {
    p.free();
  }
}

export { checkpoints };
