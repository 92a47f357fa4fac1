/**
 * `npm run --silent envoy-bootstrap -- [--xds-address host:port] [--api-type GRPC|DELTA_GRPC] [--admin-port N]
 * [--tls-cert F --tls-key F --tls-ca F [--tls-server-name N]]`:
 * prints an Envoy bootstrap (JSON) that points Envoy at this controller over ADS, over mTLS when given the files.
 * Save it and run `envoy -c bootstrap.json`.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { CONTROLLER_PORTS, splitHostPort } from '../address';
import { allOrNone } from './flags';
import { DEFAULT_ADS_API_TYPE, envoyBootstrap } from '../envoy/bootstrap';

const USAGE = `usage: envoy-bootstrap [--xds-address host:port] [--api-type GRPC|DELTA_GRPC] [--admin-port N]
                       [--tls-cert file --tls-key file --tls-ca file [--tls-server-name name]]
  prints an Envoy bootstrap (JSON) pointing Envoy at the controller over ADS
  --xds-address      the controller's ADS address (env XDS_ADDRESS; default 127.0.0.1:${CONTROLLER_PORTS.xds})
  --api-type         GRPC (state of the world, default) or DELTA_GRPC (incremental)
  --admin-port       Envoy's admin port (default 9901)
  --tls-cert         mTLS: Envoy's client certificate (PEM), as Envoy will read it
  --tls-key          its private key
  --tls-ca           the CA the controller's certificate chains to
  --tls-server-name  the DNS name the controller's certificate must carry (default: the --xds-address host)`;

function main(): void {
  const { values } = parseArgs({
    options: {
      'xds-address': { type: 'string', default: process.env.XDS_ADDRESS ?? `127.0.0.1:${CONTROLLER_PORTS.xds}` },
      'api-type': { type: 'string', default: DEFAULT_ADS_API_TYPE },
      'admin-port': { type: 'string', default: '9901' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-server-name': { type: 'string' },
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
  const tlsGiven = allOrNone(
    { '--tls-cert': values['tls-cert'], '--tls-key': values['tls-key'], '--tls-ca': values['tls-ca'] },
    "mTLS needs Envoy's certificate, its key and the controller's CA",
  );
  if (!tlsGiven && values['tls-server-name'] !== undefined) throw new Error('--tls-server-name is for mTLS: give --tls-cert, --tls-key and --tls-ca too');
  if (tlsGiven && values['tls-server-name'] === undefined && isIP(xdsHost)) {
    throw new Error(`--tls-server-name missing: the controller's certificate names DNS names, and ${xdsHost} is an address; give the name it carries`);
  }
  const tls = tlsGiven ? { certFile: values['tls-cert']!, keyFile: values['tls-key']!, caFile: values['tls-ca']!, serverName: values['tls-server-name'] } : undefined;
  const bootstrap = envoyBootstrap({ xdsHost, xdsPort, adminPort: Number(values['admin-port']), apiType, tls });
  process.stdout.write(`${JSON.stringify(bootstrap, null, 2)}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`envoy-bootstrap: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
