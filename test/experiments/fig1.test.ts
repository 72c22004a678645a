// Fig. 1: the closed-form 2-D computations (gradient, Hessian, empirical Fisher, fields, Euler
// paths) against the library's own curvature functions on the same problem.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gaussian, linearProblem, numpyRandomState, toyData, type LinearProblem } from 'natgrad';
import {
  FIG1_DAMPING,
  FIG1_FIELDS,
  FIG1_POINTS,
  FIG1_SCALES,
  FIG1_STARTS,
  fig1,
  fig1EmpiricalFisher,
  fig1Field,
  fig1Gradient,
  fig1Hessian,
  fig1Json,
  fig1Loss,
  fig1Model,
  fig1Trajectory,
  type Fig1Field,
  type Vec2,
} from '../../experiments/compute/fig1.js';
import { relDiff } from './setup.js';

const data = toyData.fig1(numpyRandomState(0), 1000);
const model = fig1Model(data.X, data.y, 1, 0.1);
const problem: LinearProblem = linearProblem({ X: data.X, y: data.y, likelihood: gaussian({ variance: 1 }), priorVariance: 0.1 });
const result = fig1();

const probes: Vec2[] = [
  [2, 4.5],
  [1, 0],
  [4.5, 3],
  [-0.5, 3],
  [-1, -1],
  [5, 5],
  [2.01, 1.98],
];

/** The field at θ computed with the library only (gradient, hessian / empiricalFisher, damped Cholesky solve). */
function libraryField(name: Fig1Field, t: Vec2): Vec2 {
  const g = problem.gradient(t);
  let d: Float64Array;
  if (name === 'GD') d = g;
  else {
    const C = name === 'NGD' ? problem.hessian(t) : problem.empiricalFisher(t);
    try {
      d = C.solve(g, { damping: FIG1_DAMPING });
    } finally {
      C.free();
    }
  }
  const s = FIG1_SCALES[name];
  return [-s * d[0]!, -s * d[1]!];
}

test('loss and gradient closed forms = problem.loss / problem.gradient', () => {
  for (const t of probes) {
    assert.ok(Math.abs(fig1Loss(model, t) - problem.loss(t)) <= 1e-12 * Math.abs(problem.loss(t)), `loss at ${t}`);
    assert.ok(relDiff(fig1Gradient(model, t), problem.gradient(t)) < 1e-12, `gradient at ${t}`);
  }
});

test('Hessian closed form = problem.hessian (constant, prior included)', () => {
  for (const t of probes) {
    const H = problem.hessian(t);
    const h = H.toDense();
    H.free();
    const mine = fig1Hessian(model);
    assert.ok(relDiff([mine[0], mine[1], mine[1], mine[2]], h) < 1e-13, `H at ${t}`);
  }
});

test('empirical Fisher from the moment Gram matrices = problem.empiricalFisher', () => {
  for (const t of probes) {
    const F = problem.empiricalFisher(t);
    const f = F.toDense();
    F.free();
    const mine = fig1EmpiricalFisher(model, t);
    // The polynomial form cancels terms of size ~|Xθ|², |y|² down to r²: allow a few more digits.
    assert.ok(relDiff([mine[0], mine[1], mine[1], mine[2]], f) < 1e-10, `F̃ at ${t}: ${mine} vs ${Array.from(f)}`);
  }
});

test('θ* has a zero gradient (library) and minimizes the loss', () => {
  const g = problem.gradient(result.thetaStar);
  assert.ok(Math.hypot(g[0]!, g[1]!) < 1e-12, `‖∇L(θ*)‖ = ${Math.hypot(g[0]!, g[1]!)}`);
  const L = problem.loss(result.thetaStar);
  for (const d of [
    [1e-3, 0],
    [0, 1e-3],
    [-1e-3, 1e-3],
  ])
    assert.ok(problem.loss([result.thetaStar[0] + d[0]!, result.thetaStar[1] + d[1]!]) > L);
});

test('the 15 × 15 fields: [i][j] is the vector at (b[i], theta[j]), as the library computes it', () => {
  assert.is(result.grid.b.length, 15);
  assert.is(result.grid.theta.length, 15);
  assert.is(result.grid.b[0], -1);
  assert.is(result.grid.b[14], 5);
  for (const name of FIG1_FIELDS) {
    const f = result.fields[name];
    assert.is(f.length, 15);
    for (const [i, j] of [
      [0, 0],
      [3, 11],
      [7, 7],
      [14, 2],
      [14, 14],
    ] as const) {
      const v = f[i]![j]!;
      const lib = libraryField(name, [result.grid.b[i]!, result.grid.theta[j]!]);
      assert.ok(relDiff(v, lib) < 1e-9, `${name}[${i}][${j}]: ${v} vs ${lib}`);
    }
  }
});

test('Euler paths: the first 200 steps agree with steps taken with the library', () => {
  for (const name of FIG1_FIELDS) {
    const start = FIG1_STARTS[2]!;
    const tr = fig1Trajectory(model, name, start, 201, 0.001, 100);
    let t: Vec2 = [start[0], start[1]];
    for (let k = 1; k <= 200; k++) {
      const v = libraryField(name, t);
      t = [t[0] + 0.001 * v[0], t[1] + 0.001 * v[1]];
      if (k === 100) assert.ok(relDiff(tr.points[1]!, t) < 1e-11, `${name} after 100 steps`);
    }
    assert.ok(relDiff(tr.end, t) < 1e-11, `${name} after 200 steps: ${tr.end} vs ${t}`);
    assert.equal(tr.points.length, 3);
  }
});

test('paths: 50,000 iterates (start + 49,999 steps), every 100th kept, NGD and EF reach θ*', () => {
  for (const name of FIG1_FIELDS) {
    const trs = result.trajectories[name];
    assert.is(trs.length, 4);
    trs.forEach((tr, i) => {
      assert.equal(tr.start, [...FIG1_STARTS[i]!]);
      assert.equal(tr.points[0], tr.start);
      assert.equal(tr.points[tr.points.length - 1], tr.end);
      assert.is(tr.points.length, Math.floor((FIG1_POINTS - 1) / 100) + 1 + ((FIG1_POINTS - 1) % 100 ? 1 : 0));
      if (name !== 'GD') assert.ok(Math.hypot(tr.end[0] - result.thetaStar[0], tr.end[1] - result.thetaStar[1]) < 1e-6, `${name} path ${i} ends at θ*`);
    });
  }
  // the NGD field is exactly −(θ − θ*) up to the 1e-8 damping
  const v = fig1Field(model, 'NGD', [4, 0]);
  assert.ok(Math.abs(v[0] + (4 - result.thetaStar[0])) < 1e-6 && Math.abs(v[1] + (0 - result.thetaStar[1])) < 1e-6);
});

test('fig1.json has exactly the schema keys', () => {
  const j = JSON.parse(JSON.stringify(fig1Json(result))) as Record<string, unknown>;
  assert.equal(Object.keys(j).sort(), ['fields', 'grid', 'thetaStar', 'trajectories']);
});

test.after(() => problem.free());
test.run();
