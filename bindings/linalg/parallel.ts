/**
 * `parallelGram`: one large Gram matrix Xᵀ diag(w) X across worker threads (Node).
 *
 * Shared-nothing: the rows are split into one contiguous range per worker; each worker runs its
 * own WebAssembly core (same variant as the caller's), sums its range in chunks of bounded size
 * and posts back its d × d partial sum; the main thread adds the partial sums in worker order
 * (so the result does not depend on timing) into a {@link SymMatrix} in the default core.
 *
 * Because only chunks ever enter WebAssembly, X itself may be larger than one WebAssembly block
 * (1 GiB) or the whole 4 GiB address space: only the d × d result must fit (8·d² ≤ 1 GiB).
 * Rows are copied to the workers chunk by chunk (each chunk transferred, posted round-robin so
 * the workers start while the main thread is still copying), unless `X.data` is backed by a
 * `SharedArrayBuffer`, which the workers then read in place.
 *
 * Workers are kept between calls (`unref()`ed while idle, so they never keep the process alive)
 * and reused by the next call with the same variant; a worker that failed is discarded.
 *
 * Works from the compiled `dist/` (workers run `parallel-worker.js`) and from the TypeScript
 * sources under tsx (workers register tsx, then import `parallel-worker.ts`). Node only: the
 * module imports `node:worker_threads` on first call, so importing natgrad elsewhere is safe.
 *
 * @module
 */
import type { GramMessage } from './parallel-worker.js';
import { checkSquare } from '../core/limits.js';
import { Matrix } from './matrix.js';
import { startModuleWorker, type NodeWorker } from '../core/workers.js';
import { SymMatrix } from './symmatrix.js';
import { isCsr, type CsrMatrix, type DenseMatrix, type MatrixInput, type VectorInput } from '../core/types.js';
import { checkSize, firstNonFinite, toCsr, toDense, toVector, type CheckedCsr } from '../core/validate.js';
import { core as defaultCore, type Variant } from '../core/wasm.js';

/** Options of {@link parallelGram}. */
export interface ParallelOptions {
  /** Worker threads, an integer in [1, 64] (default 2). */
  workers?: number;
  /** Variant of the workers' cores (default: the caller's default core's). */
  variant?: Variant;
  /** Bytes of rows per chunk sent to a worker and copied into its WebAssembly memory (default 4 MiB). */
  chunkBytes?: number;
}

/**
 * Gram matrix `C = Xᵀ diag(w) X = Σ_n w_n x_n x_nᵀ` (no 1/N), computed by `workers` threads.
 * Same value as {@link gram} up to rounding in the order of summation.
 *
 * @param X N × d: `{ data, rows, cols }` (any size that JavaScript holds), `number[][]`, CSR, or a
 *   resident {@link Matrix} (copied out).
 * @param w optional weights, length N, finite.
 * @returns a promise of a new {@link SymMatrix} (free it when done).
 * @throws TypeError / RangeError (rejections) for bad shapes, non-finite entries, bad options, a
 *   d × d result larger than one WebAssembly block; an Error when a worker cannot start.
 * @example
 * const C = await parallelGram({ data, rows: 200000, cols: 128 }, undefined, { workers: 2 });
 */
export async function parallelGram(X: MatrixInput | Matrix, w?: VectorInput, options: ParallelOptions = {}): Promise<SymMatrix> {
  const core = defaultCore();
  const workers = options.workers ?? 2;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new RangeError(`natgrad: workers must be an integer in [1, 64], got ${String(workers)}`);
  }
  const chunkBytes = options.chunkBytes ?? 4 * 2 ** 20;
  if (typeof chunkBytes !== 'number' || !(chunkBytes >= 8) || !Number.isFinite(chunkBytes)) {
    throw new RangeError(`natgrad: chunkBytes must be a finite number ≥ 8, got ${String(chunkBytes)}`);
  }
  const variant = options.variant ?? core.variant;
  if (variant !== 'simd' && variant !== 'relaxed-simd') throw new TypeError(`natgrad: variant must be 'simd' or 'relaxed-simd', got ${String(variant)}`);

  const input: MatrixInput = X instanceof Matrix ? (X.toCsr() ?? X.toDense()) : X;
  let dense: DenseMatrix | undefined, csr: CheckedCsr | undefined;
  if (isCsr(input)) csr = toCsr(input as CsrMatrix, 'X');
  else if (Array.isArray(input)) dense = toDense(input, 'X');
  else dense = checkLargeDense(input);
  const rows = dense ? dense.rows : csr!.rows,
    d = dense ? dense.cols : csr!.cols;
  checkSquare(d, 'the Gram matrix of d columns');
  const weights = w === undefined ? undefined : toVector(w, rows, 'w');

  const ranges: [number, number][] = [];
  for (let i = 0; i < workers; i++) {
    const r0 = Math.floor((i * rows) / workers),
      r1 = Math.floor(((i + 1) * rows) / workers);
    if (r1 > r0) ranges.push([r0, r1]);
  }
  const chunkRows = Math.max(1, Math.floor(chunkBytes / (8 * Math.max(d, 1))));
  // Each worker's messages: begin, its rows chunk by chunk (copied and transferred, or one
  // `shared` range read in place), end. They are posted round-robin so that every worker starts
  // on its first chunk while the main thread is still copying the others.
  const shared = dense !== undefined && typeof SharedArrayBuffer !== 'undefined' && dense.data.buffer instanceof SharedArrayBuffer;
  const messages = (range: [number, number]): Iterator<[GramMessage, ArrayBuffer[]]> =>
    (function* () {
      const [r0, r1] = range;
      yield [{ type: 'begin', d, chunkRows }, []];
      if (shared) {
        yield [{ type: 'shared', data: dense!.data, rowStart: r0, rowEnd: r1, w: weights?.slice(r0, r1) }, []];
      } else {
        for (let a = r0; a < r1; a += chunkRows) {
          const b = Math.min(r1, a + chunkRows);
          const w = weights?.slice(a, b);
          const transfer: ArrayBuffer[] = w ? [w.buffer as ArrayBuffer] : [];
          if (dense) {
            const data = dense.data.slice(a * d, b * d);
            transfer.push(data.buffer as ArrayBuffer);
            yield [{ type: 'dense', rows: b - a, data, w }, transfer];
          } else {
            const c = csr!,
              p0 = c.indptr[a]!,
              p1 = c.indptr[b]!;
            const indptr = Int32Array.from(c.indptr.subarray(a, b + 1), (p) => p - p0);
            const indices = c.indices.slice(p0, p1),
              values = c.values.slice(p0, p1);
            transfer.push(indptr.buffer as ArrayBuffer, indices.buffer as ArrayBuffer, values.buffer as ArrayBuffer);
            yield [{ type: 'csr', rows: b - a, indptr, indices, values, w }, transfer];
          }
        }
      }
      yield [{ type: 'end' }, []];
    })();

  const total = new Float64Array(d * d);
  if (ranges.length > 0) {
    const partials = await runJobs(ranges.map(messages), variant);
    for (const P of partials) for (let i = 0; i < d * d; i++) total[i]! += P[i]!;
  }
  const p = core.alloc(8 * d * d);
  core.f64(p, d * d).set(total);
  core.exports.dsymMirrorLower(d, p, d);
  return new SymMatrix(core, d, p);
}

/** Dense `{ data, rows, cols }` checked like `toDense` but without the one-block size limit. */
function checkLargeDense(m: unknown): DenseMatrix {
  if (typeof m !== 'object' || m === null || !('data' in m)) {
    throw new TypeError('natgrad: X must be { data: Float64Array, rows, cols }, number[][] or CSR { rows, cols, indptr, indices, values }');
  }
  const { rows, cols } = m as DenseMatrix;
  checkSize(rows, 'X.rows');
  checkSize(cols, 'X.cols');
  const { data } = m as DenseMatrix;
  if (!(data instanceof Float64Array)) throw new TypeError('natgrad: X.data must be a Float64Array');
  if (data.length !== rows * cols) {
    throw new RangeError(`natgrad: X.data has length ${data.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new RangeError(`natgrad: X[${Math.floor(bad / cols)}][${bad % cols}] is not finite (${data[bad]})`);
  return { data, rows, cols };
}

type WorkerT = NodeWorker;

/**
 * Idle workers by variant, kept for the next call (a worker costs ~80 ms to start from dist/,
 * ~1 s under tsx). Idle workers are `unref()`ed: they never keep the process alive. A worker that
 * failed or exited is never reused.
 */
const idle = new Map<Variant, WorkerT[]>();

async function acquire(count: number, variant: Variant): Promise<WorkerT[]> {
  const pool = idle.get(variant) ?? [];
  idle.set(variant, pool);
  const out = pool.splice(0, count);
  while (out.length < count) {
    const w = await startModuleWorker(import.meta.url, 'parallel-worker', { variant });
    w.on('exit', () => {
      const i = pool.indexOf(w);
      if (i >= 0) pool.splice(i, 1);
    });
    out.push(w);
  }
  for (const w of out) w.ref();
  return out;
}

/**
 * Run one message stream per worker (posted round-robin), collect the partial sums in stream
 * order. Workers that answered go back to the pool; the others are terminated.
 */
async function runJobs(streams: Iterator<[GramMessage, ArrayBuffer[]]>[], variant: Variant): Promise<Float64Array[]> {
  const workers = await acquire(streams.length, variant);
  const healthy = workers.map(() => false);
  try {
    const results = workers.map(
      (worker, i) =>
        new Promise<Float64Array>((resolve, reject) => {
          const done = () => {
            worker.off('message', onMessage);
            worker.off('error', onError);
            worker.off('exit', onExit);
          };
          const onMessage = (msg: { ok: true; C: Float64Array } | { ok: false; name: string; message: string }) => {
            done();
            if (msg.ok) {
              healthy[i] = true;
              resolve(msg.C);
              return;
            }
            reject(msg.name === 'RangeError' ? new RangeError(msg.message) : msg.name === 'TypeError' ? new TypeError(msg.message) : new Error(msg.message));
          };
          const onError = (e: Error) => {
            done();
            reject(new Error(`natgrad: parallelGram worker ${i} failed: ${e.message}`, { cause: e }));
          };
          const onExit = (code: number) => {
            done();
            reject(new Error(`natgrad: parallelGram worker ${i} exited with code ${code} before answering`));
          };
          worker.on('message', onMessage);
          worker.on('error', onError);
          worker.on('exit', onExit);
        }),
    );
    results.forEach((p) => p.catch(() => undefined)); // rejections are reported by Promise.all below
    for (let open = streams.length; open > 0; ) {
      open = 0;
      for (const [i, it] of streams.entries()) {
        const next = it.next();
        if (next.done) continue;
        open++;
        workers[i]!.postMessage(next.value[0], next.value[1]);
      }
    }
    return await Promise.all(results);
  } finally {
    const pool = idle.get(variant)!;
    for (const [i, w] of workers.entries()) {
      if (healthy[i]) {
        w.unref();
        pool.push(w);
      } else void w.terminate();
    }
  }
}
