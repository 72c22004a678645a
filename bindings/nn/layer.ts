/**
 * The layer contract. A {@link sequential} network is compiled into a chain of *ops* — one per
 * layer that computes something (a flatten moves no data and compiles to nothing; a residual block
 * compiles to its branches and an `add`). An op maps a batch of per-sample input rows to output
 * rows and knows its parameters' slice of θ. The network ({@link SequentialModel}) owns the loops
 * over ops, the trace's memory and every scratch block; an op only runs kernels on the byte
 * addresses it is handed, so an op never allocates.
 *
 * Notation for one op y = h(x, w) on a batch (x: N rows of `inSize`, y: N rows of `outSize`,
 * w: the op's `params` entries of θ):
 *
 * | method        | computes                                                                        |
 * |---------------|---------------------------------------------------------------------------------|
 * | `forward`     | y = h(x, w); fills the op's per-sample state (σ′, argmax indices, x̂ …)          |
 * | `tangent`     | ty = ∂_x h · tx + ∂_w h · vw  (tx or vw may be absent: 0)                        |
 * | `backInput`   | gx = (∂_x h)ᵀ gy for a stack of K cotangent rows per sample                      |
 * | `backParams`  | gw += Σ_rows (∂_w h)ᵀ gy (K = 1; accumulates)                                    |
 * | `pullbacks`   | row r of out = (∂_w h(x_{r/K}))ᵀ gy_r (per-row parameter pullbacks)             |
 * | `backward2`   | the R-operator of the backward pass: with gy's tangent dgy along (tx, vw),       |
 * |               | dgx = (∂_x h)ᵀ dgy + (∂_ε (∂_x h)(x + ε tx, w + ε vw))ᵀ gy and                   |
 * |               | hw += (∂_w h)ᵀ dgy + (∂_ε (∂_w h)(x + ε tx, w + ε vw))ᵀ gy (accumulates)         |
 *
 * Summed over a network, `backward2` gives Pearlmutter's Hessian-vector product: for f(θ) and
 * output cotangent R, Σ_n Σ_m R_nm ∇²f_nm v plus Jᵀ U when the output's dgy is seeded with U.
 *
 * Memory: every pointer is a byte address in the core's memory; rows are contiguous; "a stack"
 * is K consecutive rows per sample (row n·K + k belongs to sample n) and reads the sample's
 * forward record. The network hands an op its θ slice (`th`), the direction's θ slice (`vth`,
 * or 0) and a scratch block of at least `scratch(N, K)` elements per call on N samples.
 *
 * Element type: a network is float64 or float32 throughout (`sequential({ dtype })`). An op is
 * built for one element type (`bytes` per entry of every value, state and scratch plane; index
 * planes stay i32) and calls its kernels by their float64 names through `c.k`, which for a
 * float32 network resolves every name to its float32 twin (`Core.kernels`); so one op class serves
 * both types, and its offsets are `bytes`-sized.
 *
 * @module
 */
import type { Core, KernelExports } from '../core/wasm.js';
import type { SymMatrix } from '../linalg/symmatrix.js';
export { checkKeys, checkOptions } from '../core/options.js';

/**
 * Byte addresses of an op's state planes at the first sample of a call (see {@link Op.state}).
 *
 * @category Layers
 */
export type State = readonly number[];

/**
 * A per-sample shape: [features] or [channels, height, width].
 *
 * @category Layers
 */
export type Shape = readonly [number] | readonly [number, number, number];

/** Number of values in a shape. */
export function sizeOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Human-readable shape, e.g. `[16, 28, 28]`. */
export function showShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The kernels an op calls (the core's exports, typed from `bindings/core/kernels.ts`).
 *
 * @category Layers
 */
export type Kernels = KernelExports;

/** Bytes per element of a network's planes: 8 (float64) or 4 (float32). */
export type ElementBytes = 4 | 8;

/**
 * What an op is handed with every call.
 *
 * @category Layers
 */
export interface OpContext {
  readonly core: Core;
  /** The kernels of the network's element type under their float64 names (`core.kernels(dtype)`). */
  readonly k: Kernels;
  /** The network's element type. */
  readonly dtype: 'float32' | 'float64';
  /** Byte address of the op's θ slice (W, then b, … in the layer's order). */
  readonly th: number;
  /** Byte address of a scratch block of at least `op.scratch(N, K)` elements. */
  readonly scratch: number;
}

/**
 * Options of the KFAC factors of a dense or conv2d layer.
 *
 * @category Layers
 */
export interface KfacLayerOptions {
  /** 'expand' (KFC: positions as extra samples) or 'reduce' (positions averaged / summed). */
  readonly approximation: 'expand' | 'reduce';
  /** 'joint': the bias is the input factor's last coordinate; 'separate': its own block G. */
  readonly bias: 'joint' | 'separate';
}

/**
 * One compiled op. Every size is in elements (of the network's type) per sample unless said otherwise.
 *
 * @category Layers
 */
export interface Op {
  /** For messages and parameter-group names, e.g. `'layers[3] (conv2d)'`. */
  readonly label: string;
  /** The layer type (`'conv2d'`, …). */
  readonly type: string;
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  /** θ entries of this op (0: none). */
  readonly params: number;
  /**
   * The state `forward` keeps (σ′, argmax indices, x̂, …) as planes of N rows: the bytes per
   * sample of each plane. The network hands every method the planes' addresses at the first
   * sample of the call (`st[i]`), so a call on a range of samples sees that range's rows.
   */
  readonly state: readonly number[];
  /**
   * Elements of scratch any call on N samples (K stack rows each) needs; with `second`, what the
   * second-order pass (`backward2`) needs as well (an activation forms σ″ there instead of
   * keeping a σ″ plane from the forward pass).
   */
  scratch(N: number, K: number, second?: boolean): number;
  /** Set for a dense layer (the `ParameterGroup.dense` of today's KFAC and Kronecker paths). */
  readonly dense?: { readonly inputs: number; readonly outputs: number; readonly bias: boolean };
  /** Whether the op has a Kronecker-factored (KFAC) form: dense and conv2d. */
  readonly kronecker?: boolean;

  forward(c: OpContext, N: number, x: number, y: number, st: State): void;
  tangent(c: OpContext, N: number, x: number, st: State, tx: number, vth: number, ty: number): void;
  backInput(c: OpContext, N: number, K: number, st: State, gy: number, gx: number): void;
  backParams(c: OpContext, N: number, x: number, st: State, gy: number, gth: number): void;
  pullbacks(c: OpContext, N: number, K: number, x: number, st: State, gy: number, out: number, ldout: number): void;
  /** `y`: the op's output rows from the forward pass (an activation derives tanh's σ″ from them). */
  backward2(c: OpContext, N: number, x: number, st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number, y: number): void;
  /**
   * Kronecker factors over a chunk of samples, accumulated into A (a × a) and G (o × o) where a
   * is the input factor's size: sums only — the network applies the normalizations of
   * {@link KfacLayerOptions} once all chunks are in. A = 0 skips the input factor (then x is not
   * read), G = 0 the output factor (then gy is not read): the network builds A in one pass over
   * the forward values, G during the backward pass of the cotangent stack.
   */
  kfacAccumulate?(c: OpContext, N: number, K: number, x: number, gy: number, opts: KfacLayerOptions, A: number, G: number): void;
  /** Sizes of the factors: A is `kfacA(opts)` square, G is `outChannels` square. */
  kfacA?(opts: KfacLayerOptions): number;
  /** Output channels (G's size) and the positions S the factors are normalized with. */
  readonly kfacOut?: number;
  readonly kfacPositions?: number;
}

/** Per-layer Kronecker factors or, for a layer without a Kronecker form, its exact block. */
export type LayerCurvatureBlock =
  | { readonly kind: 'kronecker'; readonly A: SymMatrix; readonly G: SymMatrix; readonly bias: 'joint' | 'separate' | 'none' }
  | { readonly kind: 'exact'; readonly block: SymMatrix };

/** A positive (or, with `min` 0, non-negative) safe integer, else a RangeError naming `what`. */
export function checkInt(v: unknown, what: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`natgrad: ${what} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${typeof v === 'number' ? v : typeof v === 'string' ? `'${v}'` : String(v)}`);
  }
  return v;
}

/** A size given once or per axis → [height, width]. */
export function checkPair(v: unknown, what: string, min = 1): [number, number] {
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new RangeError(`natgrad: ${what} must be a number or a pair [height, width], got an array of ${v.length}`);
    return [checkInt(v[0], `${what}[0]`, min), checkInt(v[1], `${what}[1]`, min)];
  }
  const n = checkInt(v, what, min);
  return [n, n];
}

/** A boolean option (default when undefined). */
export function checkBool(v: unknown, what: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`natgrad: ${what} must be true or false, got ${String(v)}`);
  return v;
}

/** Raise the chaining error of a layer: "layers[2] (conv2d): …". */
export function chainError(label: string, message: string): RangeError {
  return new RangeError(`natgrad: sequential: ${label}: ${message}`);
}
