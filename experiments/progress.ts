/**
 * Progress of the grid searches on stderr: a cli-progress bar when stderr is a terminal, plain
 * lines (every 10 %) otherwise — logs and CI stay readable.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import type { GridProgress } from './compute/grid.js';

export interface ProgressReporter {
  update(p: GridProgress): void;
  stop(): void;
}

/** A reporter for one grid search labelled `label` (e.g. "fig3 BreastCancer"). */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressReporter {
  if (quiet) return { update() {}, stop() {} };
  const t0 = performance.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label.padEnd(24)} [{bar}] {percentage}% | {value}/{total} runs | {duration_formatted} (ETA {eta_formatted})`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 200,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update({ done, total }) {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let nextDecile = 0;
  let last: GridProgress | undefined;
  return {
    update(p) {
      last = p;
      const pct = p.total > 0 ? (100 * p.done) / p.total : 100;
      if (pct >= nextDecile) {
        stream.write(`${label}: ${Math.floor(pct)}% (${p.done}/${p.total} runs, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
        nextDecile = Math.floor(pct / 10) * 10 + 10;
      }
    },
    stop() {
      if (last && last.done < last.total) stream.write(`${label}: stopped at ${last.done}/${last.total} runs\n`);
    },
  };
}
