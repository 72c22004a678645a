/**
 * The activations of {@link mlp}: names, validation and the kernel ids of
 * `assembly/nn/activation.ts` (which evaluates σ, σ' and σ'' in PyTorch float64's conventions:
 * relu'(0) = 0; softplus with beta 1 and threshold 20; gelu in its tanh form).
 *
 * @module
 */

/**
 * The activation names {@link mlp} accepts.
 *
 * @category Models
 */
export const ACTIVATIONS = ['tanh', 'sigmoid', 'relu', 'softplus', 'gelu', 'identity'] as const;

/**
 * An activation name.
 *
 * @category Models
 */
export type Activation = (typeof ACTIVATIONS)[number];

const KIND: Record<Activation, number> = { identity: 0, tanh: 1, sigmoid: 2, relu: 3, softplus: 4, gelu: 5 };

/**
 * Check an activation name.
 * @throws TypeError naming the value and the valid names.
 */
export function checkActivation(value: unknown, name = 'activation'): Activation {
  if (typeof value !== 'string' || !(ACTIVATIONS as readonly string[]).includes(value)) {
    throw new TypeError(`natgrad: ${name} must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  }
  return value as Activation;
}

/** @internal The kernel id of an activation (`actForward`'s `kind`). */
export function activationKind(a: Activation): number {
  return KIND[a];
}
