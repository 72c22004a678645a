/**
 * Layer specifications: the plain, structured-cloneable descriptions from which
 * {@link sequential} builds a network. They are what the layer constructors (`dense(…)`,
 * `conv2d(…)`, …) return, what a worker thread receives to rebuild a model, and what
 * `natgrad/onnx` produces from an ONNX graph.
 *
 * Conventions (PyTorch's, so that a `state_dict` and an ONNX file map onto θ directly):
 * - A sample is a row of C·H·W values in NCHW order (a PyTorch batch flattened per sample), or
 *   of d values for a flat input.
 * - θ is every parameterized layer's parameters in layer order (a residual block: its body, then
 *   its shortcut), each layer in PyTorch's `parameters()` order: dense W (out × in, row-major)
 *   then b; conv2d W (out, in, kh, kw) row-major then b; batchNorm / layerNorm γ then β.
 * - Batch norm runs in evaluation mode: its running statistics are fixed buffers, not θ.
 *
 * @module
 */
import type { Activation } from '../models/activations.js';

/**
 * A size given once for both spatial axes, or as [height, width].
 *
 * @category Layers
 */
export type Pair = number | readonly [number, number];

/**
 * z = W a + b on a flat input of `in` features (a flatten must come before it on images).
 *
 * @category Layers
 */
export interface DenseSpec {
  readonly type: 'dense';
  /** Output features. */
  readonly out: number;
  /** With a bias b (default true). */
  readonly bias?: boolean;
}

/**
 * PyTorch's `Conv2d` with groups = 1: out channels, kernel (kh, kw), stride, zero padding and
 * dilation per axis. `padding: 'same'` (stride 1 only) pads so that H and W are kept (PyTorch:
 * the extra pixel of an even total padding goes at the bottom / right).
 *
 * @category Layers
 */
export interface Conv2dSpec {
  readonly type: 'conv2d';
  readonly out: number;
  readonly kernel: Pair;
  /** Default 1. */
  readonly stride?: Pair;
  /** Default 0. */
  readonly padding?: Pair | 'same';
  /** Default 1. */
  readonly dilation?: Pair;
  /** With a bias b (default true). */
  readonly bias?: boolean;
}

/**
 * PyTorch's `MaxPool2d` / `AvgPool2d` (dilation 1, floor mode; average pooling counts the
 * padding zeros, `count_include_pad=True`). The stride defaults to the kernel. Max pooling's
 * padding is −∞ (never selected); a tie selects the first maximum in row-major window order.
 *
 * @category Layers
 */
export interface Pool2dSpec {
  readonly type: 'maxPool2d' | 'avgPool2d';
  readonly kernel: Pair;
  readonly stride?: Pair;
  readonly padding?: Pair;
}

/**
 * The mean over H·W per channel: [C, H, W] → [C, 1, 1] (PyTorch's `AdaptiveAvgPool2d(1)`).
 *
 * @category Layers
 */
export interface GlobalAvgPool2dSpec {
  readonly type: 'globalAvgPool2d';
}

/**
 * [C, H, W] → C·H·W (the values do not move: NCHW rows are already flat).
 *
 * @category Layers
 */
export interface FlattenSpec {
  readonly type: 'flatten';
}

/**
 * An elementwise activation (see {@link ACTIVATIONS}; gelu is the tanh form).
 *
 * @category Layers
 */
export interface ActivationSpec {
  readonly type: 'activation';
  readonly name: Activation;
}

/**
 * Batch norm in evaluation mode, per channel c (per feature on a flat input):
 * y = γ_c (x − μ_c) / √(σ²_c + eps) + β_c with the running statistics μ, σ² fixed
 * (default 0 and 1: a freshly built PyTorch layer). θ: γ (C) then β (C), initialized to 1 and 0.
 *
 * @category Layers
 */
export interface BatchNormSpec {
  readonly type: 'batchNorm';
  /** Default 1e-5. */
  readonly eps?: number;
  readonly runningMean?: readonly number[];
  readonly runningVar?: readonly number[];
}

/**
 * PyTorch's `LayerNorm(shape of one sample)`: per sample, x̂ = (x − mean) / √(var + eps) over all
 * of the sample's F = C·H·W values (biased variance), y = γ ⊙ x̂ + β with γ, β of F entries each
 * (initialized 1 and 0) when `affine` (default true).
 *
 * @category Layers
 */
export interface LayerNormSpec {
  readonly type: 'layerNorm';
  /** Default 1e-5. */
  readonly eps?: number;
  readonly affine?: boolean;
}

/**
 * y = body(x) + shortcut(x): the shortcut is the identity when absent (the body must then keep
 * the shape), or its own layers (a 1×1 convolution, a dense layer, …) when shapes differ.
 * θ: the body's parameters, then the shortcut's.
 *
 * @category Layers
 */
export interface ResidualSpec {
  readonly type: 'residual';
  readonly layers: readonly LayerSpec[];
  readonly shortcut?: readonly LayerSpec[];
}

/**
 * One layer of a {@link sequential} network.
 *
 * @category Layers
 */
export type LayerSpec = DenseSpec | Conv2dSpec | Pool2dSpec | GlobalAvgPool2dSpec | FlattenSpec | ActivationSpec | BatchNormSpec | LayerNormSpec | ResidualSpec;

/**
 * The per-sample input shape: d features, or [C, H, W] images.
 *
 * @category Layers
 */
export type InputShape = number | readonly [number, number, number];

/**
 * A whole network: what {@link sequential} takes and `natgrad/onnx` returns.
 *
 * @category Models
 */
export interface SequentialSpec {
  readonly input: InputShape;
  readonly layers: readonly LayerSpec[];
  /**
   * The element type every pass runs in (default `'float64'`). With `'float32'` the values, the
   * layer states, θ and every product inside the passes are float32 (the float32 twins of the
   * layer kernels, `sgemm`); the trace's own inputs and results ({@link Model.forward}) stay
   * `Float64Array`, rounded to float32 on the way in, and a problem on the network returns its
   * results in float32 (`Float32Array`, matrices with `dtype: 'float32'`; see {@link Problem}).
   */
  readonly dtype?: 'float32' | 'float64';
}
