/**
 * Residual blocks y = body(x) + shortcut(x): the shortcut is the identity, or its own layers (a
 * 1×1 convolution, a dense layer, a batch norm after it, …) when the body changes the shape.
 * θ holds the body's parameters, then the shortcut's. The network compiles a block into its two
 * branches and one `add`: every product runs through the branches and sums at the add (forward,
 * tangents) or at the branch point (cotangents). The checks live in the compiler
 * (`sequential.ts`): a body that changes the shape without a shortcut is refused.
 *
 * @module
 */
import { checkOptions } from '../../layer.js';
import type { LayerSpec, ResidualSpec } from '../../spec.js';

/**
 * A residual block over `layers`, with `shortcut` layers when the body changes the shape:
 * `residual([conv2d({ out: 16, kernel: 3, padding: 1 }), batchNorm(), relu(), …])`.
 * @example
 * ```ts
 * const block = residual([conv2d({ out: 4, kernel: 3, padding: 1 }), batchNorm(), relu(), conv2d({ out: 4, kernel: 3, padding: 1 })]);
 * sequential({ input: [4, 8, 8], layers: [block] }).dim;     // 304 = 148 + 8 + 148 (identity shortcut)
 * // a body that changes the shape needs a shortcut to the same shape:
 * const down = residual([conv2d({ out: 8, kernel: 3, stride: 2, padding: 1 })], { shortcut: conv2d({ out: 8, kernel: 1, stride: 2 }) });
 * sequential({ input: [4, 8, 8], layers: [down] }).outputShape; // [8, 4, 4]
 * ```
 *
 * @category Layers
 */
export function residual(layers: readonly LayerSpec[], options: { shortcut?: readonly LayerSpec[] | LayerSpec } = {}): ResidualSpec {
  if (!Array.isArray(layers)) throw new TypeError('natgrad: residual: layers must be an array of layer specs');
  const o = checkOptions<{ shortcut: readonly LayerSpec[] | LayerSpec }>(options, 'residual', ['shortcut']);
  const sc = o.shortcut === undefined ? undefined : Array.isArray(o.shortcut) ? o.shortcut : [o.shortcut as LayerSpec];
  return Object.freeze({ type: 'residual', layers: Object.freeze([...layers]), ...(sc ? { shortcut: Object.freeze([...sc]) } : {}) });
}
