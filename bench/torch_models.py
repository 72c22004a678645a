#!/usr/bin/env python3
"""PyTorch (functorch and BackPACK) timings of natgrad's neural-network curvature workloads.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_models.py [--quick] [--out FILE] [--backpack TARBALL]
    /usr/bin/python3 bench/torch_models.py --dtype float32 [--threads T] [--quick] [--out FILE]

float64, one thread (torch.set_num_threads(1); OPENBLAS/OMP/MKL thread counts are set to 1 before
torch is imported). `--dtype float32` (issue 19) times the same workloads, the same ways, in
torch's float32 (default dtype float32: parameters, data and tangents are float32); `--threads T`
(default 1) sets the torch and BLAS thread counts (bench/models.bench.ts runs float32 with 1 and 2
threads and keeps the faster). The float32 results go to results/torch-models-float32.json (one
thread) or results/torch-models-float32-<T>threads.json; the variants are checked against each
other to 1e-3 relative there (float32 rounding; 1e-8 in float64).

Each workload is timed in every way that applies -- functorch and BackPACK
variants -- and the JSON records each variant, the fastest functorch one, the fastest BackPACK one,
and the overall best:

    { workload: { functorch_ms, backpack_ms, best_ms, best_method, variants: {name: ms}, ... } }

Times are medians over repeats after warm-up (the minimum of the samples is recorded too). Before
timing, the variants of a workload are checked against each other (same numbers to 1e-8 relative).

Workloads (categorical likelihood = cross-entropy with mean reduction, Glorot-uniform-like init):
  ggn_dense       [16, 32, 32, 10] tanh, N = 512, D = 1930: the dense GGN.
                  backpack: SqrtGGNExact + V^T V (one GEMM);  functorch: vmap(jacrev) per-sample
                  Jacobians, square-root factor of Lambda_n, one GEMM.
  ggn_diag_kfac   same network: exact GGN diagonal and the KFAC (KFLR) factors.
                  backpack: DiagGGNExact + KFLR in one backward pass; functorch: from vmap(jacrev).
  per_sample_grad [64, 128, 10] relu, N = 1024: per-sample gradients.
                  backpack: BatchGrad; functorch: vmap(grad) (also timed with the N x D concatenation).
  ggn_vp          [64, 256, 256, 10] tanh, N = 2048: one GGN-vector product from theta (forward
                  pass included). functorch: jvp + vjp; torch.autograd.forward_ad dual forward +
                  one backward; backpack: hessianfree.ggn_vector_product (R-op/L-op by double backward).
  hvp             same network: one Hessian-vector product from theta. functorch: jvp(grad(L))
                  (forward-over-reverse); double backward; backpack: hessianfree.hessian_vector_product.
  hessian_dense   [8, 16, 16, 3] tanh, N = 256, D = 467: the dense Hessian.
                  torch.autograd.functional.hessian (vectorized), functorch hessian (jacfwd(jacrev)),
                  jacrev(jacrev). BackPACK has no dense full-network Hessian (backpack_ms = null).

BackPACK (1.5.2, with einops) comes from ../shared/tools/backpack-1.5.2-einops.tar.gz (relative to
the repository root); it is extracted into a temporary folder at run time, never into the
repository. torch 1.13 dropped torch.nn.grad._grad_input_padding, which only BackPACK's conv code
uses; a stub is installed before the import.

The machine may be loaded by other work: the numbers are medians under whatever load there was.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tarfile
import tempfile
import time

# --threads T (default 1) and --dtype are read before torch is imported: the BLAS thread count is fixed then.
THREADS = int(sys.argv[sys.argv.index('--threads') + 1]) if '--threads' in sys.argv else 1
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[_var] = str(THREADS)

import torch  # noqa: E402  (after the environment is set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from functorch import grad, hessian, jacrev, jvp, make_functional, vjp, vmap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--quick', action='store_true', help='fewer repeats')
parser.add_argument('--dtype', choices=('float64', 'float32'), default='float64')
parser.add_argument('--threads', type=int, default=1, help='torch and BLAS threads (default 1)')
parser.add_argument('--out', default=None, help='default results/torch-models.json (float64), torch-models-float32[-<T>threads].json (float32)')
parser.add_argument('--backpack', default=os.path.join(ROOT, '..', 'shared', 'tools', 'backpack-1.5.2-einops.tar.gz'))
parser.add_argument('--only', default=None, help='comma-separated workload keys')
args = parser.parse_args()
if args.dtype == 'float64' and THREADS != 1:
    raise SystemExit('torch_models.py: float64 runs on one thread (--threads is for --dtype float32)')
if args.out is None:
    name = 'torch-models.json' if args.dtype == 'float64' else (
        'torch-models-float32.json' if THREADS == 1 else f'torch-models-float32-{THREADS}threads.json')
    args.out = os.path.join(HERE, 'results', name)
DTYPE = {'float64': torch.float64, 'float32': torch.float32}[args.dtype]
RTOL = 1e-8 if args.dtype == 'float64' else 1e-3

torch.set_default_dtype(DTYPE)
torch.set_num_threads(THREADS)


# ----------------------------------------------------------------------------- BackPACK
def load_backpack(tarball, tmp):
    if not os.path.exists(tarball):
        print(f'BackPACK tarball not found ({tarball}): BackPACK variants skipped')
        return None
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp)
    sys.path.insert(0, tmp)
    torch.nn.grad._grad_input_padding = lambda *a, **k: None  # stub: torch 1.13 dropped it, only conv code uses it
    import backpack  # noqa: F401
    import backpack.extensions  # noqa: F401
    import backpack.hessianfree.ggnvp  # noqa: F401
    import backpack.hessianfree.hvp  # noqa: F401
    return backpack


# ----------------------------------------------------------------------------- timing
def measure(fn, quick):
    """Median (and min) wall time in ms over repeats after warm-up."""
    fn()  # warm-up (and first-call overheads)
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    budget = 1.0 if quick else 4.0
    reps = max(3 if quick else 7, min(200, int(budget / max(one, 1e-6))))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), len(samples)


def close(a, b, rtol=None):
    rtol = RTOL if rtol is None else rtol
    a, b = a.reshape(-1), b.reshape(-1)
    return (a - b).abs().max().item() <= rtol * max(1.0, b.abs().max().item())


# ----------------------------------------------------------------------------- models
def mlp(sizes, act):
    torch.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append({'tanh': nn.Tanh, 'relu': nn.ReLU}[act]())
    return nn.Sequential(*layers)


def data(sizes, N, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (N,), generator=g)
    return X, y


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def cross_entropy_fwd(logits, onehot):
    """Mean cross-entropy written with ops that support forward-mode AD (nll_loss_backward does not
    in torch 1.13, so F.cross_entropy cannot be used under jvp(grad(.)) / jacfwd(jacrev(.)))."""
    return (torch.logsumexp(logits, 1) - (logits * onehot).sum(1)).mean()


def sqrt_lambda_factor(logits):
    """For Lambda = diag(p) - p p^T = S S^T: returns a function J (N x C x D) -> S^T J."""
    p = torch.softmax(logits, 1)
    sp = p.sqrt()

    def apply(J):
        return sp[:, :, None] * (J - torch.einsum('nc,ncd->nd', p, J)[:, None, :])
    return apply


# ----------------------------------------------------------------------------- workloads
def w_ggn_dense(bp):
    sizes, N = [16, 32, 32, 10], 512
    model = mlp(sizes, 'tanh')
    X, y = data(sizes, N)
    fmodel, params = make_functional(model)
    C = sizes[-1]
    variants = {}

    def f1(p, x):
        return fmodel(p, x[None])[0]

    def functorch_ggn():
        Js = vmap(jacrev(f1), in_dims=(None, 0))(params, X)
        J = torch.cat([j.reshape(N, C, -1) for j in Js], 2)
        with torch.no_grad():
            V = sqrt_lambda_factor(fmodel(params, X))(J).reshape(N * C, -1)
            return (V.T @ V) / N
    variants['functorch vmap(jacrev) + GEMM'] = functorch_ggn

    if bp is not None:
        from backpack import backpack as bpctx, extend
        from backpack.extensions import SqrtGGNExact
        bmodel = extend(mlp(sizes, 'tanh'))
        lossf = extend(nn.CrossEntropyLoss(reduction='mean'))

        def backpack_ggn():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(SqrtGGNExact()):
                loss.backward()
            with torch.no_grad():
                V = torch.cat([p.sqrt_ggn_exact.reshape(C * N, -1) for p in bmodel.parameters()], 1)
                return V.T @ V
        variants['backpack SqrtGGNExact + GEMM'] = backpack_ggn
    D = sum(p.numel() for p in model.parameters())
    return variants, {'sizes': sizes, 'N': N, 'D': D}, None


def w_ggn_diag_kfac(bp):
    sizes, N = [16, 32, 32, 10], 512
    model = mlp(sizes, 'tanh')
    X, y = data(sizes, N)
    fmodel, params = make_functional(model)
    C = sizes[-1]
    variants = {}

    def f1(p, x):
        return fmodel(p, x[None])[0]

    def activations(p):
        a, ins = X, []
        for i in range(0, len(p), 2):
            ins.append(a)
            a = F.linear(a, p[i], p[i + 1])
            if i + 2 < len(p):
                a = torch.tanh(a)
        return a, ins

    def functorch_diag_kfac():
        Js = vmap(jacrev(f1), in_dims=(None, 0))(params, X)
        with torch.no_grad():
            logits, ins = activations(params)
            S = sqrt_lambda_factor(logits)
            Vs = [S(j.reshape(N, C, -1)) for j in Js]
            diag = [(V * V).sum((0, 1)) / N for V in Vs]
            kf = []
            for li in range(len(ins)):
                Vb = Vs[2 * li + 1]  # df/db_l = df/dz_l
                G = torch.einsum('nch,nck->hk', Vb, Vb) / N
                A = ins[li].T @ ins[li] / N
                kf.append((G, A))
            return flat(diag), kf
    variants['functorch vmap(jacrev)'] = functorch_diag_kfac

    if bp is not None:
        from backpack import backpack as bpctx, extend
        from backpack.extensions import KFLR, DiagGGNExact
        bmodel = extend(mlp(sizes, 'tanh'))
        lossf = extend(nn.CrossEntropyLoss(reduction='mean'))

        def backpack_diag_kfac():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(DiagGGNExact(), KFLR()):
                loss.backward()
            ps = list(bmodel.parameters())
            return flat([p.diag_ggn_exact for p in ps]), [tuple(ps[i].kflr) for i in range(0, len(ps), 2)]
        variants['backpack DiagGGNExact + KFLR'] = backpack_diag_kfac

    def check(outs):
        (d0, k0), rest = outs[0], outs[1:]
        for d, k in rest:
            if not close(d, d0):
                return False
            for (G, A), (G0, A0) in zip(k, k0):
                if not (close(G, G0) and close(A, A0)):
                    return False
        return True
    D = sum(p.numel() for p in model.parameters())
    return variants, {'sizes': sizes, 'N': N, 'D': D}, check


def w_per_sample_grad(bp):
    sizes, N = [64, 128, 10], 1024
    model = mlp(sizes, 'relu')
    X, y = data(sizes, N)
    fmodel, params = make_functional(model)
    variants = {}

    def loss1(p, x, t):
        return F.cross_entropy(fmodel(p, x[None]), t[None])

    psg = vmap(grad(loss1), in_dims=(None, 0, 0))

    def functorch_psg():
        return psg(params, X, y)

    def functorch_psg_cat():
        return torch.cat([g.reshape(N, -1) for g in psg(params, X, y)], 1)
    variants['functorch vmap(grad)'] = functorch_psg
    variants['functorch vmap(grad) + cat to N x D'] = functorch_psg_cat

    if bp is not None:
        from backpack import backpack as bpctx, extend
        from backpack.extensions import BatchGrad
        bmodel = extend(mlp(sizes, 'relu'))
        lossf = extend(nn.CrossEntropyLoss(reduction='sum'))  # sum: grad_batch = per-sample gradients

        def backpack_psg():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(BatchGrad()):
                loss.backward()
            return tuple(p.grad_batch for p in bmodel.parameters())

        def backpack_psg_cat():
            return torch.cat([g.reshape(N, -1) for g in backpack_psg()], 1)
        variants['backpack BatchGrad'] = backpack_psg
        variants['backpack BatchGrad + cat to N x D'] = backpack_psg_cat

    def check(outs):
        ref = outs[1]
        for o in outs:
            if not isinstance(o, torch.Tensor):
                o = torch.cat([g.reshape(N, -1) for g in o], 1)
            if not close(o, ref):
                return False
        return True
    D = sum(p.numel() for p in model.parameters())
    return variants, {'sizes': sizes, 'N': N, 'D': D}, check


def big_setup():
    sizes, N = [64, 256, 256, 10], 2048
    model = mlp(sizes, 'tanh')
    X, y = data(sizes, N)
    fmodel, params = make_functional(model)
    torch.manual_seed(5)
    v = tuple(torch.randn_like(p) for p in params)
    return sizes, N, model, X, y, fmodel, params, v


def w_ggn_vp(bp):
    sizes, N, model, X, y, fmodel, params, v = big_setup()
    variants = {}

    def fwd(*p):
        return fmodel(p, X)

    def lam(logits, u):
        p = torch.softmax(logits, 1)
        return (p * u - p * (p * u).sum(1, keepdim=True)) / N

    def functorch_jvp_vjp():
        logits, Jv = jvp(fwd, params, v)
        _, pull = vjp(fwd, *params)
        return flat(pull(lam(logits.detach(), Jv)))
    variants['functorch jvp + vjp'] = functorch_jvp_vjp

    import torch.autograd.forward_ad as fwAD

    ps_req = [p.detach().clone().requires_grad_(True) for p in params]

    def dual_forward_backward():
        with fwAD.dual_level():
            duals = [fwAD.make_dual(p, t) for p, t in zip(ps_req, v)]
            out = fmodel(tuple(duals), X)
            logits, Jv = fwAD.unpack_dual(out)
            g = torch.autograd.grad(logits, ps_req, grad_outputs=lam(logits.detach(), Jv.detach()))
        return flat(g)
    variants['torch forward_ad dual forward + one backward'] = dual_forward_backward

    if bp is not None:
        from backpack.hessianfree.ggnvp import ggn_vector_product_from_plist
        ps2 = [p.detach().clone().requires_grad_(True) for p in params]

        def backpack_ggnvp():
            out = fmodel(tuple(ps2), X)
            loss = F.cross_entropy(out, y)
            return flat(ggn_vector_product_from_plist(loss, out, ps2, list(v)))
        variants['backpack hessianfree.ggn_vector_product'] = backpack_ggnvp
    D = sum(p.numel() for p in model.parameters())
    return variants, {'sizes': sizes, 'N': N, 'D': D}, None


def w_hvp(bp):
    sizes, N, model, X, y, fmodel, params, v = big_setup()
    variants = {}

    Y = F.one_hot(y, sizes[-1]).to(DTYPE)

    def L(*p):
        return cross_entropy_fwd(fmodel(p, X), Y)

    gL = grad(L, argnums=tuple(range(len(params))))

    def functorch_fwd_over_rev():
        _, hv = jvp(gL, params, v)
        return flat(hv)
    variants['functorch jvp(grad(L))'] = functorch_fwd_over_rev

    ps_req = [p.detach().clone().requires_grad_(True) for p in params]

    def double_backward():
        loss = L(*ps_req)
        g = torch.autograd.grad(loss, ps_req, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return flat(torch.autograd.grad(dot, ps_req))
    variants['torch double backward'] = double_backward

    if bp is not None:
        from backpack.hessianfree.hvp import hessian_vector_product

        def backpack_hvp():
            loss = L(*ps_req)
            return flat(hessian_vector_product(loss, ps_req, list(v)))
        variants['backpack hessianfree.hessian_vector_product'] = backpack_hvp
    D = sum(p.numel() for p in model.parameters())
    return variants, {'sizes': sizes, 'N': N, 'D': D}, None


def w_hessian_dense(bp):
    sizes, N = [8, 16, 16, 3], 256
    model = mlp(sizes, 'tanh')
    X, y = data(sizes, N)
    shapes = [p.shape for p in model.parameters()]
    theta = flat([p.detach() for p in model.parameters()])
    D = theta.numel()
    Y = F.one_hot(y, sizes[-1]).to(DTYPE)

    def L(th):
        a, o = X, 0
        for i in range(0, len(shapes), 2):
            (m, n) = shapes[i]
            W = th[o:o + m * n].reshape(m, n)
            o += m * n
            b = th[o:o + m]
            o += m
            a = F.linear(a, W, b)
            if i + 2 < len(shapes):
                a = torch.tanh(a)
        return cross_entropy_fwd(a, Y)

    variants = {
        'torch.autograd.functional.hessian (vectorize)':
            lambda: torch.autograd.functional.hessian(L, theta, vectorize=True),
        'torch.autograd.functional.hessian (vectorize, forward-mode outer)':
            lambda: torch.autograd.functional.hessian(L, theta, vectorize=True, outer_jacobian_strategy='forward-mode'),
        'functorch hessian (jacfwd(jacrev))': lambda: hessian(L)(theta),
        'functorch jacrev(jacrev)': lambda: jacrev(jacrev(L))(theta),
    }
    return variants, {'sizes': sizes, 'N': N, 'D': D}, None


WORKLOADS = [
    ('ggn_dense', w_ggn_dense, 0.82e3),
    ('ggn_diag_kfac', w_ggn_diag_kfac, 7.6),
    ('per_sample_grad', w_per_sample_grad, 33.0),
    ('ggn_vp', w_ggn_vp, 63.0),
    ('hvp', w_hvp, 82.0),
    ('hessian_dense', w_hessian_dense, 0.16e3),
]


def main():
    only = set(args.only.split(',')) if args.only else None
    results = {}
    with tempfile.TemporaryDirectory(prefix='backpack-') as tmp:
        bp = load_backpack(args.backpack, tmp)
        print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.dtype}, '
              f"backpack {'1.5.2' if bp is not None else 'absent'}, {'quick' if args.quick else 'full'} run")
        print(f"{'workload':16s} {'variant':62s} {'median ms':>10s} {'min ms':>10s} {'n':>4s}")
        for key, make, ref_ms in WORKLOADS:
            if only and key not in only:
                continue
            variants, info, check = make(bp)
            outs = [fn() for fn in variants.values()]
            if check is not None:
                ok = check(outs)
            else:
                ok = all(close(o, outs[0]) for o in outs[1:])
            if not ok:
                raise SystemExit(f'{key}: the variants disagree')
            del outs
            entry = {'variants': {}, 'variants_min_ms': {}, 'samples': {}}
            for name, fn in variants.items():
                med, mn, n = measure(fn, args.quick)
                entry['variants'][name] = med
                entry['variants_min_ms'][name] = mn
                entry['samples'][name] = n
                print(f'{key:16s} {name:62s} {med:10.2f} {mn:10.2f} {n:4d}', flush=True)
            fs = {k: t for k, t in entry['variants'].items() if not k.startswith('backpack')}
            bs = {k: t for k, t in entry['variants'].items() if k.startswith('backpack')}
            best = min(entry['variants'], key=entry['variants'].get)
            results[key] = {
                'functorch_ms': min(fs.values()) if fs else None,
                'backpack_ms': min(bs.values()) if bs else None,
                'best_ms': entry['variants'][best],
                'best_method': best,
                'reference_ms': ref_ms if args.dtype == 'float64' else None,  # the references are float64 timings
                **info, **entry,
            }
            if args.dtype != 'float64':
                results[key].update({'dtype': args.dtype, 'threads': THREADS})
    print()
    print(f"{'workload':16s} {'functorch ms':>13s} {'backpack ms':>12s} {'best ms':>9s} {'ref ms':>8s}  best method")
    for key, r in results.items():
        bpm = f"{r['backpack_ms']:12.2f}" if r['backpack_ms'] is not None else f"{'-':>12s}"
        ref = f"{r['reference_ms']:8.1f}" if r['reference_ms'] is not None else f"{'-':>8s}"
        print(f"{key:16s} {r['functorch_ms']:13.2f} {bpm} {r['best_ms']:9.2f} {ref}  {r['best_method']}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as fh:
        json.dump(results, fh, indent=2)
        fh.write('\n')
    print(f'wrote {args.out}  (machine: {platform.machine()}, load average at the end: '
          f'{" ".join("%.2f" % x for x in os.getloadavg())}; medians under that load)')


if __name__ == '__main__':
    main()
