/**
 * The threaded core's worker pool: `threads − 1` workers that each instantiate the
 * shared-memory binary on the main instance's `WebAssembly.Memory({ shared: true })` and run
 * kernels on their share of one computation while the main thread runs the first share.
 *
 * - **Synchronous.** A parallel kernel call returns when every share is done, like the
 *   single-threaded call it replaces: the main thread waits with `Atomics.wait` (Node, Deno) or
 *   spins on `Atomics.load` (a browser's main thread may not block). Workers spin a few
 *   microseconds after a job, then block in `Atomics.wait`.
 * - **Memory rules.** Only the main thread allocates (the workers' instances never call the
 *   allocator); each worker has its own Gram and GEMM packing workspaces, allocated once from the
 *   main heap when the pool starts and freed with it; no kernel a worker runs uses static
 *   scratch memory. Growth of the shared memory is seen by every instance.
 * - **Failures.** A worker kernel that throws (a trap), or a worker that dies in the middle of a
 *   job (its exit hook, or in Node and Deno the supervisor that started it: `thread-supervisor.ts`,
 *   which sees every death, `terminate()` included), makes the call throw {@link ThreadError}
 *   once every other share has finished; the pool
 *   is then torn down and rebuilt in the background, and calls run on the main thread alone
 *   (same results: see `parallel-kernels.ts`) until it is ready ({@link ThreadPool.ready}).
 *   A worker that dies between jobs is noticed at the next call, which runs single-threaded.
 * - Workers are `unref()`ed in Node, so an idle pool never keeps the process alive.
 *
 * @module
 */
import { hasNodeApis, nodeWorkerReady, startModuleWorker, type NodeWorker } from './workers.js';
import {
  CTRL_WORDS,
  BUSY,
  DEAD,
  FAIL,
  IDLE,
  FAIL_EXIT,
  FAIL_KIND,
  failureMessage,
  GEN,
  KERNELS,
  MAX_WORKERS,
  NO_WORK,
  PENDING,
  SLOT,
  STATE,
  STOP,
  TEST_EXIT,
  TEST_HANG,
  type ThreadInit,
  type ThreadKernel,
} from './thread-protocol.js';

/**
 * A worker of the threaded core failed in the middle of a call: a kernel trapped, or the worker
 * exited. The call's outputs are incomplete; the pool is being rebuilt (calls meanwhile run on one
 * thread, with the same results).
 *
 * @category Errors
 */
export class ThreadError extends Error {
  /** `'trap'` (the kernel threw) or `'exit'` (the worker died). */
  readonly kind: 'trap' | 'exit';
  /** Index of the worker that failed (0-based among the workers, the main thread excluded). */
  readonly worker: number;
  constructor(kind: 'trap' | 'exit', worker: number, message: string) {
    super(`natgrad: a worker of the threaded core failed (${kind}): ${message}; the pool is being rebuilt`);
    this.name = 'ThreadError';
    this.kind = kind;
    this.worker = worker;
  }
}

/** One share of a parallel call: a kernel and its arguments (numbers: byte addresses, counts, scalars). */
export type Share = readonly [ThreadKernel, readonly number[]];

/** What a pool needs from its core's main instance. */
export interface PoolHost {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The main instance's raw exports (allocator, workspace sizes, kernels). */
  exports: Record<string, (...a: number[]) => number | void>;
}

/** A web or Deno worker (the subset used). */
interface WebWorkerLike {
  postMessage(m: unknown): void;
  terminate(): void;
  addEventListener(type: string, f: (e: { data?: unknown; message?: string }) => void): void;
}

type AnyWorker = { node: NodeWorker } | { web: WebWorkerLike };

/** Whether this thread may block in Atomics.wait (false on a browser's main thread). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether shared WebAssembly memory works here (false in a browser page that is not cross-origin isolated).
 * @example
 * ```ts
 * sharedMemoryAvailable(); // true in Node and Deno; false in a browser page without cross-origin isolation
 * // where it is false, init({ threads }) runs the single-threaded build (same results)
 * ```
 *
 * @category Threads
 */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  const g = globalThis as { crossOriginIsolated?: boolean; window?: unknown };
  if (g.window !== undefined && g.crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/** Logical cores of this host (1 if unknown). */
export async function hostCores(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (typeof nav?.hardwareConcurrency === 'number' && nav.hardwareConcurrency > 0) return nav.hardwareConcurrency;
  if (hasNodeApis()) {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return 1;
}

/**
 * Start the workers: in Node and Deno one supervisor worker (thread-supervisor.ts) that starts
 * them all and reports their deaths; in a browser the workers themselves (the page's thread cannot
 * be woken by a supervisor's events any better than by the workers' own reports).
 */
async function spawnAll(inits: ThreadInit[]): Promise<AnyWorker[]> {
  // Node and Deno: node:worker_threads, whose unref() keeps an idle pool from holding the process.
  if (hasNodeApis()) return [{ node: await startModuleWorker(import.meta.url, 'thread-supervisor', { inits }) }];
  const out: AnyWorker[] = [];
  for (const init of inits) out.push(spawnWeb(init));
  return out;
}

function spawnWeb(init: ThreadInit): AnyWorker {
  // Literally `new Worker(new URL('…', import.meta.url), { type: 'module' })`, the global Worker and
  // not an alias of it: the pattern bundlers (Vite, webpack, Parcel) look for to bundle the worker
  // module (Vite resolves `./thread-worker.js` to thread-worker.ts from the sources).
  const web = new Worker(new URL('./thread-worker.js', import.meta.url), { type: 'module' }) as unknown as WebWorkerLike;
  web.postMessage(init);
  return { web };
}

function whenReady(w: AnyWorker): Promise<void> {
  const failed = (why: string) => new Error(`natgrad: a thread worker could not start: ${why}`);
  if ('node' in w) {
    return nodeWorkerReady(w.node).catch((e: Error) => {
      throw failed(e.message);
    });
  }
  return new Promise((resolve, reject) => {
    w.web.addEventListener('message', (e) => {
      const msg = e.data as { type?: string; message?: string };
      if (msg?.type === 'ready') resolve();
      else if (msg?.type === 'error') reject(failed(String(msg.message)));
    });
    w.web.addEventListener('error', (e) => reject(failed(e.message ?? 'error')));
  });
}

/**
 * The workers of one threaded core. {@link ThreadPool.size} counts the main thread: a pool of
 * size T runs T shares at once. Made by `createCore({ threads })`; not constructed directly.
 *
 * @category Threads
 */
export class ThreadPool {
  /** Threads the pool was asked for (main thread included). */
  readonly requested: number;
  readonly #host: PoolHost;
  readonly #canBlock = mayBlock();
  #ctrl: Int32Array = new Int32Array(0);
  #args: Float64Array = new Float64Array(0);
  /** The supervisor (Node, Deno) or the workers (browser). */
  #workers: AnyWorker[] = [];
  /** Number of workers (threads − 1). */
  #count = 0;
  /** Workspace byte addresses, [gram, gemm] per worker (kept across rebuilds). */
  #workspaces: [number, number][] = [];
  #healthy = false;
  #closed = false;
  #ready: Promise<void> = Promise.resolve();
  #buildError: Error | undefined;

  private constructor(host: PoolHost, threads: number) {
    this.#host = host;
    this.requested = threads;
  }

  /** @internal Start a pool of `threads` (≥ 2, main thread included) and wait until every worker is ready (`createCore({ threads })` does). */
  static async start(host: PoolHost, threads: number): Promise<ThreadPool> {
    if (!(Number.isInteger(threads) && threads >= 2 && threads <= MAX_WORKERS + 1)) throw new RangeError(`natgrad: a thread pool needs 2 … ${MAX_WORKERS + 1} threads, got ${threads}`);
    const pool = new ThreadPool(host, threads);
    pool.#ready = pool.#build();
    await pool.#ready;
    return pool;
  }

  async #build(): Promise<void> {
    const n = this.requested - 1;
    const ex = this.#host.exports;
    const gramBytes = ex.gramWorkspaceBytes!() as number,
      gemmBytes = ex.gemmWorkspaceBytes!() as number;
    while (this.#workspaces.length < n) {
      // 64 extra bytes: the workspaces start on a cache line.
      const g = (ex.alloc!(gramBytes + 64) as number) >>> 0,
        m = (ex.alloc!(gemmBytes + 64) as number) >>> 0;
      this.#workspaces.push([g, m]);
    }
    const ctrl = new SharedArrayBuffer(CTRL_WORDS * 4),
      args = new SharedArrayBuffer(Math.max(n, 1) * SLOT * 8);
    this.#ctrl = new Int32Array(ctrl);
    this.#args = new Float64Array(args);
    const inits: ThreadInit[] = this.#workspaces.slice(0, n).map(([g, m], index) => ({
      module: this.#host.module,
      memory: this.#host.memory,
      ctrl,
      args,
      index,
      gramWorkspace: (g + 63) & ~63,
      gemmWorkspace: (m + 63) & ~63,
    }));
    let workers: AnyWorker[] = [];
    try {
      workers = await spawnAll(inits);
      await Promise.all(workers.map(whenReady));
    } catch (e) {
      for (const w of workers) terminate(w);
      this.#buildError = e as Error;
      throw e;
    }
    for (const w of workers) if ('node' in w) w.node.unref();
    if (this.#closed) {
      for (const w of workers) terminate(w);
      return;
    }
    this.#workers = workers;
    this.#count = n;
    this.#healthy = true;
  }

  /** Threads a call uses now: {@link requested}, or 1 while the pool is being rebuilt, broken or closed. */
  get size(): number {
    if (!this.#healthy) return 1;
    const ctrl = this.#ctrl;
    for (let i = 0; i < this.#count; i++) {
      if (Atomics.load(ctrl, STATE + i) === DEAD) {
        this.#fail();
        return 1;
      }
    }
    return this.requested;
  }

  /** Resolves when the pool is ready again after a failure (rejects if a rebuild failed). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** The last rebuild's error, if it failed (the pool then stays at one thread). */
  get buildError(): Error | undefined {
    return this.#buildError;
  }

  /**
   * @internal Run `shares` at once: shares[0] on the main thread, shares[i] on worker i − 1 (at
   * most {@link size} shares). Returns when all are done (`parallel-kernels.ts` calls it).
   * @throws ThreadError when a worker failed (after the other shares have finished).
   */
  run(shares: readonly Share[]): void {
    const n = this.#count;
    if (!this.#healthy || shares.length > n + 1) throw new RangeError('natgrad: internal: more shares than threads');
    const ctrl = this.#ctrl,
      args = this.#args;
    // Claim every worker for this job (IDLE → BUSY): from here on a death report counts the dead
    // worker's share. A worker already dead (between calls) is found here: the job then runs on
    // this thread alone, share after share — the same results — and the pool is rebuilt.
    for (let i = 0; i < n; i++) {
      if (Atomics.compareExchange(ctrl, STATE + i, IDLE, BUSY) !== IDLE) {
        for (let j = 0; j < i; j++) Atomics.store(ctrl, STATE + j, IDLE);
        this.#fail();
        for (const [name, a] of shares) (this.#host.exports[name] as (...x: number[]) => void)(...a);
        return;
      }
    }
    for (let i = 0; i < n; i++) {
      const s = shares[i + 1];
      const base = i * SLOT;
      if (!s) {
        args[base] = NO_WORK;
        continue;
      }
      const [name, a] = s;
      const id = name === ('__exit' as ThreadKernel) ? TEST_EXIT : name === ('__hang' as ThreadKernel) ? TEST_HANG : KERNELS.indexOf(name);
      if (id === NO_WORK) throw new Error(`natgrad: internal: ${name} is not a thread kernel`);
      args[base] = id;
      for (let j = 0; j < a.length; j++) args[base + 1 + j] = a[j]!;
    }
    Atomics.store(ctrl, PENDING, n);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    let mainError: unknown;
    try {
      const [name, a] = shares[0]!;
      (this.#host.exports[name] as (...x: number[]) => void)(...a);
    } catch (e) {
      mainError = e;
    }
    this.#wait();
    const failed = Atomics.load(ctrl, FAIL);
    if (failed) {
      const kind = Atomics.load(ctrl, FAIL_KIND) === FAIL_EXIT ? 'exit' : 'trap';
      const err = new ThreadError(kind, failed - 1, failureMessage(ctrl));
      this.#fail();
      throw err;
    }
    if (mainError !== undefined) throw mainError;
  }

  #wait(): void {
    const ctrl = this.#ctrl;
    let spins = 0;
    for (;;) {
      const p = Atomics.load(ctrl, PENDING);
      if (p <= 0) return;
      if (spins < 2000) {
        spins++;
        continue;
      }
      if (this.#canBlock) Atomics.wait(ctrl, PENDING, p, 50);
    }
  }

  /** Tear the workers down and rebuild in the background (calls run on one thread meanwhile). */
  #fail(): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#stopWorkers();
    if (this.#closed) return;
    this.#buildError = undefined;
    this.#ready = this.#build();
    this.#ready.catch(() => {}); // the error is kept in buildError; ready rejects for those who await it
  }

  #stopWorkers(): void {
    Atomics.store(this.#ctrl, STOP, 1);
    Atomics.add(this.#ctrl, GEN, 1);
    Atomics.notify(this.#ctrl, GEN);
    for (const w of this.#workers) terminate(w);
    this.#workers = [];
  }

  /**
   * Stop the workers and free their workspaces. The core keeps working on one thread.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#healthy = false;
    this.#stopWorkers();
    for (const [g, m] of this.#workspaces) {
      this.#host.exports.free!(g);
      this.#host.exports.free!(m);
    }
    this.#workspaces = [];
  }

  /**
   * @internal Tests: make worker 0 fail in the middle of a job — trap in a kernel, exit, or (Node,
   * Deno) spin until the supervisor terminates it from outside, as a crash would — or (`'idle'`)
   * have it terminated between calls.
   */
  crashForTesting(mode: 'exit' | 'trap' | 'terminate' | 'idle'): void {
    const nop: Share = ['dzero', [0, 0, 0, 0]];
    if (mode === 'terminate' || mode === 'idle') {
      // 'idle': terminated between calls (returns at once; the next call finds the worker dead).
      const sup = this.#workers[0];
      if (!sup || !('node' in sup)) throw new Error(`natgrad: crashForTesting('${mode}') needs the Node/Deno supervisor`);
      // 'terminate': the worker asks the supervisor to kill it once it holds the job.
      if (mode === 'terminate') this.run([nop, ['__hang' as ThreadKernel, []]]);
      else sup.node.postMessage({ type: 'terminate', index: 0 });
      return;
    }
    const bad: Share = mode === 'exit' ? ['__exit' as ThreadKernel, []] : ['dzero', [1, 1, 0xfffffff0, 1]];
    this.run([nop, bad]);
  }
}

function terminate(w: AnyWorker): void {
  if ('node' in w) void w.node.terminate();
  else w.web.terminate();
}
