// The paper's §3 claim in numbers: for a well-specified model the empirical Fisher at the true
// parameter converges to the Fisher as N grows (both are means over samples, with the same
// expectation); for a misspecified model it does not (the gap stays at a fixed, non-zero size).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearProblem, bernoulli, gaussian, newton, rng, toyData, type ToyDataName, type Likelihood } from '../../bindings/index.js';
import { relErr } from '../helpers.js';

/** ‖EF − F‖_F / ‖F‖_F at θ (θ_true when the generator knows it, else the minimizer θ*). */
function gap(name: ToyDataName, likelihood: Likelihood, N: number, seed: number): number {
  const data = toyData[name](rng(seed), N);
  const p = linearProblem({ X: data.X, y: data.y, likelihood });
  const theta = data.thetaTrue ? Float64Array.from(data.thetaTrue) : newton(p, { lr: 1 }).run(new Float64Array(p.dim), { iterations: 30 }).theta;
  const F = p.fisher(theta),
    E = p.empiricalFisher(theta);
  const e = relErr(E.toDense(), F.toDense());
  F.free();
  E.free();
  p.free();
  return e;
}

/** Mean gap over a few seeds (steadies the Monte-Carlo estimate). */
const meanGap = (name: ToyDataName, lik: Likelihood, N: number) => [1, 2, 3, 4].reduce((s, seed) => s + gap(name, lik, N, seed) / 4, 0);

test('well specified (logistic and linear regression): EF(θ_true) → F as N grows, like 1/√N', () => {
  for (const [name, lik] of [
    ['wellSpecified', bernoulli()],
    ['linregCorrect', gaussian()],
  ] as [ToyDataName, Likelihood][]) {
    const g = [1_000, 10_000, 100_000].map((N) => meanGap(name, lik, N));
    assert.ok(g[0]! / g[1]! > 2 && g[1]! / g[2]! > 2, `${name}: gaps ${g.map((v) => v.toExponential(2))} should shrink ~√10 per decade`);
    assert.ok(g[2]! < 0.02, `${name}: gap at N = 1e5 is ${g[2]}`);
  }
});

test('misspecified (Fig. 2 sets and the noise-misspecified regression): the EF does not converge to F', () => {
  for (const [name, lik] of [
    ['misspecifiedA', bernoulli()],
    ['misspecifiedB', bernoulli()],
    ['linregMissNoise', gaussian()],
  ] as [ToyDataName, Likelihood][]) {
    const g = [10_000, 100_000].map((N) => meanGap(name, lik, N));
    assert.ok(g[1]! > 0.2, `${name}: gap at N = 1e5 is ${g[1]}`);
    assert.ok(Math.abs(g[1]! - g[0]!) < 0.25 * g[1]!, `${name}: the gap is a fixed bias, not noise (${g[0]} vs ${g[1]})`);
  }
});

test.run();
