/**
 * Data loaders: the paper's real data sets in ../shared/datasets (shapes and known values), the
 * a1a CSR against an independent dense parse, malformed inputs (each a DataFormatError at the
 * right line), missing files (a message that says where to get them), addBias and toDense.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addBias, loadLibsvm, loadPaperDataset, loadSklearnCsv, loadUci, paperDatasetNames, parseLibsvm, parseSklearnCsv, parseUci, toDense } from '../bindings/data/datasets.js';
import { DataFormatError } from '../bindings/core/errors.js';
import type { DenseMatrix } from '../bindings/core/types.js';

const DATA = new URL('../../shared/datasets/', import.meta.url);

function row(X: DenseMatrix, i: number): number[] {
  return Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols));
}

function count(y: Float64Array, v: number): number {
  return y.reduce((c, x) => c + (x === v ? 1 : 0), 0);
}

// ---------------------------------------------------------------------------------------------
// Real data
// ---------------------------------------------------------------------------------------------

test('BreastCancer: 569 × 30, targets 0/1 (212 malignant, 357 benign)', async () => {
  const { X, y, names } = await loadPaperDataset('BreastCancer', DATA);
  assert.equal([X.rows, X.cols, y.length, names.length], [569, 30, 569, 30]);
  assert.equal(row(X, 0).slice(0, 4), [17.99, 10.38, 122.8, 1001]);
  assert.is(X.data[29], 0.1189);
  assert.equal(row(X, 568).slice(-2), [0.2871, 0.07039]);
  assert.equal([y[0], y[568], count(y, 0), count(y, 1)], [0, 1, 212, 357]);
  assert.equal([names[0], names[29]], ['x0', 'x29']);
});

test("Boston: 506 × 13 with the header's column names, target MEDV", async () => {
  const { X, y, names } = await loadPaperDataset('Boston', fileURLToPath(DATA));
  assert.equal([X.rows, X.cols, y.length], [506, 13, 506]);
  assert.equal(names, ['CRIM', 'ZN', 'INDUS', 'CHAS', 'NOX', 'RM', 'AGE', 'DIS', 'RAD', 'TAX', 'PTRATIO', 'B', 'LSTAT']);
  assert.equal(row(X, 0), [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98]);
  assert.equal([y[0], y[505]], [24, 11.9]);
});

test('Wine: 178 × 13, classes 0/1/2 = 59/71/48', async () => {
  const { X, y } = await loadPaperDataset('Wine', DATA);
  assert.equal([X.rows, X.cols], [178, 13]);
  assert.equal([X.data[0], X.data[12]], [14.23, 1065]);
  assert.equal(row(X, 177), [14.13, 4.1, 2.74, 24.5, 96, 2.05, 0.76, 0.56, 1.35, 9.2, 0.61, 1.6, 560]);
  assert.equal([count(y, 0), count(y, 1), count(y, 2)], [59, 71, 48]);
});

test('a1a: 1605 × 123 CSR, 22,249 non-zeros, labels ±1 → 0/1, equal to an independent dense parse', async () => {
  const { X, y, names } = await loadPaperDataset('a1a', DATA);
  assert.equal([X.rows, X.cols, y.length, names.length], [1605, 123, 1605, 123]);
  assert.ok(X.indptr instanceof Int32Array && X.indices instanceof Int32Array && X.values instanceof Float64Array);
  assert.is(X.indptr[1605], 22249);
  assert.equal([count(y, 1), count(y, 0)], [395, 1210]);
  assert.equal(Array.from(X.indices.subarray(0, 4)), [2, 10, 13, 18]); // "-1 3:1 11:1 14:1 19:1 …"
  // Independent parse: split on whitespace and ':' straight into a dense array.
  const lines = readFileSync(new URL('a1a', DATA), 'utf8').trim().split('\n');
  const dense = new Float64Array(1605 * 123);
  const labels = lines.map((line, i) => {
    const [label, ...pairs] = line.trim().split(/\s+/);
    for (const p of pairs) {
      const [j, v] = p.split(':');
      dense[i * 123 + Number(j) - 1] = Number(v);
    }
    return Number(label) > 0 ? 1 : 0;
  });
  assert.equal(toDense(X).data, dense);
  assert.equal(Array.from(y), labels);
});

test('UCI triplets: Energy 768 × 8, Powerplant 9568 × 4, Yacht 308 × 6', async () => {
  const energy = await loadPaperDataset('Energy', DATA);
  assert.equal([energy.X.rows, energy.X.cols], [768, 8]);
  assert.equal(row(energy.X, 0), [0.98, 514.5, 294, 110.25, 7, 2, 0, 0]);
  assert.equal(row(energy.X, 767), [0.62, 808.5, 367.5, 220.5, 3.5, 5, 0.4, 5]);
  assert.equal([energy.y[0], energy.y[767]], [15.55, 16.64]);
  assert.equal(energy.names, ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']);
  const plant = await loadPaperDataset('Powerplant', DATA);
  assert.equal([plant.X.rows, plant.X.cols], [9568, 4]);
  assert.equal(row(plant.X, 0), [8.34, 40.77, 1010.84, 90.01]);
  assert.equal(row(plant.X, 9567), [23.68, 51.3, 1011.86, 71.24]);
  assert.equal([plant.y[0], plant.y[9567]], [480.48, 451.67]);
  const yacht = await loadUci(new URL('uci/yacht', DATA));
  assert.equal([yacht.X.rows, yacht.X.cols], [308, 6]);
  assert.equal(row(yacht.X, 0), [-2.3, 0.568, 4.78, 3.99, 3.17, 0.125]);
  assert.equal([yacht.y[0], yacht.y[307]], [0.11, 46.66]);
});

test('every paper data set loads; the generic loaders agree with loadPaperDataset', async () => {
  for (const name of paperDatasetNames) {
    const d = await loadPaperDataset(name, DATA);
    assert.is(d.y.length, d.X.rows, name);
  }
  const viaCsv = await loadSklearnCsv(new URL('wine_data.csv', DATA));
  assert.equal(viaCsv, await loadPaperDataset('Wine', DATA));
  const viaText = await loadSklearnCsv({ text: readFileSync(new URL('wine_data.csv', DATA), 'utf8'), name: 'wine' });
  assert.equal(viaText.X.data, viaCsv.X.data);
  const viaLibsvm = await loadLibsvm(new URL('a1a', DATA), { labels: 'raw' });
  assert.is(viaLibsvm.X.cols, 119, 'without features, cols = the largest index in the file');
  assert.equal([viaLibsvm.y[0], count(viaLibsvm.y, 1)], [-1, 395]);
});

// ---------------------------------------------------------------------------------------------
// Well-formed variants
// ---------------------------------------------------------------------------------------------

test('CSV: CRLF, blank lines, BOM, 0 and 2 header lines', () => {
  const lf = parseSklearnCsv('2,2,a,b\n1,2,0\n3,4,1\n', 'lf.csv');
  assert.equal(Array.from(lf.X.data), [1, 2, 3, 4]);
  assert.equal(Array.from(lf.y), [0, 1]);
  assert.equal(parseSklearnCsv('2,2,a,b\r\n1,2,0\r\n3,4,1\r\n', 'crlf.csv'), lf);
  assert.equal(parseSklearnCsv('\ufeff2,2,a,b\n\n1,2,0\n   \n3,4,1\n\n', 'blank.csv'), lf);
  assert.equal(parseSklearnCsv('1,2,0\n3,4,1', 'plain.csv', { headerLines: 0 }), lf);
  const named = parseSklearnCsv('2,2,,\n"A","B","T"\n1,2,0\n3,4,1\n', 'named.csv', { headerLines: 2 });
  assert.equal(named.names, ['A', 'B']);
  assert.equal(parseSklearnCsv('1,2\n -1.5e2 , .5 ,+3\n', 'num.csv').X.data, Float64Array.of(-150, 0.5));
});

test('LIBSVM: CRLF, blank lines, comments, empty rows, features option', () => {
  const d = parseLibsvm('# a comment\r\n+1 1:0.5 3:2\r\n\r\n-1\t2:1   # trailing comment\r\n-1\n', 'ok', { labels: 'pm1-to-01' });
  assert.equal([d.X.rows, d.X.cols], [3, 3]);
  assert.equal(Array.from(d.X.indptr), [0, 2, 3, 3]);
  assert.equal(Array.from(d.X.indices), [0, 2, 1]);
  assert.equal(Array.from(d.X.values), [0.5, 2, 1]);
  assert.equal(Array.from(d.y), [1, 0, 0]);
  assert.is(parseLibsvm('1 2:1\n', 'wide', { features: 10 }).X.cols, 10);
  assert.equal(Array.from(parseLibsvm('3 1:1\n-2.5 1:1\n', 'raw').y), [3, -2.5]);
  assert.throws(() => parseLibsvm('1 1:1', 'x', { features: -1 }), RangeError);
});

test('UCI: tabs, CRLF, blank lines, column order of index_features.txt', () => {
  const d = parseUci('1\t2 3\r\n\r\n4 5 6\r\n', '2\n0\n', '1\n', 'tiny');
  assert.equal(Array.from(d.X.data), [3, 1, 6, 4]);
  assert.equal(Array.from(d.y), [2, 5]);
  assert.equal(d.names, ['x2', 'x0']);
});

// ---------------------------------------------------------------------------------------------
// Malformed input: a DataFormatError at the right line
// ---------------------------------------------------------------------------------------------

function throwsAt(fn: () => unknown, file: string, line: number, problem: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, DataFormatError);
    const err = e as DataFormatError;
    assert.is(err.file, file, err.message);
    assert.is(err.line, line, err.message);
    assert.match(err.message, problem);
    assert.ok(err.message.startsWith(`${file}:${line}: `), err.message);
    return;
  }
  assert.unreachable(`expected a DataFormatError at ${file}:${line}`);
}

test('CSV errors', () => {
  const f = 'bad.csv';
  throwsAt(() => parseSklearnCsv('2,2,a,b\n1,2,0\n1,x,1\n', f), f, 3, /bad number "x" in column 2/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\n1,2,0\n1,2\n', f), f, 3, /expected 3 columns .* found 2/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\r\n1,2,0\r\n\r\n1,2,1 junk\r\n', f), f, 4, /bad number "1 junk"/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\n1,2.5.1,0\n3,4,1\n', f), f, 2, /bad number "2.5.1"/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\n1,,0\n', f), f, 2, /bad number ""/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\n1,2,1e999\n', f), f, 2, /out of range/);
  throwsAt(() => parseSklearnCsv('', f), f, 1, /empty file/);
  throwsAt(() => parseSklearnCsv('2,2,a,b\n', f), f, 2, /no data rows/);
  throwsAt(() => parseSklearnCsv('\n\n', f, { headerLines: 0 }), f, 3, /no data rows/);
  throwsAt(() => parseSklearnCsv('3,2,a,b\n1,2,0\n3,4,1\n', f), f, 4, /announces 3 rows, found 2/);
  throwsAt(() => parseSklearnCsv('1,2,a,b\n1,2,0\n3,4,1\n', f), f, 3, /more rows than the 1/);
  throwsAt(() => parseSklearnCsv('x0,x1,y\n1,2,0\n', f), f, 1, /n_samples "x0"/);
  throwsAt(() => parseSklearnCsv('2,2\n"A","B","C","D"\n1,2,0\n', f, { headerLines: 2 }), f, 2, /expected 2 or 3 column names/);
});

test('LIBSVM errors', () => {
  const f = 'bad.svm';
  throwsAt(() => parseLibsvm('+1 1:1\n-1 0:1\n', f), f, 2, /feature index 0 ≤ 0/);
  throwsAt(() => parseLibsvm('+1 -3:1\n', f), f, 1, /feature index -3 ≤ 0/);
  throwsAt(() => parseLibsvm('+1 2:1\n\n+1 5:1 3:1\n', f), f, 3, /index 3 decreases after 5/);
  throwsAt(() => parseLibsvm('+1 2:1 2:4\n', f), f, 1, /index 2 repeats after 2/);
  throwsAt(() => parseLibsvm('+1 2:1 7\n', f), f, 1, /missing ':' in "7"/);
  throwsAt(() => parseLibsvm('+1 2:1\r\n-1 4:1 junk\r\n', f), f, 2, /missing ':' in "junk"/);
  throwsAt(() => parseLibsvm('+1 2:abc\n', f), f, 1, /bad number "abc" for feature 2/);
  throwsAt(() => parseLibsvm('+1 2:1.5x\n', f), f, 1, /bad number "1.5x"/);
  throwsAt(() => parseLibsvm('+1 qid:3 2:1\n', f), f, 1, /bad feature index "qid"/);
  throwsAt(() => parseLibsvm('yes 2:1\n', f), f, 1, /bad number "yes" as label/);
  throwsAt(() => parseLibsvm('+1 1:1\n3 2:1\n', f, { labels: 'pm1-to-01' }), f, 2, /label 3 is not -1 or \+1/);
  throwsAt(() => parseLibsvm('+1 1:1\n-1 9:1\n', f, { features: 8 }), f, 2, /index 9 exceeds features = 8/);
  throwsAt(() => parseLibsvm('', f), f, 1, /no data rows/);
  throwsAt(() => parseLibsvm('# only a comment\n\n', f), f, 3, /no data rows/);
});

test('UCI errors', () => {
  throwsAt(() => parseUci('1 2 3\n4 x 6\n', '0\n1\n', '2\n', 'u'), 'u/data.txt', 2, /bad number "x" in column 1/);
  throwsAt(() => parseUci('1 2 3\n\n4 5\n', '0\n1\n', '2\n', 'u'), 'u/data.txt', 3, /expected 3 columns, found 2/);
  throwsAt(() => parseUci('1 2 3\n', '0\none\n', '2\n', 'u'), 'u/index_features.txt', 2, /bad column index "one"/);
  throwsAt(() => parseUci('1 2 3\n', '0\n5\n', '2\n', 'u'), 'u/index_features.txt', 2, /index 5 is out of range: data.txt has 3 columns/);
  throwsAt(() => parseUci('1 2 3\n', '0\n', '1\n2\n', 'u'), 'u/index_target.txt', 2, /one target column, found 2/);
  throwsAt(() => parseUci('1 2 3\n', '0\n', '', 'u'), 'u/index_target.txt', 1, /no column index/);
  throwsAt(() => parseUci('\n', '0\n', '1\n', 'u'), 'u/data.txt', 2, /no data rows/);
});

// ---------------------------------------------------------------------------------------------
// Missing files
// ---------------------------------------------------------------------------------------------

async function rejects(p: Promise<unknown>, parts: (string | RegExp)[]): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, Error);
    assert.not.instance(e, DataFormatError);
    for (const part of parts) {
      const msg = (e as Error).message;
      assert.ok(typeof part === 'string' ? msg.includes(part) : part.test(msg), `"${msg}" should mention ${part}`);
    }
    return;
  }
  assert.unreachable('expected a rejection');
}

test('missing files: the message names the path and where the data come from', async () => {
  const nowhere = fileURLToPath(new URL('./no-such-dir/', DATA));
  await rejects(loadLibsvm(`${nowhere}a1a`), [`${nowhere}a1a`, 'LIBSVM data sets page', 'csie.ntu.edu.tw']);
  await rejects(loadUci(`${nowhere}yacht`), [`${nowhere}yacht/data.txt`, 'UCI Machine Learning Repository', 'index_target.txt']);
  await rejects(loadSklearnCsv(`${nowhere}wine_data.csv`), [`${nowhere}wine_data.csv`, 'scikit-learn']);
  await rejects(loadPaperDataset('a1a', nowhere), ['a1a', 'binary.html#a1a', nowhere]);
  await rejects(loadPaperDataset('Powerplant', nowhere), ['uci/power-plant/data.txt', 'Combined Cycle Power Plant']);
  try {
    await loadPaperDataset('Iris' as 'Wine', DATA);
    assert.unreachable('unknown name');
  } catch (e) {
    assert.instance(e, RangeError);
  }
});

// ---------------------------------------------------------------------------------------------
// addBias and toDense
// ---------------------------------------------------------------------------------------------

test('addBias appends a column of ones last (dense and CSR); toDense', () => {
  const dense = addBias({ data: Float64Array.of(1, 2, 3, 4), rows: 2, cols: 2 });
  assert.equal([dense.rows, dense.cols], [2, 3]);
  assert.equal(Array.from(dense.data), [1, 2, 1, 3, 4, 1]);
  const csr = { rows: 3, cols: 4, indptr: [0, 2, 2, 3], indices: [0, 3, 1], values: [5, 6, 7] };
  const b = addBias(csr);
  assert.equal([b.rows, b.cols], [3, 5]);
  assert.equal(Array.from(b.indptr), [0, 3, 4, 6]);
  assert.equal(Array.from(b.indices), [0, 3, 4, 4, 1, 4]);
  assert.equal(Array.from(b.values), [5, 6, 1, 1, 7, 1]);
  assert.equal(toDense(b), addBias(toDense(csr)));
  assert.equal(Array.from(toDense(csr).data), [5, 0, 0, 6, 0, 0, 0, 0, 0, 7, 0, 0]);
  assert.throws(() => toDense({ rows: 1, cols: 2, indptr: [0, 1], indices: [2], values: [1] }), RangeError);
  assert.throws(() => toDense({ rows: 2, cols: 2, indptr: [0, 1], indices: [0], values: [1] }), RangeError);
});

test('addBias on a1a: CSR and dense paths agree', async () => {
  const { X } = await loadPaperDataset('a1a', DATA);
  const withBias = addBias(X);
  assert.equal([withBias.cols, withBias.indptr[1605]], [124, 22249 + 1605]);
  assert.equal(toDense(withBias), addBias(toDense(X)));
});

test.run();
