// The README's training example (examples/train-digits.ts) runs and prints what the README shows.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('examples/train-digits.ts prints the output the README shows', () => {
  const root = new URL('../../', import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/train-digits.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, NATGRAD_VARIANT: 'simd' } });
  assert.is(r.status, 0, r.stderr);
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 3);
  assert.match(lines[1]!, /same θ: true/);
  for (const line of lines) assert.ok(readme.includes(line), `README shows: ${line}`);
});

test.run();
