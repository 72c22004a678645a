/**
 * loadPaperDataset without a dataDir: BreastCancer, Boston and Wine come from the package's
 * bundled data/ folder whatever the working directory, and are the same as reading that folder
 * explicitly. The "not found" messages say which directory was searched and, for a bundled set,
 * that omitting dataDir loads the bundled copy (and never to copy a file from scikit-learn); a1a
 * without a dataDir says that it does not ship with natgrad and where to get it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DataFormatError } from '../../bindings/core/errors.js';
import { loadPaperDataset } from '../../bindings/data/datasets.js';

const BUNDLED = fileURLToPath(new URL('../../data/', import.meta.url));
const empty = mkdtempSync(join(tmpdir(), 'natgrad-paper-data-'));

/** The message of the rejection of `p` (which must reject with a plain Error). */
async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, Error);
    assert.not.instance(e, DataFormatError);
    return (e as Error).message;
  }
  assert.unreachable('expected a rejection');
  return '';
}

test('no dataDir: BreastCancer, Boston and Wine load from the bundled data/ whatever the working directory', async () => {
  const cwd = process.cwd();
  process.chdir(empty); // the old default was relative to the working directory
  try {
    const wine = await loadPaperDataset('Wine');
    assert.equal([wine.X.rows, wine.X.cols, wine.y.length], [178, 13, 178]);
    assert.equal([...new Set(wine.y)].sort(), [0, 1, 2]);
    const cancer = await loadPaperDataset('BreastCancer');
    assert.equal([cancer.X.rows, cancer.X.cols], [569, 30]);
    const boston = await loadPaperDataset('Boston');
    assert.equal([boston.X.rows, boston.X.cols], [506, 13]);
    assert.is(boston.names[12], 'LSTAT');
    // the same arrays as an explicit dataDir pointing at the package's data/
    assert.equal(wine, await loadPaperDataset('Wine', BUNDLED));
    assert.equal(boston, await loadPaperDataset('Boston', new URL('../../data/', import.meta.url)));
  } finally {
    process.chdir(cwd);
  }
});

test('a bundled set missing from a given dataDir: the directory searched and "omit dataDir", no scikit-learn copying', async () => {
  const msg = await message(loadPaperDataset('Wine', empty));
  assert.ok(msg.includes(join(empty, 'wine_data.csv')), msg);
  assert.ok(msg.includes(`searched dataDir = ${empty}`), msg);
  assert.ok(msg.includes('omit dataDir'), msg);
  assert.ok(msg.includes(join(BUNDLED, 'wine_data.csv')), `names the bundled copy: ${msg}`);
  assert.not.match(msg, /scikit-learn|sklearn|copy it/i);
  // a relative dataDir: the working directory it is relative to
  const rel = await message(loadPaperDataset('BreastCancer', 'no-such-dir'));
  assert.ok(rel.includes(`searched dataDir = no-such-dir (relative to the working directory ${process.cwd()})`), rel);
  assert.ok(rel.includes('omit dataDir'), rel);
});

test('a1a without a dataDir: not bundled, the bundled directory searched, where to download it', async () => {
  const msg = await message(loadPaperDataset('a1a'));
  assert.ok(msg.includes('a1a does not ship with natgrad'), msg);
  assert.ok(msg.includes(BUNDLED.replace(/[\\/]$/, '')), `names the bundled directory: ${msg}`);
  assert.ok(msg.includes('binary.html#a1a') && msg.includes('as dataDir'), msg);
  const uci = await message(loadPaperDataset('Yacht'));
  assert.ok(uci.includes('Yacht does not ship with natgrad') && uci.includes('Yacht Hydrodynamics'), uci);
  // with a dataDir: the directory searched and the download hint
  const given = await message(loadPaperDataset('a1a', empty));
  assert.ok(given.includes(`searched dataDir = ${empty}`) && given.includes('binary.html#a1a'), given);
});

test('dataDir of the wrong type: TypeError; undefined is the default', async () => {
  try {
    await loadPaperDataset('Wine', null as unknown as string);
    assert.unreachable('null dataDir');
  } catch (e) {
    assert.instance(e, TypeError);
    assert.match((e as Error).message, /dataDir must be a path string or a URL, got null/);
  }
  const wine = await loadPaperDataset('Wine', undefined);
  assert.is(wine.X.rows, 178);
});

test.after(() => rmSync(empty, { recursive: true, force: true }));
test.run();
