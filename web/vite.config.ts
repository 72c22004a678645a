// Vite config of the interactive page (`npm run demo`, `npm run build:web`).
// The page imports the library from its TypeScript source (`natgrad` → bindings/index.ts), so
// `new URL('../build/…wasm', import.meta.url)` in bindings/core/wasm.ts is seen by Vite, which serves
// the binaries in dev and copies them (hashed) into web/dist/assets on build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './', // relative URLs: the built folder can be served from any path of any static host
  resolve: {
    alias: { natgrad: fileURLToPath(new URL('../bindings/index.ts', import.meta.url)) },
  },
  server: {
    host: '127.0.0.1',
    fs: { allow: [repo] }, // bindings/, build/*.wasm and data/*.csv live outside web/
  },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0, // keep the .wasm binaries as files (compileStreaming, cacheable)
    chunkSizeWarningLimit: 1024,
  },
});
