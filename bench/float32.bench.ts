/**
 * float32 against float64 (`npm run bench:float32`, issue 19): the GGN-vector and Hessian-vector
 * products of the MLP [64, 256, 256, 10] (tanh, categorical) at N = 2048 through the problem, one
 * thread, `mlp({ …, dtype: 'float32' })` against the default float64 model, same inputs, same run.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/float32.bench.ts [--quick] [--variant=simd]
 *
 * Each call starts from θ (the problem alternates between two parameter vectors, so each call runs
 * its own forward pass, as bench/models.bench.ts does). After a warm-up, float32 and float64 calls
 * are interleaved (so a load on the machine hits both alike) and the medians are printed with the
 * ratio float32 / float64 (issue 19's target: ≤ 0.55).
 */
import { categorical, createCore, mlp, problem, supportsRelaxedSimd, type Problem, type Variant } from '../bindings/index.js';
import { normals } from './seeded.js';

const quick = process.argv.includes('--quick');
const variantArg = process.argv.find((a) => a.startsWith('--variant='))?.slice(10) as Variant | undefined;
const variant: Variant = variantArg ?? (supportsRelaxedSimd() ? 'relaxed-simd' : 'simd');
const core = await createCore({ variant, threads: 1 });

const sizes = [64, 256, 256, 10],
  N = 2048;
const g = normals(N * 17 + sizes.length);
const X = Float64Array.from({ length: N * sizes[0]! }, g);
const y = Float64Array.from({ length: N }, (_, n) => n % 10);

function setup(dtype: 'float32' | 'float64'): { p: Problem; thetas: Float64Array[]; v: Float64Array } {
  const model = mlp({ sizes, activation: 'tanh', core, dtype });
  const p = problem({ model, X: { data: X, rows: N, cols: sizes[0]! }, y, likelihood: categorical({ classes: 10 }) });
  const v = Float64Array.from({ length: model.dim }, normals(5));
  return { p, thetas: [model.init(1), model.init(2)], v };
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ops: { label: string; run: (p: Problem, th: Float64Array, v: Float64Array) => void }[] = [
  { label: 'GGN-vector product', run: (p, th, v) => void p.ggnVectorProduct(th, v) },
  { label: 'Hessian-vector product', run: (p, th, v) => void p.hessianVectorProduct(th, v) },
];

const cases = { float64: setup('float64'), float32: setup('float32') };
const rows: Record<string, number | string>[] = [];
for (const op of ops) {
  const times: Record<'float64' | 'float32', number[]> = { float64: [], float32: [] };
  let k = 0;
  const call = (dt: 'float64' | 'float32') => {
    const c = cases[dt];
    const t0 = performance.now();
    op.run(c.p, c.thetas[k++ & 1]!, c.v);
    return performance.now() - t0;
  };
  // warm-up: V8 tiers the module up
  for (let i = 0; i < (quick ? 3 : 8); i++) {
    call('float64');
    call('float32');
  }
  for (let i = 0; i < (quick ? 7 : 25); i++) {
    times.float64.push(call('float64'));
    times.float32.push(call('float32'));
  }
  const m64 = median(times.float64),
    m32 = median(times.float32);
  rows.push({ workload: `${op.label} [${sizes.join(', ')}] tanh N=${N}`, 'float64 ms': +m64.toPrecision(3), 'float32 ms': +m32.toPrecision(3), 'float32 / float64': +(m32 / m64).toFixed(2) });
}
console.log(`\nfloat32 vs float64, one thread, ${variant} — node ${process.version}; medians of interleaved runs`);
console.table(rows);
