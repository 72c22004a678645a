// A small CNN on scikit-learn's digits as 1×8×8 images: exact GGN diagonal, KFAC factors, and a
// few KFAC steps — the program of the Networks guide. Run: node --import tsx examples/cnn-digits.ts
import { init, problem, sequential, conv2d, relu, maxPool2d, flatten, dense, categorical, loadDigits, kfac } from '../bindings/index.js';

await init();
const { X, y, shape } = await loadDigits(undefined, { images: true }); // rows are 1×8×8 images (NCHW)
const N = 256;
const model = sequential({
  input: shape, // [1, 8, 8]
  layers: [conv2d({ out: 8, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: 10 })],
});
const p = problem({ model, X: { data: X.data.subarray(0, N * 64), rows: N, cols: 64 }, y: y.subarray(0, N), likelihood: categorical({ classes: 10 }) });
const theta = model.init(0); // PyTorch's default initialization
console.log(`D = ${model.dim}, loss ${p.loss(theta).toFixed(4)}`);

const diag = p.ggn(theta, { structure: 'diagonal' }); // exact, without forming D × D
console.log(`GGN diagonal: ${diag.length} entries, trace ${diag.reduce((a, b) => a + b, 0).toFixed(4)}`);
const [conv, fc] = p.fisher(theta, { structure: 'kfac', kfacApproximation: 'expand' });
console.log(`KFAC factors: conv A ${conv.A.size}×${conv.A.size}, G ${conv.G.size}×${conv.G.size}; dense A ${fc.A.size}×${fc.A.size}, G ${fc.G.size}×${fc.G.size}`);
for (const f of [conv, fc]) {
  f.A.free();
  f.G.free();
}

const run = kfac(p, { lr: 0.5, damping: 1e-2 }).run(theta, { iterations: 20 });
console.log(`KFAC, 20 steps: loss ${run.losses[0].toFixed(4)} → ${run.losses.at(-1).toFixed(4)} (${run.status})`);
p.free();
