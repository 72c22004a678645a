/**
 * The Laplace approximation (part 1): {@link laplace}, the {@link Laplace} object and its GLM
 * predictive ({@link glmPredictive}).
 *
 * @module
 */
export { Laplace, laplace } from './laplace.js';
export type { Hyperparameters, LaplaceOptions, OptimizePriorOptions, OptimizePriorResult } from './laplace.js';
export { marglikTraining } from './marglik.js';
export type { MarglikTrainingOptions, MarglikTrainingResult } from './marglik.js';
export { glmPredictive } from './predictive.js';
export type { PredictOptions, Prediction } from './predictive.js';
