// Fig. 2: θ*, N·H(θ*), N·F̃(θ*) against the library's own curvature functions and against an
// independent numpy computation on the paper's exact arrays (test/fixtures/fig2-numpy.json,
// written by test/fixtures/fig2-numpy.py) — agreement to 1e-6 is the curvature issue's
// acceptance check — and the ellipses against their defining equation.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bernoulli, gaussian, linearProblem, numpyRandomState, toyData } from 'natgrad';
import { ellipse, FIG2_RADIUS, fig2, fig2Json, type Fig2Panel } from '../../experiments/compute/fig2.js';
import { maxAbsDiff, relDiff } from './setup.js';

interface NumpyRef {
  N: number;
  thetaStar: number[];
  hessianTimesN: number[][];
  empiricalFisherTimesN: number[][];
  lossAtOptimum: number;
}
const numpy = JSON.parse(readFileSync(new URL('../fixtures/fig2-numpy.json', import.meta.url), 'utf8')) as Record<string, NumpyRef>;

const main = fig2('main');
const appendix = fig2('appendix');

/** Library recomputation at the panel's θ*: gradient, N·hessian, N·empiricalFisher, loss. */
function library(p: Fig2Panel, variant: 'main' | 'appendix') {
  const d = toyData[p.name](numpyRandomState(0), 1000);
  const problem =
    variant === 'main' ? linearProblem({ X: d.X, y: d.y, likelihood: bernoulli(), priorVariance: Infinity }) : linearProblem({ X: d.X, y: d.y, likelihood: gaussian(), priorVariance: 0.1 });
  try {
    const H = problem.hessian(p.thetaStar),
      F = problem.empiricalFisher(p.thetaStar);
    const out = {
      gradient: problem.gradient(p.thetaStar),
      H: H.toDense().map((v) => v * problem.N),
      F: F.toDense().map((v) => v * problem.N),
      loss: problem.loss(p.thetaStar),
    };
    H.free();
    F.free();
    return out;
  } finally {
    problem.free();
  }
}

const flat = (M: number[][]) => M.flat();

for (const [variant, r] of [
  ['main', main],
  ['appendix', appendix],
] as const) {
  test(`${variant}: θ* has a zero gradient and the matrices are N·hessian(θ*), N·empiricalFisher(θ*)`, () => {
    for (const p of r.panels) {
      const lib = library(p, variant);
      assert.ok(Math.hypot(...lib.gradient) < 1e-13, `${p.name}: ‖∇L(θ*)‖ = ${Math.hypot(...lib.gradient)}`);
      assert.equal(flat(p.hessianTimesN), Array.from(lib.H), `${p.name} N·H`);
      assert.equal(flat(p.empiricalFisherTimesN), Array.from(lib.F), `${p.name} N·F̃`);
      assert.is(p.lossAtOptimum, lib.loss);
    }
  });

  test(`${variant}: the ellipses are {θ : (θ − θ*)ᵀ M (θ − θ*) = 3²}`, () => {
    for (const p of r.panels) {
      for (const [M, pts] of [
        [p.hessianTimesN, p.ellipses.fisher],
        [p.empiricalFisherTimesN, p.ellipses.empiricalFisher],
      ] as const) {
        assert.is(pts.length, 100);
        for (const [x, y] of pts) {
          const u = x - p.thetaStar[0],
            v = y - p.thetaStar[1];
          const q = M[0]![0]! * u * u + 2 * M[0]![1]! * u * v + M[1]![1]! * v * v;
          assert.ok(Math.abs(q - FIG2_RADIUS ** 2) < 1e-9, `${p.name}: q = ${q}`);
        }
      }
    }
  });
}

test("main: agrees with numpy on the paper's arrays to 1e-6", () => {
  for (const p of main.panels) {
    const ref = numpy[p.name]!;
    assert.ok(ref, `numpy reference for ${p.name}`);
    assert.is(p.N, ref.N);
    const e = {
      thetaStar: maxAbsDiff(p.thetaStar, ref.thetaStar),
      H: maxAbsDiff(flat(p.hessianTimesN), flat(ref.hessianTimesN)),
      F: maxAbsDiff(flat(p.empiricalFisherTimesN), flat(ref.empiricalFisherTimesN)),
      loss: Math.abs(p.lossAtOptimum - ref.lossAtOptimum),
    };
    for (const [k, v] of Object.entries(e)) assert.ok(v < 1e-6, `${p.name} ${k}: |Δ| = ${v}`);
    // and far tighter in relative terms (same data up to ≤ 3 last-bit differences)
    assert.ok(relDiff(flat(p.hessianTimesN), flat(ref.hessianTimesN)) < 1e-10, `${p.name} N·H relative`);
    assert.ok(relDiff(flat(p.empiricalFisherTimesN), flat(ref.empiricalFisherTimesN)) < 1e-10, `${p.name} N·F̃ relative`);
  }
});

test('misspecification shows: N·F̃ ≈ N·H only for the well-specified set', () => {
  const gap = (p: Fig2Panel) => relDiff(flat(p.empiricalFisherTimesN), flat(p.hessianTimesN));
  const [well, a, b] = main.panels;
  assert.ok(gap(well!) < 0.1, `well-specified gap ${gap(well!)}`);
  assert.ok(gap(a!) > 0.3 && gap(b!) > 0.3, `misspecified gaps ${gap(a!)}, ${gap(b!)}`);
});

test('ellipse() of a diagonal matrix has the expected semi-axes', () => {
  const pts = ellipse([4, 0, 0, 1], [1, 2], 3, 5); // t = 0, π/2, π, 3π/2, 2π
  const close = (a: number[], b: number[]) => maxAbsDiff(a, b) < 1e-12;
  assert.ok(pts.some((p) => close(p, [1, 5])) && pts.some((p) => close(p, [2.5, 2])), JSON.stringify(pts));
});

test('fig2.json has exactly the schema keys', () => {
  const j = JSON.parse(JSON.stringify(fig2Json(main))) as { datasets: Record<string, Record<string, unknown>> };
  assert.equal(Object.keys(j), ['datasets']);
  assert.equal(Object.keys(j.datasets), ['wellSpecified', 'misspecifiedA', 'misspecifiedB']);
  for (const d of Object.values(j.datasets)) assert.equal(Object.keys(d).sort(), ['empiricalFisherTimesN', 'hessianTimesN', 'lossAtOptimum', 'thetaStar']);
});

test.run();
