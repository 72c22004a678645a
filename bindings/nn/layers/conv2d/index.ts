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
 * batch). Forward, tangent, backInput, the dgx of backward2 and pullbacks run as whole-batch
 * kernels (`convForwardBatch`, `convBackInputBatch`, `convPullbacksBatch`: the sample loop inside
 * WebAssembly), which the threaded core splits by samples, each thread on its own patch
 * workspace; pullbacks multiply a sample's K cotangent rows as one (K·O) × S block. backParams
 * and backward2's hW, sums over samples, are one GEMM per block of samples over all their
 * positions (operands gathered side by side, `convGather`), split by rows or columns of the
 * weight gradient, so that every thread count gives the same bits. θ: W, then b.
 *
 * KFAC sums (the network normalizes them): with ā_{n,s} the patch column s of sample n
 * (and a 1 appended last for a joint bias), δ_{r,s} the cotangent of row r at position s:
 * - 'expand' (Grosse & Martens' KFC): A = Σ_{n,s} ā ā ᵀ, G = Σ_{r,s} δ δᵀ;
 * - 'reduce' (Eschenhagen et al. 2023): A = Σ_n (Σ_s ā/S)(Σ_s ā/S)ᵀ, G = Σ_r (Σ_s δ)(Σ_s δ)ᵀ.
 *
 * @module
 */
import { checkBool, checkInt, checkOptions, checkPair, chainError, showShape, type ElementBytes, type KfacLayerOptions, type Op, type OpContext, type State, type Shape } from '../../layer.js';
import type { Conv2dSpec, Pair } from '../../spec.js';

/** Bytes at the start of the scratch block that hold the geometry (13 i32) for the whole-batch kernels. */
const GEO_BYTES = 64;
/**
 * Workspaces the whole-batch kernels get (`assembly/nn/conv.ts` convForwardBatch …): a call is
 * split over at most this many threads (each share needs its own patch matrix).
 */
const SHARES = 8;
const KEYS = ['out', 'kernel', 'stride', 'padding', 'dilation', 'bias'] as const;

/**
 * A 2-d convolution with `out` channels and a `kernel` (a number or [kh, kw]); `stride`,
 * `dilation` default 1, `padding` 0 (a number, a pair, or `'same'` with stride 1), `bias` true.
 * @example
 * ```ts
 * const net = sequential({ input: [1, 8, 8], layers: [conv2d({ out: 4, kernel: 3, padding: 1 })] });
 * net.outputShape;   // [4, 8, 8]
 * net.dim;           // 40 = 4·1·3·3 weights + 4 biases
 * sequential({ input: [1, 8, 8], layers: [conv2d({ out: 4, kernel: [3, 5], stride: 2 })] }).outputShape; // [4, 3, 2]
 * ```
 *
 * @category Layers
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
export function buildConv2d(spec: Conv2dSpec, inShape: Shape, label: string, bytes: ElementBytes): Op {
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
  return new Conv2dOp(label, [C, H, W], g.out, [kh, kw], g.stride, [pt, pl], g.dilation, [oh, ow], g.bias, bytes);
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
    /** Bytes per element of every plane (8: float64, 4: float32). */
    readonly bytes: ElementBytes,
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
    const P = this.#ckk,
      S = this.#S,
      O = this.out,
      a = P + 1;
    // In elements of the network's type. After the geometry block (GEO_BYTES), the largest of: the whole-batch kernels'
    // workspaces (SHARES of them, one per thread share: a patch matrix and a sample's K stacked
    // pullbacks, K·O·P); the 'expand' KFAC buffers (B patch slots and their transpose, or a
    // batch of transposed cotangent rows); the 'reduce' ones (a patch matrix with a row of ones,
    // N mean patches, N·K position sums); backParams / backward2's patch matrix.
    const batch = SHARES * (P * S + K * O * P);
    const expand = Math.max(2 * this.#aBatch(N) * a * S, this.#gBatch(N, K) * S * O);
    const reduce = a * S + N * a + N * K * O;
    const weights = (P + O) * this.#pBatch(N) * S;
    return GEO_BYTES / this.bytes + Math.max(batch, expand, reduce, weights);
  }

  /** Samples per weight-gradient product (backParams, backward2): about 4096 positions. */
  #pBatch(N: number): number {
    return Math.max(1, Math.min(N, Math.ceil(4096 / this.#S)));
  }

  /** Samples per dsyrkLower call of the 'expand' A: about 2048 positions (its k-blocks are ≤ 512). */
  #aBatch(N: number): number {
    return Math.max(1, Math.min(N, Math.ceil(2048 / this.#S)));
  }

  /** Cotangent rows transposed per dsyrkLower call of the 'expand' G: about 2048 positions. */
  #gBatch(N: number, K: number): number {
    return Math.max(1, Math.min(N * K, Math.ceil(2048 / this.#S)));
  }

  #b(th: number): number {
    return th + this.bytes * this.out * this.#ckk;
  }

  /** The scratch after the geometry block. */
  #ws(c: OpContext): number {
    return c.scratch + GEO_BYTES;
  }

  /** Writes the geometry (13 i32) at the start of the scratch block for the whole-batch kernels; returns its address. */
  #geoAt(c: OpContext): number {
    c.core.i32(c.scratch, 13).set(this.#geo);
    return c.scratch;
  }

  /** P(x) of sample row `x` into `cols`. */
  #im2col(c: OpContext, x: number, cols: number): void {
    c.k.convIm2col(...this.#geo, x, cols);
  }

  forward(c: OpContext, N: number, x: number, y: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    c.k.convForwardBatch(N, this.#geoAt(c), O, c.th, this.bias ? this.#b(c.th) : 0, x, 0, 0, I, y, Y, this.#ws(c), this.#ckk * this.#S, SHARES);
  }

  tangent(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, ty: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    // ty = vb 1ᵀ + vW P(x) + W P(tx), absent terms skipped.
    const vb = vth !== 0 && this.bias ? this.#b(vth) : 0;
    c.k.convForwardBatch(N, this.#geoAt(c), O, c.th, vb, tx, vth, vth !== 0 ? x : 0, I, ty, Y, this.#ws(c), this.#ckk * this.#S, SHARES);
  }

  backInput(c: OpContext, N: number, K: number, _st: State, gy: number, gx: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    c.k.convBackInputBatch(N * K, this.#geoAt(c), O, c.th, gy, 0, 0, Y, gx, I, this.#ws(c), this.#ckk * this.#S, SHARES);
  }

  backParams(c: OpContext, N: number, x: number, _st: State, gy: number, gth: number): void {
    this.#weightProducts(c, N, x, gy, gth);
    if (this.bias) c.k.convPositionSums(N, this.out, this.#S, gy, 1, 1, this.#b(gth), 0);
  }

  /**
   * gW += Σ_n g_n P(x_n)ᵀ as one product per block of B samples over their B·S positions
   * (operands gathered side by side by convGather), so that a split of the product never
   * divides a sum and the gather runs across threads.
   */
  #weightProducts(c: OpContext, N: number, x: number, g: number, gW: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    const B = this.#pBatch(N),
      geo = this.#geoAt(c),
      px = this.#ws(c),
      gyc = px + this.bytes * P * B * S;
    for (let n0 = 0; n0 < N; n0 += B) {
      const nb = Math.min(B, N - n0),
        ld = nb * S;
      c.k.convGather(nb, geo, S, x + this.bytes * n0 * I, I, g + this.bytes * n0 * Y, Y, O, px, gyc, ld);
      c.k.dgemm(0, 1, O, P, ld, 1, gyc, ld, px, ld, 1, gW, P);
    }
  }

  pullbacks(c: OpContext, N: number, K: number, x: number, _st: State, gy: number, out: number, ldout: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    // A sample's K rows (contiguous, (K·O) × S) in one product, then K copies, and the bias sums (see convPullbacksBatch).
    c.k.convPullbacksBatch(N, K, this.#geoAt(c), O, this.bias ? 1 : 0, x, I, gy, Y, out, ldout, this.#ws(c), P * S + K * O * P, SHARES);
  }

  backward2(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number): void {
    const { out: O, inSize: I, outSize: Y } = this;
    const S = this.#S,
      P = this.#ckk;
    // hW += dgY P(x)ᵀ + gY P(tx)ᵀ (each as block products), hb += dgY 1.
    this.#weightProducts(c, N, x, dgy, hth);
    if (tx !== 0) this.#weightProducts(c, N, tx, gy, hth);
    // dgx = col2im(Wᵀ dgy + vWᵀ gy) per sample.
    if (dgx !== 0) c.k.convBackInputBatch(N, this.#geoAt(c), O, c.th, dgy, vth, vth !== 0 ? gy : 0, Y, dgx, I, this.#ws(c), P * S, SHARES);
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
    const ws = this.#ws(c);
    if (opts.approximation === 'expand') {
      // The factors are Grams over positions: lower triangles by dsyrkLower of position-major
      // rows. A: the patch matrices (a × S, then a row of ones for a joint bias) of B samples in
      // consecutive slots, transposed into (B·S) × a, one Gram per B samples. G: B' cotangent rows
      // (O × S each) transposed into (B'·S) × O per Gram.
      const B = this.#aBatch(N),
        slots = ws,
        colsT = ws + this.bytes * B * a * S;
      if (A !== 0 && a > P) for (let b = 0; b < B; b++) c.core.floats(c.dtype, slots + this.bytes * (b * a + P) * S, S).fill(1);
      for (let n0 = 0; A !== 0 && n0 < N; n0 += B) {
        const nb = Math.min(B, N - n0);
        for (let b = 0; b < nb; b++) this.#im2col(c, x + this.bytes * (n0 + b) * I, slots + this.bytes * b * a * S);
        c.k.convTranspose(nb, a, S, slots, colsT);
        c.k.dsyrkLower(nb * S, a, colsT, a, 0, 0, A, a);
      }
      const GB = this.#gBatch(N, K),
        rowsT = ws;
      for (let r0 = 0; G !== 0 && r0 < N * K; r0 += GB) {
        const rb = Math.min(GB, N * K - r0);
        c.k.convTranspose(rb, O, S, gy + this.bytes * r0 * Y, rowsT);
        c.k.dsyrkLower(rb * S, O, rowsT, O, 0, 0, G, O);
      }
      return;
    }
    // 'reduce': per sample the mean patch (a values, a 1 last for a joint bias), then one Gram
    // over the N means; G from the (N·K) × O position sums.
    const cols = ws,
      avg = ws + this.bytes * a * S,
      sums = avg + this.bytes * N * a;
    if (A !== 0) {
      if (a > P) c.core.floats(c.dtype, cols + this.bytes * P * S, S).fill(1);
      for (let n = 0; n < N; n++) {
        this.#im2col(c, x + this.bytes * n * I, cols);
        c.k.convPositionSums(1, a, S, cols, 1 / S, 0, avg + this.bytes * n * a, a);
      }
      c.k.dsyrkLower(N, a, avg, a, 0, 0, A, a);
    }
    if (G !== 0) {
      c.k.convPositionSums(N * K, O, S, gy, 1, 0, sums, O);
      c.k.dsyrkLower(N * K, O, sums, O, 0, 0, G, O);
    }
  }
}
