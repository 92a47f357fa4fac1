/**
 * The Envoy bootstrap that points Envoy at the controller over ADS. Envoy gets
 * everything else (listeners, routes, clusters, endpoints) from the controller,
 * so this is the only static Envoy configuration. Pure, with no Pulumi imports:
 * the Pulumi component renders it into a ConfigMap and `npm run envoy-bootstrap`
 * prints it.
 */
import type { ProtoJson } from './protos';

/** The static cluster Envoy reaches the controller through. */
export const XDS_CLUSTER_NAME = 'xds_cluster';

/** Envoy's admin port inside the cluster (`/ready`, `/stats/prometheus`). */
export const DEFAULT_ENVOY_ADMIN_PORT = 9901;

export interface EnvoyBootstrapOptions {
  /** DNS name or IP of the controller's xDS endpoint (e.g. its Service's cluster DNS name). */
  xdsHost: string;
  /** The controller's xDS gRPC port. */
  xdsPort: number;
  /** Port of Envoy's admin listener, bound on all addresses so the kubelet and Prometheus reach it. Default 9901. */
  adminPort?: number;
  /** `node.id` Envoy presents to the controller. Default `ingress`. */
  nodeId?: string;
  /** `node.cluster` Envoy presents to the controller. Default `ingress`. */
  nodeCluster?: string;
  /** State-of-the-world (`GRPC`, the default) or incremental (`DELTA_GRPC`) ADS. */
  apiType?: 'GRPC' | 'DELTA_GRPC';
  /** mTLS to the controller: Envoy's client certificate and key, and the CA the controller's certificate must chain to. */
  tls?: XdsClientTls;
}

export interface XdsClientTls {
  /** Files inside Envoy's container (PEM). */
  certFile: string;
  keyFile: string;
  caFile: string;
  /** The name the controller's certificate must carry (a DNS SAN), sent as SNI. Default: `xdsHost`. */
  serverName?: string;
}

/**
 * The ADS flavour everything here defaults to (this bootstrap, its CLI, the
 * ControlPlane component): state of the world works with every Envoy, while
 * released Envoys (1.36 and earlier) refuse the route table's VHDS over ADS.
 */
export const DEFAULT_ADS_API_TYPE = 'GRPC';

/**
 * Builds the `envoy.config.bootstrap.v3.Bootstrap` in the proto3 JSON mapping
 * (`.proto` field names). Only non-default values are written, so the JSON
 * survives an encode/decode round trip unchanged.
 */
export function envoyBootstrap(opts: EnvoyBootstrapOptions): ProtoJson {
  const { xdsHost, xdsPort } = opts;
  const adminPort = opts.adminPort ?? DEFAULT_ENVOY_ADMIN_PORT;
  if (!xdsHost) throw new Error('envoyBootstrap: xdsHost is empty');
  for (const [name, port] of [['xdsPort', xdsPort], ['adminPort', adminPort]] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`envoyBootstrap: ${name} ${port} is not a TCP port (1-65535)`);
    }
  }
  const ads = { ads: {}, resource_api_version: 'V3' };
  return {
    node: { id: opts.nodeId ?? 'ingress', cluster: opts.nodeCluster ?? 'ingress' },
    dynamic_resources: {
      ads_config: {
        api_type: opts.apiType ?? DEFAULT_ADS_API_TYPE,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER_NAME } }],
      },
      lds_config: ads,
      cds_config: ads,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER_NAME,
          // STRICT_DNS follows the Service's address if it changes; STATIC would pin one IP.
          type: 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: {
                // gRPC needs HTTP/2. The PINGs notice a controller that vanished without a FIN
                // (node loss, conntrack drop), so Envoy reconnects instead of waiting forever.
                http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } },
              },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER_NAME,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(xdsHost, xdsPort) } }] }],
          },
          ...(opts.tls ? { transport_socket: xdsTransportSocket(opts.tls, opts.tls.serverName ?? xdsHost) } : {}),
        },
      ],
    },
    admin: { address: socketAddress('0.0.0.0', adminPort) },
  };
}

/** The xDS cluster's TLS: Envoy's certificate for the controller, and the controller's checked by CA and name. */
function xdsTransportSocket(tls: XdsClientTls, serverName: string): ProtoJson {
  for (const [field, file] of [['certFile', tls.certFile], ['keyFile', tls.keyFile], ['caFile', tls.caFile]] as const) {
    if (!file) throw new Error(`envoyBootstrap: tls.${field} is empty`);
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: serverName,
      common_tls_context: {
        // Envoy's upstream default stops at TLS 1.2.
        tls_params: { tls_maximum_protocol_version: 'TLSv1_3' },
        // gRPC needs HTTP/2, which TLS negotiates by ALPN.
        alpn_protocols: ['h2'],
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: serverName } }],
        },
      },
    },
  };
}

function socketAddress(address: string, port: number): ProtoJson {
  return { socket_address: { address, port_value: port } };
}
