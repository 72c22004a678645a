// The `laplace` experiment (issue 20): its metrics against hand-computed values, its data
// transforms, and `natgrad reproduce laplace --quick` end to end — the JSON's structure (MAP row,
// a row per curvature × structure, GGN and EF among them) and sanity (predictives sum to 1,
// ECE and AUROC in [0, 1], a finite optimized evidence at a positive δ), and a well-formed SVG.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XMLValidator } from 'fast-xml-parser';
import {
  auroc,
  expectedCalibrationError,
  FULL_MAX_DIM,
  LAPLACE_CURVATURES,
  LAPLACE_STRUCTURES,
  laplaceConfigs,
  type LaplaceResult,
  meanEntropy,
  metrics,
  permutation,
  rotate90,
  softmaxRows,
} from '../../experiments/compute/laplace.js';
import { ROOT } from './setup.js';

test('ECE: 0 for a calibrated bin, |acc − conf| weighted by the bin counts otherwise', () => {
  // four points at confidence 0.75 (bin 11 of 15), three right: calibrated
  const P = Float64Array.from([0.75, 0.25, 0.75, 0.25, 0.25, 0.75, 0.25, 0.75]);
  assert.ok(Math.abs(expectedCalibrationError(P, 2, [0, 0, 1, 0])) < 1e-15);
  // all four right at 0.75: ECE = 0.25; two bins: 0.9 (2 points, 1 right) and 0.6 (2 points, 2 right)
  assert.ok(Math.abs(expectedCalibrationError(P, 2, [0, 0, 1, 1]) - 0.25) < 1e-15);
  const Q = Float64Array.from([0.9, 0.1, 0.1, 0.9, 0.6, 0.4, 0.4, 0.6]);
  assert.ok(Math.abs(expectedCalibrationError(Q, 2, [0, 0, 0, 1]) - ((2 / 4) * Math.abs(0.5 - 0.9) + (2 / 4) * Math.abs(1 - 0.6))) < 1e-15);
  // confidence exactly 1 falls in the last bin, not past it
  assert.ok(Math.abs(expectedCalibrationError(Float64Array.from([1, 0]), 2, [1]) - 1) < 1e-15);
});

test('AUROC: Mann–Whitney with ties at ½, entropy in nats', () => {
  assert.is(auroc([0.9, 0.8], [0.1, 0.2]), 1);
  assert.is(auroc([0.1, 0.2], [0.9, 0.8]), 0);
  assert.is(auroc([0.5, 0.5], [0.5]), 0.5);
  assert.is(auroc([0.9, 0.3], [0.5, 0.1]), 0.75);
  assert.ok(Math.abs(meanEntropy(Float64Array.from([0.5, 0.5, 1, 0]), 2) - Math.log(2) / 2) < 1e-15);
  const m = metrics(Float64Array.from([0.8, 0.2, 0.3, 0.7]), [0, 0], Float64Array.from([0.5, 0.5]), 2);
  assert.is(m.accuracy, 0.5);
  assert.ok(Math.abs(m.nll - -(Math.log(0.8) + Math.log(0.3)) / 2) < 1e-15);
  assert.is(m.aurocMaxProb, 1);
});

test('data: permutations, 90° rotations (four make the identity), softmax rows sum to 1', () => {
  const p = permutation(50, 3);
  assert.equal(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.equal(permutation(50, 3), p, 'seeded');
  const X = { data: Float64Array.from({ length: 2 * 9 }, (_, i) => i), rows: 2, cols: 9 };
  const R = rotate90(X, 3);
  assert.equal(Array.from(R.data.subarray(0, 9)), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
  assert.equal(rotate90(rotate90(rotate90(R, 3), 3), 3).data, X.data);
  const S = softmaxRows(Float64Array.from([1000, 0, -1000, 1, 2, 3]), 3);
  for (let o = 0; o < 6; o += 3) assert.ok(Math.abs(S[o]! + S[o + 1]! + S[o + 2]! - 1) < 4e-16);
  assert.equal(
    laplaceConfigs(FULL_MAX_DIM + 1).map((c) => c.structure),
    LAPLACE_CURVATURES.flatMap(() => ['kfac', 'diagonal']),
  );
  assert.equal(
    laplaceConfigs(FULL_MAX_DIM).map((c) => c.structure),
    LAPLACE_CURVATURES.flatMap(() => ['full', 'kfac', 'diagonal']),
  );
});

test('CLI: natgrad reproduce laplace --quick writes sane JSON and SVG', () => {
  const out = mkdtempSync(join(tmpdir(), 'natgrad-laplace-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'natgrad.mjs'), 'reproduce', 'laplace', '--quick', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(join(out, 'laplace.json'), 'utf8')) as LaplaceResult;
  assert.is(j.partial, false);
  const names = j.panels.map((p) => p.name);
  // Fashion-MNIST is skipped (with a warning) when Debian's dataset-fashion-mnist is not installed
  assert.ok(names.includes('digits') && names.includes('moons'), names.join(', '));
  if (!names.includes('fashion')) assert.match(r.stderr, /laplace: skipping Fashion-MNIST/);
  for (const p of j.panels) {
    const maps = p.rows.filter((x) => x.method === 'MAP');
    assert.is(maps.length, 1, `${p.name}: one MAP row`);
    const la = p.rows.filter((x) => x.method === 'Laplace');
    assert.equal(
      la.map((x) => `${x.curvature}/${x.structure}`),
      laplaceConfigs(p.D, j.settings.fullMaxDim).map((c) => `${c.curvature}/${c.structure}`),
      `${p.name}: a row per curvature × structure`,
    );
    for (const c of ['ggn', 'empiricalFisher']) assert.ok(la.filter((x) => x.curvature === c).length >= 2, `${p.name}: ${c} rows`);
    if (p.name === 'moons')
      assert.ok(
        la.some((x) => x.structure === 'full'),
        'moons (D ≤ fullMaxDim): full posteriors',
      );
    assert.ok(la.every((x) => (LAPLACE_STRUCTURES as readonly string[]).includes(x.structure!)));
    assert.ok(p.train.lossFinal < p.train.lossInitial, `${p.name}: training lowered the loss`);
    for (const x of p.rows) {
      const m = x.metrics;
      const what = `${p.name} ${x.method} ${x.curvature}/${x.structure}`;
      assert.ok(m.maxSumError < 1e-12, `${what}: probabilities sum to 1 (off by ${m.maxSumError})`);
      assert.ok(m.ece >= 0 && m.ece <= 1, `${what}: ECE ${m.ece}`);
      assert.ok(m.aurocMaxProb >= 0 && m.aurocMaxProb <= 1, `${what}: AUROC ${m.aurocMaxProb}`);
      assert.ok(m.accuracy >= 0 && m.accuracy <= 1 && Number.isFinite(m.nll) && m.nll > 0, `${what}: accuracy ${m.accuracy}, NLL ${m.nll}`);
      const hMax = Math.log(p.classes) + 1e-12;
      assert.ok(m.entropyIn >= 0 && m.entropyIn <= hMax && m.entropyOod >= 0 && m.entropyOod <= hMax, `${what}: entropies`);
      assert.ok(x.priorPrecision > 0 && Number.isFinite(x.priorPrecision), `${what}: δ ${x.priorPrecision}`);
      if (x.method === 'Laplace') {
        assert.ok(Number.isFinite(x.logMarginalLikelihood) && x.converged === true, `${what}: log Z ${x.logMarginalLikelihood}, converged ${x.converged}`);
        // the optimum is at least as good as the starting prior δ0
        assert.ok(x.logMarginalLikelihood! >= x.logMarginalLikelihoodAtPrior! - 1e-9 * Math.abs(x.logMarginalLikelihoodAtPrior!), `${what}: log Z at the optimum ≥ at δ0`);
      }
    }
  }
  const svg = readFileSync(join(out, 'laplace.svg'), 'utf8');
  assert.ok(XMLValidator.validate(svg) === true && svg.includes('<svg'), 'laplace.svg: valid SVG');
  assert.match(r.stdout, /MAP/);
});

test.run();
