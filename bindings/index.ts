/**
 * natgrad — curvature matrices (Hessian, GGN, Fisher, empirical Fisher) and the
 * optimizers that precondition with them, on a SIMD WebAssembly core.
 *
 * This is the public surface: what a user calls and the types they write. The building blocks
 * under it (validators, traces, the layer contract, raw kernels, memory budgets) are in
 * `natgrad/internals` (`internals.ts`) and may change in any release.
 *
 * @module natgrad
 */
export { init, createCore, core, currentVariant, currentThreads, supportsRelaxedSimd, supportsSimd, binaryUrl, Core } from './core/wasm.js';
export { ThreadError, ThreadPool, sharedMemoryAvailable } from './core/threads.js';
export type { Variant, InitOptions, InitResult } from './core/wasm.js';
export { NotPositiveDefiniteError, DataFormatError, DisposedError, DtypeMismatchError, NonFiniteLossError, IllConditionedError } from './core/errors.js';
export { UnknownOptionError } from './core/options.js';
export type { DenseMatrix, DenseMatrix32, DenseMatrixOf, FloatArray, CsrMatrix, MatrixInput, VectorInput, Dataset } from './core/types.js';
export { Matrix } from './linalg/matrix.js';
export { SymMatrix, CholeskyFactor } from './linalg/symmatrix.js';
export type { DampingOptions, Eigen, SolveOptions, ConditionOptions } from './linalg/symmatrix.js';
export { gram, outerProducts } from './linalg/gram.js';
export { cosine } from './linalg/vector.js';
export { gaussian, bernoulli, categorical, poisson } from './likelihoods/likelihood.js';
export type { Likelihood, GaussianLikelihood, BernoulliLikelihood, CategoricalLikelihood, PoissonLikelihood } from './likelihoods/likelihood.js';
export { linearProblem, LinearProblem } from './problem/linear-problem.js';
export type { LinearProblemOptions, LinearCurvatureResult } from './problem/linear-problem.js';
export type { Problem, Structure, KfacFactors, KfacLayer, LinearKfac, CurvatureResult, CurvatureOptions, MonteCarloOptions } from './problem/types.js';
export { problem, ModelProblem } from './problem/problem.js';
export type { ProblemOptions } from './problem/problem.js';
export { linear } from './models/linear.js';
export type { LinearModel, LinearModelOptions } from './models/linear.js';
export { mlp, MlpModel, MlpTrace } from './models/mlp.js';
export type { Dtype } from './models/mlp.js';
export type { MlpOptions } from './models/mlp.js';
export { ACTIVATIONS } from './models/activations.js';
export type { Activation } from './models/activations.js';
export { modelSpec, modelFromSpec } from './models/spec.js';
export type { ModelSpec } from './models/spec.js';
export type { Model, ModelTrace, ParameterGroup, LayerKfac, LayerExactBlock, KfacFactorOptions, SampleGramGroup } from './models/model.js';
export * from './nn/index.js';
export { gd, ngd, efgd, newton, ngdMC, diagonalEF, varianceAdapted, makeOptimizer } from './optimizers/optimizers.js';
export type {
  Optimizer,
  OptimizerOptions,
  OptimizerState,
  UpdateResult,
  RunRecord,
  RunOptions,
  Preconditioner,
  Preconditioned,
  AdaptiveDamping,
  StateExtension,
  GdOptions,
  NgdMCOptions,
  DiagonalEFOptions,
  VarianceAdaptedOptions,
} from './optimizers/optimizers.js';
export { train, batchSchedule } from './optimizers/train.js';
export type { TrainOptions, TrainRecord } from './optimizers/train.js';
export type { SavedOptimizerState, Json } from './optimizers/state.js';
export { numpyRandomState, NumpyRandomState, rng, Xoshiro256 } from './data/random.js';
export type { RandomSource } from './data/random.js';
export { toyData, toyDataNames } from './data/toydata.js';
export type { ToyData, ToyDataName, ToyDataGenerator } from './data/toydata.js';
export {
  parseSklearnCsv,
  parseLibsvm,
  parseUci,
  loadSklearnCsv,
  loadLibsvm,
  loadUci,
  loadPaperDataset,
  paperDatasetNames,
  addBias,
  toDense,
  loadDigits,
} from './data/datasets.js';
export type { TypedCsrMatrix, TextSource, SklearnCsvOptions, LibsvmOptions, PaperDatasetName, DigitsOptions } from './data/datasets.js';
export { loadFashionMnist, parseIdx, fashionMnistClasses, FASHION_MNIST_DIR } from './data/images.js';
export type { ImageShape, ImageDataset, FashionMnist, FashionMnistOptions, FashionMnistBytes, IdxArray } from './data/images.js';
export { fisherAccumulator, empiricalFisherAccumulator, CurvatureAccumulator, type AccumulatorOptions, type AccumulatorKind } from './problem/accumulator.js';
export { parallelGram, type ParallelOptions } from './linalg/parallel.js';
export { gridSearch } from './grid/grid.js';
export type { GridProblem, GridLikelihood, GridSearchOptions, GridSearchResult, GridRun, GridProgress, GridOptimizer, GridMethod, GridOptimizerSettings } from './grid/grid.js';
export { paperGrid } from './grid/paper-grid.js';
export { curvatureOperator } from './operators/curvature.js';
export type { CurvatureOperator, CurvatureOperatorOptions, CurvatureKind } from './operators/curvature.js';
export type { LinearOperator, IterativeOptions } from './operators/operator.js';
export { cg, lanczos, topEigenvalues, spectralDensity, traceEstimate, diagonalEstimate, kfacInverse, factoredDamping, ConvergenceError } from './solvers/index.js';
export { dampedDiagonal } from './solvers/cg.js';
export type {
  CgOptions,
  CgResult,
  CgProgress,
  KfacPreconditionerSpec,
  LanczosOptions,
  LanczosResult,
  LanczosProgress,
  TopEigenvaluesOptions,
  TopEigenvaluesResult,
  EigenProgress,
  SpectralDensityOptions,
  SpectralDensityResult,
  DensityProgress,
  TraceEstimateOptions,
  TraceEstimate,
  DiagonalEstimateOptions,
  DiagonalEstimate,
  EstimateProgress,
  KfacInverse,
  DenseKfacFactors,
  DenseExactBlock,
  KfacInverseEntry,
  PreconditionerOperator,
} from './solvers/index.js';
export { hessianFree } from './optimizers/hessian-free.js';
export type { HessianFreeOptions } from './optimizers/hessian-free.js';
export { kfac } from './optimizers/kfac.js';
export type { KfacOptions, KfacState } from './optimizers/kfac.js';
export type { SolverOptions, SecondOrderOptions } from './optimizers/optimizers.js';
export { stochasticRun, adam, diagonalVarianceAdapted, fullVarianceAdapted } from './optimizers/stochastic.js';
export type { StochasticOptions, StochasticRecord, AdamOptions, AdamState, FullVarianceAdaptedOptions } from './optimizers/stochastic.js';
export { laplace, Laplace, marglikTraining } from './laplace/index.js';
export type { LaplaceOptions, Hyperparameters, OptimizePriorOptions, OptimizePriorResult, PredictOptions, Prediction, MarglikTrainingOptions, MarglikTrainingResult } from './laplace/index.js';
export { sineData } from './data/synthetic.js';
export type { SineDataOptions } from './data/synthetic.js';
