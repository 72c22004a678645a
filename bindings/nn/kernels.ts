/**
 * Signatures of the layer kernels of `assembly/nn/` (conv.ts, pool.ts, norm.ts): byte addresses
 * and element counts, as documented in each kernel file.
 *
 * @module
 */
export interface NnKernels {
  convIm2col(c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, oh: number, ow: number, x: number, cols: number): void;
  convCol2im(c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, oh: number, ow: number, cols: number, x: number): void;
  convBiasBroadcast(rows: number, co: number, S: number, b: number, y: number): void;
  convPositionSums(rows: number, co: number, S: number, g: number, alpha: number, beta: number, out: number, ldout: number): void;
  maxPoolForward(n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, x: number, y: number, idx: number): void;
  poolGather(n: number, k: number, inS: number, outS: number, idx: number, x: number, y: number): void;
  poolScatter(n: number, k: number, inS: number, outS: number, idx: number, y: number, x: number): void;
  avgPoolForward(rows: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, x: number, y: number): void;
  avgPoolBackward(rows: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, y: number, x: number): void;
  chanAffine(rows: number, c: number, S: number, scale: number, shift: number, x: number, beta: number, y: number): void;
  chanPullbacks(n: number, k: number, c: number, S: number, g: number, xhat: number, out: number, ldout: number): void;
  chanGrad(n: number, k: number, c: number, S: number, g: number, xhat: number, beta: number, outG: number, outB: number): void;
  lnForward(n: number, f: number, eps: number, x: number, xhat: number, rstd: number): void;
  lnTangent(n: number, f: number, xhat: number, rstd: number, t: number, out: number): void;
  lnBackward(n: number, k: number, f: number, xhat: number, rstd: number, u: number, out: number): void;
  lnBackward2(n: number, f: number, xhat: number, rstd: number, t: number, u: number, du: number, out: number): void;
}
