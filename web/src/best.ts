/**
 * Default step sizes and dampings of the optimizer race (Fig. 3): the best run of each
 * optimizer on the paper's grid, obtained once with the experiments' grid search
 * (experiments/compute/fig3.ts `fig3Dataset`, serial engine, 20,003 runs per data set):
 *
 *   npm run build && node --experimental-wasm-relaxed-simd --import tsx web/scripts/best-hyperparameters.mts
 *
 * (natgrad 0.1.0, relaxed-SIMD core, Node 20, 2026-11-27): γ ∈ numpy.logspace(−20, 10, 241) and
 * λ ∈ numpy.logspace(−10, 10, 41) (GD has no λ), θ0 = 0, no prior, 100 iterations, a run stops
 * once its loss exceeds 100 × its initial loss, best = lowest last loss (first in grid order on
 * ties: on Wine, NGD ties with other (γ, λ) at the optimum).
 *
 * `loss` is the last loss of that run in the search. GD and NGD reproduce it to rounding; the
 * best EFGD run on BreastCancer (λ = 1e-10) is chaotic, and its last loss moves with the last bit
 * of the kernels (the SIMD and relaxed-SIMD cores, or two library versions, end 50 % apart).
 */
export type RaceSet = 'BreastCancer' | 'Wine';
export interface Best {
  /** step size γ */
  lr: number;
  /** damping λ (0 for GD) */
  damping: number;
  /** the last loss of this run in the search */
  loss: number;
}

export const BEST: Readonly<Record<RaceSet, Readonly<Record<'GD' | 'NGD' | 'EFGD', Best>>>> = {
  BreastCancer: {
    GD: { lr: 0.000007498942093324558, damping: 0, loss: 0.46474235936287095 }, // 10^-5.125
    NGD: { lr: 1.333521432163324, damping: 1e-10, loss: 0.0005158319092643158 }, // 10^0.125, 10^-10
    EFGD: { lr: 0.07498942093324558, damping: 1e-10, loss: 0.009949773155929242 }, // 10^-1.125, 10^-10
  },
  Wine: {
    GD: { lr: 0.0000023713737056616552, damping: 0, loss: 0.36259078437694825 }, // 10^-5.625
    NGD: { lr: 0.5623413251903491, damping: 0.001, loss: 0.029838693732922212 }, // 10^-0.25, 10^-3
    EFGD: { lr: 0.042169650342858224, damping: 0.000001, loss: 0.02983869373304788 }, // 10^-1.375, 10^-6
  },
};
