// The whole test command (`npm test`): the uvu suite once per WASM variant (relaxed SIMD
// needs --experimental-wasm-relaxed-simd on Node 20) and thread count (1: the single-threaded
// build; 2: the shared-memory build with one worker, results bitwise identical), the
// documentation's code blocks and examples/ (test/docs/, once), the Deno smoke test, the browser
// test of the web page (headless Chromium), the documentation site built and checked in Chromium
// (test/docs/site.test.mjs) and the package test (the packed tarball installed and run in
// Node 20/24, Deno and a Vite app). Prints one closing line "N passed, N failed, N skipped".
//
// A suite whose runtime this machine lacks (no Chromium, no Deno binary) is skipped with one line
// saying what, why and how to run it, and counts as one skipped test; under CI=true it is a
// failure instead (.ci/run installs Chromium, npm install installs Deno).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_HOW, findChromium } from './browser/chromium.mjs';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'natgrad-test-'));
const filter = process.argv[2] ?? '';
const nodeMajor = Number(process.versions.node.split('.')[0]);
const relaxedFlag = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const tsx = ['--import', 'tsx'];
const ci = process.env.CI === 'true' || process.env.CI === '1';

/** null when the suite can run, else why not and how to make it run. */
function needsChromium() {
  const c = findChromium();
  return c.path ? null : { why: `no Chromium found (${c.why})`, how: CHROMIUM_HOW };
}
const chromium = findChromium();
function needsDeno() {
  try {
    const bin = createRequire(import.meta.url).resolve('deno/bin.cjs');
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 });
    return r.status === 0
      ? null
      : { why: `the deno binary does not run (exit ${r.status}): ${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()}`, how: 'npm install (the deno devDependency brings it)' };
  } catch {
    return { why: 'the deno npm package is not installed', how: 'npm install (deno is a devDependency)' };
  }
}

// test/docs/ (the documentation's programs, examples/) runs once, as its own suite below.
const noDocs = { NATGRAD_TEST_DOCS: '0' };
const suites = [
  { name: 'uvu (simd, 1 thread)', cmd: process.execPath, args: [...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'simd', NATGRAD_THREADS: '1', ...noDocs } },
  { name: 'uvu (relaxed-simd, 1 thread)', cmd: process.execPath, args: [...relaxedFlag, ...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'relaxed-simd', NATGRAD_THREADS: '1', ...noDocs } },
  { name: 'uvu (simd, 2 threads)', cmd: process.execPath, args: [...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'simd', NATGRAD_THREADS: '2', ...noDocs } },
  { name: 'uvu (relaxed-simd, 2 threads)', cmd: process.execPath, args: [...relaxedFlag, ...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'relaxed-simd', NATGRAD_THREADS: '2', ...noDocs } },
  // The documentation's programs and examples/ (test/docs/), once: each runs as a user runs it
  // (init() picks the binary; --experimental-wasm-relaxed-simd on Node < 22).
  { name: 'uvu docs (snippets, examples)', cmd: process.execPath, args: [...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'simd', NATGRAD_THREADS: '1', NATGRAD_TEST_DOCS: '1' } },
  { name: 'deno smoke', cmd: process.execPath, args: ['test/deno/run.mjs'], env: {}, needs: needsDeno },
  { name: 'web (chromium)', cmd: process.execPath, args: ['test/browser/web.test.mjs'], env: chromium.path ? { CHROMIUM_PATH: chromium.path } : {}, needs: needsChromium },
  { name: 'docs site (vitepress, chromium)', cmd: process.execPath, args: ['test/docs/site.test.mjs'], env: chromium.path ? { CHROMIUM_PATH: chromium.path } : {}, needs: needsChromium },
  { name: 'package (npm pack)', cmd: process.execPath, args: ['test/package/pack.test.mjs'], env: {} },
];

let passed = 0,
  failed = 0,
  skipped = 0;
for (const s of suites) {
  if (filter && !s.name.startsWith('uvu')) continue;
  const summary = join(tmp, s.name.replace(/\W+/g, '_') + '.json');
  console.log(`\n=== ${s.name}`);
  const missing = s.needs?.();
  if (missing) {
    if (ci) {
      failed += 1;
      console.log(`${s.name}: FAILED — ${missing.why}; CI must run it (${missing.how})`);
    } else {
      skipped += 1;
      console.log(`${s.name}: skipped — ${missing.why}; to run it: ${missing.how}`);
    }
    continue;
  }
  const t0 = Date.now();
  const r = spawnSync(s.cmd, s.args.filter(Boolean), { cwd: root, stdio: 'inherit', env: { ...process.env, ...s.env, NATGRAD_TEST_SUMMARY: summary } });
  if (existsSync(summary)) {
    const c = JSON.parse(readFileSync(summary, 'utf8'));
    passed += c.passed;
    failed += c.failed;
    skipped += c.skipped;
    if (r.status !== 0 && c.failed === 0) {
      failed += 1;
      console.log(`${s.name}: exited with ${r.status}`);
    }
  } else {
    failed += 1;
    console.log(`${s.name}: did not report (exit ${r.status}, signal ${r.signal})`);
  }
  console.log(`(${s.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed ? 1 : 0;
