// Hardening: a catalogue of bad inputs across the public API. Each row must fail with a typed
// error (TypeError, RangeError, NotPositiveDefiniteError, DataFormatError with file and line,
// DisposedError, NonFiniteLossError — a RangeError) whose message names the argument or the
// line; no WebAssembly.RuntimeError may escape; and a problem, a SymMatrix and a Cholesky
// factor kept alive across the whole table must compute the same numbers, bit for bit, after
// every failed call.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  gram,
  Matrix,
  SymMatrix,
  linearProblem,
  gaussian,
  bernoulli,
  categorical,
  poisson,
  gd,
  ngd,
  efgd,
  diagonalEF,
  parseSklearnCsv,
  parseLibsvm,
  parseUci,
  NotPositiveDefiniteError,
  DataFormatError,
  DisposedError,
  NonFiniteLossError,
  fisherAccumulator,
  empiricalFisherAccumulator,
  CurvatureAccumulator,
  parallelGram,
  gridSearch,
  core as defaultCore,
  UnknownOptionError,
} from '../../bindings/index.js';
import { randomMatrix } from '../helpers.js';

type ErrorClass = typeof TypeError | typeof RangeError | typeof NotPositiveDefiniteError | typeof DataFormatError | typeof DisposedError;
interface Row {
  name: string;
  call: () => unknown;
  error: ErrorClass;
  /** Text the message must contain (the argument's name, the line, …). */
  mentions: (string | RegExp)[];
  /** For DataFormatError: the file and the 1-based line. */
  at?: [string, number];
}

// ---- the survivors: a problem, a SymMatrix, a factor, kept alive across the table ----------
const N = 40,
  d = 5;
const Xs = randomMatrix(N, d, 11);
const ys = Float64Array.from({ length: N }, (_, i) => (i * 7) % 3);
const P = linearProblem({ X: { data: Xs, rows: N, cols: d }, y: ys, likelihood: categorical({ classes: 3 }), bias: true, priorVariance: 2 });
const theta = Float64Array.from({ length: P.dim }, (_, i) => Math.sin(i) / 3);
const S = gram({ data: Xs, rows: N, cols: d });
const L = S.cholesky({ damping: 0.5 });
const b = Float64Array.from({ length: d }, (_, i) => i - 2);

function snapshot() {
  const F = P.fisher(theta),
    E = P.empiricalFisher(theta);
  const out = {
    loss: P.loss(theta),
    grad: Array.from(P.gradient(theta)),
    fisher: Array.from(F.toDense()),
    ef: Array.from(E.toDense()),
    S: Array.from(S.toDense()),
    solve: Array.from(S.solve(b, { damping: 0.25 })),
    L: Array.from(L.solve(b)),
  };
  F.free();
  E.free();
  return out;
}
const before = snapshot();

// ---- shared fixtures ------------------------------------------------------------------------
const good = { data: Float64Array.of(1, 2, 3, 4, 5, 6), rows: 3, cols: 2 };
const csr = (indptr: number[], indices: number[], values: number[], rows = indptr.length - 1, cols = 4) => ({ rows, cols, indptr, indices, values });
const lp = (over: Record<string, unknown>) => () => linearProblem({ X: good, y: [0, 1, 0], likelihood: bernoulli(), ...over } as never);
const small = linearProblem({ X: good, y: [0, 1, 0], likelihood: bernoulli() });
const th2 = [0.1, -0.2];
const sklearn =
  (text: string, opts = {}) =>
  () =>
    parseSklearnCsv(text, 'cat.csv', opts);
const libsvm =
  (text: string, opts = {}) =>
  () =>
    parseLibsvm(text, 'cat.svm', opts);
const huge = '7'.repeat(10 * 2 ** 20); // a 10 MB token
const freed = (() => {
  const m = SymMatrix.from([
    [2, 1],
    [1, 2],
  ]);
  m.free();
  return m;
})();
const freedX = (() => {
  const m = Matrix.from(good);
  m.free();
  return m;
})();
const freedP = (() => {
  const p = linearProblem({ X: good, y: [0, 1, 0], likelihood: bernoulli() });
  p.free();
  return p;
})();
const lazyData = (rows: number, cols: number) => ({
  rows,
  cols,
  get data(): Float64Array {
    throw new Error('data was read before the size check');
  },
});
const pois = linearProblem({
  X: [
    [1, 0],
    [1, 1],
    [0.5, 2],
  ],
  y: [0, 3, 1],
  likelihood: poisson(),
});
const acc = fisherAccumulator({ theta: [0.1, 0.2, 0.3], likelihood: gaussian(), inputs: 2, bias: true });
const accOther = fisherAccumulator({ theta: [0.1, 0.2, 0.4], likelihood: gaussian(), inputs: 2, bias: true });

const rows: Row[] = [
  // gram / Matrix: shapes, lengths, non-finite values
  { name: 'gram of a string', call: () => gram('abc' as never), error: TypeError, mentions: ['X must be'] },
  { name: 'ragged number[][]', call: () => gram([[1, 2], [3]]), error: RangeError, mentions: ['X[1]', 'expected 2'] },
  { name: 'data length ≠ rows·cols', call: () => gram({ data: new Float64Array(5), rows: 2, cols: 3 }), error: RangeError, mentions: ['X.data', 'length 5'] },
  { name: 'NaN in X', call: () => gram({ data: Float64Array.of(1, NaN, 3, 4), rows: 2, cols: 2 }), error: RangeError, mentions: ['X[0][1]', 'NaN'] },
  {
    name: 'Inf in X (number[][])',
    call: () =>
      gram([
        [1, 2],
        [Infinity, 4],
      ]),
    error: RangeError,
    mentions: ['X[1][0]'],
  },
  { name: 'negative rows', call: () => gram({ data: new Float64Array(0), rows: -1, cols: 2 }), error: TypeError, mentions: ['X.rows'] },
  { name: 'fractional cols', call: () => gram({ data: new Float64Array(3), rows: 2, cols: 1.5 }), error: TypeError, mentions: ['X.cols'] },
  { name: 'data not a Float64Array', call: () => gram({ data: [1, 2, 3, 4] as never, rows: 2, cols: 2 }), error: TypeError, mentions: ['X.data'] },
  { name: 'weights of the wrong length', call: () => gram(good, [1, 2]), error: RangeError, mentions: ['w must have length 3'] },
  { name: 'NaN weight', call: () => gram(good, [1, NaN, 1]), error: RangeError, mentions: ['w[1]'] },
  { name: 'weights not an array', call: () => gram(good, 'abc' as never), error: TypeError, mentions: ['w must be'] },
  // CSR indices
  { name: 'CSR unsorted indices', call: () => gram(csr([0, 2], [2, 1], [1, 1])), error: RangeError, mentions: ['X.indices', 'row 0'] },
  { name: 'CSR duplicate index', call: () => gram(csr([0, 2], [1, 1], [1, 1])), error: RangeError, mentions: ['strictly increasing', 'row 0'] },
  { name: 'CSR index ≥ cols', call: () => gram(csr([0, 1, 2], [0, 4], [1, 1])), error: RangeError, mentions: ['X.indices[1] = 4', 'row 1'] },
  { name: 'CSR negative index', call: () => gram(csr([0, 1], [-1], [1])), error: RangeError, mentions: ['X.indices[0] = -1'] },
  { name: 'CSR index 2³² (would wrap to 0)', call: () => gram(csr([0, 1], [2 ** 32], [1])), error: RangeError, mentions: ['X.indices[0]', '32-bit'] },
  { name: 'CSR fractional index', call: () => gram(csr([0, 1], [1.5], [1])), error: RangeError, mentions: ['X.indices[0] = 1.5'] },
  { name: 'CSR indptr of the wrong length', call: () => gram({ rows: 3, cols: 4, indptr: [0, 1], indices: [0], values: [1] }), error: RangeError, mentions: ['X.indptr', 'rows + 1'] },
  { name: 'CSR indptr decreasing', call: () => gram(csr([0, 2, 1], [0, 1], [1, 1])), error: RangeError, mentions: ['X.indptr', 'row 1'] },
  { name: 'CSR indptr[0] ≠ 0', call: () => gram(csr([1, 2], [0, 1], [1, 1])), error: RangeError, mentions: ['X.indptr[0]'] },
  { name: 'CSR nnz mismatch', call: () => gram(csr([0, 2], [0, 1], [1])), error: RangeError, mentions: ['X.values'] },
  { name: 'CSR NaN value', call: () => gram(csr([0, 1], [0], [NaN])), error: RangeError, mentions: ['X.values[0]'] },
  { name: 'CSR indices not an array', call: () => gram({ rows: 1, cols: 2, indptr: [0, 1], indices: 'x' as never, values: [1] }), error: TypeError, mentions: ['X.indices'] },
  // SymMatrix and its factor
  { name: 'SymMatrix not square', call: () => SymMatrix.from({ data: new Float64Array(6), rows: 2, cols: 3 }), error: RangeError, mentions: ['A must be square'] },
  {
    name: 'SymMatrix with NaN',
    call: () =>
      SymMatrix.from([
        [1, NaN],
        [NaN, 1],
      ]),
    error: RangeError,
    mentions: ['A[0][1]'],
  },
  { name: 'negative damping', call: () => S.cholesky({ damping: -1 }), error: RangeError, mentions: ['damping', '≥ 0'] },
  { name: 'NaN damping', call: () => S.solve(b, { damping: NaN }), error: RangeError, mentions: ['damping', 'finite'] },
  { name: 'infinite damping', call: () => S.cholesky({ damping: Infinity }), error: RangeError, mentions: ['damping'] },
  { name: 'right-hand side of the wrong length', call: () => S.solve([1, 2]), error: RangeError, mentions: ['b must have length 5'] },
  { name: 'NaN in the right-hand side', call: () => L.solve([NaN, 0, 0, 0, 0]), error: RangeError, mentions: ['b[0]'] },
  {
    name: 'indefinite matrix',
    call: () =>
      SymMatrix.from([
        [1, 2],
        [2, 1],
      ]).cholesky(),
    error: NotPositiveDefiniteError,
    mentions: ['pivot 2'],
  },
  { name: 'get out of range', call: () => S.get(5, 0), error: RangeError, mentions: ['(5, 0)'] },
  { name: 'matvec of the wrong length', call: () => S.matvec([1]), error: RangeError, mentions: ['v must have length 5'] },
  { name: 'solveMany with the wrong rows', call: () => L.solveMany([[1], [2]]), error: RangeError, mentions: ['B must have 5 rows'] },
  // linearProblem: data, labels, options
  { name: 'empty data (0 rows)', call: lp({ X: { data: new Float64Array(0), rows: 0, cols: 2 }, y: [] }), error: RangeError, mentions: ['no rows'] },
  { name: 'zero columns', call: lp({ X: { data: new Float64Array(0), rows: 3, cols: 0 } }), error: RangeError, mentions: ['no columns'] },
  { name: 'y of the wrong length', call: lp({ y: [0, 1] }), error: RangeError, mentions: ['y must have length 3'] },
  { name: 'NaN in y', call: lp({ y: [0, NaN, 1], likelihood: gaussian() }), error: RangeError, mentions: ['y[1]'] },
  { name: 'Bernoulli label 2', call: lp({ y: [0, 2, 1] }), error: RangeError, mentions: ['y[1] = 2', 'Bernoulli'] },
  { name: 'Bernoulli label −1 (±1 data not mapped)', call: lp({ y: [1, -1, 1] }), error: RangeError, mentions: ['y[1] = -1'] },
  { name: 'categorical label = classes', call: lp({ y: [0, 3, 1], likelihood: categorical({ classes: 3 }) }), error: RangeError, mentions: ['y[1] = 3', '[0, 3)'] },
  { name: 'categorical label 1.5', call: lp({ y: [0, 1.5, 1], likelihood: categorical({ classes: 3 }) }), error: RangeError, mentions: ['y[1] = 1.5'] },
  { name: 'Poisson count −1', call: lp({ y: [0, -1, 1], likelihood: poisson() }), error: RangeError, mentions: ['y[1] = -1', 'Poisson'] },
  { name: 'Poisson count 2.5', call: lp({ y: [0, 2.5, 1], likelihood: poisson() }), error: RangeError, mentions: ['y[1] = 2.5'] },
  { name: 'no likelihood', call: lp({ likelihood: undefined }), error: TypeError, mentions: ['likelihood must be'] },
  { name: 'priorVariance 0', call: lp({ priorVariance: 0 }), error: RangeError, mentions: ['priorVariance'] },
  { name: 'priorVariance NaN', call: lp({ priorVariance: NaN }), error: RangeError, mentions: ['priorVariance'] },
  { name: 'unknown reduction', call: lp({ reduction: 'avg' }), error: RangeError, mentions: ['reduction', 'avg'] },
  { name: 'bias not a boolean', call: lp({ bias: 'yes' }), error: TypeError, mentions: ['bias'] },
  { name: 'Gaussian variance −1', call: () => gaussian({ variance: -1 }), error: RangeError, mentions: ['variance'] },
  { name: 'Bernoulli clip 0.5', call: () => bernoulli({ clip: 0.5 }), error: RangeError, mentions: ['clip'] },
  { name: 'categorical with 1 class', call: () => categorical({ classes: 1 }), error: RangeError, mentions: ['classes'] },
  { name: 'θ of the wrong length', call: () => P.loss([1, 2]), error: RangeError, mentions: [`theta must have length ${P.dim}`] },
  { name: 'NaN in θ', call: () => P.gradient(theta.map((t, i) => (i === 1 ? NaN : t))), error: RangeError, mentions: ['theta[1]'] },
  { name: 'Inf in θ', call: () => P.fisher(theta.map((t, i) => (i === 4 ? -Infinity : t))), error: RangeError, mentions: ['theta[4]'] },
  { name: 'unknown structure', call: () => P.fisher(theta, { structure: 'full' as never }), error: RangeError, mentions: ['structure', 'full'] },
  { name: 'kfac with a prior', call: () => P.hessian(theta, { structure: 'kfac' }), error: RangeError, mentions: ['kfac', 'prior'] },
  { name: 'MC samples 0', call: () => P.fisherMC(theta, { samples: 0 }), error: RangeError, mentions: ['samples'] },
  { name: 'MC seed 1.5', call: () => P.fisherMC(theta, { seed: 1.5 }), error: RangeError, mentions: ['seed'] },
  { name: 'product vector of the wrong length', call: () => P.fisherVectorProduct(theta, [1]), error: RangeError, mentions: ['v must have length'] },
  { name: 'variance adaptation with damping −1', call: () => P.varianceAdaptation(theta, { damping: -1 }), error: RangeError, mentions: ['damping'] },
  { name: 'Poisson exp(f) overflow (gradient)', call: () => pois.gradient([400, 400]), error: NonFiniteLossError, mentions: ['+Infinity', 'exp(f) overflows', 'sample 1'] },
  { name: 'Poisson exp(f) overflow (Fisher)', call: () => pois.fisher([800, 0]), error: NonFiniteLossError, mentions: ['exp(f) overflows', 'sample 0'] },
  // optimizers
  { name: 'negative step size', call: () => gd(small, { lr: -1 }), error: RangeError, mentions: ['lr', '> 0'] },
  { name: 'NaN step size', call: () => gd(small, { lr: NaN }), error: RangeError, mentions: ['lr', 'finite'] },
  { name: 'no step size', call: () => gd(small, {} as never), error: TypeError, mentions: ['lr'] },
  { name: 'negative optimizer damping', call: () => ngd(small, { lr: 1, damping: -1 }), error: RangeError, mentions: ['damping'] },
  { name: 'NaN optimizer damping', call: () => efgd(small, { lr: 1, damping: NaN }), error: RangeError, mentions: ['damping'] },
  { name: 'NaN adaptiveDamping.min', call: () => ngd(small, { lr: 1, adaptiveDamping: { min: NaN } }), error: RangeError, mentions: ['adaptiveDamping.min'] },
  { name: 'adaptiveDamping min > max', call: () => ngd(small, { lr: 1, adaptiveDamping: { min: 2, max: 1 } }), error: RangeError, mentions: ['adaptiveDamping.min'] },
  { name: 'adaptiveDamping on GD', call: () => gd(small, { lr: 1, adaptiveDamping: true } as never), error: UnknownOptionError, mentions: ['adaptiveDamping', 'second-order'] },
  { name: 'diagonalEF power 2', call: () => diagonalEF(small, { lr: 1, power: 2 as never }), error: RangeError, mentions: ['power'] },
  { name: 'negative iterations', call: () => gd(small, { lr: 1 }).run(th2, { iterations: -1 }), error: RangeError, mentions: ['iterations'] },
  { name: 'θ0 of the wrong length', call: () => gd(small, { lr: 1 }).run([1], { iterations: 1 }), error: RangeError, mentions: ['theta0 must have length 2'] },
  { name: 'NaN θ0', call: () => ngd(small, { lr: 1 }).run([NaN, 0], { iterations: 1 }), error: RangeError, mentions: ['theta0[0]'] },
  { name: 'NaN divergenceFactor', call: () => gd(small, { lr: 1 }).run(th2, { iterations: 1, divergenceFactor: NaN }), error: RangeError, mentions: ['divergenceFactor'] },
  { name: 'infinite initial loss', call: () => gd(pois, { lr: 1 }).run([800, 0], { iterations: 1 }), error: NonFiniteLossError, mentions: ['+Infinity'] },
  // parsers: scikit-learn CSV
  { name: 'CSV bad number', call: sklearn('2,2,a,b\n1,2,0\n1,x,1\n'), error: DataFormatError, mentions: ['cat.csv:3', 'bad number "x"', 'column 2'], at: ['cat.csv', 3] },
  { name: 'CSV missing column', call: sklearn('2,2,a,b\n1,0\n1,2,1\n'), error: DataFormatError, mentions: ['expected 3 columns', 'found 2'], at: ['cat.csv', 2] },
  { name: 'CSV stray text', call: sklearn('2,2,a,b\n1,2,0\n1,2,1 oops\n'), error: DataFormatError, mentions: ['bad number "1 oops"'], at: ['cat.csv', 3] },
  { name: 'CSV more rows than the header', call: sklearn('1,2,a,b\n1,2,0\n1,2,1\n'), error: DataFormatError, mentions: ['more rows'], at: ['cat.csv', 3] },
  { name: 'CSV fewer rows than the header', call: sklearn('3,2,a,b\n1,2,0\n1,2,1\n'), error: DataFormatError, mentions: ['announces 3 rows, found 2'], at: ['cat.csv', 4] },
  { name: 'CSV empty file', call: sklearn(''), error: DataFormatError, mentions: ['empty file'], at: ['cat.csv', 1] },
  { name: 'CSV empty lines count', call: sklearn('2,2,a,b\n\n1,2,0\n\n\n1,2,NaN\n'), error: DataFormatError, mentions: ['bad number "NaN"'], at: ['cat.csv', 6] },
  { name: 'CSV CRLF endings', call: sklearn('2,2,a,b\r\n1,2,0\r\n1,2\r\n'), error: DataFormatError, mentions: ['found 2'], at: ['cat.csv', 3] },
  { name: 'CSV bad header', call: sklearn('n,2\n1,2,0\n'), error: DataFormatError, mentions: ['scikit-learn header'], at: ['cat.csv', 1] },
  { name: 'CSV header of 10¹¹ features', call: sklearn('1,99999999999\n1,2,0\n'), error: DataFormatError, mentions: ['expected 100000000000 columns'], at: ['cat.csv', 2] },
  { name: 'CSV 10 MB line', call: sklearn(`1,1\n${huge}x,0\n`), error: DataFormatError, mentions: ['bad number', `[${huge.length + 1} characters]`], at: ['cat.csv', 2] },
  { name: 'CSV 10 MB number', call: sklearn(`1,1\n${huge},0\n`), error: DataFormatError, mentions: ['out of range'], at: ['cat.csv', 2] },
  { name: 'CSV: the first problem is reported', call: sklearn('3,2,a,b\n1,2,0\n1,?,1\n1,2\n'), error: DataFormatError, mentions: ['bad number "?"'], at: ['cat.csv', 3] },
  { name: 'CSV headerLines 3', call: sklearn('1,2,0\n', { headerLines: 3 }), error: RangeError, mentions: ['headerLines'] },
  // parsers: LIBSVM
  { name: 'LIBSVM index 0', call: libsvm('+1 1:1\n-1 0:1\n'), error: DataFormatError, mentions: ['index 0', 'start at 1'], at: ['cat.svm', 2] },
  { name: 'LIBSVM duplicate index', call: libsvm('+1 1:1 3:2 3:1\n'), error: DataFormatError, mentions: ['3 repeats'], at: ['cat.svm', 1] },
  { name: 'LIBSVM decreasing index', call: libsvm('+1 4:1 2:1\n'), error: DataFormatError, mentions: ['2 decreases'], at: ['cat.svm', 1] },
  { name: 'LIBSVM stray text', call: libsvm('+1 1:1\n+1 1:1 hello\n'), error: DataFormatError, mentions: ['missing \':\' in "hello"'], at: ['cat.svm', 2] },
  { name: 'LIBSVM bad value', call: libsvm('+1 1:abc\n'), error: DataFormatError, mentions: ['bad number "abc"', 'feature 1'], at: ['cat.svm', 1] },
  { name: 'LIBSVM bad label', call: libsvm('\n\nyes 1:1\n'), error: DataFormatError, mentions: ['as label'], at: ['cat.svm', 3] },
  { name: 'LIBSVM index beyond features', call: libsvm('+1 1:1 9:1\n', { features: 4 }), error: DataFormatError, mentions: ['9 exceeds features = 4'], at: ['cat.svm', 1] },
  { name: 'LIBSVM label 2 for ±1 data', call: libsvm('+1 1:1\r\n2 1:1\r\n', { labels: 'pm1-to-01' }), error: DataFormatError, mentions: ['label 2'], at: ['cat.svm', 2] },
  { name: 'LIBSVM index 3·10⁹', call: libsvm('+1 3000000000:1\n'), error: DataFormatError, mentions: ['3000000000', '32-bit'], at: ['cat.svm', 1] },
  { name: 'LIBSVM 10 MB line of garbage', call: libsvm(`+1 1:1\n+1 ${huge}\n`), error: DataFormatError, mentions: ["missing ':'", 'characters]'], at: ['cat.svm', 2] },
  { name: 'LIBSVM no data', call: libsvm('# only a comment\n\n'), error: DataFormatError, mentions: ['no data rows'], at: ['cat.svm', 3] },
  { name: 'LIBSVM unknown labels option', call: libsvm('+1 1:1\n', { labels: 'binary' }), error: RangeError, mentions: ['labels'] },
  { name: 'LIBSVM features −1', call: libsvm('+1 1:1\n', { features: -1 }), error: RangeError, mentions: ['features'] },
  // parsers: UCI triplet
  { name: 'UCI ragged rows', call: () => parseUci('1 2 3\n4 5\n', '0\n1\n', '2\n', 'uci'), error: DataFormatError, mentions: ['expected 3 columns'], at: ['uci/data.txt', 2] },
  { name: 'UCI bad number', call: () => parseUci('1 2 3\n4 five 6\n', '0 1\n', '2\n', 'uci'), error: DataFormatError, mentions: ['bad number "five"'], at: ['uci/data.txt', 2] },
  { name: 'UCI feature index out of range', call: () => parseUci('1 2 3\n', '0\n7\n', '2\n', 'uci'), error: DataFormatError, mentions: ['column index 7'], at: ['uci/index_features.txt', 2] },
  { name: 'UCI duplicate feature index', call: () => parseUci('1 2 3\n', '0\n1\n0\n', '2\n', 'uci'), error: DataFormatError, mentions: ['listed twice'], at: ['uci/index_features.txt', 3] },
  { name: 'UCI target among the features', call: () => parseUci('1 2 3\n', '0 1 2\n', '2\n', 'uci'), error: DataFormatError, mentions: ['also listed as a feature'], at: ['uci/index_target.txt', 1] },
  { name: 'UCI two targets', call: () => parseUci('1 2 3\n', '0\n', '1\n2\n', 'uci'), error: DataFormatError, mentions: ['one target'], at: ['uci/index_target.txt', 2] },
  { name: 'UCI negative index', call: () => parseUci('1 2 3\n', '-1\n', '2\n', 'uci'), error: DataFormatError, mentions: ['bad column index "-1"'], at: ['uci/index_features.txt', 1] },
  // handles used after free
  { name: 'SymMatrix used after free', call: () => freed.get(0, 0), error: DisposedError, mentions: ['SymMatrix', 'freed'] },
  { name: 'Matrix used after free', call: () => gram(freedX), error: DisposedError, mentions: ['Matrix', 'freed'] },
  { name: 'problem used after free', call: () => freedP.loss([0, 0]), error: DisposedError, mentions: ['LinearProblem', 'freed'] },
  { name: 'optimizer on a freed problem', call: () => gd(freedP, { lr: 1 }).run([0, 0], { iterations: 2 }), error: DisposedError, mentions: ['freed'] },
  // sizes past the 32-bit address space, refused up front
  { name: 'dense 2²⁰ × 2¹⁰ (8 GiB), data never read', call: () => Matrix.from(lazyData(2 ** 20, 2 ** 10) as never), error: RangeError, mentions: ['X: 1048576 × 1024', '8.0 GiB', 'mini-batches'] },
  { name: 'gram of 8 GiB rows, data never read', call: () => gram(lazyData(2 ** 24, 64) as never), error: RangeError, mentions: ['GiB', 'fisherAccumulator'] },
  {
    name: 'linearProblem on 8 GiB rows',
    call: () => linearProblem({ X: lazyData(2 ** 27, 8) as never, y: [], likelihood: gaussian() }),
    error: RangeError,
    mentions: ['X: 134217728 × 8', 'mini-batches'],
  },
  { name: 'SymMatrix of 20000² (3 GiB)', call: () => SymMatrix.from(lazyData(20000, 20000) as never), error: RangeError, mentions: ['A: 20000 × 20000', "structure 'diagonal'"] },
  { name: 'CSR Gram with 10⁵ columns (75 GiB)', call: () => gram(csr([0, 1, 2], [5, 99999], [1, 2], 2, 100000)), error: RangeError, mentions: ['Gram matrix', '74.5 GiB', "structure 'diagonal'"] },
  {
    name: 'dense Fisher with D = 40000',
    call: () => linearProblem({ X: csr([0, 1], [39999], [1], 1, 40000), y: [1], likelihood: gaussian() }).fisher(new Float64Array(40000)),
    error: RangeError,
    mentions: ['D parameters', '40000 × 40000', 'fisherVectorProduct'],
  },
  { name: 'accumulator with D = 20000', call: () => fisherAccumulator({ theta: new Float64Array(20000), likelihood: gaussian(), inputs: 20000 }), error: RangeError, mentions: ['D = 20000'] },
  // accumulators
  { name: 'accumulator batch of the wrong width', call: () => acc.add([[1, 2, 3]], [1]), error: RangeError, mentions: ['X has 3 columns', 'inputs = 2'] },
  {
    name: 'accumulator labels outside the support',
    call: () => fisherAccumulator({ theta: [0, 0], likelihood: bernoulli(), inputs: 2 }).add([[1, 2]], [3]),
    error: RangeError,
    mentions: ['y[0] = 3'],
  },
  {
    name: 'accumulator θ of the wrong length',
    call: () => empiricalFisherAccumulator({ theta: [0, 0], likelihood: gaussian(), inputs: 2, bias: true }),
    error: RangeError,
    mentions: ['theta must have length 3'],
  },
  { name: 'accumulator inputs 0', call: () => fisherAccumulator({ theta: [], likelihood: gaussian(), inputs: 0 }), error: RangeError, mentions: ['inputs'] },
  { name: 'accumulator mean of nothing', call: () => fisherAccumulator({ theta: [0], likelihood: gaussian(), inputs: 1 }).result(), error: RangeError, mentions: ['no rows'] },
  { name: 'merge at a different θ', call: () => acc.merge(accOther), error: RangeError, mentions: ['theta differs at entry 2'] },
  { name: 'fromBytes of garbage', call: () => CurvatureAccumulator.fromBytes(new Uint8Array(64).fill(7)), error: RangeError, mentions: ['magic'] },
  { name: 'fromBytes truncated', call: () => CurvatureAccumulator.fromBytes(acc.toBytes().subarray(0, 60)), error: RangeError, mentions: ['60 bytes, expected'] },
  { name: 'fromBytes of a string', call: () => CurvatureAccumulator.fromBytes('NGAC' as never), error: TypeError, mentions: ['Uint8Array'] },
  {
    name: 'accumulator Poisson overflow',
    call: () => fisherAccumulator({ theta: [800], likelihood: poisson(), inputs: 1 }).add([[1]], [0]),
    error: NonFiniteLossError,
    mentions: ['exp(f) overflows', 'row 0'],
  },
];

const CLI = fileURLToPath(new URL('../../bin/natgrad.mjs', import.meta.url));
const CLI_BUILT = fileURLToPath(new URL('../../dist/experiments/cli.js', import.meta.url));
const CLI_SOURCE = fileURLToPath(new URL('../../experiments/cli.ts', import.meta.url));

function check(r: Row, e: unknown): void {
  assert.not.ok(e instanceof WebAssembly.RuntimeError, `${r.name}: a WebAssembly.RuntimeError escaped: ${String(e)}`);
  assert.ok(e instanceof r.error, `${r.name}: expected ${r.error.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  const msg = (e as Error).message;
  assert.ok(msg.length < 600, `${r.name}: message of ${msg.length} characters`);
  for (const m of r.mentions) {
    const ok = typeof m === 'string' ? msg.includes(m) : m.test(msg);
    assert.ok(ok, `${r.name}: message "${msg}" should mention ${String(m)}`);
  }
  if (r.at) {
    const f = e as DataFormatError;
    assert.is(f.file, r.at[0], `${r.name}: file`);
    assert.is(f.line, r.at[1], `${r.name}: line`);
  }
}

test(`catalogue: ${rows.length} bad inputs give typed errors naming the argument, and break nothing`, () => {
  assert.ok(rows.length >= 40);
  for (const r of rows) {
    const t0 = performance.now();
    let thrown: unknown,
      returned = false;
    try {
      const v = r.call();
      returned = true;
      if (v && typeof (v as { free?: unknown }).free === 'function') (v as { free(): void }).free();
    } catch (e) {
      thrown = e;
    }
    assert.not.ok(returned, `${r.name}: returned instead of throwing`);
    check(r, thrown);
    assert.ok(performance.now() - t0 < 2000, `${r.name}: took ${performance.now() - t0} ms`);
    // The survivors still compute the same numbers (views re-derived, memory intact).
    assert.equal(P.loss(theta), before.loss, `${r.name}: problem loss changed`);
    assert.equal(Array.from(S.solve(b, { damping: 0.25 })), before.solve, `${r.name}: SymMatrix solve changed`);
  }
});

const gridProblem = { X: good, y: [0, 1, 0], likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean' as const };

test('catalogue: asynchronous entry points reject with typed errors', async () => {
  const asyncRows: Row[] = [
    { name: 'parallelGram with 0 workers', call: () => parallelGram(good, undefined, { workers: 0 }), error: RangeError, mentions: ['workers'] },
    { name: 'parallelGram with NaN in X', call: () => parallelGram({ data: Float64Array.of(1, NaN), rows: 1, cols: 2 }), error: RangeError, mentions: ['X[0][1]'] },
    { name: 'parallelGram with 10⁵ columns', call: () => parallelGram(csr([0, 1], [99999], [1], 1, 100000)), error: RangeError, mentions: ['Gram matrix', 'GiB'] },
    { name: 'parallelGram weights of the wrong length', call: () => parallelGram(good, [1]), error: RangeError, mentions: ['w must have length 3'] },
    { name: 'gridSearch NaN step size', call: () => gridSearch({ problem: gridProblem, lrs: [1, NaN], dampings: [1] }), error: RangeError, mentions: ['lrs[1]'] },
    { name: 'gridSearch negative damping', call: () => gridSearch({ problem: gridProblem, lrs: [1], dampings: [-1] }), error: RangeError, mentions: ['dampings[0]'] },
    { name: 'gridSearch 0 workers', call: () => gridSearch({ problem: gridProblem, lrs: [1], dampings: [1], workers: 0 }), error: RangeError, mentions: ['workers'] },
    { name: 'gridSearch unknown optimizer', call: () => gridSearch({ problem: gridProblem, lrs: [1], dampings: [1], optimizers: ['Adam' as never] }), error: RangeError, mentions: ['optimizers[0]'] },
    { name: 'gridSearch labels outside the support', call: () => gridSearch({ problem: { ...gridProblem, y: [0, 2, 1] }, lrs: [1], dampings: [1] }), error: RangeError, mentions: ['y[1] = 2'] },
  ];
  for (const r of asyncRows) {
    let thrown: unknown;
    try {
      await r.call();
    } catch (e) {
      thrown = e;
    }
    check(r, thrown);
  }
});

test('catalogue: the CLI rejects unknown experiments, commands and flags (bin/natgrad.mjs, or experiments/cli.ts under tsx when not built)', () => {
  if (!existsSync(CLI) || !existsSync(CLI_SOURCE)) return; // the CLI has not landed
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const relaxed = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
  // The bin runs dist/experiments/cli.js; when that is not built, run the same main() from source.
  const viaSource = `const { main } = await import(${JSON.stringify(pathToFileURL(CLI_SOURCE).href)}); process.exitCode = await main(['node', 'natgrad', ...process.argv.slice(1)]);`;
  const command = (args: string[]) =>
    existsSync(CLI_BUILT) && process.env.NATGRAD_CLI_FROM_SOURCE !== '1' ? [...relaxed, CLI, ...args] : [...relaxed, '--import', 'tsx', '--input-type=module', '-e', viaSource, ...args];
  const cases: [string[], string][] = [
    [['reproduce', 'no-such-experiment'], 'no-such-experiment'],
    [['reproduce', 'fig1', '--no-such-flag'], '--no-such-flag'],
    [['reproduce', '--no-such-flag', 'fig1'], '--no-such-flag'],
    [['no-such-command'], 'no-such-command'],
    [['reproduce'], 'experiment'],
  ];
  for (const [args, named] of cases) {
    const r = spawnSync(process.execPath, command(args), { encoding: 'utf8', timeout: 60000, cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    const tag = `natgrad ${args.join(' ')}`;
    assert.ok(r.status !== 0 && r.status !== null, `${tag}: exit status ${r.status}`);
    assert.ok(r.stderr.includes(named), `${tag}: stderr should name ${named}: ${r.stderr.slice(0, 300)}`);
    assert.not.match(r.stderr, /RuntimeError|\n\s+at /, `${tag}: a stack trace or RuntimeError reached the user`);
  }
});

test('catalogue: after the whole table the survivors compute the same numbers, bit for bit, and memory still works', () => {
  assert.equal(snapshot(), before);
  // Allocate again after all the misuse and check a fresh result.
  const C = gram(good);
  assert.equal(Array.from(C.toDense()), [35, 44, 44, 56]);
  C.free();
  const probe = defaultCore().alloc(1 << 20);
  defaultCore().free(probe);
  for (const h of [P, S, L, small, pois, acc, accOther]) h.free();
});

test.run();
