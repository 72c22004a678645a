// Vite config of the interactive page (`npm run demo`, `npm run build:web`).
// The page imports the library from its TypeScript source (`natgrad` → bindings/index.ts), so
// `new URL('../build/…wasm', import.meta.url)` in bindings/core/wasm.ts is seen by Vite, which serves
// the binaries in dev and copies them (hashed) into web/dist/assets on build, and
// `new Worker(new URL('./thread-worker.js', import.meta.url), …)` in bindings/core/threads.ts, which
// Vite bundles (from thread-worker.ts) into a worker chunk.
//
// Threads: `init()` runs the threaded core only where SharedArrayBuffer exists, which in a browser
// needs a cross-origin isolated page, i.e. these two response headers on the page. The dev and
// preview servers send them; a static host serving web/dist must send them too (without them the
// page runs on one thread, as before).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repo = fileURLToPath(new URL('..', import.meta.url));
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './', // relative URLs: the built folder can be served from any path of any static host
  resolve: {
    alias: { natgrad: fileURLToPath(new URL('../bindings/index.ts', import.meta.url)) },
  },
  server: {
    host: '127.0.0.1',
    fs: { allow: [repo] }, // bindings/, build/*.wasm and data/*.csv live outside web/
    headers: crossOriginIsolation,
  },
  preview: { host: '127.0.0.1', headers: crossOriginIsolation },
  // ES module workers (Vite's default is 'iife'): the thread worker is a module worker
  // (`{ type: 'module' }`) and this keeps it one to the browser.
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0, // keep the .wasm binaries as files (compileStreaming, cacheable)
    chunkSizeWarningLimit: 1024,
  },
});
