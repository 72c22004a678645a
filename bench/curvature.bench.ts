/**
 * Curvature benchmarks: the cost of the exact Fisher against the empirical Fisher and the
 * Monte-Carlo Fisher through the public `linearProblem` API — the paper's closing point that
 * the Fisher is not inherently harder to compute than the EF.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/curvature.bench.ts [--quick]
 *
 * For a C-class softmax model (D = C·d) the exact Fisher has per-sample curvature
 * Λ_n = diag(p) − ppᵀ of rank C − 1, i.e. C − 1 outer products of D-vectors per sample, while
 * the EF and the one-sample MC Fisher have one. natgrad builds all three the same way —
 * s·Σ_n J_nᵀ B_n J_n as C(C+1)/2 weighted Gram blocks over X, N·D²/2 multiply-adds in all —
 * so their costs are equal up to the per-sample B_n (O(N·C²)) and the MC sampling. Each case
 * is warmed up (≥ 20 calls) before benny times it; the table shows medians of benny's
 * per-cycle means and the ratio to the EF in the same run. Results go to
 * bench/results/curvature.json.
 */
import b from 'benny';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bernoulli, categorical, init, linearProblem, loadPaperDataset, addBias, type LinearProblem, type Likelihood } from '../bindings/index.js';
import { normals } from './seeded.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const { variant } = await init();

interface Setting {
  name: string;
  problem: LinearProblem;
  theta: Float64Array;
}

function synthetic(N: number, d: number, C: number): Setting {
  const g = normals(N * 31 + d * 7 + C);
  const data = Float64Array.from({ length: N * d }, g);
  const y = Float64Array.from({ length: N }, (_, n) => Math.abs(Math.floor(data[n * d]! * 1000)) % C);
  const lik: Likelihood = C === 2 ? bernoulli() : categorical({ classes: C });
  const problem = linearProblem({ X: { data, rows: N, cols: d }, y: C === 2 ? y.map((v) => v % 2) : y, likelihood: lik });
  const theta = Float64Array.from({ length: problem.dim }, () => 0.1 * g());
  return { name: `${C === 2 ? 'Bernoulli' : `Categorical C=${C}`} N=${N} d=${d} (D=${problem.dim})`, problem, theta };
}

const settings: Setting[] = [synthetic(2000, 64, 10), synthetic(2000, 32, 3)];
const bc = await loadPaperDataset('BreastCancer', join(here, '..', 'data')).catch(() => undefined);
if (bc) {
  const problem = linearProblem({ X: addBias(bc.X), y: bc.y, likelihood: bernoulli() });
  settings.push({ name: `BreastCancer logistic (D=${problem.dim})`, problem, theta: new Float64Array(problem.dim).fill(1e-4) });
}

const rows: { setting: string; curvature: string; medianMs: number; ratioToEF: number }[] = [];
for (const s of settings) {
  const cases: [string, () => void][] = [
    ['empiricalFisher', () => s.problem.empiricalFisher(s.theta).free()],
    ['fisher (exact)', () => s.problem.fisher(s.theta).free()],
    ['fisherMC S=1', () => s.problem.fisherMC(s.theta, { samples: 1, seed: 1 }).free()],
    [
      'fisher diagonal',
      () => {
        s.problem.fisher(s.theta, { structure: 'diagonal' });
      },
    ],
    [
      'fisher kfac',
      () => {
        const k = s.problem.fisher(s.theta, { structure: 'kfac' });
        k.A.free();
        k.G.free();
      },
    ],
    [
      'fisherVectorProduct',
      () => {
        s.problem.fisherVectorProduct(s.theta, s.theta);
      },
    ],
  ];
  for (const [, run] of cases) for (let i = 0; i < 20; i++) run();
  const medians = new Map<string, number>();
  await b.suite(
    s.name,
    ...cases.map(([name, run]) => b.add(name, () => run, { minSamples: quick ? 5 : 15, maxTime: quick ? 0.5 : 2 })),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) medians.set(r.name, r.details.median * 1e3);
    }),
  );
  const ef = medians.get('empiricalFisher')!;
  for (const [name] of cases) rows.push({ setting: s.name, curvature: name, medianMs: medians.get(name)!, ratioToEF: medians.get(name)! / ef });
}

console.log(`\nnatgrad curvature builders — ${variant}, node ${process.version}: median ms and ratio to the EF in the same run`);
console.table(rows.map((r) => ({ setting: r.setting, curvature: r.curvature, 'median ms': Number(r.medianMs.toPrecision(4)), '÷ EF': Number(r.ratioToEF.toFixed(2)) })));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'curvature.json'), JSON.stringify({ variant, node: process.version, rows }, null, 2) + '\n');
