// Measures the network tab's mean step time per optimizer (Runner.ms / steps, the "per step" column)
// in float32 and float64, in headless Chromium:
//
//   node tools/network-precision.mjs [--no-build] [--iterations=500] [--repeats=3] [--wide='64,64;256,256']
//
// Builds the page with Vite (web/dist) unless --no-build, serves it on 127.0.0.1 with the COOP/COEP
// headers (so it runs on threads, as test/browser/web.test.mjs does), opens tab 4 and, for each
// hidden-layer choice (16 · 16, the default, and 24 · 24, the largest), each NGD solver (CG, the
// default, and dense Cholesky) and each precision, restarts training on the default data (two moons,
// N = 200, tanh) and reads the mean step times once the run is done. --wide adds hidden-layer
// choices the tab does not offer (<option>s added to its select; default 64 · 64 and 256 · 256),
// run with CG only (a dense Fisher of D ≈ 4,500 or more does not fit a frame). Each configuration runs
// `repeats` times in turn; the table shows the median of the repeats. Every run, NGD with dense
// Cholesky included, trains in the selected precision (the page's data-dtype is checked).
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_HOW, findChromium, launchOptions, setIsolationHeaders } from '../test/browser/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'web', 'dist');
const arg = (name, fallback) => {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const iterations = arg('iterations', 500);
const repeats = arg('repeats', 3);
const wide = (process.argv.find((s) => s.startsWith('--wide='))?.slice(7) ?? '64,64;256,256').split(';').filter(Boolean);
for (const w of wide) if (!/^\d+(,\d+)*$/.test(w)) throw new RangeError(`--wide must be hidden widths like 64,64;256,256, got ${w}`);
if (!['200', '500', '2000'].includes(String(iterations))) throw new RangeError(`--iterations must be one of the tab's choices 200, 500, 2000, got ${iterations}`);

const chromium = findChromium();
if (!chromium.path) {
  console.error(`network-precision: no Chromium (${chromium.why}); ${CHROMIUM_HOW}`);
  process.exit(1);
}
let server, context, userDataDir;
try {
  if (!process.argv.includes('--no-build') || !existsSync(join(dist, 'index.html'))) {
    const { build } = await import('vite');
    await build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'error' });
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
  userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-precision-'));
  context = await browser.launchPersistentContext(userDataDir, { ...launchOptions(chromium.path), viewport: { width: 1280, height: 860 } });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(600_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/#network`, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready="true"]');
  const net = '#view-network';
  await page.waitForSelector(`${net}[data-generation]`);
  const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
  const status = (await page.textContent('#status-text')).trim();
  await page.$eval(
    '#nn-arch',
    (sel, vs) => {
      for (const v of vs) if (![...sel.options].some((o) => o.value === v)) sel.append(new Option(v.replaceAll(',', ' · '), v));
    },
    wide,
  );
  await page.selectOption('#nn-speed', '5');
  await page.selectOption('#nn-iterations', String(iterations));

  /** One run of a configuration: mean ms per step of each optimizer (and their statuses). */
  async function run(arch, solver, dtype) {
    for (const [sel, v] of [
      ['#nn-arch', arch],
      ['#nn-solver', solver],
      ['#nn-dtype', dtype],
    ]) {
      if ((await page.inputValue(sel)) !== v) await page.selectOption(sel, v);
    }
    const gen = Number(await page.getAttribute(net, 'data-generation'));
    await page.click('#nn-reset');
    await page.waitForFunction(
      ([sel, g, k]) => {
        const el = document.querySelector(sel);
        if (Number(el.dataset.generation) <= g || el.dataset.state !== 'done') return false;
        const S = JSON.parse(el.dataset.status ?? '{}');
        const L = JSON.parse(el.dataset.losses ?? '{}');
        return Object.keys(S).length === 4 && Object.keys(S).every((n) => S[n] !== 'running' && (S[n] !== 'done' || L[n].length > k));
      },
      [net, gen, iterations],
    );
    const read = async (n) => JSON.parse(await page.getAttribute(net, `data-${n}`));
    const ran = await page.getAttribute(net, 'data-dtype');
    if (ran !== dtype) throw new Error(`network-precision: asked for ${dtype}, the page's model is ${ran}`);
    return { ms: await read('step-ms'), status: await read('status'), dim: await page.getAttribute(net, 'data-dim') };
  }

  const configs = [];
  for (const arch of ['16,16', '24,24', ...wide])
    for (const solver of wide.includes(arch) ? ['cg'] : ['cg', 'cholesky']) for (const dtype of ['float32', 'float64']) configs.push({ arch, solver, dtype, samples: [] });
  for (let r = 0; r < repeats; r++) for (const c of configs) c.samples.push(await run(c.arch, c.solver, c.dtype));

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const names = ['GD', 'NGD', 'KFAC', 'EF-KFAC'];
  console.log(`${version}; ${status}; moons, N = 200, tanh, ${iterations} iterations, median of ${repeats} runs (mean ms per step)`);
  console.log(`| hidden (D) | NGD solver | precision | ${names.join(' | ')} |`);
  console.log(`|---|---|---|${names.map(() => '---').join('|')}|`);
  for (const c of configs) {
    const last = c.samples.at(-1);
    const cells = names.map((n) => {
      const t = median(c.samples.map((s) => s.ms[n]));
      const bad = c.samples.some((s) => s.status[n] === 'failed' || s.status[n] === 'diverged') ? ` [${c.samples.map((s) => s.status[n]).join('/')}]` : '';
      return `${t.toFixed(2)}${bad}`;
    });
    console.log(`| ${c.arch.replaceAll(',', ' · ')} (${last.dim}) | ${c.solver} | ${c.dtype} | ${cells.join(' | ')} |`);
  }
  if (errors.length) {
    console.error(`page errors: ${errors.join(' | ')}`);
    process.exitCode = 1;
  }
} finally {
  await context?.close().catch(() => {});
  server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}
