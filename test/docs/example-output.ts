// The examples whose output a guide page shows: run one and check every printed line is in the docs.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';

/** Run examples/<file> (simd binary) and assert each line it prints is shown in the README or a guide page; returns the lines. */
export function exampleShownInDocs(file: string): string[] {
  const root = new URL('../../', import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, encoding: 'utf8', env: { ...process.env, NATGRAD_VARIANT: 'simd' } });
  assert.is(r.status, 0, r.stderr);
  const guides = new URL('docs/guide/', root);
  const docs = [
    readFileSync(new URL('README.md', root), 'utf8'),
    ...readdirSync(guides)
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(new URL(f, guides), 'utf8')),
  ].join('\n');
  const lines = r.stdout.trim().split('\n');
  for (const line of lines) assert.ok(docs.includes(line), `the documentation shows: ${line}`);
  return lines;
}
