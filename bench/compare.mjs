#!/usr/bin/env node
/**
 * natgrad vs numpy: prints, for every kernel and size, numpy's median time next to
 * natgrad's (both WASM variants) and the ratio numpy / natgrad (> 1: natgrad is faster).
 *
 *   node bench/compare.mjs [bench/results/latest.json] [bench/results/numpy.json]
 *
 * `bench/kernels.bench.ts` runs numpy itself after its own suites and calls
 * {@link printComparison}, so one command measures both in the same run; this script
 * re-prints the comparison from the saved files.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** JSON.parse of a file. */
export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const key = (r) =>
  `${r.name}|${Object.entries(r.sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

/**
 * @param {Array<{name: string, sizes: Record<string, number>, variant: string, medianMs: number, gflops: number}>} rows natgrad rows (latest.json)
 * @param {{meta?: object, results: Array<{name: string, sizes: Record<string, number>, variant: string, impl?: string, medianMs: number, gflops: number}>}} py numpy.json
 */
export function printComparison(rows, py) {
  const meta = py.meta ?? {};
  const blas = (meta.threadpool ?? []).map((t) => `${t.internal_api} ${t.version ?? ''} ${t.architecture ?? ''} ×${t.num_threads}`).join(', ');
  console.log(`\nnatgrad vs numpy (python ${meta.python ?? '?'}, numpy ${meta.numpy ?? '?'}${meta.scipy ? `, scipy ${meta.scipy}` : ''}; BLAS: ${blas || 'threadpoolctl not available'})`);
  const out = [];
  for (const p of py.results) {
    const mine = rows.filter((r) => key(r) === key(p) && (r.variant === 'relaxed-simd' || r.variant === 'simd'));
    const relaxed = mine.find((r) => r.variant === 'relaxed-simd');
    const simd = mine.find((r) => r.variant === 'simd');
    out.push({
      kernel: p.name,
      sizes: key(p).split('|')[1],
      'python impl': p.impl ?? p.variant,
      'python ms': Number(p.medianMs.toPrecision(4)),
      'python GF/s': Number(p.gflops.toFixed(2)),
      'relaxed ms': relaxed ? Number(relaxed.medianMs.toPrecision(4)) : NaN,
      'python/relaxed': relaxed ? Number((p.medianMs / relaxed.medianMs).toFixed(2)) : NaN,
      'simd ms': simd ? Number(simd.medianMs.toPrecision(4)) : NaN,
      'python/simd': simd ? Number((p.medianMs / simd.medianMs).toFixed(2)) : NaN,
      'python/relaxed (cpu)': relaxed?.cpuMs && p.cpuMs ? Number((p.cpuMs / relaxed.cpuMs).toFixed(2)) : NaN,
    });
  }
  console.table(out);
  console.log('ratio = python median / natgrad median: > 1 means natgrad is faster. "(cpu)": the same ratio of mean CPU time per op,');
  console.log('which is less sensitive to other processes competing for the cores than the wall-clock medians.');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  const rows = readJson(process.argv[2] ?? join(dir, 'latest.json'));
  const py = readJson(process.argv[3] ?? join(dir, 'numpy.json'));
  printComparison(rows, py);
}
