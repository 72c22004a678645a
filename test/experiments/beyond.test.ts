// The beyond-the-paper experiments (issue 12), each in a reduced --quick form, checking the
// invariants their JSON promises: Prop. 2's gap and residual at every recorded iterate, the
// interpolating network's final EF/GGN trace ratio, batchSize = N equal to the full-batch runs
// bit for bit; and each figure is well-formed SVG. The CLI end-to-end for one of them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XMLValidator } from 'fast-xml-parser';
import { loadDigits, loadPaperDataset } from 'natgrad';
import { prop2Panel, sinePanelData } from '../../experiments/compute/prop2.js';
import { OVERPARAM_CONFIGS, overparamSeries } from '../../experiments/compute/overparameterized.js';
import { spectra } from '../../experiments/compute/spectra.js';
import { kfacExperiment, KFAC_METHODS } from '../../experiments/compute/kfac.js';
import { stochasticPanel, STOCHASTIC_METHODS } from '../../experiments/compute/stochastic.js';
import { head, standardizeColumns } from '../../experiments/compute/lib.js';
import { prop2Svg, styleOf } from '../../experiments/figures/prop2.js';
import { labelWidth, legendLayout } from '../../experiments/figures/render.js';
import { overparameterizedSvg } from '../../experiments/figures/overparameterized.js';
import { spectraSvg } from '../../experiments/figures/spectra.js';
import { kfacSvg } from '../../experiments/figures/kfac.js';
import { stochasticSvg } from '../../experiments/figures/stochastic.js';
import { ROOT } from './setup.js';

const digits = await loadDigits();
const small = head(digits.X, digits.y, 300);
const finite = (v: number[]) => v.every((x) => Number.isFinite(x));
const svgOk = (svg: string, what: string) => assert.ok(XMLValidator.validate(svg) === true && svg.includes('<svg'), `${what}: valid SVG`);

test('prop2: gap, residual and loss at every recorded iterate; the gap shrinks with the residual', () => {
  const p = prop2Panel(sinePanelData(true), true);
  const K = p.iterations.length;
  assert.ok(K >= 10);
  assert.equal(
    p.iterations,
    Array.from({ length: K }, (_, k) => k),
  );
  for (const s of [p.loss, p.gap, p.residual, p.meanResidual, p.gapResidual]) {
    assert.is(s.length, K);
    assert.ok(finite(s));
  }
  assert.ok(p.gap.every((g) => g >= 0) && p.residual.every((r) => r >= 0));
  assert.ok(p.loss.at(-1)! < p.loss[0]! && p.meanResidual.at(-1)! < p.meanResidual[0]!);
  assert.ok(p.gap.at(-1)! < p.gap[0]!, `gap ${p.gap[0]} → ${p.gap.at(-1)}`);
  svgOk(prop2Svg({ panels: [p], settings: { width: 16, iterations: 12, lr: 1, damping: 1e-2, activation: 'tanh' } }), 'prop2');
});

test('overparameterized: traces, top eigenvalues and the final EF/GGN ratio are reported', () => {
  const cfg = { ...OVERPARAM_CONFIGS[0]!, N: 100 };
  const r = overparamSeries(cfg, digits, true);
  const K = r.iterations.length;
  assert.ok(K >= 3 && r.iterations[0] === 0);
  for (const s of [r.trace.ggn, r.trace.ef, r.trace.hessian, r.top.ggn, r.top.ef, r.top.hessian, r.ratio, r.loss, r.accuracy]) {
    assert.is(s.length, K);
    assert.ok(finite(s));
  }
  assert.ok(Number.isFinite(r.finalRatio) && r.finalRatio > 0);
  assert.is(r.finalRatio, r.ratio.at(-1));
  assert.ok(r.trace.ggn.every((t) => t > 0) && r.trace.ef.every((t) => t > 0));
  const lin = overparamSeries({ ...OVERPARAM_CONFIGS[1]!, N: 100 }, digits, true);
  for (let k = 0; k < lin.iterations.length; k++) assert.ok(Math.abs(lin.trace.hessian[k]! - lin.trace.ggn[k]!) < 1e-8 * lin.trace.ggn[k]!, 'linear model: H = GGN');
  const svg = overparameterizedSvg({ settings: { width: 64, iterations: 40, lr: 3e-3, probes: 3, lanczosSteps: 8 }, series: [r, lin] });
  svgOk(svg, 'overparameterized');
  assert.ok(Number(/<svg[^>]*\swidth="(\d+)"/.exec(svg)?.[1]) <= 1200, 'at most 1200 px wide');
});

test('legends: entries spaced by their label length, wrapped into rows, never overlapping', () => {
  const labels = ['‖∇²L − G‖₂ (Lanczos)', 'r(θ)/N = mean |f − y|', 'loss L(θ)', 'EF/GGN: MLP, 200 digits', 'EF/GGN: linear, 200 digits', 'EF/GGN: MLP, 1797 digits'];
  const entries = labels.map((l, i) => ({ label: l, style: styleOf(i, l) }));
  for (const width of [1170, 700, 400, 250]) {
    const L = legendLayout(entries, width);
    const box = entries.map((e, i) => ({ x0: L.x[i]!, x1: L.x[i]! + 40 + labelWidth(e.label), y: L.y[i]! }));
    for (const b of box) assert.ok(b.y > 0 && b.y < L.height, `width ${width}: inside the legend`);
    for (let i = 0; i < box.length; i++)
      for (let j = i + 1; j < box.length; j++) if (box[i]!.y === box[j]!.y) assert.ok(box[i]!.x1 <= box[j]!.x0 || box[j]!.x1 <= box[i]!.x0, `width ${width}: ${labels[i]} and ${labels[j]} overlap`);
    if (width >= 400) for (const b of box) assert.ok(b.x0 >= 0 && b.x1 <= width, `width ${width}: within the figure`);
    if (width <= 700) assert.ok(L.height > 26, `width ${width}: wrapped into rows`);
  }
  // Short labels keep the equal slots of the original layout (one row, 26 px).
  assert.is(legendLayout([{ label: 'GD' }, { label: 'NGD' }], 600).height, 26);
});

test('spectra: two points in time, a density per curvature, PSD GGN/EF', () => {
  const r = spectra(small, true);
  assert.is(r.points.length, 2);
  for (const p of r.points) {
    for (const k of ['hessian', 'ggn', 'empiricalFisher'] as const) {
      const d = p.densities[k];
      assert.is(d.grid.length, d.density.length);
      assert.ok(finite(d.density) && d.density.every((x) => x >= 0));
      assert.is(p.top[k].length, r.settings.k);
      for (let i = 1; i < p.top[k].length; i++) assert.ok(p.top[k][i - 1]! >= p.top[k][i]!);
    }
    assert.ok(p.smallest.ggn > -1e-8 && p.smallest.empiricalFisher > -1e-8);
  }
  svgOk(spectraSvg(r), 'spectra');
});

test('kfac: every method has its best run (gridSearch, 1 and 2 workers alike), KFAC runs have cosines in [−1, 1]', async () => {
  const r = await kfacExperiment(small, true);
  assert.equal(await kfacExperiment(small, true, 0, undefined, undefined, 2), r, 'the same for 2 workers');
  assert.equal(
    r.methods.map((m) => m.name),
    [...KFAC_METHODS],
  );
  for (const m of r.methods) {
    assert.ok(m.grid.length >= 1 && m.loss.length >= 2);
    assert.is(m.accuracy.length, m.loss.length);
    if (m.name.startsWith('KFAC')) {
      assert.ok(m.cosine && m.cosine.cosine.length >= 2);
      assert.ok(m.cosine.cosine.every((c) => c >= -1 - 1e-12 && c <= 1 + 1e-12));
    }
  }
  for (const m of r.methods) {
    const ok = m.grid.filter((g) => g.status === 'ok');
    if (ok.length) assert.is(m.loss.at(-1), Math.min(...ok.map((g) => g.finalLoss)), `${m.name}: the best grid run`);
  }
  const kf = r.methods.find((m) => m.name === 'KFAC (Fisher)')!;
  assert.ok(kf.loss.at(-1)! < kf.loss[0]!);
  svgOk(kfacSvg(r), 'kfac');
});

test('stochastic: batchSize = N reproduces the full-batch runs bit for bit; evaluations count samples', async () => {
  const bc = await loadPaperDataset('BreastCancer', `${ROOT}data`);
  const p = stochasticPanel({ name: 'BreastCancer', X: standardizeColumns(bc.X), y: bc.y, kind: 'logistic' }, true);
  assert.equal(p.batchSizes, [8, 32, 128, 569]);
  assert.is(p.runs.length, 4 * STOCHASTIC_METHODS.length);
  for (const r of p.runs) {
    assert.is(r.losses.length, r.evaluations.length);
    assert.is(r.evaluations[0], 0);
    if (r.status === 'ok') assert.is(r.evaluations.at(-1), p.epochs * p.N);
    if (r.batchSize === p.N) assert.is(r.fullBatchIdentical, true, `${r.method}: B = N is the full-batch run`);
    else assert.is(r.fullBatchIdentical, undefined);
  }
  const dg = stochasticPanel({ name: 'Digits', ...head(digits.X, digits.y, 120), kind: 'mlp' }, true);
  for (const r of dg.runs.filter((x) => x.batchSize === dg.N)) assert.is(r.fullBatchIdentical, true, `digits ${r.method}`);
  svgOk(stochasticSvg([p, dg]), 'stochastic');
});

test('CLI: natgrad reproduce prop2 --quick writes JSON and SVG', () => {
  const out = mkdtempSync(join(tmpdir(), 'natgrad-beyond-'));
  const empty = mkdtempSync(join(tmpdir(), 'natgrad-nodata-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'natgrad.mjs'), 'reproduce', 'prop2', '--quick', '--out', out, '--data', empty], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /prop2: skipping Yacht/);
  const j = JSON.parse(readFileSync(join(out, 'prop2.json'), 'utf8')) as { partial: boolean; panels: { gap: number[]; residual: number[]; iterations: number[] }[] };
  assert.is(j.partial, false);
  assert.is(j.panels.length, 1);
  for (const p of j.panels) {
    assert.is(p.gap.length, p.iterations.length);
    assert.is(p.residual.length, p.iterations.length);
  }
  svgOk(readFileSync(join(out, 'prop2.svg'), 'utf8'), 'prop2.svg');
});

test.run();
