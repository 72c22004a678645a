/**
 * One-off search for the Fig. 3 defaults of the web page (web/src/best.ts), with the
 * experiments' grid search (experiments/compute/fig3.ts `fig3Dataset`: the paper's grid
 * γ ∈ logspace(−20, 10, 241) × λ ∈ logspace(−10, 10, 41), GD without λ, θ0 = 0, no prior,
 * 100 iterations, a run stops once its loss exceeds 100 × its initial loss, best = lowest last
 * loss). Needs the library built (`npm run build`: it imports `natgrad` as the experiments do).
 *
 *   node --experimental-wasm-relaxed-simd --import tsx web/scripts/best-hyperparameters.mts [BreastCancer|Wine]
 *
 * Prints one JSON line per data set and optimizer; paste them into web/src/best.ts.
 */
import { readFileSync } from 'node:fs';
import { init, parseSklearnCsv } from 'natgrad';
import { fig3Dataset, fig3Summary, paperGrid } from '../../experiments/compute/index.ts';

const root = new URL('../../', import.meta.url);
const { variant } = await init();
const sets = [
  { name: 'BreastCancer', file: 'data/breast_cancer.csv', likelihood: 'bernoulli' },
  { name: 'Wine', file: 'data/wine_data.csv', likelihood: 'gaussian' },
] as const;

const only = process.argv[2];
for (const spec of sets) {
  if (only && only !== spec.name) continue;
  const { X, y } = parseSklearnCsv(readFileSync(new URL(spec.file, root), 'utf8'), spec.file);
  const r = await fig3Dataset(spec, X, y, { ...paperGrid() });
  for (const line of fig3Summary(r)) console.error(line);
  for (const [optimizer, b] of Object.entries(r.best)) {
    console.log(JSON.stringify({ set: spec.name, variant, engine: r.engine, optimizer, lr: b.lr, damping: b.damping ?? 0, loss: b.losses[b.losses.length - 1] }));
  }
}
