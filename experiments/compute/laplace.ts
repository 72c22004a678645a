/**
 * `laplace`: the paper's question asked of the Laplace approximation — does the empirical Fisher
 * (EF) make a worse posterior than the GGN (= the Fisher for these likelihoods) or its one-sample
 * Monte Carlo estimate? For three settings
 *
 * - `digits`: the MLP [64, 32, 10] (tanh) on a seeded train split of the 1797 digits (pixels / 16),
 *   tested on the rest; out of distribution (OOD): the test digits rotated by 90°;
 * - `fashion`: a small CNN (conv 6 × 5 × 5 stride 2, ReLU, max-pool 2, dense 10; D = 2326) on the
 *   first 2000 Fashion-MNIST training images, tested on the first 1000 test images; OOD: those
 *   rotated by 90°;
 * - `moons`: the MLP [2, 32, 32, 2] (tanh; [2, 16, 16, 2] with `--quick`) on two moons (noise 0.2, natgrad's seeded generator);
 *   OOD: points on a circle of radius 6 around the data (far outside it);
 *
 * each network is trained to its MAP θ* (full-batch Adam; categorical likelihood, mean reduction,
 * Gaussian prior of variance σp² = 1, i.e. prior precision δ0 = 1), and then, for each curvature
 * (`'ggn'`, `'fisherMC'` with one sample per point, `'empiricalFisher'`) and structure (`'full'`
 * when D ≤ {@link FULL_MAX_DIM}, `'kfac'`, `'diagonal'`), natgrad's {@link laplace} posterior over
 * all weights is built at θ*, its scalar prior precision is optimized by the marginal likelihood
 * (`optimizePriorPrecision({ method: 'marglik', structure: 'scalar' })`, Newton on log δ from δ0
 * to convergence), and its GLM predictive with the probit link is scored on the test set:
 * accuracy, negative log-likelihood (mean over points), expected calibration error (15 equal-width
 * confidence bins), the mean predictive entropy in and out of distribution, and the AUROC of the
 * maximum probability for telling in-distribution (positive) from OOD inputs. The MAP network
 * (softmax of f(x; θ*)) is the baseline row.
 *
 * Pure computation (no Node API): the data come in as matrices ({@link laplaceSettingData} builds
 * a setting from them; `reproduce.ts` loads the files).
 *
 * @module
 */
import { adam, categorical, conv2d, dense, flatten, laplace, maxPool2d, mlp, problem, relu, rng, sequential, type DenseMatrix, type Model, type Problem } from 'natgrad';
import { outputs, type Progress } from './lib.js';

export const LAPLACE_SETTINGS = ['digits', 'fashion', 'moons'] as const;
export type LaplaceSettingName = (typeof LAPLACE_SETTINGS)[number];
export const LAPLACE_CURVATURES = ['ggn', 'fisherMC', 'empiricalFisher'] as const;
export type LaplaceCurvature = (typeof LAPLACE_CURVATURES)[number];
export const LAPLACE_STRUCTURES = ['full', 'kfac', 'diagonal'] as const;
export type LaplaceStructure = (typeof LAPLACE_STRUCTURES)[number];
/** The curvatures' names in the summary and the figure. */
export const CURVATURE_LABEL: Record<LaplaceCurvature, string> = { ggn: 'GGN', fisherMC: 'MC Fisher', empiricalFisher: 'EF' };

/**
 * `'full'` posteriors only up to this many parameters (a D × D Cholesky per evidence value and a
 * D × D inverse per gradient); `--quick` lowers it to {@link FULL_MAX_DIM_QUICK}.
 */
export const FULL_MAX_DIM = 3000;
export const FULL_MAX_DIM_QUICK = 1000;
/** Equal-width confidence bins of the ECE. */
export const ECE_BINS = 15;
/** Test points per predictive call (bounds the n·M × D Jacobian held at once). */
const CHUNK = 100;

/** Scores of one predictive on one setting's test and OOD inputs. */
export interface LaplaceMetrics {
  /** fraction of test points whose most probable class is the label */
  accuracy: number;
  /** −(1/n) Σ log p(y_i | x_i) */
  nll: number;
  /** expected calibration error, {@link ECE_BINS} bins of the maximum probability */
  ece: number;
  /** mean entropy (nats) of the test predictives */
  entropyIn: number;
  /** mean entropy (nats) of the OOD predictives */
  entropyOod: number;
  /** AUROC of the maximum probability, test (positive) vs OOD (negative); 0.5 = no separation */
  aurocMaxProb: number;
  /** max over test and OOD points of |Σ_c p_c − 1| (the predictive is a distribution) */
  maxSumError: number;
}

/** One row: the MAP network or one Laplace posterior. */
export interface LaplaceRow {
  method: 'MAP' | 'Laplace';
  curvature: LaplaceCurvature | null;
  structure: LaplaceStructure | null;
  /** the marglik-optimal scalar δ (MAP: δ0, the prior the network was trained with) */
  priorPrecision: number;
  /** log Z at the optimum (MAP: null) */
  logMarginalLikelihood: number | null;
  /** log Z at δ0, before the optimization (MAP: null) */
  logMarginalLikelihoodAtPrior: number | null;
  /** Newton iterations and convergence of the prior optimization (MAP: null) */
  iterations: number | null;
  converged: boolean | null;
  metrics: LaplaceMetrics;
  /** wall-clock seconds of building, optimizing and predicting (MAP: prediction only) */
  seconds: number;
}

export interface LaplacePanel {
  name: LaplaceSettingName;
  title: string;
  model: string;
  N: number;
  Ntest: number;
  Nood: number;
  classes: number;
  D: number;
  ood: string;
  train: { iterations: number; lr: number; lossInitial: number; lossFinal: number; gradNorm: number; status: string; accuracy: number };
  /** structures left out and why (`'full'` above {@link FULL_MAX_DIM}) */
  skipped: string[];
  rows: LaplaceRow[];
}

export interface LaplaceResult {
  settings: ReturnType<typeof laplaceSettings>;
  panels: LaplacePanel[];
  partial: boolean;
}

/** One setting's data, model and training recipe. */
export interface LaplaceSettingData {
  name: LaplaceSettingName;
  title: string;
  modelLabel: string;
  makeModel: () => Model<'float64'> & { init(seed?: number): Float64Array };
  classes: number;
  X: DenseMatrix;
  y: Float64Array;
  Xtest: DenseMatrix;
  ytest: Float64Array;
  Xood: DenseMatrix;
  ood: string;
  iterations: number;
  lr: number;
}

export function laplaceSettings(quick: boolean) {
  return {
    priorVariance: 1,
    eceBins: ECE_BINS,
    fullMaxDim: quick ? FULL_MAX_DIM_QUICK : FULL_MAX_DIM,
    link: 'probit' as const,
    fisherMC: { samples: 1, seed: 0 },
    optimize: { method: 'marglik' as const, structure: 'scalar' as const },
    digits: { train: quick ? 150 : 1200, test: quick ? 100 : 597, iterations: quick ? 60 : 1500, lr: 1e-2 },
    fashion: { train: quick ? 120 : 2000, test: quick ? 60 : 1000, iterations: quick ? 30 : 600, lr: 3e-3 },
    moons: { train: quick ? 100 : 300, test: quick ? 100 : 500, ood: quick ? 50 : 200, hidden: quick ? 16 : 32, iterations: quick ? 100 : 2000, lr: 1e-2 },
  };
}

// ---------------------------------------------------------------------------------------------
// Data

function rows(X: DenseMatrix, idx: readonly number[]): DenseMatrix {
  const d = X.cols,
    out = new Float64Array(idx.length * d);
  idx.forEach((r, i) => out.set(X.data.subarray(r * d, (r + 1) * d), i * d));
  return { data: out, rows: idx.length, cols: d };
}

/** A seeded permutation of 0..n−1 (Fisher–Yates on natgrad's xoshiro256**). */
export function permutation(n: number, seed: number): number[] {
  const g = rng(seed),
    p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(g.uniform() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Square images (one per row, side × side, row-major) rotated by 90° counter-clockwise. */
export function rotate90(X: DenseMatrix, side: number): DenseMatrix {
  if (X.cols !== side * side) throw new RangeError(`laplace: rotate90: rows of ${X.cols} values are not ${side} × ${side} images`);
  const out = new Float64Array(X.data.length);
  for (let n = 0; n < X.rows; n++) {
    const o = n * X.cols;
    for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) out[o + (side - 1 - c) * side + r] = X.data[o + r * side + c]!;
  }
  return { data: out, rows: X.rows, cols: X.cols };
}

/** Two interleaved half circles (scikit-learn's `make_moons` geometry), Gaussian noise, shuffled. */
export function twoMoons(n: number, noise: number, seed: number): { X: DenseMatrix; y: Float64Array } {
  const g = rng(seed);
  const X = new Float64Array(2 * n),
    y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2,
      t = Math.PI * g.uniform();
    X[2 * i] = (c === 0 ? Math.cos(t) : 1 - Math.cos(t)) + noise * g.normal();
    X[2 * i + 1] = (c === 0 ? Math.sin(t) : 0.5 - Math.sin(t)) + noise * g.normal();
    y[i] = c;
  }
  return { X: { data: X, rows: n, cols: 2 }, y };
}

/** n points evenly spaced on a circle of the given radius around (0.5, 0.25), the moons' centre. */
export function ring(n: number, radius: number): DenseMatrix {
  const X = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    X[2 * i] = 0.5 + radius * Math.cos(a);
    X[2 * i + 1] = 0.25 + radius * Math.sin(a);
  }
  return { data: X, rows: n, cols: 2 };
}

/** The digits setting from the 1797 digits (X 0–16): pixels / 16, a seeded split. */
export function digitsSetting(digits: { X: DenseMatrix; y: Float64Array }, quick: boolean, seed = 0): LaplaceSettingData {
  const s = laplaceSettings(quick).digits;
  const X = { ...digits.X, data: digits.X.data.map((v) => v / 16) };
  const perm = permutation(X.rows, seed);
  const tr = perm.slice(0, s.train),
    te = perm.slice(s.train, s.train + s.test);
  const Xtest = rows(X, te);
  return {
    name: 'digits',
    title: `digits, MLP [64, 32, 10] tanh (N = ${tr.length}, ${te.length} test)`,
    modelLabel: 'mlp [64, 32, 10] tanh',
    makeModel: () => mlp({ sizes: [64, 32, 10], activation: 'tanh' }),
    classes: 10,
    X: rows(X, tr),
    y: Float64Array.from(tr, (i) => digits.y[i]!),
    Xtest,
    ytest: Float64Array.from(te, (i) => digits.y[i]!),
    Xood: rotate90(Xtest, 8),
    ood: 'the test digits rotated by 90°',
    iterations: s.iterations,
    lr: s.lr,
  };
}

/** The Fashion-MNIST setting from a training and a test set (28 × 28, pixels in [0, 1]). */
export function fashionSetting(train: { X: DenseMatrix; y: Float64Array }, test: { X: DenseMatrix; y: Float64Array }, quick: boolean): LaplaceSettingData {
  const s = laplaceSettings(quick).fashion;
  const tr = Array.from({ length: Math.min(s.train, train.X.rows) }, (_, i) => i);
  const te = Array.from({ length: Math.min(s.test, test.X.rows) }, (_, i) => i);
  const Xtest = rows(test.X, te);
  return {
    name: 'fashion',
    title: `Fashion-MNIST, CNN (N = ${tr.length}, ${te.length} test)`,
    modelLabel: 'conv2d(6, 5×5, stride 2) → relu → maxPool2d(2) → flatten → dense(10)',
    makeModel: () => sequential({ input: [1, 28, 28], layers: [conv2d({ out: 6, kernel: 5, stride: 2 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: 10 })] }),
    classes: 10,
    X: rows(train.X, tr),
    y: Float64Array.from(tr, (i) => train.y[i]!),
    Xtest,
    ytest: Float64Array.from(te, (i) => test.y[i]!),
    Xood: rotate90(Xtest, 28),
    ood: 'the test images rotated by 90°',
    iterations: s.iterations,
    lr: s.lr,
  };
}

/** The two-moons setting (seeded). */
export function moonsSetting(quick: boolean, seed = 0): LaplaceSettingData {
  const s = laplaceSettings(quick).moons;
  const train = twoMoons(s.train, 0.2, seed),
    test = twoMoons(s.test, 0.2, seed + 1);
  const sizes = [2, s.hidden, s.hidden, 2];
  return {
    name: 'moons',
    title: `two moons, MLP ${JSON.stringify(sizes).replaceAll(',', ', ')} tanh (N = ${s.train}, ${s.test} test)`,
    modelLabel: `mlp ${JSON.stringify(sizes).replaceAll(',', ', ')} tanh`,
    makeModel: () => mlp({ sizes, activation: 'tanh' }),
    classes: 2,
    X: train.X,
    y: train.y,
    Xtest: test.X,
    ytest: test.y,
    Xood: ring(s.ood, 6),
    ood: 'points on a circle of radius 6 around the moons',
    iterations: s.iterations,
    lr: s.lr,
  };
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** Row-wise softmax of n × C logits. */
export function softmaxRows(f: Float64Array, C: number): Float64Array {
  const out = new Float64Array(f.length);
  for (let o = 0; o < f.length; o += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, f[o + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += out[o + c] = Math.exp(f[o + c]! - m);
    for (let c = 0; c < C; c++) out[o + c]! /= s;
  }
  return out;
}

function argmax(p: Float64Array, o: number, C: number): number {
  let a = 0;
  for (let c = 1; c < C; c++) if (p[o + c]! > p[o + a]!) a = c;
  return a;
}

/**
 * Expected calibration error: the test points binned by their confidence max_c p_c into `bins`
 * equal-width bins of (0, 1] (bin b holds (b/B, (b+1)/B]), ECE = Σ_b (n_b/n) |acc_b − conf_b|.
 */
export function expectedCalibrationError(P: Float64Array, C: number, y: ArrayLike<number>, bins = ECE_BINS): number {
  const n = y.length;
  const count = new Float64Array(bins),
    conf = new Float64Array(bins),
    hit = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const a = argmax(P, i * C, C),
      c = P[i * C + a]!;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
    count[b]!++;
    conf[b]! += c;
    if (a === y[i]) hit[b]!++;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) e += Math.abs(hit[b]! - conf[b]!) / n;
  return e;
}

/** Mean entropy −Σ_c p_c log p_c (nats) of the rows of P. */
export function meanEntropy(P: Float64Array, C: number): number {
  const n = P.length / C;
  let s = 0;
  for (let i = 0; i < P.length; i++) if (P[i]! > 0) s -= P[i]! * Math.log(P[i]!);
  return s / n;
}

/**
 * AUROC of a score that should be higher for positives: P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) over all
 * positive–negative pairs (the Mann–Whitney statistic, ties by mid-ranks).
 */
export function auroc(positive: readonly number[], negative: readonly number[]): number {
  const all = [...positive.map((s) => ({ s, pos: true })), ...negative.map((s) => ({ s, pos: false }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const mid = (i + 1 + j) / 2; // mean of the ranks i+1..j
    for (let k = i; k < j; k++) if (all[k]!.pos) rankSum += mid;
    i = j;
  }
  const P = positive.length,
    N = negative.length;
  return (rankSum - (P * (P + 1)) / 2) / (P * N);
}

function maxProbs(P: Float64Array, C: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < P.length; o += C) out.push(P[o + argmax(P, o, C)]!);
  return out;
}

function sumError(P: Float64Array, C: number): number {
  let e = 0;
  for (let o = 0; o < P.length; o += C) {
    let s = 0;
    for (let c = 0; c < C; c++) s += P[o + c]!;
    e = Math.max(e, Math.abs(s - 1));
  }
  return e;
}

/** Every metric of one predictive, from the test probabilities (with labels) and the OOD ones. */
export function metrics(Ptest: Float64Array, ytest: ArrayLike<number>, Pood: Float64Array, C: number): LaplaceMetrics {
  const n = ytest.length;
  let ok = 0,
    nll = 0;
  for (let i = 0; i < n; i++) {
    if (argmax(Ptest, i * C, C) === ytest[i]) ok++;
    nll -= Math.log(Ptest[i * C + ytest[i]!]!) / n;
  }
  return {
    accuracy: ok / n,
    nll,
    ece: expectedCalibrationError(Ptest, C, ytest),
    entropyIn: meanEntropy(Ptest, C),
    entropyOod: meanEntropy(Pood, C),
    aurocMaxProb: auroc(maxProbs(Ptest, C), maxProbs(Pood, C)),
    maxSumError: Math.max(sumError(Ptest, C), sumError(Pood, C)),
  };
}

/** `predict` in chunks of {@link CHUNK} rows (n × C probabilities). */
function predictChunked(predict: (X: DenseMatrix) => Float64Array, X: DenseMatrix): Float64Array {
  const parts: Float64Array[] = [];
  for (let r = 0; r < X.rows; r += CHUNK) {
    const m = Math.min(CHUNK, X.rows - r);
    parts.push(predict({ data: X.data.subarray(r * X.cols, (r + m) * X.cols), rows: m, cols: X.cols }));
  }
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The experiment

/** Laplace rows (curvature × structure) a setting of dimension D runs (`'full'` only for D ≤ fullMaxDim). */
export function laplaceConfigs(D: number, fullMaxDim = FULL_MAX_DIM): { curvature: LaplaceCurvature; structure: LaplaceStructure }[] {
  return LAPLACE_CURVATURES.flatMap((curvature) => LAPLACE_STRUCTURES.filter((s) => s !== 'full' || D <= fullMaxDim).map((structure) => ({ curvature, structure })));
}

/** Units of progress of one setting: training, the MAP row and each Laplace row. */
export function laplaceUnits(): number {
  return 2 + LAPLACE_CURVATURES.length * LAPLACE_STRUCTURES.length;
}

/**
 * One setting: train to the MAP, then the MAP row and one row per curvature × structure.
 * `onProgress` counts {@link laplaceUnits} units (a `'full'` row skipped for D > FULL_MAX_DIM
 * still counts).
 */
export function laplacePanel(data: LaplaceSettingData, quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: (done: number) => void): LaplacePanel {
  const s = laplaceSettings(quick);
  const C = data.classes;
  const model = data.makeModel();
  const p: Problem = problem({ model, X: data.X, y: data.y, likelihood: categorical({ classes: C }), priorVariance: s.priorVariance });
  const delta0 = 1 / s.priorVariance;
  let done = 0;
  const tick = () => onProgress?.(++done);
  try {
    const rec = adam(p, { lr: data.lr }).run(model.init(seed), { iterations: data.iterations });
    const theta = rec.theta;
    const trainP = softmaxRows(outputs(p, data.X, theta), C);
    let trainOk = 0;
    for (let i = 0; i < data.X.rows; i++) if (argmax(trainP, i * C, C) === data.y[i]) trainOk++;
    tick();
    const rowsOut: LaplaceRow[] = [];
    let t0 = performance.now();
    const mapPredict = (X: DenseMatrix) => softmaxRows(outputs(p, X, theta), C);
    rowsOut.push({
      method: 'MAP',
      curvature: null,
      structure: null,
      priorPrecision: delta0,
      logMarginalLikelihood: null,
      logMarginalLikelihoodAtPrior: null,
      iterations: null,
      converged: null,
      metrics: metrics(predictChunked(mapPredict, data.Xtest), data.ytest, predictChunked(mapPredict, data.Xood), C),
      seconds: (performance.now() - t0) / 1000,
    });
    tick();
    const configs = laplaceConfigs(p.dim, s.fullMaxDim);
    const skipped = p.dim > s.fullMaxDim ? [`full: D = ${p.dim} > ${s.fullMaxDim}`] : [];
    for (const { curvature, structure } of configs) {
      if (signal?.aborted) throw signal.reason;
      t0 = performance.now();
      const la = laplace(p, theta, {
        structure,
        curvature,
        priorPrecision: delta0,
        ...(curvature === 'fisherMC' ? s.fisherMC : {}),
        ...(structure === 'kfac' && data.name === 'fashion' ? { kfacApproximation: 'expand' as const } : {}),
      });
      try {
        const atPrior = la.logMarginalLikelihood();
        const opt = la.optimizePriorPrecision(s.optimize);
        const predict = (X: DenseMatrix) => (la.predict(X, { link: s.link }) as DenseMatrix).data;
        const m = metrics(predictChunked(predict, data.Xtest), data.ytest, predictChunked(predict, data.Xood), C);
        rowsOut.push({
          method: 'Laplace',
          curvature,
          structure,
          priorPrecision: opt.priorPrecision as number,
          logMarginalLikelihood: opt.logMarginalLikelihood,
          logMarginalLikelihoodAtPrior: atPrior,
          iterations: opt.iterations,
          converged: opt.converged,
          metrics: m,
          seconds: (performance.now() - t0) / 1000,
        });
      } finally {
        la.free();
      }
      tick();
    }
    return {
      name: data.name,
      title: data.title,
      model: data.modelLabel,
      N: data.X.rows,
      Ntest: data.Xtest.rows,
      Nood: data.Xood.rows,
      classes: C,
      D: p.dim,
      ood: data.ood,
      train: {
        iterations: data.iterations,
        lr: data.lr,
        lossInitial: rec.losses[0]!,
        lossFinal: rec.losses.at(-1)!,
        gradNorm: rec.gradNorms.at(-1)!,
        status: rec.status,
        accuracy: trainOk / data.X.rows,
      },
      skipped,
      rows: rowsOut,
    };
  } finally {
    p.free();
  }
}

/** The experiment over the given settings (in order); `onProgress` over all of them. */
export function laplaceExperiment(settings: readonly LaplaceSettingData[], quick: boolean, seed = 0, signal?: AbortSignal, onProgress?: Progress, onPanel?: (r: LaplaceResult) => void): LaplaceResult {
  const total = settings.length * laplaceUnits();
  const r: LaplaceResult = { settings: laplaceSettings(quick), panels: [], partial: true };
  settings.forEach((d, k) => {
    const base = k * laplaceUnits();
    r.panels.push(laplacePanel(d, quick, seed, signal, (done) => onProgress?.({ done: base + done, total })));
    onPanel?.(r);
  });
  onProgress?.({ done: total, total });
  return { ...r, partial: false };
}
