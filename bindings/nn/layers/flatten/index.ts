/**
 * Flatten: [C, H, W] → [C·H·W]. NCHW rows are already flat, so no value moves: the layer only
 * changes the shape the next layer sees (a dense layer needs a flat input). It compiles to no op.
 *
 * @module
 */
import { checkKeys, type Shape, sizeOf } from '../../layer.js';
import type { FlattenSpec } from '../../spec.js';

/**
 * [C, H, W] → C·H·W (needed before a dense layer on images).
 * @example
 * ```ts
 * sequential({ input: [4, 4, 4], layers: [flatten(), dense({ out: 2 })] }).dim; // 130 = 2·64 + 2
 * sequential({ input: [4, 4, 4], layers: [dense({ out: 2 })] });
 * // throws RangeError: … a dense layer needs a flat input, got the image shape [4, 4, 4] — put a flatten() before it
 * ```
 *
 * @category Layers
 */
export function flatten(): FlattenSpec {
  return Object.freeze({ type: 'flatten' });
}

/** @internal The shape after a flatten. */
export function flattenShape(spec: FlattenSpec, inShape: Shape, label: string): Shape {
  checkKeys(spec, ['type'], label);
  return [sizeOf(inShape)];
}
