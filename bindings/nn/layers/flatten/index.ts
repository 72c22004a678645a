/**
 * Flatten: [C, H, W] → [C·H·W]. NCHW rows are already flat, so no value moves: the layer only
 * changes the shape the next layer sees (a dense layer needs a flat input). It compiles to no op.
 *
 * @module
 */
import { checkKeys, type Shape, sizeOf } from '../../layer.js';
import type { FlattenSpec } from '../../spec.js';

/** [C, H, W] → C·H·W (needed before a dense layer on images). */
export function flatten(): FlattenSpec {
  return Object.freeze({ type: 'flatten' });
}

/** @internal The shape after a flatten. */
export function flattenShape(spec: FlattenSpec, inShape: Shape, label: string): Shape {
  checkKeys(spec, ['type'], label);
  return [sizeOf(inShape)];
}
