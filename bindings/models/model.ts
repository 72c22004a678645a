/**
 * The `Model` interface: what a problem needs of a model f(θ, X) ∈ R^{N×M} to build every
 * curvature, product and optimizer step. natgrad's own models ({@link linear}, {@link mlp})
 * implement it in WebAssembly; any plain-TypeScript object with the same shape works too —
 * slower, but with every curvature, product, optimizer and the grid search (that is how
 * other tools embed natgrad).
 *
 * Notation. Batch X (N × d, row-major), θ ∈ R^D, f_n = f(θ, x_n) ∈ R^M, J_n = ∂f_n/∂θ (M × D).
 * All arrays are row-major `Float64Array`s:
 *
 * | method                         | shape in → out           | meaning                                  |
 * |--------------------------------|--------------------------|------------------------------------------|
 * | `model.forward(θ, X)`          | D, N × d → trace         | one forward pass; the trace keeps what the products need |
 * | `trace.outputs`                | N × M                    | f_n, row n                               |
 * | `trace.jvp(v)`                 | D → N × M                | row n = J_n v                            |
 * | `trace.vjp(R)`                 | N × M → D                | Σ_n J_nᵀ R_n                             |
 * | `trace.residualHvp(R, v)`      | N × M, D → D             | Σ_n Σ_m R_nm ∇²_θ f_nm v (absent ⇒ 0: f linear in θ) |
 *
 * The remaining trace methods are optional fast paths; a problem falls back on the products
 * above when they are absent (D products for a Jacobian, D residual products for a dense
 * residual term). Output-space stacks `R` of K vectors per sample are (N·K) × M with row
 * `n·K + k` the k-th vector of sample n; their pullbacks are c_nk = J_nᵀ R_{nk} ∈ R^D.
 *
 * θ layout and groups. A model names its parameter groups (its layers) as contiguous slices
 * of θ, in θ order. A dense layer group (`dense` set) holds W (out × in, row-major) then b
 * (out) — PyTorch's `parameters()` order — and is what `'kfac'` factorizes.
 *
 * @module
 */
import type { Dtype, FloatArray } from '../core/types.js';
import type { Core } from '../core/wasm.js';
import type { SymMatrix } from '../linalg/symmatrix.js';

/**
 * A contiguous slice of θ: one layer (or one block of a user model).
 *
 * @category Models
 */
export interface ParameterGroup {
  /** A name for messages and results, e.g. `'layer1'`. */
  readonly name: string;
  /** Index in θ of the group's first parameter. */
  readonly offset: number;
  /** Number of parameters in the group. */
  readonly size: number;
  /**
   * Set for a dense layer z = W a + b: θ[offset + o·inputs + i] = W[o][i], then (with `bias`)
   * θ[offset + outputs·inputs + o] = b[o]; `size = outputs·(inputs + (bias ? 1 : 0))`.
   */
  readonly dense?: { readonly inputs: number; readonly outputs: number; readonly bias: boolean };
  /**
   * Set for a layer with Kronecker-factored curvature (dense and conv2d layers of a
   * {@link sequential} network): the group is W (outputs × inputs, row-major; a convolution's
   * inputs = in·kh·kw) then b (outputs), as for `dense`.
   */
  readonly kronecker?: { readonly inputs: number; readonly outputs: number; readonly bias: boolean };
}

/**
 * Per-layer Kronecker factors of a curvature block: C_l ≈ G_l ⊗ A_l (see `Structure`).
 *
 * @category Curvature
 */
export interface LayerKfac {
  /** (in + 1) × (in + 1) input factor (1/N) Σ_n ā_n ā_nᵀ, ā_n = [a_n; 1] (bias coordinate LAST; no 1 without a bias or with a separate bias). */
  readonly A: SymMatrix;
  /** out × out output factor s·Σ_n (∂f_n/∂z)ᵀ B_n (∂f_n/∂z). */
  readonly G: SymMatrix;
  /**
   * How the bias enters: `'joint'` (A's last coordinate; the default and the only form of `mlp`),
   * `'separate'` (A without it; the bias block is G itself), `'none'` (no bias). Absent: joint.
   */
  readonly bias?: 'joint' | 'separate' | 'none';
  readonly exact?: undefined;
}

/**
 * The exact curvature block of a layer without a Kronecker form (batch norm, layer norm).
 *
 * @category Curvature
 */
export interface LayerExactBlock {
  readonly exact: SymMatrix;
  readonly A?: undefined;
  readonly G?: undefined;
}

/**
 * Options of {@link ModelTrace.kfacFactors}.
 *
 * @category Curvature
 */
export interface KfacFactorOptions {
  /** Convolutions: `'expand'` (default; Grosse & Martens' KFC) or `'reduce'` (Eschenhagen et al. 2023). */
  readonly kfacApproximation?: 'expand' | 'reduce';
  /** `'joint'` (default) or `'separate'` (see {@link LayerKfac.bias}). */
  readonly bias?: 'joint' | 'separate';
}

/**
 * One dense group's weighting in {@link ModelTrace.sampleGram}. The group's pullback of a stack
 * row, c = vec(δ āᵀ) (δ = (∂f_n/∂z)ᵀ R_nk, out × 1; ā the layer input, with a trailing 1 when the
 * bias is a joint coordinate), is rotated to Ĉ = U_Gᵀ (δ āᵀ) U_A (and a separate bias to U_Gᵀ δ),
 * then weighted entry by entry.
 *
 * @category Curvature
 */
export interface SampleGramGroup {
  /** Index into `model.groups` (a dense group). */
  readonly group: number;
  /**
   * q × p weights, row-major (q = outputs): p = inputs + 1 puts the bias in the last column
   * (joint), p = inputs leaves it to `biasWeights`.
   */
  readonly S: Float64Array;
  /** q weights of the bias as its own block (rotated by U_G only); required when p = inputs. */
  readonly biasWeights?: Float64Array;
  /** q × q, row-major, the rotation's columns (absent: the identity). */
  readonly UG?: Float64Array;
  /** p × p, row-major, the rotation's columns (absent: the identity). */
  readonly UA?: Float64Array;
}

/**
 * The result of one forward pass; valid until `free()` (or the model's next use, see each model).
 *
 * @category Models
 */
export interface ModelTrace {
  /** N, the number of samples in the batch. */
  readonly rows: number;
  /** f (N × M, row-major). Read-only. */
  readonly outputs: Float64Array;
  /** J v: row n is J_n v (N × M). */
  jvp(v: Float64Array): Float64Array;
  /** Jᵀ R = Σ_n J_nᵀ R_n for R of N × M (length D). */
  vjp(R: Float64Array): Float64Array;
  /** Σ_n Σ_m R_nm ∇²_θ f_nm · v (length D). Absent: f is linear in θ and the term is zero. */
  residualHvp?(R: Float64Array, v: Float64Array): Float64Array;

  // ---- optional fast paths (natgrad's own models implement them) ----

  /** The per-sample Jacobians, N × M × D (entry [n][m][j] = ∂f_nm/∂θ_j). */
  jacobians?(): Float64Array;
  /** The pullbacks c_nk = J_nᵀ R_{nk} of an (N·K) × M stack, as (N·K) × D rows. */
  pullbacks?(R: Float64Array, K: number): Float64Array;
  /**
   * The pullbacks written straight into a block of `model.core`'s memory (byte address, (N·K)·D
   * doubles): {@link ModelTrace.pullbacks} without the copy out (WebAssembly models only).
   */
  pullbacksInto?(R: Float64Array, K: number, ptr: number): void;
  /**
   * scale · Σ_{n,k} c_nk c_nkᵀ of the pullbacks of an (N·K) × M stack, in the requested
   * structure: `'dense'` a D × D SymMatrix, `'diagonal'` its diagonal (length D), `'block'` one
   * SymMatrix per group (the group's diagonal block, θ order). Never forms what it does not return.
   */
  pullbackGram?(R: Float64Array, K: number, structure: 'dense' | 'diagonal' | 'block', scale: number): SymMatrix | Float64Array | SymMatrix[];
  /**
   * Per parameter group: A = (1/N) Σ ā ā ᵀ and G = scale · Σ_{n,k} δ_nk δ_nkᵀ with
   * δ_nk = (∂f_n/∂z)ᵀ R_{nk} (dense groups; convolutions per `options`), or the group's exact
   * block where it has no Kronecker form.
   */
  kfacFactors?(R: Float64Array, K: number, scale: number, options?: KfacFactorOptions): (LayerKfac | LayerExactBlock)[];
  /**
   * Per sample n the K × K matrix C_n[k, k'] = Σ_groups Σ_j S_j ĉ_nk,j ĉ_nk',j of the listed
   * groups' rotated pullbacks ĉ ({@link SampleGramGroup}): with R the identity stack and
   * S = 1/(posterior eigenvalue) this is the functional variance J_n P⁻¹ J_nᵀ of a diagonal or
   * Kronecker-factored posterior, computed from the layer inputs and output gradients (rank one
   * per dense layer and row) without forming a Jacobian. Returns N·K·K values, sample-major; the
   * rounding of C_n need not be symmetric.
   */
  sampleGram?(R: Float64Array, K: number, groups: readonly SampleGramGroup[]): Float64Array;
  /** Σ_n Σ_m R_nm ∇²_θ f_nm · V for the columns of V (D × k, row-major) → D × k. */
  residualHmm?(R: Float64Array, V: Float64Array, k: number): Float64Array;
  /**
   * Unit-direction residual columns: columns j0 … j0+k−1 of Σ_n Σ_m R_nm ∇²_θ f_nm, returned
   * transposed as k × D (row c is column j0 + c), with only the rows in [from, to) computed
   * (default: all) and every other entry 0 — `residualHmm` on identity columns, restricted.
   * When present, the problem's dense / diagonal / block Hessian uses it per group with
   * `from` = the group's first index and mirrors the rows above (the term is symmetric), so a
   * layered model can start its tangent pass at the group's layer and stop its backward pass
   * there.
   */
  residualColumns?(R: Float64Array, j0: number, k: number, from?: number, to?: number): Float64Array;
  /**
   * Σ_n Σ_m R_nm ∇²_θ f_nm · v + Jᵀ U in one pass (length D): a Hessian-vector product is
   * `jvp(v)`, then this with U = B·(J v) — one tangent and one second-order backward pass instead
   * of a separate `vjp` and `residualHvp`.
   */
  residualHvpAndVjp?(R: Float64Array, v: Float64Array, U: Float64Array): Float64Array;
  /** Release what the trace holds (WebAssembly memory for natgrad's models). */
  free?(): void;
}

/**
 * A model f(θ, X) ∈ R^{N×M}. `T` is the element type it computes in (see {@link Model.dtype});
 * a model written without a `dtype` is float64, and `Model<Dtype>` is a model of either type.
 *
 * @category Models
 */
export interface Model<T extends Dtype = 'float64'> {
  /** A short name, e.g. `'linear'`, `'mlp'`. */
  readonly name: string;
  /** d, the number of input columns. */
  readonly inputs: number;
  /** M, the dimension of f_n. */
  readonly outputs: number;
  /** D, the number of parameters. */
  readonly dim: number;
  /** The parameter groups, in θ order, covering θ exactly once. */
  readonly groups: readonly ParameterGroup[];
  /**
   * One forward pass on an N × d batch (row-major, `X.length === N·inputs`). θ and X are
   * already validated (finite, right lengths) when a problem calls this.
   */
  forward(theta: Float64Array, X: Float64Array, rows: number): ModelTrace;
  /**
   * A reproducible initial θ (natgrad's models: PyTorch's default initialization), in the
   * model's type: a `Float32Array` for a float32 model.
   */
  init?(seed?: number): FloatArray<T>;
  /** The core whose memory a WebAssembly model uses (absent for plain-TypeScript models). */
  readonly core?: Core;
  /**
   * The element type the model computes in (absent: float64). `sequential({ dtype: 'float32' })`
   * and `mlp` are float32 inside; their traces take and return Float64Array (float32 values), and
   * a problem on them returns float32 results.
   */
  readonly dtype?: T;
}

/**
 * True when every group is a dense layer (so `'kfac'` applies).
 *
 * @category Models
 */
export function isLayered(model: Model<Dtype>): boolean {
  return model.groups.length > 0 && model.groups.every((g) => g.dense !== undefined);
}

/**
 * Check that a user-supplied object has the Model shape (names the first missing or wrong member).
 * @throws TypeError / RangeError
 *
 * @category Models
 */
export function checkModel(model: unknown): Model<Dtype> {
  const m = model as Partial<Model<Dtype>> | null | undefined;
  if (typeof m !== 'object' || m === null) throw new TypeError('natgrad: model must be a Model object (linear(...), mlp(...) or your own { inputs, outputs, dim, groups, forward })');
  for (const k of ['inputs', 'outputs', 'dim'] as const) {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`natgrad: model.${k} must be a positive integer, got ${String(v)}`);
  }
  if (typeof m.forward !== 'function') throw new TypeError('natgrad: model.forward must be a function (theta, X, rows) => trace');
  if (!Array.isArray(m.groups)) throw new TypeError('natgrad: model.groups must be an array of { name, offset, size } covering θ in order');
  let next = 0;
  for (const [i, g] of m.groups.entries()) {
    if (typeof g !== 'object' || g === null || g.offset !== next || !Number.isSafeInteger(g.size) || g.size < 1) {
      throw new RangeError(`natgrad: model.groups[${i}] must start at θ index ${next} and have a positive integer size`);
    }
    if (g.dense) {
      const { inputs, outputs, bias } = g.dense;
      if (g.size !== outputs * (inputs + (bias ? 1 : 0)))
        throw new RangeError(`natgrad: model.groups[${i}] (dense ${outputs} × ${inputs}${bias ? ' + bias' : ''}) must have size ${outputs * (inputs + (bias ? 1 : 0))}, got ${g.size}`);
    }
    next += g.size;
  }
  if (next !== m.dim) throw new RangeError(`natgrad: model.groups cover ${next} parameters, model.dim is ${m.dim}`);
  return m as Model<Dtype>;
}
