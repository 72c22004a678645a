/**
 * `natgrad/onnx`: load a network trained in PyTorch (or any exporter that emits the same
 * operators) from an `.onnx` file, as a {@link SequentialSpec} and its θ, or straight as a
 * {@link sequential} model.
 *
 * ```ts
 * import { loadOnnx } from 'natgrad/onnx';
 * const { model, theta } = loadOnnx(readFileSync('net.onnx'));
 * // model.forward(theta, X, N).outputs === the PyTorch network's outputs on X (N × C·H·W rows)
 * ```
 *
 * What maps onto what (ONNX op → layer; θ in PyTorch's `parameters()` order):
 *
 * | ONNX                                                   | layer                                   |
 * |--------------------------------------------------------|-----------------------------------------|
 * | Gemm (alpha = beta = 1; transB = 1 as torch exports Linear, transB = 0 transposed) | `dense`    |
 * | MatMul by an [in, out] constant, then Add of an [out] constant (or no Add: no bias) | `dense`   |
 * | Conv (group 1; symmetric pads, or PyTorch's 'same'; auto_pad SAME_UPPER / VALID)  | `conv2d`   |
 * | Relu, Tanh, Sigmoid, Softplus; Gelu(approximate='tanh') or its decomposition       | `activation` |
 * | MaxPool / AveragePool (symmetric pads, floor mode; average: count_include_pad = 1 when padded; a zero Pad before it counts as its padding) | `maxPool2d` / `avgPool2d` |
 * | GlobalAveragePool, ReduceMean over H, W                | `globalAvgPool2d` (+ `flatten` when keepdims = 0) |
 * | Flatten(axis 1), Reshape to [N \| 0 \| −1, −1], x.view(x.size(0), -1) | `flatten` (nothing on a flat tensor) |
 * | BatchNormalization (evaluation mode)                   | `batchNorm` (scale → γ, B → β in θ; mean, var → runningMean, runningVar) |
 * | LayerNormalization over all per-sample axes; torch's opset-13 ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] | `layerNorm` |
 * | Add of two branches from one tensor                    | `residual` (the branch with more nodes is the body; the identity shortcut when one operand is the branch point) |
 * | Identity, Dropout, Constant                            | nothing                                  |
 *
 * Everything else is an {@link OnnxImportError} naming the operator and the node.
 *
 * @module natgrad/onnx
 */
import type { Core } from '../core/wasm.js';
import type { Dtype, FloatArray } from '../core/types.js';
import { sequential, type SequentialModel } from '../nn/sequential.js';
import type { SequentialSpec } from '../nn/spec.js';
import { importOnnx, type OnnxImport } from './import.js';
import { checkOptions } from '../nn/layer.js';

export { OnnxImportError, SUPPORTED_OPERATORS } from './errors.js';
export type { OnnxImport } from './import.js';

/**
 * Decode an ONNX model and map its graph onto the layer vocabulary of `natgrad/nn`.
 *
 * The graph must have one input — [N, d] or [N, C, H, W] with known sizes after the batch
 * dimension — and one output, and be a chain of the supported blocks from one to the other: the
 * operators of {@link SUPPORTED_OPERATORS}, mapped onto layers as the table on the
 * {@link "natgrad/onnx" | natgrad/onnx} page shows. Parameters (initializers or Constant nodes, float32 or float64, raw or
 * typed data) are copied into θ as float64 in the spec's order, which is PyTorch's
 * `parameters()` order for a network whose modules are registered in forward order (a residual
 * block: its body, then its shortcut). A float32 attribute such as `epsilon` is read as the
 * shortest decimal that rounds to it (PyTorch's 1e-5, stored as 9.99999974738e-6, reads 1e-5).
 *
 * @param bytes The contents of an `.onnx` file (self-contained: no external data files).
 * @returns `{ spec, theta, input: { name, shape }, output: { name } }`; `input.shape` is the
 *   per-sample shape ([C, H, W] or [d]), `spec.input` the same as {@link SequentialSpec} wants it.
 * @throws TypeError when `bytes` is not a Uint8Array or ArrayBuffer.
 * @throws OnnxImportError for bytes that do not decode as an ONNX model (truncated, or another
 *   format), a graph with several inputs or outputs, an unsupported operator or attribute (with
 *   `operator` and `node` set), or a graph that is not a chain of the supported blocks.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { onnxToSpec } from 'natgrad/onnx';
 * const { spec, theta, input } = onnxToSpec(readFileSync('lenet.onnx')); // a small LeNet exported by torch.onnx
 * input;             // { name: 'x', shape: [1, 12, 12] }
 * spec.layers[0];    // { type: 'conv2d', out: 4, kernel: 3, padding: 1 }
 * theta.length;      // 845, in PyTorch's parameters() order
 * ```
 *
 * @category ONNX
 */
export function onnxToSpec(bytes: Uint8Array | ArrayBuffer): OnnxImport {
  let u8: Uint8Array;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else {
    const what = bytes === null ? 'null' : typeof bytes === 'object' ? ((bytes as object).constructor?.name ?? 'an object') : typeof bytes;
    throw new TypeError(`natgrad/onnx: bytes must be a Uint8Array or an ArrayBuffer (the contents of an .onnx file), got ${what}`);
  }
  return importOnnx(u8);
}

/**
 * What {@link loadOnnx} returns.
 *
 * @category ONNX
 */
export interface LoadedOnnx<T extends Dtype = 'float64'> {
  /** `sequential({ ...spec, dtype, core })`: f(θ, X) on rows of per-sample values (NCHW flattened). */
  readonly model: SequentialModel<T>;
  /** The trained parameters, in `model`'s θ order and type (a `Float32Array`, rounded, for `dtype: 'float32'`). */
  readonly theta: FloatArray<T>;
  /** The graph input: its name and per-sample shape ([C, H, W] or [d]). */
  readonly input: { readonly name: string; readonly shape: number[] };
  /** The graph output's name. */
  readonly output: { readonly name: string };
  /** The imported layer list (what `sequential` was built from). */
  readonly spec: SequentialSpec;
}

/**
 * Load an ONNX file as a natgrad model with its trained θ: {@link onnxToSpec}, then
 * `sequential({ ...spec, core })`. `model.forward(theta, X, N)` reproduces the exported
 * network's outputs (in float64: a float32 export agrees to float32 rounding, ~1e-6 relative).
 *
 * Batch norm and folding. PyTorch exports an eval-mode model with each BatchNorm *folded* into
 * the convolution before it (W' = W·γ/√(σ² + eps), b' = β + (b − μ)·γ/√(σ² + eps)): the import
 * then has no `batchNorm` layer and θ holds the folded W', b'. The network's outputs are the
 * same, but θ is a different parametrization — the curvature (GGN, Fisher, Hessian, KFAC) is
 * taken with respect to W', b' rather than to the convolution's W and the norm's γ, β, and its
 * dimension drops by the norms' parameters. To keep the norms as layers (θ = PyTorch's
 * `parameters()`), export with `torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE)`
 * from an eval-mode model: the BatchNormalization nodes stay, and import as `batchNorm` layers
 * in evaluation mode (running statistics fixed, γ and β in θ).
 *
 * @param bytes The contents of an `.onnx` file.
 * @param options `core`: the WebAssembly core the model runs on (default: the one `init` loaded).
 * @throws TypeError / OnnxImportError as {@link onnxToSpec}; whatever `sequential` throws for the spec.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { init, problem, categorical } from 'natgrad';
 * import { loadOnnx } from 'natgrad/onnx';
 * await init();
 * const { model, theta } = loadOnnx(readFileSync('lenet.onnx'));
 * model.dim;         // 845 (= theta.length)
 * model.outputShape; // [3]
 * const p = problem({ model, X, y, likelihood: categorical({ classes: 3 }) }); // X: N × 144 (NCHW rows)
 * const F = p.fisher(theta, { structure: 'kfac' });
 * ```
 *
 * @category ONNX
 */
export function loadOnnx<T extends Dtype = 'float64'>(bytes: Uint8Array | ArrayBuffer, options: { core?: Core; dtype?: T } = {}): LoadedOnnx<T> {
  checkOptions(options, 'loadOnnx', ['core', 'dtype']);
  const { spec, theta, input, output } = onnxToSpec(bytes);
  const model = sequential<T>({ input: spec.input, layers: spec.layers, ...(options.dtype !== undefined ? { dtype: options.dtype } : {}), ...(options.core ? { core: options.core } : {}) });
  return { model, theta: (model.dtype === 'float32' ? new Float32Array(theta) : theta) as FloatArray<T>, input, output, spec };
}
