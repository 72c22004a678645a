// The plain-TS layer-network reference (test/reference/layers.ts) checked against itself the
// strong way: hand-computed layer values in PyTorch's conventions, jvp against central finite
// differences of forward, vjp as the adjoint of jvp, residualHvp against finite differences of
// vjp (R fixed) and symmetric, KFAC factors against brute-force constructions from per-sample
// Jacobians, and an MLP spec against test/reference/mlp.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EPS, assertClose, normals, randomMatrix, relErr } from '../helpers.js';
import type { SequentialSpec } from '../../bindings/nn/spec.js';
import type { ModelTrace } from '../../bindings/models/model.js';
import { centralDifference, referenceMlp } from './mlp.js';
import {
  avgPool2dForward,
  batchNormForward,
  conv2dForward,
  conv2dGeometry,
  conv2dInputGrad,
  conv2dWeightGrad,
  globalAvgPool2dForward,
  im2col,
  layerNormForward,
  maxPool2dForward,
  pool2dGeometry,
  referenceKfac,
  referenceLayerShapes,
  referenceOutputShape,
  referenceParameterCount,
  referenceSequential,
  shapeSize,
  type ReferenceKfacFactor,
} from './layers.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const unit = (a: Float64Array) => a.map((x) => x / norm(a));

/**
 * Finite differences: central, step H along unit-norm directions (θ entries O(1)). The error is
 * O(H²·|f'''|) + O(eps·|f|/H) ≈ 1e-10 relative here; FD_TOL leaves two orders of margin.
 */
const H = 1e-5;
const FD_TOL = 1e-8;
/** Exact identities (adjoint, symmetry, the same computation by two routes): relative to the sizes of the terms. */
const EXACT_TOL = 1e-12;

const CASES: { name: string; spec: SequentialSpec; N: number }[] = [
  {
    name: 'flat: dense, gelu, batchNorm (running stats), dense without bias, softplus, layerNorm, dense',
    spec: {
      input: 5,
      layers: [
        { type: 'dense', out: 4 },
        { type: 'activation', name: 'gelu' },
        { type: 'batchNorm', eps: 1e-3, runningMean: [0.1, -0.2, 0.3, 0], runningVar: [0.5, 2, 1.5, 0.8] },
        { type: 'dense', out: 3, bias: false },
        { type: 'activation', name: 'softplus' },
        { type: 'layerNorm' },
        { type: 'dense', out: 2 },
      ],
    },
    N: 3,
  },
  {
    name: 'conv 3×3 padding 1, relu, maxPool 2 (odd input: floor), flatten, dense',
    spec: {
      input: [2, 5, 7],
      layers: [{ type: 'conv2d', out: 3, kernel: 3, padding: 1 }, { type: 'activation', name: 'relu' }, { type: 'maxPool2d', kernel: 2 }, { type: 'flatten' }, { type: 'dense', out: 2 }],
    },
    N: 2,
  },
  {
    name: 'strided dilated rectangular conv, sigmoid, padded avgPool, batchNorm on images, globalAvgPool',
    spec: {
      input: [3, 7, 6],
      layers: [
        { type: 'conv2d', out: 2, kernel: [3, 2], stride: [2, 1], dilation: [1, 2], padding: [1, 0] },
        { type: 'activation', name: 'sigmoid' },
        { type: 'avgPool2d', kernel: 3, stride: 2, padding: 1 },
        { type: 'batchNorm', runningMean: [0.2, -0.1], runningVar: [0.7, 1.3] },
        { type: 'globalAvgPool2d' },
        { type: 'flatten' },
        { type: 'dense', out: 3 },
      ],
    },
    N: 2,
  },
  {
    name: "'same' padding (even kernel, dilation), layerNorm on images, tanh, padded strided maxPool",
    spec: {
      input: [2, 4, 5],
      layers: [
        { type: 'conv2d', out: 3, kernel: [2, 4], padding: 'same' },
        { type: 'layerNorm', eps: 1e-2 },
        { type: 'activation', name: 'tanh' },
        { type: 'conv2d', out: 2, kernel: 3, dilation: 2, padding: 'same', bias: false },
        { type: 'maxPool2d', kernel: 3, stride: [1, 2], padding: 1 },
        { type: 'flatten' },
        { type: 'dense', out: 2 },
      ],
    },
    N: 2,
  },
  {
    name: 'residual blocks: identity and strided 1×1-conv shortcuts, flat residuals with and without a dense shortcut',
    spec: {
      input: [2, 5, 5],
      layers: [
        { type: 'conv2d', out: 3, kernel: 3, padding: 1 },
        {
          type: 'residual',
          layers: [
            { type: 'conv2d', out: 3, kernel: 3, padding: 1 },
            { type: 'activation', name: 'tanh' },
            { type: 'conv2d', out: 3, kernel: 3, padding: 1, bias: false },
          ],
        },
        {
          type: 'residual',
          layers: [{ type: 'conv2d', out: 4, kernel: 3, stride: 2, padding: 1 }, { type: 'activation', name: 'softplus' }, { type: 'batchNorm' }],
          shortcut: [{ type: 'conv2d', out: 4, kernel: 1, stride: 2 }],
        },
        { type: 'activation', name: 'gelu' },
        { type: 'globalAvgPool2d' },
        { type: 'flatten' },
        {
          type: 'residual',
          layers: [
            { type: 'dense', out: 4 },
            { type: 'activation', name: 'tanh' },
          ],
        },
        {
          type: 'residual',
          layers: [
            { type: 'dense', out: 3 },
            { type: 'activation', name: 'sigmoid' },
            { type: 'layerNorm', affine: false },
          ],
          shortcut: [{ type: 'dense', out: 3, bias: false }],
        },
        { type: 'dense', out: 2 },
      ],
    },
    N: 2,
  },
  {
    name: 'nested residuals, rectangular conv, avgPool with default stride, identity activation, layerNorm on flat',
    spec: {
      input: [1, 6, 6],
      layers: [
        {
          type: 'residual',
          layers: [
            {
              type: 'residual',
              layers: [
                { type: 'conv2d', out: 1, kernel: 3, padding: 1 },
                { type: 'activation', name: 'tanh' },
              ],
            },
            { type: 'conv2d', out: 1, kernel: [1, 3], padding: [0, 1] },
          ],
        },
        { type: 'avgPool2d', kernel: 2 },
        { type: 'activation', name: 'identity' },
        { type: 'flatten' },
        { type: 'layerNorm' },
        { type: 'activation', name: 'tanh' },
        { type: 'dense', out: 3 },
      ],
    },
    N: 2,
  },
];

/** A model with θ away from PyTorch's init (γ ≠ 1, β ≠ 0: every bilinear term is exercised) and random X, R, unit v, u. */
function setup(spec: SequentialSpec, N: number, seed: number) {
  const model = referenceSequential(spec);
  const g = normals(seed);
  const theta = model.init(seed).map((t) => 1.5 * t + 0.3 * g());
  const X = randomMatrix(N, model.inputs, seed + 1);
  const R = randomMatrix(N, model.outputs, seed + 2);
  const v = unit(randomMatrix(1, model.dim, seed + 3));
  const u = unit(randomMatrix(1, model.dim, seed + 4));
  return { model, theta, X, R, v, u, trace: model.forward(theta, X, N) };
}

// ---- hand-computed values in PyTorch's conventions ----

test('conv2dForward: a hand example, and the even kernel with padding "same" padding bottom/right', () => {
  const x = Float64Array.from({ length: 9 }, (_, i) => i + 1); // 1 × 3 × 3: [[1,2,3],[4,5,6],[7,8,9]]
  const g = conv2dGeometry([1, 3, 3], { out: 1, kernel: 2 });
  assert.equal([g.outH, g.outW], [2, 2]);
  // W = [[1, 0], [0, −1]]: y = x[oh, ow] − x[oh + 1, ow + 1] + b = −4 + 0.5
  assert.equal(Array.from(conv2dForward(x, Float64Array.of(1, 0, 0, -1), Float64Array.of(0.5), g)), [-3.5, -3.5, -3.5, -3.5]);
  // 'same' with a 2×2 kernel: total padding 1 per axis, all of it at the bottom / right (PyTorch)
  const same = conv2dGeometry([1, 3, 3], { out: 1, kernel: 2, padding: 'same' });
  assert.equal([same.padTop, same.padBottom, same.padLeft, same.padRight, same.outH, same.outW], [0, 1, 0, 1, 3, 3]);
  assert.equal(Array.from(conv2dForward(x, Float64Array.of(1, 1, 1, 1), null, same)), [12, 16, 9, 24, 28, 15, 15, 17, 9]);
  // dilation 2, kernel 2, 'same': total 2 per axis, split 1 / 1
  const dil = conv2dGeometry([1, 3, 3], { out: 1, kernel: 2, dilation: 2, padding: 'same' });
  assert.equal([dil.padTop, dil.padBottom, dil.outH, dil.outW], [1, 1, 3, 3]);
  // centre output: taps at (−1+1, −1+1) … = x[0,0], x[0,2], x[2,0], x[2,2]
  assert.is(conv2dForward(x, Float64Array.of(1, 1, 1, 1), null, dil)[4], 1 + 3 + 7 + 9);
  // stride and padding output size: ⌊(7 + 2 − 3)/2⌋ + 1 = 4
  assert.is(conv2dGeometry([1, 7, 7], { out: 1, kernel: 3, stride: 2, padding: 1 }).outH, 4);
});

test('im2col: conv2dForward = W · patchᵀ + b at every position (rows row-major (oh, ow), columns (c, kh, kw))', () => {
  const g = conv2dGeometry([3, 6, 5], { out: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 2], dilation: [1, 2] });
  const rows = 2;
  const x = randomMatrix(rows, 3 * 6 * 5, 1),
    W = randomMatrix(4, 3 * 3 * 2, 2),
    b = randomMatrix(1, 4, 3);
  const y = conv2dForward(x, W, b, g, rows);
  const P = 3 * 3 * 2,
    S = g.outH * g.outW;
  const cols = im2col(x, g, rows);
  assert.is(cols.length, rows * S * P);
  const viaCols = new Float64Array(y.length);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < 4; o++) for (let s = 0; s < S; s++) viaCols[(n * 4 + o) * S + s] = b[o]! + dot(W.subarray(o * P, (o + 1) * P), cols.subarray((n * S + s) * P, (n * S + s + 1) * P));
  assert.ok(relErr(viaCols, y) < EXACT_TOL, `${relErr(viaCols, y)}`);
  // a patch entry by hand: sample 1, position (oh, ow) = (1, 0), c = 2, (i, j) = (0, 1) → x[2, 1·2 − 1 + 0, 0 − 2 + 1·2]
  assert.is(cols[(1 * S + 1 * g.outW + 0) * P + (2 * 3 + 0) * 2 + 1], x[1 * 90 + (2 * 6 + 1) * 5 + 0]);
});

test('conv2dInputGrad / conv2dWeightGrad are the adjoints of conv2dForward in x and in W', () => {
  const g = conv2dGeometry([2, 5, 6], { out: 3, kernel: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [2, 1] });
  const rows = 2,
    inSize = 2 * 5 * 6,
    outSize = 3 * g.outH * g.outW;
  const x = randomMatrix(rows, inSize, 4),
    W = randomMatrix(3, 2 * 2 * 3, 5),
    gy = randomMatrix(rows, outSize, 6);
  const y = conv2dForward(x, W, null, g, rows);
  const lhs = dot(gy, y);
  assert.ok(Math.abs(lhs - dot(conv2dInputGrad(gy, W, g, rows), x)) <= EXACT_TOL * norm(gy) * norm(y) * 10);
  assert.ok(Math.abs(lhs - dot(conv2dWeightGrad(gy, x, g, rows), W)) <= EXACT_TOL * norm(gy) * norm(y) * 10);
});

test('maxPool2d: padding is −∞, ties pick the first maximum in row-major window order; avgPool2d counts padding zeros', () => {
  const x = Float64Array.of(-1, -2, -3, -4); // 1 × 2 × 2
  const g = pool2dGeometry([1, 2, 2], { kernel: 2, stride: 1, padding: 1 });
  const { y, argmax } = maxPool2dForward(x, g);
  assert.equal(Array.from(y), [-1, -1, -2, -1, -1, -2, -3, -3, -4]);
  assert.equal(Array.from(argmax), [0, 0, 1, 0, 0, 1, 2, 2, 3]);
  const tie = maxPool2dForward(Float64Array.of(1, 5, 5, 2, 7, 7, 7, 7), pool2dGeometry([2, 2, 2], { kernel: 2 }));
  assert.equal(Array.from(tie.argmax), [1, 4]); // channel 1's row starts at index 4
  assert.equal(Array.from(tie.y), [5, 7]);
  const avg = avgPool2dForward(Float64Array.of(1, 2, 3, 4), g);
  assert.equal(Array.from(avg), [1 / 4, 3 / 4, 2 / 4, 4 / 4, 10 / 4, 6 / 4, 3 / 4, 7 / 4, 4 / 4]);
  // the stride defaults to the kernel; floor mode drops the incomplete last window
  const d = pool2dGeometry([1, 5, 7], { kernel: [2, 3] });
  assert.equal([d.sh, d.sw, d.outH, d.outW], [2, 3, 2, 2]);
  assert.equal(Array.from(globalAvgPool2dForward(Float64Array.of(1, 2, 3, 4, 10, 20, 30, 40), 2, 4)), [2.5, 25]);
});

test('batchNorm (eval) and layerNorm (biased variance) by hand', () => {
  // per channel on 2 × 1 × 2 images: γ (x − μ)/√(σ² + eps) + β
  const bn = batchNormForward(Float64Array.of(1, 3, 2, 6), Float64Array.of(2, -1), Float64Array.of(0.5, 1), [1, 2], [4, 1], 0, 2, 2);
  assertClose(bn, [0.5, 2 * (2 / 2) + 0.5, 1, -(4 / 1) + 1], 4 * EPS);
  // x = [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9)/4 = 3.5
  const s = Math.sqrt(3.5 + 0.5);
  const ln = layerNormForward(Float64Array.of(1, 2, 3, 6), Float64Array.of(1, 2, 3, 4), Float64Array.of(0, 0, 1, 0), 0.5, 4);
  assertClose(ln, [-2 / s, (2 * -1) / s, 1, (4 * 3) / s], 8 * EPS);
});

test('shapes, parameter counts and groups (θ order: body then shortcut; names by index)', () => {
  const spec = CASES[4]!.spec;
  assert.equal(referenceLayerShapes(spec), [[3, 5, 5], [3, 5, 5], [4, 3, 3], [4, 3, 3], [4, 1, 1], 4, 4, 3, 2]);
  assert.is(referenceOutputShape(spec), 2);
  const model = referenceSequential(spec);
  const expected: [string, number, boolean][] = [
    ['0.conv2d', 3 * 2 * 9 + 3, false],
    ['1.layers.0.conv2d', 3 * 3 * 9 + 3, false],
    ['1.layers.2.conv2d', 3 * 3 * 9, false],
    ['2.layers.0.conv2d', 4 * 3 * 9 + 4, false],
    ['2.layers.2.batchNorm', 8, false],
    ['2.shortcut.0.conv2d', 4 * 3 + 4, false],
    ['6.layers.0.dense', 4 * 5, true],
    ['7.layers.0.dense', 3 * 5, true],
    ['7.shortcut.0.dense', 3 * 4, true],
    ['8.dense', 2 * 3 + 2, true],
  ];
  assert.equal(
    model.groups.map((g) => [g.name, g.size, g.dense !== undefined]),
    expected,
  );
  let at = 0;
  for (const g of model.groups) {
    assert.is(g.offset, at);
    at += g.size;
  }
  assert.is(model.dim, at);
  assert.is(referenceParameterCount(spec), at);
  assert.equal(model.groups[8]!.dense, { inputs: 4, outputs: 3, bias: false });
  assert.is(model.inputs, 50);
  assert.is(model.outputs, 2);
  assert.is(model.name, 'reference-sequential');
  // layerNorm: γ and β per value of the sample; none without affine
  assert.is(referenceParameterCount({ input: [2, 3, 4], layers: [{ type: 'layerNorm' }] }), 48);
  assert.is(referenceParameterCount({ input: [2, 3, 4], layers: [{ type: 'layerNorm', affine: false }, { type: 'flatten' }] }), 0);
  // init: PyTorch's bounds, γ = 1 and β = 0
  const th = referenceSequential(CASES[0]!.spec).init(7);
  assert.ok(th.subarray(0, 24).every((t) => Math.abs(t) <= 1 / Math.sqrt(5)));
  assert.equal(Array.from(th.subarray(24, 32)), [1, 1, 1, 1, 0, 0, 0, 0]);
});

// ---- the strong self-checks, every case ----

for (const [i, c] of CASES.entries()) {
  test(`${c.name}: jvp = central differences of forward; vjp is its adjoint`, () => {
    const { model, theta, X, v, R, trace } = setup(c.spec, c.N, 10 * i + 1);
    const Jv = trace.jvp(v);
    const fd = centralDifference((t) => model.forward(t, X, c.N).outputs, theta, v, H);
    assert.ok(relErr(Jv, fd) < FD_TOL, `jvp vs FD: ${relErr(Jv, fd)}`);
    const JtR = trace.vjp(R);
    const lhs = dot(R, Jv),
      rhs = dot(JtR, v);
    assert.ok(Math.abs(lhs - rhs) <= EXACT_TOL * Math.max(norm(R) * norm(Jv), norm(JtR) * norm(v)), `⟨R, Jv⟩ = ${lhs}, ⟨JᵀR, v⟩ = ${rhs}`);
  });

  test(`${c.name}: residualHvp = central differences of vjp (R fixed), and symmetric`, () => {
    const { model, theta, X, v, u, R, trace } = setup(c.spec, c.N, 10 * i + 2);
    const Hv = trace.residualHvp!(R, v);
    const fd = centralDifference((t) => model.forward(t, X, c.N).vjp(R), theta, v, H);
    assert.ok(norm(fd) > 1e-3, 'the residual term is not trivially zero');
    assert.ok(relErr(Hv, fd) < FD_TOL, `residualHvp vs FD of vjp: ${relErr(Hv, fd)}`);
    const Hu = trace.residualHvp!(R, u);
    const uHv = dot(u, Hv),
      vHu = dot(v, Hu);
    assert.ok(Math.abs(uHv - vHu) <= EXACT_TOL * Math.max(norm(Hv), norm(Hu)), `⟨u, Hv⟩ = ${uHv}, ⟨v, Hu⟩ = ${vHu}`);
  });
}

test('jvp and residualHvp are exact across a relu / maxPool network (piecewise linear in x; argmax fixed)', () => {
  // relu'' = 0 and maxPool is linear given its argmax: the residual term is the θ–x bilinear terms only
  const spec: SequentialSpec = {
    input: [1, 4, 4],
    layers: [{ type: 'conv2d', out: 2, kernel: 2 }, { type: 'activation', name: 'relu' }, { type: 'maxPool2d', kernel: 2, stride: 1 }, { type: 'flatten' }, { type: 'dense', out: 1, bias: false }],
  };
  const { model, theta, X, v, R, trace } = setup(spec, 3, 99);
  // f is bilinear in (conv W, dense W) on each linear piece: f(θ + εv) is a quadratic in ε there,
  // so the central difference of vjp is exact up to rounding even with a large step.
  const fd = centralDifference((t) => model.forward(t, X, 3).vjp(R), theta, v, 1e-4);
  assert.ok(relErr(trace.residualHvp!(R, v), fd) < 1e-9, `${relErr(trace.residualHvp!(R, v), fd)}`);
});

// ---- an MLP spec is the reference MLP ----

test('dense, tanh, dense = referenceMlp: outputs, jvp, vjp and residualHvp', () => {
  const sizes = [4, 6, 3];
  const spec: SequentialSpec = {
    input: 4,
    layers: [
      { type: 'dense', out: 6 },
      { type: 'activation', name: 'tanh' },
      { type: 'dense', out: 3 },
    ],
  };
  const { model, theta, X, R, v, trace } = setup(spec, 5, 123);
  const mlp = referenceMlp({ sizes, activation: 'tanh' });
  assert.is(model.dim, mlp.dim);
  assert.equal(
    model.groups.map((g) => [g.offset, g.size, g.dense]),
    mlp.groups.map((g) => [g.offset, g.size, g.dense]),
  );
  const ref = mlp.forward(theta, X, 5);
  for (const [what, a, b] of [
    ['outputs', trace.outputs, ref.outputs],
    ['jvp', trace.jvp(v), ref.jvp(v)],
    ['vjp', trace.vjp(R), ref.vjp(R)],
    ['residualHvp', trace.residualHvp!(R, v), ref.residualHvp!(R, v)],
  ] as const)
    assert.ok(relErr(a, b) < EXACT_TOL, `${what}: ${relErr(a, b)}`);
});

test('conv2d with the whole image as kernel = flatten + dense (same θ): outputs, vjp, residualHvp, KFAC', () => {
  const conv: SequentialSpec = {
    input: [2, 3, 4],
    layers: [{ type: 'conv2d', out: 3, kernel: [3, 4] }, { type: 'flatten' }, { type: 'activation', name: 'tanh' }, { type: 'dense', out: 2 }],
  };
  const dense: SequentialSpec = { input: [2, 3, 4], layers: [{ type: 'flatten' }, { type: 'dense', out: 3 }, { type: 'activation', name: 'tanh' }, { type: 'dense', out: 2 }] };
  const { theta, X, R, v, trace } = setup(conv, 3, 5);
  const other = referenceSequential(dense).forward(theta, X, 3);
  assert.ok(relErr(trace.outputs, other.outputs) < EXACT_TOL);
  assert.ok(relErr(trace.vjp(R), other.vjp(R)) < EXACT_TOL);
  assert.ok(relErr(trace.residualHvp!(R, v), other.residualHvp!(R, v)) < EXACT_TOL);
  const K = 2,
    RK = randomMatrix(3 * K, 2, 6);
  for (const approximation of ['expand', 'reduce'] as const) {
    const a = referenceKfac(conv, theta, X, 3, RK, K, 0.7, { approximation, bias: 'joint' });
    const b = referenceKfac(dense, theta, X, 3, RK, K, 0.7, { approximation, bias: 'joint' });
    for (let l = 0; l < 2; l++) {
      assert.ok(relErr(a[l]!.A, b[l]!.A) < EXACT_TOL && relErr(a[l]!.G, b[l]!.G) < EXACT_TOL, `${approximation} layer ${l}`);
    }
  }
});

// ---- KFAC against brute force ----

/** Per-sample Jacobians J_n (M × D) from D jvps with unit vectors: entry [n][m][j]. */
function jacobians(trace: ModelTrace, N: number, M: number, D: number): Float64Array {
  const J = new Float64Array(N * M * D);
  for (let j = 0; j < D; j++) {
    const e = new Float64Array(D);
    e[j] = 1;
    const col = trace.jvp(e);
    for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) J[(n * M + m) * D + j] = col[n * M + m]!;
  }
  return J;
}

/** c_nk = J_nᵀ R_nk restricted to θ[offset, offset + size). */
function pullback(J: Float64Array, RK: Float64Array, n: number, k: number, K: number, M: number, D: number, offset: number, size: number): Float64Array {
  const c = new Float64Array(size);
  for (let m = 0; m < M; m++) for (let j = 0; j < size; j++) c[j] += RK[(n * K + k) * M + m]! * J[(n * M + m) * D + offset + j]!;
  return c;
}

/** The outputs of the first `count` layers (θ prefix), or X itself. */
function prefixOutputs(spec: SequentialSpec, count: number, theta: Float64Array, X: Float64Array, N: number): Float64Array {
  if (count === 0) return X;
  const prefix = referenceSequential({ input: spec.input, layers: spec.layers.slice(0, count) });
  return prefix.forward(theta.subarray(0, prefix.dim), X, N).outputs;
}

test('KFAC of dense layers = brute force from per-sample Jacobians (c_nk = δ_nk ⊗ ā_n exactly; expand = reduce; joint / separate)', () => {
  const spec: SequentialSpec = {
    input: 4,
    layers: [
      { type: 'dense', out: 5 },
      { type: 'activation', name: 'tanh' },
      { type: 'dense', out: 3, bias: false },
      { type: 'activation', name: 'softplus' },
      { type: 'layerNorm' },
      { type: 'dense', out: 2 },
    ],
  };
  const N = 4,
    K = 3,
    scale = 0.37;
  const { model, theta, X, trace } = setup(spec, N, 31);
  const M = model.outputs,
    D = model.dim;
  const RK = randomMatrix(N * K, M, 32);
  const J = jacobians(trace, N, M, D);
  const denseLayers = [0, 2, 5];
  const results = {
    joint: referenceKfac(spec, theta, X, N, RK, K, scale, { approximation: 'expand', bias: 'joint' }),
    separate: referenceKfac(spec, theta, X, N, RK, K, scale, { approximation: 'expand', bias: 'separate' }),
    reduce: referenceKfac(spec, theta, X, N, RK, K, scale, { approximation: 'reduce', bias: 'joint' }),
  };
  assert.equal(
    results.joint.map((f) => [f.name, f.aDim, f.gDim, f.positions]),
    [
      ['0.dense', 5, 5, 1],
      ['2.dense', 5, 3, 1],
      ['5.dense', 4, 2, 1],
    ],
  );
  assert.equal(
    results.separate.map((f) => f.aDim),
    [4, 5, 3],
  );
  for (const [l, layerIndex] of denseLayers.entries()) {
    const group = model.groups.find((g) => g.name === `${layerIndex}.dense`)!;
    const { inputs, outputs, bias } = group.dense!;
    const a = prefixOutputs(spec, layerIndex, theta, X, N);
    const aDim = inputs + (bias ? 1 : 0);
    const A = new Float64Array(aDim * aDim),
      G = new Float64Array(outputs * outputs);
    for (let n = 0; n < N; n++) {
      const abar = Float64Array.from({ length: aDim }, (_, i) => (i < inputs ? a[n * inputs + i]! : 1));
      for (let i = 0; i < aDim; i++) for (let j = 0; j < aDim; j++) A[i * aDim + j] += (abar[i]! * abar[j]!) / N;
      const pivot = abar.reduce((best, x, i) => (Math.abs(x) > Math.abs(abar[best]!) ? i : best), 0);
      for (let k = 0; k < K; k++) {
        // the pullback as an out × aDim matrix [W | b] is δ āᵀ: read δ off the pivot column, check the rest
        const c = pullback(J, RK, n, k, K, M, D, group.offset, group.size);
        const at = (o: number, i: number) => (i < inputs ? c[o * inputs + i]! : c[outputs * inputs + o]!);
        const delta = Float64Array.from({ length: outputs }, (_, o) => at(o, pivot) / abar[pivot]!);
        for (let o = 0; o < outputs; o++) for (let i = 0; i < aDim; i++) assert.ok(Math.abs(at(o, i) - delta[o]! * abar[i]!) <= EXACT_TOL * norm(c), `rank one: layer ${layerIndex} (${o}, ${i})`);
        for (let o = 0; o < outputs; o++) for (let p = 0; p < outputs; p++) G[o * outputs + p] += scale * delta[o]! * delta[p]!;
      }
    }
    const joint = results.joint[l]!;
    assert.ok(relErr(joint.A, A) < EXACT_TOL, `A of ${group.name}: ${relErr(joint.A, A)}`);
    assert.ok(relErr(joint.G, G) < 1e-11, `G of ${group.name}: ${relErr(joint.G, G)}`);
    assert.equal(results.reduce[l]!.A, joint.A);
    assert.equal(results.reduce[l]!.G, joint.G);
    // separate: A without the ones coordinate, same G
    const sep = results.separate[l]!;
    assert.equal(sep.G, joint.G);
    const P = inputs;
    assert.equal(
      sep.A,
      Float64Array.from({ length: P * P }, (_, e) => joint.A[Math.floor(e / P) * aDim + (e % P)]!),
    );
  }
});

test('KFAC inside residual blocks: for one sample and one vector, scale · c cᵀ = G ⊗ A exactly for every dense layer', () => {
  const spec = CASES[4]!.spec;
  const { model, theta, X, trace } = setup(spec, 1, 51);
  const M = model.outputs,
    D = model.dim,
    scale = 0.8;
  const R = randomMatrix(1, M, 52);
  const J = jacobians(trace, 1, M, D);
  const factors = referenceKfac(spec, theta, X.subarray(0, model.inputs), 1, R, 1, scale, { approximation: 'expand', bias: 'joint' });
  assert.equal(
    factors.map((f) => f.name),
    model.groups.filter((g) => /conv2d|dense/.test(g.name)).map((g) => g.name),
  );
  for (const f of factors.filter((x) => x.type === 'dense')) {
    const c = pullback(J, R, 0, 0, 1, M, D, f.offset, f.size);
    const inputs = f.aDim - (f.bias ? 1 : 0),
      outputs = f.gDim;
    // the pullback as the out × aDim matrix [W | b]
    const C = (o: number, i: number) => (i < inputs ? c[o * inputs + i]! : c[outputs * inputs + o]!);
    if (f.bias) assert.is(f.A[f.aDim * f.aDim - 1], 1, `${f.name}: the ones coordinate`);
    const tol = EXACT_TOL * scale * dot(c, c);
    for (let o = 0; o < outputs; o++)
      for (let i = 0; i < f.aDim; i++)
        for (let p = 0; p < outputs; p++)
          for (let j = 0; j < f.aDim; j++) {
            const d = scale * C(o, i) * C(p, j) - f.G[o * outputs + p]! * f.A[i * f.aDim + j]!;
            if (!(Math.abs(d) <= tol)) assert.unreachable(`${f.name} (${o}, ${i}), (${p}, ${j}): |Δ| = ${Math.abs(d)}`);
          }
  }
});

test('KFAC of conv2d layers: reduce against the bias columns of the Jacobians, expand against finite-difference δ, patches by padded-image indexing', () => {
  const spec: SequentialSpec = {
    input: [2, 5, 4],
    layers: [
      { type: 'conv2d', out: 3, kernel: [3, 2], padding: [1, 0], stride: [1, 2] },
      { type: 'activation', name: 'tanh' },
      { type: 'conv2d', out: 2, kernel: 2, dilation: [2, 1], padding: 1 },
      { type: 'activation', name: 'sigmoid' },
      { type: 'flatten' },
      { type: 'dense', out: 2 },
    ],
  };
  const N = 3,
    K = 2,
    scale = 1.3;
  const { model, theta, X, trace } = setup(spec, N, 41);
  const M = model.outputs,
    D = model.dim;
  const RK = randomMatrix(N * K, M, 42);
  const J = jacobians(trace, N, M, D);
  const factors: Record<string, ReferenceKfacFactor[]> = {};
  for (const approximation of ['expand', 'reduce'] as const)
    for (const bias of ['joint', 'separate'] as const) factors[`${approximation}-${bias}`] = referenceKfac(spec, theta, X, N, RK, K, scale, { approximation, bias });

  for (const [l, layerIndex] of [0, 2].entries()) {
    const layer = model.layers.find((x) => x.name === `${layerIndex}.conv2d`)!;
    const geo = layer.conv!.geometry;
    const S = geo.outH * geo.outW,
      P = geo.inC * geo.kh * geo.kw,
      out = geo.out;
    const input = prefixOutputs(spec, layerIndex, theta, X, N);
    // patches ā_{n,s} from an explicitly zero-padded image
    const patches = (n: number): Float64Array[] => {
      const Hp = geo.inH + geo.padTop + geo.padBottom,
        Wp = geo.inW + geo.padLeft + geo.padRight;
      const padded = new Float64Array(geo.inC * Hp * Wp);
      for (let c = 0; c < geo.inC; c++)
        for (let h = 0; h < geo.inH; h++)
          for (let w = 0; w < geo.inW; w++) padded[(c * Hp + h + geo.padTop) * Wp + w + geo.padLeft] = input[n * geo.inC * geo.inH * geo.inW + (c * geo.inH + h) * geo.inW + w]!;
      const list: Float64Array[] = [];
      for (let oh = 0; oh < geo.outH; oh++)
        for (let ow = 0; ow < geo.outW; ow++) {
          const p: number[] = [];
          for (let c = 0; c < geo.inC; c++) for (let i = 0; i < geo.kh; i++) for (let j = 0; j < geo.kw; j++) p.push(padded[(c * Hp + oh * geo.sh + i * geo.dh) * Wp + ow * geo.sw + j * geo.dw]!);
          p.push(1);
          list.push(Float64Array.from(p));
        }
      return list;
    };
    // δ_{n,s,k}: central differences of the rest of the network at the layer's output z_n
    const head = referenceSequential({ input: spec.input, layers: spec.layers.slice(0, layerIndex + 1) });
    const tail = referenceSequential({ input: [out, geo.outH, geo.outW], layers: spec.layers.slice(layerIndex + 1) });
    const z = head.forward(theta.subarray(0, head.dim), X, N).outputs;
    const thetaTail = theta.subarray(head.dim);
    const deltas = (n: number, k: number): Float64Array[] => {
      const zn = z.slice(n * out * S, (n + 1) * out * S);
      const r = RK.subarray((n * K + k) * M, (n * K + k + 1) * M);
      const grad = Float64Array.from({ length: out * S }, (_, e) => {
        const dir = new Float64Array(out * S);
        dir[e] = 1;
        return dot(
          r,
          centralDifference((zz) => tail.forward(thetaTail, zz, 1).outputs, zn, dir, H),
        );
      });
      return Array.from({ length: S }, (_, s) => Float64Array.from({ length: out }, (_, o) => grad[o * S + s]!));
    };
    const Ae = new Float64Array((P + 1) ** 2),
      Ar = new Float64Array((P + 1) ** 2),
      Ge = new Float64Array(out * out),
      Gr = new Float64Array(out * out);
    const addOuter = (T: Float64Array, a: Float64Array, w: number) => a.forEach((x, i) => a.forEach((y, j) => (T[i * a.length + j] += w * x * y)));
    for (let n = 0; n < N; n++) {
      const ps = patches(n);
      for (const p of ps) addOuter(Ae, p, 1 / (N * S));
      addOuter(
        Ar,
        ps.reduce((m, p) => m.map((x, i) => x + p[i]! / S), new Float64Array(P + 1)),
        1 / N,
      );
      for (let k = 0; k < K; k++) {
        for (const d of deltas(n, k)) addOuter(Ge, d, scale);
        // Σ_s δ_{n,s,k} = the bias block of J_nᵀ R_nk (∂f/∂b_o = Σ_s ∂f/∂z_{o,s})
        addOuter(Gr, pullback(J, RK, n, k, K, M, D, layer.offset + out * P, out), scale);
      }
    }
    const drop = (A: Float64Array) => Float64Array.from({ length: P * P }, (_, e) => A[Math.floor(e / P) * (P + 1) + (e % P)]!);
    const check = (key: string, A: Float64Array, G: Float64Array, gTol: number) => {
      const f = factors[key]![l]!;
      assert.is(f.positions, S);
      assert.ok(relErr(f.A, key.endsWith('joint') ? A : drop(A)) < EXACT_TOL, `${key} A of layer ${layerIndex}: ${relErr(f.A, A)}`);
      assert.ok(relErr(f.G, G) < gTol, `${key} G of layer ${layerIndex}: ${relErr(f.G, G)}`);
    };
    check('reduce-joint', Ar, Gr, 1e-11);
    check('reduce-separate', Ar, Gr, 1e-11);
    check('expand-joint', Ae, Ge, FD_TOL);
    check('expand-separate', Ae, Ge, FD_TOL);
    assert.ok(relErr(Ge, Gr) > 1e-3, 'expand and reduce differ on this layer');
  }
});

// ---- validation ----

test('specs that do not chain are refused, naming the layer and the argument', () => {
  const bad: [SequentialSpec, RegExp][] = [
    [
      {
        input: [1, 4, 4],
        layers: [
          { type: 'activation', name: 'tanh' },
          { type: 'maxPool2d', kernel: 2 },
          { type: 'conv2d', out: 1, kernel: 5, padding: 1 },
        ],
      },
      /^layers\[2\] \(conv2d\): kernel 5 is larger than the padded input 4$/,
    ],
    [{ input: [1, 4, 6], layers: [{ type: 'conv2d', out: 1, kernel: 3, dilation: [1, 4] }] }, /^layers\[0\] \(conv2d\): dilated kernel 3×9 is larger than the padded input 4×6$/],
    [{ input: [2, 3, 3], layers: [{ type: 'dense', out: 2 }] }, /^layers\[0\] \(dense\): the input is an image \[2, 3, 3\]; put a flatten layer before a dense layer$/],
    [{ input: [2, 3, 3], layers: [{ type: 'globalAvgPool2d' }, { type: 'dense', out: 2 }] }, /^layers\[1\] \(dense\): the input is an image \[2, 1, 1\]/],
    [{ input: 6, layers: [{ type: 'conv2d', out: 2, kernel: 1 }] }, /^layers\[0\] \(conv2d\): needs an image input \[C, H, W\], got 6 features$/],
    [{ input: 6, layers: [{ type: 'flatten' }, { type: 'maxPool2d', kernel: 1 }] }, /^layers\[1\] \(maxPool2d\): needs an image input/],
    [
      { input: [2, 5, 5], layers: [{ type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1 }] }] },
      /^layers\[0\] \(residual\): the body maps \[2, 5, 5\] to \[4, 5, 5\] and there is no shortcut/,
    ],
    [
      { input: [2, 5, 5], layers: [{ type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1 }], shortcut: [{ type: 'conv2d', out: 4, kernel: 1, stride: 2 }] }] },
      /^layers\[0\] \(residual\): the body gives \[4, 5, 5\] but the shortcut gives \[4, 3, 3\]$/,
    ],
    [
      {
        input: [2, 5, 5],
        layers: [
          { type: 'flatten' },
          {
            type: 'residual',
            layers: [
              { type: 'dense', out: 50 },
              { type: 'residual', layers: [{ type: 'dense', out: 0 }] },
            ],
          },
        ],
      },
      /^layers\[1\]\.layers\[1\]\.layers\[0\] \(dense\): out must be a positive integer, got 0$/,
    ],
    [{ input: 4, layers: [{ type: 'dense', out: 2.5 }] }, /^layers\[0\] \(dense\): out must be a positive integer, got 2.5$/],
    [{ input: [1, 4, 4], layers: [{ type: 'conv2d', out: 1, kernel: [2, -1] }] }, /^layers\[0\] \(conv2d\): kernel must be a positive integer or a pair \[h, w\] of them, got \[2, -1\]$/],
    [{ input: [1, 4, 4], layers: [{ type: 'conv2d', out: 1, kernel: 2, stride: 0 }] }, /^layers\[0\] \(conv2d\): stride must be a positive integer/],
    [{ input: [1, 4, 4], layers: [{ type: 'conv2d', out: 1, kernel: 2, padding: -1 }] }, /^layers\[0\] \(conv2d\): padding must be a non-negative integer/],
    [{ input: [1, 4, 4], layers: [{ type: 'conv2d', out: 1, kernel: 2, stride: 2, padding: 'same' }] }, /^layers\[0\] \(conv2d\): padding 'same' needs stride 1/],
    [{ input: [1, 4, 4], layers: [{ type: 'maxPool2d', kernel: 3, padding: 2 }] }, /^layers\[0\] \(maxPool2d\): padding \[2, 2\] must be at most half the kernel \[3, 3\]$/],
    [{ input: [1, 2, 4], layers: [{ type: 'avgPool2d', kernel: 3 }] }, /^layers\[0\] \(avgPool2d\): kernel 3×3 is larger than the padded input 2×4$/],
    [{ input: [0, 4, 4], layers: [{ type: 'flatten' }] }, /^input: C must be a positive integer, got 0$/],
    [{ input: -3, layers: [{ type: 'flatten' }] }, /^input: the feature count must be a positive integer, got -3$/],
    [{ input: 3, layers: [] }, /^layers must be a non-empty array/],
    [{ input: 3, layers: [{ type: 'residual', layers: [] }] }, /^layers\[0\] \(residual\): layers must be a non-empty array/],
    [{ input: 3, layers: [{ type: 'batchNorm', runningMean: [0, 0] }] }, /^layers\[0\] \(batchNorm\): runningMean must be 3 finite numbers \(one per feature\), got 2 entries$/],
    [{ input: 3, layers: [{ type: 'layerNorm', eps: -1 }] }, /^layers\[0\] \(layerNorm\): eps must be a finite non-negative number, got -1$/],
    [{ input: 3, layers: [{ type: 'activation', name: 'swish' as 'tanh' }] }, /^layers\[0\] \(activation\): name must be one of 'tanh', .*got "swish"$/],
    [{ input: 3, layers: [{ type: 'conv1d' } as unknown as SequentialSpec['layers'][number]] }, /^layers\[0\]: unknown layer type "conv1d"/],
  ];
  // (flatten on a flat input is a no-op, not an error)
  assert.equal(referenceOutputShape({ input: [1, 4, 4], layers: [{ type: 'conv2d', out: 2, kernel: 3 }, { type: 'flatten' }, { type: 'flatten' }] }), 8);
  for (const [spec, re] of bad) {
    let message = '(no error)';
    try {
      referenceSequential(spec);
    } catch (e) {
      assert.instance(e, RangeError);
      message = (e as Error).message;
    }
    assert.match(message, re);
  }
  // the model checks what it is given
  const m = referenceSequential(CASES[0]!.spec);
  assert.throws(() => m.forward(new Float64Array(m.dim - 1), new Float64Array(5), 1), /theta must have/);
  assert.throws(() => m.forward(new Float64Array(m.dim), new Float64Array(4), 1), /X must have 1 × 5/);
  const trace = m.forward(new Float64Array(m.dim), new Float64Array(10), 2);
  assert.throws(() => trace.vjp(new Float64Array(3)), /R must have 4 entries/);
  assert.is(shapeSize([2, 3, 4]), 24);
});

test.run();
