/**
 * How the threaded core splits a kernel call into shares, one per thread, such that the result
 * is **bitwise identical for any thread count**: a split never divides a reduction. Every output
 * entry is computed by one thread with exactly the sequence of operations the whole call would
 * use, so there is nothing to reduce afterwards and no order to fix.
 *
 * | kernel | split | why the entries do not change |
 * |---|---|---|
 * | `dgemm` | rows of C (or columns, when C is wide) | an entry depends on its row of op(A), its column of op(B) and the k-blocking, which depends on k alone; every share stays on the packed path |
 * | `dsyrkLower` (Gram, Fisher, EF) | column panels of the lower triangle (`dsyrkLowerRange`), balanced by the triangle's area | the full call's loops, restricted |
 * | `denseMul`, `actForward` | contiguous element ranges starting at even offsets | elementwise; the 2-lane loops have a tail only at the end of the last range, as in the whole call |
 * | `denseBroadcastRows` | rows | copies |
 * | `denseColSums` | column ranges starting at even offsets | one sum per column, rows in order |
 * | `mlpTangentIn` / `Back` / `Grad` | directions (the kc column blocks); one direction: rows (In, Back) or the kernel's own dgemm / column-sum steps (Grad) | independent columns of a batched product; the same steps in the same order |
 * | `mlpUnitTangent` / `mlpUnitGrad` (the dense Hessian's residual columns) | unit directions | independent directions |
 * | `denseOuterRows`, `densePairOuter`, `densePairOuterLower`, `denseRowSqSums`, `denseMulRep` | samples | per-sample rows (pullbacks, per-sample Kronecker factors); a sample's sum over its k stack rows stays in one share |
 *
 * Calls below {@link MIN_SHARE_WORK} multiply-adds per share run on the main thread alone: a
 * share has to pay for waking a worker (~10–50 µs).
 *
 * @module
 */
import type { ThreadKernel } from './thread-protocol.js';
import type { Share, ThreadPool } from './threads.js';

/** Work (multiply-adds, or elements × a cost weight) below which a share is not worth a worker. */
export const MIN_SHARE_WORK = 2 ** 17;
/** Elementwise kernels: fewest elements per share. */
const MIN_SHARE_ELEMENTS = 2 ** 15;

type Fn = (...a: number[]) => number | void;

/** Split [0, total) into `parts` contiguous ranges with boundaries on multiples of `quantum`. */
export function splitRange(total: number, parts: number, quantum: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts && start < total; p++) {
    let end = p === parts - 1 ? total : Math.round((total * (p + 1)) / parts / quantum) * quantum;
    end = Math.min(total, Math.max(end, start + quantum));
    if (p === parts - 1) end = total;
    out.push([start, end]);
    start = end;
  }
  if (out.length && out[out.length - 1]![1] < total) out[out.length - 1]![1] = total;
  return out;
}

/**
 * Column-panel ranges of a d × d lower triangle with about equal areas: panel j0 (4 columns)
 * covers rows j0 … d − 1, so its work is ∝ d − j0.
 */
export function splitTriangle(d: number, parts: number): [number, number][] {
  const panels = Math.ceil(d / 4);
  const work = (p: number) => Math.max(d - 4 * p, 0);
  let total = 0;
  for (let p = 0; p < panels; p++) total += work(p);
  const out: [number, number][] = [];
  let p = 0,
    acc = 0;
  for (let s = 0; s < parts && p < panels; s++) {
    const start = p;
    const target = (total * (s + 1)) / parts;
    while (p < panels && (acc + work(p) / 2 <= target || p === start)) acc += work(p++);
    if (s === parts - 1) p = panels;
    out.push([4 * start, Math.min(4 * p, d)]);
  }
  if (out.length) out[out.length - 1]![1] = d;
  return out;
}

/** How many shares a call of `work` gets (1 = run on the main thread). */
function sharesFor(pool: ThreadPool, work: number, min = MIN_SHARE_WORK): number {
  const t = pool.size;
  if (t < 2) return 1;
  return Math.max(1, Math.min(t, Math.floor(work / min)));
}

/**
 * The exports object the core's TypeScript uses: the raw kernels, with the splittable ones above
 * replaced by versions that run on the pool. Same signatures, same results.
 */
export function parallelExports<E extends object>(raw: E, pool: ThreadPool): E {
  const r = raw as unknown as Record<string, Fn>;
  const ex: Record<string, Fn> = { ...r };
  const run = (shares: Share[]) => {
    if (shares.length === 1) r[shares[0]![0]]!(...shares[0]![1]);
    else pool.run(shares);
  };

  ex.dgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
    const work = m * n * k;
    const parts = m > 0 && n > 0 && k > 0 && alpha !== 0 ? sharesFor(pool, work) : 1;
    if (parts < 2) return r.dgemm!(tA!, tB!, m!, n!, k!, alpha!, a!, lda!, b!, ldb!, beta!, c!, ldc!);
    const shares: Share[] = [];
    if (m! >= n! || n! < 8) {
      // Rows of C: op(A) rows i0 … i1 (A stored m × k: row offset; Aᵀ stored k × m: column offset).
      for (const [i0, i1] of splitRange(m!, parts, 4)) {
        const ai = tA ? a! + 8 * i0 : a! + 8 * i0 * lda!;
        shares.push(['dgemm', [tA!, tB!, i1 - i0, n!, k!, alpha!, ai, lda!, b!, ldb!, beta!, c! + 8 * i0 * ldc!, ldc!]]);
      }
    } else {
      // Columns of C: op(B) columns j0 … j1 (B stored k × n: column offset; Bᵀ stored n × k: row offset).
      for (const [j0, j1] of splitRange(n!, parts, 4)) {
        const bj = tB ? b! + 8 * j0 * ldb! : b! + 8 * j0;
        shares.push(['dgemm', [tA!, tB!, m!, j1 - j0, k!, alpha!, a!, lda!, bj, ldb!, beta!, c! + 8 * j0, ldc!]]);
      }
    }
    run(shares);
  };

  ex.dsyrkLower = (n, d, x, ldx, w, incw, c, ldc) => {
    const parts = n! > 0 && d! >= 8 ? Math.min(sharesFor(pool, (n! * d! * d!) / 2), Math.floor(d! / 4)) : 1;
    if (parts < 2) return r.dsyrkLower!(n!, d!, x!, ldx!, w!, incw!, c!, ldc!);
    run(splitTriangle(d!, parts).map(([jb, je]) => ['dsyrkLowerRange', [n!, d!, x!, ldx!, w!, incw!, c!, ldc!, jb, je]] as Share));
  };

  ex.denseMul = (blocks, len, d, x, out) => {
    const total = blocks! * len!;
    const parts = sharesFor(pool, total, MIN_SHARE_ELEMENTS);
    if (parts < 2) return r.denseMul!(blocks!, len!, d!, x!, out!);
    if (blocks === 1) {
      run(splitRange(len!, parts, 2).map(([t0, t1]) => ['denseMul', [1, t1 - t0, d! + 8 * t0, x! + 8 * t0, out! + 8 * t0]] as Share));
    } else {
      const bp = Math.min(parts, blocks!);
      if (bp < 2) return r.denseMul!(blocks!, len!, d!, x!, out!);
      run(splitRange(blocks!, bp, 1).map(([b0, b1]) => ['denseMul', [b1 - b0, len!, d!, x! + 8 * b0 * len!, out! + 8 * b0 * len!]] as Share));
    }
  };

  ex.actForward = (kind, n, z, a, d1, d2) => {
    // Transcendental activations cost ~10× a multiply-add per element.
    const weight = kind === 3 || kind === 0 ? 1 : 8;
    const parts = sharesFor(pool, n! * weight, MIN_SHARE_ELEMENTS);
    if (parts < 2) return r.actForward!(kind!, n!, z!, a!, d1!, d2!);
    const off = (p: number, t: number) => (p === 0 ? 0 : p + 8 * t);
    run(splitRange(n!, parts, 2).map(([t0, t1]) => ['actForward', [kind!, t1 - t0, z! + 8 * t0, a! + 8 * t0, off(d1!, t0), off(d2!, t0)]] as Share));
  };

  ex.denseBroadcastRows = (n, o, b, c) => {
    const parts = Math.min(sharesFor(pool, n! * o!, MIN_SHARE_ELEMENTS), n!);
    if (parts < 2) return r.denseBroadcastRows!(n!, o!, b!, c!);
    run(splitRange(n!, parts, 1).map(([r0, r1]) => ['denseBroadcastRows', [r1 - r0, o!, b!, c! + 8 * r0 * o!]] as Share));
  };

  ex.denseColSums = (n, o, x, ldx, alpha, out) => {
    const parts = Math.min(sharesFor(pool, n! * o!, MIN_SHARE_ELEMENTS), Math.floor(o! / 2));
    if (parts < 2) return r.denseColSums!(n!, o!, x!, ldx!, alpha!, out!);
    run(splitRange(o!, parts, 2).map(([j0, j1]) => ['denseColSums', [n!, j1 - j0, x! + 8 * j0, ldx!, alpha!, out! + 8 * j0]] as Share));
  };

  /**
   * Kernels whose first argument counts independent items (directions or samples): split that
   * count; `shift(a, i0, count)` gives the arguments of items i0 … i0 + count − 1. `single`, when
   * given, may take over a call with one item (returns true when it did).
   */
  const splitLeading = (name: ThreadKernel, work: (a: number[]) => number, minWork: number, shift: (a: number[], i0: number, count: number) => number[], single?: (a: number[]) => boolean) => {
    ex[name] = (...a: number[]) => {
      const count = a[0]!;
      if (count === 1 && single?.(a)) return;
      const parts = Math.min(sharesFor(pool, work(a), minWork), count);
      if (parts < 2) return r[name]!(...a);
      run(splitRange(count, parts, 1).map(([i0, i1]) => [name, shift(a, i0, i1 - i0)] as Share));
    };
  };
  // Batched directions: kc column blocks, each an independent product.
  const byDirections = (name: 'mlpTangentIn' | 'mlpTangentBack' | 'mlpTangentGrad', work: (a: number[]) => number, shift: (a: number[], j0: number, kc: number) => number[]) =>
    splitLeading(name, work, MIN_SHARE_WORK, shift, oneDirection[name]);
  // One direction (kc = 1: a Hessian-vector product's R-operator pass): mlpTangentIn and
  // mlpTangentBack split their n rows (a row-split dgemm, then per-row bias adds); mlpTangentGrad
  // runs as the kernel's own steps — dgemm, column sums, dgemm — each split as above.
  const oneDirection = {
    mlpTangentIn: (a: number[]) => {
      const [, n, nin, nout, pa, lda, vt, ldv, z, beta] = a as [number, number, number, number, number, number, number, number, number, number];
      const parts = Math.min(sharesFor(pool, n * nin * nout), n);
      if (parts < 2) return false;
      run(splitRange(n, parts, 4).map(([r0, r1]) => ['mlpTangentIn', [1, r1 - r0, nin, nout, pa + 8 * r0 * lda, lda, vt, ldv, z + 8 * r0 * nout, beta]] as Share));
      return true;
    },
    mlpTangentBack: (a: number[]) => {
      const [, n, nin, nout, g, vt, ldv, ga, beta] = a as [number, number, number, number, number, number, number, number, number];
      const parts = Math.min(sharesFor(pool, n * nin * nout), n);
      if (parts < 2) return false;
      run(splitRange(n, parts, 4).map(([r0, r1]) => ['mlpTangentBack', [1, r1 - r0, nin, nout, g + 8 * r0 * nout, vt, ldv, ga + 8 * r0 * nin, beta]] as Share));
      return true;
    },
    mlpTangentGrad: (a: number[]) => {
      const [, n, nin, nout, dg, pa, lda, g, da, hv] = a as [number, number, number, number, number, number, number, number, number, number];
      if (sharesFor(pool, 2 * n * nin * nout) < 2) return false;
      // The steps of assembly/nn/dense.ts mlpTangentGrad for j = 0, in its order.
      const hw = hv,
        hb = hv + 8 * nout * nin;
      let beta = 0;
      if (dg !== 0) {
        ex.dgemm!(1, 0, nout, nin, n, 1, dg, nout, pa, lda, 0, hw, nin);
        ex.denseColSums!(n, nout, dg, nout, 1, hb);
        beta = 1;
      } else r.dzero!(1, nout, hb, nout);
      if (da !== 0) ex.dgemm!(1, 0, nout, nin, n, 1, g, nout, da, nin, beta, hw, nin);
      else if (dg === 0) r.dzero!(nout, nin, hw, nin);
      return true;
    },
  };
  // mlpTangentIn(kc, n, nin, nout, a, lda, vt, ldv, z, beta)
  byDirections(
    'mlpTangentIn',
    (a) => a[0]! * a[1]! * a[2]! * a[3]!,
    (a, j0, kc) => [kc, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]! + 8 * j0 * a[7]!, a[7]!, a[8]! + 8 * j0 * a[1]! * a[3]!, a[9]!],
  );
  // mlpTangentBack(kc, n, nin, nout, g, vt, ldv, ga, beta)
  byDirections(
    'mlpTangentBack',
    (a) => a[0]! * a[1]! * a[2]! * a[3]!,
    (a, j0, kc) => [kc, a[1]!, a[2]!, a[3]!, a[4]!, a[5]! + 8 * j0 * a[6]!, a[6]!, a[7]! + 8 * j0 * a[1]! * a[2]!, a[8]!],
  );
  // mlpTangentGrad(kc, n, nin, nout, dg, a, lda, g, da, hv, ldh)
  byDirections(
    'mlpTangentGrad',
    (a) => 2 * a[0]! * a[1]! * a[2]! * a[3]!,
    (a, j0, kc) => [kc, a[1]!, a[2]!, a[3]!, a[4]! === 0 ? 0 : a[4]! + 8 * j0 * a[1]! * a[3]!, a[5]!, a[6]!, a[7]!, a[8]! === 0 ? 0 : a[8]! + 8 * j0 * a[1]! * a[2]!, a[9]! + 8 * j0 * a[10]!, a[10]!],
  );
  // Unit directions of the dense Hessian's residual term: kc independent directions e_{p0+j}.
  // mlpUnitTangent(kc, n, nin, nout, a, lda, p0, d, z, t, w2, nout2, z2)
  splitLeading(
    'mlpUnitTangent',
    (a) => a[0]! * a[1]! * (2 * a[3]! + a[11]!),
    MIN_SHARE_WORK,
    (a, j0, kc) => {
      const blk = 8 * j0 * a[1]! * a[3]!;
      return [kc, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]! + j0, a[7]!, a[8]! + blk, a[9]! + blk, a[10]!, a[11]!, a[12]! === 0 ? 0 : a[12]! + 8 * j0 * a[1]! * a[11]!];
    },
  );
  // mlpUnitGrad(kc, n, nin, nout, dg, sparse, a, lda, g, da, p0, noutLo, ninLo, hv, ldh)
  splitLeading(
    'mlpUnitGrad',
    (a) => a[0]! * a[1]! * a[2]! * a[3]!,
    MIN_SHARE_WORK,
    (a, j0, kc) => [
      kc,
      a[1]!,
      a[2]!,
      a[3]!,
      a[4]! === 0 ? 0 : a[4]! + 8 * j0 * a[1]! * a[3]!,
      a[5]!,
      a[6]!,
      a[7]!,
      a[8]!,
      a[9]! === 0 ? 0 : a[9]! + 8 * j0 * a[1]! * a[2]!,
      a[10]! + j0,
      a[11]!,
      a[12]!,
      a[13]! + 8 * j0 * a[14]!,
      a[14]!,
    ],
  );
  // Per-sample kernels: split the n samples; byte offsets of sample i0 in each argument.
  // denseOuterRows(n, k, o, m, delta, a, lda, out, ldout): out rows i·k … per sample.
  splitLeading(
    'denseOuterRows',
    (a) => a[0]! * a[1]! * a[2]! * (a[3]! + 1),
    MIN_SHARE_ELEMENTS,
    (a, i0, n) => [n, a[1]!, a[2]!, a[3]!, a[4]! + 8 * i0 * a[1]! * a[2]!, a[5]! + 8 * i0 * a[6]!, a[6]!, a[7]! + 8 * i0 * a[1]! * a[8]!, a[8]!],
  );
  // densePairOuter(n, k, p, q, x, y, out): out is n × (p·q).
  splitLeading(
    'densePairOuter',
    (a) => a[0]! * a[1]! * a[2]! * a[3]!,
    MIN_SHARE_ELEMENTS,
    (a, i0, n) => [n, a[1]!, a[2]!, a[3]!, a[4]! + 8 * i0 * a[1]! * a[2]!, a[5]! + 8 * i0 * a[1]! * a[3]!, a[6]! + 8 * i0 * a[2]! * a[3]!],
  );
  // densePairOuterLower(n, k, p, x, out): out is n × p(p+1)/2.
  splitLeading(
    'densePairOuterLower',
    (a) => (a[0]! * a[1]! * a[2]! * (a[2]! + 1)) / 2,
    MIN_SHARE_ELEMENTS,
    (a, i0, n) => [n, a[1]!, a[2]!, a[3]! + 8 * i0 * a[1]! * a[2]!, a[4]! + 4 * i0 * a[2]! * (a[2]! + 1)],
  );
  // denseRowSqSums(n, k, o, x, out): out is n × o.
  splitLeading(
    'denseRowSqSums',
    (a) => a[0]! * a[1]! * a[2]!,
    MIN_SHARE_ELEMENTS,
    (a, i0, n) => [n, a[1]!, a[2]!, a[3]! + 8 * i0 * a[1]! * a[2]!, a[4]! + 8 * i0 * a[2]!],
  );
  // denseMulRep(n, k, c, d, x, out): d is n × c, x and out (n·k) × c.
  splitLeading(
    'denseMulRep',
    (a) => a[0]! * a[1]! * a[2]!,
    MIN_SHARE_ELEMENTS,
    (a, i0, n) => [n, a[1]!, a[2]!, a[3]! + 8 * i0 * a[2]!, a[4]! + 8 * i0 * a[1]! * a[2]!, a[5]! + 8 * i0 * a[1]! * a[2]!],
  );
  return ex as unknown as E;
}
