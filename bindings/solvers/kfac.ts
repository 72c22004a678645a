/**
 * The KFAC inverse as an operator: per dense layer l, (G_l + γ_G I)⁻¹ ⊗ (A_l + γ_A I)⁻¹ with
 * factored Tikhonov damping (Martens & Grosse 2015, §6.3)
 *
 *     γ_A = π_l √λ,   γ_G = √λ / π_l,   π_l² = (tr A_l / dim A_l) / (tr G_l / dim G_l)
 *
 * (π_l = 1 when either trace is 0). In the layer's [W | b] order (row o = [W[o][·], b[o]]) the
 * Kronecker product acts as V ↦ G V A, so its inverse is V ↦ Ĝ⁻¹ V Â⁻¹ (Ĝ = G + γ_G I,
 * Â = A + γ_A I): two Cholesky factorizations per layer, (out³ + (in+1)³)/3 flops, then
 * out·(in+1)·(out + in + 1)·2 flops per application. θ stores W (out × in) then b, so each
 * application gathers the layer's slice into [W | b], applies, and scatters back. A convolution's
 * slice has the same layout (W as out × (in·kh·kw), then b). With a separate bias (`bias:
 * 'separate'`: A without the ones coordinate) the weight block is inverted as above and the bias
 * block G ⊗ [1] with the same factored damping (π² = 1/(tr G/out)). A group given as an exact
 * block B (`{ exact }`: batch and layer norm) is inverted as (B + λ I)⁻¹. With one entry per dense
 * group only, groups that are not dense layers are left unpreconditioned (identity).
 *
 * @module
 */
import { checkOptions } from '../core/options.js';
import { checkScalar } from '../core/validate.js';
import type { CholeskyFactor } from '../linalg/symmatrix.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { ParameterGroup } from '../models/model.js';

/**
 * One layer's factors as dense row-major arrays (A: (in+1)² with the bias coordinate last, G: out²).
 *
 * @category Solvers
 */
export interface DenseKfacFactors {
  A: Float64Array;
  G: Float64Array;
  /** How the bias enters A (see {@link LayerKfac.bias}); absent: joint when the group has a bias. */
  bias?: 'joint' | 'separate' | 'none';
  exact?: undefined;
}

/**
 * A group's exact curvature block as a dense row-major array (size²).
 *
 * @category Solvers
 */
export interface DenseExactBlock {
  exact: Float64Array;
  A?: undefined;
  G?: undefined;
}

/**
 * One group's entry of {@link kfacInverse}: Kronecker factors or an exact block, as arrays or SymMatrix.
 *
 * @category Solvers
 */
export type KfacInverseEntry =
  | DenseKfacFactors
  | DenseExactBlock
  | { A: SymMatrix; G: SymMatrix; bias?: 'joint' | 'separate' | 'none'; exact?: undefined }
  | { exact: SymMatrix; A?: undefined; G?: undefined };

/**
 * The preconditioner {@link cg} takes: y = P⁻¹ r.
 *
 * @category Solvers
 */
export interface PreconditionerOperator {
  readonly dim: number;
  /** P⁻¹ r (a new array). */
  apply(r: Float64Array): Float64Array;
  /** Release what it holds (WebAssembly memory). */
  free?(): void;
}

/**
 * The KFAC inverse operator of {@link kfacInverse}.
 *
 * @category Solvers
 */
export interface KfacInverse extends PreconditionerOperator {
  /** Per layer: the damping actually added, γ_A and γ_G, and π. */
  readonly dampings: readonly { gammaA: number; gammaG: number; pi: number }[];
  free(): void;
}

function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i]!;
  return t;
}

/**
 * γ_A, γ_G and π for factors A (p × p) and G (q × q) and damping λ (Martens & Grosse §6.3).
 * @example
 * ```ts
 * // A = 4·I₂ (tr A / 2 = 4), G = [1] (tr G / 1 = 1): π = √(4/1) = 2
 * factoredDamping(Float64Array.of(4, 0, 0, 4), 2, Float64Array.of(1), 1, 1e-2);
 * // { gammaA: 0.2, gammaG: 0.05, pi: 2 }: γ_A = π√λ, γ_G = √λ/π
 * ```
 *
 * @category Solvers
 */
export function factoredDamping(A: Float64Array, p: number, G: Float64Array, q: number, lambda: number): { gammaA: number; gammaG: number; pi: number } {
  const ta = trace(A, p) / p,
    tg = trace(G, q) / q;
  const pi = ta > 0 && tg > 0 ? Math.sqrt(ta / tg) : 1;
  const r = Math.sqrt(lambda);
  return { gammaA: pi * r, gammaG: r / pi, pi };
}

/**
 * (G + γ_G I)⁻¹ ⊗ (A + γ_A I)⁻¹ per dense layer, as a preconditioner on θ, with the factored
 * Tikhonov damping of Martens & Grosse (2015, §6.3, {@link factoredDamping}):
 *
 *     γ_A = π_l √λ,   γ_G = √λ / π_l,   π_l² = (tr A_l / dim A_l) / (tr G_l / dim G_l)
 *
 * (π_l = 1 when either trace is 0). In the layer's [W | b] order (row o = [W[o][·], b[o]]) the
 * Kronecker product acts as V ↦ G V A, so the inverse is V ↦ Ĝ⁻¹ V Â⁻¹ (Ĝ = G + γ_G I,
 * Â = A + γ_A I): two Cholesky factorizations per layer, (out³ + (in+1)³)/3 flops, then
 * 2·out·(in+1)·(out + in + 1) flops per application; each application gathers the layer's slice of
 * θ (W, then b) into [W | b], applies, and scatters back (a convolution: W as out × (in·kh·kw)).
 * With a separate bias (`bias: 'separate'`) the bias block is G ⊗ [1] with the same damping
 * (π² = 1/(tr G/out)); a group given as an exact block B (`{ exact }`: batch and layer norm) is
 * inverted as (B + λI)⁻¹; groups without an entry (one entry per dense group only) are left as
 * the identity.
 * @param factors one { A, G } per group, in θ order (SymMatrix from `problem.fisher(θ, { structure: 'kfac' })`, or dense arrays).
 * @param groups the model's parameter groups (`problem.model.groups`).
 * @param options `damping` λ ≥ 0, required (λ = 0 needs A and G positive definite).
 * @throws TypeError without `damping`; UnknownOptionError for any other option; RangeError for a
 *   negative λ or factors whose sizes do not match the groups; NotPositiveDefiniteError when a
 *   damped factor is not positive definite.
 * @example
 * ```ts
 * const model = mlp({ sizes: [64, 16, 10], activation: 'tanh' });
 * const p = problem({ model, X, y, likelihood: categorical({ classes: 10 }) });   // 500 digits
 * const theta = model.init(0);
 * const factors = p.fisher(theta, { structure: 'kfac' });                        // one { A, G } per layer
 * const P = kfacInverse(factors, model.groups, { damping: 1e-2 });
 * P.dampings.map((d) => d.pi.toFixed(4));   // ['4.0954', '1.2725']
 * const direction = P.apply(p.gradient(theta)); // the KFAC step direction, length D = 1210
 * P.free();
 * ```
 *
 * @category Solvers
 */
export function kfacInverse(factors: readonly KfacInverseEntry[], groups: readonly ParameterGroup[], options: { damping: number }): KfacInverse {
  const o = checkOptions<{ damping: number }>(options, 'kfacInverse', ['damping'], { lambda: "did you mean 'damping'? (λ of the factored damping)" });
  if (o.damping === undefined) throw new TypeError('natgrad: kfacInverse: damping is required (λ ≥ 0; 0 needs A and G positive definite)');
  const lambda = checkScalar(o.damping, 'damping', 'nonnegative');
  if (!Array.isArray(factors)) throw new TypeError('natgrad: kfacInverse: factors must be an array of { A, G } (or { exact }) per layer');
  const dense = groups.filter((g) => g.dense);
  let targets: readonly ParameterGroup[];
  if (factors.length === groups.length) targets = groups;
  else if (factors.length === dense.length) targets = dense;
  else throw new RangeError(`natgrad: kfacInverse: ${factors.length} factor entries for ${groups.length} groups (${dense.length} dense layers)`);
  const dim = groups.reduce((s, g) => s + g.size, 0);
  type Kron = { kind: 'kron'; g: ParameterGroup; nin: number; q: number; p: number; joint: boolean; bias: boolean; LA: CholeskyFactor; LG: CholeskyFactor; LB?: CholeskyFactor; biasScale: number };
  type Exact = { kind: 'exact'; g: ParameterGroup; L: CholeskyFactor };
  const parts: (Kron | Exact)[] = [];
  const dampings: { gammaA: number; gammaG: number; pi: number }[] = [];
  const freeAll = (): void => {
    for (const c of parts) {
      if (c.kind === 'exact') c.L.free();
      else {
        c.LA.free();
        c.LG.free();
        c.LB?.free();
      }
    }
  };
  const toArray = (m: Float64Array | SymMatrix): Float64Array => (m instanceof SymMatrix ? m.toDense() : m);
  const chol = (a: Float64Array, n: number, damping: number): CholeskyFactor => {
    const S = SymMatrix.from({ data: a, rows: n, cols: n });
    try {
      return S.cholesky({ damping });
    } finally {
      S.free();
    }
  };
  try {
    targets.forEach((g, l) => {
      const f = factors[l]!;
      if (f.exact !== undefined) {
        const B = toArray(f.exact);
        if (B.length !== g.size * g.size) throw new RangeError(`natgrad: kfacInverse: group ${g.name} needs an exact block ${g.size} × ${g.size}, got ${Math.sqrt(B.length)}²`);
        dampings.push({ gammaA: lambda, gammaG: 0, pi: 1 });
        parts.push({ kind: 'exact', g, L: chol(B, g.size, lambda) });
        return;
      }
      const A = toArray(f.A),
        G = toArray(f.G);
      const p = Math.round(Math.sqrt(A.length)),
        q = Math.round(Math.sqrt(G.length));
      if (p * p !== A.length || q * q !== G.length) throw new RangeError(`natgrad: kfacInverse: group ${g.name}: A and G must be square`);
      const mode = f.bias ?? (g.dense ? (g.dense.bias ? 'joint' : 'none') : 'none');
      const joint = mode === 'joint',
        bias = mode !== 'none';
      const nin = joint ? p - 1 : p;
      if (g.size !== q * nin + (bias ? q : 0)) throw new RangeError(`natgrad: kfacInverse: group ${g.name} (${g.size} parameters) does not match A ${p} × ${p} and G ${q} × ${q} with a ${mode} bias`);
      const d = factoredDamping(A, p, G, q, lambda);
      dampings.push(d);
      const LA = chol(A, p, d.gammaA);
      let LG: CholeskyFactor | undefined, LB: CholeskyFactor | undefined;
      try {
        LG = chol(G, q, d.gammaG);
        // separate bias: G ⊗ [1] with factored damping (π² = 1 / (tr G / q))
        let biasScale = 1;
        if (mode === 'separate') {
          const db = factoredDamping(new Float64Array([1]), 1, G, q, lambda);
          LB = chol(G, q, db.gammaG);
          biasScale = 1 / (1 + db.gammaA);
        }
        parts.push({ kind: 'kron', g, nin, q, p, joint, bias, LA, LG, ...(LB ? { LB } : {}), biasScale });
      } catch (e) {
        LA.free();
        LG?.free();
        throw e;
      }
    });
  } catch (e) {
    freeAll();
    throw e;
  }
  let freed = false;
  return {
    dim,
    dampings,
    apply(r) {
      if (freed) throw new RangeError('natgrad: kfacInverse: used after free()');
      if (r.length !== dim) throw new RangeError(`natgrad: kfacInverse: r must have length ${dim}, got ${r.length}`);
      const out = Float64Array.from(r);
      for (const c of parts) {
        const o0 = c.g.offset;
        if (c.kind === 'exact') {
          out.set(c.L.solve(r.subarray(o0, o0 + c.g.size)), o0);
          continue;
        }
        const { nin, q, p, joint, bias, LA, LG, LB, biasScale } = c;
        // V (q × p) in [W | b] order (b only when joint).
        const V = new Float64Array(q * p);
        for (let o = 0; o < q; o++) {
          for (let i = 0; i < nin; i++) V[o * p + i] = r[o0 + o * nin + i]!;
          if (joint) V[o * p + nin] = r[o0 + q * nin + o]!;
        }
        const X1 = LG.solveMany({ data: V, rows: q, cols: p }).data; // Ĝ⁻¹ V, q × p
        const T = new Float64Array(p * q);
        for (let o = 0; o < q; o++) for (let i = 0; i < p; i++) T[i * q + o] = X1[o * p + i]!;
        const Y = LA.solveMany({ data: T, rows: p, cols: q }).data; // Â⁻¹ (Ĝ⁻¹ V)ᵀ = (Ĝ⁻¹ V Â⁻¹)ᵀ, p × q
        for (let o = 0; o < q; o++) {
          for (let i = 0; i < nin; i++) out[o0 + o * nin + i] = Y[i * q + o]!;
          if (joint) out[o0 + q * nin + o] = Y[nin * q + o]!;
        }
        if (bias && !joint) {
          const b = LB!.solve(r.subarray(o0 + q * nin, o0 + q * nin + q));
          for (let o = 0; o < q; o++) out[o0 + q * nin + o] = biasScale * b[o]!;
        }
      }
      return out;
    },
    free() {
      if (freed) return;
      freed = true;
      freeAll();
    },
  };
}
