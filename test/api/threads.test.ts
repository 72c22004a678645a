// The threaded core: results bitwise identical for 1, 2 and 3 threads (kernels with odd shapes
// and every split path, the MLP's curvatures, products and per-sample quantities, the linear
// problem), the split helpers, init/createCore options, and the pool's failure handling (a worker
// that traps or exits mid-kernel → ThreadError, single-threaded meanwhile, rebuilt).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bernoulli, categorical, createCore, currentThreads, gaussian, gram, init, linearProblem, Matrix, mlp, problem, SymMatrix, ThreadError, type Core } from '../../bindings/index.js';
import { splitRange, splitTriangle } from '../../bindings/core/parallel-kernels.js';
import { randomMatrix, threads, uniform, variant } from '../helpers.js';

const cores: Record<number, Core> = {
  1: await createCore({ variant, threads: 1 }),
  2: await createCore({ variant, threads: 2 }),
  3: await createCore({ variant, threads: 3 }),
};

/** Flatten any curvature result (SymMatrix, Float64Array, arrays and objects of those) to numbers. */
function flat(x: unknown): number[] {
  if (x instanceof SymMatrix) return Array.from(x.toDense());
  if (x instanceof Matrix) return Array.from(x.toDense().data);
  if (ArrayBuffer.isView(x)) return Array.from(x as Float64Array);
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return x.flatMap(flat);
  if (x && typeof x === 'object') {
    return Object.keys(x)
      .sort()
      .flatMap((k) => flat((x as Record<string, unknown>)[k]));
  }
  return [];
}

function assertSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.unreachable(`${what}: entry ${i} differs (${a[i]} vs ${b[i]})`);
  }
}

/** The dense Gram matrix of X (rows × cols) on core c; every handle freed. */
function gramOn(c: Core, X: Float64Array, rows: number, cols: number): Float64Array {
  const m = Matrix.from({ data: X, rows, cols }, 'X', c);
  const G = gram(m);
  const out = G.toDense();
  G.free();
  m.free();
  return out;
}

/** Run f on each core and assert the outputs (one array, or named arrays) are bitwise equal. */
function sameOnAll(what: string, f: (c: Core) => ArrayLike<number> | Record<string, ArrayLike<number>>): void {
  const T0 = performance.now();
  try {
    sameOnAll0(what, f);
  } finally {
    if (process.env.T) console.log(what, (performance.now() - T0).toFixed(0));
  }
}
function sameOnAll0(what: string, f: (c: Core) => ArrayLike<number> | Record<string, ArrayLike<number>>): void {
  const named = (x: ArrayLike<number> | Record<string, ArrayLike<number>>) =>
    'length' in x && typeof x.length === 'number' ? { '': x as ArrayLike<number> } : (x as Record<string, ArrayLike<number>>);
  const ref = named(f(cores[1]!));
  for (const [k, v] of Object.entries(ref)) assert.ok(v.length > 0, `${what} ${k}: no output`);
  for (const t of [2, 3]) {
    const got = named(f(cores[t]!));
    assert.equal(Object.keys(got), Object.keys(ref));
    for (const k of Object.keys(ref)) assertSame(got[k]!, ref[k]!, `${what} ${k} (${t} threads)`);
  }
}

test('the cores report their threads; init validates the option; createCore defaults to one thread', async () => {
  assert.is(cores[1]!.threads, 1);
  assert.is(cores[2]!.threads, 2);
  assert.is(cores[3]!.threads, 3);
  assert.is((await createCore({ variant })).threads, 1);
  assert.is(currentThreads(), threads);
  for (const bad of [0, 1.5, 65, -1, Number.NaN, '2']) {
    try {
      await createCore({ variant, threads: bad as number });
      assert.unreachable(`threads ${String(bad)} accepted`);
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, /threads/);
    }
  }
});

test('splitRange and splitTriangle cover their range exactly, on the required boundaries', () => {
  const rnd = uniform(5);
  for (let trial = 0; trial < 300; trial++) {
    const total = 1 + Math.floor(rnd() * 3000),
      parts = 1 + Math.floor(rnd() * 6),
      q = [1, 2, 4][trial % 3]!;
    const r = splitRange(total, parts, q);
    assert.ok(r.length >= 1 && r.length <= parts);
    assert.is(r[0]![0], 0);
    assert.is(r[r.length - 1]![1], total);
    for (let i = 0; i < r.length; i++) {
      assert.ok(r[i]![1] > r[i]![0], 'non-empty');
      if (i > 0) assert.is(r[i]![0], r[i - 1]![1]);
      if (i + 1 < r.length) assert.is(r[i]![1] % q, 0, 'boundary on the quantum');
    }
    const d = 1 + Math.floor(rnd() * 1500);
    const t = splitTriangle(d, parts);
    assert.is(t[0]![0], 0);
    assert.is(t[t.length - 1]![1], d);
    for (let i = 0; i < t.length; i++) {
      assert.ok(t[i]![1] > t[i]![0]);
      if (i > 0) assert.is(t[i]![0], t[i - 1]![1]);
      if (i + 1 < t.length) assert.is(t[i]![1] % 4, 0, 'panel boundary');
    }
  }
  // Balanced by area: two shares of a 256-column triangle each hold about half the entries.
  const [[, j]] = [splitTriangle(256, 2)[0]!];
  const area = (a: number, b: number) => ((b - a) * (2 * 256 - a - b + 1)) / 2;
  const ratio = area(0, j!) / area(0, 256);
  assert.ok(ratio > 0.45 && ratio < 0.55, `first share holds ${ratio} of the triangle`);
});

test('dgemm: every transpose, row and column splits, odd shapes, beta ≠ 0 — identical for 1, 2, 3 threads', () => {
  const shapes: [number, number, number][] = [
    [1037, 129, 75], // tall: rows split
    [67, 901, 83], // wide: columns split
    [513, 257, 2], // short k
    [6, 5000, 40], // few rows, wide
    [20000, 3, 9], // many rows, thin
  ];
  for (const [m, n, k] of shapes) {
    const A = randomMatrix(m, k, m + n),
      B = randomMatrix(k, n, k + 1),
      C0 = randomMatrix(m, n, 3);
    for (const tA of [0, 1])
      for (const tB of [0, 1])
        sameOnAll(`dgemm ${m}×${n}×${k} tA=${tA} tB=${tB}`, (c) => {
          const e = c.exports;
          const a = c.allocCopy(A),
            b = c.allocCopy(B),
            cc = c.allocCopy(C0);
          e.dgemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, tA + tB === 1 ? -0.5 : 0, cc, n);
          const out = Array.from(c.f64(cc, m * n));
          for (const p of [a, b, cc]) c.free(p);
          return out;
        });
  }
});

test('Gram / Fisher kernel: d below, at and past the 1020-column blocking, weights with a stride — identical for 1, 2, 3 threads', () => {
  for (const [N, d] of [
    [5000, 9],
    [3001, 64],
    [777, 255],
    [513, 1031],
  ] as [number, number][]) {
    const X = randomMatrix(N, d, d);
    const w = Float64Array.from({ length: 2 * N }, (_, i) => 0.25 + (i % 7));
    sameOnAll(`gram ${N}×${d}`, (c) => gramOn(c, X, N, d));
    sameOnAll(`weighted gram ${N}×${d} (incw 2)`, (c) => {
      const e = c.exports;
      const x = c.allocCopy(X),
        pw = c.allocCopy(w),
        C = c.alloc(8 * d * d);
      c.f64(C, d * d).fill(0.5); // accumulates into C
      e.dsyrkLower(N, d, x, d, pw, 2, C, d);
      const out = Array.from(c.f64(C, d * d));
      for (const p of [x, pw, C]) c.free(p);
      return out;
    });
  }
});

test('count-rule kernels (kernels.ts): element ranges on even offsets, absent pointers, column ranges, per-sample sizes that are not a product — split, and identical for 1, 2, 3 threads', () => {
  const rnd = uniform(11);
  const data = (n: number) => Float64Array.from({ length: n }, () => 4 * rnd() - 2);
  /** Run `body` on core c with the inputs copied in; returns the output arrays; asserts the threaded cores split the call. */
  const kernelOn = (c: Core, inputs: Float64Array[], outputs: number[], body: (e: Core['exports'], p: number[], q: number[]) => void) => {
    const p = inputs.map((x) => c.allocCopy(x));
    const q = outputs.map((n) => c.allocCopy(new Float64Array(n).fill(0.5)));
    let runs = 0;
    const pool = c.pool;
    const run = pool?.run;
    if (pool && run) {
      pool.run = (s) => {
        runs++;
        run.call(pool, s);
      };
    }
    try {
      body(c.exports, p, q);
    } finally {
      if (pool && run) pool.run = run;
    }
    if (pool) assert.ok(runs > 0, `not split on ${c.threads} threads`);
    const out = Object.fromEntries(q.map((ptr, i) => [String(i), Array.from(c.f64(ptr, outputs[i]!))]));
    for (const ptr of [...p, ...q]) c.free(ptr);
    return out;
  };
  const n = 70001; // odd: the 2-lane loops' tail lands in the last share
  const z = data(n);
  for (const kind of [0, 1, 2, 3, 4, 5]) {
    sameOnAll(`actForward kind ${kind}, σ' only`, (c) => kernelOn(c, [z], [n, n], (e, [pz], [pa, pd1]) => e.actForward(kind, n, pz!, pa!, pd1!, 0)));
  }
  sameOnAll('actForward tanh, σ′ and σ″', (c) => kernelOn(c, [z], [n, n, n], (e, [pz], [pa, pd1, pd2]) => e.actForward(1, n, pz!, pa!, pd1!, pd2!)));
  const zd = data(n);
  sameOnAll('tanhSecond', (c) => kernelOn(c, [z, zd], [n], (e, [pa, pd1], [pd2]) => e.tanhSecond(n, pa!, pd1!, pd2!)));
  const d1 = data(n),
    x1 = data(n),
    dB = data(2001),
    xB = data(37 * 2001),
    xCol = data(300 * 305),
    bias = data(13),
    xPair = data(500 * 3 * 9),
    xSq = data(2000 * 3 * 11);
  sameOnAll('denseMul, one block', (c) => kernelOn(c, [d1, x1], [n], (e, [pd, px], [po]) => e.denseMul(1, n, pd!, px!, po!)));
  sameOnAll('denseMul, 37 blocks', (c) => kernelOn(c, [dB, xB], [37 * 2001], (e, [pd, px], [po]) => e.denseMul(37, 2001, pd!, px!, po!)));
  sameOnAll('denseColSums, odd columns, ldx > o', (c) => kernelOn(c, [xCol], [301], (e, [px], [po]) => e.denseColSums(300, 301, px!, 305, 0.5, po!)));
  sameOnAll('denseBroadcastRows', (c) => kernelOn(c, [bias], [9000 * 13], (e, [pb], [pc]) => e.denseBroadcastRows(9000, 13, pb!, pc!)));
  sameOnAll('densePairOuterLower (out advances by p(p+1)/2 per sample)', (c) => kernelOn(c, [xPair], [500 * 45], (e, [px], [po]) => e.densePairOuterLower(500, 3, 9, px!, po!)));
  sameOnAll('denseRowSqSums', (c) => kernelOn(c, [xSq], [2000 * 11], (e, [px], [po]) => e.denseRowSqSums(2000, 3, 11, px!, po!)));
});

test('an MLP: forward, jvp, vjp, products, every curvature and structure, per-sample gradients — identical for 1, 2, 3 threads', () => {
  for (const activation of ['tanh', 'relu', 'gelu'] as const) {
    const N = 600;
    const big = (c: Core) => {
      const model = mlp({ sizes: [48, 96, 96, 10], activation, core: c });
      const X = randomMatrix(N, 48, 1);
      const y = Array.from({ length: N }, (_, i) => i % 10);
      return { model, p: problem({ model, X: { data: X, rows: N, cols: 48 }, y, likelihood: categorical({ classes: 10 }), priorVariance: 10 }), theta: model.init(2) };
    };
    sameOnAll(`${activation}: loss, gradient, GGN/Hessian/Fisher-vector products, jvp, vjp`, (c) => {
      const { model, p, theta } = big(c);
      const v = Float64Array.from({ length: model.dim }, (_, i) => Math.sin(i));
      const trace = model.forward(theta, randomMatrix(N, 48, 1), N);
      const G = p.perSampleGradients(theta, { resident: true });
      const out = {
        lossAndGradient: flat(p.lossAndGradient(theta)),
        ggnVectorProduct: p.ggnVectorProduct(theta, v),
        hessianVectorProduct: p.hessianVectorProduct(theta, v),
        fisherVectorProduct: p.fisherVectorProduct(theta, v),
        jvp: trace.jvp(v),
        vjp: trace.vjp(Float64Array.from({ length: N * 10 }, (_, i) => Math.cos(i))),
        ggnMatmat: p.curvatureOperator(theta, { kind: 'ggn' }).matmat(
          Float64Array.from({ length: 3 * model.dim }, (_, i) => Math.sin(0.1 * i)),
          3,
        ),
        hessianMatmat: p.curvatureOperator(theta, { kind: 'hessian' }).matmat(
          Float64Array.from({ length: 2 * model.dim }, (_, i) => Math.cos(0.3 * i)),
          2,
        ),
        perSampleGradients: G.toDense().data,
        ggnDiagonal: flat(p.ggn(theta, { structure: 'diagonal' })),
        ggnKfac: flat(p.ggn(theta, { structure: 'kfac' })),
      };
      G.free();
      trace.free();
      p.free();
      return out;
    });
  }
  sameOnAll('dense GGN, Fisher, EF, Hessian, MC Fisher, gradient covariance of a [16, 24, 24, 5] MLP', (c) => {
    const N = 300;
    const model = mlp({ sizes: [16, 24, 24, 5], activation: 'tanh', core: c });
    const p = problem({ model, X: { data: randomMatrix(N, 16, 4), rows: N, cols: 16 }, y: Array.from({ length: N }, (_, i) => i % 5), likelihood: categorical({ classes: 5 }) });
    const th = model.init(1);
    const out: Record<string, Float64Array> = {};
    out.efBlock = Float64Array.from(flat(p.empiricalFisher(th, { structure: 'block' })));
    out.fisherKfac = Float64Array.from(flat(p.fisher(th, { structure: 'kfac' })));
    const all = {
      ggn: p.ggn(th),
      fisher: p.fisher(th),
      empiricalFisher: p.empiricalFisher(th),
      hessian: p.hessian(th),
      fisherMC: p.fisherMC(th, { samples: 2, seed: 3 }),
      gradientCovariance: p.gradientCovariance(th),
    };
    for (const [k, m] of Object.entries(all)) {
      out[k] = m.toDense();
      m.free();
    }
    p.free();
    return out;
  });
  sameOnAll('regression MLP (gaussian, 3 outputs): GGN and Hessian', (c) => {
    const N = 400;
    const model = mlp({ sizes: [10, 40, 3], activation: 'sigmoid', core: c });
    const p = problem({ model, X: { data: randomMatrix(N, 10, 8), rows: N, cols: 10 }, y: randomMatrix(N, 3, 9), likelihood: gaussian({ outputs: 3 }) });
    const th = model.init(5);
    return { ggn: p.ggn(th).toDense(), hessian: p.hessian(th).toDense() };
  });
});

test('the linear problem (paper) on a threaded default core: Fisher, EF and the damped NGD direction are the one-thread values', async () => {
  const N = 4000,
    d = 60;
  const X = randomMatrix(N, d, 12);
  const y = Array.from({ length: N }, (_, i) => (Math.sin(i) > 0 ? 1 : 0));
  const run = () => {
    const p = linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), priorVariance: 1 });
    const th = Float64Array.from({ length: d }, (_, i) => 0.01 * i);
    const F = p.fisher(th),
      E = p.empiricalFisher(th);
    const out = [F.toDense(), E.toDense(), F.solve(p.gradient(th), { damping: 1e-3 })].flatMap((a) => Array.from(a));
    F.free();
    E.free();
    p.free();
    return out;
  };
  try {
    await init({ variant, threads: 1 });
    const one = run();
    await init({ variant, threads: 2 });
    assert.is(currentThreads(), 2);
    assertSame(run(), one, 'linear problem, 2 threads');
  } finally {
    await init({ variant, threads });
  }
});

test('a worker that traps, exits or is terminated from outside in the middle of a kernel: ThreadError (no hang), one thread meanwhile (same results), pool rebuilt', async () => {
  const c = await createCore({ variant, threads: 2 });
  const N = 3000,
    d = 96;
  const X = randomMatrix(N, d, 2);
  const ref = gramOn(cores[1]!, X, N, d);
  for (const mode of ['trap', 'exit', 'terminate'] as const) {
    assert.is(c.threads, 2);
    let err: unknown;
    try {
      c.pool!.crashForTesting(mode);
    } catch (e) {
      err = e;
    }
    assert.instance(err, ThreadError, `${mode}: a ThreadError`);
    assert.is((err as ThreadError).kind, mode === 'trap' ? 'trap' : 'exit');
    assert.match((err as Error).message, /rebuilt/);
    assert.is(c.threads, 1, `${mode}: one thread while the pool is rebuilt`);
    assertSame(gramOn(c, X, N, d), ref, `${mode}: gram on one thread meanwhile`);
    await c.pool!.ready;
    assert.is(c.threads, 2, `${mode}: rebuilt`);
    assertSame(gramOn(c, X, N, d), ref, `${mode}: gram on the rebuilt pool`);
  }
  // Terminated between calls: the next call finds it dead, runs on this thread (same bits), and the
  // pool is rebuilt.
  c.pool!.crashForTesting('idle');
  for (let i = 0; i < 100 && c.threads === 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(c.threads, 1, 'idle death noticed');
  assertSame(gramOn(c, X, N, d), ref, 'idle death: gram on one thread');
  await c.pool!.ready;
  assert.is(c.threads, 2, 'idle death: rebuilt');
  assertSame(gramOn(c, X, N, d), ref, 'idle death: gram on the rebuilt pool');
  // close(): the workers stop, their workspaces are freed, the core goes on with one thread.
  c.pool!.close();
  assert.is(c.threads, 1);
  assertSame(gramOn(c, X, N, d), ref, 'after close');
});

test.after(() => {
  for (const t of [2, 3]) cores[t]!.pool!.close();
});

test.run();
