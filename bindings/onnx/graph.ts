/**
 * Decoding an ONNX `ModelProto` (with the `onnx-proto` package's generated protobuf code) into a
 * plain graph: nodes in topological order, constant tensors (initializers and `Constant` nodes)
 * as float64 arrays, and the graph's inputs and outputs with their dimensions.
 *
 * @module
 * @internal
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { OnnxImportError } from './errors.js';

const { onnx } = onnxProto;

/** A protobuf int64 as protobufjs decodes it: a number, or a `Long` when the `long` package is present. */
type Int64 = number | { toNumber(): number };

/** A decoded constant tensor: row-major values widened to float64 (integers included). */
export interface Tensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** ONNX `TensorProto.DataType`: 1 float32, 11 float64, 6 int32, 7 int64, 9 bool, 2 uint8. */
  readonly dataType: number;
  readonly values: Float64Array;
}

/** One graph node. */
export interface GraphNode {
  /** Position in the (topologically sorted) node list. */
  readonly index: number;
  /** The node's name, or `#index` when it has none. */
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Input tensor names ('' for an omitted optional input). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, OnnxTypes.IAttributeProto>;
}

/** A graph input or output: its name and dimensions (a number, a symbolic name, or undefined when unknown). */
export interface ValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly dims: readonly (number | string | undefined)[] | undefined;
}

/** The decoded graph. */
export interface Graph {
  readonly nodes: readonly GraphNode[];
  /** Initializers (and later the constants {@link foldConstants} adds). */
  readonly constants: Map<string, Tensor>;
  /** Graph inputs that are not initializers. */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** The default-domain opset version (0 when absent). */
  readonly opset: number;
}

/** `TensorProto.DataType` values this importer reads. */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

const DATA_TYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** The name of a `TensorProto.DataType` value, for messages. */
export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `data type ${t}`;
}

/** A protobuf int64 as a JS number. */
export function int64(v: Int64 | null | undefined, fallback = 0): number {
  if (v === null || v === undefined) return fallback;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Decode the bytes of an `.onnx` file.
 * @throws OnnxImportError when the bytes do not decode as a ModelProto, or carry no graph.
 */
export function decodeModel(bytes: Uint8Array): Graph {
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxImportError(`the bytes are not an ONNX model (protobuf decoding failed: ${(e as Error).message}); is the file truncated, or not an .onnx file?`);
  }
  const g = model.graph;
  const gNodes = g?.node ?? [];
  const gInputs = g?.input ?? [];
  if (!g || gNodes.length === 0) {
    throw new OnnxImportError(`the bytes are not an ONNX model: ${g ? 'its graph has no nodes' : 'no graph'} (${bytes.length} bytes decoded)`);
  }
  let opset = 0;
  for (const o of model.opsetImport) if (!o.domain || o.domain === 'ai.onnx') opset = int64(o.version);

  const constants = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) constants.set(t.name ?? '', readTensor(t, t.name ?? ''));
  const nodes = sortNodes(
    gNodes.map((n, index) => ({
      index,
      name: n.name || `#${index}`,
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? '', a])),
    })),
    new Set([...constants.keys(), ...gInputs.map((i) => i.name ?? '')]),
  );
  const info = (v: OnnxTypes.IValueInfoProto): ValueInfo => {
    const tt = v.type?.tensorType;
    return {
      name: v.name ?? '',
      elemType: tt?.elemType ?? 0,
      dims: tt?.shape?.dim?.map((d) => (d.dimValue !== null && d.dimValue !== undefined && int64(d.dimValue) > 0 ? int64(d.dimValue) : d.dimParam || undefined)),
    };
  };
  return {
    nodes,
    constants,
    inputs: gInputs.filter((i) => !constants.has(i.name ?? '')).map(info),
    outputs: (g.output ?? []).map(info),
    opset,
  };
}

/** Order nodes so every node comes after the producers of its inputs (ONNX requires it; this checks it). */
function sortNodes(nodes: GraphNode[], available: Set<string>): GraphNode[] {
  const have = new Set(available);
  const out: GraphNode[] = [];
  let pending = nodes;
  while (pending.length > 0) {
    const next: GraphNode[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => i === '' || have.has(i))) {
        out.push({ ...n, index: out.length });
        for (const o of n.outputs) if (o) have.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) {
      const n = next[0]!;
      const missing = n.inputs.find((i) => i !== '' && !have.has(i));
      throw new OnnxImportError(`node '${n.name}' (${n.opType}) reads tensor '${missing}', which no node, initializer or graph input produces (or the graph has a cycle)`, {
        operator: n.opType,
        node: n.name,
      });
    }
    pending = next;
  }
  return out;
}

/**
 * A TensorProto's values as float64 (float32, float64, int32, int64, bool and uint8 tensors;
 * raw_data little-endian or the typed repeated fields).
 * @throws OnnxImportError for another data type, external data, or a size that does not match the dims.
 */
export function readTensor(t: OnnxTypes.ITensorProto, name: string, at: { operator?: string; node?: string } = {}): Tensor {
  const dims = (t.dims ?? []).map((d) => int64(d));
  const count = dims.reduce((a, b) => a * b, 1);
  const dataType = t.dataType ?? 0;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new OnnxImportError(`tensor '${name}' keeps its data in an external file; natgrad/onnx reads self-contained .onnx files only (save with all tensors inline)`, at);
  }
  if (t.segment) throw new OnnxImportError(`tensor '${name}' is segmented; natgrad/onnx reads whole tensors only`, at);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const values = new Float64Array(count);
  const bad = (got: number) =>
    new OnnxImportError(`tensor '${name}' (${dataTypeName(dataType)}, dims [${dims.join(', ')}]) holds ${got} values, ${count} expected: the file is truncated or corrupt`, at);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width =
      dataType === DataType.FLOAT || dataType === DataType.INT32
        ? 4
        : dataType === DataType.DOUBLE || dataType === DataType.INT64
          ? 8
          : dataType === DataType.BOOL || dataType === DataType.UINT8
            ? 1
            : 0;
    if (width === 0) throw unsupportedType(name, dataType, at);
    if (raw.byteLength !== count * width) throw bad(raw.byteLength / width);
    for (let i = 0; i < count; i++) {
      const o = i * width;
      values[i] =
        dataType === DataType.FLOAT
          ? view.getFloat32(o, true)
          : dataType === DataType.DOUBLE
            ? view.getFloat64(o, true)
            : dataType === DataType.INT32
              ? view.getInt32(o, true)
              : width === 1
                ? view.getUint8(o)
                : Number(view.getBigInt64(o, true));
    }
    return { name, dims, dataType, values };
  }
  let src: ArrayLike<number | Int64>;
  if (dataType === DataType.FLOAT) src = t.floatData ?? [];
  else if (dataType === DataType.DOUBLE) src = t.doubleData ?? [];
  else if (dataType === DataType.INT32 || dataType === DataType.BOOL || dataType === DataType.UINT8) src = t.int32Data ?? [];
  else if (dataType === DataType.INT64) src = t.int64Data ?? [];
  else throw unsupportedType(name, dataType, at);
  if (src.length !== count) throw bad(src.length);
  for (let i = 0; i < count; i++) values[i] = int64(src[i]);
  return { name, dims, dataType, values };
}

function unsupportedType(name: string, dataType: number, at: { operator?: string; node?: string }): OnnxImportError {
  return new OnnxImportError(`tensor '${name}' is ${dataTypeName(dataType)}; natgrad/onnx reads float32, float64, int32, int64, bool and uint8 tensors`, at);
}

/** The tensor of a `Constant` node (its `value`, `value_float(s)` or `value_int(s)` attribute). */
export function constantNodeValue(n: GraphNode): Tensor {
  const name = n.outputs[0] ?? '';
  const at = { operator: n.opType, node: n.name };
  const a = n.attrs;
  const value = a.get('value');
  if (value?.t) return readTensor(value.t, name, at);
  const vf = a.get('value_float');
  if (vf) return { name, dims: [], dataType: DataType.FLOAT, values: Float64Array.of(vf.f ?? 0) };
  const vfs = a.get('value_floats');
  if (vfs) return { name, dims: [vfs.floats?.length ?? 0], dataType: DataType.FLOAT, values: Float64Array.from(vfs.floats ?? []) };
  const vi = a.get('value_int');
  if (vi) return { name, dims: [], dataType: DataType.INT64, values: Float64Array.of(int64(vi.i)) };
  const vis = a.get('value_ints');
  if (vis) return { name, dims: [vis.ints?.length ?? 0], dataType: DataType.INT64, values: Float64Array.from((vis.ints ?? []).map((v) => int64(v))) };
  throw new OnnxImportError(`Constant node '${n.name}' has no value, value_float(s) or value_int(s) attribute (sparse or string constants are not supported)`, at);
}
