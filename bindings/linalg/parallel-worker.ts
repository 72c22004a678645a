/**
 * Worker side of {@link parallelGram}: one WebAssembly core per worker thread (shared-nothing),
 * which sums Σ_n w_n x_n x_nᵀ over the rows it is sent, chunk by chunk (so its memory stays
 * bounded and it starts before the main thread has sent everything), and posts back the d × d
 * lower triangle. Not part of the public API.
 *
 * Messages in, in order: `begin`, any number of `dense` / `csr` / `shared` chunks, `end`.
 * Out: `{ ok: true, C }` (C: d × d, lower triangle filled, upper triangle 0, its buffer
 * transferred) or `{ ok: false, name, message }` (after which later messages are ignored).
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCore, type Variant } from '../core/wasm.js';

/** One message to a worker. */
export type GramMessage =
  | { type: 'begin'; d: number; chunkRows: number }
  /** Rows of X (row-major, d columns) and their weights. */
  | { type: 'dense'; rows: number; data: Float64Array; w?: Float64Array }
  /** Rows [rowStart, rowEnd) of a SharedArrayBuffer-backed X, read in place, chunked here. */
  | { type: 'shared'; data: Float64Array; rowStart: number; rowEnd: number; w?: Float64Array }
  /** A CSR slice, indptr rebased to 0. */
  | { type: 'csr'; rows: number; indptr: Int32Array; indices: Int32Array; values: Float64Array; w?: Float64Array }
  | { type: 'end' };

const core = await createCore({ variant: (workerData as { variant: Variant }).variant });
const k = core.exports;

let d = 0,
  chunkRows = 1,
  pc = 0,
  failed = false;
const blocks: { ptr: number; bytes: number }[] = [];

/** A scratch block of at least `bytes`, kept between chunks (slot i). */
function scratch(i: number, bytes: number): number {
  const b = blocks[i];
  if (b && b.bytes >= bytes) return b.ptr;
  if (b) core.free(b.ptr);
  const ptr = core.alloc(bytes);
  blocks[i] = { ptr, bytes };
  return ptr;
}

function release(): void {
  for (const b of blocks) if (b) core.free(b.ptr);
  blocks.length = 0;
  if (pc) core.free(pc);
  pc = 0;
}

function denseRows(data: Float64Array, n: number, w: Float64Array | undefined): void {
  const px = scratch(0, 8 * n * d);
  core.f64(px, n * d).set(data);
  const pw = w ? scratch(1, 8 * n) : 0;
  if (pw) core.f64(pw, n).set(w!);
  k.dsyrkLower(n, d, px, d, pw, 1, pc, d);
}

function handle(msg: GramMessage): void {
  switch (msg.type) {
    case 'begin':
      d = msg.d;
      chunkRows = Math.max(1, msg.chunkRows);
      pc = core.alloc(8 * d * d);
      core.f64(pc, d * d).fill(0);
      return;
    case 'dense':
      if (msg.rows > 0) denseRows(msg.data, msg.rows, msg.w);
      return;
    case 'shared': {
      for (let r0 = msg.rowStart; r0 < msg.rowEnd; r0 += chunkRows) {
        const n = Math.min(chunkRows, msg.rowEnd - r0);
        const w = msg.w?.subarray(r0 - msg.rowStart, r0 - msg.rowStart + n);
        denseRows(msg.data.subarray(r0 * d, (r0 + n) * d), n, w);
      }
      return;
    }
    case 'csr': {
      const { rows: n, indptr, indices, values, w } = msg;
      const nnz = indices.length;
      const pp = scratch(0, 4 * (n + 1)),
        pi = scratch(1, 4 * nnz),
        pv = scratch(2, 8 * nnz);
      core.i32(pp, n + 1).set(indptr);
      core.i32(pi, nnz).set(indices);
      core.f64(pv, nnz).set(values);
      const pw = w ? scratch(3, 8 * n) : 0;
      if (pw) core.f64(pw, n).set(w!);
      k.dsyrkLowerCsr(n, pp, pi, pv, pw, 1, pc, d);
      return;
    }
    case 'end': {
      const C = core.f64(pc, d * d).slice();
      release();
      parentPort!.postMessage({ ok: true, C }, [C.buffer as ArrayBuffer]);
      return;
    }
  }
}

parentPort!.on('message', (msg: GramMessage) => {
  if (failed) return;
  try {
    handle(msg);
  } catch (e) {
    failed = true;
    release();
    const err = e as Error;
    parentPort!.postMessage({ ok: false, name: err?.name ?? 'Error', message: String(err?.message ?? e) });
  }
});
