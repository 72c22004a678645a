/**
 * Ownership of WebAssembly memory.
 *
 * A handle owns one or more blocks of a {@link Core}'s memory and remembers only
 * their addresses and lengths; typed-array views are made on demand and never
 * cached, because any allocation may grow memory and detach earlier views.
 * `free()` (or `using`/`Symbol.dispose`) releases the blocks. A second `free()` throws
 * {@link DisposedError} (it is a bug in the caller, reported, never passed on to the
 * allocator), as does any other use after `free()`; `Symbol.dispose` alone is idempotent, so
 * `using h = …; h.free();` is fine. A
 * `FinalizationRegistry` frees blocks of handles that are garbage-collected
 * without `free()` — a safety net, not the plan.
 *
 * @module
 */
import { DisposedError } from './errors.js';
import type { Core } from './wasm.js';

interface Held {
  core: Core;
  ptrs: number[];
}

const registry: FinalizationRegistry<Held> | undefined =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Held>((held) => {
        for (const p of held.ptrs) held.core.free(p);
      })
    : undefined;

/**
 * Base class of every object that owns WebAssembly memory.
 *
 * @category Core
 */
export abstract class Handle {
  /** The core whose memory holds this handle's data. */
  readonly core: Core;
  readonly #held: Held;
  #freed = false;

  protected constructor(core: Core, ptrs: number[]) {
    this.core = core;
    this.#held = { core, ptrs };
    registry?.register(this, this.#held, this);
  }

  /** True after {@link Handle.free}. */
  get freed(): boolean {
    return this.#freed;
  }

  /** Throws {@link DisposedError} when the handle was freed. */
  protected alive(): void {
    if (this.#freed) throw new DisposedError(this.constructor.name);
  }

  /** Byte addresses of the owned blocks, in the order given to the constructor. */
  protected ptr(i = 0): number {
    this.alive();
    return this.#held.ptrs[i]!;
  }

  /**
   * Release the WebAssembly memory.
   * @throws DisposedError when the handle was already freed (the memory is not touched again).
   */
  free(): void {
    this.alive();
    this.#freed = true;
    registry?.unregister(this);
    for (const p of this.#held.ptrs) this.core.free(p);
    this.#held.ptrs = [];
  }

  /** {@link Handle.free} for `using` declarations; a no-op when the handle was already freed. */
  [Symbol.dispose](): void {
    if (!this.#freed) this.free();
  }
}

/**
 * Allocate blocks of the given byte sizes, all or none: when one allocation fails, the blocks
 * already obtained are freed before the error propagates. Addresses in the order requested.
 */
export function allocBlocks(core: Core, sizes: number[]): number[] {
  const ptrs: number[] = [];
  try {
    for (const s of sizes) ptrs.push(core.alloc(s));
  } catch (e) {
    for (const p of ptrs) core.free(p);
    throw e;
  }
  return ptrs;
}

/**
 * Run `fn` with temporary blocks of the given byte sizes, freeing them afterwards even
 * when `fn` throws. Blocks come back in the order requested.
 */
export function withScratch<T>(core: Core, sizes: number[], fn: (...ptrs: number[]) => T): T {
  const ptrs = allocBlocks(core, sizes);
  try {
    return fn(...ptrs);
  } finally {
    for (const p of ptrs) core.free(p);
  }
}
