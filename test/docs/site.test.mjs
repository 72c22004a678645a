// The documentation site (VitePress, docs/) builds and works in a browser.
//
//   node test/docs/site.test.mjs [--no-build]
//
// Builds the site with `npm run docs` (the TypeDoc API reference as markdown into docs/api/, then
// VitePress into docs/.vitepress/dist/; --no-build reuses an existing build), serves the built
// files from a static server (sirv) on 127.0.0.1 and checks:
// - no internal link is broken and every page is linked from somewhere: linkinator crawls the site from its home page (pages, images,
//   scripts, styles, url(…) in CSS, and #anchors, which must name a heading of their page; links
//   to other sites are not followed — the test needs no network);
// - in headless Chromium (playwright-core): the home page, a guide page and the API pages of
//   `ngd`, `problem`, `mlp` and `cg` load without a console error, a failed request or a request
//   to another origin; each API page shows its formula (math in its text) and an example code
//   block that calls the function.
// Screenshots go to test-artifacts/docs-*.png.
//
// Chromium: see test/browser/chromium.mjs (test/all.mjs skips this suite when there is none).
// Prints a JSON summary {"passed":N,"failed":M,...} as its last line and writes it to
// $NATGRAD_TEST_SUMMARY if set.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_HOW, findChromium, launchOptions } from '../browser/chromium.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'docs', '.vitepress', 'dist');
const apiSrc = join(root, 'docs', 'api');
const artifacts = join(root, 'test-artifacts');
const argv = new Set(process.argv.slice(2));
const started = Date.now();
/** The API pages checked in the browser: the optimizer, the problem, a model and a solver. */
const API_PAGES = ['ngd', 'problem', 'mlp', 'cg'];
/** Math in a page's text: Greek letters, operators, super- and subscripts, or ` = ` between terms. */
const FORMULA = /[θλγσΣ∑∇ᵀ⁻¹²⊗≈‖∂√κ×·≤≥∈]|\s=\s/;

let passed = 0,
  failed = 0;
function report(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? '✓' : '✗'} ${name}${detail ? ` — ${detail}` : ''}`);
}
async function check(name, fn) {
  try {
    const detail = await fn();
    report(name, true, typeof detail === 'string' ? detail : '');
  } catch (e) {
    report(name, false, e?.message ?? String(e));
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function finish() {
  const summary = { passed, failed, skipped: 0, total: passed + failed };
  if (process.env.NATGRAD_TEST_SUMMARY) writeFileSync(process.env.NATGRAD_TEST_SUMMARY, JSON.stringify(summary));
  console.log(`docs site: ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
  process.exitCode = failed ? 1 : 0;
}
const tail = (s, n = 2000) => (s.length > n ? `…${s.slice(-n)}` : s).trim();
/** Files under `dir` (relative, with `/`), recursively. */
const filesUnder = (dir) => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => f.split(sep).join('/')) : []);

let server, context, userDataDir;
try {
  // ------------------------------------------------------------------ build
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (!argv.has('--no-build') || !existsSync(join(dist, 'index.html'))) {
    await check('`npm run docs` builds the site into docs/.vitepress/dist', () => {
      assert(pkg.scripts?.docs, 'package.json has no "docs" script');
      const t = Date.now();
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const r = spawnSync(npm, ['run', '--silent', 'docs'], { cwd: root, encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } });
      assert(r.status === 0, `npm run docs (${pkg.scripts.docs}) exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${tail(`${r.stdout}\n${r.stderr}`)}`);
      assert(existsSync(join(dist, 'index.html')), `npm run docs (${pkg.scripts.docs}) wrote no docs/.vitepress/dist/index.html`);
      return `${((Date.now() - t) / 1000).toFixed(1)} s`;
    });
  }
  assert(existsSync(join(dist, 'index.html')), 'no built site (docs/.vitepress/dist/index.html): nothing to check');
  const html = filesUnder(dist).filter((f) => f.endsWith('.html'));

  // ------------------------------------------------------------------ serve
  const { default: sirv } = await import('sirv');
  const serve = sirv(dist, { dev: true, extensions: ['html'] });
  server = createServer((req, res) =>
    serve(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    }),
  );
  // Keep idle connections open longer than Node's 5 s default: the crawl reuses them, and a socket
  // closed by the server just as the client reuses it fails the fetch ("fetch failed").
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  // ------------------------------------------------------------------ links
  await check('no broken internal link, no page linked from nowhere (linkinator, from the home page)', async () => {
    const { LinkChecker } = await import('linkinator');
    const checker = new LinkChecker();
    const result = await checker.check({
      path: `${origin}/`,
      recurse: true,
      concurrency: 8,
      timeout: 20_000,
      // `#anchor` links must name a heading of their page; url(…) in the CSS must load.
      checkFragments: true,
      checkCss: true,
      // Other sites are not checked (no network in the tests); the crawl stays on this server.
      linksToSkip: async (url) => !url.startsWith(origin),
    });
    const links = result.links.filter((l) => l.state !== 'SKIPPED');
    const broken = links.filter((l) => l.state === 'BROKEN');
    const pages = new Set(links.filter((l) => l.state === 'OK').map((l) => new URL(l.url).pathname));
    assert(
      broken.length === 0,
      `${broken.length} broken: ${broken
        .slice(0, 20)
        .map((l) => `${l.url.replace(origin, '')} (${l.status}) on ${(l.parent ?? '?').replace(origin, '')}`)
        .join('; ')}`,
    );
    // Every built page is reachable from the home page (no orphan; and a site whose navigation
    // links nothing would otherwise pass vacuously).
    const reached = (f) => pages.has(`/${f}`) || pages.has(`/${f.replace(/\.html$/, '')}`) || (f.endsWith('index.html') && pages.has(`/${f.slice(0, -'index.html'.length)}`));
    const orphans = html.filter((f) => f !== '404.html' && !reached(f));
    assert(orphans.length === 0, `${orphans.length} built pages are linked from nowhere: ${orphans.slice(0, 20).join(', ')}`);
    return `${links.length} links checked, ${html.length - 1} pages reached`;
  });

  // ------------------------------------------------------------------ browser
  const chromium = findChromium();
  assert(chromium.path, `no Chromium: ${chromium.why} (${CHROMIUM_HOW})`);
  const playwright = await import('playwright-core');
  userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-docs-'));
  context = await playwright.chromium.launchPersistentContext(userDataDir, { ...launchOptions(chromium.path), viewport: { width: 1280, height: 900 } });
  mkdirSync(artifacts, { recursive: true });

  /** Open `path`; returns the page and what went wrong while loading it. */
  async function open(path, shot) {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const errors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.route(
      (url) => url.origin !== origin,
      (route) => {
        errors.push(`request to another origin: ${route.request().url()}`);
        return route.abort();
      },
    );
    await page.goto(`${origin}${path}`, { waitUntil: 'networkidle' });
    await page.waitForSelector('#app .VPContent, #app main', { timeout: 30_000 });
    if (shot) await page.screenshot({ path: join(artifacts, `docs-${shot}.png`), fullPage: false });
    return { page, errors };
  }
  const noErrors = (errors) => assert(errors.length === 0, errors.slice(0, 10).join(' | '));

  await check('home page: renders, no console error, links to the guide and the API', async () => {
    const { page, errors } = await open('/', 'home');
    try {
      const text = (await page.locator('.VPContent, main').first().textContent()).trim();
      assert(text.length > 100, `home page text: ${JSON.stringify(text.slice(0, 200))}`);
      const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert(
        hrefs.some((h) => /(^|\/)guide\//.test(h)),
        `no link to a guide page (links: ${hrefs.slice(0, 20).join(', ')})`,
      );
      assert(
        hrefs.some((h) => /(^|\/)api\//.test(h)),
        `no link to the API reference (links: ${hrefs.slice(0, 20).join(', ')})`,
      );
      noErrors(errors);
      return `${JSON.stringify(text.replace(/\s+/g, ' ').slice(0, 80))}…, ${hrefs.length} links`;
    } finally {
      await page.close();
    }
  });

  const guides = html.filter((f) => f.startsWith('guide/'));
  const guide = guides.includes('guide/getting-started.html') ? 'guide/getting-started.html' : guides[0];
  await check(`a guide page (${guide ?? 'none'}): renders with a heading and code, no console error`, async () => {
    assert(guide, `the build has no guide/ pages (pages: ${html.slice(0, 20).join(', ')})`);
    const { page, errors } = await open(`/${guide}`, 'guide');
    try {
      const h1 = (await page.locator('.vp-doc h1').first().textContent()).trim();
      assert(h1.length > 0, 'no h1');
      const code = await page.locator('.vp-doc div[class*="language-"] pre').count();
      assert(code > 0, 'no code block');
      const sidebar = await page.locator('.VPSidebar a[href]').count();
      assert(sidebar > 0, 'no sidebar links');
      noErrors(errors);
      return `"${h1.replace(/\s*\u200b?\s*$/, '')}", ${code} code blocks, ${sidebar} sidebar links`;
    } finally {
      await page.close();
    }
  });

  // The API pages: the markdown TypeDoc wrote under docs/api/, built into dist/api/.
  const apiMd = filesUnder(apiSrc).filter((f) => f.endsWith('.md'));
  for (const name of API_PAGES) {
    await check(`API page of ${name}(): its formula and an example that calls it, no console error`, async () => {
      const candidates = apiMd.filter((f) => f.split('/').pop() === `${name}.md`);
      const md = candidates.find((f) => /(^|\/)functions\//.test(f)) ?? candidates[0];
      assert(md, `no ${name}.md under docs/api/ (${apiMd.length} API pages)`);
      const built = `api/${md.replace(/\.md$/, '.html')}`;
      assert(existsSync(join(dist, built)), `docs/api/${md} was not built into docs/.vitepress/dist/${built}`);
      const { page, errors } = await open(`/${built}`, `api-${name}`);
      try {
        const h1 = (await page.locator('.vp-doc h1').first().textContent()).trim();
        assert(h1.includes(name), `h1 "${h1}"`);
        // Prose and tables, without code blocks: the formula is stated in words and symbols.
        const prose = await page.locator('.vp-doc').evaluate((el) => {
          const copy = el.cloneNode(true);
          for (const pre of copy.querySelectorAll('div[class*="language-"], pre')) pre.remove();
          return copy.textContent ?? '';
        });
        const math = (await page.locator('.vp-doc .katex, .vp-doc mjx-container, .vp-doc math').count()) > 0;
        const formula = FORMULA.exec(prose);
        assert(math || formula, `no formula in the page's text: ${JSON.stringify(prose.slice(0, 300))}`);
        // An "Example" heading followed by a code block that calls the function.
        const examples = await page.locator('.vp-doc').evaluate((el, fn) => {
          const out = [];
          for (const h of el.querySelectorAll('h2, h3, h4, h5')) {
            if (!/^examples?$/i.test((h.textContent ?? '').replace(/[^\w]/g, ''))) continue;
            for (let s = h.nextElementSibling; s && !/^H[1-5]$/.test(s.tagName); s = s.nextElementSibling) {
              const pre = s.matches('pre') ? s : s.querySelector('pre');
              if (pre && (pre.textContent ?? '').includes(`${fn}(`)) out.push(pre.textContent);
            }
          }
          return out;
        }, name);
        assert(examples.length > 0, `no "Example" section with a code block calling ${name}(`);
        noErrors(errors);
        const call = examples[0].split('\n').find((l) => l.includes(`${name}(`));
        return `/${built}: ${math ? 'rendered math' : `"${formula[0].trim() || '='}" in the text`}, example: ${JSON.stringify(call.trim().slice(0, 100))}`;
      } finally {
        await page.close();
      }
    });
  }
} catch (e) {
  report('docs site test harness', false, e?.stack ?? String(e));
} finally {
  await context?.close().catch(() => {});
  server?.close();
  server?.closeAllConnections();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  finish();
}
