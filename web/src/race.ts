/**
 * Fig. 3 — GD, NGD and EFGD on BreastCancer (logistic regression) and Wine (linear regression),
 * as in the paper: inputs not scaled, a bias column appended, θ0 = 0, no prior, 100 iterations, a
 * run stops once its loss exceeds 100 × its initial loss. Below: the cosine between the NGD and
 * EF directions (both with the EFGD run's λ) at each EFGD iterate. Animated one iteration per
 * frame; every step is a natgrad optimizer update. The problem and the cosine come from
 * experiments/compute/fig3.ts (`fig3Problem`, `directionCosine`).
 */
import * as Plot from '@observablehq/plot';
import { efgd, gd, ngd, NotPositiveDefiniteError, parseSklearnCsv, type LinearProblem, type Optimizer, type OptimizerState } from 'natgrad';
import { directionCosine, FIG3_DIVERGENCE_FACTOR, FIG3_ITERATIONS, fig3Problem } from '../../experiments/compute/fig3.js';
import breastCancerCsv from '../../data/breast_cancer.csv?raw';
import wineCsv from '../../data/wine_data.csv?raw';
import { BEST, type RaceSet } from './best.js';
import { colors, plotStyle } from './plots.js';
import { exponent, fmt, formatMs, h, recordTiming, select } from './ui.js';

type Name = 'GD' | 'NGD' | 'EFGD';
const NAMES: readonly Name[] = ['GD', 'NGD', 'EFGD'];
const COLOR: Record<Name, string> = { GD: colors.gd, NGD: colors.ngd, EFGD: colors.ef };
const DIVERGENCE = FIG3_DIVERGENCE_FACTOR;

const SETS: Record<RaceSet, { csv: string; file: string; likelihood: 'bernoulli' | 'gaussian'; text: string }> = {
  BreastCancer: { csv: breastCancerCsv, file: 'breast_cancer.csv', likelihood: 'bernoulli', text: 'BreastCancer — logistic regression, N = 569, d = 30 + bias' },
  Wine: { csv: wineCsv, file: 'wine_data.csv', likelihood: 'gaussian', text: 'Wine — linear regression on the labels 0–2, N = 178, d = 13 + bias' },
};

interface Runner {
  opt: Optimizer;
  state: OptimizerState;
  losses: number[];
  status: 'running' | 'ok' | 'stopped' | 'failed' | 'diverged';
  ms: number;
}

export function mountRace(root: HTMLElement): { show(): void } {
  const problems = new Map<RaceSet, LinearProblem>();
  let mounted = false;
  let runners: Record<Name, Runner> | undefined;
  let cosines: { k: number; cos: number }[] = [];
  let iterations = 100;
  let frame = 0;
  let t0 = 0;

  const setSel = select<RaceSet>({
    label: 'data set',
    id: 'f3-set',
    value: 'BreastCancer',
    options: (Object.keys(SETS) as RaceSet[]).map((k) => [k, SETS[k].text] as const),
    onChange: () => {
      loadDefaults();
      start();
    },
  });
  const speedSel = select({
    label: 'speed',
    id: 'f3-speed',
    value: '1',
    options: [
      ['1', '1 iteration / frame'],
      ['3', '3 iterations / frame'],
      ['100', 'all at once'],
    ],
  });
  const itSel = select({
    label: 'iterations',
    id: 'f3-iterations',
    value: String(FIG3_ITERATIONS),
    options: [
      ['50', '50'],
      [String(FIG3_ITERATIONS), `${FIG3_ITERATIONS} (paper)`],
      ['300', '300'],
    ],
  });
  const lr = {
    GD: exponent({ label: 'step size γ', id: 'f3-lr-gd', value: 1 }),
    NGD: exponent({ label: 'step size γ', id: 'f3-lr-ngd', value: 1 }),
    EFGD: exponent({ label: 'step size γ', id: 'f3-lr-efgd', value: 1 }),
  };
  const damping = {
    NGD: exponent({ label: 'damping λ', id: 'f3-damping-ngd', value: 1 }),
    EFGD: exponent({ label: 'damping λ', id: 'f3-damping-efgd', value: 1 }),
  };
  const runBtn = h('button', { type: 'button', class: 'primary', id: 'f3-run' }, 'Run the race');
  const defaultsBtn = h('button', { type: 'button', id: 'f3-defaults' }, 'Paper\u2019s best γ, λ');
  runBtn.addEventListener('click', () => start());
  defaultsBtn.addEventListener('click', () => {
    loadDefaults();
    start();
  });

  const lossFig = h('figure', {});
  const cosFig = h('figure', {});
  const table = h('div', {});
  const timing = h('div', { class: 'timing' });
  const bestNote = h('p', { class: 'note' });
  root.append(
    h('h2', {}, 'Fig. 3 — preconditioning with the empirical Fisher can make things worse'),
    h(
      'p',
      { class: 'lead' },
      'Full-batch GD, NGD (Fisher) and EFGD (empirical Fisher) on the paper\u2019s real data sets, each with its own step size γ and damping λ — ',
      'by default the best of the paper\u2019s grid (the lowest loss after 100 iterations). Press ',
      h('b', {}, 'Run'),
      ' after changing a value. Right: the cosine between the NGD and EF directions (both with EFGD\u2019s λ) at each EFGD iterate — 1 would mean that EFGD follows the natural gradient.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Data'), setSel.el, itSel.el, speedSel.el),
      h('div', { class: 'group gd' }, h('span', { class: 'name' }, 'GD'), lr.GD.el),
      h('div', { class: 'group ngd' }, h('span', { class: 'name' }, 'NGD'), lr.NGD.el, damping.NGD.el),
      h('div', { class: 'group ef' }, h('span', { class: 'name' }, 'EFGD'), lr.EFGD.el, damping.EFGD.el),
      h('div', { class: 'group' }, runBtn, defaultsBtn),
    ),
    h('div', { class: 'legend' }, ...NAMES.map((n) => h('span', {}, h('span', { class: 'sw', style: `background:${COLOR[n]}` }), n))),
    h('div', { class: 'panels' }, lossFig, cosFig, table),
    timing,
    bestNote,
  );

  function loadDefaults(): void {
    const b = BEST[setSel.value];
    lr.GD.set(b.GD.lr);
    lr.NGD.set(b.NGD.lr);
    damping.NGD.set(b.NGD.damping);
    lr.EFGD.set(b.EFGD.lr);
    damping.EFGD.set(b.EFGD.damping);
    bestNote.textContent =
      `Defaults for ${setSel.value}: ${NAMES.map((n) => `${n} γ = ${fmt(BEST[setSel.value][n].lr)}${n === 'GD' ? '' : `, λ = ${fmt(BEST[setSel.value][n].damping)}`}`).join('; ')} ` +
      '(the best runs of the paper\u2019s grid γ ∈ logspace(−20, 10, 241) × λ ∈ logspace(−10, 10, 41), found once with the experiments\u2019 grid search; see web/src/best.ts).';
  }

  function problem(name: RaceSet): LinearProblem {
    let p = problems.get(name);
    if (!p) {
      const t = performance.now();
      const s = SETS[name];
      const { X, y } = parseSklearnCsv(s.csv, s.file);
      p = fig3Problem(X, y, s.likelihood); // bias column last, no prior, mean reduction
      problems.set(name, p);
      recordTiming(`Fig. 3 parse + load ${name}`, performance.now() - t);
    }
    return p;
  }

  function start(): void {
    const p = problem(setSel.value);
    const theta0 = new Float64Array(p.dim);
    iterations = Number(itSel.value);
    const make: Record<Name, () => Optimizer> = {
      GD: () => gd(p, { lr: lr.GD.value }),
      NGD: () => ngd(p, { lr: lr.NGD.value, damping: damping.NGD.value }),
      EFGD: () => efgd(p, { lr: lr.EFGD.value, damping: damping.EFGD.value }),
    };
    runners = {} as Record<Name, Runner>;
    for (const n of NAMES) {
      const opt = make[n]();
      const state = opt.init(theta0);
      runners[n] = { opt, state, losses: [state.loss], status: 'running', ms: 0 };
    }
    // With the defaults, the page should reproduce the losses of the grid search (web/src/best.ts).
    const b = BEST[setSel.value];
    const isDefault = iterations === FIG3_ITERATIONS && NAMES.every((n) => lr[n].value === b[n].lr) && damping.NGD.value === b.NGD.damping && damping.EFGD.value === b.EFGD.damping;
    if (isDefault) root.dataset.expected = JSON.stringify(Object.fromEntries(NAMES.map((n) => [n, b[n].loss])));
    else delete root.dataset.expected;
    cosines = [{ k: 0, cos: directionCosine(p, theta0, damping.EFGD.value) }];
    t0 = performance.now();
    root.dataset.state = 'running';
    draw();
    if (!frame) frame = requestAnimationFrame(tick);
  }

  function step(r: Runner, name: Name): void {
    const t = performance.now();
    try {
      r.state = r.opt.update(r.state).state;
      // cos∠(NGD direction, EF direction) at the new EFGD iterate, both with EFGD's λ.
      if (name === 'EFGD') cosines.push({ k: r.state.iteration, cos: directionCosine(r.opt.problem, r.state.theta, damping.EFGD.value) });
      r.losses.push(r.state.loss);
      if (r.state.loss > DIVERGENCE * r.losses[0]!) r.status = 'stopped';
      else if (r.losses.length > iterations) r.status = 'ok';
    } catch (e) {
      r.status = e instanceof NotPositiveDefiniteError ? 'failed' : 'diverged';
    }
    r.ms += performance.now() - t;
  }

  function tick(): void {
    frame = 0;
    if (!runners) return;
    const per = Number(speedSel.value);
    for (let k = 0; k < per; k++) for (const n of NAMES) if (runners[n].status === 'running') step(runners[n], n);
    draw();
    if (NAMES.some((n) => runners![n].status === 'running')) {
      frame = requestAnimationFrame(tick);
    } else {
      const total = NAMES.reduce((a, n) => a + runners![n].ms, 0);
      recordTiming(`Fig. 3 race on ${setSel.value} (compute)`, total);
      root.dataset.state = 'done';
      timing.textContent += ` Wall time with animation ${formatMs(performance.now() - t0)}.`;
    }
  }

  function draw(): void {
    const R = runners!;
    const rows: { k: number; loss: number; name: Name }[] = [];
    const cap = Math.max(...NAMES.map((n) => R[n].losses[0]!)) * DIVERGENCE * 2;
    for (const n of NAMES) R[n].losses.forEach((loss, k) => rows.push({ k, loss: Math.min(loss, cap), name: n }));
    const last = NAMES.map((n) => ({ name: n, k: R[n].losses.length - 1, loss: Math.min(R[n].losses[R[n].losses.length - 1]!, cap) }));
    lossFig.replaceChildren(
      h('div', { class: 'head' }, `Loss — ${setSel.value}`),
      Plot.plot({
        width: 440,
        height: 290,
        style: plotStyle,
        marginLeft: 56,
        x: { domain: [0, iterations], label: 'iteration' },
        y: { type: 'log', label: 'loss L(θ)', grid: true, tickFormat: '~g' },
        color: { domain: NAMES as Name[], range: NAMES.map((n) => COLOR[n]) },
        marks: [Plot.line(rows, { x: 'k', y: 'loss', stroke: 'name', z: 'name', strokeWidth: 2 }), Plot.dot(last, { x: 'k', y: 'loss', fill: 'name', r: 3.5 })],
      }),
    );
    cosFig.replaceChildren(
      h('div', { class: 'head' }, 'cos(NGD direction, EF direction) at the EFGD iterates'),
      Plot.plot({
        width: 440,
        height: 290,
        style: plotStyle,
        marginLeft: 56,
        x: { domain: [0, iterations], label: 'iteration' },
        y: { domain: [Math.min(0, ...cosines.map((c) => c.cos).filter(Number.isFinite)), 1], label: 'cosine', grid: true },
        marks: [
          Plot.ruleY([0, 1], { stroke: '#c8ced4' }),
          Plot.line(cosines, { x: 'k', y: 'cos', stroke: '#6a4c93', strokeWidth: 2 }),
          Plot.dot(cosines.slice(-1), { x: 'k', y: 'cos', fill: '#6a4c93', r: 3.5 }),
        ],
      }),
    );
    const row = (n: Name) => {
      const r = R[n];
      const steps = r.losses.length - 1;
      return h(
        'tr',
        {},
        h('td', { style: `color:${COLOR[n]};font-weight:600` }, n),
        h('td', {}, fmt(r.losses[r.losses.length - 1]!, 4)),
        h('td', {}, String(steps)),
        h('td', {}, r.status === 'running' ? '…' : r.status),
        h('td', {}, steps ? formatMs(r.ms / steps) : '—'),
      );
    };
    table.replaceChildren(
      h('div', { class: 'head' }, 'Runs'),
      h('table', { class: 'stats' }, h('tr', {}, h('th', {}, ''), h('th', {}, 'loss'), h('th', {}, 'iters'), h('th', {}, 'status'), h('th', {}, 'per step')), ...NAMES.map(row)),
      h(
        'p',
        { class: 'note', style: 'max-width:260px;margin-top:8px' },
        'EFGD\u2019s time per step includes the cosine (an NGD and an EF solve). "stopped": loss > 100 × initial loss (the paper\u2019s rule).',
      ),
    );
    const compute = NAMES.reduce((a, n) => a + R[n].ms, 0);
    timing.textContent = `Compute so far: ${formatMs(compute)} for ${NAMES.reduce((a, n) => a + R[n].losses.length - 1, 0)} optimizer steps (D = ${problem(setSel.value).dim} parameters).`;
    root.dataset.losses = JSON.stringify(Object.fromEntries(NAMES.map((n) => [n, R[n].losses])));
    root.dataset.cosines = JSON.stringify(cosines.map((c) => (Number.isFinite(c.cos) ? c.cos : null)));
  }

  return {
    show() {
      if (mounted) return;
      mounted = true;
      loadDefaults();
      start();
    },
  };
}
