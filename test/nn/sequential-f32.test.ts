// sequential({ …, dtype: 'float32' }) (issue 19): every pass of the generic trace — conv2d, pools,
// batch and layer norm, activations, residual adds, dense — run in float32 against the float64
// network at the same θ and X (both exactly representable in float32): outputs, J v, Jᵀ R, the
// residual products, per-row pullbacks, the pullback Grams (dense, diagonal, blocks) and the KFAC
// factors ('expand', 'reduce'); 1 vs 2 threads bitwise; the problem-level products; a bad dtype.
//
// Tolerance (normwise, first order in u = 2⁻²⁴):
//
//   ‖q32 − q64‖∞ ≤ c · P · K · u · ‖q64‖∞,   c = 4,
//
// with K the longest reduction of the pass (a conv's C·kh·kw patch products, a dense layer's
// inputs or outputs, a weight gradient's N·S positions, a pullback Gram's N·K rows) and P the
// number of float32 stages on a path (the ops, times the passes the quantity runs: 1 forward,
// +1 tangent, +1 backward, +1 second-order backward). Why: every float32 step is an sgemm or an
// elementwise / reduction kernel whose entries are sums of at most K terms, each with an error
// ≤ γ_K·Σ|terms| ≤ 1.01·K·u·Σ|terms| (Higham, Thm 3.5), and an error made in one stage reaches
// the result through the later stages' linear maps. Normwise against ‖q64‖∞ instead of the sum of
// absolute terms: at the random θ used here nothing cancels to below a tenth of the terms'
// size (c = 4 absorbs that and the roundings of θ directions and cotangents to float32). Measured
// here (both binaries, 1 and 2 threads; NATGRAD_SHOW_RATIOS=1 prints them): the largest error /
// bound per quantity is between 2e-5 (Jᵀ R) and 6e-3 (the ResNet's outputs); the bound is the
// worst case (a K-term sum's errors grow like √K in practice). A wrong term (an O(1) relative
// error) exceeds it by 10²–10⁴.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  batchNorm,
  categorical,
  conv2d,
  createCore,
  type Core,
  dense,
  flatten,
  globalAvgPool2d,
  layerNorm,
  maxPool2d,
  avgPool2d,
  problem,
  relu,
  residual,
  sequential,
  type SequentialSpec,
  type SymMatrix,
  tanh,
} from '../../bindings/index.js';
import { SequentialTrace } from '../../bindings/internals.js';
import { checkFloat32Bound, core, maxAbs, variant, vec32 } from '../helpers.js';

/** ‖a − b‖∞ / bound (≤ 1 passes), the bound asserted (see the header). */
const check = checkFloat32Bound;

function lowerOf(m: SymMatrix): Float64Array {
  const n = m.size,
    a = m.toDense(),
    out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out.push(a[i * n + j]!);
  return Float64Array.from(out);
}

interface Net {
  name: string;
  spec: SequentialSpec;
  N: number;
  /** The longest patch / feature reduction of a layer (K of the forward and tangent passes). */
  fanIn: number;
  /** Output positions summed per sample in a weight gradient (the largest conv S; 1 for dense-only). */
  positions: number;
}

const NETS: Net[] = [
  {
    name: 'CNN (conv2d stride / padding / dilation, relu, tanh, max and average pooling, dense)',
    spec: {
      input: [3, 9, 9],
      layers: [
        conv2d({ out: 5, kernel: 3, padding: 1 }),
        relu(),
        maxPool2d({ kernel: 2 }),
        conv2d({ out: 6, kernel: 3, stride: 2, padding: 2, dilation: 2 }),
        tanh(),
        avgPool2d({ kernel: 2, stride: 1 }),
        flatten(),
        dense({ out: 4 }),
      ],
    },
    N: 7,
    fanIn: 5 * 9,
    positions: 81,
  },
  {
    name: 'ResNet block (batchNorm, residual add, 1×1 shortcut, global average pool, layerNorm)',
    spec: {
      input: [2, 6, 6],
      layers: [
        conv2d({ out: 4, kernel: 3, padding: 'same' }),
        batchNorm({ runningMean: [0.1, -0.2, 0.05, 0], runningVar: [1.5, 0.7, 1, 2.25] }),
        relu(),
        residual([conv2d({ out: 4, kernel: 3, padding: 1 }), batchNorm(), relu(), conv2d({ out: 6, kernel: 3, padding: 1 })], { shortcut: conv2d({ out: 6, kernel: 1 }) }),
        relu(),
        globalAvgPool2d(),
        flatten(),
        layerNorm(),
        dense({ out: 3 }),
      ],
    },
    N: 6,
    fanIn: 6 * 9,
    positions: 36,
  },
];

/** Runs every pass of the trace of `spec` in `dtype` on `c`. */
function passes(spec: SequentialSpec, dtype: 'float32' | 'float64', c: Core, N: number, seed: number) {
  const net = sequential({ ...spec, dtype, core: c });
  const theta = net.init(seed).map(Math.fround);
  const X = vec32(N * net.inputs, seed + 1),
    v = vec32(net.dim, seed + 2),
    R = vec32(N * net.outputs, seed + 3),
    U = vec32(N * net.outputs, seed + 4),
    R2 = vec32(2 * N * net.outputs, seed + 5);
  const t = net.forward(theta, X, N);
  assert.ok(t instanceof SequentialTrace, `${dtype}: the generic trace`);
  const out = {
    outputs: t.outputs,
    jvp: t.jvp(v),
    vjp: t.vjp(R),
    hvp: t.residualHvp(R, v),
    hvpU: t.residualHvpAndVjp(R, v, U),
    pullbacks: t.pullbacks(R2, 2),
    gramDense: lowerOf(t.pullbackGram!(R2, 2, 'dense', 0.5) as SymMatrix),
    gramDiag: t.pullbackGram!(R2, 2, 'diagonal', 0.5) as Float64Array,
    gramBlocks: (t.pullbackGram!(R2, 2, 'block', 0.5) as SymMatrix[]).map(lowerOf),
    kfacExpand: t.kfacFactors!(R2, 2, 0.5, { kfacApproximation: 'expand', bias: 'joint' }),
    kfacReduce: t.kfacFactors!(R2, 2, 0.5, { kfacApproximation: 'reduce', bias: 'separate' }),
  };
  t.free();
  return { net, out };
}

for (const n of NETS) {
  test(`float32 ${n.name}: every pass within the float32 bound of float64, and really rounded`, () => {
    const a = passes(n.spec, 'float32', core, n.N, 11),
      b = passes(n.spec, 'float64', core, n.N, 11);
    assert.is(a.net.dtype, 'float32');
    assert.is(b.net.dtype, 'float64');
    assert.is(a.net.dim, b.net.dim);
    const L = a.net.program.ops.length;
    const sums = n.N * n.positions; // a weight gradient's reduction
    const x = a.out,
      y = b.out;
    const ratios: Record<string, number> = {};
    ratios.outputs = check(x.outputs, y.outputs, L, n.fanIn, 'outputs');
    ratios.jvp = check(x.jvp, y.jvp, 2 * L, n.fanIn, 'J v');
    ratios.vjp = check(x.vjp, y.vjp, 2 * L, Math.max(n.fanIn, sums), 'Jᵀ R');
    ratios.hvp = check(x.hvp, y.hvp, 4 * L, Math.max(n.fanIn, sums), 'Σ R ∇²f v');
    ratios.hvpU = check(x.hvpU, y.hvpU, 4 * L, Math.max(n.fanIn, sums), 'Σ R ∇²f v + Jᵀ U');
    ratios.pullbacks = check(x.pullbacks, y.pullbacks, 2 * L, Math.max(n.fanIn, n.positions), 'pullbacks');
    const gramK = Math.max(n.fanIn, n.positions) + 2 * n.N;
    ratios.gramDense = check(x.gramDense, y.gramDense, 2 * L + 1, gramK, 'dense Gram');
    ratios.gramDiag = check(x.gramDiag, y.gramDiag, 2 * L + 1, gramK, 'diagonal Gram');
    x.gramBlocks.forEach((blk, i) => check(blk, y.gramBlocks[i]!, 2 * L + 1, gramK, `Gram block ${i}`));
    for (const [kx, ky, what] of [
      [x.kfacExpand, y.kfacExpand, 'expand'],
      [x.kfacReduce, y.kfacReduce, 'reduce'],
    ] as const) {
      assert.is(kx.length, ky.length);
      kx.forEach((f, i) => {
        const g = ky[i]!;
        if ('A' in f && 'A' in g) {
          check(lowerOf(f.A), lowerOf(g.A), L + 1, sums * n.fanIn, `KFAC ${what} A of layer ${i}`);
          check(lowerOf(f.G), lowerOf(g.G), 2 * L + 1, sums * n.fanIn, `KFAC ${what} G of layer ${i}`);
          f.A.free();
          f.G.free();
          g.A.free();
          g.G.free();
        } else if ('exact' in f && 'exact' in g) {
          check(lowerOf(f.exact), lowerOf(g.exact), 2 * L + 1, gramK, `exact block of layer ${i}`);
          f.exact.free();
          g.exact.free();
        } else assert.unreachable(`layer ${i}: the same kind of factor in both types`);
      });
    }
    if (process.env.NATGRAD_SHOW_RATIOS) console.log(n.name, ratios);
    // Float32 rounding really happened (a float32 network that ran in float64 would agree to ~1e-16).
    let most = 0;
    for (let i = 0; i < x.hvp.length; i++) most = Math.max(most, Math.abs(x.hvp[i]! - y.hvp[i]!) / maxAbs(y.hvp));
    assert.ok(most > 1e-9, `float32 rounding present in Σ R ∇²f v (largest relative difference ${most})`);
    for (const f of [x.outputs, x.vjp, x.hvp]) for (const e of f) assert.is(Math.fround(e), e, 'float32 results are float32 values');
  });
}

test('float32 sequential: 1 and 2 threads give bitwise the same passes', async () => {
  const cores = [await createCore({ variant, threads: 1 }), await createCore({ variant, threads: 2 })];
  assert.is(cores[1]!.threads, 2);
  for (const n of NETS) {
    // A batch large enough for the kernels' splits to engage.
    const [a, b] = cores.map((c) => passes(n.spec, 'float32', c, 64, 5).out);
    for (const key of ['outputs', 'jvp', 'vjp', 'hvp', 'hvpU', 'pullbacks', 'gramDense', 'gramDiag'] as const) {
      assert.equal(Array.from(a![key]), Array.from(b![key]), `${n.name}: ${key}`);
    }
    a!.kfacExpand.forEach((f, i) => {
      const g = b!.kfacExpand[i]!;
      if ('A' in f && 'A' in g) {
        assert.equal(f.A.toDense(), g.A.toDense(), `${n.name}: KFAC A ${i}`);
        assert.equal(f.G.toDense(), g.G.toDense(), `${n.name}: KFAC G ${i}`);
      }
    });
  }
});

test('float32 sequential through problem: loss, gradient, GGN- and Hessian-vector products within the bound', () => {
  const n = NETS[0]!;
  const N = 9;
  const res = (['float32', 'float64'] as const).map((dtype) => {
    const net = sequential({ ...n.spec, dtype });
    const theta = net.init(3).map(Math.fround);
    const X = vec32(N * net.inputs, 4);
    const y = Float64Array.from({ length: N }, (_, i) => i % 4);
    const p = problem({ model: net, X: { data: X, rows: N, cols: net.inputs }, y, likelihood: categorical({ classes: 4 }), dtype });
    const v = vec32(net.dim, 6);
    return { loss: [p.loss(theta)], grad: p.gradient(theta), ggn: p.ggnVectorProduct(theta, v), hvp: p.hessianVectorProduct(theta, v) };
  });
  const [a, b] = res as [(typeof res)[0], (typeof res)[0]];
  const L = 8,
    K = Math.max(n.fanIn, N * n.positions);
  check(a.loss, b.loss, L + 1, K, 'loss');
  check(a.grad, b.grad, 2 * L + 1, K, 'gradient');
  check(a.ggn, b.ggn, 4 * L + 1, K, 'GGN-vector product');
  check(a.hvp, b.hvp, 4 * L + 1, K, 'Hessian-vector product');
});

test('float32 inputs: Float32Array X data, θ and v give the same results as their float64 widenings', () => {
  const net = sequential({ ...NETS[0]!.spec, dtype: 'float32' });
  const N = 5;
  const X32 = Float32Array.from(vec32(N * net.inputs, 8)),
    th32 = Float32Array.from(net.init(2)),
    v32 = Float32Array.from(vec32(net.dim, 9));
  const y = Float64Array.from({ length: N }, (_, i) => i % 4);
  const lik = categorical({ classes: 4 });
  const p32 = problem({ model: net, X: { data: X32, rows: N, cols: net.inputs }, y, likelihood: lik, dtype: 'float32' });
  const p64 = problem({ model: net, X: { data: Float64Array.from(X32), rows: N, cols: net.inputs }, y, likelihood: lik });
  assert.equal(p32.gradient(th32), p64.gradient(Float64Array.from(th32)));
  assert.equal(p32.ggnVectorProduct(th32, v32), p64.ggnVectorProduct(Float64Array.from(th32), Float64Array.from(v32)));
  assert.throws(() => problem({ model: net, X: { data: [1, 2] as never, rows: 1, cols: 2 }, y, likelihood: lik }), /X\.data must be a Float64Array or a Float32Array/);
});

test('sequential: dtype is checked, and an unknown option named', () => {
  assert.throws(
    () => sequential({ input: 4, layers: [dense({ out: 2 })], dtype: 'float16' as 'float32' }),
    (e: Error) => e instanceof RangeError && /dtype must be 'float32' or 'float64', got 'float16'/.test(e.message),
  );
  assert.throws(
    () => sequential({ input: 4, layers: [dense({ out: 2 })], dtpye: 'float32' } as never),
    (e: Error) => /dtpye/.test(e.message),
  );
  assert.is(sequential({ input: 4, layers: [dense({ out: 2 })] }).dtype, 'float64');
});

test.run();
