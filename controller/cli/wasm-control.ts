#!/usr/bin/env node
/**
 * `wasm-control <command>`: the package's command line (package.json `bin`), one entry for the
 * controller and its tools, each with its own `--help`.
 */
import * as path from 'node:path';

const USAGE = `usage: wasm-control <command> [options]
  controller        run the controller (file or Kubernetes mode); see wasm-control controller --help
  translate <path>  print the Envoy resources and diagnostics that manifests become
  envoy-bootstrap   print an Envoy bootstrap pointing Envoy at the controller
Each command takes --help.`;

const [command, ...rest] = process.argv.slice(2);
const scripts: Record<string, string> = { controller: '../main', 'envoy-bootstrap': './envoy-bootstrap' };

if (command === undefined || command === '-h' || command === '--help') {
  process.stdout.write(`${USAGE}\n`);
  process.exitCode = command === undefined ? 2 : 0;
} else if (command === 'translate') {
  process.exitCode = (require('./translate') as typeof import('./translate')).main(rest);
} else if (scripts[command]) {
  // These read their options from process.argv when loaded, as when run directly.
  process.argv = [process.argv[0], path.join(__dirname, `${scripts[command]}.js`), ...rest];
  require(scripts[command]);
} else {
  process.stderr.write(`wasm-control: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
  process.exitCode = 2;
}
