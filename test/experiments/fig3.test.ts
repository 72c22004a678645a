// Fig. 3 and the starting-point experiment: the grid (the paper's exact values, --quick
// thinning), the best runs against brute force, the NGD/EF cosine, and the 1-D problem against
// its closed form.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { efgd, gd, gridSearch, loadPaperDataset, ngd, paperGrid } from 'natgrad';
import { experimentGrid, type GridOptimizer } from '../../experiments/compute/grid.js';
import { directionCosine, fig3Dataset, fig3DatasetJson, fig3Problem } from '../../experiments/compute/fig3.js';
import { ONE_D, oneDRuns, startingPointRuns } from '../../experiments/compute/startingPoint.js';
import { relDiff, ROOT } from './setup.js';

const wine = await loadPaperDataset('Wine', `${ROOT}data`);
const cancer = await loadPaperDataset('BreastCancer', `${ROOT}data`);
const boston = await loadPaperDataset('Boston', `${ROOT}data`);

test("the full grid is the paper's numpy grid, value for value", () => {
  const fixture = JSON.parse(readFileSync(new URL('../../../shared/fixtures/paper-grid.json', import.meta.url), 'utf8')) as { lrs: number[]; dampings: number[] };
  const g = experimentGrid(false);
  assert.equal(g.lrs, fixture.lrs);
  assert.equal(g.dampings, fixture.dampings);
});

test('--quick grid: every 8th step size (one per decade), every 4th damping', () => {
  const q = experimentGrid(true),
    full = paperGrid();
  assert.is(q.lrs.length, 31);
  assert.is(q.dampings.length, 11);
  q.lrs.forEach((v, i) => assert.is(v, full.lrs[8 * i]));
  q.dampings.forEach((v, i) => assert.is(v, full.dampings[4 * i]));
  q.lrs.forEach((v, i) => assert.ok(Math.abs(Math.log10(v) - (-20 + i)) < 1e-12));
});

/** Brute force over a small grid with the library's optimizers: the best last loss per optimizer. */
function bruteForce(data: typeof wine, likelihood: 'gaussian' | 'bernoulli', lrs: number[], dampings: number[], iterations: number) {
  const p = fig3Problem(data.X, data.y, likelihood);
  const makers = { GD: gd, NGD: ngd, EFGD: efgd };
  const best = {} as Record<GridOptimizer, { lr: number; damping: number | null; last: number }>;
  for (const name of ['GD', 'NGD', 'EFGD'] as const) {
    for (const lr of lrs) {
      for (const damping of name === 'GD' ? [null] : dampings) {
        const rec = makers[name](p, damping === null ? { lr } : { lr, damping }).run(new Float64Array(p.dim), { iterations, divergenceFactor: 100 });
        const last = rec.losses.at(-1)!;
        if (!best[name] || last < best[name].last) best[name] = { lr, damping, last };
      }
    }
  }
  p.free();
  return best;
}

for (const [name, data, likelihood, lrs, dampings] of [
  ['Wine', wine, 'gaussian', [1e-7, 1e-6, 1e-3, 0.1, 1, 10], [1e-8, 1e-2, 1]],
  ['BreastCancer', cancer, 'bernoulli', [1e-6, 0.1, 1], [1e-3, 1]],
] as const) {
  test(`fig3Dataset on ${name} (${likelihood}) picks the brute-force best runs and reports progress`, async () => {
    const expected = bruteForce(data, likelihood, [...lrs], [...dampings], 30);
    const total = lrs.length * (1 + 2 * dampings.length);
    const seen: number[] = [];
    const r = await fig3Dataset({ name, likelihood }, data.X, data.y, {
      lrs,
      dampings,
      iterations: 30,
      workers: 1,
      onProgress: (p) => {
        seen.push(p.done);
        assert.is(p.total, total);
      },
    });
    assert.is(r.runs, total);
    assert.is(seen.at(-1), total);
    for (const opt of ['GD', 'NGD', 'EFGD'] as const) {
      const b = r.best[opt];
      assert.is(b.losses.length, 31, `${opt}: 31 losses`);
      // the grid engine batches runs (other rounding than the optimizers): agreement to 1e-7
      assert.ok(Math.abs(b.losses.at(-1)! - expected[opt].last) <= 1e-7 * Math.abs(expected[opt].last), `${opt}: ${b.losses.at(-1)} vs ${expected[opt].last}`);
      assert.is(b.lr, expected[opt].lr, `${opt} lr`);
    }
  });
}

test('an aborted signal rejects the grid search', async () => {
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  const p = fig3Problem(wine.X, wine.y, 'gaussian');
  try {
    await gridSearch({
      problem: { X: p.X, y: p.y, likelihood: { name: 'gaussian', variance: 1 }, priorVariance: Infinity, reduction: 'mean' },
      lrs: [1e-6],
      dampings: [1],
      iterations: 3,
      signal: ac.signal,
    });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.is((e as Error).name, 'AbortError');
  } finally {
    p.free();
  }
});

test('cosine(NGD, EF) is 1 at θ = 0 for logistic regression (r² = ¼ = s(1 − s)) and ∈ [−1, 1] elsewhere', () => {
  const p = fig3Problem(cancer.X, cancer.y, 'bernoulli');
  try {
    assert.ok(Math.abs(directionCosine(p, new Float64Array(p.dim), 1e-6) - 1) < 1e-9);
    const t = new Float64Array(p.dim).map((_, i) => (i % 3 === 0 ? 1e-3 : -1e-3));
    const c = directionCosine(p, t, 1e-3);
    assert.ok(c >= -1 && c <= 1 && c < 0.999999, `cos = ${c}`);
  } finally {
    p.free();
  }
});

test('fig3Dataset on Wine (small grid): best runs, cosines along the best EFGD path, JSON keys', async () => {
  const r = await fig3Dataset({ name: 'Wine', likelihood: 'gaussian' }, wine.X, wine.y, { lrs: [1e-6, 1e-3, 0.1, 1], dampings: [1e-8, 1e-4, 1], iterations: 20, workers: 1 });
  assert.is(r.N, 178);
  assert.is(r.D, 14);
  assert.is(r.best.GD.damping, null);
  assert.is(r.cosines.length, r.best.EFGD.losses.length);
  assert.ok(
    r.cosines.every((c) => c >= -1 && c <= 1),
    JSON.stringify(r.cosines),
  );
  const j = JSON.parse(JSON.stringify(fig3DatasetJson(r))) as { best: Record<string, Record<string, unknown>> };
  assert.equal(Object.keys(j).sort(), ['D', 'N', 'best', 'cosines']);
  assert.equal(Object.keys(j.best), ['GD', 'NGD', 'EFGD']);
  for (const b of Object.values(j.best)) assert.equal(Object.keys(b).sort(), ['damping', 'losses', 'lr']);
});

test('1-D problem: NGD θ ← θ(1 − γ/(1 + λ)), EFGD θ ← θ − γθ/(θ² + ¼ + λ), L = θ²/2 + ⅛', () => {
  const r = oneDRuns();
  assert.equal(r.starts, [0.5, 1, 2, 4]);
  r.starts.forEach((t0, i) => {
    let a = t0,
      b = t0;
    const ngdLoss = [(a * a) / 2 + 0.125],
      efLoss = [(b * b) / 2 + 0.125];
    for (let k = 0; k < ONE_D.iterations; k++) {
      a = a - (ONE_D.lr * a) / (1 + ONE_D.damping);
      b = b - (ONE_D.lr * b) / (b * b + 0.25 + ONE_D.damping);
      ngdLoss.push((a * a) / 2 + 0.125);
      efLoss.push((b * b) / 2 + 0.125);
    }
    assert.ok(relDiff(r.losses.NGD[i]!, ngdLoss) < 1e-12, `NGD from ${t0}`);
    assert.ok(relDiff(r.losses.EFGD[i]!, efLoss) < 1e-12, `EFGD from ${t0}`);
  });
  // the point of the figure: NGD's final loss does not depend on θ0, EFGD's does
  const finals = (o: 'NGD' | 'EFGD') => r.losses[o].map((l) => l.at(-1)! - 0.125);
  assert.ok(Math.max(...finals('NGD')) < 1e-4);
  assert.ok(finals('EFGD')[3]! > 1);
});

test('starting point on Boston: 21 losses per run, NGD converges from every c·θ*', () => {
  const p = fig3Problem(boston.X, boston.y, 'gaussian');
  try {
    const r = startingPointRuns(p, { NGD: { lr: 1, damping: 1e-8 }, EFGD: { lr: 10, damping: 1e-10 } });
    const g = p.gradient(r.thetaStar);
    assert.ok(Math.hypot(...g) < 1e-6 * Math.max(1, Math.hypot(...p.gradient(new Float64Array(p.dim)))), `‖∇L(θ*)‖ = ${Math.hypot(...g)}`);
    for (const o of ['NGD', 'EFGD'] as const) {
      assert.is(r.losses[o].length, 4);
      for (const l of r.losses[o]) assert.is(l.length, 21);
    }
    for (const l of r.losses.NGD) assert.ok(Math.abs(l.at(-1)! - r.lossAtOptimum) < 1e-6 * r.lossAtOptimum);
  } finally {
    p.free();
  }
});

test.run();
