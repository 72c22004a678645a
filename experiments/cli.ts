/**
 * The `natgrad` command line (bin/natgrad.mjs):
 *
 *     natgrad reproduce <fig1 | fig2 | fig2-appendix | fig3 | fig3-appendix | starting-point | all
 *                        | prop2 | overparameterized | spectra | kfac | stochastic | beyond | laplace>
 *                       [--out DIR] [--data DIR] [--workers N] [--quick] [--datasets LIST]
 *     natgrad --version | -v
 *
 * Exit status: 0 when the experiments ran (missing data files only skip their panels, with a
 * warning on stderr), 1 when nothing could run, 2 for usage errors, 130 when interrupted.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { init } from 'natgrad';
import { defaultDataDir, packageRoot } from './data.js';
import { BEYOND_EXPERIMENTS, EXPERIMENTS, LAPLACE_EXPERIMENTS, runExperiment, Session, type ExperimentName, type ExperimentOutcome } from './reproduce.js';

/** Exit status for usage errors. */
export const USAGE_ERROR = 2;

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer (worker threads), got "${value}"`);
  }
  return n;
}

function parseThreads(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 64) {
    throw new InvalidArgumentError(`expected an integer in [1, 64] (threads), got "${value}"`);
  }
  return n;
}

/** Streams the command writes to (replaceable in tests). */
export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

interface ReproduceFlags {
  out: string;
  data?: string;
  workers: number;
  threads?: number;
  quick?: boolean;
  datasets?: string[];
}

const FIG3_NAMES = ['BreastCancer', 'Boston', 'Wine', 'a1a', 'Energy', 'Powerplant', 'Yacht'];

function parseDatasets(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !FIG3_NAMES.includes(n));
  if (names.length === 0 || bad.length) {
    throw new InvalidArgumentError(`unknown data set(s) ${bad.map((b) => `"${b}"`).join(', ') || '(none given)'}; expected a comma-separated list of ${FIG3_NAMES.join(', ')}`);
  }
  return names;
}

async function reproduce(experiment: string, flags: ReproduceFlags, io: Io, signal: AbortSignal): Promise<number> {
  const log = (line: string) => io.stdout(`${line}\n`);
  const warn = (line: string) => io.stderr(`${line}\n`);
  let dataDir: string | undefined;
  if (flags.data !== undefined) {
    dataDir = resolve(flags.data);
    if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
      warn(`warning: the data directory ${dataDir} does not exist: a1a and the UCI sets will be skipped`);
    }
  } else {
    dataDir = defaultDataDir();
  }
  const { variant, threads } = await init(flags.threads === undefined ? {} : { threads: flags.threads });
  const names: ExperimentName[] = experiment === 'all' ? [...EXPERIMENTS] : experiment === 'beyond' ? [...BEYOND_EXPERIMENTS] : [experiment as ExperimentName];
  log(
    `natgrad reproduce ${experiment}: out ${resolve(flags.out)}, data ${dataDir ?? '(none: only the vendored scikit-learn sets)'}, ` +
      `${flags.workers} worker(s)${flags.quick ? ', --quick grid' : ''}, WebAssembly ${variant} on ${threads} thread(s)`,
  );
  const session = new Session({
    out: flags.out,
    dataDir,
    workers: flags.workers,
    quick: !!flags.quick,
    signal,
    log,
    warn,
    ...(flags.datasets ? { datasets: flags.datasets } : {}),
  });
  const t0 = performance.now();
  const outcomes: ExperimentOutcome[] = [];
  for (const name of names) outcomes.push(await runExperiment(session, name));
  const seconds = (performance.now() - t0) / 1000;
  const ran = outcomes.filter((o) => o.ran).length;
  const warnings = outcomes.reduce((n, o) => n + o.warnings.length, 0);
  log(`== done: ${ran}/${outcomes.length} experiment(s) in ${seconds.toFixed(1)} s` + (warnings ? `, ${warnings} warning(s) (missing data: see stderr)` : ''));
  for (const o of outcomes) log(`  ${o.name.padEnd(15)} ${o.ran ? `${o.seconds.toFixed(2).padStart(8)} s` : '   skipped'}`);
  if (ran === 0) {
    warn('error: nothing could run: every data set the experiment needs is missing');
    return 1;
  }
  return 0;
}

/** natgrad's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The commander program (exitOverride: errors come back as exceptions). */
export function program(io: Io, run: (experiment: string, flags: ReproduceFlags) => Promise<number>): Command {
  const prog = new Command('natgrad')
    .description('natgrad: curvature matrices and natural-gradient optimizers; reproduce the paper "Limitations of the Empirical Fisher Approximation for Natural Gradient Descent"')
    .version(packageVersion(), '-v, --version', 'print the version of natgrad')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run "natgrad reproduce --help" for usage)');
  prog
    .command('reproduce')
    .description('run one experiment of the paper (or all): JSON results and SVG figures in --out, a summary on stdout')
    .addArgument(
      new Argument('<experiment>', "which experiment (all: the paper's six; beyond: prop2, overparameterized, spectra, kfac, stochastic; laplace: GGN vs EF Laplace posteriors)").choices([
        ...EXPERIMENTS,
        'all',
        ...BEYOND_EXPERIMENTS,
        'beyond',
        ...LAPLACE_EXPERIMENTS,
      ]),
    )
    .addOption(new Option('--out <dir>', 'output directory for <experiment>.json and <experiment>.svg').default('out'))
    .addOption(new Option('--data <dir>', 'directory with a1a and uci/ (and optionally the scikit-learn CSVs); default ../shared/datasets when it exists'))
    .addOption(new Option('--workers <n>', 'worker threads for the grid searches').argParser(parseWorkers).default(availableParallelism(), 'the number of CPUs'))
    .addOption(new Option('--threads <n>', 'threads for one computation (the threaded core; results are the same bits for any count)').argParser(parseThreads).default(undefined, 'every core'))
    .addOption(new Option('--quick', 'thinned grid (every 8th step size, every 4th damping) for a fast look; for the beyond-the-paper experiments: fewer iterations, probes and grid points'))
    .addOption(new Option('--datasets <list>', `only these data sets in fig3 / fig3-appendix (comma-separated: ${FIG3_NAMES.join(', ')})`).argParser(parseDatasets))
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run "natgrad reproduce --help" for usage)')
    .action(async (experiment: string, flags: ReproduceFlags) => {
      process.exitCode = await run(experiment, flags);
    });
  return prog;
}

/**
 * Run the command line; returns the exit status.
 * @param argv full argv (`process.argv`: node, script, args…)
 */
export async function main(argv: readonly string[] = process.argv, io: Io = defaultIo): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  let status = 0;
  try {
    const prog = program(io, async (experiment, flags) => {
      status = await reproduce(experiment, flags, io, controller.signal);
      return status;
    });
    if (argv.length <= 2) {
      io.stderr(prog.helpInformation());
      return USAGE_ERROR;
    }
    await prog.parseAsync([...argv]);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      return USAGE_ERROR;
    }
    if (controller.signal.aborted) {
      io.stderr('interrupted\n');
      return 130;
    }
    io.stderr(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
