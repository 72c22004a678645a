/**
 * Progress of the grid searches on stderr: a cli-progress bar when stderr is a terminal; otherwise
 * (a pipe, a log file, CI) one line per search when it ends — its runs and time, or where it
 * stopped — so logs stay short and readable.
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
  // Not a terminal: no bar and no percentages, one line when the search ends.
  let last: GridProgress | undefined;
  let stopped = false;
  return {
    update(p) {
      last = p;
    },
    stop() {
      if (stopped || !last) return;
      stopped = true;
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      stream.write(last.done < last.total ? `${label}: stopped at ${last.done}/${last.total} runs (${seconds} s)\n` : `${label}: ${last.total} runs in ${seconds} s\n`);
    },
  };
}
