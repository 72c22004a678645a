// Runs smoke.mjs under Deno (the `deno` npm package) and writes the counts for test/all.mjs.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let denoBin;
try {
  denoBin = require.resolve('deno/bin.cjs');
} catch {
  console.error('deno smoke: the deno package is not installed (npm install)');
  process.exit(1);
}
const r = spawnSync(process.execPath, [denoBin, 'run', '--allow-read', '--quiet', new URL('smoke.mjs', import.meta.url).pathname], { encoding: 'utf8' });
process.stderr.write(r.stderr ?? '');
const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
let counts = { passed: 0, failed: 1, skipped: 0 };
try {
  counts = { skipped: 0, ...JSON.parse(line) };
} catch {
  console.error(`deno smoke: no result (exit ${r.status}): ${r.stdout}`);
}
console.log(`deno ${counts.variant ?? '?'}: ${counts.passed} passed, ${counts.failed} failed`);
if (process.env.NATGRAD_TEST_SUMMARY) writeFileSync(process.env.NATGRAD_TEST_SUMMARY, JSON.stringify({ total: counts.passed + counts.failed, ...counts }));
process.exitCode = counts.failed ? 1 : 0;
