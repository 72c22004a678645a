/**
 * Runs every `test/**\/*.test.ts` with uvu for one WASM variant (NATGRAD_VARIANT) and
 * writes the counts to NATGRAD_TEST_SUMMARY (JSON) for `test/all.mjs`.
 * Usage: NATGRAD_VARIANT=simd tsx test/run.ts [filter]
 *
 * NATGRAD_TEST_DOCS=0 leaves out the documentation tests (test/docs/: they run the pages' programs
 * and the examples, once per `npm test`, not once per variant), =1 runs only them; unset: all.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, sep } from 'node:path';
import { run } from 'uvu/run';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts') && (!filter || f.includes(filter)))
  .filter((f) => {
    const docs = f.split(sep)[0] === 'docs';
    return process.env.NATGRAD_TEST_DOCS === '0' ? !docs : process.env.NATGRAD_TEST_DOCS === '1' ? docs : true;
  })
  .sort();

let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

await run(
  files.map((f) => ({ name: f, file: join(dir, f) })),
  {},
);
process.stdout.write = write;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what this strips
const plain = captured.replace(/\u001b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
if (process.env.NATGRAD_TEST_SUMMARY) {
  // uvu's Total leaves out skipped tests (test.skip).
  writeFileSync(process.env.NATGRAD_TEST_SUMMARY, JSON.stringify({ files: files.length, total: total + skipped, passed, skipped, failed: total - passed }));
}
