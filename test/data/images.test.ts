/**
 * Image data: the digits as 1 × 8 × 8 images (scikit-learn's layout, same rows as the flat
 * loader), and Fashion-MNIST from Debian's dataset-fashion-mnist (shapes, pixel range, per-class
 * counts, first and last images against checksums of the raw bytes parsed here by hand, limit,
 * gzipped and raw bytes), the message when the files are absent, malformed IDX bytes as
 * DataFormatError, and option checking.
 *
 * Without the package the Fashion-MNIST tests that need it are skipped with a printed reason,
 * except under CI=true, where the package is installed by .ci and its absence fails.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DataFormatError } from '../../bindings/core/errors.js';
import type { DenseMatrix } from '../../bindings/core/types.js';
import { loadDigits } from '../../bindings/data/datasets.js';
import { FASHION_MNIST_DIR, type FashionMnist, fashionMnistClasses, loadFashionMnist, parseIdx } from '../../bindings/data/images.js';

function row(X: DenseMatrix, i: number): number[] {
  return Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols));
}

function classCounts(y: Float64Array): number[] {
  const c = new Array<number>(10).fill(0);
  for (const v of y) c[v] = c[v]! + 1;
  return c;
}

async function rejects(p: Promise<unknown>, type: new (...a: never[]) => Error, parts: (string | RegExp)[]): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, type, `expected a ${type.name}, got ${String(e)}`);
    const message = (e as Error).message;
    for (const part of parts) {
      if (typeof part === 'string' ? !message.includes(part) : !part.test(message)) assert.unreachable(`message "${message}" lacks ${String(part)}`);
    }
    return e as Error;
  }
  return assert.unreachable('expected a rejection') as never;
}

// ---------------------------------------------------------------------------------------------
// Digits as images
// ---------------------------------------------------------------------------------------------

test('loadDigits images: 1797 × 64 with shape [1, 8, 8], the same rows and labels as the flat loader', async () => {
  const flat = await loadDigits();
  const img = await loadDigits(undefined, { images: true });
  assert.equal(img.shape, [1, 8, 8]);
  assert.equal([img.X.rows, img.X.cols, img.y.length], [1797, 64, 1797]);
  assert.equal(row(img.X, 0), row(flat.X, 0));
  assert.equal(Array.from(img.X.data), Array.from(flat.X.data));
  assert.equal(Array.from(img.y), Array.from(flat.y));
  assert.equal(img.names, flat.names);
  assert.not.ok('shape' in flat, 'the flat loader is unchanged: no shape');
});

test("loadDigits images: pixel (r, c) of image 0 is column 8r + c, scikit-learn's digits.images[0]", async () => {
  // scikit-learn: load_digits().images[0] (a zero), rows 0–2 and 7; unscaled (scale: false).
  const expected: Record<number, number[]> = {
    0: [0, 0, 5, 13, 9, 1, 0, 0],
    1: [0, 0, 13, 15, 10, 15, 5, 0],
    2: [0, 3, 15, 2, 0, 11, 8, 0],
    7: [0, 0, 6, 13, 10, 0, 0, 0],
  };
  const { X, y, shape } = await loadDigits(undefined, { images: true, scale: false });
  const [, H, W] = shape;
  for (const [r, pixels] of Object.entries(expected)) {
    assert.equal(
      pixels.map((_, c) => X.data[Number(r) * W + c]),
      pixels,
      `image 0, row ${r}`,
    );
  }
  assert.is(H * W, X.cols);
  assert.is(y[0], 0);
  const scaled = await loadDigits(undefined, { images: true });
  assert.is(scaled.X.data[1 * 8 + 3], 15 / 16);
});

test('loadDigits options: unknown keys and wrong types are TypeErrors naming them', async () => {
  await rejects(loadDigits(undefined, { image: true } as never), TypeError, ["unknown option 'image'", 'scale, images']);
  await rejects(loadDigits(undefined, { images: 'yes' } as never), TypeError, ['images must be a boolean', '"yes"']);
  await rejects(loadDigits(undefined, { scale: 1 } as never), TypeError, ['scale must be a boolean']);
  await rejects(loadDigits(undefined, null as never), TypeError, ['options must be an object']);
  await rejects(loadDigits({ images: true } as never), TypeError, ['dataDir must be a path string or a URL', 'loadDigits(undefined, { images: true })']);
  const off = await loadDigits(undefined, { images: false, scale: true });
  assert.not.ok('shape' in off);
});

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST from Debian's package
// ---------------------------------------------------------------------------------------------

const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const installed = FILES.every((f) => existsSync(join(FASHION_MNIST_DIR, `${f}.gz`)));
const onCi = process.env.CI === 'true';
const fashion = installed || onCi ? test : test.skip;
if (!installed && !onCi) {
  console.log(`  (Fashion-MNIST not in ${FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist to run its tests; skipped)`);
}

if (onCi) {
  test('CI: dataset-fashion-mnist is installed', () => {
    for (const f of FILES) assert.ok(existsSync(join(FASHION_MNIST_DIR, `${f}.gz`)), `${FASHION_MNIST_DIR}/${f}.gz is missing on CI`);
  });
}

let trainSet: Promise<FashionMnist> | undefined;
const train = () => {
  trainSet ??= loadFashionMnist({ split: 'train' });
  return trainSet;
};

/** Images i of a raw IDX images file, parsed here by hand: 16-byte header (magic, N, 28, 28). */
function rawImage(file: string, i: number): { n: number; bytes: Uint8Array } {
  const raw = gunzipSync(readFileSync(join(FASHION_MNIST_DIR, file)));
  assert.equal([raw.readUInt32BE(0), raw.readUInt32BE(8), raw.readUInt32BE(12)], [0x803, 28, 28]);
  const n = raw.readUInt32BE(4);
  const at = i < 0 ? n + i : i;
  return { n, bytes: raw.subarray(16 + at * 784, 16 + (at + 1) * 784) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

fashion('Fashion-MNIST train: 60000 × 784 in [0, 1] (multiples of 1/255), shape [1, 28, 28], 6000 per class', async () => {
  const { X, y, shape, classes, names } = await train();
  assert.equal([X.rows, X.cols, y.length, names.length], [60000, 784, 60000, 784]);
  assert.instance(X.data, Float64Array);
  assert.instance(y, Float64Array);
  assert.equal(shape, [1, 28, 28]);
  assert.equal(classes, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
  let min = Infinity;
  let max = -Infinity;
  let offGrid = 0;
  for (const v of X.data) {
    if (v < min) min = v;
    if (v > max) max = v;
    if (Math.abs(v * 255 - Math.round(v * 255)) > 1e-9) offGrid++;
  }
  assert.equal([min, max, offGrid], [0, 1, 0]);
  assert.equal(classCounts(y), new Array(10).fill(6000));
});

fashion('Fashion-MNIST train: first and last images equal the raw bytes (sha256 and sums checked by hand), labels 9 and 5', async () => {
  const { X, y } = await train();
  const first = rawImage('train-images-idx3-ubyte.gz', 0);
  const last = rawImage('train-images-idx3-ubyte.gz', -1);
  assert.is(first.n, 60000);
  // Checksums of the package's bytes, computed outside natgrad (Python's gzip and struct).
  assert.is(sha256(first.bytes), '5bd44e331a6d6998daf675700cd0c13dcd7af8ab954b7585124124da61459e7b');
  assert.is(
    first.bytes.reduce((s, v) => s + v, 0),
    76247,
  );
  assert.is(
    last.bytes.reduce((s, v) => s + v, 0),
    16684,
  );
  assert.equal(
    row(X, 0),
    Array.from(first.bytes, (v) => v / 255),
  );
  assert.equal(
    row(X, 59999),
    Array.from(last.bytes, (v) => v / 255),
  );
  assert.equal([y[0], y[59999]], [9, 5]);
  assert.is(fashionMnistClasses[y[0]!], 'Ankle boot');
});

fashion('Fashion-MNIST test: 10000 × 784, 1000 per class, first image checksum, scale: false keeps 0–255', async () => {
  const ds = await loadFashionMnist({ split: 'test', scale: false });
  assert.equal([ds.X.rows, ds.X.cols, ds.y.length], [10000, 784, 10000]);
  assert.equal(ds.shape, [1, 28, 28]);
  assert.equal(classCounts(ds.y), new Array(10).fill(1000));
  const first = rawImage('t10k-images-idx3-ubyte.gz', 0);
  assert.is(first.n, 10000);
  assert.is(sha256(first.bytes), 'ffc7351ed0f8bae542820866086177fa4e0b366b97bf9d998dffdb8dbe138787');
  assert.is(
    first.bytes.reduce((s, v) => s + v, 0),
    33456,
  );
  assert.equal(row(ds.X, 0), Array.from(first.bytes));
  assert.ok(
    ds.X.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 255),
    'raw pixels are integers 0–255',
  );
  assert.equal([ds.y[0], ds.y[9999]], [9, 5]);
});

fashion('Fashion-MNIST limit: the first rows of the full split; a limit above N keeps all', async () => {
  const full = await train();
  const five = await loadFashionMnist({ split: 'train', limit: 5 });
  assert.equal([five.X.rows, five.X.cols, five.y.length], [5, 784, 5]);
  assert.equal(Array.from(five.X.data), Array.from(full.X.data.subarray(0, 5 * 784)));
  assert.equal(Array.from(five.y), Array.from(full.y.subarray(0, 5)));
  const all = await loadFashionMnist({ split: 'test', limit: 1e6 });
  assert.is(all.X.rows, 10000);
});

fashion('Fashion-MNIST bytes: the gzipped files and their gunzipped bytes give what dir gives (labels as an ArrayBuffer); dir as a URL', async () => {
  const fromDir = await loadFashionMnist({ split: 'test', limit: 20 });
  const gz = {
    images: new Uint8Array(readFileSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'))),
    labels: new Uint8Array(readFileSync(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'))),
  };
  const fromGz = await loadFashionMnist({ split: 'test', limit: 20, bytes: gz });
  const fromRaw = await loadFashionMnist({ split: 'test', limit: 20, bytes: { images: gunzipSync(gz.images), labels: new Uint8Array(gunzipSync(gz.labels)).buffer } });
  const fromUrl = await loadFashionMnist({ split: 'test', limit: 20, dir: new URL(`file://${FASHION_MNIST_DIR}`) });
  for (const other of [fromGz, fromRaw, fromUrl]) {
    assert.equal(Array.from(other.X.data), Array.from(fromDir.X.data));
    assert.equal(Array.from(other.y), Array.from(fromDir.y));
  }
});

// ---------------------------------------------------------------------------------------------
// Absent files, malformed bytes, options (no package needed)
// ---------------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'natgrad-images-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('absent files: the error says how to install them, where it looked, and dir', async () => {
  const missing = join(tmp, 'no-such-dir');
  await rejects(loadFashionMnist({ split: 'train', dir: missing }), Error, ['apt-get install dataset-fashion-mnist', `in ${missing}`, 'train-images-idx3-ubyte.gz', FASHION_MNIST_DIR, 'dir']);
  await rejects(loadFashionMnist({ split: 'test', dir: missing }), Error, ['t10k-images-idx3-ubyte.gz']);
});

/** An IDX file: big-endian magic and dimensions, then the bytes. */
function idx(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out.writeUInt32BE(magic, 0);
  dims.forEach((d, k) => out.writeUInt32BE(d, 4 + 4 * k));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return new Uint8Array(out);
}

const N = 3;
const pixels = Uint8Array.from({ length: N * 784 }, (_, j) => (j * 37 + 11) % 256);
const goodImages = idx(0x803, [N, 28, 28], pixels);
const goodLabels = idx(0x801, [N], [0, 5, 9]);

test('synthetic IDX bytes: parsed exactly, gzipped or not, and from a directory of uncompressed files', async () => {
  const ds = await loadFashionMnist({ split: 'train', bytes: { images: goodImages, labels: goodLabels } });
  assert.equal([ds.X.rows, ds.X.cols], [N, 784]);
  assert.equal(
    Array.from(ds.X.data),
    Array.from(pixels, (v) => v / 255),
  );
  assert.equal(Array.from(ds.y), [0, 5, 9]);
  const gz = await loadFashionMnist({ split: 'train', bytes: { images: gzipSync(goodImages), labels: gzipSync(goodLabels) }, scale: false, limit: 2 });
  assert.equal(Array.from(gz.X.data), Array.from(pixels.subarray(0, 2 * 784)));
  const dir = join(tmp, 'raw');
  rmSync(dir, { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(dir);
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), goodImages);
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(goodLabels));
  const fromDir = await loadFashionMnist({ split: 'test', dir });
  assert.equal(Array.from(fromDir.y), [0, 5, 9]);
  assert.equal(parseIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 7, 9)).dims, [2]);
});

test('malformed IDX bytes: each a DataFormatError naming the file and the problem', async () => {
  const I = '<bytes: train-images-idx3-ubyte>';
  const L = '<bytes: train-labels-idx1-ubyte>';
  const load = (images: Uint8Array, labels: Uint8Array) => loadFashionMnist({ split: 'train', bytes: { images, labels } });
  const cases: [string, Promise<unknown>, string[]][] = [
    ['truncated data', load(goodImages.subarray(0, goodImages.length - 1), goodLabels), [I, 'truncated', '3 × 28 × 28 = 2352 bytes', '2351']],
    ['truncated header', load(goodImages.subarray(0, 10), goodLabels), [I, 'truncated header']],
    ['shorter than a magic number', load(goodImages, goodLabels.subarray(0, 3)), [L, 'truncated: 3 bytes']],
    ['trailing bytes', load(goodImages, idx(0x801, [N], [0, 5, 9, 1])), [L, '1 bytes after']],
    ['labels file as images (wrong magic)', load(goodLabels, goodImages), [I, 'magic number 0x00000801, expected 0x00000803']],
    ['not IDX at all', load(Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0), goodLabels), [I, 'magic number 0x12345678']],
    ['images not 28 × 28', load(idx(0x803, [N, 27, 28], pixels.subarray(0, N * 27 * 28)), goodLabels), [I, '27 × 28']],
    ['counts differ', load(goodImages, idx(0x801, [2], [0, 1])), [L, '2 labels for the 3 images']],
    ['a label above 9', load(goodImages, idx(0x801, [N], [0, 10, 9])), [L, 'label 10 of image 1']],
    ['no images', load(idx(0x803, [0, 28, 28], []), idx(0x801, [0], [])), [I, 'no images']],
    ['corrupt gzip', load(gzipSync(goodImages).subarray(0, 40), goodLabels), [I, 'not a valid gzip stream']],
  ];
  for (const [what, p, parts] of cases) {
    const e = (await rejects(p, DataFormatError, parts).catch((err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    })) as DataFormatError;
    assert.is(e.file, parts[0], what);
  }
  assert.throws(
    () => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0)),
    (e: unknown) => e instanceof DataFormatError && /float32/.test(e.message),
  );
  // A malformed file in a directory is named by its path.
  const dir = join(tmp, 'bad');
  (await import('node:fs')).mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(goodImages.subarray(0, 100)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(goodLabels));
  const e = (await rejects(loadFashionMnist({ split: 'train', dir }), DataFormatError, ['truncated'])) as DataFormatError;
  assert.is(e.file, join(dir, 'train-images-idx3-ubyte.gz'));
});

test('loadFashionMnist options: unknown keys, split, limit, scale, dir and bytes checked', async () => {
  const bytes = { images: goodImages, labels: goodLabels };
  await rejects(loadFashionMnist(undefined as never), TypeError, ['split']);
  await rejects(loadFashionMnist({} as never), TypeError, ['split is required']);
  await rejects(loadFashionMnist({ split: 'training' } as never), RangeError, ["'train' or 'test'", '"training"']);
  await rejects(loadFashionMnist({ split: 1 } as never), TypeError, ["'train' or 'test'"]);
  await rejects(loadFashionMnist({ split: 'train', limt: 5 } as never), TypeError, ["unknown option 'limt' — did you mean 'limit'?", 'split, dir, bytes, limit, scale']);
  for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await rejects(loadFashionMnist({ split: 'train', bytes, limit }), RangeError, ['limit must be a positive integer']);
  }
  await rejects(loadFashionMnist({ split: 'train', bytes, limit: '5' as never }), TypeError, ['limit must be a positive integer']);
  await rejects(loadFashionMnist({ split: 'train', bytes, scale: 'no' as never }), TypeError, ['scale must be a boolean']);
  await rejects(loadFashionMnist({ split: 'train', bytes, dir: tmp }), TypeError, ['dir or bytes']);
  await rejects(loadFashionMnist({ split: 'train', dir: 5 as never }), TypeError, ['dir must be a path string or a URL']);
  await rejects(loadFashionMnist({ split: 'train', bytes: { images: goodImages } as never }), TypeError, ['bytes.labels']);
  await rejects(loadFashionMnist({ split: 'train', bytes: { ...bytes, extra: 1 } as never }), TypeError, ["loadFashionMnist: bytes: unknown option 'extra'", 'images, labels']);
});

test.run();
