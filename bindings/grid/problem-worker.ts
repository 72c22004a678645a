/**
 * Worker-thread entry of the grid search on any problem (bindings/grid/problem-grid.ts): one
 * core per worker, the problem rebuilt from its description, runs pulled from a shared atomic
 * counter, results posted back in small batches. Not part of the public API.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { core as defaultCore, init, type Variant } from '../core/wasm.js';
import { modelFromSpec } from '../models/spec.js';
import { problem } from '../problem/problem.js';
import { runProblemConfig, type ProblemGridRuns, type ProblemRunResult, type ProblemSpec } from './problem-grid.js';

interface Job {
  type: 'job';
  id: number;
  spec: ProblemSpec;
  runs: ProblemGridRuns;
  variant: Variant;
  counter: SharedArrayBuffer;
  total: number;
}

const port = parentPort!;

port.on('message', async (m: Job) => {
  if (m?.type !== 'job') return;
  try {
    // The worker's default core (linearProblem and the models take it when none is given).
    await init({ variant: m.variant });
    const core = defaultCore();
    const { spec } = m;
    const model = modelFromSpec(spec.model, core);
    const rows = spec.X.length / (spec.model.name === 'linear' ? spec.model.inputs : model.inputs);
    const p = problem({ model, X: { data: spec.X, rows, cols: model.inputs }, y: spec.y, likelihood: spec.likelihood, priorVariance: spec.priorVariance, reduction: spec.reduction });
    const counter = new Int32Array(m.counter);
    let items: ProblemRunResult[] = [],
      last = performance.now();
    for (;;) {
      const i = Atomics.add(counter, 0, 1);
      if (i >= m.total) break;
      items.push(runProblemConfig(p, m.runs, i));
      if (performance.now() - last > 25) {
        port.postMessage({ type: 'runs', id: m.id, items });
        items = [];
        last = performance.now();
      }
    }
    if (items.length) port.postMessage({ type: 'runs', id: m.id, items });
    p.free();
    port.postMessage({ type: 'done', id: m.id });
  } catch (e) {
    const err = e as Error;
    port.postMessage({ type: 'error', id: m.id, message: String(err?.message ?? e), stack: err?.stack });
  }
});
