/**
 * parallelGram: 1 vs 2 worker threads against the in-thread gram, N = 200000, d = 128 (dense,
 * 205 MB of inputs), and the streaming accumulator on 10⁶ rows × 64.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/parallel.bench.ts [--dist] [--variant simd|relaxed-simd] [--reps 5]
 *
 * `--dist` loads the compiled package (dist/, workers run parallel-worker.js); without it the
 * TypeScript sources run under tsx and every worker transpiles its module first (slower start).
 * Each case is warmed up once (which also starts the pooled workers), then timed `--reps` times;
 * the median and the best wall-clock times are reported with useful GF/s (N·d·(d+1) flops for the
 * lower triangle), and the median CPU time of all threads (a measure of the work done that a
 * loaded machine does not distort). The first, cold call is reported separately. Inputs are seeded.
 */
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const useDist = args.includes('--dist');
const reps = Number(flag('--reps') ?? 5);
const lib = (await import(useDist ? '../dist/index.js' : '../bindings/index.js')) as typeof import('../bindings/index.js');
const requested = flag('--variant') as 'simd' | 'relaxed-simd' | undefined;
const { variant } = await lib.init(requested ? { variant: requested } : {});

function seeded(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Wall-clock (median, best) and CPU time of all threads (median; contention-free work measure). */
async function time(name: string, flops: number, fn: () => Promise<unknown> | unknown): Promise<void> {
  await fn(); // warm-up (tier-up, worker code caches)
  const ms: number[] = [],
    cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)]!,
    best = ms[0]!;
  console.log(
    `${name.padEnd(44)} median ${med.toFixed(1).padStart(8)} ms   best ${best.toFixed(1).padStart(8)} ms   ${(flops / best / 1e6).toFixed(2).padStart(6)} GF/s   cpu ${cpu[Math.floor(cpu.length / 2)]!.toFixed(0).padStart(6)} ms`,
  );
}

const N = 200000,
  d = 128;
const data = seeded(N * d, 42);
const X = { data, rows: N, cols: d };
const flops = N * d * (d + 1);
const { loadavg, cpus } = await import('node:os');
console.log(
  `natgrad parallelGram, N = ${N}, d = ${d}, variant ${variant}, ${useDist ? 'dist/' : 'TS sources (tsx)'}, Node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}, ${reps} reps`,
);
{
  const t0 = performance.now();
  (await lib.parallelGram(X, undefined, { workers: 2 })).free();
  console.log(`${'parallelGram, 2 workers, first call (cold start)'.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(8)} ms (starts the pooled workers)`);
}
await time('gram (main thread, one core)', flops, () => lib.gram(X).free());
await time('parallelGram, 1 worker', flops, async () => (await lib.parallelGram(X, undefined, { workers: 1 })).free());
await time('parallelGram, 2 workers', flops, async () => (await lib.parallelGram(X, undefined, { workers: 2 })).free());
const shared = new Float64Array(new SharedArrayBuffer(8 * N * d));
shared.set(data);
await time('parallelGram, 2 workers, SharedArrayBuffer X', flops, async () => (await lib.parallelGram({ data: shared, rows: N, cols: d }, undefined, { workers: 2 })).free());
await time('parallelGram, 2 workers, 2 rows (per-call cost)', 1, async () => (await lib.parallelGram({ data: new Float64Array(2 * d), rows: 2, cols: d }, undefined, { workers: 2 })).free());

// Streaming: 10⁶ rows × 64 (+ bias) through a Fisher accumulator in batches of 4096 rows,
// inputs generated on the fly (generation included in the time).
{
  const rows = 1_000_000,
    dd = 64,
    batch = 4096;
  const theta = seeded(dd + 1, 7);
  const acc = lib.fisherAccumulator({ theta, likelihood: lib.bernoulli(), inputs: dd, bias: true });
  const Xb = new Float64Array(batch * dd),
    yb = new Float64Array(batch);
  let s = 99;
  const mem0 = lib.core().memoryBytes;
  const t0 = performance.now();
  let genMs = 0;
  for (let done = 0; done < rows; done += batch) {
    const n = Math.min(batch, rows - done);
    const g0 = performance.now();
    for (let i = 0; i < n * dd; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      Xb[i] = s / 4294967296 - 0.5;
    }
    for (let i = 0; i < n; i++) yb[i] = (i * 7 + done) % 2;
    genMs += performance.now() - g0;
    acc.add({ data: Xb.subarray(0, n * dd), rows: n, cols: dd }, yb.subarray(0, n));
  }
  const ms = performance.now() - t0;
  acc.result().free();
  const D = dd + 1;
  console.log(
    `fisherAccumulator, 10⁶ × ${dd} + bias (Bernoulli)       total ${ms.toFixed(0)} ms (data generation ${genMs.toFixed(0)} ms), ` +
      `${((rows * D * (D + 1)) / (ms - genMs) / 1e6).toFixed(2)} GF/s without generation, WASM memory grew by ${((lib.core().memoryBytes - mem0) / 2 ** 20).toFixed(1)} MiB (already ${(mem0 / 2 ** 20).toFixed(0)} MiB)`,
  );
  acc.free();
}
