// Hardening for models: bad input to mlp()/problem() gets a typed error naming the argument (no
// WASM trap, nothing left allocated), size limits are checked before allocating, and repeated
// network optimizer steps and curvature builds keep the WebAssembly memory at a plateau.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core as defaultCore, problem, mlp, categorical, bernoulli, ngd, efgd, gd, DisposedError, type KfacFactors } from '../../bindings/index.js';
import { randomMatrix } from '../helpers.js';

const bytes = () => defaultCore().memoryBytes;

function net(N = 16, d = 3, C = 3) {
  const model = mlp({ sizes: [d, 5, C], activation: 'tanh' });
  const X = { data: randomMatrix(N, d, 4), rows: N, cols: d };
  const y = Float64Array.from({ length: N }, (_, i) => i % C);
  return { model, X, y, p: problem({ model, X, y, likelihood: categorical({ classes: C }) }) };
}

test('bad input: typed errors naming the argument', () => {
  const { model, X, y, p } = net();
  const cases: [() => unknown, RegExp, string][] = [
    [() => mlp({ sizes: [3, 4], activation: 'swish' as 'tanh' }), /activation/, 'unknown activation'],
    [() => mlp({ sizes: [3] }), /sizes/, 'one size'],
    [() => mlp({ sizes: [3, 0, 2] }), /sizes\[1\]/, 'zero width'],
    [() => mlp({ sizes: [3, 2.5, 2] }), /sizes\[1\]/, 'fractional width'],
    [() => mlp({ sizes: 'big' as unknown as number[] }), /sizes/, 'not an array'],
    [() => problem({ model, X: { data: new Float64Array(16 * 4), rows: 16, cols: 4 }, y, likelihood: categorical({ classes: 3 }) }), /columns/, 'sizes[0] ≠ columns of X'],
    [() => problem({ model, X, y, likelihood: categorical({ classes: 4 }) }), /outputs/, 'sizes.at(-1) ≠ likelihood outputs'],
    [() => problem({ model, X, y, likelihood: bernoulli() }), /outputs/, 'one-output likelihood on three outputs'],
    [() => problem({ model, X: { data: new Float64Array(48).fill(NaN), rows: 16, cols: 3 }, y, likelihood: categorical({ classes: 3 }) }), /finite|NaN/, 'NaN in X'],
    [() => problem({ model, X, y: y.map(() => 3), likelihood: categorical({ classes: 3 }) }), /support/, 'labels outside the support'],
    [() => p.loss(new Float64Array(model.dim - 1)), /length/, 'θ of the wrong length'],
    [() => p.gradient(new Float64Array(model.dim).fill(Infinity)), /finite/, 'non-finite θ'],
    [() => p.fisher(model.init(0), { structure: 'triangle' as 'dense' }), /structure/, 'unknown structure'],
    [() => p.hessian(model.init(0), { structure: 'kfac' }), /kfac/, 'kfac of the Hessian'],
    [() => p.ggnVectorProduct(model.init(0), [1, 2]), /length/, 'v of the wrong length'],
    [() => p.fisherMC(model.init(0), { samples: 0 }), /samples/, 'no samples'],
  ];
  for (const [f, re, what] of cases) {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof TypeError || err instanceof RangeError, `${what}: ${String(err)}`);
    assert.ok(re.test((err as Error).message), `${what}: "${(err as Error).message}" should match ${re}`);
    assert.not.ok(err instanceof WebAssembly.RuntimeError, `${what}: no trap`);
  }
  p.free();
  assert.throws(
    () => p.loss(model.init(0)),
    (e: unknown) => e instanceof DisposedError,
  );
});

test('size limits are checked before allocating: a D × D curvature or an N × D matrix that cannot fit is refused', () => {
  const before = bytes();
  assert.throws(() => mlp({ sizes: [100000, 100000, 10] }), /GiB|block/);
  const wide = mlp({ sizes: [2, 12000, 2] }); // D = 60 002: a dense D × D would take 27 GiB
  const X = { data: randomMatrix(4, 2, 1), rows: 4, cols: 2 };
  const p = problem({ model: wide, X, y: [0, 1, 0, 1], likelihood: categorical({ classes: 2 }) });
  const th = wide.init(0);
  for (const f of [() => p.fisher(th), () => p.hessian(th), () => p.empiricalFisher(th), () => p.gradientCovariance(th)]) assert.throws(f, /GiB.*(diagonal|matrix-free)/s);
  assert.is(p.fisher(th, { structure: 'diagonal' }).length, wide.dim, 'the diagonal works at that D');
  assert.is(p.ggnVectorProduct(th, th).length, wide.dim, 'and the products');
  p.free();
  assert.ok(bytes() - before < 64 * 2 ** 20, 'nothing big was allocated for the refused requests');
});

test('10⁴ network steps and 10³ curvature builds keep WebAssembly memory at a plateau', () => {
  const { model, p } = net(24, 4, 3);
  const opts = [ngd(p, { lr: 0.5, damping: 1e-3 }), efgd(p, { lr: 0.2, damping: 1e-2 }), gd(p, { lr: 0.5 })];
  let plateau = 0;
  for (const [o, opt] of opts.entries()) {
    let state = opt.init(model.init(1));
    for (let s = 0; s < 3000; s++) {
      state = opt.update(state).state;
      if (o === 0 && s === 50) plateau = bytes();
    }
    assert.ok(Number.isFinite(state.loss), opt.name);
  }
  const th = model.init(2);
  for (let i = 0; i < 300; i++) {
    p.hessian(th).free();
    p.fisher(th, { structure: 'block' }).forEach((b) => b.free());
    for (const f of p.empiricalFisher(th, { structure: 'kfac' }) as KfacFactors[]) {
      f.A.free();
      f.G.free();
    }
    p.hessianVectorProduct(
      th.map((t) => t + i * 1e-9),
      th,
    );
  }
  assert.is(bytes(), plateau, `memory grew from ${plateau} to ${bytes()}`);
  p.free();
});

test.run();
