// Refreshes the screenshots of the interactive page in the docs (`npm run screenshots`):
//
//   docs/web-screenshot.png  the header, all five tabs, the Fig. 1 controls and panels (1280 px wide)
//   docs/web-network.png     tab 4 (a network) with its defaults after 150 iterations
//
//   node tools/screenshots.mjs [--no-build]
//
// Builds the page with Vite (web/dist), serves it on 127.0.0.1 with the COOP/COEP headers (so it
// runs on threads, as a static host with those headers would), and takes the screenshots in
// headless Chromium (playwright-core; Chromium from $CHROMIUM_PATH or the system, see
// test/browser/chromium.mjs). Exits 1 when a screenshot cannot be taken or does not show what it
// should (five tabs, a finished network run).
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_HOW, findChromium, launchOptions, setIsolationHeaders } from '../test/browser/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'web', 'dist');
const docs = join(root, 'docs');
const WIDTH = 1280;

function fail(message) {
  console.error(`screenshots: ${message}`);
  process.exitCode = 1;
}

const chromium = findChromium();
if (!chromium.path) {
  fail(`no Chromium (${chromium.why}); ${CHROMIUM_HOW}`);
} else {
  let server, context, userDataDir;
  try {
    if (!process.argv.includes('--no-build') || !existsSync(join(dist, 'index.html'))) {
      const t = Date.now();
      const { build } = await import('vite');
      await build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'error' });
      console.log(`built web/dist in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    const { default: sirv } = await import('sirv');
    const serve = sirv(dist, { dev: false });
    server = createServer((req, res) => {
      setIsolationHeaders(res);
      serve(req, res, () => {
        res.statusCode = 404;
        res.end('not found');
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${server.address().port}`;
    const { chromium: browser } = await import('playwright-core');
    userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-screenshots-'));
    context = await browser.launchPersistentContext(userDataDir, { ...launchOptions(chromium.path), viewport: { width: WIDTH, height: 860 }, deviceScaleFactor: 1 });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    mkdirSync(docs, { recursive: true });

    // ---------------------------------------------------------------- the page: tabs and Fig. 1
    await page.goto(`${origin}/#fields`, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForSelector('#view-fields[data-ready="true"]');
    await page.mouse.move(0, 0);
    const panels = await page.locator('#view-fields .panels').boundingBox();
    const height = Math.ceil(panels.y + panels.height + 4);
    // every tab of the page must be inside the picture
    const tabs = await page.locator('nav.tabs a').evaluateAll((els) => els.map((a) => ({ text: a.textContent.trim(), box: a.getBoundingClientRect().toJSON() })));
    const outside = tabs.filter((t) => t.box.right > WIDTH || t.box.bottom > height || t.box.width === 0);
    if (tabs.length !== 5 || outside.length) throw new Error(`tabs ${JSON.stringify(tabs.map((t) => t.text))}, outside the picture: ${outside.map((t) => t.text).join(', ')}`);
    const shot = join(docs, 'web-screenshot.png');
    await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: WIDTH, height }, fullPage: true });
    console.log(`wrote docs/web-screenshot.png (${WIDTH} × ${height}, ${(statSync(shot).size / 1024).toFixed(0)} KB; tabs: ${tabs.map((t) => t.text).join(' | ')})`);

    // ---------------------------------------------------------------- tab 4: the network
    const net = '#view-network';
    await page.click('a[data-tab="network"]');
    await page.waitForSelector(`${net}[data-generation]`);
    // the defaults (two moons), each run past 150 iterations (or stopped)
    await page.waitForFunction(
      (sel) => {
        const el = document.querySelector(sel);
        const L = JSON.parse(el.dataset.losses ?? '{}'),
          S = JSON.parse(el.dataset.status ?? '{}');
        const names = Object.keys(L);
        return names.length === 4 && names.every((n) => L[n].length > 150 || S[n] !== 'running');
      },
      net,
      { timeout: 120_000 },
    );
    await page.waitForTimeout(300);
    await page.evaluate(() => document.activeElement?.blur());
    await page.mouse.move(0, 0);
    const bottom = await page.$eval(`${net} .nn-loss`, (el) => el.getBoundingClientRect().bottom + window.scrollY);
    const netShot = join(docs, 'web-network.png');
    await page.screenshot({ path: netShot, clip: { x: 0, y: 0, width: WIDTH, height: Math.ceil(bottom + 8) }, fullPage: true });
    console.log(`wrote docs/web-network.png (${WIDTH} × ${Math.ceil(bottom + 8)}, ${(statSync(netShot).size / 1024).toFixed(0)} KB)`);
    if (errors.length) throw new Error(`errors in the page: ${errors.join(' | ')}`);
  } catch (e) {
    fail(e?.stack ?? String(e));
  } finally {
    await context?.close().catch(() => {});
    server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }
}
