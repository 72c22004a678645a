/**
 * Matrix-free solvers and estimates on any {@link LinearOperator}.
 *
 * @module
 */
export { cg } from './cg.js';
export type { CgOptions, CgResult, CgProgress, KfacPreconditionerSpec } from './cg.js';
export { lanczos, topEigenvalues, spectralDensity } from './lanczos.js';
export type {
  LanczosOptions,
  LanczosResult,
  LanczosProgress,
  TopEigenvaluesOptions,
  TopEigenvaluesResult,
  EigenProgress,
  SpectralDensityOptions,
  SpectralDensityResult,
  DensityProgress,
} from './lanczos.js';
export { traceEstimate, diagonalEstimate } from './estimates.js';
export type { TraceEstimateOptions, TraceEstimate, DiagonalEstimateOptions, DiagonalEstimate, EstimateProgress } from './estimates.js';
export { kfacInverse, factoredDamping } from './kfac.js';
export type { KfacInverse, DenseKfacFactors, DenseExactBlock, KfacInverseEntry, PreconditionerOperator } from './kfac.js';
export { ConvergenceError } from './errors.js';
