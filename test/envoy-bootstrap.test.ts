import * as assert from 'node:assert/strict';
import { envoyBootstrap, XDS_CLUSTER_NAME } from '../controller/envoy/bootstrap';
import { decodeToJson, encodeJson, messageType } from '../controller/envoy/protos';

describe('envoyBootstrap', () => {
  const Bootstrap = () => messageType('envoy.config.bootstrap.v3.Bootstrap');

  for (const apiType of ['DELTA_GRPC', 'GRPC'] as const) {
    it(`is a valid envoy.config.bootstrap.v3.Bootstrap (${apiType}): encodes and decodes to the same JSON`, () => {
      const json = envoyBootstrap({ xdsHost: 'wasm-control-controller.cosmonic-system.svc.cluster.local', xdsPort: 18000, apiType });
      const decoded = decodeToJson(Bootstrap(), encodeJson(Bootstrap(), json));
      assert.deepEqual(decoded, JSON.parse(JSON.stringify(json)));
    });
  }

  it('points ADS, LDS and CDS at the controller over HTTP/2 with the v3 transport', () => {
    const b = envoyBootstrap({ xdsHost: 'ctl.ns.svc', xdsPort: 18000 }) as any;
    assert.equal(b.dynamic_resources.ads_config.api_type, 'DELTA_GRPC');
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
