// Matrix-free solvers and estimates (bindings/solvers/*) against dense eigen()/Cholesky on small problems.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, randomMatrix, relErr } from '../helpers.js';
import { mlp, problem, categorical, SymMatrix, type Problem } from '../../bindings/index.js';
import { curvatureOperator } from '../../bindings/operators/curvature.js';
import { cg, lanczos, topEigenvalues, spectralDensity, traceEstimate, diagonalEstimate, kfacInverse } from '../../bindings/solvers/index.js';
import type { LinearOperator } from '../../bindings/operators/operator.js';

const N = 24;
function setup(): { p: Problem; theta: Float64Array } {
  const model = mlp({ sizes: [3, 5, 4, 3], activation: 'tanh', core });
  const X = randomMatrix(N, 3, 1);
  const y = Float64Array.from({ length: N }, (_, n) => (n * 7) % 3);
  const p = problem({ model, X: { data: X, rows: N, cols: 3 }, y, likelihood: categorical({ classes: 3 }) });
  return { p, theta: model.init(1).map((t, i) => 3 * t + 0.2 * Math.cos(i)) };
}

function denseOp(A: Float64Array, D: number): LinearOperator {
  return {
    dim: D,
    matvec: (v) => {
      const o = new Float64Array(D);
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += A[i * D + j]! * v[j]!;
        o[i] = s;
      }
      return o;
    },
  };
}

function spd(D: number, seed: number, cond = 100): Float64Array {
  // Q diag Qᵀ with eigenvalues spread geometrically in [1, cond].
  const B = randomMatrix(D, D, seed),
    A = new Float64Array(D * D);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += B[i * D + k]! * B[j * D + k]!;
      A[i * D + j] = s / D;
    }
  for (let i = 0; i < D; i++) A[i * D + i]! += 1 / cond;
  return A;
}

test('topEigenvalues: both ends of an indefinite MLP Hessian equal dense eigen() to 1e-8 relative', () => {
  const { p, theta } = setup();
  const H = p.hessian(theta);
  const ev = H.eigenvalues();
  H.free();
  const D = p.dim;
  assert.ok(ev[0]! < 0 && ev[D - 1]! > 0, `the Hessian is indefinite (${ev[0]}, ${ev[D - 1]})`);
  const op = curvatureOperator(p, theta, { kind: 'hessian' });
  const r = topEigenvalues(op, { k: 3, which: 'both', tol: 1e-12, maxIterations: D, seed: 4 });
  assert.ok(r.converged);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(r.smallest[i]! - ev[i]!) <= 1e-8 * Math.abs(ev[i]!), `smallest ${i}: ${r.smallest[i]} vs ${ev[i]}`);
    assert.ok(Math.abs(r.largest[i]! - ev[D - 1 - i]!) <= 1e-8 * Math.abs(ev[D - 1 - i]!), `largest ${i}: ${r.largest[i]} vs ${ev[D - 1 - i]}`);
  }
  assert.is(r.values.length, 6);
  p.free();
});

test('topEigenvalues: largest of the GGN (PSD) and Ritz vectors with their residuals', () => {
  const { p, theta } = setup();
  const F = p.ggn(theta);
  const ev = F.eigenvalues();
  F.free();
  const D = p.dim;
  const op = curvatureOperator(p, theta, { kind: 'ggn' });
  const r = topEigenvalues(op, { k: 2, which: 'largest', tol: 1e-11, vectors: true, maxIterations: D });
  assert.ok(r.converged, `converged in ${r.iterations}`);
  assert.ok(r.iterations < D, 'converges before D steps');
  assert.ok(Math.abs(r.values[0]! - ev[D - 1]!) <= 1e-8 * ev[D - 1]!);
  assert.ok(Math.abs(r.values[1]! - ev[D - 2]!) <= 1e-8 * ev[D - 2]!);
  for (let i = 0; i < 2; i++) {
    const y = r.vectors![i]!,
      Ay = op.matvec(y);
    let res = 0;
    for (let j = 0; j < D; j++) res += (Ay[j]! - r.values[i]! * y[j]!) ** 2;
    assert.ok(Math.sqrt(res) <= 1e-9 * ev[D - 1]!, `Ritz residual ${Math.sqrt(res)}`);
  }
  p.free();
});

test('topEigenvalues: a rank-deficient operator (invariant subspace) and k = D', () => {
  const D = 6,
    A = new Float64Array(D * D);
  for (const [i, l] of [
    [0, 3],
    [2, -1],
    [4, 2],
  ] as const)
    A[i * D + i] = l; // rank 3, Rademacher start hits an invariant subspace of dim ≤ 4
  const r = topEigenvalues(denseOp(A, D), { k: D, which: 'smallest' });
  assert.ok(r.converged);
  assert.equal(
    Array.from(r.values).map((x) => Math.round(x * 1e9) / 1e9),
    [-1, 0, 0, 0, 2, 3],
  );
});

test('lanczos: T = Qᵀ A Q and Q orthonormal (full reorthogonalization)', () => {
  const D = 40,
    A = spd(D, 3, 1e6);
  const op = denseOp(A, D);
  const r = lanczos(op, { steps: 30, keepBasis: true, seed: 2 });
  assert.is(r.steps, 30);
  const Q = r.basis!;
  for (let i = 0; i < 30; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < D; t++) s += Q[i]![t]! * Q[j]![t]!;
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-13, `q${i}·q${j} = ${s}`);
    }
  const AQ = op.matvec(Q[5]!);
  let a = 0;
  for (let t = 0; t < D; t++) a += Q[5]![t]! * AQ[t]!;
  assert.ok(Math.abs(a - r.alpha[5]!) < 1e-12 * Math.abs(r.alpha[5]!));
});

test('cg: equals the Cholesky solve of the damped GGN (1e-8 relative), with and without preconditioners', () => {
  const { p, theta } = setup();
  const D = p.dim,
    lambda = 1e-3;
  const F = p.ggn(theta);
  const b = randomMatrix(D, 1, 5);
  const x = F.solve(b, { damping: lambda });
  const op = curvatureOperator(p, theta, { kind: 'ggn' });
  const plain = cg(op, b, { damping: lambda, tol: 1e-13, maxIterations: 10 * D });
  assert.ok(plain.converged, `plain CG ${plain.iterations} ${plain.residual}`);
  assert.ok(relErr(plain.x, x) <= 1e-8, `plain ${relErr(plain.x, x)}`);
  const diag = F.diagonal().map((d) => d + lambda);
  const pre = cg(op, b, { damping: lambda, tol: 1e-13, maxIterations: 10 * D, preconditioner: diag });
  assert.ok(pre.converged && relErr(pre.x, x) <= 1e-8, `diag ${relErr(pre.x, x)}`);
  const factors = p.fisher(theta, { structure: 'kfac' });
  const kp = cg(op, b, { damping: lambda, tol: 1e-13, maxIterations: 10 * D, preconditioner: { factors, groups: p.model.groups, damping: lambda } });
  assert.ok(kp.converged && relErr(kp.x, x) <= 1e-8, `kfac ${relErr(kp.x, x)}`);
  // The product field is (A + λI) x.
  const Ax = F.matvec(plain.x).map((v, i) => v + lambda * plain.x[i]!);
  assert.ok(relErr(plain.product, Ax) < 1e-10);
  for (const f of factors) {
    f.A.free();
    f.G.free();
  }
  F.free();
  p.free();
});

test('cg: non-convergence is flagged, negative curvature is reported, b = 0 gives 0', () => {
  const D = 50,
    A = spd(D, 7, 1e8);
  const b = randomMatrix(D, 1, 8);
  const r = cg(denseOp(A, D), b, { maxIterations: 5, tol: 1e-12 });
  assert.is(r.converged, false);
  assert.is(r.reason, 'maxIterations');
  assert.is(r.iterations, 5);
  assert.ok(r.residual > 1e-12);
  const I = new Float64Array(4);
  const neg = { dim: 4, matvec: (v: Float64Array) => v.map((x, i) => (i === 0 ? -x : x)) };
  const n = cg(neg, Float64Array.of(1, 0, 0, 0));
  assert.is(n.converged, false);
  assert.is(n.reason, 'negativeCurvature');
  const z = cg(denseOp(A, D), new Float64Array(D));
  assert.ok(z.converged && z.iterations === 0 && z.x.every((x) => x === 0));
  void I;
});

test('kfacInverse: equals the dense inverse of (G + γ_G I) ⊗ (A + γ_A I) permuted to θ order', () => {
  const { p, theta } = setup();
  const fac = p.fisher(theta, { structure: 'kfac' });
  const lambda = 0.05;
  const inv = kfacInverse(fac, p.model.groups, { damping: lambda });
  const r = randomMatrix(p.dim, 1, 3);
  const y = inv.apply(r);
  for (const [l, g] of p.model.groups.entries()) {
    const { inputs: nin, outputs: q } = g.dense!,
      pdim = nin + 1;
    const A = fac[l]!.A.toDense(),
      G = fac[l]!.G.toDense();
    const ta = fac[l]!.A.trace() / pdim,
      tg = fac[l]!.G.trace() / q,
      pi = Math.sqrt(ta / tg);
    const gA = pi * Math.sqrt(lambda),
      gG = Math.sqrt(lambda) / pi;
    assert.ok(Math.abs(inv.dampings[l]!.gammaA - gA) < 1e-15 * gA);
    // θ index of [W | b] coordinate (o, i).
    const idx = (o: number, i: number) => g.offset + (i < nin ? o * nin + i : q * nin + o);
    const n = q * pdim,
      K = new Float64Array(n * n);
    for (let o = 0; o < q; o++)
      for (let i = 0; i < pdim; i++)
        for (let o2 = 0; o2 < q; o2++)
          for (let i2 = 0; i2 < pdim; i2++) {
            const a = idx(o, i) - g.offset,
              b = idx(o2, i2) - g.offset;
            K[a * n + b] = (G[o * q + o2]! + (o === o2 ? gG : 0)) * (A[i * pdim + i2]! + (i === i2 ? gA : 0));
          }
    const S = SymMatrix.from({ data: K, rows: n, cols: n });
    const x = S.solve(r.subarray(g.offset, g.offset + g.size));
    S.free();
    assert.ok(relErr(y.subarray(g.offset, g.offset + g.size), x) < 1e-10, `layer ${l}: ${relErr(y.subarray(g.offset, g.offset + g.size), x)}`);
  }
  inv.free();
  for (const f of fac) {
    f.A.free();
    f.G.free();
  }
  p.free();
});

test('traceEstimate: Hutchinson within 4 standard errors of the exact trace, error shrinking with probes; Hutch++ more accurate on a decaying spectrum', () => {
  const { p, theta } = setup();
  const F = p.ggn(theta);
  const exact = F.trace();
  const D = p.dim;
  const Fd = F.toDense();
  F.free();
  let offsq = 0;
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) if (i !== j) offsq += Fd[i * D + j]! ** 2;
  const op = curvatureOperator(p, theta, { kind: 'ggn' });
  for (const m of [50, 800]) {
    const r = traceEstimate(op, { probes: m, seed: 3 });
    const sd = Math.sqrt((2 * offsq) / m); // the exact standard deviation of Hutchinson with Rademacher probes
    assert.ok(Math.abs(r.estimate - exact) <= 4 * sd, `m = ${m}: ${r.estimate} vs ${exact} (sd ${sd})`);
    assert.ok(r.standardError > 0.5 * sd && r.standardError < 2 * sd, `estimated se ${r.standardError} vs ${sd}`);
    assert.is(r.products, m);
  }
  const hpp = traceEstimate(op, { probes: 60, seed: 3, method: 'hutch++' });
  const h = traceEstimate(op, { probes: 60, seed: 3 });
  assert.ok(Math.abs(hpp.estimate - exact) < Math.abs(h.estimate - exact) || Math.abs(hpp.estimate - exact) < 1e-3 * exact, `hutch++ ${hpp.estimate} hutchinson ${h.estimate} exact ${exact}`);
  assert.ok(Math.abs(hpp.estimate - exact) <= 4 * hpp.standardError + 1e-12 * exact);
  p.free();
});

test('diagonalEstimate: within 4 standard errors entrywise (exact variance Σ_{k≠j} A_jk² / m)', () => {
  const D = 30,
    A = spd(D, 11, 10);
  const m = 400;
  const r = diagonalEstimate(denseOp(A, D), { probes: m, seed: 5 });
  let bad = 0;
  for (let j = 0; j < D; j++) {
    let v = 0;
    for (let k = 0; k < D; k++) if (k !== j) v += A[j * D + k]! ** 2;
    if (Math.abs(r.estimate[j]! - A[j * D + j]!) > 4 * Math.sqrt(v / m)) bad++;
  }
  assert.is(bad, 0);
  const diagOnly = new Float64Array(D * D);
  for (let j = 0; j < D; j++) diagOnly[j * D + j] = j + 1;
  const exact = diagonalEstimate(denseOp(diagOnly, D), { probes: 1 });
  assert.equal(
    Array.from(exact.estimate),
    Array.from({ length: D }, (_, j) => j + 1),
  );
});

test('spectralDensity: weights sum to 1, the density integrates to 1, and with steps = D the nodes are the eigenvalues', () => {
  const { p, theta } = setup();
  const H = p.hessian(theta);
  const ev = H.eigenvalues();
  const tr = H.trace();
  H.free();
  const D = p.dim;
  const op = curvatureOperator(p, theta, { kind: 'hessian' });
  const r = spectralDensity(op, { probes: 4, steps: D, seed: 1, gridSize: 2000 });
  for (const w of r.weights) assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const h = r.grid[1]! - r.grid[0]!;
  const integral = r.density.reduce((a, b) => a + b, 0) * h;
  assert.ok(Math.abs(integral - 1) < 1e-3, `∫φ = ${integral}`);
  // Extreme nodes are eigenvalues (Lanczos run to invariance).
  assert.ok(Math.abs(r.nodes[0]![0]! - ev[0]!) < 1e-8 * Math.abs(ev[0]!));
  assert.ok(Math.abs(r.nodes[0]!.at(-1)! - ev[D - 1]!) < 1e-8 * Math.abs(ev[D - 1]!));
  assert.ok(Number.isFinite(r.trace) && Math.abs(r.trace - tr) < 0.5 * Math.abs(tr) + 10 * Math.abs(ev[D - 1]!));
  p.free();
});

test('onProgress and AbortSignal', () => {
  const D = 20,
    A = spd(D, 2);
  const op = denseOp(A, D);
  const seen: number[] = [];
  cg(op, randomMatrix(D, 1, 1), { onProgress: (q) => seen.push(q.iteration) });
  assert.ok(seen.length > 0 && seen[0] === 1);
  const ac = new AbortController();
  let n = 0;
  assert.throws(
    () =>
      topEigenvalues(op, {
        k: 2,
        tol: 1e-15,
        maxIterations: D,
        signal: ac.signal,
        onProgress: () => {
          if (++n === 3) ac.abort(new Error('stop here'));
        },
      }),
    /stop here/,
  );
  ac.abort();
  assert.throws(() => traceEstimate(op, { signal: ac.signal }));
});

test('bad input: dim mismatch, non-finite vectors, negative damping, k > dim, bad preconditioners', () => {
  const D = 5,
    A = spd(D, 1);
  const op = denseOp(A, D);
  assert.throws(() => cg(op, new Float64Array(4)), RangeError);
  assert.throws(() => cg(op, Float64Array.of(1, 2, NaN, 4, 5)), RangeError);
  assert.throws(() => cg(op, new Float64Array(D).fill(1), { damping: -1 }), RangeError);
  assert.throws(() => cg(op, new Float64Array(D).fill(1), { preconditioner: new Float64Array(D) }), RangeError);
  assert.throws(() => cg(op, new Float64Array(D).fill(1), { preconditioner: new Float64Array(3).fill(1) }), RangeError);
  assert.throws(() => topEigenvalues(op, { k: 6 }), RangeError);
  assert.throws(() => topEigenvalues(op, { which: 'middle' as 'largest' }), RangeError);
  assert.throws(() => lanczos(op, { steps: 6 }), RangeError);
  // An operator whose dim does not match its products.
  const liar: LinearOperator = { dim: 6, matvec: (v) => op.matvec(v.subarray(0, 5)) };
  assert.throws(() => cg(liar, new Float64Array(6).fill(1)), /dim does not match/);
  assert.throws(() => topEigenvalues(liar), /dim does not match/);
  assert.throws(() => traceEstimate(liar), /dim does not match/);
  const nan: LinearOperator = { dim: 5, matvec: (v) => v.map(() => NaN) };
  assert.throws(() => diagonalEstimate(nan), /non-finite/);
  assert.throws(() => cg({ dim: 0, matvec: (v) => v }, new Float64Array(0)), RangeError);
  assert.throws(() => cg({ dim: 3 } as unknown as LinearOperator, new Float64Array(3)), TypeError);
  assert.throws(() => traceEstimate(op, { method: 'hutch++', probes: 2 }), RangeError);
});

test.run();
