#!/usr/bin/env python3
"""PyTorch (autograd, functorch, BackPACK) timings of natgrad's convolutional-network workloads.

    /usr/bin/python3 bench/torch_cnn.py [--threads 1,2] [--ref REF.json] [--dtype float64|float32]
                                        [--quick] [--only k1,k2] [--out FILE]

The network (Fashion-MNIST shaped, D = 20 490): Conv2d(1, 16, 3, padding=1), ReLU, MaxPool2d(2),
Conv2d(16, 32, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(1568, 10); cross-entropy (the
categorical likelihood) with mean reduction over the first N = 256 Fashion-MNIST training images
(read from Debian's IDX files in /usr/share/datasets/fashion-mnist, pixels / 255). float64, or
float32 with --dtype float32 (below).

Threads. For each count T in --threads the script runs itself in a child process with
OPENBLAS/OMP/MKL_NUM_THREADS = T set before torch is imported and torch.set_num_threads(T), and
merges the results into one JSON file:

    { "threads": { "1": { workload: { best_ms, best_method, variants: {name: ms}, ... } }, "2": {…} },
      "check": { … }, "torch": version, … }

Timing: bench/timing.py's loop (warm-up, calibrated cycles, medians; the GC is off while sampling).
Every call starts from the parameters: forward pass, loss, and whatever the workload needs.

theta. With --ref (a JSON file written by bench/cnn.bench.ts: theta, v and natgrad's values at
theta) the network gets natgrad's theta (PyTorch's parameter order = natgrad's order), and before
timing every variant is checked against natgrad's numbers (loss to 1e-9; vectors to 1e-8 relative
to their largest entry); a mismatch stops the script. Without --ref, torch's own seeded init
(timings only, no check).

Workloads (key: what is computed; the variants timed, the fastest is `best`):
  loss_grad        L and its gradient: autograd backward; functorch grad.
  per_sample_grad  the N per-sample gradients of the summed loss: BackPACK BatchGrad (per parameter,
                   and concatenated to N x D); functorch vmap(grad) (same two).
  ggn_diag         the exact GGN diagonal: BackPACK DiagGGNExact.
  kfac_expand      Kronecker factors of the exact Fisher: BackPACK KFLR. NOTE: BackPACK 1.5.2's conv
                   KFLR/KFAC takes A = (1/N) sum_{n,s} a a^T (the 'expand' A up to 1/S) but
                   G = sum_{n,k} (sum_s d)(sum_s d)^T (the 'reduce' G): a hybrid, not KFAC-expand.
  kfac_mc          the same factors from one sampled label per sample: BackPACK KFAC(mc_samples=1).
  ggn_vp           one GGN-vector product: functorch jvp + vjp; forward_ad dual forward + one
                   backward; BackPACK hessianfree ggn_vector_product (double backward).
  hvp              one Hessian-vector product: double backward; functorch jvp(grad(L)); BackPACK
                   hessianfree hessian_vector_product.
A BackPACK call runs the forward pass and loss.backward() in its context, so it also computes the
gradient. BackPACK is loaded at run time through /work/shared/tools/backpack_compat.py (never
copied into the project).

--dtype float32 (issue 19's float32 CNN row; bench/cnn.bench.ts --dtype=float32 passes it and
writes bench/results/torch-cnn-float32.json): torch.set_default_dtype(torch.float32), so the
network, theta, v and the one-hot targets are float32, and X is the float64 pixels / 255 rounded to
float32 once (as natgrad rounds it). natgrad's theta and v arrive already rounded to float32, so both
sides start from the same float32 numbers. Every variant is timed as in float64 and checked against
natgrad's float32 values with float32 tolerances (see FLOAT32_TOL); a mismatch stops the script as
in float64. The reference file's "dtype" must match --dtype.

The machine may be shared with other jobs: the numbers are medians under whatever load there was
(the load average and each variant's CPU / wall ratio are recorded).
"""
import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = '/work/shared/tools'
DATA_DIR = '/usr/share/datasets/fashion-mnist'
N = 256
KEYS = ['loss_grad', 'per_sample_grad', 'ggn_diag', 'kfac_expand', 'kfac_mc', 'ggn_vp', 'hvp']

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--threads', default='1,2', help='comma-separated thread counts (default 1,2)')
parser.add_argument('--ref', default=None, help="natgrad's theta, v and values (from bench/cnn.bench.ts)")
parser.add_argument('--quick', action='store_true', help='shorter sampling (still >= 5 samples)')
parser.add_argument('--only', default=None, help='comma-separated workload keys')
parser.add_argument('--dtype', default='float64', choices=['float64', 'float32'], help='torch dtype (default float64)')
parser.add_argument('--out', default=None, help='output JSON (default bench/results/torch-cnn.json, -float32 for float32)')
parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
args = parser.parse_args()
if args.out is None:
    args.out = os.path.join(HERE, 'results', 'torch-cnn.json' if args.dtype == 'float64' else 'torch-cnn-float32.json')

# Agreement with natgrad: (loss: absolute difference, vectors: max |difference| / max |natgrad entry|).
# float64: every result is a sum of at most ~2e5 terms (the conv1 weight gradient sums N * 784 position
# terms), so even a worst-case n * eps64 ~ 2e-11 relative is far below 1e-8; the loss (~2.3) to 1e-9.
# float32: eps32 = 2^-24 ~ 6e-8 per rounding, both sides round independently and in different orders
# (im2col + blocked sgemm here, BLAS/mkldnn in torch). The products and factors are reductions of
# length 9 (conv1), 144 (conv2), 1568 (dense) in the forward pass and N * S = 256 * 784 ~ 2e5 (conv1
# weights) in the backward/Gram sums; with errors of random sign these grow like sqrt(n) * eps32
# (sqrt(2e5) * 6e-8 ~ 3e-5), and the forward pass's relative errors (~sqrt(1568) * 6e-8 ~ 2e-6) are
# amplified through softmax and its derivatives by a factor of order one; so 1e-4 relative to the largest
# entry is ~3x that estimate, while a wrong formula (a missing 1/N, a transposed factor) shows as >= 1e-2.
# The loss (~2.3, a mean of N logsumexps of logits whose relative errors are ~2e-6): 1e-5 absolute.
FLOAT64_TOL = {'loss': 1e-9, 'vector': 1e-8}
FLOAT32_TOL = {'loss': 1e-5, 'vector': 1e-4}
TOL = FLOAT32_TOL if args.dtype == 'float32' else FLOAT64_TOL


def parent():
    """Run one child per thread count (thread counts must be set before torch loads) and merge."""
    counts = [int(t) for t in args.threads.split(',')]
    merged = {'threads': {}}
    for T in counts:
        env = {**os.environ}
        for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
            env[var] = str(T)
        with tempfile.TemporaryDirectory(prefix='torch-cnn-') as tmp:
            out = os.path.join(tmp, 'out.json')
            cmd = [sys.executable, os.path.abspath(__file__), '--child', '--threads', str(T), '--out', out, '--dtype', args.dtype]
            cmd += ['--ref', args.ref] if args.ref else []
            cmd += ['--quick'] if args.quick else []
            cmd += ['--only', args.only] if args.only else []
            r = subprocess.run(cmd, env=env)
            if r.returncode != 0:
                raise SystemExit(f'torch_cnn.py: the {T}-thread run failed')
            with open(out) as fh:
                child = json.load(fh)
        merged['threads'][str(T)] = child.pop('results')
        merged.update(child)  # check, versions, data: the same for every count
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as fh:
        json.dump(merged, fh, indent=2)
        fh.write('\n')
    print(f'wrote {args.out}')


def child():
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from functorch import grad, jvp, make_functional, vjp, vmap

    sys.path.insert(0, HERE)
    from timing import bench

    sys.path.insert(0, TOOLS)
    import backpack_compat

    backpack_compat.load()
    from backpack import backpack as bpctx, extend
    from backpack.extensions import KFAC, KFLR, BatchGrad, DiagGGNExact
    from backpack.hessianfree.ggnvp import ggn_vector_product_from_plist
    from backpack.hessianfree.hvp import hessian_vector_product

    T = int(args.threads)
    dtype = torch.float32 if args.dtype == 'float32' else torch.float64
    torch.set_default_dtype(dtype)
    torch.set_num_threads(T)

    # ------------------------------------------------------------------------- data, network, theta
    def idx(name):
        with gzip.open(os.path.join(DATA_DIR, name)) as fh:
            raw = fh.read()
        ndim = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

    # pixels / 255 in float64, then (float32) rounded once, as natgrad rounds the float64 X it is given
    X = torch.from_numpy(idx('train-images-idx3-ubyte.gz')[:N].astype(np.float64) / 255.0).to(dtype).reshape(N, 1, 28, 28)
    y = torch.from_numpy(idx('train-labels-idx1-ubyte.gz')[:N].astype(np.int64))
    C = 10
    Y = F.one_hot(y, C).to(dtype)

    def net():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, C))

    ref = None
    if args.ref:
        with open(args.ref) as fh:
            ref = json.load(fh)
        if ref.get('dtype', 'float64') != args.dtype:
            raise SystemExit(f'torch_cnn.py: --dtype {args.dtype} but the reference was computed in {ref.get("dtype", "float64")}')

    def load_theta(model):
        if ref is None:
            return model
        theta = torch.tensor(ref['theta'])
        o = 0
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(theta[o:o + p.numel()].reshape(p.shape))
                o += p.numel()
        assert o == theta.numel(), f'theta has {theta.numel()} entries, the network {o}'
        return model

    def flat(ts):
        return torch.cat([t.reshape(-1) for t in ts])

    base = load_theta(net())
    D = sum(p.numel() for p in base.parameters())
    if ref is not None:
        v = tuple(t.reshape(p.shape) for t, p in zip(torch.tensor(ref['v']).split([p.numel() for p in base.parameters()]), base.parameters()))
    else:
        torch.manual_seed(5)
        v = tuple(torch.randn_like(p) for p in base.parameters())
    fmodel, params = make_functional(base)
    params = tuple(p.detach() for p in params)

    def ce_fwd(logits):
        """Mean cross-entropy with ops that have forward-mode AD in torch 1.13 (nll_loss_backward has none)."""
        return (torch.logsumexp(logits, 1) - (logits * Y).sum(1)).mean()

    def extended(reduction):
        return extend(load_theta(net())), extend(nn.CrossEntropyLoss(reduction=reduction))

    # ------------------------------------------------------------------------- workloads
    def w_loss_grad():
        ps = [p.clone().requires_grad_(True) for p in params]

        def autograd_backward():
            loss = F.cross_entropy(fmodel(ps, X), y)
            g = torch.autograd.grad(loss, ps)
            return loss.detach(), flat(g)

        gl = grad(lambda p: F.cross_entropy(fmodel(p, X), y), has_aux=False)

        def functorch_grad():
            return None, flat(gl(params))
        return {'autograd backward': autograd_backward, 'functorch grad': functorch_grad}

    def w_per_sample_grad():
        bmodel, lossf = extended('sum')  # sum: grad_batch = the per-sample gradients of l_n

        def backpack_batchgrad():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(BatchGrad()):
                loss.backward()
            return tuple(p.grad_batch for p in bmodel.parameters())

        def backpack_batchgrad_cat():
            return torch.cat([g.reshape(N, -1) for g in backpack_batchgrad()], 1)

        def loss1(p, x, t):
            return F.cross_entropy(fmodel(p, x[None]), t[None])
        psg = vmap(grad(loss1), in_dims=(None, 0, 0))

        def functorch_vmap_grad():
            return psg(params, X, y)

        def functorch_vmap_grad_cat():
            return torch.cat([g.reshape(N, -1) for g in psg(params, X, y)], 1)
        return {
            'backpack BatchGrad': backpack_batchgrad,
            'backpack BatchGrad + cat to N x D': backpack_batchgrad_cat,
            'functorch vmap(grad)': functorch_vmap_grad,
            'functorch vmap(grad) + cat to N x D': functorch_vmap_grad_cat,
        }

    def w_ggn_diag():
        bmodel, lossf = extended('mean')

        def backpack_diag():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(DiagGGNExact()):
                loss.backward()
            return flat([p.diag_ggn_exact for p in bmodel.parameters()])
        return {'backpack DiagGGNExact': backpack_diag}

    def kron(ext_factory, attr):
        bmodel, lossf = extended('mean')

        def run():
            bmodel.zero_grad()
            loss = lossf(bmodel(X), y)
            with bpctx(ext_factory()):
                loss.backward()
            return [tuple(getattr(p, attr)) for p in bmodel.parameters()]
        return run

    def w_kfac_expand():
        return {'backpack KFLR': kron(KFLR, 'kflr')}

    def w_kfac_mc():
        return {'backpack KFAC (mc_samples=1)': kron(lambda: KFAC(mc_samples=1), 'kfac')}

    def lam(logits, u):
        p = torch.softmax(logits, 1)
        return (p * u - p * (p * u).sum(1, keepdim=True)) / N

    def w_ggn_vp():
        def fwd(*p):
            return fmodel(p, X)

        def functorch_jvp_vjp():
            logits, Jv = jvp(fwd, params, v)
            _, pull = vjp(fwd, *params)
            return flat(pull(lam(logits.detach(), Jv)))

        import torch.autograd.forward_ad as fwAD
        ps_req = [p.clone().requires_grad_(True) for p in params]

        def dual_forward_backward():
            with fwAD.dual_level():
                duals = [fwAD.make_dual(p, t) for p, t in zip(ps_req, v)]
                logits, Jv = fwAD.unpack_dual(fmodel(tuple(duals), X))
                g = torch.autograd.grad(logits, ps_req, grad_outputs=lam(logits.detach(), Jv.detach()))
            return flat(g)

        ps2 = [p.clone().requires_grad_(True) for p in params]

        def backpack_ggnvp():
            out = fmodel(tuple(ps2), X)
            loss = F.cross_entropy(out, y)
            return flat(ggn_vector_product_from_plist(loss, out, ps2, list(v)))
        return {
            'functorch jvp + vjp': functorch_jvp_vjp,
            'torch forward_ad dual forward + one backward': dual_forward_backward,
            'backpack hessianfree.ggn_vector_product': backpack_ggnvp,
        }

    def w_hvp():
        ps_req = [p.clone().requires_grad_(True) for p in params]

        def double_backward():
            loss = F.cross_entropy(fmodel(tuple(ps_req), X), y)
            g = torch.autograd.grad(loss, ps_req, create_graph=True)
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            return flat(torch.autograd.grad(dot, ps_req))

        gL = grad(lambda *p: ce_fwd(fmodel(p, X)), argnums=tuple(range(len(params))))

        def functorch_fwd_over_rev():
            _, hv = jvp(gL, params, v)
            return flat(hv)

        def backpack_hvp():
            loss = F.cross_entropy(fmodel(tuple(ps_req), X), y)
            return flat(hessian_vector_product(loss, ps_req, list(v)))
        return {
            'torch double backward': double_backward,
            'functorch jvp(grad(L))': functorch_fwd_over_rev,
            'backpack hessianfree.hessian_vector_product': backpack_hvp,
        }

    workloads = {
        'loss_grad': w_loss_grad, 'per_sample_grad': w_per_sample_grad, 'ggn_diag': w_ggn_diag,
        'kfac_expand': w_kfac_expand, 'kfac_mc': w_kfac_mc, 'ggn_vp': w_ggn_vp, 'hvp': w_hvp,
    }

    # ------------------------------------------------------------------------- checks
    def rel(a, b):
        # in float64 whatever the run's dtype: natgrad's values are float64 numbers (float32 results widened)
        a, b = torch.as_tensor(a).reshape(-1).double(), torch.as_tensor(b, dtype=torch.float64).reshape(-1)
        return ((a - b).abs().max() / max(b.abs().max().item(), 1e-300)).item()

    def checker(key):
        """Compare one variant's output with natgrad's values; returns (max relative error, detail)."""
        if ref is None:
            return None
        R = ref['values']

        def psg_rows(o):
            if not isinstance(o, torch.Tensor):
                o = torch.cat([g.reshape(N, -1) for g in o], 1)
            return o

        def kfac_err(factors, nat_expand, nat_reduce):
            # BackPACK per parameter: weight [G, A] (conv: A = sum_{n,s} a a^T / N, G summed over positions), bias [G].
            # natgrad ('separate' bias): expand A = sum_{n,s} a a^T / (N S); reduce G = s * sum_r (sum_s d)(sum_s d)^T.
            errs = []
            for li, S in enumerate(ref['positions']):
                Gw, Aw = factors[2 * li]
                errs.append(rel(Aw / S, torch.tensor(nat_expand[li]['A'], dtype=torch.float64)))
                errs.append(rel(Gw, torch.tensor(nat_reduce[li]['G'], dtype=torch.float64)))
                errs.append(rel(factors[2 * li + 1][0], Gw))
            return max(errs)

        if key == 'loss_grad':
            def c(o):
                loss, g = o
                e = rel(g, torch.tensor(R['gradient'], dtype=torch.float64))
                if loss is not None:
                    dl = abs(loss.item() - R['loss'])
                    if dl > TOL['loss']:
                        raise SystemExit(f'loss: torch {loss.item():.17g} vs natgrad {R["loss"]:.17g} (|diff| {dl:.2e} > {TOL["loss"]:g})')
                return e
            return c
        if key == 'per_sample_grad':
            rows = ref['psgRows']
            return lambda o: max(rel(psg_rows(o)[r], torch.tensor(R['psg'][i], dtype=torch.float64)) for i, r in enumerate(rows))
        if key == 'ggn_diag':
            return lambda o: rel(o, torch.tensor(R['ggnDiag'], dtype=torch.float64))
        if key == 'kfac_expand':
            return lambda o: kfac_err(o, R['kfacExpand'], R['kfacReduce'])
        if key == 'kfac_mc':
            return None  # different random labels on the two sides
        if key == 'ggn_vp':
            return lambda o: rel(o, torch.tensor(R['ggnvp'], dtype=torch.float64))
        if key == 'hvp':
            return lambda o: rel(o, torch.tensor(R['hvp'], dtype=torch.float64))
        return None

    check = {}
    if ref is not None:
        with torch.no_grad():
            loss0 = F.cross_entropy(base(X), y).item()
        check['loss'] = {'torch': loss0, 'natgrad': ref['values']['loss'], 'abs_diff': abs(loss0 - ref['values']['loss'])}
        check['tolerance'] = {'dtype': args.dtype, **TOL}
        if check['loss']['abs_diff'] > TOL['loss']:
            raise SystemExit(f'the losses differ: torch {loss0:.17g}, natgrad {ref["values"]["loss"]:.17g}')

    # ------------------------------------------------------------------------- timing
    only = set(args.only.split(',')) if args.only else None
    results = {}
    warm, cycle, max_s, min_n = (0.5, 0.05, 1.5, 5) if args.quick else (1.5, 0.05, 4.0, 7)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.dtype}, N = {N}, D = {D}, '
          f'theta from {"natgrad (--ref)" if ref else "torch seed 0"}', flush=True)
    print(f"{'workload':16s} {'variant':48s} {'median ms':>10s} {'min ms':>9s} {'n':>4s} {'cpu/wall':>8s} {'max rel err':>11s}", flush=True)
    for key in KEYS:
        if only and key not in only:
            continue
        variants = workloads[key]()
        c = checker(key)
        entry = {'variants': {}, 'variants_min_ms': {}, 'samples': {}, 'cpu_per_wall': {}, 'max_rel_err_vs_natgrad': {}, 'failed': {}}
        for name, fn in variants.items():
            try:
                out = fn()
            except Exception as e:  # a variant the torch version cannot run (e.g. a missing forward-AD formula)
                entry['failed'][name] = f'{type(e).__name__}: {e}'.split('\n')[0][:300]
                print(f'{key:16s} {name:48s} failed: {entry["failed"][name]}', flush=True)
                continue
            err = c(out) if c is not None else None
            if err is not None and err > TOL['vector']:
                raise SystemExit(f'{key}: {name} differs from natgrad (max relative error {err:.2e} > {TOL["vector"]:g}, {args.dtype})')
            del out
            med, mn, n, _cpu_op, cpu_wall = bench(fn, warm, cycle, max_s, min_n)
            entry['variants'][name] = med * 1e3
            entry['variants_min_ms'][name] = mn * 1e3
            entry['samples'][name] = n
            entry['cpu_per_wall'][name] = cpu_wall
            entry['max_rel_err_vs_natgrad'][name] = err
            es = f'{err:11.1e}' if err is not None else f"{'-':>11s}"
            print(f'{key:16s} {name:48s} {med * 1e3:10.2f} {mn * 1e3:9.2f} {n:4d} {cpu_wall:8.2f} {es}', flush=True)
        if not entry['variants']:
            raise SystemExit(f'{key}: no variant ran')
        best = min(entry['variants'], key=entry['variants'].get)
        results[key] = {'best_ms': entry['variants'][best], 'best_method': best, **entry}
    with open(args.out, 'w') as fh:
        json.dump({
            'results': results,
            'check': check,
            'torch': torch.__version__,
            'network': 'Conv2d(1,16,3,p=1) ReLU MaxPool2d(2) Conv2d(16,32,3,p=1) ReLU MaxPool2d(2) Flatten Linear(1568,10)',
            'N': N, 'D': D, 'dtype': args.dtype,
            'theta': 'natgrad model.init(0) (--ref)' if ref else 'torch seed 0',
            'machine': platform.machine(),
            'load_average_end': list(os.getloadavg()),
            'quick': args.quick,
        }, fh, indent=2)
        fh.write('\n')


if __name__ == '__main__':
    child() if args.child else parent()
