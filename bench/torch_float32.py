#!/usr/bin/env python3
"""PyTorch float32 curvature products: the reference of natgrad's float32 benchmark (issue 19).

    /usr/bin/python3 bench/torch_float32.py [--threads T] [--quick]

Prints one JSON line (the last line of stdout) with the median and minimum wall times in ms of
  ggn_vp        MLP [64, 256, 256, 10] tanh, categorical, N = 2048: one GGN-vector product from
                theta (forward pass included): functorch jvp + vjp, and forward-mode dual forward +
                one backward (the faster is kept)
  hvp           same network: one Hessian-vector product from theta: functorch jvp(grad(L)) and
                double backward (the faster is kept)
  ggn_vp_scale  MLP [256, 1024, 1024, 10] tanh, categorical, N = 1024 (D = 1,323,018): one
                GGN-vector product from theta (both methods, the faster is kept)
computed exactly as bench/torch_models.py and bench/torch_scale.py compute them in float64, but
with torch's default float32 dtype. --threads T (default 1) sets OPENBLAS/OMP/MKL/BLIS thread
counts before torch is imported and torch.set_num_threads(T). bench/float32.bench.ts runs this
script once per thread count and compares with the faster run.
"""
import json
import os
import statistics
import sys
import time

THREADS = int(sys.argv[sys.argv.index('--threads') + 1]) if '--threads' in sys.argv else 1
QUICK = '--quick' in sys.argv
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[_var] = str(THREADS)

import torch  # noqa: E402
import torch.autograd.forward_ad as fwAD  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from functorch import grad, jvp, make_functional, vjp  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(THREADS)


def measure(fn, reps):
    fn()  # warm-up
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), len(samples)


def setup(sizes, N):
    torch.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)
    fmodel, params = make_functional(model)
    params = tuple(p.detach() for p in params)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(N, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (N,), generator=g)
    Y = F.one_hot(y, sizes[-1]).float()
    torch.manual_seed(5)
    v = tuple(torch.randn_like(p) for p in params)
    assert all(p.dtype == torch.float32 for p in params) and X.dtype == torch.float32
    return fmodel, params, X, Y, v, sum(p.numel() for p in params)


def ggn_variants(fmodel, params, X, v, N):
    def fwd(*p):
        return fmodel(p, X)

    def lam(logits, u):
        p = torch.softmax(logits, 1)
        return (p * u - p * (p * u).sum(1, keepdim=True)) / N

    def functorch_jvp_vjp():
        logits, Jv = jvp(fwd, params, v)
        _, pull = vjp(fwd, *params)
        return pull(lam(logits.detach(), Jv))

    ps_req = [p.detach().clone().requires_grad_(True) for p in params]

    def dual_forward_backward():
        with fwAD.dual_level():
            duals = [fwAD.make_dual(p, t) for p, t in zip(ps_req, v)]
            logits, Jv = fwAD.unpack_dual(fmodel(tuple(duals), X))
            return torch.autograd.grad(logits, ps_req, grad_outputs=lam(logits.detach(), Jv.detach()))

    return {'functorch jvp + vjp': functorch_jvp_vjp, 'torch forward_ad dual forward + one backward': dual_forward_backward}


def hvp_variants(fmodel, params, X, Y, v):
    def L(*p):
        logits = fmodel(p, X)
        return (torch.logsumexp(logits, 1) - (logits * Y).sum(1)).mean()

    gL = grad(L, argnums=tuple(range(len(params))))
    ps_req = [p.detach().clone().requires_grad_(True) for p in params]

    def double_backward():
        g = torch.autograd.grad(L(*ps_req), ps_req, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return torch.autograd.grad(dot, ps_req)

    return {'functorch jvp(grad(L))': lambda: jvp(gL, params, v)[1], 'torch double backward': double_backward}


def run(key, variants, reps, meta):
    entry = {'variants': {}, 'variants_min_ms': {}, 'samples': {}, **meta}
    for name, fn in variants.items():
        med, mn, n = measure(fn, reps)
        entry['variants'][name], entry['variants_min_ms'][name], entry['samples'][name] = med, mn, n
        print(f'{key:14s} {name:46s} {med:9.1f} ms (min {mn:.1f}, n = {n})', file=sys.stderr, flush=True)
    best = min(entry['variants'], key=entry['variants'].get)
    entry['best_ms'], entry['best_method'] = entry['variants'][best], best
    return entry


def main():
    out = {'torch': torch.__version__, 'threads': THREADS, 'dtype': 'float32'}
    small, big = ([64, 256, 256, 10], 2048), ([256, 1024, 1024, 10], 1024)
    fmodel, params, X, Y, v, D = setup(*small)
    meta = {'sizes': small[0], 'N': small[1], 'D': D}
    reps = 7 if QUICK else 25
    out['ggn_vp'] = run('ggn_vp', ggn_variants(fmodel, params, X, v, small[1]), reps, meta)
    out['hvp'] = run('hvp', hvp_variants(fmodel, params, X, Y, v), reps, meta)
    fmodel, params, X, Y, v, D = setup(*big)
    meta = {'sizes': big[0], 'N': big[1], 'D': D}
    out['ggn_vp_scale'] = run('ggn_vp_scale', ggn_variants(fmodel, params, X, v, big[1]), 3 if QUICK else 9, meta)
    out['loadavg'] = os.getloadavg()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
