/**
 * The controller's entry point: `npm start` (file mode on examples/ by default),
 * or `node dist/controller/main.js` in the container image.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Controller, splitHostPort } from './controller';
import { FileSource } from './sources/files';

const USAGE = `usage: node dist/controller/main.js [options]
  --source files              where objects come from (env SOURCE; only files for now)
  --manifests <path>          manifest file or folder, repeatable (env MANIFESTS, comma-separated; default examples/)
  --xds-address <host:port>   ADS gRPC address (env XDS_ADDRESS; default 127.0.0.1:18000)
  --admin-address <host:port> admin HTTP address (env ADMIN_ADDRESS; default 127.0.0.1:9902)
  --log-level <level>         pino level (env LOG_LEVEL; default info)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      source: { type: 'string' },
      manifests: { type: 'string', multiple: true },
      'xds-address': { type: 'string' },
      'admin-address': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sourceKind = values.source ?? process.env.SOURCE ?? 'files';
  if (sourceKind !== 'files') {
    throw new Error(`--source ${sourceKind} is not available yet: this version reads manifests from files only (--source files --manifests <path>)`);
  }
  const manifests = values.manifests ?? process.env.MANIFESTS?.split(',') ?? ['examples/'];
  const log = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });
  const xdsAddress = values['xds-address'] ?? process.env.XDS_ADDRESS ?? '127.0.0.1:18000';
  const adminAddress = values['admin-address'] ?? process.env.ADMIN_ADDRESS ?? '127.0.0.1:9902';
  const controller = new Controller({
    source: new FileSource(manifests, (file, reason) => log.error({ file, reason }, 'manifest file skipped; its last good content is kept')),
    xdsAddress,
    adminAddress,
    log,
  });
  await controller.start();
  const withPort = (address: string, port: number) => `${splitHostPort(address)[0]}:${port}`;
  log.info({ xds: withPort(xdsAddress, controller.xdsPort), admin: withPort(adminAddress, controller.adminPort), manifests }, 'wasm-control listening');
  process.once('SIGTERM', () => {
    log.info('SIGTERM: closing streams');
    controller.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err) => {
  process.stderr.write(`wasm-control: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
