/**
 * Tab 4 — a network in the browser: a small MLP (default [2, 16, 16, K], tanh) on a 2-D
 * classification set the visitor can reshape (moons / circles / blobs, a noise slider, a seed;
 * drag a point to move it, click to add one, shift-click to remove one), trained live by GD, NGD
 * (dense Cholesky or matrix-free CG), KFAC (Fisher factors) and EF-KFAC (empirical-Fisher factors)
 * side by side, one optimizer update per optimizer per animation frame. Every number is natgrad's:
 * `problem({ model: mlp(…), likelihood: categorical(…) })`, the optimizers' `init / update`, and
 * the decision boundaries are the model's forward pass on a grid (softmax of f).
 *
 * Precision: the model runs in float32 by default (`mlp({ …, dtype: 'float32' })`), float64 on
 * request, and every run trains on it, NGD with either solver included: the forward pass, J v, Jᵀ v,
 * the per-sample pullbacks and their Grams (the dense Fisher) and the KFAC factors are computed in
 * the model's precision; losses, θ and the solves are float64 (the D × D Fisher is widened and
 * factorized in float64, natgrad's rule for dense factorizations of float32 inputs).
 *
 * Drawing: each boundary panel is an Observable Plot frame (axes, labels) over a <canvas> that
 * holds the class-probability heat map (bilinear from a GRID × GRID forward pass), the decision
 * boundary (where the arg-max class changes) and the data points. The loss curves are a Plot
 * redrawn a few times per second.
 */
import * as Plot from '@observablehq/plot';
import { categorical, type Dtype, gd, kfac, mlp, ngd, rng, type Activation, type MlpModel, type Optimizer, type OptimizerState, type Problem, problem as makeProblem } from 'natgrad';
import { colors, plotStyle, pointerToData, scalesOf, type Scales } from './plots.js';
import { exponent, fmt, formatMs, h, recordTiming, select, slider } from './ui.js';

// ---------------------------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------------------------

export type NetSet = 'moons' | 'circles' | 'blobs';

/** A 2-D classification set: X (N × 2, row-major), labels 0..K−1. */
export interface NetData {
  X: number[];
  y: number[];
  classes: number;
}

/** The view (both axes): every generator puts its points well inside it. */
export const VIEW: readonly [number, number] = [-3, 3];

/**
 * `n` points of `set` with Gaussian noise of scale `noise` (0–1 on the slider), reproducible for a
 * seed (natgrad's xoshiro256** `rng`). Classes alternate, so each has ⌊n/K⌋ or ⌈n/K⌉ points.
 * moons: two interleaved half circles (scikit-learn's make_moons, centred, scaled by 1.7);
 * circles: radii 0.8 and 1.8; blobs: three clusters on a circle of radius 1.3.
 */
export function makeData(set: NetSet, n: number, noise: number, seed: number): NetData {
  const g = rng(seed);
  const classes = set === 'blobs' ? 3 : 2;
  const X: number[] = [],
    y: number[] = [];
  const s = set === 'blobs' ? 0.25 + 1.2 * noise : 1.5 * noise;
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    let a: number, b: number;
    if (set === 'moons') {
      const t = Math.PI * g.uniform();
      a = c ? 1 - Math.cos(t) : Math.cos(t);
      b = c ? 0.5 - Math.sin(t) : Math.sin(t);
      a = (a - 0.5) * 1.7;
      b = (b - 0.25) * 1.7;
    } else if (set === 'circles') {
      const t = 2 * Math.PI * g.uniform(),
        r = c ? 0.8 : 1.8;
      a = r * Math.cos(t);
      b = r * Math.sin(t);
    } else {
      const t = (2 * Math.PI * c) / 3 + Math.PI / 2;
      a = 1.3 * Math.cos(t);
      b = 1.3 * Math.sin(t) - 0.2;
    }
    const clamp = (v: number) => Math.min(VIEW[1] - 0.05, Math.max(VIEW[0] + 0.05, v));
    X.push(clamp(a + s * g.normal()), clamp(b + s * g.normal()));
    y.push(c);
  }
  return { X, y, classes };
}

// ---------------------------------------------------------------------------------------------
// Optimizers
// ---------------------------------------------------------------------------------------------

export type NetName = 'GD' | 'NGD' | 'KFAC' | 'EF-KFAC';
export const NET_NAMES: readonly NetName[] = ['GD', 'NGD', 'KFAC', 'EF-KFAC'];
const COLOR: Record<NetName, string> = { GD: colors.gd, NGD: colors.ngd, KFAC: '#8a5cc2', 'EF-KFAC': colors.ef };
const CLASS_COLORS = ['#3f73b8', '#f28e2b', '#2a9f9c'] as const;
const CLASS_RGB = CLASS_COLORS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number]);

/** Hyperparameters of the four runs. */
export interface NetSettings {
  lr: Record<NetName, number>;
  damping: Record<Exclude<NetName, 'GD'>, number>;
  solver: 'cholesky' | 'cg';
  /** KFAC's running average of the factors (both KFACs) */
  ema: number;
  /** the model's precision, which every run trains in */
  dtype: Dtype;
}

export const NET_DEFAULTS: NetSettings = {
  lr: { GD: 1, NGD: 1, KFAC: 0.3, 'EF-KFAC': 0.3 },
  damping: { NGD: 1e-2, KFAC: 1e-2, 'EF-KFAC': 1e-2 },
  solver: 'cg',
  ema: 0.9,
  dtype: 'float32',
};

/** CG settings of NGD-CG: a CG that does not reach the tolerance fails the run (it is never silent). */
const CG = { tol: 1e-6, maxIterations: 300 };

/** The optimizer `name` on problem `p` with the given settings. */
export function makeNetOptimizer(name: NetName, p: Problem<Dtype>, s: NetSettings): Optimizer {
  switch (name) {
    case 'GD':
      return gd(p, { lr: s.lr.GD });
    case 'NGD':
      return ngd(p, { lr: s.lr.NGD, damping: s.damping.NGD, solver: s.solver, cg: CG });
    case 'KFAC':
      return kfac(p, { lr: s.lr.KFAC, damping: s.damping.KFAC, curvature: 'fisher', ema: s.ema });
    case 'EF-KFAC':
      return kfac(p, { lr: s.lr['EF-KFAC'], damping: s.damping['EF-KFAC'], curvature: 'empiricalFisher', ema: s.ema });
  }
}

interface Runner {
  name: NetName;
  opt: Optimizer;
  state: OptimizerState;
  losses: number[];
  status: 'running' | 'done' | 'failed' | 'diverged';
  reason?: string;
  /** total compute time of the steps and their count (for the mean step time) */
  ms: number;
  steps: number;
  /** class probabilities on the grid (GRID·GRID·K) at the last redraw */
  probs?: Float32Array;
  accuracy: number;
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers
// ---------------------------------------------------------------------------------------------

/** Grid nodes per axis of the boundary forward pass (GRID² rows). */
const GRID = 49;
const PANEL = 282;

function gridInputs(): Float64Array {
  const X = new Float64Array(2 * GRID * GRID);
  const [lo, hi] = VIEW;
  for (let j = 0; j < GRID; j++) {
    const b = hi - ((hi - lo) * j) / (GRID - 1); // row 0 at the top
    for (let i = 0; i < GRID; i++) {
      X[2 * (j * GRID + i)] = lo + ((hi - lo) * i) / (GRID - 1);
      X[2 * (j * GRID + i) + 1] = b;
    }
  }
  return X;
}

/** softmax of each row of f (rows × K) into out (Float32). */
function softmaxRows(f: Float64Array, rows: number, K: number, out: Float32Array): void {
  for (let n = 0; n < rows; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, f[n * K + k]!);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(f[n * K + k]! - m);
    for (let k = 0; k < K; k++) out[n * K + k] = Math.exp(f[n * K + k]! - m) / z;
  }
}

interface Panel {
  name: NetName;
  figure: HTMLElement;
  title: HTMLElement;
  /** iteration · loss · accuracy line */
  head: HTMLElement;
  wrap: HTMLElement;
  canvas: HTMLCanvasElement;
  svg?: SVGSVGElement;
  scales?: Scales;
  /** reused pixel buffers */
  img?: ImageData;
  arg?: Uint8Array;
  /** frame rectangle in CSS px inside the SVG */
  frame?: { left: number; top: number; width: number; height: number };
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

export function mountNetwork(root: HTMLElement): { show(): void } {
  let mounted = false;
  let data: NetData = { X: [], y: [], classes: 2 };
  /** the model (in the selected precision) and its problem, shared by the four runs */
  let model: MlpModel<Dtype> | undefined;
  let prob: Problem<Dtype> | undefined;
  let theta0: Float64Array = new Float64Array(0);
  let runners: Runner[] = [];
  let generation = 0;
  let endAt = 0;
  let edits: number[] = [];
  let dataDirty = false;
  let frame = 0;
  let frameCount = 0;
  let lastCurves = 0;
  let paused = false;
  let lastFrame = { steps: 0 };
  const drawMs = { boundary: 0, curves: 0 };
  const gridX = gridInputs();

  // ---------------------------------------------------------------- controls
  const setSel = select<NetSet>({
    label: 'data set',
    id: 'nn-set',
    value: 'moons',
    options: [
      ['moons', 'two moons'],
      ['circles', 'two circles'],
      ['blobs', 'three blobs'],
    ],
    onChange: () => regenerate(),
  });
  const noise = slider({ label: 'noise', id: 'nn-noise', min: 0, max: 1, step: 0.01, value: 0.15, format: (v) => v.toFixed(2), onInput: () => regenerate() });
  const nSel = select({
    label: 'points N',
    id: 'nn-n',
    value: '200',
    options: [
      ['100', '100'],
      ['200', '200'],
      ['400', '400'],
    ],
    onChange: () => regenerate(),
  });
  const seedIn = h('input', { type: 'number', id: 'nn-seed', min: 0, step: 1, value: 0 });
  seedIn.addEventListener('change', () => regenerate());
  const seedCtl = h('div', { class: 'control' }, h('label', { for: 'nn-seed' }, 'seed'), seedIn);
  const resample = h('button', { type: 'button', id: 'nn-resample' }, 'New sample');
  resample.addEventListener('click', () => {
    seedIn.value = String((Number(seedIn.value) || 0) + 1);
    regenerate();
  });
  const brush = select({
    label: 'click adds class',
    id: 'nn-brush',
    value: '0',
    options: [
      ['0', 'class 0 (blue)'],
      ['1', 'class 1 (orange)'],
    ],
  });

  const archSel = select({
    label: 'hidden layers',
    id: 'nn-arch',
    value: '16,16',
    options: [
      ['8,8', '8 · 8'],
      ['16,16', '16 · 16'],
      ['32', '32'],
      ['24,24', '24 · 24'],
    ],
    onChange: () => reset(),
  });
  const actSel = select<Activation>({
    label: 'activation',
    id: 'nn-act',
    value: 'tanh',
    options: [
      ['tanh', 'tanh'],
      ['relu', 'ReLU'],
      ['gelu', 'GELU'],
      ['sigmoid', 'sigmoid'],
    ],
    onChange: () => reset(),
  });
  const dtypeSel = select<Dtype>({
    label: 'precision',
    id: 'nn-dtype',
    value: NET_DEFAULTS.dtype,
    options: [
      ['float32', 'float32'],
      ['float64', 'float64'],
    ],
    onChange: () => reset(),
  });
  const initSeed = h('input', { type: 'number', id: 'nn-init', min: 0, step: 1, value: 0 });
  initSeed.addEventListener('change', () => reset());
  const initCtl = h('div', { class: 'control' }, h('label', { for: 'nn-init' }, 'θ₀ seed'), initSeed);

  const lr = {
    GD: exponent({ label: 'step size γ', id: 'nn-lr-gd', value: NET_DEFAULTS.lr.GD, onChange: () => reset() }),
    NGD: exponent({ label: 'step size γ', id: 'nn-lr-ngd', value: NET_DEFAULTS.lr.NGD, onChange: () => reset() }),
    KFAC: exponent({ label: 'step size γ', id: 'nn-lr-kfac', value: NET_DEFAULTS.lr.KFAC, onChange: () => reset() }),
    'EF-KFAC': exponent({ label: 'step size γ', id: 'nn-lr-efkfac', value: NET_DEFAULTS.lr['EF-KFAC'], onChange: () => reset() }),
  };
  const damping = {
    NGD: exponent({ label: 'damping λ', id: 'nn-damping-ngd', value: NET_DEFAULTS.damping.NGD, onChange: () => reset() }),
    KFAC: exponent({ label: 'damping λ', id: 'nn-damping-kfac', value: NET_DEFAULTS.damping.KFAC, onChange: () => reset() }),
    'EF-KFAC': exponent({ label: 'damping λ', id: 'nn-damping-efkfac', value: NET_DEFAULTS.damping['EF-KFAC'], onChange: () => reset() }),
  };
  const solverSel = select<'cholesky' | 'cg'>({
    label: 'solver',
    id: 'nn-solver',
    value: NET_DEFAULTS.solver,
    options: [
      ['cholesky', 'dense Cholesky'],
      ['cg', 'CG (matrix-free)'],
    ],
    onChange: () => reset(),
  });

  const speedSel = select({
    label: 'speed',
    id: 'nn-speed',
    value: '1',
    options: [
      ['0.25', 'slow motion (¼ step / frame)'],
      ['1', '1 step / frame'],
      ['5', '5 steps / frame'],
    ],
  });
  const itSel = select({
    label: 'iterations',
    id: 'nn-iterations',
    value: '500',
    options: [
      ['200', '200'],
      ['500', '500'],
      ['2000', '2000'],
    ],
    onChange: () => {
      endAt = (edits[edits.length - 1] ?? 0) + Number(itSel.value);
      resume();
    },
  });
  const pauseBtn = h('button', { type: 'button', id: 'nn-pause' }, 'Pause');
  pauseBtn.addEventListener('click', () => {
    if (paused) {
      paused = false;
      resume();
    } else {
      paused = true;
      pauseBtn.textContent = 'Resume';
      root.dataset.state = 'paused';
    }
  });
  const resetBtn = h('button', { type: 'button', class: 'primary', id: 'nn-reset' }, 'Restart training');
  resetBtn.addEventListener('click', () => reset());
  const defaultsBtn = h('button', { type: 'button', id: 'nn-defaults' }, 'Default γ, λ');
  defaultsBtn.addEventListener('click', () => {
    for (const n of NET_NAMES) lr[n].set(NET_DEFAULTS.lr[n]);
    for (const n of ['NGD', 'KFAC', 'EF-KFAC'] as const) damping[n].set(NET_DEFAULTS.damping[n]);
    reset();
  });

  const panels: Panel[] = NET_NAMES.map((name) => {
    const title = h('div', { class: 'head', style: `color:${COLOR[name]}` }, name);
    const head = h('div', { class: 'nn-sub' }, '');
    const canvas = h('canvas', { class: 'nn-heat' });
    const wrap = h('div', { class: 'nn-wrap interactive' }, canvas);
    const figure = h('figure', { 'data-net': name }, title, head, wrap);
    return { name, figure, head, title, wrap, canvas };
  });
  const lossFig = h('figure', { class: 'nn-loss' });
  const table = h('div', { class: 'nn-table' });
  const timing = h('div', { class: 'timing' });
  const archNote = h('span', { class: 'note' });

  root.append(
    h('h2', {}, 'A network in the browser — GD, NGD, KFAC and EF-KFAC train the same MLP, live'),
    h(
      'p',
      { class: 'lead' },
      'A small multilayer perceptron (softmax output, cross-entropy loss, full batch) on a 2-D classification set, trained from the same θ₀ by four optimizers at once, one update per frame: ',
      h('b', {}, 'GD'),
      ', ',
      h('b', {}, 'NGD'),
      ' with the exact Fisher (dense Cholesky or matrix-free CG), ',
      h('b', {}, 'KFAC'),
      ' with the Kronecker factors of the Fisher and ',
      h('b', {}, 'EF-KFAC'),
      ' with those of the empirical Fisher (factored Tikhonov damping, running average of the factors). ',
      'All four train the network in ',
      h('b', {}, 'float32'),
      ' (float64 on request). ',
      'Shading: the network\u2019s class probabilities; dark line: its decision boundary. ',
      h('b', {}, 'Drag'),
      ' a point to move it, ',
      h('b', {}, 'click'),
      ' to add one, ',
      h('b', {}, 'shift-click'),
      ' to remove one — the runs carry on from where they are; a new data set restarts them.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Data'), setSel.el, noise.el, nSel.el, seedCtl, resample, brush.el),
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Net'), archSel.el, actSel.el, dtypeSel.el, initCtl, archNote),
      h('div', { class: 'group gd' }, h('span', { class: 'name' }, 'GD'), lr.GD.el),
      h('div', { class: 'group ngd' }, h('span', { class: 'name' }, 'NGD'), lr.NGD.el, damping.NGD.el, solverSel.el),
      h('div', { class: 'group kfac' }, h('span', { class: 'name' }, 'KFAC'), lr.KFAC.el, damping.KFAC.el),
      h('div', { class: 'group ef' }, h('span', { class: 'name' }, 'EF-KFAC'), lr['EF-KFAC'].el, damping['EF-KFAC'].el),
      h('div', { class: 'group' }, speedSel.el, itSel.el, resetBtn, pauseBtn, defaultsBtn),
    ),
    h(
      'div',
      { class: 'legend' },
      ...NET_NAMES.map((n) => h('span', {}, h('span', { class: 'sw', style: `background:${COLOR[n]}` }), n)),
      h(
        'span',
        { class: 'nn-classes' },
        'points: ',
        ...CLASS_COLORS.map((c, k) => h('span', { class: `nn-class nn-class-${k}` }, h('span', { class: 'dotsw', style: `background:${c}` }), `class ${k}`)),
      ),
    ),
    h('div', { class: 'panels nn-panels' }, ...panels.map((p) => p.figure)),
    h('div', { class: 'panels' }, lossFig, table),
    timing,
  );

  // ---------------------------------------------------------------- state changes
  function settings(): NetSettings {
    return {
      lr: { GD: lr.GD.value, NGD: lr.NGD.value, KFAC: lr.KFAC.value, 'EF-KFAC': lr['EF-KFAC'].value },
      damping: { NGD: damping.NGD.value, KFAC: damping.KFAC.value, 'EF-KFAC': damping['EF-KFAC'].value },
      solver: solverSel.value,
      ema: NET_DEFAULTS.ema,
      dtype: dtypeSel.value,
    };
  }

  /** New data from the controls, then restart training. */
  function regenerate(): void {
    data = makeData(setSel.value, Number(nSel.value), noise.value, Math.max(0, Math.floor(Number(seedIn.value) || 0)));
    // the brush offers the classes of this set
    const sel = brush.el.querySelector('select')!;
    sel.replaceChildren(...Array.from({ length: data.classes }, (_, k) => h('option', { value: String(k) }, `class ${k} (${['blue', 'orange', 'teal'][k]})`)));
    for (const [k, el] of [...root.querySelectorAll<HTMLElement>('.nn-class')].entries()) el.hidden = k >= data.classes;
    reset();
  }

  /** Fresh model (architecture, K), θ₀, problem and optimizers; the loss curves start over. */
  function reset(): void {
    const t = performance.now();
    const hidden = archSel.value.split(',').map(Number);
    const s = settings();
    const m = mlp({ sizes: [2, ...hidden, data.classes], activation: actSel.value, dtype: s.dtype });
    model = m;
    archNote.textContent = `sizes [2, ${hidden.join(', ')}, ${data.classes}] · D = ${m.dim}`;
    // The same draws in either precision (a float32 network's θ₀ is them rounded to float32); the optimizers hold θ in float64.
    theta0 = Float64Array.from(m.init(Math.max(0, Math.floor(Number(initSeed.value) || 0))));
    const p = buildProblem(m);
    runners = NET_NAMES.map((name): Runner => {
      const opt = makeNetOptimizer(name, p, s);
      const base = { name, opt, ms: 0, steps: 0, accuracy: NaN };
      try {
        const state = opt.init(theta0);
        return { ...base, state, losses: [state.loss], status: 'running' };
      } catch (e) {
        // e.g. a non-positive-definite first solve: shown on the panel, the other runs go on
        return {
          ...base,
          state: { theta: theta0, iteration: 0, damping: 0, loss: NaN, gradient: new Float64Array(0) },
          losses: [],
          status: 'failed',
          reason: (e as Error).message.replace(/^natgrad: /, ''),
        };
      }
    });
    edits = [];
    root.dataset.edits = '0';
    dataDirty = false;
    endAt = Number(itSel.value);
    generation++;
    root.dataset.generation = String(generation);
    root.dataset.set = setSel.value;
    root.dataset.n = String(data.y.length);
    root.dataset.point0 = data.y.length ? `${data.X[0]},${data.X[1]}` : '';
    root.dataset.dim = String(m.dim);
    root.dataset.dtype = m.dtype;
    recordTiming('Network: model + problem + optimizers', performance.now() - t);
    mountPanels();
    draw(true);
    resume();
  }

  /** The problem of the current data on model `m` (the previous problem is freed). */
  function buildProblem(m: MlpModel<Dtype>): Problem<Dtype> {
    prob?.free();
    const N = data.y.length;
    prob = makeProblem({ model: m, X: { data: Float64Array.from(data.X), rows: N, cols: 2 }, y: Float64Array.from(data.y), likelihood: categorical({ classes: data.classes }) });
    return prob;
  }

  /** After a point was moved, added or removed: a new problem, each run re-initialized at its current θ. */
  function applyEdit(): void {
    dataDirty = false;
    const p = buildProblem(model!);
    const s = settings();
    const k = Math.max(...runners.map((r) => r.losses.length - 1));
    edits.push(k);
    for (const r of runners) {
      if (r.status === 'failed' || r.status === 'diverged') continue;
      const opt = makeNetOptimizer(r.name, p, s);
      const theta = r.state.theta;
      r.opt = opt;
      r.state = opt.init(theta);
      r.losses[r.losses.length - 1] = r.state.loss; // the same θ on the new data
      r.status = 'running';
    }
    endAt = Math.max(endAt, k + Number(itSel.value));
    root.dataset.n = String(data.y.length);
    root.dataset.point0 = data.y.length ? `${data.X[0]},${data.X[1]}` : '';
    root.dataset.edits = String(edits.length);
  }

  function resume(): void {
    if (paused) return;
    pauseBtn.textContent = 'Pause';
    for (const r of runners) if (r.status === 'done' && r.losses.length - 1 < endAt) r.status = 'running';
    root.dataset.state = runners.some((r) => r.status === 'running') ? 'running' : 'done';
    if (!frame && !root.hidden) frame = requestAnimationFrame(tick);
  }

  // ---------------------------------------------------------------- stepping
  function step(r: Runner): void {
    const t = performance.now();
    try {
      const next = r.opt.update(r.state).state;
      r.state = next;
      r.losses.push(next.loss);
      if (!Number.isFinite(next.loss) || next.loss > 1e3 * (r.losses[0]! + 1)) {
        r.status = 'diverged';
        r.reason = `loss ${fmt(next.loss)}`;
      } else if (r.losses.length - 1 >= endAt) r.status = 'done';
    } catch (e) {
      r.status = 'failed';
      r.reason = (e as Error).message.replace(/^natgrad: /, '');
    }
    r.ms += performance.now() - t;
    r.steps++;
  }

  let carry = 0;
  function tick(): void {
    frame = 0;
    if (root.hidden || paused) return;
    const t0 = performance.now();
    if (dataDirty) applyEdit();
    carry += Number(speedSel.value);
    const per = Math.floor(carry);
    carry -= per;
    for (let k = 0; k < per; k++) for (const r of runners) if (r.status === 'running') step(r);
    const t1 = performance.now();
    frameCount++;
    const running = runners.some((r) => r.status === 'running');
    draw(!running);
    lastFrame = { steps: t1 - t0 };
    if (running) frame = requestAnimationFrame(tick);
    else {
      root.dataset.state = 'done';
      for (const r of runners) if (r.steps) recordTiming(`Network: ${r.name} step`, r.ms / r.steps);
    }
  }

  // ---------------------------------------------------------------- drawing
  function mountPanels(): void {
    for (const p of panels) {
      const svg = Plot.plot({
        width: PANEL,
        height: PANEL,
        marginLeft: 38,
        marginBottom: 34,
        marginTop: 8,
        marginRight: 8,
        style: { ...plotStyle, background: 'transparent' },
        x: { domain: VIEW as [number, number], label: 'x₁', labelAnchor: 'center', labelArrow: 'none', ticks: 7 },
        y: { domain: VIEW as [number, number], label: 'x₂', labelAnchor: 'center', labelArrow: 'none', ticks: 7 },
        marks: [Plot.frame({ stroke: '#9aa5b1' })],
      }) as unknown as SVGSVGElement;
      p.svg?.remove();
      p.svg = svg;
      p.wrap.append(svg);
      const s = scalesOf(svg as Parameters<typeof scalesOf>[0]);
      p.scales = s;
      const left = s.x(VIEW[0]),
        right = s.x(VIEW[1]),
        top = s.y(VIEW[1]),
        bottom = s.y(VIEW[0]);
      p.frame = { left, top, width: right - left, height: bottom - top };
      const dpr = Math.min(window.devicePixelRatio || 1, 2);
      p.canvas.width = Math.round(p.frame.width * dpr);
      p.canvas.height = Math.round(p.frame.height * dpr);
      Object.assign(p.canvas.style, { left: `${left}px`, top: `${top}px`, width: `${p.frame.width}px`, height: `${p.frame.height}px` });
      attachPointer(p);
    }
  }

  /** Forward pass of run r on the grid and on the training points: probabilities and accuracy. */
  function evaluate(r: Runner): void {
    const K = data.classes,
      rows = GRID * GRID;
    const m = model!;
    const trace = m.forward(r.state.theta, gridX, rows);
    try {
      const probs = r.probs?.length === rows * K ? r.probs : new Float32Array(rows * K);
      softmaxRows(trace.outputs, rows, K, probs);
      r.probs = probs;
    } finally {
      trace.free();
    }
    const N = data.y.length;
    if (!N) {
      r.accuracy = NaN;
      return;
    }
    const tr = m.forward(r.state.theta, Float64Array.from(data.X), N);
    try {
      const f = tr.outputs;
      let ok = 0;
      for (let n = 0; n < N; n++) {
        let best = 0;
        for (let k = 1; k < K; k++) if (f[n * K + k]! > f[n * K + best]!) best = k;
        if (best === data.y[n]) ok++;
      }
      r.accuracy = ok / N;
    } finally {
      tr.free();
    }
  }

  /** Heat map (bilinear class probabilities), decision boundary and data points on the panel's canvas. */
  function paint(p: Panel, r: Runner): void {
    const ctx = p.canvas.getContext('2d');
    if (!ctx || !p.frame) return;
    const W = p.canvas.width,
      H = p.canvas.height,
      K = data.classes;
    if (!p.img || p.img.width !== W || p.img.height !== H) {
      p.img = ctx.createImageData(W, H);
      p.arg = new Uint8Array(W * H);
    }
    const img = p.img,
      arg = p.arg!;
    const px = img.data;
    const probs = r.probs;
    const q = new Float32Array(K);
    for (let j = 0; j < H; j++) {
      const v = ((j + 0.5) / H) * (GRID - 1);
      const j0 = Math.min(GRID - 2, Math.floor(v)),
        fv = v - j0;
      for (let i = 0; i < W; i++) {
        const o = 4 * (j * W + i);
        if (!probs) {
          px[o] = px[o + 1] = px[o + 2] = 245;
          px[o + 3] = 255;
          continue;
        }
        const u = ((i + 0.5) / W) * (GRID - 1);
        const i0 = Math.min(GRID - 2, Math.floor(u)),
          fu = u - i0;
        const a = (j0 * GRID + i0) * K,
          b = a + K,
          c = a + GRID * K,
          d = c + K;
        let best = 0,
          bestP = -1;
        let R = 0,
          G = 0,
          B = 0;
        for (let k = 0; k < K; k++) {
          const val = (1 - fv) * ((1 - fu) * probs[a + k]! + fu * probs[b + k]!) + fv * ((1 - fu) * probs[c + k]! + fu * probs[d + k]!);
          q[k] = val;
          if (val > bestP) {
            bestP = val;
            best = k;
          }
          const rgb = CLASS_RGB[k]!;
          R += val * rgb[0];
          G += val * rgb[1];
          B += val * rgb[2];
        }
        arg[j * W + i] = best;
        // confidence 0 (uniform) … 1 (certain) sets how far the colour is from white
        const conf = (bestP - 1 / K) / (1 - 1 / K);
        const alpha = 0.18 + 0.42 * conf;
        px[o] = 255 * (1 - alpha) + R * alpha;
        px[o + 1] = 255 * (1 - alpha) + G * alpha;
        px[o + 2] = 255 * (1 - alpha) + B * alpha;
        px[o + 3] = 255;
      }
    }
    if (probs) {
      // decision boundary: pixels whose arg-max class differs from the right or lower neighbour
      for (let j = 0; j < H; j++) {
        for (let i = 0; i < W; i++) {
          const m = arg[j * W + i]!;
          if ((i + 1 < W && arg[j * W + i + 1] !== m) || (j + 1 < H && arg[(j + 1) * W + i] !== m)) {
            const o = 4 * (j * W + i);
            px[o] = 40;
            px[o + 1] = 44;
            px[o + 2] = 52;
          }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    // data points
    const sx = W / (VIEW[1] - VIEW[0]),
      sy = H / (VIEW[1] - VIEW[0]);
    const dpr = W / p.frame.width;
    ctx.lineWidth = 1 * dpr;
    ctx.strokeStyle = '#ffffff';
    for (let n = 0; n < data.y.length; n++) {
      const x = (data.X[2 * n]! - VIEW[0]) * sx,
        y = (VIEW[1] - data.X[2 * n + 1]!) * sy;
      ctx.beginPath();
      ctx.arc(x, y, 3.3 * dpr, 0, 2 * Math.PI);
      ctx.fillStyle = CLASS_COLORS[data.y[n]!]!;
      ctx.fill();
      ctx.stroke();
    }
    if (r.status === 'failed' || r.status === 'diverged') {
      ctx.fillStyle = 'rgba(255,255,255,0.7)';
      ctx.fillRect(0, H / 2 - 22 * dpr, W, 44 * dpr);
      ctx.fillStyle = colors.ef;
      ctx.font = `600 ${13 * dpr}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.fillText(r.status === 'failed' ? 'failed — raise λ or lower γ' : 'diverged — lower γ', W / 2, H / 2 + 5 * dpr);
    }
  }

  function paintAll(): void {
    runners.forEach((r, i) => paint(panels[i]!, r));
  }

  function draw(force: boolean): void {
    const now = performance.now();
    {
      // One boundary panel per frame, round-robin (each is redrawn every 4th frame); all when forced.
      const which = force ? runners.map((_, i) => i) : [frameCount % runners.length];
      const tb = performance.now();
      for (const i of which) {
        const r = runners[i]!;
        if (r.status !== 'failed' || !r.probs) evaluate(r);
        paint(panels[i]!, r);
        const last = r.losses[r.losses.length - 1];
        panels[i]!.title.textContent = `${
          r.name === 'NGD' ? `NGD · Fisher, ${solverSel.value === 'cg' ? 'CG' : 'dense'}` : r.name === 'KFAC' ? 'KFAC · Fisher factors' : r.name === 'EF-KFAC' ? 'EF-KFAC · EF factors' : 'GD'
        } · ${model!.dtype}`;
        panels[i]!.head.textContent =
          `iteration ${r.losses.length - 1} · loss ${last === undefined ? '—' : fmt(last, 3)} · accuracy ${Number.isFinite(r.accuracy) ? `${Math.round(100 * r.accuracy)} %` : '—'}`;
      }
      drawMs.boundary = (performance.now() - tb) / which.length;
    }
    if (force || now - lastCurves > 200) {
      lastCurves = now;
      const tc = performance.now();
      drawCurves();
      drawTable();
      drawMs.curves = performance.now() - tc;
      root.dataset.losses = JSON.stringify(Object.fromEntries(runners.map((r) => [r.name, r.losses.map((l) => (Number.isFinite(l) ? l : null))])));
      root.dataset.status = JSON.stringify(Object.fromEntries(runners.map((r) => [r.name, r.status])));
      root.dataset.stepMs = JSON.stringify(Object.fromEntries(runners.map((r) => [r.name, r.steps ? r.ms / r.steps : null])));
      root.dataset.accuracy = JSON.stringify(Object.fromEntries(runners.map((r) => [r.name, Number.isFinite(r.accuracy) ? r.accuracy : null])));
      const total = runners.reduce((a, r) => a + (r.steps ? r.ms / r.steps : 0), 0);
      timing.textContent =
        `Mean compute per step: ${runners.map((r) => `${r.name} ${r.steps ? formatMs(r.ms / r.steps) : '—'}`).join(' · ')} (all four: ${formatMs(total)}; D = ${root.dataset.dim}, N = ${data.y.length}; ${precisionText()}). ` +
        `Last frame: the four steps ${formatMs(lastFrame.steps)}. Redrawing one boundary panel (a ${GRID}² forward pass + the canvas; one panel per frame) ${formatMs(drawMs.boundary)}; the loss plot and table (5 times a second) ${formatMs(drawMs.curves)}.`;
      root.dataset.drawMs = JSON.stringify(drawMs);
    }
  }

  function drawCurves(): void {
    const rows: { k: number; loss: number; name: NetName }[] = [];
    let kmax = 1;
    const FLOOR = 1e-9;
    for (const r of runners) {
      const L = r.losses;
      kmax = Math.max(kmax, L.length - 1);
      // thin long runs to ≤ ~600 points per curve
      const stride = Math.max(1, Math.ceil(L.length / 600));
      for (let k = 0; k < L.length; k += stride) if (Number.isFinite(L[k]!)) rows.push({ k, loss: Math.max(L[k]!, FLOOR), name: r.name });
      const k = L.length - 1;
      if (k % stride && Number.isFinite(L[k]!)) rows.push({ k, loss: Math.max(L[k]!, FLOOR), name: r.name });
    }
    const last = runners
      .filter((r) => r.losses.length && Number.isFinite(r.losses[r.losses.length - 1]!))
      .map((r) => ({ name: r.name, k: r.losses.length - 1, loss: Math.max(r.losses[r.losses.length - 1]!, FLOOR) }));
    lossFig.replaceChildren(
      h('div', { class: 'head' }, 'Training loss (cross-entropy, mean over the points)'),
      Plot.plot({
        width: 620,
        height: 280,
        style: plotStyle,
        marginLeft: 56,
        marginRight: 16,
        x: { domain: [0, Math.max(endAt, kmax)], label: 'iteration' },
        y: { type: 'log', label: 'loss L(θ)', grid: true, tickFormat: '~g' },
        color: { domain: NET_NAMES as NetName[], range: NET_NAMES.map((n) => COLOR[n]), legend: true },
        marks: [
          Plot.ruleX(edits, { stroke: '#c8ced4', strokeDasharray: '3,3' }),
          Plot.line(rows, { x: 'k', y: 'loss', stroke: 'name', z: 'name', strokeWidth: 2 }),
          Plot.dot(last, { x: 'k', y: 'loss', fill: 'name', r: 3.5 }),
        ],
      }),
      h('figcaption', {}, edits.length ? 'Dashed: a point was moved, added or removed (each run carries on from its θ on the new data).' : 'Log scale. One update per optimizer per frame.'),
    );
  }

  /** What runs in which precision. */
  function precisionText(): string {
    const dtype = root.dataset.dtype ?? dtypeSel.value;
    if (dtype === 'float64') return 'Precision: float64 throughout.';
    return 'Precision: float32, all four runs (forward, J v, Jᵀ v, the pullbacks and Grams of the dense Fisher and the KFAC factors in float32; losses, solves and θ in float64 — the D × D Fisher is factorized in float64).';
  }

  function drawTable(): void {
    const row = (r: Runner) =>
      h(
        'tr',
        {},
        h('td', { style: `color:${COLOR[r.name]};font-weight:600` }, r.name),
        h('td', {}, r.losses.length ? fmt(r.losses[r.losses.length - 1]!, 4) : '—'),
        h('td', {}, Number.isFinite(r.accuracy) ? `${(100 * r.accuracy).toFixed(1)} %` : '—'),
        h('td', {}, String(Math.max(0, r.losses.length - 1))),
        h('td', {}, r.steps ? formatMs(r.ms / r.steps) : '—'),
        h('td', { title: r.reason ?? '' }, r.status === 'running' ? '…' : r.status),
      );
    const failures = runners.filter((r) => r.reason && (r.status === 'failed' || r.status === 'diverged'));
    table.replaceChildren(
      h('div', { class: 'head' }, 'Runs'),
      h(
        'table',
        { class: 'stats' },
        h('tr', {}, h('th', {}, ''), h('th', {}, 'loss'), h('th', {}, 'train acc.'), h('th', {}, 'iters'), h('th', {}, 'per step'), h('th', {}, 'status')),
        ...runners.map(row),
      ),
      ...failures.map((r) => h('p', { class: 'note nn-failure' }, `${r.name}: ${r.reason}`)),
      h('p', { class: 'note nn-precision', style: 'max-width:330px;margin-top:8px' }, precisionText()),
      h(
        'p',
        { class: 'note', style: 'max-width:330px;margin-top:8px' },
        'Per step: one optimizer update (loss, gradient and, for NGD, the Fisher and its damped solve; for the KFACs, the factors and two small Cholesky solves per layer). ',
        'KFAC γ_A = π√λ, γ_G = √λ/π; factors averaged with weight 0.9.',
      ),
    );
  }

  // ---------------------------------------------------------------- reshaping the data
  function attachPointer(p: Panel): void {
    const svg = p.svg!;
    let dragging = -1;
    let moved = false;
    const toData = (ev: PointerEvent) => pointerToData(svg, p.scales!, ev);
    const inView = (x: number, y: number) => x > VIEW[0] && x < VIEW[1] && y > VIEW[0] && y < VIEW[1];
    const nearest = (ev: PointerEvent): number => {
      const [x, y] = toData(ev);
      const s = p.frame!.width / (VIEW[1] - VIEW[0]);
      let best = -1,
        bd = 9 * 9; // within 9 px
      for (let n = 0; n < data.y.length; n++) {
        const dx = (data.X[2 * n]! - x) * s,
          dy = (data.X[2 * n + 1]! - y) * s;
        const d = dx * dx + dy * dy;
        if (d < bd) {
          bd = d;
          best = n;
        }
      }
      return best;
    };
    svg.addEventListener('pointerdown', (ev) => {
      const [x, y] = toData(ev);
      if (!inView(x, y)) return;
      ev.preventDefault();
      const n = nearest(ev);
      if (n >= 0 && ev.shiftKey) {
        data.X.splice(2 * n, 2);
        data.y.splice(n, 1);
        edited();
        return;
      }
      if (n < 0) {
        data.X.push(x, y);
        data.y.push(Math.min(data.classes - 1, Number(brush.value) || 0));
        edited();
        return;
      }
      dragging = n;
      moved = false;
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener('pointermove', (ev) => {
      if (dragging < 0) return;
      const [x, y] = toData(ev);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return;
      const c = (v: number) => Math.min(VIEW[1] - 0.02, Math.max(VIEW[0] + 0.02, v));
      data.X[2 * dragging] = c(x);
      data.X[2 * dragging + 1] = c(y);
      moved = true;
      edited();
    });
    const end = (ev: PointerEvent) => {
      if (dragging >= 0 && svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
      dragging = -1;
      if (moved) edited();
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
  }

  function edited(): void {
    dataDirty = true;
    paintAll(); // the points move at once; the problem is rebuilt on the next frame
    if (paused || !runners.some((r) => r.status === 'running')) {
      // not animating: apply now and run a fresh budget
      applyEdit();
      draw(true);
      resume();
    }
  }

  return {
    show() {
      if (!mounted) {
        mounted = true;
        regenerate();
        return;
      }
      resume();
    },
  };
}
