/**
 * Networks from layers: {@link sequential} and the layer constructors. See `layer.ts` for the
 * contract a layer implements and `spec.ts` for the specifications and their conventions. The
 * generic trace (`SequentialTrace`), the layer contract (`Op`) and the memory budgets are in
 * `natgrad/internals` (`bindings/internals.ts`).
 *
 * @module
 */
export { sequential, SequentialModel } from './sequential.js';
export type { SequentialOptions } from './sequential.js';
export { dense } from './layers/dense/index.js';
export { conv2d } from './layers/conv2d/index.js';
export { maxPool2d, avgPool2d, globalAvgPool2d } from './layers/pool/index.js';
export { flatten } from './layers/flatten/index.js';
export { activation, relu, tanh, sigmoid, softplus, gelu } from './layers/activation/index.js';
export { batchNorm } from './layers/batch-norm/index.js';
export { layerNorm } from './layers/layer-norm/index.js';
export { residual } from './layers/residual/index.js';
export type { Shape } from './layer.js';
export type {
  SequentialSpec,
  LayerSpec,
  InputShape,
  Pair,
  DenseSpec,
  Conv2dSpec,
  Pool2dSpec,
  GlobalAvgPool2dSpec,
  FlattenSpec,
  ActivationSpec,
  BatchNormSpec,
  LayerNormSpec,
  ResidualSpec,
} from './spec.js';
