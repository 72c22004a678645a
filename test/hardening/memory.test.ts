// Hardening: memory over long runs. 10⁵ optimizer steps and 10⁵ curvature builds keep the
// WebAssembly memory at a plateau; handles freed twice or used after free give DisposedError (a
// `using` disposal after free() is a no-op) and never corrupt the allocator; the FinalizationRegistry
// frees forgotten handles (checked in a child process with --expose-gc).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  core as defaultCore,
  gram,
  Matrix,
  SymMatrix,
  linearProblem,
  bernoulli,
  categorical,
  gaussian,
  gd,
  ngd,
  efgd,
  newton,
  diagonalEF,
  fisherAccumulator,
  DisposedError,
} from '../../bindings/index.js';
import { randomMatrix, variant } from '../helpers.js';

const bytes = () => defaultCore().memoryBytes;

function logistic(N: number, d: number, seed: number) {
  const X = randomMatrix(N, d, seed);
  const y = Float64Array.from({ length: N }, (_, i) => (X[i * d]! + 0.3 * Math.sin(i) > 0 ? 1 : 0));
  return linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: bernoulli(), bias: true, priorVariance: 10 });
}

test('10⁵ optimizer steps (GD, NGD, EFGD, Newton, diagonal EF) keep WASM memory at a plateau', () => {
  const p = logistic(24, 3, 1);
  const theta0 = new Float64Array(p.dim);
  const opts = [
    ngd(p, { lr: 0.5, damping: 1e-4 }),
    efgd(p, { lr: 0.1, damping: 1e-3 }),
    newton(p, { lr: 0.5, damping: 1e-4, adaptiveDamping: true }),
    gd(p, { lr: 0.5 }),
    diagonalEF(p, { lr: 0.05, damping: 1e-3, power: 0.5 }),
  ];
  const perOpt = 20000; // 5 × 20000 = 10⁵ steps
  let plateau = 0;
  for (const [o, opt] of opts.entries()) {
    let state = opt.init(theta0);
    for (let s = 0; s < perOpt; s++) {
      state = opt.update(state).state;
      if (o === 0 && s === 100) plateau = bytes(); // after warm-up
    }
    assert.ok(Number.isFinite(state.loss), `${opt.name}: loss ${state.loss}`);
    assert.ok(state.loss < Math.log(2), `${opt.name} made progress (${state.loss})`);
  }
  assert.is(bytes(), plateau, `memory grew from ${plateau} to ${bytes()} bytes over 10⁵ steps`);
  // run() with records on: the JS arrays grow, the WASM memory does not.
  const rec = ngd(p, { lr: 0.5, damping: 1e-4 }).run(theta0, { iterations: 2000, record: { theta: true } });
  assert.is(rec.status, 'ok');
  assert.is(bytes(), plateau);
  p.free();
});

test('10⁵ curvature builds (every structure and kind, dense and CSR) keep WASM memory at a plateau', () => {
  const N = 30,
    d = 4;
  const X = randomMatrix(N, d, 2);
  const y = Float64Array.from({ length: N }, (_, i) => i % 3);
  const dense = linearProblem({ X: { data: X, rows: N, cols: d }, y, likelihood: categorical({ classes: 3 }), priorVariance: 4 });
  const indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < d; j++)
      if ((i + j) % 2) {
        indices.push(j);
        values.push(X[i * d + j]!);
      }
    indptr.push(indices.length);
  }
  const sparse = linearProblem({ X: { rows: N, cols: d, indptr, indices, values }, y: X.filter((_, i) => i % d === 0), likelihood: gaussian(), bias: true });
  const th1 = Float64Array.from({ length: dense.dim }, (_, i) => Math.cos(i) / 4);
  const th2 = Float64Array.from({ length: sparse.dim }, (_, i) => Math.sin(i));
  const builds: (() => void)[] = [
    () => dense.fisher(th1).free(),
    () => dense.empiricalFisher(th1).free(),
    () => dense.hessian(th1).free(),
    () => dense.fisherMC(th1, { samples: 2, seed: 3 }).free(),
    () => {
      for (const b of dense.fisher(th1, { structure: 'block' })) b.free();
    },
    () => {
      const { A, G } = dense.fisher(th1, { structure: 'kfac' });
      A.free();
      G.free();
    },
    () => void dense.empiricalFisher(th1, { structure: 'diagonal' }),
    () => dense.gradientCovariance(th1).free(),
    () => void dense.perSampleGradients(th1),
    () => void dense.hessianVectorProduct(th1, th1),
    () => sparse.fisher(th2).free(),
    () => sparse.empiricalFisher(th2).free(),
    () => void sparse.fisher(th2, { structure: 'diagonal' }),
    () => {
      const H = sparse.hessian(th2);
      H.cholesky({ damping: 1e-3 }).free();
      H.free();
    },
    () => gram({ data: X, rows: N, cols: d }).free(),
    () => {
      const f = fisherAccumulator({ theta: th2, likelihood: gaussian(), inputs: d, bias: true });
      f.add({ rows: N, cols: d, indptr, indices, values }, y);
      f.result().free();
      f.free();
    },
  ];
  const reference = dense.fisher(th1);
  const ref = reference.toDense();
  reference.free();
  let plateau = 0;
  const total = 100000;
  for (let i = 0; i < total; i++) {
    builds[i % builds.length]!();
    if (i === 2 * builds.length) plateau = bytes();
  }
  assert.is(bytes(), plateau, `memory grew from ${plateau} to ${bytes()} bytes over 10⁵ builds`);
  const again = dense.fisher(th1);
  assert.equal(Array.from(again.toDense()), Array.from(ref), 'same numbers after 10⁵ builds');
  again.free();
  dense.free();
  sparse.free();
});

test('a second free() and any use after free throw DisposedError; the allocator is never corrupted', () => {
  const core = defaultCore();
  const start = bytes();
  for (let round = 0; round < 200; round++) {
    const A = SymMatrix.from([
      [4, 1],
      [1, 3],
    ]);
    const L = A.cholesky();
    const M = Matrix.from({ data: Float64Array.of(1, 2, 3, 4, 5, 6), rows: 3, cols: 2 });
    const p = linearProblem({ X: M, y: [0, 1, 1], likelihood: bernoulli() });
    for (const h of [A, L, M, p]) {
      h.free();
      assert.throws(
        () => h.free(),
        (e: unknown) => e instanceof DisposedError && /already freed/.test((e as Error).message),
        'second free()',
      );
      h[Symbol.dispose](); // `using` after an explicit free() is a no-op
      assert.ok(h.freed);
    }
    for (const use of [
      () => A.get(0, 0),
      () => A.toDense(),
      () => A.solve([1, 1]),
      () => A.cholesky(),
      () => L.solve([1, 1]),
      () => L.logDet(),
      () => M.toDense(),
      () => gram(M),
      () => p.loss([0, 0]),
      () => p.fisher([0, 0]),
      () => gd(p, { lr: 1 }).step([0, 0]),
    ]) {
      try {
        use();
        assert.unreachable('no error');
      } catch (e) {
        assert.instance(e, DisposedError);
        assert.match((e as Error).message, /already freed/);
      }
    }
    // If any of those frees had reached the allocator twice, two live blocks would now overlap.
    const blocks = Array.from({ length: 8 }, () => core.alloc(48));
    assert.is(new Set(blocks).size, blocks.length, 'the allocator handed out a block twice');
    blocks.forEach((ptr, i) => core.f64(ptr, 6).fill(i));
    blocks.forEach((ptr, i) =>
      assert.ok(
        core.f64(ptr, 6).every((v) => v === i),
        'blocks overlap',
      ),
    );
    blocks.forEach((ptr) => core.free(ptr));
    // A fresh computation is right.
    const C = gram([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.equal(Array.from(C.toDense()), [35, 44, 44, 56]);
    C.free();
  }
  assert.is(bytes(), start, 'misuse leaked memory');
});

test('a problem that does not own its Matrix leaves it usable after free(); one that does frees it', () => {
  const M = Matrix.from([
    [1, 2],
    [3, 4],
    [5, 7],
  ]);
  const p = linearProblem({ X: M, y: [0, 1, 1], likelihood: bernoulli() });
  p.free();
  assert.not.ok(M.freed);
  const C = gram(M);
  assert.equal(Array.from(C.toDense()), [35, 49, 49, 69]);
  C.free();
  const q = linearProblem({ X: M, y: [0, 1, 1], likelihood: bernoulli(), bias: true }); // bias: a copy it owns
  q.free();
  assert.ok(q.X.freed);
  assert.not.ok(M.freed);
  M.free();
});

test('the FinalizationRegistry frees forgotten handles: memory is reused, not grown (child process, --expose-gc)', () => {
  const child = fileURLToPath(new URL('./fixtures/finalization-child.ts', import.meta.url));
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const flags = variant === 'relaxed-simd' && nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
  const r = spawnSync(process.execPath, [...flags, '--expose-gc', '--import', 'tsx', child], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, NATGRAD_VARIANT: variant, ROUNDS: '12', PER_ROUND: '400' },
  });
  assert.is(r.status, 0, `child failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sizes: number[]; ok: boolean; bytesPerRound: number };
  assert.ok(out.ok, 'results after reuse are wrong');
  // Each round forgets ~29 MB of handles; without the registry 12 rounds would need ≥ 350 MB.
  const first = out.sizes[0]!,
    last = out.sizes[out.sizes.length - 1]!;
  assert.ok(last - first <= out.bytesPerRound, `memory grew from ${first} to ${last} bytes: forgotten handles were not freed (${out.sizes.join(', ')})`);
  assert.ok(last < 4 * out.bytesPerRound, `memory ${last} bytes for ${out.bytesPerRound} bytes per round`);
});

test.run();
