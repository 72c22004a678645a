/**
 * A plain-TypeScript multilayer perceptron implementing natgrad's `Model` interface with only
 * the required products — forward, jvp, vjp, residualHvp — and no WebAssembly: the reference
 * the MLP tests compare against, and the documented example of a user-written model (every
 * curvature, product and optimizer of a problem works with it, through the fallbacks).
 *
 * Same θ layout as PyTorch (and `mlp`): for each layer W_l (out × in, row-major) then b_l.
 * Everything here is per-sample loops written for clarity, not speed.
 *
 * Also: per-sample Jacobians by the explicit chain rule, and central finite differences.
 */
import type { Model, ModelTrace, ParameterGroup } from '../../bindings/models/model.js';

export type RefActivation = 'tanh' | 'sigmoid' | 'relu' | 'softplus' | 'gelu' | 'identity';

/** σ(x), σ'(x), σ''(x) in PyTorch float64's conventions (written independently of the kernel). */
export function activationRef(name: RefActivation, x: number): [number, number, number] {
  switch (name) {
    case 'identity':
      return [x, 1, 0];
    case 'tanh': {
      const t = Math.tanh(x);
      return [t, 1 - t * t, -2 * t * (1 - t * t)];
    }
    case 'sigmoid': {
      const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
      const c = x >= 0 ? Math.exp(-x) / (1 + Math.exp(-x)) : 1 / (1 + Math.exp(x));
      return [s, s * c, s * c * (c - s)];
    }
    case 'relu':
      return [Math.max(x, 0), x > 0 ? 1 : 0, 0];
    case 'softplus': {
      if (x > 20) return [x, 1, 0];
      const [s, ds] = activationRef('sigmoid', x);
      return [Math.log1p(Math.exp(x)), s, ds];
    }
    case 'gelu': {
      const c = Math.sqrt(2 / Math.PI),
        k = 0.044715;
      const u = c * (x + k * x ** 3);
      const t = Math.tanh(u);
      const du = c * (1 + 3 * k * x * x),
        ddu = 6 * c * k * x;
      const s = 1 - t * t;
      // d/dx of ½x(1 + t) and of ½(1 + t) + ½ x s u'
      return [0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * s * du, s * du + 0.5 * x * (-2 * t * s * du * du + s * ddu)];
    }
  }
}

interface RefLayer {
  nin: number;
  nout: number;
  w: number;
  b: number;
}

/** The plain-TS MLP model. */
export function referenceMlp(options: { sizes: number[]; activation?: RefActivation }): Model & { layers: RefLayer[]; sizes: number[] } {
  const sizes = options.sizes;
  const act = options.activation ?? 'tanh';
  const layers: RefLayer[] = [];
  const groups: ParameterGroup[] = [];
  let D = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nin = sizes[l]!,
      nout = sizes[l + 1]!;
    layers.push({ nin, nout, w: D, b: D + nin * nout });
    groups.push({ name: `layer${l + 1}`, offset: D, size: nout * (nin + 1), dense: { inputs: nin, outputs: nout, bias: true } });
    D += nout * (nin + 1);
  }
  const L = layers.length;
  const M = sizes[L]!;

  function forward(theta: Float64Array, X: Float64Array, rows: number): ModelTrace {
    // a[l][n] = input of layer l for sample n (a[0] = x_n); d1/d2[l][n] = σ', σ'' at layer l's output.
    const a: Float64Array[][] = [[]],
      d1: Float64Array[][] = [],
      d2: Float64Array[][] = [];
    const F = new Float64Array(rows * M);
    for (let n = 0; n < rows; n++) a[0]!.push(X.subarray(n * sizes[0]!, (n + 1) * sizes[0]!));
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = layers[l]!;
      if (l + 1 < L) {
        a.push([]);
        d1.push([]);
        d2.push([]);
      }
      for (let n = 0; n < rows; n++) {
        const z = new Float64Array(nout);
        for (let o = 0; o < nout; o++) {
          let s = theta[b + o]!;
          for (let i = 0; i < nin; i++) s += theta[w + o * nin + i]! * a[l]![n]![i]!;
          z[o] = s;
        }
        if (l + 1 < L) {
          const av = new Float64Array(nout),
            g = new Float64Array(nout),
            h = new Float64Array(nout);
          for (let o = 0; o < nout; o++) [av[o], g[o], h[o]] = activationRef(act, z[o]!);
          a[l + 1]!.push(av);
          d1[l]!.push(g);
          d2[l]!.push(h);
        } else {
          F.set(z, n * M);
        }
      }
    }
    const W = (l: number, o: number, i: number) => theta[layers[l]!.w + o * layers[l]!.nin + i]!;

    /** Tangent pass for one sample: dz[l] (layer outputs) and da[l] (layer inputs, da[0] = 0). */
    function tangent(v: Float64Array, n: number): { dz: Float64Array[]; da: Float64Array[] } {
      const dz: Float64Array[] = [],
        da: Float64Array[] = [new Float64Array(sizes[0]!)];
      for (let l = 0; l < L; l++) {
        const { nin, nout, w, b } = layers[l]!;
        const t = new Float64Array(nout);
        for (let o = 0; o < nout; o++) {
          let s = v[b + o]!;
          for (let i = 0; i < nin; i++) s += v[w + o * nin + i]! * a[l]![n]![i]! + W(l, o, i) * da[l]![i]!;
          t[o] = s;
        }
        dz.push(t);
        if (l + 1 < L) da.push(t.map((x, o) => d1[l]![n]![o]! * x));
      }
      return { dz, da };
    }

    /** Backward pass for one sample: g[l] = ∂(rᵀ f_n)/∂z_l. */
    function backward(r: ArrayLike<number>, n: number): Float64Array[] {
      const g: Float64Array[] = new Array(L);
      g[L - 1] = Float64Array.from(r);
      for (let l = L - 1; l > 0; l--) {
        const { nin, nout } = layers[l]!;
        const ga = new Float64Array(nin);
        for (let o = 0; o < nout; o++) for (let i = 0; i < nin; i++) ga[i] += g[l]![o]! * W(l, o, i);
        g[l - 1] = ga.map((x, i) => x * d1[l - 1]![n]![i]!);
      }
      return g;
    }

    return {
      rows,
      outputs: F,
      jvp(v) {
        const out = new Float64Array(rows * M);
        for (let n = 0; n < rows; n++) out.set(tangent(v, n).dz[L - 1]!, n * M);
        return out;
      },
      vjp(R) {
        const out = new Float64Array(D);
        for (let n = 0; n < rows; n++) {
          const g = backward(R.subarray(n * M, (n + 1) * M), n);
          for (let l = 0; l < L; l++) {
            const { nin, nout, w, b } = layers[l]!;
            for (let o = 0; o < nout; o++) {
              for (let i = 0; i < nin; i++) out[w + o * nin + i] += g[l]![o]! * a[l]![n]![i]!;
              out[b + o] += g[l]![o]!;
            }
          }
        }
        return out;
      },
      residualHvp(R, v) {
        // Pearlmutter: differentiate the backward pass along v (r fixed).
        const out = new Float64Array(D);
        for (let n = 0; n < rows; n++) {
          const r = R.subarray(n * M, (n + 1) * M);
          const g = backward(r, n);
          const { dz, da } = tangent(v, n);
          let dg = new Float64Array(M); // tangent of g[L − 1] = r: zero
          for (let l = L - 1; l >= 0; l--) {
            const { nin, nout, w, b } = layers[l]!;
            for (let o = 0; o < nout; o++) {
              for (let i = 0; i < nin; i++) out[w + o * nin + i] += dg[o]! * a[l]![n]![i]! + g[l]![o]! * da[l]![i]!;
              out[b + o] += dg[o]!;
            }
            if (l === 0) break;
            const prev = new Float64Array(nin);
            for (let i = 0; i < nin; i++) {
              let ga = 0,
                dga = 0;
              for (let o = 0; o < nout; o++) {
                ga += g[l]![o]! * W(l, o, i);
                dga += dg[o]! * W(l, o, i) + g[l]![o]! * v[w + o * nin + i]!;
              }
              prev[i] = dga * d1[l - 1]![n]![i]! + ga * d2[l - 1]![n]![i]! * dz[l - 1]![i]!;
            }
            dg = prev;
          }
        }
        return out;
      },
    };
  }

  return { name: 'reference-mlp', inputs: sizes[0]!, outputs: M, dim: D, groups, forward, layers, sizes };
}

/** Per-sample Jacobians N × M × D by the explicit chain rule: ∂f/∂W_l = (∂f/∂z_l) ⊗ a_{l−1}, ∂f/∂b_l = ∂f/∂z_l. */
export function referenceJacobians(sizes: number[], activation: RefActivation, theta: Float64Array, X: Float64Array, rows: number): Float64Array {
  const model = referenceMlp({ sizes, activation });
  const L = sizes.length - 1,
    M = sizes[L]!,
    D = model.dim,
    d = sizes[0]!;
  const out = new Float64Array(rows * M * D);
  for (let n = 0; n < rows; n++) {
    // forward for one sample, keeping inputs a_l and σ'
    const a: Float64Array[] = [X.slice(n * d, (n + 1) * d)],
      d1: Float64Array[] = [];
    for (let l = 0; l < L; l++) {
      const { nin, nout, w, b } = model.layers[l]!;
      const z = new Float64Array(nout);
      for (let o = 0; o < nout; o++) {
        z[o] = theta[b + o]!;
        for (let i = 0; i < nin; i++) z[o] += theta[w + o * nin + i]! * a[l]![i]!;
      }
      if (l + 1 < L) {
        a.push(z.map((x) => activationRef(activation, x)[0]));
        d1.push(z.map((x) => activationRef(activation, x)[1]));
      }
    }
    // Jz[l] = ∂f/∂z_l (M × out_l): identity at the top, then Jz_{l−1} = Jz_l W_l diag(σ'_{l−1}).
    let Jz = Float64Array.from({ length: M * M }, (_, i) => (i % (M + 1) === 0 ? 1 : 0));
    for (let l = L - 1; l >= 0; l--) {
      const { nin, nout, w, b } = model.layers[l]!;
      for (let m = 0; m < M; m++) {
        const row = out.subarray((n * M + m) * D, (n * M + m + 1) * D);
        for (let o = 0; o < nout; o++) {
          for (let i = 0; i < nin; i++) row[w + o * nin + i] = Jz[m * nout + o]! * a[l]![i]!;
          row[b + o] = Jz[m * nout + o]!;
        }
      }
      if (l > 0) {
        const next = new Float64Array(M * nin);
        for (let m = 0; m < M; m++)
          for (let i = 0; i < nin; i++) {
            let s = 0;
            for (let o = 0; o < nout; o++) s += Jz[m * nout + o]! * theta[w + o * nin + i]!;
            next[m * nin + i] = s * d1[l - 1]![i]!;
          }
        Jz = next;
      }
    }
  }
  return out;
}

/** Central difference (g(x + h v) − g(x − h v)) / 2h of a vector function along v. */
export function centralDifference(g: (x: Float64Array) => Float64Array, x: Float64Array, v: Float64Array, h: number): Float64Array {
  const xp = x.map((xi, i) => xi + h * v[i]!),
    xm = x.map((xi, i) => xi - h * v[i]!);
  const fp = g(xp),
    fm = g(xm);
  return fp.map((p, i) => (p - fm[i]!) / (2 * h));
}
