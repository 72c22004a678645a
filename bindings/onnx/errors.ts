/**
 * The error `natgrad/onnx` throws for a file it cannot map onto the layer vocabulary.
 *
 * @module
 */

/**
 * The ONNX operators {@link onnxToSpec} maps (by `op_type`, default domain). Beside them it
 * recognizes torch's opset-13 LayerNorm decomposition (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/
 * Div[/Mul/Add]), its tanh-GELU decomposition (Mul/Pow/Add/Tanh with the constants of
 * 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))), and `x.view(x.size(0), -1)`
 * (Shape/Gather/Unsqueeze/Concat/Reshape).
 *
 * @category ONNX
 */
export const SUPPORTED_OPERATORS: readonly string[] = [
  'Gemm',
  'MatMul (+ Add)',
  'Conv',
  'Relu',
  'Tanh',
  'Sigmoid',
  'Softplus',
  'Gelu (tanh form)',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'ReduceMean (over H, W)',
  'Flatten',
  'Reshape (to rows)',
  'BatchNormalization',
  'LayerNormalization',
  'Add (residual join)',
  'Pad (zeros, before Conv / AveragePool)',
  'Identity',
  'Dropout',
  'Constant',
];

/**
 * A file `natgrad/onnx` cannot import: not ONNX, truncated, or a graph that is not a chain of the
 * supported blocks. `operator` and `node` name the ONNX node at fault when there is one (`node`
 * is its name, or `#index` in the graph's node list for an unnamed node).
 *
 * @category Errors
 */
export class OnnxImportError extends Error {
  /** The ONNX `op_type` at fault, when the error is about one node. */
  readonly operator: string | undefined;
  /** The name of the node at fault (`#index` when unnamed), when the error is about one node. */
  readonly node: string | undefined;

  constructor(message: string, at: { operator?: string; node?: string } = {}) {
    super(message.startsWith('natgrad/onnx: ') ? message : `natgrad/onnx: ${message}`);
    this.name = 'OnnxImportError';
    this.operator = at.operator;
    this.node = at.node;
  }
}
