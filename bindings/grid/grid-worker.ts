/**
 * Worker-thread entry of {@link gridSearch} (Node): one WebAssembly core per worker (per
 * variant), runs pulled one at a time from a shared atomic counter (dynamic load balancing),
 * results posted back in batches. Workers stay alive between searches (bindings/grid/grid.ts keeps
 * a pool, unreferenced while idle); each message `{ type: 'job', … }` is one search.
 * Not part of the public API.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { GridEngine, type EngineProblem, type EngineRuns, type RawRun } from './glm-engine.js';
import { createCore, type Core, type Variant } from '../core/wasm.js';

interface GridJob {
  type: 'job';
  id: number;
  problem: EngineProblem;
  runs: EngineRuns;
  variant: Variant;
  counter: SharedArrayBuffer;
  total: number;
  lanes: number;
  batchMs: number;
}

const cores = new Map<Variant, Promise<Core>>();
const port = parentPort!;

async function job(data: GridJob): Promise<void> {
  const id = data.id;
  try {
    let core = cores.get(data.variant);
    if (!core) {
      core = createCore({ variant: data.variant });
      cores.set(data.variant, core);
    }
    const engine = new GridEngine(await core, data.problem, data.runs, data.lanes);
    try {
      const counter = new Int32Array(data.counter);
      const next = (): number => {
        const i = Atomics.add(counter, 0, 1);
        return i < data.total ? i : -1;
      };
      let items: RawRun[] = [];
      const flush = (): void => {
        if (items.length === 0) return;
        port.postMessage(
          { type: 'runs', id, items },
          items.map((r) => r.losses.buffer as ArrayBuffer),
        );
        items = [];
      };
      const emit = (r: RawRun): void => {
        items.push(r);
      };
      for (;;) {
        const finished = engine.pump(next, emit, data.batchMs);
        flush();
        if (finished) break;
      }
      port.postMessage({ type: 'done', id, stats: engine.stats() });
    } finally {
      engine.free();
    }
  } catch (e) {
    const err = e as Error;
    port.postMessage({ type: 'error', id, message: String(err?.message ?? e), stack: err?.stack });
  }
}

let queue = Promise.resolve();
port.on('message', (m: GridJob) => {
  if (m?.type === 'job') queue = queue.then(() => job(m));
});
