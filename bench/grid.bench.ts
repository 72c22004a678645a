/**
 * The paper's Fig. 3 grid search (241 step sizes × 41 dampings, GD + NGD + EFGD, 100
 * iterations) on Wine, Boston, BreastCancer and a1a: natgrad's wall-clock seconds with 2
 * workers, next to the independent numpy implementation ../shared/tools/ref_numpy_grid.py
 * timed in the same run on a sub-grid and extrapolated per iteration to the full grid, and the
 * agreement of natgrad's runs with numpy's (largest relative difference over each run's losses).
 *
 * Usage: npm run bench:grid [-- DATASET…]   (env NATGRAD_BENCH_WORKERS, NATGRAD_DATA, PYTHON)
 * Writes bench/results/grid.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addBias, bernoulli, currentVariant, gaussian, gridSearch, init, loadPaperDataset, paperGrid, type GridSearchResult } from '../bindings/index.js';

type Name = 'Wine' | 'Boston' | 'BreastCancer' | 'a1a';
const ALL: Name[] = ['Wine', 'Boston', 'BreastCancer', 'a1a'];
/** numpy sub-grid strides (lr, damping): numpy takes 80 min for the whole of Fig. 3. */
const NUMPY_STRIDES: Record<Name, [number, number]> = { Wine: [4, 2], Boston: [4, 2], BreastCancer: [8, 4], a1a: [24, 8] };
const TARGETS: Record<Name, number> = { Wine: 3, Boston: 5, BreastCancer: 30, a1a: 150 };

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = process.env.NATGRAD_DATA ?? fileURLToPath(new URL('../../shared/datasets/', import.meta.url));
const tool = fileURLToPath(new URL('../../shared/tools/ref_numpy_grid.py', import.meta.url));
const python = process.env.PYTHON ?? 'python3';
const workers = Number(process.env.NATGRAD_BENCH_WORKERS ?? 2);
const names = process.argv.slice(2).filter((a) => ALL.includes(a as Name)) as Name[];
const datasets = names.length ? names : ALL;

await init();
const variant = currentVariant();

async function problemOf(name: Name) {
  const { X, y } = await loadPaperDataset(name, dataDir);
  const logistic = name === 'BreastCancer' || name === 'a1a';
  return { X: addBias(X), y, likelihood: logistic ? bernoulli({ clip: 1e-8 }) : gaussian(), priorVariance: Infinity, reduction: 'mean' as const };
}

interface NumpyRun {
  opt: string;
  lr: number;
  damping: number | null;
  losses: (number | null)[];
}

function numpy(name: Name): { seconds: number; iterations: number; runs: NumpyRun[] } {
  const [ls, ds] = NUMPY_STRIDES[name];
  const dir = mkdtempSync(join(tmpdir(), 'natgrad-bench-'));
  try {
    const out = join(dir, 'ref.json');
    execFileSync(python, [tool, name, String(ls), String(ds), out, dataDir], { stdio: ['ignore', 'inherit', 'inherit'] });
    // Python's json writes NaN as a bare token.
    const doc = JSON.parse(readFileSync(out, 'utf8').replace(/\bNaN\b/g, 'null')) as { seconds: number; iterations: number; runs: NumpyRun[] };
    return doc;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function agreement(r: GridSearchResult, ref: NumpyRun[]): { le1e6: number; le1e3: number; worse: number; total: number } {
  const key = (o: string, lr: number, d: number | null) => `${o}|${lr}|${d}`;
  const ours = new Map(r.runs.map((x) => [key(x.optimizer, x.lr, x.damping), x]));
  const c = { le1e6: 0, le1e3: 0, worse: 0, total: 0 };
  for (const run of ref) {
    const x = ours.get(key(run.opt, run.lr, run.damping));
    if (!x) throw new Error(`no natgrad run for ${run.opt} ${run.lr} ${run.damping}`);
    let worst = x.losses.length === run.losses.length ? 0 : Infinity;
    for (let t = 0; t < Math.min(x.losses.length, run.losses.length); t++) {
      const e = run.losses[t] ?? NaN,
        v = x.losses[t]!;
      const d = Number.isNaN(e) && Number.isNaN(v) ? 0 : Math.abs(v - e) / Math.abs(e);
      worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
    }
    c.total++;
    if (worst <= 1e-6) c.le1e6++;
    else if (worst <= 1e-3) c.le1e3++;
    else c.worse++;
  }
  return c;
}

const { lrs, dampings } = paperGrid();
console.log(`natgrad grid-search benchmark — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.versions.node}, WASM ${variant}, ${workers} workers`);

// Warm-up: start the worker pool, compile and tier up the kernels on every kind of problem.
for (const name of datasets) {
  const problem = await problemOf(name);
  await gridSearch({ problem, lrs: lrs.filter((_, i) => i % 30 === 0), dampings: dampings.filter((_, i) => i % 10 === 0), workers });
}

const results: Record<string, unknown>[] = [];
let totalSeconds = 0,
  totalNumpy = 0;
for (const name of datasets) {
  const problem = await problemOf(name);
  const r = await gridSearch({ problem, lrs, dampings, workers });
  totalSeconds += r.seconds;
  const steps = r.stats.evaluations - r.runs.length;
  let np: ReturnType<typeof numpy>;
  try {
    np = numpy(name);
  } catch (e) {
    console.log(`${name.padEnd(13)} natgrad ${r.seconds.toFixed(2).padStart(7)} s (target ${TARGETS[name]} s)   numpy unavailable: ${(e as Error).message.split('\n')[0]}`);
    results.push({ dataset: name, runs: r.runs.length, iterations: steps, seconds: +r.seconds.toFixed(3), target: TARGETS[name] });
    continue;
  }
  const numpyFull = (np.seconds / np.iterations) * steps;
  totalNumpy += numpyFull;
  const agree = agreement(r, np.runs);
  const row = {
    dataset: name,
    runs: r.runs.length,
    iterations: steps,
    seconds: +r.seconds.toFixed(3),
    target: TARGETS[name],
    numpy: { strides: NUMPY_STRIDES[name], runs: np.runs.length, iterations: np.iterations, seconds: +np.seconds.toFixed(2), fullGridEstimate: +numpyFull.toFixed(1) },
    speedup: +(numpyFull / r.seconds).toFixed(1),
    agreement: agree,
    factorizations: r.stats.factorizations,
    reusedFactors: r.stats.reuses,
    best: Object.fromEntries(Object.entries(r.best).map(([o, b]) => [o, { lr: b.lr, damping: b.damping, last: b.losses.at(-1) }])),
  };
  results.push(row);
  console.log(
    `${name.padEnd(13)} natgrad ${r.seconds.toFixed(2).padStart(7)} s (target ${TARGETS[name]} s)   ` +
      `numpy ≈ ${numpyFull.toFixed(0).padStart(6)} s (${np.seconds.toFixed(1)} s for ${np.iterations} of ${steps} iterations)   ` +
      `× ${(numpyFull / r.seconds).toFixed(0).padStart(4)}   ` +
      `agreement on ${agree.total} runs: ≤1e-6 ${agree.le1e6}, ≤1e-3 ${agree.le1e3}, worse ${agree.worse}`,
  );
}
console.log(`all of Fig. 3: natgrad ${totalSeconds.toFixed(1)} s (target 180 s), numpy ≈ ${(totalNumpy / 60).toFixed(0)} min`);

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(root, 'bench', 'results', 'grid.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      node: process.versions.node,
      variant,
      workers,
      totalSeconds: +totalSeconds.toFixed(2),
      numpyEstimateSeconds: +totalNumpy.toFixed(0),
      results,
    },
    null,
    2,
  ) + '\n',
);
console.log('wrote bench/results/grid.json');
