// Every program in examples/ runs as its page says to run it — `node examples/x.mjs`, or
// `node --import tsx examples/x.ts` — from the repository root and exits with 0 after printing
// something. The examples import 'natgrad' (this package's dist/, by package self-reference) or
// '../bindings/index.js' (the TypeScript sources, through tsx), so both paths are exercised.
//
// An example that another test already runs (and compares with the documentation's output, e.g.
// test/nn/example.test.ts for examples/cnn-digits.ts) is left to that test, not run twice: any
// test file other than this one that names `examples/<file>` counts. Two examples run at a time,
// once per `npm test` (test/all.mjs runs test/docs/ as its own suite).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ProcessResult, runProcess } from './process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nodeMajor = Number(process.versions.node.split('.')[0]);
const relaxedFlag = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const TIMEOUT_MS = 120_000;
const CONCURRENCY = 2;

const isTs = (f: string) => /\.m?ts$/.test(f);
const examples = existsSync(join(root, 'examples'))
  ? readdirSync(join(root, 'examples'))
      .filter((f) => /\.(mjs|js|m?ts)$/.test(f) && !f.endsWith('.d.ts'))
      .sort()
  : [];

/** The examples another test file runs (it names `examples/<file>`). */
function testedElsewhere(): Map<string, string> {
  const self = join('docs', 'examples.test.ts');
  const out = new Map<string, string>();
  const testDir = join(root, 'test');
  for (const f of readdirSync(testDir, { recursive: true, encoding: 'utf8' })) {
    if (!/\.test\.(m?ts|mjs)$/.test(f) || f === self || f.split(sep).includes('node_modules')) continue;
    const src = readFileSync(join(testDir, f), 'utf8');
    for (const e of examples) if (src.includes(`examples/${e}`) && !out.has(e)) out.set(e, `test/${f.split(sep).join('/')}`);
  }
  return out;
}
const elsewhere = testedElsewhere();
const toRun = examples.filter((e) => !elsewhere.has(e));

type Result = ProcessResult & { seconds: number };
async function runExample(file: string): Promise<Result> {
  const t0 = Date.now();
  const r = await runProcess(process.execPath, [...relaxedFlag, ...(isTs(file) ? ['--import', 'tsx'] : []), `examples/${file}`], root, TIMEOUT_MS);
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

const results = new Map<string, Result>();
test.before(async () => {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` (npm install does)');
  const queue = [...toRun];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) results.set(f, await runExample(f));
    }),
  );
});

test('examples/ has programs', () => {
  assert.ok(examples.length > 0, 'no examples in examples/');
  if (elsewhere.size) console.log(`  examples run by their own tests: ${[...elsewhere].map(([e, t]) => `${e} (${t})`).join(', ')}`);
});

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();
for (const file of toRun) {
  const how = `${isTs(file) ? 'node --import tsx' : 'node'} examples/${file}`;
  test(`${how} exits with 0 and prints its results`, () => {
    const r = results.get(file);
    assert.ok(r, 'did not run');
    assert.ok(!r.timedOut, `${how}: killed after ${TIMEOUT_MS / 1000} s`);
    assert.is(r.status, 0, `${how}: exit ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${tail(r.stderr || r.stdout)}`);
    assert.ok(r.stdout.trim().length > 0, `${how} printed nothing`);
    console.log(`  ${how}: ${r.seconds.toFixed(1)} s, ${r.stdout.trim().split('\n').length} lines`);
  });
}

test.run();
