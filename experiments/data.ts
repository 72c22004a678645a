/**
 * Loading the paper's real data sets for the reproduction commands (Node only).
 *
 * - The three scikit-learn CSVs (BreastCancer, Boston, Wine) are vendored in the package's
 *   `data/`; a copy in the data directory is preferred when there is one.
 * - a1a and the UCI sets (Energy, Powerplant, Yacht) are never shipped: they are read from the
 *   data directory (`--data`; default `../shared/datasets` relative to the working directory
 *   when it exists). A missing file is reported, not thrown: the caller skips that panel.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPaperDataset, type Dataset, type PaperDatasetName } from 'natgrad';

/** The package root (the directory of natgrad's package.json), from this file's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'natgrad') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('natgrad: cannot find the package root (package.json named "natgrad")');
    dir = up;
  }
}

/** The vendored data directory (`<package>/data`). */
export function vendoredDataDir(): string {
  return join(packageRoot(), 'data');
}

const VENDORED: Partial<Record<PaperDatasetName, string>> = {
  BreastCancer: 'breast_cancer.csv',
  Boston: 'boston_house_prices.csv',
  Wine: 'wine_data.csv',
};

const REMOTE: Partial<Record<PaperDatasetName, string>> = { a1a: 'a1a', Energy: 'uci/energy', Powerplant: 'uci/power-plant', Yacht: 'uci/yacht' };

/** The default data directory: ../shared/datasets relative to the working directory, if it exists. */
export function defaultDataDir(cwd = process.cwd()): string | undefined {
  const d = resolve(cwd, '../shared/datasets');
  return existsSync(d) && statSync(d).isDirectory() ? d : undefined;
}

/** A loaded data set, or why it is missing. */
export type LoadResult = { dataset: Dataset; source: string } | { missing: string };

/**
 * Load a paper data set: from `dataDir` when the file is there, else (scikit-learn sets) from the
 * vendored copy. For a1a and the UCI sets a missing file yields `{ missing }` with the library's
 * message (which file, where to download it, where it was looked for).
 */
export async function loadDataset(name: PaperDatasetName, dataDir: string | undefined): Promise<LoadResult> {
  const vendored = VENDORED[name];
  if (vendored) {
    const dir = dataDir && existsSync(join(dataDir, vendored)) ? dataDir : vendoredDataDir();
    return { dataset: await loadPaperDataset(name, dir), source: join(dir, vendored) };
  }
  const rel = REMOTE[name]!;
  if (!dataDir) {
    return {
      missing: `${name} needs ${rel} in a data directory: pass --data DIR (no ../shared/datasets next to the working directory). ` + `${hintFor(name)}`,
    };
  }
  try {
    return { dataset: await loadPaperDataset(name, dataDir), source: join(dataDir, rel) };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/not found/i.test(msg)) return { missing: msg };
    throw e;
  }
}

function hintFor(name: PaperDatasetName): string {
  switch (name) {
    case 'a1a':
      return 'Download a1a from the LIBSVM data sets page, https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary.html#a1a, into DIR/a1a.';
    case 'Energy':
      return 'Get the UCI "Energy efficiency" set (https://archive.ics.uci.edu/dataset/242) as DIR/uci/energy/{data.txt,index_features.txt,index_target.txt}.';
    case 'Powerplant':
      return 'Get the UCI "Combined Cycle Power Plant" set (https://archive.ics.uci.edu/dataset/294) as DIR/uci/power-plant/{data.txt,index_features.txt,index_target.txt}.';
    case 'Yacht':
      return 'Get the UCI "Yacht Hydrodynamics" set (https://archive.ics.uci.edu/dataset/243) as DIR/uci/yacht/{data.txt,index_features.txt,index_target.txt}.';
    default:
      return '';
  }
}
