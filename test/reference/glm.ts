/**
 * Plain-TypeScript reference for the linear model with exponential-family likelihoods:
 * per-sample quantities by direct formulas (no WASM, no blocking), dense curvature as
 * s·Σ_n J_nᵀ B_n J_n with J_n = I_M ⊗ x_nᵀ built explicitly.
 */
export type RefLik = { name: 'gaussian'; variance: number } | { name: 'bernoulli'; clip: number } | { name: 'categorical'; classes: number } | { name: 'poisson' };

export interface RefProblem {
  X: number[][]; // N × d (bias included)
  y: number[];
  lik: RefLik;
  priorVariance: number;
  scale: number; // s
}

const M = (p: RefProblem) => (p.lik.name === 'categorical' ? p.lik.classes : 1);

function sigmoidClipped(z: number, clip: number): number {
  const s = 1 / (1 + Math.exp(-z));
  return clip > 0 ? Math.min(Math.max(s, clip), 1 - clip) : s;
}

/** f_n (length M) for θ class-major. */
export function forwardRef(p: RefProblem, theta: ArrayLike<number>, n: number): number[] {
  const d = p.X[0]!.length;
  return Array.from({ length: M(p) }, (_, k) => p.X[n]!.reduce((s, x, j) => s + x * theta[k * d + j]!, 0));
}

/** ℓ_n, r_n, Λ_n (M × M) for one sample. */
export function sampleRef(p: RefProblem, f: number[], y: number): { loss: number; r: number[]; lam: number[][] } {
  const lik = p.lik;
  switch (lik.name) {
    case 'gaussian':
      return { loss: (f[0]! - y) ** 2 / (2 * lik.variance), r: [(f[0]! - y) / lik.variance], lam: [[1 / lik.variance]] };
    case 'bernoulli': {
      const s = sigmoidClipped(f[0]!, lik.clip),
        sb = sigmoidClipped(-f[0]!, lik.clip);
      return { loss: -y * Math.log(s) - (1 - y) * Math.log(sb), r: [s - y], lam: [[s * (1 - s)]] };
    }
    case 'poisson': {
      const e = Math.exp(f[0]!);
      return { loss: e - y * f[0]!, r: [e - y], lam: [[e]] };
    }
    case 'categorical': {
      const m = Math.max(...f);
      const z = f.reduce((s, v) => s + Math.exp(v - m), 0);
      const pr = f.map((v) => Math.exp(v - m) / z);
      return {
        loss: m + Math.log(z) - f[y]!,
        r: pr.map((v, k) => v - (k === y ? 1 : 0)),
        lam: pr.map((a, i) => pr.map((b, j) => (i === j ? a : 0) - a * b)),
      };
    }
  }
}

export function lossRef(p: RefProblem, theta: ArrayLike<number>): number {
  let s = 0;
  for (let n = 0; n < p.X.length; n++) s += sampleRef(p, forwardRef(p, theta, n), p.y[n]!).loss;
  let t = 0;
  for (let i = 0; i < theta.length; i++) t += theta[i]! ** 2;
  return p.scale * (s + (p.priorVariance === Infinity ? 0 : t / (2 * p.priorVariance)));
}

/** J_n as an M × D matrix. */
function jacobian(p: RefProblem, n: number): number[][] {
  const d = p.X[0]!.length,
    m = M(p);
  return Array.from({ length: m }, (_, k) => Array.from({ length: m * d }, (_, c) => (Math.floor(c / d) === k ? p.X[n]![c % d]! : 0)));
}

export function perSampleGradientsRef(p: RefProblem, theta: ArrayLike<number>): number[][] {
  return p.X.map((_, n) => {
    const J = jacobian(p, n),
      r = sampleRef(p, forwardRef(p, theta, n), p.y[n]!).r;
    return J[0]!.map((_, c) => J.reduce((s, row, k) => s + row[c]! * r[k]!, 0));
  });
}

export function gradientRef(p: RefProblem, theta: ArrayLike<number>): number[] {
  const G = perSampleGradientsRef(p, theta);
  return G[0]!.map((_, c) => p.scale * (G.reduce((s, g) => s + g[c]!, 0) + (p.priorVariance === Infinity ? 0 : theta[c]! / p.priorVariance)));
}

/** s · Σ_n J_nᵀ B_n J_n (+ prior·I), full D × D row-major. kind: fisher (B = Λ) or ef (B = r rᵀ). */
export function curvatureRef(p: RefProblem, theta: ArrayLike<number>, kind: 'fisher' | 'ef', prior = 0): Float64Array {
  const D = theta.length;
  const C = new Float64Array(D * D);
  for (let n = 0; n < p.X.length; n++) {
    const J = jacobian(p, n),
      q = sampleRef(p, forwardRef(p, theta, n), p.y[n]!);
    const B = kind === 'fisher' ? q.lam : q.r.map((a) => q.r.map((b) => a * b));
    for (let i = 0; i < D; i++)
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let a = 0; a < J.length; a++) for (let b = 0; b < J.length; b++) s += J[a]![i]! * B[a]![b]! * J[b]![j]!;
        C[i * D + j]! += p.scale * s;
      }
  }
  for (let i = 0; i < D; i++) C[i * D + i]! += prior;
  return C;
}
