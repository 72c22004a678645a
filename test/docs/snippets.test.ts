// Every code block of the README and of the documentation pages (docs/**/*.md, not the generated
// docs/api/) does what the page says, following the snippet convention of the documentation:
//
// - ```js / ```ts blocks are complete programs: each is written to test-artifacts/snippets/ (inside
//   the repository, so `import 'natgrad'` resolves to this package's dist/ by package
//   self-reference) and run with Node (TypeScript through tsx), two at a time. It must exit with 0.
// - A ```text (or unlabelled) block right after a program is its expected stdout, compared line by
//   line after trimming trailing spaces; `…` inside an expected line matches any text.
// - `<!-- run: deno -->` on the line before: run with Deno (`deno run --allow-read`); without a
//   Deno binary it is skipped (a failure under CI=true).
// - `<!-- run: browser -->` before an ```html block: the page is served at `/` of a static server
//   whose root is the repository (so `./node_modules/natgrad/…` is this package, and `/dist/…`,
//   `/build/…`, `./node_modules/<dependency>/…` resolve), with the headers of cross-origin isolation,
//   and opened in headless Chromium: no console error, no failed request, no request to another
//   origin, and the scripts must change the page's text (its lines, blank ones dropped, compared
//   with a following ```text block when there is one). Skipped without Chromium (a failure under
//   CI=true).
// - `<!-- run: shell -->` before, or any ```sh / ```bash block: every command must be one the
//   project's own tests exercise — npm install / ci / pack / test / start, `npm run <script>` of
//   package.json, `npx natgrad <subcommand>` with options and choices its --help lists,
//   `node <file>` of the repository (or a file the page names), `deno run …`, `git clone …`, `cd`.
// - `<!-- run: fragment [file] -->`: every non-blank, non-comment line occurs in a program of the
//   same page that this test runs, or in the named file of the repository.
//
// The programs run once per `npm test` (test/all.mjs runs test/docs/ as its own suite; test/run.ts
// leaves it out of the per-variant suites), each as a user runs it, in this process's environment:
// init() picks the binary (relaxed SIMD; Node < 22 gets --experimental-wasm-relaxed-simd).
// The files stay in test-artifacts/snippets/ to rerun a failing one by hand.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';
import type { BrowserContext } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findChromium, launchOptions, setIsolationHeaders, CHROMIUM_HOW } from '../browser/chromium.mjs';
import { runProcess } from './process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const outDir = join(root, 'test-artifacts', 'snippets');
const ci = process.env.CI === 'true' || process.env.CI === '1';
const nodeMajor = Number(process.versions.node.split('.')[0]);
const relaxedFlag = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
/** A program that runs longer than this is killed (the convention asks for a few seconds). */
const TIMEOUT_MS = 60_000;
const CONCURRENCY = 2;

// ------------------------------------------------------------------------------------------ pages

/** README.md and docs/**\/*.md, without the generated API reference and VitePress' own folders. */
function pages(): string[] {
  const out = existsSync(join(root, 'README.md')) ? ['README.md'] : [];
  const docs = join(root, 'docs');
  if (!existsSync(docs)) return out;
  const skip = (rel: string) => rel.split('/').some((part) => part === 'node_modules' || part === '.vitepress') || rel.startsWith('api/');
  for (const f of readdirSync(docs, { recursive: true, encoding: 'utf8' }).sort()) {
    const rel = f.split(sep).join('/');
    if (rel.endsWith('.md') && !skip(rel)) out.push(`docs/${rel}`);
  }
  return out;
}

type Kind = 'node' | 'deno' | 'browser' | 'shell' | 'fragment' | 'invalid';
interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The file name VitePress shows as the block's title (```js [first.mjs]), if any. */
  title?: string;
  kind: Kind;
  /** The fragment's file, or why the block is invalid. */
  arg?: string;
  code: string;
  expected?: string[];
  id: string;
}

const RUNNABLE = new Set(['js', 'javascript', 'mjs', 'ts', 'typescript', 'mts']);
const SHELL = new Set(['sh', 'bash', 'shell', 'zsh']);
const isTs = (lang: string) => lang === 'ts' || lang === 'typescript' || lang === 'mts';

/** The code blocks of one page, classified by the convention. */
function blocks(page: string): Block[] {
  let src = readFileSync(join(root, page), 'utf8');
  // YAML front matter (VitePress): blanked, so that line numbers stay right.
  const fm = /^---\r?\n[\s\S]*?\r?\n---\r?\n/.exec(src);
  if (fm) src = fm[0].replace(/[^\n]/g, '') + src.slice(fm[0].length);
  const tokens = new MarkdownIt({ html: true }).parse(src, {});
  const slug = page
    .replace(/\.md$/, '')
    .replace(/^docs\//, '')
    .replace(/\W+/g, '-');
  const out: Block[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type !== 'fence') continue;
    const lang = (/^[\w-]*/.exec(t.info.trim())?.[0] ?? '').toLowerCase();
    const title = /\[([^\]]+)\]/.exec(t.info)?.[1];
    const prev = tokens[i - 1];
    const marker = prev?.type === 'html_block' ? /<!--\s*run:\s*([\w-]+)(?:\s+([^\s>]+))?\s*-->/.exec(prev.content) : null;
    const line = (t.map?.[0] ?? 0) + 1;
    const base = { page, line, lang, title, code: t.content, id: `${slug}-L${line}` };
    let kind: Kind | null = null;
    let arg: string | undefined;
    if (marker) {
      const m = marker[1]!;
      if (m === 'fragment') {
        kind = 'fragment';
        arg = marker[2];
      } else if (m === 'deno') {
        kind = RUNNABLE.has(lang) ? 'deno' : 'invalid';
        arg = `<!-- run: deno --> needs a js or ts block, not \`${lang}\``;
      } else if (m === 'browser') {
        kind = lang === 'html' ? 'browser' : 'invalid';
        arg = `<!-- run: browser --> needs an html block, not \`${lang}\``;
      } else if (m === 'shell') {
        kind = 'shell';
      } else if (m === 'node') {
        kind = RUNNABLE.has(lang) ? 'node' : 'invalid';
        arg = `<!-- run: node --> needs a js or ts block, not \`${lang}\``;
      } else {
        kind = 'invalid';
        arg = `unknown marker <!-- run: ${m} --> (node, deno, browser, shell or fragment)`;
      }
    } else if (RUNNABLE.has(lang)) kind = 'node';
    else if (SHELL.has(lang)) kind = 'shell';
    else if (lang === 'html' && /<script\b/i.test(t.content)) {
      kind = 'invalid';
      arg = 'an ```html block with a <script> needs <!-- run: browser --> (or <!-- run: fragment -->) on the line before it';
    }
    if (!kind) continue;
    const block: Block = { ...base, kind, arg: kind === 'invalid' || kind === 'fragment' ? arg : undefined };
    // The program's expected output: a ```text (or unlabelled) block right after it.
    const next = tokens[i + 1];
    if ((kind === 'node' || kind === 'deno' || kind === 'browser') && next?.type === 'fence') {
      const nextLang = (/^[\w-]*/.exec(next.info.trim())?.[0] ?? '').toLowerCase();
      if (nextLang === 'text' || nextLang === '') {
        block.expected = next.content.replace(/\n$/, '').split('\n');
        i++;
      }
    }
    out.push(block);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ output

const trimEnd = (s: string) => s.replace(/\s+$/, '');
function lineMatches(got: string, want: string): boolean {
  if (!want.includes('…')) return got === want;
  const re = new RegExp(
    `^${want
      .split('…')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(got);
}
/** null when stdout matches the expected lines, else what differs. */
function compareOutput(stdout: string, expected: string[]): string | null {
  const text = stdout.replace(/\r\n/g, '\n').replace(/\n+$/, '');
  const got = text === '' ? [] : text.split('\n').map(trimEnd);
  const want = expected.map(trimEnd);
  const diffs: string[] = [];
  for (let k = 0; k < Math.max(got.length, want.length); k++) {
    const g = got[k],
      w = want[k];
    if (g === undefined || w === undefined || !lineMatches(g, w)) diffs.push(`line ${k + 1}:\n    shown:   ${w ?? '(no line)'}\n    printed: ${g ?? '(no line)'}`);
  }
  return diffs.length ? `stdout differs from the page's output block (${got.length} lines printed, ${want.length} shown):\n  ${diffs.slice(0, 8).join('\n  ')}` : null;
}

// ------------------------------------------------------------------------------------------ runners

interface Outcome {
  /** null: passed; else the failure message. */
  error: string | null;
  seconds: number;
}

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();

function denoBinary(): { bin: string | null; why?: string } {
  try {
    const bin = require.resolve('deno/bin.cjs');
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 });
    return r.status === 0 ? { bin } : { bin: null, why: `the deno binary does not run (exit ${r.status})` };
  } catch {
    return { bin: null, why: 'the deno npm package is not installed (npm install)' };
  }
}

async function runProgram(b: Block): Promise<Outcome> {
  const t0 = Date.now();
  const file = join(outDir, `${b.id}.${isTs(b.lang) ? 'mts' : 'mjs'}`);
  writeFileSync(file, b.code);
  let r: Awaited<ReturnType<typeof runProcess>>;
  if (b.kind === 'deno') {
    r = await runProcess(process.execPath, [deno.bin!, 'run', '--allow-read', '--quiet', file], outDir, TIMEOUT_MS);
  } else {
    r = await runProcess(process.execPath, [...relaxedFlag, ...(isTs(b.lang) ? ['--import', 'tsx'] : []), file], outDir, TIMEOUT_MS);
  }
  const seconds = (Date.now() - t0) / 1000;
  const where = `(${relative(root, file)})`;
  if (r.timedOut) return { error: `killed after ${TIMEOUT_MS / 1000} s ${where}`, seconds };
  if (r.status !== 0) return { error: `exit ${r.status}${r.signal ? ` (${r.signal})` : ''} ${where}:\n${tail(r.stderr || r.stdout)}`, seconds };
  if (b.expected) {
    const diff = compareOutput(r.stdout, b.expected);
    if (diff) return { error: `${diff}\n  ${where}`, seconds };
  }
  return { error: null, seconds };
}

// The browser pages: one static server per page, the repository as its root and the page at `/`.
const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.html': 'text/html',
  '.css': 'text/css',
  '.csv': 'text/csv',
  '.svg': 'image/svg+xml',
};
/** A file of this package for a URL path, or null outside the repository. */
function packageFile(path: string): string | null {
  let p = decodeURIComponent(path.split(/[?#]/)[0]!);
  p = p.replace(/^\/node_modules\/natgrad(?=\/|$)/, '');
  const file = join(root, p);
  if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) return null;
  return file;
}
function serveBrowserPage(html: string): Promise<Server> {
  const server = createServer((req, res) => {
    setIsolationHeaders(res);
    const path = (req.url ?? '/').split(/[?#]/)[0]!;
    if (path === '/' || path === '/index.html') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(html);
      return;
    }
    const file = packageFile(path);
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', MIME[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The text a page shows before its scripts run. */
function staticText(html: string): string {
  const body = /<body[^>]*>([\s\S]*?)(<\/body>|$)/i.exec(html)?.[1] ?? html;
  return body
    .replace(/<(script|style|template)\b[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

async function runBrowser(b: Block, context: BrowserContext): Promise<Outcome> {
  const t0 = Date.now();
  const file = join(outDir, `${b.id}.html`);
  writeFileSync(file, b.code);
  const server = await serveBrowserPage(b.code);
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const page = await context.newPage();
  const errors: string[] = [];
  try {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    // The page may load only what this server has (the package, its dependencies).
    await page.route(
      (url) => url.origin !== origin,
      (route) => {
        errors.push(`request outside the page's origin: ${route.request().url()}`);
        return route.abort();
      },
    );
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: TIMEOUT_MS });
    const before = staticText(b.code);
    // Wait until the scripts changed the page's text and it stayed the same for a second (or it
    // equals the expected output).
    const deadline = Date.now() + TIMEOUT_MS;
    let text = '',
      changedAt = 0,
      last = '';
    for (;;) {
      text = ((await page.evaluate('document.body ? document.body.innerText : ""')) as string) ?? '';
      const norm = text.replace(/\s+/g, ' ').trim();
      if (norm !== last) {
        last = norm;
        changedAt = Date.now();
      }
      const changed = norm !== '' && norm !== before;
      if (
        changed &&
        b.expected &&
        compareOutput(
          pageLines(text),
          b.expected.filter((l) => l.trim() !== ''),
        ) === null
      )
        break;
      if (changed && Date.now() - changedAt > 1000) break;
      if ((errors.length && Date.now() - changedAt > 1000) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    const where = `(${relative(root, file)})`;
    if (errors.length) return { error: `${errors.join('\n  ')}\n  ${where}`, seconds };
    const norm = text.replace(/\s+/g, ' ').trim();
    if (norm === '' || norm === before)
      return { error: `the page's scripts did not change its text within ${TIMEOUT_MS / 1000} s (it shows: ${JSON.stringify(norm.slice(0, 200))}) ${where}`, seconds };
    if (b.expected) {
      const diff = compareOutput(
        pageLines(text),
        b.expected.filter((l) => l.trim() !== ''),
      );
      if (diff) return { error: `${diff.replace('stdout', "the page's text")}\n  ${where}`, seconds };
    }
    return { error: null, seconds };
  } finally {
    await page.close().catch(() => {});
    server.close();
    server.closeAllConnections();
  }
}
/** A page's text as lines, blank lines dropped. */
const pageLines = (text: string) =>
  text
    .split('\n')
    .map(trimEnd)
    .filter((l) => l.trim() !== '')
    .join('\n');

// ------------------------------------------------------------------------------------------ shell

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
let cliHelp: { commands: Map<string, string> } | null = null;
/** The `natgrad` command's subcommands and each one's --help text. */
function natgradCli(): { commands: Map<string, string> } {
  if (cliHelp) return cliHelp;
  const help = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'natgrad.mjs'), ...args, '--help'], { encoding: 'utf8', timeout: 60_000 }).stdout ?? '';
  const top = help([]);
  const section = /Commands:\n([\s\S]*?)(\n\S|$)/.exec(top)?.[1] ?? '';
  const commands = new Map<string, string>();
  for (const m of section.matchAll(/^ {2}(\w[\w-]*)/gm)) if (m[1] !== 'help') commands.set(m[1]!, help([m[1]!]));
  cliHelp = { commands };
  return cliHelp;
}

/** Words of a command line, quotes removed (no expansion). */
function words(cmd: string): string[] {
  return (cmd.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
}
/** Drop a trailing `# comment` outside quotes. */
function stripComment(line: string): string {
  let q: string | null = null;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (k === 0 || /\s/.test(line[k - 1]!))) return line.slice(0, k);
  }
  return line;
}

/** null when the command is one the project exercises, else why not. */
function checkCommand(cmd: string, page: string, pageText: string, pageTitles: Set<string>): string | null {
  let w = words(cmd);
  while (w.length && /^[A-Za-z_]\w*=/.test(w[0]!)) w = w.slice(1); // VAR=value prefixes
  const [c, sub, ...rest] = w;
  if (!c) return null;
  if (c === 'npm') {
    if (sub === 'install' || sub === 'i' || sub === 'ci' || sub === 'pack' || sub === 'test' || sub === 't') return null;
    if (sub === 'start') return pkg.scripts?.start ? null : 'package.json has no start script';
    if (sub === 'run' || sub === 'run-script') {
      const script = rest.find((x) => !x.startsWith('-'));
      if (!script) return null;
      return pkg.scripts?.[script] ? null : `package.json has no script "${script}" (scripts: ${Object.keys(pkg.scripts ?? {}).join(', ')})`;
    }
    return `npm ${sub ?? ''} is not a command the project's tests exercise`;
  }
  if (c === 'npx' && sub === 'natgrad') {
    const { commands } = natgradCli();
    const [name, ...args] = rest;
    if (!name || name === '--help' || name === '-h' || name === 'help') return null;
    const help = commands.get(name);
    if (help === undefined) return `natgrad has no subcommand "${name}" (it has: ${[...commands.keys()].join(', ')})`;
    const choices = /\(choices: ([^)]*)\)/.exec(help.replace(/\s+/g, ' '))?.[1];
    for (const a of args) {
      if (a.startsWith('--')) {
        const opt = a.split('=')[0]!;
        if (!new RegExp(`(^|\\s)${opt.replace(/[-]/g, '\\-')}(\\s|,|$)`, 'm').test(help)) return `natgrad ${name} has no option ${opt}`;
      }
    }
    const positional = args.filter((a, k) => !a.startsWith('-') && !(k > 0 && /^--[\w-]+$/.test(args[k - 1]!) && !/^--quick$/.test(args[k - 1]!)));
    if (choices && positional[0] && !choices.includes(`"${positional[0]}"`)) return `natgrad ${name}: "${positional[0]}" is not one of ${choices}`;
    return null;
  }
  if (c === 'node') {
    const withValue = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);
    let k = 1;
    while (k < w.length && w[k]!.startsWith('-')) k += withValue.has(w[k]!) ? 2 : 1;
    const file = w[k];
    if (!file) return 'node without a file';
    if (existsSync(join(root, file))) return null;
    const base = file.split('/').pop()!;
    if (pageTitles.has(base) || pageText.includes(`\`${base}\``)) return null;
    return `node ${file}: no such file in the repository, and ${page} does not name it (a block titled [${base}] or \`${base}\` in the text)`;
  }
  if (c === 'deno' && sub === 'run') return null;
  if (c === 'git' && sub === 'clone') return null;
  if (c === 'cd') return null;
  if (/^\.{0,2}\/|^\.ci\//.test(c) && existsSync(join(root, c))) return null; // a script of the repository, e.g. .ci/run
  return `\`${cmd}\` is not a command the project's tests exercise (npm install/ci/pack/test/start, npm run <script>, npx natgrad <subcommand>, node <file>, deno run, git clone, cd)`;
}

function checkShell(b: Block, pageText: string, pageTitles: Set<string>): string | null {
  const lines = b.code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) =>
      stripComment(l)
        .trim()
        .replace(/^\$\s+/, ''),
    )
    .filter(Boolean);
  const bad: string[] = [];
  for (const line of lines) {
    for (const cmd of line.split(/&&|\|\||;/)) {
      const why = checkCommand(cmd.trim(), b.page, pageText, pageTitles);
      if (why) bad.push(why);
    }
  }
  return bad.length ? bad.join('\n  ') : null;
}

// ------------------------------------------------------------------------------------------ fragments

const norm = (l: string) => l.trim().replace(/\s+/g, ' ');
/** The code of a line without a trailing `// comment` (when the `//` is outside quotes). */
function codeOf(line: string): string {
  let q: string | null = null;
  for (let k = 0; k < line.length - 1; k++) {
    const c = line[k]!;
    if (q) {
      if (c === '\\') k++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'" || c === '`') q = c;
    else if (c === '/' && line[k + 1] === '/' && (k === 0 || /\s/.test(line[k - 1]!))) return line.slice(0, k);
  }
  return line;
}
const isComment = (l: string) => /^(\/\/|\/\*|\*|#|<!--)/.test(l.trim());
function checkFragment(b: Block, programs: Block[]): string | null {
  const sources: string[] = programs.filter((p) => p !== b).map((p) => p.code);
  if (b.arg) {
    const f = join(root, b.arg);
    if (!existsSync(f)) return `<!-- run: fragment ${b.arg} -->: no such file in the repository`;
    sources.push(readFileSync(f, 'utf8'));
  }
  if (!sources.length) return 'a fragment, but the page runs no program (and names no file) it could come from';
  const haystack = sources
    .map((s) =>
      s
        .split('\n')
        .map((l) => norm(codeOf(l)))
        .join('\n'),
    )
    .join('\n');
  const missing = b.code
    .split('\n')
    .filter((l) => l.trim() !== '' && !isComment(l))
    .map((l) => norm(codeOf(l)))
    .filter((l) => l !== '' && !haystack.includes(l));
  return missing.length ? `lines found in no program of ${b.page}${b.arg ? ` nor in ${b.arg}` : ''}:\n  ${missing.slice(0, 8).join('\n  ')}` : null;
}

// ------------------------------------------------------------------------------------------ tests

const all = pages().flatMap(blocks);
const byPage = new Map<string, Block[]>();
for (const b of all) byPage.set(b.page, [...(byPage.get(b.page) ?? []), b]);
const programs = all.filter((b) => b.kind === 'node' || b.kind === 'deno');
const browserPages = all.filter((b) => b.kind === 'browser');
const outcomes = new Map<Block, Outcome>();
// What this machine lacks is known before the tests are defined, so that their blocks count as
// skipped (under CI=true they fail instead).
const deno = programs.some((b) => b.kind === 'deno') ? denoBinary() : { bin: null, why: 'not needed' };
const chromium: { path: string | null; why?: string } = browserPages.length ? findChromium() : { path: null, why: 'not needed' };
const unavailable = (b: Block): string | null => {
  if (b.kind === 'deno' && !deno.bin) return `no Deno: ${deno.why}`;
  if (b.kind === 'browser' && !chromium.path) return `no Chromium: ${chromium.why}; ${CHROMIUM_HOW}`;
  return null;
};
const label = (b: Block) => `${b.page}:${b.line} (${b.kind === 'invalid' ? 'block' : b.kind}${b.lang ? `, ${b.lang}` : ''}${b.expected ? ', output compared' : ''})`;

test.before(async () => {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` (npm install does)');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  // Two programs at a time.
  const queue = programs.filter((b) => !unavailable(b));
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) outcomes.set(b, await runProgram(b));
    }),
  );
  // The browser pages, one after another in one Chromium.
  if (browserPages.length && chromium.path) {
    const playwright = await import('playwright-core');
    const userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-snippets-'));
    const context = await playwright.chromium.launchPersistentContext(userDataDir, launchOptions(chromium.path));
    try {
      for (const b of browserPages) {
        try {
          outcomes.set(b, await runBrowser(b, context));
        } catch (e) {
          outcomes.set(b, { error: (e as Error).stack ?? String(e), seconds: 0 });
        }
      }
    } finally {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    }
  }
});

test('the README and the documentation pages have code blocks', () => {
  assert.ok(all.length > 0, `no code blocks in ${pages().join(', ')}`);
  const counts = [...byPage].map(([p, bs]) => `${p}: ${bs.length}`).join(', ');
  console.log(`  snippets: ${all.length} blocks (${programs.length} programs, ${browserPages.length} browser pages) — ${counts}`);
  const slowest = [...outcomes]
    .sort((a, b) => b[1].seconds - a[1].seconds)
    .slice(0, 3)
    .map(([b, o]) => `${b.page}:${b.line} ${o.seconds.toFixed(1)} s`);
  if (slowest.length) console.log(`  slowest: ${slowest.join(', ')}`);
});

for (const b of all) {
  const missing = unavailable(b);
  if (missing && ci) {
    test(label(b), () => assert.unreachable(`${label(b)}: ${missing} (required under CI)`));
  } else if (missing) {
    console.log(`  skipped ${label(b)}: ${missing}`);
    test.skip(label(b));
  } else if (b.kind === 'node' || b.kind === 'deno' || b.kind === 'browser') {
    test(label(b), () => {
      const o = outcomes.get(b);
      assert.ok(o, 'did not run');
      if (o.error) assert.unreachable(`${label(b)}: ${o.error}`);
      if (o.seconds > 10) console.log(`  note: ${label(b)} took ${o.seconds.toFixed(1)} s (the convention asks for a few seconds)`);
    });
  } else if (b.kind === 'shell') {
    test(label(b), () => {
      const pageBlocks = byPage.get(b.page) ?? [];
      const text = readFileSync(join(root, b.page), 'utf8');
      const titles = new Set(pageBlocks.map((x) => x.title).filter((x): x is string => !!x));
      const why = checkShell(b, text, titles);
      if (why) assert.unreachable(`${label(b)}:\n  ${why}`);
    });
  } else if (b.kind === 'fragment') {
    test(label(b), () => {
      const run = (byPage.get(b.page) ?? []).filter((x) => x.kind === 'node' || x.kind === 'deno' || x.kind === 'browser');
      const why = checkFragment(b, run);
      if (why) assert.unreachable(`${label(b)}: ${why}`);
    });
  } else {
    test(label(b), () => {
      assert.unreachable(`${label(b)}: ${b.arg}`);
    });
  }
}

test.run();
