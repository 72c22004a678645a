// Every public function and method that takes an options object refuses a key it does not know
// with an UnknownOptionError naming the key and the function (natgrad issue #21). The table below
// has one row per such function with a minimal valid call; the coverage tests check that every
// runtime export of bindings/index.ts is either in the table or in NO_OPTIONS, and that every
// exported function or public method whose source has an `options` parameter has a row — so a new
// export (or a new method taking options) without a row fails here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '../../bindings/index.js';
import { threads, variant } from '../helpers.js';

const { bernoulli, categorical, gaussian, linearProblem, mlp, problem, sequential, dense, UnknownOptionError } = api;
type UnknownOptionError = api.UnknownOptionError;

// ---- fixtures: a linear problem, an MLP problem, a sequential network, operators, matrices ----
const N = 6;
const X = { data: Float64Array.from({ length: N * 2 }, (_, i) => Math.sin(1.3 * i + 0.2)), rows: N, cols: 2 };
const yBin = Float64Array.of(0, 1, 1, 0, 1, 0);
const lp = linearProblem({ X, y: yBin, likelihood: bernoulli(), bias: true });
const thetaL = Float64Array.from({ length: lp.dim }, (_, i) => 0.1 * (i + 1));
const model = mlp({ sizes: [2, 3, 2], activation: 'tanh' });
const mp = problem({ model, X, y: yBin, likelihood: categorical({ classes: 2 }) });
const theta = model.init(1);
// A layer norm keeps the network off the dense-chain trace: its traces are SequentialTraces.
const net = sequential({ input: 2, layers: [dense({ out: 3 }), api.layerNorm(), api.tanh(), dense({ out: 2 })] });
const op = api.curvatureOperator(lp, thetaL);
const b = Float64Array.from({ length: lp.dim }, (_, i) => 1 + i);
const S = api.SymMatrix.from([
  [4, 1],
  [1, 3],
]);
const L = S.cholesky();
const IDX = (magic: number, dims: number[], data: number[]): Uint8Array => {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, k) => v.setUint32(4 + 4 * k, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
};
const fashion = { images: IDX(0x803, [1, 28, 28], new Array(784).fill(7)), labels: IDX(0x801, [1], [3]) };
const tmp = mkdtempSync(join(tmpdir(), 'natgrad-options-'));
const libsvmPath = join(tmp, 'tiny.libsvm');
writeFileSync(libsvmPath, '+1 1:0.5 2:1\n-1 2:2\n');

type Extra = Record<string, unknown>;
interface Row {
  /** The export this row covers (a function, or the class or object whose method it calls). */
  readonly export: string;
  /** The function as the error names it (`UnknownOptionError.where` contains it). */
  readonly name: string;
  /** A valid call with `extra` merged into its options (`extra = {}`: must succeed). */
  readonly call: (extra: Extra) => unknown;
  /** Skip the valid call (it would change global state); the refusal is still checked. */
  readonly noValidCall?: string;
}

/** Free what a valid call returned (handles, arrays of them, KFAC layers, a model's trace). */
function release(r: unknown): void {
  if (r === null || typeof r !== 'object') return;
  if (Array.isArray(r)) {
    for (const x of r) release(x);
    return;
  }
  const o = r as { free?: () => void; A?: unknown; G?: unknown; exact?: unknown; pool?: { close?: () => void } };
  if (o instanceof api.Core) {
    o.pool?.close?.();
    return;
  }
  if (typeof o.free === 'function' && !(o === lp || o === mp)) o.free();
  else for (const k of ['A', 'G', 'exact'] as const) release(o[k]);
}

const problemRows = (cls: 'ModelProblem' | 'LinearProblem', p: api.Problem, th: Float64Array): Row[] => [
  { export: cls, name: 'perSampleGradients', call: (o) => p.perSampleGradients(th, { resident: false, ...o } as never) },
  { export: cls, name: 'fisher', call: (o) => p.fisher(th, { structure: 'kfac', kfacApproximation: 'expand', bias: 'joint', ...o }) },
  { export: cls, name: 'ggn', call: (o) => p.ggn(th, { structure: 'block', ...o }) },
  { export: cls, name: 'hessian', call: (o) => p.hessian(th, { structure: 'diagonal', ...o }) },
  { export: cls, name: 'fisherMC', call: (o) => p.fisherMC(th, { structure: 'dense', samples: 2, seed: 3, ...o }) },
  { export: cls, name: 'empiricalFisher', call: (o) => p.empiricalFisher(th, { structure: 'dense', ...o }) },
  { export: cls, name: 'varianceAdaptation', call: (o) => p.varianceAdaptation(th, { damping: 1e-3, ...o }) },
  { export: cls, name: 'curvatureOperator', call: (o) => (p as api.LinearProblem).curvatureOperator(th, { kind: 'fisherMC', samples: 2, seed: 1, perSampleBytes: 0, ...o }) },
];

const ROWS: Row[] = [
  // core
  { export: 'init', name: 'init', call: (o) => api.init({ variant, threads, ...o }), noValidCall: 'it replaces the default core of the other test files' },
  { export: 'createCore', name: 'createCore', call: (o) => api.createCore({ variant, threads: 1, ...o }) },
  // linear algebra
  { export: 'SymMatrix', name: 'SymMatrix.cholesky', call: (o) => S.cholesky({ damping: 0.5, ...o }) },
  { export: 'SymMatrix', name: 'SymMatrix.solve', call: (o) => S.solve([1, 2], { damping: 0.5, minRcond: 1e-12, ...o }) },
  { export: 'SymMatrix', name: 'SymMatrix.logDet', call: (o) => S.logDet({ damping: 0.5, ...o }) },
  { export: 'CholeskyFactor', name: 'CholeskyFactor.solve', call: (o) => L.solve([1, 2], { minRcond: 1e-12, ...o }) },
  { export: 'CholeskyFactor', name: 'CholeskyFactor.solveMany', call: (o) => L.solveMany([[1], [2]], { minRcond: 1e-12, ...o }) },
  { export: 'parallelGram', name: 'parallelGram', call: (o) => api.parallelGram(X, undefined, { workers: 2, chunkBytes: 64, variant, stream: true, ...o }) },
  // likelihoods
  { export: 'gaussian', name: 'gaussian', call: (o) => gaussian({ variance: 2, outputs: 1, ...o }) },
  { export: 'bernoulli', name: 'bernoulli', call: (o) => bernoulli({ clip: 0, ...o }) },
  { export: 'categorical', name: 'categorical', call: (o) => categorical({ classes: 3, ...o }) },
  { export: 'poisson', name: 'poisson', call: (o) => api.poisson({ ...o } as never) },
  // problems and their methods
  { export: 'linearProblem', name: 'linearProblem', call: (o) => linearProblem({ X, y: yBin, likelihood: bernoulli(), priorVariance: 10, reduction: 'sum', bias: true, ...o }) },
  { export: 'problem', name: 'problem', call: (o) => problem({ model, X, y: yBin, likelihood: categorical({ classes: 2 }), priorVariance: 10, reduction: 'mean', ...o }) },
  ...problemRows('ModelProblem', mp, theta),
  ...problemRows('LinearProblem', lp, thetaL),
  { export: 'curvatureOperator', name: 'curvatureOperator', call: (o) => api.curvatureOperator(mp, theta, { kind: 'hessian', ...o }) },
  { export: 'fisherAccumulator', name: 'fisherAccumulator', call: (o) => api.fisherAccumulator({ theta: thetaL, likelihood: bernoulli(), inputs: 2, bias: true, ...o }) },
  { export: 'empiricalFisherAccumulator', name: 'empiricalFisherAccumulator', call: (o) => api.empiricalFisherAccumulator({ theta, likelihood: categorical({ classes: 2 }), inputs: 2, model, ...o }) },
  {
    export: 'CurvatureAccumulator',
    name: 'CurvatureAccumulator.result',
    call: (o) => {
      const acc = api.fisherAccumulator({ theta: thetaL, likelihood: bernoulli(), inputs: 2, bias: true });
      try {
        return acc.add(X, yBin).result({ reduction: 'sum', ...o });
      } finally {
        acc.free();
      }
    },
  },
  // models and networks
  { export: 'linear', name: 'linear', call: (o) => api.linear({ inputs: 2, outputs: 3, bias: true, core: api.core(), ...o }) },
  { export: 'mlp', name: 'mlp', call: (o) => mlp({ sizes: [2, 3, 1], activation: 'relu', core: api.core(), ...o }) },
  { export: 'modelFromSpec', name: 'modelFromSpec', call: (o) => api.modelFromSpec({ name: 'mlp', sizes: [2, 3, 1], activation: 'tanh', ...o } as api.ModelSpec) },
  { export: 'sequential', name: 'sequential', call: (o) => sequential({ input: 2, layers: [dense({ out: 1 })], core: api.core(), ...o }) },
  { export: 'dense', name: 'dense', call: (o) => dense({ out: 2, bias: false, ...o }) },
  { export: 'conv2d', name: 'conv2d', call: (o) => api.conv2d({ out: 2, kernel: 3, ...o }) },
  { export: 'maxPool2d', name: 'maxPool2d', call: (o) => api.maxPool2d({ kernel: 2, ...o }) },
  { export: 'avgPool2d', name: 'avgPool2d', call: (o) => api.avgPool2d({ kernel: 2, ...o }) },
  { export: 'batchNorm', name: 'batchNorm', call: (o) => api.batchNorm({ ...o }) },
  { export: 'layerNorm', name: 'layerNorm', call: (o) => api.layerNorm({ ...o }) },
  { export: 'residual', name: 'residual', call: (o) => api.residual([dense({ out: 2 })], { ...o }) },
  {
    export: 'SequentialModel',
    name: 'kfacFactors',
    call: (o) => {
      const t = net.forward(net.init(0), X.data, N);
      assert.is(t.constructor.name, 'SequentialTrace');
      try {
        return t.kfacFactors(new Float64Array(N * 2).fill(0.5), 1, 1, { kfacApproximation: 'reduce', bias: 'separate', ...o });
      } finally {
        t.free();
      }
    },
  },
  {
    export: 'MlpTrace',
    name: 'kfacFactors',
    call: (o) => {
      const t = model.forward(theta, X.data, N);
      assert.instance(t, api.MlpTrace);
      try {
        return t.kfacFactors(new Float64Array(N * 2).fill(0.5), 1, 1, { bias: 'joint', ...o });
      } finally {
        t.free?.();
      }
    },
  },
  // data
  { export: 'sineData', name: 'sineData', call: (o) => api.sineData({ n: 3, seed: 1, noise: 0.2, range: 2, ...o }) },
  { export: 'parseSklearnCsv', name: 'parseSklearnCsv', call: (o) => api.parseSklearnCsv('1,2,0\n3,4,1\n', 'tiny.csv', { headerLines: 0, ...o }) },
  { export: 'loadSklearnCsv', name: 'loadSklearnCsv', call: (o) => api.loadSklearnCsv({ text: '1,2,0\n', name: 'tiny.csv' }, { headerLines: 0, ...o }) },
  { export: 'parseLibsvm', name: 'parseLibsvm', call: (o) => api.parseLibsvm('+1 1:0.5\n-1 2:1\n', 'tiny', { features: 3, labels: 'pm1-to-01', ...o }) },
  { export: 'loadLibsvm', name: 'loadLibsvm', call: (o) => api.loadLibsvm(libsvmPath, { features: 2, labels: 'raw', ...o }) },
  { export: 'loadDigits', name: 'loadDigits', call: (o) => api.loadDigits(undefined, { scale: false, images: true, ...o }) },
  { export: 'loadFashionMnist', name: 'loadFashionMnist', call: (o) => api.loadFashionMnist({ split: 'test', bytes: fashion, limit: 1, scale: true, ...o }) },
  { export: 'loadFashionMnist', name: 'loadFashionMnist: bytes', call: (o) => api.loadFashionMnist({ split: 'test', bytes: { ...fashion, ...o } }) },
  // grid search, and its nested settings
  {
    export: 'gridSearch',
    name: 'gridSearch',
    call: (o) =>
      api.gridSearch({
        problem: { X, y: yBin, likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean' },
        optimizers: ['GD', 'NGD'],
        lrs: [0.1],
        dampings: [1],
        iterations: 2,
        divergenceFactor: 10,
        theta0: [0, 0],
        workers: 1,
        onProgress: () => {},
        signal: new AbortController().signal,
        ...o,
      }),
  },
  {
    export: 'gridSearch',
    name: 'gridSearch: problem',
    call: (o) => api.gridSearch({ problem: { X, y: yBin, likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean', ...o } as api.GridProblem, lrs: [0.1], dampings: [1], iterations: 1 }),
  },
  {
    export: 'gridSearch',
    name: 'gridSearch: optimizerSettings',
    call: (o) => api.gridSearch({ problem: mp, optimizers: ['GD', 'Adam'], optimizerSettings: { adam: { beta1: 0.8 }, ...o }, lrs: [0.1], iterations: 1 }),
  },
  {
    export: 'gridSearch',
    name: 'gridSearch: optimizerSettings.kfac',
    call: (o) => api.gridSearch({ problem: mp, optimizers: ['KFAC'], optimizerSettings: { kfac: { ema: 0.9, updateEvery: 1, samples: 1, seed: 2, ...o } }, lrs: [0.1], dampings: [1], iterations: 1 }),
  },
  {
    export: 'gridSearch',
    name: 'gridSearch: optimizerSettings.hf.cg',
    call: (o) =>
      api.gridSearch({ problem: mp, optimizers: ['HF'], optimizerSettings: { hf: { curvature: 'ggn', cg: { maxIterations: 3, tol: 1e-6, ...o } } }, lrs: [1], dampings: [1], iterations: 1 }),
  },
  // optimizers (bindings/optimizers/*)
  { export: 'gd', name: 'gd', call: (o) => api.gd(lp, { lr: 0.1, ...o }) },
  { export: 'ngd', name: 'ngd', call: (o) => api.ngd(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'efgd', name: 'efgd', call: (o) => api.efgd(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'newton', name: 'newton', call: (o) => api.newton(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'ngdMC', name: 'ngdMC', call: (o) => api.ngdMC(lp, { lr: 0.1, damping: 1e-3, samples: 2, seed: 1, ...o }) },
  { export: 'diagonalEF', name: 'diagonalEF', call: (o) => api.diagonalEF(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'varianceAdapted', name: 'varianceAdapted', call: (o) => api.varianceAdapted(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'adam', name: 'adam', call: (o) => api.adam(lp, { lr: 0.1, ...o }) },
  { export: 'kfac', name: 'kfac', call: (o) => api.kfac(mp, { lr: 0.1, damping: 1e-3, ...o }) },
  { export: 'hessianFree', name: 'hessianFree', call: (o) => api.hessianFree(lp, { damping: 1e-3, ...o }) },
  { export: 'diagonalVarianceAdapted', name: 'diagonalVarianceAdapted', call: (o) => api.diagonalVarianceAdapted(lp, { lr: 0.1, ...o }) },
  { export: 'fullVarianceAdapted', name: 'fullVarianceAdapted', call: (o) => api.fullVarianceAdapted(lp, { lr: 0.1, damping: 1e-3, ...o }) },
  {
    export: 'makeOptimizer',
    name: 'makeOptimizer',
    call: (o) => api.makeOptimizer('mine', lp, { lr: 0.1, ...o }, (_p, s) => ({ direction: s.gradient }), false),
  },
  { export: 'gd', name: 'run', call: (o) => api.gd(lp, { lr: 0.1 }).run(thetaL, { iterations: 1, ...o }) },
  {
    export: 'stochasticRun',
    name: 'stochasticRun',
    call: (o) => api.stochasticRun({ model, X, y: yBin, likelihood: categorical({ classes: 2 }) }, (p) => api.gd(p, { lr: 0.1 }), theta, { batchSize: 3, epochs: 1, seed: 1, ...o }),
  },
  { export: 'train', name: 'train', call: (o) => api.train(lp, api.gd(lp, { lr: 0.1 }), { theta0: thetaL, epochs: 1, ...o }) },
  // Laplace (bindings/laplace/*)
  { export: 'laplace', name: 'laplace', call: (o) => api.laplace(mp, theta, { structure: 'full', priorPrecision: 1, ...o }) },
  { export: 'Laplace', name: 'Laplace.optimizePriorPrecision', call: (o) => api.laplace(mp, theta, { structure: 'diagonal', priorPrecision: 1 }).optimizePriorPrecision({ ...o }) },
  { export: 'Laplace', name: 'Laplace.predict', call: (o) => api.laplace(mp, theta, { structure: 'diagonal', priorPrecision: 1 }).predict(X, { link: 'probit', ...o }) },
  {
    export: 'marglikTraining',
    name: 'marglikTraining',
    call: (o) => api.marglikTraining({ model, X, y: yBin, likelihood: categorical({ classes: 2 }) }, api.gd(mp, { lr: 0.1 }), { theta0: theta, epochs: 1, hyperSteps: 1, ...o }),
  },
  // solvers (bindings/solvers/*)
  { export: 'cg', name: 'cg', call: (o) => api.cg(op, b, { damping: 0.1, tol: 1e-8, ...o }) },
  { export: 'lanczos', name: 'lanczos', call: (o) => api.lanczos(op, { steps: 2, seed: 1, ...o }) },
  { export: 'topEigenvalues', name: 'topEigenvalues', call: (o) => api.topEigenvalues(op, { k: 1, ...o }) },
  { export: 'spectralDensity', name: 'spectralDensity', call: (o) => api.spectralDensity(op, { probes: 1, steps: 2, ...o }) },
  { export: 'traceEstimate', name: 'traceEstimate', call: (o) => api.traceEstimate(op, { probes: 2, ...o }) },
  { export: 'diagonalEstimate', name: 'diagonalEstimate', call: (o) => api.diagonalEstimate(op, { probes: 2, ...o }) },
  {
    export: 'kfacInverse',
    name: 'kfacInverse',
    call: (o) => {
      const f = mp.fisher(theta, { structure: 'kfac' });
      try {
        return api.kfacInverse(f, model.groups, { damping: 1e-2, ...o });
      } finally {
        release(f);
      }
    },
  },
];

/**
 * Runtime exports of bindings/index.ts that take no options object (or none a user passes:
 * classes made by other functions, constants, errors). Every function export is either here or
 * covers a row of {@link ROWS}.
 */
const NO_OPTIONS = new Set([
  // core: loading state, classes and errors
  'core',
  'currentVariant',
  'currentThreads',
  'supportsRelaxedSimd',
  'supportsSimd',
  'binaryUrl',
  'Core',
  'ThreadError',
  'ThreadPool',
  'sharedMemoryAvailable',
  'NotPositiveDefiniteError',
  'DataFormatError',
  'DisposedError',
  'DtypeMismatchError',
  'NonFiniteLossError',
  'IllConditionedError',
  'UnknownOptionError',
  'ConvergenceError',
  // linear algebra: arrays only
  'Matrix',
  'gram',
  'outerProducts',
  'cosine',
  // models
  'MlpModel',
  'modelSpec',
  // layers without options (a name, or nothing)
  'flatten',
  'activation',
  'relu',
  'tanh',
  'sigmoid',
  'softplus',
  'gelu',
  'globalAvgPool2d',
  // random numbers and data: a seed, a name, a path, text
  'numpyRandomState',
  'NumpyRandomState',
  'rng',
  'Xoshiro256',
  'parseUci',
  'loadUci',
  'loadPaperDataset',
  'addBias',
  'toDense',
  'parseIdx',
  // grid, operators, solvers, optimizers: positional arguments only
  'paperGrid',
  'factoredDamping',
  'dampedDiagonal',
  'batchSchedule',
]);

const functionExports = Object.entries(api)
  .filter(([, v]) => typeof v === 'function')
  .map(([k]) => k)
  .sort();

/** The parameter names of a function or method, from its source (`options`, `{ … }` for a destructured object). */
function parameterNames(fn: (...a: never[]) => unknown): string[] {
  const src = Function.prototype.toString.call(fn);
  const open = src.indexOf('(');
  if (open < 0) return [];
  let depth = 0,
    close = open;
  for (; close < src.length; close++) {
    const c = src[close];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth === 0) break;
    }
  }
  const params: string[] = [];
  let cur = '';
  depth = 0;
  for (const c of src.slice(open + 1, close)) {
    if (c === '(' || c === '{' || c === '[') depth++;
    if (c === ')' || c === '}' || c === ']') depth--;
    if (c === ',' && depth === 0) {
      params.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) params.push(cur.trim());
  return params.map((p) => (p.startsWith('{') ? '{…}' : (/^(?:\.\.\.)?([\w$]+)/.exec(p)?.[1] ?? p)));
}

const takesOptions = (fn: (...a: never[]) => unknown): boolean => parameterNames(fn).some((p) => p === 'options' || p === 'settings' || p === '{…}');

/** Every function and public method (static or prototype) of the exports whose source has an options parameter, as `export` or `export.method`. */
function optionTakers(): string[] {
  const out: string[] = [];
  for (const name of functionExports) {
    const v = (api as Record<string, unknown>)[name] as (...a: never[]) => unknown;
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(v));
    if (!isClass) {
      if (takesOptions(v)) out.push(name);
      continue;
    }
    const seen = new Set<string>();
    for (let proto = v.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const m of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, m)!;
        if (m === 'constructor' || seen.has(m) || typeof d.value !== 'function') continue;
        seen.add(m);
        if (takesOptions(d.value as (...a: never[]) => unknown)) out.push(`${name}.${m}`);
      }
    }
    for (const m of Object.getOwnPropertyNames(v)) {
      const d = Object.getOwnPropertyDescriptor(v, m)!;
      if (typeof d.value === 'function' && takesOptions(d.value as (...a: never[]) => unknown)) out.push(`${name}.${m}`);
    }
  }
  return out;
}

test('coverage: every function export is in the table or in NO_OPTIONS (not both, no stale names)', () => {
  const inTable = new Set(ROWS.map((r) => r.export));
  const missing = functionExports.filter((k) => !inTable.has(k) && !NO_OPTIONS.has(k));
  assert.equal(missing, [], `exports with neither a row nor a NO_OPTIONS entry: ${missing.join(', ')}`);
  const both = [...NO_OPTIONS].filter((k) => inTable.has(k));
  assert.equal(both, [], `in the table and in NO_OPTIONS: ${both.join(', ')}`);
  const stale = [...NO_OPTIONS, ...inTable].filter((k) => !functionExports.includes(k));
  assert.equal(stale, [], `names that are not function exports: ${stale.join(', ')}`);
});

test('coverage: every exported function and public method with an options parameter has a row', () => {
  // The parser itself, on shapes whose answer is known.
  assert.equal(
    parameterNames(function f(a: number, options = { x: Math.max(1, 2), y: [3, 4] }) {
      return [a, options];
    } as never),
    ['a', 'options'],
  );
  assert.equal(parameterNames((({ a }: { a: number }, ...rest: number[]) => [a, rest]) as never), ['{…}', 'rest']);
  const takers = optionTakers();
  // Known takers prove that the scan sees functions, async functions and prototype methods.
  for (const known of ['problem', 'gridSearch', 'loadDigits', 'SymMatrix.solve', 'LinearProblem.fisher', 'ModelProblem.fisherMC', 'CurvatureAccumulator.result']) {
    assert.ok(takers.includes(known), `the scan missed ${known} (found ${takers.join(', ')})`);
  }
  const covered = new Set(ROWS.flatMap((r) => [r.export, `${r.export}.${r.name.split('.').at(-1)}`]));
  const uncovered = takers.filter((t) => !covered.has(t));
  assert.equal(uncovered, [], `functions or methods with an options parameter but no row: ${uncovered.join(', ')}`);
});

for (const row of ROWS) {
  test(`${row.name} (${row.export}): a valid call works, an extra key is an UnknownOptionError naming it and the function`, async () => {
    if (!row.noValidCall) release(await row.call({}));
    let error: unknown;
    try {
      release(await row.call({ bogusOption: 1 }));
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, `${row.name} accepted { bogusOption: 1 }`);
    assert.instance(error, UnknownOptionError, `${row.name}: expected an UnknownOptionError, got ${String(error)}`);
    const e = error as UnknownOptionError;
    assert.instance(e, TypeError);
    assert.is(e.option, 'bogusOption');
    assert.ok(e.where.includes(row.name), `where = '${e.where}' does not name ${row.name}`);
    assert.ok(e.message.includes("'bogusOption'") && e.message.includes(row.name), e.message);
    assert.ok(e.valid.length === 0 || e.message.includes(`(valid: ${e.valid.join(', ')})`), e.message);
  });
}

// ---- messages: the nearest key, hints for misplaced keys, checked values ----

/** The error `fn` throws (or its promise rejects with). */
async function caught(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  return assert.unreachable('expected an error') as never;
}

test('a misspelt key names the nearest valid one: fisher(θ, { structre }) → did you mean structure', async () => {
  for (const p of [mp, lp]) {
    const th = p === mp ? theta : thetaL;
    const e = await caught(() => p.fisher(th, { structre: 'diagonal' } as never));
    assert.instance(e, UnknownOptionError);
    assert.match(e.message, "natgrad: fisher: unknown option 'structre' — did you mean 'structure'? (valid: structure, kfacApproximation, bias)");
    assert.is((e as UnknownOptionError).suggestion, 'structure');
  }
  const cases: [() => unknown, string, string][] = [
    [() => mp.fisherMC(theta, { sample: 3 } as never), 'fisherMC', "did you mean 'samples'"],
    [() => api.curvatureOperator(lp, thetaL, { kinds: 'ggn' } as never), 'curvatureOperator', "did you mean 'kind'"],
    [() => S.solve([1, 2], { dampng: 1 } as never), 'SymMatrix.solve', "did you mean 'damping'"],
    [() => mlp({ sizes: [2, 1], activaton: 'relu' } as never), 'mlp', "did you mean 'activation'"],
    [() => linearProblem({ X, y: yBin, likelihood: bernoulli(), priorVarience: 1 } as never), 'linearProblem', "did you mean 'priorVariance'"],
    [() => api.sineData({ N: 5 } as never), 'sineData', "did you mean 'n'"],
    [() => api.gridSearch({ problem: lp, lr: [0.1] } as never), 'gridSearch', "did you mean 'lrs'"],
    [() => api.init({ thread: 2 } as never), 'init', "did you mean 'threads'"],
  ];
  for (const [fn, where, text] of cases) {
    const e = await caught(fn);
    assert.instance(e, UnknownOptionError, `${where}: ${e.message}`);
    assert.ok(e.message.startsWith(`natgrad: ${where}: unknown option`) && e.message.includes(text), e.message);
  }
});

test('keys that belong elsewhere say where they go', async () => {
  const cases: [() => unknown, RegExp][] = [
    [() => mp.fisher(theta, { samples: 4 } as never), /unknown option 'samples' — samples is an option of fisherMC/],
    [() => lp.ggn(thetaL, { damping: 1 } as never), /unknown option 'damping' — .*C\.solve\(g, \{ damping \}\)/],
    [
      () => problem({ model, X, y: yBin, likelihood: categorical({ classes: 2 }), bias: true } as never),
      /problem: unknown option 'bias' — bias belongs to the model: linear\(\{ inputs, bias: true \}\)/,
    ],
    [() => problem({ model, X, y: yBin, likelihood: categorical({ classes: 2 }), lr: 0.1 } as never), /problem: unknown option 'lr' — lr is an optimizer option/],
    [() => gaussian({ sigma: 0.5 } as never), /gaussian: unknown option 'sigma' — gaussian takes the variance σ², not σ/],
    [() => L.solve([1, 2], { damping: 1 } as never), /CholeskyFactor\.solve: unknown option 'damping' — the damping of a factor is fixed when it is made/],
    [() => mlp({ sizes: [2, 1], hidden: [4] } as never), /mlp: unknown option 'hidden' — mlp takes every width in sizes/],
    [() => api.curvatureOperator(lp, thetaL, { structure: 'diagonal' } as never), /curvatureOperator: unknown option 'structure' — an operator is matrix-free/],
    [() => api.gridSearch({ problem: lp, lrs: [1], adam: { eps: 1 } } as never), /gridSearch: unknown option 'adam' — .*optimizerSettings: \{ adam/],
  ];
  for (const [fn, re] of cases) {
    const e = await caught(fn);
    assert.instance(e, UnknownOptionError, e.message);
    assert.match(e.message, re);
  }
});

test('structure and kind values: a RangeError listing the valid values, with the nearest one', async () => {
  for (const p of [mp, lp]) {
    const th = p === mp ? theta : thetaL;
    for (const call of [() => p.fisher(th, { structure: 'diag' as never }), () => p.fisherMC(th, { structure: 'diag' as never }), () => p.hessian(th, { structure: 'diag' as never })]) {
      const e = await caught(call);
      assert.instance(e, RangeError);
      assert.match(e.message, "structure must be 'dense', 'diagonal', 'block' or 'kfac', got 'diag' — did you mean 'diagonal'?");
    }
    const k = await caught(() => p.fisher(th, { structure: 'dense', kfacApproximation: 'reduce' }));
    assert.instance(k, RangeError);
    assert.match(k.message, "kfacApproximation and bias are options of the 'kfac' structure, not of 'dense'");
    const v = await caught(() => p.fisher(th, { structure: 'kfac', bias: 'both' as never }));
    assert.instance(v, RangeError);
    assert.match(v.message, "bias must be 'joint' or 'separate', got both");
  }
  const e = await caught(() => api.curvatureOperator(lp, thetaL, { kind: 'hesian' as never }));
  assert.instance(e, RangeError);
  assert.match(e.message, "kind must be 'ggn', 'fisher', 'hessian', 'empiricalFisher' or 'fisherMC', got 'hesian' — did you mean 'hessian'?");
});

test('options that are not an object and values of the wrong type are TypeErrors; an unknown model name a RangeError', async () => {
  const cases: [() => unknown, RegExp][] = [
    [() => lp.fisher(thetaL, 'diagonal' as never), /natgrad: fisher: options must be an object, got string/],
    [() => mp.perSampleGradients(theta, { resident: 'yes' } as never), /perSampleGradients: resident must be a boolean/],
    [() => S.solve([1, 2], [] as never), /SymMatrix\.solve: options must be an object, got an array/],
    [() => api.modelFromSpec({ name: 'cnn' } as never), /modelFromSpec: spec\.name must be 'linear', 'mlp' or 'sequential'/],
    [() => api.categorical(undefined as never), /categorical: options \{ classes \} are required/],
  ];
  for (const [fn, re] of cases) {
    const e = await caught(fn);
    assert.ok(e instanceof TypeError || e instanceof RangeError, String(e));
    assert.match(e.message, re);
  }
});

test('the options every caller in the package passes still work (curvatures inside optimizers and operators)', () => {
  // ngdMC and KFAC pass structure, samples, seed, kfacApproximation and bias to the builders; the
  // operators pass structure (and samples, seed) to the diagonal and dense builders.
  const o = api.curvatureOperator(mp, theta, { kind: 'fisherMC', samples: 2, seed: 5 });
  const d = o.diagonal();
  const F = mp.fisherMC(theta, { structure: 'diagonal', samples: 2, seed: 5 });
  assert.equal(Array.from(d), Array.from(F));
  const Ld = lp.fisher(thetaL, { structure: 'kfac', kfacApproximation: 'reduce', bias: 'separate' });
  assert.is(Ld.length, 1);
  release(Ld);
});

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
  lp.free();
  mp.free();
  L.free();
  S.free();
});

test.run();
