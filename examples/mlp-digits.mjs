// A softmax MLP [64, 16, 10] on 500 handwritten digits (shipped with natgrad): the Fisher, the
// empirical Fisher and the Hessian of a network at its PyTorch-style initialization, then GD,
// NGD and EF-preconditioned descent from the same θ0 for 10 steps each.
import { init, problem, mlp, categorical, loadDigits, gd, ngd, efgd } from 'natgrad';

await init();
const digits = await loadDigits(); // 1797 × 64, pixels scaled to [0, 1]
const N = 500,
  X = { data: digits.X.data.subarray(0, N * 64), rows: N, cols: 64 },
  y = digits.y.subarray(0, N);
const model = mlp({ sizes: [64, 16, 10], activation: 'tanh' });
const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }) });
const theta0 = model.init(0); // uniform ±1/√fan_in, θ in PyTorch's layout
console.log(`D = ${model.dim} parameters, N = ${p.N}, loss ${p.loss(theta0).toFixed(4)}`);

const F = p.fisher(theta0),
  E = p.empiricalFisher(theta0),
  H = p.hessian(theta0);
console.log(`trace: Fisher ${F.trace().toFixed(4)}  EF ${E.trace().toFixed(4)}  Hessian ${H.trace().toFixed(4)}`);
F.free();
E.free();
H.free();
const layers = p.fisher(theta0, { structure: 'kfac' }); // one { A, G } per layer, F_l ≈ G ⊗ A
console.log('KFAC factors:', layers.map((f) => `${f.G.size}×${f.G.size} ⊗ ${f.A.size}×${f.A.size}`).join(', '));
for (const f of layers) {
  f.A.free();
  f.G.free();
}

for (const [name, opt] of [
  ['GD', gd(p, { lr: 1 })],
  ['NGD', ngd(p, { lr: 1, damping: 1e-2 })],
  ['EFGD', efgd(p, { lr: 1, damping: 1e-2 })],
]) {
  const t0 = performance.now();
  const run = opt.run(theta0, { iterations: 10 });
  console.log(`${name.padEnd(4)} loss ${run.losses[0].toFixed(4)} → ${run.losses.at(-1).toFixed(4)} (${run.status}, ${((performance.now() - t0) / 10).toFixed(1)} ms/step)`);
}
p.free();
