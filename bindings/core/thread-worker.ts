/**
 * Worker side of the threaded core (see `threads.ts`): instantiates the shared-memory binary on
 * the pool's memory, points its Gram and GEMM kernels at this worker's own workspaces, says
 * `ready`, and then loops forever: wait for the next job generation, run this worker's slot,
 * report. The worker never allocates in WebAssembly memory (the allocator belongs to the main
 * thread's instance) and never touches the memory from JavaScript.
 *
 * A kernel that throws (a trap) is reported through the control block; a worker that exits
 * (Node: `process.exit`, or the end of its thread) marks itself dead from its `exit` hook, and in
 * Node and Deno the pool's supervisor (`thread-supervisor.ts`) reports any other death (a worker
 * terminated from outside, which runs no JavaScript) — so a call waiting on a dead worker fails
 * instead of hanging.
 *
 * Node (worker_threads: the init in `workerData`) and web/Deno workers (the init as the first
 * message) run the same loop.
 *
 * @module
 */
import { FAIL_THROW, finishShare, GEN, KERNELS, markDead, NO_WORK, recordFailure, SLOT, STOP, TEST_EXIT, TEST_HANG, type ThreadInit } from './thread-protocol.js';

/** Spins (Atomics.load polls) before a worker blocks in Atomics.wait: a few microseconds. */
const SPIN = 4000;

type Kernel = (...args: number[]) => unknown;

async function start(init: ThreadInit, post: (m: unknown) => void, exitThread: () => void): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, {
    env: {
      memory: init.memory,
      abort: () => {
        throw new Error('natgrad: abort in a worker kernel');
      },
    },
  });
  const ex = instance.exports as Record<string, Kernel>;
  ex.gramSetWorkspace!(init.gramWorkspace);
  ex.gemmSetWorkspace!(init.gemmWorkspace);
  // A slot's kernel index is a position in KERNELS, derived from the kernel table exactly as on
  // the main thread (thread-protocol.ts).
  const fns = KERNELS.map((name) => {
    const f = ex[name];
    if (typeof f !== 'function') throw new Error(`natgrad: the thread binary does not export ${name}`);
    return f;
  });
  const ctrl = new Int32Array(init.ctrl);
  const args = new Float64Array(init.args);
  const me = init.index;
  const base = me * SLOT;
  const onExit = () => markDead(ctrl, me, `worker ${me} exited in the middle of a kernel`);
  const proc = (globalThis as { process?: { on?: (e: string, f: () => void) => void } }).process;
  const exitHook = typeof proc?.on === 'function';
  if (exitHook) proc!.on!('exit', onExit);
  // Read the generation before saying ready: the first job may be posted (GEN incremented) as soon
  // as the main thread hears `ready`, and a worker that read GEN after that would wait past it.
  let seen = Atomics.load(ctrl, GEN);
  post({ type: 'ready' });
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctrl, GEN) === seen && spins++ < SPIN);
    if (Atomics.load(ctrl, GEN) === seen) Atomics.wait(ctrl, GEN, seen);
    const gen = Atomics.load(ctrl, GEN);
    if (gen === seen) continue;
    seen = gen;
    if (Atomics.load(ctrl, STOP)) return;
    const id = args[base]!;
    // The main thread set this worker BUSY when it posted the job; every share, even an empty one,
    // goes BUSY → IDLE through finishShare, which counts it once (a death report from the exit hook
    // or the supervisor may have counted it already).
    try {
      if (id === TEST_EXIT) {
        if (!exitHook) onExit(); // web workers have no exit hook: report before closing
        exitThread();
        return;
      }
      if (id === TEST_HANG) {
        // Ask the supervisor to terminate this worker now that it is in the middle of a job.
        post({ type: 'terminate-me' });
        for (;;) Atomics.load(ctrl, GEN);
      }
      if (id !== NO_WORK) {
        const a = args.subarray(base + 1, base + SLOT);
        fns[id]!(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!, a[17]!, a[18]!);
      }
    } catch (e) {
      recordFailure(ctrl, me, FAIL_THROW, `worker ${me}: ${(e as Error)?.message ?? String(e)}`);
    }
    finishShare(ctrl, me);
  }
}

// Node and Deno start the pool with node:worker_threads (the init in workerData); a browser with a
// module worker (the init as the first message). No top-level await: bundlers that emit workers as
// classic scripts (Vite's default `worker.format: 'iife'`) reject it, and a browser never takes the
// node:worker_threads branch.
function listen(): void {
  const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void; close(): void };
  scope.onmessage = (e: MessageEvent) => {
    scope.onmessage = null;
    start(
      e.data as ThreadInit,
      (m) => scope.postMessage(m),
      () => scope.close(),
    ).catch((err) => scope.postMessage({ type: 'error', message: String((err as Error)?.message ?? err) }));
  };
}
if (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string') {
  void import('node:worker_threads').then((wt) => {
    if (!wt.workerData) return listen();
    const { parentPort, workerData } = wt;
    const proc = (globalThis as unknown as { process: { exit(code: number): never } }).process;
    start(
      workerData as ThreadInit,
      (m) => parentPort!.postMessage(m),
      () => proc.exit(1),
    ).catch((e) => parentPort!.postMessage({ type: 'error', message: String((e as Error)?.message ?? e) }));
  });
} else listen();
