/**
 * Entry point of the interactive page: load natgrad's WebAssembly core (relaxed SIMD where
 * the browser has it; threads where the page is cross-origin isolated), report the variant and
 * the thread count, and mount the five views behind tabs.
 */
import { init, supportsRelaxedSimd } from 'natgrad';
import { mountFields } from './fields.js';
import { mountMisspecification } from './misspec.js';
import { mountRace } from './race.js';
import { mountNetwork } from './network.js';
import { mountLaplace } from './laplace.js';
import { formatMs, recordTiming } from './ui.js';
import './style.css';

type View = 'fields' | 'misspecification' | 'race' | 'network' | 'laplace';
const VIEWS: readonly View[] = ['fields', 'misspecification', 'race', 'network', 'laplace'];

const status = document.getElementById('status')!;
const statusText = document.getElementById('status-text')!;

async function main(): Promise<void> {
  const t0 = performance.now();
  // Threads: every core when the page is cross-origin isolated (COOP/COEP headers, see
  // vite.config.ts), else one.
  const { variant, threads } = await init();
  const ms = performance.now() - t0;
  recordTiming('WASM fetch + compile + instantiate', ms);
  status.dataset.variant = variant;
  status.dataset.threads = String(threads);
  const mt = threads > 1 ? '-mt' : ''; // the shared-memory build
  const onThreads = threads > 1 ? `${threads} threads` : `1 thread${typeof crossOriginIsolated === 'boolean' && !crossOriginIsolated ? ' (the page is not cross-origin isolated)' : ''}`;
  statusText.textContent = `${
    variant === 'relaxed-simd'
      ? `WASM core: relaxed SIMD (natgrad.relaxed${mt}.wasm, fused multiply-add)`
      : `WASM core: SIMD128 (natgrad.simd${mt}.wasm${supportsRelaxedSimd() ? '' : '; this browser has no relaxed SIMD'})`
  } · ${onThreads} · loaded in ${formatMs(ms)}`;
  document.documentElement.dataset.variant = variant;
  document.documentElement.dataset.threads = String(threads);

  const views: Record<View, { show(): void }> = {
    fields: mountFields(document.getElementById('view-fields')!),
    misspecification: mountMisspecification(document.getElementById('view-misspecification')!),
    race: mountRace(document.getElementById('view-race')!),
    network: mountNetwork(document.getElementById('view-network')!),
    laplace: mountLaplace(document.getElementById('view-laplace')!),
  };

  const route = () => {
    const v = (VIEWS as readonly string[]).includes(location.hash.slice(1)) ? (location.hash.slice(1) as View) : 'fields';
    for (const name of VIEWS) {
      document.getElementById(`view-${name}`)!.hidden = name !== v;
      document.querySelector(`[data-tab="${name}"]`)!.setAttribute('aria-selected', String(name === v));
    }
    views[v].show();
  };
  window.addEventListener('hashchange', route);
  route();
  document.documentElement.dataset.ready = 'true';
}

main().catch((e: unknown) => {
  status.dataset.variant = 'error';
  statusText.textContent = `Could not start: ${(e as Error).message}`;
  statusText.className = 'error';
  console.error(e);
});
