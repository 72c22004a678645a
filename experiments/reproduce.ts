/**
 * `natgrad reproduce`: runs the paper's experiments, writes `<out>/<experiment>.json` and
 * `<out>/<experiment>.svg`, and prints a summary per experiment (Node only; the numbers come
 * from ./compute, the figures from ./figures).
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fig1, fig1Json } from './compute/fig1.js';
import { fig2, fig2Json, type Fig2Variant } from './compute/fig2.js';
import {
  FIG3_DATASETS,
  FIG3_DIVERGENCE_FACTOR,
  FIG3_ITERATIONS,
  fig3Dataset,
  fig3DatasetJson,
  fig3Problem,
  fig3Summary,
  pow10,
  type Fig3DatasetResult,
  type Fig3DatasetSpec,
  type Fig3Variant,
} from './compute/fig3.js';
import { experimentGrid } from './compute/grid.js';
import { startingPoint, startingPointJson, type StartOptimizer } from './compute/startingPoint.js';
import { loadDataset } from './data.js';
import { fig1Svg } from './figures/fig1.js';
import { fig2Svg } from './figures/fig2.js';
import { fig3Svg } from './figures/fig3.js';
import { startingPointSvg } from './figures/startingPoint.js';
import { progressReporter } from './progress.js';
import { loadDigits, loadFashionMnist, type DenseMatrix } from 'natgrad';
import { kfacExperiment, type KfacResult } from './compute/kfac.js';
import { standardizeColumns } from './compute/lib.js';
import { OVERPARAM_CONFIGS, overparamSeries, overparamSettings, type OverparamSeries } from './compute/overparameterized.js';
import { prop2Panel, prop2Settings, sinePanelData, uciPanelData, type Prop2Panel } from './compute/prop2.js';
import { spectra, SPECTRA_KINDS } from './compute/spectra.js';
import { stochasticPanel, stochasticRunCount, stochasticSettings, type StochasticDataset, type StochasticPanel } from './compute/stochastic.js';
import { kfacSvg } from './figures/kfac.js';
import { CURVATURE_LABEL, digitsSetting, fashionSetting, laplaceExperiment, laplaceSettings, moonsSetting, type LaplaceResult, type LaplaceSettingData } from './compute/laplace.js';
import { laplaceSvg } from './figures/laplace.js';
import { overparameterizedSvg } from './figures/overparameterized.js';
import { prop2Svg } from './figures/prop2.js';
import { spectraSvg } from './figures/spectra.js';
import { stochasticSvg } from './figures/stochastic.js';

/** The paper's experiments, in the order `all` runs them. */
export const EXPERIMENTS = ['fig1', 'fig2', 'fig2-appendix', 'fig3', 'fig3-appendix', 'starting-point'] as const;
/** The experiments beyond the paper (issue 12), in the order `beyond` runs them. */
export const BEYOND_EXPERIMENTS = ['prop2', 'overparameterized', 'spectra', 'kfac', 'stochastic'] as const;
/** The Laplace experiment (issue 20): run by name only, not part of `all` or `beyond`. */
export const LAPLACE_EXPERIMENTS = ['laplace'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number] | (typeof BEYOND_EXPERIMENTS)[number] | (typeof LAPLACE_EXPERIMENTS)[number];

export interface ReproduceOptions {
  out: string;
  /** directory with a1a and uci/ (and optionally the scikit-learn CSVs); undefined = none */
  dataDir: string | undefined;
  workers: number;
  quick: boolean;
  signal?: AbortSignal;
  /** summary lines (stdout) */
  log: (line: string) => void;
  /** warnings (stderr) */
  warn: (line: string) => void;
  /** no progress output (tests) */
  quietProgress?: boolean;
  /** restrict fig3 / fig3-appendix to these data sets (all when undefined) */
  datasets?: readonly string[];
}

/** What one experiment did. */
export interface ExperimentOutcome {
  name: ExperimentName;
  /** false when nothing of it could run (every panel's data missing) */
  ran: boolean;
  files: string[];
  warnings: string[];
  seconds: number;
}

/** State shared between the experiments of one invocation (grid results are reused). */
export class Session {
  readonly fig3Cache = new Map<string, Fig3DatasetResult>();
  constructor(readonly options: ReproduceOptions) {}

  write(file: string, content: string): string {
    mkdirSync(this.options.out, { recursive: true });
    const path = join(this.options.out, file);
    writeFileSync(path, content);
    return path;
  }

  writeJson(file: string, value: unknown): string {
    // NaN and ±Infinity become null (JSON has no such numbers). Small documents are indented.
    const compact = JSON.stringify(value);
    return this.write(file, `${compact.length < 20_000 ? JSON.stringify(value, null, 2) : compact}\n`);
  }

  grid() {
    return experimentGrid(this.options.quick);
  }

  /** The Fig. 3 grid search on one data set (cached across experiments); undefined when its data are missing. */
  async fig3(spec: Fig3DatasetSpec, warnings: string[], label: string): Promise<Fig3DatasetResult | undefined> {
    const { name } = spec;
    const cached = this.fig3Cache.get(name);
    if (cached) return cached;
    const loaded = await loadDataset(name, this.options.dataDir);
    if ('missing' in loaded) {
      const w = `${label}: skipping ${name}: ${loaded.missing}`;
      warnings.push(w);
      this.options.warn(`warning: ${w}`);
      return undefined;
    }
    const { lrs, dampings } = this.grid();
    const progress = progressReporter(`${label} ${name}`, process.stderr, this.options.quietProgress);
    try {
      const r = await fig3Dataset(spec, loaded.dataset.X, loaded.dataset.y, {
        lrs,
        dampings,
        iterations: FIG3_ITERATIONS,
        divergenceFactor: FIG3_DIVERGENCE_FACTOR,
        workers: this.options.workers,
        onProgress: (p) => progress.update(p),
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
      this.fig3Cache.set(name, r);
      return r;
    } finally {
      progress.stop();
    }
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : v.toFixed(4)) : String(v);
}

function fmtVec(v: readonly number[]): string {
  return `[${v.map(fmt).join(', ')}]`;
}

async function runFig1(s: Session): Promise<Omit<ExperimentOutcome, 'name' | 'seconds'>> {
  const r = fig1();
  const files = [s.writeJson('fig1.json', fig1Json(r)), s.write('fig1.svg', fig1Svg(r))];
  s.options.log(`  θ* = ${fmtVec(r.thetaStar)} (b, θ)`);
  for (const name of ['GD', 'NGD', 'EF'] as const) {
    const ends = r.trajectories[name].map((t) => `${fmtVec(t.start)} → ${fmtVec(t.end)}`).join('; ');
    s.options.log(`  ${name.padEnd(3)} paths: ${ends}`);
  }
  return { ran: true, files, warnings: [] };
}

async function runFig2(s: Session, variant: Fig2Variant): Promise<Omit<ExperimentOutcome, 'name' | 'seconds'>> {
  const r = fig2(variant);
  const base = variant === 'main' ? 'fig2' : 'fig2-appendix';
  const files = [s.writeJson(`${base}.json`, fig2Json(r)), s.write(`${base}.svg`, fig2Svg(r))];
  for (const p of r.panels) {
    const m = (M: number[][]) => `[[${M[0]!.map(fmt).join(', ')}], [${M[1]!.map(fmt).join(', ')}]]`;
    s.options.log(`  ${p.name} (${p.title}): θ* = ${fmtVec(p.thetaStar)}, L(θ*) = ${fmt(p.lossAtOptimum)}, N·H = ${m(p.hessianTimesN)}, N·F̃ = ${m(p.empiricalFisherTimesN)}`);
  }
  return { ran: true, files, warnings: [] };
}

async function runFig3(s: Session, variant: Fig3Variant): Promise<Omit<ExperimentOutcome, 'name' | 'seconds'>> {
  const base = variant === 'main' ? 'fig3' : 'fig3-appendix';
  const warnings: string[] = [];
  const { lrs, dampings } = s.grid();
  const t0 = performance.now();
  const results: Fig3DatasetResult[] = [];
  s.options.log(
    `  grid: ${lrs.length} step sizes × ${dampings.length} dampings${s.options.quick ? ' (--quick: every 8th γ, every 4th λ)' : " (the paper's grid)"}, ` +
      `${FIG3_ITERATIONS} iterations, ${s.options.workers} worker(s)`,
  );
  const specs = FIG3_DATASETS[variant].filter((d) => !s.options.datasets || s.options.datasets.includes(d.name));
  if (specs.length === 0) {
    s.options.log(`  none of --datasets ${s.options.datasets!.join(',')} is part of ${base} (${FIG3_DATASETS[variant].map((d) => d.name).join(', ')})`);
    return { ran: false, files: [], warnings };
  }
  for (const spec of specs) {
    const r = await s.fig3(spec, warnings, base);
    if (!r) continue;
    results.push(r);
    for (const line of fig3Summary(r)) s.options.log(`  ${line}`);
  }
  if (results.length === 0) return { ran: false, files: [], warnings };
  const seconds = (performance.now() - t0) / 1000;
  const datasets: Record<string, unknown> = {};
  for (const r of results) datasets[r.name] = fig3DatasetJson(r);
  const skipped = specs.length - results.length;
  const files = [
    s.writeJson(`${base}.json`, { grid: { lrs, dampings, iterations: FIG3_ITERATIONS }, datasets, seconds }),
    s.write(`${base}.svg`, fig3Svg(variant, results, FIG3_ITERATIONS, s.options.quick ? ' (--quick grid)' : '')),
  ];
  if (skipped) s.options.log(`  (${skipped} data set(s) skipped: see the warnings)`);
  return { ran: true, files, warnings };
}

async function runStartingPoint(s: Session): Promise<Omit<ExperimentOutcome, 'name' | 'seconds'>> {
  const warnings: string[] = [];
  // The paper uses Boston; its code's later version, Wine. Boston first, Wine if Boston is missing.
  for (const name of ['Boston', 'Wine'] as const) {
    const best = await s.fig3({ name, likelihood: 'gaussian' }, warnings, 'starting-point');
    if (!best) continue;
    const loaded = await loadDataset(name, s.options.dataDir);
    if ('missing' in loaded) continue;
    const problem = fig3Problem(loaded.dataset.X, loaded.dataset.y, 'gaussian');
    try {
      const hp = {} as Record<StartOptimizer, { lr: number; damping: number }>;
      for (const o of ['NGD', 'EFGD'] as const) hp[o] = { lr: best.best[o].lr, damping: best.best[o].damping! };
      const r = startingPoint(name, problem, hp);
      const files = [s.writeJson('starting-point.json', startingPointJson(r)), s.write('starting-point.svg', startingPointSvg(r))];
      s.options.log(`  ${name}: L(θ*) = ${fmt(r.lossAtOptimum)}; best NGD γ = ${pow10(hp.NGD.lr)}, λ = ${pow10(hp.NGD.damping)}; best EFGD γ = ${pow10(hp.EFGD.lr)}, λ = ${pow10(hp.EFGD.damping)}`);
      for (const o of ['NGD', 'EFGD'] as const) {
        s.options.log(`    ${o.padEnd(4)} loss after 20 its from c·θ*, c = ${r.factors.join(', ')}: ${r.losses[o].map((l) => fmt(l[l.length - 1]!)).join(', ')}`);
      }
      for (const o of ['NGD', 'EFGD'] as const) {
        s.options.log(`    1-D ${o.padEnd(4)} loss after 10 its from θ0 = ${r.oneD.starts.join(', ')}: ${r.oneD.losses[o].map((l) => fmt(l[l.length - 1]!)).join(', ')} (minimum 0.125)`);
      }
      return { ran: true, files, warnings };
    } finally {
      problem.free();
    }
  }
  return { ran: false, files: [], warnings };
}

/** Run one experiment: its files, summary and warnings. */
export async function runExperiment(s: Session, name: ExperimentName): Promise<ExperimentOutcome> {
  const t0 = performance.now();
  s.options.log(`== ${name}`);
  let r: Omit<ExperimentOutcome, 'name' | 'seconds'>;
  switch (name) {
    case 'fig1':
      r = await runFig1(s);
      break;
    case 'fig2':
      r = await runFig2(s, 'main');
      break;
    case 'fig2-appendix':
      r = await runFig2(s, 'appendix');
      break;
    case 'fig3':
      r = await runFig3(s, 'main');
      break;
    case 'fig3-appendix':
      r = await runFig3(s, 'appendix');
      break;
    case 'starting-point':
      r = await runStartingPoint(s);
      break;
    case 'prop2':
      r = await runProp2(s);
      break;
    case 'overparameterized':
      r = await runOverparameterized(s);
      break;
    case 'spectra':
      r = await runSpectra(s);
      break;
    case 'kfac':
      r = await runKfac(s);
      break;
    case 'stochastic':
      r = await runStochastic(s);
      break;
    case 'laplace':
      r = await runLaplace(s);
      break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (r.ran) s.options.log(`  wrote ${r.files.join(', ')} (${seconds.toFixed(2)} s)`);
  else s.options.log(`  nothing to run: every data set of ${name} is missing (${seconds.toFixed(2)} s)`);
  return { name, ...r, seconds };
}

// ---------------------------------------------------------------------------------------------
// Beyond the paper (issue 12): prop2, overparameterized, spectra, kfac, stochastic. Each writes
// its JSON after every finished panel, so an interrupted run keeps what it has (`"partial": true`).
// ---------------------------------------------------------------------------------------------

type Outcome = Omit<ExperimentOutcome, 'name' | 'seconds'>;
const SEED = 0;

function skip(s: Session, warnings: string[], label: string, what: string): void {
  const w = `${label}: skipping ${what}`;
  warnings.push(w);
  s.options.warn(`warning: ${w}`);
}

/** Run `body` with a progress bar; the bar is stopped whatever happens. */
async function withProgress<T>(s: Session, label: string, body: (update: (p: { done: number; total: number }) => void) => T | Promise<T>): Promise<T> {
  const progress = progressReporter(label, process.stderr, s.options.quietProgress);
  try {
    return await body((p) => progress.update(p));
  } finally {
    progress.stop();
  }
}

async function digits(): Promise<{ X: DenseMatrix; y: Float64Array }> {
  const d = await loadDigits();
  return { X: d.X, y: d.y };
}

async function runProp2(s: Session): Promise<Outcome> {
  const warnings: string[] = [];
  const panels: Prop2Panel[] = [];
  const settings = prop2Settings(s.options.quick);
  const data = [sinePanelData(s.options.quick, SEED)];
  for (const name of ['Yacht', 'Energy'] as const) {
    const loaded = await loadDataset(name, s.options.dataDir);
    if ('missing' in loaded) skip(s, warnings, 'prop2', `${name}: ${loaded.missing}`);
    else data.push(uciPanelData(name, loaded.dataset.X as DenseMatrix, loaded.dataset.y));
  }
  const files: string[] = [];
  const json = (partial: boolean) => ({ settings, panels, partial });
  for (const d of data) {
    const p = await withProgress(s, `prop2 ${d.name}`, (update) => prop2Panel(d, s.options.quick, SEED, s.options.signal, update));
    panels.push(p);
    s.writeJson('prop2.json', json(true));
    const last = p.iterations.length - 1;
    s.options.log(
      `  ${p.name} (N = ${p.N}, D = ${p.D}): loss ${fmt(p.loss[0]!)} → ${fmt(p.loss[last]!)}, ‖∇²L − G‖₂ ${fmt(p.gap[0]!)} → ${fmt(p.gap[last]!)}, r(θ)/N ${fmt(p.meanResidual[0]!)} → ${fmt(p.meanResidual[last]!)} (${p.iterations.length} iterates, NGD ${p.status})`,
    );
  }
  files.push(s.writeJson('prop2.json', json(false)), s.write('prop2.svg', prop2Svg({ settings, panels })));
  return { ran: true, files, warnings };
}

async function runOverparameterized(s: Session): Promise<Outcome> {
  const d = await digits();
  const settings = overparamSettings(s.options.quick);
  const series: OverparamSeries[] = [];
  const json = (partial: boolean) => ({
    settings,
    series,
    partial,
    interpolating: series.filter((x) => OVERPARAM_CONFIGS.find((c) => c.name === x.name)?.interpolating).map((x) => ({ name: x.name, finalRatio: x.finalRatio })),
  });
  for (const cfg of OVERPARAM_CONFIGS) {
    const r = await withProgress(s, `overparam. ${cfg.name}`, (update) => overparamSeries(cfg, d, s.options.quick, SEED, s.options.signal, update));
    series.push(r);
    s.writeJson('overparameterized.json', json(true));
    const k = r.iterations.length - 1;
    s.options.log(
      `  ${r.name} (D = ${r.D}): loss ${fmt(r.loss[k]!)}, accuracy ${fmt(r.accuracy[k]!)}; tr H ${fmt(r.trace.hessian[k]!)} ± ${fmt(r.trace.hessianStandardError[k]!)}, tr GGN ${fmt(r.trace.ggn[k]!)}, tr EF ${fmt(r.trace.ef[k]!)}; ` +
        `λmax H ${fmt(r.top.hessian[k]!)}, GGN ${fmt(r.top.ggn[k]!)}, EF ${fmt(r.top.ef[k]!)}; final tr EF / tr GGN = ${fmt(r.finalRatio)}`,
    );
  }
  const files = [s.writeJson('overparameterized.json', json(false)), s.write('overparameterized.svg', overparameterizedSvg({ settings, series }))];
  return { ran: true, files, warnings: [] };
}

async function runSpectra(s: Session): Promise<Outcome> {
  const d = await digits();
  const r = await withProgress(s, 'spectra', (update) => spectra(d, s.options.quick, SEED, s.options.signal, update));
  for (const p of r.points) {
    s.options.log(`  ${p.label}: loss ${fmt(p.loss)}, accuracy ${fmt(p.accuracy)}`);
    for (const k of SPECTRA_KINDS) s.options.log(`    ${k.padEnd(15)} top-${r.settings.k}: ${fmtVec(p.top[k])}, smallest ${fmt(p.smallest[k])}, SLQ trace ${fmt(p.densities[k].trace)}`);
  }
  return { ran: true, files: [s.writeJson('spectra.json', r), s.write('spectra.svg', spectraSvg(r))], warnings: [] };
}

async function runKfac(s: Session): Promise<Outcome> {
  const d = await digits();
  const r: KfacResult = await withProgress(s, 'kfac grid', (update) => kfacExperiment(d, s.options.quick, SEED, s.options.signal, update, s.options.workers));
  for (const m of r.methods) {
    const cosStr = m.cosine ? `, cos to (F + λI)⁻¹∇L ${m.cosine.cosine.map((c) => c.toFixed(3)).join(' ')} at iterations ${m.cosine.iterations.join(' ')}` : '';
    s.options.log(`  ${m.name.padEnd(16)} γ = ${m.lr}${m.damping === null ? '' : `, λ = ${m.damping}`}: loss ${fmt(m.loss.at(-1)!)}, accuracy ${fmt(m.accuracy.at(-1) ?? NaN)} (${m.status})${cosStr}`);
  }
  return { ran: true, files: [s.writeJson('kfac.json', r), s.write('kfac.svg', kfacSvg(r))], warnings: [] };
}

async function runStochastic(s: Session): Promise<Outcome> {
  const warnings: string[] = [];
  const sets: StochasticDataset[] = [];
  const bc = await loadDataset('BreastCancer', s.options.dataDir);
  if (!('missing' in bc)) sets.push({ name: 'BreastCancer', X: standardizeColumns(bc.dataset.X as DenseMatrix), y: bc.dataset.y, kind: 'logistic' });
  const a1a = await loadDataset('a1a', s.options.dataDir);
  if ('missing' in a1a) skip(s, warnings, 'stochastic', `a1a: ${a1a.missing}`);
  else sets.push({ name: 'a1a', X: a1a.dataset.X, y: a1a.dataset.y.map((v) => (v > 0 ? 1 : 0)), kind: 'logistic' });
  const d = await digits();
  sets.push({ name: 'Digits', X: d.X, y: d.y, kind: 'mlp' });
  const settings = stochasticSettings(s.options.quick);
  const panels: StochasticPanel[] = [];
  const json = (partial: boolean) => ({ settings: { ...settings, batchSizes: settings.batchSizes.map((b) => (Number.isFinite(b) ? b : 'N')) }, panels, partial });
  const total = stochasticRunCount(s.options.quick, sets.length);
  await withProgress(s, 'stochastic', (update) => {
    let done = 0;
    for (const set of sets) {
      panels.push(stochasticPanel(set, s.options.quick, SEED, s.options.signal, () => update({ done: ++done, total })));
      s.writeJson('stochastic.json', json(true));
    }
  });
  for (const p of panels) {
    s.options.log(`  ${p.name} (N = ${p.N}, D = ${p.D}, ${p.epochs} epoch(s)): final full-data loss per batch size, best γ`);
    for (const B of p.batchSizes) {
      const runs = p.runs.filter((r) => r.batchSize === B);
      const same = runs.every((r) => r.fullBatchIdentical !== false);
      s.options.log(
        `    B = ${String(B).padStart(4)}: ${runs.map((r) => `${r.method} ${fmt(r.losses.at(-1)!)}${r.status === 'ok' ? '' : ` (${r.status})`}`).join(', ')}` +
          (B === p.N ? `; B = N equals the full-batch runs bit for bit: ${same ? 'yes' : 'NO'}` : ''),
      );
    }
  }
  return { ran: true, files: [s.writeJson('stochastic.json', json(false)), s.write('stochastic.svg', stochasticSvg(panels))], warnings };
}

// ---------------------------------------------------------------------------------------------
// The paper's question asked of the Laplace approximation (issue 20): GGN vs MC Fisher vs EF
// posteriors on digits, Fashion-MNIST and two moons. Writes its JSON after every setting.
// ---------------------------------------------------------------------------------------------

async function runLaplace(s: Session): Promise<Outcome> {
  const warnings: string[] = [];
  const quick = s.options.quick;
  const sets: LaplaceSettingData[] = [digitsSetting(await loadDigits(), quick, SEED)];
  const fs = laplaceSettings(quick).fashion;
  try {
    const [train, test] = await Promise.all([loadFashionMnist({ split: 'train', limit: fs.train }), loadFashionMnist({ split: 'test', limit: fs.test })]);
    sets.push(fashionSetting(train, test, quick));
  } catch (e) {
    skip(s, warnings, 'laplace', `Fashion-MNIST: ${(e as Error).message}`);
  }
  sets.push(moonsSetting(quick, SEED));
  const r: LaplaceResult = await withProgress(s, 'laplace', (update) => laplaceExperiment(sets, quick, SEED, s.options.signal, update, (partial) => s.writeJson('laplace.json', partial)));
  const f = (v: number | null, d = 3) => (v === null ? '—' : Number.isFinite(v) ? v.toFixed(d) : String(v));
  for (const p of r.panels) {
    s.options.log(
      `  ${p.title}, D = ${p.D}: MAP train loss ${fmt(p.train.lossFinal)} (${p.train.status}), train accuracy ${f(p.train.accuracy)}; OOD: ${p.ood}${p.skipped.length ? `; skipped ${p.skipped.join(', ')}` : ''}`,
    );
    s.options.log(
      `    ${'posterior'.padEnd(22)} ${'δ'.padStart(9)} ${'log Z'.padStart(10)} ${'acc'.padStart(6)} ${'NLL'.padStart(6)} ${'ECE'.padStart(6)} ${'H in'.padStart(6)} ${'H ood'.padStart(6)} ${'AUROC'.padStart(6)}`,
    );
    for (const row of p.rows) {
      const name = row.method === 'MAP' ? 'MAP' : `${CURVATURE_LABEL[row.curvature!]} ${row.structure}`;
      const m = row.metrics;
      s.options.log(
        `    ${name.padEnd(22)} ${row.priorPrecision.toPrecision(3).padStart(9)} ${f(row.logMarginalLikelihood, 1).padStart(10)} ${f(m.accuracy).padStart(6)} ${f(m.nll).padStart(6)} ${f(m.ece).padStart(6)} ${f(m.entropyIn).padStart(6)} ${f(m.entropyOod).padStart(6)} ${f(m.aurocMaxProb).padStart(6)}` +
          (row.converged === false ? ' (prior optimization not converged)' : ''),
      );
    }
  }
  return { ran: true, files: [s.writeJson('laplace.json', r), s.write('laplace.svg', laplaceSvg(r))], warnings };
}
