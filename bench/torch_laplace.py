#!/usr/bin/env python3
"""laplace-torch 0.1a2 (BackPACK backend) timings of natgrad's Laplace workloads (bench/laplace.bench.ts).

    /usr/bin/python3 bench/torch_laplace.py --ref DIR [--out FILE] [--quick] [--full-adam-steps K]

DIR is written by bench/laplace.bench.ts: ref.json (workloads, natgrad's log Z at delta = 1, its
optimum delta*, log Z(delta*) and probit predictive at delta*) and little-endian float64 files
{mlp,cnn}-{theta,X,Xtest,y}.f64 — the same theta (natgrad's layout = PyTorch's parameters() order)
and the same data on both sides.

One thread (OPENBLAS/OMP/MKL_NUM_THREADS = 1 set before torch is imported, torch.set_num_threads(1)),
float64 (torch.set_default_dtype before laplace is imported). laplace-torch 0.1a2 + ASDL are unpacked
at run time from /work/shared/tools/laplace-0.1a2-asdl.tar.gz into a temporary folder and BackPACK
1.5.2 is loaded through /work/shared/tools/backpack_compat.py, as test/fixtures/make-laplace-fixtures.py
does; nothing of them is copied into the project.

Per run (a fresh deep copy of the network each time):
  fit        Laplace(model, 'classification', subset_of_weights='all', hessian_structure=...,
             prior_precision=1, backend=BackPackGGN).fit(loader)   (digits: one batch of 1797;
             CNN: batches of 500 — BackPACK's square-root GGN for 5000 images at once needs > 5 GB)
  marglik    la.log_marginal_likelihood()
  prior      la.optimize_prior_precision(method='marglik')  (its default: 100 Adam steps, lr 0.1).
             'full' (D = 9610): one Adam step costs a 9610^2 logdet and its backward, so K steps
             (--full-adam-steps, default 2) are timed and the time scaled by 100 / K.
  predictive la(Xtest, pred_type='glm', link_approx='probit')
Medians over the workload's repetition count (ref.json), after one warm-up run (skipped for
'full', whose runs take minutes: its single timed run is the first).

Check (same work): laplace-torch's log Z at delta = 1 and at natgrad's delta*, and its probit
predictive at natgrad's delta*, against natgrad's (relative differences printed and stored).
"""
import argparse
import copy
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time

for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[_var] = '1'

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)  # BEFORE laplace / backpack are imported
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get('NATGRAD_TOOLS', '/work/shared/tools')

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--ref', required=True, help='folder written by bench/laplace.bench.ts')
parser.add_argument('--out', default=os.path.join(HERE, 'results', 'torch-laplace.json'))
parser.add_argument('--quick', action='store_true', help='one timed run per workload')
parser.add_argument('--full-adam-steps', type=int, default=2)
args = parser.parse_args()

sys.path.insert(0, TOOLS)
import backpack_compat  # noqa: E402

_BACKPACK_DIR = backpack_compat.load()
_LAPLACE_DIR = tempfile.mkdtemp(prefix='laplace-0.1a2-')
with tarfile.open(os.path.join(TOOLS, 'laplace-0.1a2-asdl.tar.gz')) as t:
    t.extractall(_LAPLACE_DIR)
sys.path.insert(0, _LAPLACE_DIR)

from laplace import Laplace  # noqa: E402
from laplace.curvature import BackPackGGN  # noqa: E402
from torch.nn.utils import vector_to_parameters  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

STRUCT = {'full': 'full', 'kfac': 'kron', 'diagonal': 'diag'}
PHASES = ['fit', 'marglik', 'prior', 'predictive']


def load(name, shape=None):
    a = np.fromfile(os.path.join(args.ref, name), dtype='<f8')
    return torch.from_numpy(a.reshape(shape) if shape else a)


def network(net, theta):
    if net == 'mlp':
        m = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10))
    else:
        m = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 10))
    with torch.no_grad():
        vector_to_parameters(theta.clone(), m.parameters())
    return m


def main():
    with open(os.path.join(args.ref, 'ref.json')) as fh:
        ref = json.load(fh)
    data = {}
    for net, meta in ref['nets'].items():
        shape = (-1, meta['inputs']) if net == 'mlp' else (-1, 1, 28, 28)
        data[net] = dict(
            theta=load(f'{net}-theta.f64'), X=load(f'{net}-X.f64', shape), Xtest=load(f'{net}-Xtest.f64', shape),
            y=load(f'{net}-y.f64').long(), batch=meta['N'] if net == 'mlp' else 500)

    out = {'torch': torch.__version__, 'laplace': '0.1a2', 'backend': 'BackPackGGN', 'threads': 1,
           'python': platform.python_version(), 'loadAverageStart': list(os.getloadavg()), 'workloads': {}}
    for w in ref['workloads']:
        d = data[w['net']]
        structure = STRUCT[w['structure']]
        loader = DataLoader(TensorDataset(d['X'], d['y']), batch_size=d['batch'], shuffle=False)
        full = structure == 'full'
        steps = args.full_adam_steps if full else 100
        base = network(w['net'], d['theta'])

        def one_run():
            la = Laplace(copy.deepcopy(base), 'classification', subset_of_weights='all', hessian_structure=structure,
                         prior_precision=1.0, backend=BackPackGGN)
            t0 = time.perf_counter()
            la.fit(loader)
            t1 = time.perf_counter()
            ml = float(la.log_marginal_likelihood())
            t2 = time.perf_counter()
            la.optimize_prior_precision(method='marglik', n_steps=steps)
            t3 = time.perf_counter()
            probs = la(d['Xtest'], pred_type='glm', link_approx='probit')
            t4 = time.perf_counter()
            prior = (t3 - t2) * (100 / steps)
            times = dict(fit=t1 - t0, marglik=t2 - t1, prior=prior, predictive=t4 - t3)
            times['total'] = times['fit'] + times['marglik'] + times['prior'] + times['predictive']
            return la, ml, probs, {k: v * 1e3 for k, v in times.items()}

        reps = 1 if args.quick else w['reps']
        print(f"laplace-torch {w['key']}: {'' if full else '1 warm-up + '}{reps} run(s) …", flush=True)
        if not full:
            one_run()
        runs = [one_run() for _ in range(reps)]
        ms = {k: statistics.median(r[3][k] for r in runs) for k in ['total'] + PHASES}

        # same work: log Z at delta = 1 and at natgrad's delta*, probit at natgrad's delta*
        la, ml1 = runs[0][0], runs[0][1]
        adam_delta = float(la.prior_precision)
        nat = w['natgrad']
        with torch.no_grad():
            ml_star = float(la.log_marginal_likelihood(prior_precision=torch.tensor(nat['deltaStar'])))
        la.prior_precision = nat['deltaStar']
        probs = la(d['Xtest'], pred_type='glm', link_approx='probit').reshape(-1).numpy()
        check = dict(
            logZ1=ml1, relDiffLogZ1=abs(ml1 - nat['logZ1']) / abs(ml1),
            logZStar=ml_star, relDiffLogZStar=abs(ml_star - nat['logZStar']) / abs(ml_star),
            probitMaxAbsDiff=float(np.max(np.abs(probs - np.array(nat['probit'])))))
        print(f"  ms {json.dumps({k: round(v, 1) for k, v in ms.items()})}")
        print(f"  log Z(1): laplace-torch {ml1:.12g}, natgrad {nat['logZ1']:.12g}, rel. diff {check['relDiffLogZ1']:.2e}; "
              f"log Z(delta* = {nat['deltaStar']:.6g}) rel. diff {check['relDiffLogZStar']:.2e}; "
              f"probit max |dp| {check['probitMaxAbsDiff']:.2e}; Adam's delta {adam_delta:.6g}", flush=True)
        out['workloads'][w['key']] = dict(
            ms=ms, runs=[r[3] for r in runs], check=check, batchSize=d['batch'],
            adam=dict(steps=100, timedSteps=steps, extrapolated=steps != 100, priorPrecision=adam_delta))
        del runs, la

    out['loadAverageEnd'] = list(os.getloadavg())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as fh:
        json.dump(out, fh, indent=2)
        fh.write('\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    try:
        main()
    finally:
        shutil.rmtree(_LAPLACE_DIR, ignore_errors=True)
        shutil.rmtree(_BACKPACK_DIR, ignore_errors=True)
