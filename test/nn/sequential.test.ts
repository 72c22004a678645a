// sequential(): the dense-chain fast path (mlp is its preset), the generic op path agreeing with it,
// model descriptions for workers, and bad input — each a typed error naming the layer and argument.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  avgPool2d,
  CurvatureAccumulator,
  categorical,
  fisherAccumulator,
  type GridMethod,
  gridSearch,
  problem,
  batchNorm,
  conv2d,
  dense,
  flatten,
  globalAvgPool2d,
  layerNorm,
  maxPool2d,
  MlpModel,
  MlpTrace,
  mlp,
  modelFromSpec,
  modelSpec,
  relu,
  residual,
  sequential,
  SequentialModel,
  type SymMatrix,
  tanh,
} from '../../bindings/index.js';
import { SequentialTrace } from '../../bindings/internals.js';
import { relErr, uniform } from '../helpers.js';
import { referenceSequential } from '../reference/layers.js';

const vec = (n: number, seed: number) => {
  const u = uniform(seed);
  return Float64Array.from({ length: n }, () => 2 * u() - 1);
};

test('mlp is a preset over sequential: the same network, θ, groups and bits through the dense-chain trace', () => {
  const m = mlp({ sizes: [5, 7, 6, 3], activation: 'tanh' });
  assert.ok(m instanceof SequentialModel && m instanceof MlpModel);
  assert.equal(
    m.groups.map((g) => g.name),
    ['layer1', 'layer2', 'layer3'],
  );
  const s = sequential({ input: 5, layers: [dense({ out: 7 }), tanh(), dense({ out: 6 }), tanh(), dense({ out: 3 })] });
  assert.is(s.dim, m.dim);
  assert.equal(s.init(4), m.init(4));
  const th = m.init(1),
    X = vec(5 * 9, 2),
    R = vec(9 * 3, 3),
    v = vec(m.dim, 4);
  const a = m.forward(th, X, 9),
    b = s.forward(th, X, 9);
  assert.ok(a instanceof MlpTrace && b instanceof MlpTrace, 'both run on the dense-chain trace');
  assert.equal(a.outputs, b.outputs);
  assert.equal(a.vjp(R), b.vjp(R));
  assert.equal(a.residualHvp(R, v), b.residualHvp(R, v));
  a.free();
  b.free();
});

test('the generic op path equals the dense-chain path on a dense chain (products, Grams, KFAC) to rounding', () => {
  const m = mlp({ sizes: [6, 9, 4], activation: 'softplus' });
  const N = 11,
    K = 3;
  const th = m.init(3),
    X = vec(6 * N, 5),
    R = vec(N * 4, 6),
    RK = vec(N * K * 4, 7),
    v = vec(m.dim, 8),
    U = vec(N * 4, 9);
  const fast = m.forward(th, X, N);
  const slow = new SequentialTrace(m, th, X, N);
  const same = (x: ArrayLike<number>, y: ArrayLike<number>, what: string) => {
    const e = relErr(x, y);
    assert.ok(e < 1e-13, `${what}: ${e}`);
  };
  same(slow.outputs, fast.outputs, 'outputs');
  same(slow.jvp(v), fast.jvp(v), 'jvp');
  same(slow.vjp(R), fast.vjp(R), 'vjp');
  same(slow.residualHvp(R, v), fast.residualHvp(R, v), 'residualHvp');
  same(slow.residualHvpAndVjp(R, v, U), fast.residualHvpAndVjp(R, v, U), 'residualHvpAndVjp');
  // The tangents kept by slow.jvp(v) give the same bits as a trace that computes them itself.
  const fresh = new SequentialTrace(m, th, X, N);
  assert.equal(fresh.residualHvpAndVjp(R, v, U), slow.residualHvpAndVjp(R, v, U));
  fresh.free();
  same(slow.pullbacks(RK, K), fast.pullbacks(RK, K), 'pullbacks');
  same(slow.pullbackGram(RK, K, 'diagonal', 0.5) as Float64Array, fast.pullbackGram(RK, K, 'diagonal', 0.5) as Float64Array, 'diagonal Gram');
  const d1 = slow.pullbackGram(RK, K, 'dense', 0.5) as SymMatrix,
    d2 = fast.pullbackGram(RK, K, 'dense', 0.5) as SymMatrix;
  same(d1.toDense(), d2.toDense(), 'dense Gram');
  d1.free();
  d2.free();
  for (const bias of ['joint', 'separate'] as const) {
    const k1 = slow.kfacFactors(RK, K, 0.5, { bias }),
      k2 = fast.kfacFactors(RK, K, 0.5, { bias });
    k1.forEach((f, i) => {
      same(f.A!.toDense(), k2[i]!.A!.toDense(), `KFAC A ${i} (${bias})`);
      same(f.G!.toDense(), k2[i]!.G!.toDense(), `KFAC G ${i} (${bias})`);
      assert.is(f.bias, k2[i]!.bias);
    });
  }
  slow.free();
  fast.free();
});

test('modelSpec / modelFromSpec rebuild a convolutional network (what workers and accumulators send)', () => {
  const m = sequential({
    input: [2, 6, 6],
    layers: [
      conv2d({ out: 3, kernel: 3, padding: 1 }),
      batchNorm({ runningMean: [0.1, 0, -0.1], runningVar: [1, 2, 0.5] }),
      relu(),
      residual([conv2d({ out: 3, kernel: 3, padding: 'same' })]),
      maxPool2d({ kernel: 2 }),
      flatten(),
      layerNorm(),
      dense({ out: 2 }),
    ],
  });
  const spec = modelSpec(m);
  assert.ok(spec && spec.name === 'sequential');
  const copy = modelFromSpec(structuredClone(spec));
  assert.is(copy.dim, m.dim);
  const th = m.init(2),
    X = vec(3 * 72, 3);
  const a = m.forward(th, X, 3),
    b = copy.forward(th, X, 3);
  assert.equal(a.outputs, b.outputs);
  a.free();
  b.free?.();
  assert.equal(modelSpec(mlp({ sizes: [2, 3], activation: 'relu' })), { name: 'mlp', sizes: [2, 3], activation: 'relu' });
});

test('gridSearch (1 and 2 workers identical) and curvature accumulators take a convolutional network', async () => {
  const model = sequential({ input: [1, 4, 4], layers: [conv2d({ out: 2, kernel: 3, padding: 1 }), relu(), avgPool2d({ kernel: 2 }), flatten(), dense({ out: 3 })] });
  const N = 24;
  const X = vec(N * 16, 11),
    y = Float64Array.from({ length: N }, (_, i) => i % 3);
  const likelihood = categorical({ classes: 3 });
  const p = problem({ model, X: { data: X, rows: N, cols: 16 }, y, likelihood });
  const options = { problem: p, optimizers: ['GD', 'NGD', 'KFAC'] as GridMethod[], lrs: [0.1, 1], dampings: [1e-2], iterations: 4, theta0: model.init(1) };
  const one = await gridSearch(options);
  const two = await gridSearch({ ...options, workers: 2 });
  assert.is(one.runs.length, 2 + 2 + 2);
  assert.equal(two.runs, one.runs, 'identical for 1 and 2 workers');
  for (const r of one.runs) assert.is(r.status, 'ok', `${r.optimizer} γ = ${r.lr}`);
  const theta = model.init(2);
  const acc = fisherAccumulator({ model, theta, likelihood });
  acc.add({ data: X.subarray(0, 10 * 16), rows: 10, cols: 16 }, y.subarray(0, 10));
  const copy = CurvatureAccumulator.fromBytes(acc.toBytes());
  copy.add({ data: X.subarray(10 * 16), rows: N - 10, cols: 16 }, y.subarray(10));
  const F = p.fisher(theta);
  const A = copy.result();
  assert.ok(relErr(A.toDense(), F.toDense()) < 1e-13, 'the accumulated Fisher (through bytes) equals the problem Fisher');
  for (const x of [F, A]) x.free();
  acc.free();
  copy.free();
  p.free();
});

test('layers that do not chain, bad sizes and unknown options are typed errors naming the layer and the argument', () => {
  const img = [1, 4, 4] as const;
  const bad: [() => unknown, RegExp][] = [
    [() => sequential({ input: img, layers: [conv2d({ out: 2, kernel: 5 })] }), /layers\[0\] \(conv2d\): kernel height 5 is larger than the padded input height 4/],
    [() => sequential({ input: img, layers: [conv2d({ out: 2, kernel: 3 }), dense({ out: 2 })] }), /layers\[1\] \(dense\): a dense layer needs a flat input.*flatten/],
    [
      () => sequential({ input: img, layers: [residual([conv2d({ out: 3, kernel: 1 })]), flatten(), dense({ out: 1 })] }),
      /layers\[0\] \(residual\): the body changes the shape \[1, 4, 4\] → \[3, 4, 4\]; give the block a shortcut/,
    ],
    [
      () => sequential({ input: img, layers: [residual([conv2d({ out: 3, kernel: 1 })], { shortcut: [conv2d({ out: 3, kernel: 1, stride: 2 })] }), flatten(), dense({ out: 1 })] }),
      /the body gives \[3, 4, 4\] but the shortcut gives \[3, 2, 2\]/,
    ],
    [() => sequential({ input: 4, layers: [maxPool2d({ kernel: 2 })] }), /layers\[0\] \(maxPool2d\): a maxPool2d layer needs an image input/],
    [() => sequential({ input: img, layers: [avgPool2d({ kernel: 2, padding: 2 }), flatten(), dense({ out: 1 })] }), /padding \[2, 2\] must be at most half the kernel/],
    [() => sequential({ input: img, layers: [{ type: 'conv2d', out: 2, kernel: 3, stride: 0 } as never] }), /layers\[0\] \(conv2d\): stride must be a positive integer, got 0/],
    [() => sequential({ input: img, layers: [{ type: 'conv2d', out: 2.5, kernel: 3 } as never] }), /layers\[0\] \(conv2d\): out must be a positive integer, got 2.5/],
    [() => sequential({ input: img, layers: [{ type: 'conv2d', out: 2, kernel: 3, strides: 2 } as never] }), /unknown option 'strides' — did you mean 'stride'/],
    [() => sequential({ input: img, layers: [{ type: 'softmax' } as never] }), /layers\[0\] \(softmax\): unknown layer type 'softmax'/],
    [() => sequential({ input: img, layers: [flatten()] }), /no layer that computes anything/],
    [() => sequential({ input: [1, 4], layers: [dense({ out: 1 })] } as never), /input must be a number of features or \[C, H, W\]/],
    [() => sequential({ input: 3, layers: [dense({ out: 1 })], cores: 2 } as never), /unknown option 'cores' — did you mean 'core'/],
    [() => conv2d({ out: 2, kernel: 3, padding: 'same', stride: 2 }), /padding 'same' needs stride 1/],
    [() => conv2d({ out: 2, kernel: 3, pading: 1 } as never), /unknown option 'pading' — did you mean 'padding'/],
    [() => dense({ out: 0 }), /dense: out must be a positive integer, got 0/],
    [() => batchNorm({ runningMean: [0, 1], runningVar: [1] }), /must have the same length/],
    [
      () => sequential({ input: [2, 3, 3], layers: [batchNorm({ runningMean: [0, 0, 0] }), flatten(), dense({ out: 1 })] }),
      /layers\[0\] \(batchNorm\): runningMean has 3 entries, the input has 2 channels/,
    ],
    [() => layerNorm({ eps: 0 }), /eps must be a finite number > 0/],
  ];
  for (const [f, re] of bad) {
    try {
      f();
      assert.unreachable(`expected ${re}`);
    } catch (e) {
      assert.ok(e instanceof RangeError || e instanceof TypeError, String(e));
      assert.match((e as Error).message, re);
    }
  }
  const m = sequential({ input: img, layers: [conv2d({ out: 2, kernel: 3 }), globalAvgPool2d(), flatten(), dense({ out: 2 })] });
  assert.throws(() => m.forward(new Float64Array(m.dim - 1), new Float64Array(16), 1), /theta must have length/);
  assert.throws(() => m.forward(new Float64Array(m.dim), new Float64Array(15), 1), /X \(1 × 16\) must have length 16/);
  const tr = m.forward(new Float64Array(m.dim), new Float64Array(16), 1);
  assert.throws(() => (tr as SequentialTrace).kfacFactors(new Float64Array(2), 1, 1, { bias: 'both' } as never), /bias must be 'joint' or 'separate'/);
  tr.free();
});

// The pass buffers hold no tangent or cotangent for the network input unless a residual add sums
// it, and a temporary only when a value feeds two ops (issue 19's memory): the three layouts —
// a plain chain, a residual block on the input, a residual block inside — against the plain-TS
// reference network (test/reference/layers.ts): J v, Jᵀ R, the residual products and pullbacks.
test('every pass buffer layout (plain chain, a residual add on the input, a value feeding two ops) and every curved activation agree with the reference network', () => {
  const specs = [
    { input: [2, 4, 4] as [number, number, number], layers: [conv2d({ out: 3, kernel: 3, padding: 1 }), tanh(), flatten(), dense({ out: 3 })] },
    { input: [2, 4, 4] as [number, number, number], layers: [residual([conv2d({ out: 2, kernel: 3, padding: 1 }), tanh()]), flatten(), dense({ out: 3 })] },
    { input: [2, 4, 4] as [number, number, number], layers: [conv2d({ out: 2, kernel: 1 }), tanh(), residual([conv2d({ out: 2, kernel: 3, padding: 1 }), tanh()]), flatten(), dense({ out: 3 })] },
    // the other curved activations, whose σ″ the second-order pass recomputes from the input
    // (an image input and a flatten: the generic trace, not the dense-chain one)
    ...(['sigmoid', 'softplus', 'gelu'] as const).map((name) => ({
      input: [1, 2, 3] as [number, number, number],
      layers: [flatten(), dense({ out: 7 }), { type: 'activation' as const, name }, dense({ out: 3 })],
    })),
  ];
  for (const [k, spec] of specs.entries()) {
    const net = sequential(spec),
      ref = referenceSequential(spec);
    const N = 5,
      D = net.dim,
      M = net.outputs;
    assert.is(ref.dim, D);
    const theta = net.init(k),
      X = vec(N * net.inputs, 20 + k),
      v = vec(D, 30 + k),
      R = vec(N * M, 40 + k),
      U = vec(N * M, 50 + k),
      R2 = vec(2 * N * M, 60 + k);
    const t = net.forward(theta, X, N) as SequentialTrace,
      r = ref.forward(theta, X, N);
    assert.ok(t instanceof SequentialTrace, `spec ${k}: the generic trace`);
    const near = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => assert.ok(relErr(a, b) < 1e-13, `spec ${k}, ${what}: relative error ${relErr(a, b)}`);
    near(t.outputs, r.outputs, 'outputs');
    near(t.jvp(v), r.jvp(v), 'J v');
    near(t.vjp(R), r.vjp(R), 'Jᵀ R');
    near(t.residualHvp(R, v), r.residualHvp!(R, v), 'Σ R ∇²f v');
    const rv = r.residualHvp!(R, v),
      ju = r.vjp(U);
    near(
      t.residualHvpAndVjp(R, v, U),
      rv.map((x, i) => x + ju[i]!),
      'Σ R ∇²f v + Jᵀ U',
    );
    const pb = t.pullbacks(R2, 2);
    for (let q = 0; q < 2 * N; q++) {
      // row q of the pullbacks is J_nᵀ R2_q for the sample n = ⌊q / 2⌋: Jᵀ of R2_q in sample n's rows
      const Rn = new Float64Array(N * M);
      Rn.set(R2.subarray(q * M, (q + 1) * M), Math.floor(q / 2) * M);
      near(pb.subarray(q * D, (q + 1) * D), r.vjp(Rn), `pullback row ${q}`);
    }
    t.free();
  }
});

test.run();
