/**
 * Finding, compiling and instantiating natgrad's WebAssembly core.
 *
 * Two binaries are built from one AssemblyScript source: `natgrad.relaxed.wasm`
 * (SIMD128 + relaxed SIMD, fused multiply-add through `f64x2.relaxed_madd`) and
 * `natgrad.simd.wasm` (SIMD128 only). `init()` validates a 40-byte relaxed-SIMD
 * probe module and loads the relaxed binary where the engine accepts it (Node ≥ 22,
 * Node 20 with `--experimental-wasm-relaxed-simd`, Deno, current Chromium), the
 * baseline elsewhere; `init({ variant })` forces one.
 *
 * One code path for every host: the binary is located with
 * `new URL('../../build/…', import.meta.url)`; `file:` URLs are read with
 * `node:fs/promises` (Node, Deno), anything else is fetched and compiled with
 * `WebAssembly.compileStreaming`. Bundlers and workers can pass the bytes or a
 * compiled `WebAssembly.Module` instead.
 *
 * Threads: `init({ threads })` (default: every core in Node and Deno, and in a cross-origin
 * isolated page) loads the variant's shared-memory build (`natgrad.*-mt.wasm`: the same kernels,
 * an imported `WebAssembly.Memory({ shared: true })` of at most 4 GiB) and starts `threads − 1`
 * workers on the same memory (`threads.ts`); the kernels with a split rule in `kernels.ts` then split
 * every large call across them, with results bitwise identical to one thread. Where shared memory
 * is unavailable (a page without cross-origin isolation), or with `threads: 1`, the core is the
 * single-threaded build exactly as before.
 *
 * @module
 */
import { instantiate } from '@assemblyscript/loader';
import { float32Kernel, KERNEL_NAMES, type KernelFunctions } from './kernels.js';
import { parallelExports } from './parallel-kernels.js';
import { hostCores, sharedMemoryAvailable, ThreadPool } from './threads.js';
import { checkOptions } from './options.js';
import { hasNodeApis } from './workers.js';

/**
 * Which binary runs.
 *
 * @category Core
 */
export type Variant = 'relaxed-simd' | 'simd';

/**
 * Options of {@link init}.
 *
 * @category Core
 */
export interface InitOptions {
  /** Force a binary; `'auto'` (default) picks relaxed SIMD where it validates. */
  variant?: Variant | 'auto';
  /**
   * The binary for the chosen variant: bytes, a compiled module, or a URL to load it from. With
   * `threads` > 1 it must be the variant's shared-memory build (`binaryUrl(variant, true)`).
   */
  source?: BufferSource | WebAssembly.Module | URL | string;
  /**
   * Threads for one computation, the calling thread included: an integer in [1, 64], or `'auto'`
   * (the number of logical cores on a main thread, 1 inside a worker). {@link init} defaults to
   * `'auto'`, {@link createCore} to 1. Falls back to 1 where shared WebAssembly memory is not
   * available (a browser page without cross-origin isolation).
   */
  threads?: number | 'auto';
}

/**
 * What {@link init} reports.
 *
 * @category Core
 */
export interface InitResult {
  variant: Variant;
  /** Threads the core runs a computation on (1: the single-threaded build). */
  threads: number;
}

/**
 * Raw kernel exports (pointers are byte addresses, sizes are elements). One function per entry
 * of the kernel table (`kernels.ts`: argument names, result, thread split; see `assembly/` for
 * the kernels themselves), derived from it: an entry's argument names become its `number`
 * parameters, in order. Plus the instance's `memory`; other names (the loader's helpers) are
 * `unknown`.
 *
 * @category Core
 */
export interface KernelExports extends KernelFunctions {
  memory: WebAssembly.Memory;
  [name: string]: unknown;
}

/**
 * The smallest module that uses relaxed SIMD: one function
 * `(v128, v128, v128) → v128` whose body is `f64x2.relaxed_madd` (opcode 0xfd 0x107).
 */
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version
  0x01,
  0x08,
  0x01,
  0x60,
  0x03,
  0x7b,
  0x7b,
  0x7b,
  0x01,
  0x7b, // type: (v128 v128 v128) -> v128
  0x03,
  0x02,
  0x01,
  0x00, // function 0 has type 0
  0x0a,
  0x0d,
  0x01,
  0x0b,
  0x00, // code: 1 body, 11 bytes, no locals
  0x20,
  0x00,
  0x20,
  0x01,
  0x20,
  0x02, // local.get 0 1 2
  0xfd,
  0x87,
  0x02,
  0x0b, // f64x2.relaxed_madd, end
]);

/** Same shape with a plain SIMD128 body (`f64x2.add`, opcode 0xfd 0xf0 0x01). */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0b, 0x01, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0xfd, 0xf0, 0x01,
  0x0b,
]);

/**
 * True when this engine accepts relaxed-SIMD instructions.
 * @example
 * ```ts
 * supportsRelaxedSimd(); // true on Node ≥ 22, Deno and current Chromium; false on Node 20 without --experimental-wasm-relaxed-simd
 * ```
 *
 * @category Core
 */
export function supportsRelaxedSimd(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * True when this engine accepts SIMD128 instructions (required by both binaries).
 * @example
 * ```ts
 * supportsSimd(); // true wherever natgrad runs: both binaries need SIMD128
 * ```
 *
 * @category Core
 */
export function supportsSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

/** File name of a variant's binary inside the package's `build/` folder (`threaded`: the shared-memory build). */
export function binaryName(variant: Variant, threaded = false): string {
  return `natgrad.${variant === 'relaxed-simd' ? 'relaxed' : 'simd'}${threaded ? '-mt' : ''}.wasm`;
}

/**
 * URL of a variant's binary, relative to this module (works from `bindings/` and `dist/`).
 * @example
 * ```ts
 * binaryUrl('simd').href;               // 'file:///…/natgrad/build/natgrad.simd.wasm' in Node
 * binaryUrl('relaxed-simd', true).href; // 'file:///…/natgrad/build/natgrad.relaxed-mt.wasm' (shared memory)
 * ```
 *
 * @category Core
 */
export function binaryUrl(variant: Variant, threaded = false): URL {
  // Literal `new URL(…)` expressions, so that bundlers (Vite, webpack) see and copy exactly
  // the four binaries and nothing else from build/.
  if (threaded) return variant === 'relaxed-simd' ? new URL('../../build/natgrad.relaxed-mt.wasm', import.meta.url) : new URL('../../build/natgrad.simd-mt.wasm', import.meta.url);
  return variant === 'relaxed-simd' ? new URL('../../build/natgrad.relaxed.wasm', import.meta.url) : new URL('../../build/natgrad.simd.wasm', import.meta.url);
}

async function compile(source: BufferSource | WebAssembly.Module | URL | string): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (typeof source !== 'string' && !(source instanceof URL)) return WebAssembly.compile(source);
  const url = source instanceof URL ? source : new URL(source, import.meta.url);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`natgrad: could not fetch ${url.href}: HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

/**
 * One instantiated core: its exports, its memory, its variant. Handles remember the
 * core they were made by, so several cores (e.g. both variants in a test) can coexist.
 *
 * Views are never cached: {@link Core.f64} makes a fresh `Float64Array` over the current
 * `memory.buffer` each time, because any allocation may grow (and detach) the buffer.
 *
 * @category Core
 */
export class Core {
  readonly variant: Variant;
  /** The kernels; with a thread pool, the splittable ones run across it (same signatures, same results). */
  readonly exports: KernelExports;
  /** The worker pool of a threaded core (undefined: one thread). */
  readonly pool: ThreadPool | undefined;

  constructor(variant: Variant, exports: KernelExports, pool?: ThreadPool) {
    this.variant = variant;
    this.exports = exports;
    this.pool = pool;
  }

  /** Threads a computation runs on now (1 while a failed pool is being rebuilt). */
  get threads(): number {
    return this.pool?.size ?? 1;
  }

  /** A fresh view of `length` f64 at byte address `ptr`. Do not keep it across an allocation. */
  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.exports.memory.buffer, ptr, length);
  }

  /** A fresh view of `length` f32 at byte address `ptr`. Do not keep it across an allocation. */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, length);
  }

  /** A fresh view of `length` entries of `dtype` at byte address `ptr`. Do not keep it across an allocation. */
  floats(dtype: 'float32' | 'float64', ptr: number, length: number): Float32Array | Float64Array {
    return dtype === 'float32' ? this.f32(ptr, length) : this.f64(ptr, length);
  }

  #float32: KernelExports | undefined;

  /**
   * The kernels of one element type under their float64 names: for `'float64'` the exports
   * themselves; for `'float32'` every kernel with a float32 twin resolves to the twin
   * (`convIm2col` → `convIm2col32`, `dgemm` → `sgemm`, split by the twin's own rule on a threaded
   * core) and every other kernel to a function that throws an internal error naming it — so code
   * written once against the float64 names (a layer's op) runs on either element type and can
   * never reach a float64 kernel with float32 data.
   */
  kernels(dtype: 'float32' | 'float64'): KernelExports {
    if (dtype === 'float64') return this.exports;
    if (this.#float32) return this.#float32;
    const ex = this.exports as unknown as Record<string, unknown>;
    const view: Record<string, unknown> = { memory: ex.memory };
    for (const name of KERNEL_NAMES) {
      const twin = float32Kernel(name);
      view[name] =
        twin !== undefined
          ? ex[twin]
          : () => {
              throw new Error(`natgrad: internal: kernel ${name} has no float32 twin (a float32 network called it)`);
            };
    }
    this.#float32 = Object.freeze(view) as unknown as KernelExports;
    return this.#float32;
  }

  /** A fresh view of `length` i32 at byte address `ptr`. Do not keep it across an allocation. */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.exports.memory.buffer, ptr, length);
  }

  /** Current size of the core's linear memory in bytes. */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /**
   * Allocate `bytes` (16-byte aligned). Throws `RangeError` when the request is larger than
   * one block of the allocator can be ({@link MAX_ALLOCATION}, 1 GiB: AssemblyScript's TLSF
   * limit) or memory cannot grow (4 GiB in all: the 32-bit address space).
   */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`natgrad: invalid allocation size ${bytes}`);
    if (bytes > MAX_ALLOCATION) {
      throw new RangeError(
        `natgrad: ${formatBytes(bytes)} does not fit in one WebAssembly block (at most 1 GiB; ` +
          '4 GiB in all, the 32-bit address space); split the data into mini-batches ' +
          '(fisherAccumulator, empiricalFisherAccumulator, parallelGram) instead',
      );
    }
    let ptr: number;
    try {
      ptr = this.exports.alloc(Math.max(bytes, 8));
    } catch (e) {
      throw new RangeError(`natgrad: out of WebAssembly memory allocating ${formatBytes(bytes)} (${(e as Error).message})`);
    }
    return ptr >>> 0;
  }

  /** Return a block from {@link Core.alloc}. */
  free(ptr: number): void {
    this.exports.free(ptr);
  }

  /** Allocate and fill with a copy of `data`; returns the byte address. */
  allocCopy(data: ArrayLike<number>): number {
    const ptr = this.alloc(data.length * 8);
    this.f64(ptr, data.length).set(data);
    return ptr;
  }
}

/**
 * Largest single allocation natgrad attempts: AssemblyScript's TLSF allocator refuses blocks
 * of 2³⁰ bytes or more (`BLOCK_MAXSIZE`, rt/common.ts), whatever the 4 GiB address space has left.
 *
 * @category Core
 */
export const MAX_ALLOCATION = 2 ** 30 - 64;

function formatBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
}

let current: Core | undefined;

/** The keys of {@link InitOptions}. */
const INIT_KEYS = ['variant', 'source', 'threads'] as const;
const INIT_HINTS: Readonly<Record<string, string>> = {
  workers: 'the thread count (the calling thread included) is threads',
  wasm: 'the binary (bytes, a module or a URL) is source',
  url: 'the binary (bytes, a module or a URL) is source',
  module: 'the binary (bytes, a module or a URL) is source',
};

/**
 * Load a core and make it the default one.
 *
 * The binary: `natgrad.relaxed.wasm` (SIMD128 + relaxed SIMD, fused multiply-add) where the engine
 * validates a 40-byte relaxed-SIMD probe (Node ≥ 22, Node 20 with
 * `--experimental-wasm-relaxed-simd`, Deno, current Chromium), `natgrad.simd.wasm` (SIMD128 only)
 * elsewhere; `variant` forces one, `source` supplies the bytes, a compiled module or a URL.
 * The threads: `threads` (default `'auto'`: every logical core in Node and Deno and in a
 * cross-origin isolated page) loads the variant's shared-memory build and starts `threads − 1`
 * workers on the same memory; large kernel calls are split across them with results bitwise
 * identical to one thread. Where shared memory is unavailable, or with `threads: 1`, the core is
 * the single-threaded build.
 *
 * Later calls replace the default core; handles made earlier keep using theirs, so the earlier
 * core's workers stay (idle, `unref()`ed) until `core().pool?.close()` is called on it.
 * @example
 * const { variant, threads } = await init();   // variant: 'relaxed-simd' on Node ≥ 22, 'simd' on plain Node 20
 * await init({ threads: 1 });                    // the single-threaded build, same results
 *
 * @category Core
 */
export async function init(options: InitOptions = {}): Promise<InitResult> {
  checkOptions(options, 'init', INIT_KEYS, INIT_HINTS);
  current = await createCore({ threads: 'auto', ...options });
  return { variant: current.variant, threads: current.threads };
}

/** Whether this code runs inside a worker (Node worker thread, web or Deno worker). */
async function inWorker(): Promise<boolean> {
  const g = globalThis as { WorkerGlobalScope?: unknown; self?: unknown };
  if (typeof g.WorkerGlobalScope !== 'undefined' && g.self instanceof (g.WorkerGlobalScope as new () => unknown)) return true;
  if (hasNodeApis()) {
    const { isMainThread } = await import('node:worker_threads');
    return !isMainThread;
  }
  return false;
}

async function resolveThreads(requested: number | 'auto' | undefined): Promise<number> {
  if (requested === undefined) return 1;
  if (requested === 'auto') return (await inWorker()) ? 1 : Math.min(await hostCores(), 64);
  if (typeof requested !== 'number' || !Number.isInteger(requested) || requested < 1 || requested > 64) {
    throw new RangeError(`natgrad: init: threads must be 'auto' or an integer in [1, 64], got ${String(requested)}`);
  }
  return requested;
}

/** Initial and maximum pages of the threaded core's shared memory (2 MiB, 4 GiB: as the single-threaded build). */
const SHARED_INITIAL_PAGES = 32;
const SHARED_MAXIMUM_PAGES = 65536;

/**
 * Like {@link init} but returns the new core without making it the default (workers, tests).
 * @example
 * ```ts
 * await init();                                             // the default core
 * const simd = await createCore({ variant: 'simd' });       // a second core, one thread
 * simd.variant;                                             // 'simd'
 * const model = mlp({ sizes: [4, 8, 3], core: simd });      // runs on `simd`, not on the default core
 * ```
 *
 * @category Core
 */
export async function createCore(options: InitOptions = {}): Promise<Core> {
  checkOptions(options, 'createCore', INIT_KEYS, INIT_HINTS);
  const requested = options.variant ?? 'auto';
  if (requested !== 'auto' && requested !== 'simd' && requested !== 'relaxed-simd') {
    throw new TypeError(`natgrad: init: variant must be 'auto', 'simd' or 'relaxed-simd', got ${String(requested)}`);
  }
  if (!supportsSimd()) throw new Error('natgrad: this WebAssembly engine does not support SIMD128');
  let variant: Variant;
  if (requested === 'auto') variant = supportsRelaxedSimd() ? 'relaxed-simd' : 'simd';
  else variant = requested;
  if (variant === 'relaxed-simd' && !supportsRelaxedSimd()) {
    throw new Error('natgrad: relaxed SIMD is not supported by this engine ' + '(Node 20 needs --experimental-wasm-relaxed-simd; Node ≥ 22, Deno and current Chromium have it)');
  }
  const asked = await resolveThreads(options.threads);
  const threads = asked > 1 && sharedMemoryAvailable() ? asked : 1;
  if (threads === 1) {
    const module = await compile(options.source ?? binaryUrl(variant));
    const { exports } = await instantiate<KernelExports>(module, {});
    return new Core(variant, exports as unknown as KernelExports);
  }
  const module = await compile(options.source ?? binaryUrl(variant, true));
  const memory = new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAXIMUM_PAGES, shared: true });
  const { exports } = await instantiate<KernelExports>(module, { env: { memory } });
  const raw = exports as unknown as KernelExports;
  const pool = await ThreadPool.start({ module, memory, exports: raw as unknown as Record<string, (...a: number[]) => number | void> }, threads);
  return new Core(variant, parallelExports({ ...raw, memory }, pool), pool);
}

/**
 * Threads the default core runs a computation on, or undefined before {@link init}.
 * @example
 * ```ts
 * currentThreads();            // undefined
 * await init({ threads: 2 });
 * currentThreads();            // 2 (1 where shared memory is unavailable)
 * ```
 *
 * @category Core
 */
export function currentThreads(): number | undefined {
  return current?.threads;
}

/**
 * The default core; throws if {@link init} has not completed.
 * @example
 * ```ts
 * core();                      // throws Error: natgrad: call `await init()` before using the library
 * await init();
 * core().variant;              // 'relaxed-simd' or 'simd', as init() reported
 * ```
 *
 * @category Core
 */
export function core(): Core {
  if (!current) throw new Error('natgrad: call `await init()` before using the library');
  return current;
}

/**
 * The variant of the default core, or undefined before {@link init}.
 * @example
 * ```ts
 * currentVariant();            // undefined
 * await init();
 * currentVariant();            // 'relaxed-simd' (Node ≥ 22, Deno, Chromium) or 'simd' (Node 20)
 * ```
 *
 * @category Core
 */
export function currentVariant(): Variant | undefined {
  return current?.variant;
}
