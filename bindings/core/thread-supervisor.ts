/**
 * The parent of a threaded core's workers in Node and Deno (node:worker_threads): it starts them,
 * reports `ready` (or the first start-up error) to the main thread, and turns every worker's
 * `exit` event into a death report in the control block (`markDead`). The main thread cannot do
 * that itself — it is blocked in `Atomics.wait` while a call runs, so it receives no events — but
 * this thread's event loop is free, so a worker that dies in the middle of a kernel for any
 * reason (a trap, `process.exit`, `worker.terminate()`, a crash) wakes the waiting call, which then
 * throws `ThreadError` instead of hanging. Terminating the supervisor terminates its workers.
 *
 * Test hooks: `{ type: 'terminate', index }` from the main thread kills worker `index` (between
 * calls); `{ type: 'terminate-me' }` from a worker in a job kills it in the middle of that job.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { markDead, type ThreadInit } from './thread-protocol.js';
import { type NodeWorker, nodeWorkerReady, startModuleWorker } from './workers.js';

const { inits } = workerData as { inits: ThreadInit[] };
const workers: NodeWorker[] = [];

try {
  for (const init of inits) workers.push(await startModuleWorker(import.meta.url, 'thread-worker', init));
  await Promise.all(workers.map(nodeWorkerReady));
  workers.forEach((w, i) => {
    const ctrl = new Int32Array(inits[i]!.ctrl);
    w.on('exit', (code) => markDead(ctrl, i, `worker ${i} died (exit code ${code}) in the middle of a kernel`));
    w.on('message', (m: { type?: string }) => {
      if (m?.type === 'terminate-me') void w.terminate(); // tests: a kill from outside, mid-job
    });
  });
  parentPort!.on('message', (m: { type?: string; index?: number }) => {
    if (m?.type === 'terminate' && typeof m.index === 'number') void workers[m.index]?.terminate();
  });
  parentPort!.postMessage({ type: 'ready' });
} catch (e) {
  for (const w of workers) void w.terminate();
  parentPort!.postMessage({ type: 'error', message: String((e as Error)?.message ?? e) });
}
