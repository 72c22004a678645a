// gridSearch on any problem: an MLP and a linear model with a categorical likelihood run every
// (optimizer, γ, λ) through the optimizers' own run — same losses as running them by hand, the
// same for 1 and 2 workers, the best run per optimizer, divergence and failure statuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gridSearch, problem, mlp, linear, categorical, gaussian, gd, ngd, efgd, kfac, hessianFree, adam, linearProblem, type GridMethod, type Problem } from '../../bindings/index.js';
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

/** The optimizer a network grid runs for `o`, built by hand with the same settings. */
function networkByHand(p: Problem, o: GridMethod, lr: number, damping: number | null, theta0: Float64Array, iterations: number): number[] {
  const opt =
    o === 'Adam'
      ? adam(p, { lr, beta1: 0.8 })
      : o === 'HF'
        ? hessianFree(p, { lr, damping: damping!, cg: { maxIterations: 5 } })
        : o.startsWith('KFAC')
          ? kfac(p, { lr, damping: damping!, ema: 0.9, seed: 7, curvature: o === 'KFAC' ? 'fisher' : o === 'KFAC-MC' ? 'fisherMC' : 'empiricalFisher' })
          : gd(p, { lr });
  return opt.run(theta0, { iterations, divergenceFactor: 100 }).losses;
}

test('KFAC (Fisher, MC, EF), HF and Adam on a small MLP: 1 and 2 workers identical, runs equal the optimizers run by hand', async () => {
  const { X, y } = digitsLike(60, 4, 3, 11);
  const model = mlp({ sizes: [4, 5, 3], activation: 'tanh' });
  const p = problem({ model, X, y, likelihood: categorical({ classes: 3 }) });
  const theta0 = model.init(3);
  const optimizers: GridMethod[] = ['KFAC', 'KFAC-MC', 'KFAC-EF', 'HF', 'Adam', 'GD'];
  const options = {
    problem: p,
    optimizers,
    lrs: [0.05, 0.5, 1e4],
    dampings: [1e-2, 1],
    iterations: 6,
    theta0,
    optimizerSettings: { kfac: { ema: 0.9, seed: 7 }, hf: { cg: { maxIterations: 5 } }, adam: { beta1: 0.8 } },
  };
  const one = await gridSearch(options);
  const two = await gridSearch({ ...options, workers: 2 });
  assert.is(one.runs.length, 3 * 3 * 2 + 3 * 2 + 3 + 3, 'KFAC×3 and HF have a damping axis, Adam and GD none');
  assert.equal(two.runs, one.runs, 'identical for 1 and 2 workers');
  assert.equal(
    one.runs.map((r) => r.optimizer),
    optimizers.flatMap((o) => Array(o === 'Adam' || o === 'GD' ? 3 : 6).fill(o)),
    'grid order: optimizer, then γ, then λ',
  );
  for (const r of one.runs) {
    assert.is(r.damping === null, r.optimizer === 'Adam' || r.optimizer === 'GD', `${r.optimizer}: damping axis`);
    assert.equal(r.losses, networkByHand(p, r.optimizer, r.lr, r.damping, theta0, 6), `${r.optimizer} γ=${r.lr} λ=${r.damping}`);
  }
  assert.ok(
    one.runs.some((r) => r.status === 'diverged' || r.status === 'failed'),
    'γ = 10⁴ does not survive',
  );
  for (const o of optimizers) {
    const best = one.best[o];
    assert.ok(best && best.optimizer === o, `best.${o}`);
    for (const r of one.runs) if (r.optimizer === o && r.status !== 'failed') assert.ok(best.losses.at(-1)! <= r.losses.at(-1)!, `${o} best`);
    assert.ok(best.losses.at(-1)! < best.losses[0]!, `${o}: the best run descends`);
  }
  assert.equal(two.best, one.best);
  p.free();
});

test('the new optimizers: refused by the GLM engine, settings checked before any run', async () => {
  const { X, y } = digitsLike(20, 3, 2, 4);
  const glm = linearProblem({ X, y: y.map((v) => v * 0.5), likelihood: gaussian(), bias: true });
  for (const o of ['KFAC', 'KFAC-MC', 'KFAC-EF', 'HF', 'Adam'] as const) {
    try {
      await gridSearch({ problem: glm, optimizers: ['GD', o], lrs: [0.1], dampings: [1] });
      assert.unreachable(`${o} on the GLM engine`);
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, /optimizers\[1\].*GLM engine.*problem\(\{ model: linear/);
    }
  }
  const model = mlp({ sizes: [3, 4, 2], activation: 'tanh' });
  const p = problem({ model, X, y, likelihood: categorical({ classes: 2 }) });
  const bad = async (extra: object, type: new (...a: never[]) => Error, match: RegExp) => {
    try {
      await gridSearch({ problem: p, lrs: [0.1], dampings: [1], iterations: 2, ...extra });
      assert.unreachable(String(match));
    } catch (e) {
      assert.instance(e, type, (e as Error).message);
      assert.match((e as Error).message, match);
    }
  };
  await bad({ optimizers: ['KFAC', 'Nesterov'] }, RangeError, /optimizers\[1\]/);
  await bad({ optimizers: ['KFAC'], dampings: [] }, RangeError, /dampings.*KFAC/);
  await bad({ optimizers: ['KFAC'], optimizerSettings: { kfac: { ema: 1 } } }, RangeError, /ema/);
  await bad({ optimizers: ['HF'], optimizerSettings: { hf: { cg: { maxIterations: 0 } } } }, RangeError, /maxIterations/);
  await bad({ optimizers: ['Adam'], optimizerSettings: { adam: { eps: () => 1 } } }, TypeError, /adam\.eps/);
  await bad({ optimizers: ['Adam'], optimizerSettings: { sgd: {} } }, TypeError, /optimizerSettings: unknown option 'sgd'/);
  // Adam needs no dampings.
  const r = await gridSearch({ problem: p, optimizers: ['Adam'], lrs: [0.01, 0.1], iterations: 3 });
  assert.equal(
    r.runs.map((x) => x.damping),
    [null, null],
  );
  p.free();
  glm.free();
});

test.run();
