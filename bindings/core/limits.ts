/**
 * Size limits of the WebAssembly core, checked up front.
 *
 * natgrad's core is 32-bit WebAssembly: its linear memory holds at most 4 GiB in all, and
 * AssemblyScript's TLSF allocator hands out blocks of at most 1 GiB
 * ({@link MAX_ALLOCATION}). Every public function that copies data into the core checks the
 * byte size of what it is about to allocate *before* reading the data or allocating, and
 * throws a `RangeError` that says how big the request is and what to do instead:
 *
 * - inputs with too many rows (N·d·8 bytes): stream them in mini-batches through
 *   {@link fisherAccumulator} / {@link empiricalFisherAccumulator}, or split them across
 *   workers with {@link parallelGram};
 * - results with too many parameters (D²·8 bytes for a dense D × D curvature): a dense matrix
 *   cannot be streamed; use `structure: 'diagonal' | 'block' | 'kfac'` or the matrix-free
 *   products (`fisherVectorProduct`, `hessianVectorProduct`).
 *
 * @module
 */
import { MAX_ALLOCATION } from './wasm.js';

export { MAX_ALLOCATION };

/** Bytes of WebAssembly's 32-bit address space. */
export const ADDRESS_SPACE = 2 ** 32;

/** What to do when inputs are too large: stream them. */
export const STREAM_HINT = 'stream the rows in mini-batches (fisherAccumulator, empiricalFisherAccumulator) or split them across workers (parallelGram)';

/** What to do when a dense D × D result is too large: it cannot be streamed. */
export const DENSE_HINT = "a dense matrix of that size cannot be streamed: use structure 'diagonal', 'block' or 'kfac', or the matrix-free " + 'products (fisherVectorProduct, hessianVectorProduct)';

/** `1.5 GiB`, `12.0 MiB`, `640 B`. */
export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${b} B`;
}

/**
 * Throws `RangeError` unless `bytes` fits in one WebAssembly block.
 * @param bytes the size about to be allocated (may exceed 2⁵³: then it is surely too big)
 * @param what what is being allocated, e.g. `X: 1048576 × 1024 doubles`
 * @param hint what to do instead ({@link STREAM_HINT} or {@link DENSE_HINT})
 */
export function checkBytes(bytes: number, what: string, hint: string = STREAM_HINT): void {
  if (!(bytes <= MAX_ALLOCATION)) {
    throw new RangeError(`natgrad: ${what} needs ${formatBytes(bytes)}, more than one WebAssembly block can hold ` + '(1 GiB; 4 GiB in all, the 32-bit address space); ' + hint);
  }
}

/** Throws `RangeError` unless a dense n × n symmetric result fits (`8·n²` bytes). */
export function checkSquare(n: number, what: string): void {
  checkBytes(8 * n * n, `${what} (${n} × ${n} doubles)`, DENSE_HINT);
}
