// The KFAC optimizer (bindings/optimizers/kfac.ts): its step against the dense formula, and training.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, relErr } from '../helpers.js';
import { mlp, problem, categorical, gd, SymMatrix, type Problem } from '../../bindings/index.js';
import { kfac, type KfacState } from '../../bindings/optimizers/kfac.js';

function classification(N = 60, sizes = [2, 6, 3]): { p: Problem; theta0: Float64Array } {
  const model = mlp({ sizes, activation: 'tanh', core });
  const Z = randomMatrix(N, 2, 3);
  const y = Float64Array.from({ length: N }, (_, n) => n % 3);
  const X = Float64Array.from({ length: N * 2 }, (_, i) => Z[i]! * 0.6 + (i % 2 === 0 ? Math.cos : Math.sin)((2 * Math.PI * y[Math.floor(i / 2)]!) / 3) * 2);
  const p = problem({ model, X: { data: X, rows: N, cols: 2 }, y, likelihood: categorical({ classes: 3 }) });
  return { p, theta0: model.init(4) };
}

/** The KFAC direction computed densely: per layer build (G+γ_G I) ⊗ (A+γ_A I), permute to θ order, solve. */
function denseKfacDirection(p: Problem, theta: Float64Array, lambda: number, kind: 'fisher' | 'empiricalFisher'): Float64Array {
  const g = p.gradient(theta);
  const fac = kind === 'fisher' ? p.fisher(theta, { structure: 'kfac' }) : p.empiricalFisher(theta, { structure: 'kfac' });
  const d = new Float64Array(p.dim);
  p.model.groups.forEach((grp, l) => {
    const { inputs: nin, outputs: q } = grp.dense!,
      pd = nin + 1,
      n = q * pd;
    const A = fac[l]!.A.toDense(),
      G = fac[l]!.G.toDense();
    let ta = 0,
      tg = 0;
    for (let i = 0; i < pd; i++) ta += A[i * pd + i]!;
    for (let i = 0; i < q; i++) tg += G[i * q + i]!;
    const pi = Math.sqrt(ta / pd / (tg / q));
    const gA = pi * Math.sqrt(lambda),
      gG = Math.sqrt(lambda) / pi;
    // Kronecker product in [W | b] order: row (o, i) = o·pd + i.
    const K = new Float64Array(n * n);
    for (let o = 0; o < q; o++)
      for (let i = 0; i < pd; i++)
        for (let o2 = 0; o2 < q; o2++)
          for (let i2 = 0; i2 < pd; i2++) {
            K[(o * pd + i) * n + o2 * pd + i2] = (G[o * q + o2]! + (o === o2 ? gG : 0)) * (A[i * pd + i2]! + (i === i2 ? gA : 0));
          }
    // Permutation P: θ-local index of [W | b] coordinate (o, i).
    const perm = new Int32Array(n);
    for (let o = 0; o < q; o++) for (let i = 0; i < pd; i++) perm[o * pd + i] = i < nin ? o * nin + i : q * nin + o;
    const Kt = new Float64Array(n * n);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) Kt[perm[a]! * n + perm[b]!] = K[a * n + b]!;
    const S = SymMatrix.from({ data: Kt, rows: n, cols: n });
    const x = S.solve(g.subarray(grp.offset, grp.offset + grp.size));
    S.free();
    d.set(x, grp.offset);
  });
  for (const f of fac) {
    f.A.free();
    f.G.free();
  }
  return d;
}

for (const curvature of ['fisher', 'empiricalFisher'] as const) {
  test(`KFAC (${curvature}): the first step equals the dense Kronecker formula at θ₀`, () => {
    const { p, theta0 } = classification(30, [2, 5, 4, 3]);
    const lambda = 0.01;
    const opt = kfac(p, { lr: 0.5, damping: lambda, curvature });
    const { direction, state } = opt.update(opt.init(theta0));
    const ref = denseKfacDirection(p, theta0, lambda, curvature);
    assert.ok(relErr(direction, ref) < 1e-10, `relErr ${relErr(direction, ref)}`);
    assert.ok(
      relErr(
        state.theta,
        theta0.map((t, i) => t - 0.5 * ref[i]!),
      ) < 1e-12,
      'θ ← θ − γ d',
    );
    p.free();
  });
}

test('KFAC: EMA of the factors after the first step (ema = 0.7), updateEvery skips refreshes', () => {
  const { p, theta0 } = classification(30);
  const opt = kfac(p, { lr: 0.3, damping: 0.01, ema: 0.7 });
  const s0 = opt.init(theta0) as KfacState;
  const s1 = opt.update(s0).state as KfacState;
  assert.ok(s1.factors === s0.factors || s1.factors.every((f, l) => f.A === s0.factors[l]!.A), 'step 0 uses θ₀ factors unchanged');
  const s2 = opt.update(s1).state as KfacState;
  const fresh = p.fisher(s1.theta, { structure: 'kfac' });
  for (const [l, f] of s2.factors.entries()) {
    const A = fresh[l]!.A.toDense();
    const want = A.map((x, i) => 0.7 * s1.factors[l]!.A[i]! + 0.3 * x);
    assert.ok(relErr(f.A, want) < 1e-14);
  }
  for (const f of fresh) {
    f.A.free();
    f.G.free();
  }
  const lazy = kfac(p, { lr: 0.3, damping: 0.01, updateEvery: 3 });
  let s = lazy.init(theta0) as KfacState;
  const first = s.factors;
  s = lazy.update(s).state as KfacState;
  s = lazy.update(s).state as KfacState;
  s = lazy.update(s).state as KfacState;
  assert.ok(s.factors === first || s.factors[0]!.A === first[0]!.A, 'no refresh before iteration 3');
  s = lazy.update(s).state as KfacState;
  assert.ok(s.factors[0]!.A !== first[0]!.A, 'refreshed at iteration 3');
  p.free();
});

for (const curvature of ['fisher', 'fisherMC', 'empiricalFisher'] as const) {
  test(`KFAC (${curvature}) decreases the loss of a small MLP classifier, faster than GD with the same lr`, () => {
    const { p, theta0 } = classification();
    const rec = kfac(p, { lr: 0.5, damping: 1e-2, curvature, ema: 0.5 }).run(theta0, { iterations: 25 });
    assert.is(rec.status, 'ok');
    assert.ok(rec.losses.at(-1)! < 0.5 * rec.losses[0]!, `${rec.losses[0]} → ${rec.losses.at(-1)}`);
    const g = gd(p, { lr: 0.5 }).run(theta0, { iterations: 25 });
    assert.ok(rec.losses.at(-1)! < g.losses.at(-1)!, `KFAC ${rec.losses.at(-1)} vs GD ${g.losses.at(-1)}`);
    p.free();
  });
}

test('KFAC bad input', () => {
  const { p } = classification(10);
  assert.throws(() => kfac(p, { lr: 0.1, ema: 1 }), RangeError);
  assert.throws(() => kfac(p, { lr: 0.1, damping: -1 }), RangeError);
  assert.throws(() => kfac(p, { lr: 0.1, updateEvery: 0 }), RangeError);
  assert.throws(() => kfac(p, { lr: 0.1, curvature: 'hessian' as 'fisher' }), RangeError);
  assert.throws(() => kfac(p, { lr: 0 }), RangeError);
  p.free();
});

test.run();
