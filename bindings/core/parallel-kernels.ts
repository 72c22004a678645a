/**
 * How the threaded core splits a kernel call into shares, one per thread, such that the result
 * is **bitwise identical for any thread count**: a split never divides a reduction. Every output
 * entry is computed by one thread with exactly the sequence of operations the whole call would
 * use, so there is nothing to reduce afterwards and no order to fix.
 *
 * Which kernels split, how and why the entries do not change is declared next to each kernel's
 * signature, in the `split` rules of the kernel table (`kernels.ts`, whose module documentation
 * describes the rule vocabulary). This module turns those rules into the core's exports
 * ({@link parallelExports}) and holds the range helpers the rules use.
 *
 * Calls below {@link MIN_SHARE_WORK} multiply-adds per share ({@link MIN_SHARE_ELEMENTS} elements
 * for elementwise kernels) run on the main thread alone: a share has to pay for waking a worker
 * (~10–50 µs).
 *
 * @module
 */
import { argsOf, type Call, type CountSplit, type CustomSplit, KERNEL_NAMES, kernelSpec, MIN_SHARE_ELEMENTS, MIN_SHARE_WORK, type NamedShare, type SplitContext } from './kernels.js';
import type { ThreadKernel } from './thread-protocol.js';
import type { Share, ThreadPool } from './threads.js';

export { MIN_SHARE_ELEMENTS, MIN_SHARE_WORK };

type Fn = (...a: number[]) => unknown;

/** Split [0, total) into `parts` contiguous ranges with boundaries on multiples of `quantum`. */
export function splitRange(total: number, parts: number, quantum: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts && start < total; p++) {
    let end = p === parts - 1 ? total : Math.round((total * (p + 1)) / parts / quantum) * quantum;
    end = Math.min(total, Math.max(end, start + quantum));
    if (p === parts - 1) end = total;
    out.push([start, end]);
    start = end;
  }
  if (out.length && out[out.length - 1]![1] < total) out[out.length - 1]![1] = total;
  return out;
}

/**
 * Column-panel ranges of a d × d lower triangle with about equal areas: panel j0 (4 columns)
 * covers rows j0 … d − 1, so its work is ∝ d − j0.
 */
export function splitTriangle(d: number, parts: number): [number, number][] {
  const panels = Math.ceil(d / 4);
  const work = (p: number) => Math.max(d - 4 * p, 0);
  let total = 0;
  for (let p = 0; p < panels; p++) total += work(p);
  const out: [number, number][] = [];
  let p = 0,
    acc = 0;
  for (let s = 0; s < parts && p < panels; s++) {
    const start = p;
    const target = (total * (s + 1)) / parts;
    while (p < panels && (acc + work(p) / 2 <= target || p === start)) acc += work(p++);
    if (s === parts - 1) p = panels;
    out.push([4 * start, Math.min(4 * p, d)]);
  }
  if (out.length) out[out.length - 1]![1] = d;
  return out;
}

/** How many shares a call of `work` gets (1 = run on the main thread). */
function sharesFor(pool: ThreadPool, work: number, min = MIN_SHARE_WORK): number {
  const t = pool.size;
  if (t < 2) return 1;
  return Math.max(1, Math.min(t, Math.floor(work / min)));
}

/**
 * The exports object the core's TypeScript uses: the raw kernels, with every kernel that has a
 * `split` rule in the kernel table (`kernels.ts`) replaced by a version that runs on the pool.
 * Same signatures, same results.
 */
export function parallelExports<E extends object>(raw: E, pool: ThreadPool): E {
  const r = raw as unknown as Record<string, Fn>;
  const ex: Record<string, Fn> = { ...r };
  const run = (shares: Share[]) => {
    if (shares.length === 1) r[shares[0]![0]]!(...shares[0]![1]);
    else pool.run(shares);
  };
  const runNamed = (shares: readonly NamedShare[]) => run(shares.map(([kernel, call]) => [kernel as ThreadKernel, argsOf(kernel, call)]));
  const ctx: SplitContext = {
    shares: (work, min = MIN_SHARE_WORK) => sharesFor(pool, work, min),
    splitRange,
    splitTriangle,
    call: (kernel, call) => ex[kernel]!(...argsOf(kernel, call)),
    raw: (kernel, call) => r[kernel]!(...argsOf(kernel, call)),
  };
  for (const name of KERNEL_NAMES) {
    const rule = kernelSpec(name).split;
    if (!rule) continue;
    const whole = r[name];
    if (typeof whole !== 'function') throw new Error(`natgrad: internal: the core does not export ${name}`);
    ex[name] = 'custom' in rule ? customSplit(name, rule, whole, pool, ctx, runNamed) : countSplit(name, rule, whole, pool, ctx, runNamed, run);
  }
  return ex as unknown as E;
}

/**
 * The kernel's positional arguments as a record by name (`kernels.ts` `callOf`, with the names
 * looked up once), and a cheaper read-only view of them for the work check of every call:
 * an object whose prototype has one getter per argument name (no spreading, no own keys).
 * @internal
 */
export function byName(name: string): { record: (a: readonly number[]) => Call; view: (a: readonly number[]) => Call } {
  const names = kernelSpec(name).args;
  class View {
    readonly $: readonly number[];
    constructor(a: readonly number[]) {
      this.$ = a;
    }
  }
  names.forEach((n, i) => {
    Object.defineProperty(View.prototype, n, {
      get(this: View) {
        return this.$[i];
      },
    });
  });
  return {
    record: (a) => {
      const call: Record<string, number> = {};
      for (let i = 0; i < names.length; i++) call[names[i]!] = a[i]!;
      return call;
    },
    view: (a) => new View(a) as unknown as Call,
  };
}

/** A kernel split by its rule's own code (kernels.ts `CustomSplit`), for calls that pass the work check. */
function customSplit(name: string, rule: CustomSplit<string>, whole: Fn, pool: ThreadPool, ctx: SplitContext, runNamed: (s: readonly NamedShare[]) => void): Fn {
  const { record, view } = byName(name);
  const min = rule.min ?? MIN_SHARE_WORK;
  return (...a: number[]) => {
    if (sharesFor(pool, rule.work(view(a)), min) < 2) return whole(...a);
    const shares = rule.custom(record(a), ctx);
    if (shares === undefined) return whole(...a);
    if (shares !== 'done') runNamed(shares);
  };
}

/**
 * A kernel split into item ranges of its `count` argument (kernels.ts `CountSplit`): at most
 * ⌊count / quantum⌋ shares, pointers advanced by name, everything else passed unchanged.
 */
function countSplit(name: string, rule: CountSplit<string>, whole: Fn, pool: ThreadPool, ctx: SplitContext, runNamed: (s: readonly NamedShare[]) => void, run: (s: Share[]) => void): Fn {
  const { record, view } = byName(name);
  const quantum = rule.quantum ?? 1;
  const min = rule.min ?? MIN_SHARE_WORK;
  const optional = new Set<string>(rule.optional ?? []);
  const bytes = rule.bytes ?? 8;
  type By = readonly string[] | ((c: Call) => number) | { readonly i32: readonly string[] };
  const advance = Object.entries(rule.advance ?? {}).filter((e): e is [string, By] => e[1] !== undefined);
  const index = rule.index ?? [];
  /** The call of items i0 … i0 + count − 1. */
  const shift = (call: Call, i0: number, count: number): Call => {
    const out: Record<string, number> = { ...call, [rule.count]: count };
    for (const [p, by] of advance) {
      const v = call[p]!;
      if (v === 0 && optional.has(p)) continue;
      let size = 1;
      if (typeof by === 'function') size = by(call);
      else for (const f of 'i32' in by ? by.i32 : by) size *= call[f]!;
      out[p] = v + ('i32' in by ? 4 : bytes) * i0 * size;
    }
    for (const p of index) out[p] = call[p]! + i0;
    return out;
  };
  return (...a: number[]) => {
    const shares = sharesFor(pool, rule.work(view(a)), min);
    if (shares < 2) return whole(...a);
    const call = record(a);
    const count = call[rule.count]!;
    if (count === 1 && rule.single) {
      const s = rule.single(call, ctx);
      if (s === 'done') return;
      if (s !== undefined) return runNamed(s);
    }
    const parts = Math.min(shares, Math.floor(count / quantum));
    if (parts < 2) return whole(...a);
    run(splitRange(count, parts, quantum).map(([i0, i1]): Share => [name as ThreadKernel, argsOf(name, shift(call, i0, i1 - i0))]));
  };
}
