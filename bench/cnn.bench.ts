/**
 * Convolutional-network benchmarks (`npm run bench:cnn`, float32: `npm run bench:cnn32`):
 * natgrad's `sequential` conv net on Fashion-MNIST against the fastest PyTorch way (autograd,
 * functorch or BackPACK, whichever is faster), float64 (default) or float32, on the same machine in
 * the same run.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/cnn.bench.ts [--dtype=float64|float32]
 *        [--quick] [--no-torch] [--only=key,…] [--profile | --profile-only] [--mt-binary=FILE]
 *
 * Network (D = 20 490): input [1, 28, 28]; conv2d(16, 3×3, padding 1), relu, maxPool2d(2),
 * conv2d(32, 3×3, padding 1), relu, maxPool2d(2), flatten, dense(10); categorical likelihood,
 * mean reduction; the first N = 256 Fashion-MNIST training images (pixels / 255).
 *
 * Steps:
 * 1. natgrad's θ = model.init(0), a direction v and natgrad's values at θ (loss, gradient, three
 *    per-sample gradient rows, GGN diagonal, KFAC factors, GGN- and Hessian-vector products) go to
 *    a temporary JSON file; `bench/torch_cnn.py --threads 1,2 --ref FILE` loads the same θ into
 *    the PyTorch network, checks every torch variant against those values (loss to 1e-9, vectors to
 *    1e-8 relative), times them with 1 and 2 threads, and writes bench/results/torch-cnn.json
 *    (`--no-torch`: use the last file).
 * 2. natgrad is timed with benny after a warm-up (median of ≥ 7 samples, ≥ 5 with --quick) on the
 *    relaxed-SIMD binary with one thread, the baseline SIMD binary with one thread, and the
 *    relaxed-SIMD shared-memory binary with two threads. The 2-thread column needs
 *    build/natgrad.relaxed-mt.wasm to export every kernel the single-thread build has; when it is
 *    stale the column is skipped unless `--mt-binary=FILE` names a current build of that target.
 *    Caveat: the torch runs come first, so on a shared machine the two sides can see different load
 *    (the load averages are recorded in both JSON files).
 * 3. A table (natgrad columns, fastest torch with 1 and 2 threads, ratio natgrad relaxed 1T /
 *    fastest torch 1T against the target) is printed and bench/results/cnn.json written.
 * `--profile` then times every kernel call of one call of each workload that misses its target
 *    (relaxed SIMD, one thread; dgemm / sgemm and the Gram kernels bucketed by shape) and prints
 *    where the time goes; the breakdown goes into cnn.json too. `--profile-only` profiles every
 *    selected workload without timing (nothing is written).
 *
 * `--dtype=float32` (issue 19's float32 CNN row): the same workloads on the same network built with
 *    `sequential({ …, dtype: 'float32' })`, every pass on float32 kernels. θ = model.init(0 | 1)
 *    and v are rounded to float32 (Math.fround) before use, so both sides start from the same
 *    float32 numbers (X, pixels / 255, is rounded to float32 by natgrad and by torch alike); results
 *    come back as Float64Array. The reference JSON carries "dtype": "float32" and torch_cnn.py runs
 *    with `--dtype float32` (torch's float32 network, checked against natgrad's float32 values with
 *    float32 tolerances), writing bench/results/torch-cnn-float32.json. One more column,
 *    "natgrad float64 1T": the same workload on the float64 network, timed on the first column's
 *    core right after the float32 columns (same θ rounded to float32, same v), for the ratio
 *    float32 / float64. Every workload's target is issue 19's: natgrad float32 (relaxed SIMD, one
 *    thread) ≤ 0.6 × the fastest torch float32 with one thread. The table and
 *    bench/results/cnn-float32.json carry both ratios (float32 / torch float32 against 0.6, and
 *    float32 / float64). float64 (the default) is unchanged: bench/results/cnn.json and
 *    torch-cnn.json.
 *
 * What is measured (every natgrad call starts from a new θ: the calls alternate between
 * model.init(0) and model.init(1), so the problem's kept linearization never applies and each call
 * runs its own forward pass, as every torch call does):
 *   loss_grad        p.lossAndGradient(θ): forward, loss, one backward.
 *   per_sample_grad  p.perSampleGradients(θ, { resident: true }) (N × D rows kept in WebAssembly
 *                    memory), then free().
 *   ggn_diag         p.ggn(θ, { structure: 'diagonal' }).
 *   kfac_expand      p.fisher(θ, { structure: 'kfac', kfacApproximation: 'expand' }) (categorical
 *                    Fisher factor, K = C − 1 rows per sample; A and G per layer), factors freed.
 *   kfac_mc          p.fisherMC(θ, { structure: 'kfac', kfacApproximation: 'expand', samples: 1,
 *                    seed: 0 }) (one sampled residual per sample, K = 1), factors freed.
 *   ggn_vp           p.ggnVectorProduct(θ, v): forward, J v, Λ, Jᵀ(·).
 *   hvp              p.hessianVectorProduct(θ, v): forward, J v, fused R-operator backward.
 */
import b from 'benny';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binaryUrl,
  categorical,
  conv2d,
  Core,
  createCore,
  dense,
  flatten,
  type KfacLayer,
  loadFashionMnist,
  maxPool2d,
  type ModelProblem,
  problem,
  relu,
  sequential,
  type SequentialModel,
  supportsRelaxedSimd,
  type Variant,
} from '../bindings/index.js';
import type { KernelExports } from '../bindings/internals.js';
import { normals } from './seeded.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const profileOnly = process.argv.includes('--profile-only');
const profile = profileOnly || process.argv.includes('--profile');
type Dtype = 'float32' | 'float64';
const dtypeArg = process.argv.find((a) => a.startsWith('--dtype='))?.slice(8) ?? 'float64';
if (dtypeArg !== 'float32' && dtypeArg !== 'float64') throw new RangeError(`cnn.bench: --dtype must be float32 or float64, got ${dtypeArg}`);
const dtype: Dtype = dtypeArg;
const f32 = dtype === 'float32';
/** Issue 19: natgrad float32 ≤ 0.6 × torch float32 (one thread), every workload. */
const FLOAT32_TARGET = 0.6;
const suffix = f32 ? '-float32' : '';
const torchPath = join(here, 'results', `torch-cnn${suffix}.json`);
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const mtBinary = process.argv.find((a) => a.startsWith('--mt-binary='))?.slice(12);

const N = 256,
  C = 10;
const data = await loadFashionMnist({ split: 'train', limit: N });
const lik = categorical({ classes: C });

function network(core: Core, dt: Dtype): SequentialModel {
  return sequential({
    input: [1, 28, 28],
    layers: [conv2d({ out: 16, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), conv2d({ out: 32, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: C })],
    core,
    ...(dt === 'float32' ? { dtype: 'float32' as const } : {}),
  });
}

interface Setup {
  model: SequentialModel;
  p: ModelProblem;
  thetas: Float64Array[];
  v: Float64Array;
}

/**
 * The network of dtype `dt` (default: the run's) and its problem. In a float32 run θ and v are the
 * float64 ones rounded to float32 for both networks (the float64 column then times the same numbers).
 */
function setup(core: Core, dt: Dtype = dtype): Setup {
  const model = network(core, dt);
  const p = problem({ model, X: data.X, y: data.y, likelihood: lik }) as ModelProblem;
  const v = Float64Array.from({ length: model.dim }, normals(20490));
  if (!f32) return { model, p, thetas: [model.init(0), model.init(1)], v };
  return { model, p, thetas: [model.init(0).map(Math.fround), model.init(1).map(Math.fround)], v: v.map(Math.fround) };
}

function freeFactors(fs: KfacLayer[]): void {
  for (const f of fs) {
    if (f.A) {
      f.A.free();
      f.G.free();
    } else f.exact.free();
  }
}

interface Workload {
  key: string;
  label: string;
  target: number;
  run: (s: Setup, th: Float64Array) => void;
}

const allWorkloads: Workload[] = [
  { key: 'loss_grad', label: 'loss + gradient', target: 0.4, run: (s, th) => void s.p.lossAndGradient(th) },
  { key: 'per_sample_grad', label: 'per-sample gradients (resident)', target: 0.3, run: (s, th) => s.p.perSampleGradients(th, { resident: true }).free() },
  { key: 'ggn_diag', label: 'exact GGN diagonal', target: 0.2, run: (s, th) => void s.p.ggn(th, { structure: 'diagonal' }) },
  {
    key: 'kfac_expand',
    label: "KFAC exact Fisher, 'expand'",
    target: 0.25,
    run: (s, th) => freeFactors(s.p.fisher(th, { structure: 'kfac', kfacApproximation: 'expand' })),
  },
  {
    key: 'kfac_mc',
    label: "KFAC MC Fisher, 1 sample, 'expand'",
    target: 0.3,
    run: (s, th) => freeFactors(s.p.fisherMC(th, { structure: 'kfac', kfacApproximation: 'expand', samples: 1, seed: 0 })),
  },
  { key: 'ggn_vp', label: 'GGN-vector product', target: 0.4, run: (s, th) => void s.p.ggnVectorProduct(th, s.v) },
  { key: 'hvp', label: 'Hessian-vector product', target: 0.4, run: (s, th) => void s.p.hessianVectorProduct(th, s.v) },
];
const workloads = allWorkloads.filter((w) => !only || only.includes(w.key));

// ----------------------------------------------------------------------------- reference for torch
/** natgrad's θ, v and values at θ for torch_cnn.py's check (relaxed SIMD, one thread). */
function reference(core: Core): object {
  const s = setup(core);
  const th = s.thetas[0]!;
  const { loss, gradient } = s.p.lossAndGradient(th);
  const psgRows = [0, 1, N - 1];
  const G = s.p.perSampleGradients(th);
  const psg = psgRows.map((r) => Array.from(G.data.subarray(r * s.model.dim, (r + 1) * s.model.dim)));
  const factors = (approximation: 'expand' | 'reduce') => {
    const fs = s.p.fisher(th, { structure: 'kfac', kfacApproximation: approximation, bias: 'separate' });
    const out = fs.map((f) => (f.A ? { A: Array.from(f.A.toDense()), G: Array.from(f.G.toDense()) } : undefined));
    freeFactors(fs);
    if (out.some((f) => f === undefined)) throw new Error('a layer without Kronecker factors');
    return out;
  };
  const values = {
    loss,
    gradient: Array.from(gradient),
    psg,
    ggnDiag: Array.from(s.p.ggn(th, { structure: 'diagonal' })),
    kfacExpand: factors('expand'),
    kfacReduce: factors('reduce'),
    ggnvp: Array.from(s.p.ggnVectorProduct(th, s.v)),
    hvp: Array.from(s.p.hessianVectorProduct(th, s.v)),
  };
  s.p.free();
  return { dtype, theta: Array.from(th), v: Array.from(s.v), psgRows, positions: [28 * 28, 14 * 14, 1], values };
}

// ----------------------------------------------------------------------------- cores
interface Column {
  name: string;
  core: Core;
}

const relaxed = supportsRelaxedSimd();
const mainVariant: Variant = relaxed ? 'relaxed-simd' : 'simd';
const columns: Column[] = [];
columns.push({ name: `${mainVariant} 1T`, core: await createCore({ variant: mainVariant, threads: 1 }) });
if (relaxed) columns.push({ name: 'simd 1T', core: await createCore({ variant: 'simd', threads: 1 }) });

/** The 2-thread core, if the shared-memory binary is current (exports every kernel the 1T build has). */
async function twoThreadCore(): Promise<Core | string> {
  const bytes = readFileSync(mtBinary ?? fileURLToPath(binaryUrl(mainVariant, true)));
  const names = (m: WebAssembly.Module) => new Set(WebAssembly.Module.exports(m).map((e) => e.name));
  const mt = names(new WebAssembly.Module(bytes));
  const st = names(new WebAssembly.Module(readFileSync(fileURLToPath(binaryUrl(mainVariant)))));
  const missing = [...st].filter((n) => !mt.has(n));
  if (missing.length > 0) return `the shared-memory binary ${mtBinary ?? 'in build/'} lacks ${missing.length} kernels (${missing.slice(0, 3).join(', ')}, …): rebuild it or pass --mt-binary=FILE`;
  const core = await createCore({ variant: mainVariant, threads: 2, source: bytes });
  return core.threads === 2 ? core : 'shared WebAssembly memory is not available';
}
const two = await twoThreadCore();
if (typeof two === 'string') console.log(`2-thread column skipped: ${two}`);
else columns.push({ name: `${mainVariant} 2T${mtBinary ? ' (--mt-binary)' : ''}`, core: two });

// ----------------------------------------------------------------------------- torch
type TorchEntry = { best_ms: number; best_method: string };
type TorchFile = { threads: Record<string, Record<string, TorchEntry>>; check?: unknown };
if (!process.argv.includes('--no-torch')) {
  const dir = mkdtempSync(join(tmpdir(), 'natgrad-cnn-'));
  const refPath = join(dir, 'ref.json');
  try {
    writeFileSync(refPath, JSON.stringify(reference(columns[0]!.core)));
    console.log('running bench/torch_cnn.py (1 and 2 threads) …');
    const r = spawnSync(
      '/usr/bin/python3',
      [
        join(here, 'torch_cnn.py'),
        '--threads',
        '1,2',
        '--ref',
        refPath,
        '--out',
        torchPath,
        ...(f32 ? ['--dtype', 'float32'] : []),
        ...(quick ? ['--quick'] : []),
        ...(only ? ['--only', only.join(',')] : []),
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) console.log('torch_cnn.py failed; using the last results if any');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const torch: TorchFile = existsSync(torchPath) ? JSON.parse(readFileSync(torchPath, 'utf8')) : { threads: {} };

// ----------------------------------------------------------------------------- natgrad timing
async function time(core: Core, w: Workload, label: string, dt: Dtype = dtype): Promise<number> {
  const s = setup(core, dt);
  let k = 0;
  const call = () => w.run(s, s.thetas[k++ & 1]!);
  try {
    const t0 = performance.now();
    for (let i = 0; i < 3 || performance.now() - t0 < (quick ? 500 : 1500); i++) call(); // warm-up: V8 tiers the module up
    let median = NaN;
    await b.suite(
      `${w.label} — ${label}`,
      b.add(label, () => call, { minSamples: quick ? 5 : 7, maxTime: quick ? 1 : 4 }),
      b.complete((r) => {
        median = r.results[0]!.details.median * 1e3;
      }),
    );
    return median;
  } finally {
    s.p.free();
  }
}

interface Row {
  key: string;
  workload: string;
  natgradMs: Record<string, number>;
  torch1Ms: number;
  torch1Method: string;
  torch2Ms: number;
  torch2Method: string;
  ratio: number;
  target: number;
  meetsTarget: boolean;
  /** float32 runs: the float64 network's time on the first column's core, and float32 / float64. */
  natgradFloat64Ms?: number;
  float32OverFloat64?: number;
}
const rows: Row[] = [];
const loadBefore = loadavg();
for (const w of profileOnly ? [] : workloads) {
  const natgradMs: Record<string, number> = {};
  for (const c of columns) natgradMs[c.name] = await time(c.core, w, f32 ? `float32 ${c.name}` : c.name);
  const f64Ms = f32 ? await time(columns[0]!.core, w, `float64 ${columns[0]!.name}`, 'float64') : undefined;
  const t1 = torch.threads['1']?.[w.key],
    t2 = torch.threads['2']?.[w.key];
  const ratio = natgradMs[columns[0]!.name]! / (t1?.best_ms ?? NaN);
  const target = f32 ? FLOAT32_TARGET : w.target;
  rows.push({
    key: w.key,
    workload: w.label,
    natgradMs,
    torch1Ms: t1?.best_ms ?? NaN,
    torch1Method: t1?.best_method ?? '—',
    torch2Ms: t2?.best_ms ?? NaN,
    torch2Method: t2?.best_method ?? '—',
    ratio,
    target,
    meetsTarget: ratio <= target,
    ...(f64Ms === undefined ? {} : { natgradFloat64Ms: f64Ms, float32OverFloat64: natgradMs[columns[0]!.name]! / f64Ms }),
  });
}

const load = loadavg();
console.log(`\nnatgrad conv net vs torch (${dtype}, N = ${N}, D = 20490) — node ${process.version}; load average ${load.map((x) => x.toFixed(2)).join(' ')} (shared machine)`);
// One table for both types: float32 names its columns by type and adds the float64 column and f32/f64.
const t = f32 ? 'f32 ' : '';
if (f32) console.log(`ratio = natgrad float32 ${columns[0]!.name} / fastest torch float32 1T (target ≤ ${FLOAT32_TARGET}); f32/f64 = natgrad float32 / natgrad float64, both ${columns[0]!.name}`);
console.table(
  rows.map((r) => ({
    workload: r.workload,
    ...Object.fromEntries(columns.map((c) => [`natgrad ${t}${c.name} ms`, +r.natgradMs[c.name]!.toPrecision(3)])),
    ...(f32 ? { 'natgrad float64 1T ms': +r.natgradFloat64Ms!.toPrecision(3) } : {}),
    [`torch ${t}1T ms`]: +r.torch1Ms.toPrecision(3),
    [`torch ${t}1T way`]: r.torch1Method,
    [`torch ${t}2T ms`]: +r.torch2Ms.toPrecision(3),
    ratio: +r.ratio.toFixed(2),
    target: r.target,
    ok: r.meetsTarget ? 'yes' : 'no',
    ...(f32 ? { 'f32/f64': +r.float32OverFloat64!.toFixed(2) } : {}),
  })),
);

// ----------------------------------------------------------------------------- profile
interface Bucket {
  kernel: string;
  calls: number;
  ms: number;
  gflop: number;
}

/** A core whose kernels record their wall time per kernel and shape (dgemm m×n×k, syrk rows×cols). */
function profilingCore(base: Core): { core: Core; buckets: Map<string, Bucket> } {
  const buckets = new Map<string, Bucket>();
  const raw = base.exports as unknown as Record<string, unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(raw)) {
    if (typeof f !== 'function') {
      wrapped[name] = f;
      continue;
    }
    const fn = f as (...a: number[]) => unknown;
    wrapped[name] = (...a: number[]) => {
      const t0 = performance.now();
      const out = fn(...a);
      const ms = performance.now() - t0;
      let key = name,
        flop = 0;
      if (name === 'dgemm' || name === 'sgemm') {
        key = `${name} ${a[0] ? 'T' : 'N'}${a[1] ? 'T' : 'N'} m=${a[2]} n=${a[3]} k=${a[4]}`;
        flop = 2 * a[2]! * a[3]! * a[4]!;
      } else if (name === 'dsyrkLower' || name === 'dsyrkDiag' || name === 'dsyrkLower32' || name === 'dsyrkDiag32') {
        key = `${name} rows=${a[0]} cols=${a[1]}`;
        flop = name.startsWith('dsyrkLower') ? a[0]! * a[1]! * (a[1]! + 1) : 2 * a[0]! * a[1]!;
      }
      const bk = buckets.get(key) ?? { kernel: key, calls: 0, ms: 0, gflop: 0 };
      bk.calls++;
      bk.ms += ms;
      bk.gflop += flop / 1e9;
      buckets.set(key, bk);
      return out;
    };
  }
  return { core: new Core(base.variant, wrapped as unknown as KernelExports, undefined), buckets };
}

const profiles: Record<string, { totalMs: number; kernelMs: number; top: (Bucket & { share: number; gflops: number })[] }> = {};
if (profile) {
  const slow = profileOnly ? workloads : workloads.filter((w) => rows.some((r) => r.key === w.key && !r.meetsTarget));
  for (const w of slow) {
    const { core, buckets } = profilingCore(columns[0]!.core);
    const s = setup(core);
    try {
      w.run(s, s.thetas[0]!); // warm-up
      w.run(s, s.thetas[1]!);
      buckets.clear();
      const t0 = performance.now();
      w.run(s, s.thetas[0]!);
      const totalMs = performance.now() - t0;
      const all = [...buckets.values()].sort((x, y) => y.ms - x.ms);
      const kernelMs = all.reduce((a, x) => a + x.ms, 0);
      const top = all.slice(0, 10).map((x) => ({ ...x, share: x.ms / totalMs, gflops: x.gflop / (x.ms / 1e3) }));
      profiles[w.key] = { totalMs, kernelMs, top };
      console.log(`\nprofile: ${w.label} — ${totalMs.toFixed(0)} ms in one call, ${kernelMs.toFixed(0)} ms in kernels (${((100 * kernelMs) / totalMs).toFixed(0)} %), the rest JavaScript`);
      console.table(top.map((x) => ({ kernel: x.kernel, calls: x.calls, ms: +x.ms.toFixed(1), '% of call': +(100 * x.share).toFixed(1), 'GFLOP/s': x.gflop > 0 ? +x.gflops.toFixed(2) : '' })));
    } finally {
      s.p.free();
    }
  }
}

mkdirSync(join(here, 'results'), { recursive: true });
if (!only && !profileOnly) {
  writeFileSync(
    join(here, 'results', `cnn${suffix}.json`),
    JSON.stringify(
      {
        node: process.version,
        network: 'conv2d(16,3,p1) relu maxPool2d(2) conv2d(32,3,p1) relu maxPool2d(2) flatten dense(10); categorical, mean',
        N,
        D: 20490,
        ...(f32
          ? {
              dtype,
              target: `natgrad float32 ${columns[0]!.name} ≤ ${FLOAT32_TARGET} × fastest torch float32 1T (issue 19), every workload`,
              float64Column: `natgradFloat64Ms: the float64 network on the ${columns[0]!.name} core, timed right after the float32 columns (same θ and v, rounded to float32); float32OverFloat64 = natgradMs['${columns[0]!.name}'] / natgradFloat64Ms`,
              quick,
            }
          : {}),
        columns: columns.map((c) => c.name),
        twoThreads: typeof two === 'string' ? `skipped: ${two}` : mtBinary ? `shared-memory binary from --mt-binary (${mtBinary})` : 'build/ shared-memory binary',
        measured:
          (f32 ? "float32 network (sequential dtype 'float32'), θ = model.init(0 | 1) and v rounded to float32; " : '') +
          "every call from a new θ (alternating model.init(0) / init(1)): forward pass included; kfac_expand / kfac_mc: p.fisher / p.fisherMC with { structure: 'kfac', kfacApproximation: 'expand' }; torch: fastest variant per workload, see torch-cnn" +
          `${suffix}.json`,
        loadAverageNatgradStart: loadBefore,
        loadAverageEnd: load,
        rows,
        ...(profile ? { profiles } : {}),
      },
      null,
      2,
    ) + '\n',
  );
}
for (const c of columns) c.core.pool?.close();
