/**
 * Streaming curvature accumulators: the Fisher and the empirical Fisher of the linear model
 * over data that never sits in memory at once (or in WebAssembly's 4 GiB address space).
 *
 * An accumulator is fixed by θ, the likelihood and the input width; it keeps only
 *
 *     C = Σ_n J_nᵀ B_n J_n   (the D × D lower triangle)       and      N = Σ batches' rows,
 *
 * with B_n = Λ_n (`fisherAccumulator`) or r_n r_nᵀ (`empiricalFisherAccumulator`), exactly the
 * terms of `linearProblem(...).fisher(θ)` / `.empiricalFisher(θ)` (same likelihood objects,
 * same class-major θ[m·d + j] = W[m][j], same bias column appended LAST). Batches of any size
 * (dense or CSR) go in with `add(X, y)`; `result({ reduction })` gives s·C as a {@link SymMatrix}
 * (s = 1/N for `'mean'`, the default, 1 for `'sum'`). Accumulators over disjoint shards
 * `merge` into the one over their union, in memory or through `toBytes()` / `fromBytes()`.
 *
 * Memory: the D × D sum (8·D² bytes) plus the current batch; nothing grows with N.
 *
 * Any model: with `model` (an {@link mlp}, or any {@link Model}) the accumulator sums the same
 * terms of `problem({ model, X: all rows, y, likelihood })` — each batch is one forward pass and
 * its Σ_n J_nᵀ B_n J_n is added — in θ's own layout (PyTorch's for the MLP).
 *
 * ## Serialization (`toBytes`), version 1, all fields little-endian
 *
 * | offset      | size        | field                                                               |
 * |-------------|-------------|---------------------------------------------------------------------|
 * | 0           | 4           | magic `NGAC` (0x4e 0x47 0x41 0x43)                                  |
 * | 4           | 2 (u16)     | format version = 1                                                  |
 * | 6           | 1 (u8)      | kind: 1 = Fisher, 2 = empirical Fisher                              |
 * | 7           | 1 (u8)      | likelihood: 1 gaussian, 2 bernoulli, 3 categorical, 4 poisson       |
 * | 8           | 8 (f64)     | likelihood parameter: variance, clip, classes, or 0                 |
 * | 16          | 4 (u32)     | inputs d (columns of the batches, without the bias column)          |
 * | 20          | 1 (u8)      | bias: 0 or 1                                                        |
 * | 21          | 3           | reserved, 0                                                         |
 * | 24          | 4 (u32)     | D = M·(d + bias), the number of parameters                          |
 * | 28          | 4           | reserved, 0                                                         |
 * | 32          | 8 (f64)     | N, rows added (an integer ≤ 2⁵³)                                    |
 * | 40          | 8·D (f64)   | θ                                                                   |
 * | 40 + 8·D    | 4·D(D+1)    | the lower triangle of C = Σ_n J_nᵀ B_n J_n, row by row (C[i][0..i]) |
 *
 * Version 2 (an accumulator of a model other than the linear one): the same fields, with
 * inputs = model.inputs, bias = 0 and D = model.dim, followed by a u32 byte length and the
 * model's description ({@link ModelSpec}) as UTF-8 JSON. Only natgrad's own models have one.
 *
 * @module
 */
import { addBias } from '../data/datasets.js';
import { NonFiniteLossError } from '../core/errors.js';
import { allocBlocks, Handle, withScratch } from '../core/handle.js';
import { checkLabels, checkLabelTypes, checkLikelihood, evaluate, type Likelihood } from '../likelihoods/likelihood.js';
import { checkOptions } from '../core/options.js';
import { checkBytes, checkSquare } from '../core/limits.js';
import { Matrix } from '../linalg/matrix.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { Dtype, MatrixInput, VectorInput } from '../core/types.js';
import { checkSize, firstNonFinite, toMatrix, toVector } from '../core/validate.js';
import { core as defaultCore, type Core } from '../core/wasm.js';
import { checkModel, type Model } from '../models/model.js';
import { isLinearModel } from '../models/linear.js';
import { modelFromSpec, modelSpec, type ModelSpec } from '../models/spec.js';
import { problem } from './problem.js';

/**
 * Options of {@link fisherAccumulator} and {@link empiricalFisherAccumulator}.
 *
 * @category Curvature
 */
export interface AccumulatorOptions {
  /** θ, length D = M·(inputs + bias), class-major as in {@link linearProblem}. */
  theta: VectorInput;
  likelihood: Likelihood;
  /** d: the number of columns of the batches passed to `add` (without the bias column). */
  inputs: number;
  /** Append a column of ones LAST to every batch (default false; linear model only). */
  bias?: boolean;
  /**
   * A model other than the linear one (an {@link mlp} or any {@link Model}): θ is then in the
   * model's layout, `inputs` defaults to model.inputs and `bias` does not apply.
   */
  model?: Model<Dtype>;
}

/**
 * Which curvature an accumulator sums.
 *
 * @category Curvature
 */
export type AccumulatorKind = 'fisher' | 'empiricalFisher';

const MAGIC = [0x4e, 0x47, 0x41, 0x43];
const VERSION = 1;
const HEADER = 40;
const LIK_CODES = { gaussian: 1, bernoulli: 2, categorical: 3, poisson: 4 } as const;

/**
 * A running sum at a fixed θ over batches that never sit in memory at once:
 *
 *     C = Σ_n J_nᵀ B_n J_n   (the D × D lower triangle)       and      N = Σ batches' rows,
 *
 * with B_n = Λ_n ({@link fisherAccumulator}) or r_n r_nᵀ ({@link empiricalFisherAccumulator}),
 * exactly the terms of `linearProblem(...).fisher(θ)` / `.empiricalFisher(θ)` (class-major
 * θ[m·d̄ + j] = W[m][j], the bias column appended last), or of `problem({ model, … })` with a
 * `model`. `add(X, y)` adds a batch (dense or CSR), `result({ reduction })` returns s·C with
 * s = 1/N (`'mean'`, default) or 1 (`'sum'`), and accumulators over disjoint shards `merge` into
 * the one over their union, in memory or through `toBytes()` / `fromBytes()`. Memory: 8·D² bytes
 * plus the current batch; nothing grows with N.
 * Create with {@link fisherAccumulator} / {@link empiricalFisherAccumulator}; `free()` when done.
 *
 * @category Curvature
 */
export class CurvatureAccumulator extends Handle {
  readonly kind: AccumulatorKind;
  readonly likelihood: Likelihood;
  /** d: columns of the batches (without bias). */
  readonly inputs: number;
  readonly bias: boolean;
  /** M, the dimension of f_n. */
  readonly outputs: number;
  /** D = M·(d + bias). */
  readonly dim: number;
  /** θ (a copy). */
  readonly theta: Float64Array;
  /** The model, when not the linear one. */
  readonly model: Model<Dtype> | undefined;
  #count = 0;

  /** @internal use the factory functions or {@link CurvatureAccumulator.fromBytes}. */
  constructor(core: Core, kind: AccumulatorKind, likelihood: Likelihood, inputs: number, bias: boolean, theta: Float64Array, model?: Model<Dtype>) {
    const M = likelihood.outputs,
      D = model ? model.dim : M * (inputs + (bias ? 1 : 0));
    checkSquare(D, `an accumulator of D = ${D} parameters`);
    const ptrs = allocBlocks(core, [8 * D * D, 8 * D]);
    super(core, ptrs);
    core.f64(ptrs[0]!, D * D).fill(0);
    core.f64(ptrs[1]!, D).set(theta);
    this.kind = kind;
    this.likelihood = likelihood;
    this.inputs = inputs;
    this.bias = bias;
    this.outputs = M;
    this.dim = D;
    this.theta = theta;
    this.model = model;
  }

  /** N: the rows added so far (including merged accumulators). */
  get count(): number {
    this.alive();
    return this.#count;
  }

  /**
   * Add the rows of a mini-batch: C += Σ_{n ∈ batch} J_nᵀ B_n J_n, N += rows.
   * @param X rows × inputs: `{ data, rows, cols }`, `number[][]`, CSR, or a resident {@link Matrix}.
   * @param y rows labels in the likelihood's support.
   * @returns this (for chaining).
   * @throws TypeError / RangeError for bad shapes, non-finite values, labels outside the support,
   *   or a batch too large for one WebAssembly block (split it).
   * @throws NonFiniteLossError when the loss of a row is not finite at θ (Poisson: f > 709.78);
   *   the accumulator is left unchanged.
   */
  add(X: MatrixInput | Matrix, y: VectorInput): this {
    this.alive();
    if (this.model) return this.#addModel(X, y);
    const core = this.core;
    const M = this.outputs,
      D = this.dim;
    let input: MatrixInput | Matrix = X;
    if (X instanceof Matrix) {
      if (X.cols !== this.inputs) throw new RangeError(`natgrad: X has ${X.cols} columns, the accumulator expects inputs = ${this.inputs}`);
      // A copy when the bias column must be appended, or when X lives in another core's memory.
      if (this.bias || X.core !== core) input = X.toCsr() ?? X.toDense();
    }
    if (!(input instanceof Matrix)) {
      const m = toMatrix(input, 'X');
      const cols = m.csr ? m.csr.cols : m.dense.cols;
      if (cols !== this.inputs) throw new RangeError(`natgrad: X has ${cols} columns, the accumulator expects inputs = ${this.inputs}`);
      input = this.bias ? (m.csr ? addBias(m.csr) : addBias(m.dense)) : (m.csr ?? m.dense);
    }
    const owned = !(input instanceof Matrix);
    const mat = Matrix.from(input, 'X', core);
    try {
      const n = mat.rows;
      checkLabelTypes(this.likelihood, y, 'CurvatureAccumulator.add');
      const labels = toVector(y, n, 'y');
      checkLabels(this.likelihood, labels);
      if (n === 0) return this;
      checkBytes(8 * n * M * M, `the per-sample curvature of a batch of ${n} rows`, 'add the batch in smaller pieces');
      withScratch(core, [8 * n, 8 * n * M, 8 * n * M, 8 * n * M * M], (py, pf, pr, pb) => {
        const k = core.exports;
        core.f64(py, n).set(labels);
        mat.linearForward(M, this.ptr(1), pf);
        const fisher = this.kind === 'fisher';
        const sumLoss = evaluate(core, this.likelihood, n, pf, py, pr, fisher ? pb : 0);
        if (!Number.isFinite(sumLoss)) throw nonFinite(core, this.likelihood, n, M, pf, pr, sumLoss);
        if (!fisher) {
          core.f64(pb, n * M * M).fill(0);
          k.residualOuter(n, M, pr, 1, pb);
        }
        // Blocks (a, b ≤ a) get only their lower parts; #canonical() completes them.
        mat.blockSyrkLower(M, pb, this.ptr(0), D);
      });
      this.#count += n;
      return this;
    } finally {
      if (owned) mat.free();
    }
  }

  /** A batch of a model accumulator: one sum-reduction problem, its Fisher or EF added. */
  #addModel(X: MatrixInput | Matrix, y: VectorInput): this {
    if (X instanceof Matrix) throw new TypeError('natgrad: a model accumulator takes X as { data, rows, cols } or number[][]');
    const m = toMatrix(X, 'X');
    if (!m.dense) throw new TypeError('natgrad: a model accumulator takes dense batches');
    if (m.dense.cols !== this.inputs) throw new RangeError(`natgrad: X has ${m.dense.cols} columns, the accumulator expects inputs = ${this.inputs}`);
    if (m.dense.rows === 0) return this;
    checkLabelTypes(this.likelihood, y, 'CurvatureAccumulator.add');
    const p = problem({ model: this.model!, X: m.dense, y: y as VectorInput, likelihood: this.likelihood, reduction: 'sum' });
    try {
      const C = this.kind === 'fisher' ? p.fisher(this.theta) : p.empiricalFisher(this.theta);
      try {
        this.core.exports.daxpy(this.dim * this.dim, 1, C.dataPtr(), this.ptr(0));
      } finally {
        C.free();
      }
    } finally {
      p.free();
    }
    this.#count += m.dense.rows;
    return this;
  }

  /**
   * Complete the off-diagonal blocks: block (a, b), a > b, is symmetric as a d × d matrix but
   * `add` accumulates only its lower part; copy it onto its upper part, so that the lower
   * triangle of the D × D storage is the lower triangle of C. Idempotent.
   */
  #canonical(): void {
    if (this.model) return; // model accumulators add full symmetric matrices
    const M = this.outputs,
      D = this.dim,
      d = D / M,
      c = this.ptr(0);
    for (let a = 1; a < M; a++) for (let b = 0; b < a; b++) this.core.exports.dsymMirrorLower(d, c + 8 * (a * d * D + b * d), D);
  }

  /**
   * The accumulated curvature: s · Σ_n J_nᵀ B_n J_n with s = 1/N (`'mean'`, default) or 1
   * (`'sum'`). Equals `linearProblem({ X: all rows, y, likelihood, bias, reduction })` `.fisher(θ)`
   * (or `.empiricalFisher(θ)`) up to rounding in the order of summation. Symmetric PSD, D × D.
   * @throws RangeError for an unknown reduction, or `'mean'` before any row was added.
   */
  result(options: { reduction?: 'mean' | 'sum' } = {}): SymMatrix {
    this.alive();
    const reduction = checkOptions<{ reduction: 'mean' | 'sum' }>(options, 'CurvatureAccumulator.result', ['reduction']).reduction ?? 'mean';
    if (reduction !== 'mean' && reduction !== 'sum') throw new RangeError(`natgrad: reduction must be 'mean' or 'sum', got ${String(reduction)}`);
    if (reduction === 'mean' && this.#count === 0) throw new RangeError("natgrad: the mean of no rows is undefined: add rows first (or use reduction: 'sum')");
    this.#canonical();
    const core = this.core,
      D = this.dim;
    const p = core.alloc(8 * D * D);
    core.f64(p, D * D).set(core.f64(this.ptr(0), D * D));
    core.exports.dsymMirrorLower(D, p, D);
    if (reduction === 'mean') core.exports.dscal(D * D, 1 / this.#count, p);
    return new SymMatrix(core, D, p);
  }

  /**
   * Add another accumulator's sum and count (same kind, likelihood, inputs, bias and θ, bit for
   * bit): afterwards this one covers the union of both shards. `other` is not changed and may
   * live in another core.
   * @returns this.
   * @throws TypeError when `other` is not an accumulator; RangeError when it does not match.
   */
  merge(other: CurvatureAccumulator): this {
    this.alive();
    if (!(other instanceof CurvatureAccumulator)) throw new TypeError('natgrad: merge expects a CurvatureAccumulator');
    if (other === this) throw new RangeError('natgrad: an accumulator cannot be merged with itself');
    const why = mismatch(this, other);
    if (why) throw new RangeError(`natgrad: cannot merge accumulators: ${why}`);
    const D = this.dim;
    const src = other.#lower();
    withScratch(this.core, [8 * D * D], (p) => {
      this.core.f64(p, D * D).set(src);
      this.core.exports.daxpy(D * D, 1, p, this.ptr(0));
    });
    this.#count += other.#count;
    return this;
  }

  /** The D × D storage with a canonical lower triangle (upper triangle 0), as a copy. */
  #lower(): Float64Array {
    this.alive();
    this.#canonical();
    return this.core.f64(this.ptr(0), this.dim * this.dim).slice();
  }

  /**
   * Serialize, for {@link CurvatureAccumulator.fromBytes} (version 1, every field little-endian):
   *
   * | offset      | size        | field                                                               |
   * |-------------|-------------|---------------------------------------------------------------------|
   * | 0           | 4           | magic `NGAC` (0x4e 0x47 0x41 0x43)                                  |
   * | 4           | 2 (u16)     | format version = 1                                                  |
   * | 6           | 1 (u8)      | kind: 1 = Fisher, 2 = empirical Fisher                              |
   * | 7           | 1 (u8)      | likelihood: 1 gaussian, 2 bernoulli, 3 categorical, 4 poisson       |
   * | 8           | 8 (f64)     | likelihood parameter: variance, clip, classes, or 0                 |
   * | 16          | 4 (u32)     | inputs d (columns of the batches, without the bias column)          |
   * | 20          | 1 (u8)      | bias: 0 or 1                                                        |
   * | 21          | 3           | reserved, 0                                                         |
   * | 24          | 4 (u32)     | D = M·(d + bias), the number of parameters                          |
   * | 28          | 4           | reserved, 0                                                         |
   * | 32          | 8 (f64)     | N, rows added (an integer ≤ 2⁵³)                                    |
   * | 40          | 8·D (f64)   | θ                                                                   |
   * | 40 + 8·D    | 4·D(D+1)    | the lower triangle of C = Σ_n J_nᵀ B_n J_n, row by row (C[i][0..i]) |
   *
   * Version 2 (an accumulator of a model other than the linear one): the same fields, with
   * inputs = model.inputs, bias = 0 and D = model.dim, followed by a u32 byte length and the
   * model's description ({@link ModelSpec}) as UTF-8 JSON. Only natgrad's own models have one.
   * @throws TypeError for a model without a description (a plain-TypeScript model).
   * @example
   * ```ts
   * const bytes = acc.toBytes();       // D = 31: 40 + 8·31 + 4·31·32 = 4256 bytes
   * const same = CurvatureAccumulator.fromBytes(bytes);
   * ```
   */
  toBytes(): Uint8Array {
    const D = this.dim;
    const C = this.#lower();
    let spec: Uint8Array | undefined;
    if (this.model) {
      const ms = modelSpec(this.model);
      if (!ms) throw new TypeError(`natgrad: toBytes: the model '${this.model.name}' has no description to serialize (only natgrad's own models do)`);
      spec = new TextEncoder().encode(JSON.stringify(ms));
    }
    const body = HEADER + 8 * D + 4 * D * (D + 1);
    const bytes = new Uint8Array(body + (spec ? 4 + spec.length : 0));
    const v = new DataView(bytes.buffer);
    MAGIC.forEach((b, i) => v.setUint8(i, b));
    v.setUint16(4, spec ? 2 : VERSION, true);
    if (spec) {
      v.setUint32(body, spec.length, true);
      bytes.set(spec, body + 4);
    }
    v.setUint8(6, this.kind === 'fisher' ? 1 : 2);
    const lik = this.likelihood;
    v.setUint8(7, LIK_CODES[lik.name]);
    v.setFloat64(8, lik.name === 'gaussian' ? lik.variance : lik.name === 'bernoulli' ? lik.clip : lik.name === 'categorical' ? lik.classes : 0, true);
    v.setUint32(16, this.inputs, true);
    v.setUint8(20, this.bias ? 1 : 0);
    v.setUint32(24, D, true);
    v.setFloat64(32, this.#count, true);
    let o = HEADER;
    for (let i = 0; i < D; i++, o += 8) v.setFloat64(o, this.theta[i]!, true);
    for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++, o += 8) v.setFloat64(o, C[i * D + j]!, true);
    return bytes;
  }

  /**
   * Rebuild an accumulator from {@link CurvatureAccumulator.toBytes} output.
   * @throws TypeError when `bytes` is not a Uint8Array / ArrayBuffer; RangeError naming the
   *   field when the header or the length is wrong or a value is not finite.
   */
  static fromBytes(bytes: Uint8Array | ArrayBuffer, core: Core = defaultCore()): CurvatureAccumulator {
    const u8 = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : undefined;
    if (!u8) throw new TypeError('natgrad: fromBytes expects a Uint8Array or an ArrayBuffer');
    const bad = (what: string) => new RangeError(`natgrad: fromBytes: ${what}`);
    if (u8.length < HEADER) throw bad(`${u8.length} bytes is shorter than the ${HEADER}-byte header`);
    const v = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    if (!MAGIC.every((b, i) => v.getUint8(i) === b)) throw bad('bad magic (not a natgrad accumulator)');
    const version = v.getUint16(4, true);
    if (version !== VERSION && version !== 2) throw bad(`unsupported version ${version} (this natgrad reads versions 1 and 2)`);
    const kindCode = v.getUint8(6);
    if (kindCode !== 1 && kindCode !== 2) throw bad(`bad kind ${kindCode}`);
    const likCode = v.getUint8(7),
      param = v.getFloat64(8, true);
    const names = ['', 'gaussian', 'bernoulli', 'categorical', 'poisson'] as const;
    if (!(likCode >= 1 && likCode <= 4)) throw bad(`bad likelihood code ${likCode}`);
    let lik: Likelihood;
    try {
      lik = checkLikelihood({ name: names[likCode], variance: param, clip: param, classes: param });
    } catch (e) {
      throw bad(`bad likelihood parameter: ${(e as Error).message}`);
    }
    const inputs = v.getUint32(16, true),
      biasByte = v.getUint8(20),
      D = v.getUint32(24, true),
      N = v.getFloat64(32, true);
    if (biasByte > 1) throw bad(`bad bias flag ${biasByte}`);
    let model: Model<Dtype> | undefined;
    const body = HEADER + 8 * D + 4 * D * (D + 1);
    if (version === 2) {
      if (u8.length < body + 4) throw bad(`version 2 (a model accumulator): ${u8.length} bytes, expected more than ${body + 4} for D = ${D} and a model description`);
      const len = v.getUint32(body, true);
      if (u8.length !== body + 4 + len) throw bad(`version 2 (a model accumulator): ${u8.length} bytes, expected ${body + 4 + len}`);
      try {
        model = modelFromSpec(JSON.parse(new TextDecoder().decode(u8.subarray(body + 4))) as ModelSpec, core);
      } catch (e) {
        throw bad(`bad model description: ${(e as Error).message}`);
      }
      if (model.dim !== D || model.inputs !== inputs || model.outputs !== lik.outputs) throw bad(`the model (D = ${model.dim}) does not match the header (D = ${D})`);
    } else if (D !== lik.outputs * (inputs + biasByte)) throw bad(`D = ${D} does not match M·(d + bias) = ${lik.outputs}·(${inputs} + ${biasByte})`);
    if (!(Number.isSafeInteger(N) && N >= 0)) throw bad(`bad count N = ${N}`);
    checkSquare(D, `an accumulator of D = ${D} parameters`);
    if (version === 1 && u8.length !== body) throw bad(`${u8.length} bytes, expected ${body} for D = ${D}`);
    const theta = new Float64Array(D);
    let o = HEADER;
    for (let i = 0; i < D; i++, o += 8) theta[i] = v.getFloat64(o, true);
    const bt = firstNonFinite(theta);
    if (bt >= 0) throw bad(`theta[${bt}] is not finite`);
    const C = new Float64Array(D * D);
    for (let i = 0; i < D; i++) {
      for (let j = 0; j <= i; j++, o += 8) {
        const x = v.getFloat64(o, true);
        if (!Number.isFinite(x)) throw bad(`C[${i}][${j}] is not finite`);
        C[i * D + j] = x;
      }
    }
    const acc = new CurvatureAccumulator(core, kindCode === 1 ? 'fisher' : 'empiricalFisher', lik, inputs, biasByte === 1, theta, model);
    core.f64(acc.ptr(0), D * D).set(C);
    acc.#count = N;
    return acc;
  }
}

/** Why two accumulators cannot be merged, or '' when they can. */
function mismatch(a: CurvatureAccumulator, b: CurvatureAccumulator): string {
  if (b.freed) return 'the other accumulator was freed';
  if (a.kind !== b.kind) return `kinds differ (${a.kind} and ${b.kind})`;
  if (JSON.stringify(a.likelihood) !== JSON.stringify(b.likelihood)) {
    return `likelihoods differ (${JSON.stringify(a.likelihood)} and ${JSON.stringify(b.likelihood)})`;
  }
  if (
    JSON.stringify(a.model ? (modelSpec(a.model) ?? a.model.name) : null) !== JSON.stringify(b.model ? (modelSpec(b.model) ?? b.model.name) : null) ||
    (a.model && !modelSpec(a.model) && a.model !== b.model)
  ) {
    return 'models differ';
  }
  if (a.inputs !== b.inputs || a.bias !== b.bias) return `inputs differ (${a.inputs}${a.bias ? ' + bias' : ''} and ${b.inputs}${b.bias ? ' + bias' : ''})`;
  for (let i = 0; i < a.dim; i++) {
    if (!Object.is(a.theta[i], b.theta[i])) return `theta differs at entry ${i} (${a.theta[i]} and ${b.theta[i]}): curvatures at different θ do not add up`;
  }
  return '';
}

function nonFinite(core: Core, lik: Likelihood, n: number, M: number, pf: number, pr: number, sumLoss: number): NonFiniteLossError {
  const f = core.f64(pf, n * M),
    r = core.f64(pr, n * M);
  let i = firstNonFinite(f);
  if (i < 0) i = firstNonFinite(r);
  const row = i < 0 ? -1 : Math.floor(i / M),
    fv = i < 0 ? NaN : f[i]!;
  const why =
    i < 0
      ? 'the sum over the batch overflows'
      : !Number.isFinite(fv)
        ? `f = Xθ overflows at row ${row} of the batch (f = ${fv})`
        : lik.name === 'poisson'
          ? `the Poisson rate exp(f) overflows at row ${row} of the batch (f = ${fv} > 709.78)`
          : `the likelihood overflows at row ${row} of the batch (f = ${fv})`;
  return new NonFiniteLossError(`natgrad: the loss is ${sumLoss === Infinity ? '+Infinity' : sumLoss} at θ: ${why}; the batch was not added`, sumLoss, row, fv);
}

function create(kind: AccumulatorKind, options: AccumulatorOptions): CurvatureAccumulator {
  if (typeof options !== 'object' || options === null) throw new TypeError(`natgrad: ${kind}Accumulator expects an options object`);
  checkOptions(options, `${kind}Accumulator`, ['theta', 'likelihood', 'inputs', 'bias', 'model'], {
    X: 'the data go in batch by batch: acc.add(X, y)',
    y: 'the data go in batch by batch: acc.add(X, y)',
    reduction: "the reduction is chosen at the end: acc.result({ reduction: 'sum' })",
    priorVariance: 'an accumulator sums the data term only (add the prior curvature to the result)',
  });
  const lik = checkLikelihood(options.likelihood);
  const multiGaussian = lik.name === 'gaussian' && lik.outputs > 1;
  if (options.model !== undefined && (!isLinearModel(options.model) || multiGaussian)) {
    const model = checkModel(options.model);
    if (model.outputs !== lik.outputs) throw new RangeError(`natgrad: the model has ${model.outputs} outputs but the likelihood takes ${lik.outputs}`);
    if (options.inputs !== undefined && options.inputs !== model.inputs) throw new RangeError(`natgrad: inputs = ${options.inputs} but the model takes ${model.inputs}`);
    if (options.bias) throw new RangeError('natgrad: bias applies to the linear model only (a model has its own biases)');
    checkSquare(model.dim, `an accumulator of D = ${model.dim} parameters`);
    const theta = toVector(options.theta, model.dim, 'theta').slice();
    return new CurvatureAccumulator(model.core ?? defaultCore(), kind, lik, model.inputs, false, theta, model);
  }
  if (multiGaussian) throw new RangeError(`natgrad: for a ${lik.outputs}-output Gaussian pass the model too: model: linear({ inputs, outputs: ${lik.outputs} })`);
  const lm = options.model;
  const inputs = checkSize(options.inputs ?? lm?.inputs, 'inputs');
  if (inputs === 0) throw new RangeError('natgrad: inputs must be ≥ 1');
  const bias = options.bias ?? (lm && isLinearModel(lm) ? lm.bias : false);
  if (typeof bias !== 'boolean') throw new TypeError('natgrad: bias must be a boolean');
  const D = lik.outputs * (inputs + (bias ? 1 : 0));
  checkSquare(D, `an accumulator of D = ${D} parameters`);
  const theta = toVector(options.theta, D, 'theta').slice();
  return new CurvatureAccumulator(defaultCore(), kind, lik, inputs, bias, theta);
}

/**
 * A streaming Fisher F(θ) = s · Σ_n J_nᵀ Λ_n J_n of the linear model (Λ_n = ∂²ℓ_n/∂f_n², s = 1/N
 * for `result()`'s default `'mean'` reduction, 1 for `'sum'`), summed batch by batch: the same
 * matrix as `linearProblem(...).fisher(θ)` on all the rows, in memory that does not grow with N.
 * With `model`, the Fisher of any {@link Model} in θ's own layout. See {@link CurvatureAccumulator}.
 * @example
 * const acc = fisherAccumulator({ theta, likelihood: bernoulli(), inputs: 64, bias: true });
 * for (const { X, y } of batches) acc.add(X, y);
 * const F = acc.result();   // = linearProblem({ X: all, y: all, likelihood, bias: true }).fisher(theta)
 * acc.free();
 *
 * @category Curvature
 */
export function fisherAccumulator(options: AccumulatorOptions): CurvatureAccumulator {
  return create('fisher', options);
}

/**
 * A streaming empirical Fisher F̃(θ) = s · Σ_n g_n g_nᵀ of the linear model (g_n = J_nᵀ r_n the
 * per-sample gradient, s = 1/N for `result()`'s default `'mean'` reduction, 1 for `'sum'`), summed
 * batch by batch: the same matrix as `linearProblem(...).empiricalFisher(θ)` on all the rows. With
 * `model`, the empirical Fisher of any {@link Model}. See {@link CurvatureAccumulator}.
 * @example
 * ```ts
 * const { X, y } = await loadPaperDataset('BreastCancer');          // 569 × 30
 * const acc = empiricalFisherAccumulator({ theta, likelihood: bernoulli(), inputs: 30, bias: true });
 * for (let s = 0; s < X.rows; s += 100) {                           // batches of 100 rows
 *   const n = Math.min(100, X.rows - s);
 *   acc.add({ data: X.data.subarray(s * 30, (s + n) * 30), rows: n, cols: 30 }, y.subarray(s, s + n));
 * }
 * acc.count;                // 569
 * const E = acc.result();   // = linearProblem({ X, y, likelihood: bernoulli(), bias: true }).empiricalFisher(theta), to rounding
 * acc.free();
 * ```
 *
 * @category Curvature
 */
export function empiricalFisherAccumulator(options: AccumulatorOptions): CurvatureAccumulator {
  return create('empiricalFisher', options);
}
