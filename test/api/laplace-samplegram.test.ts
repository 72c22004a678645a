// The three routes of the functional variance Σ_f(x) = J P⁻¹ Jᵀ of 'diagonal' and 'kfac'
// posteriors (bindings/laplace/laplace.ts), on the same mlp:
//   1. ModelTrace.sampleGram (bindings/nn/dense-chain.ts): from the layer inputs and output
//      gradients, no Jacobian rows;
//   2. Jacobian rows, each dense group's rows rotated as the outer product U_Gᵀδ (U_Aᵀā)ᵀ (the
//      model behind a trace without `sampleGram`);
//   3. Jacobian rows rotated by GEMMs with U_A and U_G (the groups also without their `dense` tag).
// Checked pairwise for both bias forms, both subsets, scalar and layerwise priors and a Gaussian
// likelihood with σ and T; and sampleGram's argument checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { categorical, gaussian, type Model, type ModelTrace, mlp, problem, type Problem } from '../../bindings/index.js';
import { laplace, type LaplaceOptions } from '../../bindings/laplace/index.js';
import { core, randomMatrix } from '../helpers.js';

/**
 * The model with every trace method but `sampleGram` (Laplace then takes Jacobian rows), and with
 * `plain` its groups without the `dense` tag (the GEMM rotation of every row).
 */
function withoutSampleGram(m: Model, plain = false): Model {
  const groups = m.groups.map(({ dense: _, ...g }) => g);
  return new Proxy(m, {
    get(target, key) {
      if (key === 'groups' && plain) return groups;
      if (key !== 'forward') return Reflect.get(target, key);
      return (theta: Float64Array, X: Float64Array, rows: number): ModelTrace => {
        const tr = target.forward(theta, X, rows);
        return new Proxy(tr, {
          get(t, k) {
            if (k === 'sampleGram') return undefined;
            const v = Reflect.get(t, k, t);
            return typeof v === 'function' ? v.bind(t) : v;
          },
        });
      };
    },
  });
}

interface Case {
  p: Problem;
  q: Problem;
  r: Problem;
  theta: Float64Array;
  Xt: Float64Array;
}

function classification(): Case {
  const model = mlp({ sizes: [3, 6, 5, 4], activation: 'tanh', core });
  const N = 40;
  const X = randomMatrix(N, 3, 21);
  const y = Float64Array.from({ length: N }, (_, n) => (X[3 * n]! > 0.3 ? 3 : X[3 * n + 1]! > 0 ? 2 : X[3 * n + 2]! > 0 ? 1 : 0));
  const spec = { X: { data: X, rows: N, cols: 3 }, y, likelihood: categorical({ classes: 4 }) };
  return {
    p: problem({ model, ...spec }),
    q: problem({ model: withoutSampleGram(model), ...spec }),
    r: problem({ model: withoutSampleGram(model, true), ...spec }),
    theta: model.init(5),
    Xt: randomMatrix(7, 3, 22),
  };
}

function regression(): Case {
  const model = mlp({ sizes: [2, 5, 2], activation: 'tanh', core });
  const N = 30;
  const X = randomMatrix(N, 2, 23);
  const Y = Float64Array.from({ length: N * 2 }, (_, i) => Math.cos(X[Math.floor(i / 2) * 2]! - i));
  const spec = { X: { data: X, rows: N, cols: 2 }, y: { data: Y, rows: N, cols: 2 }, likelihood: gaussian({ variance: 0.5, outputs: 2 }), reduction: 'sum' as const };
  return {
    p: problem({ model, ...spec }),
    q: problem({ model: withoutSampleGram(model), ...spec }),
    r: problem({ model: withoutSampleGram(model, true), ...spec }),
    theta: model.init(6),
    Xt: randomMatrix(5, 2, 24),
  };
}

/**
 * Both paths sum the same D products per entry in different orders: a relative error of a few
 * D·ε of the entries' absolute sums; 1e-12 of the largest entry is far above that (D ≤ 90) and far
 * below any error in a weight or a rotation.
 */
function close(a: Float64Array, b: Float64Array, what: string): void {
  assert.is(a.length, b.length, what);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 0, `${what}: a zero functional variance cannot test anything`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-12 * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

const cases: [string, () => Case, LaplaceOptions][] = [
  ['diagonal, all, scalar δ', classification, { structure: 'diagonal', priorPrecision: 0.7 }],
  ['diagonal, all, layerwise δ', classification, { structure: 'diagonal', priorPrecision: [0.5, 2, 3] }],
  ['diagonal, lastLayer', classification, { structure: 'diagonal', subset: 'lastLayer', priorPrecision: 1.3 }],
  ['kfac joint, all', classification, { structure: 'kfac', priorPrecision: 0.9 }],
  ['kfac joint, layerwise δ', classification, { structure: 'kfac', priorPrecision: [0.4, 1, 5] }],
  ['kfac separate, all', classification, { structure: 'kfac', bias: 'separate', priorPrecision: 1.1 }],
  ['kfac separate, lastLayer', classification, { structure: 'kfac', bias: 'separate', subset: 'lastLayer', priorPrecision: 2 }],
  ['kfac, empirical Fisher', classification, { structure: 'kfac', curvature: 'empiricalFisher', priorPrecision: 0.8 }],
  ['diagonal, Gaussian σ = 0.6, T = 2', regression, { structure: 'diagonal', sigmaNoise: 0.6, temperature: 2, priorPrecision: 0.5 }],
  ['kfac, Gaussian σ = 1.4', regression, { structure: 'kfac', sigmaNoise: 1.4, priorPrecision: 1.5 }],
];

for (const [name, make, options] of cases) {
  test(`Σ_f by sampleGram = by rank-one rotations of Jacobian rows = by GEMM rotations: ${name}`, () => {
    const { p, q, r, theta, Xt } = make();
    const ls = [p, q, r].map((x) => laplace(x, theta, options));
    try {
      const X = { data: Xt, rows: Xt.length / p.inputs, cols: p.inputs };
      const check = (what: string) => {
        const [a, b, c] = ls.map((la) => la.functionalVariance(X)) as [Float64Array, Float64Array, Float64Array];
        close(a, b, `${what}: sampleGram vs rank-one`);
        close(b, c, `${what}: rank-one vs GEMM`);
      };
      check('Σ_f');
      // after a change of δ (kfac: no refactorization; the weights follow)
      const opts = ls.map((la) => la.optimizePriorPrecision());
      assert.ok(opts[0]!.converged);
      assert.ok(Math.abs(opts[0]!.priorPrecision - opts[2]!.priorPrecision) <= 1e-9 * opts[2]!.priorPrecision);
      check('Σ_f at δ*');
      const [pa, pb] = [ls[0]!, ls[2]!].map((la) => la.predict(X) as { data: Float64Array } | { mean: Float64Array; variance: Float64Array });
      if ('data' in pa!) close(pa.data, (pb as { data: Float64Array }).data, 'predictive');
      else close(pa!.variance, (pb as { variance: Float64Array }).variance, 'predictive variance');
    } finally {
      for (const la of ls) la.free();
      p.free();
      q.free();
      r.free();
    }
  });
}

test('sampleGram: chunks of test points give the points one by one', () => {
  const { p, q, r, theta } = classification();
  const la = laplace(p, theta, { structure: 'kfac', priorPrecision: 1 });
  try {
    const Xt = randomMatrix(300, 3, 31);
    const all = la.functionalVariance({ data: Xt, rows: 300, cols: 3 });
    const one = la.functionalVariance({ data: Xt.subarray(3 * 137, 3 * 138), rows: 1, cols: 3 });
    close(all.subarray(137 * 16, 138 * 16), one, 'point 137');
  } finally {
    la.free();
    p.free();
    q.free();
    r.free();
  }
});

test('sampleGram: arguments are checked before anything crosses into WebAssembly', () => {
  const model = mlp({ sizes: [2, 3, 2], activation: 'tanh', core });
  const tr = model.forward(model.init(0), randomMatrix(4, 2, 1), 4);
  try {
    const R = new Float64Array(4 * 2 * 2);
    const S = new Float64Array(2 * 4).fill(1);
    assert.is(tr.sampleGram!(R, 2, [{ group: 1, S }]).length, 4 * 2 * 2);
    assert.throws(
      () => tr.sampleGram!(R, 2, [{ group: 2, S }]),
      (e: Error) => e instanceof RangeError && /group must be a layer index in 0…1/.test(e.message),
    );
    assert.throws(
      () => tr.sampleGram!(R, 2, [{ group: 1, S: new Float64Array(5) }]),
      (e: Error) => e instanceof RangeError && /S/.test(e.message),
    );
    assert.throws(
      () => tr.sampleGram!(R, 2, [{ group: 1, S: new Float64Array(6) }]),
      (e: Error) => e instanceof TypeError && /biasWeights/.test(e.message),
    );
    assert.throws(
      () => tr.sampleGram!(R, 2, [{ group: 1, S, UG: new Float64Array(3) }]),
      (e: Error) => e instanceof RangeError && /UG/.test(e.message),
    );
    assert.throws(
      () => tr.sampleGram!(R, 2, [{ group: 1, S, bogus: 1 } as never]),
      (e: Error) => e instanceof TypeError && /bogus/.test(e.message),
    );
    assert.throws(() => tr.sampleGram!(new Float64Array(3), 2, [{ group: 1, S }]), RangeError);
  } finally {
    tr.free?.();
  }
});

test.run();
