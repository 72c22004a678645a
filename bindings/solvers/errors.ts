/**
 * Errors of the iterative solvers.
 *
 * @module
 */

/**
 * An iterative solve that was required to converge did not (e.g. NGD with `solver: 'cg'`): CG
 * stopped after `iterations` with relative residual `residual` above `tol`, or met a direction of
 * non-positive curvature (`reason`). {@link cg} itself never throws this: it returns
 * `converged: false` with the reason; the optimizers that need a converged solve throw it, and
 * their `run` ends with status `'failed'`.
 *
 * @category Errors
 */
export class ConvergenceError extends Error {
  readonly iterations: number;
  readonly residual: number;
  constructor(message: string, iterations: number, residual: number) {
    super(message);
    this.name = 'ConvergenceError';
    this.iterations = iterations;
    this.residual = residual;
  }
}
