// Labels must be numbers (natgrad issue #21): a string, boolean or null among the targets is a
// TypeError naming the entry and what the likelihood's labels are — never NaN from a failed
// conversion ("y[0] is not finite (NaN)") nor a silent coercion of '1' to 1 or true to 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bernoulli,
  categorical,
  empiricalFisherAccumulator,
  fisherAccumulator,
  gaussian,
  gridSearch,
  linear,
  linearProblem,
  mlp,
  poisson,
  problem,
  type Likelihood,
  type Problem,
} from '../../bindings/index.js';
import '../helpers.js';

const N = 4;
const X = { data: Float64Array.from({ length: N * 2 }, (_, i) => Math.cos(0.7 * i)), rows: N, cols: 2 };
/** Valid numeric labels of each likelihood, as a plain array. */
const LIKELIHOODS: { lik: Likelihood; y: number[]; support: string }[] = [
  { lik: gaussian(), y: [0.5, -1, 2, 0], support: 'real-valued targets for gaussian' },
  { lik: bernoulli(), y: [0, 1, 1, 0], support: '0/1 for bernoulli' },
  { lik: categorical({ classes: 3 }), y: [0, 2, 1, 0], support: 'class indices 0..2 for categorical' },
  { lik: poisson(), y: [0, 3, 1, 2], support: 'non-negative integer counts for poisson' },
];

/** The three ways to build a problem: linearProblem, problem with the linear model (its fast path), problem with an MLP. */
const BUILDERS: { where: string; label: string; make: (lik: Likelihood, y: unknown) => Problem }[] = [
  { where: 'linearProblem', label: 'linearProblem', make: (lik, y) => linearProblem({ X, y: y as number[], likelihood: lik }) },
  { where: 'problem', label: 'problem(linear)', make: (lik, y) => problem({ model: linear({ inputs: 2, outputs: lik.outputs }), X, y: y as number[], likelihood: lik }) },
  { where: 'problem', label: 'problem(mlp)', make: (lik, y) => problem({ model: mlp({ sizes: [2, 3, lik.outputs] }), X, y: y as number[], likelihood: lik }) },
];

function typeError(fn: () => unknown): TypeError {
  try {
    const r = fn() as { free?: () => void };
    r?.free?.();
  } catch (e) {
    assert.instance(e, TypeError, `expected a TypeError, got ${String(e)}`);
    return e as TypeError;
  }
  return assert.unreachable('expected a TypeError') as never;
}

for (const { where, label, make } of BUILDERS) {
  for (const { lik, y, support } of LIKELIHOODS) {
    test(`${label} × ${lik.name}: strings, booleans and null among the labels are TypeErrors naming the entry`, () => {
      // The numeric labels work, as a plain array and as a Float64Array.
      for (const ok of [y, Float64Array.from(y)]) make(lik, ok).free();
      const cases: [unknown[], string][] = [
        [['yes', 'no', 'yes', 'no'], "y[0] is the string 'yes'"],
        [y.map(String), `y[0] is the string '${y[0]}'`],
        [[y[0], y[1], true, y[3]], 'y[2] is the boolean true'],
        [[y[0], null, y[2], y[3]], 'y[1] is null'],
        [[y[0], y[1], y[2], undefined], 'y[3] is undefined'],
      ];
      for (const [bad, entry] of cases) {
        const e = typeError(() => make(lik, bad));
        assert.match(e.message, `natgrad: ${where}: ${entry} — labels are numbers (${support})`);
      }
      // '1'-like strings are not coerced: the message says how to convert them.
      assert.match(typeError(() => make(lik, y.map(String))).message, 'convert them first, e.g. y.map(Number)');
    });
  }
}

test("class names get the hint to map them to indices; 'yes'/'no' for bernoulli as in the issue", () => {
  const e = typeError(() => linearProblem({ X, y: ['yes', 'no', 'no', 'yes'] as never, likelihood: bernoulli() }));
  assert.is(e.message, "natgrad: linearProblem: y[0] is the string 'yes' — labels are numbers (0/1 for bernoulli) — map the class names to indices first, e.g. y.map((c) => names.indexOf(c))");
});

test('multi-output Gaussian targets: a non-number in a row names its row and column', () => {
  const lik = gaussian({ outputs: 2 });
  const rows = [
    [0, 1],
    [2, 3],
    [4, 'x'],
    [6, 7],
  ];
  const e = typeError(() => problem({ model: linear({ inputs: 2, outputs: 2 }), X, y: rows as never, likelihood: lik }));
  assert.match(e.message, "natgrad: problem: y[2][1] is the string 'x' — labels are numbers (real-valued targets for gaussian)");
  // Numeric rows are accepted.
  const good = [
    [0, 1],
    [2, 3],
    [4, 5],
    [6, 7],
  ];
  problem({ model: linear({ inputs: 2, outputs: 2 }), X, y: good, likelihood: lik }).free();
});

test('numbers outside the support are still RangeErrors (unchanged)', () => {
  for (const [lik, bad] of [
    [bernoulli(), [0, 2, 1, 0]],
    [categorical({ classes: 3 }), [0, 1, 3, 0]],
    [gaussian(), [0, Number.NaN, 1, 0]],
  ] as const) {
    assert.throws(
      () => linearProblem({ X, y: bad as unknown as number[], likelihood: lik }),
      (e: unknown) => e instanceof RangeError,
      `${lik.name}: ${bad.join(',')}`,
    );
  }
});

test('accumulators and the grid search refuse non-number labels the same way', async () => {
  const acc = fisherAccumulator({ theta: new Float64Array(2), likelihood: bernoulli(), inputs: 2 });
  assert.match(typeError(() => acc.add(X, [0, 1, 'yes', 0] as never)).message, "natgrad: CurvatureAccumulator.add: y[2] is the string 'yes' — labels are numbers (0/1 for bernoulli)");
  assert.is(acc.count, 0);
  acc.free();
  const model = mlp({ sizes: [2, 3, 3] });
  const macc = empiricalFisherAccumulator({ theta: model.init(0), likelihood: categorical({ classes: 3 }), inputs: 2, model });
  assert.match(typeError(() => macc.add(X, [0, false, 1, 2] as never)).message, 'y[1] is the boolean false — labels are numbers (class indices 0..2 for categorical)');
  macc.free();
  try {
    await gridSearch({ problem: { X, y: ['0', '1', '1', '0'] as never, likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean' }, lrs: [0.1], dampings: [1], iterations: 1 });
    assert.unreachable('expected a rejection');
  } catch (e) {
    assert.instance(e, TypeError);
    assert.match((e as Error).message, "natgrad: gridSearch: problem.y[0] is the string '0' — labels are numbers (0/1 for bernoulli) — convert them first");
  }
});

test.run();
