/**
 * Mini-batch training benchmark (`npm run bench:train`): one epoch of the digits MLP
 * [64, 32, 10] (tanh, N = 1797, B = 32, 57 steps) with `train` on the problem's batch views,
 * against the previous mini-batch loop, which rebuilt a problem for every batch and computed each
 * step's gradient twice (once on the new batch, once inside the update on the old one) — kept here,
 * as `rebuildEpoch`, so both run in the same process on the same binary.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/train.bench.ts [--threads=N]
 *
 * Both include what a one-epoch run evaluates: the full-data loss at θ0 and at the epoch's end.
 * Medians over benny's cycles after its warm-up; ratios rebuild / train from the same run.
 * Results go to bench/results/train.json.
 */
import b from 'benny';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adam, categorical, gd, init, kfac, loadDigits, mlp, problem, type Optimizer, type Problem, type ProblemOptions } from '../bindings/index.js';
import { batchSchedule, train } from '../bindings/optimizers/train.js';

const here = dirname(fileURLToPath(import.meta.url));
const threads = Number(process.argv.find((a) => a.startsWith('--threads='))?.slice(10) ?? 1);
const { variant, threads: got } = await init({ threads });

const digits = await loadDigits();
const N = digits.y.length,
  d = 64,
  B = 32;
const model = mlp({ sizes: [64, 32, 10], activation: 'tanh' });
const spec: ProblemOptions = { model, X: { data: digits.X.data, rows: N, cols: d }, y: digits.y, likelihood: categorical({ classes: 10 }), priorVariance: 100 };
const theta0 = model.init(0);
const schedule = batchSchedule(N, B, 1, 1)[0]!;
const full = problem(spec);

/** The previous loop: a fresh problem per batch, the gradient recomputed on it, then the update. */
function rebuildEpoch(opt: Optimizer): Float64Array {
  const rows = (idx: Int32Array): Problem => {
    const X = new Float64Array(idx.length * d),
      y = new Float64Array(idx.length);
    idx.forEach((n, r) => {
      X.set(digits.X.data.subarray(n * d, (n + 1) * d), r * d);
      y[r] = digits.y[n]!;
    });
    return problem({ ...spec, X: { data: X, rows: idx.length, cols: d }, y, priorVariance: 100 * (N / idx.length) });
  };
  full.loss(theta0); // stochasticRun evaluated the full-data loss at θ0 and at each epoch's end
  let q = rows(schedule[0]!);
  let state = opt.init(theta0, q);
  for (let k = 0; k < schedule.length; k++) {
    if (k > 0) {
      q.free();
      q = rows(schedule[k]!);
      state = opt.refresh(state, q);
    }
    state = opt.update(state, q).state;
  }
  q.free();
  full.loss(state.theta);
  return state.theta;
}

const optimizers: [string, Optimizer][] = [
  ['GD', gd(full, { lr: 0.5 })],
  ['Adam', adam(full, { lr: 1e-2 }) as unknown as Optimizer],
  ['KFAC', kfac(full, { lr: 0.2, damping: 1e-2 }) as unknown as Optimizer],
];

// Same iterates both ways (the benchmark compares equal work).
for (const [name, opt] of optimizers) {
  const a = rebuildEpoch(opt),
    t = train(full, opt, { theta0, batchSize: B, epochs: 1, seed: 1 }).theta;
  if (!a.every((x, i) => Object.is(x, t[i]))) throw new Error(`${name}: train and the rebuild loop disagree`);
}

const results: Record<string, { rebuild_ms: number; train_ms: number; ratio: number }> = {};
for (const [name, opt] of optimizers) {
  const medians: Record<string, number> = {};
  await b.suite(
    `${name}, one epoch (57 steps of B = 32), ${variant}, ${got} thread(s)`,
    b.add('rebuild per batch (previous stochasticRun)', () => {
      rebuildEpoch(opt);
    }),
    b.add('train on batch views', () => {
      train(full, opt, { theta0, batchSize: B, epochs: 1, seed: 1 });
    }),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) medians[r.name] = r.details.median * 1000;
    }),
  );
  const rebuild = medians['rebuild per batch (previous stochasticRun)']!,
    tr = medians['train on batch views']!;
  results[name] = { rebuild_ms: rebuild, train_ms: tr, ratio: rebuild / tr };
  console.log(`${name}: rebuild ${rebuild.toFixed(2)} ms, train ${tr.toFixed(2)} ms → ${(rebuild / tr).toFixed(2)}× faster`);
}
full.free();
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'train.json'), `${JSON.stringify({ variant, threads: got, node: process.version, N, B, results }, null, 2)}\n`);
