/**
 * The graph walk behind {@link onnxToSpec}: from the graph's input to its output, each node (or
 * recognized group of nodes) becomes one layer of the `natgrad/nn` vocabulary, and its constant
 * tensors become that layer's slice of θ.
 *
 * @module
 * @internal
 */
import type { Activation } from '../models/activations.js';
import type { LayerSpec, SequentialSpec } from '../nn/spec.js';
import { OnnxImportError, SUPPORTED_OPERATORS } from './errors.js';
import { constantNodeValue, DataType, dataTypeName, decodeModel, type Graph, type GraphNode, int64, type Tensor } from './graph.js';

/**
 * What {@link onnxToSpec} returns.
 *
 * @category ONNX
 */
export interface OnnxImport {
  /** The network in the layer vocabulary of `natgrad/nn` (what `sequential` takes). */
  readonly spec: SequentialSpec;
  /** The parameters, in the spec's θ order (PyTorch's `parameters()` order), widened to float64. */
  readonly theta: Float64Array;
  /** The graph input: its name and per-sample shape ([C, H, W] for a 4-d input, [d] for a 2-d one). */
  readonly input: { readonly name: string; readonly shape: number[] };
  /** The graph output's name. */
  readonly output: { readonly name: string };
}

/** A per-sample shape: d features, or a [C, H, W] image. */
type Shape = { readonly kind: 'flat'; readonly d: number } | { readonly kind: 'image'; readonly c: number; readonly h: number; readonly w: number };

const sizeOf = (s: Shape): number => (s.kind === 'flat' ? s.d : s.c * s.h * s.w);
const rankOf = (s: Shape): number => (s.kind === 'flat' ? 2 : 4);
const show = (s: Shape): string => (s.kind === 'flat' ? `[N, ${s.d}]` : `[N, ${s.c}, ${s.h}, ${s.w}]`);
const pair = (a: number, b: number): number | [number, number] => (a === b ? a : [a, b]);

const ACTIVATION_OPS: Record<string, Activation> = { Relu: 'relu', Tanh: 'tanh', Sigmoid: 'sigmoid', Softplus: 'softplus' };

/** Ops a fingerprinted elementwise subgraph (a GELU decomposition) may contain. */
const SCALAR_OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Tanh: (a) => Math.tanh(a),
  Sqrt: (a) => Math.sqrt(a),
  Exp: (a) => Math.exp(a),
  Log: (a) => Math.log(a),
  Neg: (a) => -a,
  Abs: (a) => Math.abs(a),
  Reciprocal: (a) => 1 / a,
  Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  Relu: (a) => Math.max(a, 0),
  Erf: () => Number.NaN,
};

/** natgrad's gelu: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). */
const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const GELU_PROBES = [-4.5, -3, -2.2, -1.4, -0.9, -0.5, -0.15, 0, 0.2, 0.6, 1.1, 1.7, 2.6, 4];

/**
 * A float32 attribute as the shortest decimal that rounds to it (ONNX keeps `epsilon` as float32:
 * PyTorch's 1e-5 is stored as 9.99999974738e-6 and read back as 1e-5).
 */
function float32Decimal(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}

/** Decode and walk an ONNX file (see {@link onnxToSpec} in index.ts). */
export function importOnnx(bytes: Uint8Array): OnnxImport {
  return new Importer(decodeModel(bytes)).run();
}

interface Walk {
  t: string;
  shape: Shape;
}

class Importer {
  private readonly nodes: readonly GraphNode[];
  private readonly consts: Map<string, Tensor>;
  private readonly producer = new Map<string, GraphNode>();
  private readonly consumers = new Map<string, GraphNode[]>();
  private readonly used = new Set<GraphNode>();
  private readonly theta: Float64Array[] = [];
  private readonly outputName: string;
  private readonly batchDim: number | string | undefined;

  constructor(private readonly graph: Graph) {
    this.nodes = graph.nodes;
    this.consts = graph.constants;
    if (graph.inputs.length !== 1 || graph.outputs.length !== 1) {
      const names = (l: readonly { name: string }[]) => l.map((v) => `'${v.name}'`).join(', ') || 'none';
      throw new OnnxImportError(
        `natgrad/onnx imports a graph with one input and one output; this one has ${graph.inputs.length} input(s) (${names(graph.inputs)}) and ${graph.outputs.length} output(s) (${names(graph.outputs)})`,
      );
    }
    this.outputName = graph.outputs[0]!.name;
    this.batchDim = graph.inputs[0]!.dims?.[0];
    this.foldConstants();
    for (const n of this.nodes) {
      if (this.used.has(n)) continue;
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      for (const i of new Set(n.inputs)) {
        if (!i || this.consts.has(i)) continue;
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
    }
  }

  /** Constant nodes, and Identity nodes of constants (PyTorch's deduplicated initializers), become constants. */
  private foldConstants(): void {
    for (const n of this.nodes) {
      const foldable = n.opType === 'Constant' || (n.opType === 'Identity' && this.consts.has(n.inputs[0] ?? ''));
      if (!foldable || !(n.domain === '' || n.domain === 'ai.onnx')) continue;
      const out = n.outputs[0] ?? '';
      const value = n.opType === 'Constant' ? constantNodeValue(n) : this.consts.get(n.inputs[0]!)!;
      this.consts.set(out, { ...value, name: out });
      this.used.add(n);
    }
  }

  run(): OnnxImport {
    const vi = this.graph.inputs[0]!;
    if (vi.elemType !== DataType.FLOAT && vi.elemType !== DataType.DOUBLE) {
      throw new OnnxImportError(`the graph input '${vi.name}' is ${dataTypeName(vi.elemType)}; natgrad/onnx imports networks of float32 or float64 inputs`);
    }
    const dims = vi.dims;
    const known = dims?.slice(1).every((d): d is number => typeof d === 'number' && d > 0);
    if (!dims || !known || (dims.length !== 2 && dims.length !== 4)) {
      throw new OnnxImportError(
        `the graph input '${vi.name}' must be [N, d] or [N, C, H, W] with known sizes after the batch dimension, got ${dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : 'no shape'}`,
      );
    }
    const per = dims.slice(1) as number[];
    const shape: Shape = per.length === 1 ? { kind: 'flat', d: per[0]! } : { kind: 'image', c: per[0]!, h: per[1]!, w: per[2]! };
    const { layers, shape: last } = this.chain(vi.name, shape, undefined);
    const left = this.nodes.find((n) => !this.used.has(n));
    if (left) {
      throw new OnnxImportError(`node '${left.name}' (${left.opType}) is not on the chain from the input '${vi.name}' to the output '${this.outputName}'`, {
        operator: left.opType,
        node: left.name,
      });
    }
    if (layers.length === 0) throw new OnnxImportError(`the graph maps its input straight to its output: there is no layer to import`);
    const od = this.graph.outputs[0]!.dims;
    const M = od && od.length === 2 && typeof od[1] === 'number' ? od[1] : undefined;
    if (M !== undefined && M !== sizeOf(last)) {
      throw new OnnxImportError(`the graph output '${this.outputName}' declares ${M} values per sample, the imported layers give ${sizeOf(last)} (${show(last)})`);
    }
    const total = this.theta.reduce((s, a) => s + a.length, 0);
    const theta = new Float64Array(total);
    let o = 0;
    for (const a of this.theta) {
      theta.set(a, o);
      o += a.length;
    }
    const input = shape.kind === 'flat' ? shape.d : ([shape.c, shape.h, shape.w] as const);
    return { spec: { input, layers }, theta, input: { name: vi.name, shape: per }, output: { name: this.outputName } };
  }

  // ---------------------------------------------------------------- graph helpers

  private err(n: GraphNode, message: string): OnnxImportError {
    return new OnnxImportError(`node '${n.name}' (${n.opType}): ${message}`, { operator: n.opType, node: n.name });
  }

  private unsupported(n: GraphNode, why = ''): OnnxImportError {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    return new OnnxImportError(`operator ${op} (node '${n.name}') is not supported${why ? ` ${why}` : ''}; supported operators: ${SUPPORTED_OPERATORS.join(', ')}`, {
      operator: n.opType,
      node: n.name,
    });
  }

  /** The not-yet-imported nodes reading tensor t (restricted to `scope` when given). */
  private open(t: string, scope?: ReadonlySet<GraphNode>): GraphNode[] {
    return (this.consumers.get(t) ?? []).filter((c) => !this.used.has(c) && (!scope || scope.has(c)));
  }

  /**
   * A constant input of n (an initializer or a Constant node's value); a parameter (`float`, the
   * default) must be float32 or float64.
   */
  private constant(n: GraphNode, i: number, what: string, kind: 'float' | 'any' = 'float'): Tensor {
    const name = n.inputs[i];
    const c = name ? this.consts.get(name) : undefined;
    if (!c) throw this.err(n, `input ${i} (${what}) must be an initializer or a Constant, got ${name ? `the computed tensor '${name}'` : 'nothing'}`);
    if (kind === 'float' && c.dataType !== DataType.FLOAT && c.dataType !== DataType.DOUBLE) {
      throw this.err(n, `its ${what} '${name}' is ${dataTypeName(c.dataType)}; natgrad/onnx reads float32 or float64 parameters (a quantized model cannot be imported)`);
    }
    return c;
  }

  private optionalConstant(n: GraphNode, i: number, what: string): Tensor | undefined {
    return n.inputs[i] ? this.constant(n, i, what) : undefined;
  }

  /** Check that n reads t as its first input and that nothing reads its other outputs; mark it imported. */
  private take(n: GraphNode, t: string): string {
    if (n.inputs[0] !== t) throw this.err(n, `expected the running tensor '${t}' as the first input, got '${n.inputs[0]}'`);
    for (const o of n.outputs.slice(1)) {
      if (o && ((this.consumers.get(o)?.length ?? 0) > 0 || o === this.outputName)) throw this.err(n, `its extra output '${o}' is used; only the first output can be`);
    }
    if (!n.domain || n.domain === 'ai.onnx') {
      this.used.add(n);
      return n.outputs[0]!;
    }
    throw this.unsupported(n);
  }

  private attr(n: GraphNode, name: string) {
    return n.attrs.get(name);
  }
  private attrInt(n: GraphNode, name: string, fallback: number): number {
    const a = this.attr(n, name);
    return a ? int64(a.i) : fallback;
  }
  private attrInts(n: GraphNode, name: string): number[] | undefined {
    const a = this.attr(n, name);
    return a ? (a.ints ?? []).map((v) => int64(v)) : undefined;
  }
  private attrFloat(n: GraphNode, name: string, fallback: number): number {
    const a = this.attr(n, name);
    return a ? (a.f ?? 0) : fallback;
  }
  private attrString(n: GraphNode, name: string, fallback: string): string {
    const a = this.attr(n, name);
    return a?.s ? new TextDecoder().decode(a.s) : fallback;
  }

  private pushTheta(...arrays: Float64Array[]): void {
    for (const a of arrays) this.theta.push(a);
  }

  // ---------------------------------------------------------------- the walk

  /**
   * Import the chain from tensor t to `end` (the graph output when undefined). `scope`, for a
   * residual branch, restricts which readers of t belong to this chain.
   */
  private chain(start: string, shape: Shape, end: string | undefined, scope?: ReadonlySet<GraphNode>): { layers: LayerSpec[]; shape: Shape } {
    const layers: LayerSpec[] = [];
    let w: Walk = { t: start, shape };
    for (;;) {
      if (end !== undefined && w.t === end) break;
      const cons = this.open(w.t, w.t === start ? scope : undefined);
      if (end === undefined && w.t === this.outputName) {
        if (cons.length === 0) break;
        throw this.err(cons[0]!, `reads the graph output '${this.outputName}': the output must be the end of the chain`);
      }
      if (cons.length === 0) {
        throw new OnnxImportError(`the chain stops at tensor '${w.t}' (nothing reads it) before reaching ${end === undefined ? `the graph output '${this.outputName}'` : `'${end}'`}`);
      }
      w = cons.length === 1 ? this.step(cons[0]!, w, layers, end) : this.fanOut(w, cons, layers, end, w.t === start ? scope : undefined);
    }
    return { layers, shape: w.shape };
  }

  /** One node (with the nodes it absorbs: MatMul's bias Add, a Pad's pooling / convolution). */
  private step(n: GraphNode, w: Walk, layers: LayerSpec[], end: string | undefined): Walk {
    const { t, shape } = w;
    if (n.domain && n.domain !== 'ai.onnx') throw this.unsupported(n);
    const act = ACTIVATION_OPS[n.opType];
    if (act) {
      layers.push({ type: 'activation', name: act });
      return { t: this.take(n, t), shape };
    }
    switch (n.opType) {
      case 'Identity':
        return { t: this.take(n, t), shape };
      case 'Dropout': {
        const mode = n.inputs[2] ? this.constant(n, 2, 'training_mode', 'any') : undefined;
        if (mode && mode.values[0] !== 0) throw this.err(n, 'dropout in training mode cannot be imported (export the model in eval mode)');
        return { t: this.take(n, t), shape };
      }
      case 'Gelu': {
        const approx = this.attrString(n, 'approximate', 'none');
        if (approx !== 'tanh') throw this.geluError(n);
        layers.push({ type: 'activation', name: 'gelu' });
        return { t: this.take(n, t), shape };
      }
      case 'Gemm':
        return this.gemm(n, w, layers);
      case 'MatMul':
        return this.matmul(n, w, layers, end);
      case 'Conv':
        return this.conv(n, w, layers, [0, 0, 0, 0]);
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(n, w, layers, [0, 0, 0, 0]);
      case 'Pad':
        return this.pad(n, w, layers, end);
      case 'GlobalAveragePool': {
        const img = this.image(n, shape);
        layers.push({ type: 'globalAvgPool2d' });
        return { t: this.take(n, t), shape: { kind: 'image', c: img.c, h: 1, w: 1 } };
      }
      case 'ReduceMean':
        return this.reduceMean(n, w, layers);
      case 'Flatten': {
        const axis = this.attrInt(n, 'axis', 1);
        if (axis !== 1 && axis !== 1 - rankOf(shape)) throw this.err(n, `Flatten(axis=${axis}) on ${show(shape)}: only axis 1 (to rows of per-sample values) is supported`);
        return this.flatten(n, w, layers);
      }
      case 'Reshape':
        return this.reshape(n, w, layers);
      case 'BatchNormalization':
        return this.batchNorm(n, w, layers);
      case 'LayerNormalization':
        return this.layerNorm(n, w, layers);
      case 'Add':
        if (n.inputs.every((i) => !this.consts.has(i))) {
          throw this.err(n, 'adds two computed tensors that do not branch from one tensor in this chain: only residual blocks y = body(x) + shortcut(x) are supported');
        }
        throw this.unsupported(n, '(an Add of a constant is only read as the bias after a MatMul)');
      default:
        throw this.unsupported(n);
    }
  }

  private image(n: GraphNode, shape: Shape): { c: number; h: number; w: number } {
    if (shape.kind !== 'image') throw this.err(n, `needs a [N, C, H, W] input, got ${show(shape)}`);
    return shape;
  }

  private flat(n: GraphNode, shape: Shape): number {
    if (shape.kind !== 'flat') throw this.err(n, `needs a [N, d] input, got ${show(shape)}: flatten first`);
    return shape.d;
  }

  private flatten(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const out = this.take(n, w.t);
    if (w.shape.kind === 'flat') return { t: out, shape: w.shape };
    layers.push({ type: 'flatten' });
    return { t: out, shape: { kind: 'flat', d: sizeOf(w.shape) } };
  }

  private gemm(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const d = this.flat(n, w.shape);
    const B = this.constant(n, 1, 'weight');
    const C = this.optionalConstant(n, 2, 'bias');
    if (this.attrInt(n, 'transA', 0) !== 0) throw this.err(n, 'transA = 1 is not supported (the input must be N × in)');
    const alpha = this.attrFloat(n, 'alpha', 1);
    const beta = this.attrFloat(n, 'beta', 1);
    if (alpha !== 1 || (C && beta !== 1)) throw this.err(n, `alpha = ${alpha}, beta = ${beta}: only alpha = beta = 1 (a Linear layer) is supported`);
    if (B.dims.length !== 2) throw this.err(n, `the weight '${B.name}' must be 2-d, got dims [${B.dims.join(', ')}]`);
    const transB = this.attrInt(n, 'transB', 0) !== 0;
    const [out, inn] = transB ? [B.dims[0]!, B.dims[1]!] : [B.dims[1]!, B.dims[0]!];
    if (inn !== d) throw this.err(n, `the weight '${B.name}' [${B.dims.join(', ')}] (transB = ${transB ? 1 : 0}) takes ${inn} inputs, the running tensor has ${d}`);
    const W = transB ? B.values : transpose(B.values, inn, out);
    const bias = C ? this.biasVector(n, C, out) : undefined;
    layers.push(bias ? { type: 'dense', out } : { type: 'dense', out, bias: false });
    this.pushTheta(W, ...(bias ? [bias] : []));
    return { t: this.take(n, w.t), shape: { kind: 'flat', d: out } };
  }

  /** A bias of `out` entries (dims [out] or [1, out]; a broadcast scalar is not a per-output bias). */
  private biasVector(n: GraphNode, C: Tensor, out: number): Float64Array {
    if (C.values.length !== out) throw this.err(n, `the bias '${C.name}' has ${C.values.length} entries (dims [${C.dims.join(', ')}]), ${out} expected`);
    return C.values;
  }

  private matmul(n: GraphNode, w: Walk, layers: LayerSpec[], end: string | undefined): Walk {
    const d = this.flat(n, w.shape);
    const B = this.constant(n, 1, 'weight');
    if (B.dims.length !== 2 || B.dims[0] !== d) throw this.err(n, `the weight '${B.name}' must be [${d}, out] for a [N, ${d}] input, got [${B.dims.join(', ')}]`);
    const out = B.dims[1]!;
    let t = this.take(n, w.t);
    let bias: Float64Array | undefined;
    const next = t === end || t === this.outputName ? [] : this.open(t);
    const add = next.length === 1 && next[0]!.opType === 'Add' ? next[0]! : undefined;
    if (add) {
      const other = add.inputs[0] === t ? add.inputs[1] : add.inputs[0];
      const b = other ? this.consts.get(other) : undefined;
      if (b && b.values.length === out) {
        bias = b.values;
        this.used.add(add);
        t = add.outputs[0]!;
      }
    }
    layers.push(bias ? { type: 'dense', out } : { type: 'dense', out, bias: false });
    this.pushTheta(transpose(B.values, d, out), ...(bias ? [bias] : []));
    return { t, shape: { kind: 'flat', d: out } };
  }

  /**
   * The padding [top, left, bottom, right] of a Conv or pooling node (its `pads` or `auto_pad`,
   * plus `extra` from a Pad node before it), with the kernel extent per axis (dilation included).
   */
  private pads(n: GraphNode, extra: readonly number[], extent: [number, number], strides: [number, number]): number[] {
    const autoPad = this.attrString(n, 'auto_pad', 'NOTSET');
    let own: number[];
    if (autoPad === 'NOTSET' || autoPad === '') own = this.attrInts(n, 'pads') ?? [0, 0, 0, 0];
    else if (autoPad === 'VALID') own = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      if (strides[0] !== 1 || strides[1] !== 1) throw this.err(n, `auto_pad = ${autoPad} with strides [${strides.join(', ')}]: 'same' padding is supported with stride 1 only`);
      const tot = extent.map((e) => e - 1);
      const lo = tot.map((s) => (autoPad === 'SAME_UPPER' ? Math.floor(s / 2) : Math.ceil(s / 2)));
      own = [lo[0]!, lo[1]!, tot[0]! - lo[0]!, tot[1]! - lo[1]!];
    } else throw this.err(n, `unknown auto_pad '${autoPad}'`);
    if (own.length !== 4) throw this.err(n, `pads must have 4 entries for a 2-d operator, got [${own.join(', ')}]`);
    return own.map((p, i) => p + (extra[i] ?? 0));
  }

  private conv(n: GraphNode, w: Walk, layers: LayerSpec[], extra: readonly number[]): Walk {
    const img = this.image(n, w.shape);
    const W = this.constant(n, 1, 'weight');
    const B = this.optionalConstant(n, 2, 'bias');
    if (W.dims.length !== 4) throw this.err(n, `only 2-d convolutions are supported (weight '${W.name}' has dims [${W.dims.join(', ')}])`);
    const [out, cin, kh, kw] = W.dims as [number, number, number, number];
    const group = this.attrInt(n, 'group', 1);
    if (group !== 1) throw this.err(n, `group = ${group}: only group = 1 convolutions are supported (no grouped or depthwise convolutions)`);
    if (cin !== img.c) throw this.err(n, `the weight '${W.name}' [${W.dims.join(', ')}] takes ${cin} channels, the running tensor has ${img.c} (${show(w.shape)})`);
    const ks = this.attrInts(n, 'kernel_shape');
    if (ks && (ks[0] !== kh || ks[1] !== kw)) throw this.err(n, `kernel_shape [${ks.join(', ')}] does not match the weight's [${kh}, ${kw}]`);
    const [sh, sw] = (this.attrInts(n, 'strides') ?? [1, 1]) as [number, number];
    const [dh, dw] = (this.attrInts(n, 'dilations') ?? [1, 1]) as [number, number];
    const eh = dh * (kh - 1) + 1;
    const ew = dw * (kw - 1) + 1;
    const [pt, pl, pb, pr] = this.pads(n, extra, [eh, ew], [sh, sw]) as [number, number, number, number];
    let padding: number | [number, number] | 'same' | undefined;
    if (pt === pb && pl === pr) padding = pt === 0 && pl === 0 ? undefined : pair(pt, pl);
    else {
      // PyTorch's padding='same': total d(k−1) per axis, the odd pixel at the bottom / right.
      const same = sh === 1 && sw === 1 && pt + pb === eh - 1 && pl + pr === ew - 1 && pt === Math.floor((eh - 1) / 2) && pl === Math.floor((ew - 1) / 2);
      if (!same) {
        throw this.err(
          n,
          `asymmetric padding [top ${pt}, left ${pl}, bottom ${pb}, right ${pr}] is neither symmetric nor PyTorch's padding='same' (stride 1, the odd pixel at the bottom / right); natgrad's conv2d cannot express it`,
        );
      }
      padding = 'same';
    }
    const h = Math.floor((img.h + pt + pb - eh) / sh) + 1;
    const wd = Math.floor((img.w + pl + pr - ew) / sw) + 1;
    if (h < 1 || wd < 1) throw this.err(n, `the kernel (${eh} × ${ew} with dilation) does not fit the padded ${img.h} × ${img.w} input`);
    layers.push({
      type: 'conv2d',
      out,
      kernel: pair(kh, kw),
      ...(sh !== 1 || sw !== 1 ? { stride: pair(sh, sw) } : {}),
      ...(padding !== undefined ? { padding } : {}),
      ...(dh !== 1 || dw !== 1 ? { dilation: pair(dh, dw) } : {}),
      ...(B ? {} : { bias: false }),
    });
    this.pushTheta(W.values, ...(B ? [this.biasVector(n, B, out)] : []));
    return { t: this.take(n, w.t), shape: { kind: 'image', c: out, h, w: wd } };
  }

  private pool(n: GraphNode, w: Walk, layers: LayerSpec[], extra: readonly number[]): Walk {
    const img = this.image(n, w.shape);
    const max = n.opType === 'MaxPool';
    const ks = this.attrInts(n, 'kernel_shape');
    if (ks?.length !== 2) throw this.err(n, `kernel_shape must have 2 entries, got ${ks ? `[${ks.join(', ')}]` : 'none'}`);
    const [kh, kw] = ks as [number, number];
    const [sh, sw] = (this.attrInts(n, 'strides') ?? [1, 1]) as [number, number];
    const dil = this.attrInts(n, 'dilations');
    if (dil?.some((v) => v !== 1)) throw this.err(n, `dilations [${dil.join(', ')}]: pooling with dilation is not supported`);
    if (this.attrInt(n, 'ceil_mode', 0) !== 0) throw this.err(n, 'ceil_mode = 1 is not supported (natgrad pools in floor mode)');
    if (max && this.attrInt(n, 'storage_order', 0) !== 0) throw this.err(n, 'storage_order = 1 is not supported');
    const own = this.pads(n, [0, 0, 0, 0], [kh, kw], [sh, sw]);
    if (!max && own.some((p) => p !== 0) && this.attrInt(n, 'count_include_pad', 0) !== 1) {
      throw this.err(
        n,
        `count_include_pad = 0 with padding [${own.join(', ')}] (PyTorch's AvgPool2d(count_include_pad=False)): natgrad's avgPool2d counts the padding zeros in the mean (count_include_pad = 1)`,
      );
    }
    const [pt, pl, pb, pr] = own.map((p, i) => p + (extra[i] ?? 0)) as [number, number, number, number];
    if (pt !== pb || pl !== pr) throw this.err(n, `asymmetric padding [top ${pt}, left ${pl}, bottom ${pb}, right ${pr}]: natgrad's pooling pads symmetrically`);
    const h = Math.floor((img.h + 2 * pt - kh) / sh) + 1;
    const wd = Math.floor((img.w + 2 * pl - kw) / sw) + 1;
    if (h < 1 || wd < 1) throw this.err(n, `the ${kh} × ${kw} window does not fit the padded ${img.h} × ${img.w} input`);
    layers.push({
      type: max ? 'maxPool2d' : 'avgPool2d',
      kernel: pair(kh, kw),
      ...(sh !== kh || sw !== kw ? { stride: pair(sh, sw) } : {}),
      ...(pt !== 0 || pl !== 0 ? { padding: pair(pt, pl) } : {}),
    });
    return { t: this.take(n, w.t), shape: { kind: 'image', c: img.c, h, w: wd } };
  }

  /** A zero Pad on H and W, absorbed into the Conv or AveragePool that reads it (PyTorch's AvgPool2d(padding) with count_include_pad). */
  private pad(n: GraphNode, w: Walk, layers: LayerSpec[], end: string | undefined): Walk {
    this.image(n, w.shape);
    const mode = this.attrString(n, 'mode', 'constant');
    if (mode !== 'constant') throw this.err(n, `mode '${mode}': only zero (constant) padding is supported`);
    const p = this.attrInts(n, 'pads') ?? (n.inputs[1] ? Array.from(this.constant(n, 1, 'pads', 'any').values) : undefined);
    if (n.inputs[3]) throw this.err(n, 'a Pad with an axes input is not supported');
    const value = n.inputs[2] ? this.constant(n, 2, 'constant_value', 'any').values[0] : this.attrFloat(n, 'value', 0);
    if (p?.length !== 8) throw this.err(n, `pads must have 8 entries for a 4-d tensor, got ${p ? `[${p.join(', ')}]` : 'none'}`);
    if (value !== 0) throw this.err(n, `pads with the value ${value}: only zero padding is supported`);
    if (p[0] !== 0 || p[1] !== 0 || p[4] !== 0 || p[5] !== 0) throw this.err(n, `pads [${p.join(', ')}] pad the batch or channel axis`);
    if (p.some((v) => v < 0)) throw this.err(n, `negative pads [${p.join(', ')}] (cropping) are not supported`);
    const t = this.take(n, w.t);
    const next = t === end || t === this.outputName ? [] : this.open(t);
    const c = next.length === 1 ? next[0]! : undefined;
    const extra = [p[2]!, p[3]!, p[6]!, p[7]!];
    if (c?.opType === 'Conv') return this.conv(c, { t, shape: w.shape }, layers, extra);
    if (c?.opType === 'AveragePool') return this.pool(c, { t, shape: w.shape }, layers, extra);
    throw this.err(n, `a Pad must be read by one Conv or AveragePool (it becomes their padding), not by ${c ? `${c.opType} '${c.name}'` : `${next.length} nodes`}`);
  }

  /** ReduceMean over H and W (x.mean((2, 3))): a global average pool, flattened when keepdims = 0. */
  private reduceMean(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const axes = this.axes(n);
    const img = w.shape.kind === 'image' ? w.shape : undefined;
    const norm = axes?.map((a) => (a < 0 ? a + 4 : a)).sort();
    if (!img || !norm || norm.length !== 2 || norm[0] !== 2 || norm[1] !== 3) {
      throw this.unsupported(n, `with axes [${axes?.join(', ') ?? 'all'}] on ${show(w.shape)} (only the mean over H and W of [N, C, H, W], a global average pool)`);
    }
    layers.push({ type: 'globalAvgPool2d' });
    const t = this.take(n, w.t);
    if (this.attrInt(n, 'keepdims', 1) === 1) return { t, shape: { kind: 'image', c: img.c, h: 1, w: 1 } };
    layers.push({ type: 'flatten' });
    return { t, shape: { kind: 'flat', d: img.c } };
  }

  /** A reduction's axes (attribute up to opset 17, input from opset 18). */
  private axes(n: GraphNode): number[] | undefined {
    return this.attrInts(n, 'axes') ?? (n.inputs[1] ? Array.from(this.constant(n, 1, 'axes', 'any').values) : undefined);
  }

  /** Reshape to rows: shape [N | 0 | −1, −1 | F]. */
  private reshape(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const s = Array.from(this.constant(n, 1, 'shape', 'any').values);
    const F = sizeOf(w.shape);
    const allowzero = this.attrInt(n, 'allowzero', 0) === 1;
    const [a, b] = s as [number, number];
    const batchOk = a === -1 ? b === F : (a === 0 && !allowzero) || (a > 0 && a === this.batchDim);
    if (s.length !== 2 || !batchOk || (b !== -1 && b !== F)) {
      throw this.err(n, `reshape of ${show(w.shape)} to [${s.join(', ')}]: only a reshape to rows ([N or 0 or −1, −1 or ${F}]) is supported`);
    }
    return this.flatten(n, w, layers);
  }

  private batchNorm(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const C = w.shape.kind === 'image' ? w.shape.c : w.shape.d;
    if (this.attrInt(n, 'training_mode', 0) !== 0) throw this.err(n, 'training_mode = 1: batch norm imports in evaluation mode only (export the model in eval mode)');
    if (this.attrInt(n, 'spatial', 1) !== 1) throw this.err(n, 'spatial = 0 is not supported');
    const [g, b, mean, v] = ['scale', 'bias', 'mean', 'var'].map((what, i) => {
      const c = this.constant(n, i + 1, what);
      if (c.values.length !== C) throw this.err(n, `its ${what} '${c.name}' has ${c.values.length} entries, ${C} channels expected`);
      return c.values;
    }) as [Float64Array, Float64Array, Float64Array, Float64Array];
    const eps = float32Decimal(this.attrFloat(n, 'epsilon', 1e-5));
    layers.push({ type: 'batchNorm', ...(eps !== 1e-5 ? { eps } : {}), runningMean: Array.from(mean), runningVar: Array.from(v) });
    this.pushTheta(g, b);
    return { t: this.take(n, w.t), shape: w.shape };
  }

  private layerNorm(n: GraphNode, w: Walk, layers: LayerSpec[]): Walk {
    const F = sizeOf(w.shape);
    const rank = rankOf(w.shape);
    const axis = this.attrInt(n, 'axis', -1);
    if ((axis < 0 ? axis + rank : axis) !== 1) {
      throw this.err(n, `axis = ${axis} on ${show(w.shape)} normalizes the last ${rank - (axis < 0 ? axis + rank : axis)} axes only; natgrad's layerNorm normalizes all per-sample values (axis 1)`);
    }
    const g = this.optionalConstant(n, 1, 'scale');
    const b = this.optionalConstant(n, 2, 'bias');
    if (g && !b) throw this.err(n, "a scale without a bias: natgrad's layerNorm has both γ and β (affine) or neither");
    for (const c of [g, b]) if (c && c.values.length !== F) throw this.err(n, `'${c.name}' has ${c.values.length} entries, ${F} per-sample values expected`);
    const eps = float32Decimal(this.attrFloat(n, 'epsilon', 1e-5));
    layers.push({ type: 'layerNorm', ...(eps !== 1e-5 ? { eps } : {}), ...(g ? {} : { affine: false }) });
    if (g && b) this.pushTheta(g.values, b.values);
    return { t: this.take(n, w.t), shape: w.shape };
  }

  private geluError(n: GraphNode): OnnxImportError {
    return new OnnxImportError(
      `node '${n.name}' (${n.opType}) computes the exact (erf) GELU; natgrad's gelu is the tanh form 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): export with nn.GELU(approximate='tanh')`,
      { operator: n.opType, node: n.name },
    );
  }

  // ---------------------------------------------------------------- tensors read by several nodes

  private fanOut(w: Walk, cons: GraphNode[], layers: LayerSpec[], end: string | undefined, scope: ReadonlySet<GraphNode> | undefined): Walk {
    const ops = cons.map((c) => c.opType).sort();
    if (ops.length === 2 && ops[0] === 'ReduceMean' && ops[1] === 'Sub') return this.layerNormDecomposition(w, cons, layers);
    if (ops.length === 2 && ops[0] === 'Reshape' && ops[1] === 'Shape') return this.viewPattern(w, cons, layers);
    const region = this.region(w.t, scope);
    const elementwise = region.nodes.every((n) => SCALAR_OPS[n.opType] !== undefined && (!n.domain || n.domain === 'ai.onnx'));
    if (elementwise) {
      const erf = region.nodes.find((n) => n.opType === 'Erf');
      if (erf) throw this.geluError(erf);
      const gelu = this.matchGelu(w.t, region.nodes, region.exit, end);
      if (gelu) {
        layers.push({ type: 'activation', name: 'gelu' });
        return { t: gelu, shape: w.shape };
      }
    }
    const join = this.producer.get(region.exit)!;
    if (join.opType !== 'Add' || join.inputs.length !== 2 || join.inputs.some((i) => this.consts.has(i))) {
      throw this.err(join, `the branches from tensor '${w.t}' rejoin here; only an Add of two branches (a residual block body(x) + shortcut(x)) is supported`);
    }
    return this.residual(w, join, region.nodes, layers);
  }

  /**
   * The single-entry single-exit region from t: the nodes (in graph order) from t's readers up to
   * the first tensor every path from t goes through.
   */
  private region(t: string, scope: ReadonlySet<GraphNode> | undefined): { nodes: GraphNode[]; exit: string } {
    const live = new Map<string, number>([[t, this.open(t, scope).length]]);
    const inside = new Set<string>([t]);
    const nodes: GraphNode[] = [];
    for (const n of this.nodes) {
      if (this.used.has(n)) continue;
      const ins = [...new Set(n.inputs.filter((i) => i && !this.consts.has(i)))];
      if (!ins.some((i) => inside.has(i)) || (ins.includes(t) && scope && !scope.has(n))) continue;
      const outside = ins.find((i) => !inside.has(i));
      if (outside) throw this.err(n, `mixes the branches from '${t}' with the tensor '${outside}' from elsewhere: the graph is not a chain of blocks`);
      const read = (o: string) => o === this.outputName || (this.consumers.get(o)?.length ?? 0) > 0;
      if (!n.outputs.some((o) => o && read(o))) throw this.err(n, `nothing reads its output '${n.outputs[0]}' and it is not the graph output: a dead end off the chain from '${t}'`);
      nodes.push(n);
      for (const i of ins) {
        const left = (live.get(i) ?? 0) - 1;
        if (left > 0) live.set(i, left);
        else live.delete(i);
      }
      for (const o of n.outputs) {
        if (!o) continue;
        inside.add(o);
        const k = (this.consumers.get(o)?.length ?? 0) + (o === this.outputName ? 1 : 0);
        if (k > 0) live.set(o, k);
      }
      if (live.size === 1) {
        const exit = [...live.keys()][0]!;
        if (exit !== t) return { nodes, exit };
      }
      if (live.size === 0) break;
    }
    throw new OnnxImportError(`the branches from tensor '${t}' do not rejoin into one tensor: the graph is not a chain of blocks`);
  }

  /**
   * An elementwise region (plus up to 3 following elementwise nodes with constant operands, such as
   * torch's final ·0.5) that evaluates to natgrad's tanh GELU on probe points: the tensor it ends at.
   */
  private matchGelu(t: string, region: GraphNode[], exit: string, end: string | undefined): string | undefined {
    const nodes = [...region];
    let out = exit;
    for (let extra = 0; extra <= 3; extra++) {
      if (this.evaluatesToGelu(t, nodes, out)) {
        for (const n of nodes) this.used.add(n);
        return out;
      }
      if (out === end || out === this.outputName) return undefined;
      const next = this.open(out);
      const n = next[0];
      if (next.length !== 1 || !n || !SCALAR_OPS[n.opType] || n.opType === 'Erf') return undefined;
      if (n.inputs.filter((i) => i && !this.consts.has(i)).some((i) => i !== out)) return undefined;
      nodes.push(n);
      out = n.outputs[0]!;
    }
    return undefined;
  }

  private evaluatesToGelu(t: string, nodes: GraphNode[], out: string): boolean {
    for (const x of GELU_PROBES) {
      const v = new Map<string, number>([[t, x]]);
      for (const n of nodes) {
        const args: number[] = [];
        for (const i of n.inputs) {
          if (!i) continue;
          const c = this.consts.get(i);
          if (c) {
            if (c.values.length !== 1) return false;
            args.push(c.values[0]!);
          } else {
            const a = v.get(i);
            if (a === undefined) return false;
            args.push(a);
          }
        }
        v.set(n.outputs[0]!, SCALAR_OPS[n.opType]!(args[0] ?? Number.NaN, args[1] ?? Number.NaN));
      }
      const y = v.get(out);
      const g = geluTanh(x);
      if (y === undefined || !(Math.abs(y - g) <= 1e-6 * (1 + Math.abs(g)))) return false;
    }
    return true;
  }

  /** y = body(x) + shortcut(x): the Add `join` of two branches from w.t; the branch with more nodes is the body (a tie: the Add's first operand). */
  private residual(w: Walk, join: GraphNode, region: GraphNode[], layers: LayerSpec[]): Walk {
    const inRegion = new Set(region);
    const [a, b] = join.inputs as [string, string];
    if (a === w.t && b === w.t) throw this.err(join, `adds '${w.t}' to itself: not a residual block`);
    const ancestors = (v: string): Set<GraphNode> => {
      const seen = new Set<GraphNode>();
      const stack = [v];
      while (stack.length > 0) {
        const u = stack.pop()!;
        if (u === w.t || this.consts.has(u)) continue;
        const p = this.producer.get(u);
        if (!p || !inRegion.has(p) || p === join) throw this.err(join, `its operand '${v}' does not come from the branch point '${w.t}'`);
        if (seen.has(p)) continue;
        seen.add(p);
        for (const i of p.inputs) if (i) stack.push(i);
      }
      return seen;
    };
    const sa = ancestors(a);
    const sb = ancestors(b);
    for (const n of sa) if (sb.has(n)) throw this.err(n, `belongs to both operands of the Add '${join.name}': not a residual block with separate body and shortcut branches`);
    const stray = region.find((n) => n !== join && !sa.has(n) && !sb.has(n));
    if (stray) throw this.err(stray, `branches off the residual block that ends at '${join.name}' without reaching it`);
    const aIsBody = sa.size >= sb.size;
    const [bodyEnd, bodySet, cutEnd, cutSet] = aIsBody ? [a, sa, b, sb] : [b, sb, a, sa];
    const body = this.chain(w.t, w.shape, bodyEnd, bodySet);
    const shortcut = cutSet.size > 0 ? this.chain(w.t, w.shape, cutEnd, cutSet) : { layers: [], shape: w.shape };
    if (body.layers.length === 0) throw this.err(join, `the residual body from '${w.t}' has no layer`);
    const same = (p: Shape, q: Shape) => sizeOf(p) === sizeOf(q) && p.kind === q.kind && (p.kind === 'flat' || (q.kind === 'image' && p.c === q.c && p.h === q.h));
    if (!same(body.shape, shortcut.shape)) {
      throw this.err(join, `adds the body's ${show(body.shape)} to the shortcut's ${show(shortcut.shape)}: the shapes must match (no broadcasting)`);
    }
    this.used.add(join);
    layers.push(shortcut.layers.length > 0 ? { type: 'residual', layers: body.layers, shortcut: shortcut.layers } : { type: 'residual', layers: body.layers });
    return { t: join.outputs[0]!, shape: body.shape };
  }

  /**
   * torch's opset < 17 LayerNorm: m = ReduceMean(x), d = x − m, v = ReduceMean(d²), y = d / √(v + eps),
   * then optionally y·γ + β — over all per-sample axes.
   */
  private layerNormDecomposition(w: Walk, cons: GraphNode[], layers: LayerSpec[]): Walk {
    const rm = cons.find((c) => c.opType === 'ReduceMean')!;
    const sub = cons.find((c) => c.opType === 'Sub')!;
    const F = sizeOf(w.shape);
    const rank = rankOf(w.shape);
    const fail = (n: GraphNode, what: string) =>
      this.err(n, `part of a ReduceMean/Sub pattern that is not torch's LayerNorm decomposition (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div[, Mul γ, Add β]): ${what}`);
    const allAxes = (n: GraphNode) => {
      const ax = this.axes(n)
        ?.map((a) => (a < 0 ? a + rank : a))
        .sort();
      if (this.attrInt(n, 'keepdims', 1) !== 1) throw fail(n, 'keepdims must be 1');
      if (!ax || ax.length !== rank - 1 || ax.some((a, i) => a !== i + 1)) {
        throw this.err(
          n,
          `a LayerNorm over axes [${this.axes(n)?.join(', ') ?? 'all'}] of ${show(w.shape)}: natgrad's layerNorm normalizes all per-sample values (axes 1…${rank - 1}, PyTorch's LayerNorm(shape of one sample))`,
        );
      }
    };
    const only = (t: string, op: string, from: GraphNode): GraphNode => {
      const next = this.open(t);
      if (next.length !== 1 || next[0]!.opType !== op) throw fail(from, `its output '${t}' should be read by one ${op} only`);
      return next[0]!;
    };
    const scalar = (n: GraphNode, t: string): number => {
      const other = n.inputs[0] === t ? n.inputs[1] : n.inputs[0];
      const c = other ? this.consts.get(other) : undefined;
      if (c?.values.length !== 1) throw fail(n, 'expected a scalar constant operand');
      return c.values[0]!;
    };
    allAxes(rm);
    const m = rm.outputs[0]!;
    if (sub.inputs[0] !== w.t || sub.inputs[1] !== m) throw fail(sub, `expected Sub('${w.t}', '${m}')`);
    const d = sub.outputs[0]!;
    const dr = this.open(d);
    const sq = dr.find((c) => c.opType === 'Pow' || (c.opType === 'Mul' && c.inputs[0] === d && c.inputs[1] === d));
    const div = dr.find((c) => c.opType === 'Div');
    if (dr.length !== 2 || !sq || !div || div.inputs[0] !== d) throw fail(sub, `its output '${d}' should be read by a Pow (or Mul) and a Div`);
    if (sq.opType === 'Pow' && (sq.inputs[0] !== d || scalar(sq, d) !== 2)) throw fail(sq, 'expected Pow(x − mean, 2)');
    const rv = only(sq.outputs[0]!, 'ReduceMean', sq);
    allAxes(rv);
    const add = only(rv.outputs[0]!, 'Add', rv);
    const epsRaw = scalar(add, rv.outputs[0]!);
    const epsConst = this.consts.get(add.inputs[0] === rv.outputs[0] ? add.inputs[1]! : add.inputs[0]!)!;
    const eps = epsConst.dataType === DataType.FLOAT ? float32Decimal(epsRaw) : epsRaw;
    const sqrt = only(add.outputs[0]!, 'Sqrt', add);
    if (div.inputs[1] !== sqrt.outputs[0]) throw fail(div, `expected Div(x − mean, '${sqrt.outputs[0]}')`);
    const core = [rm, sub, sq, rv, add, sqrt, div];
    let t = div.outputs[0]!;
    // γ, β: a Mul and an Add by F-entry constants.
    const affine = (op: string): Tensor | undefined => {
      if (t === this.outputName) return undefined;
      const next = this.open(t);
      const n = next[0];
      if (next.length !== 1 || n?.opType !== op) return undefined;
      const other = n.inputs[0] === t ? n.inputs[1] : n.inputs[0];
      const c = other ? this.consts.get(other) : undefined;
      if (!c || c.values.length !== F || F === 1) return undefined;
      core.push(n);
      t = n.outputs[0]!;
      return c;
    };
    const g = affine('Mul');
    const b = g ? affine('Add') : undefined;
    if (g && !b) throw this.err(core.at(-1)!, "a LayerNorm decomposition with a scale γ but no shift β: natgrad's layerNorm has both (affine) or neither");
    for (const n of core) this.used.add(n);
    layers.push({ type: 'layerNorm', ...(eps !== 1e-5 ? { eps } : {}), ...(g ? {} : { affine: false }) });
    if (g && b) this.pushTheta(g.values, b.values);
    return { t, shape: w.shape };
  }

  /** x.view(x.size(0), -1): Shape → Gather(0) → Unsqueeze(0) → Concat(·, [−1]) → Reshape(x, ·). */
  private viewPattern(w: Walk, cons: GraphNode[], layers: LayerSpec[]): Walk {
    const shape = cons.find((c) => c.opType === 'Shape')!;
    const reshape = cons.find((c) => c.opType === 'Reshape')!;
    const fail = (n: GraphNode) => this.err(n, `part of a Shape/Reshape pattern other than x.view(x.size(0), -1) (Shape, Gather 0, Unsqueeze 0, Concat with [-1], Reshape)`);
    if (this.attr(shape, 'start') || this.attr(shape, 'end')) throw fail(shape);
    const single = (t: string, op: string, from: GraphNode) => {
      const next = this.open(t);
      if (next.length !== 1 || next[0]!.opType !== op) throw fail(from);
      return next[0]!;
    };
    const gather = single(shape.outputs[0]!, 'Gather', shape);
    const idx = gather.inputs[1] ? this.consts.get(gather.inputs[1]) : undefined;
    if (this.attrInt(gather, 'axis', 0) !== 0 || !idx || idx.values.length !== 1 || idx.values[0] !== 0) throw fail(gather);
    const unsq = single(gather.outputs[0]!, 'Unsqueeze', gather);
    const ax = this.attrInts(unsq, 'axes') ?? (unsq.inputs[1] ? Array.from(this.consts.get(unsq.inputs[1])?.values ?? []) : []);
    if (ax.length !== 1 || ax[0] !== 0) throw fail(unsq);
    const concat = single(unsq.outputs[0]!, 'Concat', unsq);
    const rest = concat.inputs[1] ? this.consts.get(concat.inputs[1]) : undefined;
    const F = sizeOf(w.shape);
    if (this.attrInt(concat, 'axis', 0) !== 0 || concat.inputs.length !== 2 || concat.inputs[0] !== unsq.outputs[0] || !rest || rest.values.length !== 1) throw fail(concat);
    if (rest.values[0] !== -1 && rest.values[0] !== F) throw fail(concat);
    if (reshape.inputs[0] !== w.t || reshape.inputs[1] !== concat.outputs[0]) throw fail(reshape);
    for (const n of [shape, gather, unsq, concat]) this.used.add(n);
    return this.flatten(reshape, w, layers);
  }
}

/** Bᵀ of a row-major rows × cols matrix (a cols × rows row-major matrix). */
function transpose(B: Float64Array, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[j * rows + i] = B[i * cols + j]!;
  return T;
}
