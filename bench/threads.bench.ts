/**
 * Threads benchmark (part of `npm run bench`): the threaded core on 1 and on 2 threads against
 * numpy on 1 and on 2 BLAS threads, same machine, same run.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/threads.bench.ts [--quick] [--no-numpy]
 *
 * Workloads (inputs seeded, resident before timing):
 * - Gram `C = Xᵀ diag(w) X` at (N, d) = (10000, 256) and (200000, 128): `dzero` + `dsyrkLower`
 *   through `core.exports` on resident buffers (the kernel row of kernels.bench.ts); numpy:
 *   `X.T @ (w[:, None] * X)` (bench/numpy_threads.py, run once with OPENBLAS_NUM_THREADS=1 and
 *   once with 2).
 * - MLP [64, 256, 256, 10] tanh, categorical, N = 2048: the GGN-vector product from θ (the problem
 *   alternates between two θ, so every call runs its forward pass, as bench:models does), and
 *   with the linearization kept (same θ: the product alone, what a CG loop pays per iteration).
 *
 * Cores: `createCore({ variant, threads })` for threads 1 (the single-threaded build) and 2 (the
 * shared-memory build with one worker); relaxed SIMD where the engine has it. numpy runs first, in
 * child processes, while this process is still idle (run after the natgrad timings, its 2-thread
 * times came out 30 % slower: V8's background threads were still busy). Method: warm-up
 * (≥ 5 calls and ≥ 1.5 s, so V8 has tiered the module up in every thread), then benny; the
 * median of its per-cycle means is reported. Before timing, each workload's outputs on the
 * two cores are checked to be bitwise identical. Results: bench/results/threads.json.
 */
import b from 'benny';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categorical, createCore, mlp, problem, supportsRelaxedSimd, type Core } from '../bindings/index.js';
import { normals } from './seeded.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const variant = supportsRelaxedSimd() ? 'relaxed-simd' : 'simd';

interface Workload {
  key: string;
  label: string;
  /** Prepare on a core: returns the op and a function giving its output (for the identity check). */
  setup: (c: Core) => { op: () => void; output: () => Float64Array; free: () => void };
}

function gramWorkload(N: number, d: number): Workload {
  return {
    key: `gram_${N}x${d}`,
    label: `Gram N=${N} d=${d}`,
    setup: (c) => {
      const g = normals(N + d);
      const X = Float64Array.from({ length: N * d }, g);
      const w = Float64Array.from({ length: N }, (_, i) => 0.5 + ((i * 7919) % 1000) / 1000);
      const x = c.allocCopy(X),
        pw = c.allocCopy(w),
        C = c.alloc(8 * d * d);
      const e = c.exports;
      const op = () => {
        e.dzero(d, d, C, d);
        e.dsyrkLower(N, d, x, d, pw, 1, C, d);
      };
      return {
        op,
        output: () => (op(), c.f64(C, d * d).slice()),
        free: () => {
          for (const p of [x, pw, C]) c.free(p);
        },
      };
    },
  };
}

function ggnvpWorkload(fromTheta: boolean): Workload {
  const sizes = [64, 256, 256, 10],
    N = 2048;
  return {
    key: fromTheta ? 'mlp_ggnvp' : 'mlp_ggnvp_kept',
    label: `MLP [64,256,256,10] GGN-vp N=2048${fromTheta ? ' (from θ)' : ' (kept linearization)'}`,
    setup: (c) => {
      const model = mlp({ sizes, activation: 'tanh', core: c });
      const g = normals(2048 * 17 + 4);
      const X = Float64Array.from({ length: N * 64 }, g);
      const y = Float64Array.from({ length: N }, (_, n) => n % 10);
      const p = problem({ model, X: { data: X, rows: N, cols: 64 }, y, likelihood: categorical({ classes: 10 }) });
      const thetas = fromTheta ? [model.init(1), model.init(2)] : [model.init(1)];
      const v = Float64Array.from({ length: model.dim }, g);
      let k = 0;
      let last = new Float64Array(0);
      const op = () => {
        last = p.ggnVectorProduct(thetas[k++ % thetas.length]!, v);
      };
      return {
        op,
        output: () => {
          k = 0;
          op();
          return last;
        },
        free: () => p.free(),
      };
    },
  };
}

async function time(label: string, op: () => void): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 5 || performance.now() - t0 < (quick ? 300 : 1500); i++) op();
  let median = Number.NaN;
  await b.suite(
    label,
    b.add(label, () => op, { minSamples: quick ? 3 : 10, maxTime: quick ? 1 : 4 }),
    b.complete((s) => {
      median = s.results[0]!.details.median * 1e3;
    }),
  );
  return median;
}

const numpy: Record<string, { 1?: number; 2?: number }> = {};
const numpyPath = (t: number) => join(here, 'results', `numpy-threads-${t}.json`);
mkdirSync(join(here, 'results'), { recursive: true });
for (const t of [1, 2]) {
  if (!process.argv.includes('--no-numpy')) {
    console.log(`running python3 bench/numpy_threads.py --threads ${t} …`);
    const r = spawnSync(process.env.PYTHON ?? 'python3', [join(here, 'numpy_threads.py'), '--threads', String(t), '--out', numpyPath(t), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`numpy_threads.py --threads ${t} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
  if (existsSync(numpyPath(t))) {
    for (const row of JSON.parse(readFileSync(numpyPath(t), 'utf8')).rows as { N: number; d: number; medianMs: number }[]) {
      const key = `gram_${row.N}x${row.d}`;
      numpy[key] = { ...numpy[key], [t]: row.medianMs };
    }
  }
}

const cores: Record<1 | 2, Core> = { 1: await createCore({ variant, threads: 1 }), 2: await createCore({ variant, threads: 2 }) };
if (cores[2].threads !== 2) throw new Error('the 2-thread core did not start its worker');
const workloads = [gramWorkload(10000, 256), gramWorkload(200000, 128), ggnvpWorkload(true), ggnvpWorkload(false)];
const ms: Record<string, { 1: number; 2: number }> = {};
for (const w of workloads) {
  const one = w.setup(cores[1]),
    two = w.setup(cores[2]);
  const a = one.output(),
    c = two.output();
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], c[i])) throw new Error(`${w.label}: 1 and 2 threads differ at ${i}`);
  ms[w.key] = { 1: await time(`${w.label}, 1 thread`, one.op), 2: await time(`${w.label}, 2 threads`, two.op) };
  one.free();
  two.free();
}

const rows = workloads.map((w) => {
  const m = ms[w.key]!,
    np = numpy[w.key] ?? {};
  return {
    workload: w.label,
    key: w.key,
    natgrad1: m[1],
    natgrad2: m[2],
    speedup: m[1] / m[2],
    numpy1: np[1] ?? Number.NaN,
    numpy2: np[2] ?? Number.NaN,
    vsNumpy1: m[2] / (np[1] ?? Number.NaN),
    vsNumpy2: m[2] / (np[2] ?? Number.NaN),
    vsNatgrad1: m[2] / m[1],
  };
});
console.log(`\nthreaded core (${variant}) — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}); ms are medians`);
console.table(
  rows.map((r) => ({
    workload: r.workload,
    'natgrad 1 thr': +r.natgrad1.toPrecision(3),
    'natgrad 2 thr': +r.natgrad2.toPrecision(3),
    '2 thr / 1 thr': +r.vsNatgrad1.toFixed(2),
    'numpy 1 thr': +r.numpy1.toPrecision(3),
    'numpy 2 thr': +r.numpy2.toPrecision(3),
    'natgrad 2 / numpy 1': +r.vsNumpy1.toFixed(2),
    'natgrad 2 / numpy 2': +r.vsNumpy2.toFixed(2),
  })),
);
writeFileSync(join(here, 'results', 'threads.json'), `${JSON.stringify({ node: process.version, variant, cpu: cpus()[0]?.model, cores: cpus().length, rows }, null, 2)}\n`);
cores[2].pool?.close();
