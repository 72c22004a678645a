/**
 * The wire format between the threaded core's main thread and its workers (shared by
 * `threads.ts` and `thread-worker.ts`; its one runtime dependency is the kernel table,
 * `kernels.ts`, itself free of imports, so the worker stays small).
 *
 * Two `SharedArrayBuffer`s, separate from the WebAssembly memory (so their views never go
 * stale when the memory grows):
 * - `ctrl` (Int32Array): the job generation, the count of workers still running it, the first
 *   failure, the stop flag, one state word per worker, and the first failure's message (UTF-8,
 *   {@link MESSAGE_BYTES} bytes from {@link MESSAGE} · 4).
 * - `args` (Float64Array): one slot of {@link SLOT} doubles per worker: the kernel's index in
 *   {@link KERNELS} (or {@link NO_WORK}, {@link TEST_EXIT}), then its arguments. Byte addresses
 *   and element counts are exact in a double.
 *
 * A job: the main thread writes every slot, sets PENDING to the worker count, increments GEN and
 * notifies; each worker runs its slot, decrements PENDING (notifying at zero) and waits for the
 * next GEN. Atomics order the slot writes before the kernels' reads and the kernels' writes
 * to WebAssembly memory before the main thread's reads (one sequentially consistent memory).
 *
 * @module
 */
import { type KernelName, threadKernels } from './kernels.js';

/**
 * Kernels a worker can run, by index (a slot names its kernel by position here): derived from the
 * kernel table (`kernels.ts` {@link threadKernels}: the kernels the split rules' shares run, and
 * `dzero` for the pool's failure tests), in table order. The main thread and every worker derive
 * it from the same table, so an index means the same kernel on both sides.
 */
export const KERNELS: readonly KernelName[] = threadKernels();

/** Name of a kernel a worker can run (any kernel name; {@link KERNELS} lists those a slot may name). */
export type ThreadKernel = KernelName;

/** Doubles per worker slot: kernel index + up to 19 arguments (the `kernels-table` test checks every {@link KERNELS} entry fits). */
export const SLOT = 20;
/** Slot kernel index: nothing to do in this job. */
export const NO_WORK = -1;
/** Slot kernel index (tests only): the worker exits in the middle of the job. */
export const TEST_EXIT = -2;
/** Slot kernel index (tests only): the worker spins in the job until it is killed from outside. */
export const TEST_HANG = -3;

/** ctrl indices. */
export const GEN = 0;
export const PENDING = 1;
/** 0, or 1 + the index of the first worker that failed. */
export const FAIL = 2;
export const STOP = 3;
/** How the first failure happened: {@link FAIL_THROW} or {@link FAIL_EXIT}. */
export const FAIL_KIND = 4;
export const FAIL_THROW = 1;
export const FAIL_EXIT = 2;
/** First per-worker state word (worker i at STATE + i): {@link IDLE}, {@link BUSY}, {@link DEAD}. */
export const STATE = 8;
export const IDLE = 0;
export const BUSY = 1;
export const DEAD = 2;
/** Most workers a pool has (the ctrl layout's limit). */
export const MAX_WORKERS = 63;
/** Int32 index where the failure message starts. */
export const MESSAGE = STATE + MAX_WORKERS + 1;
export const MESSAGE_BYTES = 512;
/** Int32 length of ctrl. */
export const CTRL_WORDS = MESSAGE + MESSAGE_BYTES / 4;

/** What the main thread hands a worker at start. */
export interface ThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  /** Worker index (slot and state word). */
  index: number;
  /** Byte addresses of this worker's Gram and GEMM packing workspaces. */
  gramWorkspace: number;
  gemmWorkspace: number;
}

/**
 * Worker `index` is gone: mark it dead, and if it was in the middle of a job, record the failure and
 * count its share as finished so that the waiting thread wakes up. Exactly once per job: the
 * worker's own completion (`finishShare`) and every death report race on one atomic exchange of
 * its state word, and only the one that sees BUSY counts the share.
 */
export function markDead(ctrl: Int32Array, index: number, message: string): void {
  if (Atomics.exchange(ctrl, STATE + index, DEAD) === BUSY) {
    recordFailure(ctrl, index, FAIL_EXIT, message);
    if (Atomics.sub(ctrl, PENDING, 1) === 1) Atomics.notify(ctrl, PENDING);
  }
  Atomics.notify(ctrl, PENDING);
}

/** A worker finished its share (BUSY → IDLE); counts it unless a death report already did. */
export function finishShare(ctrl: Int32Array, index: number): void {
  if (Atomics.compareExchange(ctrl, STATE + index, BUSY, IDLE) !== BUSY) return;
  if (Atomics.sub(ctrl, PENDING, 1) === 1) Atomics.notify(ctrl, PENDING);
}

/** Write the first failure (kind + message) unless another worker already did. */
export function recordFailure(ctrl: Int32Array, index: number, kind: number, message: string): void {
  if (Atomics.compareExchange(ctrl, FAIL, 0, index + 1) !== 0) return;
  const bytes = new TextEncoder().encode(message.slice(0, MESSAGE_BYTES / 2));
  const n = Math.min(bytes.length, MESSAGE_BYTES - 4);
  const view = new Uint8Array(ctrl.buffer, (MESSAGE + 1) * 4, MESSAGE_BYTES - 4);
  for (let i = 0; i < n; i++) view[i] = bytes[i]!;
  Atomics.store(ctrl, MESSAGE, n);
  Atomics.store(ctrl, FAIL_KIND, kind);
}

/** The first failure's message. */
export function failureMessage(ctrl: Int32Array): string {
  const n = Atomics.load(ctrl, MESSAGE);
  const copy = new Uint8Array(n);
  copy.set(new Uint8Array(ctrl.buffer, (MESSAGE + 1) * 4, n));
  return new TextDecoder().decode(copy);
}
