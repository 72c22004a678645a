// The documentation's CNN example (examples/cnn-digits.ts) runs and prints what the documentation shows.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('examples/cnn-digits.ts prints the output the documentation shows', () => {
  const root = new URL('../../', import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/cnn-digits.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, NATGRAD_VARIANT: 'simd' } });
  assert.is(r.status, 0, r.stderr);
  // The output is shown in the README or a guide page of the documentation.
  const guides = new URL('docs/guide/', root);
  const readme = [
    readFileSync(new URL('README.md', root), 'utf8'),
    ...readdirSync(guides)
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(new URL(f, guides), 'utf8')),
  ].join('\n');
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 4);
  for (const line of lines) assert.ok(readme.includes(line), `the documentation shows: ${line}`);
});

test.run();
