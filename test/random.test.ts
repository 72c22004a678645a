/**
 * Random generators: numpy's legacy RandomState against values printed by numpy 2.4 (glibc
 * 2.36, x86-64 with FMA), xoshiro256** against a BigInt reference, and the samplers' moments
 * and frequencies with fixed seeds and 5σ tolerances.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expCorrectlyRounded, fma, logCorrectlyRounded, numpyRandomState, rng, Xoshiro256 } from '../bindings/data/random.js';

// ---------------------------------------------------------------------------------------------
// numpy RandomState — reference values from
//   r = np.random.RandomState(seed); r.random_sample(5) / r.standard_normal(5) / ...
// ---------------------------------------------------------------------------------------------

const NUMPY = {
  0: {
    sample: [0.5488135039273248, 0.7151893663724195, 0.6027633760716439, 0.5448831829968969, 0.4236547993389047],
    normal: [1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458, 1.8675579901499675],
    lognormal: [3.7548159128575267, 1.3500179737835067, 2.0835089928198847, 5.369151558059865, 4.057911744365255],
    randint10: [5, 0, 3, 3, 7, 9, 3, 5, 2, 4],
    randintNeg: [2, 1, 3, 3, 5],
    randint32: 2051556033,
    // standard_normal(), random_sample(), standard_normal(), normal(3, 2), uniform(-2, 5), lognormal(1, 0.5)
    mixed: [1.764052345967664, 0.6027633760716439, 0.4001572083672233, -1.536656402360748, 2.521258791466593, 5.295051424006087],
    // random_sample(100000): left-to-right sum and last value
    sampleSum: 49950.00330115056,
    sampleLast: 0.22575585618341354,
    // standard_normal(10000): Σx, Σx², Σ(i+1)x, x[9998], x[9999]
    normalSums: [-184.33720158265783, 9756.077773866718, -941300.361251944],
    normalTail: [-0.03292069305061399, 1.2981114320305154],
  },
  12345: {
    sample: [0.9296160928171479, 0.3163755545817859, 0.18391881167709445, 0.2045602785530397, 0.5677250290816866],
    normal: [-0.20470765948471295, 0.47894333805754824, -0.5194387150567381, -0.55573030434749, 1.9657805725027142],
    lognormal: [0.8576743949256628, 1.4321939560606645, 0.6773419508693987, 0.6591542347343399, 4.368131875992318],
    randint10: [2, 5, 1, 4, 9, 5, 2, 1, 6, 1],
    randintNeg: [6, 4, 6, 2, 1],
    randint32: 3211410640,
    mixed: [-0.20470765948471295, 0.18391881167709445, 0.47894333805754824, 3.6323200167124297, 2.1688129208547604, 1.3639719558074819],
    sampleSum: 50032.48620356016,
    sampleLast: 0.6327362346213508,
    normalSums: [-107.35824447477025, 9968.324839740308, -921656.0289951528],
    normalTail: [-1.2147230949662449, 0.6549886591834755],
  },
} as const;

for (const seed of [0, 12345] as const) {
  const ref = NUMPY[seed];

  test(`numpy seed ${seed}: random_sample, standard_normal, lognormal are bit-exact`, () => {
    assert.equal(Array.from(numpyRandomState(seed).randomSampleArray(5)), ref.sample);
    assert.equal(Array.from(numpyRandomState(seed).standardNormalArray(5)), ref.normal);
    const r = numpyRandomState(seed);
    assert.equal(
      Array.from({ length: 5 }, () => r.lognormal(0, 0.75)),
      ref.lognormal,
    );
  });

  test(`numpy seed ${seed}: interleaved draws share the Gaussian cache as numpy's do`, () => {
    const r = numpyRandomState(seed);
    const got = [r.standardNormal(), r.randomSample(), r.standardNormal(), r.normal(3, 2), r.uniform(-2, 5), r.lognormal(1, 0.5)];
    assert.equal(got, ref.mixed);
  });

  test(`numpy seed ${seed}: randint (masked rejection)`, () => {
    const r = numpyRandomState(seed);
    assert.equal(
      Array.from({ length: 10 }, () => r.randint(0, 10)),
      ref.randint10,
    );
    assert.equal(
      Array.from({ length: 5 }, () => r.randint(-5, 7)),
      ref.randintNeg,
    );
    assert.is(r.randint(2 ** 32), ref.randint32);
  });

  test(`numpy seed ${seed}: 100,000 random_sample draws stay in sync (exact sum)`, () => {
    const a = numpyRandomState(seed).randomSampleArray(100000);
    let s = 0;
    for (const v of a) s += v;
    assert.is(s, ref.sampleSum);
    assert.is(a[99999], ref.sampleLast);
  });

  test(`numpy seed ${seed}: 10,000 standard_normal draws stay in sync`, () => {
    const a = numpyRandomState(seed).standardNormalArray(10000);
    let s = 0,
      q = 0,
      w = 0;
    a.forEach((v, i) => {
      s += v;
      q += v * v;
      w += (i + 1) * v;
    });
    // A draw may differ from numpy's in the last bit where glibc's log is not correctly rounded
    // (about 1 in 1,500 logs); a draw out of sync would change these sums by O(1).
    const [S, Q, W] = ref.normalSums;
    assert.ok(Math.abs(s - S) < 1e-11 && Math.abs(q - Q) < 1e-9 && Math.abs(w - W) < 1e-7, `sums ${s} ${q} ${w}`);
    assert.equal([a[9998], a[9999]], ref.normalTail);
  });
}

test('numpy: extreme seeds and seed validation', () => {
  assert.is(numpyRandomState(4294967295).randomSample(), 0.0976320289940138);
  assert.is(numpyRandomState(2 ** 31).standardNormal(), 0.3184761273282464);
  for (const bad of [-1, 2 ** 32, 0.5, NaN]) assert.throws(() => numpyRandomState(bad), RangeError);
  const r = numpyRandomState(0);
  assert.throws(() => r.randint(3, 3), RangeError);
  assert.throws(() => r.randint(0, 2 ** 32 + 1), RangeError);
  assert.is(r.randint(7, 8), 7);
  assert.is(r.randomSample(), NUMPY[0].sample[0], 'randint with a single value consumes no draw');
});

// ---------------------------------------------------------------------------------------------
// Exact arithmetic helpers — reference values from mpmath at 200 bits / exact fractions
// ---------------------------------------------------------------------------------------------

test('logCorrectlyRounded / expCorrectlyRounded: correctly rounded where fdlibm is not', () => {
  // float(mpmath.log(x)), float(mpmath.exp(x)); Math.log/Math.exp miss some of these by 1 ulp.
  const logs: [number, number][] = [
    [0.8983774131025271, -0.10716501712225035],
    [0.628366954746784, -0.4646309603188614],
    [0.9245193184468341, -0.07848133227069923],
    [0.6091677168049102, -0.4956616521346496],
    [1 - 2 ** -53, -1.1102230246251565e-16],
    [5e-324, -744.4400719213812],
    [Math.E, 1],
  ];
  for (const [x, y] of logs) assert.is(logCorrectlyRounded(x), y, `log(${x})`);
  assert.is(logCorrectlyRounded(0), -Infinity);
  assert.ok(Number.isNaN(logCorrectlyRounded(-1)));
  const exps: [number, number][] = [
    [0, 1],
    [1, Math.E],
    [-1, 0.36787944117144233],
    [0.75 * 1.764052345967664, 3.7548159128575267],
    [700, 1.0142320547350045e304],
  ];
  for (const [x, y] of exps) assert.is(expCorrectlyRounded(x), y, `exp(${x})`);
});

test('fma rounds a·b + c once', () => {
  // (1 + 2⁻³⁰)² − (1 + 2⁻²⁹) = 2⁻⁶⁰ exactly; the unfused expression gives 0.
  assert.is(fma(1 + 2 ** -30, 1 + 2 ** -30, -(1 + 2 ** -29)), 2 ** -60);
  assert.is((1 + 2 ** -30) * (1 + 2 ** -30) - (1 + 2 ** -29), 0);
  assert.is(fma(0.1, 10, -1), 5.551115123125783e-17);
  assert.is(fma(2, 3, 4), 10);
  assert.ok(Number.isNaN(fma(Infinity, 0, 1)));
});

// ---------------------------------------------------------------------------------------------
// xoshiro256** against a BigInt reference
// ---------------------------------------------------------------------------------------------

const M64 = (1n << 64n) - 1n;
const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (64n - k))) & M64;

/** Textbook xoshiro256** with splitmix64 seeding, in BigInt. */
class RefXoshiro {
  s: bigint[] = [];
  constructor(seed: bigint) {
    let x = seed & M64;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b97f4a7c15n) & M64;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
      this.s.push(z ^ (z >> 31n));
    }
  }
  nextU64(): bigint {
    const s = this.s as [bigint, bigint, bigint, bigint];
    const result = (rotl((s[1] * 5n) & M64, 7n) * 9n) & M64;
    const t = (s[1] << 17n) & M64;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45n);
    return result;
  }
  next(): number {
    return Number(this.nextU64() >> 11n) / 2 ** 53;
  }
  jump(): void {
    const J = [0x180ec6d33cfd0aban, 0xd5a61266f0c9392cn, 0xa9582618e03fc9aan, 0x39abdc4529b1661cn];
    const acc = [0n, 0n, 0n, 0n];
    for (const j of J) {
      for (let b = 0n; b < 64n; b++) {
        if ((j >> b) & 1n) for (let i = 0; i < 4; i++) acc[i] = acc[i]! ^ this.s[i]!;
        this.nextU64();
      }
    }
    this.s = acc;
  }
}

test('xoshiro256**: 2,000 draws equal the BigInt reference for several seeds', () => {
  for (const seed of [0, 1, 42, 2 ** 53 - 1, -7]) {
    const g = rng(seed);
    const ref = new RefXoshiro(BigInt.asUintN(64, BigInt(seed)));
    for (let i = 0; i < 2000; i++) assert.is(g.next(), ref.next(), `seed ${seed}, draw ${i}`);
  }
  const big = new Xoshiro256(0xdeadbeefcafebaben);
  const refBig = new RefXoshiro(0xdeadbeefcafebaben);
  for (let i = 0; i < 100; i++) assert.is(big.uniform(), refBig.next());
});

test('xoshiro256**: jump, fork and clone', () => {
  const g = rng(9);
  g.next();
  const ref = new RefXoshiro(9n);
  ref.next();
  const [a, b, c] = g.fork(3) as [Xoshiro256, Xoshiro256, Xoshiro256];
  const draws = (x: { next(): number }) => Array.from({ length: 50 }, () => x.next());
  const ref0 = new RefXoshiro(9n);
  ref0.s = ref.s.slice();
  assert.equal(draws(a), draws(ref0), 'child 0 continues the parent state');
  ref.jump();
  ref0.s = ref.s.slice();
  assert.equal(draws(b), draws(ref0), 'child 1 is one jump ahead');
  ref.jump();
  ref0.s = ref.s.slice();
  assert.equal(draws(c), draws(ref0), 'child 2 is two jumps ahead');
  ref.jump();
  assert.equal(draws(g), draws(ref), 'the parent continues three jumps ahead');
  const d = g.clone();
  assert.equal(draws(d), draws(g));
  g.longJump();
  assert.not.equal(draws(d), draws(g));
  assert.throws(() => rng(0.5), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Moments and frequencies (fixed seeds; tolerances are 5 standard errors)
// ---------------------------------------------------------------------------------------------

const N = 100000;

function moments(draw: () => number, n = N): { mean: number; variance: number; m3: number; m4: number } {
  let s = 0,
    s2 = 0;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = draw();
    s += xs[i]!;
  }
  const mean = s / n;
  let m3 = 0,
    m4 = 0;
  for (const x of xs) {
    const d = x - mean;
    s2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  return { mean, variance: s2 / (n - 1), m3: m3 / n, m4: m4 / n };
}

/** |x − μ| ≤ 5·se. */
function within(x: number, mu: number, se: number, what: string): void {
  assert.ok(Math.abs(x - mu) <= 5 * se, `${what}: ${x} vs ${mu} (5σ = ${5 * se})`);
}

test('xoshiro uniform: mean 1/2, variance 1/12, range [0, 1)', () => {
  const g = rng(2024);
  let lo = 1,
    hi = 0;
  const m = moments(() => {
    const u = g.next();
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
    return u;
  });
  within(m.mean, 0.5, Math.sqrt(1 / 12 / N), 'mean');
  // Var(s²) ≈ (μ₄ − σ⁴)/n with μ₄ = 1/80, σ⁴ = 1/144.
  within(m.variance, 1 / 12, Math.sqrt((1 / 80 - 1 / 144) / N), 'variance');
  assert.ok(lo >= 0 && hi < 1 && lo < 1e-3 && hi > 1 - 1e-3);
});

test('xoshiro normal: mean 0, variance 1, skewness 0, kurtosis 3', () => {
  const g = rng(7);
  const m = moments(() => g.normal());
  within(m.mean, 0, Math.sqrt(1 / N), 'mean');
  within(m.variance, 1, Math.sqrt(2 / N), 'variance');
  within(m.m3, 0, Math.sqrt(15 / N), 'third moment');
  within(m.m4, 3, Math.sqrt(96 / N), 'fourth moment');
});

test('xoshiro bernoulli: frequency p, edge cases, validation', () => {
  const g = rng(11);
  for (const p of [0.05, 0.3, 0.9]) {
    let k = 0;
    for (let i = 0; i < N; i++) k += g.bernoulli(p);
    within(k / N, p, Math.sqrt((p * (1 - p)) / N), `p = ${p}`);
  }
  for (let i = 0; i < 1000; i++) {
    assert.is(g.bernoulli(0), 0);
    assert.is(g.bernoulli(1), 1);
  }
  assert.throws(() => g.bernoulli(1.5), RangeError);
  assert.throws(() => g.bernoulli(NaN), RangeError);
});

test('xoshiro categorical: frequencies, offset/count, zero weights, validation', () => {
  const g = rng(5);
  // Two rows of probabilities in one flat array (as softmax outputs would be stored).
  const probs = Float64Array.of(0.9, 0.1, 0, 0.2, 0.0, 0.5, 0.3);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < N; i++) counts[g.categorical(probs, 3, 4)]!++;
  const p = [0.2, 0, 0.5, 0.3];
  p.forEach((pi, i) => within(counts[i]! / N, pi, Math.sqrt((pi * (1 - pi)) / N) || 1e-300, `category ${i}`));
  // Unnormalized weights.
  const c2 = [0, 0];
  for (let i = 0; i < N; i++) c2[g.categorical([1, 3])]!++;
  within(c2[1]! / N, 0.75, Math.sqrt((0.75 * 0.25) / N), 'weights [1, 3]');
  assert.is(g.categorical([0, 0, 2]), 2);
  assert.throws(() => g.categorical([0, 0]), RangeError);
  assert.throws(() => g.categorical([0.5, -0.1, 0.6]), RangeError);
  assert.throws(() => g.categorical([0.5, 0.5], 1, 2), RangeError);
});

test('xoshiro poisson: mean and variance λ for λ = 0.5, 5, 50 (inversion and PTRS)', () => {
  const g = rng(31);
  for (const lambda of [0.5, 5, 9.99, 10, 50, 1e4]) {
    const m = moments(() => g.poisson(lambda));
    within(m.mean, lambda, Math.sqrt(lambda / N), `λ = ${lambda}: mean`);
    // Var(s²) ≈ (μ₄ − σ⁴)/n with μ₄ = λ(1 + 3λ), σ⁴ = λ².
    within(m.variance, lambda, Math.sqrt((lambda + 2 * lambda * lambda) / N), `λ = ${lambda}: variance`);
  }
  assert.is(g.poisson(0), 0);
  assert.throws(() => g.poisson(-1), RangeError);
  assert.throws(() => g.poisson(Infinity), RangeError);
});

test('xoshiro poisson: frequencies match the pmf (chi-square) for λ = 5 and λ = 50', () => {
  const g = rng(77);
  for (const lambda of [5, 50]) {
    const lo = Math.max(0, Math.floor(lambda - 3 * Math.sqrt(lambda)));
    const hi = Math.ceil(lambda + 3 * Math.sqrt(lambda));
    const counts = new Float64Array(hi - lo + 1);
    for (let i = 0; i < N; i++) {
      const k = g.poisson(lambda);
      if (k >= lo && k <= hi) counts[k - lo]!++;
    }
    // pmf by the recurrence p(k) = p(k−1)·λ/k, in log space to start at lo.
    let logP = -lambda;
    for (let k = 1; k <= lo; k++) logP += Math.log(lambda / k);
    let chi2 = 0;
    for (let k = lo; k <= hi; k++) {
      if (k > lo) logP += Math.log(lambda / k);
      const expected = N * Math.exp(logP);
      chi2 += (counts[k - lo]! - expected) ** 2 / expected;
    }
    const df = hi - lo + 1;
    // χ²(df) has mean df and sd √(2 df); allow 5 sd.
    assert.ok(chi2 < df + 5 * Math.sqrt(2 * df), `λ = ${lambda}: χ² = ${chi2} for ${df} cells`);
  }
});

test.run();
