#!/usr/bin/env node
// The `natgrad` command (see experiments/cli.ts): `natgrad reproduce <experiment> [options]`.
// Runs the compiled CLI in dist/experiments/ (built by `npm run build`).
let cli;
try {
  cli = await import('../dist/experiments/cli.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && /dist[\\/]experiments[\\/]cli\.js/.test(String(e.message))) {
    process.stderr.write('natgrad: the command is not built: run `npm run build` in the natgrad package first\n');
    process.exit(1);
  }
  throw e;
}
process.exitCode = await cli.main(process.argv);
