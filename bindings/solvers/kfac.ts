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
 * application gathers the layer's slice into [W | b], applies, and scatters back. Groups that are
 * not dense layers are left unpreconditioned (identity).
 *
 * @module
 */
import { checkScalar } from '../core/validate.js';
import type { CholeskyFactor } from '../linalg/symmatrix.js';
import { SymMatrix } from '../linalg/symmatrix.js';
import type { ParameterGroup } from '../models/model.js';

/** One layer's factors as dense row-major arrays (A: (in+1)² with the bias coordinate last, G: out²). */
export interface DenseKfacFactors {
  A: Float64Array;
  G: Float64Array;
}

/** The preconditioner {@link cg} takes: y = P⁻¹ r. */
export interface PreconditionerOperator {
  readonly dim: number;
  /** P⁻¹ r (a new array). */
  apply(r: Float64Array): Float64Array;
  /** Release what it holds (WebAssembly memory). */
  free?(): void;
}

/** The KFAC inverse operator of {@link kfacInverse}. */
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

/** γ_A, γ_G and π for factors A (p × p) and G (q × q) and damping λ (Martens & Grosse §6.3). */
export function factoredDamping(A: Float64Array, p: number, G: Float64Array, q: number, lambda: number): { gammaA: number; gammaG: number; pi: number } {
  const ta = trace(A, p) / p,
    tg = trace(G, q) / q;
  const pi = ta > 0 && tg > 0 ? Math.sqrt(ta / tg) : 1;
  const r = Math.sqrt(lambda);
  return { gammaA: pi * r, gammaG: r / pi, pi };
}

/**
 * (G + γ_G I)⁻¹ ⊗ (A + γ_A I)⁻¹ per dense layer, as a preconditioner on θ (see the module documentation).
 * @param factors one { A, G } per group, in θ order (SymMatrix from `problem.fisher(θ, { structure: 'kfac' })`, or dense arrays).
 * @param groups the model's parameter groups (`problem.model.groups`).
 * @param options `damping` λ ≥ 0 (λ = 0 needs A and G positive definite).
 * @throws RangeError for a negative λ or factors whose sizes do not match the groups;
 *   NotPositiveDefiniteError when a damped factor is not positive definite.
 */
export function kfacInverse(factors: readonly (DenseKfacFactors | { A: SymMatrix; G: SymMatrix })[], groups: readonly ParameterGroup[], options: { damping: number }): KfacInverse {
  const lambda = checkScalar(options?.damping, 'damping', 'nonnegative');
  if (!Array.isArray(factors)) throw new TypeError('natgrad: kfacInverse: factors must be an array of { A, G } per layer');
  const dense = groups.filter((g) => g.dense);
  if (factors.length !== dense.length) throw new RangeError(`natgrad: kfacInverse: ${factors.length} factor pairs for ${dense.length} dense layers`);
  const dim = groups.reduce((s, g) => s + g.size, 0);
  const chol: { g: ParameterGroup; p: number; q: number; LA: CholeskyFactor; LG: CholeskyFactor }[] = [];
  const dampings: { gammaA: number; gammaG: number; pi: number }[] = [];
  const freeAll = (): void => {
    for (const c of chol) {
      c.LA.free();
      c.LG.free();
    }
  };
  try {
    dense.forEach((g, l) => {
      const { inputs, outputs, bias } = g.dense!;
      const p = inputs + (bias ? 1 : 0),
        q = outputs;
      const f = factors[l]!;
      const A = f.A instanceof SymMatrix ? f.A.toDense() : f.A,
        G = f.G instanceof SymMatrix ? f.G.toDense() : f.G;
      if (A.length !== p * p || G.length !== q * q)
        throw new RangeError(`natgrad: kfacInverse: layer ${g.name} needs A ${p} × ${p} and G ${q} × ${q}, got ${Math.sqrt(A.length)}² and ${Math.sqrt(G.length)}²`);
      const d = factoredDamping(A, p, G, q, lambda);
      dampings.push(d);
      const SA = SymMatrix.from({ data: A, rows: p, cols: p }),
        SG = SymMatrix.from({ data: G, rows: q, cols: q });
      try {
        const LA = SA.cholesky({ damping: d.gammaA });
        try {
          chol.push({ g, p, q, LA, LG: SG.cholesky({ damping: d.gammaG }) });
        } catch (e) {
          LA.free();
          throw e;
        }
      } finally {
        SA.free();
        SG.free();
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
      for (const { g, p, q, LA, LG } of chol) {
        const { inputs: nin, bias } = g.dense!,
          o0 = g.offset;
        // V (q × p) in [W | b] order.
        const V = new Float64Array(q * p);
        for (let o = 0; o < q; o++) {
          for (let i = 0; i < nin; i++) V[o * p + i] = r[o0 + o * nin + i]!;
          if (bias) V[o * p + nin] = r[o0 + q * nin + o]!;
        }
        const X1 = LG.solveMany({ data: V, rows: q, cols: p }).data; // Ĝ⁻¹ V, q × p
        const T = new Float64Array(p * q);
        for (let o = 0; o < q; o++) for (let i = 0; i < p; i++) T[i * q + o] = X1[o * p + i]!;
        const Y = LA.solveMany({ data: T, rows: p, cols: q }).data; // Â⁻¹ (Ĝ⁻¹ V)ᵀ = (Ĝ⁻¹ V Â⁻¹)ᵀ, p × q
        for (let o = 0; o < q; o++) {
          for (let i = 0; i < nin; i++) out[o0 + o * nin + i] = Y[i * q + o]!;
          if (bias) out[o0 + q * nin + o] = Y[nin * q + o]!;
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
