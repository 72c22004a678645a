/**
 * dgemm benchmark (assembly/linalg/gemm.ts): GF/s (2·m·n·k flops per call) of C ← A·B-like
 * products for the shapes of an MLP's forward and backward passes and for small shapes, for
 * both WebAssembly binaries (relaxed SIMD and baseline SIMD128, loaded in this process with
 * `createCore({ variant })`) and a plain-JS i-p-j loop on Float64Arrays as a baseline.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/gemm.bench.ts [--quick] [--no-js] [--only SUBSTRING]
 *   (Node ≥ 22: the flag is not needed.)
 *
 * Method: inputs seeded (mulberry32 normals) and resident in WASM memory before timing; each
 * case is warmed up for ≥ 0.3 s (V8 tiers WASM from Liftoff up to TurboFan), then timed in
 * SAMPLES samples of ≥ 40 ms each (whole calls); GF/s at the median wall-clock time per call is
 * reported, and next to it GF/s per CPU second of this process (median over the same samples),
 * which other load on the machine disturbs less. The kernels go through `core.exports` directly
 * (no validation, no allocation per call).
 *
 * @module
 */
import { createCore, supportsRelaxedSimd, type Core, type Variant } from '../bindings/index.js';

const quick = process.argv.includes('--quick');
const withJs = !process.argv.includes('--no-js');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '') : '';
const SAMPLES = quick ? 5 : 11;
const SAMPLE_MS = quick ? 20 : 40;
const WARM_MS = quick ? 150 : 300;

function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

interface Shape {
  label: string;
  tA: number;
  tB: number;
  m: number;
  n: number;
  k: number;
}

/**
 * Median wall-clock ms per call of fn after warm-up, and the median CPU ms per call (this
 * process's user + system time over the same samples: less sensitive to other processes
 * sharing the cores, which the wall-clock figure is not).
 */
function timeIt(fn: () => void): { wallMs: number; cpuMs: number } {
  let t0 = performance.now();
  while (performance.now() - t0 < WARM_MS) fn();
  const wall: number[] = [],
    cpu: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    let reps = 0;
    const c0 = process.cpuUsage();
    t0 = performance.now();
    let t1 = t0;
    do {
      fn();
      reps++;
      t1 = performance.now();
    } while (t1 - t0 < SAMPLE_MS);
    const c1 = process.cpuUsage(c0);
    wall.push((t1 - t0) / reps);
    cpu.push((c1.user + c1.system) / 1000 / reps);
  }
  const median = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1]!;
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

/** Plain-JS C ← A·B-like product with the same semantics (alpha = 1, beta = 0), i-p-j order. */
function jsGemm(tA: number, tB: number, m: number, n: number, k: number, A: Float64Array, B: Float64Array, C: Float64Array): void {
  const lda = tA ? m : k,
    ldb = tB ? k : n;
  C.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = tA ? A[p * lda + i]! : A[i * lda + p]!;
      if (tB) for (let j = 0; j < n; j++) C[ci + j]! += aip * B[j * ldb + p]!;
      else {
        const bp = p * ldb;
        for (let j = 0; j < n; j++) C[ci + j]! += aip * B[bp + j]!;
      }
    }
  }
}

const shapes: Shape[] = [];
for (const [tA, tB] of [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
])
  shapes.push({ label: 'all transposes', tA: tA!, tB: tB!, m: 2048, n: 256, k: 256 });
for (const N of [512, 2048]) {
  shapes.push({ label: `Z = A Wᵀ, N=${N}, k=64`, tA: 0, tB: 1, m: N, n: 256, k: 64 });
  shapes.push({ label: `Z = A Wᵀ, N=${N}, k=256`, tA: 0, tB: 1, m: N, n: 256, k: 256 });
  shapes.push({ label: `grad W = Δᵀ A, N=${N}`, tA: 1, tB: 0, m: 256, n: 256, k: N });
  shapes.push({ label: `backprop Δ W, N=${N}`, tA: 0, tB: 0, m: N, n: 256, k: 256 });
}
for (const s of [3, 4, 5, 8, 12, 16, 17, 24, 32]) {
  for (const [tA, tB] of [
    [0, 0],
    [0, 1],
    [1, 0],
  ])
    shapes.push({ label: 'small', tA: tA!, tB: tB!, m: s, n: s, k: s });
}
shapes.push({ label: 'small', tA: 0, tB: 1, m: 32, n: 16, k: 3 });
shapes.push({ label: 'small', tA: 0, tB: 0, m: 32, n: 8, k: 32 });

const variants: Variant[] = supportsRelaxedSimd() ? ['relaxed-simd', 'simd'] : ['simd'];
const cores = new Map<Variant, Core>();
for (const v of variants) cores.set(v, await createCore({ variant: v }));

console.log(`dgemm, ${process.version}, ${variants.join(' / ')}; median of ${SAMPLES} samples, GF/s = 2mnk / time`);
const head = ['case', 'tA', 'tB', 'm', 'n', 'k', ...variants.flatMap((v) => [`${v} GF/s`, `(per CPU s)`]), ...(withJs ? ['plain JS GF/s'] : [])];
console.log(head.join('\t'));
for (const sh of shapes.filter((x) => x.label.includes(only))) {
  const { tA, tB, m, n, k } = sh;
  const g = normals(m * 31 + n * 7 + k);
  const A = Float64Array.from({ length: m * k }, g),
    B = Float64Array.from({ length: k * n }, g);
  const flops = 2 * m * n * k;
  const cols: string[] = [];
  for (const v of variants) {
    const core = cores.get(v)!;
    const ex = core.exports;
    const pa = core.allocCopy(A),
      pb = core.allocCopy(B),
      pc = core.alloc(8 * m * n);
    const lda = tA ? m : k,
      ldb = tB ? k : n;
    const t = timeIt(() => ex.dgemm(tA, tB, m, n, k, 1, pa, lda, pb, ldb, 0, pc, n));
    cols.push((flops / t.wallMs / 1e6).toFixed(2), (flops / t.cpuMs / 1e6).toFixed(2));
    core.free(pa);
    core.free(pb);
    core.free(pc);
  }
  if (withJs) {
    const C = new Float64Array(m * n);
    const t = timeIt(() => jsGemm(tA, tB, m, n, k, A, B, C));
    cols.push((flops / t.wallMs / 1e6).toFixed(2));
  }
  console.log([sh.label, tA, tB, m, n, k, ...cols].join('\t'));
}
