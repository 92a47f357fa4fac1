import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { envoyBootstrap, XDS_CLUSTER_NAME } from '../controller/envoy/bootstrap';
import { decodeToJson, encodeJson, messageType, type ProtoJson } from '../controller/envoy/protos';

describe('envoyBootstrap', () => {
  const Bootstrap = () => messageType('envoy.config.bootstrap.v3.Bootstrap');

  for (const apiType of ['DELTA_GRPC', 'GRPC'] as const) {
    it(`is a valid envoy.config.bootstrap.v3.Bootstrap (${apiType}): encodes and decodes to the same JSON`, () => {
      const json = envoyBootstrap({ xdsHost: 'wasm-control-controller.cosmonic-system.svc.cluster.local', xdsPort: 18000, apiType });
      const decoded = decodeToJson(Bootstrap(), encodeJson(Bootstrap(), json));
      assert.deepEqual(decoded, JSON.parse(JSON.stringify(json)));
    });
  }

  it('over mTLS, gives the xDS cluster an UpstreamTlsContext that encodes through the Envoy protos: Envoy\'s certificate, the CA and the controller\'s name checked', () => {
    const tls = { certFile: '/etc/envoy/xds-tls/tls.crt', keyFile: '/etc/envoy/xds-tls/tls.key', caFile: '/etc/envoy/xds-tls/ca.crt' };
    const json = envoyBootstrap({ xdsHost: 'wasm-control-controller.cosmonic-system.svc', xdsPort: 18000, tls });
    const decoded = decodeToJson(Bootstrap(), encodeJson(Bootstrap(), json)) as any;
    assert.deepEqual(decoded, JSON.parse(JSON.stringify(json)));
    const socket = decoded.static_resources.clusters[0].transport_socket;
    assert.equal(socket.typed_config['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal(socket.typed_config.sni, 'wasm-control-controller.cosmonic-system.svc');
    const context = socket.typed_config.common_tls_context;
    assert.deepEqual(context.tls_certificates, [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }]);
    assert.deepEqual(context.validation_context, {
      trusted_ca: { filename: tls.caFile },
      match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'wasm-control-controller.cosmonic-system.svc' } }],
    });
    assert.deepEqual(context.alpn_protocols, ['h2']);
    assert.equal(context.tls_params.tls_maximum_protocol_version, 'TLSv1_3');
    const named = envoyBootstrap({ xdsHost: '10.0.0.1', xdsPort: 18000, tls: { ...tls, serverName: 'ctl.example' } }) as any;
    assert.equal(named.static_resources.clusters[0].transport_socket.typed_config.sni, 'ctl.example');
    assert.equal((envoyBootstrap({ xdsHost: 'x', xdsPort: 1 }) as any).static_resources.clusters[0].transport_socket, undefined, 'plaintext without tls');
  });

  it('points ADS, LDS and CDS at the controller over HTTP/2 with the v3 transport', () => {
    const b = envoyBootstrap({ xdsHost: 'ctl.ns.svc', xdsPort: 18000 }) as any;
    assert.equal(b.dynamic_resources.ads_config.api_type, 'GRPC', 'state of the world by default, as the CLI and the ControlPlane');
    assert.equal(b.dynamic_resources.ads_config.transport_api_version, 'V3');
    assert.deepEqual(b.dynamic_resources.ads_config.grpc_services, [{ envoy_grpc: { cluster_name: XDS_CLUSTER_NAME } }]);
    for (const key of ['lds_config', 'cds_config']) {
      assert.deepEqual(b.dynamic_resources[key], { ads: {}, resource_api_version: 'V3' });
    }
    const [cluster] = b.static_resources.clusters;
    assert.equal(cluster.name, XDS_CLUSTER_NAME);
    assert.equal(cluster.type, 'STRICT_DNS');
    assert.deepEqual(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, {
      socket_address: { address: 'ctl.ns.svc', port_value: 18000 },
    });
    const http = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.ok(http.explicit_http_config.http2_protocol_options, 'the xDS cluster speaks HTTP/2');
    assert.deepEqual(b.node, { id: 'ingress', cluster: 'ingress' });
    assert.deepEqual(b.admin.address, { socket_address: { address: '0.0.0.0', port_value: 9901 } });
  });

  it('takes the admin port, node identity and state-of-the-world ADS when asked', () => {
    const b = envoyBootstrap({ xdsHost: '10.0.0.1', xdsPort: 18001, adminPort: 19000, nodeId: 'n', nodeCluster: 'c', apiType: 'GRPC' }) as any;
    assert.equal(b.admin.address.socket_address.port_value, 19000);
    assert.deepEqual(b.node, { id: 'n', cluster: 'c' });
    assert.equal(b.dynamic_resources.ads_config.api_type, 'GRPC');
  });

  it('rejects an empty host and ports outside 1-65535', () => {
    assert.throws(() => envoyBootstrap({ xdsHost: '', xdsPort: 18000 }), /xdsHost/);
    assert.throws(() => envoyBootstrap({ xdsHost: 'x', xdsPort: 0 }), /xdsPort 0/);
    assert.throws(() => envoyBootstrap({ xdsHost: 'x', xdsPort: 18000, adminPort: 70000 }), /adminPort 70000/);
  });

  it('would be caught by the encoding check if it carried a field Envoy does not know', () => {
    const bad = { ...envoyBootstrap({ xdsHost: 'x', xdsPort: 1 }), ads_config: {} };
    assert.throws(() => encodeJson(Bootstrap(), bad), /has no field "ads_config"/);
  });
});

describe('npm run envoy-bootstrap (the CLI)', () => {
  const cli = path.join(__dirname, '../controller/cli/envoy-bootstrap.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  it('prints a bootstrap for the given controller address and ADS flavour, valid for the Envoy protos', () => {
    for (const [args, apiType] of [[[], 'GRPC'], [['--api-type', 'DELTA_GRPC'], 'DELTA_GRPC']] as const) {
      const result = run('--xds-address', '10.1.2.3:18443', ...args);
      assert.equal(result.status, 0, result.stderr);
      const bootstrap = JSON.parse(result.stdout) as ProtoJson;
      const type = messageType('envoy.config.bootstrap.v3.Bootstrap');
      assert.deepEqual(decodeToJson(type, encodeJson(type, bootstrap)), bootstrap);
      assert.equal((bootstrap.dynamic_resources as { ads_config: { api_type: string } }).ads_config.api_type, apiType);
      assert.match(result.stdout, /"address": "10\.1\.2\.3"/);
      assert.match(result.stdout, /"port_value": 18443/);
    }
  });

  it('prints the mTLS context when given the three files, and refuses a partial set naming what is missing', () => {
    const result = run('--xds-address', 'ctl.ns.svc:18000', '--tls-cert', '/c.crt', '--tls-key', '/c.key', '--tls-ca', '/ca.crt', '--tls-server-name', 'ctl.example');
    assert.equal(result.status, 0, result.stderr);
    const socket = JSON.parse(result.stdout).static_resources.clusters[0].transport_socket;
    assert.equal(socket.typed_config.common_tls_context.validation_context.trusted_ca.filename, '/ca.crt');
    assert.equal(socket.typed_config.sni, 'ctl.example');
    const byAddress = run('--xds-address', '10.0.0.5:18000', '--tls-cert', '/c.crt', '--tls-key', '/c.key', '--tls-ca', '/ca.crt');
    assert.equal(byAddress.status, 2);
    assert.match(byAddress.stderr, /--tls-server-name missing: the controller's certificate names DNS names, and 10\.0\.0\.5 is an address/);
    const empty = run('--tls-cert=', '--tls-key', '/c.key', '--tls-ca', '/ca.crt');
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /--tls-cert missing: mTLS needs/, 'an empty value is not a file');
    const nameOnly = run('--tls-server-name', 'ctl.example');
    assert.equal(nameOnly.status, 2);
    assert.match(nameOnly.stderr, /--tls-server-name is for mTLS: give --tls-cert, --tls-key and --tls-ca too/);
    const partial = run('--tls-cert', '/c.crt');
    assert.equal(partial.status, 2);
    assert.match(partial.stderr, /--tls-key and --tls-ca missing: mTLS needs Envoy's certificate, its key and the controller's CA/);
  });

  it('refuses an address without a port and an unknown ADS flavour, naming them', () => {
    const noPort = run('--xds-address', 'controller.local');
    assert.equal(noPort.status, 2);
    assert.match(noPort.stderr, /"controller\.local" is not host:port/);
    const flavour = run('--api-type', 'REST');
    assert.equal(flavour.status, 2);
    assert.match(flavour.stderr, /--api-type REST is not an ADS flavour/);
  });
});
