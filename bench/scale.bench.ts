/**
 * Matrix-free curvature at scale: an MLP [256, 1024, 1024, 10] (tanh, D = 1,323,018), N = 1024,
 * categorical, mean reduction — the workloads of issue 11, each with its wall time, the growth of
 * WebAssembly memory (core.memoryBytes) and the process RSS peak growth (sampled after every
 * product), beside PyTorch's numbers from bench/results/torch-scale.json (float64, one thread,
 * functorch products; `OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_scale.py` writes it).
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/scale.bench.ts [--quick] [--threads T]
 *
 * `--threads T` (default 1) runs natgrad on the threaded core with T threads and compares with
 * torch on T threads (`bench/torch_scale.py --threads T` writes results/torch-scale-Tthreads.json);
 * results then go to bench/results/scale-Tthreads.json.
 *
 * Workloads: one GGN-vector product from a fresh θ (forward pass included) and on the kept
 * forward pass; the top eigenvalue of the GGN and of the Hessian by 20-step Lanczos (full
 * reorthogonalization); a 50-iteration CG solve on the damped GGN; a 20-probe Hutchinson trace
 * of the GGN. torch's column is the same number of products: its best 20-product time for the
 * 20-product workloads, 2.5 × that for the 50-product CG. Results go to bench/results/scale.json.
 *
 * float32 (issue 19): each workload runs a second time right after its float64 run, on a float32
 * twin of the problem (`mlp({ …, dtype: 'float32' })`, same θ, X, y and v, rounded once) living on
 * its own core (same variant and thread count), so each core's WebAssembly memory is its dtype's
 * alone; the float32 columns are its time, WebAssembly memory and RSS growth, with the ratios
 * float32 / float64. torch float32: `bench/torch_scale.py --dtype float32` is run here with 1 and 2
 * threads (results/torch-scale-float32.json, torch-scale-float32-2threads.json; `--no-torch` reads
 * the last ones) and the faster run is the reference. Issue 19's targets are on a row of its own,
 * 'GGN-vector product from θ, median': 9 products from θ per dtype (3 with `--quick`), float64 and
 * float32 calls interleaved, each dtype alternating between its OWN two θs (so no call reuses a
 * kept linearization), medians: float32 ≤ 0.55 × float64 in time, ≤ 0.6 × in WebAssembly memory,
 * ≤ 0.8 × torch float32. The other rows are single runs, as in float64.
 * `--quick` (N = 256) runs torch float32 at N = 256 too, into a temporary folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categorical, type Core, createCore, core as defaultCore, init, mlp, type Problem, problem, rng } from '../bindings/index.js';
import { curvatureOperator } from '../bindings/operators/curvature.js';
import { cg, topEigenvalues, traceEstimate } from '../bindings/solvers/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const ti = process.argv.indexOf('--threads');
const threads = ti >= 0 ? Number(process.argv[ti + 1]) : 1;
const { variant, threads: running } = await init({ threads });
if (running !== threads) throw new Error(`asked for ${threads} threads, the core runs ${running}`);
const suffix = threads === 1 ? '' : `-${threads}threads`;
const core = defaultCore();
const load0 = loadavg();
// the float32 twin's own core (same variant and threads): its memory is float32's alone
const core32 = await createCore({ variant, threads });
const SIZES = [256, 1024, 1024, 10],
  N = quick ? 256 : 1024,
  C = 10;

const g = rng(1);
const X = Float64Array.from({ length: N * SIZES[0]! }, () => g.normal());
const y = Float64Array.from({ length: N }, () => Math.floor(g.uniform() * C));
const model = mlp({ sizes: SIZES, activation: 'tanh' });
const p = problem({ model, X: { data: X, rows: N, cols: SIZES[0]! }, y, likelihood: categorical({ classes: C }) });
const theta = model.init(0);
const D = p.dim;
const v = Float64Array.from({ length: D }, () => g.normal());
const model32 = mlp({ sizes: SIZES, activation: 'tanh', core: core32, dtype: 'float32' });
const p32 = problem({ model: model32, X: { data: X, rows: N, cols: SIZES[0]! }, y, likelihood: categorical({ classes: C }) });

/** One dtype's problem, core and (once built) curvature operators. */
interface Side {
  dtype: 'float64' | 'float32';
  p: Problem;
  core: Core;
  ggn?: ReturnType<typeof curvatureOperator>;
  hess?: ReturnType<typeof curvatureOperator>;
}
const f64: Side = { dtype: 'float64', p, core };
const f32: Side = { dtype: 'float32', p: p32, core: core32 };

interface Row {
  workload: string;
  products: number;
  ms: number;
  wasmMiB: number;
  rssGrowthMiB: number;
  torchMs: number | null;
  torchWhat: string;
  result: string;
  // float32 (issue 19), measured right after the float64 run on the float32 twin
  float32Ms: number;
  float32WasmMiB: number;
  float32RssGrowthMiB: number;
  float32Result: string;
  ratioFloat32: number;
  ratioFloat32Memory: number;
  torchFloat32Ms: number | null;
  torchFloat32Threads: number | null;
  ratioTorchFloat32: number | null;
  targets: { float32OverFloat64: number; memoryOverFloat64: number; float32OverTorchFloat32: number; met: { float64: boolean; memory: boolean; torch: boolean | null } } | null;
}
const rows: Row[] = [];
const MiB = 2 ** 20;
let rssPeak = 0;
const sample = (): void => {
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
};

function runSide(s: Side, workload: string, fn: (s: Side) => string): { ms: number; wasmMiB: number; rssGrowthMiB: number; result: string } {
  (globalThis as { gc?: () => void }).gc?.();
  const rss0 = process.memoryUsage().rss;
  rssPeak = rss0;
  const t0 = performance.now();
  const result = fn(s);
  const ms = performance.now() - t0;
  sample();
  const r = { ms, wasmMiB: s.core.memoryBytes / MiB, rssGrowthMiB: (rssPeak - rss0) / MiB, result };
  console.log(`${workload.padEnd(34)} ${s.dtype} ${ms.toFixed(0).padStart(8)} ms  wasm ${r.wasmMiB.toFixed(0)} MiB  rss +${r.rssGrowthMiB.toFixed(0)} MiB  ${result}`);
  return r;
}

/** Issue 19's targets (the GGN-vector product from θ of the 1.3 M-parameter MLP). */
const TARGET = { float32OverFloat64: 0.55, memoryOverFloat64: 0.6, float32OverTorchFloat32: 0.8 };

/** float64 then, right after, float32 (each on its own problem and core). */
function measure(workload: string, products: number, fn: (s: Side) => string, torchMs: number | null, torchWhat: string, torch32: { ms: number; threads: number } | null): void {
  pushRow(workload, products, runSide(f64, workload, fn), runSide(f32, workload, fn), torchMs, torchWhat, torch32, false);
}

type Run = ReturnType<typeof runSide>;
function pushRow(workload: string, products: number, a: Run, b: Run, torchMs: number | null, torchWhat: string, torch32: { ms: number; threads: number } | null, withTarget: boolean): void {
  const ratioTorch = torch32 ? b.ms / torch32.ms : null;
  rows.push({
    workload,
    products,
    ms: a.ms,
    wasmMiB: a.wasmMiB,
    rssGrowthMiB: a.rssGrowthMiB,
    torchMs,
    torchWhat,
    result: a.result,
    float32Ms: b.ms,
    float32WasmMiB: b.wasmMiB,
    float32RssGrowthMiB: b.rssGrowthMiB,
    float32Result: b.result,
    ratioFloat32: b.ms / a.ms,
    ratioFloat32Memory: b.wasmMiB / a.wasmMiB,
    torchFloat32Ms: torch32?.ms ?? null,
    torchFloat32Threads: torch32?.threads ?? null,
    ratioTorchFloat32: ratioTorch,
    targets: withTarget
      ? {
          ...TARGET,
          met: {
            float64: b.ms / a.ms <= TARGET.float32OverFloat64,
            memory: b.wasmMiB / a.wasmMiB <= TARGET.memoryOverFloat64,
            torch: ratioTorch === null ? null : ratioTorch <= TARGET.float32OverTorchFloat32,
          },
        }
      : null,
  });
}

const torchPath = join(here, 'results', `torch-scale${suffix}.json`);
const torch = existsSync(torchPath) && !quick ? (JSON.parse(readFileSync(torchPath, 'utf8')) as Record<string, { best_ms: number; best_method: string }>) : undefined;
const tb = (k: string, f = 1): number | null => (torch?.[k] ? torch[k]!.best_ms * f : null);

// torch float32, 1 and 2 threads (the faster is the reference); quick runs (N = 256) into a temporary folder
type TorchScale = Record<string, { best_ms: number; best_method: string; N: number }>;
const noTorch = process.argv.includes('--no-torch');
const torch32Dir = quick && !noTorch ? mkdtempSync(join(tmpdir(), 'natgrad-scale-')) : join(here, 'results');
const torch32Path = (t: number) => join(torch32Dir, t === 1 ? 'torch-scale-float32.json' : `torch-scale-float32-${t}threads.json`);
const TORCH32_THREADS = [1, 2];
if (!noTorch)
  for (const t of TORCH32_THREADS) {
    console.log(`running bench/torch_scale.py --dtype float32 --threads ${t}${quick ? ` --quick --n ${N}` : ''} …`);
    const args = [join(here, 'torch_scale.py'), '--dtype', 'float32', '--threads', String(t), ...(quick ? ['--quick', '--n', String(N)] : []), '--out', torch32Path(t)];
    const r = spawnSync('/usr/bin/python3', args, { stdio: 'inherit' });
    if (r.status !== 0) console.log(`torch_scale.py --dtype float32 --threads ${t} failed; using the last results if any`);
  }
const torch32Runs = TORCH32_THREADS.map((t) => ({
  threads: t,
  results: existsSync(torch32Path(t)) ? (JSON.parse(readFileSync(torch32Path(t), 'utf8')) as TorchScale) : undefined,
}));
/** torch float32's faster run of a workload (× f products), only at this run's N. */
function tb32(k: string, f = 1): { ms: number; threads: number } | null {
  let best: { ms: number; threads: number } | null = null;
  for (const { threads: t, results } of torch32Runs) {
    const e = results?.[k];
    if (e && e.N === N && (!best || e.best_ms * f < best.ms)) best = { ms: e.best_ms * f, threads: t };
  }
  return best;
}

console.log(`natgrad ${variant}, Node ${process.version}, MLP ${JSON.stringify(SIZES)} tanh, categorical, N = ${N}, D = ${D}`);
/**
 * Medians of `reps` products from θ, float64 and float32 calls interleaved (so a load on the
 * machine hits both alike). Each dtype alternates between its OWN two θs (one counter per
 * problem), so no call reuses the kept linearization of the previous one.
 */
function measureMedian(
  workload: string,
  fn: (s: Side, th: Float64Array) => void,
  thetas: Float64Array[],
  reps: number,
  torchMs: number | null,
  torchWhat: string,
  torch32: { ms: number; threads: number } | null,
): void {
  const sides = [f64, f32];
  const times: number[][] = [[], []];
  const k = [0, 0];
  const rss0 = [0, 0];
  const peak = [0, 0];
  (globalThis as { gc?: () => void }).gc?.();
  rss0[0] = rss0[1] = peak[0] = peak[1] = process.memoryUsage().rss;
  for (let i = 0; i < reps; i++)
    for (const j of [0, 1]) {
      const t0 = performance.now();
      fn(sides[j]!, thetas[k[j]!++ & 1]!);
      times[j]!.push(performance.now() - t0);
      peak[j] = Math.max(peak[j]!, process.memoryUsage().rss);
    }
  const median = (xs: number[]) => {
    const q = xs.slice().sort((x, y) => x - y);
    return q.length % 2 ? q[(q.length - 1) / 2]! : (q[q.length / 2 - 1]! + q[q.length / 2]!) / 2;
  };
  const [a, b] = sides.map((s, j) => {
    const r = { ms: median(times[j]!), wasmMiB: s.core.memoryBytes / MiB, rssGrowthMiB: (peak[j]! - rss0[j]!) / MiB, result: `median of ${reps}` };
    console.log(`${workload.padEnd(34)} ${s.dtype} ${r.ms.toFixed(0).padStart(8)} ms  wasm ${r.wasmMiB.toFixed(0)} MiB  ${r.result}`);
    return r;
  });
  pushRow(workload, 1, a!, b!, torchMs, torchWhat, torch32, true);
}

// Warm-up: one forward pass and product at a different θ (tier-up of the WASM, allocation of the trace).
for (const s of [f64, f32]) {
  s.p.ggnVectorProduct(
    theta.map((t) => t * 0.5),
    v,
  );
  s.p.hessianVectorProduct(
    theta.map((t) => t * 0.5),
    v,
  );
}

// Issue 19's row (the medians torch's ggn_vp is measured the same way; memory: each core's own).
// Two θ other than `theta`, so the next row still starts from a fresh θ.
measureMedian(
  'GGN-vector product from θ, median',
  (s, th) => void s.p.ggnVectorProduct(th, v),
  [model.init(1), model.init(2)],
  quick ? 3 : 9,
  tb('ggn_vp'),
  'functorch jvp + vjp from θ',
  tb32('ggn_vp'),
);
measure(
  'GGN-vector product (fresh θ)',
  1,
  (s) => {
    s.p.ggnVectorProduct(theta, v);
    return '';
  },
  tb('ggn_vp'),
  'functorch jvp + vjp from θ',
  tb32('ggn_vp'),
);
measure(
  'GGN-vector product (kept pass)',
  1,
  (s) => {
    s.p.ggnVectorProduct(theta, v);
    return '';
  },
  null,
  '',
  null,
);
measure(
  'Hessian-vector product (kept pass)',
  1,
  (s) => {
    s.p.hessianVectorProduct(theta, v);
    return '';
  },
  tb('hvp'),
  'torch double backward from θ',
  tb32('hvp'),
);
for (const s of [f64, f32]) {
  s.ggn = curvatureOperator(s.p, theta, { kind: 'ggn' });
  s.hess = curvatureOperator(s.p, theta, { kind: 'hessian' });
}
measure(
  'Lanczos top eigenvalue GGN (20)',
  20,
  (s) => {
    const r = topEigenvalues(s.ggn!, { k: 1, maxIterations: 20, seed: 1, onProgress: sample });
    return `λ_max = ${r.values[0]!.toPrecision(8)} (residual ${r.residuals[0]!.toExponential(1)})`;
  },
  tb('ggn_vp_x20'),
  torch?.ggn_vp_x20?.best_method ?? '',
  tb32('ggn_vp_x20'),
);
measure(
  'Lanczos top eigenvalue Hessian (20)',
  20,
  (s) => {
    const r = topEigenvalues(s.hess!, { k: 1, maxIterations: 20, seed: 1, onProgress: sample });
    return `λ_max = ${r.values[0]!.toPrecision(8)} (residual ${r.residuals[0]!.toExponential(1)})`;
  },
  tb('hvp_x20'),
  torch?.hvp_x20?.best_method ?? '',
  tb32('hvp_x20'),
);
measure(
  'CG 50 iterations, GGN + 1e-3 I',
  50,
  (s) => {
    const b = s.p.gradient(theta);
    const r = cg(s.ggn!, b, { damping: 1e-3, tol: 1e-30, maxIterations: 50, onProgress: sample });
    return `residual ${r.residual.toExponential(2)}, converged ${r.converged}`;
  },
  tb('ggn_vp_x20', 2.5),
  '2.5 × (one vjp reused + 20 × jvp)',
  tb32('ggn_vp_x20', 2.5),
);
measure(
  'Hutchinson trace GGN (20 probes)',
  20,
  (s) => {
    const r = traceEstimate(s.ggn!, { probes: 20, seed: 2, onProgress: sample });
    return `tr ≈ ${r.estimate.toPrecision(6)} ± ${r.standardError.toPrecision(2)}`;
  },
  tb('ggn_vp_x20'),
  torch?.ggn_vp_x20?.best_method ?? '',
  tb32('ggn_vp_x20'),
);

console.log('\n| workload | products | natgrad ms | torch ms | natgrad / torch | WASM memory MiB | RSS growth MiB | result |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.products} | ${r.ms.toFixed(0)} | ${r.torchMs === null ? '—' : r.torchMs.toFixed(0)} | ${r.torchMs === null ? '—' : (r.ms / r.torchMs).toFixed(2)} | ${r.wasmMiB.toFixed(0)} | ${r.rssGrowthMiB.toFixed(0)} | ${r.result} |`,
  );
}
const load1 = loadavg();
const mark = (ok: boolean | null) => (ok === null ? '?' : ok ? '✓' : '✗');
console.log(`\nfloat32 (issue 19): natgrad ${variant}, ${threads} thread${threads === 1 ? '' : 's'}, right after float64; torch float32 the faster of 1 and 2 threads`);
console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}`);
console.log(
  '| workload | f64 ms | f32 ms | f32 / f64 | WASM MiB f64 | WASM MiB f32 | memory f32 / f64 | RSS growth MiB f32 | torch f32 ms (threads) | f32 / torch f32 | target (issue 19) | f32 result |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
for (const r of rows) {
  const t = r.targets;
  const target = t ? `time ≤ ${t.float32OverFloat64} ${mark(t.met.float64)}; memory ≤ ${t.memoryOverFloat64} ${mark(t.met.memory)}; torch ≤ ${t.float32OverTorchFloat32} ${mark(t.met.torch)}` : '';
  console.log(
    `| ${r.workload} | ${r.ms.toFixed(0)} | ${r.float32Ms.toFixed(0)} | ${r.ratioFloat32.toFixed(2)} | ${r.wasmMiB.toFixed(0)} | ${r.float32WasmMiB.toFixed(0)} | ${r.ratioFloat32Memory.toFixed(2)} | ${r.float32RssGrowthMiB.toFixed(0)} | ${r.torchFloat32Ms === null ? '—' : `${r.torchFloat32Ms.toFixed(0)} (${r.torchFloat32Threads})`} | ${r.ratioTorchFloat32 === null ? '—' : r.ratioTorchFloat32.toFixed(2)} | ${target} | ${r.float32Result} |`,
  );
}
if (!quick) {
  mkdirSync(join(here, 'results'), { recursive: true });
  const float32 = {
    threads,
    note: 'natgrad float32 on its own core right after each float64 run (same θ, X, v); torch float32: the faster of bench/torch_scale.py --dtype float32 with 1 and 2 threads',
    torch: torch32Runs.map(({ threads: t }) => ({ threads: t, file: torch32Path(t).slice(here.length + 1) })),
  };
  writeFileSync(
    join(here, 'results', `scale${suffix}.json`),
    JSON.stringify({ variant, threads, node: process.version, sizes: SIZES, N, D, rows, loadavgStart: load0, loadavgEnd: load1, float32 }, null, 2) + '\n',
  );
}
p.free();
p32.free();
