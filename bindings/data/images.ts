/**
 * Image data sets for convolutional networks: Fashion-MNIST ({@link loadFashionMnist}) from the
 * IDX files of Debian's `dataset-fashion-mnist` package, and the IDX parser behind it
 * ({@link parseIdx}). The handwritten digits as 1 × 8 × 8 images come from `loadDigits(dataDir,
 * { images: true })`.
 *
 * Images follow the layer vocabulary's convention (`bindings/nn/spec.ts`): a sample is one row
 * of C·H·W values in NCHW order, so pixel (c, r, k) of sample i is
 * `X.data[i * C*H*W + c * H*W + r * W + k]`, and `shape` = [C, H, W] is the `input` of a
 * `sequential` network.
 *
 * `node:fs/promises` and `node:zlib` are imported on first use, so this module can be imported in
 * a browser; there, pass the files' bytes (`bytes: { images, labels }`, gzipped or not) instead
 * of a directory. Parsing is all-or-nothing: malformed bytes throw a {@link DataFormatError}
 * naming the file and the problem (an IDX file has no lines: `line` is 0 and the message reads
 * `file: problem`).
 *
 * @module
 */

import { DataFormatError } from '../core/errors.js';
import { checkOptions } from '../core/options.js';
import type { Dataset, DenseMatrix } from '../core/types.js';

/**
 * The per-sample shape [channels, height, width] of an image data set (NCHW rows).
 *
 * @category Data
 */
export type ImageShape = readonly [channels: number, height: number, width: number];

/**
 * A data set of images: `X` holds one image per row, C·H·W values in NCHW order
 * (`X.cols = C·H·W`), `shape` = [C, H, W] (pass it as a network's `input`).
 *
 * @category Data
 */
export interface ImageDataset extends Dataset<DenseMatrix> {
  readonly shape: ImageShape;
}

/**
 * Fashion-MNIST as {@link loadFashionMnist} returns it.
 *
 * @category Data
 */
export interface FashionMnist extends ImageDataset {
  /** [1, 28, 28]. */
  readonly shape: readonly [1, 28, 28];
  /** The 10 class names, `classes[y[i]]` naming sample i (see {@link fashionMnistClasses}). */
  readonly classes: string[];
}

/**
 * The raw bytes of one split's two IDX files, gzipped (`.gz` as shipped) or not.
 *
 * @category Data
 */
export interface FashionMnistBytes {
  /** `*-images-idx3-ubyte[.gz]`. */
  readonly images: Uint8Array | ArrayBuffer;
  /** `*-labels-idx1-ubyte[.gz]`. */
  readonly labels: Uint8Array | ArrayBuffer;
}

/**
 * Options of {@link loadFashionMnist}.
 *
 * @category Data
 */
export interface FashionMnistOptions {
  /** `'train'` (60 000 images) or `'test'` (10 000 images); required. */
  readonly split: 'train' | 'test';
  /**
   * The directory holding the four IDX files, a path or a `file:` URL; default
   * {@link FASHION_MNIST_DIR}, where Debian's `dataset-fashion-mnist` installs them. Each file is
   * read as `<name>.gz`, or as `<name>` (uncompressed) when there is no `.gz`.
   */
  readonly dir?: string | URL;
  /** The files' bytes instead of a directory (browsers, bundlers); not together with `dir`. */
  readonly bytes?: FashionMnistBytes;
  /** Keep only the first `limit` images (a positive integer; more than the split has keeps them all). */
  readonly limit?: number;
  /** Divide the pixels (0–255) by 255, into [0, 1] (default true); `false` keeps 0–255. */
  readonly scale?: boolean;
}

/**
 * An IDX array of unsigned bytes as {@link parseIdx} returns it.
 *
 * @category Data
 */
export interface IdxArray {
  /** The dimensions from the header, outermost first (e.g. [60000, 28, 28]). */
  readonly dims: number[];
  /** The values, row-major (last dimension fastest): a view into the input bytes, not a copy. */
  readonly data: Uint8Array;
}

/**
 * Where Debian's `dataset-fashion-mnist` package installs the IDX files.
 *
 * @category Data
 */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Fashion-MNIST's class names, label 0 to 9.
 *
 * @category Data
 */
export const fashionMnistClasses: readonly string[] = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

const IMAGE_MAGIC = 0x00000803;
const LABEL_MAGIC = 0x00000801;
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const FILE_PREFIX = { train: 'train', test: 't10k' } as const;
const FASHION_KEYS = ['split', 'dir', 'bytes', 'limit', 'scale'] as const;

// ---------------------------------------------------------------------------------------------
// Option checking
// ---------------------------------------------------------------------------------------------

/**
 * Checks that `options` is a plain object (or undefined) whose keys are all in `valid`
 * ({@link checkOptions}).
 *
 * @throws UnknownOptionError (a TypeError) naming `what`, the unknown key, the nearest valid
 *   one and all of them; TypeError for options that are not an object.
 * @internal
 */
export function checkOptionKeys(options: unknown, valid: readonly string[], what: string): void {
  checkOptions(options, what, valid);
}

/**
 * Checks an optional boolean option; returns it or `fallback`.
 *
 * @throws TypeError naming `what` and `name` for a value that is not a boolean.
 * @internal
 */
export function optionalBoolean(value: unknown, name: string, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${what}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value.length <= 40 ? value : `${value.slice(0, 32)}…`}"`;
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

/** Builds the DataFormatError of a binary file (no line: `line` 0, message `file: problem`). */
function formatError(file: string, problem: string): DataFormatError {
  const error = new DataFormatError(file, 0, problem);
  error.message = `${file}: ${problem}`;
  return error;
}

function hex(magic: number): string {
  return `0x${magic.toString(16).padStart(8, '0')}`;
}

/** IDX value types by their code, the magic number's third byte. */
const IDX_TYPES: ReadonlyMap<number, string> = new Map([
  [0x08, 'unsigned byte'],
  [0x09, 'signed byte'],
  [0x0b, 'int16'],
  [0x0c, 'int32'],
  [0x0d, 'float32'],
  [0x0e, 'float64'],
]);

/**
 * Parses an IDX file of unsigned bytes (the MNIST / Fashion-MNIST format): a 4-byte magic number
 * `0x00 0x00 0x08 n` (n = number of dimensions), n big-endian uint32 dimensions, then
 * ∏ dims bytes, row-major. The file must end exactly there.
 *
 * @param bytes - the (already gunzipped) file content.
 * @param name - the file name used in error messages.
 * @returns `dims` and `data` (a view into `bytes`).
 * @throws DataFormatError naming the file for a magic number that is not an IDX one, a value
 *   type other than unsigned byte, a header or data shorter than announced (truncated), or
 *   bytes after the data.
 * @example
 * ```ts
 * parseIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 7, 9), 'tiny'); // { dims: [2], data: [7, 9] }
 * ```
 *
 * @category Data
 */
export function parseIdx(bytes: Uint8Array, name = '<bytes>'): IdxArray {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`parseIdx: bytes must be a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < 4) throw formatError(name, `truncated: ${bytes.length} bytes, an IDX header needs at least 4 (the magic number)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || !IDX_TYPES.has(type)) {
    throw formatError(name, `magic number ${hex(magic)} is not an IDX one (0x0000TTNN: type TT, NN dimensions)`);
  }
  if (type !== 0x08) throw formatError(name, `values of type ${IDX_TYPES.get(type)} (magic ${hex(magic)}): only unsigned bytes (0x08) are supported`);
  if (ndims === 0) throw formatError(name, `magic number ${hex(magic)} announces 0 dimensions`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) {
    throw formatError(name, `truncated header: ${ndims} dimensions need ${header} bytes, the file has ${bytes.length}`);
  }
  const dims: number[] = [];
  let size = 1;
  for (let k = 0; k < ndims; k++) {
    const d = view.getUint32(4 + 4 * k, false);
    dims.push(d);
    size *= d; // < 2^53 while it matters: anything beyond the file's length fails below
  }
  const available = bytes.length - header;
  if (available < size) {
    throw formatError(name, `truncated: the header announces ${dims.join(' × ')} = ${size} bytes of data, the file has ${available}`);
  }
  if (available > size) {
    throw formatError(name, `${available - size} bytes after the ${dims.join(' × ')} = ${size} bytes of data the header announces`);
  }
  return { dims, data: bytes.subarray(header) };
}

// ---------------------------------------------------------------------------------------------
// gzip and files
// ---------------------------------------------------------------------------------------------

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips `bytes` when they start with the gzip signature (1f 8b), else returns them: with
 * `node:zlib` where it exists (Node, Deno, Bun), else with the web's `DecompressionStream`.
 */
async function maybeGunzip(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  let zlib: typeof import('node:zlib') | undefined;
  try {
    zlib = await import('node:zlib');
  } catch {
    zlib = undefined;
  }
  try {
    if (zlib !== undefined) {
      const { gunzip } = zlib;
      return await new Promise<Uint8Array>((resolve, reject) => gunzip(bytes, (error, out) => (error ? reject(error) : resolve(out))));
    }
    if (typeof DecompressionStream === 'function') {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    }
  } catch (cause) {
    const error = formatError(name, `not a valid gzip stream: ${(cause as Error).message ?? String(cause)}`);
    error.cause = cause;
    throw error;
  }
  throw new Error(`cannot gunzip ${name}: this runtime has neither node:zlib nor DecompressionStream; pass the uncompressed bytes`);
}

function pathString(path: string | URL): string {
  return typeof path === 'string' ? path : path.href;
}

/** `dir/file` for a path string or a URL. */
function joinPath(dir: string | URL, file: string): string | URL {
  if (typeof dir === 'string') return `${dir.replace(/[\\/]+$/, '')}/${file}`;
  return new URL(file, dir.href.endsWith('/') ? dir : `${dir.href}/`);
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Reads `dir/<file>.gz`, or `dir/<file>` when there is no `.gz`; `undefined` when neither exists. */
async function readIdxFile(fs: typeof import('node:fs/promises'), dir: string | URL, file: string): Promise<{ bytes: Uint8Array; name: string } | undefined> {
  for (const candidate of [`${file}.gz`, file]) {
    const path = joinPath(dir, candidate);
    try {
      return { bytes: await fs.readFile(path), name: pathString(path) };
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
  return undefined;
}

function notInstalled(dir: string | URL, missing: string): Error {
  const where = pathString(dir);
  const installs = where === FASHION_MNIST_DIR ? 'which installs the files there' : `which installs the files in ${FASHION_MNIST_DIR}, the default dir`;
  return new Error(
    `Fashion-MNIST not found: no ${missing}.gz (nor ${missing}) in ${where}. ` +
      `Install Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), ${installs}; ` +
      'or pass dir: a directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].',
  );
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------------------------

function checkFashionOptions(options: unknown): { split: 'train' | 'test'; dir: string | URL; bytes?: FashionMnistBytes; limit: number; scale: boolean } {
  const what = 'loadFashionMnist';
  if (options === undefined) throw new TypeError(`${what}: options { split: 'train' | 'test' } are required`);
  checkOptionKeys(options, FASHION_KEYS, what);
  const o = options as Record<string, unknown>;
  const { split, dir, bytes, limit } = o;
  if (split === undefined) throw new TypeError(`${what}: split is required: 'train' or 'test'`);
  if (typeof split !== 'string') throw new TypeError(`${what}: split must be 'train' or 'test', got ${describe(split)}`);
  if (split !== 'train' && split !== 'test') throw new RangeError(`${what}: split must be 'train' or 'test', got ${describe(split)}`);
  if (dir !== undefined && typeof dir !== 'string' && !(dir instanceof URL)) throw new TypeError(`${what}: dir must be a path string or a URL, got ${describe(dir)}`);
  if (dir === '') throw new RangeError(`${what}: dir must not be empty`);
  if (bytes !== undefined) {
    if (dir !== undefined) throw new TypeError(`${what}: give dir or bytes, not both`);
    if (typeof bytes !== 'object' || bytes === null) throw new TypeError(`${what}: bytes must be { images, labels }, got ${describe(bytes)}`);
    checkOptionKeys(bytes, ['images', 'labels'], `${what}: bytes`);
    for (const key of ['images', 'labels'] as const) {
      const b = (bytes as Record<string, unknown>)[key];
      if (!(b instanceof Uint8Array) && !(b instanceof ArrayBuffer)) {
        throw new TypeError(`${what}: bytes.${key} must be a Uint8Array or an ArrayBuffer, got ${b === undefined ? 'undefined' : describe(b)}`);
      }
    }
  }
  if (limit !== undefined) {
    if (typeof limit !== 'number') throw new TypeError(`${what}: limit must be a positive integer, got ${describe(limit)}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`${what}: limit must be a positive integer, got ${limit}`);
  }
  return {
    split,
    dir: (dir as string | URL | undefined) ?? FASHION_MNIST_DIR,
    bytes: bytes as FashionMnistBytes | undefined,
    limit: (limit as number | undefined) ?? Number.POSITIVE_INFINITY,
    scale: optionalBoolean(o.scale, 'scale', what, true),
  };
}

function asBytes(b: Uint8Array | ArrayBuffer): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

/** The magic number of `bytes` (−1 when shorter than 4: parseIdx then reports the truncation). */
function magicOf(bytes: Uint8Array): number {
  return bytes.length < 4 ? -1 : new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
}

/**
 * Loads one split of Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28 × 28 grey-scale images of
 * clothing, 10 classes ({@link fashionMnistClasses}), 60 000 training and 10 000 test images,
 * 6 000 / 1 000 per class.
 *
 * Reads `dir/{train,t10k}-images-idx3-ubyte.gz` and `dir/{train,t10k}-labels-idx1-ubyte.gz`
 * (uncompressed files without `.gz` too), by default from {@link FASHION_MNIST_DIR}, where
 * Debian's package `dataset-fashion-mnist` installs them; or the same files' bytes
 * (`bytes: { images, labels }`). The files are checked: magic numbers 0x00000803 (images:
 * unsigned bytes, 3 dimensions N × 28 × 28) and 0x00000801 (labels: 1 dimension N), sizes exactly
 * as the headers announce, the same N in both, labels 0–9.
 *
 * @param options - `split` (required), `dir` or `bytes`, `limit`, `scale`.
 * @returns `X` (n × 784 dense, row i = image i row-major: pixel (r, k) at column 28r + k, values
 *   pixel / 255 in [0, 1], or 0–255 with `scale: false`), `y` (n labels 0–9), `shape` [1, 28, 28],
 *   `classes` (the 10 names), `names` (`x0…x783`); n = min(limit, N), the first images of the file.
 * @throws TypeError / RangeError for an unknown option, a missing or misspelt `split`, a `limit`
 *   that is not a positive integer, `dir` and `bytes` together, or a wrong type.
 * @throws Error saying how to install the files (`apt-get install dataset-fashion-mnist`), the
 *   directory looked in and that `dir` points elsewhere, when a file is absent.
 * @throws DataFormatError naming the file for a malformed one (bad gzip, wrong magic number,
 *   truncated or too long, images not 28 × 28, counts that differ, a label above 9).
 * @example
 * ```ts
 * const { X, y, shape, classes } = await loadFashionMnist({ split: 'test', limit: 1000 });
 * [X.rows, X.cols, shape]; // [1000, 784, [1, 28, 28]]
 * classes[y[0]!]; // 'Ankle boot'
 * ```
 *
 * @category Data
 */
export async function loadFashionMnist(options: FashionMnistOptions): Promise<FashionMnist> {
  const { split, dir, bytes, limit, scale } = checkFashionOptions(options);
  const prefix = FILE_PREFIX[split];
  const imageFile = `${prefix}-images-idx3-ubyte`;
  const labelFile = `${prefix}-labels-idx1-ubyte`;
  let images: { bytes: Uint8Array; name: string };
  let labels: { bytes: Uint8Array; name: string };
  if (bytes !== undefined) {
    images = { bytes: asBytes(bytes.images), name: `<bytes: ${imageFile}>` };
    labels = { bytes: asBytes(bytes.labels), name: `<bytes: ${labelFile}>` };
  } else {
    let fs: typeof import('node:fs/promises');
    try {
      fs = await import('node:fs/promises');
    } catch (cause) {
      throw new Error('loadFashionMnist: reading files needs node:fs (Node, Deno, Bun); in a browser, fetch the two files and pass bytes: { images, labels }', { cause });
    }
    const [imageRead, labelRead] = await Promise.all([readIdxFile(fs, dir, imageFile), readIdxFile(fs, dir, labelFile)]);
    if (imageRead === undefined) throw notInstalled(dir, imageFile);
    if (labelRead === undefined) throw notInstalled(dir, labelFile);
    images = imageRead;
    labels = labelRead;
  }

  const imageBytes = await maybeGunzip(images.bytes, images.name);
  const labelBytes = await maybeGunzip(labels.bytes, labels.name);
  for (const [file, raw, expected, what] of [
    [images.name, imageBytes, IMAGE_MAGIC, 'images: unsigned bytes, 3 dimensions'],
    [labels.name, labelBytes, LABEL_MAGIC, 'labels: unsigned bytes, 1 dimension'],
  ] as const) {
    const magic = magicOf(raw);
    if (magic >= 0 && magic !== expected) throw formatError(file, `magic number ${hex(magic)}, expected ${hex(expected)} (${what})`);
  }
  const img = parseIdx(imageBytes, images.name);
  const lab = parseIdx(labelBytes, labels.name);
  const [n, h, w] = img.dims as [number, number, number];
  if (h !== SIDE || w !== SIDE) throw formatError(images.name, `images are ${h} × ${w}, Fashion-MNIST's are ${SIDE} × ${SIDE}`);
  if (n === 0) throw formatError(images.name, 'no images (the header announces 0)');
  if (lab.dims[0] !== n) throw formatError(labels.name, `${lab.dims[0]} labels for the ${n} images of ${images.name}`);

  // Every label is checked, also past `limit`: a file is valid or not whatever the caller keeps.
  const bad = lab.data.findIndex((label) => label > 9);
  if (bad >= 0) throw formatError(labels.name, `label ${lab.data[bad]} of image ${bad} (0-based) is not a class 0–9`);
  const rows = Math.min(n, limit);
  const y = Float64Array.from(lab.data.subarray(0, rows));
  const data = new Float64Array(rows * PIXELS);
  const pixels = img.data;
  if (scale) {
    for (let j = 0; j < data.length; j++) data[j] = pixels[j]! / 255;
  } else {
    for (let j = 0; j < data.length; j++) data[j] = pixels[j]!;
  }
  return {
    X: { data, rows, cols: PIXELS },
    y,
    shape: [1, SIDE, SIDE],
    classes: [...fashionMnistClasses],
    names: Array.from({ length: PIXELS }, (_, j) => `x${j}`),
  };
}
