/**
 * The dense (fully connected) layer z = W a + b on flat inputs: W is out × in (row-major), then b
 * (PyTorch's `nn.Linear` parameters). Batched as GEMMs over the N rows:
 *
 *   forward    Y = X Wᵀ + 1 bᵀ                    tangent   tY = tX Wᵀ + X vWᵀ + 1 vbᵀ
 *   backInput  gX = gY W                           backParams gW += gYᵀ X, gb += Σ_rows gY
 *   backward2  hW += dgYᵀ X + gYᵀ tX, hb += Σ dgY, dgX = dgY W + gY vW   (bilinear in (W, a))
 *
 * KFAC: A = Σ_n ā ā ᵀ with ā = [a; 1] ('joint', the bias coordinate last) or [a] ('separate'),
 * G = Σ δ δᵀ over the cotangent stack — the network normalizes them (S = 1 position).
 *
 * @module
 */
import { checkBool, checkInt, checkOptions, chainError, type KfacLayerOptions, type ElementBytes, type Op, type OpContext, type State, type Shape } from '../../layer.js';
import type { DenseSpec } from '../../spec.js';

/**
 * A dense layer with `out` outputs (and a bias unless `bias: false`).
 * @example
 * ```ts
 * dense({ out: 3 });                                          // { type: 'dense', out: 3, bias: true }
 * sequential({ input: 4, layers: [dense({ out: 3 })] }).dim;  // 15 = 3·4 weights + 3 biases
 * sequential({ input: 4, layers: [dense({ out: 3, bias: false })] }).dim; // 12
 * ```
 *
 * @category Layers
 */
export function dense(options: { out: number; bias?: boolean }): DenseSpec {
  const o = checkOptions<DenseSpec>(options, 'dense', ['out', 'bias']);
  if (options === undefined) throw new TypeError('natgrad: dense: options { out, bias? } are required');
  return Object.freeze({ type: 'dense', out: checkInt(o.out, 'dense: out'), bias: checkBool(o.bias, 'dense: bias', true) });
}

/** @internal Compile a dense spec on a flat input. */
export function buildDense(spec: DenseSpec, inShape: Shape, label: string, bytes: ElementBytes): Op {
  checkOptions<DenseSpec>(spec, label, ['type', 'out', 'bias']);
  if (inShape.length !== 1) throw chainError(label, `a dense layer needs a flat input, got the image shape [${inShape.join(', ')}] — put a flatten() before it`);
  const nin = inShape[0];
  const nout = checkInt(spec.out, `${label}: out`);
  const bias = checkBool(spec.bias, `${label}: bias`, true);
  return new DenseOp(label, nin, nout, bias, bytes);
}

class DenseOp implements Op {
  readonly type = 'dense';
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly params: number;
  readonly state: readonly number[] = [];
  readonly dense: { inputs: number; outputs: number; bias: boolean };
  readonly kronecker = true;
  readonly kfacOut: number;
  readonly kfacPositions = 1;
  constructor(
    readonly label: string,
    readonly inSize: number,
    readonly outSize: number,
    readonly bias: boolean,
    /** Bytes per element of every plane (8: float64, 4: float32). */
    readonly bytes: ElementBytes,
  ) {
    this.inShape = [inSize];
    this.outShape = [outSize];
    this.params = outSize * inSize + (bias ? outSize : 0);
    this.dense = { inputs: inSize, outputs: outSize, bias };
    this.kfacOut = outSize;
  }

  scratch(N: number): number {
    return N * (this.inSize + 1); // the augmented inputs of the KFAC pass
  }

  /** Byte address of b inside the θ slice at `th`. */
  #b(th: number): number {
    return th + this.bytes * this.outSize * this.inSize;
  }

  forward(c: OpContext, N: number, x: number, y: number): void {
    const { inSize: I, outSize: O } = this;
    if (this.bias) c.k.denseBroadcastRows(N, O, this.#b(c.th), y);
    c.k.dgemm(0, 1, N, O, I, 1, x, I, c.th, I, this.bias ? 1 : 0, y, O);
  }

  tangent(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, ty: number): void {
    const { inSize: I, outSize: O } = this;
    let beta = 0;
    if (vth !== 0) {
      if (this.bias) {
        c.k.denseBroadcastRows(N, O, this.#b(vth), ty);
        beta = 1;
      }
      c.k.dgemm(0, 1, N, O, I, 1, x, I, vth, I, beta, ty, O);
      beta = 1;
    }
    if (tx !== 0) {
      c.k.dgemm(0, 1, N, O, I, 1, tx, I, c.th, I, beta, ty, O);
      beta = 1;
    }
    if (beta === 0) c.k.dzero(N, O, ty, O);
  }

  backInput(c: OpContext, N: number, K: number, _st: State, gy: number, gx: number): void {
    const { inSize: I, outSize: O } = this;
    c.k.dgemm(0, 0, N * K, I, O, 1, gy, O, c.th, I, 0, gx, I);
  }

  backParams(c: OpContext, N: number, x: number, _st: State, gy: number, gth: number): void {
    const { inSize: I, outSize: O } = this;
    c.k.dgemm(1, 0, O, I, N, 1, gy, O, x, I, 1, gth, I);
    if (this.bias) c.k.convPositionSums(N, O, 1, gy, 1, 1, this.#b(gth), 0);
  }

  pullbacks(c: OpContext, N: number, K: number, x: number, _st: State, gy: number, out: number, ldout: number): void {
    const { inSize: I, outSize: O } = this;
    if (this.bias) c.k.denseOuterRows(N, K, O, I, gy, x, I, out, ldout);
    else {
      // W part only: row r = δ_r ⊗ a_{r/K}, one rank-1 GEMM per row.
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const r = n * K + k;
          c.k.dgemm(0, 0, O, I, 1, 1, gy + this.bytes * r * O, 1, x + this.bytes * n * I, I, 0, out + this.bytes * r * ldout, I);
        }
      }
    }
  }

  backward2(c: OpContext, N: number, x: number, _st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number): void {
    const { inSize: I, outSize: O } = this;
    c.k.dgemm(1, 0, O, I, N, 1, dgy, O, x, I, 1, hth, I);
    if (tx !== 0) c.k.dgemm(1, 0, O, I, N, 1, gy, O, tx, I, 1, hth, I);
    if (this.bias) c.k.convPositionSums(N, O, 1, dgy, 1, 1, this.#b(hth), 0);
    if (dgx !== 0) {
      c.k.dgemm(0, 0, N, I, O, 1, dgy, O, c.th, I, 0, dgx, I);
      if (vth !== 0) c.k.dgemm(0, 0, N, I, O, 1, gy, O, vth, I, 1, dgx, I);
    }
  }

  kfacA(opts: KfacLayerOptions): number {
    return this.inSize + (this.bias && opts.bias === 'joint' ? 1 : 0);
  }

  kfacAccumulate(c: OpContext, N: number, K: number, x: number, gy: number, opts: KfacLayerOptions, A: number, G: number): void {
    const I = this.inSize,
      a = this.kfacA(opts);
    if (A !== 0 && a === I) c.k.dsyrkLower(N, I, x, I, 0, 0, A, a);
    else if (A !== 0) {
      c.k.denseAugment(N, I, x, I, c.scratch);
      c.k.dsyrkLower(N, a, c.scratch, a, 0, 0, A, a);
    }
    if (G !== 0) c.k.dsyrkLower(N * K, this.outSize, gy, this.outSize, 0, 0, G, this.outSize);
  }
}
