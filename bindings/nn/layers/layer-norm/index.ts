/**
 * Layer normalization over all of a sample's F values (PyTorch's `LayerNorm(sample shape)`,
 * biased variance): x̂ = r (x − μ), r = 1/√(var + eps), y = γ ⊙ x̂ + β with γ, β of F entries
 * each (`affine`, default) or y = x̂. θ: γ, then β. The first and second derivatives of x ↦ x̂
 * are in `assembly/nn/norm.ts` (lnTangent, lnBackward, lnBackward2); with u = γ ⊙ gy:
 *
 *   tangent    ty = γ ⊙ dx̂(tx) + vγ ⊙ x̂ + vβ
 *   backInput  gx = r (u − mean(u) − x̂ mean(x̂ ⊙ u))
 *   backParams gγ += Σ gy ⊙ x̂, gβ += Σ gy
 *   backward2  hγ += Σ (dgy ⊙ x̂ + gy ⊙ dx̂(tx)), hβ += Σ dgy, dgx = lnBackward2(tx, u, du)
 *              with du = vγ ⊙ gy + γ ⊙ dgy
 *
 * Unlike batch norm the map is not linear in x: its second-order term couples the inputs. Its
 * parameters have no Kronecker form: KFAC keeps this layer's exact block.
 *
 * @module
 */
import { checkBool, checkKeys, checkOptions, type ElementBytes, type Op, type OpContext, type Shape, type State, sizeOf } from '../../layer.js';
import type { LayerNormSpec } from '../../spec.js';

function checkEps(v: unknown, where: string): number {
  if (v === undefined) return 1e-5;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`natgrad: ${where}: eps must be a finite number > 0, got ${String(v)}`);
  return v;
}

/**
 * Layer norm over each sample's values, with `eps` (default 1e-5) and an elementwise affine map (default on).
 * @example
 * ```ts
 * layerNorm();              // { type: 'layerNorm', eps: 1e-5, affine: true }
 * sequential({ input: 6, layers: [layerNorm()] }).dim;         // 12: γ and β, 6 entries each
 * sequential({ input: [4, 8, 8], layers: [layerNorm()] }).dim; // 512: over all 256 values of a sample
 * ```
 *
 * @category Layers
 */
export function layerNorm(options: { eps?: number; affine?: boolean } = {}): LayerNormSpec {
  const o = checkOptions<LayerNormSpec>(options, 'layerNorm', ['eps', 'affine']);
  return Object.freeze({ type: 'layerNorm', eps: checkEps(o.eps, 'layerNorm'), affine: checkBool(o.affine, 'layerNorm: affine', true) });
}

/** @internal Compile a layerNorm spec (any input shape). */
export function buildLayerNorm(spec: LayerNormSpec, inShape: Shape, label: string, bytes: ElementBytes): Op {
  checkKeys(spec, ['type', 'eps', 'affine'], label);
  return new LayerNormOp(label, inShape, checkEps(spec.eps, label), checkBool(spec.affine, `${label}: affine`, true), bytes);
}

class LayerNormOp implements Op {
  readonly type = 'layerNorm';
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params: number;
  readonly state: readonly number[];
  constructor(
    readonly label: string,
    readonly inShape: Shape,
    readonly eps: number,
    readonly affine: boolean,
    /** Bytes per element of every plane (8: float64, 4: float32). */
    readonly bytes: ElementBytes,
  ) {
    this.outShape = inShape;
    this.inSize = this.outSize = sizeOf(inShape);
    this.params = affine ? 2 * this.inSize : 0;
    this.state = [bytes * this.inSize, bytes]; // x̂, r
  }
  scratch(N: number): number {
    return Math.max(3 * N * this.inSize, this.inSize);
  }
  forward(c: OpContext, N: number, x: number, y: number, st: State): void {
    const F = this.inSize;
    c.k.lnForward(N, F, this.eps, x, st[0]!, st[1]!);
    if (this.affine) c.k.chanAffine(N, F, 1, c.th, c.th + this.bytes * F, st[0]!, 0, y);
    else {
      c.core.floats(c.dtype, c.scratch, F).fill(1);
      c.k.chanAffine(N, F, 1, c.scratch, 0, st[0]!, 0, y);
    }
  }
  tangent(c: OpContext, N: number, _x: number, st: State, tx: number, vth: number, ty: number): void {
    const F = this.inSize;
    if (tx !== 0) {
      c.k.lnTangent(N, F, st[0]!, st[1]!, tx, ty);
      if (this.affine) c.k.chanAffine(N, F, 1, c.th, 0, ty, 0, ty);
    }
    if (vth !== 0 && this.affine) c.k.chanAffine(N, F, 1, vth, vth + this.bytes * F, st[0]!, tx !== 0 ? 1 : 0, ty);
    else if (tx === 0) c.k.dzero(N, F, ty, F);
  }
  backInput(c: OpContext, N: number, K: number, st: State, gy: number, gx: number): void {
    const F = this.inSize;
    let u = gy;
    if (this.affine) {
      c.k.chanAffine(N * K, F, 1, c.th, 0, gy, 0, gx);
      u = gx;
    }
    c.k.lnBackward(N, K, F, st[0]!, st[1]!, u, gx);
  }
  backParams(c: OpContext, N: number, _x: number, st: State, gy: number, gth: number): void {
    if (this.affine) c.k.chanGrad(N, 1, this.inSize, 1, gy, st[0]!, 1, gth, gth + this.bytes * this.inSize);
  }
  pullbacks(c: OpContext, N: number, K: number, _x: number, st: State, gy: number, out: number, ldout: number): void {
    if (this.affine) c.k.chanPullbacks(N, K, this.inSize, 1, gy, st[0]!, out, ldout);
  }
  backward2(c: OpContext, N: number, _x: number, st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number): void {
    const F = this.inSize;
    const [xhat, rstd] = st as [number, number];
    const u = c.scratch,
      du = u + this.bytes * N * F,
      dxh = du + this.bytes * N * F;
    if (this.affine) {
      c.k.chanGrad(N, 1, F, 1, dgy, xhat, 1, hth, hth + this.bytes * F);
      if (tx !== 0) {
        c.k.lnTangent(N, F, xhat, rstd, tx, dxh);
        c.k.chanGrad(N, 1, F, 1, gy, dxh, 1, hth, 0);
      }
    }
    if (dgx === 0) return;
    if (this.affine) {
      c.k.chanAffine(N, F, 1, c.th, 0, gy, 0, u);
      c.k.chanAffine(N, F, 1, c.th, 0, dgy, 0, du);
      if (vth !== 0) c.k.chanAffine(N, F, 1, vth, 0, gy, 1, du);
    }
    const uu = this.affine ? u : gy,
      dd = this.affine ? du : dgy;
    if (tx === 0) c.k.lnBackward(N, 1, F, xhat, rstd, dd, dgx);
    else c.k.lnBackward2(N, F, xhat, rstd, tx, uu, dd, dgx);
  }
}
