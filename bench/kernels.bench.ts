/**
 * Kernel benchmarks: the Gram matrix `C = Xᵀ diag(w) X` and the damped Cholesky solve
 * `(A + λI) x = b`, for natgrad's two WebAssembly binaries (relaxed SIMD and baseline
 * SIMD128, both loaded in this process with `createCore({ variant })`), plain JavaScript,
 * ml-matrix and — in a child process, after the JS suites — numpy on one thread.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/kernels.bench.ts [--quick] [--no-numpy] [--out FILE] [--only=TEXT]
 *   (--only=TEXT: only the groups whose title contains TEXT, e.g. --only=gemm.)
 *   (Node ≥ 22: the flag is not needed.)
 *
 * What is timed (inputs seeded, resident before timing, results checked against each other):
 * - Gram (N, d): one op computes C from scratch. WASM: `dzero` + `dsyrkLower` through
 *   `core.exports` on resident buffers (lower triangle, N·d·(d+1) useful flops); plus one
 *   row for the public `gram(Matrix, w)` (validation of w, allocation, mirroring, free).
 *   Plain JS: rank-one updates of the lower triangle, sample by sample. ml-matrix:
 *   `X.transpose().mmul(X.clone().mulColumnVector(w))` (full product).
 * - Cholesky + solve (d): one op copies A (d × d) into a work buffer, factors A + λI
 *   (λ = 1e-3) and solves for one right-hand side — what `SymMatrix.solve` does, and what
 *   every other implementation has to do too (LAPACK factors in place). Flops d³/3 + 2d².
 * - General matrix products (m, n, k, transposes): `dgemm` (float64) and `sgemm` (float32, f32x4
 *   lanes) through `core.exports` on resident buffers, C ← op(A)·op(B) (beta = 0), at the MLP
 *   shapes (2048 × 256 × 256, all four transposes) and 1024³; flops 2mnk. After the main table,
 *   a second one gives sgemm's time over dgemm's per shape and variant (issue 19's target for
 *   float32 products: ≤ 0.55). sgemm is cross-checked against dgemm at 1e-4 of max |C| (float32).
 *
 * Method: each case is first warmed up (≥ 0.3 s and ≥ 5 calls, so that V8 has tiered the
 * JS up and the WASM functions from Liftoff up to TurboFan); where the engine exposes
 * `%IsTurboFanFunction` (via `v8.setFlagsFromString('--allow-natives-syntax')`) every
 * kernel is checked to be TurboFan code before timing, and forced up if not. Then benny
 * (benchmark.js) times it: each of its samples is the mean time per op over one cycle of
 * many ops (a cycle lasts ≥ benchmark.js's minTime, ~50 ms); `medianMs` is the median of
 * those per-cycle means, `minMs` the fastest cycle. Results go to bench/results/latest.json
 * (array of `{ name, sizes, variant, medianMs, gflops, … }`) and a table is printed.
 * Unless `--no-numpy`, bench/numpy_kernels.py then runs (OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE removed from its environment only) and the ratios are printed.
 *
 * @module
 */
import b from 'benny';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { CholeskyDecomposition, Matrix as MlMatrix } from 'ml-matrix';
import { createCore, gram, Matrix, supportsRelaxedSimd, type Core, type Variant } from '../bindings/index.js';
import { printComparison, readJson } from './compare.mjs';

/** One row of bench/results/latest.json. */
interface BenchRow {
  name: string;
  sizes: Record<string, number>;
  variant: string;
  /** Median over benny's samples of the mean time per op in one cycle, in ms. */
  medianMs: number;
  /** Useful GF/s at the median. */
  gflops: number;
  minMs?: number;
  samples?: number;
  rmePct?: number;
  tier?: string;
  /** Mean CPU time per op over a separate ≥ 0.3 s run (see cpuCheck). */
  cpuMs?: number;
  /** CPU time / wall time during that run (1 = had a core to itself). */
  cpuShare?: number;
  engine?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withNumpy = !args.includes('--no-numpy');
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1]! : join(here, 'results', 'latest.json');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);

const GRAM_SIZES: [number, number][] = [
  [1605, 124],
  [569, 31],
  [10000, 256],
];
const CHOL_SIZES = [31, 124, 512];
const LAMBDA = 1e-3;
/** General matrix products [m, n, k, transA, transB]: the MLP's (N = 2048, width 256) and a square one. */
const GEMM_SHAPES: [number, number, number, number, number][] = [
  [2048, 256, 256, 0, 0],
  [2048, 256, 256, 0, 1],
  [2048, 256, 256, 1, 0],
  [2048, 256, 256, 1, 1],
  [1024, 1024, 1024, 0, 0],
];

// ---------------------------------------------------------------------------------------------
// Tier checks (V8 natives, where available).

type Native = (f: unknown) => unknown;
let isTurbofan: Native | undefined;
let tierUp: Native | undefined;
try {
  v8.setFlagsFromString('--allow-natives-syntax');
  isTurbofan = new Function('f', 'return %IsTurboFanFunction(f)') as Native;
  tierUp = new Function('f', '%WasmTierUpFunction(f)') as Native;
} catch {
  isTurbofan = tierUp = undefined;
}

/** Make sure the named exports run TurboFan code; returns a note for the report. */
function ensureTurbofan(core: Core, names: string[]): string {
  if (!isTurbofan || !tierUp) return 'unverified (no natives)';
  let forced = 0;
  for (const name of names) {
    // @assemblyscript/loader wraps each export in a JS closure and keeps the WebAssembly
    // function as `.original`; the natives accept only the latter (their name is its index).
    const exported = core.exports[name] as { original?: unknown };
    const f = exported.original ?? exported;
    if (typeof f !== 'function' || !/^\d+$/.test(f.name)) return `unverified (${name} is not a WebAssembly export)`;
    if (isTurbofan(f) !== true) {
      tierUp(f);
      forced++;
    }
    if (isTurbofan(f) !== true) return `NOT TurboFan: ${name}`;
  }
  return forced ? `TurboFan (forced ${forced})` : 'TurboFan';
}

// ---------------------------------------------------------------------------------------------
// Seeded inputs.

function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(seed: number, n: number): Float64Array {
  const u = uniform(seed);
  return Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

/** SPD test matrix A = ZᵀZ/m + 0.1·I (Z: m × d normals, m = 2d), exactly symmetric. */
function spdMatrix(d: number, seed: number): Float64Array {
  const m = 2 * d;
  const Z = normals(seed, m * d);
  const A = new Float64Array(d * d);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < d; i++) {
      const a = Z[k * d + i]! / m;
      for (let j = 0; j <= i; j++) A[i * d + j]! += a * Z[k * d + j]!;
    }
  }
  for (let i = 0; i < d; i++) {
    A[i * d + i]! += 0.1;
    for (let j = 0; j < i; j++) A[j * d + i] = A[i * d + j]!;
  }
  return A;
}

// ---------------------------------------------------------------------------------------------
// Plain-JS baselines.

/** Lower triangle of C = Σ_k w_k x_k x_kᵀ (C zeroed first), rank-one updates row by row. */
function gramJs(X: Float64Array, w: Float64Array, N: number, d: number, C: Float64Array): void {
  C.fill(0);
  for (let k = 0; k < N; k++) {
    const r = k * d;
    const wk = w[k]!;
    for (let i = 0; i < d; i++) {
      const a = wk * X[r + i]!;
      const ci = i * d;
      for (let j = 0; j <= i; j++) C[ci + j]! += a * X[r + j]!;
    }
  }
}

/** x = (A + λI)⁻¹ b: copy A, Cholesky–Banachiewicz in place (row dot products), two substitutions. */
function cholSolveJs(A: Float64Array, d: number, lambda: number, L: Float64Array, bv: Float64Array, x: Float64Array): void {
  L.set(A);
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let j = 0; j < i; j++) {
      const rj = j * d;
      let s = L[ri + j]!;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      L[ri + j] = s / L[rj + j]!;
    }
    let s = L[ri + i]! + lambda;
    for (let k = 0; k < i; k++) s -= L[ri + k]! * L[ri + k]!;
    if (!(s > 0)) throw new Error(`not positive definite at ${i + 1}`);
    L[ri + i] = Math.sqrt(s);
  }
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    let s = bv[i]!;
    for (let k = 0; k < i; k++) s -= L[ri + k]! * x[k]!;
    x[i] = s / L[ri + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    const ri = i * d;
    const xi = x[i]! / L[ri + i]!;
    x[i] = xi;
    for (let k = 0; k < i; k++) x[k]! -= L[ri + k]! * xi;
  }
}

// ---------------------------------------------------------------------------------------------
// Cases.

interface Case {
  name: 'gram' | 'gram()' | 'cholesky+solve' | 'dgemm' | 'sgemm';
  sizes: Record<string, number>;
  variant: string;
  flops: number;
  run: () => void;
  /** Result (lower triangle of C, or x) for the cross-check. */
  result: () => Float64Array;
  /** Exports that must be TurboFan code before timing. */
  kernels?: { core: Core; names: string[] };
  slow?: boolean;
  /** Cross-check tolerance against the group's first case (relative to its max |entry|); default 1e-9. */
  tol?: number;
}

let sink = 0;

const cores: { variant: Variant; core: Core }[] = [];
if (supportsRelaxedSimd()) cores.push({ variant: 'relaxed-simd', core: await createCore({ variant: 'relaxed-simd' }) });
else console.log('relaxed SIMD is not supported by this engine (Node 20 needs --experimental-wasm-relaxed-simd): relaxed cases skipped');
cores.push({ variant: 'simd', core: await createCore({ variant: 'simd' }) });

function lowerOf(C: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array((d * (d + 1)) / 2);
  let t = 0;
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) out[t++] = C[i * d + j]!;
  return out;
}

function gramCases(N: number, d: number): Case[] {
  const X = normals(1000 * N + d, N * d);
  const u = uniform(7 * N + d);
  const w = Float64Array.from({ length: N }, () => 0.05 + u());
  const sizes = { N, d };
  const flops = N * d * (d + 1);
  const slow = N * d * d > 1e8;
  const cases: Case[] = [];
  for (const { variant, core } of cores) {
    const k = core.exports;
    const px = core.allocCopy(X),
      pw = core.allocCopy(w),
      pc = core.alloc(8 * d * d);
    cases.push({
      name: 'gram',
      sizes,
      variant,
      flops,
      run: () => {
        k.dzero(d, d, pc, d);
        k.dsyrkLower(N, d, px, d, pw, 1, pc, d);
      },
      result: () => lowerOf(core.f64(pc, d * d), d),
      kernels: { core, names: ['dzero', 'dsyrkLower'] },
    });
    if (variant === cores[0]!.variant) {
      const m = Matrix.from({ data: X, rows: N, cols: d }, 'X', core);
      let last: Float64Array | undefined;
      cases.push({
        name: 'gram()',
        sizes,
        variant,
        flops,
        run: () => {
          const C = gram(m, w);
          sink += C.get(d - 1, 0);
          C.free();
        },
        result: () => {
          const C = gram(m, w);
          last = C.toDense();
          C.free();
          return lowerOf(last, d);
        },
        kernels: { core, names: ['dsyrkLower', 'dsymMirrorLower', 'alloc', 'free'] },
      });
    }
  }
  const C = new Float64Array(d * d);
  cases.push({
    name: 'gram',
    sizes,
    variant: 'plain-js',
    flops,
    slow,
    run: () => {
      gramJs(X, w, N, d, C);
      sink += C[d]!;
    },
    result: () => lowerOf(C, d),
  });
  const mX = new MlMatrix(N, d);
  for (let i = 0; i < N; i++) for (let j = 0; j < d; j++) mX.set(i, j, X[i * d + j]!);
  const wArr = Array.from(w);
  let mC: MlMatrix | undefined;
  cases.push({
    name: 'gram',
    sizes,
    variant: 'ml-matrix',
    flops,
    slow,
    run: () => {
      mC = mX.transpose().mmul(mX.clone().mulColumnVector(wArr));
      sink += mC.get(d - 1, 0);
    },
    result: () => lowerOf(Float64Array.from(mC!.to1DArray()), d),
  });
  return cases;
}

function cholCases(d: number): Case[] {
  const A = spdMatrix(d, 31 * d);
  const bv = normals(17 * d, d);
  const sizes = { d };
  const flops = (d * d * d) / 3 + 2 * d * d;
  const cases: Case[] = [];
  for (const { variant, core } of cores) {
    const k = core.exports;
    const pa = core.allocCopy(A),
      pl = core.alloc(8 * d * d),
      pb = core.allocCopy(bv),
      px = core.alloc(8 * d);
    cases.push({
      name: 'cholesky+solve',
      sizes,
      variant,
      flops,
      run: () => {
        const mem = new Float64Array(k.memory.buffer);
        mem.copyWithin(pl >>> 3, pa >>> 3, (pa >>> 3) + d * d);
        mem.copyWithin(px >>> 3, pb >>> 3, (pb >>> 3) + d);
        const info = k.dpotrfLower(d, LAMBDA, pl, d);
        if (info !== 0) throw new Error(`dpotrfLower: info ${info}`);
        k.dpotrsLower1(d, pl, d, px);
      },
      result: () => core.f64(px, d).slice(),
      kernels: { core, names: ['dpotrfLower', 'dpotrsLower1'] },
    });
  }
  const L = new Float64Array(d * d),
    x = new Float64Array(d);
  cases.push({
    name: 'cholesky+solve',
    sizes,
    variant: 'plain-js',
    flops,
    run: () => {
      cholSolveJs(A, d, LAMBDA, L, bv, x);
      sink += x[0]!;
    },
    result: () => x.slice(),
  });
  const mA = new MlMatrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) mA.set(i, j, A[i * d + j]!);
  const mb = MlMatrix.columnVector(Array.from(bv));
  let mx: MlMatrix | undefined;
  cases.push({
    name: 'cholesky+solve',
    sizes,
    variant: 'ml-matrix',
    flops,
    run: () => {
      const M = mA.clone();
      for (let i = 0; i < d; i++) M.set(i, i, M.get(i, i) + LAMBDA);
      mx = new CholeskyDecomposition(M).solve(mb);
      sink += mx.get(0, 0);
    },
    result: () => Float64Array.from(mx!.getColumn(0)),
  });
  return cases;
}

/** dgemm and sgemm, C ← op(A)·op(B), for each binary. */
function gemmCases(m: number, n: number, k: number, tA: number, tB: number): Case[] {
  const A = normals(31 * m + k + tA, m * k),
    B = normals(17 * k + n + tB, k * n);
  const lda = tA ? m : k,
    ldb = tB ? k : n;
  const sizes = { m, n, k, transA: tA, transB: tB };
  const flops = 2 * m * n * k;
  const cases: Case[] = [];
  for (const { variant, core } of cores) {
    const x = core.exports;
    const pa = core.allocCopy(A),
      pb = core.allocCopy(B),
      pc = core.alloc(8 * m * n);
    cases.push({
      name: 'dgemm',
      sizes,
      variant,
      flops,
      run: () => x.dgemm(tA, tB, m, n, k, 1, pa, lda, pb, ldb, 0, pc, n),
      result: () => core.f64(pc, m * n).slice(),
      kernels: { core, names: ['dgemm'] },
    });
    const f32 = (ptr: number, len: number) => new Float32Array(x.memory.buffer, ptr, len);
    const sa = core.alloc(4 * m * k),
      sb = core.alloc(4 * k * n),
      sc = core.alloc(4 * m * n);
    f32(sa, m * k).set(A);
    f32(sb, k * n).set(B);
    cases.push({
      name: 'sgemm',
      sizes,
      variant,
      flops,
      run: () => x.sgemm(tA, tB, m, n, k, 1, sa, lda, sb, ldb, 0, sc, n),
      result: () => Float64Array.from(f32(sc, m * n)),
      kernels: { core, names: ['sgemm'] },
      tol: 1e-4,
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Running.

/**
 * CPU time versus wall time over a separate run of ≥ 0.3 s (≥ 2 calls): the mean CPU ms per
 * op, and the share of the wall time this process was on a core. A share well below 1 means
 * other processes competed for the cores and the wall-clock medians are inflated.
 */
function cpuCheck(c: Case): { cpuMs: number; cpuShare: number } {
  const w0 = performance.now(),
    u0 = process.cpuUsage();
  let calls = 0;
  while (calls < 2 || performance.now() - w0 < (quick ? 100 : 300)) {
    c.run();
    calls++;
  }
  const wall = performance.now() - w0;
  const du = process.cpuUsage(u0);
  const cpu = (du.user + du.system) / 1000;
  return { cpuMs: cpu / calls, cpuShare: cpu / wall };
}

function warm(c: Case): string {
  const t0 = performance.now();
  let calls = 0;
  while (calls < 5 || performance.now() - t0 < (quick ? 100 : 300)) {
    c.run();
    calls++;
    if (c.slow && calls >= 3 && performance.now() - t0 > 1000) break;
  }
  if (!c.kernels) return 'JS (warmed)';
  const note = ensureTurbofan(c.kernels.core, c.kernels.names);
  for (let i = 0; i < 3; i++) c.run();
  return note;
}

/** max |a − b| / max(max |b|, tiny). */
function relDiff(a: Float64Array, ref: Float64Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - ref[i]!));
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return num / Math.max(den, 1e-300);
}

const rows: BenchRow[] = [];

async function runGroup(title: string, cases: Case[]): Promise<void> {
  // Cross-check every implementation against the first (WASM) one.
  for (const c of cases) c.run();
  const ref = cases[0]!.result();
  for (const c of cases.slice(1)) {
    const e = relDiff(c.result(), ref);
    if (!(e < (c.tol ?? 1e-9))) throw new Error(`${title}: ${c.name} [${c.variant}] differs from ${cases[0]!.variant} by ${e}`);
  }
  const tiers = new Map<Case, string>();
  for (const c of cases) tiers.set(c, warm(c));
  const label = (c: Case) => `${c.name} [${c.variant}]`;
  const results = new Map<string, { samples: number; details: { median: number; min: number; relativeMarginOfError: number } }>();
  await b.suite(
    title,
    ...cases.map((c) => b.add(label(c), () => c.run, { minSamples: c.slow ? 5 : quick ? 5 : 20, maxTime: quick ? 0.5 : c.slow ? 4 : 2 })),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) {
        results.set(r.name, r);
      }
    }),
  );
  for (const c of cases) {
    const r = results.get(label(c))!;
    const medianMs = r.details.median * 1e3;
    rows.push({
      name: c.name,
      sizes: c.sizes,
      variant: c.variant,
      medianMs,
      gflops: c.flops / (medianMs * 1e6),
      minMs: r.details.min * 1e3,
      samples: r.samples,
      rmePct: r.details.relativeMarginOfError,
      tier: tiers.get(c)!,
      ...cpuCheck(c),
    });
  }
}

const engine = `node ${process.version} (V8 ${process.versions.v8})`;
console.log(`natgrad kernel benchmarks — ${engine}, ${quick ? 'quick' : 'full'} run`);
const wanted = (title: string) => only === undefined || title.includes(only);
for (const [N, d] of GRAM_SIZES) {
  const title = `Gram Xᵀdiag(w)X, N=${N}, d=${d}`;
  if (wanted(title)) await runGroup(title, gramCases(N, d));
}
for (const d of CHOL_SIZES) {
  const title = `damped Cholesky + solve, d=${d}`;
  if (wanted(title)) await runGroup(title, cholCases(d));
}
for (const [m, n, k, tA, tB] of GEMM_SHAPES) {
  const title = `gemm ${tA ? 'Aᵀ' : 'A'}${tB ? 'Bᵀ' : 'B'}, m=${m}, n=${n}, k=${k}`;
  if (wanted(title)) await runGroup(title, gemmCases(m, n, k, tA, tB));
}
if (sink === 12345.678) console.log(sink); // keep results observable

// ---------------------------------------------------------------------------------------------
// Report.

for (const r of rows) r.engine = engine;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(rows, null, 2) + '\n');

const sizeText = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
const table = rows.map((r) => {
  const base = rows.find((x) => x.name === r.name && sizeText(x.sizes) === sizeText(r.sizes) && x.variant === cores[0]!.variant && x.name === r.name);
  return {
    kernel: r.name,
    sizes: sizeText(r.sizes),
    variant: r.variant,
    'median ms': Number(r.medianMs.toPrecision(4)),
    'min ms': Number(r.minMs!.toPrecision(4)),
    'GF/s': Number(r.gflops.toFixed(2)),
    [`× ${cores[0]!.variant}`]: base ? Number((r.medianMs / base.medianMs).toFixed(2)) : NaN,
    samples: r.samples,
    '±%': Number(r.rmePct!.toFixed(1)),
    'cpu ms': Number(r.cpuMs!.toPrecision(4)),
    'cpu share': Number(r.cpuShare!.toFixed(2)),
    tier: r.tier,
  };
});
console.log(`\nnatgrad kernels — median of benny's per-cycle mean time per op (${engine})`);
console.table(table);
console.log(`wrote ${outFile}`);
const gemmRatios = rows
  .filter((r) => r.name === 'sgemm')
  .map((r) => {
    const d = rows.find((x) => x.name === 'dgemm' && x.variant === r.variant && sizeText(x.sizes) === sizeText(r.sizes))!;
    return {
      sizes: sizeText(r.sizes),
      variant: r.variant,
      'dgemm GF/s': Number(d.gflops.toFixed(2)),
      'sgemm GF/s': Number(r.gflops.toFixed(2)),
      'sgemm / dgemm time': Number((r.medianMs / d.medianMs).toFixed(3)),
      'by cpu ms': Number((r.cpuMs! / d.cpuMs!).toFixed(3)),
    };
  });
if (gemmRatios.length) {
  console.log('\nfloat32 vs float64 products (issue 19 target: sgemm / dgemm time ≤ 0.55)');
  console.table(gemmRatios);
}
const contended = rows.filter((r) => r.cpuShare! < 0.9);
if (contended.length) {
  console.log(
    `warning: ${contended.length} case(s) had < 90 % of a core during the CPU check ` +
      '(other processes were running): their wall-clock medians are inflated; "cpu ms" is closer to the uncontended time',
  );
}

if (withNumpy) {
  const python = process.env.PYTHON ?? 'python3';
  const numpyOut = join(dirname(outFile), 'numpy.json');
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  console.log(`\nrunning ${python} bench/numpy_kernels.py (1 thread; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for it)…`);
  const res = spawnSync(python, [join(here, 'numpy_kernels.py'), '--out', numpyOut, ...(quick ? ['--quick'] : [])], { env, stdio: 'inherit' });
  if (res.status === 0) printComparison(rows, readJson(numpyOut));
  else console.log(`numpy benchmark did not run (${res.error?.message ?? `exit ${res.status}`}): no ratios`);
}
