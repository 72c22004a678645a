/**
 * The 2-d convolution (PyTorch's `nn.Conv2d`, groups = 1): per sample, with the patch matrix
 * P(x) = im2col(x) ((C·kh·kw) × S, S = oh·ow output positions; `assembly/nn/conv.ts`),
 *
 *   forward    Y = W P(x) + b 1ᵀ             (W: O × C·kh·kw, the weight (O, C, kh, kw) row-major)
 *   tangent    tY = W P(tx) + vW P(x) + vb 1ᵀ
 *   backInput  gx = col2im(Wᵀ gY)             (col2im = P's adjoint)
 *   backParams gW += gY P(x)ᵀ, gb += gY 1
 *   backward2  hW += dgY P(x)ᵀ + gY P(tx)ᵀ, hb += dgY 1, dgx = col2im(Wᵀ dgY + vWᵀ gY)
 *
 * one GEMM per sample and product (the patch matrix is rebuilt in scratch, never kept for the
 * batch). θ: W, then b.
 *
 * KFAC sums (the network normalizes them): with ā_{n,s} the patch column s of sample n
 * (and a 1 appended last for a joint bias), δ_{r,s} the cotangent of row r at position s:
 * - 'expand' (Grosse & Martens' KFC): A = Σ_{n,s} ā ā ᵀ, G = Σ_{r,s} δ δᵀ;
 * - 'reduce' (Eschenhagen et al. 2023): A = Σ_n (Σ_s ā/S)(Σ_s ā/S)ᵀ, G = Σ_r (Σ_s δ)(Σ_s δ)ᵀ.
 *
 * @module
 */
import { checkBool, checkInt, checkOptions, checkPair, chainError, showShape, type KfacLayerOptions, type Op, type OpContext, type State, type Shape } from '../../layer.js';
import type { Conv2dSpec, Pair } from '../../spec.js';

const F64 = 8;
const KEYS = ['out', 'kernel', 'stride', 'padding', 'dilation', 'bias'] as const;

/**
 * A 2-d convolution with `out` channels and a `kernel` (a number or [kh, kw]); `stride`,
 * `dilation` default 1, `padding` 0 (a number, a pair, or `'same'` with stride 1), `bias` true.
 */
export function conv2d(options: { out: number; kernel: Pair; stride?: Pair; padding?: Pair | 'same'; dilation?: Pair; bias?: boolean }): Conv2dSpec {
  if (options === undefined) throw new TypeError('natgrad: conv2d: options { out, kernel, stride?, padding?, dilation?, bias? } are required');
  const o = checkOptions<Conv2dSpec>(options, 'conv2d', KEYS);
  const g = geometry({ type: 'conv2d', ...o } as Conv2dSpec, 'conv2d');
  return Object.freeze({
    type: 'conv2d',
    out: g.out,
    kernel: g.kernel,
    stride: g.stride,
    padding: o.padding === 'same' ? 'same' : g.padding,
    dilation: g.dilation,
    bias: g.bias,
  } as Conv2dSpec);
}

interface Geometry {
  out: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  bias: boolean;
  same: boolean;
}

function geometry(spec: Conv2dSpec, where: string): Geometry {
  const out = checkInt(spec.out, `${where}: out`);
  if (spec.kernel === undefined) throw new TypeError(`natgrad: ${where}: kernel is required (a number or [kh, kw])`);
  const kernel = checkPair(spec.kernel, `${where}: kernel`);
  const stride = checkPair(spec.stride ?? 1, `${where}: stride`);
  const dilation = checkPair(spec.dilation ?? 1, `${where}: dilation`);
  const same = spec.padding === 'same';
  if (same && (stride[0] !== 1 || stride[1] !== 1)) throw new RangeError(`natgrad: ${where}: padding 'same' needs stride 1 (as PyTorch), got stride [${stride.join(', ')}]`);
  if (typeof spec.padding === 'string' && !same) throw new TypeError(`natgrad: ${where}: padding must be a number, a pair or 'same', got '${spec.padding}'`);
  const padding = same ? ([0, 0] as [number, number]) : checkPair(spec.padding ?? 0, `${where}: padding`, 0);
  return { out, kernel, stride, padding, dilation, bias: checkBool(spec.bias, `${where}: bias`, true), same };
}

/** @internal Compile a conv2d spec on a [C, H, W] input. */
export function buildConv2d(spec: Conv2dSpec, inShape: Shape, label: string): Op {
  checkOptions<Conv2dSpec>(spec, label, ['type', ...KEYS]);
  if (inShape.length !== 3) throw chainError(label, `a conv2d layer needs an image input [C, H, W], got ${showShape(inShape)}`);
  const g = geometry(spec, label);
  const [C, H, W] = inShape;
  const [kh, kw] = g.kernel,
    [dh, dw] = g.dilation;
  const spanH = dh * (kh - 1) + 1,
    spanW = dw * (kw - 1) + 1;
  let pt: number, pb: number, pl: number, pr: number;
  if (g.same) {
    // PyTorch: total padding dilation·(k − 1), the extra pixel of an odd total at the bottom / right.
    pt = Math.floor((spanH - 1) / 2);
    pb = spanH - 1 - pt;
    pl = Math.floor((spanW - 1) / 2);
    pr = spanW - 1 - pl;
  } else {
    [pt, pl] = g.padding;
    [pb, pr] = g.padding;
  }
  if (H + pt + pb < spanH) throw chainError(label, `kernel height ${kh}${dh > 1 ? ` (dilated to ${spanH})` : ''} is larger than the padded input height ${H + pt + pb}`);
  if (W + pl + pr < spanW) throw chainError(label, `kernel width ${kw}${dw > 1 ? ` (dilated to ${spanW})` : ''} is larger than the padded input width ${W + pl + pr}`);
  const oh = Math.floor((H + pt + pb - spanH) / g.stride[0]) + 1,
    ow = Math.floor((W + pl + pr - spanW) / g.stride[1]) + 1;
  return new Conv2dOp(label, [C, H, W], g.out, [kh, kw], g.stride, [pt, pl], g.dilation, [oh, ow], g.bias);
}

class Conv2dOp implements Op {
  readonly type = 'conv2d';
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params: number;
  readonly state: readonly number[] = [];
  readonly kronecker = true;
  readonly kfacOut: number;
  readonly kfacPositions: number;
  /** Rows of the patch matrix (C·kh·kw) and output positions S. */
  readonly #ckk: number;
  readonly #S: number;
  /** The geometry arguments of convIm2col / convCol2im (c … ow). */
  readonly #geo: [number, number, number, number, number, number, number, number, number, number, number, number, number];

  constructor(
    readonly label: string,
    inShape: [number, number, number],
    readonly out: number,
    kernel: [number, number],
    stride: [number, number],
    pad: [number, number],
    dilation: [number, number],
    outHW: [number, number],
    readonly bias: boolean,
  ) {
    const [C, H, W] = inShape;
    this.inShape = inShape;
    this.outShape = [out, outHW[0], outHW[1]];
    this.inSize = C * H * W;
    this.#S = outHW[0] * outHW[1];
    this.outSize = out * this.#S;
    this.#ckk = C * kernel[0] * kernel[1];
    this.params = out * this.#ckk + (bias ? out : 0);
    this.kfacOut = out;
    this.kfacPositions = this.#S;
    this.#geo = [C, H, W, kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1], dilation[0], dilation[1], outHW[0], outHW[1]];
  }

  scratch(N: number, K: number): number {
    // Two patch matrices (one of them with a row of ones for the joint KFAC factor) and the per-row position sums of the 'reduce' G.
    return 2 * (this.#ckk + 1) * this.#S + N * K * this.out + this.#ckk + 1;
  }

  #b(th: number): number {
    return th + F64 * this.out * this.#ckk;
  }

  /** P(x) of sample row `x` into `cols`. */
  #im2col(c: OpContext, x: number, cols: number): void {
    c.k.convIm2col(...this.#geo, x, cols);
  }

  forward(c: OpContext, N: number, x: number, y: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    if (this.bias) c.k.convBiasBroadcast(N, O, S, this.#b(c.th), y);
    const cols = c.scratch;
    for (let n = 0; n < N; n++) {
      this.#im2col(c, x + F64 * n * I, cols);
      c.k.dgemm(0, 0, O, S, P, 1, c.th, P, cols, S, this.bias ? 1 : 0, y + F64 * n * Y, S);
    }
  }

  tangent(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, ty: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const withBias = vth !== 0 && this.bias;
    if (withBias) c.k.convBiasBroadcast(N, O, S, this.#b(vth), ty);
    const cols = c.scratch;
    for (let n = 0; n < N; n++) {
      let beta = withBias ? 1 : 0;
      const yn = ty + F64 * n * Y;
      if (vth !== 0) {
        this.#im2col(c, x + F64 * n * I, cols);
        c.k.dgemm(0, 0, O, S, P, 1, vth, P, cols, S, beta, yn, S);
        beta = 1;
      }
      if (tx !== 0) {
        this.#im2col(c, tx + F64 * n * I, cols);
        c.k.dgemm(0, 0, O, S, P, 1, c.th, P, cols, S, beta, yn, S);
        beta = 1;
      }
      if (beta === 0) c.k.dzero(1, Y, yn, Y);
    }
  }

  backInput(c: OpContext, N: number, K: number, _st: State, gy: number, gx: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const gcols = c.scratch;
    for (let r = 0; r < N * K; r++) {
      c.k.dgemm(1, 0, P, S, O, 1, c.th, P, gy + F64 * r * Y, S, 0, gcols, S);
      c.k.dzero(1, I, gx + F64 * r * I, I);
      c.k.convCol2im(...this.#geo, gcols, gx + F64 * r * I);
    }
  }

  backParams(c: OpContext, N: number, x: number, _st: State, gy: number, gth: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const cols = c.scratch;
    for (let n = 0; n < N; n++) {
      this.#im2col(c, x + F64 * n * I, cols);
      c.k.dgemm(0, 1, O, P, S, 1, gy + F64 * n * Y, S, cols, S, 1, gth, P);
    }
    if (this.bias) c.k.convPositionSums(N, O, S, gy, 1, 1, this.#b(gth), 0);
  }

  pullbacks(c: OpContext, N: number, K: number, x: number, _st: State, gy: number, out: number, ldout: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const cols = c.scratch;
    for (let n = 0; n < N; n++) {
      this.#im2col(c, x + F64 * n * I, cols);
      for (let k = 0; k < K; k++) {
        const r = n * K + k;
        c.k.dgemm(0, 1, O, P, S, 1, gy + F64 * r * Y, S, cols, S, 0, out + F64 * r * ldout, P);
      }
    }
    if (this.bias) c.k.convPositionSums(N * K, O, S, gy, 1, 0, this.#b(out), ldout);
  }

  backward2(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const cols = c.scratch,
      gcols = c.scratch + F64 * P * S;
    for (let n = 0; n < N; n++) {
      const gn = gy + F64 * n * Y,
        dn = dgy + F64 * n * Y;
      this.#im2col(c, x + F64 * n * I, cols);
      c.k.dgemm(0, 1, O, P, S, 1, dn, S, cols, S, 1, hth, P);
      if (tx !== 0) {
        this.#im2col(c, tx + F64 * n * I, cols);
        c.k.dgemm(0, 1, O, P, S, 1, gn, S, cols, S, 1, hth, P);
      }
      if (dgx !== 0) {
        c.k.dgemm(1, 0, P, S, O, 1, c.th, P, dn, S, 0, gcols, S);
        if (vth !== 0) c.k.dgemm(1, 0, P, S, O, 1, vth, P, gn, S, 1, gcols, S);
        c.k.dzero(1, I, dgx + F64 * n * I, I);
        c.k.convCol2im(...this.#geo, gcols, dgx + F64 * n * I);
      }
    }
    if (this.bias) c.k.convPositionSums(N, O, S, dgy, 1, 1, this.#b(hth), 0);
  }

  kfacA(opts: KfacLayerOptions): number {
    return this.#ckk + (this.bias && opts.bias === 'joint' ? 1 : 0);
  }

  kfacAccumulate(c: OpContext, N: number, K: number, x: number, gy: number, opts: KfacLayerOptions, A: number, G: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const a = this.kfacA(opts);
    const cols = c.scratch; // a × S: the patches, then (joint) a row of ones
    const sums = c.scratch + F64 * 2 * (P + 1) * S; // (N·K) × O position sums, then one a-vector
    const avg = sums + F64 * N * K * O;
    if (a > P) c.core.f64(cols + F64 * P * S, S).fill(1);
    for (let n = 0; n < N; n++) {
      this.#im2col(c, x + F64 * n * I, cols);
      if (opts.approximation === 'expand') c.k.dgemm(0, 1, a, a, S, 1, cols, S, cols, S, 1, A, a);
      else {
        c.k.convPositionSums(1, a, S, cols, 1 / S, 0, avg, a);
        c.k.dsyrkLower(1, a, avg, a, 0, 0, A, a);
      }
    }
    if (opts.approximation === 'expand') {
      for (let r = 0; r < N * K; r++) c.k.dgemm(0, 1, O, O, S, 1, gy + F64 * r * Y, S, gy + F64 * r * Y, S, 1, G, O);
    } else {
      c.k.convPositionSums(N * K, O, S, gy, 1, 0, sums, O);
      c.k.dsyrkLower(N * K, O, sums, O, 0, 0, G, O);
    }
  }
}
