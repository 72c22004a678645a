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

/**
 * A Node worker thread (`node:worker_threads`' `Worker`), reduced to the members natgrad uses and
 * declared here, so that natgrad's type declarations compile without `@types/node`.
 */
export interface NodeWorker {
  postMessage(value: unknown): void;
  /** `T`: what the worker posts (the listener's annotation; nothing checks it). */
  on<T>(event: 'message', listener: (value: T) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'exit', listener: (exitCode: number) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  once(event: 'exit', listener: (exitCode: number) => void): this;
  off<T>(event: 'message', listener: (value: T) => void): this;
  off(event: 'error', listener: (error: Error) => void): this;
  off(event: 'exit', listener: (exitCode: number) => void): this;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
}

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

/**
 * Resolves when a worker posts `{ type: 'ready' }`; rejects when it posts `{ type: 'error',
 * message }`, emits `error`, or exits first. The listeners stay (a started worker posts nothing
 * else that they would mistake).
 */
export function nodeWorkerReady(w: NodeWorker): Promise<void> {
  return new Promise((resolve, reject) => {
    w.on('message', (m: { type?: string; message?: string }) => {
      if (m?.type === 'ready') resolve();
      else if (m?.type === 'error') reject(new Error(String(m.message)));
    });
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`exited with code ${code} while starting`)));
  });
}

/** True in Node and in Deno (whose Node compatibility layer has `node:worker_threads` and `node:os`). */
export function hasNodeApis(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
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

/** What a worker of {@link runWorkerJob} posts: batches of results, its end, or its failure. */
export type WorkerJobMessage<Item, Done = unknown> =
  | { type: 'runs'; id: number; items: Item[] }
  | { type: 'done'; id: number; stats?: Done }
  | { type: 'error'; id: number; message: string; stack?: string };

/**
 * Post one job (`{ id, … }`) to every worker and wait until each has said `'done'` or died.
 * Results arrive through `onItems` as the workers post them; `onDone` sees each worker's final
 * message. A worker that dies (terminated, crashed, out of memory) loses only what it had not
 * posted: it is returned in `lost`, and the caller reruns what is missing. An `'error'` message
 * rejects (the worker's message and stack), and so does `signal` (with `abortError(signal)`).
 * The workers' listeners are removed before this settles; starting and stopping the workers is
 * the caller's.
 */
export function runWorkerJob<Item, Done = unknown>(
  workers: readonly NodeWorker[],
  job: { id: number },
  handlers: {
    onItems: (items: Item[]) => void;
    onDone?: (stats: Done | undefined) => void;
    signal?: AbortSignal | undefined;
    abortError: (signal: AbortSignal) => Error;
  },
): Promise<{ lost: Set<NodeWorker> }> {
  const { signal } = handlers;
  const detach: (() => void)[] = [];
  const lost = new Set<NodeWorker>();
  return new Promise<{ lost: Set<NodeWorker> }>((resolve, reject) => {
    let running = workers.length,
      settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      for (const d of detach) d();
      f();
    };
    const finish = () => {
      if (--running === 0) settle(() => resolve({ lost }));
    };
    if (signal) {
      const onAbort = () => settle(() => reject(handlers.abortError(signal)));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      detach.push(() => signal.removeEventListener('abort', onAbort));
    }
    if (running === 0) settle(() => resolve({ lost }));
    for (const w of workers) {
      let ended = false;
      const onMessage = (m: WorkerJobMessage<Item, Done>) => {
        if (settled || ended || m?.id !== job.id) return;
        if (m.type === 'runs') handlers.onItems(m.items);
        else if (m.type === 'done') {
          ended = true;
          handlers.onDone?.(m.stats);
          finish();
        } else {
          const e = new Error(`natgrad: grid worker failed: ${m.message}`);
          if (m.stack) e.stack = m.stack;
          settle(() => reject(e));
        }
      };
      const onDeath = () => {
        if (ended || settled) return;
        ended = true;
        lost.add(w);
        finish();
      };
      w.on('message', onMessage);
      w.on('error', onDeath);
      w.on('exit', onDeath);
      detach.push(() => {
        w.off('message', onMessage);
        w.off('error', onDeath);
        w.off('exit', onDeath);
      });
      w.postMessage(job);
    }
  });
}
