// MLP problems against PyTorch (float64, torch 1.13 + functorch; test/fixtures/make-mlp-fixtures.py):
// every activation × likelihood, every curvature and structure, to ≤ 1e-9 relative — through the
// WebAssembly MLP and through the plain-TypeScript reference MLP (a user-written Model, reached
// only through forward/jvp/vjp/residualHvp). Then the paper's identities on an MLP (Prop. 1, H ≠ GGN,
// Prop. 2) and training trajectories of gd/ngd/efgd against PyTorch doing the same steps.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { problem, mlp, gaussian, gd, ngd, efgd, ModelProblem, type Model, type Problem, type SymMatrix, type KfacFactors } from '../../bindings/index.js';
import { relErr, fixtureLikelihood } from '../helpers.js';
import { referenceMlp, type RefActivation } from '../reference/mlp.js';

interface Results {
  loss: number;
  gradient: number[];
  perSampleGradients: number[];
  ggn: number[];
  hessian: number[];
  empiricalFisher: number[];
  gradientCovariance: number[];
  diagonal: Record<'ggn' | 'hessian' | 'empiricalFisher', number[]>;
  block: Record<'ggn' | 'hessian' | 'empiricalFisher', number[][]>;
  kfac: Record<'fisher' | 'empiricalFisher', { A: number[]; G: number[] }[]>;
  ggnVectorProduct: number[];
  hessianVectorProduct: number[];
}
interface FixtureLik {
  name: string;
  variance?: number;
  outputs?: number;
  classes?: number;
}
interface Case {
  name: string;
  sizes: number[];
  activation: RefActivation;
  likelihood: FixtureLik;
  reduction: 'mean' | 'sum';
  priorVariance: number | null;
  N: number;
  X: number[];
  y: number[];
  theta: number[];
  v: number[];
  results: Results;
}
interface Training {
  name: string;
  optimizer: { name: 'gd' | 'ngd' | 'efgd'; lr: number; steps: number; damping?: number };
  sizes: number[];
  activation: RefActivation;
  likelihood: FixtureLik;
  reduction: 'mean' | 'sum';
  priorVariance: number | null;
  N: number;
  X: number[];
  y: number[];
  theta0: number[];
  losses: number[];
  thetaFinal: number[];
}

const fixtures = JSON.parse(gunzipSync(readFileSync(new URL('../fixtures/mlp-torch.json.gz', import.meta.url))).toString()) as { cases: Case[]; training: Training[] };

function build(c: Pick<Case, 'sizes' | 'activation' | 'likelihood' | 'reduction' | 'priorVariance' | 'N' | 'X' | 'y'>, model: Model): Problem {
  return problem({
    model,
    X: { data: Float64Array.from(c.X), rows: c.N, cols: c.sizes[0]! },
    y: Float64Array.from(c.y),
    likelihood: fixtureLikelihood(c.likelihood),
    reduction: c.reduction,
    priorVariance: c.priorVariance ?? Infinity,
  });
}

const TOL = 1e-9;
const dense = (m: SymMatrix) => {
  const v = m.toDense();
  m.free();
  return v;
};
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const e = relErr(a, b);
  assert.ok(e <= TOL, `${what}: relative error ${e.toExponential(2)} > ${TOL}`);
}

function checkCase(c: Case, p: Problem, label: string, withKfac: boolean): void {
  const th = Float64Array.from(c.theta),
    v = Float64Array.from(c.v),
    R = c.results,
    tag = `${c.name} (${label})`;
  assert.ok(Math.abs(p.loss(th) - R.loss) <= TOL * Math.abs(R.loss), `${tag} loss ${p.loss(th)} vs ${R.loss}`);
  close(p.gradient(th), R.gradient, `${tag} gradient`);
  close(p.perSampleGradients(th).data, R.perSampleGradients, `${tag} per-sample gradients`);
  close(dense(p.ggn(th)), R.ggn, `${tag} ggn`);
  close(dense(p.fisher(th)), R.ggn, `${tag} fisher = ggn`);
  close(dense(p.hessian(th)), R.hessian, `${tag} hessian`);
  close(dense(p.empiricalFisher(th)), R.empiricalFisher, `${tag} empirical Fisher`);
  close(dense(p.gradientCovariance(th)), R.gradientCovariance, `${tag} gradient covariance`);
  for (const kind of ['ggn', 'hessian', 'empiricalFisher'] as const) {
    close(p[kind](th, { structure: 'diagonal' }), R.diagonal[kind], `${tag} ${kind} diagonal`);
    const blocks = p[kind](th, { structure: 'block' });
    assert.is(blocks.length, c.sizes.length - 1, `${tag} one block per layer`);
    blocks.forEach((b, i) => close(dense(b), R.block[kind][i]!, `${tag} ${kind} block ${i}`));
  }
  if (withKfac) {
    for (const kind of ['fisher', 'empiricalFisher'] as const) {
      const layers = p[kind](th, { structure: 'kfac' }) as KfacFactors[];
      assert.is(layers.length, c.sizes.length - 1, `${tag} kfac layers`);
      layers.forEach((f, i) => {
        close(dense(f.A), R.kfac[kind][i]!.A, `${tag} ${kind} kfac A_${i + 1}`);
        close(dense(f.G), R.kfac[kind][i]!.G, `${tag} ${kind} kfac G_${i + 1}`);
      });
    }
  }
  close(p.ggnVectorProduct(th, v), R.ggnVectorProduct, `${tag} GGN-vector product`);
  close(p.fisherVectorProduct(th, v), R.ggnVectorProduct, `${tag} Fisher-vector product`);
  close(p.hessianVectorProduct(th, v), R.hessianVectorProduct, `${tag} Hessian-vector product`);
}

test(`the WebAssembly MLP matches PyTorch on ${fixtures.cases.length} cases (every activation × likelihood, every curvature and structure, ≤ 1e-9)`, () => {
  const seen = new Set<string>();
  for (const c of fixtures.cases) {
    const p = build(c, mlp({ sizes: c.sizes, activation: c.activation }));
    assert.ok(p instanceof ModelProblem);
    checkCase(c, p, 'wasm', true);
    seen.add(`${c.activation}/${c.likelihood.name}${c.likelihood.outputs ?? ''}`);
    p.free();
  }
  assert.ok(seen.size >= 6 * 5, `covers every activation × likelihood (${seen.size})`);
});

test('a plain-TypeScript model (the reference MLP through the Model interface) gets the same curvatures', () => {
  for (const c of fixtures.cases) {
    const p = build(c, referenceMlp({ sizes: c.sizes, activation: c.activation }));
    checkCase(c, p, 'plain TS', false);
    assert.throws(() => p.fisher(Float64Array.from(c.theta), { structure: 'kfac' }), /kfac/);
    p.free();
  }
});

test('Prop. 1 and the residual term on an MLP: GGN = Fisher exactly, H ≠ GGN for nonlinear activations, H = GGN + prior for identity', () => {
  for (const c of fixtures.cases) {
    const p = build(c, mlp({ sizes: c.sizes, activation: c.activation }));
    const th = Float64Array.from(c.theta);
    const F = dense(p.fisher(th)),
      G = dense(p.ggn(th)),
      H = dense(p.hessian(th));
    assert.equal(F, G, `${c.name}: fisher() and ggn() are the same matrix`);
    const pc = p.priorCurvature(),
      D = p.dim;
    const Hdata = H.map((x, i) => (i % (D + 1) === 0 ? x - pc : x));
    const gap = relErr(Hdata, G);
    // One layer: f is linear in θ and H = GGN + prior. Deeper nets (identity ones too: f is multilinear
    // in the layers' weights) have a residual term.
    if (c.sizes.length === 2) assert.ok(gap < 1e-14, `${c.name}: a one-layer net has H = GGN + prior (gap ${gap.toExponential(2)})`);
    else assert.ok(gap > 1e-6, `${c.name}: the Hessian differs from the GGN (relative gap ${gap.toExponential(2)})`);
    p.free();
  }
});

test('Prop. 2 on an MLP: as a regression net interpolates its data, the residuals and ‖H − GGN‖ go to zero together', () => {
  // 1-D sine regression with 8 points and a [1, 16, 1] tanh net (49 parameters): Newton-like steps
  // (damped Gauss–Newton) drive the residuals r_n = (f_n − y_n)/σ² to ~0.
  const N = 8,
    x = Float64Array.from({ length: N }, (_, i) => -2 + (4 * i) / (N - 1)),
    y = x.map((t) => Math.sin(2 * t));
  const model = mlp({ sizes: [1, 16, 1], activation: 'tanh' });
  const p = problem({ model, X: { data: x, rows: N, cols: 1 }, y, likelihood: gaussian() });
  const opt = ngd(p, { lr: 1, damping: 1e-6, adaptiveDamping: true });
  let state = opt.init(model.init(3));
  const gaps: number[] = [],
    residuals: number[] = [];
  const measure = (th: Float64Array) => {
    const H = dense(p.hessian(th)),
      G = dense(p.ggn(th));
    let diff = 0;
    for (let i = 0; i < H.length; i++) diff += (H[i]! - G[i]!) ** 2;
    gaps.push(Math.sqrt(diff));
    residuals.push(Math.sqrt(2 * p.loss(th) * N)); // ‖f − y‖ (σ² = 1, mean reduction)
  };
  measure(state.theta);
  for (let k = 0; k < 60; k++) state = opt.update(state).state;
  measure(state.theta);
  assert.ok(residuals[1]! < 1e-4 * residuals[0]!, `interpolates: ‖r‖ ${residuals[0]} → ${residuals[1]}`);
  assert.ok(gaps[1]! < 1e-3 * gaps[0]!, `‖H − GGN‖_F ${gaps[0]} → ${gaps[1]}`);
  // The bound of Prop. 2: ‖H − G‖ ≤ s · Σ_n |r_n| · max ‖∇²f_n‖ — the gap is linear in the residuals.
  assert.ok(gaps[1]! / residuals[1]! < (10 * gaps[0]!) / residuals[0]!, 'the gap shrinks with the residuals, not faster by luck');
  p.free();
});

test('training: gd, ngd and efgd from a fixed θ₀ follow the same losses as PyTorch doing the same steps', () => {
  for (const t of fixtures.training) {
    const p = build(t, mlp({ sizes: t.sizes, activation: t.activation }));
    const o = t.optimizer;
    const opt = o.name === 'gd' ? gd(p, { lr: o.lr }) : (o.name === 'ngd' ? ngd : efgd)(p, { lr: o.lr, damping: o.damping! });
    const rec = opt.run(Float64Array.from(t.theta0), { iterations: o.steps });
    assert.is(rec.status, 'ok', `${t.name}: ${rec.reason ?? ''}`);
    assert.is(rec.losses.length, t.losses.length, `${t.name}: steps`);
    rec.losses.forEach((l, k) => assert.ok(Math.abs(l - t.losses[k]!) <= 1e-9 * Math.abs(t.losses[k]!), `${t.name}: loss ${k} ${l} vs ${t.losses[k]}`));
    p.free();
  }
});

test.run();
