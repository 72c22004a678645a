/**
 * Elementwise activations a = σ(z) (the six of {@link ACTIVATIONS}, evaluated by
 * `assembly/nn/activation.ts` in PyTorch float64's conventions: relu′(0) = 0, softplus with
 * beta 1 and threshold 20, gelu in its tanh form). The forward pass keeps σ′(z) and σ″(z) per
 * value (2 doubles per value of state); relu and identity, whose σ″ is 0, keep σ′ only (1 double
 * per value) and their `backward2` drops the σ″ term:
 *
 *   tangent   ta = σ′ ⊙ tz          backInput  gz = σ′ ⊙ ga (per stack row)
 *   backward2 dgz = σ′ ⊙ dga + σ″ ⊙ tz ⊙ ga                 (no parameters)
 *
 * @module
 */
import { ACTIVATIONS, activationKind, checkActivation, type Activation } from '../../../models/activations.js';
import { checkOptions, type ElementBytes, type Op, type OpContext, type State, type Shape, sizeOf } from '../../layer.js';
import type { ActivationSpec } from '../../spec.js';

/**
 * An elementwise activation layer: `activation('relu')`; see {@link ACTIVATIONS}.
 * @example
 * ```ts
 * activation('relu');       // { type: 'activation', name: 'relu' }, the same as relu()
 * const net = sequential({ input: 3, layers: [dense({ out: 5 }), activation('tanh'), dense({ out: 1 })] });
 * net.dim;                  // 26 = (5·3 + 5) + (1·5 + 1); activations have no parameters
 * ```
 *
 * @category Layers
 */
export function activation(name: Activation): ActivationSpec {
  return Object.freeze({ type: 'activation', name: checkActivation(name, 'activation: name') });
}
/**
 * `activation('relu')`.
 * @example
 * ```ts
 * relu();              // { type: 'activation', name: 'relu' }
 * sequential({ input: 3, layers: [dense({ out: 5 }), relu(), dense({ out: 1 })] }).dim; // 26
 * ```
 *
 * @category Layers
 */
export const relu = (): ActivationSpec => activation('relu');
/**
 * `activation('tanh')`.
 * @example
 * ```ts
 * tanh();              // { type: 'activation', name: 'tanh' }
 * sequential({ input: 3, layers: [dense({ out: 5 }), tanh(), dense({ out: 1 })] }).dim; // 26
 * ```
 *
 * @category Layers
 */
export const tanh = (): ActivationSpec => activation('tanh');
/**
 * `activation('sigmoid')`.
 * @example
 * ```ts
 * sigmoid();           // { type: 'activation', name: 'sigmoid' }
 * sequential({ input: 3, layers: [dense({ out: 5 }), sigmoid(), dense({ out: 1 })] }).dim; // 26
 * ```
 *
 * @category Layers
 */
export const sigmoid = (): ActivationSpec => activation('sigmoid');
/**
 * `activation('softplus')` (beta 1, threshold 20).
 * @example
 * ```ts
 * softplus();          // { type: 'activation', name: 'softplus' }
 * sequential({ input: 3, layers: [dense({ out: 5 }), softplus(), dense({ out: 1 })] }).dim; // 26
 * ```
 *
 * @category Layers
 */
export const softplus = (): ActivationSpec => activation('softplus');
/**
 * `activation('gelu')` (the tanh form).
 * @example
 * ```ts
 * gelu();              // { type: 'activation', name: 'gelu' }
 * sequential({ input: 3, layers: [dense({ out: 5 }), gelu(), dense({ out: 1 })] }).dim; // 26
 * ```
 *
 * @category Layers
 */
export const gelu = (): ActivationSpec => activation('gelu');

/** @internal Compile an activation spec (any input shape). */
export function buildActivation(spec: ActivationSpec, inShape: Shape, label: string, bytes: ElementBytes): Op {
  checkOptions<ActivationSpec>(spec, label, ['type', 'name']);
  const name = checkActivation(spec.name, `${label}: name`);
  return new ActivationOp(label, inShape, name, bytes);
}

class ActivationOp implements Op {
  readonly type = 'activation';
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params = 0;
  readonly state: readonly number[];
  readonly #kind: number;
  /** Whether σ″ ≠ 0 somewhere (every activation but relu and identity): `backward2` needs σ″. */
  readonly #curved: boolean;
  /** tanh: σ″ = −2yσ′ from the kept value (the other curved kinds recompute it from the input). */
  readonly #secondFromValue: boolean;
  readonly #bytes: ElementBytes;
  constructor(
    readonly label: string,
    readonly inShape: Shape,
    readonly name: Activation,
    bytes: ElementBytes,
  ) {
    this.outShape = inShape;
    this.inSize = this.outSize = sizeOf(inShape);
    this.#curved = name !== 'relu' && name !== 'identity';
    // σ′ only: the second-order pass forms σ″ where it needs it rather than keeping a plane of it
    // through every pass — tanh's from the kept value and σ′ (−2yσ′, the bits of the forward
    // kernel's σ″ in float64), the others by the forward kernel again on the input.
    this.state = [bytes * this.inSize];
    this.#kind = activationKind(name);
    this.#bytes = bytes;
    this.#secondFromValue = name === 'tanh';
  }
  /** The second-order pass of a curved activation: σ″ of N rows (and σ, recomputed with it, but for tanh). */
  scratch(N: number, _K: number, second?: boolean): number {
    return second && this.#curved ? (this.#secondFromValue ? 1 : 2) * N * this.inSize : 0;
  }
  forward(c: OpContext, N: number, x: number, y: number, st: State): void {
    c.k.actForward(this.#kind, N * this.inSize, x, y, st[0]!, 0);
  }
  tangent(c: OpContext, N: number, _x: number, st: State, tx: number, _vth: number, ty: number): void {
    if (tx === 0) c.k.dzero(N, this.outSize, ty, this.outSize);
    else c.k.denseMul(1, N * this.inSize, st[0]!, tx, ty);
  }
  backInput(c: OpContext, N: number, K: number, st: State, gy: number, gx: number): void {
    c.k.denseMulRep(N, K, this.inSize, st[0]!, gy, gx);
  }
  backParams(): void {}
  pullbacks(): void {}
  backward2(c: OpContext, N: number, x: number, st: State, tx: number, _vth: number, gy: number, dgy: number, dgx: number, _hth: number, y: number): void {
    if (dgx === 0) return;
    const d1 = st[0]!;
    const len = N * this.inSize;
    if (tx === 0 || !this.#curved) c.k.denseMul(1, len, d1, dgy, dgx);
    else {
      // σ″ into the scratch: tanh's from its value y and σ′; the others by the forward kernel on
      // the input again (σ alongside, since that kernel always writes the value).
      let d2 = c.scratch;
      if (this.#secondFromValue) c.k.tanhSecond(len, y, d1, d2);
      else {
        d2 = c.scratch + this.#bytes * len;
        c.k.actForward(this.#kind, len, x, c.scratch, 0, d2);
      }
      c.k.denseMul(1, len, tx, gy, dgx); // tz ⊙ ga
      c.k.denseFmaPeriodic(1, len, d1, dgy, d2, dgx, dgx); // σ′ ⊙ dga + σ″ ⊙ (tz ⊙ ga)
    }
  }
}

export { ACTIVATIONS };
