// The whole test command (`npm test`): the uvu suite once per WASM variant (relaxed SIMD
// needs --experimental-wasm-relaxed-simd on Node 20), the Deno smoke test and the browser
// test of the web page (headless Chromium). Prints one closing line "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'natgrad-test-'));
const filter = process.argv[2] ?? '';
const nodeMajor = Number(process.versions.node.split('.')[0]);
const relaxedFlag = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const tsx = ['--import', 'tsx'];

const suites = [
  { name: 'uvu (simd)', cmd: process.execPath, args: [...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'simd' } },
  { name: 'uvu (relaxed-simd)', cmd: process.execPath, args: [...relaxedFlag, ...tsx, 'test/run.ts', filter], env: { NATGRAD_VARIANT: 'relaxed-simd' } },
  { name: 'deno smoke', cmd: process.execPath, args: ['test/deno/run.mjs'], env: {} },
  { name: 'web (chromium)', cmd: process.execPath, args: ['test/browser/web.test.mjs'], env: {} },
];

let passed = 0, failed = 0, skipped = 0;
for (const s of suites) {
  if (filter && !s.name.startsWith('uvu')) continue;
  const summary = join(tmp, s.name.replace(/\W+/g, '_') + '.json');
  console.log(`\n=== ${s.name}`);
  const r = spawnSync(s.cmd, s.args.filter(Boolean), { cwd: root, stdio: 'inherit', env: { ...process.env, ...s.env, NATGRAD_TEST_SUMMARY: summary } });
  if (existsSync(summary)) {
    const c = JSON.parse(readFileSync(summary, 'utf8'));
    passed += c.passed; failed += c.failed; skipped += c.skipped;
    if (r.status !== 0 && c.failed === 0) { failed += 1; console.log(`${s.name}: exited with ${r.status}`); }
  } else {
    failed += 1;
    console.log(`${s.name}: did not report (exit ${r.status}, signal ${r.signal})`);
  }
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed ? 1 : 0;
