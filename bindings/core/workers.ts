/**
 * Starting Node worker threads on natgrad's own worker modules, from the compiled `dist/`
 * (a `.js` next to the caller) or from the TypeScript sources run under tsx. Node 20 workers
 * ignore `--import` loaders given in `execArgv` (nodejs/node#47747), so under tsx the worker
 * gets a one-line bootstrap that registers tsx's ESM API and then imports the `.ts` module.
 * `execArgv: []`: a worker must not inherit the parent's Node options, some of which break it
 * (e.g. `--input-type=module` of a `node -e` caller); V8 flags such as
 * `--experimental-wasm-relaxed-simd` are process-wide and stay in force.
 *
 * Node only: the `node:worker_threads` import happens on first use.
 *
 * @module
 */

/** A Node worker thread. */
export type NodeWorker = import('node:worker_threads').Worker;

/**
 * Start a worker on the module `name` (without extension) that sits next to `callerUrl`
 * (the caller's `import.meta.url`).
 */
export async function startModuleWorker(callerUrl: string, name: string, workerData?: unknown): Promise<NodeWorker> {
  const { Worker } = await import('node:worker_threads');
  const ts = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${ts ? '.ts' : '.js'}`, callerUrl);
  if (!ts) return new Worker(url, { workerData, execArgv: [] });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}

/** True in Node when `node:worker_threads` loads (false in browsers and Deno without it). */
export async function workerThreadsAvailable(): Promise<boolean> {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return false;
  try {
    await import('node:worker_threads');
    return true;
  } catch {
    return false;
  }
}
