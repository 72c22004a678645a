/**
 * `spectra`: eigenvalue densities of ∇²L, the GGN and the EF of the digits MLP
 * ([64, 32, 10], tanh, categorical, all 1797 digits, mean reduction, no prior) at initialization
 * and after full-batch Adam training, by stochastic Lanczos quadrature (matrix-free, seeded
 * Rademacher probes), and the top-k eigenvalues of each by Lanczos.
 *
 * @module
 */
import { categorical, mlp, problem, type DenseMatrix } from 'natgrad';
import { accuracy, adam, curvatureOperator, spectralDensity, topEigenvalues, type Progress } from './lib.js';

export const SPECTRA_KINDS = ['hessian', 'ggn', 'empiricalFisher'] as const;
export type SpectraKind = (typeof SPECTRA_KINDS)[number];

export interface SpectrumAt {
  label: string;
  iteration: number;
  loss: number;
  accuracy: number;
  densities: Record<SpectraKind, { grid: number[]; density: number[]; sigma: number; trace: number; nodes: number[][]; weights: number[][] }>;
  top: Record<SpectraKind, number[]>;
  /** the smallest eigenvalue estimate (Lanczos), to show the Hessian's negative part */
  smallest: Record<SpectraKind, number>;
}

export interface SpectraResult {
  settings: { sizes: number[]; N: number; D: number; iterations: number; lr: number; probes: number; steps: number; k: number };
  points: SpectrumAt[];
}

export function spectraSettings(quick: boolean) {
  return { sizes: [64, 32, 10], iterations: quick ? 60 : 300, lr: 1e-2, probes: quick ? 3 : 8, steps: quick ? 30 : 60, k: 5 };
}

export function spectra(digits: { X: DenseMatrix; y: Float64Array }, quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: Progress): SpectraResult {
  const s = spectraSettings(quick);
  const model = mlp({ sizes: s.sizes, activation: 'tanh' });
  const p = problem({ model, X: digits.X, y: digits.y, likelihood: categorical({ classes: 10 }) });
  const sig = signal ? { signal } : {};
  const total = s.iterations + 2 * SPECTRA_KINDS.length * 2;
  let done = 0;
  const tick = () => onProgress?.({ done: ++done, total });
  try {
    const at = (label: string, iteration: number, theta: Float64Array, loss: number): SpectrumAt => {
      const point: SpectrumAt = {
        label,
        iteration,
        loss,
        accuracy: accuracy(p, digits.X, digits.y, theta),
        densities: {} as SpectrumAt['densities'],
        top: {} as SpectrumAt['top'],
        smallest: {} as SpectrumAt['smallest'],
      };
      for (const kind of SPECTRA_KINDS) {
        const op = curvatureOperator(p, theta, kind === 'empiricalFisher' ? { kind, perSampleBytes: 0 } : { kind });
        const d = spectralDensity(op, { probes: s.probes, steps: s.steps, seed, gridSize: 400, ...sig });
        point.densities[kind] = { grid: [...d.grid], density: [...d.density], sigma: d.sigma, trace: d.trace, nodes: d.nodes.map((v) => [...v]), weights: d.weights.map((v) => [...v]) };
        tick();
        const e = topEigenvalues(op, { k: s.k, which: 'both', maxIterations: Math.min(p.dim, 2 * s.steps), tol: 1e-6, seed, ...sig });
        point.top[kind] = [...e.largest];
        point.smallest[kind] = e.smallest[0]!;
        tick();
      }
      return point;
    };
    const theta0 = model.init(seed);
    const opt = adam(p, { lr: s.lr });
    let state = opt.init(theta0);
    const points = [at('initialization', 0, state.theta, state.loss)];
    for (let k = 0; k < s.iterations; k++) {
      if (signal?.aborted) throw signal.reason;
      state = opt.update(state).state;
      tick();
    }
    points.push(at(`after ${s.iterations} Adam iterations`, s.iterations, state.theta, state.loss));
    return { settings: { sizes: s.sizes, N: digits.X.rows, D: p.dim, iterations: s.iterations, lr: s.lr, probes: s.probes, steps: s.steps, k: s.k }, points };
  } finally {
    p.free();
  }
}
