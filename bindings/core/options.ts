/**
 * Option checking shared by every public function: an options object may only carry the keys
 * its function documents, so a misspelt or misplaced option (`dampign`, `gd(p, { batchSize })`)
 * is an {@link UnknownOptionError} naming the key, the function and the nearest valid key,
 * never silently ignored. Counts (`iterations`, `steps`, `samples`) go through
 * {@link checkCount}, where NaN, ±Infinity, fractions and strings fail the same way.
 *
 * @module
 */

/**
 * An options object carried a key its function does not know. A `TypeError`; `option` is the
 * key, `where` the function (or nested option) that refused it, `suggestion` the nearest valid
 * key by edit distance (≤ 3), if any, and `valid` every key it accepts.
 *
 * @category Errors
 */
export class UnknownOptionError extends TypeError {
  readonly option: string;
  readonly where: string;
  readonly suggestion: string | undefined;
  readonly valid: readonly string[];
  constructor(where: string, option: string, valid: readonly string[], hint?: string) {
    const suggestion = nearestKey(option, valid);
    const tail = hint ? ` — ${hint}` : suggestion ? ` — did you mean '${suggestion}'?` : '';
    super(`natgrad: ${where}: unknown option '${option}'${tail} (valid: ${valid.length ? valid.join(', ') : 'none'})`);
    this.name = 'UnknownOptionError';
    this.option = option;
    this.where = where;
    this.suggestion = suggestion;
    this.valid = valid;
  }
}

/**
 * Throw an {@link UnknownOptionError} for the first key of `obj` outside `allowed`. `hints` maps
 * a known mistake (a key that belongs elsewhere) to the sentence that says where it goes.
 */
export function checkKeys(obj: object, allowed: readonly string[], where: string, hints?: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new UnknownOptionError(where, key, allowed, hints?.[key]);
  }
}

/**
 * An options object (undefined → `{}`) whose keys are all in `allowed`; anything else that is
 * not a plain object is a TypeError.
 */
export function checkOptions<T extends object>(v: unknown, where: string, allowed: readonly string[], hints?: Readonly<Record<string, string>>): Partial<T> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TypeError(`natgrad: ${where}: options must be an object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  checkKeys(v, allowed, where, hints);
  return v as Partial<T>;
}

/**
 * A count: an integer ≥ `min` (default 1), else a RangeError naming it (a TypeError for a
 * non-number). `undefined` gives `dflt` when one is passed, and is an error otherwise — the
 * option is required. NaN fails every comparison, so it can never pass.
 */
export function checkCount(v: unknown, name: string, options: { min?: number; max?: number; dflt?: number } = {}): number {
  const min = options.min ?? 1;
  if (v === undefined) {
    if (options.dflt !== undefined) return options.dflt;
    throw new TypeError(`natgrad: ${name} is required (an integer ≥ ${min})`);
  }
  if (typeof v !== 'number') throw new TypeError(`natgrad: ${name} must be an integer ≥ ${min}, got ${typeof v === 'string' ? `'${v}'` : typeof v}`);
  if (!(Number.isSafeInteger(v) && v >= min && (options.max === undefined || v <= options.max)))
    throw new RangeError(`natgrad: ${name} must be an integer ${options.max === undefined ? `≥ ${min}` : `in [${min}, ${options.max}]`}, got ${v}`);
  return v;
}

/** The key of `allowed` closest to `key` (case-insensitive edit distance ≤ 3), if any. */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined,
    bd = Math.min(4, Math.max(2, Math.ceil(key.length / 2)));
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bd) [best, bd] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return dp[b.length]!;
}
