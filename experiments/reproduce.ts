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
  FIG3_DATASETS, FIG3_DIVERGENCE_FACTOR, FIG3_ITERATIONS, fig3Dataset, fig3DatasetJson, fig3Problem, fig3Summary, pow10,
  type Fig3DatasetResult, type Fig3DatasetSpec, type Fig3Variant,
} from './compute/fig3.js';
import { experimentGrid } from './compute/grid.js';
import { startingPoint, startingPointJson, type StartOptimizer } from './compute/startingPoint.js';
import { loadDataset } from './data.js';
import { fig1Svg } from './figures/fig1.js';
import { fig2Svg } from './figures/fig2.js';
import { fig3Svg } from './figures/fig3.js';
import { startingPointSvg } from './figures/startingPoint.js';
import { progressReporter } from './progress.js';

/** The experiments, in the order `all` runs them. */
export const EXPERIMENTS = ['fig1', 'fig2', 'fig2-appendix', 'fig3', 'fig3-appendix', 'starting-point'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

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
        lrs, dampings, iterations: FIG3_ITERATIONS, divergenceFactor: FIG3_DIVERGENCE_FACTOR,
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
  s.options.log(`  grid: ${lrs.length} step sizes × ${dampings.length} dampings${s.options.quick ? ' (--quick: every 8th γ, every 4th λ)' : ' (the paper\'s grid)'}, ` +
    `${FIG3_ITERATIONS} iterations, ${s.options.workers} worker(s)`);
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
    case 'fig1': r = await runFig1(s); break;
    case 'fig2': r = await runFig2(s, 'main'); break;
    case 'fig2-appendix': r = await runFig2(s, 'appendix'); break;
    case 'fig3': r = await runFig3(s, 'main'); break;
    case 'fig3-appendix': r = await runFig3(s, 'appendix'); break;
    case 'starting-point': r = await runStartingPoint(s); break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (r.ran) s.options.log(`  wrote ${r.files.join(', ')} (${seconds.toFixed(2)} s)`);
  else s.options.log(`  nothing to run: every data set of ${name} is missing (${seconds.toFixed(2)} s)`);
  return { name, ...r, seconds };
}
