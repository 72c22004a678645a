// Sparse input recognised (issue 13, item 6): a dense X with few non-zeros runs the grid on the
// CSR path — the same runs bit for bit as passing it as CSR — and a dense one stays dense.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gridSearch, loadPaperDataset, toDense, bernoulli, addBias } from '../../bindings/index.js';
import { SPARSE_DENSITY_THRESHOLD } from '../../bindings/internals.js';
import { uniform, normals } from '../helpers.js';

function sparseRows(N: number, d: number, density: number, seed: number): number[][] {
  const u = uniform(seed),
    g = normals(seed + 1);
  return Array.from({ length: N }, () => Array.from({ length: d }, () => (u() < density ? g() : 0)));
}

function toCsr(rows: number[][]) {
  const indptr = [0],
    indices: number[] = [],
    values: number[] = [];
  for (const r of rows) {
    r.forEach((v, j) => {
      if (v !== 0) {
        indices.push(j);
        values.push(v);
      }
    });
    indptr.push(indices.length);
  }
  return { rows: rows.length, cols: rows[0]!.length, indptr, indices, values };
}

test(`a dense X below ${SPARSE_DENSITY_THRESHOLD * 100} % non-zeros gives exactly the CSR runs`, async () => {
  const rows = sparseRows(120, 20, 0.1, 3),
    y = rows.map((r, i) => (r[0]! + Math.sin(i) > 0 ? 1 : 0));
  const grid = { lrs: [0.1, 1, 10], dampings: [1e-6, 1e-2], iterations: 20 };
  const dense = await gridSearch({ problem: { X: rows, y, likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean' }, ...grid });
  const csr = await gridSearch({ problem: { X: toCsr(rows), y, likelihood: bernoulli(), priorVariance: Infinity, reduction: 'mean' }, ...grid });
  assert.equal(dense.runs, csr.runs);
});

test('a1a as number[][] (11 % non-zeros) runs as CSR: identical runs', async () => {
  const a1a = await loadPaperDataset('a1a', '../shared/datasets').catch(() => undefined);
  if (!a1a) {
    console.log('  (a1a not found in ../shared/datasets: skipped)');
    return;
  }
  const grid = { lrs: [0.5, 2], dampings: [1e-4], iterations: 30 };
  const lik = bernoulli();
  const t0 = performance.now();
  const csr = await gridSearch({ problem: { X: addBias(a1a.X), y: a1a.y, likelihood: lik, priorVariance: Infinity, reduction: 'mean' }, ...grid });
  const t1 = performance.now();
  const denseX = toDense(addBias(a1a.X));
  const dense = await gridSearch({ problem: { X: denseX, y: a1a.y, likelihood: lik, priorVariance: Infinity, reduction: 'mean' }, ...grid });
  const t2 = performance.now();
  assert.equal(dense.runs, csr.runs);
  console.log(`  a1a sub-grid: dense input ${(t2 - t1).toFixed(0)} ms (conversion included), CSR ${(t1 - t0).toFixed(0)} ms`);
});

test.run();
