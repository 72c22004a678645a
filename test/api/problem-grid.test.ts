// gridSearch on any problem: an MLP and a linear model with a categorical likelihood run every
// (optimizer, γ, λ) through the optimizers' own run — same losses as running them by hand, the
// same for 1 and 2 workers, the best run per optimizer, divergence and failure statuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gridSearch, problem, mlp, linear, categorical, gd, ngd, efgd, linearProblem, type Problem } from '../../bindings/index.js';
import { normals } from '../helpers.js';

function digitsLike(N: number, d: number, C: number, seed: number) {
  const g = normals(seed);
  const y = Float64Array.from({ length: N }, (_, i) => i % C);
  const X = Float64Array.from({ length: N * d }, (_, i) => g() + (Math.floor(i / d) % C === i % d ? 1.5 : 0));
  return { X: { data: X, rows: N, cols: d }, y };
}

function byHand(p: Problem, o: 'GD' | 'NGD' | 'EFGD', lr: number, damping: number | null, theta0: Float64Array, iterations: number): number[] {
  const opt = o === 'GD' ? gd(p, { lr }) : (o === 'NGD' ? ngd : efgd)(p, { lr, damping: damping! });
  return opt.run(theta0, { iterations, divergenceFactor: 100 }).losses;
}

test('an MLP grid: every run equals the optimizer run by hand; 2 workers give identical results', async () => {
  const { X, y } = digitsLike(60, 4, 3, 1);
  const model = mlp({ sizes: [4, 6, 3], activation: 'tanh' });
  const p = problem({ model, X, y, likelihood: categorical({ classes: 3 }) });
  const theta0 = model.init(2);
  const options = { problem: p, lrs: [0.1, 1, 1e3], dampings: [1e-3, 1], iterations: 8, theta0 };
  const one = await gridSearch(options);
  const two = await gridSearch({ ...options, workers: 2 });
  assert.is(one.runs.length, 3 + 2 * 3 * 2);
  assert.equal(two.runs, one.runs, 'identical for any number of workers');
  for (const r of one.runs) assert.equal(r.losses, byHand(p, r.optimizer, r.lr, r.damping, theta0, 8), `${r.optimizer} γ=${r.lr} λ=${r.damping}`);
  assert.ok(
    one.runs.some((r) => r.status === 'diverged'),
    'γ = 1000 diverges',
  );
  for (const o of ['GD', 'NGD', 'EFGD'] as const) {
    const best = one.best[o]!;
    for (const r of one.runs) if (r.optimizer === o && r.status !== 'failed') assert.ok(best.losses.at(-1)! <= r.losses.at(-1)!, `${o} best`);
  }
  p.free();
});

test("a linear model with a categorical likelihood (not the GLM engine's) runs through the general path", async () => {
  const { X, y } = digitsLike(50, 3, 4, 5);
  const p = problem({ model: linear({ inputs: 3, outputs: 4, bias: true }), X, y, likelihood: categorical({ classes: 4 }) });
  const lp = linearProblem({ X, y, likelihood: categorical({ classes: 4 }), bias: true });
  const r = await gridSearch({ problem: p, lrs: [0.5, 2], dampings: [0, 1e-2], iterations: 5, workers: 2 });
  const r1 = await gridSearch({ problem: lp, lrs: [0.5, 2], dampings: [0, 1e-2], iterations: 5 });
  assert.equal(r.runs, r1.runs);
  const failed = r.runs.filter((x) => x.status === 'failed');
  for (const f of failed) assert.ok(f.damping === 0 && /positive definite/.test(f.reason ?? ''), 'only undamped NGD/EFGD of an over-parameterized softmax may fail, and say why');
  assert.ok(r.best.NGD && r.best.GD && r.best.EFGD);
  p.free();
  lp.free();
});

test.run();
