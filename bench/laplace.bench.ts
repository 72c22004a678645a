/**
 * Laplace benchmarks (`npm run bench:laplace`): natgrad's {@link laplace} against laplace-torch
 * 0.1a2 (BackPACK backend), float64, one thread each side, on the same machine in the same run.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/laplace.bench.ts [--quick] [--no-torch]
 *        [--only=key,…] [--reps=R] [--profile] [--mt-binary=FILE] [--one-thread]
 *
 * Workloads (categorical likelihood, θ = model.init(0) on both sides — a seeded init, not a MAP;
 * prior precision δ = 1 to start, as laplace-torch's optimize_prior_precision starts):
 *   digits-{full,kfac,diagonal}  mlp [64, 128, 10] tanh (D = 9 610) on the N = 1 797 digits;
 *                                the predictive on the first 1 000 digits rows (reused).
 *   cnn-{kfac,diagonal}          bench/cnn.bench.ts's conv net (D = 20 490) on the first 5 000
 *                                Fashion-MNIST training images; the predictive on the first 1 000
 *                                test images.
 * kfac: natgrad `bias: 'separate'` (laplace-torch's bias block), conv layers `'expand'`.
 *
 * Phases of one run (each run builds a new problem, so no kept linearization applies):
 *   fit        laplace(p, θ, { structure, priorPrecision: 1 })  |  Laplace(...).fit(loader)
 *   marglik    la.logMarginalLikelihood()                       |  la.log_marginal_likelihood()
 *   prior      la.optimizePriorPrecision({ structure: 'scalar' }) (Newton on log δ to convergence)
 *              |  la.optimize_prior_precision(method='marglik') (laplace-torch's default: 100 Adam
 *              steps, lr 0.1, from δ = 1; for 'full' a few steps are timed and scaled to 100)
 *   predictive la.predict(Xtest, { link: 'probit' })           |  la(Xtest, pred_type='glm', link_approx='probit')
 *
 * Steps:
 * 1. natgrad runs every workload once on the relaxed-SIMD core with one thread (the warm-up) and
 *    records log Z at δ = 1, its optimum δ*, log Z(δ*) and the probit predictive at δ*; θ, X, y
 *    and those values go to a temporary folder; `bench/torch_laplace.py --ref DIR` loads the same θ
 *    and data into laplace-torch, evaluates its log Z at δ = 1 and at natgrad's δ* and its
 *    predictive at natgrad's δ* (relative differences printed: the check that both sides do the
 *    same work), times its phases and writes bench/results/torch-laplace.json (`--no-torch`: use
 *    the last file).
 * 2. natgrad is timed per phase (median of R runs after the warm-up; R = 3 by default, 1 for
 *    digits-full whose runs take minutes) with one thread and, as an extra column, two threads
 *    (the shared-memory binary, when it is current).
 * 3. A table per workload (phases and total, natgrad 1T / 2T, laplace-torch 1T, ratio natgrad 1T /
 *    laplace-torch against the target 0.5) is printed and bench/results/laplace.json written.
 * `--one-thread`: skip the two-thread column (digits-full: each natgrad run takes minutes).
 * `--profile`: for each workload that misses its target, every kernel call of one natgrad run is
 *    timed (by kernel, dgemm by shape) and the top ones printed, together with the share of
 *    JavaScript (time outside kernels) per phase.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binaryUrl,
  categorical,
  Core,
  conv2d,
  createCore,
  dense,
  flatten,
  type LaplaceOptions,
  laplace,
  loadDigits,
  loadFashionMnist,
  type Model,
  maxPool2d,
  mlp,
  problem,
  relu,
  sequential,
  supportsRelaxedSimd,
  type Variant,
} from '../bindings/index.js';
import type { KernelExports } from '../bindings/internals.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const torchPath = join(here, 'results', 'torch-laplace.json');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const repsArg = process.argv.find((a) => a.startsWith('--reps='))?.slice(7);
const mtBinary = process.argv.find((a) => a.startsWith('--mt-binary='))?.slice(12);
const TARGET = 0.5;
const C = 10;
const NTEST = 1000;
const NCNN = 5000;

// ----------------------------------------------------------------------------- data
const digits = await loadDigits();
const digitsTest = { data: digits.X.data.slice(0, NTEST * 64), rows: NTEST, cols: 64 };
const fashion = await loadFashionMnist({ split: 'train', limit: NCNN });
const fashionTest = await loadFashionMnist({ split: 'test', limit: NTEST });
const lik = categorical({ classes: C });

type Net = 'mlp' | 'cnn';
function network(net: Net, core: Core): Model {
  if (net === 'mlp') return mlp({ sizes: [64, 128, C], activation: 'tanh', core });
  return sequential({
    input: [1, 28, 28],
    layers: [conv2d({ out: 16, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), conv2d({ out: 32, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: C })],
    core,
  });
}
const dataOf = (net: Net) => (net === 'mlp' ? { X: digits.X, y: digits.y, Xtest: digitsTest } : { X: fashion.X, y: fashion.y, Xtest: fashionTest.X });

interface Workload {
  key: string;
  net: Net;
  structure: 'full' | 'kfac' | 'diagonal';
  reps: number;
}
const allWorkloads: Workload[] = [
  { key: 'digits-full', net: 'mlp', structure: 'full', reps: 1 },
  { key: 'digits-kfac', net: 'mlp', structure: 'kfac', reps: 3 },
  { key: 'digits-diagonal', net: 'mlp', structure: 'diagonal', reps: 3 },
  { key: 'cnn-kfac', net: 'cnn', structure: 'kfac', reps: 3 },
  { key: 'cnn-diagonal', net: 'cnn', structure: 'diagonal', reps: 3 },
];
const workloads = allWorkloads.filter((w) => !only || only.includes(w.key));
const repsOf = (w: Workload) => (repsArg ? Number(repsArg) : quick ? 1 : w.reps);

function laplaceOptions(w: Workload): LaplaceOptions {
  // The CNN's 5000 images do not fit one forward trace: accumulate over batches of 500 (laplace-torch's loader uses 500 too).
  const batch = w.net === 'cnn' ? { batchSize: 500 } : {};
  if (w.structure !== 'kfac') return { structure: w.structure, priorPrecision: 1, ...batch };
  return { structure: 'kfac', priorPrecision: 1, bias: 'separate', ...batch, ...(w.net === 'cnn' ? { kfacApproximation: 'expand' as const } : {}) };
}

// ----------------------------------------------------------------------------- one run
const PHASES = ['fit', 'marglik', 'prior', 'predictive'] as const;
type Phase = (typeof PHASES)[number];
type Times = Record<Phase | 'total', number>;
interface RunResult {
  times: Times;
  logZ1: number;
  deltaStar: number;
  logZStar: number;
  iterations: number;
  converged: boolean;
  probit: Float64Array;
}

function run(w: Workload, core: Core, marks?: (phase: Phase) => void): RunResult {
  const model = network(w.net, core);
  const { X, y, Xtest } = dataOf(w.net);
  const p = problem({ model, X, y, likelihood: lik });
  const theta = model.init!(0);
  try {
    marks?.('fit');
    const t0 = performance.now();
    const la = laplace(p, theta, laplaceOptions(w));
    const t1 = performance.now();
    marks?.('marglik');
    const logZ1 = la.logMarginalLikelihood();
    const t2 = performance.now();
    marks?.('prior');
    const opt = la.optimizePriorPrecision({ structure: 'scalar' });
    const t3 = performance.now();
    marks?.('predictive');
    const pred = la.predict(Xtest, { link: 'probit' });
    const t4 = performance.now();
    la.free();
    if (!('data' in pred)) throw new Error('a categorical predictive is a matrix');
    return {
      times: { fit: t1 - t0, marglik: t2 - t1, prior: t3 - t2, predictive: t4 - t3, total: t4 - t0 },
      logZ1,
      deltaStar: opt.priorPrecision as number,
      logZStar: opt.logMarginalLikelihood,
      iterations: opt.iterations,
      converged: opt.converged,
      probit: pred.data,
    };
  } finally {
    p.free();
  }
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : 0.5 * (s[s.length / 2 - 1]! + s[s.length / 2]!);
};

function timeRuns(w: Workload, core: Core, reps: number): Times {
  const all: Times[] = [];
  for (let r = 0; r < reps; r++) all.push(run(w, core).times);
  return Object.fromEntries((['total', ...PHASES] as const).map((k) => [k, median(all.map((t) => t[k]))])) as Times;
}

// ----------------------------------------------------------------------------- cores
const relaxed = supportsRelaxedSimd();
const mainVariant: Variant = relaxed ? 'relaxed-simd' : 'simd';
const core1 = await createCore({ variant: mainVariant, threads: 1 });

/** The 2-thread core, if the shared-memory binary is current (exports every kernel the 1T build has). */
async function twoThreadCore(): Promise<Core | string> {
  const bytes = readFileSync(mtBinary ?? fileURLToPath(binaryUrl(mainVariant, true)));
  const names = (m: WebAssembly.Module) => new Set(WebAssembly.Module.exports(m).map((e) => e.name));
  const mt = names(new WebAssembly.Module(bytes));
  const st = names(new WebAssembly.Module(readFileSync(fileURLToPath(binaryUrl(mainVariant)))));
  const missing = [...st].filter((n) => !mt.has(n));
  if (missing.length > 0) return `the shared-memory binary lacks ${missing.length} kernels (${missing.slice(0, 3).join(', ')}, …)`;
  const core = await createCore({ variant: mainVariant, threads: 2, source: bytes });
  return core.threads === 2 ? core : 'shared WebAssembly memory is not available';
}
const core2 = process.argv.includes('--one-thread') ? 'not asked (--one-thread)' : await twoThreadCore();
if (typeof core2 === 'string') console.log(`2-thread column skipped: ${core2}`);

// ----------------------------------------------------------------------------- reference + warm-up
const loadStart = loadavg();
const reference: Record<string, Omit<RunResult, 'probit' | 'times'> & { probit: number[]; warmupMs: Times }> = {};
for (const w of workloads) {
  console.log(`natgrad warm-up / reference: ${w.key} …`);
  const r = run(w, core1);
  reference[w.key] = { ...r, probit: Array.from(r.probit), warmupMs: r.times };
  console.log(`  log Z(δ=1) = ${r.logZ1}, δ* = ${r.deltaStar} (${r.iterations} Newton iterations, converged ${r.converged}), ${r.times.total.toFixed(0)} ms`);
}

// ----------------------------------------------------------------------------- torch
interface TorchWorkload {
  ms: Times;
  check: { logZ1: number; relDiffLogZ1: number; logZStar: number; relDiffLogZStar: number; probitMaxAbsDiff: number };
  adam: { steps: number; timedSteps: number; extrapolated: boolean; priorPrecision: number };
  batchSize: number;
}
type TorchFile = { workloads: Record<string, TorchWorkload> };
if (!process.argv.includes('--no-torch')) {
  const dir = mkdtempSync(join(tmpdir(), 'natgrad-laplace-'));
  try {
    const nets = new Set(workloads.map((w) => w.net));
    const bin = (name: string, a: Float64Array) => writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    for (const net of nets) {
      const { X, y, Xtest } = dataOf(net);
      bin(`${net}-theta.f64`, network(net, core1).init!(0));
      bin(`${net}-X.f64`, X.data);
      bin(`${net}-Xtest.f64`, Xtest.data);
      bin(`${net}-y.f64`, Float64Array.from(y));
    }
    const meta = {
      nets: Object.fromEntries([...nets].map((net) => [net, { N: dataOf(net).X.rows, Ntest: dataOf(net).Xtest.rows, inputs: dataOf(net).X.cols }])),
      workloads: workloads.map((w) => ({ key: w.key, net: w.net, structure: w.structure, reps: repsOf(w), natgrad: reference[w.key] })),
    };
    writeFileSync(join(dir, 'ref.json'), JSON.stringify(meta));
    console.log('running bench/torch_laplace.py (1 thread) …');
    const r = spawnSync('/usr/bin/python3', [join(here, 'torch_laplace.py'), '--ref', dir, '--out', torchPath, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
    if (r.status !== 0) console.log('torch_laplace.py failed; using the last results if any');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const torch: TorchFile = existsSync(torchPath) ? JSON.parse(readFileSync(torchPath, 'utf8')) : { workloads: {} };

// ----------------------------------------------------------------------------- natgrad timing
interface Row {
  key: string;
  reps: number;
  natgrad1Ms: Times;
  natgrad2Ms?: Times;
  torchMs?: Times;
  ratio: number;
  ratioPerPhase: Record<Phase, number>;
  meetsTarget: boolean;
  newtonIterations: number;
  deltaStar: number;
  check?: TorchWorkload['check'];
  adam?: TorchWorkload['adam'];
}
const rows: Row[] = [];
for (const w of workloads) {
  const reps = repsOf(w);
  console.log(`timing natgrad ${w.key}: ${reps} run(s) on 1 thread${typeof core2 === 'string' ? '' : ' and on 2 threads'} …`);
  const natgrad1Ms = timeRuns(w, core1, reps);
  let natgrad2Ms: Times | undefined;
  if (typeof core2 !== 'string') {
    run(w, core2); // warm-up of the 2-thread core
    natgrad2Ms = timeRuns(w, core2, reps);
  }
  const t = torch.workloads[w.key];
  const ratio = natgrad1Ms.total / (t?.ms.total ?? NaN);
  const ref = reference[w.key]!;
  rows.push({
    key: w.key,
    reps,
    natgrad1Ms,
    ...(natgrad2Ms ? { natgrad2Ms } : {}),
    ...(t ? { torchMs: t.ms, check: t.check, adam: t.adam } : {}),
    ratio,
    ratioPerPhase: Object.fromEntries(PHASES.map((k) => [k, natgrad1Ms[k] / (t?.ms[k] ?? NaN)])) as Record<Phase, number>,
    meetsTarget: ratio <= TARGET,
    newtonIterations: ref.iterations,
    deltaStar: ref.deltaStar,
  });
}

const load = loadavg();
const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toPrecision(3));
console.log(`\nnatgrad Laplace vs laplace-torch 0.1a2 (BackPACK), float64, ms — node ${process.version}; load average ${load.map((x) => x.toFixed(2)).join(' ')}`);
for (const r of rows) {
  console.log(
    `\n${r.key} (natgrad median of ${r.reps}; prior: natgrad ${r.newtonIterations} Newton iterations to δ* = ${r.deltaStar.toPrecision(6)}, laplace-torch ${r.adam ? `${r.adam.steps} Adam steps${r.adam.extrapolated ? ` (${r.adam.timedSteps} timed, scaled)` : ''}` : '—'})`,
  );
  console.table(
    (['fit', 'marglik', 'prior', 'predictive', 'total'] as const).map((k) => ({
      phase: k,
      'natgrad 1T': f(r.natgrad1Ms[k]),
      'natgrad 2T': f(r.natgrad2Ms?.[k]),
      'laplace-torch 1T': f(r.torchMs?.[k]),
      'ratio 1T': f(r.natgrad1Ms[k] / (r.torchMs?.[k] ?? NaN)),
    })),
  );
  if (r.check)
    console.log(
      `  same work: log Z(δ=1) natgrad ${reference[r.key]!.logZ1} vs laplace-torch ${r.check.logZ1} (rel. diff ${r.check.relDiffLogZ1.toExponential(2)}); log Z(δ*) rel. diff ${r.check.relDiffLogZStar.toExponential(2)}; probit max |Δp| ${r.check.probitMaxAbsDiff.toExponential(2)}`,
    );
  console.log(
    `  total ratio natgrad 1T / laplace-torch = ${f(r.ratio)} (target ≤ ${TARGET}): ${r.meetsTarget ? 'met' : Number.isNaN(r.ratio) ? 'no torch numbers' : `MISSED by ×${(r.ratio / TARGET).toFixed(2)}`}`,
  );
}

// ----------------------------------------------------------------------------- profile
interface Bucket {
  kernel: string;
  calls: number;
  ms: number;
}
const profiles: Record<string, { phaseMs: Record<string, number>; kernelMsByPhase: Record<string, number>; top: (Bucket & { phase: string })[] }> = {};
if (profile) {
  for (const w of workloads.filter((x) => rows.some((r) => r.key === x.key && !r.meetsTarget))) {
    const buckets = new Map<string, Bucket & { phase: string }>();
    const kernelMs: Record<string, number> = {};
    let phase = 'setup';
    const raw = core1.exports as unknown as Record<string, unknown>;
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(raw)) {
      if (typeof fn !== 'function') {
        wrapped[name] = fn;
        continue;
      }
      const g = fn as (...a: number[]) => unknown;
      wrapped[name] = (...a: number[]) => {
        const t0 = performance.now();
        const out = g(...a);
        const ms = performance.now() - t0;
        const key = `${phase}: ${name === 'dgemm' ? `dgemm ${a[0] ? 'T' : 'N'}${a[1] ? 'T' : 'N'} m=${a[2]} n=${a[3]} k=${a[4]}` : name}`;
        const b = buckets.get(key) ?? { kernel: key, phase, calls: 0, ms: 0 };
        b.calls++;
        b.ms += ms;
        buckets.set(key, b);
        kernelMs[phase] = (kernelMs[phase] ?? 0) + ms;
        return out;
      };
    }
    const pcore = new Core(core1.variant, wrapped as unknown as KernelExports, undefined);
    const r = run(w, pcore, (ph) => {
      phase = ph;
    });
    const top = [...buckets.values()].sort((a, b) => b.ms - a.ms).slice(0, 12);
    profiles[w.key] = { phaseMs: r.times, kernelMsByPhase: kernelMs, top };
    console.log(`\nprofile ${w.key}: per phase total / in kernels (ms)`);
    console.table(PHASES.map((k) => ({ phase: k, total: +r.times[k].toFixed(1), kernels: +(kernelMs[k] ?? 0).toFixed(1), 'JS share %': +(100 * (1 - (kernelMs[k] ?? 0) / r.times[k])).toFixed(0) })));
    console.table(top.map((b) => ({ kernel: b.kernel, calls: b.calls, ms: +b.ms.toFixed(1) })));
  }
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'laplace.json'),
  `${JSON.stringify(
    {
      node: process.version,
      variant: mainVariant,
      workloads: workloads.map((w) => w.key),
      reps: Object.fromEntries(workloads.map((w) => [w.key, repsOf(w)])),
      twoThreads: typeof core2 === 'string' ? `skipped: ${core2}` : 'shared-memory binary',
      theta: 'model.init(0) on both sides (seeded init, not a MAP)',
      measured:
        "per run: fit = laplace(p, θ, { structure, priorPrecision: 1 }) (kfac: bias 'separate', conv 'expand'); marglik = logMarginalLikelihood(); prior = optimizePriorPrecision({ structure: 'scalar' }) (Newton to convergence); predictive = predict(Xtest, { link: 'probit' }) on 1000 points; median over reps after a warm-up run",
      target: TARGET,
      loadAverageStart: loadStart,
      loadAverageEnd: load,
      rows,
      ...(profile ? { profiles } : {}),
    },
    null,
    2,
  )}\n`,
);
core1.pool?.close();
if (typeof core2 !== 'string') core2.pool?.close();
