// linearProblem: values against the plain-TS reference and finite differences; the paper's identities.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearProblem, gaussian, bernoulli, categorical, poisson, type Likelihood, type LinearProblem } from '../../bindings/index.js';
import { normals, uniform, relErr, assertClose } from '../helpers.js';
import { curvatureRef, gradientRef, lossRef, perSampleGradientsRef, type RefProblem } from '../reference/glm.js';

interface Case {
  name: string;
  lik: Likelihood;
  y: (u: () => number, f: number) => number;
}
const cases: Case[] = [
  { name: 'gaussian', lik: gaussian({ variance: 0.7 }), y: (u, f) => f + u() - 0.5 },
  { name: 'bernoulli', lik: bernoulli(), y: (u) => (u() < 0.4 ? 1 : 0) },
  { name: 'bernoulli exact', lik: bernoulli({ clip: 0 }), y: (u) => (u() < 0.6 ? 1 : 0) },
  { name: 'categorical', lik: categorical({ classes: 3 }), y: (u) => Math.floor(3 * u()) },
  { name: 'poisson', lik: poisson(), y: (u) => Math.floor(4 * u()) },
];

function make(c: Case, N: number, d: number, opts: { sparse?: boolean; prior?: number; reduction?: 'mean' | 'sum'; bias?: boolean; seed?: number } = {}) {
  const g = normals(opts.seed ?? 1),
    u = uniform(opts.seed ?? 2);
  const rows = Array.from({ length: N }, () => Array.from({ length: d }, () => (opts.sparse && u() < 0.6 ? 0 : 0.5 * g())));
  const y = rows.map((r) => c.y(u, r[0] ?? 0));
  let X: Parameters<typeof linearProblem>[0]['X'] = rows;
  if (opts.sparse) {
    const indptr = [0],
      indices: number[] = [],
      values: number[] = [];
    rows.forEach((r) => {
      r.forEach((v, j) => {
        if (v !== 0) {
          indices.push(j);
          values.push(v);
        }
      });
      indptr.push(indices.length);
    });
    X = { rows: N, cols: d, indptr, indices, values };
  }
  const p = linearProblem({ X, y, likelihood: c.lik, priorVariance: opts.prior ?? Infinity, reduction: opts.reduction ?? 'mean', bias: opts.bias ?? false });
  const ref: RefProblem = {
    X: opts.bias ? rows.map((r) => [...r, 1]) : rows,
    y,
    lik: c.lik as RefProblem['lik'],
    priorVariance: opts.prior ?? Infinity,
    scale: (opts.reduction ?? 'mean') === 'mean' ? 1 / N : 1,
  };
  const theta = Float64Array.from({ length: p.dim }, () => 0.3 * g());
  return { p, ref, theta };
}

const variants = [
  { label: 'dense', opts: {} },
  { label: 'csr + bias', opts: { sparse: true, bias: true } },
  { label: 'prior + sum', opts: { prior: 0.5, reduction: 'sum' as const } },
];

test('loss, gradient, per-sample gradients, Fisher, EF, Hessian match the reference (every likelihood, dense/CSR, mean/sum, prior)', () => {
  for (const c of cases)
    for (const v of variants) {
      const { p, ref, theta } = make(c, 23, 5, v.opts);
      const tag = `${c.name} ${v.label}`;
      assert.ok(Math.abs(p.loss(theta) - lossRef(ref, theta)) < 1e-12 * (1 + Math.abs(lossRef(ref, theta))), `${tag} loss`);
      assert.ok(relErr(p.gradient(theta), gradientRef(ref, theta)) < 1e-12, `${tag} gradient`);
      const G = p.perSampleGradients(theta);
      assert.ok(relErr(G.data, perSampleGradientsRef(ref, theta).flat()) < 1e-13, `${tag} per-sample`);
      const F = p.fisher(theta),
        H = p.hessian(theta),
        E = p.empiricalFisher(theta);
      assert.ok(relErr(F.toDense(), curvatureRef(ref, theta, 'fisher')) < 1e-12, `${tag} fisher`);
      assert.ok(relErr(H.toDense(), curvatureRef(ref, theta, 'fisher', p.priorCurvature())) < 1e-12, `${tag} hessian`);
      assert.ok(relErr(E.toDense(), curvatureRef(ref, theta, 'ef')) < 1e-12, `${tag} ef`);
      F.free();
      H.free();
      E.free();
      p.free();
    }
});

test('gradient and Hessian agree with central finite differences', () => {
  for (const c of cases)
    for (const v of variants) {
      const { p, theta } = make(c, 17, 4, { ...v.opts, seed: 5 });
      const g = p.gradient(theta),
        H = p.hessian(theta).toDense();
      const D = p.dim,
        h = 1e-5;
      for (let i = 0; i < D; i++) {
        const tp = theta.slice(),
          tm = theta.slice();
        tp[i]! += h;
        tm[i]! -= h;
        const fd = (p.loss(tp) - p.loss(tm)) / (2 * h);
        assert.ok(Math.abs(fd - g[i]!) < 1e-6 * (1 + Math.abs(g[i]!)), `${c.name} ${v.label} ∂L/∂θ${i}: fd ${fd} vs ${g[i]}`);
        const gp = p.gradient(tp),
          gm = p.gradient(tm);
        for (let j = 0; j < D; j++) {
          const fdh = (gp[j]! - gm[j]!) / (2 * h);
          assert.ok(Math.abs(fdh - H[j * D + i]!) < 1e-6 * (1 + Math.abs(H[j * D + i]!)), `${c.name} ${v.label} H[${j}][${i}]`);
        }
      }
      p.free();
    }
});

test('Prop. 1: Hessian = GGN = Fisher for linear models (no prior), rel. 1e-10', () => {
  for (const c of cases) {
    const { p, theta } = make(c, 40, 6, { seed: 9 });
    const H = p.hessian(theta),
      G = p.ggn(theta),
      F = p.fisher(theta);
    assert.ok(relErr(H.toDense(), F.toDense()) < 1e-10);
    assert.ok(relErr(G.toDense(), F.toDense()) < 1e-10);
    [H, G, F].forEach((m) => m.free());
    p.free();
  }
});

test('Eq. 15: least-squares EF = (1/N) Σ r_n² x_n x_nᵀ; Eq. 18: EF = Σ̂ + ḡḡᵀ', () => {
  const { p, ref, theta } = make(cases[0]!, 30, 4, { seed: 4 });
  const N = 30,
    d = 4;
  const E = p.empiricalFisher(theta).toDense();
  const expect = new Float64Array(d * d);
  for (let n = 0; n < N; n++) {
    const x = ref.X[n]!;
    let f = 0;
    for (let j = 0; j < d; j++) f += x[j]! * theta[j]!;
    const r = (f - ref.y[n]!) / 0.7;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expect[i * d + j]! += (r * r * x[i]! * x[j]!) / N;
  }
  assert.ok(relErr(E, expect) < 1e-13);
  for (const c of cases) {
    const q = make(c, 25, 3, { seed: 8 });
    const EF = q.p.empiricalFisher(q.theta).toDense(),
      S = q.p.gradientCovariance(q.theta).toDense();
    const G = q.p.perSampleGradients(q.theta),
      D = q.p.dim;
    const gbar = new Float64Array(D);
    for (let n = 0; n < 25; n++) for (let j = 0; j < D; j++) gbar[j]! += G.data[n * D + j]! / 25;
    const recon = S.map((v, k) => v + gbar[Math.floor(k / D)]! * gbar[k % D]!);
    assert.ok(relErr(recon, EF) < 1e-12, `${c.name} Eq. 18`);
    q.p.free();
  }
});

test("structures: 'diagonal' and 'block' equal the dense parts; 'kfac' is exact for Gaussian and G ⊗ A otherwise", () => {
  for (const c of cases)
    for (const v of variants.slice(0, 2)) {
      const { p, theta } = make(c, 21, 4, { ...v.opts, seed: 12 });
      const D = p.dim,
        d = p.inputs,
        M = p.outputs;
      for (const kind of ['fisher', 'empiricalFisher', 'hessian'] as const) {
        const F = p[kind](theta).toDense();
        const diag = p[kind](theta, { structure: 'diagonal' });
        assertClose(
          diag,
          Array.from({ length: D }, (_, i) => F[i * D + i]!),
          1e-14,
          `${c.name} ${kind} diag`,
        );
        const blocks = p[kind](theta, { structure: 'block' });
        assert.is(blocks.length, M);
        blocks.forEach((b, a) => {
          const bd = b.toDense();
          for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.ok(Math.abs(bd[i * d + j]! - F[(a * d + i) * D + a * d + j]!) < 1e-14, `${c.name} ${kind} block ${a}`);
          b.free();
        });
      }
      const { A, G } = p.fisher(theta, { structure: 'kfac' });
      assert.is(A.size, d);
      assert.is(G.size, M);
      if (c.lik.name === 'gaussian') {
        const F = p.fisher(theta).toDense();
        const a = A.toDense(),
          gg = G.toDense();
        for (let i = 0; i < D; i++)
          for (let j = 0; j < D; j++) {
            const kron = gg[Math.floor(i / d) * M + Math.floor(j / d)]! * a[(i % d) * d + (j % d)]!;
            assert.ok(Math.abs(kron - F[i * D + j]!) < 1e-13, `kfac (${i},${j})`);
          }
      }
      A.free();
      G.free();
      p.free();
    }
});

test('matrix-free products equal the dense matrices times v', () => {
  for (const c of cases)
    for (const v of variants) {
      const { p, theta } = make(c, 19, 5, { ...v.opts, seed: 21 });
      const w = Float64Array.from({ length: p.dim }, (_, i) => Math.sin(i + 1));
      const F = p.fisher(theta),
        H = p.hessian(theta);
      assert.ok(relErr(p.fisherVectorProduct(theta, w), F.matvec(w)) < 1e-12, `${c.name} ${v.label} Fv`);
      assert.ok(relErr(p.hessianVectorProduct(theta, w), H.matvec(w)) < 1e-12, `${c.name} ${v.label} Hv`);
      F.free();
      H.free();
      p.free();
    }
});

test('MC Fisher: unbiased, same seed same matrix, relative error shrinks like 1/√S', () => {
  for (const c of cases) {
    const { p, theta } = make(c, 50, 3, { seed: 31 });
    const F = p.fisher(theta).toDense();
    const errs = [10, 100, 1000].map((S) => {
      // average the relative Frobenius error over 4 seeds to steady the estimate
      let e = 0;
      for (let seed = 0; seed < 4; seed++) {
        const m = p.fisherMC(theta, { samples: S, seed });
        e += relErr(m.toDense(), F) / 4;
        m.free();
      }
      return e;
    });
    // 1/√S: each 10× more samples divides the error by √10 ≈ 3.16; accept 2× to 5× per decade.
    assert.ok(errs[0]! / errs[1]! > 2 && errs[0]! / errs[1]! < 5, `${c.name} decade 1: ${errs}`);
    assert.ok(errs[1]! / errs[2]! > 2 && errs[1]! / errs[2]! < 5, `${c.name} decade 2: ${errs}`);
    assert.ok(errs[2]! < 0.1, `${c.name} S = 1000: ${errs[2]}`);
    const a = p.fisherMC(theta, { samples: 3, seed: 7 }),
      b = p.fisherMC(theta, { samples: 3, seed: 7 });
    assert.equal(a.toDense(), b.toDense());
    const diag = p.fisherMC(theta, { samples: 3, seed: 7, structure: 'diagonal' });
    assertClose(diag, a.diagonal(), 1e-14);
    a.free();
    b.free();
    p.free();
  }
});

test('variance adaptation (Eq. 19): M ḡ = ‖ḡ‖² F̃⁻¹ ḡ and M = F̃⁻¹ ḡḡᵀ', () => {
  const { p, theta } = make(cases[1]!, 40, 3, { seed: 3 });
  const { matrix, direction } = p.varianceAdaptation(theta, { damping: 1e-6 });
  const G = p.perSampleGradients(theta),
    D = p.dim;
  const gbar = new Float64Array(D);
  for (let n = 0; n < 40; n++) for (let j = 0; j < D; j++) gbar[j]! += G.data[n * D + j]! / 40;
  const Mg = new Float64Array(D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) Mg[i]! += matrix.data[i * D + j]! * gbar[j]!;
  assert.ok(relErr(Mg, direction) < 1e-12);
  const E = p.empiricalFisher(theta);
  const u = E.solve(gbar, { damping: 1e-6 });
  const gg = gbar.reduce((s, v) => s + v * v, 0);
  assert.ok(
    relErr(
      direction,
      u.map((v) => v * gg),
    ) < 1e-10,
  );
  E.free();
  p.free();
});

test('bad input: labels outside the support, wrong θ, bad options → typed errors naming the argument', () => {
  const X = [
    [1, 2],
    [3, 4],
  ];
  const bad: [() => unknown, abstract new (...args: never[]) => Error, RegExp][] = [
    [() => linearProblem({ X, y: [0, 2], likelihood: bernoulli() }), RangeError, /y\[1\] = 2 .*Bernoulli/],
    [() => linearProblem({ X, y: [0, 1.5], likelihood: categorical({ classes: 3 }) }), RangeError, /y\[1\] = 1\.5/],
    [() => linearProblem({ X, y: [0, 3], likelihood: categorical({ classes: 3 }) }), RangeError, /y\[1\] = 3/],
    [() => linearProblem({ X, y: [-1, 1], likelihood: poisson() }), RangeError, /y\[0\] = -1 .*Poisson/],
    [() => linearProblem({ X, y: [0, NaN], likelihood: gaussian() }), RangeError, /y\[1\] is not finite/],
    [() => linearProblem({ X, y: [0], likelihood: gaussian() }), RangeError, /y must have length 2/],
    [() => linearProblem({ X: [], y: [], likelihood: gaussian() }), RangeError, /no rows/],
    [() => linearProblem({ X: { data: new Float64Array(0), rows: 2, cols: 0 }, y: [1, 2], likelihood: gaussian() }), RangeError, /no columns/],
    [() => linearProblem({ X, y: [0, 1], likelihood: gaussian(), priorVariance: 0 }), RangeError, /priorVariance/],
    [() => linearProblem({ X, y: [0, 1], likelihood: gaussian(), reduction: 'max' as 'mean' }), RangeError, /reduction/],
    [() => linearProblem({ X, y: [0, 1], likelihood: { name: 'cauchy' } as unknown as Likelihood }), TypeError, /likelihood must be/],
    [() => gaussian({ variance: 0 }), RangeError, /variance must be > 0/],
    [() => gaussian({ variance: -1 }), RangeError, /variance/],
    [() => bernoulli({ clip: 0.7 }), RangeError, /clip/],
    [() => categorical({ classes: 1 }), RangeError, /classes/],
  ];
  for (const [fn, type, re] of bad) {
    try {
      fn();
      assert.unreachable(`no error for ${re}`);
    } catch (e) {
      assert.instance(e, type, `${re}: ${(e as Error).message}`);
      assert.match((e as Error).message, re);
    }
  }
  const p: LinearProblem = linearProblem({ X, y: [0, 1], likelihood: gaussian() });
  assert.throws(() => p.loss([1]), /theta must have length 2/);
  assert.throws(() => p.gradient([1, NaN]), /theta\[1\] is not finite/);
  assert.throws(() => p.fisher([1, 1], { structure: 'sparse' as 'dense' }), /structure/);
  assert.throws(() => p.fisherMC([1, 1], { samples: 0 }), /samples/);
  assert.throws(() => p.fisherVectorProduct([1, 1], [1]), /v must have length 2/);
  // the problem still works after the failed calls
  assert.ok(Number.isFinite(p.loss([0.1, 0.2])));
  p.free();
});

test.run();
