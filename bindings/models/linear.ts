/**
 * `linear({ inputs, outputs, bias })`: the linear model f_n = W x̄_n as a {@link Model}, with the
 * paper's conventions (DESIGN.md §1): x̄_n = x_n, or [x_n; 1] with `bias: true` (the ones column
 * appended LAST), W is M × d̄ (d̄ = inputs + bias) and θ = vec(W) class-major, θ[m·d̄ + j] = W[m][j]
 * — the layout of {@link linearProblem}. J_n = I_M ⊗ x̄_nᵀ does not depend on θ, so the residual
 * term Σ r_nm ∇²f_nm vanishes and the trace has no `residualHvp`.
 *
 * One parameter group, `'linear'`, described as a dense layer with d̄ inputs and no separate bias
 * (the ones column is an input), so its `'kfac'` factors are A = (1/N) Σ x̄ x̄ᵀ and G = s Σ B_n —
 * the ones of {@link LinearProblem}.
 *
 * `problem({ model: linear(...) })` runs on {@link LinearProblem}'s fast paths (dense and CSR
 * inputs, the grid engine's model) for every one-output likelihood and the categorical; the
 * generic path serves the multi-output Gaussian.
 *
 * @module
 */
import { withScratch } from '../core/handle.js';
import { checkOptions } from '../core/options.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import type { Model, ModelTrace, ParameterGroup } from './model.js';

/**
 * Options of {@link linear}.
 *
 * @category Models
 */
export interface LinearModelOptions {
  /** d ≥ 1, the number of input columns (without the bias column). */
  inputs: number;
  /** M ≥ 1, the number of outputs (default 1). */
  outputs?: number;
  /** Append a ones column as the LAST input (default false). */
  bias?: boolean;
  /** The core whose kernels run the products (default: the one of `init()`). */
  core?: Core;
}

/**
 * The linear model f_n = W x̄_n made by {@link linear}: x̄_n = x_n, or [x_n; 1] with `bias: true`
 * (the ones column appended last), W is M × d̄ (d̄ = inputs + bias) and θ = vec(W) class-major,
 * θ[m·d̄ + j] = W[m][j]. J_n = I_M ⊗ x̄_nᵀ does not depend on θ, so the Hessian's residual term
 * vanishes. One parameter group, `'linear'`, whose `'kfac'` factors are A = (1/N) Σ_n x̄_n x̄_nᵀ and
 * G = s Σ_n B_n.
 *
 * @category Models
 */
export interface LinearModel extends Model<'float64'> {
  readonly name: 'linear';
  readonly dtype: 'float64';
  /** Whether a ones column is appended to the inputs. */
  readonly bias: boolean;
  readonly core: Core;
}

const builtin = new WeakSet<object>();

/** True for the models made by {@link linear} (which {@link problem} runs on {@link LinearProblem}'s fast paths). */
export function isLinearModel(model: unknown): model is LinearModel {
  return typeof model === 'object' && model !== null && builtin.has(model);
}

function positive(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`natgrad: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * The linear model f_n = W x̄_n: x̄_n = x_n, or [x_n; 1] with `bias: true` (the ones column
 * appended last); W is M × d̄ (d̄ = inputs + bias) and θ = vec(W) class-major, θ[m·d̄ + j] = W[m][j]
 * — the layout of {@link linearProblem}. `problem({ model: linear(...) })` runs on
 * {@link LinearProblem}'s fast paths for every one-output likelihood and the categorical.
 * @throws RangeError for inputs/outputs that are not positive integers; TypeError for a non-boolean bias
 * @example
 * const model = linear({ inputs: 30, bias: true });   // D = 31
 * const p = problem({ model, X, y, likelihood: bernoulli() });
 *
 * @category Models
 */
export function linear(options: LinearModelOptions): LinearModel {
  if (typeof options !== 'object' || options === null) throw new TypeError('natgrad: linear expects an options object { inputs, outputs?, bias? }');
  checkOptions(options, 'linear', ['inputs', 'outputs', 'bias', 'core'], {
    sizes: 'linear takes { inputs, outputs }; for hidden layers use mlp({ sizes: [inputs, …hidden, outputs] })',
    activation: 'a linear model has no activation; for hidden layers use mlp({ sizes, activation })',
    classes: 'linear takes the number of outputs: linear({ inputs, outputs: C }) with categorical({ classes: C })',
  });
  const inputs = positive(options.inputs, 'inputs');
  const outputs = positive(options.outputs ?? 1, 'outputs');
  const bias = options.bias ?? false;
  if (typeof bias !== 'boolean') throw new TypeError('natgrad: bias must be a boolean');
  const core = options.core ?? defaultCore();
  const d = inputs + (bias ? 1 : 0),
    D = outputs * d;
  const groups: ParameterGroup[] = [{ name: 'linear', offset: 0, size: D, dense: { inputs: d, outputs, bias: false } }];
  const model: LinearModel = Object.freeze({
    name: 'linear' as const,
    inputs,
    outputs,
    dim: D,
    bias,
    core,
    dtype: 'float64' as const,
    groups: Object.freeze(groups),
    forward: (theta: Float64Array, X: Float64Array, rows: number) => linearTrace(core, theta, X, rows, inputs, outputs, bias),
    init: () => new Float64Array(D),
  });
  builtin.add(model);
  return model;
}

/** X̄ (N × d̄) with the ones column when `bias`. */
function withOnes(X: Float64Array, rows: number, inputs: number, bias: boolean): Float64Array {
  if (!bias) return X;
  const d = inputs + 1,
    out = new Float64Array(rows * d);
  for (let n = 0; n < rows; n++) {
    out.set(X.subarray(n * inputs, (n + 1) * inputs), n * d);
    out[n * d + inputs] = 1;
  }
  return out;
}

function linearTrace(core: Core, theta: Float64Array, X: Float64Array, rows: number, inputs: number, M: number, bias: boolean): ModelTrace {
  const Xb = withOnes(X, rows, inputs, bias);
  const d = inputs + (bias ? 1 : 0),
    D = M * d,
    N = rows;
  const k = core.exports;
  // J v = X̄ Vᵀ (V = v as M × d̄) and Jᵀ R = vec(Rᵀ X̄): the linear-model kernels on a scratch copy of X̄.
  const forward = (v: Float64Array): Float64Array =>
    withScratch(core, [8 * N * d, 8 * D, 8 * N * M], (px, pv, pf) => {
      core.f64(px, N * d).set(Xb);
      core.f64(pv, D).set(v);
      k.linearForward(N, M, d, px, d, pv, pf);
      return core.f64(pf, N * M).slice();
    });
  const outputs = forward(theta);
  return {
    rows: N,
    outputs,
    jvp: forward,
    vjp: (R: Float64Array) =>
      withScratch(core, [8 * N * d, 8 * N * M, 8 * D], (px, pr, pg) => {
        core.f64(px, N * d).set(Xb);
        core.f64(pr, N * M).set(R);
        core.f64(pg, D).fill(0);
        k.linearBackward(N, M, d, px, d, pr, 1, pg);
        return core.f64(pg, D).slice();
      }),
    jacobians: () => {
      const J = new Float64Array(N * M * D);
      for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) J.set(Xb.subarray(n * d, (n + 1) * d), (n * M + m) * D + m * d);
      return J;
    },
    pullbacks: (R: Float64Array, K: number) => {
      // c_nk = R_nk ⊗ x̄_n: block m of the row is R_nk[m] · x̄_n.
      const out = new Float64Array(N * K * D);
      for (let n = 0; n < N; n++) {
        const x = Xb.subarray(n * d, (n + 1) * d);
        for (let q = 0; q < K; q++) {
          const row = (n * K + q) * D;
          for (let m = 0; m < M; m++) {
            const a = R[(n * K + q) * M + m]!;
            if (a !== 0) for (let j = 0; j < d; j++) out[row + m * d + j] = a * x[j]!;
          }
        }
      }
      return out;
    },
  };
}
