// laplace(problem, θ*, { batchSize }): H and Σ_n ℓ_n accumulated over consecutive row chunks
// through the problem's mini-batch views must give the posterior of the whole problem at once —
// log det P, log Z, log p(D | θ*) and the functional variance to ≤ 1e-12 relative (sums of the same
// per-sample terms in another order) — for each structure, subset and curvature, on a small MLP
// and a small CNN (conv2d → relu → maxPool2d → flatten → dense), with N = 37 (chunks of 7 and 16
// leave a short last chunk). 'fisherMC' draws per chunk from seed + c: deterministic, not the
// unbatched draws. batchSize ≥ N is the unbatched code path, bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { categorical, conv2d, dense, flatten, gaussian, maxPool2d, mlp, problem, type Problem, relu, sequential } from '../../bindings/index.js';
import { type Laplace, type LaplaceOptions, laplace } from '../../bindings/laplace/index.js';
import { core, randomMatrix } from '../helpers.js';

const N = 37;
const TOL = 1e-12;

function classes(X: Float64Array, d: number): Float64Array {
  return Float64Array.from({ length: N }, (_, n) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += X[n * d + j]! * (j % 3 === 0 ? 1 : -0.5);
    return s > 0.3 ? 2 : s > -0.2 ? 1 : 0;
  });
}

/** MLP 2 → 5 → 3, categorical, with a prior in the problem (the views' prior σp²·N/B must not leak into H or Σ ℓ_n). */
function mlpCase(): { p: Problem; theta: Float64Array; Xt: Float64Array } {
  const model = mlp({ sizes: [2, 5, 3], activation: 'tanh', core });
  const X = randomMatrix(N, 2, 7);
  const p = problem({ model, X: { data: X, rows: N, cols: 2 }, y: classes(X, 2), likelihood: categorical({ classes: 3 }), priorVariance: 3 });
  return { p, theta: model.init(3), Xt: randomMatrix(4, 2, 11) };
}

/** MLP 2 → 4 → 2, Gaussian (the variance enters H as v, or v² for the empirical Fisher). */
function regressionCase(): { p: Problem; theta: Float64Array; Xt: Float64Array } {
  const model = mlp({ sizes: [2, 4, 2], activation: 'tanh', core });
  const X = randomMatrix(N, 2, 5);
  const Y = Float64Array.from({ length: N * 2 }, (_, i) => Math.sin(X[Math.floor(i / 2) * 2]! + i));
  const p = problem({ model, X: { data: X, rows: N, cols: 2 }, y: { data: Y, rows: N, cols: 2 }, likelihood: gaussian({ variance: 0.3, outputs: 2 }) });
  return { p, theta: model.init(2), Xt: randomMatrix(3, 2, 13) };
}

/** conv2d(1→3, 3×3, padding 1) → relu → maxPool2d 2 → flatten → dense(27→3) on 1 × 6 × 6 images. */
function cnnCase(): { p: Problem; theta: Float64Array; Xt: Float64Array } {
  const model = sequential({ input: [1, 6, 6], layers: [conv2d({ out: 3, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: 3 })], core });
  const X = randomMatrix(N, 36, 17);
  const p = problem({ model, X: { data: X, rows: N, cols: 36 }, y: classes(X, 36), likelihood: categorical({ classes: 3 }), priorVariance: 10 });
  return { p, theta: model.init(1), Xt: randomMatrix(3, 36, 19) };
}

const CASES = { mlp: mlpCase, regression: regressionCase, cnn: cnnCase };

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

/** max_i |a_i − b_i| / max_i |b_i|. */
function relVec(a: Float64Array, b: Float64Array): number {
  assert.is(a.length, b.length);
  let d = 0,
    m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

function compare(la: Laplace, ref: Laplace, Xt: Float64Array, cols: number, what: string, tol = TOL): void {
  const X = { data: Xt, rows: Xt.length / cols, cols };
  const checks: [string, number][] = [
    ['log p(D | θ*)', rel(la.logLikelihood, ref.logLikelihood)],
    ['log det P', rel(la.logDetPosteriorPrecision(), ref.logDetPosteriorPrecision())],
    ['log Z', rel(la.logMarginalLikelihood(), ref.logMarginalLikelihood())],
    ['log Z at δ = 7', rel(la.logMarginalLikelihood({ priorPrecision: 7 }), ref.logMarginalLikelihood({ priorPrecision: 7 }))],
    ['diag P', relVec(la.posteriorPrecisionDiagonal(), ref.posteriorPrecisionDiagonal())],
    ['functional variance', relVec(la.functionalVariance(X), ref.functionalVariance(X))],
  ];
  for (const [name, r] of checks) assert.ok(r <= tol, `${what}: ${name} differs by ${r.toExponential(2)} relative (tolerance ${tol})`);
}

type Config = { name: string; cases: (keyof typeof CASES)[]; options: LaplaceOptions };
const CONFIGS: Config[] = [];
for (const curvature of ['ggn', 'empiricalFisher'] as const)
  for (const subset of ['all', 'lastLayer'] as const) {
    for (const structure of ['full', 'diagonal'] as const)
      CONFIGS.push({ name: `${structure}/${subset}/${curvature}`, cases: ['mlp', 'regression', 'cnn'], options: { structure, subset, curvature } });
    CONFIGS.push({ name: `kfac/${subset}/${curvature}`, cases: ['mlp', 'regression', 'cnn'], options: { structure: 'kfac', subset, curvature } });
    CONFIGS.push({ name: `kfac separate/${subset}/${curvature}`, cases: ['cnn'], options: { structure: 'kfac', bias: 'separate', subset, curvature } });
    CONFIGS.push({ name: `kfac reduce separate/${subset}/${curvature}`, cases: ['cnn'], options: { structure: 'kfac', kfacApproximation: 'reduce', bias: 'separate', subset, curvature } });
  }
CONFIGS.push({ name: 'full/indices/ggn', cases: ['mlp', 'cnn'], options: { structure: 'full', subset: [0, 3, 5, 11, 20, 2] } });
CONFIGS.push({ name: 'diagonal/indices/empiricalFisher', cases: ['mlp', 'cnn'], options: { structure: 'diagonal', subset: [7, 1, 4, 30], curvature: 'empiricalFisher' } });

for (const cfg of CONFIGS)
  for (const name of cfg.cases)
    test(`laplace batchSize: ${name} ${cfg.name} with batchSize 7 and 16 equals the whole data`, () => {
      const { p, theta, Xt } = CASES[name]();
      const cols = p.model.inputs;
      const ref = laplace(p, theta, { ...cfg.options, priorPrecision: 0.5 });
      for (const batchSize of [7, 16]) {
        const la = laplace(p, theta, { ...cfg.options, priorPrecision: 0.5, batchSize });
        compare(la, ref, Xt, cols, `${name} ${cfg.name} B = ${batchSize}`);
        la.free();
      }
      ref.free();
      p.free();
    });

test('laplace batchSize: lowRank sums the chunks’ curvature products (same top eigenpairs)', () => {
  const { p, theta, Xt } = mlpCase();
  const ref = laplace(p, theta, { structure: 'lowRank', rank: 4 });
  const la = laplace(p, theta, { structure: 'lowRank', rank: 4, batchSize: 16 });
  // Lanczos stops at a residual of 1e-10 · |λ|: the eigenpairs agree to that order, not to rounding
  compare(la, ref, Xt, 2, 'lowRank B = 16', 1e-8);
  p.free();
});

test('laplace batchSize ≥ N: the unbatched code path, bit for bit', () => {
  const { p, theta, Xt } = cnnCase();
  const X = { data: Xt, rows: 3, cols: 36 };
  for (const options of [{ structure: 'kfac' }, { structure: 'diagonal', curvature: 'fisherMC', seed: 3 }, { structure: 'full', subset: 'lastLayer' }] as LaplaceOptions[]) {
    const ref = laplace(p, theta, options);
    for (const batchSize of [N, N + 100]) {
      const la = laplace(p, theta, { ...options, batchSize });
      assert.ok(Object.is(la.logMarginalLikelihood(), ref.logMarginalLikelihood()), `${JSON.stringify(options)} B = ${batchSize}: log Z`);
      assert.equal(la.functionalVariance(X), ref.functionalVariance(X));
      la.free();
    }
    ref.free();
  }
  p.free();
});

test('laplace batchSize: fisherMC draws per chunk from seed + c — deterministic, seed-dependent, and near the GGN', () => {
  const { p, theta, Xt } = mlpCase();
  const X = { data: Xt, rows: 4, cols: 2 };
  for (const structure of ['diagonal', 'kfac', 'full'] as const) {
    const opts = { structure, curvature: 'fisherMC', samples: 50, batchSize: 7 } as const;
    const a = laplace(p, theta, { ...opts, seed: 5 });
    const b = laplace(p, theta, { ...opts, seed: 5 });
    const c = laplace(p, theta, { ...opts, seed: 6 });
    assert.ok(Object.is(a.logMarginalLikelihood(), b.logMarginalLikelihood()), `${structure}: same seed, same log Z`);
    assert.equal(a.functionalVariance(X), b.functionalVariance(X));
    assert.ok(a.logDetPosteriorPrecision() !== c.logDetPosteriorPrecision(), `${structure}: another seed, other draws`);
    // chunk c of B = 7 draws its first sample as the unbatched draw of seed + c does on the chunk's own
    // rows: check the sum against the exact Fisher (the GGN), 50 samples a point → a few % on log det
    const g = laplace(p, theta, { structure, batchSize: 7 });
    const r = rel(a.logDetPosteriorPrecision(), g.logDetPosteriorPrecision());
    assert.ok(r < 0.05, `${structure}: MC log det ${a.logDetPosteriorPrecision()} vs GGN ${g.logDetPosteriorPrecision()} (rel. ${r.toExponential(2)})`);
    for (const x of [a, b, c, g]) x.free();
  }
  p.free();
});

test('laplace batchSize: chunk c of a fisherMC build is the view’s fisherMC with seed + c', () => {
  const { p, theta } = mlpCase();
  const la = laplace(p, theta, { structure: 'diagonal', curvature: 'fisherMC', seed: 2, batchSize: 16 });
  // rebuild by hand: Σ_c B_c · diag(view_c.fisherMC(θ, seed 2 + c))
  const H = new Float64Array(p.dim);
  [0, 16, 32].forEach((a, c) => {
    const rows = Array.from({ length: Math.min(N, a + 16) - a }, (_, i) => a + i);
    const v = p.batch!(rows);
    const d = v.fisherMC(theta, { structure: 'diagonal', seed: 2 + c });
    for (let j = 0; j < p.dim; j++) H[j]! += rows.length * d[j]!;
  });
  const P = la.posteriorPrecisionDiagonal();
  for (let j = 0; j < p.dim; j++) assert.ok(rel(P[j]!, H[j]! + 1) <= TOL, `P_${j}: ${P[j]} vs ${H[j]! + 1}`);
  p.free();
});

test('laplace batchSize: checked, and refused for a sum problem with fewer rows', () => {
  const { p, theta } = mlpCase();
  assert.throws(
    () => laplace(p, theta, { batchSize: 0 }),
    (e: Error) => e instanceof RangeError && /batchSize/.test(e.message),
  );
  assert.throws(
    () => laplace(p, theta, { batchSize: 2.5 }),
    (e: Error) => e instanceof RangeError && /batchSize/.test(e.message),
  );
  assert.throws(
    () => laplace(p, theta, { batchSize: '8' as unknown as number }),
    (e: Error) => e instanceof TypeError && /batchSize/.test(e.message),
  );
  assert.throws(() => laplace(p, theta, { batch_size: 8 } as unknown as LaplaceOptions), /batch_size/);
  p.free();
  const model = mlp({ sizes: [2, 3, 2], activation: 'tanh', core });
  const X = randomMatrix(N, 2, 3);
  const s = problem({ model, X: { data: X, rows: N, cols: 2 }, y: Float64Array.from({ length: N }, (_, i) => i % 2), likelihood: categorical({ classes: 2 }), reduction: 'sum' });
  const t = model.init(0);
  assert.throws(
    () => laplace(s, t, { batchSize: 8 }),
    (e: Error) => e instanceof RangeError && /'sum' problem/.test(e.message) && /reduction 'mean'/.test(e.message),
  );
  // B ≥ N needs no view: fine for a sum problem
  laplace(s, t, { batchSize: N }).free();
  s.free();
});

test.run();
