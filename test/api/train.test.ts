// The training API (bindings/optimizers/train.ts, optimizers.ts, state.ts; problem.batch): mini-batch
// views against problems rebuilt from the rows, explicit-state optimizers (re-entrant, interleaved runs,
// saved and restored states), the training loop's statuses, and memory over 10 000 steps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix } from '../helpers.js';
import {
  adam,
  bernoulli,
  categorical,
  gaussian,
  gd,
  hessianFree,
  kfac,
  linear,
  linearProblem,
  mlp,
  ngd,
  ngdMC,
  problem,
  stochasticRun,
  UnknownOptionError,
  type Optimizer,
  type OptimizerState,
  type Problem,
  type ProblemOptions,
} from '../../bindings/index.js';
import { batchSchedule, train } from '../../bindings/optimizers/train.js';

function logistic(N = 50, d = 4): ProblemOptions {
  const X = randomMatrix(N, d, 11);
  const y = Float64Array.from({ length: N }, (_, n) => (X[n * d]! - 1.2 * X[n * d + 1]! + 0.3 * Math.sin(7 * n) > 0 ? 1 : 0));
  return { model: linear({ inputs: d, bias: true, core }), X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), priorVariance: 10 };
}

function classification(N = 40): ProblemOptions {
  const X = randomMatrix(N, 2, 3);
  const y = Float64Array.from({ length: N }, (_, n) => n % 3);
  return { model: mlp({ sizes: [2, 5, 3], activation: 'tanh', core }), X: { data: X, rows: N, cols: 2 }, y, likelihood: categorical({ classes: 3 }), priorVariance: 100 };
}

/** The problem on the rows `idx` of `spec`, built from scratch (what a batch view must equal). */
function rowsProblem(spec: ProblemOptions, idx: ArrayLike<number>): Problem {
  const X = spec.X as { data: Float64Array; rows: number; cols: number };
  const N = X.rows,
    d = X.cols,
    B = idx.length;
  const data = new Float64Array(B * d),
    y = new Float64Array(B);
  for (let r = 0; r < B; r++) {
    data.set(X.data.subarray(idx[r]! * d, (idx[r]! + 1) * d), r * d);
    y[r] = (spec.y as Float64Array)[idx[r]!]!;
  }
  return problem({ ...spec, X: { data, rows: B, cols: d }, y, priorVariance: (spec.priorVariance ?? Infinity) * (N / B) });
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${what}[${i}]: ${a[i]} ≠ ${b[i]}`);
}

test('batch views equal problems built from the same rows, bit for bit (linear dense, linear CSR, MLP)', () => {
  const specs: [string, ProblemOptions][] = [
    ['linear', logistic()],
    ['mlp', classification()],
  ];
  for (const [name, spec] of specs) {
    const p = problem(spec);
    const theta = Float64Array.from({ length: p.dim }, (_, i) => 0.1 * Math.sin(i + 1));
    for (const idx of [
      [3, 7, 8, 20],
      [0, 1, 2, 3],
      [5, 5, 9, 1],
      [2, 11, 19, 30, 31, 32, 33],
    ]) {
      const v = p.batch!(idx);
      const r = rowsProblem(spec, idx);
      assert.is(v.N, idx.length);
      sameBits([v.loss(theta)], [r.loss(theta)], `${name} loss on ${idx}`);
      sameBits(v.gradient(theta), r.gradient(theta), `${name} gradient on ${idx}`);
      sameBits(v.fisher(theta, { structure: 'diagonal' }), r.fisher(theta, { structure: 'diagonal' }), `${name} Fisher diagonal on ${idx}`);
      r.free();
    }
    assert.is(p.batch!(Array.from({ length: p.N }, (_, i) => i)), p, 'rows 0..N−1 in order are the problem itself');
    assert.throws(() => p.batch!([]), /empty/);
    assert.throws(
      () => p.batch!([0, p.N]),
      (e: unknown) => e instanceof RangeError && /indices\[1\] is 40|indices\[1\] is 50/.test((e as Error).message),
    );
    assert.throws(() => p.batch!([0.5]), /row number/);
    p.free();
  }
  // CSR inputs: the view is rebuilt per call, same numbers as a CSR problem on the rows.
  const N = 30,
    d = 6;
  const dense = randomMatrix(N, d, 4).map((x, i) => (i % 3 === 0 ? 0 : x));
  const indptr = new Int32Array(N + 1),
    indices: number[] = [],
    values: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < d; j++)
      if (dense[n * d + j] !== 0) {
        indices.push(j);
        values.push(dense[n * d + j]!);
      }
    indptr[n + 1] = indices.length;
  }
  const y = Float64Array.from({ length: N }, (_, n) => n % 2);
  const csr = linearProblem({ X: { rows: N, cols: d, indptr, indices: Int32Array.from(indices), values: Float64Array.from(values) }, y, likelihood: bernoulli(), bias: true, priorVariance: 5 });
  const theta = Float64Array.from({ length: csr.dim }, (_, i) => 0.2 * Math.cos(i));
  const idx = [1, 4, 9, 17, 29];
  const ref = problem({
    ...logistic(),
    model: linear({ inputs: d, bias: true, core }),
    X: { data: Float64Array.from(idx.flatMap((n) => [...dense.subarray(n * d, (n + 1) * d)])), rows: 5, cols: d },
    y: Float64Array.from(idx, (n) => y[n]!),
    priorVariance: 5 * (N / 5),
  });
  const v = csr.batch(idx);
  assert.ok(Math.abs(v.loss(theta) - ref.loss(theta)) <= 1e-15 * Math.abs(ref.loss(theta)) * 8);
  const g1 = v.gradient(theta),
    g2 = ref.gradient(theta);
  for (let i = 0; i < g1.length; i++) assert.ok(Math.abs(g1[i]! - g2[i]!) <= 1e-14 * (1 + Math.abs(g2[i]!)), `CSR view gradient[${i}]`);
  ref.free();
  csr.free();
  // 'sum' problems have no mini-batch view of other rows.
  const s = problem({ ...logistic(), reduction: 'sum' });
  assert.throws(() => s.batch!([0, 1]), /'sum'/);
  assert.is(s.batch!(Array.from({ length: s.N }, (_, i) => i)), s);
  s.free();
});

test('train with B < N equals a loop over problems rebuilt per batch, bit for bit (GD, Adam, KFAC, NGD-MC)', () => {
  const spec = classification(40);
  const theta0 = (spec.model as ReturnType<typeof mlp>).init(2);
  const makers: [string, (p: Problem) => Optimizer<OptimizerState>][] = [
    ['GD', (p) => gd(p, { lr: 0.3 })],
    ['Adam', (p) => adam(p, { lr: 0.05 }) as unknown as Optimizer],
    ['KFAC', (p) => kfac(p, { lr: 0.2, damping: 1e-2, ema: 0.5 }) as unknown as Optimizer],
    ['NGD-MC', (p) => ngdMC(p, { lr: 0.5, damping: 1e-2, samples: 2, seed: 4 })],
  ];
  const B = 12,
    epochs = 3,
    seed = 9;
  for (const [name, make] of makers) {
    const p = problem(spec);
    const rec = train(p, make(p), { theta0, batchSize: B, epochs, seed, recordTheta: true });
    assert.is(rec.status, 'ok', `${name}: ${rec.reason}`);
    // Reference: the old algorithm — a fresh problem per batch, the gradient recomputed on it.
    const batches = batchSchedule(p.N, B, epochs, seed).flat();
    let q = rowsProblem(spec, batches[0]!);
    const opt = make(q);
    let state = opt.init(theta0, q);
    for (let k = 0; k < batches.length; k++) {
      if (k > 0) {
        q.free();
        q = rowsProblem(spec, batches[k]!);
        state = opt.refresh(state, q);
      }
      sameBits([rec.batchLosses[k]!], [state.loss], `${name} batch loss ${k}`);
      state = opt.update(state, q).state;
      sameBits(rec.thetas![k]!, state.theta, `${name} θ after step ${k + 1}`);
    }
    q.free();
    assert.is(rec.losses.length, epochs + 1);
    assert.equal(rec.evaluations, [0, 40, 80, 120]);
    sameBits([rec.losses.at(-1)!], [p.loss(rec.theta)], `${name} final full loss`);
    p.free();
  }
});

test('train with B ≥ N is optimizer.run, bit for bit; evaluateEvery places the evaluations', () => {
  const spec = logistic();
  const p = problem(spec);
  const theta0 = new Float64Array(p.dim);
  for (const opt of [gd(p, { lr: 0.5 }), ngd(p, { lr: 1, damping: 1e-3 }), hessianFree(p, { damping: 1e-2, adaptiveDamping: true })]) {
    const ref = opt.run(theta0, { iterations: 6, record: { theta: true } });
    const rec = train(p, opt, { theta0, epochs: 6, recordTheta: true });
    for (let k = 0; k < 6; k++) sameBits(rec.thetas![k]!, ref.thetas![k + 1]!, `${opt.name} θ_${k + 1}`);
    sameBits(rec.losses, ref.losses, `${opt.name} losses`);
  }
  const rec = train(p, gd(p, { lr: 0.5 }), { theta0, epochs: 2, batchSize: 10, evaluateEvery: 3 });
  assert.equal(rec.steps, [0, 3, 6, 9, 10]);
  assert.equal(rec.evaluations, [0, 30, 60, 90, 100]);
  p.free();
});

test('optimizers are re-entrant: interleaved runs of one optimizer object equal separate runs', () => {
  const spec = classification(30);
  const p = problem(spec);
  const m = spec.model as ReturnType<typeof mlp>;
  for (const opt of [
    adam(p, { lr: 0.05 }) as unknown as Optimizer,
    kfac(p, { lr: 0.3, damping: 1e-2, ema: 0.8, updateEvery: 2 }) as unknown as Optimizer,
    hessianFree(p, { damping: 1, adaptiveDamping: true }),
  ]) {
    const a0 = m.init(1),
      b0 = m.init(2);
    const solo = (t0: Float64Array) => {
      let s = opt.init(t0);
      for (let k = 0; k < 5; k++) s = opt.update(s).state;
      return s;
    };
    const ra = solo(a0),
      rb = solo(b0);
    let sa = opt.init(a0),
      sb = opt.init(b0);
    for (let k = 0; k < 5; k++) {
      sa = opt.update(sa).state;
      sb = opt.update(sb).state;
    }
    sameBits(sa.theta, ra.theta, `${opt.name} run A interleaved`);
    sameBits(sb.theta, rb.theta, `${opt.name} run B interleaved`);
    assert.is(sa.damping, ra.damping);
  }
  p.free();
});

test('a saved state, through JSON text, continues the run exactly (update loop and train resume)', () => {
  const spec = classification(36);
  const p = problem(spec);
  const theta0 = (spec.model as ReturnType<typeof mlp>).init(3);
  for (const opt of [adam(p, { lr: 0.05 }) as unknown as Optimizer, kfac(p, { lr: 0.3, damping: 1e-2, ema: 0.7 }) as unknown as Optimizer, ngd(p, { lr: 0.5, damping: 1e-1, adaptiveDamping: true })]) {
    let s = opt.init(theta0);
    for (let k = 0; k < 4; k++) s = opt.update(s).state;
    const text = JSON.stringify(opt.saveState(s));
    let r = opt.loadState(text);
    let t = s;
    for (let k = 0; k < 4; k++) {
      t = opt.update(t).state;
      r = opt.update(r).state;
    }
    sameBits(r.theta, t.theta, `${opt.name} restored`);
    assert.is(r.damping, t.damping);
    // train: 2 epochs in one go = 1 epoch, save, resume for the second.
    const whole = train(p, opt, { theta0, batchSize: 10, epochs: 2, seed: 5 });
    const first = train(p, opt, { theta0, batchSize: 10, epochs: 1, seed: 5 });
    const saved = JSON.parse(JSON.stringify(opt.saveState(first.state)));
    const second = train(p, opt, { state: opt.loadState(saved), batchSize: 10, epochs: 2, seed: 5 });
    sameBits(second.theta, whole.theta, `${opt.name} resumed train`);
    assert.equal(second.steps, [4, 8]);
  }
  const g = gd(p, { lr: 0.1 });
  assert.throws(() => g.loadState(adam(p, { lr: 0.1 }).saveState(adam(p, { lr: 0.1 }).init(theta0))), /saved by Adam, not GD/);
  const q = problem(logistic());
  assert.throws(() => gd(q, { lr: 0.1 }).loadState(g.saveState(g.init(theta0))), /D = /);
  q.free();
  p.free();
});

test('divergence ends every run loop with a status (the catalogue case: relu MLP, GD lr 10, B = 1)', () => {
  const spec: ProblemOptions = { model: mlp({ sizes: [1, 1, 1], activation: 'relu', core }), X: [[1], [2]], y: Float64Array.of(1, -3), likelihood: gaussian() };
  const p = problem(spec);
  const theta0 = Float64Array.of(0.5, 0.1, 0.7, 0.2);
  const failed = train(p, gd(p, { lr: 10 }), { theta0, batchSize: 1, epochs: 300 });
  assert.is(failed.status, 'failed');
  assert.ok(failed.reason && failed.reason.length > 0);
  const stopped = train(p, gd(p, { lr: 10 }), { theta0, batchSize: 1, epochs: 300, divergenceFactor: 1e6 });
  assert.is(stopped.status, 'stopped');
  p.free();
  // stochasticRun (the catalogue's original report: it threw NonFiniteLossError out of the run).
  const rec = stochasticRun(spec, (q) => gd(q, { lr: 10 }), theta0, { batchSize: 1, epochs: 300 });
  assert.is(rec.status, 'failed');
  assert.is(rec.losses.at(-1), Infinity);
  assert.is(stochasticRun(spec, (q) => gd(q, { lr: 10 }), theta0, { batchSize: 1, epochs: 300, divergenceFactor: 10 }).status, 'stopped');
});

test('newcomer mistakes are errors that say what to do', () => {
  const p = problem(logistic());
  const theta0 = new Float64Array(p.dim);
  assert.throws(
    () => gd(p, { lr: 0.1, batchSize: 32, seed: 3 } as never),
    (e: unknown) => e instanceof UnknownOptionError && e.option === 'batchSize' && /train\(/.test(e.message) && /gd/.test(e.message),
  );
  assert.throws(
    () => ngd(p, { lr: 1, dampign: 1e-3 } as never),
    (e: unknown) => e instanceof UnknownOptionError && e.suggestion === 'damping' && /did you mean 'damping'/.test(e.message),
  );
  assert.throws(
    () => ngd(p, undefined as never),
    (e: unknown) => e instanceof TypeError && /ngd needs an options object/.test((e as Error).message) && /damping/.test((e as Error).message),
  );
  assert.throws(
    () => gd(p, { lr: 0.1 }).run(theta0, { iteration: 5 } as never),
    (e: unknown) => e instanceof UnknownOptionError && e.suggestion === 'iterations',
  );
  assert.throws(
    () => train(p, gd(p, { lr: 0.1 }), { theta0, epochs: 1, batchsize: 3 } as never),
    (e: unknown) => e instanceof UnknownOptionError && e.suggestion === 'batchSize',
  );
  assert.throws(() => train(p, gd(p, { lr: 0.1 }), { epochs: 1 } as never), /exactly one of theta0/);
  assert.throws(() => train(p, gd(p, { lr: 0.1 }), { theta0, epochs: Number.NaN }), /epochs must be an integer/);
  p.free();
  // A singular Fisher without damping: the run fails with a reason that names the fix.
  const X = [
    [1, 2],
    [2, 4],
    [3, 6],
  ];
  const q = problem({ model: linear({ inputs: 2, core }), X, y: Float64Array.of(0, 1, 1), likelihood: bernoulli() });
  const rec = ngd(q, { lr: 1 }).run(new Float64Array(2), { iterations: 3 });
  assert.is(rec.status, 'failed');
  assert.match(rec.reason!, /pass a damping > 0/);
  assert.match(rec.reason!, /NGD: the damped Fisher .* is not positive definite/);
  q.free();
});

test('10 000 mini-batch steps keep WebAssembly memory flat', () => {
  const spec = classification(24);
  const p = problem(spec);
  const opt = adam(p, { lr: 1e-3 });
  const theta0 = (spec.model as ReturnType<typeof mlp>).init(0);
  const warm = train(p, opt, { theta0, batchSize: 5, epochs: 20 });
  const before = core.memoryBytes;
  const rec = train(p, opt, { state: warm.state, batchSize: 5, epochs: 2020, evaluateEvery: 1000 });
  assert.is(rec.status, 'ok');
  assert.is(rec.state.iteration, 2020 * 5);
  assert.is(core.memoryBytes, before, 'memory grew over 10 000 steps');
  p.free();
});

test.run();
