// MLP layer kernels (assembly/nn/activation.ts, assembly/nn/dense.ts) against plain TypeScript.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core, EPS, randomMatrix, reductionTol, assertClose } from '../helpers.js';
import { activationRef, type RefActivation } from '../reference/mlp.js';
import { activationKind } from '../../bindings/models/activations.js';

const k = core.exports;
const NAMES: RefActivation[] = ['tanh', 'sigmoid', 'relu', 'softplus', 'gelu', 'identity'];

/** Run actForward on z; returns [a, d1, d2] copies. inPlace: a written over z. */
function runAct(name: RefActivation, z: Float64Array, inPlace = false): [Float64Array, Float64Array, Float64Array] {
  const n = z.length;
  const pz = core.allocCopy(z),
    pa = inPlace ? pz : core.alloc(8 * n),
    p1 = core.alloc(8 * n),
    p2 = core.alloc(8 * n);
  k.actForward(activationKind(name), n, pz, pa, p1, p2);
  const out: [Float64Array, Float64Array, Float64Array] = [core.f64(pa, n).slice(), core.f64(p1, n).slice(), core.f64(p2, n).slice()];
  core.free(pz);
  if (!inPlace) core.free(pa);
  core.free(p1);
  core.free(p2);
  return out;
}

// Ordinary values, odd count, the kinks and thresholds, and large |x|.
const XS = Float64Array.from([...randomMatrix(1, 37, 5).map((x) => 3 * x), 0, -0, 1e-300, -1e-300, 19.999, 20, 20.000001, 25, -20, -25, 30, -30, 40, -40, 300, -300, 709, -745, 1e308, -1e308]);

test('actForward matches the plain-TS σ, σ′, σ″ for every activation (few-ulp, scaled by the cancelling terms)', () => {
  for (const name of NAMES) {
    const [a, d1, d2] = runAct(name, XS);
    for (let i = 0; i < XS.length; i++) {
      const x = XS[i]!;
      const [ea, e1, e2] = activationRef(name, x);
      // Libm tanh/exp/log1p may differ by an ulp between V8 and AssemblyScript; derivative
      // formulas (1 − t², ½x(1 + t)…) cancel terms of size ≤ 1 + |x|.
      const scale = 1 + Math.min(Math.abs(x), 1e3);
      for (const [got, want, what] of [
        [a[i]!, ea, 'σ'],
        [d1[i]!, e1, 'σ′'],
        [d2[i]!, e2, 'σ″'],
      ] as const) {
        if (Number.isFinite(want)) {
          const tol = 32 * EPS * (Math.abs(want) + (name === 'identity' || name === 'relu' ? 0 : scale * (what === 'σ' ? 1 : scale)));
          assert.ok(Math.abs(got - want) <= tol, `${name} ${what}(${x}) = ${got}, expected ${want}`);
        } else {
          assert.ok(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${name} ${what}(${x}) = ${got}, expected ${want}`);
        }
      }
    }
  }
});

test('PyTorch conventions: relu′(0) = 0, softplus threshold 20, saturation without NaN', () => {
  const [ra, r1, r2] = runAct('relu', Float64Array.from([0, -0, 1e-300, -1e-300, 2]));
  assert.equal(Array.from(ra), [0, 0, 1e-300, 0, 2]);
  assert.equal(Array.from(r1), [0, 0, 1, 0, 1]);
  assert.equal(Array.from(r2), [0, 0, 0, 0, 0]);
  const [sa, s1, s2] = runAct('softplus', Float64Array.from([20, 20.5, 19.5, -800]));
  assert.is(sa[1], 20.5);
  assert.is(s1[1], 1);
  assert.is(s2[1], 0); // x > 20: identity
  assert.ok(sa[0]! > 20 && sa[0]! < 20 + 3e-9, 'x = 20 is still log1p(e^x)');
  assert.ok(Math.abs(s1[0]! - 1 / (1 + Math.exp(-20))) <= 2 * EPS, 'softplus′(20) = sigmoid(20)');
  assert.ok(Math.abs(sa[2]! - Math.log1p(Math.exp(19.5))) <= 4 * EPS * 20);
  assert.is(sa[3], 0);
  assert.is(s1[3], 0);
  // sigmoid and tanh at large |x|: exact saturation, tiny derivatives with full relative accuracy.
  const [ga, g1, g2] = runAct('sigmoid', Float64Array.from([-40, 40, -800, 800]));
  assert.ok(Math.abs(ga[0]! / Math.exp(-40) - 1) < 8 * EPS, 'sigmoid(−40) ≈ e^−40');
  assert.ok(Math.abs(g1[0]! / Math.exp(-40) - 1) < 8 * EPS && Math.abs(g1[1]! / Math.exp(-40) - 1) < 8 * EPS, 'sigmoid′(±40) ≈ e^−40, no cancellation');
  assert.ok(Math.abs(g2[1]! / -Math.exp(-40) - 1) < 8 * EPS, 'sigmoid″(40) ≈ −e^−40');
  assert.equal(Array.from(ga.slice(2)), [0, 1]);
  assert.equal(Array.from(g1.slice(2)), [0, 0]);
  const [ta, t1, t2] = runAct('tanh', Float64Array.from([-1e308, 1e308, 30, -30]));
  assert.equal(Array.from(ta), [-1, 1, 1, -1]);
  assert.equal(Array.from(t1.slice(0, 2)), [0, 0]);
  // tanh′ = 4e^{−2|x|}/(1 + e^{−2|x|})² keeps its relative accuracy where 1 − t² (PyTorch) rounds to 0.
  assert.ok(Math.abs(t1[2]! / (4 * Math.exp(-60)) - 1) < 8 * EPS && t1[3] === t1[2], 'tanh′(±30) ≈ 4e^−60');
  assert.ok(Math.abs(t2[2]! / (-8 * Math.exp(-60)) - 1) < 8 * EPS && t2[3] === -t2[2]!, 'tanh″(30) ≈ −8e^−60, odd');
  const [ea, e1] = runAct('gelu', Float64Array.from([-1e3, 1e3, 0]));
  assert.equal(Array.from(ea), [-0, 1e3, 0]);
  assert.equal(Array.from(e1), [0, 1, 0.5]);
});

test('SIMD tanh / sigmoid: few-ulp relative accuracy over a dense sweep (values and σ′)', () => {
  // 20001 points on [−25, 25] plus tiny magnitudes where tanh x ≈ x and cancellation would show.
  const xs = Float64Array.from([...Array.from({ length: 20001 }, (_, i) => -25 + i * 0.0025 + 1e-7), 1e-300, -3e-200, 1e-17, -2e-9, 1e-5]);
  const [ta, t1] = runAct('tanh', xs);
  const [sa, s1] = runAct('sigmoid', xs);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const e2 = Math.exp(-2 * Math.abs(x)),
      e1 = Math.exp(-Math.abs(x));
    const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);
    // references: Math.tanh (≤ 1 ulp), 4e/(1 + e)² and the sigmoid forms from Math.exp (≤ 3 ulp)
    const errs = [rel(ta[i]!, Math.tanh(x)), rel(t1[i]!, (4 * e2) / (1 + e2) ** 2), rel(sa[i]!, x >= 0 ? 1 / (1 + e1) : e1 / (1 + e1)), rel(s1[i]!, e1 / (1 + e1) ** 2)];
    for (const [j, r] of errs.entries()) {
      worst = Math.max(worst, r);
      assert.ok(r <= 8 * EPS, `${['tanh', 'tanh′', 'sigmoid', 'sigmoid′'][j]}(${x}): relative error ${r / EPS} ulp`);
    }
  }
  assert.ok(worst > 0, 'the comparison is not vacuous');
});

test('actForward in place (a = z) and with σ′/σ″ skipped', () => {
  for (const name of NAMES) {
    const [a] = runAct(name, XS);
    const [ai] = runAct(name, XS, true);
    assert.equal(Array.from(ai), Array.from(a), name);
    const n = XS.length;
    const pz = core.allocCopy(XS),
      pa = core.alloc(8 * n),
      pd = core.allocCopy(new Float64Array(n).fill(7));
    k.actForward(activationKind(name), n, pz, pa, 0, pd);
    assert.equal(Array.from(core.f64(pa, n)), Array.from(a), `${name} value with d1 skipped`);
    k.actForward(activationKind(name), n, pz, pa, 0, 0);
    assert.equal(Array.from(core.f64(pa, n)), Array.from(a), `${name} value only`);
    core.free(pz);
    core.free(pa);
    core.free(pd);
  }
});

test('tanhSecond: σ″ = (−2·a)·σ′ from the kept value and σ′ — bitwise actForward’s σ″ in float64, in place too; float32 within 2 ulp', () => {
  const n = XS.length;
  const [a, d1, d2] = runAct('tanh', XS);
  const pa = core.allocCopy(a),
    p1 = core.allocCopy(d1),
    po = core.alloc(8 * n);
  k.tanhSecond(n, pa, p1, po);
  assert.equal(Array.from(core.f64(po, n)), Array.from(d2), 'the forward kernel’s σ″, bit for bit');
  k.tanhSecond(n, pa, p1, p1); // d2 over d1
  assert.equal(Array.from(core.f64(p1, n)), Array.from(d2), 'in place');
  for (const p of [pa, p1, po]) core.free(p);
  // float32: actForward32's planes, then σ″ from the rounded value and σ′
  const z32 = Float32Array.from(XS.filter((x) => Math.abs(x) < 3e38));
  const m = z32.length;
  const qz = core.alloc(4 * m),
    qa = core.alloc(4 * m),
    q1 = core.alloc(4 * m),
    q2 = core.alloc(4 * m),
    qo = core.alloc(4 * m);
  core.f32(qz, m).set(z32);
  k.actForward32(1, m, qz, qa, q1, q2);
  k.tanhSecond32(m, qa, q1, qo);
  const want = core.f32(q2, m).slice(),
    got = core.f32(qo, m).slice();
  let nonzero = 0;
  for (let i = 0; i < m; i++) {
    const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(want[i]!), 2 ** -126))) - 23);
    assert.ok(Math.abs(got[i]! - want[i]!) <= 2 * ulp, `z = ${z32[i]}: ${got[i]} vs ${want[i]}`);
    if (want[i] !== 0) nonzero++;
  }
  assert.ok(nonzero > 30, 'the comparison is not vacuous');
  for (const p of [qz, qa, q1, q2, qo]) core.free(p);
});

/** Copy arrays in, run fn(ptrs), copy `out` (index, length) back. */
function run(inputs: Float64Array[], outLen: number, fn: (...p: number[]) => void): Float64Array {
  const ps = inputs.map((x) => core.allocCopy(x.length ? x : [0]));
  const po = core.alloc(8 * Math.max(outLen, 1));
  core.f64(po, outLen).fill(NaN);
  fn(...ps, po);
  const out = core.f64(po, outLen).slice();
  for (const p of ps) core.free(p);
  core.free(po);
  return out;
}

test('denseMulRep, denseColSums, denseRowSqSums, densePairOuter on odd sizes', () => {
  for (const [n, kk, c, q] of [
    [1, 1, 1, 1],
    [3, 2, 5, 3],
    [4, 3, 7, 2],
    [2, 9, 6, 5],
  ] as const) {
    const d = randomMatrix(n, c, 1),
      x = randomMatrix(n * kk, c, 2),
      y = randomMatrix(n * kk, q, 3);
    const mr = run([d, x], n * kk * c, (pd, px, po) => k.denseMulRep(n, kk, c, pd!, px!, po!));
    assertClose(
      mr,
      x.map((v, i) => v * d[Math.floor(i / (kk * c)) * c + (i % c)]!),
      0,
      'mulRep',
    );
    const cs = run([x], c, (px, po) => k.denseColSums(n * kk, c, px!, c, 0.5, po!));
    const csRef = Array.from({ length: c }, (_, j) => {
      let s = 0;
      for (let r = 0; r < n * kk; r++) s += x[r * c + j]!;
      return 0.5 * s;
    });
    assertClose(cs, csRef, reductionTol(n * kk, 10), 'colSums');
    const sq = run([x], n * c, (px, po) => k.denseRowSqSums(n, kk, c, px!, po!));
    const po = run([x, y], n * c * q, (px, py, pp) => k.densePairOuter(n, kk, c, q, px!, py!, pp!));
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < c; s++) {
        let e = 0;
        for (let r = i * kk; r < (i + 1) * kk; r++) e += x[r * c + s]! ** 2;
        assert.ok(Math.abs(sq[i * c + s]! - e) <= reductionTol(kk, 100), 'rowSqSums');
        for (let t = 0; t < q; t++) {
          let p = 0;
          for (let r = i * kk; r < (i + 1) * kk; r++) p += x[r * c + s]! * y[r * q + t]!;
          assert.ok(Math.abs(po[i * c * q + s * q + t]! - p) <= reductionTol(kk, 100), 'pairOuter');
        }
      }
    }
  }
});

test('densePairOuterLower is the packed lower triangle of densePairOuter(x, x)', () => {
  for (const [n, kk, p] of [
    [1, 1, 1],
    [3, 2, 5],
    [2, 9, 4],
    [4, 3, 7],
  ] as const) {
    const x = randomMatrix(n * kk, p, 7 + p);
    const full = run([x, x], n * p * p, (a, b, o) => k.densePairOuter(n, kk, p, p, a!, b!, o!));
    const P = (p * (p + 1)) / 2;
    const low = run([x], n * P, (a, o) => k.densePairOuterLower(n, kk, p, a!, o!));
    for (let i = 0; i < n; i++)
      for (let s2 = 0; s2 < p; s2++)
        for (let t = 0; t <= s2; t++) {
          assert.ok(Math.abs(low[i * P + (s2 * (s2 + 1)) / 2 + t]! - full[i * p * p + s2 * p + t]!) <= reductionTol(kk, 100));
        }
  }
});

test('denseOuterRows writes δ ⊗ a then δ into rows with a leading dimension', () => {
  const n = 3,
    kk = 2,
    o = 3,
    m = 5,
    lda = 6,
    ld = 25,
    off = 2;
  const delta = randomMatrix(n * kk, o, 4),
    a = randomMatrix(n, lda, 5);
  const out = run([delta, a], n * kk * ld, (pd, pa, po) => k.denseOuterRows(n, kk, o, m, pd!, pa!, lda, po! + 8 * off, ld));
  for (let r = 0; r < n * kk; r++) {
    const i = Math.floor(r / kk);
    for (let p = 0; p < o; p++) {
      for (let j = 0; j < m; j++) assert.is(out[r * ld + off + p * m + j], delta[r * o + p]! * a[i * lda + j]!);
      assert.is(out[r * ld + off + o * m + p], delta[r * o + p]);
    }
    assert.ok(Number.isNaN(out[r * ld + off + o * m + o]!) && Number.isNaN(out[r * ld + off - 1]!), 'nothing outside the layer block is written');
  }
});

test('denseScatterKron maps Kronecker order to θ order (W row-major, bias last)', () => {
  const o1 = 2,
    m1 = 3,
    o2 = 3,
    m2 = 2,
    ldc = 20;
  const t = Float64Array.from({ length: o1 * o2 * (m1 + 1) * (m2 + 1) }, (_, i) => i + 1);
  const C = run([t], o1 * (m1 + 1) * ldc, (pt, pc) => k.denseScatterKron(o1, m1, o2, m2, pt!, pc!, ldc));
  const idx = (o: number, i: number, oc: number, mc: number) => (i < mc ? o * mc + i : oc * mc + o);
  for (let p = 0; p < o1; p++)
    for (let q = 0; q < o2; q++)
      for (let i = 0; i <= m1; i++)
        for (let j = 0; j <= m2; j++) {
          assert.is(C[idx(p, i, o1, m1) * ldc + idx(q, j, o2, m2)], t[(p * o2 + q) * (m1 + 1) * (m2 + 1) + i * (m2 + 1) + j]);
        }
});

test.run();
