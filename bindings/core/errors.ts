/**
 * Typed errors of natgrad. Every failure that reaches a caller is one of
 * `TypeError` (wrong type or shape), `RangeError` (a value outside its domain:
 * NaN, Inf, negative damping, index out of range), or one of the classes below.
 * A WebAssembly `RuntimeError` never escapes the public API.
 *
 * @module
 */

/**
 * A symmetric matrix (after damping) is not positive definite: the Cholesky
 * factorization met a non-positive (or non-finite) pivot.
 *
 * `pivot` follows LAPACK's INFO convention: the 1-based index of the first
 * failing pivot, so `pivot >= 1` always. `value` is the pivot's value
 * `A[k][k] + λ − Σ_j L[k][j]²` at that step (≤ 0 or NaN).
 *
 * @category Errors
 */
export class NotPositiveDefiniteError extends Error {
  readonly pivot: number;
  readonly value: number;
  constructor(pivot: number, value: number, what = 'matrix') {
    super(`${what} is not positive definite: pivot ${pivot} (1-based) is ${value}`);
    this.name = 'NotPositiveDefiniteError';
    this.pivot = pivot;
    this.value = value;
  }
}

/**
 * A solve was asked to refuse ill-conditioned systems (`minRcond`) and the matrix is one: the
 * estimated reciprocal condition number `rcond` ≈ 1/(‖A‖₁‖A⁻¹‖₁) of the (damped) matrix is
 * below the threshold `minRcond`. `rcond` is LAPACK dpocon's estimate (see
 * `CholeskyFactor.rcond`): 0 when ‖A⁻¹‖₁ overflows, ≈ 1e-16 for a numerically singular matrix
 * such as [[2, 2], [2, 2]]. Thrown before any solution is computed.
 *
 * A solution's relative error is bounded by about eps/rcond (eps = 2⁻⁵² ≈ 2.2e-16), so
 * `minRcond: 1e-12` keeps roughly four correct digits and more.
 *
 * @category Errors
 */
export class IllConditionedError extends Error {
  /** The estimated reciprocal 1-norm condition number, in [0, 1]. */
  readonly rcond: number;
  /** The threshold it fell below. */
  readonly minRcond: number;
  constructor(rcond: number, minRcond: number, what = 'matrix') {
    super(`${what} is ill-conditioned: estimated rcond (1-norm) ${rcond.toExponential(2)} is below minRcond ${minRcond}`);
    this.name = 'IllConditionedError';
    this.rcond = rcond;
    this.minRcond = minRcond;
  }
}

/**
 * A data file is malformed. `file` is the path (or `'<string>'` for text
 * input) and `line` the 1-based line number of the first problem.
 *
 * @category Errors
 */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'DataFormatError';
    this.file = file;
    this.line = line;
  }
}

/**
 * Two element types met in one call: a problem asked for `dtype: 'float32'` on a float64 model,
 * or the other way round. A `TypeError`; `expected` is the type asked for, `got` the other.
 *
 * @category Errors
 */
export class DtypeMismatchError extends TypeError {
  readonly expected: 'float32' | 'float64';
  readonly got: 'float32' | 'float64';
  constructor(where: string, expected: 'float32' | 'float64', got: 'float32' | 'float64', hint = '') {
    super(`natgrad: ${where}: dtype '${expected}' asked for, but got '${got}'${hint ? ` (${hint})` : ''}`);
    this.name = 'DtypeMismatchError';
    this.expected = expected;
    this.got = got;
  }
}

/**
 * A handle was used after `free()`, or `free()` was called twice.
 *
 * @category Errors
 */
export class DisposedError extends Error {
  constructor(what: string) {
    super(`${what} was already freed`);
    this.name = 'DisposedError';
  }
}

/**
 * The objective is not finite at θ, so its gradient and curvature do not exist in floating
 * point: e.g. the Poisson rate exp(f) overflows for f > 709.78 (the loss is then genuinely
 * +Infinity), or f = Xθ itself overflowed. A `RangeError`. `loss` is the value found
 * (+Infinity or NaN); `sample` the 0-based index of the first sample whose r or f is not
 * finite (−1 when the overflow happened in a sum); `f` that sample's first natural parameter.
 *
 * `loss(θ)` returns +Infinity instead of throwing; the optimizers' `run` turns this error into
 * a diverged run (`status: 'stopped'` when its stop rule fires on the infinite loss, else
 * `'failed'`, with the message as `reason`).
 *
 * @category Errors
 */
export class NonFiniteLossError extends RangeError {
  readonly loss: number;
  readonly sample: number;
  readonly f: number;
  constructor(message: string, loss: number, sample = -1, f = NaN) {
    super(message);
    this.name = 'NonFiniteLossError';
    this.loss = loss;
    this.sample = sample;
    this.f = f;
  }
}
