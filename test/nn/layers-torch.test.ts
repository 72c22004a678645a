// sequential networks against PyTorch (float64, torch 1.13; test/fixtures/make-layer-fixtures.py):
// every layer type alone, a LeNet- and a ResNet-style network; every curvature, structure, product
// and KFAC variant (expand / reduce × joint / separate bias), to ≤ 1e-9 relative. Then the
// plain-TypeScript reference stack on the same cases, BackPACK's KFLR read as natgrad's factors,
// the KFAC optimizer on a convolutional network, and 1 vs 2 threads bitwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, kfac, type KfacLayer, type Model, problem, type Problem, sequential, type SymMatrix } from '../../bindings/index.js';
import { categoricalFactor } from '../../bindings/internals.js';
import { type LayerCase, loadLayerFixtures } from '../fixtures/layers-torch.js';
import { relErr, variant, fixtureLikelihood } from '../helpers.js';
import { referenceSequential } from '../reference/layers.js';

const fixtures = loadLayerFixtures();
const TOL = 1e-9;

function build(c: LayerCase, model: Model): Problem {
  return problem({
    model,
    X: { data: Float64Array.from(c.X), rows: c.N, cols: model.inputs },
    y: Float64Array.from(c.y),
    likelihood: fixtureLikelihood(c.likelihood),
    reduction: c.reduction,
    priorVariance: c.priorVariance ?? Infinity,
  });
}

const dense = (m: SymMatrix) => {
  const v = m.toDense();
  m.free();
  return v;
};
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = TOL): void {
  assert.is(a.length, b.length, `${what}: length`);
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}
const freeLayers = (ls: KfacLayer[]) => {
  for (const f of ls) {
    if (f.exact) f.exact.free();
    else {
      f.A.free();
      f.G.free();
    }
  }
};

function checkCase(c: LayerCase, p: Problem, tag: string): void {
  const th = Float64Array.from(c.theta),
    v = Float64Array.from(c.v),
    R = c.results;
  assert.ok(Math.abs(p.loss(th) - R.loss) <= TOL * Math.abs(R.loss), `${tag} loss ${p.loss(th)} vs ${R.loss}`);
  close(p.gradient(th), R.gradient, `${tag} gradient`);
  close(p.perSampleGradients(th).data, R.perSampleGradients, `${tag} per-sample gradients`);
  close(p.ggnVectorProduct(th, v), R.ggnVectorProduct, `${tag} GGN-vector product`);
  close(p.fisherVectorProduct(th, v), R.ggnVectorProduct, `${tag} Fisher-vector product`);
  close(p.hessianVectorProduct(th, v), R.hessianVectorProduct, `${tag} Hessian-vector product`);
  for (const kind of ['ggn', 'hessian', 'empiricalFisher'] as const) {
    close(p[kind](th, { structure: 'diagonal' }), R.diagonal[kind], `${tag} ${kind} diagonal`);
    const blocks = p[kind](th, { structure: 'block' });
    assert.is(blocks.length, c.layers.length, `${tag} one block per parameterized layer`);
    blocks.forEach((b, i) => {
      const ref = R.block[kind][i];
      if (ref) close(dense(b), ref, `${tag} ${kind} block ${i}`);
      else b.free();
    });
  }
  if (R.ggn) {
    close(dense(p.ggn(th)), R.ggn, `${tag} ggn`);
    close(dense(p.hessian(th)), R.hessian!, `${tag} hessian`);
    close(dense(p.empiricalFisher(th)), R.empiricalFisher!, `${tag} empirical Fisher`);
    close(dense(p.gradientCovariance(th)), R.gradientCovariance!, `${tag} gradient covariance`);
  }
}

function checkKfac(c: LayerCase, p: Problem, tag: string): void {
  const th = Float64Array.from(c.theta);
  for (const kind of ['fisher', 'empiricalFisher'] as const) {
    for (const kfacApproximation of ['expand', 'reduce'] as const) {
      for (const bias of ['joint', 'separate'] as const) {
        const ref = c.results.kfac[kind][kfacApproximation][bias];
        const layers = p[kind](th, { structure: 'kfac', kfacApproximation, bias });
        assert.is(layers.length, c.layers.length, `${tag} one entry per parameterized layer`);
        let k = 0;
        layers.forEach((f, i) => {
          const where = `${tag} ${kind} ${kfacApproximation}/${bias} layer ${i}`;
          if (f.exact) {
            assert.ok(c.layers[i]!.type === 'batchNorm' || c.layers[i]!.type === 'layerNorm', `${where}: an exact block only for norms`);
            const block = kind === 'fisher' ? c.results.block.ggn[i] : c.results.block.empiricalFisher[i];
            if (block) close(f.exact.toDense(), block, `${where} exact block`);
            return;
          }
          const r = ref[k++]!;
          close(f.A.toDense(), r.A, `${where} A`);
          close(f.G.toDense(), r.G, `${where} G`);
          assert.is(f.bias, c.layers[i]!.kfac!.bias ? bias : 'none', `${where} bias mode`);
        });
        assert.is(k, ref.length, `${tag} every Kronecker layer`);
        freeLayers(layers);
      }
    }
  }
}

test(`sequential networks match PyTorch on ${fixtures.cases.length} cases (every layer, curvature, structure and KFAC variant, ≤ 1e-9)`, () => {
  const types = new Set<string>();
  for (const c of fixtures.cases) {
    const model = sequential(c.spec);
    assert.is(model.dim, c.D, `${c.name}: D`);
    const tr = model.forward(Float64Array.from(c.theta), Float64Array.from(c.X), c.N);
    close(tr.outputs, c.results.outputs, `${c.name} outputs`);
    tr.free();
    const p = build(c, model);
    checkCase(c, p, c.name);
    checkKfac(c, p, c.name);
    p.free();
    const walk = (ls: readonly { type: string; layers?: unknown; shortcut?: unknown }[]) => {
      for (const l of ls) {
        types.add(l.type);
        if (l.layers) walk(l.layers as never);
        if (l.shortcut) walk(l.shortcut as never);
      }
    };
    walk(c.spec.layers);
  }
  for (const t of ['dense', 'conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool2d', 'flatten', 'activation', 'batchNorm', 'layerNorm', 'residual']) assert.ok(types.has(t), `the cases cover ${t}`);
});

test('the plain-TypeScript reference stack (a user Model through forward / jvp / vjp / residualHvp) gets the same values', () => {
  for (const c of fixtures.cases.filter((x) => x.D <= 120)) {
    const p = build(c, referenceSequential(c.spec));
    const th = Float64Array.from(c.theta),
      v = Float64Array.from(c.v);
    close(p.gradient(th), c.results.gradient, `${c.name} (reference) gradient`);
    close(p.ggnVectorProduct(th, v), c.results.ggnVectorProduct, `${c.name} (reference) GGN-vector product`);
    close(p.hessianVectorProduct(th, v), c.results.hessianVectorProduct, `${c.name} (reference) Hessian-vector product`);
    close(p.ggn(th, { structure: 'diagonal' }), c.results.diagonal.ggn, `${c.name} (reference) GGN diagonal`);
    p.free();
  }
});

test("BackPACK's KFLR on LeNet, read as natgrad's factors: dense = 'separate'; conv A = S × A_expand (no ones), conv G = G_reduce", () => {
  const c = fixtures.cases.find((x) => x.name === 'lenet')!;
  const bp = c.backpack!;
  assert.ok(bp.kflr, 'the fixture has KFLR for LeNet');
  const p = build(c, sequential(c.spec));
  const th = Float64Array.from(c.theta);
  const expand = p.fisher(th, { structure: 'kfac', kfacApproximation: 'expand', bias: 'separate' });
  const reduce = p.fisher(th, { structure: 'kfac', kfacApproximation: 'reduce', bias: 'separate' });
  const kron = c.layers.filter((l) => l.kfac);
  kron.forEach((l, i) => {
    const [Gbp, Abp] = bp.kflr![i]!.weight;
    const S = l.kfac!.S;
    const A = expand[i]!.A!.toDense().map((x) => x * S);
    close(A, Abp, `layer ${i} A (S = ${S})`);
    close(
      reduce[i]!.G!.toDense(),
      Gbp.map((x) => x * bp.lossScale),
      `layer ${i} G`,
    );
  });
  freeLayers(expand);
  freeLayers(reduce);
  p.free();
});

test("BackPACK 1.5.2's BatchGrad, DiagGGNExact and DiagHessian equal natgrad's per-sample gradients and diagonals (where BackPACK runs)", () => {
  let checked = 0;
  for (const c of fixtures.cases) {
    const bp = c.backpack;
    if (!bp) continue;
    const p = build(c, sequential(c.spec));
    const th = Float64Array.from(c.theta);
    const scale = c.reduction === 'mean' ? 1 / c.N : 1;
    const cs = bp.lossScale;
    if (bp.batchGrad) {
      close(
        p.perSampleGradients(th).data,
        bp.batchGrad.map((x) => (x * cs) / scale),
        `${c.name} BatchGrad`,
      );
      checked++;
    }
    if (bp.diagGGNExact) {
      close(
        p.ggn(th, { structure: 'diagonal' }),
        bp.diagGGNExact.map((x) => x * cs),
        `${c.name} DiagGGNExact`,
      );
      checked++;
    }
    if (bp.diagHessian) {
      const prior = c.priorVariance === null ? 0 : scale / c.priorVariance;
      close(
        p.hessian(th, { structure: 'diagonal' }),
        bp.diagHessian.map((x) => x * cs + prior),
        `${c.name} DiagHessian`,
      );
      checked++;
    }
    p.free();
  }
  assert.ok(checked >= 40, `BackPACK quantities compared: ${checked}`);
});

test('the KFAC optimizer trains the ResNet-style network (conv factors, exact batch-norm blocks, separate bias) and lowers its loss', () => {
  const c = fixtures.cases.find((x) => x.name === 'resnet')!;
  const p = build(c, sequential(c.spec));
  for (const bias of ['joint', 'separate'] as const) {
    const rec = kfac(p, { lr: 0.2, damping: 0.1, ema: 0.5, bias, kfacApproximation: 'reduce' }).run(Float64Array.from(c.theta), { iterations: 8 });
    assert.is(rec.status, 'ok', rec.reason ?? '');
    assert.ok(rec.losses.at(-1)! < 0.9 * rec.losses[0]!, `${bias}: loss ${rec.losses[0]} → ${rec.losses.at(-1)}`);
  }
  p.free();
});

test('1 and 2 threads give bitwise identical products, Grams and factors on the LeNet- and ResNet-style networks', async () => {
  const cores = [await createCore({ variant, threads: 1 }), await createCore({ variant, threads: 2 })];
  try {
    for (const name of ['lenet', 'resnet']) {
      const c = fixtures.cases.find((x) => x.name === name)!;
      const results = cores.map((core) => {
        const m = sequential({ ...c.spec, core });
        const tr = m.forward(Float64Array.from(c.theta), Float64Array.from(c.X), c.N);
        const Rf = categoricalFactor(tr.outputs, c.N, m.outputs);
        const K = m.outputs - 1;
        const v = Float64Array.from(c.v);
        const R = Rf.subarray(0, c.N * m.outputs).map((_, i) => Math.sin(i));
        const kf = tr.kfacFactors(Rf, K, 0.5, { kfacApproximation: 'expand' });
        const out = [
          tr.outputs,
          tr.jvp(v),
          tr.vjp(R),
          tr.residualHvp(R, v),
          tr.pullbackGram(Rf, K, 'diagonal', 1) as Float64Array,
          ...kf.flatMap((f) => (f.exact ? [f.exact.toDense()] : [f.A.toDense(), f.G.toDense()])),
        ];
        freeLayers(kf);
        tr.free();
        return out;
      });
      results[0]!.forEach((a, i) => {
        const b = results[1]![i]!;
        assert.is(a.length, b.length);
        for (let j = 0; j < a.length; j++) if (!Object.is(a[j], b[j])) assert.unreachable(`${name}: result ${i} entry ${j} differs: ${a[j]} vs ${b[j]}`);
      });
    }
  } finally {
    for (const core of cores) core.pool?.close();
  }
});

test.run();
