/**
 * `npm run --silent envoy-bootstrap -- [--xds-address host:port] [--api-type GRPC|DELTA_GRPC] [--admin-port N]`:
 * prints an Envoy bootstrap (JSON) that points Envoy at this controller over ADS.
 * Save it and run `envoy -c bootstrap.json`.
 */
import { parseArgs } from 'node:util';
import { splitHostPort } from '../address';
import { DEFAULT_ADS_API_TYPE, envoyBootstrap } from '../envoy/bootstrap';

const USAGE = `usage: envoy-bootstrap [--xds-address host:port] [--api-type GRPC|DELTA_GRPC] [--admin-port N]
  prints an Envoy bootstrap (JSON) pointing Envoy at the controller over ADS
  --xds-address  the controller's ADS address (env XDS_ADDRESS; default 127.0.0.1:18000)
  --api-type     GRPC (state of the world, default) or DELTA_GRPC (incremental)
  --admin-port   Envoy's admin port (default 9901)`;

function main(): void {
  const { values } = parseArgs({
    options: {
      'xds-address': { type: 'string', default: process.env.XDS_ADDRESS ?? '127.0.0.1:18000' },
      'api-type': { type: 'string', default: DEFAULT_ADS_API_TYPE },
      'admin-port': { type: 'string', default: '9901' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const apiType = values['api-type'];
  if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') {
    throw new Error(`--api-type ${apiType} is not an ADS flavour: use GRPC (state of the world) or DELTA_GRPC (incremental)`);
  }
  const [xdsHost, xdsPort] = splitHostPort(values['xds-address']!);
  const bootstrap = envoyBootstrap({ xdsHost, xdsPort, adminPort: Number(values['admin-port']), apiType });
  process.stdout.write(`${JSON.stringify(bootstrap, null, 2)}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`envoy-bootstrap: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
