/**
 * Batch normalization in evaluation mode (PyTorch's `BatchNorm1d` / `BatchNorm2d` after
 * `.eval()`): per channel c (per feature on a flat input) with the running statistics μ_c, σ²_c
 * fixed and s_c = √(σ²_c + eps),
 *
 *   x̂ = (x − μ_c) / s_c,   y = γ_c x̂ + β_c                θ: γ (C), then β (C)
 *   tangent    ty = (γ_c / s_c) tx + vγ_c x̂ + vβ_c
 *   backInput  gx = (γ_c / s_c) gy
 *   backParams gγ_c += Σ gy x̂,  gβ_c += Σ gy            (sums over rows and positions)
 *   backward2  hγ_c += Σ dgy x̂ + (1/s_c) Σ gy tx,  hβ_c += Σ dgy,  dgx = (γ_c dgy + vγ_c gy) / s_c
 *
 * The map is bilinear in (γ, x), so its second-order term couples γ with the input only. γ and β
 * have no Kronecker form: KFAC keeps this layer's exact block. Kernels: `assembly/nn/norm.ts`.
 *
 * @module
 */
import { checkKeys, checkOptions, chainError, type ElementBytes, type Op, type OpContext, type Shape, type State, sizeOf } from '../../layer.js';
import type { BatchNormSpec } from '../../spec.js';

const KEYS = ['eps', 'runningMean', 'runningVar'] as const;

function checkEps(v: unknown, where: string): number {
  if (v === undefined) return 1e-5;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`natgrad: ${where}: eps must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

function checkStats(v: unknown, where: string, positive: boolean): number[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new TypeError(`natgrad: ${where} must be an array of numbers`);
  const a = Array.from(v as ArrayLike<number>);
  for (const [i, x] of a.entries()) {
    if (typeof x !== 'number' || !Number.isFinite(x) || (positive && x < 0))
      throw new RangeError(`natgrad: ${where}[${i}] must be a finite${positive ? ' non-negative' : ''} number, got ${String(x)}`);
  }
  return a;
}

/**
 * Batch norm in evaluation mode with fixed running statistics (default mean 0 and variance 1, a
 * freshly built PyTorch layer) and `eps` (default 1e-5). The channel count comes from the input.
 * @example
 * ```ts
 * batchNorm();              // { type: 'batchNorm', eps: 1e-5 }: running mean 0, variance 1
 * sequential({ input: [4, 8, 8], layers: [batchNorm()] }).dim; // 8: γ and β per channel
 * batchNorm({ runningMean: torchMean, runningVar: torchVar }); // a trained layer's statistics
 * ```
 *
 * @category Layers
 */
export function batchNorm(options: { eps?: number; runningMean?: ArrayLike<number>; runningVar?: ArrayLike<number> } = {}): BatchNormSpec {
  const o = checkOptions<BatchNormSpec>(options, 'batchNorm', KEYS);
  const mean = checkStats(o.runningMean, 'batchNorm: runningMean', false);
  const variance = checkStats(o.runningVar, 'batchNorm: runningVar', true);
  if (mean && variance && mean.length !== variance.length) throw new RangeError(`natgrad: batchNorm: runningMean (${mean.length}) and runningVar (${variance.length}) must have the same length`);
  return Object.freeze({
    type: 'batchNorm',
    eps: checkEps(o.eps, 'batchNorm'),
    ...(mean ? { runningMean: Object.freeze(mean) } : {}),
    ...(variance ? { runningVar: Object.freeze(variance) } : {}),
  });
}

/** @internal Compile a batchNorm spec: channels of an image, or features of a flat input. */
export function buildBatchNorm(spec: BatchNormSpec, inShape: Shape, label: string, bytes: ElementBytes): Op {
  checkKeys(spec, ['type', ...KEYS], label);
  const C = inShape[0];
  const S = inShape.length === 3 ? inShape[1] * inShape[2] : 1;
  const eps = checkEps(spec.eps, label);
  const mean = checkStats(spec.runningMean, `${label}: runningMean`, false) ?? new Array<number>(C).fill(0);
  const variance = checkStats(spec.runningVar, `${label}: runningVar`, true) ?? new Array<number>(C).fill(1);
  if (mean.length !== C) throw chainError(label, `runningMean has ${mean.length} entries, the input has ${C} ${S > 1 ? 'channels' : 'features'}`);
  if (variance.length !== C) throw chainError(label, `runningVar has ${variance.length} entries, the input has ${C} ${S > 1 ? 'channels' : 'features'}`);
  for (let c = 0; c < C; c++) {
    if (!(variance[c]! + eps > 0)) throw chainError(label, `runningVar[${c}] + eps must be positive, got ${variance[c]! + eps}`);
  }
  return new BatchNormOp(label, inShape, C, S, mean, variance, eps, bytes);
}

class BatchNormOp implements Op {
  readonly type = 'batchNorm';
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params: number;
  readonly state: readonly number[];
  /** 1/s_c and −μ_c/s_c. */
  readonly #inv: Float64Array;
  readonly #shift: Float64Array;
  constructor(
    readonly label: string,
    readonly inShape: Shape,
    readonly channels: number,
    readonly positions: number,
    mean: number[],
    variance: number[],
    readonly eps: number,
    /** Bytes per element of every plane (8: float64, 4: float32). */
    readonly bytes: ElementBytes,
  ) {
    this.outShape = inShape;
    this.inSize = this.outSize = sizeOf(inShape);
    this.params = 2 * channels;
    this.state = [this.bytes * this.inSize]; // x̂
    this.#inv = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
    this.#shift = Float64Array.from(mean, (m, c) => -m * this.#inv[c]!);
  }
  scratch(): number {
    return 2 * this.channels;
  }
  /** Write a per-channel vector into the scratch (at slot 0 or 1) and return its address. */
  #vec(c: OpContext, slot: number, fill: (v: Float32Array | Float64Array) => void): number {
    const p = c.scratch + this.bytes * slot * this.channels;
    fill(c.core.floats(c.dtype, p, this.channels));
    return p;
  }
  /** (scale_c / s_c) for the per-channel scale at byte address `th` (γ or vγ). */
  #over(c: OpContext, slot: number, th: number): number {
    const g = c.core.floats(c.dtype, th, this.channels).slice();
    return this.#vec(c, slot, (v) => {
      for (let i = 0; i < this.channels; i++) v[i] = g[i]! * this.#inv[i]!;
    });
  }
  forward(c: OpContext, N: number, x: number, y: number, st: State): void {
    const C = this.channels,
      S = this.positions;
    const inv = this.#vec(c, 0, (v) => v.set(this.#inv)),
      shift = this.#vec(c, 1, (v) => v.set(this.#shift));
    c.k.chanAffine(N, C, S, inv, shift, x, 0, st[0]!);
    c.k.chanAffine(N, C, S, c.th, c.th + this.bytes * C, st[0]!, 0, y);
  }
  tangent(c: OpContext, N: number, _x: number, st: State, tx: number, vth: number, ty: number): void {
    const C = this.channels,
      S = this.positions;
    if (tx !== 0) c.k.chanAffine(N, C, S, this.#over(c, 0, c.th), 0, tx, 0, ty);
    if (vth !== 0) c.k.chanAffine(N, C, S, vth, vth + this.bytes * C, st[0]!, tx !== 0 ? 1 : 0, ty);
    if (tx === 0 && vth === 0) c.k.dzero(N, this.outSize, ty, this.outSize);
  }
  backInput(c: OpContext, N: number, K: number, _st: State, gy: number, gx: number): void {
    c.k.chanAffine(N * K, this.channels, this.positions, this.#over(c, 0, c.th), 0, gy, 0, gx);
  }
  backParams(c: OpContext, N: number, _x: number, st: State, gy: number, gth: number): void {
    c.k.chanGrad(N, 1, this.channels, this.positions, gy, st[0]!, 1, gth, gth + this.bytes * this.channels);
  }
  pullbacks(c: OpContext, N: number, K: number, _x: number, st: State, gy: number, out: number, ldout: number): void {
    c.k.chanPullbacks(N, K, this.channels, this.positions, gy, st[0]!, out, ldout);
  }
  backward2(c: OpContext, N: number, _x: number, st: State, tx: number, vth: number, gy: number, dgy: number, dgx: number, hth: number): void {
    const C = this.channels,
      S = this.positions;
    c.k.chanGrad(N, 1, C, S, dgy, st[0]!, 1, hth, hth + this.bytes * C);
    if (tx !== 0) {
      // hγ_c += (1/s_c) Σ gy·tx
      const t = this.#vec(c, 0, () => {});
      c.k.chanGrad(N, 1, C, S, gy, tx, 0, t, 0);
      const sums = c.core.floats(c.dtype, t, C).slice();
      const h = c.core.floats(c.dtype, hth, C);
      for (let i = 0; i < C; i++) h[i] = h[i]! + sums[i]! * this.#inv[i]!;
    }
    if (dgx !== 0) {
      c.k.chanAffine(N, C, S, this.#over(c, 0, c.th), 0, dgy, 0, dgx);
      if (vth !== 0) c.k.chanAffine(N, C, S, this.#over(c, 1, vth), 0, gy, 1, dgx);
    }
  }
}
