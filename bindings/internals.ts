/**
 * `natgrad/internals`: the building blocks under the public surface, for natgrad's own tests,
 * benchmarks and experiments and for code that extends the library (a new layer, a model checked
 * the way `problem()` checks it). Nothing here is needed to use natgrad through `natgrad`, and
 * any of it may change in any release.
 *
 * - validators: {@link checkModel}, {@link checkOperator}, {@link isLayered};
 * - memory: the {@link Handle} base class of every resident object, the raw {@link KernelExports}
 *   and the allocator's limit {@link MAX_ALLOCATION};
 * - networks: {@link SequentialTrace}, what a network's `forward` returns (type it as
 *   `ModelTrace`; `MlpTrace`, the dense-chain one, is still public), the dense-chain fast path's
 *   {@link DenseChain}, the layer contract ({@link Op}, {@link OpContext}, {@link State},
 *   {@link KfacLayerOptions}, {@link Kernels}) and the memory budgets {@link CHUNK_BYTES} and
 *   {@link TANGENT_CACHE_BYTES};
 * - numerics: {@link categoricalFactor}, the closed-form factor of the categorical Fisher's Λ;
 * - grid and data: {@link SPARSE_DENSITY_THRESHOLD} (when the GLM engine switches to CSR), the
 *   engine's {@link GlmOptimizer} (the public name is `GridOptimizer`) and {@link toyDataFixtures}
 *   (the reference file each toy set reproduces).
 *
 * @module natgrad/internals
 */
export { MAX_ALLOCATION } from './core/wasm.js';
export type { KernelExports } from './core/wasm.js';
export { Handle } from './core/handle.js';
export { checkModel, isLayered } from './models/model.js';
export { checkOperator } from './operators/operator.js';
export { categoricalFactor } from './problem/problem.js';
export { SequentialTrace, CHUNK_BYTES, TANGENT_CACHE_BYTES } from './nn/sequential.js';
export type { DenseChain } from './nn/dense-chain.js';
export type { Op, OpContext, State, KfacLayerOptions, Kernels } from './nn/layer.js';
export { SPARSE_DENSITY_THRESHOLD } from './grid/grid.js';
export type { GlmOptimizer } from './grid/glm-engine.js';
export { toyDataFixtures } from './data/toydata.js';
