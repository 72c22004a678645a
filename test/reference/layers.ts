/**
 * A plain-TypeScript reference of natgrad's layer networks (`sequential({ input, layers })`,
 * layer vocabulary in `bindings/nn/spec.ts`): the slow, obviously-correct model the
 * WebAssembly implementation is tested against, as `test/reference/mlp.ts` is for the MLP.
 *
 * Conventions (PyTorch's, see spec.ts): a sample is a row of C·H·W values in NCHW order (or d
 * values for a flat input); θ is every parameterized layer's parameters in layer order (a
 * residual block: body, then shortcut), each layer in PyTorch's `parameters()` order — dense W
 * (out × in) then b; conv2d W (out, in, kh, kw) then b; batchNorm / layerNorm γ then β.
 *
 * How the products are computed. Every layer is written once as a pair of functions on
 * *dual* vectors (value, tangent) — a forward y(θ, x) and a backward (g_x, g_θ) = (J_xᵀ g_y,
 * J_θᵀ g_y) — with the tangent propagated by the product rule. Most layers are linear or
 * bilinear in (θ, x) (dense, conv2d, pooling, batchNorm in eval mode), so their dual versions
 * are the plain per-layer functions below applied twice (`lin`, `bil`); the activation and
 * layerNorm carry their second derivatives explicitly. Then, per sample:
 * - forward = the value part of the forward pass;
 * - jvp(v) = the tangent part of the forward pass with θ's tangent v;
 * - vjp(R) = the value part of the backward pass started at g_y = R_n;
 * - residualHvp(R, v) = the tangent part of that backward pass with θ's tangent v and R fixed:
 *   d/dε [J(θ + εv)ᵀ R] = Σ_m R_nm ∇²_θ f_nm v (Pearlmutter's R-operator, forward-over-reverse).
 * Max pooling's argmax is taken from the value part, i.e. fixed at the forward pass (the layer
 * is piecewise linear); relu's second derivative is 0.
 *
 * Everything is per-sample loops written for clarity, not speed.
 *
 * @module
 */
import type { Model, ModelTrace, ParameterGroup } from '../../bindings/models/model.js';
import { ACTIVATIONS, type Activation } from '../../bindings/models/activations.js';
import type { InputShape, LayerSpec, Pair, SequentialSpec } from '../../bindings/nn/spec.js';
import { rng } from '../../bindings/data/random.js';
import { activationRef } from './mlp.js';

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/** The number of values of a per-sample shape: d, or C·H·W. */
export function shapeSize(shape: InputShape): number {
  return typeof shape === 'number' ? shape : shape[0] * shape[1] * shape[2];
}

/** `'12 features'` or `'[3, 4, 4]'`, for messages. */
export function formatShape(shape: InputShape): string {
  return typeof shape === 'number' ? `${shape} features` : `[${shape.join(', ')}]`;
}

function sameShape(a: InputShape, b: InputShape): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

// ---------------------------------------------------------------------------------------------
// Geometry of convolution and pooling
// ---------------------------------------------------------------------------------------------

/**
 * A conv2d layer's resolved geometry: input [C, H, W], `out` channels, kernel (kh, kw),
 * stride, dilation and the zero padding of each side (top / bottom / left / right: 'same'
 * puts the extra pixel of an odd total at the bottom / right, like PyTorch), and the output
 * size OH = ⌊(H + pt + pb − dh·(kh − 1) − 1) / sh⌋ + 1 (likewise OW).
 */
export interface Conv2dGeometry {
  readonly inC: number;
  readonly inH: number;
  readonly inW: number;
  readonly out: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
  readonly outH: number;
  readonly outW: number;
}

/** A pooling window's resolved geometry: input [C, H, W], kernel, stride, symmetric padding, output size ⌊(H + 2p − k)/s⌋ + 1. */
export interface Pool2dGeometry {
  readonly c: number;
  readonly inH: number;
  readonly inW: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly outH: number;
  readonly outW: number;
}

/** Error naming the layer (`layers[2] (conv2d): …`). */
class SpecError extends RangeError {}

function pair(value: unknown, where: string, what: string, min: 0 | 1): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= min;
  const kind = min === 1 ? 'a positive integer' : 'a non-negative integer';
  if (typeof value === 'number') {
    if (!ok(value)) throw new SpecError(`${where}: ${what} must be ${kind} or a pair [h, w] of them, got ${value}`);
    return [value, value];
  }
  if (Array.isArray(value) && value.length === 2) {
    if (!ok(value[0]) || !ok(value[1])) throw new SpecError(`${where}: ${what} must be ${kind} or a pair [h, w] of them, got [${value.join(', ')}]`);
    return [value[0], value[1]];
  }
  throw new SpecError(`${where}: ${what} must be ${kind} or a pair [h, w] of them, got ${JSON.stringify(value)}`);
}

function tooLarge(where: string, k: [number, number], padded: [number, number], dilated: boolean): never {
  // "kernel 5 … input 4" when both are square, "kernel 3×9 … input 4×6" otherwise
  const square = k[0] === k[1] && padded[0] === padded[1];
  const fmt = (p: [number, number]) => (square ? `${p[0]}` : `${p[0]}×${p[1]}`);
  throw new SpecError(`${where}: ${dilated ? 'dilated kernel' : 'kernel'} ${fmt(k)} is larger than the padded input ${fmt(padded)}`);
}

/**
 * Resolve a conv2d spec on an input [C, H, W] (PyTorch's rules; `where` prefixes messages).
 * @throws RangeError naming the argument: bad sizes, 'same' with a stride ≠ 1, a (dilated) kernel larger than the padded input.
 */
export function conv2dGeometry(
  input: readonly [number, number, number],
  spec: { out: number; kernel: Pair; stride?: Pair; padding?: Pair | 'same'; dilation?: Pair },
  where = 'conv2d',
): Conv2dGeometry {
  const [C, H, W] = input;
  if (typeof spec.out !== 'number' || !Number.isSafeInteger(spec.out) || spec.out < 1) throw new SpecError(`${where}: out must be a positive integer, got ${String(spec.out)}`);
  const [kh, kw] = pair(spec.kernel, where, 'kernel', 1);
  const [sh, sw] = pair(spec.stride ?? 1, where, 'stride', 1);
  const [dh, dw] = pair(spec.dilation ?? 1, where, 'dilation', 1);
  let pt: number, pb: number, pl: number, pr: number;
  if (spec.padding === 'same') {
    if (sh !== 1 || sw !== 1) throw new SpecError(`${where}: padding 'same' needs stride 1, got stride [${sh}, ${sw}]`);
    const th = dh * (kh - 1),
      tw = dw * (kw - 1);
    pt = Math.floor(th / 2);
    pb = th - pt;
    pl = Math.floor(tw / 2);
    pr = tw - pl;
  } else {
    const [ph, pw] = pair(spec.padding ?? 0, where, 'padding', 0);
    pt = pb = ph;
    pl = pr = pw;
  }
  const ekh = dh * (kh - 1) + 1,
    ekw = dw * (kw - 1) + 1;
  const paddedH = H + pt + pb,
    paddedW = W + pl + pr;
  if (ekh > paddedH || ekw > paddedW) tooLarge(where, [ekh, ekw], [paddedH, paddedW], dh !== 1 || dw !== 1);
  return {
    inC: C,
    inH: H,
    inW: W,
    out: spec.out,
    kh,
    kw,
    sh,
    sw,
    dh,
    dw,
    padTop: pt,
    padBottom: pb,
    padLeft: pl,
    padRight: pr,
    outH: Math.floor((paddedH - ekh) / sh) + 1,
    outW: Math.floor((paddedW - ekw) / sw) + 1,
  };
}

/**
 * Resolve a maxPool2d / avgPool2d spec on an input [C, H, W]: stride defaults to the kernel;
 * PyTorch's rule padding ≤ kernel / 2 per axis; floor mode.
 * @throws RangeError naming the argument.
 */
export function pool2dGeometry(input: readonly [number, number, number], spec: { kernel: Pair; stride?: Pair; padding?: Pair }, where = 'pool2d'): Pool2dGeometry {
  const [C, H, W] = input;
  const [kh, kw] = pair(spec.kernel, where, 'kernel', 1);
  const [sh, sw] = spec.stride === undefined ? [kh, kw] : pair(spec.stride, where, 'stride', 1);
  const [ph, pw] = pair(spec.padding ?? 0, where, 'padding', 0);
  if (2 * ph > kh || 2 * pw > kw) throw new SpecError(`${where}: padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}]`);
  const paddedH = H + 2 * ph,
    paddedW = W + 2 * pw;
  if (kh > paddedH || kw > paddedW) tooLarge(where, [kh, kw], [paddedH, paddedW], false);
  return { c: C, inH: H, inW: W, kh, kw, sh, sw, ph, pw, outH: Math.floor((paddedH - kh) / sh) + 1, outW: Math.floor((paddedW - kw) / sw) + 1 };
}

// ---------------------------------------------------------------------------------------------
// Per-layer plain functions (batched: x is rows × (per-sample size), row-major). These are the
// building blocks of the reference model and are meant for kernel tests too.
// ---------------------------------------------------------------------------------------------

/** z = W x + b per row: x rows × in, W out × in (row-major), b out or null → rows × out. */
export function denseForward(x: Float64Array, W: Float64Array, b: Float64Array | null, inputs: number, outputs: number, rows = 1): Float64Array {
  const z = new Float64Array(rows * outputs);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < outputs; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inputs; i++) s += W[o * inputs + i]! * x[n * inputs + i]!;
      z[n * outputs + o] = s;
    }
  return z;
}

/** g_x = Wᵀ g_z per row: gz rows × out → rows × in. */
export function denseInputGrad(gz: Float64Array, W: Float64Array, inputs: number, outputs: number, rows = 1): Float64Array {
  const gx = new Float64Array(rows * inputs);
  for (let n = 0; n < rows; n++) for (let o = 0; o < outputs; o++) for (let i = 0; i < inputs; i++) gx[n * inputs + i] += W[o * inputs + i]! * gz[n * outputs + o]!;
  return gx;
}

/** g_W = Σ_n g_z,n x_nᵀ (out × in, row-major). */
export function denseWeightGrad(gz: Float64Array, x: Float64Array, inputs: number, outputs: number, rows = 1): Float64Array {
  const gW = new Float64Array(outputs * inputs);
  for (let n = 0; n < rows; n++) for (let o = 0; o < outputs; o++) for (let i = 0; i < inputs; i++) gW[o * inputs + i] += gz[n * outputs + o]! * x[n * inputs + i]!;
  return gW;
}

/**
 * PyTorch's Conv2d (groups 1), by direct loops: y[o, oh, ow] = b[o] + Σ_{c,i,j} W[o, c, i, j] ·
 * x[c, oh·sh − pt + i·dh, ow·sw − pl + j·dw] (zero outside the input).
 * x: rows × (C·H·W), W: out × C × kh × kw, b: out or null → rows × (out·OH·OW).
 */
export function conv2dForward(x: Float64Array, W: Float64Array, b: Float64Array | null, g: Conv2dGeometry, rows = 1): Float64Array {
  const { inC: C, inH: H, inW: Wd, out, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW } = g;
  const y = new Float64Array(rows * out * outH * outW);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < out; o++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - padTop + i * dh;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - padLeft + j * dw;
                if (iw < 0 || iw >= Wd) continue;
                s += W[((o * C + c) * kh + i) * kw + j]! * x[n * C * H * Wd + (c * H + ih) * Wd + iw]!;
              }
            }
          y[((n * out + o) * outH + oh) * outW + ow] = s;
        }
  return y;
}

/** The input gradient of a convolution (a transposed convolution): g_x = J_xᵀ g_y, rows × (out·OH·OW) → rows × (C·H·W). */
export function conv2dInputGrad(gy: Float64Array, W: Float64Array, g: Conv2dGeometry, rows = 1): Float64Array {
  const { inC: C, inH: H, inW: Wd, out, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW } = g;
  const gx = new Float64Array(rows * C * H * Wd);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < out; o++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          const gv = gy[((n * out + o) * outH + oh) * outW + ow]!;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - padTop + i * dh;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - padLeft + j * dw;
                if (iw < 0 || iw >= Wd) continue;
                gx[n * C * H * Wd + (c * H + ih) * Wd + iw] += W[((o * C + c) * kh + i) * kw + j]! * gv;
              }
            }
        }
  return gx;
}

/** The weight gradient of a convolution summed over rows: g_W[o, c, i, j] = Σ_{n,oh,ow} g_y[n, o, oh, ow] · x[n, c, ih, iw] (out × C × kh × kw). */
export function conv2dWeightGrad(gy: Float64Array, x: Float64Array, g: Conv2dGeometry, rows = 1): Float64Array {
  const { inC: C, inH: H, inW: Wd, out, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW } = g;
  const gW = new Float64Array(out * C * kh * kw);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < out; o++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          const gv = gy[((n * out + o) * outH + oh) * outW + ow]!;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - padTop + i * dh;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - padLeft + j * dw;
                if (iw < 0 || iw >= Wd) continue;
                gW[((o * C + c) * kh + i) * kw + j] += gv * x[n * C * H * Wd + (c * H + ih) * Wd + iw]!;
              }
            }
        }
  return gW;
}

/** Σ over rows and positions of g_y per channel: rows × (C·P) → C. */
export function channelSum(gy: Float64Array, channels: number, positions: number, rows = 1): Float64Array {
  const s = new Float64Array(channels);
  for (let n = 0; n < rows; n++) for (let c = 0; c < channels; c++) for (let p = 0; p < positions; p++) s[c] += gy[(n * channels + c) * positions + p]!;
  return s;
}

/** Broadcast a per-channel vector over rows and positions: C → rows × (C·P). */
export function channelBroadcast(b: Float64Array, channels: number, positions: number, rows = 1): Float64Array {
  const y = new Float64Array(rows * channels * positions);
  for (let n = 0; n < rows; n++) for (let c = 0; c < channels; c++) y.fill(b[c]!, (n * channels + c) * positions, (n * channels + c + 1) * positions);
  return y;
}

/**
 * The patches of a convolution: (rows·S) × (C·kh·kw) with S = OH·OW, row n·S + oh·OW + ow
 * (output positions row-major), columns channel-major (c, i, j) like the weight W[o, c, i, j];
 * padding entries 0. Then conv2dForward(x, W, b) = W · patchᵀ + b per position.
 */
export function im2col(x: Float64Array, g: Conv2dGeometry, rows = 1): Float64Array {
  const { inC: C, inH: H, inW: Wd, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW } = g;
  const P = C * kh * kw,
    S = outH * outW;
  const cols = new Float64Array(rows * S * P);
  for (let n = 0; n < rows; n++)
    for (let oh = 0; oh < outH; oh++)
      for (let ow = 0; ow < outW; ow++) {
        const row = (n * S + oh * outW + ow) * P;
        for (let c = 0; c < C; c++)
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - padTop + i * dh;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - padLeft + j * dw;
              if (iw < 0 || iw >= Wd) continue;
              cols[row + (c * kh + i) * kw + j] = x[n * C * H * Wd + (c * H + ih) * Wd + iw]!;
            }
          }
      }
  return cols;
}

/**
 * PyTorch's MaxPool2d: y = the window maximum, padding −∞ (never selected), ties → the first
 * maximum in row-major window order (strict `>`). `argmax[e]` is the index of the selected
 * input within its sample's C·H·W row, for each output entry e (rows × C·OH·OW).
 */
export function maxPool2dForward(x: Float64Array, g: Pool2dGeometry, rows = 1): { y: Float64Array; argmax: Int32Array } {
  const { c: C, inH: H, inW: W, kh, kw, sh, sw, ph, pw, outH, outW } = g;
  const y = new Float64Array(rows * C * outH * outW);
  const argmax = new Int32Array(rows * C * outH * outW);
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          let best = Number.NEGATIVE_INFINITY,
            at = -1;
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - pw + j;
              if (iw < 0 || iw >= W) continue;
              const idx = (c * H + ih) * W + iw;
              const v = x[n * C * H * W + idx]!;
              if (at < 0 || v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at < 0) throw new Error('maxPool2dForward: a window holds only padding (geometry not validated)');
          const e = ((n * C + c) * outH + oh) * outW + ow;
          y[e] = best;
          argmax[e] = at;
        }
  return { y, argmax };
}

/** y[e] = x[argmax[e]] per row (max pooling with its selection fixed): rows × inSize → rows × argmax/rows. */
export function gatherRows(x: Float64Array, argmax: Int32Array, inSize: number, rows = 1): Float64Array {
  const outSize = argmax.length / rows;
  const y = new Float64Array(argmax.length);
  for (let n = 0; n < rows; n++) for (let e = 0; e < outSize; e++) y[n * outSize + e] = x[n * inSize + argmax[n * outSize + e]!]!;
  return y;
}

/** The adjoint of {@link gatherRows} (max pooling's backward): g_x[argmax[e]] += g_y[e]. */
export function maxPool2dBackward(gy: Float64Array, argmax: Int32Array, inSize: number, rows = 1): Float64Array {
  const outSize = argmax.length / rows;
  const gx = new Float64Array(rows * inSize);
  for (let n = 0; n < rows; n++) for (let e = 0; e < outSize; e++) gx[n * inSize + argmax[n * outSize + e]!] += gy[n * outSize + e]!;
  return gx;
}

/** PyTorch's AvgPool2d with count_include_pad=True: the window sum (padding zeros included) / (kh·kw). */
export function avgPool2dForward(x: Float64Array, g: Pool2dGeometry, rows = 1): Float64Array {
  const { c: C, inH: H, inW: W, kh, kw, sh, sw, ph, pw, outH, outW } = g;
  const y = new Float64Array(rows * C * outH * outW);
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          let s = 0;
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - pw + j;
              if (iw >= 0 && iw < W) s += x[n * C * H * W + (c * H + ih) * W + iw]!;
            }
          }
          y[((n * C + c) * outH + oh) * outW + ow] = s / (kh * kw);
        }
  return y;
}

/** The adjoint of {@link avgPool2dForward}. */
export function avgPool2dBackward(gy: Float64Array, g: Pool2dGeometry, rows = 1): Float64Array {
  const { c: C, inH: H, inW: W, kh, kw, sh, sw, ph, pw, outH, outW } = g;
  const gx = new Float64Array(rows * C * H * W);
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < outH; oh++)
        for (let ow = 0; ow < outW; ow++) {
          const gv = gy[((n * C + c) * outH + oh) * outW + ow]! / (kh * kw);
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - pw + j;
              if (iw >= 0 && iw < W) gx[n * C * H * W + (c * H + ih) * W + iw] += gv;
            }
          }
        }
  return gx;
}

/** The mean over positions per channel: rows × (C·P) → rows × C (global average pooling, P = H·W). */
export function globalAvgPool2dForward(x: Float64Array, channels: number, positions: number, rows = 1): Float64Array {
  const y = new Float64Array(rows * channels);
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let p = 0; p < positions; p++) s += x[(n * channels + c) * positions + p]!;
      y[n * channels + c] = s / positions;
    }
  return y;
}

/** The adjoint of {@link globalAvgPool2dForward}: g_x[c, p] = g_y[c] / P. */
export function globalAvgPool2dBackward(gy: Float64Array, channels: number, positions: number, rows = 1): Float64Array {
  const gx = new Float64Array(rows * channels * positions);
  for (let n = 0; n < rows; n++) for (let c = 0; c < channels; c++) gx.fill(gy[n * channels + c]! / positions, (n * channels + c) * positions, (n * channels + c + 1) * positions);
  return gx;
}

/**
 * Batch norm in evaluation mode: y = γ_c (x − μ_c)/√(σ²_c + eps) + β_c for every position of
 * channel c (P = H·W positions; P = 1 and C = d on a flat input). rows × (C·P) → rows × (C·P).
 */
export function batchNormForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
  channels: number,
  positions: number,
  rows = 1,
): Float64Array {
  const y = new Float64Array(rows * channels * positions);
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < channels; c++) {
      const s = 1 / Math.sqrt(variance[c]! + eps);
      for (let p = 0; p < positions; p++) {
        const e = (n * channels + c) * positions + p;
        y[e] = gamma[c]! * (x[e]! - mean[c]!) * s + beta[c]!;
      }
    }
  return y;
}

/**
 * PyTorch's LayerNorm over all F values of each row: x̂ = (x − mean)/√(var + eps) with the
 * biased variance, y = γ ⊙ x̂ + β (γ, β of F entries; null: no affine part). rows × F → rows × F.
 */
export function layerNormForward(x: Float64Array, gamma: Float64Array | null, beta: Float64Array | null, eps: number, features: number, rows = 1): Float64Array {
  const y = new Float64Array(rows * features);
  for (let n = 0; n < rows; n++) {
    const { xhat } = layerNormStats(x.subarray(n * features, (n + 1) * features), eps);
    for (let f = 0; f < features; f++) y[n * features + f] = gamma ? gamma[f]! * xhat[f]! + beta![f]! : xhat[f]!;
  }
  return y;
}

function layerNormStats(x: Float64Array, eps: number): { xhat: Float64Array; sigma: number } {
  const F = x.length;
  let mean = 0;
  for (let f = 0; f < F; f++) mean += x[f]!;
  mean /= F;
  let variance = 0;
  for (let f = 0; f < F; f++) variance += (x[f]! - mean) ** 2;
  variance /= F;
  const sigma = Math.sqrt(variance + eps);
  return { xhat: x.map((v) => (v - mean) / sigma), sigma };
}

// ---------------------------------------------------------------------------------------------
// Dual vectors: (value, tangent) pairs and the product rule
// ---------------------------------------------------------------------------------------------

/** A vector with its tangent: the value and the directional derivative along (v, x's tangent). */
interface Dual {
  readonly v: Float64Array;
  readonly t: Float64Array;
}

const zeroTangent = (v: Float64Array): Dual => ({ v, t: new Float64Array(v.length) });
const addD = (a: Dual, b: Dual): Dual => ({ v: a.v.map((x, i) => x + b.v[i]!), t: a.t.map((x, i) => x + b.t[i]!) });
const sliceD = (a: Dual, offset: number, length: number): Dual => ({ v: a.v.subarray(offset, offset + length), t: a.t.subarray(offset, offset + length) });
/** A linear map applied to a dual: f(a) and f(ȧ). */
const lin = (f: (a: Float64Array) => Float64Array, a: Dual): Dual => ({ v: f(a.v), t: f(a.t) });
/** A bilinear map applied to duals: f(a, b) and f(ȧ, b) + f(a, ḃ). */
function bil(f: (a: Float64Array, b: Float64Array) => Float64Array, a: Dual, b: Dual): Dual {
  const t1 = f(a.t, b.v),
    t2 = f(a.v, b.t);
  return { v: f(a.v, b.v), t: t1.map((x, i) => x + t2[i]!) };
}
/** Add a dual into the accumulator at an offset (values and tangents). */
function accumulate(g: Dual, offset: number, d: Dual): void {
  for (let i = 0; i < d.v.length; i++) {
    g.v[offset + i] += d.v[i]!;
    g.t[offset + i] += d.t[i]!;
  }
}

// ---------------------------------------------------------------------------------------------
// The compiled network: one node per layer, with shapes, θ offsets and the dual passes
// ---------------------------------------------------------------------------------------------

/** Called in the backward pass for dense and conv2d layers with the layer's input x and output gradient g_z (values). */
type KfacHook = (node: Node, x: Float64Array, gz: Float64Array) => void;

interface Node {
  readonly type: LayerSpec['type'];
  /** `layers[2].shortcut[0]`, for messages. */
  readonly path: string;
  /** `2.shortcut.0.conv2d`, the group name. */
  readonly name: string;
  readonly inShape: InputShape;
  readonly outShape: InputShape;
  /** θ offset and size of the layer's own parameters (0 for parameterless layers and residual blocks). */
  readonly offset: number;
  readonly size: number;
  /** The end of the θ range of the node and its children (offset + size, or a residual block's last child's end). */
  readonly end: number;
  readonly dense?: { inputs: number; outputs: number; bias: boolean };
  readonly conv?: { geometry: Conv2dGeometry; bias: boolean };
  /** A residual block's body and shortcut (null: identity). */
  readonly body?: readonly Node[];
  readonly shortcut?: readonly Node[] | null;
  forward(th: Dual, x: Dual): Dual;
  /** Adds J_θᵀ g_y (and its tangent) into g and returns J_xᵀ g_y (and its tangent). */
  backward(th: Dual, x: Dual, gy: Dual, g: Dual, hook?: KfacHook): Dual;
}

function isImage(s: InputShape): s is readonly [number, number, number] {
  return typeof s !== 'number';
}

function positiveInt(value: unknown, where: string, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new SpecError(`${where}: ${what} must be a positive integer, got ${String(value)}`);
  return value;
}

function epsOf(value: unknown, where: string): number {
  if (value === undefined) return 1e-5;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new SpecError(`${where}: eps must be a finite non-negative number, got ${String(value)}`);
  return value;
}

function needImage(shape: InputShape, where: string): readonly [number, number, number] {
  if (!isImage(shape)) throw new SpecError(`${where}: needs an image input [C, H, W], got ${formatShape(shape)}`);
  return shape;
}

function compileSequence(layers: unknown, input: InputShape, pathPrefix: string, namePrefix: string, offset: number, field: string): { nodes: Node[]; out: InputShape; end: number } {
  if (!Array.isArray(layers) || layers.length === 0) throw new SpecError(`${field} must be a non-empty array of layer specs`);
  const nodes: Node[] = [];
  let shape = input;
  let at = offset;
  for (let i = 0; i < layers.length; i++) {
    const node = compileLayer(layers[i], shape, `${pathPrefix}[${i}]`, `${namePrefix}${i}`, at);
    nodes.push(node);
    shape = node.outShape;
    at = node.end;
  }
  return { nodes, out: shape, end: at };
}

function compileLayer(spec: unknown, inShape: InputShape, path: string, index: string, offset: number): Node {
  if (typeof spec !== 'object' || spec === null) throw new SpecError(`${path}: must be a layer spec object, got ${String(spec)}`);
  const type = (spec as { type?: unknown }).type;
  const where = `${path} (${String(type)})`;
  const name = `${index}.${String(type)}`;
  const base = { path, name, inShape, offset } as const;
  switch (type) {
    case 'dense': {
      const s = spec as Extract<LayerSpec, { type: 'dense' }>;
      if (isImage(inShape)) throw new SpecError(`${where}: the input is an image ${formatShape(inShape)}; put a flatten layer before a dense layer`);
      const inputs = inShape,
        outputs = positiveInt(s.out, where, 'out');
      if (s.bias !== undefined && typeof s.bias !== 'boolean') throw new SpecError(`${where}: bias must be a boolean, got ${String(s.bias)}`);
      const bias = s.bias ?? true;
      const wOff = offset,
        bOff = offset + outputs * inputs;
      return {
        ...base,
        type,
        outShape: outputs,
        size: outputs * (inputs + (bias ? 1 : 0)),
        end: offset + outputs * (inputs + (bias ? 1 : 0)),
        dense: { inputs, outputs, bias },
        forward(th, x) {
          const y = bil((w, a) => denseForward(a, w, null, inputs, outputs), sliceD(th, wOff, outputs * inputs), x);
          return bias ? addD(y, sliceD(th, bOff, outputs)) : y;
        },
        backward(th, x, gy, g, hook) {
          hook?.(this, x.v, gy.v);
          accumulate(
            g,
            wOff,
            bil((gz, a) => denseWeightGrad(gz, a, inputs, outputs), gy, x),
          );
          if (bias) accumulate(g, bOff, gy);
          return bil((w, gz) => denseInputGrad(gz, w, inputs, outputs), sliceD(th, wOff, outputs * inputs), gy);
        },
      };
    }
    case 'conv2d': {
      const s = spec as Extract<LayerSpec, { type: 'conv2d' }>;
      const geometry = conv2dGeometry(needImage(inShape, where), s, where);
      if (s.bias !== undefined && typeof s.bias !== 'boolean') throw new SpecError(`${where}: bias must be a boolean, got ${String(s.bias)}`);
      const bias = s.bias ?? true;
      const { out, inC, kh, kw, outH, outW } = geometry;
      const nW = out * inC * kh * kw,
        S = outH * outW;
      return {
        ...base,
        type,
        outShape: [out, outH, outW],
        size: nW + (bias ? out : 0),
        end: offset + (nW + (bias ? out : 0)),
        conv: { geometry, bias },
        forward(th, x) {
          const y = bil((w, a) => conv2dForward(a, w, null, geometry), sliceD(th, offset, nW), x);
          return bias
            ? addD(
                y,
                lin((b) => channelBroadcast(b, out, S), sliceD(th, offset + nW, out)),
              )
            : y;
        },
        backward(th, x, gy, g, hook) {
          hook?.(this, x.v, gy.v);
          accumulate(
            g,
            offset,
            bil((gz, a) => conv2dWeightGrad(gz, a, geometry), gy, x),
          );
          if (bias)
            accumulate(
              g,
              offset + nW,
              lin((gz) => channelSum(gz, out, S), gy),
            );
          return bil((w, gz) => conv2dInputGrad(gz, w, geometry), sliceD(th, offset, nW), gy);
        },
      };
    }
    case 'maxPool2d':
    case 'avgPool2d': {
      const s = spec as Extract<LayerSpec, { type: 'maxPool2d' | 'avgPool2d' }>;
      const geometry = pool2dGeometry(needImage(inShape, where), s, where);
      const inSize = shapeSize(inShape);
      const outShape: InputShape = [geometry.c, geometry.outH, geometry.outW];
      if (type === 'maxPool2d') {
        return {
          ...base,
          type,
          outShape,
          size: 0,
          end: offset,
          forward(_th, x) {
            const { argmax } = maxPool2dForward(x.v, geometry);
            return lin((a) => gatherRows(a, argmax, inSize), x);
          },
          backward(_th, x, gy) {
            const { argmax } = maxPool2dForward(x.v, geometry);
            return lin((gz) => maxPool2dBackward(gz, argmax, inSize), gy);
          },
        };
      }
      return {
        ...base,
        type,
        outShape,
        size: 0,
        end: offset,
        forward: (_th, x) => lin((a) => avgPool2dForward(a, geometry), x),
        backward: (_th, _x, gy) => lin((gz) => avgPool2dBackward(gz, geometry), gy),
      };
    }
    case 'globalAvgPool2d': {
      const [C, H, W] = needImage(inShape, where);
      return {
        ...base,
        type,
        outShape: [C, 1, 1],
        size: 0,
        end: offset,
        forward: (_th, x) => lin((a) => globalAvgPool2dForward(a, C, H * W), x),
        backward: (_th, _x, gy) => lin((gz) => globalAvgPool2dBackward(gz, C, H * W), gy),
      };
    }
    case 'flatten':
      return { ...base, type, outShape: shapeSize(inShape), size: 0, end: offset, forward: (_th, x) => x, backward: (_th, _x, gy) => gy };
    case 'activation': {
      const act = (spec as { name?: unknown }).name;
      if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act))
        throw new SpecError(`${where}: name must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(act)}`);
      const derivs = (x: Float64Array) => Array.from(x, (z) => activationRef(act as Activation, z));
      return {
        ...base,
        type,
        outShape: inShape,
        size: 0,
        end: offset,
        forward(_th, x) {
          // y = σ(x), ẏ = σ'(x) ẋ
          const d = derivs(x.v);
          return { v: Float64Array.from(d, (s) => s[0]), t: x.t.map((xt, i) => d[i]![1] * xt) };
        },
        backward(_th, x, gy) {
          // g_x = σ'(x) g_y, ġ_x = σ''(x) ẋ g_y + σ'(x) ġ_y
          const d = derivs(x.v);
          return { v: gy.v.map((gv, i) => d[i]![1] * gv), t: gy.t.map((gt, i) => d[i]![2] * x.t[i]! * gy.v[i]! + d[i]![1] * gt) };
        },
      };
    }
    case 'batchNorm': {
      const s = spec as Extract<LayerSpec, { type: 'batchNorm' }>;
      const eps = epsOf(s.eps, where);
      const C = isImage(inShape) ? inShape[0] : inShape,
        P = isImage(inShape) ? inShape[1] * inShape[2] : 1;
      const stat = (value: readonly number[] | undefined, what: string, fill: number): Float64Array => {
        if (value === undefined) return new Float64Array(C).fill(fill);
        if (!Array.isArray(value) || value.length !== C || !value.every((v) => typeof v === 'number' && Number.isFinite(v)))
          throw new SpecError(
            `${where}: ${what} must be ${C} finite numbers (one per ${isImage(inShape) ? 'channel' : 'feature'}), got ${Array.isArray(value) ? `${value.length} entries` : String(value)}`,
          );
        return Float64Array.from(value);
      };
      const mean = stat(s.runningMean, 'runningMean', 0),
        variance = stat(s.runningVar, 'runningVar', 1);
      variance.forEach((v, c) => {
        if (!(v + eps > 0)) throw new SpecError(`${where}: runningVar[${c}] + eps must be positive, got ${v} + ${eps}`);
      });
      // x̂ = (x − μ)/√(σ² + eps) is affine in x with fixed statistics; y = γ x̂ + β is bilinear in (γ, x̂).
      const normalize = (a: Float64Array, shift: boolean) => batchNormForward(a, new Float64Array(C).fill(1), new Float64Array(C), shift ? mean : new Float64Array(C), variance, eps, C, P);
      const xhatOf = (x: Dual): Dual => ({ v: normalize(x.v, true), t: normalize(x.t, false) });
      const scaleChannels = (gamma: Float64Array, a: Float64Array) => a.map((z, e) => gamma[Math.floor(e / P)]! * z);
      return {
        ...base,
        type,
        outShape: inShape,
        size: 2 * C,
        end: offset + 2 * C,
        forward(th, x) {
          return addD(
            bil(scaleChannels, sliceD(th, offset, C), xhatOf(x)),
            lin((b) => channelBroadcast(b, C, P), sliceD(th, offset + C, C)),
          );
        },
        backward(th, x, gy, g) {
          // g_γ_c = Σ_p g_y x̂, g_β_c = Σ_p g_y, g_x = γ_c g_y / √(σ²_c + eps)
          accumulate(
            g,
            offset,
            bil(
              (gz, xh) =>
                channelSum(
                  gz.map((z, e) => z * xh[e]!),
                  C,
                  P,
                ),
              gy,
              xhatOf(x),
            ),
          );
          accumulate(
            g,
            offset + C,
            lin((gz) => channelSum(gz, C, P), gy),
          );
          return bil((gamma, gz) => normalize(scaleChannels(gamma, gz), false), sliceD(th, offset, C), gy);
        },
      };
    }
    case 'layerNorm': {
      const s = spec as Extract<LayerSpec, { type: 'layerNorm' }>;
      const eps = epsOf(s.eps, where);
      if (s.affine !== undefined && typeof s.affine !== 'boolean') throw new SpecError(`${where}: affine must be a boolean, got ${String(s.affine)}`);
      const affine = s.affine ?? true;
      const F = shapeSize(inShape);
      const mean = (a: ArrayLike<number>) => {
        let m = 0;
        for (let i = 0; i < a.length; i++) m += a[i]!;
        return m / a.length;
      };
      /** x̂ and its tangent: ẋ_c = ẋ − mean(ẋ), σ̇ = mean(x̂ ẋ), dx̂ = (ẋ_c − x̂ σ̇)/σ. */
      const normalized = (x: Dual) => {
        const { xhat, sigma } = layerNormStats(x.v, eps);
        const mt = mean(x.t);
        const sigmaDot = mean(xhat.map((h, f) => h * x.t[f]!));
        const xhatDot = x.t.map((xt, f) => (xt - mt - xhat[f]! * sigmaDot) / sigma);
        return { xhat, sigma, xhatDot, sigmaDot };
      };
      return {
        ...base,
        type,
        outShape: inShape,
        size: affine ? 2 * F : 0,
        end: offset + (affine ? 2 * F : 0),
        forward(th, x) {
          const { xhat, xhatDot } = normalized(x);
          if (!affine) return { v: xhat, t: xhatDot };
          const gamma = sliceD(th, offset, F),
            beta = sliceD(th, offset + F, F);
          // y = γ ⊙ x̂ + β, ẏ = γ̇ ⊙ x̂ + γ ⊙ dx̂ + β̇
          return { v: xhat.map((h, f) => gamma.v[f]! * h + beta.v[f]!), t: xhat.map((h, f) => gamma.t[f]! * h + gamma.v[f]! * xhatDot[f]! + beta.t[f]!) };
        },
        backward(th, x, gy, g) {
          const { xhat, sigma, xhatDot, sigmaDot } = normalized(x);
          let gh: Dual = gy; // g_x̂ = γ ⊙ g_y
          if (affine) {
            const gamma = sliceD(th, offset, F);
            accumulate(g, offset, { v: gy.v.map((z, f) => z * xhat[f]!), t: gy.t.map((z, f) => z * xhat[f]! + gy.v[f]! * xhatDot[f]!) });
            accumulate(g, offset + F, gy);
            gh = { v: gy.v.map((z, f) => gamma.v[f]! * z), t: gy.t.map((z, f) => gamma.v[f]! * z + gamma.t[f]! * gy.v[f]!) };
          }
          // g_x = q/σ with q = g_x̂ − mean(g_x̂) − x̂ c, c = mean(g_x̂ ⊙ x̂);
          // ġ_x = q̇/σ − q σ̇/σ², q̇ = ġ_x̂ − mean(ġ_x̂) − dx̂ c − x̂ ċ, ċ = mean(ġ_x̂ ⊙ x̂ + g_x̂ ⊙ dx̂).
          const m = mean(gh.v),
            mDot = mean(gh.t);
          const c = mean(gh.v.map((z, f) => z * xhat[f]!)),
            cDot = mean(gh.t.map((z, f) => z * xhat[f]! + gh.v[f]! * xhatDot[f]!));
          const q = gh.v.map((z, f) => z - m - xhat[f]! * c);
          const qDot = gh.t.map((z, f) => z - mDot - xhatDot[f]! * c - xhat[f]! * cDot);
          return { v: q.map((z) => z / sigma), t: qDot.map((z, f) => z / sigma - (q[f]! * sigmaDot) / (sigma * sigma)) };
        },
      };
    }
    case 'residual': {
      const s = spec as Extract<LayerSpec, { type: 'residual' }>;
      const body = compileSequence(s.layers, inShape, `${path}.layers`, `${index}.layers.`, offset, `${where}: layers`);
      let shortcut: Node[] | null = null;
      let end = body.end;
      if (s.shortcut !== undefined && !(Array.isArray(s.shortcut) && s.shortcut.length === 0)) {
        const sc = compileSequence(s.shortcut, inShape, `${path}.shortcut`, `${index}.shortcut.`, body.end, `${where}: shortcut`);
        if (!sameShape(sc.out, body.out)) throw new SpecError(`${where}: the body gives ${formatShape(body.out)} but the shortcut gives ${formatShape(sc.out)}`);
        shortcut = sc.nodes;
        end = sc.end;
      } else if (!sameShape(inShape, body.out)) {
        throw new SpecError(`${where}: the body maps ${formatShape(inShape)} to ${formatShape(body.out)} and there is no shortcut (an identity shortcut needs the same shape)`);
      }
      const bodyNodes = body.nodes;
      return {
        ...base,
        type,
        outShape: body.out,
        size: 0,
        end,
        body: bodyNodes,
        shortcut,
        forward(th, x) {
          const yb = runForward(bodyNodes, th, x).at(-1)!;
          const ys = shortcut ? runForward(shortcut, th, x).at(-1)! : x;
          return addD(yb, ys);
        },
        backward(th, x, gy, g, hook) {
          const gb = runBackward(bodyNodes, th, runForward(bodyNodes, th, x), gy, g, hook);
          const gs = shortcut ? runBackward(shortcut, th, runForward(shortcut, th, x), gy, g, hook) : gy;
          return addD(gb, gs);
        },
      };
    }
    default:
      throw new SpecError(
        `${path}: unknown layer type ${JSON.stringify(type)} (expected one of dense, conv2d, maxPool2d, avgPool2d, globalAvgPool2d, flatten, activation, batchNorm, layerNorm, residual)`,
      );
  }
}

/** Inputs of each node and the final output: xs[i] is node i's input, xs[L] the output. */
function runForward(nodes: readonly Node[], th: Dual, x: Dual): Dual[] {
  const xs = [x];
  for (const node of nodes) xs.push(node.forward(th, xs.at(-1)!));
  return xs;
}

/** Backward through nodes given their inputs xs (from {@link runForward}); returns g_x of the first input. */
function runBackward(nodes: readonly Node[], th: Dual, xs: readonly Dual[], gy: Dual, g: Dual, hook?: KfacHook): Dual {
  let grad = gy;
  for (let i = nodes.length - 1; i >= 0; i--) grad = nodes[i]!.backward(th, xs[i]!, grad, g, hook);
  return grad;
}

/** Every node in θ order (residual blocks expanded: body, then shortcut). */
function flatNodes(nodes: readonly Node[]): Node[] {
  const out: Node[] = [];
  for (const node of nodes) {
    out.push(node);
    if (node.body) out.push(...flatNodes(node.body), ...flatNodes(node.shortcut ?? []));
  }
  return out;
}

interface Compiled {
  readonly input: InputShape;
  readonly nodes: readonly Node[];
  readonly output: InputShape;
  readonly dim: number;
  /** Parameterized nodes in θ order. */
  readonly params: readonly Node[];
}

function compile(spec: SequentialSpec): Compiled {
  if (typeof spec !== 'object' || spec === null) throw new SpecError(`spec must be an object { input, layers }, got ${String(spec)}`);
  const input = spec.input as unknown;
  let shape: InputShape;
  if (typeof input === 'number') shape = positiveInt(input, 'input', 'the feature count');
  else if (Array.isArray(input) && input.length === 3) {
    shape = [positiveInt(input[0], 'input', 'C'), positiveInt(input[1], 'input', 'H'), positiveInt(input[2], 'input', 'W')];
  } else throw new SpecError(`input must be a feature count d or an image shape [C, H, W], got ${JSON.stringify(input)}`);
  const { nodes, out, end } = compileSequence(spec.layers, shape, 'layers', '', 0, 'layers');
  const params = flatNodes(nodes).filter((n) => n.size > 0);
  let at = 0;
  for (const p of params) {
    if (p.offset !== at) throw new Error(`internal: θ offsets out of order at ${p.path}`);
    at += p.size;
  }
  if (at !== end) throw new Error('internal: θ size mismatch');
  return { input: shape, nodes, output: out, dim: at, params };
}

// ---------------------------------------------------------------------------------------------
// Public: shapes, counts, the model
// ---------------------------------------------------------------------------------------------

/** One parameterized layer of a spec, in θ order. */
export interface ReferenceLayerInfo {
  /** `'layers[3].shortcut[0]'`. */
  readonly path: string;
  /** The group name: `'3.shortcut.0.conv2d'`, `'5.dense'`, … */
  readonly name: string;
  readonly type: 'dense' | 'conv2d' | 'batchNorm' | 'layerNorm';
  readonly offset: number;
  readonly size: number;
  readonly inShape: InputShape;
  readonly outShape: InputShape;
  /** Set for conv2d layers. */
  readonly conv?: { readonly geometry: Conv2dGeometry; readonly bias: boolean };
  /** Set for dense layers. */
  readonly dense?: { readonly inputs: number; readonly outputs: number; readonly bias: boolean };
}

/**
 * The per-sample output shape of a spec (d or [C, H, W]).
 * @throws RangeError naming the layer and argument when the spec does not chain.
 */
export function referenceOutputShape(spec: SequentialSpec): InputShape {
  return compile(spec).output;
}

/** The shape after each top-level layer (entry i: the output of layers[i]). @throws RangeError like {@link referenceOutputShape}. */
export function referenceLayerShapes(spec: SequentialSpec): InputShape[] {
  return compile(spec).nodes.map((n) => n.outShape);
}

/** D, the number of parameters of a spec. @throws RangeError like {@link referenceOutputShape}. */
export function referenceParameterCount(spec: SequentialSpec): number {
  return compile(spec).dim;
}

/** The parameterized layers of a spec in θ order (residual blocks: body, then shortcut). */
export function referenceLayers(spec: SequentialSpec): ReferenceLayerInfo[] {
  return compile(spec).params.map((n) => ({
    path: n.path,
    name: n.name,
    type: n.type as ReferenceLayerInfo['type'],
    offset: n.offset,
    size: n.size,
    inShape: n.inShape,
    outShape: n.outShape,
    ...(n.conv ? { conv: n.conv } : {}),
    ...(n.dense ? { dense: n.dense } : {}),
  }));
}

/** The reference network: a plain-TS {@link Model} plus `init` and its compiled layer list. */
export interface ReferenceSequential extends Model {
  readonly name: 'reference-sequential';
  readonly inputShape: InputShape;
  readonly outputShape: InputShape;
  /** The parameterized layers in θ order (one group each). */
  readonly layers: readonly ReferenceLayerInfo[];
  /**
   * PyTorch's default initialization, reproducibly: dense and conv2d W and b uniform on
   * (−1/√fan_in, 1/√fan_in) (fan_in = in, or C·kh·kw), drawn from `rng(seed).uniform()` in θ
   * order; batchNorm / layerNorm γ = 1, β = 0.
   */
  init(seed?: number): Float64Array;
}

/**
 * A plain-TypeScript {@link Model} of a layer network: inputs = C·H·W (or d), outputs M = the
 * size of the last layer's output, dim D, one group per parameterized layer (θ order, named
 * `'<index>.<type>'`, nested `'<index>.layers.<j>.<type>'` / `'<index>.shortcut.<j>.<type>'`;
 * `dense` set for dense layers only). Its traces implement outputs, jvp, vjp and an exact
 * residualHvp (see the module comment).
 * @throws RangeError naming the layer and argument when the spec does not chain.
 */
export function referenceSequential(spec: SequentialSpec): ReferenceSequential {
  const net = compile(spec);
  const d = shapeSize(net.input),
    M = shapeSize(net.output),
    D = net.dim;
  const groups: ParameterGroup[] = net.params.map((n) => ({ name: n.name, offset: n.offset, size: n.size, ...(n.dense ? { dense: { ...n.dense } } : {}) }));

  function forward(theta: Float64Array, X: Float64Array, rows: number): ModelTrace {
    if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`referenceSequential.forward: rows must be a non-negative integer, got ${rows}`);
    if (theta.length !== D) throw new RangeError(`referenceSequential.forward: theta must have ${D} entries, got ${theta.length}`);
    if (X.length !== rows * d) throw new RangeError(`referenceSequential.forward: X must have ${rows} × ${d} entries, got ${X.length}`);
    const th0 = Float64Array.from(theta),
      X0 = Float64Array.from(X);
    const sample = (n: number) => X0.subarray(n * d, (n + 1) * d);
    /** Forward pass of sample n with θ's tangent v (null: 0). */
    const pass = (n: number, v: Float64Array | null) => {
      const th: Dual = { v: th0, t: v ?? new Float64Array(D) };
      return { th, xs: runForward(net.nodes, th, zeroTangent(sample(n))) };
    };
    const outputs = new Float64Array(rows * M);
    for (let n = 0; n < rows; n++) outputs.set(pass(n, null).xs.at(-1)!.v, n * M);
    const checkLen = (a: Float64Array, len: number, what: string) => {
      if (a.length !== len) throw new RangeError(`referenceSequential trace: ${what} must have ${len} entries, got ${a.length}`);
    };
    /** Σ_n of the backward pass from g_y = R_n (tangent 0) with θ's tangent v: values Jᵀ R, tangents Σ R ∇²f v. */
    const backward = (R: Float64Array, v: Float64Array | null): Dual => {
      const g: Dual = { v: new Float64Array(D), t: new Float64Array(D) };
      for (let n = 0; n < rows; n++) {
        const { th, xs } = pass(n, v);
        runBackward(net.nodes, th, xs, zeroTangent(R.slice(n * M, (n + 1) * M)), g);
      }
      return g;
    };
    return {
      rows,
      outputs,
      jvp(v) {
        checkLen(v, D, 'v');
        const out = new Float64Array(rows * M);
        for (let n = 0; n < rows; n++) out.set(pass(n, v).xs.at(-1)!.t, n * M);
        return out;
      },
      vjp(R) {
        checkLen(R, rows * M, 'R');
        return backward(R, null).v;
      },
      residualHvp(R, v) {
        checkLen(R, rows * M, 'R');
        checkLen(v, D, 'v');
        return backward(R, v).t;
      },
    };
  }

  function init(seed = 0): Float64Array {
    const g = rng(seed);
    const theta = new Float64Array(D);
    for (const n of net.params) {
      if (n.dense || n.conv) {
        const fanIn = n.dense ? n.dense.inputs : n.conv!.geometry.inC * n.conv!.geometry.kh * n.conv!.geometry.kw;
        const bound = 1 / Math.sqrt(fanIn);
        for (let j = n.offset; j < n.offset + n.size; j++) theta[j] = (2 * g.uniform() - 1) * bound;
      } else {
        theta.fill(1, n.offset, n.offset + n.size / 2); // γ = 1, β = 0
      }
    }
    return theta;
  }

  return { name: 'reference-sequential', inputs: d, outputs: M, dim: D, groups, forward, init, inputShape: net.input, outputShape: net.output, layers: referenceLayers(spec) };
}

// ---------------------------------------------------------------------------------------------
// KFAC factors of dense and conv2d layers
// ---------------------------------------------------------------------------------------------

/** KFAC's flavour for weight-sharing layers (conv2d; dense has S = 1 and both agree) and its bias handling. */
export interface ReferenceKfacOptions {
  /** 'expand': every output position is a sample; 'reduce': positions averaged (inputs) / summed (gradients) first. */
  readonly approximation: 'expand' | 'reduce';
  /** 'joint': a 1 appended last to the patches (A includes the bias); 'separate': A without it (the bias block is then G). */
  readonly bias: 'joint' | 'separate';
}

/** One layer's factors: C_l ≈ G ⊗ A. */
export interface ReferenceKfacFactor {
  readonly name: string;
  readonly path: string;
  readonly type: 'dense' | 'conv2d';
  /** θ offset and size of the layer. */
  readonly offset: number;
  readonly size: number;
  readonly bias: boolean;
  /** S, the output positions (1 for dense). */
  readonly positions: number;
  /** A, aDim × aDim row-major: aDim = in (dense) or C·kh·kw (conv2d), + 1 when joint with a bias. */
  readonly A: Float64Array;
  readonly aDim: number;
  /** G, out × out row-major. */
  readonly G: Float64Array;
  readonly gDim: number;
}

/**
 * The normalizations of {@link referenceKfac}, in one place:
 * - `patch`: ā_n = patch · Σ_s ā_{n,s} (reduce only);
 * - `delta`: δ_{n,k} = delta · Σ_s δ_{n,s,k} (reduce only);
 * - `a`: A = a · Σ (the ā āᵀ terms: over n and s for expand, over n for reduce);
 * - `g`: G = g · Σ (the δ δᵀ terms: over n, k and s for expand, over n and k for reduce).
 */
export function kfacNormalization(approximation: 'expand' | 'reduce', N: number, S: number, scale: number): { patch: number; delta: number; a: number; g: number } {
  return approximation === 'expand' ? { patch: 1, delta: 1, a: 1 / (N * S), g: scale } : { patch: 1 / S, delta: 1, a: 1 / N, g: scale };
}

/**
 * KFAC factors of every dense and conv2d layer (θ order) for an output-space stack R ((N·K) × M,
 * row n·K + k): with S output positions (1 for dense), patches ā_{n,s} (channel-major
 * (c, kh, kw) as in {@link im2col}, then a 1 appended last when `bias: 'joint'` and the layer
 * has a bias) and δ_{n,s,k} = (∂f_n/∂z_s)ᵀ R_{n,k} (z the layer's output, bias included):
 * - expand: A = (1/(N·S)) Σ_{n,s} ā ā ᵀ, G = scale · Σ_{n,k,s} δ δᵀ;
 * - reduce: A = (1/N) Σ_n ā_n ā_nᵀ with ā_n = (1/S) Σ_s ā_{n,s}, G = scale · Σ_{n,k} (Σ_s δ)(Σ_s δ)ᵀ.
 * (Normalizations: {@link kfacNormalization}.)
 * @throws RangeError on a bad spec or wrong lengths.
 */
export function referenceKfac(spec: SequentialSpec, theta: Float64Array, X: Float64Array, N: number, R: Float64Array, K: number, scale: number, options: ReferenceKfacOptions): ReferenceKfacFactor[] {
  const net = compile(spec);
  const d = shapeSize(net.input),
    M = shapeSize(net.output),
    D = net.dim;
  if (!Number.isSafeInteger(N) || N < 1) throw new RangeError(`referenceKfac: N must be a positive integer, got ${N}`);
  if (!Number.isSafeInteger(K) || K < 1) throw new RangeError(`referenceKfac: K must be a positive integer, got ${K}`);
  if (theta.length !== D) throw new RangeError(`referenceKfac: theta must have ${D} entries, got ${theta.length}`);
  if (X.length !== N * d) throw new RangeError(`referenceKfac: X must have ${N} × ${d} entries, got ${X.length}`);
  if (R.length !== N * K * M) throw new RangeError(`referenceKfac: R must have (${N}·${K}) × ${M} entries, got ${R.length}`);
  if (options.approximation !== 'expand' && options.approximation !== 'reduce') throw new RangeError(`referenceKfac: approximation must be 'expand' or 'reduce', got ${String(options.approximation)}`);
  if (options.bias !== 'joint' && options.bias !== 'separate') throw new RangeError(`referenceKfac: bias must be 'joint' or 'separate', got ${String(options.bias)}`);
  const expand = options.approximation === 'expand';

  const kfacNodes = net.params.filter((n) => n.dense || n.conv);
  const acc = new Map<Node, { A: Float64Array; G: Float64Array; aDim: number; gDim: number; S: number; P: number; joint: boolean }>();
  for (const n of kfacNodes) {
    const P = n.dense ? n.dense.inputs : n.conv!.geometry.inC * n.conv!.geometry.kh * n.conv!.geometry.kw;
    const joint = options.bias === 'joint' && (n.dense ? n.dense.bias : n.conv!.bias);
    const aDim = P + (joint ? 1 : 0),
      gDim = n.dense ? n.dense.outputs : n.conv!.geometry.out;
    const S = n.dense ? 1 : n.conv!.geometry.outH * n.conv!.geometry.outW;
    acc.set(n, { A: new Float64Array(aDim * aDim), G: new Float64Array(gDim * gDim), aDim, gDim, S, P, joint });
  }
  const addOuter = (target: Float64Array, dim: number, u: ArrayLike<number>, w: number) => {
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) target[i * dim + j] += w * u[i]! * u[j]!;
  };

  const thD = zeroTangent(Float64Array.from(theta));
  const gSink: Dual = { v: new Float64Array(D), t: new Float64Array(D) };
  for (let n = 0; n < N; n++) {
    const xs = runForward(net.nodes, thD, zeroTangent(X.slice(n * d, (n + 1) * d)));
    for (let k = 0; k < K; k++) {
      const hook: KfacHook = (node, x, gz) => {
        const f = acc.get(node)!;
        const norm = kfacNormalization(options.approximation, N, f.S, scale);
        // patches ā_{n,s} (S × aDim) and gradients δ_{n,s,k} (S × gDim, from g_z laid out gDim × S)
        const patches = node.dense ? x : im2col(x, node.conv!.geometry);
        const abar = (s: number) => {
          const a = new Float64Array(f.aDim);
          a.set(patches.subarray(s * f.P, (s + 1) * f.P));
          if (f.joint) a[f.P] = 1;
          return a;
        };
        const delta = (s: number) => Float64Array.from({ length: f.gDim }, (_, o) => gz[o * f.S + s]!);
        if (k === 0) {
          if (expand) for (let s = 0; s < f.S; s++) addOuter(f.A, f.aDim, abar(s), norm.a);
          else {
            const mean = new Float64Array(f.aDim);
            for (let s = 0; s < f.S; s++) abar(s).forEach((v, i) => (mean[i] += norm.patch * v));
            addOuter(f.A, f.aDim, mean, norm.a);
          }
        }
        if (expand) for (let s = 0; s < f.S; s++) addOuter(f.G, f.gDim, delta(s), norm.g);
        else {
          const sum = new Float64Array(f.gDim);
          for (let s = 0; s < f.S; s++) delta(s).forEach((v, o) => (sum[o] += norm.delta * v));
          addOuter(f.G, f.gDim, sum, norm.g);
        }
      };
      runBackward(net.nodes, thD, xs, zeroTangent(R.slice((n * K + k) * M, (n * K + k + 1) * M)), gSink, hook);
    }
  }
  return kfacNodes.map((node) => {
    const f = acc.get(node)!;
    return {
      name: node.name,
      path: node.path,
      type: node.type as 'dense' | 'conv2d',
      offset: node.offset,
      size: node.size,
      bias: node.dense ? node.dense.bias : node.conv!.bias,
      positions: f.S,
      A: f.A,
      aDim: f.aDim,
      G: f.G,
      gDim: f.gDim,
    };
  });
}
