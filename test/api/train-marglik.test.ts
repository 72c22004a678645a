// Marginal-likelihood training of the prior as an option of the training loop (train's `marglik`,
// bindings/optimizers/train.ts) and the problems' withPriorVariance (bindings/problem/problem.ts,
// linear-problem.ts): a problem with another prior equals the rebuilt one bit for bit; train with
// marglik equals marglikTraining bit for bit, trains every epoch on the δ of its time, moves δ to
// the evidence optimum at the final θ, works with first- and second-order optimizers, resumes from
// a state, and refuses bad options before any work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix } from '../helpers.js';
import {
  adam,
  bernoulli,
  categorical,
  DisposedError,
  gd,
  kfac,
  laplace,
  linearProblem,
  marglikTraining,
  mlp,
  problem,
  train,
  UnknownOptionError,
  type Optimizer,
  type OptimizerState,
  type Problem,
  type ProblemOptions,
} from '../../bindings/index.js';

const N = 48;

/** A 3-class problem on 2-d inputs for an MLP [2, 6, 3] (D = 39), without a prior. */
function classification(): ProblemOptions {
  const X = randomMatrix(N, 2, 31);
  const y = Float64Array.from({ length: N }, (_, n) => (X[2 * n]! + X[2 * n + 1]! > 0.4 ? 2 : X[2 * n]! > 0 ? 1 : 0));
  return { model: mlp({ sizes: [2, 6, 3], activation: 'tanh', core }), X: { data: X, rows: N, cols: 2 }, y, likelihood: categorical({ classes: 3 }) };
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${what}[${i}]: ${a[i]} ≠ ${b[i]}`);
}

function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp, what: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof type, `${what}: expected a ${type.name}, got ${String(error)}`);
  assert.match((error as Error).message, pattern, what);
}

// ---------------------------------------------------------------------------------------------
// withPriorVariance

test('withPriorVariance: loss, gradient, Hessian-vector product and batch views equal the rebuilt problem bit for bit (MLP)', () => {
  const spec = classification();
  const p = problem({ ...spec, priorVariance: 2 });
  const theta = spec.model.init(3);
  const v = Float64Array.from({ length: p.dim }, (_, i) => Math.cos(i));
  for (const pv of [0.05, 7, Infinity]) {
    const q = p.withPriorVariance!(pv);
    const r = problem({ ...spec, priorVariance: pv });
    assert.is(q.priorVariance, pv);
    assert.is(q.N, r.N);
    assert.is(q.reduction, r.reduction);
    const a = q.lossAndGradient(theta),
      b = r.lossAndGradient(theta);
    sameBits([a.loss], [b.loss], `loss, σp² = ${pv}`);
    sameBits(a.gradient, b.gradient, `gradient, σp² = ${pv}`);
    sameBits(q.hessianVectorProduct(theta, v), r.hessianVectorProduct(theta, v), `Hv, σp² = ${pv}`);
    sameBits(q.fisher(theta, { structure: 'diagonal' }), r.fisher(theta, { structure: 'diagonal' }), `diag F, σp² = ${pv}`);
    const rows = [1, 4, 9, 20, 33];
    const qb = q.batch!(rows),
      rb = r.batch!(rows);
    assert.is(qb.priorVariance, rb.priorVariance);
    sameBits(qb.gradient(theta), rb.gradient(theta), `batch gradient, σp² = ${pv}`);
    q.free();
    r.free();
  }
  // The original keeps its prior, and a model problem's copy outlives it (its inputs are JavaScript arrays).
  const before = p.loss(theta);
  const q = p.withPriorVariance!(0.5);
  sameBits([p.loss(theta)], [before], 'the original is unchanged');
  assert.is(p.priorVariance, 2);
  p.free();
  const r = problem({ ...spec, priorVariance: 0.5 });
  sameBits([q.loss(theta)], [r.loss(theta)], 'after the original is freed');
  q.free();
  r.free();
});

test('withPriorVariance: loss, gradient and Hessian equal the rebuilt problem bit for bit (linear problem, shared resident X)', () => {
  const d = 5;
  const X = randomMatrix(N, d, 12);
  const y = Float64Array.from({ length: N }, (_, n) => (X[n * d]! - X[n * d + 2]! + 0.2 * Math.sin(5 * n) > 0 ? 1 : 0));
  const opts = { X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), bias: true };
  const p = linearProblem({ ...opts, priorVariance: 3 });
  const theta = Float64Array.from({ length: p.dim }, (_, i) => 0.3 * Math.sin(i + 1));
  for (const pv of [0.01, 1, Infinity]) {
    const q = p.withPriorVariance(pv);
    const r = linearProblem({ ...opts, priorVariance: pv });
    assert.is(q.X, p.X, 'the inputs are shared, not copied');
    const a = q.lossAndGradient(theta),
      b = r.lossAndGradient(theta);
    sameBits([a.loss], [b.loss], `loss, σp² = ${pv}`);
    sameBits(a.gradient, b.gradient, `gradient, σp² = ${pv}`);
    sameBits(q.hessian(theta, { structure: 'diagonal' }), r.hessian(theta, { structure: 'diagonal' }), `diag Hessian, σp² = ${pv}`);
    q.free();
    r.free();
  }
  // The copy reads the original's resident X: used after the original is freed, it is a DisposedError, never stale memory.
  const q = p.withPriorVariance(1);
  p.free();
  assert.throws(
    () => q.loss(theta),
    (e: Error) => e instanceof DisposedError,
  );
  q.free();
});

test('withPriorVariance: the variance is checked (RangeError for v ≤ 0 or NaN, TypeError for a non-number)', () => {
  const spec = classification();
  const p = problem(spec);
  const lp = linearProblem({ X: [[1], [2]], y: [0, 1], likelihood: bernoulli() });
  for (const q of [p, lp] as Problem[]) {
    for (const bad of [0, -1, Number.NaN, -Infinity]) throwsWith(() => q.withPriorVariance!(bad), RangeError, /withPriorVariance.*> 0/, `v = ${bad}`);
    throwsWith(() => q.withPriorVariance!('1' as never), TypeError, /number/, "v = '1'");
  }
  p.free();
  lp.free();
});

// ---------------------------------------------------------------------------------------------
// train({ marglik })

/**
 * Algorithm 1 written out, independently of the marglik option: `train` runs split at the
 * hyperparameter updates, each on a problem rebuilt from the options with priorVariance = 1/δ,
 * and between them a Laplace at θ with `steps` Adam steps (lr, β = (0.9, 0.999), ε = 1e-8) on log δ.
 */
function algorithm1<S extends OptimizerState>(
  spec: ProblemOptions,
  opt: Optimizer<S>,
  o: { theta0: Float64Array; epochs: number; batchSize: number; seed: number; every: number; steps: number; lr: number; structure: 'full' | 'diagonal'; delta0: number },
): { theta: Float64Array; deltas: number[]; logZ: number[]; losses: number[] } {
  const b1 = 0.9,
    b2 = 0.999;
  let delta = o.delta0,
    t = Math.log(delta),
    m = 0,
    v = 0,
    k = 0,
    state: S | undefined;
  const out = { theta: o.theta0, deltas: [delta], logZ: [] as number[], losses: [] as number[] };
  for (let e = 0; e < o.epochs; ) {
    const next = Math.min(e + o.every, o.epochs);
    const p = problem({ ...spec, priorVariance: 1 / delta });
    const rec = train(p, opt, { epochs: next, batchSize: o.batchSize, seed: o.seed, ...(state ? { state } : { theta0: o.theta0 }) });
    out.losses.push(...(out.losses.length ? rec.losses.slice(1) : rec.losses));
    state = rec.state;
    out.theta = rec.theta;
    e = next;
    const la = laplace(p, rec.theta, { structure: o.structure, priorPrecision: delta });
    for (let s = 0; s < o.steps; s++) {
      const g = -(la.logMarginalLikelihoodGradient({ priorPrecision: Math.exp(t) }).priorPrecision as number);
      k++;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      t -= (o.lr * (m / (1 - b1 ** k))) / (Math.sqrt(v / (1 - b2 ** k)) + 1e-8);
    }
    delta = Math.exp(t);
    out.deltas.push(delta);
    out.logZ.push(la.logMarginalLikelihood({ priorPrecision: delta }));
    la.free();
    p.free();
  }
  return out;
}

test('train with marglik equals marglikTraining bit for bit (Adam, mini-batches, an update period that does not divide the epochs)', () => {
  const spec = classification();
  const p = problem(spec);
  const opt = adam(p, { lr: 0.05 });
  const theta0 = spec.model.init(1);
  const rec = train(p, opt, { theta0, epochs: 5, batchSize: 10, seed: 2, marglik: { every: 2, steps: 30, structure: 'full', priorPrecision: 30 } });
  const old = marglikTraining(spec, opt, { theta0, epochs: 5, batchSize: 10, seed: 2, hyperEvery: 2, hyperSteps: 30, structure: 'full', priorPrecision: 30 });
  assert.is(rec.status, 'ok');
  assert.is(rec.priorPrecision!.length, 1 + 3, 'updates after epochs 2, 4 and 5');
  assert.is(rec.marglik!.length, 3);
  sameBits(rec.priorPrecision!, old.priorPrecision, 'priorPrecision');
  sameBits(rec.marglik!, old.marglik, 'marglik');
  sameBits(rec.losses, old.losses, 'losses');
  sameBits(rec.theta, old.theta, 'theta');
  sameBits(rec.state.gradient, old.state.gradient, 'state.gradient');
  assert.is(rec.state.iteration, old.state.iteration);
  // Both are Algorithm 1 split at the updates, on problems rebuilt with priorVariance = 1/δ.
  const ref = algorithm1(spec, opt, { theta0, epochs: 5, batchSize: 10, seed: 2, every: 2, steps: 30, lr: 0.1, structure: 'full', delta0: 30 });
  sameBits(rec.priorPrecision!, ref.deltas, 'priorPrecision against Algorithm 1');
  sameBits(rec.marglik!, ref.logZ, 'marglik against Algorithm 1');
  sameBits(rec.losses, ref.losses, 'losses against Algorithm 1');
  sameBits(rec.theta, ref.theta, 'theta against Algorithm 1');
  // The problem's own prior is ignored: only δ0 = marglik.priorPrecision counts.
  const p2 = problem({ ...spec, priorVariance: 0.01 });
  const rec2 = train(p2, adam(p2, { lr: 0.05 }), { theta0, epochs: 5, batchSize: 10, seed: 2, marglik: { every: 2, steps: 30, structure: 'full', priorPrecision: 30 } });
  sameBits(rec2.theta, rec.theta, 'theta with another prior on the passed problem');
  sameBits(rec2.priorPrecision!, rec.priorPrecision!, 'priorPrecision with another prior on the passed problem');
  assert.is(p2.priorVariance, 0.01, 'the passed problem is not changed');
  p.free();
  p2.free();
});

test('train with marglik: each epoch trains on the δ of its time, and each log Z is the Laplace evidence at the new δ, above the old δ', () => {
  const spec = classification();
  const p = problem(spec);
  const every = 2,
    epochs = 6,
    B = 12,
    perEpoch = Math.ceil(N / B);
  const rec = train(p, adam(p, { lr: 0.05 }), { theta0: spec.model.init(2), epochs, batchSize: B, seed: 4, recordTheta: true, marglik: { every, priorPrecision: 50 } });
  assert.is(rec.status, 'ok');
  const deltas = rec.priorPrecision!;
  assert.is(deltas.length, 1 + epochs / every);
  for (let e = 0; e < epochs; e++) {
    // The loss after epoch e + 1 is the full loss with the prior of that epoch, at that epoch's last θ.
    const delta = deltas[Math.floor(e / every)]!;
    const q = p.withPriorVariance!(1 / delta);
    const theta = rec.thetas![(e + 1) * perEpoch - 1]!;
    sameBits([rec.losses[e + 1]!], [q.loss(theta)], `loss after epoch ${e + 1} (δ = ${delta})`);
    if ((e + 1) % every === 0) {
      // The update at this θ: a diagonal Laplace (the default) with the old δ; log Z at the new δ is
      // the recorded one, and it is larger than at the old δ (Adam ascended it).
      const u = (e + 1) / every;
      const la = laplace(q, theta, { structure: 'diagonal', priorPrecision: delta });
      sameBits([rec.marglik![u - 1]!], [la.logMarginalLikelihood({ priorPrecision: deltas[u]! })], `log Z of update ${u}`);
      assert.ok(rec.marglik![u - 1]! > la.logMarginalLikelihood({ priorPrecision: delta }), `update ${u}: log Z did not increase`);
      la.free();
    }
    q.free();
  }
  p.free();
});

test('train with marglik: δ ends near the evidence optimum at the final θ (optimizePriorPrecision), far from where it started', () => {
  const spec = classification();
  const p = problem(spec);
  const delta0 = 300;
  const rec = train(p, adam(p, { lr: 0.05 }), { theta0: spec.model.init(1), epochs: 8, batchSize: 12, seed: 1, marglik: { every: 4, priorPrecision: delta0 } });
  assert.is(rec.status, 'ok');
  const deltas = rec.priorPrecision!;
  // The last update ran at the final θ on the Laplace that optimizePriorPrecision maximizes (same
  // θ, same diagonal curvature); its Newton optimum δ* is where Adam's 50 steps of lr 0.1 on log δ
  // head. Adam's step in log δ is about lr near the optimum, so |log δ − log δ*| ≤ 2·lr = 0.2 is
  // its oscillation, and the start was |log(300/δ*)| ≫ 1 away.
  const q = p.withPriorVariance!(1 / deltas.at(-2)!);
  const la = laplace(q, rec.theta, { structure: 'diagonal', priorPrecision: deltas.at(-2)! });
  const star = la.optimizePriorPrecision().priorPrecision as number;
  const last = deltas.at(-1)!;
  assert.ok(Math.abs(Math.log(delta0 / star)) > 2, `the start δ0 = ${delta0} is far from δ* = ${star}`);
  assert.ok(Math.abs(Math.log(last / star)) < 0.2, `δ = ${last} vs the optimum ${star} at the final θ`);
  // The evidence gap left, against the one at the start: if log Z were quadratic in log δ the ratio
  // would be (0.2/2)² = 0.01 at most; away from the optimum it grows faster than quadratically
  // (the δ‖θ‖² term is exponential in log δ), so 0.01 bounds it.
  const zStar = la.logMarginalLikelihood({ priorPrecision: star });
  const gapLast = zStar - la.logMarginalLikelihood({ priorPrecision: last }),
    gapStart = zStar - la.logMarginalLikelihood({ priorPrecision: delta0 });
  assert.ok(gapLast >= -1e-12 * Math.abs(zStar) && gapLast < 0.01 * gapStart, `log Z gap ${gapLast} (at the start ${gapStart})`);
  la.free();
  q.free();
  p.free();
});

test('train with marglik works with Adam, GD and KFAC on an MLP (and marglik structures diagonal, kfac, full)', () => {
  const spec = classification();
  const p = problem(spec);
  const theta0 = spec.model.init(5);
  const cases: [string, Optimizer<OptimizerState>, { batchSize: number; structure: 'diagonal' | 'kfac' | 'full' }][] = [
    ['adam', adam(p, { lr: 0.05 }), { batchSize: 16, structure: 'diagonal' }],
    ['gd', gd(p, { lr: 0.5 }), { batchSize: N, structure: 'full' }],
    ['kfac', kfac(p, { lr: 0.2, damping: 0.1 }) as Optimizer<OptimizerState>, { batchSize: 16, structure: 'kfac' }],
  ];
  for (const [name, opt, c] of cases) {
    const rec = train(p, opt, { theta0, epochs: 4, batchSize: c.batchSize, seed: 3, marglik: { structure: c.structure, priorPrecision: 20 } });
    assert.is(rec.status, 'ok', `${name}: ${rec.reason}`);
    assert.is(rec.priorPrecision!.length, 5, name);
    assert.is(rec.marglik!.length, 4, name);
    assert.ok(
      rec.priorPrecision!.every((d) => d > 0 && Number.isFinite(d)),
      `${name}: δ ${rec.priorPrecision}`,
    );
    assert.ok(
      rec.marglik!.every((z) => Number.isFinite(z)),
      `${name}: log Z ${rec.marglik}`,
    );
    assert.ok(rec.priorPrecision!.at(-1)! < 20, `${name}: δ = 20 is far above the evidence optimum of this small model, so it must fall (got ${rec.priorPrecision})`);
    assert.ok(rec.losses.at(-1)! < rec.losses[0]!, `${name}: loss ${rec.losses[0]} → ${rec.losses.at(-1)}`);
    assert.is(rec.state.iteration, 4 * Math.ceil(N / c.batchSize), name);
  }
  p.free();
});

test('train with marglik resumes from a state with marglik.priorPrecision: the next epoch is the uninterrupted one', () => {
  const spec = classification();
  const p = problem(spec);
  const opt = adam(p, { lr: 0.05 });
  const theta0 = spec.model.init(1);
  const common = { batchSize: 12, seed: 6 };
  const full = train(p, opt, { theta0, epochs: 3, ...common, recordTheta: true, marglik: { priorPrecision: 10 } });
  const half = train(p, opt, { theta0, epochs: 2, ...common, marglik: { priorPrecision: 10 } });
  sameBits(half.priorPrecision!, full.priorPrecision!.slice(0, 3), 'δ over the first two epochs');
  const saved = JSON.stringify(opt.saveState(half.state));
  const rest = train(p, opt, { state: opt.loadState(saved), epochs: 3, ...common, marglik: { priorPrecision: half.priorPrecision!.at(-1)! } });
  assert.is(rest.status, 'ok');
  // Epoch 3 runs on the same δ from the same state: same θ and loss; its update restarts Adam's moments on log δ.
  sameBits(rest.theta, full.theta, 'θ after epoch 3');
  sameBits([rest.losses.at(-1)!], [full.losses.at(-1)!], 'loss after epoch 3');
  sameBits([rest.priorPrecision![0]!], [full.priorPrecision![2]!], 'the δ resumed from');
  assert.is(rest.priorPrecision!.length, 2);
  throwsWith(() => train(p, opt, { state: opt.loadState(saved), epochs: 3, ...common, marglik: {} }), TypeError, /priorPrecision/, 'resume without δ');
  p.free();
});

test('train marglik options: unknown keys are UnknownOptionErrors, bad values RangeErrors, before any work', () => {
  const spec = classification();
  const p = problem(spec);
  const opt = gd(p, { lr: 0.1 });
  const theta0 = spec.model.init(0);
  let progress = 0;
  const run = (marglik: unknown) => train(p, opt, { theta0, epochs: 1, onProgress: () => progress++, marglik: marglik as never });
  let error: unknown;
  try {
    run({ evry: 2 });
  } catch (e) {
    error = e;
  }
  assert.instance(error, UnknownOptionError);
  assert.is((error as UnknownOptionError).option, 'evry');
  assert.is((error as UnknownOptionError).suggestion, 'every');
  assert.match((error as Error).message, /train: marglik/);
  throwsWith(() => run({ hyperSteps: 5 }), UnknownOptionError, /hyperSteps/, 'a marglikTraining key');
  for (const [key, bad] of [
    ['every', 0],
    ['every', 1.5],
    ['every', -2],
    ['steps', 0],
    ['steps', 2.5],
    ['lr', 0],
    ['lr', -0.1],
    ['lr', Number.NaN],
    ['lr', Infinity],
    ['priorPrecision', 0],
    ['priorPrecision', -1],
    ['priorPrecision', Number.NaN],
    ['priorPrecision', Infinity],
    ['structure', 'dense'],
    ['rank', 3],
  ] as const) {
    throwsWith(() => run({ [key]: bad }), RangeError, new RegExp(`marglik\\.${key}`), `${key} = ${String(bad)}`);
  }
  throwsWith(() => run({ structure: 'lowRank' }), TypeError, /marglik\.rank.*required/, 'lowRank without rank');
  throwsWith(() => run({ structure: 'lowRank', rank: p.dim + 1 }), RangeError, /marglik\.rank/, 'rank > D');
  throwsWith(() => run(5), TypeError, /options must be an object/, 'a number');
  // A problem without withPriorVariance (a user-written one) cannot take marglik.
  const bare = { ...p, N: p.N, dim: p.dim, lossAndGradient: p.lossAndGradient.bind(p), withPriorVariance: undefined } as unknown as Problem;
  throwsWith(() => train(bare, opt, { theta0, epochs: 1, marglik: {} }), TypeError, /withPriorVariance/, 'no withPriorVariance');
  assert.is(progress, 0, 'no step ran');
  p.free();
});

test.run();
