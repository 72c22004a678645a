// The paper's Fig. 3 protocol on Wine (shipped with natgrad): every step size × damping of the
// paper's grid for GD, NGD and EFGD, 100 iterations from θ0 = 0, runs stopped once their loss
// exceeds 100 × the initial loss; the best run per optimizer has the lowest last loss.
import { init, linearProblem, gaussian, gridSearch, paperGrid, loadPaperDataset, addBias, ngd } from 'natgrad';

await init();
const { X, y } = await loadPaperDataset('Wine', new URL('../data/', import.meta.url));
const problem = linearProblem({ X: addBias(X), y, likelihood: gaussian() }); // mean loss, no prior
const { lrs, dampings } = paperGrid(); // numpy's exact values
const { runs, best, seconds } = await gridSearch({ problem, lrs, dampings, workers: 2 });
console.log(`${runs.length} runs in ${seconds.toFixed(2)} s`);
for (const [name, run] of Object.entries(best)) {
  const exp = (v) => (v === null ? '—' : `10^${Math.log10(v).toFixed(3)}`);
  console.log(`${name.padEnd(4)} γ = ${exp(run.lr)}  λ = ${exp(run.damping)}  last loss ${run.losses.at(-1).toPrecision(6)}`);
}
// The same best NGD run through the optimizer API, step by step, gives the same losses:
const rec = ngd(problem, { lr: best.NGD.lr, damping: best.NGD.damping }).run(new Float64Array(problem.dim), { iterations: 100, divergenceFactor: 100 });
console.log('ngd(...).run(): last loss', rec.losses.at(-1).toPrecision(6), rec.status);
