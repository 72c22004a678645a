/**
 * Tab 5 — Laplace: the curvature inside a Laplace posterior. A small MLP ([2, H, 2], tanh or
 * ReLU, softmax output) on a 2-D two-class set the visitor reshapes (presets, click to add a point
 * of the chosen class, shift-click to remove one) is trained to a MAP θ* by a few hundred
 * full-batch NGD steps (natgrad's `ngd`, Levenberg–Marquardt damping, until ‖∇L‖ ≤ 1e-9; the prior N(0, δ_MAP⁻¹ I) is
 * the problem's `priorVariance`). Two Laplace posteriors N(θ*, P⁻¹), P = H + δ I, are built at θ*
 * with natgrad's `laplace(problem, θ*, { curvature, structure: 'full' })` — H the GGN in one panel,
 * the empirical Fisher in the other — and each one's prior precision δ is set by maximizing its own
 * log marginal likelihood (`optimizePriorPrecision({ method: 'marglik' })`). The panels shade the
 * plane by the GLM predictive with the probit link (`predict(…, { link: 'probit' })`) on a
 * GRID × GRID grid: its confidence max_k p(y = k | x) or its entropy.
 *
 * Everything runs on the main thread: with N ≲ 100 points and D = 82 one update (MAP, both
 * posteriors with their marglik, both predictives) takes some tens of milliseconds (shown below
 * the panels), so no worker is needed.
 *
 * Drawing as in tab 4: an Observable Plot frame (axes, labels) over a <canvas> with the heat map
 * (bilinear from the grid), the decision boundary and the data points.
 */
import * as Plot from '@observablehq/plot';
import { categorical, laplace, mlp, ngd, rng, type Activation, type MlpModel, type Problem, problem as makeProblem } from 'natgrad';
import { makeData, type NetData, VIEW } from './network.js';
import { plotStyle, pointerToData, scalesOf, type Scales } from './plots.js';
import { fmt, formatMs, h, recordTiming, select, slider } from './ui.js';

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

export type LaplacePreset = 'moons' | 'circles' | 'blobs' | 'xor';

/**
 * `n` points of a two-class preset, reproducible for a seed (natgrad's xoshiro256** `rng`):
 * moons and circles are tab 4's generators (noise 0.12 and 0.08); blobs are two Gaussian clusters
 * (σ = 0.45) at ±(1.1, 0.6); xor four clusters (σ = 0.35) at (±1.1, ±1.1), class 1 where the
 * signs differ.
 */
export function presetData(preset: LaplacePreset, n: number, seed: number): NetData {
  if (preset === 'moons') return makeData('moons', n, 0.12, seed);
  if (preset === 'circles') return makeData('circles', n, 0.08, seed);
  const g = rng(seed);
  const X: number[] = [],
    y: number[] = [];
  for (let i = 0; i < n; i++) {
    let cx: number, cy: number, s: number, c: number;
    if (preset === 'blobs') {
      c = i % 2;
      cx = c ? 1.1 : -1.1;
      cy = c ? 0.6 : -0.6;
      s = 0.45;
    } else {
      const q = i % 4;
      cx = q & 1 ? 1.1 : -1.1;
      cy = q & 2 ? 1.1 : -1.1;
      c = cx * cy < 0 ? 1 : 0;
      s = 0.35;
    }
    X.push(cx + s * g.normal(), cy + s * g.normal());
    y.push(c);
  }
  return { X, y, classes: 2 };
}

// ---------------------------------------------------------------------------------------------
// Computation
// ---------------------------------------------------------------------------------------------

export type Curvature = 'ggn' | 'empiricalFisher';
const CURVATURES: readonly Curvature[] = ['ggn', 'empiricalFisher'];
const TITLE: Record<Curvature, string> = { ggn: 'Laplace with the GGN', empiricalFisher: 'Laplace with the empirical Fisher' };
const KEY: Record<Curvature, string> = { ggn: 'ggn', empiricalFisher: 'ef' };

/** One posterior: its marglik prior precision and evidence, and the predictive P(y = 1) on the grid. */
interface Posterior {
  ok: boolean;
  error?: string;
  /** δ* maximizing log Z, log Z there, log Z at the training δ_MAP */
  delta: number;
  logZ: number;
  logZAtMap: number;
  iterations: number;
  converged: boolean;
  /** P(y = 1 | x) on the GRID × GRID nodes (row 0 at the top) */
  p1?: Float32Array;
  /** mean over the grid of max_k p(y = k | x) */
  meanConfidence: number;
  ms: number;
}

/** NGD stops once ‖∇L(θ)‖₂ of the mean loss is this small. */
const GRAD_TOL = 1e-9;

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

/** Grid nodes per axis of the predictive (GRID² test points per posterior). */
const GRID = 41;
const PANEL = 282;
const CLASS_COLORS = ['#3f73b8', '#f28e2b'] as const;
const CLASS_RGB = CLASS_COLORS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number]);
/** entropy shading: white → this colour at ln 2 nats */
const ENTROPY_RGB: [number, number, number] = [94, 53, 140];

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

/**
 * The Laplace posterior of `p` at θ* with `curvature`, its marglik δ, and the probit predictive
 * on the grid. Errors (e.g. a failed factorization) are returned, not thrown.
 */
function posterior(p: Problem, theta: Float64Array, curvature: Curvature, deltaMap: number, grid: Float64Array): Posterior {
  const t0 = performance.now();
  let la: ReturnType<typeof laplace> | undefined;
  try {
    la = laplace(p, theta, { curvature, structure: 'full', priorPrecision: deltaMap });
    const logZAtMap = la.logMarginalLikelihood();
    const o = la.optimizePriorPrecision({ method: 'marglik' });
    const pred = la.predict({ data: grid, rows: GRID * GRID, cols: 2 }, { link: 'probit' });
    if (!('data' in pred)) throw new Error('expected class probabilities');
    const p1 = new Float32Array(GRID * GRID);
    let conf = 0;
    for (let k = 0; k < p1.length; k++) {
      const q = pred.data[2 * k + 1]!;
      p1[k] = q;
      conf += Math.max(q, 1 - q);
    }
    return {
      ok: true,
      delta: o.priorPrecision as number,
      logZ: o.logMarginalLikelihood,
      logZAtMap,
      iterations: o.iterations,
      converged: o.converged,
      p1,
      meanConfidence: conf / p1.length,
      ms: performance.now() - t0,
    };
  } catch (e) {
    return {
      ok: false,
      error: (e as Error).message.replace(/^natgrad: /, ''),
      delta: NaN,
      logZ: NaN,
      logZAtMap: NaN,
      iterations: 0,
      converged: false,
      meanConfidence: NaN,
      ms: performance.now() - t0,
    };
  } finally {
    la?.free();
  }
}

interface Panel {
  curvature: Curvature;
  figure: HTMLElement;
  wrap: HTMLElement;
  canvas: HTMLCanvasElement;
  stats: HTMLElement;
  svg?: SVGSVGElement;
  scales?: Scales;
  img?: ImageData;
  arg?: Uint8Array;
  frame?: { left: number; top: number; width: number; height: number };
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

export function mountLaplace(root: HTMLElement): { show(): void } {
  let mounted = false;
  let data: NetData = { X: [], y: [], classes: 2 };
  let model: MlpModel | undefined;
  /** θ* of the last MAP (the next edit's warm start), undefined after a reset */
  let thetaMap: Float64Array | undefined;
  let results: Partial<Record<Curvature, Posterior>> = {};
  let pending = 0;
  let updates = 0;
  const gridX = gridInputs();

  // ---------------------------------------------------------------- controls
  const presetSel = select<LaplacePreset>({
    label: 'preset',
    id: 'la-preset',
    value: 'moons',
    options: [
      ['moons', 'two moons'],
      ['circles', 'two circles'],
      ['blobs', 'two blobs'],
      ['xor', 'XOR'],
    ],
    onChange: () => regenerate(),
  });
  const nSel = select({
    label: 'points N',
    id: 'la-n',
    value: '40',
    options: [
      ['20', '20'],
      ['40', '40'],
      ['80', '80'],
    ],
    onChange: () => regenerate(),
  });
  const seedIn = h('input', { type: 'number', id: 'la-seed', min: 0, step: 1, value: 0 });
  seedIn.addEventListener('change', () => regenerate());
  const seedCtl = h('div', { class: 'control' }, h('label', { for: 'la-seed' }, 'seed'), seedIn);
  const resetBtn = h('button', { type: 'button', class: 'primary', id: 'la-reset' }, 'Reset points');
  resetBtn.addEventListener('click', () => regenerate());
  const clearBtn = h('button', { type: 'button', id: 'la-clear' }, 'Clear');
  clearBtn.addEventListener('click', () => {
    data = { X: [], y: [], classes: 2 };
    thetaMap = undefined;
    schedule();
  });
  const brush = select({
    label: 'click adds',
    id: 'la-brush',
    value: '0',
    options: [
      ['0', 'class 0 (blue)'],
      ['1', 'class 1 (orange)'],
    ],
  });

  const widthSel = select({
    label: 'hidden units',
    id: 'la-width',
    value: '16',
    options: [
      ['8', '8'],
      ['16', '16'],
      ['32', '32'],
    ],
    onChange: () => {
      thetaMap = undefined;
      schedule();
    },
  });
  const actSel = select<Activation>({
    label: 'activation',
    id: 'la-act',
    value: 'tanh',
    options: [
      ['tanh', 'tanh'],
      ['relu', 'ReLU'],
    ],
    onChange: () => {
      thetaMap = undefined;
      schedule();
    },
  });
  const deltaMap = slider({
    label: 'MAP prior precision δ_MAP',
    id: 'la-delta',
    // below 0.1 the MAP of the small sets is barely regularized and NGD may not reach it
    min: -1,
    max: 1,
    step: 0.25,
    value: 0.1,
    log: true,
    format: (v) => fmt(v),
    onChange: () => schedule(),
  });
  const stepsSel = select({
    label: 'NGD steps (at most)',
    id: 'la-steps',
    value: '200',
    options: [
      ['100', '100'],
      ['200', '200'],
      ['400', '400'],
    ],
    onChange: () => {
      thetaMap = undefined;
      schedule();
    },
  });
  const shadeSel = select<'confidence' | 'entropy'>({
    label: 'shading',
    id: 'la-shade',
    value: 'confidence',
    options: [
      ['confidence', 'confidence max p'],
      ['entropy', 'entropy'],
    ],
    onChange: () => paintAll(),
  });

  const panels: Panel[] = CURVATURES.map((curvature) => {
    const canvas = h('canvas', { class: 'la-heat' });
    const wrap = h('div', { class: 'la-wrap interactive' }, canvas);
    const stats = h('div', { class: 'la-stats' });
    const figure = h('figure', { 'data-la': KEY[curvature] }, h('div', { class: 'head', style: `color:${curvature === 'ggn' ? '#2a9d4b' : '#d1495b'}` }, TITLE[curvature]), wrap, stats);
    return { curvature, figure, wrap, canvas, stats };
  });
  const mapLine = h('div', { class: 'la-map note' });
  const timing = h('div', { class: 'timing' });
  const shadeLegend = h('span', { class: 'la-shade-legend' });

  root.append(
    h('h2', {}, 'Laplace — the same MAP, two posteriors: GGN and empirical Fisher'),
    h(
      'p',
      { class: 'lead' },
      'A small network ([2, 16, 2] by default, softmax, cross-entropy) is trained to a MAP θ* by full-batch NGD with the prior N(0, δ_MAP⁻¹ I). ',
      'At θ* natgrad builds two Laplace approximations N(θ*, P⁻¹), P = H + δ I, of the posterior: H the generalized Gauss–Newton (= the Fisher here) or the empirical Fisher. ',
      'Each posterior\u2019s prior precision δ is chosen by maximizing its own log marginal likelihood log Z. ',
      'Shading: the linearized (GLM) predictive with the probit link — its confidence or its entropy; dark line: the decision boundary. ',
      h('b', {}, 'Click'),
      ' a panel to add a point of the chosen class, ',
      h('b', {}, 'shift-click'),
      ' to remove one; the MAP is retrained from the previous θ* and both posteriors are rebuilt.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'Data'), presetSel.el, nSel.el, seedCtl, brush.el, resetBtn, clearBtn),
      h('div', { class: 'group' }, h('span', { class: 'name' }, 'MAP'), widthSel.el, actSel.el, deltaMap.el, stepsSel.el),
      h('div', { class: 'group' }, shadeSel.el),
    ),
    h('div', { class: 'legend' }, h('span', {}, 'points: ', ...CLASS_COLORS.map((c, k) => h('span', {}, h('span', { class: 'dotsw', style: `background:${c}` }), `class ${k}`))), shadeLegend),
    mapLine,
    h('div', { class: 'panels la-panels' }, ...panels.map((p) => p.figure)),
    timing,
  );

  // ---------------------------------------------------------------- state changes
  function regenerate(): void {
    data = presetData(presetSel.value, Number(nSel.value), Math.max(0, Math.floor(Number(seedIn.value) || 0)));
    thetaMap = undefined;
    schedule();
  }

  /** Repaint the points now and recompute on the next frame (several clicks in a frame: one update). */
  function schedule(): void {
    root.dataset.n = String(data.y.length);
    root.dataset.ready = 'false';
    paintAll();
    if (pending) return;
    pending = requestAnimationFrame(() => {
      // after this frame is painted (the points show at once), compute
      setTimeout(() => {
        pending = 0;
        compute();
      }, 0);
    });
  }

  function compute(): void {
    const t0 = performance.now();
    const N = data.y.length;
    const width = Number(widthSel.value);
    const sizes = [2, width, 2];
    if (!model || model.sizes.join() !== sizes.join() || model.activation !== actSel.value) {
      model = mlp({ sizes, activation: actSel.value });
      thetaMap = undefined;
    }
    const m = model;
    results = {};
    root.dataset.dim = String(m.dim);
    if (N < 2) {
      thetaMap = undefined;
      mapLine.textContent = `Add at least two points (N = ${N}).`;
      for (const p of panels) p.stats.replaceChildren();
      finish({ train: 0, total: performance.now() - t0 });
      return;
    }
    const p = makeProblem({
      model: m,
      X: { data: Float64Array.from(data.X), rows: N, cols: 2 },
      y: Float64Array.from(data.y),
      likelihood: categorical({ classes: 2 }),
      priorVariance: 1 / deltaMap.value,
    });
    try {
      const steps = Number(stepsSel.value);
      const warm = thetaMap !== undefined;
      const tTrain = performance.now();
      // At most `steps` NGD updates, ending early once ‖∇L‖ ≤ GRAD_TOL (a warm start after a
      // small edit is often there within a few dozen).
      const opt = ngd(p, { lr: 1, damping: 1e-3, adaptiveDamping: true, solver: 'cholesky' });
      let state = opt.init(thetaMap ?? m.init(0));
      const first = state.loss;
      let taken = 0,
        reason = '';
      try {
        for (; taken < steps && !(norm(state.gradient) <= GRAD_TOL); taken++) state = opt.update(state).state;
      } catch (e) {
        reason = (e as Error).message.replace(/^natgrad: /, '');
      }
      const train = performance.now() - tTrain;
      recordTiming('Laplace: MAP (NGD)', train);
      const last = state.loss;
      if (reason || !(last <= first)) {
        thetaMap = undefined;
        mapLine.textContent = `The MAP training failed: ${reason || `the loss went from ${fmt(first)} to ${fmt(last)}`}; raise δ_MAP.`;
        finish({ train, total: performance.now() - t0 });
        return;
      }
      const theta = state.theta;
      thetaMap = theta;
      // training accuracy of θ*
      const tr = m.forward(theta, Float64Array.from(data.X), N);
      let ok = 0;
      try {
        for (let n = 0; n < N; n++) if ((tr.outputs[2 * n + 1]! > tr.outputs[2 * n]! ? 1 : 0) === data.y[n]) ok++;
      } finally {
        tr.free();
      }
      const gnorm = norm(state.gradient);
      root.dataset.steps = String(taken);
      mapLine.replaceChildren(
        h('b', {}, 'MAP θ*: '),
        `N = ${N}, D = ${m.dim}, ${taken} NGD steps${taken < steps ? '' : ' (the limit)'} ${warm ? 'from the previous θ*' : 'from θ₀'} · loss ${fmt(last, 4)} · ‖∇L(θ*)‖ ${fmt(gnorm, 2)} · training accuracy ${Math.round((100 * ok) / N)} % · δ_MAP = ${fmt(deltaMap.value)}`,
      );
      for (const c of CURVATURES) {
        results[c] = posterior(p, theta, c, deltaMap.value, gridX);
        recordTiming(`Laplace: ${c === 'ggn' ? 'GGN' : 'EF'} posterior + marglik + predictive`, results[c]!.ms);
      }
      root.dataset.gradNorm = String(gnorm);
      root.dataset.accuracy = String(ok / N);
      finish({ train, total: performance.now() - t0 });
    } finally {
      p.free();
    }
  }

  function finish(ms: { train: number; total: number }): void {
    updates++;
    const g = results.ggn,
      e = results.empiricalFisher;
    for (const p of panels) drawStats(p);
    paintAll();
    const stat = (r: Posterior | undefined) =>
      r?.ok ? { delta: r.delta, logZ: r.logZ, logZAtMap: r.logZAtMap, iterations: r.iterations, converged: r.converged, meanConfidence: r.meanConfidence } : null;
    root.dataset.stats = JSON.stringify({ ggn: stat(g), ef: stat(e) });
    root.dataset.ms = JSON.stringify({ train: ms.train, ggn: g?.ms ?? null, ef: e?.ms ?? null, total: ms.total });
    root.dataset.updates = String(updates);
    root.dataset.n = String(data.y.length);
    timing.textContent = g
      ? `Last update ${formatMs(ms.total)}: the MAP (NGD) ${formatMs(ms.train)}; each posterior — the dense D × D curvature, Cholesky factors, the marglik Newton iterations on log δ and the probit predictive on ${GRID}² points — GGN ${formatMs(g.ms)}, EF ${formatMs(e?.ms ?? NaN)}.`
      : `Last update ${formatMs(ms.total)}.`;
    root.dataset.ready = 'true';
  }

  function drawStats(p: Panel): void {
    const r = results[p.curvature];
    if (!r) {
      p.stats.replaceChildren();
      return;
    }
    if (!r.ok) {
      p.stats.replaceChildren(h('p', { class: 'note la-failure' }, r.error ?? 'failed'));
      return;
    }
    const row = (k: string, v: string, cls: string) => h('tr', {}, h('th', {}, k), h('td', { class: cls }, v));
    p.stats.replaceChildren(
      h(
        'table',
        { class: 'stats' },
        row('prior precision δ* (marglik)', fmt(r.delta, 4), 'la-delta'),
        row('log marginal likelihood at δ*', fmt(r.logZ, 5), 'la-logz'),
        row('log Z at δ_MAP', fmt(r.logZAtMap, 5), 'la-logz-map'),
        row('Newton iterations', `${r.iterations}${r.converged ? '' : ' (not converged)'}`, 'la-iterations'),
        row('mean confidence on the plane', fmt(r.meanConfidence, 3), 'la-confidence'),
      ),
    );
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

  /** Heat map (bilinear P(y = 1) → confidence or entropy), decision boundary and the points. */
  function paint(p: Panel): void {
    const ctx = p.canvas.getContext('2d');
    if (!ctx || !p.frame) return;
    const W = p.canvas.width,
      H = p.canvas.height;
    if (!p.img || p.img.width !== W || p.img.height !== H) {
      p.img = ctx.createImageData(W, H);
      p.arg = new Uint8Array(W * H);
    }
    const img = p.img,
      arg = p.arg!,
      px = img.data;
    const p1 = results[p.curvature]?.p1;
    const entropy = shadeSel.value === 'entropy';
    for (let j = 0; j < H; j++) {
      const v = ((j + 0.5) / H) * (GRID - 1);
      const j0 = Math.min(GRID - 2, Math.floor(v)),
        fv = v - j0;
      for (let i = 0; i < W; i++) {
        const o = 4 * (j * W + i);
        if (!p1) {
          px[o] = px[o + 1] = px[o + 2] = 245;
          px[o + 3] = 255;
          continue;
        }
        const u = ((i + 0.5) / W) * (GRID - 1);
        const i0 = Math.min(GRID - 2, Math.floor(u)),
          fu = u - i0;
        const a = j0 * GRID + i0;
        const q = (1 - fv) * ((1 - fu) * p1[a]! + fu * p1[a + 1]!) + fv * ((1 - fu) * p1[a + GRID]! + fu * p1[a + GRID + 1]!);
        arg[j * W + i] = q > 0.5 ? 1 : 0;
        let R: number, G: number, B: number, alpha: number;
        if (entropy) {
          const e = q <= 0 || q >= 1 ? 0 : -(q * Math.log(q) + (1 - q) * Math.log(1 - q)) / Math.LN2; // 0 … 1
          [R, G, B] = ENTROPY_RGB;
          alpha = 0.05 + 0.8 * e;
        } else {
          const c0 = CLASS_RGB[0]!,
            c1 = CLASS_RGB[1]!;
          R = (1 - q) * c0[0] + q * c1[0];
          G = (1 - q) * c0[1] + q * c1[1];
          B = (1 - q) * c0[2] + q * c1[2];
          const conf = 2 * Math.max(q, 1 - q) - 1; // 0 (p = ½) … 1 (certain)
          alpha = 0.12 + 0.6 * conf;
        }
        px[o] = 255 * (1 - alpha) + R * alpha;
        px[o + 1] = 255 * (1 - alpha) + G * alpha;
        px[o + 2] = 255 * (1 - alpha) + B * alpha;
        px[o + 3] = 255;
      }
    }
    if (p1) {
      for (let j = 0; j < H; j++)
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
    ctx.putImageData(img, 0, 0);
    const sx = W / (VIEW[1] - VIEW[0]),
      sy = H / (VIEW[1] - VIEW[0]);
    const dpr = W / p.frame.width;
    ctx.lineWidth = dpr;
    ctx.strokeStyle = '#ffffff';
    for (let n = 0; n < data.y.length; n++) {
      ctx.beginPath();
      ctx.arc((data.X[2 * n]! - VIEW[0]) * sx, (VIEW[1] - data.X[2 * n + 1]!) * sy, 3.3 * dpr, 0, 2 * Math.PI);
      ctx.fillStyle = CLASS_COLORS[data.y[n]!]!;
      ctx.fill();
      ctx.stroke();
    }
  }

  function paintAll(): void {
    for (const p of panels) paint(p);
    shadeLegend.replaceChildren(
      shadeSel.value === 'entropy'
        ? h('span', {}, h('span', { class: 'la-ramp la-ramp-entropy' }), 'entropy 0 → ln 2 (white: certain)')
        : h('span', {}, h('span', { class: 'la-ramp la-ramp-confidence' }), 'P(y = 1) 0 → 1 (white: p = ½, uncertain)'),
    );
  }

  // ---------------------------------------------------------------- reshaping the data
  function attachPointer(p: Panel): void {
    const svg = p.svg!;
    svg.addEventListener('pointerdown', (ev) => {
      const [x, y] = pointerToData(svg, p.scales!, ev);
      if (!(x > VIEW[0] && x < VIEW[1] && y > VIEW[0] && y < VIEW[1])) return;
      ev.preventDefault();
      if (ev.shiftKey) {
        // remove the nearest point within 9 px
        const s = p.frame!.width / (VIEW[1] - VIEW[0]);
        let best = -1,
          bd = 81;
        for (let n = 0; n < data.y.length; n++) {
          const d = ((data.X[2 * n]! - x) * s) ** 2 + ((data.X[2 * n + 1]! - y) * s) ** 2;
          if (d < bd) {
            bd = d;
            best = n;
          }
        }
        if (best < 0) return;
        data.X.splice(2 * best, 2);
        data.y.splice(best, 1);
      } else {
        data.X.push(x, y);
        data.y.push(Number(brush.value) === 1 ? 1 : 0);
      }
      schedule();
    });
  }

  return {
    show() {
      if (mounted) return;
      mounted = true;
      mountPanels();
      regenerate();
    },
  };
}
