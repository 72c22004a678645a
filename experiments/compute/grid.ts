/**
 * The Fig. 3 grid as the experiments use it: the paper's grid from the library's `paperGrid()`
 * (numpy's values, bit for bit), or the `--quick` thinning of it. The search itself is the
 * library's `gridSearch` (see ./fig3.ts).
 *
 * Pure: no Node API; runs in a browser.
 *
 * @module
 */
import { paperGrid, type GridOptimizer } from 'natgrad';

export type { GridOptimizer, GridProgress, GridRun } from 'natgrad';

/** The three optimizers of Fig. 3, in the paper's order. */
export const GRID_OPTIMIZERS: readonly GridOptimizer[] = ['GD', 'NGD', 'EFGD'];

/** The thinning of `--quick`: every 8th step size (one per decade), every 4th damping (one per two decades). */
export const QUICK_STRIDE = { lrs: 8, dampings: 4 } as const;

/**
 * The grid of a run: the paper's full grid (γ ∈ logspace(−20, 10, 241), λ ∈ logspace(−10, 10, 41)),
 * or with `quick` every 8th γ (31 values, 10^−20 … 10^10) and every 4th λ (11 values, 10^−10 … 10^10).
 */
export function experimentGrid(quick: boolean): { lrs: number[]; dampings: number[] } {
  const g = paperGrid();
  const lrs = Array.from(g.lrs),
    dampings = Array.from(g.dampings);
  if (!quick) return { lrs, dampings };
  return { lrs: lrs.filter((_, i) => i % QUICK_STRIDE.lrs === 0), dampings: dampings.filter((_, i) => i % QUICK_STRIDE.dampings === 0) };
}
