/**
 * `prop2`: Proposition 2 measured on networks. For MLP regression (Gaussian likelihood, σ² = 1,
 * mean reduction, no prior) trained by NGD (= damped Gauss–Newton, Levenberg–Marquardt control of
 * λ), at every iterate θ_k:
 *
 *     gap_k      = ‖∇²L(θ_k) − G(θ_k)‖₂ = max(|λ_max|, |λ_min|) of the residual term
 *                  (1/N) Σ_n r_n ∇²f_n, by Lanczos at both ends of its spectrum (matrix-free);
 *     residual_k = r(θ_k) = Σ_n ‖∇_f log p(y_n | f_n)‖₁ = Σ_n |f_n − y_n| / σ²   (and /N);
 *     loss_k     = L(θ_k).
 *
 * Prop. 2 bounds the gap by (1/N)·r(θ)·max_n ‖∇²f_n‖₂: it shrinks with the residuals, and is
 * zero where the model interpolates. The data: a synthetic 1-D sine set (`sineData`, shipped) and
 * UCI sets (Yacht, Energy) standardized (inputs and targets).
 *
 * @module
 */
import { gaussian, mlp, ngd, problem, type DenseMatrix } from 'natgrad';
import { difference, outputs, sineData, standardizeColumns, standardizeVector, topEigenvalues, type Progress } from './lib.js';

/** One data set's series (every recorded iterate). */
export interface Prop2Panel {
  name: string;
  N: number;
  sizes: number[];
  D: number;
  iterations: number[];
  loss: number[];
  gap: number[];
  /** Lanczos residual bound of each gap (both ends: the larger). */
  gapResidual: number[];
  residual: number[];
  /** residual / N: the factor of Prop. 2's bound with the mean reduction. */
  meanResidual: number[];
  /** λ of the LM-controlled NGD at each step. */
  dampings: number[];
  status: string;
}

export interface Prop2Result {
  panels: Prop2Panel[];
  settings: { width: number; iterations: number; lr: number; damping: number; activation: string };
}

export interface Prop2Data {
  name: string;
  X: DenseMatrix;
  y: Float64Array;
}

/** The shipped synthetic panel: sineData({ n, seed }). */
export function sinePanelData(quick: boolean, seed = 0): Prop2Data {
  const d = sineData({ n: quick ? 100 : 200, seed, noise: 0.1 });
  return { name: 'Sine (synthetic)', X: d.X, y: d.y };
}

/** A UCI panel: inputs and targets standardized. */
export function uciPanelData(name: string, X: DenseMatrix, y: Float64Array): Prop2Data {
  return { name, X: standardizeColumns(X), y: standardizeVector(y) };
}

export function prop2Settings(quick: boolean) {
  return { width: 16, iterations: quick ? 12 : 40, lr: 1, damping: 1e-2, activation: 'tanh' as const };
}

/** Train one panel and measure the series (see the module documentation). */
export function prop2Panel(data: Prop2Data, quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: Progress): Prop2Panel {
  const s = prop2Settings(quick);
  const sizes = [data.X.cols, s.width, 1];
  const model = mlp({ sizes, activation: s.activation });
  const p = problem({ model, X: data.X, y: data.y, likelihood: gaussian({ variance: 1 }) });
  try {
    const rec = ngd(p, { lr: s.lr, damping: s.damping, adaptiveDamping: true }).run(model.init(seed), { iterations: s.iterations, record: { theta: true } });
    const out: Prop2Panel = {
      name: data.name,
      N: data.X.rows,
      sizes,
      D: p.dim,
      iterations: [],
      loss: [],
      gap: [],
      gapResidual: [],
      residual: [],
      meanResidual: [],
      dampings: rec.dampings,
      status: rec.status,
    };
    const thetas = rec.thetas!;
    thetas.forEach((theta, k) => {
      if (signal?.aborted) throw signal.reason;
      const R = difference(
        p.dim,
        (v) => p.hessianVectorProduct(theta, v),
        (v) => p.ggnVectorProduct(theta, v),
      );
      const e = topEigenvalues(R, { k: 1, which: 'both', tol: 1e-8, maxIterations: Math.min(p.dim, 80), seed: k, ...(signal ? { signal } : {}) });
      const f = outputs(p, data.X, theta);
      let r = 0;
      for (let n = 0; n < data.X.rows; n++) r += Math.abs(f[n]! - data.y[n]!);
      out.iterations.push(k);
      out.loss.push(rec.losses[k]!);
      out.gap.push(Math.max(Math.abs(e.largest[0]!), Math.abs(e.smallest[0]!)));
      out.gapResidual.push(Math.max(...e.residuals));
      out.residual.push(r);
      out.meanResidual.push(r / data.X.rows);
      onProgress?.({ done: k + 1, total: thetas.length });
    });
    return out;
  } finally {
    p.free();
  }
}
