#!/usr/bin/env python3
"""numpy (one BLAS thread) on the sizes of bench/kernels.bench.ts, for the natgrad/numpy ratios.

    python3 bench/numpy_kernels.py [--out bench/results/numpy.json] [--quick] [--keep-openblas-env]

Timed ops (inputs seeded with numpy's default_rng; timing does not depend on the values):
- gram (N, d):           C = X.T @ (w[:, None] * X)                      (full d x d product)
- cholesky+solve (d):    M = A.copy(); M[diag] += lam; factor; solve one right-hand side
    scipy:  scipy.linalg.cho_factor + cho_solve (LAPACK dpotrf + dpotrs), when scipy is installed
    numpy:  np.linalg.cholesky + two np.linalg.solve (numpy has no triangular solver, so
            these are LU solves: numpy-only, slower than dpotrs)
Useful flops as in kernels.bench.ts: gram N*d*(d+1), cholesky+solve d^3/3 + 2 d^2.

Method (mirrors benchmark.js): warm up >= 0.3 s, calibrate a cycle of `count` calls lasting
>= 50 ms, then take samples (mean time per op over one cycle) for >= 2 s and >= 20 samples;
report the median and the minimum of the samples, and the mean CPU time per op over the
sampling with the share of wall time the process was on a core (< 1: other processes ran).

Threads: OPENBLAS/OMP/MKL thread counts are set to 1 before numpy is imported. Some of this
project's machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for older OpenBLAS builds,
which slows a current numpy; this script removes both from its own environment (not from
the caller's) unless --keep-openblas-env, and reports the kernel threadpoolctl shows.
"""
import argparse
import json
import os
import platform
import sys

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results', 'numpy.json'))
parser.add_argument('--quick', action='store_true')
parser.add_argument('--keep-openblas-env', action='store_true')
args = parser.parse_args()

for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ[var] = '1'
removed_env = {}
if not args.keep_openblas_env:
    for var in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'):
        if var in os.environ:
            removed_env[var] = os.environ.pop(var)

import numpy as np  # noqa: E402  (after the environment is set)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402  (bench/timing.py)

try:
    import scipy
    import scipy.linalg as sla
except ImportError:  # numpy-only fallback
    scipy = None
    sla = None

try:
    from threadpoolctl import threadpool_info
    threadpool = threadpool_info()
except ImportError:
    threadpool = None

GRAM_SIZES = [(1605, 124), (569, 31), (10000, 256)]
CHOL_SIZES = [31, 124, 512]
LAMBDA = 1e-3
WARM_S = 0.1 if args.quick else 0.3
CYCLE_S = 0.05
MAX_S = 0.5 if args.quick else 2.0
MIN_SAMPLES = 5 if args.quick else 20


def bench(fn):
    """(median, min) seconds per op over cycles of calls, the sample count, CPU ms per op, CPU share."""
    return timing.bench(fn, WARM_S, CYCLE_S, MAX_S, MIN_SAMPLES)


def row(name, sizes, variant, impl, flops, fn):
    med, mn, n, cpu, share = bench(fn)
    r = {'name': name, 'sizes': sizes, 'variant': variant, 'impl': impl,
         'medianMs': med * 1e3, 'gflops': flops / med / 1e9, 'minMs': mn * 1e3, 'samples': n,
         'cpuMs': cpu * 1e3, 'cpuShare': share}
    size_text = ' '.join(f'{k}={v}' for k, v in sizes.items())
    print(f'  {name:15s} {size_text:14s} {impl:40s} median {med * 1e3:10.4f} ms  min {mn * 1e3:10.4f} ms  '
          f'{r["gflops"]:6.2f} GF/s  ({n} samples; cpu {cpu * 1e3:.4f} ms/op, share {share:.2f})', flush=True)
    return r


def main():
    rng = np.random.default_rng(0)
    results = []
    print(f'numpy {np.__version__}' + (f', scipy {scipy.__version__}' if scipy else ', no scipy') + f', python {platform.python_version()}')
    if removed_env:
        print('removed from this process environment: ' + ', '.join(f'{k}={v}' for k, v in removed_env.items()))
    if threadpool is not None:
        for t in threadpool:
            print(f"threadpoolctl: {t.get('internal_api')} {t.get('version')} architecture={t.get('architecture')} threads={t.get('num_threads')}")
    else:
        print('threadpoolctl not installed: BLAS kernel not reported')

    for n, d in GRAM_SIZES:
        X = rng.standard_normal((n, d))
        w = 0.05 + rng.random(n)
        results.append(row('gram', {'N': n, 'd': d}, 'numpy', 'X.T @ (w[:, None] * X)', n * d * (d + 1),
                           lambda X=X, w=w: X.T @ (w[:, None] * X)))

    for d in CHOL_SIZES:
        Z = rng.standard_normal((2 * d, d))
        A = Z.T @ Z / (2 * d) + 0.1 * np.eye(d)
        A = (A + A.T) / 2
        b = rng.standard_normal(d)
        flops = d ** 3 / 3 + 2 * d * d

        def damped(A=A, d=d):
            M = A.copy()
            M.flat[::d + 1] += LAMBDA
            return M

        if sla is not None:
            def scipy_solve(b=b, damped=damped):
                c = sla.cho_factor(damped(), lower=True, overwrite_a=True, check_finite=False)
                return sla.cho_solve(c, b, check_finite=False)
            results.append(row('cholesky+solve', {'d': d}, 'scipy', 'scipy cho_factor + cho_solve', flops, scipy_solve))

        def numpy_solve(b=b, damped=damped):
            L = np.linalg.cholesky(damped())
            return np.linalg.solve(L.T, np.linalg.solve(L, b))
        results.append(row('cholesky+solve', {'d': d}, 'numpy', 'np.linalg.cholesky + 2x np.linalg.solve', flops, numpy_solve))

    meta = {
        'python': platform.python_version(),
        'numpy': np.__version__,
        'scipy': scipy.__version__ if scipy else None,
        'threadpool': threadpool,
        'removedEnv': removed_env,
        'machine': platform.machine(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump({'meta': meta, 'results': results}, f, indent=2)
        f.write('\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    sys.exit(main())
