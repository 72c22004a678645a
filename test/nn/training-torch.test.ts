// Training runs of sequential convolutional networks against PyTorch (float64, torch 1.13;
// test/fixtures/make-layer-fixtures.py, section `training`): from the LeNet- and ResNet-style
// cases' θ0, gd, ngd (exact Fisher = GGN) and efgd (empirical Fisher) take the same steps as
// torch — θ ← θ − lr ∇L and θ ← θ − lr (C + s/σp² I + λ I)⁻¹ ∇L with a dense Cholesky solve — and
// every loss L(θ_k) and the final θ_K agree within a rounding budget scaled by the trajectory's
// recorded sensitivity (≤ 1e-9 relative, as the MLP runs of test/api/mlp-torch.test.ts). Then the
// same runs on a 1-thread and a 2-thread core.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, type Core, efgd, gd, ngd, type Optimizer, type Problem, problem, sequential } from '../../bindings/index.js';
import { loadLayerFixtures, type TrainingRun } from '../fixtures/layers-torch.js';
import { reductionTol, relErr, variant, fixtureLikelihood } from '../helpers.js';

const fixtures = loadLayerFixtures();
/** The ceiling of every tolerance here: the MLP training runs' 1e-9 relative. */
const CEILING = 1e-9;

function build(t: TrainingRun, core?: Core): Problem {
  const model = sequential(core ? { ...t.spec, core } : t.spec);
  return problem({
    model,
    X: { data: Float64Array.from(t.X), rows: t.N, cols: model.inputs },
    y: Float64Array.from(t.y),
    likelihood: fixtureLikelihood(t.likelihood),
    reduction: t.reduction,
    priorVariance: t.priorVariance ?? Infinity,
  });
}

function optimizerOf(t: TrainingRun, p: Problem): Optimizer {
  const o = t.optimizer;
  if (o.name === 'gd') return gd(p, { lr: o.lr });
  const make = o.name === 'ngd' ? ngd : efgd;
  return make(p, { lr: o.lr, damping: o.damping!, solver: 'cholesky' });
}

/**
 * Tolerances (relative) of a run's losses and final θ. Two float64 implementations of the same
 * steps differ per step by rounding: the longest reduction of a step has P = max(D, N·S_max)
 * terms (the Cholesky solve and the curvature entries sum over D, a conv weight's gradient over N
 * samples × S output positions), and the solve multiplies its relative error by the damped
 * matrix's condition number κ (1 for gd) — a per-step budget δ = κ · reductionTol(P, 1). Over K
 * steps the trajectory amplifies a relative change of θ0 by A (measured by torch: the run from
 * θ0 + 1e-10·randn, A = relative change of the output / ‖δθ0‖/‖θ0‖); so θ_K may differ by
 * A_θ · K · δ and the losses by A_L · K · δ plus the rounding of the loss itself.
 */
function tolerances(t: TrainingRun): { loss: number; theta: number } {
  const c = fixtures.cases.find((x) => x.name === t.case)!;
  const maxS = Math.max(1, ...c.layers.map((l) => l.kfac?.S ?? 1));
  const P = Math.max(c.D, c.N * maxS);
  const kappa = Math.max(1, t.maxCondition ?? 1);
  const K = t.optimizer.steps;
  const step = kappa * reductionTol(P, 1);
  const sens = t.sensitivity;
  const aLoss = sens.maxRelativeLossChange / sens.theta0RelativePerturbation;
  const aTheta = sens.thetaFinalRelativeChange / sens.theta0RelativePerturbation;
  return { loss: aLoss * K * step + reductionTol(P, 1), theta: aTheta * K * step };
}

test('the fixture: six runs (gd, ngd, efgd on LeNet and ResNet) that descend, with a well-conditioned trajectory', () => {
  assert.equal(fixtures.training.map((t) => t.name).sort(), ['lenet-efgd', 'lenet-gd', 'lenet-ngd', 'resnet-efgd', 'resnet-gd', 'resnet-ngd']);
  for (const t of fixtures.training) {
    const c = fixtures.cases.find((x) => x.name === t.case)!;
    assert.equal(t.theta0, c.theta, `${t.name}: θ0 is the case's θ`);
    assert.is(t.losses[0], c.results.loss, `${t.name}: L(θ0) is the case's loss`);
    assert.is(t.losses.length, t.optimizer.steps + 1, `${t.name}: one loss per iterate`);
    assert.ok(t.losses.at(-1)! < 0.75 * t.losses[0]!, `${t.name}: descends ${t.losses[0]} → ${t.losses.at(-1)}`);
    const tol = tolerances(t);
    // A budget above the ceiling would mean a trajectory too sensitive to compare to 1e-9.
    assert.ok(tol.loss <= CEILING && tol.theta <= CEILING, `${t.name}: tolerances ${tol.loss.toExponential(2)}, ${tol.theta.toExponential(2)} above ${CEILING}`);
    assert.ok(tol.loss > 0 && tol.theta > 0, `${t.name}: positive tolerances`);
  }
});

test('gd, ngd and efgd on sequential CNNs follow PyTorch doing the same steps: every loss and θ_K', () => {
  for (const t of fixtures.training) {
    const p = build(t);
    try {
      const rec = optimizerOf(t, p).run(Float64Array.from(t.theta0), { iterations: t.optimizer.steps });
      assert.is(rec.status, 'ok', `${t.name}: ${rec.reason ?? ''}`);
      assert.is(rec.losses.length, t.losses.length, `${t.name}: steps`);
      const tol = tolerances(t);
      rec.losses.forEach((l, k) => {
        const e = Math.abs(l - t.losses[k]!) / Math.abs(t.losses[k]!);
        assert.ok(e <= tol.loss, `${t.name}: loss ${k} ${l} vs ${t.losses[k]} (relative ${e.toExponential(2)} > ${tol.loss.toExponential(2)})`);
      });
      const e = relErr(rec.theta, t.thetaFinal);
      assert.ok(e <= tol.theta, `${t.name}: θ_K relative error ${e.toExponential(2)} > ${tol.theta.toExponential(2)}`);
    } finally {
      p.free();
    }
  }
});

test('1 and 2 threads: the same trajectories, bitwise', async () => {
  const cores = [await createCore({ variant, threads: 1 }), await createCore({ variant, threads: 2 })];
  try {
    for (const t of fixtures.training) {
      const recs = cores.map((core) => {
        const p = build(t, core);
        try {
          return optimizerOf(t, p).run(Float64Array.from(t.theta0), { iterations: t.optimizer.steps });
        } finally {
          p.free();
        }
      });
      const [a, b] = recs as [(typeof recs)[0], (typeof recs)[0]];
      assert.is(a.status, 'ok', `${t.name}: ${a.reason ?? ''}`);
      assert.is(b.status, 'ok', `${t.name}: ${b.reason ?? ''}`);
      a.losses.forEach((l, k) => assert.ok(Object.is(l, b.losses[k]), `${t.name}: loss ${k} ${l} vs ${b.losses[k]}`));
      for (let i = 0; i < a.theta.length; i++) if (!Object.is(a.theta[i], b.theta[i])) assert.unreachable(`${t.name}: θ_K[${i}] ${a.theta[i]} vs ${b.theta[i]}`);
    }
  } finally {
    for (const core of cores) core.pool?.close();
  }
});

test.run();
