/**
 * The table of natgrad's WebAssembly kernels: every function `assembly/index.ts` exports, declared
 * once, by name. Everything positional is derived from it:
 *
 * - the `KernelExports` type of `wasm.ts` (each entry's argument names become a tuple of `number`
 *   parameters, its `returns` the result type: {@link KernelFunctions});
 * - the thread protocol's kernel list (`thread-protocol.ts`: the kernels a worker slot can name,
 *   {@link threadKernels});
 * - the threaded core's split wrappers (`parallel-kernels.ts` iterates over the entries' `split`
 *   rules), which read and write arguments by name through {@link callOf} and {@link argsOf}.
 *
 * Pointers are byte addresses, sizes and leading dimensions are in elements (see each kernel's
 * file under `assembly/` for units, aliasing and tail handling).
 *
 * ## Adding a kernel: one entry
 *
 * Export the function from `assembly/` (and `assembly/index.ts`), then add its entry here, in
 * the order of its file (the `kernels-table` test checks that the table and the binary's exports
 * agree, names, arities and results). A kernel that the threaded core should split gets a `split` rule in
 * the same entry; nothing else changes (`wasm.ts`, the protocol, the workers and
 * `parallel-kernels.ts` pick it up). For example, a (hypothetical) per-sample kernel
 * `poolMax(n, c, h, w, x, out)` with an input of c·h·w and an output of c·h·w/4 doubles per sample:
 *
 * ```ts
 * poolMax: kernel({
 *   args: ['n', 'c', 'h', 'w', 'x', 'out'],
 *   returns: 'void',
 *   split: {
 *     count: 'n',                                       // split the samples
 *     advance: { x: ['c', 'h', 'w'], out: (s) => (s.c * s.h * s.w) / 4 },
 *     work: ({ n, c, h, w }) => n * c * h * w,          // elements read
 *     min: MIN_SHARE_ELEMENTS,
 *   },
 * }),
 * ```
 *
 * A kernel without a `split` always runs whole on the calling thread (and is not in the thread
 * protocol's list). A kernel that a worker runs takes at most 19 arguments (a worker slot:
 * `thread-protocol.ts` `SLOT`; the test checks it).
 *
 * ## Split rules: results bitwise identical for any thread count
 *
 * A split never divides a reduction: every output entry is computed by one thread with exactly
 * the sequence of operations the whole call would use, so there is nothing to reduce afterwards
 * and no order to fix. A split rule is only correct for a kernel whose output entries are
 * independent across the split dimension (and whose loops restricted to a range do the same
 * operations as the whole call: mind 2-lane loops, whose shares must start at even offsets —
 * `quantum: 2`). Split kernels return void (a share's result is dropped).
 *
 * Every rule has a `work(call)` estimate (multiply-adds, or elements × a cost weight) and a
 * `min` (default {@link MIN_SHARE_WORK} multiply-adds; {@link MIN_SHARE_ELEMENTS} for elementwise
 * and copying kernels): a call whose work is below 2 · `min` runs whole on the calling thread,
 * without looking further into the rule — a share has to pay for waking a worker (~10–50 µs).
 * Otherwise the number of shares is at most `min(threads, ⌊work / min⌋)`. (This check reads the
 * call through a light view of its arguments — getters, so no spreading in `work` — and only a
 * call that passes it is turned into a record.)
 *
 * Vocabulary ({@link SplitRule}):
 *
 * - **Count rule** ({@link CountSplit}): `count` names the argument that counts independent items
 *   (samples, directions, rows, columns, elements); a call is split into contiguous item ranges
 *   [i0, i1) with boundaries on multiples of `quantum` (default 1), at most ⌊count / quantum⌋
 *   shares. In the share of items i0 … i1 − 1, `count` becomes i1 − i0 and:
 *   - `advance: { p: ['a', 'b'] }`: pointer `p` moves by 8 · i0 · a · b bytes (the named
 *     arguments' product is the item's size in doubles; `[]`: one double per item;
 *     a function `(call) => doubles` for sizes that are not a product of arguments;
 *     `{ i32: ['a'] }` for an i32 plane, 4 · i0 · a bytes); a float32 twin's rule has
 *     `bytes: 4`: its float planes move 4 bytes per element;
 *   - `optional: ['p']`: pointer `p` may be 0 (absent), and then stays 0 in every share;
 *   - `index: ['p0']`: `p0` is an item index (e.g. the first unit direction) and moves by i0;
 *   - every other argument is passed unchanged;
 *   - `work`, `min`: as above;
 *   - `single(call, ctx)`: an optional special path for calls of exactly one item (that pass the
 *     work check), by name (see {@link SplitFn}); when it declines (`undefined`) the count rule
 *     runs (one item: the whole call on this thread).
 * - **Custom rule** ({@link CustomSplit}): `work`, `min` and a function `(call, ctx) => shares`,
 *   run for calls that pass the work check, that reads the call by name and returns shares
 *   `[kernel, call by name]`, `undefined` (not worth splitting after all: the whole call runs on
 *   this thread) or `'done'` (it ran the call itself through `ctx.call`).
 *   `shares` lists the kernels its shares run when that is not the kernel itself (dsyrkLower's
 *   shares run dsyrkLowerRange). {@link SplitContext} gives the share count, the range helpers
 *   and calls by name.
 * - `worker: true` puts a kernel in the thread protocol without a split of its own (`dzero`: the
 *   pool's failure tests run it as a share).
 *
 * This module has no runtime imports: the worker (`thread-worker.ts`, through
 * `thread-protocol.ts`) loads it to resolve slot indices.
 *
 * @module
 */

/** Work (multiply-adds, or elements × a cost weight) below which a share is not worth a worker. */
export const MIN_SHARE_WORK = 2 ** 17;
/** Elementwise (and copying) kernels: fewest elements (× cost weight) per share. */
export const MIN_SHARE_ELEMENTS = 2 ** 15;

/** What a kernel returns to JavaScript: nothing, or one number (i32, usize or f64). */
export type Returns = 'void' | 'number';

/** A kernel call by argument name (`{ m, n, k, … }`). */
export type Call<N extends string = string> = { readonly [K in N]: number };

/** One share a split rule asks for: the kernel to run and its arguments by name. */
export type NamedShare = readonly [kernel: string, call: Call];

/** What a split rule's code may use (built by `parallel-kernels.ts` for the core's pool). */
export interface SplitContext {
  /** How many shares a call of `work` gets: `min(threads, ⌊work / min⌋)`, at least 1 (1: no split). `min` defaults to {@link MIN_SHARE_WORK}. */
  shares(work: number, min?: number): number;
  /** [0, total) in `parts` contiguous ranges with boundaries on multiples of `quantum` (`parallel-kernels.ts` `splitRange`). */
  splitRange(total: number, parts: number, quantum: number): [number, number][];
  /** Column-panel ranges [jb, je) of a d × d lower triangle with about equal areas (`parallel-kernels.ts` `splitTriangle`). */
  splitTriangle(d: number, parts: number): [number, number][];
  /** Call a kernel by name on the core's exports (a split kernel splits by its own rule). */
  call(kernel: string, call: Call): unknown;
  /** Call a kernel by name on the calling thread only. */
  raw(kernel: string, call: Call): unknown;
}

/**
 * A split rule's own code. Returns the shares (each `[kernel, call by name]`; the first runs on
 * the calling thread), `undefined` when the call is not worth splitting (it then runs whole on
 * the calling thread), or `'done'` when it ran the call itself (through `ctx.call` / `ctx.raw`).
 */
export type SplitFn<N extends string> = (call: Call<N>, ctx: SplitContext) => readonly NamedShare[] | 'done' | undefined;

/** Split the independent items counted by one argument (see the module documentation). */
export interface CountSplit<N extends string> {
  /** The argument counting independent items. */
  readonly count: N;
  /** Share boundaries on multiples of this many items (2 for 2-lane elementwise loops); default 1. */
  readonly quantum?: number;
  /**
   * Pointers that move with the first item i0: by `bytes` · i0 · (product of the named arguments),
   * or `bytes` · i0 · f(call); `{ i32: [...] }`: an i32 plane (max-pool indices), 4 · i0 · product
   * whatever the element type.
   */
  readonly advance?: { readonly [P in N]?: readonly N[] | ((call: Call<N>) => number) | { readonly i32: readonly N[] } };
  /** Bytes per element of the advanced pointers: 8 (float64, the default) or 4 (a float32 twin). */
  readonly bytes?: 4 | 8;
  /** Pointers among `advance` for which 0 means absent: they stay 0. */
  readonly optional?: readonly N[];
  /** Item indices that move by i0. */
  readonly index?: readonly N[];
  /** Cost of the call (multiply-adds, or elements × a cost weight): below 2 · `min`, the call runs whole. */
  readonly work: (call: Call<N>) => number;
  /** Least work per share; default {@link MIN_SHARE_WORK}. */
  readonly min?: number;
  /** A special path for calls of exactly one item that pass the work check (may decline with `undefined`). */
  readonly single?: SplitFn<N>;
}

/** A split by the kernel's own code (see the module documentation). */
export interface CustomSplit<N extends string> {
  /** Cost of the call (multiply-adds, or elements × a cost weight): below 2 · `min`, the call runs whole without `custom`. */
  readonly work: (call: Call<N>) => number;
  /** Least work per share; default {@link MIN_SHARE_WORK}. */
  readonly min?: number;
  /** Splits a call that passed the work check. */
  readonly custom: SplitFn<N>;
  /** Kernels the shares run, when not (only) this kernel. */
  readonly shares?: readonly string[];
}

/** How the threaded core splits a call of one kernel. */
export type SplitRule<N extends string> = CountSplit<N> | CustomSplit<N>;

/** One table entry (the shape {@link kernel} returns, with the argument names and result kept as literal types). */
export interface KernelSpec<A extends readonly string[] = readonly string[], R extends Returns = Returns> {
  /** Argument names, in the WebAssembly function's parameter order. */
  readonly args: A;
  readonly returns: R;
  /** How the threaded core splits a call; absent: the kernel always runs whole on the calling thread. */
  readonly split?: SplitRule<string>;
  /** Runnable as a worker share without a split of its own. */
  readonly worker?: boolean;
}

/** The arguments of dgemm and sgemm (BLAS order, row-major; pointers in bytes, sizes in elements). */
const GEMM_ARGS = ['transA', 'transB', 'm', 'n', 'k', 'alpha', 'a', 'lda', 'b', 'ldb', 'beta', 'c', 'ldc'] as const;

/**
 * The split of a GEMM kernel with `bytes`-byte entries and a `rows` × `cols` micro-tile (when
 * m, n, k > 0 and alpha ≠ 0): rows of C in multiples of `rows`, or columns of C in multiples of
 * `cols` when C is wide (n > m and n ≥ 2·cols). Why identical: an entry depends on its row of
 * op(A), its column of op(B) and the k-blocking, which depends on k alone; every share stays on
 * the packed path.
 */
function gemmSplit(name: 'dgemm' | 'sgemm', bytes: number, rows: number, cols: number): CustomSplit<(typeof GEMM_ARGS)[number]> {
  return {
    work: ({ m, n, k, alpha }) => (m > 0 && n > 0 && k > 0 && alpha !== 0 ? m * n * k : 0),
    custom: (call, ctx) => {
      const { transA, transB, m, n, k, a, lda, b, ldb, c, ldc } = call;
      const parts = ctx.shares(m * n * k);
      if (parts < 2) return undefined;
      if (m >= n || n < 2 * cols) {
        // Rows i0 … i1 of C and op(A) (A stored m × k: row offset; Aᵀ stored k × m: column offset).
        return ctx.splitRange(m, parts, rows).map(([i0, i1]): NamedShare => [name, { ...call, m: i1 - i0, a: transA ? a + bytes * i0 : a + bytes * i0 * lda, c: c + bytes * i0 * ldc }]);
      }
      // Columns j0 … j1 of C and op(B) (B stored k × n: column offset; Bᵀ stored n × k: row offset).
      return ctx.splitRange(n, parts, cols).map(([j0, j1]): NamedShare => [name, { ...call, n: j1 - j0, b: transB ? b + bytes * j0 * ldb : b + bytes * j0, c: c + bytes * j0 }]);
    },
  };
}

/**
 * The element type of a kernel's float planes: float64 (`bytes` 8, the kernel's own name) or
 * float32 (`bytes` 4, the twin's name: the float64 name + `32`).
 */
export interface ElementType {
  readonly bytes: 4 | 8;
  /** Elements per 128-bit SIMD vector (2 or 4): the share quantum of a kernel with lane loops and one tail. */
  readonly lanes: 2 | 4;
  /** The kernel of this element type for a float64 kernel name. */
  name(float64Name: string): string;
}
/** float64 planes: the kernels' own names. */
export const F64: ElementType = Object.freeze({ bytes: 8, lanes: 2, name: (n: string) => n });
/** float32 planes: the `…32` twins. */
export const F32: ElementType = Object.freeze({ bytes: 4, lanes: 4, name: (n: string) => `${n}32` });

/**
 * The split of an elementwise kernel with a periodic factor, `(blocks, len, d, x, …, out)` with
 * x, out (and y) of blocks × len and d (and q) of len (`weight` units of work per element): one
 * block: element ranges starting at multiples of the SIMD lanes; several blocks: ranges of whole
 * blocks. Why identical: elementwise; the lane loop's tail stays at the end of a block.
 */
function periodicSplit<N extends string>(t: ElementType, name: string, weight: number): CustomSplit<N> {
  const rule: CustomSplit<string> = {
    work: ({ blocks, len }) => weight * blocks! * len!,
    min: MIN_SHARE_ELEMENTS,
    custom: (call, ctx) => {
      const blocks = call.blocks!,
        len = call.len!;
      const parts = ctx.shares(weight * blocks * len, MIN_SHARE_ELEMENTS);
      if (parts < 2) return undefined;
      // Element pointers move with the element offset, the periodic ones (d, q) only in-block.
      const move = (e0: number, inBlock: boolean): Call => {
        const out: Record<string, number> = { ...call };
        for (const p of ['x', 'y', 'out'] as const) if (p in call) out[p] = call[p]! + t.bytes * e0;
        if (inBlock) for (const p of ['d', 'q'] as const) if (p in call) out[p] = call[p]! + t.bytes * e0;
        return out;
      };
      if (blocks === 1) {
        const p = Math.min(parts, Math.floor(len / t.lanes));
        if (p < 2) return undefined;
        return ctx.splitRange(len, p, t.lanes).map(([t0, t1]): NamedShare => [t.name(name), { ...move(t0, true), len: t1 - t0 }]);
      }
      const bp = Math.min(parts, blocks);
      if (bp < 2) return undefined;
      return ctx.splitRange(blocks, bp, 1).map(([b0, b1]): NamedShare => [t.name(name), { ...move(b0 * len, false), blocks: b1 - b0 }]);
    },
  };
  return rule as CustomSplit<N>;
}

/**
 * One table entry. The argument names type the split rule: a rule naming an argument the kernel
 * does not have does not compile. Names are the AssemblyScript parameter names: plain
 * identifiers, unique per kernel, other than `$` and the members of `Object.prototype`.
 */
function kernel<const A extends readonly string[], const R extends Returns>(spec: {
  readonly args: A;
  readonly returns: R;
  readonly split?: SplitRule<A[number]>;
  readonly worker?: true;
}): KernelSpec<A, R> {
  return spec as unknown as KernelSpec<A, R>;
}

/** An entry with a float32 twin (see {@link twinned}). */
interface TwinnedSpec<A extends readonly string[], R extends Returns> extends KernelSpec<A, R> {
  readonly float32: true;
}

/**
 * An entry with a float32 twin `<name>32`: the same arguments and result on float32 planes (4
 * bytes per element, 4-byte alignment; sizes still in elements; f64 scalars rounded to f32 where
 * used; i32 planes unchanged). `split` is a count rule — the twin's pointers then advance 4 bytes
 * per element — or a function of the element type (a custom rule that names kernels and offsets
 * pointers: it must use `t.name(…)` and `t.bytes`). Both entries are generated by {@link withTwins}.
 */
function twinned<const A extends readonly string[], const R extends Returns>(spec: {
  readonly args: A;
  readonly returns: R;
  readonly split?: CountSplit<A[number]> | ((t: ElementType) => SplitRule<A[number]> | undefined);
  readonly worker?: true;
}): TwinnedSpec<A, R> {
  return { ...spec, float32: true } as unknown as TwinnedSpec<A, R>;
}

/** The float64 entry and the float32 twin of every {@link twinned} entry of a table. */
type WithTwins<B> = { readonly [K in keyof B]: B[K] } & {
  readonly [K in keyof B as B[K] extends { readonly float32: true } ? `${K & string}32` : never]: B[K];
};

/** Expands the {@link twinned} entries of `base` into their float64 and float32 entries, in place of the original. */
function withTwins<const B extends Record<string, KernelSpec>>(base: B): WithTwins<B> {
  const out: Record<string, KernelSpec> = {};
  for (const [name, spec] of Object.entries(base)) {
    const twin = (spec as { float32?: true }).float32 === true;
    const split = spec.split as SplitRule<string> | ((t: ElementType) => SplitRule<string>) | undefined;
    const at = (t: ElementType): KernelSpec => {
      const rule = typeof split === 'function' ? split(t) : split === undefined || 'custom' in split ? split : { ...split, bytes: t.bytes };
      return { args: spec.args, returns: spec.returns, ...(rule ? { split: rule } : {}), ...(spec.worker ? { worker: true } : {}) };
    };
    out[name] = twin ? at(F64) : spec;
    if (twin) out[F32.name(name)] = at(F32);
  }
  return out as WithTwins<B>;
}

/**
 * Every exported kernel of `assembly/`, grouped by source file, in export order. See the module
 * documentation for the entry format and the split-rule vocabulary.
 */
export const KERNEL_TABLE = withTwins({
  // memory.ts: the allocator (the main thread's instance alone calls it)
  alloc: kernel({ args: ['bytes'], returns: 'number' }),
  free: kernel({ args: ['ptr'], returns: 'void' }),
  memoryBytes: kernel({ args: [], returns: 'number' }),

  // linalg/blas.ts
  ddot: kernel({ args: ['n', 'x', 'y'], returns: 'number' }),
  daxpy: kernel({ args: ['n', 'alpha', 'x', 'y'], returns: 'void' }),
  dscal: kernel({ args: ['n', 'alpha', 'x'], returns: 'void' }),
  dgemv: kernel({ args: ['m', 'n', 'alpha', 'a', 'lda', 'x', 'beta', 'y'], returns: 'void' }),
  dgemvT: kernel({ args: ['m', 'n', 'alpha', 'a', 'lda', 'x', 'beta', 'y'], returns: 'void' }),
  dsymvLower: kernel({ args: ['n', 'alpha', 'a', 'lda', 'x', 'beta', 'y'], returns: 'void' }),
  dsymMirrorLower: kernel({ args: ['n', 'a', 'lda'], returns: 'void' }),
  /** Not split; a worker share in the pool's failure tests (`ThreadPool.crashForTesting`). */
  dzero: twinned({ args: ['m', 'n', 'a', 'lda'], returns: 'void', worker: true }),

  // linalg/gram.ts
  gramWorkspaceBytes: kernel({ args: [], returns: 'number' }),
  gramSetWorkspace: kernel({ args: ['ptr'], returns: 'void' }),
  /**
   * Gram, Fisher and empirical-Fisher matrices. Split: column panels [jb, je) of the lower
   * triangle (`dsyrkLowerRange` shares), balanced by the triangle's area, at most ⌊d/4⌋ panels,
   * only for d ≥ 8. Why identical: each share runs the full call's loops, restricted to its
   * panels (an entry's sum over the n samples stays whole).
   */
  dsyrkLower: twinned({
    args: ['n', 'd', 'x', 'ldx', 'w', 'incw', 'c', 'ldc'],
    returns: 'void',
    split: (t) => ({
      shares: [t.name('dsyrkLowerRange')],
      work: ({ n, d }) => (n > 0 && d >= 8 ? (n * d * d) / 2 : 0),
      custom: (call, ctx) => {
        const { n, d } = call;
        const parts = Math.min(ctx.shares((n * d * d) / 2), Math.floor(d / 4));
        if (parts < 2) return undefined;
        return ctx.splitTriangle(d, parts).map(([jb, je]): NamedShare => [t.name('dsyrkLowerRange'), { ...call, jb, je }]);
      },
    }),
  }),
  dsyrkLowerRange: twinned({ args: ['n', 'd', 'x', 'ldx', 'w', 'incw', 'c', 'ldc', 'jb', 'je'], returns: 'void' }),
  dsyrkLowerCsr: kernel({ args: ['n', 'indptr', 'indices', 'values', 'w', 'incw', 'c', 'ldc'], returns: 'void' }),
  dsyrkBlocksLower: kernel({ args: ['n', 'd', 'm', 'x', 'ldx', 'lam', 'c', 'ldc'], returns: 'void' }),
  dgerLower: kernel({ args: ['d', 'alpha', 'u', 'v', 'c', 'ldc'], returns: 'void' }),

  // linalg/gemm.ts
  gemmWorkspaceBytes: kernel({ args: [], returns: 'number' }),
  gemmSetWorkspace: kernel({ args: ['ptr'], returns: 'void' }),
  gemmWorkspace: kernel({ args: [], returns: 'number' }),
  gemmSmallFlops: kernel({ args: [], returns: 'number' }),
  /**
   * C ← alpha·op(A)·op(B) + beta·C. Split (when m, n, k > 0 and alpha ≠ 0): rows of C in
   * multiples of 4, or columns of C in multiples of 4 when C is wide (n > m and n ≥ 8). Why
   * identical: an entry depends on its row of op(A), its column of op(B) and the k-blocking,
   * which depends on k alone; every share stays on the packed path.
   */
  dgemm: kernel({ args: GEMM_ARGS, returns: 'void', split: gemmSplit('dgemm', 8, 4, 4) }),

  // linalg/sgemm.ts
  /**
   * C ← alpha·op(A)·op(B) + beta·C in float32 (4-byte entries: pointer offsets are 4 bytes per
   * element). Split (when m, n, k > 0 and alpha ≠ 0): rows of C in multiples of 4 (the tile
   * height), or columns of C in multiples of 8 (the tile width) when C is wide (n > m and
   * n ≥ 16). Why identical: an entry depends on its row of op(A), its column of op(B) and the
   * k-blocking, which depends on k alone (partial tiles run the same lane operations as full
   * ones); every share stays on the packed path.
   */
  sgemm: kernel({ args: GEMM_ARGS, returns: 'void', split: gemmSplit('sgemm', 4, 4, 8) }),

  // linalg/cholesky.ts
  dpotrfLower: kernel({ args: ['n', 'lambda', 'a', 'lda'], returns: 'number' }),
  dtrsmLowerLeft: kernel({ args: ['n', 'nrhs', 'a', 'lda', 'b', 'ldb'], returns: 'void' }),
  dtrsmLowerTransLeft: kernel({ args: ['n', 'nrhs', 'a', 'lda', 'b', 'ldb'], returns: 'void' }),
  dpotrsLower1: kernel({ args: ['n', 'a', 'lda', 'b'], returns: 'void' }),
  dpotrsLower: kernel({ args: ['n', 'nrhs', 'a', 'lda', 'b', 'ldb'], returns: 'void' }),
  dpotrfLogDet: kernel({ args: ['n', 'a', 'lda'], returns: 'number' }),

  // linalg/eig.ts
  dsyevLower: kernel({ args: ['n', 'wantV', 'maxSweeps', 'a', 'lda', 'work', 'w', 'v', 'ldv'], returns: 'number' }),

  // models/linear.ts
  linearForward: kernel({ args: ['n', 'm', 'd', 'x', 'ldx', 'theta', 'f'], returns: 'void' }),
  linearForwardCsr: kernel({ args: ['n', 'm', 'd', 'indptr', 'indices', 'values', 'theta', 'f'], returns: 'void' }),
  linearBackward: kernel({ args: ['n', 'm', 'd', 'x', 'ldx', 'r', 'alpha', 'g'], returns: 'void' }),
  linearBackwardCsr: kernel({ args: ['n', 'm', 'd', 'indptr', 'indices', 'values', 'r', 'alpha', 'g'], returns: 'void' }),
  linearPerSample: kernel({ args: ['n', 'm', 'd', 'x', 'ldx', 'r', 'out'], returns: 'void' }),
  dsyrkDiag: twinned({ args: ['n', 'd', 'x', 'ldx', 'w', 'incw', 'out'], returns: 'void' }),
  dsyrkDiagCsr: kernel({ args: ['n', 'indptr', 'indices', 'values', 'w', 'incw', 'out'], returns: 'void' }),

  // nn/activation.ts
  /**
   * Activation values and derivatives. Split: contiguous element ranges starting at multiples of
   * the SIMD lanes (2 for float64, 4 for float32; d1, d2 = 0 stay 0); transcendental kinds (tanh,
   * sigmoid, softplus, gelu: ~10× a multiply-add) weigh 8 per element, relu (3) and identity (0)
   * 1. Why identical: elementwise; the lane loop has a tail only at the end of the last range, as
   * in the whole call.
   */
  actForward: twinned({
    args: ['kind', 'n', 'z', 'a', 'd1', 'd2'],
    returns: 'void',
    split: (t) => ({
      count: 'n',
      quantum: t.lanes,
      bytes: t.bytes,
      advance: { z: [], a: [], d1: [], d2: [] },
      optional: ['d1', 'd2'],
      work: ({ kind, n }) => n * (kind === 3 || kind === 0 ? 1 : 8),
      min: MIN_SHARE_ELEMENTS,
    }),
  }),
  /** tanh's σ″ = (−2·a)·σ′ from the kept value and σ′ (the second-order pass). Split: elements. Why identical: elementwise. */
  tanhSecond: twinned({
    args: ['n', 'a', 'd1', 'd2'],
    returns: 'void',
    split: (t) => ({
      count: 'n',
      quantum: t.lanes,
      bytes: t.bytes,
      advance: { a: [], d1: [], d2: [] },
      work: ({ n }) => n,
      min: MIN_SHARE_ELEMENTS,
    }),
  }),

  // nn/dense.ts
  /** Bias broadcast. Split: rows of C. Why identical: copies. */
  denseBroadcastRows: twinned({
    args: ['n', 'o', 'b', 'c'],
    returns: 'void',
    split: { count: 'n', advance: { c: ['o'] }, work: ({ n, o }) => n * o, min: MIN_SHARE_ELEMENTS },
  }),
  /**
   * Column sums. Split: column ranges starting at even offsets. Why identical: one sum per
   * column, rows in order, in the column pair's lanes as in the whole call.
   */
  denseColSums: kernel({
    args: ['n', 'o', 'x', 'ldx', 'alpha', 'out'],
    returns: 'void',
    split: { count: 'o', quantum: 2, advance: { x: [], out: [] }, work: ({ n, o }) => n * o, min: MIN_SHARE_ELEMENTS },
  }),
  /**
   * Elementwise product with a periodic factor. Split: one block (blocks = 1): element ranges
   * starting at multiples of the SIMD lanes; several blocks: ranges of whole blocks. Why
   * identical: elementwise; the lane loop's tail stays at the end of a block, as in the whole call.
   */
  denseMul: twinned({
    args: ['blocks', 'len', 'd', 'x', 'out'],
    returns: 'void',
    split: (t) => periodicSplit(t, 'denseMul', 1),
  }),
  /** Per-sample broadcast product; d is n × c, x and out (n·k) × c. Split: samples. Why identical: per-sample rows. */
  denseMulRep: twinned({
    args: ['n', 'k', 'c', 'd', 'x', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { d: ['c'], x: ['k', 'c'], out: ['k', 'c'] }, work: ({ n, k, c }) => n * k * c, min: MIN_SHARE_ELEMENTS },
  }),
  /**
   * out = d ⊙ x ⊙ q + y with d periodic. The float64 kernel is not split (the batched residual
   * product calls it per chunk of columns); the float32 twin splits as `denseMul`.
   */
  denseFmaPeriodic: twinned({
    args: ['blocks', 'len', 'd', 'x', 'q', 'y', 'out'],
    returns: 'void',
    split: (t) => (t.bytes === 8 ? undefined : periodicSplit(t, 'denseFmaPeriodic', 2)),
  }),
  denseSquare: twinned({ args: ['n', 'x', 'out'], returns: 'void' }),
  denseAugment: twinned({ args: ['n', 'm', 'a', 'lda', 'out'], returns: 'void' }),
  /**
   * Per-sample outer products (pullbacks); out rows i·k … per sample. Split: samples. Why
   * identical: a sample's sum over its k stack rows stays in one share.
   */
  denseOuterRows: twinned({
    args: ['n', 'k', 'o', 'm', 'delta', 'a', 'lda', 'out', 'ldout'],
    returns: 'void',
    split: {
      count: 'n',
      advance: { delta: ['k', 'o'], a: ['lda'], out: ['k', 'ldout'] },
      work: ({ n, k, o, m }) => n * k * o * (m + 1),
      min: MIN_SHARE_ELEMENTS,
    },
  }),
  /** Per-sample Kronecker factors; out is n × (p·q). Split: samples. Why identical: a sample's sum over its k rows stays in one share. */
  densePairOuter: kernel({
    args: ['n', 'k', 'p', 'q', 'x', 'y', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { x: ['k', 'p'], y: ['k', 'q'], out: ['p', 'q'] }, work: ({ n, k, p, q }) => n * k * p * q, min: MIN_SHARE_ELEMENTS },
  }),
  /** Lower triangles of per-sample Kronecker factors; out is n × p(p+1)/2. Split: samples. Why identical: as densePairOuter. */
  densePairOuterLower: kernel({
    args: ['n', 'k', 'p', 'x', 'out'],
    returns: 'void',
    split: {
      count: 'n',
      advance: { x: ['k', 'p'], out: ({ p }) => (p * (p + 1)) / 2 },
      work: ({ n, k, p }) => (n * k * p * (p + 1)) / 2,
      min: MIN_SHARE_ELEMENTS,
    },
  }),
  /** Per-sample row sums of squares; out is n × o. Split: samples. Why identical: a sample's sum over its k rows stays in one share. */
  denseRowSqSums: kernel({
    args: ['n', 'k', 'o', 'x', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { x: ['k', 'o'], out: ['o'] }, work: ({ n, k, o }) => n * k * o, min: MIN_SHARE_ELEMENTS },
  }),
  denseScatterKron: kernel({ args: ['o1', 'm1', 'o2', 'm2', 't', 'c', 'ldc'], returns: 'void' }),
  denseScatterKronSym: kernel({ args: ['o', 'm', 't', 'c', 'ldc'], returns: 'void' }),
  denseTranspose: kernel({ args: ['m', 'n', 'a', 'lda', 'b', 'ldb'], returns: 'void' }),
  /**
   * Tangent input of a dense layer for kc directions. Split: the kc directions (column blocks:
   * independent products); one direction (a Hessian-vector product's R-operator pass): rows of
   * A and Z in multiples of 4 (a row-split dgemm, then per-row bias adds). Why identical:
   * independent columns of a batched product; a row keeps the whole product's k-blocking.
   */
  mlpTangentIn: kernel({
    args: ['kc', 'n', 'nin', 'nout', 'a', 'lda', 'vt', 'ldv', 'z', 'beta'],
    returns: 'void',
    split: {
      count: 'kc',
      advance: { vt: ['ldv'], z: ['n', 'nout'] },
      work: ({ kc, n, nin, nout }) => kc * n * nin * nout,
      single: (call, ctx) => {
        const { n, nin, nout, a, lda, z } = call;
        const parts = Math.min(ctx.shares(n * nin * nout), n);
        if (parts < 2) return undefined;
        return ctx.splitRange(n, parts, 4).map(([r0, r1]): NamedShare => ['mlpTangentIn', { ...call, n: r1 - r0, a: a + 8 * r0 * lda, z: z + 8 * r0 * nout }]);
      },
    },
  }),
  /**
   * Tangent of the backpropagated input gradient for kc directions. Split: directions; one
   * direction: rows of g and G in multiples of 4. Why identical: as mlpTangentIn.
   */
  mlpTangentBack: kernel({
    args: ['kc', 'n', 'nin', 'nout', 'g', 'vt', 'ldv', 'ga', 'beta'],
    returns: 'void',
    split: {
      count: 'kc',
      advance: { vt: ['ldv'], ga: ['n', 'nin'] },
      work: ({ kc, n, nin, nout }) => kc * n * nin * nout,
      single: (call, ctx) => {
        const { n, nin, nout, g, ga } = call;
        const parts = Math.min(ctx.shares(n * nin * nout), n);
        if (parts < 2) return undefined;
        return ctx.splitRange(n, parts, 4).map(([r0, r1]): NamedShare => ['mlpTangentBack', { ...call, n: r1 - r0, g: g + 8 * r0 * nout, ga: ga + 8 * r0 * nin }]);
      },
    },
  }),
  /**
   * Second-order parameter gradients for kc directions (dg, da = 0: zero, stay 0). Split:
   * directions; one direction: the kernel's own steps for j = 0, in its order — dgemm, column
   * sums, dgemm (or dzero) — each split by its own rule. Why identical: independent directions;
   * the same steps in the same order.
   */
  mlpTangentGrad: kernel({
    args: ['kc', 'n', 'nin', 'nout', 'dg', 'a', 'lda', 'g', 'da', 'hv', 'ldh'],
    returns: 'void',
    split: {
      count: 'kc',
      advance: { dg: ['n', 'nout'], da: ['n', 'nin'], hv: ['ldh'] },
      optional: ['dg', 'da'],
      work: ({ kc, n, nin, nout }) => 2 * kc * n * nin * nout,
      single: (call, ctx) => {
        const { n, nin, nout, dg, a, lda, g, da, hv } = call;
        if (ctx.shares(2 * n * nin * nout) < 2) return undefined;
        // The steps of assembly/nn/dense.ts mlpTangentGrad for j = 0, in its order.
        const hw = hv,
          hb = hv + 8 * nout * nin;
        let beta = 0;
        if (dg !== 0) {
          ctx.call('dgemm', { transA: 1, transB: 0, m: nout, n: nin, k: n, alpha: 1, a: dg, lda: nout, b: a, ldb: lda, beta: 0, c: hw, ldc: nin });
          ctx.call('denseColSums', { n, o: nout, x: dg, ldx: nout, alpha: 1, out: hb });
          beta = 1;
        } else ctx.raw('dzero', { m: 1, n: nout, a: hb, lda: nout });
        if (da !== 0) ctx.call('dgemm', { transA: 1, transB: 0, m: nout, n: nin, k: n, alpha: 1, a: g, lda: nout, b: da, ldb: nin, beta, c: hw, ldc: nin });
        else if (dg === 0) ctx.raw('dzero', { m: nout, n: nin, a: hw, lda: nin });
        return 'done';
      },
    },
  }),
  /**
   * Tangent forward of kc unit directions e_{p0+j} (the dense Hessian's residual columns; z2 = 0:
   * no next layer, stays 0). Split: the unit directions. Why identical: independent directions.
   */
  mlpUnitTangent: kernel({
    args: ['kc', 'n', 'nin', 'nout', 'a', 'lda', 'p0', 'd', 'z', 't', 'w2', 'nout2', 'z2'],
    returns: 'void',
    split: {
      count: 'kc',
      advance: { z: ['n', 'nout'], t: ['n', 'nout'], z2: ['n', 'nout2'] },
      optional: ['z2'],
      index: ['p0'],
      work: ({ kc, n, nout, nout2 }) => kc * n * (2 * nout + nout2),
    },
  }),
  /** mlpTangentGrad for kc unit directions e_{p0+j} (dg, da = 0: zero, stay 0). Split: the unit directions. Why identical: independent directions. */
  mlpUnitGrad: kernel({
    args: ['kc', 'n', 'nin', 'nout', 'dg', 'sparse', 'a', 'lda', 'g', 'da', 'p0', 'noutLo', 'ninLo', 'hv', 'ldh'],
    returns: 'void',
    split: {
      count: 'kc',
      advance: { dg: ['n', 'nout'], da: ['n', 'nin'], hv: ['ldh'] },
      optional: ['dg', 'da'],
      index: ['p0'],
      work: ({ kc, n, nin, nout }) => kc * n * nin * nout,
    },
  }),

  // nn/conv.ts (the convolution's patch matrix and its adjoint; bias broadcast and position sums)
  convIm2col: twinned({ args: ['c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow', 'x', 'cols'], returns: 'void' }),
  convCol2im: twinned({ args: ['c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow', 'cols', 'x'], returns: 'void' }),
  /** Bias broadcast. Split: rows. Why identical: copies. */
  convBiasBroadcast: twinned({
    args: ['rows', 'co', 'S', 'b', 'y'],
    returns: 'void',
    split: { count: 'rows', advance: { y: ['co', 'S'] }, work: ({ rows, co, S }) => rows * co * S, min: MIN_SHARE_ELEMENTS },
  }),
  /**
   * Position sums. Split (ldout ≠ 0 only: ldout = 0 sums over the rows): rows. Why identical:
   * each row's sums stay whole.
   */
  convPositionSums: twinned({
    args: ['rows', 'co', 'S', 'g', 'alpha', 'beta', 'out', 'ldout'],
    returns: 'void',
    split: (t) => ({
      work: ({ rows, co, S, ldout }) => (ldout === 0 ? 0 : rows * co * S),
      min: MIN_SHARE_ELEMENTS,
      custom: (call, ctx) => {
        const { rows, co, S, g, out, ldout } = call;
        const parts = Math.min(ctx.shares(rows * co * S, MIN_SHARE_ELEMENTS), rows);
        if (ldout === 0 || parts < 2) return undefined;
        return ctx.splitRange(rows, parts, 1).map(([r0, r1]): NamedShare => [t.name('convPositionSums'), { ...call, rows: r1 - r0, g: g + t.bytes * r0 * co * S, out: out + t.bytes * r0 * ldout }]);
      },
    }),
  }),
  /** Blockwise transposes. Split: blocks. Why identical: copies. */
  convTranspose: twinned({
    args: ['rows', 'm', 'n', 'a', 'b'],
    returns: 'void',
    split: { count: 'rows', advance: { a: ['m', 'n'], b: ['m', 'n'] }, work: ({ rows, m, n }) => rows * m * n, min: MIN_SHARE_ELEMENTS },
  }),

  /**
   * Whole-batch conv products. Split: sample ranges (at most `nws` shares), share j on its own
   * workspace ws + j·cs. Why identical: every sample's products are the same unsplit dgemm calls
   * in any share (the worker instances have their own dgemm workspaces).
   */
  convForwardBatch: twinned({
    args: ['n', 'geo', 'o', 'w', 'b', 'x', 'v', 't', 'ldx', 'y', 'ldy', 'ws', 'cs', 'nws'],
    returns: 'void',
    split: (e) => ({
      work: ({ n, o, cs, x, t }) => n * o * cs * ((x !== 0 ? 1 : 0) + (t !== 0 ? 1 : 0)),
      custom: (call, ctx) => {
        const { n, o, cs, x, t, ldx, y, ldy, ws, nws } = call;
        const parts = Math.min(ctx.shares(n * o * cs * ((x !== 0 ? 1 : 0) + (t !== 0 ? 1 : 0))), nws, n);
        if (parts < 2) return undefined;
        return ctx
          .splitRange(n, parts, 1)
          .map(
            ([i0, i1], j): NamedShare => [
              e.name('convForwardBatch'),
              { ...call, n: i1 - i0, x: x && x + e.bytes * i0 * ldx, t: t && t + e.bytes * i0 * ldx, y: y + e.bytes * i0 * ldy, ws: ws + e.bytes * j * cs, nws: 1 },
            ],
          );
      },
    }),
  }),
  /** Whole-batch input cotangents. Split: row ranges, as convForwardBatch. Why identical: as convForwardBatch. */
  convBackInputBatch: twinned({
    args: ['rows', 'geo', 'o', 'w', 'gy', 'v', 'u', 'ldy', 'gx', 'ldx', 'ws', 'cs', 'nws'],
    returns: 'void',
    split: (t) => ({
      work: ({ rows, o, cs, v }) => rows * o * cs * (v !== 0 ? 2 : 1),
      custom: (call, ctx) => {
        const { rows, o, cs, gy, v, u, ldy, gx, ldx, ws, nws } = call;
        const parts = Math.min(ctx.shares(rows * o * cs * (v !== 0 ? 2 : 1)), nws, rows);
        if (parts < 2) return undefined;
        return ctx
          .splitRange(rows, parts, 1)
          .map(
            ([r0, r1], j): NamedShare => [
              t.name('convBackInputBatch'),
              { ...call, rows: r1 - r0, gy: gy + t.bytes * r0 * ldy, u: u && u + t.bytes * r0 * ldy, gx: gx + t.bytes * r0 * ldx, ws: ws + t.bytes * j * cs, nws: 1 },
            ],
          );
      },
    }),
  }),
  /** Whole-batch weight pullbacks. Split: sample ranges, as convForwardBatch. Why identical: as convForwardBatch. */
  convPullbacksBatch: twinned({
    args: ['n', 'k', 'geo', 'o', 'bias', 'x', 'ldx', 'gy', 'ldy', 'out', 'ldout', 'ws', 'cs', 'nws'],
    returns: 'void',
    split: (t) => ({
      work: ({ n, k, o, cs }) => n * k * o * cs,
      custom: (call, ctx) => {
        const { n, k, o, cs, x, ldx, gy, ldy, out, ldout, ws, nws } = call;
        const parts = Math.min(ctx.shares(n * k * o * cs), nws, n);
        if (parts < 2) return undefined;
        return ctx
          .splitRange(n, parts, 1)
          .map(
            ([i0, i1], j): NamedShare => [
              t.name('convPullbacksBatch'),
              { ...call, n: i1 - i0, x: x + t.bytes * i0 * ldx, gy: gy + t.bytes * i0 * k * ldy, out: out + t.bytes * i0 * k * ldout, ws: ws + t.bytes * j * cs, nws: 1 },
            ],
          );
      },
    }),
  }),

  /** Operand gather for one product over many samples' positions. Split: samples. Why identical: copies. */
  convGather: twinned({
    args: ['n', 'geo', 's', 'x', 'ldx', 'gy', 'ldy', 'o', 'px', 'gyc', 'ld'],
    returns: 'void',
    split: {
      count: 'n',
      advance: { x: ['ldx'], gy: ['ldy'], px: ['s'], gyc: ['s'] },
      optional: ['gy', 'gyc'],
      work: ({ n, ldx, s, o }) => n * (ldx + s * o) * 2,
      min: MIN_SHARE_ELEMENTS,
    },
  }),

  // nn/pool.ts
  /** Max pooling. Split: samples (idx: an i32 plane). Why identical: per-sample windows. */
  maxPoolForward: twinned({
    args: ['n', 'c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'oh', 'ow', 'x', 'y', 'idx'],
    returns: 'void',
    split: {
      count: 'n',
      advance: { x: ['c', 'h', 'w'], y: ['c', 'oh', 'ow'], idx: { i32: ['c', 'oh', 'ow'] } },
      work: ({ n, c, h, w }) => n * c * h * w,
      min: MIN_SHARE_ELEMENTS,
    },
  }),
  /** Gather through the max-pool record. Split: samples. Why identical: per-row copies. */
  poolGather: twinned({
    args: ['n', 'k', 'inS', 'outS', 'idx', 'x', 'y'],
    returns: 'void',
    split: { count: 'n', advance: { idx: { i32: ['outS'] }, x: ['k', 'inS'], y: ['k', 'outS'] }, work: ({ n, k, outS }) => n * k * outS, min: MIN_SHARE_ELEMENTS },
  }),
  /** Scatter through the max-pool record. Split: samples. Why identical: a row's adds stay in one share, in order. */
  poolScatter: twinned({
    args: ['n', 'k', 'inS', 'outS', 'idx', 'y', 'x'],
    returns: 'void',
    split: { count: 'n', advance: { idx: { i32: ['outS'] }, y: ['k', 'outS'], x: ['k', 'inS'] }, work: ({ n, k, inS }) => n * k * inS, min: MIN_SHARE_ELEMENTS },
  }),
  /** poolScatter for a 2 × 2, stride-2 max pool. Split: samples. Why identical: per-row writes. */
  maxPoolScatter22: twinned({
    args: ['n', 'k', 'c', 'h', 'w', 'oh', 'ow', 'idx', 'y', 'x'],
    returns: 'void',
    split: {
      count: 'n',
      advance: { idx: { i32: ['c', 'oh', 'ow'] }, y: ({ k, c, oh, ow }) => k * c * oh * ow, x: ['k', 'c', 'h', 'w'] },
      work: ({ n, k, c, h, w }) => n * k * c * h * w,
      min: MIN_SHARE_ELEMENTS,
    },
  }),
  /** Average pooling. Split: rows. Why identical: per-row windows. */
  avgPoolForward: twinned({
    args: ['rows', 'c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'oh', 'ow', 'x', 'y'],
    returns: 'void',
    split: { count: 'rows', advance: { x: ['c', 'h', 'w'], y: ['c', 'oh', 'ow'] }, work: ({ rows, c, h, w }) => rows * c * h * w, min: MIN_SHARE_ELEMENTS },
  }),
  /** Its adjoint. Split: rows. Why identical: a row's adds stay in one share, in order. */
  avgPoolBackward: twinned({
    args: ['rows', 'c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'oh', 'ow', 'y', 'x'],
    returns: 'void',
    split: { count: 'rows', advance: { y: ['c', 'oh', 'ow'], x: ['c', 'h', 'w'] }, work: ({ rows, c, h, w }) => rows * c * h * w, min: MIN_SHARE_ELEMENTS },
  }),

  // nn/norm.ts
  /** Per-channel affine map. Split: rows. Why identical: elementwise per row. */
  chanAffine: twinned({
    args: ['rows', 'c', 'S', 'scale', 'shift', 'x', 'beta', 'y'],
    returns: 'void',
    split: { count: 'rows', advance: { x: ['c', 'S'], y: ['c', 'S'] }, work: ({ rows, c, S }) => rows * c * S, min: MIN_SHARE_ELEMENTS },
  }),
  /** Per-row channel pullbacks. Split: samples. Why identical: each row's sums stay whole. */
  chanPullbacks: twinned({
    args: ['n', 'k', 'c', 'S', 'g', 'xhat', 'out', 'ldout'],
    returns: 'void',
    split: { count: 'n', advance: { g: ['k', 'c', 'S'], xhat: ['c', 'S'], out: ['k', 'ldout'] }, work: ({ n, k, c, S }) => 2 * n * k * c * S, min: MIN_SHARE_ELEMENTS },
  }),
  chanGrad: twinned({ args: ['n', 'k', 'c', 'S', 'g', 'xhat', 'beta', 'outG', 'outB'], returns: 'void' }),
  /** Layer-norm forward. Split: samples. Why identical: per-sample statistics stay whole. */
  lnForward: twinned({
    args: ['n', 'f', 'eps', 'x', 'xhat', 'rstd'],
    returns: 'void',
    split: { count: 'n', advance: { x: ['f'], xhat: ['f'], rstd: [] }, work: ({ n, f }) => 3 * n * f, min: MIN_SHARE_ELEMENTS },
  }),
  /** Layer-norm tangent. Split: samples. Why identical: per-sample means stay whole. */
  lnTangent: twinned({
    args: ['n', 'f', 'xhat', 'rstd', 't', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { xhat: ['f'], rstd: [], t: ['f'], out: ['f'] }, work: ({ n, f }) => 3 * n * f, min: MIN_SHARE_ELEMENTS },
  }),
  /** Layer-norm cotangents of a stack. Split: samples. Why identical: per-row means stay whole. */
  lnBackward: twinned({
    args: ['n', 'k', 'f', 'xhat', 'rstd', 'u', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { xhat: ['f'], rstd: [], u: ['k', 'f'], out: ['k', 'f'] }, work: ({ n, k, f }) => 3 * n * k * f, min: MIN_SHARE_ELEMENTS },
  }),
  /** Layer-norm second-order cotangent. Split: samples. Why identical: per-sample means stay whole. */
  lnBackward2: twinned({
    args: ['n', 'f', 'xhat', 'rstd', 't', 'u', 'du', 'out'],
    returns: 'void',
    split: { count: 'n', advance: { xhat: ['f'], rstd: [], t: ['f'], u: ['f'], du: ['f'], out: ['f'] }, work: ({ n, f }) => 6 * n * f, min: MIN_SHARE_ELEMENTS },
  }),

  // likelihoods/likelihood.ts
  likGaussian: kernel({ args: ['n', 'f', 'y', 'invVar', 'r', 'lam'], returns: 'number' }),
  likBernoulli: kernel({ args: ['n', 'f', 'y', 'clip', 'r', 'lam'], returns: 'number' }),
  likPoisson: kernel({ args: ['n', 'f', 'y', 'r', 'lam'], returns: 'number' }),
  likCategorical: kernel({ args: ['n', 'c', 'f', 'y', 'r', 'lam'], returns: 'number' }),
  residualOuter: kernel({ args: ['n', 'c', 'r', 'alpha', 'b'], returns: 'void' }),

  // grid/grid.ts
  gridLogPosVec: kernel({ args: ['n', 'x', 'out'], returns: 'void' }),
  gridExpVec: kernel({ args: ['n', 'x', 'out'], returns: 'void' }),
  gridLogVec: kernel({ args: ['n', 'x', 'out'], returns: 'void' }),
  gridGemmTn: kernel({ args: ['m', 'ne', 'k', 'a', 'lda', 'b', 'ldb', 'c', 'ce', 'cp', 'accumulate'], returns: 'void' }),
  gridSpmm: kernel({ args: ['rows', 'k', 'indptr', 'indices', 'values', 'b', 'ldb', 'c', 'ce', 'cp'], returns: 'void' }),
  gridZRows: kernel({ args: ['n0', 'nb', 'd', 'x', 'ldx', 'z', 'ldz'], returns: 'void' }),
  gridPotrf: kernel({ args: ['d', 'npairs', 'a', 'ps', 'div', 'lam', 'info', 'inv', 'first'], returns: 'void' }),
  gridPotrs: kernel({ args: ['d', 'npairs', 'l', 'ps', 'x', 'xs', 'first'], returns: 'void' }),
  gridLikelihoodPass: kernel({ args: ['ws', 'k'], returns: 'void' }),
  gridStep: kernel({ args: ['ws'], returns: 'number' }),
  gridSteps: kernel({ args: ['ws', 'maxSteps'], returns: 'number' }),
});

type Table = typeof KERNEL_TABLE;

/** Name of an exported kernel. */
export type KernelName = keyof Table & string;

/** A tuple of argument names as a tuple of `number` parameters. */
type NumberParams<A extends readonly string[]> = { -readonly [I in keyof A]: number };

/** The kernels as JavaScript functions, derived from {@link KERNEL_TABLE} (the basis of `KernelExports`). */
export type KernelFunctions = {
  [K in KernelName]: (...args: NumberParams<Table[K]['args']>) => Table[K]['returns'] extends 'number' ? number : void;
};

/** Every kernel name, in table order. */
export const KERNEL_NAMES = Object.keys(KERNEL_TABLE) as KernelName[];

/** Float64 kernels whose float32 kernel is not `<name>32`. */
const FLOAT32_NAMES: Readonly<Record<string, KernelName>> = { dgemm: 'sgemm' };

/** The float32 kernel of a float64 kernel (`convIm2col` → `convIm2col32`, `dgemm` → `sgemm`), or undefined when it has none. */
export function float32Kernel(name: string): KernelName | undefined {
  if (Object.hasOwn(FLOAT32_NAMES, name)) return FLOAT32_NAMES[name];
  const twin = `${name}32`;
  return Object.hasOwn(KERNEL_TABLE, twin) ? (twin as KernelName) : undefined;
}

/** The entry of `name` (throws for a name that is not in the table). */
export function kernelSpec(name: string): KernelSpec {
  if (!Object.hasOwn(KERNEL_TABLE, name)) throw new Error(`natgrad: internal: ${name} is not a kernel of the table (bindings/core/kernels.ts)`);
  return (KERNEL_TABLE as Record<string, KernelSpec>)[name]!;
}

/** The kernels a split rule's shares run: its `shares`, or the kernel itself. */
export function shareKernels(name: string): readonly string[] {
  const rule = kernelSpec(name).split;
  if (!rule) return [];
  return 'custom' in rule ? (rule.shares ?? [name]) : [name];
}

/**
 * The kernels a worker can run, in table order (the thread protocol's list): every kernel that a
 * split rule's shares run, and those marked `worker: true`.
 */
export function threadKernels(): readonly KernelName[] {
  const used = new Set<string>();
  for (const name of KERNEL_NAMES) {
    for (const k of shareKernels(name)) used.add(k);
    if (kernelSpec(name).worker) used.add(name);
  }
  return KERNEL_NAMES.filter((name) => used.has(name));
}

/** A positional call of `name` as a record by argument name. */
export function callOf(name: string, args: ArrayLike<number>): Call {
  const names = kernelSpec(name).args;
  const call: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) call[names[i]!] = args[i]!;
  return call;
}

/**
 * A call of `name` by argument name as its positional arguments. Throws (an internal error) when
 * the record misses an argument or has one the kernel does not take.
 */
export function argsOf(name: string, call: Call): number[] {
  const names = kernelSpec(name).args;
  const out = new Array<number>(names.length);
  for (let i = 0; i < names.length; i++) {
    const v = call[names[i]!];
    if (typeof v !== 'number') throw new Error(`natgrad: internal: a call of ${name} lacks argument ${names[i]}`);
    out[i] = v;
  }
  const keys = Object.keys(call);
  if (keys.length !== names.length) {
    const extra = keys.filter((k) => !names.includes(k));
    throw new Error(`natgrad: internal: ${name} takes no argument ${extra.join(', ')}`);
  }
  return out;
}
