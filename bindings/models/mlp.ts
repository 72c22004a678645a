/**
 * The multilayer perceptron f(θ, x) = z_L with z_l = W_l a_{l−1} + b_l, a_l = σ(z_l) (l < L),
 * a_0 = x: dense layers, one activation between them, the last layer linear — a preset over
 * {@link sequential}: `mlp({ sizes: [d, h, M], activation })` is
 * `sequential({ input: d, layers: [dense({ out: h }), activation(σ), dense({ out: M })] })` with
 * the groups named `layer1`, `layer2`, …. θ is PyTorch's layout — for each layer W_l (out × in,
 * row-major) then b_l — so a `state_dict` flattened in `parameters()` order is a valid θ.
 *
 * Such a network runs on the dense-chain trace ({@link MlpTrace}, `bindings/nn/dense-chain.ts`):
 * batched GEMMs over all N rows, kc-batched residual Hessian products and the Kronecker-form
 * curvature fast paths of dense layers.
 *
 * @module
 */
import { checkBytes, DENSE_HINT } from '../core/limits.js';
import { checkOptions } from '../core/options.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { activation as activationLayer } from '../nn/layers/activation/index.js';
import { dense } from '../nn/layers/dense/index.js';
import type { MlpTrace } from '../nn/dense-chain.js';
import { SequentialModel } from '../nn/sequential.js';
import type { LayerSpec } from '../nn/spec.js';
import { rng } from '../data/random.js';
import { checkActivation, type Activation } from './activations.js';

export { MlpTrace } from '../nn/dense-chain.js';

export type { Dtype } from '../core/types.js';
import type { Dtype, FloatArray } from '../core/types.js';

/**
 * Options of {@link mlp}.
 *
 * @category Models
 */
export interface MlpOptions<T extends Dtype = 'float64'> {
  /** Layer widths [d, h_1, …, M]: input dimension, hidden widths, output dimension (≥ 2 entries). */
  sizes: readonly number[];
  /** The activation between layers (not after the last). Default `'tanh'`. */
  activation?: Activation;
  /** The core to run on (default: the one {@link init} loaded). */
  core?: Core;
  /**
   * `'float64'` (default) or `'float32'`: every pass in float32 on the layers' float32 kernels
   * (the network's generic trace, as `sequential({ dtype })`): θ from `init` and a problem's
   * results come back in float32 (see {@link Problem}).
   */
  dtype?: T;
}

const F64 = 8;

function checkSizes(sizes: unknown): number[] {
  if (!Array.isArray(sizes)) throw new TypeError(`natgrad: mlp: sizes must be an array of layer widths [inputs, hidden…, outputs], got ${typeof sizes}`);
  if (sizes.length < 2) throw new RangeError(`natgrad: mlp: sizes must have at least 2 entries (inputs and outputs), got ${sizes.length}`);
  for (const [i, s] of sizes.entries()) {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1) throw new RangeError(`natgrad: mlp: sizes[${i}] must be a positive integer, got ${String(s)}`);
  }
  return sizes.slice() as number[];
}

/** The layer list of an MLP. */
function layersOf(sizes: readonly number[], activation: Activation): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (let l = 1; l < sizes.length; l++) {
    if (l > 1) layers.push(activationLayer(activation));
    layers.push(dense({ out: sizes[l]! }));
  }
  return layers;
}

/**
 * A multilayer perceptron f(θ, x) = z_L with z_l = W_l a_{l−1} + b_l, a_l = σ(z_l) (l < L),
 * a_0 = x: a {@link SequentialModel} of dense layers with one activation between them and a linear
 * last layer, with the parameter groups named `layer1`, `layer2`, …. It runs on the dense-chain
 * trace ({@link MlpTrace}): batched GEMMs over all N rows, batched residual Hessian products, and
 * the Kronecker-form curvature fast paths of dense layers. Made by {@link mlp}.
 *
 * @category Models
 */
export class MlpModel<T extends Dtype = 'float64'> extends SequentialModel<T> {
  override readonly name = 'mlp';
  /** The layer widths [d, h_1, …, M]. */
  readonly sizes: readonly number[];
  readonly activation: Activation;
  /** @internal Use {@link mlp}. */
  constructor(sizes: number[], activation: Activation, core: Core, dtype: T) {
    super({ input: sizes[0]!, layers: layersOf(sizes, activation), ...(dtype === 'float32' ? { dtype } : {}) }, core, (l) => `layer${l + 1}`);
    this.sizes = Object.freeze(sizes);
    this.activation = activation;
  }

  /**
   * PyTorch's default `nn.Linear` initialization, reproducibly: W_l and b_l uniform on
   * (−1/√in_l, 1/√in_l), drawn from `rng(seed).uniform()` in the order W_1, b_1, W_2, b_2, ….
   * A float32 network's θ is a `Float32Array` (the same draws, rounded).
   */
  override init(seed: number | bigint = 0): FloatArray<T> {
    if (typeof seed !== 'number' && typeof seed !== 'bigint') throw new TypeError(`natgrad: mlp.init: seed must be an integer, got ${typeof seed}`);
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new RangeError(`natgrad: mlp.init: seed must be a safe integer, got ${seed}`);
    const g = rng(seed);
    const theta = new Float64Array(this.dim);
    let off = 0;
    for (let l = 1; l < this.sizes.length; l++) {
      const nin = this.sizes[l - 1]!,
        nout = this.sizes[l]!;
      const bound = 1 / Math.sqrt(nin);
      const end = off + nout * (nin + 1);
      for (let j = off; j < end; j++) theta[j] = (2 * g.uniform() - 1) * bound;
      off = end;
    }
    return (this.dtype === 'float32' ? new Float32Array(theta) : theta) as FloatArray<T>;
  }
}

/**
 * A multilayer perceptron `sizes = [d, h_1, …, M]` with `activation` σ between layers and a linear
 * last layer, as a {@link Model} whose traces implement every fast path:
 *
 *     f(θ, x) = z_L,   z_l = W_l a_{l−1} + b_l,   a_l = σ(z_l) (l < L),   a_0 = x
 *
 * θ is PyTorch's layout — for each layer W_l (out × in, row-major), then b_l — so a `state_dict`
 * flattened in `parameters()` order is a valid θ; D = Σ_l h_l·(h_{l−1} + 1). `mlp({ sizes: [d, h, M],
 * activation })` is `sequential({ input: d, layers: [dense({ out: h }), activation(σ), dense({ out: M })] })`
 * on the dense-chain fast path. `init(seed)` draws PyTorch's default initialization (W_l and b_l
 * uniform on ±1/√in_l).
 * @throws TypeError / RangeError naming the bad argument (sizes, activation, a D too large).
 * @example
 * ```ts
 * await init();
 * const model = mlp({ sizes: [2, 16, 1], activation: 'tanh' });
 * model.dim;                  // 65 = 16·(2 + 1) + 1·(16 + 1)
 * const theta = model.init(0);
 * const trace = model.forward(theta, Float64Array.of(0.5, -1, 1, 2), 2); // two rows x = (0.5, −1), (1, 2)
 * trace.outputs;              // Float64Array [0.3865…, 0.7234…]: f(θ, x) per row
 * trace.free();
 * const p = problem({ model, X, y, likelihood: bernoulli() }); // then p.fisher(theta), ngd(p, …), …
 * ```
 *
 * @category Models
 */
export function mlp<T extends Dtype = 'float64'>(options: MlpOptions<T>): MlpModel<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: mlp: options must be an object { sizes, activation?, core?, dtype? }');
  const widths = 'mlp takes every width in sizes: [inputs, …hidden, outputs]';
  checkOptions(options, 'mlp', ['sizes', 'activation', 'core', 'dtype'], {
    inputs: widths,
    outputs: widths,
    hidden: widths,
    layers: `${widths} (for other layers use sequential({ input, layers }))`,
    bias: 'every mlp layer has a bias (for layers without one use sequential with dense({ out, bias: false }))',
  });
  const sizes = checkSizes(options.sizes);
  const activation = checkActivation(options.activation ?? 'tanh', 'mlp: activation');
  const dtype = (options.dtype ?? 'float64') as T;
  if (dtype !== 'float64' && dtype !== 'float32') throw new RangeError(`natgrad: mlp: dtype must be 'float32' or 'float64', got ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}`);
  let D = 0;
  for (let l = 0; l + 1 < sizes.length; l++) D += sizes[l + 1]! * (sizes[l]! + 1);
  checkBytes(F64 * D, `mlp: θ (${D} parameters)`, DENSE_HINT);
  return new MlpModel(sizes, activation, options.core ?? defaultCore(), dtype);
}
