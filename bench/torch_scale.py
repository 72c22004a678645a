#!/usr/bin/env python3
"""PyTorch matrix-free curvature products on a large MLP (for natgrad's Lanczos comparison).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_scale.py [--quick] [--out FILE]
    /usr/bin/python3 bench/torch_scale.py --dtype float32 [--threads T] [--quick] [--n N] [--out FILE]

MLP [256, 1024, 1024, 10] tanh, categorical (mean cross-entropy), N = 1024, float64, one thread,
D = 1,323,018. Timed (medians over repeats after one warm-up):
  ggn_vp        one GGN-vector product from theta (forward pass included): functorch jvp + vjp
  hvp           one Hessian-vector product from theta: double backward; functorch jvp(grad(L))
  ggn_vp_x20    20 GGN-vector products at a fixed theta, as Lanczos does them: independent products
                from theta, and with the vjp of one forward pass reused (one jvp per product)
  hvp_x20       20 Hessian-vector products at a fixed theta: independent double backwards, and one
                create_graph gradient reused by 20 backward passes
Peak RSS (getrusage ru_maxrss) is recorded after each workload. JSON in the style of
torch_models.py: { workload: { functorch_ms, backpack_ms (null), best_ms, best_method, variants,
peak_rss_mb } }. The machine may be loaded by other work: the numbers are medians under that load.

`--dtype float32` (issue 19) times the same workloads in torch's float32 (default dtype float32);
results go to results/torch-scale-float32.json (one thread) or torch-scale-float32-<T>threads.json,
and the consistency checks allow 1e-3 relative (float32 rounding). bench/scale.bench.ts runs it with
1 and 2 threads and keeps the faster. `--n N` (default 1024) changes the number of samples (the
quick natgrad run uses N = 256); the JSON records N.
"""
import argparse
import sys
import json
import os
import resource
import statistics
import time

# --threads T (default 1) is read before torch is imported: the BLAS thread count is fixed then.
THREADS = int(sys.argv[sys.argv.index('--threads') + 1]) if '--threads' in sys.argv else 1
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[_var] = str(THREADS)

DTYPE_NAME = sys.argv[sys.argv.index('--dtype') + 1] if '--dtype' in sys.argv else 'float64'

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from functorch import grad, jvp, make_functional, vjp  # noqa: E402

DTYPE = {'float64': torch.float64, 'float32': torch.float32}[DTYPE_NAME]
torch.set_default_dtype(DTYPE)
torch.set_num_threads(THREADS)

HERE = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--quick', action='store_true')
parser.add_argument('--threads', type=int, default=1, help='torch and BLAS threads (default 1)')
parser.add_argument('--dtype', choices=('float64', 'float32'), default='float64')
parser.add_argument('--n', type=int, default=1024, help='samples (default 1024)')
parser.add_argument('--out', default=None, help='default results/torch-scale[-float32].json (1 thread), torch-scale[-float32]-<T>threads.json otherwise')
args = parser.parse_args()
if args.out is None:
    stem = 'torch-scale' if DTYPE_NAME == 'float64' else 'torch-scale-float32'
    args.out = os.path.join(HERE, 'results', f'{stem}.json' if THREADS == 1 else f'{stem}-{THREADS}threads.json')

SIZES, N, K = [256, 1024, 1024, 10], args.n, 20
# consistency-check tolerances (relative, absolute): float64 as before; float32 rounding otherwise
RTOL, ATOL, ATOL_X = (1e-8, 1e-12, 1e-14) if DTYPE_NAME == 'float64' else (1e-3, 1e-6, 1e-6)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(fn, reps):
    fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), len(samples)


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def main():
    torch.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(nn.Linear(SIZES[i], SIZES[i + 1]))
        if i < len(SIZES) - 2:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)
    fmodel, params = make_functional(model)
    params = tuple(p.detach() for p in params)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(N, SIZES[0], generator=g)
    y = torch.randint(0, SIZES[-1], (N,), generator=g)
    Y = F.one_hot(y, SIZES[-1]).to(DTYPE)
    torch.manual_seed(5)
    vs = [tuple(torch.randn_like(p) for p in params) for _ in range(K)]
    v = vs[0]
    D = sum(p.numel() for p in params)
    base_rss = peak_rss_mb()

    def fwd(*p):
        return fmodel(p, X)

    def L(*p):
        logits = fmodel(p, X)
        return (torch.logsumexp(logits, 1) - (logits * Y).sum(1)).mean()

    def lam(logits, u):
        p = torch.softmax(logits, 1)
        return (p * u - p * (p * u).sum(1, keepdim=True)) / N

    def ggnvp(vv):
        logits, Jv = jvp(fwd, params, vv)
        _, pull = vjp(fwd, *params)
        return pull(lam(logits.detach(), Jv))

    ps_req = [p.clone().requires_grad_(True) for p in params]

    def hvp_db(vv):
        gr = torch.autograd.grad(L(*ps_req), ps_req, create_graph=True)
        dot = sum((a * b).sum() for a, b in zip(gr, vv))
        return torch.autograd.grad(dot, ps_req)

    gL = grad(L, argnums=tuple(range(len(params))))

    def hvp_fr(vv):
        return jvp(gL, params, vv)[1]

    def ggn_x20_independent():
        return [ggnvp(vv) for vv in vs]

    def ggn_x20_reused():
        logits, pull = vjp(fwd, *params)
        logits = logits.detach()
        out = []
        for vv in vs:
            Jv = jvp(fwd, params, vv)[1]
            out.append(pull(lam(logits, Jv)))
        return out

    def hvp_x20_independent():
        return [hvp_db(vv) for vv in vs]

    def hvp_x20_reused():
        gr = torch.autograd.grad(L(*ps_req), ps_req, create_graph=True)
        out = []
        for i, vv in enumerate(vs):
            dot = sum((a * b).sum() for a, b in zip(gr, vv))
            out.append(torch.autograd.grad(dot, ps_req, retain_graph=i < K - 1))
        return out

    # consistency checks (one product each way)
    assert torch.allclose(flat(hvp_db(v)), flat(hvp_fr(v)), rtol=RTOL, atol=ATOL)
    a = ggn_x20_reused()[3]
    assert torch.allclose(flat(a), flat(ggnvp(vs[3])), rtol=RTOL, atol=ATOL_X)
    b = hvp_x20_reused()[3]
    assert torch.allclose(flat(b), flat(hvp_db(vs[3])), rtol=RTOL, atol=ATOL_X)
    del a, b

    reps1, reps20 = (3, 2) if args.quick else (9, 3)
    workloads = {
        'ggn_vp': {'functorch jvp + vjp': (lambda: ggnvp(v), reps1)},
        'hvp': {'torch double backward': (lambda: hvp_db(v), reps1),
                'functorch jvp(grad(L))': (lambda: hvp_fr(v), reps1)},
        'ggn_vp_x20': {'20 x functorch jvp + vjp from theta': (ggn_x20_independent, reps20),
                       'one vjp reused + 20 x functorch jvp': (ggn_x20_reused, reps20)},
        'hvp_x20': {'20 x double backward from theta': (hvp_x20_independent, reps20),
                    'one create_graph gradient + 20 backward passes': (hvp_x20_reused, reps20)},
    }
    print(f'torch {torch.__version__}, {THREADS} thread(s), {DTYPE_NAME}, MLP {SIZES} tanh, categorical, N = {N}, D = {D}')
    print(f"{'workload':12s} {'variant':50s} {'median ms':>10s} {'min ms':>10s} {'n':>3s} {'peak RSS MB':>12s}")
    results = {}
    for key, variants in workloads.items():
        entry = {'variants': {}, 'variants_min_ms': {}, 'samples': {}}
        for name, (fn, reps) in variants.items():
            med, mn, n = measure(fn, reps)
            entry['variants'][name], entry['variants_min_ms'][name], entry['samples'][name] = med, mn, n
            print(f'{key:12s} {name:50s} {med:10.1f} {mn:10.1f} {n:3d} {peak_rss_mb():12.0f}', flush=True)
        best = min(entry['variants'], key=entry['variants'].get)
        results[key] = {'functorch_ms': entry['variants'][best], 'backpack_ms': None,
                        'best_ms': entry['variants'][best], 'best_method': best,
                        'peak_rss_mb': peak_rss_mb(), 'sizes': SIZES, 'N': N, 'D': D, 'products': K if 'x20' in key else 1,
                        **entry}
        if DTYPE_NAME != 'float64':
            results[key].update({'dtype': DTYPE_NAME, 'threads': THREADS})
    results['ggn_vp']['rss_before_products_mb'] = base_rss
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as fh:
        json.dump(results, fh, indent=2)
        fh.write('\n')
    print(f'wrote {args.out}  (peak RSS {peak_rss_mb():.0f} MB; load average '
          f'{" ".join("%.2f" % x for x in os.getloadavg())}: medians under that load)')


if __name__ == '__main__':
    main()
