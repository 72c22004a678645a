/**
 * Network benchmarks (`npm run bench:models`): natgrad's MLP curvatures against the fastest way a
 * competent PyTorch user has (functorch or BackPACK, whichever is faster), float64, one thread on
 * both sides, on the same machine in the same run.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/models.bench.ts [--quick] [--no-torch] [--only=key,…]
 *
 * First runs `bench/torch_models.py` (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)) unless
 * `--no-torch` (then the last bench/results/torch-models.json is used), then times each workload
 * with benny on the relaxed-SIMD binary and on the baseline SIMD binary after a warm-up, and
 * prints the medians and the ratios natgrad / torch. Every natgrad call starts from θ (the
 * problem alternates between two parameter vectors, so each call runs its own forward pass, as
 * the torch timings do). Results go to bench/results/models.json.
 */
import b from 'benny';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categorical, createCore, mlp, problem, supportsRelaxedSimd, type Activation, type Core, type KfacFactors, type Problem, type Variant } from '../bindings/index.js';
import { normals } from './seeded.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const torchPath = join(here, 'results', 'torch-models.json');

if (!process.argv.includes('--no-torch')) {
  console.log('running bench/torch_models.py (one thread) …');
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_models.py'), ...(quick ? ['--quick'] : []), '--out', torchPath], {
    stdio: 'inherit',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) console.log('torch_models.py failed; using the last results if any');
}
const torch = existsSync(torchPath) ? (JSON.parse(readFileSync(torchPath, 'utf8')) as Record<string, { best_ms: number; best_method: string }>) : {};

interface Workload {
  key: string;
  label: string;
  sizes: number[];
  activation: Activation;
  N: number;
  run: (p: Problem, th: Float64Array, v: Float64Array) => void;
}

const workloads: Workload[] = [
  { key: 'ggn_dense', label: 'dense GGN [16,32,32,10] tanh N=512', sizes: [16, 32, 32, 10], activation: 'tanh', N: 512, run: (p, th) => p.ggn(th).free() },
  {
    key: 'ggn_diag_kfac',
    label: 'GGN diagonal + KFAC, same net',
    sizes: [16, 32, 32, 10],
    activation: 'tanh',
    N: 512,
    run: (p, th) => {
      p.ggn(th, { structure: 'diagonal' });
      for (const f of p.ggn(th, { structure: 'kfac' }) as KfacFactors[]) {
        f.A.free();
        f.G.free();
      }
    },
  },
  {
    key: 'per_sample_grad',
    label: 'per-sample gradients [64,128,10] relu N=1024',
    sizes: [64, 128, 10],
    activation: 'relu',
    N: 1024,
    run: (p, th) => {
      p.perSampleGradients(th);
    },
  },
  {
    key: 'per_sample_grad',
    label: 'same, { resident: true } (rows stay in WASM memory)',
    sizes: [64, 128, 10],
    activation: 'relu',
    N: 1024,
    run: (p, th) => {
      p.perSampleGradients(th, { resident: true }).free();
    },
  },
  {
    key: 'ggn_vp',
    label: 'GGN-vector product [64,256,256,10] tanh N=2048',
    sizes: [64, 256, 256, 10],
    activation: 'tanh',
    N: 2048,
    run: (p, th, v) => {
      p.ggnVectorProduct(th, v);
    },
  },
  {
    key: 'hvp',
    label: 'Hessian-vector product, same',
    sizes: [64, 256, 256, 10],
    activation: 'tanh',
    N: 2048,
    run: (p, th, v) => {
      p.hessianVectorProduct(th, v);
    },
  },
  { key: 'hessian_dense', label: 'dense Hessian [8,16,16,3] tanh N=256', sizes: [8, 16, 16, 3], activation: 'tanh', N: 256, run: (p, th) => p.hessian(th).free() },
];

async function time(core: Core, w: Workload): Promise<number> {
  const model = mlp({ sizes: w.sizes, activation: w.activation, core });
  const g = normals(w.N * 17 + w.sizes.length);
  const d = w.sizes[0]!,
    C = w.sizes.at(-1)!;
  const X = Float64Array.from({ length: w.N * d }, g);
  const y = Float64Array.from({ length: w.N }, (_, n) => n % C);
  const p = problem({ model, X: { data: X, rows: w.N, cols: d }, y, likelihood: categorical({ classes: C }) });
  const thetas = [model.init(1), model.init(2)];
  const v = Float64Array.from({ length: model.dim }, g);
  let k = 0;
  const call = () => w.run(p, thetas[k++ & 1]!, v);
  const t0 = performance.now();
  for (let i = 0; i < 5 || performance.now() - t0 < (quick ? 300 : 1500); i++) call(); // warm-up: V8 tiers the module up
  let median = NaN;
  await b.suite(
    w.label,
    b.add(`${core.variant}`, () => call, { minSamples: quick ? 3 : 7, maxTime: quick ? 1 : 4 }),
    b.complete((s) => {
      median = s.results[0]!.details.median * 1e3;
    }),
  );
  p.free();
  return median;
}

const variants: Variant[] = supportsRelaxedSimd() ? ['relaxed-simd', 'simd'] : ['simd'];
const cores = await Promise.all(variants.map((variant) => createCore({ variant })));
const rows: { workload: string; key: string; natgradMs: number; simdMs: number; torchMs: number; torchMethod: string; ratio: number; simdRatio: number }[] = [];
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
for (const w of workloads) {
  if (only && !only.includes(w.key)) continue;
  const ms = [] as number[];
  for (const c of cores) ms.push(await time(c, w));
  const t = torch[w.key];
  const relaxed = ms[0]!,
    simd = ms[ms.length - 1]!;
  rows.push({
    workload: w.label,
    key: w.key,
    natgradMs: relaxed,
    simdMs: simd,
    torchMs: t?.best_ms ?? NaN,
    torchMethod: t?.best_method ?? '—',
    ratio: relaxed / (t?.best_ms ?? NaN),
    simdRatio: simd / (t?.best_ms ?? NaN),
  });
}

console.log(`\nnatgrad MLP curvatures vs torch (float64, one thread) — node ${process.version}; ratios < 1: natgrad faster`);
console.table(
  rows.map((r) => ({
    workload: r.workload,
    [`natgrad ${variants[0]} ms`]: +r.natgradMs.toPrecision(3),
    'simd ms': +r.simdMs.toPrecision(3),
    'torch ms': +r.torchMs.toPrecision(3),
    'torch way': r.torchMethod,
    ratio: +r.ratio.toFixed(2),
    'simd ratio': +r.simdRatio.toFixed(2),
  })),
);
mkdirSync(join(here, 'results'), { recursive: true });
if (!only) writeFileSync(join(here, 'results', 'models.json'), JSON.stringify({ node: process.version, variants, rows }, null, 2) + '\n');
