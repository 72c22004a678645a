// Streaming accumulators for any model: batches of an MLP (and of a multi-output linear model)
// sum to the problem's Fisher / EF over all rows; merge and toBytes/fromBytes round trips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fisherAccumulator, empiricalFisherAccumulator, CurvatureAccumulator, problem, mlp, linear, categorical, gaussian, type Model } from '../../bindings/index.js';
import { normals, relErr } from '../helpers.js';

function setup(N: number, d: number, C: number, seed: number) {
  const g = normals(seed);
  const X = Float64Array.from({ length: N * d }, () => g());
  const y = Float64Array.from({ length: N }, (_, i) => (i * 7) % C);
  return { X, y };
}

const slice = (X: Float64Array, d: number, a: number, b: number) => ({ data: X.slice(a * d, b * d), rows: b - a, cols: d });

test('an MLP accumulator over batches equals the problem over all rows (Fisher and EF, mean and sum), and merges', () => {
  const N = 40,
    d = 5,
    C = 3;
  const model = mlp({ sizes: [d, 7, C], activation: 'tanh' });
  const { X, y } = setup(N, d, C, 3);
  const theta = model.init(4);
  const lik = categorical({ classes: C });
  const p = problem({ model, X: { data: X, rows: N, cols: d }, y, likelihood: lik });
  for (const [make, kind] of [
    [fisherAccumulator, 'fisher'],
    [empiricalFisherAccumulator, 'empiricalFisher'],
  ] as const) {
    const a = make({ model, theta, likelihood: lik }),
      b = make({ model, theta, likelihood: lik });
    a.add(slice(X, d, 0, 13), y.slice(0, 13)).add(slice(X, d, 13, 25), y.slice(13, 25));
    b.add(slice(X, d, 25, N), y.slice(25, N));
    a.merge(b);
    assert.is(a.count, N);
    const want = p[kind](theta).toDense(),
      got = a.result().toDense();
    assert.ok(relErr(got, want) < 1e-13, `${kind} mean: ${relErr(got, want)}`);
    assert.ok(
      relErr(
        a.result({ reduction: 'sum' }).toDense(),
        want.map((v) => v * N),
      ) < 1e-13,
      `${kind} sum`,
    );
    const back = CurvatureAccumulator.fromBytes(a.toBytes());
    assert.equal(back.result().toDense(), a.result().toDense(), `${kind} round trip`);
    assert.is(back.model?.dim, model.dim);
    back.free();
    a.free();
    b.free();
  }
  p.free();
});

test('a multi-output linear accumulator (model: linear) and mismatches', () => {
  const N = 12,
    d = 3,
    M = 2;
  const { X } = setup(N, d, 2, 9);
  const Y = Float64Array.from({ length: N * M }, (_, i) => Math.sin(i));
  const model = linear({ inputs: d, outputs: M });
  const lik = gaussian({ variance: 0.5, outputs: M });
  const theta = Float64Array.from({ length: model.dim }, (_, i) => 0.1 * i);
  const acc = fisherAccumulator({ model, theta, likelihood: lik });
  acc.add(slice(X, d, 0, 5), Y.slice(0, 10)).add(slice(X, d, 5, N), Y.slice(10));
  const p = problem({ model, X: { data: X, rows: N, cols: d }, y: Y, likelihood: lik });
  assert.ok(relErr(acc.result().toDense(), p.fisher(theta).toDense()) < 1e-13);
  assert.throws(() => fisherAccumulator({ theta, likelihood: lik, inputs: d }), /model/);
  const other = fisherAccumulator({ model: mlp({ sizes: [d, 2, M] }), theta: new Float64Array(mlp({ sizes: [d, 2, M] }).dim), likelihood: lik });
  assert.throws(() => acc.merge(other), /differ/);
  const plain: Model = { name: 'mine', inputs: d, outputs: M, dim: model.dim, groups: model.groups, forward: model.forward };
  const mine = fisherAccumulator({ model: plain, theta, likelihood: lik });
  mine.add(slice(X, d, 0, N), Y);
  assert.ok(relErr(mine.result().toDense(), p.fisher(theta).toDense()) < 1e-13, 'a user model accumulates too');
  assert.throws(() => mine.toBytes(), /description/);
  acc.free();
  other.free();
  mine.free();
  p.free();
});

test.run();
