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
 *
 * float32 (issue 19): every workload is timed a second time, right after its float64 run on the
 * same (first-listed, relaxed-SIMD when available) one-thread core, with `mlp({ …, dtype:
 * 'float32' })` on the same inputs (θ, X and v go in as float64 and are rounded once); the float32
 * problem alternates between its OWN two θs, so no call reuses a cached linearization. The ratio
 * float32 / float64 is printed beside torch float32: `bench/torch_models.py --dtype float32` runs
 * with 1 and 2 threads (results/torch-models-float32.json, torch-models-float32-2threads.json) and
 * the faster run is the reference (torch float32 is fastest on one thread for these MLPs). The two
 * MLP products carry issue 19's targets: float32 ≤ 0.55 × float64 and ≤ 0.6 × torch float32.
 *
 * `--quick` (fewer repeats) writes the torch runs to a temporary folder and does not write
 * bench/results/models.json: quick numbers never replace the published ones.
 */
import b from 'benny';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categorical, createCore, mlp, problem, supportsRelaxedSimd, type Activation, type Core, type KfacFactors, type Problem, type Variant } from '../bindings/index.js';
import { normals } from './seeded.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const noTorch = process.argv.includes('--no-torch');
const load0 = loadavg();
// quick runs keep their torch numbers out of bench/results (--no-torch reads the published ones)
const torchDir = quick && !noTorch ? mkdtempSync(join(tmpdir(), 'natgrad-models-')) : join(here, 'results');
const torchPath = join(torchDir, 'torch-models.json');
/** torch float32 result files, one per thread count (the faster run is the reference). */
const TORCH_F32_THREADS = [1, 2];
const torchF32Path = (t: number) => join(torchDir, t === 1 ? 'torch-models-float32.json' : `torch-models-float32-${t}threads.json`);
type TorchResults = Record<string, { best_ms: number; best_method: string }>;

if (!noTorch) {
  console.log('running bench/torch_models.py (one thread) …');
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_models.py'), ...(quick ? ['--quick'] : []), '--out', torchPath], {
    stdio: 'inherit',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) console.log('torch_models.py failed; using the last results if any');
  for (const t of TORCH_F32_THREADS) {
    console.log(`running bench/torch_models.py --dtype float32 (${t} thread${t === 1 ? '' : 's'}) …`);
    const args = [join(here, 'torch_models.py'), '--dtype', 'float32', '--threads', String(t), ...(quick ? ['--quick'] : []), '--out', torchF32Path(t)];
    const r32 = spawnSync('/usr/bin/python3', args, { stdio: 'inherit' });
    if (r32.status !== 0) console.log(`torch_models.py --dtype float32 --threads ${t} failed; using the last results if any`);
  }
}
const readTorch = (path: string): TorchResults => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TorchResults) : {});
const torch = readTorch(torchPath);
const torchF32Runs = TORCH_F32_THREADS.map((t) => ({ threads: t, results: readTorch(torchF32Path(t)) }));
/** The faster of torch float32's 1- and 2-thread runs of a workload. */
function torchF32(key: string): { ms: number; threads: number; method: string } | undefined {
  let best: { ms: number; threads: number; method: string } | undefined;
  for (const { threads, results } of torchF32Runs) {
    const e = results[key];
    if (e && (!best || e.best_ms < best.ms)) best = { ms: e.best_ms, threads, method: e.best_method };
  }
  return best;
}
/** Issue 19's targets: natgrad float32 / natgrad float64 and natgrad float32 / torch float32 (the faster of 1 and 2 threads). */
const TARGETS: Record<string, { float64: number; torch: number }> = { ggn_vp: { float64: 0.55, torch: 0.6 }, hvp: { float64: 0.55, torch: 0.6 } };

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

type Dtype = 'float64' | 'float32';

async function time(core: Core, w: Workload, dtype: Dtype): Promise<number> {
  const model = mlp({ sizes: w.sizes, activation: w.activation, core, dtype });
  const g = normals(w.N * 17 + w.sizes.length);
  const d = w.sizes[0]!,
    C = w.sizes.at(-1)!;
  const X = Float64Array.from({ length: w.N * d }, g);
  const y = Float64Array.from({ length: w.N }, (_, n) => n % C);
  const p = problem({ model, X: { data: X, rows: w.N, cols: d }, y, likelihood: categorical({ classes: C }) });
  const thetas = [model.init(1), model.init(2)];
  const v = Float64Array.from({ length: model.dim }, g);
  let k = 0; // this problem's own counter over its own two θ: no call finds the previous call's linearization
  const call = () => w.run(p, thetas[k++ & 1]!, v);
  const t0 = performance.now();
  for (let i = 0; i < 5 || performance.now() - t0 < (quick ? 300 : 1500); i++) call(); // warm-up: V8 tiers the module up
  let median = NaN;
  await b.suite(
    `${w.label} (${dtype})`,
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
interface Row {
  workload: string;
  key: string;
  natgradMs: number;
  simdMs: number;
  torchMs: number;
  torchMethod: string;
  ratio: number;
  simdRatio: number;
  // float32 (issue 19): natgrad on the first core (one thread), torch the faster of 1 and 2 threads
  float32Ms: number;
  ratioFloat32: number;
  torchFloat32Ms: number | null;
  torchFloat32Threads: number | null;
  torchFloat32Method: string | null;
  ratioTorchFloat32: number | null;
  targets: { float32OverFloat64: number; float32OverTorchFloat32: number; met: { float64: boolean; torch: boolean | null } } | null;
}
const rows: Row[] = [];
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
for (const w of workloads) {
  if (only && !only.includes(w.key)) continue;
  const ms = [] as number[];
  let f32 = NaN;
  for (const [i, c] of cores.entries()) {
    ms.push(await time(c, w, 'float64'));
    if (i === 0) f32 = await time(c, w, 'float32'); // right after its float64 run, same core
  }
  const t = torch[w.key];
  const t32 = torchF32(w.key);
  const relaxed = ms[0]!,
    simd = ms[ms.length - 1]!;
  const target = TARGETS[w.key];
  rows.push({
    workload: w.label,
    key: w.key,
    natgradMs: relaxed,
    simdMs: simd,
    torchMs: t?.best_ms ?? NaN,
    torchMethod: t?.best_method ?? '—',
    ratio: relaxed / (t?.best_ms ?? NaN),
    simdRatio: simd / (t?.best_ms ?? NaN),
    float32Ms: f32,
    ratioFloat32: f32 / relaxed,
    torchFloat32Ms: t32?.ms ?? null,
    torchFloat32Threads: t32?.threads ?? null,
    torchFloat32Method: t32?.method ?? null,
    ratioTorchFloat32: t32 ? f32 / t32.ms : null,
    targets: target
      ? {
          float32OverFloat64: target.float64,
          float32OverTorchFloat32: target.torch,
          met: { float64: f32 / relaxed <= target.float64, torch: t32 ? f32 / t32.ms <= target.torch : null },
        }
      : null,
  });
}

const load1 = loadavg();
const mark = (ok: boolean | null) => (ok === null ? '?' : ok ? '✓' : '✗');
console.log(`\nnatgrad MLP curvatures vs torch (float64, one thread) — node ${process.version}; ratios < 1: natgrad faster`);
console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}`);
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
console.log(`\nfloat32 (issue 19): natgrad ${variants[0]} one thread, right after float64; torch float32 the faster of 1 and 2 threads`);
console.table(
  rows.map((r) => ({
    workload: r.workload,
    'f64 ms': +r.natgradMs.toPrecision(3),
    'f32 ms': +r.float32Ms.toPrecision(3),
    'f32 / f64': +r.ratioFloat32.toFixed(2),
    'torch f32 ms (threads)': r.torchFloat32Ms === null ? '—' : `${+r.torchFloat32Ms.toPrecision(3)} (${r.torchFloat32Threads})`,
    'f32 / torch f32': r.ratioTorchFloat32 === null ? '—' : +r.ratioTorchFloat32.toFixed(2),
    'target (issue 19)': r.targets ? `f32/f64 ≤ ${r.targets.float32OverFloat64} ${mark(r.targets.met.float64)}; f32/torch ≤ ${r.targets.float32OverTorchFloat32} ${mark(r.targets.met.torch)}` : '',
  })),
);
mkdirSync(join(here, 'results'), { recursive: true });
if (!only && !quick)
  writeFileSync(
    join(here, 'results', 'models.json'),
    JSON.stringify(
      {
        node: process.version,
        variants,
        rows,
        loadavgStart: load0,
        loadavgEnd: load1,
        float32: {
          variant: variants[0],
          threads: 1,
          note: 'natgrad float32 timed right after float64 on the same one-thread core, each problem alternating between its own two θ; torch float32: the faster of bench/torch_models.py --dtype float32 with 1 and 2 threads',
          torch: torchF32Runs.map(({ threads, results }) => ({ threads, file: torchF32Path(threads).slice(here.length + 1), workloads: Object.keys(results) })),
        },
      },
      null,
      2,
    ) + '\n',
  );
else if (quick) console.log('--quick: bench/results/models.json not written');
