// `natgrad reproduce` end to end: spawn bin/natgrad.mjs (the built dist/) in --quick mode, check
// the JSON against the schema, the SVGs as XML with their panels, the missing-data path
// (warning, exit 0; exit 1 when nothing can run) and the usage errors (exit 2).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { HAS_SHARED_DATA, ROOT, SHARED_DATA } from './setup.js';

const BIN = join(ROOT, 'bin', 'natgrad.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'natgrad-cli-'));
const empty = mkdtempSync(join(tmpdir(), 'natgrad-nodata-'));

function natgrad(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------------------------------------
// Schema checks
// ---------------------------------------------------------------------------------------------

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown) => v === null || isNum(v);
function vec(v: unknown, n?: number, msg = ''): number[] {
  assert.ok(Array.isArray(v) && (n === undefined || v.length === n) && v.every(isNum), `${msg}: expected number[${n ?? ''}], got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v as number[];
}
function mat(v: unknown, r: number, c: number, msg: string): void {
  assert.ok(Array.isArray(v) && v.length === r, `${msg}: ${r} rows`);
  (v as unknown[]).forEach((row, i) => vec(row, c, `${msg}[${i}]`));
}
function keys(o: unknown, expected: string[], msg: string): Record<string, unknown> {
  assert.ok(o !== null && typeof o === 'object' && !Array.isArray(o), `${msg}: object`);
  assert.equal(Object.keys(o as object).sort(), [...expected].sort(), `${msg} keys`);
  return o as Record<string, unknown>;
}
function readJson(name: string): unknown {
  return JSON.parse(readFileSync(join(tmp, name), 'utf8'));
}

function checkFig1(j: unknown): void {
  const o = keys(j, ['thetaStar', 'grid', 'fields', 'trajectories'], 'fig1');
  vec(o.thetaStar, 2, 'thetaStar');
  const g = keys(o.grid, ['b', 'theta'], 'grid');
  vec(g.b, 15, 'grid.b');
  vec(g.theta, 15, 'grid.theta');
  const f = keys(o.fields, ['GD', 'NGD', 'EF'], 'fields');
  for (const [name, field] of Object.entries(f)) {
    assert.ok(Array.isArray(field) && field.length === 15, `fields.${name}: 15 rows`);
    (field as unknown[]).forEach((row, i) => {
      assert.ok(Array.isArray(row) && row.length === 15, `fields.${name}[${i}]: 15 columns`);
      (row as unknown[]).forEach((v, k) => vec(v, 2, `fields.${name}[${i}][${k}]`));
    });
  }
  const t = keys(o.trajectories, ['GD', 'NGD', 'EF'], 'trajectories');
  for (const [name, list] of Object.entries(t)) {
    assert.ok(Array.isArray(list) && list.length === 4, `${name}: 4 paths`);
    for (const tr of list as unknown[]) {
      const p = keys(tr, ['start', 'end', 'points'], `${name} path`);
      vec(p.start, 2, 'start');
      vec(p.end, 2, 'end');
      assert.ok(Array.isArray(p.points) && p.points.length > 100);
      (p.points as unknown[]).forEach((q) => vec(q, 2, 'point'));
    }
  }
}

function checkFig2(j: unknown, names: string[]): void {
  const o = keys(j, ['datasets'], 'fig2');
  const d = keys(o.datasets, names, 'fig2 datasets');
  for (const [name, v] of Object.entries(d)) {
    const e = keys(v, ['thetaStar', 'hessianTimesN', 'empiricalFisherTimesN', 'lossAtOptimum'], name);
    vec(e.thetaStar, 2, `${name}.thetaStar`);
    mat(e.hessianTimesN, 2, 2, `${name}.hessianTimesN`);
    mat(e.empiricalFisherTimesN, 2, 2, `${name}.empiricalFisherTimesN`);
    assert.ok(isNum(e.lossAtOptimum));
  }
}

function checkFig3(j: unknown, names: string[]): void {
  const o = keys(j, ['grid', 'datasets', 'seconds'], 'fig3');
  const g = keys(o.grid, ['lrs', 'dampings', 'iterations'], 'fig3 grid');
  assert.is(vec(g.lrs, 31, 'lrs')[0], 1e-20);
  vec(g.dampings, 11, 'dampings');
  assert.is(g.iterations, 100);
  assert.ok(isNum(o.seconds));
  const d = keys(o.datasets, names, 'fig3 datasets');
  for (const [name, v] of Object.entries(d)) {
    const e = keys(v, ['N', 'D', 'best', 'cosines'], name);
    assert.ok(Number.isInteger(e.N) && Number.isInteger(e.D));
    const best = keys(e.best, ['GD', 'NGD', 'EFGD'], `${name}.best`);
    for (const [opt, b] of Object.entries(best)) {
      const r = keys(b, ['lr', 'damping', 'losses'], `${name}.${opt}`);
      assert.ok(isNum(r.lr));
      assert.ok(opt === 'GD' ? r.damping === null : isNum(r.damping), `${name}.${opt}.damping`);
      vec(r.losses, undefined, `${name}.${opt}.losses`);
    }
    assert.ok(Array.isArray(e.cosines) && e.cosines.length > 1 && e.cosines.every(isNumOrNull), `${name}.cosines`);
  }
}

function checkStartingPoint(j: unknown): void {
  const o = keys(j, ['dataset', 'factors', 'losses', 'oneD'], 'starting-point');
  assert.is(o.dataset, 'Boston');
  assert.equal(o.factors, [0.875, 0.75, 0.5, 0]);
  const l = keys(o.losses, ['NGD', 'EFGD'], 'losses');
  for (const runs of Object.values(l)) mat(runs, 4, 21, 'losses');
  const one = keys(o.oneD, ['starts', 'losses'], 'oneD');
  assert.equal(one.starts, [0.5, 1, 2, 4]);
  const ol = keys(one.losses, ['NGD', 'EFGD'], 'oneD.losses');
  for (const runs of Object.values(ol)) mat(runs, 4, 11, 'oneD.losses');
}

/** Parse an SVG file as XML; return its aria-labels. */
function svgLabels(name: string): string[] {
  const text = readFileSync(join(tmp, name), 'utf8');
  const valid = XMLValidator.validate(text);
  assert.ok(valid === true, `${name} is not well-formed XML: ${JSON.stringify(valid)}`);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(text) as Record<string, Record<string, unknown>>;
  const svg = doc.svg!;
  assert.ok(svg, `${name}: root element <svg>`);
  assert.is(svg['@xmlns'], 'http://www.w3.org/2000/svg');
  const labels: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      for (const [k, v] of Object.entries(n)) {
        if (k === '@aria-label' && typeof v === 'string') labels.push(v);
        else walk(v);
      }
    }
  };
  walk(svg);
  return labels;
}

function hasAll(labels: string[], expected: string[], file: string): void {
  for (const e of expected) assert.ok(labels.includes(e), `${file}: no element labelled "${e}" (have ${[...new Set(labels)].filter((l) => l.startsWith('panel')).join(' | ')})`);
}

// ---------------------------------------------------------------------------------------------

test('reproduce all --quick with no a1a/UCI data: every experiment runs, missing sets are warnings, exit 0', () => {
  const r = natgrad('reproduce', 'all', '--quick', '--out', tmp, '--data', empty, '--workers', '2');
  assert.is(r.status, 0, r.stderr);
  // missing files: which, where to get them, where natgrad looked
  for (const [set, file] of [
    ['a1a', 'a1a'],
    ['Energy', 'uci/energy'],
    ['Powerplant', 'uci/power-plant'],
    ['Yacht', 'uci/yacht'],
  ] as const) {
    const line = r.stderr.split('\n').find((l) => l.startsWith('warning:') && l.includes(`skipping ${set}:`));
    assert.ok(line, `warning for ${set} in:\n${r.stderr}`);
    assert.ok(line!.includes(join(empty, file)) && /https:\/\//.test(line!), line);
  }
  // the summary: Fig. 3's best γ and λ as 10^x per data set and optimizer, and the times
  assert.match(r.stdout, /BreastCancer --- Best hyperparameters/);
  assert.match(r.stdout, /NGD: gamma = 10\^-?\d+\.\d{3}, lambda = 10\^-?\d+\.\d{3}/);
  assert.match(r.stdout, /GD: gamma = 10\^-?\d+\.\d{3}, lambda = 10\^nan/);
  assert.match(r.stdout, /== done: 6\/6 experiment\(s\)/);
  for (const e of ['fig1', 'fig2', 'fig2-appendix', 'fig3', 'fig3-appendix', 'starting-point']) assert.match(r.stdout, new RegExp(`^  ${e}\\s+\\d+\\.\\d+ s$`, 'm'));

  checkFig1(readJson('fig1.json'));
  checkFig2(readJson('fig2.json'), ['wellSpecified', 'misspecifiedA', 'misspecifiedB']);
  checkFig2(readJson('fig2-appendix.json'), ['linregCorrect', 'linregMissNoise', 'linregMissModel']);
  checkFig3(readJson('fig3.json'), ['BreastCancer', 'Boston', 'Wine']);
  checkFig3(readJson('fig3-appendix.json'), ['Wine']);
  checkStartingPoint(readJson('starting-point.json'));

  hasAll(svgLabels('fig1.svg'), ['panel Dataset', 'panel GD', 'panel NGD', 'panel EF', 'legend'], 'fig1.svg');
  for (const [file, titles] of [
    ['fig2.svg', ['Correct', 'Misspecified (A)', 'Misspecified (B)']],
    ['fig2-appendix.svg', ['Correct', 'Misspecified (A): noise', 'Misspecified (B): model']],
  ] as const) {
    hasAll(svgLabels(file), [...titles.flatMap((t) => [`panel ${t} data`, `panel ${t} quadratic approximation`]), 'legend'], file);
  }
  hasAll(svgLabels('fig3.svg'), ['BreastCancer', 'Boston', 'Wine'].flatMap((d) => [`panel ${d} loss`, `panel ${d} cosine`]).concat('legend'), 'fig3.svg');
  assert.not.ok(svgLabels('fig3.svg').includes('panel a1a loss'));
  hasAll(svgLabels('fig3-appendix.svg'), ['panel Wine loss', 'panel Wine cosine'], 'fig3-appendix.svg');
  hasAll(svgLabels('starting-point.svg'), ['panel Boston', 'panel 1-D', 'legend'], 'starting-point.svg');
  // readable figures: titles and axis labels are there as text
  const fig3 = readFileSync(join(tmp, 'fig3.svg'), 'utf8');
  for (const s of ['Iteration', 'Loss', 'Cosine (NGD, EF)', 'BreastCancer (N = 569, D = 31)', '>GD<', '>NGD<', '>EFGD<']) assert.ok(fig3.includes(s), `fig3.svg shows "${s}"`);
});

test('nothing could run: exit 1 with a message', () => {
  const r = natgrad('reproduce', 'fig3', '--quick', '--out', join(tmp, 'none'), '--data', empty, '--datasets', 'a1a');
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /skipping a1a: data file not found/);
  assert.match(r.stderr, /nothing could run/);
});

if (HAS_SHARED_DATA) {
  test('--data ../shared/datasets: the UCI sets load from it', () => {
    const out = join(tmp, 'shared');
    const r = natgrad('reproduce', 'fig3-appendix', '--quick', '--out', out, '--data', SHARED_DATA, '--datasets', 'Yacht');
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stderr, /warning/);
    const j = JSON.parse(readFileSync(join(out, 'fig3-appendix.json'), 'utf8')) as { datasets: Record<string, { N: number; D: number }> };
    assert.equal(Object.keys(j.datasets), ['Yacht']);
    assert.is(j.datasets.Yacht!.N, 308);
    assert.is(j.datasets.Yacht!.D, 7);
  });
}

// End to end, the threaded core changes no bit: every beyond-the-paper experiment (networks:
// Prop. 2, over-parameterization, spectra, KFAC, stochastic) writes byte-identical JSON and SVG on
// 1 and on 2 threads. Runs in the 2-thread suites (once per binary; ~25 s).
if (process.env.NATGRAD_THREADS === '2') {
  test('reproduce beyond --quick: byte-identical JSON and SVG on 1 and 2 threads', () => {
    const relaxed = process.env.NATGRAD_VARIANT === 'relaxed-simd' && Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
    const files: Record<string, string>[] = [];
    for (const t of ['1', '2']) {
      const out = join(tmp, `threads-${t}`);
      const r = spawnSync(process.execPath, [...relaxed, BIN, 'reproduce', 'beyond', '--quick', '--threads', t, '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`on ${t} thread\\(s\\)`));
      const got: Record<string, string> = {};
      for (const name of ['prop2', 'overparameterized', 'spectra', 'kfac', 'stochastic']) {
        for (const ext of ['json', 'svg']) got[`${name}.${ext}`] = readFileSync(join(out, `${name}.${ext}`), 'utf8');
      }
      files.push(got);
    }
    for (const k of Object.keys(files[0]!)) assert.ok(files[0]![k] === files[1]![k], `${k} differs between 1 and 2 threads`);
  });
}

test('--version and -v print the version of package.json and exit 0', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-v']) {
    const r = natgrad(flag);
    assert.is(r.status, 0, `natgrad ${flag}: ${r.stderr}`);
    assert.is(r.stdout, `${version}\n`);
    assert.is(r.stderr, '');
  }
  assert.match(natgrad('--help').stdout, /-v, --version\s+print the version of natgrad/);
});

test('not a terminal: one progress line per grid search, no bars or percentages', () => {
  // spawnSync pipes stdout and stderr: neither is a TTY.
  const r = natgrad('reproduce', 'fig3', '--quick', '--datasets', 'Wine,Boston', '--workers', '1', '--out', join(tmp, 'progress'));
  assert.is(r.status, 0, r.stderr);
  const err = r.stderr.split('\n').filter(Boolean);
  assert.is(err.length, 2, `stderr:\n${r.stderr}`);
  for (const name of ['Boston', 'Wine'])
    assert.ok(
      err.some((l) => new RegExp(`^fig3 ${name}: \\d+ runs in \\d+\\.\\d s$`).test(l)),
      `a line for ${name} in:\n${r.stderr}`,
    );
  for (const bar of ['%', '\u001b[', '█', '░']) assert.not.ok((r.stderr + r.stdout).includes(bar), `"${bar}" in the output`);
  // stdout: the header, "== fig3", the two data sets' summaries, "wrote", the timing table
  const out = r.stdout.split('\n').filter(Boolean);
  assert.ok(out.length <= 20, `${out.length} stdout lines:\n${r.stdout}`);
});

test('usage errors exit 2 with a helpful message', () => {
  const cases: [string[], RegExp][] = [
    [['reproduce', 'fig4'], /invalid for argument 'experiment'\. Allowed choices are fig1, fig2, fig2-appendix, fig3, fig3-appendix, starting-point, all/],
    [['reproduce', 'fig1', '--bogus'], /unknown option '--bogus'/],
    [['reproduce', 'fig1', '--workers', '0'], /--workers <n>.*expected a positive integer/],
    [['reproduce', 'fig1', '--workers', 'two'], /expected a positive integer/],
    [['reproduce', 'fig1', '--threads', '0'], /--threads <n>.*expected an integer in \[1, 64\]/],
    [['reproduce', 'fig3', '--datasets', 'MNIST'], /unknown data set\(s\) "MNIST"/],
    [['reproduce'], /missing required argument 'experiment'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /Usage: natgrad/],
  ];
  for (const [args, re] of cases) {
    const r = natgrad(...args);
    assert.is(r.status, 2, `natgrad ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const help = natgrad('reproduce', '--help');
  assert.is(help.status, 0);
  assert.match(help.stdout, /--quick/);
});

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});
test.run();
