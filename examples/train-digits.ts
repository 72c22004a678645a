// Mini-batch training of a digits MLP with `train`: Adam and KFAC on batches of 32, a state saved as
// JSON after two epochs and the run resumed from it — the program of the Optimizers guide.
// Run: node --import tsx examples/train-digits.ts
import { adam, categorical, init, kfac, loadDigits, mlp, problem, train } from '../bindings/index.js';

await init();
const { X, y } = await loadDigits(); // all 1797 digits
const model = mlp({ sizes: [64, 32, 10], activation: 'tanh' });
const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }), priorVariance: 100 });
const theta0 = model.init(0);

const opt = adam(p, { lr: 1e-2 });
const rec = train(p, opt, { theta0, batchSize: 32, epochs: 4, seed: 1 });
console.log(`Adam, 4 epochs of B = 32: loss ${rec.losses.map((l) => l.toFixed(4)).join(' → ')} (${rec.status})`);
console.log(`${rec.steps.at(-1)} steps, ${rec.evaluations.at(-1)} per-sample gradients`);

// Stop after 2 epochs, save the state as JSON, resume: the same iterates as the 4-epoch run.
const half = train(p, opt, { theta0, batchSize: 32, epochs: 2, seed: 1 });
const saved = JSON.stringify(opt.saveState(half.state)); // plain JSON: store it anywhere
const rest = train(p, opt, { state: opt.loadState(saved), batchSize: 32, epochs: 4, seed: 1 });
console.log(`resumed after 2 epochs: final loss ${rest.losses.at(-1)!.toFixed(4)}, same θ: ${rest.theta.every((t, i) => t === rec.theta[i])}`);

const k = train(p, kfac(p, { lr: 0.1, damping: 0.1 }), { theta0, batchSize: 32, epochs: 4, seed: 1 });
console.log(`KFAC, 4 epochs of B = 32: loss ${k.losses.map((l) => l.toFixed(4)).join(' → ')} (${k.status})`);
p.free();
