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
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categorical, core as defaultCore, init, mlp, problem, rng } from '../bindings/index.js';
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

interface Row {
  workload: string;
  products: number;
  ms: number;
  wasmMiB: number;
  rssGrowthMiB: number;
  torchMs: number | null;
  torchWhat: string;
  result: string;
}
const rows: Row[] = [];
const MiB = 2 ** 20;
let rssPeak = 0;
const sample = (): void => {
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
};

function measure(workload: string, products: number, fn: () => string, torchMs: number | null, torchWhat: string): void {
  (globalThis as { gc?: () => void }).gc?.();
  const rss0 = process.memoryUsage().rss;
  rssPeak = rss0;
  const t0 = performance.now();
  const result = fn();
  const ms = performance.now() - t0;
  sample();
  rows.push({ workload, products, ms, wasmMiB: core.memoryBytes / MiB, rssGrowthMiB: (rssPeak - rss0) / MiB, torchMs, torchWhat, result });
  console.log(`${workload.padEnd(34)} ${ms.toFixed(0).padStart(8)} ms  wasm ${(core.memoryBytes / MiB).toFixed(0)} MiB  rss +${((rssPeak - rss0) / MiB).toFixed(0)} MiB  ${result}`);
}

const torchPath = join(here, 'results', `torch-scale${suffix}.json`);
const torch = existsSync(torchPath) && !quick ? (JSON.parse(readFileSync(torchPath, 'utf8')) as Record<string, { best_ms: number; best_method: string }>) : undefined;
const tb = (k: string, f = 1): number | null => (torch?.[k] ? torch[k]!.best_ms * f : null);

console.log(`natgrad ${variant}, Node ${process.version}, MLP ${JSON.stringify(SIZES)} tanh, categorical, N = ${N}, D = ${D}`);
// Warm-up: one forward pass and product at a different θ (tier-up of the WASM, allocation of the trace).
p.ggnVectorProduct(
  theta.map((t) => t * 0.5),
  v,
);
p.hessianVectorProduct(
  theta.map((t) => t * 0.5),
  v,
);

measure(
  'GGN-vector product (fresh θ)',
  1,
  () => {
    p.ggnVectorProduct(theta, v);
    return '';
  },
  tb('ggn_vp'),
  'functorch jvp + vjp from θ',
);
measure(
  'GGN-vector product (kept pass)',
  1,
  () => {
    p.ggnVectorProduct(theta, v);
    return '';
  },
  null,
  '',
);
measure(
  'Hessian-vector product (kept pass)',
  1,
  () => {
    p.hessianVectorProduct(theta, v);
    return '';
  },
  tb('hvp'),
  'torch double backward from θ',
);
const ggn = curvatureOperator(p, theta, { kind: 'ggn' });
const hess = curvatureOperator(p, theta, { kind: 'hessian' });
measure(
  'Lanczos top eigenvalue GGN (20)',
  20,
  () => {
    const r = topEigenvalues(ggn, { k: 1, maxIterations: 20, seed: 1, onProgress: sample });
    return `λ_max = ${r.values[0]!.toPrecision(8)} (residual ${r.residuals[0]!.toExponential(1)})`;
  },
  tb('ggn_vp_x20'),
  torch?.ggn_vp_x20?.best_method ?? '',
);
measure(
  'Lanczos top eigenvalue Hessian (20)',
  20,
  () => {
    const r = topEigenvalues(hess, { k: 1, maxIterations: 20, seed: 1, onProgress: sample });
    return `λ_max = ${r.values[0]!.toPrecision(8)} (residual ${r.residuals[0]!.toExponential(1)})`;
  },
  tb('hvp_x20'),
  torch?.hvp_x20?.best_method ?? '',
);
measure(
  'CG 50 iterations, GGN + 1e-3 I',
  50,
  () => {
    const b = p.gradient(theta);
    const r = cg(ggn, b, { damping: 1e-3, tol: 1e-30, maxIterations: 50, onProgress: sample });
    return `residual ${r.residual.toExponential(2)}, converged ${r.converged}`;
  },
  tb('ggn_vp_x20', 2.5),
  '2.5 × (one vjp reused + 20 × jvp)',
);
measure(
  'Hutchinson trace GGN (20 probes)',
  20,
  () => {
    const r = traceEstimate(ggn, { probes: 20, seed: 2, onProgress: sample });
    return `tr ≈ ${r.estimate.toPrecision(6)} ± ${r.standardError.toPrecision(2)}`;
  },
  tb('ggn_vp_x20'),
  torch?.ggn_vp_x20?.best_method ?? '',
);

console.log('\n| workload | products | natgrad ms | torch ms | natgrad / torch | WASM memory MiB | RSS growth MiB | result |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.products} | ${r.ms.toFixed(0)} | ${r.torchMs === null ? '—' : r.torchMs.toFixed(0)} | ${r.torchMs === null ? '—' : (r.ms / r.torchMs).toFixed(2)} | ${r.wasmMiB.toFixed(0)} | ${r.rssGrowthMiB.toFixed(0)} | ${r.result} |`,
  );
}
if (!quick) {
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', `scale${suffix}.json`), JSON.stringify({ variant, threads, node: process.version, sizes: SIZES, N, D, rows }, null, 2) + '\n');
}
p.free();
