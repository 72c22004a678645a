"""The timing loop of the numpy benchmarks (numpy_kernels.py, numpy_threads.py): benchmark.js's method.

Warm up for >= warm_s and >= 5 calls, calibrate a cycle of `count` calls lasting >= cycle_s, then
take samples (mean time per op over one cycle) for >= max_s and >= min_samples, with the garbage
collector off. Imports nothing heavy, so callers can set BLAS thread counts before numpy.
"""
import gc
import statistics
import time


def bench(fn, warm_s, cycle_s, max_s, min_samples):
    """(median, min) seconds per op, the sample count, mean CPU seconds per op, CPU / wall time."""
    t0 = time.perf_counter()
    calls = 0
    while calls < 5 or time.perf_counter() - t0 < warm_s:
        fn()
        calls += 1
    count = 1
    while True:
        t = time.perf_counter()
        for _ in range(count):
            fn()
        elapsed = time.perf_counter() - t
        if elapsed >= cycle_s:
            break
        count = max(count * 2, int(count * cycle_s / max(elapsed, 1e-9) * 1.1))
    samples = []
    start = time.perf_counter()
    cpu0 = time.process_time()
    gc.disable()
    try:
        while len(samples) < min_samples or time.perf_counter() - start < max_s:
            t = time.perf_counter()
            for _ in range(count):
                fn()
            samples.append((time.perf_counter() - t) / count)
    finally:
        gc.enable()
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - start
    return statistics.median(samples), min(samples), len(samples), cpu / (len(samples) * count), cpu / wall
