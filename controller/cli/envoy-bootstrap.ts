/**
 * `npm run --silent envoy-bootstrap -- [--xds-address host:port] [--api-type GRPC|DELTA_GRPC]`:
 * prints an Envoy bootstrap (JSON) that points Envoy at this controller over ADS.
 * Save it and run `envoy -c bootstrap.json`.
 */
import { parseArgs } from 'node:util';
import { envoyBootstrap } from '../envoy/bootstrap';

const { values } = parseArgs({
  options: {
    'xds-address': { type: 'string', default: process.env.XDS_ADDRESS ?? '127.0.0.1:18000' },
    'api-type': { type: 'string', default: 'GRPC' },
    'admin-port': { type: 'string', default: '9901' },
  },
});
const address = values['xds-address']!;
const at = address.lastIndexOf(':');
const apiType = values['api-type'] === 'DELTA_GRPC' ? 'DELTA_GRPC' : 'GRPC';
process.stdout.write(
  `${JSON.stringify(
    envoyBootstrap({ xdsHost: address.slice(0, at), xdsPort: Number(address.slice(at + 1)), adminPort: Number(values['admin-port']), apiType }),
    null,
    2,
  )}\n`,
);
