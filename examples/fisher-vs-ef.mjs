// Fisher vs empirical Fisher at the optimum of the paper's Fig. 2 data sets.
import { init, linearProblem, bernoulli, newton, toyData, numpyRandomState } from 'natgrad';

await init();
for (const name of ['wellSpecified', 'misspecifiedA', 'misspecifiedB']) {
  const { X, y } = toyData[name](numpyRandomState(0), 1000);
  const p = linearProblem({ X, y, likelihood: bernoulli() });
  const { theta } = newton(p, { lr: 1 }).run([0, 0], { iterations: 20 }); // θ* by Newton
  const [F, E] = [p.fisher(theta), p.empiricalFisher(theta)];
  console.log(
    name.padEnd(14),
    'θ* =',
    [...theta].map((v) => v.toFixed(4)).join(', '),
    '| N·F =',
    [...F.toDense()].map((v) => (1000 * v).toFixed(1)).join(' '),
    '| N·EF =',
    [...E.toDense()].map((v) => (1000 * v).toFixed(1)).join(' '),
  );
}
