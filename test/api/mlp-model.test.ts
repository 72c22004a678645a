// The WebAssembly MLP model (bindings/models/mlp.ts) against the plain-TS reference
// (test/reference/mlp.ts), finite differences and explicit formulas.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, EPS, randomMatrix, reductionTol, relErr, assertClose } from '../helpers.js';
import { mlp, type MlpModel } from '../../bindings/models/mlp.js';
import { ACTIVATIONS } from '../../bindings/models/activations.js';
import { checkModel } from '../../bindings/models/model.js';
import { DisposedError } from '../../bindings/core/errors.js';
import type { SymMatrix } from '../../bindings/linalg/symmatrix.js';
import { centralDifference, referenceJacobians, referenceMlp, activationRef, type RefActivation } from '../reference/mlp.js';

const SIZES = [3, 5, 4, 2];
const N = 7;
const X = randomMatrix(N, 3, 11);

function setup(act: RefActivation, sizes = SIZES, rows = N, x = X) {
  const model = mlp({ sizes, activation: act, core });
  const ref = referenceMlp({ sizes, activation: act });
  const theta = model.init(3).map((t, i) => t * 2 + 0.1 * Math.sin(i)); // larger weights: curvier
  return { model, ref, theta, trace: model.forward(theta, x, rows), rtrace: ref.forward(theta, x, rows) };
}

/** Norm-wise bound for a quantity computed through chains of length `chain` and a final sum of `n` terms. */
const normTol = (n: number, chain: number) => 16 * (n + chain) * EPS;

/** scale · Σ_{nk} c cᵀ from explicit reference Jacobians (D × D row-major) and the pullback rows. */
function referenceGram(J: Float64Array, R: Float64Array, rows: number, K: number, M: number, D: number, scale: number): { G: Float64Array; C: Float64Array } {
  const C = new Float64Array(rows * K * D);
  for (let n = 0; n < rows; n++)
    for (let k = 0; k < K; k++)
      for (let m = 0; m < M; m++) {
        const r = R[(n * K + k) * M + m]!;
        for (let j = 0; j < D; j++) C[(n * K + k) * D + j] += r * J[(n * M + m) * D + j]!;
      }
  const G = new Float64Array(D * D);
  for (let r = 0; r < rows * K; r++)
    for (let i = 0; i < D; i++) {
      const ci = scale * C[r * D + i]!;
      if (ci !== 0) for (let j = 0; j < D; j++) G[i * D + j] += ci * C[r * D + j]!;
    }
  return { G, C };
}

test('model shape: name, dims, groups (PyTorch order), checkModel accepts it', () => {
  const m = mlp({ sizes: SIZES, core });
  assert.is(m.name, 'mlp');
  assert.is(m.activation, 'tanh');
  assert.is(m.inputs, 3);
  assert.is(m.outputs, 2);
  assert.is(m.dim, 5 * 4 + 4 * 6 + 2 * 5);
  assert.equal(
    m.groups.map((g) => [g.name, g.offset, g.size, g.dense!.inputs, g.dense!.outputs, g.dense!.bias]),
    [
      ['layer1', 0, 20, 3, 5, true],
      ['layer2', 20, 24, 5, 4, true],
      ['layer3', 44, 10, 4, 2, true],
    ],
  );
  assert.is(checkModel(m), m);
  assert.is(m.core, core);
});

for (const act of ACTIVATIONS) {
  test(`${act}: outputs, jvp, vjp, residualHvp, residualHmm, jacobians, pullbacks match the reference`, () => {
    const { model, theta, trace, rtrace } = setup(act);
    const D = model.dim,
      M = 2,
      chain = 5 + 4 + 3;
    assert.ok(relErr(trace.outputs, rtrace.outputs) <= normTol(6, chain), 'outputs');
    const v = randomMatrix(1, D, 21),
      R = randomMatrix(N, M, 22);
    assert.ok(relErr(trace.jvp(v), rtrace.jvp(v)) <= normTol(6, chain), 'jvp');
    assert.ok(relErr(trace.vjp(R), rtrace.vjp(R)) <= normTol(N, chain), 'vjp');
    const hv = trace.residualHvp(R, v),
      hvRef = rtrace.residualHvp!(R, v);
    if (act === 'identity') {
      // f is then bilinear in consecutive layers: still a non-zero residual term.
      assert.ok(hvRef.some((x) => x !== 0));
    }
    assert.ok(relErr(hv, hvRef) <= normTol(N, 3 * chain), `residualHvp ${relErr(hv, hvRef)}`);
    const k = 3,
      V = randomMatrix(D, k, 23);
    const HV = trace.residualHmm(R, V, k);
    for (let j = 0; j < k; j++) {
      const vj = Float64Array.from({ length: D }, (_, i) => V[i * k + j]!);
      const col = Float64Array.from({ length: D }, (_, i) => HV[i * k + j]!);
      assert.ok(relErr(col, rtrace.residualHvp!(R, vj)) <= normTol(N, 3 * chain), `residualHmm column ${j}`);
    }
    const J = trace.jacobians(),
      Jref = referenceJacobians(SIZES, act, theta, X, N);
    assert.ok(relErr(J, Jref) <= normTol(1, chain), 'jacobians');
    const K = 3,
      RK = randomMatrix(N * K, M, 24);
    const P = trace.pullbacks(RK, K);
    const { C } = referenceGram(Jref, RK, N, K, M, D, 1);
    assert.ok(relErr(P, C) <= normTol(M, chain), 'pullbacks');
    trace.free();
  });

  test(`${act}: pullbackGram (dense, block, diagonal) and kfacFactors match Σ c cᵀ and the explicit formulas`, () => {
    const { model, theta, trace } = setup(act);
    const D = model.dim,
      M = 2,
      K = 3,
      scale = 0.37,
      chain = 12;
    const RK = randomMatrix(N * K, M, 31);
    const Jref = referenceJacobians(SIZES, act, theta, X, N);
    const { G } = referenceGram(Jref, RK, N, K, M, D, scale);
    const dense = trace.pullbackGram(RK, K, 'dense', scale) as SymMatrix;
    assert.is(dense.size, D);
    const Gd = dense.toDense();
    assert.ok(relErr(Gd, G) <= normTol(N * K, chain), `dense ${relErr(Gd, G)}`);
    for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) assert.is(Gd[i * D + j], Gd[j * D + i], 'exactly symmetric');
    dense.free();
    const blocks = trace.pullbackGram(RK, K, 'block', scale) as SymMatrix[];
    assert.is(blocks.length, model.groups.length);
    for (const [b, g] of model.groups.entries()) {
      const Bref = new Float64Array(g.size * g.size);
      for (let i = 0; i < g.size; i++) for (let j = 0; j < g.size; j++) Bref[i * g.size + j] = G[(g.offset + i) * D + g.offset + j]!;
      assert.ok(relErr(blocks[b]!.toDense(), Bref) <= normTol(N * K, chain), `block ${g.name}`);
      blocks[b]!.free();
    }
    const diag = trace.pullbackGram(RK, K, 'diagonal', scale) as Float64Array;
    assert.ok(diag instanceof Float64Array && diag.length === D);
    const dref = Float64Array.from({ length: D }, (_, i) => G[i * D + i]!);
    // Diagonal entries are sums of squares: no cancellation, an entrywise bound holds.
    assertClose(
      diag,
      dref,
      Array.from(dref, (x) => reductionTol(N * K + chain, Math.abs(x)) * 4),
      'diagonal',
    );

    // KFAC: A_l = (1/N) Σ ā āᵀ (inputs of layer l = σ(outputs of the sub-network), bias last);
    // G_l = scale Σ δ δᵀ with δ_nk = (∂f_n/∂z_l)ᵀ R_nk = (bias columns of J_n)ᵀ R_nk.
    const factors = trace.kfacFactors(RK, K, scale);
    assert.is(factors.length, 3);
    for (const [l, g] of model.groups.entries()) {
      const nin = g.dense!.inputs,
        nout = g.dense!.outputs;
      let inputs: Float64Array;
      if (l === 0) inputs = X;
      else {
        const sub = referenceMlp({ sizes: SIZES.slice(0, l + 1), activation: act });
        inputs = sub.forward(theta.subarray(0, sub.dim), X, N).outputs.map((z) => activationRef(act, z)[0]);
      }
      const Aref = new Float64Array((nin + 1) ** 2);
      for (let n = 0; n < N; n++)
        for (let i = 0; i <= nin; i++)
          for (let j = 0; j <= nin; j++) {
            Aref[i * (nin + 1) + j] += ((i < nin ? inputs[n * nin + i]! : 1) * (j < nin ? inputs[n * nin + j]! : 1)) / N;
          }
      const Gref = new Float64Array(nout * nout);
      const boff = g.offset + nout * nin;
      for (let r = 0; r < N * K; r++) {
        const n = Math.floor(r / K);
        const delta = Array.from({ length: nout }, (_, o) => {
          let s = 0;
          for (let m = 0; m < M; m++) s += RK[r * M + m]! * Jref[(n * M + m) * D + boff + o]!;
          return s;
        });
        for (let i = 0; i < nout; i++) for (let j = 0; j < nout; j++) Gref[i * nout + j] += scale * delta[i]! * delta[j]!;
      }
      const { A, G: Gl } = factors[l]!;
      assert.is(A.size, nin + 1);
      assert.is(Gl.size, nout);
      assert.ok(relErr(A.toDense(), Aref) <= normTol(N, chain), `A_${l + 1}`);
      assert.ok(relErr(Gl.toDense(), Gref) <= normTol(N * K, chain), `G_${l + 1}`);
      A.free();
      Gl.free();
    }
    trace.free();
  });
}

test('residualHvp with and without the tangents kept by jvp and the backward factors kept per R; residualHvpAndVjp = residualHvp + vjp', () => {
  for (const act of ['tanh', 'relu', 'gelu'] as const) {
    const { model, trace, rtrace } = setup(act);
    const D = model.dim;
    const v = randomMatrix(1, D, 81),
      v2 = randomMatrix(1, D, 82),
      R = randomMatrix(N, 2, 83),
      U = randomMatrix(N, 2, 84);
    const ref = rtrace.residualHvp!(R, v),
      tol = normTol(N, 36);
    const fresh = trace.residualHvp(R, v); // no jvp yet: own tangent pass
    trace.jvp(v2);
    const other = trace.residualHvp(R, v); // tangents of v2 kept: must not be used
    trace.jvp(v);
    const cached = trace.residualHvp(R, v);
    const w = v.slice();
    trace.jvp(w);
    w[3] += 1; // same array mutated after jvp: no stale reuse
    const mutated = trace.residualHvp(R, w);
    for (const [name, got] of [
      ['fresh', fresh],
      ['after another jvp', other],
      ['cached', cached],
    ] as const) {
      assert.ok(relErr(got, ref) <= tol, `${act} ${name}`);
    }
    assert.ok(relErr(mutated, rtrace.residualHvp!(R, w)) <= tol, `${act} mutated v`);
    const both = trace.residualHvpAndVjp(R, v, U),
      vjpU = rtrace.vjp(U);
    assert.ok(
      relErr(
        both,
        ref.map((x, i) => x + vjpU[i]!),
      ) <= tol,
      `${act} residualHvpAndVjp`,
    );
    trace.jvp(v2);
    assert.ok(
      relErr(
        trace.residualHvpAndVjp(R, v, U),
        ref.map((x, i) => x + vjpU[i]!),
      ) <= tol,
      `${act} residualHvpAndVjp uncached`,
    );
    // The backward factors are kept for the last R: switching R, mutating it in place, and back.
    const R2 = randomMatrix(N, 2, 87);
    assert.ok(relErr(trace.residualHvp(R2, v), rtrace.residualHvp!(R2, v)) <= tol, `${act} second R`);
    R2[1] += 0.5;
    assert.ok(relErr(trace.residualHvp(R2, v), rtrace.residualHvp!(R2, v)) <= tol, `${act} R mutated in place`);
    assert.ok(relErr(trace.residualHvp(R, v), ref) <= tol, `${act} first R again`);
    trace.free();
    assert.throws(
      () => trace.jvp(v),
      (e: Error) => e instanceof DisposedError,
    );
  }
  // One layer: no hidden tangents; the seeded product is exactly the vjp.
  const one = mlp({ sizes: [3, 2], activation: 'tanh', core });
  const t = one.forward(one.init(), X, N),
    U = randomMatrix(N, 2, 85),
    v = randomMatrix(1, one.dim, 86);
  t.jvp(v);
  assert.ok(relErr(t.residualHvpAndVjp(new Float64Array(N * 2), v, U), t.vjp(U)) <= normTol(N, 1));
  t.free();
});

test('pullbacksInto writes the same rows as pullbacks into a caller-owned block', () => {
  const { model, trace } = setup('softplus');
  const K = 2,
    RK = randomMatrix(N * K, 2, 91),
    n = N * K * model.dim;
  const p = core.alloc(8 * n);
  trace.pullbacksInto(RK, K, p);
  assert.equal(Array.from(core.f64(p, n)), Array.from(trace.pullbacks(RK, K)));
  core.free(p);
  assert.throws(
    () => trace.pullbacksInto(RK, K + 1, 0),
    (e: Error) => e instanceof RangeError && /R/.test(e.message),
  );
  trace.free();
});

test('odd and deep shapes: widths of 1, five layers, K = 5', () => {
  for (const sizes of [
    [1, 1, 3, 1],
    [4, 7, 1, 5, 2, 3],
    [2, 9],
  ]) {
    for (const act of ['gelu', 'relu'] as const) {
      const x = randomMatrix(5, sizes[0]!, 101);
      const { model, theta, trace, rtrace } = setup(act, sizes, 5, x);
      const D = model.dim,
        M = sizes[sizes.length - 1]!,
        K = 5,
        tol = normTol(5 * K, 40);
      const v = randomMatrix(1, D, 102),
        R = randomMatrix(5, M, 103),
        RK = randomMatrix(5 * K, M, 104);
      const what = `${act} [${sizes}]`;
      assert.ok(relErr(trace.outputs, rtrace.outputs) <= tol, `${what} outputs`);
      assert.ok(relErr(trace.jvp(v), rtrace.jvp(v)) <= tol, `${what} jvp`);
      assert.ok(relErr(trace.vjp(R), rtrace.vjp(R)) <= tol, `${what} vjp`);
      const hv = rtrace.residualHvp!(R, v);
      if (sizes.length > 2) assert.ok(relErr(trace.residualHvp(R, v), hv) <= tol, `${what} residualHvp`);
      else
        assert.ok(
          trace.residualHvp(R, v).every((y) => y === 0),
          `${what} one layer: no residual term`,
        );
      const HV = trace.residualHmm(R, v, 1);
      assert.ok(sizes.length > 2 ? relErr(HV, hv) <= tol : HV.every((y) => y === 0), `${what} residualHmm k = 1`);
      const J = referenceJacobians(sizes, act, theta, x, 5);
      const { G } = referenceGram(J, RK, 5, K, M, D, 2);
      const dense = trace.pullbackGram(RK, K, 'dense', 2) as SymMatrix;
      assert.ok(relErr(dense.toDense(), G) <= tol, `${what} dense Gram`);
      dense.free();
      const diag = trace.pullbackGram(RK, K, 'diagonal', 2) as Float64Array;
      assert.ok(
        relErr(
          diag,
          Array.from({ length: D }, (_, i) => G[i * D + i]!),
        ) <= tol,
        `${what} diagonal`,
      );
      trace.free();
    }
  }
});

test('jvp/vjp adjointness ⟨Jv, R⟩ = ⟨v, JᵀR⟩', () => {
  for (const act of ACTIVATIONS) {
    const { model, trace } = setup(act);
    const v = randomMatrix(1, model.dim, 41),
      R = randomMatrix(N, 2, 42);
    const jv = trace.jvp(v),
      jr = trace.vjp(R);
    let a = 0,
      b = 0,
      abs = 0;
    for (let i = 0; i < jv.length; i++) {
      a += jv[i]! * R[i]!;
      abs += Math.abs(jv[i]! * R[i]!);
    }
    for (let i = 0; i < jr.length; i++) {
      b += v[i]! * jr[i]!;
      abs += Math.abs(v[i]! * jr[i]!);
    }
    assert.ok(Math.abs(a - b) <= normTol(model.dim, 12) * abs, `${act}: ${a} vs ${b}`);
    trace.free();
  }
});

test('finite differences: jvp is the derivative of f, residualHvp the derivative of the vjp', () => {
  // Central differences with h = 1e-5: truncation O(h²·|f‴|) ≈ 1e-10 and rounding
  // O(eps·|f|/h) ≈ 1e-11 relative on these O(1) quantities; 1e-7 leaves a wide margin.
  for (const act of ACTIVATIONS) {
    const { model, theta, trace } = setup(act);
    const v = randomMatrix(1, model.dim, 51),
      R = randomMatrix(N, 2, 52);
    const f = (t: Float64Array) => {
      const tr = model.forward(t, X, N);
      const o = tr.outputs;
      tr.free();
      return o;
    };
    const g = (t: Float64Array) => {
      const tr = model.forward(t, X, N);
      const o = tr.vjp(R);
      tr.free();
      return o;
    };
    const h = 1e-5;
    assert.ok(relErr(trace.jvp(v), centralDifference(f, theta, v, h)) < 1e-7, `${act} jvp`);
    assert.ok(relErr(trace.residualHvp(R, v), centralDifference(g, theta, v, h)) < 1e-7, `${act} residualHvp`);
    trace.free();
  }
});

test('one layer with identity is W x + b in PyTorch order; its residual term is zero', () => {
  const m = mlp({ sizes: [3, 2], activation: 'identity', core });
  const theta = Float64Array.from([1, 2, 3, 4, 5, 6, 0.5, -0.5]); // W = [[1,2,3],[4,5,6]], b = [0.5, −0.5]
  const x = Float64Array.from([1, 0, -1, 2, 1, 0]);
  const t = m.forward(theta, x, 2);
  assert.equal(Array.from(t.outputs), [1 - 3 + 0.5, 4 - 6 - 0.5, 2 + 2 + 0.5, 8 + 5 - 0.5]);
  assert.equal(
    Array.from(
      t.residualHvp(
        Float64Array.from([1, 2, 3, 4]),
        Float64Array.from({ length: 8 }, (_, i) => i + 1),
      ),
    ),
    new Array(8).fill(0),
  );
  // A one-layer MLP's Jacobian row for output o: x in W's row o, 1 at b_o.
  assert.equal(Array.from(t.jacobians().subarray(0, 16)), [1, 0, -1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -1, 0, 1]);
  t.free();
});

test('init: PyTorch bounds ±1/√fan_in, reproducible per seed, seed-dependent', () => {
  const m = mlp({ sizes: [16, 64, 3], core });
  const a = m.init(),
    b = m.init(0),
    c = m.init(1);
  assert.equal(Array.from(a), Array.from(b));
  assert.ok(relErr(a, c) > 0.5);
  for (const g of m.groups) {
    const bound = 1 / Math.sqrt(g.dense!.inputs);
    const s = a.subarray(g.offset, g.offset + g.size);
    assert.ok(
      s.every((x) => Math.abs(x) <= bound),
      `${g.name} within ±${bound}`,
    );
    // uniform, not clustered: extremes near the bounds, mean near 0
    assert.ok(Math.max(...s) > 0.9 * bound && Math.min(...s) < -0.9 * bound, `${g.name} spans the interval`);
    assert.ok(Math.abs(s.reduce((p, x) => p + x, 0) / s.length) < (4 * bound) / Math.sqrt(3 * s.length));
  }
});

test('bad inputs throw typed errors naming the argument', () => {
  assert.throws(
    () => mlp({ sizes: 3 as unknown as number[], core }),
    (e: Error) => e instanceof TypeError && /sizes/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [3], core }),
    (e: Error) => e instanceof RangeError && /sizes/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [3, 0], core }),
    (e: Error) => e instanceof RangeError && /sizes\[1\]/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [3, 2.5], core }),
    (e: Error) => e instanceof RangeError && /sizes\[1\]/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [3, 2], activation: 'swish' as never, core }),
    (e: Error) => e instanceof TypeError && /swish/.test(e.message) && /'tanh'/.test(e.message) && /'gelu'/.test(e.message),
  );
  assert.throws(
    () => mlp({ sizes: [1 << 16, 1 << 16], core }),
    (e: Error) => e instanceof RangeError && /θ/.test(e.message),
  );
  const m = mlp({ sizes: SIZES, core });
  const theta = m.init();
  assert.throws(
    () => m.forward(theta.subarray(1), X, N),
    (e: Error) => e instanceof RangeError && /theta/.test(e.message),
  );
  assert.throws(
    () => m.forward(theta, X, N + 1),
    (e: Error) => e instanceof RangeError && /X/.test(e.message),
  );
  assert.throws(
    () => m.forward(theta, X, -1),
    (e: Error) => e instanceof RangeError && /rows/.test(e.message),
  );
  const t = m.forward(theta, X, N);
  assert.throws(
    () => t.jvp(new Float64Array(3)),
    (e: Error) => e instanceof RangeError && /v/.test(e.message),
  );
  assert.throws(
    () => t.vjp(new Float64Array(3)),
    (e: Error) => e instanceof RangeError && /R/.test(e.message),
  );
  assert.throws(
    () => t.pullbacks(new Float64Array(N * 2), 0),
    (e: Error) => e instanceof RangeError && /K/.test(e.message),
  );
  assert.throws(
    () => t.pullbackGram(new Float64Array(N * 2), 1, 'full' as never, 1),
    (e: Error) => e instanceof TypeError && /structure/.test(e.message),
  );
  assert.throws(
    () => t.pullbackGram(new Float64Array(N * 2), 1, 'dense', NaN),
    (e: Error) => e instanceof RangeError && /scale/.test(e.message),
  );
  assert.throws(
    () => t.residualHmm(new Float64Array(N * 2), new Float64Array(m.dim), 2),
    (e: Error) => e instanceof RangeError && /V/.test(e.message),
  );
  t.free();
});

test('a trace freed twice (or used after free) throws DisposedError; traces are independent', () => {
  const m = mlp({ sizes: SIZES, core });
  const theta = m.init();
  const t1 = m.forward(theta, X, N),
    t2 = m.forward(
      theta.map((x) => -x),
      X,
      N,
    );
  const o2 = t2.outputs;
  t1.free();
  const disposed = (e: Error) => e instanceof DisposedError;
  assert.throws(() => t1.free(), disposed);
  assert.throws(() => t1.outputs, disposed);
  assert.throws(() => t1.jvp(theta), disposed);
  assert.equal(Array.from(t2.outputs), Array.from(o2), 'the other trace is untouched');
  t2.free();
});

test('N = 0 and N = 1 edge cases', () => {
  const m = mlp({ sizes: SIZES, activation: 'gelu', core });
  const theta = m.init(2);
  const t0 = m.forward(theta, new Float64Array(0), 0);
  assert.is(t0.outputs.length, 0);
  assert.ok(t0.vjp(new Float64Array(0)).every((x) => x === 0));
  assert.ok((t0.pullbackGram(new Float64Array(0), 2, 'diagonal', 1) as Float64Array).every((x) => x === 0));
  const g0 = t0.pullbackGram(new Float64Array(0), 2, 'dense', 1) as SymMatrix;
  assert.ok(g0.toDense().every((x) => x === 0));
  g0.free();
  for (const { A, G } of t0.kfacFactors(new Float64Array(0), 1, 1)) {
    assert.ok(A.toDense().every((x) => x === 0) && G.toDense().every((x) => x === 0));
    A.free();
    G.free();
  }
  t0.free();
  const x1 = X.subarray(0, 3);
  const t1 = m.forward(theta, x1, 1),
    r1 = referenceMlp({ sizes: SIZES, activation: 'gelu' }).forward(theta, x1, 1);
  const v = randomMatrix(1, m.dim, 5),
    R = randomMatrix(1, 2, 6);
  assert.ok(relErr(t1.residualHvp(R, v), r1.residualHvp!(R, v)) <= normTol(1, 36));
  t1.free();
});

test('residualColumns: rows [from, to) of unit columns equal residualHmm on identity columns, the rest 0; residualHmm with zero layer slices', () => {
  const cases: [number[], RefActivation, number][] = [
    [SIZES, 'tanh', N],
    [[2, 1, 3, 1, 4, 2], 'gelu', N],
    [[4, 3], 'sigmoid', N],
    [[2, 30, 20, 2], 'tanh', 600], // several direction chunks per layer
  ];
  for (const [sizes, act, rows] of cases) {
    const x = randomMatrix(rows, sizes[0]!, 71);
    const { model, trace, rtrace } = setup(act, sizes, rows, x);
    const D = model.dim,
      M = model.outputs;
    const R = randomMatrix(rows, M, 72);
    const I = new Float64Array(D * D);
    for (let i = 0; i < D; i++) I[i * D + i] = 1;
    const full = trace.residualHmm(R, I, D); // D × D, column j = H e_j
    const tol = normTol(rows, 3 * sizes.length + 3);
    const g = model.groups;
    const last = g[g.length - 1]!;
    const spans: [number, number, number, number][] = [
      [0, D, 0, D],
      [g[0]!.offset, g[0]!.size, g[0]!.offset, D],
      [last.offset, last.size, last.offset, D],
      [1, D - 2, 2, D - 1],
      [Math.min(D - 1, g[0]!.size + 1), 1, 0, D],
      [Math.floor(D / 2), Math.ceil(D / 3), Math.floor(D / 4), Math.floor(D / 2) + 1],
      [0, 3, 3, 3],
    ];
    for (const [j0, k, from, to] of spans) {
      const C = trace.residualColumns(R, j0, k, from, to);
      const want = new Float64Array(k * D),
        got = new Float64Array(k * D);
      for (let c = 0; c < k; c++)
        for (let i = 0; i < D; i++) {
          const x = C[c * D + i]!;
          if (i < from || i >= to) assert.is(x, 0, `${sizes}: (${j0}, ${k}, ${from}, ${to}) entry ${c}, ${i} outside the rows`);
          else {
            got[c * D + i] = x;
            want[c * D + i] = full[i * D + j0 + c]!;
          }
        }
      assert.ok(relErr(got, want) <= tol, `${sizes}: columns ${j0} + ${k}, rows [${from}, ${to}): ${relErr(got, want)}`);
    }
    assert.equal(trace.residualColumns(R, 0, D), trace.residualColumns(R, 0, D, 0, D));
    // residualHmm with directions zero below / above some layer (the tangent pass starts late), against the reference.
    const k = 3,
      V = randomMatrix(D, k, 73);
    for (let i = 0; i < D; i++) {
      if (i < g[g.length > 1 ? 1 : 0]!.offset) V[i * k] = 0; // column 0: zero in the first layer
      if (i >= g[0]!.size) V[i * k + 1] = 0; // column 1: first layer only
      V[i * k + 2] = 0; // column 2: zero
    }
    const HV = trace.residualHmm(R, V, k);
    for (let j = 0; j < k; j++) {
      const vj = Float64Array.from({ length: D }, (_, i) => V[i * k + j]!);
      const col = Float64Array.from({ length: D }, (_, i) => HV[i * k + j]!);
      const ref = rtrace.residualHvp!(R, vj);
      if (j === 2)
        assert.ok(
          col.every((y) => y === 0),
          `${sizes}: V = 0`,
        );
      else assert.ok(relErr(col, ref) <= normTol(rows, 3 * sizes.length + 3), `${sizes}: zero-slice column ${j}: ${relErr(col, ref)}`);
    }
    trace.free();
  }
  const t = setup('tanh').trace;
  const R = randomMatrix(N, 2, 74);
  assert.throws(() => t.residualColumns(R, -1, 2), RangeError);
  assert.throws(() => t.residualColumns(R, 0, t.model.dim + 1), RangeError);
  assert.throws(() => t.residualColumns(R, 0, 2, 3, 2), RangeError);
  assert.throws(() => t.residualColumns(R, 0, 0), RangeError);
  t.free();
});

test('wide layer: column and sample chunking of residualHmm and pullbackGram', () => {
  // [2, 300, 2] with N = 40: the Gram's layer pairs run in sample chunks of 5;
  // with N = 2048 the residual product runs one direction per chunk.
  const sizes = [2, 300, 2];
  const x = randomMatrix(40, 2, 61);
  const { model, theta, trace } = setup('tanh', sizes, 40, x);
  const D = model.dim,
    K = 2,
    RK = randomMatrix(40 * K, 2, 62);
  const { G } = referenceGram(referenceJacobians(sizes, 'tanh', theta, x, 40), RK, 40, K, 2, D, 1);
  const dense = trace.pullbackGram(RK, K, 'dense', 1) as SymMatrix;
  assert.ok(relErr(dense.toDense(), G) <= normTol(80, 302));
  dense.free();
  trace.free();
  const xb = randomMatrix(2048, 2, 63);
  const big = setup('sigmoid', sizes, 2048, xb);
  const R = randomMatrix(2048, 2, 64),
    k = 3,
    V = randomMatrix(D, k, 65);
  const HV = big.trace.residualHmm(R, V, k);
  for (let j = 0; j < k; j++) {
    const vj = Float64Array.from({ length: D }, (_, i) => V[i * k + j]!);
    const col = Float64Array.from({ length: D }, (_, i) => HV[i * k + j]!);
    assert.ok(relErr(col, big.rtrace.residualHvp!(R, vj)) <= normTol(2048, 900), `column ${j}`);
  }
  big.trace.free();
});

test('memory does not grow over repeated forward / products / free', () => {
  const m: MlpModel = mlp({ sizes: [8, 16, 16, 4], activation: 'softplus', core });
  const theta = m.init(4),
    n = 200,
    x = randomMatrix(n, 8, 71),
    R = randomMatrix(n * 3, 4, 72),
    v = randomMatrix(1, m.dim, 73);
  const V = randomMatrix(m.dim, 5, 74);
  const round = () => {
    const t = m.forward(theta, x, n);
    t.jvp(v);
    t.vjp(R.subarray(0, n * 4));
    t.residualHvp(R.subarray(0, n * 4), v);
    t.residualHmm(R.subarray(0, n * 4), V, 5);
    t.pullbacks(R, 3);
    t.jacobians();
    (t.pullbackGram(R, 3, 'dense', 1) as SymMatrix).free();
    for (const b of t.pullbackGram(R, 3, 'block', 1) as SymMatrix[]) b.free();
    t.pullbackGram(R, 3, 'diagonal', 1);
    for (const { A, G } of t.kfacFactors(R, 3, 1)) {
      A.free();
      G.free();
    }
    t.free();
  };
  round();
  round();
  const before = core.memoryBytes;
  // Count live blocks through the core's own alloc/free (every allocation of the model goes there).
  const live = new Set<number>();
  const { alloc, free } = core;
  core.alloc = (bytes: number) => {
    const p = alloc.call(core, bytes);
    live.add(p);
    return p;
  };
  core.free = (p: number) => {
    live.delete(p);
    free.call(core, p);
  };
  try {
    for (let i = 0; i < 20; i++) round();
  } finally {
    core.alloc = alloc;
    core.free = free;
  }
  assert.is(live.size, 0, 'blocks left allocated');
  assert.is(core.memoryBytes, before);
});

test.run();
