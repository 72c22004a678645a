#!/usr/bin/env python3
"""numpy's Gram matrix on a given number of BLAS threads, for bench/threads.bench.ts.

    python3 bench/numpy_threads.py --threads T [--quick] [--out FILE]

Timed op: C = X.T @ (w[:, None] * X) (full d x d product, inputs seeded with default_rng(0)),
for (N, d) = (10000, 256) and (200000, 128). The thread count is set in the environment
(OPENBLAS/OMP/MKL) before numpy is imported; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
removed from this process's environment as in numpy_kernels.py. Method as numpy_kernels.py:
bench/timing.py's loop (warm-up >= 0.3 s, cycles of >= 50 ms, >= 10 samples over >= 2 s).
"""
import argparse
import json
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--threads', type=int, required=True)
parser.add_argument('--quick', action='store_true')
parser.add_argument('--out', required=True)
args = parser.parse_args()
for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[var] = str(args.threads)
for var in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402  (after the environment is set)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402  (bench/timing.py)

WARM_S, CYCLE_S = (0.1, 0.05) if args.quick else (0.3, 0.05)
MAX_S, MIN_SAMPLES = (0.5, 3) if args.quick else (2.0, 10)


def bench(fn):
    med, mn, n, _cpu, _share = timing.bench(fn, WARM_S, CYCLE_S, MAX_S, MIN_SAMPLES)
    return med, mn, n


rng = np.random.default_rng(0)
out = {'numpy': np.__version__, 'threads': args.threads, 'rows': []}
for n, d in ((10000, 256), (200000, 128)):
    X = rng.standard_normal((n, d))
    w = rng.uniform(0.5, 1.5, n)
    med, mn, k = bench(lambda: X.T @ (w[:, None] * X))
    out['rows'].append({'name': 'gram', 'N': n, 'd': d, 'medianMs': med * 1e3, 'minMs': mn * 1e3, 'samples': k})
    print(f'  numpy {args.threads} thread(s) gram N={n} d={d}: median {med * 1e3:.2f} ms (min {mn * 1e3:.2f}, {k} samples)', flush=True)
with open(args.out, 'w') as f:
    json.dump(out, f, indent=1)
