// Deno smoke test: import the built package (dist/) and compute a Gram matrix and a damped solve.
// Prints one JSON line { passed, failed, variant } for run.mjs.
import { init, gram, SymMatrix } from '../../dist/index.js';

const checks = [];
const check = (name, ok) => checks.push({ name, ok });
const { variant } = await init();
check('variant reported', variant === 'relaxed-simd' || variant === 'simd');
check('Deno picks relaxed SIMD', variant === 'relaxed-simd');
const C = gram({ data: new Float64Array([1, 2, 3, 4, 5, 6]), rows: 3, cols: 2 });
const c = C.toDense();
check('gram', c[0] === 35 && c[1] === 44 && c[2] === 44 && c[3] === 56);
const A = SymMatrix.from([[4, 1], [1, 3]]);
const x = A.solve([1, 2], { damping: 1 });
check('damped solve', Math.abs(5 * x[0] + x[1] - 1) < 1e-14 && Math.abs(x[0] + 4 * x[1] - 2) < 1e-14);
C.free(); A.free();
for (const c of checks) console.error(`${c.ok ? '✓' : '✘'} deno: ${c.name}`);
console.log(JSON.stringify({ variant, passed: checks.filter((c) => c.ok).length, failed: checks.filter((c) => !c.ok).length }));
