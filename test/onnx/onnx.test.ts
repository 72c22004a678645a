// natgrad/onnx against torch 1.13's exporter (test/fixtures/onnx/make-onnx-fixtures.py): each
// fixture maps to the expected layer spec, θ equals the exported model's parameters() exactly,
// and the network rebuilt from the spec reproduces torch's outputs — through the plain-TS
// reference network and through `sequential` (via loadOnnx) — and gives torch's float64 loss,
// gradient and GGN-vector product under `problem` (NAME.curvature.json). Then small graphs written here with
// onnx-proto's encoder for the attribute cases torch does not emit (transB = 0, 'same' padding,
// count_include_pad, typed float_data, the Gelu op), and the error cases.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LayerSpec, SequentialSpec } from '../../bindings/nn/spec.js';
import { categorical, gaussian } from '../../bindings/likelihoods/likelihood.js';
import { loadOnnx, OnnxImportError, onnxToSpec } from '../../bindings/onnx/index.js';
import { DtypeMismatchError } from '../../bindings/core/errors.js';
import { problem } from '../../bindings/problem/problem.js';
import { laplace } from '../../bindings/laplace/index.js';
import { core, reductionTol, relErr, uniform } from '../helpers.js';
import { referenceSequential } from '../reference/layers.js';

const { onnx } = onnxProto;
const dir = new URL('../fixtures/onnx/', import.meta.url);

interface Fixture {
  name: string;
  dtype: 'float32' | 'float64';
  inputShape: number[];
  N: number;
  M: number;
  X: number[];
  outputs: number[];
  params?: number[];
  /** A folded export's θ: the float32 W', b' torch's exporter computes (as all float32 numbers, shortest decimals). */
  foldedParams?: number[];
  buffers: number[];
}

/**
 * NAME.curvature.json: torch's float64 references on the exported θ (float32 parameters and X
 * converted exactly), natgrad's conventions (mean reduction, no prior).
 */
interface CurvatureFixture {
  likelihood: { name: 'categorical'; classes: number } | { name: 'gaussian'; variance: number; outputs: number };
  /** N class indices, or N × M Gaussian targets. */
  y: number[];
  /** The direction of the GGN-vector product, in θ order. */
  v: number[];
  loss: number;
  gradient: number[];
  /** G v = (1/N) Σ_n J_nᵀ Λ_n J_n v. */
  ggnv: number[];
}

const bytesOf = (name: string) => new Uint8Array(readFileSync(new URL(`${name}.onnx`, dir)));
const fixture = (name: string): Fixture => JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8'));
const curvatureFixture = (name: string): CurvatureFixture => JSON.parse(readFileSync(new URL(`${name}.curvature.json`, dir), 'utf8'));
/** The stored numbers as the values torch used: float32 ones are written as their shortest decimal. */
const values = (f: Fixture, a: number[]) => Float64Array.from(a, f.dtype === 'float32' ? Math.fround : (v) => v);

/**
 * Output tolerance (relative, Frobenius): float64 exports differ from natgrad's float64 by
 * summation order only; float32 ones by torch's float32 rounding, ≤ 4·(k + 1)·2⁻²⁴ per chain of
 * reductions of length k (k = the largest fan-in, C·kh·kw or in), a bound the errors stay under
 * since they add up randomly over the few layers.
 */
const outputTol = (f: Fixture, k: number) => 4 * (k + 1) * (f.dtype === 'float32' ? 2 ** -24 : 2 ** -52);

/** Layers of a spec, a residual's body and shortcut included. */
const depth = (layers: readonly LayerSpec[]): number => layers.reduce((n, l) => n + (l.type === 'residual' ? depth(l.layers) + depth(l.shortcut ?? []) : 1), 0);

/**
 * Curvature tolerance (relative: |ΔL| / |L|, ‖Δg‖/‖g‖, ‖ΔGv‖/‖Gv‖). Both sides compute in float64
 * on the same θ and X, so they differ by summation order only: each of the L = depth layers adds
 * at most one reduction's error, 4·(k + 1)·2⁻⁵², k = the largest reduction of the forward and
 * backward passes (a fan-in, or a weight gradient's sum over N samples × output positions).
 */
const curvatureTol = (layers: readonly LayerSpec[], k: number) => depth(layers) * reductionTol(k, 1);

/** Every batchNorm's running statistics in layer order (mean then var), as model.buffers() lists them. */
function runningStats(layers: readonly LayerSpec[]): number[] {
  return layers.flatMap((l) =>
    l.type === 'batchNorm' ? [...(l.runningMean ?? []), ...(l.runningVar ?? [])] : l.type === 'residual' ? [...runningStats(l.layers), ...runningStats(l.shortcut ?? [])] : [],
  );
}

/** The spec with the running statistics left out (checked separately against the buffers). */
function withoutStats(layers: readonly LayerSpec[]): unknown[] {
  return layers.map((l) => {
    if (l.type === 'batchNorm') {
      const { runningMean: _m, runningVar: _v, ...rest } = l;
      return rest;
    }
    if (l.type === 'residual') return { ...l, layers: withoutStats(l.layers), ...(l.shortcut ? { shortcut: withoutStats(l.shortcut) } : {}) };
    return l;
  });
}

const bn = { type: 'batchNorm' } as const;
const relu = { type: 'activation', name: 'relu' } as const;
const RESNET_BN: LayerSpec[] = [
  { type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false },
  bn,
  relu,
  { type: 'maxPool2d', kernel: 3, stride: 2, padding: 1 },
  { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false }, bn, relu, { type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false }, bn] },
  relu,
  {
    type: 'residual',
    layers: [{ type: 'conv2d', out: 8, kernel: 3, stride: 2, padding: 1, bias: false }, bn, relu, { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false }, bn],
    shortcut: [{ type: 'conv2d', out: 8, kernel: 1, stride: 2 }],
  },
  relu,
  { type: 'globalAvgPool2d' },
  { type: 'flatten' },
  { type: 'dense', out: 3 },
];
const LN_NET: LayerSpec[] = [
  { type: 'conv2d', out: 3, kernel: 3, padding: 1 },
  { type: 'layerNorm' },
  relu,
  { type: 'flatten' },
  { type: 'dense', out: 8 },
  { type: 'layerNorm' },
  { type: 'activation', name: 'tanh' },
  { type: 'dense', out: 2 },
];

const PRENORM_BLOCK: LayerSpec = {
  type: 'residual',
  layers: [{ type: 'layerNorm' }, { type: 'dense', out: 8 }, { type: 'activation', name: 'gelu' }, { type: 'dense', out: 6 }],
};

/**
 * Each fixture: its expected spec, the largest reduction in its forward pass (k) and in its
 * forward and backward passes (kCurv: N × a conv's output positions, or N, or k), for the tolerances.
 */
const CASES: { name: string; spec: SequentialSpec; k: number; kCurv: number }[] = [
  {
    name: 'mlp',
    k: 6,
    kCurv: 7, // N = 7
    spec: {
      input: 4,
      layers: [
        { type: 'dense', out: 6 },
        { type: 'activation', name: 'tanh' },
        { type: 'dense', out: 5 }, // MatMul + Add
        { type: 'activation', name: 'sigmoid' },
        { type: 'dense', out: 5 },
        { type: 'activation', name: 'gelu' }, // torch's tanh-GELU decomposition
        { type: 'dense', out: 4 },
        { type: 'activation', name: 'softplus' },
        { type: 'dense', out: 4 }, // Dropout skipped (torch drops it in eval export)
        relu,
        { type: 'dense', out: 3 },
      ],
    },
  },
  {
    name: 'lenet',
    k: 54,
    kCurv: 720, // conv1's weight gradient: N = 5 × 12·12 positions
    spec: {
      input: [1, 12, 12],
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, padding: 1 },
        relu,
        { type: 'maxPool2d', kernel: 2 },
        { type: 'conv2d', out: 6, kernel: 3 },
        relu,
        { type: 'avgPool2d', kernel: 2, padding: 1 }, // Pad + AveragePool
        { type: 'flatten' }, // x.view(x.size(0), -1)
        { type: 'dense', out: 10 },
        relu,
        { type: 'dense', out: 3 },
      ],
    },
  },
  { name: 'resnet_bn', k: 72, kCurv: 256, spec: { input: [3, 8, 8], layers: RESNET_BN } }, // the stem: N = 4 × 8·8 positions
  {
    name: 'resnet_folded',
    k: 72,
    kCurv: 256,
    spec: {
      input: [3, 8, 8],
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, padding: 1 },
        relu,
        { type: 'maxPool2d', kernel: 3, stride: 2, padding: 1 },
        { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1 }, relu, { type: 'conv2d', out: 4, kernel: 3, padding: 1 }] },
        relu,
        {
          type: 'residual',
          layers: [{ type: 'conv2d', out: 8, kernel: 3, stride: 2, padding: 1 }, relu, { type: 'conv2d', out: 8, kernel: 3, padding: 1 }],
          shortcut: [{ type: 'conv2d', out: 8, kernel: 1, stride: 2 }],
        },
        relu,
        { type: 'globalAvgPool2d' },
        { type: 'flatten' },
        { type: 'dense', out: 3 },
      ],
    },
  },
  { name: 'layernorm13', k: 75, kCurv: 75, spec: { input: [2, 5, 5], layers: LN_NET } }, // N = 3 × 5·5; LayerNorm over 75
  { name: 'layernorm17', k: 75, kCurv: 75, spec: { input: [2, 5, 5], layers: LN_NET } },
  {
    name: 'prenorm',
    k: 8,
    kCurv: 8,
    spec: {
      input: 4,
      layers: [
        { type: 'dense', out: 6 },
        PRENORM_BLOCK, // x + fc2(gelu(fc1(LayerNorm(x)))): the LayerNorm decomposition starts at the branch point
        PRENORM_BLOCK,
        { type: 'dense', out: 2 },
      ],
    },
  },
  {
    name: 'meanpool',
    k: 9,
    kCurv: 45, // N = 3 × 5·3 positions
    spec: {
      input: [1, 9, 9],
      layers: [
        { type: 'conv2d', out: 3, kernel: 3, stride: [1, 2], dilation: 2 },
        { type: 'activation', name: 'sigmoid' },
        { type: 'globalAvgPool2d' }, // x.mean((2, 3)): ReduceMean with keepdims = 0
        { type: 'flatten' },
        { type: 'dense', out: 2 },
      ],
    },
  },
];

for (const c of CASES) {
  test(`${c.name}: spec, θ and input / output names`, () => {
    const f = fixture(c.name);
    const r = onnxToSpec(bytesOf(c.name));
    assert.equal(withoutStats(r.spec.layers), withoutStats(c.spec.layers));
    assert.equal(r.spec.input, c.spec.input);
    assert.equal(r.input, { name: 'x', shape: f.inputShape });
    assert.equal(r.output, { name: 'f' });
    // A folded export has no batch norm left; a preserved one carries the buffers as running statistics.
    assert.equal(runningStats(r.spec.layers), f.params ? Array.from(values(f, f.buffers)) : [], 'running statistics = the BatchNorm buffers');
    if (f.params) {
      assert.equal(Array.from(r.theta), Array.from(values(f, f.params)), 'θ = parameters() exactly');
    } else {
      // Folded batch norm: θ is the float32 W', b' torch's exporter computes (the script redoes its
      // float32 fold and finds each tensor's bytes in the file), exactly.
      assert.equal(Array.from(r.theta), Array.from(values(f, f.foldedParams!)), "θ = the exporter's folded W', b' exactly");
    }
  });

  test(`${c.name}: the reference network on the imported spec and θ reproduces torch's outputs`, () => {
    const f = fixture(c.name);
    const r = onnxToSpec(bytesOf(c.name));
    const model = referenceSequential(r.spec);
    assert.is(model.dim, r.theta.length);
    assert.is(model.outputs, f.M);
    const out = model.forward(r.theta, values(f, f.X), f.N).outputs;
    const e = relErr(out, values(f, f.outputs));
    assert.ok(e <= outputTol(f, c.k), `relative error ${e} > ${outputTol(f, c.k)}`);
  });

  test(`${c.name}: loadOnnx → sequential reproduces torch's outputs`, () => {
    const f = fixture(c.name);
    const { model, theta, spec } = loadOnnx(bytesOf(c.name), { core });
    assert.equal(withoutStats(spec.layers), withoutStats(c.spec.layers));
    assert.is(model.dim, theta.length);
    assert.is(model.inputs, f.X.length / f.N);
    const trace = model.forward(theta, values(f, f.X), f.N);
    const e = relErr(trace.outputs, values(f, f.outputs));
    trace.free?.();
    assert.ok(e <= outputTol(f, c.k), `relative error ${e} > ${outputTol(f, c.k)}`);
  });
}

for (const c of CASES) {
  test(`${c.name}: loadOnnx(…, { dtype: 'float32' }) reproduces torch's outputs at float32 precision`, () => {
    const f = fixture(c.name);
    const { model, theta } = loadOnnx(bytesOf(c.name), { core, dtype: 'float32' });
    assert.is(model.dtype, 'float32');
    const trace = model.forward(theta, values(f, f.X), f.N);
    const e = relErr(trace.outputs, values(f, f.outputs));
    trace.free?.();
    // natgrad's float32 passes and (for a float32 export) torch's own float32 evaluation each
    // within the float32 output bound of the exact values.
    const tol = 2 * outputTol({ ...f, dtype: 'float32' }, c.k);
    assert.ok(e <= tol, `relative error ${e} > ${tol}`);
    assert.ok(e > 0 || f.dtype === 'float32', 'float32 rounding present against a float64 export');
  });
}

for (const c of CASES) {
  test(`${c.name}: loadOnnx(…, { dtype: 'float32' }) → problem gives torch's loss, gradient and GGN-vector product at float32 precision`, () => {
    const f = fixture(c.name);
    const ref = curvatureFixture(c.name);
    const { model, theta } = loadOnnx(bytesOf(c.name), { core, dtype: 'float32' });
    const lik = ref.likelihood;
    const likelihood = lik.name === 'categorical' ? categorical({ classes: lik.classes }) : gaussian({ variance: lik.variance, outputs: lik.outputs });
    const X = values(f, f.X);
    const p = problem({ model, X: { data: X, rows: f.N, cols: X.length / f.N }, y: Float64Array.from(ref.y), likelihood, dtype: 'float32' });
    try {
      // torch's references are float64 on the exported θ; natgrad rounds θ, X and v to float32 and
      // runs float32 passes: the float64 bound of the test above with float32's unit roundoff
      // (2⁻²⁴ for 2⁻⁵²), for each pass the products go through (loss 1, gradient 2, GGN v 3).
      const tol = curvatureTol(c.spec.layers, c.kCurv) * 2 ** 28;
      const eL = Math.abs(p.loss(theta) - ref.loss) / Math.abs(ref.loss);
      assert.ok(eL <= tol, `loss: relative error ${eL} > ${tol}`);
      const eg = relErr(p.gradient(theta), ref.gradient);
      assert.ok(eg <= 2 * tol, `gradient: relative error ${eg} > ${2 * tol}`);
      const eG = relErr(p.ggnVectorProduct(theta, Float64Array.from(ref.v)), ref.ggnv);
      assert.ok(eG <= 3 * tol, `GGN-vector product: relative error ${eG} > ${3 * tol}`);
      assert.ok(eg > 0, 'float32 rounding present in the gradient');
      // Measured (NATGRAD_SHOW_RATIOS=1): the errors are 4e-7 to 3e-3 of these bounds.
      if (process.env.NATGRAD_SHOW_RATIOS) process.stderr.write(`${c.name}: ${[eL / tol, eg / (2 * tol), eG / (3 * tol)].map((r) => r.toExponential(1)).join(' ')}\n`);
    } finally {
      p.free();
    }
  });
}

test("loadOnnx: dtype is checked; a problem's dtype must be its model's (DtypeMismatchError names both)", () => {
  assert.throws(
    () => loadOnnx(bytesOf('lenet'), { dtype: 'half' as never }),
    (e: Error) => e instanceof RangeError && /dtype must be 'float32' or 'float64', got 'half'/.test(e.message),
  );
  const { model } = loadOnnx(bytesOf('lenet'), { core });
  const f = fixture('lenet');
  const X = values(f, f.X);
  const opts = { model, X: { data: X, rows: f.N, cols: X.length / f.N }, y: Float64Array.from({ length: f.N }, (_, i) => i % 3), likelihood: categorical({ classes: 3 }) };
  assert.throws(
    () => problem({ ...opts, dtype: 'float32' }),
    (e: Error) => e instanceof DtypeMismatchError && e instanceof TypeError && e.expected === 'float32' && e.got === 'float64' && /'float32'.*'float64'/.test(e.message),
  );
  const p = problem({ ...opts, dtype: 'float64' });
  p.free();
});

for (const c of CASES) {
  test(`${c.name}: loadOnnx → problem gives torch's float64 loss, gradient and GGN-vector product`, () => {
    const f = fixture(c.name);
    const ref = curvatureFixture(c.name);
    const { model, theta } = loadOnnx(bytesOf(c.name), { core });
    const lik = ref.likelihood;
    const likelihood = lik.name === 'categorical' ? categorical({ classes: lik.classes }) : gaussian({ variance: lik.variance, outputs: lik.outputs });
    const X = values(f, f.X);
    const p = problem({ model, X: { data: X, rows: f.N, cols: X.length / f.N }, y: Float64Array.from(ref.y), likelihood });
    try {
      assert.is(p.dim, ref.v.length, 'D');
      const tol = curvatureTol(c.spec.layers, c.kCurv);
      const eL = Math.abs(p.loss(theta) - ref.loss) / Math.abs(ref.loss);
      assert.ok(eL <= tol, `loss: relative error ${eL} > ${tol}`);
      const eg = relErr(p.gradient(theta), ref.gradient);
      assert.ok(eg <= tol, `gradient: relative error ${eg} > ${tol}`);
      const eG = relErr(p.ggnVectorProduct(theta, Float64Array.from(ref.v)), ref.ggnv);
      assert.ok(eG <= tol, `GGN-vector product: relative error ${eG} > ${tol}`);
    } finally {
      p.free();
    }
  });
}

test('resnet: folded and preserved batch norm give the same outputs, different θ', () => {
  const kept = onnxToSpec(bytesOf('resnet_bn'));
  const folded = onnxToSpec(bytesOf('resnet_folded'));
  assert.is(kept.theta.length - folded.theta.length, 2 * (4 + 4 + 4 + 8 + 8) - (4 + 4 + 4 + 8 + 8)); // γ, β per norm vs a bias per conv
  const f = fixture('resnet_bn');
  const X = values(f, f.X);
  const a = referenceSequential(kept.spec).forward(kept.theta, X, f.N).outputs;
  const b = referenceSequential(folded.spec).forward(folded.theta, X, f.N).outputs;
  assert.ok(relErr(a, b) <= outputTol(f, 72), `relative difference ${relErr(a, b)}`);
});

// ---------------------------------------------------------------------------------------------
// Graphs written here (onnx-proto's encoder)
// ---------------------------------------------------------------------------------------------

type Attr = number | string | number[];
interface NodeDef {
  op: string;
  inputs: string[];
  outputs?: string[];
  name?: string;
  attrs?: Record<string, Attr>;
  domain?: string;
}
interface Init {
  name: string;
  dims: number[];
  values: number[];
  type?: 'raw32' | 'raw64' | 'float' | 'double' | 'int64';
}

/** A ModelProto's bytes: one float input `x` of `inDims` (batch 'N' first), nodes in order, the last node's output `y`. */
function build(inDims: number[], nodes: NodeDef[], inits: Init[], o: { opset?: number; extraInputs?: string[]; outputs?: string[] } = {}): Uint8Array {
  const attribute = (name: string, v: Attr) => {
    if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name, type: 7, ints: v };
    return Number.isInteger(v) && name !== 'epsilon' && name !== 'alpha' && name !== 'beta' ? { name, type: 2, i: v } : { name, type: 1, f: v };
  };
  const tensor = (t: Init) => {
    const type = t.type ?? 'raw64';
    const base = { name: t.name, dims: t.dims };
    if (type === 'raw32') return { ...base, dataType: 1, rawData: new Uint8Array(Float32Array.from(t.values).buffer) };
    if (type === 'raw64') return { ...base, dataType: 11, rawData: new Uint8Array(Float64Array.from(t.values).buffer) };
    if (type === 'float') return { ...base, dataType: 1, floatData: t.values };
    if (type === 'double') return { ...base, dataType: 11, doubleData: t.values };
    return { ...base, dataType: 7, int64Data: t.values };
  };
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: 11, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const graph = {
    name: 'g',
    node: nodes.map((n, i) => ({
      name: n.name ?? `n${i}`,
      opType: n.op,
      domain: n.domain ?? '',
      input: n.inputs,
      output: n.outputs ?? [i === nodes.length - 1 ? 'y' : `t${i}`],
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    })),
    initializer: inits.map(tensor),
    input: [vi('x', ['N', ...inDims]), ...(o.extraInputs ?? []).map((n) => vi(n, ['N', ...inDims]))],
    output: (o.outputs ?? ['y']).map((n) => vi(n, ['N', 'M'])),
  };
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: o.opset ?? 13 }], graph }).finish();
}

/** Deterministic numbers in (−1, 1). */
const rand = (n: number, seed: number) => {
  const u = uniform(seed);
  return Array.from({ length: n }, () => 2 * u() - 1);
};

/** y = f(x) for one sample through the reference network. */
function run(r: ReturnType<typeof onnxToSpec>, X: number[], N: number): Float64Array {
  return referenceSequential(r.spec).forward(r.theta, Float64Array.from(X), N).outputs;
}

function throwsImport(fn: () => unknown, check: { operator?: string; node?: string; message: RegExp }): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, OnnxImportError);
    const err = e as OnnxImportError;
    assert.match(err.message, check.message);
    assert.is(err.operator, check.operator, 'operator');
    assert.is(err.node, check.node, 'node');
    return;
  }
  assert.unreachable('no OnnxImportError');
}

test('Gemm with transB = 0 stores W as [in, out]: θ holds Wᵀ (out × in), and the layer computes x B + c', () => {
  const B = rand(3 * 2, 1); // [in 3, out 2]
  const c = rand(2, 2);
  const r = onnxToSpec(
    build(
      [3],
      [{ op: 'Gemm', inputs: ['x', 'B', 'c'] }],
      [
        { name: 'B', dims: [3, 2], values: B },
        { name: 'c', dims: [2], values: c },
      ],
    ),
  );
  assert.equal(r.spec, { input: 3, layers: [{ type: 'dense', out: 2 }] });
  assert.equal(Array.from(r.theta), [B[0], B[2], B[4], B[1], B[3], B[5], ...c]);
  const x = [0.5, -1, 2];
  const y = run(r, x, 1);
  for (let o = 0; o < 2; o++) assert.ok(Math.abs(y[o]! - (x[0]! * B[o]! + x[1]! * B[2 + o]! + x[2]! * B[4 + o]! + c[o]!)) <= 1e-15);
});

test('typed float_data / double_data initializers read as raw_data ones; MatMul without an Add is a dense layer without bias', () => {
  const W = rand(4 * 3, 3);
  const mk = (type: Init['type']) => onnxToSpec(build([4], [{ op: 'MatMul', inputs: ['x', 'W'] }], [{ name: 'W', dims: [4, 3], values: W, type }]));
  const raw = mk('raw64');
  assert.equal(raw.spec.layers, [{ type: 'dense', out: 3, bias: false }]);
  assert.equal(Array.from(mk('double').theta), Array.from(raw.theta));
  assert.equal(Array.from(mk('float').theta), Array.from(mk('raw32').theta));
  assert.equal(Array.from(mk('raw32').theta), Array.from(raw.theta, Math.fround));
});

test("Conv: asymmetric pads of PyTorch's padding='same' (and auto_pad SAME_UPPER) map to 'same'", () => {
  const W = rand(2 * 1 * 2 * 2, 4);
  const inits = [{ name: 'W', dims: [2, 1, 2, 2], values: W }];
  for (const attrs of [{ pads: [0, 0, 1, 1] }, { auto_pad: 'SAME_UPPER' }] as Record<string, Attr>[]) {
    const r = onnxToSpec(build([1, 5, 5], [{ op: 'Conv', inputs: ['x', 'W'], attrs }], inits));
    assert.equal(r.spec.layers, [{ type: 'conv2d', out: 2, kernel: 2, padding: 'same', bias: false }], JSON.stringify(attrs));
    assert.is(referenceSequential(r.spec).outputs, 2 * 5 * 5);
  }
  const odd = onnxToSpec(build([1, 5, 5], [{ op: 'Conv', inputs: ['x', 'W3'], attrs: { auto_pad: 'SAME_UPPER' } }], [{ name: 'W3', dims: [1, 1, 3, 3], values: rand(9, 5) }]));
  assert.equal(odd.spec.layers, [{ type: 'conv2d', out: 1, kernel: 3, padding: 1, bias: false }]);
});

test("Conv: asymmetric pads that are not PyTorch's 'same' are a typed error naming the node", () => {
  const inits = [{ name: 'W', dims: [2, 1, 2, 2], values: rand(8, 6) }];
  throwsImport(() => onnxToSpec(build([1, 5, 5], [{ op: 'Conv', inputs: ['x', 'W'], name: 'conv_a', attrs: { pads: [1, 1, 0, 0] } }], inits)), {
    operator: 'Conv',
    node: 'conv_a',
    message: /conv_a.*asymmetric padding.*'same'/,
  });
  throwsImport(() => onnxToSpec(build([1, 6, 6], [{ op: 'Conv', inputs: ['x', 'W'], name: 'conv_s2', attrs: { pads: [0, 0, 1, 1], strides: [2, 2] } }], inits)), {
    operator: 'Conv',
    node: 'conv_s2',
    message: /asymmetric padding/,
  });
  throwsImport(() => onnxToSpec(build([2, 5, 5], [{ op: 'Conv', inputs: ['x', 'W'], name: 'conv_g', attrs: { group: 2 } }], [{ name: 'W', dims: [2, 1, 2, 2], values: rand(8, 6) }])), {
    operator: 'Conv',
    node: 'conv_g',
    message: /group = 2/,
  });
});

test('AveragePool: count_include_pad = 1 with padding maps; count_include_pad = 0 with padding is an error', () => {
  const pool = (cip: number) => build([1, 4, 4], [{ op: 'AveragePool', inputs: ['x'], name: 'avg', attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: cip } }], []);
  assert.equal(onnxToSpec(pool(1)).spec.layers, [{ type: 'avgPool2d', kernel: 2, padding: 1 }]);
  throwsImport(() => onnxToSpec(pool(0)), { operator: 'AveragePool', node: 'avg', message: /count_include_pad = 0/ });
});

test("the Gelu operator (opset 20): approximate='tanh' is natgrad's gelu, the exact form an error", () => {
  const g = (approximate: string) => build([3], [{ op: 'Gelu', inputs: ['x'], name: 'gelu', attrs: { approximate } }], [], { opset: 20 });
  assert.equal(onnxToSpec(g('tanh')).spec.layers, [{ type: 'activation', name: 'gelu' }]);
  throwsImport(() => onnxToSpec(g('none')), { operator: 'Gelu', node: 'gelu', message: /tanh form/ });
});

test('LayerNormalization over the last axis of an image is an error (natgrad normalizes all per-sample values)', () => {
  const F = 4;
  const inits = [
    { name: 'g', dims: [F], values: rand(F, 7) },
    { name: 'b', dims: [F], values: rand(F, 8) },
  ];
  throwsImport(() => onnxToSpec(build([2, 3, F], [{ op: 'LayerNormalization', inputs: ['x', 'g', 'b'], name: 'ln', attrs: { axis: -1 } }], inits, { opset: 17 })), {
    operator: 'LayerNormalization',
    node: 'ln',
    message: /all per-sample values/,
  });
});

test('a residual block whose shortcut is an Identity node is an identity residual; a Mul join is an error', () => {
  const W = rand(9, 9);
  const res = build(
    [3],
    [
      { op: 'Identity', inputs: ['x'], outputs: ['s'] },
      { op: 'Gemm', inputs: ['x', 'W'], outputs: ['h'], attrs: { transB: 1 } },
      { op: 'Tanh', inputs: ['h'], outputs: ['a'] },
      { op: 'Add', inputs: ['s', 'a'] },
    ],
    [{ name: 'W', dims: [3, 3], values: W }],
  );
  const r = onnxToSpec(res);
  assert.equal(r.spec.layers, [
    {
      type: 'residual',
      layers: [
        { type: 'dense', out: 3, bias: false },
        { type: 'activation', name: 'tanh' },
      ],
    },
  ]);
  const x = [0.3, -0.2, 0.9];
  const y = run(r, x, 1);
  for (let o = 0; o < 3; o++) assert.ok(Math.abs(y[o]! - (x[o]! + Math.tanh(W[3 * o]! * x[0]! + W[3 * o + 1]! * x[1]! + W[3 * o + 2]! * x[2]!))) <= 1e-15);
  const mul = build(
    [3],
    [
      { op: 'Tanh', inputs: ['x'], outputs: ['a'] },
      { op: 'Sigmoid', inputs: ['x'], outputs: ['b'] },
      { op: 'Mul', inputs: ['a', 'b'], name: 'join' },
    ],
    [],
  );
  throwsImport(() => onnxToSpec(mul), { operator: 'Mul', node: 'join', message: /rejoin/ });
});

test('errors: truncated file, random bytes, empty bytes, not bytes', () => {
  const good = bytesOf('mlp');
  for (const cut of [good.length - 1, Math.floor(good.length / 2), 7]) {
    throwsImport(() => onnxToSpec(good.subarray(0, cut)), { message: /not an ONNX model/ });
  }
  const u = uniform(42);
  const random = Uint8Array.from({ length: 4096 }, () => Math.floor(256 * u()));
  throwsImport(() => onnxToSpec(random), { message: /not an ONNX model/ });
  throwsImport(() => onnxToSpec(new ArrayBuffer(0)), { message: /not an ONNX model: no graph/ });
  assert.throws(
    () => onnxToSpec('net.onnx' as unknown as Uint8Array),
    (e: unknown) => e instanceof TypeError && /Uint8Array/.test((e as Error).message),
  );
  assert.throws(
    () => loadOnnx(good, { cores: 2 } as never),
    (e: unknown) => e instanceof TypeError && /loadOnnx: unknown option 'cores' — did you mean 'core'/.test((e as Error).message),
  );
});

test('errors: an unsupported operator mid-graph names the operator, the node and the supported list', () => {
  throwsImport(() => onnxToSpec(bytesOf('softmax')), {
    operator: 'Softmax',
    node: '/1/Softmax',
    message: /operator Softmax \(node '\/1\/Softmax'\) is not supported; supported operators: Gemm, .*Conv/,
  });
  throwsImport(() => onnxToSpec(bytesOf('gelu_erf')), { operator: 'Erf', node: '/1/Erf', message: /exact \(erf\) GELU.*tanh form/ });
});

test('errors: several inputs or outputs; a node off the chain', () => {
  throwsImport(() => onnxToSpec(build([3], [{ op: 'Add', inputs: ['x', 'x2'] }], [], { extraInputs: ['x2'] })), { message: /one input and one output; this one has 2 input/ });
  throwsImport(
    () =>
      onnxToSpec(
        build(
          [3],
          [
            { op: 'Relu', inputs: ['x'], outputs: ['y'] },
            { op: 'Tanh', inputs: ['x'], outputs: ['z'] },
          ],
          [],
          { outputs: ['y', 'z'] },
        ),
      ),
    {
      message: /1 input\(s\).*2 output\(s\)/,
    },
  );
  const dangling = build(
    [3],
    [
      { op: 'Relu', inputs: ['x'], outputs: ['a'] },
      { op: 'Tanh', inputs: ['a'], outputs: ['unused'], name: 'dead' },
      { op: 'Sigmoid', inputs: ['a'] },
    ],
    [],
  );
  throwsImport(() => onnxToSpec(dangling), { operator: 'Tanh', node: 'dead', message: /nothing reads its output 'unused'/ });
});
test('lenet from ONNX: Laplace posteriors (diagonal equals the GGN diagonal + δ; Kronecker evidence, predictive)', () => {
  const f = fixture('lenet');
  const ref = curvatureFixture('lenet');
  const { model, theta } = loadOnnx(bytesOf('lenet'), { core });
  const X = values(f, f.X);
  const p = problem({ model, X: { data: X, rows: f.N, cols: X.length / f.N }, y: Float64Array.from(ref.y), likelihood: categorical({ classes: ref.likelihood.classes! }) });
  try {
    const delta = 0.7;
    const diag = p.ggn(theta, { structure: 'diagonal' });
    const la = laplace(p, theta, { structure: 'diagonal', priorPrecision: delta });
    // P = N · GGN_mean + δ on the diagonal: log det P = Σ log(N d_i + δ).
    const want = diag.reduce((s, d) => s + Math.log(f.N * d + delta), 0);
    const got = la.logDetPosteriorPrecision();
    assert.ok(Math.abs(got - want) <= reductionTol(diag.length, Math.abs(want)), `log det P ${got} vs ${want}`);
    const k = laplace(p, theta, { structure: 'kfac', priorPrecision: delta });
    const z = k.logMarginalLikelihood();
    assert.ok(Number.isFinite(z) && z < 0, `log Z = ${z}`);
    const opt = k.optimizePriorPrecision();
    assert.ok(opt.converged && opt.logMarginalLikelihood >= z, 'the evidence-optimal prior improves log Z');
    const C = ref.likelihood.classes!;
    const pred = k.predict({ data: X.subarray(0, 3 * (X.length / f.N)), rows: 3, cols: X.length / f.N });
    for (let r = 0; r < 3; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += pred.data[r * C + c]!;
      assert.ok(Math.abs(s - 1) < 1e-12, `row ${r} sums to ${s}`);
    }
    la.free();
    k.free();
  } finally {
    p.free();
  }
});

test.run();
