// Mini-batch optimization (bindings/optimizers/stochastic.ts): the sampling schedule, B = N
// reproducing the full-batch trajectories bit for bit, Adam and the variance-adapted updates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix } from '../helpers.js';
import { bernoulli, categorical, efgd, gd, linear, mlp, ngd, ngdMC, problem, type Optimizer, type Problem, type ProblemOptions } from '../../bindings/index.js';
import { kfac } from '../../bindings/optimizers/kfac.js';
import { adam, batchSchedule, diagonalVarianceAdapted, fullVarianceAdapted, stochasticRun } from '../../bindings/optimizers/stochastic.js';
import { sineData } from '../../bindings/data/synthetic.js';

function logistic(N = 50, d = 4): ProblemOptions {
  const X = randomMatrix(N, d, 11);
  const w = [0.8, -1.2, 0.5, 0.3];
  const y = Float64Array.from({ length: N }, (_, n) => (X[n * d]! * w[0]! + X[n * d + 1]! * w[1]! + X[n * d + 2]! * w[2]! + X[n * d + 3]! * w[3]! + 0.3 * Math.sin(7 * n) > 0 ? 1 : 0));
  return { model: linear({ inputs: d, bias: true, core }), X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), priorVariance: 10 };
}

function classification(N = 40): ProblemOptions {
  const X = randomMatrix(N, 2, 3);
  const y = Float64Array.from({ length: N }, (_, n) => n % 3);
  return { model: mlp({ sizes: [2, 5, 3], activation: 'tanh', core }), X: { data: X, rows: N, cols: 2 }, y, likelihood: categorical({ classes: 3 }), priorVariance: 100 };
}

test('batchSchedule: every epoch is a partition of 0..N−1 into sorted batches, seeded', () => {
  const s = batchSchedule(23, 5, 3, 7);
  assert.is(s.length, 3);
  for (const epoch of s) {
    assert.equal(
      epoch.map((b) => b.length),
      [5, 5, 5, 5, 3],
    );
    const all = epoch.flatMap((b) => [...b]).sort((a, b) => a - b);
    assert.equal(
      all,
      Array.from({ length: 23 }, (_, i) => i),
    );
    for (const b of epoch) for (let i = 1; i < b.length; i++) assert.ok(b[i - 1]! < b[i]!);
  }
  assert.equal(batchSchedule(23, 5, 3, 7), s, 'same seed, same batches');
  assert.not.equal(batchSchedule(23, 5, 3, 8)[0]![0], s[0]![0], 'another seed, other batches');
  assert.not.equal([...s[0]![0]!], [...s[1]![0]!], 'epochs differ');
  assert.equal(
    batchSchedule(4, 9, 2).map((e) => e.map((b) => [...b])),
    [[[0, 1, 2, 3]], [[0, 1, 2, 3]]],
  );
  assert.throws(() => batchSchedule(4, 0, 1), /batchSize/);
});

function sameRun(spec: ProblemOptions, make: (p: Problem) => Optimizer, theta0: Float64Array, epochs: number, what: string): void {
  const full = problem(spec);
  const ref = make(full).run(theta0, { iterations: epochs, record: { theta: true } });
  full.free();
  const rec = stochasticRun(spec, make, theta0, { batchSize: spec.y instanceof Float64Array ? spec.y.length : 1e9, epochs, seed: 3, recordTheta: true });
  assert.is(rec.status, 'ok', `${what}: ${rec.reason}`);
  assert.is(rec.thetas!.length, epochs);
  for (let k = 0; k < epochs; k++) {
    const a = rec.thetas![k]!,
      b = ref.thetas![k + 1]!;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${what}: θ_${k + 1}[${i}] ${a[i]} ≠ ${b[i]} (full batch)`);
  }
  assert.equal(rec.losses, ref.losses, `${what}: losses`);
}

test('batchSize = N gives the full-batch trajectory bit for bit, for every optimizer', () => {
  const lg = logistic();
  const t0 = new Float64Array(5).fill(0.1);
  sameRun(lg, (p) => gd(p, { lr: 0.5 }), t0, 6, 'GD');
  sameRun(lg, (p) => ngd(p, { lr: 0.7, damping: 1e-3 }), t0, 6, 'NGD');
  sameRun(lg, (p) => efgd(p, { lr: 0.5, damping: 1e-2, adaptiveDamping: true }), t0, 6, 'EFGD + LM');
  sameRun(lg, (p) => ngdMC(p, { lr: 0.5, damping: 1e-2, seed: 5 }), t0, 6, 'NGD-MC');
  sameRun(lg, (p) => adam(p, { lr: 0.05 }), t0, 6, 'Adam');
  sameRun(lg, (p) => diagonalVarianceAdapted(p, { lr: 0.5 }), t0, 6, 'VA-diag');
  sameRun(lg, (p) => fullVarianceAdapted(p, { lr: 0.5, damping: 1e-2 }), t0, 6, 'VA-full');
  const cl = classification();
  const th = (cl.model as ReturnType<typeof mlp>).init(2);
  sameRun(cl, (p) => kfac(p, { lr: 0.3, damping: 1e-2, ema: 0.5 }), th, 5, 'KFAC');
  sameRun(cl, (p) => ngd(p, { lr: 0.5, damping: 1e-2, solver: 'cg' }), th, 4, 'NGD-CG');
});

test('mini-batches: deterministic for a seed, evaluations count the samples, SGD decreases the loss', () => {
  const lg = logistic(64);
  const t0 = new Float64Array(5);
  const run = (seed: number) => stochasticRun(lg, (p) => gd(p, { lr: 0.5 }), t0, { batchSize: 8, epochs: 4, seed, evaluationsPerEpoch: 2 });
  const a = run(1),
    b = run(1),
    c = run(2);
  assert.equal(a.losses, b.losses);
  assert.not.equal(a.losses, c.losses);
  assert.equal(a.evaluations, [0, 32, 64, 96, 128, 160, 192, 224, 256]);
  assert.equal(a.steps, [0, 4, 8, 12, 16, 20, 24, 28, 32]);
  assert.is(a.batchLosses.length, 32);
  assert.ok(a.losses.at(-1)! < 0.8 * a.losses[0]!, `SGD: ${a.losses[0]} → ${a.losses.at(-1)}`);
});

test('the batch problem is unbiased: its prior variance scales with N/B (mean reduction)', () => {
  // A step of GD with B = N/2 on each half averages to the full step.
  const lg = logistic(40);
  const theta = new Float64Array([0.3, -0.2, 0.1, 0.4, -0.1]);
  const full = problem(lg);
  const g = full.gradient(theta);
  full.free();
  const [b1, b2] = batchSchedule(40, 20, 1, 9)[0]!;
  const sub = (idx: Int32Array) => {
    const X = (lg.X as { data: Float64Array }).data;
    const p = problem({
      ...lg,
      X: { data: Float64Array.from([...idx].flatMap((i) => [...X.subarray(i * 4, i * 4 + 4)])), rows: 20, cols: 4 },
      y: Float64Array.from(idx, (i) => (lg.y as Float64Array)[i]!),
      priorVariance: 10 * 2,
    });
    const r = p.gradient(theta);
    p.free();
    return r;
  };
  const g1 = sub(b1!),
    g2 = sub(b2!);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs((g1[i]! + g2[i]!) / 2 - g[i]!) < 1e-14);
  // and stochasticRun uses that scaling: one epoch of GD with lr γ from θ equals θ − γ g1 − γ g2' (g2' at the new θ)
  const rec = stochasticRun(lg, (p) => gd(p, { lr: 0.1 }), theta, { batchSize: 20, epochs: 1, seed: 9, recordTheta: true });
  const t1 = theta.map((t, i) => t - 0.1 * g1[i]!);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(rec.thetas![0]![i]! - t1[i]!) < 1e-15);
  assert.throws(() => stochasticRun({ ...lg, reduction: 'sum' }, (p) => gd(p, { lr: 0.1 }), theta, { batchSize: 20, epochs: 1 }), /sum/);
});

test('Adam: the first step is γ·sign(g) (bias correction), and it trains an MLP on mini-batches', () => {
  const lg = logistic();
  const p = problem(lg);
  const t0 = new Float64Array(5).fill(0.1);
  const g = p.gradient(t0);
  const t1 = adam(p, { lr: 0.01, eps: 1e-12 }).step(t0);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(t1[i]! - (t0[i]! - 0.01 * Math.sign(g[i]!))) < 1e-10);
  p.free();
  const cl = classification(60);
  const th = (cl.model as ReturnType<typeof mlp>).init(1);
  const rec = stochasticRun(cl, (q) => adam(q, { lr: 0.05 }), th, { batchSize: 10, epochs: 20, seed: 1 });
  assert.ok(rec.losses.at(-1)! < 0.9 * rec.losses[0]!, `Adam: ${rec.losses[0]} → ${rec.losses.at(-1)}`);
});

test('variance adaptation: D_ii = g²/(g² + Σ̂/B) by hand; VA-full by CG equals Cholesky', () => {
  const lg = logistic(30);
  const p = problem(lg);
  const th = new Float64Array([0.2, -0.1, 0.3, 0.05, 0]);
  const G = p.perSampleGradients(th);
  const g = p.gradient(th);
  const d = new Float64Array(5);
  for (let j = 0; j < 5; j++) {
    let m = 0,
      v = 0;
    for (let n = 0; n < 30; n++) m += G.data[n * 5 + j]! / 30;
    for (let n = 0; n < 30; n++) v += (G.data[n * 5 + j]! - m) ** 2 / 30;
    d[j] = (g[j]! ** 2 / (g[j]! ** 2 + v / 30)) * g[j]!;
  }
  const t1 = diagonalVarianceAdapted(p, { lr: 1 }).step(th);
  for (let j = 0; j < 5; j++) assert.ok(Math.abs(th[j]! - t1[j]! - d[j]!) < 1e-14 * (1 + Math.abs(d[j]!)));
  const a = fullVarianceAdapted(p, { lr: 1, damping: 1e-3 }).step(th);
  const b = fullVarianceAdapted(p, { lr: 1, damping: 1e-3, solver: 'cg' }).step(th);
  for (let j = 0; j < 5; j++) assert.ok(Math.abs(a[j]! - b[j]!) < 1e-8 * (1 + Math.abs(a[j]!)));
  p.free();
});

test('sineData: seeded, sin(x) + noise on [−range, range]', () => {
  const a = sineData({ n: 50, seed: 2, noise: 0 });
  assert.is(a.X.rows, 50);
  for (let i = 0; i < 50; i++) {
    assert.ok(Math.abs(a.X.data[i]!) <= 3);
    assert.is(a.y[i], Math.sin(a.X.data[i]!));
  }
  assert.equal(sineData({ n: 10, seed: 1 }).y, sineData({ n: 10, seed: 1 }).y);
  assert.throws(() => sineData({ n: 0 }), /n must/);
});

test.run();
