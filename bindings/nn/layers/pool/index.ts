/**
 * Pooling layers (no parameters), PyTorch's semantics: `maxPool2d` and `avgPool2d` (dilation 1,
 * floor mode; average pooling counts the padding zeros, `count_include_pad=True`; padding at most
 * half the kernel, as PyTorch requires), and `globalAvgPool2d` ([C, H, W] → [C, 1, 1]: average
 * pooling with the whole image as its window). Kernels: `assembly/nn/pool.ts`.
 *
 * Max pooling is piecewise linear: the forward pass records the selected input of every output
 * (the first maximum in the window's row-major order) and every product gathers or scatters
 * through that record — its second-order term is zero. Average pooling is linear.
 *
 * @module
 */
import { checkOptions, checkPair, chainError, showShape, type ElementBytes, type Op, type OpContext, type Shape, type State, sizeOf } from '../../layer.js';
import type { GlobalAvgPool2dSpec, Pair, Pool2dSpec } from '../../spec.js';

const KEYS = ['kernel', 'stride', 'padding'] as const;

function poolSpec(type: 'maxPool2d' | 'avgPool2d', options: { kernel: Pair; stride?: Pair; padding?: Pair }): Pool2dSpec {
  if (options === undefined) throw new TypeError(`natgrad: ${type}: options { kernel, stride?, padding? } are required`);
  const o = checkOptions<Pool2dSpec>(options, type, KEYS);
  if (o.kernel === undefined) throw new TypeError(`natgrad: ${type}: kernel is required (a number or [kh, kw])`);
  const kernel = checkPair(o.kernel, `${type}: kernel`);
  const spec: Pool2dSpec = {
    type,
    kernel,
    stride: o.stride === undefined ? kernel : checkPair(o.stride, `${type}: stride`),
    padding: checkPair(o.padding ?? 0, `${type}: padding`, 0),
  };
  return Object.freeze(spec);
}

/**
 * Max pooling over `kernel` windows (stride defaults to the kernel; padding 0).
 * @example
 * ```ts
 * maxPool2d({ kernel: 2 }); // { type: 'maxPool2d', kernel: [2, 2], stride: [2, 2], padding: [0, 0] }
 * const net = sequential({ input: [4, 8, 8], layers: [maxPool2d({ kernel: 2 }), flatten(), dense({ out: 10 })] });
 * net.dim;                  // 650 = 10·(4·4·4) + 10: the pooled image is [4, 4, 4]
 * ```
 *
 * @category Layers
 */
export function maxPool2d(options: { kernel: Pair; stride?: Pair; padding?: Pair }): Pool2dSpec {
  return poolSpec('maxPool2d', options);
}

/**
 * Average pooling over `kernel` windows (stride defaults to the kernel; padding 0, counted in the mean).
 * @example
 * ```ts
 * const net = sequential({ input: [4, 8, 8], layers: [avgPool2d({ kernel: 3, stride: 1, padding: 1 }), conv2d({ out: 2, kernel: 1 })] });
 * net.outputShape;          // [2, 8, 8]: a 3 × 3 mean with padding 1 keeps 8 × 8
 * ```
 *
 * @category Layers
 */
export function avgPool2d(options: { kernel: Pair; stride?: Pair; padding?: Pair }): Pool2dSpec {
  return poolSpec('avgPool2d', options);
}

/**
 * The mean over each channel's H × W values: [C, H, W] → [C, 1, 1].
 * @example
 * ```ts
 * const net = sequential({ input: [4, 8, 8], layers: [globalAvgPool2d(), flatten(), dense({ out: 10 })] });
 * net.dim;                  // 50 = 10·4 + 10: one mean per channel
 * ```
 *
 * @category Layers
 */
export function globalAvgPool2d(): GlobalAvgPool2dSpec {
  return Object.freeze({ type: 'globalAvgPool2d' });
}

/** @internal Compile a pooling spec on a [C, H, W] input. */
export function buildPool(spec: Pool2dSpec | GlobalAvgPool2dSpec, inShape: Shape, label: string, _bytes: ElementBytes): Op {
  if (inShape.length !== 3) throw chainError(label, `a ${spec.type} layer needs an image input [C, H, W], got ${showShape(inShape)}`);
  const [, H, W] = inShape;
  if (spec.type === 'globalAvgPool2d') {
    checkOptions(spec, label, ['type']);
    return new PoolOp(label, 'globalAvgPool2d', inShape, [H, W], [1, 1], [0, 0], [1, 1]);
  }
  checkOptions(spec, label, ['type', ...KEYS]);
  const [kh, kw] = checkPair(spec.kernel, `${label}: kernel`);
  const [sh, sw] = checkPair(spec.stride ?? [kh, kw], `${label}: stride`);
  const [ph, pw] = checkPair(spec.padding ?? 0, `${label}: padding`, 0);
  if (2 * ph > kh || 2 * pw > kw) throw chainError(label, `padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}] (as PyTorch)`);
  if (H + 2 * ph < kh) throw chainError(label, `kernel height ${kh} is larger than the padded input height ${H + 2 * ph}`);
  if (W + 2 * pw < kw) throw chainError(label, `kernel width ${kw} is larger than the padded input width ${W + 2 * pw}`);
  const oh = Math.floor((H + 2 * ph - kh) / sh) + 1,
    ow = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return new PoolOp(label, spec.type, inShape, [kh, kw], [sh, sw], [ph, pw], [oh, ow]);
}

class PoolOp implements Op {
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params = 0;
  readonly state: readonly number[];
  /** convIm2col-style geometry (c, h, w, kh, kw, sh, sw, ph, pw, oh, ow). */
  readonly #geo: [number, number, number, number, number, number, number, number, number, number, number];
  readonly #max: boolean;
  /** A 2 × 2, stride-2, unpadded max pool: non-overlapping windows, scattered by `maxPoolScatter22`. */
  readonly #max22: boolean;
  constructor(
    readonly label: string,
    readonly type: 'maxPool2d' | 'avgPool2d' | 'globalAvgPool2d',
    readonly inShape: Shape,
    kernel: [number, number],
    stride: [number, number],
    pad: [number, number],
    outHW: [number, number],
  ) {
    const [C, H, W] = inShape as [number, number, number];
    this.outShape = [C, outHW[0], outHW[1]];
    this.inSize = sizeOf(inShape);
    this.outSize = C * outHW[0] * outHW[1];
    this.#max = type === 'maxPool2d';
    this.#max22 = this.#max && kernel[0] === 2 && kernel[1] === 2 && stride[0] === 2 && stride[1] === 2 && pad[0] === 0 && pad[1] === 0;
    this.state = this.#max ? [4 * this.outSize] : []; // the selected input indices (i32)
    this.#geo = [C, H, W, kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1], outHW[0], outHW[1]];
  }
  scratch(): number {
    return 0;
  }
  forward(c: OpContext, N: number, x: number, y: number, st: State): void {
    if (this.#max) c.k.maxPoolForward(N, ...this.#geo, x, y, st[0]!);
    else c.k.avgPoolForward(N, ...this.#geo, x, y);
  }
  tangent(c: OpContext, N: number, _x: number, st: State, tx: number, _vth: number, ty: number): void {
    if (tx === 0) c.k.dzero(N, this.outSize, ty, this.outSize);
    else if (this.#max) c.k.poolGather(N, 1, this.inSize, this.outSize, st[0]!, tx, ty);
    else c.k.avgPoolForward(N, ...this.#geo, tx, ty);
  }
  backInput(c: OpContext, N: number, K: number, st: State, gy: number, gx: number): void {
    if (this.#max22) {
      const [C, H, W, , , , , , , oh, ow] = this.#geo;
      c.k.maxPoolScatter22(N, K, C, H, W, oh, ow, st[0]!, gy, gx);
    } else if (this.#max) c.k.poolScatter(N, K, this.inSize, this.outSize, st[0]!, gy, gx);
    else c.k.avgPoolBackward(N * K, ...this.#geo, gy, gx);
  }
  backParams(): void {}
  pullbacks(): void {}
  backward2(c: OpContext, N: number, _x: number, st: State, _tx: number, _vth: number, _gy: number, dgy: number, dgx: number): void {
    if (dgx !== 0) this.backInput(c, N, 1, st, dgy, dgx);
  }
}
