/**
 * `sequential({ input, layers })`: a network from layers, as a {@link Model} whose traces give
 * every curvature, product and optimizer of natgrad. The network owns the loops; each layer
 * (`bindings/nn/layers/<name>/`) is an {@link Op} that runs its kernels on the addresses it is
 * handed (see `layer.ts` for the contract).
 *
 * Compilation. The layer list is compiled into a chain of ops on *values* (per-sample rows):
 * value 0 is the input; an op reads one value and writes a new one; a flatten only changes the
 * shape; a residual block compiles its body and its shortcut from the same value and joins them
 * with an `add` node. θ is the ops' parameters in compilation order — layer order, the residual
 * body before its shortcut — each op in PyTorch's `parameters()` order.
 *
 * Passes. A trace keeps θ, every value (N rows) and every op's state from the forward pass in one
 * WebAssembly block. Every other pass runs over chunks of samples (at most {@link CHUNK_BYTES} of
 * per-pass buffers at a time, the same chunks for any thread count):
 * - tangent pass (J v): each op's `tangent`, zero tangents skipped;
 * - backward pass (Jᵀ R, for a stack of K cotangent rows per sample): each op's `backInput`,
 *   cotangents summed at branch points; parameter gradients, per-row pullbacks or Kronecker
 *   factors collected per op on the way;
 * - second-order pass (Σ R ∇²f v + Jᵀ U): tangent pass, backward pass for R, then each op's
 *   `backward2` from the output's seed U (Pearlmutter's R-operator on the backward pass).
 * Sums over samples (gradients, Grams, factors) accumulate chunk after chunk, in sample order.
 *
 * @module
 */
import { Handle } from '../core/handle.js';
import type { Dtype, FloatArray } from '../core/types.js';
import { checkBytes, checkSquare, DENSE_HINT } from '../core/limits.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { rng } from '../data/random.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { KfacFactorOptions, LayerExactBlock, LayerKfac, Model, ModelTrace, ParameterGroup } from '../models/model.js';
import { checkKeys, checkInt, chainError, type ElementBytes, type KfacLayerOptions, type Op, type OpContext, type Shape, showShape, sizeOf } from './layer.js';
import { activationKind, type Activation } from '../models/activations.js';
import { type ChainLayer, type DenseChain, MlpTrace } from './dense-chain.js';
import { buildActivation } from './layers/activation/index.js';
import { buildBatchNorm } from './layers/batch-norm/index.js';
import { buildConv2d } from './layers/conv2d/index.js';
import { buildDense } from './layers/dense/index.js';
import { flattenShape } from './layers/flatten/index.js';
import { buildLayerNorm } from './layers/layer-norm/index.js';
import { buildPool } from './layers/pool/index.js';
import type { LayerSpec, SequentialSpec } from './spec.js';
import { checkCount, checkLength, identityStack } from './trace-args.js';

/** Bytes per element of a dtype. */
function bytesOf(dtype: Dtype): ElementBytes {
  return dtype === 'float32' ? 4 : 8;
}

/** A network's dtype option (default float64). */
function checkDtype(dtype: unknown, where: string): Dtype {
  if (dtype === undefined) return 'float64';
  if (dtype !== 'float32' && dtype !== 'float64') throw new RangeError(`natgrad: ${where}: dtype must be 'float32' or 'float64', got ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}`);
  return dtype;
}

/**
 * Per-pass buffers of one chunk of samples (bytes); the chunk is at least one sample.
 *
 * @category Models
 */
export const CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Options of {@link sequential}.
 *
 * @category Models
 */
export interface SequentialOptions<T extends Dtype = 'float64'> extends SequentialSpec {
  readonly dtype?: T;
  /** The core to run on (default: the one {@link init} loaded). */
  readonly core?: Core;
}

/** @internal A compiled node: an op from one value to another, or the sum of two values. */
type Node = { readonly op: Op; readonly input: number; readonly output: number; readonly index: number } | { readonly add: readonly [number, number]; readonly output: number };

/** @internal The compiled network. */
interface Program {
  readonly nodes: readonly Node[];
  /** Per-sample sizes of the values (value 0: the input). */
  readonly sizes: readonly number[];
  readonly ops: readonly Op[];
  /** θ offset of each op (index in `ops`). */
  readonly offsets: readonly number[];
  /** The value each op reads (index in `ops`). */
  readonly inputs: readonly number[];
  readonly output: number;
  readonly outShape: Shape;
}

function inputShape(input: unknown): Shape {
  if (typeof input === 'number') return [checkInt(input, 'sequential: input')];
  if (Array.isArray(input) && input.length === 3)
    return [checkInt(input[0], 'sequential: input[0] (channels)'), checkInt(input[1], 'sequential: input[1] (height)'), checkInt(input[2], 'sequential: input[2] (width)')];
  throw new TypeError(`natgrad: sequential: input must be a number of features or [C, H, W], got ${JSON.stringify(input)}`);
}

/** @internal Compile specs into a program (validates every spec and that the layers chain). */
export function compile(spec: SequentialSpec): Program {
  const bytes = bytesOf(checkDtype(spec.dtype, 'sequential'));
  const nodes: Node[] = [];
  const sizes: number[] = [];
  const ops: Op[] = [];
  const offsets: number[] = [];
  const inputs: number[] = [];
  let D = 0;
  const value = (size: number) => {
    sizes.push(size);
    return sizes.length - 1;
  };
  const run = (layers: unknown, v: number, shape: Shape, path: string): [number, Shape] => {
    if (!Array.isArray(layers)) throw new TypeError(`natgrad: sequential: ${path} must be an array of layer specs`);
    for (const [i, s] of (layers as unknown[]).entries()) {
      const where = `${path}[${i}]`;
      if (typeof s !== 'object' || s === null) throw new TypeError(`natgrad: sequential: ${where} must be a layer spec (dense(…), conv2d(…), …), got ${String(s)}`);
      const layer = s as LayerSpec;
      const label = `${where} (${String(layer.type)})`;
      if (layer.type === 'flatten') {
        shape = flattenShape(layer, shape, label);
        continue;
      }
      if (layer.type === 'residual') {
        checkKeys(layer, ['type', 'layers', 'shortcut'], label);
        const [vb, sb] = run(layer.layers, v, shape, `${where}.layers`);
        const [vs, ss] = layer.shortcut === undefined ? [v, shape] : run(layer.shortcut, v, shape, `${where}.shortcut`);
        if (sb.length !== ss.length || sb.some((d, j) => d !== ss[j])) {
          throw chainError(
            label,
            layer.shortcut === undefined
              ? `the body changes the shape ${showShape(shape)} → ${showShape(sb)}; give the block a shortcut (a 1×1 conv2d or a dense layer) that maps to ${showShape(sb)}`
              : `the body gives ${showShape(sb)} but the shortcut gives ${showShape(ss)}`,
          );
        }
        const out = value(sizeOf(sb));
        nodes.push({ add: [vb, vs], output: out });
        v = out;
        shape = sb;
        continue;
      }
      const op = build(layer, shape, label, bytes);
      const out = value(op.outSize);
      offsets.push(D);
      inputs.push(v);
      D += op.params;
      nodes.push({ op, input: v, output: out, index: ops.length });
      ops.push(op);
      v = out;
      shape = op.outShape;
    }
    return [v, shape];
  };
  const shape = inputShape(spec.input);
  value(sizeOf(shape));
  const [output, outShape] = run(spec.layers, 0, shape, 'layers');
  if (ops.length === 0) throw new RangeError('natgrad: sequential: the network has no layer that computes anything (at least one dense, conv2d, … is needed)');
  if (D === 0) throw new RangeError('natgrad: sequential: the network has no parameters (add a dense or conv2d layer)');
  return { nodes, sizes, ops, offsets, inputs, output, outShape };
}

function build(layer: LayerSpec, shape: Shape, label: string, bytes: ElementBytes): Op {
  switch (layer.type) {
    case 'dense':
      return buildDense(layer, shape, label, bytes);
    case 'conv2d':
      return buildConv2d(layer, shape, label, bytes);
    case 'maxPool2d':
    case 'avgPool2d':
    case 'globalAvgPool2d':
      return buildPool(layer, shape, label, bytes);
    case 'activation':
      return buildActivation(layer, shape, label, bytes);
    case 'batchNorm':
      return buildBatchNorm(layer, shape, label, bytes);
    case 'layerNorm':
      return buildLayerNorm(layer, shape, label, bytes);
    default:
      throw new TypeError(
        `natgrad: sequential: ${label}: unknown layer type '${String((layer as { type?: unknown }).type)}' (known: dense, conv2d, maxPool2d, avgPool2d, globalAvgPool2d, flatten, activation, batchNorm, layerNorm, residual)`,
      );
  }
}

/**
 * A network of layers implementing {@link Model} in WebAssembly. Made by {@link sequential}.
 *
 * The layer list is compiled into a chain of ops on per-sample values: a flatten only changes the
 * shape, a residual block compiles its body and its shortcut from the same value and joins them
 * with an add. θ is the layers' parameters in order — a residual body before its shortcut — each
 * layer in PyTorch's `parameters()` order. A trace keeps θ, every value and every layer's state
 * from the forward pass; the tangent pass (J v), the backward pass (Jᵀ R, with per-row pullbacks or
 * Kronecker factors collected on the way) and the second-order pass (Σ R ∇²f v + Jᵀ U,
 * Pearlmutter's R-operator) run over chunks of samples of at most `CHUNK_BYTES` (natgrad/internals)
 * of buffers, the same chunks for any thread count, summing in sample order.
 *
 * @category Models
 */
export class SequentialModel<T extends Dtype = 'float64'> implements Model<T> {
  readonly name: string = 'sequential';
  readonly inputs: number;
  readonly outputs: number;
  readonly dim: number;
  readonly groups: readonly ParameterGroup[];
  readonly core: Core;
  /** The specification this network was built from (structured-cloneable). */
  readonly spec: SequentialSpec;
  /** The per-sample input and output shapes. */
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** @internal */
  readonly program: Program;
  /** @internal Set when the network is a dense chain (dense layers, one activation between them): its fast trace. */
  readonly chain: DenseChain | undefined;
  /** The element type the passes run in (`spec.dtype`, default `'float64'`). */
  readonly dtype: T;
  /** @internal Bytes per element of the trace's planes. */
  readonly bytes: ElementBytes;
  /**
   * @internal The layout of the trace's pass buffers, fixed by the program. `sizes`: entries per
   * sample of each value's tangent or cotangent buffer — its size, but none for the network input
   * (value 0), which has neither a tangent (X does not depend on θ) nor a cotangent (no pass asks
   * for one) unless a residual add sums it, since the add's backward then writes there. `tmp`:
   * whether a backward pass needs the temporary, i.e. a value other than the input feeds two ops
   * (a residual block's input), so that its second cotangent is added to the first.
   */
  readonly passBuffers: { readonly sizes: readonly number[]; readonly tmp: boolean };

  /** @internal Use {@link sequential}. `groupName(l)` names the l-th parameterized layer (default: its label). */
  constructor(spec: SequentialSpec, core: Core, groupName?: (l: number) => string) {
    this.program = compile(spec);
    this.spec = spec;
    this.dtype = checkDtype(spec.dtype, 'sequential') as T;
    this.bytes = bytesOf(this.dtype);
    this.core = core;
    this.inputShape = inputShape(spec.input);
    this.outputShape = this.program.outShape;
    this.inputs = this.program.sizes[0]!;
    this.outputs = this.program.sizes[this.program.output]!;
    const { ops, offsets } = this.program;
    this.dim = ops.reduce((s, o) => s + o.params, 0);
    checkBytes(this.bytes * this.dim, `sequential: θ (${this.dim} parameters)`, DENSE_HINT);
    const groups: ParameterGroup[] = [];
    ops.forEach((op, i) => {
      if (op.params === 0) return;
      const kron = op.kronecker
        ? {
            kronecker: Object.freeze({
              inputs: op.kfacA!({ approximation: 'expand', bias: 'separate' }),
              outputs: op.kfacOut!,
              bias: op.params > op.kfacOut! * op.kfacA!({ approximation: 'expand', bias: 'separate' }),
            }),
          }
        : {};
      groups.push(
        Object.freeze({ name: groupName ? groupName(groups.length) : op.label, offset: offsets[i]!, size: op.params, ...(op.dense ? { dense: Object.freeze({ ...op.dense }) } : {}), ...kron }),
      );
    });
    this.groups = Object.freeze(groups);
    const nodes = this.program.nodes;
    const inputSummed = nodes.some((n) => 'add' in n && n.add.includes(0));
    const uses = new Map<number, number>();
    for (const n of nodes) for (const v of 'add' in n ? n.add : [n.input]) if (v !== 0) uses.set(v, (uses.get(v) ?? 0) + 1);
    this.passBuffers = Object.freeze({
      sizes: Object.freeze(this.program.sizes.map((s, v) => (v === 0 && !inputSummed ? 0 : s))),
      tmp: [...uses.values()].some((u) => u > 1),
    });
    // The dense-chain trace is float64; a float32 chain runs on the generic trace's float32 kernels.
    this.chain = this.dtype === 'float64' ? denseChain(this) : undefined;
  }

  /**
   * One forward pass on an N × d batch (NCHW rows); the trace owns WebAssembly memory until `free()`.
   * @throws RangeError on wrong lengths or when the trace does not fit in memory.
   */
  forward(theta: Float64Array, X: Float64Array, rows: number): SequentialTrace | MlpTrace {
    if (typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`natgrad: ${this.name}.forward: rows must be a non-negative integer, got ${String(rows)}`);
    checkLength(theta, this.dim, `${this.name}.forward: theta`);
    checkLength(X, rows * this.inputs, `${this.name}.forward: X (${rows} × ${this.inputs})`);
    if (this.chain) return new MlpTrace(this.chain, theta, X, rows);
    return new SequentialTrace(this, theta, X, rows);
  }

  /**
   * PyTorch's default initialization, reproducibly: dense and conv2d W and b uniform on
   * (−1/√fan_in, 1/√fan_in) (fan_in = in, or in·kh·kw), drawn from `rng(seed).uniform()` layer by
   * layer, W before b (so a dense-only network gets the θ of `mlp(…).init(seed)`); batch and layer
   * norm γ = 1, β = 0. A float32 network's θ is a `Float32Array` (the same draws, rounded).
   */
  init(seed = 0): FloatArray<T> {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new RangeError(`natgrad: sequential.init: seed must be a safe integer, got ${String(seed)}`);
    const g = rng(seed);
    const theta = new Float64Array(this.dim);
    const { ops, offsets } = this.program;
    ops.forEach((op, i) => {
      const off = offsets[i]!;
      if (op.type === 'dense' || op.type === 'conv2d') {
        const fanIn = op.type === 'dense' ? op.inSize : op.kfacA!({ approximation: 'expand', bias: 'separate' });
        const bound = 1 / Math.sqrt(fanIn);
        for (let j = off; j < off + op.params; j++) theta[j] = (2 * g.uniform() - 1) * bound;
      } else if (op.params > 0) {
        theta.fill(1, off, off + op.params / 2); // γ = 1, β = 0
      }
    });
    return (this.dtype === 'float32' ? new Float32Array(theta) : theta) as FloatArray<T>;
  }
}

/**
 * The dense-chain description of a network that is dense layers with biases and one activation
 * kind between them (none after the last), on a flat input; undefined for any other network.
 */
function denseChain(m: SequentialModel<Dtype>): DenseChain | undefined {
  const P = m.program;
  if (P.nodes.some((n) => 'add' in n)) return undefined;
  const ops = P.ops;
  if (ops.length % 2 !== 1 || m.inputShape.length !== 1) return undefined;
  let act: string | undefined;
  const layers: ChainLayer[] = [];
  for (const [i, op] of ops.entries()) {
    if (i % 2 === 0) {
      if (op.type !== 'dense' || !op.dense!.bias) return undefined;
      const w = P.offsets[i]!;
      layers.push({ nin: op.inSize, nout: op.outSize, w, b: w + op.inSize * op.outSize });
    } else {
      const name = (op as Op & { name?: string }).name;
      if (op.type !== 'activation' || (act !== undefined && name !== act)) return undefined;
      act = name;
    }
  }
  return {
    inputs: m.inputs,
    outputs: m.outputs,
    dim: m.dim,
    groups: m.groups,
    core: m.core,
    sizes: [layers[0]!.nin, ...layers.map((l) => l.nout)],
    layers,
    kind: activationKind((act ?? 'identity') as Activation),
  };
}

/**
 * A network from layers: `sequential({ input: [1, 28, 28], layers: [conv2d({ out: 16, kernel: 3,
 * padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: 10 })] })`.
 * @throws TypeError / RangeError naming the layer (`layers[2] (conv2d): …`) and the argument.
 * @example
 * ```ts
 * await init();
 * const net = sequential({
 *   input: [1, 28, 28],
 *   layers: [conv2d({ out: 16, kernel: 3, padding: 1 }), relu(), maxPool2d({ kernel: 2 }), flatten(), dense({ out: 10 })],
 * });
 * net.dim;                  // 31530 = (16·9 + 16) + (10·16·14·14 + 10)
 * net.outputs;              // 10
 * const theta = net.init(0);                              // PyTorch's default initialization, seeded
 * const p = problem({ model: net, X, y, likelihood: categorical({ classes: 10 }) }); // X: N × 784
 * ```
 *
 * @category Models
 */
export function sequential<T extends Dtype = 'float64'>(options: SequentialOptions<T>): SequentialModel<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: sequential: options must be an object { input, layers, dtype?, core? }');
  checkKeys(options, ['input', 'layers', 'dtype', 'core'], 'sequential');
  const { core, ...spec } = options;
  return new SequentialModel<T>(spec, core ?? defaultCore());
}

/**
 * Most bytes of tangents a trace keeps after a `jvp` for the Hessian-vector product that follows.
 *
 * @category Models
 */
export const TANGENT_CACHE_BYTES = 256 * 2 ** 20;

/** @internal The tangents of every value along the last v of `jvp`, all N samples. */
class TangentCache extends Handle {
  /** The v these tangents belong to (undefined while being computed). */
  key: Float64Array | undefined;
  /** Which values' tangents are non-zero. */
  nz: boolean[] = [];
  readonly #off: number[];
  readonly #sizes: readonly number[];
  readonly #bytes: number;
  constructor(core: Core, ptr: number, off: number[], sizes: readonly number[], bytes: number) {
    super(core, [ptr]);
    this.#off = off;
    this.#sizes = sizes;
    this.#bytes = bytes;
  }
  /** Byte addresses of every value's tangent rows from sample n0. */
  at(n0: number): number[] {
    const p = this.ptr(0);
    return this.#off.map((o, v) => p + o + this.#bytes * n0 * this.#sizes[v]!);
  }
}

/** Entries [a, b) of an array-like, as an array-like `set` accepts (no copy for typed arrays). */
function part(x: ArrayLike<number>, a: number, b: number): ArrayLike<number> {
  return ArrayBuffer.isView(x) ? (x as Float64Array).subarray(a, b) : Array.prototype.slice.call(x, a, b);
}

/** Per-chunk buffers: a pass asks for so many doubles per sample (and fixed ones). */
interface ChunkPlan {
  nb: number;
  bytes: number;
}

/**
 * One forward pass of a {@link SequentialModel}: owns θ, the input, every value and every op's
 * state in one WebAssembly block. Valid until `free()`.
 *
 * @category Models
 */
export class SequentialTrace extends Handle implements ModelTrace {
  readonly rows: number;
  readonly model: SequentialModel<Dtype>;
  /** Byte offsets in the block: values (value 0 = X), op states (plane by plane). */
  readonly #val: number[];
  readonly #state: number[][];

  /** @internal Use {@link SequentialModel.forward}. */
  constructor(model: SequentialModel<Dtype>, theta: ArrayLike<number>, X: ArrayLike<number>, rows: number) {
    const N = rows,
      P = model.program,
      E = model.bytes;
    let bytes = Math.ceil((E * model.dim) / 16) * 16;
    const val: number[] = [];
    for (const s of P.sizes) {
      val.push(bytes);
      bytes += Math.ceil((E * N * s) / 16) * 16;
    }
    const state: number[][] = [];
    for (const op of P.ops) {
      state.push(
        op.state.map((b) => {
          const at = bytes;
          bytes += Math.ceil((N * b) / 16) * 16;
          return at;
        }),
      );
    }
    checkBytes(bytes, `sequential.forward: trace (${N} rows, ${bytes} bytes)`);
    const ptr = model.core.alloc(Math.max(bytes, 8));
    super(model.core, [ptr]);
    this.rows = N;
    this.model = model;
    this.#val = val;
    this.#state = state;
    try {
      const c = this.core;
      c.floats(model.dtype, ptr, model.dim).set(theta);
      c.floats(model.dtype, ptr + val[0]!, N * model.inputs).set(X);
      const scratch = this.#opScratch(N, 1);
      const s = scratch ? c.alloc(E * scratch) : 0;
      try {
        for (const node of P.nodes) {
          if ('add' in node) this.#sum(this.#value(node.add[0], 0), this.#value(node.add[1], 0), this.#value(node.output, 0), N * P.sizes[node.output]!);
          else node.op.forward(this.#ctx(node.index, s), N, this.#value(node.input, 0), this.#value(node.output, 0), this.#st(node.index, 0));
        }
      } finally {
        if (s) c.free(s);
      }
    } catch (e) {
      super.free();
      throw e;
    }
  }

  /** Largest op scratch (doubles) for calls on N samples with K rows each. */
  #opScratch(N: number, K: number, second = false): number {
    return Math.max(0, ...this.model.program.ops.map((o) => o.scratch(N, K, second)));
  }

  #ctx(op: number, scratch: number, th?: number): OpContext {
    const m = this.model;
    return { core: this.core, k: this.core.kernels(m.dtype), dtype: m.dtype, th: th ?? this.ptr() + m.bytes * m.program.offsets[op]!, scratch };
  }

  /** Byte address of value v's row for sample n0. */
  #value(v: number, n0: number): number {
    return this.ptr() + this.#val[v]! + this.model.bytes * n0 * this.model.program.sizes[v]!;
  }

  /** A fresh view of n entries of the network's type at byte address p. */
  #view(p: number, n: number): Float32Array | Float64Array {
    return this.core.floats(this.model.dtype, p, n);
  }

  /** n entries of the network's type at byte address p, as a new Float64Array. */
  #read(p: number, n: number): Float64Array {
    return this.model.dtype === 'float64' ? this.core.f64(p, n).slice() : Float64Array.from(this.core.f32(p, n));
  }

  /** A block holding v in the network's type (a θ direction); the caller frees it. */
  #allocIn(v: ArrayLike<number>): number {
    const p = this.core.alloc(Math.max(this.model.bytes * v.length, 8));
    this.#view(p, v.length).set(v);
    return p;
  }

  /**
   * y += x over n entries of the network's type. float32: in JavaScript — a float32 sum of two
   * float32 values computed in float64 and rounded is the correctly rounded float32 sum.
   */
  #axpy1(n: number, x: number, y: number): void {
    if (this.model.dtype === 'float64') {
      this.core.exports.daxpy(n, 1, x, y);
      return;
    }
    const a = this.core.f32(x, n),
      b = this.core.f32(y, n);
    for (let i = 0; i < n; i++) b[i] = b[i]! + a[i]!;
  }

  #st(op: number, n0: number): number[] {
    const o = this.model.program.ops[op]!;
    return this.#state[op]!.map((at, i) => this.ptr() + at + n0 * o.state[i]!);
  }

  /** out = a + b over n entries (a or b may be 0: absent). */
  #sum(a: number, b: number, out: number, n: number): void {
    const E = this.model.bytes;
    const mem = this.model.dtype === 'float64' ? new Float64Array(this.core.exports.memory.buffer) : new Float32Array(this.core.exports.memory.buffer);
    if (a === 0 && b === 0) mem.fill(0, out / E, out / E + n);
    else if (a === 0 || b === 0) {
      const src = a || b;
      if (src !== out) mem.copyWithin(out / E, src / E, src / E + n);
    } else {
      if (a !== out) mem.copyWithin(out / E, a / E, a / E + n);
      this.#axpy1(n, b, out);
    }
  }

  /** f (N × M), a copy. */
  get outputs(): Float64Array {
    return this.#read(this.#value(this.model.program.output, 0), this.rows * this.model.outputs);
  }

  /**
   * The chunk of samples for a pass that keeps `perValue` buffers of every value for `K` rows per
   * sample, plus `perSample` doubles, plus op scratch (and, for the second-order pass (`second`),
   * the zero block and the ops' second-order scratch): as many samples as fit in CHUNK_BYTES.
   */
  #plan(perValue: number, K: number, perSample = 0, second = false): ChunkPlan {
    const sizes = this.model.program.sizes;
    const maxSize = Math.max(...sizes);
    const { sizes: bufSizes, tmp } = this.model.passBuffers;
    const total = bufSizes.reduce((a, b) => a + b, 0);
    const E = this.model.bytes;
    // Each buffer rounded up to 16 bytes: the chunk's planes start 16-byte aligned.
    const per = E * (perValue * K * total + (tmp ? K * maxSize : 0) + (second ? maxSize : 0) + perSample);
    const N = this.rows;
    let nb = Math.max(1, Math.min(N, Math.floor(CHUNK_BYTES / Math.max(per, 1))));
    const pad = 16 * (perValue * sizes.length + 4);
    let bytes = nb * per + pad + E * this.#opScratch(nb, K, second);
    while (nb > 1 && bytes > 2 * CHUNK_BYTES) {
      nb = Math.max(1, nb >> 1);
      bytes = nb * per + pad + E * this.#opScratch(nb, K, second);
    }
    checkBytes(bytes, `sequential: pass buffers (${nb} samples × ${K} rows)`);
    return { nb, bytes };
  }

  /**
   * Run fn over sample chunks with one scratch block laid out as: per value `perValue` buffers of
   * nb·K rows (`bufs[i][v]`; empty for the network input, see {@link SequentialModel.passBuffers}), a
   * temporary of nb·K rows of the largest value (only when a value feeds two ops; else `tmp` is 0),
   * a zero block of nb rows of the largest value (only for the second-order pass, `second`; else
   * 0), `perSample`·nb extra entries, then op scratch.
   */
  #chunks(perValue: number, K: number, perSample: number, second: boolean, fn: (n0: number, nb: number, bufs: number[][], tmp: number, zero: number, extra: number, scratch: number) => void): void {
    const { nb: NB, bytes } = this.#plan(perValue, K, perSample, second);
    const { sizes, tmp: needsTmp } = this.model.passBuffers;
    const maxSize = Math.max(...this.model.program.sizes);
    const block = this.core.alloc(Math.max(bytes, 8));
    try {
      for (let n0 = 0; n0 < this.rows || (n0 === 0 && this.rows === 0); n0 += NB) {
        const nb = Math.min(NB, this.rows - n0);
        if (nb <= 0) break;
        let at = block;
        const E = this.model.bytes;
        const take = (entries: number) => {
          const p = at;
          at += Math.ceil((E * entries) / 16) * 16;
          return p;
        };
        const bufs: number[][] = [];
        for (let i = 0; i < perValue; i++) bufs.push(sizes.map((s) => take(nb * K * s)));
        const tmp = needsTmp ? take(nb * K * maxSize) : 0;
        const z = second ? take(nb * maxSize) : 0;
        if (z) this.#view(z, nb * maxSize).fill(0);
        const extra = take(nb * perSample);
        fn(n0, nb, bufs, tmp, z, extra, at);
      }
    } finally {
      this.core.free(block);
    }
  }

  /** Tangents of every value for samples n0 … n0+nb−1 along v (θ direction at byte address pv) into t[v]; returns which are non-zero. */
  #tangentPass(n0: number, nb: number, pv: number, t: number[], scratch: number): boolean[] {
    const P = this.model.program;
    const nz = P.sizes.map(() => false);
    for (const node of P.nodes) {
      const out = node.output;
      if ('add' in node) {
        const [a, b] = node.add;
        nz[out] = nz[a]! || nz[b]!;
        if (nz[out]) this.#sum(nz[a] ? t[a]! : 0, nz[b] ? t[b]! : 0, t[out]!, nb * P.sizes[out]!);
        continue;
      }
      const op = node.op;
      const tx = nz[node.input] ? t[node.input]! : 0;
      const vth = op.params > 0 ? pv + this.model.bytes * P.offsets[node.index]! : 0;
      if (tx === 0 && vth === 0) continue;
      op.tangent(this.#ctx(node.index, scratch), nb, this.#value(node.input, n0), this.#st(node.index, n0), tx, vth, t[out]!);
      nz[out] = true;
    }
    return nz;
  }

  /**
   * Backward pass for samples n0 … n0+nb−1 of a stack of K rows per sample whose output
   * cotangent is at g[output] already: fills g[v] for every value (flags in the returned array)
   * and calls `each(node, gy)` for every op node once its output cotangent is known.
   */
  #backwardPass(n0: number, nb: number, K: number, g: number[], tmp: number, scratch: number, each?: (index: number, gy: number) => void): boolean[] {
    const P = this.model.program;
    const has = P.sizes.map(() => false);
    has[P.output] = true;
    const give = (v: number, src: number) => {
      // the cotangent src (nb·K rows) flows into value v
      const n = nb * K * P.sizes[v]!;
      if (!has[v]) this.#sum(src, 0, g[v]!, n);
      else this.#axpy1(n, src, g[v]!);
      has[v] = true;
    };
    for (let i = P.nodes.length - 1; i >= 0; i--) {
      const node = P.nodes[i]!;
      if (!has[node.output]) continue;
      const gy = g[node.output]!;
      if ('add' in node) {
        give(node.add[0], gy);
        give(node.add[1], gy);
        continue;
      }
      each?.(node.index, gy);
      if (node.input === 0) continue; // the network input needs no cotangent
      const ctx = this.#ctx(node.index, scratch);
      if (!has[node.input]) {
        node.op.backInput(ctx, nb, K, this.#st(node.index, n0), gy, g[node.input]!);
        has[node.input] = true;
      } else {
        node.op.backInput(ctx, nb, K, this.#st(node.index, n0), gy, tmp);
        this.#axpy1(nb * K * node.op.inSize, tmp, g[node.input]!);
      }
    }
    return has;
  }

  /**
   * J v: row n is J_n v (N × M), one tangent pass. When the tangents of every value fit in
   * {@link TANGENT_CACHE_BYTES}, the trace keeps them for this v (one block, freed with the trace),
   * so that a following `residualHvp` / `residualHvpAndVjp` with the same v — a Hessian-vector
   * product — skips its own tangent pass.
   */
  jvp(v: Float64Array): Float64Array {
    this.alive();
    const m = this.model,
      P = m.program,
      M = m.outputs;
    const vv = checkLength(v, m.dim, 'jvp: v');
    const out = new Float64Array(this.rows * M);
    const pv = this.#allocIn(vv);
    try {
      const cache = this.#tangentCache();
      if (cache) {
        cache.key = undefined; // invalid until complete
        this.#chunks(0, 1, 0, false, (n0, nb, _bufs, _tmp, _zero, _extra, scratch) => {
          cache.nz = this.#tangentPass(n0, nb, pv, cache.at(n0), scratch);
          if (cache.nz[P.output]) out.set(this.#view(cache.at(n0)[P.output]!, nb * M), n0 * M);
        });
        cache.key = Float64Array.from(vv);
      } else {
        this.#chunks(1, 1, 0, false, (n0, nb, [t], _tmp, _zero, _extra, scratch) => {
          const nz = this.#tangentPass(n0, nb, pv, t!, scratch);
          if (nz[P.output]) out.set(this.#view(t![P.output]!, nb * M), n0 * M);
        });
      }
    } finally {
      this.core.free(pv);
    }
    return out;
  }

  #tcache: TangentCache | undefined;

  /** The tangent block of every value for all N samples, if it fits (allocated on first use). */
  #tangentCache(): TangentCache | undefined {
    if (this.#tcache) return this.#tcache;
    const sizes = this.model.passBuffers.sizes;
    const off: number[] = [];
    let bytes = 0;
    for (const s of sizes) {
      off.push(bytes);
      bytes += Math.ceil((this.model.bytes * this.rows * s) / 16) * 16;
    }
    if (bytes > TANGENT_CACHE_BYTES) return undefined;
    this.#tcache = new TangentCache(this.core, this.core.alloc(Math.max(bytes, 8)), off, sizes, this.model.bytes);
    return this.#tcache;
  }

  /** The cached tangents when they belong to exactly this v. */
  #cachedFor(v: ArrayLike<number>): TangentCache | undefined {
    const c = this.#tcache,
      key = c?.key;
    if (!key || key.length !== v.length) return undefined;
    for (let i = 0; i < key.length; i++) if (!Object.is(key[i], v[i])) return undefined;
    return c;
  }

  /** Release the trace's memory (and the tangents it keeps). @throws DisposedError when already freed. */
  override free(): void {
    this.alive();
    this.#tcache?.free();
    this.#tcache = undefined;
    super.free();
  }

  /** Jᵀ R = Σ_n J_nᵀ R_n (length D), one backward pass. */
  vjp(R: Float64Array): Float64Array {
    this.alive();
    const m = this.model,
      P = m.program,
      M = m.outputs;
    const rr = checkLength(R, this.rows * M, `vjp: R (${this.rows} × ${M})`);
    const grad = this.core.alloc(m.bytes * Math.max(m.dim, 2));
    try {
      this.#view(grad, m.dim).fill(0);
      this.#chunks(1, 1, 0, false, (n0, nb, [g], tmp, _zero, _extra, scratch) => {
        this.#view(g![P.output]!, nb * M).set(part(rr, n0 * M, (n0 + nb) * M));
        this.#backwardPass(n0, nb, 1, g!, tmp, scratch, (i, gy) => {
          const op = P.ops[i]!;
          if (op.params > 0) op.backParams(this.#ctx(i, scratch), nb, this.#inputOf(i, n0), this.#st(i, n0), gy, grad + m.bytes * P.offsets[i]!);
        });
      });
      return this.#read(grad, m.dim);
    } finally {
      this.core.free(grad);
    }
  }

  /**
   * A block of n entries of the network's type as float64: the block itself for float64; for
   * float32 a new float64 block with the widened values (the float32 block is freed).
   */
  #widen(p: number, n: number): number {
    if (this.model.dtype === 'float64') return p;
    const q = this.core.alloc(8 * Math.max(n, 1));
    this.core.f64(q, n).set(this.core.f32(p, n));
    this.core.free(p);
    return q;
  }

  /** Byte address of op i's input rows from sample n0. */
  #inputOf(i: number, n0: number): number {
    return this.#value(this.model.program.inputs[i]!, n0);
  }

  /** Σ_n Σ_m R_nm ∇²_θ f_nm v (length D): Pearlmutter's R-operator on the backward pass. */
  residualHvp(R: Float64Array, v: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvp: v');
    return this.#hvp(rr, vv, undefined);
  }

  /**
   * Σ_n Σ_m R_nm ∇²_θ f_nm v + Jᵀ U in one second-order pass (length D): the R-operator seeded
   * with U at the output (see {@link ModelTrace.residualHvpAndVjp}).
   */
  residualHvpAndVjp(R: Float64Array, v: Float64Array, U: Float64Array): Float64Array {
    const m = this.model;
    const rr = checkLength(R, this.rows * m.outputs, `residualHvpAndVjp: R (${this.rows} × ${m.outputs})`);
    const vv = checkLength(v, m.dim, 'residualHvpAndVjp: v');
    const uu = checkLength(U, this.rows * m.outputs, `residualHvpAndVjp: U (${this.rows} × ${m.outputs})`);
    return this.#hvp(rr, vv, uu);
  }

  #hvp(R: ArrayLike<number>, v: ArrayLike<number>, U: ArrayLike<number> | undefined): Float64Array {
    this.alive();
    const m = this.model,
      P = m.program,
      M = m.outputs,
      D = m.dim;
    const pv = this.#allocIn(v);
    const h = this.core.alloc(m.bytes * Math.max(D, 2));
    const cached = this.#cachedFor(v);
    try {
      this.#view(h, D).fill(0);
      this.#chunks(cached ? 2 : 3, 1, 0, true, (n0, nb, bufs, tmp, zero, _extra, scratch) => {
        const [t, g, dg] = cached ? [cached.at(n0), ...bufs] : bufs;
        const nzT = cached ? cached.nz : this.#tangentPass(n0, nb, pv, t!, scratch);
        this.#view(g![P.output]!, nb * M).set(part(R, n0 * M, (n0 + nb) * M));
        this.#backwardPass(n0, nb, 1, g!, tmp, scratch);
        // Second-order backward: dg[v] along (t, v); seeded with U (or 0) at the output.
        const has = P.sizes.map(() => false);
        if (U) {
          this.#view(dg![P.output]!, nb * M).set(part(U, n0 * M, (n0 + nb) * M));
          has[P.output] = true;
        }
        const give = (x: number, src: number) => {
          const n = nb * P.sizes[x]!;
          if (!has[x]) this.#sum(src, 0, dg![x]!, n);
          else this.#axpy1(n, src, dg![x]!);
          has[x] = true;
        };
        for (let i = P.nodes.length - 1; i >= 0; i--) {
          const node = P.nodes[i]!;
          const out = node.output;
          if ('add' in node) {
            if (has[out]) {
              give(node.add[0], dg![out]!);
              give(node.add[1], dg![out]!);
            }
            continue;
          }
          const op = node.op;
          const tx = nzT[node.input] ? t![node.input]! : 0;
          const vth = op.params > 0 ? pv + this.model.bytes * P.offsets[node.index]! : 0;
          if (!has[out] && tx === 0 && vth === 0) continue;
          const dgy = has[out] ? dg![out]! : zero;
          const wantDgx = node.input !== 0;
          const target = wantDgx ? (has[node.input] ? tmp : dg![node.input]!) : 0;
          op.backward2(
            this.#ctx(node.index, scratch),
            nb,
            this.#value(node.input, n0),
            this.#st(node.index, n0),
            tx,
            vth,
            g![out]!,
            dgy,
            target,
            h + m.bytes * P.offsets[node.index]!,
            this.#value(out, n0),
          );
          if (wantDgx) {
            if (has[node.input]) this.#axpy1(nb * op.inSize, tmp, dg![node.input]!);
            has[node.input] = true;
          }
        }
      });
      return this.#read(h, D);
    } finally {
      this.core.free(pv);
      this.core.free(h);
    }
  }

  #checkStack(R: unknown, K: unknown, what: string): ArrayLike<number> {
    checkCount(K, `${what}: K`);
    return checkLength(R, this.rows * (K as number) * this.model.outputs, `${what}: R ((${this.rows}·${K as number}) × ${this.model.outputs})`);
  }

  /**
   * Run the backward pass of an (N·K) × M stack chunk by chunk; `each(n0, nb, i, gy, scratch)`
   * sees op i's output cotangent rows of the chunk. `perSample` extra doubles per sample are at `extra`.
   */
  #stackPass(
    R: ArrayLike<number>,
    K: number,
    perSample: number,
    each: (n0: number, nb: number, i: number, gy: number, scratch: number, extra: number) => void,
    done?: (n0: number, nb: number, extra: number) => void,
  ): void {
    const P = this.model.program,
      M = this.model.outputs;
    this.#chunks(1, K, perSample, false, (n0, nb, [g], tmp, _zero, extra, scratch) => {
      this.#view(g![P.output]!, nb * K * M).set(part(R, n0 * K * M, (n0 + nb) * K * M));
      this.#backwardPass(n0, nb, K, g!, tmp, scratch, (i, gy) => each(n0, nb, i, gy, scratch, extra));
      done?.(n0, nb, extra);
    });
  }

  /** Per-sample Jacobians, N × M × D (entry [n][m][j] = ∂f_nm/∂θ_j). */
  jacobians(): Float64Array {
    return this.pullbacks(identityStack(this.rows, this.model.outputs), this.model.outputs);
  }

  /** The pullbacks c_nk = J_nᵀ R_nk of an (N·K) × M stack, as (N·K) × D rows. */
  pullbacks(R: Float64Array, K: number): Float64Array {
    const rr = this.#checkStack(R, K, 'pullbacks');
    const n = this.rows * K * this.model.dim;
    checkBytes(this.model.bytes * n, `pullbacks (${this.rows * K} × ${this.model.dim} ${this.model.dtype} entries)`);
    const out = this.core.alloc(this.model.bytes * Math.max(n, 2));
    try {
      this.#pullbacksTo(rr, K, out);
      return this.#read(out, n);
    } finally {
      this.core.free(out);
    }
  }

  /**
   * @internal The pullback rows written into a caller-owned block of (N·K) × D doubles at byte
   * address `ptr` (a float32 network computes them in a float32 block and widens them into it).
   */
  pullbacksInto(R: Float64Array, K: number, ptr: number): void {
    const rr = this.#checkStack(R, K, 'pullbacks');
    if (this.model.dtype === 'float64') {
      this.#pullbacksTo(rr, K, ptr);
      return;
    }
    const n = this.rows * K * this.model.dim;
    const tmp = this.core.alloc(4 * Math.max(n, 2));
    try {
      this.#pullbacksTo(rr, K, tmp);
      this.core.f64(ptr, n).set(this.core.f32(tmp, n));
    } finally {
      this.core.free(tmp);
    }
  }

  #pullbacksTo(R: ArrayLike<number>, K: number, out: number): void {
    const P = this.model.program,
      D = this.model.dim;
    this.#stackPass(R, K, 0, (n0, nb, i, gy, scratch) => {
      const op = P.ops[i]!;
      if (op.params > 0) op.pullbacks(this.#ctx(i, scratch), nb, K, this.#inputOf(i, n0), this.#st(i, n0), gy, out + this.model.bytes * (n0 * K * D + P.offsets[i]!), D);
    });
  }

  /**
   * scale · Σ_{n,k} c_nk c_nkᵀ in the requested structure, from the pullbacks of one chunk of
   * samples at a time (never all N·K × D at once): `'dense'` a D × D SymMatrix, `'diagonal'` its
   * diagonal (exact, every position's cross terms included), `'block'` one SymMatrix per
   * parameterized layer.
   */
  pullbackGram(R: Float64Array, K: number, structure: 'dense' | 'diagonal' | 'block', scale: number): SymMatrix | Float64Array | SymMatrix[] {
    const rr = this.#checkStack(R, K, 'pullbackGram');
    if (structure !== 'dense' && structure !== 'diagonal' && structure !== 'block') {
      throw new TypeError(`natgrad: pullbackGram: structure must be 'dense', 'diagonal' or 'block', got ${String(structure)}`);
    }
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError(`natgrad: pullbackGram: scale must be a finite number, got ${String(scale)}`);
    const m = this.model,
      P = m.program,
      D = m.dim;
    if (structure === 'dense') checkSquare(D, 'pullbackGram: dense Gram');
    else if (structure === 'block') for (const g of m.groups) checkSquare(g.size, `pullbackGram: block of ${g.name}`);
    const targets: number[] = [];
    const E = m.bytes;
    try {
      // Accumulated in the network's type (float32: dsyrkLower32 on float32 pullbacks), then
      // widened to float64 for the mirror, the scale and the SymMatrix.
      if (structure === 'dense') targets.push(this.core.alloc(E * D * D));
      else if (structure === 'diagonal') targets.push(this.core.alloc(E * Math.max(D, 2)));
      else for (const g of m.groups) targets.push(this.core.alloc(E * g.size * g.size));
      const sizeOfTarget = (j: number) => (structure === 'dense' ? D * D : structure === 'diagonal' ? D : m.groups[j]!.size ** 2);
      for (const [j, p] of targets.entries()) this.#view(p, sizeOfTarget(j)).fill(0);
      const k = this.core.kernels(m.dtype);
      const e = this.core.exports;
      this.#stackPass(
        rr,
        K,
        K * D,
        (n0, nb, i, gy, scratch, extra) => {
          const op = P.ops[i]!;
          if (op.params > 0) op.pullbacks(this.#ctx(i, scratch), nb, K, this.#inputOf(i, n0), this.#st(i, n0), gy, extra + E * P.offsets[i]!, D);
        },
        (_n0, nb, extra) => {
          const rows = nb * K;
          if (structure === 'dense') k.dsyrkLower(rows, D, extra, D, 0, 0, targets[0]!, D);
          else if (structure === 'diagonal') k.dsyrkDiag(rows, D, extra, D, 0, 0, targets[0]!);
          else m.groups.forEach((g, j) => k.dsyrkLower(rows, g.size, extra + E * g.offset, D, 0, 0, targets[j]!, g.size));
        },
      );
      for (const j of targets.keys()) targets[j] = this.#widen(targets[j]!, sizeOfTarget(j));
      if (structure === 'diagonal') {
        const d = this.core.f64(targets[0]!, D).slice();
        for (let j = 0; j < D; j++) d[j]! *= scale;
        this.core.free(targets.pop()!);
        return d;
      }
      const sizes = structure === 'dense' ? [D] : m.groups.map((g) => g.size);
      const mats = targets.map((p, j) => {
        const n = sizes[j]!;
        e.dsymMirrorLower(n, p, n);
        e.dscal(n * n, scale, p);
        return new SymMatrix(this.core, n, p);
      });
      targets.length = 0;
      return structure === 'dense' ? mats[0]! : mats;
    } catch (err) {
      for (const p of targets) this.core.free(p);
      throw err;
    }
  }

  /**
   * Per parameterized layer, in θ order: dense and conv2d layers give Kronecker factors
   * (see {@link LayerKfac}; with S the layer's output positions, 1 for dense):
   *   'expand'  A = (1/(N·S)) Σ_{n,s} ā ā ᵀ,               G = scale · Σ_{n,k,s} δ δᵀ
   *   'reduce'  A = (1/N) Σ_n ā_n ā_nᵀ, ā_n = (1/S) Σ_s ā,  G = scale · Σ_{n,k} (Σ_s δ)(Σ_s δ)ᵀ
   * with ā the input patch (the input, for dense) followed by a 1 for a joint bias, δ_{n,k,s} =
   * (∂f_n/∂z_s)ᵀ R_{nk}; layers without a Kronecker form give their exact block
   * scale · Σ_{n,k} c c ᵀ restricted to their parameters.
   */
  kfacFactors(R: Float64Array, K: number, scale: number, options: KfacFactorOptions = {}): (LayerKfac | LayerExactBlock)[] {
    const rr = this.#checkStack(R, K, 'kfacFactors');
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError(`natgrad: kfacFactors: scale must be a finite number, got ${String(scale)}`);
    checkKeys(options, ['kfacApproximation', 'bias'], 'kfacFactors');
    const approximation = options.kfacApproximation ?? 'expand';
    const bias = options.bias ?? 'joint';
    if (approximation !== 'expand' && approximation !== 'reduce') throw new RangeError(`natgrad: kfacFactors: kfacApproximation must be 'expand' or 'reduce', got ${String(approximation)}`);
    if (bias !== 'joint' && bias !== 'separate') throw new RangeError(`natgrad: kfacFactors: bias must be 'joint' or 'separate', got ${String(bias)}`);
    const opts: KfacLayerOptions = { approximation, bias };
    const m = this.model,
      P = m.program,
      N = this.rows,
      E = m.bytes;
    const e = this.core.exports;
    const k = this.core.kernels(m.dtype);
    // Per parameterized op: [A, G] (Kronecker) or [block] (exact), allocated and zeroed, in the
    // network's type (widened to float64 once all samples are in).
    const blocks: { i: number; ptrs: number[]; sizes: number[] }[] = [];
    const maxExact = Math.max(0, ...P.ops.map((o) => (o.params > 0 && !o.kronecker ? o.params : 0)));
    try {
      P.ops.forEach((op, i) => {
        if (op.params === 0) return;
        const sizes = op.kronecker ? [op.kfacA!(opts), op.kfacOut!] : [op.params];
        for (const s of sizes) checkSquare(s, `kfacFactors: a factor of ${op.label}`);
        const ptrs: number[] = [];
        blocks.push({ i, ptrs, sizes });
        for (const s of sizes) {
          const p = this.core.alloc(E * Math.max(s * s, 2));
          ptrs.push(p);
          this.#view(p, s * s).fill(0);
        }
      });
      // The input factors depend on the forward values alone: one pass over the samples in
      // chunks as large as the ops' scratch allows (not the backward pass's small chunks).
      const kron = blocks.filter((b) => P.ops[b.i]!.kronecker);
      if (kron.length > 0 && N > 0) {
        let nbA = N;
        const need = (nb: number) => Math.max(...kron.map((b) => P.ops[b.i]!.scratch(nb, 1)));
        while (nbA > 1 && E * need(nbA) > CHUNK_BYTES) nbA = Math.ceil(nbA / 2);
        const s = this.core.alloc(Math.max(E * need(nbA), 8));
        try {
          for (let n0 = 0; n0 < N; n0 += nbA) {
            const nb = Math.min(nbA, N - n0);
            for (const b of kron) P.ops[b.i]!.kfacAccumulate!(this.#ctx(b.i, s), nb, 1, this.#inputOf(b.i, n0), 0, opts, b.ptrs[0]!, 0);
          }
        } finally {
          this.core.free(s);
        }
      }
      this.#stackPass(rr, K, K * maxExact, (n0, nb, i, gy, scratch, extra) => {
        const op = P.ops[i]!;
        const b = blocks.find((x) => x.i === i);
        if (!b) return;
        const ctx = this.#ctx(i, scratch);
        if (op.kronecker) op.kfacAccumulate!(ctx, nb, K, 0, gy, opts, 0, b.ptrs[1]!);
        else {
          op.pullbacks(ctx, nb, K, this.#inputOf(i, n0), this.#st(i, n0), gy, extra, op.params);
          k.dsyrkLower(nb * K, op.params, extra, op.params, 0, 0, b.ptrs[0]!, op.params);
        }
      });
      for (const b of blocks) for (const [j, p] of b.ptrs.entries()) b.ptrs[j] = this.#widen(p, b.sizes[j]! ** 2);
      return blocks.map(({ i, ptrs, sizes }) => {
        const op = P.ops[i]!;
        if (!op.kronecker) {
          e.dsymMirrorLower(sizes[0]!, ptrs[0]!, sizes[0]!);
          e.dscal(sizes[0]! ** 2, scale, ptrs[0]!);
          return { exact: new SymMatrix(this.core, sizes[0]!, ptrs[0]!) };
        }
        const [a, o] = sizes as [number, number];
        const S = op.kfacPositions!;
        const div = approximation === 'expand' ? N * S : N;
        e.dsymMirrorLower(a, ptrs[0]!, a);
        if (div > 0) e.dscal(a * a, 1 / div, ptrs[0]!);
        e.dsymMirrorLower(o, ptrs[1]!, o);
        e.dscal(o * o, scale, ptrs[1]!);
        const hasBias = (op.dense?.bias ?? false) || op.kfacA!({ approximation, bias: 'joint' }) > op.kfacA!({ approximation, bias: 'separate' });
        return { A: new SymMatrix(this.core, a, ptrs[0]!), G: new SymMatrix(this.core, o, ptrs[1]!), bias: hasBias ? bias : 'none' };
      });
    } catch (err) {
      for (const b of blocks) for (const p of b.ptrs) this.core.free(p);
      throw err;
    }
  }
}
