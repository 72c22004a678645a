// Where the browser tests find Chromium (playwright-core drives the system's browser; it never
// downloads one). Lookup order: $CHROMIUM_PATH, then `chromium`, `chromium-browser` and
// `google-chrome` on PATH, then /usr/bin/chromium. A CHROMIUM_PATH that points at nothing means
// "no browser" (it is not silently replaced by another one).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** How to get a browser, for the skip line. */
/**
 * The response headers of cross-origin isolation (SharedArrayBuffer, so natgrad's init() starts the
 * threaded core), as web/vite.config.ts sends them and a static host should.
 */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Set the isolation headers on a node:http response. */
export function setIsolationHeaders(res) {
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
}

export const CHROMIUM_HOW = 'apt-get install chromium, or set CHROMIUM_PATH=/path/to/chromium';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * `{ path }` of the Chromium to use, or `{ path: null, why }` saying where it was looked for.
 * @param {NodeJS.ProcessEnv} env
 */
export function findChromium(env = process.env) {
  if (env.CHROMIUM_PATH) {
    return executable(env.CHROMIUM_PATH) ? { path: env.CHROMIUM_PATH } : { path: null, why: `CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file` };
  }
  const names = ['chromium', 'chromium-browser', 'google-chrome'];
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of names) if (executable(join(dir, name))) return { path: join(dir, name) };
  }
  if (executable('/usr/bin/chromium')) return { path: '/usr/bin/chromium' };
  return { path: null, why: `no ${names.join(', ')} on PATH and no /usr/bin/chromium` };
}

/** The launch options every browser test uses (headless, no sandbox: CI runs as root). */
export function launchOptions(executablePath) {
  return {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  };
}
