/**
 * Random number generators.
 *
 * - {@link NumpyRandomState} reproduces numpy's legacy `np.random.RandomState(seed)` (MT19937,
 *   53-bit doubles, the legacy polar Gaussian with its cached second value) bit for bit, up to
 *   rare 1-ulp differences where glibc's `log` misrounds, so that the paper's synthetic data
 *   sets can be regenerated.
 * - {@link Xoshiro256} (via {@link rng}) is natgrad's fast default generator for Monte-Carlo
 *   sampling: xoshiro256** seeded through splitmix64, with exact Bernoulli, categorical and
 *   Poisson samplers and jump-ahead for independent streams.
 *
 * Both implement {@link RandomSource}, the interface the toy-data generators accept.
 *
 * @module
 */

/**
 * The minimal interface of a random source: uniform and standard normal draws.
 *
 * @category Data
 */
export interface RandomSource {
  /** A uniform draw in [0, 1). */
  uniform(): number;
  /** A standard normal draw, N(0, 1). */
  normal(): number;
}

/** 2^-53: scales a 53-bit integer to a double in [0, 1). */
const TWO_POW_M53 = 1 / 9007199254740992;
/** 2^32 as a double. */
const TWO_POW_32 = 4294967296;
/** 2^-32 as a double. */
const TWO_POW_M32 = 1 / TWO_POW_32;

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Correctly rounded ln and exp (double-double), so that numpy's draws match glibc's libm
// ---------------------------------------------------------------------------------------------

/**
 * A double-double number `hi + lo` with `|lo| ≤ ½ ulp(hi)`: about 106 significant bits.
 * `Math.log`/`Math.exp` (fdlibm in V8) are faithful, not correctly rounded: they differ in the
 * last bit from glibc's (which numpy calls) on ~3 % (log) and ~10 % (exp, via lognormal) of
 * the draws. glibc's are within 0.52 ulp: correctly rounded except on ~0.06 % of arguments.
 * Evaluating in double-double and rounding once gives the correctly rounded value, and so
 * glibc's except on those rare arguments.
 */
type DD = readonly [hi: number, lo: number];

/** Veltkamp's splitting constant 2²⁷ + 1. */
const SPLITTER = 134217729;

/** Error-free sum: `a + b = s + e` exactly (Knuth's TwoSum). */
function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

/** Error-free sum for `|a| ≥ |b|` (Dekker's FastTwoSum). */
function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

/** Error-free product: `a·b = p + e` exactly (Dekker's TwoProduct with Veltkamp splitting). */
function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function ddAdd(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  const [s1, e1] = quickTwoSum(s, e + t);
  return quickTwoSum(s1, e1 + f);
}

function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function ddDiv(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = ddAdd(a, ddMul(b, [-q1, 0]));
  const q2 = r[0] / b[0];
  r = ddAdd(r, ddMul(b, [-q2, 0]));
  const q3 = r[0] / b[0];
  return ddAdd(quickTwoSum(q1, q2), [q3, 0]);
}

/** ln 2 as a double-double (error below 2⁻¹⁰⁶). */
const LN2: DD = [Math.LN2, 2.3190468138462996e-17];
/** 1/(2j + 1), j = 0..21: the series 2·atanh(s) = 2s·Σ s²ʲ/(2j + 1). */
const ATANH_COEFFS: DD[] = Array.from({ length: 22 }, (_, j) => ddDiv([1, 0], [2 * j + 1, 0]));
/** 1/j!, j = 0..9: the Taylor series of e^r. */
const EXP_COEFFS: DD[] = Array.from({ length: 10 }, (_, j) => {
  let f = 1;
  for (let i = 2; i <= j; i++) f *= i;
  return ddDiv([1, 0], [f, 0]);
});

const bits = new DataView(new ArrayBuffer(8));

/**
 * ln x, correctly rounded (up to ties closer than 2⁻⁹⁰ relative, which never occur in
 * practice). Reduction `x = 2ᵉ·m`, `m ∈ [√½, √2)`; `ln m = 2 atanh(s)`, `s = (m − 1)/(m + 1)`,
 * `|s| ≤ 0.172`, 22 terms of the series in double-double; `ln x = e·ln 2 + ln m`.
 * Zero, negative, infinite and NaN arguments go to `Math.log`.
 *
 * @example
 * ```ts
 * logCorrectlyRounded(0.8983774131025271); // -0.10716501712225035 (glibc: …036)
 * ```
 */
export function logCorrectlyRounded(x: number): number {
  if (!(x > 0 && x < Infinity)) return Math.log(x);
  let e = 0;
  if (x < 2.2250738585072014e-308) {
    x *= 18014398509481984; // 2^54: make a subnormal normal
    e = -54;
  }
  bits.setFloat64(0, x);
  const hiWord = bits.getUint32(0);
  e += ((hiWord >>> 20) & 0x7ff) - 1023;
  bits.setUint32(0, (hiWord & 0x800fffff) | 0x3ff00000);
  let m = bits.getFloat64(0); // m ∈ [1, 2)
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  const f = m - 1; // exact (Sterbenz)
  const s = ddDiv([f, 0], twoSum(2, f));
  const s2 = ddMul(s, s);
  let acc = ATANH_COEFFS[ATANH_COEFFS.length - 1]!;
  for (let j = ATANH_COEFFS.length - 2; j >= 0; j--) acc = ddAdd(ddMul(acc, s2), ATANH_COEFFS[j]!);
  const lnM = ddMul(ddMul(s, acc), [2, 0]);
  const lnX = ddAdd(ddMul(LN2, [e, 0]), lnM);
  return lnX[0] + lnX[1];
}

/**
 * eˣ, correctly rounded for |x| ≤ 700 (outside, `Math.exp`: only overflow, underflow and
 * subnormal results live there). Reduction `x = k·ln 2 + r`, `|r| ≤ ½ ln 2`, in
 * double-double; `e^r = (e^{r/1024})^1024` with a 10-term Taylor series and 10 squarings;
 * `eˣ = 2ᵏ·e^r`.
 *
 * @example
 * ```ts
 * expCorrectlyRounded(-1); // 0.36787944117144233
 * ```
 */
export function expCorrectlyRounded(x: number): number {
  if (!(Math.abs(x) <= 700)) return Math.exp(x);
  const k = Math.round(x / LN2[0]);
  const [p, pe] = twoProd(k, LN2[0]);
  // x − p is exact (Sterbenz); subtract the rest of k·ln 2.
  const r = ddAdd(ddAdd([x - p, 0], [-pe, 0]), [-k * LN2[1], 0]);
  const rs: DD = [r[0] / 1024, r[1] / 1024];
  let acc = EXP_COEFFS[EXP_COEFFS.length - 1]!;
  for (let j = EXP_COEFFS.length - 2; j >= 0; j--) acc = ddAdd(ddMul(acc, rs), EXP_COEFFS[j]!);
  for (let i = 0; i < 10; i++) acc = ddMul(acc, acc);
  return (acc[0] + acc[1]) * 2 ** k;
}

/**
 * Rounds `x + y` to odd: the exact sum if representable, else the neighbour of `fl(x + y)` on
 * the exact sum's side whose last significand bit is 1 (Boldo & Melquiond's "rounding to odd").
 */
function addRoundToOdd(x: number, y: number): number {
  const [s, e] = twoSum(x, y);
  if (e === 0) return s;
  bits.setFloat64(0, s);
  let lo = bits.getUint32(4);
  if ((lo & 1) === 1) return s;
  let hi = bits.getUint32(0);
  if (e > 0 === s > 0) {
    lo |= 1; // one ulp away from zero: s is even, so no carry
  } else if (lo !== 0) {
    lo -= 1; // one ulp toward zero
  } else {
    lo = 0xffffffff;
    hi -= 1;
  }
  bits.setUint32(0, hi);
  bits.setUint32(4, lo);
  return bits.getFloat64(0);
}

/**
 * Fused multiply-add `a·b + c` with a single rounding, as the FMA instruction computes it,
 * emulated exactly (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved
 * algorithms using rounding to odd", IEEE Trans. Computers 57, 2008): `a·b = u_h + u_l` and
 * `c + u_h = t_h + t_l` exactly, then `RN(t_h + RO(t_l + u_l))`.
 * Exact unless an intermediate overflows (|a| or |b| ≥ 2⁹⁹⁶) or the product underflows
 * (|a·b| < 2⁻⁹⁶⁹); non-finite arguments give `a·b + c`. numpy's matrix product (OpenBLAS) uses FMA on CPUs that have it,
 * so reproducing its bits needs this.
 *
 * @example
 * ```ts
 * fma(0.1, 10, -1); // 5.551115123125783e-17, where 0.1 * 10 - 1 gives 0
 * ```
 */
export function fma(a: number, b: number, c: number): number {
  const p = a * b;
  if (!Number.isFinite(p) || !Number.isFinite(c)) return p + c;
  const [uh, ul] = twoProd(a, b);
  const [th, tl] = twoSum(c, uh);
  return th + addRoundToOdd(tl, ul);
}

// ---------------------------------------------------------------------------------------------
// numpy's legacy RandomState
// ---------------------------------------------------------------------------------------------

/** MT19937 state length N. */
const MT_N = 624;
/** MT19937 middle word offset M. */
const MT_M = 397;
/** MT19937 twist matrix constant. */
const MT_MATRIX_A = 0x9908b0df | 0;
const MT_UPPER = 0x80000000 | 0;
const MT_LOWER = 0x7fffffff;

/**
 * numpy's legacy `np.random.RandomState(seed)` for an integer seed: the same stream of draws,
 * bit for bit up to glibc's rare misrounded logarithms (see below).
 *
 * Algorithms (numpy's `_legacy_seeding`, `mt19937.c`, `legacy-distributions.c`):
 * - seeding: MT19937 `init_genrand(seed)`, `mt[0] = seed`,
 *   `mt[i] = 1812433253·(mt[i−1] ⊕ (mt[i−1] ≫ 30)) + i  (mod 2³²)`; the Gaussian cache is empty;
 * - `randomSample()`: `genrand_res53`, `(a·2²⁶ + b) / 2⁵³` with `a = u₁ ≫ 5`, `b = u₂ ≫ 6`
 *   from two consecutive 32-bit outputs;
 * - `standardNormal()`: the polar method (`legacy_gauss`): draw `x₁ = 2u − 1`, `x₂ = 2u − 1`
 *   until `0 < r² = x₁² + x₂² < 1`, then `f = √(−2 ln r² / r²)`; return `f·x₂` and cache `f·x₁`
 *   for the next call.
 *
 * Exactness: the uniform and integer draws are bit-exact. The Gaussian needs `ln` and the
 * lognormal `exp`, which numpy takes from the C library: here they are correctly rounded
 * (`logCorrectlyRounded`, `expCorrectlyRounded` in this module), and glibc's are too except on about
 * 0.06 % of arguments, where it is 1 ulp off. So about one normal pair in 1,500 differs from
 * numpy's by 1 ulp (for seed 0, draws 662 and 663 of the first 2,000); the stream never goes
 * out of sync. (`sqrt` is correctly rounded everywhere.)
 *
 * @example
 * ```ts
 * numpyRandomState(0).randomSample();   // 0.5488135039273248
 * numpyRandomState(0).standardNormal(); // 1.764052345967664
 * numpyRandomState(0).lognormal(0, 0.75); // 3.7548159128575267
 * ```
 *
 * @category Data
 */
export class NumpyRandomState implements RandomSource {
  private readonly mt = new Int32Array(MT_N);
  private pos = MT_N;
  private hasGauss = false;
  private gauss = 0;

  /**
   * @param seed - an integer in [0, 2³² − 1], as `np.random.RandomState(seed)` accepts.
   * @throws RangeError when the seed is not such an integer.
   */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed | 0;
    for (let i = 1; i < MT_N; i++) {
      const prev = mt[i - 1]!;
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) | 0;
    }
  }

  /** Regenerates the 624 words of state (MT19937's "twist"). */
  private twist(): void {
    const mt = this.mt;
    let i = 0;
    for (; i < MT_N - MT_M; i++) {
      const y = (mt[i]! & MT_UPPER) | (mt[i + 1]! & MT_LOWER);
      mt[i] = mt[i + MT_M]! ^ (y >>> 1) ^ (-(y & 1) & MT_MATRIX_A);
    }
    for (; i < MT_N - 1; i++) {
      const y = (mt[i]! & MT_UPPER) | (mt[i + 1]! & MT_LOWER);
      mt[i] = mt[i + MT_M - MT_N]! ^ (y >>> 1) ^ (-(y & 1) & MT_MATRIX_A);
    }
    const y = (mt[MT_N - 1]! & MT_UPPER) | (mt[0]! & MT_LOWER);
    mt[MT_N - 1] = mt[MT_M - 1]! ^ (y >>> 1) ^ (-(y & 1) & MT_MATRIX_A);
    this.pos = 0;
  }

  /** The next raw 32-bit output of MT19937 (tempered), as an integer in [0, 2³²). */
  nextUint32(): number {
    if (this.pos >= MT_N) this.twist();
    let y = this.mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random_sample()`: a 53-bit uniform double in [0, 1), `(a·2²⁶ + b)/2⁵³`. */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) * TWO_POW_M53;
  }

  /** `uniform(low, high)`: `low + (high − low)·u`, u from {@link randomSample}. */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.randomSample();
  }

  /** `standard_normal()` / `randn()`: numpy's legacy polar Gaussian (see the class notes). */
  standardNormal(): number {
    if (this.hasGauss) {
      this.hasGauss = false;
      return this.gauss;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.randomSample() - 1;
      x2 = 2 * this.randomSample() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * logCorrectlyRounded(r2)) / r2);
    this.gauss = f * x1;
    this.hasGauss = true;
    return f * x2;
  }

  /** `normal(loc, scale)`: `loc + scale·z`, z from {@link standardNormal}. */
  normal(loc = 0, scale = 1): number {
    return loc + scale * this.standardNormal();
  }

  /** `lognormal(mean, sigma)`: `exp(mean + sigma·z)`, z from {@link standardNormal}. */
  lognormal(mean = 0, sigma = 1): number {
    return expCorrectlyRounded(this.normal(mean, sigma));
  }

  /**
   * `randint(low, high)`: an integer uniform in [low, high) (`randint(high)`: in [0, high)).
   * numpy's masked rejection: with `r = high − low − 1` and `mask = 2^⌈log₂(r+1)⌉ − 1`, draw
   * 32-bit words `w` until `w & mask ≤ r`, return `low + (w & mask)`; no draw when `r = 0`.
   *
   * @throws RangeError unless low, high are safe integers with 0 < high − low ≤ 2³².
   */
  randint(low: number, high?: number): number {
    if (high === undefined) {
      high = low;
      low = 0;
    }
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || !(high > low) || high - low > TWO_POW_32) {
      throw new RangeError(`randint needs integers with 0 < high - low <= 2^32, got [${low}, ${high})`);
    }
    const range = high - low - 1;
    if (range === 0) return low;
    let mask = range >>> 0;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let w: number;
    do {
      w = (this.nextUint32() & mask) >>> 0;
    } while (w > range);
    return low + w;
  }

  /** `random_sample(n)`: n draws of {@link randomSample}. */
  randomSampleArray(n: number): Float64Array {
    checkCount(n, 'n');
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.randomSample();
    return out;
  }

  /** `standard_normal(n)` / `randn(n)`: n draws of {@link standardNormal}, in order. */
  standardNormalArray(n: number): Float64Array {
    checkCount(n, 'n');
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.standardNormal();
    return out;
  }
}

/**
 * `np.random.RandomState(seed)`: numpy's legacy generator, bit for bit.
 *
 * @param seed - an integer in [0, 2³² − 1].
 * @example
 * ```ts
 * numpyRandomState(0).randomSample(); // 0.5488135039273248
 * ```
 *
 * @category Data
 */
export function numpyRandomState(seed: number): NumpyRandomState {
  return new NumpyRandomState(seed);
}

// ---------------------------------------------------------------------------------------------
// xoshiro256**
// ---------------------------------------------------------------------------------------------

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 step on a BigInt state; returns [next state, output]. Used only for seeding. */
function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [s, z ^ (z >> 31n)];
}

/** Splits 64-bit constants into [lo, hi] int32 words, for the jump polynomials. */
function words(...xs: bigint[]): Int32Array {
  const out = new Int32Array(2 * xs.length);
  xs.forEach((x, i) => {
    out[2 * i] = Number(x & 0xffffffffn) | 0;
    out[2 * i + 1] = Number(x >> 32n) | 0;
  });
  return out;
}

/** Jump polynomial: advances xoshiro256 by 2¹²⁸ steps. */
const JUMP = words(0x180ec6d33cfd0aban, 0xd5a61266f0c9392cn, 0xa9582618e03fc9aan, 0x39abdc4529b1661cn);
/** Long-jump polynomial: advances xoshiro256 by 2¹⁹² steps. */
const LONG_JUMP = words(0x76e15d3efefdcbbfn, 0xc5004e441c522fb3n, 0x77710069854ee241n, 0x39109bb02acbe635n);

/** Poisson means below this use inversion, at or above it PTRS (numpy's threshold). */
const POISSON_PTRS_MIN = 10;
/** ½·ln(2π). */
const HALF_LN_2PI = 0.9189385332046728;
/** ln k! for k < LOG_FACTORIAL_TABLE.length, summed exactly enough (error ≲ 10 ulp). */
const LOG_FACTORIAL_TABLE = (() => {
  const t = new Float64Array(32);
  for (let k = 2; k < t.length; k++) t[k] = t[k - 1]! + Math.log(k);
  return t;
})();

/**
 * ln k! for an integer k ≥ 0: a table below 32, else Stirling's series for ln Γ(k+1),
 * `(x − ½) ln x − x + ½ ln 2π + 1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷)` with x = k + 1,
 * whose truncation error at x ≥ 33 is below 10⁻¹⁶ (relative error ≲ 10⁻¹⁵ overall).
 */
function logFactorial(k: number): number {
  if (k < LOG_FACTORIAL_TABLE.length) return LOG_FACTORIAL_TABLE[k]!;
  const x = k + 1;
  const r = 1 / x;
  const r2 = r * r;
  const series = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 / 1680)));
  return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + series;
}

/**
 * xoshiro256** (Blackman & Vigna, 2018): 256 bits of state, period 2²⁵⁶ − 1, passes BigCrush.
 * The state is four 64-bit words held as eight int32 halves, so a draw needs no BigInt:
 * output `rotl(s₁·5, 7)·9`, then `t = s₁ ≪ 17; s₂ ⊕= s₀; s₃ ⊕= s₁; s₁ ⊕= s₂; s₀ ⊕= s₃;
 * s₂ ⊕= t; s₃ = rotl(s₃, 45)`. Seeding expands the seed with splitmix64 (the authors'
 * recommendation); {@link jump} and {@link fork} give non-overlapping streams.
 *
 * @example
 * ```ts
 * const g = rng(42);
 * g.next();        // uniform in [0, 1)
 * g.poisson(3.5);  // a Poisson(3.5) count
 * const [a, b] = g.fork(2); // two independent streams
 * ```
 *
 * @category Data
 */
export class Xoshiro256 implements RandomSource {
  /** s₀..s₃ as [lo, hi] int32 pairs: s[2i] = low word of sᵢ, s[2i+1] = high word. */
  private readonly s = new Int32Array(8);
  private hasNormal = false;
  private cachedNormal = 0;

  /**
   * @param seed - any integer (number or BigInt); it is reduced mod 2⁶⁴ and expanded to the
   *   256-bit state by four splitmix64 outputs.
   * @throws RangeError when a number seed is not a safe integer.
   */
  constructor(seed: number | bigint) {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new RangeError(`seed must be a safe integer or a BigInt, got ${seed}`);
    }
    let state = BigInt.asUintN(64, BigInt(seed));
    for (let i = 0; i < 4; i++) {
      const [next, z] = splitmix64(state);
      state = next;
      this.s[2 * i] = Number(z & 0xffffffffn) | 0;
      this.s[2 * i + 1] = Number(z >> 32n) | 0;
    }
  }

  /** Advances the state by one step (the linear engine, without output). */
  private step(): void {
    const s = this.s;
    const s0l = s[0]!,
      s0h = s[1]!,
      s1l = s[2]!,
      s1h = s[3]!;
    const s2l = s[4]! ^ s0l,
      s2h = s[5]! ^ s0h;
    const s3l = s[6]! ^ s1l,
      s3h = s[7]! ^ s1h;
    // t = s1 << 17
    const tl = s1l << 17,
      th = (s1h << 17) | (s1l >>> 15);
    s[2] = s1l ^ s2l;
    s[3] = s1h ^ s2h;
    s[0] = s0l ^ s3l;
    s[1] = s0h ^ s3h;
    s[4] = s2l ^ tl;
    s[5] = s2h ^ th;
    // rotl(s3, 45) = rotl(swap halves, 13)
    s[6] = (s3h << 13) | (s3l >>> 19);
    s[7] = (s3l << 13) | (s3h >>> 19);
  }

  /** A uniform double in [0, 1): the top 53 bits of the next output, times 2⁻⁵³. */
  next(): number {
    const s = this.s;
    const l = s[2]!,
      h = s[3]!;
    // x = s1 · 5 (mod 2^64)
    let t = (l >>> 0) * 5;
    let xl = t >>> 0;
    let xh = (Math.imul(h, 5) + (t - xl) * TWO_POW_M32) | 0;
    // x = rotl(x, 7)
    const rl = (xl << 7) | (xh >>> 25);
    const rh = (xh << 7) | (xl >>> 25);
    // x = x · 9 (mod 2^64)
    t = (rl >>> 0) * 9;
    xl = t >>> 0;
    xh = (Math.imul(rh, 9) + (t - xl) * TWO_POW_M32) | 0;
    this.step();
    return ((xh >>> 0) * 2097152 + (xl >>> 11)) * TWO_POW_M53;
  }

  /** Same as {@link next}: a uniform double in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /**
   * A standard normal draw by the polar method (Marsaglia): `x₁, x₂ = 2u − 1` until
   * `0 < r² = x₁² + x₂² < 1`, then `√(−2 ln r² / r²)·(x₁, x₂)` are two independent N(0, 1)
   * draws; the second is cached for the next call.
   */
  normal(): number {
    if (this.hasNormal) {
      this.hasNormal = false;
      return this.cachedNormal;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.next() - 1;
      x2 = 2 * this.next() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.cachedNormal = f * x1;
    this.hasNormal = true;
    return f * x2;
  }

  /**
   * A Bernoulli(p) draw: 1 with probability p (`u < p`), else 0.
   *
   * @throws RangeError when p is not in [0, 1].
   */
  bernoulli(p: number): 0 | 1 {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
    return this.next() < p ? 1 : 0;
  }

  /**
   * A categorical draw by inversion: returns `i ∈ [0, count)` with probability
   * `w[offset + i] / Σⱼ w[offset + j]`. The weights need not be normalized (softmax outputs
   * whose sum is 1 up to rounding are fine); a category of weight 0 is never drawn.
   *
   * @param probs - non-negative weights; the `count` entries from `offset` are used.
   * @param offset - index of the first weight (default 0).
   * @param count - number of categories (default: the rest of `probs`).
   * @throws RangeError when the range is outside `probs`, a weight is negative or NaN, or the
   *   weights' sum is not positive and finite.
   */
  categorical(probs: ArrayLike<number>, offset = 0, count = probs.length - offset): number {
    if (!Number.isInteger(offset) || !Number.isInteger(count) || offset < 0 || count < 1 || offset + count > probs.length) {
      throw new RangeError(`categorical: bad range offset=${offset}, count=${count} for ${probs.length} weights`);
    }
    let total = 0;
    for (let i = 0; i < count; i++) {
      const w = probs[offset + i]!;
      if (!(w >= 0)) throw new RangeError(`categorical: weight ${offset + i} is ${w}`);
      total += w;
    }
    if (!(total > 0 && total < Infinity)) throw new RangeError(`categorical: weights sum to ${total}`);
    const u = this.next() * total;
    let cumulative = 0;
    let last = 0;
    for (let i = 0; i < count; i++) {
      const w = probs[offset + i]!;
      if (w > 0) {
        cumulative += w;
        if (u < cumulative) return i;
        last = i;
      }
    }
    // u·total rounded up to the sum: the mass belongs to the last category of positive weight.
    return last;
  }

  /**
   * A Poisson(λ) draw, exact up to floating-point rounding.
   * - λ < 10: inversion by sequential search, `k = min{k : u < Σ_{j≤k} e^{−λ} λʲ / j!}`
   *   (about λ + 1 steps).
   * - λ ≥ 10: PTRS, Hörmann's transformed rejection with squeeze (W. Hörmann, "The transformed
   *   rejection method for generating Poisson random variables", Insurance: Mathematics and
   *   Economics 12, 1993), the algorithm numpy uses; about 1.1 pairs of uniforms per draw.
   *
   * @param lambda - the mean, finite and ≥ 0 (λ = 0 gives 0).
   * @returns a non-negative integer (exactly representable for λ below about 10¹⁵).
   * @throws RangeError when λ is negative or not finite.
   */
  poisson(lambda: number): number {
    if (!(lambda >= 0 && lambda < Infinity)) throw new RangeError(`poisson: lambda must be finite and >= 0, got ${lambda}`);
    if (lambda < POISSON_PTRS_MIN) {
      const u = this.next();
      let k = 0;
      let p = Math.exp(-lambda);
      let cumulative = p;
      // p underflows to 0 long after the cumulative sum has reached 1 up to rounding.
      while (u >= cumulative && p > 0) {
        k++;
        p *= lambda / k;
        cumulative += p;
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const logLam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.next() - 0.5;
      const v = this.next();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= -lambda + k * logLam - logFactorial(k)) {
        return k;
      }
    }
  }

  /** Advances this generator by 2¹²⁸ draws in place (as if `next()` were called 2¹²⁸ times). */
  jump(): this {
    return this.applyJump(JUMP);
  }

  /** Advances this generator by 2¹⁹² draws in place. */
  longJump(): this {
    return this.applyJump(LONG_JUMP);
  }

  private applyJump(poly: Int32Array): this {
    const s = this.s;
    const acc = new Int32Array(8);
    for (let w = 0; w < poly.length; w++) {
      const bits = poly[w]!;
      for (let b = 0; b < 32; b++) {
        if ((bits >>> b) & 1) for (let i = 0; i < 8; i++) acc[i] = acc[i]! ^ s[i]!;
        this.step();
      }
    }
    s.set(acc);
    this.hasNormal = false;
    return this;
  }

  /** An independent copy of this generator in its current state (including the normal cache). */
  clone(): Xoshiro256 {
    const c = new Xoshiro256(0);
    c.s.set(this.s);
    c.hasNormal = this.hasNormal;
    c.cachedNormal = this.cachedNormal;
    return c;
  }

  /**
   * Splits off k streams that do not overlap for 2¹²⁸ draws each: child i starts at this
   * generator's state advanced by i jumps, and this generator then continues k jumps ahead.
   *
   * @param k - number of streams, a non-negative integer.
   */
  fork(k: number): Xoshiro256[] {
    checkCount(k, 'fork: k');
    const children: Xoshiro256[] = [];
    for (let i = 0; i < k; i++) {
      children.push(this.clone());
      this.jump();
    }
    return children;
  }
}

/**
 * natgrad's default generator: xoshiro256** seeded with `seed` through splitmix64.
 *
 * @param seed - any safe integer or BigInt.
 * @example
 * ```ts
 * const g = rng(0);
 * g.normal(); // a standard normal draw
 * ```
 *
 * @category Data
 */
export function rng(seed: number | bigint): Xoshiro256 {
  return new Xoshiro256(seed);
}
