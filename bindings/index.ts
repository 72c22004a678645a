/**
 * natgrad — curvature matrices (Hessian, GGN, Fisher, empirical Fisher) and the
 * optimizers that precondition with them, on a SIMD WebAssembly core.
 *
 * @module
 */
export { init, createCore, core, currentVariant, supportsRelaxedSimd, supportsSimd, binaryUrl, Core } from './wasm.js';
export type { Variant, InitOptions, InitResult, KernelExports } from './wasm.js';
export { NotPositiveDefiniteError, DataFormatError, DisposedError, NonFiniteLossError } from './errors.js';
export type { DenseMatrix, CsrMatrix, MatrixInput, VectorInput, Dataset } from './types.js';
export { Handle } from './handle.js';
export { Matrix } from './matrix.js';
export { SymMatrix, CholeskyFactor } from './symmatrix.js';
export type { DampingOptions, Eigen } from './symmatrix.js';
export { gram, outerProducts } from './gram.js';
export { cosine } from './vector.js';
export { gaussian, bernoulli, categorical, poisson } from './likelihood.js';
export type { Likelihood, GaussianLikelihood, BernoulliLikelihood, CategoricalLikelihood, PoissonLikelihood } from './likelihood.js';
export { linearProblem, LinearProblem } from './problem.js';
export type { LinearProblemOptions, Structure, KfacFactors, CurvatureResult, CurvatureOptions, MonteCarloOptions } from './problem.js';
export { gd, ngd, efgd, newton, ngdMC, diagonalEF, varianceAdapted, makeOptimizer } from './optimizers.js';
export type { Optimizer, OptimizerOptions, OptimizerState, UpdateResult, RunRecord, RunOptions, Preconditioner, Preconditioned, AdaptiveDamping } from './optimizers.js';
export { numpyRandomState, NumpyRandomState, rng, Xoshiro256 } from './random.js';
export type { RandomSource } from './random.js';
export { toyData, toyDataNames, toyDataFixtures } from './toydata.js';
export type { ToyData, ToyDataName, ToyDataGenerator } from './toydata.js';
export {
  parseSklearnCsv, parseLibsvm, parseUci, loadSklearnCsv, loadLibsvm, loadUci, loadPaperDataset, paperDatasetNames, addBias, toDense,
} from './datasets.js';
export type { TypedCsrMatrix, TextSource, SklearnCsvOptions, LibsvmOptions, PaperDatasetName } from './datasets.js';
export { fisherAccumulator, empiricalFisherAccumulator, CurvatureAccumulator, type AccumulatorOptions, type AccumulatorKind } from './accumulator.js';
export { parallelGram, type ParallelOptions } from './parallel.js';
export { gridSearch } from './grid.js';
export type { GridProblem, GridLikelihood, GridSearchOptions, GridSearchResult, GridRun, GridProgress, GridOptimizer } from './grid.js';
export { paperGrid } from './paper-grid.js';
