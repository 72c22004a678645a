// Hardening: scale. Streaming accumulators (sharded = unsharded to 1e-12, through bytes too; 10⁶
// rows × 64 through bounded memory), parallelGram across worker threads (from the TS sources and
// from dist/), and shapes past the 32-bit address space refused up front on every allocation path.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  fisherAccumulator,
  empiricalFisherAccumulator,
  CurvatureAccumulator,
  linearProblem,
  gram,
  outerProducts,
  parallelGram,
  Matrix,
  SymMatrix,
  gaussian,
  bernoulli,
  categorical,
  poisson,
  core as defaultCore,
  type Likelihood,
  type CsrMatrix,
  type DenseMatrix,
} from '../../bindings/index.js';
import { normals, randomMatrix, reductionTol, relErr, uniform, variant } from '../helpers.js';

const ROWS = Number(process.env.NATGRAD_STREAM_ROWS ?? 1_000_000);

interface Case {
  name: string;
  lik: Likelihood;
  label: (u: () => number) => number;
}
const cases: Case[] = [
  { name: 'gaussian', lik: gaussian({ variance: 0.5 }), label: (u) => 4 * u() - 2 },
  { name: 'bernoulli', lik: bernoulli(), label: (u) => (u() < 0.4 ? 1 : 0) },
  { name: 'categorical', lik: categorical({ classes: 4 }), label: (u) => Math.floor(4 * u()) },
  { name: 'poisson', lik: poisson(), label: (u) => Math.floor(5 * u()) },
];

function toCsr(X: Float64Array, rows: number, cols: number): CsrMatrix {
  const indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++)
      if (X[i * cols + j] !== 0) {
        indices.push(j);
        values.push(X[i * cols + j]!);
      }
    indptr.push(indices.length);
  }
  return { rows, cols, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), values: Float64Array.from(values) };
}
function rowsOf(X: Float64Array, d: number, a: number, b: number): DenseMatrix {
  return { data: X.subarray(a * d, b * d), rows: b - a, cols: d };
}
function csrRows(c: CsrMatrix, a: number, b: number): CsrMatrix {
  const p0 = c.indptr[a]!,
    p1 = c.indptr[b]!;
  return {
    rows: b - a,
    cols: c.cols,
    indptr: Int32Array.from((c.indptr as Int32Array).subarray(a, b + 1), (p) => p - p0),
    indices: (c.indices as Int32Array).slice(p0, p1),
    values: (c.values as Float64Array).slice(p0, p1),
  };
}

test('sharded accumulators (3 shards, random batch sizes, merged in memory and through bytes) = linearProblem(...).fisher/empiricalFisher to 1e-12', () => {
  const u = uniform(5),
    g = normals(6);
  for (const c of cases)
    for (const sparse of [false, true])
      for (const bias of [false, true]) {
        const N = 157,
          d = 6;
        const X = Float64Array.from({ length: N * d }, () => (sparse && u() < 0.5 ? 0 : 0.7 * g()));
        const y = Float64Array.from({ length: N }, () => c.label(u));
        const csr = sparse ? toCsr(X, N, d) : undefined;
        const p = linearProblem({ X: csr ?? { data: X, rows: N, cols: d }, y, likelihood: c.lik, bias });
        const theta = Float64Array.from({ length: p.dim }, () => 0.3 * g());
        for (const kind of ['fisher', 'empiricalFisher'] as const) {
          const make = () => (kind === 'fisher' ? fisherAccumulator : empiricalFisherAccumulator)({ theta, likelihood: c.lik, inputs: d, bias });
          const shards = [make(), make(), make()];
          // random batch sizes (0, 1, …), each batch to a random shard
          for (let a = 0; a < N; ) {
            const b = Math.min(N, a + Math.floor(u() * 25));
            shards[Math.floor(u() * 3)]!.add(csr ? csrRows(csr, a, b) : rowsOf(X, d, a, b), y.subarray(a, b));
            a = b;
          }
          const viaBytes = CurvatureAccumulator.fromBytes(shards[1]!.toBytes());
          const total = shards[0]!.merge(viaBytes).merge(CurvatureAccumulator.fromBytes(shards[2]!.toBytes().slice().buffer));
          assert.is(total.count, N);
          const tag = `${c.name} ${sparse ? 'csr' : 'dense'}${bias ? ' + bias' : ''} ${kind}`;
          for (const reduction of ['mean', 'sum'] as const) {
            const ref = linearProblem({ X: csr ?? { data: X, rows: N, cols: d }, y, likelihood: c.lik, bias, reduction });
            const R = ref[kind](theta),
              A = total.result({ reduction });
            const err = relErr(A.toDense(), R.toDense());
            assert.ok(err <= 1e-12, `${tag} ${reduction}: relative error ${err}`);
            const Ad = A.toDense();
            for (let i = 0; i < p.dim; i++) for (let j = 0; j < i; j++) assert.is(Ad[i * p.dim + j], Ad[j * p.dim + i], `${tag}: symmetric`);
            R.free();
            A.free();
            ref.free();
          }
          // bytes round-trip bit for bit
          const bytes = total.toBytes();
          const back = CurvatureAccumulator.fromBytes(bytes);
          assert.equal(Array.from(back.toBytes()), Array.from(bytes), `${tag}: toBytes ∘ fromBytes`);
          for (const h of [...shards, viaBytes, back]) h.free();
        }
        p.free();
      }
});

test('accumulators take resident Matrix batches, also from another core, and merge across cores', async () => {
  const { createCore } = await import('../../bindings/index.js');
  const other = await createCore({ variant });
  const N = 40,
    d = 3;
  const X = randomMatrix(N, d, 3),
    y = Float64Array.from({ length: N }, (_, i) => i % 2);
  const theta = [0.2, -0.1, 0.4, 0.05];
  const ref = linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), bias: true });
  const F = ref.fisher(theta);
  const here = Matrix.from({ data: X.slice(0, 20 * d), rows: 20, cols: d });
  const there = Matrix.from({ data: X.slice(20 * d), rows: 20, cols: d }, 'X', other);
  const a = fisherAccumulator({ theta, likelihood: bernoulli(), inputs: d, bias: true });
  a.add(here, y.subarray(0, 20)).add(there, y.subarray(20));
  const b = CurvatureAccumulator.fromBytes(a.toBytes(), other); // an accumulator living in the other core
  const R = a.result(),
    Rb = b.merge(fisherAccumulator({ theta, likelihood: bernoulli(), inputs: d, bias: true })).result();
  assert.ok(relErr(R.toDense(), F.toDense()) < 1e-14);
  assert.ok(relErr(Rb.toDense(), F.toDense()) < 1e-14);
  assert.is(Rb.core, other);
  for (const h of [ref, F, here, there, a, b, R, Rb]) h.free();
});

test('the byte format: documented little-endian header (magic, version, kind, likelihood, d, bias, D, N)', () => {
  const acc = empiricalFisherAccumulator({ theta: [1, 2, 3, 4, 5, 6], likelihood: categorical({ classes: 3 }), inputs: 1, bias: true });
  acc.add([[0.5], [-1]], [2, 0]);
  const b = acc.toBytes();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(Array.from(b.subarray(0, 4)), [0x4e, 0x47, 0x41, 0x43]);
  assert.is(v.getUint16(4, true), 1);
  assert.is(v.getUint8(6), 2); // empirical Fisher
  assert.is(v.getUint8(7), 3); // categorical
  assert.is(v.getFloat64(8, true), 3); // classes
  assert.is(v.getUint32(16, true), 1); // d
  assert.is(v.getUint8(20), 1); // bias
  assert.is(v.getUint32(24, true), 6); // D
  assert.is(v.getFloat64(32, true), 2); // N
  assert.is(b.length, 40 + 8 * 6 + 4 * 6 * 7);
  assert.is(v.getFloat64(40 + 8 * 5, true), 6); // θ[5]
  // corrupt each header field: a RangeError naming it
  for (const [off, val, word] of [
    [0, 0, 'magic'],
    [4, 2, 'version'],
    [6, 9, 'kind'],
    [7, 9, 'likelihood'],
    [20, 5, 'bias'],
    [24, 7, 'D = 7'],
  ] as const) {
    const bad = b.slice();
    bad[off] = val;
    try {
      CurvatureAccumulator.fromBytes(bad);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, word);
    }
  }
  const nan = b.slice();
  new DataView(nan.buffer).setFloat64(40 + 8 * 6, NaN, true);
  try {
    CurvatureAccumulator.fromBytes(nan);
    assert.unreachable('accepted');
  } catch (e) {
    assert.match((e as Error).message, 'C[0][0] is not finite');
  }
  acc.free();
});

test(`streaming ${ROWS} rows × 64 inputs in batches keeps WASM memory bounded and gives F ≈ I`, () => {
  const d = 64,
    batch = 4096;
  const theta = new Float64Array(d + 1);
  const acc = fisherAccumulator({ theta, likelihood: gaussian(), inputs: d, bias: true });
  const ef = empiricalFisherAccumulator({ theta, likelihood: gaussian(), inputs: d, bias: true });
  // xorshift32 → uniform on [−√3, √3): mean 0, variance 1, generated on the fly
  let s = 2463534242 >>> 0;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296 - 0.5) * 2 * Math.sqrt(3);
  };
  const X = new Float64Array(batch * d),
    y = new Float64Array(batch);
  const t0 = performance.now();
  let plateau = 0;
  for (let done = 0, b = 0; done < ROWS; b++) {
    const n = Math.min(batch, ROWS - done);
    for (let i = 0; i < n * d; i++) X[i] = next();
    for (let i = 0; i < n; i++) y[i] = next();
    const Xb = { data: X.subarray(0, n * d), rows: n, cols: d };
    acc.add(Xb, y.subarray(0, n));
    if (b % 8 === 0) ef.add(Xb, y.subarray(0, n)); // the EF on every 8th batch
    done += n;
    if (b === 2) plateau = defaultCore().memoryBytes;
  }
  const seconds = (performance.now() - t0) / 1000;
  assert.is(acc.count, ROWS);
  assert.is(defaultCore().memoryBytes, plateau, `WASM memory grew from ${plateau} to ${defaultCore().memoryBytes} while streaming`);
  assert.ok(plateau < 64 * 2 ** 20, `WASM memory ${plateau} bytes for a ${8 * batch * d}-byte batch`);
  const F = acc.result().toDense(),
    D = d + 1;
  let worst = 0;
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) worst = Math.max(worst, Math.abs(F[i * D + j]! - (i === j ? 1 : 0)));
  assert.ok(worst < 8 / Math.sqrt(ROWS), `max |F − I| = ${worst}`);
  const E = ef.result().toDense(); // y ⟂ x, r = −y: E[r² x xᵀ] = E[y²] I = I
  let worstE = 0;
  for (let i = 0; i < D; i++) worstE = Math.max(worstE, Math.abs(E[i * D + i]! - 1));
  assert.ok(worstE < 16 / Math.sqrt(ef.count), `max |diag(F̃) − 1| = ${worstE}`);
  console.log(`      streamed ${ROWS} rows × ${d} in ${seconds.toFixed(2)} s (${(ROWS / seconds / 1e6).toFixed(2)} M rows/s), WASM memory ${plateau / 2 ** 20} MiB`);
  acc.free();
  ef.free();
});

test('parallelGram equals gram bit for bit when X fits, and streams larger X in chunks: dense, weighted, CSR, SharedArrayBuffer data, more workers than rows', async () => {
  const N = 1203,
    d = 17;
  const X = randomMatrix(N, d, 9);
  const w = Float64Array.from({ length: N }, (_, i) => 0.5 + Math.sin(i) ** 2);
  const ref = gram({ data: X, rows: N, cols: d }, w);
  const P = await parallelGram({ data: X, rows: N, cols: d }, w, { workers: 3 });
  assert.equal(Array.from(P.toDense()), Array.from(ref.toDense()), 'fits: gram itself');
  // Streamed (what X larger than one WebAssembly block takes): chunks of 50 rows summed in order.
  const streamed = await parallelGram({ data: X, rows: N, cols: d }, w, { chunkBytes: 8 * d * 50, stream: true });
  assert.ok(relErr(streamed.toDense(), ref.toDense()) < reductionTol(N, 1), 'streamed dense weighted');
  const shared = new Float64Array(new SharedArrayBuffer(8 * N * d));
  shared.set(X);
  const sparse = X.map((v, i) => (i % 3 ? 0 : v));
  const csr = toCsr(sparse, N, d);
  const [S, C] = await Promise.all([parallelGram({ data: shared, rows: N, cols: d }, w, { stream: true }), parallelGram(csr, undefined, { chunkBytes: 800, stream: true })]);
  assert.ok(relErr(S.toDense(), ref.toDense()) < reductionTol(N, 1), 'shared memory');
  const refC = gram(csr);
  assert.ok(relErr(C.toDense(), refC.toDense()) < reductionTol(N, 1), 'csr');
  const tiny = await parallelGram(
    [
      [1, 2],
      [3, 4],
    ],
    undefined,
    { workers: 5 },
  );
  assert.equal(Array.from(tiny.toDense()), [10, 14, 14, 20]);
  const empty = await parallelGram({ data: new Float64Array(0), rows: 0, cols: 3 }, undefined, { stream: true });
  assert.equal(Array.from(empty.toDense()), new Array(9).fill(0));
  for (const h of [ref, P, streamed, S, C, refC, tiny, empty]) h.free();
});

test('the threaded core from the compiled dist/ (plain node: workers run core/thread-worker.js) equals one thread bit for bit', () => {
  const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
  if (!existsSync(`${dist}core/thread-worker.js`) || !existsSync(`${dist}problem/accumulator.js`)) {
    // npm install builds dist/; under CI a missing build is a failure, not a skip.
    if (process.env.CI) assert.unreachable('dist/ is not built (dist/core/thread-worker.js, dist/problem/accumulator.js): run `npm run build:ts`');
    console.log('      (dist/ is not built: run `npm run build:ts`; skipped)');
    return;
  }
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const flags = variant === 'relaxed-simd' && nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
  const script = `
    const { init, createCore, currentThreads, gram, parallelGram, fisherAccumulator, gaussian, Matrix } = await import(${JSON.stringify(`${dist}index.js`)});
    const r = await init({ variant: ${JSON.stringify(variant)}, threads: 2 });
    const one = await createCore({ variant: ${JSON.stringify(variant)} });
    const N = 2999, d = 61, data = Float64Array.from({ length: N * d }, (_, i) => Math.sin(i * 0.7));
    const a = gram({ data, rows: N, cols: d }).toDense();
    const b = (await parallelGram({ data, rows: N, cols: d })).toDense();
    const c = gram(Matrix.from({ data, rows: N, cols: d }, 'X', one)).toDense();
    let same = true; for (let i = 0; i < a.length; i++) same = same && Object.is(a[i], b[i]) && Object.is(a[i], c[i]);
    const acc = fisherAccumulator({ theta: new Float64Array(d), likelihood: gaussian(), inputs: d });
    acc.add({ data, rows: N, cols: d }, new Float64Array(N));
    const f = acc.result({ reduction: 'sum' }).toDense();
    let e2 = 0; for (let i = 0; i < a.length; i++) e2 = Math.max(e2, Math.abs(a[i] - f[i]) / Math.abs(a[i] || 1));
    console.log(JSON.stringify({ threads: r.threads, current: currentThreads(), same, e2 }));`;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal({ threads: out.threads, current: out.current, same: out.same }, { threads: 2, current: 2, same: true });
  assert.ok(out.e2 < reductionTol(2999, 1), `fisherAccumulator differs from gram: ${out.e2}`);
});

test('shapes past the 32-bit address space are refused up front on every allocation path (nothing allocated)', async () => {
  const lazy = (rows: number, cols: number) =>
    ({
      rows,
      cols,
      get data(): Float64Array {
        throw new Error('data read before the size check');
      },
    }) as unknown as DenseMatrix;
  const wideCsr: CsrMatrix = { rows: 2, cols: 2 ** 17, indptr: [0, 1, 2], indices: [3, 2 ** 17 - 1], values: [1, 2] }; // Gram 2¹⁷² · 8 = 128 GiB
  const before = defaultCore().memoryBytes;
  const paths: [string, () => unknown, RegExp][] = [
    ['Matrix.from dense 2²⁵ × 2⁶ (16 GiB)', () => Matrix.from(lazy(2 ** 25, 64)), /X: 33554432 × 64 doubles needs 16\.0 GiB.*mini-batches/],
    ['Matrix.from dense rows·cols past 2⁵³', () => Matrix.from(lazy(2 ** 40, 2 ** 20)), /X: .* needs .*GiB/],
    [
      'Matrix.from number[][] of 2²⁷ × 2 (lazy rows)',
      () => Matrix.from(new Proxy([[1, 2]], { get: (t, k) => (k === 'length' ? 2 ** 27 : Reflect.get(t, k)) }) as number[][]),
      /X: 134217728 × 2 doubles/,
    ],
    ['Matrix.from CSR with 2²⁸ row pointers', () => Matrix.from({ rows: 2 ** 28, cols: 2, indptr: [0], indices: [], values: [] }), /X\.indptr: 268435456 \+ 1 row pointers needs 1\.0 GiB/],
    ['gram of a CSR with 2¹⁷ columns', () => gram(wideCsr), /Gram matrix of d columns \(131072 × 131072 doubles\) needs 128\.0 GiB.*diagonal/],
    ['outerProducts of 16 GiB rows', () => outerProducts(lazy(2 ** 25, 64)), /16\.0 GiB/],
    ['linearProblem on 16 GiB rows', () => linearProblem({ X: lazy(2 ** 25, 64), y: [], likelihood: gaussian() }), /X: 33554432 × 64/],
    ['linearProblem dense Fisher, D = 2¹⁷', () => linearProblem({ X: wideCsr, y: [1, 2], likelihood: gaussian() }), /D = 131072 parameters|dense D × D/],
    [
      'dense curvature of D = 3·12000',
      () => {
        const p = linearProblem({ X: { rows: 1, cols: 12000, indptr: [0, 1], indices: [5], values: [1] }, y: [1], likelihood: categorical({ classes: 3 }) });
        try {
          return p.empiricalFisher(new Float64Array(p.dim));
        } finally {
          p.free();
        }
      },
      /36000 × 36000 doubles\) needs 9\.7 GiB.*structure 'diagonal'/,
    ],
    [
      'gradientCovariance of D = 36000',
      () => {
        const p = linearProblem({ X: { rows: 1, cols: 12000, indptr: [0, 1], indices: [5], values: [1] }, y: [1], likelihood: categorical({ classes: 3 }) });
        try {
          return p.gradientCovariance(new Float64Array(p.dim));
        } finally {
          p.free();
        }
      },
      /gradient covariance/,
    ],
    ['SymMatrix.from 2¹⁵ × 2¹⁵', () => SymMatrix.from(lazy(2 ** 15, 2 ** 15)), /A: 32768 × 32768 doubles needs 8\.0 GiB.*diagonal/],
    ['fisherAccumulator with D = 2¹⁵', () => fisherAccumulator({ theta: new Float64Array(2 ** 15), likelihood: gaussian(), inputs: 2 ** 15 }), /D = 32768/],
    ['empiricalFisherAccumulator with D = 4·2¹³ (categorical)', () => empiricalFisherAccumulator({ theta: [], likelihood: categorical({ classes: 4 }), inputs: 2 ** 13 }), /D = 32768/],
    [
      'accumulator batch of 16 GiB',
      () => {
        const a = fisherAccumulator({ theta: new Float64Array(64), likelihood: gaussian(), inputs: 64 });
        try {
          return a.add(lazy(2 ** 25, 64), []);
        } finally {
          a.free();
        }
      },
      /X: 33554432 × 64 doubles needs 16\.0 GiB/,
    ],
    ['Core.alloc of 1.5 GiB', () => defaultCore().alloc(1.5 * 2 ** 30), /1\.5 GiB does not fit in one WebAssembly block/],
  ];
  for (const [name, call, pattern] of paths) {
    try {
      call();
      assert.unreachable(`${name}: accepted`);
    } catch (e) {
      assert.instance(e, RangeError, `${name}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      assert.match((e as Error).message, pattern, `${name}: ${(e as Error).message}`);
    }
  }
  try {
    await parallelGram(wideCsr);
    assert.unreachable('parallelGram accepted');
  } catch (e) {
    assert.instance(e, RangeError);
    assert.match((e as Error).message, /128\.0 GiB/);
  }
  assert.is(defaultCore().memoryBytes, before, 'a refused request grew memory');
});

test('filling the whole 4 GiB address space gives a RangeError and leaves the allocator usable (NATGRAD_HUGE_TESTS=1)', async () => {
  if (process.env.NATGRAD_HUGE_TESTS !== '1') return; // reserves 4 GiB of (untouched) memory: opt-in
  const { createCore } = await import('../../bindings/index.js');
  const c = await createCore({ variant });
  const ptrs: number[] = [];
  let refused: unknown;
  try {
    for (let i = 0; i < 5; i++) ptrs.push(c.alloc(2 ** 30 - 64));
  } catch (e) {
    refused = e;
  }
  assert.instance(refused, RangeError);
  assert.match((refused as Error).message, /out of WebAssembly memory/);
  for (const p of ptrs) c.free(p);
  const again = c.alloc(2 ** 30 - 64);
  c.f64(again, 4).set([1, 2, 3, 4]);
  assert.equal(Array.from(c.f64(again, 4)), [1, 2, 3, 4]);
  c.free(again);
});

test.run();
