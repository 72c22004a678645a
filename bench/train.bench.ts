/**
 * Mini-batch training benchmark (`npm run bench:train`): the digits MLP [64, 32, 10] (tanh,
 * N = 1797, B = 32: 57 steps per epoch, 3 epochs per run, full-data loss at θ0 and after each epoch)
 * with `train` on the problem's batch views, against
 *   - the previous mini-batch loop, which rebuilt a problem for every batch and computed each
 *     step's gradient twice — kept here as `rebuildRun`, on this checkout's building blocks;
 *   - with `--baseline=<dir>`, the `stochasticRun` of another checkout of natgrad (its own core, in
 *     this process), e.g. `git worktree add /tmp/old <commit>` with node_modules and build/ beside it.
 * Every contender must reach bit-identical iterates (checked first).
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/train.bench.ts [--threads=N] [--baseline=<dir>]
 *
 * Medians over benny's cycles after its warm-up, ms per epoch; ratios from the same run.
 * Results go to bench/results/train.json.
 */
import b from 'benny';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as natgrad from '../bindings/index.js';
import type { Optimizer, Problem, ProblemOptions } from '../bindings/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const threads = Number(process.argv.find((a) => a.startsWith('--threads='))?.slice(10) ?? 1);
const baselineDir = process.argv.find((a) => a.startsWith('--baseline='))?.slice(11);
const { variant, threads: got } = await natgrad.init({ threads });
type Lib = typeof natgrad;
const baseline = baselineDir ? ((await import(pathToFileURL(resolve(baselineDir, 'bindings/index.ts')).href)) as Lib) : undefined;
if (baseline) await baseline.init({ threads });

const digits = await natgrad.loadDigits();
const N = digits.y.length,
  d = 64,
  B = 32,
  epochs = 3,
  seed = 1;
const specOf = (lib: Lib): ProblemOptions => ({
  model: lib.mlp({ sizes: [64, 32, 10], activation: 'tanh' }),
  X: { data: digits.X.data, rows: N, cols: d },
  y: digits.y,
  likelihood: lib.categorical({ classes: 10 }),
  priorVariance: 100,
});
const spec = specOf(natgrad);
const theta0 = (spec.model as ReturnType<typeof natgrad.mlp>).init(0);
const schedule = natgrad.batchSchedule(N, B, epochs, seed).flat();
const full = natgrad.problem(spec);

/** The previous loop: a fresh problem per batch, the gradient recomputed on it, then the update (which computes one more on the same batch). */
function rebuildRun(opt: Optimizer): Float64Array {
  const rows = (idx: Int32Array): Problem => {
    const X = new Float64Array(idx.length * d),
      y = new Float64Array(idx.length);
    idx.forEach((n, r) => {
      X.set(digits.X.data.subarray(n * d, (n + 1) * d), r * d);
      y[r] = digits.y[n]!;
    });
    return natgrad.problem({ ...spec, X: { data: X, rows: idx.length, cols: d }, y, priorVariance: 100 * (N / idx.length) });
  };
  full.loss(theta0);
  let q = rows(schedule[0]!);
  let state = opt.init(theta0, q);
  for (let k = 0; k < schedule.length; k++) {
    if (k > 0) {
      q.free();
      q = rows(schedule[k]!);
      state = opt.refresh(state, q);
    }
    state = opt.update(state, q).state;
    if ((k + 1) % (schedule.length / epochs) === 0) full.loss(state.theta);
  }
  q.free();
  return state.theta;
}

const makers: [string, (lib: Lib, p: Problem) => Optimizer][] = [
  ['GD', (lib, p) => lib.gd(p, { lr: 0.5 })],
  ['Adam', (lib, p) => lib.adam(p, { lr: 1e-2 }) as unknown as Optimizer],
  ['KFAC', (lib, p) => lib.kfac(p, { lr: 0.2, damping: 1e-2 }) as unknown as Optimizer],
];
const baseSpec = baseline ? specOf(baseline) : undefined;

const results: Record<string, Record<string, number>> = {};
for (const [name, make] of makers) {
  const opt = make(natgrad, full);
  const contenders: [string, () => Float64Array][] = [
    ['train on batch views', () => natgrad.train(full, opt, { theta0, batchSize: B, epochs, seed }).theta],
    ['rebuild per batch (previous loop, this build)', () => rebuildRun(opt)],
  ];
  if (baseline) contenders.push(['stochasticRun of --baseline', () => baseline.stochasticRun(baseSpec!, (p) => make(baseline, p), theta0, { batchSize: B, epochs, seed }).theta]);
  const ref = contenders[0]![1]();
  for (const [label, run] of contenders.slice(1)) {
    const t = run();
    if (!t.every((x, i) => Object.is(x, ref[i]))) throw new Error(`${name}: ${label} reaches other iterates than train`);
  }
  const medians: Record<string, number> = {};
  await b.suite(
    `${name}, ${epochs} epochs of ${schedule.length / epochs} steps (B = ${B}), ${variant}, ${got} thread(s)`,
    ...contenders.map(([label, run]) => b.add(label, () => void run())),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) medians[r.name] = (r.details.median * 1000) / epochs;
    }),
  );
  const tr = medians['train on batch views']!;
  results[name] = medians;
  for (const [label] of contenders.slice(1))
    console.log(`${name}: ${label} ${medians[label]!.toFixed(2)} ms/epoch, train ${tr.toFixed(2)} ms/epoch → train ${(medians[label]! / tr).toFixed(2)}× faster`);
}
full.free();
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'train.json'),
  `${JSON.stringify({ variant, threads: got, node: process.version, N, B, epochs, baseline: baselineDir ?? null, ms_per_epoch: results }, null, 2)}\n`,
);
