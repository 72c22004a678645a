// Deno smoke test: import the built package (dist/) and compute a Gram matrix and a damped solve.
// Prints one JSON line { passed, failed, variant } for run.mjs.
import { init, gram, SymMatrix, problem, mlp, categorical, createCore, currentThreads, Matrix, laplace } from '../../dist/index.js';

const checks = [];
const check = (name, ok) => checks.push({ name, ok });
const { variant, threads } = await init();
check('variant reported', variant === 'relaxed-simd' || variant === 'simd');
check('Deno picks relaxed SIMD', variant === 'relaxed-simd');
const C = gram({ data: new Float64Array([1, 2, 3, 4, 5, 6]), rows: 3, cols: 2 });
const c = C.toDense();
check('gram', c[0] === 35 && c[1] === 44 && c[2] === 44 && c[3] === 56);
const A = SymMatrix.from([
  [4, 1],
  [1, 3],
]);
const x = A.solve([1, 2], { damping: 1 });
check('damped solve', Math.abs(5 * x[0] + x[1] - 1) < 1e-14 && Math.abs(x[0] + 4 * x[1] - 2) < 1e-14);
C.free();
A.free();
// A network: MLP [3, 5, 2] tanh, the GGN diagonal equals the diagonal of the dense GGN, and the
// Hessian-vector product equals the dense Hessian times v.
const model = mlp({ sizes: [3, 5, 2], activation: 'tanh' });
const X = { data: Float64Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)), rows: 8, cols: 3 };
const q = problem({ model, X, y: [0, 1, 1, 0, 1, 0, 0, 1], likelihood: categorical({ classes: 2 }) });
const th = model.init(0),
  D = model.dim;
const G = q.ggn(th),
  Gd = G.toDense(),
  diag = q.ggn(th, { structure: 'diagonal' });
check(
  'MLP GGN diagonal',
  diag.every((v, i) => Math.abs(v - Gd[i * D + i]) <= 1e-14 * (1 + Math.abs(v))),
);
const H = q.hessian(th),
  Hd = H.toDense(),
  hv = q.hessianVectorProduct(th, th);
check(
  'MLP Hessian-vector product',
  hv.every((v, i) => Math.abs(v - Hd.slice(i * D, i * D + D).reduce((s, h, j) => s + h * th[j], 0)) <= 1e-12 * (1 + Math.abs(v))),
);
// Laplace: the full posterior's log det P equals log det(N·GGN + δI) from the dense GGN (a 'mean'
// problem's GGN is (1/N) Σ), and the probit predictive is a distribution.
const la = laplace(q, th, { structure: 'full', priorPrecision: 2 });
const Pd = SymMatrix.from(Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => 8 * Gd[i * D + j] + (i === j ? 2 : 0))));
const ld = Pd.logDet();
check('Laplace log det P', Math.abs(la.logDetPosteriorPrecision() - ld) <= 1e-10 * Math.abs(ld));
const pred = la.predict({ data: X.data.subarray(0, 6), rows: 2, cols: 3 });
check(
  'Laplace probit predictive sums to 1',
  [0, 1].every((r) => Math.abs(pred.data[2 * r] + pred.data[2 * r + 1] - 1) < 1e-14),
);
Pd.free();
la.free();
G.free();
H.free();
q.free();
// Threads: init() uses every core (node:worker_threads workers on one shared memory), and a large
// Gram and MLP product equal a one-thread core's bit for bit.
check('init() uses every core', threads === currentThreads() && threads === Math.min(navigator.hardwareConcurrency, 64));
const one = await createCore({ variant });
const big = { data: Float64Array.from({ length: 4000 * 64 }, (_, i) => Math.sin(0.3 * i)), rows: 4000, cols: 64 };
const g2 = gram(big).toDense(),
  g1 = gram(Matrix.from(big, 'X', one)).toDense();
check(
  'threaded Gram equals one thread bit for bit',
  g2.every((v, i) => Object.is(v, g1[i])),
);
const gv = (core) => {
  const m = mlp({ sizes: [64, 128, 10], core });
  const p = problem({ model: m, X: big, y: Array.from({ length: 4000 }, (_, i) => i % 10), likelihood: categorical({ classes: 10 }) });
  const t = m.init(1);
  const out = p.ggnVectorProduct(t, t);
  p.free();
  return out;
};
const v2 = gv(undefined),
  v1 = gv(one);
check(
  'threaded MLP GGN-vector product equals one thread bit for bit',
  v2.every((v, i) => Object.is(v, v1[i])),
);
for (const c of checks) console.error(`${c.ok ? '✓' : '✘'} deno: ${c.name}`);
console.log(JSON.stringify({ variant, passed: checks.filter((c) => c.ok).length, failed: checks.filter((c) => !c.ok).length }));
