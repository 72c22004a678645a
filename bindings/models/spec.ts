/**
 * Descriptions of natgrad's own models, so that a worker thread (or another process) can rebuild
 * a model on its own core: `{ name: 'linear', inputs, outputs, bias }`,
 * `{ name: 'mlp', sizes, activation }` and `{ name: 'sequential', spec }` (the layer specification,
 * plain JSON). A plain-TypeScript model has no description.
 *
 * @module
 */
import { checkKeys } from '../core/options.js';
import type { Dtype } from '../core/types.js';
import type { Core } from '../core/wasm.js';
import type { Activation } from './activations.js';
import { isLinearModel, linear } from './linear.js';
import { sequential, SequentialModel } from '../nn/sequential.js';
import type { SequentialSpec } from '../nn/spec.js';
import { MlpModel, mlp } from './mlp.js';
import type { Model } from './model.js';

/**
 * A structured-cloneable description of a built-in model.
 *
 * @category Models
 */
export type ModelSpec =
  | { readonly name: 'linear'; readonly inputs: number; readonly outputs: number; readonly bias: boolean }
  | { readonly name: 'mlp'; readonly sizes: readonly number[]; readonly activation: Activation }
  | { readonly name: 'sequential'; readonly spec: SequentialSpec };

/**
 * The description of natgrad's own models; undefined for any other model.
 * @example
 * ```ts
 * modelSpec(mlp({ sizes: [2, 16, 1], activation: 'tanh' }));
 * // { name: 'mlp', sizes: [2, 16, 1], activation: 'tanh' }
 * modelSpec(linear({ inputs: 3, bias: true }));  // { name: 'linear', inputs: 3, outputs: 1, bias: true }
 * ```
 *
 * @category Models
 */
export function modelSpec(model: Model<Dtype>): ModelSpec | undefined {
  if (isLinearModel(model)) return { name: 'linear', inputs: model.inputs, outputs: model.outputs, bias: model.bias };
  if (model instanceof MlpModel) return { name: 'mlp', sizes: [...model.sizes], activation: model.activation };
  if (model instanceof SequentialModel) return { name: 'sequential', spec: JSON.parse(JSON.stringify(model.spec)) as SequentialSpec };
  return undefined;
}

/** The keys of each description. */
const SPEC_KEYS = { linear: ['name', 'inputs', 'outputs', 'bias'], mlp: ['name', 'sizes', 'activation'], sequential: ['name', 'spec'] } as const;

/**
 * Rebuild a model from its description on the given core.
 * @throws TypeError for a description that is not an object or has a key its model does not
 *   know (an UnknownOptionError); RangeError for an unknown model name; the model's own errors.
 * @example
 * ```ts
 * const model = mlp({ sizes: [2, 16, 1], activation: 'tanh' });
 * const json = JSON.stringify(modelSpec(model));          // e.g. posted to a worker
 * const other = await createCore();                       // the worker's own core
 * const copy = modelFromSpec(JSON.parse(json), other);    // the same network on `other`
 * copy.dim;                                               // 65; same outputs as `model` for the same θ
 * ```
 *
 * @category Models
 */
export function modelFromSpec(spec: ModelSpec, core?: Core): Model<Dtype> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new TypeError(`natgrad: modelFromSpec: spec must be a model description { name, … }, got ${spec === null ? 'null' : typeof spec}`);
  const name = (spec as { name?: unknown }).name;
  if (name !== 'linear' && name !== 'mlp' && name !== 'sequential') throw new RangeError(`natgrad: modelFromSpec: spec.name must be 'linear', 'mlp' or 'sequential', got ${String(name)}`);
  checkKeys(spec, SPEC_KEYS[name], `modelFromSpec (${name})`);
  switch (spec.name) {
    case 'linear':
      return linear({ inputs: spec.inputs, outputs: spec.outputs, bias: spec.bias, ...(core ? { core } : {}) });
    case 'mlp':
      return mlp({ sizes: spec.sizes, activation: spec.activation, ...(core ? { core } : {}) });
    case 'sequential':
      return sequential({ ...spec.spec, ...(core ? { core } : {}) });
  }
}
