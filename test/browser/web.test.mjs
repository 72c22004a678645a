// End-to-end test of the interactive page (web/) in headless Chromium, driven by playwright-core.
//
//   node test/browser/web.test.mjs [--no-build] [--readme-screenshot]
//
// Builds the page with Vite (web/dist), serves the built files from a static server (sirv) on
// 127.0.0.1, and checks in a real browser: no console errors, no request leaves the page's own
// origin, the WASM variant is reported (relaxed-simd in current Chromium) and its binary was
// loaded from the build output, a drag on the Fig. 1 view recomputes the NGD and EF
// trajectories, moving θ in Fig. 2 moves the EF model but not the Fisher one (linear regression),
// and the Fig. 3 race gives decreasing NGD losses. Screenshots of the three views go to
// test-artifacts/web-*.png; --readme-screenshot also writes docs/web-screenshot.png.
//
// Chromium: $CHROMIUM_PATH, else chromium / chromium-browser / google-chrome on PATH, else
// /usr/bin/chromium (see chromium.mjs; test/all.mjs skips this test when there is none). Prints a JSON summary
// {"passed":N,"failed":M,...} as its last line and writes it to $NATGRAD_TEST_SUMMARY if set.
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_HOW, findChromium, launchOptions } from './chromium.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'web', 'dist');
const artifacts = join(root, 'test-artifacts');
const chromium = findChromium();
const executablePath = chromium.path;
const argv = new Set(process.argv.slice(2));
const started = Date.now();

const results = [];
let failed = 0, passed = 0;
function report(name, ok, detail = '') {
  results.push({ name, ok, detail });
  if (ok) passed++; else failed++;
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
  console.log(`web (chromium): ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
  process.exitCode = failed ? 1 : 0;
}

let server, context, userDataDir;
try {
  // ------------------------------------------------------------------ build
  if (!argv.has('--no-build') || !existsSync(join(dist, 'index.html'))) {
    const t = Date.now();
    const { build } = await import('vite');
    await build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'error' });
    console.log(`built web/dist in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const { readdirSync } = await import('node:fs');
  const assets = readdirSync(join(dist, 'assets'));
  await check('build output contains both WASM binaries', () => {
    const wasm = assets.filter((f) => f.endsWith('.wasm'));
    assert(wasm.some((f) => f.startsWith('natgrad.relaxed')) && wasm.some((f) => f.startsWith('natgrad.simd')), `assets: ${assets.join(', ')}`);
    return wasm.join(', ');
  });

  // ------------------------------------------------------------------ serve
  const { default: sirv } = await import('sirv');
  const serve = sirv(dist, { dev: false, etag: true });
  server = createServer((req, res) => serve(req, res, () => { res.statusCode = 404; res.end('not found'); }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  // ------------------------------------------------------------------ browser
  assert(executablePath, `no Chromium: ${chromium.why} (${CHROMIUM_HOW})`);
  const playwright = await import('playwright-core');
  userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-chromium-'));
  context = await playwright.chromium.launchPersistentContext(userDataDir, {
    ...launchOptions(executablePath),
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const consoleErrors = [];
  const foreign = [];
  const wasmResponses = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => { const u = r.url(); if (!u.startsWith(origin) && !u.startsWith('data:')) foreign.push(u); });
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasmResponses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] }); });
  mkdirSync(artifacts, { recursive: true });

  await page.goto(`${origin}/#fields`, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready="true"]');

  await check('reports the WASM variant (relaxed-simd)', async () => {
    const variant = await page.getAttribute('#status', 'data-variant');
    const text = await page.textContent('#status-text');
    assert(variant === 'relaxed-simd', `data-variant=${variant}: ${text}`);
    return text.trim();
  });
  await check('loaded the relaxed binary from the build output', () => {
    const hit = wasmResponses.find((r) => /natgrad\.relaxed-[\w-]+\.wasm$/.test(r.url));
    assert(hit && hit.status === 200, `wasm responses: ${JSON.stringify(wasmResponses)}`);
    return `${hit.url.slice(origin.length)} (${hit.type})`;
  });

  // ------------------------------------------------------------------ Fig. 1
  const fields = '#view-fields';
  const ready = (sel) => page.waitForSelector(`${sel}[data-ready="true"]`, { timeout: 60_000 });
  await ready(fields);
  await check('Fig. 1: drag moves the start and recomputes the NGD and EF trajectories', async () => {
    const before = JSON.parse(await page.getAttribute(fields, 'data-trajectories'));
    const box = await page.locator(`${fields} figure[data-field="NGD"] svg`).first().boundingBox();
    assert(box, 'no NGD panel');
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.75, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el.dataset.ready === 'true' && el.dataset.start !== '2,4.5';
    }, fields, { timeout: 60_000 });
    await ready(fields);
    const after = JSON.parse(await page.getAttribute(fields, 'data-trajectories'));
    for (const f of ['NGD', 'EF']) {
      const b = before[f], a = after[f];
      assert(a.start[0] !== b.start[0] || a.start[1] !== b.start[1], `${f}: start did not move`);
      assert(a.mid[0] !== b.mid[0] || a.mid[1] !== b.mid[1], `${f}: trajectory unchanged`);
      assert(a.points > 2 && a.steps === 49_999, `${f}: ${a.points} points, ${a.steps} steps (the paper: 49,999)`);
      assert(a.status === 'done', `${f}: ${a.status}`);
    }
    // The drag went down and to the right: the start is now lower in θ₁ and larger in θ₀.
    assert(after.NGD.start[1] < before.NGD.start[1], `start ${after.NGD.start}`);
    return `start (${after.NGD.start.map((v) => v.toFixed(2))}), NGD → (${after.NGD.end.map((v) => v.toFixed(3))}), EF mid-point (${before.EF.mid.map((v) => v.toFixed(2))}) → (${after.EF.mid.map((v) => v.toFixed(2))})`;
  });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(artifacts, 'web-fields.png'), fullPage: true });
  if (argv.has('--readme-screenshot')) {
    mkdirSync(join(root, 'docs'), { recursive: true });
    const out = join(root, 'docs', 'web-screenshot.png');
    // Header, controls and the four Fig. 1 panels (to the bottom of the panel row).
    const panels = await page.locator(`${fields} .panels`).boundingBox();
    const height = Math.ceil(panels.y + panels.height + 4);
    await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height }, fullPage: true });
    console.log(`wrote docs/web-screenshot.png (${(statSync(out).size / 1024).toFixed(0)} KB)`);
  }

  // ------------------------------------------------------------------ Fig. 2
  const mis = '#view-misspecification';
  await page.click('a[data-tab="misspecification"]');
  await ready(mis);
  await check('Fig. 2: moving θ moves the EF model, not the Fisher one (linear regression)', async () => {
    await page.selectOption('#f2-set', 'linregMissNoise');
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.ready === 'true', mis);
    const get = async () => ({
      star: (await page.getAttribute(mis, 'data-theta-star')).split(',').map(Number),
      fisher: (await page.getAttribute(mis, 'data-fisher-centre')).split(',').map(Number),
      ef: (await page.getAttribute(mis, 'data-ef-centre')).split(',').map(Number),
    });
    const at = await get();
    await page.$eval('#f2-distance', (el) => { el.value = '0.6'; el.dispatchEvent(new Event('input', { bubbles: true })); });
    const moved = await get();
    const near = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]) < 1e-6 * (1 + Math.hypot(...b));
    assert(near(at.fisher, at.star) && near(at.ef, at.star), 'at θ* both models should be centred at θ*');
    assert(near(moved.fisher, moved.star), `Fisher centre moved: ${moved.fisher} vs θ* ${moved.star}`);
    assert(!near(moved.ef, moved.star), `EF centre did not move: ${moved.ef}`);
    const count = await page.locator(`${mis} path.ellipse-fisher, ${mis} path.ellipse-ef`).count();
    assert(count === 2, `${count} ellipses drawn`);
    return `EF centre (${moved.ef.map((v) => v.toFixed(3))}), θ* (${moved.star.map((v) => v.toFixed(3))})`;
  });
  await page.selectOption('#f2-set', 'misspecifiedA');
  await page.$eval('#f2-distance', (el) => { el.value = '0.8'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.waitForTimeout(100);
  await page.screenshot({ path: join(artifacts, 'web-misspecification.png'), fullPage: true });

  // ------------------------------------------------------------------ Fig. 3
  const race = '#view-race';
  await page.click('a[data-tab="race"]');
  await check('Fig. 3: the race runs 100 iterations and NGD\u2019s loss decreases', async () => {
    await page.waitForSelector(`${race}[data-state="done"]`, { timeout: 60_000 });
    const losses = JSON.parse(await page.getAttribute(race, 'data-losses'));
    const cos = JSON.parse(await page.getAttribute(race, 'data-cosines'));
    const ngd = losses.NGD;
    assert(ngd.length === 101, `NGD ran ${ngd.length - 1} iterations`);
    let ups = 0;
    for (let k = 1; k < ngd.length; k++) if (ngd[k] > ngd[k - 1] * (1 + 1e-12)) ups++;
    assert(ups === 0, `NGD loss went up ${ups} times`);
    assert(ngd.at(-1) < 0.2 * ngd[0], `NGD loss ${ngd[0]} → ${ngd.at(-1)}`);
    assert(cos.length > 0 && cos.every((c) => c >= -1 && c <= 1), 'cosines');
    return `NGD ${ngd[0].toFixed(4)} → ${ngd.at(-1).toExponential(3)}, GD → ${losses.GD.at(-1).toExponential(3)}, EFGD → ${losses.EFGD.at(-1).toExponential(3)}`;
  });
  const reproduces = async (set) => {
    const expected = JSON.parse((await page.getAttribute(race, 'data-expected')) ?? 'null');
    assert(expected, `the ${set} race did not run with the default γ, λ`);
    const losses = JSON.parse(await page.getAttribute(race, 'data-losses'));
    const out = [];
    // GD and NGD are stable at their best (γ, λ): their losses are reproducible to rounding. The
    // best EFGD run on BreastCancer is chaotic (λ = 1e-10): its last loss moves with the last bit
    // of any kernel (relaxed vs plain SIMD end 70 % apart), so it is reported, not compared.
    for (const [name, want] of Object.entries(expected)) {
      const got = losses[name].at(-1);
      if (name !== 'EFGD') assert(Math.abs(got - want) <= 1e-6 * Math.abs(want), `${set} ${name}: ${got} vs ${want}`);
      out.push(`${name} ${got.toExponential(4)}${name === 'EFGD' ? ` (search: ${want.toExponential(4)})` : ''}`);
    }
    return `${set}: ${out.join(', ')}`;
  };
  await check('Fig. 3: BreastCancer defaults reproduce the grid search (GD, NGD)', () => reproduces('BreastCancer'));
  await page.screenshot({ path: join(artifacts, 'web-race.png'), fullPage: true });
  await check('Fig. 3: Wine defaults reproduce the grid search (GD, NGD)', async () => {
    await page.selectOption('#f3-set', 'Wine');
    await page.waitForSelector(`${race}[data-state="done"]`, { timeout: 60_000 });
    return reproduces('Wine');
  });

  // ------------------------------------------------------------------ global checks
  await check('no console errors', () => { assert(consoleErrors.length === 0, consoleErrors.join(' | ')); });
  await check('no request outside the page\u2019s own origin', () => { assert(foreign.length === 0, foreign.join(', ')); });
} catch (e) {
  report('web page test harness', false, e?.stack ?? String(e));
} finally {
  await context?.close().catch(() => {});
  server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  finish();
}
